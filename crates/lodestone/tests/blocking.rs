//! Blocking pops with several real clients: FIFO service, serve-after-write, timeouts,
//! disconnects, CLIENT UNBLOCK, and a producers/consumers stress where every element is
//! delivered exactly once.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{wait_for, RawConn, TestServer};

/// Sends a command without waiting for its reply.
fn send(conn: &mut RawConn, args: &[&str]) {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    conn.send_cmd(&args);
}

/// Waits until the server reports `n` blocked clients.
fn wait_blocked(server: &TestServer, n: usize) {
    let mut probe = server.raw();
    let needle = format!("blocked_clients:{n}\r\n");
    let reached = wait_for(Duration::from_secs(10), || {
        let info = probe.cmd(&["INFO", "clients"]);
        String::from_utf8_lossy(&info).contains(&needle)
    });
    assert!(reached, "never saw {needle}");
}

/// The client id of a connection.
fn client_id(conn: &mut RawConn) -> String {
    let reply = conn.cmd(&["CLIENT", "ID"]);
    String::from_utf8_lossy(&reply[1..reply.len() - 2]).into_owned()
}

/// Clients blocked on one key are served in the order they blocked, one element each.
#[test]
fn waiters_are_served_first_come_first_served() {
    let server = TestServer::start_with(&["--threads", "4"]);
    let mut waiters: Vec<RawConn> = (0..3).map(|_| server.raw()).collect();
    for (i, w) in waiters.iter_mut().enumerate() {
        send(w, &["BLPOP", "q", "0"]);
        wait_blocked(&server, i + 1);
    }
    let mut producer = server.raw();
    assert_eq!(producer.cmd(&["RPUSH", "q", "a", "b", "c"]), b":3\r\n");
    for (w, element) in waiters.iter_mut().zip(["a", "b", "c"]) {
        let expected = format!("*2\r\n$1\r\nq\r\n$1\r\n{element}\r\n");
        assert_eq!(w.read_reply(), expected.as_bytes());
    }
    assert_eq!(producer.cmd(&["LLEN", "q"]), b":0\r\n");
    assert_eq!(producer.cmd(&["EXISTS", "q"]), b":0\r\n");
}

/// The pushing client never sees the element it fed to a waiter: the waiter is served
/// before the push's reply reaches anyone else, even on a pipelined connection.
#[test]
fn waiter_is_served_before_the_next_command_sees_the_element() {
    let server = TestServer::start_with(&["--threads", "2"]);
    let mut waiter = server.raw();
    send(&mut waiter, &["BRPOP", "jobs", "0"]);
    wait_blocked(&server, 1);
    let mut producer = server.raw();
    producer.send(
        &[
            common::encode_request(&[b"LPUSH", b"jobs", b"j1"]),
            common::encode_request(&[b"LLEN", b"jobs"]),
            common::encode_request(&[b"RPOP", b"jobs"]),
        ]
        .concat(),
    );
    assert_eq!(producer.read_reply(), b":1\r\n");
    assert_eq!(producer.read_reply(), b":0\r\n");
    assert_eq!(producer.read_reply(), b"$-1\r\n");
    assert_eq!(waiter.read_reply(), b"*2\r\n$4\r\njobs\r\n$2\r\nj1\r\n");
}

/// A fractional timeout returns a null array after roughly that long; 0 waits until
/// fed; a negative or non-numeric timeout is refused.
#[test]
fn timeouts_follow_redis() {
    let server = TestServer::start();
    let mut c = server.raw();
    let began = Instant::now();
    assert_eq!(c.cmd(&["BLPOP", "none", "0.2"]), b"*-1\r\n");
    assert!(began.elapsed() >= Duration::from_millis(190));
    // A real wait timing out is a null array for BLMOVE too, as in Redis.
    assert_eq!(
        c.cmd(&["BLMOVE", "none", "dst", "LEFT", "RIGHT", "0.05"]),
        b"*-1\r\n"
    );
    assert_eq!(
        c.cmd(&["BLPOP", "none", "-1"]),
        b"-ERR timeout is negative\r\n"
    );
    assert_eq!(
        c.cmd(&["BLPOP", "none", "1e100"]),
        b"-ERR timeout is negative\r\n"
    );
    assert_eq!(
        c.cmd(&["BLPOP", "none", "abc"]),
        b"-ERR timeout is not a float or out of range\r\n"
    );
    let mut resp3 = server.raw();
    resp3.cmd(&["HELLO", "3"]);
    assert_eq!(resp3.cmd(&["BZPOPMIN", "none", "0.01"]), b"_\r\n");
}

/// BLMOVE moves the element to its destination when fed, and a second waiter on that
/// destination is fed in turn by the move.
#[test]
fn blmove_chains_through_waiters() {
    let server = TestServer::start_with(&["--threads", "3"]);
    let mut first = server.raw();
    send(
        &mut first,
        &["BLMOVE", "{x}a", "{x}b", "LEFT", "RIGHT", "0"],
    );
    wait_blocked(&server, 1);
    let mut second = server.raw();
    send(&mut second, &["BLPOP", "{x}b", "0"]);
    wait_blocked(&server, 2);
    let mut producer = server.raw();
    assert_eq!(producer.cmd(&["RPUSH", "{x}a", "v"]), b":1\r\n");
    assert_eq!(first.read_reply(), b"$1\r\nv\r\n");
    assert_eq!(second.read_reply(), b"*2\r\n$4\r\n{x}b\r\n$1\r\nv\r\n");
    assert_eq!(producer.cmd(&["EXISTS", "{x}a", "{x}b"]), b":0\r\n");
}

/// BLMOVE between keys in different shards still moves the element atomically.
#[test]
fn blmove_across_shards() {
    let server = TestServer::start_with(&["--threads", "2"]);
    let mut waiter = server.raw();
    send(&mut waiter, &["BRPOPLPUSH", "src", "dst", "0"]);
    wait_blocked(&server, 1);
    let mut producer = server.raw();
    assert_eq!(producer.cmd(&["LPUSH", "src", "x"]), b":1\r\n");
    assert_eq!(waiter.read_reply(), b"$1\r\nx\r\n");
    assert_eq!(
        producer.cmd(&["LRANGE", "dst", "0", "-1"]),
        b"*1\r\n$1\r\nx\r\n"
    );
}

/// A client blocked on several keys is served from the one that is fed.
#[test]
fn several_keys_and_sorted_sets() {
    let server = TestServer::start();
    let mut waiter = server.raw();
    send(&mut waiter, &["BZPOPMIN", "z1", "z2", "0"]);
    wait_blocked(&server, 1);
    let mut producer = server.raw();
    assert_eq!(producer.cmd(&["ZADD", "z2", "5", "m"]), b":1\r\n");
    assert_eq!(
        waiter.read_reply(),
        b"*3\r\n$2\r\nz2\r\n$1\r\nm\r\n$1\r\n5\r\n"
    );
    send(
        &mut waiter,
        &["BLMPOP", "0", "2", "l1", "l2", "RIGHT", "COUNT", "2"],
    );
    wait_blocked(&server, 1);
    assert_eq!(producer.cmd(&["RPUSH", "l2", "a", "b", "c"]), b":3\r\n");
    assert_eq!(
        waiter.read_reply(),
        b"*2\r\n$2\r\nl2\r\n*2\r\n$1\r\nc\r\n$1\r\nb\r\n"
    );
}

/// A list waiter is not fed by a sorted set (and vice versa): it stays blocked.
#[test]
fn wrong_type_does_not_feed() {
    let server = TestServer::start();
    let mut waiter = server.raw();
    send(&mut waiter, &["BLPOP", "k", "0"]);
    wait_blocked(&server, 1);
    let mut producer = server.raw();
    assert_eq!(producer.cmd(&["ZADD", "k", "1", "a"]), b":1\r\n");
    assert_eq!(producer.cmd(&["DEL", "k"]), b":1\r\n");
    wait_blocked(&server, 1);
    assert_eq!(producer.cmd(&["RPUSH", "k", "x"]), b":1\r\n");
    assert_eq!(waiter.read_reply(), b"*2\r\n$1\r\nk\r\n$1\r\nx\r\n");
}

/// CLIENT UNBLOCK ends a wait as a timeout or with the UNBLOCKED error; a client that
/// is not blocked gives 0.
#[test]
fn client_unblock() {
    let server = TestServer::start();
    let mut waiter = server.raw();
    let id = client_id(&mut waiter);
    let mut admin = server.raw();
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id]), b":0\r\n");
    send(&mut waiter, &["BLPOP", "k", "0"]);
    wait_blocked(&server, 1);
    let list = admin.cmd(&["CLIENT", "LIST", "ID", &id]);
    assert!(String::from_utf8_lossy(&list).contains(" flags=b "));
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id]), b":1\r\n");
    assert_eq!(waiter.read_reply(), b"*-1\r\n");
    send(&mut waiter, &["BLMOVE", "k", "d", "LEFT", "LEFT", "0"]);
    wait_blocked(&server, 1);
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"]), b":1\r\n");
    assert_eq!(
        waiter.read_reply(),
        b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
    assert_eq!(waiter.cmd(&["PING"]), b"+PONG\r\n");
}

/// A blocked client whose connection closes is removed and takes no element.
#[test]
fn closed_waiter_is_removed() {
    let server = TestServer::start();
    let mut gone = server.raw();
    send(&mut gone, &["BLPOP", "k", "0"]);
    wait_blocked(&server, 1);
    drop(gone);
    wait_blocked(&server, 0);
    let mut producer = server.raw();
    assert_eq!(producer.cmd(&["RPUSH", "k", "x"]), b":1\r\n");
    assert_eq!(producer.cmd(&["LLEN", "k"]), b":1\r\n");
}

/// Commands pipelined behind a blocking pop run after it is served, in order.
#[test]
fn pipeline_behind_a_blocked_command_waits() {
    let server = TestServer::start();
    let mut waiter = server.raw();
    waiter.send(
        &[
            common::encode_request(&[b"BLPOP", b"k", b"0"]),
            common::encode_request(&[b"ECHO", b"after"]),
        ]
        .concat(),
    );
    wait_blocked(&server, 1);
    let mut producer = server.raw();
    assert_eq!(producer.cmd(&["RPUSH", "k", "x"]), b":1\r\n");
    assert_eq!(waiter.read_reply(), b"*2\r\n$1\r\nk\r\n$1\r\nx\r\n");
    assert_eq!(waiter.read_reply(), b"$5\r\nafter\r\n");
}

/// The effect stream records a served pop as the non-blocking command it performed.
#[test]
fn served_pops_feed_the_effect_stream_deterministically() {
    let server = TestServer::start();
    let mut admin = server.raw();
    assert_eq!(admin.cmd(&["DEBUG", "EFFECTS", "START"]), b"+OK\r\n");
    let mut waiter = server.raw();
    send(&mut waiter, &["BLPOP", "k", "0"]);
    wait_blocked(&server, 1);
    assert_eq!(admin.cmd(&["RPUSH", "k", "x"]), b":1\r\n");
    assert_eq!(waiter.read_reply(), b"*2\r\n$1\r\nk\r\n$1\r\nx\r\n");
    let effects = admin.cmd(&["DEBUG", "EFFECTS", "STOP"]);
    let text = String::from_utf8_lossy(&effects).replace("\r\n", " ");
    assert!(
        text.contains("$6 SELECT $1 0 *3 $5 RPUSH $1 k $1 x *2 $4 LPOP $1 k"),
        "{text}"
    );
}

/// N producers and M consumers over blocking pops on several threads: every element
/// is delivered exactly once.
#[test]
fn producers_and_consumers_deliver_exactly_once() {
    const PRODUCERS: usize = 4;
    const CONSUMERS: usize = 6;
    const PER_PRODUCER: usize = 500;
    let server = TestServer::start_with(&["--threads", "4"]);
    let port = server.port;
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = RawConn::connect(port);
                let mut got = Vec::new();
                loop {
                    // No timeout: a consumer leaves only on its stop marker, so a slow
                    // machine cannot make it quit before the producers are done.
                    let reply = c.cmd(&["BLPOP", "work", "0"]);
                    let text = String::from_utf8_lossy(&reply).into_owned();
                    let item = text.rsplit("\r\n").nth(1).unwrap_or_default().to_string();
                    if item == "stop" {
                        return got;
                    }
                    got.push(item);
                }
            })
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            std::thread::spawn(move || {
                let mut c = RawConn::connect(port);
                for i in 0..PER_PRODUCER {
                    let item = format!("{p}-{i}");
                    let reply = c.cmd(&["RPUSH", "work", &item]);
                    assert_eq!(reply[0], b':');
                }
            })
        })
        .collect();
    for p in producers {
        p.join().expect("producer");
    }
    let mut stopper = RawConn::connect(port);
    for _ in 0..CONSUMERS {
        stopper.cmd(&["RPUSH", "work", "stop"]);
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for c in consumers {
        for item in c.join().expect("consumer") {
            assert!(seen.insert(item.clone()), "{item} delivered twice");
            total += 1;
        }
    }
    assert_eq!(total, PRODUCERS * PER_PRODUCER);
}
