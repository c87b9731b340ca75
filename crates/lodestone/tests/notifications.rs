//! Keyspace notifications, compared with the reference `redis-server` event for event.
//!
//! Part one replays the case files of `tests/notifications/cases/*.txt` on lodestone and
//! on redis under several `notify-keyspace-events` settings: a `PSUBSCRIBE *` tap on
//! each server collects what every line published (a sentinel PUBLISH ends each batch,
//! so nothing waits on a timer) and the two streams must be identical, line by line.
//! Active expiry is off on both servers during a run, so `expired` comes only from the
//! lazy expiry the commands themselves cause and is deterministic.
//!
//! Part two checks the central events (`expired`, `new`, `keymiss`), the channel
//! formats and class masking with explicit expectations, on lodestone and, when it is
//! installed, on redis too (proving the expectations are Redis's).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{EventTap, RawConn, TestServer};

/// The `notify-keyspace-events` settings each case file runs under: everything, with
/// the classes outside `A` (`n`, `m`), keyevent only with a few classes, keyspace only
/// with the others.
const FLAG_VARIANTS: &[&str] = &["KEA", "KEAnm", "Elgxm", "K$shzn"];

/// One line of a case file.
enum Step {
    /// A command on client A, reply read.
    Command(Vec<Vec<u8>>),
    /// A command sent on client B, which blocks; the runner waits until it is blocked.
    Block(Vec<Vec<u8>>),
    /// Reads client B's pending reply.
    Unblocked,
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/notifications/cases")
}

/// The steps of a case file with their line numbers (redis-cli quoting; `#` comments).
fn read_case_file(path: &Path) -> Vec<(usize, Step)> {
    let text = std::fs::read(path).expect("read case file");
    let mut steps = Vec::new();
    for (index, line) in text.split(|&b| b == b'\n').enumerate() {
        let line = line.trim_ascii();
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let parse = |words: &[u8]| {
            lodestone_resp::split_args(words)
                .unwrap_or_else(|| panic!("{}:{}: bad quoting", path.display(), index + 1))
        };
        let step = if line == b"@B?" {
            Step::Unblocked
        } else if let Some(rest) = line.strip_prefix(b"@B ") {
            Step::Block(parse(rest))
        } else {
            Step::Command(parse(line))
        };
        steps.push((index + 1, step));
    }
    steps
}

/// A server under test: its tap and two clients.
struct Subject {
    a: RawConn,
    b: RawConn,
    tap: EventTap,
}

impl Subject {
    /// Fresh clients on an emptied server with `flags` and no active expiry.
    fn prepare(server: &TestServer, flags: &str) -> Subject {
        let mut a = server.raw();
        assert_eq!(a.cmd(&["FLUSHALL"]), b"+OK\r\n");
        assert_eq!(a.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), b"+OK\r\n");
        let set = a.cmd(&["CONFIG", "SET", "notify-keyspace-events", flags]);
        assert_eq!(set, b"+OK\r\n", "CONFIG SET notify-keyspace-events {flags}");
        let mut tap = EventTap::open(server.port);
        tap.drain();
        Subject {
            a,
            b: server.raw(),
            tap,
        }
    }

    /// Runs one step and returns the events it caused, as text.
    fn run(&mut self, step: &Step) -> Vec<String> {
        match step {
            Step::Command(args) => {
                self.a.send_cmd(&refs(args));
                self.a.read_reply();
            }
            Step::Block(args) => {
                self.b.send_cmd(&refs(args));
                self.wait_blocked();
            }
            Step::Unblocked => {
                self.b.read_reply();
            }
        }
        self.tap.drain_lines()
    }

    /// Waits (bounded) until client B is blocked.
    fn wait_blocked(&mut self) {
        let side = self.tap.side();
        let blocked = common::wait_for(Duration::from_secs(10), || {
            let info = side.cmd(&["INFO", "clients"]);
            String::from_utf8_lossy(&info).contains("blocked_clients:1\r\n")
        });
        assert!(blocked, "client B did not block");
    }
}

fn refs(args: &[Vec<u8>]) -> Vec<&[u8]> {
    args.iter().map(|a| a.as_slice()).collect()
}

/// The events of every line of `file` on `server`, in order.
fn events_of(server: &TestServer, flags: &str, steps: &[(usize, Step)]) -> Vec<Vec<String>> {
    let mut subject = Subject::prepare(server, flags);
    steps.iter().map(|(_, step)| subject.run(step)).collect()
}

fn case_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("cases dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no case files");
    files
}

/// Every line of every case file publishes exactly the events redis publishes (same
/// channels, messages and order), under each `notify-keyspace-events` variant.
#[test]
fn case_files_publish_the_same_events_as_redis() {
    let Some(redis) = TestServer::start_redis() else {
        return;
    };
    let lodestone = TestServer::start();
    let mut failures = Vec::new();
    let mut compared = 0;
    for flags in FLAG_VARIANTS {
        for file in case_files() {
            let steps = read_case_file(&file);
            let expected = events_of(&redis, flags, &steps);
            let got = events_of(&lodestone, flags, &steps);
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
            for (((line, _), want), have) in steps.iter().zip(&expected).zip(&got) {
                compared += 1;
                if want != have {
                    failures.push(format!(
                        "[{flags}] {}:{line}\n  redis:     {want:?}\n  lodestone: {have:?}",
                        name.clone().unwrap_or_default()
                    ));
                }
            }
        }
    }
    eprintln!("compared the events of {compared} lines");
    assert!(
        failures.is_empty(),
        "{} lines published other events than redis:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------
// Part two: the central events, with explicit expectations.
// ---------------------------------------------------------------------------------

/// Lodestone, and redis when installed: each expectation below must hold on both.
fn subjects() -> Vec<(&'static str, TestServer)> {
    let mut servers = vec![("lodestone", TestServer::start())];
    if let Some(redis) = TestServer::start_redis() {
        servers.push(("redis", redis));
    }
    servers
}

/// A client with `flags` set and a tap on its server.
fn client_and_tap(server: &TestServer, flags: &str) -> (RawConn, EventTap) {
    let mut client = server.raw();
    let set = client.cmd(&["CONFIG", "SET", "notify-keyspace-events", flags]);
    assert_eq!(set, b"+OK\r\n");
    let mut tap = EventTap::open(server.port);
    tap.drain();
    (client, tap)
}

/// Both channel kinds: `__keyspace@<db>__:<key>` carries the event,
/// `__keyevent@<db>__:<event>` the key, keyspace first.
#[test]
fn keyspace_and_keyevent_channels_have_redis_format() {
    for (name, server) in subjects() {
        let (mut c, mut tap) = client_and_tap(&server, "KEA");
        c.cmd(&["SET", "foo", "bar"]);
        assert_eq!(
            tap.drain_lines(),
            ["__keyspace@0__:foo set", "__keyevent@0__:set foo"],
            "{name}"
        );
    }
}

/// Events carry the number of the client's database, and MOVE reports each side in
/// its own database.
#[test]
fn events_carry_the_database_number() {
    for (name, server) in subjects() {
        let (mut c, mut tap) = client_and_tap(&server, "Kg$");
        c.cmd(&["SELECT", "5"]);
        c.cmd(&["SET", "k", "v"]);
        c.cmd(&["MOVE", "k", "9"]);
        assert_eq!(
            tap.drain_lines(),
            [
                "__keyspace@5__:k set",
                "__keyspace@5__:k move_from",
                "__keyspace@9__:k move_to"
            ],
            "{name}"
        );
    }
}

/// Only the enabled classes are published: with `g` alone, SET says nothing and DEL
/// does; without K or E nothing is published at all.
#[test]
fn classes_mask_events() {
    for (name, server) in subjects() {
        let (mut c, mut tap) = client_and_tap(&server, "Eg");
        c.cmd(&["SET", "k", "v"]);
        c.cmd(&["LPUSH", "l", "a"]);
        c.cmd(&["DEL", "k", "l"]);
        assert_eq!(
            tap.drain_lines(),
            ["__keyevent@0__:del k", "__keyevent@0__:del l"],
            "{name}"
        );
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "A"]),
            b"+OK\r\n"
        );
        c.cmd(&["SET", "k", "v"]);
        assert!(tap.drain_lines().is_empty(), "{name}");
    }
}

/// `new` comes from key creation only, before the command's own event, and is not
/// part of `A`.
#[test]
fn new_precedes_the_command_event() {
    for (name, server) in subjects() {
        let (mut c, mut tap) = client_and_tap(&server, "KA");
        c.cmd(&["LPUSH", "l", "a"]);
        assert_eq!(tap.drain_lines(), ["__keyspace@0__:l lpush"], "{name}");
        c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KAn"]);
        c.cmd(&["RPUSH", "l2", "a", "b"]);
        c.cmd(&["RPUSH", "l2", "c"]);
        assert_eq!(
            tap.drain_lines(),
            [
                "__keyspace@0__:l2 new",
                "__keyspace@0__:l2 rpush",
                "__keyspace@0__:l2 rpush"
            ],
            "{name}"
        );
    }
}

/// `keymiss` (class `m`, not in `A`) comes from read lookups that miss, not from
/// writes, nor from OBJECT.
#[test]
fn keymiss_only_for_read_misses() {
    for (name, server) in subjects() {
        let (mut c, mut tap) = client_and_tap(&server, "EA");
        c.cmd(&["GET", "nokey"]);
        assert!(tap.drain_lines().is_empty(), "{name}: keymiss is not in A");
        c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Em"]);
        c.cmd(&["GET", "nokey"]);
        c.cmd(&["LPOP", "nolist"]);
        c.cmd(&["OBJECT", "ENCODING", "nokey"]);
        c.cmd(&["HGET", "nohash", "f"]);
        assert_eq!(
            tap.drain_lines(),
            [
                "__keyevent@0__:keymiss nokey",
                "__keyevent@0__:keymiss nohash"
            ],
            "{name}"
        );
    }
}

/// A read of a key whose TTL passed deletes it with `expired`, then misses.
#[test]
fn lazy_expiry_publishes_expired() {
    for (name, server) in subjects() {
        let (mut c, mut tap) = client_and_tap(&server, "KEA");
        c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
        c.cmd(&["SET", "k", "v", "PX", "1"]);
        tap.drain();
        let expired = common::wait_for(Duration::from_secs(5), || {
            c.cmd(&["PTTL", "k"]) == b":-2\r\n"
        });
        assert!(expired, "{name}: key did not expire");
        assert_eq!(
            tap.drain_lines(),
            ["__keyspace@0__:k expired", "__keyevent@0__:expired k"],
            "{name}"
        );
        c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    }
}

/// Active expiry deletes an untouched key with `expired`, in the key's database.
#[test]
fn active_expiry_publishes_expired() {
    for (name, server) in subjects() {
        let (mut c, mut tap) = client_and_tap(&server, "Ex");
        c.cmd(&["SELECT", "3"]);
        c.cmd(&["SET", "k", "v", "PX", "20"]);
        let mut seen = Vec::new();
        // Active expiry runs 10 times a second: a bounded poll, never touching the key.
        let found = common::wait_for(Duration::from_secs(10), || {
            seen.extend(tap.drain_lines());
            !seen.is_empty()
        });
        assert!(found, "{name}: no expired event");
        assert_eq!(seen, ["__keyevent@3__:expired k"], "{name}");
    }
}
