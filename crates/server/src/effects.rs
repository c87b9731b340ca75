//! The effect stream: every change to the dataset, in the order it took effect, as
//! commands that replay it deterministically (SPOP as SREM, a served BLPOP as LPOP...).
//! Its readers: the AOF (`crate::aof`), which takes the RESP-encoded bytes buffered
//! here, and the test capture that `DEBUG EFFECTS` switches on. Replicas will be next.
//!
//! Commands append while they still hold their shard locks, so two commands that
//! conflict enter the stream in the order they ran (docs/ARCHITECTURE.md). When nobody
//! reads the stream, commands skip collecting effects altogether.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

use crate::ctx::EffectArgs;

/// Captured effects kept at most (the capture is a test aid, not a log).
const CAPTURE_LIMIT: usize = 100_000;

#[derive(Debug, Default)]
pub struct EffectStream {
    readers: AtomicUsize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The database the last effect ran in: a SELECT goes first when it changes.
    db: Option<usize>,
    capture: Option<VecDeque<Vec<Vec<u8>>>>,
    /// Bytes for the AOF, while it is on.
    aof: Option<AofBuffer>,
    /// Bytes ever appended for the AOF: the offset durability waits are measured in.
    aof_appended: u64,
}

/// Effects encoded for the AOF and not yet written to its file.
#[derive(Debug, Default)]
struct AofBuffer {
    bytes: Vec<u8>,
    /// The database of the last effect written for the AOF (None: a SELECT must go
    /// first, as at the start of each incr file).
    db: Option<usize>,
}

impl EffectStream {
    /// Whether anyone reads the stream (commands collect effects only then).
    pub fn has_readers(&self) -> bool {
        self.readers.load(Ordering::Relaxed) > 0
    }

    /// Appends one command's effects, with SELECTs where the database changes.
    /// Returns the AOF offset that covers them (0 when the AOF is off).
    pub fn append(&self, effects: &[(usize, EffectArgs)]) -> u64 {
        let mut inner = self.inner.lock();
        if let Some(aof) = &mut inner.aof {
            let before = aof.bytes.len();
            for (db, args) in effects {
                if aof.db != Some(*db) {
                    aof.db = Some(*db);
                    let db = db.to_string();
                    lodestone_aof::encode::encode_command(
                        &mut aof.bytes,
                        &[&b"SELECT"[..], db.as_bytes()],
                    );
                }
                match args {
                    EffectArgs::Sent(cmd) => {
                        let args: Vec<&[u8]> = cmd.args().collect();
                        lodestone_aof::encode::encode_command(&mut aof.bytes, &args);
                    }
                    EffectArgs::Built(args) => {
                        lodestone_aof::encode::encode_command(&mut aof.bytes, args)
                    }
                }
            }
            let added = (aof.bytes.len() - before) as u64;
            inner.aof_appended += added;
        }
        if inner.capture.is_some() {
            for (db, args) in effects {
                if inner.db != Some(*db) {
                    inner.db = Some(*db);
                    inner.record(vec![b"SELECT".to_vec(), db.to_string().into_bytes()]);
                }
                let args = match args {
                    EffectArgs::Sent(cmd) => cmd.args().map(<[u8]>::to_vec).collect(),
                    EffectArgs::Built(args) => args.clone(),
                };
                inner.record(args);
            }
        }
        if inner.aof.is_some() {
            inner.aof_appended
        } else {
            0
        }
    }

    /// Starts buffering effects for the AOF; the next one is preceded by a SELECT.
    pub fn aof_start(&self) {
        let mut inner = self.inner.lock();
        if inner.aof.is_none() {
            self.readers.fetch_add(1, Ordering::Relaxed);
        }
        inner.aof = Some(AofBuffer::default());
    }

    /// Stops buffering for the AOF; returns what was still buffered, with its end
    /// offset.
    pub fn aof_stop(&self) -> (Vec<u8>, u64) {
        let mut inner = self.inner.lock();
        let end = inner.aof_appended;
        match inner.aof.take() {
            Some(buffer) => {
                self.readers.fetch_sub(1, Ordering::Relaxed);
                (buffer.bytes, end)
            }
            None => (Vec::new(), end),
        }
    }

    /// Takes the buffered AOF bytes and the offset they end at.
    pub fn aof_take(&self, into: &mut Vec<u8>) -> u64 {
        let mut inner = self.inner.lock();
        if let Some(aof) = &mut inner.aof {
            std::mem::swap(into, &mut aof.bytes);
        }
        inner.aof_appended
    }

    /// Bytes ever buffered for the AOF.
    pub fn aof_appended(&self) -> u64 {
        self.inner.lock().aof_appended
    }

    /// Bytes buffered and not yet taken (INFO `aof_buffer_length`).
    pub fn aof_buffered(&self) -> usize {
        self.inner.lock().aof.as_ref().map_or(0, |a| a.bytes.len())
    }

    /// Makes the next AOF effect start with a SELECT (a new incr file begins).
    pub fn aof_reselect(&self) {
        if let Some(aof) = &mut self.inner.lock().aof {
            aof.db = None;
        }
    }

    /// Starts capturing effects (`DEBUG EFFECTS START`), dropping any earlier capture.
    pub fn start_capture(&self) {
        let mut inner = self.inner.lock();
        if inner.capture.is_none() {
            self.readers.fetch_add(1, Ordering::Relaxed);
        }
        inner.capture = Some(VecDeque::new());
        inner.db = None;
    }

    /// Stops capturing; returns what was captured.
    pub fn stop_capture(&self) -> Vec<Vec<Vec<u8>>> {
        let mut inner = self.inner.lock();
        match inner.capture.take() {
            Some(captured) => {
                self.readers.fetch_sub(1, Ordering::Relaxed);
                captured.into()
            }
            None => Vec::new(),
        }
    }

    /// The effects captured so far.
    pub fn captured(&self) -> Vec<Vec<Vec<u8>>> {
        let inner = self.inner.lock();
        inner
            .capture
            .as_ref()
            .map(|c| c.iter().cloned().collect())
            .unwrap_or_default()
    }
}

impl Inner {
    fn record(&mut self, args: Vec<Vec<u8>>) {
        if let Some(capture) = &mut self.capture {
            if capture.len() == CAPTURE_LIMIT {
                capture.pop_front();
            }
            capture.push_back(args);
        }
    }
}
