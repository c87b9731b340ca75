//! The script engine: one sandboxed Lua state per worker thread, running EVAL scripts
//! and FUNCTION libraries, reaching the server only through [`Host`].
//!
//! The server keeps the script cache (SHA1 -> body) and the function libraries (name ->
//! code) globally; each thread's [`Engine`] compiles what it is asked to run on first
//! use, so any thread can run any script.
//!
//! Redis runs EVAL scripts and FUNCTION libraries in two separate interpreters; so does
//! an [`Engine`] (see `sandbox.rs` for how each is shaped, `api.rs` for the `redis`
//! table, `reply.rs` for the reply conversions).

use std::collections::HashMap;
use std::ffi::c_int;

use lodestone_resp::ReplyWriter;

use crate::sandbox::{Kind, Sandbox};
use crate::shebang::{eval_flags, library_header, valid_name, BAD_NAME};

/// What a script can ask of the server.
pub trait Host {
    /// `redis.call` / `redis.pcall`: runs one command and returns its reply, encoded in
    /// RESP `resp` (2 or 3, as `redis.setresp` chose). An error reply comes back as
    /// such (`-ERR ...\r\n`); the engine turns it into a Lua error (call) or an error
    /// table (pcall).
    fn call(&mut self, args: &[&[u8]], resp: u8) -> Vec<u8>;

    /// `redis.log`.
    fn log(&mut self, level: LogLevel, message: &[u8]);

    /// Called from the Lua instruction hook (often: every few thousand instructions):
    /// `Err(reply)` stops the script at once with that error reply (SCRIPT KILL,
    /// FUNCTION KILL, shutdown).
    fn check_interrupt(&mut self) -> Result<(), String>;

    /// `redis.set_repl(flags)`: the engine validates the argument, the host records it.
    fn set_repl(&mut self, flags: i64);

    /// `redis.acl_check_cmd(...)`: whether the calling user may run this command, or
    /// `None` for an unknown command (the script then gets Redis's error). Defaults to
    /// "allowed" for hosts without ACLs.
    fn acl_check_cmd(&mut self, args: &[&[u8]]) -> Option<bool> {
        let _ = args;
        Some(true)
    }
}

/// `redis.LOG_*` levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Verbose,
    Notice,
    Warning,
}

/// Flags of a script (from its `#!lua flags=...` shebang) or of a registered function.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    /// The body had a shebang (`#!lua`): Redis applies the new-style rules (no
    /// undeclared keys in cluster mode, flags honoured).
    pub shebang: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
    pub allow_stale: bool,
    pub no_cluster: bool,
    pub allow_cross_slot_keys: bool,
}

/// A library loaded by FUNCTION LOAD.
#[derive(Clone, Debug, PartialEq)]
pub struct LibraryInfo {
    pub name: String,
    pub functions: Vec<FunctionInfo>,
}

/// One function of a library.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionInfo {
    pub name: String,
    pub description: Option<String>,
    pub flags: ScriptFlags,
}

/// One thread's Lua states with their compiled scripts and loaded libraries.
pub struct Engine {
    /// The function registry generation this engine's libraries match (the server
    /// bumps its own on FUNCTION LOAD/DELETE/FLUSH/RESTORE; a stale engine reloads).
    pub libraries_generation: u64,
    /// The script cache generation (SCRIPT FLUSH bumps the server's).
    pub scripts_generation: u64,
    eval: Sandbox,
    functions: Sandbox,
    /// SHA (lowercase) -> compiled body.
    scripts: HashMap<String, c_int>,
    /// Library name -> its functions.
    libraries: HashMap<String, Vec<Function>>,
    /// Function name -> library name.
    function_owner: HashMap<String, String>,
}

/// A registered function and its compiled callback.
struct Function {
    info: FunctionInfo,
    callback: c_int,
}

impl Engine {
    /// A fresh sandboxed state.
    ///
    /// # Errors
    /// Only when Lua cannot allocate.
    pub fn new() -> mlua::Result<Engine> {
        Ok(Engine {
            libraries_generation: 0,
            scripts_generation: 0,
            eval: Sandbox::new(Kind::Eval)?,
            functions: Sandbox::new(Kind::Functions)?,
            scripts: HashMap::new(),
            libraries: HashMap::new(),
            function_owner: HashMap::new(),
        })
    }

    /// The lowercase hex SHA1 of a body (the script's name).
    pub fn sha1hex(body: &[u8]) -> String {
        sha1_smol::Sha1::from(body).digest().to_string()
    }

    /// The flags of an EVAL body's shebang (default flags without one), or the error
    /// reply Redis gives for a bad shebang.
    pub fn script_flags(body: &[u8]) -> Result<ScriptFlags, String> {
        eval_flags(body).map(|(flags, _)| flags)
    }

    /// Compiles a body under its SHA (SCRIPT LOAD, first EVAL), or returns Redis's
    /// compile error reply. A SHA already compiled is not compiled again.
    pub fn compile(&mut self, sha: &str, body: &[u8]) -> Result<(), String> {
        let sha = sha.to_ascii_lowercase();
        if self.scripts.contains_key(&sha) {
            return Ok(());
        }
        let (_, shebang_len) = eval_flags(body)?;
        match self.eval.compile(&body[shebang_len..], c"@user_script") {
            Ok(function) => {
                self.scripts.insert(sha, function);
                Ok(())
            }
            Err(message) => Err(format!(
                "ERR Error compiling script (new function): {}",
                String::from_utf8_lossy(crate::reply::trim_crlf(&message))
            )),
        }
    }

    /// Whether a script is compiled in this engine.
    pub fn has_script(&self, sha: &str) -> bool {
        self.scripts.contains_key(&sha.to_ascii_lowercase())
    }

    /// Runs a script (compiling it first if needed) with KEYS and ARGV, and writes its
    /// reply, converted from Lua for `out.protocol`, or its error reply, into `out`.
    pub fn run_script(
        &mut self,
        sha: &str,
        body: &[u8],
        keys: &[&[u8]],
        args: &[&[u8]],
        host: &mut dyn Host,
        out: &mut ReplyWriter,
    ) {
        let sha = sha.to_ascii_lowercase();
        if let Err(e) = self.compile(&sha, body) {
            out.error(&e);
            return;
        }
        let Some(&function) = self.scripts.get(&sha) else {
            out.error("NOSCRIPT No matching script. Please use EVAL.");
            return;
        };
        self.eval.run(function, keys, args, &sha, host, out);
    }

    /// Forgets every compiled script (SCRIPT FLUSH). Like Redis, starts a new
    /// interpreter, so memory used by old scripts goes with it.
    pub fn flush_scripts(&mut self) {
        match Sandbox::new(Kind::Eval) {
            Ok(fresh) => self.eval = fresh,
            Err(_) => {
                for (_, function) in self.scripts.drain() {
                    self.eval.release(function);
                }
            }
        }
        self.scripts.clear();
    }

    /// Runs a library's code (FUNCTION LOAD, or a stale engine catching up) and keeps
    /// its functions: the library's name and functions, or Redis's error reply. Does
    /// not replace an already loaded library of the same name unless `replace`.
    pub fn load_library(&mut self, code: &[u8], replace: bool) -> Result<LibraryInfo, String> {
        let header = library_header(code)?;
        if !valid_name(&header.name) {
            return Err(format!("ERR {BAD_NAME}"));
        }
        if !header.engine.eq_ignore_ascii_case(b"lua") {
            return Err(format!(
                "ERR Engine '{}' not found",
                String::from_utf8_lossy(&header.engine)
            ));
        }
        let name = String::from_utf8_lossy(&header.name).into_owned();
        if self.libraries.contains_key(&name) && !replace {
            return Err(format!("ERR Library '{name}' already exists"));
        }
        let registered = self.functions.load_library(&code[header.code_start..])?;
        let problem = if registered.is_empty() {
            Some("ERR No functions registered".to_string())
        } else {
            registered
                .iter()
                .find(|f| {
                    self.function_owner
                        .get(&f.name)
                        .is_some_and(|owner| *owner != name)
                })
                .map(|f| format!("ERR Function {} already exists", f.name))
        };
        if let Some(problem) = problem {
            for f in registered {
                self.functions.release(f.callback);
            }
            return Err(problem);
        }
        self.delete_library(&name);
        let functions: Vec<Function> = registered
            .into_iter()
            .map(|f| Function {
                info: FunctionInfo {
                    name: f.name,
                    description: f.description,
                    flags: f.flags,
                },
                callback: f.callback,
            })
            .collect();
        for f in &functions {
            self.function_owner
                .insert(f.info.name.clone(), name.clone());
        }
        let info = LibraryInfo {
            name: name.clone(),
            functions: functions.iter().map(|f| f.info.clone()).collect(),
        };
        self.libraries.insert(name, functions);
        Ok(info)
    }

    /// Drops one library and its functions (FUNCTION DELETE); false when unknown.
    pub fn delete_library(&mut self, name: &str) -> bool {
        let Some(functions) = self.libraries.remove(name) else {
            return false;
        };
        for f in functions {
            self.function_owner.remove(&f.info.name);
            self.functions.release(f.callback);
        }
        true
    }

    /// Drops every loaded library (before reloading the server's set).
    pub fn flush_libraries(&mut self) {
        let names: Vec<String> = self.libraries.keys().cloned().collect();
        for name in names {
            self.delete_library(&name);
        }
    }

    /// The flags of a loaded function, `None` when no library registered it.
    pub fn function_flags(&self, name: &str) -> Option<ScriptFlags> {
        let owner = self.function_owner.get(name)?;
        self.libraries
            .get(owner)?
            .iter()
            .find(|f| f.info.name == name)
            .map(|f| f.info.flags)
    }

    /// Runs function `name` of the loaded libraries with KEYS and ARGV, writing its
    /// reply or error reply into `out`.
    pub fn run_function(
        &mut self,
        name: &str,
        keys: &[&[u8]],
        args: &[&[u8]],
        host: &mut dyn Host,
        out: &mut ReplyWriter,
    ) {
        let callback = self
            .function_owner
            .get(name)
            .and_then(|owner| self.libraries.get(owner))
            .and_then(|functions| functions.iter().find(|f| f.info.name == name))
            .map(|f| f.callback);
        let Some(callback) = callback else {
            out.error("ERR Function not found");
            return;
        };
        self.functions.run(callback, keys, args, name, host, out);
    }
}
