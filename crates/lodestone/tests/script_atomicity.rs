//! Scripts run as one atomic step across threads and shards: a script that reaches keys
//! it never declared, spread over every shard, is never interleaved with other clients'
//! writes, and a script on few declared keys stays atomic among unrelated traffic.
//!
//! Lodestone runs with `--threads 4`. Set `ATOMICITY_TESTS_ON_REDIS=1` to run the same
//! tests against the reference redis-server (single-threaded, so atomic by design):
//! the expected replies are Redis's own.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{start_subject_with, TestServer};

/// Keys `k0..k63`: no hash tags, so they spread over every shard.
const KEYS: usize = 64;

/// Reads every key named in ARGV (none declared), then increments each; returns 1 when
/// all the values it read were equal.
const READ_ALL_THEN_INCR: &str = r#"local first = redis.call("GET", ARGV[1])
local equal = 1
for i = 2, #ARGV do
    if redis.call("GET", ARGV[i]) ~= first then equal = 0 end
end
for i = 1, #ARGV do redis.call("INCR", ARGV[i]) end
return equal"#;

/// Reads and increments each key in turn (writes before reaching the next shard);
/// returns 1 when every value it read before its own increment was the first one read.
const READ_INCR_EACH: &str = r#"local first = redis.call("GET", ARGV[1])
local equal = 1
for i = 1, #ARGV do
    if redis.call("GET", ARGV[i]) ~= first then equal = 0 end
    redis.call("INCR", ARGV[i])
end
return equal"#;

/// Moves ARGV[1] units from KEYS[1] to KEYS[2] with a read and a write per key, so a
/// torn run would break the pair's constant sum.
const TRANSFER: &str = r#"local from = tonumber(redis.call("GET", KEYS[1]))
local to = tonumber(redis.call("GET", KEYS[2]))
redis.call("SET", KEYS[1], from - ARGV[1])
redis.call("SET", KEYS[2], to + ARGV[1])
return from + to"#;

fn subject() -> TestServer {
    start_subject_with("ATOMICITY_TESTS_ON_REDIS", &["--threads", "4"])
}

fn key_names() -> Vec<String> {
    (0..KEYS).map(|i| format!("k{i}")).collect()
}

fn connect(url: &str) -> redis::Connection {
    redis::Client::open(url).unwrap().get_connection().unwrap()
}

/// A writer keeping the invariant "all 64 keys equal": `MULTI; INCR k0..k63; EXEC`.
fn incr_all_in_multi(con: &mut redis::Connection, keys: &[String]) {
    let mut pipe = redis::pipe();
    pipe.atomic();
    for key in keys {
        pipe.cmd("INCR").arg(key).ignore();
    }
    let _: () = pipe.query(con).unwrap();
}

/// Whether one `MGET k0..k63` sees all values equal; panics on a missing key.
fn all_equal(con: &mut redis::Connection, keys: &[String]) -> bool {
    let values: Vec<i64> = redis::cmd("MGET").arg(keys).query(con).unwrap();
    values.windows(2).all(|w| w[0] == w[1])
}

/// Runs `scripts` clients evaluating `body` (numkeys 0, the 64 key names in ARGV) while
/// `writers` clients run `MULTI; INCR all; EXEC` and a reader checks with MGET; every
/// script run, every MGET and the final state must see 64 equal values. `unique`
/// makes every run a new script (its first run cannot know its keys in advance).
fn undeclared_keys_stay_atomic(body: &str, unique: bool) {
    let server = subject();
    let keys = key_names();
    let mut con = server.client();
    let mut mset = redis::cmd("MSET");
    for key in &keys {
        mset.arg(key).arg(0);
    }
    let _: () = mset.query(&mut con).unwrap();

    let (scripts, writers, runs, transactions) = (3, 3, 150, 150);
    let stop = Arc::new(AtomicBool::new(false));
    let torn_reads = Arc::new(AtomicU64::new(0));
    let reader = {
        let (url, keys, stop, torn_reads) =
            (server.url(), keys.clone(), stop.clone(), torn_reads.clone());
        thread::spawn(move || {
            let mut con = connect(&url);
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if !all_equal(&mut con, &keys) {
                    torn_reads.fetch_add(1, Ordering::Relaxed);
                }
                reads += 1;
            }
            reads
        })
    };
    let writer_handles: Vec<_> = (0..writers)
        .map(|_| {
            let (url, keys) = (server.url(), keys.clone());
            thread::spawn(move || {
                let mut con = connect(&url);
                for _ in 0..transactions {
                    incr_all_in_multi(&mut con, &keys);
                }
            })
        })
        .collect();
    let script_handles: Vec<_> = (0..scripts)
        .map(|s| {
            let (url, keys, body) = (server.url(), keys.clone(), body.to_string());
            thread::spawn(move || {
                let mut con = connect(&url);
                let mut unequal = 0;
                for run in 0..runs {
                    let script = match unique {
                        true => format!("-- client {s} run {run}\n{body}"),
                        false => body.clone(),
                    };
                    let equal: i64 = redis::cmd("EVAL")
                        .arg(&script)
                        .arg(0)
                        .arg(&keys)
                        .query(&mut con)
                        .unwrap();
                    if equal != 1 {
                        unequal += 1;
                    }
                }
                unequal
            })
        })
        .collect();
    for h in writer_handles {
        h.join().unwrap();
    }
    let interleaved: u64 = script_handles.into_iter().map(|h| h.join().unwrap()).sum();
    stop.store(true, Ordering::Relaxed);
    let reads = reader.join().unwrap();

    assert_eq!(interleaved, 0, "script runs that saw unequal values");
    assert_eq!(
        torn_reads.load(Ordering::Relaxed),
        0,
        "MGETs (of {reads}) that saw a script or a transaction half done"
    );
    let values: Vec<i64> = redis::cmd("MGET").arg(&keys).query(&mut con).unwrap();
    let expected = (scripts * runs + writers * transactions) as i64;
    assert!(
        values.iter().all(|&v| v == expected),
        "every key got every increment: {values:?}"
    );
}

/// A script reading 64 undeclared keys on every shard, then incrementing them all,
/// never observes a concurrent MULTI/EXEC half done, and is never observed half done.
#[test]
fn undeclared_keys_read_then_write_is_atomic() {
    undeclared_keys_stay_atomic(READ_ALL_THEN_INCR, false);
}

/// The same with a script that writes before reaching its next undeclared key, each run
/// a new script: atomic even when the server learns the keys only while running it.
#[test]
fn undeclared_keys_interleaved_writes_are_atomic_from_the_first_run() {
    undeclared_keys_stay_atomic(READ_INCR_EACH, true);
}

/// Transfer scripts on two declared keys keep their pair's sum constant for every
/// reader, while unrelated clients' INCRs on other keys all land.
#[test]
fn declared_keys_script_is_atomic_among_unrelated_traffic() {
    let server = subject();
    let mut con = server.client();
    let transfer: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(TRANSFER)
        .query(&mut con)
        .unwrap();
    // "a" and "b" hash to different slots (15495 and 3300), so different shards.
    let _: () = redis::cmd("MSET")
        .arg("a")
        .arg(1000)
        .arg("b")
        .arg(1000)
        .query(&mut con)
        .unwrap();

    let (movers, runs, bystanders, incrs) = (3, 300, 3, 600);
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (url, stop) = (server.url(), stop.clone());
        thread::spawn(move || {
            let mut con = connect(&url);
            let mut torn = 0;
            while !stop.load(Ordering::Relaxed) {
                let (a, b): (i64, i64) = redis::cmd("MGET")
                    .arg("a")
                    .arg("b")
                    .query(&mut con)
                    .unwrap();
                if a + b != 2000 {
                    torn += 1;
                }
            }
            torn
        })
    };
    let mover_handles: Vec<_> = (0..movers)
        .map(|m| {
            let (url, transfer) = (server.url(), transfer.clone());
            thread::spawn(move || {
                let mut con = connect(&url);
                let (from, to) = if m % 2 == 0 { ("a", "b") } else { ("b", "a") };
                let mut torn = 0;
                for _ in 0..runs {
                    let sum: i64 = redis::cmd("EVALSHA")
                        .arg(&transfer)
                        .arg(2)
                        .arg(from)
                        .arg(to)
                        .arg(7)
                        .query(&mut con)
                        .unwrap();
                    if sum != 2000 {
                        torn += 1;
                    }
                }
                torn
            })
        })
        .collect();
    let started = Instant::now();
    let bystander_handles: Vec<_> = (0..bystanders)
        .map(|c| {
            let url = server.url();
            thread::spawn(move || {
                let mut con = connect(&url);
                for i in 0..incrs {
                    let _: i64 = redis::cmd("INCR")
                        .arg(format!("other:{}", (i + c) % 16))
                        .query(&mut con)
                        .unwrap();
                }
            })
        })
        .collect();
    for h in bystander_handles {
        h.join().unwrap();
    }
    let bystanders_took = started.elapsed();
    let torn_runs: i64 = mover_handles.into_iter().map(|h| h.join().unwrap()).sum();
    stop.store(true, Ordering::Relaxed);
    let torn_reads: i64 = reader.join().unwrap();

    assert_eq!(torn_runs, 0, "transfers that saw a torn pair");
    assert_eq!(torn_reads, 0, "MGETs that saw a transfer half done");
    let (a, b): (i64, i64) = redis::cmd("MGET")
        .arg("a")
        .arg("b")
        .query(&mut con)
        .unwrap();
    assert_eq!(a + b, 2000);
    let others: Vec<i64> = redis::cmd("MGET")
        .arg((0..16).map(|i| format!("other:{i}")).collect::<Vec<_>>())
        .query(&mut con)
        .unwrap();
    assert_eq!(others.iter().sum::<i64>(), (bystanders * incrs) as i64);
    assert!(
        bystanders_took < Duration::from_secs(60),
        "unrelated traffic kept moving ({bystanders_took:?})"
    );
}
