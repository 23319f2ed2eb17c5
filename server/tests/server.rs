//! The server on a real socket: the ready line, HTTP over TCP, restarts on
//! the same database, graceful shutdown, and requests hyper refuses before
//! they reach the router.

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use trustchat_server::{server, Config};

/// A server running in this process, stopped when `stop` is called.
struct Running {
    address: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start(dir: &std::path::Path) -> Running {
    let config = Config::from_toml(&common::config_text(dir)).unwrap();
    let listener = server::bind(&config).await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server::run(config, listener, async {
        let _ = stopped.await;
    }));
    Running {
        address,
        stop,
        task,
    }
}

impl Running {
    async fn stop(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

/// One HTTP/1.1 exchange over a fresh connection: the status and the body.
async fn exchange(address: SocketAddr, head: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request = format!(
        "{head}\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

async fn open_session(address: SocketAddr, body: &str) -> Value {
    let (status, text) = exchange(
        address,
        "POST /api/v1/apps/demo/sessions HTTP/1.1\r\nContent-Type: application/json",
        body,
    )
    .await;
    assert_eq!(status, 201, "{text}");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn restart_on_the_same_database_keeps_sessions_and_customers() {
    let dir = tempfile::tempdir().unwrap();
    common::write_static_files(dir.path());
    let user = r#"{"user":{"name":"Ada Lovelace","email":"ada@example.com"}}"#;

    let running = start(dir.path()).await;
    let (status, body) = exchange(running.address, "GET /healthz HTTP/1.1", "").await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    let first = open_session(running.address, user).await;
    running.stop().await;
    assert!(
        dir.path().join("data/trustchat.db").is_file(),
        "the database directory is created"
    );

    let running = start(dir.path()).await;
    // Sessions survive the restart, with their customer.
    let token = first["session_token"].as_str().unwrap();
    let (status, text) = exchange(
        running.address,
        &format!("GET /api/v1/sessions/current HTTP/1.1\r\nAuthorization: Bearer {token}"),
        "",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let current: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(current["customer"], first["customer"]);
    running.stop().await;
}

#[tokio::test]
async fn requests_refused_by_hyper_do_not_hurt_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path()).await;
    let huge_header = format!(
        "GET /healthz HTTP/1.1\r\nX-Junk: {}",
        "a".repeat(1024 * 1024)
    );
    let (status, _) = exchange(running.address, &huge_header, "").await;
    assert!(
        status == 431 || status == 400 || status == 0,
        "status {status}"
    );
    let many_headers: String = (0..500).map(|i| format!("\r\nX-H{i}: v")).collect();
    let (status, _) = exchange(
        running.address,
        &format!("GET /healthz HTTP/1.1{many_headers}"),
        "",
    )
    .await;
    assert!(
        status == 431 || status == 400 || status == 0,
        "status {status}"
    );
    let (status, _) = exchange(running.address, "GET /\u{ff}\u{fe} HTTP/1.1", "").await;
    assert!(status == 400 || status == 404, "status {status}");
    let (status, body) = exchange(running.address, "GET /healthz HTTP/1.1", "").await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    running.stop().await;
}

/// The binary prints exactly the ready line on stdout and stops cleanly on
/// SIGTERM.
#[test]
fn binary_announces_itself_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trustchat.toml");
    std::fs::write(&config, common::config_text(dir.path())).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_trustchat-server"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("TRUSTCHAT_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let address = line
        .strip_prefix("trustchat-server listening on http://")
        .and_then(|rest| rest.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("unexpected ready line {line:?}"));
    let address: SocketAddr = address.parse().unwrap();
    assert_ne!(address.port(), 0);
    let reply = std::net::TcpStream::connect(address).map(|mut stream| {
        use std::io::{Read as _, Write as _};
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    });
    assert!(reply.unwrap().starts_with("HTTP/1.1 200"));

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success(), "clean exit on SIGTERM");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(rest, "", "nothing but the ready line on stdout");
}

#[test]
fn binary_explains_a_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trustchat.toml");
    std::fs::write(&config, "[[apps]]\nid = \"demo\"\nallowed_origin = []\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_trustchat-server"))
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("allowed_origin"), "{stderr}");
    assert_eq!(output.stdout, b"");
}
