//! What several servers of one database share, and how a server comes and
//! goes: readiness, the restart close code, presence and routing across
//! servers (two servers on one SQLite file here; the Postgres suites run
//! the same across processes).

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]

mod common;
mod databases;

use std::time::Duration;

use serde_json::{json, Value};
use trustchat_server::clock;

use common::live::{jwt, Live, PATIENCE};
use common::{get, TestApp};

#[tokio::test]
async fn readiness_follows_the_database() {
    let app = TestApp::new().await;
    let ready = app.send(get("/readyz")).await;
    assert_eq!(
        (ready.status.as_u16(), ready.json()),
        (200, json!({"status": "ready"}))
    );
    let alive = app.send(get("/healthz")).await;
    assert_eq!(alive.status.as_u16(), 200);
    // The database goes away: not ready, still alive.
    app.store.close().await;
    let refused = app.send(get("/readyz")).await;
    assert_eq!(refused.status.as_u16(), 503, "{}", refused.text);
    assert_eq!(refused.code().as_deref(), Some("not_ready"));
    assert_eq!(app.send(get("/healthz")).await.status.as_u16(), 200);
}

#[tokio::test]
async fn a_shutdown_tells_sockets_to_reconnect_elsewhere_with_1012() {
    let live = Live::start().await;
    let (token, _) = live.customer(json!({})).await;
    let mut customer = live.widget(&token).await;
    live.add_agent("alice@support.example", "Alice").await;
    let alice = live.login("alice@support.example").await;
    let mut console = live.console(&alice).await;
    let stopping = tokio::spawn(live.shutdown());
    customer.closed_with(1012).await;
    console.closed_with(1012).await;
    tokio::time::timeout(PATIENCE, stopping)
        .await
        .expect("the server stopped")
        .unwrap();
}

#[tokio::test]
async fn an_agent_online_on_one_server_is_online_and_routed_to_from_another() {
    let a = Live::start().await;
    let b = a.second().await;
    let agent_id = a.add_agent("alice@support.example", "Alice").await;
    let alice = a.login("alice@support.example").await;
    let console = a.console(&alice).await;

    // Server B learns it within a heartbeat (at once: A writes when its
    // agents come or go).
    online_for(&b, &agent_id, true, "B never saw Alice online").await;
    // A customer on B is routed to the agent on A.
    let (token, _) = b.customer(json!({})).await;
    let sent = b.say(&token, "hello from server B").await;
    let conversation = sent["conversation_id"].as_str().unwrap();
    let stored = b
        .state
        .store
        .conversation(conversation)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.assigned_agent_id.as_deref(), Some(agent_id.as_str()));
    let (_, agents): (u16, Value) = b
        .get(&b.login("alice@support.example").await, "/agents")
        .await;
    assert_eq!(agents["agents"][0]["online"], true);

    // The console closes: within a heartbeat the agent is offline for B.
    drop(console);
    online_for(&b, &agent_id, false, "B kept Alice online").await;
    // A server that dies without a word takes its agents offline when
    // their presence expires.
    a.state
        .store
        .set_presence(
            "dead-server",
            std::slice::from_ref(&agent_id),
            clock::now_ms() + 200,
        )
        .await
        .unwrap();
    assert!(b
        .state
        .presence
        .online_now()
        .await
        .unwrap()
        .contains(&agent_id));
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(!b
        .state
        .presence
        .online_now()
        .await
        .unwrap()
        .contains(&agent_id));
}

/// Waits until server `live` sees the agent `online` (or not) as its
/// routing does, within a heartbeat and [`PATIENCE`] (on one SQLite file
/// the servers have no bus: B's view follows its own heartbeat).
async fn online_for(live: &Live, agent_id: &str, online: bool, failure: &str) {
    let deadline = tokio::time::Instant::now() + trustchat_server::presence::HEARTBEAT + PATIENCE;
    while live.state.presence.is_online(agent_id) != online
        || live
            .state
            .presence
            .online_now()
            .await
            .unwrap()
            .contains(agent_id)
            != online
    {
        assert!(tokio::time::Instant::now() < deadline, "{failure}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two servers on one fresh Postgres database, or `None` (and a line
/// saying why) without one.
async fn two_servers(test: &str) -> Option<(databases::TestDatabase, Live, Live)> {
    let Some(db) = databases::postgres(test).await else {
        eprintln!(
            "{} is not set: {test} needs Postgres and is skipped",
            databases::ENV
        );
        return None;
    };
    let a = Live::on_database(&db.url).await;
    let b = Live::on_database(&db.url).await;
    Some((db, a, b))
}

#[tokio::test]
async fn a_message_on_one_server_reaches_sockets_and_consoles_on_another() {
    let Some((_db, a, b)) = two_servers("message_across_servers").await else {
        return;
    };
    b.add_agent("alice@support.example", "Alice").await;
    let alice = b.login("alice@support.example").await;
    let mut console = b.console(&alice).await;
    // Ada is logged in on two devices: her phone on A, her laptop on B.
    let ada = jwt("ada@example.com", "Ada Lovelace");
    let (phone, _) = a.customer(json!({ "jwt": ada })).await;
    let (laptop, _) = b.customer(json!({ "jwt": ada })).await;
    let mut laptop_socket = b.widget(&laptop).await;
    let mut phone_socket = a.widget(&phone).await;

    // Written on A: the agent's console and Ada's laptop, both on B, hear it.
    let sent = a.say(&phone, "hello from server A").await;
    let conversation = sent["conversation_id"].as_str().unwrap().to_owned();
    let heard = console.next_of("message").await;
    assert_eq!(heard["message"]["body"], "hello from server A");
    assert_eq!(
        heard["conversation"]["assigned_agent_id"],
        alice.id.as_str()
    );
    assert_eq!(heard["message"]["trusted"], true);
    let on_laptop = laptop_socket.next_of("message").await;
    assert_eq!(on_laptop["message"]["body"], "hello from server A");

    // Answered on B: Ada's phone on A hears it.
    let (status, _) = b
        .post(
            &alice,
            &format!("/conversations/{conversation}/messages"),
            json!({"body": "hi Ada, from server B"}),
        )
        .await;
    assert_eq!(status, 201);
    let reply = phone_socket.agent_message().await;
    assert_eq!(reply["message"]["body"], "hi Ada, from server B");

    // Closed on B: the phone on A hears that too.
    let (status, _) = b
        .post(
            &alice,
            &format!("/conversations/{conversation}/close"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let closed = phone_socket.next_of("conversation").await;
    assert_eq!(
        (
            closed["conversation_id"].as_str(),
            closed["status"].as_str()
        ),
        (Some(conversation.as_str()), Some("closed"))
    );
}

#[tokio::test]
async fn clear_user_on_one_server_closes_the_sessions_sockets_on_another_within_a_second() {
    let Some((_db, a, b)) = two_servers("revoke_across_servers").await else {
        return;
    };
    let (token, _) = a
        .customer(json!({"user": {"name": "Grace", "email": "grace@example.com"}}))
        .await;
    let mut socket = b.widget(&token).await;
    let revoked = a
        .http
        .delete(a.url("/api/v1/sessions/current"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    tokio::time::timeout(Duration::from_secs(1), socket.closed_with(4001))
        .await
        .expect("B closed the revoked session's socket within a second");
}

#[tokio::test]
async fn a_lost_listen_connection_comes_back_and_its_sockets_resync() {
    let Some((db, a, b)) = two_servers("listen_lost").await else {
        return;
    };
    let (token, _) = a.customer(json!({})).await;
    let mut socket = b.widget(&token).await;
    // The database drops every LISTEN connection (a failover, a proxy's
    // idle timeout): events sent meanwhile are lost to B.
    let mut conn = {
        use sqlx::Connection as _;
        sqlx::PgConnection::connect(&db.url).await.unwrap()
    };
    let killed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query ILIKE 'LISTEN%') AS t",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(killed >= 2, "both servers listen: {killed}");
    // B's socket is told to resync once B listens again, and B is ready.
    socket.closed_with(4009).await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let ready = b.http.get(b.url("/readyz")).send().await.unwrap().status();
        if ready == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "B never got ready again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And events flow again.
    let mut socket = b.widget(&token).await;
    a.say(&token, "after the gap").await;
    let heard = socket.next_of("message").await;
    assert_eq!(heard["message"]["body"], "after the gap");
}

#[tokio::test]
async fn agent_remove_on_the_command_line_closes_consoles_and_hands_out_the_queue_at_once() {
    let Some((db, a, b)) = two_servers("agent_remove_cli").await else {
        return;
    };
    let alice_id = a.add_agent("alice@support.example", "Alice").await;
    let alice = a.login("alice@support.example").await;
    let mut alice_console = a.console(&alice).await;
    // A customer on B is routed to Alice, the only agent online.
    online_for(&b, &alice_id, true, "B never saw Alice online").await;
    let (token, _) = b.customer(json!({})).await;
    let sent = b.say(&token, "routed to Alice").await;
    let conversation = sent["conversation_id"].as_str().unwrap().to_owned();
    let assigned = |live: &Live| {
        let store = std::sync::Arc::clone(&live.state.store);
        let conversation = conversation.clone();
        async move {
            store
                .conversation(&conversation)
                .await
                .unwrap()
                .unwrap()
                .assigned_agent_id
        }
    };
    assert_eq!(assigned(&a).await.as_deref(), Some(alice_id.as_str()));
    // Bob comes online on B.
    let bob_id = b.add_agent("bob@support.example", "Bob").await;
    let bob = b.login("bob@support.example").await;
    let mut bob_console = b.console(&bob).await;

    // The operator removes Alice with the command line, beside the servers.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trustchat.toml");
    let _keep = &dir;
    std::fs::write(&config, common::live::config_on(&db.url, "")).unwrap();
    let removed = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_trustchat-server"))
            .args([
                "agent",
                "remove",
                "--email",
                "alice@support.example",
                "--config",
            ])
            .arg(&config)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    let removed_at = tokio::time::Instant::now();

    // Alice's console on A closes, and the conversation goes to Bob on B
    // well before any heartbeat would have handed it out.
    tokio::time::timeout(Duration::from_secs(2), alice_console.closed_with(4001))
        .await
        .expect("Alice's console closed within 2 s");
    let routed = bob_console.next_of("conversation").await;
    assert_eq!(routed["conversation"]["id"], conversation.as_str());
    assert!(
        removed_at.elapsed() < trustchat_server::presence::HEARTBEAT,
        "handed out only after {:?}",
        removed_at.elapsed()
    );
    assert_eq!(assigned(&b).await.as_deref(), Some(bob_id.as_str()));
}

/// A login through one server makes the next message sent on the
/// session's socket on `b` trusted (and named), though `b` keeps the
/// session in memory between sends.
async fn login_reaches_an_open_socket(a: &Live, b: &Live) {
    let (token, _) = a.customer(json!({})).await;
    let mut socket = b.widget(&token).await;
    let before = socket.send_message("before the login").await;
    assert_eq!(before["message"]["trusted"], false);
    let changed = a
        .http
        .post(a.url("/api/v1/sessions/current/identity"))
        .bearer_auth(&token)
        .json(&json!({"jwt": jwt("ada@example.com", "Ada Lovelace")}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let body: Value = changed.json().await.unwrap();
    assert_eq!(body["trusted"], true);
    assert!(body["session_token"].is_null(), "the same session goes on");
    // The change reaches B through the bus: wait for it, by sending until
    // a message is trusted, within a second.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    loop {
        let after = socket.send_message("after the login").await;
        if after["message"]["trusted"] == true {
            assert_eq!(after["message"]["author_name"], "Ada Lovelace");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "B's socket kept sending untrusted after the login: {after}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_login_makes_the_next_message_on_an_open_socket_trusted() {
    let a = Live::start().await;
    login_reaches_an_open_socket(&a, &a).await;
}

#[tokio::test]
async fn a_login_on_one_server_makes_the_next_message_on_another_trusted() {
    let Some((_db, a, b)) = two_servers("login_across_servers").await else {
        return;
    };
    login_reaches_an_open_socket(&a, &b).await;
}

#[tokio::test]
async fn typing_and_read_signals_cross_servers() {
    let Some((_db, a, b)) = two_servers("signals_across_servers").await else {
        return;
    };
    b.add_agent("alice@support.example", "Alice Agent").await;
    let alice = b.login("alice@support.example").await;
    let mut console = b.console(&alice).await;
    let (ada, _) = a
        .customer(json!({"user": {"name": "Ada Lovelace", "email": "ada@example.com"}}))
        .await;
    let mut widget = a.widget(&ada).await;
    let sent = widget.send_message("hello from A").await;
    let conversation = sent["message"]["conversation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    console.next_of("message").await;

    // The customer on A types and reads; the console on B hears both.
    use futures_util::SinkExt as _;
    use tokio_tungstenite::tungstenite::Message as WsMessage;
    let frame = |value: Value| WsMessage::Text(value.to_string().into());
    widget
        .0
        .send(frame(json!({"type": "typing"})))
        .await
        .unwrap();
    assert_eq!(
        console.next_of("typing").await,
        json!({"type": "typing", "conversation_id": conversation, "author": "customer"})
    );
    b.post(
        &alice,
        &format!("/conversations/{conversation}/messages"),
        json!({"body": "from B"}),
    )
    .await;
    widget.agent_message().await;
    widget
        .0
        .send(frame(json!({"type": "read", "seq": 2})))
        .await
        .unwrap();
    assert_eq!(
        console.next_of("read").await,
        json!({"type": "read", "conversation_id": conversation, "seq": 2})
    );

    // The agent on B types and reads; the widget on A hears both.
    console
        .0
        .send(frame(
            json!({"type": "typing", "conversation_id": conversation}),
        ))
        .await
        .unwrap();
    assert_eq!(
        widget.next_of("typing").await,
        json!({"type": "typing", "author": "agent", "name": "Alice Agent"})
    );
    b.post(
        &alice,
        &format!("/conversations/{conversation}/read"),
        json!({"seq": 1}),
    )
    .await;
    assert_eq!(
        widget.next_of("read").await,
        json!({"type": "read", "seq": 1})
    );
}
