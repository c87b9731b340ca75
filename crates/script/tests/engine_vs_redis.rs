//! Differential test of the script engine: every script runs as `EVAL <script> 0` on a
//! real `redis-server` (RESP2, then RESP3 after `HELLO 3`) and through
//! `Engine::run_script` with a host that forwards `redis.call` to the same server on a
//! second connection; the reply bytes must be identical. Library loads and `FCALL`s are
//! compared the same way. Skipped, with a note, when `redis-server` is not on PATH.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use support::{find_redis_server, start};

use lodestone_resp::{Protocol, ReplyWriter};
use lodestone_script::{Engine, Host, LogLevel};

/// Scripts compared in both protocols.
const SCRIPTS: &[&str] = &[
    // Lua -> reply
    "return 1",
    "return -1",
    "return 3.99",
    "return -3.99",
    "return 1e20",
    "return 0/0",
    "return 'hello'",
    "return ''",
    "return true",
    "return false",
    "return nil",
    "return {}",
    "return {1, 2, 3}",
    "return {1, 2, nil, 4}",
    "return {1, 'two', {3, {4}}, true, false}",
    "return {x = 1}",
    "return {ok = 'fine'}",
    "return {ok = 'fine\\r\\nx'}",
    "return {ok = 5}",
    "return {err = 'MY err'}",
    "return {err = 'bad\\nx'}",
    "return {err = ''}",
    "return {err = 'x\\r\\n'}",
    "return {err = 5}",
    "return {1, {err = 'inner'}, 3}",
    "return {1, {ok = 'inner'}, 3}",
    "return {double = 3.5}",
    "return {double = 1/0}",
    "return {double = -1/0}",
    "return {double = 0.1}",
    "return {double = '3.5'}",
    "return {big_number = '123456789012345678901234567890'}",
    "return {big_number = 'a\\r\\nb'}",
    "return {big_number = 5}",
    "return {verbatim_string = {format = 'txt', string = 'hi'}}",
    "return {verbatim_string = {format = 'markdown', string = 'hi'}}",
    "return {verbatim_string = {format = 'x', string = 'hi'}}",
    "return {verbatim_string = {format = 'txt'}}",
    "return {map = {a = 1}}",
    "return {map = {}}",
    "return {map = {a = {1, 2}, b = {map = {c = true}}}}",
    "return {map = {[1] = 'one', [2] = 'two'}}",
    "return {set = {a = true}}",
    "return {set = {}}",
    "return {set = {a = true, b = true, c = true}}",
    "return {map = 'x'}",
    "return {err = 'e', ok = 'o'}",
    "return {ok = 'o', double = 1}",
    "return {'a', map = {x = 1}}",
    "local t = {} t[1] = t return t",
    "local t = {} for i = 1, 300 do t = {t} end return t",
    "return {function() end}",
    "return coroutine.create(function() end)",
    "return redis.error_reply('MY err')",
    "return redis.error_reply('-MY err')",
    "return redis.error_reply('nospace')",
    "return redis.error_reply('')",
    "return redis.error_reply(1)",
    "return redis.error_reply()",
    "return redis.status_reply('OK')",
    "return redis.status_reply(1)",
    "return redis.status_reply('a', 'b')",
    // redis.call / pcall. Errors the server adds for script callers (arity "Wrong number
    // of args calling Redis command from script", unknown commands, writes from
    // no-writes scripts) are the host's, so these use errors both paths share.
    "return redis.call('ping')",
    "return redis.call('echo', 'x')",
    "return redis.call('set', 'k', 'v')",
    "redis.call('set', 'k', 'v') return redis.call('get', 'k')",
    "redis.call('set', 'k', 1.5) return redis.call('get', 'k')",
    "redis.call('set', 'k', 0.1) return redis.call('get', 'k')",
    "redis.call('set', 'k', 100) return redis.call('get', 'k')",
    "redis.call('set', 'k', -1e300) return redis.call('get', 'k')",
    "redis.call('del', 'missing') return redis.call('get', 'missing')",
    "redis.call('del', 'c') return redis.call('incr', 'c')",
    "redis.call('del', 'h') redis.call('hset', 'h', 'a', '1') return redis.call('hgetall', 'h')",
    "redis.call('del', 's') redis.call('sadd', 's', 'a') return redis.call('smembers', 's')",
    "redis.call('del', 'z') redis.call('zadd', 'z', 1.5, 'a') return redis.call('zrange', 'z', 0, -1, 'withscores')",
    "redis.call('del', 'l') return redis.call('lpop', 'l')",
    "return redis.call('set', 'k', 'v', 'xx', 'nx')",
    "return redis.call()",
    "return redis.pcall()",
    "return redis.call({})",
    "return redis.call('get', {})",
    "return redis.call('get', true)",
    "return redis.call('get', nil)",
    "local ok, e = pcall(error, {err = 'E r'}) return e",
    "local ok, e = pcall(error, 'plain') return e",
    "return {pcall(function() return 1, 2 end)}",
    "return pcall()",
    "return redis.call('incr', 'k')",
    "return redis.pcall('set', 'k', 'v', 'ex', 0)",
    "return {redis.pcall('set', 'k', 'v', 'ex', 0)}",
    "local t = redis.pcall('set', 'k', 'v', 'ex', 0) return t.err",
    "return {pcall(redis.call, 'set', 'k', 'v', 'ex', 0)}",
    "local ok, e = pcall(redis.call, 'set', 'k', 'v', 'ex', 0) return type(e)",
    "redis.setresp(3) return redis.pcall('set', 'k', 'v', 'ex', 0)",
    "redis.call('set', 'k', 'v') return redis.pcall('incr', 'k')",
    // errors and their positions
    "return a",
    "a = 10",
    "local t = {} t.x.y = 1",
    "error('x')",
    "error('x', 0)",
    "error('x', 2)",
    "error({err = 'MY bad'})",
    "error({err = 'x', source = 's'})",
    "error(5)",
    "error()",
    "error(true)",
    "return 1 +",
    "x(",
    "return nil .. 'x'",
    "local function f() error('deep') end local function g() f() end g()",
    "local function f() return a end return f()",
    "\n\nreturn b",
    "assert(false)",
    "assert(false, 'why')",
    "return string.rep()",
    "return ('x'):rep()",
    "return math.floor('x')",
    "return tostring()",
    "return redis.sha1hex()",
    "return redis.sha1hex('')",
    "return redis.sha1hex('Pizza & Mandolino')",
    "return redis.sha1hex(1)",
    "return redis.sha1hex({})",
    // sandbox
    "return type(os)",
    "return _G.foo",
    "return _G[1]",
    "return _G[true]",
    "rawset(_G, 'x', 1)",
    "return rawget(_G, 'x')",
    "return type(rawget(_G, 'redis'))",
    "setmetatable(_G, {})",
    "local g = getmetatable(_G) g.__index = {}",
    "return type(getmetatable(_G).__index)",
    "return getmetatable(_G).__newindex",
    "redis = function() return 1 end",
    "_G = {}",
    "redis.call = function() return 1 end",
    "redis.x = 1",
    "cjson.encode = function() return 1 end",
    "cmsgpack.pack = function() return 1 end",
    "bit.lshift = function() return 1 end",
    "string.x = 1",
    "math.pi = 3",
    "table.insert = nil",
    "rawset(redis, 'x', 1)",
    "table.insert(redis, 1)",
    "table.insert(redis)",
    "table.insert()",
    "return table.remove(redis)",
    "return tostring(getmetatable(redis))",
    "setmetatable(redis, {})",
    "getmetatable('').__index = function() return 1 end",
    "getmetatable('').__index.x = 1",
    "return tostring(getmetatable('').__index == string)",
    "getmetatable(nil).__index = 1",
    "getmetatable(1).__index = 1",
    "getmetatable(true).__index = 1",
    "getmetatable(function() end).__index = 1",
    "local n = 0 for k in pairs(redis) do n = n + 1 end return n",
    "local n = 0 for k in pairs(_G) do n = n + 1 end return n",
    "local n = 0 for k in pairs(string) do n = n + 1 end return n",
    "local n = 0 table.foreach(math, function() n = n + 1 end) return n",
    "local t = {} for k in pairs(_G) do t[#t + 1] = k end table.sort(t) return t",
    "local t = {} for k in pairs(redis) do t[#t + 1] = k end table.sort(t) return t",
    "return next(redis) ~= nil",
    "return #redis",
    "return rawget(redis, 'call') == redis.call",
    "loadfile('x')",
    "dofile('x')",
    "print('x')",
    "return type(newproxy)",
    "return type(setfenv)",
    "return type(getfenv)",
    "return type(module)",
    "return type(require)",
    "return type(debug)",
    "return type(load)",
    "return type(loadstring)",
    "return type(gcinfo)",
    "return _VERSION",
    "return tostring(_G._G == _G)",
    "return loadstring('return 1')()",
    "local f = loadstring('x = 1') f()",
    "local f = loadstring('return y') return f()",
    "return select(2, loadstring('x='))",
    "return select(2, loadstring('x=', 'name'))",
    "return select(2, loadstring('x=', '@file'))",
    "return select(2, loadstring('x=', '=raw'))",
    "return select(2, loadstring(string.dump(function() return 1 end)))",
    "return {loadstring(string.dump(function() return 1 end))}",
    "return loadstring(string.dump(function() return 1 end))()",
    "local i = 0 return select(2, load(function() i = i + 1 if i == 1 then return string.dump(function() end) end end))",
    "local i = 0 return load(function() i = i + 1 if i == 1 then return 'return 7' end end)()",
    "coroutine.wrap(function() x = 1 end)()",
    "local co = coroutine.create(function() return b end) return {coroutine.resume(co)}",
    "return KEYS",
    "return #ARGV",
    "KEYS = 1",
    "KEYS[1] = 'x' return KEYS",
    "local t = setmetatable({}, {__index = function() return 1 end}) return t.x",
    "return cjson.decode(cjson.encode({1, 2, {a = 'b'}}))",
    "return cmsgpack.unpack(cmsgpack.pack({1, 2, 'x'}))",
    "return struct.pack('>I2', 258)",
    "return bit.band(7, 3)",
    // redis.* helpers
    "redis.setresp(4)",
    "redis.setresp()",
    "redis.setresp('3')",
    "redis.setresp(2, 3)",
    "redis.log()",
    "redis.log('x', 'y')",
    "redis.log(7, 'y')",
    "redis.log(-1, 'y')",
    "return redis.log(redis.LOG_WARNING, 'from the differential test')",
    "redis.set_repl()",
    "redis.set_repl(7)",
    "return redis.set_repl(redis.REPL_ALL)",
    "return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL}",
    "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}",
    "return redis.REDIS_VERSION",
    "return redis.REDIS_VERSION_NUM",
    "return redis.breakpoint()",
    "return redis.debug('x')",
    "return redis.replicate_commands()",
    "return redis.acl_check_cmd('get', 'x')",
    "return redis.acl_check_cmd()",
    "return math.random(1, 2, 3)",
    "return math.random(0)",
    "return math.random(3, 1)",
    "return math.random('x')",
    "math.randomseed(1) return {math.random(100), math.random(100), math.random(1, 6)}",
    "math.randomseed(42) return tostring(math.random())",
    "math.randomseed(-5) return math.random(1000000)",
    "math.randomseed('x')",
    // RESP3 replies read by scripts (redis.setresp(3)) and written back
    "redis.setresp(3) return redis.call('debug', 'protocol', 'string')",
    "redis.setresp(3) return redis.call('debug', 'protocol', 'integer')",
    "redis.setresp(3) return redis.call('debug', 'protocol', 'double')",
    "redis.setresp(3) return redis.call('debug', 'protocol', 'bignum')",
    "redis.setresp(3) return redis.call('debug', 'protocol', 'null')",
    "redis.setresp(3) return redis.call('debug', 'protocol', 'array')",
    "redis.setresp(3) return redis.call('debug', 'protocol', 'set')",
    "redis.setresp(3) return redis.call('debug', 'protocol', 'map')",
    "redis.setresp(3) return redis.call('debug', 'protocol', 'attrib')",
    "redis.setresp(3) return redis.call('debug', 'protocol', 'verbatim')",
    "redis.setresp(3) return redis.call('debug', 'protocol', 'true')",
    "redis.setresp(3) return redis.call('debug', 'protocol', 'false')",
    "redis.setresp(3) return type(redis.call('debug', 'protocol', 'null'))",
    "redis.setresp(3) return redis.call('debug', 'protocol', 'double').double",
    "redis.setresp(3) local v = redis.call('debug', 'protocol', 'verbatim') return {v.verbatim_string.format, v.verbatim_string.string}",
    "redis.setresp(3) return redis.call('debug', 'protocol', 'map').map[0]",
    "return redis.call('debug', 'protocol', 'map')",
    "return redis.call('debug', 'protocol', 'set')",
    "return redis.call('debug', 'protocol', 'double')",
    "return redis.call('debug', 'protocol', 'null')",
    "return redis.call('debug', 'protocol', 'true')",
    "return redis.call('debug', 'protocol', 'false')",
    "return redis.call('debug', 'protocol', 'bignum')",
    "return redis.call('debug', 'protocol', 'verbatim')",
    "redis.setresp(3) return true",
    "redis.setresp(3) return false",
    "redis.setresp(3) return {true, false, nil}",
    "redis.setresp(3) redis.call('del', 'missing') return redis.call('get', 'missing')",
    "redis.setresp(3) redis.call('del', 'h') redis.call('hset', 'h', 'a', '1') return redis.call('hgetall', 'h')",
    "redis.setresp(3) redis.call('del', 'z') redis.call('zadd', 'z', 1.5, 'a') return redis.call('zscore', 'z', 'a')",
    // shebangs
    "#!lua\nreturn 1",
    "#!lua flags=no-writes\nreturn 2",
    "#!lua flags=no-writes,allow-oom,allow-stale,no-cluster,allow-cross-slot-keys\nreturn 3",
    "#!lua flags=\nreturn 4",
    "#!lua\nreturn a",
    "#!lua\n\nerror('line 3')",
    "#!lua",
    "#!python\nreturn 1",
    "#!lua foo=bar\nreturn 1",
    "#!lua flags=bad\nreturn 1",
    "#!lua flags=no-writes,\nreturn 1",
    "#!lua \"unbalanced\nreturn 1",
    "#!\nreturn 1",
];

/// Libraries loaded with `FUNCTION LOAD` (on an empty registry): the reply, then
/// `FCALL <name> 0` for each function name listed after the code.
const LIBRARIES: &[(&str, &[&str])] = &[
    ("#!lua name=lib1\nredis.register_function('f1', function(keys, args) return {#keys, #args} end)", &["f1"]),
    ("#!lua name=lib2\nredis.register_function('f2', function() return redis.call('ping') end)", &["f2"]),
    ("#!lua name=lib3\nredis.register_function('f3', function() return a end)", &["f3"]),
    ("#!lua name=lib4\nredis.register_function('f4', function() error('boom') end)", &["f4"]),
    ("#!lua name=lib5\nredis.register_function{function_name='f5', callback=function() return 5 end, flags={'no-writes'}, description='five'}", &["f5"]),
    ("#!lua name=lib6\nlocal function helper() return 'h' end\nredis.register_function('f6', function() return helper() end)", &["f6"]),
    ("#!lua name=lib7\nredis.register_function('f7', function() x = 1 end)", &["f7"]),
    ("#!lua name=lib8\nredis.register_function('f8', function() return redis.register_function end)", &["f8"]),
    ("#!lua name=lib9\nredis.register_function('f9', function() return {type(redis.breakpoint), type(__redis__err__handler), type(KEYS)} end)", &["f9"]),
    ("#!lua name=liba\nredis.register_function('fa', function() redis.setresp(3) return redis.call('debug', 'protocol', 'map') end)", &["fa"]),
    ("#!lua name=libb\nredis.register_function('fb', function() local n = 0 for k in pairs(_G) do n = n + 1 end return n end)", &["fb"]),
    ("#!lua name=libc\nredis.register_function('fc', function() return redis.error_reply('X y') end)", &["fc"]),
    ("#!lua name=libd\nredis.register_function('fd', function() return redis.call('set', 'k', 'v', 'ex', 0) end)", &["fd"]),
    ("#!LUA name=libe\nredis.register_function('fe', function() return 1 end)", &["fe"]),
    ("#!lua name=libf\nredis.log(redis.LOG_NOTICE, 'loading') redis.register_function('ff', function() return redis.REDIS_VERSION end)", &["ff"]),
    ("#!lua name=lib\nlocal s = string.format", &[]),
    ("#!lua name=lib\nredis.call('ping')", &[]),
    ("#!lua name=lib\nreturn 1", &[]),
    ("#!lua name=lib", &[]),
    ("#!lua name=lib\nx = 1", &[]),
    ("#!lua name=lib\nreturn _G", &[]),
    ("#!lua name=lib\nredis.setresp(3)", &[]),
    ("#!lua name=lib\nlocal x = redis.sha1hex", &[]),
    ("#!lua name=lib\nlocal x = math.random()", &[]),
    ("#!lua name=lib\nerror('at load')", &[]),
    ("#!lua name=lib\nerror({err='TABLE at load'})", &[]),
    ("#!lua name=lib\nreturn 1 +", &[]),
    ("#!lua name=lib\nredis.register_function('f', function() end) redis.register_function('f', function() end)", &[]),
    ("#!lua name=lib\nredis.register_function('bad-name', function() end)", &[]),
    ("#!lua name=lib\nredis.register_function('', function() end)", &[]),
    ("#!lua name=lib\nredis.register_function('f')", &[]),
    ("#!lua name=lib\nredis.register_function('f', 1)", &[]),
    ("#!lua name=lib\nredis.register_function(1, function() end)", &["1"]),
    ("#!lua name=lib\nredis.register_function({}, function() end)", &[]),
    ("#!lua name=lib\nredis.register_function()", &[]),
    ("#!lua name=lib\nredis.register_function('a', function() end, 3)", &[]),
    ("#!lua name=lib\nredis.register_function('f')", &[]),
    ("#!lua name=lib\nredis.register_function(1)", &[]),
    ("#!lua name=lib\nredis.register_function{}", &[]),
    ("#!lua name=lib\nredis.register_function{function_name='f'}", &[]),
    ("#!lua name=lib\nredis.register_function{callback=function() end}", &[]),
    ("#!lua name=lib\nredis.register_function{function_name='f', callback=1}", &[]),
    ("#!lua name=lib\nredis.register_function{function_name={}, callback=function() end}", &[]),
    ("#!lua name=lib\nredis.register_function{function_name='f', callback=function() end, flags='no-writes'}", &[]),
    ("#!lua name=lib\nredis.register_function{function_name='f', callback=function() end, flags={'bogus'}}", &[]),
    ("#!lua name=lib\nredis.register_function{function_name='f', callback=function() end, flags={'NO-WRITES', 'Allow-Oom'}}", &["f"]),
    ("#!lua name=lib\nredis.register_function{function_name='f', callback=function() end, description=1}", &["f"]),
    ("#!lua name=lib\nredis.register_function{function_name='f', callback=function() end, description={}}", &[]),
    ("#!lua name=lib\nredis.register_function{function_name='f', callback=function() end, other=1}", &[]),
    ("#!lua name=lib\nredis.register_function{[1]='f'}", &[]),
    ("#!lua name=lib\nredis.register_function{FUNCTION_NAME='f', CALLBACK=function() return 'upper' end}", &["f"]),
    ("#!lua name=lib\nredis.register_function('f', function() end) redis.call('ping')", &[]),
    ("return 1", &[]),
    ("#!lua", &[]),
    ("#!lua\n", &[]),
    ("#!lua name=a name=b\n", &[]),
    ("#!lua foo=bar\n", &[]),
    ("#!lua name=bad-name\n", &[]),
    ("#!lua name=\n", &[]),
    ("#!js name=lib\nx", &[]),
    ("#!lua name=\"quoted\"\nredis.register_function('q', function() return 1 end)", &["q"]),
];

/// One connection speaking raw RESP.
struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(port: u16) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        Conn {
            reader: BufReader::new(stream),
        }
    }

    fn send(&mut self, args: &[&[u8]]) -> Vec<u8> {
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            request.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            request.extend_from_slice(a);
            request.extend_from_slice(b"\r\n");
        }
        self.reader.get_mut().write_all(&request).expect("send");
        let mut reply = Vec::new();
        read_reply(&mut self.reader, &mut reply);
        reply
    }
}

/// Reads one complete reply (any RESP2/RESP3 type), appending its raw bytes. Iterative:
/// replies can nest thousands deep.
fn read_reply(reader: &mut BufReader<TcpStream>, out: &mut Vec<u8>) {
    // Values still to read at each open level.
    let mut pending: Vec<i64> = vec![1];
    while let Some(left) = pending.last_mut() {
        if *left == 0 {
            pending.pop();
            continue;
        }
        *left -= 1;
        let start = out.len();
        reader.read_until(b'\n', out).expect("reply line");
        let line = String::from_utf8_lossy(&out[start + 1..out.len() - 2]).into_owned();
        let count = |line: &str| line.parse::<i64>().expect("length");
        match out[start] {
            b'$' | b'=' | b'!' => {
                let len = count(&line);
                if len >= 0 {
                    let mut body = vec![0u8; len as usize + 2];
                    reader.read_exact(&mut body).expect("bulk");
                    out.extend_from_slice(&body);
                }
            }
            b'*' | b'~' | b'>' => pending.push(count(&line).max(0)),
            b'%' => pending.push(count(&line).max(0) * 2),
            // An attribute is followed by the reply it annotates.
            b'|' => pending.push(count(&line).max(0) * 2 + 1),
            _ => {}
        }
    }
}

/// Forwards `redis.call` to the server on its own connection.
struct ForwardHost {
    conn: Conn,
    resp: u8,
}

impl Host for ForwardHost {
    fn call(&mut self, args: &[&[u8]], resp: u8) -> Vec<u8> {
        if resp != self.resp {
            let version = resp.to_string();
            self.conn.send(&[b"HELLO", version.as_bytes()]);
            self.resp = resp;
        }
        self.conn.send(args)
    }

    fn log(&mut self, _level: LogLevel, _message: &[u8]) {}

    fn check_interrupt(&mut self) -> Result<(), String> {
        Ok(())
    }

    fn set_repl(&mut self, _flags: i64) {}
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).escape_debug().to_string()
}

#[test]
fn engine_matches_redis_server() {
    let Some(binary) = find_redis_server() else {
        eprintln!("redis-server not on PATH: differential engine test skipped");
        return;
    };
    let server = start(&binary);
    let mut client = Conn::open(server.port);
    client.send(&[b"DEBUG", b"SET-DISABLE-DENY-SCRIPTS", b"1"]);
    let mut host = ForwardHost {
        conn: Conn::open(server.port),
        resp: 2,
    };
    let mut engine = Engine::new().expect("engine");
    let mut failures = Vec::new();
    let mut compared = 0;
    for (protocol, version) in [(Protocol::Resp2, &b"2"[..]), (Protocol::Resp3, &b"3"[..])] {
        client.send(&[b"HELLO", version]);
        for script in SCRIPTS {
            // Scripts that read the shared random sequence get the same state on both.
            let expected = client.send(&[b"EVAL", script.as_bytes(), b"0"]);
            let mut out = ReplyWriter::new(protocol);
            let sha = Engine::sha1hex(script.as_bytes());
            if script.contains("math.random") && !script.contains("randomseed") {
                // The process-wide sequence differs between the two processes.
                continue;
            }
            engine.run_script(&sha, script.as_bytes(), &[], &[], &mut host, &mut out);
            compared += 1;
            if out.buf[..] != expected[..] {
                failures.push(format!(
                    "RESP{} {}\n  redis:  {}\n  engine: {}",
                    version[0] as char,
                    show(script.as_bytes()),
                    show(&expected),
                    show(&out.buf)
                ));
            }
        }
    }
    client.send(&[b"HELLO", b"2"]);
    for (code, calls) in LIBRARIES {
        client.send(&[b"FUNCTION", b"FLUSH"]);
        engine.flush_libraries();
        let expected = client.send(&[b"FUNCTION", b"LOAD", code.as_bytes()]);
        let ours = match engine.load_library(code.as_bytes(), false) {
            Ok(info) => format!("${}\r\n{}\r\n", info.name.len(), info.name).into_bytes(),
            Err(e) => format!("-{e}\r\n").into_bytes(),
        };
        compared += 1;
        if ours != expected {
            failures.push(format!(
                "FUNCTION LOAD {}\n  redis:  {}\n  engine: {}",
                show(code.as_bytes()),
                show(&expected),
                show(&ours)
            ));
        }
        for name in *calls {
            let expected = client.send(&[b"FCALL", name.as_bytes(), b"0"]);
            let mut out = ReplyWriter::new(Protocol::Resp2);
            engine.run_function(name, &[], &[], &mut host, &mut out);
            compared += 1;
            if out.buf[..] != expected[..] {
                failures.push(format!(
                    "FCALL {name} of {}\n  redis:  {}\n  engine: {}",
                    show(code.as_bytes()),
                    show(&expected),
                    show(&out.buf)
                ));
            }
        }
    }
    // Library lifecycle: duplicates, REPLACE, a function name taken by another library.
    client.send(&[b"FUNCTION", b"FLUSH"]);
    engine.flush_libraries();
    let steps: &[(&str, bool)] = &[
        (
            "#!lua name=one\nredis.register_function('f', function() return 1 end)",
            false,
        ),
        (
            "#!lua name=one\nredis.register_function('f', function() return 2 end)",
            false,
        ),
        (
            "#!lua name=one\nredis.register_function('f', function() return 3 end)",
            true,
        ),
        (
            "#!lua name=two\nredis.register_function('f', function() return 4 end)",
            false,
        ),
        (
            "#!lua name=two\nredis.register_function('g', function() return 5 end)",
            true,
        ),
        (
            "#!lua name=one\nredis.register_function('g', function() return 6 end)",
            true,
        ),
        (
            "#!lua name=one\nredis.register_function('h', function() return 7 end)",
            true,
        ),
    ];
    for (code, replace) in steps {
        let mut args: Vec<&[u8]> = vec![b"FUNCTION", b"LOAD"];
        if *replace {
            args.push(b"REPLACE");
        }
        args.push(code.as_bytes());
        let expected = client.send(&args);
        let ours = match engine.load_library(code.as_bytes(), *replace) {
            Ok(info) => format!("${}\r\n{}\r\n", info.name.len(), info.name).into_bytes(),
            Err(e) => format!("-{e}\r\n").into_bytes(),
        };
        compared += 1;
        if ours != expected {
            failures.push(format!(
                "FUNCTION LOAD{} {}\n  redis:  {}\n  engine: {}",
                if *replace { " REPLACE" } else { "" },
                show(code.as_bytes()),
                show(&expected),
                show(&ours)
            ));
        }
        for name in ["f", "g", "h"] {
            let expected = client.send(&[b"FCALL", name.as_bytes(), b"0"]);
            let mut out = ReplyWriter::new(Protocol::Resp2);
            engine.run_function(name, &[], &[], &mut host, &mut out);
            if out.buf[..] != expected[..] {
                failures.push(format!(
                    "FCALL {name} after {}\n  redis:  {}\n  engine: {}",
                    show(code.as_bytes()),
                    show(&expected),
                    show(&out.buf)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {compared} comparisons differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{compared} comparisons with redis-server matched");
}
