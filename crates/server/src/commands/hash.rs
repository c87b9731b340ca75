//! Hashes: field reads and writes, counters, random fields, HSCAN.
//!
//! Handlers parse in Redis's order (so the same bad request gets the same error), then
//! work on a `HashValue` (`store/src/hash.rs`), which owns the encoding rules. A write to
//! a missing key builds the hash first and stores it only if the command succeeded and
//! left it non-empty, so a failed or empty write never leaves a key behind.

use lodestone_store::{HashValue, Value, NO_EXPIRE};
use lodestone_util::glob_match;
use lodestone_util::number::{incr_by_float, is_long_double, parse_f64, parse_i64, FloatIncrError};

use super::scan::parse_cursor;
use super::set::{random_reply_fits, with_rng, RandomBudget};
use super::string::is_word;
use crate::ctx::Ctx;
use crate::errors::{wrong_arity, CmdResult, Error};
use crate::notify;

/// Runs `change` on the hash at `key`, creating it when missing. `change` returns its
/// result and how many changes it made (Redis's dirty count); a new hash is stored only
/// when `change` succeeded and left it non-empty.
fn update_hash<'c, T>(
    ctx: &mut Ctx<'c, '_>,
    key: &[u8],
    change: impl FnOnce(&mut HashValue) -> Result<(T, u64), Error>,
) -> Result<T, Error> {
    match ctx.keys.write_hash(key)? {
        Some(hash) => {
            let (result, dirty) = change(hash)?;
            if dirty > 0 {
                ctx.keys.modified(key);
                ctx.keys.dirty += dirty - 1;
            }
            Ok(result)
        }
        None => {
            let mut hash = HashValue::new();
            let (result, dirty) = change(&mut hash)?;
            if !hash.is_empty() {
                ctx.keys.set(key, Value::Hash(hash), NO_EXPIRE);
                ctx.keys.dirty += dirty.saturating_sub(1);
            }
            Ok(result)
        }
    }
}

/// HSET key field value [field value ...]: the number of new fields.
pub fn hset(ctx: &mut Ctx) -> CmdResult {
    let created = set_pairs(ctx)?;
    ctx.out.integer(created as i64);
    Ok(())
}

/// HMSET key field value [field value ...]: HSET replying OK.
pub fn hmset(ctx: &mut Ctx) -> CmdResult {
    set_pairs(ctx)?;
    ctx.out.ok();
    Ok(())
}

/// The shared body of HSET and HMSET. Every pair counts as a change, as in Redis.
fn set_pairs(ctx: &mut Ctx) -> Result<usize, Error> {
    let cmd = ctx.cmd;
    if cmd.len() % 2 == 1 {
        return Err(Error::Text(wrong_arity(ctx.spec.name).into()));
    }
    let limits = ctx.server.config.hot.encoding_limits();
    let created = update_hash(ctx, cmd.arg(1), |hash| {
        let pairs = (2..cmd.len()).step_by(2);
        let created = pairs
            .clone()
            .filter(|&i| hash.set(cmd.arg(i), cmd.arg(i + 1), &limits))
            .count();
        Ok((created, pairs.len() as u64))
    })?;
    ctx.notify(notify::HASH, "hset", cmd.arg(1));
    Ok(created)
}

/// HSETNX key field value: 1 when set, 0 when the field existed.
pub fn hsetnx(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let limits = ctx.server.config.hot.encoding_limits();
    let (field, value) = (cmd.arg(2), cmd.arg(3));
    let set = update_hash(ctx, cmd.arg(1), |hash| {
        if hash.contains(field) {
            return Ok((false, 0));
        }
        hash.set(field, value, &limits);
        Ok((true, 1))
    })?;
    if set {
        ctx.notify(notify::HASH, "hset", cmd.arg(1));
    }
    ctx.out.integer(i64::from(set));
    Ok(())
}

pub fn hget(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    match ctx
        .keys
        .read_hash(cmd.arg(1))?
        .and_then(|h| h.get(cmd.arg(2)))
    {
        Some(value) => ctx.out.bulk(value),
        None => ctx.out.null(),
    }
    Ok(())
}

/// HMGET key field [field ...]: a value or null per field (all null for a missing key).
pub fn hmget(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let hash = ctx.keys.read_hash(cmd.arg(1))?;
    ctx.out.array(cmd.len() - 2);
    for i in 2..cmd.len() {
        match hash.as_ref().and_then(|h| h.get(cmd.arg(i))) {
            Some(value) => ctx.out.bulk(value),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// What HGETALL, HKEYS and HVALS return of each pair.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Fields,
    Values,
    Both,
}

fn get_all(ctx: &mut Ctx, part: Part) -> CmdResult {
    let cmd = ctx.cmd;
    let hash = ctx.keys.read_hash(cmd.arg(1))?;
    let len = hash.as_ref().map_or(0, |h| h.len());
    // HGETALL is a map (RESP3 `%`), the others flat arrays.
    if part == Part::Both {
        ctx.out.map(len);
    } else {
        ctx.out.array(len);
    }
    for (field, value) in hash.iter().flat_map(|h| h.iter()) {
        if part != Part::Values {
            ctx.out.bulk(field);
        }
        if part != Part::Fields {
            ctx.out.bulk(value);
        }
    }
    Ok(())
}

pub fn hgetall(ctx: &mut Ctx) -> CmdResult {
    get_all(ctx, Part::Both)
}

pub fn hkeys(ctx: &mut Ctx) -> CmdResult {
    get_all(ctx, Part::Fields)
}

pub fn hvals(ctx: &mut Ctx) -> CmdResult {
    get_all(ctx, Part::Values)
}

/// HDEL key field [field ...]: how many were removed; the key goes with its last field.
pub fn hdel(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let key = cmd.arg(1);
    let Some(hash) = ctx.keys.write_hash(key)? else {
        ctx.out.integer(0);
        return Ok(());
    };
    let mut deleted = 0;
    for i in 2..cmd.len() {
        if hash.remove(cmd.arg(i)) {
            deleted += 1;
            if hash.is_empty() {
                break;
            }
        }
    }
    let emptied = hash.is_empty();
    if deleted > 0 {
        ctx.keys.modified(key);
        ctx.keys.dirty += deleted - 1;
    }
    if deleted > 0 {
        ctx.notify(notify::HASH, "hdel", key);
    }
    // The removal is part of this change, not another one.
    if emptied && ctx.keys.remove(key) {
        ctx.keys.dirty -= 1;
        ctx.notify(notify::GENERIC, "del", key);
    }
    ctx.out.integer(deleted as i64);
    Ok(())
}

pub fn hlen(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let len = ctx.keys.read_hash(cmd.arg(1))?.map_or(0, |h| h.len());
    ctx.out.integer(len as i64);
    Ok(())
}

pub fn hstrlen(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let hash = ctx.keys.read_hash(cmd.arg(1))?;
    let len = hash.and_then(|h| h.get(cmd.arg(2))).map_or(0, |v| v.len());
    ctx.out.integer(len as i64);
    Ok(())
}

pub fn hexists(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let hash = ctx.keys.read_hash(cmd.arg(1))?;
    let exists = hash.is_some_and(|h| h.contains(cmd.arg(2)));
    ctx.out.integer(i64::from(exists));
    Ok(())
}

/// HINCRBY key field increment.
pub fn hincrby(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let increment = ctx.arg_i64(3)?;
    let limits = ctx.server.config.hot.encoding_limits();
    let field = cmd.arg(2);
    let value = update_hash(ctx, cmd.arg(1), |hash| {
        let current = match hash.get(field) {
            Some(text) => {
                parse_i64(text).ok_or_else(|| Error::err("hash value is not an integer"))?
            }
            None => 0,
        };
        let value = current.checked_add(increment).ok_or(Error::Overflow)?;
        hash.set(field, value.to_string().as_bytes(), &limits);
        Ok((value, 1))
    })?;
    ctx.notify(notify::HASH, "hincrby", cmd.arg(1));
    ctx.out.integer(value);
    Ok(())
}

/// HINCRBYFLOAT key field increment, in `long double` as Redis. Propagates as HSET of
/// the result, so replicas and the AOF never redo the arithmetic.
pub fn hincrbyfloat(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let (key, field, increment) = (cmd.arg(1), cmd.arg(2), cmd.arg(3));
    if !is_long_double(increment) {
        return Err(Error::NotFloat);
    }
    // Only the words inf/infinity parse to an infinite long double (overflow is refused).
    if parse_f64(increment).is_some_and(f64::is_infinite) {
        return Err(Error::err("value is NaN or Infinity"));
    }
    let limits = ctx.server.config.hot.encoding_limits();
    let result = update_hash(ctx, key, |hash| {
        let result = incr_by_float(hash.get(field), increment).map_err(|e| match e {
            FloatIncrError::NotAFloat => Error::err("hash value is not a float"),
            FloatIncrError::BadIncrement => Error::NotFloat,
            FloatIncrError::NanOrInfinity => Error::NanOrInfinity,
        })?;
        hash.set(field, &result, &limits);
        Ok((result, 1))
    })?;
    ctx.notify(notify::HASH, "hincrbyfloat", key);
    ctx.keys.propagate_as(vec![
        b"HSET".to_vec(),
        key.to_vec(),
        field.to_vec(),
        result.clone(),
    ]);
    ctx.out.bulk(&result);
    Ok(())
}

/// HRANDFIELD key [count [WITHVALUES]]
pub fn hrandfield(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    if cmd.len() >= 3 {
        let count = parse_i64(cmd.arg(2)).ok_or(Error::NotInteger)?;
        if count == i64::MIN {
            return Err(Error::err(
                "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ));
        }
        let with_values = cmd.len() == 4;
        if cmd.len() > 4 || with_values && !is_word(cmd.arg(3), "withvalues") {
            return Err(Error::Syntax);
        }
        // Redis keeps 2 * count representable when values double the reply.
        if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
            return Err(Error::err("value is out of range"));
        }
        return random_fields(ctx, count, with_values);
    }
    let Some(hash) = ctx.keys.read_hash(cmd.arg(1))?.filter(|h| !h.is_empty()) else {
        ctx.out.null();
        return Ok(());
    };
    let sampler = hash.sampler();
    let pick = with_rng(|rng| rand::Rng::gen_range(rng, 0..sampler.len()));
    match sampler.get(pick) {
        Some((field, _)) => ctx.out.bulk(field),
        None => ctx.out.null(),
    }
    Ok(())
}

/// HRANDFIELD with a count: negative allows repeats (random order), positive gives
/// distinct fields (the whole hash in its own order when the count covers it).
fn random_fields(ctx: &mut Ctx, count: i64, with_values: bool) -> CmdResult {
    let cmd = ctx.cmd;
    let hash = ctx.keys.read_hash(cmd.arg(1))?;
    let Some(hash) = hash.filter(|h| count != 0 && !h.is_empty()) else {
        ctx.out.array(0);
        return Ok(());
    };
    let resp3 = ctx.out.is_resp3();
    let sampler = hash.sampler();
    let size = sampler.len();
    let wanted = count.unsigned_abs();
    // RESP3 nests each field/value pair; RESP2 flattens them.
    let write_header = |out: &mut lodestone_resp::ReplyWriter, n: usize| {
        out.array(if with_values && !resp3 { 2 * n } else { n });
    };
    let write_pair = |out: &mut lodestone_resp::ReplyWriter, field: &[u8], value: &[u8]| {
        if with_values && resp3 {
            out.array(2);
        }
        out.bulk(field);
        if with_values {
            out.bulk(value);
        }
    };
    if count < 0 || wanted == 1 {
        let Ok(wanted) = usize::try_from(wanted) else {
            return Err(Error::err("value is out of range"));
        };
        let mut budget = RandomBudget::new(ctx.out);
        write_header(ctx.out, wanted);
        with_rng(|rng| {
            for _ in 0..wanted {
                let pick = rand::Rng::gen_range(rng, 0..size);
                if let Some((field, value)) = sampler.get(pick) {
                    write_pair(ctx.out, field, value);
                }
                if !random_reply_fits(&mut budget, ctx.out, ctx.client) {
                    break;
                }
            }
        });
        return Ok(());
    }
    if wanted >= size as u64 {
        write_header(ctx.out, size);
        for (field, value) in hash.iter() {
            write_pair(ctx.out, field, value);
        }
        return Ok(());
    }
    let picks = with_rng(|rng| rand::seq::index::sample(rng, size, wanted as usize));
    write_header(ctx.out, picks.len());
    for pick in picks {
        if let Some((field, value)) = sampler.get(pick) {
            write_pair(ctx.out, field, value);
        }
    }
    Ok(())
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
pub fn hscan(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let cursor = parse_cursor(cmd.arg(2)).ok_or_else(|| Error::err("invalid cursor"))?;
    let Some(hash) = ctx.keys.read_hash(cmd.arg(1))? else {
        write_empty_scan(ctx.out);
        return Ok(());
    };
    let options = ScanOptions::parse(cmd, 3)?;
    let (pairs, next) = hash.scan(cursor, options.count);
    let kept: Vec<_> = pairs
        .into_iter()
        .filter(|(field, _)| options.matches(field))
        .collect();
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(kept.len() * 2);
    for (field, value) in kept {
        ctx.out.bulk(field);
        ctx.out.bulk(value);
    }
    Ok(())
}

/// The reply to a scan of a missing key: cursor 0, nothing.
pub(crate) fn write_empty_scan(out: &mut lodestone_resp::ReplyWriter) {
    out.array(2);
    out.bulk(b"0");
    out.array(0);
}

/// HSCAN/SSCAN options, parsed after the key is found (as Redis, so a missing key never
/// reports a bad option). A later option overrides an earlier one.
pub(crate) struct ScanOptions<'c> {
    pub count: usize,
    pattern: Option<&'c [u8]>,
}

impl<'c> ScanOptions<'c> {
    pub fn parse(cmd: &'c lodestone_resp::Command, from: usize) -> Result<ScanOptions<'c>, Error> {
        let mut options = ScanOptions {
            count: 10,
            pattern: None,
        };
        let mut i = from;
        while i < cmd.len() {
            let has_value = i + 1 < cmd.len();
            if is_word(cmd.arg(i), "count") && has_value {
                let count = parse_i64(cmd.arg(i + 1)).ok_or(Error::NotInteger)?;
                options.count = usize::try_from(count)
                    .ok()
                    .filter(|&c| c >= 1)
                    .ok_or(Error::Syntax)?;
            } else if is_word(cmd.arg(i), "match") && has_value {
                let pattern = cmd.arg(i + 1);
                options.pattern = (pattern != b"*").then_some(pattern);
            } else {
                return Err(Error::Syntax);
            }
            i += 2;
        }
        Ok(options)
    }

    pub fn matches(&self, element: &[u8]) -> bool {
        self.pattern.is_none_or(|p| glob_match(p, element, false))
    }
}
