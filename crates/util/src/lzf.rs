//! LZF, the compression of RDB strings and DUMP payloads: a decompressor, and a
//! compressor for writing them as Redis does with `rdbcompression yes`.
//!
//! The format: a control byte below 32 starts a run of `ctrl + 1` literal bytes (1 to
//! 32); any other control byte is a back-reference whose length is `ctrl >> 5` (7 means
//! "read one more byte and add it") plus 2, so 3 to 264 bytes, and whose distance is
//! `((ctrl & 31) << 8) + next + 1` bytes back in the output (1 to 8192). A reference may
//! overlap the bytes it produces (a run of one byte is a reference at distance 1).
//!
//! The compressor is our own rather than the `lzf` crate: that crate (1.0) is marked
//! deprecated by its author and allocates a 64K-entry hash table on every call, which
//! dominates the cost when a snapshot compresses millions of short strings. Ours keeps
//! its table in a [`Compressor`] that is reused from call to call (the free function
//! [`compress`] keeps one per thread) and is not cleared between calls: entries carry
//! a generation offset, so those left by earlier inputs are simply out of range. It is
//! a greedy single-pass matcher like the reference implementation, so ratios are close
//! to Redis's, but the compressed bytes are not identical (any valid stream
//! decompresses the same with any LZF decoder, Redis's included). One difference in
//! kind: our references may run to the last byte of the input, where Redis's
//! compressor always ends with two literal bytes (3 bytes more per string).

use std::cell::RefCell;

/// Longest literal run one control byte announces.
const MAX_LITERAL: usize = 32;
/// Farthest back a reference reaches.
const MAX_DISTANCE: usize = 8192;
/// Shortest reference worth writing (the format cannot express fewer than 3 bytes).
const MIN_MATCH: usize = 3;
/// Longest reference: 7 + 255 + 2.
const MAX_MATCH: usize = 264;
/// Hash table of 2^14 positions (64 KiB): more than the 8 KiB window needs.
const HASH_BITS: u32 = 14;
/// Inputs are compressed in blocks of at most this many bytes, so positions fit the
/// table's `u32` entries with room for the generation offset. A stream made of blocks
/// compressed one after the other is still one valid stream.
const BLOCK: usize = 1 << 30;

/// The largest output [`Compressor::compress`] can produce for `len` input bytes (all
/// literals: one control byte per 32): a `max_out` of at least this always succeeds.
pub fn max_compressed_len(len: usize) -> usize {
    len + len.div_ceil(MAX_LITERAL)
}

fn hash(a: u8, b: u8, c: u8) -> usize {
    let v = (u32::from(a) << 16) | (u32::from(b) << 8) | u32::from(c);
    (v.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
}

/// An LZF compressor with a reusable hash table (allocated once, 64 KiB).
#[derive(Clone)]
pub struct Compressor {
    /// Per hash of three bytes: `offset + position` of their latest occurrence.
    table: Box<[u32]>,
    /// Added to this call's positions; every entry below it belongs to an earlier call.
    offset: u32,
}

impl std::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compressor")
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl Default for Compressor {
    fn default() -> Self {
        Compressor::new()
    }
}

impl Compressor {
    pub fn new() -> Compressor {
        Compressor {
            table: vec![0; 1 << HASH_BITS].into_boxed_slice(),
            offset: 1,
        }
    }

    /// Appends the LZF form of `input` to `out` if it takes at most `max_out` bytes and
    /// returns true; otherwise leaves `out` as it was and returns false. The output
    /// depends only on `input` (not on earlier calls). Empty input gives empty output.
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>, max_out: usize) -> bool {
        let start = out.len();
        let limit = start.saturating_add(max_out);
        out.reserve(max_out.min(max_compressed_len(input.len())));
        for block in input.chunks(BLOCK) {
            if !self.block(block, out, limit) {
                out.truncate(start);
                return false;
            }
        }
        true
    }

    /// One block (at most [`BLOCK`] bytes), appended to `out` without passing `limit`.
    fn block(&mut self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> bool {
        let n = input.len();
        if u64::from(self.offset) + n as u64 >= u64::from(u32::MAX) {
            self.table.fill(0);
            self.offset = 1;
        }
        let offset = self.offset;
        // Positions of this block are offset..offset + n: the next call starts above.
        self.offset += n as u32;
        let table = &mut self.table;
        // The open literal run: where its control byte is and how many bytes it has.
        let mut run_at = 0usize;
        let mut run = 0usize;
        let mut i = 0usize;
        while i < n {
            if i + MIN_MATCH <= n {
                let h = hash(input[i], input[i + 1], input[i + 2]);
                let entry = table[h];
                table[h] = offset + i as u32;
                let candidate = entry
                    .checked_sub(offset)
                    .map(|c| c as usize)
                    .filter(|&c| c < i && i - c <= MAX_DISTANCE)
                    .filter(|&c| input[c..c + MIN_MATCH] == input[i..i + MIN_MATCH]);
                if let Some(c) = candidate {
                    let longest = (n - i).min(MAX_MATCH);
                    let mut len = MIN_MATCH;
                    while len < longest && input[c + len] == input[i + len] {
                        len += 1;
                    }
                    let extra = len - 2;
                    let distance = i - c - 1;
                    let need = if extra < 7 { 2 } else { 3 };
                    if out.len() + need > limit {
                        return false;
                    }
                    if run > 0 {
                        out[run_at] = (run - 1) as u8;
                        run = 0;
                    }
                    if extra < 7 {
                        out.push(((extra << 5) | (distance >> 8)) as u8);
                    } else {
                        out.push(((7 << 5) | (distance >> 8)) as u8);
                        out.push((extra - 7) as u8);
                    }
                    out.push(distance as u8);
                    // Remember the last positions inside the match too, so a repeat
                    // right after it is found.
                    let end = i + len;
                    for p in (end - 2).max(i + 1)..end {
                        if p + MIN_MATCH <= n {
                            table[hash(input[p], input[p + 1], input[p + 2])] = offset + p as u32;
                        }
                    }
                    i = end;
                    continue;
                }
            }
            // A literal byte: opens a run (control byte, patched when the run closes)
            // when none is open.
            if run == 0 {
                if out.len() + 2 > limit {
                    return false;
                }
                run_at = out.len();
                out.push(0);
            } else if out.len() >= limit {
                return false;
            }
            out.push(input[i]);
            run += 1;
            i += 1;
            if run == MAX_LITERAL {
                out[run_at] = (MAX_LITERAL - 1) as u8;
                run = 0;
            }
        }
        if run > 0 {
            out[run_at] = (run - 1) as u8;
        }
        true
    }

    /// A compressor whose next positions are close to the `u32` limit (tests of the
    /// table reset).
    #[cfg(test)]
    fn near_wrap() -> Compressor {
        let mut c = Compressor::new();
        c.offset = u32::MAX - 100;
        c.table.fill(u32::MAX - 200);
        c
    }
}

/// [`Compressor::compress`] with a compressor kept per thread (one table allocation
/// per thread, none per call).
pub fn compress(input: &[u8], out: &mut Vec<u8>, max_out: usize) -> bool {
    thread_local! {
        static COMPRESSOR: RefCell<Compressor> = RefCell::new(Compressor::new());
    }
    COMPRESSOR
        .try_with(|c| match c.try_borrow_mut() {
            Ok(mut c) => c.compress(input, out, max_out),
            Err(_) => Compressor::new().compress(input, out, max_out),
        })
        .unwrap_or_else(|_| Compressor::new().compress(input, out, max_out))
}

/// Decompresses `input` into exactly `plain_len` bytes; `None` if the data is corrupt or
/// does not produce that length. Allocates `plain_len` only up to a bound the input can
/// justify (LZF expands at most about 264x).
pub fn decompress(input: &[u8], plain_len: usize) -> Option<Vec<u8>> {
    if plain_len > input.len().saturating_mul(264).saturating_add(64) {
        return None;
    }
    let mut out = Vec::with_capacity(plain_len);
    let mut i = 0;
    while i < input.len() {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 32 {
            let run = input.get(i..i + ctrl + 1)?;
            out.extend_from_slice(run);
            i += ctrl + 1;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += usize::from(*input.get(i)?);
                i += 1;
            }
            len += 2;
            let back = ((ctrl & 31) << 8) + usize::from(*input.get(i)?) + 1;
            i += 1;
            let start = out.len().checked_sub(back)?;
            for k in 0..len {
                let byte = out[start + k];
                out.push(byte);
            }
        }
        if out.len() > plain_len {
            return None;
        }
    }
    (out.len() == plain_len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Literal runs and overlapping back-references expand as LZF defines them.
    #[test]
    fn literals_and_back_references() {
        // "abcabcabc": literal "abc", then a back-reference of length 6 at distance 3.
        let data = [2, b'a', b'b', b'c', (4 << 5), 2];
        assert_eq!(decompress(&data, 9).as_deref(), Some(&b"abcabcabc"[..]));
        assert_eq!(decompress(&data, 8), None);
        assert_eq!(decompress(&[5, b'a'], 6), None);
        assert_eq!(decompress(&[(1 << 5), 0], 3), None);
    }

    /// Compresses with an unlimited bound and checks the round trip.
    fn round_trip(c: &mut Compressor, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        assert!(c.compress(input, &mut out, max_compressed_len(input.len())));
        assert!(out.len() <= max_compressed_len(input.len()));
        assert_eq!(
            decompress(&out, input.len()).as_deref(),
            Some(input),
            "len {}",
            input.len()
        );
        out
    }

    /// The format's limits: 32-byte literal runs, 264-byte references, 8192 back.
    #[test]
    fn respects_the_format_limits() {
        let mut c = Compressor::new();
        // One byte repeated: a literal, then references of at most 264 bytes.
        let out = round_trip(&mut c, &[b'a'; 1000]);
        assert_eq!(&out[..2], &[0, b'a']);
        assert_eq!(&out[2..5], &[(7 << 5), 255, 0]);
        assert!(out.len() <= 2 + 3 * 4 + 3);
        // Incompressible bytes: runs of 32 literals, each after its control byte.
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let noise: Vec<u8> = (0..100)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        let out = round_trip(&mut c, &noise);
        assert_eq!(out.len(), 100 + 4);
        assert_eq!(out[0], 31);
        assert_eq!(out[33], 31);
        assert_eq!(out[99], 3);
        // A repeat exactly 8192 bytes back is found; one 8193 back is out of reach.
        for (gap, found) in [(8192 - 16, true), (8193 - 16, false)] {
            let mut input = vec![0u8; 16 + gap + 16];
            let mut s = 1u32;
            for b in input.iter_mut() {
                s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
                *b = (s >> 16) as u8;
            }
            let copy: Vec<u8> = input[..16].to_vec();
            input[16 + gap..].copy_from_slice(&copy);
            let out = round_trip(&mut c, &input);
            assert_eq!(out.len() < max_compressed_len(input.len()) - 8, found);
        }
        // Empty and tiny inputs.
        assert!(round_trip(&mut c, b"").is_empty());
        assert_eq!(round_trip(&mut c, b"x"), vec![0, b'x']);
        assert_eq!(round_trip(&mut c, b"xy"), vec![1, b'x', b'y']);
    }

    /// A bound too small fails and leaves the output as it was; the exact size fits.
    #[test]
    fn bound_is_respected() {
        let mut c = Compressor::new();
        let input = b"abcdefghabcdefghabcdefghabcdefgh-0123456789".repeat(3);
        let full = round_trip(&mut c, &input);
        let mut out = b"prefix".to_vec();
        assert!(!c.compress(&input, &mut out, full.len() - 1));
        assert_eq!(out, b"prefix");
        assert!(c.compress(&input, &mut out, full.len()));
        assert_eq!(&out[6..], &full[..]);
        assert!(!c.compress(&input, &mut out, 0));
        assert!(c.compress(b"", &mut out, 0));
    }

    /// The output depends on the input only: the same after other inputs, after the
    /// table's positions wrap, and from the per-thread compressor.
    #[test]
    fn output_is_deterministic() {
        let input = b"the quick brown fox jumps over the lazy dog; the quick brown fox".repeat(9);
        let fresh = round_trip(&mut Compressor::new(), &input);
        let mut c = Compressor::new();
        round_trip(&mut c, &input[..300]);
        round_trip(&mut c, &[7u8; 5000]);
        assert_eq!(round_trip(&mut c, &input), fresh);
        let mut w = Compressor::near_wrap();
        assert_eq!(round_trip(&mut w, &input), fresh);
        assert_eq!(round_trip(&mut w, &input), fresh);
        let mut out = Vec::new();
        assert!(compress(&input, &mut out, usize::MAX));
        assert_eq!(out, fresh);
    }

    /// Repetitive data: runs of a few byte values, a short pattern repeated, or a
    /// pattern repeated with occasional changes.
    fn repetitive() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec((0u8..4, 1usize..400), 0..400).prop_map(|runs| {
                runs.into_iter()
                    .flat_map(|(b, n)| std::iter::repeat_n(b, n))
                    .take(70_000)
                    .collect()
            }),
            (prop::collection::vec(any::<u8>(), 1..40), 0usize..70_000)
                .prop_map(|(pattern, len)| pattern.iter().copied().cycle().take(len).collect()),
            (
                prop::collection::vec(any::<u8>(), 1..10_000),
                0usize..70_000,
                prop::collection::vec((any::<usize>(), any::<u8>()), 0..50)
            )
                .prop_map(|(pattern, len, edits)| {
                    let mut v: Vec<u8> = pattern.iter().copied().cycle().take(len).collect();
                    if !v.is_empty() {
                        let n = v.len();
                        for (at, b) in edits {
                            v[at % n] = b;
                        }
                    }
                    v
                }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn random_input_round_trips(input in prop::collection::vec(any::<u8>(), 0..70_000)) {
            let mut c = Compressor::new();
            round_trip(&mut c, &input);
        }

        #[test]
        fn repetitive_input_round_trips(input in repetitive()) {
            let mut c = Compressor::new();
            round_trip(&mut c, &input);
        }

        /// A short pattern repeated shrinks to a small fraction of its size.
        #[test]
        fn short_cycles_compress_well(
            pattern in prop::collection::vec(any::<u8>(), 1..40),
            len in 1000usize..70_000,
        ) {
            let input: Vec<u8> = pattern.iter().copied().cycle().take(len).collect();
            let out = round_trip(&mut Compressor::new(), &input);
            // One literal run of the pattern, then back references of up to 264 bytes
            // (3 bytes each) when the pattern has no inner repeats. A pattern that does
            // (runs of zeros) sends the greedy matcher to the nearer copy now and then,
            // as liblzf's would, and costs a few short references per period: 16,900
            // bytes of a 31-byte pattern with zero runs took 381 bytes. A twentieth of
            // the input still says "a small fraction".
            let bound = pattern.len() + 8 + input.len() / 20;
            prop_assert!(out.len() <= bound, "{} -> {} (bound {bound})", input.len(), out.len());
        }

        #[test]
        fn any_bound_is_respected(input in repetitive(), cut in 0usize..=100) {
            let mut c = Compressor::new();
            let full = round_trip(&mut c, &input);
            let bound = full.len() * cut / 100;
            let mut out = vec![1, 2, 3];
            let fits = c.compress(&input, &mut out, bound);
            prop_assert_eq!(fits, bound >= full.len());
            if fits {
                prop_assert_eq!(&out[3..], &full[..]);
            } else {
                prop_assert_eq!(out, vec![1, 2, 3]);
            }
        }
    }
}
