//! The `listpack` encoding of small sorted sets: one byte buffer of member/score pairs
//! in `(score, member)` order.
//!
//! Each entry is `varint(member length) | member | score`, where the score is a varint
//! too: an even value is a zigzag-encoded integer shifted left by one (integral scores
//! up to 2^53 in magnitude, which is what most applications store: timestamps, counts,
//! ranks); an odd value above 1 is a short decimal `m / 10^k` (k = 1..7, |m| < 2^53:
//! prices, 1.5, 0.25), and the value 1 announces the 8 bytes of an `f64` that follow
//! (other fractions, infinities). A decimal decodes exactly: `m` and `10^k` are exact
//! doubles and one IEEE division rounds correctly, so it yields the double nearest the
//! decimal, which is the stored score (checked when encoding). A typical entry costs its
//! member plus 2-4 bytes, a little less than Redis's listpack (which spends a
//! back-length byte per element, two per pair, and writes fractions as text).
//!
//! Everything is a linear scan, as in Redis: the encoding only holds up to
//! `zset-max-listpack-entries` pairs (128 by default). The buffer is kept at its exact
//! size so thousands of small sets waste nothing.

/// Largest integer magnitude stored in the integer form (every integer up to it is an
/// exact `f64`).
const MAX_EXACT_INT: f64 = 9_007_199_254_740_992.0;
const FLOAT_TAG: u64 = 1;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Decodes a varint at `pos`; the buffer is only ever written by [`put_varint`].
fn get_varint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    while let Some(&b) = buf.get(*pos) {
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    v
}

/// Whether `score` is stored in the integer form: integral and exact. -0.0 is stored as
/// 0, so it reads back as 0: Redis's listpack stores integral scores as integers too
/// and loses the sign of zero the same way (a `skiplist` set keeps it).
fn as_small_int(score: f64) -> Option<i64> {
    let integral = score.fract() == 0.0 && score.abs() <= MAX_EXACT_INT;
    integral.then_some(score as i64)
}

/// Powers of ten for the decimal form, all exact doubles.
const POW10: [f64; 8] = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7];

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

/// `score` as `m / 10^k` with the fewest decimals, if it is exactly such a decimal.
fn as_decimal(score: f64) -> Option<(i64, u64)> {
    (1..POW10.len()).find_map(|k| {
        let m = (score * POW10[k]).round();
        let exact = m.abs() < MAX_EXACT_INT && m / POW10[k] == score;
        exact.then_some((m as i64, k as u64))
    })
}

fn put_score(out: &mut Vec<u8>, score: f64) {
    if let Some(n) = as_small_int(score) {
        put_varint(out, zigzag(n) << 1);
    } else if let Some((m, k)) = as_decimal(score) {
        put_varint(out, (((zigzag(m) << 3) | k) << 1) | 1);
    } else {
        put_varint(out, FLOAT_TAG);
        out.extend_from_slice(&score.to_le_bytes());
    }
}

fn get_score(buf: &[u8], pos: &mut usize) -> f64 {
    let v = get_varint(buf, pos);
    if v == FLOAT_TAG {
        let mut bytes = [0u8; 8];
        if let Some(raw) = buf.get(*pos..*pos + 8) {
            bytes.copy_from_slice(raw);
        }
        *pos += 8;
        return f64::from_le_bytes(bytes);
    }
    if v & 1 == 1 {
        let w = v >> 1;
        return unzigzag(w >> 3) as f64 / POW10[(w & 7) as usize];
    }
    unzigzag(v >> 1) as f64
}

/// The encoded size of one entry.
fn entry_size(member: &[u8], score: f64) -> usize {
    let mut scratch = Vec::with_capacity(16);
    put_varint(&mut scratch, member.len() as u64);
    put_score(&mut scratch, score);
    scratch.len() + member.len()
}

/// One decoded entry and where it sits in the buffer.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    pub member: &'a [u8],
    pub score: f64,
    pub start: usize,
    pub end: usize,
}

/// Decodes the entry starting at `pos`.
fn entry_at(buf: &[u8], start: usize) -> Entry<'_> {
    let mut pos = start;
    let len = get_varint(buf, &mut pos) as usize;
    let member_end = (pos + len).min(buf.len());
    let member = &buf[pos..member_end];
    pos = member_end;
    let score = get_score(buf, &mut pos);
    Entry {
        member,
        score,
        start,
        end: pos,
    }
}

/// Small sorted set: pairs packed in one buffer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Packed {
    buf: Vec<u8>,
    len: usize,
}

impl Packed {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn iter(&self) -> PackedIter<'_> {
        PackedIter {
            buf: &self.buf,
            pos: 0,
        }
    }

    /// Start offsets of every entry, for walks backwards or from a rank.
    pub fn offsets(&self) -> Vec<usize> {
        self.iter().map(|e| e.start).collect()
    }

    pub fn entry(&self, start: usize) -> Entry<'_> {
        entry_at(&self.buf, start)
    }

    /// The entry of `member` and its rank.
    pub fn find(&self, member: &[u8]) -> Option<(usize, Entry<'_>)> {
        self.iter().enumerate().find(|(_, e)| e.member == member)
    }

    /// Inserts a pair whose member is not present, at its place in the order.
    pub fn insert(&mut self, member: &[u8], score: f64) {
        let at = self
            .iter()
            .find(|e| super::tree::compare(e.score, e.member, score, member).is_gt())
            .map_or(self.buf.len(), |e| e.start);
        let mut encoded = Vec::with_capacity(entry_size(member, score));
        put_varint(&mut encoded, member.len() as u64);
        encoded.extend_from_slice(member);
        put_score(&mut encoded, score);
        self.buf.reserve_exact(encoded.len());
        self.buf.splice(at..at, encoded);
        self.len += 1;
    }

    /// Appends a pair known to sort after every present one (building from sorted
    /// input).
    pub fn push_sorted(&mut self, member: &[u8], score: f64) {
        put_varint(&mut self.buf, member.len() as u64);
        self.buf.extend_from_slice(member);
        put_score(&mut self.buf, score);
        self.len += 1;
    }

    /// Drops spare capacity once a set is built.
    pub fn shrink(&mut self) {
        self.buf.shrink_to_fit();
    }

    /// Removes the entries in bytes `start..end` holding `count` pairs.
    pub fn remove_span(&mut self, start: usize, end: usize, count: usize) {
        self.buf.drain(start..end);
        self.len -= count;
        if self.buf.capacity() > self.buf.len() + 64 {
            self.buf.shrink_to_fit();
        }
    }

    pub fn memory_usage(&self) -> usize {
        self.buf.capacity()
    }
}

/// Walks a [`Packed`] set front to back.
pub struct PackedIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let entry = entry_at(self.buf, self.pos);
        self.pos = entry.end;
        Some(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scores of every kind survive the packed form bit for bit.
    #[test]
    fn scores_round_trip() {
        let scores = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            1.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            MAX_EXACT_INT,
            -MAX_EXACT_INT,
            MAX_EXACT_INT * 2.0,
            1e300,
            5e-324,
            i64::MAX as f64,
            0.1,
            -2.75,
            0.1 + 0.2,
            123.4567,
            1e-7,
            -1e-8,
            4503599627370495.5,
        ];
        for score in scores {
            let mut p = Packed::default();
            p.insert(b"m", score);
            let e = p.iter().next().expect("one entry");
            let expected = if score == 0.0 { 0.0 } else { score };
            assert_eq!(e.score.to_bits(), expected.to_bits(), "{score}");
            assert_eq!(e.member, b"m");
        }
    }

    /// Short decimals take the 2-4 byte form, not the 9-byte raw double.
    #[test]
    fn short_decimals_are_compact() {
        for (score, most) in [(1.5, 2), (0.25, 2), (-19.99, 3), (0.1, 2)] {
            let mut out = Vec::new();
            put_score(&mut out, score);
            assert!(out.len() <= most, "{score}: {} bytes", out.len());
            let mut pos = 0;
            assert_eq!(get_score(&out, &mut pos).to_bits(), score.to_bits());
        }
    }

    proptest::proptest! {
        /// Every double reads back bit for bit (zero's sign aside), whatever form it took.
        #[test]
        fn any_score_round_trips(bits in proptest::prelude::any::<u64>(), k in 0usize..8, m in -1_000_000_000i64..1_000_000_000) {
            for score in [f64::from_bits(bits), m as f64 / POW10[k]] {
                if score.is_nan() || score == 0.0 {
                    continue;
                }
                let mut out = Vec::new();
                put_score(&mut out, score);
                let mut pos = 0;
                proptest::prop_assert_eq!(get_score(&out, &mut pos).to_bits(), score.to_bits());
                proptest::prop_assert_eq!(pos, out.len());
            }
        }
    }
}
