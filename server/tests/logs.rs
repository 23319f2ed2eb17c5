//! The log of the real binary: `server.log_format = "json"` writes one JSON
//! object per line, every line of a request carries its `request_id`
//! (echoed as `X-Request-Id`), and at the most verbose level nothing
//! secret gets in: no session token, identity token, API key or message
//! text.

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, Command, Stdio};

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

const API_KEY: &str = "tck_logs-test-api-key-0123456789abcdef";
const SECRET: &[u8] = b"a 32-byte HMAC key for the tests";
/// Written by the customer; must never be logged.
const MARKER: &str = "my card number is 4242-LOGS-MARKER";

fn config(dir: &std::path::Path) -> String {
    let hash = hex(&Sha256::digest(API_KEY.as_bytes()));
    let k = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(SECRET);
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
database_url = "sqlite://{db}"
static_dir = "{static_dir}"
log_format = "json"

[[apps]]
id = "demo"
name = "Demo Portal"
allowed_origins = ["{origin}"]
onboarding = true

[apps.identity]
keys = [ {{ kty = "oct", kid = "logs", alg = "HS256", k = "{k}" }} ]
mint_kid = "logs"

[[apps.api_keys]]
name = "logs test"
hash = "sha256:{hash}"
"#,
        db = dir.join("data/trustchat.db").display(),
        static_dir = dir.join("dist").display(),
        origin = common::DEMO_ORIGIN,
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Server {
    child: Child,
    base: String,
}

fn start(dir: &std::path::Path) -> Server {
    common::write_static_files(dir);
    let path = dir.join("trustchat.toml");
    std::fs::write(&path, config(dir)).unwrap();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let log = std::fs::File::create(dir.join("server.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_trustchat-server"))
        .args(["serve", "--config"])
        .arg(&path)
        .env("TRUSTCHAT_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(log)
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
    Server { child, base }
}

#[tokio::test]
async fn json_lines_with_request_ids_and_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path());
    let http = reqwest::Client::new();
    let base = server.base.clone();

    // A customer: a session, a message with the marker, an identity token
    // minted with the API key, a login with it, and a bad token.
    let opened: Value = http
        .post(format!("{base}/api/v1/apps/demo/sessions"))
        .header("Origin", common::DEMO_ORIGIN)
        .header("X-Request-Id", "req-logs-42")
        .json(&json!({"user": {"name": "Lea Logs", "email": "lea.logs@example.com"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = opened["session_token"].as_str().unwrap().to_owned();
    let sent = http
        .post(format!("{base}/api/v1/messages"))
        .header("Origin", common::DEMO_ORIGIN)
        .bearer_auth(&token)
        .json(&json!({"client_id": "2b1f3c1e-6d6a-4b8e-9d5f-1a2b3c4d5e6f", "body": MARKER}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 201);
    let minted: Value = http
        .post(format!("{base}/api/v1/user-identity-jwt"))
        .bearer_auth(API_KEY)
        .json(&json!({"identityType": "EMAIL", "identity": "lea.logs@example.com", "name": "Lea Logs"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwt = minted["token"]
        .as_str()
        .unwrap_or_else(|| panic!("minted {minted}"))
        .to_owned();
    let upgraded = http
        .post(format!("{base}/api/v1/sessions/current/identity"))
        .header("Origin", common::DEMO_ORIGIN)
        .bearer_auth(&token)
        .json(&json!({ "jwt": jwt }))
        .send()
        .await
        .unwrap();
    assert_eq!(upgraded.status(), 200);
    let forged = format!("{}x", &jwt[..jwt.len() - 1]);
    let refused = http
        .post(format!("{base}/api/v1/apps/demo/sessions"))
        .header("Origin", common::DEMO_ORIGIN)
        .json(&json!({ "jwt": forged }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    // The id: kept when safe, replaced when not, echoed either way.
    let kept = http
        .get(format!("{base}/healthz"))
        .header("X-Request-Id", "lb.req_7")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "lb.req_7");
    let replaced = http
        .get(format!("{base}/healthz"))
        .header("X-Request-Id", "forged\"line")
        .send()
        .await
        .unwrap();
    let fresh = replaced.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(fresh.len(), 36, "a UUID: {fresh}");
    let none = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_ne!(none.headers()["x-request-id"].to_str().unwrap(), fresh);

    Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    server.child.wait().unwrap();
    let mut log = String::new();
    std::fs::File::open(dir.path().join("server.log"))
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();

    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    assert!(lines.len() > 10, "a trace-level log: {} lines", lines.len());
    let of = |id: &str| {
        lines
            .iter()
            .filter(|l| l["span"]["request_id"] == id)
            .count()
    };
    assert!(
        of("req-logs-42") >= 2,
        "the session request's lines carry its id"
    );
    assert!(of("lb.req_7") >= 1);
    assert_eq!(of("forged\"line"), 0);
    for secret in [
        token.as_str(),
        jwt.as_str(),
        forged.as_str(),
        API_KEY,
        MARKER,
        "4242-LOGS-MARKER",
    ] {
        assert!(!log.contains(secret), "the log holds {secret:?}");
    }
    // Nor the parts of a token (its signature, its payload).
    for part in jwt.split('.') {
        assert!(
            !log.contains(part),
            "the log holds a part of the identity token"
        );
    }
}
