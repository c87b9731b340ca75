//! DUMP and RESTORE against redis-server: payloads move both ways for every type and
//! encoding (compared by DEBUG DIGEST-VALUE and OBJECT ENCODING), RESTORE's options and
//! errors match, and corrupt payloads are refused without harm.

mod common;

use common::TestServer;
use redis::Value;

fn run(conn: &mut redis::Connection, args: &[&[u8]]) -> redis::RedisResult<Value> {
    let mut cmd = redis::cmd(std::str::from_utf8(args[0]).expect("name"));
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(conn)
}

fn ok(conn: &mut redis::Connection, args: &[&str]) -> Value {
    let bytes: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    run(conn, &bytes).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn bulk(value: Value) -> Vec<u8> {
    match value {
        Value::BulkString(b) => b,
        Value::SimpleString(s) => s.into_bytes(),
        other => panic!("not a string: {other:?}"),
    }
}

/// The same data set, covering every type and encoding, written to a server.
fn fill(conn: &mut redis::Connection) {
    let big: Vec<String> = (0..5000).map(|i| format!("v{i}")).collect();
    let mut commands: Vec<Vec<String>> = vec![
        vec!["SET".into(), "str:embstr".into(), "hello".into()],
        vec!["SET".into(), "str:int".into(), "12345".into()],
        vec![
            "SET".into(),
            "str:bigint".into(),
            "-9223372036854775808".into(),
        ],
        vec!["SET".into(), "str:raw".into(), "x".repeat(300)],
        vec!["SET".into(), "str:zeros".into(), "007".into()],
        vec!["SET".into(), "str:empty".into(), "".into()],
        vec![
            "SADD".into(),
            "set:intset16".into(),
            "1".into(),
            "-2".into(),
            "300".into(),
        ],
        vec![
            "SADD".into(),
            "set:intset64".into(),
            "1".into(),
            "5000000000".into(),
        ],
        vec![
            "SADD".into(),
            "set:hashtable".into(),
            "a".into(),
            "b".into(),
            "3".into(),
        ],
        vec![
            "HSET".into(),
            "hash:listpack".into(),
            "a".into(),
            "1".into(),
            "b".into(),
            "x".repeat(30),
        ],
        vec![
            "ZADD".into(),
            "zset:listpack".into(),
            "1".into(),
            "a".into(),
            "2.5".into(),
            "b".into(),
            "-inf".into(),
            "c".into(),
            "0.1".into(),
            "d".into(),
            "1e20".into(),
            "e".into(),
        ],
        vec![
            "XADD".into(),
            "stream".into(),
            "1-1".into(),
            "a".into(),
            "1".into(),
        ],
        vec![
            "XADD".into(),
            "stream".into(),
            "2-0".into(),
            "a".into(),
            "2".into(),
            "b".into(),
            "3".into(),
        ],
        vec![
            "XGROUP".into(),
            "CREATE".into(),
            "stream".into(),
            "g".into(),
            "0".into(),
        ],
        vec![
            "XREADGROUP".into(),
            "GROUP".into(),
            "g".into(),
            "alice".into(),
            "COUNT".into(),
            "1".into(),
            "STREAMS".into(),
            "stream".into(),
            ">".into(),
        ],
        vec![
            "XGROUP".into(),
            "CREATECONSUMER".into(),
            "stream".into(),
            "g".into(),
            "bob".into(),
        ],
        vec!["XDEL".into(), "stream".into(), "2-0".into()],
        vec![
            "XADD".into(),
            "stream:empty".into(),
            "MAXLEN".into(),
            "0".into(),
            "5-0".into(),
            "f".into(),
            "v".into(),
        ],
    ];
    let mut list = vec!["RPUSH".to_string(), "list:small".into()];
    list.extend((0..10).map(|i| i.to_string()));
    list.push("x".repeat(300));
    commands.push(list);
    let mut list = vec!["RPUSH".to_string(), "list:big".into()];
    list.extend(big.iter().cloned());
    commands.push(list);
    let mut set = vec!["SADD".to_string(), "set:bigintset".into()];
    set.extend((0..1000).map(|i| i.to_string()));
    commands.push(set);
    let mut hash = vec!["HSET".to_string(), "hash:hashtable".into()];
    for i in 0..1000 {
        hash.push(format!("f{i}"));
        hash.push(format!("v{i}"));
    }
    commands.push(hash);
    let mut zset = vec!["ZADD".to_string(), "zset:skiplist".into()];
    for i in 0..300 {
        zset.push(format!("{}", i as f64 / 3.0));
        zset.push(format!("m{i}"));
    }
    commands.push(zset);
    let mut stream = vec!["XADD".to_string(), "stream:big".into()];
    stream.push("1-0".into());
    stream.extend(["f".into(), "0".into()]);
    commands.push(stream);
    for i in 2..=250 {
        commands.push(vec![
            "XADD".into(),
            "stream:big".into(),
            format!("{i}-0"),
            "f".into(),
            i.to_string(),
        ]);
    }
    for c in commands {
        let args: Vec<&str> = c.iter().map(String::as_str).collect();
        ok(conn, &args);
    }
}

fn keys(conn: &mut redis::Connection) -> Vec<String> {
    let Value::Array(items) = ok(conn, &["KEYS", "*"]) else {
        panic!("KEYS");
    };
    let mut out: Vec<String> = items
        .into_iter()
        .map(|k| String::from_utf8(bulk(k)).expect("utf8"))
        .collect();
    out.sort();
    out
}

fn digest(conn: &mut redis::Connection, key: &str) -> Vec<u8> {
    match ok(conn, &["DEBUG", "DIGEST-VALUE", key]) {
        Value::Array(mut items) if items.len() == 1 => bulk(items.remove(0)),
        other => bulk(other),
    }
}

fn encoding(conn: &mut redis::Connection, key: &str) -> Vec<u8> {
    bulk(ok(conn, &["OBJECT", "ENCODING", key]))
}

/// Moves every key from `from` to `to` through DUMP/RESTORE and compares.
fn transfer(from: &mut redis::Connection, to: &mut redis::Connection) -> usize {
    let mut moved = 0;
    for key in keys(from).into_iter().filter(|k| !k.ends_with(":copy")) {
        let payload = bulk(ok(from, &["DUMP", &key]));
        let copy = format!("{key}:copy");
        let restored = run(
            to,
            &[b"RESTORE", copy.as_bytes(), b"0", &payload, b"REPLACE"],
        );
        assert!(restored.is_ok(), "{key}: {restored:?}");
        assert_eq!(digest(from, &key), digest(to, &copy), "{key}");
        assert_eq!(encoding(from, &key), encoding(to, &copy), "{key}");
        moved += 1;
    }
    moved
}

#[test]
fn payloads_move_both_ways_with_redis() {
    let Some(redis_server) = TestServer::start_redis() else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    let lodestone = TestServer::start();
    let mut r = redis_server.client();
    let mut l = lodestone.client();
    fill(&mut r);
    fill(&mut l);
    // XINFO STREAM FULL of the restored streams matches too (groups, PEL, consumers).
    let from_redis = transfer(&mut r, &mut l);
    let from_lodestone = transfer(&mut l, &mut r);
    assert_eq!(from_redis, from_lodestone);
    assert_eq!(from_redis, 19);
    // A stream restored on the other server reports the same XINFO STREAM FULL as its
    // original (entries, groups, PEL with delivery times and counts, consumers).
    let full = |c: &mut redis::Connection, key: &str| {
        format!("{:?}", ok(c, &["XINFO", "STREAM", key, "FULL"]))
    };
    assert_eq!(full(&mut r, "stream"), full(&mut l, "stream:copy"));
    assert_eq!(full(&mut l, "stream"), full(&mut r, "stream:copy"));
}

#[test]
fn restore_options_and_errors_match_redis() {
    let lodestone = TestServer::start();
    let mut l = lodestone.client();
    ok(&mut l, &["SET", "k", "v"]);
    let payload = bulk(ok(&mut l, &["DUMP", "k"]));
    let restore = |c: &mut redis::Connection, extra: &[&[u8]]| {
        let mut args: Vec<&[u8]> = vec![b"RESTORE", b"k2", b"0", &payload];
        args.extend_from_slice(extra);
        run(c, &args)
    };
    assert!(restore(&mut l, &[]).is_ok());
    let busy = restore(&mut l, &[]).expect_err("busy");
    assert_eq!(busy.code(), Some("BUSYKEY"));
    assert_eq!(busy.detail(), Some("Target key name already exists."));
    assert!(restore(&mut l, &[b"REPLACE", b"IDLETIME", b"100"]).is_ok());
    let idle = ok(&mut l, &["OBJECT", "IDLETIME", "k2"]);
    assert!(
        matches!(idle, Value::Int(n) if (100..110).contains(&n)),
        "{idle:?}"
    );
    let err = restore(&mut l, &[b"REPLACE", b"IDLETIME", b"-1"]).expect_err("idle");
    assert_eq!(err.detail(), Some("Invalid IDLETIME value, must be >= 0"));
    let err = restore(&mut l, &[b"REPLACE", b"FREQ", b"256"]).expect_err("freq");
    assert_eq!(
        err.detail(),
        Some("Invalid FREQ value, must be >= 0 and <= 255")
    );
    let err = restore(&mut l, &[b"REPLACE", b"BOGUS"]).expect_err("syntax");
    assert_eq!(err.detail(), Some("syntax error"));
    // TTL: relative, absolute, already expired.
    let r = run(&mut l, &[b"RESTORE", b"t1", b"10000", &payload]);
    assert!(r.is_ok());
    let pttl = ok(&mut l, &["PTTL", "t1"]);
    assert!(
        matches!(pttl, Value::Int(n) if n > 9000 && n <= 10000),
        "{pttl:?}"
    );
    let r = run(&mut l, &[b"RESTORE", b"t2", b"1", &payload, b"ABSTTL"]);
    assert!(r.is_ok());
    assert_eq!(ok(&mut l, &["EXISTS", "t2"]), Value::Int(0));
    let err = run(&mut l, &[b"RESTORE", b"t3", b"-1", &payload]).expect_err("ttl");
    assert_eq!(err.detail(), Some("Invalid TTL value, must be >= 0"));
    // A wrong checksum or version.
    let mut bad = payload.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let err = run(&mut l, &[b"RESTORE", b"t4", b"0", &bad]).expect_err("crc");
    assert_eq!(
        err.detail(),
        Some("DUMP payload version or checksum are wrong")
    );
    let err = run(&mut l, &[b"RESTORE", b"t4", b"0", b"short"]).expect_err("short");
    assert_eq!(
        err.detail(),
        Some("DUMP payload version or checksum are wrong")
    );
    assert_eq!(ok(&mut l, &["DUMP", "missing"]), Value::Nil);
}

/// A payload with a valid footer around a corrupt body.
fn with_footer(body: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    out.extend_from_slice(&10u16.to_le_bytes());
    let crc = crc64_redis(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Redis's CRC-64 (Jones, reflected), computed here so the test forges valid footers.
fn crc64_redis(data: &[u8]) -> u64 {
    const POLY: u64 = 0x95ac_9329_ac4b_c9b5;
    let mut crc: u64 = 0;
    for &byte in data {
        crc ^= u64::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
        }
    }
    crc
}

#[test]
fn corrupt_payloads_are_refused_and_the_server_carries_on() {
    let lodestone = TestServer::start();
    let mut l = lodestone.client();
    fill(&mut l);
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut refused = 0;
    for key in keys(&mut l) {
        let payload = bulk(ok(&mut l, &["DUMP", &key]));
        let body = &payload[..payload.len() - 10];
        for _ in 0..40 {
            let mut mutated = body.to_vec();
            match next() % 3 {
                0 => mutated.truncate((next() as usize) % body.len().max(1)),
                1 => {
                    let i = (next() as usize) % mutated.len().max(1);
                    if let Some(b) = mutated.get_mut(i) {
                        *b ^= 1 << (next() % 8);
                    }
                }
                _ => {
                    let i = (next() as usize) % mutated.len().max(1);
                    if let Some(b) = mutated.get_mut(i) {
                        *b = next() as u8;
                    }
                }
            }
            let forged = with_footer(&mutated);
            match run(&mut l, &[b"RESTORE", b"fuzz", b"0", &forged, b"REPLACE"]) {
                Ok(_) => {}
                Err(e) => {
                    assert_eq!(e.detail(), Some("Bad data format"), "{key}: {e:?}");
                    refused += 1;
                }
            }
        }
    }
    assert!(refused > 100, "only {refused} refused");
    assert_eq!(ok(&mut l, &["PING"]), Value::SimpleString("PONG".into()));
    assert!(keys(&mut l).len() >= 19);
}

/// With `rdbcompression yes` (the default) DUMP payloads carry LZF strings: they
/// RESTORE in redis-server with equal digests and encodings (and Redis's in ours), are
/// about the size of Redis's payloads, and much smaller than with compression off.
/// FUNCTION DUMP compresses the library code the same way.
#[test]
fn compressed_payloads_move_both_ways_with_redis() {
    use common::procs::{compressible_library, fill_compressible, COMPRESSIBLE_KEYS};
    let Some(redis_server) = TestServer::start_redis() else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    let lodestone = TestServer::start();
    let mut r = redis_server.client();
    let mut l = lodestone.client();
    fill_compressible(&mut r);
    fill_compressible(&mut l);
    assert_eq!(transfer(&mut l, &mut r), COMPRESSIBLE_KEYS.len());
    assert_eq!(transfer(&mut r, &mut l), COMPRESSIBLE_KEYS.len());
    let (mut ours_total, mut theirs_total, mut plain_total) = (0, 0, 0);
    let mut ours_sizes = Vec::new();
    for key in COMPRESSIBLE_KEYS {
        let ours = bulk(ok(&mut l, &["DUMP", key])).len();
        ours_sizes.push(ours);
        ours_total += ours;
        theirs_total += bulk(ok(&mut r, &["DUMP", key])).len();
    }
    ok(&mut l, &["CONFIG", "SET", "rdbcompression", "no"]);
    for (key, ours) in COMPRESSIBLE_KEYS.iter().zip(&ours_sizes) {
        let plain = bulk(ok(&mut l, &["DUMP", key])).len();
        plain_total += plain;
        assert!(plain >= *ours, "{key}: {plain} vs {ours}");
        // All but a 20-byte string, an integer and an intset of spread-out members
        // shrink.
        if !["z:str:20", "z:str:int", "z:set:intset"].contains(key) {
            assert!(plain > *ours, "{key}: {plain} vs {ours}");
        }
    }
    eprintln!("DUMP sizes: ours {ours_total}, redis {theirs_total}, uncompressed {plain_total}");
    assert!(
        ours_total * 10 <= theirs_total * 11 && ours_total * 10 >= theirs_total * 8,
        "ours {ours_total} vs redis {theirs_total}"
    );
    assert!(plain_total > ours_total * 3);
    ok(&mut l, &["CONFIG", "SET", "rdbcompression", "yes"]);

    // FUNCTION DUMP: compressed code restores in redis-server, and Redis's in ours.
    let ours = bulk(ok(&mut l, &["FUNCTION", "DUMP"]));
    let theirs = bulk(ok(&mut r, &["FUNCTION", "DUMP"]));
    assert!(
        ours.len() < compressible_library().len() / 2,
        "{}",
        ours.len()
    );
    for (payload, conn) in [(&ours, &mut r), (&theirs, &mut l)] {
        ok(conn, &["FUNCTION", "FLUSH"]);
        let restored = run(conn, &[b"FUNCTION", b"RESTORE", payload]);
        assert!(matches!(restored, Ok(Value::Okay)), "{restored:?}");
        assert_eq!(ok(conn, &["FCALL", "zf", "0"]), Value::Int(9));
    }
}
