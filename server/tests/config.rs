//! Loading and validating `trustchat.toml`.

use std::collections::HashMap;

use trustchat_server::config::ConfigError;
use trustchat_server::Config;

const MINIMAL: &str = r#"
[[apps]]
id = "demo"
allowed_origins = ["http://127.0.0.1:8080"]
"#;

/// Loads `text` and expects an error whose message contains `expected`.
fn check(text: &str, expected: &str) {
    match Config::from_toml(text) {
        Ok(_) => panic!("accepted, expected an error with {expected:?}:\n{text}"),
        Err(error) => {
            let message = error.to_string();
            assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        }
    }
}

#[test]
fn defaults() {
    let config = Config::from_toml(MINIMAL).unwrap();
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.server.database_url, "sqlite://data/trustchat.db");
    assert_eq!(config.server.database_max_connections, 20);
    assert_eq!(config.server.store_options().max_connections, 20);
    assert_eq!(config.server.static_dir.to_str(), Some("dist"));
    let app = &config.apps[0];
    assert_eq!(app.name, "demo");
    assert!(app.onboarding);
    assert_eq!(app.login_url, None);
    assert!(app.allows_origin("http://127.0.0.1:8080"));
}

#[test]
fn the_documented_example_loads() {
    let config = Config::from_toml(
        r#"
[server]
listen = "127.0.0.1:8080"
database_url = "sqlite://data/trustchat.db"
static_dir = "dist"

[[apps]]
id = "demo"
name = "Demo Portal"
allowed_origins = ["http://127.0.0.1:8080", "HTTPS://Portal.Example.com:443"]
login_url = "http://127.0.0.1:8080/login"
onboarding = true

# The identity-token work gives this table its meaning.
[apps.identity]
issuer = "https://portal.example.com"
keys = [{ kty = "oct", kid = "k1", alg = "HS256", k = "c2VjcmV0" }]
"#,
    )
    .unwrap();
    let app = config.app("demo").unwrap();
    assert_eq!(app.name, "Demo Portal");
    assert_eq!(
        app.allowed_origins,
        ["http://127.0.0.1:8080", "https://portal.example.com"]
    );
    assert!(app.identity.is_some());
    assert!(config.app("nope").is_none());
}

#[test]
fn env_overrides() {
    let mut config = Config::from_toml(MINIMAL).unwrap();
    let env: HashMap<&str, &str> = [
        ("TRUSTCHAT_LISTEN", "0.0.0.0:9000"),
        (
            "TRUSTCHAT_DATABASE_URL",
            "sqlite:///var/lib/trustchat/db.sqlite",
        ),
        ("TRUSTCHAT_STATIC_DIR", "/srv/trustchat"),
        ("TRUSTCHAT_LOG", "debug"),
    ]
    .into_iter()
    .collect();
    config
        .apply_env(|var| env.get(var).map(|v| (*v).to_owned()))
        .unwrap();
    assert_eq!(config.server.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(
        config.server.database_url,
        "sqlite:///var/lib/trustchat/db.sqlite"
    );
    assert_eq!(config.server.static_dir.to_str(), Some("/srv/trustchat"));
    assert_eq!(config.server.log, "debug");

    // Empty variables count as unset.
    let mut config = Config::from_toml(MINIMAL).unwrap();
    config.apply_env(|_| Some(String::new())).unwrap();
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");

    let mut config = Config::from_toml(MINIMAL).unwrap();
    let error = config
        .apply_env(|var| (var == "TRUSTCHAT_LISTEN").then(|| "localhost".to_owned()))
        .unwrap_err();
    assert!(
        matches!(
            error,
            ConfigError::Env {
                var: "TRUSTCHAT_LISTEN",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn load_reads_the_file_and_names_it_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trustchat.toml");
    let error = Config::load(&path).unwrap_err();
    assert!(error.to_string().contains("trustchat.toml"), "{error}");
    std::fs::write(&path, "[server\n").unwrap();
    let error = Config::load(&path).unwrap_err();
    assert!(
        matches!(error, ConfigError::Parse { .. }) && error.to_string().contains("trustchat.toml"),
        "{error}"
    );
    std::fs::write(&path, MINIMAL).unwrap();
    assert_eq!(Config::load(&path).unwrap().apps.len(), 1);
}

#[test]
fn validation_errors() {
    let app = |fields: &str| format!("[[apps]]\n{fields}\n");
    let cases = [
        (
            "[limits]\nmessages_per_minute = 0\n".to_owned(),
            "limits.messages_per_minute",
        ),
        (
            "[limits]\nws_connections_per_session = 0\n".to_owned(),
            "limits.ws_connections_per_session",
        ),
        (
            "[limits]\nws_ping_secs = 30\nws_idle_secs = 30\n".to_owned(),
            "ws_idle_secs must be longer",
        ),
        (
            "[limits]\nmessage_brust = 5\n".to_owned(),
            "unknown field `message_brust`",
        ),
        (app(r#"id = """#), "apps[0].id must not be empty"),
        (app(r#"id = "Demo""#), "a-z, 0-9"),
        (app(r#"id = "demo app""#), "a-z, 0-9"),
        (app(&format!(r#"id = "{}""#, "a".repeat(65))), "1 to 64"),
        (
            format!("{}{}", app(r#"id = "demo""#), app(r#"id = "demo""#)),
            "used by two apps",
        ),
        (
            app(r#"id = "demo"
allowed_origins = ["*"]"#),
            "must not contain *",
        ),
        (
            app(r#"id = "demo"
allowed_origins = ["https://*.example.com"]"#),
            "must not contain *",
        ),
        (
            app(r#"id = "demo"
allowed_origins = ["https://example.com/"]"#),
            "must not have a path",
        ),
        (
            app(r#"id = "demo"
allowed_origins = ["https://example.com/chat"]"#),
            "must not have a path",
        ),
        (
            app(r#"id = "demo"
allowed_origins = ["example.com"]"#),
            "scheme://host[:port]",
        ),
        (
            app(r#"id = "demo"
login_url = "javascript:alert(1)""#),
            "login_url",
        ),
        (
            app(r#"id = "demo"
login_url = "ftp://example.com/login""#),
            "http:// or https://",
        ),
        (
            app(r#"id = "demo"
allowed_origin = ["https://example.com"]"#),
            "unknown field `allowed_origin`",
        ),
        (app("name = \"no id\""), "missing field `id`"),
        ("[server]\nlisten = \"localhost\"\n".to_owned(), "listen"),
        ("[server]\nport = 8080\n".to_owned(), "unknown field `port`"),
        ("[sever]\n".to_owned(), "unknown field `sever`"),
        (
            "[server]\ndatabase_url = \"\"\n".to_owned(),
            "database_url must not be empty",
        ),
        (
            "[server]\ndatabase_max_connections = 0\n".to_owned(),
            "database_max_connections must be at least 1",
        ),
        (app("id = \"demo\"\nonboarding = \"yes\""), "onboarding"),
    ];
    for (text, expected) in cases {
        check(&text, expected);
    }
}
