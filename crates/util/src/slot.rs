//! Redis Cluster hash slots: CRC16 (XMODEM) of the key, or of its `{hash tag}`, mod 16384.

use crc::{Crc, Table, CRC_16_XMODEM};

/// Number of hash slots in Redis Cluster.
pub const SLOTS: usize = 16384;

// Slice-by-16 tables: the slot is computed for every key of every command.
const CRC16: Crc<u16, Table<16>> = Crc::<u16, Table<16>>::new(&CRC_16_XMODEM);

/// The hash slot of `key`. When the key holds a non-empty `{...}` section, only that
/// section is hashed, so related keys can be kept together.
pub fn key_hash_slot(key: &[u8]) -> u16 {
    let hashed = hash_tag(key).unwrap_or(key);
    CRC16.checksum(hashed) & (SLOTS as u16 - 1)
}

fn hash_tag(key: &[u8]) -> Option<&[u8]> {
    // memchr: every key of every command is scanned, and most hold no brace at all.
    let open = memchr::memchr(b'{', key)?;
    let close = memchr::memchr(b'}', &key[open + 1..])?;
    if close == 0 {
        return None;
    }
    Some(&key[open + 1..open + 1 + close])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_cluster_examples() {
        assert_eq!(key_hash_slot(b"123456789"), 0x31C3 & 16383);
        assert_eq!(key_hash_slot(b"foo"), 12182);
        assert_eq!(
            key_hash_slot(b"{user1000}.following"),
            key_hash_slot(b"user1000")
        );
        assert_eq!(key_hash_slot(b"foo{}{bar}"), key_hash_slot(b"foo{}{bar}"));
        assert_ne!(key_hash_slot(b"foo{}{bar}"), key_hash_slot(b"bar"));
        assert_eq!(key_hash_slot(b"foo{{bar}}zap"), key_hash_slot(b"{bar"));
    }
}
