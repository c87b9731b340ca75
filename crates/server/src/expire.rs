//! Active expiry: the cron samples keys with a TTL and deletes the expired ones, so memory
//! is reclaimed even for keys nobody reads. Like Redis: 20 keys per database per round,
//! another round while more than a quarter of a sample was expired, and a time budget of
//! a quarter of the cron period (scaled by `active-expire-effort`). Shards are locked one
//! at a time, so clients on other shards never wait for it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::SeedableRng;

use crate::keyspace::SHARDS;
use crate::server::Server;

const KEYS_PER_LOOP: usize = 20;
const ACCEPTABLE_STALE_PERCENT: usize = 25;

/// The server cron: runs `hz` times a second for the life of the server.
pub async fn cron(server: Arc<Server>) {
    let mut rng = rand::rngs::SmallRng::from_entropy();
    let mut next_shard = 0usize;
    loop {
        let hz = server.config.hot.hz.load(Ordering::Relaxed).max(1);
        let period = Duration::from_millis(1000 / hz);
        tokio::time::sleep(period).await;
        crate::commands::info::sample_metrics(&server);
        if server.active_expire_enabled.load(Ordering::Relaxed) {
            let effort = server
                .config
                .hot
                .active_expire_effort
                .load(Ordering::Relaxed)
                .clamp(1, 10);
            let budget = period.mul_f64((25 + 2 * (effort - 1)) as f64 / 100.0);
            next_shard = active_expire_cycle(&server, &mut rng, next_shard, budget);
        }
    }
}

/// One cycle over the shards, starting where the last one stopped. Returns where to
/// start next time.
pub fn active_expire_cycle(
    server: &Server,
    rng: &mut rand::rngs::SmallRng,
    start: usize,
    budget: Duration,
) -> usize {
    let began = Instant::now();
    let mut expired_total = 0u64;
    for step in 0..SHARDS {
        let shard_id = (start + step) % SHARDS;
        if began.elapsed() > budget {
            server
                .stats
                .expired_time_cap_reached_count
                .fetch_add(1, Ordering::Relaxed);
            server
                .stats
                .expired_keys
                .fetch_add(expired_total, Ordering::Relaxed);
            return shard_id;
        }
        let now = lodestone_util::clock::now_ms();
        let mut shard = server.keyspace.lock_shard(shard_id);
        for db in shard.dbs.iter_mut() {
            loop {
                let sample = db.sample_volatile(rng, KEYS_PER_LOOP);
                if sample.is_empty() {
                    break;
                }
                let mut expired = 0;
                for key in &sample {
                    if db.get(key).is_some_and(|e| e.is_expired(now)) {
                        db.remove(key);
                        expired += 1;
                    }
                }
                expired_total += expired as u64;
                if expired * 100 <= sample.len() * ACCEPTABLE_STALE_PERCENT
                    || began.elapsed() > budget
                {
                    break;
                }
            }
        }
    }
    server
        .stats
        .expired_keys
        .fetch_add(expired_total, Ordering::Relaxed);
    if expired_total > 0 {
        server.dirty.fetch_add(expired_total, Ordering::Relaxed);
    }
    start
}
