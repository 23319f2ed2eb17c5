//! The routing lock of a Postgres store: a transaction-scoped advisory lock
//! that every server of the database takes before it decides where
//! conversations go.

use std::sync::Arc;

use sqlx::postgres::{PgPool, Postgres};
use sqlx::Transaction;
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::rows::db;
use crate::store::{RoutingGuard, StoreResult};

/// The advisory lock's key: "tc-route" in ASCII. sqlx's migrator derives
/// its own key from the database's name, well away from this one.
const ROUTING_LOCK: i64 = 0x7463_2d72_6f75_7465;

/// What a [`RoutingGuard`] holds: the transaction that holds the lock, and
/// this server's turn. Dropping the transaction rolls it back as its
/// connection goes back to the pool (sqlx sends the rollback then, before
/// the connection is reused), which releases the lock at once; only then
/// does this server's next decision go.
struct Held {
    /// Holds `pg_advisory_xact_lock`; dropped first.
    _lock: std::sync::Mutex<Transaction<'static, Postgres>>,
    /// This server's turn.
    _turn: OwnedMutexGuard<()>,
}

/// Waits for this server's turn, then for the cluster-wide lock. A server
/// holds at most one connection for routing: its other decisions wait in
/// `turn` without one, so they cannot take the connections the decision
/// under way needs.
pub(super) async fn lock(pool: &PgPool, turn: &Arc<Mutex<()>>) -> StoreResult<RoutingGuard> {
    let turn = Arc::clone(turn).lock_owned().await;
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(ROUTING_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    Ok(RoutingGuard::new(Held {
        _lock: std::sync::Mutex::new(tx),
        _turn: turn,
    }))
}
