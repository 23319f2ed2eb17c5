//! Teams, rules that route, the queue, search, saved replies and ratings,
//! through a real server as agents and customers use it. Every
//! "who else could call this" question first: an agent of one brand
//! reaches nothing of another's, over HTTP and on the WebSocket, and the
//! answer is the same 404 as for something that does not exist.

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]

mod common;

use serde_json::{json, Value};

use common::live::{jwt, AgentLogin, Live, LOGIN_URL};
use trustchat_server::store::ConversationRecord;

/// Rules of app `demo`: verified customers to the `verified` team first;
/// anonymous ones wait 30 s for a login; identified ones go to the
/// frontline, last.
const DEMO_RULES: &str = r#"
[[apps.rules]]
name = "Verified customers"
status = ["trusted"]
team = "verified"
priority = "high"

[[apps.rules]]
name = "Log in first"
status = ["anonymous"]
team = "frontline"
hold_for_login_secs = 30

[[apps.rules]]
status = ["identified"]
team = "frontline"
priority = "low"
"#;

/// Three teams: two serve `demo`, one serves only `other` (another
/// brand on the same server).
const TEAMS: &str = r#"
[[teams]]
id = "frontline"
name = "Frontline"
apps = ["demo"]

[[teams.saved_replies]]
title = "Refunds"
body = "Refunds reach your card within 5 working days."

[[teams]]
id = "verified"
name = "Verified customers"
apps = ["demo"]

[[teams]]
id = "outsiders"
name = "Other brand"
apps = ["other"]

[[teams.saved_replies]]
title = "Other brand hours"
body = "We are open 9 to 5."
"#;

async fn start() -> Live {
    Live::start_full(DEMO_RULES, TEAMS).await
}

/// Adds an agent in `teams`.
async fn agent_in(live: &Live, email: &str, name: &str, teams: &[&str]) -> String {
    let id = live.add_agent(email, name).await;
    let teams: Vec<String> = teams.iter().map(|t| t.to_string()).collect();
    live.state.store.set_agent_teams(&id, &teams).await.unwrap();
    id
}

/// A customer session in `app` opened with `body`; its token.
async fn customer_in(live: &Live, app: &str, body: Value) -> String {
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
    reply["session_token"].as_str().unwrap().to_owned()
}

fn identified(name: &str, email: &str) -> Value {
    json!({"user": {"name": name, "email": email}})
}

async fn conversation_of(message: &Value) -> String {
    message["conversation_id"].as_str().unwrap().to_owned()
}

async fn record(live: &Live, id: &str) -> ConversationRecord {
    live.state.store.conversation(id).await.unwrap().unwrap()
}

async fn delete(live: &Live, agent: &AgentLogin, path: &str) -> u16 {
    live.http
        .delete(live.url(&format!("/api/v1/agent{path}")))
        .header("cookie", &agent.cookie)
        .header("x-csrf-token", &agent.csrf)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn ids(list: &Value) -> Vec<String> {
    list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_agent_reaches_nothing_of_an_app_their_teams_do_not_serve() {
    let live = start().await;
    agent_in(
        &live,
        "alice@support.example",
        "Alice",
        &["frontline", "verified"],
    )
    .await;
    let oscar_id = agent_in(&live, "oscar@other.example", "Oscar", &["outsiders"]).await;
    let alice = live.login("alice@support.example").await;
    let oscar = live.login("oscar@other.example").await;

    // Alice's session tells her what she serves.
    let me = live.get(&alice, "/me").await.1;
    assert_eq!(me["apps"], json!(["demo"]));
    let teams: Vec<&str> = me["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(teams, ["frontline", "verified"]);

    // A customer of the other brand; nobody online, so it waits.
    let token = customer_in(
        &live,
        "other",
        identified("Olga Other", "olga@other.example"),
    )
    .await;
    let sent = live.say(&token, "my secret order 4242").await;
    let theirs = conversation_of(&sent).await;
    let customer = record(&live, &theirs).await.customer_id;

    // Everything of it answers Alice as a conversation that does not exist.
    let missing = "00000000-0000-4000-8000-000000000000";
    let nothing = live.get(&alice, &format!("/conversations/{missing}")).await;
    assert_eq!(nothing.0, 404);
    assert_eq!(
        live.get(&alice, &format!("/conversations/{theirs}")).await,
        nothing
    );
    for (path, body) in [
        ("messages", json!({"body": "hello"})),
        ("request-login", json!({})),
        ("close", json!({})),
        ("assign", json!({"agent_id": alice.id})),
        ("read", json!({"seq": 1})),
    ] {
        let theirs_reply = live
            .post(
                &alice,
                &format!("/conversations/{theirs}/{path}"),
                body.clone(),
            )
            .await;
        let missing_reply = live
            .post(&alice, &format!("/conversations/{missing}/{path}"), body)
            .await;
        assert_eq!(theirs_reply, missing_reply, "{path}");
        assert_eq!(theirs_reply.0, 404, "{path}");
    }
    let profile = live.get(&alice, &format!("/customers/{customer}")).await;
    assert_eq!(profile.0, 404);
    assert_eq!(profile.1["error"]["code"], "not_found");
    assert!(ids(&live.get(&alice, "/queue").await.1).is_empty());
    let found = live.get(&alice, "/search?q=4242").await;
    assert_eq!(found.0, 200);
    assert!(ids(&found.1).is_empty(), "{}", found.1);
    let found = live.get(&alice, "/search?q=olga").await;
    assert!(ids(&found.1).is_empty(), "{}", found.1);
    let report = live
        .get(
            &alice,
            "/../reports/authentication?from=2020-01-01&to=2020-01-02&tz=UTC&app=other",
        )
        .await;
    assert_eq!(report.0, 404);
    // Nor are the other brand's saved replies hers.
    let replies = live.get(&alice, "/saved-replies").await.1;
    let titles: Vec<&str> = replies["saved_replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Refunds"]);
    let added = live
        .post(
            &alice,
            "/saved-replies",
            json!({"team_id": "outsiders", "title": "x", "body": "y"}),
        )
        .await;
    assert_eq!(added.0, 422);

    // Oscar sees it, takes it from the queue and answers.
    assert_eq!(ids(&live.get(&oscar, "/queue").await.1), [theirs.as_str()]);
    assert_eq!(
        ids(&live.get(&oscar, "/search?q=4242").await.1),
        [theirs.as_str()]
    );
    let taken = live
        .post(
            &oscar,
            &format!("/conversations/{theirs}/assign"),
            json!({"agent_id": oscar.id}),
        )
        .await;
    assert_eq!(taken.0, 200, "{}", taken.1);
    let answered = live
        .post(
            &oscar,
            &format!("/conversations/{theirs}/messages"),
            json!({"body": "on it"}),
        )
        .await;
    assert_eq!(answered.0, 201);

    // A demo conversation is never handed to Oscar, who serves no demo.
    let ada = customer_in(&live, "demo", identified("Ada Lovelace", "ada@example.com")).await;
    let ours = conversation_of(&live.say(&ada, "hello").await).await;
    let refused = live
        .post(
            &alice,
            &format!("/conversations/{ours}/assign"),
            json!({"agent_id": oscar_id}),
        )
        .await;
    assert_eq!(refused.0, 422, "{}", refused.1);
    assert_eq!(refused.1["error"]["field"], "agent_id");
    assert_eq!(record(&live, &ours).await.assigned_agent_id, None);
    assert_eq!(
        live.get(&oscar, &format!("/conversations/{ours}")).await.0,
        404
    );
    // Nor does either see the other brand's agents.
    let names = |list: Value| -> Vec<String> {
        list["agents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(live.get(&alice, "/agents").await.1), ["Alice"]);
    assert_eq!(names(live.get(&oscar, "/agents").await.1), ["Oscar"]);
}

#[tokio::test]
async fn the_websocket_carries_nothing_of_an_app_outside_the_agents_teams() {
    let live = start().await;
    agent_in(&live, "alice@support.example", "Alice", &["frontline"]).await;
    agent_in(&live, "oscar@other.example", "Oscar", &["outsiders"]).await;
    let alice = live.login("alice@support.example").await;
    let oscar = live.login("oscar@other.example").await;
    let mut alices = live.console(&alice).await;
    let mut oscars = live.console(&oscar).await;

    // The other brand's customer reaches Oscar, routed by team.
    let token = customer_in(
        &live,
        "other",
        identified("Olga Other", "olga@other.example"),
    )
    .await;
    let theirs = conversation_of(&live.say(&token, "other brand question").await).await;
    let frame = oscars.next_of("message").await;
    assert_eq!(frame["conversation"]["id"], theirs.as_str());
    assert_eq!(
        record(&live, &theirs).await.assigned_agent_id.as_deref(),
        Some(oscar.id.as_str())
    );

    // Even a conversation of the other app put in Alice's name (as when
    // her teams changed after it was routed to her) is not sent to her:
    // the first frame she gets is the demo customer's, which came after.
    live.state
        .store
        .assign_conversation(&theirs, Some(&alice.id), 1)
        .await
        .unwrap();
    live.say(&token, "still there?").await;
    let ada = customer_in(&live, "demo", identified("Ada Lovelace", "ada@example.com")).await;
    let ours = conversation_of(&live.say(&ada, "demo question").await).await;
    let first = alices.next_of("message").await;
    assert_eq!(first["conversation"]["id"], ours.as_str(), "{first}");
    assert_eq!(first["conversation"]["app_id"], "demo");
    // Nor does HTTP give it to her, assigned or not.
    assert_eq!(
        live.get(&alice, &format!("/conversations/{theirs}"))
            .await
            .0,
        404
    );
    assert!(!ids(&live.get(&alice, "/conversations").await.1).contains(&theirs));
}

#[tokio::test]
async fn rules_route_by_status_to_teams_with_priorities_and_say_which_rule() {
    let live = start().await;
    agent_in(&live, "alice@support.example", "Alice", &["frontline"]).await;
    agent_in(&live, "vera@support.example", "Vera", &["verified"]).await;
    let alice = live.login("alice@support.example").await;
    let vera = live.login("vera@support.example").await;
    let mut alices = live.console(&alice).await;
    let mut veras = live.console(&vera).await;

    // A trusted customer goes to the verified team, high priority, and
    // the console says which rule did it.
    let (grace, _) = live
        .customer(json!({"jwt": jwt("grace@example.com", "Grace Hopper")}))
        .await;
    let graces = conversation_of(&live.say(&grace, "I am logged in").await).await;
    let frame = veras.next_of("message").await;
    let summary = &frame["conversation"];
    assert_eq!(summary["id"], graces.as_str());
    assert_eq!(summary["assigned_agent_id"], vera.id.as_str());
    assert_eq!(summary["team_id"], "verified");
    assert_eq!(summary["priority"], "high");
    assert_eq!(summary["rule"], "Verified customers");
    assert_eq!(summary["held_until"], Value::Null);

    // An identified one goes to the frontline, low, by the unnamed third
    // rule.
    let ada = customer_in(&live, "demo", identified("Ada Lovelace", "ada@example.com")).await;
    let adas = conversation_of(&live.say(&ada, "I typed my email").await).await;
    let frame = alices.next_of("message").await;
    let summary = &frame["conversation"];
    assert_eq!(summary["id"], adas.as_str());
    assert_eq!(summary["team_id"], "frontline");
    assert_eq!(summary["priority"], "low");
    assert_eq!(summary["rule"], "rule 3");
    let detail = live.get(&alice, &format!("/conversations/{adas}")).await.1;
    assert_eq!(detail["conversation"]["rule"], "rule 3");
}

#[tokio::test]
async fn a_held_conversation_shows_the_login_link_and_a_login_routes_it_at_once_as_trusted() {
    let live = start().await;
    agent_in(&live, "alice@support.example", "Alice", &["frontline"]).await;
    agent_in(&live, "vera@support.example", "Vera", &["verified"]).await;
    let alice = live.login("alice@support.example").await;
    let vera = live.login("vera@support.example").await;
    let mut veras = live.console(&vera).await;
    let _alices = live.console(&alice).await;

    // Anonymous: held for a login, though Alice is online and free.
    let (token, _) = live.customer(json!({})).await;
    let mut widget = live.widget(&token).await;
    let sent = widget.send_message("where is my parcel?").await;
    let held = sent["message"]["conversation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The widget is shown the login link at once.
    let ask = widget.agent_message().await;
    assert_eq!(ask["message"]["kind"], "login_request");
    assert_eq!(ask["message"]["link"], LOGIN_URL);
    let waiting = record(&live, &held).await;
    assert_eq!(waiting.assigned_agent_id, None);
    assert_eq!(waiting.routing.rule.as_deref(), Some("Log in first"));
    let until = waiting.routing.held_until.expect("held");
    assert!(
        until > trustchat_server::clock::now_ms() + 20_000,
        "{until}"
    );
    let queue = live.get(&alice, "/queue").await.1;
    assert_eq!(ids(&queue), [held.as_str()]);
    assert_eq!(queue["conversations"][0]["held_until"], until);

    // The customer logs in: the trusted rule routes it to Vera now.
    let login = live
        .http
        .post(live.url("/api/v1/sessions/current/identity"))
        .bearer_auth(&token)
        .json(&json!({"jwt": jwt("sam@example.com", "Sam Sample")}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let routed = veras.next_of("conversation").await;
    assert_eq!(routed["conversation"]["id"], held.as_str());
    assert_eq!(
        routed["conversation"]["assigned_agent_id"],
        vera.id.as_str()
    );
    assert_eq!(routed["conversation"]["rule"], "Verified customers");
    assert_eq!(routed["conversation"]["team_id"], "verified");
    assert_eq!(routed["conversation"]["priority"], "high");
    assert_eq!(routed["conversation"]["held_until"], Value::Null);
    assert_eq!(routed["conversation"]["customer"]["verified"], true);
    // And what the customer says now is trusted.
    let after = widget.send_message("it is me").await;
    assert_eq!(after["message"]["conversation_id"], held.as_str());
    assert_eq!(after["message"]["trusted"], true);
    assert!(ids(&live.get(&alice, "/queue").await.1).is_empty());
}

#[tokio::test]
async fn a_hold_that_runs_out_routes_the_conversation_by_its_rule() {
    let rules = DEMO_RULES.replace("hold_for_login_secs = 30", "hold_for_login_secs = 1");
    let live = Live::start_full(&rules, TEAMS).await;
    agent_in(&live, "alice@support.example", "Alice", &["frontline"]).await;
    agent_in(&live, "vera@support.example", "Vera", &["verified"]).await;
    let alice = live.login("alice@support.example").await;
    let vera = live.login("vera@support.example").await;
    let mut alices = live.console(&alice).await;
    let _veras = live.console(&vera).await;

    let (token, _) = live.customer(json!({})).await;
    let held = conversation_of(&live.say(&token, "nobody logs in here").await).await;
    let opened_at = trustchat_server::clock::now_ms();
    assert_eq!(record(&live, &held).await.assigned_agent_id, None);
    // When the hold runs out, the frontline (the rule's team) gets it.
    let routed = alices.next_of("conversation").await;
    assert_eq!(routed["conversation"]["id"], held.as_str());
    assert_eq!(
        routed["conversation"]["assigned_agent_id"],
        alice.id.as_str()
    );
    assert_eq!(routed["conversation"]["customer"]["verified"], false);
    assert!(
        trustchat_server::clock::now_ms() >= opened_at + 900,
        "routed before its hold ran out"
    );
}

#[tokio::test]
async fn the_queue_is_in_routing_order_and_take_assigns_it() {
    let live = start().await;
    agent_in(
        &live,
        "alice@support.example",
        "Alice",
        &["frontline", "verified"],
    )
    .await;
    let alice = live.login("alice@support.example").await;
    // Alice is away: everything waits.
    let away = live
        .post(&alice, "/status", json!({"status": "away"}))
        .await;
    assert_eq!(away.0, 200);

    let mut opened = Vec::new();
    for (who, body) in [
        ("low-1", identified("Low One", "low1@example.com")),
        (
            "high",
            json!({"jwt": jwt("high@example.com", "High Hopper")}),
        ),
        ("low-2", identified("Low Two", "low2@example.com")),
    ] {
        let token = customer_in(&live, "demo", body).await;
        opened.push((who, conversation_of(&live.say(&token, who).await).await));
    }
    let id = |who: &str| opened.iter().find(|(w, _)| *w == who).unwrap().1.clone();
    let queue = live.get(&alice, "/queue").await.1;
    assert_eq!(ids(&queue), [id("high"), id("low-1"), id("low-2")]);
    let priorities: Vec<&str> = queue["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["priority"].as_str().unwrap())
        .collect();
    assert_eq!(priorities, ["high", "low", "low"]);

    // Take: assign to me, and it leaves the queue.
    let taken = live
        .post(
            &alice,
            &format!("/conversations/{}/assign", id("low-2")),
            json!({"agent_id": alice.id}),
        )
        .await;
    assert_eq!(
        (taken.0, taken.1["assigned_agent_id"].as_str()),
        (200, Some(alice.id.as_str()))
    );
    assert_eq!(
        ids(&live.get(&alice, "/queue").await.1),
        [id("high"), id("low-1")]
    );

    // Available again: the rest is handed out, high first.
    let mut console = live.console(&alice).await;
    live.post(&alice, "/status", json!({"status": "available"}))
        .await;
    let first = console.next_of("conversation").await;
    assert_eq!(first["conversation"]["id"], id("high").as_str());
}

#[tokio::test]
async fn search_finds_conversations_by_customer_and_by_text_within_the_agents_apps() {
    let live = start().await;
    agent_in(&live, "alice@support.example", "Alice", &["frontline"]).await;
    let alice = live.login("alice@support.example").await;
    let ada = customer_in(&live, "demo", identified("Ada Lovelace", "ada@example.com")).await;
    let adas = conversation_of(&live.say(&ada, "The analytical engine is jammed").await).await;
    let phoned = customer_in(
        &live,
        "demo",
        json!({"user": {"name": "Phil Phone", "phone": "+14155550123"}}),
    )
    .await;
    let phils = conversation_of(&live.say(&phoned, "call me back").await).await;

    for (query, expected) in [
        ("lovelace", vec![adas.clone()]),
        ("Ada", vec![adas.clone()]),
        ("ada@example.com", vec![adas.clone()]),
        ("analytic", vec![adas.clone()]),
        ("ENGINE jammed", vec![adas.clone()]),
        ("+1415555", vec![phils.clone()]),
        ("14155550123", vec![phils.clone()]),
        ("call", vec![phils.clone()]),
        ("engine call", vec![]),
        ("\"*) OR (", vec![]),
        ("nothing-like-it", vec![]),
    ] {
        let (status, found) = live
            .get(&alice, &format!("/search?q={}", urlencode(query)))
            .await;
        assert_eq!(status, 200, "{query}: {found}");
        assert_eq!(ids(&found), expected, "{query}");
    }
    let empty = live.get(&alice, "/search?q=%20").await;
    assert_eq!(
        (empty.0, empty.1["error"]["code"].as_str()),
        (422, Some("invalid_request"))
    );
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn saved_replies_are_per_team_from_the_config_and_the_console() {
    let live = start().await;
    agent_in(&live, "alice@support.example", "Alice", &["frontline"]).await;
    agent_in(&live, "vera@support.example", "Vera", &["verified"]).await;
    let alice = live.login("alice@support.example").await;
    let vera = live.login("vera@support.example").await;

    let added = live
        .post(
            &alice,
            "/saved-replies",
            json!({"team_id": "frontline", "title": "Greeting", "body": "Hello! How can I help?"}),
        )
        .await;
    assert_eq!(added.0, 201, "{}", added.1);
    assert_eq!(added.1["source"], "console");
    let added_id = added.1["id"].as_str().unwrap().to_owned();
    let list = live.get(&alice, "/saved-replies").await.1;
    let titles: Vec<(&str, &str)> = list["saved_replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["title"].as_str().unwrap(), r["source"].as_str().unwrap()))
        .collect();
    assert_eq!(titles, [("Greeting", "console"), ("Refunds", "config")]);
    // Another team sees none of them and deletes none.
    assert_eq!(
        live.get(&vera, "/saved-replies").await.1["saved_replies"],
        json!([])
    );
    assert_eq!(
        delete(&live, &vera, &format!("/saved-replies/{added_id}")).await,
        404
    );
    // The config's are read-only; bad input is refused with its field.
    let config_id = list["saved_replies"][1]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        delete(&live, &alice, &format!("/saved-replies/{config_id}")).await,
        404
    );
    let bad = live
        .post(
            &alice,
            "/saved-replies",
            json!({"team_id": "frontline", "title": " ", "body": "x"}),
        )
        .await;
    assert_eq!(
        (bad.0, bad.1["error"]["field"].as_str()),
        (422, Some("title"))
    );
    assert_eq!(
        delete(&live, &alice, &format!("/saved-replies/{added_id}")).await,
        204
    );
    assert_eq!(
        live.get(&alice, "/saved-replies").await.1["saved_replies"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_customer_rates_a_closed_conversation_and_the_agent_sees_it() {
    let live = start().await;
    agent_in(&live, "alice@support.example", "Alice", &["frontline"]).await;
    let alice = live.login("alice@support.example").await;
    let mut console = live.console(&alice).await;
    let ada = customer_in(&live, "demo", identified("Ada Lovelace", "ada@example.com")).await;
    let conversation = conversation_of(&live.say(&ada, "help").await).await;
    console.next_of("message").await;

    let rate = |token: String, body: Value| {
        let live = &live;
        let conversation = conversation.clone();
        async move {
            let reply = live
                .http
                .post(live.url(&format!("/api/v1/conversations/{conversation}/rating")))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = reply.status().as_u16();
            (status, reply.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // Not before it is closed.
    let open = rate(ada.clone(), json!({"rating": 5})).await;
    assert_eq!(
        (open.0, open.1["error"]["code"].as_str()),
        (409, Some("conversation_open"))
    );
    let closed = live
        .post(
            &alice,
            &format!("/conversations/{conversation}/close"),
            json!({}),
        )
        .await;
    assert_eq!(closed.0, 200);
    // Someone else, who only knows the id, cannot rate it.
    let stranger = customer_in(&live, "demo", identified("Eve Stranger", "ada@example.com")).await;
    let refused = rate(stranger, json!({"rating": 1})).await;
    assert_eq!(refused.0, 404);
    for bad in [
        json!({"rating": 0}),
        json!({"rating": 6}),
        json!({"rating": 3, "comment": "x".repeat(1001)}),
    ] {
        assert_eq!(rate(ada.clone(), bad.clone()).await.0, 422, "{bad}");
    }
    let rated = rate(
        ada.clone(),
        json!({"rating": 4, "comment": "  Quick and kind  "}),
    )
    .await;
    assert_eq!(rated.0, 200, "{}", rated.1);
    assert_eq!(
        (rated.1["rating"].as_i64(), rated.1["comment"].as_str()),
        (Some(4), Some("Quick and kind"))
    );
    // The agent hears of it live and reads it in the conversation.
    let frame = console.next_of("conversation").await;
    let frame = if frame["conversation"]["rating"].is_null() {
        console.next_of("conversation").await
    } else {
        frame
    };
    assert_eq!(frame["conversation"]["rating"]["rating"], 4);
    let detail = live
        .get(&alice, &format!("/conversations/{conversation}"))
        .await
        .1;
    assert_eq!(
        detail["conversation"]["rating"]["comment"],
        "Quick and kind"
    );
}

#[tokio::test]
async fn consoles_hear_of_their_own_apps_queue_only() {
    let live = start().await;
    agent_in(&live, "alice@support.example", "Alice", &["frontline"]).await;
    agent_in(&live, "oscar@other.example", "Oscar", &["outsiders"]).await;
    let alice = live.login("alice@support.example").await;
    let oscar = live.login("oscar@other.example").await;
    for agent in [&alice, &oscar] {
        live.post(agent, "/status", json!({"status": "away"})).await;
    }
    let mut alices = live.console(&alice).await;
    let mut oscars = live.console(&oscar).await;

    // A demo conversation waits: Alice's console is told to refetch.
    let ada = customer_in(&live, "demo", identified("Ada Lovelace", "ada@example.com")).await;
    live.say(&ada, "anyone?").await;
    assert_eq!(
        alices.next_of("queue").await,
        json!({"type": "queue", "app_id": "demo"})
    );
    // Oscar hears nothing of it: the first frame he gets is his own app's.
    let olga = customer_in(
        &live,
        "other",
        identified("Olga Other", "olga@other.example"),
    )
    .await;
    live.say(&olga, "hello?").await;
    assert_eq!(
        oscars.frame().await,
        json!({"type": "queue", "app_id": "other"})
    );
    // Taking it changes the queue too.
    let queue = live.get(&alice, "/queue").await.1;
    let waiting = ids(&queue)[0].clone();
    live.post(
        &alice,
        &format!("/conversations/{waiting}/assign"),
        json!({"agent_id": alice.id}),
    )
    .await;
    assert_eq!(alices.next_of("queue").await["app_id"], "demo");
}
