//! Decoders for the compact encodings older Redis versions wrote into RDB files and
//! DUMP payloads (ziplist, zipmap) and for intsets. Each takes the raw blob and
//! returns its elements, or `None` when the blob is malformed: every length and offset
//! is checked against the blob, so a corrupt file cannot make the loader read out of
//! bounds, loop for ever or allocate more than the blob could describe.
//!
//! The checks follow what Redis 7.0 applies when it loads these encodings with deep
//! sanitization (a blob Redis would refuse is refused here), plus a few where Redis is
//! merely lenient about bytes its own writer never produces; see each function.

use std::collections::HashSet;

/// One element of a ziplist: an integer or a byte string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Element {
    Int(i64),
    Bytes(Vec<u8>),
}

/// Reads `N` bytes at `at`, or `None` when they are not all inside `bytes`.
fn array_at<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    let end = at.checked_add(N)?;
    <[u8; N]>::try_from(bytes.get(at..end)?).ok()
}

fn u32_le_at(bytes: &[u8], at: usize) -> Option<usize> {
    usize::try_from(u32::from_le_bytes(array_at(bytes, at)?)).ok()
}

/// The `len` bytes at `at`, or `None` when they are not all inside `bytes`.
fn slice_at(bytes: &[u8], at: usize, len: usize) -> Option<&[u8]> {
    bytes.get(at..at.checked_add(len)?)
}

// ---------------------------------------------------------------------------------
// Ziplist
// ---------------------------------------------------------------------------------

/// zlbytes (u32) + zltail (u32) + zllen (u16).
const ZIPLIST_HEADER: usize = 10;
/// The byte that ends a ziplist; no entry starts with it.
const ZIPLIST_END: u8 = 0xFF;
/// A first prevlen byte announcing a 4-byte little-endian length after it.
const ZIPLIST_BIG_PREVLEN: u8 = 0xFE;
/// A zllen meaning "too many entries to count in 16 bits; walk the list".
const ZIPLIST_UNKNOWN_COUNT: u16 = u16::MAX;
/// The smallest possible entry: a 1-byte prevlen and a 1-byte immediate integer.
const ZIPLIST_MIN_ENTRY: usize = 2;

/// The elements of a ziplist (RDB types 10, 12, 13 and the nodes of 14).
///
/// Refused: a zlbytes other than the blob's length; a missing end byte, or an end
/// byte where an entry should start before the last byte; an entry whose header or
/// payload runs into the end byte; an unknown encoding byte; a prevlen that is not
/// the size of the entry before it (0 for the first); a zltail that is not the start
/// of the last entry (the header's end for an empty list); a zllen below 65535 that
/// differs from the number of entries. Accepted like Redis does: a 5-byte prevlen
/// holding a small length (Redis leaves those behind after cascading updates), a
/// string length in a longer form than needed, and the unused low bits of the 32-bit
/// string length byte. An empty ziplist decodes to an empty vector; whether that is
/// an acceptable value is the caller's decision (Redis skips such keys).
pub fn ziplist_entries(blob: &[u8]) -> Option<Vec<Element>> {
    if blob.len() < ZIPLIST_HEADER + 1 {
        return None;
    }
    if u32_le_at(blob, 0)? != blob.len() {
        return None;
    }
    let end = blob.len() - 1;
    if blob[end] != ZIPLIST_END {
        return None;
    }
    let tail = u32_le_at(blob, 4)?;
    let count = u16::from_le_bytes(array_at(blob, 8)?);

    // Every read of an entry goes through `body`, which stops before the end byte, so
    // no entry can overlap it or the bytes after it.
    let body = &blob[..end];
    let mut entries = if count == ZIPLIST_UNKNOWN_COUNT {
        Vec::new()
    } else {
        Vec::with_capacity(usize::from(count).min((end - ZIPLIST_HEADER) / ZIPLIST_MIN_ENTRY))
    };
    let mut pos = ZIPLIST_HEADER;
    let mut prev_size = 0;
    let mut last_start = None;
    while pos < end {
        let (element, size) = ziplist_entry(body, pos, prev_size)?;
        entries.push(element);
        last_start = Some(pos);
        prev_size = size;
        pos += size;
    }

    if tail != last_start.unwrap_or(ZIPLIST_HEADER) {
        return None;
    }
    if count != ZIPLIST_UNKNOWN_COUNT && usize::from(count) != entries.len() {
        return None;
    }
    Some(entries)
}

/// Decodes the entry starting at `start`, whose prevlen must be `prev_size`; returns
/// it with its size in bytes (prevlen, encoding and payload).
fn ziplist_entry(body: &[u8], start: usize, prev_size: usize) -> Option<(Element, usize)> {
    let mut pos = start;
    let prevlen = match *body.get(pos)? {
        // An end byte where an entry should be: the list stops short of its last byte.
        ZIPLIST_END => return None,
        ZIPLIST_BIG_PREVLEN => {
            let len = u32_le_at(body, pos + 1)?;
            pos += 5;
            len
        }
        small => {
            pos += 1;
            usize::from(small)
        }
    };
    if prevlen != prev_size {
        return None;
    }

    let encoding = *body.get(pos)?;
    pos += 1;
    let element = match encoding {
        0x00..=0x3F => {
            let len = usize::from(encoding & 0x3F);
            let bytes = slice_at(body, pos, len)?;
            pos += len;
            Element::Bytes(bytes.to_vec())
        }
        0x40..=0x7F => {
            let low = *body.get(pos)?;
            pos += 1;
            let len = usize::from(u16::from_be_bytes([encoding & 0x3F, low]));
            let bytes = slice_at(body, pos, len)?;
            pos += len;
            Element::Bytes(bytes.to_vec())
        }
        0x80..=0xBF => {
            let len = usize::try_from(u32::from_be_bytes(array_at(body, pos)?)).ok()?;
            pos += 4;
            let bytes = slice_at(body, pos, len)?;
            pos += len;
            Element::Bytes(bytes.to_vec())
        }
        0xFE => {
            let v = i8::from_le_bytes(array_at(body, pos)?);
            pos += 1;
            Element::Int(i64::from(v))
        }
        0xC0 => {
            let v = i16::from_le_bytes(array_at(body, pos)?);
            pos += 2;
            Element::Int(i64::from(v))
        }
        0xF0 => {
            let [b0, b1, b2] = array_at(body, pos)?;
            pos += 3;
            // Put the three bytes at the top of an i32, then shift back down so the
            // sign bit of the 24-bit value is extended.
            Element::Int(i64::from(i32::from_le_bytes([0, b0, b1, b2]) >> 8))
        }
        0xD0 => {
            let v = i32::from_le_bytes(array_at(body, pos)?);
            pos += 4;
            Element::Int(i64::from(v))
        }
        0xE0 => {
            let v = i64::from_le_bytes(array_at(body, pos)?);
            pos += 8;
            Element::Int(v)
        }
        0xF1..=0xFD => Element::Int(i64::from(encoding & 0x0F) - 1),
        _ => return None,
    };
    Some((element, pos - start))
}

// ---------------------------------------------------------------------------------
// Zipmap
// ---------------------------------------------------------------------------------

/// The byte that ends a zipmap.
const ZIPMAP_END: u8 = 0xFF;
/// A length byte announcing a 4-byte little-endian length after it; as zmlen it
/// means "too many pairs to count in a byte; walk the map".
const ZIPMAP_BIG: u8 = 0xFE;
/// The smallest possible pair: empty key and value, their two lengths and a free byte.
const ZIPMAP_MIN_PAIR: usize = 3;

/// The field-value pairs of a zipmap (RDB type 9).
///
/// Refused: a blob not ending in the end byte; an end byte anywhere else where a key
/// should start (Redis would ignore what follows it); a key without its value, or any
/// length, free count or payload reaching the end byte; a length below 254 written in
/// the 5-byte form; 255 as a value's length byte (Redis would read it as the 5-byte
/// form; its writer never produces it); a zmlen other than 254 that differs from the
/// number of pairs; a repeated key; and an empty zipmap (Redis refuses those too).
pub fn zipmap_pairs(blob: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    if blob.len() < 2 {
        return None;
    }
    let end = blob.len() - 1;
    if blob[end] != ZIPMAP_END {
        return None;
    }
    let count = blob[0];

    let body = &blob[..end];
    let mut pairs = if count < ZIPMAP_BIG {
        Vec::with_capacity(usize::from(count).min((end - 1) / ZIPMAP_MIN_PAIR))
    } else {
        Vec::new()
    };
    let mut keys = HashSet::new();
    let mut pos = 1;
    while pos < end {
        if body[pos] == ZIPMAP_END {
            return None;
        }
        let (key_len, at) = zipmap_len(body, pos)?;
        let key = slice_at(body, at, key_len)?;
        pos = at + key_len;

        let (value_len, at) = zipmap_len(body, pos)?;
        let free = usize::from(*body.get(at)?);
        let value = slice_at(body, at + 1, value_len)?;
        // The free bytes after the value are unused space; they must still be inside.
        slice_at(body, at + 1 + value_len, free)?;
        pos = at + 1 + value_len + free;

        if !keys.insert(key) {
            return None;
        }
        pairs.push((key.to_vec(), value.to_vec()));
    }

    if pairs.is_empty() {
        return None;
    }
    if count != ZIPMAP_BIG && usize::from(count) != pairs.len() {
        return None;
    }
    Some(pairs)
}

/// Decodes the length at `pos`; returns it with the position just after it.
fn zipmap_len(body: &[u8], pos: usize) -> Option<(usize, usize)> {
    match *body.get(pos)? {
        ZIPMAP_BIG => {
            let len = u32_le_at(body, pos + 1)?;
            if len < usize::from(ZIPMAP_BIG) {
                return None;
            }
            Some((len, pos + 5))
        }
        ZIPMAP_END => None,
        small => Some((usize::from(small), pos + 1)),
    }
}

// ---------------------------------------------------------------------------------
// Intset
// ---------------------------------------------------------------------------------

/// encoding (u32) + length (u32).
const INTSET_HEADER: usize = 8;

/// The members of an intset (RDB type 11), in stored (ascending) order.
///
/// Refused: an encoding other than 2, 4 or 8 bytes; a blob whose size is not the
/// header plus length members of that width; members not strictly ascending; and an
/// empty intset (Redis refuses those too). A width larger than the members need is
/// accepted, as Redis does.
pub fn intset_members(blob: &[u8]) -> Option<Vec<i64>> {
    let width = match u32_le_at(blob, 0)? {
        w @ (2 | 4 | 8) => w,
        _ => return None,
    };
    let count = u32_le_at(blob, 4)?;
    let contents = blob.get(INTSET_HEADER..)?;
    if count == 0 || count.checked_mul(width)? != contents.len() {
        return None;
    }

    let mut members: Vec<i64> = Vec::with_capacity(count);
    for chunk in contents.chunks_exact(width) {
        let member = match *chunk {
            [a, b] => i64::from(i16::from_le_bytes([a, b])),
            [a, b, c, d] => i64::from(i32::from_le_bytes([a, b, c, d])),
            [a, b, c, d, e, f, g, h] => i64::from_le_bytes([a, b, c, d, e, f, g, h]),
            _ => return None,
        };
        if members.last().is_some_and(|&last| last >= member) {
            return None;
        }
        members.push(member);
    }
    Some(members)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // --- A small ziplist encoder, written from the format description ---------------

    /// The encoding byte and payload Redis would write for an integer.
    fn zl_int(v: i64) -> Vec<u8> {
        if (0..=12).contains(&v) {
            vec![0xF1 + v as u8]
        } else if let Ok(v) = i8::try_from(v) {
            let mut out = vec![0xFE];
            out.extend_from_slice(&v.to_le_bytes());
            out
        } else if let Ok(v) = i16::try_from(v) {
            let mut out = vec![0xC0];
            out.extend_from_slice(&v.to_le_bytes());
            out
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            let mut out = vec![0xF0];
            out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
            out
        } else if let Ok(v) = i32::try_from(v) {
            let mut out = vec![0xD0];
            out.extend_from_slice(&v.to_le_bytes());
            out
        } else {
            let mut out = vec![0xE0];
            out.extend_from_slice(&v.to_le_bytes());
            out
        }
    }

    /// The length header and payload Redis would write for a string.
    fn zl_str(s: &[u8]) -> Vec<u8> {
        let len = s.len();
        let mut out = if len < 64 {
            vec![len as u8]
        } else if len < 1 << 14 {
            vec![0x40 | (len >> 8) as u8, len as u8]
        } else {
            let mut h = vec![0x80];
            h.extend_from_slice(&(len as u32).to_be_bytes());
            h
        };
        out.extend_from_slice(s);
        out
    }

    fn zl_element(e: &Element) -> Vec<u8> {
        match e {
            Element::Int(v) => zl_int(*v),
            Element::Bytes(b) => zl_str(b),
        }
    }

    /// Assembles a ziplist from entries given as encoding + payload, adding prevlens
    /// (the 5-byte form for every entry after the first when `big_prevlen`), the
    /// header and the end byte. `count` overrides zllen.
    fn zl_build(raw: &[Vec<u8>], big_prevlen: bool, count: Option<u16>) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0usize;
        let mut tail = ZIPLIST_HEADER;
        for entry in raw {
            let start = body.len();
            tail = ZIPLIST_HEADER + start;
            if prev < 254 && !(big_prevlen && start > 0) {
                body.push(prev as u8);
            } else {
                body.push(0xFE);
                body.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            body.extend_from_slice(entry);
            prev = body.len() - start;
        }
        let total = ZIPLIST_HEADER + body.len() + 1;
        let count = count.unwrap_or_else(|| raw.len().min(65535) as u16);
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&(tail as u32).to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&body);
        out.push(0xFF);
        out
    }

    fn zl_encode(elements: &[Element]) -> Vec<u8> {
        let raw: Vec<Vec<u8>> = elements.iter().map(zl_element).collect();
        zl_build(&raw, false, None)
    }

    fn bytes(s: &[u8]) -> Element {
        Element::Bytes(s.to_vec())
    }

    /// Rewrites zlbytes to match the blob (for tests that damage something else).
    fn fix_zlbytes(blob: &mut [u8]) {
        let len = blob.len() as u32;
        blob[..4].copy_from_slice(&len.to_le_bytes());
    }

    // --- Zipmap and intset encoders -------------------------------------------------

    fn zm_len(out: &mut Vec<u8>, len: usize) {
        if len < 254 {
            out.push(len as u8);
        } else {
            out.push(0xFE);
            out.extend_from_slice(&(len as u32).to_le_bytes());
        }
    }

    /// A zipmap of (key, value, free) triples; the free bytes are filled with 0xAA.
    fn zm_build(pairs: &[(&[u8], &[u8], u8)], count: Option<u8>) -> Vec<u8> {
        let mut out = vec![count.unwrap_or_else(|| pairs.len().min(254) as u8)];
        for (key, value, free) in pairs {
            zm_len(&mut out, key.len());
            out.extend_from_slice(key);
            zm_len(&mut out, value.len());
            out.push(*free);
            out.extend_from_slice(value);
            out.extend(std::iter::repeat_n(0xAA, usize::from(*free)));
        }
        out.push(0xFF);
        out
    }

    fn is_build(width: u32, members: &[i64]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&width.to_le_bytes());
        out.extend_from_slice(&(members.len() as u32).to_le_bytes());
        for &m in members {
            out.extend_from_slice(&m.to_le_bytes()[..width as usize]);
        }
        out
    }

    // --- Ziplist: valid blobs -------------------------------------------------------

    #[test]
    fn ziplist_example_from_redis_source() {
        // The two-entry ziplist ("2", "5") drawn in the header comment of ziplist.c.
        let blob = [
            0x0f, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0xf3, 0x02, 0xf6,
            0xff,
        ];
        assert_eq!(
            ziplist_entries(&blob),
            Some(vec![Element::Int(2), Element::Int(5)])
        );
        assert_eq!(zl_encode(&[Element::Int(2), Element::Int(5)]), blob);
    }

    #[test]
    fn ziplist_example_with_hello_world() {
        // The same list with the "Hello World" entry from that comment appended.
        let mut blob = vec![
            0x1c, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0xf3, 0x02, 0xf6,
            0x02, 0x0b,
        ];
        blob.extend_from_slice(b"Hello World");
        blob.push(0xff);
        assert_eq!(blob.len(), 0x1c);
        let elements = vec![Element::Int(2), Element::Int(5), bytes(b"Hello World")];
        assert_eq!(ziplist_entries(&blob), Some(elements.clone()));
        assert_eq!(zl_encode(&elements), blob);
    }

    #[test]
    fn ziplist_every_integer_encoding() {
        let cases: &[(i64, u8)] = &[
            (0, 0xF1),
            (12, 0xFD),
            (13, 0xFE),
            (-1, 0xFE),
            (127, 0xFE),
            (-128, 0xFE),
            (128, 0xC0),
            (-129, 0xC0),
            (i16::MAX as i64, 0xC0),
            (i16::MIN as i64, 0xC0),
            (i16::MAX as i64 + 1, 0xF0),
            (i16::MIN as i64 - 1, 0xF0),
            ((1 << 23) - 1, 0xF0),
            (-(1 << 23), 0xF0),
            (-1_234_567, 0xF0),
            (1 << 23, 0xD0),
            (-(1 << 23) - 1, 0xD0),
            (i32::MAX as i64, 0xD0),
            (i32::MIN as i64, 0xD0),
            (i32::MAX as i64 + 1, 0xE0),
            (i32::MIN as i64 - 1, 0xE0),
            (i64::MAX, 0xE0),
            (i64::MIN, 0xE0),
        ];
        for &(v, enc) in cases {
            let raw = zl_int(v);
            assert_eq!(raw[0], enc, "encoding for {v}");
            let blob = zl_build(&[raw], false, None);
            assert_eq!(ziplist_entries(&blob), Some(vec![Element::Int(v)]), "{v}");
        }
        // All together in one list.
        let all: Vec<Element> = cases.iter().map(|&(v, _)| Element::Int(v)).collect();
        assert_eq!(ziplist_entries(&zl_encode(&all)), Some(all));
    }

    #[test]
    fn ziplist_every_immediate() {
        let raw: Vec<Vec<u8>> = (0xF1..=0xFDu8).map(|b| vec![b]).collect();
        let blob = zl_build(&raw, false, None);
        let expected: Vec<Element> = (0..=12).map(Element::Int).collect();
        assert_eq!(ziplist_entries(&blob), Some(expected));
    }

    #[test]
    fn ziplist_explicit_integer_bytes() {
        // Payloads written out by hand, not by the test encoder.
        let raw = vec![
            vec![0xFE, 0x80],                   // int8 -128
            vec![0xC0, 0x34, 0x12],             // int16 0x1234
            vec![0xF0, 0xFF, 0xFF, 0x7F],       // int24 max
            vec![0xF0, 0x00, 0x00, 0x80],       // int24 min
            vec![0xF0, 0xFE, 0xFF, 0xFF],       // int24 -2
            vec![0xD0, 0x78, 0x56, 0x34, 0x12], // int32 0x12345678
            vec![0xE0, 1, 0, 0, 0, 0, 0, 0, 0x80],
        ];
        let blob = zl_build(&raw, false, None);
        assert_eq!(
            ziplist_entries(&blob),
            Some(vec![
                Element::Int(-128),
                Element::Int(0x1234),
                Element::Int(0x7F_FFFF),
                Element::Int(-0x80_0000),
                Element::Int(-2),
                Element::Int(0x1234_5678),
                Element::Int(i64::MIN + 1),
            ])
        );
    }

    #[test]
    fn ziplist_string_length_forms() {
        let lens = [0usize, 1, 63, 64, 300, 16383, 16384, 70000];
        let strings: Vec<Vec<u8>> = lens
            .iter()
            .map(|&n| (0..n).map(|i| (i * 7 % 251) as u8).collect())
            .collect();
        let raw: Vec<Vec<u8>> = strings.iter().map(|s| zl_str(s)).collect();
        assert_eq!(raw[2][0], 63);
        assert_eq!(&raw[3][..2], &[0x40, 64]);
        assert_eq!(&raw[5][..2], &[0x7F, 0xFF]);
        assert_eq!(&raw[6][..5], &[0x80, 0, 0, 0x40, 0]);
        let blob = zl_build(&raw, false, None);
        let expected: Vec<Element> = strings.into_iter().map(Element::Bytes).collect();
        assert_eq!(ziplist_entries(&blob), Some(expected));
    }

    #[test]
    fn ziplist_longer_string_forms_than_needed() {
        // Redis reads these fine: a 14-bit and a 32-bit length for a 3-byte string,
        // and a 32-bit form with its unused low bits set.
        let raw = vec![
            vec![0x40, 3, b'a', b'b', b'c'],
            vec![0x80, 0, 0, 0, 3, b'd', b'e', b'f'],
            vec![0xBF, 0, 0, 0, 1, b'g'],
        ];
        let blob = zl_build(&raw, false, None);
        assert_eq!(
            ziplist_entries(&blob),
            Some(vec![bytes(b"abc"), bytes(b"def"), bytes(b"g")])
        );
    }

    #[test]
    fn ziplist_five_byte_prevlen() {
        // An entry of exactly 253 bytes (1 prevlen + 2 header + 250 payload) is
        // followed by a 1-byte prevlen; one of 254 bytes by the 5-byte form.
        let a = vec![b'a'; 250];
        let b = vec![b'b'; 251];
        let c = vec![b'c'; 1000];
        let elements = vec![
            bytes(&a),
            Element::Int(1),
            bytes(&b),
            Element::Int(2),
            bytes(&c),
            Element::Int(3),
        ];
        let blob = zl_encode(&elements);
        // First entry: 10 + 253 = 263 is where the second entry starts.
        assert_eq!(blob[263], 253);
        // Third entry starts at 263 + 2; its size is 254, so the fourth has FE.
        assert_eq!(blob[265 + 254], 0xFE);
        assert_eq!(&blob[265 + 255..265 + 259], &254u32.to_le_bytes());
        assert_eq!(ziplist_entries(&blob), Some(elements));
    }

    #[test]
    fn ziplist_five_byte_prevlen_holding_small_length() {
        // Cascading updates in Redis can leave the 5-byte form with a small value.
        let elements = vec![Element::Int(7), bytes(b"xy"), Element::Int(-300)];
        let raw: Vec<Vec<u8>> = elements.iter().map(zl_element).collect();
        let blob = zl_build(&raw, true, None);
        assert_eq!(blob[12], 0xFE);
        assert_eq!(ziplist_entries(&blob), Some(elements));
    }

    #[test]
    fn ziplist_unknown_count() {
        let elements: Vec<Element> = (0..10).map(Element::Int).collect();
        let raw: Vec<Vec<u8>> = elements.iter().map(zl_element).collect();
        let blob = zl_build(&raw, false, Some(65535));
        assert_eq!(ziplist_entries(&blob), Some(elements));
    }

    #[test]
    fn ziplist_more_than_65534_entries() {
        let elements: Vec<Element> = (0..70_000).map(|i| Element::Int(i % 13)).collect();
        let blob = zl_encode(&elements);
        assert_eq!(&blob[8..10], &[0xFF, 0xFF]);
        assert_eq!(ziplist_entries(&blob), Some(elements));
    }

    #[test]
    fn ziplist_empty() {
        let blob = [0x0b, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0, 0xff];
        assert_eq!(zl_build(&[], false, None), blob);
        assert_eq!(ziplist_entries(&blob), Some(vec![]));
        // Unknown count with nothing in it is still consistent.
        let mut unknown = blob;
        unknown[8] = 0xFF;
        unknown[9] = 0xFF;
        assert_eq!(ziplist_entries(&unknown), Some(vec![]));
    }

    // --- Ziplist: malformed blobs ---------------------------------------------------

    fn sample_ziplist() -> (Vec<Element>, Vec<u8>) {
        let elements = vec![
            bytes(b"field"),
            Element::Int(-5),
            bytes(&[b'z'; 300]),
            Element::Int(1 << 40),
            bytes(b""),
        ];
        let blob = zl_encode(&elements);
        (elements, blob)
    }

    #[test]
    fn ziplist_sample_is_valid() {
        let (elements, blob) = sample_ziplist();
        assert_eq!(ziplist_entries(&blob), Some(elements));
    }

    #[test]
    fn ziplist_truncated() {
        let (_, blob) = sample_ziplist();
        for len in 0..blob.len() {
            assert_eq!(ziplist_entries(&blob[..len]), None, "prefix of {len}");
            // Even with zlbytes and the end byte repaired, a cut entry or a list cut
            // between entries (zltail and zllen then disagree) is refused.
            if len > ZIPLIST_HEADER && len < blob.len() - 1 {
                let mut cut = blob[..len].to_vec();
                cut.push(0xFF);
                fix_zlbytes(&mut cut);
                assert_eq!(ziplist_entries(&cut), None, "repaired prefix of {len}");
            }
        }
    }

    #[test]
    fn ziplist_bad_zlbytes() {
        let (_, blob) = sample_ziplist();
        for delta in [-1i64, 1, 1 << 20] {
            let mut bad = blob.clone();
            let v = (blob.len() as i64 + delta) as u32;
            bad[..4].copy_from_slice(&v.to_le_bytes());
            assert_eq!(ziplist_entries(&bad), None, "zlbytes off by {delta}");
        }
        // Extra bytes after the end byte, with zlbytes saying the shorter length.
        let mut longer = blob.clone();
        longer.push(0xFF);
        assert_eq!(ziplist_entries(&longer), None);
    }

    #[test]
    fn ziplist_missing_or_early_end_byte() {
        let (_, blob) = sample_ziplist();
        let mut no_end = blob.clone();
        *no_end.last_mut().unwrap() = 0x00;
        assert_eq!(ziplist_entries(&no_end), None);

        // An end byte after the first two entries, with junk behind it, zltail still
        // at the real last entry.
        let mut early = zl_encode(&[Element::Int(1), Element::Int(2), Element::Int(3)]);
        early[14] = 0xFF;
        assert_eq!(ziplist_entries(&early), None);
        // Same, with zltail and zllen made to agree with the short list.
        let mut early = zl_encode(&[Element::Int(1), Element::Int(2), Element::Int(3)]);
        early[4] = 12;
        early[8] = 2;
        early[14] = 0xFF;
        early[15] = 0xFF;
        assert_eq!(ziplist_entries(&early), None);
    }

    #[test]
    fn ziplist_bad_prevlen() {
        // The first entry must have prevlen 0.
        let mut first = zl_encode(&[Element::Int(1), Element::Int(2)]);
        first[10] = 1;
        assert_eq!(ziplist_entries(&first), None);
        // A later entry's prevlen must be the previous entry's size.
        for wrong in [0u8, 1, 3, 200] {
            let mut later = zl_encode(&[Element::Int(1), Element::Int(2)]);
            later[12] = wrong;
            assert_eq!(ziplist_entries(&later), None, "prevlen {wrong}");
        }
        // The 5-byte form with a wrong value.
        let raw = vec![zl_int(1), zl_int(2)];
        let mut big = zl_build(&raw, true, None);
        assert_eq!(big[12], 0xFE);
        big[13] = 3;
        assert_eq!(ziplist_entries(&big), None);
        // The 5-byte form cut off by the end byte.
        let mut cut = vec![0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0xFE, 0, 0, 0xFF];
        fix_zlbytes(&mut cut);
        assert_eq!(ziplist_entries(&cut), None);
    }

    #[test]
    fn ziplist_bad_zltail() {
        let (_, blob) = sample_ziplist();
        let tail = u32::from_le_bytes([blob[4], blob[5], blob[6], blob[7]]);
        for wrong in [0, 10, tail - 1, tail + 1, blob.len() as u32 - 1, u32::MAX] {
            let mut bad = blob.clone();
            bad[4..8].copy_from_slice(&wrong.to_le_bytes());
            assert_eq!(ziplist_entries(&bad), None, "zltail {wrong}");
        }
        // An empty list's zltail must be the header's end.
        let mut empty = zl_build(&[], false, None);
        empty[4] = 9;
        assert_eq!(ziplist_entries(&empty), None);
    }

    #[test]
    fn ziplist_bad_count() {
        let raw = vec![zl_int(1), zl_int(2), zl_int(3)];
        for wrong in [0u16, 2, 4, 65534] {
            let blob = zl_build(&raw, false, Some(wrong));
            assert_eq!(ziplist_entries(&blob), None, "zllen {wrong}");
        }
        let empty_with_count = zl_build(&[], false, Some(1));
        assert_eq!(ziplist_entries(&empty_with_count), None);
    }

    #[test]
    fn ziplist_bad_encoding_bytes() {
        let valid: Vec<u8> = [0xC0u8, 0xD0, 0xE0, 0xF0, 0xFE]
            .into_iter()
            .chain(0xF1..=0xFD)
            .collect();
        for enc in 0xC0..=0xFFu8 {
            if valid.contains(&enc) {
                continue;
            }
            // Padding after the encoding byte so only the encoding can be at fault.
            let blob = zl_build(&[vec![enc, 0, 0, 0, 0, 0, 0, 0, 0]], false, None);
            assert_eq!(ziplist_entries(&blob), None, "encoding {enc:#04x}");
        }
    }

    #[test]
    fn ziplist_lengths_past_the_end() {
        // A 6-bit string claiming more than there is.
        let mut blob = zl_build(&[vec![5, b'a', b'b']], false, None);
        assert_eq!(ziplist_entries(&blob), None);
        // One that would swallow the end byte exactly.
        blob = zl_build(&[vec![2, b'a', b'b']], false, None);
        assert!(ziplist_entries(&blob).is_some());
        blob[11] = 3;
        assert_eq!(ziplist_entries(&blob), None);
        // A 32-bit length of 4 GiB in a tiny blob: refused without allocating it.
        blob = zl_build(&[vec![0x80, 0xFF, 0xFF, 0xFF, 0xFF, b'x']], false, None);
        assert_eq!(ziplist_entries(&blob), None);
        // Integers cut short by the end byte.
        for raw in [
            vec![0xFE],
            vec![0xC0, 1],
            vec![0xF0, 1, 2],
            vec![0xD0, 1, 2, 3],
            vec![0xE0, 1, 2, 3, 4, 5, 6, 7],
            vec![0x40],
            vec![0x80, 0, 0, 0],
        ] {
            let blob = zl_build(std::slice::from_ref(&raw), false, None);
            assert_eq!(ziplist_entries(&blob), None, "{raw:?}");
        }
    }

    #[test]
    fn ziplist_too_short_for_a_header() {
        assert_eq!(ziplist_entries(&[]), None);
        assert_eq!(ziplist_entries(&[0x0a, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0]), None);
        assert_eq!(ziplist_entries(&[0xFF; 11]), None);
    }

    // --- Zipmap ---------------------------------------------------------------------

    #[test]
    fn zipmap_example_from_redis_source() {
        let blob = b"\x02\x03foo\x03\x00bar\x05hello\x05\x00world\xff";
        let expected = vec![
            (b"foo".to_vec(), b"bar".to_vec()),
            (b"hello".to_vec(), b"world".to_vec()),
        ];
        assert_eq!(zipmap_pairs(blob), Some(expected));
        assert_eq!(
            zm_build(&[(b"foo", b"bar", 0), (b"hello", b"world", 0)], None),
            blob
        );
    }

    #[test]
    fn zipmap_long_lengths_and_free_bytes() {
        let long_key = vec![b'k'; 300];
        let long_value = vec![b'v'; 70_000];
        let edge_key = vec![b'e'; 253];
        let edge_value = vec![b'f'; 254];
        let blob = zm_build(
            &[
                (&long_key, b"short", 4),
                (b"big", &long_value, 0),
                (&edge_key, &edge_value, 255),
                (b"", b"", 1),
            ],
            None,
        );
        assert_eq!(blob[1], 0xFE);
        assert_eq!(&blob[2..6], &300u32.to_le_bytes());
        assert_eq!(
            zipmap_pairs(&blob),
            Some(vec![
                (long_key, b"short".to_vec()),
                (b"big".to_vec(), long_value),
                (edge_key, edge_value),
                (vec![], vec![]),
            ])
        );
    }

    #[test]
    fn zipmap_unknown_count() {
        let keys: Vec<Vec<u8>> = (0..300u32).map(|i| i.to_string().into_bytes()).collect();
        let triples: Vec<(&[u8], &[u8], u8)> =
            keys.iter().map(|k| (&k[..], &b"v"[..], 0)).collect();
        let blob = zm_build(&triples, None);
        assert_eq!(blob[0], 254);
        let pairs = zipmap_pairs(&blob).expect("valid");
        assert_eq!(pairs.len(), 300);
        assert_eq!(pairs[299], (b"299".to_vec(), b"v".to_vec()));
        // 254 = unknown also works for a small map.
        let small = zm_build(&[(b"a", b"1", 0)], Some(254));
        assert_eq!(
            zipmap_pairs(&small),
            Some(vec![(b"a".to_vec(), b"1".to_vec())])
        );
    }

    #[test]
    fn zipmap_malformed() {
        let good = zm_build(&[(b"foo", b"bar", 2), (b"hello", b"world", 0)], None);
        assert!(zipmap_pairs(&good).is_some());
        // Every proper prefix.
        for len in 0..good.len() {
            assert_eq!(zipmap_pairs(&good[..len]), None, "prefix of {len}");
        }
        // Duplicate keys.
        let dup = zm_build(&[(b"a", b"1", 0), (b"b", b"2", 0), (b"a", b"3", 0)], None);
        assert_eq!(zipmap_pairs(&dup), None);
        // Wrong count.
        for wrong in [0u8, 1, 3, 253, 255] {
            let blob = zm_build(&[(b"a", b"1", 0), (b"b", b"2", 0)], Some(wrong));
            assert_eq!(zipmap_pairs(&blob), None, "zmlen {wrong}");
        }
        // Empty zipmaps, as Redis does.
        assert_eq!(zipmap_pairs(b"\x00\xff"), None);
        assert_eq!(zipmap_pairs(b"\xfe\xff"), None);
        assert_eq!(zipmap_pairs(b"\xff"), None);
        assert_eq!(zipmap_pairs(b""), None);
        // A key with no value.
        assert_eq!(zipmap_pairs(b"\x01\x03foo\xff"), None);
        assert_eq!(zipmap_pairs(b"\x01\x03foo\x03\xff"), None);
        // The end byte where a key should start, with more after it.
        let mut early = good.clone();
        early.insert(1, 0xFF);
        assert_eq!(zipmap_pairs(&early), None);
        let mut trailing = good.clone();
        trailing.push(0xFF);
        assert_eq!(zipmap_pairs(&trailing), None);
        // No end byte.
        let mut no_end = good.clone();
        no_end.pop();
        no_end.push(0);
        assert_eq!(zipmap_pairs(&no_end), None);
        // Free bytes running past the end.
        assert_eq!(zipmap_pairs(b"\x01\x01a\x01\x05b\xff"), None);
        assert!(zipmap_pairs(b"\x01\x01a\x01\x01bc\xff").is_some());
        // A length below 254 in the 5-byte form.
        assert_eq!(
            zipmap_pairs(b"\x01\xfe\x01\x00\x00\x00a\x01\x00b\xff"),
            None
        );
        // 255 as a value length.
        assert_eq!(zipmap_pairs(b"\x01\x01a\xff\x00b\xff"), None);
        // A 5-byte length of 4 GiB in a tiny blob.
        assert_eq!(
            zipmap_pairs(b"\x01\x01a\xfe\xff\xff\xff\xff\x00b\xff"),
            None
        );
    }

    // --- Intset ---------------------------------------------------------------------

    #[test]
    fn intset_each_width() {
        let m16 = [i16::MIN as i64, -1, 0, 1, i16::MAX as i64];
        let blob = is_build(2, &m16);
        assert_eq!(&blob[..8], &[2, 0, 0, 0, 5, 0, 0, 0]);
        assert_eq!(intset_members(&blob), Some(m16.to_vec()));

        let m32 = [i32::MIN as i64, -70_000, 0, 70_000, i32::MAX as i64];
        assert_eq!(intset_members(&is_build(4, &m32)), Some(m32.to_vec()));

        let m64 = [i64::MIN, i32::MIN as i64 - 1, 0, 1 << 40, i64::MAX];
        assert_eq!(intset_members(&is_build(8, &m64)), Some(m64.to_vec()));

        // A wider encoding than needed, and a single member.
        assert_eq!(
            intset_members(&is_build(8, &[1, 2, 3])),
            Some(vec![1, 2, 3])
        );
        assert_eq!(intset_members(&is_build(2, &[-7])), Some(vec![-7]));

        // Explicit bytes: 16-bit members 1 and 0x0203.
        let explicit = [2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 3, 2];
        assert_eq!(intset_members(&explicit), Some(vec![1, 0x0203]));
    }

    #[test]
    fn intset_malformed() {
        // Unsorted and duplicate members.
        assert_eq!(intset_members(&is_build(2, &[1, 3, 2])), None);
        assert_eq!(intset_members(&is_build(4, &[5, 5])), None);
        assert_eq!(intset_members(&is_build(8, &[i64::MAX, i64::MIN])), None);
        // Size not matching the length field.
        let good = is_build(4, &[1, 2, 3]);
        assert!(intset_members(&good).is_some());
        for len in 0..good.len() {
            assert_eq!(intset_members(&good[..len]), None, "prefix of {len}");
        }
        let mut extra = good.clone();
        extra.push(0);
        assert_eq!(intset_members(&extra), None);
        let mut count_high = good.clone();
        count_high[4] = 4;
        assert_eq!(intset_members(&count_high), None);
        // A length whose size overflows 32 bits.
        let mut huge = good.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(intset_members(&huge), None);
        // Bad encodings.
        for enc in [0u32, 1, 3, 16, u32::MAX] {
            let mut bad = good.clone();
            bad[..4].copy_from_slice(&enc.to_le_bytes());
            assert_eq!(intset_members(&bad), None, "encoding {enc}");
        }
        // Empty, as Redis does.
        assert_eq!(intset_members(&is_build(2, &[])), None);
    }

    // --- Properties -----------------------------------------------------------------

    fn element() -> impl Strategy<Value = Element> {
        prop_oneof![
            (0i64..=12).prop_map(Element::Int),
            any::<i8>().prop_map(|v| Element::Int(v.into())),
            any::<i16>().prop_map(|v| Element::Int(v.into())),
            (-(1i64 << 23)..(1 << 23)).prop_map(Element::Int),
            any::<i32>().prop_map(|v| Element::Int(v.into())),
            any::<i64>().prop_map(Element::Int),
            proptest::collection::vec(any::<u8>(), 0..80).prop_map(Element::Bytes),
            proptest::collection::vec(any::<u8>(), 240..320).prop_map(Element::Bytes),
        ]
    }

    fn valid_ziplist() -> impl Strategy<Value = (Vec<Element>, Vec<u8>)> {
        (proptest::collection::vec(element(), 0..12), any::<bool>()).prop_map(
            |(elements, big_prevlen)| {
                let raw: Vec<Vec<u8>> = elements.iter().map(zl_element).collect();
                let blob = zl_build(&raw, big_prevlen, None);
                (elements, blob)
            },
        )
    }

    type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

    fn valid_zipmap() -> impl Strategy<Value = (Pairs, Vec<u8>)> {
        (
            proptest::collection::btree_map(
                proptest::collection::vec(any::<u8>(), 0..300),
                (proptest::collection::vec(any::<u8>(), 0..300), 0u8..6),
                1..8,
            ),
            any::<bool>(),
        )
            .prop_map(|(map, unknown_count)| {
                let triples: Vec<(&[u8], &[u8], u8)> = map
                    .iter()
                    .map(|(k, (v, free))| (&k[..], &v[..], *free))
                    .collect();
                let blob = zm_build(&triples, unknown_count.then_some(254));
                let pairs = map.into_iter().map(|(k, (v, _))| (k, v)).collect();
                (pairs, blob)
            })
    }

    fn valid_intset() -> impl Strategy<Value = (Vec<i64>, Vec<u8>)> {
        prop_oneof![
            proptest::collection::btree_set(any::<i16>().prop_map(i64::from), 1..40)
                .prop_map(|s| (2u32, s)),
            proptest::collection::btree_set(any::<i32>().prop_map(i64::from), 1..40)
                .prop_map(|s| (4u32, s)),
            proptest::collection::btree_set(any::<i64>(), 1..40).prop_map(|s| (8u32, s)),
        ]
        .prop_map(|(width, set)| {
            let members: Vec<i64> = set.into_iter().collect();
            let blob = is_build(width, &members);
            (members, blob)
        })
    }

    /// Flips one bit at each (index, bit) position, indexes taken modulo the length.
    fn flip(blob: &[u8], flips: &[(usize, u8)]) -> Vec<u8> {
        let mut out = blob.to_vec();
        if !out.is_empty() {
            let len = out.len();
            for &(i, bit) in flips {
                out[i % len] ^= 1 << (bit % 8);
            }
        }
        out
    }

    fn decode_all(blob: &[u8]) {
        let _ = ziplist_entries(blob);
        let _ = zipmap_pairs(blob);
        if let Some(members) = intset_members(blob) {
            assert!(members.windows(2).all(|w| w[0] < w[1]));
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(blob in proptest::collection::vec(any::<u8>(), 0..600)) {
            decode_all(&blob);
        }

        #[test]
        fn random_bytes_with_plausible_headers_never_panic(
            body in proptest::collection::vec(any::<u8>(), 0..400),
            count in any::<u16>(),
            tail in any::<u16>(),
            width in prop_oneof![Just(2u32), Just(4), Just(8)],
        ) {
            // Headers that pass the first checks, so the walks see the random bytes.
            let mut zl = Vec::new();
            zl.extend_from_slice(&((body.len() + 11) as u32).to_le_bytes());
            zl.extend_from_slice(&u32::from(tail).to_le_bytes());
            zl.extend_from_slice(&count.to_le_bytes());
            zl.extend_from_slice(&body);
            zl.push(0xFF);
            decode_all(&zl);

            let mut zm = vec![(count % 256) as u8];
            zm.extend_from_slice(&body);
            zm.push(0xFF);
            decode_all(&zm);

            let mut is = Vec::new();
            is.extend_from_slice(&width.to_le_bytes());
            is.extend_from_slice(&((body.len() / width as usize) as u32).to_le_bytes());
            is.extend_from_slice(&body[..body.len() / width as usize * width as usize]);
            decode_all(&is);
        }

        #[test]
        fn ziplist_round_trip_and_damage(
            (elements, blob) in valid_ziplist(),
            cut in any::<usize>(),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        ) {
            prop_assert_eq!(ziplist_entries(&blob), Some(elements));
            // A truncated ziplist never matches its zlbytes.
            prop_assert_eq!(ziplist_entries(&blob[..cut % blob.len()]), None);
            decode_all(&blob[..cut % blob.len()]);
            decode_all(&flip(&blob, &flips));
            // Damage behind a repaired zlbytes, so the walk runs into it.
            let mut damaged = flip(&blob, &flips);
            if damaged.len() >= 4 {
                fix_zlbytes(&mut damaged);
            }
            decode_all(&damaged);
        }

        #[test]
        fn zipmap_round_trip_and_damage(
            (pairs, blob) in valid_zipmap(),
            cut in any::<usize>(),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        ) {
            prop_assert_eq!(zipmap_pairs(&blob), Some(pairs));
            // A cut can only end on an end byte inside a payload, never at a pair
            // boundary, so no prefix is a valid zipmap.
            prop_assert_eq!(zipmap_pairs(&blob[..cut % blob.len()]), None);
            decode_all(&blob[..cut % blob.len()]);
            decode_all(&flip(&blob, &flips));
        }

        #[test]
        fn intset_round_trip_and_damage(
            (members, blob) in valid_intset(),
            cut in any::<usize>(),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        ) {
            prop_assert_eq!(intset_members(&blob), Some(members));
            prop_assert_eq!(intset_members(&blob[..cut % blob.len()]), None);
            decode_all(&blob[..cut % blob.len()]);
            decode_all(&flip(&blob, &flips));
        }
    }
}
