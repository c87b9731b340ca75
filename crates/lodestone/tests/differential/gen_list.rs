//! Lists: the calls the differential harness checks and how it draws them.
//!
//! Blocking commands are drawn with their keys usually non-empty; when every key is
//! empty the reference waits for real, so their timeouts are short (or invalid).

use super::{Family, Gen};

pub const FAMILY: Family = Family {
    implemented: &[
        "LPUSH",
        "RPUSH",
        "LPUSHX",
        "RPUSHX",
        "LPOP",
        "RPOP",
        "LLEN",
        "LRANGE",
        "LINDEX",
        "LSET",
        "LINSERT",
        "LREM",
        "LTRIM",
        "LPOS",
        "LMOVE",
        "RPOPLPUSH",
        "LMPOP",
        "BLPOP",
        "BRPOP",
        "BRPOPLPUSH",
        "BLMOVE",
        "BLMPOP",
    ],
    generated: &[
        "LPUSH",
        "LPUSH",
        "RPUSH",
        "RPUSH",
        "RPUSH",
        "LPUSHX",
        "RPUSHX",
        "LPOP",
        "RPOP",
        "LLEN",
        "LRANGE",
        "LRANGE",
        "LINDEX",
        "LSET",
        "LINSERT",
        "LREM",
        "LTRIM",
        "LPOS",
        "LPOS",
        "LMOVE",
        "RPOPLPUSH",
        "LMPOP",
        "BLPOP",
        "BRPOP",
        "BRPOPLPUSH",
        "BLMOVE",
        "BLMPOP",
    ],
    arguments,
};

/// Elements: the generic values plus a few short repeated ones, so that LREM, LPOS
/// and LINSERT find matches.
fn element(g: &mut Gen) -> Vec<u8> {
    if g.rng.chance(50) {
        g.word(&["a", "b", "c", "1", "2", "-1", "01", ""])
    } else {
        g.value()
    }
}

/// Blocking timeouts: short, or invalid (errors are answered before any wait).
fn timeout(g: &mut Gen) -> Vec<u8> {
    g.word(&["0.01", "0.01", "0.02", "-1", "x", "nan"])
}

fn side(g: &mut Gen) -> Vec<u8> {
    g.word(&["LEFT", "RIGHT", "left", "right", "UP"])
}

fn arguments(g: &mut Gen, name: &str, a: &mut Vec<Vec<u8>>) -> bool {
    match name {
        "LPUSH" | "RPUSH" | "LPUSHX" | "RPUSHX" => {
            a.push(g.key());
            for _ in 0..1 + g.rng.below(6) {
                a.push(element(g));
            }
        }
        "LPOP" | "RPOP" => {
            a.push(g.key());
            if g.rng.chance(50) {
                a.push(count(g));
            }
        }
        "LLEN" => a.push(g.key()),
        "LRANGE" | "LTRIM" => a.extend([g.key(), g.index(), g.index()]),
        "LINDEX" => a.extend([g.key(), g.index()]),
        "LSET" => a.extend([g.key(), g.index(), element(g)]),
        "LINSERT" => {
            let place = g.word(&["BEFORE", "AFTER", "after", "AROUND"]);
            a.extend([g.key(), place, element(g), element(g)]);
        }
        "LREM" => a.extend([g.key(), g.index(), element(g)]),
        "LPOS" => lpos(g, a),
        "LMOVE" => a.extend([g.key(), g.key(), side(g), side(g)]),
        "RPOPLPUSH" => a.extend([g.key(), g.key()]),
        "LMPOP" => mpop(g, a),
        "BLPOP" | "BRPOP" => {
            a.extend(g.keys(3));
            a.push(timeout(g));
        }
        "BRPOPLPUSH" => a.extend([g.key(), g.key(), timeout(g)]),
        "BLMOVE" => a.extend([g.key(), g.key(), side(g), side(g), timeout(g)]),
        "BLMPOP" => {
            a.push(timeout(g));
            mpop(g, a);
        }
        _ => return false,
    }
    true
}

/// Pop counts: small, zero, huge, negative or not a number.
fn count(g: &mut Gen) -> Vec<u8> {
    if g.rng.chance(70) {
        g.rng.below(6).to_string().into_bytes()
    } else {
        g.word(&["-1", "x", "9223372036854775807", "1.5"])
    }
}

fn lpos(g: &mut Gen, a: &mut Vec<Vec<u8>>) {
    a.extend([g.key(), element(g)]);
    for _ in 0..g.rng.below(4) {
        match g.rng.below(5) {
            0 => a.extend([b"RANK".to_vec(), g.index()]),
            1 => a.extend([b"RANK".to_vec(), g.word(&["-1", "1", "2", "-2", "0"])]),
            2 => a.extend([b"COUNT".to_vec(), count(g)]),
            3 => a.extend([b"MAXLEN".to_vec(), count(g)]),
            _ => a.push(g.word(&["RANK", "FOO"])),
        }
    }
}

/// `numkeys key... LEFT|RIGHT [COUNT n]`, sometimes with a wrong numkeys.
fn mpop(g: &mut Gen, a: &mut Vec<Vec<u8>>) {
    let keys = g.keys(3);
    if g.rng.chance(10) {
        a.push(g.word(&["0", "-1", "x", "5"]));
    } else {
        a.push(keys.len().to_string().into_bytes());
    }
    a.extend(keys);
    a.push(side(g));
    if g.rng.chance(50) {
        a.extend([b"COUNT".to_vec(), count(g)]);
    }
}
