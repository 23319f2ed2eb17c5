//! A test app over a temporary SQLite file and static directory, and
//! helpers to talk to it through the router without a socket.

#![allow(dead_code)]

pub mod live;
pub mod smtp;

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use serde_json::Value;
use tower::ServiceExt as _;
use trustchat_server::store::{self, Store};
use trustchat_server::{AppState, Config};

/// An origin the `demo` app allows.
pub const DEMO_ORIGIN: &str = "http://127.0.0.1:8080";
/// An origin only the `other` app allows.
pub const OTHER_ORIGIN: &str = "https://other.example";

/// The config of every test: two apps with different origins.
pub fn config_text(dir: &Path) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
database_url = "sqlite://{db}"
static_dir = "{static_dir}"

[[apps]]
id = "demo"
name = "Demo Portal"
allowed_origins = ["{DEMO_ORIGIN}"]
login_url = "http://127.0.0.1:8080/login"
onboarding = true

[[apps]]
id = "other"
allowed_origins = ["{OTHER_ORIGIN}"]
onboarding = false
"#,
        db = dir.join("data/trustchat.db").display(),
        static_dir = dir.join("dist").display(),
    )
}

/// Writes a small `dist/` like the real build's.
pub fn write_static_files(dir: &Path) {
    let dist = dir.join("dist");
    std::fs::create_dir_all(dist.join("portal")).unwrap();
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><title>TrustChat</title>",
    )
    .unwrap();
    std::fs::write(
        dist.join("portal/index.html"),
        "<!doctype html><title>Portal</title>",
    )
    .unwrap();
    std::fs::write(dist.join("trustchat_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
}

/// The router, its store and the directory holding both files.
pub struct TestApp {
    /// The whole HTTP app.
    pub router: Router,
    /// The store behind it, to look at what was saved.
    pub store: Arc<dyn Store>,
    /// Kept so the directory lives as long as the app.
    pub dir: tempfile::TempDir,
}

/// A response, read whole.
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body as text.
    pub text: String,
}

impl Reply {
    /// The body as JSON; `Null` when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// The error code of an error envelope.
    pub fn code(&self) -> Option<String> {
        self.json()["error"]["code"].as_str().map(str::to_owned)
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestApp {
    /// A fresh app over a fresh database.
    pub async fn new() -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        write_static_files(dir.path());
        let config = Config::from_toml(&config_text(dir.path())).unwrap();
        let store = store::connect(&config.server.database_url).await.unwrap();
        let router = trustchat_server::app(AppState::new(config, store.clone()).await.unwrap());
        TestApp { router, store, dir }
    }

    /// Sends one request through the router.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        send(self.router.clone(), request).await
    }

    /// The id of the profile a session (by its token) is linked to, as
    /// the store holds it: what the agent sees, never the customer.
    pub async fn profile_of(&self, session: &Value) -> String {
        let token = session["session_token"].as_str().unwrap();
        self.store
            .session_by_token_hash(&trustchat_server::identity::hash_token(token))
            .await
            .unwrap()
            .unwrap()
            .customer_id
    }

    /// Opens a session for `body` (JSON text) in the demo app and returns
    /// the reply's JSON, asserting a 201.
    pub async fn open_session(&self, body: &str) -> Value {
        let reply = self
            .send(post_json("/api/v1/apps/demo/sessions", body))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "body {body}: {}",
            reply.text
        );
        reply.json()
    }
}

/// Sends one request through `router`.
pub async fn send(router: Router, request: Request<Body>) -> Reply {
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Reply {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// `GET path`.
pub fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

/// `POST path` with a JSON body.
pub fn post_json(path: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

/// `method path` with `Authorization: Bearer token`.
pub fn with_token(method: &str, path: &str, token: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

/// Adds an `Origin` header.
pub fn from_origin(mut request: Request<Body>, origin: &str) -> Request<Body> {
    request
        .headers_mut()
        .insert("origin", origin.parse().unwrap());
    request
}
