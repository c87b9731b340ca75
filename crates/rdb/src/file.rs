//! RDB files: the `REDIS0010` header, auxiliary fields, per-database sections with
//! resize hints, keys with their expiry, Lua function libraries, and the EOF marker
//! with the CRC64 of the whole file, as Redis 7.0 writes and reads them.
//!
//! The writer streams to any `io::Write` in chunks (the CRC is computed as it goes), so
//! a snapshot never needs a second copy of the dataset in memory. The loader reads from
//! a byte slice and hands each key to a callback.

use std::io::{self, Write};

use lodestone_store::{EncodingLimits, Value};
use lodestone_util::crc64::Digest;

use crate::codec::{Corrupt, Reader, Result, Writer};
use crate::value::{read_object, write_value};

pub const OPCODE_FUNCTION2: u8 = 245;
const OPCODE_FUNCTION_PRE_GA: u8 = 246;
const OPCODE_MODULE_AUX: u8 = 247;
const OPCODE_IDLE: u8 = 248;
const OPCODE_FREQ: u8 = 249;
const OPCODE_AUX: u8 = 250;
const OPCODE_RESIZEDB: u8 = 251;
const OPCODE_EXPIRETIME_MS: u8 = 252;
const OPCODE_EXPIRETIME: u8 = 253;
const OPCODE_SELECTDB: u8 = 254;
const OPCODE_EOF: u8 = 255;

/// Bytes buffered before they go to the output.
const CHUNK: usize = 64 * 1024;

/// Writes an RDB file to `out`.
pub struct FileWriter<W: Write> {
    out: W,
    crc: Digest,
    checksum: bool,
    w: Writer,
}

impl<W: Write> FileWriter<W> {
    /// Starts a file (header written); `checksum` false writes a zero CRC, as Redis
    /// does with `rdbchecksum no`; `compress` LZF-compresses long strings (keys,
    /// values, listpacks, aux fields, function code), as `rdbcompression yes` does.
    pub fn new(out: W, checksum: bool, compress: bool) -> FileWriter<W> {
        let mut w = Writer::with_compression(compress);
        w.raw(format!("REDIS{:04}", crate::dump::RDB_VERSION).as_bytes());
        FileWriter {
            out,
            crc: Digest::new(),
            checksum,
            w,
        }
    }

    fn flush_if_full(&mut self) -> io::Result<()> {
        if self.w.buf.len() >= CHUNK {
            self.flush_chunk()?;
        }
        Ok(())
    }

    fn flush_chunk(&mut self) -> io::Result<()> {
        if self.checksum {
            self.crc.update(&self.w.buf);
        }
        self.out.write_all(&self.w.buf)?;
        self.w.buf.clear();
        Ok(())
    }

    pub fn aux(&mut self, key: &str, value: &[u8]) -> io::Result<()> {
        self.w.byte(OPCODE_AUX);
        self.w.string(key.as_bytes());
        self.w.string(value);
        self.flush_if_full()
    }

    /// Starts database `db`, with its key and volatile-key counts as resize hints.
    pub fn select_db(&mut self, db: usize, keys: usize, expires: usize) -> io::Result<()> {
        self.w.byte(OPCODE_SELECTDB);
        self.w.length(db as u64);
        self.w.byte(OPCODE_RESIZEDB);
        self.w.length(keys as u64);
        self.w.length(expires as u64);
        self.flush_if_full()
    }

    /// Switches to database `db` without resize hints (a snapshot written while the
    /// keyspace changes returns to a database it already started).
    pub fn select_db_again(&mut self, db: usize) -> io::Result<()> {
        self.w.byte(OPCODE_SELECTDB);
        self.w.length(db as u64);
        self.flush_if_full()
    }

    /// One key: its expiry (absolute Unix ms) if any, then type, key and value.
    pub fn entry(&mut self, key: &[u8], value: &Value, expire_ms: Option<i64>) -> io::Result<()> {
        write_entry(&mut self.w, key, value, expire_ms);
        self.flush_if_full()
    }

    /// Entries already encoded by [`encode_entry`].
    pub fn encoded_entries(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.w.raw(bytes);
        self.flush_if_full()
    }

    /// A Lua function library (its code).
    pub fn function(&mut self, code: &[u8]) -> io::Result<()> {
        self.w.byte(OPCODE_FUNCTION2);
        self.w.string(code);
        self.flush_if_full()
    }

    /// Ends the file (EOF marker and CRC64) and hands the output back.
    pub fn finish(mut self) -> io::Result<W> {
        self.w.byte(OPCODE_EOF);
        self.flush_chunk()?;
        let crc = if self.checksum { self.crc.value() } else { 0 };
        self.out.write_all(&crc.to_le_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Appends one key as [`FileWriter::entry`] writes it, for entries encoded away from
/// the file (a snapshot's writers keep old values this way); `compress` as for
/// [`FileWriter::new`].
pub fn encode_entry(
    out: &mut Vec<u8>,
    key: &[u8],
    value: &Value,
    expire_ms: Option<i64>,
    compress: bool,
) {
    let mut w = Writer::with_compression(compress);
    w.buf = std::mem::take(out);
    write_entry(&mut w, key, value, expire_ms);
    *out = w.buf;
}

fn write_entry(w: &mut Writer, key: &[u8], value: &Value, expire_ms: Option<i64>) {
    if let Some(ms) = expire_ms {
        w.byte(OPCODE_EXPIRETIME_MS);
        w.millis(ms);
    }
    let start = w.buf.len();
    write_value(w, value);
    // The type byte goes before the key: move the key in after it.
    let kind = w.buf[start];
    let object = w.buf.split_off(start + 1);
    w.buf.truncate(start);
    w.byte(kind);
    w.string(key);
    w.raw(&object);
}

/// What the loader hands over besides keys.
#[derive(Debug, Default)]
pub struct Loaded {
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// Function library code, in file order.
    pub functions: Vec<Vec<u8>>,
    pub version: u32,
    /// Bytes the file took, checksum included (an old-style AOF has commands after).
    pub end: usize,
}

/// One key read from a file.
pub struct LoadedKey {
    pub db: usize,
    pub key: Vec<u8>,
    pub value: Value,
    /// Absolute Unix ms, or `None`.
    pub expire_ms: Option<i64>,
    /// OBJECT IDLETIME seconds recorded in the file (LRU policies), if any.
    pub idle_s: Option<u64>,
    /// Where in the file this key ends (loading progress).
    pub offset: usize,
}

/// Reads a whole RDB file, calling `on_key` for each key. Checks the header, the
/// version (1 to 10), every value, and the CRC64 when the file carries one.
pub fn load(
    data: &[u8],
    limits: &EncodingLimits,
    mut on_key: impl FnMut(LoadedKey) -> Result<()>,
) -> Result<Loaded> {
    if data.len() < 9 || &data[..5] != b"REDIS" {
        return Err(Corrupt("wrong signature trying to load DB from file"));
    }
    let version = std::str::from_utf8(&data[5..9])
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|v| (1..=u32::from(crate::dump::RDB_VERSION)).contains(v))
        .ok_or(Corrupt("can't handle RDB format version"))?;
    let mut r = Reader::new(&data[9..]);
    let mut loaded = Loaded {
        version,
        ..Loaded::default()
    };
    let mut db = 0usize;
    let mut expire_ms: Option<i64> = None;
    let mut idle_s: Option<u64> = None;
    loop {
        let kind = r.byte()?;
        match kind {
            OPCODE_EOF => break,
            OPCODE_SELECTDB => {
                db = usize::try_from(r.length()?).map_err(|_| Corrupt("bad db number"))?;
            }
            OPCODE_RESIZEDB => {
                r.length()?;
                r.length()?;
            }
            OPCODE_EXPIRETIME_MS => expire_ms = Some(r.millis()?),
            OPCODE_EXPIRETIME => {
                let b = r.take(4)?;
                expire_ms = Some(i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])) * 1000);
            }
            OPCODE_IDLE => idle_s = Some(r.length()?),
            OPCODE_FREQ => {
                r.byte()?;
            }
            OPCODE_AUX => {
                let key = r.string()?;
                let value = r.string()?;
                loaded.aux.push((key, value));
            }
            OPCODE_FUNCTION2 => loaded.functions.push(r.string()?),
            OPCODE_FUNCTION_PRE_GA => {
                return Err(Corrupt("pre-release function format is not supported"))
            }
            OPCODE_MODULE_AUX => return Err(Corrupt("module data is not supported")),
            _ => {
                let key = r.string()?;
                let value = read_object(kind, &mut r, limits)?;
                on_key(LoadedKey {
                    db,
                    key,
                    value,
                    expire_ms: expire_ms.take(),
                    idle_s: idle_s.take(),
                    offset: data.len() - r.remaining(),
                })?;
            }
        }
    }
    if version >= 5 {
        let body_len = data.len() - r.remaining();
        let stored = r.take(8)?;
        let mut crc = [0u8; 8];
        crc.copy_from_slice(stored);
        let stored = u64::from_le_bytes(crc);
        if stored != 0 && stored != lodestone_util::crc64::redis(&data[..body_len]) {
            return Err(Corrupt("RDB CRC error"));
        }
    }
    loaded.end = data.len() - r.remaining();
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lodestone_store::StrValue;

    #[test]
    fn writes_and_reads_back() {
        for compress in [false, true] {
            writes_and_reads_back_with(compress);
        }
    }

    fn writes_and_reads_back_with(compress: bool) {
        let mut f = FileWriter::new(Vec::new(), true, compress);
        f.aux("redis-ver", b"7.0.15").unwrap();
        f.select_db(0, 2, 1).unwrap();
        let v = Value::Str(StrValue::from_bytes(b"hello"));
        f.entry(b"k1", &v, None).unwrap();
        f.entry(
            b"k2",
            &Value::Str(StrValue::Int(7)),
            Some(1_900_000_000_000),
        )
        .unwrap();
        f.select_db(3, 2, 0).unwrap();
        f.entry(b"k3", &v, None).unwrap();
        let long_key = [b'k'; 40];
        let long = Value::Str(StrValue::from_bytes(&[b'v'; 5000]));
        let mut encoded = Vec::new();
        encode_entry(&mut encoded, &long_key, &long, None, compress);
        f.encoded_entries(&encoded).unwrap();
        f.function(b"#!lua name=lib\nredis.register_function('f', function() return 1 end)")
            .unwrap();
        let bytes = f.finish().unwrap();
        let mut keys = Vec::new();
        let loaded = load(&bytes, &EncodingLimits::default(), |k| {
            if k.key == long_key {
                assert!(matches!(&k.value, Value::Str(s) if s.to_bytes()[..] == [b'v'; 5000]));
            }
            keys.push((k.db, k.key, k.expire_ms));
            Ok(())
        })
        .unwrap();
        // 5000 repeated bytes take a few dozen with compression.
        assert_eq!(bytes.len() < 1000, compress);
        assert_eq!(
            keys,
            vec![
                (0, b"k1".to_vec(), None),
                (0, b"k2".to_vec(), Some(1_900_000_000_000)),
                (3, b"k3".to_vec(), None),
                (3, long_key.to_vec(), None)
            ]
        );
        assert_eq!(loaded.functions.len(), 1);
        assert_eq!(loaded.aux[0].0, b"redis-ver");
        let mut bad = bytes.clone();
        let at = bad.len() - 12;
        bad[at] ^= 1;
        assert!(load(&bad, &EncodingLimits::default(), |_| Ok(())).is_err());
        for cut in 0..bytes.len() {
            assert!(load(&bytes[..cut], &EncodingLimits::default(), |_| Ok(())).is_err());
        }
    }
}
