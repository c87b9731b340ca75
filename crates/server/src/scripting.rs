//! Scripts and functions on the server side: the script cache and function libraries
//! (global), one Lua engine per worker thread, the [`ScriptHost`] that runs
//! `redis.call`, and busy scripts.
//!
//! Locking. A script starts holding the shards of its declared keys, or every shard if it
//! is known to reach keys it did not declare (learnt per script). When it reaches a key
//! in a shard it does not hold, it takes that shard if it is free; if not, a script that
//! has written nothing yet is abandoned and run again holding every shard (nothing it
//! did was visible), and one that has written waits, while commands holding that shard
//! and waiting for more let theirs go (see [`crate::keyspace::Locked::escalate`]). Either
//! way the script runs as one atomic step.
//!
//! Busy scripts. Past `busy-reply-threshold` a script marks itself busy: other clients
//! get `-BUSY` (their lock waits give up too), SCRIPT KILL / FUNCTION KILL stop it if it
//! has not written, and SHUTDOWN stops it at the next instruction check.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use indexmap::IndexMap;
use lodestone_resp::{Command, Protocol, ReplyWriter};
use lodestone_script::{Engine, Host, LibraryInfo, LogLevel};
use lodestone_spec::{CommandId, CommandSpec, CMD_NOSCRIPT, CMD_WRITE};
use parking_lot::{Mutex, RwLock};

use crate::ctx::{BlockMode, Ctx};
use crate::keyspace::{shard_of, Escalation};
use crate::server::Server;

/// A library loaded with FUNCTION LOAD.
#[derive(Clone, Debug)]
pub struct Library {
    pub code: Arc<[u8]>,
    pub info: LibraryInfo,
}

/// One script or function running now.
#[derive(Debug)]
pub struct Run {
    pub client_id: u64,
    pub is_eval: bool,
    pub name: String,
    pub command: Vec<Vec<u8>>,
    pub started: Instant,
    pub wrote: AtomicBool,
    pub kill: AtomicBool,
    pub busy: AtomicBool,
    /// The worker thread running it.
    pub worker: usize,
}

#[derive(Default)]
pub struct Scripting {
    scripts: RwLock<HashMap<String, Arc<[u8]>>>,
    pub scripts_generation: AtomicU64,
    pub libraries: RwLock<IndexMap<String, Library>>,
    pub libraries_generation: AtomicU64,
    /// Scripts (by SHA1, or `fn:<name>`) seen reaching keys they did not declare.
    undeclared: RwLock<HashSet<String>>,
    runs: Mutex<Vec<Arc<Run>>>,
    /// DEBUG SET-DISABLE-DENY-SCRIPTS: scripts may call `noscript` commands (tests).
    pub deny_scripts_disabled: AtomicBool,
    /// Workers now stuck in a busy script (the accept loop skips them).
    busy_workers: Mutex<HashSet<usize>>,
}

impl std::fmt::Debug for Scripting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scripting").finish_non_exhaustive()
    }
}

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
    /// This worker thread's index (`usize::MAX` off the workers).
    static WORKER: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

/// Records which worker the current thread is (called once by each worker).
pub fn set_worker_index(index: usize) {
    WORKER.with(|w| w.set(index));
}

/// Whether a command runs a script (EVAL family, FCALL family).
pub fn is_script_call(spec: &CommandSpec) -> bool {
    matches!(
        spec.id,
        CommandId::Eval
            | CommandId::Evalsha
            | CommandId::EvalRo
            | CommandId::EvalshaRo
            | CommandId::Fcall
            | CommandId::FcallRo
    )
}

/// Whether a script call should start holding every shard: it was seen reaching keys it
/// did not declare.
pub fn needs_all_shards(server: &Server, spec: &CommandSpec, cmd: &Command) -> bool {
    if !is_script_call(spec) || cmd.len() < 2 {
        return false;
    }
    let undeclared = server.scripting.undeclared.read();
    !undeclared.is_empty() && undeclared.contains(&script_name(spec, cmd.arg(1)))
}

/// The name a script is learnt under.
fn script_name(spec: &CommandSpec, first_arg: &[u8]) -> String {
    match spec.id {
        CommandId::Eval | CommandId::EvalRo => Engine::sha1hex(first_arg),
        CommandId::Fcall | CommandId::FcallRo => {
            format!("fn:{}", String::from_utf8_lossy(first_arg))
        }
        _ => String::from_utf8_lossy(first_arg).to_ascii_lowercase(),
    }
}

impl Scripting {
    pub fn script(&self, sha: &str) -> Option<Arc<[u8]>> {
        self.scripts.read().get(sha).cloned()
    }

    pub fn cache_script(&self, sha: String, body: &[u8]) {
        self.scripts
            .write()
            .entry(sha)
            .or_insert_with(|| Arc::from(body));
    }

    pub fn has_script(&self, sha: &str) -> bool {
        self.scripts.read().contains_key(sha)
    }

    pub fn flush_scripts(&self) {
        self.scripts.write().clear();
        self.scripts_generation.fetch_add(1, Ordering::Relaxed);
    }

    pub fn script_count(&self) -> usize {
        self.scripts.read().len()
    }

    pub fn scripts_memory(&self) -> usize {
        self.scripts.read().values().map(|b| b.len() + 64).sum()
    }

    /// Records a change of the library set: every engine reloads before its next use.
    pub fn libraries_changed(&self) {
        self.libraries_generation.fetch_add(1, Ordering::Relaxed);
    }

    /// The `-BUSY` error for the script now busy (its kind names the kill command).
    pub fn busy_error(&self) -> String {
        let eval = self
            .runs
            .lock()
            .iter()
            .find(|run| run.busy.load(Ordering::Relaxed))
            .is_none_or(|run| run.is_eval);
        match eval {
            true => "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.".into(),
            false => "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.".into(),
        }
    }

    /// SCRIPT KILL (`eval`) / FUNCTION KILL: the reply, after marking the run.
    pub fn kill(&self, eval: bool) -> Result<(), String> {
        let runs = self.runs.lock();
        let Some(run) = runs.first() else {
            return Err("NOTBUSY No scripts in execution right now.".into());
        };
        if run.wrote.load(Ordering::Relaxed) {
            return Err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.".into());
        }
        if eval && !run.is_eval {
            return Err("BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.".into());
        }
        if !eval && run.is_eval {
            return Err("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.".into());
        }
        run.kill.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// The oldest running function, for FUNCTION STATS.
    pub fn running_function(&self) -> Option<Arc<Run>> {
        self.runs.lock().iter().find(|run| !run.is_eval).cloned()
    }

    fn start(&self, run: Arc<Run>) {
        self.runs.lock().push(run);
    }

    fn end(&self, server: &Server, run: &Arc<Run>) {
        self.runs.lock().retain(|r| !Arc::ptr_eq(r, run));
        if run.busy.load(Ordering::Relaxed) {
            server.keyspace.busy_scripts.fetch_sub(1, Ordering::Relaxed);
            self.busy_workers.lock().remove(&run.worker);
        }
    }

    /// Whether worker `index` is stuck in a busy script.
    pub fn worker_busy(&self, index: usize) -> bool {
        let busy = self.busy_workers.lock();
        !busy.is_empty() && busy.contains(&index)
    }
}

/// Runs `f` with this thread's engine, brought up to date with the server's script
/// cache and libraries.
pub fn with_engine<R>(server: &Server, f: impl FnOnce(&mut Engine) -> R) -> Result<R, String> {
    with_engine_inner(server, None, f)
}

/// [`with_engine`] with the library set given (FUNCTION LOAD holds the registry's write
/// lock while it validates a library).
pub fn with_engine_using<R>(
    server: &Server,
    libraries: &IndexMap<String, Library>,
    f: impl FnOnce(&mut Engine) -> R,
) -> Result<R, String> {
    with_engine_inner(server, Some(libraries), f)
}

fn with_engine_inner<R>(
    server: &Server,
    libraries: Option<&IndexMap<String, Library>>,
    f: impl FnOnce(&mut Engine) -> R,
) -> Result<R, String> {
    ENGINE.with(|cell| {
        let mut slot = cell
            .try_borrow_mut()
            .map_err(|_| "ERR scripts cannot run other scripts".to_string())?;
        if slot.is_none() {
            *slot = Some(Engine::new().map_err(|e| format!("ERR cannot start Lua: {e}"))?);
        }
        let Some(engine) = slot.as_mut() else {
            return Err("ERR cannot start Lua".into());
        };
        sync_engine(server, engine, libraries);
        Ok(f(engine))
    })
}

/// Brings an engine up to date. The library set is read only when the engine is behind
/// (rare): a script run must not copy the registry.
fn sync_engine(server: &Server, engine: &mut Engine, given: Option<&IndexMap<String, Library>>) {
    let scripting = &server.scripting;
    let scripts = scripting.scripts_generation.load(Ordering::Relaxed);
    if engine.scripts_generation != scripts {
        engine.flush_scripts();
        engine.scripts_generation = scripts;
    }
    let generation = scripting.libraries_generation.load(Ordering::Relaxed);
    if engine.libraries_generation == generation {
        return;
    }
    let read;
    let libraries = match given {
        Some(libraries) => libraries,
        None => {
            read = scripting.libraries.read();
            &*read
        }
    };
    engine.flush_libraries();
    for library in libraries.values() {
        if let Err(error) = engine.load_library(&library.code, true) {
            tracing::warn!("Reloading library {}: {error}", library.info.name);
        }
    }
    engine.libraries_generation = generation;
}

/// What a script is.
pub enum Script<'b> {
    Eval { sha: String, body: &'b [u8] },
    Function { name: String },
}

/// Runs a script for the command in `ctx` with its keys and arguments, writing its reply.
/// Its writes reach the effect stream as one MULTI/EXEC block; the script itself does
/// not.
pub fn run(ctx: &mut Ctx, script: Script, keys: &[&[u8]], args: &[&[u8]], read_only: bool) {
    let server = ctx.server;
    let (is_eval, name) = match &script {
        Script::Eval { sha, .. } => (true, sha.clone()),
        Script::Function { name } => (false, name.clone()),
    };
    let run = Arc::new(Run {
        client_id: ctx.client.shared.id,
        is_eval,
        name: name.clone(),
        // Only FUNCTION STATS shows the command, and only for functions.
        command: match is_eval {
            true => Vec::new(),
            false => ctx.cmd.args().map(<[u8]>::to_vec).collect(),
        },
        started: Instant::now(),
        wrote: AtomicBool::new(false),
        kill: AtomicBool::new(false),
        busy: AtomicBool::new(false),
        worker: WORKER.with(|w| w.get()),
    });
    server.scripting.start(run.clone());
    // EVAL and FCALL skip the usual MONITOR feed (it comes after a command): they are
    // shown before the commands their script runs, as Redis does.
    if server.monitor_count.load(Ordering::Relaxed) > 0 {
        crate::dispatch::feed_monitors(server, ctx.client, ctx.cmd, ctx.keys.now_ms);
    }
    let effects_before = ctx.keys.effects.len();
    let saved_db = ctx.client.db;
    let frozen_before = ctx.keys.frozen_now_ms.replace(ctx.keys.now_ms);
    ctx.client.in_script = true;
    let mut out = small_writer(ctx.out.protocol);
    let (restart, undeclared_timeout) = {
        let mut host = ScriptHost {
            ctx: &mut *ctx,
            run: &run,
            read_only,
            restart: false,
            last_call_error: None,
            undeclared_timeout: false,
            propagate: true,
            threshold_ms: server.config.get_i64("busy-reply-threshold").max(0) as u128,
        };
        let ran = with_engine(server, |engine| match &script {
            Script::Eval { sha, body } => {
                engine.run_script(sha, body, keys, args, &mut host, &mut out)
            }
            Script::Function { name } => engine.run_function(name, keys, args, &mut host, &mut out),
        });
        if let Err(error) = ran {
            out.error(&error);
        }
        count_script_error(server, &out.buf, host.last_call_error.as_deref());
        (host.restart, host.undeclared_timeout)
    };
    server.scripting.end(server, &run);
    ctx.keys.frozen_now_ms = frozen_before;
    ctx.client.in_script = false;
    ctx.client.db = saved_db;
    ctx.keys.db = saved_db;
    if restart || undeclared_timeout {
        let learnt = match is_eval {
            true => name.clone(),
            false => format!("fn:{name}"),
        };
        server.scripting.undeclared.write().insert(learnt);
    }
    if restart {
        ctx.client.script_restart = true;
        ctx.keys.propagate_none();
        return;
    }
    ctx.out.raw(&out.buf);
    // A script's writes enter the effect stream as one MULTI ... EXEC block.
    ctx.keys.wrap_in_multi(effects_before);
    ctx.keys.propagate_none();
}

/// Gives this worker's runtime core, with every other connection it serves, to another
/// thread while the busy script keeps this one: they can then be answered `-BUSY` and
/// send SCRIPT KILL. The pause lets the new thread take the core before this one would
/// reclaim it; it is paid once per busy script.
fn hand_off_worker() {
    let on_multi_thread_worker = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if on_multi_thread_worker {
        tokio::task::block_in_place(|| std::thread::sleep(std::time::Duration::from_millis(5)));
    }
}

/// A reply writer for one script reply or one `redis.call` (most are a few bytes: the
/// connection's 16 KiB default would be allocated per call).
fn small_writer(protocol: Protocol) -> ReplyWriter {
    ReplyWriter {
        buf: bytes::BytesMut::with_capacity(64),
        protocol,
    }
}

/// The text of an error reply, without its `-` and line end.
fn error_text(reply: &[u8]) -> &[u8] {
    let end = reply
        .iter()
        .position(|&b| b == b'\r')
        .unwrap_or(reply.len());
    reply.get(1..end).unwrap_or_default()
}

/// A script's error reply counts in errorstats, except an error a called command gave
/// and the script passed on (that one was counted when the command failed).
fn count_script_error(server: &Server, reply: &[u8], last_call_error: Option<&[u8]>) {
    if reply.first() != Some(&b'-') {
        return;
    }
    let text = error_text(reply);
    if last_call_error.is_some_and(|inner| text.starts_with(inner)) {
        return;
    }
    server.count_error(&String::from_utf8_lossy(text));
}

/// `redis.call` and friends, on behalf of one running script.
struct ScriptHost<'c, 'a, 'k> {
    ctx: &'c mut Ctx<'a, 'k>,
    run: &'c Arc<Run>,
    read_only: bool,
    /// The script must run again holding every shard; every further call fails.
    restart: bool,
    /// `busy-reply-threshold` when the script started.
    threshold_ms: u128,
    /// The last error a called command replied (already counted in errorstats).
    last_call_error: Option<Vec<u8>>,
    /// A shard it did not declare could not be had: learn to take every shard.
    undeclared_timeout: bool,
    /// `redis.set_repl`: whether the writes that follow reach the effect stream.
    propagate: bool,
}

impl ScriptHost<'_, '_, '_> {
    fn error(text: &str) -> Vec<u8> {
        format!("-{text}\r\n").into_bytes()
    }

    /// Resolves a called command as Redis checks it for scripts.
    fn resolve(&self, cmd: &Command) -> Result<&'static CommandSpec, Vec<u8>> {
        let server = self.ctx.server;
        let Some(spec) = server.commands.lookup(cmd.arg(0)) else {
            return Err(Self::error("ERR Unknown Redis command called from script"));
        };
        let spec = match crate::dispatch::resolve(server, cmd) {
            Ok(spec) => spec,
            Err(_) if server.commands.has_subcommands(spec) && cmd.len() >= 2 => {
                return Err(Self::error("ERR Unknown Redis command called from script"))
            }
            Err(_) => {
                return Err(Self::error(
                    "ERR Wrong number of args calling Redis command from script",
                ))
            }
        };
        if spec.has(CMD_NOSCRIPT)
            && !server
                .scripting
                .deny_scripts_disabled
                .load(Ordering::Relaxed)
        {
            return Err(Self::error(
                "ERR This Redis command is not allowed from script",
            ));
        }
        if spec.has(CMD_WRITE) && self.read_only {
            return Err(Self::error(
                "ERR Write commands are not allowed from read-only scripts.",
            ));
        }
        Ok(spec)
    }

    /// Makes sure every shard the command touches is held, or says why not.
    fn hold_shards(&mut self, cmd: &Command, spec: &'static CommandSpec) -> Result<(), Escalation> {
        if self.ctx.keys.locked.is_all() {
            return Ok(());
        }
        let restartable = !self.run.wrote.load(Ordering::Relaxed);
        let mut positions = Vec::new();
        let every_shard = spec.has(lodestone_spec::CMD_ALL_SHARDS)
            || spec
                .key_positions_with(cmd.len(), &|i| cmd.arg(i), &mut positions)
                .is_none();
        let shards: Vec<usize> = match every_shard {
            true => (0..crate::keyspace::SHARDS).collect(),
            false => positions.iter().map(|&i| shard_of(cmd.arg(i))).collect(),
        };
        for id in shards {
            self.ctx.keys.locked.escalate(id, restartable)?;
        }
        Ok(())
    }
}

impl Host for ScriptHost<'_, '_, '_> {
    fn call(&mut self, args: &[&[u8]], resp: u8) -> Vec<u8> {
        if self.restart {
            return Self::error("ERR script restarting");
        }
        if args.is_empty() {
            return Self::error("ERR Please specify at least one argument for this redis lib call");
        }
        let cmd = Command::from_args(args);
        let spec = match self.resolve(&cmd) {
            Ok(spec) => spec,
            Err(reply) => return reply,
        };
        match self.hold_shards(&cmd, spec) {
            Ok(()) => {}
            Err(Escalation::Restart) => {
                self.restart = true;
                return Self::error("ERR script restarting");
            }
            Err(Escalation::Timeout) => {
                self.undeclared_timeout = true;
                return Self::error("ERR a key this script did not declare stayed locked by another script; declare the keys a script uses in KEYS");
            }
        }
        let protocol = match resp {
            3 => Protocol::Resp3,
            _ => Protocol::Resp2,
        };
        let mut out = small_writer(protocol);
        let dirty_before = self.ctx.keys.dirty;
        let effects_before = self.ctx.keys.effects.len();
        let expired_before = self.ctx.keys.expired.len();
        let ctx = &mut *self.ctx;
        crate::dispatch::run_one(
            ctx.server,
            ctx.client,
            ctx.stats,
            &mut out,
            &cmd,
            spec,
            ctx.keys,
            BlockMode::Never,
        );
        if spec.has(CMD_WRITE) && ctx.keys.dirty > dirty_before {
            self.run.wrote.store(true, Ordering::Relaxed);
        }
        if !self.propagate {
            // Expiry deletions are propagated whatever the script asked, as in Redis:
            // they come first among the call's effects, one per expired key.
            let expiry_deletions = ctx.keys.expired.len() - expired_before;
            ctx.keys.effects.truncate(effects_before + expiry_deletions);
        }
        if out.buf.first() == Some(&b'-') {
            self.last_call_error = Some(error_text(&out.buf).to_vec());
        }
        Vec::from(out.buf)
    }

    fn log(&mut self, level: LogLevel, message: &[u8]) {
        let text = String::from_utf8_lossy(message);
        match level {
            LogLevel::Warning => tracing::warn!("{text}"),
            LogLevel::Notice => tracing::info!("{text}"),
            LogLevel::Verbose | LogLevel::Debug => tracing::debug!("{text}"),
        }
    }

    fn check_interrupt(&mut self) -> Result<(), String> {
        let server = self.ctx.server;
        if server.shutting_down.load(Ordering::Relaxed) {
            return Err("ERR Script killed by user with SHUTDOWN...".into());
        }
        let threshold = self.threshold_ms;
        let elapsed = self.run.started.elapsed().as_millis();
        if threshold > 0 && elapsed >= threshold && !self.run.busy.swap(true, Ordering::Relaxed) {
            server.keyspace.busy_scripts.fetch_add(1, Ordering::Relaxed);
            server.scripting.busy_workers.lock().insert(self.run.worker);
            hand_off_worker();
            tracing::warn!(
                "Slow script detected: still in execution after {elapsed} milliseconds. You can try killing the script using the {} command.",
                if self.run.is_eval { "SCRIPT KILL" } else { "FUNCTION KILL" }
            );
        }
        if self.run.kill.load(Ordering::Relaxed) {
            return Err("ERR Script killed by user with SCRIPT KILL...".into());
        }
        Ok(())
    }

    /// `redis.set_repl`: with neither AOF nor replicas chosen, the writes that follow
    /// stay off the effect stream (until set again). The stream has one destination
    /// for both today, so AOF-only and replica-only both keep the writes on it.
    fn set_repl(&mut self, flags: i64) {
        self.propagate = flags != 0;
    }
}
