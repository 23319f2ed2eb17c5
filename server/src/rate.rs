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
        self.buckets
            .check_key(&session_id.to_owned())
            .map_err(|not_until| {
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

/// Agent login attempts, per email and per client IP: a password
/// guesser is slowed down whichever of the two they vary. Every attempt
/// counts, right or wrong, so an answer never depends on whether the
/// password was right; a real agent logs in a few times a day.
#[derive(Debug)]
pub struct LoginLimiter {
    /// One bucket per lowercased email.
    emails: DefaultKeyedRateLimiter<String>,
    /// One bucket per client IP.
    ips: DefaultKeyedRateLimiter<String>,
}

impl LoginLimiter {
    /// `per_email` and `per_ip` attempts a minute (at least 1), each also
    /// the burst.
    pub fn new(per_email: u32, per_ip: u32) -> LoginLimiter {
        let quota = |n: u32| {
            let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
            Quota::per_minute(n).allow_burst(n)
        };
        LoginLimiter {
            emails: RateLimiter::keyed(quota(per_email)),
            ips: RateLimiter::keyed(quota(per_ip)),
        }
    }

    /// Takes one attempt from the email's and the IP's buckets (the IP is
    /// unknown for requests that did not come over a socket); `Err` with
    /// whole seconds to wait when either is empty.
    pub fn check(&self, email: &str, ip: Option<&str>) -> Result<(), u64> {
        let wait = |limiter: &DefaultKeyedRateLimiter<String>, key: String| {
            limiter.check_key(&key).map_err(|not_until| {
                let wait = not_until.wait_time_from(limiter.clock().now());
                (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
            })
        };
        let by_ip = ip.map_or(Ok(()), |ip| wait(&self.ips, ip.to_owned()));
        let by_email = wait(&self.emails, email.trim().to_lowercase());
        by_ip.and(by_email)
    }

    /// Forgets keys whose buckets are full again.
    pub fn forget_idle(&self) {
        self.emails.retain_recent();
        self.ips.retain_recent();
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
        assert!(
            (1..=1).contains(&wait),
            "60/min refills one per second, got {wait}"
        );
        assert_eq!(
            limiter.check("s2"),
            Ok(()),
            "sessions have their own buckets"
        );
    }

    #[test]
    fn logins_are_limited_per_email_and_per_ip() {
        let limiter = LoginLimiter::new(2, 3);
        assert_eq!(limiter.check("a@x.io", Some("1.1.1.1")), Ok(()));
        assert_eq!(limiter.check("A@x.io ", Some("1.1.1.1")), Ok(()));
        assert!(
            limiter.check("a@x.io", Some("2.2.2.2")).is_err(),
            "the email's bucket is empty"
        );
        assert_eq!(limiter.check("b@x.io", Some("1.1.1.1")), Ok(()));
        assert!(
            limiter.check("c@x.io", Some("1.1.1.1")).is_err(),
            "the IP's bucket is empty"
        );
        assert_eq!(limiter.check("d@x.io", None), Ok(()));
    }
}
