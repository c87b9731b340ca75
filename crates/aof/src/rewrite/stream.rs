//! The command form of a stream, as Redis 7.0's `rewriteStreamObject` writes it:
//!
//! 1. `XADD key <id> <field> <value>...` for each live entry; for an empty stream,
//!    `XADD key MAXLEN 0 0-1 x y`, which creates the key and leaves it empty;
//! 2. `XSETID key <last-id> ENTRIESADDED <n> MAXDELETEDID <id>`, which restores what
//!    the entries alone do not (the last ID after deletions, the counters);
//! 3. per group, in name order: `XGROUP CREATE key <group> <last-id> ENTRIESREAD <n>`,
//!    then per consumer, in name order, `XCLAIM key <group> <consumer> 0 <id> TIME <ms>
//!    RETRYCOUNT <n> JUSTID FORCE` for each pending entry it owns (in ID order), or
//!    `XGROUP CREATECONSUMER key <group> <consumer>` when it owns none.

use lodestone_store::stream::{Consumer, Group};
use lodestone_store::{Stream, StreamId};

use crate::encode::{push_array_len, push_bulk, push_bulk_i64, push_bulk_u64};

pub fn stream_commands(key: &[u8], stream: &Stream, out: &mut Vec<u8>) {
    if stream.is_empty() {
        push_array_len(out, 7);
        for arg in [&b"XADD"[..], key, b"MAXLEN", b"0", b"0-1", b"x", b"y"] {
            push_bulk(out, arg);
        }
    } else {
        for entry in stream.range(StreamId::MIN, StreamId::MAX, false) {
            // Counted from the fields themselves, so the header always matches them.
            let pairs = entry.fields().count();
            push_array_len(out, 3 + pairs * 2);
            push_bulk(out, b"XADD");
            push_bulk(out, key);
            push_id(out, entry.id);
            for (field, value) in entry.fields() {
                push_bulk(out, &field.as_bytes());
                push_bulk(out, &value.as_bytes());
            }
        }
    }

    push_array_len(out, 7);
    push_bulk(out, b"XSETID");
    push_bulk(out, key);
    push_id(out, stream.last_id);
    push_bulk(out, b"ENTRIESADDED");
    push_bulk_u64(out, stream.entries_added);
    push_bulk(out, b"MAXDELETEDID");
    push_id(out, stream.max_deleted_id);

    for (name, group) in &stream.groups {
        group_commands(key, name, group, out);
    }
}

fn group_commands(key: &[u8], name: &[u8], group: &Group, out: &mut Vec<u8>) {
    push_array_len(out, 7);
    push_bulk(out, b"XGROUP");
    push_bulk(out, b"CREATE");
    push_bulk(out, key);
    push_bulk(out, name);
    push_id(out, group.last_id);
    push_bulk(out, b"ENTRIESREAD");
    push_bulk_i64(out, group.entries_read);

    for (consumer_name, consumer) in &group.consumers {
        // Only entries the group's PEL knows can be claimed (the two always agree in
        // a consistent store); a consumer left with none is still created.
        let claimable = consumer.pel.iter().any(|id| group.pel.contains_key(id));
        if !claimable {
            push_array_len(out, 5);
            for arg in [&b"XGROUP"[..], b"CREATECONSUMER", key, name, consumer_name] {
                push_bulk(out, arg);
            }
        } else {
            claim_commands(key, name, group, consumer_name, consumer, out);
        }
    }
}

/// The XCLAIMs that give `consumer` its pending entries back, with their delivery
/// time and count.
fn claim_commands(
    key: &[u8],
    group_name: &[u8],
    group: &Group,
    consumer_name: &[u8],
    consumer: &Consumer,
    out: &mut Vec<u8>,
) {
    for id in &consumer.pel {
        // The group's PEL holds the delivery data.
        let Some(nack) = group.pel.get(id) else {
            continue;
        };
        push_array_len(out, 12);
        for arg in [&b"XCLAIM"[..], key, group_name, consumer_name, b"0"] {
            push_bulk(out, arg);
        }
        push_id(out, *id);
        push_bulk(out, b"TIME");
        push_bulk_i64(out, nack.delivery_time);
        push_bulk(out, b"RETRYCOUNT");
        push_bulk_u64(out, nack.delivery_count);
        push_bulk(out, b"JUSTID");
        push_bulk(out, b"FORCE");
    }
}

/// An ID as `<ms>-<seq>`.
fn push_id(out: &mut Vec<u8>, id: StreamId) {
    push_bulk(out, format!("{}-{}", id.ms, id.seq).as_bytes());
}
