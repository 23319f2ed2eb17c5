//! Privacy requests by a website's backend ([`crate::privacy`]):
//!
//! - `POST /api/v1/apps/{app_id}/customers/export` with `{"email"}`,
//!   `{"phone"}` or `{"id"}` → `200` [`CustomerExport`]: everything held
//!   about the customer.
//! - `POST /api/v1/apps/{app_id}/customers/erase` with the same body →
//!   `200` [`EraseReport`]: all of it deleted; the customer's sockets
//!   close.
//!
//! Only an API key of that app opens them (`Authorization: Bearer`); an
//! agent's cookie does not, and a key of another app gets the same `404`
//! as an app that does not exist. The customer travels in the body, never
//! in the URL, so no access log holds an email. Both requests are written
//! to the audit log with the key's name.
//!
//! [`CustomerExport`]: trustchat_protocol::privacy::CustomerExport
//! [`EraseReport`]: trustchat_protocol::privacy::EraseReport

use axum::extract::{Path, State};
use axum::http::header::CACHE_CONTROL;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use trustchat_protocol::privacy::CustomerSelector;
use trustchat_protocol::ErrorCode;

use crate::clock;
use crate::error::ApiError;
use crate::http::json::JsonBody;
use crate::http::mint::{api_key_hash, app_of_api_key};
use crate::privacy::{self, BadSelector};
use crate::state::AppState;
use crate::store::{AuditActor, CustomerMatch};

/// The privacy routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/apps/{app_id}/customers/export", post(export))
        .route("/api/v1/apps/{app_id}/customers/erase", post(erase))
}

/// The app of the API key, which must be `app_id`, and who holds the key.
fn authorized(state: &AppState, headers: &HeaderMap, app_id: &str) -> Result<AuditActor, ApiError> {
    let app = app_of_api_key(state, headers)?;
    if app.id != app_id {
        // Another app's customers are out of reach, as if absent.
        return Err(ApiError::NoSuch("app"));
    }
    let key = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|k| api_key_hash(k.trim()))
        .unwrap_or_default();
    let name = app
        .api_keys
        .iter()
        .find(|k| k.hash == key)
        .map(|k| k.name.clone())
        .unwrap_or_default();
    Ok(AuditActor {
        actor: format!("api-key:{name}"),
        at_ms: clock::now_ms(),
    })
}

fn selector(selector: &CustomerSelector) -> Result<CustomerMatch, ApiError> {
    privacy::matching(selector).map_err(|bad: BadSelector| match bad.field {
        Some(field) if bad.code != ErrorCode::InvalidRequest => ApiError::InvalidField {
            code: bad.code,
            field: field.to_owned(),
            message: bad.message,
        },
        field => ApiError::InvalidRequest {
            message: bad.message.to_owned(),
            field: field.map(str::to_owned),
        },
    })
}

async fn export(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<CustomerSelector>,
) -> Result<Response, ApiError> {
    let actor = authorized(&state, &headers, &app_id)?;
    let matching = selector(&request)?;
    let export = privacy::export(state.store.as_ref(), &app_id, &matching, &actor)
        .await?
        .ok_or(ApiError::NoCustomer(privacy::matched_by(&matching)))?;
    // Personal data: no cache keeps it.
    Ok(([(CACHE_CONTROL, "no-store")], Json(export)).into_response())
}

async fn erase(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<CustomerSelector>,
) -> Result<Response, ApiError> {
    let actor = authorized(&state, &headers, &app_id)?;
    let matching = selector(&request)?;
    let erased = privacy::erase(state.store.as_ref(), &app_id, &matching, &actor)
        .await?
        .ok_or(ApiError::NoCustomer(privacy::matched_by(&matching)))?;
    privacy::erased_live(state.ctx(), &app_id, &erased);
    Ok(Json(privacy::erase_report(&erased)).into_response())
}
