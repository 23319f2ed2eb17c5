//! Customer sessions:
//!
//! - `POST /api/v1/apps/{app_id}/sessions` opens one for `{}` (anonymous),
//!   `{"user": {...}}` (identified) or `{"jwt": "..."}` (trusted);
//! - `GET /api/v1/sessions/current` reads the bearer's session;
//! - `DELETE /api/v1/sessions/current` revokes it (`clearUser`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use trustchat_protocol::{validate, CreateSessionRequest, SessionResponse};

use crate::error::ApiError;
use crate::http::auth::CustomerSession;
use crate::http::json::JsonBody;
use crate::http::origin::KnownApp;
use crate::identity::{self, Identity};
use crate::state::{AppRef, AppState};
use crate::store::{CustomerRecord, SessionRecord};

/// The session routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/apps/{app_id}/sessions", post(create))
        .route("/api/v1/sessions/current", get(current).delete(revoke))
}

async fn create(
    State(state): State<AppState>,
    KnownApp(app): KnownApp,
    JsonBody(request): JsonBody<CreateSessionRequest>,
) -> Result<(StatusCode, Json<SessionResponse>), ApiError> {
    let identity = match (request.user, request.jwt) {
        (Some(_), Some(_)) => {
            return Err(ApiError::InvalidRequest {
                message: "send either user or jwt, not both".into(),
                field: Some("jwt".into()),
            })
        }
        (Some(user), None) => {
            Identity::User(validate::user(&user).map_err(|e| ApiError::invalid(e, "user"))?)
        }
        (None, Some(jwt)) => identity_from_jwt(&state, &app, &jwt).await?,
        (None, None) => Identity::Anonymous,
    };
    let now = identity::now();
    let opened = identity::open_session(state.store.as_ref(), &app.id, &identity, now).await?;
    tracing::debug!(session = %opened.session.id, customer = %opened.customer.id, app = %app.id, "session opened");
    let mut response = session_response(&opened.session, &opened.customer, now);
    response.session_token = Some(opened.token);
    Ok((StatusCode::CREATED, Json(response)))
}

/// The JWT hook: turns an identity token into a trusted [`Identity`], or
/// refuses it with `invalid_token` and a reason. The identity-token work
/// replaces this body with key lookup and verification for `app`.
async fn identity_from_jwt(
    _state: &AppState,
    app: &AppRef,
    _jwt: &str,
) -> Result<Identity, ApiError> {
    tracing::debug!(app = %app.id, "refused a JWT: no identity keys configured");
    Err(ApiError::InvalidToken {
        reason: "not_configured".into(),
        message: "this app has no identity keys configured".into(),
    })
}

async fn current(State(_): State<AppState>, auth: CustomerSession) -> Json<SessionResponse> {
    Json(session_response(
        &auth.session,
        &auth.customer,
        identity::now(),
    ))
}

async fn revoke(
    State(state): State<AppState>,
    auth: CustomerSession,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .revoke_session(&auth.session.id, identity::now())
        .await?;
    tracing::debug!(session = %auth.session.id, "session revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// The wire form of a session, without its token.
fn session_response(
    session: &SessionRecord,
    customer: &CustomerRecord,
    now: i64,
) -> SessionResponse {
    let customer = identity::customer_view(customer, session);
    SessionResponse {
        session_token: None,
        greeting: identity::greeting(customer.first_name.as_deref()),
        customer,
        trusted: identity::is_trusted(session, now),
        trusted_until: None,
    }
}
