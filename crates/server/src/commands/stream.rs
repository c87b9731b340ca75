//! Streams: adding, reading by range, deleting and trimming entries (XADD, XLEN, XRANGE,
//! XREVRANGE, XDEL, XTRIM, XSETID), plus the ID parsing and entry replies the other
//! stream modules share. Consumer groups are in `stream_group`, XREAD and XREADGROUP
//! in `stream_read`, XINFO in `stream_info`; the data structure is
//! `lodestone_store::stream`.
//!
//! Handlers check their arguments in Redis 7.0's order (`t_stream.c`), since the first
//! error a client sees must be Redis's. Effects are deterministic: XADD propagates the
//! ID it chose, and a `~` trim propagates as the exact trim it did (`=` and the
//! resulting length or first ID), so a replica or AOF replay ends with the same
//! entries.

use lodestone_resp::ReplyWriter;
use lodestone_store::list::Elem;
use lodestone_store::stream::{EntryRef, Trim, TrimTo};
use lodestone_store::{Stream, StreamId, Value, NO_EXPIRE};
use lodestone_util::number::parse_i64;

use super::string::is_word;
use crate::ctx::{Ctx, KeyAccess};
use crate::errors::{c_string, wrong_arity, CmdResult, Error};
use crate::notify;

/// `ERR Invalid stream ID specified as stream command argument`.
pub(crate) fn bad_id() -> Error {
    Error::err("Invalid stream ID specified as stream command argument")
}

/// Redis's `string2ull`: a strict integer, else what C's `strtoull` accepts whole
/// (leading blanks, a sign, leading zeros), without overflow.
fn parse_ull(s: &[u8]) -> Option<u64> {
    if let Some(n) = parse_i64(s) {
        return u64::try_from(n).ok();
    }
    let mut rest = s;
    while let [b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r', tail @ ..] = rest {
        rest = tail;
    }
    let negative = match rest {
        [b'-', tail @ ..] => {
            rest = tail;
            true
        }
        [b'+', tail @ ..] => {
            rest = tail;
            false
        }
        _ => false,
    };
    if rest.is_empty() || !rest.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut value: u64 = 0;
    for &d in rest {
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    // strtoull negates in unsigned arithmetic.
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// An XADD ID argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AddId {
    /// `*`.
    Auto,
    /// `ms-*`.
    AutoSeq(u64),
    Explicit(StreamId),
}

/// Parses a stream ID. `strict` refuses `-` and `+`; `missing_seq` completes a bare
/// `ms`; `auto_seq` accepts `ms-*` (XADD only).
fn parse_id_generic(
    arg: &[u8],
    strict: bool,
    missing_seq: u64,
    auto_seq: bool,
) -> Result<AddId, Error> {
    if arg.len() > 127 {
        return Err(bad_id());
    }
    // Redis parses a C-string copy: an ID ends at its first NUL.
    let arg = c_string(arg);
    if arg == b"-" || arg == b"+" {
        if strict {
            return Err(bad_id());
        }
        let id = if arg == b"-" {
            StreamId::MIN
        } else {
            StreamId::MAX
        };
        return Ok(AddId::Explicit(id));
    }
    let (ms_part, seq_part) = match arg.iter().position(|&b| b == b'-') {
        Some(dash) => (&arg[..dash], Some(&arg[dash + 1..])),
        None => (arg, None),
    };
    let ms = parse_ull(ms_part).ok_or_else(bad_id)?;
    match seq_part {
        None => Ok(AddId::Explicit(StreamId::new(ms, missing_seq))),
        Some(b"*") if auto_seq => Ok(AddId::AutoSeq(ms)),
        Some(seq) => {
            let seq = parse_ull(seq).ok_or_else(bad_id)?;
            Ok(AddId::Explicit(StreamId::new(ms, seq)))
        }
    }
}

fn explicit(id: AddId) -> StreamId {
    match id {
        AddId::Explicit(id) => id,
        AddId::AutoSeq(ms) => StreamId::new(ms, 0),
        AddId::Auto => StreamId::MIN,
    }
}

/// A strict ID (`-` and `+` refused), a bare `ms` meaning `ms-0`.
pub(crate) fn parse_strict_id(arg: &[u8]) -> Result<StreamId, Error> {
    parse_id_generic(arg, true, 0, false).map(explicit)
}

/// An ID where `-` and `+` mean the minimum and maximum.
pub(crate) fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, Error> {
    parse_id_generic(arg, false, missing_seq, false).map(explicit)
}

/// A range bound: `(` makes it exclusive (the rest parsed strictly).
fn parse_interval_id(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), Error> {
    if arg.len() > 1 && arg[0] == b'(' {
        let id = parse_id_generic(&arg[1..], true, missing_seq, false).map(explicit)?;
        return Ok((id, true));
    }
    Ok((parse_id(arg, missing_seq)?, false))
}

/// The inclusive start of an interval given as `start` (XRANGE, XPENDING, XAUTOCLAIM).
pub(crate) fn parse_range_start(arg: &[u8]) -> Result<StreamId, Error> {
    let (id, exclusive) = parse_interval_id(arg, 0)?;
    if !exclusive {
        return Ok(id);
    }
    id.next()
        .ok_or_else(|| Error::err("invalid start ID for the interval"))
}

/// The inclusive end of an interval given as `end`.
pub(crate) fn parse_range_end(arg: &[u8]) -> Result<StreamId, Error> {
    let (id, exclusive) = parse_interval_id(arg, u64::MAX)?;
    if !exclusive {
        return Ok(id);
    }
    id.prev()
        .ok_or_else(|| Error::err("invalid end ID for the interval"))
}

/// Writes a field or value as a bulk string.
pub(crate) fn write_elem(out: &mut ReplyWriter, elem: Elem) {
    match elem {
        Elem::Int(n) => out.bulk_integer(n),
        Elem::Bytes(b) => out.bulk(b),
    }
}

pub(crate) fn write_id(out: &mut ReplyWriter, id: StreamId) {
    out.bulk(&id.to_text());
}

/// One entry: `[id, [field, value, ...]]`.
pub(crate) fn write_entry(out: &mut ReplyWriter, entry: &EntryRef) {
    out.array(2);
    write_id(out, entry.id);
    out.array(entry.len() * 2);
    for (field, value) in entry.fields() {
        write_elem(out, field);
        write_elem(out, value);
    }
}

/// Entries from `start` to `end` (reverse order with `rev`), at most `count` (0: all).
pub(crate) fn write_range(
    out: &mut ReplyWriter,
    stream: &Stream,
    start: StreamId,
    end: StreamId,
    rev: bool,
    count: usize,
) {
    let limit = if count == 0 { usize::MAX } else { count };
    let entries: Vec<EntryRef> = stream.range(start, end, rev).take(limit).collect();
    out.array(entries.len());
    for entry in &entries {
        write_entry(out, entry);
    }
}

/// The stream at `key` for writing: `Ok(None)` when missing, WRONGTYPE otherwise.
pub(crate) fn write_stream<'c>(
    keys: &'c mut KeyAccess<'_>,
    key: &[u8],
) -> Result<Option<&'c mut Stream>, Error> {
    match keys.lookup(key) {
        None => Ok(None),
        Some(entry) => match &mut entry.value {
            Value::Stream(s) => Ok(Some(s)),
            _ => Err(Error::WrongType),
        },
    }
}

/// The stream at `key` for reading (counts a keyspace hit or miss).
pub(crate) fn read_stream<'c>(
    keys: &'c mut KeyAccess<'_>,
    key: &[u8],
) -> Result<Option<&'c mut Stream>, Error> {
    match keys.lookup_read(key) {
        None => Ok(None),
        Some(entry) => match &mut entry.value {
            Value::Stream(s) => Ok(Some(s)),
            _ => Err(Error::WrongType),
        },
    }
}

/// Creates an empty stream at `key` (a `new` event; wakes XREAD waiters).
pub(crate) fn create_stream(ctx: &mut Ctx, key: &[u8]) {
    ctx.keys
        .set(key, Value::Stream(Box::new(Stream::new())), NO_EXPIRE);
}

/// XADD and XTRIM options.
struct AddTrimArgs {
    trim: Option<TrimTo>,
    approx: bool,
    limit: u64,
    /// Where the threshold is (its `~`/`=` is just before it when given).
    threshold_at: usize,
    approx_at: Option<usize>,
    nomkstream: bool,
    /// XADD: the ID and where it is.
    id: AddId,
    id_at: usize,
}

/// Parses XADD (`xadd`) or XTRIM options as Redis's `streamParseAddOrTrimArgsOrReply`.
fn parse_add_or_trim(ctx: &Ctx, xadd: bool) -> Result<AddTrimArgs, Error> {
    let argc = ctx.argc();
    let mut args = AddTrimArgs {
        trim: None,
        approx: false,
        limit: 0,
        threshold_at: 0,
        approx_at: None,
        nomkstream: false,
        id: AddId::Auto,
        id_at: 0,
    };
    let mut limit: i64 = 0;
    let mut limit_given = false;
    let mut i = 2;
    while i < argc {
        let more = argc - 1 - i;
        let opt = ctx.arg(i);
        if xadd && c_string(opt) == b"*" {
            break;
        } else if (is_word(opt, "maxlen") || is_word(opt, "minid")) && more > 0 {
            if args.trim.is_some() {
                return Err(Error::err(
                    "syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            args.approx = false;
            args.approx_at = None;
            let next = c_string(ctx.arg(i + 1));
            if more >= 2 && (next == b"~" || next == b"=") {
                args.approx = next == b"~";
                args.approx_at = Some(i + 1);
                i += 1;
            }
            let threshold = ctx.arg(i + 1);
            args.trim = Some(if is_word(opt, "maxlen") {
                let n = parse_i64(threshold).ok_or(Error::NotInteger)?;
                if n < 0 {
                    return Err(Error::err("The MAXLEN argument must be >= 0."));
                }
                TrimTo::MaxLen(n as u64)
            } else {
                TrimTo::MinId(parse_strict_id(threshold)?)
            });
            i += 1;
            args.threshold_at = i;
        } else if is_word(opt, "limit") && more > 0 {
            limit = parse_i64(ctx.arg(i + 1)).ok_or(Error::NotInteger)?;
            if limit < 0 {
                return Err(Error::err("The LIMIT argument must be >= 0."));
            }
            limit_given = true;
            i += 1;
        } else if xadd && is_word(opt, "nomkstream") {
            args.nomkstream = true;
        } else if xadd {
            args.id = parse_id_generic(opt, true, 0, true)?;
            break;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    args.id_at = i;
    if limit != 0 && args.trim.is_none() {
        return Err(Error::err(
            "syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && args.trim.is_none() {
        return Err(Error::err(
            "syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if ctx.client.replaying {
        // The AOF (like a master) sends the exact trim it did: LIMIT is not enforced,
        // and comes beside `=` (Redis keeps it when it rewrites `~`).
        args.limit = 0;
    } else if limit_given {
        if !args.approx {
            return Err(Error::err(
                "syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
        args.limit = limit as u64;
    } else if args.approx {
        let per_node = ctx.server.config.hot.stream_node_limits().max_entries;
        let limit = per_node.saturating_mul(100);
        args.limit = if limit == 0 {
            10_000
        } else {
            limit.min(1_000_000)
        };
    }
    Ok(args)
}

/// Rewrites a `~` trim for the effect stream as the exact trim it performed.
fn exact_trim_args(args: &AddTrimArgs, stream: &Stream, out: &mut [Vec<u8>]) {
    let Some(approx_at) = args.approx_at.filter(|_| args.approx) else {
        return;
    };
    out[approx_at] = b"=".to_vec();
    out[args.threshold_at] = match args.trim {
        Some(TrimTo::MaxLen(_)) => stream.len().to_string().into_bytes(),
        _ => stream.edge_id(true, false).to_text(),
    };
}

pub fn xadd(ctx: &mut Ctx) -> CmdResult {
    let args = parse_add_or_trim(ctx, true)?;
    let fields_at = args.id_at + 1;
    let field_args = ctx.argc().saturating_sub(fields_at);
    if field_args < 2 || !field_args.is_multiple_of(2) {
        return Err(Error::reply(wrong_arity("xadd")));
    }
    if args.id == AddId::Explicit(StreamId::MIN) {
        return Err(Error::err(
            "The ID specified in XADD must be greater than 0-0",
        ));
    }
    let key = ctx.arg(1);
    let limits = ctx.server.config.hot.stream_node_limits();
    let now = u64::try_from(ctx.keys.now_ms).unwrap_or(0);
    if write_stream(ctx.keys, key)?.is_none() {
        if args.nomkstream {
            ctx.out.null();
            return Ok(());
        }
        create_stream(ctx, key);
    }
    let fields: Vec<&[u8]> = (fields_at..ctx.argc()).map(|i| ctx.arg(i)).collect();
    // The effect-stream form, built only when something reads the stream.
    let sent: Option<Vec<Vec<u8>>> = ctx
        .keys
        .track_effects
        .then(|| ctx.cmd.args().map(<[u8]>::to_vec).collect());
    let Some(stream) = write_stream(ctx.keys, key)? else {
        return Ok(());
    };
    if stream.last_id == StreamId::MAX {
        ctx.keys.propagate_none();
        return Err(Error::err(
            "The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let last = stream.last_id;
    let id = match args.id {
        AddId::Auto if now > last.ms => Some(StreamId::new(now, 0)),
        AddId::Auto => last.next(),
        AddId::AutoSeq(ms) if ms == last.ms => {
            last.seq.checked_add(1).map(|s| StreamId::new(ms, s))
        }
        AddId::AutoSeq(ms) => Some(StreamId::new(ms, 0)),
        AddId::Explicit(id) => Some(id),
    }
    .filter(|id| *id > last);
    let Some(id) = id else {
        ctx.keys.propagate_none();
        return Err(Error::err(
            "The ID specified in XADD is equal or smaller than the target stream top item",
        ));
    };
    if fields.iter().map(|f| f.len()).sum::<usize>() > lodestone_store::stream::NODE_MAX_SIZE {
        ctx.keys.propagate_none();
        return Err(Error::err("Elements are too large to be stored"));
    }
    stream.append(id, &fields, limits);
    let mut trimmed = 0;
    if let Some(to) = args.trim {
        trimmed = stream.trim(Trim {
            to,
            approx: args.approx,
            limit: args.limit,
        });
    }
    let rewrite_id = !matches!(args.id, AddId::Explicit(_));
    if let Some(mut effect) = sent.filter(|_| rewrite_id || args.approx) {
        if rewrite_id {
            effect[args.id_at] = id.to_text();
        }
        let stream: &Stream = stream;
        exact_trim_args(&args, stream, &mut effect);
        ctx.keys.propagate_as(effect);
    }
    write_id(ctx.out, id);
    ctx.keys.modified(key);
    ctx.notify(notify::STREAM, "xadd", key);
    if trimmed > 0 {
        ctx.notify(notify::STREAM, "xtrim", key);
    }
    let db = ctx.keys.db;
    ctx.keys.signal_ready(db, key);
    Ok(())
}

pub fn xtrim(ctx: &mut Ctx) -> CmdResult {
    let args = parse_add_or_trim(ctx, false)?;
    let key = ctx.arg(1);
    let sent: Option<Vec<Vec<u8>>> = ctx
        .keys
        .track_effects
        .then(|| ctx.cmd.args().map(<[u8]>::to_vec).collect());
    let Some(stream) = write_stream(ctx.keys, key)? else {
        ctx.out.integer(0);
        return Ok(());
    };
    let Some(to) = args.trim else {
        return Err(Error::Syntax);
    };
    let removed = stream.trim(Trim {
        to,
        approx: args.approx,
        limit: args.limit,
    });
    if removed > 0 {
        if let Some(mut effect) = sent.filter(|_| args.approx) {
            let stream: &Stream = stream;
            exact_trim_args(&args, stream, &mut effect);
            ctx.keys.propagate_as(effect);
        }
        ctx.keys.modified(key);
        ctx.keys.dirty += removed - 1;
        ctx.notify(notify::STREAM, "xtrim", key);
    }
    ctx.out.integer(removed as i64);
    Ok(())
}

pub fn xlen(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    let len = read_stream(ctx.keys, key)?.map_or(0, |s| s.len());
    ctx.out.integer(len as i64);
    Ok(())
}

fn range_command(ctx: &mut Ctx, rev: bool) -> CmdResult {
    let (start_at, end_at) = if rev { (3, 2) } else { (2, 3) };
    let start = parse_range_start(ctx.arg(start_at))?;
    let end = parse_range_end(ctx.arg(end_at))?;
    let mut count: Option<i64> = None;
    let mut i = 4;
    while i < ctx.argc() {
        let more = ctx.argc() - 1 - i;
        if is_word(ctx.arg(i), "count") && more > 0 {
            count = Some(ctx.arg_i64(i + 1)?.max(0));
            i += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    let key = ctx.arg(1);
    let Some(stream) = read_stream(ctx.keys, key)? else {
        ctx.out.array(0);
        return Ok(());
    };
    if count == Some(0) {
        ctx.out.null_array();
        return Ok(());
    }
    let count = count.map_or(0, |c| usize::try_from(c).unwrap_or(usize::MAX));
    write_range(ctx.out, stream, start, end, rev, count);
    Ok(())
}

pub fn xrange(ctx: &mut Ctx) -> CmdResult {
    range_command(ctx, false)
}

pub fn xrevrange(ctx: &mut Ctx) -> CmdResult {
    range_command(ctx, true)
}

pub fn xdel(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.arg(1);
    if write_stream(ctx.keys, key)?.is_none() {
        ctx.out.integer(0);
        return Ok(());
    }
    let ids = (2..ctx.argc())
        .map(|i| parse_strict_id(ctx.arg(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let Some(stream) = write_stream(ctx.keys, key)? else {
        return Ok(());
    };
    let deleted = stream.delete_ids(&ids);
    if deleted > 0 {
        ctx.keys.modified(key);
        ctx.keys.dirty += deleted - 1;
        ctx.notify(notify::STREAM, "xdel", key);
    }
    ctx.out.integer(deleted as i64);
    Ok(())
}

pub fn xsetid(ctx: &mut Ctx) -> CmdResult {
    let id = parse_strict_id(ctx.arg(2))?;
    let mut entries_added: Option<u64> = None;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < ctx.argc() {
        let more = ctx.argc() - 1 - i;
        let opt = ctx.arg(i);
        if is_word(opt, "entriesadded") && more > 0 {
            let n = ctx.arg_i64(i + 1)?;
            if n < 0 {
                return Err(Error::err("entries_added must be positive"));
            }
            entries_added = Some(n as u64);
        } else if is_word(opt, "maxdeletedid") && more > 0 {
            max_deleted = parse_strict_id(ctx.arg(i + 1))?;
            if id < max_deleted {
                return Err(Error::err(
                    "The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
        } else {
            return Err(Error::Syntax);
        }
        i += 2;
    }
    let key = ctx.arg(1);
    let Some(stream) = write_stream(ctx.keys, key)? else {
        return Err(Error::NoSuchKey);
    };
    if !stream.is_empty() {
        if id < stream.last_live_id() {
            return Err(Error::err(
                "The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added.is_some_and(|n| n < stream.len()) {
            return Err(Error::err(
                "The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    stream.last_id = id;
    if let Some(n) = entries_added {
        stream.entries_added = n;
    }
    if max_deleted != StreamId::MIN {
        stream.max_deleted_id = max_deleted;
    }
    ctx.out.ok();
    ctx.keys.dirty += 1;
    ctx.notify(notify::STREAM, "xsetid", key);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_as_redis() {
        assert_eq!(parse_strict_id(b"5").unwrap(), StreamId::new(5, 0));
        assert_eq!(parse_strict_id(b"5-7").unwrap(), StreamId::new(5, 7));
        assert_eq!(parse_strict_id(b"007-+1").unwrap(), StreamId::new(7, 1));
        assert!(parse_strict_id(b"-").is_err());
        assert!(parse_strict_id(b"1-2-3").is_err());
        assert!(parse_strict_id(b"-5").is_err());
        assert!(parse_strict_id(b"5-").is_err());
        assert!(parse_strict_id(b"18446744073709551616").is_err());
        assert_eq!(
            parse_strict_id(b"18446744073709551615-18446744073709551615").unwrap(),
            StreamId::MAX
        );
        assert_eq!(parse_id(b"+", 0).unwrap(), StreamId::MAX);
        assert_eq!(parse_range_end(b"5").unwrap(), StreamId::new(5, u64::MAX));
        assert_eq!(parse_range_start(b"(5-1").unwrap(), StreamId::new(5, 2));
        assert!(parse_range_start(b"(-").is_err());
        assert!(parse_range_end(b"(0-0").is_err());
        assert_eq!(
            parse_id_generic(b"5-*", true, 0, true).unwrap(),
            AddId::AutoSeq(5)
        );
    }
}
