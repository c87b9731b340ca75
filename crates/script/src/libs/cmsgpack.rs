//! `cmsgpack`: lua-cmsgpack 0.4.0 (antirez), MessagePack for Lua as Redis ships it.
//!
//! Encoding: integral numbers that fit an int64 take the smallest integer form; other
//! numbers are float32 when that is lossless, else float64; strings use fixstr, str8,
//! str16 or str32 (never bin); a table whose keys are exactly 1..n is an array, any other
//! table a map; tables nested 16 deep, functions, userdata and nil encode as nil.
//!
//! Decoding accepts what it encodes (no bin, ext or fixext). It is iterative, and counts
//! the Lua stack slots Redis's recursive decoder would hold, so deep nesting or too many
//! results fail where Redis fails, with the same message, instead of exhausting our
//! stack. A claimed length never allocates: elements are read one by one from the input.

use mlua::{Lua, Table, Value};

use super::{
    c_double_to_i32, c_double_to_i64, c_function, number, number_of, one, raise, top_table, Args,
    Fail, LuaStack, Outcome, Returns, MAX_C_STACK,
};

/// Tables nested this deep are encoded as nil (this is what stops reference cycles).
const MAX_NESTING: usize = 16;

/// Builds the `cmsgpack` table.
pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", c_function(lua, pack)?)?;
    t.raw_set("unpack", c_function(lua, unpack)?)?;
    t.raw_set("unpack_one", c_function(lua, unpack_one)?)?;
    t.raw_set("unpack_limit", c_function(lua, unpack_limit)?)?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

// ---------------------------------------------------------------------------------------
// Encoding

fn pack(a: &Args) -> Outcome<Returns> {
    let nargs = a.count();
    if nargs == 0 {
        return a.arg_error(0, b"MessagePack pack needs input.");
    }
    if nargs * 2 > MAX_C_STACK {
        return a.arg_error(0, b"Too many arguments for MessagePack pack.");
    }
    let mut out = Vec::new();
    for i in 1..=nargs {
        encode(&mut out, &a.value(i), 0)?;
    }
    one(Value::String(a.lua.create_string(&out)?))
}

fn encode(out: &mut Vec<u8>, v: &Value, level: usize) -> Outcome<()> {
    match v {
        Value::String(s) => encode_bytes(out, &s.as_bytes()),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(_) | Value::Number(_) => {
            let n = number_of(v).unwrap_or(0.0);
            // The C test `(int64_t)n == n`, with x86-64's cast for out-of-range values.
            if !n.is_infinite() && c_double_to_i64(n) as f64 == n {
                encode_int(out, c_double_to_i64(n));
            } else {
                encode_double(out, n);
            }
        }
        Value::Table(t) if level < MAX_NESTING => encode_table(out, t, level)?,
        _ => out.push(0xc0),
    }
    Ok(())
}

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

fn encode_double(out: &mut Vec<u8>, d: f64) {
    let f = d as f32;
    if f64::from(f) == d {
        out.push(0xca);
        out.extend_from_slice(&f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&d.to_be_bytes());
    }
}

fn encode_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_header(out: &mut Vec<u8>, n: usize, fix: u8, sixteen: u8, thirty_two: u8) {
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(sixteen);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(thirty_two);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// Tables are walked lazily (`lua_next` order, as the C code), holding one key and value
/// at a time; recursion is bounded by [`MAX_NESTING`].
fn encode_table(out: &mut Vec<u8>, t: &Table, level: usize) -> Outcome<()> {
    // Array when the keys are exactly 1..n: all positive integral numbers that fit an
    // int, with the largest equal to the count (keys are unique, so no hole).
    let mut count: usize = 0;
    let mut max: i64 = 0;
    let mut array = true;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        count += 1;
        if array {
            match number_of(&k) {
                Some(n) if n > 0.0 && !n.is_infinite() && f64::from(c_double_to_i32(n)) == n => {
                    max = max.max(n as i64);
                }
                _ => array = false,
            }
        }
    }
    if array && max == count as i64 {
        encode_header(out, count, 0x90, 0xdc, 0xdd);
        for i in 1..=count {
            let v: Value = t.raw_get(i)?;
            encode(out, &v, level + 1)?;
        }
    } else {
        encode_header(out, count, 0x80, 0xde, 0xdf);
        for pair in t.pairs::<Value, Value>() {
            let (k, v) = pair?;
            encode(out, &k, level + 1)?;
            encode(out, &v, level + 1)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Decoding

fn unpack(a: &Args) -> Outcome<Returns> {
    // `unpack` keeps every argument on the stack while it pushes results.
    unpack_full(a, 0, 0, a.count())
}

fn unpack_one(a: &Args) -> Outcome<Returns> {
    let offset = a.opt_integer(2, 0)?;
    unpack_full(a, 1, offset, 1)
}

fn unpack_limit(a: &Args) -> Outcome<Returns> {
    let limit = a.check_integer(2)?;
    let offset = a.opt_integer(3, 0)?;
    unpack_full(a, limit, offset, 1)
}

/// Decodes up to `limit` values from `offset` (both 0: everything, and no offset is
/// returned). `stack_base` is how many slots the C function held before its results.
fn unpack_full(a: &Args, limit: i64, offset: i64, stack_base: usize) -> Outcome<Returns> {
    let s = a.check_bytes(1)?;
    let input = s.as_bytes();
    let len = input.len();
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        // The C code prints the input length where it means the limit; so do we.
        return raise(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        ));
    }
    if offset as u64 > len as u64 {
        return raise(format!(
            "Start offset {} greater than input length {}.",
            offset as i32, len as i32
        ));
    }
    let limit = if decode_all {
        i64::from(i32::MAX)
    } else {
        limit
    };
    let mut cursor = Cursor {
        data: &input[offset as usize..],
    };
    // Results wait in a Lua table: thousands of values must not each hold an mlua
    // reference.
    let mut results = LuaStack::new(a.lua)?;
    if !decode_all {
        // The next offset goes first; its value is known at the end.
        results.push(Value::Nil)?;
    }
    let mut count: usize = 0;
    while !cursor.data.is_empty() && (count as i64) < limit {
        match decode(a.lua, &mut cursor, stack_base + count) {
            Ok(v) => results.push(v)?,
            Err(DecodeError::Eof) => return raise("Missing bytes in input."),
            Err(DecodeError::BadFormat) => return raise("Bad data format in input."),
            Err(DecodeError::Fail(f)) => return Err(f),
        }
        count += 1;
    }
    if !decode_all {
        if stack_base + count + 1 > MAX_C_STACK {
            return raise("stack overflow (in function mp_unpack_full)");
        }
        let left = cursor.data.len();
        let next = if left == 0 { -1 } else { (len - left) as i64 };
        results.table_set(1, number(next as f64))?;
    }
    Ok(results.into_returns())
}

struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// Takes `n` bytes, or fails with end of input.
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.data.len() < n {
            return Err(DecodeError::Eof);
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut b = [0u8; N];
        b.copy_from_slice(self.take(N)?);
        Ok(b)
    }
}

enum DecodeError {
    Eof,
    BadFormat,
    Fail(Fail),
}

impl From<mlua::Error> for DecodeError {
    fn from(e: mlua::Error) -> Self {
        DecodeError::Fail(Fail::Lua(e))
    }
}

/// A container being filled; its table waits in the `open` Lua stack (and a map's
/// pending key in `keys`), so depth costs no mlua references.
enum Frame {
    Array { next_index: u32, remaining: usize },
    Map { remaining: usize, has_key: bool },
}

impl Frame {
    /// Stack slots the C decoder holds for this container while it decodes the next
    /// element: the table and the index, or the table and (when present) the key.
    fn slots(&self) -> usize {
        match self {
            Frame::Array { .. } => 2,
            Frame::Map { has_key: false, .. } => 1,
            Frame::Map { has_key: true, .. } => 2,
        }
    }
}

/// What one header byte starts.
enum Item {
    Value(Value),
    Array(usize),
    Map(usize),
}

const TOO_MANY: &str =
    "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)";

/// Decodes one top-level value. `base` is the stack slots already in use.
fn decode(lua: &Lua, c: &mut Cursor, base: usize) -> Result<Value, DecodeError> {
    let mut frames: Vec<Frame> = Vec::new();
    let mut open = LuaStack::new(lua)?;
    let mut keys = LuaStack::new(lua)?;
    let mut used = base;
    loop {
        if c.data.is_empty() {
            return Err(DecodeError::Eof);
        }
        if used + 1 > MAX_C_STACK {
            return Err(DecodeError::Fail(Fail::Raise(TOO_MANY.into())));
        }
        let mut value = match decode_item(lua, c)? {
            Item::Value(v) => v,
            Item::Array(n) => {
                if used + 2 > MAX_C_STACK {
                    return Err(DecodeError::Fail(Fail::Raise(
                        "stack overflow (in function mp_decode_to_lua_array)".into(),
                    )));
                }
                let table = lua.create_table()?;
                if n == 0 {
                    Value::Table(table)
                } else {
                    open.push(Value::Table(table))?;
                    let frame = Frame::Array {
                        next_index: 1,
                        remaining: n,
                    };
                    used += frame.slots();
                    frames.push(frame);
                    continue;
                }
            }
            Item::Map(n) => {
                let table = lua.create_table()?;
                if n == 0 {
                    Value::Table(table)
                } else {
                    open.push(Value::Table(table))?;
                    let frame = Frame::Map {
                        remaining: n,
                        has_key: false,
                    };
                    used += frame.slots();
                    frames.push(frame);
                    continue;
                }
            }
        };
        // Store the value in its container; a filled container becomes the value.
        loop {
            let Some(frame) = frames.last_mut() else {
                return Ok(value);
            };
            used -= frame.slots();
            let done = match frame {
                Frame::Array {
                    next_index,
                    remaining,
                } => {
                    top_table(&open)?.raw_set(*next_index, value)?;
                    *next_index = next_index.wrapping_add(1);
                    *remaining -= 1;
                    *remaining == 0
                }
                Frame::Map { remaining, has_key } => {
                    if *has_key {
                        set_field(&top_table(&open)?, keys.pop()?, value)?;
                        *has_key = false;
                        *remaining -= 1;
                        *remaining == 0
                    } else {
                        keys.push(value)?;
                        *has_key = true;
                        false
                    }
                }
            };
            if !done {
                used += frame.slots();
                break;
            }
            frames.pop();
            value = open.pop()?;
        }
    }
}

/// `lua_settable` on a fresh table: nil and NaN keys are Lua's own errors.
fn set_field(table: &Table, key: Value, value: Value) -> Result<(), DecodeError> {
    match &key {
        Value::Nil => {
            return Err(DecodeError::Fail(Fail::Bare(
                b"table index is nil".to_vec(),
            )));
        }
        Value::Number(n) if n.is_nan() => {
            return Err(DecodeError::Fail(Fail::Bare(
                b"table index is NaN".to_vec(),
            )));
        }
        _ => {}
    }
    table.raw_set(key, value)?;
    Ok(())
}

/// Reads one header and, for scalars, the value itself.
fn decode_item(lua: &Lua, c: &mut Cursor) -> Result<Item, DecodeError> {
    let tag = c.take(1)?[0];
    let int = |n: i64| Item::Value(number(n as f64));
    Ok(match tag {
        0xcc => int(i64::from(c.take(1)?[0])),
        0xd0 => int(i64::from(c.take(1)?[0] as i8)),
        0xcd => int(i64::from(u16::from_be_bytes(c.take_array()?))),
        0xd1 => int(i64::from(i16::from_be_bytes(c.take_array()?))),
        0xce => int(i64::from(u32::from_be_bytes(c.take_array()?))),
        0xd2 => int(i64::from(i32::from_be_bytes(c.take_array()?))),
        // Pushed through lua_Integer: values past i64::MAX come back negative.
        0xcf => int(u64::from_be_bytes(c.take_array()?) as i64),
        0xd3 => int(i64::from_be_bytes(c.take_array()?)),
        0xc0 => Item::Value(Value::Nil),
        0xc3 => Item::Value(Value::Boolean(true)),
        0xc2 => Item::Value(Value::Boolean(false)),
        0xca => Item::Value(number(f64::from(f32::from_be_bytes(c.take_array()?)))),
        0xcb => Item::Value(number(f64::from_be_bytes(c.take_array()?))),
        0xd9 => {
            let n = usize::from(c.take(1)?[0]);
            string(lua, c, n)?
        }
        0xda => {
            let n = usize::from(u16::from_be_bytes(c.take_array()?));
            string(lua, c, n)?
        }
        0xdb => {
            let n = u32::from_be_bytes(c.take_array()?) as usize;
            string(lua, c, n)?
        }
        0xdc => Item::Array(usize::from(u16::from_be_bytes(c.take_array()?))),
        0xdd => Item::Array(u32::from_be_bytes(c.take_array()?) as usize),
        0xde => Item::Map(usize::from(u16::from_be_bytes(c.take_array()?))),
        0xdf => Item::Map(u32::from_be_bytes(c.take_array()?) as usize),
        0x00..=0x7f => int(i64::from(tag)),
        0xe0..=0xff => int(i64::from(tag as i8)),
        0xa0..=0xbf => string(lua, c, usize::from(tag & 0x1f))?,
        0x90..=0x9f => Item::Array(usize::from(tag & 0x0f)),
        0x80..=0x8f => Item::Map(usize::from(tag & 0x0f)),
        _ => return Err(DecodeError::BadFormat),
    })
}

/// A string of `n` bytes; the length is checked against the input before any copy.
fn string(lua: &Lua, c: &mut Cursor, n: usize) -> Result<Item, DecodeError> {
    let bytes = c.take(n)?;
    Ok(Item::Value(Value::String(lua.create_string(bytes)?)))
}

#[cfg(test)]
mod tests {
    //! Byte-exact encodings and lua-cmsgpack's decoding rules and errors.
    use crate::libs::testing::{error, eval};

    fn hex(expr: &str) -> String {
        eval(&format!(
            "return (string.gsub({expr}, '.', function(c) return string.format('%02x', string.byte(c)) end))"
        ))
    }

    #[test]
    fn integers_take_the_smallest_form() {
        assert_eq!(
            hex("cmsgpack.pack(0, 127, 128, 255, 256)"),
            "007fcc80ccffcd0100"
        );
        assert_eq!(
            hex("cmsgpack.pack(65536, 2^32)"),
            "ce00010000cf0000000100000000"
        );
        assert_eq!(hex("cmsgpack.pack(-1, -32, -33, -129)"), "ffe0d0dfd1ff7f");
        assert_eq!(
            hex("cmsgpack.pack(-2^31, -2^31-1)"),
            "d280000000d3ffffffff7fffffff"
        );
        assert_eq!(hex("cmsgpack.pack(-2^63)"), "d38000000000000000");
        assert_eq!(hex("cmsgpack.pack(2^63)"), "ca5f000000");
        assert_eq!(hex("cmsgpack.pack(2^63 + 2^20)"), "cb43e0000000000200");
        assert_eq!(hex("cmsgpack.pack(-0.0)"), "00");
    }

    #[test]
    fn floats_are_float32_when_lossless() {
        assert_eq!(hex("cmsgpack.pack(1.5)"), "ca3fc00000");
        assert_eq!(hex("cmsgpack.pack(0.1)"), "cb3fb999999999999a");
        assert_eq!(hex("cmsgpack.pack(1/0)"), "ca7f800000");
        assert_eq!(hex("cmsgpack.pack(-1/0)"), "caff800000");
    }

    #[test]
    fn strings_tables_and_others() {
        assert_eq!(hex("cmsgpack.pack('abc')"), "a3616263");
        assert_eq!(hex("cmsgpack.pack(string.rep('x', 32)):sub(1, 2)"), "d920");
        assert_eq!(
            hex("cmsgpack.pack(string.rep('x', 256)):sub(1, 3)"),
            "da0100"
        );
        assert_eq!(
            hex("cmsgpack.pack(string.rep('x', 65536)):sub(1, 5)"),
            "db00010000"
        );
        assert_eq!(hex("cmsgpack.pack({1, 2, 3})"), "93010203");
        assert_eq!(hex("cmsgpack.pack({})"), "90");
        assert_eq!(hex("cmsgpack.pack({a = 1})"), "81a16101");
        assert_eq!(hex("cmsgpack.pack({[1] = 1, [3] = 3})"), "8201010303");
        assert_eq!(hex("cmsgpack.pack(true, false, nil, print)"), "c3c2c0c0");
        assert_eq!(hex("cmsgpack.pack({[1.5] = 1})"), "81ca3fc0000001");
    }

    #[test]
    fn nesting_stops_at_sixteen() {
        let code = "local t = {} t[1] = t return cmsgpack.pack(t)";
        assert_eq!(
            hex(&format!("(function() {code} end)()")),
            format!("{}c0", "91".repeat(16))
        );
    }

    #[test]
    fn unpack_round_trips_and_returns_many() {
        assert_eq!(
            eval("return table.concat({cmsgpack.unpack(cmsgpack.pack(1, -2, 'x', 0.5))}, ',')"),
            "1,-2,x,0.5"
        );
        assert_eq!(
            eval("local t = cmsgpack.unpack(cmsgpack.pack({1, {a = 'b'}})) return t[2].a"),
            "b"
        );
        assert_eq!(
            eval("return cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255')"),
            "-1"
        );
        assert_eq!(eval("return select('#', cmsgpack.unpack(''))"), "0");
        assert_eq!(
            eval("return select('#', cmsgpack.unpack(string.rep('\\1', 7999)))"),
            "7999"
        );
    }

    #[test]
    fn unpack_one_and_limit_return_the_next_offset() {
        assert_eq!(
            eval("return table.concat({cmsgpack.unpack_one(cmsgpack.pack(1, 2))}, ',')"),
            "1,1"
        );
        assert_eq!(
            eval("return table.concat({cmsgpack.unpack_one(cmsgpack.pack(1, 2), 1)}, ',')"),
            "-1,2"
        );
        assert_eq!(
            eval("return table.concat({cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}, ',')"),
            "2,1,2"
        );
        assert_eq!(
            eval("return table.concat({cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0)}, ',')"),
            "1,2,3"
        );
        assert_eq!(
            eval("return table.concat({cmsgpack.unpack_one('\\1', 1)}, ',')"),
            "-1"
        );
    }

    #[test]
    fn unpack_errors() {
        assert_eq!(
            error("return cmsgpack.unpack('\\146\\1')"),
            "user_script:1: Missing bytes in input."
        );
        assert_eq!(
            error("return cmsgpack.unpack('\\219\\255\\255\\255\\255')"),
            "user_script:1: Missing bytes in input."
        );
        assert_eq!(
            error("return cmsgpack.unpack('\\221\\255\\255\\255\\255')"),
            "user_script:1: Missing bytes in input."
        );
        assert_eq!(
            error("return cmsgpack.unpack('\\193')"),
            "user_script:1: Bad data format in input."
        );
        assert_eq!(
            error("return cmsgpack.unpack('\\129\\192\\1')"),
            "table index is nil"
        );
        assert_eq!(
            error("return cmsgpack.unpack_one('\\1', -1)"),
            "user_script:1: Invalid request to unpack with offset of -1 and limit of 1."
        );
        assert_eq!(
            error("return cmsgpack.unpack_one('\\1', 5)"),
            "user_script:1: Start offset 5 greater than input length 1."
        );
        assert_eq!(
            error("return cmsgpack.pack()"),
            "user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.)"
        );
        assert_eq!(
            error("return cmsgpack.unpack()"),
            "user_script:1: bad argument #1 to 'unpack' (string expected, got no value)"
        );
        assert_eq!(
            error("return cmsgpack.unpack(string.rep('\\1', 8000))"),
            format!("user_script:1: {}", super::TOO_MANY)
        );
        assert_eq!(
            error("return cmsgpack.unpack(string.rep('\\145', 5000) .. '\\1')"),
            "user_script:1: stack overflow (in function mp_decode_to_lua_array)"
        );
        assert_eq!(
            error("return cmsgpack.unpack(string.rep('\\129\\1', 5000) .. '\\1')"),
            format!("user_script:1: {}", super::TOO_MANY)
        );
    }
}
