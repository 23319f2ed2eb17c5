//! `trustchat-server db copy`: every table of one store into another,
//! SQLite to Postgres (moving an installation to many servers) or any other
//! way. Rows keep their ids, token hashes and seqs, so sessions, agent
//! cookies and conversations go on where they were. `agent_presence` is not
//! copied: it is who is online now, and lapses within a heartbeat anyway.
//!
//! The source is read in one read-only transaction, a consistent snapshot;
//! the target, migrated first and refused unless empty, is written in one
//! transaction, in batches of [`BATCH`] rows per statement, so a copy that
//! fails leaves it as empty as it found it. Both schemas have the same
//! tables and columns (see `migrations/postgres/0001_baseline.sql`); only
//! flags differ in type (SQLite integers, Postgres booleans), which sqlx
//! converts. `customers` and `conversations` are copied in insertion
//! order, which the stores' tie-breaks follow.

use std::str::FromStr;

use futures_util::TryStreamExt as _;
use sqlx::postgres::{PgPoolOptions, Postgres};
use sqlx::query_builder::Separated;
use sqlx::sqlite::{Sqlite, SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{ColumnIndex, Database, Decode, Encode, QueryBuilder, Row, Transaction, Type};

use super::{postgres, sqlite, Backend};

/// Rows per `INSERT`: 500 messages are 6,500 parameters, well under the
/// limits of both databases.
const BATCH: usize = 500;

/// The type of a column, as the stores read it.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    Int,
    Bool,
}

/// A table to copy: its columns, and the order rows are read and written in.
struct Table {
    name: &'static str,
    order: &'static str,
    columns: &'static [(&'static str, Kind)],
}

use Kind::{Bool, Int, Text};

/// Every table but `agent_presence`, parents before children.
const TABLES: &[Table] = &[
    Table {
        name: "customers",
        order: "rowid",
        columns: &[
            ("id", Text),
            ("app_id", Text),
            ("sub", Text),
            ("name", Text),
            ("email", Text),
            ("phone", Text),
            ("created_at", Int),
            ("updated_at", Int),
        ],
    },
    Table {
        name: "sessions",
        order: "id",
        columns: &[
            ("id", Text),
            ("token_hash", Text),
            ("app_id", Text),
            ("customer_id", Text),
            ("trusted", Bool),
            ("trusted_until", Int),
            ("identity_kind", Text),
            ("display_name", Text),
            ("created_at", Int),
            ("revoked_at", Int),
            ("display_first_name", Text),
            ("sub", Text),
            ("display_email", Text),
            ("display_phone", Text),
            ("page_url", Text),
            ("locales", Text),
        ],
    },
    Table {
        name: "agents",
        order: "id",
        columns: &[
            ("id", Text),
            ("email", Text),
            ("name", Text),
            ("password_hash", Text),
            ("status", Text),
            ("created_at", Int),
            ("disabled_at", Int),
            ("last_assigned_at", Int),
        ],
    },
    Table {
        name: "agent_teams",
        order: "agent_id, team_id",
        columns: &[("agent_id", Text), ("team_id", Text)],
    },
    Table {
        name: "agent_sessions",
        order: "id",
        columns: &[
            ("id", Text),
            ("token_hash", Text),
            ("csrf_token", Text),
            ("agent_id", Text),
            ("created_at", Int),
            ("expires_at", Int),
            ("revoked_at", Int),
        ],
    },
    Table {
        name: "conversations",
        order: "rowid",
        columns: &[
            ("id", Text),
            ("app_id", Text),
            ("customer_id", Text),
            ("status", Text),
            ("created_at", Int),
            ("closed_at", Int),
            ("last_seq", Int),
            ("assigned_agent_id", Text),
            ("last_activity_at", Int),
            ("session_id", Text),
            ("proven", Bool),
            ("team_id", Text),
            ("priority", Int),
            ("rule", Text),
            ("held_until", Int),
            ("rating", Int),
            ("rating_comment", Text),
            ("rated_at", Int),
            ("customer_read_seq", Int),
            ("emailed_seq", Int),
            ("email_due_at", Int),
            ("email_attempts", Int),
        ],
    },
    Table {
        name: "messages",
        order: "conversation_id, seq",
        columns: &[
            ("id", Text),
            ("conversation_id", Text),
            ("seq", Int),
            ("author", Text),
            ("author_name", Text),
            ("kind", Text),
            ("body", Text),
            ("link", Text),
            ("trusted", Bool),
            ("created_at_ms", Int),
            ("client_id", Text),
            ("session_id", Text),
            ("customer_id", Text),
        ],
    },
    Table {
        name: "agent_reads",
        order: "agent_id, conversation_id",
        columns: &[("agent_id", Text), ("conversation_id", Text), ("seq", Int)],
    },
    Table {
        name: "saved_replies",
        order: "id",
        columns: &[
            ("id", Text),
            ("team_id", Text),
            ("title", Text),
            ("body", Text),
            ("created_by", Text),
            ("created_at", Int),
        ],
    },
    Table {
        name: "used_jtis",
        order: "app_id, jti",
        columns: &[("app_id", Text), ("jti", Text), ("keep_until", Int)],
    },
    // The audit log keeps its order; its ids are the target's own.
    Table {
        name: "privacy_audit",
        order: "id",
        columns: &[
            ("at_ms", Int),
            ("action", Text),
            ("app_id", Text),
            ("customer_id", Text),
            ("actor", Text),
            ("detail", Text),
        ],
    },
    // The webhook outbox, pending deliveries included: copied in `seq`
    // order, the target numbers them again in that order.
    Table {
        name: "webhook_deliveries",
        order: "seq",
        columns: &[
            ("id", Text),
            ("event_id", Text),
            ("app_id", Text),
            ("url", Text),
            ("event_type", Text),
            ("order_key", Text),
            ("payload", Text),
            ("created_at", Int),
            ("status", Text),
            ("attempts", Int),
            ("next_attempt_at", Int),
            ("last_attempt_at", Int),
            ("last_status", Int),
            ("last_error", Text),
            ("delivered_at", Int),
        ],
    },
];

/// One value of a row.
#[derive(Debug)]
enum Value {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(Option<bool>),
}

/// An open transaction on either store's database.
enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Copies every table of the store at `from` into the store at `to`
/// (migrated first; it must hold no rows). Calls `copied` with each table's
/// name and row count once it is copied, and returns the same list.
pub async fn copy(
    from: &str,
    to: &str,
    copied: &mut (dyn FnMut(&str, u64) + Send),
) -> anyhow::Result<Vec<(&'static str, u64)>> {
    let shown_from = postgres::redact(from);
    let shown_to = postgres::redact(to);
    let mut source = open(from, true).await?;
    super::migrate(to).await?;
    let mut target = open(to, false).await?;
    if let Some(table) = first_filled(&mut target).await? {
        anyhow::bail!(
            "the target database {shown_to} is not empty ({table} has rows): db copy copies \
             only into an empty database, so that nothing is mixed or overwritten"
        );
    }
    let mut counts = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let count = copy_table(&mut source, &mut target, table)
            .await
            .map_err(|e| anyhow::anyhow!("cannot copy table {}: {e}", table.name))?;
        copied(table.name, count);
        counts.push((table.name, count));
    }
    if let Tx::Sqlite(tx) = &mut target {
        // SQLite's `messages_advance_seq` trigger moved each conversation's
        // `last_seq` and `last_activity_at` as its messages went in; put
        // back the source's.
        restore_conversation_activity(&mut source, tx)
            .await
            .map_err(|e| anyhow::anyhow!("cannot copy table conversations: {e}"))?;
    }
    match target {
        Tx::Sqlite(tx) => tx.commit().await,
        Tx::Postgres(tx) => tx.commit().await,
    }
    .map_err(|e| anyhow::anyhow!("cannot commit the copy into {shown_to}: {e}"))?;
    drop(source);
    tracing::info!(from = %shown_from, to = %shown_to, "copied");
    Ok(counts)
}

/// Opens a transaction on the database at `url`: for the source, a
/// read-only snapshot of a database whose schema is up to date; for the
/// target, a writing one.
async fn open(url: &str, source: bool) -> anyhow::Result<Tx> {
    let shown = postgres::redact(url);
    let cannot = |e: sqlx::Error| anyhow::anyhow!("cannot open {shown}: {e}");
    let tx = match Backend::of(url)? {
        Backend::Sqlite => {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| anyhow::anyhow!("invalid sqlite database_url {url}: {e}"))?
                .foreign_keys(true)
                .pragma("query_only", if source { "ON" } else { "OFF" });
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .map_err(cannot)?;
            // A deferred transaction reads one snapshot from its first read
            // on; the target's takes the write lock at once.
            let begin = if source { "BEGIN" } else { "BEGIN IMMEDIATE" };
            Tx::Sqlite(pool.begin_with(begin).await.map_err(cannot)?)
        }
        Backend::Postgres => {
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(postgres::connect_options(url)?)
                .await
                .map_err(cannot)?;
            let begin = if source {
                "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
            } else {
                "BEGIN"
            };
            Tx::Postgres(pool.begin_with(begin).await.map_err(cannot)?)
        }
    };
    let mut tx = tx;
    if source {
        check_schema(&mut tx, &shown).await?;
    }
    Ok(tx)
}

/// Refuses a source whose schema is behind this release's: its columns
/// would not be the ones copied.
async fn check_schema(tx: &mut Tx, shown: &str) -> anyhow::Result<()> {
    let sql = "SELECT version FROM _sqlx_migrations WHERE success";
    let (applied, migrator): (Result<Vec<i64>, _>, _) = match tx {
        Tx::Sqlite(tx) => (
            sqlx::query_scalar(sql).fetch_all(&mut **tx).await,
            &sqlite::MIGRATOR,
        ),
        Tx::Postgres(tx) => (
            sqlx::query_scalar(sql).fetch_all(&mut **tx).await,
            &postgres::MIGRATOR,
        ),
    };
    let applied = applied.map_err(|e| {
        anyhow::anyhow!("{shown} is not a TrustChat database (no migrations table: {e})")
    })?;
    let missing: Vec<i64> = migrator
        .iter()
        .map(|m| m.version)
        .filter(|v| !applied.contains(v))
        .collect();
    anyhow::ensure!(
        missing.is_empty(),
        "{shown} lacks migrations {missing:?}: run `trustchat-server migrate` on it with this \
         release first"
    );
    Ok(())
}

/// The first table of the target that holds a row.
async fn first_filled(target: &mut Tx) -> anyhow::Result<Option<&'static str>> {
    let names = TABLES.iter().map(|t| t.name).chain(["agent_presence"]);
    for name in names {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {name})");
        let filled: bool = match target {
            Tx::Sqlite(tx) => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&mut **tx)
                    .await
            }
            Tx::Postgres(tx) => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&mut **tx)
                    .await
            }
        }
        .map_err(|e| anyhow::anyhow!("cannot read table {name} of the target: {e}"))?;
        if filled {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

/// Streams one table out of the source and into the target in batches;
/// returns the row count.
async fn copy_table(source: &mut Tx, target: &mut Tx, table: &Table) -> Result<u64, sqlx::Error> {
    let columns = table
        .columns
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {columns} FROM {} ORDER BY {}",
        table.name, table.order
    );
    let mut batch = Vec::with_capacity(BATCH);
    let mut count = 0;
    // The same loop for either source; only the row type differs.
    macro_rules! stream {
        ($tx:expr) => {{
            let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(&mut **$tx);
            while let Some(row) = rows.try_next().await? {
                batch.push(values(&row, table)?);
                if batch.len() == BATCH {
                    count += insert(target, table, &columns, &mut batch).await?;
                }
            }
        }};
    }
    match source {
        Tx::Sqlite(tx) => stream!(tx),
        Tx::Postgres(tx) => stream!(tx),
    }
    count += insert(target, table, &columns, &mut batch).await?;
    Ok(count)
}

/// Inserts (and empties) a batch; returns how many rows it held.
async fn insert(
    target: &mut Tx,
    table: &Table,
    columns: &str,
    batch: &mut Vec<Vec<Value>>,
) -> Result<u64, sqlx::Error> {
    if batch.is_empty() {
        return Ok(0);
    }
    let count = batch.len() as u64;
    let head = format!("INSERT INTO {} ({columns}) ", table.name);
    match target {
        Tx::Sqlite(tx) => {
            let mut query = QueryBuilder::<Sqlite>::new(head);
            query.push_values(batch.drain(..), bind_row);
            query.build().execute(&mut **tx).await?;
        }
        Tx::Postgres(tx) => {
            let mut query = QueryBuilder::<Postgres>::new(head);
            query.push_values(batch.drain(..), bind_row);
            query.build().execute(&mut **tx).await?;
        }
    }
    Ok(count)
}

/// Reads a row's columns by their kind.
fn values<R: Row>(row: &R, table: &Table) -> Result<Vec<Value>, sqlx::Error>
where
    usize: ColumnIndex<R>,
    for<'r> Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<bool>: Decode<'r, R::Database> + Type<R::Database>,
{
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| {
            Ok(match kind {
                Kind::Text => Value::Text(row.try_get(i)?),
                Kind::Int => Value::Int(row.try_get(i)?),
                Kind::Bool => Value::Bool(row.try_get(i)?),
            })
        })
        .collect()
}

/// Binds one row's values as one `(...)` of an `INSERT ... VALUES`.
fn bind_row<DB: Database>(mut tuple: Separated<'_, DB, &'static str>, row: Vec<Value>)
where
    for<'t> Option<String>: Encode<'t, DB> + Type<DB>,
    for<'t> Option<i64>: Encode<'t, DB> + Type<DB>,
    for<'t> Option<bool>: Encode<'t, DB> + Type<DB>,
{
    for value in row {
        match value {
            Value::Text(v) => tuple.push_bind(v),
            Value::Int(v) => tuple.push_bind(v),
            Value::Bool(v) => tuple.push_bind(v),
        };
    }
}

/// Writes the source's `last_seq` and `last_activity_at` of every
/// conversation into a SQLite target.
async fn restore_conversation_activity(
    source: &mut Tx,
    target: &mut Transaction<'static, Sqlite>,
) -> Result<(), sqlx::Error> {
    let sql = "SELECT id, last_seq, last_activity_at FROM conversations";
    macro_rules! stream {
        ($tx:expr) => {{
            let mut rows = sqlx::query(sql).fetch(&mut **$tx);
            while let Some(row) = rows.try_next().await? {
                let (id, last_seq, last_activity_at): (String, i64, i64) =
                    (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                sqlx::query(
                    "UPDATE conversations SET last_seq = ?, last_activity_at = ? WHERE id = ?",
                )
                .bind(last_seq)
                .bind(last_activity_at)
                .bind(id)
                .execute(&mut **target)
                .await?;
            }
        }};
    }
    match source {
        Tx::Sqlite(tx) => stream!(tx),
        Tx::Postgres(tx) => stream!(tx),
    }
    Ok(())
}
