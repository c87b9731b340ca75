//! The sharded keyspace and its locking rules.
//!
//! The keyspace is split into [`SHARDS`] shards by hash slot (CRC16 of the key or its
//! `{hash tag}`, as Redis Cluster), each behind its own mutex. A command locks the shards
//! of its keys in ascending order (no deadlock), runs, and unlocks; a command that needs
//! the whole keyspace (FLUSHALL, KEYS, SWAPDB, MULTI with such a command, scripts with
//! undeclared keys) locks every shard, in the same order. So every command is atomic and
//! commands on different shards run in parallel on different threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

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
    /// Scripts waiting, mid-run, for a shard below one they hold (see
    /// [`Locked::escalate`]): while any does, a command that waits for its second or
    /// later shard lets go of the ones it has and starts over, so no cycle can last.
    pub escalating: AtomicUsize,
    /// Scripts running past `busy-reply-threshold`: a command waiting for a shard gives
    /// up so that its client gets `-BUSY`, as Redis answers during a long script.
    pub busy_scripts: AtomicUsize,
}

/// A lock wait abandoned because a script became busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// Why a script could not add a shard mid-run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escalation {
    /// It has written nothing yet: run it again holding every shard.
    Restart,
    /// It has written and the shard stayed taken (another script that has written
    /// waits for one of its shards): the call fails.
    Timeout,
}

/// How long a script that has written waits for a shard it did not declare.
const ESCALATION_WAIT: Duration = Duration::from_secs(1);

/// How long one wait for a shard lasts before the waiter checks for busy scripts and
/// escalating scripts.
const WAIT_SLICE: Duration = Duration::from_millis(2);

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
            escalating: AtomicUsize::new(0),
            busy_scripts: AtomicUsize::new(0),
        }
    }

    /// Locks the given shards (any order, duplicates allowed) in ascending order.
    /// `busy_aware`: give up with [`Busy`] if a script becomes busy meanwhile.
    pub fn lock(
        &self,
        mut shard_ids: SmallVec<[usize; 4]>,
        busy_aware: bool,
    ) -> Result<Locked<'_>, Busy> {
        shard_ids.sort_unstable();
        shard_ids.dedup();
        self.acquire(&shard_ids, false, busy_aware)
    }

    /// Locks the one shard of a single-key command.
    pub fn lock_one(&self, id: usize, busy_aware: bool) -> Result<Locked<'_>, Busy> {
        self.acquire(&[id], false, busy_aware)
    }

    /// Locks every shard, in ascending order.
    pub fn lock_all(&self, busy_aware: bool) -> Result<Locked<'_>, Busy> {
        let ids: SmallVec<[usize; SHARDS]> = (0..SHARDS).collect();
        self.acquire(&ids, true, busy_aware)
    }

    /// Takes `ids` (ascending) in order. Uncontended, each is one `try_lock`; a wait is
    /// cut into short slices, between which the waiter gives up for a busy script or,
    /// holding shards while a script escalates, lets them go and starts over.
    fn acquire(&self, ids: &[usize], all: bool, busy_aware: bool) -> Result<Locked<'_>, Busy> {
        let mut guards: SmallVec<[(usize, MutexGuard<'_, Shard>); 4]> = SmallVec::new();
        'again: loop {
            guards.clear();
            for &id in ids {
                let guard = match self.shards[id].try_lock() {
                    Some(guard) => guard,
                    None => loop {
                        if let Some(guard) = self.shards[id].try_lock_for(WAIT_SLICE) {
                            break guard;
                        }
                        if busy_aware && self.busy_scripts.load(Ordering::Relaxed) > 0 {
                            return Err(Busy);
                        }
                        if !guards.is_empty() && self.escalating.load(Ordering::Relaxed) > 0 {
                            guards.clear();
                            std::thread::yield_now();
                            continue 'again;
                        }
                    },
                };
                guards.push((id, guard));
            }
            return Ok(Locked {
                keyspace: self,
                guards,
                all,
            });
        }
    }

    /// Locks nothing: for commands without keys.
    pub fn lock_none(&self) -> Locked<'_> {
        Locked {
            keyspace: self,
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
    keyspace: &'a Keyspace,
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

    /// Adds shard `id` for a script that reaches a key it did not declare. Taken at once
    /// if free. Otherwise a script that has written nothing yet must start again with
    /// every shard ([`NeedRestart`]: nothing it did is visible). One that has written
    /// waits: any command holding that shard while waiting for one of the script's lets
    /// go of it (see [`Keyspace::escalating`]). Only two scripts that have both written
    /// and each need the other's shard could wait for ever; the wait is bounded, and the
    /// call then fails ([`EscalationTimeout`]) — the script learns to take every shard
    /// next time, so it does not recur.
    pub fn escalate(&mut self, id: usize, restartable: bool) -> Result<(), Escalation> {
        let keyspace = self.keyspace;
        if self.holds(id) {
            return Ok(());
        }
        if let Some(guard) = keyspace.shards[id].try_lock() {
            self.guards.push((id, guard));
            return Ok(());
        }
        if restartable {
            return Err(Escalation::Restart);
        }
        keyspace.escalating.fetch_add(1, Ordering::Relaxed);
        let guard = keyspace.shards[id].try_lock_for(ESCALATION_WAIT);
        keyspace.escalating.fetch_sub(1, Ordering::Relaxed);
        match guard {
            Some(guard) => {
                self.guards.push((id, guard));
                Ok(())
            }
            None => Err(Escalation::Timeout),
        }
    }

    /// Whether no shard is held (a command without keys, outside EXEC and scripts).
    pub fn holds_none(&self) -> bool {
        self.guards.is_empty()
    }

    /// Lets every shard go, for a command that must run others in the middle
    /// (DEBUG LOADAOF replays the AOF); [`Locked::relock_all`] takes them back.
    pub fn release_all(&mut self) {
        self.guards.clear();
        self.all = false;
    }

    /// Takes every shard again after [`Locked::release_all`].
    pub fn relock_all(&mut self) -> Result<(), Busy> {
        let keyspace = self.keyspace;
        *self = keyspace.lock_all(false)?;
        Ok(())
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
