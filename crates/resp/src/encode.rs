//! Reply encoder for RESP2 and RESP3.
//!
//! Handlers describe a reply in RESP3 terms (map, set, double, null, push...) and the
//! writer lowers it to RESP2 when the client did not say `HELLO 3`, exactly as Redis does:
//! maps become flat arrays, doubles become bulk strings, null becomes `$-1` or `*-1`.

use bytes::{BufMut, BytesMut};

/// The protocol version a client speaks (`HELLO 2|3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

/// Encodes replies into an output buffer.
#[derive(Debug, Default)]
pub struct ReplyWriter {
    pub buf: BytesMut,
    pub protocol: Protocol,
}

impl ReplyWriter {
    pub fn new(protocol: Protocol) -> Self {
        ReplyWriter {
            buf: BytesMut::with_capacity(16 * 1024),
            protocol,
        }
    }

    pub fn is_resp3(&self) -> bool {
        self.protocol == Protocol::Resp3
    }

    fn line(&mut self, prefix: u8, body: &[u8]) {
        self.buf.reserve(body.len() + 3);
        self.buf.put_u8(prefix);
        self.buf.put_slice(body);
        self.buf.put_slice(b"\r\n");
    }

    fn number_line(&mut self, prefix: u8, n: i64) {
        let mut itoa_buf = itoa::Buffer::new();
        let text = itoa_buf.format(n);
        self.line(prefix, text.as_bytes());
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        self.buf.put_slice(b"+OK\r\n");
    }

    /// A simple string. Redis replaces CR and LF so the reply stays one line.
    pub fn simple(&mut self, text: &[u8]) {
        if text.iter().any(|&b| b == b'\r' || b == b'\n') {
            let cleaned: Vec<u8> = text
                .iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
                .collect();
            self.line(b'+', &cleaned);
        } else {
            self.line(b'+', text);
        }
    }

    /// An error reply; `message` holds the code, e.g. `ERR syntax error`.
    pub fn error(&mut self, message: &str) {
        if message.contains(['\r', '\n']) {
            let cleaned = message.replace(['\r', '\n'], " ");
            self.line(b'-', cleaned.as_bytes());
        } else {
            self.line(b'-', message.as_bytes());
        }
    }

    /// An error reply from raw bytes (messages that quote a client's binary input).
    pub fn error_bytes(&mut self, message: &[u8]) {
        if message.iter().any(|&b| b == b'\r' || b == b'\n') {
            let cleaned: Vec<u8> = message
                .iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
                .collect();
            self.line(b'-', &cleaned);
        } else {
            self.line(b'-', message);
        }
    }

    pub fn integer(&mut self, n: i64) {
        self.number_line(b':', n);
    }

    pub fn bulk(&mut self, data: &[u8]) {
        let mut itoa_buf = itoa::Buffer::new();
        let len = itoa_buf.format(data.len());
        self.buf.reserve(data.len() + len.len() + 5);
        self.buf.put_u8(b'$');
        self.buf.put_slice(len.as_bytes());
        self.buf.put_slice(b"\r\n");
        self.buf.put_slice(data);
        self.buf.put_slice(b"\r\n");
    }

    /// A bulk string holding the decimal form of `n` (GET of an integer-encoded string).
    pub fn bulk_integer(&mut self, n: i64) {
        let mut itoa_buf = itoa::Buffer::new();
        let text = itoa_buf.format(n);
        self.bulk(text.as_bytes());
    }

    /// The null bulk string: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        match self.protocol {
            Protocol::Resp2 => self.buf.put_slice(b"$-1\r\n"),
            Protocol::Resp3 => self.buf.put_slice(b"_\r\n"),
        }
    }

    /// The null array: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        match self.protocol {
            Protocol::Resp2 => self.buf.put_slice(b"*-1\r\n"),
            Protocol::Resp3 => self.buf.put_slice(b"_\r\n"),
        }
    }

    pub fn array(&mut self, len: usize) {
        self.number_line(b'*', len as i64);
    }

    /// A map of `pairs` key/value pairs (a flat array of twice the length in RESP2).
    pub fn map(&mut self, pairs: usize) {
        match self.protocol {
            Protocol::Resp2 => self.number_line(b'*', 2 * pairs as i64),
            Protocol::Resp3 => self.number_line(b'%', pairs as i64),
        }
    }

    pub fn set(&mut self, len: usize) {
        match self.protocol {
            Protocol::Resp2 => self.number_line(b'*', len as i64),
            Protocol::Resp3 => self.number_line(b'~', len as i64),
        }
    }

    /// An out-of-band push message header (`>` in RESP3, an array in RESP2).
    pub fn push(&mut self, len: usize) {
        match self.protocol {
            Protocol::Resp2 => self.number_line(b'*', len as i64),
            Protocol::Resp3 => self.number_line(b'>', len as i64),
        }
    }

    /// An attribute header (RESP3 only; RESP2 clients get nothing, as in Redis).
    /// Returns whether the caller should write the `pairs` key/value pairs.
    pub fn attribute(&mut self, pairs: usize) -> bool {
        match self.protocol {
            Protocol::Resp2 => false,
            Protocol::Resp3 => {
                self.number_line(b'|', pairs as i64);
                true
            }
        }
    }

    /// A double, given in the text form Redis prints: a bulk string in RESP2.
    pub fn double_text(&mut self, text: &[u8]) {
        match self.protocol {
            Protocol::Resp2 => self.bulk(text),
            Protocol::Resp3 => self.line(b',', text),
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, value: bool) {
        match (self.protocol, value) {
            (Protocol::Resp2, true) => self.buf.put_slice(b":1\r\n"),
            (Protocol::Resp2, false) => self.buf.put_slice(b":0\r\n"),
            (Protocol::Resp3, true) => self.buf.put_slice(b"#t\r\n"),
            (Protocol::Resp3, false) => self.buf.put_slice(b"#f\r\n"),
        }
    }

    /// A verbatim string (`=len\r\ntxt:...`) in RESP3, a bulk string in RESP2.
    pub fn verbatim(&mut self, format: &[u8; 3], text: &[u8]) {
        match self.protocol {
            Protocol::Resp2 => self.bulk(text),
            Protocol::Resp3 => {
                let mut itoa_buf = itoa::Buffer::new();
                let len = itoa_buf.format(text.len() + 4);
                self.buf.put_u8(b'=');
                self.buf.put_slice(len.as_bytes());
                self.buf.put_slice(b"\r\n");
                self.buf.put_slice(format);
                self.buf.put_u8(b':');
                self.buf.put_slice(text);
                self.buf.put_slice(b"\r\n");
            }
        }
    }

    /// A big number (`(` in RESP3, a bulk string in RESP2).
    pub fn big_number(&mut self, digits: &[u8]) {
        match self.protocol {
            Protocol::Resp2 => self.bulk(digits),
            Protocol::Resp3 => self.line(b'(', digits),
        }
    }

    /// Marks where an aggregate whose length is not known yet starts.
    pub fn begin_deferred(&self) -> usize {
        self.buf.len()
    }

    /// Writes the header of an aggregate begun with [`Self::begin_deferred`].
    /// `kind` is `b'*'` (array), `b'%'` (map, `len` pairs) or `b'~'` (set).
    pub fn end_deferred(&mut self, start: usize, kind: u8, len: usize) {
        let tail = self.buf.split_off(start);
        match kind {
            b'%' => self.map(len),
            b'~' => self.set(len),
            _ => self.array(len),
        }
        self.buf.extend_from_slice(&tail);
    }

    /// Appends already encoded RESP bytes.
    pub fn raw(&mut self, encoded: &[u8]) {
        self.buf.put_slice(encoded);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowers_resp3_types_for_resp2() {
        let mut w = ReplyWriter::new(Protocol::Resp2);
        w.map(1);
        w.bulk(b"k");
        w.double_text(b"1.5");
        w.null();
        w.boolean(true);
        assert_eq!(&w.buf[..], b"*2\r\n$1\r\nk\r\n$3\r\n1.5\r\n$-1\r\n:1\r\n");
        let mut w = ReplyWriter::new(Protocol::Resp3);
        w.map(1);
        w.bulk(b"k");
        w.double_text(b"1.5");
        w.null();
        w.boolean(true);
        assert_eq!(&w.buf[..], b"%1\r\n$1\r\nk\r\n,1.5\r\n_\r\n#t\r\n");
    }

    #[test]
    fn deferred_length() {
        let mut w = ReplyWriter::new(Protocol::Resp2);
        w.integer(7);
        let start = w.begin_deferred();
        w.bulk(b"a");
        w.bulk(b"b");
        w.end_deferred(start, b'*', 2);
        assert_eq!(&w.buf[..], b":7\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    }

    #[test]
    fn errors_and_simple_strings_stay_on_one_line() {
        let mut w = ReplyWriter::new(Protocol::Resp2);
        w.error("ERR bad\r\nthing");
        w.simple(b"a\nb");
        assert_eq!(&w.buf[..], b"-ERR bad  thing\r\n+a b\r\n");
    }
}
