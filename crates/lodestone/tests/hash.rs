//! The hash family over TCP: every command's replies and errors byte for byte, RESP3
//! shapes, the listpack/hashtable conversions at Redis's thresholds, HSCAN cursors and
//! HRANDFIELD's count semantics.
//!
//! Set `COLLECTION_TESTS_ON_REDIS=1` to run the deterministic tests against the
//! reference redis-server instead, proving the expected replies are Redis's own.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{expect_coded as expect, send_line as send, TestServer};

/// The server under test (see the module doc).
fn start() -> TestServer {
    if std::env::var_os("COLLECTION_TESTS_ON_REDIS").is_some() {
        return TestServer::start_redis().expect("redis-server");
    }
    TestServer::start()
}

/// The bulk strings of a flat reply (nested arrays are flattened), in order.
fn bulks(reply: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < reply.len() {
        let end = pos
            + reply[pos..]
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("CRLF");
        let head = &reply[pos..end];
        pos = end + 2;
        if head[0] == b'$' {
            let len: usize = std::str::from_utf8(&head[1..]).unwrap().parse().unwrap();
            out.push(reply[pos..pos + len].to_vec());
            pos += len + 2;
        }
    }
    out
}

/// The header line of a reply (`*3`, `%2`...).
fn head(reply: &[u8]) -> String {
    let end = reply.windows(2).position(|w| w == b"\r\n").expect("CRLF");
    String::from_utf8_lossy(&reply[..end]).into_owned()
}

/// Field writes and reads, their replies for missing keys and fields, HSET's arity
/// check, and the key disappearing with its last field.
#[test]
fn field_reads_and_writes() {
    let server = start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("HSET h a 1 b 2", ":2|"),
            ("HSET h a 10 c 3", ":1|"),
            (
                "HSET h a",
                "-ERR wrong number of arguments for 'hset' command|",
            ),
            (
                "HSET h a 1 b",
                "-ERR wrong number of arguments for 'hset' command|",
            ),
            ("HMSET h d 4", "+OK|"),
            (
                "HMSET h d",
                "-ERR wrong number of arguments for 'hmset' command|",
            ),
            ("HSETNX h a 99", ":0|"),
            ("HSETNX h e 5", ":1|"),
            ("HSETNX fresh f v", ":1|"),
            ("HGET h a", "$2|10|"),
            ("HGET h nope", "$-1|"),
            ("HGET missing a", "$-1|"),
            ("HMGET h a nope e", "*3|$2|10|$-1|$1|5|"),
            ("HMGET missing a b", "*2|$-1|$-1|"),
            ("HLEN h", ":5|"),
            ("HLEN missing", ":0|"),
            ("HSTRLEN h a", ":2|"),
            ("HSTRLEN h nope", ":0|"),
            ("HSTRLEN missing a", ":0|"),
            ("HEXISTS h a", ":1|"),
            ("HEXISTS h nope", ":0|"),
            ("HEXISTS missing a", ":0|"),
            ("HDEL h a nope a b", ":2|"),
            ("HDEL missing a", ":0|"),
            ("HDEL h c d e", ":3|"),
            ("EXISTS h", ":0|"),
            ("HSET bin \\x00\\xff '' '' \\x01", ":2|"),
            ("HGET bin \\x00\\xff", "$0||"),
            ("HGET bin ''", "$1|\\x01|"),
            ("HGETALL bin", "*4|$2|\\x00\\xff|$0||$0||$1|\\x01|"),
        ],
    );
}

/// Every hash command answers WRONGTYPE on a key of another type, and leaves it alone.
#[test]
fn wrong_type_everywhere() {
    let server = start();
    let mut c = server.raw();
    expect(&mut c, &[("SET s x", "+OK|")]);
    let wrongtype = "-WRONGTYPE Operation against a key holding the wrong kind of value|";
    for line in [
        "HSET s a 1",
        "HMSET s a 1",
        "HSETNX s a 1",
        "HGET s a",
        "HMGET s a",
        "HGETALL s",
        "HKEYS s",
        "HVALS s",
        "HDEL s a",
        "HLEN s",
        "HSTRLEN s a",
        "HEXISTS s a",
        "HINCRBY s a 1",
        "HINCRBYFLOAT s a 1",
        "HRANDFIELD s",
        "HRANDFIELD s 2",
        "HRANDFIELD s -2 WITHVALUES",
        "HSCAN s 0",
    ] {
        expect(&mut c, &[(line, wrongtype)]);
    }
    expect(&mut c, &[("GET s", "$1|x|")]);
}

/// HGETALL is a map in RESP3 and a flat array in RESP2; a listpack keeps insertion
/// order as Redis does; missing keys give empty replies of the right type.
#[test]
fn getall_shapes_and_order() {
    let server = start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("HSET h z 1 a 2 m 3", ":3|"),
            ("HSET h a 20", ":0|"),
            ("HGETALL h", "*6|$1|z|$1|1|$1|a|$2|20|$1|m|$1|3|"),
            ("HKEYS h", "*3|$1|z|$1|a|$1|m|"),
            ("HVALS h", "*3|$1|1|$2|20|$1|3|"),
            ("HGETALL missing", "*0|"),
            ("HKEYS missing", "*0|"),
        ],
    );
    send(&mut c, "HELLO 3");
    expect(
        &mut c,
        &[
            ("HGETALL h", "%3|$1|z|$1|1|$1|a|$2|20|$1|m|$1|3|"),
            ("HGETALL missing", "%0|"),
            ("HVALS missing", "*0|"),
            ("HGET h nope", "_|"),
            ("HMGET h nope", "*1|_|"),
        ],
    );
}

/// HINCRBY and HINCRBYFLOAT: results, Redis's exact errors in Redis's order, overflow,
/// long double precision and formatting.
#[test]
fn counters() {
    let server = start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("HINCRBY h n 5", ":5|"),
            ("HINCRBY h n -7", ":-2|"),
            (
                "HINCRBY h n x",
                "-ERR value is not an integer or out of range|",
            ),
            (
                "HINCRBY h n 1.5",
                "-ERR value is not an integer or out of range|",
            ),
            ("HSET h s abc big 9223372036854775807 f 1.5", ":3|"),
            ("HINCRBY h s 1", "-ERR hash value is not an integer|"),
            ("HINCRBY h f 1", "-ERR hash value is not an integer|"),
            (
                "HINCRBY h big 1",
                "-ERR increment or decrement would overflow|",
            ),
            ("HINCRBY h big 0", ":9223372036854775807|"),
            ("HINCRBY h big -9223372036854775808", ":-1|"),
            ("HINCRBYFLOAT h f 0.1", "$3|1.6|"),
            ("HINCRBYFLOAT h f -1.6", "$1|0|"),
            ("HINCRBYFLOAT h n 3.0e3", "$4|2998|"),
            ("HINCRBYFLOAT h new 10.5", "$4|10.5|"),
            ("HINCRBYFLOAT h s 1", "-ERR hash value is not a float|"),
            ("HINCRBYFLOAT h f x", "-ERR value is not a valid float|"),
            ("HINCRBYFLOAT h f inf", "-ERR value is NaN or Infinity|"),
            ("HINCRBYFLOAT h s inf", "-ERR value is NaN or Infinity|"),
            ("HINCRBYFLOAT h f nan", "-ERR value is not a valid float|"),
            ("HSET h huge 1e4932", ":1|"),
            (
                "HINCRBYFLOAT h huge 1e4932",
                "-ERR increment would produce NaN or Infinity|",
            ),
            ("HINCRBYFLOAT h f 5.0e3", "$4|5000|"),
            ("HINCRBYFLOAT nokey f x", "-ERR value is not a valid float|"),
            ("EXISTS nokey", ":0|"),
            (
                "HINCRBY nokey f x",
                "-ERR value is not an integer or out of range|",
            ),
            ("EXISTS nokey", ":0|"),
        ],
    );
}

/// The listpack converts to a hashtable past hash-max-listpack-entries fields, or at
/// the first field or value longer than hash-max-listpack-value, including through
/// HINCRBYFLOAT's result; it never converts back.
#[test]
fn encoding_conversions_at_thresholds() {
    let server = start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("CONFIG SET hash-max-listpack-entries 4", "+OK|"),
            ("CONFIG SET hash-max-listpack-value 8", "+OK|"),
            ("HSET h a 1 b 2 c 3 d 4", ":4|"),
            ("OBJECT ENCODING h", "$8|listpack|"),
            ("HSET h e 5", ":1|"),
            ("OBJECT ENCODING h", "$9|hashtable|"),
            ("HDEL h a b c d", ":4|"),
            ("OBJECT ENCODING h", "$9|hashtable|"),
            ("HSET v f 12345678", ":1|"),
            ("OBJECT ENCODING v", "$8|listpack|"),
            ("HSET v f 123456789", ":0|"),
            ("OBJECT ENCODING v", "$9|hashtable|"),
            ("HSET k 123456789 x", ":1|"),
            ("OBJECT ENCODING k", "$9|hashtable|"),
            ("HSETNX n f 123456789", ":1|"),
            ("OBJECT ENCODING n", "$9|hashtable|"),
            ("HSET i f 1.5", ":1|"),
            ("HINCRBYFLOAT i f 0.00001", "$7|1.50001|"),
            ("OBJECT ENCODING i", "$8|listpack|"),
            ("HINCRBYFLOAT i f 0.000001", "$8|1.500011|"),
            ("OBJECT ENCODING i", "$8|listpack|"),
            ("HINCRBYFLOAT i f 0.0000001", "$9|1.5000111|"),
            ("OBJECT ENCODING i", "$9|hashtable|"),
            ("HSET b f 1", ":1|"),
            ("HINCRBY b f 123456788", ":123456789|"),
            ("OBJECT ENCODING b", "$9|hashtable|"),
            ("CONFIG SET hash-max-listpack-entries 0", "+OK|"),
            ("HSET z f v", ":1|"),
            ("OBJECT ENCODING z", "$9|hashtable|"),
        ],
    );
}

/// HSCAN returns a listpack whole with cursor 0; over a hashtable the cursor visits
/// every field once in a quiet hash, with MATCH filtering; errors are Redis's, and a
/// missing key answers before options are checked.
#[test]
fn hscan_cursors_and_options() {
    let server = start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("HSET small a 1 b 2 c 3", ":3|"),
            (
                "HSCAN small 0 COUNT 1",
                "*2|$1|0|*6|$1|a|$1|1|$1|b|$1|2|$1|c|$1|3|",
            ),
            ("HSCAN small 77 MATCH b*", "*2|$1|0|*2|$1|b|$1|2|"),
            ("HSCAN small 0 COUNT 0", "-ERR syntax error|"),
            ("HSCAN small 0 COUNT -1", "-ERR syntax error|"),
            (
                "HSCAN small 0 COUNT x",
                "-ERR value is not an integer or out of range|",
            ),
            ("HSCAN small 0 TYPE string", "-ERR syntax error|"),
            ("HSCAN small 0 MATCH", "-ERR syntax error|"),
            ("HSCAN small x", "-ERR invalid cursor|"),
            (
                "HSCAN small -1",
                "*2|$1|0|*6|$1|a|$1|1|$1|b|$1|2|$1|c|$1|3|",
            ),
            ("HSCAN small 18446744073709551616", "-ERR invalid cursor|"),
            ("HSCAN missing 0 COUNT 0", "*2|$1|0|*0|"),
            ("HSCAN missing x", "-ERR invalid cursor|"),
        ],
    );
    let mut conn = server.client();
    let mut model = BTreeMap::new();
    for i in 0..1000 {
        let (f, v) = (format!("field:{i}"), format!("v{i}"));
        let _: i64 = redis::cmd("HSET")
            .arg("big")
            .arg(&f)
            .arg(&v)
            .query(&mut conn)
            .unwrap();
        model.insert(f.into_bytes(), v.into_bytes());
    }
    let mut seen = BTreeMap::new();
    let mut matched = BTreeSet::new();
    let mut cursor = "0".to_string();
    let mut steps = 0;
    loop {
        let (next, items): (String, Vec<Vec<u8>>) = redis::cmd("HSCAN")
            .arg("big")
            .arg(&cursor)
            .arg("COUNT")
            .arg(37)
            .query(&mut conn)
            .unwrap();
        for pair in items.chunks(2) {
            seen.insert(pair[0].clone(), pair[1].clone());
        }
        let (_, only): (String, Vec<Vec<u8>>) = redis::cmd("HSCAN")
            .arg("big")
            .arg(&cursor)
            .arg("COUNT")
            .arg(37)
            .arg("MATCH")
            .arg("field:1?")
            .query(&mut conn)
            .unwrap();
        matched.extend(only.chunks(2).map(|p| p[0].clone()));
        steps += 1;
        if next == "0" {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen, model);
    assert!(steps > 5, "a hashtable scan takes several steps");
    let want: BTreeSet<Vec<u8>> = (10..20)
        .map(|i| format!("field:{i}").into_bytes())
        .collect();
    assert_eq!(matched, want);
}

/// HRANDFIELD: without count a field or null; count 0 and missing keys give empty
/// arrays; negative counts repeat; positive counts are distinct and capped by the
/// size; WITHVALUES pairs are flat in RESP2 and nested in RESP3; range errors exact.
#[test]
fn hrandfield_counts_and_shapes() {
    let server = start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("HRANDFIELD missing", "$-1|"),
            ("HRANDFIELD missing 5", "*0|"),
            ("HRANDFIELD missing -5 WITHVALUES", "*0|"),
            ("HSET h a 1 b 2 c 3", ":3|"),
            ("HRANDFIELD h 0", "*0|"),
            ("HRANDFIELD h 0 WITHVALUES", "*0|"),
            ("HRANDFIELD h 10", "*3|$1|a|$1|b|$1|c|"),
            ("HRANDFIELD h 3 WITHVALUES", "*6|$1|a|$1|1|$1|b|$1|2|$1|c|$1|3|"),
            ("HRANDFIELD h x", "-ERR value is not an integer or out of range|"),
            ("HRANDFIELD h 1 WITHVALUE", "-ERR syntax error|"),
            ("HRANDFIELD h 1 WITHVALUES x", "-ERR syntax error|"),
            (
                "HRANDFIELD h -9223372036854775808",
                "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807|",
            ),
            ("HRANDFIELD h -9223372036854770000 WITHVALUES", "-ERR value is out of range|"),
            ("HRANDFIELD h 4611686018427387904 WITHVALUES", "-ERR value is out of range|"),
        ],
    );
    let fields: BTreeSet<Vec<u8>> = [b"a", b"b", b"c"].iter().map(|f| f.to_vec()).collect();
    let single = send(&mut c, "HRANDFIELD h");
    assert!(fields.contains(&bulks(&single)[0]));
    let repeats = send(&mut c, "HRANDFIELD h -20");
    assert_eq!(head(&repeats), "*20");
    assert!(bulks(&repeats).iter().all(|f| fields.contains(f)));
    let pairs = send(&mut c, "HRANDFIELD h -7 WITHVALUES");
    assert_eq!(head(&pairs), "*14");
    for pair in bulks(&pairs).chunks(2) {
        let want = match pair[0].as_slice() {
            b"a" => b"1",
            b"b" => b"2",
            _ => b"3",
        };
        assert_eq!(pair[1], want);
    }
    let two = send(&mut c, "HRANDFIELD h 2");
    let distinct: BTreeSet<_> = bulks(&two).into_iter().collect();
    assert_eq!((head(&two).as_str(), distinct.len()), ("*2", 2));
    send(&mut c, "HELLO 3");
    let nested = send(&mut c, "HRANDFIELD h -2 WITHVALUES");
    assert!(nested.starts_with(b"*2\r\n*2\r\n$1\r\n"), "{nested:?}");
    let all = send(&mut c, "HRANDFIELD h 3 WITHVALUES");
    assert_eq!(
        String::from_utf8_lossy(&all),
        "*3\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n"
    );
    let single = send(&mut c, "HRANDFIELD h 1 WITHVALUES");
    assert!(single.starts_with(b"*1\r\n*2\r\n"));
}

/// Random picks over a big hashtable hash: distinct counts below the size return that
/// many distinct fields, and every field eventually comes up.
#[test]
fn hrandfield_over_a_hashtable() {
    let server = start();
    let mut conn = server.client();
    for i in 0..600 {
        let _: i64 = redis::cmd("HSET")
            .arg("h")
            .arg(i)
            .arg(i * 2)
            .query(&mut conn)
            .unwrap();
    }
    let encoding: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("h")
        .query(&mut conn)
        .unwrap();
    assert_eq!(encoding, "hashtable");
    for count in [1, 5, 199, 200, 201, 599] {
        let got: Vec<String> = redis::cmd("HRANDFIELD")
            .arg("h")
            .arg(count)
            .query(&mut conn)
            .unwrap();
        let distinct: BTreeSet<_> = got.iter().collect();
        assert_eq!((got.len(), distinct.len()), (count, count));
    }
    let got: Vec<i64> = redis::cmd("HRANDFIELD")
        .arg("h")
        .arg(-5000)
        .arg("WITHVALUES")
        .query(&mut conn)
        .unwrap();
    let fields: BTreeSet<i64> = got
        .chunks(2)
        .map(|p| {
            assert_eq!(p[1], p[0] * 2);
            p[0]
        })
        .collect();
    assert!(
        fields.len() > 550,
        "5000 picks of 600 cover nearly all: {}",
        fields.len()
    );
}
