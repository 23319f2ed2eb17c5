//! `trustchat-server db backup --to FILE`: a consistent copy of a SQLite
//! database, taken while servers write to it.
//!
//! `VACUUM INTO` reads the database in one read transaction, a snapshot
//! (WAL mode lets the servers go on writing meanwhile), and writes a
//! compact new file: no free pages, so nothing deleted before survives in
//! it either. SQLite does not sync that file, so it is written beside the
//! target under a temporary name, synced, opened and checked
//! (`PRAGMA integrity_check`, row counts), and only then renamed into
//! place: a backup that was interrupted never has the target's name.
//! PostgreSQL is backed up with its own tools (`pg_dump`, or base backups
//! and WAL archiving); the README shows how.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::ConnectOptions as _;
use sqlx::Connection as _;

use super::{postgres, Backend};

/// The tables whose rows a backup counts.
const COUNTED: [&str; 6] = [
    "customers",
    "sessions",
    "conversations",
    "messages",
    "agents",
    "privacy_audit",
];

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// The file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Rows of the main tables in the copy.
    pub rows: Vec<(&'static str, i64)>,
}

/// What to say when the database is PostgreSQL.
pub const POSTGRES_ADVICE: &str =
    "db backup copies SQLite databases; back up PostgreSQL with its own tools, e.g. \
     `pg_dump --format=custom --file=trustchat.dump 'postgres://...'` (a consistent snapshot while \
     the servers run; restore with pg_restore into an empty database), or base backups with WAL \
     archiving for point-in-time recovery: see the README, \"Backups\"";

/// Copies the SQLite database at `database_url` into `to`, consistently,
/// while servers may write to it. An existing `to` is refused unless
/// `force`.
pub async fn backup(database_url: &str, to: &Path, force: bool) -> anyhow::Result<BackupReport> {
    if Backend::of(database_url)? == Backend::Postgres {
        anyhow::bail!(
            "{} is a PostgreSQL database: {POSTGRES_ADVICE}",
            postgres::redact(database_url)
        );
    }
    let options = SqliteConnectOptions::from_str(database_url)
        .map_err(|e| anyhow::anyhow!("invalid sqlite database_url: {e}"))?;
    let source = options.get_filename().to_owned();
    if database_url.contains(":memory:") || database_url.contains("mode=memory") {
        anyhow::bail!("{database_url} is an in-memory database: there is nothing to back up");
    }
    if !source.is_file() {
        anyhow::bail!(
            "no database file at {} (from {database_url})",
            source.display()
        );
    }
    if to.exists() && !force {
        anyhow::bail!(
            "{} exists; pass --force to replace it, or choose another name",
            to.display()
        );
    }
    if same_file(&source, to) {
        anyhow::bail!("{} is the database itself", to.display());
    }
    let dir = match to.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        anyhow::bail!("the directory {} does not exist", dir.display());
    }
    let name = to
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("{} is not a file name", to.display()))?
        .to_string_lossy()
        .into_owned();
    let partial = dir.join(format!(".{name}.partial-{}", std::process::id()));
    let _ = std::fs::remove_file(&partial);
    let result = write_checked(options, &source, &partial).await;
    let report = match result {
        Ok(rows) => rows,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
    };
    std::fs::rename(&partial, to).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        anyhow::anyhow!("cannot move the backup to {}: {e}", to.display())
    })?;
    if let Ok(dir) = std::fs::File::open(&dir) {
        let _ = dir.sync_all();
    }
    let bytes = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    Ok(BackupReport {
        path: to.to_owned(),
        bytes,
        rows: report,
    })
}

/// `VACUUM INTO partial`, then sync, permissions and checks; the row
/// counts of the copy.
async fn write_checked(
    options: SqliteConnectOptions,
    source: &Path,
    partial: &Path,
) -> anyhow::Result<Vec<(&'static str, i64)>> {
    let target = partial
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("{} is not a UTF-8 path", partial.display()))?
        .to_owned();
    {
        // The source is read, never created or migrated.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(
                options
                    .create_if_missing(false)
                    .busy_timeout(Duration::from_secs(30)),
            )
            .await
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", source.display()))?;
        let copied = sqlx::query("VACUUM INTO ?")
            .bind(&target)
            .execute(&pool)
            .await;
        pool.close().await;
        copied.map_err(|e| anyhow::anyhow!("cannot copy {}: {e}", source.display()))?;
    }
    let file = std::fs::File::open(partial)?;
    file.sync_all()?;
    // The copy holds what the database holds: as private as it is.
    if let Ok(meta) = std::fs::metadata(source) {
        let _ = std::fs::set_permissions(partial, meta.permissions());
    }
    let mut conn = SqliteConnectOptions::new()
        .filename(partial)
        .create_if_missing(false)
        .connect()
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the copy: {e}"))?;
    let check: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| anyhow::anyhow!("cannot check the copy: {e}"))?;
    if check != ["ok"] {
        anyhow::bail!("the copy failed its integrity check: {}", check.join("; "));
    }
    let mut rows = Vec::new();
    for table in COUNTED {
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?)",
        )
        .bind(table)
        .fetch_one(&mut conn)
        .await?;
        if exists {
            let count: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                    .fetch_one(&mut conn)
                    .await?;
            rows.push((table, count));
        }
    }
    conn.close().await?;
    Ok(rows)
}

/// Whether two paths name one existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
