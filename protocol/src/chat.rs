//! Conversations and messages: the HTTP bodies of `/api/v1/messages` and
//! the WebSocket frames of `/api/v1/ws`, defined once for the widget, the
//! agent console and the server.
//!
//! Frames are JSON objects tagged by `type`. A customer connection's first
//! frame is [`ClientFrame::Auth`]; the session token travels there, never
//! in the URL.

use serde::{Deserialize, Serialize};

/// The longest message body accepted, in characters.
pub const MAX_BODY_CHARS: usize = 4_000;

/// The largest WebSocket frame a client may send, in bytes; a larger one
/// closes the connection with [`close::TOO_BIG`].
pub const MAX_FRAME_BYTES: usize = 16 * 1024;

/// The most messages `GET /api/v1/messages` returns at once; when there are
/// more, [`MessagesPage::has_more`] is true and the client asks again
/// `after` the last `seq` it got.
pub const MAX_PAGE_MESSAGES: usize = 500;

/// The close codes of `/api/v1/ws`, and what the client should do.
pub mod close {
    /// The connection was idle too long (no frame, not even a pong, for a
    /// while), or the server failed: reconnect with backoff.
    pub const GOING_AWAY: u16 = 1001;
    /// The server is shutting down (a deploy, a restart): reconnect at
    /// once, and a load balancer sends the new connection to another
    /// server.
    pub const SERVICE_RESTART: u16 = 1012;
    /// The first frame was not a valid `auth` frame in time, or the
    /// page's `Origin` is not allowed for the session's app: do not retry
    /// as is.
    pub const POLICY: u16 = 1008;
    /// A frame was not JSON (or was binary): a client bug.
    pub const INVALID_FRAME: u16 = 1007;
    /// A frame was larger than [`super::MAX_FRAME_BYTES`].
    pub const TOO_BIG: u16 = 1009;
    /// The session token is unknown or was revoked (`clearUser`, or an
    /// identity change to a different person): do not reconnect with it.
    pub const UNAUTHORIZED: u16 = 4001;
    /// The connection fell behind (its buffer on the server filled up) and
    /// was dropped so it could not slow anybody else down: reconnect, then
    /// fetch `GET /api/v1/messages?after=LAST_SEQ` to fill the gap.
    pub const RESYNC: u16 = 4009;
    /// The session already has the most connections allowed; the server
    /// sent an `error` frame `too_many_connections` first.
    pub const TOO_MANY_CONNECTIONS: u16 = 4029;
}

/// `POST /api/v1/messages`: a customer's message. `client_id` is a UUID
/// the client makes when the customer presses send; sending the same
/// `client_id` again returns the stored message instead of a duplicate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// Idempotency key: a UUID chosen by the client.
    #[cfg_attr(feature = "openapi", schema(format = "uuid"))]
    pub client_id: String,
    /// The text, 1 to [`MAX_BODY_CHARS`] characters (not all whitespace).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 4000))]
    pub body: String,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Author {
    /// The customer, from the widget.
    Customer,
    /// A support agent, from the console.
    Agent,
}

/// What a message is, beyond its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// Plain text.
    #[default]
    Text,
    /// An agent asks the customer to log in; `link` holds the app's
    /// `login_url`, the only link a message ever carries.
    LoginRequest,
}

/// Status of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    /// Customers and agents are talking.
    Open,
    /// An agent closed it; a new customer message opens a new conversation.
    Closed,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    /// Server id.
    pub id: String,
    /// The conversation it belongs to.
    pub conversation_id: String,
    /// Position in the conversation: 1, 2, 3, ... without gaps.
    pub seq: i64,
    /// Who wrote it.
    pub author: Author,
    /// The agent's display name for agent messages; for customer
    /// messages, the name the sending session gave (none for an anonymous
    /// one), which may differ from the profile's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_name: Option<String>,
    /// What it is.
    #[serde(default)]
    pub kind: MessageKind,
    /// The text, shown as text, never as HTML.
    pub body: String,
    /// For `login_request`: the app's login URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// True exactly when a customer wrote it in a session that was trusted
    /// when the server received it. Computed by the server only.
    pub trusted: bool,
    /// When the server stored it, Unix milliseconds.
    pub created_at: i64,
    /// The sender's idempotency key (customer messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// `GET /api/v1/messages?after=SEQ`: the session's current conversation
/// from `after + 1` on, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessagesPage {
    /// The current conversation, `None` before the customer's first message.
    pub conversation_id: Option<String>,
    /// Its status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ConversationStatus>,
    /// The messages, by `seq`, at most [`MAX_PAGE_MESSAGES`].
    pub messages: Vec<Message>,
    /// True when more messages follow the last one: ask again `after` its
    /// `seq`.
    #[serde(default)]
    pub has_more: bool,
    /// How far the conversation's agent has read it ("Seen" under the
    /// customer's messages up to it); 0 before any.
    #[serde(default)]
    pub agent_read_seq: i64,
    /// How far the customer has read it (their `read` frames, from any
    /// tab): the widget counts the agent's messages after it as unread.
    #[serde(default)]
    pub customer_read_seq: i64,
}

/// Frames a client sends on `/api/v1/ws`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// Must be the first frame: the customer's session token.
    Auth {
        /// The bearer token of the session.
        session_token: String,
    },
    /// Send a message; answered by [`ServerFrame::Ack`] once stored.
    Send {
        /// Idempotency key (UUID).
        client_id: String,
        /// The text.
        body: String,
    },
    /// Keep-alive; answered by [`ServerFrame::Pong`].
    Ping,
    /// The customer is typing (sent at most once each
    /// [`TYPING_EVERY_SECS`]; the server drops a notice less than half of
    /// that after the last it passed). No answer.
    Typing,
    /// The customer has read their conversation up to `seq` (sent while
    /// the panel is open and the page visible). No answer.
    Read {
        /// The highest `seq` on screen.
        seq: i64,
    },
    /// The customer is on this page now (`TrustChat.navigate`), as
    /// `POST /api/v1/sessions/current/page`. No answer, but an `error`
    /// frame for a bad URL.
    Page {
        /// An absolute URL, at most [`MAX_PAGE_URL_CHARS`] characters.
        url: String,
    },
}

/// The longest page URL the server keeps, in characters.
pub const MAX_PAGE_URL_CHARS: usize = 2048;

/// `POST /api/v1/sessions/current/page`: the page the customer is on now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetPage {
    /// An absolute URL, at most [`MAX_PAGE_URL_CHARS`] characters.
    #[cfg_attr(feature = "openapi", schema(max_length = 2048))]
    pub url: String,
}

/// Whether `url` is a page URL the server keeps: absolute (a scheme of
/// letters, digits, `+ - .` and a `:`), at most [`MAX_PAGE_URL_CHARS`]
/// characters, no white space or control characters.
pub fn valid_page_url(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once(':') else {
        return false;
    };
    !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && url.chars().count() <= MAX_PAGE_URL_CHARS
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A sender sends a typing notice at most once per this many seconds;
/// the server passes one per half of it, so jitter drops none.
pub const TYPING_EVERY_SECS: u64 = 2;
/// How long a typing notice shows without another one or a message.
pub const TYPING_SHOWS_SECS: u64 = 5;

/// Frames the server sends on `/api/v1/ws`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Authenticated: the current conversation and its last `seq`, so the
    /// client can fetch what it missed.
    Ready {
        /// The current conversation, if any.
        conversation_id: Option<String>,
        /// Its highest `seq` (0 when none).
        last_seq: i64,
    },
    /// A new message in one of the customer's conversations (their own,
    /// from another tab, or an agent's).
    Message {
        /// The stored message.
        message: Message,
    },
    /// A `send` was durably stored (or had been: same `client_id`).
    Ack {
        /// The `client_id` of the send.
        client_id: String,
        /// The stored message.
        message: Message,
    },
    /// The app's availability changed (also in `GET /api/v1/apps/{id}`).
    Availability {
        /// Now.
        availability: crate::api::Availability,
        /// When closed: when support opens next, Unix milliseconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_open_at: Option<i64>,
    },
    /// The agent of the conversation is typing.
    Typing {
        /// Always `agent`.
        author: Author,
        /// The agent's display name.
        name: Option<String>,
    },
    /// The agent has read the customer's messages up to `seq` ("Seen").
    Read {
        /// The highest `seq` the agent has read.
        seq: i64,
    },
    /// A conversation changed status (an agent closed it).
    Conversation {
        /// Which one.
        conversation_id: String,
        /// Its new status.
        status: ConversationStatus,
    },
    /// A request failed; `client_id` names the send it answers, if any.
    Error {
        /// A stable code, as in the HTTP API.
        code: String,
        /// What to fix.
        message: String,
        /// The send this answers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        /// For `rate_limited`: seconds to wait.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<u64>,
    },
    /// Answer to [`ClientFrame::Ping`].
    Pong,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_tagged_by_type() {
        let auth: ClientFrame =
            serde_json::from_str(r#"{"type":"auth","session_token":"tcs_x"}"#).unwrap();
        assert_eq!(
            auth,
            ClientFrame::Auth {
                session_token: "tcs_x".into()
            }
        );
        let send: ClientFrame =
            serde_json::from_str(r#"{"type":"send","client_id":"c1","body":"hi"}"#).unwrap();
        assert_eq!(
            send,
            ClientFrame::Send {
                client_id: "c1".into(),
                body: "hi".into()
            }
        );
        assert!(serde_json::from_str::<ClientFrame>(
            r#"{"type":"auth","session_token":"x","extra":1}"#
        )
        .is_err());
        let ready = serde_json::to_value(ServerFrame::Ready {
            conversation_id: None,
            last_seq: 0,
        })
        .unwrap();
        assert_eq!(
            ready,
            serde_json::json!({"type": "ready", "conversation_id": null, "last_seq": 0})
        );
    }

    /// The API document's limits are these constants (utoipa's attributes
    /// take only literals).
    #[cfg(feature = "openapi")]
    #[test]
    fn schema_limits_are_the_constants() {
        use utoipa::PartialSchema;
        let schema = |s| serde_json::to_value(s).unwrap();
        let send = schema(SendMessage::schema());
        assert_eq!(send["properties"]["body"]["maxLength"], MAX_BODY_CHARS);
        let page = schema(SetPage::schema());
        assert_eq!(page["properties"]["url"]["maxLength"], MAX_PAGE_URL_CHARS);
    }

    #[test]
    fn messages_round_trip() {
        let message = Message {
            id: "m1".into(),
            conversation_id: "c1".into(),
            seq: 1,
            author: Author::Customer,
            author_name: None,
            kind: MessageKind::Text,
            body: "<b>hi</b>".into(),
            link: None,
            trusted: true,
            created_at: 1_700_000_000_000,
            client_id: Some("u1".into()),
        };
        let json = serde_json::to_string(&message).unwrap();
        assert!(json.contains(r#""author":"customer""#) && json.contains(r#""kind":"text""#));
        assert_eq!(serde_json::from_str::<Message>(&json).unwrap(), message);
    }
}

/// The longest satisfaction comment, in characters.
pub const MAX_RATING_COMMENT_CHARS: usize = 1000;

/// `POST /api/v1/conversations/{id}/rating` (the customer's session token
/// as `Authorization: Bearer`): "How did we do?" once the conversation is
/// closed. Answered with the stored
/// [`Rating`](crate::agent::Rating); rating again replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RateConversation {
    /// 1 (bad) to 5 (great).
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 5))]
    pub rating: u8,
    /// Optional, at most [`MAX_RATING_COMMENT_CHARS`] characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}
