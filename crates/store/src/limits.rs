//! The thresholds at which a compact encoding converts to its full structure. They are
//! configuration (CONFIG SET changes them live), so commands read them once per call and
//! pass them down; the data types never read configuration themselves.

/// Redis 7.0's encoding thresholds, with its defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodingLimits {
    /// `list-max-listpack-size`: positive is a count of entries per node, -1..-5 a node
    /// size of 4, 8, 16, 32 or 64 KiB.
    pub list_max_listpack_size: i64,
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub set_max_intset_entries: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
}

impl Default for EncodingLimits {
    fn default() -> EncodingLimits {
        EncodingLimits {
            list_max_listpack_size: -2,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
        }
    }
}
