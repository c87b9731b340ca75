//! Pub/sub load generator for `scripts/bench-pubsub.sh` (a benchmark, not a test).
//!
//!   pubsub_bench <port> <subscribers> <messages> <pipeline> <payload-bytes>
//!
//! Connects `subscribers` clients that SUBSCRIBE to one channel, then one publisher
//! sends `messages` PUBLISH commands, `pipeline` at a time, each payload carrying its
//! send time. Every subscriber counts what it receives and, for every message, the
//! delay from the publisher's send to its arrival. Prints one line:
//! `published_per_s delivered_per_s p50_us p99_us p999_us`.
//!
//! One thread per connection keeps the tool simple; with 100 subscribers the client
//! side is the same for every server measured, so ratios stay meaningful.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::Instant;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numeric argument"))
        .collect();
    let [port, subscribers, messages, pipeline, size] = args[..] else {
        eprintln!("usage: pubsub_bench <port> <subscribers> <messages> <pipeline> <payload-bytes>");
        std::process::exit(2);
    };
    let size = size.max(20);
    let epoch = Instant::now();
    let ready = Arc::new(Barrier::new(subscribers + 1));
    let readers: Vec<_> = (0..subscribers)
        .map(|_| {
            let ready = ready.clone();
            std::thread::spawn(move || subscribe_and_read(port, messages, size, epoch, &ready))
        })
        .collect();
    ready.wait();
    let started = Instant::now();
    publish(port, messages, pipeline, size, epoch);
    let published = started.elapsed().as_secs_f64();
    let mut delays: Vec<u32> = Vec::with_capacity(subscribers * messages);
    for reader in readers {
        delays.extend(reader.join().expect("subscriber"));
    }
    let delivered = started.elapsed().as_secs_f64();
    delays.sort_unstable();
    let pct = |p: f64| delays[((delays.len() as f64 * p) as usize).min(delays.len() - 1)];
    println!(
        "{:.0} {:.0} {} {} {}",
        messages as f64 / published,
        (messages * subscribers) as f64 / delivered,
        pct(0.50),
        pct(0.99),
        pct(0.999)
    );
}

/// One subscriber: SUBSCRIBE, signal readiness, then read `messages` messages and
/// return each one's delay in microseconds.
fn subscribe_and_read(
    port: usize,
    messages: usize,
    size: usize,
    epoch: Instant,
    ready: &Barrier,
) -> Vec<u32> {
    let stream = TcpStream::connect(("127.0.0.1", port as u16)).expect("connect");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::with_capacity(256 * 1024, stream);
    writer.write_all(b"SUBSCRIBE bench\r\n").expect("subscribe");
    let mut line = Vec::new();
    for _ in 0..6 {
        line.clear();
        reader.read_until(b'\n', &mut line).expect("confirmation");
    }
    ready.wait();
    // Every message has the same bytes around its payload: read them whole.
    let header = format!("*3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n${size}\r\n");
    let mut frame = vec![0u8; header.len() + size + 2];
    let mut delays = Vec::with_capacity(messages);
    for _ in 0..messages {
        reader.read_exact(&mut frame).expect("message");
        let payload = &frame[header.len()..header.len() + 20];
        let sent: u64 = std::str::from_utf8(payload)
            .ok()
            .and_then(|t| t.trim_start_matches('0').parse().ok())
            .unwrap_or(0);
        let now = epoch.elapsed().as_micros() as u64;
        delays.push(now.saturating_sub(sent) as u32);
    }
    delays
}

/// The publisher: `pipeline` PUBLISH commands per write, then their replies.
fn publish(port: usize, messages: usize, pipeline: usize, size: usize, epoch: Instant) {
    let stream = TcpStream::connect(("127.0.0.1", port as u16)).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let mut batch = Vec::new();
    let mut line = Vec::new();
    let mut sent = 0;
    while sent < messages {
        let n = pipeline.min(messages - sent);
        batch.clear();
        for _ in 0..n {
            let stamp = format!("{:020}", epoch.elapsed().as_micros());
            batch.extend_from_slice(
                format!("*3\r\n$7\r\nPUBLISH\r\n$5\r\nbench\r\n${size}\r\n{stamp}").as_bytes(),
            );
            batch.resize(batch.len() + size - stamp.len(), b'x');
            batch.extend_from_slice(b"\r\n");
        }
        writer.write_all(&batch).expect("publish");
        for _ in 0..n {
            line.clear();
            reader.read_until(b'\n', &mut line).expect("reply");
            assert!(line.starts_with(b":"), "unexpected reply {line:?}");
        }
        sent += n;
    }
}
