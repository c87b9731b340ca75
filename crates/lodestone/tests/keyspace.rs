//! The keyspace family over TCP: DEL, UNLINK, EXISTS, TYPE, TOUCH, RENAME, RENAMENX,
//! COPY, MOVE, KEYS, SCAN, RANDOMKEY, DBSIZE, SWAPDB, FLUSHDB, FLUSHALL and OBJECT, with
//! exact error bytes, and a differential run against the real redis-server.

mod common;

use std::collections::HashSet;

use common::{RawConn, TestServer};

/// Sends a command and returns its integer reply.
fn int(raw: &mut RawConn, args: &[&str]) -> i64 {
    let reply = raw.cmd(args);
    let text = String::from_utf8_lossy(&reply);
    text.strip_prefix(':')
        .and_then(|t| t.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("{args:?} gave {text:?}, not an integer"))
}

/// Splits a flat RESP array of bulk strings into its elements.
fn bulks(reply: &[u8]) -> Vec<Vec<u8>> {
    let text = reply;
    let mut out = Vec::new();
    let mut i = text.iter().position(|&b| b == b'\n').expect("header") + 1;
    while i < text.len() {
        assert_eq!(
            text[i],
            b'$',
            "not a bulk: {:?}",
            String::from_utf8_lossy(reply)
        );
        let end = i + text[i..].iter().position(|&b| b == b'\r').expect("len");
        let len: usize = std::str::from_utf8(&text[i + 1..end])
            .expect("utf-8")
            .parse()
            .expect("len");
        let start = end + 2;
        out.push(text[start..start + len].to_vec());
        i = start + len + 2;
    }
    out
}

/// A bulk-string array reply with its elements sorted, so replies whose order is
/// unspecified (KEYS) can be compared byte for byte.
fn sorted_array(reply: &[u8]) -> Vec<u8> {
    if !reply.starts_with(b"*") || reply == b"*0\r\n" {
        return reply.to_vec();
    }
    let mut items = bulks(reply);
    items.sort();
    let mut out = format!("*{}\r\n", items.len()).into_bytes();
    for item in items {
        out.extend_from_slice(format!("${}\r\n", item.len()).as_bytes());
        out.extend_from_slice(&item);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Sets many keys in one pipeline round trip.
fn set_many(con: &mut redis::Connection, keys: impl IntoIterator<Item = String>) {
    let mut pipe = redis::pipe();
    for key in keys {
        pipe.cmd("SET").arg(key).arg("v").ignore();
    }
    let _: () = pipe.query(con).expect("pipelined SET");
}

/// DEL and UNLINK count each key once, EXISTS counts repeats, missing keys count zero.
#[test]
fn del_unlink_and_exists_count_keys() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.cmd(&["SET", "a", "1"]);
    raw.cmd(&["SET", "b", "2"]);
    raw.cmd(&["SET", "c", "3"]);
    assert_eq!(int(&mut raw, &["EXISTS", "a", "a", "b", "nope"]), 3);
    assert_eq!(int(&mut raw, &["DEL", "a", "a", "nope"]), 1);
    assert_eq!(int(&mut raw, &["EXISTS", "a"]), 0);
    assert_eq!(int(&mut raw, &["UNLINK", "b", "c", "b"]), 2);
    assert_eq!(int(&mut raw, &["DEL", "b"]), 0);
    assert_eq!(int(&mut raw, &["DBSIZE"]), 0);
    assert_eq!(
        raw.cmd(&["DEL"]),
        b"-ERR wrong number of arguments for 'del' command\r\n"
    );
}

/// UNLINK and DEL of a value big enough for the lazyfree thread remove it at once.
#[test]
fn unlink_frees_big_values_off_the_request_path() {
    let server = TestServer::start_with(&["--lazyfree-lazy-user-del", "yes"]);
    let mut raw = server.raw();
    let big = "x".repeat(8 << 20);
    for del in ["UNLINK", "DEL"] {
        assert_eq!(raw.cmd(&["SET", "big", &big]), b"+OK\r\n");
        assert_eq!(int(&mut raw, &[del, "big"]), 1);
        assert_eq!(raw.cmd(&["GET", "big"]), b"$-1\r\n");
    }
    assert_eq!(raw.cmd(&["PING"]), b"+PONG\r\n");
}

/// TYPE names the type, or `none`; TOUCH counts the keys that exist.
#[test]
fn type_and_touch() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.cmd(&["SET", "s", "v"]);
    assert_eq!(raw.cmd(&["TYPE", "s"]), b"+string\r\n");
    assert_eq!(raw.cmd(&["TYPE", "nope"]), b"+none\r\n");
    assert_eq!(int(&mut raw, &["TOUCH", "s", "nope", "s"]), 2);
}

/// RENAME moves value and TTL, overwrites the target, and handles its edge cases:
/// missing source, renaming a key to itself, RENAMENX onto an existing key.
#[test]
fn rename_and_renamenx() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["RENAME", "nope", "x"]), b"-ERR no such key\r\n");
    assert_eq!(
        raw.cmd(&["RENAME", "nope", "nope"]),
        b"-ERR no such key\r\n"
    );
    assert_eq!(raw.cmd(&["RENAMENX", "nope", "x"]), b"-ERR no such key\r\n");
    raw.cmd(&["SET", "a", "va"]);
    raw.cmd(&["SET", "b", "vb"]);
    assert_eq!(raw.cmd(&["RENAME", "a", "a"]), b"+OK\r\n");
    assert_eq!(int(&mut raw, &["RENAMENX", "a", "a"]), 0);
    assert_eq!(int(&mut raw, &["RENAMENX", "a", "b"]), 0);
    assert_eq!(int(&mut raw, &["PEXPIRE", "a", "100000"]), 1);
    assert_eq!(raw.cmd(&["RENAME", "a", "b"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["GET", "b"]), b"$2\r\nva\r\n");
    assert_eq!(int(&mut raw, &["EXISTS", "a"]), 0);
    let ttl = int(&mut raw, &["PTTL", "b"]);
    assert!(
        ttl > 90_000 && ttl <= 100_000,
        "TTL moved with the key: {ttl}"
    );
    assert_eq!(int(&mut raw, &["RENAMENX", "b", "{other}c"]), 1);
    assert_eq!(raw.cmd(&["GET", "{other}c"]), b"$2\r\nva\r\n");
    assert_eq!(int(&mut raw, &["DBSIZE"]), 1);
}

/// COPY within and across databases: REPLACE, TTL and encoding kept, and Redis's errors.
#[test]
fn copy_within_and_across_databases() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.cmd(&["SET", "src", "12345"]);
    raw.cmd(&["PEXPIRE", "src", "100000"]);
    assert_eq!(
        raw.cmd(&["COPY", "src", "src"]),
        b"-ERR source and destination objects are the same\r\n"
    );
    assert_eq!(
        raw.cmd(&["COPY", "src", "src", "DB", "16"]),
        b"-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        raw.cmd(&["COPY", "src", "dst", "DB", "x"]),
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        raw.cmd(&["COPY", "src", "dst", "DB", "4294967296"]),
        b"-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
    );
    assert_eq!(
        raw.cmd(&["COPY", "src", "dst", "DB"]),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(
        raw.cmd(&["COPY", "src", "dst", "NOPE"]),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(int(&mut raw, &["COPY", "missing", "dst"]), 0);
    assert_eq!(int(&mut raw, &["COPY", "src", "dst"]), 1);
    assert_eq!(int(&mut raw, &["COPY", "src", "dst"]), 0);
    raw.cmd(&["SET", "src", "new"]);
    assert_eq!(int(&mut raw, &["COPY", "src", "dst", "REPLACE"]), 1);
    assert_eq!(raw.cmd(&["GET", "dst"]), b"$3\r\nnew\r\n");
    assert_eq!(int(&mut raw, &["TTL", "dst"]), -1);
    raw.cmd(&["SET", "n", "42"]);
    raw.cmd(&["PEXPIRE", "n", "100000"]);
    assert_eq!(int(&mut raw, &["COPY", "n", "n", "db", "3"]), 1);
    raw.cmd(&["SELECT", "3"]);
    assert_eq!(raw.cmd(&["GET", "n"]), b"$2\r\n42\r\n");
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "n"]), b"$3\r\nint\r\n");
    assert!(int(&mut raw, &["PTTL", "n"]) > 90_000);
    raw.cmd(&["SELECT", "0"]);
    assert_eq!(int(&mut raw, &["COPY", "n", "n", "DB", "3"]), 0);
    assert_eq!(int(&mut raw, &["COPY", "n", "n", "DB", "3", "REPLACE"]), 1);
}

/// MOVE carries value and TTL to another database, refusing an existing target.
#[test]
fn move_between_databases() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.cmd(&["SET", "k", "v"]);
    assert_eq!(
        raw.cmd(&["MOVE", "k", "0"]),
        b"-ERR source and destination objects are the same\r\n"
    );
    assert_eq!(
        raw.cmd(&["MOVE", "k", "16"]),
        b"-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        raw.cmd(&["MOVE", "k", "-1"]),
        b"-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        raw.cmd(&["MOVE", "k", "x"]),
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(int(&mut raw, &["MOVE", "nope", "1"]), 0);
    raw.cmd(&["PEXPIRE", "k", "100000"]);
    assert_eq!(int(&mut raw, &["MOVE", "k", "1"]), 1);
    assert_eq!(int(&mut raw, &["EXISTS", "k"]), 0);
    raw.cmd(&["SET", "k", "again"]);
    assert_eq!(int(&mut raw, &["MOVE", "k", "1"]), 0);
    raw.cmd(&["SELECT", "1"]);
    assert_eq!(raw.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    assert!(int(&mut raw, &["PTTL", "k"]) > 90_000);
}

/// SWAPDB exchanges whole databases for every client; its errors are Redis's.
#[test]
fn swapdb_swaps_for_everyone() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let mut other = server.raw();
    raw.cmd(&["SET", "in0", "a"]);
    raw.cmd(&["SELECT", "2"]);
    raw.cmd(&["SET", "in2", "b"]);
    raw.cmd(&["SET", "in2b", "c"]);
    assert_eq!(raw.cmd(&["SWAPDB", "0", "2"]), b"+OK\r\n");
    assert_eq!(int(&mut other, &["DBSIZE"]), 2);
    assert_eq!(other.cmd(&["GET", "in2"]), b"$1\r\nb\r\n");
    assert_eq!(raw.cmd(&["GET", "in0"]), b"$1\r\na\r\n");
    assert_eq!(raw.cmd(&["SWAPDB", "1", "1"]), b"+OK\r\n");
    assert_eq!(
        raw.cmd(&["SWAPDB", "x", "1"]),
        b"-ERR invalid first DB index\r\n"
    );
    assert_eq!(
        raw.cmd(&["SWAPDB", "0", "99999999999"]),
        b"-ERR invalid second DB index\r\n"
    );
    assert_eq!(
        raw.cmd(&["SWAPDB", "0", "16"]),
        b"-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        raw.cmd(&["SWAPDB", "-1", "0"]),
        b"-ERR DB index is out of range\r\n"
    );
}

/// FLUSHDB empties the selected database only, FLUSHALL every one; SYNC and ASYNC both
/// take effect at once and anything else is a syntax error. DBSIZE sums every shard.
#[test]
fn flushdb_flushall_and_dbsize() {
    let server = TestServer::start();
    let mut con = server.client();
    set_many(&mut con, (0..1000).map(|i| format!("key:{i}")));
    let mut raw = server.raw();
    assert_eq!(int(&mut raw, &["DBSIZE"]), 1000);
    raw.cmd(&["SELECT", "5"]);
    raw.cmd(&["SET", "five", "5"]);
    assert_eq!(raw.cmd(&["FLUSHDB", "NOW"]), b"-ERR syntax error\r\n");
    assert_eq!(
        raw.cmd(&["FLUSHDB", "ASYNC", "SYNC"]),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(raw.cmd(&["FLUSHALL", "x"]), b"-ERR syntax error\r\n");
    assert_eq!(raw.cmd(&["FLUSHDB", "sync"]), b"+OK\r\n");
    assert_eq!(int(&mut raw, &["DBSIZE"]), 0);
    raw.cmd(&["SELECT", "0"]);
    assert_eq!(int(&mut raw, &["DBSIZE"]), 1000);
    assert_eq!(raw.cmd(&["FLUSHDB", "ASYNC"]), b"+OK\r\n");
    assert_eq!(int(&mut raw, &["DBSIZE"]), 0);
    set_many(&mut con, (0..100).map(|i| format!("key:{i}")));
    raw.cmd(&["SELECT", "5"]);
    raw.cmd(&["SET", "five", "5"]);
    assert_eq!(raw.cmd(&["FLUSHALL", "async"]), b"+OK\r\n");
    assert_eq!(int(&mut raw, &["DBSIZE"]), 0);
    raw.cmd(&["SELECT", "0"]);
    assert_eq!(int(&mut raw, &["DBSIZE"]), 0);
    raw.cmd(&["SET", "k", "v"]);
    assert_eq!(raw.cmd(&["FLUSHALL"]), b"+OK\r\n");
    assert_eq!(int(&mut raw, &["DBSIZE"]), 0);
}

/// KEYS follows Redis's glob rules, including the empty key and escapes.
#[test]
fn keys_glob_patterns() {
    let server = TestServer::start();
    let mut raw = server.raw();
    for key in [
        "", "hello", "hallo", "hxllo", "hllo", "heeello", "a*b", "x\ny",
    ] {
        raw.send_cmd(&[b"SET", key.as_bytes(), b"v"]);
        assert_eq!(raw.read_reply(), b"+OK\r\n");
    }
    let keys = |raw: &mut RawConn, pattern: &str| -> Vec<String> {
        let mut found: Vec<String> = bulks(&raw.cmd(&["KEYS", pattern]))
            .into_iter()
            .map(|k| String::from_utf8(k).expect("utf-8"))
            .collect();
        found.sort();
        found
    };
    assert_eq!(
        keys(&mut raw, "*").len(),
        8,
        "a lone * matches the empty key too"
    );
    assert_eq!(keys(&mut raw, ""), vec![""]);
    assert_eq!(keys(&mut raw, "h?llo"), vec!["hallo", "hello", "hxllo"]);
    assert_eq!(keys(&mut raw, "h[ae]llo"), vec!["hallo", "hello"]);
    assert_eq!(keys(&mut raw, "h[^e]llo"), vec!["hallo", "hxllo"]);
    assert_eq!(keys(&mut raw, "h[a-b]llo"), vec!["hallo"]);
    assert_eq!(
        keys(&mut raw, "h*llo"),
        vec!["hallo", "heeello", "hello", "hllo", "hxllo"]
    );
    assert_eq!(keys(&mut raw, "a\\*b"), vec!["a*b"]);
    assert_eq!(keys(&mut raw, "x?y"), vec!["x\ny"]);
    assert_eq!(keys(&mut raw, "H*"), Vec::<String>::new());
    assert_eq!(keys(&mut raw, "nothing*"), Vec::<String>::new());
    raw.cmd(&["SELECT", "1"]);
    assert_eq!(raw.cmd(&["KEYS", "*"]), b"*0\r\n");
}

/// Runs a whole SCAN iteration, calling `between` after every step.
fn full_scan(
    con: &mut redis::Connection,
    options: &[&str],
    mut between: impl FnMut(&mut redis::Connection, usize),
) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    let mut step = 0;
    loop {
        let (next, keys): (String, Vec<String>) = redis::cmd("SCAN")
            .arg(&cursor)
            .arg(options)
            .query(con)
            .expect("SCAN");
        seen.extend(keys);
        between(con, step);
        step += 1;
        assert!(step < 100_000, "SCAN does not terminate");
        if next == "0" {
            return seen;
        }
        cursor = next;
    }
}

/// A full SCAN returns every key present for the whole iteration, whatever is added and
/// removed meanwhile, for several COUNTs, with MATCH and with TYPE.
#[test]
fn scan_returns_every_stable_key_under_churn() {
    let server = TestServer::start();
    let mut con = server.client();
    let stable: Vec<String> = (0..3000).map(|i| format!("stable:{i}")).collect();
    set_many(&mut con, stable.iter().cloned());
    set_many(&mut con, (0..500).map(|i| format!("doomed:{i}")));
    let stable_set: HashSet<&String> = stable.iter().collect();
    for (round, count) in ["1", "7", "100", "1000"].into_iter().enumerate() {
        let seen = full_scan(&mut con, &["COUNT", count], |con, step| {
            // Churn: add new keys and delete the doomed ones while iterating.
            let _: () = redis::cmd("SET")
                .arg(format!("churn:{round}:{step}"))
                .arg("x")
                .query(con)
                .expect("SET");
            let _: i64 = redis::cmd("DEL")
                .arg(format!("doomed:{}", (step * 7 + round) % 500))
                .query(con)
                .expect("DEL");
        });
        let seen: HashSet<&String> = seen.iter().collect();
        for key in &stable {
            assert!(
                seen.contains(key),
                "COUNT {count}: {key} was never returned"
            );
        }
        assert!(seen.iter().all(|k| stable_set.contains(k)
            || k.starts_with("churn:")
            || k.starts_with("doomed:")));
    }
    let matched = full_scan(&mut con, &["MATCH", "stable:1*", "COUNT", "50"], |_, _| {});
    let expected: HashSet<&String> = stable
        .iter()
        .filter(|k| k.starts_with("stable:1"))
        .collect();
    let matched: HashSet<&String> = matched.iter().collect();
    assert_eq!(matched, expected);
    let strings = full_scan(&mut con, &["TYPE", "STRING", "COUNT", "500"], |_, _| {});
    assert!(strings.len() >= stable.len());
    let lists = full_scan(&mut con, &["TYPE", "list", "MATCH", "*"], |_, _| {});
    assert!(lists.is_empty());
}

/// SCAN's cursor and option errors are Redis's, and an empty database ends at once.
#[test]
fn scan_errors_and_empty_database() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["SCAN", "0", "COUNT", "5"]),
        b"*2\r\n$1\r\n0\r\n*0\r\n"
    );
    assert_eq!(raw.cmd(&["SCAN", ""]), b"*2\r\n$1\r\n0\r\n*0\r\n");
    for bad in ["x", " 1", "1 ", "18446744073709551616", "0x10", "-"] {
        assert_eq!(
            raw.cmd(&["SCAN", bad]),
            b"-ERR invalid cursor\r\n",
            "{bad:?}"
        );
    }
    assert_eq!(
        raw.cmd(&["SCAN", "x", "COUNT", "0"]),
        b"-ERR invalid cursor\r\n"
    );
    assert_eq!(
        raw.cmd(&["SCAN", "0", "COUNT", "0"]),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(
        raw.cmd(&["SCAN", "0", "COUNT", "-3"]),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(
        raw.cmd(&["SCAN", "0", "COUNT", "ten"]),
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(raw.cmd(&["SCAN", "0", "COUNT"]), b"-ERR syntax error\r\n");
    assert_eq!(
        raw.cmd(&["SCAN", "0", "NOPE", "1"]),
        b"-ERR syntax error\r\n"
    );
    raw.cmd(&["SET", "only", "v"]);
    assert_eq!(
        raw.cmd(&["SCAN", "0", "COUNT", "100", "TYPE", "string"]),
        b"*2\r\n$1\r\n0\r\n*1\r\n$4\r\nonly\r\n"
    );
    assert_eq!(
        raw.cmd(&["SCAN", "0", "TYPE", "nosuchtype"]),
        b"*2\r\n$1\r\n0\r\n*0\r\n"
    );
}

/// RANDOMKEY answers null on an empty database and otherwise one of its keys.
#[test]
fn randomkey_picks_existing_keys() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["RANDOMKEY"]), b"$-1\r\n");
    let mut con = server.client();
    set_many(&mut con, (0..50).map(|i| format!("r:{i}")));
    let mut seen = HashSet::new();
    for _ in 0..200 {
        let key: String = redis::cmd("RANDOMKEY").query(&mut con).expect("RANDOMKEY");
        assert!(key.starts_with("r:"), "{key}");
        seen.insert(key);
    }
    assert!(seen.len() > 10, "keys are spread: {}", seen.len());
    let mut resp3 = server.raw();
    resp3.cmd(&["HELLO", "3"]);
    resp3.cmd(&["SELECT", "9"]);
    assert_eq!(resp3.cmd(&["RANDOMKEY"]), b"_\r\n");
}

/// OBJECT reports encodings and Redis's shared-integer refcount, refuses FREQ without
/// an LFU policy, and answers null for a missing key.
#[test]
fn object_subcommands() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.cmd(&["SET", "int", "123"]);
    raw.cmd(&["SET", "bigint", "10000"]);
    raw.cmd(&["SET", "emb", "hello"]);
    raw.send_cmd(&[b"SET", b"raw", "r".repeat(45).as_bytes()]);
    raw.read_reply();
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "int"]), b"$3\r\nint\r\n");
    assert_eq!(raw.cmd(&["OBJECT", "encoding", "emb"]), b"$6\r\nembstr\r\n");
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "raw"]), b"$3\r\nraw\r\n");
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "nope"]), b"$-1\r\n");
    assert_eq!(int(&mut raw, &["OBJECT", "REFCOUNT", "int"]), 2147483647);
    assert_eq!(int(&mut raw, &["OBJECT", "REFCOUNT", "bigint"]), 1);
    assert_eq!(int(&mut raw, &["OBJECT", "REFCOUNT", "emb"]), 1);
    assert_eq!(int(&mut raw, &["OBJECT", "IDLETIME", "emb"]), 0);
    assert_eq!(raw.cmd(&["OBJECT", "IDLETIME", "nope"]), b"$-1\r\n");
    assert_eq!(
        raw.cmd(&["OBJECT", "FREQ", "emb"]),
        b"-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n".to_vec()
    );
    assert_eq!(raw.cmd(&["OBJECT", "FREQ", "nope"]), b"$-1\r\n");
    assert_eq!(
        raw.cmd(&["OBJECT", "NOPE", "x"]),
        b"-ERR unknown subcommand 'NOPE'. Try OBJECT HELP.\r\n"
    );
    let help = raw.cmd(&["OBJECT", "HELP"]);
    assert!(help.starts_with(
        b"*11\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
    ));
    assert!(help.ends_with(b"+HELP\r\n+    Prints this help.\r\n"));
}

/// Reads that Redis does without touching (TTL, TYPE, EXISTS, OBJECT, SCAN) leave the
/// idle time growing; TOUCH and GET reset it.
#[test]
fn idletime_grows_until_a_real_access() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.cmd(&["SET", "k", "v"]);
    assert!(common::wait_for(std::time::Duration::from_secs(5), || {
        int(&mut raw, &["OBJECT", "IDLETIME", "k"]) >= 2
    }));
    raw.cmd(&["TTL", "k"]);
    raw.cmd(&["TYPE", "k"]);
    raw.cmd(&["EXISTS", "k"]);
    raw.cmd(&["OBJECT", "ENCODING", "k"]);
    raw.cmd(&["SCAN", "0", "TYPE", "string"]);
    assert!(int(&mut raw, &["OBJECT", "IDLETIME", "k"]) >= 2);
    assert_eq!(int(&mut raw, &["TOUCH", "k"]), 1);
    // At most 1: a second boundary may fall between the two commands.
    assert!(int(&mut raw, &["OBJECT", "IDLETIME", "k"]) <= 1);
}

/// Under an LFU policy FREQ answers and IDLETIME refuses, and small integers stop
/// being shared once maxmemory is set.
#[test]
fn object_under_lfu_policy() {
    let server =
        TestServer::start_with(&["--maxmemory-policy", "allkeys-lfu", "--maxmemory", "100mb"]);
    let mut raw = server.raw();
    raw.cmd(&["SET", "k", "7"]);
    assert!(int(&mut raw, &["OBJECT", "FREQ", "k"]) >= 0);
    assert_eq!(
        raw.cmd(&["OBJECT", "IDLETIME", "k"]),
        b"-ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n".to_vec()
    );
    assert_eq!(int(&mut raw, &["OBJECT", "REFCOUNT", "k"]), 1);
}

/// The same command sequences on lodestone and on redis-server give the same bytes
/// (KEYS replies compared as sorted sets).
#[test]
fn differential_against_redis() {
    let Some(redis) = TestServer::start_redis() else {
        return;
    };
    let ours = TestServer::start();
    let long = "L".repeat(50);
    let script: Vec<Vec<&str>> = vec![
        vec!["FLUSHALL"],
        vec!["SCAN", "0", "COUNT", "5"],
        vec!["SCAN", "0", "COUNT", "0"],
        vec!["SCAN", "abc"],
        vec!["SCAN", "", "MATCH", "*", "TYPE", "string"],
        vec!["SCAN", "0", "COUNT"],
        vec!["RANDOMKEY"],
        vec!["DBSIZE"],
        vec!["SET", "a", "100"],
        vec!["SET", "b", "hello"],
        vec!["SET", "c", &long],
        vec!["SET", "d", "10000"],
        vec!["SET", "e", "-1"],
        vec!["OBJECT", "ENCODING", "a"],
        vec!["OBJECT", "ENCODING", "b"],
        vec!["OBJECT", "ENCODING", "c"],
        vec!["OBJECT", "ENCODING", "e"],
        vec!["OBJECT", "ENCODING", "missing"],
        vec!["OBJECT", "REFCOUNT", "a"],
        vec!["OBJECT", "REFCOUNT", "d"],
        vec!["OBJECT", "REFCOUNT", "e"],
        vec!["OBJECT", "REFCOUNT", "b"],
        vec!["OBJECT", "FREQ", "a"],
        vec!["OBJECT", "FREQ", "missing"],
        vec!["OBJECT", "IDLETIME", "missing"],
        vec!["OBJECT", "NOPE"],
        vec!["OBJECT"],
        vec!["EXISTS", "a", "a", "missing"],
        vec!["TYPE", "a"],
        vec!["TYPE", "missing"],
        vec!["TOUCH", "a", "missing", "b"],
        vec!["RENAME", "missing", "x"],
        vec!["RENAME", "missing", "missing"],
        vec!["RENAMENX", "missing", "x"],
        vec!["RENAME", "b", "b"],
        vec!["RENAMENX", "b", "b"],
        vec!["RENAMENX", "b", "a"],
        vec!["RENAME", "b", "b2"],
        vec!["GET", "b2"],
        vec!["RENAME", "b2", "a"],
        vec!["GET", "a"],
        vec!["OBJECT", "ENCODING", "a"],
        vec!["COPY", "c", "c"],
        vec!["COPY", "c", "c", "DB", "0"],
        vec!["COPY", "c", "c", "DB", "16"],
        vec!["COPY", "c", "c", "DB", "x"],
        vec!["COPY", "c", "c", "DB", "99999999999"],
        vec!["COPY", "c", "c", "NOPE"],
        vec!["COPY", "c", "c", "DB"],
        vec!["COPY", "c", "c", "REPLACE", "REPLACE"],
        vec!["COPY", "missing", "z"],
        vec!["COPY", "c", "c2"],
        vec!["COPY", "c", "c2"],
        vec!["COPY", "c", "c2", "REPLACE"],
        vec!["OBJECT", "ENCODING", "c2"],
        vec!["COPY", "d", "d", "DB", "1"],
        vec!["COPY", "d", "d", "DB", "1"],
        vec!["MOVE", "d", "0"],
        vec!["MOVE", "d", "1"],
        vec!["MOVE", "d", "16"],
        vec!["MOVE", "d", "x"],
        vec!["MOVE", "d", "4294967296"],
        vec!["MOVE", "missing", "1"],
        vec!["MOVE", "c2", "1"],
        vec!["SELECT", "1"],
        vec!["GET", "c2"],
        vec!["OBJECT", "ENCODING", "d"],
        vec!["DBSIZE"],
        vec!["SELECT", "0"],
        vec!["SET", "f", "v"],
        vec!["EXPIRE", "f", "100", "XX"],
        vec!["EXPIRE", "f", "100", "NX"],
        vec!["EXPIRE", "f", "200", "NX"],
        vec!["EXPIRE", "f", "50", "GT"],
        vec!["EXPIRE", "f", "300", "gt"],
        vec!["EXPIRE", "f", "400", "LT"],
        vec!["EXPIRE", "f", "100", "lt"],
        vec!["EXPIRE", "f", "100", "NX", "XX"],
        vec!["EXPIRE", "f", "100", "XX", "NX"],
        vec!["EXPIRE", "f", "100", "NX", "GT"],
        vec!["EXPIRE", "f", "100", "GT", "LT"],
        vec!["EXPIRE", "f", "101", "XX", "GT", "XX"],
        vec!["EXPIRE", "f", "100", "FOO"],
        vec!["EXPIRE", "f", "abc"],
        vec!["EXPIRE", "f", "abc", "FOO"],
        vec!["EXPIRE", "missing", "10", "NX", "XX"],
        vec!["EXPIRE", "missing", "10"],
        vec!["EXPIRE", "f", "9223372036854775807"],
        vec!["EXPIRE", "f", "-9223372036854775808"],
        vec!["PEXPIRE", "f", "9223372036854775807"],
        vec!["EXPIREAT", "f", "9223372036854775807"],
        vec!["PEXPIREAT", "f", "9223372036854775807"],
        vec!["PEXPIRETIME", "f"],
        vec!["EXPIRETIME", "f"],
        vec!["EXPIREAT", "f", "4102444800"],
        vec!["EXPIRETIME", "f"],
        vec!["PEXPIRETIME", "f"],
        vec!["PEXPIREAT", "f", "4102444800123", "LT"],
        vec!["PEXPIREAT", "f", "4102444800001", "LT"],
        vec!["EXPIRETIME", "f"],
        vec!["PEXPIRETIME", "f"],
        vec!["PERSIST", "f"],
        vec!["PERSIST", "f"],
        vec!["PERSIST", "missing"],
        vec!["TTL", "f"],
        vec!["PTTL", "missing"],
        vec!["EXPIRETIME", "f"],
        vec!["PEXPIRETIME", "missing"],
        vec!["SET", "g", "v"],
        vec!["EXPIRE", "g", "100", "GT"],
        vec!["EXPIRE", "g", "100", "LT"],
        vec!["EXPIRE", "g", "-5", "GT"],
        vec!["EXPIRE", "g", "-5", "LT"],
        vec!["EXISTS", "g"],
        vec!["EXPIRE", "f", "-1"],
        vec!["EXISTS", "f"],
        vec!["SET", "h", "v"],
        vec!["PEXPIREAT", "h", "1"],
        vec!["GET", "h"],
        vec!["SET", "", "empty"],
        vec!["SET", "hallo", "v"],
        vec!["SET", "hxllo", "v"],
        vec!["SET", "a*b", "v"],
        vec!["KEYS", "*"],
        vec!["KEYS", ""],
        vec!["KEYS", "h?llo"],
        vec!["KEYS", "h[ax]llo"],
        vec!["KEYS", "h[^a]llo"],
        vec!["KEYS", "h[a-"],
        vec!["KEYS", "a\\*b"],
        vec!["KEYS", "*\\"],
        vec!["KEYS", "[]"],
        vec!["SWAPDB", "x", "1"],
        vec!["SWAPDB", "0", "x"],
        vec!["SWAPDB", "0", "16"],
        vec!["SWAPDB", "0", "1"],
        vec!["DBSIZE"],
        vec!["SWAPDB", "1", "0"],
        vec!["FLUSHDB", "x"],
        vec!["FLUSHALL", "ASYNC", "x"],
        vec!["DEL", "a", "a", "missing", "c"],
        vec!["UNLINK", "c2", "hallo"],
        vec!["FLUSHDB", "ASYNC"],
        vec!["DBSIZE"],
        vec!["SELECT", "1"],
        vec!["DBSIZE"],
        vec!["FLUSHALL", "SYNC"],
        vec!["DBSIZE"],
    ];
    let mut theirs = redis.raw();
    let mut mine = ours.raw();
    for args in &script {
        let (want, got) = (theirs.cmd(args), mine.cmd(args));
        let (want, got) = if args[0] == "KEYS" {
            (sorted_array(&want), sorted_array(&got))
        } else {
            (want, got)
        };
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "{args:?}"
        );
    }
}
