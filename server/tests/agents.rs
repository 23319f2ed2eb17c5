//! The agent console's API through a real socket: login and its cookie,
//! authorization, CSRF and origin checks, routing, the agent WebSocket,
//! replies, login requests, closing, unread counts, profiles, trusted flags
//! and first-message rules.

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]

mod common;

use futures_util::SinkExt as _;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use common::live::{config_text, jwt, Live, LOGIN_URL, PASSWORD};
use trustchat_server::Config;

#[tokio::test]
async fn login_sets_a_strict_http_only_cookie_and_failures_look_alike_then_are_limited() {
    let live = Live::start().await;
    live.add_agent("Alice@Support.example", "Alice Agent").await;
    let ok = live.login_reply("alice@support.example", PASSWORD).await;
    assert_eq!(ok.status(), 200);
    let cookie = ok.headers()["set-cookie"].to_str().unwrap().to_owned();
    for part in [
        "trustchat_agent=tca_",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=43200",
    ] {
        assert!(cookie.contains(part), "{cookie} lacks {part}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["agent"]["name"], "Alice Agent");
    assert!(body["csrf_token"].as_str().unwrap().len() >= 40);

    // Over https (behind a proxy) the cookie is Secure.
    let https = live
        .http
        .post(live.url("/api/v1/agent/login"))
        .header("x-forwarded-proto", "https")
        .json(&json!({"email": "alice@support.example", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(https.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .ends_with("; Secure"));

    let wrong_password = live
        .login_reply("alice@support.example", "not-the-password")
        .await;
    assert_eq!(wrong_password.status(), 401);
    let wrong_password: Value = wrong_password.json().await.unwrap();
    let unknown = live.login_reply("nobody@support.example", PASSWORD).await;
    assert_eq!(unknown.status(), 401);
    let unknown: Value = unknown.json().await.unwrap();
    assert_eq!(
        wrong_password, unknown,
        "the same answer, whether the email exists or not"
    );
    assert_eq!(unknown["error"]["code"], "invalid_credentials");

    // Five attempts per email a minute: the next is refused, even right.
    for _ in 0..2 {
        assert_eq!(
            live.login_reply("alice@support.example", "wrong-password!")
                .await
                .status(),
            401
        );
    }
    let limited = live.login_reply("alice@support.example", PASSWORD).await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    let limited: Value = limited.json().await.unwrap();
    assert_eq!(limited["error"]["code"], "rate_limited");
    assert!(limited["error"]["retry_after"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn logout_clears_the_cookie_and_ends_the_session() {
    let live = Live::start().await;
    live.add_agent("alice@support.example", "Alice").await;
    let alice = live.login("alice@support.example").await;
    assert_eq!(live.get(&alice, "/me").await.0, 200);
    let reply = live
        .http
        .post(live.url("/api/v1/agent/logout"))
        .header("cookie", &alice.cookie)
        .header("x-csrf-token", &alice.csrf)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 204);
    let cleared = reply.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with("trustchat_agent=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let (status, body) = live.get(&alice, "/me").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
}

/// Every agent route: method and path.
const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/v1/agent/logout"),
    ("GET", "/api/v1/agent/me"),
    ("POST", "/api/v1/agent/status"),
    ("GET", "/api/v1/agent/agents"),
    ("GET", "/api/v1/agent/conversations"),
    ("GET", "/api/v1/agent/conversations/c1"),
    ("POST", "/api/v1/agent/conversations/c1/messages"),
    ("POST", "/api/v1/agent/conversations/c1/request-login"),
    ("POST", "/api/v1/agent/conversations/c1/close"),
    ("POST", "/api/v1/agent/conversations/c1/assign"),
    ("POST", "/api/v1/agent/conversations/c1/read"),
    ("GET", "/api/v1/agent/customers/c1"),
    ("GET", "/api/v1/agent/ws"),
];

#[tokio::test]
async fn agent_routes_refuse_anonymous_requests_customer_tokens_missing_csrf_and_other_origins() {
    let live = Live::start().await;
    live.add_agent("alice@support.example", "Alice").await;
    let alice = live.login("alice@support.example").await;
    let (customer_token, _) = live.customer(json!({})).await;
    let own_origin = format!("http://{}", live.address);
    for (method, path) in ROUTES {
        let request = |extra: &[(&str, &str)]| {
            let mut builder = live
                .http
                .request(method.parse().unwrap(), live.url(path))
                .header("content-type", "application/json")
                .body("{}");
            for (name, value) in extra {
                builder = builder.header(*name, *value);
            }
            builder
        };
        let code = |reply: reqwest::Response| async move {
            let status = reply.status().as_u16();
            let body: Value = reply.json().await.unwrap_or(Value::Null);
            (status, body["error"]["code"].as_str().map(str::to_owned))
        };
        let unauthorized = (401, Some("unauthorized".to_owned()));
        assert_eq!(
            code(request(&[]).send().await.unwrap()).await,
            unauthorized,
            "{method} {path} anonymous"
        );
        let bearer = format!("Bearer {customer_token}");
        assert_eq!(
            code(request(&[("authorization", &bearer)]).send().await.unwrap()).await,
            unauthorized,
            "{method} {path} with a customer token"
        );
        let other = code(
            request(&[
                ("cookie", &alice.cookie),
                ("origin", "https://evil.example"),
            ])
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(
            other,
            (403, Some("origin_not_allowed".to_owned())),
            "{method} {path} cross-origin"
        );
        if *method == "POST" {
            let csrf_failed = (403, Some("csrf_failed".to_owned()));
            let without = code(
                request(&[("cookie", &alice.cookie), ("origin", &own_origin)])
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(without, csrf_failed, "{method} {path} without X-CSRF-Token");
            let wrong = code(
                request(&[("cookie", &alice.cookie), ("x-csrf-token", "nope")])
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(
                wrong, csrf_failed,
                "{method} {path} with a wrong X-CSRF-Token"
            );
        }
    }
    // Logging in from another origin is refused too.
    let cross = live
        .http
        .post(live.url("/api/v1/agent/login"))
        .header("origin", "https://evil.example")
        .json(&json!({"email": "alice@support.example", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
}

#[tokio::test]
async fn routing_prefers_the_least_loaded_online_available_agent_and_queues_otherwise() {
    let live = Live::start().await;
    live.add_agent("alice@support.example", "Alice").await;
    live.add_agent("bob@support.example", "Bob").await;
    let alice = live.login("alice@support.example").await;
    let bob = live.login("bob@support.example").await;

    // Nobody online: the conversation waits in the queue.
    let (ada, _) = live
        .customer(json!({"user": {"name": "Ada Lovelace", "email": "ada@example.com"}}))
        .await;
    let first = live.say(&ada, "hello?").await;
    let queued = first["conversation_id"].as_str().unwrap().to_owned();
    assert_eq!(
        live.get(&alice, "/conversations").await.1["conversations"],
        json!([])
    );

    // Alice comes online: the queue is hers, and her console hears of it.
    let mut alice_console = live.console(&alice).await;
    let routed = alice_console.next_of("conversation").await;
    assert_eq!(routed["conversation"]["id"], queued.as_str());
    assert_eq!(
        routed["conversation"]["assigned_agent_id"],
        alice.id.as_str()
    );

    // Bob is online but away: skipped.
    let mut bob_console = live.console(&bob).await;
    assert_eq!(
        live.post(&bob, "/status", json!({"status": "away"}))
            .await
            .1["status"],
        "away"
    );
    let (grace, _) = live
        .customer(json!({"user": {"name": "Grace Hopper", "email": "grace@example.com"}}))
        .await;
    live.say(&grace, "parcel?").await;
    let message = alice_console.next_of("message").await;
    assert_eq!(
        message["conversation"]["customer"]["email"],
        "grace@example.com"
    );
    assert_eq!(message["message"]["body"], "parcel?");

    // Available again: Bob has fewest open (0 against 2), so the next is his;
    // a different customer (another email) is routed on its own.
    let (status, me) = live
        .post(&bob, "/status", json!({"status": "available"}))
        .await;
    assert_eq!((status, me["online"].as_bool()), (200, Some(true)));
    let (hedy, _) = live
        .customer(json!({"user": {"name": "Hedy", "email": "hedy@example.com"}}))
        .await;
    live.say(&hedy, "from home").await;
    let hedy_frame = bob_console.next_of("message").await;
    assert_eq!(
        hedy_frame["conversation"]["assigned_agent_id"],
        bob.id.as_str()
    );
    let (hedy_work, _) = live
        .customer(json!({"user": {"name": "Hedy", "email": "hedy.work@example.com"}}))
        .await;
    live.say(&hedy_work, "from work").await;
    let work_frame = bob_console.next_of("message").await;
    assert_eq!(
        work_frame["conversation"]["customer"]["email"],
        "hedy.work@example.com"
    );
    assert_ne!(
        work_frame["conversation"]["id"],
        hedy_frame["conversation"]["id"]
    );

    // Bob (2 open) reassigns one to Alice; both consoles hear of it.
    let moved = hedy_frame["conversation"]["id"].as_str().unwrap();
    let (status, summary) = live
        .post(
            &bob,
            &format!("/conversations/{moved}/assign"),
            json!({"agent_id": alice.id}),
        )
        .await;
    assert_eq!(
        (status, summary["assigned_agent_id"].as_str()),
        (200, Some(alice.id.as_str()))
    );
    assert_eq!(
        alice_console.next_of("conversation").await["conversation"]["id"],
        moved
    );
    assert_eq!(
        bob_console.next_of("conversation").await["conversation"]["assigned_agent_id"],
        alice.id.as_str()
    );
    // Bob may no longer answer it.
    let (status, refused) = live
        .post(
            &bob,
            &format!("/conversations/{moved}/messages"),
            json!({"body": "hi"}),
        )
        .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (403, Some("not_assigned"))
    );

    // Each list holds the agent's own conversations, open first.
    let alice_list = live.get(&alice, "/conversations").await.1;
    assert_eq!(alice_list["conversations"].as_array().unwrap().len(), 3);
    assert_eq!(
        live.get(&bob, "/conversations").await.1["conversations"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let agents = live.get(&alice, "/agents").await.1;
    assert!(agents["agents"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["online"] == true));
}

#[tokio::test]
async fn replies_login_requests_closing_unread_profiles_and_trusted_flags() {
    let live = Live::start().await;
    live.add_agent("alice@support.example", "Alice Agent").await;
    let alice = live.login("alice@support.example").await;
    let mut console = live.console(&alice).await;

    let (grace, session) = live
        .customer(json!({"user": {"name": "Grace Hopper", "email": "grace@example.com"}}))
        .await;
    assert_eq!(session["greeting_link"], LOGIN_URL);
    let mut widget = live.widget(&grace).await;
    let before = live.say(&grace, "where is my parcel?").await;
    let conversation = before["conversation_id"].as_str().unwrap().to_owned();
    let frame = console.next_of("message").await;
    assert_eq!(frame["conversation"]["unread"], 1);
    assert_eq!(frame["conversation"]["customer"]["verified"], false);

    // A reply reaches the customer in real time, once per client_id.
    let client_id = uuid::Uuid::new_v4().to_string();
    let path = format!("/conversations/{conversation}/messages");
    let (status, reply) = live
        .post(
            &alice,
            &path,
            json!({"body": "let me check", "client_id": client_id}),
        )
        .await;
    assert_eq!(
        (
            status,
            reply["author"].as_str(),
            reply["author_name"].as_str()
        ),
        (201, Some("agent"), Some("Alice Agent"))
    );
    assert_eq!(reply["trusted"], false);
    let (status, again) = live
        .post(
            &alice,
            &path,
            json!({"body": "let me check", "client_id": client_id}),
        )
        .await;
    assert_eq!((status, &again["id"]), (200, &reply["id"]));
    let heard = widget.agent_message().await;
    assert_eq!(heard["message"]["body"], "let me check");
    for (body, code) in [
        (json!({"body": "  "}), "empty_message"),
        (json!({"body": "x".repeat(4001)}), "message_too_long"),
    ] {
        let (status, refused) = live.post(&alice, &path, body).await;
        assert_eq!(
            (status, refused["error"]["code"].as_str()),
            (422, Some(code))
        );
    }

    // Ask to log in: a login_request carrying the app's login_url.
    let (status, ask) = live
        .post(
            &alice,
            &format!("/conversations/{conversation}/request-login"),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, ask["kind"].as_str(), ask["link"].as_str()),
        (201, Some("login_request"), Some(LOGIN_URL))
    );
    assert_eq!(widget.agent_message().await["message"]["link"], LOGIN_URL);

    // The customer logs in mid-chat: later messages are trusted, earlier not.
    let upgrade = live
        .http
        .post(live.url("/api/v1/sessions/current/identity"))
        .bearer_auth(&grace)
        .json(&json!({"jwt": jwt("grace@example.com", "Grace Hopper")}))
        .send()
        .await
        .unwrap();
    assert_eq!(upgrade.status(), 200);
    let verified = console.next_of("conversation").await;
    assert_eq!(verified["conversation"]["customer"]["verified"], true);
    live.say(&grace, "logged in now").await;
    let detail = live
        .get(&alice, &format!("/conversations/{conversation}"))
        .await
        .1;
    assert_eq!(detail["login_url"], LOGIN_URL);
    let flags: Vec<(String, bool)> = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["body"].as_str().unwrap().to_owned(),
                m["trusted"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        flags,
        [
            ("where is my parcel?".to_owned(), false),
            ("let me check".to_owned(), false),
            ("Please log in so we can verify it's you.".to_owned(), false),
            ("logged in now".to_owned(), true),
        ]
    );

    // Unread counts customer messages after the read marker.
    assert_eq!(detail["conversation"]["unread"], 2);
    let last_seq = detail["conversation"]["last_seq"].as_i64().unwrap();
    let (status, _) = live
        .post(
            &alice,
            &format!("/conversations/{conversation}/read"),
            json!({"seq": last_seq}),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        live.get(&alice, "/conversations").await.1["conversations"][0]["unread"],
        0
    );

    // Closing: the customer hears it; their next message opens a new
    // conversation, routed on its own, and the profile lists both.
    let (status, closed) = live
        .post(
            &alice,
            &format!("/conversations/{conversation}/close"),
            json!({}),
        )
        .await;
    assert_eq!((status, closed["status"].as_str()), (200, Some("closed")));
    let status_frame = widget.next_of("conversation").await;
    assert_eq!(
        (
            status_frame["conversation_id"].as_str(),
            status_frame["status"].as_str()
        ),
        (Some(conversation.as_str()), Some("closed"))
    );
    let (status, refused) = live.post(&alice, &path, json!({"body": "too late"})).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (403, Some("not_assigned"))
    );
    let next = live.say(&grace, "one more question").await;
    assert_ne!(
        next["conversation_id"].as_str(),
        Some(conversation.as_str())
    );
    let routed = console.next_of("message").await;
    assert_eq!(
        routed["conversation"]["assigned_agent_id"],
        alice.id.as_str()
    );
    let customer_id = routed["conversation"]["customer"]["id"].as_str().unwrap();
    let profile = live
        .get(&alice, &format!("/customers/{customer_id}"))
        .await
        .1;
    assert_eq!(profile["customer"]["email"], "grace@example.com");
    assert!(
        profile["customer"].get("verified").is_none(),
        "verification is per conversation, never per profile"
    );
    assert_eq!(profile["conversations"][0]["customer"]["verified"], true);
    let statuses: Vec<&str> = profile["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["open", "closed"], "newest first");
    let list = live.get(&alice, "/conversations").await.1;
    assert_eq!(list["conversations"][0]["status"], "open", "open first");

    // Ping gets pong.
    console
        .0
        .send(WsMessage::Text(r#"{"type":"ping"}"#.into()))
        .await
        .unwrap();
    console.next_of("pong").await;
}

#[tokio::test]
async fn asking_to_log_in_without_a_login_url_is_not_configured() {
    let live = Live::start().await;
    live.add_agent("alice@support.example", "Alice").await;
    let alice = live.login("alice@support.example").await;
    let _console = live.console(&alice).await;
    let reply: Value = live
        .http
        .post(live.url("/api/v1/apps/other/sessions"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        reply["greeting"], "Hi there! How can we help?",
        "no login_url: no link"
    );
    assert!(reply.get("greeting_link").is_none());
    let token = reply["session_token"].as_str().unwrap();
    let message = live.say(token, "hi").await;
    let conversation = message["conversation_id"].as_str().unwrap();
    let (status, refused) = live
        .post(
            &alice,
            &format!("/conversations/{conversation}/request-login"),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (422, Some("not_configured"))
    );
}

#[tokio::test]
async fn first_messages_follow_the_rules_by_status() {
    let live = Live::start().await;
    let greeting = |reply: &Value| {
        (
            reply["greeting"].as_str().unwrap().to_owned(),
            reply["greeting_link"].as_str().map(str::to_owned),
        )
    };
    let anonymous = live.customer(json!({})).await.1;
    assert_eq!(
        greeting(&anonymous),
        (
            format!("Hi there! Log in for faster help: {LOGIN_URL}"),
            Some(LOGIN_URL.to_owned())
        )
    );
    let identified = live
        .customer(json!({"user": {"name": "Ada Lovelace", "email": "ada@example.com"}}))
        .await
        .1;
    assert_eq!(
        greeting(&identified),
        (
            format!("Hi Ada! Log in to verify it's you: {LOGIN_URL}"),
            Some(LOGIN_URL.to_owned())
        )
    );
    let trusted = live
        .customer(json!({"jwt": jwt("ada@example.com", "Ada Lovelace")}))
        .await
        .1;
    assert_eq!(greeting(&trusted), ("Hi Ada!".to_owned(), None));

    // Configured texts and rules, first match wins.
    let live = Live::start_with(
        r#"login_url = "https://other.example/login"
[apps.messages]
greeting_anonymous = "Welcome! Sign in at {login_url}"
[[apps.rules]]
status = ["identified"]
greeting = "Hello {first_name}, sign in: {login_url}"
"#,
    )
    .await;
    let open = |body: Value| {
        let http = live.http.clone();
        let url = live.url("/api/v1/apps/other/sessions");
        async move {
            http.post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let anonymous = open(json!({})).await;
    assert_eq!(
        greeting(&anonymous).0,
        "Welcome! Sign in at https://other.example/login"
    );
    let identified =
        open(json!({"user": {"name": "Grace Hopper", "email": "grace@example.com"}})).await;
    assert_eq!(
        greeting(&identified),
        (
            "Hello Grace, sign in: https://other.example/login".to_owned(),
            Some("https://other.example/login".to_owned())
        )
    );

    // A {login_url} without a login_url is refused at load.
    let dir = tempfile::tempdir().unwrap();
    let error = Config::from_toml(&config_text(
        dir.path(),
        "[apps.messages]\ngreeting_anonymous = \"{login_url}\"",
    ))
    .unwrap_err();
    assert!(error.to_string().contains("login_url"), "{error}");
}
