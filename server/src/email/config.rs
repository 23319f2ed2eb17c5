//! The `[smtp]` table, each app's `chat_url` and `[apps.email]`, and their
//! checks at load.
//!
//! ```toml
//! [smtp]
//! host = "smtp.example.com"
//! port = 587                        # default: 587 starttls, 465 tls, 25 none
//! tls = "starttls"                  # "starttls" (default) | "tls" | "none"
//! username = "trustchat"            # optional; then password_env too
//! password_env = "TRUSTCHAT_SMTP_PASSWORD"   # the NAME of the variable holding the password
//! from = "Acme Support <support@acme.example>"
//! timeout_secs = 30                 # each SMTP command
//! retry_backoff_secs = [30, 120, 600, 1800, 3600]   # waits after the 1st, 2nd, ... failure; the last repeats
//! allow_plaintext = false           # tls = "none" to a host that is not loopback
//!
//! [[apps]]
//! id = "acme"
//! chat_url = "https://acme.example/help"   # the page that reopens the chat
//! [apps.email]
//! enabled = true                    # default: on when [smtp] and chat_url are set
//! unread_delay_secs = 120
//! ```
//!
//! The password is read from the environment when the server starts (not
//! when a command such as `agent add` loads the config) and is never in
//! the file, never logged: [`Secret`]'s `Debug` says `<redacted>`.
//! `tls = "none"` sends the mail, and the password, in clear: it is allowed
//! to a relay on this machine (`localhost`, `127.0.0.0/8`, `::1`), and to
//! another host only with `allow_plaintext = true` (a relay on a private
//! network the operator trusts).

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use lettre::message::Mailbox;
use serde::Deserialize;

/// The query parameter added to an app's `chat_url` in emails, so the page
/// (or the widget) can open the chat at once: `?trustchat=open`.
pub const REOPEN_PARAM: (&str, &str) = ("trustchat", "open");
/// `unread_delay_secs` when the config does not say.
pub const DEFAULT_UNREAD_DELAY_SECS: u64 = 120;
/// The longest `unread_delay_secs`: a day.
pub const MAX_UNREAD_DELAY_SECS: u64 = 86_400;
/// `timeout_secs` when the config does not say.
pub const DEFAULT_SMTP_TIMEOUT_SECS: u64 = 30;
/// The longest `timeout_secs`.
pub const MAX_SMTP_TIMEOUT_SECS: u64 = 300;
/// `retry_backoff_secs` when the config does not say.
pub const DEFAULT_RETRY_BACKOFF_SECS: [u64; 5] = [30, 120, 600, 1_800, 3_600];

/// The `[smtp]` table: the relay emails are sent through.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// The relay's host name or IP address.
    pub host: String,
    /// Its port; by default 587 for `starttls`, 465 for `tls`, 25 for
    /// `none`.
    #[serde(default)]
    pub port: Option<u16>,
    /// How the connection is encrypted.
    #[serde(default)]
    pub tls: SmtpTls,
    /// The user to log in as (SMTP AUTH); none: no login.
    #[serde(default)]
    pub username: Option<String>,
    /// The name of the environment variable holding the password; set
    /// exactly when `username` is.
    #[serde(default)]
    pub password_env: Option<String>,
    /// The sender, a mailbox: `Acme Support <support@acme.example>`.
    pub from: String,
    /// How long each SMTP command may take, in seconds.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Allows `tls = "none"` to a host that is not loopback.
    #[serde(default)]
    pub allow_plaintext: bool,
    /// The waits before trying a failed email again, in seconds: after the
    /// first failure, the second, ...; the last repeats.
    #[serde(default = "default_retry_backoff_secs")]
    pub retry_backoff_secs: Vec<u64>,
    /// The password, read from `password_env` when the server starts
    /// ([`SmtpConfig::read_password`]).
    #[serde(skip)]
    pub password: Option<Secret>,
}

/// How the SMTP connection is encrypted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which is required (port
    /// 587, submission).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465, submissions).
    Tls,
    /// No encryption: loopback relays only, unless `allow_plaintext`.
    None,
}

/// A secret from the environment: its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// An app's `[apps.email]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppEmailConfig {
    /// Whether the app's customers get unread replies by email; unset: yes
    /// when `[smtp]` is configured and the app has a `chat_url`.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// How long an agent reply stays unread before it is emailed, in
    /// seconds (1 to a day).
    #[serde(default = "default_unread_delay_secs")]
    pub unread_delay_secs: u64,
}

impl Default for AppEmailConfig {
    fn default() -> Self {
        AppEmailConfig {
            enabled: None,
            unread_delay_secs: DEFAULT_UNREAD_DELAY_SECS,
        }
    }
}

fn default_unread_delay_secs() -> u64 {
    DEFAULT_UNREAD_DELAY_SECS
}

fn default_timeout_secs() -> u64 {
    DEFAULT_SMTP_TIMEOUT_SECS
}

fn default_retry_backoff_secs() -> Vec<u64> {
    DEFAULT_RETRY_BACKOFF_SECS.to_vec()
}

impl SmtpConfig {
    /// The port to connect to: the configured one, else the usual one for
    /// the encryption.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        })
    }

    /// How long each SMTP command may take.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    /// The wait before trying again after `attempts` failures (at least
    /// one).
    pub fn backoff(&self, attempts: i64) -> Duration {
        let index = usize::try_from(attempts.max(1) - 1).unwrap_or(usize::MAX);
        let secs = self
            .retry_backoff_secs
            .get(index)
            .or(self.retry_backoff_secs.last())
            .copied()
            .unwrap_or(DEFAULT_RETRY_BACKOFF_SECS[0]);
        Duration::from_secs(secs)
    }

    /// The sender; [`SmtpConfig::validate`] checked that it parses.
    pub fn from_mailbox(&self) -> Result<Mailbox, String> {
        self.from.trim().parse::<Mailbox>().map_err(|e| {
            format!(
                "smtp.from {:?} is not a mailbox such as \"Acme Support <support@acme.example>\" ({e})",
                self.from
            )
        })
    }

    /// Reads the password from the variable `password_env` names, through
    /// `var` (the process environment, or a test's).
    pub fn read_password(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), String> {
        let Some(name) = &self.password_env else {
            return Ok(());
        };
        check_env_name(name)?;
        match var(name) {
            Some(value) if !value.is_empty() => {
                self.password = Some(Secret(value));
                Ok(())
            }
            _ => Err(format!(
                "smtp.password_env names {name}, which is not set or empty: set it to the SMTP password"
            )),
        }
    }

    /// Checks what TOML cannot express.
    pub fn validate(&self) -> Result<(), String> {
        let host = self.host.trim();
        if host.is_empty()
            || host.contains("://")
            || host.contains(['/', '@'])
            || host.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!(
                "smtp.host {:?} must be a host name or IP address such as smtp.example.com, without a scheme, user or path (the port goes in smtp.port)",
                self.host
            ));
        }
        if self.port == Some(0) {
            return Err("smtp.port must be from 1 to 65535".into());
        }
        if self.tls == SmtpTls::None && !is_loopback(host) && !self.allow_plaintext {
            return Err(format!(
                "smtp.tls = \"none\" sends mail and passwords unencrypted, so it is allowed only to a relay on this machine (localhost, 127.0.0.1, ::1), not {host:?}; use tls = \"starttls\" or \"tls\", or set smtp.allow_plaintext = true for a relay on a private network you trust"
            ));
        }
        match (&self.username, &self.password_env) {
            (Some(user), _) if user.trim().is_empty() => {
                return Err(
                    "smtp.username must not be empty; remove it to send without logging in".into(),
                );
            }
            (Some(_), None) => {
                return Err("smtp.username is set but smtp.password_env is not: name the environment variable that holds the password (the password itself never goes in the file)".into());
            }
            (None, Some(_)) => {
                return Err(
                    "smtp.password_env is set but smtp.username is not: set the user to log in as"
                        .into(),
                );
            }
            (Some(_), Some(name)) => check_env_name(name)?,
            (None, None) => {}
        }
        self.from_mailbox()?;
        if self.timeout_secs == 0 || self.timeout_secs > MAX_SMTP_TIMEOUT_SECS {
            return Err(format!(
                "smtp.timeout_secs must be from 1 to {MAX_SMTP_TIMEOUT_SECS}"
            ));
        }
        if self.retry_backoff_secs.is_empty()
            || self
                .retry_backoff_secs
                .iter()
                .any(|&secs| secs == 0 || secs > MAX_UNREAD_DELAY_SECS)
        {
            return Err(format!(
                "smtp.retry_backoff_secs must list one or more waits from 1 to {MAX_UNREAD_DELAY_SECS} seconds, such as [30, 120, 600, 1800, 3600]"
            ));
        }
        Ok(())
    }
}

/// Checks an app's `chat_url` and `[apps.email]`; `smtp`: whether the
/// config has an `[smtp]` table.
pub fn validate_app(
    app_id: &str,
    chat_url: Option<&str>,
    email: &AppEmailConfig,
    smtp: bool,
) -> Result<(), String> {
    if let Some(url) = chat_url {
        check_chat_url(url).map_err(|why| format!("app {app_id}: chat_url {url:?} {why}"))?;
    }
    if email.unread_delay_secs == 0 || email.unread_delay_secs > MAX_UNREAD_DELAY_SECS {
        return Err(format!(
            "app {app_id}: email.unread_delay_secs must be from 1 to {MAX_UNREAD_DELAY_SECS} (a day)"
        ));
    }
    if email.enabled == Some(true) {
        if !smtp {
            return Err(format!(
                "app {app_id}: email.enabled = true, but the config has no [smtp] table to send with; add one"
            ));
        }
        if chat_url.is_none() {
            return Err(format!(
                "app {app_id}: email.enabled = true needs chat_url, the page of your site that reopens the chat, which every email links to"
            ));
        }
    }
    Ok(())
}

/// Whether an app with this `chat_url` and `[apps.email]` sends emails
/// when the config has `[smtp]` (`smtp`).
pub fn enabled(chat_url: Option<&str>, email: &AppEmailConfig, smtp: bool) -> bool {
    smtp && chat_url.is_some() && email.enabled != Some(false)
}

/// The link an email carries: `chat_url` with [`REOPEN_PARAM`] added to
/// its query (before any fragment).
pub fn reopen_link(chat_url: &str) -> String {
    match url::Url::parse(chat_url) {
        Ok(mut url) => {
            url.query_pairs_mut()
                .append_pair(REOPEN_PARAM.0, REOPEN_PARAM.1);
            url.into()
        }
        // The config checked it parses.
        Err(_) => chat_url.to_owned(),
    }
}

/// Why a `chat_url` is refused.
fn check_chat_url(url: &str) -> Result<(), &'static str> {
    const SHAPE: &str = "must be an http:// or https:// URL of a page of your site, like https://www.example.com/help";
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(SHAPE);
    }
    let parsed = url::Url::parse(url).map_err(|_| SHAPE)?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(SHAPE);
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not hold a user name or password");
    }
    Ok(())
}

/// Whether `name` can be an environment variable's name.
fn check_env_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "smtp.password_env {name:?} must be the NAME of an environment variable (letters, digits and _), such as TRUSTCHAT_SMTP_PASSWORD, not the password"
        ))
    }
}

/// `localhost`, `127.0.0.0/8` or `::1`.
fn is_loopback(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopen_links_add_the_parameter_to_the_query() {
        let cases = [
            (
                "https://acme.example/help",
                "https://acme.example/help?trustchat=open",
            ),
            (
                "https://acme.example",
                "https://acme.example/?trustchat=open",
            ),
            (
                "https://acme.example/help?lang=fr#chat",
                "https://acme.example/help?lang=fr&trustchat=open#chat",
            ),
        ];
        for (chat_url, expected) in cases {
            assert_eq!(reopen_link(chat_url), expected, "{chat_url}");
        }
    }

    #[test]
    fn only_loopback_hosts_are_loopback() {
        for host in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["localhost.example", "10.0.0.1", "smtp.example.com", "::2"] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn retries_back_off_as_configured_and_the_last_wait_repeats() {
        let smtp: SmtpConfig =
            toml::from_str("host = \"localhost\"\nfrom = \"a@b.example\"").unwrap();
        let waits: Vec<u64> = (1..=7).map(|n| smtp.backoff(n).as_secs()).collect();
        assert_eq!(waits, [30, 120, 600, 1_800, 3_600, 3_600, 3_600]);
        assert_eq!(smtp.backoff(0).as_secs(), 30);
    }

    #[test]
    fn the_password_never_shows_in_debug() {
        let mut smtp: SmtpConfig = toml::from_str(
            "host = \"localhost\"\nfrom = \"a@b.example\"\nusername = \"u\"\npassword_env = \"P\"",
        )
        .unwrap();
        smtp.read_password(|_| Some("hunter2-secret".into()))
            .unwrap();
        assert_eq!(smtp.password, Some(Secret("hunter2-secret".into())));
        let shown = format!("{smtp:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
