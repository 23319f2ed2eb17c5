//! `GET /healthz` (liveness: the process answers) and `GET /readyz`
//! (readiness: it can serve, its database and the other servers' events
//! reachable), for load balancers and start-up scripts.

use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::state::AppState;

/// How long readiness waits for the database.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /healthz` → `{"status":"ok"}`; `GET /readyz` → `{"status":"ready"}`,
/// or 503 `not_ready`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

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
