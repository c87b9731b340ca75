//! OBJECT: introspection of a key's value (ENCODING, REFCOUNT, IDLETIME, FREQ, HELP).
//!
//! Lookups leave the access time alone (Redis's `LOOKUP_NOTOUCH`), or OBJECT IDLETIME
//! would always answer 0. A missing key answers null before any policy check, as Redis.

use lodestone_store::{Entry, StrValue, Value};

use crate::ctx::Ctx;
use crate::errors::{unknown_subcommand, CmdResult, Error};

/// Redis's `OBJ_SHARED_REFCOUNT`: the reference count reported for shared objects.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;

/// Integers below this are shared objects in Redis (`OBJ_SHARED_INTEGERS`).
const SHARED_INTEGERS: i64 = 10_000;

/// Redis's `LFU_INIT_VAL`: the frequency counter of a new key.
const LFU_INIT_VAL: i64 = 5;

/// Only reached if the dispatcher let an unknown subcommand through.
pub fn object(ctx: &mut Ctx) -> CmdResult {
    Err(Error::Text(unknown_subcommand(ctx.arg(1), "object").into()))
}

pub fn object_encoding(ctx: &mut Ctx) -> CmdResult {
    let Some(entry) = lookup(ctx) else {
        ctx.out.null();
        return Ok(());
    };
    let encoding = entry.value.encoding();
    ctx.out.bulk(encoding.as_bytes());
    Ok(())
}

pub fn object_refcount(ctx: &mut Ctx) -> CmdResult {
    let Some(entry) = lookup(ctx) else {
        ctx.out.null();
        return Ok(());
    };
    let small_int =
        matches!(entry.value, Value::Str(StrValue::Int(n)) if (0..SHARED_INTEGERS).contains(&n));
    let shared = small_int && shares_integers(ctx);
    ctx.out.integer(if shared { SHARED_REFCOUNT } else { 1 });
    Ok(())
}

pub fn object_idletime(ctx: &mut Ctx) -> CmdResult {
    let now_s = ctx.keys.now_ms / 1000;
    let Some(access_s) = lookup(ctx).map(|e| e.access_s) else {
        ctx.out.null();
        return Ok(());
    };
    if lfu_policy(ctx) {
        return Err(Error::err("An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
    }
    ctx.out
        .integer(now_s.saturating_sub(i64::from(access_s)).max(0));
    Ok(())
}

/// No LFU counter is kept yet: the counter of a new key, decayed by the idle minutes
/// the way Redis decays it (one step per `lfu-decay-time` minutes).
pub fn object_freq(ctx: &mut Ctx) -> CmdResult {
    let now_s = ctx.keys.now_ms / 1000;
    let Some(access_s) = lookup(ctx).map(|e| e.access_s) else {
        ctx.out.null();
        return Ok(());
    };
    if !lfu_policy(ctx) {
        return Err(Error::err("An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
    }
    let idle_minutes = now_s.saturating_sub(i64::from(access_s)).max(0) / 60;
    let decay = ctx.server.config.get_i64("lfu-decay-time");
    let periods = if decay > 0 { idle_minutes / decay } else { 0 };
    ctx.out.integer((LFU_INIT_VAL - periods).max(0));
    Ok(())
}

pub fn object_help(ctx: &mut Ctx) -> CmdResult {
    help_reply(
        ctx,
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Report how the value stored at <key> is represented internally.",
            "FREQ <key>",
            "    Report the logarithmic access frequency counter of <key> (LFU policies).",
            "IDLETIME <key>",
            "    Report the seconds since <key> was last accessed (non-LFU policies).",
            "REFCOUNT <key>",
            "    Report how many references the value stored at <key> has.",
        ],
    );
    Ok(())
}

/// The reply shape every `<CONTAINER> HELP` uses: a header line, the lines, a footer.
pub(crate) fn help_reply(ctx: &mut Ctx, container: &str, lines: &[&str]) {
    ctx.out.array(lines.len() + 3);
    let header = format!("{container} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    ctx.out.simple(header.as_bytes());
    for line in lines {
        ctx.out.simple(line.as_bytes());
    }
    ctx.out.simple(b"HELP");
    ctx.out.simple(b"    Prints this help.");
}

/// The key argument (`OBJECT <sub> <key>`), without touching it, counted as a read but
/// with no `keymiss` event (Redis looks it up with `LOOKUP_NONOTIFY`).
fn lookup<'c>(ctx: &'c mut Ctx) -> Option<&'c mut Entry> {
    let cmd = ctx.cmd;
    ctx.keys.peek_read_quiet(cmd.arg(2))
}

fn lfu_policy(ctx: &Ctx) -> bool {
    ctx.server.config.get("maxmemory-policy").contains("lfu")
}

/// Redis stops sharing small integers once eviction by LRU or LFU may need a per-key
/// access time.
fn shares_integers(ctx: &Ctx) -> bool {
    let policy = ctx.server.config.get("maxmemory-policy");
    ctx.server.config.get_i64("maxmemory") == 0
        || !(policy.contains("lru") || policy.contains("lfu"))
}
