//! The byte format of one packed node: a run of entries, each readable from either end.
//!
//! Small lists are most lists, and a pointer per element costs more than the element, so
//! a node keeps its elements back to back in one buffer, as Redis's listpack does. Each
//! entry is a header, a payload, and a back-length:
//!
//! ```text
//! [header][payload][back-length]
//! ```
//!
//! - Integers written in canonical decimal (what `string2ll` accepts, so they print back
//!   byte for byte) are stored as numbers in 1 to 9 bytes: 0..=127 is the header itself.
//! - Other strings have a length header of 1, 2, 5 or 9 bytes, then their bytes.
//! - The back-length is the size of header plus payload in 7-bit groups, most
//!   significant first; every byte but the first has its top bit set, so a reader walking
//!   backwards knows whether another group precedes. Entries under 128 bytes pay one
//!   byte for it.
//!
//! Header bytes:
//!
//! | header       | meaning                                         |
//! |--------------|-------------------------------------------------|
//! | `0xxxxxxx`   | integer 0..=127                                 |
//! | `10llllll`   | string of 0..=63 bytes                          |
//! | `110lllll` b | string of up to 8191 bytes (13-bit length)      |
//! | `1110vvvv` b | integer -2048..=2047 (12-bit two's complement)  |
//! | `0xF0`..`0xF3` | integer in 2, 3, 4 or 8 little-endian bytes   |
//! | `0xF4` / `0xF5` | string with a 4- or 8-byte little-endian length |

use std::borrow::Cow;

/// One element as stored: a number, or bytes borrowed from the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl<'a> Elem<'a> {
    /// The element's bytes (integers printed in decimal, as clients wrote them).
    pub fn as_bytes(&self) -> Cow<'a, [u8]> {
        match *self {
            Elem::Int(n) => Cow::Owned(n.to_string().into_bytes()),
            Elem::Bytes(b) => Cow::Borrowed(b),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.as_bytes().into_owned()
    }

    /// Whether the element equals the value `needle` was built from.
    pub fn matches(&self, needle: &Needle) -> bool {
        match *self {
            Elem::Int(n) => needle.int == Some(n),
            Elem::Bytes(b) => needle.int.is_none() && b == needle.bytes,
        }
    }
}

/// A value to look for, classified once: an element stored as a number equals it only if
/// the value is that number's canonical decimal, and vice versa.
#[derive(Clone, Copy, Debug)]
pub struct Needle<'a> {
    bytes: &'a [u8],
    int: Option<i64>,
}

impl<'a> Needle<'a> {
    pub fn new(bytes: &'a [u8]) -> Needle<'a> {
        Needle {
            bytes,
            int: canonical_int(bytes),
        }
    }
}

/// The integer `bytes` spell if they are a canonical decimal (no sign but `-`, no leading
/// zero, no `-0`): only those may be stored as numbers, or they would not print back
/// identically.
fn canonical_int(bytes: &[u8]) -> Option<i64> {
    lodestone_util::number::parse_i64(bytes)
}

const TAG_I16: u8 = 0xF0;
const TAG_I24: u8 = 0xF1;
const TAG_I32: u8 = 0xF2;
const TAG_I64: u8 = 0xF3;
const TAG_STR32: u8 = 0xF4;
const TAG_STR64: u8 = 0xF5;

/// An element ready to be written: its header, payload and back-length.
pub struct Encoded<'a> {
    head: [u8; 9],
    head_len: usize,
    payload: &'a [u8],
    back: [u8; 10],
    back_len: usize,
}

impl<'a> Encoded<'a> {
    pub fn new(value: &'a [u8]) -> Encoded<'a> {
        let mut head = [0u8; 9];
        let (head_len, payload) = match canonical_int(value) {
            Some(n) => (int_header(n, &mut head), &[][..]),
            None => (str_header(value.len(), &mut head), value),
        };
        let mut back = [0u8; 10];
        let back_len = write_back_len(head_len + payload.len(), &mut back);
        Encoded {
            head,
            head_len,
            payload,
            back,
            back_len,
        }
    }

    /// Bytes the entry takes in a node.
    pub fn len(&self) -> usize {
        self.head_len + self.payload.len() + self.back_len
    }

    /// Writes the entry into `dst`, which must be exactly [`Self::len`] bytes.
    pub fn write(&self, dst: &mut [u8]) {
        let (head, rest) = dst.split_at_mut(self.head_len);
        head.copy_from_slice(&self.head[..self.head_len]);
        let (payload, back) = rest.split_at_mut(self.payload.len());
        payload.copy_from_slice(self.payload);
        back.copy_from_slice(&self.back[..self.back_len]);
    }
}

/// Writes the smallest integer header for `n`; returns its length.
fn int_header(n: i64, out: &mut [u8; 9]) -> usize {
    if (0..=127).contains(&n) {
        out[0] = n as u8;
        return 1;
    }
    if (-2048..=2047).contains(&n) {
        let v = (n as u16) & 0x0FFF;
        out[0] = 0xE0 | (v >> 8) as u8;
        out[1] = v as u8;
        return 2;
    }
    let bytes = n.to_le_bytes();
    let (tag, width) = if i16::try_from(n).is_ok() {
        (TAG_I16, 2)
    } else if (-(1 << 23)..(1 << 23)).contains(&n) {
        (TAG_I24, 3)
    } else if i32::try_from(n).is_ok() {
        (TAG_I32, 4)
    } else {
        (TAG_I64, 8)
    };
    out[0] = tag;
    out[1..=width].copy_from_slice(&bytes[..width]);
    1 + width
}

/// Writes the length header of a `len`-byte string; returns its length.
fn str_header(len: usize, out: &mut [u8; 9]) -> usize {
    if len < 64 {
        out[0] = 0x80 | len as u8;
        1
    } else if len < 8192 {
        out[0] = 0xC0 | (len >> 8) as u8;
        out[1] = len as u8;
        2
    } else if let Ok(len) = u32::try_from(len) {
        out[0] = TAG_STR32;
        out[1..5].copy_from_slice(&len.to_le_bytes());
        5
    } else {
        out[0] = TAG_STR64;
        out[1..9].copy_from_slice(&(len as u64).to_le_bytes());
        9
    }
}

/// Writes `len` as a back-length (see the module note); returns its size.
fn write_back_len(len: usize, out: &mut [u8; 10]) -> usize {
    let size = back_len_size(len);
    for (i, byte) in out[..size].iter_mut().enumerate() {
        let group = ((len >> (7 * (size - 1 - i))) & 0x7F) as u8;
        *byte = if i == 0 { group } else { group | 0x80 };
    }
    size
}

/// Bytes the back-length of an entry of `len` bytes (header plus payload) takes.
fn back_len_size(len: usize) -> usize {
    let bits = usize::BITS - len.leading_zeros();
    (bits as usize).div_ceil(7).max(1)
}

/// Decodes the entry starting at `at`; returns it and where the next one starts.
pub fn decode(buf: &[u8], at: usize) -> (Elem<'_>, usize) {
    let (elem, body_end) = decode_body(buf, at);
    (elem, body_end + back_len_size(body_end - at))
}

/// Decodes header and payload at `at`; returns the element and the end of its payload.
fn decode_body(buf: &[u8], at: usize) -> (Elem<'_>, usize) {
    let h = buf[at];
    match h {
        0x00..=0x7F => (Elem::Int(i64::from(h)), at + 1),
        0x80..=0xBF => bytes_at(buf, at + 1, usize::from(h & 0x3F)),
        0xC0..=0xDF => {
            let len = (usize::from(h & 0x1F) << 8) | usize::from(buf[at + 1]);
            bytes_at(buf, at + 2, len)
        }
        0xE0..=0xEF => {
            let v = (u16::from(h & 0x0F) << 8) | u16::from(buf[at + 1]);
            // Sign-extend the 12-bit value.
            let n = i64::from(((v << 4) as i16) >> 4);
            (Elem::Int(n), at + 2)
        }
        TAG_I16 => int_at(buf, at, 2),
        TAG_I24 => int_at(buf, at, 3),
        TAG_I32 => int_at(buf, at, 4),
        TAG_I64 => int_at(buf, at, 8),
        TAG_STR32 => {
            let len = u32::from_le_bytes(fixed(buf, at + 1)) as usize;
            bytes_at(buf, at + 5, len)
        }
        TAG_STR64 => {
            let len = u64::from_le_bytes(fixed(buf, at + 1)) as usize;
            bytes_at(buf, at + 9, len)
        }
        _ => unreachable!("corrupt list node: header byte {h:#x}"),
    }
}

fn fixed<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&buf[at..at + N]);
    out
}

fn bytes_at(buf: &[u8], start: usize, len: usize) -> (Elem<'_>, usize) {
    (Elem::Bytes(&buf[start..start + len]), start + len)
}

/// A little-endian integer of `width` bytes after the tag at `at`, sign-extended.
fn int_at(buf: &[u8], at: usize, width: usize) -> (Elem<'_>, usize) {
    let mut bytes = [0u8; 8];
    bytes[..width].copy_from_slice(&buf[at + 1..at + 1 + width]);
    let shift = 64 - 8 * width as u32;
    let n = (i64::from_le_bytes(bytes) << shift) >> shift;
    (Elem::Int(n), at + 1 + width)
}

/// Where the entry that ends at `end` starts, read from its back-length.
pub fn start_before(buf: &[u8], end: usize) -> usize {
    let mut pos = end;
    let mut len = 0usize;
    let mut shift = 0;
    loop {
        pos -= 1;
        let byte = buf[pos];
        len |= usize::from(byte & 0x7F) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            break;
        }
    }
    pos - len
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes `value` alone and decodes it from both ends.
    fn round_trip(value: &[u8]) -> (Vec<u8>, usize) {
        let enc = Encoded::new(value);
        let mut buf = vec![0u8; enc.len()];
        enc.write(&mut buf);
        let (elem, next) = decode(&buf, 0);
        assert_eq!(next, buf.len(), "forward walk of {value:?}");
        assert_eq!(
            start_before(&buf, buf.len()),
            0,
            "backward walk of {value:?}"
        );
        (elem.to_vec(), buf.len())
    }

    /// Every integer width and string length class reads back as the bytes written.
    #[test]
    fn values_round_trip_byte_for_byte() {
        let ints = [
            "0",
            "1",
            "127",
            "128",
            "-1",
            "-2048",
            "2047",
            "2048",
            "-2049",
            "32767",
            "-32768",
            "32768",
            "8388607",
            "-8388608",
            "8388608",
            "2147483647",
            "-2147483648",
            "2147483648",
            "9223372036854775807",
            "-9223372036854775808",
        ];
        for s in ints {
            assert_eq!(round_trip(s.as_bytes()).0, s.as_bytes());
        }
        let odd = [
            "-0",
            "01",
            "+1",
            " 1",
            "1 ",
            "9223372036854775808",
            "",
            "abc",
        ];
        for s in odd {
            assert_eq!(round_trip(s.as_bytes()).0, s.as_bytes());
        }
        for len in [63, 64, 126, 127, 128, 8191, 8192, 20000] {
            let value: Vec<u8> = (0..len).map(|i| i as u8).collect();
            assert_eq!(round_trip(&value).0, value);
        }
    }

    /// Small numbers and short strings cost what they cost in a Redis listpack.
    #[test]
    fn small_values_are_compact() {
        assert_eq!(round_trip(b"7").1, 2);
        assert_eq!(round_trip(b"-1000").1, 3);
        assert_eq!(round_trip(b"1000000").1, 5);
        assert_eq!(round_trip(b"hello").1, 7);
    }

    /// A needle matches an element only when the bytes are the same.
    #[test]
    fn needles_compare_by_bytes() {
        assert!(Elem::Int(12).matches(&Needle::new(b"12")));
        assert!(!Elem::Int(12).matches(&Needle::new(b"012")));
        assert!(Elem::Bytes(b"012").matches(&Needle::new(b"012")));
        assert!(!Elem::Bytes(b"12").matches(&Needle::new(b"12")));
    }
}
