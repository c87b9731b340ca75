//! The append-only file: Redis 7's multi-part directories move between Lodestone and
//! redis-server both ways (redis-check-aof accepts ours), every acknowledged write is
//! in the files, rewrites under load keep the data exact, a file cut short is repaired
//! or refused as `aof-load-truncated` says, and clients get `-LOADING` meanwhile.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::procs::{fill, info_field, q, scratch, starts, state, text, Proc};
use common::wait_for;

const AOF: &[&str] = &["--save", "", "--appendonly", "yes"];

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
}

fn wait_rewrite_done(c: &mut redis::Connection) {
    assert!(
        wait_for(Duration::from_secs(60), || {
            info_field(c, "aof_rewrite_in_progress") == "0"
                && info_field(c, "aof_rewrite_scheduled") == "0"
        }),
        "AOF rewrite did not finish"
    );
    assert_eq!(info_field(c, "aof_last_bgrewrite_status"), "ok");
}

fn check_aof(dir: &Path) {
    if !Path::new("/usr/bin/redis-check-aof").exists() {
        return;
    }
    let out = std::process::Command::new("/usr/bin/redis-check-aof")
        .arg(dir.join("appendonlydir/appendonly.aof.manifest"))
        .output()
        .expect("redis-check-aof");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("All AOF files and manifest are valid"),
        "{report}"
    );
}

/// Data written partly before and partly after a rewrite (so base and incr both
/// matter), with both base formats.
#[test]
fn directories_move_both_ways_with_redis() {
    for preamble in ["yes", "no"] {
        let ours = scratch("aof-ours");
        let mut args = AOF.to_vec();
        args.extend(["--aof-use-rdb-preamble", preamble]);
        let lodestone = Proc::lodestone_with(&ours, &args);
        let mut c = lodestone.conn();
        fill(&mut c);
        assert_eq!(
            text(q(&mut c, &["BGREWRITEAOF"])),
            "Background append only file rewriting started"
        );
        wait_rewrite_done(&mut c);
        q(&mut c, &["RPUSH", "list", "after-rewrite"]);
        q(&mut c, &["XADD", "stream", "3-1", "f", "late"]);
        q(&mut c, &["INCR", "int"]);
        let expected = state(&mut c);
        check_aof(&ours);
        // A kill -9 loses nothing acknowledged: replies wait for the write.
        drop(c);
        lodestone.kill9();

        let into_redis = scratch("aof-into-redis");
        copy_dir(
            &ours.join("appendonlydir"),
            &into_redis.join("appendonlydir"),
        );
        if let Some(redis_server) = Proc::redis_with(&into_redis, &["--appendonly", "yes"]) {
            let mut r = redis_server.conn();
            assert_eq!(
                state(&mut r),
                expected,
                "redis-server on our AOF ({preamble})"
            );
        }
        let restarted = Proc::lodestone_with(&ours, &args);
        let mut c = restarted.conn();
        assert_eq!(
            state(&mut c),
            expected,
            "lodestone on its own AOF ({preamble})"
        );
    }

    // redis-server's directory into Lodestone.
    let theirs = scratch("aof-theirs");
    let Some(redis_server) = Proc::redis_with(&theirs, &["--appendonly", "yes"]) else {
        return;
    };
    let mut r = redis_server.conn();
    fill(&mut r);
    q(&mut r, &["BGREWRITEAOF"]);
    wait_rewrite_done(&mut r);
    q(&mut r, &["RPUSH", "list", "after-rewrite"]);
    q(&mut r, &["SADD", "set:ints", "12"]);
    let expected = state(&mut r);
    drop(r);
    redis_server.kill9();
    let into_lodestone = scratch("aof-into-lodestone");
    copy_dir(
        &theirs.join("appendonlydir"),
        &into_lodestone.join("appendonlydir"),
    );
    let lodestone = Proc::lodestone_with(&into_lodestone, AOF);
    let mut c = lodestone.conn();
    assert_eq!(state(&mut c), expected);
}

/// Writers that keep invariants inside MULTI/EXEC; the dataset after a kill -9 and a
/// restart is exactly the one acknowledged (same DEBUG DIGEST), rewrites included.
#[test]
fn rewrites_under_writes_lose_nothing() {
    let dir = scratch("aof-rewrite");
    let server = Proc::lodestone_with(&dir, AOF);
    let mut c = server.conn();
    q(&mut c, &["DEBUG", "POPULATE", "200000", "bulk", "32"]);
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let stop = stop.clone();
            let port = server.port;
            std::thread::spawn(move || {
                let client =
                    redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("client");
                let mut c = client.get_connection().expect("connect");
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let i = (n * 7919 + w * 13) % 200_000;
                    let _: redis::Value = redis::pipe()
                        .atomic()
                        .cmd("INCR")
                        .arg("counter")
                        .cmd("RPUSH")
                        .arg("log")
                        .arg(n)
                        .cmd("SET")
                        .arg(format!("bulk:{i}"))
                        .arg(format!("w{w}-{n}"))
                        .query(&mut c)
                        .expect("transaction");
                }
            })
        })
        .collect();
    for _ in 0..2 {
        assert!(wait_for(Duration::from_secs(10), || {
            text(q(&mut c, &["LLEN", "log"])) != "0"
        }));
        assert_eq!(
            text(q(&mut c, &["BGREWRITEAOF"])),
            "Background append only file rewriting started"
        );
        wait_rewrite_done(&mut c);
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().expect("writer");
    }
    assert_eq!(info_field(&mut c, "aof_rewrites"), "2");
    let digest = text(q(&mut c, &["DEBUG", "DIGEST"]));
    let counter = text(q(&mut c, &["GET", "counter"]));
    check_aof(&dir);
    drop(c);
    server.kill9();
    let restarted = Proc::lodestone_with(&dir, AOF);
    let mut c = restarted.conn();
    assert_eq!(text(q(&mut c, &["GET", "counter"])), counter);
    assert_eq!(text(q(&mut c, &["LLEN", "log"])), counter);
    assert_eq!(text(q(&mut c, &["DEBUG", "DIGEST"])), digest);
    // Only the current base and incr file are left.
    let files: Vec<_> = std::fs::read_dir(dir.join("appendonlydir"))
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 3, "{files:?}");
}

/// BGREWRITEAOF while a pipelining client has effects buffered and not yet written:
/// the switch to the new incr file writes them out first. (It once took the file lock
/// while holding the status lock, which writing takes too: the server hung.)
#[test]
fn rewrites_while_pipelined_writes_are_buffered() {
    let dir = scratch("aof-rewrite-pipelined");
    let server = Proc::lodestone_with(&dir, AOF);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let port = server.port;
        std::thread::spawn(move || {
            let mut raw = common::RawConn::connect(port);
            let mut batch = Vec::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                batch.clear();
                for _ in 0..500 {
                    n += 1;
                    let key = format!("k{}", n % 50_000);
                    let value = n.to_string();
                    batch.extend(common::encode_request(&[
                        b"SET",
                        key.as_bytes(),
                        value.as_bytes(),
                    ]));
                }
                raw.send(&batch);
                for _ in 0..500 {
                    raw.read_reply();
                }
            }
        })
    };
    let port = server.port;
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let rewriter = std::thread::spawn(move || {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("client");
        let mut c = client.get_connection().expect("connect");
        for _ in 0..30 {
            assert_eq!(
                text(q(&mut c, &["BGREWRITEAOF"])),
                "Background append only file rewriting started"
            );
            wait_rewrite_done(&mut c);
        }
        let _ = done_tx.send(());
    });
    let finished = done_rx.recv_timeout(Duration::from_secs(120)).is_ok();
    stop.store(true, Ordering::Relaxed);
    assert!(finished, "the server stopped answering during a rewrite");
    rewriter.join().expect("rewriter");
    writer.join().expect("writer");
    check_aof(&dir);
}

fn incr_file(dir: &Path) -> std::path::PathBuf {
    let manifest = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest"))
        .expect("manifest");
    let name = manifest
        .lines()
        .filter(|l| l.ends_with("type i"))
        .filter_map(|l| l.split(' ').nth(1))
        .next_back()
        .expect("an incr file");
    dir.join("appendonlydir").join(name)
}

#[test]
fn truncated_and_corrupt_files() {
    let dir = scratch("aof-truncated");
    let server = Proc::lodestone_with(&dir, AOF);
    let mut c = server.conn();
    for i in 0..100 {
        q(&mut c, &["RPUSH", "list", &i.to_string()]);
    }
    drop(c);
    server.kill9();
    let incr = incr_file(&dir);
    let good = std::fs::read(&incr).expect("incr");

    // Cut inside the last command: refused with aof-load-truncated no, repaired with yes.
    let cut = good.len() - 5;
    std::fs::write(&incr, &good[..cut]).expect("write");
    let mut strict = AOF.to_vec();
    strict.extend(["--aof-load-truncated", "no"]);
    assert!(!starts(&dir, &strict), "started on a truncated AOF");
    let server = Proc::lodestone_with(&dir, AOF);
    let mut c = server.conn();
    assert_eq!(text(q(&mut c, &["LLEN", "list"])), "99");
    q(&mut c, &["RPUSH", "list", "after"]);
    drop(c);
    server.kill9();
    let repaired = std::fs::read(&incr).expect("incr");
    assert!(repaired.len() > cut - 40 && repaired.ends_with(b"after\r\n"));

    // Bad bytes are never repaired: the start is refused.
    let mut bad = repaired.clone();
    let middle = bad.len() / 2;
    bad[middle..middle + 3].copy_from_slice(b"!!!");
    std::fs::write(&incr, &bad).expect("write");
    assert!(!starts(&dir, AOF), "started on a corrupt AOF");
    // A file the manifest names but that is missing, too.
    std::fs::remove_file(&incr).expect("rm");
    assert!(!starts(&dir, AOF), "started without an incr file");
}

#[test]
fn turning_aof_on_and_off_at_runtime() {
    let dir = scratch("aof-runtime");
    let server = Proc::lodestone_with(&dir, &["--save", ""]);
    let mut c = server.conn();
    fill(&mut c);
    assert_eq!(info_field(&mut c, "aof_enabled"), "0");
    q(&mut c, &["CONFIG", "SET", "appendonly", "yes"]);
    assert_eq!(info_field(&mut c, "aof_enabled"), "1");
    assert!(wait_for(Duration::from_secs(30), || {
        info_field(&mut c, "aof_rewrites") == "1"
            && info_field(&mut c, "aof_rewrite_in_progress") == "0"
    }));
    q(&mut c, &["SET", "str", "changed"]);
    let expected = state(&mut c);
    check_aof(&dir);
    drop(c);
    server.kill9();
    let restarted = Proc::lodestone_with(&dir, AOF);
    let mut c = restarted.conn();
    assert_eq!(state(&mut c), expected);
    q(&mut c, &["CONFIG", "SET", "appendonly", "no"]);
    assert_eq!(info_field(&mut c, "aof_enabled"), "0");
    q(&mut c, &["SET", "str", "not in the aof"]);
    drop(c);
    restarted.kill9();
    let again = Proc::lodestone_with(&dir, AOF);
    let mut c = again.conn();
    assert_eq!(text(q(&mut c, &["GET", "str"])), "changed");
}

/// While a large file loads, commands get -LOADING and INFO shows the progress.
#[test]
fn clients_get_loading_while_the_dataset_loads() {
    let dir = scratch("aof-loading");
    let server = Proc::lodestone_with(&dir, AOF);
    let mut c = server.conn();
    // Commands, not a base: replaying them takes a while.
    let mut pipe = redis::pipe();
    for i in 0..300_000 {
        pipe.cmd("SET").arg(format!("key:{i}")).arg(i).ignore();
    }
    let () = pipe.query(&mut c).expect("pipeline");
    drop(c);
    server.kill9();

    let port = common::free_port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_lodestone"))
        .args([
            "--port",
            &port.to_string(),
            "--dir",
            dir.to_str().expect("path"),
        ])
        .args(AOF)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start");
    let mut proc = Proc { child, port };
    let mut conn = None;
    assert!(wait_for(Duration::from_secs(20), || {
        conn = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .and_then(|c| c.get_connection())
            .ok();
        conn.is_some()
    }));
    let mut c = conn.expect("connected");
    let mut saw_loading = false;
    loop {
        match redis::cmd("GET")
            .arg("key:7")
            .query::<Option<String>>(&mut c)
        {
            Err(e) => {
                assert_eq!(e.kind(), redis::ErrorKind::BusyLoadingError, "{e}");
                saw_loading = true;
                let info: String = redis::cmd("INFO")
                    .arg("persistence")
                    .query(&mut c)
                    .expect("INFO");
                if info.contains("loading:1") {
                    assert!(info.contains("\r\nloading_total_bytes:"), "{info}");
                }
            }
            Ok(value) => {
                assert_eq!(value.as_deref(), Some("7"));
                break;
            }
        }
    }
    assert!(saw_loading, "the load ended before a command could see it");
    assert_eq!(text(q(&mut c, &["DBSIZE"])), "300000");
    assert_eq!(info_field(&mut c, "loading"), "0");
    let _ = proc.child.kill();
    let _ = proc.child.wait();
    let _ = &mut proc;
}

/// A Redis 6 `appendonly.aof` (one file in `dir`, RDB preamble or not) is loaded and
/// moved into the AOF directory as its base, as Redis 7 migrates it.
#[test]
fn an_old_style_aof_file_is_migrated() {
    let dir = scratch("aof-upgrade");
    std::fs::write(
        dir.join("appendonly.aof"),
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*3\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$1\r\nx\r\n",
    )
    .expect("write");
    let server = Proc::lodestone_with(&dir, AOF);
    let mut c = server.conn();
    assert_eq!(text(q(&mut c, &["GET", "a"])), "1");
    q(&mut c, &["RPUSH", "l", "y"]);
    assert!(!dir.join("appendonly.aof").exists());
    let manifest = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest"))
        .expect("manifest");
    assert!(
        manifest.starts_with("file appendonly.aof seq 1 type b\n"),
        "{manifest}"
    );
    check_aof(&dir);
    drop(c);
    server.kill9();
    let restarted = Proc::lodestone_with(&dir, AOF);
    let mut c = restarted.conn();
    assert_eq!(text(q(&mut c, &["LLEN", "l"])), "2");
    assert_eq!(text(q(&mut c, &["LINDEX", "l", "1"])), "y");
}
