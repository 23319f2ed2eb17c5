//! Abuse resistance over real sockets: slow clients (half headers, a
//! trickling body, idle keep-alives), the connection cap, per-address
//! limits and `trusted_proxies`, unauthenticated sockets, agent login
//! lockout and login storms, JWKS URL rules, the console's cookie and
//! headers, and email case folding.

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use trustchat_server::clock;
use trustchat_server::{agents, server, store, AppState, Config};

/// The longest any test waits for something the server should do.
const PATIENCE: Duration = Duration::from_secs(10);
const PASSWORD: &str = "correct-horse-battery";
const SECRET: &[u8] = b"abuse-tests-secret-of-32-bytes!!";

/// A server on a real socket with `server_extra` in its `[server]` table
/// and `extra` after its `demo` app (more tables: `[limits]`, `[agent]`,
/// `[apps.identity]` of `demo`).
struct Live {
    address: SocketAddr,
    state: AppState,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    dir: tempfile::TempDir,
}

fn config_text(dir: &std::path::Path, server_extra: &str, extra: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
database_url = "sqlite://{db}"
static_dir = "{dist}"
{server_extra}

[[apps]]
id = "demo"
allowed_origins = ["{origin}"]
login_url = "http://127.0.0.1:8080/login"
{extra}
"#,
        db = dir.join("t.db").display(),
        dist = dir.join("dist").display(),
        origin = common::DEMO_ORIGIN,
    )
}

impl Live {
    async fn start(server_extra: &str, extra: &str) -> Live {
        let dir = tempfile::tempdir().unwrap();
        common::write_static_files(dir.path());
        let config = Config::from_toml(&config_text(dir.path(), server_extra, extra)).unwrap();
        let store = store::connect(&config.server.database_url).await.unwrap();
        let state = AppState::new(config, store).await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(state.clone(), listener, async {
            let _ = stopped.await;
        }));
        Live {
            address,
            state,
            // No pooling: each request its own connection, so that the
            // cap and idle tests count exactly what they open.
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
            stop: Some(stop),
            task: Some(task),
            dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// `POST /api/v1/apps/demo/sessions` with `body`, as if forwarded for
    /// `forwarded_for` (an `X-Forwarded-For` value) when given.
    async fn open_session(&self, body: Value, forwarded_for: Option<&str>) -> (u16, Value) {
        let mut request = self
            .http
            .post(self.url("/api/v1/apps/demo/sessions"))
            .json(&body);
        if let Some(xff) = forwarded_for {
            request = request.header("x-forwarded-for", xff);
        }
        let reply = request.send().await.unwrap();
        (
            reply.status().as_u16(),
            reply.json().await.unwrap_or(Value::Null),
        )
    }

    async fn add_agent(&self, email: &str) {
        agents::add_agent(self.state.store.as_ref(), email, "Agent", PASSWORD)
            .await
            .unwrap();
    }

    /// An agent login attempt from `forwarded_for`: the status and body.
    async fn login(&self, email: &str, password: &str, forwarded_for: &str) -> (u16, Value) {
        let reply = self
            .http
            .post(self.url("/api/v1/agent/login"))
            .header("x-forwarded-for", forwarded_for)
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        (
            reply.status().as_u16(),
            reply.json().await.unwrap_or(Value::Null),
        )
    }

    /// [`Live::socket`], again while the server answers 503 (a connection
    /// that just closed may hold its place a moment longer).
    async fn socket_when_free(&self) -> Socket {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.socket().await {
                Ok(socket) => return socket,
                Err(tokio_tungstenite::tungstenite::Error::Http(response))
                    if response.status() == 503 && Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(error) => panic!("{error}"),
            }
        }
    }

    /// A customer WebSocket, upgraded, before its auth frame.
    async fn socket(&self) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
        let url = format!("ws://{}/api/v1/ws", self.address);
        tokio_tungstenite::connect_async(url)
            .await
            .map(|(socket, _)| Socket(socket))
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

struct Socket(
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
);

impl Socket {
    async fn send(&mut self, frame: Value) {
        self.0
            .send(WsMessage::Text(frame.to_string().into()))
            .await
            .unwrap();
    }

    /// The next JSON frame.
    async fn frame(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.0.next())
                .await
                .expect("no frame in time");
            match message {
                Some(Ok(WsMessage::Text(text))) => return serde_json::from_str(&text).unwrap(),
                Some(Ok(WsMessage::Close(frame))) => panic!("closed: {frame:?}"),
                Some(Ok(_)) => continue,
                other => panic!("socket ended: {other:?}"),
            }
        }
    }

    /// Authenticates with a session token and waits for `ready`.
    async fn auth(&mut self, token: &str) {
        self.send(json!({"type": "auth", "session_token": token}))
            .await;
        assert_eq!(self.frame().await["type"], "ready");
    }
}

/// Reads until the server closes the connection or `within` passes: what
/// was read, and when it closed (`None`: still open).
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, Option<Instant>) {
    let mut read = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_elapsed) => return (String::from_utf8_lossy(&read).into_owned(), None),
            Ok(Ok(0) | Err(_)) => {
                return (
                    String::from_utf8_lossy(&read).into_owned(),
                    Some(Instant::now()),
                )
            }
            Ok(Ok(n)) => read.extend_from_slice(&buf[..n]),
        }
    }
}

/// One request over a fresh connection that the server is asked to
/// close: the status, the headers and body as text.
async fn exchange(address: SocketAddr, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let (text, closed) = read_until_closed(&mut stream, PATIENCE).await;
    assert!(closed.is_some(), "the server kept the connection: {text}");
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn healthz() -> String {
    "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_owned()
}

/// The JSON body of a raw HTTP response.
fn body_json(response: &str) -> Value {
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or(Value::Null)
}

/// An identity token for `demo`, signed with `SECRET` as key `k1`.
fn jwt(email: &str) -> String {
    let now = clock::now_secs();
    let claims = json!({"sub": email, "aud": "demo", "iat": now, "exp": now + 600,
        "email": email, "name": "Ada Lovelace"});
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    encode(&header, &claims, &EncodingKey::from_secret(SECRET)).unwrap()
}

fn jwks() -> String {
    use base64::Engine as _;
    let k = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(SECRET);
    json!({"keys": [{"kty": "oct", "kid": "k1", "alg": "HS256", "k": k}]}).to_string()
}

/// A site on 127.0.0.1 that serves `jwks()` at `/jwks.json` and redirects
/// `/to/HOST` to `http://HOST:PORT/jwks.json`; it counts requests by path.
/// Aborting the handle stops it (connections are then refused).
struct Site {
    port: u16,
    hits: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Site {
    async fn start() -> Site {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&hits);
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&request);
                    let path = text.split(' ').nth(1).unwrap_or("").to_owned();
                    seen.lock().unwrap().push(path.clone());
                    let response = match path.strip_prefix("/to/") {
                        Some(host) => format!(
                            "HTTP/1.1 302 Found\r\nlocation: http://{host}:{port}/jwks.json\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        ),
                        None => {
                            let body = jwks();
                            format!(
                                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                                body.len()
                            )
                        }
                    };
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Site { port, hits, task }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }
}

// ---- Slow clients and the connection cap ------------------------------------

#[tokio::test]
async fn a_client_sending_half_its_headers_is_cut_off_at_the_header_timeout() {
    let live = Live::start("header_read_timeout_secs = 1\nkeep_alive_idle_secs = 1", "").await;
    let mut stream = TcpStream::connect(live.address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let sent = Instant::now();
    let (_, closed) = read_until_closed(&mut stream, PATIENCE).await;
    let closed = closed.expect("a half-header connection is still open after 10 s");
    let after = closed - sent;
    assert!(
        after >= Duration::from_millis(500) && after < Duration::from_secs(5),
        "closed after {after:?}, expected about the 1 s header timeout"
    );
    live.stop().await;
}

#[tokio::test]
async fn a_body_trickling_in_is_cut_off_with_408() {
    let live = Live::start("body_read_timeout_secs = 1", "").await;
    let mut stream = TcpStream::connect(live.address).await.unwrap();
    // The headers and one byte of a 10,000-byte body, then nothing.
    stream
        .write_all(
            b"POST /api/v1/apps/demo/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n{",
        )
        .await
        .unwrap();
    let sent = Instant::now();
    let (text, closed) = read_until_closed(&mut stream, PATIENCE).await;
    let closed = closed.expect("a slow body's connection is still open after 10 s");
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert_eq!(
        body_json(&text)["error"]["code"],
        "request_timeout",
        "{text}"
    );
    assert!(
        closed - sent < Duration::from_secs(5),
        "{:?}",
        closed - sent
    );
    // The server itself is fine.
    let (status, _) = exchange(live.address, &healthz()).await;
    assert_eq!(status, 200);
    live.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let live = Live::start("header_read_timeout_secs = 5\nkeep_alive_idle_secs = 1", "").await;
    let mut stream = TcpStream::connect(live.address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&response).contains(r#"{"status":"ok"}"#) {
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_ne!(n, 0, "closed before answering");
        response.extend_from_slice(&buf[..n]);
    }
    let answered = Instant::now();
    let (_, closed) = read_until_closed(&mut stream, PATIENCE).await;
    let idle = closed.expect("an idle connection is still open after 10 s") - answered;
    assert!(
        idle < Duration::from_millis(4500),
        "closed after {idle:?}: by the 1 s idle timeout, not the 5 s header timeout"
    );
    live.stop().await;
}

#[tokio::test]
async fn over_the_connection_cap_a_connection_gets_503_server_busy_and_is_closed() {
    let live = Live::start(
        "max_connections = 2\nheader_read_timeout_secs = 30\nkeep_alive_idle_secs = 30",
        "",
    )
    .await;
    // Two WebSockets hold both places: upgraded sockets count.
    let (_, session) = live.open_session(json!({}), None).await;
    let token = session["session_token"].as_str().unwrap();
    let mut first = live.socket_when_free().await;
    first.auth(token).await;
    let mut second = live.socket_when_free().await;
    second.auth(token).await;

    let (status, text) = exchange(live.address, &healthz()).await;
    assert_eq!(status, 503, "{text}");
    assert_eq!(body_json(&text)["error"]["code"], "server_busy", "{text}");
    assert!(
        text.to_ascii_lowercase().contains("retry-after: 1"),
        "{text}"
    );

    // A place frees up when a socket closes.
    first.0.close(None).await.unwrap();
    drop(first);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, _) = exchange(live.address, &healthz()).await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "no place after a socket closed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(second);
    live.stop().await;
}

#[tokio::test]
async fn websockets_outlive_the_http_timeouts() {
    let live = Live::start(
        "header_read_timeout_secs = 1\nbody_read_timeout_secs = 1\nkeep_alive_idle_secs = 1",
        "",
    )
    .await;
    let (_, session) = live.open_session(json!({}), None).await;
    let mut socket = live.socket().await.unwrap();
    socket
        .auth(session["session_token"].as_str().unwrap())
        .await;
    // Well past every HTTP timeout (which would have closed an HTTP
    // connection by now: see the tests above), the socket still talks.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    socket.send(json!({"type": "ping"})).await;
    assert_eq!(socket.frame().await["type"], "pong");
    live.stop().await;
}

// ---- Per-address limits and trusted proxies ---------------------------------

#[tokio::test]
async fn a_session_flood_from_one_address_is_limited_while_another_behind_the_proxy_is_not() {
    let live = Live::start(
        r#"trusted_proxies = ["127.0.0.1"]"#,
        "[limits]\nsessions_per_minute_per_address = 1\nsession_burst_per_address = 3",
    )
    .await;
    for _ in 0..3 {
        let (status, body) = live.open_session(json!({}), Some("198.51.100.1")).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = live.open_session(json!({}), Some("198.51.100.1")).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(
        body["error"]["retry_after"].as_u64().unwrap() >= 1,
        "{body}"
    );
    // Entries the client wrote itself (left of the proxy's) change nothing.
    let (status, _) = live
        .open_session(json!({}), Some("6.6.6.6, 198.51.100.1"))
        .await;
    assert_eq!(status, 429);
    // Another customer behind the same proxy is not held back.
    let (status, body) = live.open_session(json!({}), Some("198.51.100.2")).await;
    assert_eq!(status, 201, "{body}");
    live.stop().await;
}

#[tokio::test]
async fn x_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let live = Live::start(
        "",
        "[limits]\nsessions_per_minute_per_address = 1\nsession_burst_per_address = 3",
    )
    .await;
    for n in 0..3 {
        let (status, _) = live
            .open_session(json!({}), Some(&format!("198.51.100.{n}")))
            .await;
        assert_eq!(status, 201);
    }
    let (status, body) = live.open_session(json!({}), Some("198.51.100.99")).await;
    assert_eq!(
        status, 429,
        "a spoofed X-Forwarded-For escaped the limit: {body}"
    );
    assert_eq!(body["error"]["code"], "rate_limited");
    live.stop().await;
}

#[tokio::test]
async fn unauthenticated_sockets_are_capped_per_address() {
    let live = Live::start(
        "",
        "[limits]\nunauthenticated_sockets_per_address = 2\nws_auth_timeout_ms = 30000",
    )
    .await;
    let (_, session) = live.open_session(json!({}), None).await;
    let token = session["session_token"].as_str().unwrap();
    let mut first = live.socket().await.unwrap();
    let _second = live.socket().await.unwrap();
    match live.socket().await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
            let body: Value =
                serde_json::from_slice(response.body().as_deref().unwrap_or_default()).unwrap();
            assert_eq!(body["error"]["code"], "rate_limited");
        }
        other => panic!(
            "a third silent socket from one address: {:?}",
            other.map(|_| ())
        ),
    }
    // Authenticating gives the place back.
    first.auth(token).await;
    let mut third = live
        .socket()
        .await
        .expect("a place after one authenticated");
    third.auth(token).await;
    live.stop().await;
}

#[tokio::test]
async fn websocket_connects_are_rate_limited_per_address() {
    let live = Live::start(
        "",
        "[limits]\nws_connects_per_minute_per_address = 1\nws_connect_burst_per_address = 2",
    )
    .await;
    for _ in 0..2 {
        drop(live.socket().await.unwrap());
    }
    match live.socket().await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
            assert!(response.headers().contains_key("retry-after"));
        }
        other => panic!("a third connect within the burst: {:?}", other.map(|_| ())),
    }
    live.stop().await;
}

// ---- Agent login ------------------------------------------------------------

#[tokio::test]
async fn a_stranger_hammering_an_agents_email_does_not_lock_the_agent_out() {
    let _turn = PASSWORD_CHECKS.lock().await;
    let live = Live::start(
        r#"trusted_proxies = ["127.0.0.1"]"#,
        "[agent]\nlogin_attempts_per_email_and_ip_per_minute = 2\nlogin_attempts_per_email_per_minute = 4",
    )
    .await;
    live.add_agent("ada@example.com").await;
    live.add_agent("grace@example.com").await;
    let desk = "203.0.113.5";

    // Ada logs in from her desk as every morning.
    assert_eq!(live.login("ada@example.com", PASSWORD, desk).await.0, 200);
    // A stranger guesses from one machine: two tries, then refused...
    for _ in 0..2 {
        assert_eq!(
            live.login("ada@example.com", "guess-guess", "198.51.100.1")
                .await
                .0,
            401
        );
    }
    let (status, body) = live
        .login("ada@example.com", "guess-guess", "198.51.100.1")
        .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    // ...then from more machines, until the email's ceiling holds.
    assert_eq!(
        live.login("ada@example.com", "guess-guess", "198.51.100.2")
            .await
            .0,
        401
    );
    assert_eq!(
        live.login("ada@example.com", "guess-guess", "198.51.100.3")
            .await
            .0,
        429
    );
    // Ada still gets in from her desk.
    assert_eq!(
        live.login("ada@example.com", PASSWORD, desk).await.0,
        200,
        "the real agent was locked out by a stranger"
    );
    // A new address for Ada is under the ceiling like everyone else's.
    assert_eq!(
        live.login("ada@example.com", PASSWORD, "203.0.113.77")
            .await
            .0,
        429
    );

    // Grace never logged in before: a stranger's tries from elsewhere do
    // not stop her first login from her own address either.
    for _ in 0..3 {
        let _ = live
            .login("grace@example.com", "guess-guess", "198.51.100.9")
            .await;
    }
    assert_eq!(
        live.login("grace@example.com", PASSWORD, "203.0.113.6")
            .await
            .0,
        200
    );
    live.stop().await;
}

#[tokio::test]
async fn an_over_long_email_is_refused_with_400_before_any_limiter_or_hash() {
    let _turn = PASSWORD_CHECKS.lock().await;
    let live = Live::start("", "").await;
    let long = format!("{}@example.com", "a".repeat(15_000));
    for _ in 0..30 {
        let (status, body) = live.login(&long, "guess-guess", "198.51.100.1").await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["code"], "field_too_long");
        assert_eq!(body["error"]["field"], "email");
    }
    assert_eq!(
        live.state.login_limiter.tracked_keys(),
        0,
        "no limiter recorded a key"
    );
    // The longest valid length goes on to the ordinary check.
    let longest = format!("{}@example.com", "a".repeat(254 - "@example.com".len()));
    assert_eq!(longest.len(), 254);
    assert_eq!(
        live.login(&longest, "guess-guess", "198.51.100.1").await.0,
        401
    );
    assert!(live.state.login_limiter.tracked_keys() > 0);
    live.stop().await;
}

/// Tests that count password checks running in this process take turns,
/// so that one's logins do not show in another's count.
static PASSWORD_CHECKS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Sends a bad login for `nobody{n}@example.com` from `198.51.100.{n}` over
/// a raw connection; returns the status.
async fn bad_login(address: SocketAddr, n: usize) -> u16 {
    let body =
        json!({"email": format!("nobody{n}@example.com"), "password": "guess-guess"}).to_string();
    let request = format!(
        "POST /api/v1/agent/login HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.{n}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let (text, _) = read_until_closed(&mut stream, Duration::from_secs(120)).await;
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Runs `logins` bad logins at once and samples how many password checks
/// run at a time (argon2 verifications in this process, and permits)
/// until every one is over; returns the most seen.
async fn storm(live: &Live, logins: usize) -> usize {
    let checks = &live.state.limits.password_checks;
    let tasks: Vec<_> = (0..logins)
        .map(|n| tokio::spawn(bad_login(live.address, n)))
        .collect();
    let mut most = 0;
    let mut seen = false;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let running = agents::password_checks_running();
        most = most.max(running).max(checks.in_use());
        seen |= running > 0;
        let finished = tasks.iter().all(|task| task.is_finished());
        if finished && seen && running == 0 && checks.in_use() == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the storm did not end");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 401);
    }
    most
}

#[tokio::test]
async fn a_login_storm_runs_at_most_two_password_checks_at_once() {
    let _turn = PASSWORD_CHECKS.lock().await;
    // Unoptimized argon2 is slow: let every login wait its turn here.
    let live = Live::start(
        r#"trusted_proxies = ["127.0.0.1"]"#,
        "[agent]\nlogin_queue_timeout_ms = 120000",
    )
    .await;
    assert_eq!(live.state.limits.password_checks.max(), 2);
    let most = storm(&live, 8).await;
    assert!((1..=2).contains(&most), "{most} password checks at once");
    live.stop().await;
}

// ---- JWKS URLs ----------------------------------------------------------------

fn identity_table(jwks_url: &str, more: &str) -> String {
    format!("[apps.identity]\njwks_url = \"{jwks_url}\"\n{more}")
}

#[test]
fn a_plain_http_jwks_url_is_refused_at_config_load_unless_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    for (url, ok) in [
        ("http://keys.example.com/jwks.json", false),
        ("http://10.0.0.8/jwks.json", false),
        ("https://keys.example.com/jwks.json", true),
        ("http://127.0.0.1:9999/jwks.json", true),
        ("http://localhost:9999/jwks.json", true),
    ] {
        let text = config_text(dir.path(), "", &identity_table(url, ""));
        match Config::from_toml(&text) {
            Ok(_) => assert!(ok, "{url} was accepted"),
            Err(error) => {
                assert!(!ok, "{url}: {error}");
                let message = error.to_string();
                assert!(
                    message.contains("jwks_url") && message.contains("https://"),
                    "{message}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_jwks_redirect_off_loopback_is_not_followed() {
    let site = Site::start().await;
    // The refused target answers (0.0.0.0 reaches this machine), so only
    // the policy stands between the fetch and the keys.
    let direct = reqwest::get(format!("http://0.0.0.0:{}/jwks.json", site.port))
        .await
        .unwrap();
    assert_eq!(direct.status(), 200);
    let before = site.hits("/jwks.json");

    let live = Live::start(
        "",
        &identity_table(
            &site.url("/to/0.0.0.0"),
            "jwks_unknown_kid_min_interval_secs = 1",
        ),
    )
    .await;
    let (status, body) = live
        .open_session(json!({"jwt": jwt("ada@example.com")}), None)
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["reason"], "jwks_unavailable", "{body}");
    assert!(site.hits("/to/0.0.0.0") >= 1);
    assert_eq!(site.hits("/jwks.json"), before, "the redirect was followed");
    live.stop().await;

    // A redirect that stays on loopback is followed.
    let live = Live::start("", &identity_table(&site.url("/to/localhost"), "")).await;
    let (status, body) = live
        .open_session(json!({"jwt": jwt("ada@example.com")}), None)
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["trusted"], true);
    live.stop().await;
    site.task.abort();
}

#[tokio::test]
async fn a_stale_key_set_stops_verifying_with_jwks_unavailable() {
    let site = Site::start().await;
    let live = Live::start(
        "",
        &format!(
            "{}\n[limits]\nsession_burst_per_address = 1000",
            identity_table(
                &site.url("/jwks.json"),
                "jwks_refresh_secs = 1\njwks_max_stale_secs = 3\njwks_unknown_kid_min_interval_secs = 1",
            )
        ),
    )
    .await;
    let token = jwt("ada@example.com");
    let (status, body) = live.open_session(json!({"jwt": token}), None).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["trusted"], true);

    // The site goes down. The last good set still verifies for a while...
    site.task.abort();
    let down = Instant::now();
    let (status, body) = live.open_session(json!({"jwt": token}), None).await;
    assert_eq!(status, 201, "right after the outage began: {body}");
    // ...and then no more.
    loop {
        let (status, body) = live.open_session(json!({"jwt": token}), None).await;
        if status == 401 {
            assert_eq!(body["error"]["reason"], "jwks_unavailable", "{body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("jwks_max_stale_secs"),
                "{body}"
            );
            break;
        }
        assert_eq!(status, 201, "{body}");
        assert!(
            down.elapsed() < PATIENCE,
            "the stale key set still verifies"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        down.elapsed() >= Duration::from_secs(1),
        "{:?}",
        down.elapsed()
    );
    live.stop().await;
}

// ---- The console's cookie and headers ----------------------------------------

#[tokio::test]
async fn over_https_the_agent_cookie_is_host_prefixed_and_only_that_name_is_read() {
    let _turn = PASSWORD_CHECKS.lock().await;
    for (agent_table, forwarded_proto) in
        [("[agent]\nsecure_cookie = true", None), ("", Some("https"))]
    {
        let live = Live::start("", agent_table).await;
        live.add_agent("ada@example.com").await;
        let mut request = live
            .http
            .post(live.url("/api/v1/agent/login"))
            .json(&json!({"email": "ada@example.com", "password": PASSWORD}));
        if let Some(proto) = forwarded_proto {
            request = request.header("x-forwarded-proto", proto);
        }
        let reply = request.send().await.unwrap();
        assert_eq!(reply.status(), 200);
        let cookie = reply.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(
            cookie.starts_with("__Host-trustchat_agent=tca_"),
            "{cookie}"
        );
        for part in ["; Secure", "; Path=/", "; HttpOnly", "; SameSite=Strict"] {
            assert!(cookie.contains(part), "{part} missing: {cookie}");
        }
        assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
        let pair = cookie.split(';').next().unwrap().to_owned();
        let token = pair.split_once('=').unwrap().1.to_owned();

        let me = |cookie: String| {
            let mut request = live
                .http
                .get(live.url("/api/v1/agent/me"))
                .header("cookie", cookie);
            if let Some(proto) = forwarded_proto {
                request = request.header("x-forwarded-proto", proto);
            }
            async move { request.send().await.unwrap().status().as_u16() }
        };
        assert_eq!(me(pair).await, 200);
        assert_eq!(
            me(format!("trustchat_agent={token}")).await,
            401,
            "over https the unprefixed name is not read"
        );
        live.stop().await;
    }
}

#[tokio::test]
async fn console_pages_send_a_csp_nosniff_and_no_referrer() {
    let live = Live::start("", "").await;
    let agent_dir = live.dir.path().join("dist/agent");
    std::fs::create_dir_all(&agent_dir).unwrap();
    std::fs::write(
        agent_dir.join("index.html"),
        "<!doctype html><title>Console</title>",
    )
    .unwrap();
    std::fs::write(agent_dir.join("console.js"), "export {};").unwrap();
    for path in ["/agent/", "/agent/console.js"] {
        let reply = live.http.get(live.url(path)).send().await.unwrap();
        assert_eq!(reply.status(), 200, "{path}");
        let header = |name: &str| {
            reply
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let csp = header("content-security-policy");
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
    }
    // Not on the customer-facing pages and API, which sites embed.
    let reply = live.http.get(live.url("/healthz")).send().await.unwrap();
    assert!(reply.headers().get("content-security-policy").is_none());
    assert_eq!(reply.headers()["x-content-type-options"], "nosniff");
    live.stop().await;
}

/// The CSP above forbids inline script and style: the console's pages must
/// have none, or they would break under it.
#[test]
fn the_console_pages_have_no_inline_script_or_style() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../www/agent");
    let mut pages = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "html") {
            continue;
        }
        pages += 1;
        let html = std::fs::read_to_string(&path).unwrap().to_ascii_lowercase();
        for (at, _) in html.match_indices("<script") {
            let tag = &html[at..at + html[at..].find('>').unwrap()];
            assert!(tag.contains(" src="), "{}: inline {tag}>", path.display());
        }
        assert!(!html.contains("<style"), "{}: <style>", path.display());
        assert!(
            !html.contains(" style="),
            "{}: style attribute",
            path.display()
        );
        assert!(
            !html.contains(" onclick=") && !html.contains(" onload="),
            "{}: inline handler",
            path.display()
        );
    }
    assert!(pages > 0, "no console page in {}", dir.display());
}

// ---- Emails ---------------------------------------------------------------------

#[tokio::test]
async fn a_kelvin_sign_email_is_not_the_k_email() {
    let app = common::TestApp::new().await;
    let kate = app
        .open_session(r#"{"user":{"name":"Kate","email":"kate@x.com"}}"#)
        .await;
    let kelvin = app
        .open_session(r#"{"user":{"name":"Eve","email":"\u212Aate@x.com"}}"#)
        .await;
    assert_ne!(kelvin["customer"]["id"], kate["customer"]["id"]);
    assert_eq!(kelvin["customer"]["email"], "\u{212A}ate@x.com");
    // ASCII letters still fold.
    let shouting = app
        .open_session(r#"{"user":{"name":"Kate","email":"KATE@X.COM"}}"#)
        .await;
    assert_eq!(shouting["customer"]["email"], "kate@x.com");
}
