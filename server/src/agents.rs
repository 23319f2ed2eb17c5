//! Agent accounts and console sessions: adding, listing and removing
//! agents, argon2id passwords, logging in and the session cookie's token.
//!
//! Like [`crate::identity`], it knows neither HTTP nor SQL. A session
//! token (`tca_` and 32 random bytes) lives only in the agent's HttpOnly
//! cookie; the database holds its SHA-256. Each session also has a CSRF
//! token, which the console reads from the login answer (or `/me`) and
//! sends back as `X-CSRF-Token`.
//!
//! A login with an unknown email verifies the password against a dummy
//! hash, so it takes as long as a wrong password and the answer (the same
//! for both) says nothing about which emails exist.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::{Rng as _, RngExt as _};
use trustchat_protocol::validate;
use trustchat_protocol::{Agent, AgentStatus};

use crate::identity::hash_token;
use crate::store::{
    AgentRecord, AgentSessionRecord, ConversationRecord, Store, StoreError, StoreResult, UniqueKey,
};

/// The prefix of every agent session token.
pub const AGENT_TOKEN_PREFIX: &str = "tca_";
/// The shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest password accepted, in characters (argon2 takes any length;
/// this keeps a login request from costing more than the hash).
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Why an agent could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// The email, name or password was refused.
    #[error("{0}")]
    Invalid(String),
    /// A live agent already has this email.
    #[error("an agent with the email {0} exists already")]
    Exists(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Adds an agent, available, with an argon2id hash of `password`.
pub async fn add_agent(
    store: &dyn Store,
    email: &str,
    name: &str,
    password: &str,
) -> Result<AgentRecord, AddError> {
    let email =
        validate::email(email).map_err(|e| AddError::Invalid(format!("--email: {}", e.message)))?;
    let name =
        validate::name(name).map_err(|e| AddError::Invalid(format!("--name: {}", e.message)))?;
    check_password(password).map_err(|message| AddError::Invalid(message.to_owned()))?;
    let password = password.to_owned();
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AddError::Store(StoreError::Database(Box::new(e))))?;
    let agent = AgentRecord {
        id: uuid::Uuid::new_v4().to_string(),
        email: email.clone(),
        name,
        password_hash,
        status: AgentStatus::Available,
        created_at: crate::clock::now_ms(),
        last_assigned_at: None,
    };
    match store.insert_agent(&agent).await {
        Ok(()) => Ok(agent),
        Err(StoreError::Taken(UniqueKey::AgentEmail)) => Err(AddError::Exists(email)),
        Err(error) => Err(error.into()),
    }
}

/// Removes the agent with this email: their sessions stop working and
/// their open conversations go back to the queue (returned). `None` when no
/// live agent has the email.
pub async fn remove_agent(
    store: &dyn Store,
    email: &str,
) -> StoreResult<Option<(AgentRecord, Vec<ConversationRecord>)>> {
    let Some(agent) = store.agent_by_email(email.trim()).await? else {
        return Ok(None);
    };
    let requeued = store
        .remove_agent(&agent.id, crate::clock::now_ms())
        .await?;
    Ok(Some((agent, requeued)))
}

/// Whether a password may be used; the error says why not.
pub fn check_password(password: &str) -> Result<(), &'static str> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err("the password must be at least 10 characters long");
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err("the password must be at most 1024 characters long");
    }
    Ok(())
}

/// A random password of 20 letters and digits, for `agent add` run at a
/// terminal.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// The argon2id PHC string of a password (argon2's default parameters:
/// 19 MiB, 2 passes, 1 lane, OWASP's minimum). Blocking: run it off the
/// async threads.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt =
        SaltString::encode_b64(&salt).unwrap_or_else(|_| unreachable!("16 bytes are a valid salt"));
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .unwrap_or_else(|e| unreachable!("argon2 with default parameters cannot fail: {e}"))
}

/// Password verifications running now in this process (each holds 19
/// MiB), for tests and metrics.
static VERIFYING: AtomicUsize = AtomicUsize::new(0);

/// How many password verifications are running now in this process.
pub fn password_checks_running() -> usize {
    VERIFYING.load(Ordering::SeqCst)
}

/// Counts a verification out when it ends, however it ends.
struct Verifying;

impl Verifying {
    fn start() -> Verifying {
        VERIFYING.fetch_add(1, Ordering::SeqCst);
        Verifying
    }
}

impl Drop for Verifying {
    fn drop(&mut self) {
        VERIFYING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether `password` matches a PHC hash. Blocking.
pub fn verify_password(hash: &str, password: &str) -> bool {
    let _running = Verifying::start();
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A logged-in agent: the new session's cookie token, the session and the
/// agent.
#[derive(Debug)]
pub struct LoggedIn {
    /// The cookie's token; goes to the browser only.
    pub token: String,
    /// The stored session.
    pub session: AgentSessionRecord,
    /// The agent.
    pub agent: AgentRecord,
}

/// Checks an email and password and opens a session of `ttl_ms`; `None`
/// for a wrong email or password, after the same work either way.
pub async fn login(
    store: &dyn Store,
    email: &str,
    password: &str,
    ttl_ms: i64,
) -> StoreResult<Option<LoggedIn>> {
    let agent = store.agent_by_email(email.trim()).await?;
    let hash = agent
        .as_ref()
        .map_or_else(|| dummy_hash().to_owned(), |a| a.password_hash.clone());
    let candidate: String = password.chars().take(MAX_PASSWORD_CHARS).collect();
    let matches = tokio::task::spawn_blocking(move || verify_password(&hash, &candidate))
        .await
        .map_err(|e| StoreError::Database(Box::new(e)))?;
    let Some(agent) = agent.filter(|_| matches) else {
        return Ok(None);
    };
    let (token, token_hash) = new_token(AGENT_TOKEN_PREFIX);
    let now = crate::clock::now_ms();
    let session = AgentSessionRecord {
        id: uuid::Uuid::new_v4().to_string(),
        token_hash,
        csrf_token: new_token("").0,
        agent_id: agent.id.clone(),
        created_at: now,
        expires_at: now.saturating_add(ttl_ms),
        revoked_at: None,
    };
    store.insert_agent_session(&session).await?;
    Ok(Some(LoggedIn {
        token,
        session,
        agent,
    }))
}

/// The live session and agent of a cookie token: known, not revoked, not
/// expired, and its agent not removed.
pub async fn authenticate(
    store: &dyn Store,
    token: &str,
) -> StoreResult<Option<(AgentSessionRecord, AgentRecord)>> {
    if !token.starts_with(AGENT_TOKEN_PREFIX) || token.len() > 128 {
        return Ok(None);
    }
    let Some(session) = store
        .agent_session_by_token_hash(&hash_token(token))
        .await?
    else {
        return Ok(None);
    };
    if session.revoked_at.is_some() || session.expires_at <= crate::clock::now_ms() {
        return Ok(None);
    }
    Ok(store
        .agent(&session.agent_id)
        .await?
        .map(|agent| (session, agent)))
}

/// The wire form of an agent.
pub fn agent_view(agent: &AgentRecord, online: bool) -> Agent {
    Agent {
        id: agent.id.clone(),
        email: agent.email.clone(),
        name: agent.name.clone(),
        status: agent.status,
        online,
    }
}

/// A random token with a prefix, and its SHA-256.
fn new_token(prefix: &str) -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash_token(&token);
    (token, hash)
}

/// A hash no password matches, made once, with the same parameters as
/// real ones so verifying against it costs the same.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&generate_password()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_verify_and_are_checked() {
        let hash = hash_password("correct horse battery");
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        assert!(verify_password(&hash, "correct horse battery"));
        assert!(!verify_password(&hash, "correct horse batterY"));
        assert!(!verify_password("not a hash", "x"));
        assert_ne!(hash, hash_password("correct horse battery"), "salted");
        for (password, ok) in [
            ("short", false),
            ("123456789", false),
            ("1234567890", true),
            ("ééééééééééé", true),
        ] {
            assert_eq!(check_password(password).is_ok(), ok, "{password}");
        }
        let generated = generate_password();
        assert_eq!(generated.len(), 20);
        assert!(check_password(&generated).is_ok());
    }
}
