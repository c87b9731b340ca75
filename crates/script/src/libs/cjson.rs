//! `cjson`: Lua CJSON 2.1.0 as Redis builds it (global `cjson`, numbers printed with
//! `%.14g`, invalid numbers refused when encoding and accepted when decoding).
//!
//! Encoding decides array or object per table: keys all integral numbers >= 1 make an
//! array of length max(key) (holes become `null`) unless the array is "excessively sparse"
//! (`encode_sparse_array`); anything else is an object, with numeric keys quoted. Empty
//! tables are `{}`. `/` and DEL are escaped. Decoding maps `null` to `cjson.null` (a NULL
//! light userdata) and reports errors with CJSON's token names and 1-based offsets.
//!
//! Both directions are iterative, and count the Lua stack slots the recursive C code
//! would hold, so a script that raises the depth limits fails where Redis fails instead of
//! overflowing our stack. Each module table (and each `cjson.new()`) has its own settings.

use std::cell::RefCell;
use std::rc::Rc;

use mlua::{Function, LightUserData, Lua, MultiValue, Table, Value};

use super::{
    c_double_to_i32, c_function, format_g, number, number_of, one, raise, strtod_prefix, top_table,
    type_name, Args, LuaStack, Outcome, Returns, MAX_C_STACK,
};

/// Settings of one cjson module table, with Redis's defaults.
struct Config {
    sparse_convert: i32,
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// 0 refuse, 1 print (`nan`, `inf`), 2 print `null`.
    encode_invalid_numbers: i32,
    decode_invalid_numbers: i32,
    /// Only a memory strategy in C; kept so the setting reads back as it was set.
    encode_keep_buffer: i32,
    encode_number_precision: i32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: 0,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            decode_invalid_numbers: 1,
            encode_keep_buffer: 1,
            encode_number_precision: 14,
        }
    }
}

type Shared = Rc<RefCell<Config>>;

/// Builds the cjson module table.
pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    // Objects are walked with the base library's `next`, taken now so a script that
    // replaces the global later changes nothing.
    let next_fn: Function = lua.globals().raw_get("next")?;
    new_module(lua, next_fn)
}

/// A cjson module table with fresh settings (also what `cjson.new()` returns).
fn new_module(lua: &Lua, next_fn: Function) -> mlua::Result<Table> {
    let cfg: Shared = Rc::new(RefCell::new(Config::default()));
    let t = lua.create_table()?;
    let c = cfg.clone();
    let walk = next_fn.clone();
    t.raw_set("encode", c_function(lua, move |a| encode(a, &c, &walk))?)?;
    let c = cfg.clone();
    t.raw_set("decode", c_function(lua, move |a| decode(a, &c))?)?;
    let c = cfg.clone();
    t.raw_set(
        "encode_sparse_array",
        c_function(lua, move |a| encode_sparse_array(a, &c))?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "encode_max_depth",
        c_function(lua, move |a| {
            integer_setting(a, 1, i32::MAX, |cfg| &mut cfg.encode_max_depth, &c)
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "decode_max_depth",
        c_function(lua, move |a| {
            integer_setting(a, 1, i32::MAX, |cfg| &mut cfg.decode_max_depth, &c)
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "encode_number_precision",
        c_function(lua, move |a| {
            integer_setting(a, 1, 14, |cfg| &mut cfg.encode_number_precision, &c)
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "encode_keep_buffer",
        c_function(lua, move |a| {
            enum_setting(a, &["off", "on"], |cfg| &mut cfg.encode_keep_buffer, &c)
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "encode_invalid_numbers",
        c_function(lua, move |a| {
            enum_setting(
                a,
                &["off", "on", "null"],
                |cfg| &mut cfg.encode_invalid_numbers,
                &c,
            )
        })?,
    )?;
    let c = cfg;
    t.raw_set(
        "decode_invalid_numbers",
        c_function(lua, move |a| {
            enum_setting(a, &["off", "on"], |cfg| &mut cfg.decode_invalid_numbers, &c)
        })?,
    )?;
    t.raw_set(
        "new",
        c_function(lua, move |a| {
            one(Value::Table(new_module(a.lua, next_fn.clone())?))
        })?,
    )?;
    t.raw_set("null", null())?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

// ---------------------------------------------------------------------------------------
// Settings

/// Refuses more than `max_args` arguments, as every setting function does.
fn check_arg_count(a: &Args, max_args: usize) -> Outcome<()> {
    if a.count() > max_args {
        return a.arg_error(max_args + 1, b"found too many arguments");
    }
    Ok(())
}

/// Applies argument `n` to an integer setting (nil keeps it) and returns the value.
fn apply_integer(a: &Args, n: usize, min: i32, max: i32, setting: &mut i32) -> Outcome<Value> {
    if !matches!(a.get(n), None | Some(Value::Nil)) {
        // `int value = luaL_checkinteger(...)`: the C assignment keeps the low 32 bits.
        let value = a.check_integer(n)? as i32;
        if !(min <= value && value <= max) {
            // CJSON reports argument 1 whichever argument it checks.
            let m = format!("expected integer between {min} and {max}");
            return a.arg_error(1, m.as_bytes());
        }
        *setting = value;
    }
    Ok(number(f64::from(*setting)))
}

/// Applies argument `n` to an enumerated setting: booleans mean off/on, strings name an
/// option. Off and on read back as booleans, other options as their name.
fn apply_enum(a: &Args, n: usize, options: &[&str], setting: &mut i32) -> Outcome<Value> {
    match a.get(n) {
        None | Some(Value::Nil) => {}
        Some(Value::Boolean(b)) => *setting = i32::from(b),
        Some(_) => {
            let name = a.check_bytes(n)?;
            let name = name.as_bytes();
            match options.iter().position(|o| o.as_bytes() == &name[..]) {
                Some(i) => *setting = i as i32,
                None => {
                    let mut m = b"invalid option '".to_vec();
                    m.extend_from_slice(&name);
                    m.push(b'\'');
                    return a.arg_error(n, &m);
                }
            }
        }
    }
    Ok(if *setting == 0 || *setting == 1 {
        Value::Boolean(*setting == 1)
    } else {
        let name = options.get(*setting as usize).copied().unwrap_or("");
        Value::String(a.lua.create_string(name)?)
    })
}

fn integer_setting(
    a: &Args,
    min: i32,
    max: i32,
    field: fn(&mut Config) -> &mut i32,
    cfg: &Shared,
) -> Outcome<Returns> {
    check_arg_count(a, 1)?;
    let mut cfg = cfg.borrow_mut();
    one(apply_integer(a, 1, min, max, field(&mut cfg))?)
}

fn enum_setting(
    a: &Args,
    options: &[&str],
    field: fn(&mut Config) -> &mut i32,
    cfg: &Shared,
) -> Outcome<Returns> {
    check_arg_count(a, 1)?;
    let mut cfg = cfg.borrow_mut();
    one(apply_enum(a, 1, options, field(&mut cfg))?)
}

/// `encode_sparse_array([convert [, ratio [, safe]]])`.
fn encode_sparse_array(a: &Args, cfg: &Shared) -> Outcome<Returns> {
    check_arg_count(a, 3)?;
    let mut cfg = cfg.borrow_mut();
    let convert = apply_enum(a, 1, &["off", "on"], &mut cfg.sparse_convert)?;
    let ratio = apply_integer(a, 2, 0, i32::MAX, &mut cfg.sparse_ratio)?;
    let safe = apply_integer(a, 3, 0, i32::MAX, &mut cfg.sparse_safe)?;
    Ok(Returns::Values(MultiValue::from_vec(vec![
        convert, ratio, safe,
    ])))
}

// ---------------------------------------------------------------------------------------
// Encoding

/// A table being written. The table itself waits in the `open` Lua stack and an
/// object's iteration key in `cursors`, so depth costs no mlua references.
enum EncodeFrame {
    Array { next: i32, len: i32 },
    Object { first: bool },
}

impl EncodeFrame {
    /// Slots the C encoder holds while it writes this table's members: the element
    /// for an array, key and value for an object.
    fn slots(&self) -> usize {
        match self {
            EncodeFrame::Array { .. } => 1,
            EncodeFrame::Object { .. } => 2,
        }
    }
}

/// What writing one value started.
enum Opened {
    Nothing,
    Array(Table, i32),
    Object(Table),
}

fn encode(a: &Args, cfg: &Shared, next_fn: &Function) -> Outcome<Returns> {
    if a.count() != 1 {
        return a.arg_error(1, b"expected 1 argument");
    }
    let cfg = cfg.borrow();
    let mut out: Vec<u8> = Vec::new();
    let mut frames: Vec<EncodeFrame> = Vec::new();
    let mut open = LuaStack::new(a.lua)?;
    let mut cursors = LuaStack::new(a.lua)?;
    // The argument itself occupies one slot.
    let mut used = 1;
    let mut next = Some(a.value(1));
    loop {
        if let Some(value) = next.take() {
            let frame = match encode_value(&cfg, &mut out, value, frames.len(), used)? {
                Opened::Nothing => None,
                Opened::Array(table, len) => {
                    open.push(Value::Table(table))?;
                    Some(EncodeFrame::Array { next: 1, len })
                }
                Opened::Object(table) => {
                    open.push(Value::Table(table))?;
                    Some(EncodeFrame::Object { first: true })
                }
            };
            if let Some(frame) = frame {
                cursors.push(Value::Nil)?;
                used += frame.slots();
                frames.push(frame);
            }
        }
        // Find the next value to write, closing finished tables.
        let Some(frame) = frames.last_mut() else {
            break;
        };
        match frame {
            EncodeFrame::Array { next: i, len } => {
                if *i <= *len {
                    if *i > 1 {
                        out.push(b',');
                    }
                    next = Some(top_table(&open)?.raw_get::<Value>(*i)?);
                    *i += 1;
                    continue;
                }
                out.push(b']');
            }
            EncodeFrame::Object { first } => {
                let (key, value): (Value, Value) =
                    next_fn.call((top_table(&open)?, cursors.top()?))?;
                if !matches!(key, Value::Nil) {
                    if !*first {
                        out.push(b',');
                    }
                    *first = false;
                    encode_key(&cfg, &mut out, &key)?;
                    cursors.set_top(key)?;
                    next = Some(value);
                    continue;
                }
                out.push(b'}');
            }
        }
        if let Some(done) = frames.pop() {
            used -= done.slots();
        }
        open.pop()?;
        cursors.pop()?;
    }
    one(Value::String(a.lua.create_string(&out)?))
}

/// Writes a scalar, or opens a table (writing its bracket). `depth` counts the tables
/// already open.
fn encode_value(
    cfg: &Config,
    out: &mut Vec<u8>,
    value: Value,
    depth: usize,
    used: usize,
) -> Outcome<Opened> {
    match value {
        Value::String(s) => append_string(out, &s.as_bytes()),
        Value::Integer(_) | Value::Number(_) => {
            append_number(cfg, out, number_of(&value).unwrap_or(0.0), "number")?
        }
        Value::Boolean(true) => out.extend_from_slice(b"true"),
        Value::Boolean(false) => out.extend_from_slice(b"false"),
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Table(table) => {
            let depth = depth + 1;
            if depth > cfg.encode_max_depth as usize || used + 3 > MAX_C_STACK {
                return raise(format!("Cannot serialise, excessive nesting ({depth})"));
            }
            let len = array_length(cfg, &table)?;
            if len > 0 {
                out.push(b'[');
                return Ok(Opened::Array(table, len));
            }
            out.push(b'{');
            return Ok(Opened::Object(table));
        }
        other => {
            return raise(format!(
                "Cannot serialise {}: type not supported",
                type_name(&other)
            ))
        }
    }
    Ok(Opened::Nothing)
}

/// The array length CJSON gives a table: the largest key when every key is an integral
/// number of at least 1, or a value <= 0 meaning "write an object". `max` and `items`
/// are C ints, with the C conversions and wrap-around.
fn array_length(cfg: &Config, table: &Table) -> Outcome<i32> {
    let mut max: i32 = 0;
    let mut items: i32 = 0;
    for pair in table.pairs::<Value, Value>() {
        let (key, _) = pair?;
        match number_of(&key) {
            Some(k) if k != 0.0 && k.floor() == k && k >= 1.0 => {
                if k > f64::from(max) {
                    max = c_double_to_i32(k);
                }
                items = items.wrapping_add(1);
            }
            _ => return Ok(-1),
        }
    }
    if cfg.sparse_ratio > 0 && max > items.wrapping_mul(cfg.sparse_ratio) && max > cfg.sparse_safe {
        if cfg.sparse_convert == 0 {
            return raise("Cannot serialise table: excessively sparse array");
        }
        return Ok(-1);
    }
    Ok(max)
}

fn encode_key(cfg: &Config, out: &mut Vec<u8>, key: &Value) -> Outcome<()> {
    match key {
        Value::String(s) => {
            append_string(out, &s.as_bytes());
            out.push(b':');
        }
        Value::Integer(_) | Value::Number(_) => {
            out.push(b'"');
            append_number(cfg, out, number_of(key).unwrap_or(0.0), "number")?;
            out.extend_from_slice(b"\":");
        }
        other => {
            return raise(format!(
                "Cannot serialise {}: table key must be a number or string",
                type_name(other)
            ))
        }
    }
    Ok(())
}

fn append_number(cfg: &Config, out: &mut Vec<u8>, n: f64, what: &str) -> Outcome<()> {
    let invalid = n.is_nan() || n.is_infinite();
    match cfg.encode_invalid_numbers {
        0 if invalid => {
            return raise(format!("Cannot serialise {what}: must not be NaN or Inf"));
        }
        // "nan" spelled out: some C libraries would print "-nan".
        1 if n.is_nan() => {
            out.extend_from_slice(b"nan");
            return Ok(());
        }
        2 if invalid => {
            out.extend_from_slice(b"null");
            return Ok(());
        }
        _ => {}
    }
    let precision = cfg.encode_number_precision.clamp(1, 14) as u32;
    out.extend_from_slice(format_g(n, precision).as_bytes());
    Ok(())
}

fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 2);
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\x08' => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\x0c' => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0..=0x1f | 0x7f => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 15)]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

// ---------------------------------------------------------------------------------------
// Decoding

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TokenKind {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    String,
    Number,
    Boolean,
    Null,
    Colon,
    Comma,
    End,
    /// A lexical error; the text says which.
    Error(&'static str),
}

impl TokenKind {
    /// How CJSON names a token in its messages.
    fn name(self) -> &'static str {
        match self {
            TokenKind::ObjBegin => "T_OBJ_BEGIN",
            TokenKind::ObjEnd => "T_OBJ_END",
            TokenKind::ArrBegin => "T_ARR_BEGIN",
            TokenKind::ArrEnd => "T_ARR_END",
            TokenKind::String => "T_STRING",
            TokenKind::Number => "T_NUMBER",
            TokenKind::Boolean => "T_BOOLEAN",
            TokenKind::Null => "T_NULL",
            TokenKind::Colon => "T_COLON",
            TokenKind::Comma => "T_COMMA",
            TokenKind::End => "T_END",
            TokenKind::Error(text) => text,
        }
    }
}

struct Token {
    kind: TokenKind,
    /// 0-based offset of the token (of the offending byte for errors).
    index: usize,
    number: f64,
    boolean: bool,
}

/// The lexer. The C parser reads a NUL-terminated string, so a NUL byte, like the end
/// of the input, is `T_END`.
struct Lexer<'a> {
    data: &'a [u8],
    ptr: usize,
    /// The last string token's bytes.
    text: Vec<u8>,
    decode_invalid_numbers: bool,
}

impl Lexer<'_> {
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn starts_with(&self, word: &[u8]) -> bool {
        self.data.get(self.ptr..self.ptr + word.len()) == Some(word)
    }

    fn token(&self, kind: TokenKind, index: usize) -> Token {
        Token {
            kind,
            index,
            number: 0.0,
            boolean: false,
        }
    }

    fn error(&self, text: &'static str) -> Token {
        self.token(TokenKind::Error(text), self.ptr)
    }

    fn next(&mut self) -> Token {
        while matches!(self.at(self.ptr), b' ' | b'\t' | b'\n' | b'\r') {
            self.ptr += 1;
        }
        let start = self.ptr;
        let ch = self.at(start);
        let single = match ch {
            b'{' => Some(TokenKind::ObjBegin),
            b'}' => Some(TokenKind::ObjEnd),
            b'[' => Some(TokenKind::ArrBegin),
            b']' => Some(TokenKind::ArrEnd),
            b',' => Some(TokenKind::Comma),
            b':' => Some(TokenKind::Colon),
            _ => None,
        };
        if let Some(kind) = single {
            self.ptr += 1;
            return self.token(kind, start);
        }
        match ch {
            0 => self.token(TokenKind::End, start),
            b'"' => self.string(),
            b'-' | b'0'..=b'9' => {
                if !self.decode_invalid_numbers && self.is_invalid_number() {
                    return self.error("invalid number");
                }
                self.number()
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+' => {
                if self.starts_with(b"true") {
                    self.ptr += 4;
                    Token {
                        boolean: true,
                        ..self.token(TokenKind::Boolean, start)
                    }
                } else if self.starts_with(b"false") {
                    self.ptr += 5;
                    self.token(TokenKind::Boolean, start)
                } else if self.starts_with(b"null") {
                    self.ptr += 4;
                    self.token(TokenKind::Null, start)
                } else if self.decode_invalid_numbers && self.is_invalid_number() {
                    self.number()
                } else {
                    self.error("invalid token")
                }
            }
            _ => self.error("invalid token"),
        }
    }

    /// Numbers strtod accepts but strict JSON does not: leading `+`, hex, leading
    /// zeros, inf and nan.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.ptr;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        }
        if c <= b'9' {
            return false;
        }
        let word = |w: &[u8]| {
            self.data
                .get(p..p + 3)
                .is_some_and(|s| s.eq_ignore_ascii_case(w))
        };
        word(b"inf") || word(b"nan")
    }

    fn number(&mut self) -> Token {
        let start = self.ptr;
        let rest = self.data.get(start..).unwrap_or(&[]);
        let (value, consumed) = strtod_prefix(rest);
        if consumed == 0 {
            return self.error("invalid number");
        }
        self.ptr += consumed;
        Token {
            number: value,
            ..self.token(TokenKind::Number, start)
        }
    }

    fn string(&mut self) -> Token {
        let start = self.ptr;
        self.ptr += 1;
        self.text.clear();
        loop {
            let ch = self.at(self.ptr);
            if ch == b'"' {
                break;
            }
            if ch == 0 {
                return self.error("unexpected end of string");
            }
            if ch != b'\\' {
                self.text.push(ch);
                self.ptr += 1;
                continue;
            }
            let translated = match self.at(self.ptr + 1) {
                b'"' => b'"',
                b'\\' => b'\\',
                b'/' => b'/',
                b'b' => b'\x08',
                b't' => b'\t',
                b'n' => b'\n',
                b'f' => b'\x0c',
                b'r' => b'\r',
                b'u' => {
                    if !self.unicode_escape() {
                        return self.error("invalid unicode escape code");
                    }
                    continue;
                }
                _ => return self.error("invalid escape code"),
            };
            self.text.push(translated);
            self.ptr += 2;
        }
        self.ptr += 1;
        self.token(TokenKind::String, start)
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0;
        for i in 0..4 {
            v = v << 4 | char::from(self.at(at + i)).to_digit(16)?;
        }
        Some(v)
    }

    /// `\uXXXX`, or a surrogate pair of them, appended as UTF-8. False when malformed.
    fn unicode_escape(&mut self) -> bool {
        let Some(mut cp) = self.hex4(self.ptr + 2) else {
            return false;
        };
        let mut escape_len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return false;
            }
            if self.at(self.ptr + 6) != b'\\' || self.at(self.ptr + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.ptr + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            escape_len = 12;
        }
        push_utf8(&mut self.text, cp);
        self.ptr += escape_len;
        true
    }
}

/// UTF-8 for a code point up to 0x10FFFF (lone surrogates included, as CJSON does).
fn push_utf8(out: &mut Vec<u8>, cp: u32) {
    if cp <= 0x7F {
        out.push(cp as u8);
    } else if cp <= 0x7FF {
        out.extend_from_slice(&[(cp >> 6) as u8 | 0xC0, (cp & 0x3F) as u8 | 0x80]);
    } else if cp <= 0xFFFF {
        out.extend_from_slice(&[
            (cp >> 12) as u8 | 0xE0,
            ((cp >> 6) & 0x3F) as u8 | 0x80,
            (cp & 0x3F) as u8 | 0x80,
        ]);
    } else {
        out.extend_from_slice(&[
            (cp >> 18) as u8 | 0xF0,
            ((cp >> 12) & 0x3F) as u8 | 0x80,
            ((cp >> 6) & 0x3F) as u8 | 0x80,
            (cp & 0x3F) as u8 | 0x80,
        ]);
    }
}

/// An array or object being filled. The table waits in the `open` Lua stack and an
/// object's current key in `keys`, so depth costs no mlua references.
enum DecodeFrame {
    Array { index: i32 },
    Object,
}

impl DecodeFrame {
    /// Slots the C parser holds here while it parses a member: the table, and the key.
    fn slots(&self) -> usize {
        match self {
            DecodeFrame::Array { .. } => 1,
            DecodeFrame::Object => 2,
        }
    }
}

fn parse_error<T>(expected: &str, token: &Token) -> Outcome<T> {
    raise(format!(
        "Expected {expected} but found {} at character {}",
        token.kind.name(),
        token.index + 1
    ))
}

fn decode(a: &Args, cfg: &Shared) -> Outcome<Returns> {
    if a.count() != 1 {
        return a.arg_error(1, b"expected 1 argument");
    }
    let (max_depth, decode_invalid_numbers) = {
        let cfg = cfg.borrow();
        (cfg.decode_max_depth, cfg.decode_invalid_numbers != 0)
    };
    let input = a.check_bytes(1)?;
    let data = input.as_bytes();
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return raise("JSON parser does not support UTF-16 or UTF-32");
    }
    let mut lx = Lexer {
        data: &data,
        ptr: 0,
        text: Vec::new(),
        decode_invalid_numbers,
    };
    let lua = a.lua;
    let mut frames: Vec<DecodeFrame> = Vec::new();
    let mut open = LuaStack::new(lua)?;
    let mut keys = LuaStack::new(lua)?;
    // The argument occupies one slot.
    let mut used = 1;
    let mut token = lx.next();
    loop {
        let mut value = match token.kind {
            TokenKind::String => Value::String(lua.create_string(&lx.text)?),
            TokenKind::Number => number(token.number),
            TokenKind::Boolean => Value::Boolean(token.boolean),
            TokenKind::Null => null(),
            TokenKind::ObjBegin | TokenKind::ArrBegin => {
                let is_object = token.kind == TokenKind::ObjBegin;
                let depth = frames.len() + 1;
                let needed = if is_object { 3 } else { 2 };
                if depth > max_depth as usize || used + needed > MAX_C_STACK {
                    return raise(format!(
                        "Found too many nested data structures ({depth}) at character {}",
                        lx.ptr
                    ));
                }
                let table = lua.create_table()?;
                token = lx.next();
                let close = if is_object {
                    TokenKind::ObjEnd
                } else {
                    TokenKind::ArrEnd
                };
                if token.kind == close {
                    Value::Table(table)
                } else {
                    let frame = if is_object {
                        keys.push(Value::String(object_key(lua, &mut lx, &token)?))?;
                        token = lx.next();
                        DecodeFrame::Object
                    } else {
                        keys.push(Value::Nil)?;
                        DecodeFrame::Array { index: 1 }
                    };
                    open.push(Value::Table(table))?;
                    used += frame.slots();
                    frames.push(frame);
                    continue;
                }
            }
            _ => return parse_error("value", &token),
        };
        // Store the value in its container, then read on: a comma starts the next
        // member, a closing token finishes the container, which becomes the value.
        loop {
            let Some(frame) = frames.last_mut() else {
                token = lx.next();
                if token.kind != TokenKind::End {
                    return parse_error("the end", &token);
                }
                return one(value);
            };
            let table = top_table(&open)?;
            let close = match frame {
                DecodeFrame::Array { index } => {
                    table.raw_set(*index, value)?;
                    *index = index.wrapping_add(1);
                    TokenKind::ArrEnd
                }
                DecodeFrame::Object => {
                    table.raw_set(keys.top()?, value)?;
                    TokenKind::ObjEnd
                }
            };
            token = lx.next();
            if token.kind != close {
                if token.kind != TokenKind::Comma {
                    let expected = match close {
                        TokenKind::ArrEnd => "comma or array end",
                        _ => "comma or object end",
                    };
                    return parse_error(expected, &token);
                }
                token = lx.next();
                if close == TokenKind::ObjEnd {
                    keys.set_top(Value::String(object_key(lua, &mut lx, &token)?))?;
                    token = lx.next();
                }
                break;
            }
            if let Some(done) = frames.pop() {
                used -= done.slots();
            }
            keys.pop()?;
            value = open.pop()?;
        }
    }
}

/// Reads `"key" :` given the token that should be the key; leaves the colon consumed.
fn object_key(lua: &Lua, lx: &mut Lexer, token: &Token) -> Outcome<mlua::String> {
    if token.kind != TokenKind::String {
        return parse_error("object key string", token);
    }
    let key = lua.create_string(&lx.text)?;
    let colon = lx.next();
    if colon.kind != TokenKind::Colon {
        return parse_error("colon", &colon);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    //! CJSON's encoding choices, number format, escapes, settings and error texts.
    use crate::libs::testing::{error, eval};

    #[test]
    fn encodes_arrays_objects_and_scalars() {
        assert_eq!(eval("return cjson.encode({1, 2, 3})"), "[1,2,3]");
        assert_eq!(eval("return cjson.encode({})"), "{}");
        assert_eq!(eval("return cjson.encode({a = {}})"), "{\"a\":{}}");
        assert_eq!(
            eval("return cjson.encode({[1] = 1, [3] = 3})"),
            "[1,null,3]"
        );
        assert_eq!(eval("return cjson.encode({[2] = 'x'})"), "[null,\"x\"]");
        assert_eq!(eval("return cjson.encode({[1.5] = 1})"), "{\"1.5\":1}");
        assert_eq!(eval("return cjson.encode({[0] = 1})"), "{\"0\":1}");
        assert_eq!(
            eval("return cjson.encode({true, false, cjson.null})"),
            "[true,false,null]"
        );
        assert_eq!(eval("return cjson.encode(nil)"), "null");
        assert_eq!(eval("return cjson.encode('x')"), "\"x\"");
    }

    #[test]
    fn numbers_use_fourteen_significant_digits() {
        assert_eq!(eval("return cjson.encode(0.1)"), "0.1");
        assert_eq!(eval("return cjson.encode(1/3)"), "0.33333333333333");
        assert_eq!(eval("return cjson.encode(1e100)"), "1e+100");
        assert_eq!(
            eval("return cjson.encode(123456789012345678)"),
            "1.2345678901235e+17"
        );
        assert_eq!(eval("return cjson.encode(-0.0)"), "-0");
        assert_eq!(eval("return cjson.encode(1e-300)"), "1e-300");
        assert_eq!(
            eval("cjson.encode_number_precision(3) return cjson.encode(math.pi)"),
            "3.14"
        );
    }

    #[test]
    fn strings_are_escaped_like_cjson() {
        assert_eq!(
            eval("return cjson.encode('a/b\"c\\\\d')"),
            "\"a\\/b\\\"c\\\\d\""
        );
        assert_eq!(
            eval("return cjson.encode('\\1\\8\\9\\10\\12\\13\\127')"),
            "\"\\u0001\\b\\t\\n\\f\\r\\u007f\""
        );
        assert_eq!(
            eval("return cjson.encode('\\200\\255') == '\"\\200\\255\"'"),
            "true"
        );
    }

    #[test]
    fn sparse_arrays_and_settings() {
        assert_eq!(
            error("return cjson.encode({[20] = 1})"),
            "user_script:1: Cannot serialise table: excessively sparse array"
        );
        assert_eq!(
            eval("return cjson.encode({[10] = 1})"),
            "[null,null,null,null,null,null,null,null,null,1]"
        );
        assert_eq!(
            eval("cjson.encode_sparse_array(true) return cjson.encode({[20] = 1})"),
            "{\"20\":1}"
        );
        assert_eq!(
            eval("return table.concat({tostring(cjson.encode_sparse_array())}, ',')"),
            "false"
        );
        assert_eq!(eval("local a, b, c = cjson.encode_sparse_array(nil, 3, 4) return tostring(a) .. ',' .. b .. ',' .. c"), "false,3,4");
        assert_eq!(eval("return cjson.encode_max_depth()"), "1000");
        assert_eq!(eval("return cjson.encode_invalid_numbers('null')"), "null");
        assert_eq!(
            eval("cjson.encode_invalid_numbers('null') return cjson.encode({1/0, 0/0})"),
            "[null,null]"
        );
        assert_eq!(
            eval("cjson.encode_invalid_numbers(true) return cjson.encode({1/0, -1/0, 0/0})"),
            "[inf,-inf,nan]"
        );
        assert_eq!(
            eval("return tostring(cjson.encode_keep_buffer(false))"),
            "false"
        );
        assert_eq!(
            eval("local c = cjson.new() c.encode_max_depth(5) return cjson.encode_max_depth()"),
            "1000"
        );
        assert_eq!(
            error("return cjson.encode_max_depth(0)"),
            "user_script:1: bad argument #1 to 'encode_max_depth' (expected integer between 1 and 2147483647)"
        );
        assert_eq!(
            error("return cjson.encode_number_precision(1, 2)"),
            "user_script:1: bad argument #2 to 'encode_number_precision' (found too many arguments)"
        );
        assert_eq!(
            error("return cjson.encode_invalid_numbers('maybe')"),
            "user_script:1: bad argument #1 to 'encode_invalid_numbers' (invalid option 'maybe')"
        );
    }

    #[test]
    fn encode_errors() {
        assert_eq!(
            error("return cjson.encode(print)"),
            "user_script:1: Cannot serialise function: type not supported"
        );
        assert_eq!(
            error("return cjson.encode({[true] = 1})"),
            "user_script:1: Cannot serialise boolean: table key must be a number or string"
        );
        assert_eq!(
            error("return cjson.encode(0/0)"),
            "user_script:1: Cannot serialise number: must not be NaN or Inf"
        );
        assert_eq!(
            error("return cjson.encode()"),
            "user_script:1: bad argument #1 to 'encode' (expected 1 argument)"
        );
        assert_eq!(
            error("local t = {} t[1] = t return cjson.encode(t)"),
            "user_script:1: Cannot serialise, excessive nesting (1001)"
        );
        assert_eq!(
            error("cjson.encode_max_depth(100000) local t = {} t.a = t return cjson.encode(t)"),
            "user_script:1: Cannot serialise, excessive nesting (4000)"
        );
        assert_eq!(
            error("cjson.encode_max_depth(100000) local t = {} t[1] = t return cjson.encode(t)"),
            "user_script:1: Cannot serialise, excessive nesting (7998)"
        );
    }

    #[test]
    fn decodes_values() {
        assert_eq!(eval("return cjson.decode('[1,2,3]')[3]"), "3");
        assert_eq!(
            eval("return cjson.decode('{\"a\":{\"b\":true}}').a.b"),
            "true"
        );
        assert_eq!(
            eval("return tostring(cjson.decode('null') == cjson.null)"),
            "true"
        );
        assert_eq!(
            eval("return cjson.decode(' \"\\\\u00e9\\\\ud83d\\\\ude00\\\\/\" ')"),
            "é😀/"
        );
        assert_eq!(eval("return cjson.decode('-1.5e3')"), "-1500");
        assert_eq!(eval("return cjson.decode('0x10')"), "16");
        assert_eq!(eval("return cjson.decode('+5')"), "5");
        assert_eq!(eval("return cjson.decode('-Infinity')"), "-inf");
        assert_eq!(eval("return cjson.decode(42)"), "42");
        assert_eq!(eval("return cjson.decode('[1]\\0garbage')[1]"), "1");
        assert_eq!(
            eval("return cjson.encode(cjson.decode('{\"a\":[1,{}],\"b\":null}'))"),
            "{\"a\":[1,{}],\"b\":null}"
        );
    }

    #[test]
    fn decode_errors() {
        assert_eq!(
            error("return cjson.decode('{')"),
            "user_script:1: Expected object key string but found T_END at character 2"
        );
        assert_eq!(
            error("return cjson.decode('[1,]')"),
            "user_script:1: Expected value but found T_ARR_END at character 4"
        );
        assert_eq!(
            error("return cjson.decode('[1 2]')"),
            "user_script:1: Expected comma or array end but found T_NUMBER at character 4"
        );
        assert_eq!(
            error("return cjson.decode('{\"a\" 1}')"),
            "user_script:1: Expected colon but found T_NUMBER at character 6"
        );
        assert_eq!(
            error("return cjson.decode('{\"a\":1 x')"),
            "user_script:1: Expected comma or object end but found invalid token at character 8"
        );
        assert_eq!(
            error("return cjson.decode('1 2')"),
            "user_script:1: Expected the end but found T_NUMBER at character 3"
        );
        assert_eq!(
            error("return cjson.decode('\"abc')"),
            "user_script:1: Expected value but found unexpected end of string at character 5"
        );
        assert_eq!(
            error("return cjson.decode('\"\\\\q\"')"),
            "user_script:1: Expected value but found invalid escape code at character 2"
        );
        assert_eq!(
            error("return cjson.decode('\"\\\\udc00\"')"),
            "user_script:1: Expected value but found invalid unicode escape code at character 2"
        );
        assert_eq!(
            error("return cjson.decode('nil')"),
            "user_script:1: Expected value but found invalid token at character 1"
        );
        assert_eq!(
            error("return cjson.decode('-')"),
            "user_script:1: Expected value but found invalid number at character 1"
        );
        assert_eq!(
            error("return cjson.decode('')"),
            "user_script:1: Expected value but found T_END at character 1"
        );
        assert_eq!(
            error("return cjson.decode('\\0a')"),
            "user_script:1: JSON parser does not support UTF-16 or UTF-32"
        );
        assert_eq!(
            error("cjson.decode_invalid_numbers(false) return cjson.decode('0x10')"),
            "user_script:1: Expected value but found invalid number at character 1"
        );
        assert_eq!(
            error("return cjson.decode(string.rep('[', 1001))"),
            "user_script:1: Found too many nested data structures (1001) at character 1001"
        );
        assert_eq!(
            error("cjson.decode_max_depth(100000) return cjson.decode(string.rep('[', 10000))"),
            "user_script:1: Found too many nested data structures (7999) at character 7999"
        );
        assert_eq!(
            error(
                r#"cjson.decode_max_depth(100000) return cjson.decode(string.rep('{"a":', 10000))"#
            ),
            "user_script:1: Found too many nested data structures (4000) at character 19996"
        );
        assert_eq!(
            error("return cjson.decode()"),
            "user_script:1: bad argument #1 to 'decode' (expected 1 argument)"
        );
        assert_eq!(
            error("return cjson.decode({})"),
            "user_script:1: bad argument #1 to 'decode' (string expected, got table)"
        );
    }
}
