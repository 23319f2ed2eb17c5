//! Conversations and messages: through the router (`oneshot`) for the HTTP
//! API, and on a real socket for the WebSocket: lifecycle, seq order under
//! concurrency, idempotent sends (also across a restart), the trusted flag
//! through a mid-chat login and an expiry, limits, and live delivery to
//! other tabs and from agents.

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use futures_util::{SinkExt as _, StreamExt as _};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use trustchat_protocol::MessageKind;
use trustchat_server::clock;
use trustchat_server::store::{self, Store};
use trustchat_server::{chat, identity, server, AppState, Config};

use common::{send, with_token, Reply};

/// The HMAC secret of the test app's key `k1` (32 bytes).
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
/// The demo app's origin.
const ORIGIN: &str = "http://127.0.0.1:8080";
/// An origin only the `other` app allows.
const OTHER_ORIGIN: &str = "https://other.example";
/// Long enough for any honest wait.
const PATIENCE: Duration = Duration::from_secs(10);

fn config_text(dir: &std::path::Path, limits: &str) -> String {
    use base64::Engine as _;
    let k = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(SECRET);
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
database_url = "sqlite://{db}"

[limits]
{limits}

[[apps]]
id = "demo"
allowed_origins = ["{ORIGIN}"]
login_url = "http://127.0.0.1:8080/login"
[apps.identity]
keys = [ {{ kty = "oct", kid = "k1", alg = "HS256", k = "{k}" }} ]
leeway_secs = 0
max_token_lifetime_secs = 3600

[[apps]]
id = "other"
allowed_origins = ["{OTHER_ORIGIN}"]
"#,
        db = dir.join("t.db").display(),
    )
}

/// The app through the router, over a temporary database.
struct ChatApp {
    router: Router,
    state: AppState,
    /// Kept so the database lives as long as the app.
    _dir: tempfile::TempDir,
}

impl ChatApp {
    async fn new() -> ChatApp {
        ChatApp::with_limits("").await
    }

    async fn with_limits(limits: &str) -> ChatApp {
        let dir = tempfile::tempdir().unwrap();
        let state = state(dir.path(), limits).await;
        ChatApp {
            router: trustchat_server::app(state.clone()),
            state,
            _dir: dir,
        }
    }

    fn store(&self) -> &Arc<dyn Store> {
        &self.state.store
    }

    async fn send(&self, request: Request<Body>) -> Reply {
        send(self.router.clone(), request).await
    }

    /// Opens a session in `demo` and returns its token and customer id.
    async fn open(&self, body: Value) -> (String, String) {
        let reply = self
            .send(common::post_json(
                "/api/v1/apps/demo/sessions",
                &body.to_string(),
            ))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        let json = reply.json();
        (
            json["session_token"].as_str().unwrap().to_owned(),
            json["customer"]["id"].as_str().unwrap().to_owned(),
        )
    }

    /// `POST /api/v1/messages`.
    async fn post(&self, token: &str, client_id: &str, body: &str) -> Reply {
        let request = Request::post("/api/v1/messages")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(
                json!({"client_id": client_id, "body": body}).to_string(),
            ))
            .unwrap();
        self.send(request).await
    }

    /// Posts a new message, asserting the 201; returns the message.
    async fn say(&self, token: &str, body: &str) -> Value {
        let reply = self.post(token, &uuid(), body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.json()
    }

    /// `GET /api/v1/messages?after=...`.
    async fn page(&self, token: &str, after: &str) -> Reply {
        self.send(with_token(
            "GET",
            &format!("/api/v1/messages?after={after}"),
            token,
        ))
        .await
    }

    /// `POST /api/v1/sessions/current/identity`.
    async fn change(&self, token: &str, body: Value) -> Value {
        let request = Request::post("/api/v1/sessions/current/identity")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let reply = self.send(request).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.json()
    }
}

async fn state(dir: &std::path::Path, limits: &str) -> AppState {
    let config = Config::from_toml(&config_text(dir, limits)).unwrap();
    let store = store::connect(&config.server.database_url).await.unwrap();
    AppState::new(config, store).await.unwrap()
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An HS256 identity token for `demo` with `claims`.
fn jwt(claims: Value) -> String {
    let now = clock::now_secs();
    // The site's user id: one per email here.
    let sub = claims["email"].as_str().unwrap_or("user-1").to_owned();
    let mut all = json!({"sub": sub, "aud": "demo", "iat": now, "exp": now + 600});
    for (k, v) in claims.as_object().unwrap() {
        all[k] = v.clone();
    }
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    encode(&header, &all, &EncodingKey::from_secret(SECRET)).unwrap()
}

fn ada() -> String {
    jwt(json!({"email": "ada@example.com", "name": "Ada Lovelace"}))
}

#[tokio::test]
async fn a_first_message_opens_a_conversation_later_ones_join_and_closing_starts_anew() {
    let app = ChatApp::new().await;
    let (token, _) = app.open(json!({})).await;
    let empty = app.page(&token, "0").await.json();
    assert_eq!(
        empty,
        json!({"conversation_id": null, "messages": [], "has_more": false, "agent_read_seq": 0, "customer_read_seq": 0})
    );

    let first = app.say(&token, "hello").await;
    let second = app.say(&token, "anyone?").await;
    let conversation = first["conversation_id"].as_str().unwrap().to_owned();
    assert_eq!(
        (first["seq"].as_i64(), second["seq"].as_i64()),
        (Some(1), Some(2))
    );
    assert_eq!(second["conversation_id"], conversation.as_str());
    assert_eq!(first["author"], "customer");
    assert_eq!(first["trusted"], false);

    let page = app.page(&token, "0").await.json();
    assert_eq!(page["conversation_id"], conversation.as_str());
    assert_eq!(page["status"], "open");
    let bodies: Vec<_> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].clone())
        .collect();
    assert_eq!(bodies, [json!("hello"), json!("anyone?")]);
    assert_eq!(app.page(&token, "1").await.json()["messages"][0]["seq"], 2);

    let record = app
        .state
        .store
        .conversation(&conversation)
        .await
        .unwrap()
        .unwrap();
    let closed = chat::close_conversation(app.state.ctx(), &record)
        .await
        .unwrap();
    assert!(closed.is_some());
    let page = app.page(&token, "0").await.json();
    assert_eq!(
        (page["conversation_id"].as_str(), page["status"].as_str()),
        (Some(conversation.as_str()), Some("closed"))
    );

    let third = app.say(&token, "back again").await;
    assert_ne!(
        third["conversation_id"],
        conversation.as_str(),
        "a closed conversation is not reopened"
    );
    assert_eq!(third["seq"], 1);
    let page = app.page(&token, "0").await.json();
    assert_eq!(page["conversation_id"], third["conversation_id"]);
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);

    // Somebody else never lands in this customer's conversation.
    let (stranger, _) = app.open(json!({})).await;
    let theirs = app.say(&stranger, "hi").await;
    assert_ne!(theirs["conversation_id"], third["conversation_id"]);
    assert_eq!(theirs["seq"], 1);
}

#[tokio::test]
async fn concurrent_sends_get_every_seq_once_in_order() {
    let app =
        Arc::new(ChatApp::with_limits("messages_per_minute = 100000\nmessage_burst = 1000").await);
    let (token, _) = app.open(json!({})).await;
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let (app, token) = (Arc::clone(&app), token.clone());
            tokio::spawn(async move {
                for i in 0..15 {
                    app.say(&token, &format!("task {task} message {i}")).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let page = app.page(&token, "0").await.json();
    let messages = page["messages"].as_array().unwrap();
    let seqs: Vec<i64> = messages
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=120).collect::<Vec<_>>());
    let conversations: std::collections::HashSet<_> = messages
        .iter()
        .map(|m| m["conversation_id"].clone())
        .collect();
    assert_eq!(
        conversations.len(),
        1,
        "two tabs sending at once share one conversation"
    );
}

#[tokio::test]
async fn the_same_client_id_returns_the_stored_message_and_stores_nothing() {
    let app = ChatApp::new().await;
    let (token, _) = app.open(json!({})).await;
    let client_id = uuid();
    let first = app.post(&token, &client_id, "once").await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = app.post(&token, &client_id, "once").await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json(), first.json());
    let shouted = app.post(&token, &client_id.to_uppercase(), "once").await;
    assert_eq!(
        (shouted.status, shouted.json()["id"].clone()),
        (StatusCode::OK, first.json()["id"].clone())
    );
    assert_eq!(first.json()["client_id"], client_id.as_str());
    assert_eq!(
        app.page(&token, "0").await.json()["messages"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Another customer's same client_id is their own message.
    let (other, _) = app.open(json!({})).await;
    assert_eq!(
        app.post(&other, &client_id, "mine").await.status,
        StatusCode::CREATED
    );
}

/// Posts one message and checks the status and error code.
async fn check(
    app: &ChatApp,
    token: &str,
    client_id: &str,
    body: &str,
    expected: (u16, Option<&str>),
) {
    let reply = app.post(token, client_id, body).await;
    let got = (reply.status.as_u16(), reply.code());
    let expected = (expected.0, expected.1.map(str::to_owned));
    assert_eq!(
        got,
        expected,
        "client_id {client_id:?}, body of {} chars: {}",
        body.chars().count(),
        reply.text
    );
}

#[tokio::test]
async fn limits_have_clear_errors() {
    let app = ChatApp::new().await;
    let (token, _) = app.open(json!({})).await;
    check(&app, &token, &uuid(), "", (422, Some("empty_message"))).await;
    check(
        &app,
        &token,
        &uuid(),
        " \n\t ",
        (422, Some("empty_message")),
    )
    .await;
    check(
        &app,
        &token,
        &uuid(),
        &"a".repeat(4_001),
        (422, Some("message_too_long")),
    )
    .await;
    check(&app, &token, &uuid(), &"é".repeat(4_000), (201, None)).await;
    check(
        &app,
        &token,
        "not-a-uuid",
        "hi",
        (422, Some("invalid_request")),
    )
    .await;
    check(&app, &token, "", "hi", (422, Some("invalid_request"))).await;
    let field = app.post(&token, "nope", "hi").await.json()["error"]["field"].clone();
    assert_eq!(field, "client_id");
    let missing = app
        .send(common::post_json(
            "/api/v1/messages",
            r#"{"client_id":"x","body":"y"}"#,
        ))
        .await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    for bad in ["-1", "x", "1.5", ""] {
        let reply = app.page(&token, bad).await;
        assert_eq!(
            (reply.status.as_u16(), reply.code().as_deref()),
            (422, Some("invalid_request")),
            "after={bad}"
        );
    }
}

#[tokio::test]
async fn too_many_messages_are_refused_with_retry_after() {
    let app = ChatApp::with_limits("messages_per_minute = 6\nmessage_burst = 3").await;
    let (token, _) = app.open(json!({})).await;
    for _ in 0..3 {
        app.say(&token, "quick").await;
    }
    let refused = app.post(&token, &uuid(), "one too many").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.code().as_deref(), Some("rate_limited"));
    let retry_after = refused.json()["error"]["retry_after"].as_u64().unwrap();
    assert!(
        (1..=10).contains(&retry_after),
        "6/min refills one every 10 s, got {retry_after}"
    );
    assert_eq!(
        refused.header("retry-after"),
        Some(retry_after.to_string().as_str())
    );
    // Another session is not affected.
    let (other, _) = app.open(json!({})).await;
    app.say(&other, "fine").await;
}

#[tokio::test]
async fn trust_follows_the_session_at_receipt_through_login_and_expiry() {
    let app = ChatApp::new().await;
    // Ada has a profile already, from an earlier visit.
    app.open(json!({"jwt": ada()})).await;
    let (token, anonymous_id) = app.open(json!({})).await;
    let before = app.say(&token, "before login").await;
    assert_eq!(before["trusted"], false);

    let logged_in = app.change(&token, json!({"jwt": ada()})).await;
    assert_eq!(logged_in["trusted"], true);
    assert_eq!(
        logged_in["customer"]["id"],
        anonymous_id.as_str(),
        "the session's customer keeps its id"
    );
    let after = app.say(&token, "after login").await;
    assert_eq!(after["trusted"], true);
    assert_eq!(
        after["conversation_id"], before["conversation_id"],
        "the login keeps the conversation"
    );
    assert_eq!(after["seq"], 2);

    // The proof expires.
    let mut session = app
        .store()
        .session_by_token_hash(&identity::hash_token(&token))
        .await
        .unwrap()
        .unwrap();
    session.trusted_until = Some(clock::now_secs() - 1);
    app.store()
        .update_session_identity(&session, &[])
        .await
        .unwrap();
    let expired = app.say(&token, "after expiry").await;
    assert_eq!(expired["trusted"], false);

    let page = app.page(&token, "0").await.json();
    let trusted: Vec<_> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["trusted"].clone())
        .collect();
    assert_eq!(
        trusted,
        [json!(false), json!(true), json!(false)],
        "earlier messages stay as they were"
    );

    // A resend of the pre-login message after the move is still the same.
    let resent = app
        .post(
            &token,
            before["client_id"].as_str().unwrap(),
            "before login",
        )
        .await;
    assert_eq!(
        (resent.status, resent.json()["id"].clone()),
        (StatusCode::OK, before["id"].clone())
    );
}

#[tokio::test]
async fn a_different_identity_never_joins_the_old_conversation() {
    let app = ChatApp::new().await;
    let (token, _) = app
        .open(json!({"user": {"name": "Ada", "email": "ada@example.com"}}))
        .await;
    let ada_message = app.say(&token, "I am Ada").await;
    let bob = app
        .change(
            &token,
            json!({"jwt": jwt(json!({"email": "bob@example.com", "name": "Bob"}))}),
        )
        .await;
    let bob_token = bob["session_token"]
        .as_str()
        .expect("a different person gets a new session");
    assert_eq!(
        app.page(&token, "0").await.status,
        StatusCode::UNAUTHORIZED,
        "the old session is revoked"
    );
    let page = app.page(bob_token, "0").await.json();
    assert_eq!(
        page["conversation_id"],
        Value::Null,
        "Bob sees nothing of Ada's chat"
    );
    let bob_message = app.say(bob_token, "I am Bob").await;
    assert_ne!(
        bob_message["conversation_id"],
        ada_message["conversation_id"]
    );
    assert_eq!(bob_message["trusted"], true);
}

// --- On a real socket ------------------------------------------------------

/// A server on 127.0.0.1:0 whose state the test holds.
struct Live {
    address: SocketAddr,
    state: AppState,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl Live {
    async fn start(limits: &str) -> Live {
        let dir = tempfile::tempdir().unwrap();
        let mut live = Live::start_in(dir.path(), limits).await;
        live._dir = Some(dir);
        live
    }

    async fn start_in(dir: &std::path::Path, limits: &str) -> Live {
        let state = state(dir, limits).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(state.clone(), listener, async {
            let _ = stopped.await;
        }));
        Live {
            address,
            state,
            stop,
            task,
            _dir: None,
        }
    }

    async fn stop(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    async fn open(&self) -> (String, String) {
        let reply: Value = reqwest::Client::new()
            .post(self.url("/api/v1/apps/demo/sessions"))
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            reply["session_token"].as_str().unwrap().to_owned(),
            reply["customer"]["id"].as_str().unwrap().to_owned(),
        )
    }

    async fn post(&self, token: &str, client_id: &str, body: &str) -> (u16, Value) {
        let reply = reqwest::Client::new()
            .post(self.url("/api/v1/messages"))
            .bearer_auth(token)
            .json(&json!({"client_id": client_id, "body": body}))
            .send()
            .await
            .unwrap();
        (reply.status().as_u16(), reply.json().await.unwrap())
    }

    /// A WebSocket to `/api/v1/ws{query}` with an `Origin` header.
    async fn socket(&self, query: &str, origin: Option<&str>) -> Socket {
        let mut request = format!("ws://{}/api/v1/ws{query}", self.address)
            .into_client_request()
            .unwrap();
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("origin", origin.parse().unwrap());
        }
        let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        Socket(socket)
    }

    /// An authenticated socket, past its `ready` frame.
    async fn ready(&self, token: &str) -> (Socket, Value) {
        let mut socket = self.socket("", Some(ORIGIN)).await;
        socket
            .send(json!({"type": "auth", "session_token": token}))
            .await;
        let ready = socket.frame().await;
        assert_eq!(ready["type"], "ready", "{ready}");
        (socket, ready)
    }
}

struct Socket(
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
);

/// What the server did next.
#[derive(Debug, PartialEq)]
enum Next {
    /// A JSON text frame.
    Frame(Value),
    /// A close frame with this code.
    Closed(u16),
}

impl Socket {
    async fn send(&mut self, frame: Value) {
        self.0
            .send(WsMessage::Text(frame.to_string().into()))
            .await
            .unwrap();
    }

    async fn send_text(&mut self, text: String) {
        self.0.send(WsMessage::Text(text.into())).await.unwrap();
    }

    /// The next text frame or close, skipping pings.
    async fn next(&mut self) -> Next {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.0.next())
                .await
                .expect("nothing from the server in time");
            match message {
                Some(Ok(WsMessage::Text(text))) => {
                    return Next::Frame(serde_json::from_str(&text).unwrap())
                }
                Some(Ok(WsMessage::Close(frame))) => {
                    return Next::Closed(frame.map_or(1005, |f| u16::from(f.code)))
                }
                Some(Ok(_)) => continue,
                Some(Err(error)) => panic!("socket error: {error}"),
                None => panic!("socket ended without a close frame"),
            }
        }
    }

    async fn frame(&mut self) -> Value {
        match self.next().await {
            Next::Frame(frame) => frame,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    /// Reads until a close frame and returns its code, failing on frames
    /// other than an `error` with `code`.
    async fn closed(&mut self, error: Option<&str>) -> u16 {
        if let Some(code) = error {
            let frame = self.frame().await;
            assert_eq!(
                (frame["type"].as_str(), frame["code"].as_str()),
                (Some("error"), Some(code)),
                "{frame}"
            );
        }
        match self.next().await {
            Next::Closed(code) => code,
            other => panic!("expected a close, got {other:?}"),
        }
    }

    /// Asserts nothing arrives for a moment.
    async fn quiet(&mut self) {
        let got = tokio::time::timeout(Duration::from_millis(200), self.0.next()).await;
        assert!(got.is_err(), "expected silence, got {got:?}");
    }
}

#[tokio::test]
async fn the_token_must_come_in_the_first_frame_not_the_url() {
    let live = Live::start("ws_auth_timeout_ms = 300").await;
    let (token, _) = live.open().await;
    let mut socket = live
        .socket(&format!("?session_token={token}"), Some(ORIGIN))
        .await;
    socket.send(json!({"type": "ping"})).await;
    assert_eq!(
        socket.closed(None).await,
        1008,
        "a token in the URL is ignored"
    );
    let mut silent = live.socket("", Some(ORIGIN)).await;
    assert_eq!(silent.closed(None).await, 1008, "no auth frame in time");
    let mut wrong = live.socket("", Some(ORIGIN)).await;
    wrong
        .send(json!({"type": "auth", "session_token": "tcs_nope"}))
        .await;
    assert_eq!(wrong.closed(Some("unauthorized")).await, 4001);
    live.stop().await;
}

#[tokio::test]
async fn origins_are_checked_against_the_sessions_app() {
    let live = Live::start("").await;
    let (token, _) = live.open().await;
    let mut other_app = live.socket("", Some(OTHER_ORIGIN)).await;
    other_app
        .send(json!({"type": "auth", "session_token": token}))
        .await;
    assert_eq!(other_app.closed(Some("origin_not_allowed")).await, 1008);
    let request = format!("ws://{}/api/v1/ws", live.address)
        .into_client_request()
        .map(|mut r| {
            r.headers_mut()
                .insert("origin", "https://evil.example".parse().unwrap());
            r
        });
    let refused = tokio_tungstenite::connect_async(request.unwrap()).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("expected a 403, got {other:?}"),
    }
    // No Origin (not a browser) is allowed, as over HTTP.
    let mut tool = live.socket("", None).await;
    tool.send(json!({"type": "auth", "session_token": token}))
        .await;
    assert_eq!(tool.frame().await["type"], "ready");
    live.stop().await;
}

#[tokio::test]
async fn frames_reach_every_tab_and_agent_replies_arrive_live() {
    let live = Live::start("").await;
    let (token, customer_id) = live.open().await;
    let (mut tab1, ready) = live.ready(&token).await;
    assert_eq!(
        ready,
        json!({"type": "ready", "conversation_id": null, "last_seq": 0})
    );
    let (mut tab2, _) = live.ready(&token).await;

    // A send over the socket: ack to the sender, message to the other tab.
    let client_id = uuid();
    tab1.send(json!({"type": "send", "client_id": client_id, "body": "hello"}))
        .await;
    // The sender's own socket hears of the new conversation after its ack.
    let ack = tab1.frame().await;
    let opened = tab1.frame().await;
    assert_eq!(opened["type"], "conversation", "{opened}");
    assert_eq!(opened["status"], "open");
    assert_eq!(
        (ack["type"].as_str(), ack["client_id"].as_str()),
        (Some("ack"), Some(client_id.as_str())),
        "{ack}"
    );
    assert_eq!(ack["message"]["seq"], 1);
    let conversation_id = ack["message"]["conversation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(opened["conversation_id"], conversation_id.as_str());
    assert_eq!(tab2.frame().await["type"], "conversation");
    let seen = tab2.frame().await;
    assert_eq!(
        (seen["type"].as_str(), seen["message"]["id"].clone()),
        (Some("message"), ack["message"]["id"].clone())
    );

    // The same send again: the same ack, nobody else hears of it.
    tab1.send(json!({"type": "send", "client_id": client_id, "body": "hello"}))
        .await;
    assert_eq!(tab1.frame().await, ack);
    tab2.quiet().await;

    // A message over HTTP shows up on both sockets.
    let (status, posted) = live.post(&token, &uuid(), "via http").await;
    assert_eq!(status, 201);
    for tab in [&mut tab1, &mut tab2] {
        let frame = tab.frame().await;
        assert_eq!(
            (frame["type"].as_str(), frame["message"]["seq"].as_i64()),
            (Some("message"), Some(2))
        );
        assert_eq!(frame["message"]["id"], posted["id"]);
    }

    // An agent's reply reaches the customer in real time, untrusted.
    let state = &live.state;
    let reply = chat::post_agent_message(
        state.ctx(),
        &conversation_id,
        "demo",
        "Grace",
        "How can I help?",
        MessageKind::Text,
        None,
    )
    .await
    .unwrap();
    for tab in [&mut tab1, &mut tab2] {
        let frame = tab.frame().await;
        assert_eq!(frame["type"], "message");
        assert_eq!(frame["message"]["author"], "agent");
        assert_eq!(frame["message"]["author_name"], "Grace");
        assert_eq!(frame["message"]["seq"], 3);
        assert_eq!(frame["message"]["trusted"], false);
        assert_eq!(frame["message"]["id"], reply.id.as_str());
    }
    live.post(&token, &uuid(), "thanks").await;

    // Closing is announced.
    let record = state
        .store
        .conversation(&conversation_id)
        .await
        .unwrap()
        .unwrap();
    chat::close_conversation(state.ctx(), &record)
        .await
        .unwrap();
    for tab in [&mut tab1, &mut tab2] {
        assert_eq!(tab.frame().await["type"], "message");
        let frame = tab.frame().await;
        assert_eq!(
            frame,
            json!({"type": "conversation", "conversation_id": conversation_id, "status": "closed"})
        );
    }
    let refused = chat::post_agent_message(
        state.ctx(),
        &conversation_id,
        "demo",
        "Grace",
        "hi",
        MessageKind::Text,
        None,
    )
    .await;
    assert!(matches!(refused, Err(chat::SendError::NoOpenConversation)));

    // A reconnecting tab learns where it stands.
    let (_, ready) = live.ready(&token).await;
    assert_eq!(
        ready,
        json!({"type": "ready", "conversation_id": conversation_id, "last_seq": 4})
    );
    let _ = customer_id;
    live.stop().await;
}

#[tokio::test]
async fn bad_frames_get_errors_and_worse_ones_close() {
    let live = Live::start("messages_per_minute = 6\nmessage_burst = 1").await;
    let (token, _) = live.open().await;
    let (mut socket, _) = live.ready(&token).await;
    socket.send(json!({"type": "dance"})).await;
    assert_eq!(socket.frame().await["code"], "invalid_request");
    socket
        .send(json!({"type": "send", "client_id": uuid(), "body": "  "}))
        .await;
    assert_eq!(socket.frame().await["code"], "empty_message");
    let long = uuid();
    socket
        .send(json!({"type": "send", "client_id": long, "body": "a".repeat(4_001)}))
        .await;
    let error = socket.frame().await;
    assert_eq!(
        (error["code"].as_str(), error["client_id"].as_str()),
        (Some("message_too_long"), Some(long.as_str()))
    );
    socket
        .send(json!({"type": "send", "client_id": "nope", "body": "hi"}))
        .await;
    assert_eq!(socket.frame().await["code"], "invalid_request");
    socket
        .send(json!({"type": "send", "client_id": uuid(), "body": "one"}))
        .await;
    assert_eq!(socket.frame().await["type"], "ack");
    assert_eq!(socket.frame().await["type"], "conversation");
    socket
        .send(json!({"type": "send", "client_id": uuid(), "body": "two"}))
        .await;
    let limited = socket.frame().await;
    assert_eq!(limited["code"], "rate_limited", "{limited}");
    assert!(limited["retry_after"].as_u64().unwrap() >= 1);
    socket.send(json!({"type": "ping"})).await;
    assert_eq!(
        socket.frame().await,
        json!({"type": "pong"}),
        "the connection survived"
    );
    socket.send_text("not json".into()).await;
    assert_eq!(socket.closed(None).await, 1007);

    let (mut big, _) = live.ready(&token).await;
    big.send_text(format!(
        r#"{{"type":"send","client_id":"{}","body":"{}"}}"#,
        uuid(),
        "a".repeat(17 * 1024)
    ))
    .await;
    assert_eq!(big.closed(None).await, 1009);
    live.stop().await;
}

#[tokio::test]
async fn connections_per_session_are_limited_and_revoking_closes_them() {
    let live = Live::start("ws_connections_per_session = 2").await;
    let (token, _) = live.open().await;
    let (mut first, _) = live.ready(&token).await;
    let (mut second, _) = live.ready(&token).await;
    let mut third = live.socket("", Some(ORIGIN)).await;
    third
        .send(json!({"type": "auth", "session_token": token}))
        .await;
    assert_eq!(third.closed(Some("too_many_connections")).await, 4029);

    let revoked = reqwest::Client::new()
        .delete(live.url("/api/v1/sessions/current"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    assert_eq!(first.closed(None).await, 4001);
    assert_eq!(second.closed(None).await, 4001);
    let mut after = live.socket("", Some(ORIGIN)).await;
    after
        .send(json!({"type": "auth", "session_token": token}))
        .await;
    assert_eq!(after.closed(Some("unauthorized")).await, 4001);
    live.stop().await;
}

#[tokio::test]
async fn a_resend_after_a_restart_finds_the_stored_message() {
    let dir = tempfile::tempdir().unwrap();
    let live = Live::start_in(dir.path(), "").await;
    let (token, _) = live.open().await;
    let client_id = uuid();
    let (status, first) = live.post(&token, &client_id, "survives").await;
    assert_eq!(status, 201);
    live.stop().await;

    let live = Live::start_in(dir.path(), "").await;
    let (mut socket, ready) = live.ready(&token).await;
    assert_eq!(ready["last_seq"], 1);
    socket
        .send(json!({"type": "send", "client_id": client_id, "body": "survives"}))
        .await;
    let ack = socket.frame().await;
    assert_eq!(
        ack["message"], first,
        "the resend over the socket is acknowledged with the stored message"
    );
    let (status, again) = live.post(&token, &client_id, "survives").await;
    assert_eq!((status, again), (200, first));
    let page: Value = reqwest::Client::new()
        .get(live.url("/api/v1/messages?after=0"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
    live.stop().await;
}

/// A connection driven over channels, as `serve` allows: frames in, frames
/// out, and the task running it.
struct Piped {
    incoming: tokio::sync::mpsc::UnboundedSender<axum::extract::ws::Message>,
    outgoing: tokio::sync::mpsc::UnboundedReceiver<axum::extract::ws::Message>,
    task: tokio::task::JoinHandle<()>,
}

/// Runs `serve` over channels; with `stalled`, the sink never completes a
/// write, like a client that stopped reading and whose TCP window is full.
fn piped(state: &AppState, stalled: bool) -> Piped {
    use axum::extract::ws::Message;
    let (incoming, from_client) = tokio::sync::mpsc::unbounded_channel::<Message>();
    let (to_client, outgoing) = tokio::sync::mpsc::unbounded_channel::<Message>();
    let stream = futures_util::stream::unfold(from_client, |mut rx| async move {
        rx.recv()
            .await
            .map(|message| (Ok::<_, axum::Error>(message), rx))
    });
    let sink = futures_util::sink::unfold(to_client, move |tx, message: Message| async move {
        if stalled {
            std::future::pending::<()>().await;
        }
        tx.send(message)
            .map_err(|_| axum::Error::new("client gone"))?;
        Ok::<_, axum::Error>(tx)
    });
    let task = tokio::spawn(trustchat_server::http::ws::serve(
        state.clone(),
        None,
        None,
        Box::pin(sink),
        Box::pin(stream),
    ));
    Piped {
        incoming,
        outgoing,
        task,
    }
}

impl Piped {
    fn auth(&self, token: &str) {
        let frame = json!({"type": "auth", "session_token": token}).to_string();
        self.incoming
            .send(axum::extract::ws::Message::Text(frame.into()))
            .unwrap();
    }

    async fn frame(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.outgoing.recv())
                .await
                .unwrap()
                .unwrap();
            if let axum::extract::ws::Message::Text(text) = message {
                return serde_json::from_str(&text).unwrap();
            }
        }
    }
}

#[tokio::test]
async fn a_stalled_connection_is_dropped_without_holding_up_the_others() {
    let app = ChatApp::new().await;
    let (token, _) = app.open(json!({})).await;
    let conversation = app.say(&token, "hello").await["conversation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let stalled = piped(&app.state, true);
    stalled.auth(&token);
    let mut reader = piped(&app.state, false);
    reader.auth(&token);
    assert_eq!(reader.frame().await["type"], "ready");
    // Both are subscribed once the reader is ready and the stalled one is
    // counted (it blocks on writing its own ready frame).
    tokio::time::timeout(PATIENCE, async {
        while app.state.hub.connections(&session_id(&app, &token).await) < 2 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();

    let replies = trustchat_server::hub::SUBSCRIBER_BUFFER + 50;
    for i in 0..replies {
        chat::post_agent_message(
            app.state.ctx(),
            &conversation,
            "demo",
            "Grace",
            &format!("reply {i}"),
            MessageKind::Text,
            None,
        )
        .await
        .unwrap();
        // The reader gets each reply right away, stalled neighbour or not.
        let frame = reader.frame().await;
        assert_eq!(frame["message"]["body"], format!("reply {i}"));
    }
    tokio::time::timeout(PATIENCE, stalled.task)
        .await
        .expect("the stalled connection was let go")
        .unwrap();
    assert_eq!(
        app.state.hub.connections(&session_id(&app, &token).await),
        1
    );
}

async fn session_id(app: &ChatApp, token: &str) -> String {
    app.store()
        .session_by_token_hash(&identity::hash_token(token))
        .await
        .unwrap()
        .unwrap()
        .id
}
