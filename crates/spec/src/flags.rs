//! Command flags and ACL categories, with the names Redis prints for them.

pub const CMD_WRITE: u64 = 1 << 0;
pub const CMD_READONLY: u64 = 1 << 1;
pub const CMD_DENYOOM: u64 = 1 << 2;
pub const CMD_ADMIN: u64 = 1 << 4;
pub const CMD_PUBSUB: u64 = 1 << 5;
pub const CMD_NOSCRIPT: u64 = 1 << 6;
pub const CMD_BLOCKING: u64 = 1 << 8;
pub const CMD_LOADING: u64 = 1 << 9;
pub const CMD_STALE: u64 = 1 << 10;
pub const CMD_SKIP_MONITOR: u64 = 1 << 11;
pub const CMD_SKIP_SLOWLOG: u64 = 1 << 12;
pub const CMD_ASKING: u64 = 1 << 13;
pub const CMD_FAST: u64 = 1 << 14;
pub const CMD_NO_AUTH: u64 = 1 << 15;
pub const CMD_MAY_REPLICATE: u64 = 1 << 16;
pub const CMD_SENTINEL: u64 = 1 << 17;
pub const CMD_ONLY_SENTINEL: u64 = 1 << 18;
pub const CMD_NO_MANDATORY_KEYS: u64 = 1 << 19;
pub const CMD_PROTECTED: u64 = 1 << 20;
pub const CMD_NO_ASYNC_LOADING: u64 = 1 << 23;
pub const CMD_NO_MULTI: u64 = 1 << 24;
pub const CMD_MOVABLE_KEYS: u64 = 1 << 25;
pub const CMD_ALLOW_BUSY: u64 = 1 << 26;
/// Redis 7.0 marks commands that may touch keys not in their arguments (debug, sort...).
pub const CMD_TOUCHES_ARBITRARY_KEYS: u64 = 1 << 27;
/// Lodestone's own: the command reads or writes the whole keyspace (FLUSHALL, KEYS,
/// SWAPDB...), so it takes every shard lock. Not shown by COMMAND.
pub const CMD_ALL_SHARDS: u64 = 1 << 40;

/// Flag names in the order Redis prints them in COMMAND INFO.
pub const FLAG_NAMES: &[(u64, &str)] = &[
    (CMD_WRITE, "write"),
    (CMD_READONLY, "readonly"),
    (CMD_DENYOOM, "denyoom"),
    (CMD_ADMIN, "admin"),
    (CMD_PUBSUB, "pubsub"),
    (CMD_NOSCRIPT, "noscript"),
    (CMD_BLOCKING, "blocking"),
    (CMD_LOADING, "loading"),
    (CMD_STALE, "stale"),
    (CMD_SKIP_MONITOR, "skip_monitor"),
    (CMD_SKIP_SLOWLOG, "skip_slowlog"),
    (CMD_ASKING, "asking"),
    (CMD_FAST, "fast"),
    (CMD_NO_AUTH, "no_auth"),
    (CMD_MAY_REPLICATE, "may_replicate"),
    (CMD_SENTINEL, "sentinel"),
    (CMD_ONLY_SENTINEL, "only_sentinel"),
    (CMD_NO_MANDATORY_KEYS, "no_mandatory_keys"),
    (CMD_PROTECTED, "protected"),
    (CMD_NO_ASYNC_LOADING, "no_async_loading"),
    (CMD_NO_MULTI, "no_multi"),
    (CMD_MOVABLE_KEYS, "movablekeys"),
    (CMD_ALLOW_BUSY, "allow_busy"),
    (CMD_TOUCHES_ARBITRARY_KEYS, "touches_arbitrary_keys"),
];

pub const ACL_KEYSPACE: u64 = 1 << 0;
pub const ACL_READ: u64 = 1 << 1;
pub const ACL_WRITE: u64 = 1 << 2;
pub const ACL_SET: u64 = 1 << 3;
pub const ACL_SORTEDSET: u64 = 1 << 4;
pub const ACL_LIST: u64 = 1 << 5;
pub const ACL_HASH: u64 = 1 << 6;
pub const ACL_STRING: u64 = 1 << 7;
pub const ACL_BITMAP: u64 = 1 << 8;
pub const ACL_HYPERLOGLOG: u64 = 1 << 9;
pub const ACL_GEO: u64 = 1 << 10;
pub const ACL_STREAM: u64 = 1 << 11;
pub const ACL_PUBSUB: u64 = 1 << 12;
pub const ACL_ADMIN: u64 = 1 << 13;
pub const ACL_FAST: u64 = 1 << 14;
pub const ACL_SLOW: u64 = 1 << 15;
pub const ACL_BLOCKING: u64 = 1 << 16;
pub const ACL_DANGEROUS: u64 = 1 << 17;
pub const ACL_CONNECTION: u64 = 1 << 18;
pub const ACL_TRANSACTION: u64 = 1 << 19;
pub const ACL_SCRIPTING: u64 = 1 << 20;

/// ACL category names in Redis's order.
pub const ACL_NAMES: &[(u64, &str)] = &[
    (ACL_KEYSPACE, "keyspace"),
    (ACL_READ, "read"),
    (ACL_WRITE, "write"),
    (ACL_SET, "set"),
    (ACL_SORTEDSET, "sortedset"),
    (ACL_LIST, "list"),
    (ACL_HASH, "hash"),
    (ACL_STRING, "string"),
    (ACL_BITMAP, "bitmap"),
    (ACL_HYPERLOGLOG, "hyperloglog"),
    (ACL_GEO, "geo"),
    (ACL_STREAM, "stream"),
    (ACL_PUBSUB, "pubsub"),
    (ACL_ADMIN, "admin"),
    (ACL_FAST, "fast"),
    (ACL_SLOW, "slow"),
    (ACL_BLOCKING, "blocking"),
    (ACL_DANGEROUS, "dangerous"),
    (ACL_CONNECTION, "connection"),
    (ACL_TRANSACTION, "transaction"),
    (ACL_SCRIPTING, "scripting"),
];
