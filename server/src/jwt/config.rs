//! The `[apps.identity]` table and how it loads into a [`Verifier`].
//!
//! ```toml
//! [apps.identity]
//! jwks_file = "keys/demo.jwks.json"     # relative to the config file's directory
//! jwks_url = "https://portal.example/.well-known/jwks.json"   # https; http only on loopback
//! keys = [ { kty = "oct", kid = "k1", alg = "HS256", k = "..." } ]
//! hmac_secrets_env = [ { kid = "k2", alg = "HS256", env = "DEMO_JWT_SECRET" } ]
//! issuer = "https://portal.example"
//! max_token_lifetime_secs = 3600
//! leeway_secs = 60
//! single_use_tokens = false
//! mint_kid = "k1"
//! jwks_max_stale_secs = 86400           # a URL's keys stop verifying this long after its last good fetch
//! ```
//!
//! Sources combine; kids must be unique across all of them. An HMAC secret
//! from the environment is the variable's value as raw bytes (UTF-8), or,
//! when the value starts with `b64:`, the base64url (padding optional) that
//! follows, decoded — use that for random binary secrets.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use super::keys::{Alg, Key, KeyError, KeyErrorKind, KeyRing};
use super::remote::{RemoteJwks, RemoteOptions};
use super::verify::{Policy, Verifier};

/// Clock skew allowed when the config does not say.
pub const DEFAULT_LEEWAY_SECS: u64 = 60;
/// The largest leeway a config may set: skew beyond this is a broken clock.
pub const MAX_LEEWAY_SECS: u64 = 300;
/// Token lifetime cap when the config does not say.
pub const DEFAULT_MAX_LIFETIME_SECS: u64 = 3600;
/// The largest lifetime cap a config may set (one week).
pub const MAX_LIFETIME_LIMIT_SECS: u64 = 7 * 86_400;

/// The identity keys and token policy of one app.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// A JWK set file, relative to the config file's directory.
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// A JWK set URL, fetched and cached: `https://`, or `http://` on a
    /// loopback host (`localhost`, `127.0.0.0/8`, `[::1]`) for development.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Inline JWKs.
    #[serde(default)]
    pub keys: Vec<Value>,
    /// HMAC secrets read from environment variables.
    #[serde(default)]
    pub hmac_secrets_env: Vec<EnvSecret>,
    /// When set, `iss` is required and must equal it.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Longest allowed token lifetime.
    #[serde(default = "default_max_lifetime")]
    pub max_token_lifetime_secs: u64,
    /// Clock skew allowed, at most [`MAX_LEEWAY_SECS`].
    #[serde(default = "default_leeway")]
    pub leeway_secs: u64,
    /// When true, `jti` is required and each token works once.
    #[serde(default)]
    pub single_use_tokens: bool,
    /// The key the server mints with.
    #[serde(default)]
    pub mint_kid: Option<String>,
    /// Seconds between scheduled JWKS URL refreshes when the response sets
    /// no `Cache-Control: max-age`.
    #[serde(default)]
    pub jwks_refresh_secs: Option<u64>,
    /// At most one refresh per this many seconds for tokens naming an
    /// unknown `kid`, so a flood of made-up kids cannot hammer the site.
    #[serde(default)]
    pub jwks_unknown_kid_min_interval_secs: Option<u64>,
    /// How long after its last successful fetch a JWKS URL's key set may
    /// still verify tokens while refreshes fail; past it, tokens signed by
    /// its keys are refused with `jwks_unavailable` (a key the site removed
    /// during an outage must not stay valid forever). Default one day.
    #[serde(default)]
    pub jwks_max_stale_secs: Option<u64>,
}

/// One HMAC secret taken from an environment variable.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvSecret {
    /// The kid tokens name.
    pub kid: String,
    /// HS256, HS384 or HS512.
    pub alg: String,
    /// The variable's name (its value is never logged).
    pub env: String,
}

fn default_max_lifetime() -> u64 {
    DEFAULT_MAX_LIFETIME_SECS
}

fn default_leeway() -> u64 {
    DEFAULT_LEEWAY_SECS
}

impl fmt::Debug for IdentityConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Inline keys may hold secrets (`k`, `d`): show their kids only.
        let inline: Vec<&str> = self
            .keys
            .iter()
            .map(|k| k.get("kid").and_then(Value::as_str).unwrap_or("?"))
            .collect();
        f.debug_struct("IdentityConfig")
            .field("jwks_file", &self.jwks_file)
            .field("jwks_url", &self.jwks_url)
            .field("keys", &inline)
            .field("hmac_secrets_env", &self.hmac_secrets_env)
            .field("issuer", &self.issuer)
            .field("max_token_lifetime_secs", &self.max_token_lifetime_secs)
            .field("leeway_secs", &self.leeway_secs)
            .field("single_use_tokens", &self.single_use_tokens)
            .field("mint_kid", &self.mint_kid)
            .field("jwks_refresh_secs", &self.jwks_refresh_secs)
            .field(
                "jwks_unknown_kid_min_interval_secs",
                &self.jwks_unknown_kid_min_interval_secs,
            )
            .field("jwks_max_stale_secs", &self.jwks_max_stale_secs)
            .finish()
    }
}

/// Whether a JWKS URL may be fetched: `https://`, or `http://` on a
/// loopback host. The keys decide who is trusted, so they must not travel
/// where anyone on the path could swap them.
fn check_jwks_url(url: &str) -> Result<(), &'static str> {
    const HTTPS: &str = "must start with https:// (plain http:// only for localhost, 127.0.0.1 or [::1], in development)";
    let parsed = reqwest::Url::parse(url).map_err(|_| HTTPS)?;
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(()),
        "http" if super::remote::is_loopback(&parsed) => Ok(()),
        _ => Err(HTTPS),
    }
}

fn config_error(message: impl Into<String>) -> KeyError {
    KeyError::new(KeyErrorKind::Config, None, message)
}

impl IdentityConfig {
    /// How this app's JWKS URL is fetched: the defaults, with the config's
    /// intervals where it sets them.
    pub fn remote_options(&self) -> RemoteOptions {
        let defaults = RemoteOptions::default();
        RemoteOptions {
            refresh_interval: self
                .jwks_refresh_secs
                .map_or(defaults.refresh_interval, |s| {
                    std::time::Duration::from_secs(s.max(1))
                }),
            min_refresh_gap: self
                .jwks_unknown_kid_min_interval_secs
                .map_or(defaults.min_refresh_gap, |s| {
                    std::time::Duration::from_secs(s.max(1))
                }),
            max_stale: self.jwks_max_stale_secs.map_or(defaults.max_stale, |s| {
                std::time::Duration::from_secs(s.max(1))
            }),
            ..defaults
        }
    }

    /// Checks the policy fields and builds the [`Policy`] for `app_id`.
    pub fn policy(&self, app_id: &str) -> Result<Policy, KeyError> {
        if self.jwks_file.is_none()
            && self.jwks_url.is_none()
            && self.keys.is_empty()
            && self.hmac_secrets_env.is_empty()
        {
            return Err(config_error(format!(
                "app {app_id:?}: identity needs at least one key source (jwks_file, jwks_url, keys or hmac_secrets_env)"
            )));
        }
        if self.leeway_secs > MAX_LEEWAY_SECS {
            return Err(config_error(format!(
                "app {app_id:?}: leeway_secs is {}, at most {MAX_LEEWAY_SECS} is allowed; fix the clocks instead",
                self.leeway_secs
            )));
        }
        if self.max_token_lifetime_secs == 0
            || self.max_token_lifetime_secs > MAX_LIFETIME_LIMIT_SECS
        {
            return Err(config_error(format!(
                "app {app_id:?}: max_token_lifetime_secs must be between 1 and {MAX_LIFETIME_LIMIT_SECS}"
            )));
        }
        if let Some(url) = &self.jwks_url {
            check_jwks_url(url)
                .map_err(|why| config_error(format!("app {app_id:?}: jwks_url {url:?} {why}")))?;
        }
        if self.jwks_max_stale_secs == Some(0) {
            return Err(config_error(format!(
                "app {app_id:?}: jwks_max_stale_secs must be at least 1"
            )));
        }
        Ok(Policy {
            app_id: app_id.to_owned(),
            issuer: self.issuer.clone(),
            max_lifetime_secs: self.max_token_lifetime_secs,
            leeway_secs: self.leeway_secs,
            single_use: self.single_use_tokens,
            mint_kid: self.mint_kid.clone(),
        })
    }

    /// Loads the keys held locally (file, inline, environment), with
    /// `env` looking variables up (`|name| std::env::var(name).ok()`).
    pub fn load_static_keys(
        &self,
        base_dir: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<KeyRing, KeyError> {
        let mut ring = KeyRing::new();
        if let Some(file) = &self.jwks_file {
            let path = base_dir.join(file);
            let bytes = std::fs::read(&path).map_err(|e| {
                KeyError::new(
                    KeyErrorKind::Source,
                    None,
                    format!("cannot read jwks_file {}: {e}", path.display()),
                )
            })?;
            let from_file = KeyRing::from_jwks_json(&bytes, &path.display().to_string())?;
            ring = ring.merged(&from_file)?;
        }
        ring.add_jwks(&self.keys, "inline keys")?;
        for secret in &self.hmac_secrets_env {
            let alg = Alg::parse(&secret.alg).ok_or_else(|| {
                KeyError::new(
                    KeyErrorKind::Unsupported,
                    Some(&secret.kid),
                    format!(
                        "alg {:?} is not an HMAC algorithm; use HS256, HS384 or HS512",
                        secret.alg
                    ),
                )
            })?;
            if alg.kty() != "oct" {
                return Err(KeyError::new(
                    KeyErrorKind::Mismatch,
                    Some(&secret.kid),
                    format!("alg {alg} is not an HMAC algorithm; use HS256, HS384 or HS512"),
                ));
            }
            let value = env(&secret.env).ok_or_else(|| {
                KeyError::new(
                    KeyErrorKind::Source,
                    Some(&secret.kid),
                    format!("environment variable {} is not set", secret.env),
                )
            })?;
            let bytes = match value.strip_prefix("b64:") {
                Some(b64) => URL_SAFE_NO_PAD.decode(b64.trim().trim_end_matches('=')).map_err(|_| {
                    KeyError::new(
                        KeyErrorKind::BadKeyMaterial,
                        Some(&secret.kid),
                        format!("environment variable {} starts with b64: but the rest is not base64url", secret.env),
                    )
                })?,
                None => value.into_bytes(),
            };
            ring.insert(Key::from_hmac_secret(
                &secret.kid,
                alg,
                &bytes,
                &format!("env {}", secret.env),
            )?)?;
        }
        Ok(ring)
    }

    /// Builds the app's verifier: policy, local keys and (not yet fetched)
    /// JWKS URL. Call [`Verifier::refresh_now`] to fetch and
    /// [`Verifier::spawn_refresher`] to keep the set fresh, or use
    /// [`Verifier::start`] which does both.
    pub fn verifier(
        &self,
        app_id: &str,
        base_dir: &Path,
        env: impl Fn(&str) -> Option<String>,
        remote: RemoteOptions,
    ) -> Result<Verifier, KeyError> {
        let policy = self.policy(app_id)?;
        let ring = self.load_static_keys(base_dir, env)?;
        if let Some(kid) = &policy.mint_kid {
            match ring.get(kid) {
                Some(key) if key.can_sign() => {}
                Some(_) => {
                    return Err(config_error(format!(
                        "app {app_id:?}: mint_kid {kid:?} has no private part (\"d\") to sign with"
                    )))
                }
                None => {
                    return Err(config_error(format!(
                        "app {app_id:?}: mint_kid {kid:?} is not among the local keys (jwks_file, keys, hmac_secrets_env)"
                    )))
                }
            }
        }
        let static_ring = Arc::new(ring);
        Ok(Verifier {
            policy,
            ring: ArcSwap::new(Arc::clone(&static_ring)),
            static_ring,
            remote: self
                .jwks_url
                .as_ref()
                .map(|url| RemoteJwks::new(url.clone(), remote)),
        })
    }
}
