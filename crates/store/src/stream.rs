//! Streams, stored as Redis 7.0 stores them: an ordered map of packed nodes.
//!
//! Each node is a listpack ([`listpack`], Redis's byte format) keyed by its *master ID*,
//! the ID of the first entry ever added to it. The node starts with a master entry
//! (live count, deleted count, the field names of its first entry) and then holds
//! entries as flags, ID deltas from the master ID, and values; an entry with the same
//! field names as the master stores only its values. So a million small entries take a
//! few dozen bytes each, an ID seek is a map lookup plus a walk inside one node of at
//! most `stream-node-max-entries` entries, and the nodes can be written to and read from
//! an RDB file as they are.
//!
//! Deleting an entry (XDEL, exact trimming) only flags it; a node is freed when its
//! last live entry goes, and approximate (`~`) trimming frees whole nodes only. Node
//! boundaries follow Redis's rules exactly (a node is closed at
//! `stream-node-max-entries` entries, live or deleted, or when its listpack would reach
//! `stream-node-max-bytes`), because `~` trimming and XINFO make them visible.
//!
//! Consumer groups ([`group`]) live beside the entries and refer to them by ID.

pub mod group;
pub mod listpack;

use std::collections::btree_map;
use std::collections::BTreeMap;
use std::fmt;

pub use group::{Consumer, Group, Nack};

use crate::list::Elem;

/// The largest listpack a node may grow to (and what `stream-node-max-bytes 0` means).
pub const NODE_MAX_SIZE: usize = 1 << 30;
/// Bytes reserved for a new node, so appends do not reallocate each time.
const NODE_PREALLOC: usize = 4096;

const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;

/// A stream entry ID: milliseconds and a sequence number, ordered as a pair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next ID (seq + 1, carrying into ms); `None` after the maximum.
    pub fn next(self) -> Option<StreamId> {
        match self.seq.checked_add(1) {
            Some(seq) => Some(StreamId::new(self.ms, seq)),
            None => self.ms.checked_add(1).map(|ms| StreamId::new(ms, 0)),
        }
    }

    /// The previous ID; `None` before 0-0.
    pub fn prev(self) -> Option<StreamId> {
        match self.seq.checked_sub(1) {
            Some(seq) => Some(StreamId::new(self.ms, seq)),
            None => self.ms.checked_sub(1).map(|ms| StreamId::new(ms, u64::MAX)),
        }
    }

    /// The 16-byte big-endian form (node keys in RDB files, PEL IDs).
    pub fn to_be_bytes(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.ms.to_be_bytes());
        out[8..].copy_from_slice(&self.seq.to_be_bytes());
        out
    }

    pub fn from_be_bytes(bytes: &[u8]) -> Option<StreamId> {
        let bytes: &[u8; 16] = bytes.try_into().ok()?;
        let mut ms = [0u8; 8];
        let mut seq = [0u8; 8];
        ms.copy_from_slice(&bytes[..8]);
        seq.copy_from_slice(&bytes[8..]);
        Some(StreamId::new(
            u64::from_be_bytes(ms),
            u64::from_be_bytes(seq),
        ))
    }

    pub fn to_text(self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Node size limits (`stream-node-max-bytes`, `stream-node-max-entries`), read from the
/// configuration by each command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeLimits {
    /// 0 means [`NODE_MAX_SIZE`].
    pub max_bytes: usize,
    /// 0 means no limit on entries.
    pub max_entries: u64,
}

impl Default for NodeLimits {
    fn default() -> NodeLimits {
        NodeLimits {
            max_bytes: 4096,
            max_entries: 100,
        }
    }
}

/// What to trim (XADD and XTRIM options).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrimTo {
    /// Keep at most this many entries.
    MaxLen(u64),
    /// Remove entries with a lower ID.
    MinId(StreamId),
}

/// A trim request: the strategy, `~` (whole nodes only) and the work limit (0: none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trim {
    pub to: TrimTo,
    pub approx: bool,
    pub limit: u64,
}

/// The master entry of a node.
#[derive(Clone, Copy, Debug)]
struct Master {
    id: StreamId,
    live: i64,
    num_fields: usize,
    /// Offset of the first master field name.
    fields_at: usize,
    /// Offset of the first entry (the terminator's when the node has none).
    entries_at: usize,
}

fn read_master(id: StreamId, lp: &[u8]) -> Master {
    let at = listpack::first(lp);
    let (live, at) = listpack::int_at(lp, at);
    let (_deleted, at) = listpack::int_at(lp, at);
    let (num_fields, at) = listpack::int_at(lp, at);
    let num_fields = usize::try_from(num_fields).unwrap_or(0);
    let fields_at = at;
    let mut p = at;
    for _ in 0..num_fields {
        p = listpack::decode(lp, p).1;
    }
    // Skip the master terminator (0).
    let entries_at = listpack::decode(lp, p).1;
    Master {
        id,
        live,
        num_fields,
        fields_at,
        entries_at,
    }
}

/// An entry seen in place: its ID and where its fields are.
#[derive(Clone, Copy, Debug)]
pub struct EntryRef<'a> {
    pub id: StreamId,
    pub deleted: bool,
    lp: &'a [u8],
    same_fields: bool,
    master_fields_at: usize,
    num_master_fields: usize,
    /// With `same_fields`, the first value; else the num-fields element.
    values_at: usize,
    /// Offset of this entry's flags element.
    flags_at: usize,
}

impl<'a> EntryRef<'a> {
    /// The number of field-value pairs.
    pub fn len(&self) -> usize {
        if self.same_fields {
            self.num_master_fields
        } else {
            usize::try_from(listpack::int_at(self.lp, self.values_at).0).unwrap_or(0)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The fields and values, in the order they were added.
    pub fn fields(&self) -> Fields<'a> {
        if self.same_fields {
            Fields {
                lp: self.lp,
                names: Some(self.master_fields_at),
                at: self.values_at,
                left: self.num_master_fields,
            }
        } else {
            let (count, at) = listpack::int_at(self.lp, self.values_at);
            Fields {
                lp: self.lp,
                names: None,
                at,
                left: usize::try_from(count).unwrap_or(0),
            }
        }
    }
}

/// The field-value pairs of one entry.
pub struct Fields<'a> {
    lp: &'a [u8],
    /// With shared names: the next master field name.
    names: Option<usize>,
    at: usize,
    left: usize,
}

impl<'a> Iterator for Fields<'a> {
    type Item = (Elem<'a>, Elem<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        match &mut self.names {
            Some(name_at) => {
                let (name, next_name) = listpack::decode(self.lp, *name_at);
                *name_at = next_name;
                let (value, next) = listpack::decode(self.lp, self.at);
                self.at = next;
                Some((name, value))
            }
            None => {
                let (name, at) = listpack::decode(self.lp, self.at);
                let (value, next) = listpack::decode(self.lp, at);
                self.at = next;
                Some((name, value))
            }
        }
    }
}

/// Reads the entry whose flags are at `at`; also returns the offset after it.
fn read_entry<'a>(lp: &'a [u8], master: &Master, at: usize) -> (EntryRef<'a>, usize) {
    let (flags, p) = listpack::int_at(lp, at);
    let (ms_delta, p) = listpack::int_at(lp, p);
    let (seq_delta, p) = listpack::int_at(lp, p);
    let id = StreamId::new(
        master.id.ms.wrapping_add(ms_delta as u64),
        master.id.seq.wrapping_add(seq_delta as u64),
    );
    let same_fields = flags & FLAG_SAMEFIELDS != 0;
    let values_at = p;
    let mut p = p;
    let elements = if same_fields {
        master.num_fields
    } else {
        let (count, next) = listpack::int_at(lp, p);
        p = next;
        usize::try_from(count).unwrap_or(0) * 2
    };
    for _ in 0..elements {
        p = listpack::decode(lp, p).1;
    }
    // Skip lp-count.
    let next = listpack::decode(lp, p).1;
    (
        EntryRef {
            id,
            deleted: flags & FLAG_DELETED != 0,
            lp,
            same_fields,
            master_fields_at: master.fields_at,
            num_master_fields: master.num_fields,
            values_at,
            flags_at: at,
        },
        next,
    )
}

/// The offset of the entry that ends right before `end` (an entry's flags offset or the
/// terminator's), walking back over its lp-count.
fn entry_before(lp: &[u8], end: usize) -> usize {
    let count_at = listpack::prev(lp, end);
    let (count, _) = listpack::int_at(lp, count_at);
    let mut p = count_at;
    for _ in 0..count {
        p = listpack::prev(lp, p);
    }
    p
}

/// A stream value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stream {
    nodes: BTreeMap<StreamId, Vec<u8>>,
    /// Live entries.
    length: u64,
    /// The greatest ID ever added (kept when entries are deleted).
    pub last_id: StreamId,
    /// The first live entry's ID, 0-0 when empty.
    pub first_id: StreamId,
    /// The greatest ID removed by XDEL.
    pub max_deleted_id: StreamId,
    /// Entries ever added.
    pub entries_added: u64,
    /// Consumer groups by name.
    pub groups: BTreeMap<Vec<u8>, Group>,
}

impl Stream {
    pub fn new() -> Stream {
        Stream::default()
    }

    pub fn len(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The number of nodes (XINFO `radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The nodes as (master ID, listpack bytes), in ID order: what an RDB file stores.
    pub fn nodes(&self) -> impl Iterator<Item = (StreamId, &[u8])> {
        self.nodes.iter().map(|(k, v)| (*k, v.as_slice()))
    }

    /// The number of nodes Redis's radix tree would have for these node keys (XINFO
    /// `radix-tree-nodes`): one per branching point or key, plus the compressed runs,
    /// computed from the sorted 16-byte keys.
    pub fn radix_tree_nodes(&self) -> usize {
        let keys: Vec<[u8; 16]> = self.nodes.keys().map(|k| k.to_be_bytes()).collect();
        if keys.is_empty() {
            return 1;
        }
        rax_nodes(&keys, 0)
    }

    /// Approximate bytes used (MEMORY USAGE).
    pub fn memory_usage(&self) -> usize {
        let nodes: usize = self.nodes.values().map(|lp| lp.capacity() + 48).sum();
        let groups: usize = self
            .groups
            .iter()
            .map(|(name, g)| name.len() + g.memory_usage())
            .sum();
        64 + nodes + groups
    }

    /// Appends an entry with `id`, which the caller checked is greater than `last_id`.
    /// `fields` holds names and values alternately (at least one pair).
    pub fn append(&mut self, id: StreamId, fields: &[&[u8]], limits: NodeLimits) {
        let num_fields = fields.len() / 2;
        let element_bytes: usize = fields.iter().map(|f| f.len()).sum();
        let max_bytes = match limits.max_bytes {
            0 => NODE_MAX_SIZE,
            n => n.min(NODE_MAX_SIZE),
        };
        let mut start_new = true;
        if let Some((_, lp)) = self.nodes.last_key_value() {
            let (live, p) = listpack::int_at(lp, listpack::first(lp));
            let (deleted, _) = listpack::int_at(lp, p);
            start_new = lp.len() + element_bytes >= max_bytes
                || (limits.max_entries != 0
                    && u64::try_from(live + deleted).unwrap_or(0) >= limits.max_entries);
            if start_new {
                if let Some(mut last) = self.nodes.last_entry() {
                    last.get_mut().shrink_to_fit();
                }
            }
        }
        let mut flags = 0;
        if start_new {
            let mut lp = listpack::new(NODE_PREALLOC.min(max_bytes));
            listpack::append(&mut lp, Elem::Int(1));
            listpack::append(&mut lp, Elem::Int(0));
            listpack::append(&mut lp, Elem::Int(num_fields as i64));
            for pair in fields.chunks(2) {
                listpack::append(&mut lp, Elem::Bytes(pair[0]));
            }
            listpack::append(&mut lp, Elem::Int(0));
            self.nodes.insert(id, lp);
            flags |= FLAG_SAMEFIELDS;
        }
        // The node to append to: the one just made (whose key is this ID), else the
        // last one.
        let master_id = if start_new {
            id
        } else {
            match self.nodes.last_key_value() {
                Some((key, _)) => *key,
                None => return,
            }
        };
        let Some(lp) = self.nodes.get_mut(&master_id) else {
            return;
        };
        if !start_new {
            let at = listpack::first(lp);
            let (live, _) = listpack::int_at(lp, at);
            listpack::replace_int(lp, at, live + 1);
            let master = read_master(master_id, lp);
            if master.num_fields == num_fields {
                let mut p = master.fields_at;
                let mut same = true;
                for pair in fields.chunks(2) {
                    let (name, next) = listpack::decode(lp, p);
                    p = next;
                    if *name.as_bytes() != *pair[0] {
                        same = false;
                        break;
                    }
                }
                if same {
                    flags |= FLAG_SAMEFIELDS;
                }
            }
        }
        listpack::append(lp, Elem::Int(flags));
        listpack::append(lp, Elem::Int(id.ms.wrapping_sub(master_id.ms) as i64));
        listpack::append(lp, Elem::Int(id.seq.wrapping_sub(master_id.seq) as i64));
        let same = flags & FLAG_SAMEFIELDS != 0;
        if !same {
            listpack::append(lp, Elem::Int(num_fields as i64));
        }
        for pair in fields.chunks(2) {
            if !same {
                listpack::append(lp, Elem::Bytes(pair[0]));
            }
            listpack::append(lp, Elem::Bytes(pair[1]));
        }
        let lp_count = if same {
            num_fields + 3
        } else {
            num_fields * 2 + 4
        };
        listpack::append(lp, Elem::Int(lp_count as i64));
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        if self.length == 1 {
            self.first_id = id;
        }
    }

    /// Entries with IDs in `start..=end`, forward or in reverse, skipping deleted ones.
    pub fn range(&self, start: StreamId, end: StreamId, rev: bool) -> Range<'_> {
        self.range_with(start, end, rev, false)
    }

    fn range_with(&self, start: StreamId, end: StreamId, rev: bool, tombstones: bool) -> Range<'_> {
        let empty = start > end;
        let from = self
            .nodes
            .range(..=start)
            .next_back()
            .map_or(start, |(k, _)| *k);
        let nodes = if empty {
            self.nodes.range(StreamId::MAX..StreamId::MAX)
        } else {
            self.nodes.range(from..=end)
        };
        Range {
            nodes,
            current: None,
            start,
            end,
            rev,
            tombstones,
            done: empty,
        }
    }

    /// The first (or last) entry's ID, deleted ones included or not; with none, MAX for
    /// the first and MIN for the last, as Redis's `streamGetEdgeID`.
    pub fn edge_id(&self, first: bool, skip_deleted: bool) -> StreamId {
        let mut range = self.range_with(StreamId::MIN, StreamId::MAX, !first, !skip_deleted);
        match range.next() {
            Some(entry) => entry.id,
            None if first => StreamId::MAX,
            None => StreamId::MIN,
        }
    }

    /// The last live entry's ID (0-0 when empty).
    pub fn last_live_id(&self) -> StreamId {
        self.edge_id(false, true)
    }

    /// Whether a live entry `id` exists.
    pub fn contains(&self, id: StreamId) -> bool {
        self.range(id, id, false).next().is_some()
    }

    /// Flags entry `id` deleted (XDEL); false when there is no such live entry. Frees
    /// the node when it was its last live entry. Does not touch `first_id` or
    /// `max_deleted_id`: see [`Stream::delete_ids`].
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&key, lp)) = self.nodes.range_mut(..=id).next_back() else {
            return false;
        };
        let master = read_master(key, lp);
        let mut at = master.entries_at;
        let found = loop {
            if listpack::at_end(lp, at) {
                break None;
            }
            let (entry, next) = read_entry(lp, &master, at);
            if !entry.deleted {
                if entry.id == id {
                    break Some(entry.flags_at);
                }
                if entry.id > id {
                    break None;
                }
            }
            at = next;
        };
        let Some(flags_at) = found else {
            return false;
        };
        if master.live == 1 {
            self.nodes.remove(&key);
        } else {
            let (flags, _) = listpack::int_at(lp, flags_at);
            listpack::replace_int(lp, flags_at, flags | FLAG_DELETED);
            adjust_counts(lp, -1);
        }
        self.length -= 1;
        true
    }

    /// XDEL: deletes the given IDs and keeps `first_id` and `max_deleted_id` right.
    /// Returns how many were deleted.
    pub fn delete_ids(&mut self, ids: &[StreamId]) -> u64 {
        let mut deleted = 0;
        let mut first_deleted = false;
        for &id in ids {
            if self.delete(id) {
                if id == self.first_id {
                    first_deleted = true;
                }
                if id > self.max_deleted_id {
                    self.max_deleted_id = id;
                }
                deleted += 1;
            }
        }
        if deleted > 0 {
            if self.length == 0 {
                self.first_id = StreamId::MIN;
            } else if first_deleted {
                self.first_id = self.edge_id(true, true);
            }
        }
        deleted
    }

    /// Trims from the oldest node as Redis's `streamTrim`: whole nodes while they can
    /// go, then (exact trimming only) entries inside the next node. Returns how many
    /// entries were removed.
    pub fn trim(&mut self, trim: Trim) -> u64 {
        let mut deleted: u64 = 0;
        let mut cursor = StreamId::MIN;
        while let Some((&key, lp)) = self.nodes.range_mut(cursor..).next() {
            if let TrimTo::MaxLen(max) = trim.to {
                if self.length <= max {
                    break;
                }
            }
            let master = read_master(key, lp);
            let entries = u64::try_from(master.live).unwrap_or(0);
            if trim.limit != 0 && deleted + entries > trim.limit {
                break;
            }
            let remove_node = match trim.to {
                TrimTo::MaxLen(max) => self.length - entries >= max,
                TrimTo::MinId(min) => {
                    let last_at = entry_before(lp, listpack::end(lp));
                    let last = if last_at >= master.entries_at {
                        read_entry(lp, &master, last_at).0.id
                    } else {
                        key
                    };
                    last < min
                }
            };
            if remove_node {
                self.nodes.remove(&key);
                self.length -= entries;
                deleted += entries;
                cursor = key;
                continue;
            }
            if trim.approx {
                break;
            }
            let mut at = master.entries_at;
            let mut removed_here: i64 = 0;
            while !listpack::at_end(lp, at) {
                let (entry, next) = read_entry(lp, &master, at);
                let stop = match trim.to {
                    TrimTo::MaxLen(max) => self.length <= max,
                    TrimTo::MinId(min) => entry.id >= min,
                };
                if stop {
                    break;
                }
                if entry.deleted {
                    at = next;
                    continue;
                }
                let flags_at = entry.flags_at;
                let old_len = lp.len();
                let (flags, _) = listpack::int_at(lp, flags_at);
                listpack::replace_int(lp, flags_at, flags | FLAG_DELETED);
                // Flags 0..3 and 1..3 have the same size, but stay safe.
                at = next + lp.len() - old_len;
                removed_here += 1;
                self.length -= 1;
            }
            adjust_counts(lp, -removed_here);
            deleted += removed_here as u64;
            break;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if deleted > 0 {
            self.first_id = self.edge_id(true, true);
        }
        deleted
    }

    /// Whether deleted entries may lie in `start..=end` (Redis's
    /// `streamRangeHasTombstones`): judged from `max_deleted_id` alone.
    pub fn range_has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.length == 0 || self.max_deleted_id == StreamId::MIN {
            return false;
        }
        if self.max_deleted_id < self.first_id {
            return false;
        }
        start <= self.max_deleted_id && self.max_deleted_id <= end
    }

    /// How many entries were added up to and including `id`, when that can be known
    /// without counting (Redis's `streamEstimateDistanceFromFirstEverEntry`); `None`
    /// when it cannot.
    pub fn estimate_distance(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.length == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        if id == self.last_id {
            return Some(self.entries_added);
        }
        if id > self.last_id {
            return None;
        }
        if self.max_deleted_id == StreamId::MIN || self.max_deleted_id < self.first_id {
            if id < self.first_id {
                return Some(self.entries_added - self.length);
            }
            if id == self.first_id {
                return Some(self.entries_added - self.length + 1);
            }
        }
        None
    }

    /// A group's lag: entries added after its last delivered ID, when known. Negative
    /// when ENTRIESREAD claimed more reads than there were, as in Redis.
    pub fn lag(&self, group: &Group) -> Option<i64> {
        let added = self.entries_added as i64;
        if self.entries_added == 0 {
            return Some(0);
        }
        if group.entries_read != -1 && !self.range_has_tombstones(group.last_id, StreamId::MAX) {
            return Some(added.wrapping_sub(group.entries_read));
        }
        self.estimate_distance(group.last_id)
            .map(|e| added.wrapping_sub(e as i64))
    }

    /// Rebuilds a stream from RDB parts: nodes as stored, and the metadata. Checks the
    /// node structure enough that later reads cannot go out of bounds; `None` if not.
    pub fn from_nodes(nodes: Vec<(StreamId, Vec<u8>)>) -> Option<Stream> {
        let mut stream = Stream::new();
        for (key, lp) in nodes {
            if !listpack::validate(&lp) || !node_is_sound(&lp) {
                return None;
            }
            let master = read_master(key, &lp);
            stream.length += u64::try_from(master.live).ok()?;
            if stream.nodes.insert(key, lp).is_some() {
                return None;
            }
        }
        Some(stream)
    }
}

/// Adds `delta` to a node's live count and subtracts it from its deleted count.
fn adjust_counts(lp: &mut Vec<u8>, delta: i64) {
    if delta == 0 {
        return;
    }
    let at = listpack::first(lp);
    let (live, _) = listpack::int_at(lp, at);
    listpack::replace_int(lp, at, live + delta);
    let deleted_at = listpack::decode(lp, at).1;
    let (deleted, _) = listpack::int_at(lp, deleted_at);
    listpack::replace_int(lp, deleted_at, deleted - delta);
}

/// Walks a node read from a file: master entry, then entries whose lp-counts agree with
/// their shape and whose counts match the master's.
fn node_is_sound(lp: &[u8]) -> bool {
    let end = listpack::end(lp);
    let mut at = listpack::first(lp);
    let mut ints = [0i64; 3];
    for v in &mut ints {
        if at >= end {
            return false;
        }
        match listpack::decode(lp, at) {
            (Elem::Int(n), next) => {
                *v = n;
                at = next;
            }
            _ => return false,
        }
    }
    let [live, deleted, num_fields] = ints;
    if live < 0 || deleted < 0 || num_fields < 0 {
        return false;
    }
    for _ in 0..num_fields {
        if at >= end {
            return false;
        }
        at = listpack::decode(lp, at).1;
    }
    if at >= end || listpack::decode(lp, at).0 != Elem::Int(0) {
        return false;
    }
    at = listpack::decode(lp, at).1;
    let (mut seen_live, mut seen_deleted) = (0i64, 0i64);
    while at < end {
        let mut elements = 0i64;
        let next_int = |at: &mut usize| -> Option<i64> {
            if *at >= end {
                return None;
            }
            let (v, next) = listpack::decode(lp, *at);
            *at = next;
            match v {
                Elem::Int(n) => Some(n),
                Elem::Bytes(_) => None,
            }
        };
        let Some(flags) = next_int(&mut at) else {
            return false;
        };
        if next_int(&mut at).is_none() || next_int(&mut at).is_none() {
            return false;
        }
        elements += 3;
        let values = if flags & FLAG_SAMEFIELDS != 0 {
            num_fields
        } else {
            let Some(n) = next_int(&mut at) else {
                return false;
            };
            if n < 0 {
                return false;
            }
            elements += 1;
            n * 2
        };
        for _ in 0..values {
            if at >= end {
                return false;
            }
            at = listpack::decode(lp, at).1;
        }
        elements += values;
        let Some(lp_count) = next_int(&mut at) else {
            return false;
        };
        if lp_count != elements {
            return false;
        }
        if flags & FLAG_DELETED != 0 {
            seen_deleted += 1;
        } else {
            seen_live += 1;
        }
    }
    seen_live == live && seen_deleted == deleted
}

/// Redis's rax node count for sorted, distinct 16-byte keys below a node at `depth`.
fn rax_nodes(keys: &[[u8; 16]], depth: usize) -> usize {
    if depth == 16 {
        return 1;
    }
    let first = keys[0][depth];
    if keys.iter().all(|k| k[depth] == first) {
        // One path: a compressed node up to where the keys part (or end).
        let last = &keys[keys.len() - 1];
        let mut common = depth + 1;
        while common < 16 && keys[0][common] == last[common] {
            common += 1;
        }
        return 1 + rax_nodes(keys, common);
    }
    let mut total = 1;
    let mut start = 0;
    while start < keys.len() {
        let byte = keys[start][depth];
        let mut end = start + 1;
        while end < keys.len() && keys[end][depth] == byte {
            end += 1;
        }
        total += rax_nodes(&keys[start..end], depth + 1);
        start = end;
    }
    total
}

/// The current node of a [`Range`].
struct Cursor<'a> {
    lp: &'a [u8],
    master: Master,
    /// Forward: the next entry's offset. Reverse: the end of the next entry to read.
    at: usize,
}

/// Entries of a stream in ID order or reverse order (see [`Stream::range`]).
pub struct Range<'a> {
    nodes: btree_map::Range<'a, StreamId, Vec<u8>>,
    current: Option<Cursor<'a>>,
    start: StreamId,
    end: StreamId,
    rev: bool,
    tombstones: bool,
    done: bool,
}

impl<'a> Iterator for Range<'a> {
    type Item = EntryRef<'a>;

    fn next(&mut self) -> Option<EntryRef<'a>> {
        while !self.done {
            let Some(cursor) = &mut self.current else {
                let next = if self.rev {
                    self.nodes.next_back()
                } else {
                    self.nodes.next()
                };
                let Some((key, lp)) = next else {
                    self.done = true;
                    return None;
                };
                let master = read_master(*key, lp);
                let at = if self.rev {
                    listpack::end(lp)
                } else {
                    master.entries_at
                };
                self.current = Some(Cursor { lp, master, at });
                continue;
            };
            let entry = if self.rev {
                if cursor.at <= cursor.master.entries_at {
                    self.current = None;
                    continue;
                }
                let at = entry_before(cursor.lp, cursor.at);
                cursor.at = at;
                read_entry(cursor.lp, &cursor.master, at).0
            } else {
                if listpack::at_end(cursor.lp, cursor.at) {
                    self.current = None;
                    continue;
                }
                let (entry, next) = read_entry(cursor.lp, &cursor.master, cursor.at);
                cursor.at = next;
                entry
            };
            // Deleted entries are skipped before the range checks, as Redis's iterator
            // does: after XSETID lowered the last ID of an emptied stream, a node can
            // hold a higher deleted ID before lower live ones.
            if entry.deleted && !self.tombstones {
                continue;
            }
            if self.rev {
                if entry.id > self.end {
                    continue;
                }
                if entry.id < self.start {
                    self.done = true;
                    return None;
                }
            } else {
                if entry.id < self.start {
                    continue;
                }
                if entry.id > self.end {
                    self.done = true;
                    return None;
                }
            }
            return Some(entry);
        }
        None
    }
}

#[cfg(test)]
mod tests;
