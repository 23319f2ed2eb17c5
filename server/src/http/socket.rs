//! What the customer's and the agent's WebSockets share (`ws.rs`,
//! `agent_ws.rs`): one policy for frame sizes, stalled clients, keep-alive
//! and closing, so that the two connections cannot drift apart.
//!
//! - **Sizes.** The WebSocket layer refuses frames over
//!   [`HARD_FRAME_LIMIT`] itself (the connection just ends); between
//!   [`MAX_FRAME_BYTES`] and that, [`inbound`] closes with 1009 and a
//!   reason. Binary frames close with 1007: frames are JSON text.
//! - **Stalls.** A client that stops reading blocks our writes. Every
//!   write of an [`Outbox`] gives up as soon as the hub drops the
//!   connection (its buffer filled up, or the session was revoked), so a
//!   stalled socket never keeps its task or its buffer alive.
//! - **Keep-alive.** A WebSocket ping every `limits.ws_ping_secs`; a
//!   connection that sent nothing for `limits.ws_idle_secs` closes with
//!   1001 ([`Keepalive`]).
//! - **Closing.** The hub's reasons map to one set of codes
//!   ([`Outbox::close_for`]): fell behind 4009, revoked 4001, the server
//!   restarting 1012.

use std::time::Duration;
use trustchat_protocol::chat::TYPING_EVERY_SECS;

use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocketUpgrade};
use futures_util::{Sink, SinkExt as _};
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::{Instant, Interval};
use trustchat_protocol::chat::{close, MAX_FRAME_BYTES};

use crate::config::LimitsConfig;
use crate::hub::CloseReason;

/// Frames above this size are refused by the WebSocket layer itself.
pub const HARD_FRAME_LIMIT: usize = 4 * MAX_FRAME_BYTES;

/// The initial read buffer of a socket, in bytes; it grows for larger
/// frames. tungstenite reads into a 128 KiB buffer per socket by default;
/// frames are small, and thousands of idle sockets should not cost 128 KiB
/// each.
pub const READ_BUFFER: usize = 4 * 1024;

/// An upgrade with the sizes of every TrustChat WebSocket.
pub fn sized(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.max_message_size(HARD_FRAME_LIMIT)
        .max_frame_size(HARD_FRAME_LIMIT)
        .read_buffer_size(READ_BUFFER)
}

/// The sending half of a socket, which gives up as soon as the hub drops
/// the connection.
pub struct Outbox<W> {
    /// The socket.
    sink: W,
    /// Set once subscribed: the hub's close signal.
    dropped: Option<watch::Receiver<Option<CloseReason>>>,
}

impl<W> Outbox<W>
where
    W: Sink<WsMessage> + Unpin,
{
    /// The outbox of a socket not yet subscribed to the hub.
    pub fn new(sink: W) -> Outbox<W> {
        Outbox {
            sink,
            dropped: None,
        }
    }

    /// From now on, writes give up when the hub drops the connection.
    pub fn watch(&mut self, dropped: watch::Receiver<Option<CloseReason>>) {
        self.dropped = Some(dropped);
    }

    /// Sends a frame as JSON text; false when the connection is gone.
    pub async fn frame<T: Serialize>(&mut self, frame: &T) -> bool {
        match serde_json::to_string(frame) {
            Ok(text) => self.send(WsMessage::Text(text.into())).await,
            Err(error) => {
                tracing::error!(%error, "cannot serialize a frame");
                false
            }
        }
    }

    /// Sends a WebSocket ping; false when the connection is gone.
    pub async fn ping(&mut self) -> bool {
        self.send(WsMessage::Ping(Default::default())).await
    }

    /// Sends a close frame with a code and reason; the caller then ends.
    pub async fn close(&mut self, code: u16, reason: &'static str) {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        // A socket that does not take even this within a second is dead.
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            self.sink.send(WsMessage::Close(Some(frame))),
        )
        .await;
    }

    /// Closes for the reason the hub let go of the connection: `resync`
    /// and `revoked` say, in the client's terms, what to do.
    pub async fn close_for(
        &mut self,
        reason: CloseReason,
        resync: &'static str,
        revoked: &'static str,
    ) {
        let (code, why) = match reason {
            CloseReason::Lagged => (close::RESYNC, resync),
            CloseReason::Revoked => (close::UNAUTHORIZED, revoked),
            CloseReason::Shutdown => (close::SERVICE_RESTART, "server restarting: reconnect"),
        };
        self.close(code, why).await;
    }

    /// Sends a message; false when the socket failed or the hub dropped
    /// the connection while the write was blocked.
    async fn send(&mut self, message: WsMessage) -> bool {
        match &mut self.dropped {
            None => self.sink.send(message).await.is_ok(),
            Some(dropped) => {
                let mut dropped = dropped.clone();
                // Biased: a socket that takes the write does so on the
                // first poll, and the loop then closes with the reason.
                tokio::select! {
                    biased;
                    sent = self.sink.send(message) => sent.is_ok(),
                    _ = dropped.wait_for(Option::is_some) => false,
                }
            }
        }
    }
}

/// What a message from the client comes to.
pub enum Inbound {
    /// A text frame of an allowed size, to parse.
    Text(Utf8Bytes),
    /// A WebSocket ping or pong: nothing to do.
    Skip,
    /// The connection ends (the client closed it, or it was closed for a
    /// binary or oversized frame).
    End,
}

/// Checks a message from the client against the size and text rules,
/// closing the connection when it breaks them.
pub async fn inbound<W>(message: WsMessage, out: &mut Outbox<W>) -> Inbound
where
    W: Sink<WsMessage> + Unpin,
{
    let text = match message {
        WsMessage::Text(text) => text,
        WsMessage::Ping(_) | WsMessage::Pong(_) => return Inbound::Skip,
        WsMessage::Close(_) => return Inbound::End,
        WsMessage::Binary(_) => {
            out.close(close::INVALID_FRAME, "frames are JSON text")
                .await;
            return Inbound::End;
        }
    };
    if text.len() > MAX_FRAME_BYTES {
        out.close(close::TOO_BIG, "frame too big").await;
        return Inbound::End;
    }
    Inbound::Text(text)
}

/// Typing notices that count, per connection and conversation; the rest
/// are dropped. (The customer socket keys them all under one
/// conversation, its own.)
///
/// Senders send at most one each [`TYPING_EVERY_SECS`] by their own clock.
/// The server passes a notice when the last one it passed in that
/// conversation is at least half of that old ([`TypingLimit::WINDOW`]):
/// two notices sent 2 s apart may arrive closer together (the first held
/// up behind a `send`, the network), and dropping the second would leave
/// the other side without a typing line for a whole pace. A flood still
/// passes at most one notice a second.
#[derive(Debug, Default)]
pub struct TypingLimit {
    last: std::collections::HashMap<String, std::time::Instant>,
}

impl TypingLimit {
    /// The most conversations remembered (an agent's open ones).
    const KEYS: usize = 256;

    /// The least time between two notices passed in one conversation.
    pub const WINDOW: Duration = Duration::from_millis(TYPING_EVERY_SECS * 1000 / 2);

    /// Whether a typing notice in `conversation` counts now.
    pub fn allows(&mut self, conversation: &str) -> bool {
        self.allows_at(conversation, std::time::Instant::now())
    }

    /// [`Self::allows`] at `now`.
    fn allows_at(&mut self, conversation: &str, now: std::time::Instant) -> bool {
        let passed_lately =
            |last: &std::time::Instant| now.saturating_duration_since(*last) < Self::WINDOW;
        if self.last.get(conversation).is_some_and(passed_lately) {
            return false;
        }
        if self.last.len() >= Self::KEYS {
            self.last.retain(|_, last| passed_lately(last));
        }
        if self.last.len() < Self::KEYS {
            self.last.insert(conversation.to_owned(), now);
        }
        true
    }
}

/// The keep-alive of a connection: when to ping, and when it is idle.
pub struct Keepalive {
    ping: Interval,
    last_heard: Instant,
    idle: Duration,
}

/// What the keep-alive timer says.
pub enum Due {
    /// Ping the client.
    Ping,
    /// Nothing heard for too long: close with 1001.
    Idle,
}

impl Keepalive {
    /// The keep-alive of `limits`, starting now.
    pub fn new(limits: &LimitsConfig) -> Keepalive {
        let every = Duration::from_secs(limits.ws_ping_secs);
        Keepalive {
            ping: tokio::time::interval_at(Instant::now() + every, every),
            last_heard: Instant::now(),
            idle: Duration::from_secs(limits.ws_idle_secs),
        }
    }

    /// The client sent something.
    pub fn heard(&mut self) {
        self.last_heard = Instant::now();
    }

    /// Waits for the next ping time.
    pub async fn due(&mut self) -> Due {
        self.ping.tick().await;
        if self.last_heard.elapsed() >= self.idle {
            Due::Idle
        } else {
            Due::Ping
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TypingLimit;
    use std::time::{Duration, Instant};

    #[test]
    fn a_sender_keeping_the_pace_is_never_dropped_for_jitter() {
        let mut limit = TypingLimit::default();
        let start = Instant::now();
        // Sent 2 s apart; the first arrived 0.9 s late, the second on time.
        assert!(limit.allows_at("c", start + Duration::from_millis(900)));
        assert!(limit.allows_at("c", start + Duration::from_millis(2000)));
        assert!(limit.allows_at("c", start + Duration::from_millis(4000)));
    }

    #[test]
    fn a_flood_passes_one_notice_a_window_per_conversation() {
        let mut limit = TypingLimit::default();
        let start = Instant::now();
        let passed = (0..100)
            .filter(|i| limit.allows_at("c", start + Duration::from_millis(i * 30)))
            .count();
        // 3 s of notices every 30 ms: at 0, 1 s and 2 s.
        assert_eq!(passed, 3);
        // Another conversation has a window of its own.
        assert!(limit.allows_at("d", start + Duration::from_millis(2990)));
        assert!(!limit.allows_at("d", start + Duration::from_millis(2995)));
    }

    #[test]
    fn remembers_a_bounded_number_of_conversations() {
        let mut limit = TypingLimit::default();
        let start = Instant::now();
        for i in 0..(TypingLimit::KEYS * 2) {
            assert!(limit.allows_at(&format!("c{i}"), start));
        }
        assert!(limit.last.len() <= TypingLimit::KEYS);
        // Once the window has passed, the old keys make room.
        assert!(limit.allows_at("late", start + TypingLimit::WINDOW));
        assert_eq!(limit.last.len(), 1);
    }
}
