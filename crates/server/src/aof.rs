//! The append-only file, in Redis 7's multi-part layout: a directory (`appenddirname`)
//! with a manifest naming one base file (an RDB snapshot, or commands) and the incr
//! files of commands written since, so directories move between Lodestone and
//! redis-server both ways.
//!
//! **Writing.** The AOF reads the effect stream (`crate::effects`): commands append
//! their effects, RESP-encoded, to a buffer while they hold their shard locks, so the
//! file has them in the order they took effect. Before a connection sends replies, it
//! makes the buffer durable up to its own last effect ([`make_durable`]): written to
//! the file under every policy (so a kill -9 loses no acknowledged write), and fsynced
//! too under `appendfsync always`. Whoever takes the file lock writes everything
//! buffered, so concurrent connections share one write and one fsync (group commit).
//! A background thread fsyncs once a second under `everysec` and flushes effects no
//! connection waits for (active expiry).
//!
//! **Rewriting** (BGREWRITEAOF, the automatic rewrite, turning AOF on). Under every
//! shard lock, the buffer is flushed, a new incr file is opened (and listed in the
//! manifest) and a snapshot starts (`crate::snapshot`, no fork). Later effects go to
//! the new incr file; the snapshot becomes the new base; the manifest then names the
//! new base and the new incr file, and the old files are deleted. A crash at any point
//! leaves a manifest that loads: until the new manifest is in place, the old base and
//! every incr file, new one included, are listed.
//!
//! **Loading** at startup: the base (RDB, or commands) and each incr file in order,
//! replaying commands through the ordinary dispatch with expiry suspended, as Redis
//! does. A file cut short (a crash mid-write) is truncated at its last whole command if
//! it is the last file and `aof-load-truncated` allows it; anything else refuses the
//! start.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use lodestone_aof::manifest::{self, Manifest};
use lodestone_aof::reader::{self, CommandReader, ReadError};
use lodestone_resp::{Command, Protocol, ReplyWriter};

use crate::client::ClientState;
use crate::keyspace::Locked;
use crate::server::Server;
use crate::snapshot::{self, Purpose, Refused, Running};

/// `appendfsync`, as mirrored in `config::Hot`.
pub const FSYNC_NO: u8 = 0;
pub const FSYNC_EVERYSEC: u8 = 1;
pub const FSYNC_ALWAYS: u8 = 2;

/// What the AOF is doing.
const OFF: u8 = 0;
const ON: u8 = 1;
/// Turned on at runtime: effects go to a temporary incr file until the first rewrite
/// gives them a base (Redis's `AOF_WAIT_REWRITE`).
const WAIT_REWRITE: u8 = 2;

#[derive(Debug, Default)]
pub struct Aof {
    state: AtomicU8,
    io: Mutex<Io>,
    /// Effect-stream offsets written to the file, and fsynced.
    written: AtomicU64,
    synced: AtomicU64,
    /// The last write or fsync failed.
    write_error: AtomicBool,
    pub status: Mutex<Status>,
    /// Connections waiting for an fsync (`always`) ask the AOF thread for one here and
    /// are woken when it is done: one fsync covers every connection that asked
    /// meanwhile, on every worker thread (group commit).
    sync_wanted: Mutex<bool>,
    sync_asked: parking_lot::Condvar,
    synced_notify: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct Io {
    file: Option<File>,
    /// A reusable buffer for the bytes taken from the effect stream.
    scratch: Vec<u8>,
    last_fsync_ms: i64,
}

#[derive(Debug)]
pub struct Status {
    manifest: Manifest,
    /// Bytes of the whole AOF (base and incr files) and of the base after the last
    /// rewrite (the automatic rewrite compares them).
    pub current_size: u64,
    pub base_size: u64,
    pub rewrite_scheduled: bool,
    pub last_rewrite_ok: bool,
    pub last_rewrite_time_s: i64,
    pub rewrites: u64,
    pub consecutive_failures: u64,
    /// While a rewrite runs: the temporary incr file when turning AOF on.
    temp_incr: Option<PathBuf>,
}

impl Default for Status {
    fn default() -> Self {
        Status {
            manifest: Manifest::default(),
            current_size: 0,
            base_size: 0,
            rewrite_scheduled: false,
            last_rewrite_ok: true,
            last_rewrite_time_s: -1,
            rewrites: 0,
            consecutive_failures: 0,
            temp_incr: None,
        }
    }
}

fn aof_dir(server: &Server) -> PathBuf {
    PathBuf::from(server.config.get("appenddirname"))
}

fn prefix(server: &Server) -> Vec<u8> {
    server.config.get("appendfilename").into_bytes()
}

fn in_dir(server: &Server, name: &[u8]) -> PathBuf {
    aof_dir(server).join(String::from_utf8_lossy(name).as_ref())
}

fn manifest_path(server: &Server) -> PathBuf {
    in_dir(server, &manifest::manifest_name(&prefix(server)))
}

impl Aof {
    /// Whether effects are being written (AOF on, or waiting for its first rewrite).
    pub fn is_on(&self) -> bool {
        self.state.load(Ordering::Relaxed) != OFF
    }

    /// Whether the last write or fsync failed (writes are then refused, MISCONF).
    pub fn write_failed(&self) -> bool {
        self.is_on() && self.write_error.load(Ordering::Relaxed)
    }
}

thread_local! {
    /// The AOF offset the commands this thread ran since the last check need on disk
    /// before their replies go out.
    static NEEDED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Notes that effects up to `offset` were appended by a command on this thread.
pub fn note_appended(offset: u64) {
    if offset > 0 {
        NEEDED.with(|n| n.set(n.get().max(offset)));
    }
}

/// Takes the offset this thread's commands need durable (0: nothing).
pub fn take_needed() -> u64 {
    NEEDED.with(|n| n.replace(0))
}

/// Makes effects up to `offset` durable before replies go out. Under `always` the
/// connection waits (without blocking its worker thread) for the AOF thread's next
/// fsync; otherwise it writes the buffer itself, as Redis writes its AOF before
/// answering.
pub async fn make_durable_async(server: &Server, offset: u64) {
    let aof = &server.aof;
    if offset == 0 || !aof.is_on() {
        return;
    }
    if server.config.hot.appendfsync.load(Ordering::Relaxed) != FSYNC_ALWAYS {
        make_durable(server, offset);
        return;
    }
    loop {
        let notified = aof.synced_notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if aof.synced.load(Ordering::Acquire) >= offset || !aof.is_on() {
            return;
        }
        *aof.sync_wanted.lock() = true;
        aof.sync_asked.notify_one();
        notified.await;
    }
}

/// Makes effects up to `offset` durable as `appendfsync` promises: written to the
/// file, and fsynced under `always`. Blocks the calling thread.
pub fn make_durable(server: &Server, offset: u64) {
    let aof = &server.aof;
    if offset == 0 || !aof.is_on() {
        return;
    }
    let always = server.config.hot.appendfsync.load(Ordering::Relaxed) == FSYNC_ALWAYS;
    let covered = |aof: &Aof| {
        aof.written.load(Ordering::Acquire) >= offset
            && (!always || aof.synced.load(Ordering::Acquire) >= offset)
    };
    if covered(aof) {
        return;
    }
    let mut io = aof.io.lock();
    if covered(aof) {
        return;
    }
    flush_locked(server, &mut io, always);
}

/// Writes everything buffered (and fsyncs when `sync`); the caller holds the file lock,
/// so writes reach the file in stream order.
fn flush_locked(server: &Server, io: &mut Io, sync: bool) {
    let aof = &server.aof;
    let mut bytes = std::mem::take(&mut io.scratch);
    let end = server.effects.aof_take(&mut bytes);
    let mut ok = true;
    if let Some(file) = &mut io.file {
        if !bytes.is_empty() {
            if let Err(e) = file.write_all(&bytes) {
                tracing::warn!("Error writing to the AOF file: {e}");
                ok = false;
            } else {
                aof.status.lock().current_size += bytes.len() as u64;
            }
        }
        if ok && sync {
            if let Err(e) = file.sync_data() {
                tracing::warn!("Error fsyncing the AOF file: {e}");
                ok = false;
            } else {
                io.last_fsync_ms = lodestone_util::clock::now_ms();
                aof.synced.store(end, Ordering::Release);
            }
        }
    }
    bytes.clear();
    io.scratch = bytes;
    aof.write_error.store(!ok, Ordering::Relaxed);
    if ok {
        aof.written.store(end, Ordering::Release);
    } else if server.config.hot.appendfsync.load(Ordering::Relaxed) == FSYNC_ALWAYS {
        // Redis's choice too: under `always` an acknowledged write must be on disk,
        // and it can no longer be promised.
        tracing::error!(
            "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting..."
        );
        std::process::exit(1);
    }
}

/// The AOF thread: fsyncs for connections waiting under `always` (one fsync for all
/// that asked meanwhile), and every 100 ms writes what no connection waited for and,
/// under `everysec`, fsyncs once a second.
pub fn start_flusher(server: &std::sync::Arc<Server>) {
    let weak = std::sync::Arc::downgrade(server);
    let spawned = std::thread::Builder::new()
        .name("lodestone-aof".into())
        .spawn(move || loop {
            let asked = {
                let Some(server) = weak.upgrade() else { return };
                let aof = &server.aof;
                let mut wanted = aof.sync_wanted.lock();
                if !*wanted {
                    aof.sync_asked
                        .wait_for(&mut wanted, Duration::from_millis(100));
                }
                std::mem::take(&mut *wanted)
            };
            let Some(server) = weak.upgrade() else { return };
            if server.shutting_down.load(Ordering::Relaxed) {
                server.aof.synced_notify.notify_waiters();
                return;
            }
            if server.aof.is_on() {
                let policy = server.config.hot.appendfsync.load(Ordering::Relaxed);
                let mut io = server.aof.io.lock();
                let due = lodestone_util::clock::now_ms() - io.last_fsync_ms >= 1000;
                let sync = asked || (policy == FSYNC_EVERYSEC && due);
                flush_locked(&server, &mut io, sync);
            }
            if asked {
                server.aof.synced_notify.notify_waiters();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("Could not start the AOF flusher: {e}");
    }
}

/// Flushes and fsyncs everything (SHUTDOWN, turning AOF off).
pub fn flush_all(server: &Server) {
    if !server.aof.is_on() {
        return;
    }
    let mut io = server.aof.io.lock();
    flush_locked(server, &mut io, true);
}

// ---------------------------------------------------------------------------------
// Startup

/// Loads the dataset at startup: the AOF when `appendonly yes`, else the RDB file;
/// then opens the AOF for appending. An error refuses the start.
pub fn load_dataset(server: &Server) -> Result<(), String> {
    if !server.config.get_bool("appendonly") {
        return crate::persist::load_rdb_file_at_start(server);
    }
    load_files(server)?;
    open_on_start(server)
}

/// Loads the AOF files again into an empty keyspace (DEBUG LOADAOF). The effects of
/// the replay are not written back: appending pauses meanwhile, as Redis turns its
/// AOF off while loading.
pub fn reload(server: &Server) -> Result<(), String> {
    let on = server.aof.is_on();
    if on {
        flush_all(server);
        server.effects.aof_stop();
    }
    let result = load_files(server);
    if on {
        server.effects.aof_start();
    }
    result
}

fn read_manifest(server: &Server) -> Result<Manifest, String> {
    match std::fs::read(manifest_path(server)) {
        Ok(bytes) => Manifest::parse(&bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Manifest::default()),
        Err(e) => Err(format!("Can't open the AOF manifest: {e}")),
    }
}

/// Writes the manifest through a temp file and a rename, then fsyncs the directory.
fn persist_manifest(server: &Server, manifest: &Manifest) -> io::Result<()> {
    let temp = in_dir(server, &manifest::temp_manifest_name(&prefix(server)));
    let mut file = File::create(&temp)?;
    file.write_all(&manifest.to_bytes())?;
    file.sync_all()?;
    drop(file);
    snapshot::install(&temp, &manifest_path(server))
}

fn load_files(server: &Server) -> Result<(), String> {
    let mut manifest = read_manifest(server)?;
    let prefix = prefix(server);
    let old_style = PathBuf::from(String::from_utf8_lossy(&prefix).as_ref());
    // As Redis: no manifest yet, or one left by an upgrade interrupted before the move
    // (its only file is the old-style one, not in the AOF directory yet).
    let interrupted = manifest.incrs.is_empty()
        && manifest
            .base
            .as_ref()
            .is_some_and(|b| b.name == prefix && !in_dir(server, &b.name).exists());
    let empty = manifest.base.is_none() && manifest.incrs.is_empty();
    if old_style.is_file() && (empty || interrupted) {
        upgrade_old_style(server, &mut manifest, &old_style)?;
    }
    let files: Vec<_> = manifest.load_order().cloned().collect();
    let mut total = 0u64;
    for file in &files {
        let path = in_dir(server, &file.name);
        match std::fs::metadata(&path) {
            Ok(meta) => total += meta.len(),
            Err(e) => {
                return Err(format!(
                    "Unable to obtain the AOF file {} length. stat: {e}",
                    String::from_utf8_lossy(&file.name)
                ))
            }
        }
    }
    let base_size = manifest
        .base
        .as_ref()
        .and_then(|b| std::fs::metadata(in_dir(server, &b.name)).ok())
        .map_or(0, |m| m.len());
    {
        let mut status = server.aof.status.lock();
        status.manifest = manifest;
        status.current_size = total;
        status.base_size = base_size;
    }
    if total == 0 {
        return Ok(());
    }
    server.loading.begin(total);
    let mut offset = 0u64;
    for (i, file) in files.iter().enumerate() {
        let last = i + 1 == files.len();
        let started = std::time::Instant::now();
        let path = in_dir(server, &file.name);
        offset += load_file(server, &path, last, offset)?;
        let kind = if i == 0 && file.kind == manifest::FileType::Base {
            "base"
        } else {
            "incr"
        };
        tracing::info!(
            "DB loaded from {kind} file {}: {:.3} seconds",
            String::from_utf8_lossy(&file.name),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// A Redis 6 `appendonly.aof` in `dir`: moved into the AOF directory as its base.
fn upgrade_old_style(server: &Server, manifest: &mut Manifest, old: &Path) -> Result<(), String> {
    let dir = aof_dir(server);
    std::fs::create_dir_all(&dir).map_err(|e| {
        format!(
            "Can't open or create append-only dir {}: {e}",
            dir.display()
        )
    })?;
    manifest.base = Some(manifest::AofFile {
        name: prefix(server),
        seq: 1,
        kind: manifest::FileType::Base,
    });
    manifest.curr_base_seq = 1;
    persist_manifest(server, manifest)
        .map_err(|e| format!("Can't persist the AOF manifest: {e}"))?;
    std::fs::rename(old, in_dir(server, &prefix(server))).map_err(|e| {
        format!(
            "Error trying to move the old AOF file into dir {}: {e}",
            dir.display()
        )
    })?;
    tracing::info!(
        "Successfully migrated an old-style AOF file ({}) into the AOF directory ({}).",
        old.display(),
        dir.display()
    );
    Ok(())
}

/// Loads one file (an RDB base, or commands, or an RDB preamble then commands).
/// Returns its size.
fn load_file(server: &Server, path: &Path, last: bool, offset: u64) -> Result<u64, String> {
    let data = std::fs::read(path).map_err(|e| {
        format!(
            "Fatal error: can't open the append log file {}: {e}",
            path.display()
        )
    })?;
    if data.is_empty() {
        return Ok(0);
    }
    let start = if reader::is_rdb_preamble(&data) {
        crate::persist::load_at_start(server, &data, offset).map_err(|e| {
            format!(
                "Bad file format reading the append only file {}: {e}",
                path.display()
            )
        })?
    } else {
        0
    };
    if start < data.len() {
        replay(server, &data, start, path, last, offset)?;
    }
    Ok(data.len() as u64)
}

/// Replays the commands of `data` from `start` through the dispatcher, as a client
/// that is allowed to run while loading and sees no key expire.
fn replay(
    server: &Server,
    data: &[u8],
    start: usize,
    path: &Path,
    last: bool,
    offset: u64,
) -> Result<(), String> {
    let shared = server.clients.register(
        "aof".into(),
        String::new(),
        -1,
        lodestone_util::clock::now_ms(),
    );
    let id = shared.id;
    let mut client = ClientState::new(shared, true);
    client.replaying = true;
    let mut out = ReplyWriter::new(Protocol::Resp2);
    let mut scratch = Vec::new();
    let stats = server.side_stats.clone();
    let mut commands = CommandReader::starting_at(data, start);
    let mut count = 0u64;
    for item in commands.by_ref() {
        let item = match item {
            Ok(item) => item,
            Err(error) => {
                server.clients.unregister(id);
                return read_error(server, path, last, error);
            }
        };
        let cmd = Command::from_args(&item.args);
        if server.commands.lookup(cmd.arg(0)).is_none() {
            server.clients.unregister(id);
            return Err(format!(
                "Unknown command '{}' reading the append only file {}",
                String::from_utf8_lossy(cmd.arg(0)),
                path.display()
            ));
        }
        crate::dispatch::process_command(server, &mut client, &stats, &mut out, &cmd, &mut scratch);
        out.buf.clear();
        count += 1;
        if count.is_multiple_of(1024) {
            server.loading.progress(offset + item.end as u64);
        }
    }
    server.clients.unregister(id);
    server.loading.progress(offset + data.len() as u64);
    Ok(())
}

/// A file that ends inside a command: cut at the last whole one when it is the last
/// file and `aof-load-truncated yes`; otherwise the start is refused.
fn read_error(server: &Server, path: &Path, last: bool, error: ReadError) -> Result<(), String> {
    let valid_up_to = match error {
        ReadError::Truncated { valid_up_to } | ReadError::UnfinishedMulti { valid_up_to } => valid_up_to,
        ReadError::Corrupt { .. } => {
            return Err(format!(
                "Bad file format reading the append only file {}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest> ({error})",
                path.display()
            ))
        }
    };
    if !last {
        return Err(format!(
            "Fatal error: the truncated file is not the last file ({})",
            path.display()
        ));
    }
    if !server.config.get_bool("aof-load-truncated") {
        return Err(format!(
            "Unexpected end of file reading the append only file {}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
            path.display()
        ));
    }
    tracing::warn!(
        "!!! Warning: short read while loading the AOF file {}!!!",
        path.display()
    );
    tracing::warn!(
        "!!! Truncating the AOF {} at offset {valid_up_to} !!!",
        path.display()
    );
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(valid_up_to as u64).and_then(|()| f.sync_all()));
    if let Err(e) = file {
        return Err(format!(
            "Error truncating the AOF file {}: {e}",
            path.display()
        ));
    }
    tracing::warn!(
        "AOF {} loaded anyway because aof-load-truncated is enabled",
        path.display()
    );
    Ok(())
}

/// After loading: makes sure a base exists (an empty dataset gets one written now, as
/// Redis does), opens the last incr file for appending, and starts writing effects.
fn open_on_start(server: &Server) -> Result<(), String> {
    let dir = aof_dir(server);
    std::fs::create_dir_all(&dir).map_err(|e| {
        format!(
            "Can't open or create append-only dir {}: {e}",
            dir.display()
        )
    })?;
    let prefix = prefix(server);
    let mut status = server.aof.status.lock();
    if status.manifest.base.is_none() && status.manifest.incrs.is_empty() {
        let rdb = server.config.get_bool("aof-use-rdb-preamble");
        let base = status.manifest.new_base(&prefix, rdb).name.clone();
        let path = in_dir(server, &base);
        let mut locked = server
            .keyspace
            .lock_all(false)
            .map_err(|_| "the keyspace is busy".to_string())?;
        write_base_now(server, &mut locked, &path, rdb)
            .map_err(|e| format!("Can't create the AOF base file: {e}"))?;
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        status.base_size = size;
        status.current_size = size;
        tracing::info!(
            "Creating AOF base file {} on server start",
            String::from_utf8_lossy(&base)
        );
    }
    let had_incr = !status.manifest.incrs.is_empty();
    let incr = status.manifest.last_incr_or_new(&prefix).name.clone();
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(in_dir(server, &incr))
        .map_err(|e| format!("Can't open the append-only file: {e}"))?;
    persist_manifest(server, &status.manifest)
        .map_err(|e| format!("Can't persist the AOF manifest: {e}"))?;
    if !had_incr {
        tracing::info!(
            "Creating AOF incr file {} on server start",
            String::from_utf8_lossy(&incr)
        );
    }
    delete_history(server, &mut status);
    drop(status);
    start_appending(server, file, ON);
    Ok(())
}

fn start_appending(server: &Server, file: File, state: u8) {
    let aof = &server.aof;
    let mut io = aof.io.lock();
    io.file = Some(file);
    io.last_fsync_ms = lodestone_util::clock::now_ms();
    server.effects.aof_start();
    let at = server.effects.aof_appended();
    aof.written.store(at, Ordering::Release);
    aof.synced.store(at, Ordering::Release);
    aof.write_error.store(false, Ordering::Relaxed);
    aof.state.store(state, Ordering::Relaxed);
}

/// Writes a base file from the locked keyspace, now (startup with an empty dataset).
fn write_base_now(server: &Server, locked: &mut Locked, path: &Path, rdb: bool) -> io::Result<()> {
    let temp = path.with_extension("tmp");
    let result = snapshot::write_locked(server, locked, &temp, Purpose::AofBase, rdb)
        .and_then(|()| snapshot::install(&temp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// CONFIG SET aof-disable-auto-gc no: the history files go now, as in Redis.
pub fn delete_history_now(server: &Server) {
    let mut status = server.aof.status.lock();
    if !status.manifest.history.is_empty() {
        delete_history(server, &mut status);
    }
}

fn delete_history(server: &Server, status: &mut Status) {
    if server.config.get_bool("aof-disable-auto-gc") {
        return;
    }
    for file in status.manifest.history.drain(..) {
        let path = in_dir(server, &file.name);
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::info!(
                "Removing the history file {} in the background",
                String::from_utf8_lossy(&file.name)
            ),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("Could not remove {}: {e}", path.display()),
        }
    }
    if let Err(e) = persist_manifest(server, &status.manifest) {
        tracing::warn!("Can't persist the AOF manifest: {e}");
    }
}

// ---------------------------------------------------------------------------------
// Rewrite

/// Starts a rewrite (BGREWRITEAOF, the automatic one, the first after turning AOF
/// on). The caller holds every shard, so the switch to a new incr file and the
/// snapshot happen at one instant.
pub fn start_rewrite(server: &Server, locked: &mut Locked) -> Result<(), Refused> {
    if let Some(running) = server.snapshots.running() {
        return Err(Refused::Busy(running.purpose));
    }
    let dir = aof_dir(server);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        tracing::warn!(
            "Can't open or create append-only dir {}: {e}",
            dir.display()
        );
        return Err(Refused::Failed);
    }
    let prefix = prefix(server);
    let rdb = server.config.get_bool("aof-use-rdb-preamble");
    let state = server.aof.state.load(Ordering::Relaxed);
    let mut status = server.aof.status.lock();
    // Switch the incr file first: effects from this instant on are not in the base.
    match state {
        ON => {
            let mut next = status.manifest.clone();
            let incr = next.new_incr(&prefix).name.clone();
            let file = match File::create(in_dir(server, &incr)) {
                Ok(file) => file,
                Err(e) => {
                    tracing::warn!("Can't open the append-only file: {e}");
                    return Err(Refused::Failed);
                }
            };
            if let Err(e) = persist_manifest(server, &next) {
                tracing::warn!("Can't persist the AOF manifest: {e}");
                return Err(Refused::Failed);
            }
            status.manifest = next;
            // The file lock comes first, as for every writer (flush_locked takes the
            // status lock itself when it writes): not while holding the status.
            drop(status);
            let mut io = server.aof.io.lock();
            flush_locked(server, &mut io, true);
            io.file = Some(file);
            server.effects.aof_reselect();
            drop(io);
            status = server.aof.status.lock();
            tracing::info!(
                "Creating AOF incr file {} on background rewrite",
                String::from_utf8_lossy(&incr)
            );
        }
        WAIT_REWRITE => {
            let temp = in_dir(server, &manifest::temp_incr_name(&prefix));
            let file = match File::create(&temp) {
                Ok(file) => file,
                Err(e) => {
                    tracing::warn!("Can't open the append-only file: {e}");
                    return Err(Refused::Failed);
                }
            };
            status.temp_incr = Some(temp);
            drop(status);
            start_appending(server, file, WAIT_REWRITE);
            status = server.aof.status.lock();
        }
        _ => {}
    }
    let mut probe = status.manifest.clone();
    let target = in_dir(server, &probe.new_base(&prefix, rdb).name.clone());
    drop(status);
    let temp = PathBuf::from(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
    let done: snapshot::Done = Box::new(move |server, result| rewrite_done(server, result, rdb));
    snapshot::start(server, locked, Purpose::AofBase, temp, target, Some(done))?;
    server.aof.status.lock().rewrite_scheduled = false;
    tracing::info!("Background append only file rewriting started");
    Ok(())
}

fn rewrite_done(server: &Server, result: io::Result<()>, rdb: bool) {
    let prefix = prefix(server);
    let mut status = server.aof.status.lock();
    let state = server.aof.state.load(Ordering::Relaxed);
    let finished = result.and_then(|()| {
        let mut next = status.manifest.clone();
        let base = next.new_base(&prefix, rdb).name.clone();
        if state == WAIT_REWRITE {
            if let Some(temp) = &status.temp_incr {
                let incr = next.new_incr(&prefix).name.clone();
                std::fs::rename(temp, in_dir(server, &incr))?;
            }
        }
        next.mark_rewritten_incrs_as_history(state != OFF);
        persist_manifest(server, &next)?;
        status.manifest = next;
        Ok(base)
    });
    match finished {
        Ok(base) => {
            let base_size = std::fs::metadata(in_dir(server, &base)).map_or(0, |m| m.len());
            let incr_size = status
                .manifest
                .incrs
                .last()
                .and_then(|f| std::fs::metadata(in_dir(server, &f.name)).ok())
                .map_or(0, |m| m.len());
            status.base_size = base_size + incr_size;
            status.current_size = base_size + incr_size;
            status.last_rewrite_ok = true;
            status.consecutive_failures = 0;
            status.rewrites += 1;
            status.temp_incr = None;
            delete_history(server, &mut status);
            if state == WAIT_REWRITE {
                server.aof.state.store(ON, Ordering::Relaxed);
            }
            tracing::info!("Background AOF rewrite finished successfully");
        }
        Err(e) => {
            status.last_rewrite_ok = false;
            status.consecutive_failures += 1;
            tracing::warn!("Background AOF rewrite failed: {e}");
        }
    }
    status.last_rewrite_time_s = server.snapshots.state.lock().last_aof_time_s;
}

/// Whether the automatic rewrite is due (`auto-aof-rewrite-percentage/min-size`).
pub fn rewrite_due(server: &Server) -> bool {
    let state = server.aof.state.load(Ordering::Relaxed);
    let status = server.aof.status.lock();
    if status.rewrite_scheduled {
        return true;
    }
    if state != ON {
        return false;
    }
    let percent = server.config.get_i64("auto-aof-rewrite-percentage");
    let min = server.config.get_i64("auto-aof-rewrite-min-size").max(0) as u64;
    if percent <= 0 || status.current_size <= min {
        return false;
    }
    let base = status.base_size.max(1);
    let growth = (status.current_size * 100 / base) as i64 - 100;
    growth >= percent
}

/// Schedules a rewrite for the cron (BGREWRITEAOF while a snapshot runs).
pub fn schedule_rewrite(server: &Server) {
    server.aof.status.lock().rewrite_scheduled = true;
}

// ---------------------------------------------------------------------------------
// Turning it on and off (CONFIG SET appendonly)

/// `appendonly yes` at runtime: a rewrite gives the current data a base; effects go
/// to a temporary incr file from the instant it starts. It starts now when the caller
/// holds no shard (`can_lock`) and no other snapshot runs, as Redis starts it within
/// CONFIG SET; otherwise the cron starts it.
pub fn enable(server: &Server, can_lock: bool) {
    if server.aof.is_on() {
        return;
    }
    server.aof.state.store(WAIT_REWRITE, Ordering::Relaxed);
    schedule_rewrite(server);
    if can_lock && server.snapshots.running().is_none() {
        if let Ok(mut locked) = server.keyspace.lock_all(false) {
            if let Err(e) = start_rewrite(server, &mut locked) {
                tracing::warn!("Could not start the AOF rewrite: {e:?}");
            }
        }
    }
}

/// `appendonly no`: flush, fsync and stop writing; a running rewrite is abandoned.
pub fn disable(server: &Server) {
    if !server.aof.is_on() {
        return;
    }
    flush_all(server);
    if server
        .snapshots
        .running()
        .is_some_and(|r| r.purpose == Purpose::AofBase)
    {
        server.snapshots.cancel();
    }
    let mut io = server.aof.io.lock();
    server.effects.aof_stop();
    io.file = None;
    server.aof.state.store(OFF, Ordering::Relaxed);
    server.aof.synced_notify.notify_waiters();
    let mut status = server.aof.status.lock();
    status.rewrite_scheduled = false;
    if let Some(temp) = status.temp_incr.take() {
        let _ = std::fs::remove_file(temp);
    }
}

// ---------------------------------------------------------------------------------
// INFO

/// INFO persistence's `aof_*` fields up to `aof_last_cow_size`.
pub fn info_fields(server: &Server, out: &mut String, running: Option<Running>, now_ms: i64) {
    let status = server.aof.status.lock();
    let rewriting = running.filter(|r| r.purpose == Purpose::AofBase);
    let lines = [
        ("aof_enabled", u8::from(server.aof.is_on()).to_string()),
        (
            "aof_rewrite_in_progress",
            u8::from(rewriting.is_some()).to_string(),
        ),
        (
            "aof_rewrite_scheduled",
            u8::from(status.rewrite_scheduled).to_string(),
        ),
        (
            "aof_last_rewrite_time_sec",
            status.last_rewrite_time_s.to_string(),
        ),
        (
            "aof_current_rewrite_time_sec",
            rewriting
                .map_or(-1, |r| (now_ms - r.started_ms) / 1000)
                .to_string(),
        ),
        (
            "aof_last_bgrewrite_status",
            ok_or_err(status.last_rewrite_ok),
        ),
        ("aof_rewrites", status.rewrites.to_string()),
        (
            "aof_rewrites_consecutive_failures",
            status.consecutive_failures.to_string(),
        ),
        (
            "aof_last_write_status",
            ok_or_err(!server.aof.write_failed()),
        ),
        ("aof_last_cow_size", "0".to_string()),
    ];
    for (name, value) in lines {
        out.push_str(name);
        out.push(':');
        out.push_str(&value);
        out.push_str("\r\n");
    }
}

fn ok_or_err(ok: bool) -> String {
    if ok { "ok" } else { "err" }.to_string()
}

/// The size fields INFO shows while AOF is on.
pub fn info_size_fields(server: &Server, out: &mut String) {
    if !server.aof.is_on() {
        return;
    }
    let status = server.aof.status.lock();
    let lines = [
        ("aof_current_size", status.current_size.to_string()),
        ("aof_base_size", status.base_size.to_string()),
        (
            "aof_pending_rewrite",
            u8::from(status.rewrite_scheduled).to_string(),
        ),
        (
            "aof_buffer_length",
            server.effects.aof_buffered().to_string(),
        ),
        ("aof_pending_bio_fsync", "0".to_string()),
        ("aof_delayed_fsync", "0".to_string()),
    ];
    for (name, value) in lines {
        out.push_str(name);
        out.push(':');
        out.push_str(&value);
        out.push_str("\r\n");
    }
}
