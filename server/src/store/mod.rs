//! Storage: the [`Store`] trait the domain talks to, its record types, and
//! [`connect`], which picks the backend from the database URL.
//!
//! Only the modules under `store/` know SQL. The domain and the HTTP layer
//! hold an `Arc<dyn Store>`, so a Postgres store can sit beside
//! [`sqlite::SqliteStore`] without either of them changing. Records here are
//! internal state, not wire types: they do not derive `Serialize`, and the
//! HTTP layer turns them into `trustchat_protocol` types explicitly.

use std::sync::Arc;

use async_trait::async_trait;

pub mod sqlite;

/// A customer profile, unique per app by email and by phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRecord {
    /// UUID v4.
    pub id: String,
    /// The app the profile belongs to; profiles are never shared by apps.
    pub app_id: String,
    /// Full name, once someone gave one.
    pub name: Option<String>,
    /// Lowercased email.
    pub email: Option<String>,
    /// E.164 phone number.
    pub phone: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// How a session's customer was identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityKind {
    /// `{}`: nobody said who they are.
    Anonymous,
    /// `setUser` with a name and an email or phone: identified, not trusted.
    User,
    /// A verified identity JWT: trusted until it expires.
    Jwt,
}

/// A chat session: what a session token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// UUID v4.
    pub id: String,
    /// SHA-256 of the bearer token, lowercase hex. The token itself is
    /// never stored.
    pub token_hash: String,
    /// The app the session was opened for.
    pub app_id: String,
    /// The customer the session speaks for.
    pub customer_id: String,
    /// Whether the identity was proven by a JWT.
    pub trusted: bool,
    /// When that proof expires, unix seconds.
    pub trusted_until: Option<i64>,
    /// How the customer was identified.
    pub identity_kind: IdentityKind,
    /// The name given when the session was opened, which may differ from
    /// the profile's stored name (see `identity`).
    pub display_name: Option<String>,
    /// The first name to greet by when the identity token gave one
    /// (`given_name`); otherwise derived from `display_name`.
    pub display_first_name: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; set once the session was revoked.
    pub revoked_at: Option<i64>,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key (email or phone within an app, token hash) is taken.
    #[error("a record with the same unique key already exists")]
    Conflict,
    /// The database failed; a 500 for the HTTP layer.
    #[error("database error")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// Everything the domain needs from a database. Implementations must be
/// safe to share between requests.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The customer with this id.
    async fn customer(&self, id: &str) -> StoreResult<Option<CustomerRecord>>;

    /// The customer of `app_id` with this (lowercased) email.
    async fn customer_by_email(
        &self,
        app_id: &str,
        email: &str,
    ) -> StoreResult<Option<CustomerRecord>>;

    /// The customer of `app_id` with this E.164 phone number.
    async fn customer_by_phone(
        &self,
        app_id: &str,
        phone: &str,
    ) -> StoreResult<Option<CustomerRecord>>;

    /// Inserts a new customer; [`StoreError::Conflict`] when its email or
    /// phone is already taken in its app.
    async fn insert_customer(&self, customer: &CustomerRecord) -> StoreResult<()>;

    /// Inserts a new session.
    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()>;

    /// The session whose token hashes to `token_hash`, revoked or not.
    async fn session_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>>;

    /// Marks the session revoked; returns false when it already was.
    async fn revoke_session(&self, id: &str, now: i64) -> StoreResult<bool>;

    /// Waits for open connections to finish and closes them.
    /// Writes a session's identity fields (customer, trust, names) after a
    /// mid-chat login or identification.
    async fn update_session_identity(&self, session: &SessionRecord) -> StoreResult<()>;

    /// Writes a customer's name, email, phone and `updated_at`;
    /// [`StoreError::Conflict`] when the email or phone belongs to another
    /// profile of the app.
    async fn update_customer(&self, customer: &CustomerRecord) -> StoreResult<()>;

    async fn close(&self);
}

/// Opens the database named by `database_url` and brings its schema up to
/// date: `sqlite:` now, `postgres:` in a later release.
pub async fn connect(database_url: &str) -> anyhow::Result<Arc<dyn Store>> {
    let scheme = database_url
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match scheme.as_str() {
        "sqlite" => Ok(Arc::new(sqlite::SqliteStore::connect(database_url).await?)),
        "postgres" | "postgresql" => {
            anyhow::bail!("postgres databases are not supported yet; use a sqlite:// database_url")
        }
        _ => anyhow::bail!(
            "unsupported database_url scheme {scheme:?}: it must start with sqlite://"
        ),
    }
}

impl IdentityKind {
    /// The value stored in the `identity_kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Anonymous => "anonymous",
            IdentityKind::User => "user",
            IdentityKind::Jwt => "jwt",
        }
    }

    /// Parses a stored `identity_kind`.
    pub fn parse(value: &str) -> Option<IdentityKind> {
        [
            IdentityKind::Anonymous,
            IdentityKind::User,
            IdentityKind::Jwt,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == value)
    }
}
