//! RDB files: SAVE writes a file redis-server loads (and redis-check-rdb accepts), a
//! file redis-server wrote loads into Lodestone, the data survives SHUTDOWN and
//! DEBUG RELOAD, and a damaged file stops the start instead of losing data silently.

mod common;

use std::path::Path;
use std::process::Command;

use redis::Value;

use common::procs::{fill, q, scratch, starts, state, text, Proc};

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
        assert!(
            !starts(&dir, &[]),
            "started on a damaged file (byte {damage})"
        );
    }
    std::fs::write(&path, &good[..good.len() / 3]).expect("write");
    assert!(!starts(&dir, &[]), "started on a truncated file");
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
