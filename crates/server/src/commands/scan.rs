//! Commands that walk the whole selected database: KEYS, SCAN and RANDOMKEY. They lock
//! every shard (CMD_ALL_SHARDS), so each sees one consistent keyspace.
//!
//! The SCAN cursor is opaque to clients but simple inside: the shard index in the bits
//! above [`SCAN_HASH_BITS`] and the position reached within that shard's database below
//! (see `Db::scan`: positions follow the key hash, so a key present for the whole
//! iteration is returned whatever is added or removed meanwhile). Cursor 0 starts and
//! ends an iteration, as in Redis.

use rand::Rng;

use lodestone_store::{Key, SCAN_HASH_BITS};
use lodestone_util::glob_match;
use lodestone_util::number::parse_i64;

use crate::ctx::Ctx;
use crate::errors::{CmdResult, Error};
use crate::keyspace::{Locked, SHARDS};

const POSITION_MASK: u64 = (1 << SCAN_HASH_BITS) - 1;

/// KEYS pattern. Expired keys are skipped, not deleted (as Redis 7.0).
pub fn keys(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let pattern = cmd.arg(1);
    let all = pattern == b"*";
    let (db, now) = (ctx.keys.db, ctx.keys.now_ms);
    let start = ctx.out.begin_deferred();
    let mut count = 0;
    for shard in ctx.keys.locked.shards() {
        for (key, entry) in shard.dbs[db].iter() {
            if (all || glob_match(pattern, key, false)) && !entry.is_expired(now) {
                ctx.out.bulk(key);
                count += 1;
            }
        }
    }
    ctx.out.end_deferred(start, b'*', count);
    Ok(())
}

/// SCAN's options.
struct ScanOptions<'c> {
    count: usize,
    pattern: Option<&'c [u8]>,
    type_name: Option<&'c [u8]>,
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
pub fn scan(ctx: &mut Ctx) -> CmdResult {
    let cursor = parse_cursor(ctx.arg(1)).ok_or_else(|| Error::err("invalid cursor"))?;
    let options = parse_scan_options(ctx)?;
    let db = ctx.keys.db;
    let (candidates, next) = scan_step(&mut ctx.keys.locked, db, cursor, options.count);
    let mut found = Vec::with_capacity(candidates.len());
    for key in candidates {
        if options.pattern.is_some_and(|p| !glob_match(p, &key, false)) {
            continue;
        }
        // The lookup also deletes an expired key, which is then not returned. With TYPE,
        // Redis looks the key up as a read: counted, and a `keymiss` when it expired.
        let entry = match options.type_name {
            Some(_) => ctx.keys.peek_read(&key),
            None => ctx.keys.peek_in(db, &key),
        };
        let live_type = entry.map(|e| e.value.type_name());
        let type_ok = match options.type_name {
            Some(wanted) => wanted.eq_ignore_ascii_case(live_type.unwrap_or("none").as_bytes()),
            None => true,
        };
        if type_ok && live_type.is_some() {
            found.push(key);
        }
    }
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(found.len());
    for key in &found {
        ctx.out.bulk(key);
    }
    Ok(())
}

/// Options in any order; a later one overrides an earlier one. COUNT must be >= 1.
fn parse_scan_options<'c>(ctx: &Ctx<'c, '_>) -> Result<ScanOptions<'c>, Error> {
    let mut options = ScanOptions {
        count: 10,
        pattern: None,
        type_name: None,
    };
    let mut i = 2;
    while i < ctx.argc() {
        let has_value = i + 1 < ctx.argc();
        if ctx.arg_is(i, "count") && has_value {
            let count = parse_i64(ctx.arg(i + 1)).ok_or(Error::NotInteger)?;
            options.count = usize::try_from(count)
                .ok()
                .filter(|&c| c >= 1)
                .ok_or(Error::Syntax)?;
        } else if ctx.arg_is(i, "match") && has_value {
            let pattern = ctx.arg(i + 1);
            // "*" matches everything: skip the matching altogether.
            options.pattern = (pattern != b"*").then_some(pattern);
        } else if ctx.arg_is(i, "type") && has_value {
            options.type_name = Some(ctx.arg(i + 1));
        } else {
            return Err(Error::Syntax);
        }
        i += 2;
    }
    Ok(options)
}

/// Collects about `count` keys from `cursor` on, crossing into the next shards when one
/// is done. Returns them and the next cursor (0 when the iteration is complete).
fn scan_step(locked: &mut Locked, db: usize, cursor: u64, count: usize) -> (Vec<Key>, u64) {
    let mut shard = usize::try_from(cursor >> SCAN_HASH_BITS).unwrap_or(SHARDS);
    let mut position = cursor & POSITION_MASK;
    let mut keys = Vec::new();
    while shard < SHARDS && keys.len() < count {
        let (batch, next) = locked.shard(shard).dbs[db].scan(position, count - keys.len());
        keys.extend(batch);
        match next {
            Some(p) => position = p,
            None => {
                shard += 1;
                position = 0;
            }
        }
    }
    if shard >= SHARDS {
        return (keys, 0);
    }
    (keys, (shard as u64) << SCAN_HASH_BITS | position)
}

/// Reads a cursor the way Redis does (C `strtoul`, base 10): no leading space, an
/// optional sign (a negative number wraps around, as in C), digits, nothing after, no
/// overflow. The empty string is cursor 0.
pub(crate) fn parse_cursor(text: &[u8]) -> Option<u64> {
    let (negative, digits) = match text.first() {
        None => return Some(0),
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        Some(_) => (false, text),
    };
    if digits.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// A random key of the selected database, or null. An expired key drawn is deleted and
/// another is drawn, so RANDOMKEY never returns one.
pub fn randomkey(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.keys.db;
    let mut rng = rand::thread_rng();
    loop {
        let Some(key) = draw_key(&mut ctx.keys.locked, db, &mut rng) else {
            ctx.out.null();
            return Ok(());
        };
        if ctx.keys.peek_in(db, &key).is_some() {
            ctx.out.bulk(&key);
            return Ok(());
        }
    }
}

/// A uniformly random key over all shards: a shard weighted by its size, then a key in it.
fn draw_key(locked: &mut Locked, db: usize, rng: &mut impl Rng) -> Option<Key> {
    let total: usize = locked.shards().map(|s| s.dbs[db].len()).sum();
    if total == 0 {
        return None;
    }
    let mut pick = rng.gen_range(0..total);
    for shard in locked.shards() {
        let part = &shard.dbs[db];
        if pick < part.len() {
            return part.random_key(rng).cloned();
        }
        pick -= part.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::parse_cursor;

    /// Cursors parse like C's strtoul: signs, wrap-around, and the same rejections.
    #[test]
    fn cursor_parsing_follows_strtoul() {
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b"+12"), Some(12));
        assert_eq!(parse_cursor(b"007"), Some(7));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_cursor(b" 1"), None);
        assert_eq!(parse_cursor(b"1 "), None);
        assert_eq!(parse_cursor(b"-"), None);
        assert_eq!(parse_cursor(b"0x1"), None);
    }
}
