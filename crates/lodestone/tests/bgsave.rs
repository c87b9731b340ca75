//! BGSAVE without fork: the file is the dataset as it was when BGSAVE started, even
//! while clients keep writing (checked through invariants that every transaction
//! keeps), redis-server and redis-check-rdb accept it, and a kill -9 or FLUSHALL in the
//! middle leaves the previous file whole.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::procs::{info_field, q, scratch, text, Proc};
use common::wait_for;

/// Keys written in pairs by the writers: a snapshot must show both or neither
/// changed.
const PAIRS: usize = 2000;

/// Waits (bounded) until no background save runs.
fn wait_bgsave_done(c: &mut redis::Connection) {
    assert!(
        wait_for(Duration::from_secs(60), || info_field(
            c,
            "rdb_bgsave_in_progress"
        ) == "0"),
        "BGSAVE did not finish"
    );
}

/// Writers that keep every invariant inside MULTI/EXEC: `counter` equals LLEN `log`,
/// and `a:{i}` equals `b:{i}` (different shards), with DELs and TTLs mixed in.
fn start_writers(port: u16, stop: &Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<u64>> {
    (0..3)
        .map(|w| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let client =
                    redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("client");
                let mut c = client.get_connection().expect("connect");
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let i = (n * 7919 + w * 31) as usize % PAIRS;
                    let value = format!("w{w}-{n}");
                    let mut pipe = redis::pipe();
                    pipe.atomic();
                    if w == 0 {
                        pipe.cmd("INCR")
                            .arg("counter")
                            .cmd("RPUSH")
                            .arg("log")
                            .arg(&value);
                    }
                    if n.is_multiple_of(5) {
                        pipe.cmd("DEL").arg(format!("a:{i}")).arg(format!("b:{i}"));
                    } else {
                        pipe.cmd("SET").arg(format!("a:{i}")).arg(&value);
                        pipe.cmd("SET").arg(format!("b:{i}")).arg(&value);
                        pipe.cmd("HSET").arg(format!("h:{i}")).arg("f").arg(&value);
                    }
                    let _: redis::Value = pipe.query(&mut c).expect("transaction");
                }
                n
            })
        })
        .collect()
}

fn check_invariants(c: &mut redis::Connection) -> usize {
    let counter: Option<i64> = redis::cmd("GET").arg("counter").query(c).expect("GET");
    let len: i64 = redis::cmd("LLEN").arg("log").query(c).expect("LLEN");
    assert_eq!(counter.unwrap_or(0), len, "counter and log diverge");
    let mut pairs = 0;
    for i in 0..PAIRS {
        let a: Option<String> = redis::cmd("GET")
            .arg(format!("a:{i}"))
            .query(c)
            .expect("GET");
        let b: Option<String> = redis::cmd("GET")
            .arg(format!("b:{i}"))
            .query(c)
            .expect("GET");
        assert_eq!(a, b, "pair {i} split by the snapshot");
        pairs += usize::from(a.is_some());
    }
    pairs
}

/// Fills enough data that the walk takes a while.
fn populate(c: &mut redis::Connection, keys: usize) {
    q(c, &["DEBUG", "POPULATE", &keys.to_string(), "bulk", "64"]);
    for i in 0..PAIRS {
        let v = format!("init-{i}");
        q(c, &["MSET", &format!("a:{i}"), &v, &format!("b:{i}"), &v]);
    }
}

fn check_rdb(path: &Path) {
    if !Path::new("/usr/bin/redis-check-rdb").exists() {
        return;
    }
    let out = std::process::Command::new("/usr/bin/redis-check-rdb")
        .arg(path)
        .output()
        .expect("redis-check-rdb");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("RDB looks OK"), "{report}");
}

#[test]
fn snapshot_is_point_in_time_under_writes() {
    let dir = scratch("bgsave");
    let server = Proc::lodestone_with(&dir, &["--save", ""]);
    let mut c = server.conn();
    populate(&mut c, 300_000);
    let stop = Arc::new(AtomicBool::new(false));
    let writers = start_writers(server.port, &stop);
    // Let the writers get going, then snapshot several times while they write.
    assert!(wait_for(Duration::from_secs(10), || {
        text(q(&mut c, &["LLEN", "log"])) != "0"
    }));
    for _ in 0..3 {
        assert_eq!(text(q(&mut c, &["BGSAVE"])), "Background saving started");
        wait_bgsave_done(&mut c);
        assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    }
    stop.store(true, Ordering::Relaxed);
    let written: u64 = writers.into_iter().map(|w| w.join().expect("writer")).sum();
    assert!(written > 0);
    assert_eq!(info_field(&mut c, "rdb_saves"), "3");
    let dump = dir.join("dump.rdb");
    check_rdb(&dump);

    // The file restarts a server whose data keeps every invariant.
    drop(c);
    server.kill9();
    let restarted = Proc::lodestone_with(&dir, &["--save", ""]);
    let mut c = restarted.conn();
    let pairs = check_invariants(&mut c);
    assert!(pairs > 0);
    let keys: i64 = redis::cmd("DBSIZE").query(&mut c).expect("DBSIZE");
    assert!(keys >= 300_000, "{keys} keys");

    // And redis-server reads the same dataset from it.
    let theirs = scratch("bgsave-redis");
    std::fs::copy(&dump, theirs.join("dump.rdb")).expect("copy");
    if let Some(redis_server) = Proc::redis(&theirs) {
        let mut r = redis_server.conn();
        check_invariants(&mut r);
        let ours: String = redis::cmd("DEBUG")
            .arg("DIGEST")
            .query(&mut c)
            .expect("digest");
        let redis_digest: String = redis::cmd("DEBUG")
            .arg("DIGEST")
            .query(&mut r)
            .expect("digest");
        assert_eq!(ours, redis_digest);
    }
}

#[test]
fn replies_and_errors_match_redis() {
    let dir = scratch("bgsave-replies");
    let server = Proc::lodestone_with(&dir, &["--save", ""]);
    let mut c = server.conn();
    populate(&mut c, 200_000);
    let err = redis::cmd("BGSAVE")
        .arg("NOW")
        .query::<String>(&mut c)
        .unwrap_err();
    assert!(err.to_string().contains("syntax error"), "{err}");
    assert_eq!(text(q(&mut c, &["BGSAVE"])), "Background saving started");
    // A second one while the first runs (if it still runs) is refused.
    if let Err(e) = redis::cmd("BGSAVE").query::<String>(&mut c) {
        assert!(
            e.to_string()
                .contains("Background save already in progress"),
            "{e}"
        );
        let save = redis::cmd("SAVE").query::<String>(&mut c).unwrap_err();
        assert!(save
            .to_string()
            .contains("Background save already in progress"));
    }
    wait_bgsave_done(&mut c);
    // Inside MULTI it is scheduled, and the cron then runs it.
    let before: i64 = text(q(&mut c, &["LASTSAVE"])).parse().expect("LASTSAVE");
    let replies: Vec<String> = redis::pipe()
        .atomic()
        .cmd("BGSAVE")
        .query(&mut c)
        .expect("EXEC");
    assert_eq!(replies, vec!["Background saving scheduled".to_string()]);
    assert!(wait_for(Duration::from_secs(20), || {
        info_field(&mut c, "rdb_saves") == "2"
            && info_field(&mut c, "rdb_bgsave_in_progress") == "0"
    }));
    let after: i64 = text(q(&mut c, &["LASTSAVE"])).parse().expect("LASTSAVE");
    assert!(after >= before);
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
}

#[test]
fn save_points_trigger_a_background_save() {
    let dir = scratch("savepoint");
    let server = Proc::lodestone_with(&dir, &["--save", "1 3"]);
    let mut c = server.conn();
    for i in 0..5 {
        q(&mut c, &["SET", &format!("k{i}"), "v"]);
    }
    assert!(
        wait_for(Duration::from_secs(20), || dir.join("dump.rdb").exists()
            && info_field(&mut c, "rdb_changes_since_last_save") == "0"),
        "no save after the save point"
    );
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    drop(c);
    server.kill9();
    let restarted = Proc::lodestone_with(&dir, &["--save", ""]);
    let mut c = restarted.conn();
    assert_eq!(text(q(&mut c, &["DBSIZE"])), "5");
}

#[test]
fn a_failed_background_save_stops_writes_until_one_succeeds() {
    let dir = scratch("misconf");
    let server = Proc::lodestone_with(&dir, &["--save", "3600 1", "--dbfilename", "blocked.rdb"]);
    let mut c = server.conn();
    // A target path that cannot be written: the rename fails.
    std::fs::create_dir_all(dir.join("blocked.rdb").join("x")).expect("mkdir");
    q(&mut c, &["SET", "k", "v"]);
    assert_eq!(text(q(&mut c, &["BGSAVE"])), "Background saving started");
    assert!(wait_for(Duration::from_secs(20), || {
        info_field(&mut c, "rdb_last_bgsave_status") == "err"
    }));
    let err = redis::cmd("SET")
        .arg("k")
        .arg("w")
        .query::<String>(&mut c)
        .unwrap_err();
    assert!(err.to_string().contains("MISCONF"), "{err}");
    let ping = redis::cmd("PING").query::<String>(&mut c).unwrap_err();
    assert!(ping.to_string().contains("MISCONF"), "{ping}");
    assert_eq!(text(q(&mut c, &["GET", "k"])), "v");
    q(
        &mut c,
        &["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"],
    );
    q(&mut c, &["SET", "k", "w"]);
    q(
        &mut c,
        &["CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"],
    );
    std::fs::remove_dir_all(dir.join("blocked.rdb")).expect("rmdir");
    assert_eq!(text(q(&mut c, &["BGSAVE"])), "Background saving started");
    assert!(wait_for(Duration::from_secs(20), || {
        info_field(&mut c, "rdb_last_bgsave_status") == "ok"
    }));
    q(&mut c, &["SET", "k", "x"]);
}

#[test]
fn kill_or_flushall_during_bgsave_keeps_the_previous_file() {
    let dir = scratch("bgsave-kill");
    let server = Proc::lodestone_with(&dir, &["--save", ""]);
    let mut c = server.conn();
    q(&mut c, &["SET", "generation", "1"]);
    q(&mut c, &["SAVE"]);
    let first = std::fs::read(dir.join("dump.rdb")).expect("dump.rdb");
    populate(&mut c, 400_000);
    q(&mut c, &["SET", "generation", "2"]);

    // FLUSHALL abandons the snapshot; without save points nothing is written.
    assert_eq!(text(q(&mut c, &["BGSAVE"])), "Background saving started");
    q(&mut c, &["FLUSHALL"]);
    wait_bgsave_done(&mut c);
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    assert_eq!(
        std::fs::read(dir.join("dump.rdb")).expect("dump.rdb"),
        first
    );

    // kill -9 in the middle of a snapshot.
    populate(&mut c, 400_000);
    assert_eq!(text(q(&mut c, &["BGSAVE"])), "Background saving started");
    assert_eq!(info_field(&mut c, "rdb_bgsave_in_progress"), "1");
    drop(c);
    server.kill9();
    assert_eq!(
        std::fs::read(dir.join("dump.rdb")).expect("dump.rdb"),
        first
    );
    let restarted = Proc::lodestone_with(&dir, &["--save", ""]);
    let mut c = restarted.conn();
    assert_eq!(text(q(&mut c, &["GET", "generation"])), "1");
    assert_eq!(text(q(&mut c, &["DBSIZE"])), "1");
}
