//! The four C libraries Redis links into its Lua, and the glue that makes a Rust function
//! look to scripts exactly like a C one.
//!
//! Why the glue: an mlua callback that fails raises an mlua error object (a userdata), with
//! no `file:line:` prefix. Redis's libraries raise plain strings through `luaL_error`, and
//! scripts see them (`pcall(cjson.decode, s)` returns the text; EVAL replies
//! `user_script:1: ...`). So each library function is a real C closure, [`shim`], whose
//! upvalue is the Rust body. The body reports a script error as a value; the shim, which
//! stands exactly where the C function stood on the Lua stack, adds `luaL_where(L, 1)` and
//! raises the string. Argument errors name the function as the caller spelled it, the way
//! `luaL_argerror` does.

mod bit;
mod cjson;
mod cmsgpack;
mod structlib;

use std::ffi::c_int;

use mlua::{ffi, Function, Lua, MultiValue, Table, Value};

/// Lua 5.1's `LUAI_MAXCSTACK`: the stack slots one C function may use. The libraries
/// count their slots against it where Redis's C code would fail `lua_checkstack`, so the
/// same inputs fail with the same messages (and our own depth stays bounded).
pub(crate) const MAX_C_STACK: usize = 8000;

/// Installs `cjson`, `struct`, `cmsgpack` and `bit` as globals, as Redis's
/// `luaLoadLibraries` does. Like `luaL_register`, `struct` and `bit` are also recorded in
/// the registry's `_LOADED` table; `cjson` and `cmsgpack` set only their global.
///
/// # Errors
/// Only when Lua cannot allocate.
pub fn register_libraries(lua: &Lua) -> mlua::Result<()> {
    let globals = lua.globals();
    globals.raw_set("cjson", cjson::module(lua)?)?;
    register_loaded(lua, "struct", structlib::module(lua)?)?;
    globals.raw_set("cmsgpack", cmsgpack::module(lua)?)?;
    register_loaded(lua, "bit", bit::module(lua)?)?;
    Ok(())
}

fn register_loaded(lua: &Lua, name: &str, module: Table) -> mlua::Result<()> {
    let loaded = match lua.named_registry_value::<Value>("_LOADED")? {
        Value::Table(t) => t,
        _ => {
            let t = lua.create_table()?;
            lua.set_named_registry_value("_LOADED", &t)?;
            t
        }
    };
    loaded.raw_set(name, &module)?;
    lua.globals().raw_set(name, module)
}

/// Why a library call failed.
pub(crate) enum Fail {
    /// A script error: raised in the script as this text, after the caller's position.
    Raise(Vec<u8>),
    /// A script error Lua's core raises from inside a C function (`table index is nil`):
    /// no position is added.
    Bare(Vec<u8>),
    /// Lua itself failed (memory): passed on untouched.
    Lua(mlua::Error),
}

impl From<mlua::Error> for Fail {
    fn from(e: mlua::Error) -> Self {
        Fail::Lua(e)
    }
}

pub(crate) type Outcome<T> = Result<T, Fail>;

/// A script error with this text (the `luaL_error` of the C libraries).
pub(crate) fn raise<T>(message: impl Into<Vec<u8>>) -> Outcome<T> {
    Err(Fail::Raise(message.into()))
}

/// Arguments and results up to this many pass directly between Lua and the Rust body;
/// more travel in one table. Every value mlua hands to Rust holds a slot of its
/// reference stack, which has room for about 8000 in all, and panics when full. Redis's
/// libraries take and return up to ~8000 values, so large counts go through a table the
/// shim fills or spreads on its own stack.
const DIRECT_COUNT: usize = 32;

/// What a library function returns.
pub(crate) enum Returns {
    /// These values.
    Values(MultiValue),
    /// The values at 1..=n of this table (nils included).
    Spread(Table, usize),
}

/// One result.
pub(crate) fn one(v: Value) -> Outcome<Returns> {
    Ok(Returns::Values(MultiValue::from_vec(vec![v])))
}

/// Tells the body that its arguments arrive as (marker, table, count). A script cannot
/// make a light userdata with this address, so the marker cannot be forged.
static SPREAD_ARGS: u8 = 0;

fn spread_marker() -> *mut std::ffi::c_void {
    std::ptr::addr_of!(SPREAD_ARGS).cast_mut().cast()
}

/// Creates a library function: `body` runs with the call's arguments and returns its
/// results or a [`Fail`]. See the module note for why it is wrapped in [`shim`].
pub(crate) fn c_function<F>(lua: &Lua, body: F) -> mlua::Result<Function>
where
    F: Fn(&Args) -> Outcome<Returns> + 'static,
{
    let inner = lua.create_function(move |lua, values: MultiValue| {
        let source = match (values.front(), values.get(1), values.get(2)) {
            (Some(Value::LightUserData(m)), Some(Value::Table(t)), Some(n))
                if m.0 == spread_marker() =>
            {
                ArgSource::Table(t.clone(), number_of(n).unwrap_or(0.0) as usize)
            }
            _ => ArgSource::Direct(values),
        };
        let args = Args { lua, source };
        let outcome = body(&args);
        drop(args);
        match outcome {
            Ok(Returns::Values(mut results)) if results.len() <= DIRECT_COUNT => {
                results.push_front(Value::Boolean(true));
                Ok(results)
            }
            Ok(Returns::Values(results)) => {
                let n = results.len();
                let table = lua.create_sequence_from(results)?;
                Ok(MultiValue::from_vec(vec![
                    Value::Table(table),
                    number(n as f64),
                ]))
            }
            Ok(Returns::Spread(table, n)) => Ok(MultiValue::from_vec(vec![
                Value::Table(table),
                number(n as f64),
            ])),
            Err(Fail::Raise(message)) => Ok(MultiValue::from_vec(vec![
                Value::Boolean(false),
                Value::String(lua.create_string(message)?),
            ])),
            Err(Fail::Bare(message)) => Ok(MultiValue::from_vec(vec![
                Value::Nil,
                Value::String(lua.create_string(message)?),
            ])),
            Err(Fail::Lua(e)) => Err(e),
        }
    })?;
    // SAFETY: the closure runs inside mlua's protected call with `inner` alone on the
    // stack; `lua_pushcclosure` pops it as the shim's upvalue and leaves the new function,
    // which `exec_raw` returns as the result.
    unsafe { lua.exec_raw(inner, |state| ffi::lua_pushcclosure(state, shim, 1)) }
}

/// The C side of every library function: calls the Rust body (upvalue 1) with the same
/// arguments, returns its results, or raises its message as a string error.
///
/// The body answers `true, results...`, `table, n` (results to spread), `false, message`
/// (raised after the caller's position) or `nil, message` (raised as it is).
unsafe extern "C-unwind" fn shim(state: *mut ffi::lua_State) -> c_int {
    // SAFETY (whole body): a C function owns its stack frame and is guaranteed
    // LUA_MINSTACK free slots above its arguments, more than the three extra values
    // pushed at once here; larger pushes are preceded by lua_checkstack. No Rust value
    // with a destructor is alive, so `lua_error`'s longjmp skips nothing that needs
    // dropping; errors raised by the body pass through the same way.
    let nargs = ffi::lua_gettop(state);
    if nargs as usize <= DIRECT_COUNT {
        ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
        ffi::lua_insert(state, 1);
        ffi::lua_call(state, nargs, ffi::LUA_MULTRET);
    } else {
        // Stack: args. Becomes: body, marker, table of args, count.
        ffi::lua_createtable(state, nargs, 0);
        for i in 1..=nargs {
            ffi::lua_pushvalue(state, i);
            ffi::lua_rawseti(state, -2, ffi::lua_Integer::from(i));
        }
        ffi::lua_replace(state, 1);
        ffi::lua_settop(state, 1);
        ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
        ffi::lua_insert(state, 1);
        ffi::lua_pushlightuserdata(state, spread_marker());
        ffi::lua_insert(state, 2);
        ffi::lua_pushnumber(state, f64::from(nargs));
        ffi::lua_call(state, 3, ffi::LUA_MULTRET);
    }
    let nresults = ffi::lua_gettop(state);
    if ffi::lua_type(state, 1) == ffi::LUA_TBOOLEAN && ffi::lua_toboolean(state, 1) != 0 {
        return nresults - 1;
    }
    if ffi::lua_type(state, 1) == ffi::LUA_TTABLE {
        // Stack: results table, count. Keep only the table, then spread it.
        let n = c_int::try_from(ffi::lua_tointeger(state, 2)).unwrap_or(c_int::MAX);
        ffi::lua_settop(state, 1);
        if ffi::lua_checkstack(state, n) == 0 {
            ffi::lua_pushstring(state, c"stack overflow (too many results)".as_ptr());
            ffi::lua_error(state)
        }
        for i in 1..=n {
            ffi::lua_rawgeti(state, 1, ffi::lua_Integer::from(i));
        }
        return n;
    }
    // Stack: false or nil, message.
    if ffi::lua_isnil(state, 1) != 0 {
        ffi::lua_pushvalue(state, 2);
        ffi::lua_error(state)
    }
    ffi::luaL_where(state, 1);
    ffi::lua_pushvalue(state, 2);
    ffi::lua_concat(state, 2);
    ffi::lua_error(state)
}

/// Where a call's arguments are.
enum ArgSource {
    Direct(MultiValue),
    /// Many arguments: positions 1..=n of this table.
    Table(Table, usize),
}

/// The arguments of one library call, with `lauxlib`'s checks and messages.
pub(crate) struct Args<'a> {
    pub(crate) lua: &'a Lua,
    source: ArgSource,
}

impl Args<'_> {
    /// `lua_gettop`: how many arguments were passed.
    pub(crate) fn count(&self) -> usize {
        match &self.source {
            ArgSource::Direct(values) => values.len(),
            ArgSource::Table(_, n) => *n,
        }
    }

    /// Argument `n` (1-based), `None` when absent (Lua's "no value").
    pub(crate) fn get(&self, n: usize) -> Option<Value> {
        if n == 0 || n > self.count() {
            return None;
        }
        match &self.source {
            ArgSource::Direct(values) => values.get(n - 1).cloned(),
            // A raw read of a table we built cannot fail but for memory; nil then.
            ArgSource::Table(t, _) => Some(t.raw_get(n).unwrap_or(Value::Nil)),
        }
    }

    /// Argument `n`, nil when absent.
    pub(crate) fn value(&self, n: usize) -> Value {
        self.get(n).unwrap_or(Value::Nil)
    }

    /// `luaL_argerror`: the message names the function as the script called it.
    pub(crate) fn arg_error<T>(&self, narg: usize, extra: &[u8]) -> Outcome<T> {
        let (name, what) = self
            .lua
            .inspect_stack(1, |debug| {
                let names = debug.names();
                (
                    names.name.map(|n| n.into_owned()),
                    names.name_what.map(str::to_owned),
                )
            })
            .unwrap_or((None, None));
        let mut narg = narg as i64;
        if what.as_deref() == Some("method") {
            narg -= 1;
            if narg == 0 {
                let mut m =
                    format!("calling '{}' on bad self (", name.unwrap_or_default()).into_bytes();
                m.extend_from_slice(extra);
                m.push(b')');
                return raise(m);
            }
        }
        let name = name.unwrap_or_else(|| "?".to_string());
        let mut m = format!("bad argument #{narg} to '{name}' (").into_bytes();
        m.extend_from_slice(extra);
        m.push(b')');
        raise(m)
    }

    /// `luaL_typerror`: "<expected> expected, got <type>".
    pub(crate) fn type_error<T>(&self, narg: usize, expected: &str) -> Outcome<T> {
        let got = self.get(narg).as_ref().map_or("no value", type_name);
        self.arg_error(narg, format!("{expected} expected, got {got}").as_bytes())
    }

    /// `lua_tonumber` with `lua_isnumber`: numbers, and strings Lua converts.
    pub(crate) fn to_number(&self, n: usize) -> Outcome<Option<f64>> {
        Ok(match self.get(n) {
            Some(v) => to_number(self.lua, &v)?,
            None => None,
        })
    }

    /// `luaL_checknumber`.
    pub(crate) fn check_number(&self, n: usize) -> Outcome<f64> {
        match self.to_number(n)? {
            Some(x) => Ok(x),
            None => self.type_error(n, "number"),
        }
    }

    /// `luaL_checkinteger`: the number truncated as the C cast does.
    pub(crate) fn check_integer(&self, n: usize) -> Outcome<i64> {
        self.check_number(n).map(c_double_to_i64)
    }

    /// `luaL_optinteger`: nil or absent gives `default`.
    pub(crate) fn opt_integer(&self, n: usize, default: i64) -> Outcome<i64> {
        match self.get(n) {
            None | Some(Value::Nil) => Ok(default),
            Some(_) => self.check_integer(n),
        }
    }

    /// `luaL_checklstring`: strings, and numbers converted as Lua prints them.
    pub(crate) fn check_bytes(&self, n: usize) -> Outcome<mlua::String> {
        let converted = match self.get(n) {
            Some(v @ (Value::String(_) | Value::Number(_) | Value::Integer(_))) => {
                self.lua.coerce_string(v)?
            }
            _ => None,
        };
        match converted {
            Some(s) => Ok(s),
            None => self.type_error(n, "string"),
        }
    }
}

/// A Lua table used as a stack, so deep structures keep one mlua reference (this table)
/// instead of one per level.
pub(crate) struct LuaStack {
    table: Table,
    len: usize,
}

impl LuaStack {
    pub(crate) fn new(lua: &Lua) -> mlua::Result<Self> {
        Ok(LuaStack {
            table: lua.create_table()?,
            len: 0,
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn push(&mut self, v: Value) -> mlua::Result<()> {
        self.len += 1;
        self.table.raw_set(self.len, v)
    }

    pub(crate) fn top(&self) -> mlua::Result<Value> {
        self.table.raw_get(self.len)
    }

    pub(crate) fn set_top(&self, v: Value) -> mlua::Result<()> {
        self.table.raw_set(self.len, v)
    }

    pub(crate) fn pop(&mut self) -> mlua::Result<Value> {
        let v = self.table.raw_get(self.len)?;
        self.table.raw_set(self.len, Value::Nil)?;
        self.len = self.len.saturating_sub(1);
        Ok(v)
    }

    /// Sets position `i` directly (a slot reserved earlier).
    pub(crate) fn table_set(&self, i: usize, v: Value) -> mlua::Result<()> {
        self.table.raw_set(i, v)
    }

    /// The values 1..=len, for returning them all.
    pub(crate) fn into_returns(self) -> Returns {
        Returns::Spread(self.table, self.len)
    }
}

/// The top of a stack that holds tables.
pub(crate) fn top_table(stack: &LuaStack) -> mlua::Result<Table> {
    match stack.top()? {
        Value::Table(t) => Ok(t),
        other => Err(mlua::Error::runtime(format!(
            "internal: expected a table, found {}",
            type_name(&other)
        ))),
    }
}

/// Lua 5.1's name for a value's type (`lua_typename`).
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::LightUserData(_) | Value::UserData(_) => "userdata",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// The double a Lua number holds. mlua shows integral doubles as `Integer`, bit-exactly.
pub(crate) fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

/// `lua_tonumber`: numbers, and strings converted by Lua's own rules.
pub(crate) fn to_number(lua: &Lua, v: &Value) -> mlua::Result<Option<f64>> {
    match v {
        Value::String(_) => lua.coerce_number(v.clone()),
        other => Ok(number_of(other)),
    }
}

/// The C cast `(int64_t)d` as x86-64 performs it: truncation, and the "integer
/// indefinite" value `i64::MIN` for NaN and anything out of range.
pub(crate) fn c_double_to_i64(d: f64) -> i64 {
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&d) {
        d as i64
    } else {
        i64::MIN
    }
}

/// The C cast `(int)d` on x86-64: truncation, `i32::MIN` when out of range or NaN.
pub(crate) fn c_double_to_i32(d: f64) -> i32 {
    if d > -2_147_483_649.0 && d < 2_147_483_648.0 {
        d as i32
    } else {
        i32::MIN
    }
}

/// A Lua number as a value to hand back to Lua.
pub(crate) fn number(n: f64) -> Value {
    Value::Number(n)
}

/// `printf("%.<precision>g", value)`, through the C library so every digit and every
/// rounding tie matches Redis's output (Lua's own `tostring` uses the same format).
pub(crate) fn format_g(value: f64, precision: u32) -> String {
    let format = format!("%.{precision}g\0");
    let mut buf = [0u8; 64];
    // SAFETY: `buf` is writable for its whole length, which is passed as the capacity;
    // the format is NUL-terminated and consumes exactly one double. With precision at
    // most 14 the text always fits in 64 bytes, and snprintf truncates if it did not.
    let written = unsafe {
        libc::snprintf(
            buf.as_mut_ptr().cast(),
            buf.len(),
            format.as_ptr().cast(),
            value,
        )
    };
    let len = usize::try_from(written).unwrap_or(0).min(buf.len() - 1);
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

/// `strtod` on the start of `text`: the value and how many bytes it consumed (0 when no
/// number starts there). Uses the C library for Redis's exact acceptance: hex, `inf`,
/// `nan`, leading `+` and so on.
pub(crate) fn strtod_prefix(text: &[u8]) -> (f64, usize) {
    // Copy the run of bytes strtod could consume, NUL-terminated; stop at the first
    // byte no number can contain, so the copy is bounded by the token, not the input.
    let span = text
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b"+-._()".contains(&b)))
        .unwrap_or(text.len());
    let mut owned = Vec::with_capacity(span + 1);
    owned.extend_from_slice(&text[..span]);
    owned.push(0);
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: `owned` is NUL-terminated and outlives the call; `end` receives a pointer
    // into `owned`, which is only used for the offset below.
    let value = unsafe { libc::strtod(owned.as_ptr().cast(), &mut end) };
    let consumed = if end.is_null() {
        0
    } else {
        (end as usize)
            .saturating_sub(owned.as_ptr() as usize)
            .min(span)
    };
    (value, consumed)
}

#[cfg(test)]
pub(crate) mod testing {
    //! Runs snippets in a fresh interpreter for the unit tests.
    use mlua::Value;

    /// Evaluates `code` (a chunk with `return`) in `new_lua()` and returns its first result
    /// as a string: strings as they are, other values through `tostring`.
    pub(crate) fn eval(code: &str) -> String {
        match try_eval(code) {
            Ok(s) => s,
            Err(e) => panic!("script failed: {code}\n{e}"),
        }
    }

    /// Like [`eval`] but returns the error text of a failing script.
    pub(crate) fn try_eval(code: &str) -> Result<String, String> {
        let lua = crate::new_lua().map_err(|e| e.to_string())?;
        let wrapped = format!("return tostring((function() {code} end)())");
        let v: Value = lua
            .load(&wrapped)
            .set_name("@user_script")
            .eval()
            .map_err(|e| error_text(&e))?;
        match v {
            Value::String(s) => Ok(String::from_utf8_lossy(&s.as_bytes()).into_owned()),
            other => Ok(format!("{other:?}")),
        }
    }

    /// The error's own message, without mlua's decoration.
    fn error_text(e: &mlua::Error) -> String {
        match e {
            mlua::Error::RuntimeError(m) => match m.find("\nstack traceback:") {
                Some(end) => m[..end].to_string(),
                None => m.clone(),
            },
            mlua::Error::CallbackError { cause, .. } => error_text(cause),
            other => other.to_string(),
        }
    }

    /// The error a script raises, asserting that it fails.
    pub(crate) fn error(code: &str) -> String {
        match try_eval(code) {
            Ok(v) => panic!("expected an error from {code}, got {v}"),
            Err(e) => e,
        }
    }
}
