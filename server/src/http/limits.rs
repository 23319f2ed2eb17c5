//! Per-address limits at the edges of the routes that cost the most, each
//! a call at the top of a handler or a layer, all keyed by [`ClientAddr`]:
//!
//! - [`check_session`]: `POST /api/v1/apps/{id}/sessions`, a token bucket
//!   per address (`limits.sessions_per_minute_per_address`, burst
//!   `session_burst_per_address`) → 429 `rate_limited`.
//! - [`admit_socket`]: `GET /api/v1/ws`, a token bucket per address for
//!   connects, and one of the address's unauthenticated-socket slots, held
//!   until the socket's first frame ([`Unauthenticated::until_first_frame`])
//!   → 429 `rate_limited`.
//! - [`login_guard`]: `POST /api/v1/agent/login`. An email over 254 bytes
//!   is a 400 `field_too_long` before any limiter or hash; then the login
//!   waits for one of the few password-check permits (503 `server_busy`
//!   after `agent.login_queue_timeout_ms`) and holds it while the login
//!   handler runs its limiter check and its one argon2 verification, to
//!   the end even if the client hangs up; a successful login tells the
//!   limiter that address is the agent's.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::Deserialize;
use trustchat_protocol::validate::MAX_EMAIL_LEN;

use crate::error::{ApiError, MAX_JSON_BODY};
use crate::http::client::ClientAddr;
use crate::rate::Slot;
use crate::state::AppState;

/// The agent login route, which [`login_guard`] watches.
pub const LOGIN_PATH: &str = "/api/v1/agent/login";

/// Takes one session creation from the client's bucket.
pub fn check_session(state: &AppState, client: ClientAddr) -> Result<(), ApiError> {
    state
        .limits
        .sessions
        .check(&client.key())
        .map_err(|retry_after| {
            tracing::debug!(client = ?client.0, "session creation rate-limited");
            ApiError::TooMany {
                what: "new sessions",
                retry_after,
            }
        })
}

/// Takes one WebSocket connect from the client's bucket and one of its
/// unauthenticated-socket slots.
pub fn admit_socket(state: &AppState, client: ClientAddr) -> Result<Unauthenticated, ApiError> {
    let limits = &state.limits;
    limits
        .ws_connects
        .check(&client.key())
        .map_err(|retry_after| {
            tracing::debug!(client = ?client.0, "WebSocket connects rate-limited");
            ApiError::TooMany {
                what: "WebSocket connects",
                retry_after,
            }
        })?;
    let slot = limits.unauthenticated.take(client.key()).ok_or_else(|| {
        tracing::debug!(client = ?client.0, "too many unauthenticated WebSockets");
        ApiError::TooMany {
            what: "WebSockets waiting to authenticate",
            // A socket leaves that state within the auth timeout.
            retry_after: crate::rate::retry_secs(std::time::Duration::from_millis(
                state.config.limits.ws_auth_timeout_ms,
            )),
        }
    })?;
    Ok(Unauthenticated { _slot: slot })
}

/// An unauthenticated-socket slot of a client address.
#[derive(Debug)]
pub struct Unauthenticated {
    /// Given back on drop.
    _slot: Slot,
}

impl Unauthenticated {
    /// Wraps the socket's incoming stream so that the slot is given back
    /// when the first message arrives (the auth frame), or when the stream
    /// ends or is dropped.
    pub fn until_first_frame<S>(self, stream: S) -> UntilFirstFrame<S> {
        UntilFirstFrame {
            inner: stream,
            slot: Some(self),
        }
    }
}

/// A stream that holds an [`Unauthenticated`] slot until its first item.
#[derive(Debug)]
pub struct UntilFirstFrame<S> {
    /// The socket's incoming messages.
    inner: S,
    /// Given back at the first message.
    slot: Option<Unauthenticated>,
}

impl<S: Stream + Unpin> Stream for UntilFirstFrame<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let item = Pin::new(&mut self.inner).poll_next(cx);
        if item.is_ready() {
            self.slot = None;
        }
        item
    }
}

/// The one field of a login body the guard looks at.
#[derive(Deserialize)]
struct LoginEmail {
    /// Anything; only a string's length matters here.
    #[serde(default)]
    email: Option<serde_json::Value>,
}

/// Middleware on every request; acts on `POST /api/v1/agent/login` only
/// (see the module docs).
pub async fn login_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST || request.uri().path() != LOGIN_PATH {
        return next.run(request).await;
    }
    let client = request.extensions().get::<ClientAddr>().copied();
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_JSON_BODY).await {
        Ok(bytes) => bytes,
        Err(error) => {
            let too_large = std::error::Error::source(&error)
                .is_some_and(|e| e.is::<http_body_util::LengthLimitError>());
            return if too_large {
                ApiError::PayloadTooLarge
            } else {
                ApiError::MalformedJson("the request body could not be read".into())
            }
            .into_response();
        }
    };
    let email = login_email(&bytes);
    if email
        .as_ref()
        .is_some_and(|email| email.len() > MAX_EMAIL_LEN)
    {
        tracing::debug!("agent login with an over-long email refused");
        return ApiError::FieldTooLong {
            field: "email",
            max: MAX_EMAIL_LEN,
        }
        .into_response();
    }
    let checks = &state.limits.password_checks;
    let Ok(permit) = checks.acquire().await else {
        tracing::warn!(
            running = checks.in_use(),
            "agent login refused: password checks busy"
        );
        return ApiError::ServerBusy { retry_after: 5 }.into_response();
    };
    // The login runs in its own task, holding the permit: should this
    // future be dropped mid-login (a timeout layer, a connection torn
    // down), the argon2 check on its blocking thread would run on, and
    // must keep its permit until it ends.
    let request = Request::from_parts(parts, Body::from(bytes));
    let login = tokio::spawn(async move {
        let _permit = permit;
        next.run(request).await
    });
    let response = match login.await {
        Ok(response) => response,
        Err(error) => return ApiError::internal(error).into_response(),
    };
    if response.status() == StatusCode::OK {
        if let Some(email) = email {
            let ip = client.and_then(|c| c.0).map(|ip| ip.to_string());
            state.login_limiter.succeeded(&email, ip.as_deref());
        }
    }
    response
}

/// The login body's `email` when it is a string.
fn login_email(bytes: &Bytes) -> Option<String> {
    match serde_json::from_slice::<LoginEmail>(bytes).ok()?.email? {
        serde_json::Value::String(email) => Some(email),
        _ => None,
    }
}
