//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT.
//!
//! The engine (crates/script) runs the Lua; `scripting.rs` holds the cache, the per-thread
//! engines, locking and busy scripts. Here: argument parsing in Redis's order and the
//! cache commands.

use lodestone_script::Engine;

use crate::ctx::Ctx;
use crate::errors::{CmdResult, Error};
use crate::scripting::{self, Script};

pub fn eval(ctx: &mut Ctx) -> CmdResult {
    eval_generic(ctx, false, false)
}

pub fn eval_ro(ctx: &mut Ctx) -> CmdResult {
    eval_generic(ctx, false, true)
}

pub fn evalsha(ctx: &mut Ctx) -> CmdResult {
    eval_generic(ctx, true, false)
}

pub fn evalsha_ro(ctx: &mut Ctx) -> CmdResult {
    eval_generic(ctx, true, true)
}

/// A script call's KEYS and ARGV.
pub type KeysAndArgs<'c> = (Vec<&'c [u8]>, Vec<&'c [u8]>);

/// The keys and arguments after `numkeys` at index 2, with Redis's errors.
pub fn split_keys<'c>(ctx: &Ctx<'c, '_>) -> Result<KeysAndArgs<'c>, Error> {
    let numkeys = ctx.arg_i64(2)?;
    let available = (ctx.argc() - 3) as i64;
    if numkeys > available {
        return Err(Error::err(
            "Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(Error::err("Number of keys can't be negative"));
    }
    let cmd = ctx.cmd;
    let keys = (3..3 + numkeys as usize).map(|i| cmd.arg(i)).collect();
    let args = (3 + numkeys as usize..cmd.len())
        .map(|i| cmd.arg(i))
        .collect();
    Ok((keys, args))
}

fn eval_generic(ctx: &mut Ctx, by_sha: bool, ro: bool) -> CmdResult {
    let cmd = ctx.cmd;
    let (keys, args) = split_keys(ctx)?;
    let (sha, body) = if by_sha {
        let sha = String::from_utf8_lossy(cmd.arg(1)).to_ascii_lowercase();
        match ctx.server.scripting.script(&sha) {
            Some(body) => (sha, body),
            None => {
                return Err(Error::Text(
                    "NOSCRIPT No matching script. Please use EVAL.".into(),
                ))
            }
        }
    } else {
        let body = cmd.arg(1);
        (Engine::sha1hex(body), std::sync::Arc::from(body))
    };
    let flags = Engine::script_flags(&body).map_err(Error::reply)?;
    if ro && flags.shebang && !flags.no_writes {
        return Err(Error::err(
            "Can not execute a script with write flag using *_ro command.",
        ));
    }
    if !by_sha {
        // A script that does not compile is not cached (and replies the compile error).
        if let Err(error) = scripting::with_engine(ctx.server, |e| e.compile(&sha, &body))
            .and_then(|compiled| compiled)
        {
            return Err(Error::reply(error));
        }
        ctx.server.scripting.cache_script(sha.clone(), &body);
    }
    let read_only = ro || flags.no_writes;
    scripting::run(
        ctx,
        Script::Eval { sha, body: &body },
        &keys,
        &args,
        read_only,
    );
    Ok(())
}

pub fn script(ctx: &mut Ctx) -> CmdResult {
    Err(super::server::subcommand_syntax_error(ctx))
}

pub fn script_load(ctx: &mut Ctx) -> CmdResult {
    let body = ctx.arg(2);
    let sha = Engine::sha1hex(body);
    scripting::with_engine(ctx.server, |e| e.compile(&sha, body))
        .and_then(|compiled| compiled)
        .map_err(Error::reply)?;
    ctx.server.scripting.cache_script(sha.clone(), body);
    ctx.out.bulk(sha.as_bytes());
    Ok(())
}

pub fn script_exists(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    ctx.out.array(cmd.len() - 2);
    for sha in cmd.args().skip(2) {
        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
        let known = ctx.server.scripting.has_script(&sha);
        ctx.out.integer(i64::from(known));
    }
    Ok(())
}

pub fn script_flush(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() > 3 || (ctx.argc() == 3 && !ctx.arg_is(2, "sync") && !ctx.arg_is(2, "async")) {
        return Err(Error::err("SCRIPT FLUSH only support SYNC|ASYNC option"));
    }
    ctx.server.scripting.flush_scripts();
    ctx.out.ok();
    Ok(())
}

pub fn script_kill(ctx: &mut Ctx) -> CmdResult {
    ctx.server.scripting.kill(true).map_err(Error::reply)?;
    ctx.out.ok();
    Ok(())
}

/// The Lua debugger (LDB) is not supported.
pub fn script_debug(ctx: &mut Ctx) -> CmdResult {
    if ctx.arg_is(2, "no") {
        ctx.out.ok();
        return Ok(());
    }
    if ctx.arg_is(2, "yes") || ctx.arg_is(2, "sync") {
        return Err(Error::err("SCRIPT DEBUG is not supported by this server"));
    }
    Err(Error::err("Use SCRIPT DEBUG YES/SYNC/NO"))
}

pub fn script_help(ctx: &mut Ctx) -> CmdResult {
    super::object::help_reply(
        ctx,
        "SCRIPT",
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Only NO is accepted: the Lua debugger is not available.",
            "EXISTS <sha1> [<sha1> ...]",
            "    For each SHA1, 1 if the script is cached, else 0.",
            "FLUSH [ASYNC|SYNC]",
            "    Empty the script cache.",
            "KILL",
            "    Stop the running script, if it has not written anything.",
            "LOAD <script>",
            "    Compile and cache a script without running it; reply its SHA1.",
        ],
    );
    Ok(())
}
