//! Single-use tokens: remembering each `jti` until its token could no longer
//! be accepted anyway.
//!
//! The server backs [`ReplayGuard`] with its database (`AppState`'s
//! `StoreReplayGuard`): an `INSERT` into a table keyed by `(app_id, jti)`
//! that finds the row already there means a replay, so a token used on one
//! server is refused on every other. [`MemoryReplayGuard`] is the same
//! contract in one process's memory, for tests and tools.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

/// Records token ids and tells whether one was seen before.
#[async_trait::async_trait]
pub trait ReplayGuard: Send + Sync {
    /// Records `jti` for `app_id` until `keep_until` (Unix seconds);
    /// `Ok(true)` when it was not recorded yet (the token may be used),
    /// `Ok(false)` for a replay, `Err` when the guard cannot tell (the token
    /// is then refused: single use fails closed). Implementations must be
    /// atomic: of two concurrent calls with the same jti, exactly one gets
    /// `true`.
    async fn remember(&self, app_id: &str, jti: &str, keep_until: u64)
        -> Result<bool, Unavailable>;
}

/// The replay guard could not record a token id (its database failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable;

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
            clock: crate::clock::now_unix,
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

#[async_trait::async_trait]
impl ReplayGuard for MemoryReplayGuard {
    async fn remember(
        &self,
        app_id: &str,
        jti: &str,
        keep_until: u64,
    ) -> Result<bool, Unavailable> {
        Ok(self.check_and_record(app_id, jti, keep_until))
    }
}

impl MemoryReplayGuard {
    /// [`ReplayGuard::remember`], synchronously.
    pub fn check_and_record(&self, app_id: &str, jti: &str, keep_until: u64) -> bool {
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
