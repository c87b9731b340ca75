//! Redis's RDB format (version 10, Redis 7.0): value encodings in both directions, DUMP
//! payloads, and later the file sections. Pure and synchronous; depends on `store` for
//! the value types and `util` for CRC64 and LZF.

pub mod legacy;
