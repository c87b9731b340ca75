//! Lists. (Being written: packed `listpack` for small lists, a `quicklist` of packed
//! nodes past `list-max-listpack-size`.)

/// A list value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListValue {}

impl ListValue {
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
