//! Distributed locks as `docs/LOCKS.md` describes them: `SET key token NX PX ttl` to
//! acquire, a compare-and-delete script to release, compare-and-pexpire to extend, and
//! an acquire script handing out fencing tokens.
//!
//! The scripts below are the ones the document prints (a test checks it word for
//! word). Set `LOCKS_TESTS_ON_REDIS=1` to run every test against the reference
//! redis-server instead, proving the expected replies are Redis's own.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{start_subject_with, wait_for, TestServer};

/// Release: delete the lock only if it still holds our token.
const RELEASE: &str = r#"if redis.call("GET", KEYS[1]) == ARGV[1] then
    return redis.call("DEL", KEYS[1])
else
    return 0
end"#;

/// Extend: reset the lock's TTL only if it still holds our token.
const EXTEND: &str = r#"if redis.call("GET", KEYS[1]) == ARGV[1] then
    return redis.call("PEXPIRE", KEYS[1], ARGV[2])
else
    return 0
end"#;

/// Acquire with a fencing token: take the lock and, only if that worked, return the
/// next number of a counter that never goes back.
const ACQUIRE_FENCED: &str = r#"if redis.call("SET", KEYS[1], ARGV[1], "NX", "PX", ARGV[2]) then
    return redis.call("INCR", KEYS[2])
end
return false"#;

fn subject() -> TestServer {
    start_subject_with("LOCKS_TESTS_ON_REDIS", &["--threads", "4"])
}

/// A fresh random token: what makes one acquisition distinguishable from every other.
fn token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn load(con: &mut redis::Connection, body: &str) -> String {
    redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(body)
        .query(con)
        .expect("SCRIPT LOAD")
}

/// `SET key token NX PX ttl_ms`: whether the lock was taken.
fn try_acquire(con: &mut redis::Connection, key: &str, token: &str, ttl_ms: u64) -> bool {
    let reply: Option<String> = redis::cmd("SET")
        .arg(key)
        .arg(token)
        .arg("NX")
        .arg("PX")
        .arg(ttl_ms)
        .query(con)
        .expect("SET NX PX");
    reply.is_some()
}

/// Runs a loaded one-key script: `EVALSHA sha 1 key args...`.
fn evalsha(con: &mut redis::Connection, sha: &str, key: &str, args: &[&str]) -> i64 {
    redis::cmd("EVALSHA")
        .arg(sha)
        .arg(1)
        .arg(key)
        .arg(args)
        .query(con)
        .expect("EVALSHA")
}

/// Eight clients contending for one lock keep a non-atomic GET-then-SET counter exact:
/// the lock alone excludes them from each other, and every holder's release succeeds.
#[test]
fn lock_serialises_a_read_modify_write_counter() {
    let server = subject();
    let mut con = server.client();
    let release = load(&mut con, RELEASE);
    let _: () = redis::cmd("SET")
        .arg("counter")
        .arg(0)
        .query(&mut con)
        .unwrap();
    let clients = 8;
    let increments = 60;
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let url = server.url();
            let release = release.clone();
            thread::spawn(move || {
                let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
                let deadline = Instant::now() + Duration::from_secs(120);
                let (mut done, mut refused) = (0, 0u64);
                while done < increments {
                    assert!(Instant::now() < deadline, "lock never became free");
                    let mine = token();
                    if !try_acquire(&mut con, "lock", &mine, 30_000) {
                        refused += 1;
                        // Retry pacing, not synchronisation: let the holder run.
                        thread::yield_now();
                        continue;
                    }
                    let value: i64 = redis::cmd("GET").arg("counter").query(&mut con).unwrap();
                    let _: () = redis::cmd("SET")
                        .arg("counter")
                        .arg(value + 1)
                        .query(&mut con)
                        .unwrap();
                    assert_eq!(
                        evalsha(&mut con, &release, "lock", &[&mine]),
                        1,
                        "the holder's release deletes the lock"
                    );
                    done += 1;
                }
                refused
            })
        })
        .collect();
    let refused: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let counter: i64 = redis::cmd("GET").arg("counter").query(&mut con).unwrap();
    assert_eq!(counter, clients * increments);
    let exists: i64 = redis::cmd("EXISTS").arg("lock").query(&mut con).unwrap();
    assert_eq!(exists, 0, "the last holder released the lock");
    eprintln!("{refused} refused acquisitions");
}

/// A holder whose lock expired cannot release or extend the next holder's lock; the
/// next holder still owns it, and can extend and release it.
#[test]
fn expired_holder_cannot_touch_the_next_holders_lock() {
    let server = subject();
    let (mut a, mut b) = (server.client(), server.client());
    let release = load(&mut a, RELEASE);
    let extend = load(&mut a, EXTEND);
    let (token_a, token_b) = (token(), token());

    // Short, but long enough that B's next command surely finds it held even on a
    // loaded machine.
    assert!(try_acquire(&mut a, "lock", &token_a, 500));
    assert!(!try_acquire(&mut b, "lock", &token_b, 10_000), "A holds it");
    // A stalls past its TTL (a GC pause, a slow disk): the lock expires under it.
    assert!(
        wait_for(Duration::from_secs(10), || {
            redis::cmd("EXISTS")
                .arg("lock")
                .query::<i64>(&mut b)
                .unwrap()
                == 0
        }),
        "the lock expired"
    );
    assert!(try_acquire(&mut b, "lock", &token_b, 10_000), "B takes it");

    assert_eq!(evalsha(&mut a, &release, "lock", &[&token_a]), 0);
    assert_eq!(evalsha(&mut a, &extend, "lock", &[&token_a, "60000"]), 0);
    let holder: String = redis::cmd("GET").arg("lock").query(&mut b).unwrap();
    assert_eq!(holder, token_b, "B still holds the lock");
    let ttl: i64 = redis::cmd("PTTL").arg("lock").query(&mut b).unwrap();
    assert!(
        (1..=10_000).contains(&ttl),
        "A's extend left B's TTL alone: {ttl}"
    );

    assert_eq!(evalsha(&mut b, &extend, "lock", &[&token_b, "60000"]), 1);
    let ttl: i64 = redis::cmd("PTTL").arg("lock").query(&mut b).unwrap();
    assert!((10_001..=60_000).contains(&ttl), "B's extend took: {ttl}");

    assert_eq!(evalsha(&mut b, &release, "lock", &[&token_b]), 1);
    assert_eq!(evalsha(&mut b, &release, "lock", &[&token_b]), 0, "once");
    assert!(try_acquire(&mut a, "lock", &token(), 10_000), "free again");
}

/// Extending or releasing a lock nobody holds does nothing and creates no key.
#[test]
fn extend_and_release_of_a_free_lock_do_nothing() {
    let server = subject();
    let mut con = server.client();
    let release = load(&mut con, RELEASE);
    let extend = load(&mut con, EXTEND);
    assert_eq!(evalsha(&mut con, &extend, "lock", &["t", "60000"]), 0);
    assert_eq!(evalsha(&mut con, &release, "lock", &["t"]), 0);
    let exists: i64 = redis::cmd("EXISTS").arg("lock").query(&mut con).unwrap();
    assert_eq!(exists, 0);
}

/// The fenced acquire hands out strictly increasing tokens, one per successful
/// acquisition, and nothing (nil) to a client that did not get the lock.
#[test]
fn fenced_acquire_hands_out_increasing_tokens() {
    let server = subject();
    let (mut a, mut b) = (server.client(), server.client());
    let acquire = load(&mut a, ACQUIRE_FENCED);
    let release = load(&mut a, RELEASE);
    let keys = ["{lock:report}", "{lock:report}:fence"];
    let mut last = 0;
    for _ in 0..5 {
        let mine = token();
        let fence: Option<i64> = redis::cmd("EVALSHA")
            .arg(&acquire)
            .arg(2)
            .arg(&keys)
            .arg(&mine)
            .arg(10_000)
            .query(&mut a)
            .unwrap();
        let fence = fence.expect("the lock was free");
        assert!(
            fence > last,
            "fencing tokens increase: {fence} after {last}"
        );
        last = fence;
        let refused: Option<i64> = redis::cmd("EVALSHA")
            .arg(&acquire)
            .arg(2)
            .arg(&keys)
            .arg(token())
            .arg(10_000)
            .query(&mut b)
            .unwrap();
        assert_eq!(refused, None, "a held lock gives out no token");
        assert_eq!(evalsha(&mut a, &release, keys[0], &[&mine]), 1);
    }
    assert_eq!(last, 5, "one token per successful acquisition");
}

/// docs/LOCKS.md prints exactly the scripts these tests run.
#[test]
fn documented_scripts_are_the_tested_ones() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/LOCKS.md");
    let doc = std::fs::read_to_string(path).expect("docs/LOCKS.md");
    for (name, body) in [
        ("release", RELEASE),
        ("extend", EXTEND),
        ("fenced acquire", ACQUIRE_FENCED),
    ] {
        assert!(
            doc.contains(&format!("```lua\n{body}\n```")),
            "docs/LOCKS.md lacks the {name} script"
        );
    }
}
