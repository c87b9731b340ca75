//! A database (one of the 16 SELECT numbers) as held by one shard, and the shard itself.
//!
//! Keys live in an insertion-ordered hash map so that a random key (RANDOMKEY, active
//! expiry, eviction sampling) is one index away. Keys with a TTL are also listed in
//! `expires`, so active expiry samples only keys that can expire, as Redis does.
//!
//! SCAN positions are entry indices visited from the top down (see [`Db::scan`]): a key
//! present for the whole scan is returned whatever is inserted or deleted meanwhile (the
//! guarantee Redis gives), and a step costs O(COUNT).

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
}

impl Entry {
    pub fn new(value: Value) -> Entry {
        Entry {
            value,
            expire_ms: NO_EXPIRE,
            access_s: 0,
        }
    }

    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expire_ms != NO_EXPIRE && self.expire_ms <= now_ms
    }
}

/// Bits of a SCAN cursor that hold the position within a shard (the bits above name the
/// shard).
pub const SCAN_HASH_BITS: u32 = 48;

/// One database's part of one shard.
#[derive(Debug)]
pub struct Db {
    map: IndexMap<Key, Entry, KeyHasher>,
    expires: IndexSet<Key, KeyHasher>,
}

impl Db {
    pub fn new(hasher: &KeyHasher) -> Db {
        Db {
            map: IndexMap::with_hasher(hasher.clone()),
            expires: IndexSet::with_hasher(hasher.clone()),
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

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.map.get_mut(key)
    }

    /// Where `key` sits in the map, for a lookup that hashes the key only once.
    pub fn index_of(&self, key: &[u8]) -> Option<usize> {
        self.map.get_index_of(key)
    }

    /// The entry at a position from [`Db::index_of`].
    pub fn entry_at_mut(&mut self, index: usize) -> Option<&mut Entry> {
        self.map.get_index_mut(index).map(|(_, e)| e)
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.map.contains_key(key)
    }

    /// Inserts or replaces `key`, with the entry's own expiry. Returns the old entry.
    pub fn insert(&mut self, key: &[u8], entry: Entry) -> Option<Entry> {
        let volatile = entry.expire_ms != NO_EXPIRE;
        let old = match self.map.get_mut(key) {
            Some(slot) => Some(std::mem::replace(slot, entry)),
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
        let old = self.map.swap_remove(key)?;
        if old.expire_ms != NO_EXPIRE {
            self.expires.swap_remove(key);
        }
        Some(old)
    }

    /// Sets or clears (`NO_EXPIRE`) the expiry of an existing key. Returns false when the
    /// key does not exist.
    pub fn set_expire(&mut self, key: &[u8], expire_ms: i64) -> bool {
        let Some(entry) = self.map.get_mut(key) else {
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
    pub fn take_all(&mut self) -> IndexMap<Key, Entry, KeyHasher> {
        self.expires.clear();
        let hasher = self.map.hasher().clone();
        std::mem::replace(&mut self.map, IndexMap::with_hasher(hasher))
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
