//! What a handler sees: its request, its client, the shards it locked, and the reply
//! writer. Handlers are synchronous and never touch a socket, so the same handler serves
//! a client, a MULTI queue, a script's `redis.call` and, later, AOF and replica replay.

use lodestone_resp::{Command, ReplyWriter};
use lodestone_spec::CommandSpec;
use lodestone_store::{
    Db, Entry, HashValue, Key, ListValue, SetValue, StrValue, Value, ZSetValue, NO_EXPIRE,
};

use crate::client::ClientState;
use crate::errors::Error;
use crate::keyspace::Locked;
use crate::server::Server;

/// The context of one command execution.
pub struct Ctx<'a, 'k> {
    pub server: &'a Server,
    pub client: &'a mut ClientState,
    pub cmd: &'a Command,
    pub spec: &'static CommandSpec,
    pub out: &'a mut ReplyWriter,
    pub keys: &'a mut KeyAccess<'k>,
    /// The worker thread's command statistics (commands a script runs count there).
    pub stats: &'a crate::server::ThreadStats,
    /// What a blocking command does when it finds nothing.
    pub mode: BlockMode,
    /// Set by [`crate::blocking::block`] while serving a waiter that still finds nothing.
    pub still_blocked: bool,
}

/// What a blocking command (BLPOP...) does when every key is empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockMode {
    /// Parks the client (a command from a connection).
    Park,
    /// Replies as on timeout (inside MULTI or a script: Redis never blocks there).
    Never,
    /// Stays parked: the command is being re-run for a waiter by the write that fed it.
    Serving,
}

/// One command on the effect stream: the request as sent, or a rewritten form.
#[derive(Clone, Debug)]
pub enum EffectArgs {
    Sent(Command),
    Built(Vec<Vec<u8>>),
}

/// The string inside a looked-up entry: `Ok(None)` when missing, WRONGTYPE for another
/// type.
fn string_of(entry: Option<&mut Entry>) -> Result<Option<&mut StrValue>, Error> {
    match entry {
        None => Ok(None),
        Some(Entry {
            value: Value::Str(s),
            ..
        }) => Ok(Some(s)),
        Some(_) => Err(Error::WrongType),
    }
}

/// Typed access to a collection: `Ok(None)` when the key is missing, WRONGTYPE when it
/// holds another type. `read_*` counts a keyspace hit or miss (read commands), `write_*`
/// does not (Redis counts only read lookups).
macro_rules! typed_access {
    ($read:ident, $write:ident, $variant:ident, $ty:ty) => {
        pub fn $read(&mut self, key: &[u8]) -> Result<Option<&mut $ty>, Error> {
            match self.lookup_read(key) {
                None => Ok(None),
                Some(Entry {
                    value: Value::$variant(v),
                    ..
                }) => Ok(Some(v)),
                Some(_) => Err(Error::WrongType),
            }
        }

        pub fn $write(&mut self, key: &[u8]) -> Result<Option<&mut $ty>, Error> {
            match self.lookup(key) {
                None => Ok(None),
                Some(Entry {
                    value: Value::$variant(v),
                    ..
                }) => Ok(Some(v)),
                Some(_) => Err(Error::WrongType),
            }
        }
    };
}

/// Appends an event if its class is enabled.
fn record_event(
    events: &mut Vec<crate::notify::Event>,
    flags: u32,
    db: usize,
    class: u32,
    event: &'static str,
    key: &[u8],
) {
    if crate::notify::wanted(flags, class) {
        events.push(crate::notify::Event {
            db,
            event,
            key: key.into(),
        });
    }
}

/// How the effect stream records the deletion of an expired `key`: DEL, or UNLINK
/// when `unlink` (`lazyfree-lazy-expire`), as Redis's `propagateDeletion`.
pub fn expiry_deletion(unlink: bool, key: &[u8]) -> Vec<Vec<u8>> {
    let name: &[u8] = if unlink { b"UNLINK" } else { b"DEL" };
    vec![name.to_vec(), key.to_vec()]
}

/// Bookkeeping for a key found expired and deleted: counted (INFO `expired_keys`) and,
/// when effects are tracked (`propagation` is `Some(unlink)`), its deletion put on the
/// effect stream at once, so it precedes the effect of the command that found it, even a
/// read: a replay must not find the key there. One effect per expired key (scripts
/// under `redis.set_repl` rely on it).
fn record_expired(
    expired: &mut Vec<(usize, Key)>,
    effects: &mut Vec<(usize, EffectArgs)>,
    propagation: Option<bool>,
    db: usize,
    key: &[u8],
) {
    expired.push((db, key.into()));
    if let Some(unlink) = propagation {
        effects.push((db, EffectArgs::Built(expiry_deletion(unlink, key))));
    }
}

fn is_stream(value: &Value) -> bool {
    matches!(value, Value::Stream(_))
}

/// What a lookup does besides finding the entry.
#[derive(Clone, Copy)]
struct Access {
    /// Count a keyspace hit or miss (INFO `keyspace_hits`/`keyspace_misses`).
    count: bool,
    /// Stamp the access time (OBJECT IDLETIME); OBJECT and TYPE-like peeks do not.
    touch: bool,
    /// With `count`, skip the `keymiss` event (Redis's `LOOKUP_NONOTIFY`: OBJECT).
    quiet: bool,
}

/// Access to the locked part of the keyspace, with lazy expiry and effect bookkeeping.
pub struct KeyAccess<'a> {
    pub locked: Locked<'a>,
    /// The client's selected database.
    pub db: usize,
    /// The command's one clock reading.
    pub now_ms: i64,
    /// Changes made (INFO `rdb_changes_since_last_save`, later AOF and WATCH).
    pub dirty: u64,
    /// Keys found expired and deleted while the command ran.
    pub expired: Vec<(usize, Key)>,
    pub hits: u64,
    pub misses: u64,
    /// The effect-stream form of the command when it is not the command as sent
    /// (`None`): SPOP propagates as SREM, a served BLPOP as LPOP... Empty: no effect.
    pub rewritten: Option<Vec<Vec<Vec<u8>>>>,
    /// Keys given a list or sorted set while clients wait on them (blocking pops):
    /// served before the locks are released. Tracked only when someone is blocked.
    pub ready: std::collections::VecDeque<(usize, Key)>,
    pub track_ready: bool,
    /// The effects of this call, in order, with their database (the writer's, then
    /// those of the waiters it served). Collected only when the stream has a reader.
    pub effects: Vec<(usize, EffectArgs)>,
    pub track_effects: bool,
    /// Keys changed by this call, for WATCH (tracked only when someone watches).
    pub touched: Vec<(usize, Key)>,
    pub track_watch: bool,
    /// The keyspace event classes enabled when the command started, and the events it
    /// caused, in order (published by `finish` while the locks are held).
    pub notify_flags: u32,
    pub events: Vec<crate::notify::Event>,
    /// Set while a script runs: the clock reading every command it calls uses.
    pub frozen_now_ms: Option<i64>,
    /// Replay mode (AOF loading, from [`ClientState::replaying`]): nothing expires, a
    /// key whose TTL has passed is live, as in Redis while `server.loading`. The stream
    /// being replayed already holds the DEL of every key that expired when it was
    /// written; a key that expires only later must still be there for the commands that
    /// used it back then.
    pub no_expiry: bool,
    /// `lazyfree-lazy-expire`, read when effects are tracked: expiry deletions are
    /// propagated as UNLINK rather than DEL.
    pub unlink_expired: bool,
}

impl<'a> KeyAccess<'a> {
    pub fn new(locked: Locked<'a>, db: usize, now_ms: i64) -> KeyAccess<'a> {
        KeyAccess {
            locked,
            db,
            now_ms,
            dirty: 0,
            expired: Vec::new(),
            hits: 0,
            misses: 0,
            rewritten: None,
            ready: std::collections::VecDeque::new(),
            track_ready: false,
            effects: Vec::new(),
            track_effects: false,
            touched: Vec::new(),
            track_watch: false,
            notify_flags: 0,
            events: Vec::new(),
            frozen_now_ms: None,
            no_expiry: false,
            unlink_expired: false,
        }
    }

    /// Whether `entry`'s TTL has passed (never in replay mode).
    fn has_lapsed(&self, entry: &Entry) -> bool {
        !self.no_expiry && entry.is_expired(self.now_ms)
    }

    /// Whether a deadline given by a command is already past, so that the command
    /// deletes the key instead of setting the TTL: Redis's `checkAlreadyExpired`, false
    /// in replay mode, where the key keeps its past TTL.
    pub fn already_expired(&self, when_ms: i64) -> bool {
        !self.no_expiry && when_ms <= self.now_ms
    }

    /// [`expiry_deletion`] under this command's `lazyfree-lazy-expire` (also the form of
    /// EXPIRE or GETEX with a deadline already past).
    pub fn expiry_deletion(&self, key: &[u8]) -> Vec<Vec<u8>> {
        expiry_deletion(self.unlink_expired, key)
    }

    /// `effects`' part in [`record_expired`]: `Some(unlink)` when effects are tracked.
    fn expiry_propagation(&self) -> Option<bool> {
        self.track_effects.then_some(self.unlink_expired)
    }

    /// Wraps the effects from index `from` on in MULTI/EXEC when there are several:
    /// Redis propagates the effects of one command, script or transaction as one
    /// transaction (a lazy-expiry DEL and the write that followed it, for one).
    pub fn wrap_in_multi(&mut self, from: usize) {
        let effects = &mut self.effects;
        if effects.len().saturating_sub(from) < 2 {
            return;
        }
        let first_db = effects[from].0;
        let last_db = effects[effects.len() - 1].0;
        effects.insert(from, (first_db, EffectArgs::Built(vec![b"MULTI".to_vec()])));
        effects.push((last_db, EffectArgs::Built(vec![b"EXEC".to_vec()])));
    }

    /// Records a keyspace event on `key` of the selected database (published if its
    /// class is enabled).
    pub fn notify(&mut self, class: u32, event: &'static str, key: &[u8]) {
        let db = self.db;
        self.notify_in(db, class, event, key);
    }

    pub fn notify_in(&mut self, db: usize, class: u32, event: &'static str, key: &[u8]) {
        record_event(&mut self.events, self.notify_flags, db, class, event, key);
    }

    /// A write put a new value at `key` without looking it up first (MSET, the STORE
    /// commands): a value it replaced whose TTL had passed counts as expired first, as
    /// the lookup Redis's `setKey` does would have deleted it (stats, effect stream).
    fn replaced(&mut self, db: usize, key: &[u8], old: Option<&Entry>) {
        if old.is_some_and(|o| self.has_lapsed(o)) {
            let propagation = self.expiry_propagation();
            record_expired(&mut self.expired, &mut self.effects, propagation, db, key);
        }
        self.notify_created(db, key, old);
    }

    /// The `new` event when a write found no live value at the key it filled.
    fn notify_created(&mut self, db: usize, key: &[u8], old: Option<&Entry>) {
        if self.notify_flags == 0 {
            return;
        }
        match old {
            None => self.notify_in(db, crate::notify::NEW, "new", key),
            Some(old) if self.has_lapsed(old) => {
                self.notify_in(db, crate::notify::EXPIRED, "expired", key);
                self.notify_in(db, crate::notify::NEW, "new", key);
            }
            Some(_) => {}
        }
    }

    /// The selected database's part that holds `key`, without expiry checks.
    pub fn raw_db(&mut self, key: &[u8]) -> &mut Db {
        let db = self.db;
        self.locked.db_for(key, db)
    }

    /// The live entry of `key` in database `db`: an expired key is deleted on the spot
    /// and reported absent, so no command ever observes it.
    pub fn lookup_in(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        self.live_entry(
            db,
            key,
            Access {
                count: false,
                touch: true,
                quiet: false,
            },
        )
    }

    /// [`Self::lookup_in`] in the selected database.
    pub fn lookup(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let db = self.db;
        self.live_entry(
            db,
            key,
            Access {
                count: false,
                touch: true,
                quiet: false,
            },
        )
    }

    /// A read lookup that also counts keyspace hits and misses (INFO).
    pub fn lookup_read(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let db = self.db;
        self.live_entry(
            db,
            key,
            Access {
                count: true,
                touch: true,
                quiet: false,
            },
        )
    }

    /// The one lookup behind the others: hashes the key once, expires it lazily, and as
    /// asked stamps the access time and counts hits and misses.
    fn live_entry(&mut self, db: usize, key: &[u8], access: Access) -> Option<&mut Entry> {
        let count = access.count;
        let miss_event = count && !access.quiet;
        let now = self.now_ms;
        let lapses = !self.no_expiry;
        let propagation = self.expiry_propagation();
        let part = self.locked.db_for(key, db);
        let Some(index) = part.index_of(key) else {
            self.misses += u64::from(count);
            if miss_event {
                record_event(
                    &mut self.events,
                    self.notify_flags,
                    db,
                    crate::notify::KEY_MISS,
                    "keymiss",
                    key,
                );
            }
            return None;
        };
        if lapses && part.entry_at(index)?.is_expired(now) {
            let gone = part.remove(key);
            if self.track_ready && gone.is_some_and(|e| is_stream(&e.value)) {
                self.ready.push_back((db, key.into()));
            }
            record_expired(&mut self.expired, &mut self.effects, propagation, db, key);
            if self.track_watch {
                self.touched.push((db, key.into()));
            }
            record_event(
                &mut self.events,
                self.notify_flags,
                db,
                crate::notify::EXPIRED,
                "expired",
                key,
            );
            self.misses += u64::from(count);
            if miss_event {
                record_event(
                    &mut self.events,
                    self.notify_flags,
                    db,
                    crate::notify::KEY_MISS,
                    "keymiss",
                    key,
                );
            }
            return None;
        }
        self.hits += u64::from(count);
        let entry = part.entry_at_mut(index)?;
        if access.touch {
            entry.access_s = (now / 1000) as u32;
        }
        Some(entry)
    }

    pub fn exists(&mut self, key: &[u8]) -> bool {
        self.lookup(key).is_some()
    }

    /// The string at `key` for reading: `Ok(None)` when missing, WRONGTYPE otherwise.
    pub fn read_str(&mut self, key: &[u8]) -> Result<Option<&mut StrValue>, Error> {
        string_of(self.lookup_read(key))
    }

    /// The string at `key` for writing.
    pub fn write_str(&mut self, key: &[u8]) -> Result<Option<&mut StrValue>, Error> {
        string_of(self.lookup(key))
    }

    typed_access!(read_list, write_list, List, ListValue);
    typed_access!(read_hash, write_hash, Hash, HashValue);
    typed_access!(read_set, write_set, Set, SetValue);
    typed_access!(read_zset, write_zset, ZSet, ZSetValue);

    /// Stores `value` at `key` with `expire_ms` (`NO_EXPIRE`: none), replacing any value
    /// and TTL. Counts as one change.
    pub fn set(&mut self, key: &[u8], value: Value, expire_ms: i64) {
        let now = self.now_ms;
        let db = self.db;
        let feeds = value.can_feed_waiters();
        let mut entry = Entry::new(value);
        entry.expire_ms = expire_ms;
        entry.access_s = (now / 1000) as u32;
        let old = self.locked.db_for(key, db).insert(key, entry);
        self.replaced(db, key, old.as_ref());
        self.dirty += 1;
        self.touch(db, key);
        if (feeds || old.as_ref().is_some_and(|o| is_stream(&o.value))) && self.track_ready {
            self.ready.push_back((db, key.into()));
        }
    }

    /// Stores `value` at `key`, keeping the key's TTL if it has one (KEEPTTL).
    pub fn set_keep_ttl(&mut self, key: &[u8], value: Value) {
        let ttl = self.lookup(key).map_or(NO_EXPIRE, |e| e.expire_ms);
        self.set(key, value, ttl);
    }

    /// Deletes `key` from the selected database; false when it did not exist.
    pub fn remove(&mut self, key: &[u8]) -> bool {
        let db = self.db;
        self.remove_in(db, key)
    }

    pub fn remove_in(&mut self, db: usize, key: &[u8]) -> bool {
        if self.lookup_in(db, key).is_none() {
            return false;
        }
        let old = self.locked.db_for(key, db).remove(key);
        self.dirty += 1;
        self.touch(db, key);
        self.stream_gone(db, key, old.as_ref());
        true
    }

    /// A stream left `key`: its group readers must learn (Redis wakes them with an
    /// error), so the key is marked ready.
    fn stream_gone(&mut self, db: usize, key: &[u8], old: Option<&Entry>) {
        if self.track_ready && old.is_some_and(|o| is_stream(&o.value)) {
            self.ready.push_back((db, key.into()));
        }
    }

    /// Deletes `key` from the selected database even if its TTL has passed but it was
    /// not reclaimed yet: Redis's `dbDelete`, which the STORE commands use on an empty
    /// result, so such a key counts as deleted (a `del` event, not `expired`). False
    /// when absent.
    pub fn delete(&mut self, key: &[u8]) -> bool {
        let db = self.db;
        let Some(old) = self.locked.db_for(key, db).remove(key) else {
            return false;
        };
        self.dirty += 1;
        self.touch(db, key);
        self.stream_gone(db, key, Some(&old));
        true
    }

    /// Notes that `key` of database `db` changed (WATCH).
    pub fn touch(&mut self, db: usize, key: &[u8]) {
        if self.track_watch {
            self.touched.push((db, key.into()));
        }
    }

    /// Closes the effect of one command run: its rewritten form if the handler gave one,
    /// else the request as sent if it changed anything.
    pub fn seal_effect(&mut self, cmd: &Command, dirty_before: u64) {
        let rewritten = self.rewritten.take();
        if !self.track_effects {
            return;
        }
        let db = self.db;
        match rewritten {
            Some(commands) => self
                .effects
                .extend(commands.into_iter().map(|c| (db, EffectArgs::Built(c)))),
            None if self.dirty > dirty_before => {
                self.effects.push((db, EffectArgs::Sent(cmd.clone())))
            }
            None => {}
        }
    }

    /// Puts `entry` at `key` of database `db` (RENAME, MOVE, COPY), replacing what was
    /// there, and wakes waiters of that key.
    pub fn insert_entry(&mut self, db: usize, key: &[u8], entry: Entry) {
        let feeds = entry.value.can_feed_waiters();
        let old = self.locked.db_for(key, db).insert(key, entry);
        self.replaced(db, key, old.as_ref());
        self.touch(db, key);
        if (feeds || old.as_ref().is_some_and(|o| is_stream(&o.value))) && self.track_ready {
            self.ready.push_back((db, key.into()));
        }
    }

    /// Marks keys that may now feed waiters without having been written (SWAPDB).
    pub fn signal_ready(&mut self, db: usize, key: &[u8]) {
        if self.track_ready {
            self.ready.push_back((db, key.into()));
        }
    }

    /// Feeds the effect stream `args` (one command) instead of the command as sent; call
    /// it once per command the effect needs, in order. Deterministic forms only: SPOP
    /// propagates the members it removed (SREM), never the random choice.
    pub fn propagate_as(&mut self, args: Vec<Vec<u8>>) {
        self.rewritten.get_or_insert_with(Vec::new).push(args);
    }

    /// Feeds nothing to the effect stream for this command, whatever it did.
    pub fn propagate_none(&mut self) {
        self.rewritten.get_or_insert_with(Vec::new);
    }

    /// Records an in-place change to `key` (APPEND, INCR...).
    pub fn modified(&mut self, key: &[u8]) {
        self.dirty += 1;
        let db = self.db;
        self.touch(db, key);
    }

    /// The live entry of `key` in database `db`, leaving its access time alone: Redis's
    /// `LOOKUP_NOTOUCH`, so that TTL, TYPE, EXISTS, OBJECT or SCAN do not make a key look
    /// recently used (OBJECT IDLETIME, eviction). An expired key is deleted as usual.
    pub fn peek_in(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        self.live_entry(
            db,
            key,
            Access {
                count: false,
                touch: false,
                quiet: false,
            },
        )
    }

    /// [`Self::peek_in`] in the selected database, counted as a keyspace hit or miss
    /// (Redis counts read lookups even when they do not touch the key).
    pub fn peek_read(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let db = self.db;
        self.live_entry(
            db,
            key,
            Access {
                count: true,
                touch: false,
                quiet: false,
            },
        )
    }

    /// [`Self::peek_read`] without the `keymiss` event (OBJECT, as Redis).
    pub fn peek_read_quiet(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let db = self.db;
        self.live_entry(
            db,
            key,
            Access {
                count: true,
                touch: false,
                quiet: true,
            },
        )
    }

    /// Removes the live `key` from database `db` and hands its entry back, so the caller
    /// decides where it is freed (UNLINK frees large values off the request path).
    /// Counts one change; `None` when the key did not exist.
    pub fn take_in(&mut self, db: usize, key: &[u8]) -> Option<Entry> {
        self.peek_in(db, key)?;
        self.dirty += 1;
        self.touch(db, key);
        let old = self.locked.db_for(key, db).remove(key);
        self.stream_gone(db, key, old.as_ref());
        old
    }
}

impl<'a, 'k> Ctx<'a, 'k> {
    /// Records a keyspace event (`notify-keyspace-events`) on `key` of the selected
    /// database: call it once per effect, where Redis does, in the order they happen.
    pub fn notify(&mut self, class: u32, event: &'static str, key: &[u8]) {
        self.keys.notify(class, event, key);
    }

    /// Argument `i` of the request (0 is the command name).
    pub fn arg(&self, i: usize) -> &'a [u8] {
        self.cmd.arg(i)
    }

    pub fn argc(&self) -> usize {
        self.cmd.len()
    }

    /// Argument `i` parsed as a Redis integer.
    pub fn arg_i64(&self, i: usize) -> Result<i64, Error> {
        lodestone_util::number::parse_i64(self.cmd.arg(i)).ok_or(Error::NotInteger)
    }

    /// Whether argument `i` equals `word`, ignoring case.
    pub fn arg_is(&self, i: usize, word: &str) -> bool {
        self.cmd.arg(i).eq_ignore_ascii_case(word.as_bytes())
    }
}
