//! Sorted sets, in Redis 7.0's two encodings.
//!
//! - `listpack` ([`packed::Packed`]): every pair in one byte buffer, ordered by
//!   `(score, member)`, while the set has at most `zset-max-listpack-entries` members
//!   of at most `zset-max-listpack-value` bytes. Small sets are most sets; a packed
//!   buffer costs a few bytes per pair beyond the members themselves.
//! - `skiplist` ([`Full`]): past either limit, a member-to-score hash map for O(1)
//!   ZSCORE plus an order-statistics B+tree ([`tree::Tree`]) for O(log n) insert,
//!   delete, rank and rank-to-element. Redis uses a real skiplist; a counted B+tree
//!   gives the same bounds with items packed 64 to a leaf instead of one heap node per
//!   element, and the member bytes are shared (`Arc`) between map and tree. The map is
//!   an `IndexMap` so ZSCAN can walk it by position with SCAN's guarantee (the same
//!   top-down walk as the keyspace) and ZRANDMEMBER can draw members uniformly in O(1).
//!
//! As in Redis, a set converts to `skiplist` when an insert crosses a limit and never
//! converts back; only sets built whole (ZRANGESTORE, ZUNIONSTORE...) pick their
//! encoding from their final size ([`ZSetValue::from_items`]). Scores are never NaN:
//! [`ZSetValue::add`] refuses it, as Redis does.

mod packed;
mod tree;

use std::sync::Arc;

use indexmap::IndexMap;

use crate::EncodingLimits;
pub use packed::Packed;
use tree::{Member, Tree};

/// ZADD's behaviour flags (ZINCRBY is `incr`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub incr: bool,
}

/// What [`ZSetValue::add`] did to the member.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AddOutcome {
    /// A new member with this score.
    Added(f64),
    /// The member's score changed to this.
    Updated(f64),
    /// The member already had this score.
    Unchanged(f64),
    /// NX, XX, GT or LT told us to leave it alone.
    Skipped,
}

/// The score an add would produce is not a number (`inf + -inf`), or was given as NaN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotANumber;

/// The `skiplist` encoding: member-to-score map plus ordered tree.
#[derive(Clone, Debug, Default)]
pub struct Full {
    map: IndexMap<Member, f64, ahash::RandomState>,
    tree: Tree,
    member_bytes: usize,
}

impl Full {
    fn insert(&mut self, member: &[u8], score: f64) {
        let member: Member = Arc::from(member);
        self.member_bytes += member.len();
        self.map.insert(member.clone(), score);
        self.tree.insert(score, member);
    }

    fn remove(&mut self, member: &[u8]) -> bool {
        match self.map.swap_remove_full(member) {
            Some((_, key, score)) => {
                self.tree.remove(score, &key);
                self.member_bytes -= key.len();
                true
            }
            None => false,
        }
    }

    fn update(&mut self, member: &[u8], old: f64, new: f64) {
        let Some((_, key, score)) = self.map.get_full_mut(member) else {
            return;
        };
        *score = new;
        let key = key.clone();
        self.tree.remove(old, &key);
        self.tree.insert(new, key);
    }
}

/// A sorted set value.
#[derive(Clone, Debug)]
pub enum ZSetValue {
    Listpack(Packed),
    Skiplist(Box<Full>),
}

impl Default for ZSetValue {
    fn default() -> ZSetValue {
        ZSetValue::Listpack(Packed::default())
    }
}

impl PartialEq for ZSetValue {
    fn eq(&self, other: &ZSetValue) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|(a, b)| a.0 == b.0 && a.1.to_bits() == b.1.to_bits())
    }
}

/// Whether a set of `len` members, the longest `max_member` bytes, fits `listpack`.
fn fits_packed(limits: &EncodingLimits, len: usize, max_member: usize) -> bool {
    len <= limits.zset_max_listpack_entries && max_member <= limits.zset_max_listpack_value
}

impl ZSetValue {
    /// The empty set a write creates for its first member, encoded as Redis picks:
    /// `skiplist` at once if that member is already too long (or listpacks are off).
    pub fn new_for(limits: &EncodingLimits, first_member_len: usize) -> ZSetValue {
        if limits.zset_max_listpack_entries == 0
            || first_member_len > limits.zset_max_listpack_value
        {
            ZSetValue::Skiplist(Box::default())
        } else {
            ZSetValue::default()
        }
    }

    /// A set built whole from distinct members (ZRANGESTORE, ZUNIONSTORE...): sorted
    /// here, and `listpack` when the result fits, as Redis converts such results.
    pub fn from_items<M: AsRef<[u8]>>(
        mut items: Vec<(M, f64)>,
        limits: &EncodingLimits,
    ) -> ZSetValue {
        items.sort_by(|a, b| tree::compare(a.1, a.0.as_ref(), b.1, b.0.as_ref()));
        let max_member = items.iter().map(|i| i.0.as_ref().len()).max().unwrap_or(0);
        if fits_packed(limits, items.len(), max_member) {
            let mut packed = Packed::default();
            for (member, score) in &items {
                packed.push_sorted(member.as_ref(), *score);
            }
            packed.shrink();
            return ZSetValue::Listpack(packed);
        }
        let mut full = Full::default();
        full.map.reserve(items.len());
        for (member, score) in &items {
            full.insert(member.as_ref(), *score);
        }
        ZSetValue::Skiplist(Box::new(full))
    }

    pub fn len(&self) -> usize {
        match self {
            ZSetValue::Listpack(p) => p.len(),
            ZSetValue::Skiplist(f) => f.map.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING replies with.
    pub fn encoding(&self) -> &'static str {
        match self {
            ZSetValue::Listpack(_) => "listpack",
            ZSetValue::Skiplist(_) => "skiplist",
        }
    }

    /// Approximate bytes used, for MEMORY USAGE.
    pub fn memory_usage(&self) -> usize {
        match self {
            ZSetValue::Listpack(p) => 32 + p.memory_usage(),
            ZSetValue::Skiplist(f) => {
                let entry = std::mem::size_of::<(u64, Member, f64)>() + 9;
                64 + f.map.capacity() * entry
                    + f.tree.memory_usage()
                    + f.member_bytes
                    + 16 * f.map.len()
            }
        }
    }

    /// `(member, score)` pairs in rank order.
    pub fn iter(&self) -> ZIter<'_> {
        self.iter_from(0, false)
    }

    /// Pairs from rank `start` on: upwards, or with `reverse` downwards to rank 0.
    pub fn iter_from(&self, start: usize, reverse: bool) -> ZIter<'_> {
        match self {
            ZSetValue::Listpack(p) if !reverse => ZIter::Forward(p.iter().skip(start)),
            ZSetValue::Listpack(p) => {
                let mut entries: Vec<packed::Entry<'_>> = p.iter().take(start + 1).collect();
                if start >= p.len() {
                    entries.clear();
                }
                entries.reverse();
                ZIter::Backward(entries.into_iter())
            }
            ZSetValue::Skiplist(f) => ZIter::Tree(f.tree.iter_from(start, reverse)),
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSetValue::Listpack(p) => p.find(member).map(|(_, e)| e.score),
            ZSetValue::Skiplist(f) => f.map.get(member).copied(),
        }
    }

    /// The 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match self {
            ZSetValue::Listpack(p) => p.find(member).map(|(rank, _)| rank),
            ZSetValue::Skiplist(f) => {
                let score = *f.map.get(member)?;
                f.tree.rank(score, member)
            }
        }
    }

    /// The pair at 0-based ascending `rank`.
    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        self.iter_from(rank, false).next()
    }

    /// ZADD/ZINCRBY on one member, following Redis's `zsetAdd`: NaN in or out is an
    /// error; NX skips existing members, XX new ones; GT/LT skip updates that do not
    /// raise/lower the score; an insert that crosses a limit converts to `skiplist`.
    pub fn add(
        &mut self,
        member: &[u8],
        score: f64,
        flags: AddFlags,
        limits: &EncodingLimits,
    ) -> Result<AddOutcome, NotANumber> {
        if score.is_nan() {
            return Err(NotANumber);
        }
        let Some(current) = self.score(member) else {
            if flags.xx {
                return Ok(AddOutcome::Skipped);
            }
            self.insert_new(member, score, limits);
            return Ok(AddOutcome::Added(score));
        };
        if flags.nx {
            return Ok(AddOutcome::Skipped);
        }
        let new = if flags.incr { current + score } else { score };
        if new.is_nan() {
            return Err(NotANumber);
        }
        if (flags.lt && new >= current) || (flags.gt && new <= current) {
            return Ok(AddOutcome::Skipped);
        }
        if new == current {
            return Ok(AddOutcome::Unchanged(new));
        }
        self.set_score(member, current, new);
        Ok(AddOutcome::Updated(new))
    }

    /// Inserts a member known to be absent, converting first if it would cross a limit.
    fn insert_new(&mut self, member: &[u8], score: f64, limits: &EncodingLimits) {
        if let ZSetValue::Listpack(p) = self {
            if p.len() < limits.zset_max_listpack_entries
                && member.len() <= limits.zset_max_listpack_value
            {
                p.insert(member, score);
                return;
            }
            self.convert_to_skiplist();
        }
        if let ZSetValue::Skiplist(f) = self {
            f.insert(member, score);
        }
    }

    fn set_score(&mut self, member: &[u8], old: f64, new: f64) {
        match self {
            ZSetValue::Listpack(p) => {
                if let Some((_, e)) = p.find(member) {
                    let (start, end) = (e.start, e.end);
                    p.remove_span(start, end, 1);
                }
                p.insert(member, new);
            }
            ZSetValue::Skiplist(f) => f.update(member, old, new),
        }
    }

    /// Rebuilds a `listpack` set as `skiplist`.
    pub fn convert_to_skiplist(&mut self) {
        let ZSetValue::Listpack(p) = self else {
            return;
        };
        let mut full = Full::default();
        full.map.reserve(p.len() + 1);
        for e in p.iter() {
            full.insert(e.member, e.score);
        }
        *self = ZSetValue::Skiplist(Box::new(full));
    }

    /// Removes `member`; false when it was not there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZSetValue::Listpack(p) => match p.find(member) {
                Some((_, e)) => {
                    let (start, end) = (e.start, e.end);
                    p.remove_span(start, end, 1);
                    true
                }
                None => false,
            },
            ZSetValue::Skiplist(f) => f.remove(member),
        }
    }

    /// Removes `count` pairs from ascending rank `start` on; returns how many went.
    pub fn remove_range(&mut self, start: usize, count: usize) -> usize {
        let count = count.min(self.len().saturating_sub(start));
        if count == 0 {
            return 0;
        }
        match self {
            ZSetValue::Listpack(p) => {
                let span: Vec<(usize, usize)> = p
                    .iter()
                    .skip(start)
                    .take(count)
                    .map(|e| (e.start, e.end))
                    .collect();
                if let (Some(first), Some(last)) = (span.first(), span.last()) {
                    p.remove_span(first.0, last.1, span.len());
                }
            }
            ZSetValue::Skiplist(f) => {
                for _ in 0..count {
                    let Some(item) = f.tree.get(start) else { break };
                    let member = item.member.clone();
                    f.remove(&member);
                }
            }
        }
        count
    }

    /// The rank of the first pair (in ascending order) for which `below` is false: the
    /// start of a range whose lower bound `below` tests. A listpack is scanned from the
    /// head and a skiplist searched, as in Redis, which only differ when the predicate
    /// is not monotone (a lex range over members with different scores).
    pub fn lower_rank(&self, below: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSetValue::Listpack(p) => p
                .iter()
                .position(|e| !below(e.score, e.member))
                .unwrap_or(p.len()),
            ZSetValue::Skiplist(f) => f.tree.partition_point(|i| below(i.score, &i.member)),
        }
    }

    /// One past the rank of the last pair for which `above` is false: the end of a
    /// range whose upper bound `above` tests (a listpack is scanned from the tail).
    pub fn upper_rank(&self, above: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSetValue::Listpack(p) => {
                let mut end = 0;
                for (i, e) in p.iter().enumerate() {
                    if !above(e.score, e.member) {
                        end = i + 1;
                    }
                }
                end
            }
            ZSetValue::Skiplist(f) => f.tree.partition_point(|i| !above(i.score, &i.member)),
        }
    }

    /// Random access for sampling (ZRANDMEMBER): O(1) per draw in both encodings (a
    /// listpack is decoded once).
    pub fn sampler(&self) -> Sampler<'_> {
        match self {
            ZSetValue::Listpack(p) => {
                Sampler::Entries(p.iter().map(|e| (e.member, e.score)).collect())
            }
            ZSetValue::Skiplist(f) => Sampler::Map(&f.map),
        }
    }

    /// One ZSCAN step: a `listpack` set comes whole with cursor 0; a `skiplist` one is
    /// walked by map position from the top down (see `Db::scan` for why that returns
    /// every member present for the whole scan). `cursor` 0 starts; the returned
    /// cursor is 0 when done.
    pub fn scan(&self, cursor: u64, count: usize) -> (Vec<(&[u8], f64)>, u64) {
        let map = match self {
            ZSetValue::Listpack(p) => return (p.iter().map(|e| (e.member, e.score)).collect(), 0),
            ZSetValue::Skiplist(f) => &f.map,
        };
        let len = map.len();
        let unvisited = if cursor == 0 {
            len
        } else {
            usize::try_from(cursor - 1).map_or(len, |c| c.min(len))
        };
        let low = unvisited - count.max(1).min(unvisited);
        let found = (low..unvisited)
            .rev()
            .filter_map(|i| map.get_index(i).map(|(k, v)| (&k[..], *v)))
            .collect();
        (found, if low == 0 { 0 } else { low as u64 + 1 })
    }
}

/// Uniform random access to a set's pairs; see [`ZSetValue::sampler`].
pub enum Sampler<'a> {
    Entries(Vec<(&'a [u8], f64)>),
    Map(&'a IndexMap<Member, f64, ahash::RandomState>),
}

impl<'a> Sampler<'a> {
    pub fn len(&self) -> usize {
        match self {
            Sampler::Entries(e) => e.len(),
            Sampler::Map(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pair at `index` (< `len()`), in no particular order.
    pub fn get(&self, index: usize) -> Option<(&'a [u8], f64)> {
        match self {
            Sampler::Entries(e) => e.get(index).copied(),
            Sampler::Map(m) => m.get_index(index).map(|(k, v)| (&k[..], *v)),
        }
    }
}

/// A walk over a set's pairs in rank order (either direction).
pub enum ZIter<'a> {
    Forward(std::iter::Skip<packed::PackedIter<'a>>),
    Backward(std::vec::IntoIter<packed::Entry<'a>>),
    Tree(tree::Iter<'a>),
}

impl<'a> Iterator for ZIter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<(&'a [u8], f64)> {
        match self {
            ZIter::Forward(it) => it.next().map(|e| (e.member, e.score)),
            ZIter::Backward(it) => it.next().map(|e| (e.member, e.score)),
            ZIter::Tree(it) => it.next().map(|i| (&i.member[..], i.score)),
        }
    }
}

#[cfg(test)]
mod tests;
