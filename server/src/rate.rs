//! How much, how often and how many at once: every rate limit of the
//! server, each a token bucket per key (GCRA, from the `governor` crate)
//! in a map that cannot grow without bound.
//!
//! - [`SendLimiter`]: messages per session.
//! - [`LoginLimiter`]: agent login attempts per client address, per
//!   (email, address) and per email.
//! - [`AddressLimits`]: session creations, WebSocket connects and
//!   unauthenticated sockets per client address, and the agent logins
//!   allowed to check a password at once ([`PasswordChecks`]).
//!
//! Every keyed limiter is a [`KeyedLimiter`]: its map holds at most a set
//! number of keys, forgetting the least recently used beyond that, and a
//! refused attempt never adds a key. Forgetting a key only ever makes that
//! key's next attempt look fresh (lenient), so under a flood of made-up
//! keys memory stays flat and nobody is locked out by the flood itself.
//!
//! Buckets live in memory: a restart forgives everyone, which costs nothing
//! worth a database write per request. With several servers each has its
//! own buckets; the limits are against floods and guessing, not accounting.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::nanos::Nanos;
use governor::state::keyed::ShrinkableKeyedStateStore;
use governor::state::StateStore;
use governor::{Quota, RateLimiter};
use hashlink::LruCache;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use trustchat_protocol::validate::MAX_EMAIL_LEN;

use crate::config::{AgentConfig, LimitsConfig};
use crate::proxy::AddrKey;

/// A token bucket per key whose map holds at most `max_keys` keys.
#[derive(Debug)]
pub struct KeyedLimiter<K: Hash + Eq + Clone> {
    /// governor's GCRA over our bounded store.
    limiter: RateLimiter<K, BoundedStore<K>, DefaultClock>,
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    /// `per_minute` sustained and `burst` at once per key (each at least
    /// 1), remembering at most `max_keys` keys (at least 1).
    pub fn new(per_minute: u32, burst: u32, max_keys: usize) -> KeyedLimiter<K> {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let store = BoundedStore::new(max_keys);
        KeyedLimiter {
            limiter: RateLimiter::new(
                Quota::per_minute(per_minute).allow_burst(burst),
                store,
                DefaultClock::default(),
            ),
        }
    }

    /// Takes one token from the key's bucket; when it is empty, `Err` with
    /// the whole seconds (at least 1) until the next one.
    pub fn check(&self, key: &K) -> Result<(), u64> {
        self.limiter
            .check_key(key)
            .map_err(|not_until| retry_secs(not_until.wait_time_from(self.limiter.clock().now())))
    }

    /// How many keys the map holds now.
    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.limiter.is_empty()
    }

    /// Forgets keys whose buckets are full again (they would start full
    /// anyway), so memory follows the active keys; call it every minute.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
    }
}

/// governor's state per key in an LRU map of bounded size. A check that is
/// refused does not insert its key (governor's own stores do, which let
/// refused requests with made-up keys grow the map).
#[derive(Debug)]
struct BoundedStore<K: Hash + Eq> {
    /// Key → theoretical arrival time of its next token, in governor's
    /// nanoseconds.
    map: Mutex<LruCache<K, u64>>,
}

impl<K: Hash + Eq> BoundedStore<K> {
    fn new(max_keys: usize) -> BoundedStore<K> {
        BoundedStore {
            map: Mutex::new(LruCache::new(max_keys.max(1))),
        }
    }

    fn lock(&self) -> MutexGuard<'_, LruCache<K, u64>> {
        // A panic while holding the lock leaves a consistent map.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<K: Hash + Eq + Clone> StateStore for BoundedStore<K> {
    type Key = K;

    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let mut map = self.lock();
        // `get` marks the key used: a key under attack stays in the map.
        let previous = map.get(key).copied().map(Nanos::new);
        let (outcome, next) = f(previous)?;
        // Beyond capacity, `insert` drops the least recently used key.
        map.insert(key.clone(), next.as_u64());
        Ok(outcome)
    }
}

impl<K: Hash + Eq + Clone> ShrinkableKeyedStateStore<K> for BoundedStore<K> {
    fn retain_recent(&self, drop_below: Nanos) {
        let drop_below = drop_below.as_u64();
        self.lock().retain(|_, at| *at >= drop_below);
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

/// Per-session message rate limits.
#[derive(Debug)]
pub struct SendLimiter {
    /// One bucket per session id.
    buckets: KeyedLimiter<String>,
}

/// Sessions whose send buckets are remembered at once; beyond it the
/// least recently active session's bucket is forgotten (it starts full).
const MAX_SEND_BUCKETS: usize = 1_000_000;

impl SendLimiter {
    /// `per_minute` sustained, `burst` at once (both at least 1).
    pub fn new(per_minute: u32, burst: u32) -> SendLimiter {
        SendLimiter {
            buckets: KeyedLimiter::new(per_minute, burst, MAX_SEND_BUCKETS),
        }
    }

    /// Takes one message from the session's bucket; when it is empty,
    /// `Err` with the whole seconds (at least 1) until the next message is
    /// allowed.
    pub fn check(&self, session_id: &str) -> Result<(), u64> {
        self.buckets.check(&session_id.to_owned())
    }

    /// Forgets sessions whose buckets are full again, so memory follows
    /// the active sessions; call it every minute or so.
    pub fn forget_idle(&self) {
        self.buckets.forget_idle();
    }
}

/// Agent login attempts. Three buckets, checked in this order, and a
/// refusal by one leaves the later ones untouched:
///
/// 1. per client address (`login_attempts_per_ip_per_minute`): one
///    machine guessing across many emails is slow;
/// 2. per (email, address) (`login_attempts_per_email_and_ip_per_minute`):
///    one machine guessing one agent's password is slow;
/// 3. per email, from everywhere (`login_attempts_per_email_per_minute`,
///    much higher): a crowd of machines guessing one password is slow too.
///    An address the agent has logged in from before is exempt from this
///    one, so a stranger hammering an agent's email from elsewhere locks
///    out the stranger, never the agent at their usual desk.
///
/// Every attempt counts, right or wrong, so an answer never depends on
/// whether the password was right; a real agent logs in a few times a day.
/// Emails over 254 bytes are refused before any bucket is touched.
#[derive(Debug)]
pub struct LoginLimiter {
    /// One bucket per client address.
    by_address: KeyedLimiter<Option<AddrKey>>,
    /// One bucket per (folded email, client address).
    by_email_address: KeyedLimiter<(String, Option<AddrKey>)>,
    /// One bucket per folded email.
    by_email: KeyedLimiter<String>,
    /// (folded email, address) pairs that logged in successfully.
    known: Mutex<LruCache<(String, Option<AddrKey>), ()>>,
}

impl LoginLimiter {
    /// The limiter of the `[agent]` table.
    pub fn new(config: &AgentConfig) -> LoginLimiter {
        let max = config.login_max_tracked_keys;
        let (per_ip, per_pair, per_email) = (
            config.login_attempts_per_ip_per_minute,
            config.login_attempts_per_email_and_ip_per_minute,
            config.login_attempts_per_email_per_minute,
        );
        LoginLimiter {
            by_address: KeyedLimiter::new(per_ip, per_ip, max),
            by_email_address: KeyedLimiter::new(per_pair, per_pair, max),
            by_email: KeyedLimiter::new(per_email, per_email, max),
            known: Mutex::new(LruCache::new(max.max(1))),
        }
    }

    /// Takes one attempt for `email` from the client address `ip` (`None`
    /// for requests that came over no socket, which share one bucket);
    /// `Err` with whole seconds to wait when a bucket is empty.
    pub fn check(&self, email: &str, ip: Option<&str>) -> Result<(), u64> {
        if email.len() > MAX_EMAIL_LEN {
            // No valid email is this long: refuse without recording a key.
            return Err(60);
        }
        let email = fold(email);
        let address = address_key(ip);
        self.by_address.check(&address)?;
        let pair = (email, address);
        self.by_email_address.check(&pair)?;
        if self.is_known(&pair) {
            return Ok(());
        }
        self.by_email.check(&pair.0)
    }

    /// Remembers that `email` logged in from `ip`: later attempts from
    /// there skip the per-email ceiling.
    pub fn succeeded(&self, email: &str, ip: Option<&str>) {
        if email.len() > MAX_EMAIL_LEN {
            return;
        }
        let pair = (fold(email), address_key(ip));
        self.known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(pair, ());
    }

    fn is_known(&self, pair: &(String, Option<AddrKey>)) -> bool {
        self.known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(pair)
            .is_some()
    }

    /// Keys held, over all maps (for tests and metrics).
    pub fn tracked_keys(&self) -> usize {
        self.by_address.len()
            + self.by_email_address.len()
            + self.by_email.len()
            + self.known.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Forgets keys whose buckets are full again.
    pub fn forget_idle(&self) {
        self.by_address.forget_idle();
        self.by_email_address.forget_idle();
        self.by_email.forget_idle();
    }
}

/// An email as the limiter counts it: trimmed, ASCII letters folded (as
/// `validate::email` stores it; Unicode folding would merge distinct
/// addresses, see there).
fn fold(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

fn address_key(ip: Option<&str>) -> Option<AddrKey> {
    ip.and_then(|ip| ip.parse::<IpAddr>().ok()).map(AddrKey::of)
}

/// Per-address limits of the customer side, and how many agent logins may
/// check a password at once.
#[derive(Debug)]
pub struct AddressLimits {
    /// `POST /api/v1/apps/{id}/sessions` per client address.
    pub sessions: KeyedLimiter<Option<AddrKey>>,
    /// `GET /api/v1/ws` per client address.
    pub ws_connects: KeyedLimiter<Option<AddrKey>>,
    /// Upgraded WebSockets that have not sent their first frame, per
    /// client address.
    pub unauthenticated: SocketSlots,
    /// Agent logins checking a password (argon2, 19 MiB each) at once.
    pub password_checks: PasswordChecks,
}

impl AddressLimits {
    /// The limits of the `[limits]` and `[agent]` tables.
    pub fn new(limits: &LimitsConfig, agent: &AgentConfig) -> AddressLimits {
        let max = limits.max_tracked_addresses;
        AddressLimits {
            sessions: KeyedLimiter::new(
                limits.sessions_per_minute_per_address,
                limits.session_burst_per_address,
                max,
            ),
            ws_connects: KeyedLimiter::new(
                limits.ws_connects_per_minute_per_address,
                limits.ws_connect_burst_per_address,
                max,
            ),
            unauthenticated: SocketSlots::new(limits.unauthenticated_sockets_per_address),
            password_checks: PasswordChecks::new(
                agent.login_concurrent_password_checks,
                Duration::from_millis(agent.login_queue_timeout_ms),
            ),
        }
    }

    /// Forgets addresses whose buckets are full again.
    pub fn forget_idle(&self) {
        self.sessions.forget_idle();
        self.ws_connects.forget_idle();
    }
}

/// A count per key of things open at once (sockets), each held by a
/// [`Slot`] that gives it back on drop. A key leaves the map when its count
/// is back at zero, so the map never holds more keys than there are open
/// things (and those are capped by `server.max_connections`).
#[derive(Debug, Clone)]
pub struct SocketSlots {
    /// The most per key.
    max_per_key: u32,
    /// Open things per key; no zero counts.
    open: Arc<Mutex<HashMap<Option<AddrKey>, u32>>>,
}

impl SocketSlots {
    /// At most `max_per_key` (at least 1) per key.
    pub fn new(max_per_key: u32) -> SocketSlots {
        SocketSlots {
            max_per_key: max_per_key.max(1),
            open: Arc::default(),
        }
    }

    /// Takes a slot for `key`, or `None` when it has all it may.
    pub fn take(&self, key: Option<AddrKey>) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(key).or_insert(0);
        if *count >= self.max_per_key {
            return None;
        }
        *count += 1;
        Some(Slot {
            slots: self.clone(),
            key,
        })
    }

    /// Keys with at least one open slot.
    pub fn keys(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// One taken slot of a [`SocketSlots`]; dropping it gives it back.
#[derive(Debug)]
pub struct Slot {
    /// Where it came from.
    slots: SocketSlots,
    /// Whose it is.
    key: Option<AddrKey>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// At most a few password checks at once: each argon2 verification takes
/// 19 MiB and a core for tens of milliseconds, so a storm of logins would
/// otherwise take memory without bound. Logins beyond the permits queue;
/// one that waits longer than the queue timeout, or finds as many waiting
/// as [`PasswordChecks::MAX_WAITING_PER_PERMIT`] per permit, is told the
/// server is busy.
#[derive(Debug)]
pub struct PasswordChecks {
    /// One permit per check allowed at once.
    permits: Arc<Semaphore>,
    /// The number of permits.
    max: usize,
    /// Logins waiting for a permit now.
    waiting: AtomicUsize,
    /// The longest a login waits for a permit.
    queue_timeout: Duration,
}

/// A login that found the password checks busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl PasswordChecks {
    /// How many may wait per permit before more are turned away at once.
    pub const MAX_WAITING_PER_PERMIT: usize = 32;

    /// `max` checks at once (at least 1), waiting at most `queue_timeout`.
    pub fn new(max: usize, queue_timeout: Duration) -> PasswordChecks {
        let max = max.max(1);
        PasswordChecks {
            permits: Arc::new(Semaphore::new(max)),
            max,
            waiting: AtomicUsize::new(0),
            queue_timeout,
        }
    }

    /// Waits for a permit (in arrival order) for at most the queue timeout.
    pub async fn acquire(&self) -> Result<OwnedSemaphorePermit, Busy> {
        if let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() {
            return Ok(permit);
        }
        let waiting = self.waiting.fetch_add(1, Ordering::SeqCst);
        let _leave = Leave(&self.waiting);
        if waiting >= self.max.saturating_mul(Self::MAX_WAITING_PER_PERMIT) {
            return Err(Busy);
        }
        match tokio::time::timeout(
            self.queue_timeout,
            Arc::clone(&self.permits).acquire_owned(),
        )
        .await
        {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Busy),
        }
    }

    /// Checks running now.
    pub fn in_use(&self) -> usize {
        self.max - self.permits.available_permits()
    }

    /// Logins waiting for a check now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// The number of checks allowed at once.
    pub fn max(&self) -> usize {
        self.max
    }
}

/// Counts a waiter out when its wait ends, however it ends.
struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whole seconds to tell a client to wait, at least 1.
pub fn retry_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent_config(per_ip: u32, per_pair: u32, per_email: u32, max_keys: usize) -> AgentConfig {
        AgentConfig {
            login_attempts_per_ip_per_minute: per_ip,
            login_attempts_per_email_and_ip_per_minute: per_pair,
            login_attempts_per_email_per_minute: per_email,
            login_max_tracked_keys: max_keys,
            ..AgentConfig::default()
        }
    }

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
    fn a_keyed_limiter_holds_at_most_its_keys_and_refusals_add_none() {
        let limiter: KeyedLimiter<String> = KeyedLimiter::new(1, 1, 100);
        for i in 0..10_000 {
            let _ = limiter.check(&format!("made-up-{i}"));
        }
        assert_eq!(
            limiter.len(),
            100,
            "a flood of keys keeps the map at its cap"
        );

        // A hammered key stays (it is the most recently used) and stays
        // refused while other keys churn through the map.
        let limiter: KeyedLimiter<String> = KeyedLimiter::new(1, 1, 10);
        assert_eq!(limiter.check(&"victim".to_owned()), Ok(()));
        for i in 0..100 {
            assert!(limiter.check(&"victim".to_owned()).is_err());
            let _ = limiter.check(&format!("churn-{i}"));
        }
        assert!(limiter.len() <= 10);

        // A refused check does not insert: the only way to be refused is
        // an existing key, so count the inserts of refused keys directly.
        let store: BoundedStore<&str> = BoundedStore::new(10);
        let refused: Result<(), ()> = store.measure_and_replace(&"k", |_| Err(()));
        assert!(refused.is_err());
        assert_eq!(ShrinkableKeyedStateStore::len(&store), 0);
    }

    #[test]
    fn logins_are_limited_per_address_per_email_and_address_and_per_email() {
        let limiter = LoginLimiter::new(&agent_config(4, 2, 3, 1000));
        let ip = |n: u8| format!("198.51.100.{n}");
        // Per (email, address): 2, case folded.
        assert_eq!(limiter.check("a@x.io", Some(&ip(1))), Ok(()));
        assert_eq!(limiter.check("A@x.io ", Some(&ip(1))), Ok(()));
        assert!(limiter.check("a@x.io", Some(&ip(1))).is_err());
        // Per email from anywhere: the third attempt (another address) is
        // the last the ceiling allows.
        assert_eq!(limiter.check("a@x.io", Some(&ip(2))), Ok(()));
        assert!(limiter.check("a@x.io", Some(&ip(3))).is_err(), "ceiling");
        // Per address: 4 whatever the email (1.1 used 3 so far).
        assert_eq!(limiter.check("b@x.io", Some(&ip(1))), Ok(()));
        assert!(limiter.check("c@x.io", Some(&ip(1))).is_err());
        // The Kelvin sign is not a `k`: its own bucket.
        assert_eq!(limiter.check("\u{212A}@x.io", Some(&ip(9))), Ok(()));
    }

    #[test]
    fn an_address_the_agent_logged_in_from_skips_the_email_ceiling() {
        let limiter = LoginLimiter::new(&agent_config(100, 5, 2, 1000));
        let agent = Some("203.0.113.5");
        assert_eq!(limiter.check("ada@x.io", agent), Ok(()));
        limiter.succeeded("ada@x.io", agent);
        // A stranger exhausts the email's ceiling from elsewhere...
        for n in 0..10 {
            let _ = limiter.check("ada@x.io", Some(&format!("198.51.100.{n}")));
        }
        assert!(limiter.check("ada@x.io", Some("198.51.100.99")).is_err());
        // ...and the agent still gets in from their own address.
        assert_eq!(limiter.check("ada@x.io", agent), Ok(()));
    }

    #[test]
    fn login_maps_stay_bounded_under_made_up_emails() {
        let limiter = LoginLimiter::new(&agent_config(1_000_000, 5, 100, 500));
        for i in 0..20_000 {
            let email = format!("{i}-{}@x.io", "e".repeat(200));
            let _ = limiter.check(&email, Some("198.51.100.1"));
        }
        assert!(
            limiter.tracked_keys() <= 1 + 500 + 500,
            "{} keys",
            limiter.tracked_keys()
        );
        // Over-long emails never reach a map.
        let before = limiter.tracked_keys();
        let long = format!("{}@x.io", "a".repeat(15_000));
        assert!(limiter.check(&long, Some("198.51.100.2")).is_err());
        assert_eq!(limiter.tracked_keys(), before);
    }

    #[test]
    fn socket_slots_count_per_key_and_forget_empty_keys() {
        let slots = SocketSlots::new(2);
        let a = Some(AddrKey::of("198.51.100.1".parse().unwrap()));
        let b = Some(AddrKey::of("198.51.100.2".parse().unwrap()));
        let first = slots.take(a).unwrap();
        let second = slots.take(a).unwrap();
        assert!(slots.take(a).is_none(), "two per address");
        let other = slots.take(b).unwrap();
        assert_eq!(slots.keys(), 2);
        drop(first);
        let third = slots.take(a).unwrap();
        drop((second, third, other));
        assert_eq!(slots.keys(), 0, "no key stays once its sockets are gone");
    }

    #[tokio::test(start_paused = true)]
    async fn password_checks_run_a_few_at_once_and_the_rest_wait_then_give_up() {
        let checks = Arc::new(PasswordChecks::new(2, Duration::from_secs(5)));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (checks, running, most) = (checks.clone(), running.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = checks.acquire().await?;
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                // One check: tens of milliseconds of argon2.
                tokio::time::sleep(Duration::from_millis(100)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                Ok::<(), Busy>(())
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), Ok(()), "20 × 100 ms / 2 fits in 5 s");
        }
        assert_eq!(most.load(Ordering::SeqCst), 2, "never more than 2 at once");
        assert_eq!(checks.in_use(), 0);

        // Held permits: a waiter gives up after the queue timeout.
        let held = (
            checks.acquire().await.unwrap(),
            checks.acquire().await.unwrap(),
        );
        let started = tokio::time::Instant::now();
        assert_eq!(checks.acquire().await.unwrap_err(), Busy);
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        // And beyond the queue's length, at once.
        let mut waiting = Vec::new();
        for _ in 0..2 * PasswordChecks::MAX_WAITING_PER_PERMIT {
            let checks = checks.clone();
            waiting.push(tokio::spawn(
                async move { checks.acquire().await.map(drop) },
            ));
        }
        let queue = 2 * PasswordChecks::MAX_WAITING_PER_PERMIT;
        while checks.waiting() < queue {
            tokio::task::yield_now().await;
        }
        let started = tokio::time::Instant::now();
        assert_eq!(checks.acquire().await.unwrap_err(), Busy);
        assert_eq!(started.elapsed(), Duration::ZERO, "refused without waiting");
        drop(held);
        for task in waiting {
            let _ = task.await.unwrap();
        }
    }
}
