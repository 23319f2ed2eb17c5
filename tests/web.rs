//! The exported JavaScript API in headless Chromium.
//!
//! Run with `CHROMEDRIVER=/usr/bin/chromedriver cargo test --target
//! wasm32-unknown-unknown -p trustchat`. The tests marked "server" talk to a
//! real `trustchat-server`: compile them with
//! `TRUSTCHAT_TEST_SERVER=http://127.0.0.1:PORT` (its apps `demo`, onboarding
//! on, and `quiet`, onboarding off, must allow the origin of
//! `WASM_BINDGEN_TEST_ADDRESS`). Without it they fail, and say so. The
//! identity-token tests also need `TRUSTCHAT_TEST_API_KEY`, an API key of
//! the app `demo` (which must be able to mint tokens), to get tokens from
//! `POST /api/v1/user-identity-jwt` at run time; and the expired-token test
//! waits out `TRUSTCHAT_TEST_JWT_LEEWAY` seconds (default 0: the `demo`
//! app's `leeway_secs`).

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement, HtmlInputElement};

wasm_bindgen_test_configure!(run_in_browser);

// ---- helpers ------------------------------------------------------------

/// The real server's base URL, fixed at compile time.
fn server() -> &'static str {
    match option_env!("TRUSTCHAT_TEST_SERVER") {
        Some(url) => url,
        None => panic!(
            "TRUSTCHAT_TEST_SERVER was not set when tests/web.rs was compiled: start trustchat-server \
             and build the tests with TRUSTCHAT_TEST_SERVER=http://127.0.0.1:PORT (npm test does both)"
        ),
    }
}

/// The API key of the app `demo`, fixed at compile time.
fn api_key() -> &'static str {
    match option_env!("TRUSTCHAT_TEST_API_KEY") {
        Some(key) => key,
        None => panic!(
            "TRUSTCHAT_TEST_API_KEY was not set when tests/web.rs was compiled: build the tests \
             with the API key of the test server's app \"demo\" (npm test does it)"
        ),
    }
}

/// An identity token for `email`, minted by the real server, valid for
/// `expires_in` seconds.
async fn mint(email: &str, name: &str, expires_in: u32) -> String {
    let body = object(&[
        ("identityType", s("EMAIL")),
        ("identity", s(email)),
        ("name", s(name)),
        ("expiresIn", JsValue::from(expires_in)),
    ]);
    let body = js_sys::JSON::stringify(&body).expect("stringify");
    let url = [server(), "/api/v1/user-identity-jwt"].concat();
    let promise: Promise = minter()
        .call3(&JsValue::NULL, &s(&url), &s(api_key()), &body)
        .expect("fetch")
        .dyn_into()
        .expect("a promise");
    match JsFuture::from(promise).await {
        Ok(token) => token.as_string().expect("a token"),
        Err(error) => panic!("minting a token at {url} failed: {error:?}"),
    }
}

/// `(url, key, body) => Promise<token>`: the mint request, as a website's
/// backend would send it.
fn minter() -> Function {
    Function::new_with_args(
        "url, key, body",
        "return fetch(url, { method: 'POST', body, headers: { \
           'Authorization': 'Bearer ' + key, 'Content-Type': 'application/json' } }) \
         .then(async r => { const b = await r.json(); \
           if (!r.ok) throw new Error(r.status + ' ' + JSON.stringify(b)); return b.token; })",
    )
}

/// A `fetchJwt` for `init`: mints a fresh ten-minute token for `email`.
fn fetch_jwt(email: &str, name: &str) -> Function {
    let url = [server(), "/api/v1/user-identity-jwt"].concat();
    let body = object(&[
        ("identityType", s("EMAIL")),
        ("identity", s(email)),
        ("name", s(name)),
        ("expiresIn", JsValue::from(600)),
    ]);
    let body = js_sys::JSON::stringify(&body).expect("stringify");
    let bound: JsValue = minter()
        .bind3(&JsValue::NULL, &s(&url), &s(api_key()), &body)
        .into();
    bound.unchecked_into()
}

/// A fresh page state: a new widget, no `trustchat:` key anywhere, no
/// listener, and the launcher drawn as the JavaScript API draws it
/// (www/widget/launcher.js) before the wasm runs.
fn fresh() {
    trustchat::web::reset();
    let window = web_sys::window().expect("window");
    for storage in [window.local_storage(), window.session_storage()] {
        let storage = storage.expect("storage").expect("storage");
        storage.clear().expect("clear");
    }
    Function::new_no_args("window.__tcListeners = [];")
        .call0(&JsValue::NULL)
        .expect("listeners");
    draw_launcher();
}

/// A page reload: a new widget, storage kept, the launcher drawn again.
fn reload() {
    trustchat::web::reset();
    draw_launcher();
}

/// Draws the launcher as the JavaScript API does before the wasm runs.
fn draw_launcher() {
    Function::new_no_args(
        r#"
        const host = document.createElement("div");
        host.id = "trustchat-root";
        host.attachShadow({ mode: "open" }).innerHTML =
          '<div id="tc-root"><button type="button" class="launcher" data-tc="launcher" aria-label="Open chat" aria-expanded="false"></button></div>';
        document.body.append(host);
        "#,
    )
    .call0(&JsValue::NULL)
    .expect("draw the launcher");
}

/// The translator the JavaScript API gives the wasm (www/widget/translate.js)
/// with the English catalog.
fn translate() -> JsValue {
    let source = include_str!("../www/widget/translate.js").replace("export function", "function");
    let catalog = include_str!("../www/widget/i18n/en.json");
    Function::new_no_args(&[&source, "\nreturn translator(\"en\", ", catalog, ");"].concat())
        .call0(&JsValue::NULL)
        .expect("translator")
}

/// The `emit` the JavaScript API gives the wasm: the listeners `on` added.
fn emit() -> JsValue {
    Function::new_with_args(
        "event, detail",
        r#"for (const [e, h] of window.__tcListeners.slice()) {
          if (e !== event) continue;
          try { h(detail); } catch (error) { console.error(`a listener of "${event}" threw`, error); }
        }"#,
    )
    .into()
}

/// `TrustChat.on(event, handler)`, as the JavaScript API keeps it.
fn on(event: JsValue, handler: JsValue) -> Result<(), JsValue> {
    let listeners = get(&web_sys::window().expect("window"), "__tcListeners");
    listeners
        .unchecked_into::<Array>()
        .push(&Array::of2(&event, &handler));
    Ok(())
}

/// The wasm's `init`, as the JavaScript API calls it.
fn wasm_init(config: JsValue) -> Promise {
    trustchat::init(config, translate(), emit())
}

fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    for (key, value) in pairs {
        Reflect::set(&object, &(*key).into(), value).expect("set");
    }
    object.into()
}

fn s(text: &str) -> JsValue {
    JsValue::from_str(text)
}

fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &key.into()).expect("get")
}

/// Awaits `promise`; `Ok` with its value or `Err((code, message))`.
async fn settle(promise: Promise) -> Result<JsValue, (String, String)> {
    JsFuture::from(promise).await.map_err(|error| {
        assert!(
            error.is_instance_of::<js_sys::Error>(),
            "rejected with an Error, got {error:?}"
        );
        (
            get(&error, "code").as_string().unwrap_or_default(),
            get(&error, "message").as_string().unwrap_or_default(),
        )
    })
}

async fn rejects(promise: Promise, code: &str) -> String {
    match settle(promise).await {
        Ok(value) => panic!("expected a rejection with code {code}, got {value:?}"),
        Err((got, message)) => {
            assert_eq!(got, code, "code (message: {message})");
            message
        }
    }
}

fn throws(result: Result<(), JsValue>, code: &str) {
    let error = result.expect_err("expected a throw");
    assert_eq!(get(&error, "code").as_string().as_deref(), Some(code));
}

async fn init(app_id: &str) {
    let config = object(&[("appId", s(app_id)), ("server", s(server()))]);
    settle(wasm_init(config)).await.expect("init resolves");
}

/// `init` of `demo` with a `fetchJwt`.
async fn init_fetching(fetch_jwt: Function) {
    let config = object(&[
        ("appId", s("demo")),
        ("server", s(server())),
        ("fetchJwt", fetch_jwt.into()),
    ]);
    settle(wasm_init(config)).await.expect("init resolves");
}

async fn set_ada() -> JsValue {
    let ada = object(&[("name", s("Ada Lovelace")), ("email", s("ada@example.com"))]);
    settle(trustchat::set_user(ada))
        .await
        .expect("setUser resolves")
}

async fn sleep(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        web_sys::window()
            .expect("window")
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .expect("setTimeout");
    });
    JsFuture::from(promise).await.expect("sleep");
}

/// The widget's shadow root.
fn shadow() -> JsValue {
    let host = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("trustchat-root"))
        .expect("#trustchat-root is in the page");
    host.shadow_root().expect("an open shadow root").into()
}

fn query(selector: &str) -> Option<Element> {
    let root = shadow();
    let find: Function = get(&root, "querySelector")
        .dyn_into()
        .expect("querySelector");
    find.call1(&root, &s(selector))
        .expect("query")
        .dyn_into::<Element>()
        .ok()
}

fn visible_text(selector: &str) -> Option<String> {
    query(selector)
        .filter(|e| !e.has_attribute("hidden"))
        .and_then(|e| e.text_content())
}

/// Waits up to two seconds for `selector` to show `text`.
async fn wait_for_text(selector: &str, text: &str) {
    wait_for_text_long(selector, text, 2_000).await;
}

/// Waits up to `ms` milliseconds for `selector` to show `text`.
async fn wait_for_text_long(selector: &str, text: &str, ms: u32) {
    for _ in 0..ms / 20 {
        if visible_text(selector).as_deref() == Some(text) {
            return;
        }
        sleep(20).await;
    }
    panic!(
        "{selector} never showed {text:?}; it shows {:?}",
        visible_text(selector)
    );
}

fn shadow_html() -> String {
    get(&shadow(), "innerHTML").as_string().unwrap_or_default()
}

fn trustchat_keys() -> Vec<String> {
    let window = web_sys::window().expect("window");
    let mut keys = vec![];
    for storage in [window.local_storage(), window.session_storage()] {
        let storage = storage.expect("storage").expect("storage");
        for i in 0..storage.length().expect("length") {
            keys.extend(
                storage
                    .key(i)
                    .expect("key")
                    .filter(|k| k.starts_with("trustchat:")),
            );
        }
    }
    keys
}

fn type_into(selector: &str, value: &str) {
    query(selector)
        .expect(selector)
        .dyn_into::<HtmlInputElement>()
        .expect("input")
        .set_value(value);
}

fn click(selector: &str) {
    query(selector)
        .expect(selector)
        .dyn_into::<HtmlElement>()
        .expect("element")
        .click();
}

// ---- without a server ---------------------------------------------------

#[wasm_bindgen_test]
async fn calls_before_init_are_refused() {
    fresh();
    let ada = object(&[("name", s("Ada")), ("email", s("ada@example.com"))]);
    rejects(trustchat::set_user(ada), "not_initialized").await;
    rejects(trustchat::set_jwt(s("a.b.c")), "not_initialized").await;
    rejects(trustchat::clear_user(), "not_initialized").await;
    throws(trustchat::show(), "not_initialized");
    throws(trustchat::close(), "not_initialized");
    assert!(trustchat::get_user().is_null());
}

#[wasm_bindgen_test]
async fn bad_config_is_refused() {
    fresh();
    for config in [
        JsValue::UNDEFINED,
        s("demo"),
        object(&[]),
        object(&[("appId", s("Not Valid"))]),
        object(&[("appId", JsValue::from_f64(7.0))]),
        object(&[("appId", s("demo")), ("server", s("chat.example.com"))]),
        object(&[("appId", s("demo")), ("onboarding", s("yes"))]),
        object(&[("appId", s("demo")), ("fetchJwt", s("not a function"))]),
    ] {
        let message = rejects(wasm_init(config.clone()), "invalid_argument").await;
        assert!(
            !message.is_empty() && !message.ends_with('.'),
            "{config:?}: {message}"
        );
    }
}

#[wasm_bindgen_test]
async fn bad_users_are_refused_before_any_request() {
    fresh();
    let cases = [
        (
            object(&[("name", s("")), ("email", s("ada@example.com"))]),
            "please enter a name",
        ),
        (
            object(&[("name", s("Ada"))]),
            "please give an email address or a phone number",
        ),
        (
            object(&[("name", s("Ada")), ("email", JsValue::from_f64(1.0))]),
            "email must be a string",
        ),
        (JsValue::NULL, "setUser needs"),
    ];
    for (user, expected) in cases {
        let message = rejects(trustchat::set_user(user), "invalid_argument").await;
        assert!(message.starts_with(expected), "{message}");
    }
    rejects(
        trustchat::set_jwt(JsValue::from_f64(1.0)),
        "invalid_argument",
    )
    .await;
}

#[wasm_bindgen_test]
async fn an_unreachable_server_is_a_network_error() {
    fresh();
    let config = object(&[("appId", s("demo")), ("server", s("http://127.0.0.1:9"))]);
    let message = rejects(wasm_init(config), "network").await;
    assert!(message.contains("http://127.0.0.1:9"), "{message}");
    // Still not initialized afterwards.
    throws(trustchat::show(), "not_initialized");
}

// ---- against the real server ---------------------------------------------

/// A listener that records the details it receives.
fn recorder() -> (Array, Function) {
    let seen = Array::new();
    let push: Function = get(&seen, "push").dyn_into().expect("push");
    (seen.clone(), push.bind0(&seen))
}

#[wasm_bindgen_test]
async fn server_init_draws_the_launcher_and_emits_ready() {
    fresh();
    let (seen, listener) = recorder();
    on(s("ready"), listener.into()).expect("on");
    // A throwing listener does not break the widget.
    on(
        s("ready"),
        Function::new_no_args("throw new Error('page bug')").into(),
    )
    .expect("on");
    init("demo").await;
    assert_eq!(seen.length(), 1, "ready emitted once");
    assert!(seen.get(0).is_null(), "nobody is identified yet");
    let launcher = query("[data-tc=launcher]").expect("launcher");
    assert_eq!(
        launcher.get_attribute("aria-expanded").as_deref(),
        Some("false")
    );
    assert_eq!(
        launcher.get_attribute("aria-controls").as_deref(),
        Some("trustchat-panel")
    );
    assert!(query("[data-tc=panel]")
        .expect("panel")
        .has_attribute("hidden"));
    // init again: same app resolves, another app is refused.
    init("demo").await;
    let other = object(&[("appId", s("quiet")), ("server", s(server()))]);
    let message = rejects(wasm_init(other), "invalid_argument").await;
    assert!(message.contains("already initialized"), "{message}");
}

#[wasm_bindgen_test]
async fn server_unknown_app() {
    fresh();
    let config = object(&[("appId", s("no-such-app")), ("server", s(server()))]);
    rejects(wasm_init(config), "unknown_app").await;
}

#[wasm_bindgen_test]
async fn server_set_user_greets_by_first_name() {
    fresh();
    init("demo").await;
    let (seen, listener) = recorder();
    on(s("user:identified"), listener.into()).expect("on");
    let user = set_ada().await;
    assert_eq!(get(&user, "firstName").as_string().as_deref(), Some("Ada"));
    assert_eq!(seen.length(), 1);
    trustchat::show().expect("show");
    assert_eq!(
        query("[data-tc=launcher]")
            .and_then(|l| l.get_attribute("aria-label"))
            .as_deref(),
        Some("Close chat")
    );
    assert_eq!(
        visible_text("[data-tc=greeting]").as_deref(),
        Some("Hi Ada!")
    );
    assert!(
        query("[data-tc=onboarding]").is_none(),
        "no onboarding form for an identified customer"
    );
    assert_eq!(
        query("[data-tc=messages]")
            .and_then(|m| m.get_attribute("role"))
            .as_deref(),
        Some("log")
    );
    let got = trustchat::get_user();
    assert_eq!(
        get(&got, "name").as_string().as_deref(),
        Some("Ada Lovelace")
    );
    assert_eq!(
        get(&got, "email").as_string().as_deref(),
        Some("ada@example.com")
    );
    assert!(get(&got, "phone").is_null());
    assert_eq!(get(&got, "trusted").as_bool(), Some(false));
    assert!(get(&got, "id").as_string().is_some_and(|id| !id.is_empty()));
    assert_eq!(trustchat_keys(), ["trustchat:demo:session"]);
    trustchat::close().expect("close");
    assert!(query("[data-tc=panel]")
        .expect("panel")
        .has_attribute("hidden"));
}

#[wasm_bindgen_test]
async fn server_reload_restores_the_customer() {
    fresh();
    init("demo").await;
    set_ada().await;
    reload(); // a page reload: storage stays
    init("demo").await;
    assert_eq!(
        get(&trustchat::get_user(), "firstName")
            .as_string()
            .as_deref(),
        Some("Ada")
    );
}

/// An email's or a phone's form is the server's to judge (the widget does
/// not carry those rules): refused with its words, as `invalid_argument`.
#[wasm_bindgen_test]
async fn server_bad_emails_and_phones_are_refused_by_the_server() {
    fresh();
    init("demo").await;
    for (user, words) in [
        (
            object(&[("name", s("Ada")), ("email", s("ada@"))]),
            "email address must look like name@example.com",
        ),
        (
            object(&[("name", s("Ada")), ("phone", s("4155550100"))]),
            "phone number must be in international form",
        ),
    ] {
        let message = rejects(trustchat::set_user(user), "invalid_argument").await;
        assert!(message.contains(words), "{message}");
    }
    assert!(trustchat::get_user().is_null());
}

#[wasm_bindgen_test]
async fn server_onboarding_form_validates_then_identifies() {
    fresh();
    init("demo").await;
    trustchat::show().expect("show");
    assert!(
        query("[data-tc=onboarding]").is_some(),
        "the onboarding form"
    );
    click("[data-tc=submit]");
    wait_for_text("[data-tc=error-name]", "please enter a name").await;
    wait_for_text(
        "[data-tc=error-email]",
        "please give an email address or a phone number",
    )
    .await;
    let name = query("[data-tc=name]").expect("name");
    assert_eq!(name.get_attribute("aria-invalid").as_deref(), Some("true"));
    assert!(name
        .get_attribute("aria-describedby")
        .is_some_and(|d| d.contains("tc-error-name")));
    type_into("[data-tc=name]", "Ada Lovelace");
    type_into("[data-tc=email]", "not-an-email");
    click("[data-tc=submit]");
    wait_for_text(
        "[data-tc=error-email]",
        "email address must look like name@example.com",
    )
    .await;
    assert_eq!(visible_text("[data-tc=error-name]"), None);
    type_into("[data-tc=email]", "ada@example.com");
    type_into("[data-tc=phone]", "0155");
    click("[data-tc=submit]");
    wait_for_text(
        "[data-tc=error-phone]",
        "phone number must be in international form, like +14155550100",
    )
    .await;
    type_into("[data-tc=phone]", "");
    click("[data-tc=submit]");
    wait_for_text("[data-tc=greeting]", "Hi Ada!").await;
    assert!(query("[data-tc=onboarding]").is_none());
    assert_eq!(
        get(&trustchat::get_user(), "email").as_string().as_deref(),
        Some("ada@example.com")
    );
}

#[wasm_bindgen_test]
async fn server_clear_user_wipes_dom_and_storage() {
    fresh();
    init("demo").await;
    set_ada().await;
    trustchat::show().expect("show");
    web_sys::window()
        .and_then(|w| w.session_storage().ok().flatten())
        .expect("sessionStorage")
        .set_item("trustchat:demo:draft", "hello")
        .expect("set");
    let (seen, listener) = recorder();
    on(s("user:cleared"), listener.into()).expect("on");
    settle(trustchat::clear_user())
        .await
        .expect("clearUser resolves");
    assert_eq!(seen.length(), 1);
    assert!(trustchat::get_user().is_null());
    assert_eq!(trustchat_keys(), Vec::<String>::new());
    let html = shadow_html();
    assert!(
        !html.contains("Ada") && !html.contains("ada@"),
        "the last customer left a trace: {html}"
    );
    trustchat::show().expect("show");
    assert!(
        query("[data-tc=onboarding]").is_some(),
        "back to onboarding"
    );
}

#[wasm_bindgen_test]
async fn server_onboarding_off_greets_anonymously() {
    fresh();
    init("quiet").await;
    trustchat::show().expect("show");
    assert!(query("[data-tc=onboarding]").is_none());
    wait_for_text("[data-tc=greeting]", "Hi there! How can we help?").await;
    assert!(trustchat::get_user().is_null());
}

#[wasm_bindgen_test]
async fn server_calls_made_during_init_wait_for_it() {
    fresh();
    let config = object(&[("appId", s("demo")), ("server", s(server()))]);
    let init = wasm_init(config);
    let ada = object(&[("name", s("Ada Lovelace")), ("email", s("ada@example.com"))]);
    let user = trustchat::set_user(ada);
    settle(init).await.expect("init");
    let user = settle(user).await.expect("setUser after init");
    assert_eq!(get(&user, "firstName").as_string().as_deref(), Some("Ada"));
}

#[wasm_bindgen_test]
async fn server_refuses_a_bad_jwt() {
    fresh();
    init("demo").await;
    let (code, message) = settle(trustchat::set_jwt(s("not.a.jwt")))
        .await
        .expect_err("a junk token is refused");
    assert_eq!(code, "invalid_token", "{message}");
    let stored: Vec<String> = trustchat_keys();
    assert!(stored.is_empty(), "{stored:?}");
}

// ---- identity tokens (JWT), against the real server ------------------------

/// The stored session, as JSON.
fn stored_session() -> JsValue {
    let text = web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|s| s.get_item("trustchat:demo:session").ok().flatten())
        .expect("a stored session");
    js_sys::JSON::parse(&text).expect("JSON")
}

/// Every value the widget keeps in storage, as one string.
fn stored_text() -> String {
    let window = web_sys::window().expect("window");
    let mut all = String::new();
    for storage in [window.local_storage(), window.session_storage()] {
        let storage = storage.expect("storage").expect("storage");
        for i in 0..storage.length().expect("length") {
            let key = storage.key(i).expect("key").unwrap_or_default();
            all.push_str(&storage.get_item(&key).ok().flatten().unwrap_or_default());
        }
    }
    all
}

fn user_field(user: &JsValue, key: &str) -> Option<String> {
    get(user, key).as_string()
}

/// Waits up to `ms` milliseconds for `seen` to hold `count` details.
async fn wait_for_count(seen: &Array, count: u32, what: &str, ms: u32) {
    for _ in 0..ms / 20 {
        if seen.length() >= count {
            return;
        }
        sleep(20).await;
    }
    panic!("{what}: {} events, {count} expected", seen.length());
}

#[wasm_bindgen_test]
async fn server_set_jwt_before_the_chat_is_trusted() {
    fresh();
    init("demo").await;
    let (trusted, listener) = recorder();
    on(s("user:trusted"), listener.into()).expect("on");
    let token = mint("ada@example.com", "Ada Lovelace", 600).await;
    let user = settle(trustchat::set_jwt(s(&token)))
        .await
        .expect("setJwt resolves");
    assert_eq!(get(&user, "trusted").as_bool(), Some(true));
    assert_eq!(user_field(&user, "firstName").as_deref(), Some("Ada"));
    assert_eq!(trusted.length(), 1, "user:trusted emitted");
    assert_eq!(get(&trustchat::get_user(), "trusted").as_bool(), Some(true));
    trustchat::show().expect("show");
    assert!(query("[data-tc=onboarding]").is_none(), "no onboarding");
    assert_eq!(
        visible_text("[data-tc=greeting]").as_deref(),
        Some("Hi Ada!")
    );
    assert_eq!(
        visible_text("[data-tc=verified]").as_deref(),
        Some("Verified as Ada")
    );
    assert_eq!(visible_text("[data-tc=unverified]"), None);
    assert!(!stored_text().contains(&token), "the JWT is never stored");
    assert!(get(&stored_session(), "trusted_until").as_f64().is_some());
    // setUser({jwt}) is the same thing.
    fresh();
    init("demo").await;
    let user = settle(trustchat::set_user(object(&[("jwt", s(&token))])))
        .await
        .expect("setUser({jwt}) resolves");
    assert_eq!(get(&user, "trusted").as_bool(), Some(true));
}

#[wasm_bindgen_test]
async fn server_set_jwt_after_set_user_upgrades_the_same_customer() {
    fresh();
    init("demo").await;
    let before = set_ada().await;
    trustchat::show().expect("show");
    assert_eq!(visible_text("[data-tc=verified]"), None, "not trusted yet");
    let token_before = get(&stored_session(), "session_token");
    let token = mint("ada@example.com", "Ada Lovelace", 600).await;
    let after = settle(trustchat::set_jwt(s(&token)))
        .await
        .expect("setJwt resolves");
    assert_eq!(user_field(&after, "id"), user_field(&before, "id"));
    assert_eq!(get(&after, "trusted").as_bool(), Some(true));
    assert_eq!(
        get(&stored_session(), "session_token"),
        token_before,
        "the same session continues"
    );
    assert_eq!(
        visible_text("[data-tc=verified]").as_deref(),
        Some("Verified as Ada")
    );
}

#[wasm_bindgen_test]
async fn server_set_jwt_for_someone_else_is_a_different_customer() {
    fresh();
    init("demo").await;
    let ada = set_ada().await;
    let token_before = get(&stored_session(), "session_token");
    let token = mint("grace@example.com", "Grace Hopper", 600).await;
    let grace = settle(trustchat::set_jwt(s(&token)))
        .await
        .expect("setJwt resolves");
    assert_ne!(user_field(&grace, "id"), user_field(&ada, "id"));
    assert_eq!(user_field(&grace, "firstName").as_deref(), Some("Grace"));
    assert_eq!(get(&grace, "trusted").as_bool(), Some(true));
    assert_ne!(
        get(&stored_session(), "session_token"),
        token_before,
        "a new session for a different person"
    );
    trustchat::show().expect("show");
    wait_for_text("[data-tc=greeting]", "Hi Grace!").await;
    assert_eq!(
        visible_text("[data-tc=verified]").as_deref(),
        Some("Verified as Grace")
    );
}

#[wasm_bindgen_test]
async fn server_refuses_bad_and_expired_tokens() {
    fresh();
    init("demo").await;
    rejects(trustchat::set_jwt(s("")), "invalid_argument").await;
    rejects(trustchat::set_jwt(JsValue::NULL), "invalid_argument").await;
    // Signed, but not by this app's key.
    let token = mint("ada@example.com", "Ada Lovelace", 600).await;
    let mut parts: Vec<&str> = token.split('.').collect();
    parts[2] = "c2lnbmF0dXJl";
    let forged = parts.join(".");
    let message = rejects(trustchat::set_jwt(s(&forged)), "invalid_token").await;
    assert!(!message.is_empty());
    // Expired: minted for one second, then the app's leeway waited out.
    let leeway: i32 = option_env!("TRUSTCHAT_TEST_JWT_LEEWAY")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let token = mint("ada@example.com", "Ada Lovelace", 1).await;
    sleep((leeway + 2) * 1000 + 100).await;
    let message = rejects(trustchat::set_jwt(s(&token)), "token_expired").await;
    assert!(!message.is_empty());
    assert!(trustchat::get_user().is_null());
    assert!(trustchat_keys().is_empty());
}

#[wasm_bindgen_test]
async fn server_an_expiring_token_is_refreshed_with_fetch_jwt() {
    fresh();
    init_fetching(fetch_jwt("ada@example.com", "Ada Lovelace")).await;
    let (expired, on_expired) = recorder();
    on(s("token:expired"), on_expired.into()).expect("on");
    let (trusted, on_trusted) = recorder();
    on(s("user:trusted"), on_trusted.into()).expect("on");
    // Five seconds: the timer fires at 80% of it, about four seconds on.
    let token = mint("ada@example.com", "Ada Lovelace", 5).await;
    let user = settle(trustchat::set_jwt(s(&token)))
        .await
        .expect("setJwt resolves");
    let id = user_field(&user, "id");
    let until = get(&stored_session(), "trusted_until")
        .as_f64()
        .expect("trusted_until");
    assert_eq!(trusted.length(), 1);
    wait_for_count(&expired, 1, "token:expired", 7_000).await;
    wait_for_count(&trusted, 2, "user:trusted after the refresh", 5_000).await;
    let later = get(&stored_session(), "trusted_until")
        .as_f64()
        .expect("trusted_until");
    assert!(later > until + 60.0, "{later} is not later than {until}");
    // Past the first token's end: still trusted, same customer.
    sleep(2_000).await;
    let now = trustchat::get_user();
    assert_eq!(get(&now, "trusted").as_bool(), Some(true));
    assert_eq!(user_field(&now, "id"), id);
    trustchat::show().expect("show");
    assert_eq!(visible_text("[data-tc=unverified]"), None);
    assert_eq!(
        visible_text("[data-tc=verified]").as_deref(),
        Some("Verified as Ada")
    );
    // clearUser stops the timer: nothing more happens.
    settle(trustchat::clear_user()).await.expect("clearUser");
    assert_eq!(expired.length(), 1);
}

#[wasm_bindgen_test]
async fn server_without_fetch_jwt_the_chat_says_it_is_no_longer_verified() {
    fresh();
    init("demo").await;
    let (expired, on_expired) = recorder();
    on(s("token:expired"), on_expired.into()).expect("on");
    let (errors, on_error) = recorder();
    on(s("error"), on_error.into()).expect("on");
    let token = mint("ada@example.com", "Ada Lovelace", 3).await;
    settle(trustchat::set_jwt(s(&token)))
        .await
        .expect("setJwt resolves");
    trustchat::show().expect("show");
    assert_eq!(
        visible_text("[data-tc=verified]").as_deref(),
        Some("Verified as Ada")
    );
    wait_for_text_long(
        "[data-tc=unverified]",
        "Your identity is no longer verified. Messages you send now are not marked as verified.",
        8_000,
    )
    .await;
    assert_eq!(
        query("[data-tc=unverified]")
            .and_then(|n| n.get_attribute("role"))
            .as_deref(),
        Some("status")
    );
    assert_eq!(expired.length(), 1, "token:expired emitted");
    assert_eq!(errors.length(), 1, "an error event with the reason");
    assert_eq!(
        get(&errors.get(0), "code").as_string().as_deref(),
        Some("token_expired")
    );
    assert_eq!(
        get(&trustchat::get_user(), "trusted").as_bool(),
        Some(false)
    );
    assert_eq!(visible_text("[data-tc=verified]"), None);
    // A fresh token, later: verified again, the notice gone.
    let token = mint("ada@example.com", "Ada Lovelace", 600).await;
    let user = settle(trustchat::set_jwt(s(&token)))
        .await
        .expect("setJwt resolves");
    assert_eq!(get(&user, "trusted").as_bool(), Some(true));
    assert_eq!(visible_text("[data-tc=unverified]"), None);
    assert_eq!(
        visible_text("[data-tc=verified]").as_deref(),
        Some("Verified as Ada")
    );
}

// ---- messaging, against the real server -------------------------------------

/// A customer no other test uses, identified with `setUser`, the panel
/// open on the chat.
async fn chatting_as(who: &str) -> String {
    let email = [
        who,
        "-",
        &((js_sys::Math::random() * 1e9) as u64).to_string(),
        "@example.com",
    ]
    .concat();
    let user = object(&[("name", s("Mia Messenger")), ("email", s(&email))]);
    settle(trustchat::set_user(user))
        .await
        .expect("setUser resolves");
    trustchat::show().expect("show");
    assert!(query("[data-tc=composer]").is_some(), "the composer shows");
    email
}

/// Types `text` into the composer and presses Enter.
fn type_and_enter(text: &str) {
    let composer = query("[data-tc=composer]").expect("composer");
    Reflect::set(&composer, &"value".into(), &s(text)).expect("value");
    Function::new_with_args(
        "el",
        "el.dispatchEvent(new KeyboardEvent('keydown', \
           { key: 'Enter', bubbles: true, cancelable: true }))",
    )
    .call1(&JsValue::NULL, &composer)
    .expect("keydown");
}

/// The message items: `(data-state, data-seq, data-client-id, text)`.
fn message_items() -> Vec<(String, Option<String>, Option<String>, String)> {
    let root = shadow();
    let all: Function = get(&root, "querySelectorAll")
        .dyn_into()
        .expect("querySelectorAll");
    let list = all.call1(&root, &s("[data-tc=message]")).expect("query");
    Array::from(&list)
        .iter()
        .map(|item| {
            let item: Element = item.dyn_into().expect("element");
            (
                item.get_attribute("data-state").unwrap_or_default(),
                item.get_attribute("data-seq"),
                item.get_attribute("data-client-id"),
                item.query_selector(".text")
                    .ok()
                    .flatten()
                    .and_then(|t| t.text_content())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

/// Waits up to `ms` for the message with `body` to be in `state`.
async fn wait_for_message(body: &str, state: &str, ms: u32) -> (Option<String>, Option<String>) {
    for _ in 0..ms / 20 {
        let found = message_items()
            .into_iter()
            .find(|(st, _, _, text)| st == state && text == body);
        if let Some((_, seq, client_id, _)) = found {
            return (seq, client_id);
        }
        sleep(20).await;
    }
    panic!(
        "{body:?} never showed as {state}; the log holds {:?}",
        message_items()
    );
}

/// `GET /api/v1/messages?after=0` with the stored session's token.
async fn server_messages() -> Array {
    let token = get(&stored_session(), "session_token")
        .as_string()
        .expect("a token");
    let url = [server(), "/api/v1/messages?after=0"].concat();
    let get_json = Function::new_with_args(
        "url, token",
        "return fetch(url, { headers: { 'Authorization': 'Bearer ' + token } }) \
         .then(async r => { const b = await r.json(); \
           if (!r.ok) throw new Error(r.status + ' ' + JSON.stringify(b)); return b; })",
    );
    let promise: Promise = get_json
        .call2(&JsValue::NULL, &s(&url), &s(&token))
        .expect("fetch")
        .dyn_into()
        .expect("a promise");
    let page = JsFuture::from(promise)
        .await
        .unwrap_or_else(|e| panic!("GET {url} failed: {e:?}"));
    get(&page, "messages").dyn_into().expect("messages")
}

/// How many of `messages` carry `client_id`.
fn count_client_id(messages: &Array, client_id: &str) -> usize {
    messages
        .iter()
        .filter(|m| get(m, "client_id").as_string().as_deref() == Some(client_id))
        .count()
}

/// Runs `code` in the page (to break or mend its WebSocket).
fn page_eval(code: &str) {
    Function::new_no_args(code)
        .call0(&JsValue::NULL)
        .expect("page code runs");
}

/// The pending store of this tab, as JSON text.
fn pending_store() -> Option<String> {
    web_sys::window()
        .and_then(|w| w.session_storage().ok().flatten())
        .and_then(|s| s.get_item("trustchat:demo:pending").ok().flatten())
}

#[wasm_bindgen_test]
async fn server_a_message_typed_in_the_composer_is_sent_and_stored() {
    fresh();
    init("demo").await;
    chatting_as("composer").await;
    let (sent, listener) = recorder();
    on(s("message:sent"), listener.into()).expect("on");
    type_and_enter("Hello from the composer");
    // Pending at once, with its client id, and the composer is empty.
    let items = message_items();
    let (state, seq, client_id, _) = items
        .iter()
        .find(|(_, _, _, text)| text == "Hello from the composer")
        .cloned()
        .expect("the message shows at once");
    assert_eq!((state.as_str(), seq), ("pending", None));
    let client_id = client_id.expect("data-client-id");
    assert_eq!(client_id.len(), 36, "a UUID: {client_id}");
    assert_eq!(
        get(&query("[data-tc=composer]").expect("composer"), "value").as_string(),
        Some(String::new())
    );
    // Then sent, in place, with its seq.
    let (seq, same_id) = wait_for_message("Hello from the composer", "sent", 5_000).await;
    assert_eq!(same_id.as_deref(), Some(client_id.as_str()));
    let seq = seq.expect("data-seq");
    assert!(seq.parse::<i64>().is_ok_and(|n| n >= 1), "{seq}");
    wait_for_count(&sent, 1, "message:sent", 2_000).await;
    let detail = sent.get(0);
    assert_eq!(
        get(&detail, "client_id").as_string(),
        Some(client_id.clone())
    );
    assert_eq!(
        get(&detail, "body").as_string().as_deref(),
        Some("Hello from the composer")
    );
    assert_eq!(
        get(&detail, "author").as_string().as_deref(),
        Some("customer")
    );
    assert_eq!(get(&detail, "seq").as_f64(), seq.parse::<f64>().ok());
    // Stored once on the server; nothing left pending here.
    assert_eq!(count_client_id(&server_messages().await, &client_id), 1);
    assert_eq!(pending_store(), None);
    // Shift+Enter is a new line (no send); empty text is not sent.
    type_and_enter("   ");
    assert_eq!(message_items().len(), 1, "blank text is not sent");
    let composer = query("[data-tc=composer]").expect("composer");
    Reflect::set(&composer, &"value".into(), &s("line one")).expect("value");
    Function::new_with_args(
        "el",
        "el.dispatchEvent(new KeyboardEvent('keydown', \
           { key: 'Enter', shiftKey: true, bubbles: true, cancelable: true }))",
    )
    .call1(&JsValue::NULL, &composer)
    .expect("keydown");
    assert_eq!(message_items().len(), 1, "Shift+Enter does not send");
}

#[wasm_bindgen_test]
async fn server_a_message_over_4000_characters_is_refused_in_place() {
    fresh();
    init("demo").await;
    chatting_as("too-long").await;
    let long = "a".repeat(4_001);
    type_and_enter(&long);
    let error = visible_text("[data-tc=composer-error]").expect("an error in place");
    assert!(error.contains("4,001 characters"), "{error}");
    assert!(message_items().is_empty(), "nothing sent");
    let composer = query("[data-tc=composer]").expect("composer");
    assert_eq!(
        get(&composer, "value").as_string().map(|v| v.len()),
        Some(4_001),
        "the text is kept to be shortened"
    );
    assert_eq!(
        composer.get_attribute("aria-invalid").as_deref(),
        Some("true")
    );
    // Exactly 4,000 goes.
    type_and_enter(&long[1..]);
    assert_eq!(visible_text("[data-tc=composer-error]"), None);
    wait_for_message(&long[1..], "sent", 5_000).await;
}

#[wasm_bindgen_test]
async fn server_a_pending_message_survives_a_reload_and_is_stored_once() {
    fresh();
    // No socket ever opens in this "page": messages stay pending.
    page_eval(
        "window.__RealWebSocket = window.__RealWebSocket || window.WebSocket; \
         window.WebSocket = function () { return { send() {}, close() {} }; };",
    );
    init("demo").await;
    chatting_as("reload").await;
    type_and_enter("Sent before the reload");
    let (_, client_id) = wait_for_message("Sent before the reload", "pending", 1_000).await;
    let client_id = client_id.expect("data-client-id");
    let stored = pending_store().expect("kept in sessionStorage");
    assert!(stored.contains(&client_id), "{stored}");
    assert!(stored.contains("Sent before the reload"), "{stored}");
    // The page reloads with the network back.
    reload();
    page_eval("window.WebSocket = window.__RealWebSocket;");
    let (sent, listener) = recorder();
    on(s("message:sent"), listener.into()).expect("on");
    init("demo").await;
    trustchat::show().expect("show");
    let (seq, same_id) = wait_for_message("Sent before the reload", "sent", 5_000).await;
    assert!(seq.is_some());
    assert_eq!(
        same_id.as_deref(),
        Some(client_id.as_str()),
        "same client id"
    );
    wait_for_count(&sent, 1, "message:sent", 2_000).await;
    assert_eq!(count_client_id(&server_messages().await, &client_id), 1);
    assert_eq!(pending_store(), None);
    // Another reload: the history shows it, once, not pending.
    reload();
    init("demo").await;
    trustchat::show().expect("show");
    wait_for_message("Sent before the reload", "sent", 5_000).await;
    let shown = message_items()
        .iter()
        .filter(|(_, _, id, _)| id.as_deref() == Some(client_id.as_str()))
        .count();
    assert_eq!(shown, 1);
}

#[wasm_bindgen_test]
async fn server_clear_user_wipes_the_pending_messages_and_the_history() {
    fresh();
    init("demo").await;
    chatting_as("clear").await;
    type_and_enter("In the history");
    wait_for_message("In the history", "sent", 5_000).await;
    // The socket stops delivering: the next message stays pending.
    page_eval(
        "window.__realSend = WebSocket.prototype.send; \
         WebSocket.prototype.send = function () {};",
    );
    type_and_enter("Still pending");
    wait_for_message("Still pending", "pending", 1_000).await;
    page_eval("WebSocket.prototype.send = window.__realSend;");
    assert!(pending_store().is_some());
    let (cleared, listener) = recorder();
    on(s("user:cleared"), listener.into()).expect("on");
    settle(trustchat::clear_user())
        .await
        .expect("clearUser resolves");
    assert_eq!(cleared.length(), 1);
    assert!(message_items().is_empty(), "no message left in the page");
    let html = shadow_html();
    assert!(!html.contains("In the history") && !html.contains("Still pending"));
    assert!(trustchat_keys().is_empty(), "{:?}", trustchat_keys());
    assert!(!stored_text().contains("Still pending"));
}
