//! RDB files: SAVE writes a file redis-server loads (and redis-check-rdb accepts), a
//! file redis-server wrote loads into Lodestone, the data survives SHUTDOWN and
//! DEBUG RELOAD, and a damaged file stops the start instead of losing data silently.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::free_port;
use redis::Value;

use common::procs::{q, scratch, text, Proc};

/// Every type and encoding, TTLs, several databases, a function library.
fn fill(c: &mut redis::Connection) {
    let many: Vec<String> = (0..3000).map(|i| format!("v{i}")).collect();
    let mut big_list = vec!["RPUSH", "list:big"];
    big_list.extend(many.iter().map(String::as_str));
    q(c, &big_list);
    let mut big_set = vec!["SADD", "set:big"];
    big_set.extend(many.iter().map(String::as_str));
    q(c, &big_set);
    let pairs: Vec<String> = (0..600)
        .flat_map(|i| [format!("f{i}"), format!("{i}")])
        .collect();
    let mut big_hash = vec!["HSET", "hash:big"];
    big_hash.extend(pairs.iter().map(String::as_str));
    q(c, &big_hash);
    let scored: Vec<String> = (0..300)
        .flat_map(|i| [format!("{}", i as f64 / 7.0), format!("m{i}")])
        .collect();
    let mut big_zset = vec!["ZADD", "zset:big"];
    big_zset.extend(scored.iter().map(String::as_str));
    q(c, &big_zset);
    for cmd in [
        &["SET", "str", "hello"][..],
        &["SET", "int", "-12345"],
        &["SET", "long", &"x".repeat(500)],
        &["SET", "volatile", "v", "EX", "5000"],
        &["RPUSH", "list", "a", "1", "b"],
        &["SADD", "set:ints", "1", "-5", "70000", "5000000000"],
        &["SADD", "set:words", "a", "b"],
        &["HSET", "hash", "a", "1", "b", "2"],
        &["ZADD", "zset", "1", "a", "2.5", "b", "-inf", "c"],
        &["XADD", "stream", "1-1", "f", "v"],
        &["XADD", "stream", "2-1", "f", "w", "g", "x"],
        &["XGROUP", "CREATE", "stream", "grp", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "grp",
            "alice",
            "COUNT",
            "1",
            "STREAMS",
            "stream",
            ">",
        ],
        &["SELECT", "5"],
        &["SET", "in-db-5", "yes"],
        &["SELECT", "0"],
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=lib\nredis.register_function('f', function() return 7 end)",
        ],
    ] {
        q(c, cmd);
    }
}

/// What must match after a file moves between servers.
fn state(c: &mut redis::Connection) -> Vec<String> {
    let mut out = vec![text(q(c, &["DEBUG", "DIGEST"]))];
    for key in [
        "str",
        "int",
        "long",
        "list",
        "list:big",
        "set:ints",
        "set:words",
        "set:big",
        "hash",
        "hash:big",
        "zset",
        "zset:big",
        "stream",
    ] {
        out.push(format!(
            "{key} {} {}",
            text(q(c, &["OBJECT", "ENCODING", key])),
            text(q(c, &["DEBUG", "DIGEST-VALUE", key]))
        ));
    }
    let ttl = text(q(c, &["TTL", "volatile"]));
    out.push(format!(
        "ttl>4900: {}",
        ttl.parse::<i64>().unwrap_or(0) > 4900
    ));
    out.push(text(q(c, &["FCALL", "f", "0"])));
    out.push(format!("{:?}", q(c, &["XPENDING", "stream", "grp"])));
    out.push(format!("{:?}", q(c, &["XINFO", "GROUPS", "stream"])));
    q(c, &["SELECT", "5"]);
    out.push(text(q(c, &["GET", "in-db-5"])));
    q(c, &["SELECT", "0"]);
    out
}

#[test]
fn files_move_both_ways_with_redis() {
    let ours = scratch("ours");
    let theirs = scratch("theirs");
    let lodestone = Proc::lodestone(&ours);
    let Some(redis_server) = Proc::redis(&theirs) else {
        return;
    };
    let mut l = lodestone.conn();
    let mut r = redis_server.conn();
    fill(&mut l);
    fill(&mut r);
    let expected = state(&mut r);
    assert_eq!(state(&mut l), expected);
    assert_eq!(q(&mut l, &["SAVE"]), Value::Okay);
    assert_eq!(q(&mut r, &["SAVE"]), Value::Okay);

    // redis-check-rdb (Debian's redis-tools) accepts our file.
    if Path::new("/usr/bin/redis-check-rdb").exists() {
        let check = Command::new("/usr/bin/redis-check-rdb")
            .arg(ours.join("dump.rdb"))
            .output()
            .expect("redis-check-rdb");
        let report = String::from_utf8_lossy(&check.stdout);
        assert!(check.status.success(), "{report}");
        assert!(report.contains("RDB looks OK"), "{report}");
    }

    // Swap the files: each server type loads the other's.
    let into_redis = scratch("into-redis");
    let into_lodestone = scratch("into-lodestone");
    std::fs::copy(ours.join("dump.rdb"), into_redis.join("dump.rdb")).expect("copy");
    std::fs::copy(theirs.join("dump.rdb"), into_lodestone.join("dump.rdb")).expect("copy");
    let redis_loaded = Proc::redis(&into_redis).expect("redis-server");
    let lodestone_loaded = Proc::lodestone(&into_lodestone);
    assert_eq!(state(&mut redis_loaded.conn()), expected);
    assert_eq!(state(&mut lodestone_loaded.conn()), expected);
    for dir in [ours, theirs, into_redis, into_lodestone] {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn data_survives_shutdown_and_debug_reload() {
    let dir = scratch("restart");
    let first = Proc::lodestone(&dir);
    let mut c = first.conn();
    fill(&mut c);
    q(&mut c, &["SET", "late", "write"]);
    let before = state(&mut c);
    assert_eq!(q(&mut c, &["DEBUG", "RELOAD"]), Value::Okay);
    assert_eq!(state(&mut c), before);
    // The default save points mean SHUTDOWN saves.
    drop(c);
    first.shutdown(&[]);
    let second = Proc::lodestone(&dir);
    let mut c = second.conn();
    assert_eq!(state(&mut c), before);
    assert_eq!(text(q(&mut c, &["GET", "late"])), "write");
    // NOSAVE keeps the file as it was.
    q(&mut c, &["SET", "lost", "x"]);
    drop(c);
    second.shutdown(&["NOSAVE"]);
    let third = Proc::lodestone(&dir);
    let mut c = third.conn();
    assert_eq!(q(&mut c, &["EXISTS", "lost"]), Value::Int(0));
    assert_eq!(text(q(&mut c, &["GET", "late"])), "write");
    drop(third);
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs lodestone on `dir` until it exits: false when it refused to start (a server
/// that does start keeps running, and the test would time out instead).
fn starts(dir: &Path) -> bool {
    Command::new(env!("CARGO_BIN_EXE_lodestone"))
        .args(["--port", &free_port().to_string()])
        .args(["--dir", dir.to_str().expect("path")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run lodestone")
        .success()
}

#[test]
fn a_damaged_file_stops_the_start() {
    let dir = scratch("damaged");
    let server = Proc::lodestone(&dir);
    let mut c = server.conn();
    fill(&mut c);
    assert_eq!(q(&mut c, &["SAVE"]), Value::Okay);
    drop(c);
    drop(server);
    let path = dir.join("dump.rdb");
    let good = std::fs::read(&path).expect("read");
    for damage in [good.len() / 2, good.len() - 3] {
        let mut bad = good.clone();
        bad[damage] ^= 0x40;
        std::fs::write(&path, &bad).expect("write");
        assert!(!starts(&dir), "started on a damaged file (byte {damage})");
    }
    std::fs::write(&path, &good[..good.len() / 3]).expect("write");
    assert!(!starts(&dir), "started on a truncated file");
    let _ = std::fs::remove_dir_all(dir);
}

/// The golden files written by redis-server (scripts/make-rdb-fixtures.sh): each loads
/// with the digest, encodings and per-key digests redis-server showed.
#[test]
fn golden_files_from_redis_load() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/rdb");
    let mut checked = 0;
    for entry in std::fs::read_dir(&fixtures).expect("fixtures") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "rdb") {
            continue;
        }
        let expected = std::fs::read_to_string(path.with_extension("expected")).expect("expected");
        let dir = scratch("golden");
        std::fs::copy(&path, dir.join("dump.rdb")).expect("copy");
        let server = Proc::lodestone(&dir);
        let mut c = server.conn();
        for line in expected.lines() {
            let words: Vec<&str> = line.split(' ').collect();
            match words.as_slice() {
                ["digest", digest] => assert_eq!(text(q(&mut c, &["DEBUG", "DIGEST"])), *digest),
                [db, key, encoding, digest] => {
                    q(&mut c, &["SELECT", db]);
                    assert_eq!(
                        text(q(&mut c, &["OBJECT", "ENCODING", key])),
                        *encoding,
                        "{key}"
                    );
                    assert_eq!(
                        text(q(&mut c, &["DEBUG", "DIGEST-VALUE", key])),
                        *digest,
                        "{key}"
                    );
                    checked += 1;
                }
                _ => panic!("bad line in {}: {line}", path.display()),
            }
        }
        q(&mut c, &["SELECT", "0"]);
        assert_eq!(q(&mut c, &["FCALL", "golden", "0"]), Value::Int(42));
        drop(c);
        drop(server);
        let _ = std::fs::remove_dir_all(dir);
    }
    assert!(checked >= 20, "only {checked} keys checked");
}
