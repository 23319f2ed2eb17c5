//! `TrustChat.navigate` on the server: the page a customer is on, set over
//! HTTP or the socket, drives page-prefix rules and shows in the console.

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]

mod common;

use futures_util::SinkExt as _;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use common::live::Live;

const RULES: &str = r#"
[[apps.rules]]
name = "Checkout"
page_prefix = "https://shop.example/checkout"
team = "checkout"
priority = "high"
"#;

const TEAMS: &str = r#"
[[teams]]
id = "checkout"
apps = ["demo"]

[[teams]]
id = "frontline"
apps = ["demo", "other"]
"#;

async fn set_page(live: &Live, token: &str, url: &str) -> (u16, Value) {
    let reply = live
        .http
        .post(live.url("/api/v1/sessions/current/page"))
        .bearer_auth(token)
        .json(&json!({ "url": url }))
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_reported_page_routes_by_prefix_and_shows_in_the_console() {
    let live = Live::start_full(RULES, TEAMS).await;
    let cara = live.add_agent("cara@support.example", "Cara").await;
    let fran = live.add_agent("fran@support.example", "Fran").await;
    let store = &live.state.store;
    store
        .set_agent_teams(&cara, &["checkout".into()])
        .await
        .unwrap();
    store
        .set_agent_teams(&fran, &["frontline".into()])
        .await
        .unwrap();
    let cara = live.login("cara@support.example").await;
    let fran = live.login("fran@support.example").await;
    let mut caras = live.console(&cara).await;
    let mut frans = live.console(&fran).await;

    // Over HTTP: on the checkout page, the checkout rule routes to Cara.
    let (ada, _) = live.customer(json!({})).await;
    let page = "https://shop.example/checkout/payment?step=2";
    assert_eq!(set_page(&live, &ada, page).await.0, 204);
    live.say(&ada, "my card is refused").await;
    let frame = caras.next_of("message").await;
    assert_eq!(frame["conversation"]["rule"], "Checkout");
    assert_eq!(frame["conversation"]["priority"], "high");
    assert_eq!(frame["conversation"]["current_page"], page);

    // Over the socket: on the home page no rule matches; Fran, the less
    // busy, gets it, and sees the page change live.
    let (grace, _) = live.customer(json!({})).await;
    let mut widget = live.widget(&grace).await;
    let send = |url: &str| WsMessage::Text(json!({"type": "page", "url": url}).to_string().into());
    widget.0.send(send("https://shop.example/")).await.unwrap();
    widget.send_message("just looking").await;
    let frame = frans.next_of("message").await;
    assert_eq!(frame["conversation"]["rule"], Value::Null);
    assert_eq!(
        frame["conversation"]["current_page"],
        "https://shop.example/"
    );
    widget
        .0
        .send(send("https://shop.example/cart"))
        .await
        .unwrap();
    let moved = frans.next_of("conversation").await;
    assert_eq!(
        moved["conversation"]["current_page"],
        "https://shop.example/cart"
    );

    // Bad URLs are refused, and change nothing.
    for bad in [
        "/checkout",
        "shop.example/checkout",
        "https://shop.example/a b",
        &"https://x.example/".repeat(200),
    ] {
        let (status, body) = set_page(&live, &ada, bad).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (422, Some("invalid_request")),
            "{bad}"
        );
        assert_eq!(body["error"]["field"], "url");
    }
    widget.0.send(send("not a url")).await.unwrap();
    let error = widget.next_of("error").await;
    assert_eq!(
        (error["code"].as_str(), error["client_id"].as_str()),
        (Some("invalid_request"), None)
    );
    // No token, no page.
    let anonymous = live
        .http
        .post(live.url("/api/v1/sessions/current/page"))
        .json(&json!({"url": page}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let detail = live
        .get(
            &cara,
            &format!("/conversations/{}", frame_id(&live, &cara).await),
        )
        .await
        .1;
    assert_eq!(detail["conversation"]["current_page"], page);
}

/// Cara's one conversation.
async fn frame_id(live: &Live, agent: &common::live::AgentLogin) -> String {
    live.get(agent, "/conversations").await.1["conversations"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}
