//! Sets: the calls the differential harness checks and how it draws them.
//!
//! SPOP and SRANDMEMBER are random unless their count covers the whole set, so only
//! the forms with a count are gated (`/3`) and the generator draws only counts whose
//! result is deterministic (0, a count larger than any set here, or an error). A
//! broken call that loses its count is random and ungated, and the harness taints the
//! key it touched. Huge negative counts are never drawn: redis-server would try to
//! reply with all of them.

use super::gen_hash::scan_arguments;
use super::{Family, Gen};

pub const FAMILY: Family = Family {
    implemented: &[
        "SADD",
        "SREM",
        "SCARD",
        "SISMEMBER",
        "SMISMEMBER",
        "SMEMBERS",
        "SRANDMEMBER/3",
        "SPOP/3",
        "SMOVE",
        "SINTER",
        "SINTERCARD",
        "SINTERSTORE",
        "SUNION",
        "SUNIONSTORE",
        "SDIFF",
        "SDIFFSTORE",
        "SSCAN",
    ],
    generated: &[
        "SADD",
        "SADD",
        "SADD",
        "SREM",
        "SREM",
        "SCARD",
        "SISMEMBER",
        "SMISMEMBER",
        "SMEMBERS",
        "SRANDMEMBER",
        "SPOP",
        "SMOVE",
        "SINTER",
        "SINTERCARD",
        "SINTERSTORE",
        "SUNION",
        "SUNIONSTORE",
        "SDIFF",
        "SDIFFSTORE",
        "SSCAN",
    ],
    arguments,
};

/// A member: mostly small integers (intsets) from a small pool so that sets overlap,
/// sometimes integer edge cases or anything (which converts to a hashtable).
fn member(g: &mut Gen) -> Vec<u8> {
    match g.rng.below(10) {
        0..=5 => (g.rng.below(12) as i64 - 2).to_string().into_bytes(),
        6 => g.int(),
        7 => g.word(&["a", "b", "c", "01", "-0", "+1"]),
        _ => g.value(),
    }
}

fn members(g: &mut Gen, a: &mut Vec<Vec<u8>>) {
    for _ in 0..1 + g.rng.below(5) {
        a.push(member(g));
    }
}

fn arguments(g: &mut Gen, name: &str, a: &mut Vec<Vec<u8>>) -> bool {
    match name {
        "SADD" | "SREM" | "SMISMEMBER" => {
            a.push(g.key());
            members(g, a);
        }
        "SCARD" | "SMEMBERS" => a.push(g.key()),
        "SISMEMBER" => a.extend([g.key(), member(g)]),
        "SRANDMEMBER" | "SPOP" => {
            let count = if name == "SPOP" {
                g.word(&["1000", "1000", "0", "-1", "x", "9223372036854775807"])
            } else {
                g.word(&[
                    "1000",
                    "1000",
                    "0",
                    "x",
                    "-9223372036854775808",
                    "9223372036854775807",
                ])
            };
            a.extend([g.key(), count]);
        }
        "SMOVE" => a.extend([g.key(), g.key(), member(g)]),
        "SINTER" | "SUNION" | "SDIFF" => a.extend(g.keys(3)),
        "SINTERSTORE" | "SUNIONSTORE" | "SDIFFSTORE" => {
            a.push(g.key());
            a.extend(g.keys(3));
        }
        "SINTERCARD" => {
            let keys = g.keys(3);
            let numkeys = match g.rng.below(8) {
                0 => g.word(&["0", "-1", "x", "4"]),
                _ => keys.len().to_string().into_bytes(),
            };
            a.push(numkeys);
            a.extend(keys);
            if g.rng.chance(40) {
                a.extend([b"LIMIT".to_vec(), g.word(&["0", "1", "2", "-1", "x"])]);
            }
        }
        "SSCAN" => scan_arguments(g, a),
        _ => return false,
    }
    true
}
