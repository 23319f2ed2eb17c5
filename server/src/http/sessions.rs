//! Customer sessions:
//!
//! - `POST /api/v1/apps/{app_id}/sessions` opens one for `{}` (anonymous),
//!   `{"user": {...}}` (identified) or `{"jwt": "..."}` (trusted);
//! - `GET /api/v1/sessions/current` reads the bearer's session;
//! - `POST /api/v1/sessions/current/identity` is the mid-chat login (or
//!   identification): `{"jwt": "..."}` or `{"user": {...}}`;
//! - `POST /api/v1/sessions/current/page` `{"url"}` → 204: the page the
//!   customer is on now (`TrustChat.navigate`), for page-prefix rules and
//!   the console; 422 for a URL that is not absolute (or too long);
//! - `DELETE /api/v1/sessions/current` revokes it (`clearUser`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use trustchat_protocol::{validate, CreateSessionRequest, SessionResponse, SetPage};
use utoipa_axum::routes;

use axum::http::header::{ACCEPT_LANGUAGE, REFERER};
use axum::http::HeaderMap;

use crate::bus::Event;
use crate::chat;
use crate::clock;
use crate::config::AppConfig;
use crate::console;
use crate::error::ApiError;
use crate::http::auth::CustomerSession;
use crate::http::client::ClientAddr;
use crate::http::json::JsonBody;
use crate::http::limits;
use crate::http::messages::send_error;
use crate::http::openapi::{errors, Routes};
use crate::http::origin::KnownApp;
use crate::hub::CloseReason;
use crate::identity::{self, Identity, VerifiedIdentity};
use crate::rules::{self, CustomerStatus};
use crate::state::{AppRef, AppState};
use crate::store::{IdentityKind, SessionRecord};
use crate::texts;

/// The session routes.
pub fn router() -> Routes {
    Routes::new()
        .documented(routes!(create))
        .documented(routes!(current, revoke))
        .documented(routes!(change_identity))
        .documented(routes!(set_page))
}

errors!(CreateErrors: JSON_BODY, [UnknownApp, OriginNotAllowed, RateLimited, InvalidName, InvalidEmail, InvalidPhone, InvalidToken, Internal]);

/// Opens a customer session
///
/// `{}` for an anonymous customer, `{"user": {...}}` for one the website
/// (or the onboarding form) identified, `{"jwt": "..."}` for one the
/// website proved with an identity token: the session is then trusted
/// until the token's `exp`. A refused token is `401 invalid_token` with a
/// `reason` (`token_expired`, `bad_signature`, `unknown_kid`, ...).
/// Limited per client address (`429 rate_limited`). `Accept-Language`
/// picks the greeting's language; `Referer`, the page for the app's rules.
#[utoipa::path(
    post,
    path = "/api/v1/apps/{app_id}/sessions",
    operation_id = "createSession",
    tag = "customer",
    params(("app_id" = String, Path, description = "the app's id, as in the server's config")),
    request_body = CreateSessionRequest,
    responses(
        (status = 201, description = "the session, with its `session_token`", body = SessionResponse),
        CreateErrors,
    ),
)]
async fn create(
    State(state): State<AppState>,
    client: ClientAddr,
    KnownApp(app): KnownApp,
    headers: HeaderMap,
    JsonBody(request): JsonBody<CreateSessionRequest>,
) -> Result<(StatusCode, Json<SessionResponse>), ApiError> {
    limits::check_session(&state, client)?;
    let identity = requested_identity(&state, &app, request).await?;
    let now = clock::now_secs();
    let locales = locales(&headers);
    let webhooks = state.config.webhooks(&app.id);
    let opened = identity::open_session(
        state.store.as_ref(),
        &app.id,
        &identity,
        &locales,
        now,
        webhooks,
    )
    .await?;
    if opened.session.trusted && !webhooks.0.is_empty() {
        state.webhook_wake.enqueued();
    }
    tracing::debug!(session = %opened.session.id, customer = %opened.customer.id, app = %app.id,
        trusted = opened.session.trusted, "session opened");
    if opened.session.trusted {
        // The customer is verified now: their proven conversation's agent sees it.
        console::session_changed(state.ctx(), &opened.session, page(&headers)).await;
    }
    let mut response = session_response(&app, &opened.session, now, page(&headers), &locales);
    response.session_token = Some(opened.token);
    Ok((StatusCode::CREATED, Json(response)))
}

errors!(IdentityErrors: CUSTOMER, JSON_BODY, [InvalidName, InvalidEmail, InvalidPhone, InvalidToken]);

/// Identifies the customer mid-chat, or logs them in
///
/// `{"jwt": "..."}` (a login: later messages are trusted, earlier ones stay
/// as they were) or `{"user": {...}}`. When the new identity is a
/// different person, the answer carries a new `session_token` and the old
/// one is revoked.
#[utoipa::path(
    post,
    path = "/api/v1/sessions/current/identity",
    operation_id = "changeIdentity",
    tag = "customer",
    security(("sessionToken" = [])),
    request_body = CreateSessionRequest,
    responses(
        (status = 200, description = "the session; with a new `session_token` for a different person", body = SessionResponse),
        IdentityErrors,
    ),
)]
async fn change_identity(
    State(state): State<AppState>,
    auth: CustomerSession,
    headers: HeaderMap,
    JsonBody(request): JsonBody<CreateSessionRequest>,
) -> Result<Json<SessionResponse>, ApiError> {
    if request.user.is_none() && request.jwt.is_none() {
        return Err(ApiError::InvalidRequest {
            message: "send the new identity as user or jwt".into(),
            field: Some("user".into()),
        });
    }
    let identity = requested_identity(&state, &auth.app, request).await?;
    let now = clock::now_secs();
    let locales = locales(&headers);
    let changed = identity::change_identity(
        state.store.as_ref(),
        &auth.session,
        &auth.customer,
        &identity,
        &locales,
        now,
        state.config.webhooks(&auth.app.id),
    )
    .await?;
    if !state.config.webhooks(&auth.app.id).0.is_empty() {
        // A proof's `customer.verified`, a conversation the link closed.
        state.webhook_wake.enqueued();
    }
    tracing::debug!(session = %changed.session.id, customer = %changed.customer.id,
        new_session = changed.new_token.is_some(), trusted = changed.session.trusted, "identity changed");
    if changed.new_token.is_some() {
        // A different person: the old session's sockets stop hearing.
        revoked(&state, &auth.session.id);
        console::session_changed(state.ctx(), &auth.session, page(&headers)).await;
    } else {
        chat::identity_changed(state.ctx(), &changed.session, &changed.linked).await;
    }
    console::session_changed(state.ctx(), &changed.session, page(&headers)).await;
    let mut response = session_response(&auth.app, &changed.session, now, page(&headers), &locales);
    response.session_token = changed.new_token;
    Ok(Json(response))
}

/// The identity a request asks for: `{}` anonymous, `user` identified,
/// `jwt` verified (or refused with `invalid_token` and the reason).
async fn requested_identity(
    state: &AppState,
    app: &AppRef,
    request: CreateSessionRequest,
) -> Result<Identity, ApiError> {
    match (request.user, request.jwt) {
        (Some(_), Some(_)) => Err(ApiError::InvalidRequest {
            message: "send either user or jwt, not both".into(),
            field: Some("jwt".into()),
        }),
        (Some(user), None) => Ok(Identity::User(
            validate::user(&user).map_err(|e| ApiError::invalid(e, "user"))?,
        )),
        (None, Some(jwt)) => identity_from_jwt(state, app, &jwt).await,
        (None, None) => Ok(Identity::Anonymous),
    }
}

/// Verifies an identity token for `app`: the app's keys, its claim policy,
/// and, for single-use tokens, the replay guard. A refusal is a 401
/// `invalid_token` whose `reason` names exactly what was wrong.
async fn identity_from_jwt(
    state: &AppState,
    app: &AppRef,
    jwt: &str,
) -> Result<Identity, ApiError> {
    let Some(verifier) = state.verifier(&app.id) else {
        tracing::debug!(app = %app.id, "refused a JWT: no identity keys configured");
        crate::metrics::token_checked(Some("not_configured"));
        return Err(ApiError::InvalidToken {
            reason: "not_configured".into(),
            message: format!(
                "app {} has no identity keys configured; add an [apps.identity] table",
                app.id
            ),
        });
    };
    let now = clock::now_unix();
    match verifier.verify_once(jwt, now, state.replay.as_ref()).await {
        Ok(verified) => {
            crate::metrics::token_checked(None);
            Ok(Identity::Verified(VerifiedIdentity::from(
                &verified.identity,
            )))
        }
        Err(refusal) => {
            crate::metrics::token_checked(Some(refusal.reason.code()));
            tracing::debug!(app = %app.id, reason = refusal.reason.code(), "refused a JWT");
            Err(ApiError::InvalidToken {
                reason: refusal.reason.code().into(),
                message: refusal.message,
            })
        }
    }
}

errors!(CurrentErrors: CUSTOMER);

/// The bearer's session
///
/// As opening it answered, without the token.
#[utoipa::path(
    get,
    path = "/api/v1/sessions/current",
    operation_id = "getSession",
    tag = "customer",
    security(("sessionToken" = [])),
    responses(
        (status = 200, description = "the session, without `session_token`", body = SessionResponse),
        CurrentErrors,
    ),
)]
async fn current(
    State(state): State<AppState>,
    auth: CustomerSession,
    headers: HeaderMap,
) -> Json<SessionResponse> {
    let locales = locales(&headers);
    let mut session = auth.session;
    // Best effort: a read of the session does not fail for them.
    if let Err(error) =
        identity::remember_locales(state.store.as_ref(), &mut session, &locales).await
    {
        tracing::warn!(session = %session.id, error = %error, "recording the session's languages failed");
    }
    Json(session_response(
        &auth.app,
        &session,
        clock::now_secs(),
        page(&headers),
        &locales,
    ))
}

errors!(PageErrors: CUSTOMER, JSON_BODY);

/// Reports the page the customer is on
///
/// What `TrustChat.navigate` sends (also the WebSocket frame
/// `{"type":"page","url"}`). Page-prefix rules use it, a waiting
/// conversation is routed again by it, and the agent sees it. `422
/// invalid_request` (`field: "url"`) for a URL that is not absolute,
/// longer than 2,048 characters or with spaces.
#[utoipa::path(
    post,
    path = "/api/v1/sessions/current/page",
    operation_id = "setPage",
    tag = "customer",
    security(("sessionToken" = [])),
    request_body = SetPage,
    responses((status = 204, description = "kept"), PageErrors),
)]
async fn set_page(
    State(state): State<AppState>,
    auth: CustomerSession,
    JsonBody(request): JsonBody<SetPage>,
) -> Result<StatusCode, ApiError> {
    chat::navigate(state.ctx(), &auth.session, &request.url)
        .await
        .map_err(send_error)?;
    Ok(StatusCode::NO_CONTENT)
}

errors!(RevokeErrors: CUSTOMER);

/// Revokes the session
///
/// `clearUser`: the token stops working, and the session's WebSockets
/// close (4001) on every server.
#[utoipa::path(
    delete,
    path = "/api/v1/sessions/current",
    operation_id = "revokeSession",
    tag = "customer",
    security(("sessionToken" = [])),
    responses((status = 204, description = "revoked"), RevokeErrors),
)]
async fn revoke(
    State(state): State<AppState>,
    auth: CustomerSession,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .revoke_session(&auth.session.id, clock::now_secs())
        .await?;
    revoked(&state, &auth.session.id);
    console::session_changed(state.ctx(), &auth.session, None).await;
    tracing::debug!(session = %auth.session.id, "session revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// A revoked session's sockets close, on every server.
fn revoked(state: &AppState, session_id: &str) {
    state.hub.close_session(session_id, CloseReason::Revoked);
    state.bus.publish(Event::SessionRevoked {
        session_id: session_id.to_owned(),
    });
}

/// The wire form of a session, without its token, with the first message
/// the app's rules pick for the customer's status and page.
fn session_response(
    app: &AppConfig,
    session: &SessionRecord,
    now: i64,
    page: Option<&str>,
    locales: &[String],
) -> SessionResponse {
    let view = identity::customer_view(session);
    let trusted = identity::is_trusted(session, now);
    let status = if trusted {
        CustomerStatus::Trusted
    } else if session.identity_kind != IdentityKind::Anonymous {
        CustomerStatus::Identified
    } else {
        CustomerStatus::Anonymous
    };
    let first = rules::first_message_in(
        &app.rules,
        &app.messages,
        app.login_url.as_deref(),
        status,
        view.first_name.as_deref(),
        page,
        locales,
    );
    SessionResponse {
        session_token: None,
        greeting: first.text,
        greeting_link: first.link,
        customer: view,
        trusted,
        trusted_until: if trusted { session.trusted_until } else { None },
    }
}

/// The page the widget runs on, as far as the browser tells (`Referer`:
/// the full URL on the same origin, often only the origin across origins).
pub fn page(headers: &HeaderMap) -> Option<&str> {
    headers.get(REFERER).and_then(|value| value.to_str().ok())
}

/// The languages the customer asks for, best first (`Accept-Language`,
/// which the widget sets to its locale). Opening a session, changing its
/// identity and reading it keep them on the session
/// ([`identity::remember_locales`]) for what the server writes to the
/// customer later: emails, automatic messages.
pub fn locales(headers: &HeaderMap) -> Vec<String> {
    headers
        .get(ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok())
        .map(texts::accepted_locales)
        .unwrap_or_default()
}
