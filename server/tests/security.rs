//! The server tried as an attacker would, over its public API on a real
//! socket: someone who knows (or guesses) a customer's email or phone, and
//! holds no token of theirs, must see, hear and change nothing of that
//! customer's conversations (README, "Security model"). Beside each attack,
//! the legitimate path it must not break.

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]

mod common;

use futures_util::SinkExt as _;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use trustchat_server::clock;

use common::live::{AgentLogin, Live, Socket, SECRET};

/// Ada's phone, known to her profile from her token.
const ADA_PHONE: &str = "+14155550100";

/// An identity token of app `demo` with `claims` (a `sub`, contact
/// details, names), valid for ten minutes.
fn token(claims: Value) -> String {
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    let now = clock::now_secs();
    let mut all = json!({"aud": "demo", "iat": now, "exp": now + 600});
    for (key, value) in claims.as_object().unwrap() {
        all[key] = value.clone();
    }
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    encode(&header, &all, &EncodingKey::from_secret(SECRET)).unwrap()
}

/// Ada's token, as her website mints it.
fn ada_token() -> String {
    token(
        json!({"sub": "ada-1", "email": "ada@example.com", "phone_number": ADA_PHONE,
                 "name": "Ada Lovelace", "given_name": "Ada"}),
    )
}

/// A session as its client holds it.
struct Session {
    token: String,
    body: Value,
}

/// The scene of every attack: a server with an agent online, and Ada,
/// logged in on the website, chatting with that agent.
struct Scene {
    live: Live,
    alice: AgentLogin,
    _console: Socket,
    ada: Session,
    /// Ada's conversation.
    conversation: String,
    /// Ada's profile, as the agent sees it.
    profile: String,
}

impl Scene {
    async fn new() -> Scene {
        let live = Live::start().await;
        live.add_agent("alice@support.example", "Alice").await;
        let alice = live.login("alice@support.example").await;
        let console = live.console(&alice).await;
        let ada = open(&live, json!({ "jwt": ada_token() })).await;
        assert_eq!(ada.body["trusted"], true);
        let sent = live.say(&ada.token, "I lost access to my account").await;
        let conversation = sent["conversation_id"].as_str().unwrap().to_owned();
        let (status, _) = live
            .post(
                &alice,
                &format!("/conversations/{conversation}/messages"),
                json!({"body": "Your recovery code is 771-204"}),
            )
            .await;
        assert_eq!(status, 201);
        let (_, detail) = live
            .get(&alice, &format!("/conversations/{conversation}"))
            .await;
        let profile = detail["conversation"]["customer"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        Scene {
            live,
            alice,
            _console: console,
            ada,
            conversation,
            profile,
        }
    }

    /// The conversation as the agent reads it.
    async fn agent_view(&self, conversation: &str) -> Value {
        let (status, detail) = self
            .live
            .get(&self.alice, &format!("/conversations/{conversation}"))
            .await;
        assert_eq!(status, 200, "{detail}");
        detail
    }
}

async fn open(live: &Live, body: Value) -> Session {
    let reply = live
        .http
        .post(live.url("/api/v1/apps/demo/sessions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    let body: Value = reply.json().await.unwrap();
    Session {
        token: body["session_token"].as_str().unwrap().to_owned(),
        body,
    }
}

/// `GET /api/v1/messages?after=0` for the session.
async fn history(live: &Live, token: &str) -> Value {
    let reply = live
        .http
        .get(live.url("/api/v1/messages?after=0"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    reply.json().await.unwrap()
}

/// The bodies of a page of messages.
fn bodies(page: &Value) -> Vec<String> {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect()
}

/// `POST /api/v1/sessions/current/identity`.
async fn change_identity(live: &Live, token: &str, body: Value) -> (u16, Value) {
    let reply = live
        .http
        .post(live.url("/api/v1/sessions/current/identity"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        reply.status().as_u16(),
        reply.json().await.unwrap_or(Value::Null),
    )
}

/// Sends a message over the socket and returns every frame up to its
/// `ack`: whatever the socket heard before it, in order (the hub delivers
/// in publish order, so anything published earlier would be there).
async fn send_and_collect(socket: &mut Socket, body: &str) -> Vec<Value> {
    let client_id = uuid::Uuid::new_v4().to_string();
    socket
        .0
        .send(WsMessage::Text(
            json!({"type": "send", "client_id": client_id, "body": body})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
    let mut heard = Vec::new();
    loop {
        let frame = socket.frame().await;
        if frame["type"] == "ack" {
            assert_eq!(frame["client_id"], client_id.as_str());
            heard.push(frame);
            return heard;
        }
        heard.push(frame);
    }
}

/// The message bodies among `frames`.
fn heard_bodies(frames: &[Value]) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f["type"] == "message" || f["type"] == "ack")
        .map(|f| f["message"]["body"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_email_alone_reads_hears_and_writes_nothing_of_its_owner() {
    let scene = Scene::new().await;
    let live = &scene.live;
    let mut ada_socket = live.widget(&scene.ada.token).await;

    // Eve types Ada's email.
    let eve = open(
        live,
        json!({"user": {"name": "Eve", "email": "ADA@example.com"}}),
    )
    .await;
    assert_eq!(eve.body["trusted"], false);
    assert_eq!(
        eve.body["customer"],
        json!({"id": eve.body["customer"]["id"], "name": "Eve", "first_name": "Eve",
               "email": "ada@example.com", "phone": null}),
        "told back only what she gave: not Ada's phone, not Ada's name"
    );
    assert_ne!(eve.body["customer"]["id"], scene.ada.body["customer"]["id"]);
    assert_ne!(eve.body["customer"]["id"], scene.profile.as_str());
    let current = live
        .http
        .get(live.url("/api/v1/sessions/current"))
        .bearer_auth(&eve.token)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(current["customer"], eve.body["customer"]);

    // She reads nothing of Ada's conversation.
    let page = history(live, &eve.token).await;
    assert_eq!(
        page,
        json!({"conversation_id": null, "messages": [], "has_more": false, "agent_read_seq": 0, "customer_read_seq": 0})
    );
    let (mut eve_socket, ready) = live.widget_ready(&eve.token).await;
    assert_eq!(ready["conversation_id"], Value::Null);
    assert_eq!(ready["last_seq"], 0);

    // Ada writes and the agent answers: Eve hears none of it.
    live.say(&scene.ada.token, "the code did not work").await;
    let (status, _) = live
        .post(
            &scene.alice,
            &format!("/conversations/{}/messages", scene.conversation),
            json!({"body": "Try this one: 993-118"}),
        )
        .await;
    assert_eq!(status, 201);

    // Eve writes: into a conversation of her own, not Ada's.
    let heard = send_and_collect(&mut eve_socket, "Ada here, send the code again").await;
    assert_eq!(
        heard_bodies(&heard),
        ["Ada here, send the code again"],
        "Eve heard only her own message: {heard:?}"
    );
    let eve_conversation = heard.last().unwrap()["message"]["conversation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(eve_conversation, scene.conversation);
    assert_eq!(
        bodies(&history(live, &eve.token).await),
        ["Ada here, send the code again"]
    );

    // Ada's side never shows Eve's text.
    let heard = send_and_collect(&mut ada_socket, "hello?").await;
    assert_eq!(
        heard_bodies(&heard),
        ["the code did not work", "Try this one: 993-118", "hello?"],
        "{heard:?}"
    );
    let ada_page = history(live, &scene.ada.token).await;
    assert_eq!(ada_page["conversation_id"], scene.conversation.as_str());
    assert!(!bodies(&ada_page)
        .iter()
        .any(|b| b.contains("send the code")));

    // The agent is not misled: Eve's conversation is linked to Ada's
    // profile for context, shows the name Eve gave, and is not verified.
    let eve_view = scene.agent_view(&eve_conversation).await;
    let customer = &eve_view["conversation"]["customer"];
    assert_eq!(customer["id"], scene.profile.as_str());
    assert_eq!(customer["name"], "Eve");
    assert_eq!(customer["email"], "ada@example.com");
    assert_eq!(customer["phone"], Value::Null);
    assert_eq!(customer["verified"], false);
    let message = &eve_view["messages"][0];
    assert_eq!(
        (
            message["author_name"].as_str(),
            message["trusted"].as_bool()
        ),
        (Some("Eve"), Some(false))
    );
    let ada_view = scene.agent_view(&scene.conversation).await;
    assert_eq!(ada_view["conversation"]["customer"]["verified"], true);
    assert_eq!(ada_view["conversation"]["customer"]["name"], "Ada Lovelace");
    assert_eq!(ada_view["messages"][0]["author_name"], "Ada Lovelace");
    let (_, profile) = scene
        .live
        .get(&scene.alice, &format!("/customers/{}", scene.profile))
        .await;
    let verified: Vec<(&str, bool)> = profile["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap(),
                c["customer"]["verified"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        verified,
        [
            (eve_conversation.as_str(), false),
            (scene.conversation.as_str(), true)
        ]
    );
    assert_eq!(
        profile["customer"]["name"], "Ada Lovelace",
        "a claim renames nothing"
    );
}

#[tokio::test]
async fn a_phone_or_an_email_alone_looks_nothing_up() {
    let scene = Scene::new().await;
    let by_phone = open(
        &scene.live,
        json!({"user": {"name": "Eve", "phone": "+1 415 555 0100"}}),
    )
    .await;
    assert_eq!(
        (
            by_phone.body["customer"]["email"].clone(),
            by_phone.body["customer"]["phone"].clone(),
            by_phone.body["customer"]["name"].clone()
        ),
        (Value::Null, json!(ADA_PHONE), json!("Eve")),
        "no email from a phone"
    );
    let by_email = open(
        &scene.live,
        json!({"user": {"name": "Eve", "email": "ada@example.com"}}),
    )
    .await;
    assert_eq!(
        by_email.body["customer"]["phone"],
        Value::Null,
        "no phone from an email"
    );
    // Two claims of the same person's contacts do not learn they meet.
    assert_ne!(
        by_phone.body["customer"]["id"],
        by_email.body["customer"]["id"]
    );
    assert!(bodies(&history(&scene.live, &by_phone.token).await).is_empty());
}

#[tokio::test]
async fn an_anonymous_chat_claiming_an_email_plants_nothing() {
    let scene = Scene::new().await;
    let live = &scene.live;
    let mut ada_socket = live.widget(&scene.ada.token).await;
    let eve = open(live, json!({})).await;
    let planted = live.say(&eve.token, "refund to IBAN XX00 EVIL").await;
    let eve_conversation = planted["conversation_id"].as_str().unwrap().to_owned();

    let (status, after) = change_identity(
        live,
        &eve.token,
        json!({"user": {"name": "Ada", "email": "ada@example.com"}}),
    )
    .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["customer"]["phone"], Value::Null);

    // Ada's conversation is still open, still hers, and her side shows
    // nothing of Eve's.
    let ada_view = scene.agent_view(&scene.conversation).await;
    assert_eq!(ada_view["conversation"]["status"], "open");
    let page = history(live, &scene.ada.token).await;
    assert_eq!(page["conversation_id"], scene.conversation.as_str());
    assert_eq!(page["status"], "open");
    assert!(!bodies(&page).iter().any(|b| b.contains("EVIL")));
    let heard = send_and_collect(&mut ada_socket, "still there?").await;
    assert_eq!(heard_bodies(&heard), ["still there?"], "{heard:?}");
    assert_eq!(
        heard.last().unwrap()["message"]["conversation_id"],
        scene.conversation.as_str()
    );

    // Eve's chat goes on in her own conversation, linked to Ada's profile
    // for the agent and marked as not verified.
    let next = live.say(&eve.token, "and quickly").await;
    assert_eq!(next["conversation_id"], eve_conversation.as_str());
    assert_eq!(
        bodies(&history(live, &eve.token).await),
        ["refund to IBAN XX00 EVIL", "and quickly"]
    );
    let eve_view = scene.agent_view(&eve_conversation).await;
    assert_eq!(
        eve_view["conversation"]["customer"]["id"],
        scene.profile.as_str()
    );
    assert_eq!(eve_view["conversation"]["customer"]["verified"], false);

    // Only a valid token of Ada's merges it into her history: a second
    // device of Ada's does not read it meanwhile.
    let phone = open(live, json!({ "jwt": ada_token() })).await;
    let seen = history(live, &phone.token).await;
    assert_eq!(seen["conversation_id"], scene.conversation.as_str());
    assert!(!bodies(&seen).iter().any(|b| b.contains("EVIL")));
}

#[tokio::test]
async fn a_token_lands_on_its_own_sub_never_on_a_profile_found_by_phone_or_email() {
    let scene = Scene::new().await;
    let live = &scene.live;
    // A site signs what Mallory typed: her email, Ada's phone.
    let mallory = open(
        live,
        json!({ "jwt": token(json!({"sub": "mallory-7", "email": "mallory@example.com",
                                    "phone_number": ADA_PHONE, "name": "Mallory M"})) }),
    )
    .await;
    assert_eq!(mallory.body["trusted"], true);
    assert_ne!(
        mallory.body["customer"]["id"],
        scene.ada.body["customer"]["id"]
    );
    assert!(bodies(&history(live, &mallory.token).await).is_empty());
    // A token of another user id with Ada's email is another person too.
    let other = open(
        live,
        json!({ "jwt": token(json!({"sub": "someone-else", "email": "ada@example.com",
                                    "name": "Not Ada"})) }),
    )
    .await;
    assert_eq!(other.body["trusted"], true);
    assert_ne!(
        other.body["customer"]["id"],
        scene.ada.body["customer"]["id"]
    );
    assert!(bodies(&history(live, &other.token).await).is_empty());

    // Ada's profile keeps its name; her chat is untouched.
    let (_, profile) = live
        .get(&scene.alice, &format!("/customers/{}", scene.profile))
        .await;
    assert_eq!(profile["customer"]["name"], "Ada Lovelace");
    assert_eq!(profile["customer"]["email"], "ada@example.com");
    assert_eq!(
        bodies(&history(live, &scene.ada.token).await),
        [
            "I lost access to my account",
            "Your recovery code is 771-204"
        ]
    );
}

#[tokio::test]
async fn a_second_device_with_a_token_follows_the_chat_and_a_logout_ends_it() {
    let scene = Scene::new().await;
    let live = &scene.live;
    let phone = open(live, json!({ "jwt": ada_token() })).await;
    let page = history(live, &phone.token).await;
    assert_eq!(page["conversation_id"], scene.conversation.as_str());
    assert_eq!(
        bodies(&page),
        [
            "I lost access to my account",
            "Your recovery code is 771-204"
        ]
    );
    // Live, both ways.
    let mut desk = live.widget(&scene.ada.token).await;
    let mut phone_socket = live.widget(&phone.token).await;
    let heard = send_and_collect(&mut phone_socket, "from my phone").await;
    assert_eq!(
        heard.last().unwrap()["message"]["conversation_id"],
        scene.conversation.as_str()
    );
    let from_phone = desk.next_of("message").await;
    assert_eq!(from_phone["message"]["body"], "from my phone");
    assert_eq!(from_phone["message"]["trusted"], true);

    // clearUser on the desk: its token stops working, its socket closes,
    // and the phone goes on.
    let revoked = live
        .http
        .delete(live.url("/api/v1/sessions/current"))
        .bearer_auth(&scene.ada.token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    assert_eq!(
        live.http
            .get(live.url("/api/v1/messages"))
            .bearer_auth(&scene.ada.token)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    desk.closed_with(4001).await;
    let heard = send_and_collect(&mut phone_socket, "still me").await;
    assert_eq!(heard_bodies(&heard), ["still me"]);
}

#[tokio::test]
async fn logging_in_mid_chat_upgrades_the_same_conversation() {
    let live = Live::start().await;
    live.add_agent("alice@support.example", "Alice").await;
    let alice = live.login("alice@support.example").await;
    let _console = live.console(&alice).await;
    let grace = open(
        &live,
        json!({"user": {"name": "Grace", "email": "grace@example.com"}}),
    )
    .await;
    let first = live.say(&grace.token, "before logging in").await;
    let conversation = first["conversation_id"].as_str().unwrap().to_owned();
    let view = live
        .get(&alice, &format!("/conversations/{conversation}"))
        .await
        .1;
    assert_eq!(view["conversation"]["customer"]["verified"], false);

    let grace_token = token(json!({"sub": "grace-1", "email": "grace@example.com",
                                   "name": "Grace Hopper"}));
    let (status, after) = change_identity(&live, &grace.token, json!({ "jwt": grace_token })).await;
    assert_eq!(status, 200, "{after}");
    assert!(
        after.get("session_token").is_none(),
        "the same session goes on"
    );
    assert_eq!(after["trusted"], true);
    let second = live.say(&grace.token, "after logging in").await;
    assert_eq!(second["conversation_id"], conversation.as_str());

    let view = live
        .get(&alice, &format!("/conversations/{conversation}"))
        .await
        .1;
    assert_eq!(view["conversation"]["customer"]["verified"], true);
    let flags: Vec<(&str, bool)> = view["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["body"].as_str().unwrap(), m["trusted"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        flags,
        [("before logging in", false), ("after logging in", true)]
    );
    // Her other device, logged in, reads the merged conversation.
    let laptop = open(
        &live,
        json!({ "jwt": token(json!({"sub": "grace-1",
        "email": "grace@example.com", "name": "Grace Hopper"})) }),
    )
    .await;
    assert_eq!(
        bodies(&history(&live, &laptop.token).await),
        ["before logging in", "after logging in"]
    );
}

#[tokio::test]
async fn a_client_id_of_another_session_returns_nothing_of_it() {
    let scene = Scene::new().await;
    let live = &scene.live;
    // Ada's message's idempotency key, somehow known to Eve, who claims
    // Ada's email: the stored message is not handed back.
    let page = history(live, &scene.ada.token).await;
    let client_id = page["messages"][0]["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let eve = open(
        live,
        json!({"user": {"name": "Eve", "email": "ada@example.com"}}),
    )
    .await;
    let reply = live
        .http
        .post(live.url("/api/v1/messages"))
        .bearer_auth(&eve.token)
        .json(&json!({"client_id": client_id, "body": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 422);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["error"]["field"], "client_id");
    assert!(!body.to_string().contains("lost access"), "{body}");
}

#[tokio::test]
async fn a_session_whose_proof_ended_reads_and_hears_only_what_it_started() {
    let scene = Scene::new().await;
    let live = &scene.live;
    // A tablet of Ada's logs in with a token about to expire.
    let now = clock::now_secs();
    let tablet = open(
        live,
        json!({ "jwt": token(json!({"sub": "ada-1", "email": "ada@example.com",
                                    "name": "Ada Lovelace", "iat": now, "exp": now + 2})) }),
    )
    .await;
    assert_eq!(
        bodies(&history(live, &tablet.token).await),
        [
            "I lost access to my account",
            "Your recovery code is 771-204"
        ],
        "trusted, it follows the chat"
    );
    let mut tablet_socket = live.widget(&tablet.token).await;
    // Wait for the proof to end, as the server sees it.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let current: Value = live
            .http
            .get(live.url("/api/v1/sessions/current"))
            .bearer_auth(&tablet.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if current["trusted"] == false {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the proof never ended"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Ada writes from her desk; the tablet neither reads nor hears it.
    live.say(&scene.ada.token, "written at the desk").await;
    let page = history(live, &tablet.token).await;
    assert_eq!(page["conversation_id"], Value::Null, "{page}");
    let heard = send_and_collect(&mut tablet_socket, "typed on the tablet").await;
    assert_eq!(heard_bodies(&heard), ["typed on the tablet"], "{heard:?}");
    let own = heard.last().unwrap()["message"].clone();
    assert_eq!(own["trusted"], false);
    assert_ne!(own["conversation_id"], scene.conversation.as_str());
}
