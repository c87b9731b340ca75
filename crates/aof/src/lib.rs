//! Redis 7.0's append-only file, as data: the multi-part manifest ([`manifest`]),
//! reading command-form files ([`reader`]), writing commands ([`encode`]) and the
//! command form of keys for rewrites without an RDB preamble ([`rewrite`]).
//!
//! Pure and synchronous: the server owns the files, the fsync policy and the replay of
//! commands; this crate only turns bytes into structures and back, accepting and
//! refusing exactly what Redis 7.0 does. Depends on `store` for the values and `util`
//! for number formatting.

mod c_text;
pub mod encode;
pub mod manifest;
pub mod reader;
pub mod rewrite;

pub use encode::encode_command;
pub use manifest::{AofFile, FileType, Manifest};
pub use reader::{is_rdb_preamble, Command, CommandReader, ReadError};
pub use rewrite::key_commands;
