//! The records of privacy work: which customers a request is about
//! ([`CustomerMatch`]), everything held about them ([`CustomerData`]), what
//! an erasure removed ([`Erased`]), and the audit log ([`AuditRecord`]).
//! The stores implement the queries (`Store::customer_data`,
//! `Store::erase_customers`, `Store::purge_closed_conversations`); the
//! domain is `crate::privacy`.

use super::{ConversationRecord, CustomerRecord, MessageRecord, SessionRecord};

/// Which profiles of an app a privacy request is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerMatch {
    /// The profile with this id.
    Id(String),
    /// Every profile with this (normalized, lowercase) email, proven or
    /// not, and every profile one of whose sessions gave it.
    Email(String),
    /// Every profile with this E.164 phone number, proven or not, and
    /// every profile one of whose sessions gave it (a phone given beside
    /// an email is kept by the session, not the profile).
    Phone(String),
}

/// The email state of a conversation with an email pending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEmailRecord {
    /// The conversation.
    pub conversation_id: String,
    /// When the worker looks at it next (Unix milliseconds).
    pub due_at: i64,
    /// Failed attempts so far.
    pub attempts: i64,
    /// Agent messages up to this `seq` are handled.
    pub emailed_seq: i64,
}

/// How far an agent has read one of the customer's conversations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentReadRecord {
    /// The agent.
    pub agent_id: String,
    /// The conversation.
    pub conversation_id: String,
    /// The highest `seq` read.
    pub seq: i64,
}

/// Everything the database holds about some customers, read in one
/// snapshot: their profiles, their sessions (token hashes included: the
/// domain leaves them out of an export), their conversations (those linked
/// to the profiles and those their sessions started), every message of
/// those, the agents' read markers and the emails pending.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerData {
    /// The profiles, oldest first.
    pub customers: Vec<CustomerRecord>,
    /// Their sessions, oldest first.
    pub sessions: Vec<SessionRecord>,
    /// Their conversations, oldest first.
    pub conversations: Vec<ConversationRecord>,
    /// The messages of those conversations, by conversation then `seq`.
    pub messages: Vec<MessageRecord>,
    /// The agents' read markers of those conversations.
    pub agent_reads: Vec<AgentReadRecord>,
    /// The emails pending for those conversations.
    pub pending_emails: Vec<PendingEmailRecord>,
    /// The webhook deliveries of those customers (`customer.verified`)
    /// and conversations (the other events), pending or done, oldest
    /// first: who the data was sent to.
    pub webhook_deliveries: Vec<super::DeliveryRecord>,
}

/// What an erasure removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erased {
    /// The profiles, by id.
    pub customer_ids: Vec<String>,
    /// Their sessions (their sockets must close).
    pub session_ids: Vec<String>,
    /// Their conversations.
    pub conversation_ids: Vec<String>,
    /// The messages of those conversations.
    pub messages: u64,
    /// The ratings those conversations had.
    pub ratings: u64,
    /// The emails pending for them.
    pub pending_emails: u64,
    /// Agents' read markers of those conversations.
    pub agent_reads: u64,
    /// Webhook deliveries of those customers or conversations (when the
    /// database has a `webhook_deliveries` table).
    pub webhook_deliveries: u64,
    /// SQLite: the write-ahead log was checkpointed and truncated after
    /// the commit, so no old copy of a page is left in it. Always true on
    /// Postgres, whose WAL is not the store's to clear.
    pub wal_cleared: bool,
}

/// What a retention purge removed (one batch).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Purged {
    /// Closed conversations deleted.
    pub conversations: u64,
    /// Their messages.
    pub messages: u64,
}

/// The kinds of privacy work the audit log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    /// A customer's data was exported.
    Export,
    /// A customer was erased.
    Erase,
    /// Retention purged an app's old closed conversations.
    Retention,
}

impl AuditAction {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Export => "export",
            AuditAction::Erase => "erase",
            AuditAction::Retention => "retention",
        }
    }

    /// Parses the stored form.
    pub fn parse(value: &str) -> Option<AuditAction> {
        [
            AuditAction::Export,
            AuditAction::Erase,
            AuditAction::Retention,
        ]
        .into_iter()
        .find(|action| action.as_str() == value)
    }
}

/// One entry of the audit log: ids and counts, never an email, a phone, a
/// name or a message text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Unix milliseconds.
    pub at_ms: i64,
    /// What was done.
    pub action: AuditAction,
    /// The app.
    pub app_id: String,
    /// The customer (profile id); `None` for retention.
    pub customer_id: Option<String>,
    /// Who did it: `cli`, `api-key:<name>`, `retention`.
    pub actor: String,
    /// Counts, as a JSON object.
    pub detail: String,
}

/// Who asks for an erasure, for the audit log ([`Store::erase_customers`]
/// writes one [`AuditRecord`] per profile, in the erasure's transaction).
///
/// [`Store::erase_customers`]: super::Store::erase_customers
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditActor {
    /// `cli` or `api-key:<name>`.
    pub actor: String,
    /// Unix milliseconds.
    pub at_ms: i64,
}

/// The `detail` of an erasure's audit entry: its counts (for the whole
/// request, which may cover several profiles).
pub fn erase_detail(erased: &Erased) -> String {
    format!(
        "{{\"profiles\":{},\"sessions\":{},\"conversations\":{},\"messages\":{},\"ratings\":{},\"pending_emails\":{},\"webhook_deliveries\":{}}}",
        erased.customer_ids.len(),
        erased.session_ids.len(),
        erased.conversation_ids.len(),
        erased.messages,
        erased.ratings,
        erased.pending_emails,
        erased.webhook_deliveries
    )
}
