//! The RDB primitives: lengths, strings (with their integer and LZF forms), doubles and
//! millisecond times, written into a buffer and read back from a bounded slice.
//!
//! With compression on, the writer stores strings longer than 20 bytes in LZF form when
//! that saves at least 4 bytes, as Redis does with `rdbcompression yes`.
//!
//! Every read checks the bytes left before it trusts a length, so a corrupt or hostile
//! payload ends in an error, never in a panic or an allocation larger than its input.

use lodestone_util::number::parse_i64;

/// Why a payload could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corrupt(pub &'static str);

pub type Result<T> = std::result::Result<T, Corrupt>;

/// The reason given when the data ends before what it announces (a file cut short).
pub const SHORT_READ: &str = "unexpected end of data";

const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// Strings of at most this many bytes are never compressed (Redis's threshold: LZF
/// cannot shrink them by enough).
pub const COMPRESS_ABOVE: usize = 20;
/// A compressed form is kept only when it saves at least this many bytes.
const COMPRESS_SAVING: usize = 4;

/// The bytes of `n` in RDB's length encoding, and how many there are.
fn encode_length(n: u64) -> ([u8; 9], usize) {
    let mut b = [0u8; 9];
    if n < 1 << 6 {
        b[0] = n as u8;
        (b, 1)
    } else if n < 1 << 14 {
        b[0] = 0x40 | (n >> 8) as u8;
        b[1] = n as u8;
        (b, 2)
    } else if n <= u64::from(u32::MAX) {
        b[0] = 0x80;
        b[1..5].copy_from_slice(&(n as u32).to_be_bytes());
        (b, 5)
    } else {
        b[0] = 0x81;
        b[1..9].copy_from_slice(&n.to_be_bytes());
        (b, 9)
    }
}

/// Appends RDB-encoded data to a buffer.
#[derive(Debug, Default)]
pub struct Writer {
    pub buf: Vec<u8>,
    /// LZF-compress long strings (`rdbcompression`).
    compress: bool,
}

impl Writer {
    /// A writer that stores strings uncompressed.
    pub fn new() -> Writer {
        Writer::default()
    }

    /// A writer that compresses long strings when `compress` is true.
    pub fn with_compression(compress: bool) -> Writer {
        Writer {
            buf: Vec::new(),
            compress,
        }
    }

    /// Turns string compression on or off for what is written next.
    pub fn set_compression(&mut self, compress: bool) {
        self.compress = compress;
    }

    pub fn compression(&self) -> bool {
        self.compress
    }

    pub fn byte(&mut self, b: u8) {
        self.buf.push(b);
    }

    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// A length: 6 bits, 14 bits, 32 bits or 64 bits, big-endian.
    pub fn length(&mut self, n: u64) {
        let (b, len) = encode_length(n);
        self.buf.extend_from_slice(&b[..len]);
    }

    /// A string, as Redis's `rdbSaveRawString` writes it: short decimal strings take
    /// the integer forms; with compression on, strings longer than 20 bytes take the
    /// LZF form when it is at least 4 bytes smaller; others are written verbatim.
    pub fn string(&mut self, bytes: &[u8]) {
        if bytes.len() <= 11 {
            if let Some(n) = parse_i64(bytes) {
                if self.try_int(n) {
                    return;
                }
            }
        }
        if self.compress && bytes.len() > COMPRESS_ABOVE && self.lzf_string(bytes) {
            return;
        }
        self.length(bytes.len() as u64);
        self.buf.extend_from_slice(bytes);
    }

    /// The LZF form: the special length 0xC3, the compressed length, the plain length,
    /// then the compressed bytes. False (nothing written) when it would not save
    /// [`COMPRESS_SAVING`] bytes.
    fn lzf_string(&mut self, bytes: &[u8]) -> bool {
        let max_out = bytes.len() - COMPRESS_SAVING;
        let (plain, plain_len) = encode_length(bytes.len() as u64);
        // Compress straight into the buffer, after room for the largest header the
        // compressed length can need; the header then goes in front of the data.
        let start = self.buf.len();
        let room = 1 + encode_length(max_out as u64).1 + plain_len;
        self.buf.resize(start + room, 0);
        if !lodestone_util::lzf::compress(bytes, &mut self.buf, max_out) {
            self.buf.truncate(start);
            return false;
        }
        let data_len = self.buf.len() - start - room;
        let (compressed, compressed_len) = encode_length(data_len as u64);
        let head = 1 + compressed_len + plain_len;
        self.buf[start] = 0xC0 | ENC_LZF;
        self.buf[start + 1..start + 1 + compressed_len]
            .copy_from_slice(&compressed[..compressed_len]);
        self.buf[start + 1 + compressed_len..start + head].copy_from_slice(&plain[..plain_len]);
        if head < room {
            self.buf.copy_within(start + room.., start + head);
            self.buf.truncate(start + head + data_len);
        }
        true
    }

    /// An integer as a string: an integer form when it fits 32 bits, else its digits.
    pub fn int_string(&mut self, n: i64) {
        if !self.try_int(n) {
            let text = n.to_string();
            self.length(text.len() as u64);
            self.buf.extend_from_slice(text.as_bytes());
        }
    }

    fn try_int(&mut self, n: i64) -> bool {
        if let Ok(v) = i8::try_from(n) {
            self.buf.push(0xC0 | ENC_INT8);
            self.buf.push(v as u8);
        } else if let Ok(v) = i16::try_from(n) {
            self.buf.push(0xC0 | ENC_INT16);
            self.buf.extend_from_slice(&v.to_le_bytes());
        } else if let Ok(v) = i32::try_from(n) {
            self.buf.push(0xC0 | ENC_INT32);
            self.buf.extend_from_slice(&v.to_le_bytes());
        } else {
            return false;
        }
        true
    }

    /// A binary double (little-endian IEEE 754), as ZSET_2 scores.
    pub fn double(&mut self, value: f64) {
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    /// A millisecond time (little-endian i64).
    pub fn millis(&mut self, ms: i64) {
        self.buf.extend_from_slice(&ms.to_le_bytes());
    }
}

/// Reads RDB-encoded data from a slice.
#[derive(Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data, at: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.at
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(Corrupt(SHORT_READ));
        }
        let out = &self.data[self.at..self.at + n];
        self.at += n;
        Ok(out)
    }

    pub fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    /// A length, or the special string form it announces (`Err` for the latter).
    fn len_or_special(&mut self) -> Result<std::result::Result<u64, u8>> {
        let first = self.byte()?;
        Ok(match first >> 6 {
            0 => Ok(u64::from(first & 0x3F)),
            1 => Ok((u64::from(first & 0x3F) << 8) | u64::from(self.byte()?)),
            2 => match first {
                0x80 => {
                    let b = self.take(4)?;
                    Ok(u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
                }
                0x81 => {
                    let b = self.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    Ok(u64::from_be_bytes(a))
                }
                _ => return Err(Corrupt("unknown length encoding")),
            },
            _ => Err(first & 0x3F),
        })
    }

    /// A length (not a string's special form).
    pub fn length(&mut self) -> Result<u64> {
        self.len_or_special()?
            .map_err(|_| Corrupt("string encoding where a length was expected"))
    }

    /// A length used as a count of items that each take at least one byte: bounded by
    /// the bytes left, so a corrupt count cannot reserve huge memory.
    pub fn count(&mut self) -> Result<usize> {
        let n = self.length()?;
        if n > self.remaining() as u64 {
            return Err(Corrupt("count larger than the data"));
        }
        Ok(n as usize)
    }

    /// A string in any of its forms (plain, integer, LZF).
    pub fn string(&mut self) -> Result<Vec<u8>> {
        match self.len_or_special()? {
            Ok(len) => {
                let len = usize::try_from(len).map_err(|_| Corrupt("string too long"))?;
                Ok(self.take(len)?.to_vec())
            }
            Err(ENC_INT8) => Ok((self.byte()? as i8).to_string().into_bytes()),
            Err(ENC_INT16) => {
                let b = self.take(2)?;
                Ok(i16::from_le_bytes([b[0], b[1]]).to_string().into_bytes())
            }
            Err(ENC_INT32) => {
                let b = self.take(4)?;
                Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]])
                    .to_string()
                    .into_bytes())
            }
            Err(ENC_LZF) => {
                let compressed = self.length()?;
                let plain = self.length()?;
                let compressed =
                    usize::try_from(compressed).map_err(|_| Corrupt("string too long"))?;
                let plain = usize::try_from(plain).map_err(|_| Corrupt("string too long"))?;
                let input = self.take(compressed)?;
                lodestone_util::lzf::decompress(input, plain)
                    .filter(|out| out.len() == plain)
                    .ok_or(Corrupt("invalid LZF data"))
            }
            Err(_) => Err(Corrupt("unknown string encoding")),
        }
    }

    pub fn double(&mut self) -> Result<f64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_le_bytes(a))
    }

    /// A score in the old text form (RDB type 3): a length byte, or 253/254/255 for
    /// nan, inf and -inf.
    pub fn text_double(&mut self) -> Result<f64> {
        match self.byte()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            len => {
                let text = self.take(len as usize)?;
                lodestone_util::number::parse_f64(text).ok_or(Corrupt("invalid double"))
            }
        }
    }

    pub fn millis(&mut self) -> Result<i64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_le_bytes(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_strings_round_trip() {
        let mut w = Writer::new();
        for n in [0u64, 63, 64, 16383, 16384, u64::from(u32::MAX), 1 << 40] {
            w.length(n);
        }
        for s in [
            &b""[..],
            b"12",
            b"-128",
            b"40000",
            b"-2147483648",
            b"99999999999",
            b"0012",
            b"hello",
        ] {
            w.string(s);
        }
        let mut r = Reader::new(&w.buf);
        for n in [0u64, 63, 64, 16383, 16384, u64::from(u32::MAX), 1 << 40] {
            assert_eq!(r.length().unwrap(), n);
        }
        for s in [
            &b""[..],
            b"12",
            b"-128",
            b"40000",
            b"-2147483648",
            b"99999999999",
            b"0012",
            b"hello",
        ] {
            assert_eq!(r.string().unwrap(), s);
        }
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn truncated_input_is_an_error() {
        let mut w = Writer::new();
        w.string(b"a longer string value");
        for cut in 0..w.buf.len() {
            assert!(Reader::new(&w.buf[..cut]).string().is_err());
        }
    }

    /// What `string` writes for `bytes` with compression on.
    fn compressed(bytes: &[u8]) -> Vec<u8> {
        let mut w = Writer::with_compression(true);
        w.string(bytes);
        assert_eq!(Reader::new(&w.buf).string().unwrap(), bytes);
        w.buf
    }

    fn noise(len: usize) -> Vec<u8> {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn long_strings_are_compressed_above_twenty_bytes() {
        // 20 bytes stay verbatim however repetitive; 21 take the LZF form.
        let twenty = [b'a'; 20];
        assert_eq!(compressed(&twenty), [&[20u8][..], &twenty].concat());
        let out = compressed(&[b'a'; 21]);
        assert_eq!(out[0], 0xC3);
        // Compressed length, plain length, then a literal 'a' and a 20-byte reference.
        assert_eq!(out, [0xC3, 5, 21, 0, b'a', 7 << 5, 20 - 2 - 7, 0]);
        // Integers keep their integer forms; compression off writes verbatim.
        assert_eq!(compressed(b"12345"), [0xC0 | ENC_INT16, 0x39, 0x30]);
        let mut w = Writer::new();
        w.string(&[b'a'; 100]);
        assert_eq!(w.buf.len(), 2 + 100);
        // Long strings whose lengths need wider headers.
        for len in [64, 100, 16383, 16384, 70_000, 1 << 20] {
            let input: Vec<u8> = b"0123456789abcdef"
                .iter()
                .copied()
                .cycle()
                .take(len)
                .collect();
            let out = compressed(&input);
            assert_eq!(out[0], 0xC3, "{len}");
            assert!(out.len() <= len / 8 + 24, "{len}: {}", out.len());
        }
        // Many strings in a row, each in its own form.
        let mut w = Writer::with_compression(true);
        let items: Vec<Vec<u8>> = (0..200)
            .map(|i| match i % 4 {
                0 => vec![b'z'; i * 7],
                1 => noise(i * 3),
                2 => i.to_string().into_bytes(),
                _ => format!("field:{i}:{}", "ab".repeat(i)).into_bytes(),
            })
            .collect();
        for item in &items {
            w.string(item);
        }
        let mut r = Reader::new(&w.buf);
        for item in &items {
            assert_eq!(&r.string().unwrap(), item);
        }
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn incompressible_strings_stay_verbatim() {
        for len in [21, 64, 1000, 100_000] {
            let input = noise(len);
            let out = compressed(&input);
            let mut plain = Writer::new();
            plain.string(&input);
            assert_eq!(out, plain.buf, "{len}");
        }
        // Saving fewer than 4 bytes is not enough: 15 literals and a 6-byte reference
        // (18 bytes for 21) stay verbatim; 14 literals and a 7-byte one (17) do not.
        for (literals, saved) in [(14, 3), (13, 4)] {
            let input = [&noise(literals)[..], &[b'q'; 21][..21 - literals]].concat();
            let mut lzf = Vec::new();
            assert!(lodestone_util::lzf::compress(&input, &mut lzf, usize::MAX));
            assert_eq!(lzf.len(), input.len() - saved);
            let expected = if saved >= 4 { 0xC3 } else { 21 };
            assert_eq!(compressed(&input)[0], expected);
        }
    }
}
