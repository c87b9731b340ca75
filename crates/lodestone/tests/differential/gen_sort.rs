//! SORT and SORT_RO: the calls the differential harness checks and how it draws them.
//!
//! Constant BY patterns (no sorting) are left out of random runs: on a set they return
//! its inner order, which differs between any two hash tables. ALPHA with a BY pattern is
//! left out too: equal or missing weights leave Redis's order to its unstable qsort.

use super::{Family, Gen};

pub const FAMILY: Family = Family {
    implemented: &["SORT", "SORT_RO"],
    generated: &["SORT", "SORT", "SORT_RO"],
    arguments,
};

const PATTERNS: &[&str] = &["#", "k*", "*", "k*->f", "{t}*", "nokey*"];

fn arguments(g: &mut Gen, name: &str, a: &mut Vec<Vec<u8>>) -> bool {
    if name != "SORT" && name != "SORT_RO" {
        return false;
    }
    a.push(g.key());
    let by = g.rng.chance(25);
    if by {
        a.extend([b"BY".to_vec(), g.word(&["k*", "*", "k*->f", "nokey*"])]);
    }
    if g.rng.chance(30) {
        a.extend([b"LIMIT".to_vec(), g.index(), g.index()]);
    }
    for _ in 0..g.rng.below(3) {
        a.extend([b"GET".to_vec(), g.word(PATTERNS)]);
    }
    if g.rng.chance(40) {
        a.push(g.word(&["ASC", "DESC", "desc"]));
    }
    if !by && g.rng.chance(50) {
        a.push(b"ALPHA".to_vec());
    }
    if name == "SORT" && g.rng.chance(25) {
        a.extend([b"STORE".to_vec(), g.key()]);
    }
    true
}
