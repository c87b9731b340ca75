//! CRC64 with Redis's parameters (Jones polynomial, reflected), as RDB files, DUMP and
//! FUNCTION DUMP payloads carry it.

const REDIS: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);

/// Redis's CRC64 of `bytes`.
pub fn redis(bytes: &[u8]) -> u64 {
    REDIS.checksum(bytes)
}

static REDIS_DIGEST: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);

/// Redis's CRC64 computed over data given in parts (RDB files written in chunks).
#[derive(Clone)]
pub struct Digest(crc::Digest<'static, u64>);

impl Digest {
    pub fn new() -> Digest {
        Digest(REDIS_DIGEST.digest())
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The CRC of everything given so far.
    pub fn value(&self) -> u64 {
        self.0.clone().finalize()
    }
}

impl Default for Digest {
    fn default() -> Digest {
        Digest::new()
    }
}

#[cfg(test)]
mod tests {
    /// The check value Redis's own crc64 test uses.
    #[test]
    fn matches_redis_check_value() {
        assert_eq!(super::redis(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }
}
