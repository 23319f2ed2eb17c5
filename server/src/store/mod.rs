//! Storage: the [`Store`] trait the domain talks to, its record types, and
//! [`connect`], which picks the backend from the database URL.
//!
//! Only the modules under `store/` know SQL. The domain and the HTTP layer
//! hold an `Arc<dyn Store>`: [`sqlite::SqliteStore`] for one machine,
//! [`postgres::PostgresStore`] for many servers on one database. Both pass
//! one conformance suite (`server/tests/store_conformance.rs`); [`copy`]
//! moves an installation from one to the other. Records here are
//! internal state, not wire types: they do not derive `Serialize`, and the
//! HTTP layer turns them into `trustchat_protocol` types explicitly.

use std::sync::Arc;

use async_trait::async_trait;
use trustchat_protocol::Priority;
use trustchat_protocol::{AgentStatus, Author, ConversationStatus, MessageKind};

pub mod backup;
pub use trustchat_protocol::webhook::EventType;

pub mod copy;
pub mod postgres;
pub mod privacy;
pub mod sqlite;

pub use privacy::{
    AgentReadRecord, AuditAction, AuditActor, AuditRecord, CustomerData, CustomerMatch, Erased,
    PendingEmailRecord, Purged,
};

/// A customer profile. A profile proven by an identity token is keyed by
/// the token's `sub`, unique per app; email and phone are its attributes.
/// A profile nobody proved (an email or phone someone typed) is unique per
/// app by email and by phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRecord {
    /// UUID v4.
    pub id: String,
    /// The app the profile belongs to; profiles are never shared by apps.
    pub app_id: String,
    /// The site's user id from a verified token; `None` until a token
    /// proved who the profile is.
    pub sub: Option<String>,
    /// Full name, once someone gave one.
    pub name: Option<String>,
    /// Lowercased email.
    pub email: Option<String>,
    /// E.164 phone number.
    pub phone: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// How a session's customer was identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityKind {
    /// `{}`: nobody said who they are.
    Anonymous,
    /// `setUser` with a name and an email or phone: identified, not trusted.
    User,
    /// A verified identity JWT: trusted until it expires.
    Jwt,
}

/// A chat session: what a session token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// UUID v4.
    pub id: String,
    /// SHA-256 of the bearer token, lowercase hex. The token itself is
    /// never stored.
    pub token_hash: String,
    /// The app the session was opened for.
    pub app_id: String,
    /// The customer the session speaks for.
    pub customer_id: String,
    /// Whether the identity was proven by a JWT.
    pub trusted: bool,
    /// When that proof expires, unix seconds.
    pub trusted_until: Option<i64>,
    /// How the customer was identified.
    pub identity_kind: IdentityKind,
    /// The token's `sub` once a token proved who the session is for.
    pub sub: Option<String>,
    /// The name this session gave (`setUser`, or the token's claims), which
    /// may differ from the profile's stored name (see `identity`).
    pub display_name: Option<String>,
    /// The email this session gave; the session is told back only this.
    pub display_email: Option<String>,
    /// The phone this session gave; the session is told back only this.
    pub display_phone: Option<String>,
    /// The first name to greet by when the identity token gave one
    /// (`given_name`); otherwise derived from `display_name`.
    pub display_first_name: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; set once the session was revoked.
    pub revoked_at: Option<i64>,
    /// The page the customer is on now (`TrustChat.navigate`), for
    /// page-prefix rules and the console.
    pub page_url: Option<String>,
    /// The languages the customer asks for (`Accept-Language`), best
    /// first: the last non-empty list a request of the session sent
    /// (see [`crate::identity::stored_locales`]); empty before any.
    pub locales: Vec<String>,
}

/// A conversation between a customer and the support team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRecord {
    /// UUID v4.
    pub id: String,
    /// The app of its customer.
    pub app_id: String,
    /// The customer profile it is linked to, for the agent's view.
    pub customer_id: String,
    /// The session that started it: the only one that reads and writes it
    /// while it is not [`ConversationRecord::proven`]. At most one open
    /// conversation per session.
    pub session_id: Option<String>,
    /// Held under proof: opened by a trusted session or merged into the
    /// profile by a valid token. The customer's trusted sessions share it
    /// (at most one open proven conversation per customer).
    pub proven: bool,
    /// Open until an agent closes it.
    pub status: ConversationStatus,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds, once closed.
    pub closed_at: Option<i64>,
    /// The `seq` of its newest message; 0 before the first.
    pub last_seq: i64,
    /// The agent it is routed to (the agent console's business).
    pub assigned_agent_id: Option<String>,
    /// Unix milliseconds of the last message or status change.
    pub last_activity_at: i64,
    /// What routing decided for it (issue 13's rules).
    pub routing: RoutingFacts,
    /// The customer's rating, once given.
    pub rating: Option<RatingRecord>,
    /// The highest `seq` the customer has read (0: none).
    pub customer_read_seq: i64,
}

/// What the app's rules decided for a conversation: set when it opens,
/// and again while it waits when the customer's status changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutingFacts {
    /// The team it is routed to; `None`: any team serving its app.
    pub team_id: Option<String>,
    /// Its place in the queue.
    pub priority: Priority,
    /// The rule that routed it; `None`: no rule matched.
    pub rule: Option<String>,
    /// Waiting for the customer to log in until then (Unix milliseconds).
    pub held_until: Option<i64>,
}

/// A customer's satisfaction rating of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingRecord {
    /// 1 to 5.
    pub rating: i64,
    /// The optional comment.
    pub comment: Option<String>,
    /// Unix milliseconds.
    pub rated_at: i64,
}

/// A saved reply added in the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedReplyRecord {
    /// UUID v4.
    pub id: String,
    /// The team it belongs to.
    pub team_id: String,
    /// Its title.
    pub title: String,
    /// Its text.
    pub body: String,
    /// The agent who added it.
    pub created_by: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// One day of the authentication report to count: conversations of
/// `start_ms <= created_at < end_ms` belong to `date`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportDay {
    /// `YYYY-MM-DD` in the report's time zone.
    pub date: String,
    /// Its first millisecond, Unix milliseconds.
    pub start_ms: i64,
    /// The first millisecond of the next day.
    pub end_ms: i64,
}

/// The counts of one day and app of the authentication report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRow {
    /// The day.
    pub date: String,
    /// The app.
    pub app_id: String,
    /// Conversations whose first customer message was trusted.
    pub trusted_from_start: i64,
    /// Not the first, a later customer message trusted.
    pub upgraded: i64,
    /// No message trusted; the customer gave a name and an email or phone.
    pub identified: i64,
    /// The rest.
    pub anonymous: i64,
    /// Trusted customer messages.
    pub messages_trusted: i64,
    /// Untrusted customer messages.
    pub messages_untrusted: i64,
    /// The sum of the ratings.
    pub rating_sum: i64,
    /// How many conversations were rated.
    pub rating_count: i64,
}

/// SQL (both stores) over a conversation `c`: whether its customer gave
/// a name and an email or phone, in the session that started it or on
/// the profile it is linked to.
pub(crate) const GAVE_NAME_AND_CONTACT: &str = "EXISTS (SELECT 1 FROM sessions s WHERE s.id = c.session_id \
     AND s.display_name IS NOT NULL AND (s.display_email IS NOT NULL OR s.display_phone IS NOT NULL)) \
     OR EXISTS (SELECT 1 FROM customers x WHERE x.id = c.customer_id \
     AND x.name IS NOT NULL AND (x.email IS NOT NULL OR x.phone IS NOT NULL))";

/// A search through conversations: every term must match a message of
/// the conversation, or its customer's name, email or phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// The terms as typed, split on white space (each store makes its
    /// full-text query from them, matching prefixes).
    pub terms: Vec<String>,
    /// Only conversations of these apps; `None`: every app.
    pub apps: Option<Vec<String>>,
    /// At most this many, newest first.
    pub limit: i64,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// UUID v4.
    pub id: String,
    /// The conversation it belongs to.
    pub conversation_id: String,
    /// 1, 2, 3, ... within the conversation, without gaps.
    pub seq: i64,
    /// Customer or agent.
    pub author: Author,
    /// The agent's display name, or the name the customer's sending
    /// session gave.
    pub author_name: Option<String>,
    /// Text or login request.
    pub kind: MessageKind,
    /// The text as sent.
    pub body: String,
    /// The login link of a login request.
    pub link: Option<String>,
    /// Whether the sending session was trusted when the server received it.
    pub trusted: bool,
    /// Unix milliseconds.
    pub created_at_ms: i64,
    /// The customer's idempotency key.
    pub client_id: Option<String>,
    /// The customer session that sent it.
    pub session_id: Option<String>,
}

/// A customer's message to store: it joins the conversation its session
/// writes into ([`Reader`]'s open conversation), or opens one.
#[derive(Debug, Clone)]
pub struct NewCustomerMessage {
    /// The id the message gets unless `client_id` was seen already.
    pub id: String,
    /// The customer's app.
    pub app_id: String,
    /// The customer.
    pub customer_id: String,
    /// The sending session.
    pub session_id: String,
    /// The name the sending session gave.
    pub author_name: Option<String>,
    /// The idempotency key, a canonical (lowercase, hyphenated) UUID.
    pub client_id: String,
    /// Validated text.
    pub body: String,
    /// The session's trust at receipt: it decides the message's flag and
    /// which conversation it joins (the customer's proven one when true,
    /// else the session's own).
    pub trusted: bool,
    /// Unix milliseconds.
    pub now_ms: i64,
    /// What routing decided for the conversation this message opens,
    /// stored with it (ignored when it joins one): no hand-out of the
    /// queue ever sees a new conversation without its rule's team,
    /// priority and hold.
    pub routing: RoutingFacts,
    /// The app's webhooks: the store enqueues `conversation.created` (when
    /// the message opens one) and `message.created` for those that take
    /// them, in the message's transaction.
    pub webhooks: Webhooks,
}

/// An agent's message to store in an open conversation.
#[derive(Debug, Clone)]
pub struct NewAgentMessage {
    /// The message id.
    pub id: String,
    /// The conversation answered.
    pub conversation_id: String,
    /// The agent's display name.
    pub author_name: String,
    /// Text or login request.
    pub kind: MessageKind,
    /// Validated text.
    pub body: String,
    /// The login link of a login request.
    pub link: Option<String>,
    /// The console's idempotency key, a canonical UUID.
    pub client_id: Option<String>,
    /// Unix milliseconds.
    pub now_ms: i64,
    /// When the email worker should look at the conversation, unless it
    /// has something pending already (Unix milliseconds): the reply's
    /// time plus the app's `unread_delay_secs`. `None`: this reply asks
    /// for no email (the app sends none, or it is an automatic message).
    pub email_due_at: Option<i64>,
    /// The app's webhooks: the store enqueues `message.created` for those
    /// that take it, in the message's transaction.
    pub webhooks: Webhooks,
}

/// The webhooks of an app (`[[apps.webhooks]]`): each one's URL, its key
/// in the outbox, and the events it takes. The domain hands them to the
/// store methods that commit events, and the store enqueues one delivery
/// per webhook that takes the event in the event's own transaction
/// ([`crate::webhooks::event`] makes the rows), so a crash cannot keep
/// the event and lose its deliveries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Webhooks(pub Vec<WebhookSubscription>);

/// One webhook of [`Webhooks`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSubscription {
    /// Where deliveries go; the webhook's key.
    pub url: String,
    /// The events it takes.
    pub events: Vec<EventType>,
}

impl Webhooks {
    /// No webhook.
    pub const NONE: Webhooks = Webhooks(Vec::new());

    /// Every event to each of `urls` (tests, mostly).
    pub fn all(urls: &[&str]) -> Webhooks {
        Webhooks(
            urls.iter()
                .map(|url| WebhookSubscription {
                    url: (*url).to_owned(),
                    events: EventType::ALL.to_vec(),
                })
                .collect(),
        )
    }

    /// The URLs of the webhooks that take `event`.
    pub fn urls(&self, event: EventType) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |hook| hook.events.contains(&event))
            .map(|hook| hook.url.as_str())
    }

    /// Whether any webhook takes `event`.
    pub fn takes(&self, event: EventType) -> bool {
        self.urls(event).next().is_some()
    }
}

/// A delivery to put in the webhook outbox: one event for one webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// The delivery's id (UUID v4), the `TrustChat-Delivery` header.
    pub id: String,
    /// The event's id, the same in its deliveries to every webhook.
    pub event_id: String,
    /// The app.
    pub app_id: String,
    /// The webhook.
    pub url: String,
    /// What happened.
    pub event_type: EventType,
    /// Deliveries of one webhook and key go out in the order they were
    /// enqueued: the conversation's id, or the customer's.
    pub order_key: String,
    /// The JSON body.
    pub payload: String,
    /// When the event happened (Unix milliseconds): due at once, and
    /// retried until `retry_for_secs` after.
    pub created_at: i64,
}

/// Where a webhook delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its first attempt, a retry, or in flight.
    Pending,
    /// A 2xx answer came.
    Delivered,
    /// Given up.
    Failed,
}

impl DeliveryStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// Parses the stored form.
    pub fn parse(value: &str) -> Option<DeliveryStatus> {
        [
            DeliveryStatus::Pending,
            DeliveryStatus::Delivered,
            DeliveryStatus::Failed,
        ]
        .into_iter()
        .find(|status| status.as_str() == value)
    }
}

/// A delivery of the webhook outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// The order of enqueuing.
    pub seq: i64,
    /// The delivery's id.
    pub id: String,
    /// The event's id.
    pub event_id: String,
    /// The app.
    pub app_id: String,
    /// The webhook.
    pub url: String,
    /// The event's type as stored (`message.created`).
    pub event_type: String,
    /// The ordering key.
    pub order_key: String,
    /// The JSON body.
    pub payload: String,
    /// When the event happened, Unix milliseconds.
    pub created_at: i64,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts started.
    pub attempts: i64,
    /// When a pending one is due (the end of the claim while in flight).
    pub next_attempt_at: i64,
    /// When the last attempt ended.
    pub last_attempt_at: Option<i64>,
    /// The HTTP status of the last answer.
    pub last_status: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was delivered.
    pub delivered_at: Option<i64>,
}

/// A delivery the webhook worker claimed
/// ([`Store::claim_webhook_delivery`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryClaim {
    /// The delivery, its `attempts` counting this one.
    pub delivery: DeliveryRecord,
    /// The end of the claim (Unix milliseconds), which also names it: the
    /// delivery is due again then, should the worker never finish.
    pub lease_until: i64,
}

/// What an attempt at a claimed delivery came to
/// ([`Store::finish_webhook_delivery`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryDone {
    /// When the attempt ended, Unix milliseconds.
    pub at: i64,
    /// Delivered, failed for good, or still pending.
    pub status: DeliveryStatus,
    /// When to try again (pending).
    pub next_attempt_at: Option<i64>,
    /// The answer's HTTP status, when one came.
    pub http_status: Option<i64>,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// How many deliveries of the outbox stand where
/// ([`Store::webhook_delivery_counts`]), over every app.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookCounts {
    /// Waiting, retrying or in flight.
    pub pending: i64,
    /// Delivered (and not pruned yet).
    pub delivered: i64,
    /// Given up (and not pruned yet).
    pub failed: i64,
}

impl WebhookCounts {
    /// The counts of `(status, count)` rows.
    pub(crate) fn from_rows(rows: Vec<(String, i64)>) -> WebhookCounts {
        let mut counts = WebhookCounts::default();
        for (status, count) in rows {
            match DeliveryStatus::parse(&status) {
                Some(DeliveryStatus::Pending) => counts.pending = count,
                Some(DeliveryStatus::Delivered) => counts.delivered = count,
                Some(DeliveryStatus::Failed) => counts.failed = count,
                None => {}
            }
        }
        counts
    }
}

/// A conversation the email worker claimed ([`Store::claim_due_email`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailClaim {
    /// The conversation as it was when claimed.
    pub conversation: ConversationRecord,
    /// Every agent message up to this `seq` is handled: emailed, or passed
    /// over (read by then, no address, given up).
    pub emailed_seq: i64,
    /// How many attempts at the pending email failed.
    pub attempts: i64,
    /// The end of the claim (Unix milliseconds): the conversation is due
    /// again then, should this worker never finish. It also names the
    /// claim: [`Store::finish_email`] writes the next schedule only while
    /// the conversation's is still this.
    pub lease_until: i64,
}

/// What the email worker made of a claimed conversation
/// ([`Store::finish_email`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailDone {
    /// Agent messages up to this `seq` are handled: the conversation's
    /// `emailed_seq` moves up to it (never back), whether or not the claim
    /// still holds, since what was sent was sent.
    pub handled_seq: i64,
    /// The last `seq` the worker read: when messages came after it, the
    /// conversation is due again at once (unless `next_due_at` says when).
    pub seen_seq: i64,
    /// When to look again (a retry, or an unread reply not due yet);
    /// `None`: when an agent replies again.
    pub next_due_at: Option<i64>,
    /// Failed attempts of the email still pending (0: none pending).
    pub attempts: i64,
}

/// What storing a message did.
#[derive(Debug, Clone)]
pub struct Appended {
    /// The stored message: the new one, or the one stored earlier with the
    /// same `client_id`.
    pub message: MessageRecord,
    /// The app of the conversation, for routing.
    pub app_id: String,
    /// The customer of the conversation, for routing.
    pub customer_id: String,
    /// The session that started the conversation.
    pub owner_session_id: Option<String>,
    /// Whether the conversation is held under proof.
    pub proven: bool,
    /// False when the `client_id` had been stored before and nothing new
    /// was written.
    pub created: bool,
    /// True when this message opened its conversation (it has `seq` 1).
    pub opened: bool,
}

/// What [`Store::link_session_conversations`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkedConversations {
    /// How many conversations changed customer or became proven.
    pub linked: u64,
    /// The customer's open proven conversation that was closed because the
    /// session's open one, now proven too, takes its place.
    pub closed: Option<ConversationRecord>,
}

/// Who reads conversations: a session, its customer, and whether it is
/// trusted now. A session reads the conversations it started; a trusted
/// one also reads its customer's proven conversations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    /// The session.
    pub session_id: String,
    /// Its customer.
    pub customer_id: String,
    /// Whether it is trusted now.
    pub trusted: bool,
}

/// Which profiles a lookup by email or phone considers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Among {
    /// Every profile, proven ones first, then the most recently updated.
    Any,
    /// Only profiles no token has proven (`sub` unset).
    Unproven,
}

/// What a conversation's customer gave: the owning session's name, email
/// and phone. For the agent's eyes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GivenIdentity {
    /// The name given.
    pub name: Option<String>,
    /// The email given.
    pub email: Option<String>,
    /// The phone given.
    pub phone: Option<String>,
    /// The page the customer is on now (`TrustChat.navigate`).
    pub page_url: Option<String>,
}

/// A support agent's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRecord {
    /// UUID v4.
    pub id: String,
    /// Login email, lowercased; unique among live agents.
    pub email: String,
    /// Display name, shown to customers on replies.
    pub name: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Whether new conversations may be routed to the agent.
    pub status: AgentStatus,
    /// Unix milliseconds.
    pub created_at: i64,
    /// When a conversation was last routed to the agent, Unix
    /// milliseconds: routing's tie-break.
    pub last_assigned_at: Option<i64>,
}

/// An agent's console session: what the `trustchat_agent` cookie stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSessionRecord {
    /// UUID v4.
    pub id: String,
    /// SHA-256 of the cookie's token, lowercase hex.
    pub token_hash: String,
    /// The token every state-changing request carries in `X-CSRF-Token`.
    pub csrf_token: String,
    /// The agent.
    pub agent_id: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds; the cookie stops working then.
    pub expires_at: i64,
    /// Unix milliseconds, once logged out or the agent was removed.
    pub revoked_at: Option<i64>,
}

/// Which conversations [`Store::conversation_views`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConversationFilter {
    /// One conversation.
    Id(String),
    /// Every conversation routed to an agent, open first, newest activity
    /// first.
    AssignedTo(String),
    /// Every conversation of a customer, newest first.
    Customer(String),
    /// The queue: open conversations no agent has, in routing order (high
    /// priority first, then oldest).
    Queue,
    /// Conversations found by full-text search, newest first.
    Search(SearchQuery),
}

/// A conversation with what the agent console shows beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationView {
    /// The conversation.
    pub conversation: ConversationRecord,
    /// Its customer profile.
    pub customer: CustomerRecord,
    /// What the customer chatting in it gave.
    pub given: GivenIdentity,
    /// The body of its last message.
    pub last_body: Option<String>,
    /// Customer messages after the assigned agent's read marker.
    pub unread: i64,
    /// Whether the customer chatting in it is verified now: it is proven
    /// and a live session of its customer is trusted now.
    pub verified: bool,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key is taken; which one says what it means for the caller
    /// (a race to resolve, a duplicate to refuse).
    #[error("a record with the same {0:?} already exists")]
    Taken(UniqueKey),
    /// The database failed; a 500 for the HTTP layer.
    #[error("database error")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The unique keys of the schema. Every backend maps a unique violation
/// to the key of the constraint that refused it, never to a blanket
/// conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueKey {
    /// A proven profile of the app has this `sub`.
    CustomerSub,
    /// An unproven profile of the app has this email.
    CustomerEmail,
    /// An unproven profile of the app has this phone.
    CustomerPhone,
    /// A session has this token hash.
    SessionToken,
    /// The customer has an open proven conversation already.
    OpenProvenConversation,
    /// The session has an open conversation already.
    OpenSessionConversation,
    /// A message of the customer has this `client_id`; for a customer
    /// message, one another session sent.
    ClientId,
    /// An agent reply of the conversation has this `client_id`.
    AgentReplyClientId,
    /// Another message of the conversation has this `seq` (never, unless a
    /// bug breaks the gap-free numbering).
    Seq,
    /// A live agent has this email, in any case.
    AgentEmail,
    /// An agent session has this token hash.
    AgentSessionToken,
}

/// Held while a routing decision is made and applied; dropping it lets
/// the next decision, on any server of the database, go.
pub struct RoutingGuard(#[allow(dead_code)] Box<dyn std::any::Any + Send + Sync>);

impl RoutingGuard {
    /// A guard that releases the lock when `held` is dropped.
    pub fn new(held: impl std::any::Any + Send + Sync) -> RoutingGuard {
        RoutingGuard(Box::new(held))
    }
}

impl std::fmt::Debug for RoutingGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RoutingGuard")
    }
}

/// The result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// Everything the domain needs from a database. Implementations must be
/// safe to share between requests.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The customer with this id.
    async fn customer(&self, id: &str) -> StoreResult<Option<CustomerRecord>>;

    /// The profile of `app_id` proven for this `sub`.
    async fn customer_by_sub(&self, app_id: &str, sub: &str)
        -> StoreResult<Option<CustomerRecord>>;

    /// A profile of `app_id` with this (normalized) email, among `among`.
    async fn customer_by_email(
        &self,
        app_id: &str,
        email: &str,
        among: Among,
    ) -> StoreResult<Option<CustomerRecord>>;

    /// A profile of `app_id` with this E.164 phone number, among `among`.
    async fn customer_by_phone(
        &self,
        app_id: &str,
        phone: &str,
        among: Among,
    ) -> StoreResult<Option<CustomerRecord>>;

    /// Inserts a new customer; [`StoreError::Taken`] when its `sub` is
    /// taken in its app, or, unproven, its email or phone.
    async fn insert_customer(&self, customer: &CustomerRecord) -> StoreResult<()>;

    /// Inserts a new session, and `deliveries` (its `customer.verified`)
    /// into the webhook outbox in the same transaction.
    async fn insert_session(
        &self,
        session: &SessionRecord,
        deliveries: &[NewDelivery],
    ) -> StoreResult<()>;

    /// The session whose token hashes to `token_hash`, revoked or not.
    async fn session_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>>;

    /// Marks the session revoked; returns false when it already was.
    async fn revoke_session(&self, id: &str, now: i64) -> StoreResult<bool>;

    /// The session with this id, revoked or not.
    async fn session(&self, id: &str) -> StoreResult<Option<SessionRecord>>;

    /// Writes a session's identity fields (customer, trust, sub, what it
    /// gave) after a mid-chat login or identification, and `deliveries`
    /// (its `customer.verified`) into the webhook outbox in the same
    /// transaction.
    async fn update_session_identity(
        &self,
        session: &SessionRecord,
        deliveries: &[NewDelivery],
    ) -> StoreResult<()>;

    /// Writes a customer's sub, name, email, phone and `updated_at`;
    /// [`StoreError::Taken`] when the sub (or, unproven, the email or
    /// phone) belongs to another profile of the app.
    async fn update_customer(&self, customer: &CustomerRecord) -> StoreResult<()>;

    /// Stores a customer's message in one transaction: if the sending
    /// session's customer already stored a message with this `client_id`
    /// (in any conversation), returns it and writes nothing
    /// ([`UniqueKey::ClientId`] taken if another session sent that one); else
    /// the message joins the open conversation the session writes into
    /// (see [`NewCustomerMessage::trusted`]), opening one owned by the
    /// session (proven when trusted) if there is none, with the next
    /// `seq`. Returns only once the transaction is durably committed.
    async fn append_customer_message(&self, message: NewCustomerMessage) -> StoreResult<Appended>;

    /// Stores an agent's message with the next `seq` of an open
    /// conversation, durably, in one transaction (which also sets the
    /// conversation's email due time to [`NewAgentMessage::email_due_at`]
    /// unless one is set); `None` when the conversation does not exist or
    /// is closed;
    /// [`UniqueKey::AgentReplyClientId`] taken when an agent message of the
    /// conversation has its `client_id`.
    async fn append_agent_message(&self, message: NewAgentMessage)
        -> StoreResult<Option<Appended>>;

    /// The agent message of a conversation with this `client_id`.
    async fn agent_message_by_client_id(
        &self,
        conversation_id: &str,
        client_id: &str,
    ) -> StoreResult<Option<MessageRecord>>;

    /// The conversation with this id.
    async fn conversation(&self, id: &str) -> StoreResult<Option<ConversationRecord>>;

    /// The reader's current conversation among those it reads (see
    /// [`Reader`]): the open one, else the one opened last; `None` before
    /// it has any.
    async fn current_conversation(
        &self,
        reader: &Reader,
    ) -> StoreResult<Option<ConversationRecord>>;

    /// The messages at these (conversation, `seq`) places, in no set
    /// order; places with no message are left out. Another server's events
    /// name messages so, and a server reads those of a burst at once.
    async fn messages_at(&self, places: &[(String, i64)]) -> StoreResult<Vec<MessageRecord>>;

    /// At most `limit` messages of a conversation with `seq > after`, by
    /// `seq`.
    async fn messages_after(
        &self,
        conversation_id: &str,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<MessageRecord>>;

    /// Closes an open conversation, enqueuing `conversation.closed` for
    /// the `webhooks` that take it in the same transaction; `None` when it
    /// does not exist or was closed already.
    async fn close_conversation(
        &self,
        id: &str,
        now_ms: i64,
        webhooks: &Webhooks,
    ) -> StoreResult<Option<ConversationRecord>>;

    /// Links every conversation the session started (and its messages) to
    /// customer `to`, in one transaction; with `prove`, they become proven
    /// too (a valid token merged them). Nobody else's conversation changes,
    /// except: when proving, if the session has an open conversation and
    /// `to` has another open proven one, that one is closed, as the one the
    /// customer is typing in goes on (and `conversation.closed` is
    /// enqueued for the `webhooks` that take it, in the transaction).
    async fn link_session_conversations(
        &self,
        session_id: &str,
        to: &str,
        prove: bool,
        now_ms: i64,
        webhooks: &Webhooks,
    ) -> StoreResult<LinkedConversations>;

    /// Inserts an agent; [`UniqueKey::AgentEmail`] taken when a live agent
    /// has the email (in any case).
    async fn insert_agent(&self, agent: &AgentRecord) -> StoreResult<()>;

    /// The live (not removed) agent with this id.
    async fn agent(&self, id: &str) -> StoreResult<Option<AgentRecord>>;

    /// The live agent with this email, compared case-insensitively.
    async fn agent_by_email(&self, email: &str) -> StoreResult<Option<AgentRecord>>;

    /// Every live agent, by name.
    async fn agents(&self) -> StoreResult<Vec<AgentRecord>>;

    /// Makes `teams` the agent's teams (`[[teams]]` ids), replacing the
    /// ones before, in one transaction.
    async fn set_agent_teams(&self, agent_id: &str, teams: &[String]) -> StoreResult<()>;

    /// The agent's teams, sorted.
    async fn agent_teams(&self, agent_id: &str) -> StoreResult<Vec<String>>;

    /// Sets a live agent's availability; `None` when there is no such agent.
    async fn set_agent_status(
        &self,
        id: &str,
        status: AgentStatus,
    ) -> StoreResult<Option<AgentRecord>>;

    /// Removes an agent in one transaction: marks the account disabled,
    /// revokes its sessions and puts its open conversations back in the
    /// queue. Returns those conversations.
    async fn remove_agent(&self, id: &str, now_ms: i64) -> StoreResult<Vec<ConversationRecord>>;

    /// Inserts an agent session.
    async fn insert_agent_session(&self, session: &AgentSessionRecord) -> StoreResult<()>;

    /// The agent session whose token hashes to `token_hash`, revoked,
    /// expired or not.
    async fn agent_session_by_token_hash(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<AgentSessionRecord>>;

    /// Revokes an agent session.
    async fn revoke_agent_session(&self, id: &str, now_ms: i64) -> StoreResult<()>;

    /// Routes an open conversation to `agent_id` (and moves the agent's
    /// `last_assigned_at`), or back to the queue with `None`; `None` when
    /// the conversation is not open.
    async fn assign_conversation(
        &self,
        id: &str,
        agent_id: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<Option<ConversationRecord>>;

    /// Open conversations no agent has, in routing order: high priority
    /// first, then oldest (held ones included).
    async fn queued_conversations(&self) -> StoreResult<Vec<ConversationRecord>>;

    /// Sets what routing decided for an open conversation no agent has;
    /// `false` when it is closed or routed already.
    async fn set_conversation_routing(&self, id: &str, routing: &RoutingFacts)
        -> StoreResult<bool>;

    /// Stores (or replaces) the customer's rating of a closed
    /// conversation; `None` when it is not closed (or does not exist).
    async fn rate_conversation(
        &self,
        id: &str,
        rating: &RatingRecord,
    ) -> StoreResult<Option<ConversationRecord>>;

    /// Every (agent id, team id) membership of live agents.
    async fn agent_memberships(&self) -> StoreResult<Vec<(String, String)>>;

    /// The saved replies of these teams, by team then title.
    async fn saved_replies(&self, teams: &[String]) -> StoreResult<Vec<SavedReplyRecord>>;

    /// Stores a saved reply.
    async fn insert_saved_reply(&self, reply: &SavedReplyRecord) -> StoreResult<()>;

    /// Deletes a saved reply of one of these teams; `false` when there is
    /// none.
    async fn delete_saved_reply(&self, id: &str, teams: &[String]) -> StoreResult<bool>;

    /// The authentication report: per day and app, the conversations that
    /// opened that day by category, their customer messages and ratings.
    /// Days and apps without conversations are left out. `apps`: only
    /// these; `None`: every app.
    async fn authentication_report(
        &self,
        days: &[ReportDay],
        apps: Option<&[String]>,
    ) -> StoreResult<Vec<ReportRow>>;

    /// How many open conversations each agent has (agents with none are
    /// left out).
    async fn open_conversation_counts(&self) -> StoreResult<Vec<(String, i64)>>;

    /// Conversations with their customer, what the customer in each gave,
    /// last message, unread count and verification at `now` (Unix
    /// seconds).
    async fn conversation_views(
        &self,
        filter: ConversationFilter,
        now: i64,
    ) -> StoreResult<Vec<ConversationView>>;

    /// Records the page a session's customer is on now.
    async fn set_session_page(&self, session_id: &str, page_url: &str) -> StoreResult<()>;

    /// Records the languages a session's customer asks for, best first
    /// (language tags, at most [`MAX_LOCALES_CHARS`] joined by commas),
    /// replacing the ones before.
    async fn set_session_locales(&self, session_id: &str, locales: &[String]) -> StoreResult<()>;

    /// The languages of the customer's most recently opened session that
    /// a token proved (`sub` set) and that recorded any; empty when none
    /// did. A claim (`setUser`) may land on a proven profile, so only a
    /// proven session speaks for its customer's language.
    async fn proven_customer_locales(&self, customer_id: &str) -> StoreResult<Vec<String>>;

    /// Moves the customer's read marker of a conversation up to `seq`
    /// (never back, never past its last message); the marker when it
    /// moved, `None` when it did not (or there is no such conversation).
    async fn mark_customer_read(&self, conversation_id: &str, seq: i64)
        -> StoreResult<Option<i64>>;

    /// How far an agent has read a conversation (0 before any).
    async fn agent_read_seq(&self, agent_id: &str, conversation_id: &str) -> StoreResult<i64>;
    /// Claims the conversation whose email is due first (`email_due_at`
    /// at or before `now_ms`), moving it to `lease_until_ms`; `None` when
    /// nothing is due. Of concurrent claims, on any servers, each gets a
    /// different conversation (or none). Found by an index of the due
    /// times, not by reading messages.
    async fn claim_due_email(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> StoreResult<Option<EmailClaim>>;

    /// Records what the worker made of its claim on a conversation, in one
    /// statement: `emailed_seq` moves up to `done.handled_seq`; and if the
    /// claim still holds (the due time is still `lease_until`), the next
    /// due time (`done.next_due_at`, else now when messages came after
    /// `done.seen_seq`, else none) and the attempts are written.
    async fn finish_email(
        &self,
        conversation_id: &str,
        lease_until: i64,
        done: &EmailDone,
        now_ms: i64,
    ) -> StoreResult<()>;

    /// The earliest email due time of any conversation (Unix
    /// milliseconds), claimed or not.
    async fn next_email_due(&self) -> StoreResult<Option<i64>>;

    /// How many conversations have an email of unread replies due, now or
    /// later (the metrics' `trustchat_emails_pending`).
    async fn emails_pending(&self) -> StoreResult<i64>;

    /// Stores deliveries in the webhook outbox on their own, pending and
    /// due at their `created_at`.
    async fn enqueue_webhook_deliveries(&self, deliveries: &[NewDelivery]) -> StoreResult<()>;

    /// Claims the pending delivery due first (`next_attempt_at` at or
    /// before `now_ms`) that no earlier pending delivery of its webhook and
    /// ordering key holds back, moving it to `lease_until_ms` and counting
    /// an attempt; `None` when none is. Of concurrent claims, on any
    /// servers, each gets a different delivery (or none), and a delivery
    /// is never claimed while an earlier one of its webhook and key is
    /// pending (claimed or not).
    async fn claim_webhook_delivery(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> StoreResult<Option<DeliveryClaim>>;

    /// Records an attempt at a claimed delivery, if the claim still holds
    /// (the delivery is pending and due at `lease_until`): delivered,
    /// failed, or pending again at `done.next_attempt_at`, when the later
    /// pending deliveries of its webhook and key are not due before it
    /// either. False when the claim had run out.
    async fn finish_webhook_delivery(
        &self,
        seq: i64,
        lease_until: i64,
        done: &DeliveryDone,
    ) -> StoreResult<bool>;

    /// The earliest due time (Unix milliseconds) of a pending delivery
    /// that no earlier one holds back, claimed or not.
    async fn next_webhook_due(&self) -> StoreResult<Option<i64>>;

    /// The app's `limit` most recent deliveries, newest first.
    async fn webhook_deliveries(
        &self,
        app_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRecord>>;

    /// How many deliveries are pending, delivered and failed, over every
    /// app (for metrics).
    async fn webhook_delivery_counts(&self) -> StoreResult<WebhookCounts>;

    /// Deletes the delivered and failed deliveries of events before
    /// `before_ms`; how many.
    async fn prune_webhook_deliveries(&self, before_ms: i64) -> StoreResult<u64>;

    /// Moves an agent's read marker of a conversation up to `seq` (never
    /// back).
    async fn mark_read(&self, agent_id: &str, conversation_id: &str, seq: i64) -> StoreResult<()>;

    /// Serializes routing decisions among every server of the database:
    /// while the guard lives, no other routing decision is made.
    async fn routing_lock(&self) -> StoreResult<RoutingGuard>;

    /// Records that `agent_ids` have a console connection on `server_id`,
    /// online until `expires_at_ms` unless heartbeated again; the server's
    /// other agents go offline.
    async fn set_presence(
        &self,
        server_id: &str,
        agent_ids: &[String],
        expires_at_ms: i64,
    ) -> StoreResult<()>;

    /// The agents online on any server at `now_ms`.
    async fn online_agents(&self, now_ms: i64) -> StoreResult<Vec<String>>;

    /// Records the single-use token id `jti` of `app_id` until
    /// `keep_until` (Unix seconds), forgetting ids kept until before
    /// `now`; true when it is new, false for a replay. Of two concurrent
    /// calls with one id, on any servers, exactly one gets true.
    async fn remember_jti(
        &self,
        app_id: &str,
        jti: &str,
        keep_until: i64,
        now: i64,
    ) -> StoreResult<bool>;

    /// Everything held about the profiles of `app_id` that `matching`
    /// names, read in one snapshot (see [`CustomerData`]); no profile
    /// matched: empty.
    async fn customer_data(
        &self,
        app_id: &str,
        matching: &CustomerMatch,
    ) -> StoreResult<CustomerData>;

    /// Erases the profiles of `app_id` that `matching` names, in one
    /// transaction: the conversations linked to them or started by their
    /// sessions, with their messages (and full-text entries), ratings,
    /// pending emails, agents' read markers and webhook deliveries; their
    /// sessions; the profiles. Writes one [`AuditAction::Erase`] entry per
    /// profile, by `actor`, in the same transaction. Nothing matched:
    /// nothing written, an empty [`Erased`]. SQLite also leaves no copy
    /// of what it deleted in the database files: freed space is zeroed
    /// (`secure_delete`), full-text entries are removed from the index
    /// segments, and the WAL is checkpointed and truncated after the
    /// commit.
    async fn erase_customers(
        &self,
        app_id: &str,
        matching: &CustomerMatch,
        actor: &AuditActor,
    ) -> StoreResult<Erased>;

    /// Deletes at most `limit` closed conversations of `app_id` closed
    /// before `closed_before_ms`, with their messages (and full-text
    /// entries), read markers, pending emails and webhook deliveries, in
    /// one transaction. Several servers may purge at once.
    async fn purge_closed_conversations(
        &self,
        app_id: &str,
        closed_before_ms: i64,
        limit: i64,
    ) -> StoreResult<Purged>;

    /// Appends an entry to the audit log.
    async fn record_audit(&self, entry: &AuditRecord) -> StoreResult<()>;

    /// The newest `limit` entries of the audit log, newest first; `app_id`:
    /// only that app's.
    async fn audit_log(&self, app_id: Option<&str>, limit: i64) -> StoreResult<Vec<AuditRecord>>;

    /// Answers when the database does (readiness).
    async fn ping(&self) -> StoreResult<()>;

    /// Waits for open connections to finish and closes them.
    async fn close(&self);
}

/// How a store opens its database, beyond its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// The most connections a Postgres store opens
    /// (`server.database_max_connections`); SQLite's are fixed.
    pub max_connections: u32,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// The default of `server.database_max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 20;

/// The databases a URL can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://...`
    Sqlite,
    /// `postgres://...` or `postgresql://...`
    Postgres,
}

impl Backend {
    /// The backend of `database_url`, by its scheme.
    pub fn of(database_url: &str) -> anyhow::Result<Backend> {
        let scheme = database_url
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => anyhow::bail!(
                "unsupported database_url scheme {scheme:?}: it must start with sqlite://, postgres:// or postgresql://"
            ),
        }
    }
}

/// Opens the database named by `database_url` (`sqlite:` or `postgres:`)
/// with the default [`StoreOptions`] and brings its schema up to date.
pub async fn connect(database_url: &str) -> anyhow::Result<Arc<dyn Store>> {
    connect_with(database_url, &StoreOptions::default()).await
}

/// Opens the database named by `database_url` (`sqlite:` or `postgres:`)
/// and brings its schema up to date.
pub async fn connect_with(
    database_url: &str,
    options: &StoreOptions,
) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match Backend::of(database_url)? {
        Backend::Sqlite => Arc::new(sqlite::SqliteStore::connect(database_url).await?),
        Backend::Postgres => {
            Arc::new(postgres::PostgresStore::connect(database_url, options).await?)
        }
    })
}

/// Applies the pending migrations of the database named by `database_url`
/// and returns their versions (none when it was up to date).
pub async fn migrate(database_url: &str) -> anyhow::Result<Vec<i64>> {
    match Backend::of(database_url)? {
        Backend::Sqlite => sqlite::migrate_url(database_url).await,
        Backend::Postgres => postgres::migrate(database_url).await,
    }
}

/// Whether `database_url` names a PostgreSQL database.
pub fn is_postgres(database_url: &str) -> bool {
    let scheme = database_url.split(':').next().unwrap_or_default();
    scheme.eq_ignore_ascii_case("postgres") || scheme.eq_ignore_ascii_case("postgresql")
}

/// The stored form of a conversation status.
pub fn status_str(status: ConversationStatus) -> &'static str {
    match status {
        ConversationStatus::Open => "open",
        ConversationStatus::Closed => "closed",
    }
}

/// The stored form of an author.
pub fn author_str(author: Author) -> &'static str {
    match author {
        Author::Customer => "customer",
        Author::Agent => "agent",
    }
}

/// The stored form of a message kind.
pub fn kind_str(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Text => "text",
        MessageKind::LoginRequest => "login_request",
    }
}

/// The stored form of an agent status.
pub fn agent_status_str(status: AgentStatus) -> &'static str {
    match status {
        AgentStatus::Available => "available",
        AgentStatus::Away => "away",
    }
}

impl IdentityKind {
    /// The value stored in the `identity_kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Anonymous => "anonymous",
            IdentityKind::User => "user",
            IdentityKind::Jwt => "jwt",
        }
    }

    /// Parses a stored `identity_kind`.
    pub fn parse(value: &str) -> Option<IdentityKind> {
        [
            IdentityKind::Anonymous,
            IdentityKind::User,
            IdentityKind::Jwt,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == value)
    }
}

/// The longest stored list of a session's languages (`sessions.locales`),
/// tags and commas.
pub const MAX_LOCALES_CHARS: usize = 255;

/// The stored form of a session's languages: the tags joined by commas;
/// `None` for none.
pub fn locales_str(locales: &[String]) -> Option<String> {
    (!locales.is_empty()).then(|| locales.join(","))
}

/// A session's languages from their stored form.
pub fn parse_locales(stored: Option<String>) -> Vec<String> {
    stored
        .unwrap_or_default()
        .split(',')
        .filter(|tag| !tag.is_empty())
        .map(str::to_owned)
        .collect()
}
