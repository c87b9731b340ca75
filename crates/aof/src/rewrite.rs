//! The command form of the dataset, for a base file written without an RDB preamble
//! (`aof-use-rdb-preamble no`), command for command as Redis 7.0 writes it
//! (`rewriteAppendOnlyFileRio` and the per-type functions):
//!
//! - strings: `SET key value`;
//! - lists, sets, sorted sets and hashes: `RPUSH`, `SADD`, `ZADD` and `HMSET` with at
//!   most [`REWRITE_ITEMS_PER_CMD`] elements (or pairs) each, so that replaying a big
//!   value does not need one huge command; scores are printed as `%.17g`;
//! - streams: `XADD` per entry, `XSETID`, then the groups, consumers and pending
//!   entries (see `rewrite/stream.rs`);
//! - then `PEXPIREAT key <ms>` when the key has a TTL.
//!
//! The elements come in the value's own order. For compact encodings that is Redis's
//! order too (list order, ascending intset, sorted-set rank, hash insertion order), so
//! the bytes match Redis's exactly; for hash tables each side has its own order.

mod stream;

use lodestone_store::{Entry, HashValue, ListValue, SetValue, Value, ZSetValue, NO_EXPIRE};
use lodestone_util::number::format_f64;

use crate::encode::{push_array_len, push_bulk, push_bulk_i64};

/// Elements (or field-value pairs, or score-member pairs) per command for big values
/// (Redis's `AOF_REWRITE_ITEMS_PER_CMD`).
pub const REWRITE_ITEMS_PER_CMD: usize = 64;

/// Appends the commands that rebuild `key` with its value and TTL.
pub fn key_commands(key: &[u8], entry: &Entry, out: &mut Vec<u8>) {
    match &entry.value {
        Value::Str(s) => {
            push_array_len(out, 3);
            push_bulk(out, b"SET");
            push_bulk(out, key);
            push_bulk(out, &s.to_bytes());
        }
        Value::List(list) => list_commands(key, list, out),
        Value::Set(set) => set_commands(key, set, out),
        Value::ZSet(zset) => zset_commands(key, zset, out),
        Value::Hash(hash) => hash_commands(key, hash, out),
        Value::Stream(s) => stream::stream_commands(key, s, out),
    }
    if entry.expire_ms != NO_EXPIRE {
        push_array_len(out, 3);
        push_bulk(out, b"PEXPIREAT");
        push_bulk(out, key);
        push_bulk_i64(out, entry.expire_ms);
    }
}

/// Appends `SELECT <db>`, which starts each non-empty database in the file.
pub fn select_command(db: usize, out: &mut Vec<u8>) {
    push_array_len(out, 2);
    push_bulk(out, b"SELECT");
    push_bulk_i64(out, db as i64);
}

/// Appends `FUNCTION LOAD <code>` for one function library; a rewrite writes these
/// before the first database.
pub fn function_load_command(code: &[u8], out: &mut Vec<u8>) {
    push_array_len(out, 3);
    push_bulk(out, b"FUNCTION");
    push_bulk(out, b"LOAD");
    push_bulk(out, code);
}

/// Appends the `#TS:<unix seconds>\r\n` annotation (`aof-timestamp-enabled`), which a
/// rewrite writes first and the incr file writes whenever the second changes.
pub fn timestamp_annotation(unix_secs: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(format!("#TS:{unix_secs}\r\n").as_bytes());
}

/// Splits the elements of one value into commands `<name> key <item>...` of at most
/// [`REWRITE_ITEMS_PER_CMD`] items, an item being `width` arguments.
struct Batches<'k> {
    key: &'k [u8],
    name: &'static [u8],
    width: usize,
    /// Items not written yet: each command's length is given up front.
    left: usize,
    in_batch: usize,
}

impl<'k> Batches<'k> {
    fn new(key: &'k [u8], name: &'static [u8], width: usize, total: usize) -> Batches<'k> {
        Batches {
            key,
            name,
            width,
            left: total,
            in_batch: 0,
        }
    }

    /// Called before each item's arguments: starts a command when one is due.
    fn item(&mut self, out: &mut Vec<u8>) {
        if self.in_batch == 0 {
            let batch = self.left.clamp(1, REWRITE_ITEMS_PER_CMD);
            push_array_len(out, 2 + batch * self.width);
            push_bulk(out, self.name);
            push_bulk(out, self.key);
        }
        self.in_batch = (self.in_batch + 1) % REWRITE_ITEMS_PER_CMD;
        self.left = self.left.saturating_sub(1);
    }
}

fn list_commands(key: &[u8], list: &ListValue, out: &mut Vec<u8>) {
    let mut batches = Batches::new(key, b"RPUSH", 1, list.len());
    for elem in list.iter() {
        batches.item(out);
        push_bulk(out, &elem.as_bytes());
    }
}

fn set_commands(key: &[u8], set: &SetValue, out: &mut Vec<u8>) {
    let mut batches = Batches::new(key, b"SADD", 1, set.len());
    for member in set.iter() {
        batches.item(out);
        push_bulk(out, &member.to_bytes());
    }
}

fn zset_commands(key: &[u8], zset: &ZSetValue, out: &mut Vec<u8>) {
    let mut batches = Batches::new(key, b"ZADD", 2, zset.len());
    for (member, score) in zset.iter() {
        batches.item(out);
        push_bulk(out, format_f64(score).as_bytes());
        push_bulk(out, member);
    }
}

fn hash_commands(key: &[u8], hash: &HashValue, out: &mut Vec<u8>) {
    let mut batches = Batches::new(key, b"HMSET", 2, hash.len());
    for (field, value) in hash.iter() {
        batches.item(out);
        push_bulk(out, field);
        push_bulk(out, value);
    }
}

#[cfg(test)]
mod tests;
