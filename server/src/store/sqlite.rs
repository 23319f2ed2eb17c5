//! [`SqliteStore`]: the default [`Store`], one SQLite file beside the binary.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::Row;

use super::{CustomerRecord, IdentityKind, SessionRecord, Store, StoreError, StoreResult};

/// The schema migrations, embedded in the binary and applied at start-up.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// A [`Store`] over a SQLite database in WAL mode.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// The connection pool; SQLite serializes writers itself, and
    /// `busy_timeout` makes a writer wait instead of failing.
    pool: SqlitePool,
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
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let in_memory = database_url.contains(":memory:") || database_url.contains("mode=memory");
        if !in_memory {
            create_parent_dir(options.get_filename())?;
        }
        // An in-memory database lives and dies with its one connection.
        let pool_options = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(8)
        };
        let pool = pool_options
            .connect_with(options)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open sqlite database {database_url}: {e}"))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| anyhow::anyhow!("cannot migrate sqlite database {database_url}: {e}"))?;
        Ok(SqliteStore { pool })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn customer(&self, id: &str) -> StoreResult<Option<CustomerRecord>> {
        sqlx::query(
            "SELECT id, app_id, name, email, phone, created_at, updated_at FROM customers WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|row| customer_from_row(&row))
        .transpose()
    }

    async fn customer_by_email(
        &self,
        app_id: &str,
        email: &str,
    ) -> StoreResult<Option<CustomerRecord>> {
        sqlx::query(
            "SELECT id, app_id, name, email, phone, created_at, updated_at \
             FROM customers WHERE app_id = ? AND email = ?",
        )
        .bind(app_id)
        .bind(email)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|row| customer_from_row(&row))
        .transpose()
    }

    async fn customer_by_phone(
        &self,
        app_id: &str,
        phone: &str,
    ) -> StoreResult<Option<CustomerRecord>> {
        sqlx::query(
            "SELECT id, app_id, name, email, phone, created_at, updated_at \
             FROM customers WHERE app_id = ? AND phone = ?",
        )
        .bind(app_id)
        .bind(phone)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|row| customer_from_row(&row))
        .transpose()
    }

    async fn insert_customer(&self, customer: &CustomerRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO customers (id, app_id, name, email, phone, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&customer.id)
        .bind(&customer.app_id)
        .bind(&customer.name)
        .bind(&customer.email)
        .bind(&customer.phone)
        .bind(customer.created_at)
        .bind(customer.updated_at)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id, token_hash, app_id, customer_id, trusted, trusted_until, \
             identity_kind, display_name, display_first_name, created_at, revoked_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&session.id)
        .bind(&session.token_hash)
        .bind(&session.app_id)
        .bind(&session.customer_id)
        .bind(session.trusted)
        .bind(session.trusted_until)
        .bind(session.identity_kind.as_str())
        .bind(&session.display_name)
        .bind(&session.display_first_name)
        .bind(session.created_at)
        .bind(session.revoked_at)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn session_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
        sqlx::query(
            "SELECT id, token_hash, app_id, customer_id, trusted, trusted_until, identity_kind, \
             display_name, display_first_name, created_at, revoked_at FROM sessions WHERE token_hash = ?",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
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
                .execute(&self.pool)
                .await
                .map_err(db)?;
        Ok(result.rows_affected() == 1)
    }

    async fn update_session_identity(&self, session: &SessionRecord) -> StoreResult<()> {
        sqlx::query(
            "UPDATE sessions SET customer_id = ?, trusted = ?, trusted_until = ?, identity_kind = ?, \
             display_name = ?, display_first_name = ? WHERE id = ?",
        )
        .bind(&session.customer_id)
        .bind(session.trusted)
        .bind(session.trusted_until)
        .bind(session.identity_kind.as_str())
        .bind(&session.display_name)
        .bind(&session.display_first_name)
        .bind(&session.id)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn update_customer(&self, customer: &CustomerRecord) -> StoreResult<()> {
        sqlx::query("UPDATE customers SET name = ?, email = ?, phone = ?, updated_at = ? WHERE id = ?")
            .bind(&customer.name)
            .bind(&customer.email)
            .bind(&customer.phone)
            .bind(customer.updated_at)
            .bind(&customer.id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

fn customer_from_row(row: &SqliteRow) -> StoreResult<CustomerRecord> {
    Ok(CustomerRecord {
        id: row.try_get("id").map_err(db)?,
        app_id: row.try_get("app_id").map_err(db)?,
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
        display_name: row.try_get("display_name").map_err(db)?,
        display_first_name: row.try_get("display_first_name").map_err(db)?,
        created_at: row.try_get("created_at").map_err(db)?,
        revoked_at: row.try_get("revoked_at").map_err(db)?,
    })
}

/// Maps sqlx errors: unique violations become [`StoreError::Conflict`] so
/// the domain can resolve races; everything else is a database failure.
fn db(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(e) if e.is_unique_violation() => StoreError::Conflict,
        _ => StoreError::Database(Box::new(error)),
    }
}

fn create_parent_dir(file: &Path) -> anyhow::Result<()> {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir).map_err(|e| {
            anyhow::anyhow!("cannot create database directory {}: {e}", dir.display())
        }),
        _ => Ok(()),
    }
}
