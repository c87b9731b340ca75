//! Pub/Sub delivery: who listens to what, and the mailbox each subscriber reads.
//!
//! The registry keeps three maps (channels, patterns, shard channels) from a name to the
//! mailboxes of the clients subscribed to it, each behind a read-write lock: PUBLISH only
//! reads, so publishers on every thread run side by side.
//!
//! A [`Mailbox`] is one byte buffer per subscribing client. A publisher encodes a message
//! once per protocol version and appends it to every receiver's mailbox, then wakes the
//! receiver's connection task if the mailbox was empty; the task moves the bytes to its
//! socket. Appends from one publisher happen in its program order, so each subscriber
//! sees one publisher's messages in the order they were published, whatever threads the
//! two run on.
//!
//! Subscription confirmations are the command's reply, written before the connection
//! looks at its mailbox again: a message to a channel always follows the confirmation
//! that the subscriber listens to it. Messages that reach a mailbox while its own client
//! runs another command go out before that command's reply, as Redis writes them when
//! they happen; inside EXEC they follow the whole reply (7.0 wrote them in the middle
//! of the EXEC array, which 7.2 fixed).
//!
//! `client-output-buffer-limit pubsub` is enforced on append: a subscriber whose unread
//! bytes pass the hard limit, or stay above the soft limit for longer than its seconds,
//! is closed and its mailbox freed, so a reader that stalls costs at most the hard limit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use indexmap::{IndexMap, IndexSet};
use lodestone_resp::{Protocol, ReplyWriter};
use parking_lot::{Mutex, RwLock};

use crate::client::ClientShared;

/// The three namespaces a client can subscribe in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    fn subscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"subscribe",
            Kind::Pattern => b"psubscribe",
            Kind::Shard => b"ssubscribe",
        }
    }

    fn unsubscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"unsubscribe",
            Kind::Pattern => b"punsubscribe",
            Kind::Shard => b"sunsubscribe",
        }
    }
}

/// The pubsub class of `client-output-buffer-limit`: 0 means no limit.
#[derive(Debug, Default)]
pub struct OutputLimits {
    pub hard_bytes: AtomicU64,
    pub soft_bytes: AtomicU64,
    pub soft_seconds: AtomicU64,
}

impl OutputLimits {
    pub fn new(hard_bytes: u64, soft_bytes: u64, soft_seconds: u64) -> OutputLimits {
        OutputLimits {
            hard_bytes: AtomicU64::new(hard_bytes),
            soft_bytes: AtomicU64::new(soft_bytes),
            soft_seconds: AtomicU64::new(soft_seconds),
        }
    }

    pub fn set(&self, hard_bytes: u64, soft_bytes: u64, soft_seconds: u64) {
        self.hard_bytes.store(hard_bytes, Ordering::Relaxed);
        self.soft_bytes.store(soft_bytes, Ordering::Relaxed);
        self.soft_seconds.store(soft_seconds, Ordering::Relaxed);
    }
}

/// Bytes waiting for one subscriber's connection task.
#[derive(Debug)]
pub struct Mailbox {
    pub client: Arc<ClientShared>,
    pending: Mutex<Pending>,
    /// Bytes taken out of the mailbox and not yet written to the socket: they count
    /// against the output limit too.
    in_flight: AtomicUsize,
    /// The last write found the socket full (the client is not reading).
    socket_blocked: std::sync::atomic::AtomicBool,
}

#[derive(Debug, Default)]
struct Pending {
    buf: Vec<u8>,
    /// When the soft limit was first seen exceeded (ms), 0 when it is not.
    soft_since_ms: i64,
    /// Closed for passing a limit: further messages are dropped.
    closed: bool,
}

impl Mailbox {
    pub fn new(client: Arc<ClientShared>) -> Arc<Mailbox> {
        Arc::new(Mailbox {
            client,
            pending: Mutex::new(Pending::default()),
            in_flight: AtomicUsize::new(0),
            socket_blocked: Default::default(),
        })
    }

    /// Appends a published message, closing the client if it passes its limits.
    /// None when the client was already closed (the message is not counted as
    /// received: Redis would have freed it); else whether the client has just gone
    /// over its soft limit (the cron then watches it: the limit must close it even if
    /// no more messages come).
    fn deliver(
        &self,
        bytes: &[u8],
        limits: &OutputLimits,
        now_ms: i64,
        stats: &PubSubStats,
    ) -> Option<bool> {
        let (wake, close, went_soft) = {
            let mut pending = self.pending.lock();
            if pending.closed {
                return None;
            }
            let wake = pending.buf.is_empty();
            pending.buf.extend_from_slice(bytes);
            let was_soft = pending.soft_since_ms != 0;
            let close = self.check_limits(&mut pending, limits, now_ms);
            (wake, close, !was_soft && pending.soft_since_ms != 0)
        };
        self.publish_size();
        if let Some(used) = close {
            self.close(stats, used);
        } else if wake {
            self.client.wake.notify_one();
        }
        Some(went_soft && close.is_none())
    }

    fn is_closed(&self) -> bool {
        self.pending.lock().closed
    }

    /// Applies the limits to what is unread now; the bytes unread (and the mailbox
    /// emptied and closed) when the client must go.
    fn check_limits(
        &self,
        pending: &mut Pending,
        limits: &OutputLimits,
        now_ms: i64,
    ) -> Option<u64> {
        let used = (pending.buf.len() + self.in_flight.load(Ordering::Relaxed)) as u64;
        let blocked = self.socket_blocked.load(Ordering::Relaxed);
        if !over_limits(pending, used, blocked, limits, now_ms) {
            return None;
        }
        pending.closed = true;
        pending.buf = Vec::new();
        Some(used)
    }

    fn close(&self, stats: &PubSubStats, used: u64) {
        stats
            .output_limit_disconnections
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            "Client id={} addr={} omem={used} closed for overcoming of output buffer limits.",
            self.client.id,
            self.client.addr
        );
        self.client.kill();
    }

    /// The cron's check of a client that was over its soft limit: closes it once the
    /// limit has held long enough; false once it no longer needs watching.
    fn recheck(&self, limits: &OutputLimits, now_ms: i64, stats: &PubSubStats) -> bool {
        let close = {
            let mut pending = self.pending.lock();
            if pending.closed {
                return false;
            }
            match self.check_limits(&mut pending, limits, now_ms) {
                Some(used) => used,
                None => return pending.soft_since_ms != 0,
            }
        };
        self.publish_size();
        self.close(stats, close);
        false
    }

    /// Moves every pending byte to the end of `out`; returns whether there were any.
    /// Everything in `out` counts as in flight from then on, in the same step, so the
    /// client's output size never seems to dip while bytes change hands.
    pub fn drain_into(&self, out: &mut bytes::BytesMut) -> bool {
        let mut pending = self.pending.lock();
        if pending.buf.is_empty() {
            return false;
        }
        out.extend_from_slice(&pending.buf);
        pending.buf.clear();
        self.in_flight.store(out.len(), Ordering::Relaxed);
        // A burst must not pin its peak capacity for the life of the connection.
        if pending.buf.capacity() > 64 * 1024 {
            pending.buf = Vec::new();
        }
        drop(pending);
        self.publish_size();
        true
    }

    /// Takes every pending byte.
    pub fn take(&self) -> Vec<u8> {
        let taken = std::mem::take(&mut self.pending.lock().buf);
        self.publish_size();
        taken
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.lock().buf.is_empty()
    }

    pub fn set_socket_blocked(&self, blocked: bool) {
        self.socket_blocked.store(blocked, Ordering::Relaxed);
    }

    /// Records how many bytes the connection is writing (0 once written).
    pub fn set_in_flight(&self, bytes: usize) {
        let pending = self.pending.lock();
        self.in_flight.store(bytes, Ordering::Relaxed);
        let total = pending.buf.len() + bytes;
        self.client.output_buffer.store(total, Ordering::Relaxed);
    }

    /// Mirrors the unread bytes into CLIENT LIST's `omem`.
    fn publish_size(&self) {
        let pending = self.pending.lock();
        let total = pending.buf.len() + self.in_flight.load(Ordering::Relaxed);
        self.client.output_buffer.store(total, Ordering::Relaxed);
    }
}

/// Redis's rule: the hard limit closes at once; the soft limit only once it has been
/// exceeded for longer than its seconds without a break. Both apply while the client's
/// socket is full (it does not read); a backlog that builds while its connection task
/// merely waits for a busy thread is allowed up to four times the hard limit, so memory
/// stays bounded either way.
fn over_limits(
    pending: &mut Pending,
    used: u64,
    socket_blocked: bool,
    limits: &OutputLimits,
    now_ms: i64,
) -> bool {
    let hard = limits.hard_bytes.load(Ordering::Relaxed);
    if hard != 0 && (used >= hard.saturating_mul(4) || (socket_blocked && used >= hard)) {
        return true;
    }
    if !socket_blocked {
        pending.soft_since_ms = 0;
        return false;
    }
    let soft = limits.soft_bytes.load(Ordering::Relaxed);
    if soft == 0 || used < soft {
        pending.soft_since_ms = 0;
        return false;
    }
    if pending.soft_since_ms == 0 {
        pending.soft_since_ms = now_ms;
        return false;
    }
    let seconds = limits.soft_seconds.load(Ordering::Relaxed) as i64;
    now_ms - pending.soft_since_ms > seconds * 1000
}

/// What one client is subscribed to, kept by its connection.
#[derive(Debug)]
pub struct Subscriptions {
    pub mailbox: Arc<Mailbox>,
    pub channels: IndexSet<Vec<u8>>,
    pub patterns: IndexSet<Vec<u8>>,
    pub shard: IndexSet<Vec<u8>>,
}

impl Subscriptions {
    pub fn new(client: Arc<ClientShared>) -> Subscriptions {
        Subscriptions {
            mailbox: Mailbox::new(client),
            channels: IndexSet::new(),
            patterns: IndexSet::new(),
            shard: IndexSet::new(),
        }
    }

    fn names(&mut self, kind: Kind) -> &mut IndexSet<Vec<u8>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }

    /// The count Redis reports in (un)subscribe confirmations: classic channels and
    /// patterns together, shard channels on their own.
    fn count_for(&self, kind: Kind) -> usize {
        match kind {
            Kind::Channel | Kind::Pattern => self.channels.len() + self.patterns.len(),
            Kind::Shard => self.shard.len(),
        }
    }

    /// Whether the client is in the subscribed context (RESP2 restrictions apply).
    pub fn active(&self) -> bool {
        !(self.channels.is_empty() && self.patterns.is_empty() && self.shard.is_empty())
    }

    fn mirror_counts(&self) {
        let counts = &self.mailbox.client.subscriptions;
        counts[0].store(self.channels.len(), Ordering::Relaxed);
        counts[1].store(self.patterns.len(), Ordering::Relaxed);
        counts[2].store(self.shard.len(), Ordering::Relaxed);
    }
}

#[derive(Debug, Default)]
pub struct PubSubStats {
    pub output_limit_disconnections: AtomicU64,
}

type Listeners = Vec<Arc<Mailbox>>;

/// The server's registry of subscriptions.
#[derive(Debug, Default)]
pub struct PubSub {
    channels: RwLock<HashMap<Vec<u8>, Listeners>>,
    /// Insertion order, so a client matching several patterns gets them in the order
    /// they were first subscribed.
    patterns: RwLock<IndexMap<Vec<u8>, Listeners>>,
    shard: RwLock<HashMap<Vec<u8>, Listeners>>,
    /// Subscribers above their soft limit, which the cron re-checks.
    over_soft: Mutex<Vec<Arc<Mailbox>>>,
    pub stats: PubSubStats,
}

impl PubSub {
    /// Subscribes to one name and writes the confirmation.
    pub fn subscribe(
        &self,
        subs: &mut Subscriptions,
        kind: Kind,
        name: &[u8],
        out: &mut ReplyWriter,
    ) {
        let mailbox = subs.mailbox.clone();
        let added = subs.names(kind).insert(name.to_vec());
        if added {
            match kind {
                Kind::Pattern => self
                    .patterns
                    .write()
                    .entry(name.to_vec())
                    .or_default()
                    .push(mailbox),
                Kind::Channel | Kind::Shard => self
                    .map_of(kind)
                    .write()
                    .entry(name.to_vec())
                    .or_default()
                    .push(mailbox),
            }
        }
        confirmation(out, kind.subscribe_word(), Some(name), subs.count_for(kind));
        subs.mirror_counts();
    }

    /// Unsubscribes from one name; writes the confirmation when given `out`.
    pub fn unsubscribe(
        &self,
        subs: &mut Subscriptions,
        kind: Kind,
        name: &[u8],
        out: Option<&mut ReplyWriter>,
    ) {
        let id = subs.mailbox.client.id;
        if subs.names(kind).shift_remove(name) {
            match kind {
                Kind::Pattern => {
                    let mut map = self.patterns.write();
                    if let Some(list) = map.get_mut(name) {
                        list.retain(|m| m.client.id != id);
                        if list.is_empty() {
                            map.shift_remove(name);
                        }
                    }
                }
                Kind::Channel | Kind::Shard => {
                    let mut map = self.map_of(kind).write();
                    if let Some(list) = map.get_mut(name) {
                        list.retain(|m| m.client.id != id);
                        if list.is_empty() {
                            map.remove(name);
                        }
                    }
                }
            }
        }
        if let Some(out) = out {
            confirmation(
                out,
                kind.unsubscribe_word(),
                Some(name),
                subs.count_for(kind),
            );
        }
        subs.mirror_counts();
    }

    /// Unsubscribes from every name of a kind (UNSUBSCRIBE without arguments). With
    /// `out` and nothing to leave, Redis still confirms once, with a null name.
    pub fn unsubscribe_all(
        &self,
        subs: &mut Subscriptions,
        kind: Kind,
        mut out: Option<&mut ReplyWriter>,
    ) {
        let names: Vec<Vec<u8>> = subs.names(kind).iter().cloned().collect();
        for name in &names {
            self.unsubscribe(subs, kind, name, out.as_deref_mut());
        }
        if let (Some(out), true) = (out, names.is_empty()) {
            confirmation(out, kind.unsubscribe_word(), None, subs.count_for(kind));
        }
    }

    /// Leaves everything, silently (RESET, a closed connection).
    pub fn forget(&self, subs: &mut Subscriptions) {
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            self.unsubscribe_all(subs, kind, None);
        }
    }

    fn map_of(&self, kind: Kind) -> &RwLock<HashMap<Vec<u8>, Listeners>> {
        match kind {
            Kind::Shard => &self.shard,
            _ => &self.channels,
        }
    }

    /// Delivers a message to a channel's subscribers, then to every matching pattern's;
    /// returns how many deliveries were made (a client counted once per match).
    pub fn publish(&self, limits: &OutputLimits, channel: &[u8], message: &[u8]) -> usize {
        let now_ms = lodestone_util::clock::now_ms();
        let mut receivers = 0;
        {
            let map = self.channels.read();
            if let Some(listeners) = map.get(channel) {
                let mut encoded = Encoded::new(|w| write_message(w, b"message", channel, message));
                for mailbox in listeners {
                    receivers += self.deliver(mailbox, encoded.get(mailbox), limits, now_ms);
                }
            }
        }
        let patterns = self.patterns.read();
        for (pattern, listeners) in patterns.iter() {
            if !lodestone_util::glob::glob_match(pattern, channel, false) {
                continue;
            }
            let mut encoded = Encoded::new(|w| write_pattern_message(w, pattern, channel, message));
            for mailbox in listeners {
                receivers += self.deliver(mailbox, encoded.get(mailbox), limits, now_ms);
            }
        }
        receivers
    }

    /// SPUBLISH: shard channels have no patterns.
    pub fn publish_shard(&self, limits: &OutputLimits, channel: &[u8], message: &[u8]) -> usize {
        let now_ms = lodestone_util::clock::now_ms();
        let map = self.shard.read();
        let Some(listeners) = map.get(channel) else {
            return 0;
        };
        let mut encoded = Encoded::new(|w| write_message(w, b"smessage", channel, message));
        let mut receivers = 0;
        for mailbox in listeners {
            receivers += self.deliver(mailbox, encoded.get(mailbox), limits, now_ms);
        }
        receivers
    }

    /// Delivers to one subscriber; 1 if it received the message, 0 if it had already
    /// been closed for its output limits (its connection is on its way out).
    fn deliver(
        &self,
        mailbox: &Arc<Mailbox>,
        bytes: &[u8],
        limits: &OutputLimits,
        now_ms: i64,
    ) -> usize {
        match mailbox.deliver(bytes, limits, now_ms, &self.stats) {
            None => 0,
            Some(went_soft) => {
                if went_soft {
                    self.over_soft.lock().push(mailbox.clone());
                }
                1
            }
        }
    }

    /// The cron's pass over subscribers above their soft limit: closes those that
    /// stayed above it too long, even when no message arrives any more (Redis checks
    /// from its cron too).
    pub fn check_soft_limits(&self, limits: &OutputLimits) {
        let watched = std::mem::take(&mut *self.over_soft.lock());
        if watched.is_empty() {
            return;
        }
        let now_ms = lodestone_util::clock::now_ms();
        let still: Vec<Arc<Mailbox>> = watched
            .into_iter()
            .filter(|mailbox| mailbox.recheck(limits, now_ms, &self.stats))
            .collect();
        self.over_soft.lock().extend(still);
    }

    /// Channels (or shard channels) with at least one subscriber, matching `pattern`.
    pub fn channel_names(&self, shard: bool, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
        let map = self.map_of(if shard { Kind::Shard } else { Kind::Channel });
        map.read()
            .keys()
            .filter(|name| pattern.is_none_or(|p| lodestone_util::glob::glob_match(p, name, false)))
            .cloned()
            .collect()
    }

    pub fn subscriber_count(&self, shard: bool, channel: &[u8]) -> usize {
        let map = self.map_of(if shard { Kind::Shard } else { Kind::Channel });
        map.read().get(channel).map_or(0, |listeners| {
            listeners.iter().filter(|m| !m.is_closed()).count()
        })
    }

    /// Distinct patterns with subscribers (PUBSUB NUMPAT, INFO `pubsub_patterns`).
    pub fn pattern_count(&self) -> usize {
        self.patterns.read().len()
    }

    pub fn channel_count(&self, shard: bool) -> usize {
        self.map_of(if shard { Kind::Shard } else { Kind::Channel })
            .read()
            .len()
    }
}

/// A message encoded at most once per protocol version, on first need.
struct Encoded<F: Fn(&mut ReplyWriter)> {
    write: F,
    resp2: Option<Vec<u8>>,
    resp3: Option<Vec<u8>>,
}

impl<F: Fn(&mut ReplyWriter)> Encoded<F> {
    fn new(write: F) -> Self {
        Encoded {
            write,
            resp2: None,
            resp3: None,
        }
    }

    fn get(&mut self, mailbox: &Mailbox) -> &[u8] {
        let resp3 = mailbox.client.resp.load(Ordering::Relaxed) == 3;
        let (slot, proto) = match resp3 {
            true => (&mut self.resp3, Protocol::Resp3),
            false => (&mut self.resp2, Protocol::Resp2),
        };
        slot.get_or_insert_with(|| {
            let mut w = ReplyWriter {
                buf: bytes::BytesMut::new(),
                protocol: proto,
            };
            (self.write)(&mut w);
            w.buf.to_vec()
        })
    }
}

fn write_message(w: &mut ReplyWriter, kind: &[u8], channel: &[u8], message: &[u8]) {
    w.push(3);
    w.bulk(kind);
    w.bulk(channel);
    w.bulk(message);
}

fn write_pattern_message(w: &mut ReplyWriter, pattern: &[u8], channel: &[u8], message: &[u8]) {
    w.push(4);
    w.bulk(b"pmessage");
    w.bulk(pattern);
    w.bulk(channel);
    w.bulk(message);
}

/// A (un)subscribe confirmation: `[kind, name or null, count]`, a push in RESP3.
fn confirmation(out: &mut ReplyWriter, kind: &[u8], name: Option<&[u8]>, count: usize) {
    out.push(3);
    out.bulk(kind);
    match name {
        Some(name) => out.bulk(name),
        None => out.null(),
    }
    out.integer(count as i64);
}
