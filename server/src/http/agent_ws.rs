//! `GET /api/v1/agent/ws`: the agent console's WebSocket.
//!
//! Authenticated at the upgrade by the session cookie, from the server's
//! own origin only ([`super::agent_auth`]); a refused upgrade is a JSON
//! 401 or 403. Then the server sends `ready` with the agent, hands out
//! the queue (the agent is online now), and until the connection ends:
//! `message` for every new message in a conversation routed to the agent,
//! `conversation` when one is routed to or away from them, closed, or its
//! customer's verification changes, and `pong` for `ping`. Buffers are
//! bounded as for customers ([`crate::hub`]): a console that falls behind
//! is closed with 4009 and refetches on reconnect. The session is checked
//! again at every keep-alive ping, so a logout or a removed agent closes
//! it (4001).
//!
//! [`serve`] is written over any `Sink`/`Stream` of WebSocket messages.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use futures_util::{Sink, SinkExt as _, Stream, StreamExt as _};
use tokio::time::Instant;
use trustchat_protocol::chat::{close, MAX_FRAME_BYTES};
use trustchat_protocol::{AgentClientFrame, AgentServerFrame};

use crate::agents;
use crate::console;
use crate::http::agent_auth::{cookie_token, AgentSession};
use crate::hub::CloseReason;
use crate::state::AppState;

/// The agent WebSocket route.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/agent/ws", get(upgrade))
}

async fn upgrade(
    State(state): State<AppState>,
    auth: AgentSession,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let token = cookie_token(&headers).unwrap_or_default().to_owned();
    ws.max_message_size(4 * MAX_FRAME_BYTES)
        .max_frame_size(4 * MAX_FRAME_BYTES)
        .read_buffer_size(4 * 1024)
        .on_upgrade(move |socket| {
            let (sink, stream) = socket.split();
            serve(state, auth, token, sink, stream)
        })
}

/// Runs one console connection of an authenticated agent until it ends.
pub async fn serve<W, R>(
    state: AppState,
    auth: AgentSession,
    token: String,
    mut sink: W,
    mut stream: R,
) where
    W: Sink<WsMessage> + Unpin,
    R: Stream<Item = Result<WsMessage, axum::Error>> + Unpin,
{
    let agent_id = auth.agent.id.clone();
    // Online on this server from here to the end of the connection; the
    // other servers learn it at once through the presence heartbeat.
    let _online = Online(&state.presence);
    let mut subscription = state.hub.subscribe_agent(&agent_id);
    state.presence.local_changed();
    let ready = AgentServerFrame::Ready {
        agent: agents::agent_view(&auth.agent, true),
    };
    if !send_frame(&mut sink, &ready).await {
        return;
    }
    // Online now: conversations waiting for an agent may be this one's.
    if let Err(error) = console::drain_queue(state.ctx()).await {
        tracing::error!(error = %crate::error::error_chain(&error), "handing out the queue failed");
    }
    let limits = &state.config.limits;
    let idle = Duration::from_secs(limits.ws_idle_secs);
    let every = Duration::from_secs(limits.ws_ping_secs);
    let mut ping = tokio::time::interval_at(Instant::now() + every, every);
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            incoming = stream.next() => {
                let Some(Ok(incoming)) = incoming else { return };
                last_heard = Instant::now();
                let text = match incoming {
                    WsMessage::Text(text) => text,
                    WsMessage::Ping(_) | WsMessage::Pong(_) => continue,
                    WsMessage::Close(_) => return,
                    WsMessage::Binary(_) => {
                        close_with(&mut sink, close::INVALID_FRAME, "frames are JSON text").await;
                        return;
                    }
                };
                if text.len() > MAX_FRAME_BYTES {
                    close_with(&mut sink, close::TOO_BIG, "frame too big").await;
                    return;
                }
                match serde_json::from_str::<AgentClientFrame>(&text) {
                    Ok(AgentClientFrame::Ping) => {
                        if !send_frame(&mut sink, &AgentServerFrame::Pong).await {
                            return;
                        }
                    }
                    Err(_) => {
                        close_with(&mut sink, close::INVALID_FRAME, "frames are JSON: {\"type\":\"ping\"}").await;
                        return;
                    }
                }
            }
            delivered = subscription.next() => match delivered {
                Ok(frame) => {
                    if !send_frame(&mut sink, &frame).await {
                        return;
                    }
                }
                Err(reason) => {
                    let (code, why) = match reason {
                        CloseReason::Lagged => (close::RESYNC, "resync: refetch the conversations"),
                        CloseReason::Revoked => (close::UNAUTHORIZED, "logged out"),
                        CloseReason::Shutdown => (close::SERVICE_RESTART, "server restarting: reconnect"),
                    };
                    close_with(&mut sink, code, why).await;
                    return;
                }
            },
            _ = ping.tick() => {
                if last_heard.elapsed() >= idle {
                    close_with(&mut sink, close::GOING_AWAY, "idle").await;
                    return;
                }
                match agents::authenticate(state.store.as_ref(), &token).await {
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        close_with(&mut sink, close::UNAUTHORIZED, "logged out").await;
                        return;
                    }
                    Err(error) => tracing::error!(error = %crate::error::error_chain(&error), "agent session check failed"),
                }
                if sink.send(WsMessage::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Sends a frame; false when the connection is gone. A console that does
/// not take a frame within 10 seconds is dead.
async fn send_frame<W: Sink<WsMessage> + Unpin>(sink: &mut W, frame: &AgentServerFrame) -> bool {
    let Ok(text) = serde_json::to_string(frame) else {
        return false;
    };
    matches!(
        tokio::time::timeout(
            Duration::from_secs(10),
            sink.send(WsMessage::Text(text.into()))
        )
        .await,
        Ok(Ok(()))
    )
}

async fn close_with<W: Sink<WsMessage> + Unpin>(sink: &mut W, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        sink.send(WsMessage::Close(Some(frame))),
    )
    .await;
}

/// Tells presence that this server's agents changed when a console
/// connection ends.
struct Online<'a>(&'a crate::presence::Presence);

impl Drop for Online<'_> {
    fn drop(&mut self) {
        self.0.local_changed();
    }
}
