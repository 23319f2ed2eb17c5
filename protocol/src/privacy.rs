//! Privacy requests: `POST /api/v1/apps/{app_id}/customers/export` and
//! `.../customers/erase`, authenticated by the app's API key, and the JSON
//! `trustchat-server customer export` writes.
//!
//! A request names the customer by exactly one of `email`, `phone` or
//! `id`. An email or a phone names every profile of the app that has it
//! (a proven profile and one a claim created may share an email), or one
//! of whose sessions gave it.

use serde::{Deserialize, Serialize};

use crate::agent::Priority;
use crate::chat::{Author, ConversationStatus, MessageKind};

/// Who a privacy request is about: exactly one field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CustomerSelector {
    /// Every profile of the app with this email, or whose sessions gave
    /// it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Every profile of the app with this E.164 phone number, or whose
    /// sessions gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// The profile with this id (the `customer.id` sessions answer with).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// Everything the server holds about a customer of an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerExport {
    /// The app.
    pub app_id: String,
    /// When the export was read, Unix milliseconds.
    pub exported_at: i64,
    /// The profiles the request named, oldest first, each with its data.
    pub profiles: Vec<ExportedProfile>,
}

/// A customer profile and everything linked to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportedProfile {
    /// The profile's id.
    pub id: String,
    /// The site's user id, once an identity token proved the profile.
    pub sub: Option<String>,
    /// The name stored on the profile.
    pub name: Option<String>,
    /// The email stored on the profile.
    pub email: Option<String>,
    /// The phone stored on the profile.
    pub phone: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// The chat sessions of the profile (browsers and devices), oldest
    /// first. Their tokens are secrets and are not exported.
    pub sessions: Vec<ExportedSession>,
    /// Its conversations (linked to the profile, or started by one of its
    /// sessions), oldest first.
    pub conversations: Vec<ExportedConversation>,
    /// The events about it the app's webhooks were sent (or will be):
    /// who received its data, and when.
    pub webhook_deliveries: Vec<ExportedDelivery>,
}

/// A webhook delivery of an event about the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportedDelivery {
    /// The delivery's id.
    pub id: String,
    /// The event's id.
    pub event_id: String,
    /// `conversation.created`, `message.created`, `conversation.closed`
    /// or `customer.verified`.
    pub event: String,
    /// Who receives it: the webhook's origin (scheme, host and port; its
    /// path is the app's, and may hold a secret).
    pub recipient: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// When the event happened, Unix milliseconds.
    pub created_at: i64,
    /// When the recipient took it, Unix milliseconds.
    pub delivered_at: Option<i64>,
}

/// A chat session: what a browser or device said and was told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportedSession {
    /// The session's id.
    pub id: String,
    /// `anonymous`, `user` (the site or the form said who) or `jwt` (an
    /// identity token proved it).
    pub identity: String,
    /// The site's user id a token gave.
    pub sub: Option<String>,
    /// The name this session gave.
    pub name: Option<String>,
    /// The first name it was greeted by, when a token gave one.
    pub first_name: Option<String>,
    /// The email this session gave.
    pub email: Option<String>,
    /// The phone this session gave.
    pub phone: Option<String>,
    /// Until when a token proved it, Unix seconds.
    pub trusted_until: Option<i64>,
    /// The last page of the site it reported.
    pub page_url: Option<String>,
    /// The languages its browser asked for, best first.
    pub locales: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// When it ended (logout, another person), Unix seconds.
    pub revoked_at: Option<i64>,
}

/// A conversation with its messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportedConversation {
    /// The conversation's id.
    pub id: String,
    /// The session that started it.
    pub session_id: Option<String>,
    /// Held under proof (opened or merged by a verified identity).
    pub proven: bool,
    /// `open` or `closed`.
    pub status: ConversationStatus,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub closed_at: Option<i64>,
    /// The agent it is routed to (their id).
    pub assigned_agent_id: Option<String>,
    /// The team the app's rules routed it to.
    pub team_id: Option<String>,
    /// Its priority in the queue.
    pub priority: Priority,
    /// The rule that routed it.
    pub rule: Option<String>,
    /// How far the customer has read it (a `seq`).
    pub customer_read_seq: i64,
    /// How far each agent has read it.
    pub agent_reads: Vec<ExportedRead>,
    /// The customer's rating.
    pub rating: Option<ExportedRating>,
    /// An email of unread replies waiting to be sent.
    pub pending_email: Option<ExportedPendingEmail>,
    /// Every message, in order.
    pub messages: Vec<ExportedMessage>,
}

/// One message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportedMessage {
    /// The message's id.
    pub id: String,
    /// Its place in the conversation.
    pub seq: i64,
    /// `customer` or `agent`.
    pub author: Author,
    /// The name shown with it.
    pub author_name: Option<String>,
    /// `text` or `login_request`.
    pub kind: MessageKind,
    /// The text.
    pub body: String,
    /// A login request's link.
    pub link: Option<String>,
    /// Whether the customer's session was proven when it was sent.
    pub trusted: bool,
    /// Unix milliseconds.
    pub created_at: i64,
    /// The session that sent a customer's message.
    pub session_id: Option<String>,
}

/// An agent's read marker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportedRead {
    /// The agent's id.
    pub agent_id: String,
    /// The highest `seq` they read.
    pub seq: i64,
}

/// A satisfaction rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportedRating {
    /// 1 to 5.
    pub rating: i64,
    /// The comment.
    pub comment: Option<String>,
    /// Unix milliseconds.
    pub rated_at: i64,
}

/// An email of unread replies the server will send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportedPendingEmail {
    /// When it is due, Unix milliseconds.
    pub due_at: i64,
    /// Failed attempts so far.
    pub attempts: i64,
}

/// What an erasure removed: `POST .../customers/erase` answers it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EraseReport {
    /// The erased profiles' ids.
    pub profiles: Vec<String>,
    /// Sessions deleted (their tokens stop working).
    pub sessions: u64,
    /// Conversations deleted.
    pub conversations: u64,
    /// Messages deleted.
    pub messages: u64,
    /// Ratings deleted.
    pub ratings: u64,
    /// Pending emails dropped.
    pub pending_emails: u64,
    /// Pending webhook deliveries dropped.
    pub webhook_deliveries: u64,
}
