//! A database (one of the 16 SELECT numbers) as held by one shard, and the shard itself.
//!
//! Keys live in an insertion-ordered hash map so that a random key (RANDOMKEY, active
//! expiry, eviction sampling) is one index away. Keys with a TTL are also listed in
//! `expires`, so active expiry samples only keys that can expire, as Redis does.
//!
//! SCAN positions are entry indices visited from the top down (see [`Db::scan`]): a key
//! present for the whole scan is returned whatever is inserted or deleted meanwhile (the
//! guarantee Redis gives), and a step costs O(COUNT).

use std::sync::Arc;

use indexmap::{IndexMap, IndexSet};
use rand::Rng;

use crate::{Key, KeyHasher, Value};

/// `expire_ms` of a key without TTL.
pub const NO_EXPIRE: i64 = -1;

/// A key's value and its metadata.
#[derive(Clone, Debug)]
pub struct Entry {
    pub value: Value,
    /// Absolute expiry in Unix milliseconds, or [`NO_EXPIRE`].
    pub expire_ms: i64,
    /// Last access, in seconds of the server's LRU clock (OBJECT IDLETIME).
    pub access_s: u32,
    /// The last snapshot epoch that has this entry (see [`DbSnapshot`]); sits in what
    /// would otherwise be padding.
    pub snap_epoch: u32,
}

impl Entry {
    pub fn new(value: Value) -> Entry {
        Entry {
            value,
            expire_ms: NO_EXPIRE,
            access_s: 0,
            snap_epoch: 0,
        }
    }

    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expire_ms != NO_EXPIRE && self.expire_ms <= now_ms
    }
}

/// Bits of a SCAN cursor that hold the position within a shard (the bits above name the
/// shard).
pub const SCAN_HASH_BITS: u32 = 48;

/// The keys of one db part.
pub type KeyMap = IndexMap<Key, Entry, KeyHasher>;

/// Where a snapshot in progress puts the entries writers are about to change.
pub trait SnapshotKeeper: Send + Sync + std::fmt::Debug {
    /// `entry` of `key` (database `db` as numbered when the snapshot began) is about to
    /// change or go: record it as it is now.
    fn keep(&self, db: usize, key: &[u8], entry: &Entry);
    /// A whole db part left the keyspace (FLUSHALL): its entries older than `epoch`
    /// belong to the snapshot.
    fn keep_all(&self, db: usize, epoch: u32, keys: KeyMap);
}

/// A point-in-time snapshot in progress over one db part (BGSAVE without fork).
///
/// Every entry that existed when it began is written exactly once, as it was then:
/// a walker visits entries from the top index down, stamping each with `epoch`, and
/// any change to an entry not yet stamped first hands its old state to the keeper
/// (then stamps it). New entries are stamped as they come, so the walk skips them.
/// Why top-down is enough: the map moves an entry only by `swap_remove`, which moves
/// the last entry into the freed slot, and the walk skips stamped entries wherever
/// they land; an unstamped last entry moved below the cursor is still ahead of it.
#[derive(Debug)]
pub struct DbSnapshot {
    pub epoch: u32,
    /// This part's database number when the snapshot began (SWAPDB moves parts).
    pub db: usize,
    /// Entries at indices from here up have been visited.
    cursor: usize,
    keeper: Arc<dyn SnapshotKeeper>,
}

/// One database's part of one shard.
#[derive(Debug)]
pub struct Db {
    map: KeyMap,
    expires: IndexSet<Key, KeyHasher>,
    snapshot: Option<Box<DbSnapshot>>,
}

impl Db {
    pub fn new(hasher: &KeyHasher) -> Db {
        Db {
            map: IndexMap::with_hasher(hasher.clone()),
            expires: IndexSet::with_hasher(hasher.clone()),
            snapshot: None,
        }
    }

    /// Starts a snapshot of this part as database `db`.
    pub fn begin_snapshot(&mut self, epoch: u32, db: usize, keeper: Arc<dyn SnapshotKeeper>) {
        self.snapshot = Some(Box::new(DbSnapshot {
            epoch,
            db,
            cursor: self.map.len(),
            keeper,
        }));
    }

    /// Visits up to `budget` entries the running snapshot has not got yet, stamping
    /// them. Returns the snapshot's database number and whether the walk is done (true
    /// also when no snapshot runs).
    pub fn snapshot_step(
        &mut self,
        budget: usize,
        mut visit: impl FnMut(usize, &Key, &Entry),
    ) -> bool {
        let Some(snap) = self.snapshot.as_deref_mut() else {
            return true;
        };
        let mut visited = 0;
        while snap.cursor > 0 && visited < budget {
            snap.cursor -= 1;
            if let Some((key, entry)) = self.map.get_index_mut(snap.cursor) {
                if entry.snap_epoch < snap.epoch {
                    entry.snap_epoch = snap.epoch;
                    visit(snap.db, key, entry);
                    visited += 1;
                }
            }
        }
        snap.cursor == 0
    }

    /// Ends the snapshot of this part.
    pub fn end_snapshot(&mut self) {
        self.snapshot = None;
    }

    /// Before entry `index` changes: if a snapshot still needs its current state, hand
    /// that to the keeper.
    #[inline]
    fn keep_for_snapshot(&mut self, index: usize) {
        if let Some(snap) = self.snapshot.as_deref() {
            if let Some((key, entry)) = self.map.get_index_mut(index) {
                if entry.snap_epoch < snap.epoch {
                    snap.keeper.keep(snap.db, key, entry);
                    entry.snap_epoch = snap.epoch;
                }
            }
        }
    }

    /// Stamps a new entry so a running snapshot skips it.
    #[inline]
    fn stamp_new(&self, entry: &mut Entry) {
        if let Some(snap) = self.snapshot.as_deref() {
            entry.snap_epoch = snap.epoch;
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Number of keys with a TTL (INFO keyspace `expires`).
    pub fn volatile_len(&self) -> usize {
        self.expires.len()
    }

    /// The entry, expired or not: expiry is the caller's decision (it must propagate it).
    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.map.get(key)
    }

    /// The entry, for changing it.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let index = self.map.get_index_of(key)?;
        self.entry_at_mut(index)
    }

    /// Where `key` sits in the map, for a lookup that hashes the key only once.
    pub fn index_of(&self, key: &[u8]) -> Option<usize> {
        self.map.get_index_of(key)
    }

    /// The entry at a position from [`Db::index_of`].
    pub fn entry_at(&self, index: usize) -> Option<&Entry> {
        self.map.get_index(index).map(|(_, e)| e)
    }

    /// The entry at a position from [`Db::index_of`], for changing it.
    pub fn entry_at_mut(&mut self, index: usize) -> Option<&mut Entry> {
        self.keep_for_snapshot(index);
        self.map.get_index_mut(index).map(|(_, e)| e)
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.map.contains_key(key)
    }

    /// Inserts or replaces `key`, with the entry's own expiry. Returns the old entry.
    pub fn insert(&mut self, key: &[u8], mut entry: Entry) -> Option<Entry> {
        let volatile = entry.expire_ms != NO_EXPIRE;
        self.stamp_new(&mut entry);
        let old = match self.map.get_index_of(key) {
            Some(index) => {
                self.keep_for_snapshot(index);
                self.map
                    .get_index_mut(index)
                    .map(|(_, slot)| std::mem::replace(slot, entry))
            }
            None => {
                self.map.insert(key.into(), entry);
                None
            }
        };
        let was_volatile = old.as_ref().is_some_and(|e| e.expire_ms != NO_EXPIRE);
        if volatile && !was_volatile {
            self.expires.insert(key.into());
        } else if !volatile && was_volatile {
            self.expires.swap_remove(key);
        }
        old
    }

    /// Removes `key`, returning its entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let index = self.map.get_index_of(key)?;
        self.keep_for_snapshot(index);
        let (_, old) = self.map.swap_remove_index(index)?;
        if old.expire_ms != NO_EXPIRE {
            self.expires.swap_remove(key);
        }
        Some(old)
    }

    /// Sets or clears (`NO_EXPIRE`) the expiry of an existing key. Returns false when the
    /// key does not exist.
    pub fn set_expire(&mut self, key: &[u8], expire_ms: i64) -> bool {
        let Some(entry) = self.get_mut(key) else {
            return false;
        };
        let was = entry.expire_ms;
        entry.expire_ms = expire_ms;
        if was == NO_EXPIRE && expire_ms != NO_EXPIRE {
            self.expires.insert(key.into());
        } else if was != NO_EXPIRE && expire_ms == NO_EXPIRE {
            self.expires.swap_remove(key);
        }
        true
    }

    /// Removes every key, returning the old contents so they can be freed elsewhere.
    /// A running snapshot gets the entries it still needs (and the caller an empty map).
    pub fn take_all(&mut self) -> KeyMap {
        self.expires.clear();
        let hasher = self.map.hasher().clone();
        let keys = std::mem::replace(&mut self.map, IndexMap::with_hasher(hasher.clone()));
        match self.snapshot.as_deref_mut() {
            Some(snap) if !keys.is_empty() => {
                snap.cursor = 0;
                snap.keeper.keep_all(snap.db, snap.epoch, keys);
                IndexMap::with_hasher(hasher)
            }
            _ => keys,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Entry)> {
        self.map.iter()
    }

    /// A uniformly random key of this db part.
    pub fn random_key<R: Rng>(&self, rng: &mut R) -> Option<&Key> {
        if self.map.is_empty() {
            return None;
        }
        self.map
            .get_index(rng.gen_range(0..self.map.len()))
            .map(|(k, _)| k)
    }

    /// Up to `count` random keys that have a TTL (with repeats), for active expiry.
    pub fn sample_volatile<R: Rng>(&self, rng: &mut R, count: usize) -> Vec<Key> {
        if self.expires.is_empty() {
            return Vec::new();
        }
        (0..count.min(self.expires.len()))
            .filter_map(|_| {
                self.expires
                    .get_index(rng.gen_range(0..self.expires.len()))
                    .cloned()
            })
            .collect()
    }

    /// One SCAN step over this db part: up to `count` keys, visiting entry indices from
    /// the top down. `from` is 0 to start, else what the previous step returned. Returns
    /// the keys and the next position, or `None` when this db part is done.
    ///
    /// Why top-down: the map only ever moves an entry by `swap_remove`, which moves the
    /// *last* entry into the freed slot. Entries not yet visited sit below the position;
    /// the last entry is either already visited (then it may be returned twice, which
    /// SCAN allows) or below the position too (then it stays unvisited). Inserts append
    /// above. So a key present for the whole scan is always returned, and a step costs
    /// O(count), not O(keys).
    pub fn scan(&self, from: u64, count: usize) -> (Vec<Key>, Option<u64>) {
        let len = self.map.len();
        let unvisited = if from == 0 {
            len
        } else {
            ((from - 1) as usize).min(len)
        };
        let take = count.max(1).min(unvisited);
        let low = unvisited - take;
        let keys = (low..unvisited)
            .rev()
            .filter_map(|i| self.map.get_index(i).map(|(k, _)| k.clone()))
            .collect();
        if low == 0 {
            return (keys, None);
        }
        (keys, Some(low as u64 + 1))
    }
}

/// One lock's worth of keyspace: its part of every database.
#[derive(Debug)]
pub struct Shard {
    pub dbs: Vec<Db>,
}

impl Shard {
    pub fn new(databases: usize, hasher: &KeyHasher) -> Shard {
        Shard {
            dbs: (0..databases).map(|_| Db::new(hasher)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{StrValue, Value};
    use proptest::prelude::*;

    fn string(v: &[u8]) -> Entry {
        Entry::new(Value::Str(StrValue::from_bytes(v)))
    }

    #[test]
    fn expires_tracks_volatile_keys() {
        let hasher = crate::new_hasher();
        let mut db = Db::new(&hasher);
        db.insert(b"a", string(b"1"));
        assert_eq!(db.volatile_len(), 0);
        assert!(db.set_expire(b"a", 100));
        assert_eq!(db.volatile_len(), 1);
        db.insert(b"a", string(b"2"));
        assert_eq!(db.volatile_len(), 0);
        db.set_expire(b"a", 100);
        db.remove(b"a");
        assert_eq!(db.volatile_len(), 0);
        assert!(!db.set_expire(b"a", 5));
    }

    proptest! {
        /// A key present for a whole scan is returned by it, whatever else is added and
        /// removed between steps.
        #[test]
        fn scan_returns_every_stable_key(stable in 0usize..300, churn in proptest::collection::vec((any::<bool>(), 0u16..500), 0..200), count in 1usize..50) {
            let hasher = crate::new_hasher();
            let mut db = Db::new(&hasher);
            for i in 0..stable {
                db.insert(format!("stable:{i}").as_bytes(), string(b"x"));
            }
            let mut seen = std::collections::HashSet::new();
            let mut pos = 0;
            let mut churn = churn.into_iter();
            loop {
                let (keys, next) = db.scan(pos, count);
                seen.extend(keys);
                if let Some((add, n)) = churn.next() {
                    let key = format!("churn:{n}");
                    if add { db.insert(key.as_bytes(), string(b"y")); } else { db.remove(key.as_bytes()); }
                }
                match next { Some(n) => pos = n, None => break }
            }
            for i in 0..stable {
                let key: Key = format!("stable:{i}").into_bytes().into();
                prop_assert!(seen.contains(&key));
            }
        }
    }
}
