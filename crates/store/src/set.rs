//! Sets in Redis 7.0's two encodings.
//!
//! A set whose members are all integers (as Redis's `string2ll` reads them: canonical
//! decimal, within i64) and that holds at most `set-max-intset-entries` of them is an
//! `intset`: one sorted buffer of fixed-width integers, 16, 32 or 64 bits each, the width
//! growing when a wider number arrives. IDs and flags stored as sets (tags, followers)
//! cost 2 to 8 bytes a member there. Any other member, or one member too many, converts
//! the set to a `hashtable`, for good (7.0 has no listpack sets).
//!
//! The hashtable is an insertion-ordered `IndexSet`, for the same reasons as hashes (see
//! `hash.rs`): O(1) random members and an SSCAN cursor that walks positions top-down.
//! Both encodings give O(1) access by position, so random picks never walk the set.

use std::borrow::Cow;

use indexmap::IndexSet;
use lodestone_util::number::parse_i64;

use crate::hash::scan_positions;
use crate::EncodingLimits;

/// An intset never holds more than this many members, whatever the limit says (Redis
/// caps it the same way).
const INTSET_MAX_ENTRIES: usize = 1 << 30;

type Table = IndexSet<crate::Key, ahash::RandomState>;

/// A set value.
#[derive(Clone, Debug)]
pub struct SetValue {
    repr: Repr,
}

#[derive(Clone, Debug)]
enum Repr {
    Ints(IntSet),
    Table(Box<Table>),
}

/// One member as stored: an intset hands out numbers, a hashtable bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Member<'_> {
    /// The member's bytes (an integer in decimal).
    pub fn to_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Member::Int(n) => Cow::Owned(n.to_string().into_bytes()),
            Member::Bytes(b) => Cow::Borrowed(b),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.to_bytes().into_owned()
    }
}

impl Default for SetValue {
    fn default() -> SetValue {
        SetValue::new()
    }
}

impl PartialEq for SetValue {
    /// Same members, whatever the encoding or order.
    fn eq(&self, other: &SetValue) -> bool {
        self.len() == other.len() && self.iter().all(|m| other.contains(&m.to_bytes()))
    }
}

impl SetValue {
    /// An empty set (`intset`).
    pub fn new() -> SetValue {
        SetValue {
            repr: Repr::Ints(IntSet::new()),
        }
    }

    /// A set of `members` built by adding them in order under `limits` (the STORE
    /// commands and SPOP's rebuild make their results this way in Redis, so the result
    /// gets the encoding Redis would give it).
    pub fn from_members<'m>(
        members: impl IntoIterator<Item = &'m [u8]>,
        limits: &EncodingLimits,
    ) -> SetValue {
        let mut set = SetValue::new();
        for member in members {
            set.add(member, limits);
        }
        set
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Ints(i) => i.len(),
            Repr::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name OBJECT ENCODING replies with.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Ints(_) => "intset",
            Repr::Table(_) => "hashtable",
        }
    }

    /// Approximate bytes used, for MEMORY USAGE.
    pub fn memory_usage(&self) -> usize {
        match &self.repr {
            Repr::Ints(i) => 16 + i.buf.len(),
            Repr::Table(t) => {
                let sample = t.len().min(16);
                let sampled: usize = t.iter().take(sample).map(|m| m.len()).sum();
                let payload = (sampled * t.len()).checked_div(sample).unwrap_or(0);
                64 + t.capacity() * (8 + 16 + 9) + payload
            }
        }
    }

    /// Adds `member`, converting as Redis does. Returns true when it was not there.
    pub fn add(&mut self, member: &[u8], limits: &EncodingLimits) -> bool {
        match &mut self.repr {
            Repr::Ints(ints) => match parse_i64(member) {
                Some(n) => {
                    if !ints.insert(n) {
                        return false;
                    }
                    let max = limits.set_max_intset_entries.min(INTSET_MAX_ENTRIES);
                    if ints.len() > max {
                        self.convert();
                    }
                    true
                }
                None => {
                    self.convert();
                    self.add(member, limits)
                }
            },
            // Look up first: most adds to a big set repeat a member, and the owned copy
            // an insert needs would be made and freed for nothing.
            Repr::Table(t) => !t.contains(member) && t.insert(member.into()),
        }
    }

    /// Removes `member`; false when it was not there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Ints(ints) => parse_i64(member).is_some_and(|n| ints.remove(n)),
            Repr::Table(t) => {
                let removed = t.swap_remove(member);
                shrink_if_sparse(t, removed);
                removed
            }
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.repr {
            Repr::Ints(ints) => parse_i64(member).is_some_and(|n| ints.find(n).is_ok()),
            Repr::Table(t) => t.contains(member),
        }
    }

    /// The member at `index` (below `len()`): O(1) in both encodings, for random picks.
    pub fn get(&self, index: usize) -> Option<Member<'_>> {
        match &self.repr {
            Repr::Ints(ints) => (index < ints.len()).then(|| Member::Int(ints.get(index))),
            Repr::Table(t) => t.get_index(index).map(|m| Member::Bytes(m)),
        }
    }

    /// Removes and returns the member at `index` (below `len()`), for SPOP.
    pub fn take(&mut self, index: usize) -> Option<Vec<u8>> {
        match &mut self.repr {
            Repr::Ints(ints) => {
                if index >= ints.len() {
                    return None;
                }
                let n = ints.get(index);
                ints.remove_at(index);
                Some(n.to_string().into_bytes())
            }
            Repr::Table(t) => {
                let member = t.swap_remove_index(index).map(|m| m.into_vec());
                shrink_if_sparse(t, member.is_some());
                member
            }
        }
    }

    /// Every member: ascending for an intset (as Redis), table order otherwise.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            set: self,
            next: 0,
            len: self.len(),
        }
    }

    /// One SSCAN step from `cursor` (0 starts): about `count` members and the next
    /// cursor, 0 when complete. An intset is returned whole in one step (as Redis).
    pub fn scan(&self, cursor: u64, count: usize) -> (Vec<Member<'_>>, u64) {
        match &self.repr {
            Repr::Ints(_) => (self.iter().collect(), 0),
            Repr::Table(t) => {
                let (range, next) = scan_positions(t.len(), cursor, count);
                let members = range
                    .rev()
                    .filter_map(|i| t.get_index(i).map(|m| Member::Bytes(m)))
                    .collect();
                (members, next)
            }
        }
    }

    /// Converts an intset into a hashtable (no-op for a hashtable).
    fn convert(&mut self) {
        if let Repr::Ints(ints) = &self.repr {
            let mut table =
                Table::with_capacity_and_hasher(ints.len() + 1, ahash::RandomState::new());
            for i in 0..ints.len() {
                table.insert(ints.get(i).to_string().into_bytes().into());
            }
            self.repr = Repr::Table(Box::new(table));
        }
    }
}

/// Gives memory back once a table is mostly empty (Redis resizes its dict below 10%
/// use). Shrinking keeps positions, so SSCAN cursors stay valid.
fn shrink_if_sparse(table: &mut Table, removed: bool) {
    if removed && table.capacity() > 64 && table.len() * 8 < table.capacity() {
        table.shrink_to_fit();
    }
}

/// Iterator over a set's members.
pub struct Iter<'a> {
    set: &'a SetValue,
    next: usize,
    len: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Member<'a>;

    fn next(&mut self) -> Option<Member<'a>> {
        if self.next >= self.len {
            return None;
        }
        self.next += 1;
        self.set.get(self.next - 1)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.len - self.next;
        (left, Some(left))
    }
}

// ---------------------------------------------------------------------------------
// The intset: sorted fixed-width integers in one buffer.
// ---------------------------------------------------------------------------------

/// Sorted distinct integers in one exact-size buffer: the first byte is the width of
/// every element (2, 4 or 8 bytes), then the elements, little-endian, ascending. The
/// width only grows: a number that needs more bytes re-encodes the whole buffer once,
/// and as it is out of the old range it lands at one end.
#[derive(Clone, Debug)]
struct IntSet {
    buf: Box<[u8]>,
}

/// The width in bytes a number needs.
fn width_of(n: i64) -> usize {
    if i16::try_from(n).is_ok() {
        2
    } else if i32::try_from(n).is_ok() {
        4
    } else {
        8
    }
}

impl IntSet {
    fn new() -> IntSet {
        IntSet {
            buf: vec![2].into_boxed_slice(),
        }
    }

    fn width(&self) -> usize {
        usize::from(self.buf[0])
    }

    fn len(&self) -> usize {
        (self.buf.len() - 1) / self.width()
    }

    fn get(&self, index: usize) -> i64 {
        read_int(&self.buf[1..], self.width(), index)
    }

    /// `Ok(index)` of `n`, or `Err(index)` where it would go.
    fn find(&self, n: i64) -> Result<usize, usize> {
        let width = self.width();
        if width_of(n) > width {
            return Err(if n < 0 { 0 } else { self.len() });
        }
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = (low + high) / 2;
            match self.get(mid).cmp(&n) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(low)
    }

    /// Inserts `n`; false when already there.
    fn insert(&mut self, n: i64) -> bool {
        let Err(index) = self.find(n) else {
            return false;
        };
        let width = self.width().max(width_of(n));
        let mut buf = Vec::with_capacity(1 + (self.len() + 1) * width);
        buf.push(width as u8);
        for i in 0..index {
            push_int(&mut buf, self.get(i), width);
        }
        push_int(&mut buf, n, width);
        for i in index..self.len() {
            push_int(&mut buf, self.get(i), width);
        }
        self.buf = buf.into_boxed_slice();
        true
    }

    fn remove(&mut self, n: i64) -> bool {
        match self.find(n) {
            Ok(index) => {
                self.remove_at(index);
                true
            }
            Err(_) => false,
        }
    }

    fn remove_at(&mut self, index: usize) {
        let width = self.width();
        let start = 1 + index * width;
        let mut buf = Vec::with_capacity(self.buf.len() - width);
        buf.extend_from_slice(&self.buf[..start]);
        buf.extend_from_slice(&self.buf[start + width..]);
        self.buf = buf.into_boxed_slice();
    }
}

fn read_int(data: &[u8], width: usize, index: usize) -> i64 {
    let at = index * width;
    match width {
        2 => i64::from(i16::from_le_bytes([data[at], data[at + 1]])),
        4 => {
            let mut b = [0u8; 4];
            b.copy_from_slice(&data[at..at + 4]);
            i64::from(i32::from_le_bytes(b))
        }
        _ => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&data[at..at + 8]);
            i64::from_le_bytes(b)
        }
    }
}

fn push_int(buf: &mut Vec<u8>, n: i64, width: usize) {
    buf.extend_from_slice(&n.to_le_bytes()[..width]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn limits(entries: usize) -> EncodingLimits {
        EncodingLimits {
            set_max_intset_entries: entries,
            ..EncodingLimits::default()
        }
    }

    /// Widths grow 16 -> 32 -> 64 bits, order stays ascending, members read back exact.
    #[test]
    fn intset_upgrades_width() {
        let l = limits(512);
        let mut s = SetValue::new();
        for n in [
            "5",
            "-3",
            "70000",
            "-9223372036854775808",
            "9223372036854775807",
            "0",
        ] {
            assert!(s.add(n.as_bytes(), &l));
        }
        assert!(!s.add(b"70000", &l));
        assert_eq!(s.encoding(), "intset");
        let got: Vec<Vec<u8>> = s.iter().map(|m| m.to_vec()).collect();
        let want: Vec<&[u8]> = vec![
            b"-9223372036854775808",
            b"-3",
            b"0",
            b"5",
            b"70000",
            b"9223372036854775807",
        ];
        assert_eq!(got, want);
        assert!(s.contains(b"-3"));
        assert!(!s.contains(b"-03"));
        assert!(!s.contains(b"40000"));
        assert!(s.remove(b"70000"));
        assert_eq!(s.len(), 5);
    }

    /// Non-canonical integers and numbers past i64 are strings: they convert the set.
    #[test]
    fn non_integers_convert() {
        let l = limits(512);
        for member in ["01", "+1", " 1", "1.0", "9223372036854775808", "abc", ""] {
            let mut s = SetValue::new();
            s.add(b"1", &l);
            assert_eq!(s.encoding(), "intset");
            s.add(member.as_bytes(), &l);
            assert_eq!(s.encoding(), "hashtable", "{member}");
            assert!(s.contains(member.as_bytes()));
            assert!(s.contains(b"1"));
        }
        let mut s = SetValue::new();
        for i in 0..4 {
            s.add(i.to_string().as_bytes(), &limits(3));
        }
        assert_eq!(s.encoding(), "hashtable");
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(Vec<u8>),
        Remove(Vec<u8>),
        Take(usize),
    }

    fn member() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            6 => (-40i64..40).prop_map(|n| n.to_string().into_bytes()),
            2 => prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(40000), Just(-3_000_000_000)]
                .prop_map(|n| n.to_string().into_bytes()),
            1 => proptest::collection::vec(any::<u8>(), 0..4),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => member().prop_map(Op::Add),
            2 => member().prop_map(Op::Remove),
            1 => (0usize..100).prop_map(Op::Take),
        ]
    }

    proptest! {
        /// Random adds, removes and pops agree with a BTreeSet model across
        /// conversions; the encoding is intset exactly while Redis's rule says so, and
        /// an intset iterates in ascending order.
        #[test]
        fn matches_btreeset_model(ops in proptest::collection::vec(op(), 0..200), entries in 0usize..30) {
            let l = limits(entries);
            let mut s = SetValue::new();
            let mut model = BTreeSet::new();
            let mut converted = false;
            for op in ops {
                match op {
                    Op::Add(m) => {
                        converted |= parse_i64(&m).is_none();
                        prop_assert_eq!(s.add(&m, &l), model.insert(m));
                        converted |= model.len() > entries;
                    }
                    Op::Remove(m) => prop_assert_eq!(s.remove(&m), model.remove(&m)),
                    Op::Take(i) => {
                        if s.is_empty() { continue; }
                        let m = s.take(i % s.len()).unwrap();
                        prop_assert!(model.remove(&m));
                    }
                }
                prop_assert_eq!(s.len(), model.len());
                prop_assert_eq!(s.encoding(), if converted { "hashtable" } else { "intset" });
            }
            let got: Vec<Vec<u8>> = s.iter().map(|m| m.to_vec()).collect();
            if s.encoding() == "intset" {
                let nums: Vec<i64> = got.iter().map(|m| parse_i64(m).unwrap()).collect();
                prop_assert!(nums.windows(2).all(|w| w[0] < w[1]));
            }
            let got: BTreeSet<Vec<u8>> = got.into_iter().collect();
            prop_assert_eq!(&got, &model);
            for m in &model {
                prop_assert!(s.contains(m));
            }
            let rebuilt = SetValue::from_members(model.iter().map(|m| &m[..]), &l);
            prop_assert!(rebuilt == s);
        }

        /// A member present for a whole SSCAN of a hashtable is returned, whatever is
        /// added and removed between steps.
        #[test]
        fn scan_returns_every_stable_member(stable in 0usize..200, churn in proptest::collection::vec((any::<bool>(), 0u16..300), 0..100), count in 1usize..30) {
            let l = limits(512);
            let mut s = SetValue::new();
            s.add(b"x", &l);
            for i in 0..stable {
                s.add(format!("stable:{i}").as_bytes(), &l);
            }
            let mut seen = std::collections::HashSet::new();
            let mut cursor = 0;
            let mut churn = churn.into_iter();
            loop {
                let (members, next) = s.scan(cursor, count);
                seen.extend(members.into_iter().map(|m| m.to_vec()));
                if let Some((add, n)) = churn.next() {
                    let m = format!("churn:{n}");
                    if add { s.add(m.as_bytes(), &l); } else { s.remove(m.as_bytes()); }
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
