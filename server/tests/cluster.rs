//! What several servers of one database share, and how a server comes and
//! goes: readiness, the restart close code, presence and routing across
//! servers (two servers on one SQLite file here; the Postgres suites run
//! the same across processes).

mod common;

use std::time::Duration;

use serde_json::{json, Value};
use trustchat_server::clock;

use common::live::{Live, PATIENCE};
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
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !b
        .state
        .presence
        .online_now()
        .await
        .unwrap()
        .contains(&agent_id)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "B never saw Alice online"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while b
        .state
        .presence
        .online_now()
        .await
        .unwrap()
        .contains(&agent_id)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "B kept Alice online"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
