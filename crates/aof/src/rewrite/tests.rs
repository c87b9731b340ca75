//! Shapes and contents of the rewrite commands; the exact bytes for small values are
//! checked against redis-server's own output in tests/redis_fixtures.rs.

use std::collections::BTreeSet;

use lodestone_store::stream::{Group, NodeLimits};
use lodestone_store::{EncodingLimits, StrValue, Stream, StreamId};

use super::*;
use crate::CommandReader;

fn commands_of(key: &[u8], entry: &Entry) -> Vec<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    key_commands(key, entry, &mut out);
    CommandReader::new(&out)
        .map(|c| c.expect("rewrite output reads back").args)
        .collect()
}

fn strs(args: &[Vec<u8>]) -> Vec<String> {
    args.iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

fn numbered(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("item{i}").into_bytes()).collect()
}

#[test]
fn strings_are_set_and_ttls_pexpireat() {
    let mut entry = Entry::new(Value::Str(StrValue::Int(-5)));
    assert_eq!(
        commands_of(b"k", &entry),
        vec![vec![b"SET".to_vec(), b"k".to_vec(), b"-5".to_vec()]]
    );
    entry.expire_ms = 1_700_000_000_000;
    let commands = commands_of(b"k", &entry);
    assert_eq!(strs(&commands[1]), ["PEXPIREAT", "k", "1700000000000"]);
}

#[test]
fn big_values_are_split_into_batches_of_64() {
    for n in [1, 63, 64, 65, 128, 129, 200] {
        let items = numbered(n);
        let list = ListValue::from_elements(-2, items.iter().map(Vec::as_slice));
        let mut entry = Entry::new(Value::List(list));
        entry.expire_ms = 5;
        let commands = commands_of(b"l", &entry);
        let (pexpire, pushes) = commands.split_last().unwrap();
        assert_eq!(pexpire[0], b"PEXPIREAT");
        assert_eq!(pushes.len(), n.div_ceil(REWRITE_ITEMS_PER_CMD), "n = {n}");
        let mut seen = Vec::new();
        for push in pushes {
            assert_eq!(push[..2], [b"RPUSH".to_vec(), b"l".to_vec()]);
            assert!(push.len() - 2 <= REWRITE_ITEMS_PER_CMD);
            seen.extend_from_slice(&push[2..]);
        }
        assert_eq!(seen, items, "n = {n}");
    }
}

#[test]
fn hashtable_encodings_write_every_element() {
    let limits = EncodingLimits::default();
    let members = numbered(700);
    let set = SetValue::from_members(members.iter().map(Vec::as_slice), &limits);
    assert_eq!(set.encoding(), "hashtable");
    let mut written = BTreeSet::new();
    for command in commands_of(b"s", &Entry::new(Value::Set(set))) {
        assert_eq!(command[0], b"SADD");
        assert!(command.len() - 2 <= REWRITE_ITEMS_PER_CMD);
        written.extend(command[2..].iter().cloned());
    }
    assert_eq!(written, members.into_iter().collect());

    let mut hash = HashValue::new();
    for i in 0..600 {
        hash.set(
            format!("f{i}").as_bytes(),
            format!("v{i}").as_bytes(),
            &limits,
        );
    }
    assert_eq!(hash.encoding(), "hashtable");
    let mut pairs = BTreeSet::new();
    for command in commands_of(b"h", &Entry::new(Value::Hash(hash))) {
        assert_eq!(command[0], b"HMSET");
        assert!((command.len() - 2) / 2 <= REWRITE_ITEMS_PER_CMD);
        for pair in command[2..].chunks(2) {
            pairs.insert((pair[0].clone(), pair[1].clone()));
        }
    }
    assert_eq!(pairs.len(), 600);
    assert!(pairs.contains(&(b"f599".to_vec(), b"v599".to_vec())));
}

#[test]
fn sorted_sets_write_scores_as_percent_17g() {
    let long_member = "m".repeat(100);
    let items = vec![
        (long_member.clone(), 0.1),
        ("b".to_string(), -0.0),
        ("c".to_string(), 1e-7),
    ];
    let zset = ZSetValue::from_items(items, &EncodingLimits::default());
    assert_eq!(zset.encoding(), "skiplist");
    let commands = commands_of(b"z", &Entry::new(Value::ZSet(zset)));
    assert_eq!(
        strs(&commands[0]),
        [
            "ZADD",
            "z",
            "-0",
            "b",
            "9.9999999999999995e-08",
            "c",
            "0.10000000000000001",
            &long_member
        ]
    );
}

#[test]
fn empty_stream_is_created_with_maxlen_0() {
    let mut stream = Stream::new();
    stream.last_id = StreamId::new(7, 3);
    let commands = commands_of(b"s", &Entry::new(Value::Stream(Box::new(stream))));
    let text: Vec<Vec<String>> = commands.iter().map(|c| strs(c)).collect();
    assert_eq!(
        text,
        [
            vec!["XADD", "s", "MAXLEN", "0", "0-1", "x", "y"],
            vec![
                "XSETID",
                "s",
                "7-3",
                "ENTRIESADDED",
                "0",
                "MAXDELETEDID",
                "0-0"
            ],
        ]
    );
}

#[test]
fn stream_entries_groups_and_claims() {
    let mut stream = Stream::new();
    let limits = NodeLimits {
        max_bytes: 4096,
        max_entries: 2,
    };
    // Several nodes, and entries whose fields differ from their node's first entry.
    for i in 1..=5u64 {
        let value = i.to_string();
        if i % 2 == 0 {
            stream.append(StreamId::new(i, 0), &[b"f", value.as_bytes()], limits);
        } else {
            stream.append(
                StreamId::new(i, 0),
                &[b"g", value.as_bytes(), b"h", b""],
                limits,
            );
        }
    }
    let mut group = Group::new(StreamId::new(5, 0), 5);
    group.create_consumer(b"c1", 0);
    group.assign(StreamId::new(2, 0), b"c1", 1000, 2);
    // A consumer listing only an ID the group's PEL lacks has nothing to claim, but
    // is still created.
    group.create_consumer(b"c2", 0);
    if let Some(c2) = group.consumers.get_mut(&b"c2"[..]) {
        c2.pel.insert(StreamId::new(4, 0));
    }
    stream.groups.insert(b"grp".to_vec(), group);
    let commands = commands_of(b"s", &Entry::new(Value::Stream(Box::new(stream))));
    let text: Vec<Vec<String>> = commands.iter().map(|c| strs(c)).collect();
    assert_eq!(text[0], ["XADD", "s", "1-0", "g", "1", "h", ""]);
    assert_eq!(text[1], ["XADD", "s", "2-0", "f", "2"]);
    assert_eq!(text[4], ["XADD", "s", "5-0", "g", "5", "h", ""]);
    assert_eq!(
        text[5],
        [
            "XSETID",
            "s",
            "5-0",
            "ENTRIESADDED",
            "5",
            "MAXDELETEDID",
            "0-0"
        ]
    );
    assert_eq!(
        text[6],
        ["XGROUP", "CREATE", "s", "grp", "5-0", "ENTRIESREAD", "5"]
    );
    assert_eq!(
        text[7],
        [
            "XCLAIM",
            "s",
            "grp",
            "c1",
            "0",
            "2-0",
            "TIME",
            "1000",
            "RETRYCOUNT",
            "2",
            "JUSTID",
            "FORCE"
        ]
    );
    assert_eq!(text[8], ["XGROUP", "CREATECONSUMER", "s", "grp", "c2"]);
    assert_eq!(text.len(), 9);
}

#[test]
fn file_level_commands() {
    let mut out = Vec::new();
    timestamp_annotation(1_700_000_000, &mut out);
    assert_eq!(out, b"#TS:1700000000\r\n");
    select_command(12, &mut out);
    function_load_command(b"#!lua name=x\n", &mut out);
    let commands: Vec<Vec<String>> = CommandReader::new(&out)
        .map(|c| strs(&c.unwrap().args))
        .collect();
    assert_eq!(
        commands,
        [
            vec!["SELECT", "12"],
            vec!["FUNCTION", "LOAD", "#!lua name=x\n"]
        ]
    );
}
