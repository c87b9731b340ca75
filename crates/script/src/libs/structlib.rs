//! `struct`: Roberto Ierusalimschy's struct library as Redis ships it: `pack`, `unpack` and
//! `size` over a format language.
//!
//! # Format
//! `>` big endian, `<` little endian (the default, x86-64's native order), `!n` maximum
//! alignment (default 8), space ignored; `b`/`B` char, `h`/`H` short, `l`/`L` long,
//! `T` size_t, `i`/`I` int with an optional size (1..=32, default 4), `f` float,
//! `d` double, `c` fixed string (`cN`, `c0` = whole string or the previous result's
//! length), `s` zero-terminated string, `x` one zero byte. Lower case is signed.
//!
//! Sizes are those of x86-64 Linux, where Redis is built. The format stops at its first
//! NUL byte, as the C code reads it as a C string. Lengths in the format are checked
//! against the data before anything is copied, so a claimed size never allocates.

use mlua::{Lua, Table, Value};

use super::{
    c_double_to_i64, c_function, number, one, raise, Args, LuaStack, Outcome, Returns, MAX_C_STACK,
};

/// The strongest alignment on the platform (`offsetof(struct { char; double; }, d)`).
const MAX_ALIGN: usize = 8;
/// The widest integer `i`/`I` may name.
const MAX_INT_SIZE: usize = 32;

/// Builds the `struct` table.
pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", c_function(lua, pack)?)?;
    t.raw_set("unpack", c_function(lua, unpack)?)?;
    t.raw_set("size", c_function(lua, size)?)?;
    Ok(t)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Endian {
    Big,
    Little,
}

/// Endianness and maximum alignment in force while a format is read.
struct Header {
    endian: Endian,
    align: usize,
}

impl Header {
    fn new() -> Self {
        Header {
            endian: Endian::Little,
            align: 1,
        }
    }
}

/// A format string being read, one option at a time.
struct Format {
    bytes: Vec<u8>,
    pos: usize,
}

impl Format {
    fn new(a: &Args) -> Outcome<Self> {
        let s = a.check_bytes(1)?;
        let all = s.as_bytes();
        // The C code sees a C string: it ends at the first NUL.
        let end = all.iter().position(|&b| b == 0).unwrap_or(all.len());
        Ok(Format {
            bytes: all[..end].to_vec(),
            pos: 0,
        })
    }

    fn next_option(&mut self) -> Option<u8> {
        let opt = self.bytes.get(self.pos).copied()?;
        self.pos += 1;
        Some(opt)
    }

    /// A decimal count after an option, or `default` when none follows.
    fn number(&mut self, default: usize) -> Outcome<usize> {
        if !self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut a: i32 = 0;
        while let Some(&d) = self.bytes.get(self.pos).filter(|b| b.is_ascii_digit()) {
            let digit = i32::from(d - b'0');
            if a > i32::MAX / 10 || a * 10 > i32::MAX - digit {
                return raise("integral size overflow");
            }
            a = a * 10 + digit;
            self.pos += 1;
        }
        Ok(a as usize)
    }

    /// The size of option `opt`, reading its count if it takes one (0 for options that
    /// occupy no fixed space).
    fn option_size(&mut self, opt: u8) -> Outcome<usize> {
        Ok(match opt {
            b'B' | b'b' | b'x' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => self.number(1)?,
            b'i' | b'I' => {
                let size = self.number(4)?;
                if size > MAX_INT_SIZE {
                    return raise(format!(
                        "integral size {size} is larger than limit of {MAX_INT_SIZE}"
                    ));
                }
                size
            }
            _ => 0,
        })
    }

    /// Endianness, alignment and spaces; any other option is invalid.
    fn control(&mut self, a: &Args, opt: u8, h: &mut Header) -> Outcome<()> {
        match opt {
            b' ' => Ok(()),
            b'>' => {
                h.endian = Endian::Big;
                Ok(())
            }
            b'<' => {
                h.endian = Endian::Little;
                Ok(())
            }
            b'!' => {
                let align = self.number(MAX_ALIGN)?;
                if !align.is_power_of_two() {
                    return raise(format!("alignment {align} is not a power of 2"));
                }
                h.align = align;
                Ok(())
            }
            _ => {
                let mut m = b"invalid format option '".to_vec();
                m.push(opt);
                m.push(b'\'');
                a.arg_error(1, &m)
            }
        }
    }
}

/// Padding needed before an item of `size` bytes at offset `len`. The arithmetic is the
/// C library's, wrapping included, so odd sizes such as `i3` pad as they do in Redis.
fn padding(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    size.wrapping_sub(len & size.wrapping_sub(1)) & size.wrapping_sub(1)
}

/// The C cast `(unsigned long)d` as gcc emits it for x86-64 (SSE2).
fn c_double_to_u64(d: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    // NaN compares "below" here (comisd sets the carry flag), as in the generated code.
    if d.is_nan() || d < TWO_63 {
        c_double_to_i64(d) as u64
    } else {
        (c_double_to_i64(d - TWO_63) as u64) ^ (1 << 63)
    }
}

fn pack(a: &Args) -> Outcome<Returns> {
    let mut fmt = Format::new(a)?;
    let mut h = Header::new();
    let mut arg = 2;
    let mut out: Vec<u8> = Vec::new();
    let mut total: usize = 0;
    while let Some(opt) = fmt.next_option() {
        let mut size = fmt.option_size(opt)?;
        let pad = padding(total, &h, opt, size);
        total = total.wrapping_add(pad);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = pack_number(a, arg)?;
                arg += 1;
                let value = if n < 0.0 {
                    c_double_to_i64(n) as u64
                } else {
                    c_double_to_u64(n)
                };
                put_integer(&mut out, value, h.endian, size);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = pack_number(a, arg)? as f32;
                arg += 1;
                out.extend_from_slice(&match h.endian {
                    Endian::Big => f.to_be_bytes(),
                    Endian::Little => f.to_le_bytes(),
                });
            }
            b'd' => {
                let d = pack_number(a, arg)?;
                arg += 1;
                out.extend_from_slice(&match h.endian {
                    Endian::Big => d.to_be_bytes(),
                    Endian::Little => d.to_le_bytes(),
                });
            }
            b'c' | b's' => {
                let s = pack_bytes(a, arg)?;
                arg += 1;
                let s = s.as_bytes();
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // The C code reports the argument after the string (it has already
                    // advanced its counter).
                    return a.arg_error(arg, b"string too short");
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                    size += 1;
                }
            }
            _ => fmt.control(a, opt, &mut h)?,
        }
        total = total.wrapping_add(size);
    }
    one(Value::String(a.lua.create_string(&out)?))
}

/// `pack` pushes a nil mark right after its arguments, so the first missing one reads
/// as nil, not "no value".
fn pack_number(a: &Args, arg: usize) -> Outcome<f64> {
    if arg > a.count() {
        return a.arg_error(arg, b"number expected, got nil");
    }
    a.check_number(arg)
}

/// See [`pack_number`].
fn pack_bytes(a: &Args, arg: usize) -> Outcome<mlua::String> {
    if arg > a.count() {
        return a.arg_error(arg, b"string expected, got nil");
    }
    a.check_bytes(arg)
}

/// Appends the low `size` bytes of `value` (zeros beyond its 8 bytes).
fn put_integer(out: &mut Vec<u8>, value: u64, endian: Endian, size: usize) {
    let byte = |i: usize| if i < 8 { (value >> (8 * i)) as u8 } else { 0 };
    match endian {
        Endian::Little => out.extend((0..size).map(byte)),
        Endian::Big => out.extend((0..size).rev().map(byte)),
    }
}

/// Reads an integer of `size` bytes. Wider than 8 bytes keeps the last 8 shifted in, and
/// the sign mask uses the C shift as x86-64 executes it (count modulo 64).
fn get_integer(bytes: &[u8], endian: Endian, signed: bool) -> f64 {
    let mut l: u64 = 0;
    let mut shift_in = |b: u8| l = (l << 8) | u64::from(b);
    match endian {
        Endian::Big => bytes.iter().copied().for_each(&mut shift_in),
        Endian::Little => bytes.iter().rev().copied().for_each(&mut shift_in),
    }
    if !signed {
        return l as f64;
    }
    let bits = (bytes.len() as u32).wrapping_mul(8).wrapping_sub(1);
    let mask = u64::MAX.wrapping_shl(bits);
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

fn unpack(a: &Args) -> Outcome<Returns> {
    let mut fmt = Format::new(a)?;
    let data = a.check_bytes(2)?;
    let data = data.as_bytes();
    let len = data.len();
    // size_t in C: a negative offset wraps to a huge one and fails the length check.
    let mut pos = a.opt_integer(3, 1)? as u64 as usize;
    if pos == 0 {
        return a.arg_error(3, b"offset must be 1 or greater");
    }
    pos -= 1;
    let mut h = Header::new();
    // Results wait in a Lua table: thousands of strings must not each hold an mlua
    // reference.
    let mut results = LuaStack::new(a.lua)?;
    while let Some(opt) = fmt.next_option() {
        let mut size = fmt.option_size(opt)?;
        pos = pos.wrapping_add(padding(pos, &h, opt, size));
        if !(size <= len && pos <= len - size) {
            return a.arg_error(2, b"data string too short");
        }
        if a.count() + results.len() + 2 > MAX_C_STACK {
            return raise("stack overflow (too many results)");
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let signed = opt.is_ascii_lowercase();
                results.push(number(get_integer(
                    &data[pos..pos + size],
                    h.endian,
                    signed,
                )))?;
            }
            b'x' => {}
            b'f' => {
                let mut b = [0u8; 4];
                b.copy_from_slice(&data[pos..pos + 4]);
                let f = match h.endian {
                    Endian::Big => f32::from_be_bytes(b),
                    Endian::Little => f32::from_le_bytes(b),
                };
                results.push(number(f64::from(f)))?;
            }
            b'd' => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&data[pos..pos + 8]);
                let d = match h.endian {
                    Endian::Big => f64::from_be_bytes(b),
                    Endian::Little => f64::from_le_bytes(b),
                };
                results.push(number(d))?;
            }
            b'c' => {
                if size == 0 {
                    // `c0` takes its length from the previous result, which must be a
                    // number or a string Lua reads as one.
                    let previous = match results.len() {
                        0 => None,
                        _ => super::to_number(a.lua, &results.top()?)?,
                    };
                    let Some(n) = previous else {
                        return raise("format 'c0' needs a previous size");
                    };
                    size = c_double_to_u64(n) as usize;
                    results.pop()?;
                    if !(size <= len && pos <= len - size) {
                        return a.arg_error(2, b"data string too short");
                    }
                }
                results.push(Value::String(a.lua.create_string(&data[pos..pos + size])?))?;
            }
            b's' => {
                let Some(end) = data[pos..].iter().position(|&b| b == 0) else {
                    return raise("unfinished string in data");
                };
                results.push(Value::String(a.lua.create_string(&data[pos..pos + end])?))?;
                size = end + 1;
            }
            _ => fmt.control(a, opt, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    results.push(number(pos.wrapping_add(1) as i64 as f64))?;
    Ok(results.into_returns())
}

fn size(a: &Args) -> Outcome<Returns> {
    let mut fmt = Format::new(a)?;
    let mut h = Header::new();
    let mut pos: usize = 0;
    while let Some(opt) = fmt.next_option() {
        let size = fmt.option_size(opt)?;
        pos = pos.wrapping_add(padding(pos, &h, opt, size));
        if opt == b's' {
            return a.arg_error(1, b"option 's' has no fixed size");
        }
        if opt == b'c' && size == 0 {
            return a.arg_error(1, b"option 'c0' has no fixed size");
        }
        // Letters and digits that are not options are skipped here, unlike in pack.
        if !opt.is_ascii_alphanumeric() {
            fmt.control(a, opt, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    one(number(pos as i64 as f64))
}

#[cfg(test)]
mod tests {
    //! The format language, alignment, and lua_struct's error texts.
    use crate::libs::testing::{error, eval};

    fn hex(expr: &str) -> String {
        eval(&format!(
            "return (string.gsub({expr}, '.', function(c) return string.format('%02x', string.byte(c)) end))"
        ))
    }

    #[test]
    fn pack_integers_in_both_orders() {
        assert_eq!(hex("struct.pack('>i', 1)"), "00000001");
        assert_eq!(hex("struct.pack('<i', 1)"), "01000000");
        assert_eq!(hex("struct.pack('i', -2)"), "feffffff");
        assert_eq!(hex("struct.pack('>h', -2)"), "fffe");
        assert_eq!(hex("struct.pack('>I3', 0x010203)"), "010203");
        assert_eq!(hex("struct.pack('>i10', -1)"), "0000ffffffffffffffff");
        assert_eq!(hex("struct.pack('>L', 2^63)"), "8000000000000000");
        assert_eq!(hex("struct.pack('>L', 2^64)"), "0000000000000000");
        assert_eq!(hex("struct.pack('>b', 300)"), "2c");
    }

    #[test]
    fn pack_floats_strings_and_padding() {
        assert_eq!(hex("struct.pack('>d', 1.5)"), "3ff8000000000000");
        assert_eq!(hex("struct.pack('<f', 1.5)"), "0000c03f");
        assert_eq!(hex("struct.pack('c3', 'abcdef')"), "616263");
        assert_eq!(hex("struct.pack('c0', 'abc')"), "616263");
        assert_eq!(hex("struct.pack('s', 'ab')"), "616200");
        assert_eq!(hex("struct.pack('bxb', 1, 2)"), "010002");
        assert_eq!(hex("struct.pack('!4 b i', 1, 2)"), "0100000002000000");
        assert_eq!(
            hex("struct.pack('! b d', 1, 0)"),
            format!("01{}", "00".repeat(15))
        );
        assert_eq!(hex("struct.pack('b\\0b', 1, 2)"), "01");
    }

    #[test]
    fn unpack_returns_values_and_next_position() {
        assert_eq!(
            eval("return table.concat({struct.unpack('>i', '\\0\\0\\1\\0')}, ',')"),
            "256,5"
        );
        assert_eq!(
            eval("return table.concat({struct.unpack('<h', '\\255\\255')}, ',')"),
            "-1,3"
        );
        assert_eq!(
            eval("return table.concat({struct.unpack('<H', '\\255\\255')}, ',')"),
            "65535,3"
        );
        assert_eq!(
            eval("return table.concat({struct.unpack('b', 'xa', 2)}, ',')"),
            "97,3"
        );
        assert_eq!(
            eval("return table.concat({struct.unpack('sB', 'hi\\0\\7')}, ',')"),
            "hi,7,5"
        );
        assert_eq!(
            eval("return table.concat({struct.unpack('bc0', '\\3abcd')}, ',')"),
            "abc,5"
        );
        assert_eq!(
            eval("return table.concat({struct.unpack('c1c0', '2abcd')}, ',')"),
            "ab,4"
        );
        assert_eq!(
            eval("return table.concat({struct.unpack('>d', struct.pack('>d', 0.1))}, ',')"),
            "0.1,9"
        );
        assert_eq!(
            eval(
                "return table.concat({struct.unpack('!4 b i', struct.pack('!4 b i', 1, 2))}, ',')"
            ),
            "1,2,9"
        );
    }

    #[test]
    fn size_of_formats() {
        assert_eq!(eval("return struct.size('bhilTfdx')"), "36");
        assert_eq!(eval("return struct.size('!8 b d')"), "16");
        assert_eq!(eval("return struct.size('i7 c9 z5')"), "16");
    }

    #[test]
    fn errors_match_lua_struct() {
        assert_eq!(
            error("return struct.pack('q', 1)"),
            "user_script:1: bad argument #1 to 'pack' (invalid format option 'q')"
        );
        assert_eq!(
            error("return struct.pack('i33', 1)"),
            "user_script:1: integral size 33 is larger than limit of 32"
        );
        assert_eq!(
            error("return struct.pack('i99999999999', 1)"),
            "user_script:1: integral size overflow"
        );
        assert_eq!(
            error("return struct.pack('!3', 1)"),
            "user_script:1: alignment 3 is not a power of 2"
        );
        assert_eq!(
            error("return struct.pack('c5', 'ab')"),
            "user_script:1: bad argument #3 to 'pack' (string too short)"
        );
        assert_eq!(
            error("return struct.pack('i')"),
            "user_script:1: bad argument #2 to 'pack' (number expected, got nil)"
        );
        assert_eq!(
            error("return struct.unpack('i', 'abc')"),
            "user_script:1: bad argument #2 to 'unpack' (data string too short)"
        );
        assert_eq!(
            error("return struct.unpack('i', 'abcd', 0)"),
            "user_script:1: bad argument #3 to 'unpack' (offset must be 1 or greater)"
        );
        assert_eq!(
            error("return struct.unpack('i', 'abcd', -1)"),
            "user_script:1: bad argument #2 to 'unpack' (data string too short)"
        );
        assert_eq!(
            error("return struct.unpack('c0', 'abcd')"),
            "user_script:1: format 'c0' needs a previous size"
        );
        assert_eq!(
            error("return struct.unpack('s', 'abcd')"),
            "user_script:1: unfinished string in data"
        );
        assert_eq!(
            error("return struct.size('s')"),
            "user_script:1: bad argument #1 to 'size' (option 's' has no fixed size)"
        );
        assert_eq!(
            error("return struct.size('c0')"),
            "user_script:1: bad argument #1 to 'size' (option 'c0' has no fixed size)"
        );
        assert_eq!(
            error("return struct.unpack(string.rep('b', 9000), string.rep('a', 9000))"),
            "user_script:1: stack overflow (too many results)"
        );
    }
}
