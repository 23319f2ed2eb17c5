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
use axum::Json;
use trustchat_protocol::privacy::{CustomerExport, CustomerSelector, EraseReport};
use trustchat_protocol::ErrorCode;
use utoipa_axum::routes;

use crate::clock;
use crate::error::ApiError;
use crate::http::json::JsonBody;
use crate::http::mint::{api_key_hash, app_of_api_key};
use crate::http::openapi::{errors, Routes};
use crate::privacy::{self, BadSelector};
use crate::state::AppState;
use crate::store::{AuditActor, CustomerMatch};

/// The privacy routes.
pub fn router() -> Routes {
    Routes::new()
        .documented(routes!(export))
        .documented(routes!(erase))
}

errors!(PrivacyErrors: JSON_BODY, API_KEY, [NotFound, InvalidEmail, InvalidPhone]);

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

/// Exports a customer's data
///
/// Everything the server holds about the customer the body names by
/// exactly one of `email`, `phone` (E.164) or `id`: their profiles,
/// sessions (without tokens), conversations, messages, ratings. Only an
/// API key of this very app; another app's key gets the `404` of a
/// missing app, and no matching customer is `404` too. Audit-logged with
/// the key's name; `Cache-Control: no-store`.
#[utoipa::path(
    post,
    path = "/api/v1/apps/{app_id}/customers/export",
    operation_id = "exportCustomer",
    tag = "privacy",
    security(("appApiKey" = [])),
    params(("app_id" = String, Path, description = "the app's id, as in the server's config")),
    request_body = CustomerSelector,
    responses((status = 200, description = "everything held about the customer", body = CustomerExport), PrivacyErrors),
)]
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

/// Erases a customer's data
///
/// Deletes everything the export would hold, in one transaction, and
/// closes the customer's WebSockets on every server. The same body and
/// rules as the export; audit-logged with ids and counts only.
#[utoipa::path(
    post,
    path = "/api/v1/apps/{app_id}/customers/erase",
    operation_id = "eraseCustomer",
    tag = "privacy",
    security(("appApiKey" = [])),
    params(("app_id" = String, Path, description = "the app's id, as in the server's config")),
    request_body = CustomerSelector,
    responses((status = 200, description = "what was deleted", body = EraseReport), PrivacyErrors),
)]
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
