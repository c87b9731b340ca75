//! Lists: push, pop, range, index, move and their blocking forms.
//!
//! Handlers follow Redis 7.0's `t_list.c` in what they check and in which order (some
//! parse their numbers before looking the key up, some after), because the first error
//! a client sees must be the one Redis sends. The data structure lives in
//! `lodestone_store::list`; here are arguments, replies and effects:
//!
//! - A list key never exists empty: whatever empties a list deletes the key.
//! - New lists are created through `KeyAccess::set` (the hook that wakes blocked
//!   clients), with the `list-max-listpack-size` of that moment, as Redis does.
//! - Commands whose effect is not the command as sent propagate a deterministic form:
//!   LMPOP and BLMPOP as `LPOP|RPOP key count`, BLPOP and BRPOP as `LPOP|RPOP key`,
//!   BLMOVE as LMOVE and BRPOPLPUSH as RPOPLPUSH.
//! - Blocking commands try their non-blocking form over their keys in order, then hand
//!   the keys to [`blocking::block`]; they are re-run unchanged to serve a woken client.

use lodestone_resp::ReplyWriter;
use lodestone_store::list::{Elem, Needle};
use lodestone_store::{Key, ListValue, Value, NO_EXPIRE};
use lodestone_util::number::parse_i64;

use super::string::is_word;
use crate::blocking::{self, OnTimeout};
use crate::ctx::Ctx;
use crate::errors::{wrong_arity, CmdResult, Error};
use crate::notify;

/// Which end of a list an operation works on (Redis's LEFT/HEAD and RIGHT/TAIL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Head,
    Tail,
}

impl End {
    /// The pop command that has the same effect at this end.
    fn pop_command(self) -> &'static [u8] {
        match self {
            End::Head => b"LPOP",
            End::Tail => b"RPOP",
        }
    }

    /// The keyspace event of a pop at this end.
    fn pop_event(self) -> &'static str {
        match self {
            End::Head => "lpop",
            End::Tail => "rpop",
        }
    }

    /// The keyspace event of a push at this end.
    fn push_event(self) -> &'static str {
        match self {
            End::Head => "lpush",
            End::Tail => "rpush",
        }
    }
}

/// Parses LEFT or RIGHT (case-insensitive), else a syntax error.
fn parse_end(arg: &[u8]) -> Result<End, Error> {
    if is_word(arg, "right") {
        Ok(End::Tail)
    } else if is_word(arg, "left") {
        Ok(End::Head)
    } else {
        Err(Error::Syntax)
    }
}

/// A non-negative count: any failure is `msg` (Redis's `getPositiveLongFromObject`).
fn parse_non_negative(arg: &[u8], msg: &str) -> Result<i64, Error> {
    parse_i64(arg)
        .filter(|n| *n >= 0)
        .ok_or_else(|| Error::err(msg))
}

/// A count of at least 1: any failure is `msg`.
fn parse_at_least_one(arg: &[u8], msg: &str) -> Result<i64, Error> {
    parse_i64(arg)
        .filter(|n| *n >= 1)
        .ok_or_else(|| Error::err(msg))
}

fn reply_elem(out: &mut ReplyWriter, elem: Elem) {
    match elem {
        Elem::Int(n) => out.bulk_integer(n),
        Elem::Bytes(b) => out.bulk(b),
    }
}

/// The `list-max-listpack-size` new lists are created with.
fn list_fill(ctx: &Ctx) -> i64 {
    ctx.server
        .config
        .hot
        .encoding_limits()
        .list_max_listpack_size
}

fn push_at(list: &mut ListValue, end: End, value: &[u8]) {
    match end {
        End::Head => list.push_front(value),
        End::Tail => list.push_back(value),
    }
}

fn pop_at(list: &mut ListValue, end: End) -> Option<Vec<u8>> {
    match end {
        End::Head => list.pop_front(),
        End::Tail => list.pop_back(),
    }
}

/// Records `changes` in-place changes to `key`: one `modified` (WATCH, notifications),
/// the rest as dirty, since Redis counts one change per element pushed or popped.
fn changed(ctx: &mut Ctx, key: &[u8], changes: usize) {
    ctx.keys.modified(key);
    ctx.keys.dirty += changes.saturating_sub(1) as u64;
}

/// After `popped` elements left `key` by the command whose keyspace event is `event`:
/// publishes it, then deletes the key when the list is now empty (a list key never
/// exists empty; Redis then adds `del`), else records the change.
fn after_pop(ctx: &mut Ctx, key: &[u8], now_empty: bool, popped: usize, event: &'static str) {
    ctx.notify(notify::LIST, event, key);
    if now_empty {
        ctx.keys.remove(key);
        ctx.notify(notify::GENERIC, "del", key);
        ctx.keys.dirty += popped.saturating_sub(1) as u64;
    } else {
        changed(ctx, key, popped);
    }
}

// ---------------------------------------------------------------------------------
// Pushes.
// ---------------------------------------------------------------------------------

/// LPUSH/RPUSH/LPUSHX/RPUSHX: pushes every element in order; `only_existing` (the X
/// forms) replies 0 for a missing key instead of creating it.
fn push(ctx: &mut Ctx, end: End, only_existing: bool) -> CmdResult {
    let cmd = ctx.cmd;
    let key = cmd.arg(1);
    let values = (2..cmd.len()).map(|i| cmd.arg(i));
    let pushed = cmd.len() - 2;
    if let Some(list) = ctx.keys.write_list(key)? {
        values.for_each(|v| push_at(list, end, v));
        ctx.out.integer(list.len() as i64);
        changed(ctx, key, pushed);
        ctx.notify(notify::LIST, end.push_event(), key);
        return Ok(());
    }
    if only_existing {
        ctx.out.integer(0);
        return Ok(());
    }
    let mut list = ListValue::new(list_fill(ctx));
    values.for_each(|v| push_at(&mut list, end, v));
    ctx.out.integer(list.len() as i64);
    ctx.keys.set(key, Value::List(list), NO_EXPIRE);
    ctx.keys.dirty += pushed.saturating_sub(1) as u64;
    ctx.notify(notify::LIST, end.push_event(), key);
    Ok(())
}

pub fn lpush(ctx: &mut Ctx) -> CmdResult {
    push(ctx, End::Head, false)
}

pub fn rpush(ctx: &mut Ctx) -> CmdResult {
    push(ctx, End::Tail, false)
}

pub fn lpushx(ctx: &mut Ctx) -> CmdResult {
    push(ctx, End::Head, true)
}

pub fn rpushx(ctx: &mut Ctx) -> CmdResult {
    push(ctx, End::Tail, true)
}

// ---------------------------------------------------------------------------------
// Pops.
// ---------------------------------------------------------------------------------

/// Replies with up to `count` elements from `end` (in pop order) and removes them;
/// returns how many.
fn pop_range(out: &mut ReplyWriter, list: &mut ListValue, end: End, count: i64) -> usize {
    let taken = usize::try_from(count).unwrap_or(usize::MAX).min(list.len());
    out.array(taken);
    match end {
        End::Head => {
            list.iter().take(taken).for_each(|e| reply_elem(out, e));
            list.drop_front(taken);
        }
        End::Tail => {
            list.iter()
                .rev()
                .take(taken)
                .for_each(|e| reply_elem(out, e));
            list.drop_back(taken);
        }
    }
    taken
}

/// LPOP/RPOP key [count]: one element as a bulk string, or with a count an array (a
/// missing key is then a null array, a count of 0 an empty array).
fn pop(ctx: &mut Ctx, end: End) -> CmdResult {
    let cmd = ctx.cmd;
    if cmd.len() > 3 {
        return Err(Error::Text(wrong_arity(ctx.spec.name).into()));
    }
    let count = match cmd.len() {
        3 => Some(parse_non_negative(
            cmd.arg(2),
            "value is out of range, must be positive",
        )?),
        _ => None,
    };
    let key = cmd.arg(1);
    let Some(list) = ctx.keys.write_list(key)? else {
        match count {
            Some(_) => ctx.out.null_array(),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let popped = match count {
        Some(0) => {
            ctx.out.array(0);
            return Ok(());
        }
        Some(n) => pop_range(ctx.out, list, end, n),
        None => match pop_at(list, end) {
            Some(value) => {
                ctx.out.bulk(&value);
                1
            }
            None => {
                ctx.out.null();
                0
            }
        },
    };
    let now_empty = list.is_empty();
    after_pop(ctx, key, now_empty, popped, end.pop_event());
    Ok(())
}

pub fn lpop(ctx: &mut Ctx) -> CmdResult {
    pop(ctx, End::Head)
}

pub fn rpop(ctx: &mut Ctx) -> CmdResult {
    pop(ctx, End::Tail)
}

/// LMPOP/BLMPOP arguments: the argument positions of the keys, the end, the count.
struct MpopArgs {
    keys: std::ops::Range<usize>,
    end: End,
    count: i64,
}

/// Parses `numkeys key... LEFT|RIGHT [COUNT n]` with numkeys at `numkeys_at`, with
/// Redis's checks in Redis's order.
fn parse_mpop(ctx: &Ctx, numkeys_at: usize) -> Result<MpopArgs, Error> {
    let cmd = ctx.cmd;
    let numkeys = parse_at_least_one(cmd.arg(numkeys_at), "numkeys should be greater than 0")?;
    let end_at = usize::try_from(numkeys)
        .ok()
        .and_then(|n| n.checked_add(numkeys_at + 1))
        .filter(|&i| i < cmd.len())
        .ok_or(Error::Syntax)?;
    let end = parse_end(cmd.arg(end_at))?;
    let mut count = None;
    let mut j = end_at + 1;
    while j < cmd.len() {
        let more = j + 1 < cmd.len();
        if count.is_none() && more && is_word(cmd.arg(j), "COUNT") {
            count = Some(parse_at_least_one(
                cmd.arg(j + 1),
                "count should be greater than 0",
            )?);
            j += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    Ok(MpopArgs {
        keys: numkeys_at + 1..end_at,
        end,
        count: count.unwrap_or(1),
    })
}

/// Pops from the first non-empty list among `args.keys`, replying `[key, [elements]]`
/// and propagating `LPOP|RPOP key n`; false (nothing written) when all are empty.
fn mpop_first(ctx: &mut Ctx, args: &MpopArgs) -> Result<bool, Error> {
    let cmd = ctx.cmd;
    for i in args.keys.clone() {
        let key = cmd.arg(i);
        let Some(list) = ctx.keys.write_list(key)? else {
            continue;
        };
        if list.is_empty() {
            continue;
        }
        ctx.out.array(2);
        ctx.out.bulk(key);
        let popped = pop_range(ctx.out, list, args.end, args.count);
        let now_empty = list.is_empty();
        after_pop(ctx, key, now_empty, popped, args.end.pop_event());
        let command = args.end.pop_command().to_vec();
        let count = popped.to_string().into_bytes();
        ctx.keys.propagate_as(vec![command, key.to_vec(), count]);
        return Ok(true);
    }
    Ok(false)
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub fn lmpop(ctx: &mut Ctx) -> CmdResult {
    let args = parse_mpop(ctx, 1)?;
    if !mpop_first(ctx, &args)? {
        ctx.out.null_array();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Reads.
// ---------------------------------------------------------------------------------

pub fn llen(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.cmd.arg(1);
    let len = ctx.keys.read_list(key)?.map_or(0, |l| l.len());
    ctx.out.integer(len as i64);
    Ok(())
}

/// LINDEX key index: the key is looked up before the index is parsed, as in Redis.
pub fn lindex(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let Some(list) = ctx.keys.read_list(cmd.arg(1))? else {
        ctx.out.null();
        return Ok(());
    };
    let index = parse_i64(cmd.arg(2)).ok_or(Error::NotInteger)?;
    match list.get_signed(index) {
        Some(elem) => reply_elem(ctx.out, elem),
        None => ctx.out.null(),
    }
    Ok(())
}

/// Redis's reading of an inclusive range `start..=end` (negative from the tail) over
/// `len` elements: the first index and the count, or `None` when empty.
fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    let end = end.min(len - 1);
    Some((start as usize, (end - start + 1) as usize))
}

pub fn lrange(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let start = parse_i64(cmd.arg(2)).ok_or(Error::NotInteger)?;
    let end = parse_i64(cmd.arg(3)).ok_or(Error::NotInteger)?;
    let Some(list) = ctx.keys.read_list(cmd.arg(1))? else {
        ctx.out.array(0);
        return Ok(());
    };
    let Some((first, count)) = clamp_range(start, end, list.len()) else {
        ctx.out.array(0);
        return Ok(());
    };
    ctx.out.array(count);
    for elem in list.iter_from(first).take(count) {
        reply_elem(ctx.out, elem);
    }
    Ok(())
}

/// LPOS's options.
struct LposArgs {
    /// Which match to start from: negative searches from the tail.
    rank: i64,
    /// COUNT: `None` when not given (single reply), 0 for all matches.
    count: Option<i64>,
    /// MAXLEN: elements to compare at most, 0 for all.
    maxlen: i64,
}

fn parse_lpos(ctx: &Ctx) -> Result<LposArgs, Error> {
    let cmd = ctx.cmd;
    let mut args = LposArgs {
        rank: 1,
        count: None,
        maxlen: 0,
    };
    let mut j = 3;
    while j < cmd.len() {
        let (opt, more) = (cmd.arg(j), j + 1 < cmd.len());
        if more && is_word(opt, "RANK") {
            args.rank = parse_i64(cmd.arg(j + 1)).ok_or(Error::NotInteger)?;
            if args.rank == 0 {
                return Err(Error::err(
                    "RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list",
                ));
            }
        } else if more && is_word(opt, "COUNT") {
            args.count = Some(parse_non_negative(
                cmd.arg(j + 1),
                "COUNT can't be negative",
            )?);
        } else if more && is_word(opt, "MAXLEN") {
            args.maxlen = parse_non_negative(cmd.arg(j + 1), "MAXLEN can't be negative")?;
        } else {
            return Err(Error::Syntax);
        }
        j += 2;
    }
    Ok(args)
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
pub fn lpos(ctx: &mut Ctx) -> CmdResult {
    let args = parse_lpos(ctx)?;
    let cmd = ctx.cmd;
    let Some(list) = ctx.keys.read_list(cmd.arg(1))? else {
        match args.count {
            Some(_) => ctx.out.array(0),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let needle = Needle::new(cmd.arg(2));
    let from_tail = args.rank < 0;
    // Redis negates the rank in C `long` arithmetic: LONG_MIN stays negative, which
    // makes every match qualify and COUNT never end the search. Wrapping keeps that.
    let rank = if from_tail {
        args.rank.wrapping_neg()
    } else {
        args.rank
    };
    let len = list.len();
    let elements: Box<dyn Iterator<Item = Elem>> = if from_tail {
        Box::new(list.iter().rev())
    } else {
        Box::new(list.iter())
    };
    let position = |index: usize| if from_tail { len - 1 - index } else { index };
    let limit = if args.maxlen == 0 {
        usize::MAX
    } else {
        args.maxlen as usize
    };
    let mut matches: i64 = 0;
    let start = ctx.out.begin_deferred();
    let mut found = 0;
    for (index, elem) in elements.enumerate().take(limit) {
        if !elem.matches(&needle) {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        let Some(count) = args.count else {
            ctx.out.integer(position(index) as i64);
            return Ok(());
        };
        ctx.out.integer(position(index) as i64);
        found += 1;
        if count != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= count {
            break;
        }
    }
    match args.count {
        Some(_) => ctx.out.end_deferred(start, b'*', found),
        None => ctx.out.null(),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Writes in place.
// ---------------------------------------------------------------------------------

/// LSET key index element: the key is looked up before the index is parsed.
pub fn lset(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let key = cmd.arg(1);
    let list = ctx.keys.write_list(key)?.ok_or(Error::NoSuchKey)?;
    let index = parse_i64(cmd.arg(2)).ok_or(Error::NotInteger)?;
    let replaced = list
        .resolve(index)
        .is_some_and(|i| list.replace(i, cmd.arg(3)));
    if !replaced {
        return Err(Error::err("index out of range"));
    }
    ctx.out.ok();
    changed(ctx, key, 1);
    ctx.notify(notify::LIST, "lset", key);
    Ok(())
}

/// LINSERT key BEFORE|AFTER pivot element: the list's new length, -1 without the
/// pivot, 0 without the key.
pub fn linsert(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let after = if is_word(cmd.arg(2), "after") {
        true
    } else if is_word(cmd.arg(2), "before") {
        false
    } else {
        return Err(Error::Syntax);
    };
    let key = cmd.arg(1);
    let Some(list) = ctx.keys.write_list(key)? else {
        ctx.out.integer(0);
        return Ok(());
    };
    let pivot = Needle::new(cmd.arg(3));
    let Some(at) = list.iter().position(|e| e.matches(&pivot)) else {
        ctx.out.integer(-1);
        return Ok(());
    };
    list.insert(at + usize::from(after), cmd.arg(4));
    ctx.out.integer(list.len() as i64);
    changed(ctx, key, 1);
    ctx.notify(notify::LIST, "linsert", key);
    Ok(())
}

/// LREM key count element: removes `count` matches from the head (negative: from the
/// tail; 0: all).
pub fn lrem(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let count = parse_i64(cmd.arg(2)).ok_or(Error::NotInteger)?;
    let key = cmd.arg(1);
    let Some(list) = ctx.keys.write_list(key)? else {
        ctx.out.integer(0);
        return Ok(());
    };
    let limit = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let removed = list.remove_matching(&Needle::new(cmd.arg(3)), limit, count < 0);
    let now_empty = list.is_empty();
    ctx.out.integer(removed as i64);
    if removed > 0 {
        after_pop(ctx, key, now_empty, removed, "lrem");
    }
    Ok(())
}

/// LTRIM key start stop: keeps only the range (Redis's range rules); an empty range
/// deletes the key.
pub fn ltrim(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let start = parse_i64(cmd.arg(2)).ok_or(Error::NotInteger)?;
    let end = parse_i64(cmd.arg(3)).ok_or(Error::NotInteger)?;
    let key = cmd.arg(1);
    let Some(list) = ctx.keys.write_list(key)? else {
        ctx.out.ok();
        return Ok(());
    };
    let len = list.len();
    let (front, back) = match clamp_range(start, end, len) {
        Some((first, count)) => (first, len - first - count),
        None => (len, 0),
    };
    list.drop_front(front);
    list.drop_back(back);
    let now_empty = list.is_empty();
    // Redis signals the key as modified even when nothing was trimmed.
    after_pop(ctx, key, now_empty, front + back, "ltrim");
    ctx.out.ok();
    Ok(())
}

// ---------------------------------------------------------------------------------
// Moves.
// ---------------------------------------------------------------------------------

/// Pops from `src` at `from` and pushes to `dst` at `to`, replying with the element;
/// a null bulk when `src` is missing. The destination's type is checked before
/// anything moves. Returns whether an element moved.
fn move_one(ctx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End) -> Result<bool, Error> {
    if ctx.keys.write_list(src)?.is_none_or(|l| l.is_empty()) {
        ctx.out.null();
        return Ok(false);
    }
    ctx.keys.write_list(dst)?;
    let Some(value) = ctx.keys.write_list(src)?.and_then(|l| pop_at(l, from)) else {
        ctx.out.null();
        return Ok(false);
    };
    match ctx.keys.write_list(dst)? {
        Some(list) => {
            push_at(list, to, &value);
            ctx.keys.modified(dst);
        }
        None => {
            let mut list = ListValue::new(list_fill(ctx));
            push_at(&mut list, to, &value);
            ctx.keys.set(dst, Value::List(list), NO_EXPIRE);
        }
    }
    // Redis publishes the push on the destination before the pop on the source.
    ctx.notify(notify::LIST, to.push_event(), dst);
    if src != dst {
        let now_empty = ctx.keys.write_list(src)?.is_some_and(|l| l.is_empty());
        after_pop(ctx, src, now_empty, 1, from.pop_event());
    } else {
        ctx.notify(notify::LIST, from.pop_event(), src);
    }
    ctx.out.bulk(&value);
    Ok(true)
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
pub fn lmove(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let from = parse_end(cmd.arg(3))?;
    let to = parse_end(cmd.arg(4))?;
    move_one(ctx, cmd.arg(1), cmd.arg(2), from, to).map(drop)
}

/// RPOPLPUSH source destination: LMOVE source destination RIGHT LEFT.
pub fn rpoplpush(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    move_one(ctx, cmd.arg(1), cmd.arg(2), End::Tail, End::Head).map(drop)
}

// ---------------------------------------------------------------------------------
// Blocking forms.
// ---------------------------------------------------------------------------------

/// BLPOP/BRPOP key [key ...] timeout: `[key, element]` from the first non-empty list,
/// else the client blocks on all the keys.
fn blocking_pop(ctx: &mut Ctx, end: End) -> CmdResult {
    let cmd = ctx.cmd;
    let timeout_at = cmd.len() - 1;
    let deadline = blocking::parse_timeout(ctx, timeout_at)?;
    for i in 1..timeout_at {
        let key = cmd.arg(i);
        let Some(list) = ctx.keys.write_list(key)? else {
            continue;
        };
        let Some(value) = pop_at(list, end) else {
            continue;
        };
        let now_empty = list.is_empty();
        ctx.out.array(2);
        ctx.out.bulk(key);
        ctx.out.bulk(&value);
        after_pop(ctx, key, now_empty, 1, end.pop_event());
        ctx.keys
            .propagate_as(vec![end.pop_command().to_vec(), key.to_vec()]);
        return Ok(());
    }
    let keys = (1..timeout_at)
        .map(|i| Key::from_slice(cmd.arg(i)))
        .collect();
    blocking::block(ctx, keys, deadline, OnTimeout::NullArray)
}

pub fn blpop(ctx: &mut Ctx) -> CmdResult {
    blocking_pop(ctx, End::Head)
}

pub fn brpop(ctx: &mut Ctx) -> CmdResult {
    blocking_pop(ctx, End::Tail)
}

/// BLMOVE and BRPOPLPUSH once their arguments are parsed: moves if the source has an
/// element, else blocks on the source. `effect` is the non-blocking command to
/// propagate (as sent, minus the timeout).
fn blocking_move(
    ctx: &mut Ctx,
    (from, to): (End, End),
    deadline: Option<i64>,
    effect: Vec<Vec<u8>>,
) -> CmdResult {
    let cmd = ctx.cmd;
    let (src, dst) = (cmd.arg(1), cmd.arg(2));
    if ctx.keys.write_list(src)?.is_none() {
        let keys = vec![Key::from_slice(src)];
        return blocking::block(ctx, keys, deadline, OnTimeout::NullBulk);
    }
    if move_one(ctx, src, dst, from, to)? {
        ctx.keys.propagate_as(effect);
    }
    Ok(())
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
pub fn blmove(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let from = parse_end(cmd.arg(3))?;
    let to = parse_end(cmd.arg(4))?;
    let deadline = blocking::parse_timeout(ctx, 5)?;
    let mut effect = vec![b"LMOVE".to_vec()];
    effect.extend((1..=4).map(|i| cmd.arg(i).to_vec()));
    blocking_move(ctx, (from, to), deadline, effect)
}

/// BRPOPLPUSH source destination timeout
pub fn brpoplpush(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let deadline = blocking::parse_timeout(ctx, 3)?;
    let effect = vec![
        b"RPOPLPUSH".to_vec(),
        cmd.arg(1).to_vec(),
        cmd.arg(2).to_vec(),
    ];
    blocking_move(ctx, (End::Tail, End::Head), deadline, effect)
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]: the arguments after
/// the timeout are checked first, as in Redis.
pub fn blmpop(ctx: &mut Ctx) -> CmdResult {
    let args = parse_mpop(ctx, 2)?;
    let deadline = blocking::parse_timeout(ctx, 1)?;
    if mpop_first(ctx, &args)? {
        return Ok(());
    }
    let cmd = ctx.cmd;
    let keys = args.keys.map(|i| Key::from_slice(cmd.arg(i))).collect();
    blocking::block(ctx, keys, deadline, OnTimeout::NullArray)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ranges follow Redis: negatives from the tail, clamped, empty when inverted.
    #[test]
    fn ranges_clamp_as_redis() {
        assert_eq!(clamp_range(0, -1, 5), Some((0, 5)));
        assert_eq!(clamp_range(-100, 100, 5), Some((0, 5)));
        assert_eq!(clamp_range(2, 1, 5), None);
        assert_eq!(clamp_range(5, 10, 5), None);
        assert_eq!(clamp_range(-2, -1, 5), Some((3, 2)));
        assert_eq!(clamp_range(0, -6, 5), None);
        assert_eq!(clamp_range(i64::MIN, i64::MAX, 5), Some((0, 5)));
        assert_eq!(clamp_range(0, 0, 0), None);
    }
}
