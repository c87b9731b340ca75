//! Sorted sets: scores, ranks, ranges by rank, score and lex, set algebra, pops and their
//! blocking forms.
//!
//! Handlers follow Redis's `t_zset.c` step by step where the order is observable:
//! arguments are parsed and validated before the key is looked up (so a syntax error
//! wins over WRONGTYPE) except where Redis looks the key up first (ZUNION & co, ZSCAN's
//! options). Ranges live in `zset_range`, algebra in `zset_algebra`; the data structure
//! itself (encodings, conversions) in the store's `zset` module.
//!
//! Effects: pops that choose their elements (ZMPOP, BZPOPMIN, BZMPOP) propagate as the
//! plain ZPOPMIN/ZPOPMAX that reproduces them, as Redis does.

use rand::Rng;

use lodestone_resp::{Command, ReplyWriter};
use lodestone_store::zset::{AddFlags, AddOutcome};
use lodestone_store::{Key, Value, ZSetValue, NO_EXPIRE};
use lodestone_util::glob_match;
use lodestone_util::number::{format_f64, parse_f64, parse_i64};

use super::keyspace::delete_destination;
use super::string::is_word;
use super::zset_algebra::{algebra, AlgebraCall, SetOp};
use super::zset_range::{
    rank_interval, reply_pairs, reply_score, select, span, LexRange, RangeKind, RangeSpec,
    ScoreRange,
};
use crate::blocking::{self, OnTimeout};
use crate::ctx::Ctx;
use crate::errors::{CmdResult, Error};
use crate::notify;

// ---------------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM
// ---------------------------------------------------------------------------------

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
pub fn zadd(ctx: &mut Ctx) -> CmdResult {
    add_generic(ctx, false)
}

/// ZINCRBY key increment member (ZADD's code with INCR, options and all, as Redis).
pub fn zincrby(ctx: &mut Ctx) -> CmdResult {
    add_generic(ctx, true)
}

/// ZADD's parsed options and the index of the first score.
fn parse_add_options(ctx: &Ctx, incr: bool) -> Result<(AddFlags, bool, usize), Error> {
    let mut flags = AddFlags {
        incr,
        ..AddFlags::default()
    };
    let mut ch = false;
    let mut i = 2;
    while i < ctx.argc() {
        let word = ctx.arg(i);
        if is_word(word, "nx") {
            flags.nx = true;
        } else if is_word(word, "xx") {
            flags.xx = true;
        } else if is_word(word, "ch") {
            ch = true;
        } else if is_word(word, "incr") {
            flags.incr = true;
        } else if is_word(word, "gt") {
            flags.gt = true;
        } else if is_word(word, "lt") {
            flags.lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let pairs = ctx.argc() - i;
    if pairs == 0 || pairs % 2 == 1 {
        return Err(Error::Syntax);
    }
    if flags.nx && flags.xx {
        return Err(Error::err(
            "XX and NX options at the same time are not compatible",
        ));
    }
    if (flags.nx && (flags.gt || flags.lt)) || (flags.gt && flags.lt) {
        return Err(Error::err(
            "GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if flags.incr && pairs > 2 {
        return Err(Error::err(
            "INCR option supports a single increment-element pair",
        ));
    }
    Ok((flags, ch, i))
}

/// Counts of what an add did, for the reply.
#[derive(Default)]
struct AddTally {
    added: i64,
    updated: i64,
    processed: i64,
    last_score: f64,
}

fn add_generic(ctx: &mut Ctx, incr: bool) -> CmdResult {
    let cmd = ctx.cmd;
    let (flags, ch, first) = parse_add_options(ctx, incr)?;
    let mut pairs = Vec::with_capacity((ctx.argc() - first) / 2);
    for i in (first..ctx.argc()).step_by(2) {
        let score = parse_f64(cmd.arg(i)).ok_or(Error::NotFloat)?;
        pairs.push((score, cmd.arg(i + 1)));
    }
    let key = cmd.arg(1);
    let limits = ctx.server.config.hot.encoding_limits();
    let tally = match ctx.keys.write_zset(key)? {
        Some(z) => {
            let tally = apply_adds(z, &pairs, flags, &limits)?;
            if tally.added + tally.updated > 0 {
                ctx.keys.modified(key);
            }
            tally
        }
        None if flags.xx => AddTally::default(),
        None => {
            let mut z = ZSetValue::new_for(&limits, pairs[0].1.len());
            let tally = apply_adds(&mut z, &pairs, flags, &limits)?;
            if !z.is_empty() {
                ctx.keys.set(key, Value::ZSet(z), NO_EXPIRE);
            }
            tally
        }
    };
    if tally.added + tally.updated > 0 {
        let event = if flags.incr { "zincr" } else { "zadd" };
        ctx.notify(notify::ZSET, event, key);
    }
    if flags.incr {
        if tally.processed > 0 {
            reply_score(ctx.out, tally.last_score);
        } else {
            ctx.out.null();
        }
    } else {
        let n = if ch {
            tally.added + tally.updated
        } else {
            tally.added
        };
        ctx.out.integer(n);
    }
    Ok(())
}

fn apply_adds(
    z: &mut ZSetValue,
    pairs: &[(f64, &[u8])],
    flags: AddFlags,
    limits: &lodestone_store::EncodingLimits,
) -> Result<AddTally, Error> {
    let mut tally = AddTally::default();
    for &(score, member) in pairs {
        let outcome = z
            .add(member, score, flags, limits)
            .map_err(|_| Error::err("resulting score is not a number (NaN)"))?;
        match outcome {
            AddOutcome::Added(s) => {
                tally.added += 1;
                tally.last_score = s;
            }
            AddOutcome::Updated(s) => {
                tally.updated += 1;
                tally.last_score = s;
            }
            AddOutcome::Unchanged(s) => tally.last_score = s,
            AddOutcome::Skipped => continue,
        }
        tally.processed += 1;
    }
    Ok(tally)
}

/// ZREM key member [member ...]
pub fn zrem(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let key = cmd.arg(1);
    let Some(z) = ctx.keys.write_zset(key)? else {
        ctx.out.integer(0);
        return Ok(());
    };
    let mut deleted = 0;
    for i in 2..cmd.len() {
        deleted += i64::from(z.remove(cmd.arg(i)));
        if z.is_empty() {
            break;
        }
    }
    finish_removal(ctx, key, deleted > 0, "zrem");
    ctx.out.integer(deleted);
    Ok(())
}

/// After removing members from `key` by the command whose keyspace event is `event`:
/// publishes it, counts the change and deletes the key if it became empty (Redis never
/// keeps an empty sorted set; it then adds `del`).
fn finish_removal(ctx: &mut Ctx, key: &[u8], changed: bool, event: &'static str) {
    if !changed {
        return;
    }
    ctx.notify(notify::ZSET, event, key);
    let empty = ctx
        .keys
        .write_zset(key)
        .ok()
        .flatten()
        .is_none_or(|z| z.is_empty());
    if empty {
        ctx.keys.remove(key);
        ctx.notify(notify::GENERIC, "del", key);
    } else {
        ctx.keys.modified(key);
    }
}

// ---------------------------------------------------------------------------------
// Single-member reads
// ---------------------------------------------------------------------------------

/// ZCARD key
pub fn zcard(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let len = ctx.keys.read_zset(cmd.arg(1))?.map_or(0, |z| z.len());
    ctx.out.integer(len as i64);
    Ok(())
}

/// ZSCORE key member
pub fn zscore(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let score = ctx
        .keys
        .read_zset(cmd.arg(1))?
        .and_then(|z| z.score(cmd.arg(2)));
    match score {
        Some(score) => reply_score(ctx.out, score),
        None => ctx.out.null(),
    }
    Ok(())
}

/// ZMSCORE key member [member ...]
pub fn zmscore(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let z = ctx.keys.read_zset(cmd.arg(1))?;
    ctx.out.array(cmd.len() - 2);
    for i in 2..cmd.len() {
        match z.as_ref().and_then(|z| z.score(cmd.arg(i))) {
            Some(score) => reply_score(ctx.out, score),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// ZRANK key member
pub fn zrank(ctx: &mut Ctx) -> CmdResult {
    rank_generic(ctx, false)
}

/// ZREVRANK key member
pub fn zrevrank(ctx: &mut Ctx) -> CmdResult {
    rank_generic(ctx, true)
}

fn rank_generic(ctx: &mut Ctx, reverse: bool) -> CmdResult {
    let cmd = ctx.cmd;
    let rank = ctx.keys.read_zset(cmd.arg(1))?.and_then(|z| {
        let rank = z.rank(cmd.arg(2))?;
        Some(if reverse { z.len() - 1 - rank } else { rank })
    });
    match rank {
        Some(rank) => ctx.out.integer(rank as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Ranges
// ---------------------------------------------------------------------------------

/// How a range command fixes the range type and direction (ZRANGE leaves both to its
/// options; the older commands fix them and refuse the option words).
#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy)]
struct RangeCall {
    /// Index of the source key.
    src: usize,
    store: bool,
    by: By,
    /// `Some(true)`: reverse fixed by the command; `None`: REV allowed.
    reverse: Option<bool>,
}

/// ZRANGE key min max [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
pub fn zrange(ctx: &mut Ctx) -> CmdResult {
    range_generic(ctx, 1, false, By::Auto, None)
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
pub fn zrangestore(ctx: &mut Ctx) -> CmdResult {
    range_generic(ctx, 2, true, By::Auto, None)
}

/// ZREVRANGE key start stop [WITHSCORES]
pub fn zrevrange(ctx: &mut Ctx) -> CmdResult {
    range_generic(ctx, 1, false, By::Rank, Some(true))
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
pub fn zrangebyscore(ctx: &mut Ctx) -> CmdResult {
    range_generic(ctx, 1, false, By::Score, Some(false))
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
pub fn zrevrangebyscore(ctx: &mut Ctx) -> CmdResult {
    range_generic(ctx, 1, false, By::Score, Some(true))
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
pub fn zrangebylex(ctx: &mut Ctx) -> CmdResult {
    range_generic(ctx, 1, false, By::Lex, Some(false))
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
pub fn zrevrangebylex(ctx: &mut Ctx) -> CmdResult {
    range_generic(ctx, 1, false, By::Lex, Some(true))
}

fn range_generic(
    ctx: &mut Ctx,
    src: usize,
    store: bool,
    by: By,
    reverse: Option<bool>,
) -> CmdResult {
    let call = RangeCall {
        src,
        store,
        by,
        reverse,
    };
    let (spec, withscores) = parse_range(ctx, call)?;
    let cmd = ctx.cmd;
    let Some(z) = ctx.keys.read_zset(cmd.arg(src))? else {
        if store {
            delete_destination(ctx, cmd.arg(1));
            ctx.out.integer(0);
        } else {
            ctx.out.array(0);
        }
        return Ok(());
    };
    let pairs = select(z, &spec);
    if !store {
        reply_pairs(ctx.out, &pairs, withscores);
        return Ok(());
    }
    let owned: Vec<(Vec<u8>, f64)> = pairs.iter().map(|(m, s)| (m.to_vec(), *s)).collect();
    let dst = cmd.arg(1);
    if owned.is_empty() {
        delete_destination(ctx, dst);
        ctx.out.integer(0);
        return Ok(());
    }
    let limits = ctx.server.config.hot.encoding_limits();
    let len = owned.len();
    ctx.keys.set(
        dst,
        Value::ZSet(ZSetValue::from_items(owned, &limits)),
        NO_EXPIRE,
    );
    ctx.notify(notify::ZSET, "zrangestore", dst);
    ctx.out.integer(len as i64);
    Ok(())
}

/// Parses a range command's options and bounds in Redis's order: options, conflicts,
/// then the bounds (swapped for reverse score and lex ranges).
fn parse_range(ctx: &Ctx, call: RangeCall) -> Result<(RangeSpec, bool), Error> {
    let mut by = call.by;
    let mut reverse = call.reverse;
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = call.src + 3;
    while j < ctx.argc() {
        let word = ctx.arg(j);
        let left = ctx.argc() - j - 1;
        if !call.store && is_word(word, "withscores") {
            withscores = true;
        } else if is_word(word, "limit") && left >= 2 {
            offset = ctx.arg_i64(j + 1)?;
            limit = ctx.arg_i64(j + 2)?;
            j += 2;
        } else if reverse.is_none() && is_word(word, "rev") {
            reverse = Some(true);
        } else if by == By::Auto && is_word(word, "bylex") {
            by = By::Lex;
        } else if by == By::Auto && is_word(word, "byscore") {
            by = By::Score;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    let reverse = reverse.unwrap_or(false);
    let by = if by == By::Auto { By::Rank } else { by };
    if limit != -1 && by == By::Rank {
        return Err(Error::err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == By::Lex {
        return Err(Error::err(
            "syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut min, mut max) = (ctx.arg(call.src + 1), ctx.arg(call.src + 2));
    if reverse && by != By::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    let kind = match by {
        By::Score => RangeKind::Score(ScoreRange::parse(min, max)?),
        By::Lex => RangeKind::Lex(LexRange::parse(min, max)?),
        _ => RangeKind::Rank(ctx.arg_i64(call.src + 1)?, ctx.arg_i64(call.src + 2)?),
    };
    let spec = RangeSpec {
        kind,
        reverse,
        offset,
        limit,
    };
    Ok((spec, withscores))
}

/// ZCOUNT key min max
pub fn zcount(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let kind = RangeKind::Score(ScoreRange::parse(cmd.arg(2), cmd.arg(3))?);
    count_generic(ctx, &kind)
}

/// ZLEXCOUNT key min max
pub fn zlexcount(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let kind = RangeKind::Lex(LexRange::parse(cmd.arg(2), cmd.arg(3))?);
    count_generic(ctx, &kind)
}

fn count_generic(ctx: &mut Ctx, kind: &RangeKind) -> CmdResult {
    let cmd = ctx.cmd;
    let count = ctx
        .keys
        .read_zset(cmd.arg(1))?
        .map_or(0, |z| span(z, kind).1);
    ctx.out.integer(count as i64);
    Ok(())
}

/// ZREMRANGEBYRANK key start stop
pub fn zremrangebyrank(ctx: &mut Ctx) -> CmdResult {
    let start = ctx.arg_i64(2)?;
    let end = ctx.arg_i64(3)?;
    remove_range_generic(ctx, &RangeKind::Rank(start, end))
}

/// ZREMRANGEBYSCORE key min max
pub fn zremrangebyscore(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let kind = RangeKind::Score(ScoreRange::parse(cmd.arg(2), cmd.arg(3))?);
    remove_range_generic(ctx, &kind)
}

/// ZREMRANGEBYLEX key min max
pub fn zremrangebylex(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let kind = RangeKind::Lex(LexRange::parse(cmd.arg(2), cmd.arg(3))?);
    remove_range_generic(ctx, &kind)
}

fn remove_range_generic(ctx: &mut Ctx, kind: &RangeKind) -> CmdResult {
    let cmd = ctx.cmd;
    let key = cmd.arg(1);
    let Some(z) = ctx.keys.write_zset(key)? else {
        ctx.out.integer(0);
        return Ok(());
    };
    let (start, count) = match kind {
        RangeKind::Rank(start, end) => match rank_interval(z.len(), *start, *end) {
            Some((start, end)) => (start, end - start + 1),
            None => (0, 0),
        },
        _ => span(z, kind),
    };
    let deleted = z.remove_range(start, count);
    let event = match kind {
        RangeKind::Rank(..) => "zremrangebyrank",
        RangeKind::Score(..) => "zremrangebyscore",
        RangeKind::Lex(..) => "zremrangebylex",
    };
    finish_removal(ctx, key, deleted > 0, event);
    ctx.out.integer(deleted as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------
// Pops
// ---------------------------------------------------------------------------------

/// How a pop replies (Redis's `genericZpopCommand` flags).
#[derive(Clone, Copy)]
struct PopShape {
    max: bool,
    /// Name the key in the reply (blocking pops, ZMPOP).
    emit_key: bool,
    /// `[member, score]` pairs rather than a flat list.
    nested: bool,
    /// Null array (rather than an empty one) when no key has members.
    nil_when_empty: bool,
}

/// What a pop took: from which key and how many.
struct Popped {
    key: Key,
    count: usize,
}

/// ZPOPMIN key [count]
pub fn zpopmin(ctx: &mut Ctx) -> CmdResult {
    pop_min_max(ctx, false)
}

/// ZPOPMAX key [count]
pub fn zpopmax(ctx: &mut Ctx) -> CmdResult {
    pop_min_max(ctx, true)
}

fn pop_min_max(ctx: &mut Ctx, max: bool) -> CmdResult {
    if ctx.argc() > 3 {
        return Err(Error::Syntax);
    }
    let count = if ctx.argc() == 3 {
        let count = parse_i64(ctx.arg(2))
            .filter(|&c| c >= 0)
            .ok_or(Error::OutOfRangePositive)?;
        Some(count as u64)
    } else {
        None
    };
    let shape = PopShape {
        max,
        emit_key: false,
        nested: ctx.out.is_resp3() && count.is_some(),
        nil_when_empty: false,
    };
    let cmd = ctx.cmd;
    pop_generic(ctx, &[cmd.arg(1)], count, shape)?;
    Ok(())
}

/// Pops up to `count` (None: one, plain reply) members from the first of `keys` that
/// holds a sorted set, replying in `shape`.
fn pop_generic(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    count: Option<u64>,
    shape: PopShape,
) -> Result<Option<Popped>, Error> {
    let mut found = None;
    for key in keys {
        if ctx.keys.write_zset(key)?.is_some() {
            found = Some(*key);
            break;
        }
    }
    let Some(key) = found else {
        if shape.nil_when_empty {
            ctx.out.null_array();
        } else {
            ctx.out.array(0);
        }
        return Ok(None);
    };
    if count == Some(0) {
        ctx.out.array(0);
        return Ok(None);
    }
    let Some(z) = ctx.keys.write_zset(key)? else {
        return Ok(None);
    };
    let n = usize::try_from(count.unwrap_or(1))
        .unwrap_or(usize::MAX)
        .min(z.len());
    let start = if shape.max { z.len() - n } else { 0 };
    let from = if shape.max { z.len() - 1 } else { 0 };
    let taken: Vec<(Vec<u8>, f64)> = z
        .iter_from(from, shape.max)
        .take(n)
        .map(|(m, s)| (m.to_vec(), s))
        .collect();
    z.remove_range(start, n);
    write_pop_reply(ctx, key, &taken, shape);
    let event = if shape.max { "zpopmax" } else { "zpopmin" };
    finish_removal(ctx, key, true, event);
    Ok(Some(Popped {
        key: Key::from_slice(key),
        count: n,
    }))
}

fn write_pop_reply(ctx: &mut Ctx, key: &[u8], taken: &[(Vec<u8>, f64)], shape: PopShape) {
    let out = &mut *ctx.out;
    match (shape.nested, shape.emit_key) {
        (false, false) => out.array(taken.len() * 2),
        (true, false) => out.array(taken.len()),
        (false, true) => {
            out.array(taken.len() * 2 + 1);
            out.bulk(key);
        }
        (true, true) => {
            out.array(2);
            out.bulk(key);
            out.array(taken.len());
        }
    }
    for (member, score) in taken {
        if shape.nested {
            out.array(2);
        }
        out.bulk(member);
        reply_score(out, *score);
    }
}

/// The effect of a pop that chose its key or count: `ZPOPMIN|ZPOPMAX key [count]`.
fn propagate_pop(ctx: &mut Ctx, popped: Option<Popped>, max: bool, with_count: bool) {
    let Some(popped) = popped else {
        ctx.keys.propagate_none();
        return;
    };
    let name: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
    let mut args = vec![name.to_vec(), popped.key.to_vec()];
    if with_count {
        args.push(popped.count.to_string().into_bytes());
    }
    ctx.keys.propagate_as(args);
}

/// ZMPOP/BZMPOP's arguments after numkeys: keys, MIN|MAX, COUNT.
struct MpopArgs<'c> {
    keys: Vec<&'c [u8]>,
    max: bool,
    count: u64,
}

/// Parses `numkeys key... MIN|MAX [COUNT n]` from argument `numkeys_index`.
fn parse_mpop<'c>(ctx: &Ctx<'c, '_>, numkeys_index: usize) -> Result<MpopArgs<'c>, Error> {
    let numkeys_error = || Error::err("numkeys should be greater than 0");
    let numkeys = parse_i64(ctx.arg(numkeys_index))
        .filter(|&n| n >= 1)
        .ok_or_else(numkeys_error)?;
    let where_index = usize::try_from(numkeys)
        .ok()
        .and_then(|n| n.checked_add(numkeys_index + 1))
        .filter(|&i| i < ctx.argc())
        .ok_or(Error::Syntax)?;
    let max = if is_word(ctx.arg(where_index), "max") {
        true
    } else if is_word(ctx.arg(where_index), "min") {
        false
    } else {
        return Err(Error::Syntax);
    };
    let mut count = None;
    let mut j = where_index + 1;
    while j < ctx.argc() {
        if count.is_none() && is_word(ctx.arg(j), "count") && j + 1 < ctx.argc() {
            let n = parse_i64(ctx.arg(j + 1))
                .filter(|&n| n >= 1)
                .ok_or_else(|| Error::err("count should be greater than 0"))?;
            count = Some(n as u64);
            j += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    Ok(MpopArgs {
        keys: (numkeys_index + 1..where_index)
            .map(|i| ctx.arg(i))
            .collect(),
        max,
        count: count.unwrap_or(1),
    })
}

fn mpop_shape(max: bool) -> PopShape {
    PopShape {
        max,
        emit_key: true,
        nested: true,
        nil_when_empty: true,
    }
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
pub fn zmpop(ctx: &mut Ctx) -> CmdResult {
    let args = parse_mpop(ctx, 1)?;
    let popped = pop_generic(ctx, &args.keys, Some(args.count), mpop_shape(args.max))?;
    propagate_pop(ctx, popped, args.max, true);
    Ok(())
}

/// BZPOPMIN key [key ...] timeout
pub fn bzpopmin(ctx: &mut Ctx) -> CmdResult {
    blocking_pop(ctx, false)
}

/// BZPOPMAX key [key ...] timeout
pub fn bzpopmax(ctx: &mut Ctx) -> CmdResult {
    blocking_pop(ctx, true)
}

fn blocking_pop(ctx: &mut Ctx, max: bool) -> CmdResult {
    let cmd = ctx.cmd;
    let deadline = blocking::parse_timeout(ctx, cmd.len() - 1)?;
    let keys: Vec<&[u8]> = (1..cmd.len() - 1).map(|i| cmd.arg(i)).collect();
    let shape = PopShape {
        max,
        emit_key: true,
        nested: false,
        nil_when_empty: true,
    };
    serve_or_block(ctx, &keys, None, shape, deadline)
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
pub fn bzmpop(ctx: &mut Ctx) -> CmdResult {
    let args = parse_mpop(ctx, 2)?;
    let deadline = blocking::parse_timeout(ctx, 1)?;
    serve_or_block(
        ctx,
        &args.keys,
        Some(args.count),
        mpop_shape(args.max),
        deadline,
    )
}

/// A blocking pop's non-blocking try: pops from the first key holding members, or
/// parks the client on all of them. Re-run as is when a key is fed.
fn serve_or_block(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    count: Option<u64>,
    shape: PopShape,
    deadline: Option<i64>,
) -> CmdResult {
    for key in keys {
        if ctx.keys.write_zset(key)?.is_some_and(|z| !z.is_empty()) {
            let popped = pop_generic(ctx, &[key], count, shape)?;
            propagate_pop(ctx, popped, shape.max, count.is_some());
            return Ok(());
        }
    }
    let keys = keys.iter().map(|k| Key::from_slice(k)).collect();
    blocking::block(ctx, keys, deadline, OnTimeout::NullArray)
}

// ---------------------------------------------------------------------------------
// ZRANDMEMBER
// ---------------------------------------------------------------------------------

/// Draws for repeating ZRANDMEMBER are produced in batches of this many, as Redis
/// bounds its temporary buffer; the reply itself streams.
const RANDOM_BATCH: u64 = 1000;

/// ZRANDMEMBER key [count [WITHSCORES]]
pub fn zrandmember(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    if cmd.len() == 2 {
        let Some(z) = ctx.keys.read_zset(cmd.arg(1))? else {
            ctx.out.null();
            return Ok(());
        };
        let sampler = z.sampler();
        let index = rand::thread_rng().gen_range(0..sampler.len().max(1));
        if let Some((member, _)) = sampler.get(index) {
            ctx.out.bulk(member);
        }
        return Ok(());
    }
    let count = ctx.arg_i64(2)?;
    if count == i64::MIN {
        return Err(Error::err(
            "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    if cmd.len() > 4 || (cmd.len() == 4 && !is_word(cmd.arg(3), "withscores")) {
        return Err(Error::Syntax);
    }
    let withscores = cmd.len() == 4;
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(Error::err("value is out of range"));
    }
    let max_reply = super::string::max_string_len(ctx);
    let Some(z) = ctx.keys.read_zset(cmd.arg(1))? else {
        ctx.out.array(0);
        return Ok(());
    };
    if count < 0 && repeats_too_big(z, count.unsigned_abs(), withscores, max_reply) {
        return Err(Error::err("value is out of range"));
    }
    random_members(ctx.out, z, count, withscores);
    Ok(())
}

/// Whether a ZRANDMEMBER reply with `count` repeats could outgrow `proto-max-bulk-len`.
/// Redis streams such a reply until the client's output limit closes it; ours is built
/// in memory first, so a claimed count must not decide how much we allocate.
fn repeats_too_big(z: &ZSetValue, count: u64, withscores: bool, max_reply: i64) -> bool {
    const SMALL: u64 = 100_000;
    if count <= SMALL {
        return false;
    }
    let longest = z.iter().map(|(m, _)| m.len()).max().unwrap_or(0) as u64;
    let per_item = longest + 16 + if withscores { 32 } else { 0 };
    count.saturating_mul(per_item) > max_reply.max(0) as u64
}

/// ZRANDMEMBER with a count: with repeats (negative count, or 1), the whole set in
/// descending order (count at least its size), or a random subset.
fn random_members(out: &mut ReplyWriter, z: &ZSetValue, count: i64, withscores: bool) {
    if count == 0 {
        out.array(0);
        return;
    }
    let nested = withscores && out.is_resp3();
    let header = |out: &mut ReplyWriter, n: u64| {
        out.array(if withscores && !nested {
            n as usize * 2
        } else {
            n as usize
        });
    };
    let emit = |out: &mut ReplyWriter, member: &[u8], score: f64| {
        if nested {
            out.array(2);
        }
        out.bulk(member);
        if withscores {
            reply_score(out, score);
        }
    };
    let mut rng = rand::thread_rng();
    let sampler = z.sampler();
    let size = sampler.len() as u64;
    if count < 0 || count == 1 {
        let mut left = count.unsigned_abs();
        header(out, left);
        while left > 0 {
            let batch = left.min(RANDOM_BATCH);
            left -= batch;
            for _ in 0..batch {
                if let Some((member, score)) = sampler.get(rng.gen_range(0..sampler.len())) {
                    emit(out, member, score);
                }
            }
        }
        return;
    }
    let count = count as u64;
    if count >= size {
        // The whole set, highest first: Redis walks sorted sets from the tail here.
        header(out, size);
        for (member, score) in z.iter_from(z.len() - 1, true) {
            emit(out, member, score);
        }
        return;
    }
    header(out, count);
    let picks = rand::seq::index::sample(&mut rng, sampler.len(), count as usize);
    for index in picks {
        if let Some((member, score)) = sampler.get(index) {
            emit(out, member, score);
        }
    }
}

// ---------------------------------------------------------------------------------
// Algebra
// ---------------------------------------------------------------------------------

fn algebra_call(op: SetOp, numkeys_index: usize, store: bool) -> AlgebraCall {
    AlgebraCall {
        op,
        numkeys_index,
        store,
        cardinality_only: false,
    }
}

/// ZUNION numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
pub fn zunion(ctx: &mut Ctx) -> CmdResult {
    algebra(ctx, algebra_call(SetOp::Union, 1, false))
}

/// ZINTER numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
pub fn zinter(ctx: &mut Ctx) -> CmdResult {
    algebra(ctx, algebra_call(SetOp::Inter, 1, false))
}

/// ZDIFF numkeys key [key ...] [WITHSCORES]
pub fn zdiff(ctx: &mut Ctx) -> CmdResult {
    algebra(ctx, algebra_call(SetOp::Diff, 1, false))
}

/// ZUNIONSTORE dst numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]
pub fn zunionstore(ctx: &mut Ctx) -> CmdResult {
    algebra(ctx, algebra_call(SetOp::Union, 2, true))
}

/// ZINTERSTORE dst numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]
pub fn zinterstore(ctx: &mut Ctx) -> CmdResult {
    algebra(ctx, algebra_call(SetOp::Inter, 2, true))
}

/// ZDIFFSTORE dst numkeys key [key ...]
pub fn zdiffstore(ctx: &mut Ctx) -> CmdResult {
    algebra(ctx, algebra_call(SetOp::Diff, 2, true))
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn zintercard(ctx: &mut Ctx) -> CmdResult {
    algebra(
        ctx,
        AlgebraCall {
            cardinality_only: true,
            ..algebra_call(SetOp::Inter, 1, false)
        },
    )
}

// ---------------------------------------------------------------------------------
// ZSCAN
// ---------------------------------------------------------------------------------

/// ZSCAN key cursor [MATCH pattern] [COUNT count]. A `listpack` set comes whole with
/// cursor 0, as in Redis, with its scores printed as its listpack stores them.
pub fn zscan(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let cursor =
        super::scan::parse_cursor(cmd.arg(2)).ok_or_else(|| Error::err("invalid cursor"))?;
    let Some(z) = ctx.keys.read_zset(cmd.arg(1))? else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    let (count, pattern) = parse_zscan_options(cmd)?;
    let packed = matches!(z, ZSetValue::Listpack(_));
    let (pairs, next) = z.scan(cursor, count);
    let out = &mut *ctx.out;
    out.array(2);
    out.bulk(next.to_string().as_bytes());
    let start = out.begin_deferred();
    let mut n = 0;
    for (member, score) in pairs {
        if pattern.is_some_and(|p| !glob_match(p, member, false)) {
            continue;
        }
        out.bulk(member);
        let text = if packed {
            listpack_score_text(score)
        } else {
            format_f64(score)
        };
        out.bulk(text.as_bytes());
        n += 2;
    }
    out.end_deferred(start, b'*', n);
    Ok(())
}

/// ZSCAN's options (read only once the key exists, as Redis does).
fn parse_zscan_options(cmd: &Command) -> Result<(usize, Option<&[u8]>), Error> {
    let (mut count, mut pattern) = (10usize, None);
    let mut i = 3;
    while i < cmd.len() {
        let has_value = i + 1 < cmd.len();
        if is_word(cmd.arg(i), "count") && has_value {
            let n = parse_i64(cmd.arg(i + 1)).ok_or(Error::NotInteger)?;
            count = usize::try_from(n)
                .ok()
                .filter(|&c| c >= 1)
                .ok_or(Error::Syntax)?;
        } else if is_word(cmd.arg(i), "match") && has_value {
            let p = cmd.arg(i + 1);
            pattern = (p != b"*").then_some(p);
        } else {
            return Err(Error::Syntax);
        }
        i += 2;
    }
    Ok((count, pattern))
}

/// A score as a listpack stores it (Redis's `d2string`): integers that fit in half the
/// i64 range in full decimal, anything else as `%.17g`.
fn listpack_score_text(score: f64) -> String {
    const HALF_RANGE: f64 = (i64::MAX / 2) as f64;
    if score.is_finite()
        && score != 0.0
        && score.fract() == 0.0
        && (-HALF_RANGE..=HALF_RANGE).contains(&score)
    {
        return (score as i64).to_string();
    }
    if score == 0.0 {
        return if score.is_sign_negative() { "-0" } else { "0" }.into();
    }
    format_f64(score)
}
