//! Sorted sets against a simple model (a member-to-score `BTreeMap`, sorted on demand),
//! across both encodings and the conversion between them.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn limits(entries: usize, value: usize) -> EncodingLimits {
    EncodingLimits {
        zset_max_listpack_entries: entries,
        zset_max_listpack_value: value,
        ..EncodingLimits::default()
    }
}

/// The model's pairs in Redis's order.
fn sorted(model: &BTreeMap<Vec<u8>, f64>) -> Vec<(Vec<u8>, f64)> {
    let mut pairs: Vec<(Vec<u8>, f64)> = model.iter().map(|(m, s)| (m.clone(), *s)).collect();
    pairs.sort_by(|a, b| tree::compare(a.1, &a.0, b.1, &b.0));
    pairs
}

fn check_against(z: &ZSetValue, model: &BTreeMap<Vec<u8>, f64>) {
    let expected = sorted(model);
    let got: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g.0, e.0);
        // -0 and 0 are one score (a listpack stores -0 as 0, as Redis's does).
        assert!(g.1 == e.1, "{} vs {}", g.1, e.1);
    }
    assert_eq!(z.len(), model.len());
    for (rank, (member, score)) in expected.iter().enumerate() {
        assert_eq!(z.rank(member), Some(rank));
        assert!(z.score(member) == Some(*score));
    }
    let backwards: Vec<Vec<u8>> = z
        .iter_from(z.len().saturating_sub(1), true)
        .map(|(m, _)| m.to_vec())
        .collect();
    let mut reversed: Vec<Vec<u8>> = expected.iter().map(|p| p.0.clone()).collect();
    reversed.reverse();
    assert_eq!(backwards, reversed);
    if let ZSetValue::Skiplist(f) = z {
        f.tree.check();
        assert_eq!(f.map.len(), f.tree.len());
    }
}

#[derive(Clone, Debug)]
enum Op {
    Add(Vec<u8>, f64, AddFlags),
    Remove(Vec<u8>),
    RemoveRange(usize, usize),
}

fn member() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(b'a'..b'e', 0..3),
        1 => prop::collection::vec(any::<u8>(), 0..9),
    ]
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-3i32..4).prop_map(f64::from),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(0.5),
        Just(1e300),
    ]
}

fn flags() -> impl Strategy<Value = AddFlags> {
    (0u8..6, any::<bool>()).prop_map(|(which, incr)| AddFlags {
        nx: which == 1,
        xx: which == 2 || which == 5,
        gt: which == 3,
        lt: which == 4 || which == 5,
        incr,
    })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (member(), score(), flags()).prop_map(|(m, s, f)| Op::Add(m, s, f)),
        2 => member().prop_map(Op::Remove),
        1 => (0usize..6, 0usize..4).prop_map(|(s, c)| Op::RemoveRange(s, c)),
    ]
}

/// Applies ZADD's rules to the model.
fn model_add(
    model: &mut BTreeMap<Vec<u8>, f64>,
    member: &[u8],
    score: f64,
    f: AddFlags,
) -> Result<AddOutcome, NotANumber> {
    match model.get(member).copied() {
        None if f.xx => Ok(AddOutcome::Skipped),
        None => {
            model.insert(member.to_vec(), score);
            Ok(AddOutcome::Added(score))
        }
        Some(_) if f.nx => Ok(AddOutcome::Skipped),
        Some(current) => {
            let new = if f.incr { current + score } else { score };
            if new.is_nan() {
                return Err(NotANumber);
            }
            if (f.lt && new >= current) || (f.gt && new <= current) {
                return Ok(AddOutcome::Skipped);
            }
            if new == current {
                return Ok(AddOutcome::Unchanged(new));
            }
            model.insert(member.to_vec(), new);
            Ok(AddOutcome::Updated(new))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Random adds (every flag), removes and rank-range removes keep the set equal to
    /// the model, and the encoding converts exactly when Redis's limits are crossed,
    /// never back.
    #[test]
    fn matches_model(ops in prop::collection::vec(op(), 1..120), entries in 0usize..9, value in 0usize..5) {
        let limits = limits(entries, value);
        let mut z: Option<ZSetValue> = None;
        let mut model = BTreeMap::new();
        let mut converted = false;
        for op in ops {
            match op {
                Op::Add(m, s, f) => {
                    let set = z.get_or_insert_with(|| {
                        let set = ZSetValue::new_for(&limits, m.len());
                        converted = set.encoding() == "skiplist";
                        set
                    });
                    let before = model.len();
                    let expected = model_add(&mut model, &m, s, f);
                    if model.len() > before && (model.len() > entries || m.len() > value) {
                        converted = true;
                    }
                    prop_assert_eq!(set.add(&m, s, f, &limits), expected);
                }
                Op::Remove(m) => {
                    let removed = z.as_mut().is_some_and(|set| set.remove(&m));
                    prop_assert_eq!(removed, model.remove(&m).is_some());
                }
                Op::RemoveRange(start, count) => {
                    let gone: Vec<Vec<u8>> = sorted(&model).into_iter().skip(start).take(count).map(|p| p.0).collect();
                    let n = z.as_mut().map_or(0, |set| set.remove_range(start, count));
                    prop_assert_eq!(n, gone.len());
                    for m in gone {
                        model.remove(&m);
                    }
                }
            }
            if let Some(set) = &z {
                check_against(set, &model);
                let expected = if converted { "skiplist" } else { "listpack" };
                prop_assert_eq!(set.encoding(), expected);
                if set.is_empty() {
                    z = None;
                }
            }
        }
    }

    /// Sets built whole take `listpack` exactly when the result fits the limits.
    #[test]
    fn from_items_picks_encoding(members in prop::collection::btree_set(member(), 0..12), entries in 0usize..9, value in 0usize..5) {
        let items: Vec<(Vec<u8>, f64)> = members.iter().enumerate().map(|(i, m)| (m.clone(), (i % 3) as f64)).collect();
        let fits = items.len() <= entries && items.iter().all(|i| i.0.len() <= value);
        let z = ZSetValue::from_items(items.clone(), &limits(entries, value));
        prop_assert_eq!(z.encoding(), if fits { "listpack" } else { "skiplist" });
        check_against(&z, &items.into_iter().collect());
    }
}

/// A large tree stays consistent through many inserts and deletes, and rank, select,
/// bounds and iteration from any rank agree with a sorted vector.
#[test]
fn large_tree_ranks_and_bounds() {
    let limits = limits(0, 0);
    let mut z = ZSetValue::new_for(&limits, 0);
    let mut model = BTreeMap::new();
    let mut x: u64 = 12345;
    for i in 0..20_000u64 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let member = format!("m{}", x % 5000).into_bytes();
        let score = ((x >> 33) % 100) as f64;
        if i % 3 == 2 {
            assert_eq!(z.remove(&member), model.remove(&member).is_some());
        } else {
            let expected = model_add(&mut model, &member, score, AddFlags::default());
            assert_eq!(
                z.add(&member, score, AddFlags::default(), &limits),
                expected
            );
        }
    }
    check_against(&z, &model);
    let expected = sorted(&model);
    for start in [0, 1, 63, 64, 65, expected.len() / 2, expected.len() - 1] {
        let forward: Vec<&[u8]> = z.iter_from(start, false).map(|p| p.0).collect();
        assert_eq!(forward.len(), expected.len() - start);
        assert_eq!(forward[0], &expected[start].0[..]);
        let backward = z.iter_from(start, true).count();
        assert_eq!(backward, start + 1);
    }
    for bound in [0.0, 10.0, 50.5, 99.0, 100.0] {
        let below = expected.iter().filter(|p| p.1 < bound).count();
        assert_eq!(z.lower_rank(|s, _| s < bound), below);
        let not_above = expected.iter().filter(|p| p.1 <= bound).count();
        assert_eq!(z.upper_rank(|s, _| s > bound), not_above);
    }
    let removed = z.remove_range(10, 1000);
    assert_eq!(removed, 1000);
    for pair in expected.iter().skip(10).take(1000) {
        model.remove(&pair.0);
    }
    check_against(&z, &model);
}

/// ZSCAN over a skiplist set returns every member exactly once without writes, in
/// steps of about COUNT; a listpack set comes whole.
#[test]
fn scan_covers_every_member() {
    let limits = limits(4, 64);
    let mut z = ZSetValue::default();
    for i in 0..3 {
        z.add(format!("{i}").as_bytes(), 1.0, AddFlags::default(), &limits)
            .unwrap();
    }
    let (all, cursor) = z.scan(0, 1);
    assert_eq!((all.len(), cursor), (3, 0));
    for i in 3..100 {
        z.add(format!("{i}").as_bytes(), 1.0, AddFlags::default(), &limits)
            .unwrap();
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = 0;
    loop {
        let (batch, next) = z.scan(cursor, 7);
        assert!(batch.len() <= 7);
        for (m, _) in batch {
            assert!(seen.insert(m.to_vec()));
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen.len(), 100);
}
