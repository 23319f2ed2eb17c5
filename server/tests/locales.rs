//! Server texts in the customer's language: `[apps.messages.LOCALE]` and a
//! rule's `greetings`, picked by the `Accept-Language` the widget sends.

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
