//! Writing commands in the AOF's form, RESP multibulk, byte for byte as Redis writes
//! them (`catAppendOnlyGenericCommand`): `*<argc>\r\n`, then `$<len>\r\n<bytes>\r\n` for
//! each argument.

/// Appends one command.
pub fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    push_array_len(out, args.len());
    for arg in args {
        push_bulk(out, arg.as_ref());
    }
}

/// Appends the `*<n>\r\n` that starts a command of `n` arguments, for callers that
/// write the arguments one by one with [`push_bulk`].
pub fn push_array_len(out: &mut Vec<u8>, n: usize) {
    out.push(b'*');
    push_decimal(out, n as u64);
    out.extend_from_slice(b"\r\n");
}

/// Appends one argument: `$<len>\r\n<bytes>\r\n`.
pub fn push_bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'$');
    push_decimal(out, bytes.len() as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

/// Appends an integer argument in decimal, as Redis writes integer-encoded values.
pub fn push_bulk_i64(out: &mut Vec<u8>, n: i64) {
    let mut digits = [0u8; 20];
    let text = decimal(&mut digits, n.unsigned_abs());
    let len = text.len() + usize::from(n < 0);
    out.push(b'$');
    push_decimal(out, len as u64);
    out.extend_from_slice(b"\r\n");
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(text);
    out.extend_from_slice(b"\r\n");
}

/// Appends an unsigned integer argument in decimal.
pub fn push_bulk_u64(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    push_bulk(out, decimal(&mut digits, n));
}

fn push_decimal(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    out.extend_from_slice(decimal(&mut digits, n));
}

/// Writes `n` in decimal at the end of `buf` and returns those bytes (no allocation:
/// a rewrite writes several numbers per key).
fn decimal(buf: &mut [u8; 20], mut n: u64) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_resp_multibulk() {
        let mut out = Vec::new();
        encode_command(&mut out, &["SET", "k", ""]);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
        out.clear();
        let args: [&[u8]; 1] = [&[0u8; 12]];
        encode_command(&mut out, &args);
        assert_eq!(&out[..9], b"*1\r\n$12\r\n");
    }

    #[test]
    fn integers_print_in_decimal() {
        for n in [0, 7, -7, 10, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            push_bulk_i64(&mut out, n);
            let mut expected = Vec::new();
            push_bulk(&mut expected, n.to_string().as_bytes());
            assert_eq!(out, expected);
        }
        let mut out = Vec::new();
        push_bulk_u64(&mut out, u64::MAX);
        assert_eq!(out, b"$20\r\n18446744073709551615\r\n");
    }
}
