//! SORT and SORT_RO over lists, sets and sorted sets, with Redis's options: BY (weights
//! from other keys or hash fields, or a constant pattern meaning "do not sort"), LIMIT,
//! GET (`#` for the element itself, `key*` or `key*->field`), ASC/DESC, ALPHA, STORE.
//!
//! BY and GET name keys only the data reveals, so both commands lock every shard (the
//! table flags them so). The order of ties follows Redis: equal numeric weights fall back
//! to comparing the elements' bytes, so a result never depends on a set's inner order.

use std::cmp::Ordering;

use lodestone_store::{ListValue, Value, NO_EXPIRE};

use crate::ctx::Ctx;
use crate::errors::{CmdResult, Error};

pub fn sort(ctx: &mut Ctx) -> CmdResult {
    sort_generic(ctx, false)
}

pub fn sort_ro(ctx: &mut Ctx) -> CmdResult {
    sort_generic(ctx, true)
}

/// The parsed options of one SORT.
struct Options<'a> {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    by: Option<&'a [u8]>,
    /// A constant BY pattern: keep the stored order.
    dont_sort: bool,
    gets: Vec<&'a [u8]>,
    store: Option<&'a [u8]>,
}

fn parse_options<'a>(ctx: &Ctx<'a, '_>, readonly: bool) -> Result<Options<'a>, Error> {
    let cmd = ctx.cmd;
    let mut options = Options {
        desc: false,
        alpha: false,
        limit: None,
        by: None,
        dont_sort: false,
        gets: Vec::new(),
        store: None,
    };
    let mut j = 2;
    while j < cmd.len() {
        let left = cmd.len() - j - 1;
        let word = cmd.arg(j);
        if word.eq_ignore_ascii_case(b"asc") {
            options.desc = false;
        } else if word.eq_ignore_ascii_case(b"desc") {
            options.desc = true;
        } else if word.eq_ignore_ascii_case(b"alpha") {
            options.alpha = true;
        } else if word.eq_ignore_ascii_case(b"limit") && left >= 2 {
            let start = ctx.arg_i64(j + 1)?;
            let count = ctx.arg_i64(j + 2)?;
            options.limit = Some((start, count));
            j += 2;
        } else if !readonly && word.eq_ignore_ascii_case(b"store") && left >= 1 {
            options.store = Some(cmd.arg(j + 1));
            j += 1;
        } else if word.eq_ignore_ascii_case(b"by") && left >= 1 {
            let pattern = cmd.arg(j + 1);
            options.dont_sort = !pattern.contains(&b'*');
            options.by = Some(pattern);
            j += 1;
        } else if word.eq_ignore_ascii_case(b"get") && left >= 1 {
            options.gets.push(cmd.arg(j + 1));
            j += 1;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    Ok(options)
}

/// One element to sort and what it is compared by.
struct Item {
    element: Vec<u8>,
    score: f64,
    /// The BY value for ALPHA sorting (None: missing, sorts first).
    by_text: Option<Vec<u8>>,
}

/// The kinds of value SORT reads.
enum Source {
    List,
    Set,
    ZSet,
}

fn sort_generic(ctx: &mut Ctx, readonly: bool) -> CmdResult {
    let mut options = parse_options(ctx, readonly)?;
    let key = ctx.arg(1);
    let (source, len) = match ctx.keys.lookup_read(key).map(|e| &mut e.value) {
        None => (Source::List, 0),
        Some(Value::List(l)) => (Source::List, l.len()),
        Some(Value::Set(s)) => (Source::Set, s.len()),
        Some(Value::ZSet(z)) => {
            // Redis converts a sorted set it sorts to its skiplist encoding, for good
            // (SORT_RO too); OBJECT ENCODING shows it. The contents do not change.
            z.convert_to_skiplist();
            (Source::ZSet, z.len())
        }
        Some(_) => return Err(Error::WrongType),
    };
    // A set has no order of its own: when the result is stored, sort it so that it is
    // the same everywhere the effect is replayed.
    if options.dont_sort && matches!(source, Source::Set) && options.store.is_some() {
        options.dont_sort = false;
        options.alpha = true;
        options.by = None;
    }
    let (start, end) = limit_range(options.limit, len as i64);
    let direct = options.dont_sort && !matches!(source, Source::Set);
    let elements = load_elements(ctx, key, &options, direct, start, end);
    let (start, end) = if direct {
        (0, end - start)
    } else {
        (start, end)
    };
    let mut items: Vec<Item> = elements
        .into_iter()
        .map(|element| Item {
            element,
            score: 0.0,
            by_text: None,
        })
        .collect();
    if !options.dont_sort {
        let conversion_error = weigh(ctx, &options, &mut items);
        sort_items(&mut items, &options);
        if conversion_error {
            return Err(Error::err(
                "One or more scores can't be converted into double",
            ));
        }
    }
    let range = if end >= start && start >= 0 {
        &items[start as usize..=(end as usize).min(items.len().saturating_sub(1))]
    } else {
        &items[..0]
    };
    match options.store {
        None => reply(ctx, &options, range),
        Some(dst) => store(ctx, &options, range, dst),
    }
    Ok(())
}

/// LIMIT offset count over `len` elements, as Redis clamps it: an inclusive range that
/// may be empty (`end < start`).
fn limit_range(limit: Option<(i64, i64)>, len: i64) -> (i64, i64) {
    let (offset, count) = limit.unwrap_or((0, -1));
    let start = offset.max(0).min(len);
    let count = count.max(-1).min(len);
    let mut end = if count < 0 {
        len - 1
    } else {
        start + count - 1
    };
    let start = if start >= len {
        end = len - 2;
        len - 1
    } else {
        start
    };
    if end >= len {
        end = len - 1;
    }
    (start, end)
}

/// The elements to sort: all of them, or (lists and sorted sets kept in their own
/// order) just the LIMIT range, walked from the tail for DESC.
fn load_elements(
    ctx: &mut Ctx,
    key: &[u8],
    options: &Options,
    direct: bool,
    start: i64,
    end: i64,
) -> Vec<Vec<u8>> {
    let Some(entry) = ctx.keys.peek_in(ctx.keys.db, key) else {
        return Vec::new();
    };
    let take = if direct {
        if end < start {
            return Vec::new();
        }
        (end - start + 1) as usize
    } else {
        usize::MAX
    };
    let skip = if direct { start as usize } else { 0 };
    match &entry.value {
        Value::List(l) if options.desc && direct => {
            let all: Vec<Vec<u8>> = l.iter().map(|e| e.to_vec()).collect();
            all.into_iter().rev().skip(skip).take(take).collect()
        }
        Value::List(l) => l.iter().skip(skip).take(take).map(|e| e.to_vec()).collect(),
        Value::Set(s) => s.iter().map(|m| m.to_vec()).collect(),
        Value::ZSet(z) if options.desc && direct => {
            let all: Vec<Vec<u8>> = z.iter().map(|(m, _)| m.to_vec()).collect();
            all.into_iter().rev().skip(skip).take(take).collect()
        }
        Value::ZSet(z) => z
            .iter()
            .skip(skip)
            .take(take)
            .map(|(m, _)| m.to_vec())
            .collect(),
        _ => Vec::new(),
    }
}

/// Loads each item's weight (from BY, or the element itself); true if a weight is not
/// a number (Redis still finishes the sort, then reports the error).
fn weigh(ctx: &mut Ctx, options: &Options, items: &mut [Item]) -> bool {
    let mut conversion_error = false;
    for item in items.iter_mut() {
        let by_value = match options.by {
            Some(pattern) => match lookup_by_pattern(ctx, pattern, &item.element) {
                Some(value) => value,
                None => continue,
            },
            None => item.element.clone(),
        };
        if options.alpha {
            if options.by.is_some() {
                item.by_text = Some(by_value);
            }
        } else {
            match c_strtod(&by_value) {
                Some(score) => item.score = score,
                None => conversion_error = true,
            }
        }
    }
    conversion_error
}

fn sort_items(items: &mut [Item], options: &Options) {
    let by_pattern = options.by.is_some();
    let compare = |a: &Item, b: &Item| -> Ordering {
        let order = if !options.alpha {
            a.score
                .partial_cmp(&b.score)
                .unwrap_or(Ordering::Equal)
                .then_with(|| a.element.cmp(&b.element))
        } else if by_pattern {
            match (&a.by_text, &b.by_text) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(x), Some(y)) => x.cmp(y),
            }
        } else {
            a.element.cmp(&b.element)
        };
        if options.desc {
            order.reverse()
        } else {
            order
        }
    };
    items.sort_by(compare);
}

/// What a BY or GET pattern names for `element`: `#` is the element itself, `key*`
/// a string key, `key*->field` a hash field. None when missing or of another type, or
/// when the pattern has no `*`.
fn lookup_by_pattern(ctx: &mut Ctx, pattern: &[u8], element: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(element.to_vec());
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    let after = &pattern[star + 1..];
    let arrow = after
        .windows(2)
        .position(|w| w == b"->")
        .filter(|&i| i + 2 < after.len());
    let (postfix, field) = match arrow {
        Some(i) => (&after[..i], Some(&after[i + 2..])),
        None => (after, None),
    };
    let mut key = Vec::with_capacity(pattern.len() + element.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(postfix);
    let entry = ctx.keys.lookup_read(&key)?;
    match (&entry.value, field) {
        (Value::Hash(h), Some(field)) => h.get(field).map(<[u8]>::to_vec),
        (Value::Str(s), None) => Some(s.to_bytes().into_owned()),
        _ => None,
    }
}

/// C's `strtod` as SORT uses it: leading spaces allowed, the whole rest must be the
/// number (text after a NUL is not seen), NaN and out-of-range values refused. An empty
/// string weighs 0.
fn c_strtod(bytes: &[u8]) -> Option<f64> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let text = std::str::from_utf8(&bytes[..end]).ok()?;
    let text = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if text.is_empty() {
        return Some(0.0);
    }
    let value: f64 = text.parse().ok()?;
    let spelled_infinite = text.to_ascii_lowercase().contains("inf");
    if value.is_nan() || (value.is_infinite() && !spelled_infinite) {
        return None;
    }
    Some(value)
}

fn reply(ctx: &mut Ctx, options: &Options, items: &[Item]) {
    let per_item = options.gets.len().max(1);
    ctx.out.array(items.len() * per_item);
    for item in items {
        if options.gets.is_empty() {
            ctx.out.bulk(&item.element);
        }
        for pattern in &options.gets {
            match lookup_by_pattern(ctx, pattern, &item.element) {
                Some(value) => ctx.out.bulk(&value),
                None => ctx.out.null(),
            }
        }
    }
}

/// STORE: the result as a list at `dst` (missing GET values as empty strings), or
/// `dst` deleted when the result is empty. Replies with the result's length.
fn store(ctx: &mut Ctx, options: &Options, items: &[Item], dst: &[u8]) {
    let mut values: Vec<Vec<u8>> = Vec::new();
    for item in items {
        if options.gets.is_empty() {
            values.push(item.element.clone());
        }
        for pattern in &options.gets {
            values.push(lookup_by_pattern(ctx, pattern, &item.element).unwrap_or_default());
        }
    }
    let fill = ctx
        .server
        .config
        .hot
        .encoding_limits()
        .list_max_listpack_size;
    if values.is_empty() {
        super::keyspace::delete_destination(ctx, dst);
    } else {
        let list = ListValue::from_elements(fill, values.iter().map(Vec::as_slice));
        ctx.keys.set(dst, Value::List(list), NO_EXPIRE);
        ctx.notify(crate::notify::LIST, "sortstore", dst);
        // Redis counts one change per stored element.
        ctx.keys.dirty += values.len() as u64 - 1;
    }
    ctx.out.integer(values.len() as i64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_clamped_as_redis() {
        assert_eq!(limit_range(None, 5), (0, 4));
        assert_eq!(limit_range(Some((1, 2)), 5), (1, 2));
        assert_eq!(limit_range(Some((-3, 2)), 5), (0, 1));
        assert_eq!(limit_range(Some((10, 2)), 5), (4, 3));
        assert_eq!(limit_range(Some((2, 100)), 5), (2, 4));
        assert_eq!(limit_range(Some((0, 0)), 5), (0, -1));
        assert_eq!(limit_range(None, 0), (-1, -2));
    }

    #[test]
    fn weights_parse_like_strtod() {
        assert_eq!(c_strtod(b" 1.5"), Some(1.5));
        assert_eq!(c_strtod(b""), Some(0.0));
        assert_eq!(c_strtod(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(c_strtod(b"1\x00junk"), Some(1.0));
        assert_eq!(c_strtod(b"1x"), None);
        assert_eq!(c_strtod(b"nan"), None);
        assert_eq!(c_strtod(b"1e999"), None);
    }
}
