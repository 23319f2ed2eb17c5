//! Single-use tokens: remembering each `jti` until its token could no longer
//! be accepted anyway.
//!
//! The in-memory guard suits one server process. With several servers
//! (Postgres deployments) the server backs [`ReplayGuard`] with its database
//! instead: an `INSERT` into a table keyed by `(app_id, jti)`, where a
//! unique-constraint violation means a replay, and a periodic `DELETE` of
//! rows past `keep_until`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Records token ids and tells whether one was seen before.
pub trait ReplayGuard: Send + Sync {
    /// Records `jti` for `app_id` until `keep_until` (Unix seconds); returns
    /// `true` when it was not recorded yet (the token may be used) and
    /// `false` for a replay. Implementations must be atomic: of two
    /// concurrent calls with the same jti, exactly one returns `true`.
    fn check_and_record(&self, app_id: &str, jti: &str, keep_until: u64) -> bool;
}

/// A [`ReplayGuard`] in memory, forgetting entries once their `keep_until`
/// has passed. Memory is bounded by `capacity`: when full even after
/// forgetting expired entries, it refuses new tokens (fails closed) and logs
/// a warning, since accepting them would break the single-use promise.
pub struct MemoryReplayGuard {
    inner: Mutex<Seen>,
    capacity: usize,
    clock: fn() -> u64,
}

#[derive(Default)]
struct Seen {
    /// (app, jti) → keep_until.
    by_id: HashMap<(String, String), u64>,
    /// (keep_until, app, jti), to forget the oldest first.
    by_expiry: BTreeSet<(u64, String, String)>,
}

/// Default bound on remembered token ids (about 200 bytes each).
pub const DEFAULT_REPLAY_CAPACITY: usize = 1_000_000;

fn system_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Default for MemoryReplayGuard {
    fn default() -> Self {
        MemoryReplayGuard::new(DEFAULT_REPLAY_CAPACITY)
    }
}

impl MemoryReplayGuard {
    /// A guard remembering at most `capacity` token ids, on the system clock.
    pub fn new(capacity: usize) -> Self {
        MemoryReplayGuard {
            inner: Mutex::new(Seen::default()),
            capacity,
            clock: system_now,
        }
    }

    /// The same with a clock of your choosing (tests).
    pub fn with_clock(capacity: usize, clock: fn() -> u64) -> Self {
        MemoryReplayGuard {
            inner: Mutex::new(Seen::default()),
            capacity,
            clock,
        }
    }

    /// How many token ids are remembered now.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_id
            .len()
    }

    /// Whether no token id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ReplayGuard for MemoryReplayGuard {
    fn check_and_record(&self, app_id: &str, jti: &str, keep_until: u64) -> bool {
        let now = (self.clock)();
        // A poisoned lock only means another thread panicked mid-insert; the
        // maps are still consistent enough to refuse replays.
        let mut seen = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // Forget everything whose token can no longer be accepted.
        while let Some(first) = seen.by_expiry.first() {
            if first.0 >= now {
                break;
            }
            let (_, app, id) = seen.by_expiry.pop_first().expect("first exists");
            seen.by_id.remove(&(app, id));
        }
        let id = (app_id.to_owned(), jti.to_owned());
        if seen.by_id.contains_key(&id) {
            return false;
        }
        if seen.by_id.len() >= self.capacity {
            tracing::warn!(
                capacity = self.capacity,
                "replay guard is full; refusing single-use tokens until entries expire"
            );
            return false;
        }
        seen.by_expiry
            .insert((keep_until, id.0.clone(), id.1.clone()));
        seen.by_id.insert(id, keep_until);
        true
    }
}
