//! From a parsed request to a written reply.
//!
//! [`process_command`] runs the checks in Redis's order (unknown command, unknown
//! subcommand, arity, authentication; later ACL, cluster redirection, OOM, read-only
//! replica, subscribed context, busy script, MULTI queueing), locks the shards the
//! command's key specs name, and hands over to [`call`], which runs the handler and does
//! what follows every command: statistics, slow log, MONITOR feed, dirty counter (and,
//! with the issues that bring them, propagation, keyspace events and WATCH).

use std::sync::atomic::Ordering;

use lodestone_resp::{Command, ReplyWriter};
use lodestone_spec::{
    BeginSearch, CommandId, CommandSpec, FindKeys, KeySpec, CMD_ADMIN, CMD_ALLOW_BUSY,
    CMD_ALL_SHARDS, CMD_LOADING, CMD_NO_AUTH, CMD_NO_MULTI, CMD_SKIP_MONITOR, CMD_SKIP_SLOWLOG,
    CMD_TOUCHES_ARBITRARY_KEYS, CMD_WRITE,
};
use smallvec::SmallVec;

use crate::client::ClientState;
use crate::commands;
use crate::ctx::{BlockMode, Ctx, KeyAccess};
use crate::errors::{unknown_command, unknown_subcommand, wrong_arity};
use crate::keyspace::{shard_of, Busy, Locked};
use crate::server::{bump, Server, SlowlogEntry, ThreadStats};

/// Resolves the spec of a request, or the error Redis gives for it.
pub fn resolve(server: &Server, cmd: &Command) -> Result<&'static CommandSpec, Vec<u8>> {
    let name = cmd.arg(0);
    let Some(spec) = server.commands.lookup(name) else {
        let args: Vec<&[u8]> = cmd.args().skip(1).collect();
        return Err(unknown_command(name, &args));
    };
    if !server.commands.has_subcommands(spec) {
        return check_arity(spec, cmd.len());
    }
    if cmd.len() < 2 {
        // A container alone is the container command itself (COMMAND lists
        // everything); the others' arity refuses it.
        return check_arity(spec, cmd.len());
    }
    match server.commands.lookup_sub(spec.name, cmd.arg(1)) {
        Some(sub) => check_arity(sub, cmd.len()),
        None => Err(unknown_subcommand(cmd.arg(1), spec.name).into_bytes()),
    }
}

fn check_arity(spec: &'static CommandSpec, argc: usize) -> Result<&'static CommandSpec, Vec<u8>> {
    let argc = argc as i32;
    if (spec.arity > 0 && spec.arity != argc) || argc < -spec.arity {
        return Err(wrong_arity(&spec.full_name()).into_bytes());
    }
    Ok(spec)
}

/// Runs one request from a client and writes its reply into `out`.
pub fn process_command(
    server: &Server,
    client: &mut ClientState,
    stats: &ThreadStats,
    out: &mut ReplyWriter,
    cmd: &Command,
    key_scratch: &mut Vec<usize>,
) {
    let spec = match resolve(server, cmd) {
        Ok(spec) => spec,
        Err(message) => {
            // A refused command inside MULTI dooms the transaction (EXECABORT).
            if let Some(multi) = &mut client.multi {
                multi.errored = true;
            }
            if let Some(spec) = rejected_spec(server, cmd) {
                stats.commands[spec.id as usize]
                    .rejected_calls
                    .fetch_add(1, Ordering::Relaxed);
            }
            reject(server, out, &message);
            return;
        }
    };
    if !client.authenticated && !spec.has(CMD_NO_AUTH) {
        if server.config.hot.has_requirepass.load(Ordering::Relaxed) {
            stats.commands[spec.id as usize]
                .rejected_calls
                .fetch_add(1, Ordering::Relaxed);
            reject(server, out, b"NOAUTH Authentication required.");
            return;
        }
        client.authenticated = true;
    }
    if is_write_or_ping(spec, client) && !client.replaying {
        if let Some(message) = crate::persist::writes_refused(server) {
            reject_command(server, client, stats, out, spec, &message);
            return;
        }
    }
    if server.loading.active() && !spec.has(CMD_LOADING) && !client.replaying {
        reject_command(
            server,
            client,
            stats,
            out,
            spec,
            crate::loading::LOADING_ERROR,
        );
        return;
    }
    if client.subscribed() && client.protocol() == lodestone_resp::Protocol::Resp2 {
        if let Err(message) = check_subscribed_context(spec) {
            reject_command(server, client, stats, out, spec, &message);
            return;
        }
    }
    if server.keyspace.busy_scripts.load(Ordering::Relaxed) > 0 && !spec.has(CMD_ALLOW_BUSY) {
        let message = server.scripting.busy_error();
        reject_command(server, client, stats, out, spec, &message);
        return;
    }
    if spec.id == CommandId::Exec {
        exec(server, client, stats, out, cmd, spec, key_scratch);
        return;
    }
    if let Some(multi) = &mut client.multi {
        if !matches!(
            spec.id,
            CommandId::Discard
                | CommandId::Multi
                | CommandId::Watch
                | CommandId::Quit
                | CommandId::Reset
        ) {
            if spec.has(CMD_NO_MULTI) {
                multi.errored = true;
                reject(server, out, b"ERR Command not allowed inside a transaction");
                return;
            }
            multi.queued.push((cmd.clone(), spec));
            out.simple(b"QUEUED");
            return;
        }
    }
    // A script that may reach keys it did not declare starts with every shard; one
    // that finds out mid-run (before writing) is run again that way.
    let mut all = crate::scripting::needs_all_shards(server, spec, cmd);
    loop {
        let locked = match lock_for(server, spec, cmd, key_scratch, all) {
            Ok(locked) => locked,
            Err(Busy) => {
                reject(server, out, server.scripting.busy_error().as_bytes());
                return;
            }
        };
        let reply_start = out.buf.len();
        call(server, client, stats, out, cmd, spec, locked);
        if !std::mem::take(&mut client.script_restart) || all {
            return;
        }
        out.buf.truncate(reply_start);
        all = true;
    }
}

/// The commands a disk error refuses: writes (EXEC when it queued one) and, as in
/// Redis, PING, so that a health check notices.
fn is_write_or_ping(spec: &CommandSpec, client: &ClientState) -> bool {
    match spec.id {
        CommandId::Ping => true,
        CommandId::Exec => client
            .multi
            .as_ref()
            .is_some_and(|m| m.queued.iter().any(|(_, s)| s.has(CMD_WRITE))),
        _ => spec.has(CMD_WRITE),
    }
}

/// Refuses a resolved command: inside MULTI the transaction is doomed, and a refused
/// EXEC ends it with EXECABORT and the reason, as Redis does.
fn reject_command(
    server: &Server,
    client: &mut ClientState,
    stats: &ThreadStats,
    out: &mut ReplyWriter,
    spec: &'static CommandSpec,
    message: &str,
) {
    stats.commands[spec.id as usize]
        .rejected_calls
        .fetch_add(1, Ordering::Relaxed);
    if let Some(multi) = &mut client.multi {
        multi.errored = true;
    }
    if spec.id == CommandId::Exec && client.multi.is_some() {
        crate::commands::transaction::discard_transaction(server, client);
        let abort = format!("EXECABORT Transaction discarded because of: {message}");
        reject(server, out, abort.as_bytes());
        return;
    }
    reject(server, out, message.as_bytes());
}

/// A RESP2 client with subscriptions may only run the commands that manage them.
fn check_subscribed_context(spec: &CommandSpec) -> Result<(), String> {
    match spec.id {
        CommandId::Ping
        | CommandId::Subscribe
        | CommandId::Ssubscribe
        | CommandId::Unsubscribe
        | CommandId::Sunsubscribe
        | CommandId::Psubscribe
        | CommandId::Punsubscribe
        | CommandId::Quit
        | CommandId::Reset => Ok(()),
        _ => Err(format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            spec.full_name()
        )),
    }
}

/// The command a rejected request is counted against (INFO commandstats), as Redis
/// counts it: the subcommand when one was named, nothing for an unknown one.
fn rejected_spec(server: &Server, cmd: &Command) -> Option<&'static CommandSpec> {
    let spec = server.commands.lookup(cmd.arg(0))?;
    if cmd.len() < 2 || !server.commands.has_subcommands(spec) {
        return Some(spec);
    }
    server.commands.lookup_sub(spec.name, cmd.arg(1))
}

fn reject(server: &Server, out: &mut ReplyWriter, message: &[u8]) {
    server.count_error(&String::from_utf8_lossy(message));
    out.error_bytes(message);
}

/// Locks the shards a command needs, in ascending order.
fn lock_for<'a>(
    server: &'a Server,
    spec: &'static CommandSpec,
    cmd: &Command,
    key_scratch: &mut Vec<usize>,
    all: bool,
) -> Result<Locked<'a>, Busy> {
    let keyspace = &server.keyspace;
    let busy_aware = !spec.has(CMD_ALLOW_BUSY);
    if spec.has(CMD_ALL_SHARDS) || all {
        return keyspace.lock_all(busy_aware);
    }
    if spec.key_specs.is_empty() {
        return Ok(keyspace.lock_none());
    }
    // Most commands name one key at a fixed position: no key list to build and sort.
    if let [KeySpec {
        begin: BeginSearch::Index(index),
        find: FindKeys::Range { last_key: 0, .. },
        ..
    }] = spec.key_specs
    {
        let index = *index as usize;
        if index < cmd.len() {
            return keyspace.lock_one(shard_of(cmd.arg(index)), busy_aware);
        }
    }
    if spec
        .key_positions_with(cmd.len(), &|i| cmd.arg(i), key_scratch)
        .is_none()
    {
        // Arguments that contradict the key specs (a bad numkeys): the handler will
        // refuse them; lock everything so a mistake there cannot touch an unlocked shard.
        return keyspace.lock_all(busy_aware);
    }
    let shards: SmallVec<[usize; 4]> = key_scratch.iter().map(|&i| shard_of(cmd.arg(i))).collect();
    if shards.len() > crate::keyspace::SHARDS / 2 {
        return keyspace.lock_all(busy_aware);
    }
    keyspace.lock(shards, busy_aware)
}

/// Runs a resolved command over the shards it locked, then does the bookkeeping that
/// follows every command.
pub fn call<'a>(
    server: &'a Server,
    client: &mut ClientState,
    stats: &ThreadStats,
    out: &mut ReplyWriter,
    cmd: &Command,
    spec: &'static CommandSpec,
    locked: Locked<'a>,
) {
    // `run_one` reads the clock and sets the command's instant.
    let mut keys = access(server, locked, client, 0);
    run_one(
        server,
        client,
        stats,
        out,
        cmd,
        spec,
        &mut keys,
        BlockMode::Park,
    );
    // Several effects (a lazy-expiry DEL and the write, XREADGROUP's claims) are one
    // transaction, as Redis propagates them; scripts wrap their own, and commands that
    // touch arbitrary keys (SCAN, RANDOMKEY) propagate only independent DELs.
    if !spec.has(CMD_TOUCHES_ARBITRARY_KEYS) && !crate::scripting::is_script_call(spec) {
        keys.wrap_in_multi(0);
    }
    finish(server, stats, &mut keys);
}

/// A command's access to the shards it locked, tracking what someone is waiting for:
/// blocked clients, readers of the effect stream, watchers. A replaying client's
/// commands run with expiry suspended.
#[inline]
fn access<'a>(
    server: &'a Server,
    locked: Locked<'a>,
    client: &ClientState,
    now_ms: i64,
) -> KeyAccess<'a> {
    let mut keys = KeyAccess::new(locked, client.db, now_ms);
    keys.track_ready = server.blocked.count() > 0;
    keys.track_effects = server.effects.has_readers();
    keys.track_watch = server.watched.any();
    keys.notify_flags = server.notify_flags();
    keys.no_expiry = client.replaying;
    keys.unlink_expired = keys.track_effects
        && server
            .config
            .hot
            .lazyfree_lazy_expire
            .load(Ordering::Relaxed);
    keys
}

/// Runs one command over shards already locked: the handler, its error reply, its
/// effect, its statistics. A transaction runs each queued command through here.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_one<'s, 'a>(
    server: &'s Server,
    client: &mut ClientState,
    stats: &ThreadStats,
    out: &mut ReplyWriter,
    cmd: &Command,
    spec: &'static CommandSpec,
    keys: &mut KeyAccess<'a>,
    mode: BlockMode,
) {
    let started_us = client
        .clock_us
        .take()
        .unwrap_or_else(lodestone_util::clock::now_us);
    let now_ms = started_us / 1000;
    if server.monitor_count.load(Ordering::Relaxed) > 0
        && !spec.has(CMD_SKIP_MONITOR)
        && !spec.has(CMD_ADMIN)
    {
        feed_monitors(server, client, cmd, now_ms);
    }
    keys.db = client.db;
    // A script sees one instant from start to end (Redis 7 freezes its clock).
    keys.now_ms = keys.frozen_now_ms.unwrap_or(now_ms);
    let dirty_before = keys.dirty;
    let mut ctx = Ctx {
        server,
        client: &mut *client,
        cmd,
        spec,
        out: &mut *out,
        keys: &mut *keys,
        stats,
        mode,
        still_blocked: false,
    };
    let result = commands::handler(spec.id)(&mut ctx);
    keys.seal_effect(cmd, dirty_before);
    let ended_us = lodestone_util::clock::now_us();
    client.clock_us = Some(ended_us);
    let elapsed_us = (ended_us - started_us).max(0) as u64;
    let command_stats = &stats.commands[spec.id as usize];
    bump(&command_stats.calls, 1);
    bump(&command_stats.usec, elapsed_us);
    if let Err(error) = result {
        bump(&command_stats.failed_calls, 1);
        server.count_error(&error.message());
        out.error_bytes(&error.message_bytes());
    }
    client
        .shared
        .last_command
        .store(spec.id as usize + 1, Ordering::Relaxed);
    let threshold = server
        .config
        .hot
        .slowlog_log_slower_than
        .load(Ordering::Relaxed);
    if threshold >= 0 && elapsed_us as i64 >= threshold && !spec.has(CMD_SKIP_SLOWLOG) {
        record_slow(server, client, cmd, elapsed_us as i64, now_ms);
    }
}

/// What follows a command (or a whole transaction) before its locks go: serve the
/// clients its writes fed, mark watchers of the keys it changed, append its effects;
/// then release the shards and publish the counters.
fn finish<'a>(server: &'a Server, stats: &ThreadStats, keys: &mut KeyAccess<'a>) {
    if !keys.ready.is_empty() {
        crate::blocking::serve_ready(server, keys);
    }
    if !keys.touched.is_empty() {
        let touched = std::mem::take(&mut keys.touched);
        let exists: std::collections::HashSet<(usize, lodestone_store::Key)> = touched
            .iter()
            .filter(|(db, key)| keys.locked.db_for(key, *db).get(key).is_some())
            .cloned()
            .collect();
        server
            .watched
            .touch(&touched, |db, key| exists.contains(&(db, key.into())));
    }
    if !keys.effects.is_empty() {
        crate::aof::note_appended(server.effects.append(&keys.effects));
    }
    if !keys.events.is_empty() {
        crate::notify::publish(server, &keys.events);
    }
    // Taken by reference, not by value: moving the whole access struct here cost a
    // memcpy per command.
    keys.locked.release_all();
    if keys.dirty > 0 {
        server.dirty.fetch_add(keys.dirty, Ordering::Relaxed);
    }
    if !keys.expired.is_empty() {
        server
            .stats
            .expired_keys
            .fetch_add(keys.expired.len() as u64, Ordering::Relaxed);
    }
    if keys.hits > 0 {
        bump(&stats.keyspace_hits, keys.hits);
    }
    if keys.misses > 0 {
        bump(&stats.keyspace_misses, keys.misses);
    }
}

/// EXEC: runs the queued commands as one atomic step over the union of their shards
/// (every shard if one of them needs it), unless a queued command was refused
/// (EXECABORT) or a watched key changed (null reply). Blocking commands inside behave
/// as their non-blocking forms; clients they feed are served after the whole
/// transaction; its effects enter the stream wrapped in MULTI/EXEC.
fn exec(
    server: &Server,
    client: &mut ClientState,
    stats: &ThreadStats,
    out: &mut ReplyWriter,
    cmd: &Command,
    spec: &'static CommandSpec,
    key_scratch: &mut Vec<usize>,
) {
    bump(&stats.commands[spec.id as usize].calls, 1);
    run_transaction(server, client, stats, out, key_scratch);
    // MONITOR shows EXEC after the commands it ran, as Redis does.
    if server.monitor_count.load(Ordering::Relaxed) > 0 {
        feed_monitors(server, client, cmd, lodestone_util::clock::now_ms());
    }
}

fn run_transaction(
    server: &Server,
    client: &mut ClientState,
    stats: &ThreadStats,
    out: &mut ReplyWriter,
    key_scratch: &mut Vec<usize>,
) {
    let Some(multi) = client.multi.take() else {
        reject(server, out, b"ERR EXEC without MULTI");
        return;
    };
    client.shared.in_multi.store(false, Ordering::Relaxed);
    if multi.errored {
        crate::commands::transaction::unwatch_all(server, client);
        reject(
            server,
            out,
            b"EXECABORT Transaction discarded because of previous errors.",
        );
        return;
    }
    let locked = match lock_for_transaction(server, client, &multi.queued, key_scratch) {
        Ok(locked) => locked,
        Err(Busy) => {
            crate::commands::transaction::unwatch_all(server, client);
            reject(server, out, server.scripting.busy_error().as_bytes());
            return;
        }
    };
    let now_ms = lodestone_util::clock::now_ms();
    let mut keys = access(server, locked, client, now_ms);
    let aborted = client.shared.dirty_cas.load(Ordering::Relaxed)
        || watched_key_expired(server, client, &mut keys);
    crate::commands::transaction::unwatch_all(server, client);
    if aborted {
        out.null_array();
        finish(server, stats, &mut keys);
        return;
    }
    out.array(multi.queued.len());
    for (cmd, spec) in &multi.queued {
        run_one(
            server,
            client,
            stats,
            out,
            cmd,
            spec,
            &mut keys,
            BlockMode::Never,
        );
    }
    keys.wrap_in_multi(0);
    finish(server, stats, &mut keys);
}

/// Whether a key the client watched has expired since (Redis fails EXEC then, unless
/// the key was already expired when watched).
fn watched_key_expired(server: &Server, client: &ClientState, keys: &mut KeyAccess) -> bool {
    let now = keys.now_ms;
    client.watched.iter().any(|(db, key)| {
        let expired = keys
            .locked
            .db_for(key, *db)
            .get(key)
            .is_some_and(|e| e.is_expired(now));
        expired && !server.watched.watched_expired(client.shared.id, *db, key)
    })
}

/// The shards a transaction needs: those of every queued command's keys and of the
/// watched keys, or all of them if any command needs all.
fn lock_for_transaction<'a>(
    server: &'a Server,
    client: &ClientState,
    queued: &[(Command, &'static CommandSpec)],
    key_scratch: &mut Vec<usize>,
) -> Result<Locked<'a>, Busy> {
    let keyspace = &server.keyspace;
    let mut shards: SmallVec<[usize; 4]> = client
        .watched
        .iter()
        .map(|(_, key)| shard_of(key))
        .collect();
    for (cmd, spec) in queued {
        // A script inside EXEC may reach keys it did not declare, and cannot start
        // again after the commands before it: it gets every shard.
        if spec.has(CMD_ALL_SHARDS) || crate::scripting::is_script_call(spec) {
            return keyspace.lock_all(true);
        }
        key_scratch.clear();
        if spec
            .key_positions_with(cmd.len(), &|i| cmd.arg(i), key_scratch)
            .is_none()
        {
            return keyspace.lock_all(true);
        }
        shards.extend(key_scratch.iter().map(|&i| shard_of(cmd.arg(i))));
        if shards.len() > crate::keyspace::SHARDS / 2 {
            return keyspace.lock_all(true);
        }
    }
    keyspace.lock(shards, true)
}

fn record_slow(
    server: &Server,
    client: &ClientState,
    cmd: &Command,
    duration_us: i64,
    now_ms: i64,
) {
    let max_len = server.config.hot.slowlog_max_len.load(Ordering::Relaxed);
    if max_len == 0 {
        return;
    }
    // As Redis: at most 32 arguments, each at most 128 bytes, with a note of the rest.
    const MAX_ARGS: usize = 32;
    const MAX_ARG_LEN: usize = 128;
    let argc = cmd.len();
    let shown = argc.min(MAX_ARGS);
    let mut args = Vec::with_capacity(shown);
    for (i, arg) in cmd.args().take(shown).enumerate() {
        if i == MAX_ARGS - 1 && argc > MAX_ARGS {
            args.push(format!("... ({} more arguments)", argc - MAX_ARGS + 1).into_bytes());
        } else if arg.len() > MAX_ARG_LEN {
            let mut cut = arg[..MAX_ARG_LEN].to_vec();
            cut.extend_from_slice(
                format!("... ({} more bytes)", arg.len() - MAX_ARG_LEN).as_bytes(),
            );
            args.push(cut);
        } else {
            args.push(arg.to_vec());
        }
    }
    let mut log = server.slowlog.lock();
    let id = log.next_id;
    log.next_id += 1;
    log.entries.push_front(SlowlogEntry {
        id,
        time_s: now_ms / 1000,
        duration_us,
        args,
        peer: client.shared.addr.clone(),
        name: client.shared.name.lock().clone(),
    });
    while log.entries.len() > max_len {
        log.entries.pop_back();
    }
}

/// Sends the MONITOR line of a command to every monitoring client.
pub(crate) fn feed_monitors(server: &Server, client: &ClientState, cmd: &Command, now_ms: i64) {
    let now_us = lodestone_util::clock::now_us().max(now_ms * 1000);
    // Commands a script runs show `lua` as their client, as in Redis.
    let origin: &str = match client.in_script {
        true => "lua",
        false => &client.shared.addr,
    };
    let mut line = format!(
        "+{}.{:06} [{} {}]",
        now_us / 1_000_000,
        now_us % 1_000_000,
        client.db,
        origin
    );
    for arg in cmd.args() {
        line.push(' ');
        line.push_str(&crate::commands::repr(arg));
    }
    line.push_str("\r\n");
    let bytes = bytes::Bytes::from(line);
    let monitors = server.monitors.lock();
    for (_, sender) in monitors.iter() {
        let _ = sender.send(bytes.clone());
    }
}
