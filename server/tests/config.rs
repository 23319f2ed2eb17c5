//! Loading and validating `trustchat.toml`.

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::Duration;

use trustchat_server::config::ConfigError;
use trustchat_server::email::config::SmtpTls;
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

/// Two apps, two teams, and rules that route, order and hold.
const TEAMS: &str = r#"
[[apps]]
id = "shop"
allowed_origins = ["https://shop.example"]
login_url = "https://shop.example/login"

[[apps.rules]]
status = ["trusted"]
team = "verified"
priority = "high"

[[apps.rules]]
status = ["anonymous", "identified"]
page_prefix = "https://shop.example/orders"
hold_for_login_secs = 120
greeting = "Log in to see your order: {login_url}"

[[apps]]
id = "bank"
allowed_origins = ["https://bank.example"]

[[teams]]
id = "verified"
name = "Verified customers"
apps = ["shop"]

[[teams]]
id = "frontline"
apps = ["shop", "bank"]
"#;

#[test]
fn teams_and_rules_that_route_order_and_hold_load() {
    use trustchat_server::rules::{self, CustomerStatus, Priority};
    let config = Config::from_toml(TEAMS).unwrap();
    assert_eq!(config.teams.len(), 2);
    assert_eq!(config.teams[0].name, "Verified customers");
    assert_eq!(config.teams[1].name, "frontline", "the id when no name");
    let shop = &config.apps[0];
    let trusted = rules::matching(&shop.rules, CustomerStatus::Trusted, None).unwrap();
    assert_eq!(
        (trusted.team.as_deref(), trusted.priority),
        (Some("verified"), Some(Priority::High))
    );
    assert_eq!(trusted.greeting, None, "a rule may leave the greeting out");
    let orders = rules::matching(
        &shop.rules,
        CustomerStatus::Anonymous,
        Some("https://shop.example/orders/42"),
    )
    .unwrap();
    assert_eq!(orders.hold_for_login_secs, Some(120));
    assert!(rules::matching(
        &shop.rules,
        CustomerStatus::Anonymous,
        Some("https://shop.example/")
    )
    .is_none());
    // A rule without a greeting greets with the app's default for the status.
    let first = rules::first_message(
        &shop.rules,
        &shop.messages,
        shop.login_url.as_deref(),
        CustomerStatus::Trusted,
        Some("Ada"),
        None,
    );
    assert_eq!(first.text, "Hi Ada!");
    assert!(Priority::High < Priority::Normal && Priority::Normal < Priority::Low);
}

#[test]
fn unknown_teams_and_contradictory_rules_are_refused_with_a_clear_message() {
    let cases: &[(&str, &str, &str)] = &[
        (
            r#"team = "verified""#,
            r#"team = "vip""#,
            "routes to team \"vip\", which is not a team of this config",
        ),
        (
            r#"apps = ["shop"]"#,
            r#"apps = ["bank"]"#,
            "routes to team \"verified\", which does not serve app shop",
        ),
        (
            "hold_for_login_secs = 120",
            "hold_for_login_secs = 0",
            "hold_for_login_secs must be from 1 to 3600",
        ),
        (
            "hold_for_login_secs = 120",
            "hold_for_login_secs = 3601",
            "hold_for_login_secs must be from 1 to 3600",
        ),
        (
            r#"priority = "high""#,
            r#"priority = "urgent""#,
            "unknown variant `urgent`",
        ),
        (
            r#"apps = ["shop", "bank"]"#,
            r#"apps = ["shop", "atm"]"#,
            "team frontline: apps names \"atm\", which is not an app of this config",
        ),
        (
            r#"apps = ["shop", "bank"]"#,
            r#"apps = ["shop"]"#,
            "app bank: no team serves it",
        ),
        (
            r#"id = "frontline""#,
            r#"id = "verified""#,
            "is used by two teams",
        ),
        (
            r#"id = "frontline""#,
            r#"id = "Front Line""#,
            "must be 1 to 64 characters",
        ),
        (
            r#"apps = ["shop", "bank"]"#,
            "apps = []",
            "must name at least one app",
        ),
    ];
    for (from, to, expected) in cases {
        assert!(TEAMS.contains(from), "{from}");
        check(&TEAMS.replacen(from, to, 1), expected);
    }
    // A hold on a rule for trusted customers only, or with no login URL.
    check(
        &TEAMS.replacen(
            r#"team = "verified""#,
            "team = \"verified\"\nhold_for_login_secs = 30",
            1,
        ),
        "matches only trusted customers",
    );
    check(
        &TEAMS
            .replacen("login_url = \"https://shop.example/login\"\n", "", 1)
            .replace("greeting = \"Log in to see your order: {login_url}\"", ""),
        "has no login_url to offer",
    );
    // A team named by a rule, with no [[teams]] at all.
    check(
        r#"
[[apps]]
id = "demo"
allowed_origins = ["http://127.0.0.1:8080"]
[[apps.rules]]
team = "verified"
"#,
        "the config has no [[teams]]",
    );
    // With no [[teams]], every app is served (one implicit team).
    Config::from_toml(MINIMAL).unwrap();
    // A rule that can never apply: an earlier one matches all it would.
    let shadowed = TEAMS.replacen(
        "[[apps]]\nid = \"bank\"",
        "[[apps.rules]]\nstatus = [\"anonymous\"]\npage_prefix = \"https://shop.example/orders/42\"\n\n[[apps]]\nid = \"bank\"",
        1,
    );
    check(
        &shadowed,
        "app shop: rules[2] can never apply: rules[1] comes first",
    );
    let after_catch_all = TEAMS.replacen(
        "[[apps.rules]]\nstatus = [\"trusted\"]",
        "[[apps.rules]]\ngreeting = \"Hello\"\n\n[[apps.rules]]\nstatus = [\"trusted\"]",
        1,
    );
    check(
        &after_catch_all,
        "rules[1] can never apply: rules[0] comes first",
    );
    // Office hours are checked, naming the app.
    check(
        &TEAMS.replacen(
            "[[apps]]\nid = \"bank\"",
            "[apps.hours]\ntimezone = \"Europe/Paris\"\nmon = [\"18:00-09:00\"]\n\n[[apps]]\nid = \"bank\"",
            1,
        ),
        "app shop: hours: mon range \"18:00-09:00\" must be HH:MM-HH:MM",
    );
    // Texts by language need language tags.
    check(
        &TEAMS.replacen(
            "[[apps]]\nid = \"bank\"",
            "[apps.messages.french]\ngreeting_anonymous = \"Bonjour\"\n\n[[apps]]\nid = \"bank\"",
            1,
        ),
        "app shop: [apps.messages.french] is not a language tag",
    );
    // Unknown keys, in a locale's table or the table itself, and
    // placeholders a text does not have.
    check(
        &TEAMS.replacen(
            "[[apps]]\nid = \"bank\"",
            "[apps.messages.fr]\nemail_subjct = \"Nouveau\"\n\n[[apps]]\nid = \"bank\"",
            1,
        ),
        "app shop: [apps.messages.fr] has an unknown key \"email_subjct\"; the keys are greeting_trusted, greeting_identified, greeting_anonymous, held_for_login, login_request, email_subject,",
    );
    check(
        &TEAMS.replacen(
            "[[apps]]\nid = \"bank\"",
            "[apps.messages]\nemail_footr = \"x\"\n\n[[apps]]\nid = \"bank\"",
            1,
        ),
        "app shop: [apps.messages] has an unknown key \"email_footr\"",
    );
    check(
        &TEAMS.replacen(
            "[[apps]]\nid = \"bank\"",
            "[apps.messages.de]\nemail_subject = \"Neu von {agnet}\"\n\n[[apps]]\nid = \"bank\"",
            1,
        ),
        "app shop: [apps.messages.de] email_subject: {agnet} is not a placeholder of this text; it may use {agent}, {app}",
    );
    check(
        &TEAMS.replacen(
            "priority = \"high\"",
            "priority = \"high\"\ngreetings = { \"fr_FR\" = \"x\" }",
            1,
        ),
        "app shop: rules[0].greetings: \"fr_FR\" is not a language tag",
    );
    // Rule names and saved replies are checked.
    check(
        &TEAMS.replacen(
            "priority = \"high\"",
            "priority = \"high\"\nname = \" \"",
            1,
        ),
        "name must be 1 to 80 characters",
    );
    check(
        &format!("{TEAMS}\n[[teams.saved_replies]]\ntitle = \"\"\nbody = \"x\"\n"),
        "team frontline: saved_replies[0]: title must be 1 to 80 characters",
    );
}

#[test]
fn rules_decide_team_priority_name_and_hold_by_status_and_page() {
    use trustchat_server::rules::{routing, CustomerStatus, Priority, Routing};
    let config = Config::from_toml(TEAMS).unwrap();
    let rules = &config.apps[0].rules;
    let orders = Some("https://shop.example/orders/42");
    let cases = [
        (
            CustomerStatus::Trusted,
            orders,
            Routing {
                team: Some("verified".into()),
                priority: Priority::High,
                rule: Some("rule 1".into()),
                hold_for_login_secs: None,
            },
        ),
        (
            CustomerStatus::Identified,
            orders,
            Routing {
                team: None,
                priority: Priority::Normal,
                rule: Some("rule 2".into()),
                hold_for_login_secs: Some(120),
            },
        ),
        // No rule matches: defaults, no name.
        (
            CustomerStatus::Anonymous,
            Some("https://shop.example/"),
            Routing::default(),
        ),
        (CustomerStatus::Identified, None, Routing::default()),
    ];
    for (status, page, expected) in cases {
        assert_eq!(
            routing(rules, status, page),
            expected,
            "{status:?} on {page:?}"
        );
    }
    // A hold never applies to a trusted customer, whatever the rule says.
    let mut lenient = rules.clone();
    lenient[1].status.clear();
    lenient.remove(0);
    let trusted = routing(&lenient, CustomerStatus::Trusted, orders);
    assert_eq!(trusted.hold_for_login_secs, None);
    assert_eq!(trusted.rule.as_deref(), Some("rule 1"));
}

/// An `[smtp]` table and an app `demo` with `chat_url`; `smtp` and
/// `app` are added to them.
fn with_email(smtp: &str, app: &str) -> String {
    format!(
        r#"
[smtp]
host = "smtp.example.com"
from = "Acme Support <support@acme.example>"
{smtp}

[[apps]]
id = "demo"
allowed_origins = ["http://127.0.0.1:8080"]
chat_url = "https://acme.example/help"
{app}

[[apps]]
id = "plain"
"#
    )
}

#[test]
fn email_replies_load_with_defaults_and_only_where_they_can_be_sent() {
    let config = Config::from_toml(&with_email("", "")).unwrap();
    let smtp = config.smtp.as_ref().unwrap();
    assert_eq!((smtp.port(), smtp.tls), (587, SmtpTls::Starttls));
    assert_eq!(smtp.timeout().as_secs(), 30);
    // On where there is a chat_url to link to, after two minutes unread.
    assert_eq!(config.email_delay("demo"), Some(Duration::from_secs(120)));
    assert_eq!(config.email_delay("plain"), None, "no chat_url");

    let config = Config::from_toml(&with_email(
        "tls = \"tls\"",
        "[apps.email]\nunread_delay_secs = 600",
    ))
    .unwrap();
    assert_eq!(config.smtp.as_ref().unwrap().port(), 465);
    assert_eq!(config.email_delay("demo"), Some(Duration::from_secs(600)));

    let config = Config::from_toml(&with_email("", "[apps.email]\nenabled = false")).unwrap();
    assert_eq!(config.email_delay("demo"), None, "turned off");

    // Without [smtp], nothing is sent; chat_url alone is fine.
    let config =
        Config::from_toml("[[apps]]\nid = \"demo\"\nchat_url = \"https://acme.example/help\"")
            .unwrap();
    assert!(config.smtp.is_none());
    assert_eq!(config.email_delay("demo"), None);

    // Plain SMTP to a relay on this machine, or where the operator says.
    for smtp in [
        "host = \"localhost\"\ntls = \"none\"",
        "host = \"127.0.0.1\"\ntls = \"none\"\nport = 2525",
        "host = \"::1\"\ntls = \"none\"",
        "host = \"relay.internal\"\ntls = \"none\"\nallow_plaintext = true",
    ] {
        let text = with_email("", "").replace("host = \"smtp.example.com\"", smtp);
        let config = Config::from_toml(&text).unwrap_or_else(|e| panic!("{smtp}: {e}"));
        assert_eq!(config.smtp.unwrap().tls, SmtpTls::None);
    }
}

#[test]
fn email_settings_that_cannot_work_are_refused_with_a_clear_message() {
    let smtp = |extra: &str, expected: &str| check(&with_email(extra, ""), expected);
    smtp(
        "tls = \"none\"",
        "smtp.tls = \"none\" sends mail and passwords unencrypted, so it is allowed only to a relay on this machine",
    );
    smtp("tls = \"ssl\"", "unknown variant `ssl`");
    smtp("password = \"hunter2\"", "unknown field `password`");
    smtp(
        "username = \"trustchat\"",
        "smtp.username is set but smtp.password_env is not",
    );
    smtp(
        "password_env = \"SMTP_PASSWORD\"",
        "smtp.password_env is set but smtp.username is not",
    );
    smtp(
        "username = \"u\"\npassword_env = \"hunter2!\"",
        "smtp.password_env \"hunter2!\" must be the NAME of an environment variable",
    );
    smtp("port = 0", "smtp.port must be from 1 to 65535");
    smtp(
        "timeout_secs = 0",
        "smtp.timeout_secs must be from 1 to 300",
    );
    smtp(
        "retry_backoff_secs = []",
        "smtp.retry_backoff_secs must list one or more waits",
    );
    check(
        &with_email("", "").replace("support@acme.example>", "support at acme>"),
        "smtp.from \"Acme Support <support at acme>\" is not a mailbox",
    );
    check(
        &with_email("", "").replace("\"smtp.example.com\"", "\"smtp://smtp.example.com\""),
        "smtp.host \"smtp://smtp.example.com\" must be a host name or IP address",
    );

    let app = |extra: &str, expected: &str| check(&with_email("", extra), expected);
    app(
        "[apps.email]\nunread_delay_secs = 0",
        "app demo: email.unread_delay_secs must be from 1 to 86400",
    );
    app(
        "[apps.email]\nunread_delay_secs = 86401",
        "app demo: email.unread_delay_secs must be from 1 to 86400",
    );
    app("[apps.email]\nsend = true", "unknown field `send`");
    for (url, why) in [
        ("javascript:alert(1)", "must be an http:// or https:// URL"),
        (
            "ftp://acme.example/help",
            "must be an http:// or https:// URL",
        ),
        (
            "https://acme.example/a b",
            "must be an http:// or https:// URL",
        ),
        (
            "https://user:pw@acme.example/",
            "must not hold a user name or password",
        ),
    ] {
        check(
            &with_email("", "").replace("https://acme.example/help", url),
            &format!("app demo: chat_url {url:?} {why}"),
        );
    }
    check(
        &with_email("", "").replace(
            "[[apps]]\nid = \"plain\"",
            "[[apps]]\nid = \"plain\"\n[apps.email]\nenabled = true",
        ),
        "app plain: email.enabled = true needs chat_url",
    );
    check(
        "[[apps]]\nid = \"demo\"\nchat_url = \"https://acme.example/\"\n[apps.email]\nenabled = true",
        "app demo: email.enabled = true, but the config has no [smtp] table",
    );
}

#[test]
fn the_smtp_password_comes_from_the_environment_and_never_shows() {
    let text = with_email(
        "username = \"trustchat\"\npassword_env = \"ACME_SMTP_PASSWORD\"",
        "",
    );
    // Loading needs no password (`agent add` has none); the server reads
    // it when it starts.
    let mut config = Config::from_toml(&text).unwrap();
    config.apply_env(|_| None).unwrap();
    let smtp = config.smtp.as_mut().unwrap();
    assert_eq!(smtp.password, None);
    let error = smtp.read_password(|_| Some(String::new())).unwrap_err();
    assert_eq!(
        error,
        "smtp.password_env names ACME_SMTP_PASSWORD, which is not set or empty: set it to the SMTP password"
    );
    smtp.read_password(|var| (var == "ACME_SMTP_PASSWORD").then(|| "correct horse 42".to_owned()))
        .unwrap();
    let smtp = config.smtp.as_ref().unwrap();
    assert_eq!(
        smtp.password.as_ref().map(|p| p.0.as_str()),
        Some("correct horse 42")
    );
    let shown = format!("{config:?}");
    assert!(!shown.contains("correct horse"), "{shown}");
    assert!(shown.contains("ACME_SMTP_PASSWORD"), "{shown}");
}
