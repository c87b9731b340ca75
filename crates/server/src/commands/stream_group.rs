//! Consumer groups: XGROUP and its subcommands, XACK, XPENDING, XCLAIM, XAUTOCLAIM.
//!
//! XCLAIM and XAUTOCLAIM are never propagated as sent (their idle checks depend on the
//! clock): each pending entry they change or drop goes to the effect stream as the
//! idempotent 14-argument XCLAIM Redis uses, with the resulting owner, time and count.

use lodestone_store::stream::Group;
use lodestone_store::StreamId;

use super::stream::{
    create_stream, parse_range_start, parse_strict_id, read_stream, write_entry, write_id,
    write_stream,
};
use super::stream_read::{claim_effect, setid_effect};
use super::string::is_word;
use crate::ctx::Ctx;
use crate::errors::{c_string, CmdResult, Error, Quoted};
use crate::notify;

/// `NOGROUP No such key '<key>' or consumer group '<group>'`.
fn no_key_or_group(key: &[u8], group: &[u8]) -> Error {
    Error::quoting(&[
        Quoted::Text("NOGROUP No such key '"),
        Quoted::Client(key),
        Quoted::Text("' or consumer group '"),
        Quoted::Client(group),
        Quoted::Text("'"),
    ])
}

/// `NOGROUP No such consumer group '<group>' for key name '<key>'`.
pub(crate) fn no_group(key: &[u8], group: &[u8]) -> Error {
    Error::quoting(&[
        Quoted::Text("NOGROUP No such consumer group '"),
        Quoted::Client(group),
        Quoted::Text("' for key name '"),
        Quoted::Client(key),
        Quoted::Text("'"),
    ])
}

/// The checks every XGROUP subcommand with a key runs first, in Redis's order: options
/// (MKSTREAM, ENTRIESREAD), the key's type, the key's and group's existence.
struct GroupTarget {
    mkstream: bool,
    entries_read: i64,
    exists: bool,
}

fn xgroup_target(ctx: &mut Ctx, sub: &str) -> Result<GroupTarget, Error> {
    let create = sub == "create";
    let setid = sub == "setid";
    let mut target = GroupTarget {
        mkstream: false,
        entries_read: -1,
        exists: false,
    };
    let mut i = 5;
    while i < ctx.argc() {
        if create && ctx.arg_is(i, "mkstream") {
            target.mkstream = true;
            i += 1;
        } else if (create || setid) && ctx.arg_is(i, "entriesread") && i + 1 < ctx.argc() {
            let n = ctx.arg_i64(i + 1)?;
            if n < 0 && n != -1 {
                return Err(Error::err("value for ENTRIESREAD must be positive or -1"));
            }
            target.entries_read = n;
            i += 2;
        } else {
            return Err(super::server::subcommand_syntax_error(ctx));
        }
    }
    let key = ctx.arg(2);
    let group = ctx.arg(3);
    let has_group = match write_stream(ctx.keys, key)? {
        Some(stream) => {
            target.exists = true;
            stream.groups.contains_key(group)
        }
        None => false,
    };
    if !target.mkstream {
        if !target.exists {
            return Err(Error::err(
                "The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
            ));
        }
        if !has_group && matches!(sub, "setid" | "createconsumer" | "delconsumer") {
            return Err(no_group(key, group));
        }
    }
    Ok(target)
}

pub fn xgroup_create(ctx: &mut Ctx) -> CmdResult {
    let target = xgroup_target(ctx, "create")?;
    if ctx.argc() > 8 {
        return Err(super::server::subcommand_syntax_error(ctx));
    }
    let key = ctx.arg(2);
    let name = ctx.arg(3);
    let id = if c_string(ctx.arg(4)) == b"$" {
        write_stream(ctx.keys, key)?.map_or(StreamId::MIN, |s| s.last_id)
    } else {
        parse_strict_id(ctx.arg(4))?
    };
    if !target.exists {
        create_stream(ctx, key);
    }
    let Some(stream) = write_stream(ctx.keys, key)? else {
        return Ok(());
    };
    if stream.groups.contains_key(name) {
        return Err(Error::reply(
            "BUSYGROUP Consumer Group name already exists".into(),
        ));
    }
    stream
        .groups
        .insert(name.to_vec(), Group::new(id, target.entries_read));
    ctx.out.ok();
    ctx.keys.dirty += 1;
    ctx.notify(notify::STREAM, "xgroup-create", key);
    Ok(())
}

pub fn xgroup_setid(ctx: &mut Ctx) -> CmdResult {
    let target = xgroup_target(ctx, "setid")?;
    if ctx.argc() != 5 && ctx.argc() != 7 {
        return Err(super::server::subcommand_syntax_error(ctx));
    }
    let key = ctx.arg(2);
    let name = ctx.arg(3);
    let id_arg = ctx.arg(4);
    let Some(stream) = write_stream(ctx.keys, key)? else {
        return Ok(());
    };
    let id = if c_string(id_arg) == b"$" {
        stream.last_id
    } else {
        super::stream::parse_id(id_arg, 0)?
    };
    if let Some(group) = stream.groups.get_mut(name) {
        group.last_id = id;
        group.entries_read = target.entries_read;
    }
    ctx.out.ok();
    ctx.keys.dirty += 1;
    ctx.notify(notify::STREAM, "xgroup-setid", key);
    Ok(())
}

pub fn xgroup_destroy(ctx: &mut Ctx) -> CmdResult {
    xgroup_target(ctx, "destroy")?;
    let key = ctx.arg(2);
    let name = ctx.arg(3);
    let Some(stream) = write_stream(ctx.keys, key)? else {
        return Ok(());
    };
    if stream.groups.remove(name).is_none() {
        ctx.out.integer(0);
        return Ok(());
    }
    ctx.out.integer(1);
    ctx.keys.dirty += 1;
    ctx.notify(notify::STREAM, "xgroup-destroy", key);
    // Readers blocked on the group learn it is gone.
    let db = ctx.keys.db;
    ctx.keys.signal_ready(db, key);
    Ok(())
}

pub fn xgroup_createconsumer(ctx: &mut Ctx) -> CmdResult {
    xgroup_target(ctx, "createconsumer")?;
    let key = ctx.arg(2);
    let name = ctx.arg(3);
    let consumer = ctx.arg(4);
    let now = ctx.keys.now_ms;
    let Some(stream) = write_stream(ctx.keys, key)? else {
        return Ok(());
    };
    let created = stream
        .groups
        .get_mut(name)
        .is_some_and(|g| g.create_consumer(consumer, now));
    ctx.out.integer(i64::from(created));
    if created {
        ctx.keys.dirty += 1;
        ctx.notify(notify::STREAM, "xgroup-createconsumer", key);
    }
    Ok(())
}

pub fn xgroup_delconsumer(ctx: &mut Ctx) -> CmdResult {
    xgroup_target(ctx, "delconsumer")?;
    let key = ctx.arg(2);
    let name = ctx.arg(3);
    let consumer = ctx.arg(4);
    let Some(stream) = write_stream(ctx.keys, key)? else {
        return Ok(());
    };
    let pending = stream
        .groups
        .get_mut(name)
        .and_then(|g| g.delete_consumer(consumer));
    ctx.out.integer(pending.unwrap_or(0) as i64);
    if pending.is_some() {
        ctx.keys.dirty += 1;
        ctx.notify(notify::STREAM, "xgroup-delconsumer", key);
    }
    Ok(())
}

pub fn xgroup_help(ctx: &mut Ctx) -> CmdResult {
    super::object::help_reply(
        ctx,
        "XGROUP",
        &[
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a consumer group reading after <id> ($: the stream's last ID). Options:",
            "    * MKSTREAM",
            "      Create an empty stream when the key does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set how many entries the group has read (used by replication).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a consumer in the group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Delete a consumer and its pending entries.",
            "DESTROY <key> <groupname>",
            "    Delete the group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the group's last delivered ID and its read counter.",
        ],
    );
    Ok(())
}

pub fn xgroup(ctx: &mut Ctx) -> CmdResult {
    Err(super::server::subcommand_syntax_error(ctx))
}

pub fn xack(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    let name = ctx.arg(2);
    let has_group = match read_stream(ctx.keys, key)? {
        Some(stream) => stream.groups.contains_key(name),
        None => false,
    };
    if !has_group {
        ctx.out.integer(0);
        return Ok(());
    }
    let ids = (3..ctx.argc())
        .map(|i| parse_strict_id(ctx.arg(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let Ok(Some(stream)) = write_stream(ctx.keys, key) else {
        return Ok(());
    };
    let Some(group) = stream.groups.get_mut(name) else {
        return Ok(());
    };
    let acked = ids.iter().filter(|id| group.ack(**id)).count();
    ctx.keys.dirty += acked as u64;
    ctx.out.integer(acked as i64);
    Ok(())
}

pub fn xpending(ctx: &mut Ctx) -> CmdResult {
    let argc = ctx.argc();
    let summary = argc == 3;
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(Error::Syntax);
    }
    let mut min_idle = 0;
    let mut range = None;
    let mut consumer_filter = None;
    if argc >= 6 {
        let mut at = 3;
        if ctx.arg_is(3, "idle") {
            min_idle = ctx.arg_i64(4)?;
            if argc < 8 {
                return Err(Error::Syntax);
            }
            at += 2;
        }
        let count = ctx.arg_i64(at + 2)?.max(0);
        let start = parse_range_start(ctx.arg(at))?;
        let end = super::stream::parse_range_end(ctx.arg(at + 1))?;
        if at + 3 < argc {
            consumer_filter = Some(ctx.arg(at + 3));
        }
        range = Some((start, end, count));
    }
    let key = ctx.arg(1);
    let name = ctx.arg(2);
    let now = ctx.keys.now_ms;
    let stream = read_stream(ctx.keys, key)?;
    let Some(group) = stream.and_then(|s| s.groups.get(name)) else {
        return Err(no_key_or_group(key, name));
    };
    let out = &mut *ctx.out;
    if summary {
        out.array(4);
        out.integer(group.pel.len() as i64);
        let (Some(first), Some(last)) = (group.pel.keys().next(), group.pel.keys().next_back())
        else {
            out.null();
            out.null();
            out.null_array();
            return Ok(());
        };
        write_id(out, *first);
        write_id(out, *last);
        let busy: Vec<_> = group
            .consumers
            .iter()
            .filter(|(_, c)| !c.pel.is_empty())
            .collect();
        out.array(busy.len());
        for (name, consumer) in busy {
            out.array(2);
            out.bulk(name);
            out.bulk_integer(consumer.pel.len() as i64);
        }
        return Ok(());
    }
    let Some((start, end, count)) = range else {
        return Ok(());
    };
    // Walked lazily: COUNT bounds the work, not the size of the PEL.
    let in_range: Box<dyn Iterator<Item = StreamId>> = match consumer_filter {
        _ if start > end => Box::new(std::iter::empty()),
        Some(c) => match group.consumers.get(c) {
            Some(consumer) => Box::new(consumer.pel.range(start..=end).copied()),
            None => Box::new(std::iter::empty()),
        },
        None => Box::new(group.pel.range(start..=end).map(|(id, _)| *id)),
    };
    let limit = usize::try_from(count).unwrap_or(usize::MAX);
    let rows: Vec<_> = in_range
        .filter_map(|id| group.pel.get(&id).map(|nack| (id, nack)))
        .filter(|(_, nack)| min_idle == 0 || now - nack.delivery_time >= min_idle)
        .take(limit)
        .collect();
    out.array(rows.len());
    for (id, nack) in rows {
        out.array(4);
        write_id(out, id);
        out.bulk(&nack.consumer);
        out.integer((now - nack.delivery_time).max(0));
        out.integer(nack.delivery_count as i64);
    }
    Ok(())
}

/// The claimed entries (or just their IDs) of XCLAIM and XAUTOCLAIM. Each was checked
/// to exist just before it was claimed.
fn write_claimed(
    out: &mut lodestone_resp::ReplyWriter,
    stream: &lodestone_store::Stream,
    claimed: &[StreamId],
    justid: bool,
) {
    out.array(claimed.len());
    for id in claimed {
        if justid {
            write_id(out, *id);
        } else if let Some(entry) = stream.range(*id, *id, false).next() {
            write_entry(out, &entry);
        }
    }
}

/// XCLAIM options.
struct ClaimOptions {
    time: Option<i64>,
    retry_count: Option<i64>,
    force: bool,
    justid: bool,
    last_id: StreamId,
}

pub fn xclaim(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    let name = ctx.arg(2);
    let has_group = match read_stream(ctx.keys, key)? {
        Some(stream) => stream.groups.contains_key(name),
        None => false,
    };
    if !has_group {
        return Err(no_key_or_group(key, name));
    }
    let min_idle = ctx
        .arg_i64(4)
        .map_err(|_| Error::err("Invalid min-idle-time argument for XCLAIM"))?
        .max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < ctx.argc() {
        match parse_strict_id(ctx.arg(j)) {
            Ok(id) => ids.push((id, j)),
            Err(_) => break,
        }
        j += 1;
    }
    let now = ctx.keys.now_ms;
    let mut opts = ClaimOptions {
        time: None,
        retry_count: None,
        force: false,
        justid: false,
        last_id: StreamId::MIN,
    };
    while j < ctx.argc() {
        let more = ctx.argc() - 1 - j;
        let opt = ctx.arg(j);
        if is_word(opt, "force") {
            opts.force = true;
        } else if is_word(opt, "justid") {
            opts.justid = true;
        } else if is_word(opt, "idle") && more > 0 {
            j += 1;
            let idle = ctx
                .arg_i64(j)
                .map_err(|_| Error::err("Invalid IDLE option argument for XCLAIM"))?;
            opts.time = Some(now.wrapping_sub(idle));
        } else if is_word(opt, "time") && more > 0 {
            j += 1;
            opts.time = Some(
                ctx.arg_i64(j)
                    .map_err(|_| Error::err("Invalid TIME option argument for XCLAIM"))?,
            );
        } else if is_word(opt, "retrycount") && more > 0 {
            j += 1;
            opts.retry_count = Some(
                ctx.arg_i64(j)
                    .map_err(|_| Error::err("Invalid RETRYCOUNT option argument for XCLAIM"))?,
            );
        } else if is_word(opt, "lastid") && more > 0 {
            j += 1;
            opts.last_id = parse_strict_id(ctx.arg(j))?;
        } else {
            return Err(Error::quoting(&[
                Quoted::Text("ERR Unrecognized XCLAIM option '"),
                Quoted::Client(opt),
                Quoted::Text("'"),
            ]));
        }
        j += 1;
    }
    let consumer = ctx.arg(3);
    let args: Vec<Vec<u8>> = ctx.cmd.args().map(<[u8]>::to_vec).collect();
    let delivery_time = match opts.time {
        Some(t) if t >= 0 && t <= now => t,
        _ => now,
    };
    let Ok(Some(stream)) = write_stream(ctx.keys, key) else {
        return Ok(());
    };
    let Some(mut group) = stream.groups.remove(name) else {
        return Ok(());
    };
    let mut propagate_last_id = false;
    if opts.last_id > group.last_id {
        group.last_id = opts.last_id;
        propagate_last_id = true;
    }
    let mut effects = Vec::new();
    let mut claimed = Vec::new();
    let mut created = false;
    let mut consumer_ready = false;
    let mut changes = 0u64;
    for (id, at) in ids {
        let id_arg = args[at].as_slice();
        let pending = group.pel.contains_key(&id);
        if !stream.contains(id) {
            if pending {
                effects.extend(claim_effect(key, name, &group, id_arg, id));
                propagate_last_id = false;
                changes += 1;
                group.ack(id);
            }
            continue;
        }
        if !pending && !opts.force {
            continue;
        }
        if let Some(nack) = group.pel.get(&id) {
            if min_idle > 0 && now - nack.delivery_time < min_idle {
                continue;
            }
        }
        if !consumer_ready {
            created = group.touch_consumer(consumer, now);
            consumer_ready = true;
        }
        // A forced NACK starts with one delivery, as Redis creates it.
        let before = group.pel.get(&id).map_or(1, |n| n.delivery_count);
        let count = match opts.retry_count.filter(|n| *n >= 0) {
            Some(n) => n as u64,
            None if opts.justid => before,
            None => before + 1,
        };
        group.assign(id, consumer, delivery_time, count);
        claimed.push(id);
        effects.extend(claim_effect(key, name, &group, id_arg, id));
        propagate_last_id = false;
        changes += 1;
    }
    if propagate_last_id {
        effects.push(setid_effect(key, name, &group));
        changes += 1;
    }
    let out = &mut *ctx.out;
    write_claimed(out, stream, &claimed, opts.justid);
    stream.groups.insert(name.to_vec(), group);
    ctx.keys.propagate_none();
    for effect in effects {
        ctx.keys.propagate_as(effect);
    }
    if created {
        changes += 1;
        ctx.notify(notify::STREAM, "xgroup-createconsumer", key);
    }
    ctx.keys.dirty += changes;
    Ok(())
}

pub fn xautoclaim(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    let name = ctx.arg(2);
    // Redis looks the key up before parsing anything (a `keymiss` even on bad input).
    let found = read_stream(ctx.keys, key).map(|s| s.map(|s| s.groups.contains_key(name)));
    let min_idle = ctx
        .arg_i64(4)
        .map_err(|_| Error::err("Invalid min-idle-time argument for XAUTOCLAIM"))?
        .max(0);
    let start = parse_range_start(ctx.arg(5))?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < ctx.argc() {
        let more = ctx.argc() - 1 - j;
        if ctx.arg_is(j, "count") && more > 0 {
            let max = i64::MAX / 16;
            count = ctx
                .arg_i64(j + 1)
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| Error::err("COUNT must be > 0"))?;
            j += 1;
        } else if ctx.arg_is(j, "justid") {
            justid = true;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    let consumer = ctx.arg(3);
    if found? != Some(true) {
        return Err(no_key_or_group(key, name));
    }
    // Redis allocates COUNT IDs up front and fails on a size no machine has.
    if count.saturating_mul(16) > 1 << 40 {
        return Err(Error::err(
            "Insufficient memory, failed allocating transient memory, COUNT too high.",
        ));
    }
    let now = ctx.keys.now_ms;
    let Ok(Some(stream)) = write_stream(ctx.keys, key) else {
        return Ok(());
    };
    let Some(mut group) = stream.groups.remove(name) else {
        return Ok(());
    };
    let mut attempts = count.saturating_mul(10);
    let mut left = count;
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut effects = Vec::new();
    let mut created = false;
    let mut consumer_ready = false;
    let mut cursor = Some(start);
    while attempts > 0 && left > 0 {
        let Some(from) = cursor else { break };
        let Some((&id, nack)) = group.pel.range(from..).next() else {
            cursor = None;
            break;
        };
        attempts -= 1;
        cursor = id.next();
        if !stream.contains(id) {
            effects.extend(claim_effect(key, name, &group, &id.to_text(), id));
            group.ack(id);
            deleted.push(id);
            left -= 1;
            continue;
        }
        if min_idle > 0 && now - nack.delivery_time < min_idle {
            continue;
        }
        if !consumer_ready {
            created = group.touch_consumer(consumer, now);
            consumer_ready = true;
        }
        let delivery_count = group.pel.get(&id).map_or(0, |n| n.delivery_count);
        let delivery_count = if justid {
            delivery_count
        } else {
            delivery_count + 1
        };
        group.assign(id, consumer, now, delivery_count);
        claimed.push(id);
        effects.extend(claim_effect(key, name, &group, &id.to_text(), id));
        left -= 1;
    }
    let next = cursor
        .and_then(|from| group.pel.range(from..).next().map(|(id, _)| *id))
        .unwrap_or(StreamId::MIN);
    let out = &mut *ctx.out;
    out.array(3);
    write_id(out, next);
    write_claimed(out, stream, &claimed, justid);
    out.array(deleted.len());
    for id in &deleted {
        write_id(out, *id);
    }
    stream.groups.insert(name.to_vec(), group);
    ctx.keys.propagate_none();
    let changes = effects.len() as u64 + u64::from(created);
    for effect in effects {
        ctx.keys.propagate_as(effect);
    }
    if created {
        ctx.notify(notify::STREAM, "xgroup-createconsumer", key);
    }
    ctx.keys.dirty += changes;
    Ok(())
}
