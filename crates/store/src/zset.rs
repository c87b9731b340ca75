//! Sorted sets. (Being written: `listpack` for small ones, `skiplist` (ordered,
//! O(log n) rank) past the limits.)

/// A sorted set value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ZSetValue {}

impl ZSetValue {
    pub fn len(&self) -> usize {
        0
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        "listpack"
    }

    pub fn memory_usage(&self) -> usize {
        0
    }
}
