//! Feeds bytes to [`RequestParser`] the way a socket delivers them (in arbitrary
//! chunks) and checks what must hold for any input: no panic, the parser never grows
//! the caller's buffer, and how the bytes were split never changes the commands.
//!
//! Shared by the property tests, the corpus replay test and the cargo-fuzz target
//! (`fuzz/fuzz_targets/request_parser.rs` includes this file by path), so all three
//! check the same invariants.
#![allow(dead_code)]

use bytes::BytesMut;
use lodestone_resp::{Limits, RequestParser};

/// What a connection would have seen: the commands, then maybe a protocol error.
#[derive(Debug, Default)]
pub struct Outcome {
    pub commands: Vec<Vec<Vec<u8>>>,
    pub error: Option<String>,
}

/// Feeds `data` in chunks whose sizes cycle through `sizes` (0 counts as 1).
pub fn feed_in_chunks(data: &[u8], sizes: &[usize], limits: &Limits) -> Outcome {
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::new();
    let mut outcome = Outcome::default();
    let mut rest = data;
    let mut turn = 0;
    while !rest.is_empty() {
        let size = sizes
            .get(turn % sizes.len().max(1))
            .copied()
            .unwrap_or(1)
            .max(1);
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        turn += 1;
        buf.extend_from_slice(chunk);
        if drain(&mut parser, &mut buf, limits, &mut outcome) {
            break;
        }
    }
    outcome
}

/// Parses every complete command in `buf`; returns true on a protocol error (the
/// server would close the connection, so feeding stops).
fn drain(
    parser: &mut RequestParser,
    buf: &mut BytesMut,
    limits: &Limits,
    outcome: &mut Outcome,
) -> bool {
    loop {
        let capacity = buf.capacity();
        let result = parser.parse(buf, limits);
        // The parser only consumes: any growth would come from a claimed length.
        assert!(buf.capacity() <= capacity, "parser grew the read buffer");
        match result {
            Ok(Some(command)) => outcome
                .commands
                .push(command.args().map(|a| a.to_vec()).collect()),
            Ok(None) => return false,
            Err(e) => {
                assert!(e.message.starts_with("Protocol error: "), "{}", e.message);
                outcome.error = Some(e.message);
                return true;
            }
        }
    }
}

/// Checks that two feedings of the same bytes agree. Only over-long lines without a
/// terminator can differ (Redis too rejects them only while the terminator is missing),
/// so the commands of one must be a prefix of the other's, and equal without errors.
pub fn assert_consistent(a: &Outcome, b: &Outcome) {
    let n = a.commands.len().min(b.commands.len());
    assert_eq!(
        a.commands[..n],
        b.commands[..n],
        "split changed the commands"
    );
    if a.error.is_none() && b.error.is_none() {
        assert_eq!(a.commands, b.commands, "split changed the commands");
    }
}

/// The fuzz entry point: byte 0 picks the limits, bytes 1..4 the chunk sizes, the
/// rest is the stream. Fed split and whole, and the two must agree.
pub fn fuzz_one(data: &[u8]) {
    let (head, body) = data.split_at(data.len().min(4));
    let flags = head.first().copied().unwrap_or(0);
    let limits = Limits {
        max_bulk_len: if flags & 1 == 1 {
            64
        } else {
            512 * 1024 * 1024
        },
        authenticated: flags & 2 == 0,
    };
    let sizes: Vec<usize> = head
        .iter()
        .skip(1)
        .map(|&b| 1 + usize::from(b % 64))
        .collect();
    let split = feed_in_chunks(body, &sizes, &limits);
    let whole = feed_in_chunks(body, &[body.len().max(1)], &limits);
    assert_consistent(&split, &whole);
}
