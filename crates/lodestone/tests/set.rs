//! The set family over TCP: every command's replies and errors byte for byte, RESP3
//! set replies, intset/hashtable conversions at Redis's thresholds, set algebra and its
//! STORE forms, SSCAN cursors, and SPOP/SRANDMEMBER count semantics.
//!
//! Set `COLLECTION_TESTS_ON_REDIS=1` to run the deterministic tests against the
//! reference redis-server instead, proving the expected replies are Redis's own.

mod common;

use std::collections::BTreeSet;

use common::{expect_coded as expect, send_line as send, TestServer};

fn start() -> TestServer {
    if std::env::var_os("COLLECTION_TESTS_ON_REDIS").is_some() {
        return TestServer::start_redis().expect("redis-server");
    }
    TestServer::start()
}

/// The header line and the bulk strings of a flat reply.
fn parse_flat(reply: &[u8]) -> (String, Vec<Vec<u8>>) {
    let mut out = Vec::new();
    let mut header = String::new();
    let mut pos = 0;
    while pos < reply.len() {
        let end = pos
            + reply[pos..]
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("CRLF");
        let line = &reply[pos..end];
        pos = end + 2;
        if header.is_empty() {
            header = String::from_utf8_lossy(line).into_owned();
        }
        if line[0] == b'$' {
            let len: usize = std::str::from_utf8(&line[1..]).unwrap().parse().unwrap();
            out.push(reply[pos..pos + len].to_vec());
            pos += len + 2;
        }
    }
    (header, out)
}

/// The members of a multi-bulk reply, sorted (hashtable order is not Redis's).
fn sorted(reply: &[u8]) -> Vec<String> {
    let mut members: Vec<String> = parse_flat(reply)
        .1
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    members.sort();
    members
}

/// Membership commands, their replies for missing keys, and the key disappearing with
/// its last member; an intset replies in ascending order.
#[test]
fn membership() {
    let server = start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("SADD s 3 1 2 1", ":3|"),
            ("SADD s 2 4", ":1|"),
            ("SMEMBERS s", "*4|$1|1|$1|2|$1|3|$1|4|"),
            ("SCARD s", ":4|"),
            ("SCARD missing", ":0|"),
            ("SISMEMBER s 2", ":1|"),
            ("SISMEMBER s 02", ":0|"),
            ("SISMEMBER s x", ":0|"),
            ("SISMEMBER missing 1", ":0|"),
            ("SMISMEMBER s 1 x 4", "*3|:1|:0|:1|"),
            ("SMISMEMBER missing 1 2", "*2|:0|:0|"),
            ("SMEMBERS missing", "*0|"),
            ("SREM s 1 x 1 2", ":2|"),
            ("SREM missing a", ":0|"),
            ("SREM s 3 4 5", ":2|"),
            ("EXISTS s", ":0|"),
            ("SADD b \\x00\\xff ''", ":2|"),
            ("SISMEMBER b ''", ":1|"),
            ("SISMEMBER b \\x00\\xff", ":1|"),
        ],
    );
    send(&mut c, "HELLO 3");
    expect(
        &mut c,
        &[
            ("SADD n 10 -5", ":2|"),
            ("SMEMBERS n", "~2|$2|-5|$2|10|"),
            ("SMEMBERS missing", "~0|"),
            ("SMISMEMBER n 10", "*1|:1|"),
        ],
    );
}

/// Every set command answers WRONGTYPE on a key of another type, and leaves it alone.
#[test]
fn wrong_type_everywhere() {
    let server = start();
    let mut c = server.raw();
    expect(&mut c, &[("SET str x", "+OK|"), ("SADD set a", ":1|")]);
    let wrongtype = "-WRONGTYPE Operation against a key holding the wrong kind of value|";
    for line in [
        "SADD str a",
        "SREM str a",
        "SCARD str",
        "SISMEMBER str a",
        "SMISMEMBER str a",
        "SMEMBERS str",
        "SRANDMEMBER str",
        "SRANDMEMBER str 3",
        "SPOP str",
        "SPOP str 2",
        "SMOVE str set a",
        "SMOVE set str a",
        "SINTER set str",
        "SINTER missing str",
        "SINTERCARD 2 set str",
        "SINTERSTORE dst set str",
        "SUNION set str",
        "SUNIONSTORE dst set str",
        "SDIFF set str",
        "SDIFF missing str",
        "SDIFFSTORE dst set str",
        "SSCAN str 0",
    ] {
        expect(&mut c, &[(line, wrongtype)]);
    }
    expect(
        &mut c,
        &[
            ("SMOVE missing str a", ":0|"),
            ("GET str", "$1|x|"),
            ("SMEMBERS set", "*1|$1|a|"),
        ],
    );
}

/// An intset holds canonical i64 integers only, widens as needed, and converts to a
/// hashtable past set-max-intset-entries or at the first other member, for good.
#[test]
fn encoding_conversions_at_thresholds() {
    let server = start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("CONFIG SET set-max-intset-entries 4", "+OK|"),
            ("SADD s 1 2 3 -9223372036854775808", ":4|"),
            ("OBJECT ENCODING s", "$6|intset|"),
            ("SADD s 9223372036854775807", ":1|"),
            ("OBJECT ENCODING s", "$9|hashtable|"),
            ("SREM s 1 2 3 9223372036854775807", ":4|"),
            ("OBJECT ENCODING s", "$9|hashtable|"),
            ("SADD t 1 2", ":2|"),
            ("SADD t 01", ":1|"),
            ("OBJECT ENCODING t", "$9|hashtable|"),
            ("SADD u 9223372036854775808", ":1|"),
            ("OBJECT ENCODING u", "$9|hashtable|"),
            ("SADD v 70000 -3 5000000000", ":3|"),
            ("SMEMBERS v", "*3|$2|-3|$5|70000|$10|5000000000|"),
            ("OBJECT ENCODING v", "$6|intset|"),
            ("SMOVE v w x", ":0|"),
            ("SMOVE v w 70000", ":1|"),
            ("OBJECT ENCODING w", "$6|intset|"),
            ("SMOVE u w2 9223372036854775808", ":1|"),
            ("OBJECT ENCODING w2", "$9|hashtable|"),
            ("SADD big 1 2 3 4 5 6", ":6|"),
            ("SINTERSTORE dst big big", ":6|"),
            ("OBJECT ENCODING dst", "$9|hashtable|"),
            ("SADD x 1 2 a", ":3|"),
            ("SINTERSTORE dst x v", ":0|"),
            ("EXISTS dst", ":0|"),
            ("SINTERSTORE dst x big", ":2|"),
            ("OBJECT ENCODING dst", "$6|intset|"),
            ("SUNIONSTORE dst x", ":3|"),
            ("OBJECT ENCODING dst", "$9|hashtable|"),
            ("CONFIG SET set-max-intset-entries 0", "+OK|"),
            ("SADD z 1", ":1|"),
            ("OBJECT ENCODING z", "$9|hashtable|"),
        ],
    );
}

/// SINTER/SUNION/SDIFF and their STORE forms: missing keys are empty sets, the STORE
/// forms replace any destination (TTL included) or delete it for an empty result.
#[test]
fn set_algebra() {
    let server = start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("SADD a 1 2 3 4", ":4|"),
            ("SADD b 3 4 5", ":3|"),
            ("SADD c 4 x", ":2|"),
            ("SINTER a b", "*2|$1|3|$1|4|"),
            ("SINTER a b c", "*1|$1|4|"),
            ("SINTER a missing", "*0|"),
            ("SINTER a", "*4|$1|1|$1|2|$1|3|$1|4|"),
            ("SUNION a b", "*5|$1|1|$1|2|$1|3|$1|4|$1|5|"),
            ("SUNION missing", "*0|"),
            ("SDIFF a b", "*2|$1|1|$1|2|"),
            ("SDIFF a b c", "*2|$1|1|$1|2|"),
            ("SDIFF a a", "*0|"),
            ("SDIFF missing a", "*0|"),
            ("SDIFF a missing", "*4|$1|1|$1|2|$1|3|$1|4|"),
            ("SINTERCARD 2 a b", ":2|"),
            ("SINTERCARD 2 a b LIMIT 1", ":1|"),
            ("SINTERCARD 2 a b LIMIT 0", ":2|"),
            ("SINTERCARD 1 missing", ":0|"),
            ("SINTERCARD 0 a", "-ERR numkeys should be greater than 0|"),
            ("SINTERCARD x a", "-ERR numkeys should be greater than 0|"),
            (
                "SINTERCARD 3 a b",
                "-ERR Number of keys can't be greater than number of args|",
            ),
            ("SINTERCARD 2 a b LIMIT -1", "-ERR LIMIT can't be negative|"),
            ("SINTERCARD 2 a b LIMIT x", "-ERR LIMIT can't be negative|"),
            ("SINTERCARD 2 a b LIMIT", "-ERR syntax error|"),
            ("SINTERCARD 2 a b FOO 1", "-ERR syntax error|"),
            ("SET dst old", "+OK|"),
            ("EXPIRE dst 100", ":1|"),
            ("SINTERSTORE dst a b", ":2|"),
            ("TTL dst", ":-1|"),
            ("SMEMBERS dst", "*2|$1|3|$1|4|"),
            ("SUNIONSTORE dst a b", ":5|"),
            ("SDIFFSTORE dst a b", ":2|"),
            ("SMEMBERS dst", "*2|$1|1|$1|2|"),
            ("SDIFFSTORE dst a a", ":0|"),
            ("EXISTS dst", ":0|"),
            ("SET dst old", "+OK|"),
            ("SINTERSTORE dst a missing", ":0|"),
            ("EXISTS dst", ":0|"),
            ("SUNIONSTORE dst missing", ":0|"),
            ("SDIFFSTORE a a b", ":2|"),
            ("SMEMBERS a", "*2|$1|1|$1|2|"),
        ],
    );
    send(&mut c, "HELLO 3");
    expect(
        &mut c,
        &[
            ("SINTER a b", "~0|"),
            ("SUNION a b", "~5|$1|1|$1|2|$1|3|$1|4|$1|5|"),
            ("SDIFF a missing", "~2|$1|1|$1|2|"),
        ],
    );
    let mixed = send(&mut c, "SUNION b c");
    assert_eq!(sorted(&mixed), ["3", "4", "5", "x"]);
    assert!(mixed.starts_with(b"~4\r\n"));
}

/// SMOVE: missing source, same key, member absent, destination created, source deleted
/// when emptied.
#[test]
fn smove() {
    let server = start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("SMOVE missing dst a", ":0|"),
            ("SADD src a b", ":2|"),
            ("SMOVE src src a", ":1|"),
            ("SMOVE src src z", ":0|"),
            ("SMOVE src dst z", ":0|"),
            ("SMOVE src dst a", ":1|"),
            ("SMOVE src dst b", ":1|"),
            ("EXISTS src", ":0|"),
            ("SMEMBERS dst", "*2|$1|a|$1|b|"),
            ("SADD src a", ":1|"),
            ("SMOVE src dst a", ":1|"),
            ("SCARD dst", ":2|"),
        ],
    );
}

/// SSCAN returns an intset whole with cursor 0; over a hashtable the cursor visits
/// every member, MATCH filters, and errors are Redis's.
#[test]
fn sscan_cursors_and_options() {
    let server = start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("SADD small 3 1 2 10", ":4|"),
            ("SSCAN small 0 COUNT 1", "*2|$1|0|*4|$1|1|$1|2|$1|3|$2|10|"),
            ("SSCAN small 5 MATCH 1*", "*2|$1|0|*2|$1|1|$2|10|"),
            ("SSCAN small 0 COUNT 0", "-ERR syntax error|"),
            ("SSCAN small 0 TYPE set", "-ERR syntax error|"),
            ("SSCAN small abc", "-ERR invalid cursor|"),
            ("SSCAN missing 0 NOPE", "*2|$1|0|*0|"),
        ],
    );
    let mut conn = server.client();
    let members: BTreeSet<String> = (0..1000).map(|i| format!("m:{i}")).collect();
    for m in &members {
        let _: i64 = redis::cmd("SADD")
            .arg("big")
            .arg(m)
            .query(&mut conn)
            .unwrap();
    }
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, items): (String, Vec<String>) = redis::cmd("SSCAN")
            .arg("big")
            .arg(&cursor)
            .arg("COUNT")
            .arg(50)
            .query(&mut conn)
            .unwrap();
        seen.extend(items);
        if next == "0" {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen, members);
}

/// SRANDMEMBER: null/empty for missing keys, distinct members for positive counts,
/// repeats for negative ones, the whole set for counts past its size, exact errors.
#[test]
fn srandmember_counts() {
    let server = start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("SRANDMEMBER missing", "$-1|"),
            ("SRANDMEMBER missing 3", "*0|"),
            ("SADD s 1 2 3", ":3|"),
            ("SRANDMEMBER s 0", "*0|"),
            ("SRANDMEMBER s 3", "*3|$1|1|$1|2|$1|3|"),
            ("SRANDMEMBER s 9223372036854775807", "*3|$1|1|$1|2|$1|3|"),
            ("SRANDMEMBER s x", "-ERR value is not an integer or out of range|"),
            ("SRANDMEMBER s 1 2", "-ERR syntax error|"),
            (
                "SRANDMEMBER s -9223372036854775808",
                "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807|",
            ),
        ],
    );
    let all: BTreeSet<Vec<u8>> = ["1", "2", "3"]
        .iter()
        .map(|m| m.as_bytes().to_vec())
        .collect();
    let (header, picks) = parse_flat(&send(&mut c, "SRANDMEMBER s -50"));
    assert_eq!(header, "*50");
    assert!(picks.iter().all(|m| all.contains(m)));
    let (header, picks) = parse_flat(&send(&mut c, "SRANDMEMBER s 2"));
    assert_eq!(header, "*2");
    assert_ne!(picks[0], picks[1]);
    let (_, one) = parse_flat(&send(&mut c, "SRANDMEMBER s"));
    assert!(all.contains(&one[0]));
    // Large sets, both encodings: distinct counts across Redis's strategy boundaries.
    let mut conn = server.client();
    for i in 0..700 {
        let _: i64 = redis::cmd("SADD")
            .arg("big")
            .arg(i)
            .query(&mut conn)
            .unwrap();
        let _: i64 = redis::cmd("SADD")
            .arg("ints")
            .arg(i % 300)
            .query(&mut conn)
            .unwrap();
    }
    for key in ["big", "ints"] {
        for count in [1usize, 2, 50, 99, 100, 101, 250, 299] {
            let got: Vec<String> = redis::cmd("SRANDMEMBER")
                .arg(key)
                .arg(count)
                .query(&mut conn)
                .unwrap();
            let distinct: BTreeSet<_> = got.iter().collect();
            assert_eq!((got.len(), distinct.len()), (count, count), "{key} {count}");
        }
    }
}

/// A negative count far beyond any reasonable reply is cut off like Redis's output
/// buffer limit would: the client is disconnected instead of the server allocating
/// without bound, and the server keeps serving others.
#[test]
fn srandmember_huge_negative_count_is_bounded() {
    if std::env::var_os("COLLECTION_TESTS_ON_REDIS").is_some() {
        return; // Redis has no limit by default: it would try to allocate it all.
    }
    let server = start();
    let mut c = server.raw();
    expect(&mut c, &[("SADD s a", ":1|")]);
    c.send_cmd(&[b"SRANDMEMBER", b"s", b"-9223372036854775807"]);
    assert!(c.is_closed());
    let mut other = server.raw();
    expect(&mut other, &[("SCARD s", ":1|")]);
}

/// SPOP: one member or null; with a count a RESP3 set of distinct members; a count
/// covering the set takes it all and deletes the key; exact errors.
#[test]
fn spop_counts() {
    let server = start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("SPOP missing", "$-1|"),
            ("SPOP missing 2", "*0|"),
            ("SADD s 1 2 3", ":3|"),
            ("SPOP s 0", "*0|"),
            ("SPOP s -1", "-ERR value is out of range, must be positive|"),
            ("SPOP s x", "-ERR value is out of range, must be positive|"),
            ("SPOP s 1 2", "-ERR syntax error|"),
            ("SPOP s 3", "*3|$1|1|$1|2|$1|3|"),
            ("EXISTS s", ":0|"),
            ("SADD s 1", ":1|"),
            ("SPOP s", "$1|1|"),
            ("EXISTS s", ":0|"),
        ],
    );
    send(&mut c, "HELLO 3");
    expect(
        &mut c,
        &[
            ("SPOP missing 2", "~0|"),
            ("SADD t a", ":1|"),
            ("SPOP t 5", "~1|$1|a|"),
        ],
    );
    // Both of Redis's strategies (take one by one, rebuild from the kept members), both
    // encodings: distinct members popped, the rest left.
    let mut conn = server.client();
    for (key, count) in [("ints", 10), ("ints", 95), ("strs", 10), ("strs", 95)] {
        let _: i64 = redis::cmd("DEL").arg(key).query(&mut conn).unwrap();
        for i in 0..100 {
            let member = if key == "ints" {
                i.to_string()
            } else {
                format!("m{i}")
            };
            let _: i64 = redis::cmd("SADD")
                .arg(key)
                .arg(member)
                .query(&mut conn)
                .unwrap();
        }
        let popped: Vec<String> = redis::cmd("SPOP")
            .arg(key)
            .arg(count)
            .query(&mut conn)
            .unwrap();
        let left: Vec<String> = redis::cmd("SMEMBERS").arg(key).query(&mut conn).unwrap();
        let popped_set: BTreeSet<_> = popped.iter().collect();
        assert_eq!(popped_set.len(), count);
        assert_eq!(left.len(), 100 - count);
        assert!(left.iter().all(|m| !popped_set.contains(m)));
    }
    let encoding: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("ints")
        .query(&mut conn)
        .unwrap();
    assert_eq!(encoding, "intset");
}

/// SPOP's rebuild keeps the TTL, and a rebuilt hashtable of integers becomes an
/// intset again, as in Redis (the kept members are added to a new set).
#[test]
fn spop_rebuild_keeps_ttl_and_reencodes() {
    let server = start();
    let mut conn = server.client();
    for i in 0..600 {
        let _: i64 = redis::cmd("SADD").arg("s").arg(i).query(&mut conn).unwrap();
    }
    let _: i64 = redis::cmd("EXPIRE")
        .arg("s")
        .arg(1000)
        .query(&mut conn)
        .unwrap();
    let encoding: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("s")
        .query(&mut conn)
        .unwrap();
    assert_eq!(encoding, "hashtable");
    let popped: Vec<String> = redis::cmd("SPOP")
        .arg("s")
        .arg(590)
        .query(&mut conn)
        .unwrap();
    assert_eq!(popped.len(), 590);
    let encoding: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("s")
        .query(&mut conn)
        .unwrap();
    assert_eq!(encoding, "intset");
    let ttl: i64 = redis::cmd("TTL").arg("s").query(&mut conn).unwrap();
    assert!(ttl > 900);
}
