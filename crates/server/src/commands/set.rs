//! Sets: membership, random members, set algebra, SSCAN.
//!
//! Handlers parse in Redis's order, then work on `SetValue` (`store/src/set.rs`), which
//! owns the intset/hashtable rules. Set algebra looks every key up first (so WRONGTYPE
//! on any key wins over a missing one, as in Redis) and then reads the sets one at a
//! time, carrying owned candidates between them: the locked keyspace hands out one
//! borrow at a time, and a copy of the smallest set is what Redis's reply costs anyway.
//! STORE results are built by adding members one by one, as Redis does, so they get the
//! encoding Redis would give them.

use std::cell::RefCell;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use lodestone_resp::ReplyWriter;
use lodestone_store::set::Member;
use lodestone_store::{Entry, SetValue, Value, NO_EXPIRE};
use lodestone_util::number::parse_i64;

use super::hash::{write_empty_scan, ScanOptions};
use super::scan::parse_cursor;
use crate::client::ClientState;
use crate::ctx::{Ctx, KeyAccess};
use crate::errors::{CmdResult, Error};
use crate::notify;

thread_local! {
    /// Random picks need speed, not secrecy: one small, fast generator per thread,
    /// seeded once from the OS.
    static RNG: RefCell<SmallRng> = RefCell::new(SmallRng::from_entropy());
}

/// Runs `f` with this thread's random generator.
pub(crate) fn with_rng<T>(f: impl FnOnce(&mut SmallRng) -> T) -> T {
    RNG.with(|rng| f(&mut rng.borrow_mut()))
}

/// A reply of random picks with repeats (negative counts) can be asked to be any size.
/// Redis streams it until the client's output buffer limit closes the connection; we
/// do the same at this size, so no client can make the server allocate without bound.
const RANDOM_REPLY_MAX_BYTES: usize = 128 << 20;

/// Where a reply of random picks started in the output buffer.
pub(crate) struct RandomBudget {
    start: usize,
}

impl RandomBudget {
    pub fn new(out: &ReplyWriter) -> RandomBudget {
        RandomBudget {
            start: out.begin_deferred(),
        }
    }
}

/// Whether the reply is still within bounds. When it is not, the partial reply is
/// dropped and the client will be disconnected (as by an output buffer limit).
pub(crate) fn random_reply_fits(
    budget: &mut RandomBudget,
    out: &mut ReplyWriter,
    client: &mut ClientState,
) -> bool {
    if out.buf.len() - budget.start <= RANDOM_REPLY_MAX_BYTES {
        return true;
    }
    out.buf.truncate(budget.start);
    client.close_after_reply = true;
    false
}

fn write_member(out: &mut ReplyWriter, member: Member) {
    match member {
        Member::Int(n) => out.bulk_integer(n),
        Member::Bytes(b) => out.bulk(b),
    }
}

/// The set stored at `key`, read without any bookkeeping: for the second pass of set
/// algebra, after the first pass has looked every key up (and expired what had to be).
fn stored_set<'k>(keys: &'k mut KeyAccess, key: &[u8]) -> Option<&'k SetValue> {
    match keys.raw_db(key).get(key) {
        Some(Entry {
            value: Value::Set(set),
            ..
        }) => Some(set),
        _ => None,
    }
}

/// SADD key member [member ...]: how many were new.
pub fn sadd(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let key = cmd.arg(1);
    let limits = ctx.server.config.hot.encoding_limits();
    let members = (2..cmd.len()).map(|i| cmd.arg(i));
    let added = match ctx.keys.write_set(key)? {
        Some(set) => {
            let added = members.filter(|m| set.add(m, &limits)).count();
            if added > 0 {
                ctx.keys.modified(key);
            }
            added
        }
        None => {
            let set = SetValue::from_members(members, &limits);
            let added = set.len();
            ctx.keys.set(key, Value::Set(set), NO_EXPIRE);
            added
        }
    };
    ctx.keys.dirty += (added as u64).saturating_sub(1);
    if added > 0 {
        ctx.notify(notify::SET, "sadd", key);
    }
    ctx.out.integer(added as i64);
    Ok(())
}

/// SREM key member [member ...]: how many were removed; the key goes with its last one.
pub fn srem(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let key = cmd.arg(1);
    let Some(set) = ctx.keys.write_set(key)? else {
        ctx.out.integer(0);
        return Ok(());
    };
    let mut deleted = 0u64;
    for i in 2..cmd.len() {
        if set.remove(cmd.arg(i)) {
            deleted += 1;
            if set.is_empty() {
                break;
            }
        }
    }
    let emptied = set.is_empty();
    if deleted > 0 {
        ctx.keys.modified(key);
        ctx.keys.dirty += deleted - 1;
        ctx.notify(notify::SET, "srem", key);
    }
    if emptied {
        remove_emptied(ctx, key);
    }
    ctx.out.integer(deleted as i64);
    Ok(())
}

/// Deletes a key whose collection just became empty: part of the change already
/// counted, not another one (but its own `del` event).
fn remove_emptied(ctx: &mut Ctx, key: &[u8]) {
    if ctx.keys.remove(key) {
        ctx.keys.dirty -= 1;
        ctx.notify(notify::GENERIC, "del", key);
    }
}

pub fn scard(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let len = ctx.keys.read_set(cmd.arg(1))?.map_or(0, |s| s.len());
    ctx.out.integer(len as i64);
    Ok(())
}

pub fn sismember(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let set = ctx.keys.read_set(cmd.arg(1))?;
    let found = set.is_some_and(|s| s.contains(cmd.arg(2)));
    ctx.out.integer(i64::from(found));
    Ok(())
}

/// SMISMEMBER key member [member ...]: 1 or 0 per member (zeros for a missing key).
pub fn smismember(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let set = ctx.keys.read_set(cmd.arg(1))?;
    ctx.out.array(cmd.len() - 2);
    for i in 2..cmd.len() {
        let found = set.as_ref().is_some_and(|s| s.contains(cmd.arg(i)));
        ctx.out.integer(i64::from(found));
    }
    Ok(())
}

/// SMEMBERS key: a RESP3 set, ascending for an intset.
pub fn smembers(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let set = ctx.keys.read_set(cmd.arg(1))?;
    ctx.out.set(set.as_ref().map_or(0, |s| s.len()));
    for member in set.iter().flat_map(|s| s.iter()) {
        write_member(ctx.out, member);
    }
    Ok(())
}

/// SMOVE source destination member
pub fn smove(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let (src, dst, member) = (cmd.arg(1), cmd.arg(2), cmd.arg(3));
    let src_found = ctx.keys.write_set(src).map(|s| s.is_some());
    let dst_checked = ctx.keys.write_set(dst).map(|_| ());
    // A missing source answers 0 before any type is checked, as in Redis.
    if !src_found? {
        ctx.out.integer(0);
        return Ok(());
    }
    dst_checked?;
    if src == dst {
        let found = ctx.keys.write_set(src)?.is_some_and(|s| s.contains(member));
        ctx.out.integer(i64::from(found));
        return Ok(());
    }
    let Some(set) = ctx.keys.write_set(src)? else {
        ctx.out.integer(0);
        return Ok(());
    };
    if !set.remove(member) {
        ctx.out.integer(0);
        return Ok(());
    }
    let emptied = set.is_empty();
    ctx.keys.modified(src);
    ctx.notify(notify::SET, "srem", src);
    if emptied {
        remove_emptied(ctx, src);
    }
    let limits = ctx.server.config.hot.encoding_limits();
    match ctx.keys.write_set(dst)? {
        Some(set) => {
            if set.add(member, &limits) {
                ctx.keys.modified(dst);
                ctx.notify(notify::SET, "sadd", dst);
            }
        }
        None => {
            let set = SetValue::from_members([member], &limits);
            ctx.keys.set(dst, Value::Set(set), NO_EXPIRE);
            ctx.notify(notify::SET, "sadd", dst);
        }
    }
    ctx.out.integer(1);
    Ok(())
}

/// Parses a random-pick count as Redis (any long but LONG_MIN, so it can be negated).
fn parse_random_count(arg: &[u8]) -> Result<i64, Error> {
    let count = parse_i64(arg).ok_or(Error::NotInteger)?;
    if count == i64::MIN {
        return Err(Error::err(
            "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    Ok(count)
}

/// SRANDMEMBER key [count]
pub fn srandmember(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    if cmd.len() > 3 {
        return Err(Error::Syntax);
    }
    if cmd.len() == 3 {
        let count = parse_random_count(cmd.arg(2))?;
        return random_members(ctx, count);
    }
    let Some(set) = ctx.keys.read_set(cmd.arg(1))?.filter(|s| !s.is_empty()) else {
        ctx.out.null();
        return Ok(());
    };
    let pick = with_rng(|rng| rng.gen_range(0..set.len()));
    match set.get(pick) {
        Some(member) => write_member(ctx.out, member),
        None => ctx.out.null(),
    }
    Ok(())
}

/// SRANDMEMBER with a count: negative allows repeats, positive gives distinct members
/// (the whole set in its own order when the count covers it).
fn random_members(ctx: &mut Ctx, count: i64) -> CmdResult {
    let cmd = ctx.cmd;
    let set = ctx.keys.read_set(cmd.arg(1))?;
    let Some(set) = set.filter(|s| count != 0 && !s.is_empty()) else {
        ctx.out.array(0);
        return Ok(());
    };
    let size = set.len();
    let wanted = count.unsigned_abs();
    if count < 0 || wanted == 1 {
        let wanted = usize::try_from(wanted).unwrap_or(usize::MAX);
        let mut budget = RandomBudget::new(ctx.out);
        ctx.out.array(wanted);
        with_rng(|rng| {
            for _ in 0..wanted {
                if let Some(member) = set.get(rng.gen_range(0..size)) {
                    write_member(ctx.out, member);
                }
                if !random_reply_fits(&mut budget, ctx.out, ctx.client) {
                    break;
                }
            }
        });
        return Ok(());
    }
    if wanted >= size as u64 {
        ctx.out.array(size);
        for member in set.iter() {
            write_member(ctx.out, member);
        }
        return Ok(());
    }
    let picks = with_rng(|rng| rand::seq::index::sample(rng, size, wanted as usize));
    ctx.out.array(picks.len());
    for pick in picks {
        if let Some(member) = set.get(pick) {
            write_member(ctx.out, member);
        }
    }
    Ok(())
}

/// SPOP key [count]. Propagates as SREM of each member removed, or as DEL when the
/// count took the whole set (what Redis 7.0 feeds its replicas and AOF).
pub fn spop(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    if cmd.len() > 3 {
        return Err(Error::Syntax);
    }
    if cmd.len() == 3 {
        let count = parse_i64(cmd.arg(2))
            .filter(|&c| c >= 0)
            .ok_or(Error::OutOfRangePositive)?;
        return pop_members(ctx, count as u64);
    }
    let key = cmd.arg(1);
    let Some(set) = ctx.keys.write_set(key)?.filter(|s| !s.is_empty()) else {
        ctx.out.null();
        ctx.keys.propagate_none();
        return Ok(());
    };
    let pick = with_rng(|rng| rng.gen_range(0..set.len()));
    let Some(member) = set.take(pick) else {
        ctx.out.null();
        return Ok(());
    };
    let emptied = set.is_empty();
    ctx.keys.modified(key);
    ctx.notify(notify::SET, "spop", key);
    if emptied {
        remove_emptied(ctx, key);
    }
    ctx.keys
        .propagate_as(vec![b"SREM".to_vec(), key.to_vec(), member.clone()]);
    ctx.out.bulk(&member);
    Ok(())
}

/// Above this ratio of popped to remaining members, SPOP rebuilds the set from the
/// members it keeps instead of taking members out one by one (Redis's strategy, which
/// also decides the rebuilt set's encoding).
const SPOP_REBUILD_RATIO: u64 = 5;

/// SPOP with a count: a RESP3 set of distinct members.
fn pop_members(ctx: &mut Ctx, count: u64) -> CmdResult {
    let cmd = ctx.cmd;
    let key = cmd.arg(1);
    let limits = ctx.server.config.hot.encoding_limits();
    let Some(set) = ctx.keys.write_set(key)? else {
        ctx.out.set(0);
        ctx.keys.propagate_none();
        return Ok(());
    };
    if count == 0 {
        ctx.out.set(0);
        ctx.keys.propagate_none();
        return Ok(());
    }
    let size = set.len();
    if count >= size as u64 {
        ctx.out.set(size);
        for member in set.iter() {
            write_member(ctx.out, member);
        }
        ctx.notify(notify::SET, "spop", key);
        ctx.keys.remove(key);
        ctx.notify(notify::GENERIC, "del", key);
        ctx.keys.dirty += size as u64 - 1;
        ctx.keys.propagate_as(vec![b"DEL".to_vec(), key.to_vec()]);
        return Ok(());
    }
    let remaining = size - count as usize;
    let popped = if remaining as u64 * SPOP_REBUILD_RATIO > count {
        take_random(set, count as usize)
    } else {
        keep_random(set, remaining, &limits)
    };
    ctx.out.set(popped.len());
    for member in &popped {
        ctx.out.bulk(member);
    }
    ctx.keys.modified(key);
    ctx.keys.dirty += popped.len() as u64 - 1;
    ctx.notify(notify::SET, "spop", key);
    for member in popped {
        ctx.keys
            .propagate_as(vec![b"SREM".to_vec(), key.to_vec(), member]);
    }
    Ok(())
}

/// Takes `count` random members out of `set`, one at a time.
fn take_random(set: &mut SetValue, count: usize) -> Vec<Vec<u8>> {
    with_rng(|rng| {
        (0..count)
            .filter_map(|_| set.take(rng.gen_range(0..set.len())))
            .collect()
    })
}

/// Keeps `remaining` random members in a set rebuilt from them, and returns the others
/// in the old set's order.
fn keep_random(
    set: &mut SetValue,
    remaining: usize,
    limits: &lodestone_store::EncodingLimits,
) -> Vec<Vec<u8>> {
    let kept = with_rng(|rng| rand::seq::index::sample(rng, set.len(), remaining));
    let mut keep = vec![false; set.len()];
    for index in kept.iter() {
        keep[index] = true;
    }
    let kept_members: Vec<Vec<u8>> = kept
        .iter()
        .filter_map(|i| set.get(i).map(|m| m.to_vec()))
        .collect();
    let popped = set
        .iter()
        .zip(&keep)
        .filter(|(_, &kept)| !kept)
        .map(|(m, _)| m.to_vec())
        .collect();
    *set = SetValue::from_members(kept_members.iter().map(|m| &m[..]), limits);
    popped
}

// ---------------------------------------------------------------------------------
// Set algebra.
// ---------------------------------------------------------------------------------

/// Looks every key up in order as a read (WRONGTYPE for any of them wins, as Redis
/// checks them all before computing). Returns each set's size, `None` when missing.
fn set_sizes(ctx: &mut Ctx, keys: &[&[u8]]) -> Result<Vec<Option<usize>>, Error> {
    keys.iter()
        .map(|key| Ok(ctx.keys.read_set(key)?.map(|s| s.len())))
        .collect()
}

/// The intersection of `keys`' sets, in the order of the smallest set (Redis iterates
/// that one and probes the others). Empty when any key is missing.
fn intersection(ctx: &mut Ctx, keys: &[&[u8]]) -> Result<Vec<Vec<u8>>, Error> {
    let sizes = set_sizes(ctx, keys)?;
    if sizes.iter().any(Option::is_none) {
        return Ok(Vec::new());
    }
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| sizes[i]);
    let first = keys[order[0]];
    let mut candidates: Vec<Vec<u8>> = match stored_set(ctx.keys, first) {
        Some(set) => set.iter().map(|m| m.to_vec()).collect(),
        None => return Ok(Vec::new()),
    };
    for &i in &order[1..] {
        if candidates.is_empty() {
            break;
        }
        if keys[i] == first {
            continue;
        }
        match stored_set(ctx.keys, keys[i]) {
            Some(set) => candidates.retain(|m| set.contains(m)),
            None => candidates.clear(),
        }
    }
    Ok(candidates)
}

/// The union of `keys`' sets (missing keys are empty), built as Redis builds it.
fn union(ctx: &mut Ctx, keys: &[&[u8]]) -> Result<SetValue, Error> {
    set_sizes(ctx, keys)?;
    let limits = ctx.server.config.hot.encoding_limits();
    let mut result = SetValue::new();
    for key in keys {
        if let Some(set) = stored_set(ctx.keys, key) {
            for member in set.iter() {
                result.add(&member.to_bytes(), &limits);
            }
        }
    }
    Ok(result)
}

/// The first set minus the others, with Redis's choice between its two algorithms:
/// the choice decides the result's encoding (the second adds the whole first set
/// before removing, so it may convert where the first would not).
fn difference(ctx: &mut Ctx, keys: &[&[u8]]) -> Result<SetValue, Error> {
    let sizes = set_sizes(ctx, keys)?;
    let limits = ctx.server.config.hot.encoding_limits();
    let Some(first_size) = sizes[0] else {
        return Ok(SetValue::new());
    };
    if keys[1..].contains(&keys[0]) {
        return Ok(SetValue::new());
    }
    let existing = sizes.iter().flatten();
    let subtract_work = existing.clone().count() * first_size / 2;
    let rebuild_work: usize = existing.sum();
    let first: Vec<Vec<u8>> = stored_set(ctx.keys, keys[0])
        .map(|s| s.iter().map(|m| m.to_vec()).collect())
        .unwrap_or_default();
    if subtract_work <= rebuild_work {
        let mut survivors = first;
        for key in &keys[1..] {
            if let Some(set) = stored_set(ctx.keys, key) {
                survivors.retain(|m| !set.contains(m));
            }
        }
        return Ok(SetValue::from_members(
            survivors.iter().map(|m| &m[..]),
            &limits,
        ));
    }
    let mut result = SetValue::from_members(first.iter().map(|m| &m[..]), &limits);
    for key in &keys[1..] {
        if result.is_empty() {
            break;
        }
        if let Some(set) = stored_set(ctx.keys, key) {
            for member in set.iter() {
                result.remove(&member.to_bytes());
            }
        }
    }
    Ok(result)
}

/// The arguments from `from` on.
fn args_from<'c>(ctx: &Ctx<'c, '_>, from: usize) -> Vec<&'c [u8]> {
    (from..ctx.argc()).map(|i| ctx.arg(i)).collect()
}

fn write_set_reply(out: &mut ReplyWriter, set: &SetValue) {
    out.set(set.len());
    for member in set.iter() {
        write_member(out, member);
    }
}

/// Stores a computed set at `dst` (replacing any value and TTL) with the keyspace
/// event `event`, or deletes `dst` when the result is empty; replies with the result's
/// size.
fn store_result(ctx: &mut Ctx, dst: &[u8], result: SetValue, event: &'static str) {
    let len = result.len();
    if len == 0 {
        super::keyspace::delete_destination(ctx, dst);
    } else {
        ctx.keys.set(dst, Value::Set(result), NO_EXPIRE);
        ctx.notify(notify::SET, event, dst);
    }
    ctx.out.integer(len as i64);
}

pub fn sinter(ctx: &mut Ctx) -> CmdResult {
    let keys = args_from(ctx, 1);
    let members = intersection(ctx, &keys)?;
    ctx.out.set(members.len());
    for member in &members {
        ctx.out.bulk(member);
    }
    Ok(())
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn sintercard(ctx: &mut Ctx) -> CmdResult {
    let numkeys = parse_i64(ctx.arg(1))
        .filter(|&n| n >= 1)
        .ok_or_else(|| Error::err("numkeys should be greater than 0"))?;
    let available = ctx.argc() as i64 - 2;
    if numkeys > available {
        return Err(Error::err(
            "Number of keys can't be greater than number of args",
        ));
    }
    let keys_end = 2 + numkeys as usize;
    let mut limit = 0u64;
    let mut i = keys_end;
    while i < ctx.argc() {
        if super::string::is_word(ctx.arg(i), "limit") && i + 1 < ctx.argc() {
            limit = parse_i64(ctx.arg(i + 1))
                .filter(|&n| n >= 0)
                .ok_or_else(|| Error::err("LIMIT can't be negative"))? as u64;
            i += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    let keys: Vec<&[u8]> = (2..keys_end).map(|i| ctx.arg(i)).collect();
    let found = intersection(ctx, &keys)?.len() as u64;
    let count = if limit > 0 { found.min(limit) } else { found };
    ctx.out.integer(count as i64);
    Ok(())
}

pub fn sinterstore(ctx: &mut Ctx) -> CmdResult {
    let keys = args_from(ctx, 2);
    let members = intersection(ctx, &keys)?;
    let limits = ctx.server.config.hot.encoding_limits();
    let result = SetValue::from_members(members.iter().map(|m| &m[..]), &limits);
    store_result(ctx, ctx.arg(1), result, "sinterstore");
    Ok(())
}

pub fn sunion(ctx: &mut Ctx) -> CmdResult {
    let keys = args_from(ctx, 1);
    let result = union(ctx, &keys)?;
    write_set_reply(ctx.out, &result);
    Ok(())
}

pub fn sunionstore(ctx: &mut Ctx) -> CmdResult {
    let keys = args_from(ctx, 2);
    let result = union(ctx, &keys)?;
    store_result(ctx, ctx.arg(1), result, "sunionstore");
    Ok(())
}

pub fn sdiff(ctx: &mut Ctx) -> CmdResult {
    let keys = args_from(ctx, 1);
    let result = difference(ctx, &keys)?;
    write_set_reply(ctx.out, &result);
    Ok(())
}

pub fn sdiffstore(ctx: &mut Ctx) -> CmdResult {
    let keys = args_from(ctx, 2);
    let result = difference(ctx, &keys)?;
    store_result(ctx, ctx.arg(1), result, "sdiffstore");
    Ok(())
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
pub fn sscan(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let cursor = parse_cursor(cmd.arg(2)).ok_or_else(|| Error::err("invalid cursor"))?;
    let Some(set) = ctx.keys.read_set(cmd.arg(1))? else {
        write_empty_scan(ctx.out);
        return Ok(());
    };
    let options = ScanOptions::parse(cmd, 3)?;
    let (members, next) = set.scan(cursor, options.count);
    let kept: Vec<Member> = members
        .into_iter()
        .filter(|m| options.matches(&m.to_bytes()))
        .collect();
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(kept.len());
    for member in kept {
        write_member(ctx.out, member);
    }
    Ok(())
}
