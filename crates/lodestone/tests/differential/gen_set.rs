//! Sets: the calls the differential harness checks and how it draws them.

use super::{Family, Gen};

pub const FAMILY: Family = Family {
    implemented: &[],
    generated: &[],
    arguments,
};

fn arguments(_g: &mut Gen, _name: &str, _a: &mut Vec<Vec<u8>>) -> bool {
    false
}
