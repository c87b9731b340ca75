//! The append-only file (being built).

use crate::server::Server;
use crate::snapshot::Running;

/// INFO persistence's `aof_*` fields.
pub fn info_fields(_server: &Server, out: &mut String, _running: Option<Running>, _now_ms: i64) {
    out.push_str("aof_enabled:0\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\naof_last_rewrite_time_sec:-1\r\naof_current_rewrite_time_sec:-1\r\naof_last_bgrewrite_status:ok\r\naof_rewrites:0\r\naof_rewrites_consecutive_failures:0\r\naof_last_write_status:ok\r\naof_last_cow_size:0\r\n");
}

/// The size fields INFO shows while AOF is on.
pub fn info_size_fields(_server: &Server, _out: &mut String) {}
