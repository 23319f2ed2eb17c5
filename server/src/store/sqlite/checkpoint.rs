//! The checkpointer of a SQLite store: copies the WAL back into the
//! database in the background, so that no commit stalls the writer (see
//! the module documentation of [`super`], "Checkpoints").

use std::time::{Duration, Instant};

use sqlx::sqlite::{SqliteConnection, SqliteExecutor, SqlitePool};
use sqlx::Row;
use tokio::sync::watch;

use super::BUSY_TIMEOUT;

/// How often the checkpointer copies the WAL into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// The WAL size (pages, 4 KiB by default: 64 MiB) past which the
/// checkpointer makes the writer start the WAL over. Each restart holds the
/// writer for a few milliseconds; at 2,000 messages a second the WAL grows
/// by some 14,000 pages a second.
pub(super) const WAL_RESTART_PAGES: i64 = 16_384;
/// How long the `RESTART` checkpoint, which holds the writer, waits for
/// readers of the old WAL; [`BUSY_TIMEOUT`] once the WAL is four times
/// [`WAL_RESTART_PAGES`] (restarts kept failing).
const RESTART_BUSY_TIMEOUT: Duration = Duration::from_millis(100);

/// The checkpointer: every [`CHECKPOINT_EVERY`] a `PASSIVE` checkpoint on
/// a reader connection, and a `RESTART` on the writer connection once the
/// WAL passed [`WAL_RESTART_PAGES`] (see the module documentation). Ends
/// when told to, when the store is dropped, or when the pools close.
pub(super) async fn checkpoint_loop(
    readers: SqlitePool,
    writer: SqlitePool,
    mut stop: watch::Receiver<bool>,
) {
    let mut every = tokio::time::interval(CHECKPOINT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            _ = every.tick() => {}
        }
        match checkpoint(&readers, &writer, WAL_RESTART_PAGES).await {
            Ok(()) => {}
            Err(sqlx::Error::PoolClosed) => break,
            Err(error) => tracing::warn!(%error, "WAL checkpoint failed"),
        }
    }
}

/// One round of the checkpointer; the WAL restarts past `restart_pages`.
pub(super) async fn checkpoint(
    readers: &SqlitePool,
    writer: &SqlitePool,
    restart_pages: i64,
) -> Result<(), sqlx::Error> {
    let passive = wal_checkpoint(readers, "PASSIVE").await?;
    if passive.log_pages < restart_pages {
        return Ok(());
    }
    // Holding the writer connection, nothing is appended meanwhile: what
    // the passive checkpoint left is copied, readers still on the old WAL
    // are waited for (briefly: the writer waits too), and the next commit
    // starts the WAL over.
    let started = Instant::now();
    let patience = if passive.log_pages < 4 * restart_pages {
        RESTART_BUSY_TIMEOUT
    } else {
        BUSY_TIMEOUT
    };
    let mut conn = writer.acquire().await?;
    set_busy_timeout(&mut conn, patience).await?;
    let restart = wal_checkpoint(&mut *conn, "RESTART").await;
    let restored = set_busy_timeout(&mut conn, BUSY_TIMEOUT).await;
    drop(conn);
    let (restart, ()) = (restart?, restored?);
    let took_ms = started.elapsed().as_secs_f64() * 1000.0;
    if restart.busy {
        tracing::warn!(
            wal_pages = passive.log_pages,
            took_ms,
            "WAL restart checkpoint could not finish; readers kept it busy"
        );
    } else {
        tracing::debug!(wal_pages = passive.log_pages, took_ms, "WAL restarted");
    }
    Ok(())
}

/// What `PRAGMA wal_checkpoint` reports.
pub(super) struct Checkpointed {
    /// The checkpoint could not finish (`SQLITE_BUSY`).
    pub(super) busy: bool,
    /// The pages in the WAL.
    pub(super) log_pages: i64,
}

pub(super) async fn wal_checkpoint<'c>(
    executor: impl SqliteExecutor<'c>,
    mode: &'static str,
) -> Result<Checkpointed, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "PRAGMA wal_checkpoint({mode})"
    )))
    .fetch_one(executor)
    .await?;
    Ok(Checkpointed {
        busy: row.try_get::<i64, _>(0)? != 0,
        log_pages: row.try_get(1)?,
    })
}

async fn set_busy_timeout(
    conn: &mut SqliteConnection,
    timeout: Duration,
) -> Result<(), sqlx::Error> {
    let ms = timeout.as_millis();
    sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA busy_timeout = {ms}")))
        .execute(conn)
        .await
        .map(|_| ())
}
