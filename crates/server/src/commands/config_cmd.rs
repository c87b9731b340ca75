//! CONFIG GET, SET, RESETSTAT, REWRITE and HELP over the parameter table in `config`.
//!
//! CONFIG SET is all or nothing, as in Redis 7: every name is checked first (unknown,
//! immutable, protected, repeated), then values are set one by one and, if one is
//! refused, the ones already set are put back. CONFIG REWRITE edits the startup file in
//! place the way Redis does, keeping comments and the order of lines.

use std::sync::atomic::Ordering;

use crate::config::{find_param, Param, PARAMS};
use crate::ctx::Ctx;
use crate::errors::{CmdResult, Error};

use super::server::reply_help;

/// CONFIG GET pattern [pattern ...]: a map of matching names to values.
pub fn config_get(ctx: &mut Ctx) -> CmdResult {
    let mut matches: Vec<(String, &'static Param)> = Vec::new();
    for i in 2..ctx.argc() {
        let pattern = ctx.arg(i);
        if !pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
            // An exact name (or alias) is echoed as it was typed.
            let typed = String::from_utf8_lossy(pattern).into_owned();
            if let Some(param) = find_param(&typed) {
                add_match(&mut matches, typed, param);
            }
            continue;
        }
        for param in PARAMS.iter().filter(|p| !p.hidden) {
            for name in std::iter::once(param.name).chain(param.alias) {
                if lodestone_util::glob_match(pattern, name.as_bytes(), true) {
                    add_match(&mut matches, name.to_string(), param);
                }
            }
        }
    }
    ctx.out.map(matches.len());
    for (name, param) in matches {
        ctx.out.bulk(name.as_bytes());
        ctx.out.bulk(ctx.server.config.get(param.name).as_bytes());
    }
    Ok(())
}

fn add_match(matches: &mut Vec<(String, &'static Param)>, name: String, param: &'static Param) {
    if !matches.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
        matches.push((name, param));
    }
}

/// Parameters CONFIG SET changes only when `enable-protected-configs` allows it.
const PROTECTED: &[&str] = &["dir", "dbfilename"];

/// Whether this client may change protected parameters.
fn protected_allowed(ctx: &Ctx) -> bool {
    match ctx.server.config.get("enable-protected-configs").as_str() {
        "yes" => true,
        "local" => is_local(&ctx.client.shared.addr),
        _ => false,
    }
}

fn is_local(addr: &str) -> bool {
    addr.starts_with("127.") || addr.starts_with("[::1]")
}

fn set_failed(name: &str, reason: &str) -> Error {
    Error::err(format!(
        "CONFIG SET failed (possibly related to argument '{name}') - {reason}"
    ))
}

/// Checks the names of a CONFIG SET; returns the parameters with their new values.
fn check_set_names<'c>(ctx: &Ctx<'c, '_>) -> Result<Vec<(&'static Param, &'c [u8])>, Error> {
    let mut pairs: Vec<(&'static Param, &[u8])> = Vec::new();
    for i in (2..ctx.argc()).step_by(2) {
        let typed = String::from_utf8_lossy(ctx.arg(i)).into_owned();
        let Some(param) = find_param(&typed) else {
            return Err(Error::err(format!(
                "Unknown option or number of arguments for CONFIG SET - '{typed}'"
            )));
        };
        if param.immutable {
            return Err(set_failed(&typed, "can't set immutable config"));
        }
        if PROTECTED.contains(&param.name) && !protected_allowed(ctx) {
            return Err(set_failed(&typed, "can't set protected config"));
        }
        if pairs.iter().any(|(p, _)| std::ptr::eq(*p, param)) {
            return Err(set_failed(&typed, "duplicate parameter"));
        }
        pairs.push((param, ctx.arg(i + 1)));
    }
    Ok(pairs)
}

/// CONFIG SET name value [name value ...]
pub fn config_set(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() % 2 == 1 {
        return Err(Error::Syntax);
    }
    let pairs = check_set_names(ctx)?;
    let config = &ctx.server.config;
    let old: Vec<String> = pairs.iter().map(|(p, _)| config.get(p.name)).collect();
    for (done, (param, value)) in pairs.iter().enumerate() {
        let value = String::from_utf8_lossy(value);
        if let Err(reason) = config.set_value(param, &value) {
            // Put back what was already set, so the command changes nothing.
            for ((param, _), old) in pairs.iter().zip(&old).take(done) {
                let _ = config.set_value(param, old);
            }
            return Err(set_failed(param.name, &reason));
        }
    }
    apply_appendonly(ctx, &pairs, &old);
    if pairs.iter().any(|(p, _)| p.name == "aof-disable-auto-gc")
        && !config.get_bool("aof-disable-auto-gc")
    {
        crate::aof::delete_history_now(ctx.server);
    }
    if let Err((name, reason)) = apply_listeners(ctx, &pairs, &old) {
        for ((param, _), old) in pairs.iter().zip(&old) {
            let _ = config.set_value(param, old);
        }
        return Err(set_failed(name, reason));
    }
    ctx.out.ok();
    Ok(())
}

/// The apply phase of `appendonly`: turning the AOF on starts a rewrite (the cron
/// runs it), turning it off flushes and closes it.
fn apply_appendonly(ctx: &mut Ctx, pairs: &[(&'static Param, &[u8])], old: &[String]) {
    let config = &ctx.server.config;
    let changed = pairs
        .iter()
        .zip(old)
        .any(|((p, _), old)| p.name == "appendonly" && config.get("appendonly") != *old);
    if !changed {
        return;
    }
    if config.get_bool("appendonly") {
        crate::aof::enable(ctx.server, ctx.keys.locked.holds_none());
    } else {
        crate::aof::disable(ctx.server);
    }
}

/// The apply phase of `port` and `bind`: rebind when either changed. Returns the
/// parameter to blame and Redis's reason on failure.
fn apply_listeners(
    ctx: &Ctx,
    pairs: &[(&'static Param, &[u8])],
    old: &[String],
) -> Result<(), (&'static str, &'static str)> {
    let config = &ctx.server.config;
    let changed = |name: &str| {
        pairs
            .iter()
            .zip(old)
            .any(|((p, _), old)| p.name == name && config.get(name) != *old)
    };
    let (port_changed, bind_changed) = (changed("port"), changed("bind"));
    if !port_changed && !bind_changed {
        return Ok(());
    }
    let port = config.get_i64("port") as u16;
    crate::rebind(ctx.server, &config.get("bind"), port).map_err(|e| {
        tracing::warn!("CONFIG SET listeners: {e}");
        if port_changed {
            ("port", "Unable to listen on this port. Check server logs.")
        } else {
            ("bind", "Failed to bind to specified addresses.")
        }
    })
}

/// CONFIG RESETSTAT: zeroes what INFO counts (the slow log is left alone, as in Redis).
pub fn config_resetstat(ctx: &mut Ctx) -> CmdResult {
    let server = ctx.server;
    let stats = &server.stats;
    for counter in [
        &stats.total_connections_received,
        &stats.rejected_connections,
        &stats.expired_keys,
        &stats.expired_stale_perc,
        &stats.expired_time_cap_reached_count,
        &stats.total_error_replies,
        &stats.unexpected_error_replies,
        &stats.client_query_buffer_limit_disconnections,
    ] {
        counter.store(0, Ordering::Relaxed);
    }
    stats.errors.lock().clear();
    for thread in server.thread_stats.lock().iter() {
        thread.net_input_bytes.store(0, Ordering::Relaxed);
        thread.net_output_bytes.store(0, Ordering::Relaxed);
        thread.keyspace_hits.store(0, Ordering::Relaxed);
        thread.keyspace_misses.store(0, Ordering::Relaxed);
        for command in thread.commands.iter() {
            command.calls.store(0, Ordering::Relaxed);
            command.usec.store(0, Ordering::Relaxed);
            command.rejected_calls.store(0, Ordering::Relaxed);
            command.failed_calls.store(0, Ordering::Relaxed);
        }
    }
    *server.metrics.series.lock() = Default::default();
    ctx.out.ok();
    Ok(())
}

/// CONFIG REWRITE: writes the running configuration into the file given at startup.
pub fn config_rewrite(ctx: &mut Ctx) -> CmdResult {
    let Some(path) = ctx.server.config.file.clone() else {
        return Err(Error::err("The server is running without a config file"));
    };
    let old = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(rewrite_failed(&e)),
    };
    let text = super::config_rewrite::rewrite(&ctx.server.config, &old);
    write_atomically(&path, &text).map_err(|e| rewrite_failed(&e))?;
    tracing::info!("CONFIG REWRITE executed with success.");
    ctx.out.ok();
    Ok(())
}

fn rewrite_failed(e: &std::io::Error) -> Error {
    tracing::warn!("CONFIG REWRITE failed: {e}");
    Error::err(format!("Rewriting config file: {}", io_reason(e)))
}

/// The C library's wording of an I/O error, without Rust's `(os error N)` suffix.
fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    }
}

/// Replaces the file through a temporary one, so a crash never leaves half a config.
fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path)
}

pub fn config_help(ctx: &mut Ctx) -> CmdResult {
    reply_help(
        ctx,
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
    Ok(())
}
