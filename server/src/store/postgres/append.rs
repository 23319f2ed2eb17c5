//! The message appends of a Postgres store: each one statement, committed
//! on its own (see the module documentation of [`super`], "Appends").

use sqlx::postgres::{PgPool, PgRow};
use sqlx::Row;
use trustchat_protocol::{Author, MessageKind};

use super::rows::{db, message_from_row, MESSAGE_COLUMNS};
use crate::store::{
    kind_str, Appended, MessageRecord, NewAgentMessage, NewCustomerMessage, StoreError,
    StoreResult, UniqueKey,
};

/// How often an append looks again for its conversation when another
/// writer opened one between its two statements. Each retry follows a
/// commit of that other writer, so a second look finds what it opened.
const ATTEMPTS: usize = 4;

/// Joins the open conversation the session writes into (the session's
/// own; trusted, the customer's proven one first: the rule of
/// `current_conversation` and the hub's audience) with the next `seq`,
/// taken by bumping the conversation's `last_seq`. The row lock of that
/// `UPDATE` orders the writers of one conversation, on any server, until
/// each commits: seqs have neither gaps nor repeats. The `status = 'open'`
/// in the `UPDATE` is checked again on the newest row version after a wait,
/// so a conversation closed meanwhile takes no message. Should the insert
/// fail (a `client_id` stored before), the whole statement, its bump
/// included, is undone.
const JOIN: &str = "\
WITH target AS (
    SELECT id FROM conversations
    WHERE status = 'open' AND (session_id = $7 OR ($4 AND customer_id = $8 AND proven))
    ORDER BY proven DESC LIMIT 1
), bumped AS (
    UPDATE conversations c SET last_seq = c.last_seq + 1, last_activity_at = $5
    FROM target WHERE c.id = target.id AND c.status = 'open'
    RETURNING c.id, c.last_seq, c.session_id, c.proven
), inserted AS (
    INSERT INTO messages (id, conversation_id, seq, author, author_name, kind, body, trusted,
                          created_at_ms, client_id, session_id, customer_id)
    SELECT $1, id, last_seq, 'customer', $2, 'text', $3, $4, $5, $6, $7, $8 FROM bumped
    RETURNING conversation_id, seq
)
SELECT i.conversation_id, i.seq, b.session_id AS owner, b.proven
FROM inserted i JOIN bumped b ON b.id = i.conversation_id";

/// Opens a conversation owned by the session (proven when trusted) with
/// the message as its `seq` 1, unless the customer stored this
/// `client_id` before (a resend after a close opens nothing). The partial
/// unique indexes refuse a second open conversation of the session, or a
/// second open proven one of the customer, that another writer opened
/// meanwhile; the append then joins that one.
const OPEN: &str = "\
WITH opened AS (
    INSERT INTO conversations (id, app_id, customer_id, session_id, proven, status, created_at,
                               last_seq, last_activity_at)
    SELECT $9, $10, $8, $7, $4, 'open', $5, 1, $5
    WHERE NOT EXISTS (SELECT 1 FROM messages WHERE customer_id = $8 AND client_id = $6)
    RETURNING id, session_id, proven
), inserted AS (
    INSERT INTO messages (id, conversation_id, seq, author, author_name, kind, body, trusted,
                          created_at_ms, client_id, session_id, customer_id)
    SELECT $1, id, 1, 'customer', $2, 'text', $3, $4, $5, $6, $7, $8 FROM opened
    RETURNING conversation_id, seq
)
SELECT i.conversation_id, i.seq, o.session_id AS owner, o.proven
FROM inserted i JOIN opened o ON o.id = i.conversation_id";

/// An agent's message with the next `seq` of an open conversation, taken
/// as in [`JOIN`].
const AGENT: &str = "\
WITH bumped AS (
    UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = $6
    WHERE id = $8 AND status = 'open'
    RETURNING id, last_seq, app_id, customer_id, session_id, proven
), inserted AS (
    INSERT INTO messages (id, conversation_id, seq, author, author_name, kind, body, link, trusted,
                          created_at_ms, client_id)
    SELECT $1, id, last_seq, 'agent', $2, $3, $4, $5, FALSE, $6, $7 FROM bumped
    RETURNING seq
)
SELECT i.seq, b.app_id, b.customer_id, b.session_id AS owner, b.proven
FROM inserted i CROSS JOIN bumped b";

/// Stores a customer's message (see [`crate::store::Store::append_customer_message`]):
/// one statement that joins the open conversation; when there is none, one
/// that opens it; when the `client_id` was stored before, one that reads
/// that message back.
pub(super) async fn customer(pool: &PgPool, new: &NewCustomerMessage) -> StoreResult<Appended> {
    for _ in 0..ATTEMPTS {
        match insert(pool, JOIN, new, None).await {
            Ok(Some(row)) => return appended(new, &row, false),
            Ok(None) => {}
            Err(StoreError::Taken(UniqueKey::ClientId)) => return stored_before(pool, new).await,
            Err(error) => return Err(error),
        }
        let conversation_id = uuid::Uuid::new_v4().to_string();
        match insert(pool, OPEN, new, Some(&conversation_id)).await {
            Ok(Some(row)) => return appended(new, &row, true),
            // The client_id was stored before: nothing opened.
            Ok(None) | Err(StoreError::Taken(UniqueKey::ClientId)) => {
                return stored_before(pool, new).await
            }
            // Another writer opened the conversation meanwhile: join it.
            Err(StoreError::Taken(
                UniqueKey::OpenSessionConversation | UniqueKey::OpenProvenConversation,
            )) => {}
            Err(error) => return Err(error),
        }
    }
    Err(StoreError::Database(
        format!("no open conversation to join after {ATTEMPTS} attempts").into(),
    ))
}

/// Runs [`JOIN`] or [`OPEN`] (with the id of the conversation to open).
async fn insert(
    pool: &PgPool,
    statement: &'static str,
    new: &NewCustomerMessage,
    open: Option<&str>,
) -> StoreResult<Option<PgRow>> {
    let query = sqlx::query(statement)
        .bind(&new.id)
        .bind(&new.author_name)
        .bind(&new.body)
        .bind(new.trusted)
        .bind(new.now_ms)
        .bind(&new.client_id)
        .bind(&new.session_id)
        .bind(&new.customer_id);
    let query = match open {
        Some(conversation_id) => query.bind(conversation_id).bind(&new.app_id),
        None => query,
    };
    query.fetch_optional(pool).await.map_err(db)
}

fn appended(new: &NewCustomerMessage, row: &PgRow, opened: bool) -> StoreResult<Appended> {
    Ok(Appended {
        message: MessageRecord {
            id: new.id.clone(),
            conversation_id: row.try_get("conversation_id").map_err(db)?,
            seq: row.try_get("seq").map_err(db)?,
            author: Author::Customer,
            author_name: new.author_name.clone(),
            kind: MessageKind::Text,
            body: new.body.clone(),
            link: None,
            trusted: new.trusted,
            created_at_ms: new.now_ms,
            client_id: Some(new.client_id.clone()),
            session_id: Some(new.session_id.clone()),
        },
        app_id: new.app_id.clone(),
        customer_id: new.customer_id.clone(),
        owner_session_id: row.try_get("owner").map_err(db)?,
        proven: row.try_get("proven").map_err(db)?,
        created: true,
        opened,
    })
}

/// The message the session stored earlier with this `client_id`;
/// [`UniqueKey::ClientId`] taken when another session of the customer sent
/// it (a session reads back only what it wrote).
async fn stored_before(pool: &PgPool, new: &NewCustomerMessage) -> StoreResult<Appended> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {MESSAGE_COLUMNS}, \
         (SELECT c.session_id FROM conversations c WHERE c.id = messages.conversation_id) AS owner, \
         (SELECT c.proven FROM conversations c WHERE c.id = messages.conversation_id) AS proven \
         FROM messages WHERE customer_id = $1 AND client_id = $2"
    )))
    .bind(&new.customer_id)
    .bind(&new.client_id)
    .fetch_optional(pool)
    .await
    .map_err(db)?
    .ok_or_else(|| StoreError::Database("a client_id conflicted but no message has it".into()))?;
    let message = message_from_row(&row)?;
    if message.session_id.as_deref() != Some(new.session_id.as_str()) {
        return Err(StoreError::Taken(UniqueKey::ClientId));
    }
    Ok(Appended {
        message,
        app_id: new.app_id.clone(),
        customer_id: new.customer_id.clone(),
        owner_session_id: row.try_get("owner").map_err(db)?,
        proven: row.try_get("proven").map_err(db)?,
        created: false,
        opened: false,
    })
}

/// Stores an agent's message (see [`crate::store::Store::append_agent_message`]):
/// one statement.
pub(super) async fn agent(pool: &PgPool, new: &NewAgentMessage) -> StoreResult<Option<Appended>> {
    let row = sqlx::query(AGENT)
        .bind(&new.id)
        .bind(&new.author_name)
        .bind(kind_str(new.kind))
        .bind(&new.body)
        .bind(&new.link)
        .bind(new.now_ms)
        .bind(&new.client_id)
        .bind(&new.conversation_id)
        .fetch_optional(pool)
        .await
        .map_err(db)?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Appended {
        message: MessageRecord {
            id: new.id.clone(),
            conversation_id: new.conversation_id.clone(),
            seq: row.try_get("seq").map_err(db)?,
            author: Author::Agent,
            author_name: Some(new.author_name.clone()),
            kind: new.kind,
            body: new.body.clone(),
            link: new.link.clone(),
            trusted: false,
            created_at_ms: new.now_ms,
            client_id: new.client_id.clone(),
            session_id: None,
        },
        app_id: row.try_get("app_id").map_err(db)?,
        customer_id: row.try_get("customer_id").map_err(db)?,
        owner_session_id: row.try_get("owner").map_err(db)?,
        proven: row.try_get("proven").map_err(db)?,
        created: true,
        opened: false,
    }))
}
