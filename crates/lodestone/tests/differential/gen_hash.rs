//! Hashes: the calls the differential harness checks and how it draws them.
//!
//! HRANDFIELD is random unless its count covers the whole hash, so only the forms with
//! a count are gated (`/3`, `/4`) and the generator draws only counts whose reply is
//! deterministic (0, a count larger than any hash here, or an error). A broken call
//! that loses its count is random and ungated; it only reads, so state stays in sync.
//! Huge negative counts are never drawn: redis-server would try to reply with all of
//! them.

use super::{Family, Gen};

pub const FAMILY: Family = Family {
    implemented: &[
        "HSET",
        "HSETNX",
        "HGET",
        "HMSET",
        "HMGET",
        "HGETALL",
        "HDEL",
        "HLEN",
        "HSTRLEN",
        "HEXISTS",
        "HKEYS",
        "HVALS",
        "HINCRBY",
        "HINCRBYFLOAT",
        "HRANDFIELD/3",
        "HRANDFIELD/4",
        "HSCAN",
    ],
    generated: &[
        "HSET",
        "HSET",
        "HSET",
        "HSETNX",
        "HGET",
        "HGET",
        "HMSET",
        "HMGET",
        "HGETALL",
        "HDEL",
        "HDEL",
        "HLEN",
        "HSTRLEN",
        "HEXISTS",
        "HKEYS",
        "HVALS",
        "HINCRBY",
        "HINCRBYFLOAT",
        "HRANDFIELD",
        "HSCAN",
    ],
    arguments,
};

/// A field: mostly from a small pool so that commands collide, sometimes anything.
fn field(g: &mut Gen) -> Vec<u8> {
    if g.rng.chance(75) {
        g.word(&["f1", "f2", "f3", "f4", "a", "b", "12", ""])
    } else {
        g.value()
    }
}

/// A value, now and then past hash-max-listpack-value (64) to force a hashtable.
fn hash_value(g: &mut Gen) -> Vec<u8> {
    if g.rng.chance(5) {
        vec![b'v'; 60 + g.rng.below(10)]
    } else {
        g.value()
    }
}

fn arguments(g: &mut Gen, name: &str, a: &mut Vec<Vec<u8>>) -> bool {
    match name {
        "HSET" | "HMSET" => {
            a.push(g.key());
            for _ in 0..1 + g.rng.below(4) {
                a.extend([field(g), hash_value(g)]);
            }
        }
        "HSETNX" => a.extend([g.key(), field(g), hash_value(g)]),
        "HGET" | "HSTRLEN" | "HEXISTS" => a.extend([g.key(), field(g)]),
        "HMGET" | "HDEL" => {
            a.push(g.key());
            for _ in 0..1 + g.rng.below(4) {
                a.push(field(g));
            }
        }
        "HGETALL" | "HLEN" | "HKEYS" | "HVALS" => a.push(g.key()),
        "HINCRBY" => a.extend([g.key(), field(g), g.int()]),
        "HINCRBYFLOAT" => {
            let by = if g.rng.chance(50) {
                g.word(&[
                    "1.5", "-0.25", "1e3", "inf", "-inf", "nan", "x", "5e-324", "1e308",
                ])
            } else {
                g.int()
            };
            a.extend([g.key(), field(g), by]);
        }
        "HRANDFIELD" => {
            a.push(g.key());
            let count = g.word(&[
                "1000",
                "1000",
                "0",
                "x",
                "1.5",
                "-9223372036854775808",
                "4611686018427387904",
                "9223372036854775807",
            ]);
            a.push(count);
            if g.rng.chance(50) {
                a.push(g.word(&["WITHVALUES", "withvalues", "WITHVALUES", "VALUES"]));
            }
        }
        "HSCAN" => scan_arguments(g, a),
        _ => return false,
    }
    true
}

/// A key, a cursor (mostly 0) and random options: shared with SSCAN. No other valid
/// cursor is drawn: where one lands in a hashtable is each server's own business.
pub fn scan_arguments(g: &mut Gen, a: &mut Vec<Vec<u8>>) {
    a.push(g.key());
    a.push(g.word(&["0", "0", "0", "x", "18446744073709551616", " 0"]));
    for _ in 0..g.rng.below(3) {
        match g.rng.below(4) {
            0 => a.extend([
                b"COUNT".to_vec(),
                g.word(&["1", "10", "1000", "0", "-1", "x"]),
            ]),
            1 => a.extend([b"MATCH".to_vec(), g.word(&["*", "f*", "?", "[a-f]*", "*2"])]),
            2 => a.push(g.word(&["COUNT", "MATCH"])),
            _ => a.extend([g.word(&["TYPE", "count"]), g.word(&["1000", "string"])]),
        }
    }
}
