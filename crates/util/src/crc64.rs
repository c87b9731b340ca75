//! CRC64 with Redis's parameters (Jones polynomial, reflected), as RDB files, DUMP and
//! FUNCTION DUMP payloads carry it.

const REDIS: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);

/// Redis's CRC64 of `bytes`.
pub fn redis(bytes: &[u8]) -> u64 {
    REDIS.checksum(bytes)
}

#[cfg(test)]
mod tests {
    /// The check value Redis's own crc64 test uses.
    #[test]
    fn matches_redis_check_value() {
        assert_eq!(super::redis(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }
}
