//! Availability and office hours through a real server: what
//! `GET /api/v1/apps/{id}` says, and the `availability` frames the app's
//! customer sockets get when it changes.

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]

mod common;

use serde_json::{json, Value};

use common::live::Live;

/// Every day, all day, in Tokyo: always within hours.
const ALWAYS: &str = r#"
[apps.hours]
timezone = "Asia/Tokyo"
mon = ["00:00-24:00"]
tue = ["00:00-24:00"]
wed = ["00:00-24:00"]
thu = ["00:00-24:00"]
fri = ["00:00-24:00"]
sat = ["00:00-24:00"]
sun = ["00:00-24:00"]
"#;

async fn app(live: &Live, id: &str) -> Value {
    live.http
        .get(live.url(&format!("/api/v1/apps/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Waits (polling, bounded) until the app says `expected`.
async fn until_app_says(live: &Live, id: &str, expected: &str) -> Value {
    let deadline = tokio::time::Instant::now() + common::live::PATIENCE;
    loop {
        let info = app(live, id).await;
        if info["availability"] == expected {
            return info;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} never said {expected}: {info}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn within_hours_an_app_is_available_only_with_an_agent_of_its_own_online_and_available() {
    let teams = r#"
[[teams]]
id = "demo-team"
apps = ["demo"]
[[teams]]
id = "other-team"
apps = ["other"]
"#;
    let live = Live::start_full(ALWAYS, teams).await;
    let alice = live.add_agent("alice@support.example", "Alice").await;
    let oscar = live.add_agent("oscar@other.example", "Oscar").await;
    let store = &live.state.store;
    store
        .set_agent_teams(&alice, &["demo-team".into()])
        .await
        .unwrap();
    store
        .set_agent_teams(&oscar, &["other-team".into()])
        .await
        .unwrap();
    assert_eq!(app(&live, "demo").await["availability"], "busy");

    // Oscar comes online: his app is available, demo still busy.
    let oscar = live.login("oscar@other.example").await;
    let _oscars = live.console(&oscar).await;
    until_app_says(&live, "other", "available").await;
    assert_eq!(app(&live, "demo").await["availability"], "busy");

    // Alice comes online: demo is available; a customer's socket of demo
    // hears it when she steps away, and again when she is back.
    let (token, _) = live.customer(json!({})).await;
    let mut widget = live.widget(&token).await;
    let alice = live.login("alice@support.example").await;
    let _alices = live.console(&alice).await;
    let info = until_app_says(&live, "demo", "available").await;
    assert_eq!(info.get("next_open_at"), None);
    assert_eq!(
        widget.next_of("availability").await,
        json!({"type": "availability", "availability": "available"})
    );
    live.post(&alice, "/status", json!({"status": "away"}))
        .await;
    assert_eq!(
        widget.next_of("availability").await,
        json!({"type": "availability", "availability": "busy"})
    );
    assert_eq!(app(&live, "demo").await["availability"], "busy");
    live.post(&alice, "/status", json!({"status": "available"}))
        .await;
    assert_eq!(
        widget.next_of("availability").await["availability"],
        "available"
    );
}

#[tokio::test]
async fn outside_hours_an_app_is_closed_and_says_when_it_opens_next() {
    // Open only from 10:00 to 11:00 UTC on the day after tomorrow's
    // weekday: closed now, whoever is online, next open then.
    let now = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let opening = now.date().tomorrow().unwrap().tomorrow().unwrap();
    let day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        [usize::try_from(opening.weekday().to_monday_zero_offset()).unwrap()];
    let hours = format!(
        "\n[apps.hours]\ntimezone = \"UTC\"\n{day} = [\"10:00-11:00\"]\nholidays = [\"2020-01-01\"]\n"
    );
    let live = Live::start_full(&hours, "").await;
    live.add_agent("alice@support.example", "Alice").await;
    let alice = live.login("alice@support.example").await;
    let _console = live.console(&alice).await;
    let info = app(&live, "demo").await;
    assert_eq!(info["availability"], "closed", "{info}");
    let expected = opening
        .to_datetime(jiff::civil::Time::new(10, 0, 0, 0).unwrap())
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp()
        .as_millisecond();
    assert_eq!(info["next_open_at"], expected, "{info}");
    // The app without hours is always within them (available once the
    // console's presence is written).
    until_app_says(&live, "other", "available").await;
    assert_eq!(app(&live, "demo").await["availability"], "closed");
}
