//! Clients: the per-connection state a connection task owns ([`ClientState`]) and the
//! part other threads may read or signal ([`ClientShared`], for CLIENT LIST/KILL, MONITOR
//! and, later, blocking and pub/sub wake-ups).

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

use lodestone_resp::Protocol;

/// CLIENT REPLY mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    Skip,
    /// Set by SKIP while its own reply is sent; becomes `SkipNext`'s target.
    SkipArmed,
}

/// Per-connection state owned by the connection's task.
#[derive(Debug)]
pub struct ClientState {
    pub shared: Arc<ClientShared>,
    pub db: usize,
    pub authenticated: bool,
    pub reply_mode: ReplyMode,
    /// Close the connection once the pending replies are written (QUIT, protocol error).
    pub close_after_reply: bool,
    /// The clock as the previous command of this batch of pipelined requests ended: the
    /// next command starts from it instead of reading the clock again (one reading per
    /// command instead of two). Cleared whenever the connection waits.
    pub clock_us: Option<i64>,
    /// MONITOR was issued: the connection only receives the monitor stream now.
    pub monitor: bool,
    /// Parked by a blocking pop: the connection waits for its outcome before reading
    /// the next request.
    pub blocked: Option<Arc<crate::blocking::Waiter>>,
    /// Inside MULTI: the commands queued for EXEC.
    pub multi: Option<Multi>,
    /// Keys this client WATCHes, with whether each was live when watched.
    pub watched: Vec<(usize, lodestone_store::Key)>,
    /// Its pub/sub subscriptions and mailbox, from its first (P|S)SUBSCRIBE on.
    pub pubsub: Option<Box<crate::pubsub::Subscriptions>>,
    /// The reply just written is a push (a subscription confirmation), which CLIENT
    /// REPLY OFF does not silence.
    pub reply_is_push: bool,
    /// A script found it needs every shard before writing anything: `process_command`
    /// runs it again holding them all.
    pub script_restart: bool,
    /// A script of this client is running: the commands it calls are the script's.
    pub in_script: bool,
    /// Replays an effect stream (the AOF loader's client; `DEBUG SET-REPLAYING` for
    /// tests): its commands run with expiry suspended, as Redis runs them while loading
    /// (see [`crate::ctx::KeyAccess::no_expiry`]). Keys whose TTL passed while the stream
    /// waited on disk expire once a normal client or the active cycle meets them.
    pub replaying: bool,
}

/// A transaction being queued.
#[derive(Debug, Default)]
pub struct Multi {
    pub queued: Vec<(
        lodestone_resp::Command,
        &'static lodestone_spec::CommandSpec,
    )>,
    /// A queued command was refused (unknown, wrong arity...): EXEC aborts.
    pub errored: bool,
}

impl ClientState {
    pub fn new(shared: Arc<ClientShared>, authenticated: bool) -> ClientState {
        ClientState {
            shared,
            db: 0,
            authenticated,
            reply_mode: ReplyMode::On,
            close_after_reply: false,
            clock_us: None,
            monitor: false,
            blocked: None,
            multi: None,
            watched: Vec::new(),
            pubsub: None,
            reply_is_push: false,
            script_restart: false,
            in_script: false,
            replaying: false,
        }
    }

    /// In the subscribed context: a RESP2 client may only run the pub/sub commands.
    pub fn subscribed(&self) -> bool {
        self.pubsub.as_ref().is_some_and(|subs| subs.active())
    }

    /// The client's subscriptions, created on first use.
    pub fn subscriptions(&mut self) -> &mut crate::pubsub::Subscriptions {
        let shared = &self.shared;
        self.pubsub
            .get_or_insert_with(|| Box::new(crate::pubsub::Subscriptions::new(shared.clone())))
    }

    pub fn protocol(&self) -> Protocol {
        if self.shared.resp.load(Ordering::Relaxed) == 3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        }
    }
}

/// What other threads can see of a client and how they can signal it.
#[derive(Debug)]
pub struct ClientShared {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: i32,
    pub created_ms: i64,
    pub name: Mutex<Vec<u8>>,
    pub lib_name: Mutex<Vec<u8>>,
    pub lib_ver: Mutex<Vec<u8>>,
    pub db: AtomicUsize,
    pub resp: AtomicU8,
    pub last_interaction_ms: AtomicI64,
    /// Index in the command table of the last command + 1 (0: none yet).
    pub last_command: AtomicUsize,
    pub query_buffer: AtomicUsize,
    pub query_buffer_free: AtomicUsize,
    pub output_buffer: AtomicUsize,
    pub no_evict: AtomicBool,
    pub is_monitor: AtomicBool,
    /// Set by CLIENT KILL or shutdown; the task closes the connection when woken.
    pub killed: AtomicBool,
    pub wake: Notify,
    /// The wait of a client parked by a blocking pop (CLIENT UNBLOCK, CLIENT LIST `b`).
    pub blocked_on: Mutex<Option<Arc<crate::blocking::Waiter>>>,
    /// A watched key changed: the next EXEC fails (Redis's CLIENT_DIRTY_CAS).
    pub dirty_cas: AtomicBool,
    /// Inside MULTI (CLIENT LIST `x` flag).
    pub in_multi: AtomicBool,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    /// Channels, patterns and shard channels subscribed (CLIENT LIST `sub`, `psub`,
    /// `ssub`).
    pub subscriptions: [AtomicUsize; 3],
}

impl ClientShared {
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Relaxed)
    }
}

/// The registry of connected clients.
#[derive(Debug, Default)]
pub struct Clients {
    map: Mutex<BTreeMap<u64, Arc<ClientShared>>>,
    next_id: AtomicU64,
}

impl Clients {
    /// Registers a new connection and returns its shared part.
    pub fn register(&self, addr: String, laddr: String, fd: i32, now_ms: i64) -> Arc<ClientShared> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let shared = Arc::new(ClientShared {
            id,
            addr,
            laddr,
            fd,
            created_ms: now_ms,
            name: Mutex::new(Vec::new()),
            lib_name: Mutex::new(Vec::new()),
            lib_ver: Mutex::new(Vec::new()),
            db: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            last_interaction_ms: AtomicI64::new(now_ms),
            last_command: AtomicUsize::new(0),
            query_buffer: AtomicUsize::new(0),
            query_buffer_free: AtomicUsize::new(0),
            output_buffer: AtomicUsize::new(0),
            no_evict: AtomicBool::new(false),
            is_monitor: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            wake: Notify::new(),
            blocked_on: Mutex::new(None),
            dirty_cas: AtomicBool::new(false),
            in_multi: AtomicBool::new(false),
            net_input_bytes: AtomicU64::new(0),
            net_output_bytes: AtomicU64::new(0),
            subscriptions: Default::default(),
        });
        self.map.lock().insert(id, shared.clone());
        shared
    }

    pub fn unregister(&self, id: u64) {
        self.map.lock().remove(&id);
    }

    // The views below leave out killed clients. A killed client's task may take a
    // moment to notice and unregister it, but Redis frees a killed client at once (or
    // before its next event-loop turn): the next command must not see it, nor count it
    // in connected_clients (CLIENT LIST would show a subscriber closed for its output
    // limit with its buffer already dropped).
    pub fn count(&self) -> usize {
        self.map.lock().values().filter(|c| !c.is_killed()).count()
    }

    /// A snapshot of every live client, in id order.
    pub fn all(&self) -> Vec<Arc<ClientShared>> {
        self.map
            .lock()
            .values()
            .filter(|c| !c.is_killed())
            .cloned()
            .collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientShared>> {
        self.map.lock().get(&id).filter(|c| !c.is_killed()).cloned()
    }
}
