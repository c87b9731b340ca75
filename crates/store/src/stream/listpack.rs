//! Redis's listpack format, the byte layout of one stream node.
//!
//! Stream nodes keep this exact format (not our list nodes' own) for two reasons: an RDB
//! file or DUMP payload carries each node's listpack as raw bytes, so nodes can be
//! written and read without conversion; and Redis closes a node when its listpack
//! reaches `stream-node-max-bytes`, so computing the same sizes gives the same node
//! boundaries, which `~` trimming and XINFO expose.
//!
//! Layout: a 6-byte header (total bytes as u32 LE, element count as u16 LE, 65535 when
//! it does not fit), the elements, then a 0xFF terminator. An element is its encoding
//! and data followed by "backlen", the size of the encoding and data written in 7-bit
//! groups so it can be read from its last byte backwards.

use crate::list::Elem;

pub const HEADER: usize = 6;
const TERMINATOR: u8 = 0xFF;
/// The element count stored when the real one does not fit in 16 bits.
const UNKNOWN_COUNT: u16 = u16::MAX;

/// A new listpack with no elements, with room for `capacity` bytes.
pub fn new(capacity: usize) -> Vec<u8> {
    let mut lp = Vec::with_capacity(capacity.max(HEADER + 1));
    lp.extend_from_slice(&[0; HEADER]);
    lp.push(TERMINATOR);
    set_header(&mut lp, 0);
    lp
}

fn set_header(lp: &mut [u8], count: usize) {
    let total = lp.len() as u32;
    lp[0..4].copy_from_slice(&total.to_le_bytes());
    let count = u16::try_from(count)
        .ok()
        .filter(|c| *c < UNKNOWN_COUNT)
        .unwrap_or(UNKNOWN_COUNT);
    lp[4..6].copy_from_slice(&count.to_le_bytes());
}

/// The element count from the header (`None` when it is too large to be stored there).
fn header_count(lp: &[u8]) -> Option<usize> {
    let count = u16::from_le_bytes([lp[4], lp[5]]);
    (count != UNKNOWN_COUNT).then_some(count as usize)
}

/// Encodes one element (without its backlen) into `buf`.
fn encode_into(buf: &mut Vec<u8>, value: Elem) {
    match value {
        Elem::Int(v) => encode_int(buf, v),
        Elem::Bytes(s) => match string_as_int(s) {
            Some(v) => encode_int(buf, v),
            None => encode_str(buf, s),
        },
    }
}

/// A string is stored as an integer when it reads back identically (Redis's rule).
fn string_as_int(s: &[u8]) -> Option<i64> {
    lodestone_util::number::parse_i64(s)
}

fn encode_int(buf: &mut Vec<u8>, v: i64) {
    if (0..=127).contains(&v) {
        buf.push(v as u8);
    } else if (-4096..=4095).contains(&v) {
        let u = (v as u64) & 0x1FFF;
        buf.push(0xC0 | (u >> 8) as u8);
        buf.push(u as u8);
    } else if (-32768..=32767).contains(&v) {
        buf.push(0xF1);
        buf.extend_from_slice(&(v as i16).to_le_bytes());
    } else if (-8_388_608..=8_388_607).contains(&v) {
        buf.push(0xF2);
        buf.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
    } else if i32::try_from(v).is_ok() {
        buf.push(0xF3);
        buf.extend_from_slice(&(v as i32).to_le_bytes());
    } else {
        buf.push(0xF4);
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

fn encode_str(buf: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 64 {
        buf.push(0x80 | len as u8);
    } else if len < 4096 {
        buf.push(0xE0 | (len >> 8) as u8);
        buf.push(len as u8);
    } else {
        buf.push(0xF0);
        buf.extend_from_slice(&(len as u32).to_le_bytes());
    }
    buf.extend_from_slice(s);
}

/// Appends the backlen of an element whose encoding and data take `len` bytes.
fn push_backlen(buf: &mut Vec<u8>, len: usize) {
    let l = len as u64;
    let groups = match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    };
    for i in (0..groups).rev() {
        let bits = ((l >> (7 * i)) & 127) as u8;
        // Every byte but the leftmost has its high bit set: "more to the left".
        buf.push(if i == groups - 1 { bits } else { bits | 128 });
    }
}

/// An element fully encoded (encoding, data, backlen).
pub fn encoded(value: Elem) -> Vec<u8> {
    let mut buf = Vec::with_capacity(16);
    encode_into(&mut buf, value);
    let len = buf.len();
    push_backlen(&mut buf, len);
    buf
}

/// The bytes an element takes, without building it.
pub fn encoded_len(value: Elem) -> usize {
    encoded(value).len()
}

/// Appends one element.
pub fn append(lp: &mut Vec<u8>, value: Elem) {
    let count = header_count(lp).map(|c| c + 1);
    let end = lp.len() - 1;
    lp.truncate(end);
    encode_into(lp, value);
    let len = lp.len() - end;
    push_backlen(lp, len);
    lp.push(TERMINATOR);
    let count = count.unwrap_or_else(|| element_count(lp));
    set_header(lp, count);
}

/// Replaces the element at `at` with an integer (counters and flags), keeping the
/// offsets before it; the elements after it shift when the size changes.
pub fn replace_int(lp: &mut Vec<u8>, at: usize, value: i64) {
    let (_, next) = decode(lp, at);
    let new = encoded(Elem::Int(value));
    lp.splice(at..next, new);
    let count = header_count(lp).unwrap_or_else(|| element_count(lp));
    set_header(lp, count);
}

/// Counts the elements by walking them (when the header cannot hold the count).
fn element_count(lp: &[u8]) -> usize {
    let mut at = HEADER;
    let mut count = 0;
    while at < lp.len() && lp[at] != TERMINATOR {
        at = decode(lp, at).1;
        count += 1;
    }
    count
}

/// The offset of the first element (equal to the terminator's when there is none).
pub fn first(_lp: &[u8]) -> usize {
    HEADER
}

/// Whether `at` is the terminator (no element there).
pub fn at_end(lp: &[u8], at: usize) -> bool {
    at >= lp.len() - 1
}

/// The offset of the terminator.
pub fn end(lp: &[u8]) -> usize {
    lp.len() - 1
}

/// The size of the encoding and data of the element at `at`.
fn entry_size(lp: &[u8], at: usize) -> usize {
    let b = lp[at];
    if b & 0x80 == 0 {
        1
    } else if b & 0xC0 == 0x80 {
        1 + (b & 0x3F) as usize
    } else if b & 0xE0 == 0xC0 {
        2
    } else if b & 0xF0 == 0xE0 {
        2 + ((((b & 0x0F) as usize) << 8) | lp[at + 1] as usize)
    } else {
        match b {
            0xF1 => 3,
            0xF2 => 4,
            0xF3 => 5,
            0xF4 => 9,
            _ => {
                let len = u32::from_le_bytes([lp[at + 1], lp[at + 2], lp[at + 3], lp[at + 4]]);
                5 + len as usize
            }
        }
    }
}

fn backlen_size(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

/// The element at `at` and the offset of the next one.
pub fn decode(lp: &[u8], at: usize) -> (Elem<'_>, usize) {
    let size = entry_size(lp, at);
    let next = at + size + backlen_size(size);
    let b = lp[at];
    let value = if b & 0x80 == 0 {
        Elem::Int(i64::from(b))
    } else if b & 0xC0 == 0x80 {
        Elem::Bytes(&lp[at + 1..at + size])
    } else if b & 0xE0 == 0xC0 {
        let raw = (((b & 0x1F) as u16) << 8) | lp[at + 1] as u16;
        // Sign-extend the 13-bit value.
        Elem::Int(i64::from(((raw << 3) as i16) >> 3))
    } else if b & 0xF0 == 0xE0 {
        Elem::Bytes(&lp[at + 2..at + size])
    } else {
        match b {
            0xF1 => Elem::Int(i64::from(i16::from_le_bytes([lp[at + 1], lp[at + 2]]))),
            0xF2 => {
                let raw = i32::from_le_bytes([0, lp[at + 1], lp[at + 2], lp[at + 3]]);
                Elem::Int(i64::from(raw >> 8))
            }
            0xF3 => Elem::Int(i64::from(i32::from_le_bytes([
                lp[at + 1],
                lp[at + 2],
                lp[at + 3],
                lp[at + 4],
            ]))),
            0xF4 => {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(&lp[at + 1..at + 9]);
                Elem::Int(i64::from_le_bytes(bytes))
            }
            _ => Elem::Bytes(&lp[at + 5..at + size]),
        }
    };
    (value, next)
}

/// The integer at `at` (stream metadata is always stored as integers) and the next
/// offset. A string there (a corrupt node) reads as 0.
pub fn int_at(lp: &[u8], at: usize) -> (i64, usize) {
    match decode(lp, at) {
        (Elem::Int(v), next) => (v, next),
        (Elem::Bytes(b), next) => (string_as_int(b).unwrap_or(0), next),
    }
}

/// The offset of the element that ends right before `at` (an element's offset or the
/// terminator's). `at` must not be the first element.
pub fn prev(lp: &[u8], at: usize) -> usize {
    let mut p = at - 1;
    let mut len: usize = 0;
    let mut shift = 0;
    loop {
        len |= ((lp[p] & 127) as usize) << shift;
        if lp[p] & 128 == 0 {
            break;
        }
        shift += 7;
        p -= 1;
    }
    p - len
}

/// Checks that `lp` is a well-formed listpack (for bytes read from files): every
/// element fits, the header's size is right. Does not check stream-level structure.
pub fn validate(lp: &[u8]) -> bool {
    if lp.len() < HEADER + 1 || lp[lp.len() - 1] != TERMINATOR {
        return false;
    }
    let total = u32::from_le_bytes([lp[0], lp[1], lp[2], lp[3]]) as usize;
    if total != lp.len() {
        return false;
    }
    let mut at = HEADER;
    let mut count = 0usize;
    while at < lp.len() - 1 {
        let b = lp[at];
        let needs = match b {
            _ if b & 0xE0 == 0xC0 || b & 0xF0 == 0xE0 => 2,
            0xF1 => 3,
            0xF2 => 4,
            0xF3 | 0xF0 => 5,
            0xF4 => 9,
            0xF5..=0xFF => return false,
            _ => 1,
        };
        if at + needs > lp.len() - 1 {
            return false;
        }
        let size = entry_size(lp, at);
        let next = at + size + backlen_size(size);
        if next > lp.len() - 1 {
            return false;
        }
        // The stored backlen must be exactly the encoding of this element's size.
        let mut expected = Vec::with_capacity(5);
        push_backlen(&mut expected, size);
        if lp[at + size..next] != expected[..] {
            return false;
        }
        at = next;
        count += 1;
    }
    header_count(lp).is_none_or(|c| c == count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(values: &[Elem]) {
        let mut lp = new(0);
        for v in values {
            append(&mut lp, *v);
        }
        assert!(validate(&lp));
        let mut at = first(&lp);
        let mut offsets = Vec::new();
        for v in values {
            offsets.push(at);
            let (got, next) = decode(&lp, at);
            let want = match *v {
                Elem::Bytes(b) => match string_as_int(b) {
                    Some(n) => Elem::Int(n),
                    None => Elem::Bytes(b),
                },
                other => other,
            };
            assert_eq!(got, want);
            at = next;
        }
        assert!(at_end(&lp, at));
        for off in offsets.iter().rev() {
            at = prev(&lp, at);
            assert_eq!(at, *off);
        }
    }

    #[test]
    fn integers_and_strings_round_trip() {
        let big = vec![b'x'; 70_000];
        let mid = vec![b'y'; 300];
        roundtrip(&[
            Elem::Int(0),
            Elem::Int(127),
            Elem::Int(128),
            Elem::Int(-1),
            Elem::Int(-4096),
            Elem::Int(4095),
            Elem::Int(4096),
            Elem::Int(-32768),
            Elem::Int(32767),
            Elem::Int(8_388_607),
            Elem::Int(-8_388_608),
            Elem::Int(8_388_608),
            Elem::Int(i32::MIN as i64),
            Elem::Int(i64::MAX),
            Elem::Int(i64::MIN),
            Elem::Bytes(b""),
            Elem::Bytes(b"hello"),
            Elem::Bytes(b"12345"),
            Elem::Bytes(b"007"),
            Elem::Bytes(&mid),
            Elem::Bytes(&big),
        ]);
    }

    #[test]
    fn encodings_match_redis_sizes() {
        // Sizes from listpack.c: 7-bit uint in 1 byte, 13-bit in 2, then 16/24/32/64.
        assert_eq!(encoded_len(Elem::Int(5)), 2);
        assert_eq!(encoded_len(Elem::Int(-5)), 3);
        assert_eq!(encoded_len(Elem::Int(5000)), 4);
        assert_eq!(encoded_len(Elem::Int(1 << 20)), 5);
        assert_eq!(encoded_len(Elem::Int(1 << 30)), 6);
        assert_eq!(encoded_len(Elem::Int(1 << 40)), 10);
        assert_eq!(encoded_len(Elem::Bytes(b"abc")), 5);
        assert_eq!(encoded_len(Elem::Bytes(&[b'a'; 100])), 103);
        let mut lp = new(0);
        append(&mut lp, Elem::Bytes(b"abc"));
        assert_eq!(lp.len(), 6 + 5 + 1);
        assert_eq!(&lp[0..4], &12u32.to_le_bytes());
    }

    #[test]
    fn replace_changes_size() {
        let mut lp = new(0);
        append(&mut lp, Elem::Int(1));
        append(&mut lp, Elem::Bytes(b"tail"));
        let at = first(&lp);
        replace_int(&mut lp, at, 100_000);
        assert!(validate(&lp));
        let (v, next) = decode(&lp, first(&lp));
        assert_eq!(v, Elem::Int(100_000));
        assert_eq!(decode(&lp, next).0, Elem::Bytes(b"tail"));
    }
}
