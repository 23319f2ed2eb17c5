//! Trusted identity through the real router: sessions opened with identity
//! tokens, the mid-chat login and identity changes, trust that ends with the
//! token, single-use tokens, and the mint endpoint.

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use trustchat_server::clock;
use trustchat_server::identity;
use trustchat_server::store::{self, Store};
use trustchat_server::{AppState, Config};

use common::{post_json, send, with_token, Reply};

/// The HMAC secret of the test apps' key `k1` (32 bytes).
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
/// The API key of app `demo`; the config holds its SHA-256.
const API_KEY: &str = "tck_test_key_for_the_demo_app";

struct IdApp {
    router: Router,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

impl IdApp {
    async fn new() -> IdApp {
        let dir = tempfile::tempdir().unwrap();
        let k = base64_url(SECRET);
        let api_hash = trustchat_server::http::mint::api_key_hash(API_KEY);
        let text = format!(
            r#"
[server]
listen = "127.0.0.1:0"
database_url = "sqlite://{db}"

[[apps]]
id = "demo"
allowed_origins = ["http://127.0.0.1:8080"]
[apps.identity]
keys = [ {{ kty = "oct", kid = "k1", alg = "HS256", k = "{k}" }} ]
leeway_secs = 0
max_token_lifetime_secs = 3600
[[apps.api_keys]]
name = "tests"
hash = "{api_hash}"

[[apps]]
id = "once"
allowed_origins = ["http://127.0.0.1:8080"]
[apps.identity]
keys = [ {{ kty = "oct", kid = "k1", alg = "HS256", k = "{k}" }} ]
single_use_tokens = true

[[apps]]
id = "plain"
allowed_origins = ["http://127.0.0.1:8080"]
[[apps.api_keys]]
name = "no identity"
hash = "{plain_hash}"
"#,
            db = dir.path().join("t.db").display(),
            plain_hash = trustchat_server::http::mint::api_key_hash("tck_plain"),
        );
        let config = Config::from_toml(&text).unwrap();
        let store = store::connect(&config.server.database_url).await.unwrap();
        let state = AppState::new(config, store.clone()).await.unwrap();
        IdApp {
            router: trustchat_server::app(state),
            store,
            _dir: dir,
        }
    }

    async fn send(&self, request: Request<Body>) -> Reply {
        send(self.router.clone(), request).await
    }

    /// Opens a session in app `demo` with `body`; returns status and JSON.
    async fn open(&self, body: Value) -> (StatusCode, Value) {
        let reply = self
            .send(post_json("/api/v1/apps/demo/sessions", &body.to_string()))
            .await;
        (reply.status, reply.json())
    }

    /// `POST /api/v1/sessions/current/identity` with `body`.
    async fn change(&self, token: &str, body: Value) -> (StatusCode, Value) {
        let request = Request::post("/api/v1/sessions/current/identity")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let reply = self.send(request).await;
        (reply.status, reply.json())
    }

    async fn current(&self, token: &str) -> (StatusCode, Value) {
        let reply = self
            .send(with_token("GET", "/api/v1/sessions/current", token))
            .await;
        (reply.status, reply.json())
    }
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> i64 {
    clock::now_secs()
}

/// An HS256 token signed by jsonwebtoken (as a Rust website would) with
/// `claims` over sensible defaults for `aud` = `demo`.
fn token(claims: Value) -> String {
    let mut all = json!({
        "sub": "user-1", "aud": "demo", "iat": now(), "exp": now() + 600,
    });
    for (k, v) in claims.as_object().unwrap() {
        if v.is_null() {
            all.as_object_mut().unwrap().remove(k);
        } else {
            all[k] = v.clone();
        }
    }
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    encode(&header, &all, &EncodingKey::from_secret(SECRET)).unwrap()
}

fn ada() -> String {
    token(
        json!({"sub": "ada-1", "email": "Ada@Example.com", "name": "Ada Lovelace", "given_name": "Ada"}),
    )
}

impl IdApp {
    /// The profile a session is linked to, as the store holds it.
    async fn profile_of(&self, session_token: &str) -> String {
        self.store
            .session_by_token_hash(&identity::hash_token(session_token))
            .await
            .unwrap()
            .unwrap()
            .customer_id
    }
}

#[tokio::test]
async fn a_verified_token_opens_a_trusted_session() {
    let app = IdApp::new().await;
    let (status, body) = app.open(json!({ "jwt": ada() })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["trusted"], true);
    assert!(body["trusted_until"].as_i64().unwrap() > now());
    assert_eq!(body["customer"]["email"], "ada@example.com");
    assert_eq!(body["customer"]["first_name"], "Ada");
    assert_eq!(body["greeting"], "Hi Ada!");
    let (status, current) = app.current(body["session_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(current["trusted"], true);
    assert!(current.get("session_token").is_none());
}

#[tokio::test]
async fn the_greeting_prefers_given_name() {
    let app = IdApp::new().await;
    let jwt = token(json!({"email": "li@example.com", "name": "李 小龍", "given_name": "Bruce"}));
    let (_, body) = app.open(json!({ "jwt": jwt })).await;
    assert_eq!(body["greeting"], "Hi Bruce!");
    assert_eq!(body["customer"]["name"], "李 小龍");
}

#[tokio::test]
async fn bad_tokens_are_refused_with_their_reason() {
    let app = IdApp::new().await;
    let mut wrong_key = Header::new(Algorithm::HS256);
    wrong_key.kid = Some("k1".into());
    let forged = encode(
        &wrong_key,
        &json!({"sub": "x", "aud": "demo", "exp": now() + 60, "email": "ada@example.com"}),
        &EncodingKey::from_secret(b"another secret that is 32 bytes!"),
    )
    .unwrap();
    let cases = [
        (forged, "bad_signature"),
        (
            token(json!({"email": "ada@example.com", "exp": now() - 10})),
            "token_expired",
        ),
        (
            token(json!({"email": "ada@example.com", "aud": "other"})),
            "wrong_audience",
        ),
        (token(json!({"email": "not an email"})), "invalid_claim"),
        (token(json!({"email": null})), "missing_claim"),
        (
            token(json!({"email": "ada@example.com", "exp": "soon"})),
            "invalid_claim",
        ),
        ("not.a.token".to_owned(), "malformed_token"),
    ];
    for (jwt, reason) in cases {
        let (status, body) = app.open(json!({ "jwt": jwt })).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{reason}: {body}");
        assert_eq!(body["error"]["code"], "invalid_token");
        assert_eq!(body["error"]["reason"], reason, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            !message.contains("0123456789abcdef"),
            "a secret leaked: {message}"
        );
    }
}

#[tokio::test]
async fn an_anonymous_customer_who_logs_in_keeps_the_session() {
    let app = IdApp::new().await;
    let (_, anon) = app.open(json!({})).await;
    let session = anon["session_token"].as_str().unwrap();
    let (status, after) = app.change(session, json!({ "jwt": ada() })).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert!(
        after.get("session_token").is_none(),
        "same person, same session"
    );
    assert_eq!(after["trusted"], true);
    assert_eq!(after["customer"]["email"], "ada@example.com");
    assert_eq!(app.current(session).await.1["trusted"], true);
    let profile = app.profile_of(session).await;
    assert_eq!(
        after["customer"]["id"], anon["customer"]["id"],
        "the session's customer keeps its id"
    );
    let stored = app.store.customer(&profile).await.unwrap().unwrap();
    assert_eq!(
        (stored.sub.as_deref(), stored.email.as_deref()),
        (Some("ada-1"), Some("ada@example.com")),
        "the anonymous profile is filled in"
    );
}

#[tokio::test]
async fn an_anonymous_customer_takes_over_their_existing_profile() {
    let app = IdApp::new().await;
    let (_, known) = app
        .open(json!({"user": {"name": "Ada", "email": "ada@example.com"}}))
        .await;
    let (_, anon) = app.open(json!({})).await;
    let session = anon["session_token"].as_str().unwrap();
    let (status, after) = app
        .change(
            session,
            json!({"user": {"name": "Ada L", "email": "ADA@example.com"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert!(after.get("session_token").is_none());
    assert_eq!(
        app.profile_of(session).await,
        app.profile_of(known["session_token"].as_str().unwrap())
            .await,
        "linked to the known profile, for the agent"
    );
    assert_eq!(
        after["customer"]["id"], anon["customer"]["id"],
        "the claimant's view does not change to the profile's"
    );
    assert_eq!(after["trusted"], false);
    assert_eq!(after["greeting"], "Hi Ada!");
}

#[tokio::test]
async fn logging_in_as_the_same_person_makes_the_session_trusted() {
    let app = IdApp::new().await;
    let (_, user) = app
        .open(json!({"user": {"name": "Ada L.", "email": "ada@example.com"}}))
        .await;
    let session = user["session_token"].as_str().unwrap();
    assert_eq!(user["trusted"], false);
    let (status, after) = app.change(session, json!({ "jwt": ada() })).await;
    assert_eq!(status, StatusCode::OK);
    assert!(after.get("session_token").is_none());
    assert_eq!(after["trusted"], true);
    let profile = app.profile_of(session).await;
    assert_eq!(after["customer"]["id"], user["customer"]["id"]);
    // The token took over the profile the claim had made, and names it.
    let stored = app.store.customer(&profile).await.unwrap().unwrap();
    assert_eq!(stored.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(stored.sub.as_deref(), Some("ada-1"));
}

#[tokio::test]
async fn a_different_identity_is_a_different_person() {
    let app = IdApp::new().await;
    let (_, ada_session) = app.open(json!({ "jwt": ada() })).await;
    let old = ada_session["session_token"].as_str().unwrap();
    let grace =
        token(json!({"sub": "grace-1", "email": "grace@example.com", "name": "Grace Hopper"}));
    let (status, after) = app.change(old, json!({ "jwt": grace })).await;
    assert_eq!(status, StatusCode::OK);
    let new = after["session_token"]
        .as_str()
        .expect("a new session for a new person");
    assert_ne!(new, old);
    assert_ne!(after["customer"]["id"], ada_session["customer"]["id"]);
    assert_eq!(after["customer"]["email"], "grace@example.com");
    assert_eq!(
        app.current(old).await.0,
        StatusCode::UNAUTHORIZED,
        "the old session is revoked"
    );
    // setUser with another email after a trusted session: another person, not trusted.
    let (_, third) = app
        .change(
            new,
            json!({"user": {"name": "Hedy", "email": "hedy@example.com"}}),
        )
        .await;
    assert!(third["session_token"].is_string());
    assert_eq!(third["trusted"], false);
    assert_ne!(third["customer"]["id"], after["customer"]["id"]);
}

#[tokio::test]
async fn trust_ends_with_the_token_until_a_fresh_one_arrives() {
    let app = IdApp::new().await;
    let (_, opened) = app.open(json!({ "jwt": ada() })).await;
    let token_text = opened["session_token"].as_str().unwrap();
    // Let the proof expire: move the session's trusted_until into the past.
    let mut session = app
        .store
        .session_by_token_hash(&identity::hash_token(token_text))
        .await
        .unwrap()
        .unwrap();
    session.trusted_until = Some(now() - 1);
    app.store
        .update_session_identity(&session, &[])
        .await
        .unwrap();
    let (_, expired) = app.current(token_text).await;
    assert_eq!(expired["trusted"], false);
    assert!(expired.get("trusted_until").is_none());
    // A plain setUser of the same person does not restore trust.
    let (_, same) = app
        .change(
            token_text,
            json!({"user": {"name": "Ada", "email": "ada@example.com"}}),
        )
        .await;
    assert_eq!(same["trusted"], false);
    // A fresh token does.
    let (_, fresh) = app.change(token_text, json!({ "jwt": ada() })).await;
    assert_eq!(fresh["trusted"], true);
    assert!(fresh.get("session_token").is_none());
}

#[tokio::test]
async fn single_use_tokens_work_once() {
    let app = IdApp::new().await;
    let jwt = token(json!({"email": "ada@example.com", "aud": "once", "jti": "abc-1"}));
    let first = app
        .send(post_json(
            "/api/v1/apps/once/sessions",
            &json!({"jwt": jwt}).to_string(),
        ))
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let again = app
        .send(post_json(
            "/api/v1/apps/once/sessions",
            &json!({"jwt": jwt}).to_string(),
        ))
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert_eq!(again.json()["error"]["reason"], "token_replayed");
    let no_jti = token(json!({"email": "ada@example.com", "aud": "once"}));
    let missing = app
        .send(post_json(
            "/api/v1/apps/once/sessions",
            &json!({"jwt": no_jti}).to_string(),
        ))
        .await;
    assert_eq!(missing.json()["error"]["reason"], "missing_claim");
}

fn mint_request(key: Option<&str>, body: Value) -> Request<Body> {
    let mut request =
        Request::post("/api/v1/user-identity-jwt").header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    request.body(Body::from(body.to_string())).unwrap()
}

#[tokio::test]
async fn the_server_mints_tokens_for_api_key_holders() {
    let app = IdApp::new().await;
    let good =
        json!({"identityType": "EMAIL", "identity": "Grace@Example.com", "name": "Grace Hopper"});
    let minted = app.send(mint_request(Some(API_KEY), good.clone())).await;
    assert_eq!(minted.status, StatusCode::OK, "{}", minted.text);
    let jwt = minted.json()["token"].as_str().unwrap().to_owned();
    let (status, session) = app.open(json!({ "jwt": jwt })).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(session["trusted"], true);
    assert_eq!(session["customer"]["email"], "grace@example.com");
    assert_eq!(session["greeting"], "Hi Grace!");

    let phone = json!({"identityType": "MOBILE_PHONE_NUMBER", "identity": "+1 415 555 0100", "expiresIn": 30});
    let minted = app.send(mint_request(Some(API_KEY), phone)).await;
    assert_eq!(minted.status, StatusCode::OK, "{}", minted.text);
    let (_, by_phone) = app.open(json!({ "jwt": minted.json()["token"] })).await;
    assert_eq!(by_phone["customer"]["phone"], "+14155550100");
    assert!(by_phone["trusted_until"].as_i64().unwrap() <= now() + 30);

    let cases: [(Option<&str>, Value, u16, &str); 6] = [
        (None, good.clone(), 401, "unauthorized"),
        (Some("tck_wrong"), good.clone(), 401, "unauthorized"),
        (
            Some(API_KEY),
            json!({"identityType": "EMAIL", "identity": "nope"}),
            422,
            "invalid_request",
        ),
        (
            Some(API_KEY),
            json!({"identityType": "FAX", "identity": "1"}),
            422,
            "invalid_request",
        ),
        (
            Some(API_KEY),
            json!({"identityType": "EMAIL", "identity": "a@b.co", "expiresIn": 0}),
            422,
            "invalid_request",
        ),
        (Some("tck_plain"), good, 422, "not_configured"),
    ];
    for (key, body, status, code) in cases {
        let reply = app.send(mint_request(key, body.clone())).await;
        assert_eq!(reply.status.as_u16(), status, "{body}: {}", reply.text);
        assert_eq!(reply.code().as_deref(), Some(code), "{body}");
    }
}
