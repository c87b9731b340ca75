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
}
