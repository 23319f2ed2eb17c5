//! The server's configuration: one TOML file, a few `TRUSTCHAT_*`
//! environment variables on top, and validation at start-up so that a typo
//! fails loudly before the first request instead of silently at the first
//! customer.
//!
//! Every table refuses unknown keys (`deny_unknown_fields`), so
//! `allowed_origin = [...]` is an error naming the field, not an app that
//! refuses every browser. New sections (API keys, rules, messages) are added
//! as new optional fields with `#[serde(default)]`, which keeps older files
//! loading.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::email::config::{self as email_config, AppEmailConfig, SmtpConfig};
use crate::hours::{Hours, HoursConfig};
use crate::jwt::IdentityConfig;
use crate::proxy::TrustedProxies;
use crate::rules::{self, MessagesConfig, RuleConfig};
use crate::store::Webhooks;
use crate::texts;
use crate::webhooks::config::{self as webhook_config, WebhookConfig};

/// Environment variable overriding `server.listen`.
pub const ENV_LISTEN: &str = "TRUSTCHAT_LISTEN";
/// Environment variable overriding `server.database_url`.
pub const ENV_DATABASE_URL: &str = "TRUSTCHAT_DATABASE_URL";
/// Environment variable overriding `server.static_dir`.
pub const ENV_STATIC_DIR: &str = "TRUSTCHAT_STATIC_DIR";
/// Environment variable overriding `server.log`, a `tracing` filter such as
/// `info,trustchat_server=debug`.
pub const ENV_LOG: &str = "TRUSTCHAT_LOG";
/// Environment variable overriding `server.trusted_proxies`: addresses and
/// CIDR ranges separated by commas.
pub const ENV_TRUSTED_PROXIES: &str = "TRUSTCHAT_TRUSTED_PROXIES";

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where and how the server runs.
    #[serde(default)]
    pub server: ServerConfig,
    /// The websites that embed the widget, one `[[apps]]` table each.
    #[serde(default)]
    pub apps: Vec<AppConfig>,
    /// The agents' teams and the apps each serves, one `[[teams]]` table
    /// each; none: one implicit team serves every app.
    #[serde(default)]
    pub teams: Vec<TeamConfig>,
    /// The demo portal's stand-in login backend; absent in production.
    #[serde(default)]
    pub demo: Option<DemoConfig>,
    /// Rate and connection limits of the chat.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// The agent console's sessions and login limits.
    #[serde(default)]
    pub agent: AgentConfig,
    /// The SMTP relay that emails unread agent replies (see
    /// [`crate::email`]); none: no email is sent.
    #[serde(default)]
    pub smtp: Option<SmtpConfig>,
    /// The directory relative paths in the file (`jwks_file`) start from:
    /// the config file's own directory.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// One `[[teams]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamConfig {
    /// Its id (`a-z`, `0-9`, `_`, `-`), named by rules and agents.
    pub id: String,
    /// Its name in the console; the id when absent.
    #[serde(default)]
    pub name: String,
    /// The ids of the apps it serves.
    pub apps: Vec<String>,
    /// Its saved replies, beside those its agents add in the console.
    #[serde(default)]
    pub saved_replies: Vec<SavedReplyConfig>,
}

/// One `[[teams.saved_replies]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedReplyConfig {
    /// What the "/" menu shows and filters by, 1 to
    /// [`MAX_SAVED_REPLY_TITLE`] characters.
    pub title: String,
    /// The text inserted, 1 to [`MAX_SAVED_REPLY_BODY`] characters.
    pub body: String,
}

/// The longest saved reply title, in characters.
pub const MAX_SAVED_REPLY_TITLE: usize = 80;
/// The longest saved reply body, in characters.
pub const MAX_SAVED_REPLY_BODY: usize = 4000;

/// Why a saved reply's title or body is refused; `None`: it is fine.
pub fn saved_reply_problem(title: &str, body: &str) -> Option<(&'static str, String)> {
    let title_chars = title.trim().chars().count();
    if title_chars == 0 || title_chars > MAX_SAVED_REPLY_TITLE {
        return Some((
            "title",
            format!("title must be 1 to {MAX_SAVED_REPLY_TITLE} characters"),
        ));
    }
    if title.chars().any(char::is_control) {
        return Some(("title", "title must be one line of text".into()));
    }
    let body_chars = body.trim().chars().count();
    if body_chars == 0 || body_chars > MAX_SAVED_REPLY_BODY {
        return Some((
            "body",
            format!("body must be 1 to {MAX_SAVED_REPLY_BODY} characters"),
        ));
    }
    None
}

/// The longest a rule may hold a conversation for a login: an hour.
pub const MAX_HOLD_FOR_LOGIN_SECS: u64 = 3600;

/// The `[demo]` table: lets the demo portal log its customers in and mint
/// identity tokens for them, the part a real website's own backend plays.
/// Never configure it in production.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoConfig {
    /// The app whose key signs the demo tokens.
    pub app: String,
    /// Lifetime of the tokens the demo login mints, in seconds.
    #[serde(default = "default_demo_token_ttl")]
    pub token_ttl_secs: u64,
    /// The portal's customers.
    #[serde(default)]
    pub users: Vec<DemoUser>,
}

/// One customer of the demo portal.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoUser {
    /// Login and identity.
    pub email: String,
    /// Demo password, in clear: this is a demo.
    pub password: String,
    /// Full name, put in the token's `name` claim.
    pub name: String,
}

impl std::fmt::Debug for DemoUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoUser")
            .field("email", &self.email)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// One API key of an app, for server-to-server calls such as
/// `POST /api/v1/user-identity-jwt`. Only the key's SHA-256 is configured
/// (`trustchat-server api-key new` prints a key and its hash).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// A name for people: which backend holds the key.
    pub name: String,
    /// `sha256:` and the hex SHA-256 of the key.
    pub hash: String,
}

/// The `[agent]` table: agent console sessions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// How long an agent stays logged in, in hours.
    #[serde(default = "default_agent_session_hours")]
    pub session_hours: u64,
    /// Always mark the session cookie `Secure`. Without it, the cookie is
    /// `Secure` when the login request came over https as a reverse proxy
    /// says with `X-Forwarded-Proto: https`.
    #[serde(default)]
    pub secure_cookie: bool,
    /// Login attempts per email per minute from all addresses together
    /// before `rate_limited`; an address the agent has logged in from
    /// before is exempt, so strangers cannot lock the agent out with it.
    #[serde(default = "default_login_per_email")]
    pub login_attempts_per_email_per_minute: u32,
    /// Login attempts per email from one client address per minute.
    #[serde(default = "default_login_per_email_and_ip")]
    pub login_attempts_per_email_and_ip_per_minute: u32,
    /// Login attempts per client address per minute, whatever the email.
    #[serde(default = "default_login_per_ip")]
    pub login_attempts_per_ip_per_minute: u32,
    /// The most keys each login limiter map remembers (least recently used
    /// forgotten first), so made-up emails cannot grow memory.
    #[serde(default = "default_login_max_tracked_keys")]
    pub login_max_tracked_keys: usize,
    /// Logins checking a password (argon2id, 19 MiB each) at once.
    #[serde(default = "default_login_concurrent_password_checks")]
    pub login_concurrent_password_checks: usize,
    /// How long a login waits for a password check before `server_busy`,
    /// in milliseconds.
    #[serde(default = "default_login_queue_timeout_ms")]
    pub login_queue_timeout_ms: u64,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            session_hours: default_agent_session_hours(),
            secure_cookie: false,
            login_attempts_per_email_per_minute: default_login_per_email(),
            login_attempts_per_email_and_ip_per_minute: default_login_per_email_and_ip(),
            login_attempts_per_ip_per_minute: default_login_per_ip(),
            login_max_tracked_keys: default_login_max_tracked_keys(),
            login_concurrent_password_checks: default_login_concurrent_password_checks(),
            login_queue_timeout_ms: default_login_queue_timeout_ms(),
        }
    }
}

fn default_agent_session_hours() -> u64 {
    12
}

// One agent mistyping from their desk gets 5 tries a minute; a guesser on
// one machine gets 5 per agent and 20 in all; a crowd of machines gets 100
// a minute per agent in all, which they cannot use against the agent's own
// usual address (exempt).
fn default_login_per_email() -> u32 {
    100
}

fn default_login_per_email_and_ip() -> u32 {
    5
}

fn default_login_per_ip() -> u32 {
    20
}

fn default_login_max_tracked_keys() -> usize {
    10_000
}

// Two argon2 checks at once take 38 MiB and the two cores of a small
// machine; a login waits a few tens of milliseconds per check ahead of it.
fn default_login_concurrent_password_checks() -> usize {
    2
}

fn default_login_queue_timeout_ms() -> u64 {
    5_000
}

/// The `[limits]` table: how much one session may do.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Sustained messages per minute per session (HTTP and WebSocket
    /// together).
    #[serde(default = "default_messages_per_minute")]
    pub messages_per_minute: u32,
    /// Messages a session may send at once before the per-minute rate
    /// applies.
    #[serde(default = "default_message_burst")]
    pub message_burst: u32,
    /// Open WebSocket connections per session (tabs).
    #[serde(default = "default_ws_connections")]
    pub ws_connections_per_session: usize,
    /// How long a new WebSocket may take to send its `auth` frame, in
    /// milliseconds.
    #[serde(default = "default_ws_auth_timeout_ms")]
    pub ws_auth_timeout_ms: u64,
    /// How often the server pings an idle WebSocket, in seconds.
    #[serde(default = "default_ws_ping_secs")]
    pub ws_ping_secs: u64,
    /// A WebSocket that sends nothing (not even a pong) for this long is
    /// closed, in seconds.
    #[serde(default = "default_ws_idle_secs")]
    pub ws_idle_secs: u64,
    /// Sessions opened per client address per minute, sustained.
    #[serde(default = "default_sessions_per_minute_per_address")]
    pub sessions_per_minute_per_address: u32,
    /// Sessions one client address may open at once before the rate
    /// applies.
    #[serde(default = "default_session_burst_per_address")]
    pub session_burst_per_address: u32,
    /// WebSocket connects per client address per minute, sustained.
    #[serde(default = "default_ws_connects_per_minute_per_address")]
    pub ws_connects_per_minute_per_address: u32,
    /// WebSocket connects one client address may make at once.
    #[serde(default = "default_ws_connect_burst_per_address")]
    pub ws_connect_burst_per_address: u32,
    /// WebSockets per client address that are open but have not sent
    /// their first (auth) frame yet.
    #[serde(default = "default_unauthenticated_sockets_per_address")]
    pub unauthenticated_sockets_per_address: u32,
    /// The most client addresses each per-address limiter remembers (least
    /// recently seen forgotten first), so memory stays flat.
    #[serde(default = "default_max_tracked_addresses")]
    pub max_tracked_addresses: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            messages_per_minute: default_messages_per_minute(),
            message_burst: default_message_burst(),
            ws_connections_per_session: default_ws_connections(),
            ws_auth_timeout_ms: default_ws_auth_timeout_ms(),
            ws_ping_secs: default_ws_ping_secs(),
            ws_idle_secs: default_ws_idle_secs(),
            sessions_per_minute_per_address: default_sessions_per_minute_per_address(),
            session_burst_per_address: default_session_burst_per_address(),
            ws_connects_per_minute_per_address: default_ws_connects_per_minute_per_address(),
            ws_connect_burst_per_address: default_ws_connect_burst_per_address(),
            unauthenticated_sockets_per_address: default_unauthenticated_sockets_per_address(),
            max_tracked_addresses: default_max_tracked_addresses(),
        }
    }
}

fn default_messages_per_minute() -> u32 {
    60
}

fn default_message_burst() -> u32 {
    20
}

fn default_ws_connections() -> usize {
    5
}

fn default_ws_auth_timeout_ms() -> u64 {
    5_000
}

fn default_ws_ping_secs() -> u64 {
    30
}

fn default_ws_idle_secs() -> u64 {
    75
}

// Per-address defaults must hold for a whole office behind one NAT address
// (or a site behind a proxy that is not in `trusted_proxies`). Sessions are
// what a flood costs most (a row each, and a chat queued for agents): 30 at
// once and one a second sustained is 3,600 new chats an hour from one
// address, far above what an office opens, and a tenth of what one script
// did in a second.
fn default_sessions_per_minute_per_address() -> u32 {
    60
}

fn default_session_burst_per_address() -> u32 {
    30
}

// Connects are cheap and come in waves: after a deploy every open chat of
// an office reconnects within its backoff. 120 at once and 10 a second
// lets hundreds of tabs back within a minute; an attacker's sockets are
// held back by the unauthenticated cap and the connection cap instead.
fn default_ws_connects_per_minute_per_address() -> u32 {
    600
}

fn default_ws_connect_burst_per_address() -> u32 {
    120
}

// A real widget sends its auth frame within milliseconds of connecting, so
// even a busy office has a handful in that state at once; an attacker
// holding sockets open without a word gets 50 per address, for at most
// ws_auth_timeout_ms each.
fn default_unauthenticated_sockets_per_address() -> u32 {
    50
}

fn default_max_tracked_addresses() -> usize {
    100_000
}

/// How the log is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Lines for people, with colors on a terminal.
    #[default]
    Pretty,
    /// One JSON object per line, with the request's span (and its
    /// `request_id`) on every line of a request.
    Json,
}

/// The `[server]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// The address to bind, `127.0.0.1:8080`; port 0 picks a free port.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// `sqlite://data/trustchat.db` (relative to the current directory) or
    /// `postgres://...` (many servers on one database).
    #[serde(default = "default_database_url")]
    pub database_url: String,
    /// The most connections this server opens to a Postgres database
    /// (SQLite ignores it). Every server of a database opens up to this
    /// many, so they must fit Postgres's `max_connections` together.
    #[serde(default = "default_database_max_connections")]
    pub database_max_connections: u32,
    /// The directory the built widget and the demo portal are served from.
    #[serde(default = "default_static_dir")]
    pub static_dir: PathBuf,
    /// The `tracing` filter for the log on stderr.
    #[serde(default = "default_log")]
    pub log: String,
    /// How the log is written: `pretty` (for people) or `json` (one
    /// object per line, for collectors).
    #[serde(default)]
    pub log_format: LogFormat,
    /// Where Prometheus scrapes `GET /metrics` (its own listener, never
    /// the public one); off unless set.
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
    /// Reverse proxies (IP addresses or CIDR ranges) whose
    /// `X-Forwarded-For` names the client; from any other peer the header
    /// is ignored. Empty: the socket's peer is the client.
    #[serde(default)]
    pub trusted_proxies: TrustedProxies,
    /// Open connections at most, WebSockets included; beyond it a new
    /// connection gets `503 server_busy` and is closed.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, from the
    /// moment the server waits for them, in seconds.
    #[serde(default = "default_header_read_timeout_secs")]
    pub header_read_timeout_secs: u64,
    /// How long a request's body may take to arrive once its headers are
    /// in, in seconds; a slower one gets `408 request_timeout` and the
    /// connection is closed.
    #[serde(default = "default_body_read_timeout_secs")]
    pub body_read_timeout_secs: u64,
    /// How long a kept-alive connection may sit idle between requests, in
    /// seconds; at most `header_read_timeout_secs`.
    #[serde(default = "default_keep_alive_idle_secs")]
    pub keep_alive_idle_secs: u64,
}

/// One `[[apps]]` table: a website that embeds the widget.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// The id the widget passes as `appId`; `[a-z0-9_-]{1,64}`.
    pub id: String,
    /// The name shown in the chat panel's header; defaults to the id.
    #[serde(default)]
    pub name: String,
    /// The browser origins (`https://www.example.com`) allowed to use this
    /// app. Stored normalized: lowercase, default port removed.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// The website's login page, offered to customers who should log in.
    #[serde(default)]
    pub login_url: Option<String>,
    /// A page of the website that reopens the chat: emails of unread
    /// replies link to it (with `?trustchat=open`).
    #[serde(default)]
    pub chat_url: Option<String>,
    /// Unread agent replies by email (`[apps.email]`).
    #[serde(default)]
    pub email: AppEmailConfig,
    /// Whether anonymous customers are asked for name and email first.
    #[serde(default = "default_onboarding")]
    pub onboarding: bool,
    /// Identity keys and token policy: without it the app accepts no JWT.
    #[serde(default)]
    pub identity: Option<IdentityConfig>,
    /// Keys for server-to-server calls (minting identity tokens).
    #[serde(default)]
    pub api_keys: Vec<ApiKeyConfig>,
    /// The server's texts (`[apps.messages]`, see [`crate::texts`]): first
    /// messages, login requests, emails; per locale too.
    #[serde(default)]
    pub messages: MessagesConfig,
    /// First-message rules by status and page, first match wins
    /// (`[[apps.rules]]`); see [`crate::rules`].
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    /// Office hours (`[apps.hours]`, see [`crate::hours`]); absent: always
    /// open.
    #[serde(default)]
    pub hours: Option<HoursConfig>,
    /// `hours`, checked when the config loads.
    #[serde(skip)]
    pub open_hours: Option<Hours>,
    /// How long data is kept (`[apps.retention]`, see [`crate::privacy`]);
    /// absent: kept until erased.
    #[serde(default)]
    pub retention: Option<RetentionConfig>,
    /// Where the app's events are POSTed (`[[apps.webhooks]]`, see
    /// [`crate::webhooks`]).
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
    /// `webhooks` as the store takes them, checked when the config loads.
    #[serde(skip)]
    pub hooks: Webhooks,
}

/// `[apps.retention]`: what the server deletes by itself, and when.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Closed conversations (their messages, ratings, pending emails)
    /// are deleted this many days after they closed; at least 1.
    pub closed_conversation_days: u64,
}

/// The most days [`RetentionConfig::closed_conversation_days`] may say
/// (100 years).
pub const MAX_RETENTION_DAYS: u64 = 36_500;

/// Why the configuration could not be used. Each message names the file,
/// variable or field at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not have the expected shape.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The TOML parser's message, with line and column.
        message: String,
    },
    /// An environment variable holds an unusable value.
    #[error("invalid {var}: {message}")]
    Env {
        /// The variable.
        var: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A value parsed but breaks a rule.
    #[error("invalid config: {0}")]
    Invalid(String),
}

impl Config {
    /// Reads `path`, applies the process environment and validates.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Config::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })?;
        config.base_dir = path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_owned);
        config.apply_env(|var| std::env::var(var).ok())?;
        config.validate()?;
        Ok(config)
    }

    /// Parses TOML text without validating it; the error is the parser's
    /// message.
    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())
    }

    /// Parses and validates TOML text, without looking at the environment.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let mut config = Config::parse(text).map_err(|message| ConfigError::Parse {
            path: PathBuf::from("<inline>"),
            message,
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Overrides fields from `TRUSTCHAT_*` variables, read through `var` so
    /// tests need not touch the process environment. Empty values count as
    /// unset.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        if let Some(listen) = get(ENV_LISTEN) {
            self.server.listen = listen.trim().parse().map_err(|_| ConfigError::Env {
                var: ENV_LISTEN,
                message: format!("{listen:?} is not an IP address and port such as 127.0.0.1:8080"),
            })?;
        }
        if let Some(url) = get(ENV_DATABASE_URL) {
            self.server.database_url = url;
        }
        if let Some(dir) = get(ENV_STATIC_DIR) {
            self.server.static_dir = PathBuf::from(dir);
        }
        if let Some(filter) = get(ENV_LOG) {
            self.server.log = filter;
        }
        if let Some(list) = get(ENV_TRUSTED_PROXIES) {
            self.server.trusted_proxies =
                TrustedProxies::parse(list.split(',')).map_err(|message| ConfigError::Env {
                    var: ENV_TRUSTED_PROXIES,
                    message,
                })?;
        }
        Ok(())
    }

    /// Checks `[[teams]]` and what each app's rules set beyond the
    /// greeting: a team that exists and serves the app, a hold only where
    /// a login can end it.
    fn validate_teams_and_rules(&mut self) -> Result<(), ConfigError> {
        let invalid = |message: String| Err(ConfigError::Invalid(message));
        let mut seen = HashSet::new();
        for (index, team) in self.teams.iter_mut().enumerate() {
            if !valid_app_id(&team.id) {
                return invalid(format!(
                    "teams[{index}].id {:?} must be 1 to 64 characters of a-z, 0-9, _ and -",
                    team.id
                ));
            }
            if !seen.insert(team.id.clone()) {
                return invalid(format!(
                    "teams[{index}].id {:?} is used by two teams",
                    team.id
                ));
            }
            if team.name.trim().is_empty() {
                team.name = team.id.clone();
            }
            if team.apps.is_empty() {
                return invalid(format!(
                    "team {}: apps must name at least one app it serves",
                    team.id
                ));
            }
            for (reply, saved) in team.saved_replies.iter().enumerate() {
                if let Some((_, problem)) = saved_reply_problem(&saved.title, &saved.body) {
                    return invalid(format!(
                        "team {}: saved_replies[{reply}]: {problem}",
                        team.id
                    ));
                }
            }
            for app in &team.apps {
                if !self.apps.iter().any(|a| &a.id == app) {
                    return invalid(format!(
                        "team {}: apps names {app:?}, which is not an app of this config",
                        team.id
                    ));
                }
            }
        }
        for app in &self.apps {
            let id = &app.id;
            if !self.teams.is_empty() && !self.teams.iter().any(|t| t.apps.contains(id)) {
                return invalid(format!(
                    "app {id}: no team serves it, so no agent could read its conversations; add it to a team's apps"
                ));
            }
            for (index, rule) in app.rules.iter().enumerate() {
                let which = format!("app {id}: rules[{index}]");
                if let Some(name) = &rule.name {
                    let chars = name.trim().chars().count();
                    if chars == 0 || chars > 80 || name.chars().any(char::is_control) {
                        return invalid(format!(
                            "{which}: name must be 1 to 80 characters on one line"
                        ));
                    }
                }
                if let Some(earlier) = app.rules[..index]
                    .iter()
                    .position(|earlier| rule.shadowed_by(earlier))
                {
                    return invalid(format!(
                        "{which} can never apply: rules[{earlier}] comes first and matches every customer it matches (same statuses or more, same page or wider); reorder or remove one"
                    ));
                }
                if let Some(team) = &rule.team {
                    if self.teams.is_empty() {
                        return invalid(format!(
                            "{which} routes to team {team:?}, but the config has no [[teams]]"
                        ));
                    }
                    let Some(found) = self.teams.iter().find(|t| &t.id == team) else {
                        return invalid(format!(
                            "{which} routes to team {team:?}, which is not a team of this config"
                        ));
                    };
                    if !found.apps.contains(id) {
                        return invalid(format!(
                            "{which} routes to team {team:?}, which does not serve app {id}; add {id} to its apps"
                        ));
                    }
                }
                if let Some(secs) = rule.hold_for_login_secs {
                    if secs == 0 || secs > MAX_HOLD_FOR_LOGIN_SECS {
                        return invalid(format!(
                            "{which}: hold_for_login_secs must be from 1 to {MAX_HOLD_FOR_LOGIN_SECS}"
                        ));
                    }
                    if rule.only_trusted() {
                        return invalid(format!(
                            "{which} holds for a login, but it matches only trusted customers, who are logged in already"
                        ));
                    }
                    if app.login_url.is_none() {
                        return invalid(format!(
                            "{which} holds for a login, but the app has no login_url to offer; set login_url"
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks the rules TOML cannot express, and normalizes what browsers
    /// compare byte for byte (origins).
    pub fn validate(&mut self) -> Result<(), ConfigError> {
        let invalid = |message: String| Err(ConfigError::Invalid(message));
        if self.server.database_url.trim().is_empty() {
            return invalid("server.database_url must not be empty".into());
        }
        if self.server.database_max_connections == 0 {
            return invalid("server.database_max_connections must be at least 1".into());
        }
        let limits = &self.limits;
        if limits.messages_per_minute == 0 || limits.message_burst == 0 {
            return invalid(
                "limits.messages_per_minute and limits.message_burst must be at least 1".into(),
            );
        }
        if limits.ws_connections_per_session == 0
            || limits.ws_auth_timeout_ms == 0
            || limits.ws_ping_secs == 0
        {
            return invalid(
                "limits.ws_connections_per_session, ws_auth_timeout_ms and ws_ping_secs must be at least 1".into(),
            );
        }
        if limits.sessions_per_minute_per_address == 0
            || limits.session_burst_per_address == 0
            || limits.ws_connects_per_minute_per_address == 0
            || limits.ws_connect_burst_per_address == 0
            || limits.unauthenticated_sockets_per_address == 0
            || limits.max_tracked_addresses == 0
        {
            return invalid(
                "limits.sessions_per_minute_per_address, session_burst_per_address, ws_connects_per_minute_per_address, ws_connect_burst_per_address, unauthenticated_sockets_per_address and max_tracked_addresses must be at least 1".into(),
            );
        }
        let agent = &self.agent;
        if agent.session_hours == 0
            || agent.login_attempts_per_email_per_minute == 0
            || agent.login_attempts_per_email_and_ip_per_minute == 0
            || agent.login_attempts_per_ip_per_minute == 0
            || agent.login_max_tracked_keys == 0
            || agent.login_concurrent_password_checks == 0
            || agent.login_queue_timeout_ms == 0
        {
            return invalid(
                "agent.session_hours, login_attempts_per_email_per_minute, login_attempts_per_email_and_ip_per_minute, login_attempts_per_ip_per_minute, login_max_tracked_keys, login_concurrent_password_checks and login_queue_timeout_ms must be at least 1"
                    .into(),
            );
        }
        let server = &self.server;
        if server.max_connections == 0
            || server.header_read_timeout_secs == 0
            || server.body_read_timeout_secs == 0
            || server.keep_alive_idle_secs == 0
        {
            return invalid(
                "server.max_connections, header_read_timeout_secs, body_read_timeout_secs and keep_alive_idle_secs must be at least 1".into(),
            );
        }
        if server.keep_alive_idle_secs > server.header_read_timeout_secs {
            // hyper starts the header clock as soon as a connection is idle,
            // so a longer idle timeout would never be reached.
            return invalid(format!(
                "server.keep_alive_idle_secs ({}) must be at most server.header_read_timeout_secs ({}): an idle connection is waiting for headers",
                server.keep_alive_idle_secs, server.header_read_timeout_secs
            ));
        }
        if limits.ws_idle_secs <= limits.ws_ping_secs {
            return invalid("limits.ws_idle_secs must be longer than limits.ws_ping_secs".into());
        }
        if let Some(smtp) = &self.smtp {
            smtp.validate().map_err(ConfigError::Invalid)?;
        }
        let mut seen = HashSet::new();
        for (index, app) in self.apps.iter_mut().enumerate() {
            if app.id.is_empty() {
                return invalid(format!("apps[{index}].id must not be empty"));
            }
            if !valid_app_id(&app.id) {
                return invalid(format!(
                    "apps[{index}].id {:?} must be 1 to 64 characters of a-z, 0-9, _ and -",
                    app.id
                ));
            }
            if !seen.insert(app.id.clone()) {
                return invalid(format!("apps[{index}].id {:?} is used by two apps", app.id));
            }
            let id = &app.id;
            if app.name.trim().is_empty() {
                app.name = app.id.clone();
            }
            for origin in &mut app.allowed_origins {
                *origin = normalize_origin(origin).map_err(|why| {
                    ConfigError::Invalid(format!(
                        "app {id}: allowed_origins entry {origin:?} {why}"
                    ))
                })?;
            }
            if let Some(url) = &app.login_url {
                if !valid_http_url(url) {
                    return invalid(format!(
                        "app {id}: login_url {url:?} must be an http:// or https:// URL"
                    ));
                }
            }
            email_config::validate_app(
                id,
                app.chat_url.as_deref(),
                &app.email,
                self.smtp.is_some(),
            )
            .map_err(ConfigError::Invalid)?;
            if app.login_url.is_none()
                && rules::texts(&app.rules, &app.messages).any(|t| t.contains(rules::LOGIN_URL))
            {
                return invalid(format!(
                    "app {id}: a greeting uses {{login_url}} but the app has no login_url; set login_url or remove the placeholder"
                ));
            }
            if let Some(identity) = &app.identity {
                identity
                    .policy(id)
                    .map_err(|e| ConfigError::Invalid(e.to_string()))?;
            }
            for key in &mut app.api_keys {
                let hex = key.hash.trim().strip_prefix("sha256:").unwrap_or_default();
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return invalid(format!(
                        "app {id}: api key {:?} must have hash = \"sha256:<64 hex digits>\" (see trustchat-server api-key new)",
                        key.name
                    ));
                }
                key.hash = format!("sha256:{}", hex.to_ascii_lowercase());
            }
            app.messages
                .check()
                .map_err(|why| ConfigError::Invalid(format!("app {id}: {why}")))?;
            for (index, rule) in app.rules.iter().enumerate() {
                if let Some(locale) = rule.greetings.keys().find(|l| !texts::valid_locale(l)) {
                    return invalid(format!(
                        "app {id}: rules[{index}].greetings: {locale:?} is not a language tag (such as fr or pt-BR)"
                    ));
                }
            }
            if let Some(retention) = &app.retention {
                let days = retention.closed_conversation_days;
                if !(1..=MAX_RETENTION_DAYS).contains(&days) {
                    return invalid(format!(
                        "app {id}: retention.closed_conversation_days must be 1 to {MAX_RETENTION_DAYS} (days after a conversation closed), not {days}"
                    ));
                }
            }
            app.hooks =
                webhook_config::validate_app(id, &app.webhooks).map_err(ConfigError::Invalid)?;
            if let Some(hours) = &app.hours {
                app.open_hours = Some(
                    hours
                        .parse()
                        .map_err(|e| ConfigError::Invalid(format!("app {id}: hours: {e}")))?,
                );
            }
        }
        self.validate_teams_and_rules()?;
        if let Some(demo) = &self.demo {
            let Some(app) = self.apps.iter().find(|app| app.id == demo.app) else {
                return invalid(format!(
                    "demo.app {:?} is not an app of this config",
                    demo.app
                ));
            };
            if app.identity.is_none() {
                return invalid(format!(
                    "demo.app {:?} needs an [apps.identity] table with a key the server can sign with",
                    demo.app
                ));
            }
        }
        Ok(())
    }

    /// The app with this id, if the config defines one.
    pub fn app(&self, id: &str) -> Option<&AppConfig> {
        self.apps.iter().find(|app| app.id == id)
    }

    /// The webhooks of app `app_id` (none for an unknown app).
    pub fn webhooks(&self, app_id: &str) -> &Webhooks {
        static NONE: Webhooks = Webhooks::NONE;
        self.app(app_id).map_or(&NONE, |app| &app.hooks)
    }

    /// How long an agent reply in app `app_id` stays unread before it is
    /// emailed; `None` when the app sends no email (no `[smtp]`, no
    /// `chat_url`, or `[apps.email] enabled = false`).
    pub fn email_delay(&self, app_id: &str) -> Option<std::time::Duration> {
        let app = self.app(app_id)?;
        email_config::enabled(app.chat_url.as_deref(), &app.email, self.smtp.is_some())
            .then(|| std::time::Duration::from_secs(app.email.unread_delay_secs))
    }
}

impl ServerConfig {
    /// How the store opens [`ServerConfig::database_url`].
    pub fn store_options(&self) -> crate::store::StoreOptions {
        crate::store::StoreOptions {
            max_connections: self.database_max_connections,
        }
    }
}

impl AppConfig {
    /// Whether a browser on `origin` (an `Origin` header's value) may use
    /// this app.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|allowed| allowed == origin)
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            log_format: LogFormat::default(),
            metrics_listen: None,
            database_url: default_database_url(),
            database_max_connections: default_database_max_connections(),
            static_dir: default_static_dir(),
            log: default_log(),
            trusted_proxies: TrustedProxies::default(),
            max_connections: default_max_connections(),
            header_read_timeout_secs: default_header_read_timeout_secs(),
            body_read_timeout_secs: default_body_read_timeout_secs(),
            keep_alive_idle_secs: default_keep_alive_idle_secs(),
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_database_url() -> String {
    "sqlite://data/trustchat.db".into()
}

fn default_database_max_connections() -> u32 {
    crate::store::DEFAULT_MAX_CONNECTIONS
}

fn default_static_dir() -> PathBuf {
    PathBuf::from("dist")
}

fn default_log() -> String {
    "info".into()
}

// Each connection is a file descriptor; the server raises its open-file
// limit at start (20,000 on a stock machine of ours), and this leaves room
// for the database and the overflow answers.
fn default_max_connections() -> usize {
    10_000
}

fn default_header_read_timeout_secs() -> u64 {
    10
}

// JSON bodies are at most 16 KiB: 15 s is a 9.6 kbit/s line.
fn default_body_read_timeout_secs() -> u64 {
    15
}

// Apache's default. The widget's requests come in quick runs (a session,
// then its history) and then it talks over its WebSocket.
fn default_keep_alive_idle_secs() -> u64 {
    5
}

fn default_demo_token_ttl() -> u64 {
    600
}

fn default_onboarding() -> bool {
    true
}

fn valid_app_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Checks that `origin` is `scheme://host[:port]` as a browser sends it in an
/// `Origin` header, and returns it the way a browser would write it:
/// lowercase, without the scheme's default port.
pub fn normalize_origin(origin: &str) -> Result<String, &'static str> {
    const SHAPE: &str = "must be scheme://host[:port], like https://www.example.com";
    if origin.contains('*') {
        return Err("must not contain *: list every origin explicitly");
    }
    let lower = origin.trim().to_ascii_lowercase();
    let Some((scheme, rest)) = lower.split_once("://") else {
        return Err(SHAPE);
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_lowercase())
        && scheme
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
    if !scheme_ok {
        return Err(SHAPE);
    }
    if rest.contains(['/', '?', '#']) {
        return Err("must not have a path, query or trailing slash, like https://www.example.com");
    }
    if rest.contains('@') {
        return Err("must not hold a user name or password");
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, _)) if !host.ends_with(']') && host.contains(':') => (rest, None),
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    };
    let host_ok = if let Some(v6) = host.strip_prefix('[') {
        v6.strip_suffix(']').is_some_and(|inner| {
            !inner.is_empty()
                && inner
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        })
    } else {
        !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
    };
    if !host_ok {
        return Err(SHAPE);
    }
    let port = match port {
        None => None,
        Some(port) => match port.parse::<u16>() {
            Ok(n) if n > 0 && port.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => return Err("has an invalid port"),
        },
    };
    let default_port = match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    };
    Ok(match port {
        Some(port) if Some(port) != default_port => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    })
}

fn valid_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|rest| {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        !authority.is_empty() && !url.chars().any(|c| c.is_whitespace() || c.is_control())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalized_or_refused() {
        let cases: &[(&str, Option<&str>)] = &[
            ("http://127.0.0.1:8080", Some("http://127.0.0.1:8080")),
            ("HTTPS://WWW.Example.com", Some("https://www.example.com")),
            (
                "https://www.example.com:443",
                Some("https://www.example.com"),
            ),
            ("http://localhost:80", Some("http://localhost")),
            ("http://[::1]:3000", Some("http://[::1]:3000")),
            ("capacitor://localhost", Some("capacitor://localhost")),
            ("https://www.example.com/", None),
            ("https://www.example.com/app", None),
            ("https://*.example.com", None),
            ("*", None),
            ("www.example.com", None),
            ("https://", None),
            ("https://example.com:0", None),
            ("https://example.com:99999", None),
            ("https://user@example.com", None),
            ("https://exa mple.com", None),
        ];
        for (input, expected) in cases {
            assert_eq!(
                normalize_origin(input).ok().as_deref(),
                *expected,
                "input {input:?}"
            );
        }
    }
}
