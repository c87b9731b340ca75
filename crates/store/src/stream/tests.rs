//! The stream against a plain ordered map of entries.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

type Model = BTreeMap<StreamId, Vec<(Vec<u8>, Vec<u8>)>>;

fn entry_fields(entry: &EntryRef) -> Vec<(Vec<u8>, Vec<u8>)> {
    entry
        .fields()
        .map(|(f, v)| (f.to_vec(), v.to_vec()))
        .collect()
}

fn check(stream: &Stream, model: &Model) {
    assert_eq!(stream.len(), model.len() as u64);
    let forward: Vec<_> = stream
        .range(StreamId::MIN, StreamId::MAX, false)
        .map(|e| (e.id, entry_fields(&e)))
        .collect();
    let want: Vec<_> = model.iter().map(|(k, v)| (*k, v.clone())).collect();
    assert_eq!(forward, want);
    let backward: Vec<_> = stream
        .range(StreamId::MIN, StreamId::MAX, true)
        .map(|e| e.id)
        .collect();
    let want_back: Vec<_> = model.keys().rev().copied().collect();
    assert_eq!(backward, want_back);
    let first = model.keys().next().copied().unwrap_or(StreamId::MIN);
    assert_eq!(stream.first_id, first);
    for (_, lp) in stream.nodes() {
        assert!(listpack::validate(lp));
        assert!(node_is_sound(lp));
    }
}

fn add(stream: &mut Stream, model: &mut Model, id: StreamId, fields: &[&[u8]], limits: NodeLimits) {
    stream.append(id, fields, limits);
    model.insert(
        id,
        fields
            .chunks(2)
            .map(|p| (p[0].to_vec(), p[1].to_vec()))
            .collect(),
    );
}

#[test]
fn nodes_close_at_the_entry_limit() {
    let mut s = Stream::new();
    let mut m = Model::new();
    for i in 1..=250u64 {
        add(
            &mut s,
            &mut m,
            StreamId::new(i, 0),
            &[b"item", b"1"],
            NodeLimits::default(),
        );
    }
    assert_eq!(s.node_count(), 3);
    check(&s, &m);
    // `~` removes whole nodes only: 250 entries, MAXLEN ~ 120 keeps 150.
    let removed = s.trim(Trim {
        to: TrimTo::MaxLen(120),
        approx: true,
        limit: 0,
    });
    assert_eq!(removed, 100);
    assert_eq!(s.len(), 150);
    // Exact trimming flags entries inside the first node.
    let removed = s.trim(Trim {
        to: TrimTo::MaxLen(120),
        approx: false,
        limit: 0,
    });
    assert_eq!(removed, 30);
    let m: Model = m.into_iter().filter(|(k, _)| k.ms > 130).collect();
    check(&s, &m);
    assert_eq!(s.first_id, StreamId::new(131, 0));
}

#[test]
fn ranges_and_mixed_fields() {
    let mut s = Stream::new();
    let mut m = Model::new();
    let l = NodeLimits {
        max_bytes: 4096,
        max_entries: 3,
    };
    add(
        &mut s,
        &mut m,
        StreamId::new(1, 1),
        &[b"a", b"1", b"b", b"2"],
        l,
    );
    add(&mut s, &mut m, StreamId::new(1, 2), &[b"a", b"x"], l);
    add(
        &mut s,
        &mut m,
        StreamId::new(2, 0),
        &[b"a", b"3", b"b", b"-77"],
        l,
    );
    add(
        &mut s,
        &mut m,
        StreamId::new(5, 0),
        &[b"z", b"long value here"],
        l,
    );
    add(&mut s, &mut m, StreamId::new(u64::MAX, 7), &[b"q", b""], l);
    check(&s, &m);
    let ids: Vec<_> = s
        .range(StreamId::new(1, 2), StreamId::new(5, 0), true)
        .map(|e| e.id)
        .collect();
    assert_eq!(
        ids,
        vec![
            StreamId::new(5, 0),
            StreamId::new(2, 0),
            StreamId::new(1, 2)
        ]
    );
    assert!(s.delete_ids(&[StreamId::new(1, 1)]) == 1);
    m.remove(&StreamId::new(1, 1));
    check(&s, &m);
    assert_eq!(s.max_deleted_id, StreamId::new(1, 1));
    assert_eq!(s.last_live_id(), StreamId::new(u64::MAX, 7));
}

#[test]
fn deleting_the_last_live_entry_frees_the_node() {
    let mut s = Stream::new();
    let mut m = Model::new();
    let l = NodeLimits {
        max_bytes: 0,
        max_entries: 2,
    };
    for i in 1..=4 {
        add(&mut s, &mut m, StreamId::new(i, 0), &[b"f", b"v"], l);
    }
    assert_eq!(s.node_count(), 2);
    s.delete_ids(&[StreamId::new(1, 0), StreamId::new(2, 0)]);
    assert_eq!(s.node_count(), 1);
    m.remove(&StreamId::new(1, 0));
    m.remove(&StreamId::new(2, 0));
    check(&s, &m);
}

#[test]
fn radix_node_count_matches_redis_shapes() {
    let mut s = Stream::new();
    assert_eq!(s.radix_tree_nodes(), 1);
    s.append(StreamId::new(1, 0), &[b"f", b"v"], NodeLimits::default());
    assert_eq!(s.radix_tree_nodes(), 2);
}

fn arb_ops() -> impl Strategy<Value = Vec<(u8, u64, u64)>> {
    proptest::collection::vec((0u8..6, 0u64..40, 0u64..4), 1..120)
}

proptest! {
    #[test]
    fn matches_model(ops in arb_ops(), max_entries in 0u64..6, max_bytes in prop_oneof![Just(0usize), Just(60usize), Just(4096usize)]) {
        let limits = NodeLimits { max_bytes, max_entries };
        let mut s = Stream::new();
        let mut m = Model::new();
        let mut next_ms = 1u64;
        for (op, a, b) in ops {
            match op {
                0..=2 => {
                    next_ms += a % 3;
                    let id = StreamId::new(next_ms, b);
                    if id > s.last_id {
                        let value = a.to_string();
                        let fields: Vec<&[u8]> = if b % 2 == 0 {
                            vec![b"f1", value.as_bytes(), b"f2", b"x"]
                        } else {
                            vec![b"other", value.as_bytes()]
                        };
                        add(&mut s, &mut m, id, &fields, limits);
                    }
                }
                3 => {
                    let target: Vec<StreamId> = m.keys().nth(a as usize % (m.len().max(1))).copied().into_iter().collect();
                    let n = s.delete_ids(&target);
                    for id in &target { m.remove(id); }
                    prop_assert_eq!(n, target.len() as u64);
                }
                4 => {
                    let keep = a % 20;
                    let approx = b % 2 == 0;
                    let before = s.len();
                    let removed = s.trim(Trim { to: TrimTo::MaxLen(keep), approx, limit: 0 });
                    prop_assert_eq!(s.len(), before - removed);
                    if !approx { prop_assert!(s.len() <= keep); }
                    while m.len() as u64 > s.len() { let k = *m.keys().next().unwrap(); m.remove(&k); }
                }
                _ => {
                    let min = StreamId::new(a, b);
                    let approx = b % 2 == 0;
                    let removed = s.trim(Trim { to: TrimTo::MinId(min), approx, limit: 0 });
                    let before = m.len();
                    if !approx { m.retain(|k, _| *k >= min); prop_assert_eq!(removed as usize, before - m.len()); }
                    else { while m.len() as u64 > s.len() { let k = *m.keys().next().unwrap(); m.remove(&k); } }
                }
            }
            check(&s, &m);
        }
    }
}
