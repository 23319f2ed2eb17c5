//! The webhook outbox of a Postgres store (`webhook_deliveries`, see
//! `migrations/postgres/0009_webhooks.sql` and [`crate::webhooks`]).
//!
//! Many servers claim from one outbox: a claim takes its row `FOR UPDATE
//! SKIP LOCKED`, so two servers never take the same delivery, and a
//! delivery whose earlier one (same webhook and key) is pending, claimed
//! or locked by another server's claim, is not taken either: that earlier
//! row is still `pending` in every snapshot until its outcome commits.

use sqlx::postgres::{PgConnection, PgPool, PgRow};
use sqlx::Row;

use super::rows::db;
use crate::store::{
    DeliveryClaim, DeliveryDone, DeliveryRecord, DeliveryStatus, NewDelivery, StoreError,
    StoreResult, WebhookCounts,
};

pub(super) const DELIVERY_COLUMNS: &str = "seq, id, event_id, app_id, url, event_type, \
     order_key, payload, created_at, status, attempts, next_attempt_at, last_attempt_at, \
     last_status, last_error, delivered_at";

/// No earlier pending delivery of `d`'s webhook and key.
const FIRST_OF_ITS_KEY: &str = "NOT EXISTS (SELECT 1 FROM webhook_deliveries e \
     WHERE e.status = 'pending' AND e.app_id = d.app_id AND e.url = d.url \
     AND e.order_key = d.order_key AND e.seq < d.seq)";

/// Inserts `deliveries`, pending and due at once, in their order (their
/// `seq`s follow it), on `conn`: one statement.
pub(super) async fn insert(conn: &mut PgConnection, deliveries: &[NewDelivery]) -> StoreResult<()> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let column =
        |f: fn(&NewDelivery) -> String| -> Vec<String> { deliveries.iter().map(f).collect() };
    let created: Vec<i64> = deliveries.iter().map(|d| d.created_at).collect();
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, event_id, app_id, url, event_type, order_key, \
         payload, created_at, next_attempt_at) \
         SELECT id, event_id, app_id, url, event_type, order_key, payload, created_at, created_at \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                     $7::text[], $8::bigint[]) WITH ORDINALITY \
              AS d(id, event_id, app_id, url, event_type, order_key, payload, created_at, n) \
         ORDER BY n",
    )
    .bind(column(|d| d.id.clone()))
    .bind(column(|d| d.event_id.clone()))
    .bind(column(|d| d.app_id.clone()))
    .bind(column(|d| d.url.clone()))
    .bind(column(|d| d.event_type.as_str().to_owned()))
    .bind(column(|d| d.order_key.clone()))
    .bind(column(|d| d.payload.clone()))
    .bind(created)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// [`insert`] on a connection of the pool.
pub(super) async fn enqueue(pool: &PgPool, deliveries: &[NewDelivery]) -> StoreResult<()> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let mut conn = pool.acquire().await.map_err(db)?;
    insert(&mut conn, deliveries).await
}

pub(super) async fn claim(
    pool: &PgPool,
    now_ms: i64,
    lease_until_ms: i64,
) -> StoreResult<Option<DeliveryClaim>> {
    // SKIP LOCKED: servers claiming at once take different rows; the row
    // lock re-checks the due time, so a row claimed and committed
    // meanwhile is not due any more.
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE webhook_deliveries SET next_attempt_at = $1, attempts = attempts + 1 \
         WHERE seq = (SELECT d.seq FROM webhook_deliveries d \
                      WHERE d.status = 'pending' AND d.next_attempt_at <= $2 AND {FIRST_OF_ITS_KEY} \
                      ORDER BY d.next_attempt_at, d.seq LIMIT 1 FOR UPDATE SKIP LOCKED) \
         AND status = 'pending' AND next_attempt_at <= $2 \
         RETURNING {DELIVERY_COLUMNS}"
    )))
    .bind(lease_until_ms)
    .bind(now_ms)
    .fetch_optional(pool)
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
    pool: &PgPool,
    seq: i64,
    lease_until: i64,
    done: &DeliveryDone,
) -> StoreResult<bool> {
    // One statement: the outcome while the claim holds, and, pending
    // again, the later deliveries of its key not due before it.
    let held: i64 = sqlx::query_scalar(
        "WITH done AS ( \
             UPDATE webhook_deliveries SET status = $1::text, \
                 next_attempt_at = COALESCE($2::bigint, next_attempt_at), \
                 last_attempt_at = $3::bigint, last_status = $4::bigint, last_error = $5::text, \
                 delivered_at = CASE WHEN $1::text = 'delivered' THEN $3::bigint END \
             WHERE seq = $6 AND status = 'pending' AND next_attempt_at = $7 \
             RETURNING app_id, url, order_key, status, next_attempt_at \
         ), later AS ( \
             UPDATE webhook_deliveries w \
             SET next_attempt_at = GREATEST(w.next_attempt_at, d.next_attempt_at) \
             FROM done d \
             WHERE d.status = 'pending' AND w.status = 'pending' AND w.app_id = d.app_id \
               AND w.url = d.url AND w.order_key = d.order_key AND w.seq > $6 \
         ) \
         SELECT COUNT(*) FROM done",
    )
    .bind(done.status.as_str())
    .bind(done.next_attempt_at)
    .bind(done.at)
    .bind(done.http_status)
    .bind(&done.error)
    .bind(seq)
    .bind(lease_until)
    .fetch_one(pool)
    .await
    .map_err(db)?;
    Ok(held == 1)
}

pub(super) async fn next_due(pool: &PgPool) -> StoreResult<Option<i64>> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT MIN(d.next_attempt_at) FROM webhook_deliveries d \
         WHERE d.status = 'pending' AND {FIRST_OF_ITS_KEY}"
    )))
    .fetch_one(pool)
    .await
    .map_err(db)
}

pub(super) async fn recent(
    pool: &PgPool,
    app_id: &str,
    limit: i64,
) -> StoreResult<Vec<DeliveryRecord>> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE app_id = $1 \
         ORDER BY seq DESC LIMIT $2"
    )))
    .bind(app_id)
    .bind(limit.max(0))
    .fetch_all(pool)
    .await
    .map_err(db)?
    .iter()
    .map(delivery_from_row)
    .collect()
}

pub(super) async fn counts(pool: &PgPool) -> StoreResult<WebhookCounts> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM webhook_deliveries GROUP BY status")
            .fetch_all(pool)
            .await
            .map_err(db)?;
    Ok(WebhookCounts::from_rows(rows))
}

pub(super) async fn prune(pool: &PgPool, before_ms: i64) -> StoreResult<u64> {
    Ok(
        sqlx::query("DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < $1")
            .bind(before_ms)
            .execute(pool)
            .await
            .map_err(db)?
            .rows_affected(),
    )
}

pub(super) fn delivery_from_row(row: &PgRow) -> StoreResult<DeliveryRecord> {
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
