//! Privacy work on a SQLite store: a customer's data read in one snapshot,
//! erased without a trace in the files, old closed conversations purged,
//! the audit log.
//!
//! No trace: every connection runs with `PRAGMA secure_delete = ON` (set in
//! [`super::SqliteStore::connect`]), so the space a deleted or rewritten
//! row leaves in its page, and every page freed, is zeroed rather than left
//! with the old bytes; the full-text tables have FTS5's `secure-delete`
//! option (migration 0014), so a deleted row's terms leave the index
//! segments at once instead of lingering behind a tombstone. Both apply to
//! the WAL too; after an erasure's commit the WAL is checkpointed and
//! truncated ([`clear_wal`]), so no older copy of a page stays in it.

use std::time::Duration;

use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::Row;

use super::{
    checkpoint::wal_checkpoint, conversation_from_row, customer_from_row, db, message_from_row,
    session_from_row, SqliteStore, CONVERSATION_COLUMNS, CUSTOMER_COLUMNS, MESSAGE_COLUMNS,
    SESSION_COLUMNS,
};
use crate::store::privacy::erase_detail;
use crate::store::{
    AgentReadRecord, AuditAction, AuditActor, AuditRecord, CustomerData, CustomerMatch, Erased,
    PendingEmailRecord, Purged, StoreError, StoreResult,
};

/// How often the WAL truncation after an erasure is tried (each try waits
/// up to the connection's busy timeout for readers and writers).
const CLEAR_WAL_ATTEMPTS: usize = 5;

/// A list of ids as the JSON array `json_each` reads.
fn json_ids(ids: &[String]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned())
}

/// The `WHERE` condition on `customers` of a match in app `app_id`, and
/// the values it binds after the app's. An email or a phone also finds
/// the profiles one of whose sessions gave it (a phone given beside an
/// email stays with the session, not the profile).
fn matching_condition<'a>(
    matching: &'a CustomerMatch,
    app_id: &'a str,
) -> (&'static str, Vec<&'a str>) {
    match matching {
        CustomerMatch::Id(id) => ("id = ?", vec![id]),
        CustomerMatch::Email(email) => (
            "(email = ? OR id IN (SELECT customer_id FROM sessions WHERE app_id = ? AND display_email = ?))",
            vec![email, app_id, email],
        ),
        CustomerMatch::Phone(phone) => (
            "(phone = ? OR id IN (SELECT customer_id FROM sessions WHERE app_id = ? AND display_phone = ?))",
            vec![phone, app_id, phone],
        ),
    }
}

/// The ids of the sessions of `customers`.
async fn session_ids(conn: &mut SqliteConnection, customers: &str) -> StoreResult<Vec<String>> {
    sqlx::query_scalar(
        "SELECT id FROM sessions WHERE customer_id IN (SELECT value FROM json_each(?)) \
         ORDER BY created_at, id",
    )
    .bind(customers)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)
}

/// The conversations of `customers` and those their `sessions` started.
const CONVERSATIONS_OF: &str = "(customer_id IN (SELECT value FROM json_each(?)) \
     OR session_id IN (SELECT value FROM json_each(?)))";

/// Deletes the webhook deliveries (the outbox, pending or done: their
/// bodies hold the customer's data) of these customers (`customer.verified`)
/// or conversations (the other events): JSON arrays of ids, each a
/// delivery's `order_key`.
async fn delete_webhook_deliveries(
    conn: &mut SqliteConnection,
    customers: &str,
    conversations: &str,
) -> StoreResult<u64> {
    let deleted = sqlx::query(
        "DELETE FROM webhook_deliveries \
         WHERE order_key IN (SELECT value FROM json_each(?)) \
            OR order_key IN (SELECT value FROM json_each(?))",
    )
    .bind(customers)
    .bind(conversations)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(deleted.rows_affected())
}

/// Deletes conversations (a JSON array of ids) with their messages, read
/// markers and webhook deliveries; returns the messages deleted.
async fn delete_conversations(
    conn: &mut SqliteConnection,
    customers: &str,
    conversations: &str,
) -> StoreResult<(u64, u64, u64)> {
    let webhooks = delete_webhook_deliveries(conn, customers, conversations).await?;
    let reads = sqlx::query(
        "DELETE FROM agent_reads WHERE conversation_id IN (SELECT value FROM json_each(?))",
    )
    .bind(conversations)
    .execute(&mut *conn)
    .await
    .map_err(db)?
    .rows_affected();
    // The `messages_fts_delete` trigger takes each body out of the index.
    let messages = sqlx::query(
        "DELETE FROM messages WHERE conversation_id IN (SELECT value FROM json_each(?))",
    )
    .bind(conversations)
    .execute(&mut *conn)
    .await
    .map_err(db)?
    .rows_affected();
    sqlx::query("DELETE FROM conversations WHERE id IN (SELECT value FROM json_each(?))")
        .bind(conversations)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok((messages, reads, webhooks))
}

async fn insert_audit(conn: &mut SqliteConnection, entry: &AuditRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO privacy_audit (at_ms, action, app_id, customer_id, actor, detail) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(entry.at_ms)
    .bind(entry.action.as_str())
    .bind(&entry.app_id)
    .bind(&entry.customer_id)
    .bind(&entry.actor)
    .bind(&entry.detail)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Copies the whole WAL into the database and truncates it to nothing, so
/// that no frame written before (an old version of a page) survives;
/// false when readers or another writer kept it busy every try.
async fn clear_wal(writer: &SqlitePool) -> StoreResult<bool> {
    for attempt in 0..CLEAR_WAL_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(50 * attempt as u64)).await;
        }
        let mut conn = writer.acquire().await.map_err(db)?;
        let done = wal_checkpoint(&mut *conn, "TRUNCATE").await.map_err(db)?;
        if !done.busy {
            return Ok(true);
        }
    }
    Ok(false)
}

impl SqliteStore {
    pub(super) async fn read_customer_data(
        &self,
        app_id: &str,
        matching: &CustomerMatch,
    ) -> StoreResult<CustomerData> {
        // One read transaction: one snapshot from its first read on.
        let mut tx = self.readers.begin().await.map_err(db)?;
        let (condition, values) = matching_condition(matching, app_id);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE app_id = ? AND {condition} ORDER BY rowid"
        )))
        .bind(app_id);
        for value in values {
            query = query.bind(value);
        }
        let customers = query
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?
            .iter()
            .map(customer_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        if customers.is_empty() {
            return Ok(CustomerData::default());
        }
        let customer_ids: Vec<String> = customers.iter().map(|c| c.id.clone()).collect();
        let customer_ids = json_ids(&customer_ids);
        let sessions = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions \
             WHERE customer_id IN (SELECT value FROM json_each(?)) ORDER BY created_at, id"
        )))
        .bind(&customer_ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?
        .iter()
        .map(session_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
        let session_ids: Vec<String> = sessions.iter().map(|s| s.id.clone()).collect();
        let conversations = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE app_id = ? AND {CONVERSATIONS_OF} \
             ORDER BY created_at, id"
        )))
        .bind(app_id)
        .bind(&customer_ids)
        .bind(json_ids(&session_ids))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?
        .iter()
        .map(conversation_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
        let conversation_ids: Vec<String> = conversations.iter().map(|c| c.id.clone()).collect();
        let conversation_ids = json_ids(&conversation_ids);
        let mut messages = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE conversation_id IN (SELECT value FROM json_each(?)) ORDER BY conversation_id, seq"
        )))
        .bind(&conversation_ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?
        .iter()
        .map(message_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
        let order = |id: &str| conversations.iter().position(|c| c.id == id);
        messages.sort_by(|a, b| {
            (order(&a.conversation_id), a.seq).cmp(&(order(&b.conversation_id), b.seq))
        });
        let agent_reads = sqlx::query(
            "SELECT agent_id, conversation_id, seq FROM agent_reads \
             WHERE conversation_id IN (SELECT value FROM json_each(?)) ORDER BY conversation_id, agent_id",
        )
        .bind(&conversation_ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?
        .iter()
        .map(|row| {
            Ok(AgentReadRecord {
                agent_id: row.try_get(0).map_err(db)?,
                conversation_id: row.try_get(1).map_err(db)?,
                seq: row.try_get(2).map_err(db)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        let pending_emails = sqlx::query(
            "SELECT id, email_due_at, email_attempts, emailed_seq FROM conversations \
             WHERE id IN (SELECT value FROM json_each(?)) AND email_due_at IS NOT NULL \
             ORDER BY created_at, id",
        )
        .bind(&conversation_ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?
        .iter()
        .map(|row| {
            Ok(PendingEmailRecord {
                conversation_id: row.try_get(0).map_err(db)?,
                due_at: row.try_get(1).map_err(db)?,
                attempts: row.try_get(2).map_err(db)?,
                emailed_seq: row.try_get(3).map_err(db)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        let webhook_deliveries = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM webhook_deliveries WHERE order_key IN (SELECT value FROM json_each(?)) OR order_key IN (SELECT value FROM json_each(?)) ORDER BY seq",
            super::webhooks::DELIVERY_COLUMNS
        )))
        .bind(&customer_ids)
        .bind(&conversation_ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?
        .iter()
        .map(super::webhooks::delivery_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
        tx.commit().await.map_err(db)?;
        Ok(CustomerData {
            customers,
            sessions,
            conversations,
            messages,
            agent_reads,
            pending_emails,
            webhook_deliveries,
        })
    }

    pub(super) async fn erase(
        &self,
        app_id: &str,
        matching: &CustomerMatch,
        actor: &AuditActor,
    ) -> StoreResult<Erased> {
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        let (condition, values) = matching_condition(matching, app_id);
        let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM customers WHERE app_id = ? AND {condition} ORDER BY rowid"
        )))
        .bind(app_id);
        for value in values {
            query = query.bind(value);
        }
        let customer_ids: Vec<String> = query.fetch_all(&mut *tx).await.map_err(db)?;
        if customer_ids.is_empty() {
            return Ok(Erased {
                wal_cleared: true,
                ..Erased::default()
            });
        }
        let customers = json_ids(&customer_ids);
        let session_ids = session_ids(&mut tx, &customers).await?;
        let sessions = json_ids(&session_ids);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, rating IS NOT NULL, email_due_at IS NOT NULL FROM conversations \
             WHERE app_id = ? AND {CONVERSATIONS_OF} ORDER BY created_at, id"
        )))
        .bind(app_id)
        .bind(&customers)
        .bind(&sessions)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut erased = Erased {
            customer_ids,
            session_ids,
            ..Erased::default()
        };
        for row in &rows {
            erased.conversation_ids.push(row.try_get(0).map_err(db)?);
            erased.ratings += u64::from(row.try_get::<bool, _>(1).map_err(db)?);
            erased.pending_emails += u64::from(row.try_get::<bool, _>(2).map_err(db)?);
        }
        let conversations = json_ids(&erased.conversation_ids);
        let (messages, reads, webhooks) =
            delete_conversations(&mut tx, &customers, &conversations).await?;
        erased.messages = messages;
        erased.agent_reads = reads;
        erased.webhook_deliveries = webhooks;
        sqlx::query("DELETE FROM sessions WHERE id IN (SELECT value FROM json_each(?))")
            .bind(&sessions)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        // The `customers_fts_delete` trigger takes the profile's name,
        // email and phone out of the index.
        sqlx::query("DELETE FROM customers WHERE id IN (SELECT value FROM json_each(?))")
            .bind(&customers)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let detail = erase_detail(&erased);
        for customer_id in &erased.customer_ids {
            insert_audit(
                &mut tx,
                &AuditRecord {
                    at_ms: actor.at_ms,
                    action: AuditAction::Erase,
                    app_id: app_id.to_owned(),
                    customer_id: Some(customer_id.clone()),
                    actor: actor.actor.clone(),
                    detail: detail.clone(),
                },
            )
            .await?;
        }
        tx.commit().await.map_err(db)?;
        erased.wal_cleared = clear_wal(&self.writer).await?;
        if !erased.wal_cleared {
            tracing::warn!(
                app = %app_id,
                "erased, but the WAL could not be truncated: older copies of the erased rows stay in the -wal file until it is"
            );
        }
        Ok(erased)
    }

    pub(super) async fn purge(
        &self,
        app_id: &str,
        closed_before_ms: i64,
        limit: i64,
    ) -> StoreResult<Purged> {
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        // A conversation closes after it opens: `created_at` bounds the
        // scan by an index, `closed_at` decides.
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM conversations WHERE app_id = ? AND created_at < ? \
             AND status = 'closed' AND closed_at < ? LIMIT ?",
        )
        .bind(app_id)
        .bind(closed_before_ms)
        .bind(closed_before_ms)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        if ids.is_empty() {
            return Ok(Purged::default());
        }
        let (messages, _, _) = delete_conversations(&mut tx, "[]", &json_ids(&ids)).await?;
        tx.commit().await.map_err(db)?;
        Ok(Purged {
            conversations: ids.len() as u64,
            messages,
        })
    }

    pub(super) async fn insert_audit(&self, entry: &AuditRecord) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await.map_err(db)?;
        insert_audit(&mut conn, entry).await
    }

    pub(super) async fn read_audit_log(
        &self,
        app_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<AuditRecord>> {
        sqlx::query(
            "SELECT at_ms, action, app_id, customer_id, actor, detail FROM privacy_audit \
             WHERE ? IS NULL OR app_id = ? ORDER BY at_ms DESC, id DESC LIMIT ?",
        )
        .bind(app_id)
        .bind(app_id)
        .bind(limit)
        .fetch_all(&self.readers)
        .await
        .map_err(db)?
        .iter()
        .map(|row| {
            let action: String = row.try_get(1).map_err(db)?;
            Ok(AuditRecord {
                at_ms: row.try_get(0).map_err(db)?,
                action: AuditAction::parse(&action).ok_or_else(|| {
                    StoreError::Database(format!("unknown audit action {action:?}").into())
                })?,
                app_id: row.try_get(2).map_err(db)?,
                customer_id: row.try_get(3).map_err(db)?,
                actor: row.try_get(4).map_err(db)?,
                detail: row.try_get(5).map_err(db)?,
            })
        })
        .collect()
    }
}
