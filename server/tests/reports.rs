//! `GET /api/v1/reports/authentication` through a real server: each
//! conversation counted once, on the day it opened in the asked IANA time
//! zone, in exactly one category; read by an agent (their apps) or an
//! app's API key (that app); JSON and CSV.
//!
//! Conversations are made at chosen instants (the store's append takes
//! the time), from sessions opened over HTTP as customers open them.

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]

mod common;

use serde_json::{json, Value};

use common::live::{jwt, Live};
use trustchat_server::store::{NewCustomerMessage, RatingRecord};
use trustchat_server::{http::mint::api_key_hash, identity};

const API_KEY: &str = "tck_reports_demo_key";

fn demo_key() -> String {
    format!(
        "\n[[apps.api_keys]]\nname = \"reports\"\nhash = \"{}\"\n",
        api_key_hash(API_KEY)
    )
}

/// Unix milliseconds of an RFC 3339 instant.
fn at(instant: &str) -> i64 {
    instant.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

/// A customer session in `app`; its id and customer id.
async fn session(live: &Live, app: &str, body: Value) -> (String, String) {
    let reply: Value = live
        .http
        .post(live.url(&format!("/api/v1/apps/{app}/sessions")))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = reply["session_token"].as_str().unwrap();
    let session = live
        .state
        .store
        .session_by_token_hash(&identity::hash_token(token))
        .await
        .unwrap()
        .unwrap();
    (session.id, session.customer_id)
}

/// Stores the session's customer messages `(instant, trusted)` in order;
/// the conversation's id.
async fn conversation(
    live: &Live,
    app: &str,
    (session, customer): &(String, String),
    messages: &[(&str, bool)],
) -> String {
    let mut id = String::new();
    for (instant, trusted) in messages {
        let appended = live
            .state
            .store
            .append_customer_message(NewCustomerMessage {
                id: uuid::Uuid::new_v4().to_string(),
                app_id: app.into(),
                customer_id: customer.clone(),
                session_id: session.clone(),
                author_name: None,
                client_id: uuid::Uuid::new_v4().to_string(),
                body: "hello".into(),
                trusted: *trusted,
                now_ms: at(instant),
                routing: Default::default(),
                webhooks: Default::default(),
            })
            .await
            .unwrap();
        id = appended.message.conversation_id;
    }
    id
}

async fn rated(live: &Live, conversation: &str, rating: i64) {
    let store = &live.state.store;
    store
        .close_conversation(conversation, 1, &Default::default())
        .await
        .unwrap()
        .unwrap();
    store
        .rate_conversation(
            conversation,
            &RatingRecord {
                rating,
                comment: None,
                rated_at: 2,
            },
        )
        .await
        .unwrap()
        .unwrap();
}

fn identified(name: &str, email: &str) -> Value {
    json!({"user": {"name": name, "email": email}})
}

/// Conversations of every category around the New York midnight between
/// 7 and 8 March 2026 (UTC-5; DST starts on the 8th at 02:00).
async fn made(live: &Live) {
    // 7 March, New York time.
    let anon = session(live, "demo", json!({})).await;
    conversation(live, "demo", &anon, &[("2026-03-07T05:00:00Z", false)]).await; // 00:00 local
    let grace = session(
        live,
        "demo",
        json!({"jwt": jwt("grace@example.com", "Grace Hopper")}),
    )
    .await;
    conversation(
        live,
        "demo",
        &grace,
        &[
            ("2026-03-08T04:00:00Z", true),
            ("2026-03-08T04:01:00Z", true),
        ],
    )
    .await; // trusted from the start, 23:00 local
    let up = session(live, "demo", json!({})).await;
    conversation(
        live,
        "demo",
        &up,
        &[
            ("2026-03-08T04:30:00Z", false),
            ("2026-03-08T04:40:00Z", true),
        ],
    )
    .await; // upgraded, 23:30 local
    let anon2 = session(live, "demo", json!({})).await;
    conversation(live, "demo", &anon2, &[("2026-03-08T04:59:59.999Z", false)]).await; // 23:59:59.999

    // 8 March, New York time (still the 8th in UTC too).
    let ada = session(live, "demo", identified("Ada Lovelace", "ada@example.com")).await;
    let adas = conversation(
        live,
        "demo",
        &ada,
        &[
            ("2026-03-08T05:00:00Z", false),
            ("2026-03-08T05:10:00Z", false),
        ],
    )
    .await; // identified, 00:00 local
    rated(live, &adas, 5).await;
    let phil = session(
        live,
        "demo",
        json!({"user": {"name": "Phil Phone", "phone": "+14155550123"}}),
    )
    .await;
    let phils = conversation(live, "demo", &phil, &[("2026-03-08T20:00:00Z", false)]).await;
    rated(live, &phils, 2).await;
    let other = session(live, "other", json!({})).await;
    conversation(live, "other", &other, &[("2026-03-08T12:00:00Z", false)]).await;

    // 9 March 00:00 New York (UTC-4 now): outside a report to the 8th.
    let late = session(live, "demo", json!({})).await;
    conversation(live, "demo", &late, &[("2026-03-09T04:00:00Z", false)]).await;
}

fn row(date: &str, app: &str, counts: [i64; 6], csat: Option<f64>, csat_count: i64) -> Value {
    json!({
        "date": date, "app_id": app,
        "trusted_from_start": counts[0], "upgraded": counts[1],
        "identified": counts[2], "anonymous": counts[3],
        "messages_trusted": counts[4], "messages_untrusted": counts[5],
        "csat_average": csat, "csat_count": csat_count,
    })
}

const RANGE: &str = "from=2026-03-07&to=2026-03-08&tz=America/New_York";

async fn report(
    live: &Live,
    query: &str,
    auth: Option<&str>,
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut request = live
        .http
        .get(live.url(&format!("/api/v1/reports/authentication?{query}")));
    if let Some(key) = auth {
        request = request.bearer_auth(key);
    }
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn counts_each_conversation_once_on_its_local_day_in_one_category() {
    let live = Live::start_full(&demo_key(), "").await;
    made(&live).await;
    live.add_agent("alice@support.example", "Alice").await;
    let alice = live.login("alice@support.example").await;

    // An agent (no teams configured: every app).
    let reply = report(&live, RANGE, None, Some(&alice.cookie)).await;
    assert_eq!(reply.status(), 200);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(
        body["days"],
        json!([
            row("2026-03-07", "demo", [1, 1, 0, 2, 3, 3], None, 0),
            row("2026-03-08", "demo", [0, 0, 2, 0, 0, 3], Some(3.5), 2),
            row("2026-03-08", "other", [0, 0, 0, 1, 0, 1], None, 0),
        ]),
        "{body:#}"
    );
    assert_eq!(
        body["totals"],
        json!({
            "trusted_from_start": 1, "upgraded": 1, "identified": 2, "anonymous": 3,
            "messages_trusted": 3, "messages_untrusted": 7,
            "csat_average": 3.5, "csat_count": 2,
        })
    );

    // The same instants cut at UTC midnight fall on other days.
    let utc: Value = report(
        &live,
        "from=2026-03-07&to=2026-03-08&tz=UTC",
        None,
        Some(&alice.cookie),
    )
    .await
    .json()
    .await
    .unwrap();
    let dates: Vec<(&str, i64)> = utc["days"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["app_id"] == "demo")
        .map(|d| {
            (
                d["date"].as_str().unwrap(),
                d["anonymous"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(dates, [("2026-03-07", 1), ("2026-03-08", 1)]);

    // One app, with its API key: the other app is not there.
    let keyed: Value = report(&live, RANGE, Some(API_KEY), None)
        .await
        .json()
        .await
        .unwrap();
    let apps: Vec<&str> = keyed["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["app_id"].as_str().unwrap())
        .collect();
    assert_eq!(apps, ["demo", "demo"]);
    assert_eq!(keyed["totals"]["anonymous"], 2);
    let theirs = report(&live, &format!("{RANGE}&app=other"), Some(API_KEY), None).await;
    assert_eq!(theirs.status(), 404);
    let filtered: Value = report(
        &live,
        &format!("{RANGE}&app=other"),
        None,
        Some(&alice.cookie),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        filtered["days"],
        json!([row("2026-03-08", "other", [0, 0, 0, 1, 0, 1], None, 0)])
    );

    // CSV, by parameter or by Accept.
    for (query, accept) in [
        (format!("{RANGE}&format=csv"), None),
        (RANGE.to_owned(), Some("text/csv")),
    ] {
        let mut request = live
            .http
            .get(live.url(&format!("/api/v1/reports/authentication?{query}")))
            .bearer_auth(API_KEY);
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let reply = request.send().await.unwrap();
        assert_eq!(reply.status(), 200);
        assert!(reply.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"));
        let text = reply.text().await.unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "date,app_id,trusted_from_start,upgraded,identified,anonymous,messages_trusted,messages_untrusted,csat_average,csat_count",
                "2026-03-07,demo,1,1,0,2,3,3,,0",
                "2026-03-08,demo,0,0,2,0,0,3,3.5,2",
            ]
        );
    }
}

#[tokio::test]
async fn refuses_strangers_other_apps_and_bad_ranges_clearly() {
    let teams = r#"
[[teams]]
id = "demo-team"
apps = ["demo"]
[[teams]]
id = "other-team"
apps = ["other"]
"#;
    let live = Live::start_full(&demo_key(), teams).await;
    made(&live).await;
    let oscar = live.add_agent("oscar@other.example", "Oscar").await;
    live.state
        .store
        .set_agent_teams(&oscar, &["other-team".to_owned()])
        .await
        .unwrap();
    let oscar = live.login("oscar@other.example").await;

    // Nobody, a wrong key, a customer's session token: 401.
    assert_eq!(report(&live, RANGE, None, None).await.status(), 401);
    assert_eq!(
        report(&live, RANGE, Some("tck_wrong"), None).await.status(),
        401
    );
    let customer: Value = live
        .http
        .post(live.url("/api/v1/apps/demo/sessions"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = customer["session_token"].as_str().unwrap();
    assert_eq!(report(&live, RANGE, Some(token), None).await.status(), 401);

    // An agent of the other brand: their app only; demo is a 404, as an
    // app that does not exist.
    let theirs: Value = report(&live, RANGE, None, Some(&oscar.cookie))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        theirs["days"],
        json!([row("2026-03-08", "other", [0, 0, 0, 1, 0, 1], None, 0)])
    );
    let demo = report(
        &live,
        &format!("{RANGE}&app=demo"),
        None,
        Some(&oscar.cookie),
    )
    .await;
    let nowhere = report(
        &live,
        &format!("{RANGE}&app=nowhere"),
        None,
        Some(&oscar.cookie),
    )
    .await;
    assert_eq!(
        (demo.status().as_u16(), nowhere.status().as_u16()),
        (404, 404)
    );
    assert_eq!(demo.text().await.unwrap(), nowhere.text().await.unwrap());

    // Bad ranges name their parameter.
    for (query, field) in [
        ("from=2026-3-07&to=2026-03-08&tz=UTC", "from"),
        ("from=2026-03-08&to=2026-03-07&tz=UTC", "to"),
        ("from=2025-01-01&to=2026-03-08&tz=UTC", "to"),
        ("from=2026-03-07&to=2026-03-08&tz=Europe/Atlantis", "tz"),
        ("from=2026-03-07&to=2026-03-08&tz=%2B02:00", "tz"),
        ("from=2026-03-07&to=2026-03-08", "tz"),
    ] {
        let reply = report(&live, query, Some(API_KEY), None).await;
        assert_eq!(reply.status(), 422, "{query}");
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_request", "{query}");
        assert_eq!(body["error"]["field"], field, "{query}");
    }
    let format = report(&live, &format!("{RANGE}&format=xml"), Some(API_KEY), None).await;
    assert_eq!(format.status(), 422);
}
