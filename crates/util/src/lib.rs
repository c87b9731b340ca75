//! Small pieces every other crate needs to get exactly as Redis does: number parsing and
//! printing (including the `long double` arithmetic behind INCRBYFLOAT), glob-style
//! pattern matching, hash slots, and the clock.
//!
//! Depends on nothing in the workspace.

pub mod clock;
pub mod crc64;
pub mod glob;
pub mod lzf;
pub mod number;
pub mod slot;

pub use glob::glob_match;
pub use slot::key_hash_slot;
