//! DUMP payloads: one value in RDB form, then the RDB version (u16 LE) and a CRC64 (LE)
//! of everything before it, as Redis's DUMP writes and RESTORE checks.

use lodestone_store::{EncodingLimits, Value};

use crate::codec::{Reader, Result, Writer};
use crate::value::{read_value, write_value};

/// The RDB version Lodestone writes and the newest it reads (Redis 7.0's).
pub const RDB_VERSION: u16 = 10;

/// The DUMP payload of `value`; `compress` LZF-compresses its long strings, as Redis
/// does with `rdbcompression yes`.
pub fn dump(value: &Value, compress: bool) -> Vec<u8> {
    let mut w = Writer::with_compression(compress);
    write_value(&mut w, value);
    w.raw(&RDB_VERSION.to_le_bytes());
    let crc = lodestone_util::crc64::redis(&w.buf);
    w.raw(&crc.to_le_bytes());
    w.buf
}

/// Whether `payload` ends with a version this server reads and a matching checksum.
pub fn verify(payload: &[u8]) -> bool {
    if payload.len() < 10 {
        return false;
    }
    let footer = &payload[payload.len() - 10..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > RDB_VERSION {
        return false;
    }
    let crc = lodestone_util::crc64::redis(&payload[..payload.len() - 8]);
    crc.to_le_bytes() == footer[2..]
}

/// The value of a verified payload.
pub fn restore(payload: &[u8], limits: &EncodingLimits) -> Result<Value> {
    let body = &payload[..payload.len().saturating_sub(10)];
    read_value(&mut Reader::new(body), limits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lodestone_store::{HashValue, ListValue, SetValue, StrValue, ZSetValue};

    fn samples() -> Vec<Value> {
        let limits = EncodingLimits::default();
        let mut hash = HashValue::new();
        let mut big_hash = HashValue::new();
        for i in 0..600 {
            big_hash.set(format!("f{i}").as_bytes(), b"value", &limits);
        }
        hash.set(b"a", b"1", &limits);
        hash.set(b"b", &[b'x'; 40], &limits);
        let mut set = SetValue::new();
        for m in [&b"1"[..], b"-70000", b"5000000000"] {
            set.add(m, &limits);
        }
        let words = SetValue::from_members([&b"a"[..], b"b", b"c"], &limits);
        let zset =
            ZSetValue::from_items(vec![(b"a".to_vec(), 1.5), (b"b".to_vec(), -2.0)], &limits);
        let big_zset = ZSetValue::from_items(
            (0..200)
                .map(|i| (format!("m{i}").into_bytes(), f64::from(i) / 7.0))
                .collect(),
            &limits,
        );
        let items: Vec<Vec<u8>> = (0..3000).map(|i| format!("item{i}").into_bytes()).collect();
        let list = ListValue::from_elements(-2, items.iter().map(Vec::as_slice));
        let mut stream = lodestone_store::Stream::new();
        for i in 1..=150u64 {
            stream.append(
                lodestone_store::StreamId::new(i, 0),
                &[b"f", i.to_string().as_bytes()],
                Default::default(),
            );
        }
        vec![
            Value::Str(StrValue::from_bytes(
                b"hello world, a string longer than twenty",
            )),
            Value::Str(StrValue::from_bytes(b"123")),
            Value::Hash(hash),
            Value::Hash(big_hash),
            Value::Set(set),
            Value::Set(words),
            Value::ZSet(zset),
            Value::ZSet(big_zset),
            Value::List(list),
            Value::Stream(Box::new(stream)),
        ]
    }

    #[test]
    fn every_type_round_trips() {
        let limits = EncodingLimits::default();
        for compress in [false, true] {
            for value in samples() {
                let payload = dump(&value, compress);
                assert!(verify(&payload));
                let back = restore(&payload, &limits).expect("restores");
                assert_eq!(back.encoding(), value.encoding());
                assert_eq!(dump(&back, compress), payload);
                // The same value whichever way it travelled.
                assert_eq!(dump(&back, !compress), dump(&value, !compress));
            }
        }
    }

    /// Compression shrinks the compressible samples (long strings, listpacks of lists,
    /// hashes, sorted sets and streams) and leaves short ones alone.
    #[test]
    fn compression_shrinks_what_it_can() {
        let mut shrunk = 0;
        for value in samples() {
            let plain = dump(&value, false);
            let packed = dump(&value, true);
            assert!(packed.len() <= plain.len());
            if packed.len() < plain.len() {
                shrunk += 1;
            }
            if matches!(&value, Value::Str(s) if s.len() <= 20) {
                assert_eq!(packed, plain);
            }
        }
        // The listpack hash with a long value, the big list and the stream.
        assert!(shrunk >= 3, "{shrunk} samples shrunk");
        let long = Value::Str(StrValue::from_bytes(&[b'x'; 10_000]));
        assert!(dump(&long, true).len() < 200);
    }

    #[test]
    fn mutated_payloads_never_panic() {
        let limits = EncodingLimits::default();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        // Each sample plain and compressed (mutations then hit LZF data too).
        for payload in samples()
            .into_iter()
            .flat_map(|v| [dump(&v, false), dump(&v, true)])
        {
            let body = &payload[..payload.len() - 10];
            for _ in 0..1500 {
                let mut mutated = body.to_vec();
                let i = (next() as usize) % mutated.len();
                match next() % 3 {
                    0 => mutated.truncate(i),
                    1 => mutated[i] ^= 1 << (next() % 8),
                    _ => mutated[i] = next() as u8,
                }
                let _ = read_value(&mut Reader::new(&mutated), &limits);
            }
        }
    }
}
