//! `bit`: LuaBitOp 1.0.2, 32-bit operations on Lua numbers.
//!
//! Every argument is normalised to 32 bits the way LuaBitOp does it: add 2^52 + 2^51 to
//! the double and keep the low 32 bits of its representation. That rounds to nearest
//! (ties to even) and wraps modulo 2^32; NaN and infinities give 0. Results are returned
//! as signed 32-bit numbers.

use mlua::{Lua, Table, Value};

use super::{c_function, number, one, Args, Outcome, Returns};

/// Builds the `bit` table.
pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("tobit", c_function(lua, |a| ret(bit_arg(a, 1)?))?)?;
    t.raw_set("bnot", c_function(lua, |a| ret(!bit_arg(a, 1)?))?)?;
    t.raw_set("band", c_function(lua, |a| fold(a, |x, y| x & y))?)?;
    t.raw_set("bor", c_function(lua, |a| fold(a, |x, y| x | y))?)?;
    t.raw_set("bxor", c_function(lua, |a| fold(a, |x, y| x ^ y))?)?;
    t.raw_set("lshift", c_function(lua, |a| shift(a, |b, n| b << n))?)?;
    t.raw_set("rshift", c_function(lua, |a| shift(a, |b, n| b >> n))?)?;
    t.raw_set(
        "arshift",
        c_function(lua, |a| shift(a, |b, n| ((b as i32) >> n) as u32))?,
    )?;
    t.raw_set("rol", c_function(lua, |a| shift(a, u32::rotate_left))?)?;
    t.raw_set("ror", c_function(lua, |a| shift(a, u32::rotate_right))?)?;
    t.raw_set(
        "bswap",
        c_function(lua, |a| ret(bit_arg(a, 1)?.swap_bytes()))?,
    )?;
    t.raw_set("tohex", c_function(lua, tohex)?)?;
    Ok(t)
}

/// The 32 bits LuaBitOp takes from a double.
pub(crate) fn to_bits(n: f64) -> u32 {
    // 2^52 + 2^51: the sum's mantissa holds the rounded integer in its low bits.
    (n + 6_755_399_441_055_744.0).to_bits() as u32
}

/// Argument `n` as 32 bits; anything but a number (or numeric string) is a type error.
fn bit_arg(a: &Args, n: usize) -> Outcome<u32> {
    match a.to_number(n)? {
        Some(x) => Ok(to_bits(x)),
        None => a.type_error(n, "number"),
    }
}

fn ret(b: u32) -> Outcome<Returns> {
    one(number(f64::from(b as i32)))
}

/// band/bor/bxor over all arguments. LuaBitOp folds from the last argument down.
fn fold(a: &Args, op: fn(u32, u32) -> u32) -> Outcome<Returns> {
    let mut b = bit_arg(a, 1)?;
    for i in (2..=a.count()).rev() {
        b = op(b, bit_arg(a, i)?);
    }
    ret(b)
}

fn shift(a: &Args, op: fn(u32, u32) -> u32) -> Outcome<Returns> {
    let b = bit_arg(a, 1)?;
    let n = bit_arg(a, 2)? & 31;
    ret(op(b, n))
}

/// `bit.tohex(x [, n])`: `n` digits (default 8), upper case when `n` is negative.
fn tohex(a: &Args) -> Outcome<Returns> {
    let mut b = bit_arg(a, 1)?;
    let mut n: i32 = if a.get(2).is_none() {
        8
    } else {
        bit_arg(a, 2)? as i32
    };
    let digits: &[u8; 16] = if n < 0 {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    // |i32::MIN| does not exist; LuaBitOp clamps it first.
    n = n.max(i32::MIN + 1).abs().min(8);
    let mut buf = [0u8; 8];
    for slot in buf[..n as usize].iter_mut().rev() {
        *slot = digits[(b & 15) as usize];
        b >>= 4;
    }
    one(Value::String(a.lua.create_string(&buf[..n as usize])?))
}

#[cfg(test)]
mod tests {
    //! LuaBitOp's results, including its documented examples and wrap-around cases.
    use crate::libs::testing::{error, eval};

    #[test]
    fn tobit_normalises_to_signed_32_bits() {
        assert_eq!(eval("return bit.tobit(0xffffffff)"), "-1");
        assert_eq!(eval("return bit.tobit(0xffffffff + 1)"), "0");
        assert_eq!(eval("return bit.tobit(2^40 + 1234)"), "1234");
        assert_eq!(eval("return bit.tobit(1.5)"), "2");
        assert_eq!(eval("return bit.tobit(2.5)"), "2");
        assert_eq!(eval("return bit.tobit(-1.5)"), "-2");
        assert_eq!(eval("return bit.tobit(0/0)"), "0");
        assert_eq!(eval("return bit.tobit(1/0)"), "0");
        assert_eq!(eval("return bit.tobit('0x10')"), "16");
    }

    #[test]
    fn logic_and_shifts() {
        assert_eq!(eval("return bit.bnot(0)"), "-1");
        assert_eq!(eval("return bit.band(0x12345678, 0xff)"), "120");
        assert_eq!(eval("return bit.bor(1, 2, 4, 8)"), "15");
        assert_eq!(
            eval("return bit.bxor(0xa5a5a5a5, 0xffffffff)"),
            "1515870810"
        );
        assert_eq!(eval("return bit.lshift(1, 31)"), "-2147483648");
        assert_eq!(eval("return bit.lshift(1, 32)"), "1");
        assert_eq!(eval("return bit.rshift(-1, 28)"), "15");
        assert_eq!(eval("return bit.arshift(-256, 4)"), "-16");
        assert_eq!(eval("return bit.rol(0x12345678, 12)"), "1164411171");
        assert_eq!(eval("return bit.ror(0x12345678, 12)"), "1736516421");
        assert_eq!(eval("return bit.bswap(0x12345678)"), "2018915346");
    }

    #[test]
    fn tohex_widths_and_case() {
        assert_eq!(eval("return bit.tohex(1)"), "00000001");
        assert_eq!(eval("return bit.tohex(-1)"), "ffffffff");
        assert_eq!(eval("return bit.tohex(0xffffffff, -4)"), "FFFF");
        assert_eq!(eval("return bit.tohex(0x1234, 2)"), "34");
        assert_eq!(eval("return bit.tohex(0x1234, 20)"), "00001234");
        assert_eq!(eval("return bit.tohex(0x1234, 0)"), "");
        assert_eq!(eval("return bit.tohex(0x1234, -2147483648)"), "00001234");
    }

    #[test]
    fn non_numbers_are_type_errors() {
        assert_eq!(
            error("return bit.tobit('x')"),
            "user_script:1: bad argument #1 to 'tobit' (number expected, got string)"
        );
        assert_eq!(
            error("return bit.band(1, {})"),
            "user_script:1: bad argument #2 to 'band' (number expected, got table)"
        );
        assert_eq!(
            error("return bit.bnot()"),
            "user_script:1: bad argument #1 to 'bnot' (number expected, got no value)"
        );
    }
}
