//! Server commands over TCP: COMMAND, INFO, CONFIG, SLOWLOG, MONITOR, MEMORY, DEBUG,
//! SHUTDOWN, TIME, LASTSAVE, LOLWUT, compared with Redis 7.0 where it runs.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{free_port, wait_for, RawConn, TestServer};
use redis::Value;

fn text(reply: &[u8]) -> String {
    String::from_utf8_lossy(reply).into_owned()
}

/// The payload of a bulk or verbatim reply.
fn bulk_text(reply: &[u8]) -> String {
    let all = text(reply);
    let start = all.find("\r\n").map_or(0, |i| i + 2);
    let payload = &all[start..];
    payload.strip_suffix("\r\n").unwrap_or(payload).to_string()
}

fn query(con: &mut redis::Connection, args: &[&str]) -> Value {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(con).expect("query")
}

fn info_section(raw: &mut RawConn, section: &str) -> String {
    bulk_text(&raw.cmd(&["INFO", section]))
}

/// Field names of an INFO text, in order.
fn info_fields(info: &str) -> Vec<String> {
    info.lines()
        .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
        .collect()
}

/// COMMAND COUNT is the number of top-level commands in the table, and COMMAND and
/// COMMAND LIST agree with it.
#[test]
fn command_count_equals_the_table() {
    let top = lodestone_spec::COMMANDS
        .iter()
        .filter(|c| c.container.is_none())
        .count();
    let server = TestServer::start();
    let mut con = server.client();
    let count: usize = redis::cmd("COMMAND").arg("COUNT").query(&mut con).unwrap();
    assert_eq!(count, top);
    let Value::Array(all) = query(&mut con, &["COMMAND"]) else {
        panic!("COMMAND is an array");
    };
    assert_eq!(all.len(), top);
    let names: Vec<String> = redis::cmd("COMMAND").arg("LIST").query(&mut con).unwrap();
    assert_eq!(names.len(), lodestone_spec::COMMANDS.len());
    assert_eq!(names.iter().filter(|n| !n.contains('|')).count(), top);
}

/// Removes what Lodestone's table does not describe (key spec notes) and makes
/// subcommand lists order-free, so COMMAND INFO entries compare with Redis's.
fn normalize_info(reply: Value) -> Value {
    let Value::Array(mut entries) = reply else {
        return reply;
    };
    let Some(Value::Array(mut fields)) = entries.pop() else {
        return Value::Nil;
    };
    if let Some(Value::Array(specs)) = fields.get_mut(8) {
        for spec in specs.iter_mut() {
            if let Value::Array(pairs) = spec {
                if pairs.first() == Some(&Value::BulkString(b"notes".to_vec())) {
                    pairs.drain(..2);
                }
            }
        }
    }
    if let Some(Value::Array(subs)) = fields.get_mut(9) {
        let mut names: Vec<Value> = subs
            .iter()
            .filter_map(|s| match s {
                Value::Array(f) => f.first().cloned(),
                _ => None,
            })
            .collect();
        names.sort_by_key(|v| format!("{v:?}"));
        *subs = names;
    }
    Value::Array(fields)
}

/// COMMAND INFO of every command Lodestone has equals Redis's (subcommands Redis has
/// and Lodestone lacks aside).
#[test]
fn command_info_matches_redis() {
    let Some(redis) = TestServer::start_redis() else {
        return;
    };
    let server = TestServer::start();
    let mut ours = server.client();
    let mut theirs = redis.client();
    let names: Vec<String> = redis::cmd("COMMAND").arg("LIST").query(&mut ours).unwrap();
    for name in names.iter().filter(|n| *n != "client|setinfo") {
        let mine = normalize_info(query(&mut ours, &["COMMAND", "INFO", name]));
        let real = normalize_info(query(&mut theirs, &["COMMAND", "INFO", name]));
        let (mut mine, mut real) = (mine, real);
        if let (Value::Array(m), Value::Array(r)) = (&mut mine, &mut real) {
            // CLIENT SETINFO arrived in Redis 7.2.
            if let Value::Array(subs) = &mut m[9] {
                subs.retain(|s| *s != Value::BulkString(b"client|setinfo".to_vec()));
            }
            let Value::Array(our_subs) = m[9].clone() else {
                panic!()
            };
            if let Value::Array(their_subs) = &mut r[9] {
                their_subs.retain(|s| our_subs.contains(s));
            }
        }
        assert_eq!(mine, real, "COMMAND INFO {name}");
    }
    assert_eq!(
        query(&mut ours, &["COMMAND", "INFO", "nope"]),
        Value::Array(vec![Value::Nil])
    );
}

/// COMMAND DOCS has Redis's shape and agrees with Redis on group and since.
#[test]
fn command_docs_matches_redis_groups() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let docs = raw.cmd(&["COMMAND", "DOCS", "get", "nope"]);
    assert!(text(&docs).starts_with("*2\r\n$3\r\nget\r\n*8\r\n$7\r\nsummary\r\n"));
    assert!(
        text(&docs).ends_with("$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n")
    );
    let Some(redis) = TestServer::start_redis() else {
        return;
    };
    let mut ours = server.client();
    let mut theirs = redis.client();
    for name in ["get", "set", "client", "config|set", "debug", "keys"] {
        let pick = |v: Value| -> Vec<(String, String)> {
            let Value::Array(top) = v else { panic!() };
            let Value::Array(doc) = &top[1] else { panic!() };
            doc.chunks(2)
                .filter_map(|kv| match (&kv[0], &kv[1]) {
                    (Value::BulkString(k), Value::BulkString(v))
                        if k == b"group" || k == b"since" =>
                    {
                        Some((text(k), text(v)))
                    }
                    _ => None,
                })
                .collect()
        };
        assert_eq!(
            pick(query(&mut ours, &["COMMAND", "DOCS", name])),
            pick(query(&mut theirs, &["COMMAND", "DOCS", name])),
            "{name}"
        );
    }
}

/// COMMAND GETKEYS finds keys through the key specs and refuses what Redis refuses.
#[test]
fn command_getkeys() {
    let cases: &[(&[&str], &[u8])] = &[
        (&["COMMAND", "GETKEYS", "get", "k"], b"*1\r\n$1\r\nk\r\n"),
        (
            &["COMMAND", "GETKEYS", "mset", "a", "1", "b", "2"],
            b"*2\r\n$1\r\na\r\n$1\r\nb\r\n",
        ),
        (
            &["COMMAND", "GETKEYS", "nope", "x"],
            b"-ERR Invalid command specified\r\n",
        ),
        (
            &["COMMAND", "GETKEYS", "client", "list"],
            b"-ERR The command has no key arguments\r\n",
        ),
        (
            &["COMMAND", "GETKEYS", "get", "a", "b"],
            b"-ERR Invalid number of arguments specified for command\r\n",
        ),
        (
            &["COMMAND", "GETKEYS", "config", "nope"],
            b"-ERR Invalid command specified\r\n",
        ),
    ];
    let server = TestServer::start();
    let redis = TestServer::start_redis();
    let mut ours = server.raw();
    let mut theirs = redis.as_ref().map(|r| r.raw());
    for (args, expected) in cases {
        assert_eq!(ours.cmd(args), *expected, "{args:?}");
        if let Some(theirs) = theirs.as_mut() {
            assert_eq!(theirs.cmd(args), *expected, "redis: {args:?}");
        }
    }
}

/// COMMAND LIST filters by pattern and ACL category; unknown filters are errors.
#[test]
fn command_list_filters() {
    let server = TestServer::start();
    let mut con = server.client();
    let list = |con: &mut redis::Connection, args: &[&str]| -> Vec<String> {
        let mut cmd = redis::cmd("COMMAND");
        cmd.arg("LIST");
        for a in args {
            cmd.arg(*a);
        }
        cmd.query(con).unwrap()
    };
    let slowlog = list(&mut con, &["FILTERBY", "PATTERN", "slowlog*"]);
    assert_eq!(
        slowlog,
        [
            "slowlog",
            "slowlog|get",
            "slowlog|len",
            "slowlog|reset",
            "slowlog|help"
        ]
    );
    let strings = list(&mut con, &["FILTERBY", "ACLCAT", "string"]);
    assert!(strings.contains(&"get".to_string()) && !strings.contains(&"del".to_string()));
    assert!(list(&mut con, &["FILTERBY", "ACLCAT", "nope"]).is_empty());
    assert!(list(&mut con, &["FILTERBY", "MODULE", "nope"]).is_empty());
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["COMMAND", "LIST", "FILTERBY", "COLOR", "x"]),
        b"-ERR syntax error\r\n"
    );
}

const DEFAULT_SECTIONS: &[&str] = &[
    "# Server",
    "# Clients",
    "# Memory",
    "# Persistence",
    "# Stats",
    "# Replication",
    "# CPU",
    "# Modules",
    "# Errorstats",
    "# Cluster",
    "# Keyspace",
];

/// INFO prints Redis's default sections in order, selects sections by name, and
/// prints the fields clients read.
#[test]
fn info_sections_and_fields() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    // The start-up probe's connection may still be closing on its worker thread.
    let mut info = String::new();
    let alone = wait_for(Duration::from_secs(5), || {
        info = bulk_text(&raw.cmd(&["INFO"]));
        info.contains("connected_clients:1\r\n")
    });
    assert!(alone, "INFO never showed connected_clients:1");
    let headers: Vec<&str> = info.lines().filter(|l| l.starts_with('#')).collect();
    assert_eq!(headers, DEFAULT_SECTIONS);
    assert!(info.contains("\r\n\r\n# Clients\r\n"));
    for needle in [
        "redis_version:7.0.15\r\n",
        "lodestone_version:",
        "redis_mode:standalone\r\n",
        "arch_bits:64\r\n",
        "multiplexing_api:epoll\r\n",
        &format!("tcp_port:{}\r\n", server.port),
        "connected_clients:1\r\n",
        "maxmemory_policy:noeviction\r\n",
        "mem_fragmentation_ratio:",
        "loading:0\r\n",
        "rdb_changes_since_last_save:1\r\n",
        "aof_enabled:0\r\n",
        "instantaneous_ops_per_sec:",
        "role:master\r\n",
        "connected_slaves:0\r\n",
        "master_repl_offset:0\r\n",
        "used_cpu_sys:",
        "db0:keys=1,expires=0,avg_ttl=0\r\n",
    ] {
        assert!(info.contains(needle), "INFO lacks {needle}");
    }
    let used: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(used > 0);
    let two = bulk_text(&raw.cmd(&["INFO", "CPU", "keyspace"]));
    assert!(two.starts_with("# CPU\r\n") && two.contains("\r\n\r\n# Keyspace\r\n"));
    assert_eq!(raw.cmd(&["INFO", "nosuchsection"]), b"$0\r\n\r\n");
    let all = bulk_text(&raw.cmd(&["INFO", "all"]));
    assert!(all.contains("# Commandstats\r\n") && all.contains("# Latencystats\r\n"));
}

/// Each INFO section has Redis's fields in Redis's order (Lodestone may add its own).
#[test]
fn info_fields_match_redis() {
    let Some(redis) = TestServer::start_redis() else {
        return;
    };
    let server = TestServer::start();
    let mut ours = server.raw();
    let mut theirs = redis.raw();
    for section in [
        "server",
        "clients",
        "memory",
        "persistence",
        "stats",
        "replication",
        "cpu",
        "cluster",
    ] {
        let mine = info_fields(&info_section(&mut ours, section));
        let real = info_fields(&info_section(&mut theirs, section));
        let kept: Vec<&String> = mine.iter().filter(|f| real.contains(f)).collect();
        let wanted: Vec<&String> = real.iter().collect();
        assert_eq!(kept, wanted, "INFO {section}");
    }
}

/// INFO commandstats and errorstats count calls and errors; CONFIG RESETSTAT clears them.
#[test]
fn commandstats_and_errorstats() {
    let server = TestServer::start();
    let mut raw = server.raw();
    for _ in 0..3 {
        raw.cmd(&["SET", "k", "v"]);
    }
    raw.cmd(&["GET", "k"]);
    raw.cmd(&["GET"]);
    raw.cmd(&["NOPE"]);
    raw.cmd(&["CONFIG", "GET"]);
    let stats = info_section(&mut raw, "commandstats");
    assert!(stats.starts_with("# Commandstats\r\n"));
    assert!(stats.contains("cmdstat_set:calls=3,usec="), "{stats}");
    assert!(stats.contains("cmdstat_get:calls=1,"), "{stats}");
    assert!(
        stats.contains(",rejected_calls=1,failed_calls=0"),
        "{stats}"
    );
    let rejected =
        "cmdstat_config|get:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0\r\n";
    assert!(stats.contains(rejected), "{stats}");
    let errors = info_section(&mut raw, "errorstats");
    assert_eq!(errors, "# Errorstats\r\nerrorstat_ERR:count=3\r\n");
    assert_eq!(raw.cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    let stats = info_section(&mut raw, "commandstats");
    assert!(!stats.contains("cmdstat_set"), "{stats}");
    assert!(
        stats.contains("cmdstat_config|resetstat:calls=1,"),
        "{stats}"
    );
    assert_eq!(info_section(&mut raw, "errorstats"), "# Errorstats\r\n");
    let totals = info_section(&mut raw, "stats");
    assert!(totals.contains("total_error_replies:0\r\n"));
}

/// keyspace_hits and keyspace_misses add up every worker thread's count (connections
/// are dealt to threads in turn) and CONFIG RESETSTAT zeroes them.
#[test]
fn keyspace_hits_and_misses_add_up_across_threads() {
    let server = TestServer::start_with(&["--threads", "2"]);
    let mut first = server.raw();
    let mut second = server.raw();
    assert_eq!(first.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    for conn in [&mut first, &mut second] {
        assert_eq!(conn.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
        assert_eq!(conn.cmd(&["GET", "nope"]), b"$-1\r\n");
        assert_eq!(conn.cmd(&["EXISTS", "k", "nope"]), b":1\r\n");
    }
    let stats = info_section(&mut first, "stats");
    // EXISTS counts its lookups too, as in Redis.
    assert!(stats.contains("keyspace_hits:4\r\n"), "{stats}");
    assert!(stats.contains("keyspace_misses:4\r\n"), "{stats}");
    assert_eq!(second.cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    let stats = info_section(&mut first, "stats");
    assert!(stats.contains("keyspace_hits:0\r\n"), "{stats}");
    assert!(stats.contains("keyspace_misses:0\r\n"), "{stats}");
}

/// In a pipelined batch each command's start is the previous one's end (one clock
/// reading per command): a slow command's time must not leak into the next one's
/// statistics or slow-log entry.
#[test]
fn pipelined_commands_are_timed_separately() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "100000"]),
        b"+OK\r\n"
    );
    assert_eq!(raw.cmd(&["SLOWLOG", "RESET"]), b"+OK\r\n");
    let mut batch = common::encode_request(&[b"DEBUG", b"SLEEP", b"0.2"]);
    batch.extend(common::encode_request(&[b"PING"]));
    raw.send(&batch);
    assert_eq!(raw.read_reply(), b"+OK\r\n");
    assert_eq!(raw.read_reply(), b"+PONG\r\n");
    let stats = info_section(&mut raw, "commandstats");
    let usec = |name: &str| -> u64 {
        let line = stats
            .lines()
            .find(|l| l.starts_with(&format!("cmdstat_{name}:")))
            .unwrap_or_else(|| panic!("no {name} in {stats}"));
        let field = line.split(',').nth(1).expect("usec field");
        field.trim_start_matches("usec=").parse().expect("usec")
    };
    assert!(usec("debug") >= 200_000, "{stats}");
    assert!(usec("ping") < 100_000, "{stats}");
    // Only DEBUG SLEEP crossed the threshold.
    assert_eq!(raw.cmd(&["SLOWLOG", "LEN"]), b":1\r\n");
}

/// CONFIG SET and GET round-trip, with globs, aliases and all-or-nothing failures.
#[test]
fn config_get_set() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&[
            "CONFIG",
            "SET",
            "maxmemory",
            "1mb",
            "maxmemory-policy",
            "ALLKEYS-LRU"
        ]),
        b"+OK\r\n"
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "maxmemory", "maxmemory-policy"]),
        b"*4\r\n$9\r\nmaxmemory\r\n$7\r\n1048576\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lru\r\n"
    );
    // One bad value and nothing changes.
    assert_eq!(
        text(&raw.cmd(&["CONFIG", "SET", "maxmemory", "2mb", "hz", "x"])),
        "-ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer\r\n"
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "maxmemory"]),
        b"*2\r\n$9\r\nmaxmemory\r\n$7\r\n1048576\r\n"
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "slave-read-only"]),
        b"*2\r\n$15\r\nslave-read-only\r\n$3\r\nyes\r\n"
    );
    assert_eq!(raw.cmd(&["CONFIG", "SET", "hz", "1000"]), b"+OK\r\n");
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "hz"]),
        b"*2\r\n$2\r\nhz\r\n$3\r\n500\r\n"
    );
    assert_eq!(raw.cmd(&["CONFIG", "GET", "nope*"]), b"*0\r\n");
    let mut con = server.client();
    let pairs: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory*")
        .query(&mut con)
        .unwrap();
    let mut names: Vec<&String> = pairs.iter().step_by(2).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "maxmemory",
            "maxmemory-clients",
            "maxmemory-eviction-tenacity",
            "maxmemory-policy",
            "maxmemory-samples"
        ]
    );
}

/// CONFIG SET refuses what Redis refuses, with Redis's words.
#[test]
fn config_errors_match_redis() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["CONFIG", "SET", "maxmemory", "10mb", "maxmemory", "20mb"],
            "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter\r\n",
        ),
        (
            &["CONFIG", "SET", "databases", "3"],
            "-ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config\r\n",
        ),
        (
            &["CONFIG", "SET", "nope", "1"],
            "-ERR Unknown option or number of arguments for CONFIG SET - 'nope'\r\n",
        ),
        (
            &["CONFIG", "SET", "appendfsync", "bad"],
            "-ERR CONFIG SET failed (possibly related to argument 'appendfsync') - argument(s) must be one of the following: everysec, always, no\r\n",
        ),
        (
            &["CONFIG", "SET", "maxclients", "0"],
            "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive\r\n",
        ),
        (
            &["CONFIG", "SET", "activerehashing", "maybe"],
            "-ERR CONFIG SET failed (possibly related to argument 'activerehashing') - argument must be 'yes' or 'no'\r\n",
        ),
        (
            &["CONFIG", "SET", "maxmemory", "-1"],
            "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n",
        ),
        (
            &["CONFIG", "SET", "save", "1 2 3"],
            "-ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters\r\n",
        ),
        (
            &["CONFIG", "SET", "dir", "/tmp"],
            "-ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config\r\n",
        ),
        (&["CONFIG", "SET", "a", "b", "c"], "-ERR syntax error\r\n"),
        (
            &["CONFIG", "REWRITE"],
            "-ERR The server is running without a config file\r\n",
        ),
    ];
    let server = TestServer::start();
    let redis = TestServer::start_redis();
    let mut ours = server.raw();
    let mut theirs = redis.as_ref().map(|r| r.raw());
    for (args, expected) in cases {
        assert_eq!(text(&ours.cmd(args)), *expected, "{args:?}");
        if let Some(theirs) = theirs.as_mut() {
            assert_eq!(text(&theirs.cmd(args)), *expected, "redis: {args:?}");
        }
    }
}

/// A lodestone process started with a config file, killed when dropped.
struct FileServer {
    child: Child,
    port: u16,
}

impl FileServer {
    fn start(config: &std::path::Path, port: u16) -> FileServer {
        let child = Command::new(env!("CARGO_BIN_EXE_lodestone"))
            .arg(config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start lodestone");
        let server = FileServer { child, port };
        let ready = common::wait_serving(port);
        assert!(ready, "lodestone with {} did not start", config.display());
        server
    }

    fn raw(&self) -> RawConn {
        RawConn::connect(self.port)
    }

    fn wait_exit(&mut self) -> bool {
        wait_for(Duration::from_secs(10), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        })
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CONFIG REWRITE keeps the file's comments and writes changed values, and a server
/// restarted from the file has them.
#[test]
fn config_rewrite_survives_restart() {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("lodestone-rewrite-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("lodestone.conf");
    std::fs::write(
        &file,
        format!(
            "# my settings\nport {port}\ndir {}\nmaxmemory 0\n\n# end\n",
            dir.display()
        ),
    )
    .unwrap();
    let mut server = FileServer::start(&file, port);
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&[
            "CONFIG",
            "SET",
            "maxmemory",
            "2mb",
            "hz",
            "20",
            "maxmemory-policy",
            "allkeys-lru"
        ]),
        b"+OK\r\n"
    );
    assert_eq!(raw.cmd(&["CONFIG", "REWRITE"]), b"+OK\r\n");
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.starts_with("# my settings\n"), "{written}");
    assert!(written.contains("\nmaxmemory 2mb\n\n# end\n"), "{written}");
    assert!(
        written.contains("# Generated by CONFIG REWRITE\n"),
        "{written}"
    );
    assert!(written.contains("\nhz 20\n") && written.contains("\nmaxmemory-policy allkeys-lru\n"));
    raw.send(&common::encode_request(&[b"SHUTDOWN", b"NOSAVE"]));
    assert!(server.wait_exit());
    drop(server);

    let restarted = FileServer::start(&file, port);
    let mut raw = restarted.raw();
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "maxmemory", "hz", "maxmemory-policy"]),
        b"*6\r\n$9\r\nmaxmemory\r\n$7\r\n2097152\r\n$2\r\nhz\r\n$2\r\n20\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lru\r\n"
    );
    drop(restarted);
    let _ = std::fs::remove_dir_all(&dir);
}

/// With slowlog-log-slower-than 0 every command is logged, in Redis's entry shape.
#[test]
fn slowlog_records_commands() {
    let server = TestServer::start_with(&["--slowlog-log-slower-than", "0"]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["CLIENT", "SETNAME", "logger"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["SLOWLOG", "RESET"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["SET", "slow", "value"]), b"+OK\r\n");
    let mut con = server.client();
    let entries: Vec<Value> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(-1)
        .query(&mut con)
        .unwrap();
    let set_entry = entries
        .iter()
        .find_map(|e| match e {
            Value::Array(f)
                if f[3]
                    == Value::Array(vec![
                        Value::BulkString(b"SET".to_vec()),
                        Value::BulkString(b"slow".to_vec()),
                        Value::BulkString(b"value".to_vec()),
                    ]) =>
            {
                Some(f.clone())
            }
            _ => None,
        })
        .expect("SET was logged");
    assert_eq!(set_entry.len(), 6);
    assert!(matches!(set_entry[0], Value::Int(_)));
    assert!(matches!(set_entry[1], Value::Int(t) if t > 1_600_000_000));
    assert!(matches!(set_entry[2], Value::Int(d) if d >= 0));
    assert!(matches!(&set_entry[4], Value::BulkString(p) if p.starts_with(b"127.0.0.1:")));
    assert_eq!(set_entry[5], Value::BulkString(b"logger".to_vec()));
    let one: Vec<Value> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(1)
        .query(&mut con)
        .unwrap();
    assert_eq!(one.len(), 1);
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut con).unwrap();
    assert!(len >= 3, "{len}");
    assert_eq!(
        raw.cmd(&["SLOWLOG", "GET", "-2"]),
        b"-ERR count should be greater than or equal to -1\r\n"
    );
}

/// A MONITOR connection sees the commands other clients run.
#[test]
fn monitor_sees_other_clients() {
    let server = TestServer::start();
    let mut monitor = server.raw();
    assert_eq!(monitor.cmd(&["MONITOR"]), b"+OK\r\n");
    let mut other = server.raw();
    assert_eq!(other.cmd(&["SET", "mk", "m v"]), b"+OK\r\n");
    let line = text(&monitor.read_reply());
    assert!(line.starts_with('+'), "{line}");
    assert!(line.contains(" [0 127.0.0.1:"), "{line}");
    assert!(line.ends_with("\"SET\" \"mk\" \"m v\"\r\n"), "{line}");
}

/// SHUTDOWN stops the process; SHUTDOWN ABORT with nothing pending is an error.
#[test]
fn shutdown_stops_the_process() {
    let mut server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["SHUTDOWN", "ABORT"]),
        b"-ERR No shutdown in progress.\r\n"
    );
    assert_eq!(
        raw.cmd(&["SHUTDOWN", "NOSAVE", "SAVE"]),
        b"-ERR syntax error\r\n"
    );
    raw.send(&common::encode_request(&[b"SHUTDOWN", b"NOSAVE"]));
    assert!(raw.is_closed());
    assert!(server.wait_exit(Duration::from_secs(10)));
}

/// DEBUG DIGEST is zeros for an empty dataset, changes with a write, and equals
/// Redis's digest of the same data.
#[test]
fn debug_digest_tracks_the_dataset() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let zeros = format!("+{}\r\n", "0".repeat(40));
    assert_eq!(text(&raw.cmd(&["DEBUG", "DIGEST"])), zeros);
    let writes: &[&[&str]] = &[
        &["SET", "a", "1"],
        &["SET", "b", "hello"],
        &["SELECT", "2"],
        &["SET", "c", &"x".repeat(100)],
        &["SELECT", "0"],
    ];
    for args in writes {
        raw.cmd(args);
    }
    let digest = text(&raw.cmd(&["DEBUG", "DIGEST"]));
    assert_ne!(digest, zeros);
    assert_eq!(digest.len(), 43);
    let values = text(&raw.cmd(&["DEBUG", "DIGEST-VALUE", "b", "missing"]));
    assert!(values.ends_with(&zeros), "{values}");
    raw.cmd(&["SET", "a", "2"]);
    assert_ne!(text(&raw.cmd(&["DEBUG", "DIGEST"])), digest);
    raw.cmd(&["SET", "a", "1"]);
    assert_eq!(text(&raw.cmd(&["DEBUG", "DIGEST"])), digest);
    let Some(redis) = TestServer::start_redis() else {
        return;
    };
    let mut theirs = redis.raw();
    for args in writes {
        theirs.cmd(args);
    }
    assert_eq!(text(&theirs.cmd(&["DEBUG", "DIGEST"])), digest);
    assert_eq!(
        text(&theirs.cmd(&["DEBUG", "DIGEST-VALUE", "b", "missing"])),
        values
    );
}

/// DEBUG SLEEP 0, OBJECT, SET-ACTIVE-EXPIRE and POPULATE reply as Redis does.
#[test]
fn debug_subcommands() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["DEBUG", "SLEEP", "0"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]), b"+OK\r\n");
    raw.cmd(&["SET", "foo", "bar"]);
    let object = text(&raw.cmd(&["DEBUG", "OBJECT", "foo"]));
    assert!(object.starts_with("+Value at:0x"), "{object}");
    assert!(
        object.contains(" refcount:1 encoding:embstr serializedlength:4 lru:"),
        "{object}"
    );
    assert!(object.ends_with(" lru_seconds_idle:0\r\n"), "{object}");
    raw.cmd(&["SET", "small", "5"]);
    let shared = text(&raw.cmd(&["DEBUG", "OBJECT", "small"]));
    assert!(shared.contains(" refcount:2147483647 encoding:int serializedlength:2 "));
    assert_eq!(
        raw.cmd(&["DEBUG", "OBJECT", "nokey"]),
        b"-ERR no such key\r\n"
    );
    assert_eq!(raw.cmd(&["DEBUG", "POPULATE", "10", "p"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["GET", "p:9"]), b"$7\r\nvalue:9\r\n");
    assert_eq!(raw.cmd(&["DEBUG", "POPULATE", "1", "q", "3"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&["GET", "q:0"]), b"$3\r\nval\r\n");
    assert!(info_section(&mut raw, "keyspace").contains("db0:keys=13,"));
    assert_eq!(
        raw.cmd(&["DEBUG", "POPULATE", "-1"]),
        b"-ERR value is out of range, must be positive\r\n"
    );
    assert_eq!(
        raw.cmd(&["DEBUG", "NOPE"]),
        b"-ERR unknown subcommand or wrong number of arguments for 'NOPE'. Try DEBUG HELP.\r\n"
    );
}

/// MEMORY USAGE reports Redis's numbers for strings of each encoding.
#[test]
fn memory_usage_matches_redis() {
    let cases = [
        ("bar".to_string(), 64),
        ("12345".to_string(), 48),
        ("x".repeat(44), 96),
        ("x".repeat(45), 112),
        ("x".repeat(1000), 1072),
    ];
    let server = TestServer::start();
    let redis = TestServer::start_redis();
    let mut ours = server.raw();
    let mut theirs = redis.as_ref().map(|r| r.raw());
    for (value, expected) in cases {
        ours.cmd(&["SET", "foo", &value]);
        let reply = format!(":{expected}\r\n");
        assert_eq!(
            text(&ours.cmd(&["MEMORY", "USAGE", "foo"])),
            reply,
            "{value}"
        );
        if let Some(theirs) = theirs.as_mut() {
            theirs.cmd(&["SET", "foo", &value]);
            assert_eq!(text(&theirs.cmd(&["MEMORY", "USAGE", "foo"])), reply);
        }
    }
    assert_eq!(ours.cmd(&["MEMORY", "USAGE", "nokey"]), b"$-1\r\n");
    assert_eq!(
        ours.cmd(&["MEMORY", "USAGE", "foo", "SAMPLES", "0"]),
        b":1072\r\n"
    );
    assert_eq!(
        ours.cmd(&["MEMORY", "USAGE", "foo", "SAMPLES", "-1"]),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(
        ours.cmd(&["MEMORY", "USAGE", "foo", "bar"]),
        b"-ERR syntax error\r\n"
    );
}

/// TIME, LASTSAVE and LOLWUT have Redis's reply shapes.
#[test]
fn time_lastsave_lolwut() {
    let server = TestServer::start();
    let mut con = server.client();
    let (secs, micros): (i64, i64) = redis::cmd("TIME").query(&mut con).unwrap();
    assert!(secs > 1_600_000_000 && (0..1_000_000).contains(&micros));
    let lastsave: i64 = redis::cmd("LASTSAVE").query(&mut con).unwrap();
    assert!(lastsave <= secs && lastsave > secs - 3600);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["LOLWUT"]), b"$18\r\nRedis ver. 7.0.15\n\r\n");
    assert_eq!(
        raw.cmd(&["LOLWUT", "VERSION", "x"]),
        b"-ERR value is not an integer or out of range\r\n"
    );
}

/// CONFIG, SLOWLOG and MEMORY HELP are framed as Redis frames help.
#[test]
fn help_replies() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let config = raw.cmd(&["CONFIG", "HELP"]);
    assert!(text(&config).starts_with(
        "*11\r\n+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+GET <pattern>\r\n"
    ));
    assert!(text(&config).ends_with("+HELP\r\n+    Prints this help.\r\n"));
    let Some(redis) = TestServer::start_redis() else {
        return;
    };
    let mut theirs = redis.raw();
    for args in [&["CONFIG", "HELP"][..], &["SLOWLOG", "HELP"]] {
        assert_eq!(raw.cmd(args), theirs.cmd(args), "{args:?}");
    }
}

/// CONFIG SET port moves the listener: the new port serves, a busy port is refused with
/// Redis's error and everything is rolled back, and the server keeps serving.
#[test]
fn config_set_port_rebinds() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port().to_string();
    let reply = raw.cmd(&["CONFIG", "SET", "maxmemory", "12345", "port", &busy_port]);
    assert!(reply.starts_with(
        b"-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port"
    ));
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "maxmemory"]),
        b"*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
    );
    assert_eq!(server.raw().cmd(&["PING"]), b"+PONG\r\n");

    let new_port = common::free_port();
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "port", &new_port.to_string()]),
        b"+OK\r\n"
    );
    assert!(common::wait_for(std::time::Duration::from_secs(5), || {
        std::net::TcpStream::connect(("127.0.0.1", new_port)).is_ok()
    }));
    assert_eq!(
        common::RawConn::connect(new_port).cmd(&["PING"]),
        b"+PONG\r\n"
    );
    // The connection that asked keeps working.
    assert_eq!(raw.cmd(&["PING"]), b"+PONG\r\n");
}
