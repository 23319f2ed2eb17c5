//! `GET /api/v1/agent/ws`: the agent console's WebSocket.
//!
//! Authenticated at the upgrade by the session cookie, from the server's
//! own origin only ([`super::agent_auth`]); a refused upgrade is a JSON
//! 401 or 403. Then the server sends `ready` with the agent, hands out
//! the queue (the agent is online now), and until the connection ends:
//! `message` for every new message in a conversation routed to the agent,
//! `conversation` when one is routed to or away from them, closed, or its
//! customer's verification changes, and `pong` for `ping`. Sizes, stalls,
//! keep-alive and close codes are the customer socket's
//! ([`super::socket`]): a console that falls behind is closed with 4009
//! and refetches on reconnect. The session is checked
//! again at every keep-alive ping, so a logout or a removed agent closes
//! it (4001). Frames about conversations of apps outside the agent's
//! teams are never sent (their teams are read again at every ping).
//!
//! [`serve`] is written over any `Sink`/`Stream` of WebSocket messages.

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message as WsMessage, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse as _, Response};
use futures_util::{Sink, Stream, StreamExt as _};
use trustchat_protocol::chat::close;
use trustchat_protocol::{AgentClientFrame, AgentServerFrame};
use utoipa_axum::routes;

use crate::agents;
use crate::console;
use crate::error::ApiError;
use crate::http::agent_auth::{cookie_token, AgentSession};
use crate::http::openapi::{errors, Routes};
use crate::http::socket::{self, Due, Inbound, Keepalive, Outbox};
use crate::scope::Scope;
use crate::signals;
use crate::state::AppState;

/// The agent WebSocket route.
pub fn router() -> Routes {
    Routes::new().documented(routes!(upgrade))
}

errors!(UpgradeErrors: AGENT_READ, [InvalidRequest]);

/// The agent console's WebSocket
///
/// A WebSocket upgrade (`101 Switching Protocols`), authenticated by the
/// session cookie at the upgrade, from the server's own origin only. The
/// server sends `ready`, then the new messages of the agent's
/// conversations, conversations routed to or away from them, closed or
/// changing verification, queue changes, the customer's typing and read
/// markers, and `pong`. Frames are JSON text: the client sends
/// `AgentClientFrame`s, the server `AgentServerFrame`s (both in the
/// components). Close codes as the customer's WebSocket; 4001 once the
/// session is logged out.
#[utoipa::path(
    get,
    path = "/api/v1/agent/ws",
    operation_id = "agentWebSocket",
    tag = "agent",
    security(("agentSession" = [])),
    responses(
        (status = 101, description = "Switching Protocols: the WebSocket; frames `AgentClientFrame` (to the server) and `AgentServerFrame` (from it)"),
        UpgradeErrors,
    ),
)]
async fn upgrade(
    State(state): State<AppState>,
    auth: AgentSession,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
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
    let token = cookie_token(&headers).unwrap_or_default().to_owned();
    socket::sized(ws).on_upgrade(move |socket| {
        let (sink, stream) = socket.split();
        serve(state, auth, token, sink, stream)
    })
}

/// Runs one console connection of an authenticated agent until it ends.
pub async fn serve<W, R>(state: AppState, auth: AgentSession, token: String, sink: W, mut stream: R)
where
    W: Sink<WsMessage> + Unpin,
    R: Stream<Item = Result<WsMessage, axum::Error>> + Unpin,
{
    let _open = crate::metrics::OpenSocket::new("agent");
    let agent_id = auth.agent.id.clone();
    // Online on this server from here to the end of the connection; the
    // other servers learn it at once through the presence heartbeat.
    let _online = Online(&state.presence);
    let mut subscription = state.hub.subscribe_agent(&agent_id);
    state.presence.local_changed();
    let mut out = Outbox::new(sink);
    out.watch(subscription.close_signal());
    let ready = AgentServerFrame::Ready {
        agent: agents::agent_view(&auth.agent, true),
    };
    if !out.frame(&ready).await {
        return;
    }
    // Online now: conversations waiting for an agent may be this one's.
    if let Err(error) = console::drain_queue(state.ctx()).await {
        tracing::error!(error = %crate::error::error_chain(&error), "handing out the queue failed");
    }
    let mut keepalive = Keepalive::new(&state.config.limits);
    let mut scope = auth.scope.clone();
    let mut typing = socket::TypingLimit::default();
    loop {
        tokio::select! {
            incoming = stream.next() => {
                let Some(Ok(incoming)) = incoming else { return };
                keepalive.heard();
                let text = match socket::inbound(incoming, &mut out).await {
                    Inbound::Text(text) => text,
                    Inbound::Skip => continue,
                    Inbound::End => return,
                };
                match serde_json::from_str::<AgentClientFrame>(&text) {
                    Ok(AgentClientFrame::Ping) => {
                        if !out.frame(&AgentServerFrame::Pong).await {
                            return;
                        }
                    }
                    Ok(AgentClientFrame::Typing { conversation_id }) => {
                        if typing.allows(&conversation_id) {
                            if let Err(error) = signals::agent_typing(state.ctx(), &auth.agent, &scope, &conversation_id).await {
                                tracing::error!(error = %crate::error::error_chain(&error), "typing signal failed");
                            }
                        }
                    }
                    Err(_) => {
                        out.close(close::INVALID_FRAME, "frames are JSON: {\"type\":\"ping\"}").await;
                        return;
                    }
                }
            }
            delivered = subscription.next() => match delivered {
                Ok(frame) => {
                    // Only the apps the agent's teams serve, should a
                    // conversation of another reach them (teams changed
                    // while it was theirs).
                    if !in_scope(&scope, &frame) {
                        continue;
                    }
                    if !out.frame(&frame).await {
                        return;
                    }
                }
                Err(reason) => {
                    out.close_for(reason, "resync: refetch the conversations", "logged out").await;
                    return;
                }
            },
            due = keepalive.due() => match due {
                Due::Idle => {
                    out.close(close::GOING_AWAY, "idle").await;
                    return;
                }
                Due::Ping => {
                    // The session is checked again at every ping.
                    match agents::authenticate(state.store.as_ref(), &token).await {
                        Ok(Some(_)) => {
                            // Teams may have changed (`agent teams --set`).
                            match crate::scope::of(&state.config, state.store.as_ref(), &agent_id).await {
                                Ok(now) => scope = now,
                                Err(error) => tracing::error!(error = %crate::error::error_chain(&error), "agent scope check failed"),
                            }
                        }
                        Ok(None) => {
                            out.close(close::UNAUTHORIZED, "logged out").await;
                            return;
                        }
                        Err(error) => tracing::error!(error = %crate::error::error_chain(&error), "agent session check failed"),
                    }
                    if !out.ping().await {
                        return;
                    }
                }
            },
        }
    }
}

/// Whether a frame is about a conversation of an app in `scope`.
fn in_scope(scope: &Scope, frame: &AgentServerFrame) -> bool {
    match frame {
        AgentServerFrame::Message { conversation, .. }
        | AgentServerFrame::Conversation { conversation } => scope.allows(&conversation.app_id),
        AgentServerFrame::Queue { app_id } => scope.allows(app_id),
        // Only for conversations routed to the agent, checked when sent.
        AgentServerFrame::Typing { .. } | AgentServerFrame::Read { .. } => true,
        AgentServerFrame::Ready { .. } | AgentServerFrame::Pong => true,
    }
}

/// Tells presence that this server's agents changed when a console
/// connection ends.
struct Online<'a>(&'a crate::presence::Presence);

impl Drop for Online<'_> {
    fn drop(&mut self) {
        self.0.local_changed();
    }
}
