//! CLIENT subcommands: naming, listing and killing connections, reply modes, pauses.
//!
//! Other connections are seen only through their `ClientShared` (read with relaxed
//! atomics, so a listing is a snapshot, not a transaction) and signalled through it:
//! CLIENT KILL sets a flag and wakes the owning task, which closes its own socket.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use lodestone_spec::COMMANDS;

use super::connection::set_client_name;
use super::server::{reply_help, subcommand_syntax_error};
use crate::blocking::Outcome;
use crate::client::{ClientShared, ReplyMode};
use crate::ctx::Ctx;
use crate::errors::{CmdResult, Error};

/// The kinds of client CLIENT LIST/KILL TYPE name. Only normal clients exist until
/// replication and pub/sub arrive.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Replica,
    Master,
    PubSub,
}

fn client_type(name: &[u8]) -> Result<ClientType, Error> {
    match name.to_ascii_lowercase().as_slice() {
        b"normal" => Ok(ClientType::Normal),
        b"slave" | b"replica" => Ok(ClientType::Replica),
        b"master" => Ok(ClientType::Master),
        b"pubsub" => Ok(ClientType::PubSub),
        _ => Err(Error::err(format!(
            "Unknown client type '{}'",
            String::from_utf8_lossy(name)
        ))),
    }
}

/// A client's type; MONITOR clients count as normal, as in Redis.
fn type_of(client: &ClientShared) -> ClientType {
    match subscribed(client) {
        true => ClientType::PubSub,
        false => ClientType::Normal,
    }
}

/// Whether the client has any subscription (Redis's CLIENT_PUBSUB).
fn subscribed(client: &ClientShared) -> bool {
    client
        .subscriptions
        .iter()
        .any(|count| count.load(Ordering::Relaxed) > 0)
}

pub fn client(ctx: &mut Ctx) -> CmdResult {
    Err(subcommand_syntax_error(ctx))
}

pub fn client_id(ctx: &mut Ctx) -> CmdResult {
    ctx.out.integer(ctx.client.shared.id as i64);
    Ok(())
}

pub fn client_setname(ctx: &mut Ctx) -> CmdResult {
    set_client_name(ctx, ctx.arg(2))?;
    ctx.out.ok();
    Ok(())
}

pub fn client_getname(ctx: &mut Ctx) -> CmdResult {
    let name = ctx.client.shared.name.lock().clone();
    if name.is_empty() {
        ctx.out.null();
    } else {
        ctx.out.bulk(&name);
    }
    Ok(())
}

/// What the listing needs to know about the client running CLIENT LIST/INFO, whose
/// current command Redis reports although it has not finished.
struct Caller {
    id: u64,
    command: String,
    argv_mem: usize,
}

fn caller(ctx: &Ctx) -> Caller {
    Caller {
        id: ctx.client.shared.id,
        command: ctx.spec.full_name(),
        argv_mem: ctx.cmd.args().map(<[u8]>::len).sum(),
    }
}

/// Bytes Redis's reply buffer starts with (CLIENT LIST `rbs`).
const REPLY_BUFFER: usize = 16 * 1024;
/// A rough size of the per-client structures themselves, for `tot-mem`.
const CLIENT_STRUCT: usize = 1024;

fn flags(client: &ClientShared) -> String {
    let mut flags = String::new();
    if client.is_monitor.load(Ordering::Relaxed) {
        flags.push('O');
    }
    if subscribed(client) {
        flags.push('P');
    }
    if client.in_multi.load(Ordering::Relaxed) {
        flags.push('x');
    }
    if client.blocked_on.lock().is_some() {
        flags.push('b');
    }
    if client.no_evict.load(Ordering::Relaxed) {
        flags.push('e');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    flags
}

fn last_command(client: &ClientShared) -> String {
    match client.last_command.load(Ordering::Relaxed) {
        0 => "NULL".to_string(),
        n => COMMANDS
            .get(n - 1)
            .map_or_else(|| "NULL".to_string(), |spec| spec.full_name()),
    }
}

/// One CLIENT LIST line, in Redis 7.2's field order (7.0's plus lib-name and lib-ver).
fn client_line(client: &ClientShared, now_ms: i64, caller: &Caller) -> String {
    let text = |m: &parking_lot::Mutex<Vec<u8>>| String::from_utf8_lossy(&m.lock()).into_owned();
    let is_caller = client.id == caller.id;
    let (command, argv_mem) = if is_caller {
        (caller.command.clone(), caller.argv_mem)
    } else {
        (last_command(client), 0)
    };
    let qbuf = client.query_buffer.load(Ordering::Relaxed);
    let qbuf_free = client.query_buffer_free.load(Ordering::Relaxed);
    let omem = client.output_buffer.load(Ordering::Relaxed);
    let tot_mem = qbuf + qbuf_free + REPLY_BUFFER + omem + argv_mem + CLIENT_STRUCT;
    let now_s = now_ms / 1000;
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi=-1 \
         qbuf={qbuf} qbuf-free={qbuf_free} argv-mem={argv_mem} multi-mem=0 rbs={REPLY_BUFFER} rbp=0 \
         obl=0 oll=0 omem={omem} tot-mem={tot_mem} events=r cmd={command} user=default redir=-1 resp={} \
         lib-name={} lib-ver={}",
        client.id,
        client.addr,
        client.laddr,
        client.fd,
        text(&client.name),
        (now_s - client.created_ms / 1000).max(0),
        (now_s - client.last_interaction_ms.load(Ordering::Relaxed) / 1000).max(0),
        flags(client),
        client.db.load(Ordering::Relaxed),
        client.subscriptions[0].load(Ordering::Relaxed),
        client.subscriptions[1].load(Ordering::Relaxed),
        client.subscriptions[2].load(Ordering::Relaxed),
        client.resp.load(Ordering::Relaxed),
        text(&client.lib_name),
        text(&client.lib_ver),
    )
}

fn write_listing(ctx: &mut Ctx, clients: &[Arc<ClientShared>]) {
    let caller = caller(ctx);
    let now = ctx.keys.now_ms;
    let mut text = String::with_capacity(clients.len() * 300);
    for client in clients {
        text.push_str(&client_line(client, now, &caller));
        text.push('\n');
    }
    ctx.out.verbatim(b"txt", text.as_bytes());
}

/// CLIENT LIST [TYPE type | ID id [id ...]]
pub fn client_list(ctx: &mut Ctx) -> CmdResult {
    let all = ctx.server.clients.all();
    let clients: Vec<Arc<ClientShared>> = if ctx.argc() == 2 {
        all
    } else if ctx.argc() == 4 && ctx.arg_is(2, "type") {
        let wanted = client_type(ctx.arg(3))?;
        all.into_iter().filter(|c| type_of(c) == wanted).collect()
    } else if ctx.argc() > 3 && ctx.arg_is(2, "id") {
        let mut picked = Vec::new();
        for i in 3..ctx.argc() {
            let id = lodestone_util::number::parse_i64(ctx.arg(i))
                .ok_or_else(|| Error::err("Invalid client ID"))?;
            picked.extend(
                u64::try_from(id)
                    .ok()
                    .and_then(|id| ctx.server.clients.get(id)),
            );
        }
        picked
    } else {
        return Err(Error::Syntax);
    };
    write_listing(ctx, &clients);
    Ok(())
}

pub fn client_info(ctx: &mut Ctx) -> CmdResult {
    let me = ctx.client.shared.clone();
    write_listing(ctx, &[me]);
    Ok(())
}

/// The filters of CLIENT KILL.
#[derive(Default)]
struct KillFilter {
    addr: Option<Vec<u8>>,
    laddr: Option<Vec<u8>>,
    id: Option<u64>,
    kind: Option<ClientType>,
    skip_me: bool,
}

impl KillFilter {
    fn matches(&self, client: &ClientShared, me: u64) -> bool {
        self.addr
            .as_ref()
            .is_none_or(|a| a == client.addr.as_bytes())
            && self
                .laddr
                .as_ref()
                .is_none_or(|a| a == client.laddr.as_bytes())
            && self.id.is_none_or(|id| id == client.id)
            && self.kind.is_none_or(|k| k == type_of(client))
            && !(self.skip_me && client.id == me)
    }
}

/// Parses `option value` pairs of the new CLIENT KILL form.
fn parse_kill_filter(ctx: &Ctx) -> Result<KillFilter, Error> {
    let mut filter = KillFilter {
        skip_me: true,
        ..KillFilter::default()
    };
    let mut i = 2;
    while i < ctx.argc() {
        if i + 1 >= ctx.argc() {
            return Err(Error::Syntax);
        }
        let value = ctx.arg(i + 1);
        match ctx.arg(i).to_ascii_lowercase().as_slice() {
            b"id" => {
                let id = lodestone_util::number::parse_i64(value)
                    .filter(|id| *id > 0)
                    .ok_or_else(|| Error::err("client-id should be greater than 0"))?;
                filter.id = Some(id as u64);
            }
            b"type" => filter.kind = Some(client_type(value)?),
            b"addr" => filter.addr = Some(value.to_vec()),
            b"laddr" => filter.laddr = Some(value.to_vec()),
            b"user" if value != b"default" => {
                return Err(Error::err(format!(
                    "No such user '{}'",
                    String::from_utf8_lossy(value)
                )))
            }
            // Every client is authenticated as `default` until ACL users exist.
            b"user" => {}
            b"skipme" if value.eq_ignore_ascii_case(b"yes") => filter.skip_me = true,
            b"skipme" if value.eq_ignore_ascii_case(b"no") => filter.skip_me = false,
            _ => return Err(Error::Syntax),
        }
        i += 2;
    }
    Ok(filter)
}

/// CLIENT KILL addr | CLIENT KILL [ID id] [TYPE t] [ADDR a] [LADDR a] [USER u] [SKIPME y/n]
pub fn client_kill(ctx: &mut Ctx) -> CmdResult {
    let old_form = ctx.argc() == 3;
    let filter = if old_form {
        // The old form may kill the caller itself.
        KillFilter {
            addr: Some(ctx.arg(2).to_vec()),
            ..KillFilter::default()
        }
    } else {
        parse_kill_filter(ctx)?
    };
    let me = ctx.client.shared.id;
    let mut killed = 0;
    for client in ctx.server.clients.all() {
        if !filter.matches(&client, me) {
            continue;
        }
        if client.id == me {
            // Closed once this reply is written.
            ctx.client.close_after_reply = true;
        } else {
            client.kill();
        }
        killed += 1;
    }
    match (old_form, killed) {
        (true, 0) => return Err(Error::err("No such client")),
        (true, _) => ctx.out.ok(),
        (false, n) => ctx.out.integer(n),
    }
    Ok(())
}

/// CLIENT REPLY ON|OFF|SKIP; conn.rs drops the replies the mode says to drop.
pub fn client_reply(ctx: &mut Ctx) -> CmdResult {
    if ctx.arg_is(2, "on") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.out.ok();
    } else if ctx.arg_is(2, "off") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if ctx.arg_is(2, "skip") {
        if ctx.client.reply_mode != ReplyMode::Off {
            ctx.client.reply_mode = ReplyMode::SkipArmed;
        }
    } else {
        return Err(Error::Syntax);
    }
    Ok(())
}

pub fn client_no_evict(ctx: &mut Ctx) -> CmdResult {
    let on = if ctx.arg_is(2, "on") {
        true
    } else if ctx.arg_is(2, "off") {
        false
    } else {
        return Err(Error::Syntax);
    };
    ctx.client.shared.no_evict.store(on, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

/// CLIENT SETINFO LIB-NAME|LIB-VER value (Redis 7.2).
pub fn client_setinfo(ctx: &mut Ctx) -> CmdResult {
    let attr = ctx.arg(2);
    let shared = &ctx.client.shared;
    let target = if attr.eq_ignore_ascii_case(b"lib-name") {
        &shared.lib_name
    } else if attr.eq_ignore_ascii_case(b"lib-ver") {
        &shared.lib_ver
    } else {
        return Err(Error::err(format!(
            "Unrecognized option '{}'",
            String::from_utf8_lossy(attr)
        )));
    };
    let value = ctx.arg(3);
    if value.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(Error::err(format!(
            "{} cannot contain spaces, newlines or special characters.",
            String::from_utf8_lossy(attr)
        )));
    }
    *target.lock() = value.to_vec();
    ctx.out.ok();
    Ok(())
}

/// CLIENT PAUSE timeout [WRITE|ALL]: a pause already running is extended, never
/// shortened or narrowed, as in Redis.
pub fn client_pause(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() > 4 {
        return Err(subcommand_syntax_error(ctx));
    }
    let mut write_only = false;
    if ctx.argc() == 4 {
        if ctx.arg_is(3, "write") {
            write_only = true;
        } else if !ctx.arg_is(3, "all") {
            return Err(Error::err("CLIENT PAUSE mode must be WRITE or ALL"));
        }
    }
    let timeout = lodestone_util::number::parse_i64(ctx.arg(2))
        .ok_or_else(|| Error::err("timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(Error::err("timeout is negative"));
    }
    let end_ms = if timeout > 0 {
        ctx.keys.now_ms.saturating_add(timeout)
    } else {
        0
    };
    let pause = &ctx.server.pause;
    {
        let mut state = pause.state.lock();
        if pause.active.load(Ordering::Relaxed) {
            state.write_only &= write_only;
            state.end_ms = state.end_ms.max(end_ms);
        } else {
            state.write_only = write_only;
            state.end_ms = end_ms;
        }
        pause.active.store(true, Ordering::Relaxed);
    }
    ctx.out.ok();
    Ok(())
}

pub fn client_unpause(ctx: &mut Ctx) -> CmdResult {
    let pause = &ctx.server.pause;
    {
        let mut state = pause.state.lock();
        state.end_ms = 0;
        state.write_only = false;
        pause.active.store(false, Ordering::Relaxed);
    }
    pause.resumed.notify_waiters();
    ctx.out.ok();
    Ok(())
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: ends a blocking pop's wait as if it timed out, or
/// with an UNBLOCKED error. 1 if the client was blocked, else 0.
pub fn client_unblock(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() > 4 {
        return Err(subcommand_syntax_error(ctx));
    }
    if ctx.argc() == 4 && !ctx.arg_is(3, "timeout") && !ctx.arg_is(3, "error") {
        return Err(Error::err(
            "CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
        ));
    }
    let id = ctx.arg_i64(2)?;
    let error = ctx.argc() == 4 && ctx.arg_is(3, "error");
    let waiter = u64::try_from(id)
        .ok()
        .and_then(|id| ctx.server.clients.get(id))
        .and_then(|client| client.blocked_on.lock().clone());
    let unblocked = match waiter {
        Some(waiter) if waiter.try_finish(Outcome::Unblocked { error }) => {
            ctx.server.blocked.unregister(&waiter);
            waiter.client.wake.notify_one();
            true
        }
        _ => false,
    };
    ctx.out.integer(i64::from(unblocked));
    Ok(())
}

pub fn client_help(ctx: &mut Ctx) -> CmdResult {
    reply_help(
        ctx,
        &[
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are:",
            "    * LIB-NAME: the client lib name.",
            "    * LIB-VER: the client lib version.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
        ],
    );
    Ok(())
}
