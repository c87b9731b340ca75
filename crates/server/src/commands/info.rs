//! INFO: the server's state as Redis 7.0 prints it, section by section.
//!
//! Each section is one function appending `name:value\r\n` lines in Redis's order, so a
//! section can be compared with Redis's line by line. Fields for subsystems Lodestone
//! does not have yet (replication, AOF, Lua, defrag...) print the values an idle Redis
//! with that subsystem off prints. The cron calls [`sample_metrics`] each tick for the
//! `instantaneous_*` rates and the memory peak.

use std::fmt::{Display, Write};
use std::sync::atomic::Ordering;
use std::sync::OnceLock;

use lodestone_spec::COMMANDS;

use crate::ctx::Ctx;
use crate::errors::CmdResult;
use crate::keyspace::SHARDS;
use crate::server::{Server, METRIC_SAMPLES};
use crate::snapshot::Purpose;

type Section = fn(&mut Ctx, &mut String);

/// Every section in output order, with the name that selects it.
const SECTIONS: &[(&str, Section)] = &[
    ("server", server_section),
    ("clients", clients_section),
    ("memory", memory_section),
    ("persistence", persistence_section),
    ("stats", stats_section),
    ("replication", replication_section),
    ("cpu", cpu_section),
    ("modules", modules_section),
    ("commandstats", commandstats_section),
    ("errorstats", errorstats_section),
    ("latencystats", latencystats_section),
    ("cluster", cluster_section),
    ("keyspace", keyspace_section),
];

/// What plain INFO (or `default`) prints.
const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "module_list",
    "errorstats",
    "cluster",
    "keyspace",
];

/// INFO [section ...]
pub fn info(ctx: &mut Ctx) -> CmdResult {
    let (all, wanted) = requested_sections(ctx);
    let mut text = String::with_capacity(4096);
    for (name, section) in SECTIONS {
        let selected = all
            || wanted.iter().any(|w| w == name)
            || (*name == "modules" && wanted.iter().any(|w| w == "module_list"));
        if !selected {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        section(ctx, &mut text);
    }
    ctx.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

/// The sections asked for, lower-cased, and whether `all`/`everything` was.
fn requested_sections(ctx: &Ctx) -> (bool, Vec<String>) {
    if ctx.argc() == 1 {
        return (
            false,
            DEFAULT_SECTIONS.iter().map(|s| s.to_string()).collect(),
        );
    }
    let mut all = false;
    let mut wanted = Vec::new();
    for i in 1..ctx.argc() {
        let name = String::from_utf8_lossy(ctx.arg(i)).to_ascii_lowercase();
        match name.as_str() {
            "default" => wanted.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string())),
            "all" | "everything" => all = true,
            _ => wanted.push(name),
        }
    }
    (all, wanted)
}

fn field(out: &mut String, name: &str, value: impl Display) {
    let _ = write!(out, "{name}:{value}\r\n");
}

/// Prints a list of fields that are always zero here (features not built yet).
fn zeros(out: &mut String, names: &[&str]) {
    for name in names {
        field(out, name, 0);
    }
}

fn uname() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        // SAFETY: `uname` fills the zeroed struct; its fields are NUL-terminated strings.
        let mut raw: libc::utsname = unsafe { std::mem::zeroed() };
        if unsafe { libc::uname(&mut raw) } != 0 {
            return "Linux".to_string();
        }
        let text = |field: &[libc::c_char]| -> String {
            let bytes: Vec<u8> = field
                .iter()
                .take_while(|&&c| c != 0)
                .map(|&c| c as u8)
                .collect();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        format!(
            "{} {} {}",
            text(&raw.sysname),
            text(&raw.release),
            text(&raw.machine)
        )
    })
}

fn server_section(ctx: &mut Ctx, out: &mut String) {
    let server = ctx.server;
    let now_us = lodestone_util::clock::now_us();
    let uptime = (now_us / 1000 - server.start_ms).max(0) / 1000;
    let hz = server.config.hot.hz.load(Ordering::Relaxed);
    out.push_str("# Server\r\n");
    field(out, "redis_version", crate::REDIS_VERSION);
    field(out, "lodestone_version", crate::LODESTONE_VERSION);
    field(out, "redis_git_sha1", "00000000");
    field(out, "redis_git_dirty", 0);
    field(out, "redis_build_id", "0");
    field(out, "redis_mode", "standalone");
    field(out, "os", uname());
    field(out, "arch_bits", usize::BITS);
    field(out, "monotonic_clock", "POSIX clock_gettime");
    field(out, "multiplexing_api", "epoll");
    field(out, "atomicvar_api", "c11-builtin");
    field(out, "gcc_version", "0.0.0");
    field(out, "process_id", std::process::id());
    field(out, "process_supervised", "no");
    field(out, "run_id", &server.run_id);
    field(out, "tcp_port", server.port.load(Ordering::Relaxed));
    field(out, "server_time_usec", now_us);
    field(out, "uptime_in_seconds", uptime);
    field(out, "uptime_in_days", uptime / 86400);
    field(out, "hz", hz);
    field(out, "configured_hz", hz);
    field(out, "lru_clock", (now_us / 1_000_000) & ((1 << 24) - 1));
    field(out, "executable", &server.executable);
    let config_file = server
        .config
        .file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    field(out, "config_file", config_file);
    field(out, "io_threads_active", 0);
}

fn clients_section(ctx: &mut Ctx, out: &mut String) {
    let server = ctx.server;
    let clients = server.clients.all();
    let max_input = clients
        .iter()
        .map(|c| c.query_buffer.load(Ordering::Relaxed))
        .max()
        .unwrap_or(0);
    out.push_str("# Clients\r\n");
    field(out, "connected_clients", clients.len());
    field(out, "cluster_connections", 0);
    field(
        out,
        "maxclients",
        server.config.hot.maxclients.load(Ordering::Relaxed),
    );
    field(out, "client_recent_max_input_buffer", max_input);
    field(out, "client_recent_max_output_buffer", 0);
    let waits: Vec<_> = clients
        .iter()
        .filter_map(|c| c.blocked_on.lock().clone())
        .collect();
    field(out, "blocked_clients", waits.len());
    field(out, "tracking_clients", 0);
    let timed = waits.iter().filter(|w| w.deadline.is_some()).count();
    field(out, "clients_in_timeout_table", timed);
}

/// Allocator figures: (allocated, active, resident) bytes.
fn allocator_stats() -> (u64, u64, u64) {
    use tikv_jemalloc_ctl::{epoch, stats};
    let _ = epoch::advance();
    let read = |v: Result<usize, _>| v.map_or(0, |n| n as u64);
    (
        read(stats::allocated::read()),
        read(stats::active::read()),
        read(stats::resident::read()),
    )
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096)
}

/// The process's resident set size.
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    pages * page_size()
}

fn total_system_memory() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let pages = unsafe { libc::sysconf(libc::_SC_PHYS_PAGES) };
    u64::try_from(pages).unwrap_or(0) * page_size()
}

/// Bytes the server uses: the allocator's count, or the RSS when the allocator keeps
/// no statistics (a build without jemalloc as the global allocator).
pub fn used_memory() -> u64 {
    match allocator_stats().0 {
        0 => rss_bytes(),
        n => n,
    }
}

/// Redis's `bytesToHuman`: `100B`, `1.50K`, `2.00M`...
pub fn bytes_to_human(n: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut value = n as f64 / 1024.0;
    for unit in UNITS {
        if value < 1024.0 {
            return format!("{value:.2}{unit}");
        }
        value /= 1024.0;
    }
    format!("{n}B")
}

fn ratio(a: u64, b: u64) -> String {
    if b == 0 {
        return "0.00".into();
    }
    format!("{:.2}", a as f64 / b as f64)
}

fn memory_section(ctx: &mut Ctx, out: &mut String) {
    let server = ctx.server;
    let (allocated, active, resident) = allocator_stats();
    let used = if allocated == 0 {
        rss_bytes()
    } else {
        allocated
    };
    let rss = rss_bytes();
    let peak = server
        .metrics
        .peak_memory
        .fetch_max(used, Ordering::Relaxed)
        .max(used);
    let startup = server
        .metrics
        .startup_memory
        .load(Ordering::Relaxed)
        .min(used);
    let overhead = startup;
    let dataset = used - overhead;
    let maxmemory = server.config.get_i64("maxmemory").max(0) as u64;
    let system = total_system_memory();
    out.push_str("# Memory\r\n");
    field(out, "used_memory", used);
    field(out, "used_memory_human", bytes_to_human(used));
    field(out, "used_memory_rss", rss);
    field(out, "used_memory_rss_human", bytes_to_human(rss));
    field(out, "used_memory_peak", peak);
    field(out, "used_memory_peak_human", bytes_to_human(peak));
    field(
        out,
        "used_memory_peak_perc",
        format!("{:.2}%", percent(used, peak)),
    );
    field(out, "used_memory_overhead", overhead);
    field(out, "used_memory_startup", startup);
    field(out, "used_memory_dataset", dataset);
    field(
        out,
        "used_memory_dataset_perc",
        format!("{:.2}%", percent(dataset, used - startup)),
    );
    field(out, "allocator_allocated", allocated);
    field(out, "allocator_active", active);
    field(out, "allocator_resident", resident);
    field(out, "total_system_memory", system);
    field(out, "total_system_memory_human", bytes_to_human(system));
    scripting_memory(server, out);
    field(out, "maxmemory", maxmemory);
    field(out, "maxmemory_human", bytes_to_human(maxmemory));
    field(
        out,
        "maxmemory_policy",
        server.config.get("maxmemory-policy"),
    );
    fragmentation(out, [allocated, active, resident, rss, used]);
    zeros(
        out,
        &[
            "mem_not_counted_for_evict",
            "mem_replication_backlog",
            "mem_total_replication_buffers",
            "mem_clients_slaves",
            "mem_clients_normal",
            "mem_cluster_links",
            "mem_aof_buffer",
        ],
    );
    field(out, "mem_allocator", "jemalloc-5.3.0");
    zeros(
        out,
        &[
            "active_defrag_running",
            "lazyfree_pending_objects",
            "lazyfreed_objects",
        ],
    );
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    part as f64 * 100.0 / whole as f64
}

/// The Lua and functions fields. Lua's own memory is per worker thread and not
/// sampled; the cache and library sizes are the server's.
fn scripting_memory(server: &Server, out: &mut String) {
    let scripting = &server.scripting;
    let scripts = scripting.scripts_memory();
    let (functions, libraries, library_bytes) = {
        let libs = scripting.libraries.read();
        let functions: usize = libs.values().map(|l| l.info.functions.len()).sum();
        let bytes: usize = libs.values().map(|l| l.code.len() + 64).sum();
        (functions, libs.len(), bytes)
    };
    zeros(out, &["used_memory_lua", "used_memory_vm_eval"]);
    field(out, "used_memory_lua_human", "0B");
    field(out, "used_memory_scripts_eval", scripts);
    field(out, "number_of_cached_scripts", scripting.script_count());
    field(out, "number_of_functions", functions);
    field(out, "number_of_libraries", libraries);
    zeros(out, &["used_memory_vm_functions", "used_memory_vm_total"]);
    field(out, "used_memory_vm_total_human", "0B");
    field(out, "used_memory_functions", library_bytes);
    field(out, "used_memory_scripts", scripts + library_bytes);
    field(
        out,
        "used_memory_scripts_human",
        bytes_to_human((scripts + library_bytes) as u64),
    );
}

/// The fragmentation ratios from `[allocated, active, resident, rss, used]`.
fn fragmentation(out: &mut String, [allocated, active, resident, rss, used]: [u64; 5]) {
    let diff = |a: u64, b: u64| a as i64 - b as i64;
    field(out, "allocator_frag_ratio", ratio(active, allocated));
    field(out, "allocator_frag_bytes", diff(active, allocated));
    field(out, "allocator_rss_ratio", ratio(resident, active));
    field(out, "allocator_rss_bytes", diff(resident, active));
    field(out, "rss_overhead_ratio", ratio(rss, resident));
    field(out, "rss_overhead_bytes", diff(rss, resident));
    field(out, "mem_fragmentation_ratio", ratio(rss, used));
    field(out, "mem_fragmentation_bytes", diff(rss, used));
}

fn persistence_section(ctx: &mut Ctx, out: &mut String) {
    let server = ctx.server;
    let snapshots = &server.snapshots;
    let state = snapshots.state.lock();
    let now_ms = lodestone_util::clock::now_ms();
    let running = state.running;
    let bgsave = running.filter(|r| r.purpose == Purpose::Rdb);
    out.push_str("# Persistence\r\n");
    // Read once: the load may end while the section is written.
    let loading = server.loading.active();
    field(out, "loading", u8::from(loading));
    field(out, "async_loading", 0);
    // No fork: the "copy on write" figures are the encoded old values a snapshot
    // keeps for keys written while it runs.
    let kept = snapshots.kept_bytes.load(Ordering::Relaxed);
    field(out, "current_cow_peak", kept);
    field(out, "current_cow_size", kept);
    field(out, "current_cow_size_age", 0);
    field(out, "current_fork_perc", "0.00");
    match running {
        Some(r) => {
            field(
                out,
                "current_save_keys_processed",
                snapshots.keys_done.load(Ordering::Relaxed),
            );
            field(out, "current_save_keys_total", r.keys_total);
        }
        None => zeros(
            out,
            &["current_save_keys_processed", "current_save_keys_total"],
        ),
    }
    field(
        out,
        "rdb_changes_since_last_save",
        server.dirty.load(Ordering::Relaxed),
    );
    field(out, "rdb_bgsave_in_progress", u8::from(bgsave.is_some()));
    field(
        out,
        "rdb_last_save_time",
        server.lastsave_s.load(Ordering::Relaxed),
    );
    field(
        out,
        "rdb_last_bgsave_status",
        if server.last_save_ok.load(Ordering::Relaxed) {
            "ok"
        } else {
            "err"
        },
    );
    field(out, "rdb_last_bgsave_time_sec", state.last_bgsave_time_s);
    field(
        out,
        "rdb_current_bgsave_time_sec",
        bgsave.map_or(-1, |r| (now_ms - r.started_ms) / 1000),
    );
    field(out, "rdb_saves", state.saves);
    field(out, "rdb_last_cow_size", state.last_kept_peak);
    drop(state);
    field(
        out,
        "rdb_last_load_keys_expired",
        server.loading.keys_expired.load(Ordering::Relaxed),
    );
    field(
        out,
        "rdb_last_load_keys_loaded",
        server.loading.keys_loaded.load(Ordering::Relaxed),
    );
    crate::aof::info_fields(server, out, running, now_ms);
    zeros(
        out,
        &["module_fork_in_progress", "module_fork_last_cow_size"],
    );
    crate::aof::info_size_fields(server, out);
    if loading {
        loading_progress(server, out, now_ms);
    }
}

/// The `loading_*` fields shown while the dataset loads (Redis's figures).
fn loading_progress(server: &Server, out: &mut String, now_ms: i64) {
    let loading = &server.loading;
    let total = loading.total_bytes.load(Ordering::Relaxed);
    let loaded = loading.loaded_bytes.load(Ordering::Relaxed);
    let start_s = loading.start_s.load(Ordering::Relaxed);
    let (perc, remaining) = if total > 0 {
        (
            loaded as f64 / total as f64 * 100.0,
            total.saturating_sub(loaded),
        )
    } else {
        (0.0, 1)
    };
    let elapsed = now_ms / 1000 - start_s;
    let eta = if elapsed <= 0 {
        1
    } else {
        elapsed * remaining as i64 / (loaded as i64 + 1)
    };
    field(out, "loading_start_time", start_s);
    field(out, "loading_total_bytes", total);
    field(out, "loading_rdb_used_mem", 0);
    field(out, "loading_loaded_bytes", loaded);
    field(out, "loading_loaded_perc", format!("{perc:.2}"));
    field(out, "loading_eta_seconds", eta);
}

/// Totals over every worker thread's counters.
#[derive(Default)]
struct Totals {
    commands: u64,
    net_input: u64,
    net_output: u64,
    keyspace_hits: u64,
    keyspace_misses: u64,
}

fn totals(server: &Server) -> Totals {
    let mut totals = Totals::default();
    for stats in server.thread_stats.lock().iter() {
        totals.commands += stats
            .commands
            .iter()
            .map(|c| c.calls.load(Ordering::Relaxed))
            .sum::<u64>();
        totals.net_input += stats.net_input_bytes.load(Ordering::Relaxed);
        totals.net_output += stats.net_output_bytes.load(Ordering::Relaxed);
        totals.keyspace_hits += stats.keyspace_hits.load(Ordering::Relaxed);
        totals.keyspace_misses += stats.keyspace_misses.load(Ordering::Relaxed);
    }
    totals
}

/// Records one sample of each instantaneous rate and the memory peak (cron, per tick).
pub fn sample_metrics(server: &Server) {
    let now = lodestone_util::clock::now_ms();
    let t = totals(server);
    {
        let mut series = server.metrics.series.lock();
        for (s, total) in series
            .iter_mut()
            .zip([t.commands, t.net_input, t.net_output])
        {
            let elapsed = now - s.last_time_ms;
            if s.last_time_ms > 0 && elapsed > 0 {
                s.samples[s.next] = total.saturating_sub(s.last_count) * 1000 / elapsed as u64;
                s.next = (s.next + 1) % METRIC_SAMPLES;
            }
            s.last_time_ms = now;
            s.last_count = total;
        }
    }
    let used = used_memory();
    let metrics = &server.metrics;
    metrics.peak_memory.fetch_max(used, Ordering::Relaxed);
    let _ = metrics
        .startup_memory
        .compare_exchange(0, used, Ordering::Relaxed, Ordering::Relaxed);
}

/// The average of a rate's samples (Redis's `getInstantaneousMetric`).
fn instantaneous(server: &Server, index: usize) -> u64 {
    let series = server.metrics.series.lock();
    series[index].samples.iter().sum::<u64>() / METRIC_SAMPLES as u64
}

fn stats_section(ctx: &mut Ctx, out: &mut String) {
    let server = ctx.server;
    let stats = &server.stats;
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let t = totals(server);
    out.push_str("# Stats\r\n");
    field(
        out,
        "total_connections_received",
        load(&stats.total_connections_received),
    );
    field(out, "total_commands_processed", t.commands);
    field(out, "instantaneous_ops_per_sec", instantaneous(server, 0));
    field(out, "total_net_input_bytes", t.net_input);
    field(out, "total_net_output_bytes", t.net_output);
    zeros(
        out,
        &["total_net_repl_input_bytes", "total_net_repl_output_bytes"],
    );
    let kbps = |i: usize| format!("{:.2}", instantaneous(server, i) as f64 / 1024.0);
    field(out, "instantaneous_input_kbps", kbps(1));
    field(out, "instantaneous_output_kbps", kbps(2));
    field(out, "instantaneous_input_repl_kbps", "0.00");
    field(out, "instantaneous_output_repl_kbps", "0.00");
    field(
        out,
        "rejected_connections",
        load(&stats.rejected_connections),
    );
    zeros(out, &["sync_full", "sync_partial_ok", "sync_partial_err"]);
    field(out, "expired_keys", load(&stats.expired_keys));
    field(
        out,
        "expired_stale_perc",
        format!("{:.2}", load(&stats.expired_stale_perc) as f64),
    );
    field(
        out,
        "expired_time_cap_reached_count",
        load(&stats.expired_time_cap_reached_count),
    );
    zeros(
        out,
        &[
            "expire_cycle_cpu_milliseconds",
            "evicted_keys",
            "evicted_clients",
            "total_eviction_exceeded_time",
            "current_eviction_exceeded_time",
        ],
    );
    field(out, "keyspace_hits", t.keyspace_hits);
    field(out, "keyspace_misses", t.keyspace_misses);
    stats_tail(server, out);
}

/// The second half of the stats section: mostly subsystems not built yet.
fn stats_tail(server: &Server, out: &mut String) {
    let stats = &server.stats;
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    field(out, "pubsub_channels", server.pubsub.channel_count(false));
    field(out, "pubsub_patterns", server.pubsub.pattern_count());
    field(
        out,
        "pubsubshard_channels",
        server.pubsub.channel_count(true),
    );
    zeros(
        out,
        &[
            "latest_fork_usec",
            "total_forks",
            "migrate_cached_sockets",
            "slave_expires_tracked_keys",
            "active_defrag_hits",
            "active_defrag_misses",
            "active_defrag_key_hits",
            "active_defrag_key_misses",
            "total_active_defrag_time",
            "current_active_defrag_time",
            "tracking_total_keys",
            "tracking_total_items",
            "tracking_total_prefixes",
        ],
    );
    field(
        out,
        "unexpected_error_replies",
        load(&stats.unexpected_error_replies),
    );
    field(out, "total_error_replies", load(&stats.total_error_replies));
    zeros(
        out,
        &[
            "dump_payload_sanitizations",
            "total_reads_processed",
            "total_writes_processed",
            "io_threaded_reads_processed",
            "io_threaded_writes_processed",
            "reply_buffer_shrinks",
            "reply_buffer_expands",
        ],
    );
    field(
        out,
        "client_query_buffer_limit_disconnections",
        load(&stats.client_query_buffer_limit_disconnections),
    );
    field(
        out,
        "client_output_buffer_limit_disconnections",
        load(&server.pubsub.stats.output_limit_disconnections),
    );
}

fn replication_section(ctx: &mut Ctx, out: &mut String) {
    let server = ctx.server;
    out.push_str("# Replication\r\n");
    field(out, "role", "master");
    field(out, "connected_slaves", 0);
    field(out, "master_failover_state", "no-failover");
    field(out, "master_replid", server.replid.lock().as_str());
    field(out, "master_replid2", "0".repeat(40));
    field(out, "master_repl_offset", 0);
    field(out, "second_repl_offset", -1);
    field(out, "repl_backlog_active", 0);
    field(
        out,
        "repl_backlog_size",
        server.config.get_i64("repl-backlog-size"),
    );
    zeros(
        out,
        &["repl_backlog_first_byte_offset", "repl_backlog_histlen"],
    );
}

/// `seconds.micros` of a `timeval`, as Redis prints CPU times.
fn cpu_time(tv: libc::timeval) -> String {
    format!("{}.{:06}", tv.tv_sec, tv.tv_usec)
}

fn rusage(who: libc::c_int) -> libc::rusage {
    // SAFETY: getrusage fills the zeroed struct; on failure it stays zero.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut usage) };
    usage
}

fn cpu_section(_ctx: &mut Ctx, out: &mut String) {
    let own = rusage(libc::RUSAGE_SELF);
    let children = rusage(libc::RUSAGE_CHILDREN);
    // The thread running INFO stands in for Redis's main thread.
    let thread = rusage(libc::RUSAGE_THREAD);
    out.push_str("# CPU\r\n");
    field(out, "used_cpu_sys", cpu_time(own.ru_stime));
    field(out, "used_cpu_user", cpu_time(own.ru_utime));
    field(out, "used_cpu_sys_children", cpu_time(children.ru_stime));
    field(out, "used_cpu_user_children", cpu_time(children.ru_utime));
    field(out, "used_cpu_sys_main_thread", cpu_time(thread.ru_stime));
    field(out, "used_cpu_user_main_thread", cpu_time(thread.ru_utime));
}

fn modules_section(_ctx: &mut Ctx, out: &mut String) {
    out.push_str("# Modules\r\n");
}

fn commandstats_section(ctx: &mut Ctx, out: &mut String) {
    let threads = ctx.server.thread_stats.lock().clone();
    out.push_str("# Commandstats\r\n");
    for spec in COMMANDS {
        let id = spec.id as usize;
        let sum = |get: fn(&crate::server::CommandStats) -> u64| -> u64 {
            threads.iter().map(|t| get(&t.commands[id])).sum()
        };
        let calls = sum(|c| c.calls.load(Ordering::Relaxed));
        let usec = sum(|c| c.usec.load(Ordering::Relaxed));
        let rejected = sum(|c| c.rejected_calls.load(Ordering::Relaxed));
        let failed = sum(|c| c.failed_calls.load(Ordering::Relaxed));
        if calls == 0 && rejected == 0 && failed == 0 {
            continue;
        }
        let per_call = if calls == 0 {
            0.0
        } else {
            usec as f64 / calls as f64
        };
        let _ = write!(
            out,
            "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={failed}\r\n",
            spec.full_name()
        );
    }
}

/// Error codes are sanitised as Redis does, so one cannot break the line format.
fn safe_info_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if matches!(c, '#' | ':' | '\n' | '\r') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

fn errorstats_section(ctx: &mut Ctx, out: &mut String) {
    let mut errors: Vec<(String, u64)> = ctx
        .server
        .stats
        .errors
        .lock()
        .iter()
        .map(|(code, count)| (code.clone(), *count))
        .collect();
    errors.sort();
    out.push_str("# Errorstats\r\n");
    for (code, count) in errors {
        let _ = write!(out, "errorstat_{}:count={count}\r\n", safe_info_name(&code));
    }
}

/// Latency percentiles are not tracked yet: the header alone, as Redis prints it with
/// `latency-tracking no`.
fn latencystats_section(_ctx: &mut Ctx, out: &mut String) {
    out.push_str("# Latencystats\r\n");
}

fn cluster_section(_ctx: &mut Ctx, out: &mut String) {
    out.push_str("# Cluster\r\n");
    field(out, "cluster_enabled", 0);
}

fn keyspace_section(ctx: &mut Ctx, out: &mut String) {
    let databases = ctx.server.keyspace.databases;
    let mut keys = vec![0usize; databases];
    let mut volatile = vec![0usize; databases];
    for id in 0..SHARDS {
        let mut count = |shard: &lodestone_store::Shard| {
            for (j, db) in shard.dbs.iter().enumerate() {
                keys[j] += db.len();
                volatile[j] += db.volatile_len();
            }
        };
        // Shards this command already holds (inside a transaction) are read through
        // its guard; the others are locked one at a time so no client waits long.
        if ctx.keys.locked.holds(id) {
            count(ctx.keys.locked.shard(id));
        } else {
            count(&ctx.server.keyspace.lock_shard(id));
        }
    }
    out.push_str("# Keyspace\r\n");
    for j in 0..databases {
        if keys[j] > 0 || volatile[j] > 0 {
            let _ = write!(
                out,
                "db{j}:keys={},expires={},avg_ttl=0\r\n",
                keys[j], volatile[j]
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_match_redis() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(1536), "1.50K");
        assert_eq!(bytes_to_human(1163568), "1.11M");
        assert_eq!(bytes_to_human(25276502016), "23.54G");
    }
}
