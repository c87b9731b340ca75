//! Consumer groups: a delivery cursor, the pending entries list (PEL) and consumers.
//!
//! The group's PEL maps each delivered but unacknowledged ID to its NACK (owner,
//! delivery time, delivery count); each consumer keeps the set of IDs it owns, so
//! XPENDING by consumer and XREADGROUP history reads do not scan the whole PEL. The two
//! are kept in step by the methods here; nothing else changes them.

use std::collections::{BTreeMap, BTreeSet};

use super::StreamId;

/// One pending entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nack {
    /// Unix time of the last delivery, in ms.
    pub delivery_time: i64,
    pub delivery_count: u64,
    /// The consumer that owns it.
    pub consumer: Vec<u8>,
}

/// A consumer of a group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Consumer {
    /// Unix time of its last read or claim, in ms.
    pub seen_time: i64,
    /// The IDs it owns in the group's PEL.
    pub pel: BTreeSet<StreamId>,
}

/// A consumer group.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Group {
    /// The last ID delivered to a consumer (`>` reads after it).
    pub last_id: StreamId,
    /// Entries the group has read, -1 when unknown (lag is then estimated).
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Nack>,
    pub consumers: BTreeMap<Vec<u8>, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// Creates consumer `name` if missing; true when it was created.
    pub fn create_consumer(&mut self, name: &[u8], now: i64) -> bool {
        if self.consumers.contains_key(name) {
            return false;
        }
        self.consumers.insert(
            name.to_vec(),
            Consumer {
                seen_time: now,
                pel: BTreeSet::new(),
            },
        );
        true
    }

    /// Looks consumer `name` up for a read or claim, creating it when missing, and
    /// stamps its seen time. True when it was created.
    pub fn touch_consumer(&mut self, name: &[u8], now: i64) -> bool {
        if let Some(consumer) = self.consumers.get_mut(name) {
            consumer.seen_time = now;
            return false;
        }
        self.create_consumer(name, now)
    }

    /// Deletes consumer `name` and its pending entries; how many it had, or `None`
    /// when there was no such consumer.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let consumer = self.consumers.remove(name)?;
        for id in &consumer.pel {
            self.pel.remove(id);
        }
        Some(consumer.pel.len())
    }

    /// Records that `id` was delivered to `consumer` at `now` by a `>` read: a new NACK
    /// with one delivery, or an existing one moved to this consumer and reset.
    pub fn deliver(&mut self, id: StreamId, consumer: &[u8], now: i64) {
        self.assign(id, consumer, now, 1);
    }

    /// Gives `id` to `consumer` with the given delivery time and count (XCLAIM,
    /// XAUTOCLAIM, deliveries), creating the NACK if needed.
    pub fn assign(&mut self, id: StreamId, consumer: &[u8], time: i64, count: u64) {
        if let Some(nack) = self.pel.get_mut(&id) {
            if nack.consumer != consumer {
                if let Some(old) = self.consumers.get_mut(&nack.consumer) {
                    old.pel.remove(&id);
                }
                nack.consumer = consumer.to_vec();
            }
            nack.delivery_time = time;
            nack.delivery_count = count;
        } else {
            self.pel.insert(
                id,
                Nack {
                    delivery_time: time,
                    delivery_count: count,
                    consumer: consumer.to_vec(),
                },
            );
        }
        if let Some(owner) = self.consumers.get_mut(consumer) {
            owner.pel.insert(id);
        }
    }

    /// Acknowledges `id`: removes it from the PEL and its owner; false when it was not
    /// pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        let Some(nack) = self.pel.remove(&id) else {
            return false;
        };
        if let Some(owner) = self.consumers.get_mut(&nack.consumer) {
            owner.pel.remove(&id);
        }
        true
    }

    /// Approximate bytes used (MEMORY USAGE).
    pub fn memory_usage(&self) -> usize {
        let pel: usize = self.pel.values().map(|n| 64 + n.consumer.len()).sum();
        let consumers: usize = self
            .consumers
            .iter()
            .map(|(name, c)| 64 + name.len() + c.pel.len() * 32)
            .sum();
        64 + pel + consumers
    }
}
