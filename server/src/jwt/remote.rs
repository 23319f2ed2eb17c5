//! JWK sets fetched from a URL the app configures (`jwks_url`).
//!
//! - Fetched at start ([`Verifier::start`]), then every
//!   [`RemoteOptions::refresh_interval`], or as the response's
//!   `Cache-Control: max-age` says, clamped to [`RemoteOptions::max_age_bounds`].
//! - A token with an unknown kid makes [`Verifier::verify_fresh`] refresh
//!   once and retry, but fetches happen at most once per
//!   [`RemoteOptions::min_refresh_gap`], so a flood of made-up kids cannot
//!   hammer the site; concurrent callers share one fetch.
//! - A failed fetch (network, status other than 200, not JSON, a set that
//!   fails validation, a kid clashing with a local key) keeps the last good
//!   set and logs a warning. The whole set is refused when one key is bad:
//!   half-loading a set hides mistakes.
//! - The last good set is used for at most [`RemoteOptions::max_stale`]
//!   after it was fetched. Past that, while refreshes keep failing, tokens
//!   signed by its keys are refused with `jwks_unavailable`: a key the site
//!   removed during an outage does not stay valid forever. Scheduled
//!   refreshes come at least twice per `max_stale`.
//! - URLs are `https://`, or `http://` on a loopback host (checked at
//!   config load), and redirects never leave that: from https only to
//!   https, from loopback http only to loopback.
//!
//! This module is the fetcher and its state; `refresh.rs` puts it to work
//! for a [`Verifier`](super::Verifier). The synchronous
//! [`Verifier::verify`](super::Verifier::verify) never fetches; it reads
//! whatever set is current.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::keys::KeyRing;

/// How a JWKS URL is fetched and refreshed.
#[derive(Debug, Clone)]
pub struct RemoteOptions {
    /// Time between scheduled refreshes when the response has no max-age.
    pub refresh_interval: Duration,
    /// A response's max-age is clamped into this range.
    pub max_age_bounds: (Duration, Duration),
    /// Unknown-kid refreshes happen at most once per this interval.
    pub min_refresh_gap: Duration,
    /// Timeout of one fetch, connection included.
    pub timeout: Duration,
    /// Largest JWK set accepted.
    pub max_body_bytes: usize,
    /// How long after the last successful fetch the set still verifies.
    pub max_stale: Duration,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions {
            refresh_interval: Duration::from_secs(600),
            max_age_bounds: (Duration::from_secs(60), Duration::from_secs(3600)),
            min_refresh_gap: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            max_body_bytes: 256 * 1024,
            max_stale: Duration::from_secs(86_400),
        }
    }
}

/// The state of one JWKS URL.
pub(crate) struct RemoteJwks {
    pub(super) url: String,
    pub(super) options: RemoteOptions,
    client: reqwest::Client,
    /// Serializes fetches, so concurrent unknown kids share one.
    pub(super) fetch_lock: tokio::sync::Mutex<()>,
    /// When the last fetch started (successful or not).
    pub(super) last_attempt: Mutex<Option<Instant>>,
    /// When the last successful fetch completed.
    pub(super) last_success: Mutex<Option<Instant>>,
    /// When the next scheduled refresh is due, from max-age.
    pub(super) next_interval: Mutex<Duration>,
    /// Fetches started, for tests and metrics.
    pub(super) fetches: AtomicU64,
}

impl RemoteJwks {
    pub(crate) fn new(url: String, options: RemoteOptions) -> RemoteJwks {
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .redirect(redirect_policy())
            .build()
            .unwrap_or_default();
        let first_interval = options
            .refresh_interval
            .min((options.max_stale / 2).max(Duration::from_secs(1)));
        RemoteJwks {
            url,
            next_interval: Mutex::new(first_interval),
            options,
            client,
            fetch_lock: tokio::sync::Mutex::new(()),
            last_attempt: Mutex::new(None),
            last_success: Mutex::new(None),
            fetches: AtomicU64::new(0),
        }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// How old the last good set is; `None` when no fetch has succeeded.
    pub(crate) fn age(&self) -> Option<Duration> {
        self.last_success
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map(|at| at.elapsed())
    }

    /// Whether the remote keys may verify tokens: a fetch succeeded less
    /// than `max_stale` ago.
    pub(crate) fn is_fresh(&self) -> bool {
        self.age().is_some_and(|age| age <= self.options.max_stale)
    }

    pub(crate) fn max_stale(&self) -> Duration {
        self.options.max_stale
    }

    /// Fetches and validates the set; returns it with the max-age to wait.
    pub(super) async fn fetch(&self) -> Result<(KeyRing, Option<Duration>), String> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let mut response = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(format!("answered {} instead of 200", response.status()));
        }
        let max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_max_age);
        let limit = self.options.max_body_bytes;
        if response
            .content_length()
            .is_some_and(|len| len > limit as u64)
        {
            return Err(format!("key set is larger than {limit} bytes"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("reading the body failed: {e}"))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > limit {
                return Err(format!("key set is larger than {limit} bytes"));
            }
        }
        let ring = KeyRing::from_jwks_json(&body, &format!("jwks_url {}", self.url))
            .map_err(|e| e.message)?;
        Ok((ring, max_age))
    }
}

/// Follows at most 3 redirects, each allowed by [`redirect_allowed`].
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let Some(original) = attempt.previous().first() else {
            return attempt.stop();
        };
        if attempt.previous().len() > 3 {
            return attempt.error("more than 3 redirects");
        }
        if redirect_allowed(original, attempt.url()) {
            attempt.follow()
        } else {
            let why = format!(
                "refused a redirect from {original} to {}: a JWKS URL's redirects stay on https (or, from a loopback http URL, on loopback)",
                attempt.url()
            );
            attempt.error(why)
        }
    })
}

/// Whether a fetch of `original` may follow a redirect to `target`: from
/// https only to https; from a loopback http URL only to a loopback host.
pub(crate) fn redirect_allowed(original: &reqwest::Url, target: &reqwest::Url) -> bool {
    match original.scheme() {
        "https" => target.scheme() == "https",
        "http" => {
            is_loopback(original)
                && matches!(target.scheme(), "http" | "https")
                && is_loopback(target)
        }
        _ => false,
    }
}

/// Whether a URL's host is `localhost` or a loopback address.
pub(crate) fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

pub(crate) fn parse_max_age(cache_control: &str) -> Option<Duration> {
    cache_control.split(',').find_map(|directive| {
        let (name, value) = directive.trim().split_once('=')?;
        if name.trim().eq_ignore_ascii_case("max-age") {
            value
                .trim()
                .trim_matches('"')
                .parse()
                .ok()
                .map(Duration::from_secs)
        } else {
            None
        }
    })
}
