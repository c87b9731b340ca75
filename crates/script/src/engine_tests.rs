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

fn err_suffix(script: &str, line: u32) -> String {
    format!(" script: {}, on @user_script:{line}.\r\n", sha(script))
}

#[test]
fn lua_values_become_replies_in_both_protocols() {
    // Proves each row of Redis's Lua -> reply table, and the RESP2 lowering.
    let cases: &[(&str, &str, &str)] = &[
        ("return 1", ":1\r\n", ":1\r\n"),
        ("return 3.99", ":3\r\n", ":3\r\n"),
        ("return -3.99", ":-3\r\n", ":-3\r\n"),
        (
            "return 0/0",
            ":-9223372036854775808\r\n",
            ":-9223372036854775808\r\n",
        ),
        ("return 'x'", "$1\r\nx\r\n", "$1\r\nx\r\n"),
        ("return true", ":1\r\n", ":1\r\n"),
        ("return false", "$-1\r\n", "_\r\n"),
        ("return nil", "$-1\r\n", "_\r\n"),
        (
            "return {1, 2, nil, 4}",
            "*2\r\n:1\r\n:2\r\n",
            "*2\r\n:1\r\n:2\r\n",
        ),
        ("return {ok = 'fine'}", "+fine\r\n", "+fine\r\n"),
        ("return {err = 'MY err'}", "-MY err\r\n", "-MY err\r\n"),
        ("return {double = 3.5}", "$3\r\n3.5\r\n", ",3.5\r\n"),
        ("return {double = 1/0}", "$3\r\ninf\r\n", ",inf\r\n"),
        ("return {big_number = '12'}", "$2\r\n12\r\n", "(12\r\n"),
        (
            "return {verbatim_string = {format = 'txt', string = 'hi'}}",
            "$2\r\nhi\r\n",
            "=6\r\ntxt:hi\r\n",
        ),
        (
            "return {map = {a = 1}}",
            "*2\r\n$1\r\na\r\n:1\r\n",
            "%1\r\n$1\r\na\r\n:1\r\n",
        ),
        (
            "return {set = {a = true}}",
            "*1\r\n$1\r\na\r\n",
            "~1\r\n$1\r\na\r\n",
        ),
        ("redis.setresp(3) return true", ":1\r\n", "#t\r\n"),
        ("redis.setresp(3) return false", ":0\r\n", "#f\r\n"),
        (
            "return redis.error_reply('nospace')",
            "-ERR nospace\r\n",
            "-ERR nospace\r\n",
        ),
        ("return redis.status_reply('OK')", "+OK\r\n", "+OK\r\n"),
    ];
    for (script, resp2, resp3) in cases {
        assert_eq!(eval2(script), *resp2, "RESP2 {script}");
        assert_eq!(eval3(script), *resp3, "RESP3 {script}");
    }
}

#[test]
fn command_replies_become_lua_values() {
    // Proves Redis's reply -> Lua table for every RESP2 and RESP3 type, by echoing
    // crafted replies through the fake host and describing what the script sees.
    let describe = "local function d(v) \
        if type(v) ~= 'table' then return type(v) .. ':' .. tostring(v) end \
        local keys = {} for k in pairs(v) do keys[#keys + 1] = tostring(k) end \
        table.sort(keys) local parts = {} \
        for _, k in ipairs(keys) do local x = v[k] if x == nil then x = v[tonumber(k)] end \
        parts[#parts + 1] = k .. '=' .. d(x) end \
        return '{' .. table.concat(parts, ',') .. '}' end ";
    let cases: &[(&str, &str)] = &[
        (":42\r\n", "number:42"),
        ("$3\r\nabc\r\n", "string:abc"),
        ("$-1\r\n", "boolean:false"),
        ("*-1\r\n", "boolean:false"),
        ("+OK\r\n", "{ok=string:OK}"),
        ("*2\r\n:1\r\n$1\r\nx\r\n", "{1=number:1,2=string:x}"),
        ("_\r\n", "nil:nil"),
        ("#t\r\n", "boolean:true"),
        ("#f\r\n", "boolean:false"),
        (",1.5\r\n", "{double=number:1.5}"),
        (",inf\r\n", "{double=number:inf}"),
        ("(123\r\n", "{big_number=string:123}"),
        (
            "=7\r\ntxt:abc\r\n",
            "{verbatim_string={format=string:txt,string=string:abc}}",
        ),
        ("%1\r\n$1\r\nk\r\n:1\r\n", "{map={k=number:1}}"),
        (
            "~2\r\n$1\r\na\r\n$1\r\nb\r\n",
            "{set={a=boolean:true,b=boolean:true}}",
        ),
        ("|1\r\n$1\r\na\r\n$1\r\nb\r\n:5\r\n", "number:5"),
    ];
    for (raw, seen) in cases {
        let script = format!("{describe} return d(redis.call('raw', ARGV[1]))");
        let reply = run_with(
            &mut Engine::new().unwrap(),
            &mut FakeHost::default(),
            &script,
            &[],
            &[raw],
            Protocol::Resp2,
        );
        assert_eq!(reply, format!("${}\r\n{seen}\r\n", seen.len()), "{raw:?}");
    }
    // An error reply: raised by call, returned as a table by pcall.
    let script = "return redis.call('raw', '-WRONGTYPE bad\\r\\n')";
    assert_eq!(
        eval2(script),
        format!("-WRONGTYPE bad{}", err_suffix(script, 1))
    );
    let script = "local t = redis.pcall('raw', '-WRONGTYPE bad\\r\\n') return {t.err, tostring(t.ignore_error_stats_update)}";
    assert_eq!(
        eval2(script),
        "*2\r\n$13\r\nWRONGTYPE bad\r\n$4\r\ntrue\r\n"
    );
    // The protocol the host is asked for follows redis.setresp, reset at each run.
    let mut engine = Engine::new().unwrap();
    let mut host = FakeHost::default();
    run_with(
        &mut engine,
        &mut host,
        "redis.call('ping') redis.setresp(3) redis.call('ping')",
        &[],
        &[],
        Protocol::Resp2,
    );
    run_with(
        &mut engine,
        &mut host,
        "redis.call('ping')",
        &[],
        &[],
        Protocol::Resp2,
    );
    let protocols: Vec<u8> = host.calls.iter().map(|c| c.1).collect();
    assert_eq!(protocols, [2, 3, 2]);
}

#[test]
fn arguments_reach_the_host_as_redis_formats_them() {
    // Proves numbers use %.17g, strings are binary-safe, and KEYS/ARGV are set per run.
    let mut engine = Engine::new().unwrap();
    let mut host = FakeHost::default();
    let reply = run_with(
        &mut engine,
        &mut host,
        "return redis.call('set', KEYS[1], ARGV[1] .. 0.1)",
        &["k"],
        &["v\0"],
        Protocol::Resp2,
    );
    assert_eq!(reply, "+OK\r\n");
    assert_eq!(
        host.calls[0].0,
        [b"set".to_vec(), b"k".to_vec(), b"v\x000.1".to_vec()]
    );
    run_with(
        &mut engine,
        &mut host,
        "return redis.call('set', 'n', 0.1, 10, -2.5)",
        &[],
        &[],
        Protocol::Resp2,
    );
    assert_eq!(host.calls[1].0[2], b"0.10000000000000001");
    assert_eq!(host.calls[1].0[3], b"10");
    assert_eq!(
        run_with(
            &mut engine,
            &mut host,
            "return {#KEYS, #ARGV}",
            &[],
            &["a", "b"],
            Protocol::Resp2
        ),
        "*2\r\n:0\r\n:2\r\n"
    );
    let script = "return redis.call('get', {})";
    assert_eq!(
        eval2(script),
        format!(
            "-ERR Lua redis lib command arguments must be strings or integers{}",
            err_suffix(script, 1)
        )
    );
}

#[test]
fn sandbox_refuses_with_redis_texts() {
    // Proves globals and library tables are read-only with Redis's exact messages.
    let cases: &[(&str, &str)] = &[
        (
            "return a",
            "-ERR user_script:1: Script attempted to access nonexistent global variable 'a'",
        ),
        (
            "a = 10",
            "-ERR user_script:1: Attempt to modify a readonly table",
        ),
        (
            "rawset(_G, 'x', 1)",
            "-ERR Attempt to modify a readonly table",
        ),
        (
            "setmetatable(_G, {})",
            "-ERR Attempt to modify a readonly table",
        ),
        (
            "redis.call = 1",
            "-ERR user_script:1: Attempt to modify a readonly table",
        ),
        (
            "cjson.encode = 1",
            "-ERR user_script:1: Attempt to modify a readonly table",
        ),
        (
            "getmetatable('').__index.upper = 1",
            "-ERR user_script:1: Attempt to modify a readonly table",
        ),
        (
            "table.insert(math, 1)",
            "-ERR Attempt to modify a readonly table",
        ),
        (
            "print('x')",
            "-ERR user_script:1: Script attempted to access nonexistent global variable 'print'",
        ),
        (
            "os.exit()",
            "-ERR user_script:1: Script attempted to access nonexistent global variable 'os'",
        ),
        (
            "debug.sethook()",
            "-ERR user_script:1: Script attempted to access nonexistent global variable 'debug'",
        ),
        (
            "setfenv(1, {})",
            "-ERR user_script:1: Script attempted to access nonexistent global variable 'setfenv'",
        ),
        (
            "loadstring('x = 1')()",
            "-ERR [string \"x = 1\"]:1: Attempt to modify a readonly table",
        ),
    ];
    for (script, start) in cases {
        let reply = eval2(script);
        assert!(reply.starts_with(start), "{script}: {reply}");
    }
    // Precompiled chunks are refused (they would escape the sandbox).
    assert_eq!(
        eval2("return select(2, loadstring(string.dump(function() end), 'c'))"),
        "$49\r\n[string \"c\"]:1: unexpected symbol near 'char(27)'\r\n"
    );
    // A global set by one script is not seen by the next; KEYS is.
    let mut engine = Engine::new().unwrap();
    let mut host = FakeHost::default();
    run_with(
        &mut engine,
        &mut host,
        "pcall(function() x = 1 end)",
        &[],
        &[],
        Protocol::Resp2,
    );
    assert!(run_with(
        &mut engine,
        &mut host,
        "return x",
        &[],
        &[],
        Protocol::Resp2
    )
    .contains("nonexistent global variable 'x'"));
}

#[test]
fn redis_helpers_reach_the_host() {
    // Proves redis.log, redis.set_repl and their argument errors.
    let mut engine = Engine::new().unwrap();
    let mut host = FakeHost::default();
    run_with(
        &mut engine,
        &mut host,
        "redis.log(redis.LOG_WARNING, 'a', 1, {}, 'b') redis.set_repl(redis.REPL_AOF)",
        &[],
        &[],
        Protocol::Resp2,
    );
    assert_eq!(host.logs, [(LogLevel::Warning, b"a 1 b".to_vec())]);
    assert_eq!(host.repl, [1]);
    let script = "redis.set_repl(4)";
    assert_eq!(
        eval2(script),
        format!(
            "-ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.{}",
            err_suffix(script, 1)
        )
    );
    assert_eq!(
        eval2("return redis.REDIS_VERSION .. ' ' .. redis.REDIS_VERSION_NUM"),
        "$13\r\n7.0.15 458767\r\n"
    );
    assert_eq!(
        eval2("return redis.sha1hex('')"),
        "$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n"
    );
}

#[test]
fn math_random_follows_redis_lrand48() {
    // Proves the generator is Redis's: after randomseed(1), math.random(100) gives 5
    // (observed on redis-server 7.0.15), and the sequence is reproducible.
    assert_eq!(
        eval2("math.randomseed(1) return math.random(100)"),
        ":5\r\n"
    );
    let a = eval2(
        "math.randomseed(7) return {math.random(1000), math.random(1000), math.random(1000)}",
    );
    let b = eval2(
        "math.randomseed(7) return {math.random(1000), math.random(1000), math.random(1000)}",
    );
    assert_eq!(a, b);
    assert!(
        eval2("return math.random(0)").contains("bad argument #1 to 'random' (interval is empty)")
    );
}

#[test]
fn interrupts_stop_scripts_and_pcall_cannot_catch_them() {
    // Proves check_interrupt's error ends the script with Redis's SCRIPT KILL shape,
    // even when the script keeps calling pcall.
    for script in [
        "local i = 0 while true do i = i + 1 end",
        "while true do pcall(function() local i = 0 while true do i = i + 1 end end) end",
        "local i = 0\nwhile true do\ni = i + 1\nend",
    ] {
        let mut host = FakeHost {
            interrupt_after: Some((3, "ERR Script killed by user with SCRIPT KILL...".into())),
            ..FakeHost::default()
        };
        let reply = run_with(
            &mut Engine::new().unwrap(),
            &mut host,
            script,
            &[],
            &[],
            Protocol::Resp2,
        );
        assert!(
            reply.starts_with("-ERR Script killed by user with SCRIPT KILL... script: "),
            "{reply}"
        );
        assert_eq!(host.interrupt_checks, 3);
    }
    // The next run on the same engine is not interrupted.
    let mut engine = Engine::new().unwrap();
    let mut host = FakeHost {
        interrupt_after: Some((1, "ERR killed".into())),
        ..FakeHost::default()
    };
    run_with(
        &mut engine,
        &mut host,
        "while true do end",
        &[],
        &[],
        Protocol::Resp2,
    );
    host.interrupt_after = None;
    assert_eq!(
        run_with(
            &mut engine,
            &mut host,
            "return 1",
            &[],
            &[],
            Protocol::Resp2
        ),
        ":1\r\n"
    );
}

#[test]
fn deep_and_self_referencing_replies_are_bounded() {
    // Proves a self-referencing table ends with Redis's stack-limit error instead of
    // exhausting the Rust stack, and deep nesting converts iteratively.
    let reply = eval2("local t = {} t[1] = t return t");
    assert!(reply.ends_with("-ERR reached lua stack limit\r\n"));
    assert_eq!(reply.matches("*1\r\n").count(), 7995);
    let reply = eval3("local t = {} for i = 1, 5000 do t = {map = {k = t}} end return t");
    assert!(reply.starts_with("%1\r\n$1\r\nk\r\n%1\r\n"));
}

#[test]
fn scripts_compile_once_and_flush() {
    // Proves compile errors, the script cache and SCRIPT FLUSH.
    let mut engine = Engine::new().unwrap();
    let body = b"return 1 +";
    let err = engine.compile(&Engine::sha1hex(body), body).unwrap_err();
    assert_eq!(
        err,
        "ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'"
    );
    assert_eq!(
        engine
            .compile("x", b"#!lua flags=bad\nreturn 1")
            .unwrap_err(),
        "ERR Unexpected flag in script shebang: bad"
    );
    let sha = Engine::sha1hex(b"return 2");
    engine.compile(&sha, b"return 2").unwrap();
    assert!(engine.has_script(&sha.to_uppercase()));
    let mut out = ReplyWriter::new(Protocol::Resp2);
    engine.run_script(&sha, b"", &[], &[], &mut FakeHost::default(), &mut out);
    assert_eq!(&out.buf[..], b":2\r\n");
    engine.flush_scripts();
    assert!(!engine.has_script(&sha));
    let flags = Engine::script_flags(b"#!lua flags=no-writes\nreturn 1").unwrap();
    assert!(flags.shebang && flags.no_writes);
}

#[test]
fn function_libraries_lifecycle() {
    // Proves load, duplicates, REPLACE, cross-library names, delete, flush and FCALL.
    let mut engine = Engine::new().unwrap();
    let mut host = FakeHost::default();
    let lib = "#!lua name=mylib\nredis.register_function{function_name='f', callback=function(keys, args) return {keys[1], args[1]} end, flags={'no-writes', 'allow-stale'}, description='d'}\nredis.register_function('g', function() return redis.call('incr', 'n') end)";
    let info = engine.load_library(lib.as_bytes(), false).unwrap();
    assert_eq!(info.name, "mylib");
    assert_eq!(info.functions[0].name, "f");
    assert_eq!(info.functions[0].description.as_deref(), Some("d"));
    assert!(info.functions[0].flags.no_writes && info.functions[0].flags.allow_stale);
    assert!(!info.functions[1].flags.no_writes);
    assert_eq!(engine.function_flags("f"), Some(info.functions[0].flags));
    let mut out = ReplyWriter::new(Protocol::Resp2);
    engine.run_function("f", &[b"k"], &[b"a"], &mut host, &mut out);
    assert_eq!(&out.buf[..], b"*2\r\n$1\r\nk\r\n$1\r\na\r\n");
    assert_eq!(
        engine.load_library(lib.as_bytes(), false).unwrap_err(),
        "ERR Library 'mylib' already exists"
    );
    assert!(engine.load_library(lib.as_bytes(), true).is_ok());
    let other = "#!lua name=other\nredis.register_function('g', function() end)";
    assert_eq!(
        engine.load_library(other.as_bytes(), false).unwrap_err(),
        "ERR Function g already exists"
    );
    // A failed REPLACE keeps the old library.
    let broken = "#!lua name=mylib\nerror('no')";
    assert!(engine.load_library(broken.as_bytes(), true).is_err());
    assert!(engine.function_flags("g").is_some());
    assert!(engine.delete_library("mylib"));
    assert!(engine.function_flags("g").is_none());
    assert!(engine.load_library(other.as_bytes(), false).is_ok());
    engine.flush_libraries();
    let mut out = ReplyWriter::new(Protocol::Resp2);
    engine.run_function("g", &[], &[], &mut host, &mut out);
    assert_eq!(&out.buf[..], b"-ERR Function not found\r\n");
}

#[test]
fn library_loading_has_a_timeout() {
    // Proves a library whose code never ends is stopped like Redis's FUNCTION LOAD.
    let mut engine = Engine::new().unwrap();
    let err = engine
        .load_library(b"#!lua name=slow\nwhile true do end", false)
        .unwrap_err();
    assert_eq!(
        err,
        "ERR Error registering functions: ERR FUNCTION LOAD timeout"
    );
}

#[test]
#[should_panic(expected = "host failure")]
fn host_panics_propagate_after_the_run() {
    // Proves a panic in host code unwinds to the caller, not through Lua's C frames.
    struct Panicky;
    impl Host for Panicky {
        fn call(&mut self, _: &[&[u8]], _: u8) -> Vec<u8> {
            panic!("host failure")
        }
        fn log(&mut self, _: LogLevel, _: &[u8]) {}
        fn check_interrupt(&mut self) -> Result<(), String> {
            Ok(())
        }
        fn set_repl(&mut self, _: i64) {}
    }
    let mut engine = Engine::new().unwrap();
    let mut out = ReplyWriter::new(Protocol::Resp2);
    engine.run_script(
        "x",
        b"return redis.call('ping')",
        &[],
        &[],
        &mut Panicky,
        &mut out,
    );
}
