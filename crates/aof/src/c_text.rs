//! How Redis's C code sees the text it reads, reproduced so that a file is accepted or
//! refused here exactly as it is there: lines read with `fgets` into a fixed buffer,
//! strings that end at the first NUL, and the lenient `strtol`/`atoi` number parsing.

/// C's `isspace` in the "C" locale.
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// C's `isprint` in the "C" locale.
pub fn is_print(b: u8) -> bool {
    (0x20..0x7f).contains(&b)
}

/// The bytes a C string function sees: everything before the first NUL.
pub fn c_str(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == 0) {
        Some(nul) => &bytes[..nul],
        None => bytes,
    }
}

/// One `fgets` call with a buffer of `buf_size` bytes on `bytes` from `pos`: the bytes
/// it returns (up to and including a newline, at most `buf_size - 1` of them), or `None`
/// at the end of the data.
pub fn fgets(bytes: &[u8], pos: usize, buf_size: usize) -> Option<&[u8]> {
    let rest = bytes.get(pos..).filter(|r| !r.is_empty())?;
    let limit = rest.len().min(buf_size.saturating_sub(1));
    let end = match rest[..limit].iter().position(|&b| b == b'\n') {
        Some(nl) => nl + 1,
        None => limit,
    };
    Some(&rest[..end])
}

/// C's `strtol(s, NULL, 10)` on a 64-bit platform: leading white space, an optional
/// sign, then as many digits as there are; 0 without digits; saturates on overflow.
/// Stops at a NUL like the C function.
pub fn strtol(bytes: &[u8]) -> i64 {
    let s = c_str(bytes);
    let mut i = s.iter().take_while(|&&b| is_space(b)).count();
    let negative = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    // Accumulate towards the sign so that i64::MIN is reachable without overflow.
    let mut value: i64 = 0;
    for &d in s[i..].iter().take_while(|b| b.is_ascii_digit()) {
        let digit = i64::from(d - b'0');
        value = if negative {
            match value.checked_mul(10).and_then(|v| v.checked_sub(digit)) {
                Some(v) => v,
                None => return i64::MIN,
            }
        } else {
            match value.checked_mul(10).and_then(|v| v.checked_add(digit)) {
                Some(v) => v,
                None => return i64::MAX,
            }
        };
    }
    value
}

/// C's `atoi` as glibc implements it: `(int) strtol(s, NULL, 10)`, so the long result
/// is truncated to 32 bits.
pub fn atoi(bytes: &[u8]) -> i32 {
    strtol(bytes) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtol_is_lenient_like_c() {
        assert_eq!(strtol(b"42\r\n"), 42);
        assert_eq!(strtol(b"  \t+7x"), 7);
        assert_eq!(strtol(b"-12"), -12);
        assert_eq!(strtol(b""), 0);
        assert_eq!(strtol(b"abc"), 0);
        assert_eq!(strtol(b"- 1"), 0);
        assert_eq!(strtol(b"1\x002"), 1);
        assert_eq!(strtol(b"99999999999999999999"), i64::MAX);
        assert_eq!(strtol(b"-99999999999999999999"), i64::MIN);
        assert_eq!(strtol(b"-9223372036854775808"), i64::MIN);
    }

    #[test]
    fn atoi_truncates_to_int() {
        assert_eq!(atoi(b"3"), 3);
        assert_eq!(atoi(b"4294967297"), 1);
        assert_eq!(atoi(b"99999999999999999999"), -1);
    }

    #[test]
    fn fgets_stops_at_newline_or_buffer() {
        assert_eq!(fgets(b"ab\ncd", 0, 10), Some(&b"ab\n"[..]));
        assert_eq!(fgets(b"ab\ncd", 3, 10), Some(&b"cd"[..]));
        assert_eq!(fgets(b"ab\ncd", 5, 10), None);
        assert_eq!(fgets(b"abcdef\n", 0, 4), Some(&b"abc"[..]));
        assert_eq!(fgets(b"abc", 9, 4), None);
    }
}
