//! DUMP and RESTORE: one value as a Redis DUMP payload (`lodestone_rdb::dump`), so
//! values move between Lodestone and redis-server in both directions.

use lodestone_rdb::dump;
use lodestone_store::NO_EXPIRE;

use crate::ctx::Ctx;
use crate::errors::{CmdResult, Error};
use crate::notify;

pub fn dump(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    match ctx.keys.lookup_read(key) {
        None => ctx.out.null(),
        Some(entry) => {
            let compress = ctx.server.config.get_bool("rdbcompression");
            let payload = dump::dump(&entry.value, compress);
            ctx.out.bulk(&payload);
        }
    }
    Ok(())
}

pub fn restore(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    let mut replace = false;
    let mut absttl = false;
    let mut idle: Option<i64> = None;
    let mut freq: Option<i64> = None;
    let mut j = 4;
    while j < ctx.argc() {
        let more = ctx.argc() - j - 1;
        if ctx.arg_is(j, "replace") {
            replace = true;
        } else if ctx.arg_is(j, "absttl") {
            absttl = true;
        } else if ctx.arg_is(j, "idletime") && more >= 1 && freq.is_none() {
            let n = ctx.arg_i64(j + 1)?;
            if n < 0 {
                return Err(Error::err("Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(n);
            j += 1;
        } else if ctx.arg_is(j, "freq") && more >= 1 && idle.is_none() {
            let n = ctx.arg_i64(j + 1)?;
            if !(0..=255).contains(&n) {
                return Err(Error::err("Invalid FREQ value, must be >= 0 and <= 255"));
            }
            freq = Some(n);
            j += 1;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    if !replace && ctx.keys.lookup(key).is_some() {
        return Err(Error::reply(
            "BUSYKEY Target key name already exists.".into(),
        ));
    }
    let mut ttl = ctx.arg_i64(2)?;
    if ttl < 0 {
        return Err(Error::err("Invalid TTL value, must be >= 0"));
    }
    let payload = ctx.arg(3);
    if !dump::verify(payload) {
        return Err(Error::err("DUMP payload version or checksum are wrong"));
    }
    let limits = ctx.server.config.hot.encoding_limits();
    let value = dump::restore(payload, &limits).map_err(|_| Error::err("Bad data format"))?;
    let deleted = replace && ctx.keys.delete(key);
    let now = ctx.keys.now_ms;
    if ttl != 0 && !absttl {
        ttl = ttl.saturating_add(now);
    }
    if ttl != 0 && ctx.keys.already_expired(ttl) {
        // Already expired: the key is gone (a DEL on the effect stream if it existed).
        if deleted {
            ctx.keys.propagate_as(vec![b"DEL".to_vec(), key.to_vec()]);
            ctx.notify(notify::GENERIC, "del", key);
        } else {
            ctx.keys.propagate_none();
        }
        ctx.out.ok();
        return Ok(());
    }
    ctx.keys
        .set(key, value, if ttl == 0 { NO_EXPIRE } else { ttl });
    if let Some(idle) = idle {
        if let Some(entry) = ctx.keys.lookup(key) {
            entry.access_s = ((now / 1000).saturating_sub(idle)).max(0) as u32;
        }
    }
    // FREQ is accepted but no LFU counter is kept yet (see docs/COMPATIBILITY.md).
    let _ = freq;
    if ttl != 0 && !absttl {
        // Replicas and the AOF get the absolute expiry.
        let mut effect: Vec<Vec<u8>> = ctx.cmd.args().map(<[u8]>::to_vec).collect();
        effect[2] = ttl.to_string().into_bytes();
        effect.push(b"ABSTTL".to_vec());
        ctx.keys.propagate_as(effect);
    }
    ctx.notify(notify::GENERIC, "restore", key);
    ctx.out.ok();
    Ok(())
}
