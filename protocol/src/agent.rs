//! The agent console's API under `/api/v1/agent`: login, the conversation
//! list, timelines, customer profiles, replies, and the agent WebSocket's
//! frames. The console is served by the server at `/agent`; agents are
//! authenticated by an HttpOnly session cookie, and every state-changing
//! request carries the session's CSRF token in `X-CSRF-Token`.

use serde::{Deserialize, Serialize};

use crate::chat::{ConversationStatus, Message};

/// `POST /api/v1/agent/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AgentLogin {
    /// The agent's email.
    pub email: String,
    /// The agent's password.
    pub password: String,
}

/// An agent's availability for new conversations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    /// Takes new conversations.
    Available,
    /// Takes none; keeps their open ones.
    Away,
}

/// An agent as the console shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Agent {
    /// Stable id.
    pub id: String,
    /// Login email.
    pub email: String,
    /// Display name, shown to customers on replies.
    pub name: String,
    /// Availability.
    pub status: AgentStatus,
    /// Whether the agent has the console open (a live agent WebSocket).
    pub online: bool,
}

/// `POST /api/v1/agent/login` (also sets the session cookie) and
/// `GET /api/v1/agent/me`: who is logged in, and the CSRF token to send as
/// `X-CSRF-Token` on every POST.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentSessionInfo {
    /// The logged-in agent.
    pub agent: Agent,
    /// The session's CSRF token.
    pub csrf_token: String,
    /// The agent's teams (with no `[[teams]]` configured: one implicit
    /// team, id `all`, serving every app).
    #[serde(default)]
    pub teams: Vec<Team>,
    /// The apps those teams serve: all the agent reads and acts on.
    #[serde(default)]
    pub apps: Vec<String>,
}

/// `GET /api/v1/agent/agents`: every agent, for reassigning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentList {
    /// All agents.
    pub agents: Vec<Agent>,
}

/// `POST /api/v1/agent/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetAgentStatus {
    /// The new availability.
    pub status: AgentStatus,
}

/// The customer chatting in one conversation, as they gave themselves
/// there: the name, email and phone the session that started it supplied
/// (a token's claims when it was proven). Unless `verified`, they are
/// claims: anybody can type an email. All strings are customer-supplied:
/// render them as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerSummary {
    /// The id of the profile the conversation is linked to (for
    /// `GET /customers/{id}`).
    pub id: String,
    /// Full name given, if any.
    pub name: Option<String>,
    /// Email given, if any.
    pub email: Option<String>,
    /// E.164 phone given, if any.
    pub phone: Option<String>,
    /// Whether the customer chatting in *this* conversation is verified
    /// now: the conversation is held under proof and a session proven for
    /// its customer (an identity token, unexpired) is live. Verification is
    /// per conversation and per message, never per profile.
    pub verified: bool,
}

/// A customer profile's stored details: what the site's tokens proved for
/// a profile keyed by the site's user id, or what someone claimed for one
/// nobody proved. Profiles carry no verification; conversations and
/// messages do. Customer-supplied: render as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProfileSummary {
    /// Profile id.
    pub id: String,
    /// Full name, if known.
    pub name: Option<String>,
    /// Email, if known.
    pub email: Option<String>,
    /// E.164 phone, if known.
    pub phone: Option<String>,
}

/// One conversation in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationSummary {
    /// Conversation id.
    pub id: String,
    /// The app it came from.
    pub app_id: String,
    /// Its customer.
    pub customer: CustomerSummary,
    /// Open or closed.
    pub status: ConversationStatus,
    /// The agent it is routed to; `None` while it waits in the queue.
    pub assigned_agent_id: Option<String>,
    /// Its highest `seq`.
    pub last_seq: i64,
    /// The start of its last message, as text.
    pub last_message_preview: Option<String>,
    /// Customer messages the assigned agent has not read.
    pub unread: i64,
    /// When it opened, Unix milliseconds.
    pub created_at: i64,
    /// Its last message's time, Unix milliseconds.
    pub last_activity_at: i64,
    /// The team it is routed to (the rule's, else any team serving its
    /// app: `None`).
    #[serde(default)]
    pub team_id: Option<String>,
    /// Its place in the queue.
    #[serde(default)]
    pub priority: Priority,
    /// The rule that routed it (its `name`, else `rule N` counting from 1
    /// in the app's `[[apps.rules]]`); `None` when no rule matched.
    #[serde(default)]
    pub rule: Option<String>,
    /// While it waits for the customer to log in (a rule's
    /// `hold_for_login_secs`): until when, Unix milliseconds.
    #[serde(default)]
    pub held_until: Option<i64>,
    /// The customer's satisfaction rating, once given.
    #[serde(default)]
    pub rating: Option<Rating>,
    /// The highest `seq` the customer has read ("Seen" under the agent
    /// message at or before it).
    #[serde(default)]
    pub customer_read_seq: i64,
    /// The page the customer is on now, as the site's widget reported it
    /// (`TrustChat.navigate`). Customer-supplied: show it as text, and
    /// link it only when it is `http(s)`.
    #[serde(default)]
    pub current_page: Option<String>,
}

/// A conversation's place in the queue: high first, then oldest.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Before everything else.
    High,
    /// The default.
    #[default]
    Normal,
    /// After everything else.
    Low,
}

impl Priority {
    /// The lowercase name, as in the config and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::High => "high",
            Priority::Normal => "normal",
            Priority::Low => "low",
        }
    }

    /// The stored rank: 0 high, 1 normal, 2 low (queue order).
    pub fn rank(self) -> i64 {
        match self {
            Priority::High => 0,
            Priority::Normal => 1,
            Priority::Low => 2,
        }
    }

    /// The priority of a stored rank (anything unknown: normal).
    pub fn from_rank(rank: i64) -> Self {
        match rank {
            0 => Priority::High,
            2 => Priority::Low,
            _ => Priority::Normal,
        }
    }
}

/// A customer's satisfaction rating of a closed conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rating {
    /// 1 (bad) to 5 (great).
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 5))]
    pub rating: u8,
    /// What they wrote, if anything. Customer-supplied: render as text.
    pub comment: Option<String>,
    /// When it was given, Unix milliseconds.
    pub rated_at: i64,
}

/// A team as an agent sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Team {
    /// Its config id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// The apps it serves.
    pub apps: Vec<String>,
}

/// A saved reply: a text an agent inserts with "/" in the reply box.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SavedReply {
    /// Stable id (`config:TEAM:N` for the config's, a UUID for the
    /// console's).
    pub id: String,
    /// The team it belongs to.
    pub team_id: String,
    /// What the "/" menu shows and filters by.
    pub title: String,
    /// The text inserted.
    pub body: String,
    /// `config` (read-only) or `console` (deletable).
    pub source: SavedReplySource,
}

/// Where a saved reply comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SavedReplySource {
    /// `[[teams.saved_replies]]` in the server's config.
    Config,
    /// Added in the console.
    Console,
}

/// `GET /api/v1/agent/saved-replies`: the saved replies of the agent's
/// teams, by team then title.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SavedReplyList {
    /// The replies.
    pub saved_replies: Vec<SavedReply>,
}

/// `POST /api/v1/agent/saved-replies`: a new saved reply for one of the
/// agent's teams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewSavedReply {
    /// One of the agent's teams.
    pub team_id: String,
    /// 1 to 80 characters.
    pub title: String,
    /// 1 to 4,000 characters.
    pub body: String,
}

/// `GET /api/v1/agent/conversations`: the agent's conversations, open
/// first, newest activity first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationList {
    /// The conversations.
    pub conversations: Vec<ConversationSummary>,
}

/// `GET /api/v1/agent/conversations/{id}`: a conversation with its whole
/// timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationDetail {
    /// The conversation.
    pub conversation: ConversationSummary,
    /// Its messages by `seq`, each with its `trusted` flag.
    pub messages: Vec<Message>,
    /// The app's login URL, which "ask to log in" sends.
    pub login_url: Option<String>,
}

/// `POST /api/v1/agent/conversations/{id}/messages`: an agent's reply;
/// answered with the stored [`Message`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AgentReply {
    /// The text.
    pub body: String,
    /// Optional idempotency key (UUID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// `POST /api/v1/agent/conversations/{id}/assign`: hand the conversation to
/// another agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AssignConversation {
    /// The agent to route it to.
    pub agent_id: String,
}

/// `POST /api/v1/agent/conversations/{id}/read`: the agent has read the
/// conversation up to `seq`; its `unread` counts customer messages after
/// that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    /// The highest `seq` the agent has seen.
    pub seq: i64,
}

/// `GET /api/v1/agent/customers/{id}`: a customer profile with all the
/// conversations linked to it (which the agent may open read-only), each
/// with its own verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerProfile {
    /// The profile.
    pub customer: ProfileSummary,
    /// The app the profile belongs to.
    pub app_id: String,
    /// Every conversation of the customer, newest first.
    pub conversations: Vec<ConversationSummary>,
}

/// Frames the server pushes on the agent WebSocket `GET /api/v1/agent/ws`
/// (authenticated by the session cookie; same-origin only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentServerFrame {
    /// Connected: the agent as the server sees them.
    Ready {
        /// The agent.
        agent: Agent,
    },
    /// A new message in a conversation routed to this agent.
    Message {
        /// The stored message.
        message: Message,
        /// The conversation after it (unread count, preview).
        conversation: ConversationSummary,
    },
    /// A conversation was routed to this agent, reassigned, closed, or the
    /// verification of the customer chatting in it changed.
    Conversation {
        /// The conversation now.
        conversation: ConversationSummary,
    },
    /// The queue of an app the agent serves changed (a conversation
    /// joined it, left it, or waits differently): refetch
    /// `GET /api/v1/agent/queue`.
    Queue {
        /// The app.
        app_id: String,
    },
    /// The customer of one of the agent's conversations is typing.
    Typing {
        /// The conversation.
        conversation_id: String,
        /// Always `customer`.
        author: crate::chat::Author,
    },
    /// The customer has read the conversation up to `seq` ("Seen").
    Read {
        /// The conversation.
        conversation_id: String,
        /// The highest `seq` the customer has read.
        seq: i64,
    },
    /// Answer to a ping.
    Pong,
}

/// Frames the console sends on the agent WebSocket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AgentClientFrame {
    /// Keep-alive.
    Ping,
    /// The agent is typing in one of their open conversations (sent at
    /// most once each [`TYPING_EVERY_SECS`](crate::chat::TYPING_EVERY_SECS)
    /// per conversation; the server drops a notice less than half of that
    /// after the last it passed). No answer; a conversation that is not
    /// theirs is ignored.
    Typing {
        /// The conversation.
        conversation_id: String,
    },
}
