//! Memory accounting the way Redis reports it (MEMORY USAGE).
//!
//! Redis answers with the allocator's sizes for its own structures: a 16-byte object
//! header, an sds string with a 1 to 17 byte header, a 24-byte hash table entry, each
//! rounded up to a jemalloc size class. Lodestone stores values differently, but clients
//! and tests compare these numbers with Redis's, so strings are measured with Redis's
//! layout; value types without a Redis model here fall back to `Value::memory_usage`.

use lodestone_store::{StrValue, Value};

/// Redis's object header (`robj`).
const OBJECT_HEADER: usize = 16;
/// Redis's hash table entry (`dictEntry`).
const DICT_ENTRY: usize = 24;

/// Bytes MEMORY USAGE reports for `key` holding `value`.
pub fn key_usage(key: &[u8], value: &Value) -> usize {
    value_usage(value) + sds_alloc(key.len(), key.len()) + DICT_ENTRY
}

/// Bytes of a value including its object header.
pub fn value_usage(value: &Value) -> usize {
    match value {
        Value::Str(s) => string_usage(s),
        other => OBJECT_HEADER + other.memory_usage(),
    }
}

fn string_usage(s: &StrValue) -> usize {
    match s {
        StrValue::Int(_) => OBJECT_HEADER,
        // Header and characters share one allocation, with an 8-bit sds header.
        StrValue::Embstr(b) => size_class(OBJECT_HEADER + 3 + b.len() + 1),
        StrValue::Raw(b) => OBJECT_HEADER + sds_alloc(b.len(), b.capacity().max(b.len())),
    }
}

/// The allocation of an sds string of `len` bytes with room for `alloc`.
fn sds_alloc(len: usize, alloc: usize) -> usize {
    size_class(sds_header(len) + alloc + 1)
}

/// The sds header Redis picks for a string of `len` bytes.
fn sds_header(len: usize) -> usize {
    match len {
        0 => 3,
        1..=31 => 1,
        32..=255 => 3,
        256..=65_535 => 5,
        _ if (len as u64) < (1u64 << 32) => 9,
        _ => 17,
    }
}

/// The jemalloc size class `n` bytes are rounded up to: 8, then multiples of 16 up to
/// 128, then four classes per doubling.
pub fn size_class(n: usize) -> usize {
    if n <= 8 {
        return 8;
    }
    if n <= 128 {
        return n.div_ceil(16) * 16;
    }
    let lg = usize::BITS - 1 - (n - 1).leading_zeros();
    let spacing = 1usize << (lg - 2);
    n.div_ceil(spacing).saturating_mul(spacing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_follow_jemalloc() {
        let got: Vec<usize> = [1, 9, 23, 33, 100, 129, 161, 1006, 2049, 4097]
            .iter()
            .map(|&n| size_class(n))
            .collect();
        assert_eq!(got, [8, 16, 32, 48, 112, 160, 192, 1024, 2560, 5120]);
    }

    #[test]
    fn strings_measure_as_in_redis() {
        let foo = b"foo";
        let usage = |v: &[u8]| key_usage(foo, &Value::Str(StrValue::from_bytes(v)));
        assert_eq!(usage(b"bar"), 64);
        assert_eq!(usage(b"12345"), 48);
        assert_eq!(usage(&[b'x'; 44]), 96);
        assert_eq!(usage(&[b'x'; 45]), 112);
        assert_eq!(usage(&[b'x'; 1000]), 1072);
    }
}
