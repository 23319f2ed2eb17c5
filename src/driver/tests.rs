//! The driver against in-memory ports: each check makes one API call with
//! the server's scripted answers and compares what was sent, what the call
//! returned, what was emitted and what is stored.

use std::rc::Rc;

use futures_executor::block_on;
use trustchat_protocol::UserInput;

use super::*;
use crate::core::{Event, Panel};
use crate::platform::memory::Memory;
use crate::platform::Storage;

const DEMO: &str = r#"{"id":"demo","name":"Demo Shop","onboarding":true}"#;
const QUIET: &str = r#"{"id":"quiet","name":"Quiet","onboarding":false}"#;
const ADA: &str = r#"{"session_token":"tok-ada","customer":{"id":"c1","name":"Ada Lovelace","first_name":"Ada","email":"ada@example.com","phone":null},"trusted":false,"greeting":"Hi Ada!"}"#;
const ADA_CURRENT: &str = r#"{"customer":{"id":"c1","name":"Ada Lovelace","first_name":"Ada","email":"ada@example.com","phone":null},"trusted":false,"greeting":"Hi Ada!"}"#;
const ADA_TRUSTED: &str = r#"{"session_token":"tok-jwt","customer":{"id":"c1","name":"Ada Lovelace","first_name":"Ada","email":"ada@example.com","phone":null},"trusted":true,"greeting":"Hi Ada!"}"#;
const BOB: &str = r#"{"session_token":"tok-bob","customer":{"id":"c2","name":"Bob","first_name":"Bob","email":null,"phone":"+14155550100"},"trusted":false,"greeting":"Hi Bob!"}"#;
const ANON: &str = r#"{"session_token":"tok-anon","customer":{"id":"c3","name":null,"first_name":null,"email":null,"phone":null},"trusted":false,"greeting":"Hi there! How can we help?"}"#;
const EXPIRED: &str = r#"{"error":{"code":"invalid_token","message":"the token expired at 2024-01-01T00:00:00Z","reason":"token_expired"}}"#;
const BAD_SIG: &str = r#"{"error":{"code":"invalid_token","message":"the token's signature does not match","reason":"bad_signature"}}"#;
const NO_APP: &str = r#"{"error":{"code":"unknown_app","message":"no app has the id nope"}}"#;

/// One API call.
enum Call<'a> {
    Init(&'a str),
    SetUser(&'a str, Option<&'a str>, Option<&'a str>),
    SetJwt(&'a str),
    Clear,
    Submit(&'a str, &'a str, &'a str),
    Show,
}

/// The server's scripted answer to one request.
enum Reply<'a> {
    Status(u16, &'a str),
    Unreachable,
}

fn driver() -> Rc<Driver<Memory>> {
    Driver::new(Memory::default())
}

fn user_input(name: &str, email: Option<&str>, phone: Option<&str>) -> UserInput {
    UserInput {
        name: name.into(),
        email: email.map(Into::into),
        phone: phone.map(Into::into),
    }
}

/// Makes `call` with `replies` scripted; checks the requests sent, the
/// outcome (`Ok` or the error code) and the events emitted.
fn check(
    d: &Rc<Driver<Memory>>,
    call: Call,
    replies: &[Reply],
    sent: &[&str],
    outcome: Result<(), Code>,
    events: &[&str],
) {
    for reply in replies {
        match reply {
            Reply::Status(status, body) => d.ports().reply(*status, body),
            Reply::Unreachable => d.ports().unreachable(),
        };
    }
    let result = match call {
        Call::Init(app_id) => {
            let config = Config::new(Some(app_id), Some("http://s"), "").expect("valid config");
            block_on(d.init(config))
        }
        Call::SetUser(name, email, phone) => {
            block_on(d.set_user(user_input(name, email, phone))).map(drop)
        }
        Call::SetJwt(token) => block_on(d.set_jwt(token.into())).map(drop),
        Call::Clear => block_on(d.clear_user()),
        Call::Submit(name, email, phone) => {
            block_on(d.submit_form(user_input(name, Some(email), Some(phone))));
            Ok(())
        }
        Call::Show => d.show(),
    };
    d.ports().run_tasks();
    assert_eq!(result.map_err(|e| e.code), outcome);
    assert_eq!(d.ports().take_sent(), sent, "requests sent");
    assert_eq!(d.ports().take_events(), events, "events emitted");
    assert!(
        d.ports().replies.borrow().is_empty(),
        "every scripted reply was used"
    );
}

fn stored(d: &Rc<Driver<Memory>>) -> Vec<String> {
    d.ports()
        .storage
        .borrow()
        .iter()
        .map(|(k, v)| [k.as_str(), "=", v].concat())
        .collect()
}

fn greeting(d: &Rc<Driver<Memory>>) -> Option<String> {
    match d.ports().view.borrow().as_ref().map(|v| v.panel.clone()) {
        Some(Panel::Chat { greeting }) => greeting,
        _ => None,
    }
}

const GET_DEMO: &str = "GET http://s/api/v1/apps/demo";
const POST_SESSIONS: &str = "POST http://s/api/v1/apps/demo/sessions";

#[test]
fn calls_before_init_are_refused() {
    let d = driver();
    check(
        &d,
        Call::SetUser("Ada", Some("ada@example.com"), None),
        &[],
        &[],
        Err(Code::NotInitialized),
        &[],
    );
    check(
        &d,
        Call::SetJwt("a.b.c"),
        &[],
        &[],
        Err(Code::NotInitialized),
        &[],
    );
    check(&d, Call::Clear, &[], &[], Err(Code::NotInitialized), &[]);
    check(&d, Call::Show, &[], &[], Err(Code::NotInitialized), &[]);
    assert_eq!(d.user(), None);
}

#[test]
fn bad_input_is_refused_before_any_request() {
    let d = driver();
    check(
        &d,
        Call::SetUser("", Some("ada@example.com"), None),
        &[],
        &[],
        Err(Code::InvalidArgument),
        &[],
    );
    check(
        &d,
        Call::SetUser("Ada", Some("nope"), None),
        &[],
        &[],
        Err(Code::InvalidArgument),
        &[],
    );
    check(
        &d,
        Call::SetUser("Ada", None, Some("555")),
        &[],
        &[],
        Err(Code::InvalidArgument),
        &[],
    );
    check(
        &d,
        Call::SetUser("Ada", None, None),
        &[],
        &[],
        Err(Code::InvalidArgument),
        &[],
    );
    check(
        &d,
        Call::SetJwt(" "),
        &[],
        &[],
        Err(Code::InvalidArgument),
        &[],
    );
}

#[test]
fn init_failures() {
    let d = driver();
    check(
        &d,
        Call::Init("demo"),
        &[Reply::Unreachable],
        &[GET_DEMO],
        Err(Code::Network),
        &[],
    );
    check(
        &d,
        Call::Init("demo"),
        &[Reply::Status(404, NO_APP)],
        &[GET_DEMO],
        Err(Code::UnknownApp),
        &[],
    );
    check(
        &d,
        Call::Init("demo"),
        &[Reply::Status(502, "<html>")],
        &[GET_DEMO],
        Err(Code::ServerError),
        &[],
    );
    check(
        &d,
        Call::Init("demo"),
        &[Reply::Status(200, "{}")],
        &[GET_DEMO],
        Err(Code::ServerError),
        &[],
    );
    assert_eq!(d.phase(), Phase::NotInitialized);
    // And it still works once the server is there.
    check(
        &d,
        Call::Init("demo"),
        &[Reply::Status(200, DEMO)],
        &[GET_DEMO],
        Ok(()),
        &["ready"],
    );
}

#[test]
fn init_twice() {
    let d = driver();
    check(
        &d,
        Call::Init("demo"),
        &[Reply::Status(200, DEMO)],
        &[GET_DEMO],
        Ok(()),
        &["ready"],
    );
    check(&d, Call::Init("demo"), &[], &[], Ok(()), &[]);
    check(
        &d,
        Call::Init("other"),
        &[],
        &[],
        Err(Code::InvalidArgument),
        &[],
    );
}

#[test]
fn set_user_identifies_and_stores() {
    let d = driver();
    check(
        &d,
        Call::Init("demo"),
        &[Reply::Status(200, DEMO)],
        &[GET_DEMO],
        Ok(()),
        &["ready"],
    );
    check(
        &d,
        Call::SetUser(" Ada  Lovelace ", Some("ADA@example.com"), None),
        &[Reply::Status(201, ADA)],
        &[
            r#"POST http://s/api/v1/apps/demo/sessions {"user":{"name":"Ada Lovelace","email":"ada@example.com"}}"#,
        ],
        Ok(()),
        &["user:identified"],
    );
    assert_eq!(greeting(&d).as_deref(), Some("Hi Ada!"));
    assert_eq!(
        d.user().map(|u| (u.first_name, u.trusted)),
        Some((Some("Ada".into()), false))
    );
    assert_eq!(stored(&d), [["trustchat:demo:session=", ADA].concat()]);
    // The same identity reuses the session: no request at all.
    check(
        &d,
        Call::SetUser("Ada L.", Some("ada@EXAMPLE.com"), None),
        &[],
        &[],
        Ok(()),
        &["user:identified"],
    );
    // A different identity gets a new session, and the old one is revoked.
    check(
        &d,
        Call::SetUser("Bob", None, Some("+1 415 555 0100")),
        &[Reply::Status(201, BOB), Reply::Status(204, "")],
        &[
            r#"POST http://s/api/v1/apps/demo/sessions {"user":{"name":"Bob","phone":"+14155550100"}}"#,
            "DELETE http://s/api/v1/sessions/current [tok-ada]",
        ],
        Ok(()),
        &["user:identified"],
    );
    assert_eq!(d.user().map(|u| u.id), Some("c2".into()));
    assert_eq!(stored(&d), [["trustchat:demo:session=", BOB].concat()]);
    // Same phone: reused.
    check(
        &d,
        Call::SetUser("Bob", None, Some("+14155550100")),
        &[],
        &[],
        Ok(()),
        &["user:identified"],
    );
}

#[test]
fn set_user_server_errors() {
    let d = driver();
    check(
        &d,
        Call::Init("demo"),
        &[Reply::Status(200, DEMO)],
        &[GET_DEMO],
        Ok(()),
        &["ready"],
    );
    let rate =
        r#"{"error":{"code":"rate_limited","message":"too many sessions, retry in a minute"}}"#;
    let sent = [
        r#"POST http://s/api/v1/apps/demo/sessions {"user":{"name":"Ada","email":"ada@example.com"}}"#,
    ];
    check(
        &d,
        Call::SetUser("Ada", Some("ada@example.com"), None),
        &[Reply::Status(429, rate)],
        &sent,
        Err(Code::RateLimited),
        &[],
    );
    check(
        &d,
        Call::SetUser("Ada", Some("ada@example.com"), None),
        &[Reply::Unreachable],
        &sent,
        Err(Code::Network),
        &[],
    );
    assert_eq!(d.user(), None);
    assert!(stored(&d).is_empty());
}

#[test]
fn set_jwt() {
    let d = driver();
    check(
        &d,
        Call::Init("demo"),
        &[Reply::Status(200, DEMO)],
        &[GET_DEMO],
        Ok(()),
        &["ready"],
    );
    let sent = [r#"POST http://s/api/v1/apps/demo/sessions {"jwt":"h.p.s"}"#];
    check(
        &d,
        Call::SetJwt("h.p.s"),
        &[Reply::Status(401, EXPIRED)],
        &sent,
        Err(Code::TokenExpired),
        &[],
    );
    check(
        &d,
        Call::SetJwt("h.p.s"),
        &[Reply::Status(401, BAD_SIG)],
        &sent,
        Err(Code::InvalidToken),
        &[],
    );
    assert_eq!(d.jwt(), None);
    check(
        &d,
        Call::SetJwt("h.p.s"),
        &[Reply::Status(201, ADA_TRUSTED)],
        &sent,
        Ok(()),
        &["user:identified", "user:trusted"],
    );
    assert_eq!(d.user().map(|u| u.trusted), Some(true));
    assert_eq!(d.jwt().as_deref(), Some("h.p.s"), "kept in memory");
    assert!(
        stored(&d).iter().all(|entry| !entry.contains("h.p.s")),
        "never stored"
    );
}

#[test]
fn clear_user_wipes_even_when_the_server_is_down() {
    let d = driver();
    d.ports().set("trustchat:other:thing", "x");
    d.ports().set("unrelated", "kept");
    check(
        &d,
        Call::Init("demo"),
        &[Reply::Status(200, DEMO)],
        &[GET_DEMO],
        Ok(()),
        &["ready"],
    );
    check(
        &d,
        Call::SetUser("Ada", Some("ada@example.com"), None),
        &[Reply::Status(201, ADA)],
        &[
            r#"POST http://s/api/v1/apps/demo/sessions {"user":{"name":"Ada","email":"ada@example.com"}}"#,
        ],
        Ok(()),
        &["user:identified"],
    );
    check(
        &d,
        Call::Clear,
        &[Reply::Unreachable],
        &["DELETE http://s/api/v1/sessions/current [tok-ada]"],
        Ok(()),
        &["user:cleared"],
    );
    assert_eq!(d.user(), None);
    assert_eq!(stored(&d), ["unrelated=kept"]);
    assert_eq!(greeting(&d), None);
    assert_eq!(d.phase(), Phase::Anonymous);
    // Clearing with nobody there sends nothing.
    check(&d, Call::Clear, &[], &[], Ok(()), &["user:cleared"]);
}

#[test]
fn init_restores_a_stored_session() {
    let d = driver();
    d.ports().set("trustchat:demo:session", ADA);
    check(
        &d,
        Call::Init("demo"),
        &[Reply::Status(200, DEMO), Reply::Status(200, ADA_CURRENT)],
        &[GET_DEMO, "GET http://s/api/v1/sessions/current [tok-ada]"],
        Ok(()),
        &["ready"],
    );
    assert_eq!(
        d.user().map(|u| u.email),
        Some(Some("ada@example.com".into()))
    );
    assert_eq!(greeting(&d).as_deref(), Some("Hi Ada!"));
    assert_eq!(
        stored(&d),
        [["trustchat:demo:session=", ADA].concat()],
        "the token is kept"
    );
}

#[test]
fn init_wipes_a_refused_session() {
    let d = driver();
    d.ports().set("trustchat:demo:session", ADA);
    let refused = r#"{"error":{"code":"unauthorized","message":"this session was revoked"}}"#;
    check(
        &d,
        Call::Init("demo"),
        &[Reply::Status(200, DEMO), Reply::Status(401, refused)],
        &[GET_DEMO, "GET http://s/api/v1/sessions/current [tok-ada]"],
        Ok(()),
        &["ready"],
    );
    assert_eq!(d.user(), None);
    assert!(stored(&d).is_empty());
    // Garbage in storage is dropped without a request.
    let d = driver();
    d.ports().set("trustchat:demo:session", "{not json");
    check(
        &d,
        Call::Init("demo"),
        &[Reply::Status(200, DEMO)],
        &[GET_DEMO],
        Ok(()),
        &["ready"],
    );
    assert!(stored(&d).is_empty());
}

#[test]
fn onboarding_form() {
    let d = driver();
    check(
        &d,
        Call::Init("demo"),
        &[Reply::Status(200, DEMO)],
        &[GET_DEMO],
        Ok(()),
        &["ready"],
    );
    check(&d, Call::Show, &[], &[], Ok(()), &["open"]);
    assert_eq!(d.phase(), Phase::Onboarding);
    check(&d, Call::Submit("", "nope", ""), &[], &[], Ok(()), &[]);
    let view = d.ports().view.borrow().clone().expect("rendered");
    let Panel::Onboarding { errors, .. } = view.panel else {
        panic!("form expected, got {view:?}")
    };
    assert_eq!(errors.name, Some("please enter a name"));
    assert_eq!(
        errors.email,
        Some("email address must look like name@example.com")
    );
    assert_eq!(
        d.ports().focus.borrow().last(),
        Some(&crate::core::Focus::Field("name"))
    );
    let server_down: &[Reply] = &[Reply::Unreachable];
    let sent = [
        r#"POST http://s/api/v1/apps/demo/sessions {"user":{"name":"Ada","email":"ada@example.com"}}"#,
    ];
    check(
        &d,
        Call::Submit("Ada", "ada@example.com", ""),
        server_down,
        &sent,
        Ok(()),
        &["error"],
    );
    assert!(d
        .ports()
        .view
        .borrow()
        .as_ref()
        .and_then(|v| v.alert.clone())
        .is_some_and(|a| a.contains("http://s")));
    check(
        &d,
        Call::Submit("Ada", "ada@example.com", ""),
        &[Reply::Status(201, ADA)],
        &sent,
        Ok(()),
        &["user:identified"],
    );
    assert_eq!(d.phase(), Phase::Identified);
    assert_eq!(greeting(&d).as_deref(), Some("Hi Ada!"));
}

#[test]
fn onboarding_off_starts_an_anonymous_session_on_open() {
    let d = driver();
    check(
        &d,
        Call::Init("quiet"),
        &[Reply::Status(200, QUIET)],
        &["GET http://s/api/v1/apps/quiet"],
        Ok(()),
        &["ready"],
    );
    check(
        &d,
        Call::Show,
        &[Reply::Status(201, ANON)],
        &["POST http://s/api/v1/apps/quiet/sessions {}"],
        Ok(()),
        &["open"],
    );
    assert_eq!(greeting(&d).as_deref(), Some("Hi there! How can we help?"));
    assert_eq!(d.user(), None, "anonymous is nobody");
    // An anonymous session is replaced (and revoked) when someone is identified.
    check(
        &d,
        Call::SetUser("Ada", Some("ada@example.com"), None),
        &[Reply::Status(201, ADA), Reply::Status(204, "")],
        &[
            r#"POST http://s/api/v1/apps/quiet/sessions {"user":{"name":"Ada","email":"ada@example.com"}}"#,
            "DELETE http://s/api/v1/sessions/current [tok-anon]",
        ],
        Ok(()),
        &["user:identified"],
    );
}

#[test]
fn calls_take_effect_in_call_order() {
    let d = driver();
    d.ports().reply(200, DEMO).reply(201, ADA);
    // setUser is made while init is still waiting for the server.
    let init = d.init(Config::new(Some("demo"), Some("http://s"), "").expect("valid"));
    let set_user = d.set_user(user_input("Ada", Some("ada@example.com"), None));
    let show = d.show();
    assert_eq!(show, Ok(()), "show() while init is in flight is remembered");
    let (init, user) = block_on(async { (init.await, set_user.await) });
    assert_eq!(init, Ok(()));
    assert_eq!(user.map(|u| u.name), Ok(Some("Ada Lovelace".into())));
    assert_eq!(
        d.ports().take_sent(),
        [
            GET_DEMO,
            &[
                POST_SESSIONS,
                r#" {"user":{"name":"Ada","email":"ada@example.com"}}"#
            ]
            .concat()
        ]
    );
    assert_eq!(d.ports().take_events(), ["ready", "user:identified"]);
    assert!(d.is_open());
    assert!(matches!(d.ports().events.borrow().as_slice(), []));
    let _ = Event::Cleared;
}
