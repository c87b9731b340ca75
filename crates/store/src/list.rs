//! Lists, stored the way Redis 7.0 stores them: a quicklist, a deque of packed nodes.
//!
//! Redis 7.0 has a single list encoding, `quicklist` (OBJECT ENCODING says so even for a
//! one-element list; the `listpack` list encoding arrived in 7.2). A quicklist is a
//! sequence of nodes, each a packed buffer of entries ([`packed`]: small integers in one
//! or a few bytes, strings with a one-byte header) bounded by `list-max-listpack-size`:
//! a positive value caps the entries per node (and a node never passes 8 KiB), -1..-5
//! cap a node at 4, 8, 16, 32 or 64 KiB. The bound is fixed when the list is created,
//! as in Redis, so CONFIG SET affects lists created afterwards.
//!
//! Why this shape: a pointer per element would cost more than most elements. Packed
//! nodes keep a million short elements in a few megabytes, pushes and pops at either
//! end touch one bounded node (O(1)), and index access skips whole nodes by their
//! counts before walking entries inside one node from its nearer end.
//!
//! Invariants: no node is empty; `len` is the sum of the node counts.

mod packed;

use std::collections::VecDeque;

use packed::{decode, start_before, Encoded};
pub use packed::{Elem, Needle};

/// Node sizes for `list-max-listpack-size` -1..-5.
const NODE_BYTES: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// A node with a positive (count) fill still never grows past this many bytes.
const SAFETY_LIMIT_BYTES: usize = 8192;
/// The largest positive fill Redis honours; larger values are clamped to it.
const MAX_FILL: i64 = 1 << 15;

/// One packed node: entries back to back (see [`packed`]).
#[derive(Clone, Debug, Default)]
struct Node {
    buf: Vec<u8>,
    count: u32,
}

impl Node {
    fn count(&self) -> usize {
        self.count as usize
    }

    /// The offset where entry `index` (0-based within the node) starts, walking from
    /// the nearer end.
    fn offset_of(&self, index: usize) -> usize {
        if index <= self.count() / 2 {
            (0..index).fold(0, |at, _| decode(&self.buf, at).1)
        } else {
            let steps = self.count() - index;
            (0..steps).fold(self.buf.len(), |end, _| start_before(&self.buf, end))
        }
    }

    /// Inserts an entry at byte offset `at`, growing the buffer in modest steps so a
    /// node's slack stays small (nodes are many; their spare capacity adds up).
    fn insert(&mut self, at: usize, entry: &Encoded, limit_bytes: usize) {
        let old_len = self.buf.len();
        let new_len = old_len + entry.len();
        if new_len > self.buf.capacity() {
            let step = (self.buf.capacity() / 4).max(32);
            let target = (old_len + step).min(limit_bytes).max(new_len);
            self.buf.reserve_exact(target - old_len);
        }
        self.buf.resize(new_len, 0);
        self.buf.copy_within(at..old_len, at + entry.len());
        entry.write(&mut self.buf[at..at + entry.len()]);
        self.count += 1;
    }

    /// Removes the bytes `start..end` holding `entries` entries.
    fn remove(&mut self, start: usize, end: usize, entries: usize) {
        self.buf.drain(start..end);
        self.count -= entries as u32;
        self.shrink();
    }

    /// Gives back memory once the node has lost most of its bytes.
    fn shrink(&mut self) {
        if self.buf.capacity() > 64 && self.buf.len() < self.buf.capacity() / 2 {
            self.buf.shrink_to(self.buf.len() + self.buf.len() / 4);
        }
    }

    /// Removes the entries at `spans` (ascending, disjoint byte ranges) in one pass.
    fn remove_spans(&mut self, spans: &[(usize, usize)]) {
        let mut write = 0;
        let mut read = 0;
        for &(start, end) in spans {
            self.buf.copy_within(read..start, write);
            write += start - read;
            read = end;
        }
        let tail = self.buf.len() - read;
        self.buf.copy_within(read.., write);
        self.buf.truncate(write + tail);
        self.count -= spans.len() as u32;
        self.shrink();
    }
}

/// A list value.
#[derive(Clone, Debug)]
pub struct ListValue {
    /// Boxed: the list then takes 16 bytes inside `Value`, which keeps `Value` (and so
    /// every key of any type) as small as a string value; the extra allocation is one
    /// per list, next to its node buffers.
    #[allow(clippy::box_collection)]
    nodes: Box<VecDeque<Node>>,
    /// The element count (low 48 bits) and, above it, `list-max-listpack-size` when the
    /// list was created (clamped to -5..=32768, stored plus 5), in one word.
    len_fill: u64,
}

/// The element count's bits in `len_fill`: 2^48 elements is far past any memory.
const LEN_BITS: u32 = 48;
const LEN_MASK: u64 = (1 << LEN_BITS) - 1;

impl Default for ListValue {
    fn default() -> ListValue {
        ListValue::new(-2)
    }
}

impl PartialEq for ListValue {
    /// Lists are equal when their elements are; node layout is not part of the value.
    fn eq(&self, other: &ListValue) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl ListValue {
    /// An empty list whose nodes follow `list-max-listpack-size` = `fill`.
    pub fn new(fill: i64) -> ListValue {
        ListValue {
            nodes: Box::default(),
            len_fill: ((fill.clamp(-5, MAX_FILL) + 5) as u64) << LEN_BITS,
        }
    }

    /// A list holding `elements` in order (RDB load, RESTORE, SORT STORE).
    pub fn from_elements<'e>(fill: i64, elements: impl IntoIterator<Item = &'e [u8]>) -> Self {
        let mut list = ListValue::new(fill);
        for element in elements {
            list.push_back(element);
        }
        list
    }

    pub fn len(&self) -> usize {
        (self.len_fill & LEN_MASK) as usize
    }

    fn set_len(&mut self, len: usize) {
        self.len_fill = (self.len_fill & !LEN_MASK) | len as u64;
    }

    /// The fill fixed at creation (see `len_fill`).
    fn fill_i32(&self) -> i32 {
        (self.len_fill >> LEN_BITS) as i32 - 5
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING gives: Redis 7.0 lists are always quicklists.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// The node bound this list was created with.
    pub fn fill(&self) -> i64 {
        i64::from(self.fill_i32())
    }

    /// Number of packed nodes (tests and DEBUG).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Approximate bytes used, for MEMORY USAGE.
    pub fn memory_usage(&self) -> usize {
        let nodes: usize = self.nodes.iter().map(|n| n.buf.capacity()).sum();
        std::mem::size_of::<ListValue>()
            + self.nodes.capacity() * std::mem::size_of::<Node>()
            + nodes
    }

    /// The most bytes a node may hold.
    fn limit_bytes(&self) -> usize {
        if self.fill_i32() < 0 {
            NODE_BYTES[(-self.fill_i32()) as usize - 1]
        } else {
            SAFETY_LIMIT_BYTES
        }
    }

    /// Whether a node of `bytes` bytes and `count` entries respects the fill.
    fn fits(&self, bytes: usize, count: usize) -> bool {
        bytes <= self.limit_bytes() && (self.fill_i32() < 0 || count <= self.fill_i32() as usize)
    }

    /// Whether `node` can take one more entry of `extra` bytes.
    fn accepts(&self, node: &Node, extra: usize) -> bool {
        self.fits(node.buf.len() + extra, node.count() + 1)
    }

    pub fn push_front(&mut self, value: &[u8]) {
        let entry = Encoded::new(value);
        let limit = self.limit_bytes();
        let reuse = self
            .nodes
            .front()
            .is_some_and(|n| self.accepts(n, entry.len()));
        if !reuse {
            self.nodes.push_front(Node::default());
        }
        if let Some(node) = self.nodes.front_mut() {
            node.insert(0, &entry, limit);
        }
        self.set_len(self.len() + 1);
    }

    pub fn push_back(&mut self, value: &[u8]) {
        let entry = Encoded::new(value);
        let limit = self.limit_bytes();
        let reuse = self
            .nodes
            .back()
            .is_some_and(|n| self.accepts(n, entry.len()));
        if !reuse {
            self.nodes.push_back(Node::default());
        }
        if let Some(node) = self.nodes.back_mut() {
            let end = node.buf.len();
            node.insert(end, &entry, limit);
        }
        self.set_len(self.len() + 1);
    }

    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        let node = self.nodes.front_mut()?;
        let (elem, next) = decode(&node.buf, 0);
        let value = elem.to_vec();
        node.remove(0, next, 1);
        self.after_removal(0);
        Some(value)
    }

    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let node = self.nodes.back_mut()?;
        let end = node.buf.len();
        let start = start_before(&node.buf, end);
        let value = decode(&node.buf, start).0.to_vec();
        node.remove(start, end, 1);
        self.after_removal(self.nodes.len() - 1);
        Some(value)
    }

    /// Bookkeeping after one entry left node `index`: drops the node if empty.
    fn after_removal(&mut self, index: usize) {
        self.set_len(self.len() - 1);
        if self.nodes[index].count == 0 {
            self.nodes.remove(index);
        }
    }

    /// The node holding element `index` and the entry's offset in it. Whole nodes are
    /// skipped by count, from the nearer end of the list.
    fn locate(&self, index: usize) -> Option<(usize, usize)> {
        if index >= self.len() {
            return None;
        }
        let mut rest = index;
        if index < self.len() / 2 {
            for (n, node) in self.nodes.iter().enumerate() {
                if rest < node.count() {
                    return Some((n, node.offset_of(rest)));
                }
                rest -= node.count();
            }
        } else {
            rest = self.len() - 1 - index;
            for (n, node) in self.nodes.iter().enumerate().rev() {
                if rest < node.count() {
                    return Some((n, node.offset_of(node.count() - 1 - rest)));
                }
                rest -= node.count();
            }
        }
        None
    }

    /// Element `index` (0 is the head), if there is one.
    pub fn get(&self, index: usize) -> Option<Elem<'_>> {
        let (n, at) = self.locate(index)?;
        Some(decode(&self.nodes[n].buf, at).0)
    }

    /// Element at a Redis index: negative counts from the tail (-1 is the last).
    pub fn get_signed(&self, index: i64) -> Option<Elem<'_>> {
        self.get(self.resolve(index)?)
    }

    /// A Redis index (negative from the tail) as a position, if it is inside the list.
    pub fn resolve(&self, index: i64) -> Option<usize> {
        let len = self.len() as i64;
        let index = if index < 0 {
            len.checked_add(index)?
        } else {
            index
        };
        (0..len).contains(&index).then_some(index as usize)
    }

    /// Replaces element `index`; false when there is none.
    pub fn replace(&mut self, index: usize, value: &[u8]) -> bool {
        let Some((n, at)) = self.locate(index) else {
            return false;
        };
        let entry = Encoded::new(value);
        let limit = self.limit_bytes();
        let node = &mut self.nodes[n];
        let next = decode(&node.buf, at).1;
        node.remove(at, next, 1);
        node.insert(at, &entry, limit);
        self.split_if_needed(n);
        true
    }

    /// Inserts `value` so that it becomes element `index` (`index == len` appends).
    pub fn insert(&mut self, index: usize, value: &[u8]) {
        if index >= self.len() {
            return self.push_back(value);
        }
        if index == 0 {
            return self.push_front(value);
        }
        let Some((n, at)) = self.locate(index) else {
            return self.push_back(value);
        };
        let entry = Encoded::new(value);
        // At a node boundary, the end of the previous node may have room.
        if at == 0 && self.accepts(&self.nodes[n - 1], entry.len()) {
            let limit = self.limit_bytes();
            let prev = &mut self.nodes[n - 1];
            let end = prev.buf.len();
            prev.insert(end, &entry, limit);
        } else {
            let limit = self.limit_bytes();
            self.nodes[n].insert(at, &entry, limit);
            self.split_if_needed(n);
        }
        self.set_len(self.len() + 1);
    }

    /// Splits node `n` in two at its middle byte while it breaks the fill (an insert or
    /// replacement in the middle may overfill a node; pushes never do).
    fn split_if_needed(&mut self, n: usize) {
        let node = &self.nodes[n];
        if node.count < 2 || self.fits(node.buf.len(), node.count()) {
            return;
        }
        let (mut at, mut taken) = (0, 0);
        while taken == 0 || (at < node.buf.len() / 2 && taken + 1 < node.count()) {
            at = decode(&node.buf, at).1;
            taken += 1;
        }
        let tail = Node {
            buf: node.buf[at..].to_vec(),
            count: node.count - taken as u32,
        };
        let head = &mut self.nodes[n];
        head.buf.truncate(at);
        head.buf.shrink_to_fit();
        head.count = taken as u32;
        self.nodes.insert(n + 1, tail);
        self.split_if_needed(n + 1);
        self.split_if_needed(n);
    }

    /// Removes the first `n` elements (all if `n >= len`).
    pub fn drop_front(&mut self, mut n: usize) {
        n = n.min(self.len());
        self.set_len(self.len() - n);
        while n > 0 {
            let Some(node) = self.nodes.front_mut() else {
                break;
            };
            if n >= node.count() {
                n -= node.count();
                self.nodes.pop_front();
            } else {
                let end = node.offset_of(n);
                node.remove(0, end, n);
                n = 0;
            }
        }
    }

    /// Removes the last `n` elements (all if `n >= len`).
    pub fn drop_back(&mut self, mut n: usize) {
        n = n.min(self.len());
        self.set_len(self.len() - n);
        while n > 0 {
            let Some(node) = self.nodes.back_mut() else {
                break;
            };
            if n >= node.count() {
                n -= node.count();
                self.nodes.pop_back();
            } else {
                let start = node.offset_of(node.count() - n);
                let end = node.buf.len();
                node.remove(start, end, n);
                n = 0;
            }
        }
    }

    /// Removes elements equal to `needle`: at most `limit` of them (0: all), the first
    /// ones from the head, or from the tail when `from_tail`. Returns how many went.
    pub fn remove_matching(&mut self, needle: &Needle, limit: usize, from_tail: bool) -> usize {
        let mut removed = 0;
        let order: Vec<usize> = if from_tail {
            (0..self.nodes.len()).rev().collect()
        } else {
            (0..self.nodes.len()).collect()
        };
        for n in order {
            let budget = if limit == 0 {
                usize::MAX
            } else {
                limit - removed
            };
            let spans = matching_spans(&self.nodes[n], needle, budget, from_tail);
            removed += spans.len();
            if !spans.is_empty() {
                self.nodes[n].remove_spans(&spans);
            }
            if limit != 0 && removed == limit {
                break;
            }
        }
        self.set_len(self.len() - removed);
        if removed > 0 {
            self.compact();
        }
        removed
    }

    /// Drops empty nodes and merges neighbours that fit together, after removals in the
    /// middle left nodes small.
    fn compact(&mut self) {
        let mut nodes: VecDeque<Node> = VecDeque::with_capacity(self.nodes.len());
        for node in std::mem::take(&mut *self.nodes) {
            if node.count == 0 {
                continue;
            }
            if let Some(last) = nodes.back_mut() {
                if self.fits(last.buf.len() + node.buf.len(), last.count() + node.count()) {
                    last.buf.extend_from_slice(&node.buf);
                    last.count += node.count;
                    continue;
                }
            }
            nodes.push_back(node);
        }
        *self.nodes = nodes;
    }

    /// Elements from head to tail (reversible with `.rev()`).
    pub fn iter(&self) -> Iter<'_> {
        let back = match self.nodes.back() {
            Some(node) => (self.nodes.len() - 1, node.buf.len()),
            None => (0, 0),
        };
        Iter {
            nodes: &self.nodes,
            front: (0, 0),
            back,
            remaining: self.len(),
        }
    }

    /// Elements from `index` to the tail (empty when `index >= len`).
    pub fn iter_from(&self, index: usize) -> Iter<'_> {
        let mut iter = self.iter();
        if let Some(front) = self.locate(index) {
            iter.front = front;
            iter.remaining = self.len() - index;
        } else {
            iter.remaining = 0;
        }
        iter
    }

    /// Checks the invariants (tests).
    #[cfg(test)]
    fn check(&self) {
        let total: usize = self.nodes.iter().map(Node::count).sum();
        assert_eq!(total, self.len());
        for node in self.nodes.iter() {
            assert!(node.count > 0, "empty node");
            let mut at = 0;
            for _ in 0..node.count {
                at = decode(&node.buf, at).1;
            }
            assert_eq!(at, node.buf.len(), "node count disagrees with its bytes");
            assert!(
                node.count == 1 || self.fits(node.buf.len(), node.count()),
                "overfull node: {} bytes, {} entries, fill {}",
                node.buf.len(),
                node.count,
                self.fill_i32()
            );
        }
    }
}

/// The byte spans of entries of `node` equal to `needle`, at most `budget` of them,
/// scanning from the head or the tail; returned in ascending order.
fn matching_spans(
    node: &Node,
    needle: &Needle,
    budget: usize,
    from_tail: bool,
) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    if from_tail {
        let mut end = node.buf.len();
        while end > 0 && spans.len() < budget {
            let start = start_before(&node.buf, end);
            if decode(&node.buf, start).0.matches(needle) {
                spans.push((start, end));
            }
            end = start;
        }
        spans.reverse();
    } else {
        let mut at = 0;
        while at < node.buf.len() && spans.len() < budget {
            let (elem, next) = decode(&node.buf, at);
            if elem.matches(needle) {
                spans.push((at, next));
            }
            at = next;
        }
    }
    spans
}

/// An iterator over a list's elements, from either end.
#[derive(Clone)]
pub struct Iter<'a> {
    nodes: &'a VecDeque<Node>,
    /// Node index and byte offset of the next element from the front.
    front: (usize, usize),
    /// Node index and byte offset just past the next element from the back.
    back: (usize, usize),
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Elem<'a>;

    fn next(&mut self) -> Option<Elem<'a>> {
        if self.remaining == 0 {
            return None;
        }
        let nodes = self.nodes;
        if self.front.1 >= nodes[self.front.0].buf.len() {
            self.front = (self.front.0 + 1, 0);
        }
        let (elem, next) = decode(&nodes[self.front.0].buf, self.front.1);
        self.front.1 = next;
        self.remaining -= 1;
        Some(elem)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<'a> DoubleEndedIterator for Iter<'a> {
    fn next_back(&mut self) -> Option<Elem<'a>> {
        if self.remaining == 0 {
            return None;
        }
        let nodes = self.nodes;
        if self.back.1 == 0 {
            let n = self.back.0 - 1;
            self.back = (n, nodes[n].buf.len());
        }
        let buf = &nodes[self.back.0].buf;
        let start = start_before(buf, self.back.1);
        self.back.1 = start;
        self.remaining -= 1;
        Some(decode(buf, start).0)
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn contents(list: &ListValue) -> Vec<Vec<u8>> {
        list.iter().map(|e| e.to_vec()).collect()
    }

    /// Pushes at both ends keep order, and the iterator walks both ways.
    #[test]
    fn push_pop_both_ends() {
        let mut list = ListValue::new(-2);
        list.push_back(b"b");
        list.push_front(b"a");
        list.push_back(b"12");
        assert_eq!(
            contents(&list),
            vec![b"a".to_vec(), b"b".to_vec(), b"12".to_vec()]
        );
        let rev: Vec<Vec<u8>> = list.iter().rev().map(|e| e.to_vec()).collect();
        assert_eq!(rev, vec![b"12".to_vec(), b"b".to_vec(), b"a".to_vec()]);
        assert_eq!(list.pop_back().as_deref(), Some(&b"12"[..]));
        assert_eq!(list.pop_front().as_deref(), Some(&b"a"[..]));
        assert_eq!(list.pop_front().as_deref(), Some(&b"b"[..]));
        assert_eq!(list.pop_front(), None);
        assert!(list.is_empty());
        assert_eq!(list.node_count(), 0);
        list.check();
    }

    /// Nodes respect a count fill: 128 elements with fill 4 make 32 nodes.
    #[test]
    fn count_fill_bounds_nodes() {
        let mut list = ListValue::new(4);
        for i in 0..128 {
            list.push_back(i.to_string().as_bytes());
        }
        assert_eq!(list.node_count(), 32);
        list.check();
        assert_eq!(list.encoding(), "quicklist");
    }

    /// Nodes respect a size fill: 8 KiB nodes of 100-byte strings hold about 80 each.
    #[test]
    fn size_fill_bounds_nodes() {
        let mut list = ListValue::new(-2);
        for _ in 0..1000 {
            list.push_front(&[b'x'; 100]);
        }
        list.check();
        assert!(list.node_count() >= 1000 * 102 / 8192);
        assert!(list.node_count() <= 1000 * 102 / 8192 + 2);
    }

    /// Fills outside Redis's range are clamped as Redis clamps them.
    #[test]
    fn fill_is_clamped() {
        assert_eq!(ListValue::new(-100).fill(), -5);
        assert_eq!(ListValue::new(1 << 40).fill(), 32768);
        let mut list = ListValue::new(0);
        for i in 0..5 {
            list.push_back(i.to_string().as_bytes());
        }
        assert_eq!(list.node_count(), 5);
        list.check();
    }

    /// A million short elements stay within a few bytes each.
    #[test]
    fn million_small_elements_are_compact() {
        let mut list = ListValue::new(-2);
        for i in 0..1_000_000u32 {
            list.push_back(i.to_string().as_bytes());
        }
        let per_element = list.memory_usage() as f64 / 1e6;
        assert!(per_element < 6.0, "{per_element} bytes per element");
        assert_eq!(
            list.get(999_999).map(|e| e.to_vec()),
            Some(b"999999".to_vec())
        );
        assert_eq!(
            list.get(500_000).map(|e| e.to_vec()),
            Some(b"500000".to_vec())
        );
    }

    /// Negative indexes count from the tail; anything outside the list resolves to None.
    #[test]
    fn signed_indexes_resolve() {
        let list = ListValue::from_elements(-2, [&b"a"[..], b"b", b"c"]);
        assert_eq!(list.resolve(-1), Some(2));
        assert_eq!(list.resolve(-3), Some(0));
        assert_eq!(list.resolve(-4), None);
        assert_eq!(list.resolve(3), None);
        assert_eq!(list.resolve(i64::MIN), None);
        assert_eq!(list.get_signed(-2).map(|e| e.to_vec()), Some(b"b".to_vec()));
    }

    /// One operation of the model test.
    #[derive(Clone, Debug)]
    enum Op {
        PushFront(Vec<u8>),
        PushBack(Vec<u8>),
        PopFront,
        PopBack,
        Insert(usize, Vec<u8>),
        Replace(usize, Vec<u8>),
        DropFront(usize),
        DropBack(usize),
        Remove(Vec<u8>, usize, bool),
    }

    fn value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (0i64..300).prop_map(|n| n.to_string().into_bytes()),
            any::<i64>().prop_map(|n| n.to_string().into_bytes()),
            proptest::collection::vec(any::<u8>(), 0..12),
            proptest::collection::vec(Just(b'z'), 60..300),
            Just(b"01".to_vec()),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => value().prop_map(Op::PushFront),
            3 => value().prop_map(Op::PushBack),
            1 => Just(Op::PopFront),
            1 => Just(Op::PopBack),
            2 => (0usize..400, value()).prop_map(|(i, v)| Op::Insert(i, v)),
            1 => (0usize..400, value()).prop_map(|(i, v)| Op::Replace(i, v)),
            1 => (0usize..20).prop_map(Op::DropFront),
            1 => (0usize..20).prop_map(Op::DropBack),
            1 => (value(), 0usize..4, any::<bool>()).prop_map(|(v, n, t)| Op::Remove(v, n, t)),
        ]
    }

    /// Applies `op` to the list and to a VecDeque model.
    fn apply(list: &mut ListValue, model: &mut VecDeque<Vec<u8>>, op: Op) {
        match op {
            Op::PushFront(v) => {
                list.push_front(&v);
                model.push_front(v);
            }
            Op::PushBack(v) => {
                list.push_back(&v);
                model.push_back(v);
            }
            Op::PopFront => assert_eq!(list.pop_front(), model.pop_front()),
            Op::PopBack => assert_eq!(list.pop_back(), model.pop_back()),
            Op::Insert(i, v) => {
                let i = i.min(model.len());
                list.insert(i, &v);
                model.insert(i, v);
            }
            Op::Replace(i, v) => {
                let expected = i < model.len();
                assert_eq!(list.replace(i, &v), expected);
                if expected {
                    model[i] = v;
                }
            }
            Op::DropFront(n) => {
                list.drop_front(n);
                model.drain(..n.min(model.len()));
            }
            Op::DropBack(n) => {
                list.drop_back(n);
                model.truncate(model.len().saturating_sub(n));
            }
            Op::Remove(v, limit, from_tail) => {
                let removed = list.remove_matching(&Needle::new(&v), limit, from_tail);
                assert_eq!(removed, model_remove(model, &v, limit, from_tail));
            }
        }
    }

    fn model_remove(model: &mut VecDeque<Vec<u8>>, v: &[u8], limit: usize, tail: bool) -> usize {
        let mut hits: Vec<usize> = (0..model.len()).filter(|&i| model[i] == v).collect();
        if tail {
            hits.reverse();
        }
        if limit != 0 {
            hits.truncate(limit);
        }
        hits.sort_unstable();
        for &i in hits.iter().rev() {
            model.remove(i);
        }
        hits.len()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Random operations leave the list equal to a VecDeque model, for count and size
        /// fills, with every index and both iteration directions agreeing.
        #[test]
        fn matches_vecdeque_model(
            fill in prop_oneof![Just(-5i64), Just(-1), Just(0), Just(1), Just(3), Just(128)],
            ops in proptest::collection::vec(op(), 0..300),
        ) {
            let mut list = ListValue::new(fill);
            let mut model = VecDeque::new();
            for op in ops {
                apply(&mut list, &mut model, op);
                list.check();
                prop_assert_eq!(list.len(), model.len());
            }
            let forward: Vec<Vec<u8>> = list.iter().map(|e| e.to_vec()).collect();
            prop_assert_eq!(&forward, &Vec::from(model.clone()));
            let mut backward: Vec<Vec<u8>> = list.iter().rev().map(|e| e.to_vec()).collect();
            backward.reverse();
            prop_assert_eq!(&backward, &forward);
            for (i, expected) in model.iter().enumerate() {
                let got = list.get(i).map(|e| e.to_vec());
                prop_assert_eq!(got.as_ref(), Some(expected));
                let tail: Vec<Vec<u8>> = list.iter_from(i).map(|e| e.to_vec()).collect();
                prop_assert_eq!(&tail[..], &forward[i..]);
            }
            // Alternating ends meet in the middle without skipping or repeating.
            let mut iter = list.iter();
            let (mut heads, mut tails) = (Vec::new(), Vec::new());
            while let Some(e) = iter.next() {
                heads.push(e.to_vec());
                let Some(e) = iter.next_back() else { break };
                tails.push(e.to_vec());
            }
            tails.reverse();
            heads.extend(tails);
            prop_assert_eq!(&heads, &forward);
        }
    }
}
