//! Privacy work on the Postgres store: the SQL of the SQLite store's
//! `privacy.rs`, with arrays for id lists. An erasure locks the profiles
//! first (no session or conversation can be added to them meanwhile),
//! then their conversations in id order, as the message writers do;
//! a purge skips conversations another server is purging.
//!
//! Deleted rows stay in the table files until `VACUUM` (autovacuum) reuses
//! their space, and in the WAL, its archive and base backups until those
//! age out: the README says so ("Privacy requests").

use sqlx::postgres::PgConnection;
use sqlx::Row;

use super::rows::{
    conversation_from_row, customer_from_row, db, message_from_row, session_from_row,
    CONVERSATION_COLUMNS, CUSTOMER_COLUMNS, MESSAGE_COLUMNS, SESSION_COLUMNS,
};
use super::PostgresStore;
use crate::store::privacy::erase_detail;
use crate::store::{
    AgentReadRecord, AuditAction, AuditActor, AuditRecord, CustomerData, CustomerMatch, Erased,
    PendingEmailRecord, Purged, StoreError, StoreResult,
};

/// How often an erasure is tried when a writer added a row of the
/// customer between its statements or a deadlock cut it.
const ERASE_ATTEMPTS: usize = 3;

/// The `WHERE` condition on `customers` of a match (the app is `$1`, its
/// value `$2`). An email or a phone also finds the profiles one of whose
/// sessions gave it (a phone given beside an email stays with the
/// session, not the profile).
fn matching_condition(matching: &CustomerMatch) -> (&'static str, &str) {
    match matching {
        CustomerMatch::Id(id) => ("id = $2", id),
        CustomerMatch::Email(email) => (
            "(email = $2 OR id IN (SELECT customer_id FROM sessions WHERE app_id = $1 AND display_email = $2))",
            email,
        ),
        CustomerMatch::Phone(phone) => (
            "(phone = $2 OR id IN (SELECT customer_id FROM sessions WHERE app_id = $1 AND display_phone = $2))",
            phone,
        ),
    }
}

/// The conversations of the customers `$2` and those their sessions `$3`
/// started, in app `$1`.
const CONVERSATIONS_OF: &str = "app_id = $1 AND (customer_id = ANY($2) OR session_id = ANY($3))";

/// Deletes conversations with their webhook deliveries, read markers and
/// messages; returns (messages, read markers, webhook deliveries).
async fn delete_conversations(
    conn: &mut PgConnection,
    customers: &[String],
    conversations: &[String],
) -> StoreResult<(u64, u64, u64)> {
    // The outbox, pending or done (the bodies hold the customer's data):
    // a delivery's `order_key` is its conversation, or the customer for
    // `customer.verified`.
    let webhooks = sqlx::query(
        "DELETE FROM webhook_deliveries WHERE order_key = ANY($1) OR order_key = ANY($2)",
    )
    .bind(customers)
    .bind(conversations)
    .execute(&mut *conn)
    .await
    .map_err(db)?
    .rows_affected();
    let reads = sqlx::query("DELETE FROM agent_reads WHERE conversation_id = ANY($1)")
        .bind(conversations)
        .execute(&mut *conn)
        .await
        .map_err(db)?
        .rows_affected();
    let messages = sqlx::query("DELETE FROM messages WHERE conversation_id = ANY($1)")
        .bind(conversations)
        .execute(&mut *conn)
        .await
        .map_err(db)?
        .rows_affected();
    sqlx::query("DELETE FROM conversations WHERE id = ANY($1)")
        .bind(conversations)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok((messages, reads, webhooks))
}

async fn insert_audit(conn: &mut PgConnection, entry: &AuditRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO privacy_audit (at_ms, action, app_id, customer_id, actor, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
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

/// Whether an erasure should be tried again: a row of the customer was
/// added meanwhile (a foreign key refused the delete), or a deadlock or
/// serialization failure cut it.
fn retryable(error: &StoreError) -> bool {
    let StoreError::Database(source) = error else {
        return false;
    };
    source
        .downcast_ref::<sqlx::Error>()
        .and_then(|e| e.as_database_error())
        .and_then(|e| e.code())
        .is_some_and(|code| matches!(code.as_ref(), "23503" | "40P01" | "40001"))
}

impl PostgresStore {
    pub(super) async fn read_customer_data(
        &self,
        app_id: &str,
        matching: &CustomerMatch,
    ) -> StoreResult<CustomerData> {
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
            .map_err(db)?;
        let (condition, value) = matching_condition(matching);
        let customers = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE app_id = $1 AND {condition} ORDER BY rowid"
        )))
        .bind(app_id)
        .bind(value)
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
        let sessions = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE customer_id = ANY($1) ORDER BY created_at, id"
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
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE {CONVERSATIONS_OF} \
             ORDER BY created_at, id"
        )))
        .bind(app_id)
        .bind(&customer_ids)
        .bind(&session_ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?
        .iter()
        .map(conversation_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
        let conversation_ids: Vec<String> = conversations.iter().map(|c| c.id.clone()).collect();
        let mut messages = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ANY($1) \
             ORDER BY conversation_id, seq"
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
             WHERE conversation_id = ANY($1) ORDER BY conversation_id, agent_id",
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
             WHERE id = ANY($1) AND email_due_at IS NOT NULL ORDER BY created_at, id",
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
            "SELECT {} FROM webhook_deliveries WHERE order_key = ANY($1) OR order_key = ANY($2) ORDER BY seq",
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
        let mut attempt = 1;
        loop {
            match self.erase_once(app_id, matching, actor).await {
                Err(error) if attempt < ERASE_ATTEMPTS && retryable(&error) => attempt += 1,
                result => return result,
            }
        }
    }

    async fn erase_once(
        &self,
        app_id: &str,
        matching: &CustomerMatch,
        actor: &AuditActor,
    ) -> StoreResult<Erased> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let (condition, value) = matching_condition(matching);
        // Locked (in id order): no session or conversation can be added
        // to them now. Reported oldest first, as SQLite does.
        let mut customers: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, rowid FROM customers WHERE app_id = $1 AND {condition} ORDER BY id FOR UPDATE"
        )))
        .bind(app_id)
        .bind(value)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        customers.sort_by_key(|(_, rowid)| *rowid);
        let customer_ids: Vec<String> = customers.into_iter().map(|(id, _)| id).collect();
        if customer_ids.is_empty() {
            return Ok(Erased {
                wal_cleared: true,
                ..Erased::default()
            });
        }
        let session_ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM sessions WHERE customer_id = ANY($1) ORDER BY created_at, id",
        )
        .bind(&customer_ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        // In id order, as the writers lock them: no message joins them now.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, rating IS NOT NULL, email_due_at IS NOT NULL, created_at FROM conversations \
             WHERE {CONVERSATIONS_OF} ORDER BY id FOR UPDATE"
        )))
        .bind(app_id)
        .bind(&customer_ids)
        .bind(&session_ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut erased = Erased {
            customer_ids,
            session_ids,
            wal_cleared: true,
            ..Erased::default()
        };
        // Reported oldest first, as SQLite does.
        let mut rows = rows;
        rows.sort_by_key(|row| {
            (
                row.try_get::<i64, _>(3).unwrap_or_default(),
                row.try_get::<String, _>(0).unwrap_or_default(),
            )
        });
        for row in &rows {
            erased.conversation_ids.push(row.try_get(0).map_err(db)?);
            erased.ratings += u64::from(row.try_get::<bool, _>(1).map_err(db)?);
            erased.pending_emails += u64::from(row.try_get::<bool, _>(2).map_err(db)?);
        }
        let (messages, reads, webhooks) =
            delete_conversations(&mut tx, &erased.customer_ids, &erased.conversation_ids).await?;
        erased.messages = messages;
        erased.agent_reads = reads;
        erased.webhook_deliveries = webhooks;
        sqlx::query("DELETE FROM sessions WHERE id = ANY($1)")
            .bind(&erased.session_ids)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("DELETE FROM customers WHERE id = ANY($1)")
            .bind(&erased.customer_ids)
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
        Ok(erased)
    }

    pub(super) async fn purge(
        &self,
        app_id: &str,
        closed_before_ms: i64,
        limit: i64,
    ) -> StoreResult<Purged> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        // A conversation closes after it opens: `created_at` bounds the
        // scan by an index, `closed_at` decides. Another server's purge
        // holds its own batch: skip it.
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM conversations WHERE app_id = $1 AND created_at < $2 \
             AND status = 'closed' AND closed_at < $2 ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED",
        )
        .bind(app_id)
        .bind(closed_before_ms)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        if ids.is_empty() {
            return Ok(Purged::default());
        }
        let (messages, _, _) = delete_conversations(&mut tx, &[], &ids).await?;
        tx.commit().await.map_err(db)?;
        Ok(Purged {
            conversations: ids.len() as u64,
            messages,
        })
    }

    pub(super) async fn insert_audit(&self, entry: &AuditRecord) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        insert_audit(&mut conn, entry).await
    }

    pub(super) async fn read_audit_log(
        &self,
        app_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<AuditRecord>> {
        sqlx::query(
            "SELECT at_ms, action, app_id, customer_id, actor, detail FROM privacy_audit \
             WHERE $1::text IS NULL OR app_id = $1 ORDER BY at_ms DESC, id DESC LIMIT $2",
        )
        .bind(app_id)
        .bind(limit)
        .fetch_all(&self.pool)
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
