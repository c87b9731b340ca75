//! Server processes on a directory of the test's choosing, for the persistence tests:
//! start, restart on the same files, SHUTDOWN, kill -9.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::Value;

use super::free_port;

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
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_lodestone"))
            .args([
                "--port",
                &port.to_string(),
                "--dir",
                dir.to_str().expect("path"),
            ])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start lodestone");
        Proc::ready(child, port)
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
        let port = free_port();
        let child = Command::new("/usr/bin/redis-server")
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
            .expect("start redis-server");
        Some(Proc::ready(child, port))
    }

    pub fn ready(child: Child, port: u16) -> Proc {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut proc = Proc { child, port };
        while Instant::now() < deadline {
            if let Ok(Some(status)) = proc.child.try_wait() {
                panic!("server exited at start: {status}");
            }
            if let Ok(mut c) = redis::Client::open(proc.url()).and_then(|c| c.get_connection()) {
                if redis::cmd("PING").query::<String>(&mut c).is_ok() {
                    return proc;
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
