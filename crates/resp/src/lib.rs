//! RESP2/RESP3 on the wire: the incremental request parser (multibulk and inline) and the
//! reply encoder, with the protocol limits Redis enforces.
//!
//! This crate does no I/O and depends only on `bytes`: the server feeds it the bytes it
//! read and drains what it encoded. It is fuzzed (`fuzz/`) and property-tested, because it
//! is the first code that touches untrusted input.

mod encode;
mod parse;

pub use encode::{Protocol, ReplyWriter};
pub use parse::{split_args, Command, Limits, ParseError, RequestParser, INLINE_MAX_SIZE};
