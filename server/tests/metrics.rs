//! The Prometheus endpoint of the real binary, on its own listener: a
//! scrape parsed by a Prometheus text-format parser holds the request
//! counts by route template (never a raw path, an id or a token), the
//! messages stored, the identity-token checks by outcome and reason, the
//! store's latency, the queue and the emails pending, the open sockets,
//! and the webhooks sent, failed and pending; the public listener has no
//! `/metrics`.

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use openmetrics_parser::prometheus::parse_prometheus;
use openmetrics_parser::PrometheusValue;
use serde_json::{json, Value};

struct Server {
    child: Child,
    base: String,
    metrics: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(dir: &std::path::Path) -> Server {
    start_with(dir, "")
}

/// The binary with `demo_extra` (TOML) at the end of app `demo`'s table.
fn start_with(dir: &std::path::Path, demo_extra: &str) -> Server {
    common::write_static_files(dir);
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let port = free_port();
    let config = common::config_text(dir)
        .replace(
            "[server]\n",
            &format!("[server]\nmetrics_listen = \"127.0.0.1:{port}\"\n"),
        )
        .replacen(
            "onboarding = true\n",
            &format!("onboarding = true\n{demo_extra}"),
            1,
        );
    let path = dir.join("trustchat.toml");
    std::fs::write(&path, config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_trustchat-server"))
        .args(["serve", "--config"])
        .arg(&path)
        .env("TRUSTCHAT_LOG", "warn")
        .env(
            "TRUSTCHAT_TEST_METRICS_HOOK",
            "whsec-metrics-0123456789abcdef",
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("trustchat-server listening on ")
        .unwrap_or_else(|| panic!("unexpected ready line {line:?}"))
        .to_owned();
    Server {
        child,
        base,
        metrics: format!("http://127.0.0.1:{port}/metrics"),
    }
}

/// One sample of a scrape: its labels and its value (a histogram's count).
struct Sample {
    labels: Vec<(String, String)>,
    value: f64,
}

impl Sample {
    fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The samples of `name` in `text`, as a Prometheus text-format parser
/// reads them (it fails the test on anything malformed).
fn samples(text: &str, name: &str) -> Vec<Sample> {
    let scrape =
        parse_prometheus(text).unwrap_or_else(|e| panic!("not Prometheus text ({e:?}): {text}"));
    let Some(family) = scrape.families.get(name) else {
        return vec![];
    };
    family
        .iter_samples()
        .map(|sample| {
            let labels = sample
                .get_labelset()
                .map(|set| set.iter().map(|(n, v)| (n.clone(), v.clone())).collect())
                .unwrap_or_default();
            let value = match &sample.value {
                PrometheusValue::Unknown(n) | PrometheusValue::Gauge(n) => n.as_f64(),
                PrometheusValue::Counter(c) => c.value.as_f64(),
                PrometheusValue::Histogram(h) => h.count.unwrap_or(0) as f64,
                PrometheusValue::Summary(_) => 0.0,
            };
            Sample { labels, value }
        })
        .collect()
}

/// Every label value of every sample in `text`.
fn all_labels(text: &str) -> Vec<(String, String)> {
    let scrape = parse_prometheus(text).unwrap();
    let names: Vec<String> = scrape.families.keys().cloned().collect();
    names
        .iter()
        .flat_map(|name| samples(text, name))
        .flat_map(|s| s.labels)
        .collect()
}

#[tokio::test]
async fn a_scrape_counts_requests_by_route_template_and_holds_no_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let http = reqwest::Client::new();
    let base = &server.base;

    let opened: Value = http
        .post(format!("{base}/api/v1/apps/demo/sessions"))
        .header("Origin", common::DEMO_ORIGIN)
        .json(&json!({"user": {"name": "Mo Metrics", "email": "mo@example.com"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = opened["session_token"].as_str().unwrap().to_owned();
    let sent: Value = http
        .post(format!("{base}/api/v1/messages"))
        .header("Origin", common::DEMO_ORIGIN)
        .bearer_auth(&token)
        .json(&json!({"client_id": "6f0d2c8a-1b7e-4c3d-8e9f-0a1b2c3d4e5f", "body": "hello"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let conversation = sent["conversation_id"].as_str().unwrap().to_owned();
    // A rating path with the id in it, and a JWT the app cannot verify.
    http.post(format!("{base}/api/v1/conversations/{conversation}/rating"))
        .header("Origin", common::DEMO_ORIGIN)
        .bearer_auth(&token)
        .json(&json!({"rating": 5}))
        .send()
        .await
        .unwrap();
    http.post(format!("{base}/api/v1/apps/demo/sessions"))
        .header("Origin", common::DEMO_ORIGIN)
        .json(&json!({"jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}))
        .send()
        .await
        .unwrap();
    http.get(format!("{base}/no/such/{conversation}"))
        .send()
        .await
        .unwrap();
    // Not on the public listener.
    let public = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_ne!(public.status(), 200);

    let scraped = http.get(&server.metrics).send().await.unwrap();
    assert_eq!(scraped.status(), 200);
    assert!(scraped.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = scraped.text().await.unwrap();
    let requests = samples(&text, "trustchat_http_requests_total");
    let of = |route: &str, status: &str| {
        requests
            .iter()
            .filter(|s| s.label("route") == Some(route) && s.label("status") == Some(status))
            .map(|s| s.value)
            .sum::<f64>()
    };
    assert_eq!(of("/api/v1/apps/{app_id}/sessions", "201"), 1.0, "{text}");
    assert_eq!(of("/api/v1/apps/{app_id}/sessions", "401"), 1.0);
    assert_eq!(of("/api/v1/messages", "201"), 1.0);
    assert_eq!(
        of("/api/v1/conversations/{id}/rating", "409"),
        1.0,
        "{text}"
    );
    assert!(of("unmatched", "404") >= 1.0);
    // No label anywhere holds an id, a token or a raw path.
    let labels = all_labels(&text);
    assert!(labels.iter().any(|(name, _)| name == "route"));
    for (name, value) in &labels {
        assert!(
            !value.contains(&conversation)
                && !value.contains("tcs_")
                && !value.contains("/no/such"),
            "{name}={value}"
        );
    }
    let durations = samples(&text, "trustchat_http_request_duration_seconds");
    assert!(durations
        .iter()
        .any(|s| s.label("route") == Some("/api/v1/messages") && s.value >= 1.0));

    let stored = samples(&text, "trustchat_messages_stored_total");
    assert_eq!(
        stored
            .iter()
            .filter(|s| s.label("author") == Some("customer"))
            .map(|s| s.value)
            .sum::<f64>(),
        1.0
    );
    let checks = samples(&text, "trustchat_identity_token_verifications_total");
    assert!(
        checks.iter().any(|s| s.label("outcome") == Some("refused")
            && s.label("reason").is_some_and(|r| r != "none")),
        "{text}"
    );
    assert!(samples(&text, "trustchat_store_operation_duration_seconds")
        .iter()
        .any(|s| s.label("operation") == Some("append_customer_message")));
    // Read from the store at the scrape: the new conversation waits.
    let queue = samples(&text, "trustchat_queue_length");
    assert!(
        queue
            .iter()
            .any(|s| s.label("app") == Some("demo") && s.value == 1.0),
        "{text}"
    );
    assert_eq!(samples(&text, "trustchat_emails_pending").len(), 1);
}

/// Scrapes until `done` holds of the scrape (the worker and the sockets
/// record what they did just after the client saw it), for at most 20 s.
async fn scrape_until(server: &Server, what: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let text = reqwest::get(&server.metrics)
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if done(&text) {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never saw {what}: {text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The value of the sample of `name` whose labels include `labels`
/// (0 when there is none).
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples(text, name)
        .iter()
        .filter(|s| labels.iter().all(|(n, v)| s.label(n) == Some(v)))
        .map(|s| s.value)
        .sum()
}

/// A webhook receiver on 127.0.0.1 that answers 500 until `accept` is set;
/// `hits` counts what it got.
async fn receiver(
    accept: std::sync::Arc<std::sync::atomic::AtomicBool>,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> String {
    use std::sync::atomic::Ordering;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(move || {
            let (accept, hits) = (accept.clone(), hits.clone());
            async move {
                hits.fetch_add(1, Ordering::SeqCst);
                if accept.load(Ordering::SeqCst) {
                    axum::http::StatusCode::OK
                } else {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                }
            }
        }),
    );
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{address}/hooks")
}

#[tokio::test]
async fn a_scrape_counts_open_sockets_and_webhooks_sent_failed_and_pending() {
    use futures_util::{SinkExt as _, StreamExt as _};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    use tokio_tungstenite::tungstenite::Message;

    let accept = Arc::new(AtomicBool::new(false));
    let hits = Arc::new(AtomicUsize::new(0));
    let hook = receiver(accept.clone(), hits.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(
        dir.path(),
        &format!(
            "[[apps.webhooks]]\nurl = \"{hook}\"\nevents = [\"message.created\"]\nsecret_env = \"TRUSTCHAT_TEST_METRICS_HOOK\"\nretry_base_secs = 1\n"
        ),
    );
    let http = reqwest::Client::new();
    let base = &server.base;
    let opened: Value = http
        .post(format!("{base}/api/v1/apps/demo/sessions"))
        .header("Origin", common::DEMO_ORIGIN)
        .json(&json!({"user": {"name": "Wes Hook", "email": "wes@example.com"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = opened["session_token"].as_str().unwrap().to_owned();

    // A customer's socket, counted while it is open.
    let mut request = format!("{}/api/v1/ws", base.replacen("http", "ws", 1))
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("origin", common::DEMO_ORIGIN.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket
        .send(Message::text(
            json!({"type": "auth", "session_token": token}).to_string(),
        ))
        .await
        .unwrap();
    loop {
        let frame = socket.next().await.unwrap().unwrap();
        if let Message::Text(text) = frame {
            let frame: Value = serde_json::from_str(&text).unwrap();
            if frame["type"] == "ready" {
                break;
            }
        }
    }
    let text = scrape_until(&server, "one customer socket", |text| {
        value(text, "trustchat_websockets_open", &[("kind", "customer")]) == 1.0
    })
    .await;
    assert_eq!(
        value(&text, "trustchat_websockets_open", &[("kind", "agent")]),
        0.0
    );

    // A message: its webhook answers 500, so it is pending and failed once.
    http.post(format!("{base}/api/v1/messages"))
        .header("Origin", common::DEMO_ORIGIN)
        .bearer_auth(&token)
        .json(&json!({"client_id": "7f0d2c8a-1b7e-4c3d-8e9f-0a1b2c3d4e5f", "body": "hook me"}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let text = scrape_until(&server, "a failed attempt", |text| {
        value(text, "trustchat_webhooks_total", &[("outcome", "failed")]) >= 1.0
    })
    .await;
    assert!(hits.load(Ordering::SeqCst) >= 1);
    assert_eq!(
        value(&text, "trustchat_webhooks_pending", &[]),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(&text, "trustchat_webhooks_total", &[("outcome", "sent")]),
        0.0
    );

    // The receiver recovers: the retry is sent, nothing is pending.
    accept.store(true, Ordering::SeqCst);
    // (The counter moves as the answer comes, the gauge once the store
    // recorded it.)
    let text = scrape_until(&server, "the retry sent and recorded", |text| {
        value(text, "trustchat_webhooks_total", &[("outcome", "sent")]) == 1.0
            && value(text, "trustchat_webhooks_pending", &[]) == 0.0
    })
    .await;
    assert_eq!(
        value(
            &text,
            "trustchat_webhooks_total",
            &[("outcome", "given_up")]
        ),
        0.0
    );

    // The socket closed is no longer counted.
    socket.close(None).await.unwrap();
    scrape_until(&server, "no customer socket", |text| {
        value(text, "trustchat_websockets_open", &[("kind", "customer")]) == 0.0
    })
    .await;
}
