//! The bitmap commands over string values: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, and
//! the helpers BITFIELD shares with them (offset parsing, growing a string for writes).
//!
//! Bit 0 is the most significant bit of byte 0, as in Redis. Range arithmetic is done in
//! `i64` exactly as Redis does it in `long long`, including its quirks (a BITPOS range
//! given with an end never counts the zero padding past the end), so replies match bit
//! for bit. Offsets are bounded by `proto-max-bulk-len` before anything is allocated.

use lodestone_store::{StrBytes, StrValue, Value, NO_EXPIRE};
use lodestone_util::number::parse_i64;

use super::string::{c_str, is_word, max_string_len};
use crate::ctx::{Ctx, KeyAccess};
use crate::errors::{CmdResult, Error};
use crate::notify;

/// Parses a bit offset. With `hash` (BITFIELD), `#n` means `n * bits`. Offsets that
/// address a byte at or past `proto-max-bulk-len` are refused, so no write can allocate
/// more than a client could send in one bulk.
pub(crate) fn bit_offset(arg: &[u8], hash: bool, bits: i64, max_len: i64) -> Result<u64, Error> {
    let (digits, multiply) = match arg.split_first() {
        Some((b'#', rest)) if hash && bits > 0 => (rest, true),
        _ => (arg, false),
    };
    let mut offset = parse_i64(digits).ok_or(Error::BitOffset)?;
    if multiply {
        // Redis multiplies in C without an overflow check; a wrapped product is then
        // refused (negative) or accepted (small) exactly as it is here.
        offset = offset.wrapping_mul(bits);
    }
    if offset < 0 || (offset >> 3) >= max_len {
        return Err(Error::BitOffset);
    }
    Ok(offset as u64)
}

/// How [`with_bits`] had to change the key before writing.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Growth {
    /// The key did not exist (its creation already counted as a change).
    pub created: bool,
    /// The key was created or lengthened: Redis counts a write as a change then, even
    /// if no bit flipped.
    pub grown: bool,
}

/// Runs `write` on the string at `key` as a raw buffer at least `byte + 1` long,
/// creating it (zero-filled) or growing it as needed. `byte` comes from [`bit_offset`],
/// so the growth is bounded by `proto-max-bulk-len`.
pub(crate) fn with_bits<R>(
    keys: &mut KeyAccess,
    key: &[u8],
    byte: usize,
    write: impl FnOnce(&mut StrBytes, Growth) -> R,
) -> Result<(R, Growth), Error> {
    match keys.write_str(key)? {
        Some(value) => {
            let buf = value.make_raw();
            let grown = buf.len() <= byte;
            if grown {
                buf.resize(byte + 1, 0);
            }
            let growth = Growth {
                created: false,
                grown,
            };
            Ok((write(buf, growth), growth))
        }
        None => {
            let growth = Growth {
                created: true,
                grown: true,
            };
            let mut buf = StrBytes::from_elem(0, byte + 1);
            let result = write(&mut buf, growth);
            keys.set(key, Value::Str(StrValue::Raw(buf)), NO_EXPIRE);
            Ok((result, growth))
        }
    }
}

/// Bit `pos` of `bytes` (0 past the end).
pub(crate) fn bit_at(bytes: &[u8], pos: u64) -> u64 {
    let byte = usize::try_from(pos >> 3).ok().and_then(|i| bytes.get(i));
    byte.map_or(0, |b| u64::from((b >> (7 - (pos & 7))) & 1))
}

/// Sets bit `pos` of `bytes` to `on` (the caller sized the buffer).
pub(crate) fn set_bit_at(bytes: &mut [u8], pos: u64, on: bool) {
    let Some(byte) = usize::try_from(pos >> 3)
        .ok()
        .and_then(|i| bytes.get_mut(i))
    else {
        return;
    };
    let mask = 1u8 << (7 - (pos & 7));
    if on {
        *byte |= mask;
    } else {
        *byte &= !mask;
    }
}

pub fn setbit(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let key = cmd.arg(1);
    let offset = bit_offset(cmd.arg(2), false, 0, max_string_len(ctx))?;
    let on = parse_i64(cmd.arg(3)).ok_or(Error::BitValue)?;
    if on & !1 != 0 {
        return Err(Error::BitValue);
    }
    let on = on == 1;
    let byte = (offset >> 3) as usize;
    let (old, growth) = with_bits(ctx.keys, key, byte, |buf, _| {
        let old = bit_at(buf, offset) == 1;
        set_bit_at(buf, offset, on);
        old
    })?;
    if growth.grown || old != on {
        if !growth.created {
            ctx.keys.modified(key);
        }
        ctx.notify(notify::STRING, "setbit", key);
    }
    ctx.out.integer(i64::from(old));
    Ok(())
}

pub fn getbit(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let offset = bit_offset(cmd.arg(2), false, 0, max_string_len(ctx))?;
    let bit = match ctx.keys.read_str(cmd.arg(1))? {
        Some(value) => bit_at(&value.to_bytes(), offset),
        None => 0,
    };
    ctx.out.integer(bit as i64);
    Ok(())
}

/// Number of set bits.
fn popcount(bytes: &[u8]) -> i64 {
    let mut chunks = bytes.chunks_exact(8);
    let mut count: u64 = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        count += u64::from(u64::from_ne_bytes(word).count_ones());
    }
    for b in chunks.remainder() {
        count += u64::from(b.count_ones());
    }
    count as i64
}

/// Position of the first bit equal to `bit`; when there is none, -1 for a 1 and the
/// bit just past the end for a 0 (a string is followed by zero bits).
fn first_bit(bytes: &[u8], bit: bool) -> i64 {
    let skip = if bit { 0x00 } else { 0xff };
    match bytes.iter().position(|&b| b != skip) {
        Some(i) => {
            let b = bytes[i];
            let lead = if bit {
                b.leading_zeros()
            } else {
                (!b).leading_zeros()
            };
            i as i64 * 8 + i64::from(lead)
        }
        None if bit => -1,
        None => bytes.len() as i64 * 8,
    }
}

/// A byte range resolved from BITCOUNT/BITPOS arguments. In BIT mode the first and last
/// bytes carry masks of the bits outside the requested range.
struct ByteRange {
    start: i64,
    end: i64,
    first_mask: u8,
    last_mask: u8,
}

/// Whether a BIT|BYTE argument asks for bits; anything else is a syntax error.
fn parse_unit(arg: &[u8]) -> Result<bool, Error> {
    if is_word(arg, "bit") {
        Ok(true)
    } else if is_word(arg, "byte") {
        Ok(false)
    } else {
        Err(Error::Syntax)
    }
}

/// Clamps `start..=end` (negative counts from the end) into a string of `len` bytes,
/// in bits when `is_bit`, and converts it to bytes with edge masks.
fn resolve_range(mut start: i64, mut end: i64, len: i64, is_bit: bool) -> ByteRange {
    let total = if is_bit { len << 3 } else { len };
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    let mut range = ByteRange {
        start,
        end,
        first_mask: 0,
        last_mask: 0,
    };
    if is_bit && start <= end {
        range.first_mask = !((1u16 << (8 - (start & 7))) - 1) as u8;
        range.last_mask = ((1u16 << (7 - (end & 7))) - 1) as u8;
        range.start = start >> 3;
        range.end = end >> 3;
    }
    range
}

pub fn bitcount(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let argc = cmd.len();
    // Redis looks the key up first: a missing key counts 0 whatever the other arguments.
    let Some(value) = ctx.keys.read_str(cmd.arg(1))? else {
        ctx.out.integer(0);
        return Ok(());
    };
    let bytes = value.to_bytes();
    let range = match argc {
        2 => ByteRange {
            start: 0,
            end: bytes.len() as i64 - 1,
            first_mask: 0,
            last_mask: 0,
        },
        4 | 5 => {
            let start = parse_i64(cmd.arg(2)).ok_or(Error::NotInteger)?;
            let end = parse_i64(cmd.arg(3)).ok_or(Error::NotInteger)?;
            if start < 0 && end < 0 && start > end {
                ctx.out.integer(0);
                return Ok(());
            }
            let is_bit = if argc == 5 {
                parse_unit(cmd.arg(4))?
            } else {
                false
            };
            resolve_range(start, end, bytes.len() as i64, is_bit)
        }
        _ => return Err(Error::Syntax),
    };
    ctx.out.integer(count_in(&bytes, &range));
    Ok(())
}

/// Set bits within a resolved range.
fn count_in(bytes: &[u8], r: &ByteRange) -> i64 {
    if r.start > r.end {
        return 0;
    }
    let (start, end) = (r.start as usize, r.end as usize);
    let mut count = popcount(&bytes[start..=end]);
    // Take back the bits of the edge bytes that lie outside the bit range.
    count -= popcount(&[bytes[start] & r.first_mask, bytes[end] & r.last_mask]);
    count
}

pub fn bitpos(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let argc = cmd.len();
    let bit = parse_i64(cmd.arg(2)).ok_or(Error::NotInteger)?;
    if bit != 0 && bit != 1 {
        return Err(Error::err("The bit argument must be 1 or 0."));
    }
    let bit = bit == 1;
    // A missing key is an endless run of zeros.
    let Some(value) = ctx.keys.read_str(cmd.arg(1))? else {
        ctx.out.integer(if bit { -1 } else { 0 });
        return Ok(());
    };
    let bytes = value.to_bytes();
    let len = bytes.len() as i64;
    let (range, end_given) = match argc {
        3 => (resolve_range(0, len - 1, len, false), false),
        4..=6 => {
            let start = parse_i64(cmd.arg(3)).ok_or(Error::NotInteger)?;
            let is_bit = if argc == 6 {
                parse_unit(cmd.arg(5))?
            } else {
                false
            };
            let end = if argc >= 5 {
                parse_i64(cmd.arg(4)).ok_or(Error::NotInteger)?
            } else {
                len - 1
            };
            (resolve_range(start, end, len, is_bit), argc >= 5)
        }
        _ => return Err(Error::Syntax),
    };
    ctx.out
        .integer(search_range(&bytes, &range, bit, end_given));
    Ok(())
}

/// BITPOS within a resolved range: the masked first byte, the whole bytes, then the
/// masked last byte, stopping at the first hit.
fn search_range(bytes: &[u8], r: &ByteRange, bit: bool, end_given: bool) -> i64 {
    if r.start > r.end {
        return -1;
    }
    let byte_at = |i: i64| bytes.get(i as usize).copied().unwrap_or(0);
    // Bits outside the range are forced to the value not searched for.
    let mask_out = |b: u8, mask: u8| if bit { b & !mask } else { b | mask };
    let (mut start, mut count) = (r.start, r.end - r.start + 1);
    let pos = 'found: {
        if r.first_mask != 0 {
            let mut b = mask_out(byte_at(start), r.first_mask);
            if r.last_mask != 0 && count == 1 {
                b = mask_out(b, r.last_mask);
            }
            let pos = first_bit(&[b], bit);
            if count == 1 || (pos != -1 && pos != 8) {
                break 'found pos;
            }
            start += 1;
            count -= 1;
        }
        let whole = count - i64::from(r.last_mask != 0);
        if whole > 0 {
            let from = start as usize;
            let pos = first_bit(&bytes[from..from + whole as usize], bit);
            if count == whole || (pos != -1 && pos != whole << 3) {
                break 'found pos;
            }
            start += whole;
            count -= whole;
        }
        first_bit(&[mask_out(byte_at(r.end), r.last_mask)], bit)
    };
    // With an explicit end the padding zeros past the range do not count.
    if end_given && !bit && pos == count << 3 {
        return -1;
    }
    if pos == -1 {
        -1
    } else {
        pos + (start << 3)
    }
}

/// A BITOP operation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

fn parse_bitop(arg: &[u8]) -> Result<BitOp, Error> {
    let word = c_str(arg).to_ascii_lowercase();
    match word.as_slice() {
        b"and" => Ok(BitOp::And),
        b"or" => Ok(BitOp::Or),
        b"xor" => Ok(BitOp::Xor),
        b"not" => Ok(BitOp::Not),
        _ => Err(Error::Syntax),
    }
}

/// Folds one source into the result; bytes past a source's end count as zeros.
fn fold_source(result: &mut [u8], source: &[u8], op: BitOp) {
    for (j, out) in result.iter_mut().enumerate() {
        let b = source.get(j).copied().unwrap_or(0);
        match op {
            BitOp::And => *out &= b,
            BitOp::Or => *out |= b,
            BitOp::Xor => *out ^= b,
            BitOp::Not => *out = !b,
        }
    }
}

pub fn bitop(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let op = parse_bitop(cmd.arg(1))?;
    if op == BitOp::Not && cmd.len() != 4 {
        return Err(Error::err(
            "BITOP NOT must be called with a single source key.",
        ));
    }
    let (dest, sources) = (cmd.arg(2), 3..cmd.len());
    // First pass: expiry, type checks, statistics and the result length.
    let mut max_len = 0;
    for j in sources.clone() {
        if let Some(value) = ctx.keys.read_str(cmd.arg(j))? {
            max_len = max_len.max(value.len());
        }
    }
    if max_len == 0 {
        super::keyspace::delete_destination(ctx, dest);
        ctx.out.integer(0);
        return Ok(());
    }
    // Second pass: fold the sources, the first one copied (or inverted for NOT).
    let mut result = vec![0u8; max_len];
    for (n, j) in sources.enumerate() {
        let step = match (n, op) {
            (0, BitOp::Not) => BitOp::Not,
            (0, _) => BitOp::Or,
            _ => op,
        };
        match ctx.keys.write_str(cmd.arg(j))? {
            Some(value) => fold_source(&mut result, &value.to_bytes(), step),
            None => fold_source(&mut result, &[], step),
        }
    }
    ctx.keys
        .set(dest, Value::Str(StrValue::raw(result)), NO_EXPIRE);
    ctx.notify(notify::STRING, "set", dest);
    ctx.out.integer(max_len as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_bit_conventions() {
        assert_eq!(first_bit(&[0x00, 0x10], true), 11);
        assert_eq!(first_bit(&[0x00], true), -1);
        assert_eq!(first_bit(&[0xff, 0xfe], false), 15);
        assert_eq!(first_bit(&[0xff], false), 8);
        assert_eq!(first_bit(&[], false), 0);
    }

    #[test]
    fn offsets_are_bounded() {
        let max = 512 * 1024 * 1024;
        assert_eq!(bit_offset(b"7", false, 0, max), Ok(7));
        assert_eq!(bit_offset(b"#2", true, 8, max), Ok(16));
        assert_eq!(bit_offset(b"#2", false, 8, max), Err(Error::BitOffset));
        assert_eq!(bit_offset(b"-1", false, 0, max), Err(Error::BitOffset));
        assert_eq!(
            bit_offset(b"4294967296", false, 0, max),
            Err(Error::BitOffset)
        );
        assert_eq!(bit_offset(b"4294967295", false, 0, max), Ok(4294967295));
    }

    #[test]
    fn popcount_counts_every_byte() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(popcount(&bytes), 1024);
    }
}
