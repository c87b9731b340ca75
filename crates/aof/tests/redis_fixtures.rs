//! Files written by redis-server 7.0.15 (tests/fixtures/aof, made by
//! scripts/make-aof-fixtures.sh) against this crate: the manifests parse and are written
//! back byte for byte, the manifest operations reproduce what the server did through two
//! rewrites, and the command form of each key is the one Redis wrote for the same data.

use std::collections::BTreeMap;
use std::path::PathBuf;

use lodestone_aof::rewrite::{function_load_command, select_command};
use lodestone_aof::{key_commands, CommandReader, FileType, Manifest};
use lodestone_store::stream::{Group, NodeLimits};
use lodestone_store::{
    EncodingLimits, Entry, HashValue, ListValue, SetValue, StrValue, Stream, StreamId, Value,
    ZSetValue,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/aof")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn redis_manifests_round_trip() {
    for name in [
        "manifest-start.manifest",
        "manifest-during-rewrite.manifest",
        "manifest-rewrite1.manifest",
        "manifest-rewrite2.manifest",
        "manifest-quoted.manifest",
    ] {
        let text = fixture(name);
        let manifest = Manifest::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(manifest.to_bytes(), text, "{name}");
    }
    let quoted = Manifest::parse(&fixture("manifest-quoted.manifest")).unwrap();
    assert_eq!(
        quoted.base.unwrap().name,
        "my \"odd\"\tfileé.aof.1.base.rdb".as_bytes()
    );
}

/// Start-up, then two BGREWRITEAOFs with AOF on, as the server did when writing the
/// fixtures: each rewrite opens a new incr file when it starts, and installs the new
/// base when it ends.
#[test]
fn manifest_operations_replay_the_servers_rewrites() {
    let prefix = b"appendonly.aof";
    let mut manifest = Manifest::parse(&fixture("manifest-start.manifest")).unwrap();
    assert_eq!(manifest.base.as_ref().map(|b| b.kind), Some(FileType::Base));

    manifest.new_incr(prefix);
    assert_eq!(
        manifest.to_bytes(),
        fixture("manifest-during-rewrite.manifest")
    );

    manifest.install_rewrite(prefix, true);
    assert_eq!(manifest.to_bytes(), fixture("manifest-rewrite1.manifest"));

    manifest.new_incr(prefix);
    manifest.install_rewrite(prefix, true);
    assert_eq!(manifest.to_bytes(), fixture("manifest-rewrite2.manifest"));
}

/// The base file's commands grouped by the key they rebuild (Redis writes a key's
/// commands together), as byte ranges of the file; commands without a key are kept
/// under their name.
fn commands_by_key(file: &[u8]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut groups: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut start = 0;
    for command in CommandReader::new(file) {
        let command = command.expect("Redis's base file reads cleanly");
        let name = command.args[0].to_ascii_uppercase();
        let key = match &name[..] {
            b"SELECT" | b"FUNCTION" => [&name[..], b" ", &command.args[1]].concat(),
            b"XGROUP" => command.args[2].clone(),
            _ => command.args[1].clone(),
        };
        groups
            .entry(key)
            .or_default()
            .extend_from_slice(&file[start..command.end]);
        start = command.end;
    }
    assert_eq!(start, file.len());
    groups
}

fn string(s: &str) -> Entry {
    Entry::new(Value::Str(StrValue::from_bytes(s.as_bytes())))
}

fn list<'a>(items: impl IntoIterator<Item = &'a str>) -> Entry {
    let items = items.into_iter().map(str::as_bytes);
    Entry::new(Value::List(ListValue::from_elements(-2, items)))
}

fn set<'a>(items: impl IntoIterator<Item = &'a str>) -> Entry {
    let items = items.into_iter().map(str::as_bytes);
    Entry::new(Value::Set(SetValue::from_members(
        items,
        &EncodingLimits::default(),
    )))
}

fn zset(items: Vec<(String, f64)>) -> Entry {
    Entry::new(Value::ZSet(ZSetValue::from_items(
        items,
        &EncodingLimits::default(),
    )))
}

fn hash(pairs: &[(String, String)]) -> Entry {
    let mut hash = HashValue::new();
    for (field, value) in pairs {
        hash.set(
            field.as_bytes(),
            value.as_bytes(),
            &EncodingLimits::default(),
        );
    }
    Entry::new(Value::Hash(hash))
}

fn id(ms: u64, seq: u64) -> StreamId {
    StreamId::new(ms, seq)
}

/// `st` of rewrite.commands: entries with a deletion, three groups, pending entries.
fn stream_st() -> Entry {
    let mut s = Stream::new();
    let limits = NodeLimits::default();
    s.append(id(1, 1), &[b"a", b"1", b"b", b"2"], limits);
    s.append(id(1, 2), &[b"a", b"3", b"b", b"4"], limits);
    s.append(id(2, 0), &[b"c", b"5"], limits);
    s.append(id(3, 0), &[b"a", b"6", b"b", b"7"], limits);
    assert_eq!(s.delete_ids(&[id(1, 2)]), 1);

    let mut g1 = Group::new(id(0, 0), -1);
    for consumer in [&b"alice"[..], b"bob", b"carol"] {
        g1.create_consumer(consumer, 0);
    }
    g1.assign(id(1, 1), b"carol", 1_700_000_000_000, 3);
    g1.assign(id(2, 0), b"carol", 1_700_000_000_123, 1);
    g1.assign(id(3, 0), b"alice", 1_700_000_000_456, 0);
    let mut g2 = Group::new(id(3, 0), -1);
    g2.create_consumer(b"dave", 0);
    s.groups.insert(b"g0".to_vec(), Group::new(id(1, 1), 1));
    s.groups.insert(b"g1".to_vec(), g1);
    s.groups.insert(b"g2".to_vec(), g2);
    Entry::new(Value::Stream(Box::new(s)))
}

/// An empty stream (created with MAXLEN 0, or emptied by XDEL).
fn empty_stream(last: StreamId, max_deleted: StreamId, groups: &[&str]) -> Entry {
    let mut s = Stream::new();
    s.last_id = last;
    s.entries_added = 1;
    s.max_deleted_id = max_deleted;
    for name in groups {
        s.groups
            .insert(name.as_bytes().to_vec(), Group::new(id(0, 0), -1));
    }
    Entry::new(Value::Stream(Box::new(s)))
}

fn with_ttl(mut entry: Entry, ms: i64) -> Entry {
    entry.expire_ms = ms;
    entry
}

/// The data of tests/fixtures/aof/rewrite.commands, built with the store's API.
fn fixture_keys() -> Vec<(&'static str, Entry)> {
    let n = |i: u32, prefix: &str| format!("{prefix}{i}");
    let l70: Vec<String> = (1..=70).map(|i| n(i, "e")).collect();
    let si70: Vec<String> = (1..=70).map(|i| (i * 3).to_string()).collect();
    let z70 = (1..=70).map(|i| (n(i, "m"), f64::from(i) / 4.0)).collect();
    let h70: Vec<(String, String)> = (1..=70).map(|i| (n(i, "f"), n(i, "v"))).collect();
    let z1 = [
        ("a", 1.0),
        ("b", 2.5),
        ("c", f64::NEG_INFINITY),
        ("d", 0.1),
        ("e", 1e20),
        ("f", 3.0),
        ("g", 1.0000000000000002),
        ("h", f64::INFINITY),
        ("i", -0.5),
        ("j", 123456789012345678.0),
    ];
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(f, v)| (f.to_string(), v.to_string()))
            .collect()
    };
    vec![
        ("s1", string("hello")),
        ("n1", string("12345")),
        ("neg", string("-7")),
        ("big", string(&"a".repeat(73))),
        ("empty", string("")),
        ("t1", with_ttl(string("v"), 4_102_444_800_000)),
        ("l1", list(["a", "b", "3", "-5", "x y", "99999999999"])),
        ("si", set(["5", "-3", "100", "70000"])),
        ("ss1", set(["hello"])),
        (
            "z1",
            zset(z1.iter().map(|(m, s)| (m.to_string(), *s)).collect()),
        ),
        ("h1", hash(&pairs(&[("f1", "v1"), ("f2", "2"), ("f3", "")]))),
        (
            "h2",
            with_ttl(hash(&pairs(&[("7", "8")])), 4_102_444_800_123),
        ),
        ("st", stream_st()),
        ("es", empty_stream(id(5, 5), id(0, 0), &[])),
        ("es2", empty_stream(id(1, 1), id(1, 1), &["grp"])),
        ("l70", list(l70.iter().map(String::as_str))),
        ("si70", set(si70.iter().map(String::as_str))),
        ("z70", zset(z70)),
        ("h70", hash(&h70)),
        ("other", string("db3")),
    ]
}

#[test]
fn key_commands_match_redis_rewrite() {
    let file = fixture("rewrite.base.aof");
    let expected = commands_by_key(&file);
    let keys = fixture_keys();
    for (key, entry) in &keys {
        let mut out = Vec::new();
        key_commands(key.as_bytes(), entry, &mut out);
        let want = expected
            .get(key.as_bytes())
            .unwrap_or_else(|| panic!("{key} missing from the fixture"));
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(want),
            "key {key}"
        );
    }
    // Every key of the fixture is covered, plus the SELECTs and the function.
    assert_eq!(expected.len(), keys.len() + 3);

    for db in [0, 3] {
        let mut out = Vec::new();
        select_command(db, &mut out);
        assert_eq!(expected[format!("SELECT {db}").as_bytes()], out);
    }
    let code = b"#!lua name=mylib\nredis.register_function('f1', function() return 1 end)";
    let mut out = Vec::new();
    function_load_command(code, &mut out);
    assert_eq!(expected[&b"FUNCTION LOAD"[..]], out);
}
