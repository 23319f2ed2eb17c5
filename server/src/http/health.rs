//! `GET /healthz` (liveness: the process answers) and `GET /readyz`
//! (readiness: it can serve, its database and the other servers' events
//! reachable), for load balancers and start-up scripts.

use std::time::Duration;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::openapi::{errors, Routes};
use crate::state::AppState;

/// How long readiness waits for the database.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /healthz` → `{"status":"ok"}`; `GET /readyz` → `{"status":"ready"}`,
/// or 503 `not_ready`.
pub fn router() -> Routes {
    Routes::new()
        .documented(routes!(health))
        .documented(routes!(ready))
}

/// The body of both answers, as the API document shows it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct HealthStatus {
    /// `ok` (`/healthz`) or `ready` (`/readyz`).
    status: String,
}

/// Liveness
///
/// The process answers. It checks nothing else: a load balancer restarts a
/// server whose `/healthz` fails.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "health",
    tag = "health",
    responses((status = 200, description = "alive", body = HealthStatus, example = json!({"status": "ok"}))),
)]
async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

errors!(ReadyErrors: [NotReady]);

/// Readiness
///
/// The server can serve: its database answers within 2 s and, with several
/// servers on one PostgreSQL, the other servers' events arrive. A load
/// balancer sends no traffic to a server that is not ready; it becomes
/// ready again on its own.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "ready",
    tag = "health",
    responses(
        (status = 200, description = "ready", body = HealthStatus, example = json!({"status": "ready"})),
        ReadyErrors,
    ),
)]
async fn ready(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    match tokio::time::timeout(PING_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(error = %crate::error::error_chain(&error), "not ready: database");
            return Err(ApiError::NotReady("the database does not answer"));
        }
        Err(_) => return Err(ApiError::NotReady("the database does not answer in time")),
    }
    if !state.bus.connected() {
        return Err(ApiError::NotReady(
            "the other servers' events are not arriving",
        ));
    }
    Ok(Json(json!({"status": "ready"})))
}
