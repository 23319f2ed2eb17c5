//! Webhooks: each app's events POSTed to its backend
//! (`[[apps.webhooks]]`, [`config`]), signed, at least once, in order per
//! conversation.
//!
//! **The outbox.** An event's deliveries (one per webhook that takes it)
//! are rows of `webhook_deliveries`, written by the store method that
//! commits the event, in its transaction ([`event`] makes the rows): a
//! message and its `message.created` (and the `conversation.created` of
//! the conversation it opens), a close and its `conversation.closed`, a
//! session's proof and its `customer.verified`. A crash keeps both or
//! neither, and a restart finds every delivery still pending.
//!
//! **The worker** ([`start`], one per server) claims due deliveries
//! ([`Store::claim_webhook_delivery`]: an index of due times; `FOR UPDATE
//! SKIP LOCKED` on Postgres, the one writer on SQLite), up to
//! [`IN_FLIGHT`] at once. A claim moves the delivery's due time to the end
//! of a lease (longer than an attempt may take) and counts the attempt:
//! that is the record of it, in the database, before anything is sent. The
//! worker POSTs the body with `TrustChat-Signature: t=UNIX,v1=HEX` (HMAC-
//! SHA256 of `t.body` with the webhook's secret, [`signature`]),
//! `TrustChat-Delivery` (the delivery's id) and `TrustChat-Event`, within
//! the webhook's `timeout_secs`, following no redirect. A 2xx answer is
//! delivered; anything else (a redirect included) is retried after
//! `retry_base_secs` doubled per failure up to `retry_max_secs`, each wait
//! cut at random by up to half (jitter), until `retry_for_secs` after the
//! event: then failed. The outcome is written in one statement
//! ([`Store::finish_webhook_delivery`]) only while the claim holds.
//!
//! **In order per conversation.** A delivery is not claimed while an
//! earlier one (by enqueuing order) of the same webhook and conversation is
//! pending, claimed or waiting for a retry; `customer.verified` is ordered
//! per customer. A failed (given up) delivery no longer holds the others.
//!
//! **At least once.** A server that stops mid-attempt leaves the delivery
//! claimed; its lease runs out and it is sent again (same delivery and
//! event ids). Receivers drop duplicates by event id. Logs carry the
//! delivery and event ids, the app, the webhook's host and the error;
//! never a body or a secret, and never the webhook's full URL (its path
//! or query may hold a token).

pub mod config;
pub mod event;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::hmac;
use rand::RngExt as _;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use crate::clock;
use crate::config::Config;
use crate::error::error_chain;
use crate::store::{DeliveryClaim, DeliveryDone, DeliveryStatus, Store};
use config::{Secret, WebhookConfig};

/// The most deliveries one server attempts at once.
pub const IN_FLIGHT: usize = 8;
/// The worker looks for due deliveries at least this often (events stored
/// by other servers of the database).
const POLL: Duration = Duration::from_secs(5);
/// The shortest wait between two looks.
const MIN_WAIT: Duration = Duration::from_millis(100);
/// How long a shutdown waits for the attempts in flight.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How long delivered and failed deliveries are kept (the CLI shows them).
pub const KEEP_FOR: Duration = Duration::from_secs(14 * 86_400);
/// How often the old ones are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3_600);
/// The `User-Agent` of deliveries.
const USER_AGENT: &str = concat!("TrustChat-Webhooks/", env!("CARGO_PKG_VERSION"));

/// Wakes this server's webhook worker: an event was enqueued.
#[derive(Debug, Default)]
pub struct Wake(Notify);

impl Wake {
    /// Tells the worker to look for due deliveries now.
    pub fn enqueued(&self) {
        self.0.notify_one();
    }
}

/// `TrustChat-Signature`'s value for `body` sent at `t` (Unix seconds):
/// `t=T,v1=HEX(HMAC-SHA256(secret, T + "." + body))`.
pub fn signature(secret: &[u8], t: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut context = hmac::Context::with_key(&key);
    context.update(t.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    let tag = context.sign();
    let mut hex = String::with_capacity(64);
    for byte in tag.as_ref() {
        hex.push_str(&format!("{byte:02x}"));
    }
    format!("t={t},v1={hex}")
}

/// The running webhook worker of a server.
pub struct Running {
    /// Tells the worker to stop.
    stop: watch::Sender<bool>,
    /// The worker.
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops the worker once its attempts in flight are recorded, waiting
    /// at most [`STOP_GRACE`]; an attempt still in flight then is made
    /// again when its claim runs out.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let mut task = self.task;
        match tokio::time::timeout(STOP_GRACE + Duration::from_secs(1), &mut task).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(error = %error, "the webhook worker failed"),
            Err(_) => task.abort(),
        }
    }
}

/// One webhook as the worker uses it.
struct Target {
    /// Its config.
    config: WebhookConfig,
    /// Its signing secret.
    secret: Secret,
    /// Its host, for the logs.
    host: String,
}

/// Starts the webhook worker when an app has webhooks; `None` without.
/// Refuses a webhook whose secret is not set (the variable `secret_env`
/// names is unset or empty).
pub fn start(
    config: Arc<Config>,
    store: Arc<dyn Store>,
    wake: Arc<Wake>,
) -> anyhow::Result<Option<Running>> {
    if config.apps.iter().all(|app| app.webhooks.is_empty()) {
        return Ok(None);
    }
    let mut apps = config.apps.clone();
    // Read here, when the server starts, not when any command loads the
    // config: `webhooks list` needs no secret.
    config::read_secrets(&mut apps, |name| std::env::var(name).ok()).map_err(anyhow::Error::msg)?;
    let mut targets = HashMap::new();
    let mut longest = Duration::from_secs(1);
    for app in &apps {
        for hook in &app.webhooks {
            let secret = hook.secret.clone().expect("read_secrets set every secret");
            if secret.0.len() < 16 {
                tracing::warn!(app = %app.id, secret_env = %hook.secret_env, "a webhook's secret is shorter than 16 characters; use a long random one");
            }
            let host = url::Url::parse(&hook.url)
                .ok()
                .and_then(|url| url.host_str().map(str::to_owned))
                .unwrap_or_default();
            longest = longest.max(Duration::from_secs(hook.timeout_secs));
            targets.insert(
                (app.id.clone(), hook.url.clone()),
                Target {
                    config: hook.clone(),
                    secret,
                    host,
                },
            );
        }
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(USER_AGENT)
        .connect_timeout(longest)
        .build()
        .map_err(|e| anyhow::anyhow!("cannot make the webhooks' HTTP client: {e}"))?;
    let hosts: Vec<&str> = targets.values().map(|t| t.host.as_str()).collect();
    tracing::info!(webhooks = targets.len(), hosts = ?hosts, "delivering webhooks");
    let (stop, stopped) = watch::channel(false);
    let worker = Worker {
        shared: Arc::new(Shared {
            store,
            client,
            targets,
            wake,
        }),
        lease: longest * 2 + Duration::from_secs(30),
    };
    let task = tokio::spawn(worker.run(stopped));
    Ok(Some(Running { stop, task }))
}

/// What every attempt needs.
struct Shared {
    store: Arc<dyn Store>,
    client: reqwest::Client,
    /// The webhooks by (app, url).
    targets: HashMap<(String, String), Target>,
    wake: Arc<Wake>,
}

/// Claims due deliveries and attempts them.
struct Worker {
    shared: Arc<Shared>,
    /// How long a claim lasts: past any attempt, so a claim runs out only
    /// when its server stopped.
    lease: Duration,
}

impl Worker {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let lease_ms = i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX);
        let mut in_flight: JoinSet<()> = JoinSet::new();
        let mut pruned_at: Option<tokio::time::Instant> = None;
        loop {
            if *stop.borrow() {
                break;
            }
            let mut failed = false;
            while in_flight.len() < IN_FLIGHT {
                let now = clock::now_ms();
                match self
                    .shared
                    .store
                    .claim_webhook_delivery(now, now.saturating_add(lease_ms))
                    .await
                {
                    Ok(Some(claim)) => {
                        in_flight.spawn(attempt(self.shared.clone(), claim));
                    }
                    Ok(None) => break,
                    Err(error) => {
                        tracing::warn!(error = %error_chain(&error), "looking for webhook deliveries failed");
                        failed = true;
                        break;
                    }
                }
            }
            if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                pruned_at = Some(tokio::time::Instant::now());
                self.prune().await;
            }
            let wait = if failed || in_flight.len() >= IN_FLIGHT {
                POLL
            } else {
                match self.shared.store.next_webhook_due().await {
                    Ok(Some(at)) => Duration::from_millis(
                        u64::try_from(at.saturating_sub(clock::now_ms())).unwrap_or(0),
                    ),
                    Ok(None) => POLL,
                    Err(error) => {
                        tracing::warn!(error = %error_chain(&error), "reading when the next webhook delivery is due failed");
                        POLL
                    }
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait.clamp(MIN_WAIT, POLL)) => {}
                () = self.shared.wake.0.notified() => {}
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                _ = stop.changed() => {}
            }
        }
        // Let the attempts in flight finish and be recorded.
        let finished = tokio::time::timeout(STOP_GRACE, async {
            while in_flight.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            in_flight.abort_all();
            tracing::warn!("webhook deliveries were still in flight at shutdown; they are tried again when their claims run out");
        }
    }

    async fn prune(&self) {
        let keep_ms = i64::try_from(KEEP_FOR.as_millis()).unwrap_or(i64::MAX);
        match self
            .shared
            .store
            .prune_webhook_deliveries(clock::now_ms().saturating_sub(keep_ms))
            .await
        {
            Ok(0) => {}
            Ok(pruned) => tracing::debug!(pruned, "old webhook deliveries pruned"),
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "pruning old webhook deliveries failed")
            }
        }
    }
}

/// What one attempt came to.
enum Outcome {
    /// A 2xx answer.
    Delivered(u16),
    /// An answer of another status, or none.
    Failed { status: Option<u16>, error: String },
}

/// Attempts one claimed delivery and records the outcome.
async fn attempt(shared: Arc<Shared>, claim: DeliveryClaim) {
    let delivery = &claim.delivery;
    let key = (delivery.app_id.clone(), delivery.url.clone());
    let Some(target) = shared.targets.get(&key) else {
        // The webhook left the config: nobody to deliver to.
        tracing::warn!(delivery_id = %delivery.id, app = %delivery.app_id, event = %delivery.event_type, "a webhook delivery's webhook is not in the config any more; given up");
        let done = DeliveryDone {
            at: clock::now_ms(),
            status: DeliveryStatus::Failed,
            next_attempt_at: None,
            http_status: None,
            error: Some("the webhook is not in the config any more".into()),
        };
        record(&shared, &claim, &done).await;
        return;
    };
    let t = clock::now_secs();
    let outcome = match shared
        .client
        .post(&delivery.url)
        .timeout(Duration::from_secs(target.config.timeout_secs))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            "TrustChat-Signature",
            signature(target.secret.0.as_bytes(), t, delivery.payload.as_bytes()),
        )
        .header("TrustChat-Delivery", &delivery.id)
        .header("TrustChat-Event", &delivery.event_type)
        .body(delivery.payload.clone())
        .send()
        .await
    {
        Ok(response) if response.status().is_success() => {
            Outcome::Delivered(response.status().as_u16())
        }
        Ok(response) => {
            let status = response.status();
            let error = if status.is_redirection() {
                format!("HTTP {status} (redirects are not followed)")
            } else {
                format!("HTTP {status}")
            };
            Outcome::Failed {
                status: Some(status.as_u16()),
                error,
            }
        }
        Err(error) => Outcome::Failed {
            status: None,
            error: describe(&error, target.config.timeout_secs),
        },
    };
    let now = clock::now_ms();
    let done = match outcome {
        Outcome::Delivered(status) => {
            tracing::debug!(delivery_id = %delivery.id, event_id = %delivery.event_id, app = %delivery.app_id, event = %delivery.event_type, host = %target.host, status, attempts = delivery.attempts, "webhook delivered");
            crate::metrics::webhook("sent");
            DeliveryDone {
                at: now,
                status: DeliveryStatus::Delivered,
                next_attempt_at: None,
                http_status: Some(i64::from(status)),
                error: None,
            }
        }
        Outcome::Failed { status, error } => {
            let wait = jittered(target.config.backoff_ms(delivery.attempts));
            let next = now.saturating_add(wait);
            let retry_for_ms = i64::try_from(target.config.retry_for_secs.saturating_mul(1000))
                .unwrap_or(i64::MAX);
            let give_up = next > delivery.created_at.saturating_add(retry_for_ms);
            crate::metrics::webhook(if give_up { "given_up" } else { "failed" });
            if give_up {
                tracing::warn!(delivery_id = %delivery.id, event_id = %delivery.event_id, app = %delivery.app_id, event = %delivery.event_type, host = %target.host, attempts = delivery.attempts, error = %error, "a webhook delivery failed; given up");
            } else {
                tracing::warn!(delivery_id = %delivery.id, event_id = %delivery.event_id, app = %delivery.app_id, event = %delivery.event_type, host = %target.host, attempts = delivery.attempts, retry_in_ms = wait, error = %error, "a webhook delivery failed; will retry");
            }
            DeliveryDone {
                at: now,
                status: if give_up {
                    DeliveryStatus::Failed
                } else {
                    DeliveryStatus::Pending
                },
                next_attempt_at: (!give_up).then_some(next),
                http_status: status.map(i64::from),
                error: Some(error),
            }
        }
    };
    record(&shared, &claim, &done).await;
}

/// Writes an attempt's outcome; wakes the worker, as later deliveries of
/// the conversation may go now.
async fn record(shared: &Shared, claim: &DeliveryClaim, done: &DeliveryDone) {
    match shared
        .store
        .finish_webhook_delivery(claim.delivery.seq, claim.lease_until, done)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(delivery_id = %claim.delivery.id, "a webhook delivery's claim ran out before its attempt was recorded; it is tried again")
        }
        Err(error) => {
            tracing::warn!(delivery_id = %claim.delivery.id, error = %error_chain(&error), "recording a webhook delivery failed; it is tried again when its claim runs out")
        }
    }
    shared.wake.enqueued();
}

/// A wait of `ms` cut by up to half, at random: retries of many deliveries
/// that failed together spread out.
fn jittered(ms: i64) -> i64 {
    if ms < 2 {
        return ms;
    }
    ms - rand::rng().random_range(0..=ms / 2)
}

/// Why a request got no answer, without its URL (which may hold a token).
fn describe(error: &reqwest::Error, timeout_secs: u64) -> String {
    if error.is_timeout() {
        return format!("no answer within {timeout_secs} s");
    }
    let kind = if error.is_connect() {
        "cannot connect"
    } else if error.is_request() || error.is_body() {
        "the request failed"
    } else {
        "no answer"
    };
    let mut text = String::from(kind);
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_t_dot_body() {
        // printf '1700000000.{}' | openssl dgst -sha256 -hmac secret
        assert_eq!(
            signature(b"secret", 1_700_000_000, b"{}"),
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }

    #[test]
    fn jitter_cuts_at_most_half() {
        for _ in 0..1_000 {
            let ms = jittered(10_000);
            assert!((5_000..=10_000).contains(&ms), "{ms}");
        }
        assert_eq!(jittered(1), 1);
    }
}
