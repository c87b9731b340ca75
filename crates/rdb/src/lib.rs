//! Redis's RDB format (version 10, Redis 7.0): value encodings in both directions, DUMP
//! payloads, and later the file sections. Pure and synchronous; depends on `store` for
//! the value types and `util` for CRC64 and LZF.

pub mod codec;
pub mod dump;
pub mod file;
pub mod legacy;
pub mod value;

pub use codec::Corrupt;
