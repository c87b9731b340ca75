//! Incremental request parser.
//!
//! Redis reads requests in two forms: multibulk (`*N\r\n$len\r\narg\r\n...`), which every
//! client library sends, and inline (`SET k v\n`), which people type into telnet or nc.
//! The parser keeps its place between calls, so a 512 MB argument that arrives in many
//! reads is scanned once, not once per read. Arguments are slices of the received buffer
//! (no copy); only inline requests, whose quotes and escapes must be decoded, are copied.
//!
//! Allocation follows received bytes: a claimed bulk or multibulk length is checked
//! against the limits and then only remembered, never used to reserve memory.

use bytes::{Bytes, BytesMut};
use smallvec::SmallVec;

/// Longest inline request, and longest `*N` / `$N` header line, Redis accepts (64 KiB).
pub const INLINE_MAX_SIZE: usize = 64 * 1024;
/// Largest multibulk count Redis accepts (INT_MAX).
const MULTIBULK_MAX: i64 = i32::MAX as i64;
/// Before AUTH, Redis accepts at most this many arguments...
const UNAUTHENTICATED_MULTIBULK_MAX: i64 = 10;
/// ...and bulks of at most this many bytes.
const UNAUTHENTICATED_BULK_MAX: i64 = 16 * 1024;

/// The limits that depend on configuration and on the client's state.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `proto-max-bulk-len`.
    pub max_bulk_len: i64,
    /// Whether the client may send large requests (authenticated, or no password set).
    pub authenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            authenticated: true,
        }
    }
}

/// A protocol violation. The server replies `-ERR <message>` and closes the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
}

impl ParseError {
    fn new(message: impl Into<String>) -> Self {
        ParseError {
            message: message.into(),
        }
    }
}

/// One parsed request: the command name and its arguments, binary-safe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    buf: Bytes,
    spans: SmallVec<[(usize, usize); 6]>,
    inline: bool,
}

impl Command {
    /// Builds a command from owned arguments (tests, scripts, replay).
    pub fn from_args<A: AsRef<[u8]>>(args: &[A]) -> Command {
        let mut buf = BytesMut::new();
        let mut spans = SmallVec::new();
        for arg in args {
            let start = buf.len();
            buf.extend_from_slice(arg.as_ref());
            spans.push((start, buf.len()));
        }
        Command {
            buf: buf.freeze(),
            spans,
            inline: false,
        }
    }

    /// Number of arguments, the command name included.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Argument `index` (0 is the command name). Panics when out of range: arity is
    /// checked by the dispatcher before any handler reads an argument.
    pub fn arg(&self, index: usize) -> &[u8] {
        let (start, end) = self.spans[index];
        &self.buf[start..end]
    }

    /// Argument `index` as a shared slice of the request buffer (no copy).
    pub fn arg_bytes(&self, index: usize) -> Bytes {
        let (start, end) = self.spans[index];
        self.buf.slice(start..end)
    }

    /// All arguments, the command name first.
    pub fn args(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.spans.iter().map(move |&(s, e)| &self.buf[s..e])
    }

    /// Whether the request came in inline form.
    pub fn is_inline(&self) -> bool {
        self.inline
    }

    /// Bytes this command occupies in memory, for the query buffer accounting.
    pub fn byte_len(&self) -> usize {
        self.buf.len()
    }
}

/// Where the parser stands inside a multibulk request that has not fully arrived.
#[derive(Debug, Default)]
struct Partial {
    /// Arguments announced by `*N`.
    expected: usize,
    /// Offset of the next unparsed byte.
    pos: usize,
    /// Length announced by the current `$len`, once its header was read.
    bulk_len: Option<usize>,
    spans: SmallVec<[(usize, usize); 6]>,
}

/// Parser state for one connection.
#[derive(Debug, Default)]
pub struct RequestParser {
    partial: Option<Partial>,
}

enum Step {
    Done(Command),
    /// An empty request (`*0`, `*-1`, a blank inline line): consumed, nothing to run.
    Empty,
    Incomplete,
}

impl RequestParser {
    pub fn new() -> Self {
        RequestParser::default()
    }

    /// Whether a request has started arriving but is not complete.
    pub fn in_progress(&self) -> bool {
        self.partial.is_some()
    }

    /// Takes the next complete request off the front of `buf`.
    ///
    /// Returns `Ok(None)` when more bytes are needed; the parser remembers its place.
    /// On `Err` the connection must be closed after replying: the buffer is left as is.
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<Command>, ParseError> {
        loop {
            if buf.is_empty() {
                return Ok(None);
            }
            if self.partial.is_none() && buf[0] == b'*' {
                if let Some(command) = parse_whole_multibulk(buf, limits) {
                    return Ok(Some(command));
                }
            }
            let step = if self.partial.is_some() || buf[0] == b'*' {
                self.parse_multibulk(buf, limits)?
            } else {
                parse_inline(buf)?
            };
            match step {
                Step::Done(command) => return Ok(Some(command)),
                Step::Empty => continue,
                Step::Incomplete => return Ok(None),
            }
        }
    }

    fn parse_multibulk(&mut self, buf: &mut BytesMut, limits: &Limits) -> Result<Step, ParseError> {
        if self.partial.is_none() {
            let Some(header_end) =
                read_header_line(buf, 0, "Protocol error: too big mbulk count string")?
            else {
                return Ok(Step::Incomplete);
            };
            let count = match parse_i64(&buf[1..header_end - 2]) {
                Some(n) if n <= MULTIBULK_MAX => n,
                _ => return Err(ParseError::new("Protocol error: invalid multibulk length")),
            };
            if count > UNAUTHENTICATED_MULTIBULK_MAX && !limits.authenticated {
                return Err(ParseError::new(
                    "Protocol error: unauthenticated multibulk length",
                ));
            }
            if count <= 0 {
                let _ = buf.split_to(header_end);
                return Ok(Step::Empty);
            }
            self.partial = Some(Partial {
                expected: count as usize,
                pos: header_end,
                bulk_len: None,
                spans: SmallVec::new(),
            });
        }
        let Some(partial) = self.partial.as_mut() else {
            return Ok(Step::Incomplete);
        };
        while partial.spans.len() < partial.expected {
            let bulk_len = match partial.bulk_len {
                Some(len) => len,
                None => {
                    if partial.pos >= buf.len() {
                        return Ok(Step::Incomplete);
                    }
                    if buf[partial.pos] != b'$' {
                        return Err(ParseError::new(format!(
                            "Protocol error: expected '$', got '{}'",
                            buf[partial.pos] as char
                        )));
                    }
                    let Some(header_end) = read_header_line(
                        buf,
                        partial.pos,
                        "Protocol error: too big bulk count string",
                    )?
                    else {
                        return Ok(Step::Incomplete);
                    };
                    let len = match parse_i64(&buf[partial.pos + 1..header_end - 2]) {
                        Some(n) if n >= 0 && n <= limits.max_bulk_len => n,
                        _ => return Err(ParseError::new("Protocol error: invalid bulk length")),
                    };
                    if len > UNAUTHENTICATED_BULK_MAX && !limits.authenticated {
                        return Err(ParseError::new(
                            "Protocol error: unauthenticated bulk length",
                        ));
                    }
                    partial.pos = header_end;
                    partial.bulk_len = Some(len as usize);
                    len as usize
                }
            };
            // Redis skips the two bytes after the payload without checking them.
            if buf.len() - partial.pos < bulk_len + 2 {
                return Ok(Step::Incomplete);
            }
            partial.spans.push((partial.pos, partial.pos + bulk_len));
            partial.pos += bulk_len + 2;
            partial.bulk_len = None;
        }
        let Some(partial) = self.partial.take() else {
            return Ok(Step::Incomplete);
        };
        let frame = buf.split_to(partial.pos).freeze();
        Ok(Step::Done(Command {
            buf: frame,
            spans: partial.spans,
            inline: false,
        }))
    }
}

/// The fast path for the common case: a well-formed multibulk request that has fully
/// arrived. Anything else (incomplete, malformed, over a limit, empty) returns `None`
/// and goes through the general parser, which keeps state and words the errors.
fn parse_whole_multibulk(buf: &mut BytesMut, limits: &Limits) -> Option<Command> {
    let (count, mut pos) = small_number(buf, 1)?;
    if count == 0 || (count > UNAUTHENTICATED_MULTIBULK_MAX as usize && !limits.authenticated) {
        return None;
    }
    let mut spans: SmallVec<[(usize, usize); 6]> = SmallVec::new();
    for _ in 0..count {
        if *buf.get(pos)? != b'$' {
            return None;
        }
        let (len, start) = small_number(buf, pos + 1)?;
        if len as i64 > limits.max_bulk_len
            || (len as i64 > UNAUTHENTICATED_BULK_MAX && !limits.authenticated)
        {
            return None;
        }
        let end = start.checked_add(len)?;
        if end + 2 > buf.len() {
            return None;
        }
        spans.push((start, end));
        pos = end + 2;
    }
    let frame = buf.split_to(pos).freeze();
    Some(Command {
        buf: frame,
        spans,
        inline: false,
    })
}

/// A plain decimal (no sign, no leading zero, at most 18 digits) at `start`, ended by
/// `\r\n`. Returns the value and the offset after `\r\n`.
#[inline]
fn small_number(buf: &[u8], start: usize) -> Option<(usize, usize)> {
    let mut value = 0usize;
    let mut i = start;
    loop {
        let b = *buf.get(i)?;
        if b.is_ascii_digit() {
            value = value * 10 + usize::from(b - b'0');
            i += 1;
            if i - start > 18 {
                return None;
            }
        } else if b == b'\r' {
            break;
        } else {
            return None;
        }
    }
    let digits = i - start;
    if digits == 0 || (digits > 1 && buf[start] == b'0') || *buf.get(i + 1)? != b'\n' {
        return None;
    }
    Some((value, i + 2))
}

/// Finds the `\r\n` that ends the header line starting at `start` (`*N` or `$N`).
/// Returns the offset just past `\r\n`.
fn read_header_line(buf: &[u8], start: usize, too_big: &str) -> Result<Option<usize>, ParseError> {
    let window = &buf[start..];
    match memchr::memchr(b'\r', window) {
        None => {
            if window.len() > INLINE_MAX_SIZE {
                return Err(ParseError::new(too_big));
            }
            Ok(None)
        }
        Some(cr) => {
            if cr > INLINE_MAX_SIZE {
                return Err(ParseError::new(too_big));
            }
            // The '\n' must have arrived too.
            if cr + 1 >= window.len() {
                return Ok(None);
            }
            Ok(Some(start + cr + 2))
        }
    }
}

fn parse_inline(buf: &mut BytesMut) -> Result<Step, ParseError> {
    // Redis looks for the newline with strchr, which stops at a NUL: a NUL before the
    // newline leaves the request incomplete until the size limit rejects it.
    let searchable = memchr::memchr(0, buf).unwrap_or(buf.len());
    let Some(newline) = memchr::memchr(b'\n', &buf[..searchable]) else {
        if buf.len() > INLINE_MAX_SIZE {
            return Err(ParseError::new("Protocol error: too big inline request"));
        }
        return Ok(Step::Incomplete);
    };
    let mut line_end = newline;
    if line_end > 0 && buf[line_end - 1] == b'\r' {
        line_end -= 1;
    }
    let args = split_args(&buf[..line_end])
        .ok_or_else(|| ParseError::new("Protocol error: unbalanced quotes in request"))?;
    let _ = buf.split_to(newline + 1);
    if args.is_empty() {
        return Ok(Step::Empty);
    }
    let mut command = Command::from_args(&args);
    command.inline = true;
    Ok(Step::Done(command))
}

/// Splits an inline request into arguments the way redis-cli and Redis's inline parser
/// do: whitespace separates, `"..."` understands `\n \r \t \b \a \\ \" \xHH`, `'...'`
/// understands only `\'`. A closing quote must be followed by whitespace or the end.
/// Returns `None` for unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    // Redis splits a C string: a NUL ends the input (and must not stall the loop).
    let line = &line[..line.iter().position(|&b| b == 0).unwrap_or(line.len())];
    let mut args = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return Some(args);
        }
        let mut current = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            if in_double {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && is_hex(line[i + 2])
                    && is_hex(line[i + 3])
                {
                    current.push(hex_value(line[i + 2]) * 16 + hex_value(line[i + 3]));
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    current.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    current.push(c);
                }
            } else if in_single {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    current.push(c);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => break,
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    c => current.push(c),
                }
            }
            i += 1;
        }
        args.push(current);
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

/// Parses a signed decimal exactly as Redis's `string2ll`: no spaces, no `+`, no leading
/// zeros, no overflow.
fn parse_i64(s: &[u8]) -> Option<i64> {
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
    if digits.is_empty() || digits[0] == b'0' {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ParseError> {
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(cmd) = parser.parse(&mut buf, &Limits::default())? {
            out.push(cmd.args().map(|a| a.to_vec()).collect());
        }
        Ok(out)
    }

    #[test]
    fn multibulk_and_pipeline() {
        let got = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n").unwrap();
        assert_eq!(
            got,
            vec![vec![b"GET".to_vec(), b"k".to_vec()], vec![b"PING".to_vec()]]
        );
    }

    #[test]
    fn byte_at_a_time_gives_same_result() {
        let input = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\nPING\r\n";
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for &b in input.iter() {
            buf.extend_from_slice(&[b]);
            while let Some(cmd) = parser.parse(&mut buf, &Limits::default()).unwrap() {
                out.push(cmd.args().map(|a| a.to_vec()).collect::<Vec<_>>());
            }
        }
        assert_eq!(out.len(), 2);
        assert_eq!(out[0][2], b"value");
        assert_eq!(out[1][0], b"PING");
    }

    #[test]
    fn inline_quotes_and_escapes() {
        let got = parse_all(b"set \"a b\" 'c\\'d' \"\\x41\\n\"\r\n").unwrap();
        assert_eq!(
            got[0],
            vec![
                b"set".to_vec(),
                b"a b".to_vec(),
                b"c'd".to_vec(),
                b"A\n".to_vec()
            ]
        );
        assert_eq!(
            parse_all(b"set \"a\r\n").unwrap_err().message,
            "Protocol error: unbalanced quotes in request"
        );
        assert_eq!(parse_all(b"\r\n\n").unwrap(), Vec::<Vec<Vec<u8>>>::new());
    }

    #[test]
    fn protocol_errors_use_redis_text() {
        assert_eq!(
            parse_all(b"*x\r\n").unwrap_err().message,
            "Protocol error: invalid multibulk length"
        );
        assert_eq!(
            parse_all(b"*1\r\nfoo\r\n").unwrap_err().message,
            "Protocol error: expected '$', got 'f'"
        );
        assert_eq!(
            parse_all(b"*1\r\n$-5\r\n").unwrap_err().message,
            "Protocol error: invalid bulk length"
        );
        assert_eq!(
            parse_all(b"*1\r\n$600000000\r\n").unwrap_err().message,
            "Protocol error: invalid bulk length"
        );
        assert_eq!(
            parse_all(b"*3000000000\r\n").unwrap_err().message,
            "Protocol error: invalid multibulk length"
        );
        let long = vec![b'a'; INLINE_MAX_SIZE + 1];
        assert_eq!(
            parse_all(&long).unwrap_err().message,
            "Protocol error: too big inline request"
        );
    }

    #[test]
    fn unauthenticated_limits() {
        let limits = Limits {
            authenticated: false,
            ..Limits::default()
        };
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(&b"*11\r\n"[..]);
        assert_eq!(
            parser.parse(&mut buf, &limits).unwrap_err().message,
            "Protocol error: unauthenticated multibulk length"
        );
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(&b"*1\r\n$16385\r\n"[..]);
        assert_eq!(
            parser.parse(&mut buf, &limits).unwrap_err().message,
            "Protocol error: unauthenticated bulk length"
        );
    }

    #[test]
    fn huge_claimed_length_allocates_nothing() {
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(&b"*2147483647\r\n$536870912\r\nab"[..]);
        assert!(parser
            .parse(&mut buf, &Limits::default())
            .unwrap()
            .is_none());
        assert!(buf.capacity() < 4096);
    }
}
