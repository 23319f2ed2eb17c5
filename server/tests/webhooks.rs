//! Webhooks (issue 15): a real server, customers and agents over the
//! API, and a webhook receiver on 127.0.0.1 (an axum server in the test)
//! that checks every signature as a site's backend would (README,
//! "Webhooks"), answers as each test tells it to, and records what came.
//! No blind sleeps: every wait is for a delivery to arrive, or for the
//! store to record an attempt.

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]

mod common;
mod databases;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::{json, Value};

use common::live::{jwt, AgentLogin, Live};
use trustchat_server::clock;
use trustchat_server::store::DeliveryStatus;
use trustchat_server::webhooks::config::Secret;
use trustchat_server::Config;

const SECRET: &str = "whsec-test-0123456789abcdef";
/// How long a test waits for a delivery.
const PATIENCE: Duration = Duration::from_secs(20);

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    /// The path it was sent to.
    path: String,
    /// `TrustChat-Delivery`.
    delivery: String,
    /// `TrustChat-Event`.
    event: String,
    /// The signature checked out, within 5 minutes.
    signed: bool,
    /// The body.
    body: Value,
    /// What the receiver answered.
    answered: u16,
}

/// What the receiver answers a request (its path and body; how many
/// times this delivery came before).
type Plan = dyn Fn(&str, &Value, usize) -> (u16, Option<&'static str>) + Send + Sync;

/// A webhook receiver on 127.0.0.1.
struct Receiver {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

/// Checks a `TrustChat-Signature` as the README's receivers do: the HMAC
/// of `t.body` with the secret, and `t` within 5 minutes of now.
fn verify(header: &str, body: &[u8], secret: &str) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = Some(value.to_owned()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    if (clock::now_secs() - t).abs() > 300 {
        return false;
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    let Ok(tag) = (0..v1.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(v1.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
    else {
        return false;
    };
    hmac::verify(&key, &signed, &tag).is_ok()
}

impl Receiver {
    /// A receiver on a free port that answers by `plan`.
    async fn start(
        plan: impl Fn(&str, &Value, usize) -> (u16, Option<&'static str>) + Send + Sync + 'static,
    ) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Receiver::on(listener, plan)
    }

    /// A receiver on `listener`.
    fn on(
        listener: tokio::net::TcpListener,
        plan: impl Fn(&str, &Value, usize) -> (u16, Option<&'static str>) + Send + Sync + 'static,
    ) -> Receiver {
        let plan: Arc<Plan> = Arc::new(plan);
        let port = listener.local_addr().unwrap().port();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let log = received.clone();
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let log = log.clone();
            let plan = plan.clone();
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                let delivery = header("trustchat-delivery");
                let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let mut log = log.lock().unwrap();
                let before = log.iter().filter(|r| r.delivery == delivery).count();
                let (status, location) = plan(uri.path(), &json, before);
                log.push(Received {
                    path: uri.path().to_owned(),
                    delivery,
                    event: header("trustchat-event"),
                    signed: verify(&header("trustchat-signature"), &body, SECRET)
                        && header("content-type") == "application/json",
                    body: json,
                    answered: status,
                });
                let mut response = axum::response::Response::new(axum::body::Body::empty());
                *response.status_mut() = StatusCode::from_u16(status).unwrap();
                if let Some(location) = location {
                    response
                        .headers_mut()
                        .insert("location", location.parse().unwrap());
                }
                response
            }
        });
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            port,
            received,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/trustchat", self.port)
    }

    fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The requests answered with a 2xx.
    fn delivered(&self) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|r| (200..300).contains(&r.answered))
            .collect()
    }

    /// Waits until `done` holds of what came.
    async fn wait_until(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let all = self.all();
            if done(&all) {
                return all;
            }
            assert!(
                Instant::now() < deadline,
                "waited in vain for {what}; received: {all:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for `n` deliveries answered with a 2xx.
    async fn wait_delivered(&self, n: usize) -> Vec<Received> {
        self.wait_until(&format!("{n} deliveries"), |all| {
            all.iter()
                .filter(|r| (200..300).contains(&r.answered))
                .count()
                >= n
        })
        .await;
        self.delivered()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `[[apps.webhooks]]` to `url` with `extra` lines: for every event,
/// unless they say which.
fn webhook(url: &str, extra: &str) -> String {
    let events = if extra.contains("events =") {
        ""
    } else {
        r#"events = ["conversation.created", "message.created", "conversation.closed", "customer.verified"]"#
    };
    format!(
        r#"
[[apps.webhooks]]
url = "{url}"
{events}
secret_env = "TRUSTCHAT_TEST_WEBHOOK_SECRET"
{extra}
"#
    )
}

/// The config of app `demo` with `hooks` at its end, over the database in
/// `dir`, the secret set as the server would read it.
fn config(dir: &std::path::Path, hooks: &str) -> Config {
    let url = format!("sqlite://{}", dir.join("t.db").display());
    let mut config = Config::from_toml(&common::live::config_full(&url, hooks, "")).unwrap();
    for hook in &mut config.apps[0].webhooks {
        hook.secret = Some(Secret(SECRET.into()));
    }
    config
}

/// A server with `hooks` in app `demo`.
async fn start(hooks: &str) -> Live {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let config = config(dir.path(), hooks);
    Live::with_config(config, dir).await
}

/// An agent with a console open, so new conversations are routed to them.
async fn agent(live: &Live) -> (AgentLogin, common::live::Socket) {
    live.add_agent("bea@support.example", "Bea").await;
    let bea = live.login("bea@support.example").await;
    let console = live.console(&bea).await;
    (bea, console)
}

/// Waits until no delivery is pending: the receiver answers before the
/// server records its answer.
async fn settled(live: &Live) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let counts = live.state.store.webhook_delivery_counts().await.unwrap();
        if counts.pending == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "still pending: {counts:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The deliveries' bodies of `event`.
fn of<'r>(received: &'r [Received], event: &str) -> Vec<&'r Value> {
    received
        .iter()
        .filter(|r| r.event == event)
        .map(|r| &r.body)
        .collect()
}

#[tokio::test]
async fn every_event_arrives_signed_with_its_data_in_order() {
    let receiver = Receiver::start(|_, _, _| (200, None)).await;
    let live = start(&webhook(&receiver.url(), "")).await;
    let (bea, _console) = agent(&live).await;

    // An anonymous customer says hello: the conversation, then the message.
    let (token, _) = live.customer(json!({})).await;
    let hello = live.say(&token, "hello?").await;
    let conversation = hello["conversation_id"].as_str().unwrap().to_owned();
    // The agent answers.
    let (status, _) = live
        .post(
            &bea,
            &format!("/conversations/{conversation}/messages"),
            json!({ "body": "Hi! Who am I talking to?" }),
        )
        .await;
    assert_eq!(status, 201);
    // The customer logs in: their session is proven, and so is the
    // conversation; their next message is trusted.
    let login = live
        .http
        .post(live.url("/api/v1/sessions/current/identity"))
        .bearer_auth(&token)
        .json(&json!({ "jwt": jwt("ada@example.com", "Ada Lovelace") }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let trusted = live.say(&token, "It's me, Ada.").await;
    assert_eq!(trusted["trusted"], true);
    // The agent closes the conversation.
    let (status, _) = live
        .post(
            &bea,
            &format!("/conversations/{conversation}/close"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);

    let received = receiver.wait_delivered(6).await;
    assert_eq!(received.len(), 6, "{received:#?}");
    for r in &received {
        assert!(r.signed, "a bad signature: {r:#?}");
        assert_eq!(r.path, "/hooks/trustchat");
        assert_eq!(r.body["type"], r.event.as_str());
        assert_eq!(r.body["app_id"], "demo");
        assert!(r.body["created_at"].as_i64().unwrap() > 1_700_000_000_000);
        assert!(uuid::Uuid::parse_str(r.body["id"].as_str().unwrap()).is_ok());
        assert!(uuid::Uuid::parse_str(&r.delivery).is_ok());
    }
    // The conversation's events in the order they happened; the
    // customer's proof is ordered on its own (by customer).
    let in_conversation: Vec<(&str, Option<i64>)> = received
        .iter()
        .filter(|r| r.event != "customer.verified")
        .map(|r| (r.event.as_str(), r.body["data"]["message"]["seq"].as_i64()))
        .collect();
    assert_eq!(
        in_conversation,
        [
            ("conversation.created", None),
            ("message.created", Some(1)),
            ("message.created", Some(2)),
            ("message.created", Some(3)),
            ("conversation.closed", None),
        ]
    );

    let created = of(&received, "conversation.created")[0];
    assert_eq!(created["data"]["conversation"]["id"], conversation.as_str());
    assert_eq!(created["data"]["conversation"]["status"], "open");
    assert_eq!(created["data"]["conversation"]["proven"], false);
    let messages = of(&received, "message.created");
    let first = &messages[0]["data"]["message"];
    assert_eq!(first["body"], "hello?");
    assert_eq!(first["author"], "customer");
    assert_eq!(first["trusted"], false);
    assert_eq!(first["id"], hello["id"]);
    assert_eq!(first["conversation_id"], conversation.as_str());
    assert!(first.get("client_id").is_none(), "{first}");
    let reply = &messages[1]["data"]["message"];
    assert_eq!(reply["author"], "agent");
    assert_eq!(reply["author_name"], "Bea");
    assert_eq!(reply["trusted"], false);
    let third = &messages[2]["data"]["message"];
    assert_eq!(third["body"], "It's me, Ada.");
    assert_eq!(third["trusted"], true);
    let customer = messages[2]["data"]["customer_id"].as_str().unwrap();

    let verified = of(&received, "customer.verified")[0];
    assert_eq!(verified["data"]["customer"]["id"], customer);
    assert_eq!(verified["data"]["customer"]["sub"], "ada@example.com");
    assert!(verified["data"]["trusted_until"].as_i64().unwrap() > clock::now_ms());
    assert!(verified["data"]["session_id"].is_string());

    let closed = of(&received, "conversation.closed")[0];
    assert_eq!(closed["data"]["conversation"]["status"], "closed");
    assert_eq!(closed["data"]["conversation"]["proven"], true);
    assert_eq!(closed["data"]["conversation"]["customer_id"], customer);
    assert!(closed["data"]["conversation"]["closed_at"].is_i64());

    // A session opened with a token is verified at once; a refresh of a
    // trusted session's token announces nothing new.
    let (grace, _) = live
        .customer(json!({ "jwt": jwt("grace@example.com", "Grace Hopper") }))
        .await;
    let received = receiver.wait_delivered(7).await;
    let verified = of(&received, "customer.verified");
    assert_eq!(verified.len(), 2);
    assert_eq!(verified[1]["data"]["customer"]["sub"], "grace@example.com");
    let refresh = live
        .http
        .post(live.url("/api/v1/sessions/current/identity"))
        .bearer_auth(&grace)
        .json(&json!({ "jwt": jwt("grace@example.com", "Grace Hopper") }))
        .send()
        .await
        .unwrap();
    assert_eq!(refresh.status(), 200);
    live.say(&grace, "refreshed").await;
    let received = receiver.wait_delivered(9).await;
    assert_eq!(of(&received, "customer.verified").len(), 2, "{received:#?}");
    assert_eq!(of(&received, "conversation.created").len(), 2);

    // The store agrees, and counts them.
    settled(&live).await;
    let listed = live
        .state
        .store
        .webhook_deliveries("demo", 100)
        .await
        .unwrap();
    assert_eq!(listed.len(), 9);
    assert!(listed
        .iter()
        .all(|d| d.status == DeliveryStatus::Delivered && d.attempts == 1));
    let counts = live.state.store.webhook_delivery_counts().await.unwrap();
    assert_eq!((counts.pending, counts.delivered, counts.failed), (0, 9, 0));
    // An app without webhooks enqueues nothing.
    assert!(live
        .state
        .store
        .webhook_deliveries("other", 10)
        .await
        .unwrap()
        .is_empty());

    // The CLI shows them.
    let dir = live.dir();
    live.shutdown().await;
    let file = dir.path().join("trustchat.toml");
    std::fs::write(
        &file,
        common::live::config_full(
            &format!("sqlite://{}", dir.path().join("t.db").display()),
            &webhook(&receiver.url(), ""),
            "",
        ),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_trustchat-server"))
        .args([
            "webhooks", "list", "--app", "demo", "--limit", "3", "--config",
        ])
        .arg(&file)
        .env_remove("TRUSTCHAT_TEST_WEBHOOK_SECRET")
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 4, "{printed}");
    assert!(lines[0].starts_with("CREATED"), "{printed}");
    assert!(lines[1].contains("message.created"), "{printed}");
    assert!(lines[1].contains("delivered"), "{printed}");
    assert!(lines[1].contains(&listed[0].id), "{printed}");
    assert!(lines[1].contains("HTTP 200"), "{printed}");
}

#[tokio::test]
async fn a_500_is_retried_and_later_deliveries_of_the_conversation_wait() {
    // Each delivery is answered 500 twice, then 200.
    let receiver = Receiver::start(|_, _, before| (if before < 2 { 500 } else { 200 }, None)).await;
    let live = start(&webhook(&receiver.url(), "retry_base_secs = 1")).await;
    let (token, _) = live.customer(json!({})).await;
    live.say(&token, "first").await;
    live.say(&token, "second").await;

    let received = receiver.wait_delivered(3).await;
    let all = receiver.all();
    // conversation.created, then the two messages: each tried three times,
    // never one before the one ahead of it was delivered.
    assert_eq!(all.len(), 9, "{all:#?}");
    let mut order: Vec<&str> = Vec::new();
    for r in &all {
        assert!(r.signed, "{r:#?}");
        if order.last() != Some(&r.delivery.as_str()) {
            assert!(
                !order.contains(&r.delivery.as_str()),
                "delivery {} came back after a later one: {all:#?}",
                r.delivery
            );
            order.push(&r.delivery);
        }
    }
    assert_eq!(
        all.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [500, 500, 200, 500, 500, 200, 500, 500, 200]
    );
    assert_eq!(received[0].event, "conversation.created");
    assert_eq!(received[1].body["data"]["message"]["body"], "first");
    assert_eq!(received[2].body["data"]["message"]["body"], "second");
    // A retry is the same event: same delivery id, event id and body.
    assert_eq!(all[0].body, all[2].body);
    assert_eq!(all[0].delivery, all[2].delivery);

    settled(&live).await;
    let listed = live
        .state
        .store
        .webhook_deliveries("demo", 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 3);
    for d in &listed {
        assert_eq!(d.status, DeliveryStatus::Delivered);
        assert_eq!(d.attempts, 3);
        assert_eq!(d.last_status, Some(200));
    }
    live.shutdown().await;
}

#[tokio::test]
async fn a_delivery_given_up_lets_the_next_go() {
    // The first message's delivery always fails; the window is 1 s.
    let receiver = Receiver::start(|_, body, _| {
        let doomed = body["data"]["message"]["body"] == "doomed";
        (if doomed { 503 } else { 200 }, None)
    })
    .await;
    let live = start(&webhook(
        &receiver.url(),
        "events = [\"message.created\"]\nretry_base_secs = 1\nretry_for_secs = 1",
    ))
    .await;
    let (token, _) = live.customer(json!({})).await;
    live.say(&token, "doomed").await;
    live.say(&token, "fine").await;
    let received = receiver.wait_delivered(1).await;
    assert_eq!(received[0].body["data"]["message"]["body"], "fine");
    settled(&live).await;
    let listed = live
        .state
        .store
        .webhook_deliveries("demo", 10)
        .await
        .unwrap();
    let doomed = listed
        .iter()
        .find(|d| d.payload.contains("doomed"))
        .unwrap();
    assert_eq!(doomed.status, DeliveryStatus::Failed);
    assert_eq!(doomed.last_status, Some(503));
    assert!(
        doomed.last_error.as_deref().unwrap().contains("503"),
        "{doomed:?}"
    );
    assert!(!doomed.last_error.as_deref().unwrap().contains("doomed"));
    // Every attempt at it came before the next message's.
    let all = receiver.all();
    let fine = all.iter().position(|r| r.answered == 200).unwrap();
    assert!(all[fine..].iter().all(|r| r.answered == 200), "{all:#?}");
    let counts = live.state.store.webhook_delivery_counts().await.unwrap();
    assert_eq!((counts.pending, counts.delivered, counts.failed), (0, 1, 1));
    live.shutdown().await;
}

#[tokio::test]
async fn a_restart_loses_no_delivery() {
    // A port nobody listens on yet: the receiver comes up later.
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = reserved.local_addr().unwrap().port();
    drop(reserved);
    let url = format!("http://127.0.0.1:{port}/hooks/trustchat");
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let hooks = webhook(&url, "retry_base_secs = 1");
    let live = Live::with_config(config(dir.path(), &hooks), dir.clone()).await;
    let (token, _) = live.customer(json!({})).await;
    let said = live.say(&token, "are you there?").await;
    // The first attempts find nobody; the server stops meanwhile.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let listed = live
            .state
            .store
            .webhook_deliveries("demo", 10)
            .await
            .unwrap();
        if let Some(tried) = listed.iter().find(|d| d.last_error.is_some()) {
            let error = tried.last_error.clone().unwrap_or_default();
            assert!(error.contains("cannot connect"), "{listed:?}");
            assert!(
                !error.contains("/hooks"),
                "the URL is in the error: {error}"
            );
            assert_eq!(tried.event_type, "conversation.created");
            // The message waits behind it.
            assert!(listed.iter().all(|d| d.id == tried.id || d.attempts == 0));
            break;
        }
        assert!(Instant::now() < deadline, "no attempt: {listed:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    live.shutdown().await;

    // The receiver comes up, then the server again, on the same database.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let receiver = Receiver::on(listener, |_, _, _| (200, None));
    let live = Live::with_config(config(dir.path(), &hooks), dir).await;
    let received = receiver.wait_delivered(2).await;
    assert_eq!(received[0].event, "conversation.created");
    assert_eq!(received[1].event, "message.created");
    assert_eq!(received[1].body["data"]["message"]["id"], said["id"]);
    assert!(received.iter().all(|r| r.signed));
    live.shutdown().await;
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let receiver = Receiver::start(|path, _, _| {
        if path == "/elsewhere" {
            (200, None)
        } else {
            (307, Some("/elsewhere"))
        }
    })
    .await;
    let live = start(&webhook(
        &receiver.url(),
        "events = [\"message.created\"]\nretry_base_secs = 3600",
    ))
    .await;
    let (token, _) = live.customer(json!({})).await;
    live.say(&token, "hello").await;
    let deadline = Instant::now() + PATIENCE;
    let delivery = loop {
        let listed = live
            .state
            .store
            .webhook_deliveries("demo", 10)
            .await
            .unwrap();
        if let Some(d) = listed.into_iter().find(|d| d.last_status.is_some()) {
            break d;
        }
        assert!(Instant::now() < deadline, "no attempt recorded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(delivery.status, DeliveryStatus::Pending);
    assert_eq!(delivery.last_status, Some(307));
    assert!(
        delivery
            .last_error
            .as_deref()
            .unwrap()
            .contains("redirects are not followed"),
        "{delivery:?}"
    );
    let all = receiver.all();
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0].path, "/hooks/trustchat");
    live.shutdown().await;
}

#[tokio::test]
async fn bad_webhooks_are_refused_at_load_and_a_missing_secret_at_start() {
    let load = |hooks: &str| {
        Config::from_toml(&common::live::config_full("sqlite://unused.db", hooks, ""))
    };
    for (hooks, expected) in [
        (
            webhook("http://hooks.example/trustchat", ""),
            "must be an https:// URL",
        ),
        (
            webhook("http://10.0.0.7:8080/trustchat", ""),
            "must be an https:// URL",
        ),
        (
            webhook("https://user:pw@hooks.example/", ""),
            "must not hold a user or password",
        ),
        (
            "[[apps.webhooks]]\nurl = \"https://hooks.example/\"\nevents = [\"message.sent\"]\nsecret_env = \"S\"\n".into(),
            "\"message.sent\" is not an event",
        ),
        (
            "[[apps.webhooks]]\nurl = \"https://hooks.example/\"\nevents = []\nsecret_env = \"S\"\n".into(),
            "must name at least one event",
        ),
        (
            "[[apps.webhooks]]\nurl = \"https://hooks.example/\"\nevents = [\"message.created\"]\nsecret_env = \"not a name\"\n".into(),
            "NAME of an environment variable",
        ),
        (
            webhook("https://hooks.example/", "retry_for_secs = 0"),
            "retry_for_secs",
        ),
    ] {
        let error = load(&hooks).unwrap_err().to_string();
        assert!(error.contains(expected), "{hooks}: {error}");
        assert!(error.contains("app demo: webhooks[0]"), "{error}");
    }
    // Loopback http and https load.
    for url in [
        "https://hooks.example/trustchat",
        "http://localhost:3000/hooks",
        "http://[::1]:3000/hooks",
    ] {
        load(&webhook(url, "")).unwrap();
    }

    // The secret is read when the server starts: unset, it does not.
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let hooks = webhook("https://hooks.example/", "").replace(
        "TRUSTCHAT_TEST_WEBHOOK_SECRET",
        "TRUSTCHAT_TEST_WEBHOOK_SECRET_NEVER_SET",
    );
    let config = Config::from_toml(&common::live::config_full(&url, &hooks, "")).unwrap();
    let store = trustchat_server::store::connect(&url).await.unwrap();
    let state = trustchat_server::AppState::new(config, store)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = trustchat_server::server::serve(state, listener, std::future::pending())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(
            "secret_env names TRUSTCHAT_TEST_WEBHOOK_SECRET_NEVER_SET, which is not set or empty"
        ),
        "{error}"
    );
}

#[tokio::test]
async fn two_servers_on_postgres_deliver_each_event_once_in_order() {
    let Some(db) = databases::postgres("webhooks_two_servers").await else {
        eprintln!("{} is not set: skipped, it needs Postgres", databases::ENV);
        return;
    };
    let receiver = Receiver::start(|_, _, _| (200, None)).await;
    let hooks = webhook(
        &receiver.url(),
        "events = [\"conversation.created\", \"message.created\"]",
    );
    let server = |dir: Arc<tempfile::TempDir>| {
        let mut config =
            Config::from_toml(&common::live::config_full(&db.url, &hooks, "")).unwrap();
        config.apps[0].webhooks[0].secret = Some(Secret(SECRET.into()));
        Live::with_config(config, dir)
    };
    let a = server(Arc::new(tempfile::tempdir().unwrap())).await;
    let b = server(Arc::new(tempfile::tempdir().unwrap())).await;
    let (token, _) = a.customer(json!({})).await;
    for n in 0..10 {
        let live = if n % 2 == 0 { &a } else { &b };
        live.say(&token, &format!("message {n}")).await;
    }
    let received = receiver.wait_delivered(11).await;
    let all = receiver.all();
    assert_eq!(all.len(), 11, "each delivery once: {all:#?}");
    assert!(all.iter().all(|r| r.signed));
    assert_eq!(received[0].event, "conversation.created");
    let seqs: Vec<i64> = received[1..]
        .iter()
        .map(|r| r.body["data"]["message"]["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
    a.shutdown().await;
    b.shutdown().await;
}
