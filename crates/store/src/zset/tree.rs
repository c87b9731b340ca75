//! An order-statistics B+tree of `(score, member)` items: the ordered half of the
//! `skiplist` encoding.
//!
//! Why a counted B+tree and not a skiplist: both give O(log n) insert, delete, rank and
//! select, but a skiplist node costs a heap block per element plus a forward pointer
//! and a span per level (Redis averages ~45 bytes of node before the member). Here the
//! items live packed in leaves of up to [`MAX_LEAF`] (24 bytes each: score plus a
//! shared pointer to the member), and an inner node keeps, per child, its item count
//! (for rank arithmetic) and its first item (to steer searches without walking down).
//! Leaves are allocated at their full capacity once, so the tree never holds more than
//! one leaf's worth of slack per leaf, and there are no per-element allocations beyond
//! the member bytes themselves, which the member-to-score map shares (`Arc`).
//!
//! Order is Redis's: by score, then by member bytes (`memcmp`, shorter first on a tie).
//! Scores are never NaN here (the callers refuse it), so `partial_cmp` is total; -0.0
//! and 0.0 compare equal, as in Redis.

use std::cmp::Ordering;
use std::sync::Arc;

/// Items per leaf before it splits.
pub const MAX_LEAF: usize = 64;
/// Children per inner node before it splits.
const MAX_CHILDREN: usize = 32;
/// A leaf or inner node with fewer than this is merged with a sibling.
const MIN_LEAF: usize = MAX_LEAF / 4;
const MIN_CHILDREN: usize = MAX_CHILDREN / 4;

/// A member's bytes, shared between the tree and the member-to-score map.
pub type Member = Arc<[u8]>;

/// One element of the sorted set.
#[derive(Clone, Debug)]
pub struct Item {
    pub score: f64,
    pub member: Member,
}

/// Redis's element order: score, then member bytes.
pub fn compare(a_score: f64, a_member: &[u8], b_score: f64, b_member: &[u8]) -> Ordering {
    a_score
        .partial_cmp(&b_score)
        .unwrap_or(Ordering::Equal)
        .then_with(|| a_member.cmp(b_member))
}

impl Item {
    fn cmp_to(&self, score: f64, member: &[u8]) -> Ordering {
        compare(self.score, &self.member, score, member)
    }
}

#[derive(Clone, Debug)]
struct Inner {
    children: Vec<Node>,
    /// Items under each child.
    sizes: Vec<usize>,
    /// The first item of each child.
    firsts: Vec<Item>,
}

#[derive(Clone, Debug)]
enum Node {
    Leaf(Vec<Item>),
    Inner(Box<Inner>),
}

impl Node {
    fn len(&self) -> usize {
        match self {
            Node::Leaf(items) => items.len(),
            Node::Inner(inner) => inner.sizes.iter().sum(),
        }
    }

    fn first(&self) -> Option<&Item> {
        match self {
            Node::Leaf(items) => items.first(),
            Node::Inner(inner) => inner.firsts.first(),
        }
    }

    /// Whether the node is small enough to be merged with a sibling.
    fn is_underfull(&self) -> bool {
        match self {
            Node::Leaf(items) => items.len() < MIN_LEAF,
            Node::Inner(inner) => inner.children.len() < MIN_CHILDREN,
        }
    }
}

fn new_leaf() -> Vec<Item> {
    Vec::with_capacity(MAX_LEAF)
}

impl Inner {
    fn from_children(children: Vec<Node>) -> Inner {
        let sizes = children.iter().map(Node::len).collect();
        let firsts = children
            .iter()
            .map(|c| c.first().cloned().expect("children are never empty"))
            .collect();
        Inner {
            children,
            sizes,
            firsts,
        }
    }

    /// The child whose range holds `(score, member)`: the last one whose first item is
    /// not greater (the first child for anything smaller than everything).
    fn child_for(&self, score: f64, member: &[u8]) -> usize {
        let after = self
            .firsts
            .partition_point(|f| f.cmp_to(score, member) != Ordering::Greater);
        after.saturating_sub(1)
    }

    /// Refreshes the bookkeeping of child `i` after it changed.
    fn refresh(&mut self, i: usize) {
        self.sizes[i] = self.children[i].len();
        if let Some(first) = self.children[i].first() {
            if !Arc::ptr_eq(&first.member, &self.firsts[i].member) {
                self.firsts[i] = first.clone();
            }
        }
    }

    fn insert_child(&mut self, at: usize, node: Node) {
        self.sizes.insert(at, node.len());
        self.firsts.insert(
            at,
            node.first().cloned().expect("split halves are non-empty"),
        );
        self.children.insert(at, node);
    }

    fn remove_child(&mut self, at: usize) -> Node {
        self.sizes.remove(at);
        self.firsts.remove(at);
        self.children.remove(at)
    }

    /// Splits off the upper half of the children.
    fn split(&mut self) -> Inner {
        let mid = self.children.len() / 2;
        Inner {
            children: self.children.split_off(mid),
            sizes: self.sizes.split_off(mid),
            firsts: self.firsts.split_off(mid),
        }
    }

    /// Merges child `i` with a neighbour when it became too small, re-splitting evenly
    /// if the two together are too big for one node.
    fn rebalance(&mut self, i: usize) {
        if self.children.len() < 2 || !self.children[i].is_underfull() {
            if self.children[i].len() == 0 {
                self.remove_child(i);
            }
            return;
        }
        let left = if i + 1 < self.children.len() {
            i
        } else {
            i - 1
        };
        let right = self.remove_child(left + 1);
        match (&mut self.children[left], right) {
            (Node::Leaf(a), Node::Leaf(b)) => {
                a.extend(b);
                if a.len() > MAX_LEAF {
                    let mut upper = new_leaf();
                    upper.extend(a.drain(a.len() / 2..));
                    a.shrink_to(MAX_LEAF);
                    self.refresh(left);
                    self.insert_child(left + 1, Node::Leaf(upper));
                    return;
                }
            }
            (Node::Inner(a), Node::Inner(b)) => {
                let b = *b;
                a.children.extend(b.children);
                a.sizes.extend(b.sizes);
                a.firsts.extend(b.firsts);
                if a.children.len() > MAX_CHILDREN {
                    let upper = a.split();
                    self.refresh(left);
                    self.insert_child(left + 1, Node::Inner(Box::new(upper)));
                    return;
                }
            }
            _ => unreachable!("siblings are at the same depth"),
        }
        self.refresh(left);
    }
}

/// Inserts into `node`; returns the upper half when the node had to split.
fn insert_into(node: &mut Node, item: Item) -> Option<Node> {
    match node {
        Node::Leaf(items) => {
            let at = items.partition_point(|x| x.cmp_to(item.score, &item.member).is_lt());
            if items.len() < MAX_LEAF {
                items.insert(at, item);
                return None;
            }
            // Split before inserting, so a leaf never grows past its capacity.
            let mut upper = new_leaf();
            upper.extend(items.drain(MAX_LEAF / 2..));
            if at <= MAX_LEAF / 2 {
                items.insert(at, item);
            } else {
                upper.insert(at - MAX_LEAF / 2, item);
            }
            Some(Node::Leaf(upper))
        }
        Node::Inner(inner) => {
            let i = inner.child_for(item.score, &item.member);
            let split = insert_into(&mut inner.children[i], item);
            inner.refresh(i);
            if let Some(upper) = split {
                inner.insert_child(i + 1, upper);
            }
            if inner.children.len() > MAX_CHILDREN {
                return Some(Node::Inner(Box::new(inner.split())));
            }
            None
        }
    }
}

/// Removes the exact item from `node`; false when absent.
fn remove_from(node: &mut Node, score: f64, member: &[u8]) -> bool {
    match node {
        Node::Leaf(items) => match items.binary_search_by(|x| x.cmp_to(score, member)) {
            Ok(at) => {
                items.remove(at);
                true
            }
            Err(_) => false,
        },
        Node::Inner(inner) => {
            let i = inner.child_for(score, member);
            if !remove_from(&mut inner.children[i], score, member) {
                return false;
            }
            inner.refresh(i);
            inner.rebalance(i);
            true
        }
    }
}

/// The ordered items of a `skiplist`-encoded sorted set.
#[derive(Clone, Debug)]
pub struct Tree {
    root: Node,
    len: usize,
}

impl Default for Tree {
    fn default() -> Tree {
        Tree {
            root: Node::Leaf(Vec::new()),
            len: 0,
        }
    }
}

impl Tree {
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Inserts an item that is not in the tree yet.
    pub fn insert(&mut self, score: f64, member: Member) {
        if let Node::Leaf(items) = &self.root {
            if items.capacity() == 0 {
                self.root = Node::Leaf(new_leaf());
            }
        }
        if let Some(upper) = insert_into(&mut self.root, Item { score, member }) {
            let lower = std::mem::replace(&mut self.root, Node::Leaf(Vec::new()));
            self.root = Node::Inner(Box::new(Inner::from_children(vec![lower, upper])));
        }
        self.len += 1;
    }

    /// Removes the item; false when it was not there.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        if !remove_from(&mut self.root, score, member) {
            return false;
        }
        self.len -= 1;
        // A root with one child hands its place to that child.
        while let Node::Inner(inner) = &mut self.root {
            if inner.children.len() > 1 {
                break;
            }
            let child = inner.children.pop().unwrap_or(Node::Leaf(Vec::new()));
            self.root = child;
        }
        true
    }

    /// The 0-based rank of the item, if present.
    pub fn rank(&self, score: f64, member: &[u8]) -> Option<usize> {
        let mut node = &self.root;
        let mut rank = 0;
        loop {
            match node {
                Node::Leaf(items) => {
                    let at = items.binary_search_by(|x| x.cmp_to(score, member)).ok()?;
                    return Some(rank + at);
                }
                Node::Inner(inner) => {
                    let i = inner.child_for(score, member);
                    rank += inner.sizes[..i].iter().sum::<usize>();
                    node = &inner.children[i];
                }
            }
        }
    }

    /// The item at 0-based `rank`.
    pub fn get(&self, rank: usize) -> Option<&Item> {
        if rank >= self.len {
            return None;
        }
        let mut node = &self.root;
        let mut rank = rank;
        loop {
            match node {
                Node::Leaf(items) => return items.get(rank),
                Node::Inner(inner) => {
                    let (i, before) = locate(&inner.sizes, rank)?;
                    rank -= before;
                    node = &inner.children[i];
                }
            }
        }
    }

    /// How many leading items satisfy `pred`, which must hold for a prefix of the order
    /// and fail for the rest (a lower bound by score, or by member).
    pub fn partition_point(&self, pred: impl Fn(&Item) -> bool) -> usize {
        let mut node = &self.root;
        let mut count = 0;
        loop {
            match node {
                Node::Leaf(items) => return count + items.partition_point(&pred),
                Node::Inner(inner) => {
                    // Children after the first one whose first item fails hold no item
                    // that satisfies the predicate.
                    let i = inner.firsts.partition_point(&pred).saturating_sub(1);
                    count += inner.sizes[..i].iter().sum::<usize>();
                    node = &inner.children[i];
                }
            }
        }
    }

    /// Items in order from rank `start` (forward) or, with `reverse`, from rank `start`
    /// down to rank 0.
    pub fn iter_from(&self, start: usize, reverse: bool) -> Iter<'_> {
        let mut iter = Iter {
            stack: Vec::new(),
            leaf: &[],
            pos: 0,
            remaining: 0,
            reverse,
        };
        if start >= self.len {
            return iter;
        }
        iter.remaining = if reverse { start + 1 } else { self.len - start };
        let mut node = &self.root;
        let mut rank = start;
        loop {
            match node {
                Node::Leaf(items) => {
                    iter.leaf = items;
                    iter.pos = rank;
                    return iter;
                }
                Node::Inner(inner) => {
                    let Some((i, before)) = locate(&inner.sizes, rank) else {
                        iter.remaining = 0;
                        return iter;
                    };
                    rank -= before;
                    iter.stack.push((inner, i));
                    node = &inner.children[i];
                }
            }
        }
    }

    /// Approximate heap bytes of the tree (leaves at capacity, inner nodes).
    pub fn memory_usage(&self) -> usize {
        fn walk(node: &Node) -> usize {
            match node {
                Node::Leaf(items) => items.capacity() * std::mem::size_of::<Item>(),
                Node::Inner(inner) => {
                    std::mem::size_of::<Inner>()
                        + inner.children.capacity() * std::mem::size_of::<Node>()
                        + inner.sizes.capacity() * 8
                        + inner.firsts.capacity() * std::mem::size_of::<Item>()
                        + inner.children.iter().map(walk).sum::<usize>()
                }
            }
        }
        walk(&self.root)
    }

    /// Checks the structural invariants (tests only): counts, firsts, order, fill.
    #[cfg(test)]
    pub fn check(&self) {
        fn walk(node: &Node, is_root: bool) -> usize {
            match node {
                Node::Leaf(items) => {
                    assert!(items.len() <= MAX_LEAF);
                    assert!(is_root || !items.is_empty());
                    for pair in items.windows(2) {
                        assert!(pair[0].cmp_to(pair[1].score, &pair[1].member).is_lt());
                    }
                    items.len()
                }
                Node::Inner(inner) => {
                    assert!(inner.children.len() <= MAX_CHILDREN);
                    assert!(inner.children.len() >= 2 || !is_root);
                    let mut total = 0;
                    for (i, child) in inner.children.iter().enumerate() {
                        let n = walk(child, false);
                        assert_eq!(n, inner.sizes[i]);
                        let first = child.first().expect("non-empty child");
                        assert!(Arc::ptr_eq(&first.member, &inner.firsts[i].member));
                        total += n;
                    }
                    total
                }
            }
        }
        assert_eq!(walk(&self.root, true), self.len);
    }
}

/// The child holding 0-based `rank` among children of the given sizes, and the number
/// of items before that child.
fn locate(sizes: &[usize], rank: usize) -> Option<(usize, usize)> {
    let mut before = 0;
    for (i, &size) in sizes.iter().enumerate() {
        if rank < before + size {
            return Some((i, before));
        }
        before += size;
    }
    None
}

/// An in-order walk over a [`Tree`], forward or backward, from a starting rank.
pub struct Iter<'a> {
    /// The inner nodes above the current leaf and the child taken in each.
    stack: Vec<(&'a Inner, usize)>,
    leaf: &'a [Item],
    pos: usize,
    remaining: usize,
    reverse: bool,
}

impl<'a> Iter<'a> {
    /// Moves to the next leaf in the walk's direction.
    fn next_leaf(&mut self) {
        while let Some((inner, i)) = self.stack.pop() {
            let next = if self.reverse {
                i.checked_sub(1)
            } else {
                Some(i + 1).filter(|&n| n < inner.children.len())
            };
            let Some(next) = next else { continue };
            self.stack.push((inner, next));
            let mut node = &inner.children[next];
            loop {
                match node {
                    Node::Leaf(items) => {
                        self.leaf = items;
                        self.pos = if self.reverse { items.len() - 1 } else { 0 };
                        return;
                    }
                    Node::Inner(inner) => {
                        let child = if self.reverse {
                            inner.children.len() - 1
                        } else {
                            0
                        };
                        self.stack.push((inner, child));
                        node = &inner.children[child];
                    }
                }
            }
        }
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Item;

    fn next(&mut self) -> Option<&'a Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let item = self.leaf.get(self.pos)?;
        if self.remaining > 0 {
            if self.reverse {
                if self.pos == 0 {
                    self.next_leaf();
                } else {
                    self.pos -= 1;
                }
            } else if self.pos + 1 == self.leaf.len() {
                self.next_leaf();
            } else {
                self.pos += 1;
            }
        }
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}
