//! The sharded keyspace and its locking rules.
//!
//! The keyspace is split into [`SHARDS`] shards by hash slot (CRC16 of the key or its
//! `{hash tag}`, as Redis Cluster), each behind its own mutex. A command locks the shards
//! of its keys in ascending order (no deadlock), runs, and unlocks; a command that needs
//! the whole keyspace (FLUSHALL, KEYS, SWAPDB, MULTI with such a command, scripts with
//! undeclared keys) locks every shard, in the same order. So every command is atomic and
//! commands on different shards run in parallel on different threads.

use parking_lot::{Mutex, MutexGuard};
use smallvec::SmallVec;

use lodestone_store::{Db, KeyHasher, Shard};

/// Number of shards. A power of two so a slot maps to a shard with a mask. Measured
/// (docs/ARCHITECTURE.md): with 128 shards, GET over 1,000 random keys cost 30-40% more
/// CPU per request than over one key, because each shard's map headers and tables are
/// separate cache lines; with 16 the difference is gone, while two threads still meet
/// on the same lock only ~6% of the time.
pub const SHARDS: usize = 16;

/// The shard that holds `key`.
pub fn shard_of(key: &[u8]) -> usize {
    lodestone_util::key_hash_slot(key) as usize & (SHARDS - 1)
}

#[derive(Debug)]
pub struct Keyspace {
    shards: Box<[Mutex<Shard>]>,
    pub hasher: KeyHasher,
    pub databases: usize,
}

impl Keyspace {
    pub fn new(databases: usize) -> Keyspace {
        let hasher = lodestone_store::new_hasher();
        let shards = (0..SHARDS)
            .map(|_| Mutex::new(Shard::new(databases, &hasher)))
            .collect();
        Keyspace {
            shards,
            hasher,
            databases,
        }
    }

    /// Locks the given shards (any order, duplicates allowed) in ascending order.
    pub fn lock(&self, mut shard_ids: SmallVec<[usize; 4]>) -> Locked<'_> {
        shard_ids.sort_unstable();
        shard_ids.dedup();
        let guards = shard_ids
            .into_iter()
            .map(|id| (id, self.shards[id].lock()))
            .collect();
        Locked { guards, all: false }
    }

    /// Locks the one shard of a single-key command.
    pub fn lock_one(&self, id: usize) -> Locked<'_> {
        let mut guards = SmallVec::new();
        guards.push((id, self.shards[id].lock()));
        Locked { guards, all: false }
    }

    /// Locks every shard, in ascending order.
    pub fn lock_all(&self) -> Locked<'_> {
        let guards = self
            .shards
            .iter()
            .enumerate()
            .map(|(id, m)| (id, m.lock()))
            .collect();
        Locked { guards, all: true }
    }

    /// Locks nothing: for commands without keys.
    pub fn lock_none(&self) -> Locked<'_> {
        Locked {
            guards: SmallVec::new(),
            all: false,
        }
    }

    /// Locks one shard by index (background jobs walking the shards one by one).
    pub fn lock_shard(&self, id: usize) -> MutexGuard<'_, Shard> {
        self.shards[id].lock()
    }
}

/// The shards a command holds while it runs.
pub struct Locked<'a> {
    guards: SmallVec<[(usize, MutexGuard<'a, Shard>); 4]>,
    all: bool,
}

impl<'a> Locked<'a> {
    /// Whether every shard is held.
    pub fn is_all(&self) -> bool {
        self.all
    }

    /// Whether shard `id` is held (so a walker over all shards can use it rather than
    /// lock it a second time).
    pub fn holds(&self, id: usize) -> bool {
        self.all || self.guards.iter().any(|(held, _)| *held == id)
    }

    /// The shard holding `key`. Panics if the command did not lock it: that is a bug in
    /// the command's key specs, caught by tests, never a client's doing.
    pub fn shard_for(&mut self, key: &[u8]) -> &mut Shard {
        // Most commands lock exactly one shard: skip hashing the key again.
        if !self.all && self.guards.len() == 1 {
            debug_assert_eq!(
                self.guards[0].0,
                shard_of(key),
                "key outside the locked shard"
            );
            return &mut self.guards[0].1;
        }
        let id = shard_of(key);
        self.shard(id)
    }

    /// Shard `id`, which must be held.
    pub fn shard(&mut self, id: usize) -> &mut Shard {
        if self.all {
            return &mut self.guards[id].1;
        }
        match self.guards.iter_mut().find(|(held, _)| *held == id) {
            Some((_, guard)) => guard,
            None => {
                panic!("shard {id} used without being locked: the command's key specs are wrong")
            }
        }
    }

    /// Adds the shards in `ids` not yet held, without waiting: a writer serving a
    /// waiter whose command needs more shards (BLMOVE's destination) may already hold
    /// higher ones, so blocking here could deadlock. False if one was busy (the shards
    /// taken so far stay held until the command ends).
    pub fn try_add(&mut self, keyspace: &'a Keyspace, ids: &[usize]) -> bool {
        for &id in ids {
            if self.holds(id) {
                continue;
            }
            match keyspace.shards[id].try_lock() {
                Some(guard) => self.guards.push((id, guard)),
                None => return false,
            }
        }
        true
    }

    /// Database `db` of the shard holding `key`.
    pub fn db_for(&mut self, key: &[u8], db: usize) -> &mut Db {
        &mut self.shard_for(key).dbs[db]
    }

    /// Every held shard, in order.
    pub fn shards(&mut self) -> impl Iterator<Item = &mut Shard> + use<'_, 'a> {
        self.guards.iter_mut().map(|(_, g)| &mut **g)
    }
}
