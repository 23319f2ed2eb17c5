//! `GET /api/v1/openapi.json` against the routes the server really
//! registers (`http::route_table`, the list the router is built from):
//! every route but the demo portal's is in the document with its methods,
//! the document has nothing else, and a real server on a loopback socket
//! serves exactly the table's methods on each path.

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::live::Live;
use serde_json::Value;
use trustchat_server::http::{self, openapi::Route};

/// The methods an OpenAPI path item can hold.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// `(METHOD, path)` of every operation in a document.
fn operations(document: &Value) -> BTreeSet<(String, String)> {
    let paths = document["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|method| item.get(**method).is_some())
                .map(|method| (method.to_uppercase(), path.clone()))
        })
        .collect()
}

fn pair(route: &Route) -> (String, String) {
    (route.method.to_string(), route.path.clone())
}

async fn fetch_document(live: &Live) -> Value {
    let reply = live
        .http
        .get(live.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["content-type"], "application/json");
    let cache = reply.headers()["cache-control"].to_str().unwrap();
    assert!(cache.starts_with("public"), "cacheable, not {cache}");
    reply.json().await.unwrap()
}

#[tokio::test]
async fn every_route_is_documented() {
    let live = Live::start().await;
    let document = fetch_document(&live).await;
    assert_eq!(document["openapi"], "3.1.0");

    let table = http::route_table();
    // Only the demo portal's stand-in backend is left out, on purpose.
    let undocumented: Vec<&Route> = table.iter().filter(|r| !r.documented).collect();
    for route in &undocumented {
        assert!(
            route.path.starts_with("/demo/"),
            "{} {} is registered with Routes::undocumented: only /demo/* may be; \
             add it with routes!(handler) and a #[utoipa::path]",
            route.method,
            route.path
        );
    }
    let registered: BTreeSet<_> = table.iter().filter(|r| r.documented).map(pair).collect();
    let documented = operations(&document);
    let missing: Vec<_> = registered.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes the server serves that the API document lacks: {missing:?}"
    );
    let extra: Vec<_> = documented.difference(&registered).collect();
    assert!(
        extra.is_empty(),
        "operations in the API document that no route serves: {extra:?}"
    );
    // What the issue names, lest the table itself shrink.
    for (method, path) in [
        ("POST", "/api/v1/apps/{app_id}/sessions"),
        ("GET", "/api/v1/ws"),
        ("GET", "/api/v1/agent/ws"),
        ("POST", "/api/v1/user-identity-jwt"),
        ("POST", "/api/v1/apps/{app_id}/customers/erase"),
        ("GET", "/api/v1/reports/authentication"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
    ] {
        assert!(
            documented.contains(&(method.to_owned(), path.to_owned())),
            "{method} {path}"
        );
    }
    live.shutdown().await;
}

/// The table is what the server serves: each of its routes is answered by
/// a handler (not the fallback's `404` nor a `405`), and every other method
/// on its paths is `405`.
#[tokio::test]
async fn the_route_table_is_what_the_server_serves() {
    let live = Live::start().await;
    let table = http::route_table();
    let paths: BTreeSet<&str> = table.iter().map(|r| r.path.as_str()).collect();
    for path in paths {
        let url = live.url(&fill(path));
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let reply = live
                .http
                .request(method.parse().unwrap(), &url)
                .send()
                .await
                .unwrap();
            let status = reply.status().as_u16();
            let body: Value = reply.json().await.unwrap_or(Value::Null);
            let registered = table
                .iter()
                .any(|r| r.path == path && r.method.as_str() == method);
            if !registered {
                assert_eq!(status, 405, "{method} {path} is not registered: {body}");
                continue;
            }
            assert_ne!(status, 405, "{method} {path} is registered: {body}");
            // The demo's handlers answer 404 without `[demo]`, as the
            // fallback does.
            if !path.starts_with("/demo/") {
                let fallback = status == 404 && body["error"]["message"] == "no such endpoint";
                assert!(!fallback, "{method} {path} is registered: {body}");
            }
        }
    }
    live.shutdown().await;
}

/// A path template with its parameters filled in.
fn fill(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "x"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn the_document_is_cached_by_etag() {
    let live = Live::start().await;
    let url = live.url("/api/v1/openapi.json");
    let first = live.http.get(&url).send().await.unwrap();
    let etag = first.headers()["etag"].clone();
    let again = live
        .http
        .get(&url)
        .header("if-none-match", etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag);
    let other = live
        .http
        .get(&url)
        .header("if-none-match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    live.shutdown().await;
}

/// Every operation says what it answers on success and on failure, and
/// every failure carries the envelope; every schema it names exists.
#[test]
fn every_operation_documents_its_answers() {
    let document = serde_json::to_value(http::api_document()).unwrap();
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for code in ["ErrorBody", "ErrorCode", "ClientFrame", "ServerFrame"] {
        assert!(schemas.contains_key(code), "{code}");
    }
    let codes: Vec<&str> = schemas["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(codes.contains(&"invalid_token") && codes.contains(&"rate_limited"));
    let mut operation_ids = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            // Client generators name their methods by these.
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(
                operation_ids.insert(id.to_owned()) && !id.is_empty(),
                "{method} {path}: operationId {id:?} missing or not unique"
            );
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('2') || s == "101"),
                "{method} {path}: no success answer"
            );
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
            }
            assert!(
                operation["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{method} {path}: no tag"
            );
        }
    }
    // Every `$ref` names a schema the document has.
    let text = document.to_string();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "dangling $ref {name}");
    }
}

/// Both WebSockets answer a plain GET (no upgrade) with the envelope the
/// document promises, `422 invalid_request`, once the agent's is past its
/// cookie.
#[tokio::test]
async fn websockets_answer_a_plain_get_with_the_envelope() {
    let live = Live::start().await;
    live.add_agent("bea@example.com", "Bea").await;
    let agent = live.login("bea@example.com").await;
    let (status, body) = live.get(&agent, "/ws").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_request"))
    );
    let reply = live.http.get(live.url("/api/v1/ws")).send().await.unwrap();
    assert_eq!(reply.status(), 422);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_request");
    live.shutdown().await;
}

/// `trustchat-server openapi` prints the very document a server serves,
/// with no config and no database, to stdout or to `--out`.
#[tokio::test]
async fn the_cli_prints_the_served_document() {
    let live = Live::start().await;
    let served = fetch_document(&live).await;
    let dir = tempfile::tempdir().unwrap();
    let printed = std::process::Command::new(env!("CARGO_BIN_EXE_trustchat-server"))
        .arg("openapi")
        .current_dir(dir.path())
        .env_remove("TRUSTCHAT_CONFIG")
        .output()
        .unwrap();
    assert!(printed.status.success(), "{printed:?}");
    let printed: Value = serde_json::from_slice(&printed.stdout).unwrap();
    assert_eq!(printed, served);
    assert!(printed["webhooks"]["message.created"]["post"].is_object());

    let out = dir.path().join("trustchat-openapi.json");
    let written = std::process::Command::new(env!("CARGO_BIN_EXE_trustchat-server"))
        .args(["openapi", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(written.status.success(), "{written:?}");
    assert!(written.stdout.is_empty());
    let file: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(file, served);

    // A file that cannot be written: a clear error and a failing status.
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_trustchat-server"))
        .args(["openapi", "--out"])
        .arg(dir.path().join("missing-dir").join("doc.json"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("cannot write"), "{stderr}");
}
