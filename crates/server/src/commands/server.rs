//! Server commands: the entry points the command map names, and the small commands
//! (TIME, LASTSAVE, SLOWLOG, MONITOR, MEMORY, SHUTDOWN, LOLWUT) that fit on a page.
//!
//! The bigger families live in sibling modules (`info`, `config_cmd`, `command_cmd`,
//! `debug`) and are re-exported here, so the one command map keeps naming `server::x`.

use std::sync::atomic::Ordering;

use crate::ctx::Ctx;
use crate::errors::{CmdResult, Error};
use crate::snapshot::Purpose;

pub use super::command_cmd::{
    command, command_count, command_docs, command_getkeys, command_help, command_info, command_list,
};
pub use super::config_cmd::{
    config_get, config_help, config_resetstat, config_rewrite, config_set,
};
pub use super::debug::debug;
pub use super::info::info;

/// Writes a HELP reply the way Redis frames it: a header naming the command, the given
/// lines, and the HELP entry itself, all as simple strings.
pub fn reply_help(ctx: &mut Ctx, lines: &[&str]) {
    let name = String::from_utf8_lossy(ctx.arg(0)).to_uppercase();
    ctx.out.array(lines.len() + 3);
    ctx.out.simple(
        format!("{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:").as_bytes(),
    );
    for line in lines {
        ctx.out.simple(line.as_bytes());
    }
    ctx.out.simple(b"HELP");
    ctx.out.simple(b"    Prints this help.");
}

/// Redis's reply to a subcommand used with arguments it does not take.
pub fn subcommand_syntax_error(ctx: &Ctx) -> Error {
    let sub = ctx.arg(1);
    let sub = String::from_utf8_lossy(&sub[..sub.len().min(128)]).into_owned();
    let name = String::from_utf8_lossy(ctx.arg(0)).to_uppercase();
    Error::err(format!(
        "unknown subcommand or wrong number of arguments for '{sub}'. Try {name} HELP."
    ))
}

/// The container commands (CONFIG, SLOWLOG, MEMORY) never run themselves: dispatch
/// resolves their subcommands first. Kept as a defensive reply.
pub fn config(ctx: &mut Ctx) -> CmdResult {
    Err(subcommand_syntax_error(ctx))
}

pub fn slowlog(ctx: &mut Ctx) -> CmdResult {
    Err(subcommand_syntax_error(ctx))
}

pub fn memory(ctx: &mut Ctx) -> CmdResult {
    Err(subcommand_syntax_error(ctx))
}

pub fn time(ctx: &mut Ctx) -> CmdResult {
    let now_us = lodestone_util::clock::now_us();
    ctx.out.array(2);
    ctx.out.bulk_integer(now_us.div_euclid(1_000_000));
    ctx.out.bulk_integer(now_us.rem_euclid(1_000_000));
    Ok(())
}

/// SAVE: writes the RDB file now, with every shard held (flagged to lock all shards),
/// so the snapshot is one point in time.
pub fn save(ctx: &mut Ctx) -> CmdResult {
    if ctx
        .server
        .snapshots
        .running()
        .is_some_and(|r| r.purpose == Purpose::Rdb)
    {
        return Err(Error::err("Background save already in progress"));
    }
    ctx.server.snapshots.state.lock().saves += 1;
    match crate::persist::save(ctx.server, &mut ctx.keys.locked) {
        Ok(()) => {
            ctx.out.ok();
            Ok(())
        }
        Err(e) => {
            tracing::warn!("Failed opening the temp RDB file or writing it: {e}");
            Err(Error::err("Errors trying to SAVE. Check logs."))
        }
    }
}

/// BGSAVE [SCHEDULE]: a snapshot written in the background while clients keep working
/// (`crate::snapshot`: no fork, no second copy of the data).
pub fn bgsave(ctx: &mut Ctx) -> CmdResult {
    let schedule = match ctx.argc() {
        1 => false,
        2 if ctx.arg_is(1, "schedule") => true,
        _ => return Err(Error::Syntax),
    };
    let server = ctx.server;
    let running = server.snapshots.running();
    if running.is_some_and(|r| r.purpose == Purpose::Rdb) {
        return Err(Error::err("Background save already in progress"));
    }
    // Inside EXEC Redis only schedules it (BGSAVE is refused in scripts).
    let in_exec = ctx.mode == crate::ctx::BlockMode::Never;
    if running.is_some() || in_exec {
        if schedule || in_exec {
            server.snapshots.state.lock().bgsave_scheduled = true;
            ctx.out.simple(b"Background saving scheduled");
            return Ok(());
        }
        return Err(Error::err(
            "Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
        ));
    }
    match crate::persist::start_bgsave(server, &mut ctx.keys.locked) {
        Ok(()) => {
            ctx.out.simple(b"Background saving started");
            Ok(())
        }
        Err(_) => Err(Error::err("Background save already in progress")),
    }
}

/// BGREWRITEAOF: a new base for the AOF, written in the background (`crate::aof`).
pub fn bgrewriteaof(ctx: &mut Ctx) -> CmdResult {
    let server = ctx.server;
    let running = server.snapshots.running();
    if running.is_some_and(|r| r.purpose == Purpose::AofBase) {
        return Err(Error::err(
            "Background append only file rewriting already in progress",
        ));
    }
    let in_exec = ctx.mode == crate::ctx::BlockMode::Never;
    if running.is_some() || in_exec {
        crate::aof::schedule_rewrite(server);
        ctx.out
            .simple(b"Background append only file rewriting scheduled");
        return Ok(());
    }
    match crate::aof::start_rewrite(server, &mut ctx.keys.locked) {
        Ok(()) => {
            ctx.out.simple(b"Background append only file rewriting started");
            Ok(())
        }
        Err(_) => Err(Error::err(
            "Can't execute an AOF background rewriting. Please check the server logs for more information.",
        )),
    }
}

pub fn lastsave(ctx: &mut Ctx) -> CmdResult {
    ctx.out
        .integer(ctx.server.lastsave_s.load(Ordering::Relaxed));
    Ok(())
}

pub fn slowlog_get(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() > 3 {
        return Err(subcommand_syntax_error(ctx));
    }
    let mut count = 10usize;
    if ctx.argc() == 3 {
        count = match lodestone_util::number::parse_i64(ctx.arg(2)) {
            Some(-1) => usize::MAX,
            Some(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
            _ => return Err(Error::err("count should be greater than or equal to -1")),
        };
    }
    let log = ctx.server.slowlog.lock();
    let shown = log.entries.len().min(count);
    ctx.out.array(shown);
    for entry in log.entries.iter().take(shown) {
        ctx.out.array(6);
        ctx.out.integer(entry.id as i64);
        ctx.out.integer(entry.time_s);
        ctx.out.integer(entry.duration_us);
        ctx.out.array(entry.args.len());
        for arg in &entry.args {
            ctx.out.bulk(arg);
        }
        ctx.out.bulk(entry.peer.as_bytes());
        ctx.out.bulk(&entry.name);
    }
    Ok(())
}

pub fn slowlog_len(ctx: &mut Ctx) -> CmdResult {
    let len = ctx.server.slowlog.lock().entries.len();
    ctx.out.integer(len as i64);
    Ok(())
}

pub fn slowlog_reset(ctx: &mut Ctx) -> CmdResult {
    ctx.server.slowlog.lock().entries.clear();
    ctx.out.ok();
    Ok(())
}

pub fn slowlog_help(ctx: &mut Ctx) -> CmdResult {
    reply_help(
        ctx,
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
    Ok(())
}

/// MONITOR: the connection turns into a feed of every command; conn.rs registers it
/// after this reply. A second MONITOR on the same connection is ignored, as in Redis.
pub fn monitor(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.monitor {
        return Ok(());
    }
    ctx.client.monitor = true;
    ctx.out.ok();
    Ok(())
}

pub fn memory_usage(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let mut i = 3;
    while i < cmd.len() {
        if !cmd.arg(i).eq_ignore_ascii_case(b"samples") || i + 1 >= cmd.len() {
            return Err(Error::Syntax);
        }
        let samples = ctx.arg_i64(i + 1)?;
        if samples < 0 {
            return Err(Error::Syntax);
        }
        i += 2;
    }
    let key = cmd.arg(2);
    // Like Redis, a logically expired key that is still stored is measured.
    match ctx.keys.raw_db(key).get(key) {
        None => ctx.out.null(),
        Some(entry) => {
            let usage = super::memory::key_usage(key, &entry.value);
            ctx.out.integer(usage as i64);
        }
    }
    Ok(())
}

pub fn memory_help(ctx: &mut Ctx) -> CmdResult {
    reply_help(
        ctx,
        &[
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
    Ok(())
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: stops the server at once (the RDB file
/// is written on the way out when save points are set, or with SAVE; not with NOSAVE);
/// the connection closes without a reply.
pub fn shutdown(ctx: &mut Ctx) -> CmdResult {
    let (mut save, mut nosave, mut other, mut abort) = (false, false, false, false);
    for i in 1..ctx.argc() {
        match ctx.arg(i).to_ascii_lowercase().as_slice() {
            b"nosave" => nosave = true,
            b"save" => save = true,
            b"now" | b"force" => other = true,
            b"abort" => abort = true,
            _ => return Err(Error::Syntax),
        }
    }
    if (abort && (save || nosave || other)) || (save && nosave) {
        return Err(Error::Syntax);
    }
    if abort {
        // A shutdown here is never pending: it happens as soon as it is asked for.
        return Err(Error::err("No shutdown in progress."));
    }
    tracing::warn!("User requested shutdown...");
    let mode = if nosave {
        2
    } else if save {
        1
    } else {
        0
    };
    ctx.server.shutdown_save.store(mode, Ordering::Relaxed);
    ctx.client.close_after_reply = true;
    ctx.server.request_shutdown();
    Ok(())
}

/// LOLWUT [VERSION v]: Redis 7.0 draws art only for versions 5 and 6; every other
/// version prints this one line, which is all Lodestone prints.
pub fn lolwut(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() >= 3 && ctx.arg_is(1, "version") {
        ctx.arg_i64(2)?;
    }
    let line = format!("Redis ver. {}\n", crate::REDIS_VERSION);
    ctx.out.bulk(line.as_bytes());
    Ok(())
}

/// FUNCTION without a subcommand: the dispatcher resolves subcommands first, so this only
/// runs if the table and the dispatcher disagree.
pub fn function(_ctx: &mut Ctx) -> CmdResult {
    Err(Error::err("unknown subcommand"))
}
