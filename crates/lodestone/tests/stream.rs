//! Streams with real clients: a consumer-group work queue with a worker that dies
//! holding entries, blocking XREAD/XREADGROUP (wake-ups, `$`, FIFO service, group and
//! key deletion, timeouts, MULTI, CLIENT UNBLOCK), RESP3 reply shapes, and what
//! depends on the clock (`*` IDs, idle times, min-idle claims).
//!
//! `STREAM_TESTS_ON_REDIS=1` runs the same tests against the reference redis-server,
//! to prove the expectations written here are Redis's own. The effect stream of the
//! stream commands (Lodestone only) is checked in `tests/effects.rs`.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{expect_lines as expect, start_subject, start_subject_with, wait_for, RawConn};
use common::{send_line, TestServer};
use redis::Value;

/// The server under test (the reference redis-server with `STREAM_TESTS_ON_REDIS`).
fn start() -> TestServer {
    start_subject("STREAM_TESTS_ON_REDIS")
}

/// The same, with lodestone on several threads (for the tests with many clients).
fn start_threaded() -> TestServer {
    start_subject_with("STREAM_TESTS_ON_REDIS", &["--threads", "4"])
}

/// Sends a command without waiting for its reply.
fn send(conn: &mut RawConn, args: &[&str]) {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    conn.send_cmd(&args);
}

/// Waits (bounded) until the server reports `n` blocked clients.
fn wait_blocked(server: &TestServer, n: usize) {
    let mut probe = server.raw();
    let needle = format!("blocked_clients:{n}\r\n");
    let reached = wait_for(Duration::from_secs(10), || {
        let info = probe.cmd(&["INFO", "clients"]);
        String::from_utf8_lossy(&info).contains(&needle)
    });
    assert!(reached, "never saw {needle}");
}

/// The number of blocked clients right now.
fn blocked_clients(server: &TestServer) -> usize {
    let info = server.raw().cmd(&["INFO", "clients"]);
    let info = String::from_utf8_lossy(&info).into_owned();
    let line = info
        .lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .expect("blocked_clients in INFO");
    line.trim().parse().expect("a count")
}

/// The client id of a connection.
fn client_id(conn: &mut RawConn) -> String {
    let reply = conn.cmd(&["CLIENT", "ID"]);
    String::from_utf8_lossy(&reply[1..reply.len() - 2]).into_owned()
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

/// One entry as RESP: `[id, [field, value, ...]]`.
fn entry(id: &str, fields: &[&str]) -> String {
    let mut out = format!("*2\r\n{}*{}\r\n", bulk(id), fields.len());
    for f in fields {
        out.push_str(&bulk(f));
    }
    out
}

/// An XREAD/XREADGROUP reply in RESP2: `[[key, [entries]], ...]`.
fn read_reply(streams: &[(&str, &[String])]) -> String {
    let mut out = format!("*{}\r\n", streams.len());
    for (key, entries) in streams {
        out.push_str(&format!("*2\r\n{}*{}\r\n", bulk(key), entries.len()));
        for e in *entries {
            out.push_str(e);
        }
    }
    out
}

/// The same in RESP3: a map of key to entries.
fn read_reply3(streams: &[(&str, &[String])]) -> String {
    let mut out = format!("%{}\r\n", streams.len());
    for (key, entries) in streams {
        out.push_str(&format!("{}*{}\r\n", bulk(key), entries.len()));
        for e in *entries {
            out.push_str(e);
        }
    }
    out
}

fn text(reply: &[u8]) -> String {
    String::from_utf8_lossy(reply).into_owned()
}

fn now_ms() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH);
    since.expect("clock after 1970").as_millis() as u64
}

// ---------------------------------------------------------------------------------
// A work queue: producers, a consumer group of workers, one of which dies.
// ---------------------------------------------------------------------------------

fn query(conn: &mut redis::Connection, args: &[&str]) -> Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(conn)
        .unwrap_or_else(|e| panic!("{args:?} failed: {e}"))
}

fn string(value: &Value) -> String {
    match value {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        other => panic!("not a string: {other:?}"),
    }
}

fn int(value: &Value) -> i64 {
    match value {
        Value::Int(n) => *n,
        other => panic!("not an integer: {other:?}"),
    }
}

fn array(value: &Value) -> &[Value] {
    match value {
        Value::Array(items) => items,
        other => panic!("not an array: {other:?}"),
    }
}

/// The entries of a stream-reply entry list as `(id, fields)`.
fn entries(list: &Value) -> Vec<(String, Vec<String>)> {
    array(list)
        .iter()
        .map(|e| {
            let parts = array(e);
            let fields = array(&parts[1]).iter().map(string).collect();
            (string(&parts[0]), fields)
        })
        .collect()
}

/// A flat RESP2 name/value list as a map.
fn pairs(value: &Value) -> BTreeMap<String, Value> {
    array(value)
        .chunks(2)
        .map(|p| (string(&p[0]), p[1].clone()))
        .collect()
}

const PRODUCERS: usize = 3;
const PER_PRODUCER: usize = 1000;
const WORKERS: usize = 4;

/// What the workers saw, shared between their threads.
#[derive(Default)]
struct Ledger {
    /// How many XACKs returned 1 for each ID, over all workers.
    acked: Mutex<HashMap<String, usize>>,
    /// The `producer:seq` payload of every entry any worker was handed.
    payloads: Mutex<HashSet<String>>,
    acks: AtomicUsize,
    /// The IDs XAUTOCLAIM handed to a worker.
    claimed: Mutex<HashSet<String>>,
}

impl Ledger {
    /// Records a delivered entry and acknowledges it.
    fn handle(&self, conn: &mut redis::Connection, id: &str, fields: &[String]) {
        assert_eq!(fields.len(), 4, "entry {id} fields {fields:?}");
        assert_eq!(
            (fields[0].as_str(), fields[2].as_str()),
            ("producer", "seq")
        );
        let payload = format!("{}:{}", fields[1], fields[3]);
        self.payloads.lock().unwrap().insert(payload);
        if int(&query(conn, &["XACK", "q", "g", id])) == 1 {
            *self
                .acked
                .lock()
                .unwrap()
                .entry(id.to_string())
                .or_default() += 1;
            self.acks.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Three producers add 3000 entries to one stream while four workers of one consumer
/// group read and acknowledge them. One worker reads a few batches and dies without
/// acknowledging; the others take its entries over with XAUTOCLAIM once they have been
/// idle for 200 ms. In the end every entry was acknowledged exactly once (one XACK
/// returned 1 for it, over all workers), nothing is pending, and the stream still holds
/// all 3000 entries.
#[test]
fn work_queue_survives_a_dead_worker() {
    let server = start_threaded();
    let mut admin = server.client();
    let created = query(&mut admin, &["XGROUP", "CREATE", "q", "g", "$", "MKSTREAM"]);
    assert_eq!(created, Value::Okay);
    let deadline = Instant::now() + Duration::from_secs(90);
    let total = PRODUCERS * PER_PRODUCER;
    let ledger = Arc::new(Ledger::default());
    let stop = Arc::new(AtomicBool::new(false));

    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let mut conn = server.client();
            std::thread::spawn(move || {
                let producer = p.to_string();
                (0..PER_PRODUCER)
                    .map(|i| {
                        let seq = i.to_string();
                        let id = query(
                            &mut conn,
                            &["XADD", "q", "*", "producer", &producer, "seq", &seq],
                        );
                        string(&id)
                    })
                    .collect::<Vec<String>>()
            })
        })
        .collect();

    // The doomed worker: reads (never acknowledges) until it holds 15 entries, then
    // drops its connection.
    let doomed = {
        let mut conn = server.client();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while held.len() < 15 && Instant::now() < deadline {
                let args = [
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    "w0",
                    "COUNT",
                    "5",
                    "BLOCK",
                    "100",
                    "STREAMS",
                    "q",
                    ">",
                ];
                let reply = query(&mut conn, &args);
                if reply == Value::Nil {
                    continue;
                }
                for (id, _) in entries(&array(&array(&reply)[0])[1]) {
                    held.push(id);
                }
            }
            drop(conn);
            held
        })
    };

    let workers: Vec<_> = (1..WORKERS)
        .map(|w| {
            let mut conn = server.client();
            let ledger = Arc::clone(&ledger);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let name = format!("w{w}");
                let mut last_claim = Instant::now();
                while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                    let args = [
                        "XREADGROUP",
                        "GROUP",
                        "g",
                        &name,
                        "COUNT",
                        "10",
                        "BLOCK",
                        "100",
                        "STREAMS",
                        "q",
                        ">",
                    ];
                    let reply = query(&mut conn, &args);
                    if reply != Value::Nil {
                        let streams = array(&reply);
                        assert_eq!(streams.len(), 1);
                        assert_eq!(string(&array(&streams[0])[0]), "q");
                        for (id, fields) in entries(&array(&streams[0])[1]) {
                            ledger.handle(&mut conn, &id, &fields);
                        }
                    }
                    if last_claim.elapsed() >= Duration::from_millis(100) {
                        claim_stale(&mut conn, &name, &ledger);
                        last_claim = Instant::now();
                    }
                    if ledger.acks.load(Ordering::SeqCst) >= total {
                        stop.store(true, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();

    let mut produced = Vec::new();
    for p in producers {
        produced.extend(p.join().expect("producer thread"));
    }
    let lost = doomed.join().expect("doomed worker thread");
    for w in workers {
        w.join().expect("worker thread");
    }

    assert_eq!(produced.len(), total);
    let unique: HashSet<&String> = produced.iter().collect();
    assert_eq!(unique.len(), total, "XADD * returned a repeated ID");
    assert!(!lost.is_empty(), "the doomed worker never got an entry");
    let acked = ledger.acked.lock().unwrap();
    let missing: Vec<&String> = produced
        .iter()
        .filter(|id| !acked.contains_key(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} entries never acknowledged (e.g. {:?}); {} acks in all",
        missing.len(),
        &missing[..missing.len().min(5)],
        ledger.acks.load(Ordering::SeqCst)
    );
    assert!(
        acked.values().all(|&n| n == 1),
        "an entry acknowledged twice"
    );
    assert_eq!(
        acked.len(),
        total,
        "acknowledged IDs that were never produced"
    );
    let claimed = ledger.claimed.lock().unwrap();
    let unclaimed: Vec<&String> = lost.iter().filter(|id| !claimed.contains(*id)).collect();
    assert!(
        unclaimed.is_empty(),
        "entries the dead worker held were never claimed: {unclaimed:?}"
    );
    let payloads = ledger.payloads.lock().unwrap();
    assert_eq!(payloads.len(), total, "some payloads were never delivered");
    for p in 0..PRODUCERS {
        for i in 0..PER_PRODUCER {
            assert!(payloads.contains(&format!("{p}:{i}")), "payload {p}:{i}");
        }
    }

    let summary = query(&mut admin, &["XPENDING", "q", "g"]);
    assert_eq!(
        summary,
        Value::Array(vec![Value::Int(0), Value::Nil, Value::Nil, Value::Nil])
    );
    assert_eq!(query(&mut admin, &["XLEN", "q"]), Value::Int(total as i64));
    let groups = query(&mut admin, &["XINFO", "GROUPS", "q"]);
    let group = pairs(&array(&groups)[0]);
    let last = produced
        .iter()
        .max_by_key(|id| parse_id(id))
        .expect("an ID");
    assert_eq!(string(&group["last-delivered-id"]), *last);
    assert_eq!(group["pending"], Value::Int(0));
    assert_eq!(group["entries-read"], Value::Int(total as i64));
    assert_eq!(group["lag"], Value::Int(0));
    // The dead worker is still a consumer of the group, with nothing left pending.
    let consumers = query(&mut admin, &["XINFO", "CONSUMERS", "q", "g"]);
    let w0 = array(&consumers)
        .iter()
        .map(pairs)
        .find(|c| string(&c["name"]) == "w0")
        .expect("w0 is still listed");
    assert_eq!(w0["pending"], Value::Int(0));
}

/// One pass of XAUTOCLAIM over the whole PEL: entries idle for 200 ms move to this
/// worker, which handles them.
fn claim_stale(conn: &mut redis::Connection, name: &str, ledger: &Ledger) {
    let mut cursor = "0-0".to_string();
    for _ in 0..1000 {
        let reply = query(
            conn,
            &["XAUTOCLAIM", "q", "g", name, "200", &cursor, "COUNT", "50"],
        );
        let parts = array(&reply);
        assert_eq!(parts.len(), 3, "XAUTOCLAIM reply {reply:?}");
        assert!(array(&parts[2]).is_empty(), "no entry was deleted");
        for (id, fields) in entries(&parts[1]) {
            ledger.claimed.lock().unwrap().insert(id.clone());
            ledger.handle(conn, &id, &fields);
        }
        cursor = string(&parts[0]);
        if cursor == "0-0" {
            return;
        }
    }
    panic!("XAUTOCLAIM never finished its pass");
}

fn parse_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').expect("ms-seq");
    (ms.parse().expect("ms"), seq.parse().expect("seq"))
}

// ---------------------------------------------------------------------------------
// Blocking reads.
// ---------------------------------------------------------------------------------

/// XREAD BLOCK 0 on a key that does not exist yet is woken by the XADD that creates it,
/// and gets that entry as a one-stream reply.
#[test]
fn xread_on_a_missing_key_is_woken_by_xadd() {
    let server = start();
    let mut reader = server.raw();
    send(
        &mut reader,
        &["XREAD", "BLOCK", "0", "STREAMS", "nokey", "$"],
    );
    wait_blocked(&server, 1);
    let mut writer = server.raw();
    assert_eq!(
        writer.cmd(&["XADD", "nokey", "1-1", "f", "v"]),
        b"$3\r\n1-1\r\n"
    );
    let expected = read_reply(&[("nokey", &[entry("1-1", &["f", "v"])])]);
    assert_eq!(text(&reader.read_reply()), expected);
    // Explicit 0 on a missing key waits the same way.
    send(
        &mut reader,
        &["XREAD", "BLOCK", "0", "STREAMS", "other", "0"],
    );
    wait_blocked(&server, 1);
    writer.cmd(&["XADD", "other", "5-0", "a", "b"]);
    let expected = read_reply(&[("other", &[entry("5-0", &["a", "b"])])]);
    assert_eq!(text(&reader.read_reply()), expected);
}

/// `$` means "after the last ID when the command ran": entries added before blocking are
/// not returned, and only the new one is, even when more precede it.
#[test]
fn dollar_returns_only_entries_added_after_blocking() {
    let server = start();
    let mut writer = server.raw();
    writer.cmd(&["XADD", "s", "1-0", "old", "1"]);
    writer.cmd(&["XADD", "s", "2-0", "old", "2"]);
    let mut reader = server.raw();
    send(&mut reader, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    wait_blocked(&server, 1);
    writer.cmd(&["XADD", "s", "3-0", "new", "3"]);
    let expected = read_reply(&[("s", &[entry("3-0", &["new", "3"])])]);
    assert_eq!(text(&reader.read_reply()), expected);
    // An explicit ID below the top is served at once, whatever BLOCK says.
    let got = reader.cmd(&["XREAD", "BLOCK", "0", "STREAMS", "s", "1-0"]);
    let expected = read_reply(&[(
        "s",
        &[entry("2-0", &["old", "2"]), entry("3-0", &["new", "3"])],
    )]);
    assert_eq!(text(&got), expected);
    // After every entry is deleted, `$` is still the last generated ID.
    writer.cmd(&["XDEL", "s", "1-0", "2-0", "3-0"]);
    send(&mut reader, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    wait_blocked(&server, 1);
    writer.cmd(&["XADD", "s", "3-1", "f", "v"]);
    let expected = read_reply(&[("s", &[entry("3-1", &["f", "v"])])]);
    assert_eq!(text(&reader.read_reply()), expected);
}

/// Several plain readers blocked on one stream all get the same new entry.
#[test]
fn every_blocked_reader_gets_the_entry() {
    let server = start_threaded();
    let mut readers: Vec<RawConn> = (0..3).map(|_| server.raw()).collect();
    for (i, r) in readers.iter_mut().enumerate() {
        send(r, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
        wait_blocked(&server, i + 1);
    }
    let mut writer = server.raw();
    writer.cmd(&["XADD", "s", "7-7", "k", "v"]);
    let expected = read_reply(&[("s", &[entry("7-7", &["k", "v"])])]);
    for r in &mut readers {
        assert_eq!(text(&r.read_reply()), expected);
    }
    assert_eq!(blocked_clients(&server), 0);
}

/// A reader blocked on two streams is served from the one that receives an entry; the
/// reply names that stream only.
#[test]
fn blocked_reader_is_served_from_the_fed_stream() {
    let server = start();
    let mut writer = server.raw();
    writer.cmd(&["XADD", "a", "1-0", "x", "1"]);
    let mut reader = server.raw();
    send(
        &mut reader,
        &["XREAD", "BLOCK", "0", "STREAMS", "a", "b", "$", "$"],
    );
    wait_blocked(&server, 1);
    writer.cmd(&["XADD", "b", "2-0", "y", "2"]);
    let expected = read_reply(&[("b", &[entry("2-0", &["y", "2"])])]);
    assert_eq!(text(&reader.read_reply()), expected);
}

/// Entries added in one transaction reach a blocked reader together; its COUNT bounds
/// what it gets.
#[test]
fn blocked_reader_gets_a_transaction_s_entries_up_to_count() {
    let server = start();
    let mut all = server.raw();
    let mut two = server.raw();
    send(&mut all, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    wait_blocked(&server, 1);
    send(
        &mut two,
        &["XREAD", "COUNT", "2", "BLOCK", "0", "STREAMS", "s", "$"],
    );
    wait_blocked(&server, 2);
    let mut writer = server.raw();
    expect(
        &mut writer,
        &[
            ("MULTI", "+OK\r\n"),
            ("XADD s 1-0 n 1", "+QUEUED\r\n"),
            ("XADD s 2-0 n 2", "+QUEUED\r\n"),
            ("XADD s 3-0 n 3", "+QUEUED\r\n"),
            ("EXEC", "*3\r\n$3\r\n1-0\r\n$3\r\n2-0\r\n$3\r\n3-0\r\n"),
        ],
    );
    let e = |i: usize| entry(&format!("{i}-0"), &["n", &i.to_string()]);
    assert_eq!(
        text(&all.read_reply()),
        read_reply(&[("s", &[e(1), e(2), e(3)])])
    );
    assert_eq!(text(&two.read_reply()), read_reply(&[("s", &[e(1), e(2)])]));
}

/// An XADD undone in the same transaction does not wake a reader (the key it waits on
/// is gone again); a later XADD does.
#[test]
fn xadd_then_del_in_a_transaction_does_not_wake_xread() {
    let server = start();
    let mut reader = server.raw();
    send(&mut reader, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    wait_blocked(&server, 1);
    let mut writer = server.raw();
    expect(
        &mut writer,
        &[
            ("MULTI", "+OK\r\n"),
            ("XADD s 1-0 f v", "+QUEUED\r\n"),
            ("DEL s", "+QUEUED\r\n"),
            ("EXEC", "*2\r\n$3\r\n1-0\r\n:1\r\n"),
        ],
    );
    // Still blocked: a PING on another connection round-trips after the wake-up pass.
    assert_eq!(writer.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(blocked_clients(&server), 1);
    writer.cmd(&["XADD", "s", "2-0", "g", "w"]);
    let expected = read_reply(&[("s", &[entry("2-0", &["g", "w"])])]);
    assert_eq!(text(&reader.read_reply()), expected);
}

/// Two consumers of one group blocked with `>`: one XADD serves only the first to
/// block (FIFO); the second stays blocked until the next entry.
#[test]
fn xreadgroup_waiters_share_new_entries_first_come_first_served() {
    let server = start();
    let mut admin = server.raw();
    assert_eq!(
        admin.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]),
        b"+OK\r\n"
    );
    let mut first = server.raw();
    let mut second = server.raw();
    send(
        &mut first,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "a",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
    );
    wait_blocked(&server, 1);
    send(
        &mut second,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "b",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
    );
    wait_blocked(&server, 2);
    admin.cmd(&["XADD", "s", "1-0", "job", "1"]);
    let expected = read_reply(&[("s", &[entry("1-0", &["job", "1"])])]);
    assert_eq!(text(&first.read_reply()), expected);
    assert_eq!(admin.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(
        blocked_clients(&server),
        1,
        "the second consumer stays blocked"
    );
    admin.cmd(&["XADD", "s", "2-0", "job", "2"]);
    let expected = read_reply(&[("s", &[entry("2-0", &["job", "2"])])]);
    assert_eq!(text(&second.read_reply()), expected);
    let summary = admin.cmd(&["XPENDING", "s", "g"]);
    assert_eq!(
        text(&summary),
        "*4\r\n:2\r\n$3\r\n1-0\r\n$3\r\n2-0\r\n*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n\
         *2\r\n$1\r\nb\r\n$1\r\n1\r\n"
    );
}

/// A consumer blocked with NOACK and COUNT is served like the synchronous form: the
/// entries are delivered but not pending, and the group's last ID moves.
#[test]
fn blocked_xreadgroup_noack_with_count() {
    let server = start();
    let mut admin = server.raw();
    admin.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    let mut reader = server.raw();
    send(
        &mut reader,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "COUNT",
            "1",
            "NOACK",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
    );
    wait_blocked(&server, 1);
    expect(
        &mut admin,
        &[
            ("MULTI", "+OK\r\n"),
            ("XADD s 1-0 a 1", "+QUEUED\r\n"),
            ("XADD s 2-0 a 2", "+QUEUED\r\n"),
            ("EXEC", "*2\r\n$3\r\n1-0\r\n$3\r\n2-0\r\n"),
        ],
    );
    let expected = read_reply(&[("s", &[entry("1-0", &["a", "1"])])]);
    assert_eq!(text(&reader.read_reply()), expected);
    assert_eq!(
        text(&admin.cmd(&["XPENDING", "s", "g"])),
        "*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n"
    );
    let groups = admin.cmd(&["XINFO", "GROUPS", "s"]);
    assert!(
        text(&groups).contains("$17\r\nlast-delivered-id\r\n$3\r\n1-0\r\n"),
        "{}",
        text(&groups)
    );
}

/// A blocked XREADGROUP whose group is destroyed gets NOGROUP at once.
#[test]
fn blocked_xreadgroup_fails_when_its_group_is_destroyed() {
    let server = start();
    let mut admin = server.raw();
    admin.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    let mut reader = server.raw();
    send(
        &mut reader,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
    );
    wait_blocked(&server, 1);
    assert_eq!(admin.cmd(&["XGROUP", "DESTROY", "s", "g"]), b":1\r\n");
    assert_eq!(
        text(&reader.read_reply()),
        "-NOGROUP the consumer group this client was blocked on no longer exists\r\n"
    );
    assert_eq!(blocked_clients(&server), 0);
}

/// Deleting the stream (or replacing it with another type) ends every XREADGROUP
/// waiting on it with UNBLOCKED; plain XREAD waiters stay blocked until a new stream
/// gets an entry.
#[test]
fn deleting_the_stream_unblocks_group_readers_only() {
    let server = start();
    let mut admin = server.raw();
    admin.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    let mut group_reader = server.raw();
    let mut plain_reader = server.raw();
    send(
        &mut group_reader,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
    );
    wait_blocked(&server, 1);
    send(
        &mut plain_reader,
        &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
    );
    wait_blocked(&server, 2);
    assert_eq!(admin.cmd(&["DEL", "s"]), b":1\r\n");
    assert_eq!(
        text(&group_reader.read_reply()),
        "-UNBLOCKED the stream key no longer exists\r\n"
    );
    assert_eq!(admin.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(blocked_clients(&server), 1);
    admin.cmd(&["XADD", "s", "1-0", "f", "v"]);
    let expected = read_reply(&[("s", &[entry("1-0", &["f", "v"])])]);
    assert_eq!(text(&plain_reader.read_reply()), expected);

    // A SET over the stream ends the group reader the same way.
    admin.cmd(&["XGROUP", "CREATE", "s", "g", "$"]);
    send(
        &mut group_reader,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
    );
    wait_blocked(&server, 1);
    assert_eq!(admin.cmd(&["SET", "s", "string"]), b"+OK\r\n");
    assert_eq!(
        text(&group_reader.read_reply()),
        "-UNBLOCKED the stream key no longer exists\r\n"
    );
}

/// A BLOCK that times out replies with a null array (RESP3 null) after about that
/// long, for XREAD and XREADGROUP; a consumer that got nothing is not created.
#[test]
fn block_timeout_replies_null() {
    let server = start();
    let mut c = server.raw();
    let began = Instant::now();
    assert_eq!(
        c.cmd(&["XREAD", "BLOCK", "100", "STREAMS", "s", "$"]),
        b"*-1\r\n"
    );
    assert!(began.elapsed() >= Duration::from_millis(95));
    c.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    let began = Instant::now();
    let args = [
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "50",
        "STREAMS",
        "s",
        ">",
    ];
    assert_eq!(c.cmd(&args), b"*-1\r\n");
    assert!(began.elapsed() >= Duration::from_millis(45));
    assert_eq!(c.cmd(&["XINFO", "CONSUMERS", "s", "g"]), b"*0\r\n");
    let mut resp3 = server.raw();
    resp3.cmd(&["HELLO", "3"]);
    assert_eq!(
        resp3.cmd(&["XREAD", "BLOCK", "20", "STREAMS", "s", "$"]),
        b"_\r\n"
    );
    assert_eq!(resp3.cmd(&args), b"_\r\n");
    assert_eq!(blocked_clients(&server), 0);
}

/// Inside MULTI a BLOCK never waits: nothing to serve is a null array in EXEC's reply.
#[test]
fn block_inside_multi_replies_at_once() {
    let server = start();
    let mut c = server.raw();
    c.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    let began = Instant::now();
    expect(
        &mut c,
        &[
            ("MULTI", "+OK\r\n"),
            ("XREAD BLOCK 0 STREAMS s $", "+QUEUED\r\n"),
            ("XREADGROUP GROUP g c BLOCK 0 STREAMS s >", "+QUEUED\r\n"),
            ("XREAD BLOCK 0 STREAMS nokey 0", "+QUEUED\r\n"),
            ("EXEC", "*3\r\n*-1\r\n*-1\r\n*-1\r\n"),
        ],
    );
    assert!(began.elapsed() < Duration::from_secs(5));
}

/// CLIENT UNBLOCK ends a blocked XREAD as a timeout (null array), or with the
/// UNBLOCKED error.
#[test]
fn client_unblock_ends_a_blocked_read() {
    let server = start();
    let mut reader = server.raw();
    let id = client_id(&mut reader);
    let mut admin = server.raw();
    send(&mut reader, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    wait_blocked(&server, 1);
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id]), b":1\r\n");
    assert_eq!(reader.read_reply(), b"*-1\r\n");
    admin.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    send(
        &mut reader,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
    );
    wait_blocked(&server, 1);
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"]), b":1\r\n");
    assert_eq!(
        text(&reader.read_reply()),
        "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id]), b":0\r\n");
}

/// A blocked reader served in RESP3 gets a one-entry map.
#[test]
fn blocked_reader_is_served_a_map_in_resp3() {
    let server = start();
    let mut reader = server.raw();
    reader.cmd(&["HELLO", "3"]);
    send(&mut reader, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    wait_blocked(&server, 1);
    server.raw().cmd(&["XADD", "s", "1-0", "f", "v"]);
    let expected = read_reply3(&[("s", &[entry("1-0", &["f", "v"])])]);
    assert_eq!(text(&reader.read_reply()), expected);
}

// ---------------------------------------------------------------------------------
// RESP3 shapes.
// ---------------------------------------------------------------------------------

/// RESP3: XREAD and XREADGROUP reply with maps, XINFO with maps (null for absent
/// values), XPENDING's summary with nulls, NOMKSTREAM and COUNT 0 with null.
#[test]
fn resp3_replies_are_maps_and_nulls() {
    let server = start();
    let mut c = server.raw();
    c.cmd(&["HELLO", "3"]);
    c.cmd(&["XADD", "s", "1-0", "a", "1"]);
    c.cmd(&["XADD", "s", "2-0", "b", "2"]);
    c.cmd(&["XADD", "t", "3-0", "c", "3"]);
    let got = c.cmd(&["XREAD", "STREAMS", "s", "t", "0", "0"]);
    let expected = read_reply3(&[
        ("s", &[entry("1-0", &["a", "1"]), entry("2-0", &["b", "2"])]),
        ("t", &[entry("3-0", &["c", "3"])]),
    ]);
    assert_eq!(text(&got), expected);
    assert_eq!(c.cmd(&["XREAD", "STREAMS", "s", "$"]), b"_\r\n");
    assert_eq!(
        c.cmd(&["XADD", "nokey", "NOMKSTREAM", "1-0", "f", "v"]),
        b"_\r\n"
    );
    assert_eq!(c.cmd(&["XRANGE", "s", "-", "+", "COUNT", "0"]), b"_\r\n");
    let info = c.cmd(&["XINFO", "STREAM", "s"]);
    let expected = format!(
        "%10\r\n{}:2\r\n{}:1\r\n{}:2\r\n{}{}{}{}{}:2\r\n{}{}{}:0\r\n{}{}{}{}",
        bulk("length"),
        bulk("radix-tree-keys"),
        bulk("radix-tree-nodes"),
        bulk("last-generated-id"),
        bulk("2-0"),
        bulk("max-deleted-entry-id"),
        bulk("0-0"),
        bulk("entries-added"),
        bulk("recorded-first-entry-id"),
        bulk("1-0"),
        bulk("groups"),
        bulk("first-entry"),
        entry("1-0", &["a", "1"]),
        bulk("last-entry"),
        entry("2-0", &["b", "2"]),
    );
    assert_eq!(text(&info), expected);
    c.cmd(&["XGROUP", "CREATE", "s", "g", "0"]);
    c.cmd(&["XGROUP", "CREATE", "s", "h", "5-0"]);
    assert_eq!(
        text(&c.cmd(&["XPENDING", "s", "g"])),
        "*4\r\n:0\r\n_\r\n_\r\n_\r\n"
    );
    let got = c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "x",
        "COUNT",
        "1",
        "STREAMS",
        "s",
        ">",
    ]);
    assert_eq!(
        text(&got),
        read_reply3(&[("s", &[entry("1-0", &["a", "1"])])])
    );
    let groups = c.cmd(&["XINFO", "GROUPS", "s"]);
    let group = |name: &str, consumers: i64, pending: i64, last: &str, read: &str, lag: &str| {
        format!(
            "%6\r\n{}{}{}:{consumers}\r\n{}:{pending}\r\n{}{}{}{read}{}{lag}",
            bulk("name"),
            bulk(name),
            bulk("consumers"),
            bulk("pending"),
            bulk("last-delivered-id"),
            bulk(last),
            bulk("entries-read"),
            bulk("lag"),
        )
    };
    let expected = format!(
        "*2\r\n{}{}",
        group("g", 1, 1, "1-0", ":1\r\n", ":1\r\n"),
        group("h", 0, 0, "5-0", "_\r\n", "_\r\n")
    );
    assert_eq!(text(&groups), expected);
    let consumers = text(&c.cmd(&["XINFO", "CONSUMERS", "s", "g"]));
    let prefix = format!(
        "*1\r\n%3\r\n{}{}{}:1\r\n{}:",
        bulk("name"),
        bulk("x"),
        bulk("pending"),
        bulk("idle")
    );
    assert!(consumers.starts_with(&prefix), "{consumers}");
    // A deleted entry read from the history is [id, null].
    c.cmd(&["XDEL", "s", "1-0"]);
    let got = c.cmd(&["XREADGROUP", "GROUP", "g", "x", "STREAMS", "s", "0"]);
    assert_eq!(
        text(&got),
        format!("%1\r\n{}*1\r\n*2\r\n{}_\r\n", bulk("s"), bulk("1-0"))
    );
}

// ---------------------------------------------------------------------------------
// The clock: `*` IDs, idle times, min-idle claims.
// ---------------------------------------------------------------------------------

/// `*` picks the current Unix time in milliseconds (sequence 0, or the next sequence in
/// the same millisecond); IDs only grow, and `ms-*` continues a millisecond's sequence.
#[test]
fn star_ids_follow_the_clock() {
    let server = start();
    let mut c = server.client();
    let before = now_ms();
    let first = parse_id(&string(&query(&mut c, &["XADD", "s", "*", "f", "v"])));
    let after = now_ms();
    assert!(
        (before..=after).contains(&first.0),
        "{first:?} not in {before}..={after}"
    );
    let mut last = first;
    for _ in 0..200 {
        let id = parse_id(&string(&query(&mut c, &["XADD", "s", "*", "f", "v"])));
        assert!(id > last, "{id:?} after {last:?}");
        assert!(id.0 == last.0 && id.1 == last.1 + 1 || id.0 > last.0 && id.1 == 0);
        last = id;
    }
    assert!(last.0 <= now_ms());
    let same_ms = format!("{}-*", last.0);
    let next = parse_id(&string(&query(&mut c, &["XADD", "s", &same_ms, "f", "v"])));
    assert_eq!(next, (last.0, last.1 + 1));
    // Once the top is in the future, `*` continues from it.
    let future = now_ms() + 3_600_000;
    let id = format!("{future}-5");
    query(&mut c, &["XADD", "s", &id, "f", "v"]);
    let star = string(&query(&mut c, &["XADD", "s", "*", "f", "v"]));
    assert_eq!(star, format!("{future}-6"));
}

/// An entry becomes claimable by min-idle only once it has been idle that long; a
/// claim with a higher min-idle than its idle time moves nothing.
#[test]
fn min_idle_claims_wait_for_the_idle_time() {
    let server = start();
    let mut c = server.raw();
    c.cmd(&["XADD", "s", "1-0", "f", "v"]);
    c.cmd(&["XGROUP", "CREATE", "s", "g", "0"]);
    c.cmd(&["XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", ">"]);
    let claimed = |c: &mut RawConn, cmd: &[&str]| c.cmd(cmd) != b"*0\r\n";
    let xclaim = ["XCLAIM", "s", "g", "b", "150", "1-0", "JUSTID"];
    assert!(!claimed(&mut c, &xclaim), "claimed before 150 ms idle");
    let auto = ["XAUTOCLAIM", "s", "g", "b", "3600000", "0", "JUSTID"];
    assert_eq!(
        text(&c.cmd(&auto)),
        "*3\r\n$3\r\n0-0\r\n*0\r\n*0\r\n",
        "XAUTOCLAIM took a fresh entry"
    );
    let began = Instant::now();
    let ok = wait_for(Duration::from_secs(10), || claimed(&mut c, &xclaim));
    assert!(ok, "never claimable");
    assert!(began.elapsed() >= Duration::from_millis(100));
    // The claim reset the idle time and moved the entry to b.
    let pending = text(&c.cmd(&["XPENDING", "s", "g", "-", "+", "10"]));
    assert!(
        pending.starts_with("*1\r\n*4\r\n$3\r\n1-0\r\n$1\r\nb\r\n:"),
        "{pending}"
    );
    assert!(!claimed(&mut c, &xclaim), "claimed again at once");
    // XAUTOCLAIM with min-idle 50 takes it back once 50 ms have passed.
    let auto = ["XAUTOCLAIM", "s", "g", "a", "50", "0", "JUSTID"];
    let ok = wait_for(Duration::from_secs(10), || {
        c.cmd(&auto) == b"*3\r\n$3\r\n0-0\r\n*1\r\n$3\r\n1-0\r\n*0\r\n"
    });
    assert!(ok, "XAUTOCLAIM never took the entry back");
}

/// Idle times: XCLAIM IDLE and TIME set the delivery time, XPENDING reports
/// now − delivery time and filters on it, XINFO STREAM FULL reports the delivery and
/// seen times as Unix milliseconds.
#[test]
fn idle_and_delivery_times() {
    let server = start();
    let mut c = server.client();
    query(&mut c, &["XADD", "s", "1-0", "f", "v"]);
    query(&mut c, &["XADD", "s", "2-0", "f", "v"]);
    query(&mut c, &["XGROUP", "CREATE", "s", "g", "0"]);
    let before = now_ms();
    query(
        &mut c,
        &["XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", ">"],
    );
    let after = now_ms();
    query(
        &mut c,
        &[
            "XCLAIM", "s", "g", "b", "0", "1-0", "IDLE", "7200000", "JUSTID",
        ],
    );
    let rows = query(&mut c, &["XPENDING", "s", "g", "-", "+", "10"]);
    let rows = array(&rows);
    let idle_1 = int(&array(&rows[0])[2]);
    assert!(
        (7_200_000..7_260_000).contains(&idle_1),
        "idle {idle_1} after IDLE 7200000"
    );
    assert_eq!(string(&array(&rows[0])[1]), "b");
    assert_eq!(
        int(&array(&rows[0])[3]),
        1,
        "JUSTID does not count a delivery"
    );
    let idle_2 = int(&array(&rows[1])[2]);
    assert!((0..60_000).contains(&idle_2), "idle {idle_2}");
    let old = query(
        &mut c,
        &["XPENDING", "s", "g", "IDLE", "3600000", "-", "+", "10"],
    );
    assert_eq!(array(&old).len(), 1);
    assert_eq!(string(&array(&array(&old)[0])[0]), "1-0");
    // TIME is absolute.
    let time = (now_ms() - 1_000_000).to_string();
    query(
        &mut c,
        &[
            "XCLAIM",
            "s",
            "g",
            "b",
            "0",
            "2-0",
            "TIME",
            &time,
            "RETRYCOUNT",
            "7",
            "JUSTID",
        ],
    );
    let rows = query(&mut c, &["XPENDING", "s", "g", "2-0", "2-0", "1"]);
    let row = array(&array(&rows)[0]);
    let idle = int(&row[2]);
    assert!((1_000_000..1_060_000).contains(&idle), "idle {idle}");
    assert_eq!(int(&row[3]), 7);

    // XINFO STREAM FULL: a's seen time is when it read; the delivery times follow
    // IDLE and TIME.
    let full = query(&mut c, &["XINFO", "STREAM", "s", "FULL"]);
    let full = pairs(&full);
    let group = pairs(&array(&full["groups"])[0]);
    let pending = array(&group["pending"]);
    let delivery = |row: &Value| int(&array(row)[2]) as u64;
    let first = delivery(&pending[0]);
    assert!(before.saturating_sub(7_200_000 + 1000) <= first && first <= now_ms() - 7_200_000);
    assert_eq!(delivery(&pending[1]), time.parse::<u64>().unwrap());
    let consumers = array(&group["consumers"]);
    let a = pairs(&consumers[0]);
    assert_eq!(string(&a["name"]), "a");
    let seen = int(&a["seen-time"]) as u64;
    assert!(
        (before..=after).contains(&seen),
        "seen-time {seen} not in {before}..={after}"
    );
    assert_eq!(a["pel-count"], Value::Int(0));
    let b = pairs(&consumers[1]);
    assert_eq!(b["pel-count"], Value::Int(2));
    let idle_a = query(&mut c, &["XINFO", "CONSUMERS", "s", "g"]);
    let idle_a = int(&pairs(&array(&idle_a)[0])["idle"]);
    assert!(
        idle_a >= 0 && (idle_a as u64) <= now_ms() - before,
        "idle {idle_a}"
    );
}

/// A history read (ID 0) counts a delivery and refreshes the delivery time, without
/// touching the group's last ID; a `>` read of nothing creates no consumer.
#[test]
fn history_reads_count_deliveries() {
    let server = start();
    let mut c = server.raw();
    expect(
        &mut c,
        &[
            ("XADD s 1-0 f v", "$3\r\n1-0\r\n"),
            ("XGROUP CREATE s g 0", "+OK\r\n"),
            (
                "XREADGROUP GROUP g a STREAMS s >",
                &read_reply(&[("s", &[entry("1-0", &["f", "v"])])]),
            ),
            (
                "XREADGROUP GROUP g a STREAMS s 0",
                &read_reply(&[("s", &[entry("1-0", &["f", "v"])])]),
            ),
            ("XREADGROUP GROUP g nobody STREAMS s >", "*-1\r\n"),
        ],
    );
    let pending = text(&send_line(&mut c, "XPENDING s g - + 10"));
    assert!(pending.starts_with("*1\r\n*4\r\n$3\r\n1-0\r\n$1\r\na\r\n:"));
    assert!(pending.ends_with(":2\r\n"), "{pending}");
    let consumers = text(&send_line(&mut c, "XINFO CONSUMERS s g"));
    assert!(consumers.starts_with("*1\r\n"), "{consumers}");
}
