//! The server's shared state: configuration, keyspace, clients, statistics, slow log,
//! monitors, pause state. One `Arc<Server>` is shared by every thread.

use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, Notify};

use lodestone_spec::{CommandSpec, COMMANDS};

use crate::client::Clients;
use crate::config::Config;
use crate::keyspace::Keyspace;

/// Adds `n` to a counter that only the calling thread writes: a plain load and store,
/// not a locked read-modify-write, because it sits on the path of every command.
#[inline]
pub fn bump(counter: &AtomicU64, n: u64) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(n),
        Ordering::Relaxed,
    );
}

/// Counters of one command on one worker thread.
#[derive(Debug, Default)]
pub struct CommandStats {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected_calls: AtomicU64,
    pub failed_calls: AtomicU64,
}

/// Statistics one worker thread updates; only that thread writes them, so the atomics
/// never bounce between cores. INFO adds up every thread's.
#[derive(Debug)]
pub struct ThreadStats {
    pub commands: Box<[CommandStats]>,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    /// INFO `keyspace_hits`/`keyspace_misses` (nearly every command changes one).
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
}

impl ThreadStats {
    pub fn new() -> ThreadStats {
        ThreadStats {
            commands: COMMANDS.iter().map(|_| CommandStats::default()).collect(),
            net_input_bytes: AtomicU64::new(0),
            net_output_bytes: AtomicU64::new(0),
            keyspace_hits: AtomicU64::new(0),
            keyspace_misses: AtomicU64::new(0),
        }
    }
}

impl Default for ThreadStats {
    fn default() -> Self {
        Self::new()
    }
}

/// Server-wide counters that change rarely enough to share.
#[derive(Debug, Default)]
pub struct GlobalStats {
    pub total_connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub expired_keys: AtomicU64,
    pub expired_stale_perc: AtomicU64,
    pub expired_time_cap_reached_count: AtomicU64,
    pub total_error_replies: AtomicU64,
    pub unexpected_error_replies: AtomicU64,
    pub client_query_buffer_limit_disconnections: AtomicU64,
    pub errors: Mutex<HashMap<String, u64>>,
}

/// One slow log entry.
#[derive(Debug, Clone)]
pub struct SlowlogEntry {
    pub id: u64,
    pub time_s: i64,
    pub duration_us: i64,
    pub args: Vec<Vec<u8>>,
    pub peer: String,
    pub name: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct Slowlog {
    pub entries: VecDeque<SlowlogEntry>,
    pub next_id: u64,
}

/// CLIENT PAUSE state.
#[derive(Debug, Default)]
pub struct Pause {
    /// Fast check on every command.
    pub active: AtomicBool,
    pub state: Mutex<PauseState>,
    pub resumed: Notify,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct PauseState {
    pub end_ms: i64,
    /// Only write commands are paused (`CLIENT PAUSE ... WRITE`).
    pub write_only: bool,
}

/// How many samples the instantaneous rates average over (as Redis).
pub const METRIC_SAMPLES: usize = 16;

/// One instantaneous rate: per-second rates measured between cron ticks.
#[derive(Debug, Default, Clone, Copy)]
pub struct MetricSeries {
    pub last_time_ms: i64,
    pub last_count: u64,
    pub samples: [u64; METRIC_SAMPLES],
    pub next: usize,
}

/// Sampled metrics for INFO: commands, input and output bytes per second, and the memory
/// peak. The cron records, INFO reads (see `commands::info`).
#[derive(Debug, Default)]
pub struct Metrics {
    /// Commands, net input bytes, net output bytes.
    pub series: Mutex<[MetricSeries; 3]>,
    pub peak_memory: AtomicU64,
    /// Allocated bytes when the server started (INFO `used_memory_startup`).
    pub startup_memory: AtomicU64,
}

/// A lookup table from command names to specs, built from the static table.
#[derive(Debug)]
pub struct CommandTable {
    top: NameMap<&'static CommandSpec>,
    subs: NameMap<NameMap<&'static CommandSpec>>,
    /// Indexed by `CommandId`: whether the command is a container of subcommands.
    is_container: Vec<bool>,
}

/// Command names are looked up on every request: a fast hasher, not SipHash.
type NameMap<V> = HashMap<&'static [u8], V, ahash::RandomState>;

impl CommandTable {
    fn new() -> CommandTable {
        let mut top = NameMap::default();
        let mut subs: NameMap<NameMap<&'static CommandSpec>> = NameMap::default();
        for spec in COMMANDS {
            match spec.container {
                None => {
                    top.insert(spec.name.as_bytes(), spec);
                }
                Some(parent) => {
                    subs.entry(parent.as_bytes())
                        .or_default()
                        .insert(spec.name.as_bytes(), spec);
                }
            }
        }
        let is_container = COMMANDS
            .iter()
            .map(|c| subs.contains_key(c.name.as_bytes()) && c.container.is_none())
            .collect();
        CommandTable {
            top,
            subs,
            is_container,
        }
    }

    /// The top-level command named `name` (any case).
    pub fn lookup(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        // A pipeline mostly repeats one command: checking the thread's last answer
        // first costs a few instructions where hashing the name costs ~150. The table
        // is built from the static command list alone, so the answer holds for any
        // `CommandTable`.
        thread_local! {
            static LAST: std::cell::Cell<Option<&'static CommandSpec>> =
                const { std::cell::Cell::new(None) };
        }
        if let Some(last) = LAST.get() {
            if last.name.as_bytes().eq_ignore_ascii_case(name) {
                return Some(last);
            }
        }
        let found = self.lookup_uncached(name);
        if found.is_some() {
            LAST.set(found);
        }
        found
    }

    fn lookup_uncached(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        let mut buf = [0u8; 32];
        if name.len() > buf.len() {
            return None;
        }
        let lower = &mut buf[..name.len()];
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        self.top.get(&*lower).copied()
    }

    /// The subcommand `sub` of `container`, if `container` has subcommands.
    pub fn lookup_sub(&self, container: &str, sub: &[u8]) -> Option<&'static CommandSpec> {
        let subs = self.subs.get(container.as_bytes())?;
        subs.get(sub.to_ascii_lowercase().as_slice()).copied()
    }

    pub fn has_subcommands(&self, spec: &CommandSpec) -> bool {
        self.is_container[spec.id as usize]
    }

    /// Subcommands of a container, in table order.
    pub fn subcommands_of(&self, container: &str) -> Vec<&'static CommandSpec> {
        COMMANDS
            .iter()
            .filter(|c| c.container == Some(container))
            .collect()
    }
}

/// Everything shared between threads.
#[derive(Debug)]
pub struct Server {
    pub config: Config,
    pub keyspace: Keyspace,
    pub clients: Clients,
    pub commands: CommandTable,
    pub stats: GlobalStats,
    pub thread_stats: Mutex<Vec<Arc<ThreadStats>>>,
    pub slowlog: Mutex<Slowlog>,
    pub monitors: Mutex<Vec<(u64, mpsc::UnboundedSender<bytes::Bytes>)>>,
    pub monitor_count: AtomicUsize,
    /// Clients parked by blocking pops, per key.
    pub blocked: crate::blocking::BlockedKeys,
    pub effects: crate::effects::EffectStream,
    pub watched: crate::watch::WatchedKeys,
    pub pubsub: crate::pubsub::PubSub,
    pub scripting: crate::scripting::Scripting,
    /// Statistics of commands run outside any connection's thread accounting (a
    /// waiter's command re-run by the writer that fed it).
    pub side_stats: Arc<ThreadStats>,
    pub pause: Pause,
    pub shutdown: Notify,
    pub shutting_down: AtomicBool,
    pub start_ms: i64,
    pub run_id: String,
    pub port: AtomicU64,
    pub threads: usize,
    /// Writes since the last save (INFO `rdb_changes_since_last_save`).
    pub dirty: AtomicU64,
    pub lastsave_s: AtomicI64,
    /// Whether the last save succeeded (INFO `rdb_last_bgsave_status`).
    pub last_save_ok: AtomicBool,
    /// How a SHUTDOWN asked to treat the save: 0 by the config, 1 SAVE, 2 NOSAVE.
    pub shutdown_save: std::sync::atomic::AtomicU8,
    /// Background snapshots (BGSAVE, AOF rewrites).
    pub snapshots: crate::snapshot::Snapshots,
    /// The append-only file.
    pub aof: crate::aof::Aof,
    /// The dataset load at startup (INFO `loading`, `-LOADING`).
    pub loading: crate::loading::Loading,
    /// The server's own `Arc`, for background threads started from a command.
    me: std::sync::OnceLock<std::sync::Weak<Server>>,
    pub active_expire_enabled: AtomicBool,
    pub executable: String,
    pub metrics: Metrics,
    /// The replication id (INFO `master_replid`; DEBUG CHANGE-REPL-ID renews it).
    pub replid: Mutex<String>,
    /// Hands freshly bound listeners to the accept loop (CONFIG SET port/bind).
    pub rebind: Mutex<Option<mpsc::UnboundedSender<Vec<std::net::TcpListener>>>>,
}

impl Server {
    /// PUBLISH: delivers to the channel's and matching patterns' subscribers.
    pub fn publish(&self, channel: &[u8], message: &[u8]) -> usize {
        let limits = &self.config.hot.pubsub_output_limits;
        self.pubsub.publish(limits, channel, message)
    }

    /// The keyspace event classes enabled (`notify-keyspace-events`).
    pub fn notify_flags(&self) -> u32 {
        self.config
            .hot
            .notify_keyspace_events
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Wraps the server in its `Arc` and lets it hand that out ([`Server::me`]).
    pub fn into_arc(self) -> Arc<Server> {
        let server = Arc::new(self);
        let _ = server.me.set(Arc::downgrade(&server));
        server
    }

    /// The server's own `Arc` (None if it was not made by [`Server::into_arc`]).
    pub fn me(&self) -> Option<Arc<Server>> {
        self.me.get().and_then(std::sync::Weak::upgrade)
    }

    pub fn new(config: Config, threads: usize) -> Server {
        let side_stats = Arc::new(ThreadStats::new());
        let databases = config.get_i64("databases").max(1) as usize;
        let now = lodestone_util::clock::now_ms();
        Server {
            keyspace: Keyspace::new(databases),
            config,
            clients: Clients::default(),
            commands: CommandTable::new(),
            stats: GlobalStats::default(),
            thread_stats: Mutex::new(vec![side_stats.clone()]),
            slowlog: Mutex::new(Slowlog::default()),
            monitors: Mutex::new(Vec::new()),
            monitor_count: AtomicUsize::new(0),
            blocked: Default::default(),
            effects: Default::default(),
            watched: Default::default(),
            pubsub: Default::default(),
            scripting: Default::default(),
            side_stats,
            pause: Pause::default(),
            shutdown: Notify::new(),
            shutting_down: AtomicBool::new(false),
            start_ms: now,
            run_id: random_hex(40),
            port: AtomicU64::new(0),
            threads,
            dirty: AtomicU64::new(0),
            lastsave_s: AtomicI64::new(now / 1000),
            last_save_ok: AtomicBool::new(true),
            shutdown_save: std::sync::atomic::AtomicU8::new(0),
            snapshots: Default::default(),
            loading: Default::default(),
            aof: Default::default(),
            me: std::sync::OnceLock::new(),
            active_expire_enabled: AtomicBool::new(true),
            rebind: Mutex::new(None),
            executable: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            metrics: Metrics::default(),
            replid: Mutex::new(random_hex(40)),
        }
    }

    /// Registers a worker thread's statistics.
    pub fn register_thread_stats(&self) -> Arc<ThreadStats> {
        let stats = Arc::new(ThreadStats::new());
        self.thread_stats.lock().push(stats.clone());
        stats
    }

    /// Counts an error reply under its code (INFO errorstats).
    pub fn count_error(&self, message: &str) {
        self.stats
            .total_error_replies
            .fetch_add(1, Ordering::Relaxed);
        let code = crate::errors::Error::code(message).to_string();
        *self.stats.errors.lock().entry(code).or_insert(0) += 1;
    }

    /// Asks the server to stop; the main thread exits once it sees this.
    pub fn request_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        self.shutdown.notify_waiters();
        self.shutdown.notify_one();
    }

    /// Whether the LRU clock in seconds (OBJECT IDLETIME).
    pub fn lru_clock_s(now_ms: i64) -> u32 {
        (now_ms / 1000) as u32
    }
}

/// `len` random hex characters (run ids).
pub fn random_hex(len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}
