//! Test support: start the real `lodestone` binary (or a real `redis-server`) on a free
//! port, connect real clients, and read raw RESP replies byte for byte.
#![allow(dead_code)]

pub mod procs;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process that is killed when dropped.
pub struct TestServer {
    child: Child,
    pub port: u16,
    pub dir: std::path::PathBuf,
}

/// Whether a server on `port` answers PING with PONG within the bound (it listens
/// while loading its dataset, answering -LOADING until done).
pub fn wait_serving(port: u16) -> bool {
    wait_for(Duration::from_secs(20), || {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let mut buf = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    })
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind to port 0");
    listener.local_addr().expect("local addr").port()
}

fn scratch_dir(tag: &str, port: u16) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "lodestone-test-{tag}-{}-{port}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

impl TestServer {
    /// Starts lodestone with default settings.
    pub fn start() -> TestServer {
        TestServer::start_with(&[])
    }

    /// Starts lodestone with extra `--name value` arguments.
    pub fn start_with(args: &[&str]) -> TestServer {
        TestServer::start_on_free_port("lodestone", |port, dir| {
            Command::new(env!("CARGO_BIN_EXE_lodestone"))
                .args([
                    "--port",
                    &port.to_string(),
                    "--dir",
                    dir.to_str().expect("utf-8 path"),
                ])
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start lodestone")
        })
    }

    /// Spawns a server on a free port until one starts there. A port found free can be
    /// taken before the server binds it (tests run in parallel): the server then exits,
    /// or another test's server answers there, and another port is tried.
    fn start_on_free_port(tag: &str, spawn: impl Fn(u16, &std::path::Path) -> Child) -> TestServer {
        for _ in 0..5 {
            let port = free_port();
            let dir = scratch_dir(tag, port);
            let child = spawn(port, &dir);
            let mut server = TestServer { child, port, dir };
            if server.wait_ready() {
                return server;
            }
        }
        panic!("no {tag} server started after 5 ports");
    }

    /// Starts Debian's `redis-server` (the reference), or `None` when it is not installed
    /// and the run is not CI (CI must have it: the differential tests are not optional).
    pub fn start_redis() -> Option<TestServer> {
        TestServer::start_redis_with(&[])
    }

    /// [`Self::start_redis`] with extra `--name value` arguments, given last so they win
    /// over the defaults (`--appendonly yes`).
    pub fn start_redis_with(args: &[&str]) -> Option<TestServer> {
        let binary = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        let Some(binary) = binary else {
            if std::env::var("CI").is_ok() {
                panic!("redis-server is required in CI for differential tests");
            }
            eprintln!("redis-server not installed: skipping the differential part");
            return None;
        };
        Some(TestServer::start_on_free_port("redis", |port, dir| {
            Command::new(binary)
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .args([
                    "--dir",
                    dir.to_str().expect("utf-8 path"),
                    "--enable-debug-command",
                    "yes",
                ])
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start redis-server")
        }))
    }

    /// Waits until the server serves: true once it answers PING (NOAUTH included) and
    /// is this process (INFO's `process_id`, when INFO is allowed); false if it exited
    /// or another process answers on its port.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        let pid = format!("process_id:{}\r\n", self.child.id());
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                // Any reply to PING means the server is serving (NOAUTH included),
                // except -LOADING: the dataset is still loading. QUIT and reading to
                // EOF mean the probe is gone from CLIENT LIST and INFO by the time a
                // test starts counting clients.
                if s.write_all(b"INFO server\r\nPING\r\nQUIT\r\n").is_ok() {
                    let mut buf = Vec::new();
                    let _ = s.read_to_end(&mut buf);
                    let text = String::from_utf8_lossy(&buf);
                    if text.contains("process_id:") && !text.contains(&pid) {
                        let _ = self.child.kill();
                        let _ = self.child.wait();
                        return false;
                    }
                    let answered = text.contains("\r\n+PONG\r\n") || text.starts_with("-NOAUTH");
                    if answered && !text.contains("-LOADING") {
                        return true;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server on port {} did not become ready", self.port);
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A `redis` crate connection speaking RESP2.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .expect("client")
            .get_connection()
            .expect("connect")
    }

    /// A `redis` crate connection speaking RESP3.
    pub fn client_resp3(&self) -> redis::Connection {
        let url = format!("{}?protocol=resp3", self.url());
        redis::Client::open(url)
            .expect("client")
            .get_connection()
            .expect("connect")
    }

    /// A raw connection for byte-exact protocol tests.
    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.port)
    }

    /// Whether the process has exited.
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits (bounded) for the process to exit; returns whether it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.has_exited() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A TCP connection that sends bytes and reads whole RESP replies as raw bytes.
pub struct RawConn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl RawConn {
    pub fn connect(port: u16) -> RawConn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        // Generous: a debug build zero-fills 512 MB for a SETBIT at the largest offset,
        // and CI machines are slower than ours. Only a failing test ever waits it out.
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let writer = stream.try_clone().expect("clone");
        RawConn {
            reader: BufReader::new(stream),
            writer,
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("send");
    }

    /// Sends a command as a multibulk request.
    pub fn send_cmd(&mut self, args: &[&[u8]]) {
        self.send(&encode_request(args));
    }

    /// Sends a command and returns its whole reply, raw.
    pub fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.send_cmd(&args);
        self.read_reply()
    }

    /// Reads one complete RESP2/RESP3 reply, raw.
    pub fn read_reply(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.read_value(&mut out);
        out
    }

    /// Whether the server closed the connection (reads EOF within the timeout).
    pub fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.reader.read(&mut buf), Ok(0) | Err(_))
    }

    /// Reads and discards until the server closes the connection; false if it stays
    /// open past the read timeout.
    pub fn drain_until_closed(&mut self) -> bool {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) => {
                    return !matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    )
                }
            }
        }
    }

    fn read_line(&mut self, out: &mut Vec<u8>) -> Vec<u8> {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line).expect("read line");
        assert!(
            line.ends_with(b"\r\n"),
            "truncated reply line: {:?}",
            String::from_utf8_lossy(&line)
        );
        out.extend_from_slice(&line);
        line[..line.len() - 2].to_vec()
    }

    fn read_value(&mut self, out: &mut Vec<u8>) {
        let line = self.read_line(out);
        let (kind, rest) = (line[0], &line[1..]);
        let n: i64 = std::str::from_utf8(rest)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        match kind {
            b'$' | b'=' | b'!' if n >= 0 => {
                let mut data = vec![0u8; n as usize + 2];
                self.reader.read_exact(&mut data).expect("read bulk");
                out.extend_from_slice(&data);
            }
            b'*' | b'~' | b'>' if n > 0 => {
                for _ in 0..n {
                    self.read_value(out);
                }
            }
            b'%' | b'|' if n > 0 => {
                for _ in 0..2 * n {
                    self.read_value(out);
                }
                if kind == b'|' {
                    self.read_value(out);
                }
            }
            _ => {}
        }
    }
}

/// Encodes a request as RESP multibulk.
pub fn encode_request(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
pub fn wait_for(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    condition()
}

/// The server a family's tests run against: lodestone, or the reference redis-server
/// when the environment variable `env` is set (proving the expected replies are
/// Redis's own).
pub fn start_subject(env: &str) -> TestServer {
    if std::env::var_os(env).is_some() {
        return TestServer::start_redis().expect("redis-server");
    }
    TestServer::start()
}

/// [`start_subject`] with extra lodestone arguments (`--threads 4`); redis-server, when
/// the environment variable is set, starts with its usual settings.
pub fn start_subject_with(env: &str, args: &[&str]) -> TestServer {
    if std::env::var_os(env).is_some() {
        return TestServer::start_redis().expect("redis-server");
    }
    TestServer::start_with(args)
}

/// Decodes one word of a test command line: `\xHH` escapes become bytes, `''` is the
/// empty string.
pub fn line_arg(text: &str) -> Vec<u8> {
    if text == "''" {
        return Vec::new();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'x') && i + 4 <= bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 2..i + 4]).expect("hex");
            out.push(u8::from_str_radix(hex, 16).expect("hex escape"));
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// Sends a whitespace-separated command line (see [`line_arg`]); returns the raw reply.
pub fn send_line(conn: &mut RawConn, line: &str) -> Vec<u8> {
    let args: Vec<Vec<u8>> = line.split_whitespace().map(line_arg).collect();
    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    conn.send_cmd(&refs);
    conn.read_reply()
}

/// Asserts the raw reply of each `(command line, reply)` pair, in order.
pub fn expect_lines(conn: &mut RawConn, pairs: &[(&str, &str)]) {
    for (line, reply) in pairs {
        let got = send_line(conn, line);
        assert_eq!(String::from_utf8_lossy(&got), *reply, "reply to `{line}`");
    }
}

/// A RESP2 array of bulk strings, as text.
pub fn bulk_array(items: &[&str]) -> String {
    let mut out = format!("*{}\r\n", items.len());
    for item in items {
        out.push_str(&format!("${}\r\n{item}\r\n", item.len()));
    }
    out
}

/// A reply written compactly in a test: `|` for CRLF, `\xHH` escapes.
pub fn coded_reply(text: &str) -> Vec<u8> {
    line_arg(&text.replace('|', "\r\n"))
}

/// [`expect_lines`] with replies written as [`coded_reply`] reads them.
pub fn expect_coded(conn: &mut RawConn, pairs: &[(&str, &str)]) {
    for (line, reply) in pairs {
        let got = send_line(conn, line);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&coded_reply(reply)),
            "reply to `{line}`"
        );
    }
}

/// The channel a tap's sentinel goes to: it ends every batch of collected events.
pub const EVENT_SENTINEL: &str = "__sentinel__";

/// A `PSUBSCRIBE *` connection (RESP2) that collects published messages, and a second
/// connection that publishes the sentinel marking the end of a batch, so a test reads
/// exactly the messages published before it asked (no sleeps).
pub struct EventTap {
    sub: RawConn,
    publisher: RawConn,
}

impl EventTap {
    /// Subscribes to every channel on the server at `port`.
    pub fn open(port: u16) -> EventTap {
        let mut sub = RawConn::connect(port);
        let reply = sub.cmd(&["PSUBSCRIBE", "*"]);
        assert_eq!(
            reply, b"*3\r\n$10\r\npsubscribe\r\n$1\r\n*\r\n:1\r\n",
            "PSUBSCRIBE reply"
        );
        EventTap {
            sub,
            publisher: RawConn::connect(port),
        }
    }

    /// The connection used for the sentinel, free for polling (INFO, CLIENT LIST).
    pub fn side(&mut self) -> &mut RawConn {
        &mut self.publisher
    }

    /// Every `(channel, message)` published since the last drain, in order.
    pub fn drain(&mut self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let reply = self.publisher.cmd(&["PUBLISH", EVENT_SENTINEL, "end"]);
        assert!(reply.starts_with(b":"), "PUBLISH reply {reply:?}");
        let mut events = Vec::new();
        loop {
            let message = self.sub.read_reply();
            let parts = bulk_parts(&message);
            assert!(
                parts.len() == 4 && parts[0] == b"pmessage",
                "not a pmessage: {:?}",
                String::from_utf8_lossy(&message)
            );
            if parts[2] == EVENT_SENTINEL.as_bytes() {
                return events;
            }
            events.push((parts[2].clone(), parts[3].clone()));
        }
    }

    /// [`Self::drain`] as `channel message` lines (lossy UTF-8), easy to assert on.
    pub fn drain_lines(&mut self) -> Vec<String> {
        self.drain()
            .iter()
            .map(|(channel, message)| {
                format!(
                    "{} {}",
                    String::from_utf8_lossy(channel),
                    String::from_utf8_lossy(message)
                )
            })
            .collect()
    }
}

/// The bulk strings of a flat RESP2 array reply (`*n` of `$len` items).
pub fn bulk_parts(reply: &[u8]) -> Vec<Vec<u8>> {
    let mut parts = Vec::new();
    let mut pos = match reply.windows(2).position(|w| w == b"\r\n") {
        Some(end) if reply.first() == Some(&b'*') => end + 2,
        _ => return parts,
    };
    while pos < reply.len() && reply[pos] == b'$' {
        let Some(end) = reply[pos..].windows(2).position(|w| w == b"\r\n") else {
            break;
        };
        let len: usize = std::str::from_utf8(&reply[pos + 1..pos + end])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let start = pos + end + 2;
        parts.push(reply[start..(start + len).min(reply.len())].to_vec());
        pos = start + len + 2;
    }
    parts
}
