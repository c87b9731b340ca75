//! RDB snapshots on disk: SAVE, loading at startup, DEBUG RELOAD and the save at
//! shutdown. The format is `lodestone_rdb::file` (Redis 7.0's), so files move between
//! Lodestone and redis-server both ways.
//!
//! A snapshot is written while the caller holds every shard lock (SAVE is flagged to
//! lock all shards), streamed to `temp-<pid>.rdb` in chunks, fsynced, and renamed over
//! `dbfilename`, then the directory is fsynced: a crash mid-save leaves the previous
//! file whole. BGSAVE (a snapshot while writes continue, without fork) is not built
//! yet; see docs/COMPATIBILITY.md.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use lodestone_rdb::file::{self, FileWriter, LoadedKey};
use lodestone_store::{Entry, Key, NO_EXPIRE};

use crate::keyspace::Locked;
use crate::server::Server;
use crate::snapshot::{Purpose, Refused};

/// Where the RDB file lives (the process's working directory is `dir`).
pub fn rdb_path(server: &Server) -> PathBuf {
    PathBuf::from(server.config.get("dbfilename"))
}

/// Writes every database (and the function libraries) to the RDB file. The caller
/// holds every shard.
pub fn save(server: &Server, locked: &mut Locked) -> io::Result<()> {
    let target = rdb_path(server);
    let temp = PathBuf::from(format!("temp-{}.rdb", std::process::id()));
    let result =
        crate::snapshot::write_locked(server, locked, &temp, Purpose::Rdb, true).and_then(|()| {
            std::fs::rename(&temp, &target)?;
            // The rename itself must survive a crash: sync the directory entry.
            if let Ok(dir) = File::open(".") {
                let _ = dir.sync_all();
            }
            Ok(())
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
        return result;
    }
    server.dirty.store(0, Ordering::Relaxed);
    server
        .lastsave_s
        .store(lodestone_util::clock::now_ms() / 1000, Ordering::Relaxed);
    server.last_save_ok.store(true, Ordering::Relaxed);
    server.snapshots.state.lock().last_bgsave_ok = true;
    tracing::info!("DB saved on disk");
    Ok(())
}

/// The auxiliary fields Redis writes at the top of a file; `aof_base` marks the base
/// file of an AOF (its RDB preamble).
pub fn write_header<W: std::io::Write>(w: &mut FileWriter<W>, aof_base: bool) -> io::Result<()> {
    let now_s = lodestone_util::clock::now_ms() / 1000;
    w.aux("redis-ver", crate::REDIS_VERSION.as_bytes())?;
    w.aux("redis-bits", b"64")?;
    w.aux("ctime", now_s.to_string().as_bytes())?;
    w.aux(
        "used-mem",
        crate::commands::info::used_memory().to_string().as_bytes(),
    )?;
    w.aux("aof-base", if aof_base { b"1" } else { b"0" })
}

/// Keys read from a file, inserted together.
type Batch = Vec<(usize, Key, Entry)>;

/// Keys inserted per lock hold while loading at startup: INFO and friends stay
/// responsive between batches.
const LOAD_BATCH: usize = 1024;

/// Reads `data` (an RDB file) and hands its live keys to `insert` in batches; already
/// expired keys are skipped (and counted), as a master does. Returns the number of
/// keys and where the file ended (an old-style AOF continues with commands after it).
fn read_rdb(
    server: &Server,
    data: &[u8],
    replace_functions: bool,
    mut insert: impl FnMut(Batch, usize) -> Result<(), &'static str>,
) -> Result<(usize, usize), String> {
    let limits = server.config.hot.encoding_limits();
    let now = lodestone_util::clock::now_ms();
    let databases = server.keyspace.databases;
    let mut count = 0usize;
    let mut batch: Batch = Vec::with_capacity(LOAD_BATCH);
    let delay_us = server.config.get_i64("key-load-delay");
    let loaded = file::load(data, &limits, |loaded: LoadedKey| {
        if loaded.db >= databases {
            return Err(lodestone_rdb::Corrupt(
                "the file has more databases than this server is configured for",
            ));
        }
        if delay_us != 0 {
            debug_delay(delay_us);
        }
        if loaded.expire_ms.is_some_and(|ms| ms <= now) {
            server.loading.keys_expired.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let mut entry = Entry::new(loaded.value);
        entry.expire_ms = loaded.expire_ms.unwrap_or(NO_EXPIRE);
        let now_s = (now / 1000) as u64;
        entry.access_s = now_s.saturating_sub(loaded.idle_s.unwrap_or(0)) as u32;
        batch.push((loaded.db, Key::from_slice(&loaded.key), entry));
        count += 1;
        if batch.len() == LOAD_BATCH {
            insert(std::mem::take(&mut batch), loaded.offset).map_err(lodestone_rdb::Corrupt)?;
        }
        Ok(())
    })
    .map_err(|e| e.0.to_string())?;
    insert(batch, loaded.end).map_err(str::to_string)?;
    // Existing libraries are replaced only when merging (DEBUG RELOAD MERGE).
    for code in &loaded.functions {
        crate::commands::function::load_library(server, code, replace_functions)
            .map_err(|e| format!("function library: {}", e.message()))?;
    }
    Ok((count, loaded.end))
}

/// The pause a testing knob (`key-load-delay`) asks for after each key: microseconds,
/// or when negative 1 µs once every that many keys on average, as Redis's `debugDelay`.
pub(crate) fn debug_delay(delay_us: i64) {
    let us = if delay_us > 0 {
        delay_us as u64
    } else {
        u64::from(rand::random::<u64>().is_multiple_of(delay_us.unsigned_abs()))
    };
    if us > 0 {
        std::thread::sleep(std::time::Duration::from_micros(us));
    }
}

fn insert_batch(locked: &mut Locked, batch: Batch, merge: bool) -> Result<(), &'static str> {
    for (db, key, entry) in batch {
        if locked.db_for(&key, db).insert(&key, entry).is_some() && !merge {
            return Err("duplicate key in RDB file");
        }
    }
    Ok(())
}

/// Loads `data` (an RDB file) into the locked keyspace (DEBUG RELOAD). A key present
/// twice is an error unless `merge`, which also replaces existing function libraries.
pub fn load_into(
    server: &Server,
    locked: &mut Locked,
    data: &[u8],
    merge: bool,
) -> Result<usize, String> {
    read_rdb(server, data, merge, |batch, _| {
        insert_batch(locked, batch, merge)
    })
    .map(|(n, _)| n)
}

/// Loads an RDB file's contents at startup, a batch of keys per lock hold, with
/// loading progress for INFO (`offset` is where `data` starts in what is loaded).
/// Returns where the RDB part ended.
pub fn load_at_start(server: &Server, data: &[u8], offset: u64) -> Result<usize, String> {
    let (_, end) = read_rdb(server, data, false, |batch, at| {
        server
            .loading
            .keys_loaded
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        server.loading.progress(offset + at as u64);
        let mut locked = server
            .keyspace
            .lock_all(false)
            .map_err(|_| "the keyspace is busy")?;
        insert_batch(&mut locked, batch, false)
    })?;
    Ok(end)
}

/// Loads the RDB file at startup, if there is one. A damaged file stops the start:
/// no silent data loss.
pub fn load_rdb_file_at_start(server: &Server) -> Result<(), String> {
    let path = rdb_path(server);
    let data = match std::fs::read(&path) {
        Ok(data) => data,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("Fatal error loading the DB: {e}. Exiting.")),
    };
    let started = std::time::Instant::now();
    server.loading.begin(data.len() as u64);
    // Redis's wording for a file cut short, and for one that is damaged.
    load_at_start(server, &data, 0).map_err(|e| {
        if e == lodestone_rdb::codec::SHORT_READ {
            "Short read or OOM loading DB. Unrecoverable error, aborting now.".to_string()
        } else {
            format!(
                "Internal error in RDB reading {} -> {e}. Terminating server after rdb file reading failure.",
                path.display()
            )
        }
    })?;
    tracing::info!(
        "DB loaded from disk: {:.3} seconds ({} keys)",
        started.elapsed().as_secs_f64(),
        server.loading.keys_loaded.load(Ordering::Relaxed)
    );
    Ok(())
}

/// Starts a background save of the RDB file. The caller holds every shard.
pub fn start_bgsave(server: &Server, locked: &mut Locked) -> Result<(), Refused> {
    let temp = PathBuf::from(format!("temp-bg-{}.rdb", std::process::id()));
    crate::snapshot::start(server, locked, Purpose::Rdb, temp, rdb_path(server), None)
}

/// Why writes are refused after a failed background save
/// (`stop-writes-on-bgsave-error`), if they are.
pub fn writes_refused(server: &Server) -> Option<String> {
    if server.aof.write_failed() {
        return Some("MISCONF Errors writing to the AOF file: see the server log".into());
    }
    if server.last_save_ok.load(Ordering::Relaxed) {
        return None;
    }
    (server.config.get_bool("stop-writes-on-bgsave-error") && has_save_points(server)).then(|| {
        "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.".to_string()
    })
}

/// The save points of `save` as (seconds, changes).
pub fn save_points(server: &Server) -> Vec<(i64, u64)> {
    let text = server.config.get("save");
    let numbers: Vec<i64> = text
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    numbers
        .chunks_exact(2)
        .map(|p| (p[0], p[1].max(0) as u64))
        .collect()
}

/// Seconds a failed background save waits before a save point tries again (Redis's
/// `CONFIG_BGSAVE_RETRY_DELAY`).
const BGSAVE_RETRY_DELAY_S: i64 = 5;

/// One tick of the persistence cron (every 100 ms): a save point reached or a
/// scheduled BGSAVE starts a background save.
pub fn cron_tick(server: &Server) {
    if server.loading.active() {
        return;
    }
    if crate::aof::rewrite_due(server) && server.snapshots.running().is_none() {
        if let Ok(mut locked) = server.keyspace.lock_all(false) {
            if let Err(e) = crate::aof::start_rewrite(server, &mut locked) {
                tracing::debug!("AOF rewrite not started: {e:?}");
            }
        }
        return;
    }
    let now_s = lodestone_util::clock::now_ms() / 1000;
    let (due, retry_ok) = {
        let state = server.snapshots.state.lock();
        if state.running.is_some() {
            return;
        }
        (
            state.bgsave_scheduled,
            state.last_bgsave_ok || now_s - state.last_bgsave_try_s > BGSAVE_RETRY_DELAY_S,
        )
    };
    if !retry_ok {
        return;
    }
    let dirty = server.dirty.load(Ordering::Relaxed);
    let since = now_s - server.lastsave_s.load(Ordering::Relaxed);
    let point = save_points(server)
        .into_iter()
        .find(|&(seconds, changes)| dirty >= changes && since > seconds);
    if !due && point.is_none() {
        return;
    }
    if let Some((seconds, changes)) = point {
        tracing::info!("{changes} changes in {seconds} seconds. Saving...");
    }
    let Ok(mut locked) = server.keyspace.lock_all(false) else {
        return;
    };
    if start_bgsave(server, &mut locked).is_ok() {
        server.snapshots.state.lock().bgsave_scheduled = false;
    }
}

/// Whether `save` points are configured (Redis saves at shutdown then).
pub fn has_save_points(server: &Server) -> bool {
    !server.config.get("save").trim().is_empty()
}
