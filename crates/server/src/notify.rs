//! Keyspace notifications: data changes published as pub/sub messages.
//!
//! `notify-keyspace-events` picks classes of events (one letter each, as Redis). A
//! command records its events in its [`crate::ctx::KeyAccess`] as they happen (lazy
//! expiry, key creation, the handler's own `ctx.notify`), and they are published in that
//! order by `finish`, while the command still holds its shard locks: two commands on one
//! key publish in the order they ran, whatever threads they ran on. Each event goes to
//! `__keyspace@<db>__:<key>` (message: the event) with `K`, and to
//! `__keyevent@<db>__:<event>` (message: the key) with `E`.
//!
//! When no class is enabled, recording an event costs one branch.

use lodestone_store::Key;

use crate::server::Server;

pub const KEYSPACE: u32 = 1 << 0;
pub const KEYEVENT: u32 = 1 << 1;
pub const GENERIC: u32 = 1 << 2;
pub const STRING: u32 = 1 << 3;
pub const LIST: u32 = 1 << 4;
pub const SET: u32 = 1 << 5;
pub const HASH: u32 = 1 << 6;
pub const ZSET: u32 = 1 << 7;
pub const EXPIRED: u32 = 1 << 8;
pub const EVICTED: u32 = 1 << 9;
pub const STREAM: u32 = 1 << 10;
/// Not part of `A`, as in Redis: misses are frequent and rarely wanted.
pub const KEY_MISS: u32 = 1 << 11;
pub const MODULE: u32 = 1 << 13;
pub const NEW: u32 = 1 << 14;
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// The letters of each class, in the order Redis prints them.
const LETTERS: [(u8, u32); 11] = [
    (b'g', GENERIC),
    (b'$', STRING),
    (b'l', LIST),
    (b's', SET),
    (b'h', HASH),
    (b'z', ZSET),
    (b'x', EXPIRED),
    (b'e', EVICTED),
    (b't', STREAM),
    (b'd', MODULE),
    (b'n', NEW),
];

/// Parses a `notify-keyspace-events` value; `None` for an unknown letter.
pub fn parse_flags(text: &str) -> Option<u32> {
    let mut flags = 0;
    for byte in text.bytes() {
        flags |= match byte {
            b'A' => ALL,
            b'K' => KEYSPACE,
            b'E' => KEYEVENT,
            b'm' => KEY_MISS,
            _ => LETTERS.iter().find(|(letter, _)| *letter == byte)?.1,
        };
    }
    Some(flags)
}

/// The canonical text of a set of flags (CONFIG GET shows this, not what was set).
pub fn flags_text(flags: u32) -> String {
    let mut text = String::new();
    if flags & ALL == ALL {
        text.push('A');
    } else {
        for (letter, flag) in LETTERS {
            if flags & flag != 0 {
                text.push(letter as char);
            }
        }
    }
    for (letter, flag) in [('K', KEYSPACE), ('E', KEYEVENT), ('m', KEY_MISS)] {
        if flags & flag != 0 {
            text.push(letter);
        }
    }
    text
}

/// Whether events of `class` are published under `flags`.
pub fn wanted(flags: u32, class: u32) -> bool {
    flags & class != 0 && flags & (KEYSPACE | KEYEVENT) != 0
}

/// One recorded event.
#[derive(Clone, Debug)]
pub struct Event {
    pub db: usize,
    pub event: &'static str,
    pub key: Key,
}

/// Publishes recorded events, in order.
pub fn publish(server: &Server, events: &[Event]) {
    let flags = server.notify_flags();
    let mut channel = Vec::new();
    for event in events {
        if flags & KEYSPACE != 0 {
            channel.clear();
            channel.extend_from_slice(b"__keyspace@");
            channel.extend_from_slice(itoa::Buffer::new().format(event.db).as_bytes());
            channel.extend_from_slice(b"__:");
            channel.extend_from_slice(&event.key);
            server.publish(&channel, event.event.as_bytes());
        }
        if flags & KEYEVENT != 0 {
            channel.clear();
            channel.extend_from_slice(b"__keyevent@");
            channel.extend_from_slice(itoa::Buffer::new().format(event.db).as_bytes());
            channel.extend_from_slice(b"__:");
            channel.extend_from_slice(event.event.as_bytes());
            server.publish(&channel, &event.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CONFIG GET prints classes in Redis's canonical order, `A` for all of them.
    #[test]
    fn flags_round_trip_to_canonical_text() {
        let text = |s: &str| flags_text(parse_flags(s).unwrap_or(u32::MAX));
        assert_eq!(text("gKE"), "gKE");
        assert_eq!(text("$lshzxeKE"), "$lshzxeKE");
        assert_eq!(text("KA"), "AK");
        assert_eq!(text("EA"), "AE");
        // Redis prints `n` only without `A`.
        assert_eq!(text("Kgtdn$lshzxe"), "AK");
        assert_eq!(text("Em"), "Em");
        assert_eq!(text(""), "");
        assert_eq!(parse_flags("Kq"), None);
    }
}
