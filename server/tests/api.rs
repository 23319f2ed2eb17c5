//! The HTTP API through the real router, without a socket.

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{from_origin, get, post_json, with_token, TestApp, DEMO_ORIGIN, OTHER_ORIGIN};
use serde_json::{json, Value};

/// Sends `request` and asserts its status and error code (`None` for a
/// success or a plain response).
async fn check(
    app: &TestApp,
    label: &str,
    request: Request<Body>,
    status: u16,
    code: Option<&str>,
) -> Value {
    let reply = app.send(request).await;
    assert_eq!(reply.status.as_u16(), status, "{label}: {}", reply.text);
    assert_eq!(reply.code().as_deref(), code, "{label}: {}", reply.text);
    if code.is_some() {
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            !message.is_empty() && !message.ends_with('.'),
            "{label}: message {message:?}"
        );
    }
    reply.json()
}

#[tokio::test]
async fn health() {
    let app = TestApp::new().await;
    let reply = app.send(get("/healthz")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({"status": "ok"}));
}

#[tokio::test]
async fn app_info() {
    let app = TestApp::new().await;
    let reply = app.send(get("/api/v1/apps/demo")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!({"id": "demo", "name": "Demo Portal", "onboarding": true,
               "login_url": "http://127.0.0.1:8080/login", "availability": "busy"})
    );
    // The name defaults to the id, and an absent login_url is left out.
    // No office hours and no agent online: busy.
    let reply = app.send(get("/api/v1/apps/other")).await;
    assert_eq!(
        reply.json(),
        json!({"id": "other", "name": "other", "onboarding": false, "availability": "busy"})
    );
}

#[tokio::test]
async fn anonymous_session() {
    let app = TestApp::new().await;
    let body = app.open_session("{}").await;
    let token = body["session_token"].as_str().unwrap();
    assert!(token.starts_with("tcs_") && token.len() > 40, "{token}");
    assert_eq!(body["trusted"], false);
    // Anonymous: the first message carries the app's login link.
    assert_eq!(
        body["greeting"],
        "Hi there! Log in for faster help: http://127.0.0.1:8080/login"
    );
    assert_eq!(body["greeting_link"], "http://127.0.0.1:8080/login");
    let customer = &body["customer"];
    assert!(customer["id"].as_str().is_some_and(|id| id.len() == 36));
    for field in ["name", "first_name", "email", "phone"] {
        assert_eq!(customer[field], Value::Null, "{field}");
    }
    // Two anonymous customers are two profiles.
    let again = app.open_session("{}").await;
    assert_ne!(again["customer"]["id"], customer["id"]);
}

#[tokio::test]
async fn identified_session_by_email_links_one_profile_case_insensitively() {
    let app = TestApp::new().await;
    let first = app
        .open_session(r#"{"user":{"name":"  Ada   Lovelace ","email":"Ada@Example.com"}}"#)
        .await;
    assert_eq!(
        first["greeting"],
        "Hi Ada! Log in to verify it's you: http://127.0.0.1:8080/login"
    );
    assert_eq!(first["trusted"], false);
    assert_eq!(
        first["customer"],
        json!({"id": first["customer"]["id"], "name": "Ada Lovelace", "first_name": "Ada",
               "email": "ada@example.com", "phone": null})
    );
    let second = app
        .open_session(r#"{"user":{"name":"Ada Lovelace","email":" ADA@EXAMPLE.COM"}}"#)
        .await;
    assert_eq!(
        app.profile_of(&second).await,
        app.profile_of(&first).await,
        "the agent sees one profile"
    );
    assert_ne!(
        second["customer"]["id"], first["customer"]["id"],
        "a claim does not learn that it landed on a known profile"
    );
    assert_ne!(second["session_token"], first["session_token"]);
}

#[tokio::test]
async fn identified_session_by_phone_links_one_profile() {
    let app = TestApp::new().await;
    let first = app
        .open_session(r#"{"user":{"name":"Grace Hopper","phone":"+1 (415) 555-0100"}}"#)
        .await;
    assert_eq!(first["customer"]["phone"], "+14155550100");
    assert_eq!(first["customer"]["email"], Value::Null);
    let second = app
        .open_session(r#"{"user":{"name":"Grace Hopper","phone":"+14155550100"}}"#)
        .await;
    assert_eq!(app.profile_of(&second).await, app.profile_of(&first).await);
    // A claim with an email is linked by its email only: a known phone
    // beside an unknown email finds nothing.
    let third = app
        .open_session(
            r#"{"user":{"name":"Grace","email":"grace@example.com","phone":"+14155550100"}}"#,
        )
        .await;
    assert_ne!(app.profile_of(&third).await, app.profile_of(&first).await);
    assert_eq!(
        third["customer"],
        json!({"id": third["customer"]["id"], "name": "Grace", "first_name": "Grace",
               "email": "grace@example.com", "phone": "+14155550100"})
    );
}

#[tokio::test]
async fn profiles_are_per_app() {
    let app = TestApp::new().await;
    let demo = app
        .open_session(r#"{"user":{"name":"Ada","email":"ada@example.com"}}"#)
        .await;
    let reply = app
        .send(post_json(
            "/api/v1/apps/other/sessions",
            r#"{"user":{"name":"Ada","email":"ada@example.com"}}"#,
        ))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_ne!(reply.json()["customer"]["id"], demo["customer"]["id"]);
}

#[tokio::test]
async fn untrusted_set_user_does_not_rename_the_profile() {
    let app = TestApp::new().await;
    let ada = app
        .open_session(r#"{"user":{"name":"Ada Lovelace","email":"ada@example.com"}}"#)
        .await;
    let mallory = app
        .open_session(r#"{"user":{"name":"Mallory Evil","email":"ada@example.com"}}"#)
        .await;
    let id = app.profile_of(&ada).await;
    assert_eq!(app.profile_of(&mallory).await, id);
    let id = id.as_str();
    // The person at the keyboard is greeted by the name they gave...
    assert!(
        mallory["greeting"]
            .as_str()
            .unwrap()
            .starts_with("Hi Mallory! Log in"),
        "{mallory}"
    );
    assert_eq!(mallory["customer"]["name"], "Mallory Evil");
    assert_eq!(mallory["customer"]["first_name"], "Mallory");
    // ...and their session keeps it...
    let current = app
        .send(with_token(
            "GET",
            "/api/v1/sessions/current",
            mallory["session_token"].as_str().unwrap(),
        ))
        .await;
    assert!(current.json()["greeting"]
        .as_str()
        .unwrap()
        .starts_with("Hi Mallory! "));
    // ...but the stored profile and the first session keep the real name.
    let stored = app.store.customer(id).await.unwrap().unwrap();
    assert_eq!(stored.name.as_deref(), Some("Ada Lovelace"));
    let current = app
        .send(with_token(
            "GET",
            "/api/v1/sessions/current",
            ada["session_token"].as_str().unwrap(),
        ))
        .await;
    assert_eq!(current.json()["customer"]["name"], "Ada Lovelace");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_of_one_new_customer_agree() {
    let app = TestApp::new().await;
    let body = r#"{"user":{"name":"Ada","email":"race@example.com"}}"#;
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            tokio::spawn(common::send(
                app.router.clone(),
                post_json("/api/v1/apps/demo/sessions", body),
            ))
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        let reply = task.await.unwrap();
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        ids.push(app.profile_of(&reply.json()).await);
    }
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
}

#[tokio::test]
async fn current_session_and_revoke() {
    let app = TestApp::new().await;
    let opened = app
        .open_session(r#"{"user":{"name":"Ada Lovelace","email":"ada@example.com"}}"#)
        .await;
    let token = opened["session_token"].as_str().unwrap();
    let current = app
        .send(with_token("GET", "/api/v1/sessions/current", token))
        .await;
    assert_eq!(current.status, StatusCode::OK);
    let mut expected = opened.clone();
    expected.as_object_mut().unwrap().remove("session_token");
    assert_eq!(current.json(), expected);

    let revoked = app
        .send(with_token("DELETE", "/api/v1/sessions/current", token))
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert_eq!(revoked.text, "");
    check(
        &app,
        "read after revoke",
        with_token("GET", "/api/v1/sessions/current", token),
        401,
        Some("unauthorized"),
    )
    .await;
    check(
        &app,
        "revoke twice",
        with_token("DELETE", "/api/v1/sessions/current", token),
        401,
        Some("unauthorized"),
    )
    .await;
}

#[tokio::test]
async fn token_only_travels_in_the_authorization_header() {
    let app = TestApp::new().await;
    let opened = app.open_session("{}").await;
    let token = opened["session_token"].as_str().unwrap();
    let cases = [
        (
            "query string",
            get(&format!("/api/v1/sessions/current?token={token}")),
        ),
        (
            "access_token query",
            get(&format!("/api/v1/sessions/current?access_token={token}")),
        ),
        (
            "cookie",
            Request::get("/api/v1/sessions/current")
                .header("cookie", format!("session={token}"))
                .body(Body::empty())
                .unwrap(),
        ),
        (
            "basic scheme",
            Request::get("/api/v1/sessions/current")
                .header("authorization", format!("Basic {token}"))
                .body(Body::empty())
                .unwrap(),
        ),
        ("no header", get("/api/v1/sessions/current")),
        (
            "unknown token",
            with_token(
                "GET",
                "/api/v1/sessions/current",
                "tcs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            ),
        ),
        (
            "not our token",
            with_token(
                "GET",
                "/api/v1/sessions/current",
                "eyJhbGciOiJIUzI1NiJ9.e30.x",
            ),
        ),
        (
            "huge token",
            with_token(
                "GET",
                "/api/v1/sessions/current",
                &format!("tcs_{}", "A".repeat(10_000)),
            ),
        ),
    ];
    for (label, request) in cases {
        check(&app, label, request, 401, Some("unauthorized")).await;
    }
    // The scheme is case-insensitive, as RFC 9110 says.
    let request = Request::get("/api/v1/sessions/current")
        .header("authorization", format!("bearer {token}"))
        .body(Body::empty())
        .unwrap();
    check(&app, "lowercase bearer", request, 200, None).await;
}

#[tokio::test]
async fn origin_policy() {
    let app = TestApp::new().await;
    // Allowed: answered, readable by that origin.
    let reply = app
        .send(from_origin(get("/api/v1/apps/demo"), DEMO_ORIGIN))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some(DEMO_ORIGIN)
    );
    assert!(reply
        .header("vary")
        .is_some_and(|v| v.to_ascii_lowercase().contains("origin")));
    assert_eq!(reply.header("access-control-allow-credentials"), None);
    // The page may read the request id (to quote to support) and
    // Retry-After, and no other header beyond the safelisted ones.
    assert_eq!(
        reply.header("access-control-expose-headers"),
        Some("x-request-id, retry-after")
    );

    // Absent: servers and curl pass, and get no CORS headers.
    let reply = app.send(get("/api/v1/apps/demo")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("access-control-allow-origin"), None);

    // Refused, with a message that says what to do, readable by the page.
    for (label, request) in [
        (
            "unknown origin",
            from_origin(get("/api/v1/apps/demo"), "https://evil.example"),
        ),
        (
            "other app's origin",
            from_origin(get("/api/v1/apps/demo"), OTHER_ORIGIN),
        ),
        ("null origin", from_origin(get("/api/v1/apps/demo"), "null")),
        (
            "on create",
            from_origin(
                post_json("/api/v1/apps/demo/sessions", "{}"),
                "https://evil.example",
            ),
        ),
    ] {
        let reply = app.send(request).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{label}");
        assert_eq!(
            reply.code().as_deref(),
            Some("origin_not_allowed"),
            "{label}"
        );
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            message.contains("allowed_origins") && message.contains("demo"),
            "{label}: {message}"
        );
        assert!(
            reply.header("access-control-allow-origin").is_some(),
            "{label}"
        );
    }
    let reply = app
        .send(from_origin(
            get("/api/v1/apps/demo"),
            "https://evil.example",
        ))
        .await;
    assert!(reply.text.contains("https://evil.example"));

    // Bearer requests are checked against the session's app.
    let opened = app.open_session("{}").await;
    let token = opened["session_token"].as_str().unwrap();
    let allowed = from_origin(
        with_token("GET", "/api/v1/sessions/current", token),
        DEMO_ORIGIN,
    );
    check(&app, "session from its app's origin", allowed, 200, None).await;
    let refused = from_origin(
        with_token("GET", "/api/v1/sessions/current", token),
        OTHER_ORIGIN,
    );
    check(
        &app,
        "session from another app's origin",
        refused,
        403,
        Some("origin_not_allowed"),
    )
    .await;
    let refused = from_origin(
        with_token("DELETE", "/api/v1/sessions/current", token),
        OTHER_ORIGIN,
    );
    check(
        &app,
        "revoke from another app's origin",
        refused,
        403,
        Some("origin_not_allowed"),
    )
    .await;
    check(
        &app,
        "still alive",
        with_token("GET", "/api/v1/sessions/current", token),
        200,
        None,
    )
    .await;
}

#[tokio::test]
async fn cors_preflight() {
    let app = TestApp::new().await;
    let preflight = |origin: &str| {
        Request::options("/api/v1/apps/demo/sessions")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .body(Body::empty())
            .unwrap()
    };
    let reply = app.send(preflight(DEMO_ORIGIN)).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some(DEMO_ORIGIN)
    );
    assert_eq!(
        reply.header("access-control-allow-methods"),
        Some("GET, POST, DELETE, OPTIONS")
    );
    assert_eq!(
        reply.header("access-control-allow-headers"),
        Some("authorization, content-type")
    );
    assert_eq!(reply.header("access-control-max-age"), Some("600"));
    assert!(reply.header("vary").is_some_and(|v| v.contains("origin")));

    let reply = app.send(preflight("https://evil.example")).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.code().as_deref(), Some("origin_not_allowed"));
    assert_eq!(reply.header("access-control-allow-methods"), None);
}

/// A label, a request, and the status, code and field it must get.
type ErrorCase = (
    &'static str,
    Request<Body>,
    u16,
    Option<&'static str>,
    Option<&'static str>,
);

#[tokio::test]
async fn error_table() {
    let app = TestApp::new().await;
    let sessions = "/api/v1/apps/demo/sessions";
    let raw = |content_type: Option<&str>, body: Vec<u8>| {
        let mut builder = Request::post(sessions);
        if let Some(content_type) = content_type {
            builder = builder.header("content-type", content_type);
        }
        builder.body(Body::from(body)).unwrap()
    };
    let cases: Vec<ErrorCase> = vec![
        (
            "malformed json",
            post_json(sessions, "{\"user\":"),
            400,
            Some("malformed_json"),
            None,
        ),
        (
            "empty body",
            post_json(sessions, ""),
            400,
            Some("malformed_json"),
            None,
        ),
        (
            "bad utf-8",
            raw(Some("application/json"), b"{\"jwt\":\"\xff\xfe\"}".to_vec()),
            400,
            Some("malformed_json"),
            None,
        ),
        (
            "array",
            post_json(sessions, "[]"),
            422,
            Some("invalid_request"),
            None,
        ),
        (
            "null",
            post_json(sessions, "null"),
            422,
            Some("invalid_request"),
            None,
        ),
        (
            "wrong type",
            post_json(sessions, r#"{"user":"ada"}"#),
            422,
            Some("invalid_request"),
            Some("user"),
        ),
        (
            "missing name",
            post_json(sessions, r#"{"user":{"email":"a@example.com"}}"#),
            422,
            Some("invalid_request"),
            Some("user.name"),
        ),
        (
            "null name",
            post_json(
                sessions,
                r#"{"user":{"name":null,"email":"a@example.com"}}"#,
            ),
            422,
            Some("invalid_request"),
            Some("user.name"),
        ),
        (
            "unknown field",
            post_json(sessions, r#"{"usr":{}}"#),
            422,
            Some("invalid_request"),
            Some("usr"),
        ),
        (
            "unknown user field",
            post_json(sessions, r#"{"user":{"name":"A","emial":"a@example.com"}}"#),
            422,
            Some("invalid_request"),
            Some("user.emial"),
        ),
        (
            "invalid email",
            post_json(sessions, r#"{"user":{"name":"Ada","email":"ada@"}}"#),
            422,
            Some("invalid_email"),
            Some("user.email"),
        ),
        (
            "invalid phone",
            post_json(sessions, r#"{"user":{"name":"Ada","phone":"4155550100"}}"#),
            422,
            Some("invalid_phone"),
            Some("user.phone"),
        ),
        (
            "blank name",
            post_json(
                sessions,
                r#"{"user":{"name":"  ","email":"ada@example.com"}}"#,
            ),
            422,
            Some("invalid_name"),
            Some("user.name"),
        ),
        (
            "control in name",
            post_json(
                sessions,
                r#"{"user":{"name":"A\u0000da","email":"ada@example.com"}}"#,
            ),
            422,
            Some("invalid_name"),
            Some("user.name"),
        ),
        (
            "no contact",
            post_json(sessions, r#"{"user":{"name":"Ada"}}"#),
            422,
            Some("invalid_request"),
            Some("user.email"),
        ),
        (
            "user and jwt",
            post_json(
                sessions,
                r#"{"user":{"name":"Ada","email":"ada@example.com"},"jwt":"a.b.c"}"#,
            ),
            422,
            Some("invalid_request"),
            Some("jwt"),
        ),
        (
            "oversized",
            post_json(
                sessions,
                &format!(r#"{{"jwt":"{}"}}"#, "a".repeat(17 * 1024)),
            ),
            413,
            Some("payload_too_large"),
            None,
        ),
        (
            "ten megabytes",
            raw(Some("application/json"), vec![b' '; 10 * 1024 * 1024]),
            413,
            Some("payload_too_large"),
            None,
        ),
        (
            "no content type",
            raw(None, b"{}".to_vec()),
            415,
            Some("unsupported_media_type"),
            None,
        ),
        (
            "text/plain",
            raw(Some("text/plain"), b"{}".to_vec()),
            415,
            Some("unsupported_media_type"),
            None,
        ),
        (
            "form",
            raw(
                Some("application/x-www-form-urlencoded"),
                b"user=ada".to_vec(),
            ),
            415,
            Some("unsupported_media_type"),
            None,
        ),
        (
            "unknown app",
            post_json("/api/v1/apps/nope/sessions", "{}"),
            404,
            Some("unknown_app"),
            None,
        ),
        (
            "unknown app info",
            get("/api/v1/apps/nope"),
            404,
            Some("unknown_app"),
            None,
        ),
        (
            "unknown route",
            get("/api/v1/nope"),
            404,
            Some("not_found"),
            None,
        ),
        (
            "unknown api version",
            get("/api/v2/apps/demo"),
            404,
            Some("not_found"),
            None,
        ),
        ("bare /api", get("/api"), 404, Some("not_found"), None),
        (
            "wrong method",
            Request::put(sessions).body(Body::empty()).unwrap(),
            405,
            Some("method_not_allowed"),
            None,
        ),
        (
            "get on create",
            get(sessions),
            405,
            Some("method_not_allowed"),
            None,
        ),
        (
            "made-up method",
            Request::builder()
                .method("BREW")
                .uri("/api/v1/apps/demo")
                .body(Body::empty())
                .unwrap(),
            405,
            Some("method_not_allowed"),
            None,
        ),
        (
            "no token",
            get("/api/v1/sessions/current"),
            401,
            Some("unauthorized"),
            None,
        ),
    ];
    for (label, request, status, code, field) in cases {
        let body = check(&app, label, request, status, code).await;
        assert_eq!(body["error"]["field"].as_str(), field, "{label}: {body}");
    }
}

#[tokio::test]
async fn jwt_is_refused_until_identity_keys_exist() {
    let app = TestApp::new().await;
    let body = check(
        &app,
        "jwt",
        post_json("/api/v1/apps/other/sessions", r#"{"jwt":"a.b.c"}"#),
        401,
        Some("invalid_token"),
    )
    .await;
    assert_eq!(body["error"]["reason"], "not_configured");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("app other has no identity keys configured"));
}

#[tokio::test]
async fn validation_happens_after_the_app_and_origin_checks() {
    let app = TestApp::new().await;
    let bad_body_bad_app = post_json("/api/v1/apps/nope/sessions", "{");
    check(
        &app,
        "unknown app first",
        bad_body_bad_app,
        404,
        Some("unknown_app"),
    )
    .await;
    let bad_body_bad_origin = from_origin(
        post_json("/api/v1/apps/demo/sessions", "{"),
        "https://evil.example",
    );
    check(
        &app,
        "origin first",
        bad_body_bad_origin,
        403,
        Some("origin_not_allowed"),
    )
    .await;
}

#[tokio::test]
async fn static_files() {
    let app = TestApp::new().await;
    let reply = app.send(get("/")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.text.contains("<title>TrustChat</title>"));
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));

    let reply = app.send(get("/portal/")).await;
    assert!(reply.text.contains("<title>Portal</title>"));

    let reply = app.send(get("/trustchat_bg.wasm")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("application/wasm"));
    assert_eq!(reply.header("cache-control"), Some("no-cache"));

    // A content-hashed file never changes: cached for a year.
    std::fs::write(
        app.dir.path().join("dist/trustchat_bg.0123456789ab.wasm"),
        b"\0asm\x01\0\0\0",
    )
    .unwrap();
    let reply = app.send(get("/trustchat_bg.0123456789ab.wasm")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("application/wasm"));
    assert_eq!(
        reply.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(
        reply.header("access-control-allow-origin"),
        None,
        "only /widget/ files are shared"
    );

    std::fs::create_dir_all(app.dir.path().join("dist/widget")).unwrap();
    std::fs::write(
        app.dir.path().join("dist/widget/trustchat.js"),
        "/* loader */",
    )
    .unwrap();
    let reply = app.send(get("/widget/trustchat.js")).await;
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    assert_eq!(reply.header("cache-control"), Some("no-cache"));

    for path in [
        "/missing.js",
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/%ff%fe",
    ] {
        let reply = app.send(get(path)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.code(), None, "{path}: a plain 404, not the API's");
    }
}

#[tokio::test]
async fn api_responses_are_not_cached_and_never_sniffed() {
    let app = TestApp::new().await;
    let reply = app
        .send(post_json("/api/v1/apps/demo/sessions", "{}"))
        .await;
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(reply.header("content-type"), Some("application/json"));
}
