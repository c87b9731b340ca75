//! One sandboxed Lua state, shaped as Redis 7.0 shapes its two (one for EVAL, one for
//! FUNCTION), and the raw runs on it: compile, call with Redis's error handler and
//! instruction hook, load a library.
//!
//! # Read-only tables without a patched Lua
//! Redis's Lua has a `readonly` flag on tables; ours is stock Lua 5.1, which cannot
//! refuse an assignment to an existing key. So every protected table (the globals,
//! `redis`, `string`, `cjson`...) is shown to scripts as an empty *proxy* whose
//! metatable reads from the real table (the *shadow*) and raises "Attempt to modify a
//! readonly table" on writes. The few built-ins that reach past metatables are wrapped
//! to treat a proxy as Redis treats a read-only table: `rawset`, `setmetatable` and
//! `table.insert` refuse it, `rawget`, `next`, `pairs` and `table.foreach` read its
//! shadow, `getmetatable` shows what Redis would show. The thread's global table is
//! itself the globals proxy, so chunks made by `loadstring` see the same sandbox.
//!
//! Known differences that remain: a proxy's length and array part are those of an empty
//! table (the protected tables have no array part, so only `cjson.encode(redis)` and
//! the like differ), and `tostring` shows the proxy's address.

use std::ffi::{c_int, c_void, CStr};
use std::time::{Duration, Instant};

use lodestone_resp::ReplyWriter;
use mlua::{ffi, Lua};

use crate::api::{self, world, world_key, LoadCtx, Registered, World};
use crate::engine::Host;
use crate::reply::{push_bytes, to_bytes, to_c_bytes, trim_crlf, until_nul, write_lua_reply};

/// Which of Redis's two interpreters a sandbox is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Eval,
    Functions,
}

/// Instructions between two calls of the interrupt hook (Redis's value).
const HOOK_INSTRUCTIONS: c_int = 100_000;
/// Redis steps the garbage collector every this many runs.
const GC_PERIOD: u32 = 50;
/// FUNCTION LOAD gives up on library code running longer than this.
const LOAD_TIMEOUT: Duration = Duration::from_millis(500);

static PROXIES_KEY: u8 = 0;
static HANDLER_KEY: u8 = 0;
static SHADOW_KEY: u8 = 0;
static GLOBALS_KEY: u8 = 0;
static ENV_META_KEY: u8 = 0;
static LIBRARY_API_KEY: u8 = 0;

fn key(k: &'static u8) -> *mut c_void {
    std::ptr::addr_of!(*k).cast_mut().cast()
}

/// Pops the top value into the registry under `k`.
unsafe fn registry_set(state: *mut ffi::lua_State, k: &'static u8) {
    ffi::lua_pushlightuserdata(state, key(k));
    ffi::lua_insert(state, -2);
    ffi::lua_rawset(state, ffi::LUA_REGISTRYINDEX);
}

unsafe fn registry_get(state: *mut ffi::lua_State, k: &'static u8) {
    ffi::lua_pushlightuserdata(state, key(k));
    ffi::lua_rawget(state, ffi::LUA_REGISTRYINDEX);
}

/// Redis's error handler, in our words: it adds where the error happened (the caller's
/// position when a C function raised it) and wraps plain messages as `{err='ERR ...'}`.
const HANDLER_SOURCE: &[u8] = b"local getinfo, type, tostring = debug.getinfo, type, tostring
return function(err)
  local at = getinfo(2, 'nSl')
  if at and at.what == 'C' then at = getinfo(3, 'nSl') end
  if type(err) ~= 'table' then err = {err = 'ERR ' .. tostring(err)} end
  if at then err.source = at.source err.line = at.currentline end
  return err
end";

/// Base functions scripts keep as Lua ships them.
const PLAIN_BUILTINS: [&CStr; 14] = [
    c"xpcall",
    c"tostring",
    c"assert",
    c"tonumber",
    c"rawequal",
    c"collectgarbage",
    c"type",
    c"select",
    c"unpack",
    c"gcinfo",
    c"ipairs",
    c"_VERSION",
    c"error",
    c"coroutine",
];

/// Library tables, each shown through a proxy.
const LIBRARIES: [&CStr; 7] = [
    c"string",
    c"cjson",
    c"bit",
    c"cmsgpack",
    c"math",
    c"table",
    c"struct",
];

const READONLY: &[u8] = b"Attempt to modify a readonly table";

// ---------------------------------------------------------------------------------
// Proxies

/// Whether the value at `idx` is a proxy.
unsafe fn is_proxy(state: *mut ffi::lua_State, idx: c_int) -> bool {
    if ffi::lua_type(state, idx) != ffi::LUA_TTABLE {
        return false;
    }
    ffi::lua_pushvalue(state, idx);
    registry_get(state, &PROXIES_KEY);
    ffi::lua_insert(state, -2);
    ffi::lua_rawget(state, -2);
    let found = ffi::lua_isnil(state, -1) == 0;
    ffi::lua_settop(state, -3);
    found
}

/// Replaces the proxy at `idx` (absolute) with its shadow.
unsafe fn replace_with_shadow(state: *mut ffi::lua_State, idx: c_int) {
    if ffi::lua_getmetatable(state, idx) == 0 {
        return;
    }
    push_bytes(state, b"__index");
    ffi::lua_rawget(state, -2);
    ffi::lua_replace(state, idx);
    ffi::lua_settop(state, -2);
}

/// Pushes a proxy of the table at `shadow` (absolute). `apparent` (absolute, or 0 for
/// none) is what `getmetatable` shows for it.
unsafe fn push_proxy(state: *mut ffi::lua_State, shadow: c_int, apparent: c_int) {
    ffi::lua_newtable(state);
    ffi::lua_createtable(state, 0, 2);
    ffi::lua_pushvalue(state, shadow);
    ffi::lua_setfield(state, -2, c"__index".as_ptr());
    ffi::lua_pushcfunction(state, readonly_newindex);
    ffi::lua_setfield(state, -2, c"__newindex".as_ptr());
    ffi::lua_setmetatable(state, -2);
    registry_get(state, &PROXIES_KEY);
    ffi::lua_pushvalue(state, -2);
    if apparent == 0 {
        ffi::lua_pushboolean(state, 0);
    } else {
        ffi::lua_pushvalue(state, apparent);
    }
    ffi::lua_rawset(state, -3);
    ffi::lua_settop(state, -2);
}

/// Pushes a new table whose missing keys raise the nonexistent-global error.
unsafe fn push_error_metatable(state: *mut ffi::lua_State) {
    ffi::lua_createtable(state, 0, 1);
    ffi::lua_pushcfunction(state, missing_global);
    ffi::lua_setfield(state, -2, c"__index".as_ptr());
}

unsafe extern "C-unwind" fn readonly_newindex(state: *mut ffi::lua_State) -> c_int {
    api::raise_here(state, READONLY)
}

unsafe extern "C-unwind" fn missing_global(state: *mut ffi::lua_State) -> c_int {
    if ffi::lua_gettop(state) != 2 {
        api::raise_here(
            state,
            b"Wrong number of arguments to luaProtectedTableError",
        );
    }
    if ffi::lua_isstring(state, -1) == 0 {
        api::raise_here(
            state,
            b"Second argument to luaProtectedTableError must be a string or number",
        );
    }
    ffi::luaL_where(state, 1);
    push_bytes(
        state,
        b"Script attempted to access nonexistent global variable '",
    );
    ffi::lua_pushvalue(state, 2);
    // Redis prints the name with %s: a NUL ends it.
    let whole = to_bytes(state, -1).unwrap_or_default();
    let cut = until_nul(whole).len();
    if cut != whole.len() {
        let name = whole[..cut].to_vec();
        ffi::lua_settop(state, -2);
        push_bytes(state, &name);
    }
    push_bytes(state, b"'");
    ffi::lua_concat(state, 4);
    ffi::lua_error(state)
}

// ---------------------------------------------------------------------------------
// Wrapped built-ins

unsafe extern "C-unwind" fn rawset(state: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checktype(state, 1, ffi::LUA_TTABLE);
    ffi::luaL_checkany(state, 2);
    ffi::luaL_checkany(state, 3);
    if is_proxy(state, 1) {
        api::raise_bare(state, READONLY);
    }
    ffi::lua_settop(state, 3);
    ffi::lua_rawset(state, 1);
    1
}

unsafe extern "C-unwind" fn rawget(state: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checktype(state, 1, ffi::LUA_TTABLE);
    ffi::luaL_checkany(state, 2);
    ffi::lua_settop(state, 2);
    if is_proxy(state, 1) {
        replace_with_shadow(state, 1);
    }
    ffi::lua_rawget(state, 1);
    1
}

unsafe extern "C-unwind" fn next(state: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checktype(state, 1, ffi::LUA_TTABLE);
    ffi::lua_settop(state, 2);
    if is_proxy(state, 1) {
        replace_with_shadow(state, 1);
    }
    if ffi::lua_next(state, 1) != 0 {
        2
    } else {
        ffi::lua_pushnil(state);
        1
    }
}

/// `pairs`: upvalue 1 is the wrapped `next`.
unsafe extern "C-unwind" fn pairs(state: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checktype(state, 1, ffi::LUA_TTABLE);
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_pushvalue(state, 1);
    ffi::lua_pushnil(state);
    3
}

unsafe extern "C-unwind" fn getmetatable(state: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checkany(state, 1);
    if is_proxy(state, 1) {
        registry_get(state, &PROXIES_KEY);
        ffi::lua_pushvalue(state, 1);
        ffi::lua_rawget(state, -2);
        if ffi::lua_toboolean(state, -1) == 0 {
            ffi::lua_pushnil(state);
        }
        return 1;
    }
    if ffi::lua_getmetatable(state, 1) == 0 {
        ffi::lua_pushnil(state);
        return 1;
    }
    push_bytes(state, b"__metatable");
    ffi::lua_rawget(state, -2);
    if ffi::lua_isnil(state, -1) != 0 {
        ffi::lua_settop(state, -2);
    }
    1
}

unsafe extern "C-unwind" fn setmetatable(state: *mut ffi::lua_State) -> c_int {
    let kind = ffi::lua_type(state, 2);
    ffi::luaL_checktype(state, 1, ffi::LUA_TTABLE);
    if kind != ffi::LUA_TNIL && kind != ffi::LUA_TTABLE {
        ffi::luaL_argerror(state, 2, c"nil or table expected".as_ptr());
    }
    if ffi::lua_getmetatable(state, 1) != 0 {
        push_bytes(state, b"__metatable");
        ffi::lua_rawget(state, -2);
        let protected = ffi::lua_isnil(state, -1) == 0;
        ffi::lua_settop(state, -3);
        if protected {
            api::raise_here(state, b"cannot change a protected metatable");
        }
    }
    if is_proxy(state, 1) {
        api::raise_bare(state, READONLY);
    }
    ffi::lua_settop(state, 2);
    ffi::lua_setmetatable(state, 1);
    1
}

/// Loads `code` under `chunk_name` as `loadstring` does, refusing precompiled chunks
/// the way Redis's Lua does (it parses them as text): pushes the function, or nil and
/// the message. Returns the number of values pushed.
unsafe fn load_text(
    state: *mut ffi::lua_State,
    code: &[u8],
    chunk_name: *const std::ffi::c_char,
) -> c_int {
    if code.first() == Some(&0x1b) {
        // The text parser stops at the escape byte; get Lua's own message for the same
        // chunk name from a one-byte chunk, and name the byte Redis's parser names.
        ffi::luaL_loadbuffer(state, c"\x01".as_ptr(), 1, chunk_name);
        let message = to_bytes(state, -1).unwrap_or_default();
        let fixed = match message.strip_suffix(b"'char(1)'") {
            Some(head) => [head, b"'char(27)'"].concat(),
            None => message.to_vec(),
        };
        ffi::lua_settop(state, -2);
        ffi::lua_pushnil(state);
        push_bytes(state, &fixed);
        return 2;
    }
    if ffi::luaL_loadbuffer(state, code.as_ptr().cast(), code.len(), chunk_name) == 0 {
        1
    } else {
        ffi::lua_pushnil(state);
        ffi::lua_insert(state, -2);
        2
    }
}

unsafe extern "C-unwind" fn loadstring(state: *mut ffi::lua_State) -> c_int {
    let mut len = 0usize;
    let code = ffi::luaL_checklstring(state, 1, &mut len);
    let name = ffi::luaL_optlstring(state, 2, code, std::ptr::null_mut());
    let code = std::slice::from_raw_parts(code.cast::<u8>(), len);
    load_text(state, code, name)
}

unsafe extern "C-unwind" fn load(state: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checktype(state, 1, ffi::LUA_TFUNCTION);
    let name = ffi::luaL_optlstring(state, 2, c"=(load)".as_ptr(), std::ptr::null_mut());
    ffi::lua_settop(state, 2);
    let mut code = Vec::new();
    let mut failure = None;
    loop {
        ffi::lua_pushvalue(state, 1);
        if ffi::lua_pcall(state, 0, 1, 0) != 0 {
            failure = Some(to_bytes(state, -1).unwrap_or_default().to_vec());
            ffi::lua_settop(state, 2);
            break;
        }
        if ffi::lua_isnil(state, -1) != 0 {
            ffi::lua_settop(state, 2);
            break;
        }
        if ffi::lua_isstring(state, -1) == 0 {
            failure = Some(b"reader function must return a string".to_vec());
            ffi::lua_settop(state, 2);
            break;
        }
        let piece = to_bytes(state, -1).unwrap_or_default();
        let done = piece.is_empty();
        code.extend_from_slice(piece);
        ffi::lua_settop(state, 2);
        if done {
            break;
        }
    }
    if let Some(message) = failure {
        ffi::lua_pushnil(state);
        push_bytes(state, &message);
        return 2;
    }
    // The chunk text is copied into a Lua string so no Rust buffer is alive when Lua
    // runs the parser (which may raise on memory errors).
    push_bytes(state, &code);
    drop(code);
    let code = to_bytes(state, -1).unwrap_or_default();
    load_text(state, code, name)
}

/// `table.insert`: upvalue 1 is Lua's.
unsafe extern "C-unwind" fn table_insert(state: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checktype(state, 1, ffi::LUA_TTABLE);
    let argc = ffi::lua_gettop(state);
    if argc != 2 && argc != 3 {
        api::raise_here(state, b"wrong number of arguments to 'insert'");
    }
    if argc == 3 {
        ffi::luaL_checknumber(state, 2);
    }
    if is_proxy(state, 1) {
        api::raise_bare(state, READONLY);
    }
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_insert(state, 1);
    ffi::lua_call(state, argc, 0);
    0
}

/// `table.foreach`: upvalue 1 is Lua's.
unsafe extern "C-unwind" fn table_foreach(state: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checktype(state, 1, ffi::LUA_TTABLE);
    ffi::luaL_checktype(state, 2, ffi::LUA_TFUNCTION);
    ffi::lua_settop(state, 2);
    if is_proxy(state, 1) {
        replace_with_shadow(state, 1);
    }
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_insert(state, 1);
    ffi::lua_call(state, 2, 1);
    1
}

// ---------------------------------------------------------------------------------
// Building a state

unsafe fn set_function(state: *mut ffi::lua_State, name: &CStr, f: ffi::lua_CFunction) {
    ffi::lua_pushcfunction(state, f);
    ffi::lua_setfield(state, -2, name.as_ptr());
}

unsafe fn set_number(state: *mut ffi::lua_State, name: &CStr, n: f64) {
    ffi::lua_pushnumber(state, n);
    ffi::lua_setfield(state, -2, name.as_ptr());
}

unsafe fn set_log_api(state: *mut ffi::lua_State) {
    set_function(state, c"log", api::log);
    set_number(state, c"LOG_DEBUG", 0.0);
    set_number(state, c"LOG_VERBOSE", 1.0);
    set_number(state, c"LOG_NOTICE", 2.0);
    set_number(state, c"LOG_WARNING", 3.0);
}

unsafe fn set_version(state: *mut ffi::lua_State) {
    set_number(state, c"REDIS_VERSION_NUM", f64::from(0x0007_000f));
    push_bytes(state, b"7.0.15");
    ffi::lua_setfield(state, -2, c"REDIS_VERSION".as_ptr());
}

/// Pushes the real `redis` table.
unsafe fn push_redis_api(state: *mut ffi::lua_State, kind: Kind) {
    ffi::lua_newtable(state);
    set_function(state, c"call", api::redis_call);
    set_function(state, c"pcall", api::redis_pcall);
    set_log_api(state);
    set_version(state);
    set_function(state, c"setresp", api::setresp);
    set_function(state, c"sha1hex", api::sha1hex);
    set_function(state, c"error_reply", api::error_reply);
    set_function(state, c"status_reply", api::status_reply);
    set_function(state, c"set_repl", api::set_repl);
    set_number(state, c"REPL_NONE", 0.0);
    set_number(state, c"REPL_AOF", 1.0);
    set_number(state, c"REPL_SLAVE", 2.0);
    set_number(state, c"REPL_REPLICA", 2.0);
    set_number(state, c"REPL_ALL", 3.0);
    set_function(state, c"acl_check_cmd", api::acl_check_cmd);
    if kind == Kind::Eval {
        set_function(state, c"breakpoint", api::breakpoint);
        set_function(state, c"debug", api::debug);
        set_function(state, c"replicate_commands", api::replicate_commands);
    }
}

/// Replaces `lib.name` (lib on top) with a closure of `f` over the original.
unsafe fn wrap_field(state: *mut ffi::lua_State, name: &CStr, f: ffi::lua_CFunction) {
    ffi::lua_getfield(state, -1, name.as_ptr());
    ffi::lua_pushcclosure(state, f, 1);
    ffi::lua_setfield(state, -2, name.as_ptr());
}

/// Shapes a fresh interpreter (from [`crate::new_lua`]) into Redis's sandbox.
unsafe fn build(state: *mut ffi::lua_State, kind: Kind, world_ptr: *mut World) {
    ffi::lua_pushlightuserdata(state, world_key().cast_mut());
    ffi::lua_pushlightuserdata(state, world_ptr.cast());
    ffi::lua_rawset(state, ffi::LUA_REGISTRYINDEX);

    let loaded = ffi::luaL_loadbuffer(
        state,
        HANDLER_SOURCE.as_ptr().cast(),
        HANDLER_SOURCE.len(),
        c"@err_handler_def".as_ptr(),
    );
    assert_eq!(loaded, 0, "the error handler must compile");
    ffi::lua_call(state, 0, 1);
    registry_set(state, &HANDLER_KEY);

    ffi::lua_newtable(state);
    registry_set(state, &PROXIES_KEY);

    ffi::lua_getglobal(state, c"math".as_ptr());
    set_function(state, c"random", api::math_random);
    set_function(state, c"randomseed", api::math_randomseed);
    ffi::lua_settop(state, -2);
    ffi::lua_getglobal(state, c"table".as_ptr());
    wrap_field(state, c"insert", table_insert);
    wrap_field(state, c"foreach", table_foreach);
    ffi::lua_settop(state, -2);

    // The globals' shadow.
    ffi::lua_newtable(state);
    let shadow = ffi::lua_gettop(state);
    for name in PLAIN_BUILTINS {
        ffi::lua_getglobal(state, name.as_ptr());
        ffi::lua_setfield(state, shadow, name.as_ptr());
    }
    set_function(state, c"rawset", rawset);
    set_function(state, c"rawget", rawget);
    set_function(state, c"getmetatable", getmetatable);
    set_function(state, c"setmetatable", setmetatable);
    set_function(state, c"loadstring", loadstring);
    set_function(state, c"load", load);
    set_function(state, c"pcall", api::pcall);
    ffi::lua_pushcfunction(state, next);
    ffi::lua_pushvalue(state, -1);
    ffi::lua_setfield(state, shadow, c"next".as_ptr());
    ffi::lua_pushcclosure(state, pairs, 1);
    ffi::lua_setfield(state, shadow, c"pairs".as_ptr());
    for name in LIBRARIES {
        ffi::lua_getglobal(state, name.as_ptr());
        let lib = ffi::lua_gettop(state);
        push_proxy(state, lib, 0);
        ffi::lua_setfield(state, shadow, name.as_ptr());
        ffi::lua_settop(state, lib - 1);
    }
    push_redis_api(state, kind);
    let redis = ffi::lua_gettop(state);
    push_proxy(state, redis, 0);
    ffi::lua_setfield(state, shadow, c"redis".as_ptr());
    ffi::lua_settop(state, shadow);
    if kind == Kind::Eval {
        registry_get(state, &HANDLER_KEY);
        ffi::lua_setfield(state, shadow, c"__redis__err__handler".as_ptr());
    }

    // The globals proxy; getmetatable(_G) shows a read-only {__index = <error>}.
    push_error_metatable(state);
    let shown = ffi::lua_gettop(state);
    push_proxy(state, shown, 0);
    let apparent = ffi::lua_gettop(state);
    push_proxy(state, shadow, apparent);
    let globals = ffi::lua_gettop(state);
    ffi::lua_pushvalue(state, globals);
    ffi::lua_setfield(state, shadow, c"_G".as_ptr());
    push_error_metatable(state);
    ffi::lua_setmetatable(state, shadow);
    ffi::lua_pushvalue(state, shadow);
    registry_set(state, &SHADOW_KEY);
    ffi::lua_pushvalue(state, globals);
    registry_set(state, &GLOBALS_KEY);

    // Strings' metatable: getmetatable('') shows a read-only {__index = string}.
    push_bytes(state, b"");
    if ffi::lua_getmetatable(state, -1) != 0 {
        let meta = ffi::lua_gettop(state);
        ffi::lua_newtable(state);
        push_bytes(state, b"string");
        ffi::lua_rawget(state, shadow);
        ffi::lua_setfield(state, -2, c"__index".as_ptr());
        let view = ffi::lua_gettop(state);
        push_proxy(state, view, 0);
        ffi::lua_setfield(state, meta, c"__metatable".as_ptr());
    }
    ffi::lua_settop(state, globals);

    match kind {
        Kind::Eval => {
            ffi::lua_pushvalue(state, globals);
            ffi::lua_replace(state, ffi::LUA_GLOBALSINDEX);
        }
        Kind::Functions => build_function_env(state, globals),
    }
    ffi::lua_settop(state, 0);
}

/// The functions interpreter's globals: an empty read-only table reading through to
/// the globals proxy at run time, and to the library API (`redis.register_function`,
/// `redis.log`, versions) while a library loads.
unsafe fn build_function_env(state: *mut ffi::lua_State, globals: c_int) {
    ffi::lua_newtable(state);
    set_function(state, c"register_function", api::register_function);
    set_log_api(state);
    set_version(state);
    push_error_metatable(state);
    ffi::lua_setmetatable(state, -2);
    let library_redis = ffi::lua_gettop(state);
    ffi::lua_newtable(state);
    let library_api = ffi::lua_gettop(state);
    push_proxy(state, library_redis, 0);
    ffi::lua_setfield(state, library_api, c"redis".as_ptr());
    push_error_metatable(state);
    ffi::lua_setmetatable(state, library_api);
    registry_set(state, &LIBRARY_API_KEY);

    push_proxy(state, globals, 0);
    ffi::lua_getmetatable(state, -1);
    registry_set(state, &ENV_META_KEY);
    ffi::lua_replace(state, ffi::LUA_GLOBALSINDEX);
}

/// Points the functions interpreter's globals at the library API (`loading`) or at the
/// normal globals.
unsafe fn set_function_env(state: *mut ffi::lua_State, loading: bool) {
    registry_get(state, &ENV_META_KEY);
    if loading {
        registry_get(state, &LIBRARY_API_KEY);
    } else {
        registry_get(state, &GLOBALS_KEY);
    }
    ffi::lua_setfield(state, -2, c"__index".as_ptr());
    ffi::lua_settop(state, -2);
}

// ---------------------------------------------------------------------------------
// The sandbox

/// One sandboxed interpreter and its world.
pub(crate) struct Sandbox {
    lua: std::mem::ManuallyDrop<Lua>,
    world: *mut World,
    kind: Kind,
    runs: u32,
}

/// What a run needs, handed to [`run_protected`] through a light userdata.
struct Job<'a> {
    function: c_int,
    keys: &'a [&'a [u8]],
    args: &'a [&'a [u8]],
    name: &'a str,
    out: &'a mut ReplyWriter,
    kind: Kind,
    collect_garbage: bool,
}

impl Sandbox {
    pub(crate) fn new(kind: Kind) -> mlua::Result<Sandbox> {
        let lua = crate::new_lua()?;
        let world = Box::into_raw(Box::new(World::new()));
        let sandbox = Sandbox {
            lua: std::mem::ManuallyDrop::new(lua),
            world,
            kind,
            runs: 0,
        };
        // SAFETY: `build` runs inside mlua's protected call on the main state, which no
        // script has touched yet; `world` lives as long as the sandbox.
        unsafe {
            sandbox
                .lua
                .exec_raw::<()>((), |state| build(state, kind, world))?
        };
        Ok(sandbox)
    }

    /// Compiles `code` under `chunk_name`: a registry reference to the function, or
    /// Lua's message.
    pub(crate) fn compile(&mut self, code: &[u8], chunk_name: &CStr) -> Result<c_int, Vec<u8>> {
        let mut outcome: Result<c_int, Vec<u8>> = Err(Vec::new());
        let slot = &mut outcome;
        // SAFETY: luaL_loadbuffer is protected; luaL_ref may only fail on memory, which
        // mlua's protected call catches (and `outcome` then keeps its error).
        let ran = unsafe {
            self.lua.exec_raw::<()>((), |state| {
                if ffi::luaL_loadbuffer(
                    state,
                    code.as_ptr().cast(),
                    code.len(),
                    chunk_name.as_ptr(),
                ) == 0
                {
                    *slot = Ok(ffi::luaL_ref(state, ffi::LUA_REGISTRYINDEX));
                } else {
                    *slot = Err(to_bytes(state, -1).unwrap_or_default().to_vec());
                    ffi::lua_settop(state, -2);
                }
            })
        };
        if let Err(e) = ran {
            return Err(e.to_string().into_bytes());
        }
        outcome
    }

    /// Drops a compiled function.
    pub(crate) fn release(&mut self, function: c_int) {
        // SAFETY: luaL_unref does not raise.
        let _ = unsafe {
            self.lua.exec_raw::<()>((), |state| {
                ffi::luaL_unref(state, ffi::LUA_REGISTRYINDEX, function)
            })
        };
    }

    /// Runs a compiled function with KEYS and ARGV (globals for EVAL, arguments for
    /// functions) and writes its reply or error reply. `name` is what error replies
    /// call it (the SHA or the function name).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run(
        &mut self,
        function: c_int,
        keys: &[&[u8]],
        args: &[&[u8]],
        name: &str,
        host: &mut dyn Host,
        out: &mut ReplyWriter,
    ) {
        self.runs += 1;
        let collect_garbage = self.runs == GC_PERIOD;
        if collect_garbage {
            self.runs = 0;
        }
        let host: *mut (dyn Host + '_) = host;
        // SAFETY: the pointer is only used while this call runs (cleared below), when
        // the borrow it came from is alive.
        let host: *mut (dyn Host + 'static) = unsafe { std::mem::transmute(host) };
        {
            // SAFETY: no Lua code runs while this reference is alive.
            let w = unsafe { &mut *self.world };
            w.host = Some(host);
            w.resp = 2;
            w.kill = None;
            w.panic = None;
        }
        let reply_start = out.buf.len();
        let mut job = Job {
            function,
            keys,
            args,
            name,
            out,
            kind: self.kind,
            collect_garbage,
        };
        let job_ptr: *mut Job = &mut job;
        // SAFETY: `run_protected` runs under lua_pcall; the job outlives the call.
        let status = unsafe {
            self.lua.exec_raw::<c_int>((), |state| {
                ffi::lua_pushcfunction(state, run_protected);
                ffi::lua_pushlightuserdata(state, job_ptr.cast());
                let status = ffi::lua_pcall(state, 1, 0, 0);
                if status != 0 {
                    ffi::lua_settop(state, -2);
                }
                ffi::lua_sethook(state, None, 0, 0);
                ffi::lua_pushinteger(state, status as ffi::lua_Integer);
            })
        };
        // SAFETY: Lua is no longer running.
        let w = unsafe { &mut *self.world };
        w.host = None;
        w.kill = None;
        if let Some(payload) = w.panic.take() {
            std::panic::resume_unwind(payload);
        }
        if !matches!(status, Ok(0)) {
            // Lua itself failed (memory) while writing the reply: replace what was
            // written with one error.
            job.out.buf.truncate(reply_start);
            job.out
                .error("ERR Lua failed while running the script (out of memory?)");
        }
    }

    /// Runs a library's code (after its first line) with `redis.register_function`
    /// available, returning the functions it registered or the error reply text.
    pub(crate) fn load_library(&mut self, code: &[u8]) -> Result<Vec<Registered>, String> {
        let function = match self.compile(code, c"@user_function") {
            Ok(f) => f,
            Err(message) => {
                return Err(format!(
                    "ERR Error compiling function: {}",
                    String::from_utf8_lossy(&message)
                ))
            }
        };
        {
            // SAFETY: no Lua code runs while this reference is alive.
            let w = unsafe { &mut *self.world };
            w.load = Some(LoadCtx {
                functions: Vec::new(),
                deadline: Instant::now() + LOAD_TIMEOUT,
            });
            w.kill = None;
        }
        let mut failure: Option<Vec<u8>> = None;
        let slot = &mut failure;
        // SAFETY: the library runs under lua_pcall; only string copies leave Lua.
        let ran = unsafe {
            self.lua.exec_raw::<()>((), |state| {
                set_function_env(state, true);
                ffi::lua_rawgeti(state, ffi::LUA_REGISTRYINDEX, function as ffi::lua_Integer);
                ffi::lua_sethook(
                    state,
                    Some(api::count_hook),
                    ffi::LUA_MASKCOUNT,
                    HOOK_INSTRUCTIONS,
                );
                let status = ffi::lua_pcall(state, 0, 0, 0);
                ffi::lua_sethook(state, None, 0, 0);
                set_function_env(state, false);
                if status != 0 {
                    *slot = Some(load_error_text(state));
                    ffi::lua_settop(state, -2);
                }
            })
        };
        self.release(function);
        // SAFETY: Lua is no longer running.
        let w = unsafe { &mut *self.world };
        w.kill = None;
        let registered = w.load.take().map(|l| l.functions).unwrap_or_default();
        let failure = match ran {
            Err(e) => Some(e.to_string().into_bytes()),
            Ok(()) => failure,
        };
        if let Some(message) = failure {
            for f in &registered {
                self.release(f.callback);
            }
            return Err(format!(
                "ERR Error registering functions: {}",
                String::from_utf8_lossy(&message)
            ));
        }
        Ok(registered)
    }
}

/// The text of an error a library's code raised (Redis's `luaExtractErrorInformation`
/// without a handler: strings get `ERR `, tables give their `err`).
unsafe fn load_error_text(state: *mut ffi::lua_State) -> Vec<u8> {
    if ffi::lua_isstring(state, -1) != 0 {
        let mut text = b"ERR ".to_vec();
        text.extend_from_slice(to_c_bytes(state, -1).unwrap_or_default());
        return text;
    }
    if ffi::lua_istable(state, -1) != 0 {
        push_bytes(state, b"err");
        ffi::lua_rawget(state, -2);
        let text = to_c_bytes(state, -1).map(<[u8]>::to_vec);
        ffi::lua_settop(state, -2);
        if let Some(text) = text {
            return text;
        }
    }
    b"(null)".to_vec()
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // SAFETY: the state is closed before the world it points to is freed, and
        // neither is used again.
        unsafe {
            std::mem::ManuallyDrop::drop(&mut self.lua);
            drop(Box::from_raw(self.world));
        }
    }
}

/// Pushes a table of the strings `items` as an array.
unsafe fn push_array(state: *mut ffi::lua_State, items: &[&[u8]]) {
    ffi::lua_createtable(state, c_int::try_from(items.len()).unwrap_or(0), 0);
    for (i, item) in items.iter().enumerate() {
        push_bytes(state, item);
        ffi::lua_rawseti(state, -2, (i + 1) as ffi::lua_Integer);
    }
}

/// The run itself, as a C function so that the Lua stack below the reply holds exactly
/// what Redis's holds (error handler, result) and stack limits match.
unsafe extern "C-unwind" fn run_protected(state: *mut ffi::lua_State) -> c_int {
    let job = &mut *ffi::lua_touserdata(state, 1).cast::<Job>();
    ffi::lua_settop(state, 0);
    registry_get(state, &HANDLER_KEY);
    ffi::lua_rawgeti(
        state,
        ffi::LUA_REGISTRYINDEX,
        job.function as ffi::lua_Integer,
    );
    push_array(state, job.keys);
    push_array(state, job.args);
    let nargs = if job.kind == Kind::Eval {
        registry_get(state, &SHADOW_KEY);
        ffi::lua_pushvalue(state, 3);
        ffi::lua_setfield(state, -2, c"KEYS".as_ptr());
        ffi::lua_pushvalue(state, 4);
        ffi::lua_setfield(state, -2, c"ARGV".as_ptr());
        ffi::lua_settop(state, 2);
        0
    } else {
        2
    };
    ffi::lua_sethook(
        state,
        Some(api::count_hook),
        ffi::LUA_MASKCOUNT,
        HOOK_INSTRUCTIONS,
    );
    let status = ffi::lua_pcall(state, nargs, 1, 1);
    ffi::lua_sethook(state, None, 0, 0);
    if job.collect_garbage {
        ffi::lua_gc(state, ffi::LUA_GCSTEP, GC_PERIOD as c_int);
    }
    if status != 0 {
        write_error(state, job);
    } else {
        let resp = world(state).resp;
        write_lua_reply(state, job.out, resp);
    }
    0
}

/// The error reply for a failed run (error object on top), as Redis words it.
unsafe fn write_error(state: *mut ffi::lua_State, job: &mut Job) {
    if ffi::lua_istable(state, -1) == 0 {
        let message = if ffi::lua_isstring(state, -1) != 0 {
            to_c_bytes(state, -1).unwrap_or_default()
        } else {
            b"execution failure"
        };
        let message = &message[..message.len().min(100)];
        let mut text = format!("Error running script {}, ", job.name).into_bytes();
        text.extend_from_slice(message);
        let mut reply = b"ERR ".to_vec();
        reply.extend_from_slice(trim_crlf(&text));
        job.out.error_bytes(&reply);
        return;
    }
    let field = |name: &CStr| -> Option<Vec<u8>> {
        ffi::lua_getfield(state, -1, name.as_ptr());
        let value = if ffi::lua_isstring(state, -1) != 0 {
            to_c_bytes(state, -1).map(<[u8]>::to_vec)
        } else {
            None
        };
        ffi::lua_settop(state, -2);
        value
    };
    let message = field(c"err");
    let source = field(c"source");
    let line = field(c"line");
    let mut reply = message.unwrap_or_else(|| b"ERR unknown error".to_vec());
    if let (Some(source), Some(line)) = (source, line) {
        reply.extend_from_slice(format!(" script: {}, on ", job.name).as_bytes());
        reply.extend_from_slice(&source);
        reply.push(b':');
        reply.extend_from_slice(&line);
        reply.push(b'.');
    }
    job.out.error_bytes(&reply);
}
