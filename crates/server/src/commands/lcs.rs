//! LCS: the longest common subsequence of two strings, as the string itself, its length
//! (LEN), or the matching ranges (IDX, with MINMATCHLEN and WITHMATCHLEN).
//!
//! The dynamic-programming table and the backtracking walk follow Redis's choices
//! exactly (ties move along the second string), because several subsequences can be
//! equally long and clients see which one was picked. The table is `u32` cells and its
//! size is bounded by `proto-max-bulk-len`, as in Redis, before it is allocated.

use lodestone_util::number::parse_i64;

use super::string::{is_word, max_string_len};
use crate::ctx::Ctx;
use crate::errors::{CmdResult, Error};

/// The reply LCS was asked for.
#[derive(Default)]
struct Options {
    len: bool,
    idx: bool,
    with_match_len: bool,
    min_match_len: i64,
}

fn parse_options(ctx: &Ctx) -> Result<Options, Error> {
    let cmd = ctx.cmd;
    let mut o = Options::default();
    let mut j = 3;
    while j < cmd.len() {
        let arg = cmd.arg(j);
        if is_word(arg, "IDX") {
            o.idx = true;
        } else if is_word(arg, "LEN") {
            o.len = true;
        } else if is_word(arg, "WITHMATCHLEN") {
            o.with_match_len = true;
        } else if is_word(arg, "MINMATCHLEN") && j + 1 < cmd.len() {
            o.min_match_len = parse_i64(cmd.arg(j + 1)).ok_or(Error::NotInteger)?.max(0);
            j += 1;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    if o.len && o.idx {
        return Err(Error::err(
            "If you want both the length and indexes, please just use IDX.",
        ));
    }
    Ok(o)
}

/// The table of LCS lengths of every pair of prefixes, `(a.len()+1) x (b.len()+1)`.
struct Table {
    cells: Vec<u32>,
    width: usize,
}

impl Table {
    /// Fills the table, refusing sizes Redis refuses.
    fn build(a: &[u8], b: &[u8], max_len: i64) -> Result<Table, Error> {
        if a.len() as u64 >= u64::from(u32::MAX) - 1 || b.len() as u64 >= u64::from(u32::MAX) - 1 {
            return Err(Error::err("String too long for LCS"));
        }
        let width = b.len() + 1;
        let size = (a.len() as u64 + 1) * width as u64;
        if size.saturating_mul(4) > max_len.max(0) as u64 {
            return Err(Error::err(
                "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
            ));
        }
        let mut cells = Vec::new();
        if cells.try_reserve_exact(size as usize).is_err() {
            return Err(Error::err(
                "Insufficient memory, failed allocating transient memory for LCS",
            ));
        }
        cells.resize(size as usize, 0u32);
        let mut t = Table { cells, width };
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                let v = if a[i - 1] == b[j - 1] {
                    t.at(i - 1, j - 1) + 1
                } else {
                    t.at(i - 1, j).max(t.at(i, j - 1))
                };
                t.cells[i * width + j] = v;
            }
        }
        Ok(t)
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }
}

/// One matching range: `a[a_start..=a_end]` equals `b[b_start..=b_end]`.
struct Match {
    a: (usize, usize),
    b: (usize, usize),
}

impl Match {
    fn len(&self) -> usize {
        self.a.1 - self.a.0 + 1
    }
}

/// Walks the table back from the end: returns the subsequence and its ranges, last
/// range first (the order Redis replies in).
fn backtrack(a: &[u8], b: &[u8], t: &Table) -> (Vec<u8>, Vec<Match>) {
    let mut result = Vec::with_capacity(t.at(a.len(), b.len()) as usize);
    let mut ranges = Vec::new();
    let mut current: Option<Match> = None;
    let (mut i, mut j) = (a.len(), b.len());
    while i > 0 && j > 0 {
        if a[i - 1] == b[j - 1] {
            result.push(a[i - 1]);
            match current.as_mut() {
                // Contiguous with the range being built: extend it backwards.
                Some(m) if m.a.0 == i && m.b.0 == j => {
                    m.a.0 -= 1;
                    m.b.0 -= 1;
                }
                Some(_) => ranges.extend(current.take()),
                None => {
                    current = Some(Match {
                        a: (i - 1, i - 1),
                        b: (j - 1, j - 1),
                    })
                }
            }
            i -= 1;
            j -= 1;
        } else {
            if t.at(i - 1, j) > t.at(i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
            ranges.extend(current.take());
        }
    }
    ranges.extend(current.take());
    result.reverse();
    (result, ranges)
}

pub fn lcs(ctx: &mut Ctx) -> CmdResult {
    let cmd = ctx.cmd;
    // Redis looks both keys up (a `keymiss` each) before it checks their types, and
    // before it looks at the options.
    let a = read_or_empty(ctx, cmd.arg(1));
    let b = read_or_empty(ctx, cmd.arg(2));
    let (a, b) = (a?, b?);
    let opts = parse_options(ctx)?;
    let table = Table::build(&a, &b, max_string_len(ctx))?;
    let total = i64::from(table.at(a.len(), b.len()));
    if opts.len {
        ctx.out.integer(total);
        return Ok(());
    }
    let (subsequence, ranges) = backtrack(&a, &b, &table);
    if !opts.idx {
        ctx.out.bulk(&subsequence);
        return Ok(());
    }
    let min = opts.min_match_len;
    let shown: Vec<&Match> = ranges
        .iter()
        .filter(|m| min == 0 || m.len() as i64 >= min)
        .collect();
    ctx.out.map(2);
    ctx.out.bulk(b"matches");
    ctx.out.array(shown.len());
    for m in shown {
        ctx.out.array(2 + usize::from(opts.with_match_len));
        for (start, end) in [m.a, m.b] {
            ctx.out.array(2);
            ctx.out.integer(start as i64);
            ctx.out.integer(end as i64);
        }
        if opts.with_match_len {
            ctx.out.integer(m.len() as i64);
        }
    }
    ctx.out.bulk(b"len");
    ctx.out.integer(total);
    Ok(())
}

/// The string at `key` (a missing key is the empty string).
fn read_or_empty(ctx: &mut Ctx, key: &[u8]) -> Result<Vec<u8>, Error> {
    match ctx.keys.read_str(key) {
        Ok(Some(value)) => Ok(value.to_bytes().into_owned()),
        Ok(None) => Ok(Vec::new()),
        Err(Error::WrongType) => Err(Error::err("The specified keys must contain string values")),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Span = (usize, usize);

    fn run(a: &[u8], b: &[u8]) -> (Vec<u8>, Vec<(Span, Span)>) {
        let t = Table::build(a, b, 1 << 29).expect("table");
        let (s, ranges) = backtrack(a, b, &t);
        (s, ranges.into_iter().map(|m| (m.a, m.b)).collect())
    }

    #[test]
    fn finds_redis_documented_example() {
        let (s, ranges) = run(b"ohmytext", b"mynewtext");
        assert_eq!(s, b"mytext");
        assert_eq!(ranges, vec![((4, 7), (5, 8)), ((2, 3), (0, 1))]);
    }

    #[test]
    fn empty_inputs() {
        assert_eq!(run(b"", b"abc"), (Vec::new(), Vec::new()));
    }

    #[test]
    fn table_size_is_bounded() {
        let a = vec![b'a'; 1000];
        assert!(Table::build(&a, &a, 1000).is_err());
    }
}
