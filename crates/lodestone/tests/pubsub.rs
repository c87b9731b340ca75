//! Pub/sub with real clients: confirmations and messages byte for byte, patterns, shard
//! channels, the RESP2 subscribed context, RESP3 pushes among normal replies, exact
//! receiver counts, per-publisher order across threads, and slow subscribers closed by
//! `client-output-buffer-limit pubsub` while the others keep receiving.
//!
//! The byte-exact tests run against the reference redis-server when
//! `PUBSUB_AGAINST_REDIS` is set, proving the expected replies are Redis's own.

mod common;

use std::time::Duration;

use common::{bulk_array, encode_request, send_line, start_subject, wait_for, RawConn, TestServer};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A push/array of bulk strings followed by an integer: a (un)subscribe confirmation.
fn confirm(kind: &str, name: &str, count: i64) -> String {
    format!(
        "*3\r\n${}\r\n{kind}\r\n${}\r\n{name}\r\n:{count}\r\n",
        kind.len(),
        name.len()
    )
}

fn message(channel: &str, payload: &str) -> String {
    bulk_array(&["message", channel, payload])
}

fn read(conn: &mut RawConn) -> String {
    text(&conn.read_reply())
}

/// SUBSCRIBE confirms each channel with the running count, PUBLISH returns the number
/// of receivers and delivers `message` arrays, and UNSUBSCRIBE without arguments leaves
/// every channel (or confirms with a null name when there is none).
#[test]
fn subscribe_publish_unsubscribe_basics() {
    let server = start_subject("PUBSUB_AGAINST_REDIS");
    let mut sub = server.raw();
    let mut publisher = server.raw();
    sub.send(b"SUBSCRIBE news sports\r\n");
    assert_eq!(read(&mut sub), confirm("subscribe", "news", 1));
    assert_eq!(read(&mut sub), confirm("subscribe", "sports", 2));
    // Subscribing twice changes nothing but still confirms.
    sub.send(b"SUBSCRIBE news\r\n");
    assert_eq!(read(&mut sub), confirm("subscribe", "news", 2));
    assert_eq!(send_line(&mut publisher, "PUBLISH news hello"), b":1\r\n");
    assert_eq!(send_line(&mut publisher, "PUBLISH weather x"), b":0\r\n");
    assert_eq!(read(&mut sub), message("news", "hello"));
    // Leaving everything confirms each channel (in the server's own order) with the
    // count going down to 0.
    sub.send(b"UNSUBSCRIBE\r\n");
    let (first, second) = (read(&mut sub), read(&mut sub));
    assert!(first.ends_with(":1\r\n") && second.ends_with(":0\r\n"));
    let mut left = [first.replace(":1\r\n", ""), second.replace(":0\r\n", "")];
    left.sort();
    assert_eq!(
        left,
        [
            "*3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n",
            "*3\r\n$11\r\nunsubscribe\r\n$6\r\nsports\r\n"
        ]
    );
    sub.send(b"UNSUBSCRIBE\r\n");
    assert_eq!(read(&mut sub), "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
    assert_eq!(send_line(&mut publisher, "PUBLISH news hello"), b":0\r\n");
    // Out of the subscribed context, any command runs again.
    assert_eq!(send_line(&mut sub, "SET k v"), b"+OK\r\n");
}

/// A RESP2 subscriber may only (un)subscribe, PING, QUIT and RESET; anything else gets
/// Redis's error, PING answers in the shape of a message, and RESET leaves every
/// subscription.
#[test]
fn resp2_subscribed_context_rules() {
    let server = start_subject("PUBSUB_AGAINST_REDIS");
    let mut sub = server.raw();
    let mut publisher = server.raw();
    sub.send(b"SUBSCRIBE a\r\n");
    assert_eq!(read(&mut sub), confirm("subscribe", "a", 1));
    assert_eq!(
        text(&send_line(&mut sub, "GET x")),
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(
        text(&send_line(&mut sub, "CLIENT LIST")),
        "-ERR Can't execute 'client|list': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(
        text(&send_line(&mut sub, "PING")),
        bulk_array(&["pong", ""])
    );
    assert_eq!(
        text(&send_line(&mut sub, "PING hi")),
        bulk_array(&["pong", "hi"])
    );
    sub.send(b"PSUBSCRIBE p*\r\n");
    assert_eq!(read(&mut sub), confirm("psubscribe", "p*", 2));
    sub.send(b"SSUBSCRIBE s\r\n");
    assert_eq!(read(&mut sub), confirm("ssubscribe", "s", 1));
    assert_eq!(send_line(&mut sub, "RESET"), b"+RESET\r\n");
    assert_eq!(send_line(&mut publisher, "PUBLISH a m"), b":0\r\n");
    assert_eq!(send_line(&mut publisher, "PUBLISH pa m"), b":0\r\n");
    assert_eq!(send_line(&mut publisher, "SPUBLISH s m"), b":0\r\n");
    assert_eq!(send_line(&mut sub, "PING"), b"+PONG\r\n");
}

/// Patterns match with Redis's glob rules and deliver `pmessage`; a client subscribed
/// to a channel and a matching pattern receives (and is counted) twice; NUMPAT counts
/// distinct patterns.
#[test]
fn patterns_deliver_pmessage_and_count_per_match() {
    let server = start_subject("PUBSUB_AGAINST_REDIS");
    let mut sub = server.raw();
    let mut other = server.raw();
    let mut publisher = server.raw();
    sub.send(b"PSUBSCRIBE news.* h?llo [a-c]x\r\n");
    assert_eq!(read(&mut sub), confirm("psubscribe", "news.*", 1));
    assert_eq!(read(&mut sub), confirm("psubscribe", "h?llo", 2));
    assert_eq!(read(&mut sub), confirm("psubscribe", "[a-c]x", 3));
    sub.send(b"SUBSCRIBE news.tech\r\n");
    assert_eq!(read(&mut sub), confirm("subscribe", "news.tech", 4));
    other.send(b"PSUBSCRIBE news.*\r\n");
    assert_eq!(read(&mut other), confirm("psubscribe", "news.*", 1));
    assert_eq!(send_line(&mut publisher, "PUBSUB NUMPAT"), b":3\r\n");
    assert_eq!(send_line(&mut publisher, "PUBLISH news.tech m1"), b":3\r\n");
    assert_eq!(read(&mut sub), message("news.tech", "m1"));
    assert_eq!(
        read(&mut sub),
        bulk_array(&["pmessage", "news.*", "news.tech", "m1"])
    );
    assert_eq!(
        read(&mut other),
        bulk_array(&["pmessage", "news.*", "news.tech", "m1"])
    );
    assert_eq!(send_line(&mut publisher, "PUBLISH hello m2"), b":1\r\n");
    assert_eq!(send_line(&mut publisher, "PUBLISH bx m3"), b":1\r\n");
    assert_eq!(send_line(&mut publisher, "PUBLISH dx m4"), b":0\r\n");
    assert_eq!(
        read(&mut sub),
        bulk_array(&["pmessage", "h?llo", "hello", "m2"])
    );
    assert_eq!(
        read(&mut sub),
        bulk_array(&["pmessage", "[a-c]x", "bx", "m3"])
    );
    sub.send(b"PUNSUBSCRIBE\r\n");
    assert_eq!(read(&mut sub), confirm("punsubscribe", "news.*", 3));
    assert_eq!(read(&mut sub), confirm("punsubscribe", "h?llo", 2));
    assert_eq!(read(&mut sub), confirm("punsubscribe", "[a-c]x", 1));
    assert_eq!(send_line(&mut publisher, "PUBSUB NUMPAT"), b":1\r\n");
}

/// PUBSUB CHANNELS lists channels with subscribers (filtered by a pattern), NUMSUB
/// counts channel subscribers only, and the shard variants see only shard channels.
#[test]
fn pubsub_introspection() {
    let server = start_subject("PUBSUB_AGAINST_REDIS");
    let mut a = server.raw();
    let mut b = server.raw();
    let mut c = server.raw();
    a.send(b"SUBSCRIBE ch1 ch2\r\n");
    read(&mut a);
    read(&mut a);
    b.send(b"SUBSCRIBE ch1\r\n");
    read(&mut b);
    b.send(b"PSUBSCRIBE ch*\r\n");
    read(&mut b);
    b.send(b"SSUBSCRIBE sh1\r\n");
    read(&mut b);
    let mut channels = send_line(&mut c, "PUBSUB CHANNELS");
    channels.sort();
    let mut expected = bulk_array(&["ch1", "ch2"]).into_bytes();
    expected.sort();
    assert_eq!(channels, expected);
    assert_eq!(
        text(&send_line(&mut c, "PUBSUB CHANNELS *2")),
        bulk_array(&["ch2"])
    );
    assert_eq!(
        text(&send_line(&mut c, "PUBSUB NUMSUB ch1 ch2 none")),
        "*6\r\n$3\r\nch1\r\n:2\r\n$3\r\nch2\r\n:1\r\n$4\r\nnone\r\n:0\r\n"
    );
    assert_eq!(send_line(&mut c, "PUBSUB NUMSUB"), b"*0\r\n");
    assert_eq!(
        text(&send_line(&mut c, "PUBSUB SHARDCHANNELS")),
        bulk_array(&["sh1"])
    );
    assert_eq!(
        text(&send_line(&mut c, "PUBSUB SHARDNUMSUB sh1 ch1")),
        "*4\r\n$3\r\nsh1\r\n:1\r\n$3\r\nch1\r\n:0\r\n"
    );
    assert_eq!(send_line(&mut c, "PUBLISH sh1 x"), b":0\r\n");
    assert_eq!(send_line(&mut c, "SPUBLISH ch1 x"), b":0\r\n");
    assert_eq!(send_line(&mut c, "SPUBLISH sh1 x"), b":1\r\n");
    assert_eq!(read(&mut b), bulk_array(&["smessage", "sh1", "x"]));
    let info = text(&send_line(&mut c, "INFO stats"));
    assert!(info.contains("pubsub_channels:2\r\n"), "{info}");
    assert!(info.contains("pubsub_patterns:1\r\n"), "{info}");
    assert!(info.contains("pubsubshard_channels:1\r\n"), "{info}");
    let list = text(&send_line(&mut c, "CLIENT LIST TYPE pubsub"));
    assert_eq!(list.matches("flags=P").count(), 2, "{list}");
    assert!(list.contains(" sub=1 psub=1 ssub=1 "), "{list}");
    assert!(list.contains(" sub=2 psub=0 ssub=0 "), "{list}");
    assert!(
        text(&send_line(&mut c, "PUBSUB FOO")).starts_with("-ERR unknown subcommand 'FOO'"),
        "unknown subcommand"
    );
}

/// A RESP3 subscriber keeps running ordinary commands; messages arrive as `>` pushes
/// between replies, and a message it publishes to itself precedes PUBLISH's reply, as
/// in Redis 7.0.
#[test]
fn resp3_pushes_interleave_with_replies() {
    let server = start_subject("PUBSUB_AGAINST_REDIS");
    let mut sub = server.raw();
    let mut publisher = server.raw();
    sub.send(b"HELLO 3\r\n");
    read(&mut sub);
    sub.send(b"SUBSCRIBE ch\r\n");
    assert_eq!(
        read(&mut sub),
        ">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    );
    assert_eq!(send_line(&mut sub, "SET k v"), b"+OK\r\n");
    assert_eq!(send_line(&mut publisher, "PUBLISH ch one"), b":1\r\n");
    // The push is already queued when GET runs: it comes first.
    sub.send(b"GET k\r\n");
    assert_eq!(
        read(&mut sub),
        ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$3\r\none\r\n"
    );
    assert_eq!(read(&mut sub), "$1\r\nv\r\n");
    sub.send(b"PUBLISH ch self\r\n");
    assert_eq!(
        read(&mut sub),
        ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$4\r\nself\r\n"
    );
    assert_eq!(read(&mut sub), ":1\r\n");
    sub.send(b"UNSUBSCRIBE\r\n");
    assert_eq!(
        read(&mut sub),
        ">3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:0\r\n"
    );
    sub.send(b"UNSUBSCRIBE\r\n");
    assert_eq!(read(&mut sub), ">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n");
}

/// Subscription confirmations are pushes: CLIENT REPLY OFF does not silence them nor the
/// messages.
#[test]
fn client_reply_off_keeps_pushes() {
    let server = start_subject("PUBSUB_AGAINST_REDIS");
    let mut sub = server.raw();
    let mut publisher = server.raw();
    sub.send(b"HELLO 3\r\n");
    read(&mut sub);
    sub.send(b"CLIENT REPLY OFF\r\nSUBSCRIBE ch\r\n");
    assert_eq!(
        read(&mut sub),
        ">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    );
    assert_eq!(send_line(&mut publisher, "PUBLISH ch m"), b":1\r\n");
    assert_eq!(
        read(&mut sub),
        ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nm\r\n"
    );
}

/// SUBSCRIBE inside MULTI confirms inside EXEC's array, as Redis does.
#[test]
fn subscribe_inside_multi() {
    let server = start_subject("PUBSUB_AGAINST_REDIS");
    let mut sub = server.raw();
    assert_eq!(send_line(&mut sub, "MULTI"), b"+OK\r\n");
    assert_eq!(send_line(&mut sub, "SUBSCRIBE ch"), b"+QUEUED\r\n");
    assert_eq!(
        text(&send_line(&mut sub, "EXEC")),
        format!("*1\r\n{}", confirm("subscribe", "ch", 1))
    );
    assert_eq!(
        send_line(&mut server.raw(), "PUBLISH ch m"),
        b":1\r\n".to_vec()
    );
    assert_eq!(read(&mut sub), message("ch", "m"));
}

/// Several publishers on several threads, several subscribers: every subscriber gets
/// every message once, each publisher's in the order it published them, and every
/// PUBLISH counts every subscriber.
#[test]
fn order_per_publisher_across_threads() {
    const PUBLISHERS: usize = 4;
    const SUBSCRIBERS: usize = 3;
    const MESSAGES: usize = 2000;
    let server = TestServer::start_with(&["--threads", "4"]);
    let mut subscribers: Vec<RawConn> = (0..SUBSCRIBERS)
        .map(|_| {
            let mut sub = server.raw();
            sub.send(b"SUBSCRIBE bus\r\n");
            read(&mut sub);
            sub
        })
        .collect();
    let port = server.port;
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            std::thread::spawn(move || {
                let mut conn = RawConn::connect(port);
                for i in 0..MESSAGES {
                    let payload = format!("{p}:{i}");
                    let reply = conn.cmd(&["PUBLISH", "bus", &payload]);
                    assert_eq!(reply, format!(":{SUBSCRIBERS}\r\n").into_bytes());
                }
            })
        })
        .collect();
    for publisher in publishers {
        publisher.join().expect("publisher");
    }
    for sub in &mut subscribers {
        let mut next = [0usize; PUBLISHERS];
        for _ in 0..PUBLISHERS * MESSAGES {
            let reply = read(sub);
            let payload = reply.rsplit("\r\n").nth(1).unwrap_or_default().to_string();
            let (p, i) = payload.split_once(':').expect("payload");
            let (p, i): (usize, usize) = (p.parse().expect("p"), i.parse().expect("i"));
            assert_eq!(i, next[p], "publisher {p} out of order");
            next[p] += 1;
        }
        assert_eq!(next, [MESSAGES; PUBLISHERS]);
    }
}

fn set_limits(conn: &mut RawConn, value: &str) -> String {
    text(&conn.cmd(&["CONFIG", "SET", "client-output-buffer-limit", value]))
}

fn info_field(conn: &mut RawConn, section: &str, name: &str) -> u64 {
    let info = text(&send_line(conn, &format!("INFO {section}")));
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from INFO {section}"))
}

/// A subscriber that never reads is closed once its unread messages pass the hard
/// limit; the server's memory stays bounded and a reading subscriber gets everything.
#[test]
fn slow_subscriber_closed_by_hard_limit() {
    let server = TestServer::start();
    let mut admin = server.raw();
    assert_eq!(set_limits(&mut admin, "pubsub 4mb 0 0"), "+OK\r\n");
    let mut stalled = server.raw();
    stalled.send(b"SUBSCRIBE feed\r\n");
    read(&mut stalled);
    let mut reader = server.raw();
    reader.send(b"SUBSCRIBE feed\r\n");
    read(&mut reader);
    let rss_before = info_field(&mut admin, "memory", "used_memory_rss");
    // 200 MB published; the stalled client's socket and mailbox can hold only a few.
    // The reader takes each message before the next is published, so only the stalled
    // client falls behind.
    let payload = "x".repeat(64 * 1024);
    let mut publisher = server.raw();
    for _ in 0..3200 {
        assert_eq!(publisher.cmd(&["PUBLISH", "feed", &payload])[0], b':');
        let reply = reader.read_reply();
        assert!(reply.len() > 64 * 1024, "short message");
    }
    assert!(
        wait_for(Duration::from_secs(10), || {
            info_field(
                &mut admin,
                "stats",
                "client_output_buffer_limit_disconnections",
            ) == 1
        }),
        "stalled subscriber not closed"
    );
    assert!(wait_for(Duration::from_secs(10), || {
        send_line(&mut admin, "PUBSUB NUMSUB feed") == b"*2\r\n$4\r\nfeed\r\n:1\r\n"
    }));
    let rss_after = info_field(&mut admin, "memory", "used_memory_rss");
    assert!(
        rss_after < rss_before + 64 * 1024 * 1024,
        "memory grew from {rss_before} to {rss_after}"
    );
    assert!(
        stalled.drain_until_closed(),
        "stalled connection still open"
    );
}

/// The soft limit closes a subscriber that stays above it for longer than its seconds;
/// one that dips below it in time is kept.
#[test]
fn slow_subscriber_closed_by_soft_limit() {
    let server = TestServer::start();
    let mut admin = server.raw();
    assert_eq!(set_limits(&mut admin, "pubsub 0 1mb 1"), "+OK\r\n");
    assert_eq!(
        text(&send_line(
            &mut admin,
            "CONFIG GET client-output-buffer-limit"
        )),
        bulk_array(&[
            "client-output-buffer-limit",
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 0 1048576 1"
        ])
    );
    let mut stalled = server.raw();
    stalled.send(b"SUBSCRIBE feed\r\n");
    read(&mut stalled);
    let payload = "y".repeat(64 * 1024);
    let mut publisher = server.raw();
    // Keep the stalled client above the soft limit until the server gives up on it.
    let closed = wait_for(Duration::from_secs(20), || {
        publisher.cmd(&["PUBLISH", "feed", &payload]);
        info_field(
            &mut admin,
            "stats",
            "client_output_buffer_limit_disconnections",
        ) == 1
    });
    assert!(closed, "soft limit never closed the subscriber");
    assert!(
        stalled.drain_until_closed(),
        "stalled connection still open"
    );
}

/// A subscriber closed for its output limit is gone for the very next command, even
/// while its connection is still being torn down: CLIENT LIST, connected_clients,
/// PUBLISH and PUBSUB NUMSUB no longer see it. Redis frees such a client before its
/// next event-loop turn, so a client that waits for each reply never sees it there
/// either. (Upstream's obuf-limits test reads CLIENT LIST after each PUBLISH and
/// failed on a loaded machine when it found the client listed, its buffer dropped.)
#[test]
fn subscriber_closed_for_output_limit_is_gone_at_once() {
    // One worker thread and pipelined checks: the commands after the PUBLISH that
    // closes the subscriber run before its connection's task can.
    let server = TestServer::start_with(&["--threads", "1"]);
    let mut admin = server.raw();
    assert_eq!(set_limits(&mut admin, "pubsub 256kb 0 0"), "+OK\r\n");
    let mut stalled = server.raw();
    stalled.send(b"CLIENT SETNAME stalled\r\n");
    read(&mut stalled);
    stalled.send(b"SUBSCRIBE feed\r\n");
    read(&mut stalled);
    let clients_before = info_field(&mut admin, "clients", "connected_clients");
    let payload = "z".repeat(64 * 1024);
    let mut batch = encode_request(&[b"PUBLISH", b"feed", payload.as_bytes()]);
    batch.extend(encode_request(&[b"CLIENT", b"LIST"]));
    batch.extend(encode_request(&[b"PUBSUB", b"NUMSUB", b"feed"]));
    batch.extend(encode_request(&[b"INFO", b"stats"]));
    let mut closed = false;
    for _ in 0..2000 {
        admin.send(&batch);
        let published = admin.read_reply();
        let list = text(&admin.read_reply());
        let numsub = admin.read_reply();
        let stats = text(&admin.read_reply());
        if stats.contains("client_output_buffer_limit_disconnections:1") {
            assert!(
                !list.contains("name=stalled"),
                "closed client still listed: {list}"
            );
            assert_eq!(numsub, b"*2\r\n$4\r\nfeed\r\n:0\r\n");
            closed = true;
            break;
        }
        assert_eq!(published, b":1\r\n");
        assert!(list.contains("name=stalled"), "live client not listed");
    }
    assert!(closed, "the hard limit never closed the subscriber");
    let mut late = encode_request(&[b"PUBLISH", b"feed", b"late"]);
    late.extend(encode_request(&[b"INFO", b"clients"]));
    admin.send(&late);
    assert_eq!(admin.read_reply(), b":0\r\n");
    let clients = text(&admin.read_reply());
    assert!(
        clients.contains(&format!("connected_clients:{}\r\n", clients_before - 1)),
        "{clients}"
    );
    assert!(
        stalled.drain_until_closed(),
        "stalled connection still open"
    );
}

/// CONFIG SET of the limits is all or nothing, with Redis's errors.
#[test]
fn output_limit_config_errors() {
    let server = TestServer::start();
    let mut c = server.raw();
    for (value, error) in [
        (
            "pubsub 1 2",
            "Wrong number of arguments in buffer limit configuration.",
        ),
        (
            "master 1 2 3",
            "Invalid client class specified in buffer limit configuration.",
        ),
        (
            "pubsub 1 2 -3",
            "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
        ),
        (
            "pubsub 1 2 3 pubsub x 2 3",
            "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
        ),
    ] {
        let reply = set_limits(&mut c, value);
        assert_eq!(
            reply,
            format!("-ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - {error}\r\n")
        );
    }
    assert_eq!(set_limits(&mut c, "replica 1kb 2 3"), "+OK\r\n");
    assert_eq!(
        text(&send_line(&mut c, "CONFIG GET client-output-buffer-limit")),
        bulk_array(&[
            "client-output-buffer-limit",
            "normal 0 0 0 slave 1024 2 3 pubsub 33554432 8388608 60"
        ])
    );
}

/// The `redis` crate's own PubSub API works unchanged: channel and pattern
/// subscriptions, message payloads, and counts seen by another client.
#[test]
fn redis_crate_pubsub_api() {
    let server = start_subject("PUBSUB_AGAINST_REDIS");
    let mut subscriber = server.client();
    let mut publisher = server.client();
    let mut pubsub = subscriber.as_pubsub();
    pubsub.subscribe("events").expect("subscribe");
    pubsub.psubscribe("ev*").expect("psubscribe");
    pubsub
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let receivers: i64 = redis::cmd("PUBLISH")
        .arg("events")
        .arg("payload-1")
        .query(&mut publisher)
        .expect("publish");
    assert_eq!(receivers, 2);
    let first = pubsub.get_message().expect("message");
    assert_eq!(first.get_channel_name(), "events");
    assert!(!first.from_pattern());
    assert_eq!(first.get_payload::<String>().expect("payload"), "payload-1");
    let second = pubsub.get_message().expect("pmessage");
    assert!(second.from_pattern());
    assert_eq!(second.get_pattern::<String>().expect("pattern"), "ev*");
    assert_eq!(
        second.get_payload::<String>().expect("payload"),
        "payload-1"
    );
    pubsub.unsubscribe("events").expect("unsubscribe");
    pubsub.punsubscribe("ev*").expect("punsubscribe");
    let numsub: Vec<(String, i64)> = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg("events")
        .query(&mut publisher)
        .expect("numsub");
    assert_eq!(numsub, vec![("events".to_string(), 0)]);
}
