//! Numbers parsed and printed exactly as Redis does.
//!
//! Integers follow `string2ll`: decimal only, no spaces, no `+`, no leading zeros, no
//! overflow. Doubles follow `strtod` with Redis's strictness, and INCRBYFLOAT uses the
//! platform's `long double` through a small C shim so its results match to the digit.

use std::ffi::c_char;

extern "C" {
    fn lodestone_ld_incr(
        current: *const c_char,
        current_len: usize,
        has_current: i32,
        increment: *const c_char,
        increment_len: usize,
        out: *mut c_char,
        cap: usize,
        out_len: *mut usize,
    ) -> i32;
    fn lodestone_ld_valid(s: *const c_char, len: usize) -> i32;
    fn lodestone_d_parse(s: *const c_char, len: usize, out: *mut f64) -> i32;
    fn lodestone_d_format17g(value: f64, out: *mut c_char, cap: usize) -> usize;
}

/// Parses a signed 64-bit integer as Redis's `string2ll`.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    let mut value: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        if value > i64::MAX as u64 + 1 {
            return None;
        }
        Some((value as i64).wrapping_neg())
    } else {
        i64::try_from(value).ok()
    }
}

/// Parses an unsigned 64-bit integer with the same strictness (SCAN cursors).
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    if !(b'1'..=b'9').contains(&s[0]) {
        return None;
    }
    let mut value: u64 = 0;
    for &d in s {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(value)
}

/// Parses a double as Redis's `string2d`: the whole input must be the number, NaN is
/// refused, `inf` and `-inf` are accepted.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    let mut out = 0f64;
    // SAFETY: the pointer and length describe `s`, which the C side only reads; `out` is
    // a valid f64 location.
    let ok = unsafe { lodestone_d_parse(s.as_ptr().cast(), s.len(), &mut out) };
    (ok == 1).then_some(out)
}

/// Formats a double as Redis 7.0 replies with it (`%.17g`; `inf`, `-inf`).
pub fn format_f64(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let mut buf = [0u8; 64];
    // SAFETY: `buf` is writable for its full length, which we pass as the capacity.
    let len = unsafe { lodestone_d_format17g(value, buf.as_mut_ptr().cast(), buf.len()) };
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

/// Whether `s` is a number INCRBYFLOAT would accept (`long double`).
pub fn is_long_double(s: &[u8]) -> bool {
    // SAFETY: read-only pointer and length of `s`.
    unsafe { lodestone_ld_valid(s.as_ptr().cast(), s.len()) == 1 }
}

/// Why a float increment failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloatIncrError {
    /// The stored value is not a float.
    NotAFloat,
    /// The increment is not a float.
    BadIncrement,
    /// The result would be NaN or infinite.
    NanOrInfinity,
}

/// Adds `increment` to `current` (absent means 0) in `long double` precision and returns
/// the result as Redis prints it (`%.17Lf`, trailing zeros trimmed).
pub fn incr_by_float(current: Option<&[u8]>, increment: &[u8]) -> Result<Vec<u8>, FloatIncrError> {
    let mut out = [0u8; 5200];
    let mut out_len = 0usize;
    let (cur_ptr, cur_len, has) = match current {
        Some(c) => (c.as_ptr(), c.len(), 1),
        None => (std::ptr::null(), 0, 0),
    };
    // SAFETY: the inputs are read-only slices passed with their lengths (or null with
    // `has_current` 0, which the C side does not read); `out` is writable for `cap` bytes.
    let code = unsafe {
        lodestone_ld_incr(
            cur_ptr.cast(),
            cur_len,
            has,
            increment.as_ptr().cast(),
            increment.len(),
            out.as_mut_ptr().cast(),
            out.len(),
            &mut out_len,
        )
    };
    match code {
        0 => Ok(out[..out_len].to_vec()),
        1 => Err(FloatIncrError::NotAFloat),
        2 => Err(FloatIncrError::BadIncrement),
        _ => Err(FloatIncrError::NanOrInfinity),
    }
}

/// Number of decimal digits of `v` with its sign, for sizing replies.
pub fn i64_text(v: i64) -> Vec<u8> {
    v.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_as_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"01",
            b"-0",
            b"+1",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"1.0",
            b"-",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn float_increment_matches_redis() {
        assert_eq!(incr_by_float(Some(b"10.5"), b"0.1").unwrap(), b"10.6");
        assert_eq!(incr_by_float(None, b"1.5").unwrap(), b"1.5");
        assert_eq!(incr_by_float(Some(b"5.0e3"), b"2.0e2").unwrap(), b"5200");
        assert_eq!(incr_by_float(Some(b"1"), b"-1").unwrap(), b"0");
        assert_eq!(
            incr_by_float(Some(b"abc"), b"1"),
            Err(FloatIncrError::NotAFloat)
        );
        assert_eq!(
            incr_by_float(Some(b"1"), b" 1"),
            Err(FloatIncrError::BadIncrement)
        );
        assert_eq!(
            incr_by_float(Some(b"1"), b"inf"),
            Err(FloatIncrError::NanOrInfinity)
        );
    }

    #[test]
    fn doubles() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b"1.5x"), None);
        assert_eq!(format_f64(1.1), "1.1000000000000001");
        assert_eq!(format_f64(3.0), "3");
    }
}
