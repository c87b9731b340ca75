//! XINFO STREAM / GROUPS / CONSUMERS: Redis 7.0's fields, in its order.

use lodestone_store::{Stream, StreamId};

use super::stream::{read_stream, write_entry, write_id};
use crate::ctx::{Ctx, KeyAccess};
use crate::errors::{CmdResult, Error};

/// The stream at argv[2], or `ERR no such key`.
fn stream_at<'c>(keys: &'c mut KeyAccess<'_>, key: &[u8]) -> Result<&'c mut Stream, Error> {
    read_stream(keys, key)?.ok_or(Error::NoSuchKey)
}

fn write_counter(out: &mut lodestone_resp::ReplyWriter, value: Option<i64>) {
    match value {
        Some(n) => out.integer(n),
        None => out.null(),
    }
}

/// A group's `last-delivered-id`, `entries-read` and `lag` fields.
fn write_position(
    out: &mut lodestone_resp::ReplyWriter,
    stream: &Stream,
    group: &lodestone_store::stream::Group,
) {
    out.bulk(b"last-delivered-id");
    write_id(out, group.last_id);
    out.bulk(b"entries-read");
    write_counter(
        out,
        (group.entries_read != -1).then_some(group.entries_read),
    );
    out.bulk(b"lag");
    write_counter(out, stream.lag(group));
}

pub fn xinfo_stream(ctx: &mut Ctx) -> CmdResult {
    // The key is looked up before the options are checked, as in Redis.
    let key = ctx.arg(2);
    stream_at(ctx.keys, key)?;
    let (full, count) = stream_options(ctx)?;
    let limit = if count == 0 {
        usize::MAX
    } else {
        usize::try_from(count).unwrap_or(usize::MAX)
    };
    // Already counted as a hit above.
    let stream = super::stream::write_stream(ctx.keys, key)?.ok_or(Error::NoSuchKey)?;
    let out = &mut *ctx.out;
    out.map(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.integer(stream.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.integer(stream.node_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.integer(stream.radix_tree_nodes() as i64);
    out.bulk(b"last-generated-id");
    write_id(out, stream.last_id);
    out.bulk(b"max-deleted-entry-id");
    write_id(out, stream.max_deleted_id);
    out.bulk(b"entries-added");
    out.integer(stream.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    write_id(out, stream.first_id);
    if !full {
        out.bulk(b"groups");
        out.integer(stream.groups.len() as i64);
        for (label, rev) in [(&b"first-entry"[..], false), (b"last-entry", true)] {
            out.bulk(label);
            match stream.range(StreamId::MIN, StreamId::MAX, rev).next() {
                Some(entry) => write_entry(out, &entry),
                None => out.null(),
            }
        }
        return Ok(());
    }
    out.bulk(b"entries");
    super::stream::write_range(out, stream, StreamId::MIN, StreamId::MAX, false, limit);
    out.bulk(b"groups");
    out.array(stream.groups.len());
    for (name, group) in &stream.groups {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        write_position(out, stream, group);
        out.bulk(b"pel-count");
        out.integer(group.pel.len() as i64);
        out.bulk(b"pending");
        let shown = group.pel.len().min(limit);
        out.array(shown);
        for (id, nack) in group.pel.iter().take(shown) {
            out.array(4);
            write_id(out, *id);
            out.bulk(&nack.consumer);
            out.integer(nack.delivery_time);
            out.integer(nack.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(group.consumers.len());
        for (name, consumer) in &group.consumers {
            out.map(4);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"seen-time");
            out.integer(consumer.seen_time);
            out.bulk(b"pel-count");
            out.integer(consumer.pel.len() as i64);
            out.bulk(b"pending");
            let shown = consumer.pel.len().min(limit);
            out.array(shown);
            for id in consumer.pel.iter().take(shown) {
                let nack = group.pel.get(id);
                out.array(3);
                write_id(out, *id);
                out.integer(nack.map_or(0, |n| n.delivery_time));
                out.integer(nack.map_or(0, |n| n.delivery_count as i64));
            }
        }
    }
    Ok(())
}

/// `[FULL [COUNT n]]`: whether FULL was given, and the COUNT (default 10; 0 = all).
fn stream_options(ctx: &Ctx) -> Result<(bool, i64), Error> {
    let options = ctx.argc() - 3;
    if options == 0 {
        return Ok((false, 10));
    }
    if (options != 1 && options != 3) || !ctx.arg_is(3, "full") {
        return Err(super::server::subcommand_syntax_error(ctx));
    }
    if options == 1 {
        return Ok((true, 10));
    }
    if !ctx.arg_is(4, "count") {
        return Err(super::server::subcommand_syntax_error(ctx));
    }
    let count = ctx.arg_i64(5)?;
    Ok((true, if count < 0 { 10 } else { count }))
}

pub fn xinfo_groups(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(2);
    let stream = stream_at(ctx.keys, key)?;
    let out = &mut *ctx.out;
    out.array(stream.groups.len());
    for (name, group) in &stream.groups {
        out.map(6);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"consumers");
        out.integer(group.consumers.len() as i64);
        out.bulk(b"pending");
        out.integer(group.pel.len() as i64);
        write_position(out, stream, group);
    }
    Ok(())
}

pub fn xinfo_consumers(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.keys.now_ms;
    let key = ctx.arg(2);
    let name = ctx.arg(3);
    let stream = stream_at(ctx.keys, key)?;
    let Some(group) = stream.groups.get(name) else {
        return Err(super::stream_group::no_group(key, name));
    };
    let out = &mut *ctx.out;
    out.array(group.consumers.len());
    for (name, consumer) in &group.consumers {
        out.map(3);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"pending");
        out.integer(consumer.pel.len() as i64);
        out.bulk(b"idle");
        out.integer((now - consumer.seen_time).max(0));
    }
    Ok(())
}

pub fn xinfo_help(ctx: &mut Ctx) -> CmdResult {
    super::object::help_reply(
        ctx,
        "XINFO",
        &[
            "CONSUMERS <key> <groupname>",
            "    Show the consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the consumer groups of the stream.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ],
    );
    Ok(())
}

pub fn xinfo(ctx: &mut Ctx) -> CmdResult {
    Err(super::server::subcommand_syntax_error(ctx))
}
