//! `trustchat-server db copy`, run as an operator would: an installation
//! filled through the API on SQLite is copied to Postgres (and back to
//! SQLite), and a server on the copy accepts the old session token and
//! agent cookie and shows the history. Without `TRUSTCHAT_TEST_DATABASE_URL`
//! the copy goes SQLite to SQLite only.

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]

mod common;
mod databases;

use std::process::Output;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use trustchat_server::store::{self, Store};
use trustchat_server::{agents, AppState, Config};

use common::{send, with_token, Reply, TestApp};

/// What the source installation holds, to find again in the copy.
struct Installed {
    /// Ada's session token.
    token: String,
    /// Her customer id.
    customer_id: String,
    /// The bodies of her conversation, in seq order.
    bodies: Vec<String>,
    /// An agent's cookie token.
    agent_token: String,
    /// Bob's conversation, closed after his message.
    closed_conversation: String,
}

async fn post_message(app: &TestApp, token: &str, body: &str) -> Value {
    let request = Request::post("/api/v1/messages")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"client_id": uuid::Uuid::new_v4().to_string(), "body": body}).to_string(),
        ))
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.json()
}

/// Fills the test app's SQLite database through the API (and the agent
/// domain functions), then closes it.
async fn install(app: &TestApp) -> Installed {
    let ada = app
        .open_session(r#"{"user": {"name": "Ada Lovelace", "email": "ada@example.com"}}"#)
        .await;
    let token = ada["session_token"].as_str().unwrap().to_owned();
    let customer_id = ada["customer"]["id"].as_str().unwrap().to_owned();
    let first = post_message(app, &token, "hello").await;
    post_message(app, &token, "is anyone there?").await;
    let conversation_id = first["conversation_id"].as_str().unwrap().to_owned();

    // Someone else, whose conversation was closed.
    let bob = app.open_session("{}").await;
    let bob_token = bob["session_token"].as_str().unwrap();
    let bobs = post_message(app, bob_token, "bye").await;
    let closed_conversation = bobs["conversation_id"].as_str().unwrap().to_owned();
    let store = app.store.as_ref();
    store
        .close_conversation(&closed_conversation, 5_000_000, &Default::default())
        .await
        .unwrap();
    // Bob rated it; a saved reply of the billing team.
    store
        .rate_conversation(
            &closed_conversation,
            &store::RatingRecord {
                rating: 4,
                comment: Some("quick".into()),
                rated_at: 5_500_000,
            },
        )
        .await
        .unwrap()
        .unwrap();
    store
        .insert_saved_reply(&store::SavedReplyRecord {
            id: "r1".into(),
            team_id: "billing".into(),
            title: "Refunds".into(),
            body: "Refunds take 5 days.".into(),
            created_by: None,
            created_at: 5_600_000,
        })
        .await
        .unwrap();

    // An agent who answered Ada and read her messages, logged in.
    let grace = agents::add_agent(store, "grace@example.com", "Grace", "correct-horse-battery")
        .await
        .unwrap();
    store
        .set_agent_teams(&grace.id, &["billing".to_owned(), "frontline".to_owned()])
        .await
        .unwrap();
    store
        .assign_conversation(&conversation_id, Some(&grace.id), 6_000_000)
        .await
        .unwrap();
    let answer = store::NewAgentMessage {
        id: uuid::Uuid::new_v4().to_string(),
        conversation_id: conversation_id.clone(),
        author_name: grace.name.clone(),
        kind: trustchat_protocol::MessageKind::Text,
        body: "Hi Ada, Grace here".into(),
        link: None,
        client_id: Some(uuid::Uuid::new_v4().to_string()),
        now_ms: 7_000_000,
        email_due_at: Some(7_120_000),
        webhooks: Default::default(),
    };
    store.append_agent_message(answer).await.unwrap().unwrap();
    // An email of that reply failed once: a retry is pending.
    let claim = store
        .claim_due_email(7_120_000, 7_500_000)
        .await
        .unwrap()
        .unwrap();
    store
        .finish_email(
            &conversation_id,
            claim.lease_until,
            &store::EmailDone {
                handled_seq: 2,
                seen_seq: 3,
                next_due_at: Some(8_000_000),
                attempts: 1,
            },
            7_130_000,
        )
        .await
        .unwrap();
    store
        .mark_read(&grace.id, &conversation_id, 2)
        .await
        .unwrap();
    let login = agents::login(
        store,
        "grace@example.com",
        "correct-horse-battery",
        3_600_000,
    )
    .await
    .unwrap()
    .unwrap();
    assert!(store
        .remember_jti("demo", "used-once", i64::MAX / 2, 0)
        .await
        .unwrap());
    store.close().await;
    Installed {
        token,
        customer_id,
        bodies: vec![
            "hello".into(),
            "is anyone there?".into(),
            "Hi Ada, Grace here".into(),
        ],
        agent_token: login.token,
        closed_conversation,
    }
}

/// `trustchat-server db copy --from FROM --to TO`.
async fn db_copy(from: &str, to: &str) -> Output {
    let (from, to) = (from.to_owned(), to.to_owned());
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_trustchat-server"))
            .args(["db", "copy", "--from", &from, "--to", &to])
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Copies `from` into the empty `to`, checking what the command printed.
async fn copy_ok(from: &str, to: &str) {
    let output = db_copy(from, to).await;
    let printed = text(&output);
    assert!(output.status.success(), "{printed}");
    for line in [
        "customers: 2 row(s)",
        "sessions: 2 row(s)",
        "conversations: 2 row(s)",
        "messages: 4 row(s)",
        "agents: 1 row(s)",
        "agent_teams: 2 row(s)",
        "agent_sessions: 1 row(s)",
        "agent_reads: 1 row(s)",
        "saved_replies: 1 row(s)",
        "used_jtis: 1 row(s)",
    ] {
        assert!(printed.contains(line), "{line:?} missing from:\n{printed}");
    }
}

/// A server's router over the database at `url`, and its store.
async fn server_on(app: &TestApp, url: &str) -> (axum::Router, std::sync::Arc<dyn Store>) {
    let mut config = Config::from_toml(&common::config_text(app.dir.path())).unwrap();
    config.server.database_url = url.to_owned();
    let store = store::connect(url).await.unwrap();
    let router = trustchat_server::app(AppState::new(config, store.clone()).await.unwrap());
    (router, store)
}

/// The copy at `url` works as the original did: the old tokens open the
/// session and the console, the history is there, and the next message
/// takes the next seq.
async fn check_copy(app: &TestApp, url: &str, installed: &Installed) {
    let (router, store) = server_on(app, url).await;
    let reply: Reply = send(
        router.clone(),
        with_token("GET", "/api/v1/sessions/current", &installed.token),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{url}: {}", reply.text);
    assert_eq!(
        reply.json()["customer"]["id"],
        installed.customer_id.as_str()
    );
    assert_eq!(reply.json()["customer"]["email"], "ada@example.com");

    let page = send(
        router.clone(),
        with_token("GET", "/api/v1/messages?after=0", &installed.token),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{url}: {}", page.text);
    let messages = page.json()["messages"].as_array().unwrap().clone();
    let bodies: Vec<_> = messages
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, installed.bodies, "{url}");
    let seqs: Vec<_> = messages
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3]);

    let agent = agents::authenticate(store.as_ref(), &installed.agent_token)
        .await
        .unwrap();
    let agent = agent.map(|(_, agent)| agent);
    assert_eq!(
        agent.as_ref().map(|agent| agent.email.as_str()),
        Some("grace@example.com"),
        "{url}: the agent cookie still works"
    );
    assert_eq!(
        store.agent_teams(&agent.unwrap().id).await.unwrap(),
        ["billing", "frontline"],
        "{url}: the agent's teams came along"
    );
    let replies = store.saved_replies(&["billing".to_owned()]).await.unwrap();
    assert_eq!(
        replies.iter().map(|r| r.body.as_str()).collect::<Vec<_>>(),
        ["Refunds take 5 days."],
        "{url}: the saved replies came along"
    );

    let conversation_id = messages[0]["conversation_id"].as_str().unwrap().to_owned();
    let view = store
        .conversation_views(store::ConversationFilter::Id(conversation_id.clone()), 0)
        .await
        .unwrap();
    assert_eq!(view[0].unread, 0, "{url}: the read marker came along");
    assert_eq!(
        store.next_email_due().await.unwrap(),
        Some(8_000_000),
        "{url}: the pending email came along"
    );
    let claim = store
        .claim_due_email(8_000_000, 8_500_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            claim.conversation.id.as_str(),
            claim.emailed_seq,
            claim.attempts
        ),
        (conversation_id.as_str(), 2, 1),
        "{url}: what was emailed came along"
    );
    let conversation = store.conversation(&conversation_id).await.unwrap().unwrap();
    assert_eq!(
        (conversation.last_seq, conversation.last_activity_at),
        (3, 7_000_000),
        "{url}"
    );
    let closed = store
        .conversation(&installed.closed_conversation)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (closed.status, closed.last_seq, closed.last_activity_at),
        (trustchat_protocol::ConversationStatus::Closed, 1, 5_000_000),
        "{url}: closed after its last message, as in the source"
    );
    assert_eq!(
        closed.rating.map(|r| (r.rating, r.comment)),
        Some((4, Some("quick".to_owned()))),
        "{url}: the rating came along"
    );
    assert!(
        !store
            .remember_jti("demo", "used-once", i64::MAX / 2, 0)
            .await
            .unwrap(),
        "{url}: a used token id stays used"
    );

    // The next message goes on from there.
    let request = Request::post("/api/v1/messages")
        .header("authorization", format!("Bearer {}", installed.token))
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"client_id": uuid::Uuid::new_v4().to_string(), "body": "still here"})
                .to_string(),
        ))
        .unwrap();
    let next = send(router, request).await;
    assert_eq!(next.status, StatusCode::CREATED, "{url}: {}", next.text);
    assert_eq!(next.json()["seq"], 4);
    assert_eq!(next.json()["conversation_id"], conversation_id.as_str());
    store.close().await;
}

#[tokio::test]
async fn a_copied_installation_keeps_its_sessions_agents_and_history() {
    let app = TestApp::new().await;
    let installed = install(&app).await;
    let source = format!(
        "sqlite://{}",
        app.dir.path().join("data/trustchat.db").display()
    );

    // SQLite to SQLite, always.
    let sqlite_copy = databases::sqlite();
    copy_ok(&source, &sqlite_copy.url).await;

    // Into a database that holds anything: refused, and left alone.
    let refused = db_copy(&source, &sqlite_copy.url).await;
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("is not empty (customers has rows)"),
        "{}",
        text(&refused)
    );
    check_copy(&app, &sqlite_copy.url, &installed).await;

    let Some(postgres) = databases::postgres("db_copy").await else {
        eprintln!(
            "{} is not set: the copy to Postgres and back was skipped",
            databases::ENV
        );
        return;
    };
    // SQLite to Postgres: the migration path. The Postgres URL of the
    // environment has no password; one with a password is never printed.
    copy_ok(&source, &postgres.url).await;
    let refused = db_copy(&source, &postgres.url).await;
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("is not empty"),
        "{}",
        text(&refused)
    );

    // And back, from Postgres to a new SQLite file, before the Postgres
    // copy takes new messages.
    let round_trip = databases::sqlite();
    copy_ok(&postgres.url, &round_trip.url).await;
    check_copy(&app, &postgres.url, &installed).await;
    check_copy(&app, &round_trip.url, &installed).await;
}

#[tokio::test]
async fn a_source_that_is_not_a_database_of_this_release_is_refused() {
    // A SQLite file that exists but holds no TrustChat schema.
    let empty = databases::sqlite();
    std::fs::write(empty.url.trim_start_matches("sqlite://"), b"").unwrap();
    let refused = db_copy(&empty.url, &databases::sqlite().url).await;
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("is not a TrustChat database"),
        "{}",
        text(&refused)
    );
}

#[tokio::test]
async fn migrate_applies_pending_migrations_and_exits_0() {
    let mut databases = vec![databases::sqlite()];
    databases.extend(databases::postgres("migrate_cli").await);
    for db in databases {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("trustchat.toml");
        std::fs::write(
            &config,
            format!("[server]\ndatabase_url = \"{}\"\n", db.url),
        )
        .unwrap();
        let migrate = || {
            let config = config.clone();
            tokio::task::spawn_blocking(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_trustchat-server"))
                    .args(["migrate", "--config"])
                    .arg(&config)
                    .env_remove("TRUSTCHAT_DATABASE_URL")
                    .output()
                    .unwrap()
            })
        };
        let first = migrate().await.unwrap();
        assert!(first.status.success(), "{}: {}", db.backend, text(&first));
        assert!(
            text(&first).contains("applied migration(s) 1"),
            "{}",
            text(&first)
        );
        let again = migrate().await.unwrap();
        assert!(again.status.success(), "{}", text(&again));
        assert!(text(&again).contains("is up to date"), "{}", text(&again));
        // The server opens it as it is.
        let store = store::connect(&db.url).await.unwrap();
        store.ping().await.unwrap();
        store.close().await;
    }
}
