//! Prometheus metrics, served on their own address (`server.metrics_listen`,
//! off unless set) so that a scrape never shares the public listener.
//!
//! Recorded with the `metrics` facade where things happen, and rendered
//! by `metrics-exporter-prometheus`:
//!
//! | name | type | labels |
//! |---|---|---|
//! | `trustchat_http_requests_total` | counter | `route` (the route's template, never a raw path), `method`, `status` |
//! | `trustchat_http_request_duration_seconds` | histogram | `route`, `method` |
//! | `trustchat_websockets_open` | gauge | `kind` (`customer`, `agent`) |
//! | `trustchat_messages_stored_total` | counter | `author` (`customer`, `agent`) |
//! | `trustchat_identity_token_verifications_total` | counter | `outcome` (`verified`, `refused`), `reason` (the refusal's code; `none` when verified) |
//! | `trustchat_store_operation_duration_seconds` | histogram | `operation` |
//! | `trustchat_queue_length` | gauge | `app` (read from the store at each scrape) |
//! | `trustchat_emails_total` | counter | `outcome` (`sent`, `failed`, `given_up`) |
//! | `trustchat_emails_pending` | gauge | (read from the store at each scrape) |
//! | `trustchat_webhooks_total` | counter | `outcome` (`sent`, `failed`, `given_up`): this server's delivery attempts |
//! | `trustchat_webhooks_pending` | gauge | (read from the store at each scrape: deliveries waiting, retrying or in flight) |
//!
//! Labels never hold an id, a token or an address: routes are templates
//! (`/api/v1/conversations/{id}/rating`), apps are the config's ids.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use crate::state::AppState;

/// The recorder, installed once per process (tests start many servers).
static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Latency buckets, in seconds: 1 ms to 10 s.
const BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the recorder (once) and describes every metric; `None` when
/// another recorder was installed first.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
                .ok()?
                .install_recorder()
                .ok()?;
            describe();
            Some(handle)
        })
        .as_ref()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "trustchat_http_requests_total",
        "HTTP requests answered, by route template, method and status."
    );
    describe_histogram!(
        "trustchat_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by route template and method."
    );
    describe_gauge!(
        "trustchat_websockets_open",
        "Open WebSockets on this server, customers' and agents'."
    );
    describe_counter!(
        "trustchat_messages_stored_total",
        "Messages stored by this server, by author."
    );
    describe_counter!(
        "trustchat_identity_token_verifications_total",
        "Identity tokens checked, by outcome and reason."
    );
    describe_histogram!(
        "trustchat_store_operation_duration_seconds",
        Unit::Seconds,
        "Time of the store's operations on the message path."
    );
    describe_gauge!(
        "trustchat_queue_length",
        "Conversations waiting for an agent, by app."
    );
    describe_counter!(
        "trustchat_emails_total",
        "Emails of unread replies, by outcome."
    );
    describe_gauge!(
        "trustchat_emails_pending",
        "Conversations with unread replies due to be emailed."
    );
    describe_counter!(
        "trustchat_webhooks_total",
        "Webhook delivery attempts, by outcome."
    );
    describe_gauge!(
        "trustchat_webhooks_pending",
        "Webhook deliveries waiting, retrying or in flight."
    );
}

/// Counts and times every request by its route's template.
pub async fn http(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!("trustchat_http_request_duration_seconds", "route" => route.clone(), "method" => method.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("trustchat_http_requests_total", "route" => route, "method" => method, "status" => status)
        .increment(1);
    response
}

/// An open WebSocket, counted while this value lives.
pub struct OpenSocket(&'static str);

impl OpenSocket {
    /// A `kind` (`customer` or `agent`) socket opened.
    pub fn new(kind: &'static str) -> OpenSocket {
        metrics::gauge!("trustchat_websockets_open", "kind" => kind).increment(1.0);
        OpenSocket(kind)
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        metrics::gauge!("trustchat_websockets_open", "kind" => self.0).decrement(1.0);
    }
}

/// A message was stored (not a repeat of a stored one).
pub fn message_stored(author: &'static str) {
    metrics::counter!("trustchat_messages_stored_total", "author" => author).increment(1);
}

/// An identity token was checked: `reason` the refusal's code, `None`
/// when it verified.
pub fn token_checked(reason: Option<&str>) {
    let (outcome, reason) = match reason {
        None => ("verified", "none".to_owned()),
        Some(reason) => ("refused", reason.to_owned()),
    };
    metrics::counter!("trustchat_identity_token_verifications_total", "outcome" => outcome, "reason" => reason)
        .increment(1);
}

/// A store operation on the message path took `started.elapsed()`.
pub fn store_operation(operation: &'static str, started: Instant) {
    metrics::histogram!("trustchat_store_operation_duration_seconds", "operation" => operation)
        .record(started.elapsed().as_secs_f64());
}

/// An email of unread replies was sent, failed (will retry) or given up.
pub fn email(outcome: &'static str) {
    metrics::counter!("trustchat_emails_total", "outcome" => outcome).increment(1);
}

/// A webhook delivery attempt was answered with a 2xx (`sent`), failed
/// and will be retried (`failed`), or failed for the last time
/// (`given_up`).
pub fn webhook(outcome: &'static str) {
    metrics::counter!("trustchat_webhooks_total", "outcome" => outcome).increment(1);
}

/// Binds `server.metrics_listen` (a failure stops the start-up).
pub async fn bind(address: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address).await.map_err(|e| {
        anyhow::anyhow!("cannot listen for metrics on {address} (server.metrics_listen): {e}")
    })
}

/// Serves `GET /metrics` on `listener` until `shutdown`.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    install();
    tracing::info!(address = %listener.local_addr()?, "serving metrics");
    let app = Router::new()
        .route("/metrics", get(scrape))
        .with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

/// The scrape: the gauges the store knows are read now, then everything
/// is rendered in Prometheus's text format.
async fn scrape(State(state): State<AppState>) -> Response {
    let Some(handle) = install() else {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "no metrics recorder",
        )
            .into_response();
    };
    match state.store.queued_conversations().await {
        Ok(queued) => {
            for app in &state.config.apps {
                let waiting = queued.iter().filter(|c| c.app_id == app.id).count();
                metrics::gauge!("trustchat_queue_length", "app" => app.id.clone())
                    .set(waiting as f64);
            }
        }
        Err(error) => {
            tracing::warn!(error = %crate::error::error_chain(&error), "reading the queue for metrics failed");
        }
    }
    match state.store.emails_pending().await {
        Ok(pending) => metrics::gauge!("trustchat_emails_pending").set(pending as f64),
        Err(error) => {
            tracing::warn!(error = %crate::error::error_chain(&error), "counting pending emails failed");
        }
    }
    match state.store.webhook_delivery_counts().await {
        Ok(counts) => metrics::gauge!("trustchat_webhooks_pending").set(counts.pending as f64),
        Err(error) => {
            tracing::warn!(error = %crate::error::error_chain(&error), "counting pending webhook deliveries failed");
        }
    }
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        handle.render(),
    )
        .into_response()
}
