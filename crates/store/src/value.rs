//! Values and their encodings.
//!
//! Strings keep Redis's three encodings because clients and tests observe them through
//! OBJECT ENCODING: `int` (a decimal that fits in i64, stored as the number), `embstr`
//! (short strings written whole), and `raw` (long strings, or any string modified in place
//! by APPEND, SETRANGE or SETBIT).

use crate::{HashValue, ListValue, SetValue, Stream, ZSetValue};

/// Strings up to this length are `embstr` when written whole, as in Redis.
pub const EMBSTR_MAX: usize = 44;

/// The bytes of a string value. Strings up to 22 bytes live inside the entry itself (no
/// allocation, no pointer to chase on GET): most cache values, counters and flags are
/// that short. Longer ones spill to the heap like a `Vec`.
pub type StrBytes = smallvec::SmallVec<[u8; 22]>;

/// A string value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StrValue {
    Int(i64),
    Embstr(StrBytes),
    Raw(StrBytes),
}

impl StrValue {
    /// Encodes a string written whole (SET, GETSET, MSET...) the way Redis picks.
    pub fn from_bytes(bytes: &[u8]) -> StrValue {
        if bytes.len() <= 20 {
            if let Some(n) = lodestone_util::number::parse_i64(bytes) {
                return StrValue::Int(n);
            }
        }
        if bytes.len() <= EMBSTR_MAX {
            StrValue::Embstr(StrBytes::from_slice(bytes))
        } else {
            StrValue::Raw(StrBytes::from_slice(bytes))
        }
    }

    /// A string built by the server (APPEND, SETRANGE, BITOP results): never `int`.
    pub fn raw(bytes: Vec<u8>) -> StrValue {
        StrValue::Raw(StrBytes::from_vec(bytes))
    }

    /// The string's bytes (integers are printed in decimal).
    pub fn to_bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        match self {
            StrValue::Int(n) => std::borrow::Cow::Owned(n.to_string().into_bytes()),
            StrValue::Embstr(b) | StrValue::Raw(b) => std::borrow::Cow::Borrowed(b),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            StrValue::Int(n) => decimal_len(*n),
            StrValue::Embstr(b) | StrValue::Raw(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value as an integer, if it is one in Redis's strict sense.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            StrValue::Int(n) => Some(*n),
            StrValue::Embstr(b) | StrValue::Raw(b) => lodestone_util::number::parse_i64(b),
        }
    }

    /// Turns the value into a mutable `raw` buffer (APPEND, SETRANGE, SETBIT).
    pub fn make_raw(&mut self) -> &mut StrBytes {
        if !matches!(self, StrValue::Raw(_)) {
            let bytes = StrBytes::from_slice(&self.to_bytes());
            *self = StrValue::Raw(bytes);
        }
        match self {
            StrValue::Raw(b) => b,
            _ => unreachable!("converted to raw above"),
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            StrValue::Int(_) => "int",
            StrValue::Embstr(_) => "embstr",
            StrValue::Raw(_) => "raw",
        }
    }

    /// Approximate bytes used, for MEMORY USAGE.
    pub fn memory_usage(&self) -> usize {
        match self {
            StrValue::Int(_) => 16,
            StrValue::Embstr(b) | StrValue::Raw(b) if !b.spilled() => 32,
            StrValue::Embstr(b) | StrValue::Raw(b) => 32 + b.capacity(),
        }
    }
}

fn decimal_len(n: i64) -> usize {
    let mut len = if n < 0 { 2 } else { 1 };
    let mut v = n.unsigned_abs();
    while v >= 10 {
        v /= 10;
        len += 1;
    }
    len
}

/// A value of any type: the one place a new type is added.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(StrValue),
    List(ListValue),
    Hash(HashValue),
    Set(SetValue),
    ZSet(ZSetValue),
    /// Boxed: a stream's header is larger than the other values.
    Stream(Box<Stream>),
}

impl Value {
    /// The name TYPE replies with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The name OBJECT ENCODING replies with.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::List(l) => l.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }

    pub fn memory_usage(&self) -> usize {
        match self {
            Value::Str(s) => s.memory_usage(),
            Value::List(l) => l.memory_usage(),
            Value::Hash(h) => h.memory_usage(),
            Value::Set(s) => s.memory_usage(),
            Value::ZSet(z) => z.memory_usage(),
            Value::Stream(s) => s.memory_usage(),
        }
    }

    /// Whether a waiting client (BLPOP, BZPOPMIN, XREAD...) could be fed by this value.
    pub fn can_feed_waiters(&self) -> bool {
        matches!(self, Value::List(_) | Value::ZSet(_) | Value::Stream(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_follow_redis() {
        assert_eq!(StrValue::from_bytes(b"123").encoding(), "int");
        assert_eq!(
            StrValue::from_bytes(b"-9223372036854775808").encoding(),
            "int"
        );
        assert_eq!(StrValue::from_bytes(b"0123").encoding(), "embstr");
        assert_eq!(StrValue::from_bytes(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(StrValue::from_bytes(&[b'a'; 45]).encoding(), "raw");
        let mut v = StrValue::from_bytes(b"12");
        v.make_raw().push(b'3');
        assert_eq!(v.encoding(), "raw");
        assert_eq!(v.as_i64(), Some(123));
        assert_eq!(StrValue::Int(-120).len(), 4);
    }
}

#[cfg(test)]
mod layout {
    /// Every key pays for the largest variant: keep `Value` as small as a string.
    #[test]
    fn value_is_no_larger_than_a_string() {
        assert_eq!(
            std::mem::size_of::<super::Value>(),
            std::mem::size_of::<super::StrValue>()
        );
        assert!(std::mem::size_of::<crate::Entry>() <= 56);
    }
}
