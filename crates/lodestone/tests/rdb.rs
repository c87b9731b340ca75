//! RDB files: SAVE writes a file redis-server loads (and redis-check-rdb accepts), a
//! file redis-server wrote loads into Lodestone, the data survives SHUTDOWN and
//! DEBUG RELOAD, and a damaged file stops the start instead of losing data silently.

mod common;

use std::path::Path;

use redis::Value;

use common::procs::{
    check_rdb, compressible_state, fill, fill_compressible, q, scratch, starts, state, text, Proc,
};

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
    check_rdb(&ours.join("dump.rdb"));

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

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).expect("file").len()
}

/// With `rdbcompression yes` (the default) our files carry LZF strings: redis-server
/// and redis-check-rdb read them, the data is equal, and the file is about the size
/// redis-server writes for the same data (at most 10% larger, at least 20% smaller;
/// much smaller than with compression off).
#[test]
fn compressed_files_load_in_redis() {
    let ours = scratch("lzf-ours");
    let theirs = scratch("lzf-theirs");
    let lodestone = Proc::lodestone(&ours);
    let Some(redis_server) = Proc::redis(&theirs) else {
        return;
    };
    let mut l = lodestone.conn();
    let mut r = redis_server.conn();
    fill_compressible(&mut l);
    fill_compressible(&mut r);
    let expected = compressible_state(&mut r);
    assert_eq!(compressible_state(&mut l), expected);
    let digest = text(q(&mut r, &["DEBUG", "DIGEST"]));
    assert_eq!(text(q(&mut l, &["DEBUG", "DIGEST"])), digest);
    assert_eq!(q(&mut l, &["SAVE"]), Value::Okay);
    assert_eq!(q(&mut r, &["SAVE"]), Value::Okay);
    let ours_len = file_len(&ours.join("dump.rdb"));
    let theirs_len = file_len(&theirs.join("dump.rdb"));
    check_rdb(&ours.join("dump.rdb"));

    let into_redis = scratch("lzf-into-redis");
    std::fs::copy(ours.join("dump.rdb"), into_redis.join("dump.rdb")).expect("copy");
    let loaded = Proc::redis(&into_redis).expect("redis-server");
    let mut c = loaded.conn();
    assert_eq!(compressible_state(&mut c), expected);
    assert_eq!(text(q(&mut c, &["DEBUG", "DIGEST"])), digest);
    drop(c);
    drop(loaded);

    // And we read our own file back.
    assert_eq!(q(&mut l, &["DEBUG", "RELOAD"]), Value::Okay);
    assert_eq!(compressible_state(&mut l), expected);

    // The same data uncompressed is much larger; compressed, it is near Redis's size.
    assert_eq!(
        q(&mut l, &["CONFIG", "SET", "rdbcompression", "no"]),
        Value::Okay
    );
    assert_eq!(q(&mut l, &["SAVE"]), Value::Okay);
    let plain_len = file_len(&ours.join("dump.rdb"));
    check_rdb(&ours.join("dump.rdb"));
    eprintln!("file sizes: ours {ours_len}, redis {theirs_len}, ours uncompressed {plain_len}");
    assert!(plain_len > ours_len * 3, "{plain_len} vs {ours_len}");
    assert!(
        ours_len * 10 <= theirs_len * 11 && ours_len * 10 >= theirs_len * 8,
        "ours {ours_len} vs redis {theirs_len}"
    );
    drop(l);
    drop(r);
    drop(lodestone);
    drop(redis_server);
    for dir in [ours, theirs, into_redis] {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// DEBUG POPULATE 100000 with 100-byte values (mostly zero bytes): our compressed file
/// is no more than 10% larger than redis-server's (it is about 9% smaller: Redis's
/// compressor always leaves a string's last two bytes as literals, 3 bytes more per
/// value), loads there with the same digest, and passes redis-check-rdb.
#[test]
fn populated_file_is_about_the_size_redis_writes() {
    let ours = scratch("populate-ours");
    let theirs = scratch("populate-theirs");
    let lodestone = Proc::lodestone(&ours);
    let Some(redis_server) = Proc::redis(&theirs) else {
        return;
    };
    let mut l = lodestone.conn();
    let mut r = redis_server.conn();
    for c in [&mut l, &mut r] {
        assert_eq!(
            q(c, &["DEBUG", "POPULATE", "100000", "key", "100"]),
            Value::Okay
        );
        assert_eq!(q(c, &["SAVE"]), Value::Okay);
    }
    let digest = text(q(&mut r, &["DEBUG", "DIGEST"]));
    assert_eq!(text(q(&mut l, &["DEBUG", "DIGEST"])), digest);
    let ours_len = file_len(&ours.join("dump.rdb"));
    let theirs_len = file_len(&theirs.join("dump.rdb"));
    check_rdb(&ours.join("dump.rdb"));
    let into_redis = scratch("populate-into-redis");
    std::fs::copy(ours.join("dump.rdb"), into_redis.join("dump.rdb")).expect("copy");
    let loaded = Proc::redis(&into_redis).expect("redis-server");
    assert_eq!(text(q(&mut loaded.conn(), &["DEBUG", "DIGEST"])), digest);
    drop(loaded);
    q(&mut l, &["CONFIG", "SET", "rdbcompression", "no"]);
    assert_eq!(q(&mut l, &["SAVE"]), Value::Okay);
    let plain_len = file_len(&ours.join("dump.rdb"));
    eprintln!(
        "DEBUG POPULATE 100000 key 100: ours {ours_len} bytes, redis {theirs_len}, \
         ours uncompressed {plain_len}"
    );
    assert!(
        ours_len * 10 <= theirs_len * 11 && ours_len * 10 >= theirs_len * 8,
        "ours {ours_len} vs redis {theirs_len}"
    );
    assert!(plain_len > ours_len * 2, "{plain_len} vs {ours_len}");
    drop(l);
    drop(r);
    drop(lodestone);
    drop(redis_server);
    for dir in [ours, theirs, into_redis] {
        let _ = std::fs::remove_dir_all(dir);
    }
}
