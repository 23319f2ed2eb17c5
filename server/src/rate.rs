//! [`SendLimiter`]: how many messages a session may send.
//!
//! A token bucket per session (GCRA, from the `governor` crate): a burst of
//! `message_burst` messages, refilled at `messages_per_minute`. It lives in
//! memory: a restart forgives everyone, which costs nothing worth a
//! database write per message. With several servers each has its own
//! buckets, so a session spread over them could send a little more; the
//! limit is against runaway clients, not an accounting.

use std::num::NonZeroU32;

use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Per-session message rate limits.
#[derive(Debug)]
pub struct SendLimiter {
    /// One bucket per session id.
    buckets: DefaultKeyedRateLimiter<String>,
}

impl SendLimiter {
    /// `per_minute` sustained, `burst` at once (both at least 1).
    pub fn new(per_minute: u32, burst: u32) -> SendLimiter {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        SendLimiter {
            buckets: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
        }
    }

    /// Takes one message from the session's bucket; when it is empty,
    /// `Err` with the whole seconds (at least 1) until the next message is
    /// allowed.
    pub fn check(&self, session_id: &str) -> Result<(), u64> {
        self.buckets.check_key(&session_id.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.buckets.clock().now());
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }

    /// Forgets sessions whose buckets are full again, so memory follows
    /// the active sessions; call it every minute or so.
    pub fn forget_idle(&self) {
        self.buckets.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_refusals_with_a_wait() {
        let limiter = SendLimiter::new(60, 3);
        for _ in 0..3 {
            assert_eq!(limiter.check("s1"), Ok(()));
        }
        let wait = limiter.check("s1").unwrap_err();
        assert!((1..=1).contains(&wait), "60/min refills one per second, got {wait}");
        assert_eq!(limiter.check("s2"), Ok(()), "sessions have their own buckets");
    }
}
