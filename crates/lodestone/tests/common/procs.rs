//! Server processes on a directory of the test's choosing, for the persistence tests:
//! start, restart on the same files, SHUTDOWN, kill -9.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::Value;

use super::free_port;

/// The server's log, kept beside its files (appended across restarts) for a failing
/// test to show.
fn log_file(dir: &Path) -> Stdio {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("lodestone.log"))
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null())
}

/// A server process on a directory we choose (the RDB file lives there).
pub struct Proc {
    pub child: Child,
    pub port: u16,
}

impl Proc {
    pub fn lodestone(dir: &Path) -> Proc {
        Proc::lodestone_with(dir, &[])
    }

    /// Starts lodestone on `dir` with extra `--name value` arguments.
    pub fn lodestone_with(dir: &Path, args: &[&str]) -> Proc {
        Proc::start(|port| {
            Command::new(env!("CARGO_BIN_EXE_lodestone"))
                .args([
                    "--port",
                    &port.to_string(),
                    "--dir",
                    dir.to_str().expect("path"),
                ])
                .args(args)
                .stdout(log_file(dir))
                .stderr(log_file(dir))
                .spawn()
                .expect("start lodestone")
        })
    }

    /// Spawns a server on a free port until one starts there. A port found free can
    /// be taken before the server binds it (tests run in parallel): then the server
    /// exits, or another test's server answers on that port, and it is tried again.
    fn start(spawn: impl Fn(u16) -> Child) -> Proc {
        for _ in 0..5 {
            let port = free_port();
            if let Some(proc) = Proc::ready(spawn(port), port) {
                return proc;
            }
        }
        panic!("no server started after 5 ports");
    }

    pub fn redis(dir: &Path) -> Option<Proc> {
        Proc::redis_with(dir, &[])
    }

    /// Starts redis-server on `dir` (its own settings after `args`), or `None` when it
    /// is not installed outside CI.
    pub fn redis_with(dir: &Path, args: &[&str]) -> Option<Proc> {
        if !Path::new("/usr/bin/redis-server").exists() {
            assert!(
                std::env::var("CI").is_err(),
                "redis-server is required in CI"
            );
            return None;
        }
        Some(Proc::start(|port| {
            Command::new("/usr/bin/redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args([
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--enable-debug-command",
                    "yes",
                ])
                .args(["--dir", dir.to_str().expect("path")])
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start redis-server")
        }))
    }

    /// Waits until the server answers on `port` and is this process (INFO's
    /// `process_id`); `None` if it exited first (its port was taken) or another
    /// process answers there.
    pub fn ready(child: Child, port: u16) -> Option<Proc> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut proc = Proc { child, port };
        let pid = proc.child.id().to_string();
        while Instant::now() < deadline {
            if let Ok(Some(_)) = proc.child.try_wait() {
                return None;
            }
            if let Ok(mut c) = redis::Client::open(proc.url()).and_then(|c| c.get_connection()) {
                if let Ok(info) = redis::cmd("INFO").arg("server").query::<String>(&mut c) {
                    let theirs = info
                        .lines()
                        .find_map(|l| l.strip_prefix("process_id:"))
                        .map(str::trim);
                    if theirs != Some(pid.as_str()) {
                        let _ = proc.child.kill();
                        let _ = proc.child.wait();
                        return None;
                    }
                    if redis::cmd("PING").query::<String>(&mut c).is_ok() {
                        return Some(proc);
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = proc.child.kill();
        panic!("server on {port} did not start");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .expect("client")
            .get_connection()
            .expect("connect")
    }

    /// SHUTDOWN with `args` and waits for the process to exit.
    pub fn shutdown(mut self, args: &[&str]) {
        let mut c = self.conn();
        let _ = redis::cmd("SHUTDOWN").arg(args).query::<Value>(&mut c);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server did not exit");
    }
}

impl Proc {
    /// SIGKILL: the process gets no chance to flush or save anything.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// A field of INFO (its value as text), or "" when absent.
pub fn info_field(c: &mut redis::Connection, name: &str) -> String {
    let info: String = redis::cmd("INFO").arg("everything").query(c).expect("INFO");
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or("")
        .trim()
        .to_string()
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "lodestone-rdb-{tag}-{}-{}",
        std::process::id(),
        free_port()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

pub fn q(c: &mut redis::Connection, args: &[&str]) -> Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

pub fn text(v: Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
        Value::SimpleString(s) => s,
        Value::Int(n) => n.to_string(),
        Value::Array(mut items) if items.len() == 1 => text(items.remove(0)),
        other => format!("{other:?}"),
    }
}

/// Every type and encoding, TTLs, several databases, a function library.
pub fn fill(c: &mut redis::Connection) {
    let many: Vec<String> = (0..3000).map(|i| format!("v{i}")).collect();
    let mut big_list = vec!["RPUSH", "list:big"];
    big_list.extend(many.iter().map(String::as_str));
    q(c, &big_list);
    let mut big_set = vec!["SADD", "set:big"];
    big_set.extend(many.iter().map(String::as_str));
    q(c, &big_set);
    let pairs: Vec<String> = (0..600)
        .flat_map(|i| [format!("f{i}"), format!("{i}")])
        .collect();
    let mut big_hash = vec!["HSET", "hash:big"];
    big_hash.extend(pairs.iter().map(String::as_str));
    q(c, &big_hash);
    let scored: Vec<String> = (0..300)
        .flat_map(|i| [format!("{}", i as f64 / 7.0), format!("m{i}")])
        .collect();
    let mut big_zset = vec!["ZADD", "zset:big"];
    big_zset.extend(scored.iter().map(String::as_str));
    q(c, &big_zset);
    for cmd in [
        &["SET", "str", "hello"][..],
        &["SET", "int", "-12345"],
        &["SET", "long", &"x".repeat(500)],
        &["SET", "volatile", "v", "EX", "5000"],
        &["RPUSH", "list", "a", "1", "b"],
        &["SADD", "set:ints", "1", "-5", "70000", "5000000000"],
        &["SADD", "set:words", "a", "b"],
        &["HSET", "hash", "a", "1", "b", "2"],
        &["ZADD", "zset", "1", "a", "2.5", "b", "-inf", "c"],
        &["XADD", "stream", "1-1", "f", "v"],
        &["XADD", "stream", "2-1", "f", "w", "g", "x"],
        &["XGROUP", "CREATE", "stream", "grp", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "grp",
            "alice",
            "COUNT",
            "1",
            "STREAMS",
            "stream",
            ">",
        ],
        &["SELECT", "5"],
        &["SET", "in-db-5", "yes"],
        &["SELECT", "0"],
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=lib\nredis.register_function('f', function() return 7 end)",
        ],
    ] {
        q(c, cmd);
    }
}

/// What must match after a file moves between servers.
pub fn state(c: &mut redis::Connection) -> Vec<String> {
    let mut out = vec![text(q(c, &["DEBUG", "DIGEST"]))];
    for key in [
        "str",
        "int",
        "long",
        "list",
        "list:big",
        "set:ints",
        "set:words",
        "set:big",
        "hash",
        "hash:big",
        "zset",
        "zset:big",
        "stream",
    ] {
        out.push(format!(
            "{key} {} {}",
            text(q(c, &["OBJECT", "ENCODING", key])),
            text(q(c, &["DEBUG", "DIGEST-VALUE", key]))
        ));
    }
    let ttl = text(q(c, &["TTL", "volatile"]));
    out.push(format!(
        "ttl>4900: {}",
        ttl.parse::<i64>().unwrap_or(0) > 4900
    ));
    out.push(text(q(c, &["FCALL", "f", "0"])));
    out.push(format!("{:?}", q(c, &["XPENDING", "stream", "grp"])));
    out.push(format!("{:?}", q(c, &["XINFO", "GROUPS", "stream"])));
    q(c, &["SELECT", "5"]);
    out.push(text(q(c, &["GET", "in-db-5"])));
    q(c, &["SELECT", "0"]);
    out
}

/// Runs lodestone on `dir` until it exits: false when it refused to start (a server
/// that does start keeps running, and the test would time out instead).
pub fn starts(dir: &Path, args: &[&str]) -> bool {
    Command::new(env!("CARGO_BIN_EXE_lodestone"))
        .args(["--port", &free_port().to_string()])
        .args(["--dir", dir.to_str().expect("path")])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run lodestone")
        .success()
}

/// Keys of [`fill_compressible`], each with long repetitive strings somewhere: plain
/// strings, keys, listpacks (lists, small hashes and sorted sets, stream nodes), and
/// the members of hashtable and skiplist encodings.
pub const COMPRESSIBLE_KEYS: &[&str] = &[
    "z:str:long",
    "z:str:text",
    "z:str:20",
    "z:str:21",
    "z:str:int",
    "z:key-name-key-name-key-name-key-name-key-name",
    "z:list",
    "z:hash:listpack",
    "z:hash:hashtable",
    "z:zset:listpack",
    "z:zset:skiplist",
    "z:set:hashtable",
    "z:set:intset",
    "z:stream",
];

/// Long code for a function library (`zlib`, function `zf` returning 9).
pub fn compressible_library() -> String {
    let mut code = String::from("#!lua name=zlib\n");
    for i in 0..40 {
        code.push_str(&format!("-- padding line {i} padding padding padding\n"));
    }
    code.push_str("redis.register_function('zf', function() return 9 end)\n");
    code
}

/// Writes [`COMPRESSIBLE_KEYS`] and the `zlib` library: data that LZF shrinks.
pub fn fill_compressible(c: &mut redis::Connection) {
    let long = "x".repeat(1000);
    let text = "the quick brown fox jumps ".repeat(40);
    q(c, &["SET", "z:str:long", &long]);
    q(c, &["SET", "z:str:text", &text]);
    q(c, &["SET", "z:str:20", &"a".repeat(20)]);
    q(c, &["SET", "z:str:21", &"a".repeat(21)]);
    q(c, &["SET", "z:str:int", "12345678"]);
    q(c, &["SET", COMPRESSIBLE_KEYS[5], &"v".repeat(30)]);
    let pad = "y".repeat(40);
    let items: Vec<String> = (0..2000).map(|i| format!("element-{i:05}-{pad}")).collect();
    let mut cmd = vec!["RPUSH", "z:list"];
    cmd.extend(items.iter().map(String::as_str));
    q(c, &cmd);
    let pairs: Vec<String> = (0..100)
        .flat_map(|i| [format!("field-{i}"), format!("value-{i}-").repeat(4)])
        .collect();
    let mut cmd = vec!["HSET", "z:hash:listpack"];
    cmd.extend(pairs.iter().map(String::as_str));
    q(c, &cmd);
    let pairs: Vec<String> = (0..300)
        .flat_map(|i| [format!("field-{i}"), format!("{i}:{}", "h".repeat(100))])
        .collect();
    let mut cmd = vec!["HSET", "z:hash:hashtable"];
    cmd.extend(pairs.iter().map(String::as_str));
    q(c, &cmd);
    let scored: Vec<String> = (0..100)
        .flat_map(|i| [i.to_string(), format!("member-{i}-paddingpadding")])
        .collect();
    let mut cmd = vec!["ZADD", "z:zset:listpack"];
    cmd.extend(scored.iter().map(String::as_str));
    q(c, &cmd);
    let scored: Vec<String> = (0..300)
        .flat_map(|i| {
            [
                format!("{}", i as f64 / 3.0),
                format!("{}{i}", "m".repeat(30)),
            ]
        })
        .collect();
    let mut cmd = vec!["ZADD", "z:zset:skiplist"];
    cmd.extend(scored.iter().map(String::as_str));
    q(c, &cmd);
    let members: Vec<String> = (0..600)
        .map(|i| format!("member-{i}-{}", "s".repeat(30)))
        .collect();
    let mut cmd = vec!["SADD", "z:set:hashtable"];
    cmd.extend(members.iter().map(String::as_str));
    q(c, &cmd);
    let members: Vec<String> = (0..500).map(|i| (i * 3).to_string()).collect();
    let mut cmd = vec!["SADD", "z:set:intset"];
    cmd.extend(members.iter().map(String::as_str));
    q(c, &cmd);
    for i in 1..=500 {
        let id = format!("{i}-0");
        let reading = format!("temperature-reading-{}", i % 10);
        q(
            c,
            &[
                "XADD", "z:stream", &id, "sensor", &reading, "unit", "celsius",
            ],
        );
    }
    let group = "consumer-group-".repeat(3);
    let consumer = "consumer-name-".repeat(3);
    q(c, &["XGROUP", "CREATE", "z:stream", &group, "0"]);
    q(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            &group,
            &consumer,
            "COUNT",
            "10",
            "STREAMS",
            "z:stream",
            ">",
        ],
    );
    q(c, &["FUNCTION", "LOAD", "REPLACE", &compressible_library()]);
}

/// Per key of [`COMPRESSIBLE_KEYS`]: its encoding and DEBUG DIGEST-VALUE; then the
/// stream's groups and the `zlib` function's reply.
pub fn compressible_state(c: &mut redis::Connection) -> Vec<String> {
    let mut out: Vec<String> = COMPRESSIBLE_KEYS
        .iter()
        .map(|key| {
            format!(
                "{key} {} {}",
                text(q(c, &["OBJECT", "ENCODING", key])),
                text(q(c, &["DEBUG", "DIGEST-VALUE", key]))
            )
        })
        .collect();
    out.push(format!("{:?}", q(c, &["XINFO", "GROUPS", "z:stream"])));
    out.push(text(q(c, &["FCALL", "zf", "0"])));
    out
}

/// redis-check-rdb (Debian's redis-tools) on `path`, when installed: must say OK.
pub fn check_rdb(path: &Path) {
    if !Path::new("/usr/bin/redis-check-rdb").exists() {
        return;
    }
    let check = Command::new("/usr/bin/redis-check-rdb")
        .arg(path)
        .output()
        .expect("redis-check-rdb");
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{report}");
    assert!(report.contains("RDB looks OK"), "{report}");
}
