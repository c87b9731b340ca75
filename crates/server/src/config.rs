//! Configuration: the parameter table, redis.conf parsing, command-line overrides, and
//! the values CONFIG GET/SET read and write.
//!
//! Every parameter is declared once in [`PARAMS`] with its type, default and whether it
//! can change at run time. Values are kept as canonical text (what CONFIG GET prints);
//! the few read on hot paths are mirrored into atomics in [`Hot`] whenever they change.
//! Parameters that belong to features not built yet are accepted and remembered, so
//! configuration files and client libraries written for Redis keep working.

use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};

/// How a parameter's value is checked and printed.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    /// A byte count accepting `1gb`, `100mb`, `4k`...; printed in bytes.
    Memory {
        max: i64,
    },
    Enum(&'static [&'static str]),
    /// An enum accepting several values at once (`notify-keyspace-events` style lists).
    Text,
    /// `save`, `client-output-buffer-limit`...: free text checked by their own code.
    Special,
}

#[derive(Debug)]
pub struct Param {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub kind: Kind,
    pub default: &'static str,
    /// Only settable at startup (CONFIG SET refuses it).
    pub immutable: bool,
    /// Hidden from `CONFIG GET *` (Redis hides some debugging parameters).
    pub hidden: bool,
}

const fn p(name: &'static str, kind: Kind, default: &'static str) -> Param {
    Param {
        name,
        alias: None,
        kind,
        default,
        immutable: false,
        hidden: false,
    }
}
const fn fixed(name: &'static str, kind: Kind, default: &'static str) -> Param {
    Param {
        name,
        alias: None,
        kind,
        default,
        immutable: true,
        hidden: false,
    }
}
const fn hidden(name: &'static str, kind: Kind, default: &'static str) -> Param {
    Param {
        name,
        alias: None,
        kind,
        default,
        immutable: false,
        hidden: true,
    }
}
const fn aliased(
    name: &'static str,
    alias: &'static str,
    kind: Kind,
    default: &'static str,
) -> Param {
    Param {
        name,
        alias: Some(alias),
        kind,
        default,
        immutable: false,
        hidden: false,
    }
}

const B: Kind = Kind::Bool;
const fn int(min: i64, max: i64) -> Kind {
    Kind::Int { min, max }
}
const UINT: Kind = Kind::Int {
    min: 0,
    max: i64::MAX,
};
const INT: Kind = Kind::Int {
    min: i64::MIN,
    max: i64::MAX,
};
const MEM: Kind = Kind::Memory { max: i64::MAX };
const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning"];
const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];
const FSYNC: &[&str] = &["everysec", "always", "no"];
const SUPERVISED: &[&str] = &["upstart", "systemd", "auto", "no"];
const ENABLE: &[&str] = &["no", "yes", "local"];
const PROPAGATION_ERROR: &[&str] = &["ignore", "panic", "panic-on-replicas"];
const SANITIZE: &[&str] = &["no", "yes", "clients"];
const CLUSTER_PREF: &[&str] = &["ip", "hostname", "unknown-endpoint"];
const SHUTDOWN_ON: &[&str] = &["default", "save", "nosave", "now", "force"];
const TLS_AUTH: &[&str] = &["no", "yes", "optional"];
const DISKLESS_LOAD: &[&str] = &["disabled", "on-empty-db", "swapdb"];
const ACL_PUBSUB: &[&str] = &["allchannels", "resetchannels"];
const OOM_SCORE: &[&str] = &["no", "yes", "relative", "absolute"];
const SYSLOG_FACILITY: &[&str] = &[
    "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];

/// Every parameter Lodestone knows, with Redis 7.0's defaults.
pub static PARAMS: &[Param] = &[
    // Changing these at run time rebinds the listeners (commands/config_cmd.rs).
    p("bind", Kind::Text, "127.0.0.1"),
    p("port", int(0, 65535), "6379"),
    fixed("databases", int(1, i32::MAX as i64), "16"),
    fixed("daemonize", B, "no"),
    fixed("supervised", Kind::Enum(SUPERVISED), "no"),
    fixed("pidfile", Kind::Text, ""),
    p("logfile", Kind::Text, ""),
    p("loglevel", Kind::Enum(LOGLEVELS), "notice"),
    fixed("syslog-enabled", B, "no"),
    fixed("syslog-ident", Kind::Text, "redis"),
    fixed("unixsocket", Kind::Text, ""),
    fixed("unixsocketperm", UINT, "0"),
    p("timeout", UINT, "0"),
    p("tcp-keepalive", UINT, "300"),
    fixed("tcp-backlog", UINT, "511"),
    p("protected-mode", B, "yes"),
    p("requirepass", Kind::Text, ""),
    p("masterauth", Kind::Text, ""),
    p("masteruser", Kind::Text, ""),
    p("maxclients", int(1, u32::MAX as i64), "10000"),
    p("maxmemory", MEM, "0"),
    p("maxmemory-policy", Kind::Enum(POLICIES), "noeviction"),
    p("maxmemory-samples", int(1, 64), "5"),
    p("maxmemory-eviction-tenacity", int(0, 100), "10"),
    p("maxmemory-clients", Kind::Text, "0"),
    p("lfu-log-factor", UINT, "10"),
    p("lfu-decay-time", UINT, "1"),
    p("lazyfree-lazy-eviction", B, "no"),
    p("lazyfree-lazy-expire", B, "no"),
    p("lazyfree-lazy-server-del", B, "no"),
    p("lazyfree-lazy-user-del", B, "no"),
    p("lazyfree-lazy-user-flush", B, "no"),
    aliased("replica-lazy-flush", "slave-lazy-flush", B, "no"),
    p("active-expire-effort", int(1, 10), "1"),
    p("hz", int(0, i32::MAX as i64), "10"),
    p("dynamic-hz", B, "yes"),
    p("slowlog-log-slower-than", INT, "10000"),
    p("slowlog-max-len", UINT, "128"),
    p("latency-monitor-threshold", UINT, "0"),
    p("latency-tracking", B, "yes"),
    p(
        "latency-tracking-info-percentiles",
        Kind::Text,
        "50 99 99.9",
    ),
    p("notify-keyspace-events", Kind::Text, ""),
    p(
        "proto-max-bulk-len",
        Kind::Memory { max: i64::MAX },
        "536870912",
    ),
    p(
        "client-query-buffer-limit",
        Kind::Memory { max: i64::MAX },
        "1073741824",
    ),
    p(
        "client-output-buffer-limit",
        Kind::Special,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
    ),
    p("dir", Kind::Special, ""),
    p("dbfilename", Kind::Text, "dump.rdb"),
    p("save", Kind::Special, "3600 1 300 100 60 10000"),
    p("rdbcompression", B, "yes"),
    p("rdbchecksum", B, "yes"),
    p("rdb-del-sync-files", B, "no"),
    hidden("rdb-key-save-delay", INT, "0"),
    p("stop-writes-on-bgsave-error", B, "yes"),
    p("appendonly", B, "no"),
    fixed("appendfilename", Kind::Text, "appendonly.aof"),
    fixed("appenddirname", Kind::Text, "appendonlydir"),
    p("appendfsync", Kind::Enum(FSYNC), "everysec"),
    p("no-appendfsync-on-rewrite", B, "no"),
    p("auto-aof-rewrite-percentage", UINT, "100"),
    p("auto-aof-rewrite-min-size", MEM, "67108864"),
    p("aof-load-truncated", B, "yes"),
    p("aof-use-rdb-preamble", B, "yes"),
    p("aof-rewrite-incremental-fsync", B, "yes"),
    p("rdb-save-incremental-fsync", B, "yes"),
    p("aof-timestamp-enabled", B, "no"),
    aliased(
        "list-max-listpack-size",
        "list-max-ziplist-size",
        int(i32::MIN as i64, i32::MAX as i64),
        "-2",
    ),
    p("list-compress-depth", UINT, "0"),
    aliased(
        "hash-max-listpack-entries",
        "hash-max-ziplist-entries",
        UINT,
        "512",
    ),
    aliased(
        "hash-max-listpack-value",
        "hash-max-ziplist-value",
        UINT,
        "64",
    ),
    p("set-max-intset-entries", UINT, "512"),
    aliased(
        "zset-max-listpack-entries",
        "zset-max-ziplist-entries",
        UINT,
        "128",
    ),
    aliased(
        "zset-max-listpack-value",
        "zset-max-ziplist-value",
        UINT,
        "64",
    ),
    p("stream-node-max-bytes", MEM, "4096"),
    p("stream-node-max-entries", UINT, "100"),
    p("hll-sparse-max-bytes", MEM, "3000"),
    p("activerehashing", B, "yes"),
    p("activedefrag", B, "no"),
    p("active-defrag-ignore-bytes", MEM, "104857600"),
    p("active-defrag-threshold-lower", int(0, 1000), "10"),
    p("active-defrag-threshold-upper", int(0, 1000), "100"),
    p("active-defrag-cycle-min", int(1, 99), "1"),
    p("active-defrag-cycle-max", int(1, 99), "25"),
    p("active-defrag-max-scan-fields", UINT, "1000"),
    p("jemalloc-bg-thread", B, "yes"),
    aliased(
        "replica-serve-stale-data",
        "slave-serve-stale-data",
        B,
        "yes",
    ),
    aliased("replica-read-only", "slave-read-only", B, "yes"),
    aliased("replica-priority", "slave-priority", UINT, "100"),
    p("replica-announced", B, "yes"),
    aliased(
        "repl-ping-replica-period",
        "repl-ping-slave-period",
        int(1, i64::MAX),
        "10",
    ),
    p("repl-timeout", int(1, i64::MAX), "60"),
    p("repl-backlog-size", MEM, "1048576"),
    p("repl-backlog-ttl", UINT, "3600"),
    p("repl-diskless-sync", B, "yes"),
    p("repl-diskless-sync-delay", UINT, "5"),
    p("repl-diskless-sync-max-replicas", UINT, "0"),
    p("repl-diskless-load", Kind::Enum(DISKLESS_LOAD), "disabled"),
    p("repl-disable-tcp-nodelay", B, "no"),
    aliased("min-replicas-to-write", "min-slaves-to-write", UINT, "0"),
    aliased("min-replicas-max-lag", "min-slaves-max-lag", UINT, "10"),
    aliased("replica-announce-ip", "slave-announce-ip", Kind::Text, ""),
    aliased(
        "replica-announce-port",
        "slave-announce-port",
        int(0, 65535),
        "0",
    ),
    aliased(
        "replica-ignore-maxmemory",
        "slave-ignore-maxmemory",
        B,
        "yes",
    ),
    Param {
        alias: Some("slaveof"),
        ..fixed("replicaof", Kind::Special, "")
    },
    aliased("busy-reply-threshold", "lua-time-limit", UINT, "5000"),
    fixed("cluster-enabled", B, "no"),
    fixed("cluster-config-file", Kind::Text, "nodes.conf"),
    p("cluster-node-timeout", UINT, "15000"),
    p("cluster-require-full-coverage", B, "yes"),
    p("cluster-allow-reads-when-down", B, "no"),
    p("cluster-allow-pubsubshard-when-down", B, "yes"),
    aliased(
        "cluster-replica-validity-factor",
        "cluster-slave-validity-factor",
        UINT,
        "10",
    ),
    p("cluster-migration-barrier", UINT, "1"),
    p("cluster-allow-replica-migration", B, "yes"),
    aliased(
        "cluster-replica-no-failover",
        "cluster-slave-no-failover",
        B,
        "no",
    ),
    p("cluster-announce-ip", Kind::Text, ""),
    p("cluster-announce-hostname", Kind::Text, ""),
    p("cluster-announce-port", int(0, 65535), "0"),
    p("cluster-announce-bus-port", int(0, 65535), "0"),
    p("cluster-announce-tls-port", int(0, 65535), "0"),
    p(
        "cluster-preferred-endpoint-type",
        Kind::Enum(CLUSTER_PREF),
        "ip",
    ),
    p("cluster-link-sendbuf-limit", MEM, "0"),
    fixed("cluster-port", int(0, 65535), "0"),
    hidden("watchdog-period", UINT, "0"),
    hidden("key-load-delay", INT, "0"),
    hidden("use-exit-on-panic", B, "no"),
    hidden("lua-enable-deprecated-api", B, "no"),
    hidden(
        "loading-process-events-interval-bytes",
        int(1024, i64::MAX),
        "2097152",
    ),
    fixed("io-threads", int(1, 128), "1"),
    fixed("io-threads-do-reads", B, "no"),
    fixed("enable-protected-configs", Kind::Enum(ENABLE), "no"),
    fixed("enable-debug-command", Kind::Enum(ENABLE), "no"),
    fixed("enable-module-command", Kind::Enum(ENABLE), "no"),
    p(
        "propagation-error-behavior",
        Kind::Enum(PROPAGATION_ERROR),
        "ignore",
    ),
    p("sanitize-dump-payload", Kind::Enum(SANITIZE), "no"),
    p("crash-log-enabled", B, "yes"),
    p("crash-memcheck-enabled", B, "yes"),
    p("disable-thp", B, "yes"),
    p("always-show-logo", B, "no"),
    p("set-proc-title", B, "yes"),
    p(
        "proc-title-template",
        Kind::Text,
        "{title} {listen-addr} {server-mode}",
    ),
    p("oom-score-adj", Kind::Enum(OOM_SCORE), "no"),
    p("oom-score-adj-values", Kind::Text, "0 200 800"),
    p("acllog-max-len", UINT, "128"),
    p("aclfile", Kind::Text, ""),
    p(
        "acl-pubsub-default",
        Kind::Enum(ACL_PUBSUB),
        "resetchannels",
    ),
    p("tracking-table-max-keys", UINT, "1000000"),
    p("shutdown-timeout", UINT, "10"),
    p("shutdown-on-sigint", Kind::Enum(SHUTDOWN_ON), "default"),
    p("shutdown-on-sigterm", Kind::Enum(SHUTDOWN_ON), "default"),
    p("tls-port", int(0, 65535), "0"),
    p("tls-auth-clients", Kind::Enum(TLS_AUTH), "yes"),
    p("locale-collate", Kind::Text, ""),
    p("ignore-warnings", Kind::Text, ""),
    p("aof-disable-auto-gc", B, "no"),
    p("replica-ignore-disk-write-errors", B, "no"),
    p("bind-source-addr", Kind::Text, ""),
    fixed("socket-mark-id", int(0, u32::MAX as i64), "0"),
    fixed("syslog-facility", Kind::Enum(SYSLOG_FACILITY), "local0"),
    fixed("server_cpulist", Kind::Text, ""),
    fixed("bio_cpulist", Kind::Text, ""),
    fixed("aof_rewrite_cpulist", Kind::Text, ""),
    fixed("bgsave_cpulist", Kind::Text, ""),
    p("tls-session-cache-size", int(0, i32::MAX as i64), "20480"),
    p("tls-session-cache-timeout", int(0, i32::MAX as i64), "300"),
    p("tls-cluster", B, "no"),
    p("tls-replication", B, "no"),
    p("tls-prefer-server-ciphers", B, "no"),
    p("tls-session-caching", B, "yes"),
    p("tls-cert-file", Kind::Text, ""),
    p("tls-key-file", Kind::Text, ""),
    p("tls-key-file-pass", Kind::Text, ""),
    p("tls-client-cert-file", Kind::Text, ""),
    p("tls-client-key-file", Kind::Text, ""),
    p("tls-client-key-file-pass", Kind::Text, ""),
    p("tls-dh-params-file", Kind::Text, ""),
    p("tls-ca-cert-file", Kind::Text, ""),
    p("tls-ca-cert-dir", Kind::Text, ""),
    p("tls-protocols", Kind::Text, ""),
    p("tls-ciphers", Kind::Text, ""),
    p("tls-ciphersuites", Kind::Text, ""),
    // Lodestone's own.
    // Hidden from `CONFIG GET *` like Redis's own debugging parameters, so tools that
    // set back every listed parameter (the upstream suite does) do not trip on it.
    Param {
        name: "threads",
        alias: None,
        kind: int(0, 1024),
        default: "0",
        immutable: true,
        hidden: true,
    },
];

/// Values read on hot paths, mirrored from the text values when they change.
#[derive(Debug)]
pub struct Hot {
    pub proto_max_bulk_len: AtomicI64,
    pub client_query_buffer_limit: AtomicUsize,
    pub slowlog_log_slower_than: AtomicI64,
    pub slowlog_max_len: AtomicUsize,
    pub has_requirepass: AtomicBool,
    pub maxclients: AtomicU64,
    pub hz: AtomicU64,
    pub active_expire_effort: AtomicU64,
    pub list_max_listpack_size: AtomicI64,
    pub hash_max_listpack_entries: AtomicUsize,
    pub hash_max_listpack_value: AtomicUsize,
    pub set_max_intset_entries: AtomicUsize,
    pub zset_max_listpack_entries: AtomicUsize,
    pub zset_max_listpack_value: AtomicUsize,
    pub stream_node_max_bytes: AtomicUsize,
    pub stream_node_max_entries: AtomicU64,
    /// The pubsub class of `client-output-buffer-limit`.
    pub pubsub_output_limits: crate::pubsub::OutputLimits,
    /// `notify-keyspace-events` as flags (see [`crate::notify`]).
    pub notify_keyspace_events: std::sync::atomic::AtomicU32,
    /// `appendfsync` as `crate::aof::FSYNC_*`.
    pub appendfsync: std::sync::atomic::AtomicU8,
    /// `lazyfree-lazy-expire`: expired keys are freed in the background and their
    /// deletion reaches the effect stream as UNLINK rather than DEL.
    pub lazyfree_lazy_expire: AtomicBool,
}

impl Hot {
    /// The encoding thresholds now in force, read once per command.
    pub fn encoding_limits(&self) -> lodestone_store::EncodingLimits {
        lodestone_store::EncodingLimits {
            list_max_listpack_size: self.list_max_listpack_size.load(Ordering::Relaxed),
            hash_max_listpack_entries: self.hash_max_listpack_entries.load(Ordering::Relaxed),
            hash_max_listpack_value: self.hash_max_listpack_value.load(Ordering::Relaxed),
            set_max_intset_entries: self.set_max_intset_entries.load(Ordering::Relaxed),
            zset_max_listpack_entries: self.zset_max_listpack_entries.load(Ordering::Relaxed),
            zset_max_listpack_value: self.zset_max_listpack_value.load(Ordering::Relaxed),
        }
    }

    /// The stream node size limits now in force.
    pub fn stream_node_limits(&self) -> lodestone_store::stream::NodeLimits {
        lodestone_store::stream::NodeLimits {
            max_bytes: self.stream_node_max_bytes.load(Ordering::Relaxed),
            max_entries: self.stream_node_max_entries.load(Ordering::Relaxed),
        }
    }
}

/// The running configuration.
#[derive(Debug)]
pub struct Config {
    values: RwLock<BTreeMap<&'static str, String>>,
    pub hot: Hot,
    /// The file given at startup, for CONFIG REWRITE.
    pub file: Option<std::path::PathBuf>,
}

/// A configuration error, with Redis's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

pub fn find_param(name: &str) -> Option<&'static Param> {
    let lower = name.to_ascii_lowercase();
    PARAMS
        .iter()
        .find(|p| p.name == lower)
        .or_else(|| PARAMS.iter().find(|p| p.alias == Some(lower.as_str())))
}

/// Parses a memory amount: `100`, `1k`, `1kb`, `5mb`, `1gb` (k = 1000, kb = 1024).
pub fn parse_memory(text: &str) -> Option<i64> {
    let lower = text.to_ascii_lowercase();
    let (digits, unit): (&str, i64) = if let Some(d) = lower.strip_suffix("gb") {
        (d, 1 << 30)
    } else if let Some(d) = lower.strip_suffix("mb") {
        (d, 1 << 20)
    } else if let Some(d) = lower.strip_suffix("kb") {
        (d, 1 << 10)
    } else if let Some(d) = lower.strip_suffix('g') {
        (d, 1_000_000_000)
    } else if let Some(d) = lower.strip_suffix('m') {
        (d, 1_000_000)
    } else if let Some(d) = lower.strip_suffix('k') {
        (d, 1000)
    } else if let Some(d) = lower.strip_suffix('b') {
        (d, 1)
    } else {
        (lower.as_str(), 1)
    };
    let n = lodestone_util::number::parse_i64(digits.as_bytes())?;
    n.checked_mul(unit)
}

impl Param {
    /// Checks `value` and returns its canonical text (what CONFIG GET prints).
    pub fn canonical(&self, value: &str) -> Result<String, String> {
        match self.kind {
            Kind::Bool => match value.to_ascii_lowercase().as_str() {
                "yes" => Ok("yes".into()),
                "no" => Ok("no".into()),
                _ => Err("argument must be 'yes' or 'no'".into()),
            },
            Kind::Int { min, max } => {
                let n = lodestone_util::number::parse_i64(value.as_bytes())
                    .or_else(|| parse_memory(value))
                    .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
                if n < min || n > max {
                    return Err(format!(
                        "argument must be between {min} and {max} inclusive"
                    ));
                }
                Ok(n.to_string())
            }
            Kind::Memory { max } => {
                let n = parse_memory(value)
                    .ok_or_else(|| "argument must be a memory value".to_string())?;
                if n < 0 || n > max {
                    return Err("argument must be a memory value".into());
                }
                Ok(n.to_string())
            }
            Kind::Enum(options) => {
                let lower = value.to_ascii_lowercase();
                if options.contains(&lower.as_str()) {
                    Ok(lower)
                } else {
                    Err(format!(
                        "argument(s) must be one of the following: {}",
                        options.join(", ")
                    ))
                }
            }
            Kind::Text | Kind::Special => Ok(value.to_string()),
        }
    }
}

impl Config {
    /// The embedded defaults, no file.
    pub fn defaults() -> Config {
        let values = PARAMS
            .iter()
            .map(|p| (p.name, p.default.to_string()))
            .collect();
        let limits = lodestone_store::EncodingLimits::default();
        let config = Config {
            values: RwLock::new(values),
            hot: Hot {
                proto_max_bulk_len: AtomicI64::new(512 * 1024 * 1024),
                client_query_buffer_limit: AtomicUsize::new(1 << 30),
                slowlog_log_slower_than: AtomicI64::new(10000),
                slowlog_max_len: AtomicUsize::new(128),
                has_requirepass: AtomicBool::new(false),
                maxclients: AtomicU64::new(10000),
                hz: AtomicU64::new(10),
                active_expire_effort: AtomicU64::new(1),
                list_max_listpack_size: AtomicI64::new(limits.list_max_listpack_size),
                hash_max_listpack_entries: AtomicUsize::new(limits.hash_max_listpack_entries),
                hash_max_listpack_value: AtomicUsize::new(limits.hash_max_listpack_value),
                set_max_intset_entries: AtomicUsize::new(limits.set_max_intset_entries),
                zset_max_listpack_entries: AtomicUsize::new(limits.zset_max_listpack_entries),
                zset_max_listpack_value: AtomicUsize::new(limits.zset_max_listpack_value),
                stream_node_max_bytes: AtomicUsize::new(4096),
                stream_node_max_entries: AtomicU64::new(100),
                pubsub_output_limits: crate::pubsub::OutputLimits::new(32 << 20, 8 << 20, 60),
                notify_keyspace_events: Default::default(),
                appendfsync: std::sync::atomic::AtomicU8::new(crate::aof::FSYNC_EVERYSEC),
                lazyfree_lazy_expire: AtomicBool::new(false),
            },
            file: None,
        };
        if let Ok(dir) = std::env::current_dir() {
            config
                .values
                .write()
                .insert("dir", dir.display().to_string());
        }
        config
    }

    /// Builds the configuration from Redis-style command-line arguments: an optional
    /// config file first, then `--name value...` overrides (a value may span several
    /// words, as `--save 60 1000`).
    pub fn from_args(args: &[String]) -> Result<Config, ConfigError> {
        let mut config = Config::defaults();
        let mut rest = args;
        let mut text = String::new();
        if let Some(first) = rest.first() {
            if !first.starts_with("--") {
                let contents = std::fs::read_to_string(first).map_err(|e| {
                    ConfigError(format!(
                        "Fatal error, can't open config file '{first}': {e}"
                    ))
                })?;
                text.push_str(&contents);
                text.push('\n');
                config.file = Some(std::fs::canonicalize(first).unwrap_or_else(|_| first.into()));
                rest = &rest[1..];
            }
        }
        let mut line = String::new();
        for arg in rest {
            if let Some(name) = arg.strip_prefix("--") {
                if !line.is_empty() {
                    text.push_str(&line);
                    text.push('\n');
                }
                line = name.to_string();
            } else {
                line.push(' ');
                line.push_str(&quote_word(arg));
            }
        }
        if !line.is_empty() {
            text.push_str(&line);
            text.push('\n');
        }
        config.load_text(&text)?;
        Ok(config)
    }

    /// Applies redis.conf syntax: one `name value...` per line, `#` comments.
    pub fn load_text(&mut self, text: &str) -> Result<(), ConfigError> {
        let mut saves: Option<Vec<String>> = None;
        for (number, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words = lodestone_resp::split_args(line.as_bytes())
                .ok_or_else(|| bad_line(number, raw, "Unbalanced quotes in configuration line"))?;
            let words: Vec<String> = words
                .iter()
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect();
            let Some(name) = words.first() else { continue };
            let name = name.to_ascii_lowercase();
            let args = &words[1..];
            match name.as_str() {
                "include" | "rename-command" | "user" | "loadmodule" => {
                    tracing::warn!(
                        "configuration directive '{name}' is not supported yet; ignored"
                    );
                    continue;
                }
                "save" => {
                    // Several `save` lines accumulate, as in Redis.
                    let all = saves.get_or_insert_with(Vec::new);
                    if args.len() == 1 && args[0].is_empty() {
                        all.clear();
                    } else {
                        all.extend(args.iter().cloned());
                    }
                    continue;
                }
                _ => {}
            }
            let param = find_param(&name).ok_or_else(|| {
                bad_line(number, raw, "Bad directive or wrong number of arguments")
            })?;
            let value = args.join(" ");
            self.set_value(param, &value)
                .map_err(|e| bad_line(number, raw, &e))?;
        }
        if let Some(saves) = saves {
            self.values.write().insert("save", saves.join(" "));
        }
        Ok(())
    }

    /// The value of a parameter by canonical name.
    pub fn get(&self, name: &str) -> String {
        self.values.read().get(name).cloned().unwrap_or_default()
    }

    pub fn get_i64(&self, name: &str) -> i64 {
        self.get(name).parse().unwrap_or(0)
    }

    pub fn get_bool(&self, name: &str) -> bool {
        self.get(name) == "yes"
    }

    /// Every (name, value) pair, for CONFIG GET patterns and CONFIG REWRITE.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        let values = self.values.read();
        PARAMS
            .iter()
            .filter(|p| !p.hidden)
            .map(|p| (p.name, values.get(p.name).cloned().unwrap_or_default()))
            .collect()
    }

    /// Checks and stores a value, updating the hot mirror. Error texts are Redis's
    /// (the part after `CONFIG SET failed (possibly related to argument '...') - `).
    pub fn set_value(&self, param: &'static Param, value: &str) -> Result<(), String> {
        let canonical = match param.name {
            "save" => canonical_save(value)?,
            "client-output-buffer-limit" => {
                merge_output_limits(&self.get("client-output-buffer-limit"), value)?
            }
            "notify-keyspace-events" => match crate::notify::parse_flags(value) {
                Some(flags) => {
                    // The flags, not the text: as in Redis, the text shown drops `n`
                    // beside `A`, but the class stays enabled.
                    self.hot
                        .notify_keyspace_events
                        .store(flags, Ordering::Relaxed);
                    crate::notify::flags_text(flags)
                }
                None => return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
            },
            "maxmemory-clients" => canonical_memory_or_percent(value)?,
            "dir" => {
                std::env::set_current_dir(value).map_err(|e| e.to_string())?;
                std::env::current_dir()
                    .map(|d| d.display().to_string())
                    .unwrap_or_else(|_| value.to_string())
            }
            // Redis keeps the configured rate within 1..=500 whatever was asked.
            "hz" => param
                .canonical(value)?
                .parse::<i64>()
                .map_or_else(|_| value.to_string(), |n| n.clamp(1, 500).to_string()),
            _ => param.canonical(value)?,
        };
        self.update_hot(param.name, &canonical);
        self.values.write().insert(param.name, canonical);
        Ok(())
    }

    fn update_hot(&self, name: &str, value: &str) {
        let n = value.parse::<i64>().unwrap_or(0);
        let hot = &self.hot;
        match name {
            "proto-max-bulk-len" => hot.proto_max_bulk_len.store(n, Ordering::Relaxed),
            "client-query-buffer-limit" => hot
                .client_query_buffer_limit
                .store(n.max(0) as usize, Ordering::Relaxed),
            "slowlog-log-slower-than" => hot.slowlog_log_slower_than.store(n, Ordering::Relaxed),
            "slowlog-max-len" => hot
                .slowlog_max_len
                .store(n.max(0) as usize, Ordering::Relaxed),
            "requirepass" => hot
                .has_requirepass
                .store(!value.is_empty(), Ordering::Relaxed),
            "maxclients" => hot.maxclients.store(n.max(0) as u64, Ordering::Relaxed),
            "lazyfree-lazy-expire" => hot
                .lazyfree_lazy_expire
                .store(value == "yes", Ordering::Relaxed),
            "hz" => hot.hz.store(n.clamp(1, 500) as u64, Ordering::Relaxed),
            "appendfsync" => hot.appendfsync.store(
                match value {
                    "always" => crate::aof::FSYNC_ALWAYS,
                    "no" => crate::aof::FSYNC_NO,
                    _ => crate::aof::FSYNC_EVERYSEC,
                },
                Ordering::Relaxed,
            ),
            "active-expire-effort" => hot
                .active_expire_effort
                .store(n.max(1) as u64, Ordering::Relaxed),
            "list-max-listpack-size" => hot.list_max_listpack_size.store(n, Ordering::Relaxed),
            "hash-max-listpack-entries" => store_size(&hot.hash_max_listpack_entries, n),
            "hash-max-listpack-value" => store_size(&hot.hash_max_listpack_value, n),
            "set-max-intset-entries" => store_size(&hot.set_max_intset_entries, n),
            "zset-max-listpack-entries" => store_size(&hot.zset_max_listpack_entries, n),
            "zset-max-listpack-value" => store_size(&hot.zset_max_listpack_value, n),
            "stream-node-max-bytes" => store_size(&hot.stream_node_max_bytes, n),
            "stream-node-max-entries" => hot
                .stream_node_max_entries
                .store(n.max(0) as u64, Ordering::Relaxed),
            "client-output-buffer-limit" => {
                let words: Vec<&str> = value.split_whitespace().collect();
                for class in words.chunks(4) {
                    if let ["pubsub", hard, soft, seconds] = class {
                        let num = |t: &str| t.parse::<u64>().unwrap_or(0);
                        hot.pubsub_output_limits
                            .set(num(hard), num(soft), num(seconds));
                    }
                }
            }
            _ => {}
        }
    }
}

/// Stores a size parameter (never negative) in its hot copy.
fn store_size(slot: &AtomicUsize, n: i64) {
    slot.store(n.max(0) as usize, Ordering::Relaxed);
}

/// A memory amount, or a percentage of maxmemory up to 100 (`maxmemory-clients`).
fn canonical_memory_or_percent(value: &str) -> Result<String, String> {
    if let Some(percent) = value.strip_suffix('%') {
        let n = lodestone_util::number::parse_i64(percent.as_bytes())
            .ok_or_else(|| "argument must be a memory or percent value".to_string())?;
        if n < 0 {
            return Err("argument must be a memory or percent value".into());
        }
        if n > 100 {
            return Err("percentage argument must be less or equal to 100".into());
        }
        return Ok(format!("{n}%"));
    }
    match parse_memory(value) {
        Some(n) if n >= 0 => Ok(n.to_string()),
        _ => Err("argument must be a memory or percent value".into()),
    }
}

/// Applies `<class> <hard> <soft> <seconds>` groups to the current limits, all or
/// nothing, and prints every class back as Redis does (bytes, in class order).
fn merge_output_limits(current: &str, value: &str) -> Result<String, String> {
    let mut classes: Vec<(String, [u64; 3])> = ["normal", "slave", "pubsub"]
        .iter()
        .map(|name| (name.to_string(), [0; 3]))
        .collect();
    let old: Vec<&str> = current.split_whitespace().collect();
    for group in old.chunks(4) {
        if let [name, hard, soft, seconds] = group {
            if let Some(slot) = classes.iter_mut().find(|(n, _)| n == name) {
                let num = |t: &str| t.parse::<u64>().unwrap_or(0);
                slot.1 = [num(hard), num(soft), num(seconds)];
            }
        }
    }
    let words: Vec<&str> = value.split_whitespace().collect();
    if !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut updates = Vec::new();
    for group in words.chunks(4) {
        let name = match group[0].to_ascii_lowercase().as_str() {
            "normal" => "normal",
            "slave" | "replica" => "slave",
            "pubsub" => "pubsub",
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let bytes = |t: &str| parse_memory(t).filter(|n| *n >= 0).map(|n| n as u64);
        let seconds = lodestone_util::number::parse_i64(group[3].as_bytes()).filter(|n| *n >= 0);
        match (bytes(group[1]), bytes(group[2]), seconds) {
            (Some(hard), Some(soft), Some(seconds)) => {
                updates.push((name, [hard, soft, seconds as u64]))
            }
            _ => {
                return Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .into(),
                )
            }
        }
    }
    for (name, limits) in updates {
        if let Some(slot) = classes.iter_mut().find(|(n, _)| n == name) {
            slot.1 = limits;
        }
    }
    let groups: Vec<String> = classes
        .iter()
        .map(|(name, [hard, soft, seconds])| format!("{name} {hard} {soft} {seconds}"))
        .collect();
    Ok(groups.join(" "))
}

fn canonical_save(value: &str) -> Result<String, String> {
    let words: Vec<&str> = value.split_whitespace().collect();
    if !words.len().is_multiple_of(2) {
        return Err("Invalid save parameters".into());
    }
    for w in &words {
        if lodestone_util::number::parse_i64(w.as_bytes()).is_none_or(|n| n < 0) {
            return Err("Invalid save parameters".into());
        }
    }
    Ok(words.join(" "))
}

fn quote_word(word: &str) -> String {
    if word.is_empty() || word.contains([' ', '"', '\'', '\\']) {
        format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        word.to_string()
    }
}

fn bad_line(number: usize, line: &str, reason: &str) -> ConfigError {
    ConfigError(format!(
        "\n*** FATAL CONFIG FILE ERROR (Redis-compatible) ***\nReading the configuration file, at line {}\n>>> '{}'\n{}",
        number + 1,
        line.trim(),
        reason
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_flags_override() {
        let dir = std::env::temp_dir().join(format!("lodestone-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("l.conf");
        std::fs::write(
            &file,
            "port 7000\n# comment\nsave 900 1\nsave 300 10\nmaxmemory 1mb\n",
        )
        .unwrap();
        let args: Vec<String> = vec![
            file.display().to_string(),
            "--port".into(),
            "7001".into(),
            "--databases".into(),
            "4".into(),
        ];
        let config = Config::from_args(&args).unwrap();
        assert_eq!(config.get("port"), "7001");
        assert_eq!(config.get("databases"), "4");
        assert_eq!(config.get("save"), "900 1 300 10");
        assert_eq!(config.get("maxmemory"), "1048576");
        assert!(Config::from_args(&["--nonsense".into(), "1".into()]).is_err());
    }
}
