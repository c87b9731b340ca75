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
use std::io::{self, BufWriter};
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use lodestone_rdb::file::{self, FileWriter, LoadedKey};
use lodestone_store::{Entry, Key, NO_EXPIRE};

use crate::keyspace::Locked;
use crate::server::Server;

/// Where the RDB file lives (the process's working directory is `dir`).
pub fn rdb_path(server: &Server) -> PathBuf {
    PathBuf::from(server.config.get("dbfilename"))
}

/// Writes every database (and the function libraries) to the RDB file. The caller
/// holds every shard.
pub fn save(server: &Server, locked: &mut Locked) -> io::Result<()> {
    let target = rdb_path(server);
    let temp = PathBuf::from(format!("temp-{}.rdb", std::process::id()));
    let result = write_snapshot(server, locked, &temp).and_then(|()| {
        std::fs::rename(&temp, &target)?;
        // The rename itself must survive a crash: sync the directory entry.
        if let Ok(dir) = File::open(".") {
            let _ = dir.sync_all();
        }
        Ok(())
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
        server.last_save_ok.store(false, Ordering::Relaxed);
        return result;
    }
    server.dirty.store(0, Ordering::Relaxed);
    server
        .lastsave_s
        .store(lodestone_util::clock::now_ms() / 1000, Ordering::Relaxed);
    server.last_save_ok.store(true, Ordering::Relaxed);
    tracing::info!("DB saved on disk");
    Ok(())
}

fn write_snapshot(server: &Server, locked: &mut Locked, path: &PathBuf) -> io::Result<()> {
    let file = File::create(path)?;
    let checksum = server.config.get_bool("rdbchecksum");
    let mut w = FileWriter::new(BufWriter::with_capacity(1 << 16, file), checksum);
    let now_s = lodestone_util::clock::now_ms() / 1000;
    w.aux("redis-ver", crate::REDIS_VERSION.as_bytes())?;
    w.aux("redis-bits", b"64")?;
    w.aux("ctime", now_s.to_string().as_bytes())?;
    w.aux(
        "used-mem",
        crate::commands::info::used_memory().to_string().as_bytes(),
    )?;
    w.aux("aof-base", b"0")?;
    let libraries: Vec<std::sync::Arc<[u8]>> = server
        .scripting
        .libraries
        .read()
        .values()
        .map(|l| l.code.clone())
        .collect();
    for code in &libraries {
        w.function(code)?;
    }
    for db in 0..server.keyspace.databases {
        let (keys, expires) = locked.shards().fold((0, 0), |(k, e), shard| {
            (k + shard.dbs[db].len(), e + shard.dbs[db].volatile_len())
        });
        if keys == 0 {
            continue;
        }
        w.select_db(db, keys, expires)?;
        for shard in locked.shards() {
            for (key, entry) in shard.dbs[db].iter() {
                let expire = (entry.expire_ms != NO_EXPIRE).then_some(entry.expire_ms);
                w.entry(key, &entry.value, expire)?;
            }
        }
    }
    let out = w.finish()?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
}

/// Loads `data` (an RDB file) into the locked keyspace. Keys already expired are
/// skipped, as a master does; a key present twice is an error unless `merge`.
pub fn load_into(
    server: &Server,
    locked: &mut Locked,
    data: &[u8],
    merge: bool,
) -> Result<usize, String> {
    let limits = server.config.hot.encoding_limits();
    let now = lodestone_util::clock::now_ms();
    let databases = server.keyspace.databases;
    let mut count = 0usize;
    let loaded = file::load(
        data,
        &limits,
        |LoadedKey {
             db,
             key,
             value,
             expire_ms,
             idle_s,
         }| {
            if db >= databases {
                return Err(lodestone_rdb::Corrupt(
                    "the file has more databases than this server is configured for",
                ));
            }
            if expire_ms.is_some_and(|ms| ms <= now) {
                return Ok(());
            }
            let mut entry = Entry::new(value);
            entry.expire_ms = expire_ms.unwrap_or(NO_EXPIRE);
            let now_s = (now / 1000) as u64;
            entry.access_s = now_s.saturating_sub(idle_s.unwrap_or(0)) as u32;
            let key = Key::from_slice(&key);
            let existed = locked.db_for(&key, db).insert(&key, entry).is_some();
            if existed && !merge {
                return Err(lodestone_rdb::Corrupt("duplicate key in RDB file"));
            }
            count += 1;
            Ok(())
        },
    )
    .map_err(|e| e.0.to_string())?;
    // Existing libraries are replaced only when merging (DEBUG RELOAD MERGE).
    for code in &loaded.functions {
        crate::commands::function::load_library(server, code, merge)
            .map_err(|e| format!("function library: {}", e.message()))?;
    }
    Ok(count)
}

/// Loads the RDB file at startup, if there is one. A damaged file stops the start:
/// no silent data loss.
pub fn load_at_startup(server: &Server) -> Result<(), String> {
    let path = rdb_path(server);
    let data = match std::fs::read(&path) {
        Ok(data) => data,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("reading {}: {e}", path.display())),
    };
    let started = std::time::Instant::now();
    let mut locked = server
        .keyspace
        .lock_all(false)
        .map_err(|_| "the keyspace is busy".to_string())?;
    let keys = load_into(server, &mut locked, &data, false).map_err(|e| {
        format!("Short read or OOM loading DB. Unrecoverable error, aborting now ({e})")
    })?;
    tracing::info!(
        "DB loaded from disk: {:.3} seconds ({keys} keys)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Whether `save` points are configured (Redis saves at shutdown then).
pub fn has_save_points(server: &Server) -> bool {
    !server.config.get("save").trim().is_empty()
}
