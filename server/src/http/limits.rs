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
//!
//! The agent login's own guards (an over-long email, the limiter, the
//! password-check permits) are in its handler, `http::agent::login`.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;

use crate::error::ApiError;
use crate::http::client::ClientAddr;
use crate::rate::Slot;
use crate::state::AppState;

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
