//! Lazy freeing: values removed from the keyspace by UNLINK, FLUSHDB/FLUSHALL ASYNC and
//! the `lazyfree-lazy-*` options are dropped on one background thread, so the command
//! that removed them (and the shard locks it holds) does not wait for millions of
//! deallocations.
//!
//! As in Redis, only garbage that is expensive to free goes to the thread: handing a small
//! value over costs more than freeing it. The cost is estimated in allocations
//! ([`free_effort`]); whole databases always go. The thread is started on first use and
//! lives for the process; the counters feed INFO (`lazyfree_pending_objects`,
//! `lazyfreed_objects`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::OnceLock;

use lodestone_store::{Entry, Value};

/// Above this effort a value is freed in the background (Redis's `LAZYFREE_THRESHOLD`).
pub const LAZYFREE_THRESHOLD: usize = 64;

/// A string costs one unit of effort per this many bytes: unmapping a huge buffer takes
/// time even though it is a single allocation, so very large strings go too.
const STRING_BYTES_PER_UNIT: usize = 64 * 1024;

/// Something to drop off the request path, and how many objects it holds.
struct Job {
    garbage: Box<dyn Send>,
    objects: u64,
}

static QUEUE: OnceLock<Option<Sender<Job>>> = OnceLock::new();
static PENDING: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);

/// Objects handed to the background thread and not yet freed.
pub fn pending_objects() -> u64 {
    PENDING.load(Ordering::Relaxed)
}

/// Objects the background thread has freed since the process started.
pub fn freed_objects() -> u64 {
    FREED.load(Ordering::Relaxed)
}

/// Roughly how many allocations freeing `value` takes.
pub fn free_effort(value: &Value) -> usize {
    match value {
        Value::Str(s) => 1 + s.len() / STRING_BYTES_PER_UNIT,
        // As Redis counts it: one unit per quicklist node, one per element of a
        // hashtable or skiplist, one for a whole packed encoding.
        Value::List(l) => 1 + l.len() / 128,
        Value::Hash(_) | Value::Set(_) | Value::ZSet(_) if is_packed(value) => 1,
        Value::Hash(h) => h.len(),
        Value::Set(s) => s.len(),
        Value::ZSet(z) => z.len(),
        // One per node, plus each group's pending entries (Redis counts the same).
        Value::Stream(s) => {
            1 + s.node_count() + s.groups.values().map(|g| 1 + g.pel.len()).sum::<usize>()
        }
    }
}

fn is_packed(value: &Value) -> bool {
    matches!(value.encoding(), "listpack" | "intset")
}

/// Frees a removed entry: in the background when it is expensive, here otherwise.
pub fn free_entry(entry: Entry) {
    dispose(entry, || true);
}

/// Frees a removed entry in the background if it is expensive and `lazy()` says this
/// removal may be lazy (UNLINK: always; DEL: `lazyfree-lazy-user-del`...). `lazy` is only
/// asked for expensive entries, so the common small delete never reads the config.
pub fn dispose(entry: Entry, lazy: impl FnOnce() -> bool) {
    if free_effort(&entry.value) > LAZYFREE_THRESHOLD && lazy() {
        free_later(entry, 1);
    }
}

/// Drops `garbage` (holding `objects` objects) on the background thread. Falls back to
/// dropping it here if the thread could not be started.
pub fn free_later<T: Send + 'static>(garbage: T, objects: u64) {
    let Some(queue) = QUEUE.get_or_init(start_thread) else {
        return;
    };
    PENDING.fetch_add(objects, Ordering::Relaxed);
    let job = Job {
        garbage: Box::new(garbage),
        objects,
    };
    // A send fails only if the thread died; the job then comes back and drops here.
    if let Err(failed) = queue.send(job) {
        PENDING.fetch_sub(failed.0.objects, Ordering::Relaxed);
    }
}

fn start_thread() -> Option<Sender<Job>> {
    let (tx, rx) = channel::<Job>();
    let spawned = std::thread::Builder::new()
        .name("lodestone-lazyfree".into())
        .spawn(move || {
            for job in rx {
                let objects = job.objects;
                drop(job.garbage);
                PENDING.fetch_sub(objects, Ordering::Relaxed);
                FREED.fetch_add(objects, Ordering::Relaxed);
            }
        });
    match spawned {
        Ok(_) => Some(tx),
        Err(e) => {
            tracing::warn!("Could not start the lazyfree thread, freeing inline: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lodestone_store::StrValue;
    use std::time::{Duration, Instant};

    /// Background jobs are freed and counted, and small values are never queued.
    #[test]
    fn frees_in_background_and_counts() {
        let before = freed_objects();
        free_later(vec![0u8; 1024], 3);
        let small = Entry::new(Value::Str(StrValue::from_bytes(b"small")));
        assert_eq!(free_effort(&small.value), 1);
        free_entry(small);
        let big = Entry::new(Value::Str(StrValue::raw(vec![0; 8 << 20])));
        assert!(free_effort(&big.value) > LAZYFREE_THRESHOLD);
        free_entry(big);
        let deadline = Instant::now() + Duration::from_secs(5);
        while freed_objects() < before + 4 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(freed_objects() >= before + 4);
    }
}
