//! WATCH: which clients watch which keys, so that any change to a watched key (a write
//! from any client, an expiry, FLUSHDB/FLUSHALL/SWAPDB) makes the watcher's next EXEC
//! fail.
//!
//! A writer marks watchers while it still holds the key's shard lock (from
//! [`crate::ctx::KeyAccess`], after its handler), and EXEC checks the mark under the
//! same locks, so a change is never missed between the check and the transaction.
//! Commands pay one atomic load when nobody watches anything.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use lodestone_store::Key;

use crate::client::ClientShared;

/// One client watching one key.
#[derive(Debug)]
struct Watcher {
    client: Arc<ClientShared>,
    /// The key was already expired (but not yet deleted) when watched: its deletion is
    /// no logical change, and its expiry does not fail EXEC.
    expired: bool,
}

#[derive(Debug, Default)]
pub struct WatchedKeys {
    map: Mutex<HashMap<(usize, Key), Vec<Watcher>>>,
    /// Watched (db, key) pairs, for the fast "nobody watches" check.
    count: AtomicUsize,
}

impl WatchedKeys {
    /// Whether any key is watched.
    pub fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// Adds `client` as a watcher of `key` in `db`; false if it already was one.
    pub fn watch(&self, db: usize, key: &[u8], client: &Arc<ClientShared>, expired: bool) -> bool {
        let mut map = self.map.lock();
        let watchers = map.entry((db, Key::from_slice(key))).or_default();
        if watchers.iter().any(|w| w.client.id == client.id) {
            return false;
        }
        if watchers.is_empty() {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
        watchers.push(Watcher {
            client: client.clone(),
            expired,
        });
        true
    }

    /// Whether `client` watched `key` while it was already expired.
    pub fn watched_expired(&self, client_id: u64, db: usize, key: &[u8]) -> bool {
        let map = self.map.lock();
        map.get(&(db, Key::from_slice(key)))
            .and_then(|ws| ws.iter().find(|w| w.client.id == client_id))
            .is_some_and(|w| w.expired)
    }

    /// Removes `client` from the watchers of each of `keys`.
    pub fn unwatch(&self, client_id: u64, keys: &[(usize, Key)]) {
        let mut map = self.map.lock();
        for slot in keys {
            if let Some(watchers) = map.get_mut(slot) {
                watchers.retain(|w| w.client.id != client_id);
                if watchers.is_empty() {
                    map.remove(slot);
                    self.count.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Marks every watcher of these keys: their next EXEC fails. `exists` tells whether
    /// a key exists after the change: deleting a key that was already expired when
    /// watched is no logical change (it only clears that watcher's expired mark).
    pub fn touch(&self, keys: &[(usize, Key)], exists: impl Fn(usize, &[u8]) -> bool) {
        let mut map = self.map.lock();
        for slot in keys {
            let Some(watchers) = map.get_mut(slot) else {
                continue;
            };
            for watcher in watchers.iter_mut() {
                if watcher.expired && !exists(slot.0, &slot.1) {
                    watcher.expired = false;
                    continue;
                }
                watcher.client.dirty_cas.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Marks the watchers of `key` in database `emptied`, which FLUSHDB/FLUSHALL empty
    /// (`replaced` None) or SWAPDB replaces (`replaced`: whether the key exists in the
    /// database coming in, and whether it is expired there). As Redis, a change that is
    /// no logical change (a stale key deleted or replaced by another stale key, a
    /// missing key replaced by a stale one) leaves the watcher alone.
    pub fn touch_replaced(
        &self,
        emptied: usize,
        key: &Key,
        exists_here: bool,
        replaced: Option<(bool, bool)>,
    ) {
        let mut map = self.map.lock();
        let Some(watchers) = map.get_mut(&(emptied, key.clone())) else {
            return;
        };
        let (there, there_expired) = replaced.unwrap_or((false, false));
        if !exists_here && !there {
            return;
        }
        for watcher in watchers.iter_mut() {
            if watcher.expired {
                if !there {
                    watcher.expired = false;
                    continue;
                }
                if there_expired {
                    continue;
                }
            } else if !exists_here && there_expired {
                // A missing key replaced by a stale one: no change, but it now counts
                // as watched while expired.
                watcher.expired = true;
                continue;
            }
            watcher.client.dirty_cas.store(true, Ordering::Relaxed);
        }
    }

    /// The watched keys of database `db` (FLUSHDB, FLUSHALL and SWAPDB check which of
    /// them exist).
    pub fn keys_in(&self, db: usize) -> Vec<Key> {
        let map = self.map.lock();
        map.keys()
            .filter(|(d, _)| *d == db)
            .map(|(_, k)| k.clone())
            .collect()
    }
}
