//! Sorted-set algebra: ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD.
//!
//! Inputs may be sorted sets or plain sets (every member scoring 1). The steps follow
//! Redis's `zunionInterDiffGenericCommand` because its order is observable: numkeys,
//! then every key's type (WRONGTYPE before any option error), then the options, then
//! the inputs sorted by size (which decides the order SUM adds scores in).
//!
//! The inputs are borrowed, not copied: each distinct input key's value is moved out
//! of the keyspace for the computation and put back before anything is written, so
//! ZINTER of a small set with a huge one costs the small one's size, as in Redis.

use std::borrow::Cow;
use std::collections::HashMap;

use lodestone_store::{StrValue, Value, ZSetValue, NO_EXPIRE};
use lodestone_util::number::{parse_f64, parse_i64};

use super::string::is_word;
use super::zset_range::reply_pairs;
use crate::ctx::Ctx;
use crate::errors::{CmdResult, Error};

/// Which operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOp {
    Union,
    Inter,
    Diff,
}

/// How scores of one member from several inputs combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Redis's rule: a SUM that gives NaN (`inf + -inf`) gives 0.
    fn apply(self, target: &mut f64, value: f64) {
        match self {
            Aggregate::Sum => {
                *target += value;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => {
                if value < *target {
                    *target = value;
                }
            }
            Aggregate::Max => {
                if value > *target {
                    *target = value;
                }
            }
        }
    }
}

/// The shape of one algebra command.
#[derive(Clone, Copy, Debug)]
pub struct AlgebraCall {
    pub op: SetOp,
    /// Argument index of numkeys (1, or 2 after a destination).
    pub numkeys_index: usize,
    pub store: bool,
    /// ZINTERCARD: count only.
    pub cardinality_only: bool,
}

struct Options {
    weights: Vec<f64>,
    aggregate: Aggregate,
    withscores: bool,
    /// ZINTERCARD LIMIT; 0 is no limit.
    limit: usize,
}

/// One input: its value (moved out of the keyspace), an identity to spot the same key
/// given twice, and its weight.
struct Source<'a> {
    value: Option<&'a Value>,
    id: usize,
    weight: f64,
}

const MISSING: usize = usize::MAX;

impl<'a> Source<'a> {
    fn len(&self) -> usize {
        match self.value {
            Some(Value::ZSet(z)) => z.len(),
            Some(Value::Set(s)) => s.len(),
            _ => 0,
        }
    }

    fn pairs(&self) -> Box<dyn Iterator<Item = (Cow<'a, [u8]>, f64)> + 'a> {
        match self.value {
            Some(Value::ZSet(z)) => Box::new(z.iter().map(|(m, s)| (Cow::Borrowed(m), s))),
            Some(Value::Set(s)) => Box::new(s.iter().map(|m| (Cow::Owned(m.to_vec()), 1.0))),
            _ => Box::new(std::iter::empty()),
        }
    }

    fn find(&self, member: &[u8]) -> Option<f64> {
        match self.value {
            Some(Value::ZSet(z)) => z.score(member),
            Some(Value::Set(s)) => s.contains(member).then_some(1.0),
            _ => None,
        }
    }

    fn is_same_key(&self, other: &Source) -> bool {
        self.id != MISSING && self.id == other.id
    }
}

/// Runs one algebra command (see the module doc for the order of checks).
pub fn algebra(ctx: &mut Ctx, call: AlgebraCall) -> CmdResult {
    let cmd = ctx.cmd;
    let setnum = ctx.arg_i64(call.numkeys_index)?;
    if setnum < 1 {
        let name = String::from_utf8_lossy(cmd.arg(0)).to_ascii_lowercase();
        return Err(Error::err(format!(
            "at least 1 input key is needed for '{name}' command"
        )));
    }
    let first = call.numkeys_index + 1;
    let available = ctx.argc().saturating_sub(first);
    if setnum as u64 > available as u64 {
        return Err(Error::Syntax);
    }
    let keys: Vec<&[u8]> = (first..first + setnum as usize)
        .map(|i| cmd.arg(i))
        .collect();
    for key in &keys {
        if let Some(entry) = ctx.keys.lookup_read(key) {
            if !matches!(entry.value, Value::ZSet(_) | Value::Set(_)) {
                return Err(Error::WrongType);
            }
        }
    }
    let options = parse_options(ctx, call, first + keys.len(), keys.len())?;
    let (pairs, cardinality) = compute_with_inputs(ctx, &keys, &options, call);
    if call.cardinality_only {
        ctx.out.integer(cardinality as i64);
    } else if call.store {
        store_result(ctx, cmd.arg(1), pairs, call.op);
    } else {
        let mut pairs = pairs;
        pairs.sort_by(compare_pairs);
        reply_pairs(ctx.out, &pairs, options.withscores);
    }
    Ok(())
}

fn compare_pairs(a: &(Vec<u8>, f64), b: &(Vec<u8>, f64)) -> std::cmp::Ordering {
    a.1.partial_cmp(&b.1)
        .unwrap_or(std::cmp::Ordering::Equal)
        .then_with(|| a.0.cmp(&b.0))
}

fn parse_options(
    ctx: &Ctx,
    call: AlgebraCall,
    mut j: usize,
    setnum: usize,
) -> Result<Options, Error> {
    let mut options = Options {
        weights: vec![1.0; setnum],
        aggregate: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    let weighted = call.op != SetOp::Diff && !call.cardinality_only;
    while j < ctx.argc() {
        let remaining = ctx.argc() - j;
        let word = ctx.arg(j);
        if weighted && remaining > setnum && is_word(word, "weights") {
            for (i, weight) in options.weights.iter_mut().enumerate() {
                *weight = parse_f64(ctx.arg(j + 1 + i))
                    .ok_or_else(|| Error::err("weight value is not a float"))?;
            }
            j += 1 + setnum;
        } else if weighted && remaining >= 2 && is_word(word, "aggregate") {
            let how = ctx.arg(j + 1);
            options.aggregate = if is_word(how, "sum") {
                Aggregate::Sum
            } else if is_word(how, "min") {
                Aggregate::Min
            } else if is_word(how, "max") {
                Aggregate::Max
            } else {
                return Err(Error::Syntax);
            };
            j += 2;
        } else if !call.store && !call.cardinality_only && is_word(word, "withscores") {
            options.withscores = true;
            j += 1;
        } else if call.cardinality_only && remaining >= 2 && is_word(word, "limit") {
            let limit = parse_i64(ctx.arg(j + 1))
                .filter(|&l| l >= 0)
                .ok_or_else(|| Error::err("LIMIT can't be negative"))?;
            options.limit = usize::try_from(limit).unwrap_or(usize::MAX);
            j += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    Ok(options)
}

/// Moves the distinct input values out of the keyspace, computes, and puts them back.
fn compute_with_inputs(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    options: &Options,
    call: AlgebraCall,
) -> (Vec<(Vec<u8>, f64)>, usize) {
    let mut taken: Vec<(&[u8], Value)> = Vec::new();
    let mut ids = Vec::with_capacity(keys.len());
    for key in keys {
        if let Some(id) = taken.iter().position(|(k, _)| k == key) {
            ids.push(id);
            continue;
        }
        match ctx.keys.raw_db(key).get_mut(key) {
            Some(entry) => {
                let placeholder = Value::Str(StrValue::Int(0));
                taken.push((key, std::mem::replace(&mut entry.value, placeholder)));
                ids.push(taken.len() - 1);
            }
            None => ids.push(MISSING),
        }
    }
    let sources: Vec<Source> = ids
        .iter()
        .zip(&options.weights)
        .map(|(&id, &weight)| Source {
            value: taken.get(id).map(|(_, v)| v),
            id,
            weight,
        })
        .collect();
    let result = compute(sources, options, call);
    for (key, value) in taken {
        if let Some(entry) = ctx.keys.raw_db(key).get_mut(key) {
            entry.value = value;
        }
    }
    result
}

/// The operation itself over borrowed inputs: the result pairs (unsorted) and, for
/// ZINTERCARD, the count.
fn compute(
    mut sources: Vec<Source>,
    options: &Options,
    call: AlgebraCall,
) -> (Vec<(Vec<u8>, f64)>, usize) {
    if call.op != SetOp::Diff {
        sources.sort_by_key(Source::len);
    }
    match call.op {
        SetOp::Union => (union(&sources, options.aggregate), 0),
        SetOp::Inter => inter(&sources, options, call.cardinality_only),
        SetOp::Diff => (diff(&sources), 0),
    }
}

fn weighted(score: f64, weight: f64) -> f64 {
    let value = score * weight;
    if value.is_nan() {
        0.0
    } else {
        value
    }
}

fn union(sources: &[Source], aggregate: Aggregate) -> Vec<(Vec<u8>, f64)> {
    let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
    for source in sources {
        for (member, score) in source.pairs() {
            let value = weighted(score, source.weight);
            match acc.get_mut(member.as_ref()) {
                Some(target) => aggregate.apply(target, value),
                None => {
                    acc.insert(member.into_owned(), value);
                }
            }
        }
    }
    acc.into_iter().collect()
}

fn inter(sources: &[Source], options: &Options, count_only: bool) -> (Vec<(Vec<u8>, f64)>, usize) {
    let mut pairs = Vec::new();
    let mut cardinality = 0;
    let Some(smallest) = sources.first().filter(|s| s.len() > 0) else {
        return (pairs, 0);
    };
    'members: for (member, score) in smallest.pairs() {
        let mut total = weighted(score, smallest.weight);
        for other in &sources[1..] {
            let value = if other.is_same_key(smallest) {
                score * other.weight
            } else {
                match other.find(&member) {
                    Some(v) => v * other.weight,
                    None => continue 'members,
                }
            };
            options.aggregate.apply(&mut total, value);
        }
        if count_only {
            cardinality += 1;
            if options.limit > 0 && cardinality >= options.limit {
                break;
            }
        } else {
            pairs.push((member.into_owned(), total));
        }
    }
    (pairs, cardinality)
}

/// Members of the first input found in no other, with the first input's scores.
fn diff(sources: &[Source]) -> Vec<(Vec<u8>, f64)> {
    let Some((first, others)) = sources.split_first() else {
        return Vec::new();
    };
    if first.len() == 0 || others.iter().any(|o| o.is_same_key(first)) {
        return Vec::new();
    }
    first
        .pairs()
        .filter(|(member, _)| others.iter().all(|o| o.find(member).is_none()))
        .map(|(member, score)| (member.into_owned(), score))
        .collect()
}

/// Stores a result at `dst` (encoded for its size), or deletes `dst` when empty.
fn store_result(ctx: &mut Ctx, dst: &[u8], pairs: Vec<(Vec<u8>, f64)>, op: SetOp) {
    if pairs.is_empty() {
        super::keyspace::delete_destination(ctx, dst);
        ctx.out.integer(0);
        return;
    }
    let limits = ctx.server.config.hot.encoding_limits();
    let len = pairs.len();
    ctx.keys.set(
        dst,
        Value::ZSet(ZSetValue::from_items(pairs, &limits)),
        NO_EXPIRE,
    );
    let event = match op {
        SetOp::Union => "zunionstore",
        SetOp::Inter => "zinterstore",
        SetOp::Diff => "zdiffstore",
    };
    ctx.notify(crate::notify::ZSET, event, dst);
    ctx.out.integer(len as i64);
}
