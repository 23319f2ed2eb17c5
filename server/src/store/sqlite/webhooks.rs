//! The webhook outbox of a SQLite store (`webhook_deliveries`, see
//! `migrations/sqlite/0013_webhooks.sql` and [`crate::webhooks`]).
//!
//! Every write runs on the one writer connection, so a claim's lookup and
//! update are one statement no other writer comes between, and `seq`s are
//! taken in commit order.

use sqlx::sqlite::{SqliteConnection, SqlitePool, SqliteRow};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::db;
use crate::store::{
    DeliveryClaim, DeliveryDone, DeliveryRecord, DeliveryStatus, NewDelivery, StoreError,
    StoreResult, WebhookCounts,
};

pub(super) const DELIVERY_COLUMNS: &str = "seq, id, event_id, app_id, url, event_type, \
     order_key, payload, created_at, status, attempts, next_attempt_at, last_attempt_at, \
     last_status, last_error, delivered_at";

/// Rows per `INSERT` (9 parameters each, well under SQLite's limit).
const ROWS_PER_INSERT: usize = 200;

/// No earlier pending delivery of `d`'s webhook and key.
const FIRST_OF_ITS_KEY: &str = "NOT EXISTS (SELECT 1 FROM webhook_deliveries e \
     WHERE e.status = 'pending' AND e.app_id = d.app_id AND e.url = d.url \
     AND e.order_key = d.order_key AND e.seq < d.seq)";

/// Inserts `deliveries`, pending and due at once, in their order, on
/// `conn` (inside the caller's transaction).
pub(super) async fn insert(
    conn: &mut SqliteConnection,
    deliveries: &[NewDelivery],
) -> StoreResult<()> {
    for chunk in deliveries.chunks(ROWS_PER_INSERT) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "INSERT INTO webhook_deliveries (id, event_id, app_id, url, event_type, order_key, \
             payload, created_at, next_attempt_at) ",
        );
        query.push_values(chunk, |mut row, d| {
            row.push_bind(&d.id)
                .push_bind(&d.event_id)
                .push_bind(&d.app_id)
                .push_bind(&d.url)
                .push_bind(d.event_type.as_str())
                .push_bind(&d.order_key)
                .push_bind(&d.payload)
                .push_bind(d.created_at)
                .push_bind(d.created_at);
        });
        query.build().execute(&mut *conn).await.map_err(db)?;
    }
    Ok(())
}

/// [`insert`] in a transaction of its own.
pub(super) async fn enqueue(writer: &SqlitePool, deliveries: &[NewDelivery]) -> StoreResult<()> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
    insert(&mut tx, deliveries).await?;
    tx.commit().await.map_err(db)
}

pub(super) async fn claim(
    writer: &SqlitePool,
    now_ms: i64,
    lease_until_ms: i64,
) -> StoreResult<Option<DeliveryClaim>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE webhook_deliveries SET next_attempt_at = ?1, attempts = attempts + 1 \
         WHERE seq = (SELECT d.seq FROM webhook_deliveries d \
                      WHERE d.status = 'pending' AND d.next_attempt_at <= ?2 AND {FIRST_OF_ITS_KEY} \
                      ORDER BY d.next_attempt_at, d.seq LIMIT 1) \
         RETURNING {DELIVERY_COLUMNS}"
    )))
    .bind(lease_until_ms)
    .bind(now_ms)
    .fetch_optional(writer)
    .await
    .map_err(db)?;
    row.map(|row| {
        Ok(DeliveryClaim {
            delivery: delivery_from_row(&row)?,
            lease_until: lease_until_ms,
        })
    })
    .transpose()
}

pub(super) async fn finish(
    writer: &SqlitePool,
    seq: i64,
    lease_until: i64,
    done: &DeliveryDone,
) -> StoreResult<bool> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
    let held = sqlx::query(
        "UPDATE webhook_deliveries SET status = ?1, next_attempt_at = COALESCE(?2, next_attempt_at), \
         last_attempt_at = ?3, last_status = ?4, last_error = ?5, \
         delivered_at = CASE WHEN ?1 = 'delivered' THEN ?3 END \
         WHERE seq = ?6 AND status = 'pending' AND next_attempt_at = ?7",
    )
    .bind(done.status.as_str())
    .bind(done.next_attempt_at)
    .bind(done.at)
    .bind(done.http_status)
    .bind(&done.error)
    .bind(seq)
    .bind(lease_until)
    .execute(&mut *tx)
    .await
    .map_err(db)?
    .rows_affected()
        == 1;
    if let (true, DeliveryStatus::Pending, Some(next)) = (held, done.status, done.next_attempt_at) {
        // The later deliveries of its key wait for it: none is due first.
        sqlx::query(
            "UPDATE webhook_deliveries SET next_attempt_at = MAX(next_attempt_at, ?1) \
             WHERE status = 'pending' AND seq > ?2 AND (app_id, url, order_key) = \
             (SELECT app_id, url, order_key FROM webhook_deliveries WHERE seq = ?2)",
        )
        .bind(next)
        .bind(seq)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    tx.commit().await.map_err(db)?;
    Ok(held)
}

pub(super) async fn next_due(readers: &SqlitePool) -> StoreResult<Option<i64>> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT MIN(d.next_attempt_at) FROM webhook_deliveries d \
         WHERE d.status = 'pending' AND {FIRST_OF_ITS_KEY}"
    )))
    .fetch_one(readers)
    .await
    .map_err(db)
}

pub(super) async fn recent(
    readers: &SqlitePool,
    app_id: &str,
    limit: i64,
) -> StoreResult<Vec<DeliveryRecord>> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE app_id = ? \
         ORDER BY seq DESC LIMIT ?"
    )))
    .bind(app_id)
    .bind(limit.max(0))
    .fetch_all(readers)
    .await
    .map_err(db)?
    .iter()
    .map(delivery_from_row)
    .collect()
}

pub(super) async fn counts(readers: &SqlitePool) -> StoreResult<WebhookCounts> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM webhook_deliveries GROUP BY status")
            .fetch_all(readers)
            .await
            .map_err(db)?;
    Ok(WebhookCounts::from_rows(rows))
}

pub(super) async fn prune(writer: &SqlitePool, before_ms: i64) -> StoreResult<u64> {
    Ok(
        sqlx::query("DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < ?")
            .bind(before_ms)
            .execute(writer)
            .await
            .map_err(db)?
            .rows_affected(),
    )
}

pub(super) fn delivery_from_row(row: &SqliteRow) -> StoreResult<DeliveryRecord> {
    let status: String = row.try_get("status").map_err(db)?;
    Ok(DeliveryRecord {
        seq: row.try_get("seq").map_err(db)?,
        id: row.try_get("id").map_err(db)?,
        event_id: row.try_get("event_id").map_err(db)?,
        app_id: row.try_get("app_id").map_err(db)?,
        url: row.try_get("url").map_err(db)?,
        event_type: row.try_get("event_type").map_err(db)?,
        order_key: row.try_get("order_key").map_err(db)?,
        payload: row.try_get("payload").map_err(db)?,
        created_at: row.try_get("created_at").map_err(db)?,
        status: DeliveryStatus::parse(&status).ok_or_else(|| {
            StoreError::Database(format!("unknown delivery status {status:?}").into())
        })?,
        attempts: row.try_get("attempts").map_err(db)?,
        next_attempt_at: row.try_get("next_attempt_at").map_err(db)?,
        last_attempt_at: row.try_get("last_attempt_at").map_err(db)?,
        last_status: row.try_get("last_status").map_err(db)?,
        last_error: row.try_get("last_error").map_err(db)?,
        delivered_at: row.try_get("delivered_at").map_err(db)?,
    })
}
