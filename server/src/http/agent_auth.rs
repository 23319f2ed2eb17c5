//! How agent requests are authenticated: the `trustchat_agent` session
//! cookie, the same-origin rule and the CSRF token.
//!
//! - [`AgentSession`] reads the cookie and nothing else: a customer's
//!   `Authorization: Bearer` token never opens an agent endpoint, and a
//!   request without a live session is 401 `unauthorized`.
//! - Every agent request with an `Origin` header must come from the
//!   server's own origin (`http(s)://` + the `Host`, or `X-Forwarded-Host`
//!   behind a proxy), and one a browser marks `Sec-Fetch-Site: cross-site`
//!   is refused: 403 `origin_not_allowed`. Requests without `Origin` come
//!   from tools, not browsers, and pass.
//! - Every state-changing request (any method but GET and HEAD) must carry
//!   `X-CSRF-Token` equal to the session's token, compared in constant
//!   time: 403 `csrf_failed`. With `SameSite=Strict` on the cookie, that is
//!   two independent defences.
//! - The cookie is `HttpOnly; SameSite=Strict; Path=/`, with `Max-Age` the
//!   session's lifetime, and `Secure` when `agent.secure_cookie` is set or
//!   the request came over https (`X-Forwarded-Proto: https`). A `Secure`
//!   cookie is named `__Host-trustchat_agent`: browsers keep such a cookie
//!   only from a secure origin, for exactly this host, on `/`, so no
//!   sibling subdomain or plain-http page can plant one. Over https only
//!   that name is read.

use axum::extract::FromRequestParts;
use axum::http::header::{HeaderValue, COOKIE, HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use subtle::ConstantTimeEq as _;

use crate::agents;
use crate::config::AgentConfig;
use crate::error::ApiError;
use crate::scope::{self, Scope};
use crate::state::AppState;
use crate::store::{AgentRecord, AgentSessionRecord};

/// The session cookie's name over plain http (the demo, tests).
pub const COOKIE_NAME: &str = "trustchat_agent";
/// The session cookie's name when it is `Secure` (https).
pub const SECURE_COOKIE_NAME: &str = "__Host-trustchat_agent";
/// The CSRF header.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A live agent session on a same-origin request (and, for a
/// state-changing request, with the right CSRF token).
#[derive(Debug, Clone)]
pub struct AgentSession {
    /// The session the cookie stands for.
    pub session: AgentSessionRecord,
    /// Its agent.
    pub agent: AgentRecord,
    /// The apps the agent's teams serve: all they may read and act on.
    pub scope: Scope,
}

impl FromRequestParts<AppState> for AgentSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        check_same_origin(&parts.headers)?;
        let secure = secure(&parts.headers, &state.config.agent);
        let Some(token) = named_cookie(&parts.headers, cookie_name(secure)) else {
            tracing::debug!("agent request without a session cookie");
            return Err(ApiError::AgentUnauthorized);
        };
        let Some((session, agent)) = agents::authenticate(state.store.as_ref(), token).await?
        else {
            tracing::debug!("agent request with an unknown, expired or revoked session");
            return Err(ApiError::AgentUnauthorized);
        };
        if !matches!(parts.method, Method::GET | Method::HEAD) {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .map(HeaderValue::as_bytes)
                .unwrap_or_default();
            if !bool::from(sent.ct_eq(session.csrf_token.as_bytes())) {
                tracing::debug!(agent = %agent.id, "agent request without the CSRF token");
                return Err(ApiError::CsrfFailed);
            }
        }
        let scope = scope::of(&state.config, state.store.as_ref(), &agent.id).await?;
        Ok(AgentSession {
            session,
            agent,
            scope,
        })
    }
}

/// The session token of the agent cookie: `__Host-trustchat_agent` when
/// the request has one, else `trustchat_agent`. ([`AgentSession`] reads
/// only the name that fits the request's scheme.)
pub fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    named_cookie(headers, SECURE_COOKIE_NAME).or_else(|| named_cookie(headers, COOKIE_NAME))
}

/// The cookie's name: `__Host-` prefixed when it is `Secure`.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_COOKIE_NAME
    } else {
        COOKIE_NAME
    }
}

fn named_cookie<'h>(headers: &'h HeaderMap, cookie: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == cookie)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// Refuses a browser request from another origin than the server's own.
pub fn check_same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site") == Some("cross-site") {
        return Err(ApiError::CrossOrigin("a cross-site page".into()));
    }
    let Some(origin) = headers.get(ORIGIN) else {
        return Ok(());
    };
    let origin_text = String::from_utf8_lossy(origin.as_bytes())
        .chars()
        .take(200)
        .collect::<String>();
    let host =
        header("x-forwarded-host").or_else(|| headers.get(HOST).and_then(|v| v.to_str().ok()));
    let same = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .is_some_and(|(scheme, authority)| {
            matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https")
                && host.is_some_and(|host| host.trim().eq_ignore_ascii_case(authority))
        });
    if same {
        Ok(())
    } else {
        tracing::debug!(origin = %origin_text, "agent request from another origin");
        Err(ApiError::CrossOrigin(origin_text))
    }
}

/// Whether the session cookie should be `Secure`.
pub fn secure(headers: &HeaderMap, config: &AgentConfig) -> bool {
    config.secure_cookie
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// The `Set-Cookie` value that logs the browser in: `__Host-` prefixed,
/// with `Secure`, over https (and never a `Domain`, which that prefix
/// forbids).
pub fn session_cookie(token: &str, max_age_secs: u64, secure: bool) -> String {
    let name = cookie_name(secure);
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_secs}{secure}")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(secure: bool) -> String {
    session_cookie("", 0, secure)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn same_origin() {
        let check = |pairs: &[(&'static str, &str)], ok: bool| {
            assert_eq!(check_same_origin(&headers(pairs)).is_ok(), ok, "{pairs:?}");
        };
        check(&[], true);
        check(&[("host", "127.0.0.1:8080")], true);
        check(
            &[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8080"),
            ],
            true,
        );
        check(
            &[
                ("host", "Chat.Example.com"),
                ("origin", "https://chat.example.com"),
            ],
            true,
        );
        check(
            &[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:9090"),
            ],
            false,
        );
        check(&[("host", "127.0.0.1:8080"), ("origin", "null")], false);
        check(&[("origin", "http://127.0.0.1:8080")], false);
        check(
            &[
                ("host", "internal:8080"),
                ("x-forwarded-host", "chat.example.com"),
                ("origin", "https://chat.example.com"),
            ],
            true,
        );
        check(
            &[("host", "127.0.0.1:8080"), ("sec-fetch-site", "cross-site")],
            false,
        );
    }

    #[test]
    fn cookies() {
        let map = headers(&[("cookie", "a=1; trustchat_agent=tca_x ; b=2")]);
        assert_eq!(cookie_token(&map), Some("tca_x"));
        assert_eq!(
            cookie_token(&headers(&[("cookie", "trustchat_agentx=1")])),
            None
        );
        assert_eq!(
            session_cookie("t", 60, true),
            "__Host-trustchat_agent=t; HttpOnly; SameSite=Strict; Path=/; Max-Age=60; Secure"
        );
        assert_eq!(
            session_cookie("t", 60, false),
            "trustchat_agent=t; HttpOnly; SameSite=Strict; Path=/; Max-Age=60"
        );
        assert!(clear_cookie(false).contains("Max-Age=0"));
        assert!(clear_cookie(true).starts_with("__Host-trustchat_agent=;"));
        let both = headers(&[(
            "cookie",
            "trustchat_agent=tca_a; __Host-trustchat_agent=tca_b",
        )]);
        assert_eq!(cookie_token(&both), Some("tca_b"));
        assert_eq!(named_cookie(&both, cookie_name(false)), Some("tca_a"));
    }
}
