//! Engine tests against a small in-memory host: conversions both ways in RESP2 and
//! RESP3, the sandbox, the `redis` table, function libraries, interrupts.

use std::collections::HashMap;

use lodestone_resp::{Protocol, ReplyWriter};

use crate::engine::{Engine, Host, LogLevel};

/// A host that answers a few commands from a map, and `RAW <resp>` with the given bytes.
#[derive(Default)]
pub(crate) struct FakeHost {
    pub(crate) data: HashMap<Vec<u8>, Vec<u8>>,
    pub(crate) logs: Vec<(LogLevel, Vec<u8>)>,
    pub(crate) repl: Vec<i64>,
    pub(crate) calls: Vec<(Vec<Vec<u8>>, u8)>,
    /// Interrupt with this reply once `check_interrupt` was called this many times.
    pub(crate) interrupt_after: Option<(usize, String)>,
    pub(crate) interrupt_checks: usize,
}

fn bulk(b: &[u8]) -> Vec<u8> {
    let mut v = format!("${}\r\n", b.len()).into_bytes();
    v.extend_from_slice(b);
    v.extend_from_slice(b"\r\n");
    v
}

impl Host for FakeHost {
    fn call(&mut self, args: &[&[u8]], resp: u8) -> Vec<u8> {
        self.calls
            .push((args.iter().map(|a| a.to_vec()).collect(), resp));
        let name = args[0].to_ascii_uppercase();
        match (name.as_slice(), args.len()) {
            (b"PING", 1) => b"+PONG\r\n".to_vec(),
            (b"GET", 2) => match self.data.get(args[1]) {
                Some(v) => bulk(v),
                None if resp == 3 => b"_\r\n".to_vec(),
                None => b"$-1\r\n".to_vec(),
            },
            (b"SET", 3) => {
                self.data.insert(args[1].to_vec(), args[2].to_vec());
                b"+OK\r\n".to_vec()
            }
            (b"INCR", 2) => {
                let n: i64 = self
                    .data
                    .get(args[1])
                    .map(|v| String::from_utf8_lossy(v).parse().unwrap_or(0))
                    .unwrap_or(0)
                    + 1;
                self.data
                    .insert(args[1].to_vec(), n.to_string().into_bytes());
                format!(":{n}\r\n").into_bytes()
            }
            (b"RAW", 2) => args[1].to_vec(),
            (b"GET" | b"SET" | b"INCR", _) => format!(
                "-ERR wrong number of arguments for '{}' command\r\n",
                String::from_utf8_lossy(&name).to_lowercase()
            )
            .into_bytes(),
            _ => b"-ERR Unknown Redis command called from script\r\n".to_vec(),
        }
    }

    fn log(&mut self, level: LogLevel, message: &[u8]) {
        self.logs.push((level, message.to_vec()));
    }

    fn check_interrupt(&mut self) -> Result<(), String> {
        self.interrupt_checks += 1;
        match &self.interrupt_after {
            Some((n, reply)) if self.interrupt_checks >= *n => Err(reply.clone()),
            _ => Ok(()),
        }
    }

    fn set_repl(&mut self, flags: i64) {
        self.repl.push(flags);
    }
}

/// Runs `script` with keys and args on `engine` and `host`, returning the reply bytes.
pub(crate) fn run_with(
    engine: &mut Engine,
    host: &mut FakeHost,
    script: &str,
    keys: &[&str],
    args: &[&str],
    protocol: Protocol,
) -> String {
    let mut out = ReplyWriter::new(protocol);
    let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
    let args: Vec<&[u8]> = args.iter().map(|k| k.as_bytes()).collect();
    let sha = Engine::sha1hex(script.as_bytes());
    engine.run_script(&sha, script.as_bytes(), &keys, &args, host, &mut out);
    String::from_utf8_lossy(&out.buf).into_owned()
}

fn eval2(script: &str) -> String {
    run_with(
        &mut Engine::new().unwrap(),
        &mut FakeHost::default(),
        script,
        &[],
        &[],
        Protocol::Resp2,
    )
}

fn eval3(script: &str) -> String {
    run_with(
        &mut Engine::new().unwrap(),
        &mut FakeHost::default(),
        script,
        &[],
        &[],
        Protocol::Resp3,
    )
}

fn sha(script: &str) -> String {
    Engine::sha1hex(script.as_bytes())
}

#[test]
fn smoke() {
    assert_eq!(eval2("return 1"), ":1\r\n");
    assert_eq!(eval2("return 'x'"), "$1\r\nx\r\n");
    assert_eq!(eval2("return redis.call('ping')"), "+PONG\r\n");
    assert_eq!(
        eval2("return a"),
        format!("-ERR user_script:1: Script attempted to access nonexistent global variable 'a' script: {}, on @user_script:1.\r\n", sha("return a"))
    );
    assert_eq!(eval3("return {map={a=1}}"), "%1\r\n$1\r\na\r\n:1\r\n");
}
