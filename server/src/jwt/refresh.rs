//! A [`Verifier`]'s remote key set at work: fetched when the verifier
//! starts, refreshed on schedule and for an unknown kid (the rules are in
//! [`super::remote`]'s documentation).
//!
//! The modules of `jwt` depend one way: `config` builds `verify`'s
//! [`Verifier`] with `remote`'s fetcher; this module, above them all, starts
//! it.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::config::IdentityConfig;
use super::keys::KeyError;
use super::remote::{RemoteJwks, RemoteOptions};
use super::verify::Verifier;

impl Verifier {
    /// Loads an app's identity config, fetches its JWKS URL once (a failure
    /// is logged, not fatal: the site may be briefly down, and local keys
    /// still work) and spawns the scheduled refresher. Needs a Tokio runtime.
    pub async fn start(
        config: &IdentityConfig,
        app_id: &str,
        base_dir: &std::path::Path,
        options: RemoteOptions,
    ) -> Result<Arc<Verifier>, KeyError> {
        let verifier = Arc::new(config.verifier(
            app_id,
            base_dir,
            |name| std::env::var(name).ok(),
            options,
        )?);
        if verifier.remote.is_some() {
            let _ = verifier.refresh_now().await;
            verifier.spawn_refresher();
        }
        Ok(verifier)
    }

    /// Fetches the JWKS URL now and swaps the new set in. On failure keeps
    /// the last good set, logs a warning and returns the reason. `Ok` and a
    /// no-op when the app has no URL.
    pub async fn refresh_now(&self) -> Result<(), String> {
        let Some(remote) = &self.remote else {
            return Ok(());
        };
        let _one_at_a_time = remote.fetch_lock.lock().await;
        self.refresh_locked(remote).await
    }

    async fn refresh_locked(&self, remote: &RemoteJwks) -> Result<(), String> {
        *remote
            .last_attempt
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        let result = remote.fetch().await.and_then(|(fetched, max_age)| {
            let merged = self.static_ring.merged(&fetched).map_err(|e| e.message)?;
            Ok((merged, max_age))
        });
        match result {
            Ok((ring, max_age)) => {
                tracing::debug!(app = %self.policy.app_id, url = %remote.url, kids = ?ring.kids(), "jwks refreshed");
                self.ring.store(Arc::new(ring));
                *remote
                    .last_success
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
                let (lo, hi) = remote.options.max_age_bounds;
                // At least two tries before the set goes stale.
                let stale_half = (remote.options.max_stale / 2).max(Duration::from_secs(1));
                let interval = max_age
                    .map_or(remote.options.refresh_interval, |age| age.clamp(lo, hi))
                    .min(stale_half);
                *remote
                    .next_interval
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = interval;
                Ok(())
            }
            Err(reason) => {
                tracing::warn!(app = %self.policy.app_id, url = %remote.url, "jwks refresh failed, keeping the last good key set: {reason}");
                Err(reason)
            }
        }
    }

    /// Refreshes for an unknown kid, unless a fetch started less than
    /// `min_refresh_gap` ago. Callers that waited on a concurrent fetch
    /// return once it is done, without fetching again.
    pub(crate) async fn refresh_for_unknown_kid(&self) {
        let Some(remote) = &self.remote else { return };
        let _one_at_a_time = remote.fetch_lock.lock().await;
        let recent = remote
            .last_attempt
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|at| at.elapsed() < remote.options.min_refresh_gap);
        if !recent {
            let _ = self.refresh_locked(remote).await;
        }
    }

    /// Spawns the task that refreshes the JWKS URL on schedule; it ends when
    /// the verifier is dropped. `None` when the app has no URL.
    pub fn spawn_refresher(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        self.remote.as_ref()?;
        let weak: Weak<Verifier> = Arc::downgrade(self);
        Some(tokio::spawn(async move {
            loop {
                let interval = match weak.upgrade() {
                    Some(v) => v.remote.as_ref().map_or(Duration::from_secs(600), |r| {
                        *r.next_interval.lock().unwrap_or_else(|e| e.into_inner())
                    }),
                    None => return,
                };
                tokio::time::sleep(interval).await;
                let Some(verifier) = weak.upgrade() else {
                    return;
                };
                let _ = verifier.refresh_now().await;
            }
        }))
    }

    /// How many JWKS fetches were started (0 without a URL).
    pub fn jwks_fetch_count(&self) -> u64 {
        self.remote
            .as_ref()
            .map_or(0, |r| r.fetches.load(Ordering::Relaxed))
    }
}
