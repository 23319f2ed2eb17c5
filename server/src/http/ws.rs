//! `GET /api/v1/ws`: the customer's WebSocket.
//!
//! The session token never travels in the URL (a query string is ignored):
//! the first frame must be `{"type":"auth","session_token":"..."}` within
//! `limits.ws_auth_timeout_ms`. Then the server sends `ready` and, until
//! the connection ends:
//!
//! - `message` for every new message of the customer's conversations
//!   written elsewhere (another tab, HTTP, an agent); the connection's own
//!   `send` is answered with `ack` (after the durable commit) instead;
//! - `conversation` when a conversation opens or closes;
//! - `error` for a refused `send` (with its `client_id`) or a frame of the
//!   wrong shape; the connection stays open;
//! - `pong` for `ping`, and a WebSocket ping every `ws_ping_secs`.
//!
//! It closes with the codes of [`trustchat_protocol::chat::close`]: no auth
//! in time or a refused `Origin` (1008), a frame that is not JSON (1007), a
//! frame over [`MAX_FRAME_BYTES`] (1009), a revoked session (4001), a
//! connection that fell behind (4009, resync), one connection too many
//! (4029), idle (1001), the server restarting (1012).
//!
//! Sizes, stalled clients, keep-alive and close codes follow the policy
//! both WebSockets share ([`super::socket`]).
//!
//! [`serve`] is written over any `Sink`/`Stream` of WebSocket messages, so
//! tests can drive it with channels.

use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message as WsMessage, WebSocketUpgrade};
use axum::extract::State;
use axum::http::header::{HeaderValue, ORIGIN};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures_util::{Sink, Stream, StreamExt as _};
use tokio::sync::watch;
use trustchat_protocol::chat::{close, MAX_FRAME_BYTES};
use trustchat_protocol::{ClientFrame, ErrorCode, ServerFrame};
use utoipa_axum::routes;

use crate::chat;
use crate::clock;
use crate::error::ApiError;
use crate::http::client::ClientAddr;
use crate::http::limits;
use crate::http::messages::{check_send, send_error};
use crate::http::openapi::{errors, Routes};
use crate::http::origin::check_origin;
use crate::http::socket::{self, Due, Inbound, Keepalive, Outbox};
use crate::hub::Subscription;
use crate::identity::{self, SESSION_TOKEN_PREFIX};
use crate::signals;
use crate::state::AppState;
use crate::store::SessionRecord;

/// The WebSocket route.
pub fn router() -> Routes {
    Routes::new().documented(routes!(upgrade))
}

errors!(UpgradeErrors: [RateLimited, InvalidRequest, OriginNotAllowed]);

/// The customer's WebSocket
///
/// A WebSocket upgrade (`101 Switching Protocols`); no token in the URL.
/// The client's first frame, within 5 s, is
/// `{"type":"auth","session_token":"..."}`; the server answers `ready` and
/// from then on pushes the session's new messages, status changes, the
/// agent's typing and read markers, and availability changes. Frames are
/// JSON text, at most 16 KiB: the client sends `ClientFrame`s, the server
/// `ServerFrame`s (both in the components). Close codes: 1001 idle or
/// server failure (reconnect with backoff), 1012 server restarting
/// (reconnect at once), 1007 a frame that is not JSON, 1008 no valid `auth`
/// in time or an origin the session's app does not allow, 1009 a frame
/// over 16 KiB, 4001 the session was revoked, 4009 fell behind (reconnect,
/// then `GET /api/v1/messages?after=`), 4029 too many connections for the
/// session. Connects are limited per client address, as are sockets
/// waiting for their `auth` frame (`429 rate_limited`).
#[utoipa::path(
    get,
    path = "/api/v1/ws",
    operation_id = "customerWebSocket",
    tag = "customer",
    responses(
        (status = 101, description = "Switching Protocols: the WebSocket; frames `ClientFrame` (to the server) and `ServerFrame` (from it)"),
        UpgradeErrors,
    ),
)]
async fn upgrade(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let unauthenticated = match limits::admit_socket(&state, client) {
        Ok(slot) => slot,
        Err(error) => return error.into_response(),
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => {
            tracing::debug!(%rejection, "not a WebSocket upgrade");
            return ApiError::InvalidRequest {
                message: "this endpoint is a WebSocket: connect with a WebSocket client".into(),
                field: None,
            }
            .into_response();
        }
    };
    // An origin no app allows is refused before the upgrade; whether it is
    // the session's app's is known after the auth frame.
    let origin = headers.get(ORIGIN).cloned();
    if let Some(value) = &origin {
        let allowed = value.to_str().is_ok_and(|origin| {
            let origin = origin.to_ascii_lowercase();
            state
                .config
                .apps
                .iter()
                .any(|app| app.allows_origin(&origin))
        });
        if !allowed {
            return ApiError::OriginNotAllowed {
                origin: String::from_utf8_lossy(value.as_bytes())
                    .chars()
                    .take(200)
                    .collect(),
                app_id: None,
            }
            .into_response();
        }
    }
    // The page the chat runs on, for the rules, when the browser says.
    let page = super::sessions::page(&headers).map(str::to_owned);
    socket::sized(ws).on_upgrade(move |socket| {
        let (sink, stream) = socket.split();
        let stream = unauthenticated.until_first_frame(stream);
        serve(state, origin, page, sink, stream)
    })
}

/// Runs one customer connection until it ends: auth, `ready`, then frames
/// both ways. `origin` is the upgrade request's `Origin` header, `page`
/// its `Referer` (the page the chat runs on, for the app's rules).
pub async fn serve<W, R>(
    state: AppState,
    origin: Option<HeaderValue>,
    page: Option<String>,
    sink: W,
    mut stream: R,
) where
    W: Sink<WsMessage> + Unpin,
    R: Stream<Item = Result<WsMessage, axum::Error>> + Unpin,
{
    let _open = crate::metrics::OpenSocket::new("customer");
    let mut out = Outbox::new(sink);
    let Some(session) = authenticate(&state, origin.as_ref(), &mut out, &mut stream).await else {
        return;
    };
    let limits = &state.config.limits;
    let mut subscription = match state.hub.subscribe_customer(
        identity::listener(&session),
        limits.ws_connections_per_session,
    ) {
        Ok(subscription) => subscription,
        Err(too_many) => {
            let frame = error_frame(
                ErrorCode::TooManyConnections,
                format!("{too_many}; close another tab's chat or wait for it to disconnect"),
                None,
                None,
            );
            out.frame(&frame).await;
            out.close(close::TOO_MANY_CONNECTIONS, "too many connections")
                .await;
            return;
        }
    };
    out.watch(subscription.close_signal());
    let mut connection = Connection {
        state: &state,
        session_id: session.id.clone(),
        session_changes: subscription.session_changes(),
        known: None,
        page,
        typing: socket::TypingLimit::default(),
        out,
    };
    // Subscribed first, then read: a change of the session after the
    // auth frame's read reaches this connection from here on, and the
    // session read now is the one its sends start from; and whatever is
    // committed after `ready`'s last_seq is delivered, nothing falls in
    // between.
    let session = match connection.session().await {
        Ok(Some(session)) => session,
        Ok(None) => {
            connection
                .out
                .close(close::UNAUTHORIZED, "session revoked")
                .await;
            return;
        }
        Err(error) => {
            tracing::error!(error = %crate::error::error_chain(&error), "reading the session failed");
            connection
                .out
                .close(close::GOING_AWAY, "internal error")
                .await;
            return;
        }
    };
    let reader = identity::reader(&session, clock::now_secs());
    match chat::ready_frame(state.store.as_ref(), &reader).await {
        Ok(ready) => {
            if !connection.out.frame(&ready).await {
                return;
            }
        }
        Err(error) => {
            tracing::error!(error = %crate::error::error_chain(&error), "ready frame failed");
            connection
                .out
                .close(close::GOING_AWAY, "internal error")
                .await;
            return;
        }
    }
    connection.run(&mut subscription, &mut stream).await;
}

/// Waits for the `auth` frame and checks the session and the origin;
/// closes the connection and returns `None` when they do not pass.
async fn authenticate<W, R>(
    state: &AppState,
    origin: Option<&HeaderValue>,
    out: &mut Outbox<W>,
    stream: &mut R,
) -> Option<SessionRecord>
where
    W: Sink<WsMessage> + Unpin,
    R: Stream<Item = Result<WsMessage, axum::Error>> + Unpin,
{
    let timeout = Duration::from_millis(state.config.limits.ws_auth_timeout_ms);
    let first = tokio::time::timeout(timeout, async {
        loop {
            match stream.next().await {
                Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
                Some(Ok(WsMessage::Text(text))) => break Some(text),
                _ => break None,
            }
        }
    })
    .await;
    let text = match first {
        Err(_elapsed) => {
            out.close(close::POLICY, "send the auth frame first").await;
            return None;
        }
        Ok(None) => {
            out.close(close::POLICY, "the first frame must be an auth frame")
                .await;
            return None;
        }
        Ok(Some(text)) => text,
    };
    if text.len() > MAX_FRAME_BYTES {
        out.close(close::TOO_BIG, "frame too big").await;
        return None;
    }
    let Some(session_token) = auth_frame(&text) else {
        out.close(close::POLICY, "the first frame must be an auth frame")
            .await;
        return None;
    };
    let session = match live_session(state, &session_token).await {
        Ok(Some(session)) => session,
        Ok(None) => {
            let error = ApiError::Unauthorized;
            out.frame(&api_error_frame(&error, None)).await;
            out.close(close::UNAUTHORIZED, "unauthorized").await;
            return None;
        }
        Err(error) => {
            logged(error);
            out.close(close::GOING_AWAY, "internal error").await;
            return None;
        }
    };
    let Some(app) = state.app(&session.app_id) else {
        out.close(close::UNAUTHORIZED, "unauthorized").await;
        return None;
    };
    let mut headers = HeaderMap::new();
    if let Some(origin) = origin {
        headers.insert(ORIGIN, origin.clone());
    }
    if let Err(error) = check_origin(&headers, &app) {
        tracing::debug!(session = %session.id, "WebSocket from an origin the session's app does not allow");
        out.frame(&api_error_frame(&error, None)).await;
        out.close(close::POLICY, "origin not allowed").await;
        return None;
    }
    Some(session)
}

/// The session token of a connection's first frame, `None` when the text
/// is not an `auth` frame. Pure, like [`client_frame`], so the parsing can
/// be tested and fuzzed without a socket (`fuzz/`).
pub fn auth_frame(text: &str) -> Option<String> {
    match serde_json::from_str::<ClientFrame>(text) {
        Ok(ClientFrame::Auth { session_token }) => Some(session_token),
        _ => None,
    }
}

/// Why a frame after `auth` was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Not JSON: the connection closes with 1007.
    NotJson,
    /// JSON of the wrong shape: answered with an `invalid_request` error
    /// frame carrying this message; the connection stays open.
    Invalid(String),
}

/// Parses a text frame after `auth` (its size already checked by
/// [`socket::inbound`]).
pub fn client_frame(text: &str) -> Result<ClientFrame, FrameError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| FrameError::NotJson)?;
    serde_json::from_value::<ClientFrame>(value)
        .map_err(|error| FrameError::Invalid(format!("invalid frame: {error}")))
}

/// The live (known, not revoked) session of a token.
async fn live_session(state: &AppState, token: &str) -> Result<Option<SessionRecord>, ApiError> {
    if !token.starts_with(SESSION_TOKEN_PREFIX) || token.len() > 128 {
        return Ok(None);
    }
    let session = state
        .store
        .session_by_token_hash(&identity::hash_token(token))
        .await?;
    Ok(session.filter(|session| session.revoked_at.is_none()))
}

/// An authenticated connection.
struct Connection<'a, W> {
    /// Store, hub, limits.
    state: &'a AppState,
    /// The session.
    session_id: String,
    /// Bumped by the hub whenever the session changes, on any server.
    session_changes: watch::Receiver<u64>,
    /// The session as last read, with the counter it was read at: a send
    /// uses it while the counter stands still and the other servers'
    /// events are arriving; otherwise it reads the session again.
    known: Option<(u64, SessionRecord)>,
    /// The page the chat runs on, when the browser said.
    page: Option<String>,
    /// Typing notices that count.
    typing: socket::TypingLimit,
    /// The socket's sending half.
    out: Outbox<W>,
}

impl<W> Connection<'_, W>
where
    W: Sink<WsMessage> + Unpin,
{
    async fn run<R>(&mut self, subscription: &mut Subscription, stream: &mut R)
    where
        R: Stream<Item = Result<WsMessage, axum::Error>> + Unpin,
    {
        let mut keepalive = Keepalive::new(&self.state.config.limits);
        loop {
            tokio::select! {
                incoming = stream.next() => {
                    let Some(Ok(incoming)) = incoming else { return };
                    keepalive.heard();
                    if !self.incoming(incoming, subscription.id()).await {
                        return;
                    }
                }
                delivered = subscription.next() => match delivered {
                    Ok(frame) => {
                        if !self.out.frame(&frame).await {
                            return;
                        }
                    }
                    Err(reason) => {
                        self.out
                            .close_for(reason, "resync: fetch messages after your last seq", "session revoked")
                            .await;
                        return;
                    }
                },
                due = keepalive.due() => match due {
                    Due::Idle => {
                        self.out.close(close::GOING_AWAY, "idle").await;
                        return;
                    }
                    Due::Ping => {
                        if !self.out.ping().await {
                            return;
                        }
                    }
                },
            }
        }
    }

    /// Handles one incoming message; false when the connection must end.
    async fn incoming(&mut self, incoming: WsMessage, subscriber: u64) -> bool {
        let text = match socket::inbound(incoming, &mut self.out).await {
            Inbound::Text(text) => text,
            Inbound::Skip => return true,
            Inbound::End => return false,
        };
        let frame = match client_frame(&text) {
            Ok(frame) => frame,
            Err(FrameError::NotJson) => {
                self.out
                    .close(close::INVALID_FRAME, "frames are JSON")
                    .await;
                return false;
            }
            Err(FrameError::Invalid(message)) => {
                let frame = error_frame(ErrorCode::InvalidRequest, message, None, None);
                return self.out.frame(&frame).await;
            }
        };
        let reply = match frame {
            ClientFrame::Ping => ServerFrame::Pong,
            ClientFrame::Typing => {
                if self.typing.allows("") {
                    if let Some(session) = self.signalling().await {
                        let signalled = signals::customer_typing(self.state.ctx(), &session).await;
                        if let Err(error) = signalled {
                            tracing::error!(error = %crate::error::error_chain(&error), "typing signal failed");
                        }
                    }
                }
                return true;
            }
            ClientFrame::Page { url } => {
                let Some(session) = self.signalling().await else {
                    return true;
                };
                match chat::navigate(self.state.ctx(), &session, &url).await {
                    Ok(()) => return true,
                    Err(error) => api_error_frame(&logged(send_error(error)), None),
                }
            }
            ClientFrame::Read { seq } => {
                if let Some(session) = self.signalling().await {
                    let signalled = signals::customer_read(self.state.ctx(), &session, seq).await;
                    if let Err(error) = signalled {
                        tracing::error!(error = %crate::error::error_chain(&error), "read signal failed");
                    }
                }
                return true;
            }
            ClientFrame::Auth { .. } => error_frame(
                ErrorCode::InvalidRequest,
                "this connection is authenticated already".into(),
                None,
                None,
            ),
            ClientFrame::Send { client_id, body } => {
                match self.send(&client_id, &body, subscriber).await {
                    Ok(reply) => reply,
                    Err(Revoked) => {
                        self.out.close(close::UNAUTHORIZED, "session revoked").await;
                        return false;
                    }
                }
            }
        };
        self.out.frame(&reply).await
    }

    /// The session for a typing or read signal: `None` once revoked (the
    /// next send finds out and closes) or when it cannot be read (logged:
    /// signals are best effort).
    async fn signalling(&mut self) -> Option<SessionRecord> {
        match self.session().await {
            Ok(session) => session,
            Err(error) => {
                tracing::error!(error = %crate::error::error_chain(&error), "reading the session for a signal failed");
                None
            }
        }
    }

    /// A `send`: the same checks and storage as `POST /api/v1/messages`,
    /// answered with `ack` once durably stored.
    async fn send(
        &mut self,
        client_id: &str,
        body: &str,
        subscriber: u64,
    ) -> Result<ServerFrame, Revoked> {
        let state = self.state;
        if let Err(error) = check_send(state, &self.session_id, client_id, body) {
            return Ok(api_error_frame(&error, Some(client_id)));
        }
        let session = match self.session().await {
            Ok(Some(session)) => session,
            Ok(None) => return Err(Revoked),
            Err(error) => {
                return Ok(api_error_frame(
                    &logged(ApiError::from(error)),
                    Some(client_id),
                ))
            }
        };
        let sent = chat::send_customer_message(
            state.ctx(),
            &session,
            client_id,
            body,
            Some(subscriber),
            self.page.as_deref(),
        )
        .await;
        Ok(match sent {
            Ok(sent) => ServerFrame::Ack {
                client_id: client_id.to_owned(),
                message: sent.message,
            },
            Err(error) => api_error_frame(&logged(send_error(error)), Some(client_id)),
        })
    }
}

impl<W> Connection<'_, W> {
    /// The session as it is now, `None` once revoked: the one in memory
    /// while nothing changed it, else read again. Every change of a
    /// session's identity or trust reaches the hub (`update_session`, and
    /// from other servers through the bus), and a revocation closes the
    /// connection; while the bus is down, events may be missed, so every
    /// send reads the session. The trust of a message is decided from the
    /// session's `trusted_until` at the moment it is stored either way.
    async fn session(&mut self) -> Result<Option<SessionRecord>, crate::store::StoreError> {
        let version = *self.session_changes.borrow();
        if let Some((known, session)) = &self.known {
            if *known == version && self.state.bus.connected() {
                return Ok(Some(session.clone()));
            }
        }
        let read = self.state.store.session(&self.session_id).await?;
        let live = read.filter(|session| session.revoked_at.is_none());
        self.known = live.clone().map(|session| (version, session));
        Ok(live)
    }
}

/// The session was revoked while the connection was open.
struct Revoked;

/// An `error` frame.
fn error_frame(
    code: ErrorCode,
    message: String,
    client_id: Option<&str>,
    retry_after: Option<u64>,
) -> ServerFrame {
    ServerFrame::Error {
        code: code.as_str().to_owned(),
        message,
        client_id: client_id.map(str::to_owned),
        retry_after,
    }
}

/// The `error` frame of an API error, with the same code and message as
/// over HTTP (and never an internal error's details).
fn api_error_frame(error: &ApiError, client_id: Option<&str>) -> ServerFrame {
    let detail = error.body().error;
    ServerFrame::Error {
        code: detail.code,
        message: detail.message,
        client_id: client_id.map(str::to_owned),
        retry_after: detail.retry_after,
    }
}

/// Logs an internal error as the HTTP layer would, and passes it on.
fn logged(error: ApiError) -> ApiError {
    if let ApiError::Internal(inner) = &error {
        tracing::error!(error = %crate::error::error_chain(inner.as_ref()), "WebSocket send failed");
    }
    error
}
