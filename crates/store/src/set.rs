//! Sets. (Being written: `intset` for small integer sets, `hashtable` otherwise.)

/// A set value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SetValue {}

impl SetValue {
    pub fn len(&self) -> usize {
        0
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        "intset"
    }

    pub fn memory_usage(&self) -> usize {
        0
    }

    /// Stand-in until sets land (their `contains`), so sorted-set algebra compiles.
    pub fn contains(&self, _member: &[u8]) -> bool {
        false
    }

    /// Stand-in until sets land (their `iter`, whose items have `to_vec`).
    pub fn iter(&self) -> std::iter::Empty<Vec<u8>> {
        std::iter::empty()
    }
}
