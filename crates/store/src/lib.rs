//! The keyspace and its values: databases, expiry, value encodings, SCAN positions and
//! random sampling.
//!
//! Everything here is synchronous and knows nothing of threads, sockets or locks: the
//! server wraps each [`Shard`] in its own lock and decides what runs when. Keeping it pure
//! lets it be tested directly against simple models.
//!
//! Depends on `util` only.

mod db;
pub mod hash;
mod limits;
pub mod list;
pub mod set;
pub mod stream;
mod value;
pub mod zset;

pub use db::{Db, DbSnapshot, Entry, KeyMap, Shard, SnapshotKeeper, NO_EXPIRE, SCAN_HASH_BITS};
pub use hash::HashValue;
pub use limits::EncodingLimits;
pub use list::ListValue;
pub use set::SetValue;
pub use stream::{Stream, StreamId};
pub use value::{StrBytes, StrValue, Value};
pub use zset::ZSetValue;

/// A key: binary-safe, owned, as compact as a boxed slice.
pub type Key = smallvec::SmallVec<[u8; 24]>;

/// The hasher every map of the keyspace shares, seeded once per process. SCAN cursors are
/// positions in this hash order, so it must be the same for every shard.
pub type KeyHasher = ahash::RandomState;

/// Creates the process-wide hasher (random seed: no hash flooding from clients).
pub fn new_hasher() -> KeyHasher {
    ahash::RandomState::new()
}
