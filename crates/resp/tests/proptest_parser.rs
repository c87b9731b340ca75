//! Property tests for the request parser, the first code to touch untrusted bytes:
//! random and truncated frames, arbitrary byte splits, no panics, and memory that
//! follows the bytes received, never the lengths a client claims.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use lodestone_resp::Limits;
use proptest::prelude::*;
use support::feed::{assert_consistent, feed_in_chunks, fuzz_one, Outcome};

/// Counts the bytes this thread allocates, so a test can bound what parsing costs
/// while other tests run on other threads.
struct CountingAllocator;

thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

fn count(bytes: usize) {
    let _ = ALLOCATED.try_with(|a| a.set(a.get().saturating_add(bytes)));
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Bytes allocated per byte fed, at most (argument copies in the test's own outcome,
/// span tables, inline splitting), plus a constant for fixed-size state.
const BYTES_PER_BYTE_FED: usize = 64;
const FIXED_OVERHEAD: usize = 64 * 1024;

/// Feeds and asserts the allocation bound.
fn feed_bounded(data: &[u8], sizes: &[usize], limits: &Limits) -> Outcome {
    let before = ALLOCATED.with(Cell::get);
    let outcome = feed_in_chunks(data, sizes, limits);
    let spent = ALLOCATED.with(Cell::get) - before;
    let bound = data.len() * BYTES_PER_BYTE_FED + FIXED_OVERHEAD;
    assert!(
        spent <= bound,
        "allocated {spent} bytes for {} fed",
        data.len()
    );
    outcome
}

/// A well-formed request: multibulk, or inline when the arguments allow it.
fn encode(args: &[Vec<u8>], inline: bool) -> Vec<u8> {
    if inline {
        let mut out = args.join(&b' ');
        out.extend_from_slice(b"\r\n");
        return out;
    }
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Commands as (arguments, send inline?); inline ones use plain words only.
fn commands() -> impl Strategy<Value = Vec<(Vec<Vec<u8>>, bool)>> {
    let binary_arg = prop::collection::vec(any::<u8>(), 0..40);
    let word = "[a-zA-Z0-9_:{}-]{1,12}".prop_map(String::into_bytes);
    let multibulk = prop::collection::vec(binary_arg, 1..8).prop_map(|a| (a, false));
    let inline = prop::collection::vec(word, 1..6).prop_map(|a| (a, true));
    prop::collection::vec(prop_oneof![multibulk, inline], 1..12)
}

fn sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..80, 1..8)
}

/// Byte soup with a RESP flavour: headers, CRLFs, quotes and big numbers mixed in.
fn resp_soup() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"*".to_vec()),
        Just(b"$".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"'".to_vec()),
        Just(b"\\x4".to_vec()),
        Just(b"-1".to_vec()),
        Just(b"2147483647".to_vec()),
        Just(b"536870912".to_vec()),
        Just(b"9223372036854775808".to_vec()),
        "[0-9]{1,3}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..8),
    ];
    prop::collection::vec(token, 0..64).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Valid requests parse to exactly the commands sent, however the bytes are split.
    #[test]
    fn valid_frames_survive_any_split(cmds in commands(), sizes in sizes()) {
        let stream: Vec<u8> = cmds.iter().flat_map(|(a, inline)| encode(a, *inline)).collect();
        let outcome = feed_bounded(&stream, &sizes, &Limits::default());
        prop_assert_eq!(outcome.error, None);
        let expected: Vec<Vec<Vec<u8>>> = cmds.into_iter().map(|(a, _)| a).collect();
        prop_assert_eq!(outcome.commands, expected);
    }

    /// Any prefix of a valid stream is a clean partial read: no error, and only the
    /// commands that fully arrived.
    #[test]
    fn truncated_frames_wait_for_more(cmds in commands(), cut in any::<prop::sample::Index>(), sizes in sizes()) {
        let stream: Vec<u8> = cmds.iter().flat_map(|(a, inline)| encode(a, *inline)).collect();
        let prefix = &stream[..cut.index(stream.len() + 1)];
        let outcome = feed_bounded(prefix, &sizes, &Limits::default());
        prop_assert_eq!(outcome.error, None);
        let expected: Vec<Vec<Vec<u8>>> = cmds.into_iter().map(|(a, _)| a).collect();
        prop_assert!(outcome.commands.len() <= expected.len());
        prop_assert_eq!(&outcome.commands[..], &expected[..outcome.commands.len()]);
    }

    /// Arbitrary bytes never panic and the split never matters.
    #[test]
    fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512), sizes in sizes()) {
        let split = feed_bounded(&data, &sizes, &Limits::default());
        let whole = feed_bounded(&data, &[data.len().max(1)], &Limits::default());
        assert_consistent(&split, &whole);
    }

    /// RESP-shaped garbage under every limit setting: no panic, split-independent,
    /// memory bounded by what was fed.
    #[test]
    fn resp_soup_is_handled(data in resp_soup(), sizes in sizes(), small in any::<bool>(), auth in any::<bool>()) {
        let limits = Limits {
            max_bulk_len: if small { 16 } else { 512 * 1024 * 1024 },
            authenticated: auth,
        };
        let split = feed_bounded(&data, &sizes, &limits);
        let whole = feed_bounded(&data, &[data.len().max(1)], &limits);
        assert_consistent(&split, &whole);
    }

    /// The fuzz target's entry point holds on random input too.
    #[test]
    fn fuzz_entry_point_holds(data in prop::collection::vec(any::<u8>(), 0..256)) {
        fuzz_one(&data);
    }
}

/// Claimed lengths up to the limits allocate nothing until the bytes arrive.
#[test]
fn huge_claims_cost_only_what_arrived() {
    let claims: [&[u8]; 4] = [
        b"*2147483647\r\n$536870912\r\nabc",
        b"*1\r\n$536870912\r\n",
        b"*1000000\r\n$1\r\na\r\n$1\r\nb\r\n",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$400000000\r\nxyz",
    ];
    for claim in claims {
        let outcome = feed_bounded(claim, &[1, 7, 3], &Limits::default());
        assert_eq!(outcome.error, None);
        assert!(outcome.commands.is_empty());
    }
}

/// A header line longer than the inline limit is refused rather than buffered forever.
#[test]
fn endless_header_is_refused() {
    let mut data = b"*".to_vec();
    data.resize(1 + 70 * 1024, b'1');
    let outcome = feed_bounded(&data, &[4096], &Limits::default());
    assert_eq!(
        outcome.error.as_deref(),
        Some("Protocol error: too big mbulk count string")
    );
}

/// A NUL in an inline request behaves as in Redis (whose newline search stops at it):
/// the request stays incomplete until the inline limit, and never loops or grows.
#[test]
fn nul_in_inline_request_waits_then_is_refused() {
    let outcome = feed_bounded(b"ECHO ab\x00cd\r\nPING\r\n", &[3], &Limits::default());
    assert_eq!(outcome.error, None);
    assert!(outcome.commands.is_empty());
    let mut data = b"PING\x00".to_vec();
    data.resize(70 * 1024, b'x');
    let outcome = feed_bounded(&data, &[4096], &Limits::default());
    assert_eq!(
        outcome.error.as_deref(),
        Some("Protocol error: too big inline request")
    );
    assert_eq!(
        lodestone_resp::split_args(b"a\x00 b"),
        Some(vec![b"a".to_vec()])
    );
}
