//! Ranges over sorted sets: parsing score (`(1.5`, `-inf`) and lex (`[a`, `(b`, `-`,
//! `+`) bounds exactly as Redis reads them, and selecting the pairs of a rank, score or
//! lex range with REV, LIMIT and the quirks Redis has there.
//!
//! A selection is a list of borrowed `(member, score)` pairs: the caller replies from it
//! (ZRANGE and friends), copies it into a new set (ZRANGESTORE) or counts and removes
//! it (ZCOUNT, ZREMRANGEBY*). Keeping the walk in one place keeps the three in step.

use std::ffi::CString;

use lodestone_resp::ReplyWriter;
use lodestone_store::ZSetValue;
use lodestone_util::number::format_f64;

use crate::errors::Error;

/// "ERR min or max is not a float".
pub fn not_float_range() -> Error {
    Error::err("min or max is not a float")
}

/// "ERR min or max not valid string range item".
pub fn not_lex_range() -> Error {
    Error::err("min or max not valid string range item")
}

/// Reads a number as C's `strtod` does on the argument seen as a C string (it ends at
/// the first NUL): leading spaces, hex, `inf`, `infinity` and the empty string (zero)
/// are all accepted, and trailing bytes are not. NaN is refused, as Redis refuses it.
fn strtod_whole(text: &[u8]) -> Option<f64> {
    let text = match text.iter().position(|&b| b == 0) {
        Some(nul) => &text[..nul],
        None => text,
    };
    let c_text = CString::new(text).ok()?;
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: `c_text` is a valid NUL-terminated string that outlives the call, and
    // `end` is a valid place for strtod to store a pointer into it.
    let value = unsafe { libc::strtod(c_text.as_ptr(), &mut end) };
    // SAFETY: strtod leaves `end` pointing into `c_text` (at most at its NUL).
    let rest = unsafe { *end };
    (rest == 0 && !value.is_nan()).then_some(value)
}

/// A score interval, each end open or closed.
#[derive(Clone, Copy, Debug)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub min_exclusive: bool,
    pub max_exclusive: bool,
}

impl ScoreRange {
    /// Parses `min` and `max` (`(` makes an end exclusive).
    pub fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange, Error> {
        let (min, min_exclusive) = parse_score_bound(min).ok_or_else(not_float_range)?;
        let (max, max_exclusive) = parse_score_bound(max).ok_or_else(not_float_range)?;
        Ok(ScoreRange {
            min,
            max,
            min_exclusive,
            max_exclusive,
        })
    }

    pub fn below_min(&self, score: f64) -> bool {
        if self.min_exclusive {
            score <= self.min
        } else {
            score < self.min
        }
    }

    pub fn above_max(&self, score: f64) -> bool {
        if self.max_exclusive {
            score >= self.max
        } else {
            score > self.max
        }
    }
}

fn parse_score_bound(text: &[u8]) -> Option<(f64, bool)> {
    match text.first() {
        Some(b'(') => strtod_whole(&text[1..]).map(|v| (v, true)),
        _ => strtod_whole(text).map(|v| (v, false)),
    }
}

/// One end of a lex range.
#[derive(Clone, Debug)]
pub enum LexBound {
    /// `-`: below every member.
    Lowest,
    /// `+`: above every member.
    Highest,
    Inclusive(Vec<u8>),
    Exclusive(Vec<u8>),
}

impl LexBound {
    /// `[x`, `(x`, `-` or `+`; `-`/`+` must stand alone (as C strings: `+\0x` is `+`).
    fn parse(text: &[u8]) -> Option<LexBound> {
        let alone = text.get(1).is_none_or(|&b| b == 0);
        match text.first() {
            Some(b'+') if alone => Some(LexBound::Highest),
            Some(b'-') if alone => Some(LexBound::Lowest),
            Some(b'(') => Some(LexBound::Exclusive(text[1..].to_vec())),
            Some(b'[') => Some(LexBound::Inclusive(text[1..].to_vec())),
            _ => None,
        }
    }
}

/// A member interval.
#[derive(Clone, Debug)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    pub fn parse(min: &[u8], max: &[u8]) -> Result<LexRange, Error> {
        Ok(LexRange {
            min: LexBound::parse(min).ok_or_else(not_lex_range)?,
            max: LexBound::parse(max).ok_or_else(not_lex_range)?,
        })
    }

    pub fn below_min(&self, member: &[u8]) -> bool {
        match &self.min {
            LexBound::Lowest => false,
            LexBound::Highest => true,
            LexBound::Inclusive(b) => member < &b[..],
            LexBound::Exclusive(b) => member <= &b[..],
        }
    }

    pub fn above_max(&self, member: &[u8]) -> bool {
        match &self.max {
            LexBound::Highest => false,
            LexBound::Lowest => true,
            LexBound::Inclusive(b) => member > &b[..],
            LexBound::Exclusive(b) => member >= &b[..],
        }
    }
}

/// What a range selects by.
#[derive(Clone, Debug)]
pub enum RangeKind {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

impl RangeKind {
    fn below_min(&self, member: &[u8], score: f64) -> bool {
        match self {
            RangeKind::Rank(..) => false,
            RangeKind::Score(r) => r.below_min(score),
            RangeKind::Lex(r) => r.below_min(member),
        }
    }

    fn above_max(&self, member: &[u8], score: f64) -> bool {
        match self {
            RangeKind::Rank(..) => false,
            RangeKind::Score(r) => r.above_max(score),
            RangeKind::Lex(r) => r.above_max(member),
        }
    }
}

/// A full range request: kind, direction and LIMIT (offset, count; a negative count
/// means no limit).
#[derive(Clone, Debug)]
pub struct RangeSpec {
    pub kind: RangeKind,
    pub reverse: bool,
    pub offset: i64,
    pub limit: i64,
}

/// The pairs a range selects, in reply order.
pub fn select<'z>(z: &'z ZSetValue, spec: &RangeSpec) -> Vec<(&'z [u8], f64)> {
    match &spec.kind {
        RangeKind::Rank(start, end) => select_ranks(z, *start, *end, spec.reverse),
        kind => select_bounded(z, kind, spec),
    }
}

/// The normalised inclusive rank interval of `start..=end` (negative counts from the
/// end), or `None` when empty; Redis's sanitising for ZRANGE and ZREMRANGEBYRANK.
pub fn rank_interval(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    start = start.max(0);
    if start > end || start >= len {
        return None;
    }
    end = end.min(len - 1);
    Some((start as usize, end as usize))
}

fn select_ranks(z: &ZSetValue, start: i64, end: i64, reverse: bool) -> Vec<(&[u8], f64)> {
    let Some((start, end)) = rank_interval(z.len(), start, end) else {
        return Vec::new();
    };
    let count = end - start + 1;
    let from = if reverse { z.len() - 1 - start } else { start };
    z.iter_from(from, reverse).take(count).collect()
}

/// Score and lex ranges: find the first pair in range from the chosen end, check it is
/// in range at all (as Redis does before applying the offset), skip the offset, then
/// take pairs while they stay in range, up to the limit.
fn select_bounded<'z>(
    z: &'z ZSetValue,
    kind: &RangeKind,
    spec: &RangeSpec,
) -> Vec<(&'z [u8], f64)> {
    // A negative offset skips everything in Redis; one past the end finds nothing.
    if spec.offset < 0 || spec.offset as u64 >= z.len() as u64 {
        return Vec::new();
    }
    let limit = usize::try_from(spec.limit).unwrap_or(usize::MAX);
    let from = match first_in_range(z, kind, spec.reverse) {
        Some(from) => from,
        None => return Vec::new(),
    };
    let reverse = spec.reverse;
    z.iter_from(from, reverse)
        .skip(spec.offset as usize)
        .take_while(|(m, s)| {
            if reverse {
                !kind.below_min(m, *s)
            } else {
                !kind.above_max(m, *s)
            }
        })
        .take(limit)
        .collect()
}

/// The rank where a walk over the range starts (the lowest pair in range, or with
/// `reverse` the highest), if that pair is in range. Like Redis, it first gives up when
/// the last pair is below the minimum or the first above the maximum (which matters
/// only for lex ranges over members with different scores).
fn first_in_range(z: &ZSetValue, kind: &RangeKind, reverse: bool) -> Option<usize> {
    let (first_member, first_score) = z.get(0)?;
    let (last_member, last_score) = z.get(z.len() - 1)?;
    if kind.below_min(last_member, last_score) || kind.above_max(first_member, first_score) {
        return None;
    }
    let rank = if reverse {
        z.upper_rank(|s, m| kind.above_max(m, s)).checked_sub(1)?
    } else {
        z.lower_rank(|s, m| kind.below_min(m, s))
    };
    let (member, score) = z.get(rank)?;
    let outside = kind.below_min(member, score) || kind.above_max(member, score);
    (!outside).then_some(rank)
}

/// The ascending rank where the range starts and how many pairs it holds (ZCOUNT,
/// ZLEXCOUNT, ZREMRANGEBYSCORE/LEX). A listpack is walked as Redis walks it; a
/// skiplist answers from ranks without visiting the pairs.
pub fn span(z: &ZSetValue, kind: &RangeKind) -> (usize, usize) {
    let Some(start) = first_in_range(z, kind, false) else {
        return (0, 0);
    };
    let count = match z {
        ZSetValue::Listpack(_) => z
            .iter_from(start, false)
            .take_while(|(m, s)| !kind.above_max(m, *s))
            .count(),
        ZSetValue::Skiplist(_) => z
            .upper_rank(|s, m| kind.above_max(m, s))
            .saturating_sub(start),
    };
    (start, count)
}

/// A score as Redis replies with it: `%.17g` text, a RESP3 double.
pub fn reply_score(out: &mut ReplyWriter, score: f64) {
    out.double_text(format_f64(score).as_bytes());
}

/// Pairs as ZRANGE replies with them: members only, or with scores as one flat array
/// (RESP2) or an array of `[member, score]` pairs (RESP3).
pub fn reply_pairs<M: AsRef<[u8]>>(out: &mut ReplyWriter, pairs: &[(M, f64)], withscores: bool) {
    let nested = withscores && out.is_resp3();
    out.array(if withscores && !nested {
        pairs.len() * 2
    } else {
        pairs.len()
    });
    for (member, score) in pairs {
        if nested {
            out.array(2);
        }
        out.bulk(member.as_ref());
        if withscores {
            reply_score(out, *score);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Score bounds read like strtod over a C string, with Redis's NaN refusal.
    #[test]
    fn score_bounds_follow_strtod() {
        assert_eq!(strtod_whole(b"1.5"), Some(1.5));
        assert_eq!(strtod_whole(b" 2"), Some(2.0));
        assert_eq!(strtod_whole(b""), Some(0.0));
        assert_eq!(strtod_whole(b"0x10"), Some(16.0));
        assert_eq!(strtod_whole(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(strtod_whole(b"3\0junk"), Some(3.0));
        assert_eq!(strtod_whole(b"nan"), None);
        assert_eq!(strtod_whole(b"1 "), None);
        assert_eq!(strtod_whole(b"abc"), None);
        let r = ScoreRange::parse(b"(1", b"+inf").unwrap();
        assert!(r.below_min(1.0) && !r.below_min(1.5) && !r.above_max(f64::INFINITY));
    }

    /// Lex bounds accept exactly `[`, `(`, `-` and `+` forms.
    #[test]
    fn lex_bounds() {
        assert!(LexRange::parse(b"-", b"+").is_ok());
        assert!(LexRange::parse(b"[a", b"(b").is_ok());
        assert!(LexRange::parse(b"+\0x", b"+").is_ok());
        assert!(LexRange::parse(b"a", b"+").is_err());
        assert!(LexRange::parse(b"-a", b"+").is_err());
        assert!(LexRange::parse(b"", b"+").is_err());
        let r = LexRange::parse(b"(a", b"[c").unwrap();
        assert!(r.below_min(b"a") && !r.below_min(b"b") && !r.above_max(b"c"));
        assert!(r.above_max(b"ca"));
    }
}
