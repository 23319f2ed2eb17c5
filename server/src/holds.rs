//! Conversations held for a login (a rule's `hold_for_login_secs`) are
//! routed when their hold runs out: [`Holds`] remembers the deadlines this
//! server set and wakes the queue's hand-out at each. (The heartbeat hands
//! the queue out too, so a hold set by a server that stopped still ends,
//! within a heartbeat.)

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;

use crate::clock;

/// The pending deadlines, Unix milliseconds.
#[derive(Debug, Default)]
pub struct Holds {
    deadlines: Mutex<BTreeSet<i64>>,
    changed: Notify,
}

impl Holds {
    /// Wake the hand-out at `at_ms`.
    pub fn add(&self, at_ms: i64) {
        self.deadlines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(at_ms);
        self.changed.notify_one();
    }

    /// Returns once the earliest deadline has passed (forgetting every
    /// deadline that has).
    pub async fn next_due(&self) {
        loop {
            let next = self
                .deadlines
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .first()
                .copied();
            let Some(next) = next else {
                self.changed.notified().await;
                continue;
            };
            let wait = u64::try_from(next - clock::now_ms()).unwrap_or(0);
            if wait > 0 {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(wait)) => {}
                    () = self.changed.notified() => continue,
                }
            }
            let now = clock::now_ms();
            let mut deadlines = self
                .deadlines
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let later = deadlines.split_off(&(now + 1));
            *deadlines = later;
            return;
        }
    }
}
