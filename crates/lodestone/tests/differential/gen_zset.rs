//! Sorted sets: the calls the differential harness checks and how it draws them.
//!
//! Members come mostly from a small pool so that sets stay small (listpack, whose
//! ZSCAN reply is deterministic) and commands collide; scores and range bounds mix
//! ordinary values with the edges (inf, -inf, NaN, exclusive, malformed). ZRANDMEMBER
//! is compared by shape only (see `Norm::Length`). Blocking pops use short timeouts so
//! an empty key costs a few milliseconds on the reference.

use super::{Family, Gen};

pub const FAMILY: Family = Family {
    implemented: &[
        "ZADD",
        "ZINCRBY",
        "ZREM",
        "ZCARD",
        "ZCOUNT",
        "ZLEXCOUNT",
        "ZSCORE",
        "ZMSCORE",
        "ZRANK",
        "ZREVRANK",
        "ZRANGE",
        "ZRANGESTORE",
        "ZREVRANGE",
        "ZRANGEBYSCORE",
        "ZREVRANGEBYSCORE",
        "ZRANGEBYLEX",
        "ZREVRANGEBYLEX",
        "ZREMRANGEBYRANK",
        "ZREMRANGEBYSCORE",
        "ZREMRANGEBYLEX",
        "ZPOPMIN",
        "ZPOPMAX",
        "ZMPOP",
        "ZRANDMEMBER",
        "ZUNION",
        "ZINTER",
        "ZDIFF",
        "ZUNIONSTORE",
        "ZINTERSTORE",
        "ZDIFFSTORE",
        "ZINTERCARD",
        "ZSCAN",
        "BZPOPMIN",
        "BZPOPMAX",
        "BZMPOP",
    ],
    generated: &[
        "ZADD",
        "ZADD",
        "ZADD",
        "ZADD",
        "ZINCRBY",
        "ZREM",
        "ZCARD",
        "ZCOUNT",
        "ZLEXCOUNT",
        "ZSCORE",
        "ZMSCORE",
        "ZRANK",
        "ZREVRANK",
        "ZRANGE",
        "ZRANGE",
        "ZRANGESTORE",
        "ZREVRANGE",
        "ZRANGEBYSCORE",
        "ZREVRANGEBYSCORE",
        "ZRANGEBYLEX",
        "ZREVRANGEBYLEX",
        "ZREMRANGEBYRANK",
        "ZREMRANGEBYSCORE",
        "ZREMRANGEBYLEX",
        "ZPOPMIN",
        "ZPOPMAX",
        "ZMPOP",
        "ZRANDMEMBER",
        "ZUNION",
        "ZINTER",
        "ZDIFF",
        "ZUNIONSTORE",
        "ZINTERSTORE",
        "ZDIFFSTORE",
        "ZINTERCARD",
        "ZSCAN",
        "BZPOPMIN",
        "BZPOPMAX",
        "BZMPOP",
    ],
    arguments,
};

const MEMBERS: &[&str] = &[
    "a",
    "b",
    "c",
    "d",
    "e",
    "f",
    "g",
    "aa",
    "ab",
    "",
    "1",
    "-1",
    "bin\x00\u{ff}",
];

const SCORES: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "-1",
    "1.5",
    "-2.5",
    "10",
    "100",
    "inf",
    "-inf",
    "+inf",
    "-0",
    "0.1",
    "1e308",
    "-1e308",
    "5e-324",
    "nan",
    "x",
    "",
    "1e17",
    "123456789012345678",
];

const SCORE_BOUNDS: &[&str] = &[
    "-inf", "+inf", "inf", "0", "1", "(1", "2", "(2", "5", "(5", "-1", "(-inf", "(inf", "1.5", "x",
    "nan", "(", "", "(x", "1e308",
];

const LEX_BOUNDS: &[&str] = &[
    "-", "+", "[a", "(a", "[b", "(c", "[d", "(g", "[", "(", "a", "", "[aa", "+x", "-x",
];

const TIMEOUTS: &[&str] = &["0.01", "0.01", "0.02", "-1", "x", "nan"];

fn member(g: &mut Gen) -> Vec<u8> {
    if g.rng.chance(10) {
        g.value()
    } else {
        g.word(MEMBERS)
    }
}

fn score(g: &mut Gen) -> Vec<u8> {
    if g.rng.chance(30) {
        g.int()
    } else {
        g.word(SCORES)
    }
}

fn keys(g: &mut Gen, a: &mut Vec<Vec<u8>>) {
    let n = 1 + g.rng.below(3);
    let numkeys = if g.rng.chance(5) {
        g.word(&["0", "-1", "x", "9"])
    } else {
        n.to_string().into_bytes()
    };
    a.push(numkeys);
    for _ in 0..n {
        a.push(g.key());
    }
}

fn limit(g: &mut Gen, a: &mut Vec<Vec<u8>>) {
    if g.rng.chance(30) {
        let offset = g.word(&["0", "1", "2", "-1", "100", "x"]);
        let count = g.word(&["1", "2", "3", "0", "-1", "x"]);
        a.extend([b"LIMIT".to_vec(), offset, count]);
    }
}

fn range_options(g: &mut Gen, a: &mut Vec<Vec<u8>>, store: bool) {
    let by = g.rng.below(3);
    match by {
        0 => a.extend([g.index(), g.index()]),
        1 => a.extend([g.word(SCORE_BOUNDS), g.word(SCORE_BOUNDS)]),
        _ => a.extend([g.word(LEX_BOUNDS), g.word(LEX_BOUNDS)]),
    }
    match by {
        1 => a.push(b"BYSCORE".to_vec()),
        2 => a.push(b"BYLEX".to_vec()),
        _ => {}
    }
    if g.rng.chance(40) {
        a.push(b"REV".to_vec());
    }
    if by != 0 || g.rng.chance(5) {
        limit(g, a);
    }
    if !store && g.rng.chance(40) {
        a.push(b"WITHSCORES".to_vec());
    }
}

fn algebra_options(g: &mut Gen, a: &mut Vec<Vec<u8>>, name: &str, numkeys: usize) {
    let weighted = !name.starts_with("ZDIFF") && name != "ZINTERCARD";
    if weighted && g.rng.chance(30) {
        a.push(b"WEIGHTS".to_vec());
        for _ in 0..numkeys {
            a.push(g.word(&["1", "2", "0", "-1", "0.5", "inf", "-inf", "x"]));
        }
    }
    if weighted && g.rng.chance(30) {
        a.extend([b"AGGREGATE".to_vec(), g.word(&["SUM", "MIN", "MAX", "avg"])]);
    }
    if name == "ZINTERCARD" && g.rng.chance(40) {
        a.extend([b"LIMIT".to_vec(), g.word(&["0", "1", "2", "-1", "x"])]);
    }
    if !name.ends_with("STORE") && name != "ZINTERCARD" && g.rng.chance(50) {
        a.push(b"WITHSCORES".to_vec());
    }
}

fn zadd(g: &mut Gen, a: &mut Vec<Vec<u8>>) {
    a.push(g.key());
    for _ in 0..g.rng.below(3) {
        a.push(g.word(&["NX", "XX", "GT", "LT", "CH", "INCR", "ch"]));
    }
    for _ in 0..1 + g.rng.below(3) {
        a.extend([score(g), member(g)]);
    }
}

fn arguments(g: &mut Gen, name: &str, a: &mut Vec<Vec<u8>>) -> bool {
    match name {
        "ZADD" => zadd(g, a),
        "ZINCRBY" => a.extend([g.key(), score(g), member(g)]),
        "ZREM" | "ZMSCORE" => {
            a.push(g.key());
            for _ in 0..1 + g.rng.below(3) {
                a.push(member(g));
            }
        }
        "ZCARD" => a.push(g.key()),
        "ZSCORE" | "ZRANK" | "ZREVRANK" => a.extend([g.key(), member(g)]),
        "ZCOUNT" | "ZREMRANGEBYSCORE" => {
            a.extend([g.key(), g.word(SCORE_BOUNDS), g.word(SCORE_BOUNDS)]);
        }
        "ZLEXCOUNT" | "ZREMRANGEBYLEX" => {
            a.extend([g.key(), g.word(LEX_BOUNDS), g.word(LEX_BOUNDS)]);
        }
        "ZREMRANGEBYRANK" => a.extend([g.key(), g.index(), g.index()]),
        "ZRANGE" => {
            a.push(g.key());
            range_options(g, a, false);
        }
        "ZRANGESTORE" => {
            a.extend([g.key(), g.key()]);
            range_options(g, a, true);
        }
        "ZREVRANGE" => {
            a.extend([g.key(), g.index(), g.index()]);
            if g.rng.chance(40) {
                a.push(b"WITHSCORES".to_vec());
            }
        }
        "ZRANGEBYSCORE" | "ZREVRANGEBYSCORE" => {
            a.extend([g.key(), g.word(SCORE_BOUNDS), g.word(SCORE_BOUNDS)]);
            if g.rng.chance(40) {
                a.push(b"WITHSCORES".to_vec());
            }
            limit(g, a);
        }
        "ZRANGEBYLEX" | "ZREVRANGEBYLEX" => {
            a.extend([g.key(), g.word(LEX_BOUNDS), g.word(LEX_BOUNDS)]);
            limit(g, a);
        }
        "ZPOPMIN" | "ZPOPMAX" => {
            a.push(g.key());
            if g.rng.chance(50) {
                a.push(g.word(&["0", "1", "2", "5", "-1", "x"]));
            }
        }
        "ZMPOP" | "BZMPOP" => {
            if name == "BZMPOP" {
                a.push(g.word(TIMEOUTS));
            }
            keys(g, a);
            a.push(g.word(&["MIN", "MAX", "max", "MID"]));
            if g.rng.chance(50) {
                a.extend([b"COUNT".to_vec(), g.word(&["1", "2", "10", "0", "-1", "x"])]);
            }
        }
        "BZPOPMIN" | "BZPOPMAX" => {
            for _ in 0..1 + g.rng.below(2) {
                a.push(g.key());
            }
            a.push(g.word(TIMEOUTS));
        }
        "ZRANDMEMBER" => {
            a.push(g.key());
            if g.rng.chance(70) {
                a.push(g.word(&["0", "1", "2", "5", "100", "-1", "-3", "x"]));
                if g.rng.chance(50) {
                    a.push(b"WITHSCORES".to_vec());
                }
            }
        }
        "ZUNION" | "ZINTER" | "ZDIFF" | "ZINTERCARD" => {
            keys(g, a);
            let numkeys = a.len() - 2;
            algebra_options(g, a, name, numkeys);
        }
        "ZUNIONSTORE" | "ZINTERSTORE" | "ZDIFFSTORE" => {
            a.push(g.key());
            keys(g, a);
            let numkeys = a.len() - 3;
            algebra_options(g, a, name, numkeys);
        }
        "ZSCAN" => {
            a.extend([g.key(), g.word(&["0", "0", "0", "1", "x"])]);
            if g.rng.chance(30) {
                a.extend([b"MATCH".to_vec(), g.word(&["*", "a*", "?", "[a-c]"])]);
            }
            if g.rng.chance(30) {
                a.extend([b"COUNT".to_vec(), g.word(&["1", "10", "0", "x"])]);
            }
        }
        _ => return false,
    }
    true
}
