//! The `redis` table scripts see, `pcall`, and Redis's deterministic `math.random`, as
//! raw Lua C functions.
//!
//! Why raw C functions and not mlua callbacks: Redis raises tables (`{err=...}`) from
//! `redis.call`, and positions and argument errors must read exactly as Lua's own C
//! functions produce them. A raw function owns its Lua stack frame, so each rule can be
//! written the way Redis states it. Every function here keeps Rust values with
//! destructors out of scope before it raises (`lua_error` jumps over Rust frames).

use std::any::Any;
use std::ffi::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use mlua::ffi;

use crate::engine::{Host, LogLevel, ScriptFlags};
use crate::libs::{c_double_to_i64, format_g};
use crate::reply::{push_bytes, push_error_table, push_resp, to_bytes, to_c_bytes, until_nul};
use crate::shebang::{set_flag, valid_name, BAD_NAME};

/// What the C functions of one Lua state know about the current run. Owned by the
/// sandbox, found through the registry.
pub(crate) struct World {
    /// The server while a script or function runs (the pointer's lifetime is the run's).
    pub(crate) host: Option<*mut (dyn Host + 'static)>,
    /// The protocol `redis.call` replies are read in (`redis.setresp`), 2 at each run.
    pub(crate) resp: u8,
    /// The error every hook call raises once the script was interrupted.
    pub(crate) kill: Option<Vec<u8>>,
    /// A panic caught in host code, resumed when the run is over.
    pub(crate) panic: Option<Box<dyn Any + Send>>,
    /// Set while a library's code runs (FUNCTION LOAD).
    pub(crate) load: Option<LoadCtx>,
}

/// The functions a library registers while it loads.
pub(crate) struct LoadCtx {
    pub(crate) functions: Vec<Registered>,
    pub(crate) deadline: Instant,
}

/// One `redis.register_function` call: the callback is a registry reference.
pub(crate) struct Registered {
    pub(crate) name: String,
    pub(crate) callback: c_int,
    pub(crate) description: Option<String>,
    pub(crate) flags: ScriptFlags,
}

impl World {
    pub(crate) fn new() -> World {
        World {
            host: None,
            resp: 2,
            kill: None,
            panic: None,
            load: None,
        }
    }
}

static WORLD_KEY: u8 = 0;

pub(crate) fn world_key() -> *const std::ffi::c_void {
    std::ptr::addr_of!(WORLD_KEY).cast()
}

/// The state's [`World`].
///
/// # Safety
/// The sandbox stores the pointer at creation and frees the world only after closing
/// the state; callers must not keep the reference across calls that may re-enter.
pub(crate) unsafe fn world<'a>(state: *mut ffi::lua_State) -> &'a mut World {
    ffi::lua_pushlightuserdata(state, world_key().cast_mut());
    ffi::lua_rawget(state, ffi::LUA_REGISTRYINDEX);
    let ptr = ffi::lua_touserdata(state, -1).cast::<World>();
    ffi::lua_settop(state, -2);
    assert!(!ptr.is_null(), "script state without its world");
    &mut *ptr
}

/// Raises the error table for `raw` (see [`push_error_table`]).
pub(crate) unsafe fn raise_error_table(state: *mut ffi::lua_State, raw: &[u8]) -> ! {
    push_error_table(state, raw);
    ffi::lua_error(state)
}

/// Raises `message` after the position of the calling Lua code (`luaL_error`).
pub(crate) unsafe fn raise_here(state: *mut ffi::lua_State, message: &[u8]) -> ! {
    ffi::luaL_where(state, 1);
    push_bytes(state, message);
    ffi::lua_concat(state, 2);
    ffi::lua_error(state)
}

/// Raises `message` as it is, without a position.
pub(crate) unsafe fn raise_bare(state: *mut ffi::lua_State, message: &[u8]) -> ! {
    push_bytes(state, message);
    ffi::lua_error(state)
}

/// Runs host code, turning a panic into a Lua error (the panic resumes after the run).
unsafe fn with_host<R>(
    state: *mut ffi::lua_State,
    body: impl FnOnce(&mut dyn Host) -> R,
) -> Option<R> {
    let w = world(state);
    let host = w.host?;
    match catch_unwind(AssertUnwindSafe(|| body(&mut *host))) {
        Ok(r) => Some(r),
        Err(payload) => {
            world(state).panic = Some(payload);
            None
        }
    }
}

unsafe fn host_panicked(state: *mut ffi::lua_State) -> ! {
    raise_error_table(
        state,
        b"-ERR internal error in the server while running the script",
    )
}

// ---------------------------------------------------------------------------------
// redis.call / redis.pcall / pcall

pub(crate) unsafe extern "C-unwind" fn redis_call(state: *mut ffi::lua_State) -> c_int {
    call_command(state, true)
}

pub(crate) unsafe extern "C-unwind" fn redis_pcall(state: *mut ffi::lua_State) -> c_int {
    call_command(state, false)
}

/// The command arguments, or the error Redis gives for them.
unsafe fn command_args(state: *mut ffi::lua_State) -> Result<Vec<Vec<u8>>, &'static [u8]> {
    let argc = ffi::lua_gettop(state);
    if argc == 0 {
        return Err(b"Please specify at least one argument for this redis lib call");
    }
    let mut args = Vec::with_capacity(argc as usize);
    for j in 1..=argc {
        if ffi::lua_type(state, j) == ffi::LUA_TNUMBER {
            // Not Lua's own %.14g: Redis keeps every digit.
            args.push(format_g(ffi::lua_tonumber(state, j), 17).into_bytes());
        } else if ffi::lua_type(state, j) == ffi::LUA_TSTRING {
            args.push(to_bytes(state, j).unwrap_or_default().to_vec());
        } else {
            return Err(b"Lua redis lib command arguments must be strings or integers");
        }
    }
    Ok(args)
}

unsafe fn call_command(state: *mut ffi::lua_State, raise: bool) -> c_int {
    if world(state).host.is_none() {
        raise_error_table(
            state,
            b"redis.call/pcall can only be called inside a script invocation",
        );
    }
    let reply = match command_args(state) {
        Err(message) => {
            ffi::lua_settop(state, 0);
            push_error_table(state, message);
            if raise {
                ffi::lua_error(state);
            }
            return 1;
        }
        Ok(args) => {
            let resp = world(state).resp;
            let slices: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            with_host(state, |host| host.call(&slices, resp))
        }
    };
    let Some(reply) = reply else {
        host_panicked(state)
    };
    // The arguments are copied out: free their stack slots for the reply (a call with
    // thousands of arguments, `unpack` of a big table, would leave no room for it).
    ffi::lua_settop(state, 0);
    let failed = reply.first() == Some(&b'-');
    let parsed = push_resp(state, &reply).is_some();
    drop(reply);
    if !parsed {
        raise_error_table(
            state,
            b"-ERR the server's reply could not be read by the script engine",
        );
    }
    if raise && failed {
        ffi::lua_error(state);
    }
    1
}

/// The global `pcall`: Lua's, except that an error table raised by `redis.call` is
/// returned as its `err` text (what scripts written for Redis 6 expect).
pub(crate) unsafe extern "C-unwind" fn pcall(state: *mut ffi::lua_State) -> c_int {
    let argc = ffi::lua_gettop(state);
    if argc == 0 {
        // Redis's pcall ends up calling its own `true` placeholder here.
        ffi::lua_pushboolean(state, 0);
        push_bytes(state, b"attempt to call a boolean value");
        return 2;
    }
    ffi::lua_pushboolean(state, 1);
    ffi::lua_insert(state, 1);
    if ffi::lua_pcall(state, argc - 1, ffi::LUA_MULTRET, 0) != 0 {
        ffi::lua_remove(state, 1);
        if ffi::lua_istable(state, -1) != 0 {
            push_bytes(state, b"err");
            ffi::lua_gettable(state, -2);
            if ffi::lua_isstring(state, -1) != 0 {
                ffi::lua_replace(state, -2);
            } else {
                ffi::lua_settop(state, -2);
            }
        }
        ffi::lua_pushboolean(state, 0);
        ffi::lua_insert(state, 1);
    }
    ffi::lua_gettop(state)
}

// ---------------------------------------------------------------------------------
// Small redis.* helpers

pub(crate) unsafe extern "C-unwind" fn sha1hex(state: *mut ffi::lua_State) -> c_int {
    if ffi::lua_gettop(state) != 1 {
        raise_error_table(state, b"wrong number of arguments");
    }
    let digest = crate::engine::Engine::sha1hex(to_bytes(state, 1).unwrap_or_default());
    push_bytes(state, digest.as_bytes());
    1
}

pub(crate) unsafe extern "C-unwind" fn error_reply(state: *mut ffi::lua_State) -> c_int {
    if ffi::lua_gettop(state) != 1 || ffi::lua_type(state, -1) != ffi::LUA_TSTRING {
        push_error_table(state, b"wrong number or type of arguments");
        return 1;
    }
    let text = until_nul(to_bytes(state, 1).unwrap_or_default());
    let mut raw = Vec::with_capacity(text.len() + 1);
    if text.first() != Some(&b'-') {
        raw.push(b'-');
    }
    raw.extend_from_slice(text);
    push_error_table(state, &raw);
    1
}

pub(crate) unsafe extern "C-unwind" fn status_reply(state: *mut ffi::lua_State) -> c_int {
    if ffi::lua_gettop(state) != 1 || ffi::lua_type(state, -1) != ffi::LUA_TSTRING {
        push_error_table(state, b"wrong number or type of arguments");
        return 1;
    }
    ffi::lua_createtable(state, 0, 1);
    push_bytes(state, b"ok");
    ffi::lua_pushvalue(state, 1);
    ffi::lua_rawset(state, -3);
    1
}

pub(crate) unsafe extern "C-unwind" fn log(state: *mut ffi::lua_State) -> c_int {
    let argc = ffi::lua_gettop(state);
    if argc < 2 {
        raise_error_table(state, b"redis.log() requires two arguments or more.");
    }
    if ffi::lua_isnumber(state, 1) == 0 {
        raise_error_table(state, b"First argument must be a number (log level).");
    }
    let level = match c_double_to_i64(ffi::lua_tonumber(state, 1)) as i32 {
        0 => LogLevel::Debug,
        1 => LogLevel::Verbose,
        2 => LogLevel::Notice,
        3 => LogLevel::Warning,
        _ => raise_error_table(state, b"Invalid debug level."),
    };
    let mut message = Vec::new();
    for j in 2..=argc {
        if let Some(part) = to_bytes(state, j) {
            if j != 2 {
                message.push(b' ');
            }
            message.extend_from_slice(part);
        }
    }
    let logged = with_host(state, |host| host.log(level, &message));
    drop(message);
    if logged.is_none() && world(state).panic.is_some() {
        host_panicked(state);
    }
    0
}

pub(crate) unsafe extern "C-unwind" fn setresp(state: *mut ffi::lua_State) -> c_int {
    if world(state).host.is_none() {
        raise_error_table(
            state,
            b"redis.setresp can only be called inside a script invocation",
        );
    }
    if ffi::lua_gettop(state) != 1 {
        raise_error_table(state, b"redis.setresp() requires one argument.");
    }
    let resp = c_double_to_i64(ffi::lua_tonumber(state, 1)) as i32;
    if resp != 2 && resp != 3 {
        raise_error_table(state, b"RESP version must be 2 or 3.");
    }
    world(state).resp = resp as u8;
    0
}

pub(crate) unsafe extern "C-unwind" fn set_repl(state: *mut ffi::lua_State) -> c_int {
    if world(state).host.is_none() {
        raise_error_table(
            state,
            b"redis.set_repl can only be called inside a script invocation",
        );
    }
    if ffi::lua_gettop(state) != 1 {
        raise_error_table(state, b"redis.set_repl() requires two arguments.");
    }
    let flags = c_double_to_i64(ffi::lua_tonumber(state, 1)) as i32;
    if flags & !3 != 0 {
        raise_error_table(
            state,
            b"Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
        );
    }
    if with_host(state, |host| host.set_repl(i64::from(flags))).is_none() {
        host_panicked(state);
    }
    0
}

pub(crate) unsafe extern "C-unwind" fn acl_check_cmd(state: *mut ffi::lua_State) -> c_int {
    if world(state).host.is_none() {
        raise_error_table(
            state,
            b"redis.acl_check_cmd can only be called inside a script invocation",
        );
    }
    let allowed = match command_args(state) {
        Err(message) => raise_error_table(state, message),
        Ok(args) => {
            let slices: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            with_host(state, |host| host.acl_check_cmd(&slices))
        }
    };
    match allowed {
        None => host_panicked(state),
        Some(None) => raise_error_table(state, b"Invalid command passed to redis.acl_check_cmd()"),
        Some(Some(allowed)) => {
            ffi::lua_pushboolean(state, c_int::from(allowed));
            1
        }
    }
}

pub(crate) unsafe extern "C-unwind" fn breakpoint(state: *mut ffi::lua_State) -> c_int {
    ffi::lua_pushboolean(state, 0);
    1
}

pub(crate) unsafe extern "C-unwind" fn debug(_state: *mut ffi::lua_State) -> c_int {
    0
}

pub(crate) unsafe extern "C-unwind" fn replicate_commands(state: *mut ffi::lua_State) -> c_int {
    ffi::lua_pushboolean(state, 1);
    1
}

// ---------------------------------------------------------------------------------
// math.random: Redis's lrand48 clone, one sequence for the whole process as in Redis

/// The 48-bit state of `redisLrand48` (its initial value, as `redisSrand48` never ran).
static RAND_STATE: AtomicU64 = AtomicU64::new(0x1234_ABCD_330E);
const RAND_MULTIPLIER: u64 = 0x5_DEEC_E66D;
const RAND_MASK: u64 = (1 << 48) - 1;
const LRAND48_MAX: i64 = i32::MAX as i64;

/// The next value of Redis's `redisLrand48` (31 bits).
pub(crate) fn lrand48() -> i32 {
    let mut current = RAND_STATE.load(Ordering::Relaxed);
    loop {
        let next = (current.wrapping_mul(RAND_MULTIPLIER).wrapping_add(0xB)) & RAND_MASK;
        match RAND_STATE.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => return (next >> 17) as i32,
            Err(seen) => current = seen,
        }
    }
}

/// `redisSrand48`.
pub(crate) fn srand48(seed: i32) {
    let seed = seed as u32 as u64;
    let state = 0x330E | ((seed & 0xFFFF) << 16) | ((seed >> 16) << 32);
    RAND_STATE.store(state, Ordering::Relaxed);
}

/// `luaL_checkint`: the number, cast as C casts it.
unsafe fn check_int(state: *mut ffi::lua_State, arg: c_int) -> i32 {
    c_double_to_i64(ffi::luaL_checknumber(state, arg)) as i32
}

pub(crate) unsafe extern "C-unwind" fn math_random(state: *mut ffi::lua_State) -> c_int {
    if world(state).host.is_none() {
        raise_here(
            state,
            b"math.random can only be called inside a script invocation",
        );
    }
    let r = (i64::from(lrand48()) % LRAND48_MAX) as f64 / LRAND48_MAX as f64;
    match ffi::lua_gettop(state) {
        0 => ffi::lua_pushnumber(state, r),
        1 => {
            let upper = check_int(state, 1);
            if upper < 1 {
                ffi::luaL_argerror(state, 1, c"interval is empty".as_ptr());
            }
            ffi::lua_pushnumber(state, (r * f64::from(upper)).floor() + 1.0);
        }
        2 => {
            let lower = check_int(state, 1);
            let upper = check_int(state, 2);
            if lower > upper {
                ffi::luaL_argerror(state, 2, c"interval is empty".as_ptr());
            }
            let span = upper.wrapping_sub(lower).wrapping_add(1);
            ffi::lua_pushnumber(state, (r * f64::from(span)).floor() + f64::from(lower));
        }
        _ => raise_here(state, b"wrong number of arguments"),
    }
    1
}

pub(crate) unsafe extern "C-unwind" fn math_randomseed(state: *mut ffi::lua_State) -> c_int {
    if world(state).host.is_none() {
        raise_here(
            state,
            b"math.randomseed can only be called inside a script invocation",
        );
    }
    srand48(check_int(state, 1));
    0
}

// ---------------------------------------------------------------------------------
// The instruction hook

/// Every 100000 instructions: asks the host whether to stop (or checks the library
/// load deadline). Once stopped, the hook fires on every line and raises again, so
/// `pcall` cannot keep a killed script alive.
pub(crate) unsafe extern "C-unwind" fn count_hook(
    state: *mut ffi::lua_State,
    _ar: *mut ffi::lua_Debug,
) {
    let w = world(state);
    if w.kill.is_none() {
        if let Some(load) = &w.load {
            if Instant::now() > load.deadline {
                w.kill = Some(b"FUNCTION LOAD timeout".to_vec());
            }
        } else if w.host.is_some() {
            match with_host(state, |host| host.check_interrupt()) {
                Some(Ok(())) => {}
                Some(Err(reply)) => {
                    let mut raw = reply.into_bytes();
                    if raw.first() != Some(&b'-') {
                        raw.insert(0, b'-');
                    }
                    world(state).kill = Some(raw);
                }
                None => world(state).kill = Some(b"-ERR internal error in the server".to_vec()),
            }
        }
    }
    let w = world(state);
    if let Some(kill) = &w.kill {
        ffi::lua_sethook(state, Some(count_hook), ffi::LUA_MASKLINE, 0);
        push_error_table(state, kill);
        ffi::lua_error(state);
    }
}

// ---------------------------------------------------------------------------------
// redis.register_function

/// A string argument (strings and numbers, as `lua_isstring`), as Rust text.
unsafe fn string_arg(state: *mut ffi::lua_State, idx: c_int) -> Option<String> {
    if ffi::lua_isstring(state, idx) == 0 {
        return None;
    }
    ffi::lua_pushvalue(state, idx);
    let text = to_bytes(state, -1).map(|b| String::from_utf8_lossy(b).into_owned());
    ffi::lua_settop(state, -2);
    text
}

/// The flags of the table at the top of the stack, `None` for an unknown flag.
unsafe fn read_flags(state: *mut ffi::lua_State) -> Option<ScriptFlags> {
    let mut flags = ScriptFlags {
        shebang: true,
        ..ScriptFlags::default()
    };
    let mut j = 1.0;
    loop {
        ffi::lua_pushnumber(state, j);
        j += 1.0;
        ffi::lua_gettable(state, -2);
        if ffi::lua_isnil(state, -1) != 0 {
            ffi::lua_settop(state, -2);
            return Some(flags);
        }
        let known = ffi::lua_isstring(state, -1) != 0
            && set_flag(&mut flags, to_c_bytes(state, -1).unwrap_or_default(), true);
        ffi::lua_settop(state, -2);
        if !known {
            return None;
        }
    }
}

/// Reads `register_function{function_name=..., callback=..., flags=..., description=...}`.
/// On success the callback is referenced in the registry.
unsafe fn named_args(state: *mut ffi::lua_State) -> Result<Registered, &'static str> {
    if ffi::lua_istable(state, 1) == 0 {
        return Err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
    }
    let mut name = None;
    let mut description = None;
    let mut callback = None;
    let mut flags = ScriptFlags {
        shebang: true,
        ..ScriptFlags::default()
    };
    let mut failure = None;
    ffi::lua_pushnil(state);
    while ffi::lua_next(state, 1) != 0 {
        let Some(key) = string_arg(state, -2) else {
            failure = Some("named argument key given to redis.register_function is not a string");
            ffi::lua_settop(state, 1);
            break;
        };
        let step: Result<(), &'static str> = match key.to_ascii_lowercase().as_str() {
            "function_name" => string_arg(state, -1)
                .map(|n| name = Some(n))
                .ok_or("function_name argument given to redis.register_function must be a string"),
            "description" => string_arg(state, -1)
                .map(|d| description = Some(d))
                .ok_or("description argument given to redis.register_function must be a string"),
            "callback" => {
                if ffi::lua_isfunction(state, -1) == 0 {
                    Err("callback argument given to redis.register_function must be a function")
                } else {
                    ffi::lua_pushvalue(state, -1);
                    if let Some(old) =
                        callback.replace(ffi::luaL_ref(state, ffi::LUA_REGISTRYINDEX))
                    {
                        ffi::luaL_unref(state, ffi::LUA_REGISTRYINDEX, old);
                    }
                    Ok(())
                }
            }
            "flags" => {
                if ffi::lua_istable(state, -1) == 0 {
                    Err("flags argument to redis.register_function must be a table representing function flags")
                } else {
                    read_flags(state)
                        .map(|f| flags = f)
                        .ok_or("unknown flag given")
                }
            }
            _ => Err("unknown argument given to redis.register_function"),
        };
        ffi::lua_settop(state, -2);
        if let Err(e) = step {
            failure = Some(e);
            ffi::lua_settop(state, 1);
            break;
        }
    }
    match (failure, name, callback) {
        (None, Some(name), Some(callback)) => Ok(Registered {
            name,
            callback,
            description,
            flags,
        }),
        (failure, name, callback) => {
            if let Some(callback) = callback {
                ffi::luaL_unref(state, ffi::LUA_REGISTRYINDEX, callback);
            }
            Err(failure.unwrap_or(if name.is_none() {
                "redis.register_function must get a function name argument"
            } else {
                "redis.register_function must get a callback argument"
            }))
        }
    }
}

unsafe fn positional_args(state: *mut ffi::lua_State) -> Result<Registered, &'static str> {
    let Some(name) = string_arg(state, 1) else {
        return Err("first argument to redis.register_function must be a string");
    };
    if ffi::lua_isfunction(state, 2) == 0 {
        return Err("second argument to redis.register_function must be a function");
    }
    ffi::lua_pushvalue(state, 2);
    let callback = ffi::luaL_ref(state, ffi::LUA_REGISTRYINDEX);
    Ok(Registered {
        name,
        callback,
        description: None,
        flags: ScriptFlags {
            shebang: true,
            ..ScriptFlags::default()
        },
    })
}

pub(crate) unsafe extern "C-unwind" fn register_function(state: *mut ffi::lua_State) -> c_int {
    if world(state).load.is_none() {
        raise_error_table(
            state,
            b"redis.register_function can only be called on FUNCTION LOAD command",
        );
    }
    let argc = ffi::lua_gettop(state);
    let read = match argc {
        1 => named_args(state),
        2 => positional_args(state),
        _ => Err("wrong number of arguments to redis.register_function"),
    };
    let failure: Option<String> = match read {
        Err(e) => Some(e.to_string()),
        Ok(f) => {
            let load = world(state).load.as_mut();
            match load {
                None => Some(
                    "redis.register_function can only be called on FUNCTION LOAD command".into(),
                ),
                Some(load) => {
                    let problem = if !valid_name(f.name.as_bytes()) {
                        Some(BAD_NAME.to_string())
                    } else if load.functions.iter().any(|g| g.name == f.name) {
                        Some("Function already exists in the library".to_string())
                    } else {
                        None
                    };
                    if problem.is_some() {
                        ffi::luaL_unref(state, ffi::LUA_REGISTRYINDEX, f.callback);
                    } else {
                        load.functions.push(f);
                    }
                    problem
                }
            }
        }
    };
    if let Some(message) = failure {
        push_error_table(state, message.as_bytes());
        drop(message);
        ffi::lua_error(state);
    }
    0
}
