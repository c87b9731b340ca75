//! Streams and consumer groups: the calls the differential harness checks and how it
//! draws them.
//!
//! IDs are explicit and drawn around a clock that only moves forward ([`Gen`]'s
//! `stream_ms`), so most XADDs succeed and most ranges, deletes and claims hit real
//! entries; now and then an ID is older than the top (refused), `ms-*`, or malformed.
//! `*` is never drawn: its ID is the server's clock. Trimming is mostly exact; `~` is
//! drawn too (node boundaries are deterministic). Claims use a min-idle of 0 or an
//! hour and XCLAIM sets idle times of 0 or two hours, so which entries move never
//! depends on how fast the servers run; the idle and delivery times in XPENDING and
//! XINFO replies are blanked by `Norm::StreamTimes`. Blocking reads use a timeout of
//! one millisecond, so a read with nothing to serve costs the reference almost nothing.
//!
//! Stream commands mostly use their own keys (`s1`, `s2`), so that groups and PELs
//! live long enough to matter; a few use the shared pool, where the other
//! families' keys give WRONGTYPE.

use super::{Family, Gen};

pub const FAMILY: Family = Family {
    implemented: &[
        "XADD",
        "XLEN",
        "XRANGE",
        "XREVRANGE",
        "XDEL",
        "XTRIM",
        "XSETID",
        "XREAD",
        "XGROUP",
        "XREADGROUP",
        "XACK",
        "XPENDING",
        "XCLAIM",
        "XAUTOCLAIM",
        "XINFO",
    ],
    generated: &[
        "XADD",
        "XADD",
        "XADD",
        "XADD",
        "XADD",
        "XLEN",
        "XRANGE",
        "XRANGE",
        "XREVRANGE",
        "XDEL",
        "XTRIM",
        "XSETID",
        "XREAD",
        "XGROUP",
        "XGROUP",
        "XGROUP",
        "XREADGROUP",
        "XREADGROUP",
        "XREADGROUP",
        "XACK",
        "XPENDING",
        "XPENDING",
        "XCLAIM",
        "XAUTOCLAIM",
        "XINFO",
        "XINFO",
    ],
    arguments,
};

/// What the stream-only runs draw from: the family's commands (XGROUP CREATE more
/// often, so that groups exist most of the time), and DEL of a stream key now and then.
pub fn streams_only() -> Vec<&'static str> {
    let mut names = FAMILY.generated.repeat(3);
    names.extend(["XGROUP", "XGROUP", "XGROUP", "XACK", "XACK", "DEL"]);
    names
}

const GROUPS: &[&str] = &["g1", "g1", "g1", "g1", "g2", "g2", "nog"];
const CONSUMERS: &[&str] = &["c1", "c2", "c3", ""];

/// A stream key: mostly one of the family's own, sometimes any key.
fn stream_key(g: &mut Gen) -> Vec<u8> {
    if g.rng.chance(85) {
        g.word(&["s1", "s1", "s1", "s2"])
    } else {
        g.key()
    }
}

fn group(g: &mut Gen) -> Vec<u8> {
    g.word(GROUPS)
}

fn consumer(g: &mut Gen) -> Vec<u8> {
    g.word(CONSUMERS)
}

/// A millisecond part at most `back` below the clock.
fn recent_ms(g: &mut Gen, back: usize) -> u64 {
    g.stream_ms.saturating_sub(g.rng.below(back + 1) as u64)
}

/// An ID near the top of the streams: full, bare milliseconds, or now and then an
/// edge or a malformed one.
fn recent_id(g: &mut Gen) -> Vec<u8> {
    match g.rng.below(20) {
        0 => g.word(&["0", "0-0", "18446744073709551615-18446744073709551615"]),
        1 => g.word(&["abc", "1-2-3", "-5", "5-", ""]),
        2..=5 => recent_ms(g, 12).to_string().into_bytes(),
        _ => {
            let ms = recent_ms(g, 12);
            let seq = if g.rng.chance(60) { 0 } else { g.rng.below(3) };
            format!("{ms}-{seq}").into_bytes()
        }
    }
}

/// A range bound: `-`, `+`, a recent ID, or an exclusive one.
fn bound(g: &mut Gen) -> Vec<u8> {
    match g.rng.below(8) {
        0 => b"-".to_vec(),
        1 => b"+".to_vec(),
        2 => {
            let mut id = b"(".to_vec();
            id.extend(recent_id(g));
            id
        }
        _ => recent_id(g),
    }
}

/// An ID at or below the top: refused by XADD, and never the largest ID (that would
/// exhaust the stream for the rest of the run).
fn old_id(g: &mut Gen) -> Vec<u8> {
    format!("{}-{}", recent_ms(g, 12), g.rng.below(3)).into_bytes()
}

/// The ID of a new entry: mostly above the top (advancing the clock), sometimes equal
/// milliseconds with a higher sequence, `ms-*`, older than the top, or malformed.
fn new_id(g: &mut Gen) -> Vec<u8> {
    match g.rng.below(20) {
        0 => old_id(g),
        1 => g.word(&["0-0", "0", "0-*", "abc", "1-2-3", "-1"]),
        2..=4 => format!("{}-*", g.stream_ms).into_bytes(),
        5..=7 => {
            let seq = 1 + g.rng.below(3);
            format!("{}-{seq}", g.stream_ms).into_bytes()
        }
        _ => {
            g.stream_ms += 1 + g.rng.below(3) as u64;
            let seq = if g.rng.chance(70) { 0 } else { g.rng.below(5) };
            let id = format!("{}-{seq}", g.stream_ms).into_bytes();
            if g.stream_ids.len() == 64 {
                g.stream_ids.remove(0);
            }
            g.stream_ids.push(id.clone());
            id
        }
    }
}

/// A small count, with the edges now and then.
fn count(g: &mut Gen) -> Vec<u8> {
    if g.rng.chance(15) {
        g.word(&["0", "-1", "x", "100"])
    } else {
        (1 + g.rng.below(4)).to_string().into_bytes()
    }
}

/// `MAXLEN|MINID [=|~] threshold [LIMIT n]`, mostly exact.
fn trim_options(g: &mut Gen, a: &mut Vec<Vec<u8>>) {
    let approximate = g.rng.chance(15);
    if g.rng.chance(55) {
        a.push(g.word(&["MAXLEN", "maxlen"]));
        push_modifier(g, a, approximate);
        let n = g.rng.below(12);
        a.push(g.word(&[&n.to_string(), &n.to_string(), "-1", "x"]));
    } else {
        a.push(g.word(&["MINID", "minid"]));
        push_modifier(g, a, approximate);
        let id = format!("{}", recent_ms(g, 8));
        a.push(g.word(&[&id, &id, &id, "abc"]));
    }
    if g.rng.chance(approximate as usize * 40 + 5) {
        a.extend([b"LIMIT".to_vec(), g.word(&["0", "1", "100", "-1"])]);
    }
}

fn push_modifier(g: &mut Gen, a: &mut Vec<Vec<u8>>, approximate: bool) {
    if approximate {
        a.push(b"~".to_vec());
    } else if g.rng.chance(40) {
        a.push(b"=".to_vec());
    }
}

/// Field/value pairs from small pools (an odd count now and then).
fn fields(g: &mut Gen, a: &mut Vec<Vec<u8>>) {
    for _ in 0..1 + g.rng.below(3) {
        a.push(g.word(&["f", "f", "g", "name", ""]));
        a.push(g.value());
    }
    if g.rng.chance(3) {
        a.push(b"odd".to_vec());
    }
}

/// 1 to 3 IDs of entries likely to exist: mostly one of the last 64 drawn for XADD
/// (entries delivered to a group long ago included), or near the top.
fn ids(g: &mut Gen, a: &mut Vec<Vec<u8>>) {
    for _ in 0..1 + g.rng.below(3) {
        let id = match g.rng.below(10) {
            0..=5 if !g.stream_ids.is_empty() => {
                g.stream_ids[g.rng.below(g.stream_ids.len())].clone()
            }
            0..=7 => format!("{}-0", recent_ms(g, 8)).into_bytes(),
            _ => recent_id(g),
        };
        a.push(id);
    }
}

fn arguments(g: &mut Gen, name: &str, a: &mut Vec<Vec<u8>>) -> bool {
    match name {
        "DEL" if g.streams_only => a.push(stream_key(g)),
        "XADD" => {
            a.push(stream_key(g));
            if g.rng.chance(10) {
                a.push(b"NOMKSTREAM".to_vec());
            }
            if g.rng.chance(30) {
                trim_options(g, a);
            }
            a.push(new_id(g));
            fields(g, a);
        }
        "XLEN" => a.push(stream_key(g)),
        "XRANGE" | "XREVRANGE" => {
            a.extend([stream_key(g), bound(g), bound(g)]);
            if g.rng.chance(40) {
                a.extend([b"COUNT".to_vec(), count(g)]);
            }
        }
        "XDEL" => {
            a.push(stream_key(g));
            ids(g, a);
        }
        "XTRIM" => {
            a.push(stream_key(g));
            trim_options(g, a);
        }
        "XSETID" => xsetid(g, a),
        "XREAD" => {
            if g.rng.chance(30) {
                a.extend([b"COUNT".to_vec(), count(g)]);
            }
            if g.rng.chance(5) {
                a.extend([b"BLOCK".to_vec(), b"1".to_vec()]);
            }
            a.push(b"STREAMS".to_vec());
            let keys = 1 + g.rng.below(2);
            for _ in 0..keys {
                a.push(stream_key(g));
            }
            for _ in 0..keys {
                let id = if g.rng.chance(20) {
                    g.word(&["$", "0", ">"])
                } else {
                    recent_id(g)
                };
                a.push(id);
            }
        }
        "XGROUP" => xgroup(g, a),
        "XREADGROUP" => xreadgroup(g, a),
        "XACK" => {
            a.extend([stream_key(g), group(g)]);
            ids(g, a);
        }
        "XPENDING" => {
            a.extend([stream_key(g), group(g)]);
            if g.rng.chance(65) {
                if g.rng.chance(30) {
                    a.extend([b"IDLE".to_vec(), g.word(&["0", "3600000", "x"])]);
                }
                a.extend([bound(g), bound(g), count(g)]);
                if g.rng.chance(40) {
                    a.push(consumer(g));
                }
            }
        }
        "XCLAIM" => xclaim(g, a),
        "XAUTOCLAIM" => {
            a.extend([stream_key(g), group(g), consumer(g), min_idle(g)]);
            a.push(if g.rng.chance(40) {
                g.word(&["0", "0-0", "-"])
            } else {
                bound(g)
            });
            if g.rng.chance(40) {
                a.extend([b"COUNT".to_vec(), count(g)]);
            }
            if g.rng.chance(40) {
                a.push(b"JUSTID".to_vec());
            }
        }
        "XINFO" => match g.rng.below(6) {
            0 | 1 => a.extend([b"GROUPS".to_vec(), stream_key(g)]),
            2 => a.extend([b"CONSUMERS".to_vec(), stream_key(g), group(g)]),
            3 => {
                a.extend([b"STREAM".to_vec(), stream_key(g), b"FULL".to_vec()]);
                if g.rng.chance(50) {
                    a.extend([b"COUNT".to_vec(), g.word(&["0", "1", "2", "-1"])]);
                }
            }
            _ => a.extend([b"STREAM".to_vec(), stream_key(g)]),
        },
        _ => return false,
    }
    true
}

/// A min-idle that either claims everything or only what XCLAIM made two hours idle.
fn min_idle(g: &mut Gen) -> Vec<u8> {
    g.word(&["0", "0", "0", "3600000", "-1", "x"])
}

fn xsetid(g: &mut Gen, a: &mut Vec<Vec<u8>>) {
    a.push(stream_key(g));
    // Mostly at or above the top, moving the clock so that later XADDs still succeed.
    let id = if g.rng.chance(70) {
        g.stream_ms += g.rng.below(3) as u64;
        format!("{}-{}", g.stream_ms, g.rng.below(3)).into_bytes()
    } else if g.rng.chance(80) {
        old_id(g)
    } else {
        g.word(&["0", "0-0", "abc", "-", "+"])
    };
    a.push(id);
    if g.rng.chance(40) {
        let n = g.rng.below(40).to_string();
        a.extend([b"ENTRIESADDED".to_vec(), g.word(&[&n, &n, "-1"])]);
    }
    if g.rng.chance(30) {
        a.extend([b"MAXDELETEDID".to_vec(), recent_id(g)]);
    }
}

fn xgroup(g: &mut Gen, a: &mut Vec<Vec<u8>>) {
    // `-` and `+` are valid for SETID only.
    let start = |g: &mut Gen| match g.rng.below(10) {
        0..=4 => g.word(&["$", "$", "0", "0-0"]),
        5 => g.word(&["-", "+"]),
        _ => recent_id(g),
    };
    let entries_read = |g: &mut Gen, a: &mut Vec<Vec<u8>>| {
        if g.rng.chance(25) {
            let n = g.rng.below(30).to_string();
            a.extend([b"ENTRIESREAD".to_vec(), g.word(&[&n, &n, "-1", "-2"])]);
        }
    };
    match g.rng.below(10) {
        0..=3 => {
            let name = g.word(&["g1", "g1", "g2"]);
            a.extend([b"CREATE".to_vec(), stream_key(g), name, start(g)]);
            if g.rng.chance(60) {
                a.push(b"MKSTREAM".to_vec());
            }
            entries_read(g, a);
        }
        4 => {
            a.extend([b"SETID".to_vec(), stream_key(g), group(g), start(g)]);
            entries_read(g, a);
        }
        5 => a.extend([b"DESTROY".to_vec(), stream_key(g), group(g)]),
        6 | 7 => {
            let sub = g.word(&["CREATECONSUMER", "createconsumer"]);
            a.extend([sub, stream_key(g), group(g), consumer(g)]);
        }
        8 => a.extend([
            b"DELCONSUMER".to_vec(),
            stream_key(g),
            group(g),
            consumer(g),
        ]),
        _ => a.push(g.word(&["HELP", "FOO"])),
    }
}

fn xreadgroup(g: &mut Gen, a: &mut Vec<Vec<u8>>) {
    a.extend([b"GROUP".to_vec(), group(g), consumer(g)]);
    if g.rng.chance(40) {
        a.extend([b"COUNT".to_vec(), count(g)]);
    }
    if g.rng.chance(15) {
        a.push(b"NOACK".to_vec());
    }
    if g.rng.chance(5) {
        a.extend([b"BLOCK".to_vec(), b"1".to_vec()]);
    }
    a.push(b"STREAMS".to_vec());
    let keys = if g.rng.chance(15) { 2 } else { 1 };
    for _ in 0..keys {
        a.push(stream_key(g));
    }
    for _ in 0..keys {
        let id = match g.rng.below(10) {
            0..=5 => b">".to_vec(),
            6 | 7 => b"0".to_vec(),
            8 => recent_id(g),
            _ => g.word(&["$", "+", "0-0"]),
        };
        a.push(id);
    }
}

fn xclaim(g: &mut Gen, a: &mut Vec<Vec<u8>>) {
    a.extend([stream_key(g), group(g), consumer(g), min_idle(g)]);
    ids(g, a);
    for _ in 0..g.rng.below(3) {
        match g.rng.below(7) {
            0 => a.push(b"JUSTID".to_vec()),
            1 => a.push(b"FORCE".to_vec()),
            2 => a.extend([b"RETRYCOUNT".to_vec(), g.word(&["0", "3", "x"])]),
            3 => a.extend([b"IDLE".to_vec(), g.word(&["0", "7200000"])]),
            4 => a.extend([b"TIME".to_vec(), g.word(&["1", "x"])]),
            5 => a.extend([b"LASTID".to_vec(), recent_id(g)]),
            _ => a.push(b"JUSTID".to_vec()),
        }
    }
}
