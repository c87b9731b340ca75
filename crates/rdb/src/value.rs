//! Values in RDB form: a type byte and the object, as Redis 7.0's `rdbSaveObject` and
//! `rdbLoadObject` lay them out.
//!
//! Written with Redis 7.0's own choices, so redis-server loads them with the same
//! encodings: strings (integer forms for short numbers), lists as quicklist v2 nodes of
//! listpacks, `intset` sets as intsets and others as plain member lists, small hashes and
//! sorted sets as listpacks and large ones as plain pairs (scores as binary doubles,
//! highest first as Redis saves its skiplist), streams as type 19 with their listpack
//! nodes and consumer groups.
//!
//! Read: every type Redis 7.0 loads, the older compact ones (zipmap, ziplist,
//! quicklist v1, type 15 streams) included. Duplicates and malformed blobs are errors;
//! module values are refused.

use std::collections::{BTreeMap, BTreeSet};

use lodestone_store::list::Elem;
use lodestone_store::stream::{listpack, Consumer, Group, Nack};
use lodestone_store::{
    EncodingLimits, HashValue, ListValue, SetValue, StrValue, Stream, StreamId, Value, ZSetValue,
};
use lodestone_util::number::{format_f64, parse_f64, parse_i64};

use crate::codec::{Corrupt, Reader, Result, Writer};
use crate::legacy;

pub const TYPE_STRING: u8 = 0;
pub const TYPE_LIST: u8 = 1;
pub const TYPE_SET: u8 = 2;
pub const TYPE_ZSET: u8 = 3;
pub const TYPE_HASH: u8 = 4;
pub const TYPE_ZSET_2: u8 = 5;
pub const TYPE_MODULE: u8 = 6;
pub const TYPE_MODULE_2: u8 = 7;
pub const TYPE_HASH_ZIPMAP: u8 = 9;
pub const TYPE_LIST_ZIPLIST: u8 = 10;
pub const TYPE_SET_INTSET: u8 = 11;
pub const TYPE_ZSET_ZIPLIST: u8 = 12;
pub const TYPE_HASH_ZIPLIST: u8 = 13;
pub const TYPE_LIST_QUICKLIST: u8 = 14;
pub const TYPE_STREAM_LISTPACKS: u8 = 15;
pub const TYPE_HASH_LISTPACK: u8 = 16;
pub const TYPE_ZSET_LISTPACK: u8 = 17;
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;
pub const TYPE_STREAM_LISTPACKS_2: u8 = 19;

/// Quicklist node containers.
const CONTAINER_PLAIN: u64 = 1;
const CONTAINER_PACKED: u64 = 2;
/// The listpack size at which a written list node is closed (Redis's default fill, -2).
const LIST_NODE_BYTES: usize = 8192;

/// A score as Redis's `d2string` writes it into a listpack.
fn score_text(score: f64) -> String {
    if score == 0.0 {
        return if score.is_sign_negative() { "-0" } else { "0" }.into();
    }
    if score.fract() == 0.0 && score.abs() < (i64::MAX / 2) as f64 {
        return (score as i64).to_string();
    }
    format_f64(score)
}

fn elem_bytes(elem: Elem) -> Vec<u8> {
    elem.to_vec()
}

/// Writes `value` as a type byte and its object.
pub fn write_value(w: &mut Writer, value: &Value) {
    match value {
        Value::Str(s) => {
            w.byte(TYPE_STRING);
            match s {
                StrValue::Int(n) => w.int_string(*n),
                other => w.string(&other.to_bytes()),
            }
        }
        Value::List(list) => {
            w.byte(TYPE_LIST_QUICKLIST_2);
            let mut nodes: Vec<Vec<u8>> = Vec::new();
            let mut current = listpack::new(0);
            for elem in list.iter() {
                let bytes = elem_bytes(elem);
                if listpack::end(&current) > listpack::HEADER
                    && current.len() + bytes.len() > LIST_NODE_BYTES
                {
                    nodes.push(std::mem::replace(&mut current, listpack::new(0)));
                }
                listpack::append(&mut current, Elem::Bytes(&bytes));
            }
            if listpack::end(&current) > listpack::HEADER {
                nodes.push(current);
            }
            w.length(nodes.len() as u64);
            for node in &nodes {
                w.length(CONTAINER_PACKED);
                w.string(node);
            }
        }
        Value::Set(set) if set.encoding() == "intset" => {
            w.byte(TYPE_SET_INTSET);
            let mut members: Vec<i64> = set
                .iter()
                .filter_map(|m| parse_i64(&m.to_bytes()))
                .collect();
            members.sort_unstable();
            w.string(&intset_blob(&members));
        }
        Value::Set(set) => {
            w.byte(TYPE_SET);
            w.length(set.len() as u64);
            for member in set.iter() {
                w.string(&member.to_bytes());
            }
        }
        Value::ZSet(zset) if zset.encoding() == "listpack" => {
            w.byte(TYPE_ZSET_LISTPACK);
            let mut lp = listpack::new(0);
            for (member, score) in zset.iter() {
                listpack::append(&mut lp, Elem::Bytes(member));
                listpack::append(&mut lp, Elem::Bytes(score_text(score).as_bytes()));
            }
            w.string(&lp);
        }
        Value::ZSet(zset) => {
            w.byte(TYPE_ZSET_2);
            w.length(zset.len() as u64);
            // Highest score first, as Redis walks its skiplist from the tail.
            for (member, score) in zset.iter_from(zset.len().saturating_sub(1), true) {
                w.string(member);
                w.double(score);
            }
        }
        Value::Hash(hash) if hash.encoding() == "listpack" => {
            w.byte(TYPE_HASH_LISTPACK);
            let mut lp = listpack::new(0);
            for (field, value) in hash.iter() {
                listpack::append(&mut lp, Elem::Bytes(field));
                listpack::append(&mut lp, Elem::Bytes(value));
            }
            w.string(&lp);
        }
        Value::Hash(hash) => {
            w.byte(TYPE_HASH);
            w.length(hash.len() as u64);
            for (field, value) in hash.iter() {
                w.string(field);
                w.string(value);
            }
        }
        Value::Stream(stream) => {
            w.byte(TYPE_STREAM_LISTPACKS_2);
            write_stream(w, stream);
        }
    }
}

/// An intset blob: width, count, members little-endian in ascending order.
fn intset_blob(members: &[i64]) -> Vec<u8> {
    let width: usize = if members.iter().all(|&m| i16::try_from(m).is_ok()) {
        2
    } else if members.iter().all(|&m| i32::try_from(m).is_ok()) {
        4
    } else {
        8
    };
    let mut blob = Vec::with_capacity(8 + members.len() * width);
    blob.extend_from_slice(&(width as u32).to_le_bytes());
    blob.extend_from_slice(&(members.len() as u32).to_le_bytes());
    for &m in members {
        blob.extend_from_slice(&m.to_le_bytes()[..width]);
    }
    blob
}

fn write_id_len(w: &mut Writer, id: StreamId) {
    w.length(id.ms);
    w.length(id.seq);
}

fn write_stream(w: &mut Writer, stream: &Stream) {
    w.length(stream.node_count() as u64);
    for (key, lp) in stream.nodes() {
        w.string(&key.to_be_bytes());
        w.string(lp);
    }
    w.length(stream.len());
    write_id_len(w, stream.last_id);
    write_id_len(w, stream.first_id);
    write_id_len(w, stream.max_deleted_id);
    w.length(stream.entries_added);
    w.length(stream.groups.len() as u64);
    for (name, group) in &stream.groups {
        w.string(name);
        write_id_len(w, group.last_id);
        // -1 (unknown) is written as the unsigned length 2^64-1.
        w.length(group.entries_read as u64);
        w.length(group.pel.len() as u64);
        for (id, nack) in &group.pel {
            w.raw(&id.to_be_bytes());
            w.millis(nack.delivery_time);
            w.length(nack.delivery_count);
        }
        w.length(group.consumers.len() as u64);
        for (name, consumer) in &group.consumers {
            w.string(name);
            w.millis(consumer.seen_time);
            w.length(consumer.pel.len() as u64);
            for id in &consumer.pel {
                w.raw(&id.to_be_bytes());
            }
        }
    }
}

/// Reads a type byte and its object.
pub fn read_value(r: &mut Reader, limits: &EncodingLimits) -> Result<Value> {
    let kind = r.byte()?;
    read_object(kind, r, limits)
}

/// Reads the object of type `kind`.
pub fn read_object(kind: u8, r: &mut Reader, limits: &EncodingLimits) -> Result<Value> {
    Ok(match kind {
        TYPE_STRING => Value::Str(StrValue::from_bytes(&r.string()?)),
        TYPE_LIST => {
            let n = r.count()?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(r.string()?);
            }
            list_from(items, limits)?
        }
        TYPE_SET => {
            let n = r.count()?;
            let mut set = SetValue::new();
            for _ in 0..n {
                if !set.add(&r.string()?, limits) {
                    return Err(Corrupt("duplicate set members"));
                }
            }
            non_empty(Value::Set(set), n)?
        }
        TYPE_ZSET | TYPE_ZSET_2 => {
            let n = r.count()?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                let member = r.string()?;
                let score = if kind == TYPE_ZSET_2 {
                    r.double()?
                } else {
                    r.text_double()?
                };
                if score.is_nan() {
                    return Err(Corrupt("NaN score"));
                }
                items.push((member, score));
            }
            zset_from(items, limits)?
        }
        TYPE_HASH => {
            let n = r.count()?;
            let mut pairs = Vec::with_capacity(n);
            for _ in 0..n {
                pairs.push((r.string()?, r.string()?));
            }
            hash_from(pairs, limits)?
        }
        TYPE_HASH_ZIPMAP => {
            let pairs = legacy::zipmap_pairs(&r.string()?).ok_or(Corrupt("invalid zipmap"))?;
            hash_from(pairs, limits)?
        }
        TYPE_LIST_ZIPLIST => list_from(ziplist_strings(&r.string()?)?, limits)?,
        TYPE_SET_INTSET => {
            let members = legacy::intset_members(&r.string()?).ok_or(Corrupt("invalid intset"))?;
            let mut set = SetValue::new();
            for m in &members {
                if !set.add(m.to_string().as_bytes(), limits) {
                    return Err(Corrupt("duplicate intset members"));
                }
            }
            non_empty(Value::Set(set), members.len())?
        }
        TYPE_ZSET_ZIPLIST => zset_from(scored(ziplist_strings(&r.string()?)?)?, limits)?,
        TYPE_HASH_ZIPLIST => hash_from(paired(ziplist_strings(&r.string()?)?)?, limits)?,
        TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
            let nodes = r.count()?;
            let mut items = Vec::new();
            for _ in 0..nodes {
                let container = if kind == TYPE_LIST_QUICKLIST_2 {
                    r.length()?
                } else {
                    CONTAINER_PACKED
                };
                let blob = r.string()?;
                match container {
                    CONTAINER_PLAIN => items.push(blob),
                    CONTAINER_PACKED if kind == TYPE_LIST_QUICKLIST => {
                        items.extend(ziplist_strings(&blob)?)
                    }
                    CONTAINER_PACKED => items.extend(listpack_strings(&blob)?),
                    _ => return Err(Corrupt("unknown quicklist container")),
                }
            }
            list_from(items, limits)?
        }
        TYPE_HASH_LISTPACK => hash_from(paired(listpack_strings(&r.string()?)?)?, limits)?,
        TYPE_ZSET_LISTPACK => zset_from(scored(listpack_strings(&r.string()?)?)?, limits)?,
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 => {
            Value::Stream(Box::new(read_stream(r, kind == TYPE_STREAM_LISTPACKS_2)?))
        }
        TYPE_MODULE | TYPE_MODULE_2 => return Err(Corrupt("module values are not supported")),
        _ => return Err(Corrupt("unknown value type")),
    })
}

fn non_empty(value: Value, len: usize) -> Result<Value> {
    if len == 0 {
        return Err(Corrupt("empty collection"));
    }
    Ok(value)
}

fn listpack_strings(blob: &[u8]) -> Result<Vec<Vec<u8>>> {
    if !listpack::validate(blob) {
        return Err(Corrupt("invalid listpack"));
    }
    let mut out = Vec::new();
    let mut at = listpack::first(blob);
    while !listpack::at_end(blob, at) {
        let (elem, next) = listpack::decode(blob, at);
        out.push(elem_bytes(elem));
        at = next;
    }
    Ok(out)
}

fn ziplist_strings(blob: &[u8]) -> Result<Vec<Vec<u8>>> {
    let entries = legacy::ziplist_entries(blob).ok_or(Corrupt("invalid ziplist"))?;
    Ok(entries
        .into_iter()
        .map(|e| match e {
            legacy::Element::Int(n) => n.to_string().into_bytes(),
            legacy::Element::Bytes(b) => b,
        })
        .collect())
}

fn paired(items: Vec<Vec<u8>>) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    if !items.len().is_multiple_of(2) {
        return Err(Corrupt("odd number of elements"));
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        out.push((a, b));
    }
    Ok(out)
}

fn scored(items: Vec<Vec<u8>>) -> Result<Vec<(Vec<u8>, f64)>> {
    paired(items)?
        .into_iter()
        .map(|(member, score)| {
            parse_f64(&score)
                .filter(|s| !s.is_nan())
                .map(|s| (member, s))
                .ok_or(Corrupt("invalid score"))
        })
        .collect()
}

fn list_from(items: Vec<Vec<u8>>, limits: &EncodingLimits) -> Result<Value> {
    let len = items.len();
    let list = ListValue::from_elements(
        limits.list_max_listpack_size,
        items.iter().map(Vec::as_slice),
    );
    non_empty(Value::List(list), len)
}

fn hash_from(pairs: Vec<(Vec<u8>, Vec<u8>)>, limits: &EncodingLimits) -> Result<Value> {
    let mut hash = HashValue::new();
    for (field, value) in &pairs {
        if !hash.set(field, value, limits) {
            return Err(Corrupt("duplicate hash fields"));
        }
    }
    non_empty(Value::Hash(hash), pairs.len())
}

fn zset_from(items: Vec<(Vec<u8>, f64)>, limits: &EncodingLimits) -> Result<Value> {
    let len = items.len();
    let distinct: BTreeSet<&[u8]> = items.iter().map(|(m, _)| m.as_slice()).collect();
    if distinct.len() != len {
        return Err(Corrupt("duplicate sorted set members"));
    }
    non_empty(Value::ZSet(ZSetValue::from_items(items, limits)), len)
}

fn read_id_len(r: &mut Reader) -> Result<StreamId> {
    Ok(StreamId::new(r.length()?, r.length()?))
}

fn read_raw_id(r: &mut Reader) -> Result<StreamId> {
    StreamId::from_be_bytes(r.take(16)?).ok_or(Corrupt("invalid stream ID"))
}

fn read_stream(r: &mut Reader, v2: bool) -> Result<Stream> {
    let node_count = r.count()?;
    let mut nodes = Vec::with_capacity(node_count);
    for _ in 0..node_count {
        let key = r.string()?;
        let key =
            StreamId::from_be_bytes(&key).ok_or(Corrupt("stream node key is not 16 bytes"))?;
        let lp = r.string()?;
        if listpack::validate(&lp) && listpack::at_end(&lp, listpack::first(&lp)) {
            return Err(Corrupt("empty listpack inside stream"));
        }
        nodes.push((key, lp));
    }
    let mut stream = Stream::from_nodes(nodes).ok_or(Corrupt("invalid stream node"))?;
    let length = r.length()?;
    if length != stream.len() {
        return Err(Corrupt("stream length does not match its nodes"));
    }
    stream.last_id = read_id_len(r)?;
    if v2 {
        stream.first_id = read_id_len(r)?;
        stream.max_deleted_id = read_id_len(r)?;
        stream.entries_added = r.length()?;
    } else {
        stream.max_deleted_id = StreamId::MIN;
        stream.entries_added = stream.len();
        stream.first_id = stream.edge_id(true, true);
    }
    let groups = r.count()?;
    for _ in 0..groups {
        let name = r.string()?;
        let last_id = read_id_len(r)?;
        let entries_read = if v2 {
            r.length()? as i64
        } else {
            stream.estimate_distance(last_id).map_or(-1, |n| n as i64)
        };
        let mut group = Group::new(last_id, entries_read);
        let mut unowned: BTreeMap<StreamId, (i64, u64)> = BTreeMap::new();
        let pel = r.count()?;
        for _ in 0..pel {
            let id = read_raw_id(r)?;
            let time = r.millis()?;
            let count = r.length()?;
            if unowned.insert(id, (time, count)).is_some() {
                return Err(Corrupt("duplicate pending entry"));
            }
        }
        let consumers = r.count()?;
        for _ in 0..consumers {
            let consumer_name = r.string()?;
            let seen_time = r.millis()?;
            let owned = r.count()?;
            let mut consumer = Consumer {
                seen_time,
                pel: BTreeSet::new(),
            };
            for _ in 0..owned {
                let id = read_raw_id(r)?;
                let (time, count) = unowned.remove(&id).ok_or(Corrupt(
                    "consumer entry missing from the group's pending list",
                ))?;
                group.pel.insert(
                    id,
                    Nack {
                        delivery_time: time,
                        delivery_count: count,
                        consumer: consumer_name.clone(),
                    },
                );
                consumer.pel.insert(id);
            }
            if group.consumers.insert(consumer_name, consumer).is_some() {
                return Err(Corrupt("duplicate consumer"));
            }
        }
        if !unowned.is_empty() {
            return Err(Corrupt("pending entry without an owner"));
        }
        if stream.groups.insert(name, group).is_some() {
            return Err(Corrupt("duplicate consumer group"));
        }
    }
    Ok(stream)
}
