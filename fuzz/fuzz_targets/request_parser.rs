//! Fuzz target: arbitrary bytes, in arbitrary splits, into the request parser. Errors
//! are fine; panics, buffer growth and split-dependent results are not. The checks
//! live in the resp crate's test support so that stable `cargo test` runs them too.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/resp/tests/support/feed.rs"]
mod feed;

fuzz_target!(|data: &[u8]| feed::fuzz_one(data));
