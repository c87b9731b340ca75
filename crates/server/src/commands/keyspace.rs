//! Generic key commands (DEL, UNLINK, EXISTS, TYPE, TOUCH, RENAME, RENAMENX, COPY, MOVE)
//! and whole-database commands (DBSIZE, SWAPDB, FLUSHDB, FLUSHALL).
//!
//! The command table maps every generic command here; the expiry, OBJECT and iteration
//! commands live in sibling modules and are re-exported, so each file stays about one
//! thing. A key's shard holds its part of every database, so MOVE and COPY ... DB reach
//! the target database under the lock of the key itself.

use lodestone_store::Entry;
use lodestone_util::number::parse_i64;

use crate::ctx::Ctx;
use crate::errors::{CmdResult, Error};
use crate::lazyfree;
use crate::notify;

pub use super::expiry::{
    expire, expireat, expiretime, persist, pexpire, pexpireat, pexpiretime, pttl, ttl,
};
pub use super::object::{
    object, object_encoding, object_freq, object_help, object_idletime, object_refcount,
};
pub use super::scan::{keys, randomkey, scan};

/// Deletes the destination of a STORE command whose result is empty (SINTERSTORE,
/// ZUNIONSTORE, SORT ... STORE, BITOP...) as Redis's `dbDelete` does: even a key whose
/// TTL passed unnoticed counts as deleted, with a `del` event rather than `expired`.
pub(crate) fn delete_destination(ctx: &mut Ctx, dst: &[u8]) {
    if ctx.keys.delete(dst) {
        ctx.notify(notify::GENERIC, "del", dst);
    }
}

/// `ERR source and destination objects are the same` (MOVE, COPY).
fn same_object() -> Error {
    Error::err("source and destination objects are the same")
}

pub fn del(ctx: &mut Ctx) -> CmdResult {
    let config = &ctx.server.config;
    delete_keys(ctx, || config.get_bool("lazyfree-lazy-user-del"))
}

pub fn unlink(ctx: &mut Ctx) -> CmdResult {
    delete_keys(ctx, || true)
}

/// Deletes every key argument (repeats count once) and replies how many existed.
/// `lazy` says whether expensive values may be freed in the background.
fn delete_keys(ctx: &mut Ctx, lazy: impl Fn() -> bool) -> CmdResult {
    let cmd = ctx.cmd;
    let db = ctx.keys.db;
    let mut deleted = 0;
    for key in cmd.args().skip(1) {
        if let Some(entry) = ctx.keys.take_in(db, key) {
            lazyfree::dispose(entry, &lazy);
            ctx.keys.notify_in(db, notify::GENERIC, "del", key);
            deleted += 1;
        }
    }
    ctx.out.integer(deleted);
    Ok(())
}

/// Counts the existing keys among the arguments, repeats included.
pub fn exists(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let found = cmd
        .args()
        .skip(1)
        .filter(|key| ctx.keys.peek_read(key).is_some())
        .count();
    ctx.out.integer(found as i64);
    Ok(())
}

pub fn type_(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let name = ctx
        .keys
        .peek_read(cmd.arg(1))
        .map_or("none", |e| e.value.type_name());
    ctx.out.simple(name.as_bytes());
    Ok(())
}

/// Like EXISTS, but a real access: it refreshes the keys' access time.
pub fn touch(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let touched = cmd
        .args()
        .skip(1)
        .filter(|key| ctx.keys.lookup_read(key).is_some())
        .count();
    ctx.out.integer(touched as i64);
    Ok(())
}

pub fn rename(ctx: &mut Ctx) -> CmdResult {
    rename_key(ctx, false)
}

pub fn renamenx(ctx: &mut Ctx) -> CmdResult {
    rename_key(ctx, true)
}

/// Moves the value and TTL of `src` to `dst`. A missing source is an error even when
/// renaming a key to itself; an existing key renamed to itself is left alone.
fn rename_key(ctx: &mut Ctx, nx: bool) -> CmdResult {
    let cmd = ctx.cmd;
    let (src, dst) = (cmd.arg(1), cmd.arg(2));
    let db = ctx.keys.db;
    if ctx.keys.lookup(src).is_none() {
        return Err(Error::NoSuchKey);
    }
    if src == dst {
        reply_renamed(ctx, nx, false);
        return Ok(());
    }
    if ctx.keys.lookup(dst).is_some() {
        if nx {
            ctx.out.integer(0);
            return Ok(());
        }
        if let Some(old) = ctx.keys.raw_db(dst).remove(dst) {
            dispose_server_del(ctx, old);
        }
    }
    if let Some(entry) = ctx.keys.take_in(db, src) {
        ctx.keys.insert_entry(db, dst, entry);
    }
    ctx.notify(notify::GENERIC, "rename_from", src);
    ctx.notify(notify::GENERIC, "rename_to", dst);
    reply_renamed(ctx, nx, true);
    Ok(())
}

fn reply_renamed(ctx: &mut Ctx, nx: bool, renamed: bool) {
    if nx {
        ctx.out.integer(i64::from(renamed));
    } else {
        ctx.out.ok();
    }
}

/// Frees a value the server replaced or removed on its own (RENAME, COPY ... REPLACE).
fn dispose_server_del(ctx: &Ctx, old: Entry) {
    let config = &ctx.server.config;
    lazyfree::dispose(old, || config.get_bool("lazyfree-lazy-server-del"));
}

/// COPY source destination [DB n] [REPLACE]
pub fn copy(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let (src, dst) = (cmd.arg(1), cmd.arg(2));
    let src_db = ctx.keys.db;
    let (dst_db, replace) = parse_copy_options(ctx)?;
    if src_db == dst_db && src == dst {
        return Err(same_object());
    }
    let Some(entry) = ctx.keys.lookup_read(src).map(|e| e.clone()) else {
        ctx.out.integer(0);
        return Ok(());
    };
    if ctx.keys.lookup_in(dst_db, dst).is_some() {
        if !replace {
            ctx.out.integer(0);
            return Ok(());
        }
        if let Some(old) = ctx.keys.locked.db_for(dst, dst_db).remove(dst) {
            dispose_server_del(ctx, old);
        }
    }
    ctx.keys.insert_entry(dst_db, dst, entry);
    ctx.keys.modified(dst);
    ctx.keys.notify_in(dst_db, notify::GENERIC, "copy_to", dst);
    ctx.out.integer(1);
    Ok(())
}

/// The target database and REPLACE flag, checked left to right as Redis does.
fn parse_copy_options(ctx: &Ctx) -> Result<(usize, bool), Error> {
    let mut dst_db = ctx.keys.db;
    let mut replace = false;
    let mut i = 3;
    while i < ctx.argc() {
        if ctx.arg_is(i, "replace") {
            replace = true;
        } else if ctx.arg_is(i, "db") && i + 1 < ctx.argc() {
            dst_db = db_index(ctx, arg_int(ctx, i + 1, None)?)?;
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    Ok((dst_db, replace))
}

/// MOVE key db: fails (0) when the key is missing or the target already has it.
pub fn move_(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let key = cmd.arg(1);
    let src_db = ctx.keys.db;
    let dst_db = db_index(ctx, arg_int(ctx, 2, None)?)?;
    if dst_db == src_db {
        return Err(same_object());
    }
    if ctx.keys.lookup(key).is_none() || ctx.keys.lookup_in(dst_db, key).is_some() {
        ctx.out.integer(0);
        return Ok(());
    }
    if let Some(entry) = ctx.keys.take_in(src_db, key) {
        ctx.keys.insert_entry(dst_db, key, entry);
    }
    ctx.keys
        .notify_in(src_db, notify::GENERIC, "move_from", key);
    ctx.keys.notify_in(dst_db, notify::GENERIC, "move_to", key);
    ctx.out.integer(1);
    Ok(())
}

/// An argument read as Redis's `getIntFromObjectOrReply`: an integer within the C `int`
/// range. `msg` replaces both errors when given (SWAPDB).
fn arg_int(ctx: &Ctx, i: usize, msg: Option<&'static str>) -> Result<i64, Error> {
    let fail = |default: Error| msg.map_or(default, Error::err);
    let n = parse_i64(ctx.arg(i)).ok_or_else(|| fail(Error::NotInteger))?;
    if n < i64::from(i32::MIN) || n > i64::from(i32::MAX) {
        return Err(fail(Error::err(
            "value is out of range, value must between -2147483648 and 2147483647",
        )));
    }
    Ok(n)
}

/// A database number that exists, or `ERR DB index is out of range`.
fn db_index(ctx: &Ctx, n: i64) -> Result<usize, Error> {
    usize::try_from(n)
        .ok()
        .filter(|&db| db < ctx.server.keyspace.databases)
        .ok_or(Error::DbIndexOutOfRange)
}

/// Marks the watchers of the keys of `emptied`, which FLUSHDB/FLUSHALL empty or SWAPDB
/// replaces with `replaced_with`. These commands hold every shard, so any key may be
/// looked at.
fn touch_watched_in_db(ctx: &mut Ctx, emptied: usize, replaced_with: Option<usize>) {
    if !ctx.server.watched.any() {
        return;
    }
    let now = ctx.keys.now_ms;
    for key in ctx.server.watched.keys_in(emptied) {
        let here = ctx.keys.locked.db_for(&key, emptied).get(&key).is_some();
        let replaced =
            replaced_with.map(
                |other| match ctx.keys.locked.db_for(&key, other).get(&key) {
                    Some(entry) => (true, entry.is_expired(now)),
                    None => (false, false),
                },
            );
        ctx.server
            .watched
            .touch_replaced(emptied, &key, here, replaced);
    }
}

/// Keys of the selected database, over every shard. Like Redis, this counts keys that
/// are expired but not yet deleted: the count is O(1) per shard.
pub fn dbsize(ctx: &mut Ctx) -> CmdResult {
    let db = ctx.keys.db;
    let total: usize = ctx.keys.locked.shards().map(|s| s.dbs[db].len()).sum();
    ctx.out.integer(total as i64);
    Ok(())
}

/// Swaps two databases in every shard (all shards are locked, so no client sees a half
/// swapped keyspace).
pub fn swapdb(ctx: &mut Ctx) -> CmdResult {
    let first = arg_int(ctx, 1, Some("invalid first DB index"))?;
    let second = arg_int(ctx, 2, Some("invalid second DB index"))?;
    let (a, b) = (db_index(ctx, first)?, db_index(ctx, second)?);
    if a != b {
        // A watcher of a key in either database sees it change (or appear).
        touch_watched_in_db(ctx, a, Some(b));
        touch_watched_in_db(ctx, b, Some(a));
        for shard in ctx.keys.locked.shards() {
            shard.dbs.swap(a, b);
        }
        // Clients blocked in either database may find their keys filled now.
        for db in [a, b] {
            for key in ctx.server.blocked.keys_in(db) {
                ctx.keys.signal_ready(db, &key);
            }
        }
    }
    ctx.keys.dirty += 1;
    ctx.out.ok();
    Ok(())
}

pub fn flushdb(ctx: &mut Ctx) -> CmdResult {
    let lazy = flush_is_async(ctx)?;
    let db = ctx.keys.db;
    flush(ctx, lazy, |d| d == db);
    // Propagated (AOF) even when the database was already empty, as Redis 7.0 does.
    ctx.keys
        .propagate_as(ctx.cmd.args().map(<[u8]>::to_vec).collect());
    ctx.out.ok();
    Ok(())
}

pub fn flushall(ctx: &mut Ctx) -> CmdResult {
    let lazy = flush_is_async(ctx)?;
    flush(ctx, lazy, |_| true);
    // Redis counts FLUSHALL itself as one more change, on top of the keys removed.
    ctx.keys.dirty += 1;
    // As Redis: a background save of the old data is abandoned, and with save points
    // the (now empty) dataset is saved at once.
    let server = ctx.server;
    server.snapshots.cancel();
    if crate::persist::has_save_points(server) {
        if let Err(e) = crate::persist::save(server, &mut ctx.keys.locked) {
            tracing::warn!("Failed saving the RDB file after FLUSHALL: {e}");
        } else {
            // Nothing changed since that save; FLUSHALL still propagates.
            ctx.keys.dirty = 0;
            ctx.keys
                .propagate_as(ctx.cmd.args().map(<[u8]>::to_vec).collect());
        }
    }
    ctx.out.ok();
    Ok(())
}

/// `[SYNC|ASYNC]`; without it, `lazyfree-lazy-user-flush` decides.
fn flush_is_async(ctx: &Ctx) -> Result<bool, Error> {
    match ctx.argc() {
        1 => Ok(ctx.server.config.get_bool("lazyfree-lazy-user-flush")),
        2 if ctx.arg_is(1, "sync") => Ok(false),
        2 if ctx.arg_is(1, "async") => Ok(true),
        _ => Err(Error::Syntax),
    }
}

/// Empties the databases `which` selects in every shard; the removed contents are freed
/// on the lazyfree thread when `lazy`, here otherwise.
fn flush(ctx: &mut Ctx, lazy: bool, which: impl Fn(usize) -> bool) {
    let databases = ctx.server.keyspace.databases;
    for db in (0..databases).filter(|&db| which(db)) {
        touch_watched_in_db(ctx, db, None);
    }
    let mut garbage = Vec::new();
    let mut removed = 0u64;
    for shard in ctx.keys.locked.shards() {
        for (id, db) in shard.dbs.iter_mut().enumerate() {
            if which(id) && !db.is_empty() {
                // Counted before: a running snapshot takes the entries it still needs.
                removed += db.len() as u64;
                let contents = db.take_all();
                garbage.push(contents);
            }
        }
    }
    ctx.keys.dirty += removed;
    if lazy && removed > 0 {
        lazyfree::free_later(garbage, removed);
    }
    // Group readers blocked on a flushed stream are told it is gone.
    for db in (0..databases).filter(|&db| which(db)) {
        for key in ctx.server.blocked.keys_in(db) {
            ctx.keys.signal_ready(db, &key);
        }
    }
}
