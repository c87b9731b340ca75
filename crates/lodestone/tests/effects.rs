//! The effect stream (what AOF and replicas will read), seen through DEBUG EFFECTS:
//! random and non-idempotent writes are recorded in a deterministic form, replays of
//! the captured stream rebuild the same data, and reads record nothing.

mod common;

use common::{RawConn, TestServer};
use redis::Value;

/// The captured effects as lists of strings.
fn captured(conn: &mut redis::Connection) -> Vec<Vec<String>> {
    let reply: Value = redis::cmd("DEBUG")
        .arg("EFFECTS")
        .arg("GET")
        .query(conn)
        .expect("DEBUG EFFECTS GET");
    let Value::Array(commands) = reply else {
        panic!("not an array: {reply:?}");
    };
    commands
        .into_iter()
        .map(|c| match c {
            Value::Array(args) => args
                .into_iter()
                .map(|a| match a {
                    Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
                    other => panic!("not a bulk string: {other:?}"),
                })
                .collect(),
            other => panic!("not a command: {other:?}"),
        })
        .collect()
}

fn run(conn: &mut redis::Connection, args: &[&str]) -> Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(conn).expect(args[0])
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// SPOP, HINCRBYFLOAT, LMPOP and ZMPOP are recorded as the deterministic commands that
/// reproduce what they did; reads and failed writes are not recorded.
#[test]
fn random_and_float_writes_are_recorded_deterministically() {
    let server = TestServer::start();
    let mut c = server.client();
    run(&mut c, &["DEBUG", "EFFECTS", "START"]);
    run(&mut c, &["SADD", "s", "a", "b", "c"]);
    let popped = run(&mut c, &["SPOP", "s"]);
    let Value::BulkString(member) = popped else {
        panic!("SPOP gave {popped:?}");
    };
    let member = String::from_utf8_lossy(&member).into_owned();
    run(&mut c, &["HINCRBYFLOAT", "h", "f", "0.1"]);
    run(&mut c, &["RPUSH", "l", "x", "y", "z"]);
    run(&mut c, &["LMPOP", "2", "nope", "l", "RIGHT", "COUNT", "2"]);
    run(&mut c, &["ZADD", "z", "1", "m", "2", "n"]);
    run(&mut c, &["ZMPOP", "1", "z", "MAX"]);
    run(&mut c, &["LRANGE", "l", "0", "-1"]);
    let _ = redis::cmd("LPUSH").arg("s").arg("v").query::<Value>(&mut c);
    let effects = captured(&mut c);
    let expected = vec![
        strings(&["SELECT", "0"]),
        strings(&["SADD", "s", "a", "b", "c"]),
        strings(&["SREM", "s", &member]),
        strings(&["HSET", "h", "f", "0.1"]),
        strings(&["RPUSH", "l", "x", "y", "z"]),
        strings(&["RPOP", "l", "2"]),
        strings(&["ZADD", "z", "1", "m", "2", "n"]),
        strings(&["ZPOPMAX", "z", "1"]),
    ];
    assert_eq!(effects, expected);
}

/// Replaying the captured stream on a fresh server rebuilds the same dataset (same
/// DEBUG DIGEST), SPOP and blocking pops included.
#[test]
fn replaying_the_stream_rebuilds_the_data() {
    let server = TestServer::start();
    let mut c = server.client();
    run(&mut c, &["DEBUG", "EFFECTS", "START"]);
    let mut members = vec!["SADD", "s"];
    let names: Vec<String> = (0..50).map(|i| format!("m{i}")).collect();
    members.extend(names.iter().map(String::as_str));
    run(&mut c, &members);
    run(&mut c, &["SPOP", "s", "7"]);
    run(&mut c, &["SELECT", "3"]);
    run(&mut c, &["HSET", "h", "a", "1"]);
    run(&mut c, &["HINCRBYFLOAT", "h", "a", "2.5"]);
    run(&mut c, &["SELECT", "0"]);
    run(&mut c, &["ZADD", "z", "3", "c", "1", "a", "2", "b"]);
    run(&mut c, &["BZPOPMIN", "z", "0"]);
    run(&mut c, &["RPUSH", "src", "1", "2", "3"]);
    run(&mut c, &["LMOVE", "src", "dst", "LEFT", "RIGHT"]);
    run(&mut c, &["SORT", "src", "DESC", "STORE", "sorted"]);
    let digest = run(&mut c, &["DEBUG", "DIGEST"]);
    let effects = captured(&mut c);

    let replica = TestServer::start();
    let mut raw = RawConn::connect(replica.port);
    for command in &effects {
        let args: Vec<&[u8]> = command.iter().map(|a| a.as_bytes()).collect();
        raw.send_cmd(&args);
        let reply = raw.read_reply();
        assert_ne!(reply.first(), Some(&b'-'), "{command:?}: {reply:?}");
    }
    let mut r = replica.client();
    assert_eq!(run(&mut r, &["DEBUG", "DIGEST"]), digest);
}

// ---------------------------------------------------------------------------------
// Streams (Redis 7.0 propagation, checked against redis-server's AOF by hand: see
// tests/stream.rs for the behaviour itself).
// ---------------------------------------------------------------------------------

/// The captured effects without SELECT and without the MULTI/EXEC that Redis wraps
/// around the several effects of one command.
fn stream_effects(conn: &mut redis::Connection) -> Vec<Vec<String>> {
    captured(conn)
        .into_iter()
        .filter(|c| !matches!(c[0].as_str(), "SELECT" | "MULTI" | "EXEC"))
        .collect()
}

fn try_run(conn: &mut redis::Connection, args: &[&str]) -> redis::RedisResult<Value> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(conn)
}

fn now_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.expect("clock after 1970").as_millis() as u64
}

fn text(value: &Value) -> String {
    match value {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("not a bulk string: {other:?}"),
    }
}

/// Checks the 14-argument XCLAIM that records a PEL entry's owner and delivery
/// (`XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID last`), and
/// returns its TIME.
fn claim_time(effect: &[String], who: [&str; 4], retry: u64, last: &str) -> u64 {
    let [key, group, consumer, id] = who;
    assert_eq!(effect.len(), 14, "{effect:?}");
    assert_eq!(
        effect[..5],
        strings(&["XCLAIM", key, group, consumer, "0"])[..]
    );
    assert_eq!(effect[5], id, "{effect:?}");
    assert_eq!(effect[6], "TIME", "{effect:?}");
    let retry = retry.to_string();
    let tail = strings(&["RETRYCOUNT", &retry, "FORCE", "JUSTID", "LASTID", last]);
    assert_eq!(effect[8..], tail[..], "{effect:?}");
    effect[7].parse().expect("TIME is milliseconds")
}

/// XADD records the ID it chose for `*` and `ms-*`; `~` trimming is recorded as the
/// exact trim that reproduces it (`=` and the resulting length, or the first entry's
/// ID for MINID, the largest ID when nothing is left); LIMIT is kept. XTRIM is
/// recorded the same way when it removed something; XDEL when it deleted something;
/// refused writes not at all.
#[test]
fn stream_writes_are_recorded_deterministically() {
    let server = TestServer::start();
    let mut c = server.client();
    for i in 1..=250 {
        run(
            &mut c,
            &["XADD", "big", &format!("{i}-0"), "f", &i.to_string()],
        );
    }
    run(&mut c, &["XADD", "b", "1-0", "f", "v"]);
    run(&mut c, &["XADD", "b", "2-0", "f", "v"]);
    run(&mut c, &["DEBUG", "EFFECTS", "START"]);
    let star = text(&run(&mut c, &["XADD", "a", "*", "f", "v"]));
    run(&mut c, &["XADD", "b", "5-*", "f", "v"]);
    run(&mut c, &["XADD", "b", "5-*", "g", "w"]);
    run(&mut c, &["XADD", "b", "MAXLEN", "~", "10", "6-0", "f", "v"]);
    let limit = [
        "XADD", "b", "MAXLEN", "~", "10", "LIMIT", "5", "7-0", "f", "v",
    ];
    run(&mut c, &limit);
    run(&mut c, &["XADD", "b", "MINID", "~", "1", "8-0", "f", "v"]);
    run(&mut c, &["XADD", "b", "MAXLEN", "=", "3", "9-0", "f", "v"]);
    run(
        &mut c,
        &["XADD", "big", "MAXLEN", "~", "120", "251-0", "f", "v"],
    );
    run(&mut c, &["XTRIM", "big", "MAXLEN", "5"]);
    run(&mut c, &["XTRIM", "big", "MAXLEN", "~", "100"]);
    run(&mut c, &["XDEL", "b", "1-0", "7-0"]);
    run(&mut c, &["XDEL", "b", "1-0"]);
    run(&mut c, &["XTRIM", "b", "MAXLEN", "10"]);
    run(&mut c, &["XADD", "d", "MINID", "~", "5", "1-0", "f", "v"]);
    let refused = ["XADD", "b", "1-0", "f", "v"];
    assert!(try_run(&mut c, &refused).is_err());
    let missing = run(&mut c, &["XADD", "nokey", "NOMKSTREAM", "1-0", "f", "v"]);
    assert_eq!(missing, Value::Nil);
    assert_eq!(
        stream_effects(&mut c),
        vec![
            strings(&["XADD", "a", &star, "f", "v"]),
            strings(&["XADD", "b", "5-0", "f", "v"]),
            strings(&["XADD", "b", "5-1", "g", "w"]),
            strings(&["XADD", "b", "MAXLEN", "=", "5", "6-0", "f", "v"]),
            strings(&["XADD", "b", "MAXLEN", "=", "6", "LIMIT", "5", "7-0", "f", "v",]),
            strings(&["XADD", "b", "MINID", "=", "1-0", "8-0", "f", "v"]),
            strings(&["XADD", "b", "MAXLEN", "=", "3", "9-0", "f", "v"]),
            // Nodes of 100 entries: the first goes, the second would leave 51 < 120.
            strings(&["XADD", "big", "MAXLEN", "=", "151", "251-0", "f", "v"]),
            strings(&["XTRIM", "big", "MAXLEN", "5"]),
            strings(&["XDEL", "b", "1-0", "7-0"]),
            // The new entry alone in its node is trimmed with it: nothing is left.
            strings(&[
                "XADD",
                "d",
                "MINID",
                "=",
                "18446744073709551615-18446744073709551615",
                "1-0",
                "f",
                "v",
            ]),
        ]
    );
}

/// XREADGROUP is recorded as one XCLAIM per entry it delivered (the group's last ID
/// after that entry as LASTID, the delivery time as TIME); NOACK as the consumer's
/// creation (when new) and an XGROUP SETID with entries-read; history reads and empty
/// reads not at all. A blocked reader that is served records the same after the write
/// that fed it.
#[test]
fn xreadgroup_is_recorded_as_claims() {
    let server = TestServer::start();
    let mut c = server.client();
    for id in ["1-0", "2-0", "3-0"] {
        run(&mut c, &["XADD", "s", id, "f", "v"]);
    }
    run(&mut c, &["XGROUP", "CREATE", "s", "g", "0"]);
    run(&mut c, &["DEBUG", "EFFECTS", "START"]);
    let before = now_ms();
    run(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "2",
            "STREAMS",
            "s",
            ">",
        ],
    );
    let after = now_ms();
    run(
        &mut c,
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"],
    );
    run(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "bob",
            "NOACK",
            "STREAMS",
            "s",
            ">",
        ],
    );
    run(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "bob",
            "NOACK",
            "STREAMS",
            "s",
            ">",
        ],
    );
    run(&mut c, &["XADD", "s", "4-0", "f", "v"]);
    run(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "bob",
            "NOACK",
            "STREAMS",
            "s",
            ">",
        ],
    );
    let effects = stream_effects(&mut c);
    assert_eq!(effects.len(), 6, "{effects:?}");
    let t1 = claim_time(&effects[0], ["s", "g", "alice", "1-0"], 1, "1-0");
    let t2 = claim_time(&effects[1], ["s", "g", "alice", "2-0"], 1, "2-0");
    assert!(
        (before..=after).contains(&t1),
        "TIME {t1} not in {before}..={after}"
    );
    assert_eq!(t1, t2, "one delivery time for one read");
    assert_eq!(
        effects[2..],
        [
            strings(&["XGROUP", "CREATECONSUMER", "s", "g", "bob"]),
            strings(&["XGROUP", "SETID", "s", "g", "3-0", "ENTRIESREAD", "3"]),
            strings(&["XADD", "s", "4-0", "f", "v"]),
            strings(&["XGROUP", "SETID", "s", "g", "4-0", "ENTRIESREAD", "4"]),
        ]
    );

    // Served while blocked: the XADD first, then the delivery.
    let mut waiter = RawConn::connect(server.port);
    waiter.send_cmd(&[
        b"XREADGROUP",
        b"GROUP",
        b"g",
        b"carol",
        b"BLOCK",
        b"0",
        b"STREAMS",
        b"s",
        b">",
    ]);
    let mut probe = RawConn::connect(server.port);
    let blocked = common::wait_for(std::time::Duration::from_secs(10), || {
        let info = probe.cmd(&["INFO", "clients"]);
        String::from_utf8_lossy(&info).contains("blocked_clients:1\r\n")
    });
    assert!(blocked, "the reader did not block");
    run(&mut c, &["DEBUG", "EFFECTS", "START"]);
    run(&mut c, &["XADD", "s", "5-0", "f", "v"]);
    let reply = waiter.read_reply();
    assert!(reply.starts_with(b"*1\r\n"), "{reply:?}");
    let effects = stream_effects(&mut c);
    assert_eq!(effects.len(), 2, "{effects:?}");
    assert_eq!(effects[0], strings(&["XADD", "s", "5-0", "f", "v"]));
    claim_time(&effects[1], ["s", "g", "carol", "5-0"], 1, "5-0");
}

/// XCLAIM and XAUTOCLAIM are recorded as the same 14-argument XCLAIM, with the new
/// owner, the delivery count and time they set, and the group's last ID; an entry
/// deleted from the stream is recorded with its old owner (the replica drops it); an
/// XCLAIM that only raised the last ID as XGROUP SETID. XACK, XSETID and the XGROUP
/// subcommands are recorded as sent when they changed something: an XACK that
/// acknowledged nothing, a CREATECONSUMER of an existing consumer, a DELCONSUMER of a
/// missing one or a DESTROY of a missing group is not.
#[test]
fn claims_acks_and_group_commands_are_recorded() {
    let server = TestServer::start();
    let mut c = server.client();
    for id in ["1-0", "2-0", "3-0"] {
        run(&mut c, &["XADD", "s", id, "f", "v"]);
    }
    run(&mut c, &["XGROUP", "CREATE", "s", "g", "0"]);
    run(
        &mut c,
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">"],
    );
    run(&mut c, &["DEBUG", "EFFECTS", "START"]);
    let before = now_ms();
    run(&mut c, &["XCLAIM", "s", "g", "carol", "0", "1-0"]);
    run(
        &mut c,
        &[
            "XCLAIM",
            "s",
            "g",
            "carol",
            "0",
            "2-0",
            "JUSTID",
            "RETRYCOUNT",
            "5",
        ],
    );
    run(
        &mut c,
        &[
            "XCLAIM", "s", "g", "carol", "0", "3-0", "TIME", "1", "JUSTID",
        ],
    );
    run(
        &mut c,
        &["XCLAIM", "s", "g", "carol", "0", "9-0", "LASTID", "50-0"],
    );
    run(&mut c, &["XDEL", "s", "1-0"]);
    run(
        &mut c,
        &["XAUTOCLAIM", "s", "g", "dave", "0", "0", "COUNT", "2"],
    );
    let after = now_ms();
    run(&mut c, &["XACK", "s", "g", "2-0", "7-0"]);
    run(&mut c, &["XACK", "s", "g", "2-0"]);
    run(&mut c, &["XSETID", "s", "60-0", "ENTRIESADDED", "10"]);
    run(&mut c, &["XGROUP", "CREATECONSUMER", "s", "g", "erin"]);
    run(&mut c, &["XGROUP", "CREATECONSUMER", "s", "g", "erin"]);
    run(&mut c, &["XGROUP", "DELCONSUMER", "s", "g", "erin"]);
    run(&mut c, &["XGROUP", "DELCONSUMER", "s", "g", "nobody"]);
    run(
        &mut c,
        &["XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "0"],
    );
    run(&mut c, &["XGROUP", "CREATE", "new", "h", "$", "MKSTREAM"]);
    run(&mut c, &["XGROUP", "DESTROY", "s", "g"]);
    run(&mut c, &["XGROUP", "DESTROY", "s", "g"]);
    let effects = stream_effects(&mut c);
    assert_eq!(effects.len(), 14, "{effects:?}");
    let in_window = |t: u64| (before..=after).contains(&t);
    let t = claim_time(&effects[0], ["s", "g", "carol", "1-0"], 2, "3-0");
    assert!(in_window(t));
    let t = claim_time(&effects[1], ["s", "g", "carol", "2-0"], 5, "3-0");
    assert!(in_window(t));
    assert_eq!(
        claim_time(&effects[2], ["s", "g", "carol", "3-0"], 1, "3-0"),
        1
    );
    assert_eq!(
        effects[3],
        strings(&["XGROUP", "SETID", "s", "g", "50-0", "ENTRIESREAD", "3"])
    );
    assert_eq!(effects[4], strings(&["XDEL", "s", "1-0"]));
    // XAUTOCLAIM: the deleted 1-0 leaves carol's PEL, 2-0 moves to dave.
    claim_time(&effects[5], ["s", "g", "carol", "1-0"], 2, "50-0");
    let t = claim_time(&effects[6], ["s", "g", "dave", "2-0"], 6, "50-0");
    assert!(in_window(t));
    assert_eq!(
        effects[7..],
        [
            strings(&["XACK", "s", "g", "2-0", "7-0"]),
            strings(&["XSETID", "s", "60-0", "ENTRIESADDED", "10"]),
            strings(&["XGROUP", "CREATECONSUMER", "s", "g", "erin"]),
            strings(&["XGROUP", "DELCONSUMER", "s", "g", "erin"]),
            strings(&["XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "0"]),
            strings(&["XGROUP", "CREATE", "new", "h", "$", "MKSTREAM"]),
            strings(&["XGROUP", "DESTROY", "s", "g"]),
        ]
    );
}

/// Reads record nothing: XREAD, XRANGE, XREVRANGE, XLEN, XPENDING, XINFO, and
/// XREADGROUP or XCLAIM calls that delivered or claimed nothing.
#[test]
fn stream_reads_record_nothing() {
    let server = TestServer::start();
    let mut c = server.client();
    run(&mut c, &["XADD", "s", "1-0", "f", "v"]);
    run(&mut c, &["XGROUP", "CREATE", "s", "g", "$"]);
    run(&mut c, &["DEBUG", "EFFECTS", "START"]);
    run(&mut c, &["XREAD", "STREAMS", "s", "0"]);
    run(&mut c, &["XREAD", "BLOCK", "10", "STREAMS", "s", "$"]);
    run(&mut c, &["XRANGE", "s", "-", "+"]);
    run(&mut c, &["XREVRANGE", "s", "+", "-"]);
    run(&mut c, &["XLEN", "s"]);
    run(&mut c, &["XPENDING", "s", "g"]);
    run(&mut c, &["XPENDING", "s", "g", "-", "+", "10"]);
    run(&mut c, &["XINFO", "STREAM", "s", "FULL"]);
    run(&mut c, &["XINFO", "GROUPS", "s"]);
    run(
        &mut c,
        &["XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", ">"],
    );
    run(&mut c, &["XCLAIM", "s", "g", "a", "0", "1-0"]);
    run(&mut c, &["XAUTOCLAIM", "s", "g", "a", "0", "0"]);
    run(&mut c, &["XACK", "s", "g", "1-0"]);
    assert_eq!(stream_effects(&mut c), Vec::<Vec<String>>::new());
}

/// Replaying the captured stream effects on a fresh server rebuilds the streams: the
/// same entries and stream metadata, the same groups' last IDs, PELs (owner, delivery
/// count and time) and consumers.
#[test]
fn replaying_stream_effects_rebuilds_the_streams() {
    let server = TestServer::start();
    let mut c = server.client();
    run(&mut c, &["DEBUG", "EFFECTS", "START"]);
    run(&mut c, &["XADD", "s", "*", "f", "v"]);
    for _ in 0..5 {
        run(&mut c, &["XADD", "s", "MAXLEN", "~", "100", "*", "n", "1"]);
    }
    run(&mut c, &["XGROUP", "CREATE", "s", "g", "0"]);
    run(&mut c, &["XGROUP", "CREATE", "s", "h", "$"]);
    run(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "a",
            "COUNT",
            "3",
            "STREAMS",
            "s",
            ">",
        ],
    );
    run(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "b",
            "NOACK",
            "STREAMS",
            "s",
            ">",
        ],
    );
    run(&mut c, &["XADD", "s", "*", "late", "1"]);
    run(
        &mut c,
        &["XREADGROUP", "GROUP", "h", "c", "STREAMS", "s", ">"],
    );
    let pending = run(&mut c, &["XPENDING", "s", "g", "-", "+", "10"]);
    let Value::Array(rows) = pending else {
        panic!("XPENDING gave {pending:?}");
    };
    let Value::Array(row) = &rows[1] else {
        panic!("not a row: {:?}", rows[1]);
    };
    let second = text(&row[0]);
    run(
        &mut c,
        &["XCLAIM", "s", "g", "b", "0", &second, "IDLE", "5000"],
    );
    run(&mut c, &["XDEL", "s", &second]);
    run(
        &mut c,
        &["XAUTOCLAIM", "s", "g", "d", "0", "0", "COUNT", "1"],
    );
    run(&mut c, &["XTRIM", "s", "MAXLEN", "4"]);
    let effects = captured(&mut c);

    let replica = TestServer::start();
    let mut raw = RawConn::connect(replica.port);
    for command in &effects {
        let args: Vec<&[u8]> = command.iter().map(|a| a.as_bytes()).collect();
        raw.send_cmd(&args);
        let reply = raw.read_reply();
        assert_ne!(reply.first(), Some(&b'-'), "{command:?}: {reply:?}");
    }
    let mut r = replica.client();
    for query in [
        &["XRANGE", "s", "-", "+"][..],
        &["XINFO", "STREAM", "s"],
        &["XPENDING", "s", "g"],
        &["XPENDING", "s", "h"],
    ] {
        assert_eq!(run(&mut r, query), run(&mut c, query), "{query:?}");
    }
    // The PELs: IDs, owners and delivery counts; delivery times through FULL.
    let full = |conn: &mut redis::Connection| {
        let Value::Array(info) = run(conn, &["XINFO", "STREAM", "s", "FULL"]) else {
            panic!("not an array");
        };
        let groups = info
            .chunks(2)
            .find(|p| p[0] == Value::BulkString(b"groups".to_vec()))
            .map(|p| p[1].clone())
            .expect("groups");
        let Value::Array(groups) = groups else {
            panic!("groups not an array");
        };
        groups
            .iter()
            .map(|g| {
                let Value::Array(fields) = g else {
                    panic!("group not an array");
                };
                let get = |name: &str| {
                    fields
                        .chunks(2)
                        .find(|p| p[0] == Value::BulkString(name.as_bytes().to_vec()))
                        .map(|p| p[1].clone())
                        .expect(name)
                };
                // Consumers' seen-times are the replica's own: only their names count.
                let Value::Array(consumers) = get("consumers") else {
                    panic!("consumers not an array");
                };
                let names: Vec<Value> = consumers
                    .iter()
                    .map(|c| match c {
                        Value::Array(f) => f[1].clone(),
                        other => panic!("consumer {other:?}"),
                    })
                    .collect();
                (get("name"), get("last-delivered-id"), get("pending"), names)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(full(&mut r), full(&mut c));
}
