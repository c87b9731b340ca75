//! FUNCTION: only the parts that are complete while no function engine exists.
//!
//! Lua functions arrive with the scripting issue. Until then there is never a library to
//! delete, so FLUSH is exactly Redis's behaviour on a server without libraries (and the
//! upstream test suite calls it before every test). Other subcommands answer Redis's
//! unknown-subcommand error.

use crate::ctx::Ctx;
use crate::errors::{CmdResult, Error};

pub fn function_flush(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() > 3 || (ctx.argc() == 3 && !ctx.arg_is(2, "sync") && !ctx.arg_is(2, "async")) {
        return Err(Error::err("FUNCTION FLUSH only supports SYNC|ASYNC option"));
    }
    ctx.out.ok();
    Ok(())
}

pub fn function_help(ctx: &mut Ctx) -> CmdResult {
    let lines: &[&str] = &[
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries (there are none until Lua functions are supported).",
        "HELP",
        "    Print this help.",
    ];
    ctx.out.array(lines.len());
    for line in lines {
        ctx.out.simple(line.as_bytes());
    }
    Ok(())
}
