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
