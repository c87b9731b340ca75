//! XREAD and XREADGROUP: reading new entries from several streams, waiting for them with
//! BLOCK, and delivering them to the consumers of a group.
//!
//! A reader that finds nothing parks through [`blocking::block`] with a normalised form
//! of its command: `$` resolved to the stream's last ID at that moment, the COUNT a
//! woken reader uses (the given one, else 1000), no BLOCK. When a write makes one of
//! its keys ready, [`command_for_key`] narrows that form to the ready key and the write
//! runs it for the reader before releasing its locks, as for blocking list pops. Served
//! that way, the rules are Redis's for woken readers: any new ID counts (even if
//! already deleted), a vanished key or group is an error for a group reader, and a
//! plain reader just keeps waiting.
//!
//! XREADGROUP is never propagated as sent: each entry it adds to the pending list goes
//! to the effect stream as the XCLAIM that recreates that pending entry, and with NOACK
//! the group's new position goes as XGROUP SETID, so replicas end with the same group
//! state.

use lodestone_resp::Command;
use lodestone_store::stream::Group;
use lodestone_store::{Stream, StreamId, Value};

use super::stream::{parse_strict_id, read_stream, write_entry, write_id};
use super::string::is_word;
use crate::blocking::{self, OnTimeout};
use crate::ctx::{BlockMode, Ctx, KeyAccess};
use crate::errors::{c_string, CmdResult, Error, Quoted};
use crate::notify;

/// The COUNT a woken reader uses when none was given.
const BLOCKED_DEFAULT_COUNT: u64 = 1000;

/// Where a stream is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReadFrom {
    /// Entries after this ID (XREAD; XREADGROUP history: the consumer's pending
    /// entries after it).
    After(StreamId),
    /// `>`: the group's undelivered entries.
    New,
}

struct ReadArgs<'a> {
    /// `None` without BLOCK; `Some(None)` to wait forever.
    block: Option<Option<i64>>,
    count: u64,
    count_given: bool,
    streams_at: usize,
    streams: usize,
    group: Option<(&'a [u8], &'a [u8])>,
    noack: bool,
}

fn parse_args<'a>(ctx: &Ctx<'a, '_>, group_mode: bool) -> Result<ReadArgs<'a>, Error> {
    let argc = ctx.argc();
    let mut args = ReadArgs {
        block: None,
        count: 0,
        count_given: false,
        streams_at: 0,
        streams: 0,
        group: None,
        noack: false,
    };
    let mut i = 1;
    while i < argc {
        let more = argc - 1 - i;
        let opt = ctx.arg(i);
        if is_word(opt, "block") && more > 0 {
            if ctx.client.in_script {
                return Err(Error::quoting(&[
                    Quoted::Text("ERR "),
                    Quoted::Client(ctx.arg(0)),
                    Quoted::Text(" command is not allowed with BLOCK option from scripts"),
                ]));
            }
            i += 1;
            let ms = ctx
                .arg_i64(i)
                .map_err(|_| Error::err("timeout is not an integer or out of range"))?;
            if ms < 0 {
                return Err(Error::err("timeout is negative"));
            }
            args.block = Some((ms > 0).then(|| ctx.keys.now_ms.saturating_add(ms)));
        } else if is_word(opt, "count") && more > 0 {
            i += 1;
            args.count = ctx.arg_i64(i)?.max(0) as u64;
            args.count_given = true;
        } else if is_word(opt, "streams") && more > 0 {
            args.streams_at = i + 1;
            let rest = argc - args.streams_at;
            if !rest.is_multiple_of(2) {
                return Err(Error::err(
                    "Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            args.streams = rest / 2;
            break;
        } else if is_word(opt, "group") && more >= 2 {
            if !group_mode {
                return Err(Error::err(
                    "The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            args.group = Some((ctx.arg(i + 1), ctx.arg(i + 2)));
            i += 2;
        } else if is_word(opt, "noack") {
            if !group_mode {
                return Err(Error::err(
                    "The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            args.noack = true;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    if args.streams_at == 0 {
        return Err(Error::Syntax);
    }
    if group_mode && args.group.is_none() {
        return Err(Error::err("Missing GROUP option for XREADGROUP"));
    }
    Ok(args)
}

pub fn xread(ctx: &mut Ctx) -> CmdResult {
    read_command(ctx, false)
}

pub fn xreadgroup(ctx: &mut Ctx) -> CmdResult {
    read_command(ctx, true)
}

fn read_command(ctx: &mut Ctx, group_mode: bool) -> CmdResult {
    let args = parse_args(ctx, group_mode)?;
    let serving = ctx.mode == BlockMode::Serving;
    ctx.keys.propagate_none();
    // Check every stream, in order, before serving any.
    let mut from = Vec::with_capacity(args.streams);
    for s in 0..args.streams {
        let key = ctx.arg(args.streams_at + s);
        let id_arg = ctx.arg(args.streams_at + args.streams + s);
        let found = match lookup(ctx.keys, key, serving) {
            Ok(found) => found,
            Err(_) if serving => return keep_waiting_or_fail(ctx, group_mode),
            Err(e) => return Err(e),
        };
        if let Some((group, _)) = args.group {
            let has_group = found.as_ref().is_some_and(|s| s.groups.contains_key(group));
            if !has_group {
                if serving {
                    if found.is_none() {
                        return keep_waiting_or_fail(ctx, group_mode);
                    }
                    return Err(Error::reply(
                        "NOGROUP the consumer group this client was blocked on no longer exists"
                            .into(),
                    ));
                }
                return Err(Error::quoting(&[
                    Quoted::Text("NOGROUP No such key '"),
                    Quoted::Client(key),
                    Quoted::Text("' or consumer group '"),
                    Quoted::Client(group),
                    Quoted::Text("' in XREADGROUP with GROUP option"),
                ]));
            }
        }
        let last_id = found.map(|s| s.last_id);
        let id_word = c_string(id_arg);
        if id_word == b"$" {
            if group_mode {
                return Err(Error::err(
                    "The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ));
            }
            from.push(ReadFrom::After(last_id.unwrap_or(StreamId::MIN)));
        } else if id_word == b">" {
            if !group_mode {
                return Err(Error::err(
                    "The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ));
            }
            from.push(ReadFrom::New);
        } else {
            match parse_strict_id(id_arg)? {
                // Redis stores `>` as the largest ID, so naming that ID reads new
                // entries too (and, with none, creates no consumer).
                StreamId::MAX if group_mode => from.push(ReadFrom::New),
                id => from.push(ReadFrom::After(id)),
            }
        }
    }
    let group = args.group.map(|(g, _)| g);
    let resp3 = ctx.out.is_resp3();
    // Each stream is judged as it comes, after the ones before it were served: the same
    // stream named twice with `>` is served once.
    let header = ctx.out.begin_deferred();
    let mut served = 0;
    for (s, start) in from.iter().enumerate() {
        let key = ctx.arg(args.streams_at + s);
        let Ok(Some(stream)) = lookup(ctx.keys, key, serving) else {
            continue;
        };
        let qualifies = match (start, group) {
            (ReadFrom::After(_), Some(_)) => true,
            (ReadFrom::New, Some(g)) => {
                let last = stream.groups.get(g).map_or(StreamId::MAX, |g| g.last_id);
                has_after(stream, last, serving)
            }
            (ReadFrom::After(id), None) => has_after(stream, *id, serving),
            (ReadFrom::New, None) => false,
        };
        if !qualifies {
            continue;
        }
        served += 1;
        if !resp3 {
            ctx.out.array(2);
        }
        ctx.out.bulk(key);
        match (*start, args.group) {
            (ReadFrom::After(id), None) => {
                let start = id.next().unwrap_or(StreamId::MAX);
                let count = usize::try_from(args.count).unwrap_or(usize::MAX);
                super::stream::write_range(ctx.out, stream, start, StreamId::MAX, false, count);
            }
            (start, Some((group, consumer))) => {
                serve_group(ctx, key, group, consumer, start, &args)?;
            }
            (ReadFrom::New, None) => ctx.out.array(0),
        }
    }
    if served > 0 {
        ctx.out
            .end_deferred(header, if resp3 { b'%' } else { b'*' }, served);
        return Ok(());
    }
    if args.block.is_some() || serving {
        let (keys, normalised) = normalised_command(ctx, &args, &from);
        let deadline = args.block.flatten();
        return blocking::block_as(ctx, keys, deadline, OnTimeout::NullArray, normalised);
    }
    ctx.out.null_array();
    Ok(())
}

/// A stream lookup: a woken reader's is silent (no hit, miss or `keymiss`), as Redis
/// looks keys up for blocked clients.
fn lookup<'c>(
    keys: &'c mut KeyAccess<'_>,
    key: &[u8],
    serving: bool,
) -> Result<Option<&'c mut Stream>, Error> {
    if !serving {
        return read_stream(keys, key);
    }
    let db = keys.db;
    match keys.peek_in(db, key) {
        None => Ok(None),
        Some(entry) => match &mut entry.value {
            Value::Stream(s) => Ok(Some(s)),
            _ => Err(Error::WrongType),
        },
    }
}

/// Whether `stream` has an entry after `id`: the last live one for a reader served at
/// once, the last ID ever added for a woken one (Redis's two rules).
fn has_after(stream: &Stream, id: StreamId, serving: bool) -> bool {
    if serving {
        stream.last_id > id
    } else {
        !stream.is_empty() && stream.last_live_id() > id
    }
}

/// A woken reader whose key is gone or changed type: a group reader gets an error, a
/// plain one waits on.
fn keep_waiting_or_fail(ctx: &mut Ctx, group_mode: bool) -> CmdResult {
    if group_mode {
        return Err(Error::reply(
            "UNBLOCKED the stream key no longer exists".into(),
        ));
    }
    ctx.still_blocked = true;
    Ok(())
}

/// The keys to wait on and the command a woken reader runs (see the module doc).
fn normalised_command(
    ctx: &Ctx,
    args: &ReadArgs,
    from: &[ReadFrom],
) -> (Vec<lodestone_store::Key>, Command) {
    let count = if args.count == 0 {
        BLOCKED_DEFAULT_COUNT
    } else {
        args.count
    };
    let mut parts: Vec<Vec<u8>> = Vec::new();
    match args.group {
        Some((group, consumer)) => {
            parts.push(b"XREADGROUP".to_vec());
            parts.push(b"GROUP".to_vec());
            parts.push(group.to_vec());
            parts.push(consumer.to_vec());
            parts.push(b"COUNT".to_vec());
            parts.push(count.to_string().into_bytes());
            if args.noack {
                parts.push(b"NOACK".to_vec());
            }
        }
        None => {
            parts.push(b"XREAD".to_vec());
            parts.push(b"COUNT".to_vec());
            parts.push(count.to_string().into_bytes());
        }
    }
    parts.push(b"STREAMS".to_vec());
    let mut keys = Vec::with_capacity(args.streams);
    for s in 0..args.streams {
        let key = ctx.arg(args.streams_at + s);
        keys.push(lodestone_store::Key::from_slice(key));
        parts.push(key.to_vec());
    }
    for start in from {
        parts.push(match start {
            ReadFrom::After(id) => id.to_text(),
            ReadFrom::New => b">".to_vec(),
        });
    }
    (keys, Command::from_args(&parts))
}

/// The normalised command of a parked reader narrowed to the one key a write made
/// ready: Redis serves a woken reader from that key only.
pub fn command_for_key(cmd: &Command, key: &[u8]) -> Command {
    let streams_at = if is_word(cmd.arg(0), "xreadgroup") {
        if is_word(cmd.arg(6), "noack") {
            8
        } else {
            7
        }
    } else {
        4
    };
    let n = cmd.len().saturating_sub(streams_at) / 2;
    let Some(s) = (0..n).find(|&s| cmd.arg(streams_at + s) == key) else {
        return cmd.clone();
    };
    let mut parts: Vec<&[u8]> = (0..streams_at).map(|i| cmd.arg(i)).collect();
    parts.push(key);
    parts.push(cmd.arg(streams_at + n + s));
    Command::from_args(&parts)
}

/// Serves one stream to a group consumer: `>` delivers new entries (and records them
/// as pending unless NOACK), an ID replays the consumer's pending entries after it.
fn serve_group(
    ctx: &mut Ctx,
    key: &[u8],
    group_name: &[u8],
    consumer: &[u8],
    start: ReadFrom,
    args: &ReadArgs,
) -> CmdResult {
    let now = ctx.keys.now_ms;
    let Ok(Some(stream)) = super::stream::write_stream(ctx.keys, key) else {
        ctx.out.array(0);
        return Ok(());
    };
    let Some(mut group) = stream.groups.remove(group_name) else {
        ctx.out.array(0);
        return Ok(());
    };
    let created = group.touch_consumer(consumer, now);
    let mut effects: Vec<Vec<Vec<u8>>> = Vec::new();
    if created && args.noack {
        effects.push(vec![
            b"XGROUP".to_vec(),
            b"CREATECONSUMER".to_vec(),
            key.to_vec(),
            group_name.to_vec(),
            consumer.to_vec(),
        ]);
    }
    let count = if args.count == 0 {
        usize::MAX
    } else {
        usize::try_from(args.count).unwrap_or(usize::MAX)
    };
    match start {
        ReadFrom::New => {
            deliver_new(
                ctx.out,
                stream,
                &mut group,
                key,
                group_name,
                consumer,
                count,
                args.noack,
                now,
                &mut effects,
            );
        }
        ReadFrom::After(id) => {
            replay_pending(ctx.out, stream, &mut group, consumer, id, count, now)
        }
    }
    stream.groups.insert(group_name.to_vec(), group);
    for effect in effects {
        ctx.keys.propagate_as(effect);
    }
    if created {
        ctx.keys.dirty += 1;
        ctx.notify(notify::STREAM, "xgroup-createconsumer", key);
    }
    ctx.keys.dirty += 1;
    Ok(())
}

/// The XCLAIM that recreates a pending entry on a replica (Redis's 14-argument form).
pub(crate) fn claim_effect(
    key: &[u8],
    group_name: &[u8],
    group: &Group,
    id_arg: &[u8],
    id: StreamId,
) -> Option<Vec<Vec<u8>>> {
    let nack = group.pel.get(&id)?;
    Some(vec![
        b"XCLAIM".to_vec(),
        key.to_vec(),
        group_name.to_vec(),
        nack.consumer.clone(),
        b"0".to_vec(),
        id_arg.to_vec(),
        b"TIME".to_vec(),
        nack.delivery_time.to_string().into_bytes(),
        b"RETRYCOUNT".to_vec(),
        nack.delivery_count.to_string().into_bytes(),
        b"FORCE".to_vec(),
        b"JUSTID".to_vec(),
        b"LASTID".to_vec(),
        group.last_id.to_text(),
    ])
}

/// XGROUP SETID with the group's position and read counter.
pub(crate) fn setid_effect(key: &[u8], group_name: &[u8], group: &Group) -> Vec<Vec<u8>> {
    vec![
        b"XGROUP".to_vec(),
        b"SETID".to_vec(),
        key.to_vec(),
        group_name.to_vec(),
        group.last_id.to_text(),
        b"ENTRIESREAD".to_vec(),
        group.entries_read.to_string().into_bytes(),
    ]
}

#[allow(clippy::too_many_arguments)]
fn deliver_new(
    out: &mut lodestone_resp::ReplyWriter,
    stream: &Stream,
    group: &mut Group,
    key: &[u8],
    group_name: &[u8],
    consumer: &[u8],
    count: usize,
    noack: bool,
    now: i64,
    effects: &mut Vec<Vec<Vec<u8>>>,
) {
    let Some(start) = group.last_id.next() else {
        out.array(0);
        return;
    };
    let entries: Vec<_> = stream
        .range(start, StreamId::MAX, false)
        .take(count)
        .collect();
    out.array(entries.len());
    let mut moved = false;
    for entry in &entries {
        let id = entry.id;
        if id > group.last_id {
            if group.entries_read != -1 && !stream.range_has_tombstones(id, StreamId::MAX) {
                group.entries_read += 1;
            } else if stream.entries_added > 0 {
                group.entries_read = stream.estimate_distance(id).map_or(-1, |n| n as i64);
            }
            group.last_id = id;
            moved = true;
        }
        write_entry(out, entry);
        if !noack {
            group.deliver(id, consumer, now);
            if let Some(effect) = claim_effect(key, group_name, group, &id.to_text(), id) {
                effects.push(effect);
            }
        }
    }
    if noack && moved {
        effects.push(setid_effect(key, group_name, group));
    }
}

fn replay_pending(
    out: &mut lodestone_resp::ReplyWriter,
    stream: &Stream,
    group: &mut Group,
    consumer: &[u8],
    after: StreamId,
    count: usize,
    now: i64,
) {
    let ids: Vec<StreamId> = match (group.consumers.get(consumer), after.next()) {
        (Some(c), Some(start)) => c.pel.range(start..).take(count).copied().collect(),
        _ => Vec::new(),
    };
    out.array(ids.len());
    for id in ids {
        match stream.range(id, id, false).next() {
            Some(entry) => {
                write_entry(out, &entry);
                if let Some(nack) = group.pel.get_mut(&id) {
                    nack.delivery_time = now;
                    nack.delivery_count += 1;
                }
            }
            None => {
                out.array(2);
                write_id(out, id);
                out.null_array();
            }
        }
    }
}
