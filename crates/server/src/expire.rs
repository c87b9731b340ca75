//! Active expiry: the cron samples keys with a TTL and deletes the expired ones, so memory
//! is reclaimed even for keys nobody reads. Like Redis's slow cycle, scaled by
//! `active-expire-effort` (1..10, "effort" 0..9 below): 20 + 5×effort keys per database
//! per round, another round while more than 10 − effort percent of a sample was expired,
//! and a time budget of 25 + 2×effort percent of the cron period. Shards are locked one
//! at a time, so clients on other shards never wait for it; a cycle that runs out of time
//! resumes at the next shard.
//!
//! As in Redis, expirations count in `expired_keys` but not as changes for SAVE. Each
//! deletion reaches the effect stream as `DEL key` (`UNLINK key` under
//! `lazyfree-lazy-expire`), appended while the shard is held, like a command's effects,
//! and never wrapped in MULTI/EXEC (Redis's `propagate_no_multi` for this cycle).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::SeedableRng;

use lodestone_store::Shard;

use crate::ctx::{expiry_deletion, EffectArgs};
use crate::keyspace::SHARDS;
use crate::lazyfree;
use crate::server::Server;

const KEYS_PER_LOOP: usize = 20;
const ACCEPTABLE_STALE_PERCENT: usize = 10;
const SLOW_TIME_PERCENT: u64 = 25;

/// The knobs of one cycle, derived from `active-expire-effort`.
#[derive(Clone, Copy, Debug)]
pub struct CycleParams {
    pub keys_per_loop: usize,
    pub acceptable_stale_percent: usize,
    pub budget: Duration,
    /// `lazyfree-lazy-expire`: free expensive expired values in the background.
    pub lazy: bool,
}

impl CycleParams {
    /// Redis's scaling for an effort of 1..=10 (clamped) and a cron `period`.
    pub fn new(effort: u64, period: Duration, lazy: bool) -> CycleParams {
        let effort = effort.clamp(1, 10) - 1;
        CycleParams {
            keys_per_loop: KEYS_PER_LOOP + KEYS_PER_LOOP / 4 * effort as usize,
            acceptable_stale_percent: ACCEPTABLE_STALE_PERCENT - effort as usize,
            budget: period.mul_f64((SLOW_TIME_PERCENT + 2 * effort) as f64 / 100.0),
            lazy,
        }
    }
}

/// The server cron: runs `hz` times a second for the life of the server.
pub async fn cron(server: Arc<Server>) {
    let mut rng = rand::rngs::SmallRng::from_entropy();
    let mut next_shard = 0usize;
    loop {
        let hz = server.config.hot.hz.load(Ordering::Relaxed).max(1);
        let period = Duration::from_millis(1000 / hz);
        tokio::time::sleep(period).await;
        crate::commands::info::sample_metrics(&server);
        server
            .pubsub
            .check_soft_limits(&server.config.hot.pubsub_output_limits);
        // As in Redis, nothing expires while a dataset loads: the stream being replayed
        // holds the deletions of its time.
        if server.active_expire_enabled.load(Ordering::Relaxed) && !server.loading.active() {
            let effort = server
                .config
                .hot
                .active_expire_effort
                .load(Ordering::Relaxed);
            let lazy = server.config.get_bool("lazyfree-lazy-expire");
            let params = CycleParams::new(effort, period, lazy);
            next_shard = active_expire_cycle(&server, &mut rng, next_shard, params);
        }
    }
}

/// One cycle over the shards, starting where the last one stopped. Returns where to
/// start next time.
pub fn active_expire_cycle(
    server: &Server,
    rng: &mut rand::rngs::SmallRng,
    start: usize,
    params: CycleParams,
) -> usize {
    let began = Instant::now();
    let mut expired_total = 0u64;
    let mut resume_at = start;
    for step in 0..SHARDS {
        let shard_id = (start + step) % SHARDS;
        if began.elapsed() > params.budget {
            server
                .stats
                .expired_time_cap_reached_count
                .fetch_add(1, Ordering::Relaxed);
            resume_at = shard_id;
            break;
        }
        let now = lodestone_util::clock::now_ms();
        let mut shard = server.keyspace.lock_shard(shard_id);
        let mut deleted = Vec::new();
        let notify = crate::notify::wanted(server.notify_flags(), crate::notify::EXPIRED);
        let propagate = server.effects.has_readers();
        let track = (server.watched.any() || notify || propagate).then_some(&mut deleted);
        expired_total += expire_shard(&mut shard, rng, now, &params, began, track);
        if propagate && !deleted.is_empty() {
            let effects: Vec<(usize, EffectArgs)> = deleted
                .iter()
                .map(|(db, key)| (*db, EffectArgs::Built(expiry_deletion(params.lazy, key))))
                .collect();
            server.effects.append(&effects);
        }
        // Watchers and subscribers learn of the deletions while the shard is still held,
        // as with any write (a key already expired when watched is no change: it is gone
        // now).
        if !deleted.is_empty() && server.watched.any() {
            server.watched.touch(&deleted, |_, _| false);
        }
        if notify && !deleted.is_empty() {
            let events: Vec<crate::notify::Event> = deleted
                .iter()
                .map(|(db, key)| crate::notify::Event {
                    db: *db,
                    event: "expired",
                    key: key.clone(),
                })
                .collect();
            crate::notify::publish(server, &events);
        }
        drop(shard);
    }
    server
        .stats
        .expired_keys
        .fetch_add(expired_total, Ordering::Relaxed);
    resume_at
}

/// Samples every database of one shard, round after round while the sample was stale
/// enough and time is left. Returns how many keys were deleted.
fn expire_shard(
    shard: &mut Shard,
    rng: &mut rand::rngs::SmallRng,
    now: i64,
    params: &CycleParams,
    began: Instant,
    mut deleted: Option<&mut Vec<(usize, lodestone_store::Key)>>,
) -> u64 {
    let mut expired_total = 0u64;
    for (db_index, db) in shard.dbs.iter_mut().enumerate() {
        loop {
            let sample = db.sample_volatile(rng, params.keys_per_loop);
            if sample.is_empty() {
                break;
            }
            let mut expired = 0;
            for key in &sample {
                if db.get(key).is_some_and(|e| e.is_expired(now)) {
                    if let Some(entry) = db.remove(key) {
                        lazyfree::dispose(entry, || params.lazy);
                        expired += 1;
                        if let Some(deleted) = deleted.as_deref_mut() {
                            deleted.push((db_index, key.clone()));
                        }
                    }
                }
            }
            expired_total += expired as u64;
            if expired * 100 <= sample.len() * params.acceptable_stale_percent
                || began.elapsed() > params.budget
            {
                break;
            }
        }
    }
    expired_total
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cycle knobs scale with the effort exactly as Redis's do.
    #[test]
    fn params_follow_redis_scaling() {
        let p = CycleParams::new(1, Duration::from_millis(100), false);
        assert_eq!(p.keys_per_loop, 20);
        assert_eq!(p.acceptable_stale_percent, 10);
        assert_eq!(p.budget, Duration::from_millis(25));
        let p = CycleParams::new(10, Duration::from_millis(100), false);
        assert_eq!(p.keys_per_loop, 65);
        assert_eq!(p.acceptable_stale_percent, 1);
        assert_eq!(p.budget, Duration::from_millis(43));
        let p = CycleParams::new(0, Duration::from_millis(100), false);
        assert_eq!(p.keys_per_loop, 20);
    }
}
