//! The TrustChat server: the HTTP API the widget talks to, the storage
//! behind it, and the command line that runs it.
//!
//! A request travels through the crate like this:
//!
//! - [`config`] reads `trustchat.toml` and the `TRUSTCHAT_*` variables once,
//!   at start-up, and refuses anything doubtful with a message naming the
//!   field.
//! - [`server::run`] opens the [`store`], builds the [`AppState`] and serves
//!   [`http::app`] until SIGINT or SIGTERM.
//! - [`http`] is the only module that knows routes and headers: one module
//!   per route group, the extractors that check origins, bearer tokens and
//!   JSON bodies, and CORS.
//! - [`identity`] is the domain: finding or creating a customer from what
//!   the website says, opening sessions, greeting. It knows neither HTTP nor
//!   SQL.
//! - [`chat`] is the conversation domain: storing a customer's or an
//!   agent's message with its trusted flag, closing conversations, history
//!   pages. It too knows neither HTTP nor SQL.
//! - [`hub`] fans new messages out to the WebSocket connections and agent
//!   consoles listening for them, with bounded buffers, and knows which
//!   agents are online.
//! - [`agents`] is agent accounts, passwords (argon2id), logins and console
//!   sessions; [`console`] is what agents see and do, and routes
//!   conversations with [`routing`]'s pure decision.
//! - [`rules`] picks a customer's first message by status and page.
//! - [`email`] emails the agent replies a customer has not read, through
//!   the `[smtp]` relay, once each.
//! - [`privacy`] exports and erases a customer's data (audit-logged), and
//!   deletes old closed conversations (`[apps.retention]`).
//! - [`webhooks`] POSTs each app's events (messages, conversations opened
//!   and closed, customers verified) to its backend, signed, from an
//!   outbox the store fills in the event's own transaction.
//! - [`rate`] limits how many messages a session sends, how often an
//!   agent login may be tried, and how much one client address may open;
//!   every limiter's map is bounded. [`proxy`] says which address a
//!   request counts against (`X-Forwarded-For` only from trusted proxies).
//! - [`loadtest`] is `trustchat-server loadtest`, a WebSocket load
//!   generator run against a server in another process.
//! - [`jwt`] verifies (and mints) the identity tokens websites sign: the
//!   key ring of each app, RFC 8725 checks, and a reason code per refusal.
//! - [`store`] is the only module that knows SQL, behind the [`store::Store`]
//!   trait: SQLite today, Postgres beside it later.
//! - [`error::ApiError`] is every way a request can fail, each with its
//!   stable code from `trustchat_protocol`.
//!
//! Secrets (session tokens, identity tokens, API keys) are never logged and
//! never stored in clear: the database holds SHA-256 hashes of session
//! tokens.

pub mod agents;
pub mod availability;
pub mod bus;
pub mod chat;
pub mod clock;
pub mod config;
pub mod console;
pub mod ctx;
pub mod email;
pub mod error;
/// The fuzz targets' bodies, for `fuzz/` and the replay tests only.
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub mod fuzzing;
pub mod holds;
pub mod hours;
pub mod http;
pub mod hub;
pub mod identity;
pub mod jwt;
pub mod loadtest;
pub mod metrics;
pub mod presence;
pub mod privacy;
pub mod proxy;
pub mod rate;
pub mod relay;
pub mod reports;
pub mod routing;
pub mod rules;
pub mod scope;
pub mod server;
pub mod signals;
pub mod state;
pub mod store;
pub mod texts;
pub mod views;
pub mod webhooks;

pub use config::Config;
pub use error::ApiError;
pub use http::app;
pub use server::run;
pub use state::AppState;
