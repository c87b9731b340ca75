//! Expiry over TCP: EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT with NX/XX/GT/LT and their exact
//! errors, TTL/PTTL/EXPIRETIME/PEXPIRETIME, PERSIST, lazy expiry (an expired key is never
//! observable) and active expiry (unread keys go away). Waiting is always a bounded poll.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{wait_for, RawConn, TestServer};

/// Sends a command and returns its integer reply.
fn int(raw: &mut RawConn, args: &[&str]) -> i64 {
    let reply = raw.cmd(args);
    let text = String::from_utf8_lossy(&reply);
    text.strip_prefix(':')
        .and_then(|t| t.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("{args:?} gave {text:?}, not an integer"))
}

/// The wall clock in Unix milliseconds (the server runs on the same machine).
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// Polls the clock until `deadline_ms` has passed (plus a margin for clock granularity).
fn wait_past(deadline_ms: i64) {
    assert!(wait_for(Duration::from_secs(5), || now_ms() > deadline_ms + 2));
}

/// NX, XX, GT and LT decide from the current TTL; no TTL counts as infinite.
#[test]
fn expire_conditions() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.cmd(&["SET", "k", "v"]);
    assert_eq!(int(&mut raw, &["EXPIRE", "k", "100", "XX"]), 0);
    assert_eq!(int(&mut raw, &["EXPIRE", "k", "100", "GT"]), 0);
    assert_eq!(int(&mut raw, &["TTL", "k"]), -1);
    assert_eq!(int(&mut raw, &["EXPIRE", "k", "100", "LT"]), 1);
    assert_eq!(int(&mut raw, &["EXPIRE", "k", "200", "NX"]), 0);
    assert_eq!(int(&mut raw, &["EXPIRE", "k", "200", "XX"]), 1);
    assert_eq!(int(&mut raw, &["EXPIRE", "k", "150", "GT"]), 0);
    assert_eq!(int(&mut raw, &["EXPIRE", "k", "300", "gt"]), 1);
    assert_eq!(int(&mut raw, &["EXPIRE", "k", "400", "LT"]), 0);
    assert_eq!(int(&mut raw, &["EXPIRE", "k", "50", "lt", "xx"]), 1);
    assert_eq!(int(&mut raw, &["TTL", "k"]), 50);
    assert_eq!(int(&mut raw, &["PERSIST", "k"]), 1);
    assert_eq!(int(&mut raw, &["EXPIRE", "k", "100", "NX"]), 1);
    assert_eq!(int(&mut raw, &["EXPIRE", "missing", "100"]), 0);
    assert_eq!(int(&mut raw, &["EXPIRE", "missing", "100", "LT"]), 0);
}

/// Option conflicts, unknown options, non-integers and overflow give Redis's errors, each
/// naming its own command, and options are checked before the number.
#[test]
fn expire_errors_are_exact() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.cmd(&["SET", "k", "v"]);
    let nx = b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n";
    for opts in [["NX", "XX"], ["gt", "nx"], ["NX", "LT"]] {
        assert_eq!(raw.cmd(&["EXPIRE", "k", "1", opts[0], opts[1]]), nx);
    }
    assert_eq!(
        raw.cmd(&["PEXPIRE", "k", "1", "GT", "LT"]),
        b"-ERR GT and LT options at the same time are not compatible\r\n"
    );
    assert_eq!(
        raw.cmd(&["EXPIRE", "k", "x", "BOGUS"]),
        b"-ERR Unsupported option BOGUS\r\n"
    );
    assert_eq!(
        raw.cmd(&["EXPIRE", "k", "1.5"]),
        b"-ERR value is not an integer or out of range\r\n"
    );
    let max = "9223372036854775807";
    assert_eq!(
        raw.cmd(&["EXPIRE", "k", max]),
        b"-ERR invalid expire time in 'expire' command\r\n"
    );
    assert_eq!(
        raw.cmd(&["EXPIRE", "k", "-9223372036854775808"]),
        b"-ERR invalid expire time in 'expire' command\r\n"
    );
    assert_eq!(
        raw.cmd(&["PEXPIRE", "k", max]),
        b"-ERR invalid expire time in 'pexpire' command\r\n"
    );
    assert_eq!(
        raw.cmd(&["EXPIREAT", "k", "9223372036854776"]),
        b"-ERR invalid expire time in 'expireat' command\r\n"
    );
    assert_eq!(int(&mut raw, &["EXPIREAT", "k", "9223372036854775"]), 1);
    assert_eq!(int(&mut raw, &["PEXPIREAT", "k", max]), 1);
    assert_eq!(int(&mut raw, &["PEXPIRETIME", "k"]), i64::MAX);
    assert_eq!(int(&mut raw, &["EXPIRETIME", "k"]), 9223372036854776);
    assert_eq!(int(&mut raw, &["EXISTS", "k"]), 1);
}

/// TTL and friends: -2 for a missing key, -1 without TTL, rounded seconds, absolute
/// deadlines as given.
#[test]
fn ttl_family() {
    let server = TestServer::start();
    let mut raw = server.raw();
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(int(&mut raw, &[cmd, "missing"]), -2);
    }
    raw.cmd(&["SET", "k", "v"]);
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(int(&mut raw, &[cmd, "k"]), -1);
    }
    raw.cmd(&["PEXPIRE", "k", "2400"]);
    assert_eq!(int(&mut raw, &["TTL", "k"]), 2, "2.4 s rounds to 2");
    let pttl = int(&mut raw, &["PTTL", "k"]);
    assert!(pttl > 1400 && pttl <= 2400, "{pttl}");
    raw.cmd(&["PEXPIRE", "k", "2600"]);
    let ttl = int(&mut raw, &["TTL", "k"]);
    assert!(
        ttl == 3 || ttl == 2,
        "2.6 s rounds to 3 unless a tenth passed: {ttl}"
    );
    raw.cmd(&["PEXPIREAT", "k", "4102444800499"]);
    assert_eq!(int(&mut raw, &["EXPIRETIME", "k"]), 4102444800);
    assert_eq!(int(&mut raw, &["PEXPIRETIME", "k"]), 4102444800499);
    raw.cmd(&["PEXPIREAT", "k", "4102444800500"]);
    assert_eq!(int(&mut raw, &["EXPIRETIME", "k"]), 4102444801);
    let before = now_ms() / 1000;
    raw.cmd(&["EXPIRE", "k", "1000"]);
    let at = int(&mut raw, &["EXPIRETIME", "k"]);
    assert!(at >= before + 1000 && at <= now_ms() / 1000 + 1001, "{at}");
}

/// A deadline in the past deletes the key at once and replies 1.
#[test]
fn past_deadline_deletes() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let cases: [&[&str]; 4] = [
        &["EXPIRE", "k", "-1"],
        &["PEXPIRE", "k", "0"],
        &["EXPIREAT", "k", "1"],
        &["PEXPIREAT", "k", "-5", "LT"],
    ];
    for args in cases {
        raw.cmd(&["SET", "k", "v"]);
        assert_eq!(int(&mut raw, args), 1, "{args:?}");
        assert_eq!(raw.cmd(&["GET", "k"]), b"$-1\r\n", "{args:?}");
        assert_eq!(int(&mut raw, &["DBSIZE"]), 0, "{args:?}");
    }
}

/// PERSIST removes a TTL (1) and otherwise does nothing (0).
#[test]
fn persist() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(int(&mut raw, &["PERSIST", "missing"]), 0);
    raw.cmd(&["SET", "k", "v"]);
    assert_eq!(int(&mut raw, &["PERSIST", "k"]), 0);
    raw.cmd(&["EXPIRE", "k", "100"]);
    assert_eq!(int(&mut raw, &["PERSIST", "k"]), 1);
    assert_eq!(int(&mut raw, &["TTL", "k"]), -1);
    assert_eq!(int(&mut raw, &["PERSIST", "k"]), 0);
}

/// Keys set to live 50 ms are invisible to every command once that time has passed, even
/// before active expiry (which runs once a second here) gets to them: each database
/// below is observed by one command only, so each faces keys not yet deleted.
#[test]
fn expired_keys_are_never_observable() {
    let server = TestServer::start_with(&["--hz", "1"]);
    let mut raw = server.raw();
    let observers = 8;
    let mut deadline = 0;
    for db in 0..observers {
        raw.cmd(&["SELECT", &db.to_string()]);
        for i in 0..20 {
            let key = format!("k{i}");
            raw.cmd(&["SET", &key, "v"]);
            assert_eq!(int(&mut raw, &["PEXPIRE", &key, "50"]), 1);
        }
        deadline = now_ms() + 50;
    }
    raw.cmd(&["SELECT", "9"]);
    raw.cmd(&["SET", "dst", "v"]);
    wait_past(deadline);
    let empty_scan = b"*2\r\n$1\r\n0\r\n*0\r\n";
    raw.cmd(&["SELECT", "0"]);
    assert_eq!(raw.cmd(&["KEYS", "*"]), b"*0\r\n");
    raw.cmd(&["SELECT", "1"]);
    assert_eq!(raw.cmd(&["SCAN", "0", "COUNT", "1000"]), empty_scan);
    raw.cmd(&["SELECT", "2"]);
    assert_eq!(raw.cmd(&["RANDOMKEY"]), b"$-1\r\n");
    raw.cmd(&["SELECT", "3"]);
    assert_eq!(int(&mut raw, &["EXISTS", "k0", "k1", "k2", "k3"]), 0);
    raw.cmd(&["SELECT", "4"]);
    for i in 0..20 {
        assert_eq!(raw.cmd(&["GET", &format!("k{i}")]), b"$-1\r\n");
    }
    raw.cmd(&["SELECT", "5"]);
    assert_eq!(int(&mut raw, &["TTL", "k0"]), -2);
    assert_eq!(raw.cmd(&["TYPE", "k1"]), b"+none\r\n");
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "k2"]), b"$-1\r\n");
    assert_eq!(int(&mut raw, &["TOUCH", "k3"]), 0);
    raw.cmd(&["SELECT", "6"]);
    assert_eq!(raw.cmd(&["RENAME", "k0", "x"]), b"-ERR no such key\r\n");
    assert_eq!(int(&mut raw, &["COPY", "k1", "x"]), 0);
    assert_eq!(int(&mut raw, &["MOVE", "k2", "9"]), 0);
    assert_eq!(int(&mut raw, &["EXPIRE", "k3", "100"]), 0);
    assert_eq!(int(&mut raw, &["PERSIST", "k4"]), 0);
    assert_eq!(int(&mut raw, &["DEL", "k5", "k6"]), 0);
    raw.cmd(&["SELECT", "7"]);
    raw.cmd(&["SET", "k0", "fresh"]);
    assert_eq!(
        int(&mut raw, &["TTL", "k0"]),
        -1,
        "a new value has no old TTL"
    );
    assert_eq!(raw.cmd(&["MOVE", "k0", "9"]), b":1\r\n");
    raw.cmd(&["SELECT", "9"]);
    assert_eq!(int(&mut raw, &["EXISTS", "dst", "k0"]), 2);
}

/// Active expiry deletes keys nobody reads: DBSIZE (which counts expired keys not yet
/// deleted, like Redis) drops to zero in every database.
#[test]
fn active_expiry_removes_unread_keys() {
    let server = TestServer::start();
    let mut con = server.client();
    for db in [0, 3] {
        let _: () = redis::cmd("SELECT")
            .arg(db)
            .query(&mut con)
            .expect("SELECT");
        let mut pipe = redis::pipe();
        for i in 0..500 {
            let key = format!("volatile:{i}");
            pipe.cmd("SET").arg(&key).arg("v").ignore();
            pipe.cmd("PEXPIRE").arg(&key).arg(100).ignore();
        }
        pipe.cmd("SET").arg("keeper").arg("v").ignore();
        let _: () = pipe.query(&mut con).expect("pipeline");
    }
    let mut raw = server.raw();
    for db in ["0", "3"] {
        raw.cmd(&["SELECT", db]);
        assert!(
            wait_for(Duration::from_secs(10), || int(&mut raw, &["DBSIZE"]) == 1),
            "db {db} still holds {} keys",
            int(&mut raw, &["DBSIZE"])
        );
        assert_eq!(raw.cmd(&["GET", "keeper"]), b"$1\r\nv\r\n");
    }
}
