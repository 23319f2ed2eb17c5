//! [`PostgresStore`]: the [`Store`] of many servers on one PostgreSQL
//! (15 or newer).
//!
//! Layout: this module connects and migrates; `queries.rs` is the
//! [`Store`] implementation, one query (or one short transaction) per
//! method; `append.rs` stores messages; `routing.rs` is the cluster-wide
//! routing lock; `rows.rs` maps rows to records and errors to
//! [`StoreError`]s.
//!
//! Connections: one pool per server, `server.database_max_connections`
//! connections at most (20 by default), opened as needed and kept while
//! busy, and [`append::WRITERS`] more for the message writers. Every
//! statement is prepared once per connection and cached by sqlx. A
//! connection is not pinged before each use (sqlx would by default: a
//! round trip per query), only when it sat idle for [`IDLE_CHECK`] or
//! more, so that after a database restart the pool replaces its dead idle
//! connections instead of failing a request on each; sqlx pings each
//! connection as it goes back to the pool anyway.
//!
//! Appends: the schema is SQLite's, and so are the guarantees, by other
//! means. A customer's message goes to a writer task (`append.rs`) that
//! stores whatever arrived meanwhile in one transaction, with one
//! statement for all the messages that join an open conversation and one
//! for those that open one, and acknowledges each only after the commit
//! (`synchronous_commit` stays on; one WAL flush serves the batch, as the
//! SQLite writer's one fsync does). A message takes the next `seq` from its
//! conversation's row (`UPDATE conversations SET last_seq = last_seq + k
//! ... RETURNING last_seq`): the row lock orders every writer of the
//! conversation, on every server, until it commits, so seqs have no gaps
//! and no repeats, and a failed statement undoes its bump. One message per
//! (customer, `client_id`), one open conversation per session and one open
//! proven conversation per customer are unique indexes, and a writer that
//! lost a race to one of them learns which from the constraint's name
//! (`rows::unique_key`) and takes the stored row instead. Agents' messages
//! are one statement each.
//!
//! Every message updates its conversation's row, so that update must stay
//! cheap: no index holds `last_seq` or `last_activity_at`, and the table
//! leaves room in its pages (migration 0002), so Postgres makes it a
//! heap-only update that writes no index entry.
//!
//! Migrations: `migrations/postgres/`, embedded, applied by
//! [`PostgresStore::connect`] (so by `serve`) and by `trustchat-server
//! migrate`. sqlx's Postgres migrator holds a session advisory lock while
//! it runs, so servers starting at once apply each migration once, one
//! after the other; it runs on a connection of its own, closed afterwards,
//! so the lock never outlives it, even when a migration fails.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::Connection as _;

use super::StoreOptions;

mod append;
mod privacy;
mod queries;
mod routing;
mod rows;
mod webhooks;

/// The schema migrations, embedded in the binary.
pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// How long a query waits for a free connection of the pool before it
/// fails (the database is down or the pool too small for the load).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may sit idle before it is pinged on its next use.
const IDLE_CHECK: Duration = Duration::from_secs(1);
/// How many prepared statements a connection keeps: every statement of the
/// store, with room to spare.
const STATEMENT_CACHE: usize = 256;

/// A [`Store`](super::Store) over a PostgreSQL database, shared by any
/// number of servers.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    /// The connections of this server.
    pool: PgPool,
    /// The writers of customers' messages, on connections of their own.
    writers: Arc<append::Writers>,
    /// This server's routing decisions wait here, one at a time, before
    /// one takes the cluster-wide lock: the waiters hold no connection.
    routing: Arc<tokio::sync::Mutex<()>>,
}

impl PostgresStore {
    /// Connects to the database at `database_url`
    /// (`postgres://user:password@host:port/database?sslmode=...`), applies
    /// pending migrations and opens the pool.
    pub async fn connect(
        database_url: &str,
        options: &StoreOptions,
    ) -> anyhow::Result<PostgresStore> {
        let connect = connect_options(database_url)?;
        migrate_with(&connect, database_url).await?;
        let pool = open_pool(&connect, options.max_connections.max(1), database_url).await?;
        // The writers' statements are prepared once and planned for good on
        // their first runs, when the tables may be nearly empty and a scan
        // of the whole table looks cheapest; the tables then grow, and such
        // a plan makes every append read them all. Every lookup of theirs
        // has an index: scans are ruled out.
        let writer_options = connect.clone().options([("enable_seqscan", "off")]);
        let writers = open_pool(&writer_options, append::WRITERS as u32, database_url).await?;
        // Every writer's connection open before the first message, which
        // would otherwise wait for a connection to be made.
        let opened =
            futures_util::future::join_all((0..append::WRITERS).map(|_| writers.acquire())).await;
        for conn in opened {
            conn.map_err(|e| anyhow::anyhow!("cannot connect to {}: {e}", redact(database_url)))?;
        }
        Ok(PostgresStore {
            writers: append::Writers::start(writers, pool.clone()),
            pool,
            routing: Arc::default(),
        })
    }
}

/// A pool of at most `max` connections.
async fn open_pool(
    connect: &PgConnectOptions,
    max: u32,
    database_url: &str,
) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for < IDLE_CHECK {
                    return Ok(true);
                }
                // A dead connection is dropped and the next one tried.
                Ok(conn.ping().await.is_ok())
            })
        })
        .connect_with(connect.clone())
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to {}: {e}", redact(database_url)))
}

/// Applies the pending migrations of the database at `database_url`;
/// returns the versions applied.
pub async fn migrate(database_url: &str) -> anyhow::Result<Vec<i64>> {
    migrate_with(&connect_options(database_url)?, database_url).await
}

async fn migrate_with(connect: &PgConnectOptions, database_url: &str) -> anyhow::Result<Vec<i64>> {
    let failed = |e: &dyn std::fmt::Display| {
        anyhow::anyhow!(
            "cannot migrate postgres database {}: {e}",
            redact(database_url)
        )
    };
    let mut conn = PgConnection::connect_with(connect)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to {}: {e}", redact(database_url)))?;
    let before = applied(&mut conn).await.map_err(|e| failed(&e))?;
    // `run_direct`, not `run`: the latter's future is not provably `Send`.
    let ran = MIGRATOR.run_direct(None, &mut conn, false).await;
    let after = applied(&mut conn).await;
    // Closing ends the session, and with it the migrator's advisory lock.
    let _ = conn.close().await;
    ran.map_err(|e| failed(&e))?;
    let after = after.map_err(|e| failed(&e))?;
    Ok(after.into_iter().filter(|v| !before.contains(v)).collect())
}

/// The versions applied to the database, none before its first migration.
async fn applied(conn: &mut PgConnection) -> Result<Vec<i64>, sqlx::Error> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await?;
    if !exists {
        return Ok(Vec::new());
    }
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(&mut *conn)
        .await
}

/// The connection options of a URL; its error never repeats the password.
pub(crate) fn connect_options(database_url: &str) -> anyhow::Result<PgConnectOptions> {
    let options = PgConnectOptions::from_str(database_url).map_err(|e| {
        anyhow::anyhow!(
            "invalid postgres database_url {}: {e}",
            redact(database_url)
        )
    })?;
    Ok(options
        .application_name("trustchat-server")
        .statement_cache_capacity(STATEMENT_CACHE))
}

/// The URL with its password, if any, replaced by `***`, for messages.
pub fn redact(database_url: &str) -> String {
    let Some((scheme, rest)) = database_url.split_once("://") else {
        return database_url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => database_url.to_owned(),
        },
        None => database_url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_messages_hide_their_password() {
        for (url, shown) in [
            (
                "postgres://app:s3cret@db.example:5432/chat",
                "postgres://app:***@db.example:5432/chat",
            ),
            (
                "postgresql://app:p@ss@db/chat?sslmode=require",
                "postgresql://app:***@db/chat?sslmode=require",
            ),
            ("postgres://app@db/chat", "postgres://app@db/chat"),
            ("postgres://db/chat", "postgres://db/chat"),
        ] {
            assert_eq!(redact(url), shown);
        }
    }

    #[test]
    fn every_unique_index_of_the_schema_has_its_key() {
        let schema = MIGRATOR
            .iter()
            .map(|m| m.sql.as_str().to_owned())
            .collect::<Vec<_>>()
            .join("\n");
        let mut names: Vec<&str> = Vec::new();
        for line in schema.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("CREATE UNIQUE INDEX ") {
                names.extend(rest.split_whitespace().next());
            }
            if let Some(rest) = line.strip_prefix("CONSTRAINT ") {
                let mut words = rest.split_whitespace();
                if let (Some(name), Some("UNIQUE")) = (words.next(), words.next()) {
                    names.push(name);
                }
            }
        }
        assert_eq!(names.len(), 11, "{names:?}");
        for name in names {
            assert!(rows::unique_key(name).is_some(), "{name} has no UniqueKey");
        }
    }
}
