//! Differential test: every snippet runs through `EVAL` on a real `redis-server` and
//! through our `new_lua()`, and the results (or the core of the error messages) must be
//! byte-identical. Skipped, with a note, when `redis-server` is not on PATH.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use support::{find_redis_server, start};

/// Helpers prepended to every snippet (locals only: Redis refuses new globals).
const PRELUDE: &str = "local function hex(s) return (string.gsub(s, '.', function(c) \
     return string.format('%02x', string.byte(c)) end)) end \
     local function join(...) local t = {} for i = 1, select('#', ...) do \
     local v = select(i, ...) if type(v) == 'string' then v = hex(v) end \
     t[i] = tostring(v) end return table.concat(t, ',') end ";

/// Snippets; each returns a string.
const SNIPPETS: &[&str] = &[
    // cjson encode
    "return cjson.encode({1,2,3})",
    "return cjson.encode({})",
    "return cjson.encode({a={b={c={}}}})",
    "return cjson.encode({[1]=1,[3]=3})",
    "return cjson.encode({[10]=1})",
    "return cjson.encode({[11]=1})",
    "return cjson.encode({[1]=1,[2]=2,[5]=5})",
    "return cjson.encode({[1.5]=1})",
    "return cjson.encode({[0]=1})",
    "return cjson.encode({[-1]=1})",
    "return cjson.encode({1,2,x=3})",
    "return cjson.encode({true,false,cjson.null})",
    "return cjson.encode({a=1,b=2,c=3,d=4,e=5,f=6,g=7,h=8})",
    "return cjson.encode({z=1,y=2,x=3,w={1,2,{q='r'}}})",
    "return cjson.encode(nil)",
    "return cjson.encode('a/b\"c\\\\d\\1\\8\\9\\10\\12\\13\\31\\127\\128\\255')",
    "return cjson.encode(0.1)",
    "return cjson.encode(1/3)",
    "return cjson.encode(-1/3)",
    "return cjson.encode(1e100)",
    "return cjson.encode(1e-100)",
    "return cjson.encode(123456789012345678)",
    "return cjson.encode(12345678901234)",
    "return cjson.encode(123456789012345)",
    "return cjson.encode(2^53)",
    "return cjson.encode(-0.0)",
    "return cjson.encode(5e-324)",
    "return cjson.encode(1.7976931348623157e308)",
    "return cjson.encode(100000000000000)",
    "return cjson.encode(0.000012345)",
    "return cjson.encode({[1e20]=1})",
    "return cjson.encode({[2^31]=1, [1]=2})",
    "local c = cjson.new() c.encode_number_precision(3) return c.encode(math.pi)",
    "local c = cjson.new() c.encode_number_precision(1) return c.encode({1.5, 25, 0.05})",
    "local c = cjson.new() c.encode_sparse_array(true) return c.encode({[20]=1})",
    "local c = cjson.new() c.encode_sparse_array(false, 0) return c.encode({[20]=1})",
    "local c = cjson.new() c.encode_sparse_array(false, 1, 0) return c.encode({[2]=1})",
    "local c = cjson.new() c.encode_sparse_array(true, 3, 1) return c.encode({[1]=1,[4]=4})",
    "local c = cjson.new() return join(c.encode_sparse_array(nil, 5, 6))",
    "local c = cjson.new() return join(c.encode_sparse_array('on'))",
    "local c = cjson.new() return join(c.encode_invalid_numbers('null'), c.encode({1/0, -1/0, 0/0}))",
    "local c = cjson.new() return join(c.encode_invalid_numbers(true), c.encode({1/0, -1/0, 0/0}))",
    "local c = cjson.new() return join(c.encode_invalid_numbers('on'))",
    "local c = cjson.new() return join(c.encode_keep_buffer(false), c.encode_keep_buffer('on'))",
    "local c = cjson.new() return join(c.encode_max_depth(), c.decode_max_depth(), c.encode_max_depth(2^32 + 7))",
    "local c = cjson.new() c.encode_max_depth(2) return c.encode({{1}})",
    "local c = cjson.new() c.encode_max_depth(2) return c.encode({{{1}}})",
    "local c = cjson.new() c.encode_max_depth(100000) local t = {} t.a = t return c.encode(t)",
    "local c = cjson.new() c.encode_max_depth(100000) local t = {} t[1] = t return c.encode(t)",
    "local t = {} t[1] = t return cjson.encode(t)",
    "return cjson.encode(string.len)",
    "return cjson.encode({coroutine.create(function() end)})",
    "return cjson.encode({[true]=1})",
    "return cjson.encode({[{}]=1})",
    "return cjson.encode(0/0)",
    "return cjson.encode({x=1/0})",
    "return cjson.encode({[1/0]=1})",
    "return cjson.encode({[20]=1})",
    "return cjson.encode()",
    "return cjson.encode(1, 2)",
    "return cjson.encode_max_depth(0)",
    "return cjson.encode_number_precision(15)",
    "return cjson.encode_number_precision(1, 2)",
    "return cjson.encode_sparse_array(nil, -1)",
    "return cjson.encode_sparse_array(1, 2, 3, 4)",
    "return cjson.encode_invalid_numbers('maybe')",
    "return cjson.encode_invalid_numbers({})",
    "return cjson.decode_max_depth('x')",
    // cjson decode
    "return cjson.encode(cjson.decode('[1,2,3]'))",
    "return cjson.encode(cjson.decode('{\"a\":[1,{}],\"b\":null,\"c\":true,\"d\":false}'))",
    "return cjson.encode(cjson.decode('  [ 1 , \"x\" ]  '))",
    "return tostring(cjson.decode('null') == cjson.null)",
    "return hex(cjson.decode('\"\\\\u00e9\\\\ud83d\\\\ude00\\\\/\\\\b\\\\f\\\\n\\\\r\\\\t\\\\\\\\\\\\\"\\\\u0000\"'))",
    "return hex(cjson.decode('\"\\\\ud800\"'))",
    "return hex(cjson.decode('\"\\\\udbff\\\\udfff\"'))",
    "return hex(cjson.decode('\"\\\\uDC00\"'))",
    "return tostring(cjson.decode('-1.5e3'))",
    "return tostring(cjson.decode('0x10'))",
    "return tostring(cjson.decode('+5'))",
    "return tostring(cjson.decode('-Infinity'))",
    "return tostring(cjson.decode('nan'))",
    "return tostring(cjson.decode('1e400'))",
    "return tostring(cjson.decode('007'))",
    "return tostring(cjson.decode(42))",
    "return tostring(cjson.decode('[1]\\0garbage')[1])",
    "return tostring(cjson.decode('trueish'))",
    "return cjson.decode('{')",
    "return cjson.decode('[1,]')",
    "return cjson.decode('[1 2]')",
    "return cjson.decode('{\"a\" 1}')",
    "return cjson.decode('{\"a\":1 x')",
    "return cjson.decode('{1:2}')",
    "return cjson.decode('1 2')",
    "return cjson.decode('\"abc')",
    "return cjson.decode('\"\\\\q\"')",
    "return cjson.decode('\"\\\\u12\"')",
    "return cjson.decode('\"\\\\ud800\\\\u0041\"')",
    "return cjson.decode('nil')",
    "return cjson.decode('-')",
    "return cjson.decode('.5')",
    "return cjson.decode('')",
    "return cjson.decode('   ')",
    "return cjson.decode('\\0a')",
    "return cjson.decode('a\\0')",
    "return cjson.decode('[\"a\\0b\"]')",
    "return cjson.decode(string.rep('[', 1001))",
    "return cjson.decode(string.rep('{\"a\":', 1001))",
    "local c = cjson.new() c.decode_max_depth(100000) return c.decode(string.rep('[', 10000))",
    "local c = cjson.new() c.decode_max_depth(100000) return c.decode(string.rep('{\"a\":', 10000))",
    "local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('0x10')",
    "local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('Infinity')",
    "local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('+1')",
    "local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('01')",
    "local c = cjson.new() c.decode_invalid_numbers(false) return tostring(c.decode('-0.5e-2'))",
    "return cjson.decode()",
    "return cjson.decode({})",
    "return cjson.decode('1', 2)",
    "return join(pcall(cjson.decode, '{'))",
    "return join(pcall(cjson.decode))",
    // cmsgpack
    "return hex(cmsgpack.pack(0, 127, 128, 255, 256, 65535, 65536, 2^32-1, 2^32, 2^53))",
    "return hex(cmsgpack.pack(-1, -32, -33, -128, -129, -32768, -32769, -2^31, -2^31-1, -2^63))",
    "return hex(cmsgpack.pack(2^63, 2^64, -2^64, 1.5, 0.1, -0.0, 1/0, -1/0, 1e-45, 3.4e38, 1e300))",
    "return hex(cmsgpack.pack(0/0))",
    "return hex(cmsgpack.pack('', 'abc', string.rep('x', 31), string.rep('y', 32)))",
    "return hex(cmsgpack.pack(string.rep('z', 255))):sub(1, 6) .. hex(cmsgpack.pack(string.rep('z', 256))):sub(1, 8)",
    "return hex(cmsgpack.pack(string.rep('z', 65535))):sub(1, 8) .. hex(cmsgpack.pack(string.rep('z', 65536))):sub(1, 12)",
    "return hex(cmsgpack.pack({1, 2, 3}, {}, {a=1}, {[1]=1, [3]=3}, {[1.5]=1}, {[0]=1}))",
    "return hex(cmsgpack.pack({a=1, b={1, {c='d'}}, [10]=true, [-1]=false}))",
    "local t = {} for i = 1, 16 do t[i] = i end return hex(cmsgpack.pack(t))",
    "local t = {} for i = 1, 70000 do t[i] = i % 7 end return hex(cmsgpack.pack(t)):sub(1, 20)",
    "local t = {} for i = 1, 20 do t['k' .. i] = i end return hex(cmsgpack.pack(t))",
    "return hex(cmsgpack.pack(true, false, nil, string.len, cjson.null, coroutine.create(function() end)))",
    "local t = {} t[1] = t return hex(cmsgpack.pack(t))",
    "local t = {} t.x = t return hex(cmsgpack.pack(t))",
    "return cmsgpack.pack()",
    "return join(cmsgpack.unpack(cmsgpack.pack(1, -2, 'x', 0.5, true, false, 2^40, -2^40)))",
    "return cjson.encode(cmsgpack.unpack(cmsgpack.pack({1, {a='b'}, {}})))",
    "return join(cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255'))",
    "return join(cmsgpack.unpack('\\207\\127\\255\\255\\255\\255\\255\\255\\255'))",
    "return join(cmsgpack.unpack('\\211\\128\\0\\0\\0\\0\\0\\0\\0'))",
    "return join(cmsgpack.unpack('\\202\\63\\192\\0\\0\\203\\63\\185\\153\\153\\153\\153\\153\\154'))",
    "return join(cmsgpack.unpack('\\192\\192\\1'))",
    "return join(select('#', cmsgpack.unpack('')))",
    "return join(select('#', cmsgpack.unpack(string.rep('\\1', 7999))))",
    "return join(select('#', cmsgpack.unpack(string.rep('\\1', 7998), 'extra')))",
    "return join(cmsgpack.unpack_one(cmsgpack.pack(1, 2)))",
    "return join(cmsgpack.unpack_one(cmsgpack.pack(1, 2), 1))",
    "return join(cmsgpack.unpack_one('\\1', 1))",
    "return join(cmsgpack.unpack_one('\\1\\2', '1'))",
    "return join(cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2))",
    "return join(cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0))",
    "return join(cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0, 1))",
    "return join(cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 10, 2))",
    "return join(cmsgpack.unpack(12))",
    "return cmsgpack.unpack('\\146\\1')",
    "return cmsgpack.unpack('\\219\\255\\255\\255\\255')",
    "return cmsgpack.unpack('\\221\\255\\255\\255\\255')",
    "return cmsgpack.unpack('\\193')",
    "return cmsgpack.unpack('\\196\\1a')",
    "return cmsgpack.unpack('\\212\\1\\1')",
    "return cmsgpack.unpack('\\129\\192\\1')",
    "return cmsgpack.unpack('\\129\\203\\127\\248\\0\\0\\0\\0\\0\\0\\1')",
    "return cmsgpack.unpack_one('\\1', -1)",
    "return cmsgpack.unpack_one('\\1', 5)",
    "return cmsgpack.unpack_limit('\\1', -3)",
    "return cmsgpack.unpack_limit('\\1')",
    "return cmsgpack.unpack_one('\\1', 'x')",
    "return cmsgpack.unpack()",
    "return cmsgpack.unpack({})",
    "return cmsgpack.unpack(string.rep('\\1', 8000))",
    "return cmsgpack.unpack(string.rep('\\145', 5000) .. '\\1')",
    "return cmsgpack.unpack(string.rep('\\129\\1', 5000) .. '\\1')",
    "local t = {} for i = 1, 4001 do t[i] = i end return cmsgpack.pack(unpack(t))",
    "return join(pcall(cmsgpack.pack))",
    // bit
    "return join(bit.tobit(0xffffffff), bit.tobit(2^32), bit.tobit(2^40 + 1234), bit.tobit(1.5), bit.tobit(2.5), bit.tobit(-1.5))",
    "return join(bit.tobit(0/0), bit.tobit(1/0), bit.tobit(-1/0), bit.tobit('0x10'), bit.tobit(' 12 '), bit.tobit(2^53 + 3), bit.tobit(-2^63))",
    "return join(bit.bnot(0), bit.bnot(-1), bit.band(0x12345678, 0xff), bit.bor(1, 2, 4, 8), bit.bxor(0xa5a5a5a5, 0xffffffff))",
    "return join(bit.band(), bit.bor(7), bit.bxor(1, 2, 3, 4, 5))",
    "return join(bit.lshift(1, 31), bit.lshift(1, 32), bit.lshift(1, -1), bit.rshift(-1, 28), bit.rshift(-1, 0))",
    "return join(bit.arshift(-256, 4), bit.arshift(256, 36), bit.rol(0x12345678, 12), bit.ror(0x12345678, 12), bit.rol(1, 0))",
    "return join(bit.bswap(0x12345678), bit.bswap(-1), bit.bswap(1))",
    "return join(bit.tohex(1), bit.tohex(-1), bit.tohex(0xffffffff, -4), bit.tohex(0x1234, 2), bit.tohex(0x1234, 20), bit.tohex(0x1234, 0))",
    "return join(bit.tohex(0x1234, -2147483648), bit.tohex(255, -2), bit.tohex(2^32 + 10), bit.tohex(0xabcdef, nil))",
    "return bit.tobit('x')",
    "return bit.tobit()",
    "return bit.band(1, {})",
    "return bit.lshift(1)",
    "return bit.tohex(1, 'z')",
    "return join(pcall(bit.bnot, true))",
    // struct
    "return hex(struct.pack('>i', 1) .. struct.pack('<i', 1) .. struct.pack('i', -2) .. struct.pack('>h', -2))",
    "return hex(struct.pack('>I3', 0x010203) .. struct.pack('>i10', -1) .. struct.pack('<I10', 1))",
    "return hex(struct.pack('>L', 2^63) .. struct.pack('>L', 2^64) .. struct.pack('>L', 0/0) .. struct.pack('>l', -2^64))",
    "return hex(struct.pack('>L', 1/0) .. struct.pack('>l', -1/0) .. struct.pack('>b', 300) .. struct.pack('>B', -1))",
    "return hex(struct.pack('>i', 1.9) .. struct.pack('>i', -1.9) .. struct.pack('>i', '42'))",
    "return hex(struct.pack('>d', 1.5) .. struct.pack('<f', 1.5) .. struct.pack('>f', 1e40) .. struct.pack('>f', 0.1))",
    "return hex(struct.pack('c3', 'abcdef') .. struct.pack('c0', 'abc') .. struct.pack('s', 'ab') .. struct.pack('c2', 12))",
    "return hex(struct.pack('bxb', 1, 2) .. struct.pack('!4 b i', 1, 2) .. struct.pack('! b d', 1, 0))",
    "return hex(struct.pack('!2 b i3 b h', 1, 2, 3, 4) .. struct.pack('!8 b i3', 1, 2) .. struct.pack('!1 b d', 1, 0))",
    "return hex(struct.pack('b\\0b', 1, 2) .. struct.pack('   ', 1) .. struct.pack('>!4bT', 1, 2))",
    "return hex(struct.pack('i0', 5) .. struct.pack('I0c0', 1, 'q'))",
    "return join(struct.unpack('>i', '\\0\\0\\1\\0'))",
    "return join(struct.unpack('<h', '\\255\\255'))",
    "return join(struct.unpack('<H', '\\255\\255'))",
    "return join(struct.unpack('b', 'xa', 2))",
    "return join(struct.unpack('sB', 'hi\\0\\7'))",
    "return join(struct.unpack('bc0', '\\3abcd'))",
    "return join(struct.unpack('c1c0', '2abcd'))",
    "return join(struct.unpack('>d', struct.pack('>d', 0.1)))",
    "return join(struct.unpack('!4 b i', struct.pack('!4 b i', 1, 2)))",
    "return join(struct.unpack('>i10', string.rep('\\255', 10)))",
    "return join(struct.unpack('>I9', '\\1\\2\\3\\4\\5\\6\\7\\8\\9'))",
    "return join(struct.unpack('<i9', '\\1\\2\\3\\4\\5\\6\\7\\8\\255'))",
    "return join(struct.unpack('>L', string.rep('\\255', 8)))",
    "return join(struct.unpack('>l', '\\128\\0\\0\\0\\0\\0\\0\\1'))",
    "return join(struct.unpack('>f', '\\127\\128\\0\\0'))",
    "return join(struct.unpack('i0x', 'ab'))",
    "return join(struct.unpack('', 'ab', 3))",
    "return join(struct.unpack('b', 'abc', 2.7))",
    "return join(struct.size('bhilTfdx'), struct.size('!8 b d'), struct.size('i7 c9 z5'), struct.size('!2 b i3'), struct.size(''))",
    "return struct.pack('q', 1)",
    "return struct.pack('i33', 1)",
    "return struct.pack('i99999999999', 1)",
    "return struct.pack('!3', 1)",
    "return struct.pack('!0', 1)",
    "return struct.pack('c5', 'ab')",
    "return struct.pack('i')",
    "return struct.pack('i', {})",
    "return struct.pack('s')",
    "return struct.pack()",
    "return struct.pack('\\200')",
    "return struct.unpack('i', 'abc')",
    "return struct.unpack('i', 'abcd', 0)",
    "return struct.unpack('i', 'abcd', -1)",
    "return struct.unpack('b', 'a', 3)",
    "return struct.unpack('c0', 'abcd')",
    "return struct.unpack('bc0', '\\9ab')",
    "return struct.unpack('sc0', 'x\\0ab')",
    "return struct.unpack('s', 'abcd')",
    "return struct.unpack('z', 'abcd')",
    "return struct.unpack('i')",
    "return struct.size('s')",
    "return struct.size('c0')",
    "return tostring(struct.size('<>q'))",
    "return struct.pack('ii', 1)",
    "return struct.pack('c0c0', string.rep('x', 9000))",
    "return struct.unpack(string.rep('b', 9000), string.rep('a', 9000))",
    "return join(select('#', struct.unpack(string.rep('b', 7997), string.rep('a', 7997))))",
    "return struct.unpack(string.rep('b', 7998), string.rep('a', 7998))",
    "return join(pcall(struct.pack, 'q'))",
    // library tables
    "local k = {} for name in pairs(bit) do k[#k + 1] = name end return table.concat(k, ' ')",
    "local k = {} for name in pairs(struct) do k[#k + 1] = name end return table.concat(k, ' ')",
    "local k = {} for name in pairs(cjson) do k[#k + 1] = name end return table.concat(k, ' ')",
    "local k = {} for name in pairs(cmsgpack) do k[#k + 1] = name end return table.concat(k, ' ')",
    "return join(cjson._NAME, cjson._VERSION, cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION)",
    "return join(type(cjson.null), type(cjson.new), type(cjson.new()), tostring(cjson.new() ~= cjson))",
];

fn eval_on_redis(conn: &mut BufReader<TcpStream>, script: &str) -> Result<Vec<u8>, String> {
    let mut request = Vec::new();
    request.extend_from_slice(b"*3\r\n$4\r\nEVAL\r\n");
    request.extend_from_slice(format!("${}\r\n", script.len()).as_bytes());
    request.extend_from_slice(script.as_bytes());
    request.extend_from_slice(b"\r\n$1\r\n0\r\n");
    conn.get_mut().write_all(&request).expect("send");
    let mut line = Vec::new();
    conn.read_until(b'\n', &mut line).expect("reply");
    let text = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
    match line[0] {
        b'$' => {
            let len: i64 = text.parse().expect("bulk length");
            if len < 0 {
                return Ok(b"(nil)".to_vec());
            }
            let mut body = vec![0u8; len as usize + 2];
            conn.read_exact(&mut body).expect("bulk");
            body.truncate(len as usize);
            Ok(body)
        }
        b'+' | b':' => Ok(text.into_bytes()),
        b'-' => Err(text),
        other => panic!("unexpected reply type {}", other as char),
    }
}

/// Redis wraps a script error as `ERR <message> script: <sha>, on @user_script:1.`;
/// the message is what the libraries produced.
fn redis_error_core(text: &str) -> String {
    let text = text.strip_prefix("ERR ").unwrap_or(text);
    match text.rfind(" script: ") {
        Some(i) => text[..i].to_string(),
        None => text.to_string(),
    }
}

fn eval_here(script: &str) -> Result<Vec<u8>, String> {
    let lua = lodestone_script::new_lua().map_err(|e| e.to_string())?;
    match lua
        .load(script)
        .set_name("@user_script")
        .eval::<mlua::Value>()
    {
        Ok(mlua::Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Ok(mlua::Value::Nil) => Ok(b"(nil)".to_vec()),
        Ok(other) => Ok(format!("{other:?}").into_bytes()),
        Err(e) => Err(error_core(&e)),
    }
}

fn error_core(e: &mlua::Error) -> String {
    match e {
        mlua::Error::RuntimeError(m) => m
            .split("\nstack traceback:")
            .next()
            .unwrap_or(m)
            .to_string(),
        mlua::Error::CallbackError { cause, .. } => error_core(cause),
        other => other.to_string(),
    }
}

#[test]
fn libraries_match_redis_server() {
    let Some(binary) = find_redis_server() else {
        println!("note: redis-server not on PATH; differential test skipped");
        return;
    };
    let server = start(&binary);
    let stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut conn = BufReader::new(stream);
    let mut mismatches = Vec::new();
    for snippet in SNIPPETS {
        let script = format!("{PRELUDE}{snippet}");
        let theirs = eval_on_redis(&mut conn, &script).map_err(|e| redis_error_core(&e));
        let ours = eval_here(&script);
        if theirs != ours {
            mismatches.push(format!(
                "{snippet}\n  redis: {:?}\n  ours:  {:?}",
                theirs.as_ref().map(|b| String::from_utf8_lossy(b)),
                ours.as_ref().map(|b| String::from_utf8_lossy(b)),
            ));
        }
    }
    println!("{} snippets compared", SNIPPETS.len());
    assert!(
        mismatches.is_empty(),
        "{} of {} snippets differ:\n{}",
        mismatches.len(),
        SNIPPETS.len(),
        mismatches.join("\n")
    );
}
