//! Blocking pops (BLPOP, BLMOVE, BZPOPMIN...): clients parked on keys until a write
//! feeds them or their timeout passes.
//!
//! Handlers stay synchronous: a blocking command first tries its non-blocking form, and
//! when every key is empty calls [`block`], which parks the client instead of replying.
//! The client becomes a [`Waiter`] queued, per key, in [`BlockedKeys`] (first come, first
//! served), registered while the command still holds its keys' shard locks.
//!
//! Serving follows Redis's rule: a write that creates a list or sorted set at a key with
//! waiters marks the key *ready* ([`crate::ctx::KeyAccess::set`]); before that command
//! releases its shard locks, [`serve_ready`] re-runs each waiter's own command in order
//! on the waiter's behalf and hands it the reply. So no other client can see the element
//! first, on any thread. A waiter whose command needs a shard the writer does not hold
//! (BLMOVE to a key elsewhere) gets it with `try_lock`; in the rare case that shard is
//! busy, the waiter is told to re-run its command itself (it keeps FIFO order among the
//! waiters it then joins, but another client may take the element first: documented in
//! docs/ARCHITECTURE.md).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use lodestone_resp::{Command, Protocol, ReplyWriter};
use lodestone_spec::{CommandSpec, Group};
use lodestone_store::{Key, Value};

use crate::client::{ClientShared, ClientState};
use crate::ctx::{BlockMode, Ctx, KeyAccess};
use crate::errors::{CmdResult, Error};
use crate::keyspace::shard_of;
use crate::server::Server;

/// The reply of a blocking command that finds nothing where it may not block (MULTI,
/// scripts). A client that really waited and timed out always gets a null array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnTimeout {
    /// BLPOP, BRPOP, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP: a null array.
    NullArray,
    /// BLMOVE, BRPOPLPUSH: a null bulk string.
    NullBulk,
}

impl OnTimeout {
    pub fn write(self, out: &mut ReplyWriter) {
        match self {
            OnTimeout::NullArray => out.null_array(),
            OnTimeout::NullBulk => out.null(),
        }
    }
}

/// Parses the timeout argument at `index` (seconds, fractions allowed, 0 = forever) into
/// an absolute deadline in milliseconds; `None` waits forever.
pub fn parse_timeout(ctx: &Ctx, index: usize) -> Result<Option<i64>, Error> {
    let seconds = lodestone_util::number::parse_f64(ctx.arg(index))
        .filter(|s| !s.is_nan())
        .ok_or_else(|| Error::err("timeout is not a float or out of range"))?;
    let ms = (seconds * 1000.0).ceil();
    // Redis converts to a C long long: past its range (1e100, inf) the value wraps to
    // a negative one, so Redis calls such timeouts negative too.
    if !(0.0..i64::MAX as f64).contains(&ms) {
        return Err(Error::err("timeout is negative"));
    }
    if ms == 0.0 {
        return Ok(None);
    }
    Ok(Some(ctx.keys.now_ms.saturating_add(ms as i64)))
}

/// Parks the client on `keys` until one of them can feed it or `deadline` passes. Where
/// a client may not block (inside MULTI or a script) it gets the timeout reply at once,
/// as Redis does; while a waiter is being served it stays parked.
pub fn block(
    ctx: &mut Ctx,
    keys: Vec<Key>,
    deadline: Option<i64>,
    on_timeout: OnTimeout,
) -> CmdResult {
    let cmd = ctx.cmd.clone();
    block_as(ctx, keys, deadline, on_timeout, cmd)
}

/// [`block`], with `cmd` as the command re-run for the waiter instead of the request
/// (XREAD and XREADGROUP park a normalised form: `$` resolved, COUNT fixed).
pub fn block_as(
    ctx: &mut Ctx,
    mut keys: Vec<Key>,
    deadline: Option<i64>,
    on_timeout: OnTimeout,
    cmd: Command,
) -> CmdResult {
    match ctx.mode {
        BlockMode::Never => {
            on_timeout.write(ctx.out);
            return Ok(());
        }
        BlockMode::Serving => {
            ctx.still_blocked = true;
            return Ok(());
        }
        BlockMode::Park => {}
    }
    let mut seen = std::collections::HashSet::new();
    keys.retain(|k| seen.insert(k.clone()));
    let mut positions = Vec::new();
    let _ = ctx
        .spec
        .key_positions_with(cmd.len(), &|i| cmd.arg(i), &mut positions);
    let mut shards: Vec<usize> = positions.iter().map(|&i| shard_of(cmd.arg(i))).collect();
    shards.sort_unstable();
    shards.dedup();
    let waiter = Arc::new(Waiter {
        client: ctx.client.shared.clone(),
        db: ctx.keys.db,
        keys,
        shards,
        cmd,
        spec: ctx.spec,
        protocol: ctx.client.protocol(),
        deadline,
        on_timeout,
        wants: match ctx.spec.group {
            Group::SortedSet => Wants::ZSet,
            Group::Stream => Wants::Stream,
            _ => Wants::List,
        },
        registered: AtomicBool::new(false),
        state: Mutex::new(State::Waiting),
    });
    ctx.server.blocked.register(&waiter);
    // `shared.blocked_on` (what INFO and CLIENT LIST show) is set by the connection
    // once the command has finished, so its keyspace events are out by then.
    ctx.client.blocked = Some(waiter);
    Ok(())
}

/// What ended a wait.
#[derive(Debug)]
pub enum Outcome {
    /// A write fed the client: its reply, ready to send.
    Served(Vec<u8>),
    TimedOut,
    /// CLIENT UNBLOCK; `error` for its ERROR form.
    Unblocked {
        error: bool,
    },
    /// The command must be run again by its own connection (see the module doc).
    Retry,
    /// The connection closed.
    Gone,
}

#[derive(Debug)]
enum State {
    Waiting,
    /// A writer is running the waiter's command for it.
    Serving,
    Done(Option<Outcome>),
}

/// A parked client and what it waits for.
#[derive(Debug)]
pub struct Waiter {
    pub client: Arc<ClientShared>,
    pub db: usize,
    /// The keys it waits on, without duplicates, in the order given.
    pub keys: Vec<Key>,
    /// Every shard its command needs (source and destination keys).
    shards: Vec<usize>,
    pub cmd: Command,
    pub spec: &'static CommandSpec,
    protocol: Protocol,
    pub deadline: Option<i64>,
    pub on_timeout: OnTimeout,
    /// What can feed it.
    wants: Wants,
    registered: AtomicBool,
    state: Mutex<State>,
}

impl Waiter {
    /// Waiting -> Serving: a writer takes the waiter to run its command.
    fn claim(&self) -> bool {
        let mut state = self.state.lock();
        if matches!(*state, State::Waiting) {
            *state = State::Serving;
            return true;
        }
        false
    }

    /// Serving -> Waiting: the command found nothing after all.
    fn release(&self) {
        *self.state.lock() = State::Waiting;
    }

    /// Serving -> Done.
    fn complete(&self, outcome: Outcome) {
        *self.state.lock() = State::Done(Some(outcome));
    }

    /// Waiting -> Done, for the connection (timeout, close) and CLIENT UNBLOCK. False
    /// when a writer is serving the waiter or it is already done.
    pub fn try_finish(&self, outcome: Outcome) -> bool {
        let mut state = self.state.lock();
        if matches!(*state, State::Waiting) {
            *state = State::Done(Some(outcome));
            return true;
        }
        false
    }

    /// The outcome, once there is one (taken once).
    pub fn take_outcome(&self) -> Option<Outcome> {
        match &mut *self.state.lock() {
            State::Done(outcome) => outcome.take(),
            _ => None,
        }
    }

    /// Whether running its command now may serve it. Stream readers always run: the
    /// command itself tells new entries from none, and a vanished key or group is an
    /// answer too (an error for group readers).
    fn may_be_fed_by(&self, value: Option<&Value>) -> bool {
        match (self.wants, value) {
            (Wants::Stream, _) => true,
            (Wants::List, Some(Value::List(l))) => !l.is_empty(),
            (Wants::ZSet, Some(Value::ZSet(z))) => !z.is_empty(),
            _ => false,
        }
    }
}

/// What feeds a waiter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wants {
    List,
    ZSet,
    /// XREAD, XREADGROUP.
    Stream,
}

/// Waiters per (database, key), in arrival order.
type Queues = HashMap<(usize, Key), VecDeque<Arc<Waiter>>>;

/// The waiters of every key, in arrival order.
#[derive(Debug, Default)]
pub struct BlockedKeys {
    queues: Mutex<Queues>,
    count: AtomicUsize,
}

impl BlockedKeys {
    /// Clients blocked now (INFO `blocked_clients`).
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    fn register(&self, waiter: &Arc<Waiter>) {
        let mut queues = self.queues.lock();
        for key in &waiter.keys {
            queues
                .entry((waiter.db, key.clone()))
                .or_default()
                .push_back(waiter.clone());
        }
        waiter.registered.store(true, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Removes a waiter from every queue (once, whoever calls first).
    pub fn unregister(&self, waiter: &Waiter) {
        if !waiter.registered.swap(false, Ordering::Relaxed) {
            return;
        }
        let mut queues = self.queues.lock();
        for key in &waiter.keys {
            let slot = (waiter.db, key.clone());
            if let Some(queue) = queues.get_mut(&slot) {
                queue.retain(|w| !std::ptr::eq(&**w, waiter));
                if queue.is_empty() {
                    queues.remove(&slot);
                }
            }
        }
        self.count.fetch_sub(1, Ordering::Relaxed);
    }

    /// The waiters of a key, in arrival order.
    fn waiters_of(&self, db: usize, key: &[u8]) -> Vec<Arc<Waiter>> {
        let queues = self.queues.lock();
        queues
            .get(&(db, Key::from_slice(key)))
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The keys of database `db` that have waiters (SWAPDB re-checks them all).
    pub fn keys_in(&self, db: usize) -> Vec<Key> {
        let queues = self.queues.lock();
        queues
            .keys()
            .filter(|(d, _)| *d == db)
            .map(|(_, k)| k.clone())
            .collect()
    }
}

/// Serves the waiters of every key the command made ready, in arrival order, while the
/// command's shard locks are still held. Each waiter that may be fed runs its command;
/// those that still find nothing stay parked (a list waiter after the list ran dry, a
/// group reader whose group's new entries went to an earlier reader).
pub fn serve_ready<'a>(server: &'a Server, keys: &mut KeyAccess<'a>) {
    while let Some((db, key)) = keys.ready.pop_front() {
        for waiter in server.blocked.waiters_of(db, &key) {
            let fed = waiter.may_be_fed_by(keys.peek_in(db, &key).map(|e| &e.value));
            if !fed {
                continue;
            }
            if !waiter.claim() {
                // Timed out, closed, or served through another key a moment ago.
                server.blocked.unregister(&waiter);
                continue;
            }
            if !keys.locked.try_add(&server.keyspace, &waiter.shards) {
                finish(server, &waiter, Outcome::Retry);
                continue;
            }
            match run_for(server, keys, &waiter, &key) {
                Some(reply) => finish(server, &waiter, Outcome::Served(reply)),
                None => waiter.release(),
            }
        }
    }
}

fn finish(server: &Server, waiter: &Waiter, outcome: Outcome) {
    waiter.complete(outcome);
    server.blocked.unregister(waiter);
    waiter.client.wake.notify_one();
}

/// Runs the waiter's command on its behalf; its reply, or `None` if it would still block.
fn run_for(
    server: &Server,
    keys: &mut KeyAccess,
    waiter: &Waiter,
    ready_key: &[u8],
) -> Option<Vec<u8>> {
    let narrowed;
    let cmd = if waiter.wants == Wants::Stream {
        narrowed = crate::commands::stream_read::command_for_key(&waiter.cmd, ready_key);
        &narrowed
    } else {
        &waiter.cmd
    };
    let mut client = ClientState::new(waiter.client.clone(), true);
    client.db = waiter.db;
    let mut out = ReplyWriter::new(waiter.protocol);
    let saved_db = std::mem::replace(&mut keys.db, waiter.db);
    let dirty_before = keys.dirty;
    let effects_before = keys.effects.len();
    let mut ctx = Ctx {
        server,
        client: &mut client,
        cmd,
        spec: waiter.spec,
        out: &mut out,
        keys,
        stats: &server.side_stats,
        mode: BlockMode::Serving,
        still_blocked: false,
    };
    let result = crate::commands::handler(waiter.spec.id)(&mut ctx);
    let still_blocked = ctx.still_blocked;
    // The waiter's effect (LPOP for a BLPOP...) follows the writer's in the stream.
    keys.seal_effect(cmd, dirty_before);
    // Redis propagates each served client's several effects as their own transaction.
    keys.wrap_in_multi(effects_before);
    keys.db = saved_db;
    if still_blocked {
        return None;
    }
    if let Err(error) = result {
        // A woken command that fails counts as a failed call, as in Redis.
        server.side_stats.commands[waiter.spec.id as usize]
            .failed_calls
            .fetch_add(1, Ordering::Relaxed);
        server.count_error(&error.message());
        out.error_bytes(&error.message_bytes());
    }
    Some(out.buf.to_vec())
}
