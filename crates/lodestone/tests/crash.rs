//! Durability by crashing: kill -9 while clients write, restart, and check what
//! survived against what was acknowledged. With the AOF on, a reply is sent only after
//! the write reached the file (and, with `appendfsync always`, the disk), so every
//! acknowledged write must be back. A kill during an AOF rewrite leaves files that load
//! to exactly the acknowledged data.
//!
//! A process kill cannot show the difference between "written" and "fsynced" (the
//! kernel keeps written pages); the fsync itself is exercised, and its cost measured,
//! by scripts/bench-persistence.sh.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::procs::{info_field, q, scratch, text, Proc};
use common::wait_for;

const WRITERS: usize = 4;

/// Writers that each record the last write acknowledged to them: `SET w{t}:{n}` and
/// `RPUSH log:{t} n` for n = 1, 2, ... until the server goes away.
fn start_writers(port: u16) -> Vec<std::thread::JoinHandle<u64>> {
    (0..WRITERS)
        .map(|t| {
            std::thread::spawn(move || {
                let client =
                    redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("client");
                let Ok(mut c) = client.get_connection() else {
                    return 0;
                };
                let mut acked = 0u64;
                loop {
                    let n = acked + 1;
                    let set: redis::RedisResult<()> = redis::cmd("SET")
                        .arg(format!("w{t}:{n}"))
                        .arg(n)
                        .query(&mut c);
                    let push: redis::RedisResult<i64> = redis::cmd("RPUSH")
                        .arg(format!("log:{t}"))
                        .arg(n)
                        .query(&mut c);
                    match (set, push) {
                        (Ok(()), Ok(len)) => {
                            assert_eq!(len as u64, n, "writer {t} saw a gap");
                            acked = n;
                        }
                        _ => return acked,
                    }
                }
            })
        })
        .collect()
}

/// Kills the server under write load and checks that every acknowledged write is back.
fn crash_and_check(tag: &str, args: &[&str]) {
    let dir = scratch(tag);
    let server = Proc::lodestone_with(&dir, args);
    let mut c = server.conn();
    let writers = start_writers(server.port);
    assert!(wait_for(Duration::from_secs(20), || {
        (0..WRITERS).all(|t| {
            text(q(&mut c, &["LLEN", &format!("log:{t}")]))
                .parse::<u64>()
                .unwrap_or(0)
                // A push is visible before its reply arrives (under `always` the reply
                // waits for the fsync): 201 entries mean the writer holds 200 replies.
                >= 201
        })
    }));
    drop(c);
    server.kill9();
    let acked: Vec<u64> = writers
        .into_iter()
        .map(|w| w.join().expect("writer"))
        .collect();
    let restarted = Proc::lodestone_with(&dir, args);
    let mut c = restarted.conn();
    for (t, &acked) in acked.iter().enumerate() {
        assert!(acked >= 200, "writer {t} acknowledged only {acked}");
        let len: u64 = text(q(&mut c, &["LLEN", &format!("log:{t}")]))
            .parse()
            .expect("LLEN");
        // The write in flight at the kill may or may not have made it; nothing acked
        // may be missing.
        assert!(
            len == acked || len == acked + 1,
            "writer {t}: acked {acked}, restored {len}"
        );
        let last = text(q(&mut c, &["LINDEX", &format!("log:{t}"), "-1"]));
        assert_eq!(last, len.to_string(), "writer {t}: the log has a gap");
        for n in [1, acked / 2, acked] {
            assert_eq!(
                text(q(&mut c, &["GET", &format!("w{t}:{n}")])),
                n.to_string(),
                "writer {t}: SET {n} was acknowledged"
            );
        }
    }
}

#[test]
fn appendfsync_always_keeps_every_acknowledged_write() {
    crash_and_check(
        "crash-always",
        &[
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ],
    );
}

#[test]
fn appendfsync_everysec_keeps_every_acknowledged_write_on_a_process_crash() {
    crash_and_check(
        "crash-everysec",
        &[
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
        ],
    );
}

#[test]
fn kill_during_an_aof_rewrite_keeps_the_data() {
    let dir = scratch("crash-rewrite");
    let args = ["--save", "", "--appendonly", "yes"];
    let server = Proc::lodestone_with(&dir, &args);
    let mut c = server.conn();
    q(&mut c, &["DEBUG", "POPULATE", "400000", "k", "64"]);
    let stop = Arc::new(AtomicBool::new(false));
    let port = server.port;
    let stopper = stop.clone();
    let writer = std::thread::spawn(move || {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("client");
        let mut c = client.get_connection().expect("connect");
        let mut acked = 0u64;
        while !stopper.load(Ordering::Relaxed) {
            if redis::cmd("INCR")
                .arg("counter")
                .query::<i64>(&mut c)
                .is_err()
            {
                break;
            }
            acked += 1;
        }
        acked
    });
    assert!(wait_for(Duration::from_secs(10), || text(q(
        &mut c,
        &["GET", "counter"]
    )) != "nil"));
    assert_eq!(
        text(q(&mut c, &["BGREWRITEAOF"])),
        "Background append only file rewriting started"
    );
    let in_progress = info_field(&mut c, "aof_rewrite_in_progress") == "1";
    stop.store(true, Ordering::Relaxed);
    let acked = writer.join().expect("writer");
    let keys = text(q(&mut c, &["DBSIZE"]));
    drop(c);
    server.kill9();
    assert!(
        in_progress,
        "the rewrite ended before the kill; the test needs more data"
    );
    // Whatever the rewrite left half done, the manifest names files holding all of it.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("temp-"))
        .collect();
    let restarted = Proc::lodestone_with(&dir, &args);
    let mut c = restarted.conn();
    assert_eq!(
        text(q(&mut c, &["DBSIZE"])),
        keys,
        "leftovers: {leftovers:?}"
    );
    assert_eq!(text(q(&mut c, &["GET", "counter"])), acked.to_string());
    // The next rewrite completes and cleans up.
    q(&mut c, &["BGREWRITEAOF"]);
    assert!(wait_for(Duration::from_secs(60), || {
        info_field(&mut c, "aof_rewrites") == "1"
            && info_field(&mut c, "aof_rewrite_in_progress") == "0"
    }));
    assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "ok");
}
