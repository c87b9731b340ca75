//! Multi-core semantics: commands from clients on different worker threads are atomic and
//! serialised per key, and multi-key commands are atomic across shards.

mod common;

use common::TestServer;
use std::thread;

/// Concurrent INCRs from many connections spread over four worker threads lose no update.
#[test]
fn concurrent_incr_loses_nothing() {
    let server = TestServer::start_with(&["--threads", "4"]);
    let clients = 8;
    let per_client = 2000;
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let url = server.url();
            thread::spawn(move || {
                let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
                for i in 0..per_client {
                    let key = format!("counter:{}", (i + c) % 10);
                    let _: i64 = redis::cmd("INCR").arg(&key).query(&mut con).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut con = server.client();
    let mut total = 0;
    for k in 0..10 {
        let v: i64 = redis::cmd("GET")
            .arg(format!("counter:{k}"))
            .query(&mut con)
            .unwrap();
        total += v;
    }
    assert_eq!(total, clients * per_client);
}

/// MSET of two keys on different shards is atomic: a concurrent MGET never sees one key
/// updated and the other not.
#[test]
fn mset_is_atomic_across_shards() {
    let server = TestServer::start_with(&["--threads", "4"]);
    // "a" and "b" hash to different slots (15495 and 3300), so different shards.
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let url = server.url();
            thread::spawn(move || {
                let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
                for i in 0..3000 {
                    let v = format!("{w}-{i}");
                    let _: () = redis::cmd("MSET")
                        .arg("a")
                        .arg(&v)
                        .arg("b")
                        .arg(&v)
                        .query(&mut con)
                        .unwrap();
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let url = server.url();
            thread::spawn(move || {
                let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
                let mut torn = 0;
                for _ in 0..3000 {
                    let (a, b): (Option<String>, Option<String>) = redis::cmd("MGET")
                        .arg("a")
                        .arg("b")
                        .query(&mut con)
                        .unwrap();
                    if a != b {
                        torn += 1;
                    }
                }
                torn
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    for r in readers {
        assert_eq!(r.join().unwrap(), 0, "MGET observed a half-applied MSET");
    }
}

/// RENAME between shards is atomic with respect to readers: the value is always at
/// exactly one of the two names.
#[test]
fn rename_moves_atomically_between_shards() {
    let server = TestServer::start_with(&["--threads", "4"]);
    let mut con = server.client();
    let _: () = redis::cmd("SET").arg("a").arg("v").query(&mut con).unwrap();
    let url = server.url();
    let mover = thread::spawn(move || {
        let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
        for _ in 0..2000 {
            let _: () = redis::cmd("RENAME")
                .arg("a")
                .arg("b")
                .query(&mut con)
                .unwrap();
            let _: () = redis::cmd("RENAME")
                .arg("b")
                .arg("a")
                .query(&mut con)
                .unwrap();
        }
    });
    let mut missing = 0;
    for _ in 0..4000 {
        let n: i64 = redis::cmd("EXISTS")
            .arg("a")
            .arg("b")
            .query(&mut con)
            .unwrap();
        if n != 1 {
            missing += 1;
        }
    }
    mover.join().unwrap();
    assert_eq!(missing, 0);
}
