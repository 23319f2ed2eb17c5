//! Fresh databases for tests: a SQLite file in a temporary directory, and,
//! when `TRUSTCHAT_TEST_DATABASE_URL` names a PostgreSQL server where the
//! tests may create databases (`scripts/test.mjs` starts one), a database
//! created there for one test and dropped after it, even when it fails.

#![allow(dead_code)]

use std::str::FromStr as _;
use std::sync::Arc;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions as _, Connection as _};
use trustchat_server::store::{self, Store, StoreOptions};

/// The Postgres server the tests may create databases on.
pub const ENV: &str = "TRUSTCHAT_TEST_DATABASE_URL";

/// Connections per store in tests: many tests run at once, each with up
/// to two stores, on one Postgres.
pub const TEST_POOL: u32 = 8;

/// A database of one test, gone when this is dropped.
pub struct TestDatabase {
    /// `"sqlite"` or `"postgres"`, for messages.
    pub backend: &'static str,
    /// Its URL.
    pub url: String,
    /// The SQLite file's directory.
    _dir: Option<tempfile::TempDir>,
    /// The Postgres server's URL and the database's name, to drop it.
    created: Option<(String, String)>,
}

impl TestDatabase {
    /// A store on the database (migrated). Each call is another store,
    /// as another server of the same database would have.
    pub async fn store(&self) -> Arc<dyn Store> {
        store::connect_with(
            &self.url,
            &StoreOptions {
                max_connections: TEST_POOL,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("cannot open the {} test database: {e:#}", self.backend))
    }

    /// Whether this is the Postgres database.
    pub fn is_postgres(&self) -> bool {
        self.created.is_some()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((server, name)) = self.created.take() else {
            return;
        };
        // Drop runs outside any runtime worth blocking (and during a
        // panic's unwinding): a thread with a runtime of its own does it.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut conn = admin(&server).await;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .map(|_| ())
            })
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("could not drop a test database: {error}");
        }
    }
}

/// The databases a test of the store contract runs on: a fresh SQLite
/// file, and a fresh Postgres database when [`ENV`] is set.
pub async fn fresh(test: &str) -> Vec<TestDatabase> {
    let mut databases = vec![sqlite()];
    match postgres(test).await {
        Some(db) => databases.push(db),
        None => eprintln!("{ENV} is not set: {test} runs on SQLite only"),
    }
    databases
}

/// A fresh SQLite database file.
pub fn sqlite() -> TestDatabase {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("trustchat.db").display());
    TestDatabase {
        backend: "sqlite",
        url,
        _dir: Some(dir),
        created: None,
    }
}

/// A fresh, empty Postgres database named after the test, or `None` when
/// [`ENV`] is not set.
pub async fn postgres(test: &str) -> Option<TestDatabase> {
    let server = std::env::var(ENV)
        .ok()
        .filter(|url| !url.trim().is_empty())?;
    let slug: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let name = format!(
        "tc_{slug}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let mut conn = admin(&server).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("cannot create database {name} on {ENV}: {e}"));
    let _ = conn.close().await;
    Some(TestDatabase {
        backend: "postgres",
        url: with_database(&server, &name),
        _dir: None,
        created: Some((server, name)),
    })
}

/// A connection to the server of [`ENV`].
async fn admin(server: &str) -> PgConnection {
    PgConnectOptions::from_str(server)
        .unwrap_or_else(|e| panic!("{ENV} is not a postgres URL: {e}"))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {ENV} ({server}): {e}"))
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let (scheme, rest) = base.split_once("://").expect("a URL with a scheme");
    let authority = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{authority}/{name}{query}")
}
