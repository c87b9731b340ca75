//! EVAL and FUNCTION through the server: the script cache, busy scripts (other clients
//! get BUSY, SCRIPT KILL and FUNCTION KILL stop a script that has not written, SHUTDOWN
//! NOSAVE stops one that has), the functions lifecycle with DUMP/RESTORE payloads that
//! move between Lodestone and redis-server, scripts reaching keys they did not declare,
//! and script writes entering the effect stream as one MULTI/EXEC block.

mod common;

use std::time::Duration;

use common::{bulk_array, send_line, start_subject, wait_for, RawConn, TestServer};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn cmd(conn: &mut RawConn, args: &[&str]) -> String {
    text(&conn.cmd(args))
}

/// EVAL caches its script; SCRIPT LOAD/EXISTS/FLUSH and EVALSHA work on that cache,
/// and NOSCRIPT and the numkeys errors are Redis's.
#[test]
fn script_cache_and_evalsha() {
    let server = start_subject("SCRIPTING_AGAINST_REDIS");
    let mut c = server.raw();
    let body = "return {KEYS[1], ARGV[1], 42}";
    let sha = "1fa2b7d8a1b2d1e4c8e2f6a3f0d0b7a9c3e5d2f1";
    assert_eq!(
        cmd(&mut c, &["EVAL", body, "1", "k", "v"]),
        "*3\r\n$1\r\nk\r\n$1\r\nv\r\n:42\r\n"
    );
    let loaded = cmd(&mut c, &["SCRIPT", "LOAD", body]);
    let real_sha = loaded.lines().nth(1).unwrap_or_default().to_string();
    assert_eq!(real_sha.len(), 40);
    assert_eq!(
        cmd(&mut c, &["SCRIPT", "EXISTS", &real_sha, sha]),
        "*2\r\n:1\r\n:0\r\n"
    );
    for sha in [real_sha.clone(), real_sha.to_uppercase()] {
        assert_eq!(
            cmd(&mut c, &["EVALSHA", &sha, "1", "k", "v"]),
            "*3\r\n$1\r\nk\r\n$1\r\nv\r\n:42\r\n"
        );
    }
    assert_eq!(
        cmd(&mut c, &["EVALSHA", sha, "0"]),
        "-NOSCRIPT No matching script. Please use EVAL.\r\n"
    );
    assert_eq!(
        cmd(&mut c, &["EVAL", body, "2", "k"]),
        "-ERR Number of keys can't be greater than number of args\r\n"
    );
    assert_eq!(
        cmd(&mut c, &["EVAL", body, "-1"]),
        "-ERR Number of keys can't be negative\r\n"
    );
    assert_eq!(
        cmd(&mut c, &["EVAL", body, "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(cmd(&mut c, &["SCRIPT", "FLUSH"]), "+OK\r\n");
    assert_eq!(
        cmd(&mut c, &["SCRIPT", "EXISTS", &real_sha]),
        "*1\r\n:0\r\n"
    );
}

/// A script past `busy-reply-threshold` makes other clients get BUSY; SCRIPT KILL stops
/// it (its client gets the kill error) and the server serves again.
#[test]
fn busy_script_is_killed_by_script_kill() {
    let server = TestServer::start_with(&["--threads", "2"]);
    let mut other = server.raw();
    let mut runner = server.raw();
    assert_eq!(
        send_line(&mut other, "CONFIG SET busy-reply-threshold 100"),
        b"+OK\r\n"
    );
    runner.send_cmd(&[b"EVAL", b"local i = 0 while true do i = i + 1 end", b"0"]);
    assert!(
        wait_for(Duration::from_secs(10), || {
            send_line(&mut other, "PING").starts_with(b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
        }),
        "no BUSY reply"
    );
    assert_eq!(send_line(&mut other, "FUNCTION KILL"), b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n".to_vec());
    assert_eq!(send_line(&mut other, "SCRIPT KILL"), b"+OK\r\n");
    let killed = text(&runner.read_reply());
    assert!(
        killed.starts_with("-ERR Script killed by user with SCRIPT KILL"),
        "{killed}"
    );
    assert_eq!(send_line(&mut other, "PING"), b"+PONG\r\n");
    assert_eq!(
        send_line(&mut other, "SCRIPT KILL"),
        b"-NOTBUSY No scripts in execution right now.\r\n".to_vec()
    );
}

/// With one worker thread, a client already connected to the busy script's own worker
/// still gets BUSY and can SCRIPT KILL (the script hands the worker to another thread).
#[test]
fn busy_script_on_the_same_worker() {
    let server = TestServer::start_with(&["--threads", "1"]);
    let mut other = server.raw();
    let mut runner = server.raw();
    assert_eq!(
        send_line(&mut other, "CONFIG SET busy-reply-threshold 50"),
        b"+OK\r\n"
    );
    runner.send_cmd(&[b"EVAL", b"while true do end", b"0"]);
    assert!(
        wait_for(Duration::from_secs(10), || {
            send_line(&mut other, "PING").starts_with(b"-BUSY")
        }),
        "no BUSY reply on the script's own worker"
    );
    assert_eq!(send_line(&mut other, "SCRIPT KILL"), b"+OK\r\n");
    assert!(text(&runner.read_reply()).starts_with("-ERR Script killed by user"));
    assert_eq!(send_line(&mut runner, "PING"), b"+PONG\r\n");
    assert_eq!(send_line(&mut other, "PING"), b"+PONG\r\n");
}

/// A busy script that has written cannot be killed (UNKILLABLE); SHUTDOWN NOSAVE still
/// stops the server.
#[test]
fn busy_script_that_wrote_needs_shutdown_nosave() {
    let mut server = TestServer::start_with(&["--threads", "2"]);
    let mut other = server.raw();
    let mut runner = server.raw();
    assert_eq!(
        send_line(&mut other, "CONFIG SET busy-reply-threshold 100"),
        b"+OK\r\n"
    );
    runner.send_cmd(&[
        b"EVAL",
        b"redis.call('set', KEYS[1], 'v') while true do end",
        b"1",
        b"written",
    ]);
    assert!(wait_for(Duration::from_secs(10), || {
        send_line(&mut other, "PING").starts_with(b"-BUSY")
    }));
    assert!(text(&send_line(&mut other, "SCRIPT KILL"))
        .starts_with("-UNKILLABLE Sorry the script already executed write commands"));
    other.send(b"SHUTDOWN NOSAVE\r\n");
    assert!(
        server.wait_exit(Duration::from_secs(10)),
        "server still running"
    );
}

const LIBRARY: &str = "#!lua name=mylib\nredis.register_function('echo_arg', function(keys, args) return args[1] end)\nredis.register_function{function_name='get_key', callback=function(keys, args) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads a key'}";

/// LOAD, FCALL, FCALL_RO, LIST, DUMP, FLUSH, RESTORE (APPEND/REPLACE/FLUSH), DELETE and
/// their errors.
#[test]
fn functions_lifecycle() {
    let server = start_subject("SCRIPTING_AGAINST_REDIS");
    let mut c = server.raw();
    assert_eq!(
        cmd(&mut c, &["FUNCTION", "LOAD", LIBRARY]),
        "$5\r\nmylib\r\n"
    );
    assert_eq!(
        cmd(&mut c, &["FUNCTION", "LOAD", LIBRARY]),
        "-ERR Library 'mylib' already exists\r\n"
    );
    assert_eq!(
        cmd(&mut c, &["FUNCTION", "LOAD", "REPLACE", LIBRARY]),
        "$5\r\nmylib\r\n"
    );
    assert_eq!(
        cmd(&mut c, &["FCALL", "echo_arg", "0", "hi"]),
        "$2\r\nhi\r\n"
    );
    assert_eq!(cmd(&mut c, &["SET", "k", "val"]), "+OK\r\n");
    assert_eq!(
        cmd(&mut c, &["FCALL_RO", "get_key", "1", "k"]),
        "$3\r\nval\r\n"
    );
    assert_eq!(
        cmd(&mut c, &["FCALL_RO", "echo_arg", "0", "x"]),
        "-ERR Can not execute a script with write flag using *_ro command.\r\n"
    );
    assert_eq!(
        cmd(&mut c, &["FCALL", "nope", "0"]),
        "-ERR Function not found\r\n"
    );
    let list = cmd(&mut c, &["FUNCTION", "LIST"]);
    assert!(
        list.contains("mylib") && list.contains("reads a key") && list.contains("no-writes"),
        "{list}"
    );
    let dump = c.cmd(&["FUNCTION", "DUMP"]);
    let payload = bulk_payload(&dump);
    assert_eq!(cmd(&mut c, &["FUNCTION", "FLUSH"]), "+OK\r\n");
    assert_eq!(
        cmd(&mut c, &["FCALL", "echo_arg", "0", "hi"]),
        "-ERR Function not found\r\n"
    );
    c.send_cmd(&[b"FUNCTION", b"RESTORE", &payload]);
    assert_eq!(text(&c.read_reply()), "+OK\r\n");
    assert_eq!(
        cmd(&mut c, &["FCALL", "echo_arg", "0", "back"]),
        "$4\r\nback\r\n"
    );
    c.send_cmd(&[b"FUNCTION", b"RESTORE", &payload]);
    assert_eq!(
        text(&c.read_reply()),
        "-ERR Library mylib already exists\r\n"
    );
    c.send_cmd(&[b"FUNCTION", b"RESTORE", &payload, b"REPLACE"]);
    assert_eq!(text(&c.read_reply()), "+OK\r\n");
    c.send_cmd(&[b"FUNCTION", b"RESTORE", b"garbage-payload-bytes"]);
    assert_eq!(
        text(&c.read_reply()),
        "-ERR DUMP payload version or checksum are wrong\r\n"
    );
    assert_eq!(cmd(&mut c, &["FUNCTION", "DELETE", "mylib"]), "+OK\r\n");
    assert_eq!(
        cmd(&mut c, &["FUNCTION", "DELETE", "mylib"]),
        "-ERR Library not found\r\n"
    );
    assert_eq!(
        cmd(&mut c, &["FUNCTION", "STATS"]),
        "*4\r\n$14\r\nrunning_script\r\n$-1\r\n$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:0\r\n$15\r\nfunctions_count\r\n:0\r\n"
    );
}

/// The payload of a bulk string reply.
fn bulk_payload(reply: &[u8]) -> Vec<u8> {
    let start = reply.iter().position(|&b| b == b'\n').map_or(0, |p| p + 1);
    reply[start..reply.len() - 2].to_vec()
}

/// FUNCTION DUMP payloads move both ways between Lodestone and redis-server.
#[test]
fn function_payloads_interoperate_with_redis() {
    let Some(redis) = TestServer::start_redis() else {
        eprintln!("redis-server not found: skipped");
        return;
    };
    let lodestone = TestServer::start();
    for (from, to) in [(&redis, &lodestone), (&lodestone, &redis)] {
        let (mut a, mut b) = (from.raw(), to.raw());
        assert_eq!(cmd(&mut a, &["FUNCTION", "FLUSH"]), "+OK\r\n");
        assert_eq!(cmd(&mut b, &["FUNCTION", "FLUSH"]), "+OK\r\n");
        // Long enough that redis-server compresses it (LZF) in its payload.
        let padding = "-- padding padding padding padding padding padding padding\n".repeat(20);
        let library = format!("{LIBRARY}\n{padding}");
        assert_eq!(
            cmd(&mut a, &["FUNCTION", "LOAD", &library]),
            "$5\r\nmylib\r\n"
        );
        let payload = bulk_payload(&a.cmd(&["FUNCTION", "DUMP"]));
        b.send_cmd(&[b"FUNCTION", b"RESTORE", &payload]);
        assert_eq!(text(&b.read_reply()), "+OK\r\n");
        assert_eq!(
            cmd(&mut b, &["FCALL", "echo_arg", "0", "moved"]),
            "$5\r\nmoved\r\n"
        );
    }
}

/// A script reaching keys it did not declare, in other shards, reads and writes them.
#[test]
fn undeclared_keys_work() {
    let server = TestServer::start();
    let mut c = server.raw();
    for i in 0..32 {
        assert_eq!(
            cmd(&mut c, &["SET", &format!("key:{i}"), &i.to_string()]),
            "+OK\r\n"
        );
    }
    let script = "local sum = 0 for i = 0, 31 do sum = sum + tonumber(redis.call('get', 'key:' .. i)) redis.call('incr', 'key:' .. i) end return sum";
    assert_eq!(cmd(&mut c, &["EVAL", script, "0"]), ":496\r\n");
    assert_eq!(cmd(&mut c, &["EVAL", script, "0"]), ":528\r\n");
    assert_eq!(cmd(&mut c, &["GET", "key:31"]), "$2\r\n33\r\n");
}

/// SELECT inside a script does not change the caller's database.
#[test]
fn select_inside_script_is_local() {
    let server = start_subject("SCRIPTING_AGAINST_REDIS");
    let mut c = server.raw();
    assert_eq!(
        cmd(
            &mut c,
            &[
                "EVAL",
                "redis.call('select', 5) redis.call('set', 'x', 'in5') return 1",
                "0"
            ]
        ),
        ":1\r\n"
    );
    assert_eq!(cmd(&mut c, &["GET", "x"]), "$-1\r\n");
    assert_eq!(cmd(&mut c, &["SELECT", "5"]), "+OK\r\n");
    assert_eq!(cmd(&mut c, &["GET", "x"]), "$3\r\nin5\r\n");
}

/// A script's writes enter the effect stream as the writes it made, in one MULTI/EXEC
/// block (after the stream's first SELECT); a script that writes nothing adds nothing.
#[test]
fn script_effects_are_one_block() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(cmd(&mut c, &["DEBUG", "EFFECTS", "START"]), "+OK\r\n");
    assert_eq!(
        cmd(&mut c, &["EVAL", "redis.call('set', KEYS[1], 'a') redis.call('incr', KEYS[2]) return redis.call('get', KEYS[1])", "2", "s", "n"]),
        "$1\r\na\r\n"
    );
    assert_eq!(
        cmd(
            &mut c,
            &["EVAL", "return redis.call('get', KEYS[1])", "1", "s"]
        ),
        "$1\r\na\r\n"
    );
    assert_eq!(
        cmd(&mut c, &["DEBUG", "EFFECTS", "GET"]),
        format!(
            "*5\r\n{}{}{}{}{}",
            bulk_array(&["SELECT", "0"]),
            bulk_array(&["MULTI"]),
            bulk_array(&["set", "s", "a"]),
            bulk_array(&["incr", "n"]),
            bulk_array(&["EXEC"])
        )
    );
}

/// `redis.set_repl(redis.REPL_NONE)` keeps the writes that follow off the effect stream;
/// `REPL_ALL` puts them back.
#[test]
fn set_repl_none_keeps_writes_off_the_stream() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(cmd(&mut c, &["DEBUG", "EFFECTS", "START"]), "+OK\r\n");
    assert_eq!(
        cmd(&mut c, &["EVAL", "redis.set_repl(redis.REPL_NONE) redis.call('set', 'hidden', '1') redis.set_repl(redis.REPL_ALL) redis.call('set', 'shown', '1') return 1", "0"]),
        ":1\r\n"
    );
    assert_eq!(
        cmd(&mut c, &["DEBUG", "EFFECTS", "GET"]),
        format!(
            "*2\r\n{}{}",
            bulk_array(&["SELECT", "0"]),
            bulk_array(&["set", "shown", "1"])
        )
    );
}
