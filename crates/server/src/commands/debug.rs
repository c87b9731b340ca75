//! DEBUG: the introspection and test hooks Redis's own test suite and client libraries
//! rely on (DIGEST, OBJECT, SLEEP, POPULATE, PROTOCOL...).
//!
//! DEBUG holds every shard lock while it runs (it is flagged to), so DIGEST sees one
//! consistent dataset and SLEEP stalls key access the way it stalls all of Redis. The
//! dataset digest is Redis's algorithm, so digests taken before and after a save and
//! load (or on Redis itself) compare meaningfully.

use std::sync::atomic::Ordering;

use lodestone_store::{Entry, StrValue, Value, NO_EXPIRE};
use lodestone_util::number::format_f64;

use super::server::{reply_help, subcommand_syntax_error};
use crate::ctx::Ctx;
use crate::errors::{CmdResult, Error};

pub fn debug(ctx: &mut Ctx) -> CmdResult {
    let sub = ctx.arg(1).to_ascii_lowercase();
    match (sub.as_slice(), ctx.argc()) {
        (b"help", 2) => help(ctx),
        (b"sleep", 3) => sleep(ctx),
        (b"object", 3) => object(ctx),
        (b"set-active-expire", 3) => set_active_expire(ctx),
        (b"set-replaying", 3) => {
            // Lodestone's own: this connection runs its commands as the AOF loader's
            // replay does (expiry suspended), so tests can replay an effect stream.
            ctx.client.replaying = atoi(ctx.arg(2)) != 0;
            ctx.out.ok();
            Ok(())
        }
        (b"set-disable-deny-scripts", 3) => {
            let disabled = atoi(ctx.arg(2)) != 0;
            ctx.server
                .scripting
                .deny_scripts_disabled
                .store(disabled, Ordering::Relaxed);
            ctx.out.ok();
            Ok(())
        }
        (b"digest", 2) => digest(ctx),
        (b"digest-value", _) => digest_value(ctx),
        (b"change-repl-id", 2) => change_repl_id(ctx),
        (b"populate", 3..=5) => populate(ctx),
        (b"protocol", 3) => protocol(ctx),
        (b"log", 3) => log(ctx),
        (b"error", 3) => error(ctx),
        (b"quicklist-packed-threshold", 3) => packed_threshold(ctx),
        (b"effects", 3) => effects(ctx),
        (b"set-skip-checksum-validation" | b"aof-flush-sleep" | b"pause-cron", 3) => {
            ctx.out.ok();
            Ok(())
        }
        (b"reload", _) => reload(ctx),
        (b"loadaof", 2) => loadaof(ctx),
        (b"loadaof" | b"jmap", _) => Err(Error::err(format!(
            "DEBUG {} is not supported yet",
            String::from_utf8_lossy(&sub).to_uppercase()
        ))),
        _ => Err(subcommand_syntax_error(ctx)),
    }
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: saves the RDB file, empties the keyspace
/// and loads the file back (DEBUG is flagged to hold every shard).
fn reload(ctx: &mut Ctx) -> CmdResult {
    let (mut merge, mut noflush, mut nosave) = (false, false, false);
    for i in 2..ctx.argc() {
        if ctx.arg_is(i, "merge") {
            merge = true;
        } else if ctx.arg_is(i, "noflush") {
            noflush = true;
        } else if ctx.arg_is(i, "nosave") {
            nosave = true;
        } else {
            return Err(Error::err(
                "DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
            ));
        }
    }
    if !nosave {
        crate::persist::save(ctx.server, &mut ctx.keys.locked)
            .map_err(|_| Error::err("Error trying to save the DB"))?;
    }
    let data = std::fs::read(crate::persist::rdb_path(ctx.server))
        .map_err(|_| Error::err("Error trying to load the RDB dump, check server logs."))?;
    if !noflush {
        for shard in ctx.keys.locked.shards() {
            for db in shard.dbs.iter_mut() {
                db.take_all();
            }
        }
        // Redis empties the function libraries with the data.
        ctx.server.scripting.libraries.write().clear();
        ctx.server.scripting.libraries_changed();
    }
    crate::persist::load_into(ctx.server, &mut ctx.keys.locked, &data, merge).map_err(|e| {
        tracing::warn!("DEBUG RELOAD: {e}");
        Error::err("Error trying to load the RDB dump, check server logs.")
    })?;
    ctx.keys.propagate_none();
    ctx.out.ok();
    Ok(())
}

/// DEBUG LOADAOF: writes out what the AOF buffered, empties the keyspace and loads
/// it back from the AOF files, as at startup. The replay runs commands that take
/// their own shard locks, so the ones DEBUG holds are let go meanwhile; other clients
/// get -LOADING until it is done, as with Redis. A file that no longer loads ends the
/// process, as in Redis.
fn loadaof(ctx: &mut Ctx) -> CmdResult {
    let server = ctx.server;
    crate::aof::flush_all(server);
    server.loading.begin(0);
    for shard in ctx.keys.locked.shards() {
        for db in shard.dbs.iter_mut() {
            db.take_all();
        }
    }
    server.scripting.libraries.write().clear();
    server.scripting.libraries_changed();
    ctx.keys.locked.release_all();
    let result = crate::aof::reload(server);
    server.loading.end();
    if let Err(e) = result {
        tracing::error!("DEBUG LOADAOF: {e}");
        std::process::exit(1);
    }
    ctx.keys
        .locked
        .relock_all()
        .map_err(|_| Error::err("the keyspace is busy"))?;
    // Nothing to persist or propagate: the data came from the AOF.
    ctx.keys.dirty = 0;
    server.dirty.store(0, std::sync::atomic::Ordering::Relaxed);
    ctx.keys.propagate_none();
    tracing::warn!("Append Only File loaded by DEBUG LOADAOF");
    ctx.out.ok();
    Ok(())
}

/// DEBUG EFFECTS START|GET|STOP: Lodestone's window on the effect stream (what AOF and
/// replicas will receive), for tests: START begins a capture, GET shows it, STOP shows
/// it and ends it. Each entry is one command, SELECTs included.
fn effects(ctx: &mut Ctx) -> CmdResult {
    let stream = &ctx.server.effects;
    let captured = if ctx.arg_is(2, "start") {
        stream.start_capture();
        ctx.out.ok();
        return Ok(());
    } else if ctx.arg_is(2, "get") {
        stream.captured()
    } else if ctx.arg_is(2, "stop") {
        stream.stop_capture()
    } else {
        return Err(Error::Syntax);
    };
    ctx.out.array(captured.len());
    for command in captured {
        ctx.out.array(command.len());
        for arg in command {
            ctx.out.bulk(&arg);
        }
    }
    Ok(())
}

fn help(ctx: &mut Ctx) -> CmdResult {
    reply_help(
        ctx,
        &[
            "CHANGE-REPL-ID",
            "    Change the replication IDs of the instance.",
            "    Dangerous: should be used only for testing the replication subsystem.",
            "DIGEST",
            "    Output a hex signature representing the current DB content.",
            "DIGEST-VALUE <key> [<key> ...]",
            "    Output a hex signature of the values of all the specified keys.",
            "EFFECTS START|GET|STOP",
            "    Capture the effect stream (what AOF and replicas receive), show it, stop.",
            "ERROR <string>",
            "    Return a Redis protocol error with <string> as message. Useful for clients",
            "    unit tests to simulate Redis errors.",
            "LOG <message>",
            "    Write <message> to the server log.",
            "OBJECT <key>",
            "    Show low level info about `key` and associated value.",
            "POPULATE <count> [<prefix>] [<size>]",
            "    Create <count> string keys named key:<num>. If <prefix> is specified then",
            "    it is used instead of the 'key' prefix.",
            "PROTOCOL <type>",
            "    Reply with a test value of the specified type. <type> can be: string,",
            "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
            "    true, false.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Turn the active expiry cycle off (0) or on (1).",
            "SET-REPLAYING <0|1>",
            "    Run this connection's commands as a replay of the AOF does: nothing expires.",
            "SET-DISABLE-DENY-SCRIPTS <0|1>",
            "    Let scripts call commands that scripts may not call (1), or not (0); for tests.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
        ],
    );
    Ok(())
}

/// C's `atoi`: leading blanks, an optional sign, then digits; anything else is 0.
fn atoi(bytes: &[u8]) -> i64 {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_start();
    let (sign, digits) = match text.as_bytes().first() {
        Some(b'-') => (-1, &text[1..]),
        Some(b'+') => (1, &text[1..]),
        _ => (1, text),
    };
    let end = digits
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    sign * digits[..end].parse::<i64>().unwrap_or(0)
}

/// DEBUG SLEEP seconds: blocks this command (and, through its locks, all key access).
fn sleep(ctx: &mut Ctx) -> CmdResult {
    let text = String::from_utf8_lossy(ctx.arg(2));
    let seconds: f64 = text.trim().parse().unwrap_or(0.0);
    if let Ok(duration) = std::time::Duration::try_from_secs_f64(seconds) {
        std::thread::sleep(duration);
    }
    ctx.out.ok();
    Ok(())
}

fn set_active_expire(ctx: &mut Ctx) -> CmdResult {
    let enabled = atoi(ctx.arg(2)) != 0;
    ctx.server
        .active_expire_enabled
        .store(enabled, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

fn change_repl_id(ctx: &mut Ctx) -> CmdResult {
    *ctx.server.replid.lock() = crate::server::random_hex(40);
    ctx.out.ok();
    Ok(())
}

fn log(ctx: &mut Ctx) -> CmdResult {
    tracing::warn!("DEBUG LOG: {}", String::from_utf8_lossy(ctx.arg(2)));
    ctx.out.ok();
    Ok(())
}

/// DEBUG ERROR text: the text itself as an error reply (not counted as a command error,
/// as in Redis, which writes it raw).
fn error(ctx: &mut Ctx) -> CmdResult {
    let mut line = b"-".to_vec();
    line.extend(ctx.arg(2).iter().map(|&b| match b {
        b'\r' | b'\n' => b' ',
        b => b,
    }));
    line.extend_from_slice(b"\r\n");
    ctx.out.raw(&line);
    Ok(())
}

fn packed_threshold(ctx: &mut Ctx) -> CmdResult {
    let text = String::from_utf8_lossy(ctx.arg(2));
    match crate::config::parse_memory(&text) {
        Some(n) if (0..=(1i64 << 32)).contains(&n) => {
            ctx.out.ok();
            Ok(())
        }
        _ => Err(Error::err(
            "argument must be a memory value bigger than 1 and smaller than 4gb",
        )),
    }
}

/// Whether Redis would hold this value as one of its shared integers (refcount
/// INT_MAX in DEBUG OBJECT): 0..9999, unless an LRU/LFU maxmemory policy is active.
fn is_shared_integer(server: &crate::server::Server, value: &Value) -> bool {
    let Value::Str(StrValue::Int(n)) = value else {
        return false;
    };
    let config = &server.config;
    let policy = config.get("maxmemory-policy");
    let evicts_by_use = policy.contains("lru") || policy.contains("lfu");
    (0..10_000).contains(n) && !(config.get_i64("maxmemory") != 0 && evicts_by_use)
}

/// DEBUG OBJECT key: Redis's one-line description of a value.
fn object(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(2);
    let now_s = ctx.keys.now_ms / 1000;
    // Like Redis, a logically expired key still stored is described.
    let Some(entry) = ctx.keys.raw_db(key).get(key) else {
        return Err(Error::NoSuchKey);
    };
    let refcount: i64 = if is_shared_integer(ctx.server, &entry.value) {
        i64::from(i32::MAX)
    } else {
        1
    };
    let line = format!(
        "Value at:{:p} refcount:{refcount} encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
        entry,
        entry.value.encoding(),
        serialized_length(&entry.value),
        entry.access_s & 0xFF_FFFF,
        (now_s - i64::from(entry.access_s)).max(0)
    );
    ctx.out.simple(line.as_bytes());
    Ok(())
}

/// Bytes of an RDB length prefix.
fn rdb_len_size(len: usize) -> usize {
    match len {
        0..=63 => 1,
        64..=16_383 => 2,
        _ if (len as u64) <= u64::from(u32::MAX) => 5,
        _ => 9,
    }
}

/// Bytes of the RDB integer encoding of `n`, if it has one (8, 16 or 32 bits).
fn rdb_int_size(n: i64) -> Option<usize> {
    if i8::try_from(n).is_ok() {
        Some(2)
    } else if i16::try_from(n).is_ok() {
        Some(3)
    } else if i32::try_from(n).is_ok() {
        Some(5)
    } else {
        None
    }
}

/// The RDB serialized size of a value (without LZF compression, which Lodestone does
/// not do yet: long compressible strings measure longer than in Redis).
fn serialized_length(value: &Value) -> usize {
    match value {
        Value::Str(s) => {
            let bytes = s.to_bytes();
            let as_int = match s {
                StrValue::Int(n) => Some(*n),
                // Short strings that are canonical integers are stored as integers.
                _ if bytes.len() <= 11 => lodestone_util::number::parse_i64(&bytes),
                _ => None,
            };
            as_int
                .and_then(rdb_int_size)
                .unwrap_or_else(|| rdb_len_size(bytes.len()) + bytes.len())
        }
        other => other.memory_usage(),
    }
}

/// DEBUG POPULATE count [prefix] [size]: creates `prefix:N` keys holding `value:N`.
fn populate(ctx: &mut Ctx) -> CmdResult {
    let positive = |i: usize| {
        lodestone_util::number::parse_i64(ctx.arg(i))
            .filter(|n| *n >= 0)
            .ok_or(Error::OutOfRangePositive)
    };
    let count = positive(2)?;
    let size = if ctx.argc() == 5 { positive(4)? } else { 0 };
    let max = ctx
        .server
        .config
        .hot
        .proto_max_bulk_len
        .load(Ordering::Relaxed);
    if size > max {
        return Err(Error::StringTooLong);
    }
    let prefix = if ctx.argc() >= 4 { ctx.arg(3) } else { b"key" };
    for j in 0..count {
        let mut key = prefix.to_vec();
        key.extend_from_slice(format!(":{j}").as_bytes());
        if ctx.keys.lookup(&key).is_some() {
            continue;
        }
        let mut value = format!("value:{j}").into_bytes();
        if size > 0 {
            value.resize(size as usize, 0);
        }
        ctx.keys
            .set(&key, Value::Str(StrValue::from_bytes(&value)), NO_EXPIRE);
    }
    ctx.out.ok();
    Ok(())
}

/// DEBUG PROTOCOL type: a sample reply of each RESP type, for client tests.
fn protocol(ctx: &mut Ctx) -> CmdResult {
    let name = ctx.arg(2).to_ascii_lowercase();
    let out = &mut *ctx.out;
    match name.as_slice() {
        b"string" => out.bulk(b"Hello World"),
        b"integer" => out.integer(12345),
        b"double" => out.double_text(b"3.141"),
        b"bignum" => out.big_number(b"1234567999999999999999999999999999999"),
        b"null" => out.null(),
        b"array" | b"set" => {
            if name == b"set" {
                out.set(3)
            } else {
                out.array(3)
            }
            (0..3).for_each(|j| out.integer(j));
        }
        b"map" => {
            out.map(3);
            for j in 0..3 {
                out.integer(j);
                out.boolean(j == 1);
            }
        }
        b"attrib" => {
            if out.attribute(1) {
                out.bulk(b"key-popularity");
                out.array(2);
                out.bulk(b"key:123");
                out.integer(90);
            }
            out.bulk(b"Some real reply following the attribute");
        }
        b"push" => {
            if !out.is_resp3() {
                return Err(Error::err("RESP2 is not supported by this command"));
            }
            out.push(2);
            out.bulk(b"server-cpu-usage");
            out.integer(42);
            out.bulk(b"Some real reply following the push reply");
        }
        b"true" => out.boolean(true),
        b"false" => out.boolean(false),
        b"verbatim" => out.verbatim(b"txt", b"This is a verbatim\nstring"),
        _ => return Err(Error::err(
            "Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
        )),
    }
    Ok(())
}

/// A 20-byte digest as 40 lower-case hex characters.
fn hex(digest: &[u8; 20]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha1(data: &[u8]) -> [u8; 20] {
    sha1_smol::Sha1::from(data).digest().bytes()
}

/// `digest ^= SHA1(data)`: order-independent accumulation.
fn xor_digest(digest: &mut [u8; 20], data: &[u8]) {
    for (d, h) in digest.iter_mut().zip(sha1(data)) {
        *d ^= h;
    }
}

/// `digest = SHA1(digest ^ SHA1(data))`: order-dependent accumulation.
fn mix_digest(digest: &mut [u8; 20], data: &[u8]) {
    xor_digest(digest, data);
    *digest = sha1(digest);
}

/// Redis's type number, which the digest includes.
fn type_code(value: &Value) -> u32 {
    match value {
        Value::Str(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
        Value::Stream(_) => 6,
    }
}

/// Mixes a value (and whether it expires) into `digest`, as Redis's `xorObjectDigest`.
fn value_digest(digest: &mut [u8; 20], entry: &Entry) {
    mix_digest(digest, &type_code(&entry.value).to_be_bytes());
    // Ordered types mix their elements in order; unordered ones xor a digest per
    // element (or per pair), so inner order does not matter.
    match &entry.value {
        Value::Str(s) => mix_digest(digest, &s.to_bytes()),
        Value::Stream(s) => {
            let all = s.range(
                lodestone_store::StreamId::MIN,
                lodestone_store::StreamId::MAX,
                false,
            );
            for entry in all {
                let id = format!("{}.{}", entry.id.ms, entry.id.seq);
                mix_digest(digest, id.as_bytes());
                for (field, value) in entry.fields() {
                    mix_digest(digest, &field.as_bytes());
                    mix_digest(digest, &value.as_bytes());
                }
            }
        }
        Value::List(l) => {
            for element in l.iter() {
                mix_digest(digest, &element.as_bytes());
            }
        }
        Value::Set(s) => {
            for member in s.iter() {
                xor_digest(digest, &member.to_bytes());
            }
        }
        Value::ZSet(z) => {
            for (member, score) in z.iter() {
                let mut element = [0u8; 20];
                mix_digest(&mut element, member);
                mix_digest(&mut element, format_f64(score).as_bytes());
                xor_digest(digest, &element);
            }
        }
        Value::Hash(h) => {
            for (field, value) in h.iter() {
                let mut element = [0u8; 20];
                mix_digest(&mut element, field);
                mix_digest(&mut element, value);
                xor_digest(digest, &element);
            }
        }
    }
    if entry.expire_ms != NO_EXPIRE {
        xor_digest(digest, b"!!expire!!");
    }
}

/// The digest of one key and its value.
fn key_digest(key: &[u8], entry: &Entry) -> [u8; 20] {
    let mut digest = [0u8; 20];
    mix_digest(&mut digest, key);
    value_digest(&mut digest, entry);
    digest
}

/// DEBUG DIGEST: all zeros for an empty dataset, otherwise Redis's dataset digest:
/// per database, its number mixed in, then the SHA1 of every key's digest xored in.
fn digest(ctx: &mut Ctx) -> CmdResult {
    let databases = ctx.server.keyspace.databases;
    let mut per_db = vec![[0u8; 20]; databases];
    let mut non_empty = vec![false; databases];
    for shard in ctx.keys.locked.shards() {
        for (j, db) in shard.dbs.iter().enumerate() {
            for (key, entry) in db.iter() {
                non_empty[j] = true;
                xor_digest(&mut per_db[j], &key_digest(key, entry));
            }
        }
    }
    let mut total = [0u8; 20];
    for j in (0..databases).filter(|&j| non_empty[j]) {
        mix_digest(&mut total, &(j as u32).to_be_bytes());
        for (t, d) in total.iter_mut().zip(per_db[j]) {
            *t ^= d;
        }
    }
    ctx.out.simple(hex(&total).as_bytes());
    Ok(())
}

/// DEBUG DIGEST-VALUE key...: the digest of each value (zeros for a missing key).
fn digest_value(ctx: &mut Ctx) -> CmdResult {
    ctx.out.array(ctx.argc() - 2);
    for i in 2..ctx.argc() {
        let key = ctx.arg(i);
        let mut digest = [0u8; 20];
        if let Some(entry) = ctx.keys.raw_db(key).get(key) {
            value_digest(&mut digest, entry);
        }
        ctx.out.simple(hex(&digest).as_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_reads_a_leading_number() {
        assert_eq!(atoi(b"1"), 1);
        assert_eq!(atoi(b" -12x"), -12);
        assert_eq!(atoi(b"abc"), 0);
    }

    #[test]
    fn serialized_lengths_follow_rdb() {
        let len = |v: &[u8]| serialized_length(&Value::Str(StrValue::from_bytes(v)));
        assert_eq!(len(b"5"), 2);
        assert_eq!(len(b"50000"), 5);
        assert_eq!(len(b"bar"), 4);
        assert_eq!(len(b"123456789012"), 13);
        let raw = Value::Str(StrValue::raw(b"123".to_vec()));
        assert_eq!(serialized_length(&raw), 2);
    }
}
