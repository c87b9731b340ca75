//! The effect stream (what AOF and replicas will read), seen through DEBUG EFFECTS:
//! random and non-idempotent writes are recorded in a deterministic form, replays of
//! the captured stream rebuild the same data, and reads record nothing.

mod common;

use common::{RawConn, TestServer};
use redis::Value;

/// The captured effects as lists of strings.
fn captured(conn: &mut redis::Connection) -> Vec<Vec<String>> {
    captured_bytes(conn)
        .into_iter()
        .map(|c| {
            c.iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .collect()
}

/// The captured effects, byte for byte (DUMP payloads included).
fn captured_bytes(conn: &mut redis::Connection) -> Vec<Vec<Vec<u8>>> {
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
                    Value::BulkString(b) => b,
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

// ---------------------------------------------------------------------------------
// Expiry: relative times become absolute, expiry deletions are recorded, and a replay
// runs with expiry suspended. Each differential test runs the same commands on
// redis-server 7.0.15 with `appendonly yes` and compares our captured effects with its
// AOF, absolute times within a few seconds of each other (the clocks are read at
// slightly different moments); the expected forms are also spelt out, so the tests
// keep their meaning where redis-server is not installed.
// ---------------------------------------------------------------------------------

/// How far apart two servers' absolute times (ms) for one command may be.
const CLOCK_SLACK_MS: i64 = 5_000;

/// An argument that is an absolute Unix time in ms (13 digits, after 2001).
fn unix_ms(arg: &str) -> Option<i64> {
    arg.parse::<i64>().ok().filter(|&n| n > 1_000_000_000_000)
}

/// An expected argument: itself, or `~<ms>` for a time within the slack of `ms` (a
/// deadline the server computed from its own clock).
fn approx(ms: u64) -> String {
    format!("~{ms}")
}

fn arg_matches(actual: &str, expected: &str) -> bool {
    match expected
        .strip_prefix('~')
        .and_then(|ms| ms.parse::<i64>().ok())
    {
        Some(ms) => unix_ms(actual).is_some_and(|a| (a - ms).abs() <= CLOCK_SLACK_MS),
        None => actual == expected,
    }
}

fn effects_match(actual: &[Vec<String>], expected: &[Vec<String>]) -> bool {
    actual.len() == expected.len()
        && actual
            .iter()
            .zip(expected)
            .all(|(a, e)| a.len() == e.len() && a.iter().zip(e).all(|(x, y)| arg_matches(x, y)))
}

fn listing(effects: &[Vec<String>]) -> String {
    let lines: Vec<String> = effects.iter().map(|c| c.join(" ")).collect();
    lines.join("\n")
}

fn assert_effects(actual: &[Vec<String>], expected: &[Vec<String>], what: &str) {
    assert!(
        effects_match(actual, expected),
        "{what}:\n{}\n--- expected:\n{}",
        listing(actual),
        listing(expected)
    );
}

/// Redis's AOF compared with ours: times become `~<ms>`, so they match within the slack.
fn assert_same_as_redis(ours: &[Vec<String>], aof: &[Vec<String>]) {
    let loose: Vec<Vec<String>> = aof
        .iter()
        .map(|c| {
            c.iter()
                .map(|a| match unix_ms(a) {
                    Some(ms) => approx(ms as u64),
                    None => a.clone(),
                })
                .collect()
        })
        .collect();
    assert!(
        effects_match(ours, &loose),
        "our effects:\n{}\n--- redis-server's AOF:\n{}",
        listing(ours),
        listing(aof)
    );
}

/// The commands of redis-server's incremental AOF file, in order.
fn aof_commands(dir: &std::path::Path) -> Vec<Vec<String>> {
    let path = dir.join("appendonlydir").join("appendonly.aof.1.incr.aof");
    let bytes = std::fs::read(&path).expect("redis-server's AOF");
    let mut pos = 0;
    let line = |pos: &mut usize, tag: u8| -> usize {
        let end = *pos
            + bytes[*pos..]
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("CRLF");
        assert_eq!(bytes[*pos], tag, "AOF at {}", *pos);
        let n = std::str::from_utf8(&bytes[*pos + 1..end]).expect("ASCII");
        *pos = end + 2;
        n.parse().expect("a length")
    };
    let mut commands = Vec::new();
    while pos < bytes.len() {
        let argc = line(&mut pos, b'*');
        let mut args = Vec::with_capacity(argc);
        for _ in 0..argc {
            let len = line(&mut pos, b'$');
            args.push(String::from_utf8_lossy(&bytes[pos..pos + len]).into_owned());
            pos += len + 2;
        }
        commands.push(args);
    }
    commands
}

/// Lodestone capturing its effect stream beside redis-server writing its AOF (when
/// installed). Every command runs on both and must get the same reply. Active expiry
/// is off on both until a test turns it on: nothing expires behind its back.
struct AofPair {
    ours: redis::Connection,
    redis: Option<(TestServer, redis::Connection)>,
    _server: TestServer,
}

impl AofPair {
    fn start() -> AofPair {
        let server = TestServer::start();
        let ours = server.client();
        let aof = ["--appendonly", "yes", "--appendfsync", "always"];
        let redis = TestServer::start_redis_with(&aof).map(|r| {
            let conn = r.client();
            (r, conn)
        });
        let mut pair = AofPair {
            ours,
            redis,
            _server: server,
        };
        pair.run(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
        run(&mut pair.ours, &["DEBUG", "EFFECTS", "START"]);
        pair
    }

    fn run(&mut self, args: &[&str]) -> Value {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.run_bytes(&args)
    }

    fn run_bytes(&mut self, args: &[&[u8]]) -> Value {
        let query = |conn: &mut redis::Connection| {
            let mut cmd = redis::cmd(&String::from_utf8_lossy(args[0]));
            for a in &args[1..] {
                cmd.arg(*a);
            }
            cmd.query::<Value>(conn)
        };
        let ours = query(&mut self.ours);
        if let Some((_, conn)) = &mut self.redis {
            let theirs = query(conn);
            let shown: Vec<_> = args.iter().map(|a| String::from_utf8_lossy(a)).collect();
            assert_eq!(format!("{ours:?}"), format!("{theirs:?}"), "{shown:?}");
        }
        ours.expect("the command succeeds")
    }

    /// Polls both servers until `done` holds on each (bounded).
    fn wait_until(&mut self, mut done: impl FnMut(&mut redis::Connection) -> bool) {
        let timeout = std::time::Duration::from_secs(20);
        assert!(
            common::wait_for(timeout, || done(&mut self.ours)),
            "lodestone"
        );
        if let Some((_, conn)) = &mut self.redis {
            assert!(common::wait_for(timeout, || done(conn)), "redis-server");
        }
    }

    /// Checks our captured effects against `expected`, then against redis-server's AOF.
    fn check(&mut self, expected: &[Vec<String>]) {
        let ours = captured(&mut self.ours);
        assert_effects(&ours, expected, "our effects");
        if let Some((redis, _)) = &self.redis {
            assert_same_as_redis(&ours, &aof_commands(&redis.dir));
        }
    }

    /// The captured effects and redis-server's AOF (if any), for checks of their own.
    fn both_effects(&mut self) -> (Vec<Vec<String>>, Option<Vec<Vec<String>>>) {
        let ours = captured(&mut self.ours);
        let aof = self.redis.as_ref().map(|(r, _)| aof_commands(&r.dir));
        (ours, aof)
    }
}

/// Sleeps until keys given a TTL of `ttl_ms` just now have surely expired.
fn outlive(ttl_ms: u64) {
    std::thread::sleep(std::time::Duration::from_millis(ttl_ms + 100));
}

/// SET EX/PX/EXAT/PXAT (whatever else it had), SETEX and PSETEX are recorded as
/// `SET key value PXAT <ms>`; SET GET as the SET without GET (GETSET as SET, INCRBYFLOAT
/// as `SET key result KEEPTTL`); GETEX as the PEXPIREAT,
/// PERSIST or DEL it amounted to; EXPIRE, PEXPIRE and EXPIREAT as `PEXPIREAT key <ms>`
/// with their NX/XX/GT/LT as sent; a deadline already past as DEL (UNLINK under
/// `lazyfree-lazy-expire`); RESTORE with a relative TTL as ABSTTL. Nothing is recorded
/// where nothing changed. All as redis-server's AOF.
#[test]
fn relative_expiry_is_recorded_as_absolute_times() {
    let mut p = AofPair::start();
    let now = now_ms();
    let secs = now / 1000;
    let exat = (secs + 100).to_string();
    let pxat = (now + 150_000).to_string();
    let getex_exat = (secs + 400).to_string();
    let getex_pxat = (now + 450_000).to_string();
    let expireat = (secs + 500).to_string();
    let pexpireat = (now + 550_000).to_string();
    let nil = Value::Nil;
    let v = Value::BulkString(b"v".to_vec());

    p.run(&["SET", "k1", "v", "EX", "100"]);
    p.run(&["SET", "k2", "v", "PX", "100000", "NX"]);
    assert_eq!(p.run(&["SET", "k2", "w", "PX", "100000", "NX"]), nil);
    p.run(&["SET", "k3", "v", "EXAT", &exat]);
    assert_eq!(p.run(&["SET", "k4", "v", "PXAT", &pxat, "XX"]), nil);
    p.run(&["SET", "k4", "v"]);
    assert_eq!(p.run(&["SET", "k4", "w", "XX", "GET", "PXAT", &pxat]), v);
    p.run(&["SET", "k4", "x", "KEEPTTL", "GET"]);
    assert_eq!(p.run(&["SET", "k5", "v", "GET"]), nil);
    p.run(&["SETEX", "k6", "100", "v"]);
    p.run(&["PSETEX", "k7", "100000", "v"]);
    p.run(&["SETNX", "k8", "v"]);

    assert_eq!(p.run(&["GETEX", "k6", "EX", "200"]), v);
    p.run(&["GETEX", "k6", "PX", "300000"]);
    p.run(&["GETEX", "k6", "EXAT", &getex_exat]);
    p.run(&["GETEX", "k6", "PXAT", &getex_pxat]);
    p.run(&["GETEX", "k6", "PERSIST"]);
    p.run(&["GETEX", "k6", "PERSIST"]);
    p.run(&["GETEX", "k6"]);
    assert_eq!(p.run(&["GETEX", "nokey", "EX", "10"]), nil);
    assert_eq!(p.run(&["GETEX", "k7", "PXAT", "1000"]), v);

    let one = Value::Int(1);
    let zero = Value::Int(0);
    assert_eq!(p.run(&["EXPIRE", "k1", "100"]), one);
    assert_eq!(p.run(&["EXPIRE", "k1", "200", "NX"]), zero);
    assert_eq!(p.run(&["EXPIRE", "k5", "200", "XX"]), zero);
    assert_eq!(p.run(&["EXPIRE", "k1", "300", "XX"]), one);
    assert_eq!(p.run(&["EXPIRE", "k1", "50", "GT"]), zero);
    assert_eq!(p.run(&["EXPIRE", "k1", "400", "gt"]), one);
    assert_eq!(p.run(&["PEXPIRE", "k1", "100000", "LT"]), one);
    assert_eq!(p.run(&["EXPIREAT", "k1", &expireat]), one);
    assert_eq!(p.run(&["PEXPIREAT", "k1", &pexpireat]), one);
    assert_eq!(p.run(&["PEXPIREAT", "k1", &pexpireat, "NX"]), zero);
    assert_eq!(p.run(&["PERSIST", "k1"]), one);
    assert_eq!(p.run(&["PERSIST", "k1"]), zero);
    assert_eq!(p.run(&["EXPIRE", "nokey", "10"]), zero);
    assert_eq!(p.run(&["EXPIRE", "k1", "-1"]), one);
    assert_eq!(p.run(&["PEXPIREAT", "k2", "1"]), one);
    assert_eq!(p.run(&["EXPIREAT", "k3", "1", "NX"]), zero);
    // A past PXAT is stored as is (the key is there, expired, until someone meets it).
    p.run(&["SET", "k9", "v", "PXAT", "1000"]);
    p.run(&["SET", "float", "1.5", "EX", "100"]);
    p.run(&["INCRBYFLOAT", "float", "0.25"]);
    p.run(&["GETSET", "k10", "v"]);

    p.run(&["CONFIG", "SET", "lazyfree-lazy-expire", "yes"]);
    assert_eq!(p.run(&["EXPIRE", "k3", "0"]), one);
    p.run(&["GETEX", "k4", "EXAT", "1"]);
    p.run(&["CONFIG", "SET", "lazyfree-lazy-expire", "no"]);

    let Value::BulkString(payload) = p.run(&["DUMP", "k8"]) else {
        panic!("DUMP gave no payload");
    };
    p.run_bytes(&[b"RESTORE", b"r", b"100000", &payload]);
    p.run_bytes(&[b"RESTORE", b"r2", b"0", &payload]);
    p.run_bytes(&[b"RESTORE", b"r3", b"1", &payload, b"ABSTTL"]);
    let payload = String::from_utf8_lossy(&payload).into_owned();

    let after = |ms: u64| approx(now + ms);
    let exat_ms = format!("{exat}000");
    let getex_exat_ms = format!("{getex_exat}000");
    let expireat_ms = format!("{expireat}000");
    p.check(&[
        strings(&["SELECT", "0"]),
        strings(&["SET", "k1", "v", "PXAT", &after(100_000)]),
        strings(&["SET", "k2", "v", "PXAT", &after(100_000)]),
        strings(&["SET", "k3", "v", "PXAT", &exat_ms]),
        strings(&["SET", "k4", "v"]),
        strings(&["SET", "k4", "w", "PXAT", &pxat]),
        strings(&["SET", "k4", "x", "KEEPTTL"]),
        strings(&["SET", "k5", "v"]),
        strings(&["SET", "k6", "v", "PXAT", &after(100_000)]),
        strings(&["SET", "k7", "v", "PXAT", &after(100_000)]),
        strings(&["SETNX", "k8", "v"]),
        strings(&["PEXPIREAT", "k6", &after(200_000)]),
        strings(&["PEXPIREAT", "k6", &after(300_000)]),
        strings(&["PEXPIREAT", "k6", &getex_exat_ms]),
        strings(&["PEXPIREAT", "k6", &getex_pxat]),
        strings(&["PERSIST", "k6"]),
        strings(&["DEL", "k7"]),
        strings(&["PEXPIREAT", "k1", &after(100_000)]),
        strings(&["PEXPIREAT", "k1", &after(300_000), "XX"]),
        strings(&["PEXPIREAT", "k1", &after(400_000), "gt"]),
        strings(&["PEXPIREAT", "k1", &after(100_000), "LT"]),
        strings(&["PEXPIREAT", "k1", &expireat_ms]),
        strings(&["PEXPIREAT", "k1", &pexpireat]),
        strings(&["PERSIST", "k1"]),
        strings(&["DEL", "k1"]),
        strings(&["DEL", "k2"]),
        strings(&["SET", "k9", "v", "PXAT", "1000"]),
        strings(&["SET", "float", "1.5", "PXAT", &after(100_000)]),
        strings(&["SET", "float", "1.75", "KEEPTTL"]),
        strings(&["SET", "k10", "v"]),
        strings(&["UNLINK", "k3"]),
        strings(&["UNLINK", "k4"]),
        strings(&["RESTORE", "r", &after(100_000), &payload, "ABSTTL"]),
        strings(&["RESTORE", "r2", "0", &payload]),
    ]);
}

/// A key found expired is deleted with a DEL on the stream, in its database, before
/// the effect of the command that found it: alone for a read (GET, TTL, EXISTS, SCAN),
/// in one MULTI/EXEC with the write that followed (INCR, MSET, LPUSH: DEL then the
/// write). Inside a transaction or a script the DELs go inside its block, and a script's
/// `redis.set_repl(REPL_NONE)` does not hold them back. As redis-server's AOF.
#[test]
fn lazy_expiry_is_recorded_before_the_command() {
    let mut p = AofPair::start();
    for key in ["a", "c", "m", "e", "f", "g", "h", "s", "t"] {
        p.run(&["SET", key, "1", "PX", "50"]);
    }
    p.run(&["RPUSH", "l", "x"]);
    p.run(&["PEXPIRE", "l", "50"]);
    p.run(&["SELECT", "1"]);
    p.run(&["SET", "d", "1", "PX", "50"]);
    p.run(&["SELECT", "0"]);
    let set_at = now_ms();
    outlive(50);

    assert_eq!(p.run(&["GET", "a"]), Value::Nil);
    assert_eq!(p.run(&["GET", "a"]), Value::Nil);
    assert_eq!(p.run(&["TTL", "t"]), Value::Int(-2));
    assert_eq!(p.run(&["INCR", "c"]), Value::Int(1));
    p.run(&["MSET", "m", "2"]);
    p.run(&["LPUSH", "l", "y"]);
    p.run(&["SELECT", "1"]);
    assert_eq!(p.run(&["EXISTS", "d"]), Value::Int(0));
    p.run(&["SELECT", "0"]);
    p.run(&["MULTI"]);
    p.run(&["GET", "e"]);
    p.run(&["SET", "f", "2"]);
    p.run(&["EXEC"]);
    let script = "redis.call('get', KEYS[1]) return redis.call('incr', KEYS[2])";
    p.run(&["EVAL", script, "2", "g", "n"]);
    let unreplicated = "redis.set_repl(redis.REPL_NONE) return redis.call('get', KEYS[1])";
    p.run(&["EVAL", unreplicated, "1", "h"]);
    p.run(&["SCAN", "0", "MATCH", "s", "COUNT", "1000"]);

    let ttl = approx(set_at);
    let mut expected = vec![strings(&["SELECT", "0"])];
    for key in ["a", "c", "m", "e", "f", "g", "h", "s", "t"] {
        expected.push(strings(&["SET", key, "1", "PXAT", &ttl]));
    }
    expected.extend([
        strings(&["RPUSH", "l", "x"]),
        strings(&["PEXPIREAT", "l", &ttl]),
        strings(&["SELECT", "1"]),
        strings(&["SET", "d", "1", "PXAT", &ttl]),
        strings(&["SELECT", "0"]),
        strings(&["DEL", "a"]),
        strings(&["DEL", "t"]),
        strings(&["MULTI"]),
        strings(&["DEL", "c"]),
        strings(&["INCR", "c"]),
        strings(&["EXEC"]),
        strings(&["MULTI"]),
        strings(&["DEL", "m"]),
        strings(&["MSET", "m", "2"]),
        strings(&["EXEC"]),
        strings(&["MULTI"]),
        strings(&["DEL", "l"]),
        strings(&["LPUSH", "l", "y"]),
        strings(&["EXEC"]),
        strings(&["SELECT", "1"]),
        strings(&["DEL", "d"]),
        strings(&["SELECT", "0"]),
        strings(&["MULTI"]),
        strings(&["DEL", "e"]),
        strings(&["DEL", "f"]),
        strings(&["SET", "f", "2"]),
        strings(&["EXEC"]),
        strings(&["MULTI"]),
        strings(&["DEL", "g"]),
        strings(&["incr", "n"]),
        strings(&["EXEC"]),
        strings(&["DEL", "h"]),
        strings(&["DEL", "s"]),
    ]);
    p.check(&expected);
}

/// The effects with their database (SELECTs resolved): the writes in order, and the
/// deletions (DEL/UNLINK) sorted, since the active cycle picks keys at random.
fn writes_and_deletions(effects: &[Vec<String>]) -> (Vec<String>, Vec<String>) {
    let mut db = "?".to_string();
    let (mut writes, mut deletions) = (Vec::new(), Vec::new());
    for command in effects {
        if command[0] == "SELECT" {
            db = command[1].clone();
            continue;
        }
        let line = format!("{db}: {}", command.join(" "));
        match command[0].as_str() {
            "DEL" | "UNLINK" => deletions.push(line),
            _ => writes.push(line),
        }
    }
    deletions.sort();
    (writes, deletions)
}

fn dbsize_in(conn: &mut redis::Connection, db: &str) -> i64 {
    run(conn, &["SELECT", db]);
    match run(conn, &["DBSIZE"]) {
        Value::Int(n) => n,
        other => panic!("DBSIZE gave {other:?}"),
    }
}

/// The active expiry cycle records each key it deletes as `DEL key` in the key's
/// database (`UNLINK key` under `lazyfree-lazy-expire`), never wrapped in MULTI/EXEC,
/// as redis-server's AOF.
#[test]
fn active_expiry_is_recorded_as_deletions() {
    let mut p = AofPair::start();
    for i in 0..20 {
        p.run(&["SET", &format!("a{i}"), "v", "PX", "50"]);
    }
    p.run(&["SET", "keep", "v"]);
    p.run(&["SELECT", "2"]);
    for i in 0..5 {
        p.run(&["SET", &format!("b{i}"), "v", "PX", "50"]);
    }
    outlive(50);
    p.run(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    p.wait_until(|c| dbsize_in(c, "0") == 1 && dbsize_in(c, "2") == 0);

    p.run(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    p.run(&["CONFIG", "SET", "lazyfree-lazy-expire", "yes"]);
    p.run(&["SELECT", "0"]);
    for i in 0..5 {
        p.run(&["SET", &format!("c{i}"), "v", "PX", "50"]);
    }
    outlive(50);
    p.run(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    p.wait_until(|c| dbsize_in(c, "0") == 1);

    let (ours, aof) = p.both_effects();
    assert!(!ours.iter().any(|c| c[0] == "MULTI"), "{}", listing(&ours));
    let (writes, deletions) = writes_and_deletions(&ours);
    assert_eq!(writes.len(), 31, "{writes:?}");
    let mut expected: Vec<String> = (0..20).map(|i| format!("0: DEL a{i}")).collect();
    expected.extend((0..5).map(|i| format!("2: DEL b{i}")));
    expected.extend((0..5).map(|i| format!("0: UNLINK c{i}")));
    expected.sort();
    assert_eq!(deletions, expected);
    if let Some(aof) = aof {
        let (their_writes, their_deletions) = writes_and_deletions(&aof);
        assert_eq!(deletions, their_deletions, "redis-server's AOF");
        let as_effects = |lines: &[String]| -> Vec<Vec<String>> {
            lines
                .iter()
                .map(|l| strings(&l.split(' ').collect::<Vec<_>>()))
                .collect()
        };
        assert_same_as_redis(&as_effects(&writes), &as_effects(&their_writes));
    }
}

/// Sends captured effects to `conn` one by one; none may fail.
fn replay(conn: &mut RawConn, effects: &[Vec<Vec<u8>>]) {
    for command in effects {
        let args: Vec<&[u8]> = command.iter().map(Vec::as_slice).collect();
        conn.send_cmd(&args);
        let reply = conn.read_reply();
        let shown: Vec<_> = command.iter().map(|a| String::from_utf8_lossy(a)).collect();
        assert_ne!(reply.first(), Some(&b'-'), "{shown:?}: {reply:?}");
    }
}

fn has_del(effects: &[Vec<Vec<u8>>]) -> bool {
    effects.iter().any(|e| e[0] == b"DEL")
}

/// Effects replayed later, after some TTLs have passed, give every key the absolute
/// deadline it had (PEXPIRETIME), whatever relative form set it, and the keys whose
/// deadline passed are gone.
#[test]
fn replaying_later_keeps_the_absolute_deadlines() {
    let server = TestServer::start();
    let mut c = server.client();
    run(&mut c, &["DEBUG", "EFFECTS", "START"]);
    run(&mut c, &["SET", "short", "v", "PX", "200"]);
    run(&mut c, &["SET", "shortex", "v"]);
    run(&mut c, &["PEXPIRE", "shortex", "200"]);
    run(&mut c, &["SET", "set_ex", "v", "EX", "100"]);
    run(&mut c, &["SETEX", "setex", "100", "v"]);
    run(&mut c, &["PSETEX", "psetex", "100000", "v"]);
    run(&mut c, &["SET", "expire", "v"]);
    run(&mut c, &["EXPIRE", "expire", "100"]);
    run(&mut c, &["SET", "getex", "v"]);
    run(&mut c, &["GETEX", "getex", "PX", "100000"]);
    let Value::BulkString(payload) = run(&mut c, &["DUMP", "getex"]) else {
        panic!("DUMP gave no payload");
    };
    redis::cmd("RESTORE")
        .arg("restore")
        .arg("100000")
        .arg(payload)
        .query::<Value>(&mut c)
        .expect("RESTORE");
    let keys = ["set_ex", "setex", "psetex", "expire", "getex", "restore"];
    let deadlines: Vec<Value> = keys
        .iter()
        .map(|k| run(&mut c, &["PEXPIRETIME", k]))
        .collect();
    let effects = captured_bytes(&mut c);
    outlive(200);

    let later = TestServer::start();
    replay(&mut later.raw(), &effects);
    let mut r = later.client();
    for key in ["short", "shortex"] {
        assert_eq!(run(&mut r, &["EXISTS", key]), Value::Int(0), "{key}");
    }
    for (key, deadline) in keys.iter().zip(&deadlines) {
        assert_eq!(&run(&mut r, &["PEXPIRETIME", key]), deadline, "{key}");
    }
}

/// A replaying client (the AOF loader's; `DEBUG SET-REPLAYING 1` here) runs commands with
/// expiry suspended, as Redis does while loading: a key whose TTL passed while the
/// stream waited is still there for the commands that used it back then (INCR goes on
/// from its value and keeps its TTL, a past PEXPIREAT sets the TTL instead of deleting),
/// and records no DEL. Once replayed, such keys expire as usual.
#[test]
fn a_replaying_client_suspends_expiry() {
    let server = TestServer::start();
    let mut c = server.client();
    run(&mut c, &["DEBUG", "EFFECTS", "START"]);
    run(&mut c, &["SET", "counter", "5", "PX", "200"]);
    run(&mut c, &["INCR", "counter"]);
    run(&mut c, &["SET", "text", "v"]);
    run(&mut c, &["PEXPIRE", "text", "200"]);
    run(&mut c, &["APPEND", "text", "w"]);
    let deadline = run(&mut c, &["PEXPIRETIME", "counter"]);
    let effects = captured_bytes(&mut c);
    assert!(!has_del(&effects), "{}", listing(&captured(&mut c)));
    outlive(200);

    let later = TestServer::start();
    let mut raw = later.raw();
    assert_eq!(raw.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["DEBUG", "EFFECTS", "START"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["DEBUG", "SET-REPLAYING", "1"]), b"+OK\r\n");
    replay(&mut raw, &effects);
    assert_eq!(raw.cmd(&["GET", "counter"]), b"$1\r\n6\r\n");
    assert_eq!(raw.cmd(&["GET", "text"]), b"$2\r\nvw\r\n");
    let Value::Int(deadline) = deadline else {
        panic!("PEXPIRETIME gave {deadline:?}");
    };
    let pexpiretime = format!(":{deadline}\r\n").into_bytes();
    assert_eq!(raw.cmd(&["PEXPIRETIME", "counter"]), pexpiretime);
    // Nothing expired during the replay, so it recorded no DEL either.
    let mut r = later.client();
    assert!(
        !has_del(&captured_bytes(&mut r)),
        "{}",
        listing(&captured(&mut r))
    );
    assert_eq!(raw.cmd(&["DEBUG", "SET-REPLAYING", "0"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["GET", "counter"]), b"$-1\r\n");
    assert_eq!(raw.cmd(&["EXISTS", "text"]), b":0\r\n");
}
