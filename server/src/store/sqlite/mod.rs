//! [`SqliteStore`]: the default [`Store`], one SQLite file beside the binary.
//!
//! Durability: the database runs in WAL mode with `synchronous = FULL`, so
//! every commit fsyncs the WAL before it returns, and a message is
//! acknowledged only once it survives a power cut, not just a crash of the
//! process (`NORMAL` would only survive the latter). To keep that affordable,
//! message writes go through one writer task ([`write_loop`]) that takes
//! every append waiting in its queue, runs them in one transaction and
//! answers them all after the one commit: one fsync per batch, not per
//! message.
//!
//! Readers and the writer: SQLite has a single writer, so the store has
//! exactly one connection that writes, in a pool of its own. The message
//! writer task and every other statement that writes (sessions, customers,
//! routing, agents, and the transactions that read before they write) take
//! turns on it, waiting in the pool's FIFO queue rather than retrying in
//! SQLite's busy handler, whose sleeps are coarse (1, 2, 5, 10, ... 100
//! ms). Queries that only read run on a pool of reader connections
//! (`query_only`, so a write sent there fails instead of competing), which
//! in WAL mode never wait for the writer and see every commit made before
//! they start. `busy_timeout` stays as a safety net (another process on the
//! file, the checkpoint below). An in-memory database lives and dies with
//! its one connection, so there readers and writer share it.
//!
//! The writer task runs on a thread of its own ([`spawn_writer`]): every
//! statement is a round trip to the connection's worker thread, and on the
//! server's runtime the task would wait, after each, to be polled again
//! behind the tasks of thousands of sockets.
//!
//! Checkpoints: no commit copies the WAL back into the database
//! (`wal_autocheckpoint = 0`), which would stall the writer inside its
//! commit. A background task ([`checkpoint_loop`]) runs a `PASSIVE`
//! checkpoint on a reader connection every [`CHECKPOINT_EVERY`]: it copies
//! what readers no longer need, never blocks the writer, and only ever
//! copies the newest version of a page rewritten many times. A passive
//! checkpoint cannot make the writer start the WAL over while commits keep
//! coming, so once the WAL holds more than [`WAL_RESTART_PAGES`] pages the
//! task takes the writer connection for a moment and runs a `RESTART`
//! checkpoint on it: the little the passive one left is copied, and the
//! next commit writes the WAL from its start again (`journal_size_limit`
//! trims a WAL a burst left large). The WAL is thus bounded by what one
//! interval adds past that mark, as long as readers let a restart finish
//! within [`RESTART_BUSY_TIMEOUT`] (statements here are short; a restart
//! that could not finish is logged and retried on the next round, waiting
//! longer once the WAL is four times the mark). The task runs beside the
//! writer task and stops when the store closes.
//!
//! Inside the batch, the common case (a message joining an open
//! conversation) is a single `INSERT ... SELECT` that takes the next `seq`
//! from the conversation; the `messages_advance_seq` trigger moves the
//! conversation's `last_seq` in the same statement. A statement is atomic,
//! so a failing one leaves the batch's other messages alone. Opening a
//! conversation takes two more: one that opens it unless the `client_id`
//! was stored before (a resend after a close), then the same `INSERT ...
//! SELECT`; should that one fail, the conversation is taken back out.
//! Statements are kept few because each is a round trip between the
//! writer task and the connection's thread.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::Row;
use tokio::sync::{mpsc, oneshot, watch};
use trustchat_protocol::{AgentStatus, Author, ConversationStatus, MessageKind, Priority};

use checkpoint::checkpoint_loop;
use writer::{spawn_writer, write_loop, WriteJob, WRITE_QUEUE};

mod checkpoint;
mod privacy;
mod webhooks;
mod writer;

use super::{
    agent_status_str, author_str, kind_str, status_str, AgentRecord, AgentSessionRecord, Among,
    Appended, AuditActor, AuditRecord, ConversationFilter, ConversationRecord, ConversationView,
    CustomerData, CustomerMatch, CustomerRecord, EmailClaim, EmailDone, Erased, GivenIdentity,
    IdentityKind, LinkedConversations, MessageRecord, NewAgentMessage, NewCustomerMessage, Purged,
    RatingRecord, Reader, ReportDay, ReportRow, RoutingFacts, RoutingGuard, SavedReplyRecord,
    SessionRecord, Store, StoreError, StoreResult, UniqueKey, GAVE_NAME_AND_CONTACT,
};
use super::{DeliveryClaim, DeliveryDone, DeliveryRecord, NewDelivery, WebhookCounts, Webhooks};

/// The reader connections of a database file.
const READERS: u32 = 8;
/// The size a restarted WAL is trimmed to: `journal_size_limit`, bytes
/// (128 MiB: what the WAL reaches between two restarts at that load).
const WAL_SIZE_LIMIT: &str = "134217728";
/// How long a connection waits for a lock held by another.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const CONVERSATION_COLUMNS: &str =
    "id, app_id, customer_id, session_id, proven, status, created_at, \
     closed_at, last_seq, assigned_agent_id, last_activity_at, team_id, priority, rule, \
     held_until, rating, rating_comment, rated_at, customer_read_seq";
const CUSTOMER_COLUMNS: &str = "id, app_id, sub, name, email, phone, created_at, updated_at";
const SESSION_COLUMNS: &str = "id, token_hash, app_id, customer_id, trusted, trusted_until, \
     identity_kind, sub, display_name, display_first_name, display_email, display_phone, created_at, \
     revoked_at, page_url, locales";
const MESSAGE_COLUMNS: &str = "id, conversation_id, seq, author, author_name, kind, body, link, \
     trusted, created_at_ms, client_id, session_id";

const AGENT_COLUMNS: &str = "id, email, name, password_hash, status, created_at, last_assigned_at";
const AGENT_SESSION_COLUMNS: &str =
    "id, token_hash, csrf_token, agent_id, created_at, expires_at, revoked_at";

/// The schema migrations, embedded in the binary and applied at start-up.
pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// A [`Store`] over a SQLite database in WAL mode.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// The connections for queries that only read. The same pool as
    /// `writer` for an in-memory database.
    readers: SqlitePool,
    /// The one connection that writes; a write waits for it in the pool's
    /// queue.
    writer: SqlitePool,
    /// The queue of the message writer task.
    appends: mpsc::Sender<WriteJob>,
    /// Tells the checkpointer (none for an in-memory database) to stop;
    /// dropping the last clone of the store stops it too.
    stop_checkpoints: Arc<watch::Sender<bool>>,
    /// Routing decisions, one at a time: a SQLite database has one server.
    routing: Arc<tokio::sync::Mutex<()>>,
}

impl SqliteStore {
    /// Opens (creating if missing, with its parent directory) the database
    /// at `database_url`, e.g. `sqlite://data/trustchat.db` relative to the
    /// current directory, and applies pending migrations.
    pub async fn connect(database_url: &str) -> anyhow::Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(database_url)
            .map_err(|e| anyhow::anyhow!("invalid sqlite database_url: {e}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            // What a delete or a rewrite leaves behind is zeroed (the space in
            // its page, freed pages), so an erased customer leaves no bytes
            // in the file (see `privacy.rs`).
            .pragma("secure_delete", "ON");
        let opening = |e| anyhow::anyhow!("cannot open sqlite database {database_url}: {e}");
        let in_memory = database_url.contains(":memory:") || database_url.contains("mode=memory");
        // An in-memory database lives and dies with its one connection.
        let one_connection = pool_options().max_connections(1);
        let (readers, writer, checkpoints) = if in_memory {
            let pool = one_connection
                .connect_with(options)
                .await
                .map_err(opening)?;
            migrate(&pool, database_url).await?;
            (pool.clone(), pool, false)
        } else {
            create_parent_dir(options.get_filename())?;
            // Only the checkpointer copies the WAL into the database.
            let options = options
                .pragma("wal_autocheckpoint", "0")
                .pragma("journal_size_limit", WAL_SIZE_LIMIT);
            // The writer first: it creates the file, switches it to WAL and
            // migrates it before any reader opens it.
            let writer = one_connection
                .connect_with(options.clone())
                .await
                .map_err(opening)?;
            migrate(&writer, database_url).await?;
            let readers = pool_options()
                .max_connections(READERS)
                .connect_with(options.pragma("query_only", "ON"))
                .await
                .map_err(opening)?;
            (readers, writer, true)
        };
        let (appends, jobs) = mpsc::channel(WRITE_QUEUE);
        let (stop_checkpoints, stopped) = watch::channel(false);
        let checkpointer =
            checkpoints.then(|| checkpoint_loop(readers.clone(), writer.clone(), stopped));
        spawn_writer(write_loop(writer.clone(), jobs), checkpointer)?;
        Ok(SqliteStore {
            readers,
            writer,
            appends,
            stop_checkpoints: Arc::new(stop_checkpoints),
            routing: Arc::default(),
        })
    }

    /// A profile of the app with this `column` (`email` or `phone`) value,
    /// among `among`: proven ones first, then the most recently updated.
    async fn customer_by_contact(
        &self,
        column: &'static str,
        app_id: &str,
        value: &str,
        among: Among,
    ) -> StoreResult<Option<CustomerRecord>> {
        let unproven = match among {
            Among::Any => "",
            Among::Unproven => "AND sub IS NULL",
        };
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE app_id = ? AND {column} = ? {unproven} \
             ORDER BY sub IS NULL, updated_at DESC, rowid DESC LIMIT 1"
        )))
        .bind(app_id)
        .bind(value)
        .fetch_optional(&self.readers)
        .await
        .map_err(db)?
        .map(|row| customer_from_row(&row))
        .transpose()
    }

    async fn write(&self, job: WriteJob) -> StoreResult<()> {
        self.appends
            .send(job)
            .await
            .map_err(|_| StoreError::Database("the message writer has stopped".into()))
    }
}

/// Connections that stay open for as long as the store (a reconnection
/// costs more than an idle connection, and an in-memory database would be
/// lost with it), handed out without the ping `test_before_acquire` adds:
/// a thread round trip per query that tests nothing a local file needs.
fn pool_options() -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .idle_timeout(None)
        .max_lifetime(None)
        .test_before_acquire(false)
}

/// Applies the pending migrations of the database file at `database_url`
/// (creating it if missing) and returns their versions: `trustchat-server
/// migrate`. The server does the same when it opens the file.
pub async fn migrate_url(database_url: &str) -> anyhow::Result<Vec<i64>> {
    let options = SqliteConnectOptions::from_str(database_url)
        .map_err(|e| anyhow::anyhow!("invalid sqlite database_url: {e}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
        .pragma("secure_delete", "ON");
    create_parent_dir(options.get_filename())?;
    let pool = pool_options()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open sqlite database {database_url}: {e}"))?;
    let applied = |pool: SqlitePool| async move {
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = '_sqlx_migrations')",
        )
        .fetch_one(&pool)
        .await?;
        if !exists {
            return Ok::<_, sqlx::Error>(Vec::<i64>::new());
        }
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&pool)
            .await
    };
    let failed =
        |e: sqlx::Error| anyhow::anyhow!("cannot read the migrations of {database_url}: {e}");
    let before = applied(pool.clone()).await.map_err(failed)?;
    let ran = migrate(&pool, database_url).await;
    let after = applied(pool.clone()).await.map_err(failed);
    pool.close().await;
    ran?;
    Ok(after?.into_iter().filter(|v| !before.contains(v)).collect())
}

async fn migrate(pool: &SqlitePool, database_url: &str) -> anyhow::Result<()> {
    let failed = |e: &dyn std::fmt::Display| {
        anyhow::anyhow!("cannot migrate sqlite database {database_url}: {e}")
    };
    let mut conn = pool.acquire().await.map_err(|e| failed(&e))?;
    // `run_direct` on a connection rather than `run` on the pool: the
    // latter's future is not provably `Send`, so it could not be spawned.
    MIGRATOR
        .run_direct(None, &mut *conn, false)
        .await
        .map_err(|e| failed(&e))
}

async fn conversation_in(
    conn: &mut SqliteConnection,
    id: &str,
) -> StoreResult<Option<ConversationRecord>> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?
    .map(|row| conversation_from_row(&row))
    .transpose()
}

#[async_trait]
impl Store for SqliteStore {
    async fn customer(&self, id: &str) -> StoreResult<Option<CustomerRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.readers)
        .await
        .map_err(db)?
        .map(|row| customer_from_row(&row))
        .transpose()
    }

    async fn customer_by_sub(
        &self,
        app_id: &str,
        sub: &str,
    ) -> StoreResult<Option<CustomerRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE app_id = ? AND sub = ?"
        )))
        .bind(app_id)
        .bind(sub)
        .fetch_optional(&self.readers)
        .await
        .map_err(db)?
        .map(|row| customer_from_row(&row))
        .transpose()
    }

    async fn customer_by_email(
        &self,
        app_id: &str,
        email: &str,
        among: Among,
    ) -> StoreResult<Option<CustomerRecord>> {
        self.customer_by_contact("email", app_id, email, among)
            .await
    }

    async fn customer_by_phone(
        &self,
        app_id: &str,
        phone: &str,
        among: Among,
    ) -> StoreResult<Option<CustomerRecord>> {
        self.customer_by_contact("phone", app_id, phone, among)
            .await
    }

    async fn insert_customer(&self, customer: &CustomerRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO customers (id, app_id, sub, name, email, phone, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&customer.id)
        .bind(&customer.app_id)
        .bind(&customer.sub)
        .bind(&customer.name)
        .bind(&customer.email)
        .bind(&customer.phone)
        .bind(customer.created_at)
        .bind(customer.updated_at)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn insert_session(
        &self,
        session: &SessionRecord,
        deliveries: &[NewDelivery],
    ) -> StoreResult<()> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )))
        .bind(&session.id)
        .bind(&session.token_hash)
        .bind(&session.app_id)
        .bind(&session.customer_id)
        .bind(session.trusted)
        .bind(session.trusted_until)
        .bind(session.identity_kind.as_str())
        .bind(&session.sub)
        .bind(&session.display_name)
        .bind(&session.display_first_name)
        .bind(&session.display_email)
        .bind(&session.display_phone)
        .bind(session.created_at)
        .bind(session.revoked_at)
        .bind(&session.page_url)
        .bind(super::locales_str(&session.locales));
        if deliveries.is_empty() {
            query.execute(&self.writer).await.map_err(db)?;
            return Ok(());
        }
        // With deliveries, one transaction.
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        query.execute(&mut *tx).await.map_err(db)?;
        webhooks::insert(&mut tx, deliveries).await?;
        tx.commit().await.map_err(db)
    }

    async fn session_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = ?"
        )))
        .bind(token_hash)
        .fetch_optional(&self.readers)
        .await
        .map_err(db)?
        .map(|row| session_from_row(&row))
        .transpose()
    }

    async fn revoke_session(&self, id: &str, now: i64) -> StoreResult<bool> {
        let result =
            sqlx::query("UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&self.writer)
                .await
                .map_err(db)?;
        Ok(result.rows_affected() == 1)
    }

    async fn update_session_identity(
        &self,
        session: &SessionRecord,
        deliveries: &[NewDelivery],
    ) -> StoreResult<()> {
        let query = sqlx::query(
            "UPDATE sessions SET customer_id = ?, trusted = ?, trusted_until = ?, identity_kind = ?, \
             sub = ?, display_name = ?, display_first_name = ?, display_email = ?, display_phone = ? \
             WHERE id = ?",
        )
        .bind(&session.customer_id)
        .bind(session.trusted)
        .bind(session.trusted_until)
        .bind(session.identity_kind.as_str())
        .bind(&session.sub)
        .bind(&session.display_name)
        .bind(&session.display_first_name)
        .bind(&session.display_email)
        .bind(&session.display_phone)
        .bind(&session.id);
        if deliveries.is_empty() {
            query.execute(&self.writer).await.map_err(db)?;
            return Ok(());
        }
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        query.execute(&mut *tx).await.map_err(db)?;
        webhooks::insert(&mut tx, deliveries).await?;
        tx.commit().await.map_err(db)
    }

    async fn update_customer(&self, customer: &CustomerRecord) -> StoreResult<()> {
        sqlx::query(
            "UPDATE customers SET sub = ?, name = ?, email = ?, phone = ?, updated_at = ? WHERE id = ?",
        )
        .bind(&customer.sub)
        .bind(&customer.name)
        .bind(&customer.email)
        .bind(&customer.phone)
        .bind(customer.updated_at)
        .bind(&customer.id)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn session(&self, id: &str) -> StoreResult<Option<SessionRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.readers)
        .await
        .map_err(db)?
        .map(|row| session_from_row(&row))
        .transpose()
    }

    async fn append_customer_message(&self, message: NewCustomerMessage) -> StoreResult<Appended> {
        let (reply, outcome) = oneshot::channel();
        self.write(WriteJob::Customer(message, reply)).await?;
        outcome
            .await
            .map_err(|_| StoreError::Database("the message batch failed".into()))?
    }

    async fn append_agent_message(
        &self,
        message: NewAgentMessage,
    ) -> StoreResult<Option<Appended>> {
        let (reply, outcome) = oneshot::channel();
        self.write(WriteJob::Agent(message, reply)).await?;
        outcome
            .await
            .map_err(|_| StoreError::Database("the message batch failed".into()))?
    }

    async fn agent_message_by_client_id(
        &self,
        conversation_id: &str,
        client_id: &str,
    ) -> StoreResult<Option<MessageRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE conversation_id = ? AND client_id = ? AND author = 'agent'"
        )))
        .bind(conversation_id)
        .bind(client_id)
        .fetch_optional(&self.readers)
        .await
        .map_err(db)?
        .map(|row| message_from_row(&row))
        .transpose()
    }

    async fn conversation(&self, id: &str) -> StoreResult<Option<ConversationRecord>> {
        let mut conn = self.readers.acquire().await.map_err(db)?;
        conversation_in(&mut conn, id).await
    }

    async fn current_conversation(
        &self,
        reader: &Reader,
    ) -> StoreResult<Option<ConversationRecord>> {
        // The open one the session writes into first (the proven one when
        // trusted, as `insert_customer_message` picks), else the newest.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations \
             WHERE session_id = ?1 OR (?2 AND customer_id = ?3 AND proven = 1) \
             ORDER BY status = 'open' DESC, (status = 'open' AND proven = 1) DESC, \
             created_at DESC, rowid DESC LIMIT 1"
        )))
        .bind(&reader.session_id)
        .bind(reader.trusted)
        .bind(&reader.customer_id)
        .fetch_optional(&self.readers)
        .await
        .map_err(db)?
        .map(|row| conversation_from_row(&row))
        .transpose()
    }

    async fn messages_at(&self, places: &[(String, i64)]) -> StoreResult<Vec<MessageRecord>> {
        let mut found = Vec::with_capacity(places.len());
        for (conversation_id, seq) in places {
            found.extend(
                self.messages_after(conversation_id, seq - 1, 1)
                    .await?
                    .into_iter()
                    .filter(|m| m.seq == *seq),
            );
        }
        Ok(found)
    }

    async fn messages_after(
        &self,
        conversation_id: &str,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<MessageRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?"
        )))
        .bind(conversation_id)
        .bind(after)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.readers)
        .await
        .map_err(db)?
        .iter()
        .map(message_from_row)
        .collect()
    }

    async fn close_conversation(
        &self,
        id: &str,
        now_ms: i64,
        hooks: &Webhooks,
    ) -> StoreResult<Option<ConversationRecord>> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE conversations SET status = 'closed', closed_at = ?, last_activity_at = ? \
             WHERE id = ? AND status = 'open' RETURNING {CONVERSATION_COLUMNS}"
        )))
        .bind(now_ms)
        .bind(now_ms)
        .bind(id);
        if !hooks.takes(super::EventType::ConversationClosed) {
            return query
                .fetch_optional(&self.writer)
                .await
                .map_err(db)?
                .map(|row| conversation_from_row(&row))
                .transpose();
        }
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        let closed = query
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .map(|row| conversation_from_row(&row))
            .transpose()?;
        if let Some(conversation) = &closed {
            let deliveries = crate::webhooks::event::conversation_closed(hooks, conversation);
            webhooks::insert(&mut tx, &deliveries).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(closed)
    }

    async fn link_session_conversations(
        &self,
        session_id: &str,
        to: &str,
        prove: bool,
        now_ms: i64,
        hooks: &Webhooks,
    ) -> StoreResult<LinkedConversations> {
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        let session_has_open: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM conversations WHERE session_id = ? AND status = 'open')",
        )
        .bind(session_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let closed = if prove && session_has_open {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE conversations SET status = 'closed', closed_at = ?, last_activity_at = ? \
                 WHERE customer_id = ? AND status = 'open' AND proven = 1 \
                 AND (session_id IS NULL OR session_id <> ?) RETURNING {CONVERSATION_COLUMNS}"
            )))
            .bind(now_ms)
            .bind(now_ms)
            .bind(to)
            .bind(session_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .map(|row| conversation_from_row(&row))
            .transpose()?
        } else {
            None
        };
        // Idempotency keys follow the messages. A key the target already
        // used is practically impossible (random UUIDs); if it happens the
        // link fails rather than mixing two messages up.
        sqlx::query(
            "UPDATE messages SET customer_id = ? WHERE customer_id IS NOT NULL \
             AND conversation_id IN (SELECT id FROM conversations WHERE session_id = ?)",
        )
        .bind(to)
        .bind(session_id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let linked = sqlx::query(
            "UPDATE conversations SET customer_id = ?, proven = (proven OR ?) WHERE session_id = ?",
        )
        .bind(to)
        .bind(prove)
        .bind(session_id)
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if let Some(conversation) = &closed {
            let deliveries = crate::webhooks::event::conversation_closed(hooks, conversation);
            webhooks::insert(&mut tx, &deliveries).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(LinkedConversations { linked, closed })
    }

    async fn insert_agent(&self, agent: &AgentRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO agents (id, email, name, password_hash, status, created_at, last_assigned_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&agent.id)
        .bind(&agent.email)
        .bind(&agent.name)
        .bind(&agent.password_hash)
        .bind(agent_status_str(agent.status))
        .bind(agent.created_at)
        .bind(agent.last_assigned_at)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn agent(&self, id: &str) -> StoreResult<Option<AgentRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE id = ? AND disabled_at IS NULL"
        )))
        .bind(id)
        .fetch_optional(&self.readers)
        .await
        .map_err(db)?
        .map(|row| agent_from_row(&row))
        .transpose()
    }

    async fn agent_by_email(&self, email: &str) -> StoreResult<Option<AgentRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE email = ? COLLATE NOCASE AND disabled_at IS NULL"
        )))
        .bind(email)
        .fetch_optional(&self.readers)
        .await
        .map_err(db)?
        .map(|row| agent_from_row(&row))
        .transpose()
    }

    async fn agents(&self) -> StoreResult<Vec<AgentRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE disabled_at IS NULL ORDER BY name, email"
        )))
        .fetch_all(&self.readers)
        .await
        .map_err(db)?
        .iter()
        .map(agent_from_row)
        .collect()
    }

    async fn set_agent_status(
        &self,
        id: &str,
        status: AgentStatus,
    ) -> StoreResult<Option<AgentRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE agents SET status = ? WHERE id = ? AND disabled_at IS NULL RETURNING {AGENT_COLUMNS}"
        )))
        .bind(agent_status_str(status))
        .bind(id)
        .fetch_optional(&self.writer)
        .await
        .map_err(db)?
        .map(|row| agent_from_row(&row))
        .transpose()
    }

    async fn remove_agent(&self, id: &str, now_ms: i64) -> StoreResult<Vec<ConversationRecord>> {
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        sqlx::query("UPDATE agents SET disabled_at = ? WHERE id = ? AND disabled_at IS NULL")
            .bind(now_ms)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query(
            "UPDATE agent_sessions SET revoked_at = ? WHERE agent_id = ? AND revoked_at IS NULL",
        )
        .bind(now_ms)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let requeued = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE conversations SET assigned_agent_id = NULL \
             WHERE assigned_agent_id = ? AND status = 'open' RETURNING {CONVERSATION_COLUMNS}"
        )))
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?
        .iter()
        .map(conversation_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
        tx.commit().await.map_err(db)?;
        Ok(requeued)
    }

    async fn set_agent_teams(&self, agent_id: &str, teams: &[String]) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        sqlx::query("DELETE FROM agent_teams WHERE agent_id = ?")
            .bind(agent_id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        for team in teams {
            sqlx::query("INSERT OR IGNORE INTO agent_teams (agent_id, team_id) VALUES (?, ?)")
                .bind(agent_id)
                .bind(team)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn agent_teams(&self, agent_id: &str) -> StoreResult<Vec<String>> {
        sqlx::query_scalar("SELECT team_id FROM agent_teams WHERE agent_id = ? ORDER BY team_id")
            .bind(agent_id)
            .fetch_all(&self.readers)
            .await
            .map_err(db)
    }

    async fn insert_agent_session(&self, session: &AgentSessionRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO agent_sessions (id, token_hash, csrf_token, agent_id, created_at, expires_at, revoked_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&session.id)
        .bind(&session.token_hash)
        .bind(&session.csrf_token)
        .bind(&session.agent_id)
        .bind(session.created_at)
        .bind(session.expires_at)
        .bind(session.revoked_at)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn agent_session_by_token_hash(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<AgentSessionRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {AGENT_SESSION_COLUMNS} FROM agent_sessions WHERE token_hash = ?"
        )))
        .bind(token_hash)
        .fetch_optional(&self.readers)
        .await
        .map_err(db)?
        .map(|row| {
            Ok(AgentSessionRecord {
                id: row.try_get("id").map_err(db)?,
                token_hash: row.try_get("token_hash").map_err(db)?,
                csrf_token: row.try_get("csrf_token").map_err(db)?,
                agent_id: row.try_get("agent_id").map_err(db)?,
                created_at: row.try_get("created_at").map_err(db)?,
                expires_at: row.try_get("expires_at").map_err(db)?,
                revoked_at: row.try_get("revoked_at").map_err(db)?,
            })
        })
        .transpose()
    }

    async fn revoke_agent_session(&self, id: &str, now_ms: i64) -> StoreResult<()> {
        sqlx::query("UPDATE agent_sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
            .bind(now_ms)
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn assign_conversation(
        &self,
        id: &str,
        agent_id: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<Option<ConversationRecord>> {
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        let assigned = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE conversations SET assigned_agent_id = ?, held_until = NULL \
             WHERE id = ? AND status = 'open' RETURNING {CONVERSATION_COLUMNS}"
        )))
        .bind(agent_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?
        .map(|row| conversation_from_row(&row))
        .transpose()?;
        if let (Some(_), Some(agent_id)) = (&assigned, agent_id) {
            sqlx::query("UPDATE agents SET last_assigned_at = ? WHERE id = ?")
                .bind(now_ms)
                .bind(agent_id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(assigned)
    }

    async fn queued_conversations(&self) -> StoreResult<Vec<ConversationRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations \
             WHERE status = 'open' AND assigned_agent_id IS NULL \
             ORDER BY priority, created_at, rowid"
        )))
        .fetch_all(&self.readers)
        .await
        .map_err(db)?
        .iter()
        .map(conversation_from_row)
        .collect()
    }

    async fn set_conversation_routing(
        &self,
        id: &str,
        routing: &RoutingFacts,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE conversations SET team_id = ?, priority = ?, rule = ?, held_until = ? \
             WHERE id = ? AND status = 'open' AND assigned_agent_id IS NULL",
        )
        .bind(&routing.team_id)
        .bind(routing.priority.rank())
        .bind(&routing.rule)
        .bind(routing.held_until)
        .bind(id)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn rate_conversation(
        &self,
        id: &str,
        rating: &RatingRecord,
    ) -> StoreResult<Option<ConversationRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE conversations SET rating = ?, rating_comment = ?, rated_at = ? \
             WHERE id = ? AND status = 'closed' RETURNING {CONVERSATION_COLUMNS}"
        )))
        .bind(rating.rating)
        .bind(&rating.comment)
        .bind(rating.rated_at)
        .bind(id)
        .fetch_optional(&self.writer)
        .await
        .map_err(db)?
        .map(|row| conversation_from_row(&row))
        .transpose()
    }

    async fn agent_memberships(&self) -> StoreResult<Vec<(String, String)>> {
        sqlx::query(
            "SELECT t.agent_id, t.team_id FROM agent_teams t JOIN agents a ON a.id = t.agent_id \
             WHERE a.disabled_at IS NULL ORDER BY t.agent_id, t.team_id",
        )
        .fetch_all(&self.readers)
        .await
        .map_err(db)?
        .iter()
        .map(|row| {
            Ok((
                row.try_get("agent_id").map_err(db)?,
                row.try_get("team_id").map_err(db)?,
            ))
        })
        .collect()
    }

    async fn saved_replies(&self, teams: &[String]) -> StoreResult<Vec<SavedReplyRecord>> {
        sqlx::query(
            "SELECT id, team_id, title, body, created_by, created_at FROM saved_replies \
             WHERE team_id IN (SELECT value FROM json_each(?)) ORDER BY team_id, title, id",
        )
        .bind(json_list(teams))
        .fetch_all(&self.readers)
        .await
        .map_err(db)?
        .iter()
        .map(|row| {
            Ok(SavedReplyRecord {
                id: row.try_get("id").map_err(db)?,
                team_id: row.try_get("team_id").map_err(db)?,
                title: row.try_get("title").map_err(db)?,
                body: row.try_get("body").map_err(db)?,
                created_by: row.try_get("created_by").map_err(db)?,
                created_at: row.try_get("created_at").map_err(db)?,
            })
        })
        .collect()
    }

    async fn insert_saved_reply(&self, reply: &SavedReplyRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO saved_replies (id, team_id, title, body, created_by, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&reply.id)
        .bind(&reply.team_id)
        .bind(&reply.title)
        .bind(&reply.body)
        .bind(&reply.created_by)
        .bind(reply.created_at)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn delete_saved_reply(&self, id: &str, teams: &[String]) -> StoreResult<bool> {
        let done = sqlx::query(
            "DELETE FROM saved_replies WHERE id = ? AND team_id IN (SELECT value FROM json_each(?))",
        )
        .bind(id)
        .bind(json_list(teams))
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn authentication_report(
        &self,
        days: &[ReportDay],
        apps: Option<&[String]>,
    ) -> StoreResult<Vec<ReportRow>> {
        if days.is_empty() {
            return Ok(Vec::new());
        }
        let days_json = serde_json::Value::Array(
            days.iter()
                .map(|d| serde_json::json!([d.date, d.start_ms, d.end_ms]))
                .collect(),
        )
        .to_string();
        // Per conversation: its first customer message's trust, whether
        // any was trusted, its message counts and whether its customer
        // gave a name and an email or phone; then counted per day and app.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "WITH days AS (SELECT value ->> 0 AS date, value ->> 1 AS start_ms, value ->> 2 AS end_ms \
                FROM json_each(?1)), \
             per AS (SELECT d.date, c.app_id, c.rating, \
                (SELECT m.trusted FROM messages m WHERE m.conversation_id = c.id \
                    AND m.author = 'customer' ORDER BY m.seq LIMIT 1) AS first_trusted, \
                (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id \
                    AND m.author = 'customer' AND m.trusted = 1) AS n_trusted, \
                (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id \
                    AND m.author = 'customer' AND m.trusted = 0) AS n_untrusted, \
                ({GAVE_NAME_AND_CONTACT}) AS gave \
                FROM days d JOIN conversations c ON c.created_at >= d.start_ms AND c.created_at < d.end_ms \
                WHERE ?2 IS NULL OR c.app_id IN (SELECT value FROM json_each(?2))) \
             SELECT date, app_id, \
                SUM(first_trusted = 1) AS trusted_from_start, \
                SUM(COALESCE(first_trusted, 0) = 0 AND n_trusted > 0) AS upgraded, \
                SUM(n_trusted = 0 AND gave) AS identified, \
                SUM(n_trusted = 0 AND NOT gave) AS anonymous, \
                SUM(n_trusted) AS messages_trusted, SUM(n_untrusted) AS messages_untrusted, \
                COALESCE(SUM(rating), 0) AS rating_sum, COUNT(rating) AS rating_count \
             FROM per GROUP BY date, app_id ORDER BY date, app_id"
        )))
        .bind(days_json)
        .bind(apps.map(json_list))
        .fetch_all(&self.readers)
        .await
        .map_err(db)?
        .iter()
        .map(|row| {
            Ok(ReportRow {
                date: row.try_get("date").map_err(db)?,
                app_id: row.try_get("app_id").map_err(db)?,
                trusted_from_start: row.try_get("trusted_from_start").map_err(db)?,
                upgraded: row.try_get("upgraded").map_err(db)?,
                identified: row.try_get("identified").map_err(db)?,
                anonymous: row.try_get("anonymous").map_err(db)?,
                messages_trusted: row.try_get("messages_trusted").map_err(db)?,
                messages_untrusted: row.try_get("messages_untrusted").map_err(db)?,
                rating_sum: row.try_get("rating_sum").map_err(db)?,
                rating_count: row.try_get("rating_count").map_err(db)?,
            })
        })
        .collect()
    }

    async fn open_conversation_counts(&self) -> StoreResult<Vec<(String, i64)>> {
        sqlx::query(
            "SELECT assigned_agent_id, COUNT(*) AS open FROM conversations \
             WHERE status = 'open' AND assigned_agent_id IS NOT NULL GROUP BY assigned_agent_id",
        )
        .fetch_all(&self.readers)
        .await
        .map_err(db)?
        .iter()
        .map(|row| {
            Ok((
                row.try_get("assigned_agent_id").map_err(db)?,
                row.try_get("open").map_err(db)?,
            ))
        })
        .collect()
    }

    async fn conversation_views(
        &self,
        filter: ConversationFilter,
        now: i64,
    ) -> StoreResult<Vec<ConversationView>> {
        let (condition, order) = match &filter {
            ConversationFilter::Id(_) => ("c.id = ?2", "c.rowid"),
            ConversationFilter::AssignedTo(_) => (
                "c.assigned_agent_id = ?2",
                "c.status = 'open' DESC, c.last_activity_at DESC, c.rowid DESC",
            ),
            ConversationFilter::Customer(_) => {
                ("c.customer_id = ?2", "c.created_at DESC, c.rowid DESC")
            }
            ConversationFilter::Queue => (
                "c.status = 'open' AND c.assigned_agent_id IS NULL",
                "c.priority, c.created_at, c.rowid",
            ),
            // Every term (a prefix) in one message, or in the customer's
            // name, email and phone; both through the FTS5 indexes.
            ConversationFilter::Search(_) => (
                "(c.id IN (SELECT m.conversation_id FROM messages m WHERE m.rowid IN \
                    (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?2)) \
                 OR c.customer_id IN (SELECT x.id FROM customers x WHERE x.rowid IN \
                    (SELECT rowid FROM customers_fts WHERE customers_fts MATCH ?2))) \
                 AND (?3 IS NULL OR c.app_id IN (SELECT value FROM json_each(?3)))",
                "c.last_activity_at DESC, c.rowid DESC LIMIT ?4",
            ),
        };
        if let ConversationFilter::Search(search) = &filter {
            if fts5_query(&search.terms).is_empty() {
                return Ok(Vec::new());
            }
        }
        // The read marker that counts is the assigned agent's. The
        // customer chatting in a conversation is verified while it is
        // proven and a live session of its customer holds an unexpired
        // proof (`identity::is_trusted`, in SQL): only those sessions write
        // into it. A conversation nobody proved is never verified.
        let sql = format!(
            "SELECT c.id, c.app_id, c.customer_id, c.session_id, c.proven, c.status, c.created_at, \
             c.closed_at, c.last_seq, c.assigned_agent_id, c.last_activity_at, c.team_id, \
             c.priority, c.rule, c.held_until, c.rating, c.rating_comment, c.rated_at, \
             c.customer_read_seq, \
             cu.app_id AS cu_app_id, cu.sub AS cu_sub, cu.name AS cu_name, cu.email AS cu_email, \
             cu.phone AS cu_phone, cu.created_at AS cu_created_at, cu.updated_at AS cu_updated_at, \
             o.display_name AS given_name, o.display_email AS given_email, \
             o.display_phone AS given_phone, o.page_url AS given_page, \
             (SELECT m.body FROM messages m WHERE m.conversation_id = c.id AND m.seq = c.last_seq) AS last_body, \
             (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.author = 'customer' \
                AND m.seq > COALESCE((SELECT r.seq FROM agent_reads r \
                    WHERE r.agent_id = c.assigned_agent_id AND r.conversation_id = c.id), 0)) AS unread, \
             (c.proven = 1 AND EXISTS (SELECT 1 FROM sessions s WHERE s.customer_id = c.customer_id \
                AND s.revoked_at IS NULL AND s.trusted = 1 \
                AND (s.trusted_until IS NULL OR s.trusted_until > ?1))) AS verified \
             FROM conversations c JOIN customers cu ON cu.id = c.customer_id \
             LEFT JOIN sessions o ON o.id = c.session_id \
             WHERE {condition} ORDER BY {order}"
        );
        let query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
        let query = match &filter {
            ConversationFilter::Id(key)
            | ConversationFilter::AssignedTo(key)
            | ConversationFilter::Customer(key) => query.bind(key.clone()),
            ConversationFilter::Queue => query,
            ConversationFilter::Search(search) => query
                .bind(fts5_query(&search.terms))
                .bind(search.apps.as_deref().map(json_list))
                .bind(search.limit),
        };
        query
            .fetch_all(&self.readers)
            .await
            .map_err(db)?
            .iter()
            .map(|row| {
                let conversation = conversation_from_row(row)?;
                Ok(ConversationView {
                    customer: CustomerRecord {
                        id: conversation.customer_id.clone(),
                        app_id: row.try_get("cu_app_id").map_err(db)?,
                        sub: row.try_get("cu_sub").map_err(db)?,
                        name: row.try_get("cu_name").map_err(db)?,
                        email: row.try_get("cu_email").map_err(db)?,
                        phone: row.try_get("cu_phone").map_err(db)?,
                        created_at: row.try_get("cu_created_at").map_err(db)?,
                        updated_at: row.try_get("cu_updated_at").map_err(db)?,
                    },
                    given: GivenIdentity {
                        name: row.try_get("given_name").map_err(db)?,
                        email: row.try_get("given_email").map_err(db)?,
                        phone: row.try_get("given_phone").map_err(db)?,
                        page_url: row.try_get("given_page").map_err(db)?,
                    },
                    conversation,
                    last_body: row.try_get("last_body").map_err(db)?,
                    unread: row.try_get("unread").map_err(db)?,
                    verified: row.try_get("verified").map_err(db)?,
                })
            })
            .collect()
    }

    async fn set_session_page(&self, session_id: &str, page_url: &str) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET page_url = ? WHERE id = ?")
            .bind(page_url)
            .bind(session_id)
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn set_session_locales(&self, session_id: &str, locales: &[String]) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET locales = ? WHERE id = ?")
            .bind(super::locales_str(locales))
            .bind(session_id)
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn proven_customer_locales(&self, customer_id: &str) -> StoreResult<Vec<String>> {
        let stored: Option<String> = sqlx::query_scalar(
            "SELECT locales FROM sessions \
             WHERE customer_id = ? AND sub IS NOT NULL AND locales IS NOT NULL \
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(customer_id)
        .fetch_optional(&self.readers)
        .await
        .map_err(db)?;
        Ok(super::parse_locales(stored))
    }

    async fn mark_customer_read(
        &self,
        conversation_id: &str,
        seq: i64,
    ) -> StoreResult<Option<i64>> {
        sqlx::query_scalar(
            "UPDATE conversations SET customer_read_seq = MIN(?, last_seq) \
             WHERE id = ? AND customer_read_seq < MIN(?, last_seq) RETURNING customer_read_seq",
        )
        .bind(seq)
        .bind(conversation_id)
        .bind(seq)
        .fetch_optional(&self.writer)
        .await
        .map_err(db)
    }

    async fn agent_read_seq(&self, agent_id: &str, conversation_id: &str) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT seq FROM agent_reads WHERE agent_id = ? AND conversation_id = ?",
        )
        .bind(agent_id)
        .bind(conversation_id)
        .fetch_optional(&self.readers)
        .await
        .map_err(db)?
        .unwrap_or(0))
    }

    async fn claim_due_email(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> StoreResult<Option<EmailClaim>> {
        // One writer: the claim and the lookup are one statement, so two
        // workers never claim the same conversation.
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE conversations SET email_due_at = ?1 \
             WHERE id = (SELECT id FROM conversations WHERE email_due_at <= ?2 \
                         ORDER BY email_due_at LIMIT 1) \
             AND email_due_at <= ?2 \
             RETURNING {CONVERSATION_COLUMNS}, emailed_seq, email_attempts"
        )))
        .bind(lease_until_ms)
        .bind(now_ms)
        .fetch_optional(&self.writer)
        .await
        .map_err(db)?;
        row.map(|row| {
            Ok(EmailClaim {
                conversation: conversation_from_row(&row)?,
                emailed_seq: row.try_get("emailed_seq").map_err(db)?,
                attempts: row.try_get("email_attempts").map_err(db)?,
                lease_until: lease_until_ms,
            })
        })
        .transpose()
    }

    async fn finish_email(
        &self,
        conversation_id: &str,
        lease_until: i64,
        done: &EmailDone,
        now_ms: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE conversations SET emailed_seq = MAX(emailed_seq, ?1), \
             email_attempts = CASE WHEN email_due_at = ?2 THEN ?3 ELSE email_attempts END, \
             email_due_at = CASE WHEN email_due_at = ?2 \
                 THEN COALESCE(?4, CASE WHEN last_seq > ?5 THEN ?6 END) \
                 ELSE email_due_at END \
             WHERE id = ?7",
        )
        .bind(done.handled_seq)
        .bind(lease_until)
        .bind(done.attempts)
        .bind(done.next_due_at)
        .bind(done.seen_seq)
        .bind(now_ms)
        .bind(conversation_id)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn next_email_due(&self) -> StoreResult<Option<i64>> {
        sqlx::query_scalar(
            "SELECT email_due_at FROM conversations WHERE email_due_at IS NOT NULL \
             ORDER BY email_due_at LIMIT 1",
        )
        .fetch_optional(&self.readers)
        .await
        .map_err(db)
    }

    async fn emails_pending(&self) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM conversations WHERE email_due_at IS NOT NULL")
            .fetch_one(&self.readers)
            .await
            .map_err(db)
    }

    async fn enqueue_webhook_deliveries(&self, deliveries: &[NewDelivery]) -> StoreResult<()> {
        webhooks::enqueue(&self.writer, deliveries).await
    }

    async fn claim_webhook_delivery(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> StoreResult<Option<DeliveryClaim>> {
        webhooks::claim(&self.writer, now_ms, lease_until_ms).await
    }

    async fn finish_webhook_delivery(
        &self,
        seq: i64,
        lease_until: i64,
        done: &DeliveryDone,
    ) -> StoreResult<bool> {
        webhooks::finish(&self.writer, seq, lease_until, done).await
    }

    async fn next_webhook_due(&self) -> StoreResult<Option<i64>> {
        webhooks::next_due(&self.readers).await
    }

    async fn webhook_deliveries(
        &self,
        app_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        webhooks::recent(&self.readers, app_id, limit).await
    }

    async fn webhook_delivery_counts(&self) -> StoreResult<WebhookCounts> {
        webhooks::counts(&self.readers).await
    }

    async fn prune_webhook_deliveries(&self, before_ms: i64) -> StoreResult<u64> {
        webhooks::prune(&self.writer, before_ms).await
    }

    async fn mark_read(&self, agent_id: &str, conversation_id: &str, seq: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO agent_reads (agent_id, conversation_id, seq) VALUES (?, ?, ?) \
             ON CONFLICT (agent_id, conversation_id) DO UPDATE SET seq = MAX(seq, excluded.seq)",
        )
        .bind(agent_id)
        .bind(conversation_id)
        .bind(seq)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn routing_lock(&self) -> StoreResult<RoutingGuard> {
        Ok(RoutingGuard::new(
            Arc::clone(&self.routing).lock_owned().await,
        ))
    }

    async fn set_presence(
        &self,
        server_id: &str,
        agent_ids: &[String],
        expires_at_ms: i64,
    ) -> StoreResult<()> {
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        sqlx::query("DELETE FROM agent_presence WHERE server_id = ?")
            .bind(server_id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        for agent_id in agent_ids {
            sqlx::query(
                "INSERT INTO agent_presence (server_id, agent_id, expires_at) VALUES (?, ?, ?)",
            )
            .bind(server_id)
            .bind(agent_id)
            .bind(expires_at_ms)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn online_agents(&self, now_ms: i64) -> StoreResult<Vec<String>> {
        sqlx::query_scalar("SELECT DISTINCT agent_id FROM agent_presence WHERE expires_at > ?")
            .bind(now_ms)
            .fetch_all(&self.readers)
            .await
            .map_err(db)
    }

    async fn remember_jti(
        &self,
        app_id: &str,
        jti: &str,
        keep_until: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        sqlx::query("DELETE FROM used_jtis WHERE keep_until < ?")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let new = sqlx::query(
            "INSERT INTO used_jtis (app_id, jti, keep_until) VALUES (?, ?, ?) \
             ON CONFLICT (app_id, jti) DO NOTHING",
        )
        .bind(app_id)
        .bind(jti)
        .bind(keep_until)
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected()
            == 1;
        tx.commit().await.map_err(db)?;
        Ok(new)
    }

    async fn customer_data(
        &self,
        app_id: &str,
        matching: &CustomerMatch,
    ) -> StoreResult<CustomerData> {
        self.read_customer_data(app_id, matching).await
    }

    async fn erase_customers(
        &self,
        app_id: &str,
        matching: &CustomerMatch,
        actor: &AuditActor,
    ) -> StoreResult<Erased> {
        self.erase(app_id, matching, actor).await
    }

    async fn purge_closed_conversations(
        &self,
        app_id: &str,
        closed_before_ms: i64,
        limit: i64,
    ) -> StoreResult<Purged> {
        self.purge(app_id, closed_before_ms, limit).await
    }

    async fn record_audit(&self, entry: &AuditRecord) -> StoreResult<()> {
        self.insert_audit(entry).await
    }

    async fn audit_log(&self, app_id: Option<&str>, limit: i64) -> StoreResult<Vec<AuditRecord>> {
        self.read_audit_log(app_id, limit).await
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.readers)
            .await
            .map_err(db)
            .map(|_| ())
    }

    async fn close(&self) {
        self.stop_checkpoints.send_replace(true);
        // The appends queued before are committed and answered first.
        if self.appends.send(WriteJob::Stop).await.is_ok() {
            self.appends.closed().await;
        }
        self.writer.close().await;
        self.readers.close().await;
    }
}

/// A JSON array of strings, for `json_each`.
fn json_list(items: &[String]) -> String {
    serde_json::Value::Array(
        items
            .iter()
            .cloned()
            .map(serde_json::Value::String)
            .collect(),
    )
    .to_string()
}

/// An FTS5 query matching every term as a prefix: each run of letters
/// and digits quoted (so nothing typed is FTS5 syntax) and starred.
/// Empty when the terms hold no letter or digit.
fn fts5_query(terms: &[String]) -> String {
    terms
        .iter()
        .flat_map(|term| term.split(|c: char| !c.is_alphanumeric()))
        .filter(|token| !token.is_empty())
        .map(|token| format!("\"{token}\"*"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn conversation_from_row(row: &SqliteRow) -> StoreResult<ConversationRecord> {
    let status: String = row.try_get("status").map_err(db)?;
    let status = [ConversationStatus::Open, ConversationStatus::Closed]
        .into_iter()
        .find(|s| status_str(*s) == status)
        .ok_or_else(|| {
            StoreError::Database(format!("unknown conversation status {status:?}").into())
        })?;
    Ok(ConversationRecord {
        id: row.try_get("id").map_err(db)?,
        app_id: row.try_get("app_id").map_err(db)?,
        customer_id: row.try_get("customer_id").map_err(db)?,
        session_id: row.try_get("session_id").map_err(db)?,
        proven: row.try_get("proven").map_err(db)?,
        status,
        created_at: row.try_get("created_at").map_err(db)?,
        closed_at: row.try_get("closed_at").map_err(db)?,
        last_seq: row.try_get("last_seq").map_err(db)?,
        assigned_agent_id: row.try_get("assigned_agent_id").map_err(db)?,
        last_activity_at: row.try_get("last_activity_at").map_err(db)?,
        routing: RoutingFacts {
            team_id: row.try_get("team_id").map_err(db)?,
            priority: Priority::from_rank(row.try_get("priority").map_err(db)?),
            rule: row.try_get("rule").map_err(db)?,
            held_until: row.try_get("held_until").map_err(db)?,
        },
        rating: match row.try_get::<Option<i64>, _>("rating").map_err(db)? {
            Some(rating) => Some(RatingRecord {
                rating,
                comment: row.try_get("rating_comment").map_err(db)?,
                rated_at: row.try_get("rated_at").map_err(db)?,
            }),
            None => None,
        },
        customer_read_seq: row.try_get("customer_read_seq").map_err(db)?,
    })
}

fn agent_from_row(row: &SqliteRow) -> StoreResult<AgentRecord> {
    let status: String = row.try_get("status").map_err(db)?;
    let status = [AgentStatus::Available, AgentStatus::Away]
        .into_iter()
        .find(|s| agent_status_str(*s) == status)
        .ok_or_else(|| StoreError::Database(format!("unknown agent status {status:?}").into()))?;
    Ok(AgentRecord {
        id: row.try_get("id").map_err(db)?,
        email: row.try_get("email").map_err(db)?,
        name: row.try_get("name").map_err(db)?,
        password_hash: row.try_get("password_hash").map_err(db)?,
        status,
        created_at: row.try_get("created_at").map_err(db)?,
        last_assigned_at: row.try_get("last_assigned_at").map_err(db)?,
    })
}

fn message_from_row(row: &SqliteRow) -> StoreResult<MessageRecord> {
    let author: String = row.try_get("author").map_err(db)?;
    let author = [Author::Customer, Author::Agent]
        .into_iter()
        .find(|a| author_str(*a) == author)
        .ok_or_else(|| StoreError::Database(format!("unknown message author {author:?}").into()))?;
    let kind: String = row.try_get("kind").map_err(db)?;
    let kind = [MessageKind::Text, MessageKind::LoginRequest]
        .into_iter()
        .find(|k| kind_str(*k) == kind)
        .ok_or_else(|| StoreError::Database(format!("unknown message kind {kind:?}").into()))?;
    Ok(MessageRecord {
        id: row.try_get("id").map_err(db)?,
        conversation_id: row.try_get("conversation_id").map_err(db)?,
        seq: row.try_get("seq").map_err(db)?,
        author,
        author_name: row.try_get("author_name").map_err(db)?,
        kind,
        body: row.try_get("body").map_err(db)?,
        link: row.try_get("link").map_err(db)?,
        trusted: row.try_get("trusted").map_err(db)?,
        created_at_ms: row.try_get("created_at_ms").map_err(db)?,
        client_id: row.try_get("client_id").map_err(db)?,
        session_id: row.try_get("session_id").map_err(db)?,
    })
}

fn customer_from_row(row: &SqliteRow) -> StoreResult<CustomerRecord> {
    Ok(CustomerRecord {
        id: row.try_get("id").map_err(db)?,
        app_id: row.try_get("app_id").map_err(db)?,
        sub: row.try_get("sub").map_err(db)?,
        name: row.try_get("name").map_err(db)?,
        email: row.try_get("email").map_err(db)?,
        phone: row.try_get("phone").map_err(db)?,
        created_at: row.try_get("created_at").map_err(db)?,
        updated_at: row.try_get("updated_at").map_err(db)?,
    })
}

fn session_from_row(row: &SqliteRow) -> StoreResult<SessionRecord> {
    let kind: String = row.try_get("identity_kind").map_err(db)?;
    let identity_kind = IdentityKind::parse(&kind).ok_or_else(|| {
        StoreError::Database(format!("unknown identity_kind {kind:?} in sessions").into())
    })?;
    Ok(SessionRecord {
        id: row.try_get("id").map_err(db)?,
        token_hash: row.try_get("token_hash").map_err(db)?,
        app_id: row.try_get("app_id").map_err(db)?,
        customer_id: row.try_get("customer_id").map_err(db)?,
        trusted: row.try_get("trusted").map_err(db)?,
        trusted_until: row.try_get("trusted_until").map_err(db)?,
        identity_kind,
        sub: row.try_get("sub").map_err(db)?,
        display_name: row.try_get("display_name").map_err(db)?,
        display_first_name: row.try_get("display_first_name").map_err(db)?,
        display_email: row.try_get("display_email").map_err(db)?,
        display_phone: row.try_get("display_phone").map_err(db)?,
        created_at: row.try_get("created_at").map_err(db)?,
        revoked_at: row.try_get("revoked_at").map_err(db)?,
        page_url: row.try_get("page_url").map_err(db)?,
        locales: super::parse_locales(row.try_get("locales").map_err(db)?),
    })
}

/// Maps sqlx errors: a unique violation becomes [`StoreError::Taken`]
/// with the key of the index that refused it, so the domain can tell a
/// race from a duplicate; everything else is a database failure.
fn db(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(e) if e.is_unique_violation() => match unique_key(e.message()) {
            Some(key) => StoreError::Taken(key),
            None => StoreError::Database(Box::new(error)),
        },
        _ => StoreError::Database(Box::new(error)),
    }
}

/// The key of SQLite's `UNIQUE constraint failed: table.column, ...`
/// message: the indexed columns name the index (no two unique indexes of
/// the schema share their columns).
fn unique_key(message: &str) -> Option<UniqueKey> {
    let columns = message.strip_prefix("UNIQUE constraint failed: ")?;
    Some(match columns {
        "customers.app_id, customers.sub" => UniqueKey::CustomerSub,
        "customers.app_id, customers.email" => UniqueKey::CustomerEmail,
        "customers.app_id, customers.phone" => UniqueKey::CustomerPhone,
        "sessions.token_hash" => UniqueKey::SessionToken,
        "conversations.customer_id" => UniqueKey::OpenProvenConversation,
        "conversations.session_id" => UniqueKey::OpenSessionConversation,
        "messages.customer_id, messages.client_id" => UniqueKey::ClientId,
        "messages.conversation_id, messages.client_id" => UniqueKey::AgentReplyClientId,
        "messages.conversation_id, messages.seq" => UniqueKey::Seq,
        "agents.email" => UniqueKey::AgentEmail,
        "agent_sessions.token_hash" => UniqueKey::AgentSessionToken,
        _ => return None,
    })
}

fn create_parent_dir(file: &Path) -> anyhow::Result<()> {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir).map_err(|e| {
            anyhow::anyhow!("cannot create database directory {}: {e}", dir.display())
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::checkpoint::{checkpoint, wal_checkpoint};
    use super::*;

    /// A store on a file in a new directory, which lives as long as it.
    async fn file_store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = SqliteStore::connect(&url).await.unwrap();
        (dir, store)
    }

    async fn customer(store: &SqliteStore) -> CustomerRecord {
        let customer = CustomerRecord {
            id: uuid::Uuid::new_v4().to_string(),
            app_id: "demo".into(),
            sub: None,
            name: None,
            email: None,
            phone: None,
            created_at: 1,
            updated_at: 1,
        };
        store.insert_customer(&customer).await.unwrap();
        // A read right after the write, on another connection, sees it.
        assert_eq!(
            store.customer(&customer.id).await.unwrap(),
            Some(customer.clone())
        );
        customer
    }

    fn message(customer: &CustomerRecord, client_id: &str, body: &str) -> NewCustomerMessage {
        NewCustomerMessage {
            id: uuid::Uuid::new_v4().to_string(),
            app_id: customer.app_id.clone(),
            customer_id: customer.id.clone(),
            session_id: "session".into(),
            author_name: None,
            client_id: client_id.into(),
            body: body.into(),
            trusted: false,
            now_ms: 1_000,
            routing: Default::default(),
            webhooks: Default::default(),
        }
    }

    /// The message contract itself is the conformance suite's
    /// (`tests/store_conformance.rs`, on a file); an in-memory database
    /// shares one connection between readers and the writer.
    #[tokio::test]
    async fn an_in_memory_database_opens_joins_and_resends() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        let customer = customer(&store).await;
        let first = store
            .append_customer_message(message(&customer, "c1", "hello"))
            .await
            .unwrap();
        assert!(first.created && first.opened);
        let second = store
            .append_customer_message(message(&customer, "c2", "again"))
            .await
            .unwrap();
        assert_eq!(
            (second.message.conversation_id.as_str(), second.message.seq),
            (first.message.conversation_id.as_str(), 2)
        );
        let resent = store
            .append_customer_message(message(&customer, "c1", "hello"))
            .await
            .unwrap();
        assert!(!resent.created);
        assert_eq!(resent.message.id, first.message.id);
        store.close().await;
    }

    #[tokio::test]
    async fn the_proof_migration_ends_identified_sessions_and_gives_conversations_owners() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        // The database as the release before the migration left it.
        let mut before = sqlx::migrate!("migrations/sqlite");
        before.migrations = before
            .migrations
            .iter()
            .filter(|m| m.version < 5)
            .cloned()
            .collect::<Vec<_>>()
            .into();
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true);
        let pool = SqlitePool::connect_with(options).await.unwrap();
        before.run(&pool).await.unwrap();
        for statement in [
            "INSERT INTO customers (id, app_id, name, email, phone, created_at, updated_at) \
             VALUES ('ada', 'demo', 'Ada Lovelace', 'ada@example.com', '+14155550100', 1, 1)",
            "INSERT INTO customers (id, app_id, created_at, updated_at) VALUES ('anon', 'demo', 1, 1)",
            "INSERT INTO sessions (id, token_hash, app_id, customer_id, trusted, trusted_until, \
             identity_kind, display_name, created_at) VALUES \
             ('s-jwt', 'h1', 'demo', 'ada', 1, 99999999999, 'jwt', 'Ada Lovelace', 1), \
             ('s-eve', 'h2', 'demo', 'ada', 0, NULL, 'user', 'Eve', 1), \
             ('s-anon', 'h3', 'demo', 'anon', 0, NULL, 'anonymous', NULL, 1)",
            "INSERT INTO conversations (id, app_id, customer_id, status, created_at, last_seq, \
             last_activity_at) VALUES ('c1', 'demo', 'ada', 'open', 1, 0, 1)",
            "INSERT INTO messages (id, conversation_id, seq, author, kind, body, trusted, \
             created_at_ms, client_id, session_id, customer_id) VALUES \
             ('m1', 'c1', 1, 'customer', 'text', 'proven hello', 1, 1, 'k1', 's-jwt', 'ada'), \
             ('m2', 'c1', 2, 'customer', 'text', 'planted', 0, 2, 'k2', 's-eve', 'ada')",
            "INSERT INTO conversations (id, app_id, customer_id, status, created_at, last_seq, \
             last_activity_at) VALUES ('c2', 'demo', 'anon', 'open', 1, 0, 1)",
            "INSERT INTO messages (id, conversation_id, seq, author, kind, body, trusted, \
             created_at_ms, client_id, session_id, customer_id) VALUES \
             ('m3', 'c2', 1, 'customer', 'text', 'anonymous hello', 0, 1, 'k3', 's-anon', 'anon')",
        ] {
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
        pool.close().await;

        let store = SqliteStore::connect(&url).await.unwrap();
        let session = |id: &'static str| {
            let store = store.clone();
            async move { store.session(id).await.unwrap().unwrap() }
        };
        let jwt = session("s-jwt").await;
        assert!(jwt.revoked_at.is_some(), "identified sessions end");
        assert_eq!(jwt.display_email.as_deref(), Some("ada@example.com"));
        assert!(session("s-eve").await.revoked_at.is_some());
        assert_eq!(
            session("s-anon").await.revoked_at,
            None,
            "anonymous ones go on"
        );

        let proven = store.conversation("c1").await.unwrap().unwrap();
        assert_eq!(
            (proven.session_id.as_deref(), proven.proven),
            (Some("s-jwt"), true),
            "owned by the session of its first message, proven as it was trusted"
        );
        let anonymous = store.conversation("c2").await.unwrap().unwrap();
        assert_eq!(
            (anonymous.session_id.as_deref(), anonymous.proven),
            (Some("s-anon"), false)
        );
        let messages = store.messages_after("c1", 0, 10).await.unwrap();
        let names: Vec<_> = messages.iter().map(|m| m.author_name.as_deref()).collect();
        assert_eq!(names, [Some("Ada Lovelace"), Some("Eve")]);
        // The legacy profile waits for the first token with its email.
        let legacy = store
            .customer_by_email("demo", "ada@example.com", Among::Unproven)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((legacy.id.as_str(), legacy.sub), ("ada", None));
        // The anonymous session reads its own conversation still.
        let current = store
            .current_conversation(&Reader {
                session_id: "s-anon".into(),
                customer_id: "anon".into(),
                trusted: false,
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(current.id, "c2");
        store.close().await;
    }

    #[tokio::test]
    async fn the_checkpointer_starts_the_wal_over() {
        let (_dir, store) = file_store().await;
        let customer = customer(&store).await;
        for n in 0..50 {
            let client_id = format!("c{n}");
            store
                .append_customer_message(message(&customer, &client_id, &"x".repeat(2_000)))
                .await
                .unwrap();
        }
        let before = wal_checkpoint(&store.readers, "PASSIVE").await.unwrap();
        assert!(before.log_pages >= 50, "{} pages", before.log_pages);
        checkpoint(&store.readers, &store.writer, 10).await.unwrap();
        store
            .append_customer_message(message(&customer, "last", "x"))
            .await
            .unwrap();
        let after = wal_checkpoint(&store.readers, "PASSIVE").await.unwrap();
        // One small commit (the message, its conversation, and the search
        // index's pages) from the WAL's start: a handful of pages, where
        // appending would have left every page before it there.
        assert!(
            after.log_pages < 20 && after.log_pages * 4 < before.log_pages,
            "the next commit wrote the WAL from its start: {} pages, {} before",
            after.log_pages,
            before.log_pages
        );
        store.close().await;
        assert!(store
            .append_customer_message(message(&customer, "late", "x"))
            .await
            .is_err());
    }
}
