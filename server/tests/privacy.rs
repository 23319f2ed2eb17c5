//! Privacy requests (issue 15) as a website's backend and an operator
//! make them: `POST /api/v1/apps/{id}/customers/export|erase` with the
//! app's API key, `trustchat-server customer export|erase|audit` and
//! `db backup` against a running server's SQLite file, and what an erasure
//! leaves in the database files: nothing.

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]

mod common;
mod databases;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::live::{config_full, Live};
use serde_json::{json, Value};
use trustchat_server::http::mint::api_key_hash;
use trustchat_server::store::{AuditAction, ConversationFilter, SearchQuery};

const DEMO_KEY: &str = "tck_privacy_demo_backend_key";
const OTHER_KEY: &str = "tck_privacy_other_backend_key";

/// App `demo` with the API key `backend`, app `other` with its own.
fn keys() -> (String, String) {
    (
        format!(
            "\n[[apps.api_keys]]\nname = \"backend\"\nhash = \"{}\"\n",
            api_key_hash(DEMO_KEY)
        ),
        // Zoe writes more than the default burst.
        format!(
            "\n[[apps.api_keys]]\nname = \"other-backend\"\nhash = \"{}\"\n\n[limits]\nmessage_burst = 200\n",
            api_key_hash(OTHER_KEY)
        ),
    )
}

async fn start() -> Live {
    let (demo, other) = keys();
    Live::start_full(&demo, &other).await
}

/// The config file of `live` (same database), for the command line.
fn config_file(live: &Live) -> PathBuf {
    let dir = live.dir();
    let path = dir.path().join("trustchat.toml");
    if !path.exists() {
        let (demo, other) = keys();
        let url = format!("sqlite://{}", db_path(live).display());
        std::fs::write(&path, config_full(&url, &demo, &other)).unwrap();
    }
    path
}

fn db_path(live: &Live) -> PathBuf {
    live.dir().path().join("t.db")
}

/// `POST path` with `body` and, if any, the API key.
async fn post(live: &Live, path: &str, key: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = live.http.post(live.url(path)).json(&body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let reply = request.send().await.unwrap();
    (
        reply.status().as_u16(),
        reply.json().await.unwrap_or(Value::Null),
    )
}

async fn export(live: &Live, body: Value) -> (u16, Value) {
    post(
        live,
        "/api/v1/apps/demo/customers/export",
        Some(DEMO_KEY),
        body,
    )
    .await
}

async fn erase(live: &Live, body: Value) -> (u16, Value) {
    post(
        live,
        "/api/v1/apps/demo/customers/erase",
        Some(DEMO_KEY),
        body,
    )
    .await
}

/// The status of `GET /api/v1/sessions/current` with `token`.
async fn session_status(live: &Live, token: &str) -> u16 {
    live.http
        .get(live.url("/api/v1/sessions/current"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Zoe: an identified customer with a page, messages, a closed and rated
/// conversation and an open one. Returns her token.
async fn zoe(live: &Live) -> String {
    let (token, _) = live
        .customer(json!({"user": {"name": "Zoe Quixotic", "email": "Zoe.Quixotic@Erasure.example", "phone": "+14155550199"}}))
        .await;
    // Rewritten rows leave their old versions in the page's free space,
    // unless that is zeroed: move the page and the languages many times.
    for i in 0..20 {
        let reply = live
            .http
            .post(live.url("/api/v1/sessions/current/page"))
            .bearer_auth(&token)
            .json(&json!({"url": format!("https://shop.example/orders/quixotic-{i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 204);
        let reply = live
            .http
            .get(live.url("/api/v1/sessions/current"))
            .bearer_auth(&token)
            .header("accept-language", format!("fr-CH, fr;q=0.{}", i % 9 + 1))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
    }
    // Long messages fill whole pages (freed pages must be zeroed too).
    let filler = "ultramarine xylophone ".repeat(60);
    let first = live.say(&token, "my parcel XYLOPHONE-0 never came").await;
    for i in 1..25 {
        live.say(&token, &format!("parcel XYLOPHONE-{i} {filler}"))
            .await;
    }
    let conversation = first["conversation_id"].as_str().unwrap().to_owned();
    live.state
        .store
        .append_agent_message(trustchat_server::store::NewAgentMessage {
            id: uuid::Uuid::new_v4().to_string(),
            conversation_id: conversation.clone(),
            author_name: "Bea".into(),
            kind: trustchat_protocol::MessageKind::Text,
            body: "Sorry Zoe, tracking says tangerine depot".into(),
            link: None,
            client_id: None,
            now_ms: trustchat_server::clock::now_ms(),
            email_due_at: Some(trustchat_server::clock::now_ms() + 3_600_000),
            webhooks: Default::default(),
        })
        .await
        .unwrap();
    live.state
        .store
        .close_conversation(
            &conversation,
            trustchat_server::clock::now_ms(),
            &Default::default(),
        )
        .await
        .unwrap();
    let rated = live
        .http
        .post(live.url(&format!("/api/v1/conversations/{conversation}/rating")))
        .bearer_auth(&token)
        .json(&json!({"rating": 2, "comment": "periwinkle service"}))
        .send()
        .await
        .unwrap();
    assert_eq!(rated.status(), 200);
    live.say(&token, "one more question, quixotic as it is")
        .await;
    token
}

/// Kim: another customer, who stays.
async fn kim(live: &Live) -> String {
    let (token, _) = live
        .customer(json!({"user": {"name": "Kim Keeper", "email": "kim@keep.example"}}))
        .await;
    live.say(&token, "my keepsake marmalade order").await;
    token
}

/// The database's files, each read whole.
fn database_files(db: &Path) -> Vec<(String, Vec<u8>)> {
    ["", "-wal", "-shm", "-journal"]
        .iter()
        .filter_map(|suffix| {
            let path = PathBuf::from(format!("{}{suffix}", db.display()));
            std::fs::read(&path)
                .ok()
                .map(|bytes| (path.display().to_string(), bytes))
        })
        .collect()
}

/// Where `needle` (ASCII, any case) occurs in the files.
fn occurrences(files: &[(String, Vec<u8>)], needle: &str) -> Vec<String> {
    let needle = needle.to_ascii_lowercase().into_bytes();
    files
        .iter()
        .filter(|(_, bytes)| {
            bytes
                .windows(needle.len())
                .any(|w| w.eq_ignore_ascii_case(&needle))
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// What Zoe typed or was told, or was said about her: none of it may be
/// left after her erasure.
const ZOE: [&str; 9] = [
    "quixotic",
    "erasure.example",
    "4155550199",
    "xylophone",
    "ultramarine",
    "periwinkle",
    "tangerine",
    "fr-CH",
    "never came",
];

#[tokio::test]
async fn an_erased_customer_leaves_no_byte_in_the_sqlite_files() {
    let live = start().await;
    let token = zoe(&live).await;
    kim(&live).await;
    // Before: Zoe is in the files (the test can see her).
    let before = database_files(&db_path(&live));
    for needle in ["quixotic", "xylophone", "periwinkle"] {
        assert!(
            !occurrences(&before, needle).is_empty(),
            "{needle} should be in the files before the erasure"
        );
    }

    let (status, report) = erase(&live, json!({"email": "zoe.quixotic@erasure.example"})).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["profiles"].as_array().unwrap().len(), 1);
    assert_eq!(report["sessions"], 1);
    assert_eq!(report["conversations"], 2);
    assert_eq!(report["messages"], 27);
    assert_eq!(report["ratings"], 1);
    assert_eq!(report["pending_emails"], 1);

    // The server keeps running and writing; the files hold nothing of Zoe.
    let after = database_files(&db_path(&live));
    for needle in ZOE {
        assert_eq!(
            occurrences(&after, needle),
            Vec::<String>::new(),
            "{needle:?} is still in the database files"
        );
    }
    // Kim's words are where they were, and search still finds them.
    assert!(!occurrences(&after, "marmalade").is_empty());
    let found = live
        .state
        .store
        .conversation_views(
            ConversationFilter::Search(SearchQuery {
                terms: vec!["marmalade".into()],
                apps: None,
                limit: 10,
            }),
            trustchat_server::clock::now_secs(),
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(session_status(&live, &token).await, 401);
    // The audit log names the profile, never her address or words.
    let log = live.state.store.audit_log(Some("demo"), 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].action, AuditAction::Erase);
    assert_eq!(log[0].actor, "api-key:backend");
    assert_eq!(
        log[0].customer_id.as_deref(),
        report["profiles"][0].as_str()
    );
    live.shutdown().await;
}

#[tokio::test]
async fn the_export_holds_everything_about_the_customer_and_no_secret() {
    let live = start().await;
    let token = zoe(&live).await;
    kim(&live).await;
    let (status, export) = export(&live, json!({"email": "ZOE.quixotic@erasure.example"})).await;
    assert_eq!(status, 200, "{export}");
    assert_eq!(export["app_id"], "demo");
    let profiles = export["profiles"].as_array().unwrap();
    assert_eq!(profiles.len(), 1);
    let zoe = &profiles[0];
    assert_eq!(zoe["email"], "zoe.quixotic@erasure.example");
    // A phone given beside an email stays with the session.
    assert_eq!(zoe["phone"], Value::Null);
    assert_eq!(zoe["name"], "Zoe Quixotic");
    let session = &zoe["sessions"][0];
    assert_eq!(session["identity"], "user");
    assert_eq!(session["email"], "zoe.quixotic@erasure.example");
    assert_eq!(session["phone"], "+14155550199");
    assert_eq!(
        session["page_url"],
        "https://shop.example/orders/quixotic-19"
    );
    assert_eq!(session["locales"][0], "fr-CH");
    let conversations = zoe["conversations"].as_array().unwrap();
    assert_eq!(conversations.len(), 2);
    let closed = &conversations[0];
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["messages"].as_array().unwrap().len(), 26);
    assert_eq!(
        closed["messages"][0]["body"],
        "my parcel XYLOPHONE-0 never came"
    );
    assert_eq!(closed["messages"][25]["author"], "agent");
    assert_eq!(closed["rating"]["comment"], "periwinkle service");
    assert!(closed["pending_email"]["due_at"].as_i64().is_some());
    assert_eq!(conversations[1]["status"], "open");
    // Nothing of Kim, and no token or its hash.
    let text = export.to_string();
    assert!(!text.contains("marmalade"));
    assert!(!text.contains(&token));
    assert!(!text.contains(&trustchat_server::identity::hash_token(&token)));
    assert!(!text.contains("token"));
    // By phone and by id: the same profile.
    let id = zoe["id"].as_str().unwrap();
    for body in [json!({"phone": "+1 415 555 0199"}), json!({"id": id})] {
        let (status, again) = export_body(&live, body).await;
        assert_eq!(status, 200);
        assert_eq!(again["profiles"][0]["id"], id);
    }
    // Each export is in the audit log, without the address.
    let log = live.state.store.audit_log(Some("demo"), 10).await.unwrap();
    assert_eq!(log.len(), 3);
    for entry in &log {
        assert_eq!(entry.action, AuditAction::Export);
        assert_eq!(entry.customer_id.as_deref(), Some(id));
        assert_eq!(entry.actor, "api-key:backend");
        assert!(!entry.detail.contains("zoe"));
    }
    // Nothing changed.
    assert_eq!(session_status(&live, &token).await, 200);
    live.shutdown().await;
}

async fn export_body(live: &Live, body: Value) -> (u16, Value) {
    export(live, body).await
}

#[tokio::test]
async fn only_the_apps_own_api_key_reaches_its_customers() {
    let live = start().await;
    let token = zoe(&live).await;
    let email = json!({"email": "zoe.quixotic@erasure.example"});
    for path in [
        "/api/v1/apps/demo/customers/export",
        "/api/v1/apps/demo/customers/erase",
    ] {
        // No key, an unknown key, an agent's cookie: 401.
        let (status, body) = post(&live, path, None, email.clone()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("unauthorized"))
        );
        let (status, _) = post(&live, path, Some("tck_nope"), email.clone()).await;
        assert_eq!(status, 401);
        live.add_agent("bea@support.example", "Bea").await;
        let agent = live.login("bea@support.example").await;
        let reply = live
            .http
            .post(live.url(path))
            .header("cookie", &agent.cookie)
            .header("x-csrf-token", &agent.csrf)
            .json(&email)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 401);
        // Another app's key: as if the app did not exist.
        let (status, body) = post(&live, path, Some(OTHER_KEY), email.clone()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("not_found"))
        );
        // The demo key on another app's path, or on no app.
        for other in ["other", "nope"] {
            let (status, body) = post(
                &live,
                &path.replace("/demo/", &format!("/{other}/")),
                Some(DEMO_KEY),
                email.clone(),
            )
            .await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (404, Some("not_found"))
            );
        }
        live.state
            .store
            .remove_agent(&agent.id, trustchat_server::clock::now_ms())
            .await
            .unwrap();
    }
    // Zoe is untouched, and nothing was logged.
    assert_eq!(session_status(&live, &token).await, 200);
    assert!(live
        .state
        .store
        .audit_log(None, 10)
        .await
        .unwrap()
        .is_empty());
    live.shutdown().await;
}

#[tokio::test]
async fn every_bad_request_gets_its_code() {
    let live = start().await;
    zoe(&live).await;
    for (body, status, code, field) in [
        (json!({}), 422, "invalid_request", None),
        (
            json!({"email": "zoe.quixotic@erasure.example", "id": "x"}),
            422,
            "invalid_request",
            None,
        ),
        (
            json!({"email": "not an email"}),
            422,
            "invalid_email",
            Some("email"),
        ),
        (json!({"phone": "12"}), 422, "invalid_phone", Some("phone")),
        (json!({"id": ""}), 422, "invalid_request", Some("id")),
        (json!({"id": "a b"}), 422, "invalid_request", Some("id")),
        (json!({"name": "Zoe"}), 422, "invalid_request", None),
        (json!({"email": 7}), 422, "invalid_request", None),
        (
            json!({"email": "nobody@erasure.example"}),
            404,
            "not_found",
            None,
        ),
        (
            json!({"id": "00000000-0000-4000-8000-000000000000"}),
            404,
            "not_found",
            None,
        ),
    ] {
        for path in [
            "/api/v1/apps/demo/customers/export",
            "/api/v1/apps/demo/customers/erase",
        ] {
            let (got, reply) = post(&live, path, Some(DEMO_KEY), body.clone()).await;
            assert_eq!(got, status, "{body} to {path}: {reply}");
            assert_eq!(reply["error"]["code"], code, "{body} to {path}: {reply}");
            if let Some(field) = field {
                assert_eq!(reply["error"]["field"], field, "{body}: {reply}");
            }
            assert!(reply["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()));
        }
    }
    // Not JSON, not declared JSON, the wrong method.
    let url = live.url("/api/v1/apps/demo/customers/erase");
    let reply = live
        .http
        .post(&url)
        .bearer_auth(DEMO_KEY)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 400);
    let reply = live
        .http
        .post(&url)
        .bearer_auth(DEMO_KEY)
        .body("email=zoe")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 415);
    let reply = live
        .http
        .get(&url)
        .bearer_auth(DEMO_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 405);
    live.shutdown().await;
}

#[tokio::test]
async fn an_erasure_closes_the_customers_open_chat() {
    let live = start().await;
    let (token, _) = live
        .customer(json!({"user": {"name": "Zoe Quixotic", "email": "zoe@erasure.example"}}))
        .await;
    live.say(&token, "hello").await;
    let mut socket = live.widget(&token).await;
    let (status, _) = erase(&live, json!({"email": "zoe@erasure.example"})).await;
    assert_eq!(status, 200);
    socket.closed_with(4001).await;
    assert_eq!(session_status(&live, &token).await, 401);
    live.shutdown().await;
}

/// `trustchat-server ARGS...`, run as an operator would.
async fn cli(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_trustchat-server"))
            .args(&args)
            .env_remove("TRUSTCHAT_CONFIG")
            .env_remove("TRUSTCHAT_DATABASE_URL")
            .env("USER", "ops")
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

fn args(list: &[&str], config: &Path) -> Vec<String> {
    list.iter()
        .map(|a| a.to_string())
        .chain(["--config".to_owned(), config.display().to_string()])
        .collect()
}

#[tokio::test]
async fn the_command_line_exports_and_erases_while_the_server_runs() {
    let live = start().await;
    let token = zoe(&live).await;
    kim(&live).await;
    let config = config_file(&live);
    let who = ["--app", "demo", "--email", "Zoe.Quixotic@erasure.example"];

    // Export to stdout, then to a new private file (never over one).
    let exported = cli(args(&[&["customer", "export"][..], &who].concat(), &config)).await;
    assert!(exported.status.success(), "{}", text(&exported));
    let json: Value = serde_json::from_slice(&exported.stdout).unwrap();
    assert_eq!(json["profiles"][0]["email"], "zoe.quixotic@erasure.example");
    let out = live.dir().path().join("zoe.json");
    let out_arg = out.display().to_string();
    let to_file = args(
        &[&["customer", "export"][..], &who, &["--out", &out_arg]].concat(),
        &config,
    );
    let written = cli(to_file.clone()).await;
    assert!(written.status.success(), "{}", text(&written));
    let file: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(file["profiles"], json["profiles"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = cli(to_file).await;
    assert!(!again.status.success());
    assert!(text(&again).contains("exists"), "{}", text(&again));

    // Bad selectors and nobody: a clear error, exit 1.
    for (bad, says) in [
        (vec!["--app", "demo", "--email", "nope"], "--email"),
        (vec!["--app", "demo", "--phone", "12"], "--phone"),
        (
            vec!["--app", "demo", "--email", "nobody@x.example"],
            "no customer of app demo has this email",
        ),
        (vec!["--app", "demo"], "required"),
        (
            vec!["--app", "demo", "--id", "a", "--email", "a@b.example"],
            "cannot be used with",
        ),
    ] {
        let output = cli(args(&[&["customer", "export"][..], &bad].concat(), &config)).await;
        assert!(!output.status.success());
        assert!(text(&output).contains(says), "{bad:?}: {}", text(&output));
    }

    // Erase asks for --yes, and says what would go.
    let asked = cli(args(&[&["customer", "erase"][..], &who].concat(), &config)).await;
    assert!(!asked.status.success());
    let said = text(&asked);
    assert!(said.contains("would erase 1 profile(s)"), "{said}");
    assert!(said.contains("--yes"), "{said}");
    assert_eq!(session_status(&live, &token).await, 200);

    // Erased while the server runs (another process on the same file).
    let erased = cli(args(
        &[&["customer", "erase"][..], &who, &["--yes"]].concat(),
        &config,
    ))
    .await;
    assert!(erased.status.success(), "{}", text(&erased));
    let said = text(&erased);
    assert!(said.contains("erased 1 profile(s) of app demo"), "{said}");
    assert!(said.contains("27 message(s)"), "{said}");
    assert!(!said.contains("quixotic"), "{said}");
    assert_eq!(session_status(&live, &token).await, 401);
    let files = database_files(&db_path(&live));
    for needle in ZOE {
        assert_eq!(
            occurrences(&files, needle),
            Vec::<String>::new(),
            "{needle}"
        );
    }
    // The server goes on.
    kim(&live).await;

    // The audit log: two exports and the erasure, by `cli:ops`.
    let audit = cli(args(&["customer", "audit", "--app", "demo"], &config)).await;
    assert!(audit.status.success(), "{}", text(&audit));
    let lines = String::from_utf8_lossy(&audit.stdout).into_owned();
    assert_eq!(lines.lines().count(), 3, "{lines}");
    assert!(lines.lines().next().unwrap().contains("erase"), "{lines}");
    assert_eq!(lines.matches("cli:ops").count(), 3, "{lines}");
    assert!(!lines.contains("zoe"), "{lines}");
    live.shutdown().await;
}

/// Row counts of a SQLite file.
async fn counts(path: &Path) -> (String, i64, i64, i64) {
    use sqlx::{ConnectOptions as _, Connection as _};
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await
        .unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let count = |table: &'static str| format!("SELECT count(*) FROM {table}");
    let mut numbers = Vec::new();
    for table in ["conversations", "messages", "customers"] {
        numbers.push(
            sqlx::query_scalar(sqlx::AssertSqlSafe(count(table)))
                .fetch_one(&mut conn)
                .await
                .unwrap(),
        );
    }
    // Every message's conversation is there: one snapshot, not a mix.
    let orphans: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM messages m WHERE NOT EXISTS \
         (SELECT 1 FROM conversations c WHERE c.id = m.conversation_id)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(orphans, 0);
    let seq_gaps: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM conversations c WHERE c.last_seq <> \
         (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(seq_gaps, 0, "every conversation has all its messages");
    conn.close().await.unwrap();
    (check, numbers[0], numbers[1], numbers[2])
}

#[tokio::test]
async fn a_backup_taken_while_customers_write_is_whole_and_consistent() {
    let live = start().await;
    let config = config_file(&live);
    // Customers keep writing during the backup.
    let mut tokens = Vec::new();
    for i in 0..4 {
        let (token, _) = live
            .customer(json!({"user": {"name": format!("Writer {i}"), "email": format!("w{i}@x.example")}}))
            .await;
        live.say(&token, "first").await;
        tokens.push(token);
    }
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let writers: Vec<_> = tokens
        .iter()
        .cloned()
        .map(|token| {
            let http = live.http.clone();
            let url = live.url("/api/v1/messages");
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                let mut sent = 0u64;
                while !*stopped.borrow_and_update() {
                    let reply = http
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&json!({"client_id": uuid::Uuid::new_v4().to_string(), "body": "more words to back up"}))
                        .send()
                        .await
                        .unwrap();
                    if reply.status() == 429 {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                    assert_eq!(reply.status(), 201);
                    sent += 1;
                }
                sent
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let copy = live.dir().path().join("backup.db");
    let copy_arg = copy.display().to_string();
    let backup = cli(args(&["db", "backup", "--to", &copy_arg], &config)).await;
    let _ = stopped.borrow_and_update();
    stop.send(true).unwrap();
    let mut sent = 0;
    for writer in writers {
        sent += writer.await.unwrap();
    }
    let said = text(&backup);
    assert!(backup.status.success(), "{said}");
    assert!(said.contains("integrity ok"), "{said}");
    assert!(sent > 0, "the customers wrote during the backup");

    let (check, conversations, messages, customers) = counts(&copy).await;
    assert_eq!(check, "ok");
    assert_eq!((conversations, customers), (4, 4));
    assert!(messages >= 4, "{messages}");
    let total = 4 + sent as i64;
    assert!(messages <= total, "{messages} of {total}");
    assert!(said.contains(&format!("messages: {messages}")), "{said}");
    // No temporary file is left beside it.
    let leftovers: Vec<_> = std::fs::read_dir(live.dir().path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // An existing file is kept unless --force.
    let refused = cli(args(&["db", "backup", "--to", &copy_arg], &config)).await;
    assert!(!refused.status.success());
    assert!(text(&refused).contains("--force"), "{}", text(&refused));
    let forced = cli(args(
        &["db", "backup", "--to", &copy_arg, "--force"],
        &config,
    ))
    .await;
    assert!(forced.status.success(), "{}", text(&forced));
    let (_, _, after, _) = counts(&copy).await;
    assert_eq!(after, total, "the new backup has every message");

    // The copy opens as a server's database.
    let restored = trustchat_server::store::connect(&format!("sqlite://{}", copy.display()))
        .await
        .unwrap();
    assert_eq!(
        restored
            .customer_data(
                "demo",
                &trustchat_server::store::CustomerMatch::Email("w0@x.example".into())
            )
            .await
            .unwrap()
            .customers
            .len(),
        1
    );
    restored.close().await;
    live.shutdown().await;
}

#[tokio::test]
async fn backup_on_postgres_says_to_use_pg_dump() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trustchat.toml");
    std::fs::write(
        &config,
        "[server]\ndatabase_url = \"postgres://trustchat:secret@db.internal/trustchat\"\n",
    )
    .unwrap();
    let out = dir.path().join("b.db").display().to_string();
    let output = cli(args(&["db", "backup", "--to", &out], &config)).await;
    assert!(!output.status.success());
    let said = text(&output);
    assert!(said.contains("pg_dump"), "{said}");
    assert!(!said.contains("secret"), "{said}");
}

#[tokio::test]
async fn retention_deletes_conversations_closed_longer_ago_than_the_app_keeps_them() {
    use trustchat_server::Config;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let (demo, _) = keys();
    let text = config_full(
        &url,
        &format!("{demo}\n[apps.retention]\nclosed_conversation_days = 30\n"),
        "",
    );
    let config = Config::from_toml(&text).unwrap();
    let store = trustchat_server::store::connect(&url).await.unwrap();
    let day = 24 * 3600 * 1000;
    let now = 1_900_000_000_000_i64;
    let customer = trustchat_server::store::CustomerRecord {
        id: uuid::Uuid::new_v4().to_string(),
        app_id: "demo".into(),
        sub: None,
        name: None,
        email: None,
        phone: None,
        created_at: 0,
        updated_at: 0,
    };
    store.insert_customer(&customer).await.unwrap();
    let mut conversations = Vec::new();
    for (app, opened, closed) in [
        ("demo", now - 40 * day, Some(now - 31 * day)),
        ("demo", now - 40 * day, Some(now - 29 * day)),
        ("demo", now - 40 * day, None),
        ("other", now - 400 * day, Some(now - 399 * day)),
    ] {
        let session = trustchat_server::store::SessionRecord {
            id: uuid::Uuid::new_v4().to_string(),
            token_hash: uuid::Uuid::new_v4().to_string(),
            app_id: app.into(),
            customer_id: customer.id.clone(),
            trusted: false,
            trusted_until: None,
            identity_kind: trustchat_server::store::IdentityKind::Anonymous,
            sub: None,
            display_name: None,
            display_email: None,
            display_phone: None,
            display_first_name: None,
            created_at: 0,
            revoked_at: None,
            page_url: None,
            locales: Vec::new(),
        };
        store.insert_session(&session, &[]).await.unwrap();
        let appended = store
            .append_customer_message(trustchat_server::store::NewCustomerMessage {
                id: uuid::Uuid::new_v4().to_string(),
                app_id: app.into(),
                customer_id: customer.id.clone(),
                session_id: session.id.clone(),
                author_name: None,
                client_id: uuid::Uuid::new_v4().to_string(),
                body: "an old question".into(),
                trusted: false,
                now_ms: opened,
                routing: Default::default(),
                webhooks: Default::default(),
            })
            .await
            .unwrap();
        if let Some(closed) = closed {
            store
                .close_conversation(
                    &appended.message.conversation_id,
                    closed,
                    &Default::default(),
                )
                .await
                .unwrap();
        }
        conversations.push(appended.message.conversation_id);
    }
    let purged = trustchat_server::privacy::purge_expired(store.as_ref(), &config, now)
        .await
        .unwrap();
    assert_eq!(purged, [("demo".to_owned(), 1, 1)]);
    assert!(store
        .conversation(&conversations[0])
        .await
        .unwrap()
        .is_none());
    for kept in &conversations[1..] {
        assert!(store.conversation(kept).await.unwrap().is_some());
    }
    // Nothing more to do; a day later the second one goes too.
    assert!(
        trustchat_server::privacy::purge_expired(store.as_ref(), &config, now)
            .await
            .unwrap()
            .is_empty()
    );
    let purged = trustchat_server::privacy::purge_expired(store.as_ref(), &config, now + 2 * day)
        .await
        .unwrap();
    assert_eq!(purged, [("demo".to_owned(), 1, 1)]);
    let log = store.audit_log(None, 10).await.unwrap();
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|e| e.action == AuditAction::Retention
        && e.actor == "retention"
        && e.customer_id.is_none()
        && e.detail.contains("\"conversations\":1")));
    store.close().await;
}

#[test]
fn retention_days_are_checked_when_the_config_loads() {
    use trustchat_server::Config;
    let with =
        |table: &str| config_full("sqlite://t.db", &format!("[apps.retention]\n{table}\n"), "");
    assert_eq!(
        Config::from_toml(&with("closed_conversation_days = 90"))
            .unwrap()
            .app("demo")
            .unwrap()
            .retention
            .as_ref()
            .unwrap()
            .closed_conversation_days,
        90
    );
    for (table, says) in [
        ("closed_conversation_days = 0", "must be 1 to 36500"),
        ("closed_conversation_days = 36501", "must be 1 to 36500"),
        ("closed_conversation_days = -3", "closed_conversation_days"),
        ("closed_days = 3", "unknown field"),
        ("", "closed_conversation_days"),
    ] {
        let error = Config::from_toml(&with(table)).unwrap_err().to_string();
        assert!(error.contains(says), "{table:?}: {error}");
    }
}

#[tokio::test]
async fn on_postgres_an_erasure_by_the_command_line_reaches_the_running_server() {
    let Some(db) = databases::postgres("privacy_cli").await else {
        eprintln!("{} is not set: skipped, it needs Postgres", databases::ENV);
        return;
    };
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let (demo, other) = keys();
    let config_text = config_full(&db.url, &demo, &other);
    let config_path = dir.path().join("trustchat.toml");
    std::fs::write(&config_path, &config_text).unwrap();
    let live = Live::with_config(
        trustchat_server::Config::from_toml(&config_text).unwrap(),
        dir,
    )
    .await;
    let token = zoe(&live).await;
    kim(&live).await;
    let mut socket = live.widget(&token).await;
    let (status, exported) = export(&live, json!({"phone": "+14155550199"})).await;
    assert_eq!(status, 200, "{exported}");
    assert_eq!(
        exported["profiles"][0]["conversations"][0]["messages"]
            .as_array()
            .unwrap()
            .len(),
        26
    );

    let erased = cli(args(
        &[
            "customer",
            "erase",
            "--app",
            "demo",
            "--email",
            "zoe.quixotic@erasure.example",
            "--yes",
        ],
        &config_path,
    ))
    .await;
    assert!(erased.status.success(), "{}", text(&erased));
    assert!(text(&erased).contains("27 message(s)"), "{}", text(&erased));
    // The server heard it: Zoe's chat closes, her token is refused.
    socket.closed_with(4001).await;
    assert_eq!(session_status(&live, &token).await, 401);
    let (status, _) = export(&live, json!({"phone": "+14155550199"})).await;
    assert_eq!(status, 404);
    let log = live.state.store.audit_log(Some("demo"), 10).await.unwrap();
    assert_eq!(
        log.iter()
            .map(|e| (e.action, e.actor.as_str()))
            .collect::<Vec<_>>(),
        [
            (AuditAction::Erase, "cli:ops"),
            (AuditAction::Export, "api-key:backend")
        ]
    );
    live.shutdown().await;
}

/// App `demo` with a webhook for every event to a port nothing listens
/// on: its deliveries wait in the outbox, retrying, with Zoe's words in
/// their bodies.
async fn start_with_unreachable_webhook() -> (Live, u16) {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let (demo, other) = keys();
    let hook = format!(
        r#"
[[apps.webhooks]]
url = "http://127.0.0.1:{port}/hooks/path-secret-4711"
events = ["conversation.created", "message.created", "conversation.closed", "customer.verified"]
secret_env = "TRUSTCHAT_TEST_PRIVACY_HOOK"
"#
    );
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let mut config =
        trustchat_server::Config::from_toml(&config_full(&url, &format!("{demo}{hook}"), &other))
            .unwrap();
    config.apps[0].webhooks[0].secret = Some(trustchat_server::webhooks::config::Secret(
        "whsec-privacy-0123456789abcdef".into(),
    ));
    (Live::with_config(config, dir).await, port)
}

#[tokio::test]
async fn the_customers_webhook_deliveries_are_exported_and_erased_with_them() {
    let (live, port) = start_with_unreachable_webhook().await;
    zoe(&live).await;
    kim(&live).await;

    // The export names who got (or will get) her data: the webhook's
    // origin, never its path.
    let (status, export) = export(&live, json!({"email": "zoe.quixotic@erasure.example"})).await;
    assert_eq!(status, 200, "{export}");
    let deliveries = export["profiles"][0]["webhook_deliveries"]
        .as_array()
        .unwrap();
    // Her conversation opened, her 26 messages, the close, the second
    // conversation (the agent's reply was stored directly, without
    // webhooks).
    let events = |name: &str| deliveries.iter().filter(|d| d["event"] == name).count();
    assert_eq!(events("conversation.created"), 2, "{export}");
    assert_eq!(events("message.created"), 26, "{export}");
    for d in deliveries {
        assert_eq!(d["recipient"], format!("http://127.0.0.1:{port}"));
        assert_eq!(d["status"], "pending");
    }
    assert!(!export.to_string().contains("path-secret-4711"));

    // Before: the outbox holds her words.
    let before = database_files(&db_path(&live));
    assert!(!occurrences(&before, "xylophone").is_empty());
    let outbox = live
        .state
        .store
        .webhook_deliveries("demo", 1_000)
        .await
        .unwrap();
    assert!(outbox.iter().any(|d| d.payload.contains("XYLOPHONE")));
    assert!(outbox.iter().any(|d| d.payload.contains("marmalade")));

    let (status, report) = erase(&live, json!({"email": "zoe.quixotic@erasure.example"})).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["webhook_deliveries"], deliveries.len(), "{report}");
    // Kim's deliveries wait on; none of Zoe's is left to send, and no
    // byte of her is in the files.
    let left = live
        .state
        .store
        .webhook_deliveries("demo", 1_000)
        .await
        .unwrap();
    assert!(!left.is_empty());
    for d in &left {
        assert!(!d.payload.to_lowercase().contains("quixotic"), "{d:?}");
        assert!(!d.payload.contains("XYLOPHONE"), "{d:?}");
    }
    let after = database_files(&db_path(&live));
    for needle in ZOE {
        assert_eq!(
            occurrences(&after, needle),
            Vec::<String>::new(),
            "{needle:?} is still in the database files"
        );
    }
    live.shutdown().await;
}
