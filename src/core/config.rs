//! What `init` was given, checked at the boundary.

use super::error::Error;

/// The longest app id accepted.
const MAX_APP_ID: usize = 64;

/// A checked `init` configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The app id, `[a-z0-9_-]{1,64}`.
    pub app_id: String,
    /// Base URL of the server, without a trailing slash.
    pub server: String,
    /// Overrides the app's onboarding setting when given.
    pub onboarding: Option<bool>,
    /// Whether `init` was given a `fetchJwt` to call when a token expires.
    pub fetch_jwt: bool,
}

impl Config {
    /// Checks the raw settings; `server` defaults to `origin` (the page's).
    pub fn new(app_id: Option<&str>, server: Option<&str>, origin: &str) -> Result<Config, Error> {
        let Some(app_id) = app_id else {
            return Err(Error::invalid(
                "init needs an appId, e.g. TrustChat.init({ appId: \"demo\" })",
            ));
        };
        let app_id_ok = !app_id.is_empty()
            && app_id.len() <= MAX_APP_ID
            && app_id
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'));
        if !app_id_ok {
            return Err(Error::invalid(
                "appId must be 1 to 64 characters of lowercase letters, digits, _ and -",
            ));
        }
        let server = server.unwrap_or(origin).trim().trim_end_matches('/');
        let scheme_ok = ["http://", "https://"]
            .iter()
            .any(|scheme| server.len() > scheme.len() && server.starts_with(scheme));
        if !scheme_ok || server.contains(['?', '#', ' ']) {
            return Err(Error::invalid(
                "server must be an http(s) base URL, like https://chat.example.com",
            ));
        }
        Ok(Config {
            app_id: app_id.to_owned(),
            server: server.to_owned(),
            onboarding: None,
            fetch_jwt: false,
        })
    }

    /// `{server}/api/v1{path}`.
    pub fn url(&self, path: &str) -> String {
        [self.server.as_str(), "/api/v1", path].concat()
    }

    /// `{server}/api/v1/apps/{app_id}{rest}`.
    pub fn app_url(&self, rest: &str) -> String {
        [self.server.as_str(), "/api/v1/apps/", &self.app_id, rest].concat()
    }

    /// The storage key of this app's session: `trustchat:{app_id}:session`.
    pub fn session_key(&self) -> String {
        [STORAGE_PREFIX, &self.app_id, ":session"].concat()
    }

    /// The `sessionStorage` key of this tab's unacknowledged messages:
    /// `trustchat:{app_id}:pending`.
    pub fn pending_key(&self) -> String {
        [STORAGE_PREFIX, &self.app_id, ":pending"].concat()
    }

    /// The WebSocket's URL: the server's, `http` made `ws`, and
    /// `/api/v1/ws`. No token: that travels in the first frame.
    pub fn ws_url(&self) -> String {
        // `server` starts with `http` (checked in `new`).
        ["ws", self.server.get(4..).unwrap_or_default(), "/api/v1/ws"].concat()
    }
}

/// Every key the widget writes starts with this; `clearUser` removes them all.
pub const STORAGE_PREFIX: &str = "trustchat:";

#[cfg(test)]
mod tests {
    use super::*;

    /// `(appId, server, Ok((app id, server)) or Err(message prefix))`.
    type Case<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        Result<(&'a str, &'a str), &'a str>,
    );

    #[test]
    fn configs() {
        let origin = "https://shop.example";
        let cases: &[Case<'_>] = &[
            (Some("demo"), None, Ok(("demo", "https://shop.example"))),
            (
                Some("my_app-2"),
                Some("http://127.0.0.1:8080/"),
                Ok(("my_app-2", "http://127.0.0.1:8080")),
            ),
            (None, None, Err("init needs an appId")),
            (Some(""), None, Err("appId must be")),
            (Some("Demo"), None, Err("appId must be")),
            (Some("de mo"), None, Err("appId must be")),
            (Some(&"a".repeat(65)), None, Err("appId must be")),
            (
                Some("demo"),
                Some("chat.example.com"),
                Err("server must be"),
            ),
            (
                Some("demo"),
                Some("ftp://chat.example.com"),
                Err("server must be"),
            ),
            (Some("demo"), Some("https://"), Err("server must be")),
        ];
        for (app_id, server, expected) in cases {
            let got = Config::new(*app_id, *server, origin);
            match (expected, got) {
                (Ok((id, url)), Ok(config)) => {
                    assert_eq!(
                        (config.app_id.as_str(), config.server.as_str()),
                        (*id, *url)
                    );
                }
                (Err(prefix), Err(error)) => {
                    assert!(error.message.starts_with(prefix), "{error:?}")
                }
                (expected, got) => {
                    panic!("{app_id:?} {server:?}: expected {expected:?}, got {got:?}")
                }
            }
        }
    }

    #[test]
    fn urls_and_keys() {
        let config = Config::new(Some("demo"), Some("http://s"), "").expect("valid");
        assert_eq!(
            config.app_url("/sessions"),
            "http://s/api/v1/apps/demo/sessions"
        );
        assert_eq!(
            config.url("/sessions/current"),
            "http://s/api/v1/sessions/current"
        );
        assert_eq!(config.session_key(), "trustchat:demo:session");
        assert_eq!(config.pending_key(), "trustchat:demo:pending");
        assert_eq!(config.ws_url(), "ws://s/api/v1/ws");
        let secure =
            Config::new(Some("demo"), Some("https://chat.example.com"), "").expect("valid");
        assert_eq!(secure.ws_url(), "wss://chat.example.com/api/v1/ws");
    }
}
