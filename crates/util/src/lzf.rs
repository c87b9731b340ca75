//! LZF decompression, for the compressed strings of RDB files and DUMP payloads.
//!
//! The format: a control byte below 32 starts a run of `ctrl + 1` literal bytes; any
//! other control byte is a back-reference whose length is `ctrl >> 5` (7 means "read one
//! more byte and add it") plus 2, and whose distance is `((ctrl & 31) << 8) + next + 1`
//! bytes back in the output.

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
    use super::decompress;

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
}
