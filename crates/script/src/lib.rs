//! Lua 5.1 for scripts: the interpreter Redis gives EVAL and FUNCTION, with the four C
//! libraries Redis ships (`cjson`, `cmsgpack`, `bit`, `struct`) rewritten in Rust to the
//! byte, error texts included.
//!
//! It also holds the script engine (`engine`): the sandbox, compiled scripts and function
//! libraries; it reaches the server only through the [`Host`] trait. It depends on `resp` and `util` at most, never on `store`,
//! `server` or anything with sockets.
//!
//! Lua numbers are doubles (Lua 5.1), so every library reads and writes `f64` and follows
//! the C casts Redis's build performs (x86-64, glibc) where a value is out of range.

mod api;
pub mod engine;
#[cfg(test)]
mod engine_tests;
mod libs;
mod reply;
mod sandbox;
mod shebang;

pub use engine::{Engine, FunctionInfo, Host, LibraryInfo, LogLevel, ScriptFlags};

use mlua::{Lua, LuaOptions, StdLib};

pub use libs::register_libraries;

/// Creates an interpreter with exactly the libraries Redis's `luaLoadLibraries` opens:
/// base, table, string, math and debug, then cjson, struct, cmsgpack and bit.
///
/// `package`, `io` and `os` are left out as Redis leaves them out. Redis removes `debug`
/// again once its error handler is built; that belongs to the sandbox, not here.
///
/// # Errors
/// Only when Lua cannot allocate.
pub fn new_lua() -> mlua::Result<Lua> {
    // SAFETY: mlua calls the `debug` library unsafe because a script can read and change
    // upvalues and metatables behind Rust's back, mlua's own internals included. Redis
    // opens it for every script, so we must too; the sandbox (not this function) decides
    // what a script may still reach, and removes `debug` as Redis does.
    let lua = unsafe {
        Lua::unsafe_new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
            LuaOptions::new(),
        )
    };
    register_libraries(&lua)?;
    Ok(lua)
}

#[cfg(test)]
mod tests {
    //! The interpreter's library set, and limits that scripts control.
    use crate::libs::testing::{error, eval};

    #[test]
    fn opens_the_libraries_redis_opens() {
        assert_eq!(
            eval("return table.concat({type(cjson), type(cmsgpack), type(bit), type(struct), type(debug), type(string), type(math), type(table)}, ',')"),
            "table,table,table,table,table,table,table,table"
        );
        assert_eq!(
            eval("return table.concat({type(package), type(os), type(io), type(require)}, ',')"),
            "nil,nil,nil,nil"
        );
        assert_eq!(eval("local l = debug.getregistry()._LOADED return tostring(l.bit == bit and l.struct == struct and l.cjson == nil)"), "true");
        assert_eq!(
            eval("return cjson._NAME .. ' ' .. cjson._VERSION .. ' ' .. cmsgpack._VERSION"),
            "cjson 2.1.0 lua-cmsgpack 0.4.0"
        );
    }

    #[test]
    fn wide_and_many_values_stay_within_mlua_references() {
        // mlua keeps about 8000 references in all; none of these may hold one per value.
        assert_eq!(eval("local t = {} for i = 1, 20000 do t['k' .. i] = 'v' .. i end return #cjson.encode(t) > 0"), "true");
        assert_eq!(
            eval("local t = {} for i = 1, 20000 do t['k' .. i] = {i} end return #cmsgpack.pack(t)"),
            "208515"
        );
        assert_eq!(eval("local t = {} for i = 1, 4000 do t[i] = 's' .. i end return select('#', cmsgpack.unpack(cmsgpack.pack(unpack(t))))"), "4000");
        assert_eq!(
            error("local t = {} for i = 1, 4001 do t[i] = 's' .. i end return cmsgpack.pack(unpack(t))"),
            "user_script:1: bad argument #0 to 'pack' (Too many arguments for MessagePack pack.)"
        );
        assert_eq!(eval("return select('#', struct.unpack(string.rep('s', 7000), string.rep('a\\0', 7000)))"), "7001");
        assert_eq!(eval("local s = string.rep('[', 5000) .. string.rep(']', 5000) cjson.decode_max_depth(10000) cjson.encode_max_depth(10000) return #cjson.encode(cjson.decode(s))"), "10000");
        assert_eq!(
            eval("local t = {} for i = 1, 100 do t[i] = -1 end return bit.band(unpack(t))"),
            "-1"
        );
        assert_eq!(
            error("local t = {} for i = 1, 100 do t[i] = i end t[50] = 'x' return bit.band(unpack(t))"),
            "user_script:1: bad argument #50 to 'band' (number expected, got string)"
        );
    }
}
