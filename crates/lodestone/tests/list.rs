//! The list family over TCP: pushes, pops with and without counts, ranges and indexes,
//! in-place edits, LPOS, moves, LMPOP and the blocking forms on their non-blocking path,
//! checked byte for byte in RESP2 and RESP3.
//!
//! `LIST_TESTS_ON_REDIS=1` runs the same tests against the reference redis-server, to
//! prove the expected replies written here are Redis's own.

mod common;

use common::{
    bulk_array as bulks, expect_lines as expect, send_line as send, start_subject, TestServer,
};

/// The server under test (the reference redis-server with `LIST_TESTS_ON_REDIS` set).
fn start() -> TestServer {
    start_subject("LIST_TESTS_ON_REDIS")
}

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

/// Pushes prepend or append in argument order, reply with the new length, and the X
/// forms never create a key.
#[test]
fn pushes_order_and_lengths() {
    let server = start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("LPUSH l a b c", ":3\r\n"),
            ("RPUSH l d e", ":5\r\n"),
            ("LRANGE l 0 -1", &bulks(&["c", "b", "a", "d", "e"])),
            ("LPUSHX l x", ":6\r\n"),
            ("RPUSHX l y z", ":8\r\n"),
            ("LLEN l", ":8\r\n"),
            ("LPUSHX missing v", ":0\r\n"),
            ("RPUSHX missing v w", ":0\r\n"),
            ("EXISTS missing", ":0\r\n"),
            ("LLEN missing", ":0\r\n"),
            ("TYPE l", "+list\r\n"),
            (
                "LPUSH l",
                "-ERR wrong number of arguments for 'lpush' command\r\n",
            ),
        ],
    );
}

/// Every list command refuses a key of another type with WRONGTYPE, after the errors
/// Redis checks first.
#[test]
fn wrong_type_is_refused() {
    let server = start();
    let mut c = server.raw();
    expect(&mut c, &[("SET s v", "+OK\r\n"), ("RPUSH l a", ":1\r\n")]);
    for line in [
        "LPUSH s v",
        "RPUSH s v",
        "LPUSHX s v",
        "RPUSHX s v",
        "LPOP s",
        "RPOP s 2",
        "LLEN s",
        "LRANGE s 0 -1",
        "LINDEX s 0",
        "LINDEX s notanumber",
        "LSET s 0 v",
        "LINSERT s BEFORE a b",
        "LREM s 0 v",
        "LTRIM s 0 1",
        "LPOS s v",
        "LMOVE s l LEFT RIGHT",
        "LMOVE l s LEFT RIGHT",
        "RPOPLPUSH s l",
        "LMPOP 2 missing s LEFT",
        "BLPOP missing s 0",
        "BRPOP s 0",
        "BLMOVE s l LEFT LEFT 0",
        "BRPOPLPUSH l s 0",
        "BLMPOP 0 1 s RIGHT",
    ] {
        assert_eq!(
            String::from_utf8_lossy(&send(&mut c, line)),
            WRONGTYPE,
            "{line}"
        );
    }
    expect(
        &mut c,
        &[
            // The source is untouched when the destination has the wrong type.
            ("LRANGE l 0 -1", &bulks(&["a"])),
            (
                "LRANGE s x 1",
                "-ERR value is not an integer or out of range\r\n",
            ),
            ("LINSERT s MIDDLE a b", "-ERR syntax error\r\n"),
            ("LMOVE nothing s LEFT RIGHT", "$-1\r\n"),
        ],
    );
}

/// LPOP/RPOP reply with a bulk string, or with a count an array: empty for 0, a null
/// array for a missing key, never more than the list holds; bad counts are refused.
#[test]
fn pop_reply_shapes_resp2() {
    let server = start();
    let mut c = server.raw();
    let positive = "-ERR value is out of range, must be positive\r\n";
    expect(
        &mut c,
        &[
            ("RPUSH l a b c d e", ":5\r\n"),
            ("LPOP l", "$1\r\na\r\n"),
            ("RPOP l", "$1\r\ne\r\n"),
            ("LPOP l 0", "*0\r\n"),
            ("LPOP l 2", &bulks(&["b", "c"])),
            ("RPOP l 9223372036854775807", &bulks(&["d"])),
            ("EXISTS l", ":0\r\n"),
            ("LPOP l", "$-1\r\n"),
            ("LPOP l 1", "*-1\r\n"),
            ("RPOP l 0", "*-1\r\n"),
            ("LPOP l -1", positive),
            ("LPOP l x", positive),
            (
                "LPOP l 1 2",
                "-ERR wrong number of arguments for 'lpop' command\r\n",
            ),
            ("RPUSH l a b c", ":3\r\n"),
            ("RPOP l 2", &bulks(&["c", "b"])),
        ],
    );
}

/// The same pops in RESP3: nulls are `_`, arrays stay arrays.
#[test]
fn pop_reply_shapes_resp3() {
    let server = start();
    let mut c = server.raw();
    send(&mut c, "HELLO 3");
    expect(
        &mut c,
        &[
            ("RPUSH l a b", ":2\r\n"),
            ("LPOP l 0", "*0\r\n"),
            ("LPOP l 5", &bulks(&["a", "b"])),
            ("LPOP l", "_\r\n"),
            ("LPOP l 1", "_\r\n"),
            ("LINDEX l 0", "_\r\n"),
            ("LPOS l a", "_\r\n"),
            ("LPOS l a COUNT 0", "*0\r\n"),
            ("LMPOP 1 l LEFT", "_\r\n"),
            ("LMOVE l m LEFT LEFT", "_\r\n"),
            ("RPUSH l a", ":1\r\n"),
            ("LMPOP 1 l LEFT", "*2\r\n$1\r\nl\r\n*1\r\n$1\r\na\r\n"),
        ],
    );
}

/// LINDEX and LRANGE read negative indexes from the tail, clamp ranges as Redis does
/// and answer out-of-range reads with null or an empty array.
#[test]
fn indexes_and_ranges() {
    let server = start();
    let mut c = server.raw();
    let not_int = "-ERR value is not an integer or out of range\r\n";
    expect(
        &mut c,
        &[
            ("RPUSH l a b c d e", ":5\r\n"),
            ("LINDEX l 0", "$1\r\na\r\n"),
            ("LINDEX l -1", "$1\r\ne\r\n"),
            ("LINDEX l -5", "$1\r\na\r\n"),
            ("LINDEX l -6", "$-1\r\n"),
            ("LINDEX l 5", "$-1\r\n"),
            ("LINDEX l 9223372036854775807", "$-1\r\n"),
            ("LINDEX l -9223372036854775808", "$-1\r\n"),
            ("LINDEX l 1.0", not_int),
            // The key is looked up before the index is parsed.
            ("LINDEX missing x", "$-1\r\n"),
            ("LRANGE l 1 3", &bulks(&["b", "c", "d"])),
            ("LRANGE l -2 -1", &bulks(&["d", "e"])),
            ("LRANGE l -100 100", &bulks(&["a", "b", "c", "d", "e"])),
            ("LRANGE l 3 1", "*0\r\n"),
            ("LRANGE l 5 10", "*0\r\n"),
            ("LRANGE l 0 -6", "*0\r\n"),
            (
                "LRANGE l -9223372036854775808 9223372036854775807",
                &bulks(&["a", "b", "c", "d", "e"]),
            ),
            ("LRANGE missing 0 -1", "*0\r\n"),
            // Indexes are parsed before the key is looked up.
            ("LRANGE missing x 1", not_int),
        ],
    );
}

/// LSET replaces in place, with Redis's errors for a missing key and a bad index.
#[test]
fn lset_replaces() {
    let server = start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("RPUSH l a b c", ":3\r\n"),
            ("LSET l 0 A", "+OK\r\n"),
            ("LSET l -1 \\x00\\x01", "+OK\r\n"),
            ("LSET l 1 12345", "+OK\r\n"),
            (
                "LRANGE l 0 -1",
                "*3\r\n$1\r\nA\r\n$5\r\n12345\r\n$2\r\n\x00\x01\r\n",
            ),
            ("LSET l 3 x", "-ERR index out of range\r\n"),
            ("LSET l -4 x", "-ERR index out of range\r\n"),
            (
                "LSET l x y",
                "-ERR value is not an integer or out of range\r\n",
            ),
            ("LSET missing 0 v", "-ERR no such key\r\n"),
            ("LSET missing x v", "-ERR no such key\r\n"),
        ],
    );
}

/// LINSERT inserts next to the first pivot from the head: the new length, -1 without
/// the pivot, 0 without the key.
#[test]
fn linsert_next_to_the_first_pivot() {
    let server = start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("RPUSH l a b a", ":3\r\n"),
            ("LINSERT l BEFORE a x", ":4\r\n"),
            ("LINSERT l after a y", ":5\r\n"),
            ("LINSERT l AFTER a ''", ":6\r\n"),
            ("LRANGE l 0 -1", &bulks(&["x", "a", "", "y", "b", "a"])),
            ("LINSERT l BEFORE zzz v", ":-1\r\n"),
            ("LINSERT missing BEFORE a v", ":0\r\n"),
            ("LINSERT missing AROUND a v", "-ERR syntax error\r\n"),
            ("EXISTS missing", ":0\r\n"),
        ],
    );
}

/// LREM removes matches from the head (count > 0), the tail (count < 0) or all (0),
/// and a list it empties is deleted.
#[test]
fn lrem_directions() {
    let server = start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("RPUSH l a b a c a b a", ":7\r\n"),
            ("LREM l 2 a", ":2\r\n"),
            ("LRANGE l 0 -1", &bulks(&["b", "c", "a", "b", "a"])),
            ("LREM l -1 b", ":1\r\n"),
            ("LRANGE l 0 -1", &bulks(&["b", "c", "a", "a"])),
            ("LREM l 0 a", ":2\r\n"),
            ("LREM l 0 zzz", ":0\r\n"),
            (
                "LREM l x a",
                "-ERR value is not an integer or out of range\r\n",
            ),
            ("LREM missing 1 a", ":0\r\n"),
            ("LREM l -9223372036854775808 b", ":1\r\n"),
            ("LREM l 9223372036854775807 c", ":1\r\n"),
            ("EXISTS l", ":0\r\n"),
        ],
    );
}

/// LTRIM keeps a range and deletes the key when the range is empty.
#[test]
fn ltrim_keeps_a_range() {
    let server = start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("RPUSH l 1 2 3 4 5 6", ":6\r\n"),
            ("LTRIM l 1 -2", "+OK\r\n"),
            ("LRANGE l 0 -1", &bulks(&["2", "3", "4", "5"])),
            ("LTRIM l -2 100", "+OK\r\n"),
            ("LRANGE l 0 -1", &bulks(&["4", "5"])),
            (
                "LTRIM l x 0",
                "-ERR value is not an integer or out of range\r\n",
            ),
            ("LTRIM missing 0 1", "+OK\r\n"),
            ("LTRIM l 1 0", "+OK\r\n"),
            ("EXISTS l", ":0\r\n"),
        ],
    );
}

/// LPOS finds positions with RANK, COUNT and MAXLEN, refuses bad options with Redis's
/// texts, and does not allocate for a huge COUNT.
#[test]
fn lpos_options() {
    let server = start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("RPUSH l a b c 1 2 3 c c", ":8\r\n"),
            ("LPOS l c", ":2\r\n"),
            ("LPOS l c RANK 2", ":6\r\n"),
            ("LPOS l c RANK -1", ":7\r\n"),
            ("LPOS l c RANK -4", "$-1\r\n"),
            ("LPOS l c COUNT 0", "*3\r\n:2\r\n:6\r\n:7\r\n"),
            ("LPOS l c COUNT 2 RANK -1", "*2\r\n:7\r\n:6\r\n"),
            ("LPOS l c COUNT 9223372036854775807", "*3\r\n:2\r\n:6\r\n:7\r\n"),
            ("LPOS l c MAXLEN 3", ":2\r\n"),
            ("LPOS l c MAXLEN 2", "$-1\r\n"),
            ("LPOS l c MAXLEN 2 COUNT 5", "*0\r\n"),
            ("LPOS l 1", ":3\r\n"),
            ("LPOS l 01", "$-1\r\n"),
            // Redis negates LONG_MIN into itself: every match counts, COUNT never stops.
            ("LPOS l c RANK -9223372036854775808 COUNT 1", "*3\r\n:7\r\n:6\r\n:2\r\n"),
            (
                "LPOS l c RANK 0",
                "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                 second ... or use negative to start from the end of the list\r\n",
            ),
            ("LPOS l c RANK x", "-ERR value is not an integer or out of range\r\n"),
            ("LPOS l c COUNT -1", "-ERR COUNT can't be negative\r\n"),
            ("LPOS l c COUNT x", "-ERR COUNT can't be negative\r\n"),
            ("LPOS l c MAXLEN -1", "-ERR MAXLEN can't be negative\r\n"),
            ("LPOS l c RANK", "-ERR syntax error\r\n"),
            ("LPOS l c FOO 1", "-ERR syntax error\r\n"),
            ("LPOS missing c", "$-1\r\n"),
            ("LPOS missing c COUNT 1", "*0\r\n"),
            ("LPOS missing c RANK 0", "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n"),
        ],
    );
}

/// LMOVE moves in all four directions, rotates a list onto itself, and RPOPLPUSH is
/// LMOVE RIGHT LEFT; emptied sources are deleted.
#[test]
fn moves_and_rotation() {
    let server = start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("RPUSH src a b c d", ":4\r\n"),
            ("LMOVE src dst LEFT RIGHT", "$1\r\na\r\n"),
            ("LMOVE src dst RIGHT LEFT", "$1\r\nd\r\n"),
            ("LMOVE src dst left left", "$1\r\nb\r\n"),
            ("LMOVE src dst RIGHT right", "$1\r\nc\r\n"),
            ("EXISTS src", ":0\r\n"),
            ("LRANGE dst 0 -1", &bulks(&["b", "d", "a", "c"])),
            ("LMOVE dst dst LEFT RIGHT", "$1\r\nb\r\n"),
            ("LRANGE dst 0 -1", &bulks(&["d", "a", "c", "b"])),
            ("RPOPLPUSH dst dst", "$1\r\nb\r\n"),
            ("LRANGE dst 0 -1", &bulks(&["b", "d", "a", "c"])),
            ("LMOVE dst dst UP LEFT", "-ERR syntax error\r\n"),
            ("LMOVE missing dst LEFT LEFT", "$-1\r\n"),
            ("RPOPLPUSH missing dst", "$-1\r\n"),
            ("RPUSH one x", ":1\r\n"),
            ("RPOPLPUSH one one", "$1\r\nx\r\n"),
            ("LRANGE one 0 -1", &bulks(&["x"])),
        ],
    );
}

/// LMPOP pops from the first non-empty key, up to COUNT elements, with Redis's argument
/// errors.
#[test]
fn lmpop_first_non_empty() {
    let server = start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("RPUSH b 1 2 3 4 5", ":5\r\n"),
            ("LMPOP 3 a b c LEFT", "*2\r\n$1\r\nb\r\n*1\r\n$1\r\n1\r\n"),
            (
                "LMPOP 3 a b c RIGHT COUNT 2",
                "*2\r\n$1\r\nb\r\n*2\r\n$1\r\n5\r\n$1\r\n4\r\n",
            ),
            (
                "LMPOP 1 b LEFT COUNT 100",
                "*2\r\n$1\r\nb\r\n*2\r\n$1\r\n2\r\n$1\r\n3\r\n",
            ),
            ("EXISTS b", ":0\r\n"),
            ("LMPOP 2 a b LEFT", "*-1\r\n"),
            (
                "LMPOP 0 a LEFT",
                "-ERR numkeys should be greater than 0\r\n",
            ),
            (
                "LMPOP x a LEFT",
                "-ERR numkeys should be greater than 0\r\n",
            ),
            ("LMPOP 5 a LEFT", "-ERR syntax error\r\n"),
            ("LMPOP 1 a MIDDLE", "-ERR syntax error\r\n"),
            (
                "LMPOP 1 a LEFT COUNT 0",
                "-ERR count should be greater than 0\r\n",
            ),
            ("LMPOP 1 a LEFT COUNT", "-ERR syntax error\r\n"),
            ("LMPOP 1 a LEFT COUNT 1 COUNT 1", "-ERR syntax error\r\n"),
            ("LMPOP 9223372036854775807 a LEFT", "-ERR syntax error\r\n"),
        ],
    );
}

/// The blocking forms serve at once from a non-empty key (first non-empty key wins), and
/// check their timeouts in Redis's order.
#[test]
fn blocking_forms_served_at_once() {
    let server = start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("RPUSH a 1 2 3", ":3\r\n"),
            ("RPUSH b x y", ":2\r\n"),
            ("BLPOP missing a b 0", &bulks(&["a", "1"])),
            ("BRPOP missing b a 0", &bulks(&["b", "y"])),
            ("BLMOVE b a LEFT RIGHT 0", "$1\r\nx\r\n"),
            ("EXISTS b", ":0\r\n"),
            ("BRPOPLPUSH a c 0", "$1\r\nx\r\n"),
            (
                "BLMPOP 0 2 missing a RIGHT COUNT 5",
                "*2\r\n$1\r\na\r\n*2\r\n$1\r\n3\r\n$1\r\n2\r\n",
            ),
            ("BLPOP a -1", "-ERR timeout is negative\r\n"),
            (
                "BLPOP a x",
                "-ERR timeout is not a float or out of range\r\n",
            ),
            ("BLMOVE a c UP LEFT x", "-ERR syntax error\r\n"),
            (
                "BRPOPLPUSH a c x",
                "-ERR timeout is not a float or out of range\r\n",
            ),
            // BLMPOP checks its other arguments before the timeout.
            (
                "BLMPOP x 0 a LEFT",
                "-ERR numkeys should be greater than 0\r\n",
            ),
            (
                "BLMPOP x 1 a LEFT",
                "-ERR timeout is not a float or out of range\r\n",
            ),
            ("BLPOP missing 0.01", "*-1\r\n"),
            ("BLMPOP 0.01 1 missing LEFT", "*-1\r\n"),
        ],
    );
}

/// Binary elements, empty strings and number-like strings come back byte for byte (only
/// canonical integers are stored as numbers).
#[test]
fn elements_are_binary_safe() {
    let server = start();
    let mut c = server.raw();
    let values: Vec<&[u8]> = vec![
        b"\x00\xff\r\n",
        b"",
        b"01",
        b"-0",
        b"+1",
        b" 1",
        b"1.5",
        b"9223372036854775807",
        b"-9223372036854775808",
        b"9223372036854775808",
        b"-2048",
        b"127",
        b"128",
    ];
    let mut args: Vec<&[u8]> = vec![b"RPUSH", b"bin\x00key"];
    args.extend(&values);
    c.send_cmd(&args);
    assert_eq!(
        c.read_reply(),
        format!(":{}\r\n", values.len()).into_bytes()
    );
    c.send_cmd(&[b"LRANGE", b"bin\x00key", b"0", b"-1"]);
    let mut expected = format!("*{}\r\n", values.len()).into_bytes();
    for v in &values {
        expected.extend(format!("${}\r\n", v.len()).bytes());
        expected.extend_from_slice(v);
        expected.extend_from_slice(b"\r\n");
    }
    assert_eq!(c.read_reply(), expected);
    expect(
        &mut c,
        &[
            ("LPOS bin\\x00key 01", ":2\r\n"),
            ("LPOS bin\\x00key 1", "$-1\r\n"),
            ("LPOS bin\\x00key 128", ":12\r\n"),
            ("LPOS bin\\x00key ''", ":1\r\n"),
        ],
    );
}

/// Redis 7.0 lists are always `quicklist`, whatever their size and whatever
/// `list-max-listpack-size` (and its old name) is set to; every setting keeps the list
/// intact across node boundaries.
#[test]
fn encoding_is_quicklist_at_every_fill() {
    let server = start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("RPUSH one a", ":1\r\n"),
            ("OBJECT ENCODING one", "$9\r\nquicklist\r\n"),
        ],
    );
    for fill in ["-5", "-1", "0", "1", "3", "128"] {
        let set = format!("CONFIG SET list-max-listpack-size {fill}");
        expect(&mut c, &[(set.as_str(), "+OK\r\n"), ("DEL l", ":0\r\n")]);
        let elements: Vec<String> = (0..300)
            .map(|i| format!("{i}-{}", "x".repeat(i % 50)))
            .collect();
        let mut args: Vec<&[u8]> = vec![b"RPUSH", b"l"];
        args.extend(elements.iter().map(|e| e.as_bytes()));
        c.send_cmd(&args);
        assert_eq!(c.read_reply(), b":300\r\n");
        expect(&mut c, &[("OBJECT ENCODING l", "$9\r\nquicklist\r\n")]);
        let middle = format!("${}\r\n{}\r\n", elements[150].len(), elements[150]);
        expect(
            &mut c,
            &[("LINDEX l 150", &middle), ("LINDEX l -150", &middle)],
        );
        expect(&mut c, &[("LINSERT l AFTER 7-xxxxxxx big", ":301\r\n")]);
        expect(
            &mut c,
            &[("LINDEX l 8", "$3\r\nbig\r\n"), ("LREM l 0 big", ":1\r\n")],
        );
        let all: Vec<&str> = elements.iter().map(String::as_str).collect();
        expect(
            &mut c,
            &[("LRANGE l 0 -1", &bulks(&all)), ("DEL l", ":1\r\n")],
        );
    }
    expect(
        &mut c,
        &[
            ("CONFIG SET list-max-ziplist-size 7", "+OK\r\n"),
            (
                "CONFIG GET list-max-listpack-size",
                &bulks(&["list-max-listpack-size", "7"]),
            ),
        ],
    );
}

/// Elements larger than a node's byte limit get a node of their own and read back
/// whole, at both ends and in the middle.
#[test]
fn large_elements_span_nodes() {
    let server = start();
    let mut c = server.raw();
    let big = "z".repeat(20_000);
    let pairs = [
        (format!("RPUSH l a {big} b"), ":3\r\n".to_string()),
        (format!("LPUSH l {big}"), ":4\r\n".to_string()),
        ("LINDEX l 2".to_string(), format!("$20000\r\n{big}\r\n")),
        ("LINDEX l 0".to_string(), format!("$20000\r\n{big}\r\n")),
        ("LINDEX l 3".to_string(), "$1\r\nb\r\n".to_string()),
        (format!("LREM l 0 {big}"), ":2\r\n".to_string()),
        ("LRANGE l 0 -1".to_string(), bulks(&["a", "b"])),
    ];
    for (line, reply) in &pairs {
        assert_eq!(
            String::from_utf8_lossy(&send(&mut c, line)),
            *reply,
            "{line:.40}"
        );
    }
}

/// A long list built from both ends reads back in order at every position checked,
/// and LTRIM and pops with counts cut it where Redis would.
#[test]
fn long_list_over_many_nodes() {
    let server = start();
    let mut c = server.raw();
    for chunk in 0..20 {
        let mut args: Vec<Vec<u8>> = vec![b"RPUSH".to_vec(), b"l".to_vec()];
        args.extend((0..1000).map(|i| (chunk * 1000 + i).to_string().into_bytes()));
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        c.send_cmd(&refs);
        assert_eq!(
            c.read_reply(),
            format!(":{}\r\n", (chunk + 1) * 1000).into_bytes()
        );
    }
    expect(
        &mut c,
        &[
            ("LPUSH l -1 -2", ":20002\r\n"),
            ("LINDEX l 0", "$2\r\n-2\r\n"),
            ("LINDEX l 10002", "$5\r\n10000\r\n"),
            ("LINDEX l -1", "$5\r\n19999\r\n"),
            ("LPOS l 12345", ":12347\r\n"),
            ("LPOS l 12345 RANK -1", ":12347\r\n"),
            ("LRANGE l 9999 10001", &bulks(&["9997", "9998", "9999"])),
            ("LTRIM l 2 -2", "+OK\r\n"),
            ("LLEN l", ":19999\r\n"),
            ("LPOP l 2", &bulks(&["0", "1"])),
            ("RPOP l 2", &bulks(&["19998", "19997"])),
            ("LSET l 5000 x", "+OK\r\n"),
            ("LINDEX l 5000", "$1\r\nx\r\n"),
            ("LINDEX l 5001", "$4\r\n5003\r\n"),
            ("LREM l 0 x", ":1\r\n"),
            ("LLEN l", ":19994\r\n"),
        ],
    );
}
