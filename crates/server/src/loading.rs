//! The dataset loading at startup (AOF or RDB): INFO's `loading` fields, and the
//! `-LOADING` error that commands not allowed meanwhile get. Listeners open before the
//! load starts; connections are taken once a file starts loading, so clients see the
//! server and learn it is busy, as with Redis (or once the start is done, when there
//! is nothing to load).

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Loading {
    active: AtomicBool,
    pub start_s: AtomicI64,
    pub total_bytes: AtomicU64,
    pub loaded_bytes: AtomicU64,
    /// Keys loaded, and keys skipped as already expired, by the last load
    /// (INFO `rdb_last_load_keys_loaded` / `_expired`).
    pub keys_loaded: AtomicU64,
    pub keys_expired: AtomicU64,
    /// Whether clients are served yet (see [`Loading::wait_serving`]).
    serving: AtomicBool,
    serving_now: tokio::sync::Notify,
}

/// The reply to commands refused while loading.
pub const LOADING_ERROR: &str = "LOADING Redis is loading the dataset in memory";

impl Loading {
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Marks a load of `total_bytes` as started.
    pub fn begin(&self, total_bytes: u64) {
        self.start_s
            .store(lodestone_util::clock::now_ms() / 1000, Ordering::Relaxed);
        self.total_bytes.store(total_bytes, Ordering::Relaxed);
        self.loaded_bytes.store(0, Ordering::Relaxed);
        self.keys_loaded.store(0, Ordering::Relaxed);
        self.keys_expired.store(0, Ordering::Relaxed);
        self.active.store(true, Ordering::Release);
        if total_bytes > 0 {
            self.serve_clients();
        }
    }

    pub fn progress(&self, loaded_bytes: u64) {
        self.loaded_bytes.store(loaded_bytes, Ordering::Relaxed);
    }

    pub fn end(&self) {
        self.active.store(false, Ordering::Release);
        self.serve_clients();
    }

    fn serve_clients(&self) {
        if !self.serving.swap(true, Ordering::AcqRel) {
            self.serving_now.notify_waiters();
        }
    }

    /// Waits until clients may be served: a file has started loading (they get
    /// -LOADING meanwhile) or loading is over.
    pub async fn wait_serving(&self) {
        loop {
            // Registered before the check: a notification in between is not lost.
            let notified = self.serving_now.notified();
            if self.serving.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}
