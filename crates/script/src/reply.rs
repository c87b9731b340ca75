//! Replies crossing the Lua boundary, both ways, by Redis's conversion tables:
//! a command's RESP reply becomes Lua values for `redis.call` ([`push_resp`]), and a
//! script's return value becomes the client's reply ([`write_lua_reply`]).
//!
//! Both work on the raw Lua stack. Lua to RESP is iterative, with an explicit frame
//! stack, but keeps the Lua stack exactly as Redis's recursive converter does, so
//! `lua_checkstack` gives up at the same depth with the same "reached lua stack limit"
//! error (a self-referencing table ends the same way), while the Rust stack stays flat.

use std::ffi::c_int;

use lodestone_resp::ReplyWriter;
use mlua::ffi;

use crate::libs::{c_double_to_i64, format_g, strtod_prefix};

/// Deepest RESP nesting converted for `redis.call` (replies from real commands are a
/// few levels deep; the limit only keeps the recursion bounded).
const MAX_RESP_DEPTH: usize = 1000;

pub(crate) unsafe fn push_bytes(state: *mut ffi::lua_State, bytes: &[u8]) {
    ffi::lua_pushlstring(state, bytes.as_ptr().cast(), bytes.len());
}

/// The bytes of the string (or number, converted in place) at `idx`.
pub(crate) unsafe fn to_bytes<'a>(state: *mut ffi::lua_State, idx: c_int) -> Option<&'a [u8]> {
    let mut len = 0usize;
    let ptr = ffi::lua_tolstring(state, idx, &mut len);
    if ptr.is_null() {
        None
    } else {
        // SAFETY: Lua guarantees `len` readable bytes while the value stays on the stack;
        // callers use the slice before popping it.
        Some(std::slice::from_raw_parts(ptr.cast::<u8>(), len))
    }
}

/// Like [`to_bytes`], cut at the first NUL, as Redis reads strings it treats as C strings.
pub(crate) unsafe fn to_c_bytes<'a>(state: *mut ffi::lua_State, idx: c_int) -> Option<&'a [u8]> {
    to_bytes(state, idx).map(until_nul)
}

pub(crate) fn until_nul(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len())]
}

/// Trims CR and LF from both ends (Redis's `sdstrim(s, "\r\n")`).
pub(crate) fn trim_crlf(mut bytes: &[u8]) -> &[u8] {
    while let [b'\r' | b'\n', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b'\r' | b'\n'] = bytes {
        bytes = rest;
    }
    bytes
}

/// The `err` text Redis stores for an error: `-CODE msg` keeps its code, anything else
/// gets `ERR`; the message is trimmed of CR/LF.
pub(crate) fn error_text(raw: &[u8]) -> Vec<u8> {
    let raw = until_nul(raw);
    let (code, msg): (&[u8], &[u8]) = match raw.strip_prefix(b"-") {
        Some(rest) => match rest.iter().position(|&b| b == b' ') {
            Some(space) => (&rest[..space], &rest[space + 1..]),
            None => (b"ERR", rest),
        },
        None => (b"ERR", raw),
    };
    let msg = trim_crlf(msg);
    let mut text = Vec::with_capacity(code.len() + 1 + msg.len());
    text.extend_from_slice(code);
    text.push(b' ');
    text.extend_from_slice(msg);
    text
}

/// Pushes `{err = <error_text(raw)>}`, the table Redis uses for error replies.
pub(crate) unsafe fn push_error_table(state: *mut ffi::lua_State, raw: &[u8]) {
    let text = error_text(raw);
    ffi::lua_createtable(state, 0, 2);
    push_bytes(state, b"err");
    push_bytes(state, &text);
    ffi::lua_rawset(state, -3);
}

/// Pushes one Lua value for the RESP reply at the start of `reply` and returns how many
/// bytes it used, or `None` when the reply is malformed or too deep (nothing is left
/// pushed then).
pub(crate) unsafe fn push_resp(state: *mut ffi::lua_State, reply: &[u8]) -> Option<usize> {
    let top = ffi::lua_gettop(state);
    let used = push_resp_at(state, reply, 0, 0);
    if used.is_none() {
        ffi::lua_settop(state, top);
    }
    used
}

/// One line of a reply: its text after the type byte, and the offset after its CRLF.
fn line(reply: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let rest = reply.get(at + 1..)?;
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..end], at + 1 + end + 2))
}

fn parse_len(text: &[u8]) -> Option<i64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

unsafe fn push_resp_at(
    state: *mut ffi::lua_State,
    reply: &[u8],
    at: usize,
    depth: usize,
) -> Option<usize> {
    if depth > MAX_RESP_DEPTH || ffi::lua_checkstack(state, 5) == 0 {
        return None;
    }
    let kind = *reply.get(at)?;
    let (text, next) = line(reply, at)?;
    match kind {
        b':' => {
            ffi::lua_pushnumber(state, parse_len(text)? as f64);
            Some(next)
        }
        b'$' | b'=' => {
            let len = parse_len(text)?;
            if len < 0 {
                ffi::lua_pushboolean(state, 0);
                return Some(next);
            }
            let len = usize::try_from(len).ok()?;
            let body = reply.get(next..next.checked_add(len)?)?;
            if reply.get(next + len..next + len + 2)? != b"\r\n" {
                return None;
            }
            if kind == b'$' {
                push_bytes(state, body);
            } else {
                let (format, string) = (body.get(..3)?, body.get(4..)?);
                ffi::lua_createtable(state, 0, 1);
                push_bytes(state, b"verbatim_string");
                ffi::lua_createtable(state, 0, 2);
                push_bytes(state, b"string");
                push_bytes(state, string);
                ffi::lua_rawset(state, -3);
                push_bytes(state, b"format");
                push_bytes(state, format);
                ffi::lua_rawset(state, -3);
                ffi::lua_rawset(state, -3);
            }
            Some(next + len + 2)
        }
        b'+' => {
            ffi::lua_createtable(state, 0, 1);
            push_bytes(state, b"ok");
            push_bytes(state, text);
            ffi::lua_rawset(state, -3);
            Some(next)
        }
        b'-' => {
            let mut raw = Vec::with_capacity(text.len() + 1);
            raw.push(b'-');
            raw.extend_from_slice(text);
            push_error_table(state, &raw);
            push_bytes(state, b"ignore_error_stats_update");
            ffi::lua_pushboolean(state, 1);
            ffi::lua_rawset(state, -3);
            Some(next)
        }
        b'_' => {
            ffi::lua_pushnil(state);
            Some(next)
        }
        b'#' => {
            ffi::lua_pushboolean(state, c_int::from(text == b"t"));
            Some(next)
        }
        b',' => {
            let (value, _) = strtod_prefix(text);
            ffi::lua_createtable(state, 0, 1);
            push_bytes(state, b"double");
            ffi::lua_pushnumber(state, value);
            ffi::lua_rawset(state, -3);
            Some(next)
        }
        b'(' => {
            ffi::lua_createtable(state, 0, 1);
            push_bytes(state, b"big_number");
            push_bytes(state, text);
            ffi::lua_rawset(state, -3);
            Some(next)
        }
        b'*' | b'>' => {
            let len = parse_len(text)?;
            if len < 0 {
                ffi::lua_pushboolean(state, 0);
                return Some(next);
            }
            ffi::lua_newtable(state);
            let mut at = next;
            for j in 1..=len {
                ffi::lua_pushnumber(state, j as f64);
                at = push_resp_at(state, reply, at, depth + 1)?;
                ffi::lua_rawset(state, -3);
            }
            Some(at)
        }
        b'%' | b'~' => {
            let len = parse_len(text)?;
            ffi::lua_createtable(state, 0, 1);
            push_bytes(state, if kind == b'%' { b"map" } else { b"set" });
            ffi::lua_newtable(state);
            let mut at = next;
            for _ in 0..len.max(0) {
                at = push_resp_at(state, reply, at, depth + 1)?;
                if kind == b'%' {
                    at = push_resp_at(state, reply, at, depth + 1)?;
                } else {
                    ffi::lua_pushboolean(state, 1);
                }
                if ffi::lua_isnil(state, -2) != 0 {
                    // A nil key cannot index a table; Redis would raise, we drop it.
                    ffi::lua_settop(state, -3);
                } else {
                    ffi::lua_rawset(state, -3);
                }
            }
            ffi::lua_rawset(state, -3);
            Some(at)
        }
        b'|' => {
            // Attributes are not shown to scripts: skip them, then read the reply.
            let len = parse_len(text)?;
            let mut at = next;
            for _ in 0..len.max(0) * 2 {
                at = push_resp_at(state, reply, at, depth + 1)?;
                ffi::lua_settop(state, -2);
            }
            push_resp_at(state, reply, at, depth)
        }
        _ => None,
    }
}

/// One table being written out, as far as it has got.
enum Frame {
    /// Lua stack: `..., table`; the value for index `next` is being written.
    Array {
        next: i64,
        count: usize,
        header: Header,
    },
    /// Lua stack: `..., table, map, key, value, key` (key being written) or
    /// `..., table, map, key, value` (value being written).
    Map {
        on_key: bool,
        count: usize,
        header: Header,
    },
    /// Lua stack: `..., table, set, key, key`.
    Set { count: usize, header: Header },
}

/// Where an aggregate header was written, its kind and the length it announced.
#[derive(Clone, Copy)]
struct Header {
    start: usize,
    end: usize,
    kind: u8,
    announced: usize,
}

/// Counts the elements Redis's converter will write: array entries up to the first
/// nil, or every key of a map or set (table at `idx`).
unsafe fn count_array(state: *mut ffi::lua_State, idx: c_int) -> usize {
    let mut n = 0usize;
    loop {
        ffi::lua_rawgeti(state, idx, (n + 1) as ffi::lua_Integer);
        let nil = ffi::lua_isnil(state, -1) != 0;
        ffi::lua_settop(state, -2);
        if nil {
            return n;
        }
        n += 1;
    }
}

unsafe fn count_keys(state: *mut ffi::lua_State, idx: c_int) -> usize {
    let idx = if idx < 0 {
        ffi::lua_gettop(state) + idx + 1
    } else {
        idx
    };
    let mut n = 0usize;
    ffi::lua_pushnil(state);
    while ffi::lua_next(state, idx) != 0 {
        ffi::lua_settop(state, -2);
        n += 1;
    }
    n
}

fn open(out: &mut ReplyWriter, kind: u8, len: usize) -> Header {
    let start = out.buf.len();
    match kind {
        b'%' => out.map(len),
        b'~' => out.set(len),
        _ => out.array(len),
    }
    Header {
        start,
        end: out.buf.len(),
        kind,
        announced: len,
    }
}

/// Rewrites a header whose announced length turned out wrong (only a script that
/// changes tables while they are converted, through metamethods, can cause it).
fn close(out: &mut ReplyWriter, header: Header, count: usize) {
    if count == header.announced {
        return;
    }
    let tail = out.buf.split_off(header.end);
    out.buf.truncate(header.start);
    out.end_deferred(header.start, header.kind, count);
    out.buf.extend_from_slice(&tail);
}

unsafe fn raw_field(state: *mut ffi::lua_State, name: &[u8]) -> c_int {
    push_bytes(state, name);
    ffi::lua_rawget(state, -2);
    ffi::lua_type(state, -1)
}

/// Writes the value on top of the Lua stack as the script's reply, and pops it.
/// `script_resp` is the protocol the script chose with `redis.setresp` (it decides
/// how booleans are written, as in Redis); everything else follows `out.protocol`.
pub(crate) unsafe fn write_lua_reply(
    state: *mut ffi::lua_State,
    out: &mut ReplyWriter,
    script_resp: u8,
) {
    let mut frames: Vec<Frame> = Vec::new();
    loop {
        if write_one(state, out, script_resp, &mut frames) {
            // A table pushed its frame; its first element is on top.
            continue;
        }
        // Resume the innermost unfinished table.
        loop {
            match frames.last_mut() {
                None => return,
                Some(Frame::Array {
                    next,
                    count,
                    header,
                }) => {
                    *count += 1;
                    *next += 1;
                    ffi::lua_pushnumber(state, *next as f64);
                    ffi::lua_rawget(state, -2);
                    if ffi::lua_isnil(state, -1) == 0 {
                        break;
                    }
                    let (header, count) = (*header, *count);
                    ffi::lua_settop(state, -3);
                    close(out, header, count);
                    frames.pop();
                }
                Some(Frame::Map {
                    on_key,
                    count,
                    header,
                }) => {
                    if *on_key {
                        *on_key = false;
                        break;
                    }
                    *count += 1;
                    if ffi::lua_next(state, -2) != 0 {
                        ffi::lua_pushvalue(state, -2);
                        *on_key = true;
                        break;
                    }
                    let (header, count) = (*header, *count);
                    ffi::lua_settop(state, -3);
                    close(out, header, count);
                    frames.pop();
                }
                Some(Frame::Set { count, header }) => {
                    *count += 1;
                    if ffi::lua_next(state, -2) != 0 {
                        ffi::lua_settop(state, -2);
                        ffi::lua_pushvalue(state, -1);
                        break;
                    }
                    let (header, count) = (*header, *count);
                    ffi::lua_settop(state, -3);
                    close(out, header, count);
                    frames.pop();
                }
            }
        }
    }
}

/// Writes the value on top and pops it, or, for a table with elements, pushes a frame
/// and leaves its first element on top (returning true).
unsafe fn write_one(
    state: *mut ffi::lua_State,
    out: &mut ReplyWriter,
    script_resp: u8,
    frames: &mut Vec<Frame>,
) -> bool {
    if ffi::lua_checkstack(state, 4) == 0 {
        out.error("ERR reached lua stack limit");
        ffi::lua_settop(state, -2);
        return false;
    }
    match ffi::lua_type(state, -1) {
        ffi::LUA_TSTRING => {
            out.bulk(to_bytes(state, -1).unwrap_or_default());
        }
        ffi::LUA_TBOOLEAN => {
            let value = ffi::lua_toboolean(state, -1) != 0;
            if script_resp == 2 {
                if value {
                    out.integer(1);
                } else {
                    out.null();
                }
            } else {
                out.boolean(value);
            }
        }
        ffi::LUA_TNUMBER => out.integer(c_double_to_i64(ffi::lua_tonumber(state, -1))),
        ffi::LUA_TTABLE => {
            if write_table(state, out, frames) {
                return true;
            }
        }
        _ => out.null(),
    }
    ffi::lua_settop(state, -2);
    false
}

/// The table cases, in Redis's order of checks. Returns true when a frame was pushed
/// (the table stays on the stack, its first element on top).
unsafe fn write_table(
    state: *mut ffi::lua_State,
    out: &mut ReplyWriter,
    frames: &mut Vec<Frame>,
) -> bool {
    if raw_field(state, b"err") == ffi::LUA_TSTRING {
        let text = trim_crlf(to_c_bytes(state, -1).unwrap_or_default());
        let mut message = Vec::with_capacity(text.len() + 1);
        message.push(b'-');
        message.extend_from_slice(text);
        // The writer adds the leading '-': Redis's reply is "-" followed by the text.
        out.error_bytes(&message[1..]);
        ffi::lua_settop(state, -2);
        return false;
    }
    ffi::lua_settop(state, -2);
    if raw_field(state, b"ok") == ffi::LUA_TSTRING {
        out.simple(to_c_bytes(state, -1).unwrap_or_default());
        ffi::lua_settop(state, -2);
        return false;
    }
    ffi::lua_settop(state, -2);
    if raw_field(state, b"double") == ffi::LUA_TNUMBER {
        write_double(out, ffi::lua_tonumber(state, -1));
        ffi::lua_settop(state, -2);
        return false;
    }
    ffi::lua_settop(state, -2);
    if raw_field(state, b"big_number") == ffi::LUA_TSTRING {
        let digits: Vec<u8> = to_bytes(state, -1)
            .unwrap_or_default()
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
            .collect();
        out.big_number(&digits);
        ffi::lua_settop(state, -2);
        return false;
    }
    ffi::lua_settop(state, -2);
    if raw_field(state, b"verbatim_string") == ffi::LUA_TTABLE {
        if raw_field(state, b"format") == ffi::LUA_TSTRING {
            push_bytes(state, b"string");
            ffi::lua_rawget(state, -3);
            if ffi::lua_type(state, -1) == ffi::LUA_TSTRING {
                let format = until_nul(to_bytes(state, -2).unwrap_or_default());
                let mut ext = [b' '; 3];
                for (slot, &b) in ext.iter_mut().zip(format) {
                    *slot = b;
                }
                out.verbatim(&ext, to_bytes(state, -1).unwrap_or_default());
                ffi::lua_settop(state, -4);
                return false;
            }
            ffi::lua_settop(state, -2);
        }
        ffi::lua_settop(state, -2);
    }
    ffi::lua_settop(state, -2);
    if raw_field(state, b"map") == ffi::LUA_TTABLE {
        let header = open(out, b'%', count_keys(state, -1));
        ffi::lua_pushnil(state);
        if ffi::lua_next(state, -2) != 0 {
            ffi::lua_pushvalue(state, -2);
            frames.push(Frame::Map {
                on_key: true,
                count: 0,
                header,
            });
            return true;
        }
        close(out, header, 0);
        ffi::lua_settop(state, -2);
        return false;
    }
    ffi::lua_settop(state, -2);
    if raw_field(state, b"set") == ffi::LUA_TTABLE {
        let header = open(out, b'~', count_keys(state, -1));
        ffi::lua_pushnil(state);
        if ffi::lua_next(state, -2) != 0 {
            ffi::lua_settop(state, -2);
            ffi::lua_pushvalue(state, -1);
            frames.push(Frame::Set { count: 0, header });
            return true;
        }
        close(out, header, 0);
        ffi::lua_settop(state, -2);
        return false;
    }
    ffi::lua_settop(state, -2);
    let header = open(out, b'*', count_array(state, -1));
    ffi::lua_pushnumber(state, 1.0);
    ffi::lua_rawget(state, -2);
    if ffi::lua_isnil(state, -1) == 0 {
        frames.push(Frame::Array {
            next: 1,
            count: 0,
            header,
        });
        return true;
    }
    ffi::lua_settop(state, -2);
    close(out, header, 0);
    false
}

/// Redis's `addReplyDouble`: `%.17g`, with `inf`/`-inf` spelled out.
fn write_double(out: &mut ReplyWriter, value: f64) {
    if value.is_infinite() {
        let text: &[u8] = if value > 0.0 { b"inf" } else { b"-inf" };
        out.double_text(text);
        return;
    }
    let text = format_g(value, 17);
    out.double_text(text.as_bytes());
}

#[cfg(test)]
mod tests {
    //! The pure helpers; the conversions are tested through the engine.
    use super::*;

    #[test]
    fn error_texts_follow_redis_rules() {
        assert_eq!(error_text(b"-MY err"), b"MY err");
        assert_eq!(error_text(b"-nospace"), b"ERR nospace");
        assert_eq!(error_text(b"plain message"), b"ERR plain message");
        assert_eq!(error_text(b""), b"ERR ");
        assert_eq!(error_text(b"-ERR x\r\n"), b"ERR x");
        assert_eq!(error_text(b"-A b\0c"), b"A b");
        assert_eq!(trim_crlf(b"\r\nab\n"), b"ab");
    }
}
