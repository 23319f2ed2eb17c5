//! Server texts in the customer's language: `[apps.messages.LOCALE]` and a
//! rule's `greetings`, picked by the `Accept-Language` the widget sends.

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]

mod common;

use serde_json::{json, Value};

use common::live::{Live, LOGIN_URL};

const TEXTS: &str = r#"
[apps.messages]
greeting_anonymous = "Hello! Log in: {login_url}"
[apps.messages.fr]
greeting_anonymous = "Bonjour ! Connectez-vous : {login_url}"
[apps.messages.ar]
greeting_identified = "مرحبًا {first_name}!"
"#;

async fn open(live: &Live, language: Option<&str>, body: Value) -> Value {
    let mut request = live
        .http
        .post(live.url("/api/v1/apps/demo/sessions"))
        .json(&body);
    if let Some(language) = language {
        request = request.header("accept-language", language);
    }
    request.send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn greetings_follow_accept_language_and_fall_back() {
    let live = Live::start_full(TEXTS, "").await;
    let french = open(&live, Some("fr-CA,fr;q=0.9,en;q=0.5"), json!({})).await;
    assert_eq!(
        french["greeting"],
        format!("Bonjour ! Connectez-vous : {LOGIN_URL}")
    );
    assert_eq!(french["greeting_link"], LOGIN_URL);
    let english = open(&live, Some("en-US"), json!({})).await;
    assert_eq!(english["greeting"], format!("Hello! Log in: {LOGIN_URL}"));
    let none = open(&live, None, json!({})).await;
    assert_eq!(none["greeting"], english["greeting"]);
    let arabic = open(
        &live,
        Some("ar-EG"),
        json!({"user": {"name": "Layla Hassan", "email": "layla@example.com"}}),
    )
    .await;
    assert_eq!(arabic["greeting"], "مرحبًا Layla!");
    // A locale without that text falls back to the app's, then the built-in.
    let french_identified = open(
        &live,
        Some("fr"),
        json!({"user": {"name": "Ada Lovelace", "email": "ada@example.com"}}),
    )
    .await;
    assert_eq!(
        french_identified["greeting"],
        format!("Hi Ada! Log in to verify it's you: {LOGIN_URL}")
    );
}

/// The languages stored on the session `customer.id` names.
async fn stored(live: &Live, session_id: &str) -> Vec<String> {
    live.state
        .store
        .session(session_id)
        .await
        .unwrap()
        .unwrap()
        .locales
}

#[tokio::test]
async fn a_session_keeps_the_last_languages_it_asked_for() {
    let live = Live::start_full(TEXTS, "").await;
    let opened = open(&live, Some("fr-CA,fr;q=0.9,*;q=0.1,x_y"), json!({})).await;
    let token = opened["session_token"].as_str().unwrap().to_owned();
    let id = opened["customer"]["id"].as_str().unwrap().to_owned();
    assert_eq!(stored(&live, &id).await, ["fr-CA", "fr"]);

    let current = |language: Option<&'static str>| {
        let mut request = live
            .http
            .get(live.url("/api/v1/sessions/current"))
            .bearer_auth(&token);
        if let Some(language) = language {
            request = request.header("accept-language", language);
        }
        async move {
            let reply = request.send().await.unwrap();
            assert_eq!(reply.status(), 200);
        }
    };
    // A request without the header erases nothing.
    current(None).await;
    assert_eq!(stored(&live, &id).await, ["fr-CA", "fr"]);
    current(Some("de-DE, de;q=0.8")).await;
    assert_eq!(stored(&live, &id).await, ["de-DE", "de"]);

    // An identification without the header keeps them; with it, replaces.
    let identify = |language: Option<&'static str>, user: Value| {
        let mut request = live
            .http
            .post(live.url("/api/v1/sessions/current/identity"))
            .bearer_auth(&token)
            .json(&json!({ "user": user }));
        if let Some(language) = language {
            request = request.header("accept-language", language);
        }
        async move {
            let reply = request.send().await.unwrap();
            assert_eq!(reply.status(), 200);
            reply.json::<Value>().await.unwrap()
        }
    };
    identify(
        None,
        json!({"name": "Ada Lovelace", "email": "ada@example.com"}),
    )
    .await;
    assert_eq!(stored(&live, &id).await, ["de-DE", "de"]);
    identify(
        Some("ja"),
        json!({"name": "Ada Lovelace", "email": "ada@example.com"}),
    )
    .await;
    assert_eq!(stored(&live, &id).await, ["ja"]);
    // A different person gets a new session, in the same browser: it
    // takes the languages along.
    let other = identify(
        None,
        json!({"name": "Bob Smith", "email": "bob@example.com"}),
    )
    .await;
    let new_id = other["customer"]["id"].as_str().unwrap();
    assert_ne!(new_id, id);
    assert_eq!(stored(&live, new_id).await, ["ja"]);

    // Bounded: a header of many long tags keeps what fits in 255 chars.
    let long = (0..10)
        .map(|i| format!("zh-Hant-{i}aaaaaaa-bbbbbbbb-cccccccc"))
        .collect::<Vec<_>>()
        .join(",");
    let opened = open(&live, Some(&long), json!({})).await;
    let kept = stored(&live, opened["customer"]["id"].as_str().unwrap()).await;
    assert!(!kept.is_empty() && kept.len() < 10, "{kept:?}");
    assert!(kept.join(",").len() <= 255, "{kept:?}");
}

/// The bodies of a conversation's messages, in order.
async fn bodies(live: &Live, conversation: &str) -> Vec<String> {
    live.state
        .store
        .messages_after(conversation, 0, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect()
}

#[tokio::test]
async fn login_requests_are_in_the_customers_language() {
    let live = Live::start_full(
        r#"
[apps.messages.de]
held_for_login = "Bitte melden Sie sich an, dann geht es weiter."
[[apps.rules]]
status = ["anonymous"]
hold_for_login_secs = 30
"#,
        "",
    )
    .await;
    // Held for a login: the automatic request, built in French, the
    // config's German, else English.
    let held = |language: Option<&'static str>| {
        let live = &live;
        async move {
            let opened = open(live, language, json!({})).await;
            let token = opened["session_token"].as_str().unwrap();
            let said = live.say(token, "bonjour").await;
            let conversation = said["conversation_id"].as_str().unwrap().to_owned();
            bodies(live, &conversation).await
        }
    };
    assert_eq!(
        held(Some("fr-FR,fr;q=0.9")).await,
        [
            "bonjour",
            "Veuillez vous connecter pour que nous puissions vérifier qu'il s'agit bien de vous\u{a0}: un conseiller vous rejoint dès que c'est fait."
        ]
    );
    assert_eq!(
        held(Some("de")).await[1],
        "Bitte melden Sie sich an, dann geht es weiter."
    );
    assert_eq!(
        held(None).await[1],
        "Please log in so we can verify it's you: an agent joins as soon as you do."
    );
    // Over the WebSocket, with the languages recorded after it connected.
    let opened = open(&live, None, json!({})).await;
    let token = opened["session_token"].as_str().unwrap();
    let mut widget = live.widget(token).await;
    let current = live
        .http
        .get(live.url("/api/v1/sessions/current"))
        .bearer_auth(token)
        .header("accept-language", "es")
        .send()
        .await
        .unwrap();
    assert_eq!(current.status(), 200);
    widget.send_message("hola").await;
    assert_eq!(
        widget.agent_message().await["message"]["body"],
        "Inicia sesión para que podamos verificar que eres tú: un agente se unirá en cuanto lo hagas."
    );

    // An agent's "Ask to log in", in the language the customer's session
    // recorded.
    live.add_agent("bea@support.example", "Bea").await;
    let bea = live.login("bea@support.example").await;
    let _console = live.console(&bea).await;
    let opened = open(
        &live,
        Some("ja-JP"),
        json!({"user": {"name": "Aiko Sato", "email": "aiko@example.com"}}),
    )
    .await;
    let said = live
        .say(opened["session_token"].as_str().unwrap(), "hello")
        .await;
    let conversation = said["conversation_id"].as_str().unwrap();
    let (status, ask) = live
        .post(
            &bea,
            &format!("/conversations/{conversation}/request-login"),
            json!({}),
        )
        .await;
    assert_eq!(status, 201, "{ask}");
    assert_eq!(ask["body"], "ご本人確認のため、ログインしてください。");
    assert_eq!(ask["kind"], "login_request");
}
