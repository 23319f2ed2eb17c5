//! Webhooks: the JSON body the server POSTs to a site's backend for each
//! event (`[[apps.webhooks]]`), server to server. The widget never sees
//! these; they live here because every type that crosses a wire does.
//!
//! ```json
//! {"id": "…", "type": "message.created", "created_at": 1767225600000, "app_id": "acme",
//!  "data": {"message": {"id": "…", "conversation_id": "…", "seq": 3, "author": "customer",
//!                       "kind": "text", "body": "Hello", "trusted": true,
//!                       "created_at": 1767225600000},
//!           "customer_id": "…"}}
//! ```
//!
//! Every time is Unix milliseconds. An event's `id` is the same in every
//! delivery of it (retries, and every webhook it goes to): receivers use it
//! to drop duplicates, since delivery is at least once.

use serde::{Deserialize, Serialize};

use crate::chat::{ConversationStatus, Message};

/// What happened: the `type` of an event, and the names `events` lists in
/// the config.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = WebhookEventType))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// A customer's first message opened a conversation.
    #[serde(rename = "conversation.created")]
    ConversationCreated,
    /// A message was stored: a customer's, an agent's, or the server's own
    /// (a login request).
    #[serde(rename = "message.created")]
    MessageCreated,
    /// An agent closed a conversation (or a login merged it into another).
    #[serde(rename = "conversation.closed")]
    ConversationClosed,
    /// A session was proven by a verified identity token: opened with one,
    /// or logged in while it was not trusted.
    #[serde(rename = "customer.verified")]
    CustomerVerified,
}

impl EventType {
    /// Every event type.
    pub const ALL: [EventType; 4] = [
        EventType::ConversationCreated,
        EventType::MessageCreated,
        EventType::ConversationClosed,
        EventType::CustomerVerified,
    ];

    /// Its name on the wire and in the config: `message.created`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ConversationCreated => "conversation.created",
            EventType::MessageCreated => "message.created",
            EventType::ConversationClosed => "conversation.closed",
            EventType::CustomerVerified => "customer.verified",
        }
    }

    /// The event type with this name.
    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// One event, the whole body of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event<D> {
    /// The event's id (a UUID), the same in each of its deliveries.
    pub id: String,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// When it happened, Unix milliseconds.
    pub created_at: i64,
    /// The app it happened in.
    pub app_id: String,
    /// What it is about: [`ConversationData`], [`MessageData`] or
    /// [`VerifiedData`].
    pub data: D,
}

/// `conversation.created` and `conversation.closed`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = WebhookConversationData))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationData {
    /// The conversation.
    pub conversation: Conversation,
}

/// A conversation as webhooks describe it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = WebhookConversation))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    /// Its id.
    pub id: String,
    /// The customer profile it belongs to.
    pub customer_id: String,
    /// Open or closed.
    pub status: ConversationStatus,
    /// Held under proof: opened by a trusted (verified) session, or merged
    /// into the customer's history by a valid token.
    pub proven: bool,
    /// When it opened, Unix milliseconds.
    pub created_at: i64,
    /// When it closed, Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<i64>,
}

/// `message.created`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = WebhookMessageData))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageData {
    /// The message, with its `trusted` flag: true exactly when a customer
    /// wrote it in a session a verified token proved.
    pub message: Message,
    /// The customer of its conversation.
    pub customer_id: String,
}

/// `customer.verified`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = WebhookVerifiedData))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedData {
    /// The customer profile the token proved.
    pub customer: VerifiedCustomer,
    /// The session that is trusted now.
    pub session_id: String,
    /// Until when (the token's expiry), Unix milliseconds.
    pub trusted_until: i64,
}

/// The customer of a `customer.verified` event.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = WebhookVerifiedCustomer))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedCustomer {
    /// The profile's id.
    pub id: String,
    /// The site's user id, the token's `sub`.
    pub sub: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_have_their_names() {
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert_eq!(EventType::parse("message.updated"), None);
    }
}
