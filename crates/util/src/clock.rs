//! Wall clock in Redis's units. Commands read it once and reuse the value, so one command
//! sees one instant (important for expiry: a key cannot expire half-way through MGET).

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    now_us() / 1000
}

/// Microseconds since the Unix epoch.
pub fn now_us() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_REALTIME always exists. Called
    // directly (twice per command) because std's SystemTime arithmetic costs more than
    // the vDSO read itself.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec * 1_000_000 + ts.tv_nsec / 1000
}
