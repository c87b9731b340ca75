//! Expiry commands: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX, XX, GT, LT), TTL,
//! PTTL, EXPIRETIME, PEXPIRETIME and PERSIST.
//!
//! The four setters share one routine parameterised by unit and base time, as in Redis,
//! so their option checks, overflow errors and "a time in the past deletes the key" rule
//! cannot drift apart. The arithmetic on client numbers is checked: it never wraps.
//!
//! Effects (as Redis 7.0): a TTL set is propagated as `PEXPIREAT key <unix ms>` with the
//! NX/XX/GT/LT options as sent, so a replay days later sets the same deadline; a past
//! deadline as the DEL (UNLINK under `lazyfree-lazy-expire`) it did; nothing when the
//! key was missing or a condition refused.

use std::sync::atomic::Ordering;

use lodestone_store::NO_EXPIRE;

use crate::ctx::Ctx;
use crate::errors::{CmdResult, Error};
use crate::lazyfree;
use crate::notify;

/// What the time argument counts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Seconds,
    Millis,
}

/// Whether the time argument is relative to now or a Unix time.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Base {
    Now,
    Epoch,
}

/// The NX / XX / GT / LT conditions.
#[derive(Clone, Copy, Default)]
struct Conditions {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl Conditions {
    /// Whether a key whose expiry is `current` (or `NO_EXPIRE`) may get `when`. A key
    /// without a TTL counts as expiring never: GT always fails on it, LT always passes.
    fn allow(&self, current: i64, when: i64) -> bool {
        let has_ttl = current != NO_EXPIRE;
        !(self.nx && has_ttl
            || self.xx && !has_ttl
            || self.gt && (!has_ttl || when <= current)
            || self.lt && has_ttl && when >= current)
    }
}

pub fn expire(ctx: &mut Ctx) -> CmdResult {
    set_expiry(ctx, Unit::Seconds, Base::Now)
}

pub fn pexpire(ctx: &mut Ctx) -> CmdResult {
    set_expiry(ctx, Unit::Millis, Base::Now)
}

pub fn expireat(ctx: &mut Ctx) -> CmdResult {
    set_expiry(ctx, Unit::Seconds, Base::Epoch)
}

pub fn pexpireat(ctx: &mut Ctx) -> CmdResult {
    set_expiry(ctx, Unit::Millis, Base::Epoch)
}

/// Redis's order: options first, then the number, then the key.
fn set_expiry(ctx: &mut Ctx, unit: Unit, base: Base) -> CmdResult {
    let conditions = parse_conditions(ctx)?;
    let when = deadline_ms(ctx, unit, base)?;
    let cmd = ctx.cmd;
    let key = cmd.arg(1);
    let Some(entry) = ctx.keys.lookup(key) else {
        ctx.out.integer(0);
        return Ok(());
    };
    if !conditions.allow(entry.expire_ms, when) {
        ctx.out.integer(0);
        return Ok(());
    }
    if ctx.keys.already_expired(when) {
        // A deadline already past deletes the key (and is not an expiration).
        let db = ctx.keys.db;
        let lazy = ctx
            .server
            .config
            .hot
            .lazyfree_lazy_expire
            .load(Ordering::Relaxed);
        if let Some(old) = ctx.keys.take_in(db, key) {
            lazyfree::dispose(old, || lazy);
        }
        let deletion = ctx.keys.expiry_deletion(key);
        ctx.keys.propagate_as(deletion);
        ctx.notify(notify::GENERIC, "del", key);
    } else {
        ctx.keys.raw_db(key).set_expire(key, when);
        ctx.keys.modified(key);
        if !(unit == Unit::Millis && base == Base::Epoch) {
            // PEXPIREAT goes as sent; the others as PEXPIREAT of the absolute time.
            let mut effect: Vec<Vec<u8>> = cmd.args().map(<[u8]>::to_vec).collect();
            effect[0] = b"PEXPIREAT".to_vec();
            effect[2] = when.to_string().into_bytes();
            ctx.keys.propagate_as(effect);
        }
        ctx.notify(notify::GENERIC, "expire", key);
    }
    ctx.out.integer(1);
    Ok(())
}

fn parse_conditions(ctx: &Ctx) -> Result<Conditions, Error> {
    let mut c = Conditions::default();
    for i in 3..ctx.argc() {
        let flag = match ctx.arg(i).to_ascii_lowercase().as_slice() {
            b"nx" => &mut c.nx,
            b"xx" => &mut c.xx,
            b"gt" => &mut c.gt,
            b"lt" => &mut c.lt,
            _ => {
                let opt = String::from_utf8_lossy(ctx.arg(i)).into_owned();
                return Err(Error::err(format!("Unsupported option {opt}")));
            }
        };
        *flag = true;
    }
    if c.nx && (c.xx || c.gt || c.lt) {
        return Err(Error::err(
            "NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if c.gt && c.lt {
        return Err(Error::err(
            "GT and LT options at the same time are not compatible",
        ));
    }
    Ok(c)
}

/// The absolute deadline in Unix milliseconds, or Redis's error when the conversion or
/// the addition of the base time would overflow.
fn deadline_ms(ctx: &Ctx, unit: Unit, base: Base) -> Result<i64, Error> {
    let n = ctx.arg_i64(2)?;
    let invalid = || Error::InvalidExpireTime(ctx.spec.name);
    let ms = match unit {
        Unit::Seconds => n.checked_mul(1000).ok_or_else(invalid)?,
        Unit::Millis => n,
    };
    let base_ms = match base {
        Base::Now => ctx.keys.now_ms,
        Base::Epoch => 0,
    };
    ms.checked_add(base_ms).ok_or_else(invalid)
}

pub fn ttl(ctx: &mut Ctx) -> CmdResult {
    report_ttl(ctx, Unit::Seconds, Base::Now)
}

pub fn pttl(ctx: &mut Ctx) -> CmdResult {
    report_ttl(ctx, Unit::Millis, Base::Now)
}

pub fn expiretime(ctx: &mut Ctx) -> CmdResult {
    report_ttl(ctx, Unit::Seconds, Base::Epoch)
}

pub fn pexpiretime(ctx: &mut Ctx) -> CmdResult {
    report_ttl(ctx, Unit::Millis, Base::Epoch)
}

/// -2 for a missing key, -1 without TTL, else the remaining time or the deadline.
/// Seconds are rounded to the nearest, as Redis does.
fn report_ttl(ctx: &mut Ctx, unit: Unit, base: Base) -> CmdResult {
    let cmd = ctx.cmd;
    let now = ctx.keys.now_ms;
    let reply = match ctx.keys.peek_read(cmd.arg(1)) {
        None => -2,
        Some(e) if e.expire_ms == NO_EXPIRE => -1,
        Some(e) => {
            let ms = match base {
                Base::Now => e.expire_ms.saturating_sub(now).max(0),
                Base::Epoch => e.expire_ms.max(0),
            };
            match unit {
                Unit::Millis => ms,
                // Wide arithmetic: a deadline near i64::MAX must not wrap when rounded.
                Unit::Seconds => ((i128::from(ms) + 500) / 1000) as i64,
            }
        }
    };
    ctx.out.integer(reply);
    Ok(())
}

pub fn persist(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let key = cmd.arg(1);
    let had_ttl = ctx
        .keys
        .lookup(key)
        .is_some_and(|e| e.expire_ms != NO_EXPIRE);
    if had_ttl {
        ctx.keys.raw_db(key).set_expire(key, NO_EXPIRE);
        ctx.keys.modified(key);
        ctx.notify(notify::GENERIC, "persist", key);
    }
    ctx.out.integer(i64::from(had_ttl));
    Ok(())
}
