//! Hashes: field/value maps in Redis 7.0's two encodings.
//!
//! A small hash is a `listpack`: every field and value packed in one buffer, in insertion
//! order. Most hashes in the wild (objects, sessions, counters) have a handful of short
//! fields, and one buffer costs one allocation and a few bytes per entry instead of two
//! heap strings and a table slot per field. Lookups scan the buffer, which is cheap
//! while it stays small: past `hash-max-listpack-entries` fields, or as soon as one field
//! or value is longer than `hash-max-listpack-value` bytes, the hash converts to a
//! `hashtable` and never converts back (as in Redis).
//!
//! The hashtable is an insertion-ordered `IndexMap`: O(1) access by position gives
//! uniform random fields (HRANDFIELD) and an HSCAN cursor that walks positions from the
//! top down. The map only moves an entry by `swap_remove` (the last entry fills the
//! hole) and appends new ones at the top, so a field present for the whole scan stays
//! below the cursor until it is returned: Redis's SCAN guarantee, with no ordered index.

use indexmap::IndexMap;

use crate::EncodingLimits;

/// A listpack never grows past this many bytes, whatever the limits say (Redis refuses
/// to let one grow past 1 GiB as well).
const LISTPACK_MAX_BYTES: usize = 1 << 30;

/// A (field, value) pair as stored.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// The full encoding: field to value.
type Table = IndexMap<crate::Key, Box<[u8]>, ahash::RandomState>;

/// A hash value.
#[derive(Clone, Debug)]
pub struct HashValue {
    repr: Repr,
}

#[derive(Clone, Debug)]
enum Repr {
    Packed(Packed),
    Table(Box<Table>),
}

impl Default for HashValue {
    fn default() -> HashValue {
        HashValue::new()
    }
}

impl PartialEq for HashValue {
    /// Same fields with the same values, whatever the encoding or order.
    fn eq(&self, other: &HashValue) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}

impl HashValue {
    /// An empty hash (`listpack`).
    pub fn new() -> HashValue {
        HashValue {
            repr: Repr::Packed(Packed::new()),
        }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed(p) => p.len(),
            Repr::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING replies with.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Packed(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// Approximate bytes used, for MEMORY USAGE.
    pub fn memory_usage(&self) -> usize {
        match &self.repr {
            Repr::Packed(p) => 16 + p.buf.len(),
            Repr::Table(t) => {
                // Like Redis, estimate from a sample rather than walk a huge hash.
                let sample = t.len().min(16);
                let sampled: usize = t.iter().take(sample).map(|(f, v)| f.len() + v.len()).sum();
                let payload = (sampled * t.len()).checked_div(sample).unwrap_or(0);
                64 + t.capacity() * (8 + 32 + 9) + payload
            }
        }
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Packed(p) => p.find(field).map(|slot| p.value_at(&slot)),
            Repr::Table(t) => t.get(field).map(|v| &**v),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Sets `field` to `value`, converting to a hashtable when the limits say so.
    /// Returns true when the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: &EncodingLimits) -> bool {
        if let Repr::Packed(p) = &self.repr {
            let long = field.len() > limits.hash_max_listpack_value
                || value.len() > limits.hash_max_listpack_value;
            let too_big = p.buf.len() + field.len() + value.len() + 20 > LISTPACK_MAX_BYTES;
            if long || too_big {
                self.convert();
            }
        }
        match &mut self.repr {
            Repr::Packed(p) => {
                let added = p.set(field, value);
                if p.len() > limits.hash_max_listpack_entries {
                    self.convert();
                }
                added
            }
            Repr::Table(t) => t.insert(field.into(), value.into()).is_none(),
        }
    }

    /// Removes `field`; false when it was not there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Packed(p) => p.remove(field),
            Repr::Table(t) => {
                let removed = t.swap_remove(field).is_some();
                // Give memory back once the table is mostly empty (Redis resizes its dict
                // below 10% use). Shrinking keeps positions, so HSCAN cursors stay valid.
                if removed && t.capacity() > 64 && t.len() * 8 < t.capacity() {
                    t.shrink_to_fit();
                }
                removed
            }
        }
    }

    /// Every (field, value) pair: insertion order for a listpack (as Redis), table
    /// order otherwise.
    pub fn iter(&self) -> Iter<'_> {
        match &self.repr {
            Repr::Packed(p) => Iter::Packed(p.iter()),
            Repr::Table(t) => Iter::Table(t.iter()),
        }
    }

    /// One HSCAN step from `cursor` (0 starts): about `count` pairs and the next cursor,
    /// 0 when the scan is complete. A listpack is returned whole in one step, as Redis
    /// does for its compact encodings.
    pub fn scan(&self, cursor: u64, count: usize) -> (Vec<Pair<'_>>, u64) {
        match &self.repr {
            Repr::Packed(p) => (p.iter().collect(), 0),
            Repr::Table(t) => {
                let (range, next) = scan_positions(t.len(), cursor, count);
                let pairs = range
                    .rev()
                    .filter_map(|i| t.get_index(i).map(|(f, v)| (&**f, &**v)))
                    .collect();
                (pairs, next)
            }
        }
    }

    /// Random access by position, for HRANDFIELD: O(1) per pick on a hashtable, one
    /// pass over the buffer to build it for a listpack.
    pub fn sampler(&self) -> Sampler<'_> {
        match &self.repr {
            Repr::Packed(p) => Sampler::Packed(p.iter().collect()),
            Repr::Table(t) => Sampler::Table(t),
        }
    }

    /// Converts a listpack into a hashtable (no-op for a hashtable).
    fn convert(&mut self) {
        if let Repr::Packed(p) = &self.repr {
            let mut table = Table::with_capacity_and_hasher(p.len(), ahash::RandomState::new());
            for (field, value) in p.iter() {
                table.insert(field.into(), value.into());
            }
            self.repr = Repr::Table(Box::new(table));
        }
    }
}

/// The positions one SCAN step visits, top down, and the cursor that follows it.
///
/// Cursor 0 starts at the top; cursor `c` means positions below `c - 1` are unvisited.
/// Shared with sets: see the module doc for why top-down positions never miss an entry.
pub(crate) fn scan_positions(
    len: usize,
    cursor: u64,
    count: usize,
) -> (std::ops::Range<usize>, u64) {
    let unvisited = if cursor == 0 {
        len
    } else {
        usize::try_from(cursor - 1).unwrap_or(usize::MAX).min(len)
    };
    let low = unvisited - count.max(1).min(unvisited);
    let next = if low == 0 { 0 } else { low as u64 + 1 };
    (low..unvisited, next)
}

/// Iterator over a hash's (field, value) pairs.
pub enum Iter<'a> {
    Packed(PackedIter<'a>),
    Table(indexmap::map::Iter<'a, crate::Key, Box<[u8]>>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Packed(it) => it.next(),
            Iter::Table(it) => it.next().map(|(f, v)| (&**f, &**v)),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Packed(it) => (it.left, Some(it.left)),
            Iter::Table(it) => it.size_hint(),
        }
    }
}

/// Pairs by position, for random picks.
pub enum Sampler<'a> {
    Packed(Vec<(&'a [u8], &'a [u8])>),
    Table(&'a Table),
}

impl<'a> Sampler<'a> {
    pub fn len(&self) -> usize {
        match self {
            Sampler::Packed(v) => v.len(),
            Sampler::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pair at `index` (below `len()`).
    pub fn get(&self, index: usize) -> Option<(&'a [u8], &'a [u8])> {
        match self {
            Sampler::Packed(v) => v.get(index).copied(),
            Sampler::Table(t) => t.get_index(index).map(|(f, v)| (&**f, &**v)),
        }
    }
}

// ---------------------------------------------------------------------------------
// The listpack: one buffer of pairs.
// ---------------------------------------------------------------------------------

/// Bytes of the pair count at the start of the buffer.
const HEADER: usize = 4;

/// Field/value pairs in one exact-size buffer: a little-endian u32 pair count, then each
/// field and each value as a varint length (7 bits a byte, low bits first) followed by
/// its bytes. Short entries (the common case) cost one byte of overhead; Redis's
/// listpack spends two (encoding and back-length), because it also walks backwards.
#[derive(Clone, Debug)]
struct Packed {
    buf: Box<[u8]>,
}

/// Where a pair sits in the buffer.
struct Slot {
    /// Start of the field's length prefix.
    start: usize,
    /// Start of the value's length prefix.
    value: usize,
    /// One past the value's last byte.
    end: usize,
}

impl Packed {
    fn new() -> Packed {
        Packed {
            buf: vec![0; HEADER].into_boxed_slice(),
        }
    }

    fn len(&self) -> usize {
        let b = &self.buf;
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
    }

    fn set_len(&mut self, len: usize) {
        let len = u32::try_from(len).expect("listpack pair count fits in u32 (1 GiB cap)");
        self.buf[..HEADER].copy_from_slice(&len.to_le_bytes());
    }

    fn iter(&self) -> PackedIter<'_> {
        PackedIter {
            buf: &self.buf,
            pos: HEADER,
            left: self.len(),
        }
    }

    fn find(&self, field: &[u8]) -> Option<Slot> {
        let mut pos = HEADER;
        while pos < self.buf.len() {
            let (name, value) = read_entry(&self.buf, pos);
            let (_, end) = read_entry(&self.buf, value);
            if name == field {
                return Some(Slot {
                    start: pos,
                    value,
                    end,
                });
            }
            pos = end;
        }
        None
    }

    fn value_at(&self, slot: &Slot) -> &[u8] {
        read_entry(&self.buf, slot.value).0
    }

    /// Sets `field` in place or appends the pair. Returns true when the field is new.
    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        let mut encoded = Vec::with_capacity(value.len() + 5);
        if let Some(slot) = self.find(field) {
            write_entry(&mut encoded, value);
            self.splice(slot.value..slot.end, &encoded);
            return false;
        }
        encoded.reserve(field.len() + 5);
        write_entry(&mut encoded, field);
        write_entry(&mut encoded, value);
        let mut buf = std::mem::take(&mut self.buf).into_vec();
        buf.reserve_exact(encoded.len());
        buf.extend_from_slice(&encoded);
        self.buf = buf.into_boxed_slice();
        let len = self.len() + 1;
        self.set_len(len);
        true
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        let Some(slot) = self.find(field) else {
            return false;
        };
        self.splice(slot.start..slot.end, &[]);
        let len = self.len() - 1;
        self.set_len(len);
        true
    }

    /// Replaces `range` of the buffer with `with`, keeping the buffer exactly sized.
    fn splice(&mut self, range: std::ops::Range<usize>, with: &[u8]) {
        if range.len() == with.len() {
            self.buf[range].copy_from_slice(with);
            return;
        }
        let mut buf = Vec::with_capacity(self.buf.len() - range.len() + with.len());
        buf.extend_from_slice(&self.buf[..range.start]);
        buf.extend_from_slice(with);
        buf.extend_from_slice(&self.buf[range.end..]);
        self.buf = buf.into_boxed_slice();
    }
}

/// Appends one entry: varint length, then the bytes.
fn write_entry(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut len = bytes.len();
    while len >= 0x80 {
        out.push((len as u8 & 0x7f) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    out.extend_from_slice(bytes);
}

/// The entry starting at `pos` and the position after it. The buffer is ours, written
/// only by [`write_entry`], so it is always well formed.
fn read_entry(buf: &[u8], mut pos: usize) -> (&[u8], usize) {
    let mut len = 0usize;
    let mut shift = 0;
    loop {
        let byte = buf[pos];
        pos += 1;
        len |= usize::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            break;
        }
        shift += 7;
    }
    (&buf[pos..pos + len], pos + len)
}

/// Iterator over a listpack's pairs.
pub struct PackedIter<'a> {
    buf: &'a [u8],
    pos: usize,
    left: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let (field, value_pos) = read_entry(self.buf, self.pos);
        let (value, end) = read_entry(self.buf, value_pos);
        self.pos = end;
        self.left -= 1;
        Some((field, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn limits(entries: usize, value: usize) -> EncodingLimits {
        EncodingLimits {
            hash_max_listpack_entries: entries,
            hash_max_listpack_value: value,
            ..EncodingLimits::default()
        }
    }

    /// The listpack converts past either limit and never converts back.
    #[test]
    fn converts_at_redis_thresholds() {
        let l = limits(3, 8);
        let mut h = HashValue::new();
        for f in [b"a", b"b", b"c"] {
            assert!(h.set(f, b"12345678", &l));
        }
        assert_eq!(h.encoding(), "listpack");
        assert!(h.set(b"d", b"1", &l));
        assert_eq!(h.encoding(), "hashtable");
        h.remove(b"d");
        h.remove(b"c");
        assert_eq!(h.encoding(), "hashtable");

        let mut h = HashValue::new();
        h.set(b"a", b"123456789", &l);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = HashValue::new();
        h.set(b"123456789", b"", &l);
        assert_eq!(h.encoding(), "hashtable");
    }

    /// Long entries use multi-byte lengths and read back intact.
    #[test]
    fn long_entries_round_trip() {
        let l = limits(512, 100_000);
        let mut h = HashValue::new();
        let big = vec![7u8; 70_000];
        h.set(b"big", &big, &l);
        h.set(b"", b"", &l);
        h.set(&[1u8; 200], b"x", &l);
        assert_eq!(h.encoding(), "listpack");
        assert_eq!(h.get(b"big"), Some(&big[..]));
        assert_eq!(h.get(b""), Some(&b""[..]));
        assert_eq!(h.get(&[1u8; 200]), Some(&b"x"[..]));
        h.set(b"big", b"small", &l);
        assert_eq!(h.get(b"big"), Some(&b"small"[..]));
        assert_eq!(h.len(), 3);
    }

    /// A listpack keeps insertion order, updates in place, and HSCAN returns it whole.
    #[test]
    fn listpack_keeps_insertion_order() {
        let l = EncodingLimits::default();
        let mut h = HashValue::new();
        for f in ["z", "a", "m"] {
            h.set(f.as_bytes(), b"v", &l);
        }
        h.set(b"a", b"w", &l);
        let order: Vec<_> = h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
        assert_eq!(
            order,
            vec![
                (b"z".to_vec(), b"v".to_vec()),
                (b"a".to_vec(), b"w".to_vec()),
                (b"m".to_vec(), b"v".to_vec())
            ]
        );
        let (all, cursor) = h.scan(12345, 1);
        assert_eq!((all.len(), cursor), (3, 0));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Set(u8, Vec<u8>),
        Remove(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0u8..40, proptest::collection::vec(any::<u8>(), 0..12)).prop_map(|(f, v)| Op::Set(f, v)),
            1 => (0u8..40).prop_map(Op::Remove),
        ]
    }

    fn field(n: u8) -> Vec<u8> {
        format!("f{n}").into_bytes()
    }

    proptest! {
        /// Random sets and removes agree with a BTreeMap model across conversions, and
        /// the encoding is listpack exactly while Redis's rule says so.
        #[test]
        fn matches_btreemap_model(ops in proptest::collection::vec(op(), 0..200), entries in 0usize..20, value in 0usize..12) {
            let l = limits(entries, value);
            let mut h = HashValue::new();
            let mut model = BTreeMap::new();
            let mut ever_big = false;
            for op in ops {
                match op {
                    Op::Set(f, v) => {
                        let new = h.set(&field(f), &v, &l);
                        ever_big |= v.len() > value || field(f).len() > value;
                        prop_assert_eq!(new, model.insert(field(f), v).is_none());
                        ever_big |= model.len() > entries;
                    }
                    Op::Remove(f) => {
                        prop_assert_eq!(h.remove(&field(f)), model.remove(&field(f)).is_some());
                    }
                }
                prop_assert_eq!(h.len(), model.len());
                prop_assert_eq!(h.encoding(), if ever_big { "hashtable" } else { "listpack" });
            }
            let mut got: Vec<_> = h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            got.sort();
            let want: Vec<_> = model.clone().into_iter().collect();
            prop_assert_eq!(got, want);
            for (f, v) in &model {
                prop_assert_eq!(h.get(f), Some(&v[..]));
            }
            let sampler = h.sampler();
            prop_assert_eq!(sampler.len(), model.len());
            for i in 0..sampler.len() {
                let (f, v) = sampler.get(i).unwrap();
                prop_assert_eq!(model.get(f).map(|x| &x[..]), Some(v));
            }
        }

        /// A field present for a whole HSCAN of a hashtable is returned, whatever is
        /// added and removed between steps.
        #[test]
        fn scan_returns_every_stable_field(stable in 0usize..200, churn in proptest::collection::vec((any::<bool>(), 0u16..300), 0..100), count in 1usize..30) {
            let l = limits(0, 64);
            let mut h = HashValue::new();
            for i in 0..stable {
                h.set(format!("stable:{i}").as_bytes(), b"v", &l);
            }
            let mut seen = std::collections::HashSet::new();
            let mut cursor = 0;
            let mut churn = churn.into_iter();
            loop {
                let (pairs, next) = h.scan(cursor, count);
                seen.extend(pairs.into_iter().map(|(f, _)| f.to_vec()));
                if let Some((add, n)) = churn.next() {
                    let f = format!("churn:{n}");
                    if add { h.set(f.as_bytes(), b"x", &l); } else { h.remove(f.as_bytes()); }
                }
                if next == 0 { break; }
                cursor = next;
            }
            for i in 0..stable {
                let wanted = format!("stable:{}", i).into_bytes();
                prop_assert!(seen.contains(&wanted));
            }
        }
    }
}
