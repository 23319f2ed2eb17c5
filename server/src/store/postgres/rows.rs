//! Row mapping of the Postgres store: the column lists its queries select,
//! records from rows, and sqlx errors to [`StoreError`]s, a unique violation
//! to the [`UniqueKey`] of the constraint that refused it.

use sqlx::postgres::PgRow;
use sqlx::Row;
use trustchat_protocol::{AgentStatus, Author, ConversationStatus, MessageKind, Priority};

use crate::store::{
    agent_status_str, author_str, kind_str, status_str, AgentRecord, AgentSessionRecord,
    ConversationRecord, CustomerRecord, IdentityKind, MessageRecord, RatingRecord, RoutingFacts,
    SessionRecord, StoreError, UniqueKey,
};

pub(super) const CONVERSATION_COLUMNS: &str =
    "id, app_id, customer_id, session_id, proven, status, created_at, \
     closed_at, last_seq, assigned_agent_id, last_activity_at, team_id, priority, rule, \
     held_until, rating, rating_comment, rated_at, customer_read_seq";
pub(super) const CUSTOMER_COLUMNS: &str =
    "id, app_id, sub, name, email, phone, created_at, updated_at";
pub(super) const SESSION_COLUMNS: &str =
    "id, token_hash, app_id, customer_id, trusted, trusted_until, \
     identity_kind, sub, display_name, display_first_name, display_email, display_phone, \
     created_at, revoked_at, page_url, locales";
pub(super) const MESSAGE_COLUMNS: &str =
    "id, conversation_id, seq, author, author_name, kind, body, link, \
     trusted, created_at_ms, client_id, session_id";
pub(super) const AGENT_COLUMNS: &str =
    "id, email, name, password_hash, status, created_at, last_assigned_at";
pub(super) const AGENT_SESSION_COLUMNS: &str =
    "id, token_hash, csrf_token, agent_id, created_at, expires_at, revoked_at";

/// Maps sqlx errors: a unique violation becomes [`StoreError::Taken`] with
/// the key of the constraint that refused it (Postgres names it in the
/// error), so the domain can tell a race from a duplicate; everything else,
/// an unknown constraint included, is a database failure.
pub(super) fn db(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(e) if e.is_unique_violation() => {
            match e.constraint().and_then(unique_key) {
                Some(key) => StoreError::Taken(key),
                None => StoreError::Database(Box::new(error)),
            }
        }
        _ => StoreError::Database(Box::new(error)),
    }
}

/// The key of a unique index or constraint of the schema, by its name
/// (`migrations/postgres/0001_baseline.sql`).
pub(super) fn unique_key(constraint: &str) -> Option<UniqueKey> {
    Some(match constraint {
        "customers_app_sub" => UniqueKey::CustomerSub,
        "customers_app_claimed_email" => UniqueKey::CustomerEmail,
        "customers_app_claimed_phone" => UniqueKey::CustomerPhone,
        "sessions_token_hash_key" => UniqueKey::SessionToken,
        "conversations_open_proven_per_customer" => UniqueKey::OpenProvenConversation,
        "conversations_open_per_session" => UniqueKey::OpenSessionConversation,
        "messages_customer_client_id" => UniqueKey::ClientId,
        "messages_agent_client_id" => UniqueKey::AgentReplyClientId,
        "messages_conversation_id_seq_key" => UniqueKey::Seq,
        "agents_email" => UniqueKey::AgentEmail,
        "agent_sessions_token_hash_key" => UniqueKey::AgentSessionToken,
        _ => return None,
    })
}

/// A column of a row, its decoding failure a database error.
fn get<'r, T>(row: &'r PgRow, column: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(column).map_err(db)
}

pub(super) fn conversation_from_row(row: &PgRow) -> Result<ConversationRecord, StoreError> {
    let status: String = get(row, "status")?;
    let status = [ConversationStatus::Open, ConversationStatus::Closed]
        .into_iter()
        .find(|s| status_str(*s) == status)
        .ok_or_else(|| {
            StoreError::Database(format!("unknown conversation status {status:?}").into())
        })?;
    Ok(ConversationRecord {
        id: get(row, "id")?,
        app_id: get(row, "app_id")?,
        customer_id: get(row, "customer_id")?,
        session_id: get(row, "session_id")?,
        proven: get(row, "proven")?,
        status,
        created_at: get(row, "created_at")?,
        closed_at: get(row, "closed_at")?,
        last_seq: get(row, "last_seq")?,
        assigned_agent_id: get(row, "assigned_agent_id")?,
        last_activity_at: get(row, "last_activity_at")?,
        routing: RoutingFacts {
            team_id: get(row, "team_id")?,
            priority: Priority::from_rank(get(row, "priority")?),
            rule: get(row, "rule")?,
            held_until: get(row, "held_until")?,
        },
        rating: match get::<Option<i64>>(row, "rating")? {
            Some(rating) => Some(RatingRecord {
                rating,
                comment: get(row, "rating_comment")?,
                rated_at: get(row, "rated_at")?,
            }),
            None => None,
        },
        customer_read_seq: get(row, "customer_read_seq")?,
    })
}

pub(super) fn customer_from_row(row: &PgRow) -> Result<CustomerRecord, StoreError> {
    Ok(CustomerRecord {
        id: get(row, "id")?,
        app_id: get(row, "app_id")?,
        sub: get(row, "sub")?,
        name: get(row, "name")?,
        email: get(row, "email")?,
        phone: get(row, "phone")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    })
}

pub(super) fn session_from_row(row: &PgRow) -> Result<SessionRecord, StoreError> {
    let kind: String = get(row, "identity_kind")?;
    let identity_kind = IdentityKind::parse(&kind).ok_or_else(|| {
        StoreError::Database(format!("unknown identity_kind {kind:?} in sessions").into())
    })?;
    Ok(SessionRecord {
        id: get(row, "id")?,
        token_hash: get(row, "token_hash")?,
        app_id: get(row, "app_id")?,
        customer_id: get(row, "customer_id")?,
        trusted: get(row, "trusted")?,
        trusted_until: get(row, "trusted_until")?,
        identity_kind,
        sub: get(row, "sub")?,
        display_name: get(row, "display_name")?,
        display_first_name: get(row, "display_first_name")?,
        display_email: get(row, "display_email")?,
        display_phone: get(row, "display_phone")?,
        created_at: get(row, "created_at")?,
        revoked_at: get(row, "revoked_at")?,
        page_url: get(row, "page_url")?,
        locales: crate::store::parse_locales(get(row, "locales")?),
    })
}

pub(super) fn message_from_row(row: &PgRow) -> Result<MessageRecord, StoreError> {
    let author: String = get(row, "author")?;
    let author = [Author::Customer, Author::Agent]
        .into_iter()
        .find(|a| author_str(*a) == author)
        .ok_or_else(|| StoreError::Database(format!("unknown message author {author:?}").into()))?;
    let kind: String = get(row, "kind")?;
    let kind = [MessageKind::Text, MessageKind::LoginRequest]
        .into_iter()
        .find(|k| kind_str(*k) == kind)
        .ok_or_else(|| StoreError::Database(format!("unknown message kind {kind:?}").into()))?;
    Ok(MessageRecord {
        id: get(row, "id")?,
        conversation_id: get(row, "conversation_id")?,
        seq: get(row, "seq")?,
        author,
        author_name: get(row, "author_name")?,
        kind,
        body: get(row, "body")?,
        link: get(row, "link")?,
        trusted: get(row, "trusted")?,
        created_at_ms: get(row, "created_at_ms")?,
        client_id: get(row, "client_id")?,
        session_id: get(row, "session_id")?,
    })
}

pub(super) fn agent_from_row(row: &PgRow) -> Result<AgentRecord, StoreError> {
    let status: String = get(row, "status")?;
    let status = [AgentStatus::Available, AgentStatus::Away]
        .into_iter()
        .find(|s| agent_status_str(*s) == status)
        .ok_or_else(|| StoreError::Database(format!("unknown agent status {status:?}").into()))?;
    Ok(AgentRecord {
        id: get(row, "id")?,
        email: get(row, "email")?,
        name: get(row, "name")?,
        password_hash: get(row, "password_hash")?,
        status,
        created_at: get(row, "created_at")?,
        last_assigned_at: get(row, "last_assigned_at")?,
    })
}

pub(super) fn agent_session_from_row(row: &PgRow) -> Result<AgentSessionRecord, StoreError> {
    Ok(AgentSessionRecord {
        id: get(row, "id")?,
        token_hash: get(row, "token_hash")?,
        csrf_token: get(row, "csrf_token")?,
        agent_id: get(row, "agent_id")?,
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
        revoked_at: get(row, "revoked_at")?,
    })
}
