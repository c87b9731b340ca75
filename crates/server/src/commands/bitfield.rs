//! BITFIELD and BITFIELD_RO: signed and unsigned integers of 1 to 64 bits (unsigned up
//! to 63, so every value fits a RESP integer) at any bit offset of a string.
//!
//! The whole request is parsed before anything runs, so a bad argument anywhere leaves
//! the key untouched. The overflow checks reproduce Redis's arithmetic operation for
//! operation (two's complement wrapping where Redis relies on it), because their edge
//! cases are visible to clients: which values SAT clamps, when FAIL returns null.

use lodestone_util::number::parse_i64;

use super::bitmap::{bit_at, bit_offset, set_bit_at, with_bits};
use super::string::{c_str, is_word, max_string_len};
use crate::ctx::Ctx;
use crate::errors::{CmdResult, Error};

/// What to do when a write does not fit its type.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Get,
    Set,
    Incrby,
}

/// One parsed subcommand.
#[derive(Clone, Copy)]
struct Op {
    kind: OpKind,
    offset: u64,
    /// SET value or INCRBY increment.
    value: i64,
    overflow: Overflow,
    bits: u32,
    signed: bool,
}

const TYPE_ERROR: &str =
    "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/// Parses `i<bits>` / `u<bits>` (lower case only, as Redis).
fn parse_type(arg: &[u8]) -> Result<(bool, u32), Error> {
    let err = || Error::err(TYPE_ERROR);
    let (signed, digits) = match arg.split_first() {
        Some((b'i', rest)) => (true, rest),
        Some((b'u', rest)) => (false, rest),
        _ => return Err(err()),
    };
    let bits = parse_i64(c_str(digits)).ok_or_else(err)?;
    let limit = if signed { 64 } else { 63 };
    if !(1..=limit).contains(&bits) {
        return Err(err());
    }
    Ok((signed, bits as u32))
}

fn parse_overflow(arg: &[u8]) -> Result<Overflow, Error> {
    if is_word(arg, "wrap") {
        Ok(Overflow::Wrap)
    } else if is_word(arg, "sat") {
        Ok(Overflow::Sat)
    } else if is_word(arg, "fail") {
        Ok(Overflow::Fail)
    } else {
        Err(Error::err("Invalid OVERFLOW type specified"))
    }
}

/// The parsed request: its operations and the last bit any write touches.
struct Request {
    ops: Vec<Op>,
    highest_write: Option<u64>,
}

fn parse_request(ctx: &Ctx) -> Result<Request, Error> {
    let cmd = ctx.cmd;
    let max_len = max_string_len(ctx);
    let mut req = Request {
        ops: Vec::new(),
        highest_write: None,
    };
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < cmd.len() {
        let remaining = cmd.len() - j - 1;
        let word = cmd.arg(j);
        let kind = if is_word(word, "get") && remaining >= 2 {
            OpKind::Get
        } else if is_word(word, "set") && remaining >= 3 {
            OpKind::Set
        } else if is_word(word, "incrby") && remaining >= 3 {
            OpKind::Incrby
        } else if is_word(word, "overflow") && remaining >= 1 {
            overflow = parse_overflow(cmd.arg(j + 1))?;
            j += 2;
            continue;
        } else {
            return Err(Error::Syntax);
        };
        let (signed, bits) = parse_type(cmd.arg(j + 1))?;
        let offset = bit_offset(cmd.arg(j + 2), true, i64::from(bits), max_len)?;
        let mut value = 0;
        if kind != OpKind::Get {
            let last = offset + u64::from(bits) - 1;
            req.highest_write = Some(req.highest_write.map_or(last, |h| h.max(last)));
            value = parse_i64(cmd.arg(j + 3)).ok_or(Error::NotInteger)?;
        }
        req.ops.push(Op {
            kind,
            offset,
            value,
            overflow,
            bits,
            signed,
        });
        j += if kind == OpKind::Get { 3 } else { 4 };
    }
    Ok(req)
}

/// Reads `bits` bits at `offset` as an unsigned number (zeros past the end).
fn get_unsigned(buf: &[u8], offset: u64, bits: u32) -> u64 {
    (0..u64::from(bits)).fold(0, |acc, j| (acc << 1) | bit_at(buf, offset + j))
}

/// Reads `bits` bits at `offset` as a two's complement number.
fn get_signed(buf: &[u8], offset: u64, bits: u32) -> i64 {
    let raw = get_unsigned(buf, offset, bits);
    if bits < 64 && raw & (1 << (bits - 1)) != 0 {
        (raw | (u64::MAX << bits)) as i64
    } else {
        raw as i64
    }
}

/// Writes the low `bits` bits of `value` at `offset`, most significant first.
fn set_bits(buf: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..u64::from(bits) {
        let on = (value >> (u64::from(bits) - 1 - j)) & 1 == 1;
        set_bit_at(buf, offset + j, on);
    }
}

/// Whether `value + incr` fits `bits` unsigned bits: `None` if it does, otherwise the
/// value to store under `mode` (irrelevant for FAIL). Mirrors Redis's arithmetic.
fn unsigned_overflow(value: u64, incr: i64, bits: u32, mode: Overflow) -> Option<u64> {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = value.wrapping_neg() as i64;
    let wrapped = || value.wrapping_add(incr as u64) & max;
    if value > max || (incr > 0 && incr > max_incr) {
        Some(if mode == Overflow::Sat {
            max
        } else {
            wrapped()
        })
    } else if incr < 0 && incr < min_incr {
        Some(if mode == Overflow::Sat { 0 } else { wrapped() })
    } else {
        None
    }
}

/// The signed counterpart of [`unsigned_overflow`].
fn signed_overflow(value: i64, incr: i64, bits: u32, mode: Overflow) -> Option<i64> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    // Redis computes these with wrapping and only trusts them after its range checks;
    // the same comparisons on the same wrapped values give the same answers.
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let wrapped = || {
        let sum = (value as u64).wrapping_add(incr as u64);
        if bits == 64 {
            return sum as i64;
        }
        let high = u64::MAX << bits;
        if sum & (1 << (bits - 1)) != 0 {
            (sum | high) as i64
        } else {
            (sum & !high) as i64
        }
    };
    let narrow = bits != 64;
    if value > max || (narrow && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr) {
        Some(if mode == Overflow::Sat {
            max
        } else {
            wrapped()
        })
    } else if value < min
        || (narrow && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr)
    {
        Some(if mode == Overflow::Sat {
            min
        } else {
            wrapped()
        })
    } else {
        None
    }
}

/// Runs one SET or INCRBY: returns the reply (null on FAIL) and whether bits changed.
fn write_op(buf: &mut [u8], op: &Op) -> (Option<i64>, bool) {
    let (reply, old, new, overflowed) = if op.signed {
        let old = get_signed(buf, op.offset, op.bits);
        let (target, incr) = match op.kind {
            OpKind::Incrby => (old, op.value),
            _ => (op.value, 0),
        };
        let limit = signed_overflow(target, incr, op.bits, op.overflow);
        let new = limit.unwrap_or_else(|| target.wrapping_add(incr));
        let reply = if op.kind == OpKind::Incrby { new } else { old };
        (reply, old as u64, new as u64, limit.is_some())
    } else {
        let old = get_unsigned(buf, op.offset, op.bits);
        let (target, incr) = match op.kind {
            OpKind::Incrby => (old, op.value),
            _ => (op.value as u64, 0),
        };
        let limit = unsigned_overflow(target, incr, op.bits, op.overflow);
        let new = limit.unwrap_or_else(|| target.wrapping_add(incr as u64));
        let reply = if op.kind == OpKind::Incrby { new } else { old };
        (reply as i64, old, new, limit.is_some())
    };
    if overflowed && op.overflow == Overflow::Fail {
        return (None, false);
    }
    set_bits(buf, op.offset, op.bits, new);
    (Some(reply), old != new)
}

/// Runs one GET.
fn read_op(buf: &[u8], op: &Op) -> i64 {
    if op.signed {
        get_signed(buf, op.offset, op.bits)
    } else {
        get_unsigned(buf, op.offset, op.bits) as i64
    }
}

/// Runs every operation in order on `buf`; returns the replies and the change count.
fn run_ops(buf: &mut [u8], ops: &[Op], grown: bool) -> (Vec<Option<i64>>, u64) {
    let mut changes = 0;
    let replies = ops
        .iter()
        .map(|op| {
            if op.kind == OpKind::Get {
                return Some(read_op(buf, op));
            }
            let (reply, changed) = write_op(buf, op);
            if reply.is_some() && (changed || grown) {
                changes += 1;
            }
            reply
        })
        .collect();
    (replies, changes)
}

fn bitfield_generic(ctx: &mut Ctx, read_only_command: bool) -> CmdResult {
    let req = parse_request(ctx)?;
    let cmd = ctx.cmd;
    let key = cmd.arg(1);
    let replies = match req.highest_write {
        None => {
            let read_all = |bytes: &[u8]| -> Vec<Option<i64>> {
                req.ops.iter().map(|op| Some(read_op(bytes, op))).collect()
            };
            match ctx.keys.read_str(key)? {
                Some(value) => read_all(&value.to_bytes()),
                None => read_all(&[]),
            }
        }
        Some(_) if read_only_command => {
            return Err(Error::err("BITFIELD_RO only supports the GET subcommand"));
        }
        Some(highest) => {
            let byte = (highest >> 3) as usize;
            let ((replies, changes), growth) = with_bits(ctx.keys, key, byte, |buf, growth| {
                run_ops(buf, &req.ops, growth.grown)
            })?;
            // A created key already counted once.
            for _ in u64::from(growth.created)..changes {
                ctx.keys.modified(key);
            }
            if changes > 0 {
                ctx.notify(crate::notify::STRING, "setbit", key);
            }
            replies
        }
    };
    ctx.out.array(replies.len());
    for reply in replies {
        match reply {
            Some(n) => ctx.out.integer(n),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

pub fn bitfield(ctx: &mut Ctx) -> CmdResult {
    bitfield_generic(ctx, false)
}

pub fn bitfield_ro(ctx: &mut Ctx) -> CmdResult {
    bitfield_generic(ctx, true)
}
