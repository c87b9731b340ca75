//! Stream load generator for `scripts/bench-streams.sh` (a benchmark, not a test).
//!
//!   stream_bench consume <port> <producers> <consumers> <entries> <count> <pipeline> <rate>
//!   stream_bench load <port> <key> <entries> <same|distinct>
//!
//! `consume`: a consumer group on a fresh stream. `producers` clients XADD `entries`
//! entries in all (`XADD bench:stream * ts <send time> v <32 bytes>`), `pipeline` per
//! write, at `rate` entries per second in all (0: as fast as the server takes them).
//! `consumers` clients in one group loop
//! `XREADGROUP GROUP g c<i> COUNT <count> BLOCK 100 STREAMS bench:stream >` then
//! `XACK bench:stream g <the ids read>` until every entry is acknowledged; at the end
//! no entry may be pending. Prints one line:
//! `produced_per_s processed_per_s entries_per_cycle cycle_p50_us cycle_p99_us e2e_p50_us e2e_p99_us`
//! where a cycle is one XREADGROUP that returned entries plus its XACK (empty reads are
//! not counted) and e2e is the delay from an entry's XADD being sent to its XACK reply.
//!
//! `load`: `entries` XADDs with explicit ids (ten per millisecond, so that every server
//! holds the same ids) and two short fields, 1000 per write, into `key`. With `same`
//! every entry has the field names `event` and `user`; with `distinct` every entry has
//! its own field names. Prints `entries_per_s`.
//!
//! Connections are TCP_NODELAY sockets speaking RESP through the `redis` crate's command
//! encoder and reply parser; one thread per connection keeps the tool simple, and the
//! client side is the same for every server measured, so ratios stay meaningful. Any
//! error reply (a command the server lacks) ends the tool with status 1.

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use redis::{Cmd, Parser, Value};

const STREAM: &str = "bench:stream";
const GROUP: &str = "g";
/// With every entry produced, how long no entry may be acknowledged before giving up.
const STALL: Duration = Duration::from_secs(10);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| -> usize {
        args.get(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| usage())
    };
    match args.first().map(String::as_str) {
        Some("consume") if args.len() == 8 => consume(&Consume {
            port: num(1) as u16,
            producers: num(2).max(1),
            consumers: num(3).max(1),
            entries: num(4).max(1),
            count: num(5).max(1),
            pipeline: num(6).max(1),
            rate: num(7),
        }),
        Some("load") if args.len() == 5 => {
            let distinct = match args[4].as_str() {
                "same" => false,
                "distinct" => true,
                _ => usage(),
            };
            load(num(1) as u16, &args[2], num(3), distinct)
        }
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: stream_bench consume <port> <producers> <consumers> <entries> <count> <pipeline> <rate>\n       stream_bench load <port> <key> <entries> <same|distinct>"
    );
    std::process::exit(2);
}

fn fail(what: &str, err: impl std::fmt::Display) -> ! {
    eprintln!("stream_bench: {what}: {err}");
    std::process::exit(1);
}

/// One connection: commands encoded by `redis::Cmd`, replies parsed by `redis::Parser`.
struct Conn {
    stream: TcpStream,
    parser: Parser,
}

impl Conn {
    fn open(port: u16) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| fail("connect", e));
        stream
            .set_nodelay(true)
            .unwrap_or_else(|e| fail("nodelay", e));
        Conn {
            stream,
            parser: Parser::new(),
        }
    }

    /// Sends already encoded commands in one write.
    fn send(&mut self, packed: &[u8]) {
        self.stream
            .write_all(packed)
            .unwrap_or_else(|e| fail("write", e));
    }

    /// Reads one reply; an error reply ends the tool.
    fn reply(&mut self, what: &str) -> Value {
        match self.parser.parse_value(&mut self.stream) {
            Ok(Value::ServerError(err)) => fail(what, format!("{err:?}")),
            Ok(value) => value,
            Err(err) => fail(what, err),
        }
    }

    fn call(&mut self, cmd: &Cmd, what: &str) -> Value {
        self.send(&cmd.get_packed_command());
        self.reply(what)
    }
}

struct Consume {
    port: u16,
    producers: usize,
    consumers: usize,
    entries: usize,
    count: usize,
    pipeline: usize,
    rate: usize,
}

/// What the consumers share: progress, the time the last entry was acknowledged, and
/// the signal to stop.
struct Shared {
    epoch: Instant,
    processed: AtomicUsize,
    last_ack_us: AtomicU64,
    finished_us: AtomicU64,
    stop: AtomicBool,
}

fn micros(since: Instant) -> u64 {
    since.elapsed().as_micros() as u64
}

fn consume(c: &Consume) {
    let mut admin = Conn::open(c.port);
    admin.call(redis::cmd("DEL").arg(STREAM), "DEL");
    admin.call(
        redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(STREAM)
            .arg(GROUP)
            .arg("$")
            .arg("MKSTREAM"),
        "XGROUP CREATE",
    );
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        processed: AtomicUsize::new(0),
        last_ack_us: AtomicU64::new(0),
        finished_us: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let ready = Arc::new(Barrier::new(c.producers + c.consumers + 1));
    let readers: Vec<_> = (0..c.consumers)
        .map(|i| {
            let (shared, ready) = (shared.clone(), ready.clone());
            let (port, entries, count) = (c.port, c.entries, c.count);
            std::thread::spawn(move || read_and_ack(port, i, entries, count, &shared, &ready))
        })
        .collect();
    // Producer i sends its share of the entries at its share of the rate.
    let writers: Vec<_> = (0..c.producers)
        .map(|i| {
            let share = c.entries / c.producers + usize::from(i < c.entries % c.producers);
            let rate = c.rate as f64 / c.producers as f64;
            let (shared, ready) = (shared.clone(), ready.clone());
            let (port, pipeline) = (c.port, c.pipeline);
            std::thread::spawn(move || produce(port, share, pipeline, rate, &shared, &ready))
        })
        .collect();
    ready.wait();
    let started = micros(shared.epoch);
    for writer in writers {
        writer.join().expect("producer");
    }
    let produced = micros(shared.epoch) - started;
    // Wait for the consumers; give up when nothing is acknowledged for STALL.
    loop {
        std::thread::sleep(Duration::from_millis(5));
        if shared.processed.load(Ordering::Acquire) >= c.entries {
            break;
        }
        let last = shared
            .last_ack_us
            .load(Ordering::Acquire)
            .max(started + produced);
        if micros(shared.epoch).saturating_sub(last) > STALL.as_micros() as u64 {
            shared.stop.store(true, Ordering::Release);
            fail(
                "stalled",
                format!(
                    "{} of {} entries acknowledged",
                    shared.processed.load(Ordering::Acquire),
                    c.entries
                ),
            );
        }
    }
    shared.stop.store(true, Ordering::Release);
    let mut cycles: Vec<u32> = Vec::new();
    let mut delays: Vec<u32> = Vec::with_capacity(c.entries);
    for reader in readers {
        let (c, d) = reader.join().expect("consumer");
        cycles.extend(c);
        delays.extend(d);
    }
    let processed = shared.finished_us.load(Ordering::Acquire) - started;
    // Nothing may be left pending: XPENDING's summary starts with the pending count.
    let pending = admin.call(redis::cmd("XPENDING").arg(STREAM).arg(GROUP), "XPENDING");
    match &pending {
        Value::Array(summary) if matches!(summary.first(), Some(Value::Int(0))) => {}
        other => fail("entries left pending", format!("{other:?}")),
    }
    admin.call(redis::cmd("DEL").arg(STREAM), "DEL");
    cycles.sort_unstable();
    delays.sort_unstable();
    println!(
        "{:.0} {:.0} {:.1} {} {} {} {}",
        c.entries as f64 * 1e6 / produced.max(1) as f64,
        c.entries as f64 * 1e6 / processed.max(1) as f64,
        c.entries as f64 / cycles.len().max(1) as f64,
        pct(&cycles, 0.50),
        pct(&cycles, 0.99),
        pct(&delays, 0.50),
        pct(&delays, 0.99),
    );
}

fn pct(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// One producer: `entries` XADDs, `pipeline` per write, each entry carrying its send
/// time in microseconds since the shared epoch; paced at `rate` entries/s unless 0.
fn produce(
    port: u16,
    entries: usize,
    pipeline: usize,
    rate: f64,
    shared: &Shared,
    ready: &Barrier,
) {
    let mut conn = Conn::open(port);
    let payload = "x".repeat(32);
    ready.wait();
    let start = Instant::now();
    let mut sent = 0;
    let mut batch = Vec::new();
    while sent < entries {
        if rate > 0.0 {
            let due = start + Duration::from_secs_f64(sent as f64 / rate);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        let n = pipeline.min(entries - sent);
        batch.clear();
        for _ in 0..n {
            let stamp = micros(shared.epoch);
            let xadd = redis::cmd("XADD")
                .arg(STREAM)
                .arg("*")
                .arg("ts")
                .arg(stamp)
                .arg("v")
                .arg(&payload)
                .get_packed_command();
            batch.extend_from_slice(&xadd);
        }
        conn.send(&batch);
        for _ in 0..n {
            conn.reply("XADD");
        }
        sent += n;
    }
}

/// One consumer: returns the duration of every non-empty XREADGROUP + XACK cycle and
/// every entry's delay from its XADD to its XACK reply, in microseconds.
fn read_and_ack(
    port: u16,
    index: usize,
    entries: usize,
    count: usize,
    shared: &Shared,
    ready: &Barrier,
) -> (Vec<u32>, Vec<u32>) {
    let mut conn = Conn::open(port);
    let read = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(GROUP)
        .arg(format!("c{index}"))
        .arg("COUNT")
        .arg(count)
        .arg("BLOCK")
        .arg(100)
        .arg("STREAMS")
        .arg(STREAM)
        .arg(">")
        .get_packed_command();
    let (mut cycles, mut delays) = (Vec::new(), Vec::new());
    let (mut ids, mut stamps) = (Vec::with_capacity(count), Vec::with_capacity(count));
    ready.wait();
    while !shared.stop.load(Ordering::Acquire) {
        let began = Instant::now();
        conn.send(&read);
        let reply = conn.reply("XREADGROUP");
        ids.clear();
        stamps.clear();
        collect_entries(reply, &mut ids, &mut stamps);
        if ids.is_empty() {
            continue;
        }
        let acked = match conn.call(redis::cmd("XACK").arg(STREAM).arg(GROUP).arg(&ids), "XACK") {
            Value::Int(n) => n as usize,
            other => fail("XACK reply", format!("{other:?}")),
        };
        let now = micros(shared.epoch);
        if acked != ids.len() {
            fail("XACK", format!("acknowledged {acked} of {}", ids.len()));
        }
        cycles.push(began.elapsed().as_micros() as u32);
        delays.extend(stamps.iter().map(|&s| now.saturating_sub(s) as u32));
        shared.last_ack_us.store(now, Ordering::Release);
        let before = shared.processed.fetch_add(acked, Ordering::AcqRel);
        if before < entries && before + acked >= entries {
            shared.finished_us.store(now, Ordering::Release);
        }
    }
    (cycles, delays)
}

/// The ids and `ts` stamps of an XREADGROUP reply (RESP2 or RESP3 shape; nil when the
/// BLOCK timed out).
fn collect_entries(reply: Value, ids: &mut Vec<Vec<u8>>, stamps: &mut Vec<u64>) {
    let streams = match reply {
        Value::Nil => return,
        Value::Array(streams) => streams
            .into_iter()
            .filter_map(|s| match s {
                Value::Array(mut pair) if pair.len() == 2 => pair.pop(),
                _ => None,
            })
            .collect::<Vec<_>>(),
        Value::Map(streams) => streams.into_iter().map(|(_, v)| v).collect(),
        other => fail("XREADGROUP reply", format!("{other:?}")),
    };
    for list in streams {
        let Value::Array(list) = list else { continue };
        for entry in list {
            let Value::Array(mut entry) = entry else {
                fail("XREADGROUP entry", format!("{entry:?}"))
            };
            let fields = entry.pop();
            let Some(Value::BulkString(id)) = entry.pop() else {
                fail("XREADGROUP entry id", "missing")
            };
            ids.push(id);
            if let Some(Value::Array(fields)) = fields {
                let stamp = fields
                    .chunks(2)
                    .find(|kv| matches!(&kv[0], Value::BulkString(k) if k == b"ts"))
                    .and_then(|kv| match kv.get(1) {
                        Some(Value::BulkString(v)) => std::str::from_utf8(v).ok()?.parse().ok(),
                        _ => None,
                    });
                if let Some(stamp) = stamp {
                    stamps.push(stamp);
                }
            }
        }
    }
}

/// Loads `entries` entries into `key`, 1000 XADDs per write; prints entries per second.
fn load(port: u16, key: &str, entries: usize, distinct: bool) {
    const BATCH: usize = 1000;
    const EVENTS: [&str; 4] = ["page_view", "click", "add_to_cart", "purchase"];
    let mut conn = Conn::open(port);
    let started = Instant::now();
    let mut batch = Vec::new();
    let mut i = 0;
    while i < entries {
        let n = BATCH.min(entries - i);
        batch.clear();
        for j in i..i + n {
            let id = format!("{}-{}", 1_700_000_000_000u64 + (j / 10) as u64, j % 10);
            let (event, user) = (EVENTS[j % EVENTS.len()], format!("u{}", j % 100_000));
            let mut cmd = redis::cmd("XADD");
            cmd.arg(key).arg(id);
            if distinct {
                cmd.arg(format!("event{j}"))
                    .arg(event)
                    .arg(format!("user{j}"))
                    .arg(user);
            } else {
                cmd.arg("event").arg(event).arg("user").arg(user);
            }
            batch.extend_from_slice(&cmd.get_packed_command());
        }
        conn.send(&batch);
        for _ in 0..n {
            conn.reply("XADD");
        }
        i += n;
    }
    println!(
        "{:.0}",
        entries as f64 / started.elapsed().as_secs_f64().max(1e-9)
    );
}
