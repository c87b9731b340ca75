//! SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, SSUBSCRIBE, SUNSUBSCRIBE, PUBLISH,
//! SPUBLISH and PUBSUB.
//!
//! The registry and delivery live in `pubsub.rs`; the subscribed-context rule for RESP2
//! clients is checked in `process_command`. Confirmations are this command's reply, one
//! push per name.

use crate::ctx::{BlockMode, Ctx};
use crate::errors::CmdResult;
use crate::pubsub::Kind;

pub fn subscribe(ctx: &mut Ctx) -> CmdResult {
    subscribe_to(ctx, Kind::Channel)
}

pub fn psubscribe(ctx: &mut Ctx) -> CmdResult {
    subscribe_to(ctx, Kind::Pattern)
}

pub fn ssubscribe(ctx: &mut Ctx) -> CmdResult {
    subscribe_to(ctx, Kind::Shard)
}

pub fn unsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsubscribe_from(ctx, Kind::Channel)
}

pub fn punsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsubscribe_from(ctx, Kind::Pattern)
}

pub fn sunsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsubscribe_from(ctx, Kind::Shard)
}

fn subscribe_to(ctx: &mut Ctx, kind: Kind) -> CmdResult {
    let cmd = ctx.cmd;
    let registry = &ctx.server.pubsub;
    let subs = ctx.client.subscriptions();
    for name in cmd.args().skip(1) {
        registry.subscribe(subs, kind, name, ctx.out);
    }
    ctx.client.reply_is_push = true;
    Ok(())
}

fn unsubscribe_from(ctx: &mut Ctx, kind: Kind) -> CmdResult {
    let cmd = ctx.cmd;
    let registry = &ctx.server.pubsub;
    let top_level = ctx.mode == BlockMode::Park;
    let subs = ctx.client.subscriptions();
    // Messages already delivered to the mailbox were published before the client left:
    // they precede the confirmation (not inside EXEC, whose reply is one array).
    if top_level {
        subs.mailbox.drain_into(&mut ctx.out.buf);
    }
    if cmd.len() == 1 {
        registry.unsubscribe_all(subs, kind, Some(ctx.out));
    } else {
        for name in cmd.args().skip(1) {
            registry.unsubscribe(subs, kind, name, Some(ctx.out));
        }
    }
    ctx.client.reply_is_push = true;
    Ok(())
}

pub fn publish(ctx: &mut Ctx) -> CmdResult {
    let receivers = ctx.server.publish(ctx.arg(1), ctx.arg(2));
    ctx.out.integer(receivers as i64);
    Ok(())
}

pub fn spublish(ctx: &mut Ctx) -> CmdResult {
    let limits = &ctx.server.config.hot.pubsub_output_limits;
    let receivers = ctx
        .server
        .pubsub
        .publish_shard(limits, ctx.arg(1), ctx.arg(2));
    ctx.out.integer(receivers as i64);
    Ok(())
}

pub fn pubsub(ctx: &mut Ctx) -> CmdResult {
    Err(super::server::subcommand_syntax_error(ctx))
}

pub fn pubsub_help(ctx: &mut Ctx) -> CmdResult {
    super::object::help_reply(
        ctx,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    List the channels that have subscribers, optionally only those matching a glob pattern.",
            "NUMPAT",
            "    Count the distinct patterns clients subscribe to.",
            "NUMSUB [<channel> ...]",
            "    For each channel, count its subscribers (pattern subscribers not included).",
            "SHARDCHANNELS [<pattern>]",
            "    List the shard channels that have subscribers, optionally matching a glob pattern.",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    For each shard channel, count its subscribers.",
        ],
    );
    Ok(())
}

pub fn pubsub_channels(ctx: &mut Ctx) -> CmdResult {
    list_channels(ctx, false)
}

pub fn pubsub_shardchannels(ctx: &mut Ctx) -> CmdResult {
    list_channels(ctx, true)
}

fn list_channels(ctx: &mut Ctx, shard: bool) -> CmdResult {
    if ctx.argc() > 3 {
        return Err(super::server::subcommand_syntax_error(ctx));
    }
    let pattern = (ctx.argc() == 3).then(|| ctx.arg(2));
    let names = ctx.server.pubsub.channel_names(shard, pattern);
    ctx.out.array(names.len());
    for name in &names {
        ctx.out.bulk(name);
    }
    Ok(())
}

pub fn pubsub_numsub(ctx: &mut Ctx) -> CmdResult {
    count_subscribers(ctx, false)
}

pub fn pubsub_shardnumsub(ctx: &mut Ctx) -> CmdResult {
    count_subscribers(ctx, true)
}

/// A flat array of (channel, count) pairs: RESP2's shape even in RESP3, as Redis.
fn count_subscribers(ctx: &mut Ctx, shard: bool) -> CmdResult {
    let cmd = ctx.cmd;
    ctx.out.array(2 * (cmd.len() - 2));
    for channel in cmd.args().skip(2) {
        ctx.out.bulk(channel);
        let count = ctx.server.pubsub.subscriber_count(shard, channel);
        ctx.out.integer(count as i64);
    }
    Ok(())
}

pub fn pubsub_numpat(ctx: &mut Ctx) -> CmdResult {
    let count = ctx.server.pubsub.pattern_count();
    ctx.out.integer(count as i64);
    Ok(())
}
