//! Replies by email when the customer is gone (issue 14): a real server,
//! agents replying over the API, and a real SMTP receiver on 127.0.0.1
//! (`common::smtp`) whose inbox the tests read. No blind sleeps: every
//! wait is for mail to arrive, and a test that expects none for some
//! conversations waits for a later one's email, which the worker handles
//! after theirs (it takes due conversations in due order).

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]

mod common;

use serde_json::{json, Value};

use common::live::{jwt, AgentLogin, Live, LOGIN_URL, SECRET};
use common::smtp::SmtpSink;
use trustchat_server::Config;

const AGENT: &str = "Bea O'Neil <B&B>";
const CHAT_URL: &str = "https://acme.example/help";
const CHAT_LINK: &str = "https://acme.example/help?trustchat=open";
/// How long a reply stays unread before it is emailed, in these tests:
/// time enough for a burst of replies, or to read or answer one, even on
/// a busy machine.
const DELAY_SECS: u64 = 3;

/// The config of these tests: app `demo` ("Acme Support") emails replies
/// unread for [`DELAY_SECS`] through the receiver on `port`; `smtp_extra`
/// goes in `[smtp]`.
fn config(dir: &std::path::Path, port: u16, smtp_extra: &str) -> String {
    config_with(dir, port, smtp_extra, "")
}

/// [`config`] with `app_extra` at the end of app `demo` (its
/// `[apps.messages]`).
fn config_with(dir: &std::path::Path, port: u16, smtp_extra: &str, app_extra: &str) -> String {
    use base64::Engine as _;
    let k = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(SECRET);
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
database_url = "sqlite://{db}"

[smtp]
host = "127.0.0.1"
port = {port}
tls = "none"
from = "Acme Support <support@acme.example>"
timeout_secs = 5
retry_backoff_secs = [1]
{smtp_extra}

[[apps]]
id = "demo"
name = "Acme Support"
allowed_origins = ["http://127.0.0.1:8080"]
login_url = "{LOGIN_URL}"
chat_url = "{CHAT_URL}"
[apps.email]
unread_delay_secs = {DELAY_SECS}
[apps.identity]
keys = [ {{ kty = "oct", kid = "k1", alg = "HS256", k = "{k}" }} ]
{app_extra}
"#,
        db = dir.join("t.db").display(),
    )
}

/// A server with [`config`] in a fresh directory.
async fn start(sink: &SmtpSink, smtp_extra: &str) -> Live {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let config = Config::from_toml(&config(dir.path(), sink.port, smtp_extra)).unwrap();
    Live::with_config(config, dir).await
}

/// An agent with a console open, so new conversations are routed to them.
async fn agent(live: &Live) -> (AgentLogin, common::live::Socket) {
    live.add_agent("bea@support.example", AGENT).await;
    let bea = live.login("bea@support.example").await;
    let console = live.console(&bea).await;
    (bea, console)
}

/// A customer who says hello as `user` (JSON of `setUser`, or `{}`);
/// their token and conversation id.
async fn customer(live: &Live, user: Value) -> (String, String) {
    let body = if user == json!({}) {
        json!({})
    } else {
        json!({ "user": user })
    };
    let (token, _) = live.customer(body).await;
    let said = live.say(&token, "hello?").await;
    let conversation = said["conversation_id"].as_str().unwrap().to_owned();
    (token, conversation)
}

/// `agent` replies `body` in `conversation`; the reply's seq.
async fn reply(live: &Live, agent: &AgentLogin, conversation: &str, body: &str) -> i64 {
    let (status, message) = live
        .post(
            agent,
            &format!("/conversations/{conversation}/messages"),
            json!({ "body": body }),
        )
        .await;
    assert_eq!(status, 201, "{message}");
    message["seq"].as_i64().unwrap()
}

/// Waits until no email is pending or claimed: the receiver has a message
/// before the server hears its "250 OK" and records it.
async fn settled(live: &Live) {
    let deadline = std::time::Instant::now() + common::smtp::MAIL_PATIENCE;
    loop {
        let due = live.state.store.next_email_due().await.unwrap();
        if due.is_none() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "an email is still pending (due at {due:?})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn text(message: &Value, part: &str) -> String {
    message[part].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_burst_of_unread_replies_is_one_email_and_a_restart_sends_it_never_again() {
    let sink = SmtpSink::start();
    let live = start(&sink, "").await;
    let (bea, _console) = agent(&live).await;
    let (_ada, conversation) = customer(
        &live,
        json!({"name": "<i>Ada</i> Lovelace", "email": "ada@example.com"}),
    )
    .await;
    reply(&live, &bea, &conversation, "<b>&\"x\"</b>").await;
    reply(&live, &bea, &conversation, "Second reply,\nin two lines").await;

    let inbox = sink.wait_for(1).await;
    let email = &inbox[0];
    assert_eq!(email["rcpt_tos"], json!(["ada@example.com"]));
    assert_eq!(email["mail_from"], "support@acme.example");
    assert_eq!(email["from"], "Acme Support <support@acme.example>");
    assert_eq!(email["content_type"], "multipart/alternative");
    assert_eq!(email["auto_submitted"], "auto-generated");
    assert_eq!(
        email["subject"],
        format!("2 new replies from {AGENT} — Acme Support")
    );
    // The plain part: both replies in order, as written, and the link.
    let plain = text(email, "text");
    let first = plain.find("<b>&\"x\"</b>").expect(&plain);
    let second = plain.find("Second reply,\n    in two lines").expect(&plain);
    assert!(first < second, "{plain}");
    assert!(plain.starts_with("Hi <i>Ada</i>,"), "{plain}");
    assert!(plain.contains(AGENT), "{plain}");
    assert!(plain.contains(CHAT_LINK), "{plain}");
    // The HTML part: the same, every supplied string escaped.
    let html = text(email, "html");
    assert!(
        html.contains("&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;"),
        "{html}"
    );
    assert!(html.contains("Bea O&#39;Neil &lt;B&amp;B&gt;"), "{html}");
    assert!(html.contains("Hi &lt;i&gt;Ada&lt;/i&gt;,"), "{html}");
    assert!(html.contains("Second reply,<br>\nin two lines"), "{html}");
    assert!(html.contains(&format!("href=\"{CHAT_LINK}\"")), "{html}");
    for raw in ["<b>", "<i>", "B&B"] {
        assert!(!html.contains(raw), "{raw} unescaped in {html}");
    }

    // Restart: a new server on the same database. The next reply makes
    // a second email, with that reply alone: the first two are not sent
    // again (the new server would have sent them first, on its first
    // look).
    let dir = live.dir();
    live.shutdown().await;
    let config = Config::from_toml(&config(dir.path(), sink.port, "")).unwrap();
    let live = Live::with_config(config, dir).await;
    reply(&live, &bea, &conversation, "Third, after the restart").await;
    let inbox = sink.wait_for(2).await;
    assert_eq!(inbox.len(), 2, "{inbox:#?}");
    let again = &inbox[1];
    assert_eq!(
        again["subject"],
        format!("New reply from {AGENT} — Acme Support")
    );
    let plain = text(again, "text");
    assert!(plain.contains("Third, after the restart"), "{plain}");
    assert!(!plain.contains("Second reply"), "{plain}");
    assert_ne!(again["message_id"], email["message_id"]);
    settled(&live).await;
}

#[tokio::test]
async fn customers_who_read_wrote_back_or_gave_no_email_get_none() {
    let sink = SmtpSink::start();
    let live = start(&sink, "").await;
    let (bea, _console) = agent(&live).await;
    let store = live.state.store.clone();

    let (_anonymous, nobody) = customer(&live, json!({})).await;
    reply(&live, &bea, &nobody, "for nobody").await;

    let (_reader, read) = customer(
        &live,
        json!({"name": "Rea Der", "email": "reader@example.com"}),
    )
    .await;
    let seq = reply(&live, &bea, &read, "read in time").await;
    assert_eq!(
        store.mark_customer_read(&read, seq).await.unwrap(),
        Some(seq)
    );

    let (writer, wrote) = customer(
        &live,
        json!({"name": "Wri Ter", "email": "writer@example.com"}),
    )
    .await;
    reply(&live, &bea, &wrote, "answered at once").await;
    live.say(&writer, "thanks, got it").await;

    // Last, a customer who is gone: theirs is due after all the others.
    let (_gone, gone) =
        customer(&live, json!({"name": "Gon E", "email": "gone@example.com"})).await;
    reply(&live, &bea, &gone, "are you there?").await;

    let inbox = sink.wait_for(1).await;
    assert_eq!(inbox[0]["rcpt_tos"], json!(["gone@example.com"]));
    assert!(text(&inbox[0], "text").contains("are you there?"));
    // Every other conversation was decided before that one was sent.
    settled(&live).await;
    assert_eq!(sink.messages().len(), 1, "{:#?}", sink.messages());
    live.shutdown().await;
}

/// What the servers of this test binary log (`trustchat_server=debug`),
/// from the first call on: a global subscriber, since a thread's own
/// would miss the events of callsites another test's thread saw first.
fn logs() -> String {
    static LOGS: std::sync::OnceLock<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> =
        std::sync::OnceLock::new();
    let text = LOGS.get_or_init(|| {
        let text = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = text.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("trustchat_server=debug"))
            .with_ansi(false)
            .with_writer(move || LogWriter(sink.clone()))
            .init();
        text
    });
    String::from_utf8_lossy(&text.lock().unwrap()).into_owned()
}

struct LogWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_refused_email_is_tried_again_and_arrives_once_and_the_log_names_no_one() {
    logs();
    // The relay answers the first try with 451 (try again later), quoting
    // the recipient.
    let sink = SmtpSink::start_with(&["--refuse", "1"]);
    let live = start(&sink, "").await;
    let (bea, _console) = agent(&live).await;
    let (_ada, conversation) = customer(
        &live,
        json!({"name": "Ada Lovelace", "email": "ada@example.com"}),
    )
    .await;
    reply(&live, &bea, &conversation, "worth the wait").await;
    let inbox = sink.wait_for(1).await;
    assert_eq!(sink.refused(), 1);
    assert_eq!(inbox.len(), 1);
    assert!(text(&inbox[0], "text").contains("worth the wait"));
    settled(&live).await;
    live.shutdown().await;
    // The log tells the operator which conversation failed, why, and that
    // it was sent; not what was written, nor to whom.
    let log = logs();
    assert!(log.contains("will retry"), "{log}");
    assert!(log.contains("emailed unread replies"), "{log}");
    assert!(log.contains(&conversation), "{log}");
    assert!(log.contains("Try again later, <<recipient>>"), "{log}");
    for secret in [
        "ada@example.com",
        "worth the wait",
        "Ada Lovelace",
        "hello?",
    ] {
        assert!(!log.contains(secret), "{secret:?} in the log:\n{log}");
    }
}

#[tokio::test]
async fn the_server_logs_in_with_the_password_from_the_environment() {
    let sink = SmtpSink::start_with(&["--user", "trustchat", "--password", "s3cret pass"]);
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let mut config = Config::from_toml(&config(
        dir.path(),
        sink.port,
        "username = \"trustchat\"\npassword_env = \"EMAIL_TEST_SMTP_PASSWORD\"",
    ))
    .unwrap();
    // As the server reads it from its environment when it starts.
    config
        .smtp
        .as_mut()
        .unwrap()
        .read_password(|name| {
            (name == "EMAIL_TEST_SMTP_PASSWORD").then(|| "s3cret pass".to_owned())
        })
        .unwrap();
    let live = Live::with_config(config, dir).await;
    let (bea, _console) = agent(&live).await;
    let (_ada, conversation) = customer(
        &live,
        json!({"name": "Ada Lovelace", "email": "ada@example.com"}),
    )
    .await;
    reply(&live, &bea, &conversation, "logged in").await;
    let inbox = sink.wait_for(1).await;
    assert_eq!(inbox[0]["login"], "trustchat");
    live.shutdown().await;
}

#[tokio::test]
async fn a_server_without_its_smtp_password_in_the_environment_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::from_toml(&config(
        dir.path(),
        2525,
        "username = \"trustchat\"\npassword_env = \"TRUSTCHAT_TEST_UNSET_SMTP_PASSWORD\"",
    ))
    .unwrap();
    let store = trustchat_server::store::connect(&config.server.database_url)
        .await
        .unwrap();
    let state = trustchat_server::AppState::new(config, store)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = trustchat_server::server::serve(state, listener, std::future::pending())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "smtp.password_env names TRUSTCHAT_TEST_UNSET_SMTP_PASSWORD, which is not set or empty: set it to the SMTP password"
    );
}

/// A customer who opens their session with `Accept-Language: language`
/// (none: no header) as `body` and says hello; their token and
/// conversation id.
async fn customer_speaking(live: &Live, language: Option<&str>, body: Value) -> (String, String) {
    let mut request = live
        .http
        .post(live.url("/api/v1/apps/demo/sessions"))
        .json(&body);
    if let Some(language) = language {
        request = request.header("accept-language", language);
    }
    let opened: Value = request.send().await.unwrap().json().await.unwrap();
    let token = opened["session_token"].as_str().unwrap().to_owned();
    let said = live.say(&token, "hello?").await;
    let conversation = said["conversation_id"].as_str().unwrap().to_owned();
    (token, conversation)
}

/// The email received for `address`.
fn email_to<'a>(inbox: &'a [Value], address: &str) -> &'a Value {
    inbox
        .iter()
        .find(|email| email["rcpt_tos"] == json!([address]))
        .unwrap_or_else(|| panic!("no email to {address}: {inbox:#?}"))
}

#[tokio::test]
async fn each_customer_is_emailed_in_their_language_and_the_config_wins() {
    let sink = SmtpSink::start();
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let texts = r#"
[apps.messages]
email_footer = "Sent by {app}."
[apps.messages.de]
email_subject = "Neu von {agent} ({app})"
"#;
    let config = Config::from_toml(&config_with(dir.path(), sink.port, "", texts)).unwrap();
    let live = Live::with_config(config, dir).await;
    let (bea, _console) = agent(&live).await;
    let user = |name: &str, email: &str| json!({"user": {"name": name, "email": email}});

    // French, built in.
    let (_, french) = customer_speaking(
        &live,
        Some("fr-CA,fr;q=0.9,en;q=0.5"),
        user("Ada Lovelace", "ada@example.com"),
    )
    .await;
    // German, with the config's subject.
    let (_, german) =
        customer_speaking(&live, Some("de-DE"), user("Max Muster", "max@example.com")).await;
    // A language the server has no texts in: [apps.messages], then English.
    let (_, swedish) = customer_speaking(
        &live,
        Some("sv-SE"),
        user("Sven Svensson", "sven@example.com"),
    )
    .await;
    // French at first; later requests without Accept-Language keep it.
    let (keeper, kept) = customer_speaking(&live, Some("fr"), json!({})).await;
    let current = live
        .http
        .get(live.url("/api/v1/sessions/current"))
        .bearer_auth(&keeper)
        .send()
        .await
        .unwrap();
    assert_eq!(current.status(), 200);
    let identified = live
        .http
        .post(live.url("/api/v1/sessions/current/identity"))
        .bearer_auth(&keeper)
        .json(&user("Claire Dubois", "claire@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(identified.status(), 200);
    // A proven customer in Japanese; a later claim of their email, in
    // Arabic, lands on their profile but chooses nothing.
    let (_, proven) = customer_speaking(
        &live,
        Some("ja"),
        json!({"jwt": jwt("kenji@example.com", "Kenji Sato")}),
    )
    .await;
    customer_speaking(&live, Some("ar"), user("Kenji Sato", "kenji@example.com")).await;

    for conversation in [&french, &german, &swedish, &kept, &proven] {
        reply(&live, &bea, conversation, "<b>On it</b>").await;
    }
    let inbox = sink.wait_for(5).await;

    let fr = email_to(&inbox, "ada@example.com");
    assert_eq!(
        fr["subject"],
        format!("Nouvelle réponse de {AGENT} — Acme Support")
    );
    assert_eq!(fr["content_language"], "fr");
    let plain = text(fr, "text");
    assert!(plain.starts_with("Bonjour Ada,\n\n"), "{plain}");
    assert!(
        plain.contains(&format!("Reprendre la conversation: {CHAT_LINK}")),
        "{plain}"
    );
    // What [apps.messages] sets wins over the built-in French.
    assert!(plain.ends_with("-- \nSent by Acme Support.\n"), "{plain}");
    let html = text(fr, "html");
    assert!(html.contains("<html lang=\"fr\"><head>"), "{html}");
    assert!(html.contains("&lt;b&gt;On it&lt;/b&gt;"), "{html}");
    assert!(
        html.contains("Bea O&#39;Neil &lt;B&amp;B&gt; a répondu"),
        "{html}"
    );
    assert!(!html.contains("<b>"), "{html}");

    let de = email_to(&inbox, "max@example.com");
    assert_eq!(de["subject"], format!("Neu von {AGENT} (Acme Support)"));
    assert_eq!(de["content_language"], "de");
    assert!(text(de, "text").starts_with("Hallo Max,"));
    assert!(text(de, "text").contains("Chat fortsetzen: "));

    let sv = email_to(&inbox, "sven@example.com");
    assert_eq!(
        sv["subject"],
        format!("New reply from {AGENT} — Acme Support")
    );
    assert_eq!(sv["content_language"], "en");
    assert!(text(sv, "text").starts_with("Hi Sven,"));
    assert!(text(sv, "text").ends_with("-- \nSent by Acme Support.\n"));
    assert!(text(sv, "html").contains("<html lang=\"en\"><head>"));

    let still_french = email_to(&inbox, "claire@example.com");
    assert_eq!(still_french["content_language"], "fr");
    assert!(text(still_french, "text").starts_with("Bonjour Claire,"));

    let ja = email_to(&inbox, "kenji@example.com");
    assert_eq!(ja["content_language"], "ja");
    assert_eq!(
        ja["subject"],
        format!("{AGENT}から新しい返信があります — Acme Support")
    );
    assert_eq!(inbox.len(), 5, "{inbox:#?}");
    settled(&live).await;
    live.shutdown().await;
}

#[tokio::test]
async fn an_arabic_email_is_right_to_left() {
    let sink = SmtpSink::start();
    let live = start(&sink, "").await;
    let (bea, _console) = agent(&live).await;
    let (_, conversation) = customer_speaking(
        &live,
        Some("ar-EG,ar;q=0.9"),
        json!({"user": {"name": "Layla Hassan", "email": "layla@example.com"}}),
    )
    .await;
    reply(&live, &bea, &conversation, "مرحبًا").await;
    let inbox = sink.wait_for(1).await;
    assert_eq!(inbox[0]["content_language"], "ar");
    let html = text(&inbox[0], "html");
    assert!(html.contains("<html lang=\"ar\" dir=\"rtl\">"), "{html}");
    assert!(text(&inbox[0], "text").starts_with("مرحبًا Layla،"));
    settled(&live).await;
    live.shutdown().await;
}
