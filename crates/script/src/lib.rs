//! Lua 5.1 for scripts: the interpreter Redis gives EVAL and FUNCTION, with the four C
//! libraries Redis ships (`cjson`, `cmsgpack`, `bit`, `struct`) rewritten in Rust to the
//! byte, error texts included.
//!
//! This crate will also hold the sandbox, the script cache and functions; it reaches the
//! server only through a trait. It depends on `resp` and `util` at most, never on `store`,
//! `server` or anything with sockets.
//!
//! Lua numbers are doubles (Lua 5.1), so every library reads and writes `f64` and follows
//! the C casts Redis's build performs (x86-64, glibc) where a value is out of range.

mod libs;

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
