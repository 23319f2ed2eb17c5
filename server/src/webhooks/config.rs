//! `[[apps.webhooks]]`, and its checks at load.
//!
//! ```toml
//! [[apps.webhooks]]
//! url = "https://acme.example/hooks/trustchat"
//! events = ["conversation.created", "message.created", "conversation.closed", "customer.verified"]
//! secret_env = "ACME_WEBHOOK_SECRET"   # the NAME of the variable holding the signing secret
//! timeout_secs = 10                    # each attempt
//! retry_base_secs = 10                 # the first retry's wait; doubled each time
//! retry_max_secs = 3600                # the longest wait between two attempts
//! retry_for_secs = 86400               # given up this long after the event
//! ```
//!
//! URLs are `https://`; plain `http://` only to this machine (`localhost`,
//! `127.0.0.0/8`, `[::1]`), for development and tests. Credentials in the
//! URL are refused: the secret signs the body instead. The secret is read
//! from the environment when the server starts (not when a command such as
//! `agent add` loads the config), is never in the file and never logged:
//! [`Secret`]'s `Debug` says `<redacted>`.

use serde::Deserialize;

pub use crate::email::config::Secret;
use crate::store::{EventType, WebhookSubscription, Webhooks};

/// `timeout_secs` when the config does not say.
pub const DEFAULT_TIMEOUT_SECS: u64 = 10;
/// The longest `timeout_secs`.
pub const MAX_TIMEOUT_SECS: u64 = 60;
/// `retry_base_secs` when the config does not say.
pub const DEFAULT_RETRY_BASE_SECS: u64 = 10;
/// `retry_max_secs` when the config does not say.
pub const DEFAULT_RETRY_MAX_SECS: u64 = 3_600;
/// `retry_for_secs` when the config does not say: a day.
pub const DEFAULT_RETRY_FOR_SECS: u64 = 86_400;
/// The longest `retry_for_secs`: a week (deliveries are pruned after it).
pub const MAX_RETRY_FOR_SECS: u64 = 7 * 86_400;

/// One `[[apps.webhooks]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where events are POSTed: `https://`, or `http://` to loopback.
    pub url: String,
    /// The events it takes, by name (`message.created`).
    pub events: Vec<String>,
    /// The name of the environment variable holding the signing secret.
    pub secret_env: String,
    /// How long one attempt may take, in seconds (1 to 60).
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// The wait before the first retry, in seconds; doubled after each
    /// failure (with jitter), up to `retry_max_secs`.
    #[serde(default = "default_retry_base_secs")]
    pub retry_base_secs: u64,
    /// The longest wait between two attempts, in seconds.
    #[serde(default = "default_retry_max_secs")]
    pub retry_max_secs: u64,
    /// How long after its event a delivery is retried before it is given
    /// up, in seconds (at most a week).
    #[serde(default = "default_retry_for_secs")]
    pub retry_for_secs: u64,
    /// The secret, read from `secret_env` when the server starts
    /// ([`read_secrets`]), or set by a test.
    #[serde(skip)]
    pub secret: Option<Secret>,
}

fn default_timeout_secs() -> u64 {
    DEFAULT_TIMEOUT_SECS
}

fn default_retry_base_secs() -> u64 {
    DEFAULT_RETRY_BASE_SECS
}

fn default_retry_max_secs() -> u64 {
    DEFAULT_RETRY_MAX_SECS
}

fn default_retry_for_secs() -> u64 {
    DEFAULT_RETRY_FOR_SECS
}

impl WebhookConfig {
    /// The event types of `events`; [`validate_app`] checked the names.
    pub fn event_types(&self) -> Vec<EventType> {
        self.events
            .iter()
            .filter_map(|name| EventType::parse(name.trim()))
            .collect()
    }

    /// How long to wait before the attempt after `attempts` failed ones (at
    /// least one), before jitter: `retry_base_secs` doubled each time, at
    /// most `retry_max_secs`, in milliseconds.
    pub fn backoff_ms(&self, attempts: i64) -> i64 {
        let doublings = u32::try_from(attempts.clamp(1, 40) - 1).unwrap_or(0);
        let secs = self
            .retry_base_secs
            .saturating_mul(1u64 << doublings.min(40))
            .min(self.retry_max_secs.max(self.retry_base_secs));
        i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
    }
}

/// Checks an app's webhooks and returns them as the store takes them.
pub fn validate_app(app_id: &str, hooks: &[WebhookConfig]) -> Result<Webhooks, String> {
    let mut subscriptions: Vec<WebhookSubscription> = Vec::with_capacity(hooks.len());
    for (index, hook) in hooks.iter().enumerate() {
        let at = format!("app {app_id}: webhooks[{index}]");
        check_url(&hook.url).map_err(|why| format!("{at}.url {:?} {why}", hook.url))?;
        if subscriptions.iter().any(|s| s.url == hook.url) {
            return Err(format!(
                "{at}.url {:?} is used by two webhooks of the app; give one webhook all the events it takes",
                hook.url
            ));
        }
        if hook.events.is_empty() {
            return Err(format!(
                "{at}.events must name at least one event: {}",
                known_events()
            ));
        }
        let mut events = Vec::new();
        for name in &hook.events {
            let Some(event) = EventType::parse(name.trim()) else {
                return Err(format!(
                    "{at}.events: {name:?} is not an event; the events are {}",
                    known_events()
                ));
            };
            if !events.contains(&event) {
                events.push(event);
            }
        }
        check_env_name(&hook.secret_env).map_err(|why| format!("{at}.{why}"))?;
        if hook.timeout_secs == 0 || hook.timeout_secs > MAX_TIMEOUT_SECS {
            return Err(format!(
                "{at}.timeout_secs must be from 1 to {MAX_TIMEOUT_SECS}"
            ));
        }
        if hook.retry_base_secs == 0 || hook.retry_max_secs < hook.retry_base_secs {
            return Err(format!(
                "{at}: retry_base_secs must be at least 1, and retry_max_secs at least retry_base_secs"
            ));
        }
        if hook.retry_for_secs == 0 || hook.retry_for_secs > MAX_RETRY_FOR_SECS {
            return Err(format!(
                "{at}.retry_for_secs must be from 1 to {MAX_RETRY_FOR_SECS} (a week)"
            ));
        }
        subscriptions.push(WebhookSubscription {
            url: hook.url.clone(),
            events,
        });
    }
    Ok(Webhooks(subscriptions))
}

fn known_events() -> String {
    EventType::ALL
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a webhook may be sent to `url`: `https://` with a host, or
/// `http://` to this machine; no credentials.
pub fn check_url(url: &str) -> Result<(), &'static str> {
    const HTTPS: &str = "must be an https:// URL (plain http:// only to localhost, 127.0.0.1 or [::1], in development)";
    let parsed = url::Url::parse(url).map_err(|_| HTTPS)?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not hold a user or password: the secret signs each delivery instead");
    }
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(()),
        "http" if is_loopback(&parsed) => Ok(()),
        _ => Err(HTTPS),
    }
}

/// Whether a URL's host is `localhost` or a loopback address
/// (`127.0.0.0/8`, `::1`).
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn check_env_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "secret_env {name:?} must be the NAME of an environment variable (letters, digits and _), such as ACME_WEBHOOK_SECRET, not the secret"
        ))
    }
}

/// Reads the secret of every webhook of `apps` that has none yet from the
/// variable its `secret_env` names, through `var` (the process
/// environment, or a test's). Refuses an unset or empty one.
pub fn read_secrets(
    apps: &mut [crate::config::AppConfig],
    var: impl Fn(&str) -> Option<String>,
) -> Result<(), String> {
    for app in apps {
        for (index, hook) in app.webhooks.iter_mut().enumerate() {
            if hook.secret.is_some() {
                continue;
            }
            match var(&hook.secret_env) {
                Some(value) if !value.is_empty() => hook.secret = Some(Secret(value)),
                _ => {
                    return Err(format!(
                        "app {}: webhooks[{index}].secret_env names {}, which is not set or empty: set it to the webhook's signing secret",
                        app.id, hook.secret_env
                    ))
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(url: &str, events: &[&str]) -> WebhookConfig {
        WebhookConfig {
            url: url.into(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            secret_env: "HOOK_SECRET".into(),
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            retry_base_secs: 10,
            retry_max_secs: 3_600,
            retry_for_secs: DEFAULT_RETRY_FOR_SECS,
            secret: None,
        }
    }

    #[test]
    fn urls_are_https_or_loopback_http() {
        for good in [
            "https://acme.example/hooks",
            "https://10.0.0.1:8443/x?y=1",
            "http://localhost:3000/hooks",
            "http://127.0.0.1:9/",
            "http://127.8.9.10/",
            "http://[::1]:8080/hooks",
        ] {
            assert_eq!(check_url(good), Ok(()), "{good}");
        }
        for bad in [
            "http://acme.example/hooks",
            "http://10.0.0.1/hooks",
            "http://[::2]/",
            "http://localhost.acme.example/",
            "ftp://acme.example/",
            "acme.example/hooks",
            "https://user:pass@acme.example/hooks",
            "",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn events_are_known_and_urls_distinct() {
        let ok = validate_app(
            "acme",
            &[hook(
                "https://a.example/",
                &["message.created", " message.created", "customer.verified"],
            )],
        )
        .unwrap();
        assert_eq!(
            ok.0[0].events,
            [EventType::MessageCreated, EventType::CustomerVerified]
        );
        let unknown =
            validate_app("acme", &[hook("https://a.example/", &["message.sent"])]).unwrap_err();
        assert!(
            unknown.contains("\"message.sent\" is not an event"),
            "{unknown}"
        );
        assert!(unknown.contains("conversation.created"), "{unknown}");
        assert!(validate_app("acme", &[hook("https://a.example/", &[])]).is_err());
        let twice = validate_app(
            "acme",
            &[
                hook("https://a.example/", &["message.created"]),
                hook("https://a.example/", &["conversation.closed"]),
            ],
        )
        .unwrap_err();
        assert!(twice.contains("used by two webhooks"), "{twice}");
        let mut secret = hook("https://a.example/", &["message.created"]);
        secret.secret_env = "s3cr3t value".into();
        let refused = validate_app("acme", &[secret]).unwrap_err();
        assert!(
            refused.contains("NAME of an environment variable"),
            "{refused}"
        );
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let hook = hook("https://a.example/", &["message.created"]);
        assert_eq!(hook.backoff_ms(1), 10_000);
        assert_eq!(hook.backoff_ms(2), 20_000);
        assert_eq!(hook.backoff_ms(3), 40_000);
        assert_eq!(hook.backoff_ms(9), 2_560_000);
        assert_eq!(hook.backoff_ms(10), 3_600_000);
        assert_eq!(hook.backoff_ms(1_000), 3_600_000);
    }
}
