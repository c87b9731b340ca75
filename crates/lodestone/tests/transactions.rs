//! MULTI/EXEC/DISCARD/WATCH/UNWATCH with real clients: queueing, EXECABORT, runtime
//! errors, WATCH invalidation (writes, expiry, FLUSHALL, SWAPDB; not reads), atomicity
//! across threads, blocked clients served after EXEC, and the effect stream.

mod common;

use std::time::Duration;

use common::{send_line, wait_for, RawConn, TestServer};

fn expect(conn: &mut RawConn, pairs: &[(&str, &str)]) {
    for (line, reply) in pairs {
        let got = send_line(conn, line);
        assert_eq!(
            String::from_utf8_lossy(&got),
            reply.replace('|', "\r\n"),
            "reply to `{line}`"
        );
    }
}

/// Queued commands run in order at EXEC; a runtime error is one reply among the others
/// and does not stop the rest.
#[test]
fn exec_runs_queued_commands_with_runtime_errors_inline() {
    let server = TestServer::start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("MULTI", "+OK|"),
            ("SET k 1", "+QUEUED|"),
            ("LPUSH k x", "+QUEUED|"),
            ("INCR k", "+QUEUED|"),
            (
                "EXEC",
                "*3|+OK|-WRONGTYPE Operation against a key holding the wrong kind of value|:2|",
            ),
            ("GET k", "$1|2|"),
        ],
    );
}

/// A command refused while queueing (unknown, wrong arity, not allowed) makes EXEC
/// fail with EXECABORT and nothing runs; nesting and misplaced EXEC/DISCARD/WATCH are
/// refused with Redis's errors.
#[test]
fn queueing_errors_abort_the_transaction() {
    let server = TestServer::start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("EXEC", "-ERR EXEC without MULTI|"),
            ("DISCARD", "-ERR DISCARD without MULTI|"),
            ("MULTI", "+OK|"),
            ("MULTI", "-ERR MULTI calls can not be nested|"),
            ("WATCH k", "-ERR WATCH inside MULTI is not allowed|"),
            ("SET k v", "+QUEUED|"),
            (
                "NOSUCHCMD",
                "-ERR unknown command 'NOSUCHCMD', with args beginning with: |",
            ),
            (
                "EXEC",
                "-EXECABORT Transaction discarded because of previous errors.|",
            ),
            ("EXISTS k", ":0|"),
            ("MULTI", "+OK|"),
            ("GET", "-ERR wrong number of arguments for 'get' command|"),
            (
                "EXEC",
                "-EXECABORT Transaction discarded because of previous errors.|",
            ),
            ("MULTI", "+OK|"),
            ("SET k v", "+QUEUED|"),
            ("DISCARD", "+OK|"),
            ("EXISTS k", ":0|"),
        ],
    );
}

/// A write by another client to a watched key makes EXEC return a null reply; reads do
/// not; UNWATCH and DISCARD forget the watch.
#[test]
fn watch_detects_other_clients_writes_not_reads() {
    let server = TestServer::start_with(&["--threads", "2"]);
    let mut a = server.raw();
    let mut b = server.raw();
    expect(&mut a, &[("SET w 1", "+OK|"), ("WATCH w", "+OK|")]);
    expect(&mut b, &[("GET w", "$1|1|"), ("EXISTS w", ":1|")]);
    expect(
        &mut a,
        &[
            ("MULTI", "+OK|"),
            ("INCR w", "+QUEUED|"),
            ("EXEC", "*1|:2|"),
        ],
    );
    expect(&mut a, &[("WATCH w", "+OK|")]);
    expect(&mut b, &[("SET w 10", "+OK|")]);
    expect(
        &mut a,
        &[("MULTI", "+OK|"), ("INCR w", "+QUEUED|"), ("EXEC", "*-1|")],
    );
    expect(&mut a, &[("GET w", "$2|10|"), ("WATCH w", "+OK|")]);
    expect(&mut b, &[("APPEND w x", ":3|")]);
    expect(
        &mut a,
        &[
            ("UNWATCH", "+OK|"),
            ("MULTI", "+OK|"),
            ("GET w", "+QUEUED|"),
        ],
    );
    expect(&mut a, &[("EXEC", "*1|$3|10x|")]);
}

/// FLUSHALL, SWAPDB and expiry of a watched key also fail EXEC.
#[test]
fn watch_detects_flush_swapdb_and_expiry() {
    let server = TestServer::start();
    let mut a = server.raw();
    let mut b = server.raw();
    expect(&mut a, &[("SET f 1", "+OK|"), ("WATCH f", "+OK|")]);
    expect(&mut b, &[("FLUSHALL", "+OK|")]);
    expect(
        &mut a,
        &[("MULTI", "+OK|"), ("PING", "+QUEUED|"), ("EXEC", "*-1|")],
    );
    expect(&mut b, &[("SELECT 1", "+OK|"), ("SET s x", "+OK|")]);
    expect(&mut a, &[("WATCH s", "+OK|")]);
    expect(&mut b, &[("SWAPDB 0 1", "+OK|")]);
    expect(
        &mut a,
        &[("MULTI", "+OK|"), ("PING", "+QUEUED|"), ("EXEC", "*-1|")],
    );
    expect(&mut a, &[("SET e 1 PX 50", "+OK|"), ("WATCH e", "+OK|")]);
    let mut probe = server.raw();
    assert!(wait_for(Duration::from_secs(5), || {
        send_line(&mut probe, "PTTL e") == b":-2\r\n"
    }));
    expect(
        &mut a,
        &[("MULTI", "+OK|"), ("PING", "+QUEUED|"), ("EXEC", "*-1|")],
    );
}

/// A blocking command inside MULTI does not block; a client blocked on a key the
/// transaction fills is served after EXEC, with the transaction's final state.
#[test]
fn blocked_clients_are_served_after_exec() {
    let server = TestServer::start_with(&["--threads", "2"]);
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("MULTI", "+OK|"),
            ("BLPOP none 0", "+QUEUED|"),
            ("EXEC", "*1|*-1|"),
        ],
    );
    let mut waiter = server.raw();
    waiter.send_cmd(&[b"BLPOP", b"q", b"0"]);
    let mut probe = server.raw();
    assert!(wait_for(Duration::from_secs(5), || {
        String::from_utf8_lossy(&send_line(&mut probe, "INFO clients"))
            .contains("blocked_clients:1")
    }));
    expect(
        &mut c,
        &[
            ("MULTI", "+OK|"),
            ("LPUSH q a", "+QUEUED|"),
            ("LPUSH q b", "+QUEUED|"),
            ("LPUSH q c", "+QUEUED|"),
            ("EXEC", "*3|:1|:2|:3|"),
        ],
    );
    // Served after the whole transaction: the head is the last element pushed.
    assert_eq!(waiter.read_reply(), b"*2\r\n$1\r\nq\r\n$1\r\nc\r\n");
    expect(&mut c, &[("LRANGE q 0 -1", "*2|$1|b|$1|a|")]);
}

/// The transaction enters the effect stream as one MULTI ... EXEC block.
#[test]
fn exec_feeds_the_effect_stream_as_one_block() {
    let server = TestServer::start();
    let mut c = server.raw();
    expect(&mut c, &[("DEBUG EFFECTS START", "+OK|")]);
    expect(
        &mut c,
        &[
            ("MULTI", "+OK|"),
            ("SET a 1", "+QUEUED|"),
            ("GET a", "+QUEUED|"),
            ("INCR a", "+QUEUED|"),
            ("EXEC", "*3|+OK|$1|1|:2|"),
        ],
    );
    let effects =
        String::from_utf8_lossy(&send_line(&mut c, "DEBUG EFFECTS STOP")).replace("\r\n", " ");
    assert!(
        effects.contains("*1 $5 MULTI *3 $3 SET $1 a $1 1 *2 $4 INCR $1 a *1 $4 EXEC"),
        "{effects}"
    );
}

/// Many clients on several threads doing WATCH/GET/MULTI/SET/EXEC retry loops on one
/// counter: the final value equals the number of successful EXECs (no lost update).
#[test]
fn optimistic_increments_never_lose_an_update() {
    const CLIENTS: usize = 8;
    const SUCCESSES_EACH: usize = 50;
    let server = TestServer::start_with(&["--threads", "4"]);
    let port = server.port;
    let workers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = RawConn::connect(port);
                let mut done = 0;
                let mut aborted = 0;
                while done < SUCCESSES_EACH {
                    assert_eq!(send_line(&mut c, "WATCH counter"), b"+OK\r\n");
                    let reply = send_line(&mut c, "GET counter");
                    let text = String::from_utf8_lossy(&reply).into_owned();
                    let value: i64 = text
                        .split("\r\n")
                        .nth(1)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    send_line(&mut c, "MULTI");
                    send_line(&mut c, &format!("SET counter {}", value + 1));
                    match send_line(&mut c, "EXEC").as_slice() {
                        b"*-1\r\n" => aborted += 1,
                        b"*1\r\n+OK\r\n" => done += 1,
                        other => panic!("EXEC: {}", String::from_utf8_lossy(other)),
                    }
                }
                aborted
            })
        })
        .collect();
    let aborted: usize = workers.into_iter().map(|w| w.join().expect("worker")).sum();
    let mut c = server.raw();
    let expected = format!(
        "${}\r\n{}\r\n",
        (CLIENTS * SUCCESSES_EACH).to_string().len(),
        CLIENTS * SUCCESSES_EACH
    );
    assert_eq!(
        String::from_utf8_lossy(&send_line(&mut c, "GET counter")),
        expected
    );
    eprintln!("{aborted} EXECs aborted by concurrent writers");
}
