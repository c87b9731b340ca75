//! The RDB primitives: lengths, strings (with their integer and LZF forms), doubles and
//! millisecond times, written into a buffer and read back from a bounded slice.
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

/// Appends RDB-encoded data to a buffer.
#[derive(Debug, Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    pub fn byte(&mut self, b: u8) {
        self.buf.push(b);
    }

    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// A length: 6 bits, 14 bits, 32 bits or 64 bits, big-endian.
    pub fn length(&mut self, n: u64) {
        if n < 1 << 6 {
            self.buf.push(n as u8);
        } else if n < 1 << 14 {
            self.buf.push(0x40 | (n >> 8) as u8);
            self.buf.push(n as u8);
        } else if n <= u64::from(u32::MAX) {
            self.buf.push(0x80);
            self.buf.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            self.buf.push(0x81);
            self.buf.extend_from_slice(&n.to_be_bytes());
        }
    }

    /// A string. Short decimal strings take Redis's integer forms; others are written
    /// verbatim (Redis also LZF-compresses long ones; both forms load anywhere).
    pub fn string(&mut self, bytes: &[u8]) {
        if bytes.len() <= 11 {
            if let Some(n) = parse_i64(bytes) {
                if self.try_int(n) {
                    return;
                }
            }
        }
        self.length(bytes.len() as u64);
        self.buf.extend_from_slice(bytes);
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
}
