//! Point-in-time snapshots written while writes go on (BGSAVE, save points, the base
//! file of an AOF rewrite), without fork and without a second copy of the dataset.
//!
//! Starting one takes every shard lock for a moment: it numbers the snapshot (an
//! epoch), installs a [`DbSnapshot`] on every db part and notes the key counts. Then a
//! background thread walks the shards one at a time, a few hundred entries per lock
//! hold, encoding each entry it has not met yet and stamping it. A command about to
//! change or delete an entry the walk has not stamped first hands the entry's current
//! state to the [`Keeper`], which encodes it into a side buffer the walker drains into
//! the file (see `lodestone_store::DbSnapshot`). So the file holds every key exactly as
//! it was at the start, and the extra memory is the encoded old values of keys written
//! since the start and not yet drained: bounded by the write rate during one walk step,
//! not by the dataset. A database can appear in several sections of the file (the
//! walker returns to it for kept entries); Redis's loader accepts that.
//!
//! The file is written to a temp name, fsynced, renamed, and the directory fsynced, so
//! a crash at any point leaves the previous file whole.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use lodestone_rdb::file::{encode_entry, FileWriter};
use lodestone_store::{Entry, KeyMap, SnapshotKeeper, NO_EXPIRE};

use crate::keyspace::{Locked, SHARDS};
use crate::server::Server;

/// Entries the walker encodes per shard-lock hold: small enough that a writer waiting
/// for the shard waits about as long as for an ordinary command.
const WALK_STEP: usize = 128;

/// What a snapshot is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// BGSAVE or a save point: the RDB file.
    Rdb,
    /// The base file of an AOF rewrite.
    AofBase,
}

/// Called on the snapshot thread when the file is in place (or the job failed).
pub type Done = Box<dyn FnOnce(&Server, io::Result<()>) + Send>;

/// Snapshot bookkeeping shared by the server.
#[derive(Debug, Default)]
pub struct Snapshots {
    epoch: AtomicU32,
    pub state: Mutex<SnapshotState>,
    /// Set to abandon the running snapshot (FLUSHALL, SHUTDOWN).
    cancel: AtomicBool,
    /// Bytes of kept old values not yet written (INFO `current_cow_size`).
    pub kept_bytes: AtomicU64,
    /// Keys written so far by the running snapshot.
    pub keys_done: AtomicU64,
}

#[derive(Debug)]
pub struct SnapshotState {
    pub running: Option<Running>,
    /// BGSAVE SCHEDULE (or BGSAVE inside MULTI) while another snapshot ran.
    pub bgsave_scheduled: bool,
    pub last_bgsave_ok: bool,
    /// When the last background save started (Unix s): a failed one is retried only
    /// after a delay.
    pub last_bgsave_try_s: i64,
    pub last_bgsave_time_s: i64,
    /// Most bytes of kept old values held at once by the last snapshot
    /// (INFO `rdb_last_cow_size`: the extra memory it needed).
    pub last_kept_peak: u64,
    /// SAVEs and background saves started (INFO `rdb_saves`).
    pub saves: u64,
    /// How long the last AOF rewrite's snapshot took.
    pub last_aof_time_s: i64,
}

impl Default for SnapshotState {
    fn default() -> Self {
        SnapshotState {
            running: None,
            bgsave_scheduled: false,
            last_bgsave_ok: true,
            last_bgsave_try_s: 0,
            last_bgsave_time_s: -1,
            last_kept_peak: 0,
            saves: 0,
            last_aof_time_s: -1,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Running {
    pub purpose: Purpose,
    pub started_ms: i64,
    pub keys_total: u64,
}

/// Why a snapshot could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Another snapshot is running (Redis's "child process").
    Busy(Purpose),
    /// A file could not be created.
    Failed,
}

impl Snapshots {
    pub fn running(&self) -> Option<Running> {
        self.state.lock().running
    }

    /// Asks the running snapshot to stop; its temp file is removed and the old file
    /// stays.
    pub fn cancel(&self) {
        if self.state.lock().running.is_some() {
            self.cancel.store(true, Ordering::Relaxed);
        }
    }
}

/// Receives the old state of entries changed during a snapshot, encoded per database.
#[derive(Debug)]
struct Keeper {
    /// RDB encoding, or commands (an AOF base without RDB preamble).
    rdb: bool,
    /// `rdbcompression` when the snapshot began.
    compress: bool,
    kept: Mutex<Kept>,
    peak: AtomicU64,
    bytes: AtomicU64,
}

#[derive(Debug, Default)]
struct Kept {
    /// Encoded entries per database number.
    per_db: Vec<Vec<u8>>,
    /// Whole db parts handed over by FLUSHALL: (database, epoch, keys).
    parts: Vec<(usize, u32, KeyMap)>,
}

impl SnapshotKeeper for Keeper {
    fn keep(&self, db: usize, key: &[u8], entry: &Entry) {
        let mut encoded = Vec::new();
        encode(self.rdb, self.compress, &mut encoded, key, entry);
        let len = encoded.len() as u64;
        let mut kept = self.kept.lock();
        if kept.per_db.len() <= db {
            kept.per_db.resize_with(db + 1, Vec::new);
        }
        kept.per_db[db].extend_from_slice(&encoded);
        drop(kept);
        let now = self.bytes.fetch_add(len, Ordering::Relaxed) + len;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    fn keep_all(&self, db: usize, epoch: u32, keys: KeyMap) {
        self.kept.lock().parts.push((db, epoch, keys));
    }
}

fn expire_of(entry: &Entry) -> Option<i64> {
    (entry.expire_ms != NO_EXPIRE).then_some(entry.expire_ms)
}

/// Appends one key in the file's format: an RDB entry, or the commands that rebuild it.
fn encode(rdb: bool, compress: bool, out: &mut Vec<u8>, key: &[u8], entry: &Entry) {
    if rdb {
        encode_entry(out, key, &entry.value, expire_of(entry), compress);
    } else {
        lodestone_aof::rewrite::key_commands(key, entry, out);
    }
}

/// A snapshot being written on its thread.
struct Job {
    purpose: Purpose,
    epoch: u32,
    keeper: Arc<Keeper>,
    /// Per database: keys and keys with a TTL when the snapshot began (resize hints).
    counts: Vec<(usize, usize)>,
    libraries: Vec<Arc<[u8]>>,
    temp: PathBuf,
    target: PathBuf,
    dirty_at_start: u64,
    done: Option<Done>,
}

/// Starts a snapshot of the keyspace into `target` (through `temp`). The caller holds
/// every shard, so the snapshot is of this instant.
pub fn start(
    server: &Server,
    locked: &mut Locked,
    purpose: Purpose,
    temp: PathBuf,
    target: PathBuf,
    done: Option<Done>,
) -> Result<(), Refused> {
    debug_assert!(locked.is_all());
    let snapshots = &server.snapshots;
    let mut state = snapshots.state.lock();
    if let Some(running) = state.running {
        return Err(Refused::Busy(running.purpose));
    }
    let Some(me) = server.me() else {
        // No thread to run on (a server not started by `run`): nothing to do.
        return Err(Refused::Busy(purpose));
    };
    let epoch = snapshots.epoch.fetch_add(1, Ordering::Relaxed) + 1;
    let keeper = Arc::new(Keeper {
        rdb: purpose == Purpose::Rdb || server.config.get_bool("aof-use-rdb-preamble"),
        compress: server.config.get_bool("rdbcompression"),
        kept: Mutex::new(Kept::default()),
        peak: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
    });
    let databases = server.keyspace.databases;
    let mut counts = vec![(0usize, 0usize); databases];
    for shard in locked.shards() {
        for (db, part) in shard.dbs.iter_mut().enumerate() {
            counts[db].0 += part.len();
            counts[db].1 += part.volatile_len();
            part.begin_snapshot(epoch, db, keeper.clone());
        }
    }
    let keys_total = counts.iter().map(|c| c.0 as u64).sum();
    let libraries = server
        .scripting
        .libraries
        .read()
        .values()
        .map(|l| l.code.clone())
        .collect();
    let now_ms = lodestone_util::clock::now_ms();
    state.running = Some(Running {
        purpose,
        started_ms: now_ms,
        keys_total,
    });
    if purpose == Purpose::Rdb {
        state.last_bgsave_try_s = now_ms / 1000;
        state.saves += 1;
    }
    drop(state);
    snapshots.cancel.store(false, Ordering::Relaxed);
    snapshots.keys_done.store(0, Ordering::Relaxed);
    snapshots.kept_bytes.store(0, Ordering::Relaxed);
    let job = Job {
        purpose,
        epoch,
        keeper,
        counts,
        libraries,
        temp,
        target,
        dirty_at_start: server.dirty.load(Ordering::Relaxed),
        done,
    };
    let spawned = std::thread::Builder::new()
        .name("lodestone-snapshot".into())
        .spawn(move || run(&me, job));
    if spawned.is_err() {
        // Undo: without its thread the snapshot would never end.
        for shard in locked.shards() {
            for part in shard.dbs.iter_mut() {
                part.end_snapshot();
            }
        }
        server.snapshots.state.lock().running = None;
        return Err(Refused::Busy(purpose));
    }
    if purpose == Purpose::Rdb {
        tracing::info!("Background saving started");
    }
    Ok(())
}

fn run(server: &Server, mut job: Job) {
    let result = write(server, &job);
    // Whatever happened, no db part may keep its snapshot hooks.
    for id in 0..SHARDS {
        let mut shard = server.keyspace.lock_shard(id);
        for part in shard.dbs.iter_mut() {
            part.end_snapshot();
        }
    }
    let result = result.and_then(|()| install(&job.temp, &job.target));
    if result.is_err() {
        let _ = std::fs::remove_file(&job.temp);
    }
    let now_ms = lodestone_util::clock::now_ms();
    let cancelled = server.snapshots.cancel.swap(false, Ordering::Relaxed);
    {
        let mut state = server.snapshots.state.lock();
        let started = state.running.map_or(now_ms, |r| r.started_ms);
        state.running = None;
        state.last_kept_peak = job.keeper.peak.load(Ordering::Relaxed);
        if job.purpose == Purpose::AofBase {
            state.last_aof_time_s = (now_ms - started) / 1000;
        }
        if job.purpose == Purpose::Rdb {
            state.last_bgsave_time_s = (now_ms - started) / 1000;
            match &result {
                Ok(()) => {
                    state.last_bgsave_ok = true;
                    server.last_save_ok.store(true, Ordering::Relaxed);
                    // Changes made while the snapshot ran are not in it.
                    let _ = server
                        .dirty
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| {
                            Some(d.saturating_sub(job.dirty_at_start))
                        });
                    server.lastsave_s.store(now_ms / 1000, Ordering::Relaxed);
                    tracing::info!("Background saving terminated with success");
                }
                // Abandoned on purpose (FLUSHALL, SHUTDOWN): not a failure, as Redis
                // treats a child it killed itself.
                Err(_) if cancelled => tracing::info!("Background saving cancelled"),
                Err(e) => {
                    state.last_bgsave_ok = false;
                    server.last_save_ok.store(false, Ordering::Relaxed);
                    tracing::warn!("Background saving error: {e}");
                }
            }
        }
    }
    server.snapshots.kept_bytes.store(0, Ordering::Relaxed);
    if let Some(done) = job.done.take() {
        done(server, result);
    }
}

fn cancelled() -> io::Error {
    io::Error::new(io::ErrorKind::Interrupted, "snapshot cancelled")
}

/// Writes the snapshot to the temp file.
fn write(server: &Server, job: &Job) -> io::Result<()> {
    let (rdb, compress) = (job.keeper.rdb, job.keeper.compress);
    let mut out = Out::create(&job.temp, rdb, compress, server, &job.counts, job.purpose)?;
    for code in &job.libraries {
        out.function(code)?;
    }
    let snapshots = &server.snapshots;
    let mut walked: Vec<Vec<u8>> = vec![Vec::new(); job.counts.len()];
    for id in 0..SHARDS {
        loop {
            if snapshots.cancel.load(Ordering::Relaxed) {
                return Err(cancelled());
            }
            // `rdb-key-save-delay` (a testing knob): one key per lock hold, then the
            // pause, taken with no lock held.
            let delay_us = server.config.get_i64("rdb-key-save-delay");
            let step = if delay_us == 0 { WALK_STEP } else { 1 };
            let mut visited = 0u64;
            let done = {
                let mut shard = server.keyspace.lock_shard(id);
                let mut budget = step;
                let mut all_done = true;
                for part in shard.dbs.iter_mut() {
                    let part_done = part.snapshot_step(budget, |db, key, entry| {
                        encode(rdb, compress, &mut walked[db], key, entry);
                        visited += 1;
                    });
                    all_done &= part_done;
                    budget = step.saturating_sub(visited as usize);
                    if budget == 0 {
                        all_done = false;
                        break;
                    }
                }
                all_done
            };
            snapshots.keys_done.fetch_add(visited, Ordering::Relaxed);
            out.write_per_db(&mut walked)?;
            drain_kept(job, &mut out, &snapshots.kept_bytes)?;
            if visited > 0 && delay_us != 0 {
                key_save_delay(server, delay_us)?;
            }
            if done {
                break;
            }
        }
    }
    // Every part is walked: nothing more can be kept, bar what FLUSHALL handed over.
    drain_kept(job, &mut out, &snapshots.kept_bytes)?;
    out.finish()
}

/// The pause `rdb-key-save-delay` asks for after each key saved, in microseconds
/// (negative: 1 µs once every that many keys, as Redis's `debugDelay`). Taken in
/// slices, so that cancelling the snapshot or setting the delay back to 0 ends it.
fn key_save_delay(server: &Server, delay_us: i64) -> io::Result<()> {
    let mut left = if delay_us > 0 {
        delay_us as u64
    } else {
        u64::from(rand::random::<u64>().is_multiple_of(delay_us.unsigned_abs()))
    };
    while left > 0 {
        if server.snapshots.cancel.load(Ordering::Relaxed) {
            return Err(cancelled());
        }
        if server.config.get_i64("rdb-key-save-delay") == 0 {
            break;
        }
        let slice = left.min(10_000);
        std::thread::sleep(std::time::Duration::from_micros(slice));
        left -= slice;
    }
    Ok(())
}

/// Writes a snapshot of the locked keyspace to `path` right away (SAVE, the AOF base
/// made at startup); `rdb` false writes commands. The caller holds every shard.
pub fn write_locked(
    server: &Server,
    locked: &mut Locked,
    path: &Path,
    purpose: Purpose,
    rdb: bool,
) -> io::Result<()> {
    let databases = server.keyspace.databases;
    let mut counts = vec![(0usize, 0usize); databases];
    for shard in locked.shards() {
        for (db, part) in shard.dbs.iter().enumerate() {
            counts[db].0 += part.len();
            counts[db].1 += part.volatile_len();
        }
    }
    let compress = server.config.get_bool("rdbcompression");
    let mut out = Out::create(path, rdb, compress, server, &counts, purpose)?;
    let libraries: Vec<Arc<[u8]>> = server
        .scripting
        .libraries
        .read()
        .values()
        .map(|l| l.code.clone())
        .collect();
    for code in &libraries {
        out.function(code)?;
    }
    let mut encoded = Vec::new();
    for db in 0..databases {
        for shard in locked.shards() {
            for (key, entry) in shard.dbs[db].iter() {
                encode(rdb, compress, &mut encoded, key, entry);
                if encoded.len() >= 1 << 16 {
                    out.write_db(db, &encoded)?;
                    encoded.clear();
                }
            }
        }
        out.write_db(db, &encoded)?;
        encoded.clear();
    }
    out.finish()
}

/// Writes what the keeper holds: encoded old values, and entries of flushed parts
/// that the walk had not reached.
fn drain_kept(job: &Job, out: &mut Out, kept_bytes: &AtomicU64) -> io::Result<()> {
    let (mut per_db, parts) = {
        let mut kept = job.keeper.kept.lock();
        (
            std::mem::take(&mut kept.per_db),
            std::mem::take(&mut kept.parts),
        )
    };
    let drained: u64 = per_db.iter().map(|b| b.len() as u64).sum();
    job.keeper.bytes.fetch_sub(drained, Ordering::Relaxed);
    kept_bytes.store(job.keeper.bytes.load(Ordering::Relaxed), Ordering::Relaxed);
    out.write_per_db(&mut per_db)?;
    for (db, epoch, keys) in parts {
        let mut encoded = Vec::new();
        for (key, entry) in keys.iter() {
            if entry.snap_epoch < epoch {
                encode(
                    job.keeper.rdb,
                    job.keeper.compress,
                    &mut encoded,
                    key,
                    entry,
                );
            }
            if encoded.len() >= 1 << 16 {
                out.write_db(db, &encoded)?;
                encoded.clear();
            }
        }
        out.write_db(db, &encoded)?;
        // The flushed values are freed here, on the snapshot thread.
        drop(keys);
    }
    debug_assert!(job.epoch > 0);
    Ok(())
}

/// The file being written, in either format, and which database section it is in.
struct Out<'c> {
    sink: Sink,
    counts: &'c [(usize, usize)],
    started: Vec<bool>,
    current: Option<usize>,
}

enum Sink {
    Rdb(FileWriter<BufWriter<File>>),
    Commands(BufWriter<File>),
}

impl<'c> Out<'c> {
    fn create(
        path: &Path,
        rdb: bool,
        compress: bool,
        server: &Server,
        counts: &'c [(usize, usize)],
        purpose: Purpose,
    ) -> io::Result<Out<'c>> {
        let file = BufWriter::with_capacity(1 << 16, File::create(path)?);
        let sink = if rdb {
            let mut w = FileWriter::new(file, server.config.get_bool("rdbchecksum"), compress);
            crate::persist::write_header(&mut w, purpose == Purpose::AofBase)?;
            Sink::Rdb(w)
        } else {
            Sink::Commands(file)
        };
        Ok(Out {
            sink,
            counts,
            started: vec![false; counts.len()],
            current: None,
        })
    }

    fn function(&mut self, code: &[u8]) -> io::Result<()> {
        match &mut self.sink {
            Sink::Rdb(w) => w.function(code),
            Sink::Commands(w) => {
                let mut encoded = Vec::new();
                lodestone_aof::rewrite::function_load_command(code, &mut encoded);
                w.write_all(&encoded)
            }
        }
    }

    fn write_db(&mut self, db: usize, encoded: &[u8]) -> io::Result<()> {
        if encoded.is_empty() {
            return Ok(());
        }
        if self.current != Some(db) {
            let first = self.started.get(db) == Some(&false);
            match &mut self.sink {
                Sink::Rdb(w) if first => {
                    let (keys, expires) = self.counts[db];
                    w.select_db(db, keys, expires)?;
                }
                Sink::Rdb(w) => w.select_db_again(db)?,
                Sink::Commands(w) => {
                    let mut select = Vec::new();
                    lodestone_aof::rewrite::select_command(db, &mut select);
                    w.write_all(&select)?;
                }
            }
            if first {
                self.started[db] = true;
            }
            self.current = Some(db);
        }
        match &mut self.sink {
            Sink::Rdb(w) => w.encoded_entries(encoded),
            Sink::Commands(w) => w.write_all(encoded),
        }
    }

    fn write_per_db(&mut self, per_db: &mut [Vec<u8>]) -> io::Result<()> {
        for (db, encoded) in per_db.iter_mut().enumerate() {
            self.write_db(db, encoded)?;
            encoded.clear();
        }
        Ok(())
    }

    /// Ends the file and fsyncs it.
    fn finish(self) -> io::Result<()> {
        let out = match self.sink {
            Sink::Rdb(w) => w.finish()?,
            Sink::Commands(mut w) => {
                w.flush()?;
                w
            }
        };
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    }
}

/// Renames the finished temp file over the target and makes the rename durable.
pub fn install(temp: &Path, target: &Path) -> io::Result<()> {
    std::fs::rename(temp, target)?;
    let dir = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}
