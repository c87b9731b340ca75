//! The string commands: GET/SET and their variants, multi-key MGET/MSET, in-place edits
//! (APPEND, SETRANGE), ranges, and the integer and float counters.
//!
//! Every handler validates all of its arguments before writing any reply, in the order
//! Redis does, so the first error a client sees is the one Redis would send. Values keep
//! Redis's encodings (`int`/`embstr`/`raw`) because OBJECT ENCODING exposes them: whole
//! writes go through [`StrValue::from_bytes`], in-place edits through `make_raw`.
//!
//! The bit commands live in `bitmap` and `bitfield`, LCS in `lcs`; they are re-exported
//! here because the command table maps every string-group command to this module.

use std::sync::atomic::Ordering;

use lodestone_resp::{Command, ReplyWriter};
use lodestone_store::{Entry, StrBytes, StrValue, Value, NO_EXPIRE};
use lodestone_util::number::{incr_by_float, parse_i64, FloatIncrError};

use crate::ctx::Ctx;
use crate::errors::{wrong_arity, CmdResult, Error};
use crate::notify;

pub use super::bitfield::{bitfield, bitfield_ro};
pub use super::bitmap::{bitcount, bitop, bitpos, getbit, setbit};
pub use super::lcs::lcs;

/// The bytes of an argument up to its first NUL: Redis compares option words as C
/// strings, so `NX\0junk` is still `NX` there and must be here.
pub(crate) fn c_str(arg: &[u8]) -> &[u8] {
    match arg.iter().position(|&b| b == 0) {
        Some(nul) => &arg[..nul],
        None => arg,
    }
}

/// Whether an option argument names `word` (ASCII case-insensitive, C-string view).
pub(crate) fn is_word(arg: &[u8], word: &str) -> bool {
    c_str(arg).eq_ignore_ascii_case(word.as_bytes())
}

/// The largest string a client may build (`proto-max-bulk-len`).
pub(crate) fn max_string_len(ctx: &Ctx) -> i64 {
    ctx.server
        .config
        .hot
        .proto_max_bulk_len
        .load(Ordering::Relaxed)
}

/// Refuses a string that would grow past `proto-max-bulk-len`, before anything is
/// allocated (also catches arithmetic overflow of the new size).
fn check_string_length(max: i64, size: i64, append: i64) -> CmdResult {
    match size.checked_add(append) {
        Some(total) if total <= max => Ok(()),
        _ => Err(Error::StringTooLong),
    }
}

/// Writes a string value as a bulk reply.
pub(crate) fn reply_str(out: &mut ReplyWriter, value: &StrValue) {
    match value {
        StrValue::Int(n) => out.bulk_integer(*n),
        StrValue::Embstr(b) | StrValue::Raw(b) => out.bulk(b),
    }
}

/// GET's reply for `key`: the value or null, WRONGTYPE for other types.
fn reply_get(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    match ctx.keys.read_str(key)? {
        Some(value) => reply_str(ctx.out, value),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn get(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    reply_get(ctx, cmd.arg(1))
}

/// Which of the four expiry forms an option used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ExpireKind {
    Ex,
    Px,
    Exat,
    Pxat,
}

impl ExpireKind {
    fn from_word(word: &[u8]) -> Option<ExpireKind> {
        match word.to_ascii_uppercase().as_slice() {
            b"EX" => Some(ExpireKind::Ex),
            b"PX" => Some(ExpireKind::Px),
            b"EXAT" => Some(ExpireKind::Exat),
            b"PXAT" => Some(ExpireKind::Pxat),
            _ => None,
        }
    }

    fn in_seconds(self) -> bool {
        matches!(self, ExpireKind::Ex | ExpireKind::Exat)
    }

    fn is_absolute(self) -> bool {
        matches!(self, ExpireKind::Exat | ExpireKind::Pxat)
    }
}

/// An expiry option and its still unparsed argument.
#[derive(Clone, Copy)]
struct ExpireArg<'a> {
    kind: ExpireKind,
    arg: &'a [u8],
}

impl ExpireArg<'_> {
    /// The absolute expiry in Unix ms, with Redis's checks: the number must be positive,
    /// seconds must not overflow when turned into ms, nor the sum with the clock.
    fn resolve(self, now_ms: i64, command: &'static str) -> Result<i64, Error> {
        let n = parse_i64(self.arg).ok_or(Error::NotInteger)?;
        let invalid = Error::InvalidExpireTime(command);
        if n <= 0 || (self.kind.in_seconds() && n > i64::MAX / 1000) {
            return Err(invalid);
        }
        let mut ms = if self.kind.in_seconds() { n * 1000 } else { n };
        if !self.kind.is_absolute() {
            // Redis adds in C and detects the wrap by the sign; do the same.
            ms = ms.wrapping_add(now_ms);
        }
        if ms <= 0 {
            return Err(invalid);
        }
        Ok(ms)
    }
}

/// The options shared by SET and GETEX.
#[derive(Default)]
struct ExtOptions<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    expire: Option<ExpireArg<'a>>,
}

/// Parses SET (`for_set`) or GETEX options from argument `first` on. Redis accepts a
/// repeated option (`NX NX`, `EX 1 EX 2`: the last wins) but refuses any conflicting
/// pair, and any option of the other command, with a syntax error.
fn parse_ext_options(cmd: &Command, first: usize, for_set: bool) -> Result<ExtOptions<'_>, Error> {
    let mut o = ExtOptions::default();
    let mut j = first;
    while j < cmd.len() {
        let word = c_str(cmd.arg(j));
        let next = (j + 1 < cmd.len()).then(|| cmd.arg(j + 1));
        let no_expire = o.expire.is_none();
        if for_set && word.eq_ignore_ascii_case(b"NX") && !o.xx {
            o.nx = true;
        } else if for_set && word.eq_ignore_ascii_case(b"XX") && !o.nx {
            o.xx = true;
        } else if for_set && word.eq_ignore_ascii_case(b"GET") {
            o.get = true;
        } else if for_set && word.eq_ignore_ascii_case(b"KEEPTTL") && no_expire {
            o.keep_ttl = true;
        } else if !for_set && word.eq_ignore_ascii_case(b"PERSIST") && no_expire {
            o.persist = true;
        } else if let (Some(kind), Some(arg)) = (ExpireKind::from_word(word), next) {
            let same_or_none = o.expire.is_none_or(|e| e.kind == kind);
            if o.keep_ttl || o.persist || !same_or_none {
                return Err(Error::Syntax);
            }
            o.expire = Some(ExpireArg { kind, arg });
            j += 1;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// What SET-like commands did.
enum SetOutcome {
    Written,
    /// NX or XX prevented the write.
    Aborted,
}

/// The core of SET, SETEX and PSETEX: validates the expiry, answers GET, honours NX/XX,
/// and stores the value. The caller replies unless `opts.get` (already replied).
///
/// Effect (as Redis 7.0): with an expiry, `SET key value PXAT <unix ms>` whatever the
/// form and options, so a replay sets the same deadline; else the request without GET.
fn set_generic(
    ctx: &mut Ctx,
    key: &[u8],
    value: &[u8],
    opts: &ExtOptions,
) -> Result<SetOutcome, Error> {
    let command = ctx.spec.name;
    let expire_at = match opts.expire {
        Some(e) => Some(e.resolve(ctx.keys.now_ms, command)?),
        None => None,
    };
    if opts.get {
        reply_get(ctx, key)?;
    }
    let found = ctx.keys.lookup(key).is_some();
    if (opts.nx && found) || (opts.xx && !found) {
        return Ok(SetOutcome::Aborted);
    }
    let value_arg = value;
    let value = Value::Str(StrValue::from_bytes(value));
    if opts.keep_ttl {
        ctx.keys.set_keep_ttl(key, value);
    } else {
        // A past EXAT/PXAT is stored as is: the key is already expired and the next
        // access deletes it, as Redis does.
        ctx.keys.set(key, value, expire_at.unwrap_or(NO_EXPIRE));
    }
    ctx.notify(notify::STRING, "set", key);
    if let Some(at) = expire_at {
        ctx.keys.propagate_as(vec![
            b"SET".to_vec(),
            key.to_vec(),
            value_arg.to_vec(),
            b"PXAT".to_vec(),
            at.to_string().into_bytes(),
        ]);
        ctx.notify(notify::GENERIC, "expire", key);
    } else if opts.get {
        let cmd = ctx.cmd;
        let without_get = cmd
            .args()
            .enumerate()
            .filter(|(i, arg)| *i < 3 || !is_word(arg, "GET"))
            .map(|(_, arg)| arg.to_vec())
            .collect();
        ctx.keys.propagate_as(without_get);
    }
    Ok(SetOutcome::Written)
}

pub fn set(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let opts = parse_ext_options(cmd, 3, true)?;
    let outcome = set_generic(ctx, cmd.arg(1), cmd.arg(2), &opts)?;
    if !opts.get {
        match outcome {
            SetOutcome::Written => ctx.out.ok(),
            SetOutcome::Aborted => ctx.out.null(),
        }
    }
    Ok(())
}

pub fn setnx(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let opts = ExtOptions {
        nx: true,
        ..ExtOptions::default()
    };
    match set_generic(ctx, cmd.arg(1), cmd.arg(2), &opts)? {
        SetOutcome::Written => ctx.out.integer(1),
        SetOutcome::Aborted => ctx.out.integer(0),
    }
    Ok(())
}

/// SETEX and PSETEX: SET with a mandatory relative expiry given before the value.
fn set_with_expiry(ctx: &mut Ctx, kind: ExpireKind) -> CmdResult {
    let cmd = ctx.cmd;
    let opts = ExtOptions {
        expire: Some(ExpireArg {
            kind,
            arg: cmd.arg(2),
        }),
        ..ExtOptions::default()
    };
    set_generic(ctx, cmd.arg(1), cmd.arg(3), &opts)?;
    ctx.out.ok();
    Ok(())
}

pub fn setex(ctx: &mut Ctx) -> CmdResult {
    set_with_expiry(ctx, ExpireKind::Ex)
}

pub fn psetex(ctx: &mut Ctx) -> CmdResult {
    set_with_expiry(ctx, ExpireKind::Px)
}

pub fn getset(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let key = cmd.arg(1);
    reply_get(ctx, key)?;
    let value = Value::Str(StrValue::from_bytes(cmd.arg(2)));
    ctx.keys.set(key, value, NO_EXPIRE);
    ctx.keys
        .propagate_as(vec![b"SET".to_vec(), key.to_vec(), cmd.arg(2).to_vec()]);
    ctx.notify(notify::STRING, "set", key);
    Ok(())
}

pub fn getdel(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let key = cmd.arg(1);
    let found = match ctx.keys.read_str(key)? {
        Some(value) => {
            reply_str(ctx.out, value);
            true
        }
        None => {
            ctx.out.null();
            false
        }
    };
    if found {
        ctx.keys.remove(key);
        ctx.notify(notify::GENERIC, "del", key);
    }
    Ok(())
}

pub fn getex(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let key = cmd.arg(1);
    let opts = parse_ext_options(cmd, 2, false)?;
    let now = ctx.keys.now_ms;
    // Redis looks the key up before it validates the expiry: a missing key is a null
    // reply even with an invalid time.
    let expire_at = opts.expire.map(|e| e.resolve(now, ctx.spec.name));
    let Some(value) = ctx.keys.read_str(key)? else {
        ctx.out.null();
        return Ok(());
    };
    let expire_at = expire_at.transpose()?;
    reply_str(ctx.out, value);
    let absolute = opts.expire.is_some_and(|e| e.kind.is_absolute());
    // Never propagated as sent (Redis 7.0): as the DEL/UNLINK, PEXPIREAT or PERSIST it
    // amounted to, or not at all.
    match expire_at {
        Some(at) if absolute && ctx.keys.already_expired(at) => {
            ctx.keys.remove(key);
            let deletion = ctx.keys.expiry_deletion(key);
            ctx.keys.propagate_as(deletion);
            ctx.notify(notify::GENERIC, "del", key);
        }
        Some(at) => {
            ctx.keys.raw_db(key).set_expire(key, at);
            ctx.keys.modified(key);
            let at = at.to_string().into_bytes();
            ctx.keys
                .propagate_as(vec![b"PEXPIREAT".to_vec(), key.to_vec(), at]);
            ctx.notify(notify::GENERIC, "expire", key);
        }
        None if opts.persist => persist(ctx, key),
        None => {}
    }
    Ok(())
}

/// Removes the TTL of an existing key, counting a change only if it had one.
fn persist(ctx: &mut Ctx, key: &[u8]) {
    let db = ctx.keys.raw_db(key);
    if db.get(key).is_some_and(|e| e.expire_ms != NO_EXPIRE) {
        db.set_expire(key, NO_EXPIRE);
        ctx.keys.modified(key);
        ctx.keys
            .propagate_as(vec![b"PERSIST".to_vec(), key.to_vec()]);
        ctx.notify(notify::GENERIC, "persist", key);
    }
}

pub fn mget(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    ctx.out.array(cmd.len() - 1);
    for key in cmd.args().skip(1) {
        // Keys of other types read as null here, not as an error.
        match ctx.keys.lookup_read(key) {
            Some(Entry {
                value: Value::Str(value),
                ..
            }) => reply_str(ctx.out, value),
            _ => ctx.out.null(),
        }
    }
    Ok(())
}

/// MSET and MSETNX: pairs of key and value, all written or (NX) none.
fn mset_generic(ctx: &mut Ctx, nx: bool) -> Result<bool, Error> {
    let cmd = ctx.cmd;
    if cmd.len().is_multiple_of(2) {
        return Err(Error::Text(wrong_arity(ctx.spec.name).into()));
    }
    if nx
        && (1..cmd.len())
            .step_by(2)
            .any(|j| ctx.keys.exists(cmd.arg(j)))
    {
        return Ok(false);
    }
    for j in (1..cmd.len()).step_by(2) {
        let value = Value::Str(StrValue::from_bytes(cmd.arg(j + 1)));
        ctx.keys.set(cmd.arg(j), value, NO_EXPIRE);
        ctx.notify(notify::STRING, "set", cmd.arg(j));
    }
    Ok(true)
}

pub fn mset(ctx: &mut Ctx) -> CmdResult {
    mset_generic(ctx, false)?;
    ctx.out.ok();
    Ok(())
}

pub fn msetnx(ctx: &mut Ctx) -> CmdResult {
    let written = mset_generic(ctx, true)?;
    ctx.out.integer(i64::from(written));
    Ok(())
}

pub fn append(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let (key, tail) = (cmd.arg(1), cmd.arg(2));
    let max = max_string_len(ctx);
    let len = match ctx.keys.write_str(key)? {
        Some(value) => {
            check_string_length(max, value.len() as i64, tail.len() as i64)?;
            let buf = value.make_raw();
            buf.extend_from_slice(tail);
            let len = buf.len();
            ctx.keys.modified(key);
            len
        }
        None => {
            // A new key gets the argument as SET would store it (it may be `int`).
            let value = StrValue::from_bytes(tail);
            let len = value.len();
            ctx.keys.set(key, Value::Str(value), NO_EXPIRE);
            len
        }
    };
    ctx.notify(notify::STRING, "append", key);
    ctx.out.integer(len as i64);
    Ok(())
}

pub fn strlen(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let len = ctx.keys.read_str(cmd.arg(1))?.map_or(0, |v| v.len());
    ctx.out.integer(len as i64);
    Ok(())
}

/// The byte range GETRANGE returns for `start..=end` over a string of `len` bytes, with
/// Redis's negative-index rules; `None` for an empty result.
fn getrange_span(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    if (start < 0 && end < 0 && start > end) || len == 0 {
        return None;
    }
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end }.clamp(0, len - 1);
    (start <= end).then_some((start as usize, end as usize))
}

pub fn getrange(ctx: &mut Ctx) -> CmdResult {
    let start = ctx.arg_i64(2)?;
    let end = ctx.arg_i64(3)?;
    let cmd = ctx.cmd;
    let Some(value) = ctx.keys.read_str(cmd.arg(1))? else {
        ctx.out.bulk(b"");
        return Ok(());
    };
    let bytes = value.to_bytes();
    match getrange_span(start, end, bytes.len()) {
        Some((from, to)) => ctx.out.bulk(&bytes[from..=to]),
        None => ctx.out.bulk(b""),
    }
    Ok(())
}

pub fn substr(ctx: &mut Ctx) -> CmdResult {
    getrange(ctx)
}

pub fn setrange(ctx: &mut Ctx) -> CmdResult {
    let offset = ctx.arg_i64(2)?;
    if offset < 0 {
        return Err(Error::err("offset is out of range"));
    }
    let cmd = ctx.cmd;
    let (key, patch) = (cmd.arg(1), cmd.arg(3));
    let max = max_string_len(ctx);
    let len = match ctx.keys.write_str(key)? {
        Some(value) if patch.is_empty() => value.len(),
        Some(value) => {
            check_string_length(max, offset, patch.len() as i64)?;
            let len = overwrite(value.make_raw(), offset as usize, patch);
            ctx.keys.modified(key);
            ctx.notify(notify::STRING, "setrange", key);
            len
        }
        // Writing nothing on a missing key creates nothing.
        None if patch.is_empty() => 0,
        None => {
            check_string_length(max, offset, patch.len() as i64)?;
            let mut buf = StrBytes::new();
            let len = overwrite(&mut buf, offset as usize, patch);
            ctx.keys.set(key, Value::Str(StrValue::Raw(buf)), NO_EXPIRE);
            ctx.notify(notify::STRING, "setrange", key);
            len
        }
    };
    ctx.out.integer(len as i64);
    Ok(())
}

/// Copies `patch` into `buf` at `offset`, zero-padding as needed; returns the new length.
/// The caller has bounded `offset + patch.len()` by `proto-max-bulk-len`.
fn overwrite(buf: &mut StrBytes, offset: usize, patch: &[u8]) -> usize {
    let end = offset + patch.len();
    if buf.len() < end {
        buf.resize(end, 0);
    }
    buf[offset..end].copy_from_slice(patch);
    buf.len()
}

/// INCR, DECR, INCRBY, DECRBY: adds `delta` to the integer at the key (0 if missing).
/// An existing key keeps its TTL, as Redis overwrites the value in place.
fn incr_decr(ctx: &mut Ctx, delta: i64) -> CmdResult {
    let cmd = ctx.cmd;
    let key = cmd.arg(1);
    let result = match ctx.keys.write_str(key)? {
        Some(value) => {
            let current = value.as_i64().ok_or(Error::NotInteger)?;
            let result = current.checked_add(delta).ok_or(Error::Overflow)?;
            *value = StrValue::Int(result);
            ctx.keys.modified(key);
            result
        }
        None => {
            ctx.keys
                .set(key, Value::Str(StrValue::Int(delta)), NO_EXPIRE);
            delta
        }
    };
    ctx.notify(notify::STRING, "incrby", key);
    ctx.out.integer(result);
    Ok(())
}

pub fn incr(ctx: &mut Ctx) -> CmdResult {
    incr_decr(ctx, 1)
}

pub fn decr(ctx: &mut Ctx) -> CmdResult {
    incr_decr(ctx, -1)
}

pub fn incrby(ctx: &mut Ctx) -> CmdResult {
    let delta = ctx.arg_i64(2)?;
    incr_decr(ctx, delta)
}

pub fn decrby(ctx: &mut Ctx) -> CmdResult {
    let delta = ctx.arg_i64(2)?;
    // Negating i64::MIN is impossible; Redis has its own wording for it.
    let negated = delta
        .checked_neg()
        .ok_or_else(|| Error::err("decrement would overflow"))?;
    incr_decr(ctx, negated)
}

/// How Redis stores a number it printed itself: a plain string, never `int`.
fn printed_value(text: &[u8]) -> StrValue {
    match StrValue::from_bytes(text) {
        StrValue::Int(_) => StrValue::Embstr(StrBytes::from_slice(text)),
        other => other,
    }
}

fn float_error(e: FloatIncrError) -> Error {
    match e {
        FloatIncrError::NotAFloat | FloatIncrError::BadIncrement => Error::NotFloat,
        FloatIncrError::NanOrInfinity => Error::NanOrInfinity,
    }
}

pub fn incrbyfloat(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    let (key, increment) = (cmd.arg(1), cmd.arg(2));
    let result = match ctx.keys.write_str(key)? {
        Some(value) => {
            let result =
                incr_by_float(Some(value.to_bytes().as_ref()), increment).map_err(float_error)?;
            *value = printed_value(&result);
            ctx.keys.modified(key);
            result
        }
        None => {
            let result = incr_by_float(None, increment).map_err(float_error)?;
            ctx.keys
                .set(key, Value::Str(printed_value(&result)), NO_EXPIRE);
            result
        }
    };
    // Recorded as the value it left, keeping the TTL (Redis 7.0's form).
    ctx.keys.propagate_as(vec![
        b"SET".to_vec(),
        key.to_vec(),
        result.clone(),
        b"KEEPTTL".to_vec(),
    ]);
    ctx.notify(notify::STRING, "incrbyfloat", key);
    ctx.out.bulk(&result);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getrange_spans_follow_redis() {
        assert_eq!(getrange_span(0, -1, 5), Some((0, 4)));
        assert_eq!(getrange_span(-3, -1, 5), Some((2, 4)));
        assert_eq!(getrange_span(-1, -3, 5), None);
        assert_eq!(getrange_span(3, 1, 5), None);
        assert_eq!(getrange_span(-100, 100, 5), Some((0, 4)));
        assert_eq!(getrange_span(0, 0, 0), None);
        assert_eq!(getrange_span(i64::MIN, i64::MAX, 3), Some((0, 2)));
        assert_eq!(getrange_span(10, 20, 5), None);
    }

    #[test]
    fn expiry_validation() {
        let e = |kind, arg: &'static [u8]| ExpireArg { kind, arg }.resolve(1000, "set");
        assert_eq!(e(ExpireKind::Ex, b"1"), Ok(2000));
        assert_eq!(e(ExpireKind::Pxat, b"5"), Ok(5));
        assert_eq!(
            e(ExpireKind::Ex, b"0"),
            Err(Error::InvalidExpireTime("set"))
        );
        assert_eq!(
            e(ExpireKind::Ex, b"9223372036854775"),
            Err(Error::InvalidExpireTime("set"))
        );
        assert_eq!(
            e(ExpireKind::Px, b"9223372036854775807"),
            Err(Error::InvalidExpireTime("set"))
        );
        assert_eq!(e(ExpireKind::Px, b"x"), Err(Error::NotInteger));
    }

    #[test]
    fn float_results_are_never_int_encoded() {
        assert_eq!(printed_value(b"3").encoding(), "embstr");
        assert_eq!(printed_value(&[b'1'; 45]).encoding(), "raw");
    }
}
