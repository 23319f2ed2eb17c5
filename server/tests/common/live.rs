//! A real server on a loopback socket with two apps (`demo` with identity
//! keys and a login URL, `other`), agents, customers, and their WebSockets:
//! the harness of the tests that talk to the server as its users do.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use trustchat_server::clock;
use trustchat_server::{agents, server, store, AppState, Config};

pub const SECRET: &[u8] = b"agent-tests-secret-of-32-bytes!!";
pub const PATIENCE: Duration = Duration::from_secs(5);
pub const LOGIN_URL: &str = "http://127.0.0.1:8080/login";
pub const PASSWORD: &str = "correct-horse-battery";

pub fn config_text(dir: &std::path::Path, extra: &str) -> String {
    config_on(&format!("sqlite://{}", dir.join("t.db").display()), extra)
}

/// The config of [`config_text`] on the database at `database_url`.
pub fn config_on(database_url: &str, extra: &str) -> String {
    config_full(database_url, "", extra)
}

/// The config of [`config_on`] with `demo_extra` at the end of app
/// `demo` (its `[[apps.rules]]`, `[[apps.api_keys]]`) and `extra` at the
/// end of app `other` (or new top-level tables: `[[teams]]`).
pub fn config_full(database_url: &str, demo_extra: &str, extra: &str) -> String {
    use base64::Engine as _;
    let k = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(SECRET);
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
database_url = "{database_url}"
database_max_connections = 8

[[apps]]
id = "demo"
allowed_origins = ["http://127.0.0.1:8080"]
login_url = "{LOGIN_URL}"
[apps.identity]
keys = [ {{ kty = "oct", kid = "k1", alg = "HS256", k = "{k}" }} ]
max_token_lifetime_secs = 3600
{demo_extra}

[[apps]]
id = "other"
{extra}
"#,
    )
}

pub struct Live {
    /// Where it listens.
    pub address: SocketAddr,
    /// Its state, to reach the store and the hub.
    pub state: AppState,
    /// A client for plain requests.
    pub http: reqwest::Client,
    /// Stops the server (also when dropped).
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// The server's task.
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// Holds the database and config for as long as a server uses them.
    dir: std::sync::Arc<tempfile::TempDir>,
}

/// A logged-in agent: cookie, CSRF token, id.
#[derive(Clone)]
pub struct AgentLogin {
    /// `name=value` of the session cookie.
    pub cookie: String,
    /// The CSRF token.
    pub csrf: String,
    /// The agent's id.
    pub id: String,
}

impl Live {
    pub async fn start() -> Live {
        Live::start_with("").await
    }

    pub async fn start_with(extra: &str) -> Live {
        let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
        Live::start_in(dir, extra).await
    }

    /// Another server on the same database and config as `self`.
    pub async fn second(&self) -> Live {
        Live::start_in(self.dir.clone(), "").await
    }

    /// A server on the database at `database_url` (Postgres: call it
    /// again for another server of the same database).
    pub async fn on_database(database_url: &str) -> Live {
        let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
        Live::serve(
            Config::from_toml(&config_on(database_url, "")).unwrap(),
            dir,
        )
        .await
    }

    /// A server whose app `demo` ends with `demo_extra` and app `other`
    /// with `extra` (see [`config_full`]).
    pub async fn start_full(demo_extra: &str, extra: &str) -> Live {
        let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        Live::serve(
            Config::from_toml(&config_full(&url, demo_extra, extra)).unwrap(),
            dir,
        )
        .await
    }

    /// A server on `config`, whose files (its SQLite database) are in
    /// `dir`: a test's own config, or another server (a restart) on the
    /// database of [`Live::dir`].
    pub async fn with_config(config: Config, dir: std::sync::Arc<tempfile::TempDir>) -> Live {
        Live::serve(config, dir).await
    }

    /// The directory holding this server's database.
    pub fn dir(&self) -> std::sync::Arc<tempfile::TempDir> {
        self.dir.clone()
    }

    async fn start_in(dir: std::sync::Arc<tempfile::TempDir>, extra: &str) -> Live {
        Live::serve(
            Config::from_toml(&config_text(dir.path(), extra)).unwrap(),
            dir,
        )
        .await
    }

    async fn serve(config: Config, dir: std::sync::Arc<tempfile::TempDir>) -> Live {
        let store =
            store::connect_with(&config.server.database_url, &config.server.store_options())
                .await
                .unwrap();
        let state = AppState::new(config, store).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(state.clone(), listener, async {
            let _ = stopped.await;
        }));
        Live {
            address,
            state,
            http: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
            dir,
        }
    }

    /// Stops the server as SIGTERM would, and waits until it has.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub async fn add_agent(&self, email: &str, name: &str) -> String {
        agents::add_agent(self.state.store.as_ref(), email, name, PASSWORD)
            .await
            .unwrap()
            .id
    }

    pub async fn login_reply(&self, email: &str, password: &str) -> reqwest::Response {
        self.http
            .post(self.url("/api/v1/agent/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
    }

    pub async fn login(&self, email: &str) -> AgentLogin {
        let reply = self.login_reply(email, PASSWORD).await;
        assert_eq!(reply.status(), 200);
        let cookie = reply.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let body: Value = reply.json().await.unwrap();
        AgentLogin {
            cookie,
            csrf: body["csrf_token"].as_str().unwrap().to_owned(),
            id: body["agent"]["id"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn get(&self, agent: &AgentLogin, path: &str) -> (u16, Value) {
        let reply = self
            .http
            .get(self.url(&format!("/api/v1/agent{path}")))
            .header("cookie", &agent.cookie)
            .send()
            .await
            .unwrap();
        (
            reply.status().as_u16(),
            reply.json().await.unwrap_or(Value::Null),
        )
    }

    pub async fn post(&self, agent: &AgentLogin, path: &str, body: Value) -> (u16, Value) {
        let reply = self
            .http
            .post(self.url(&format!("/api/v1/agent{path}")))
            .header("cookie", &agent.cookie)
            .header("x-csrf-token", &agent.csrf)
            .json(&body)
            .send()
            .await
            .unwrap();
        (
            reply.status().as_u16(),
            reply.json().await.unwrap_or(Value::Null),
        )
    }

    /// Opens a customer session in `demo`.
    pub async fn customer(&self, body: Value) -> (String, Value) {
        let reply: Value = self
            .http
            .post(self.url("/api/v1/apps/demo/sessions"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (reply["session_token"].as_str().unwrap().to_owned(), reply)
    }

    pub async fn say(&self, token: &str, body: &str) -> Value {
        let reply = self
            .http
            .post(self.url("/api/v1/messages"))
            .bearer_auth(token)
            .json(&json!({"client_id": uuid::Uuid::new_v4().to_string(), "body": body}))
            .send()
            .await
            .unwrap();
        assert!(reply.status().is_success());
        reply.json().await.unwrap()
    }

    /// The agent's console socket, past `ready`.
    pub async fn console(&self, agent: &AgentLogin) -> Socket {
        let mut request = format!("ws://{}/api/v1/agent/ws", self.address)
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("cookie", agent.cookie.parse().unwrap());
        request.headers_mut().insert(
            "origin",
            format!("http://{}", self.address).parse().unwrap(),
        );
        let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let mut socket = Socket(socket);
        let ready = socket.frame().await;
        assert_eq!(ready["type"], "ready", "{ready}");
        assert_eq!(ready["agent"]["id"], agent.id.as_str());
        socket
    }

    /// A customer socket, past `ready`.
    pub async fn widget(&self, token: &str) -> Socket {
        self.widget_ready(token).await.0
    }

    /// A customer socket and its `ready` frame.
    pub async fn widget_ready(&self, token: &str) -> (Socket, Value) {
        let request = format!("ws://{}/api/v1/ws", self.address)
            .into_client_request()
            .unwrap();
        let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let mut socket = Socket(socket);
        socket
            .0
            .send(WsMessage::Text(
                json!({"type": "auth", "session_token": token})
                    .to_string()
                    .into(),
            ))
            .await
            .unwrap();
        let ready = socket.frame().await;
        assert_eq!(ready["type"], "ready", "{ready}");
        (socket, ready)
    }
}

pub struct Socket(
    pub tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
);

impl Socket {
    pub async fn frame(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.0.next())
                .await
                .expect("nothing in time");
            match message {
                Some(Ok(WsMessage::Text(text))) => return serde_json::from_str(&text).unwrap(),
                Some(Ok(WsMessage::Close(frame))) => panic!("closed: {frame:?}"),
                Some(Ok(_)) => continue,
                other => panic!("socket ended: {other:?}"),
            }
        }
    }

    /// The next `message` frame written by an agent.
    pub async fn agent_message(&mut self) -> Value {
        loop {
            let frame = self.next_of("message").await;
            if frame["message"]["author"] == "agent" {
                return frame;
            }
        }
    }

    /// Waits for the server to close the socket with `code`, skipping
    /// frames before it.
    pub async fn closed_with(&mut self, code: u16) {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.0.next())
                .await
                .expect("no close in time");
            match message {
                Some(Ok(WsMessage::Close(Some(frame)))) => {
                    assert_eq!(u16::from(frame.code), code, "{frame:?}");
                    return;
                }
                Some(Ok(_)) => continue,
                other => panic!("socket ended without a close frame: {other:?}"),
            }
        }
    }

    /// Sends a message on this socket and returns its `ack` frame.
    pub async fn send_message(&mut self, body: &str) -> Value {
        let client_id = uuid::Uuid::new_v4().to_string();
        self.0
            .send(WsMessage::Text(
                json!({"type": "send", "client_id": client_id, "body": body})
                    .to_string()
                    .into(),
            ))
            .await
            .unwrap();
        loop {
            let frame = self.frame().await;
            if frame["type"] == "ack" && frame["client_id"] == client_id.as_str() {
                return frame;
            }
            assert_ne!(frame["type"], "error", "{frame}");
        }
    }

    /// The next frame of `kind`, skipping others.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.frame().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }
}

pub fn jwt(email: &str, name: &str) -> String {
    let now = clock::now_secs();
    let claims = json!({"sub": email, "aud": "demo", "iat": now, "exp": now + 600, "email": email, "name": name});
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    encode(&header, &claims, &EncodingKey::from_secret(SECRET)).unwrap()
}
