//! The effect stream: every change to the dataset, in the order it took effect, as
//! commands that replay it deterministically (SPOP as SREM, a served BLPOP as LPOP...).
//! AOF and replicas (later issues) read it; until then its only reader is the test
//! capture that `DEBUG EFFECTS` switches on.
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
}

impl EffectStream {
    /// Whether anyone reads the stream (commands collect effects only then).
    pub fn has_readers(&self) -> bool {
        self.readers.load(Ordering::Relaxed) > 0
    }

    /// Appends one command's effects, with SELECTs where the database changes.
    pub fn append(&self, effects: &[(usize, EffectArgs)]) {
        let mut inner = self.inner.lock();
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
