//! The driver against in-memory ports: each check makes one API call with
//! the server's scripted answers and compares what was sent, what the call
//! returned, what was emitted and what is stored.

use std::rc::Rc;

use futures_executor::block_on;
use trustchat_protocol::{Availability, UserInput};

use super::*;
use crate::core::{Event, LineState, Panel, Survey};
use crate::platform::memory::Memory;
use crate::platform::{SocketEvent, Storage};

const DEMO: &str = r#"{"id":"demo","name":"Demo Shop","onboarding":true}"#;
const QUIET: &str = r#"{"id":"quiet","name":"Quiet","onboarding":false}"#;
const ADA: &str = r#"{"session_token":"tok-ada","customer":{"id":"c1","name":"Ada Lovelace","first_name":"Ada","email":"ada@example.com","phone":null},"trusted":false,"greeting":"Hi Ada!"}"#;
const ADA_CURRENT: &str = r#"{"customer":{"id":"c1","name":"Ada Lovelace","first_name":"Ada","email":"ada@example.com","phone":null},"trusted":false,"greeting":"Hi Ada!"}"#;
const ADA_TRUSTED: &str = r#"{"session_token":"tok-jwt","customer":{"id":"c1","name":"Ada Lovelace","first_name":"Ada","email":"ada@example.com","phone":null},"trusted":true,"trusted_until":1700000600,"greeting":"Hi Ada!"}"#;
/// Ada's session upgraded by a JWT: the same session, so no token.
const ADA_UPGRADED: &str = r#"{"customer":{"id":"c1","name":"Ada Lovelace","first_name":"Ada","email":"ada@example.com","phone":null},"trusted":true,"trusted_until":1700000600,"greeting":"Hi Ada!"}"#;
/// The same, after a refresh with a fresh token: trusted ten minutes longer.
const ADA_REFRESHED: &str = r#"{"customer":{"id":"c1","name":"Ada Lovelace","first_name":"Ada","email":"ada@example.com","phone":null},"trusted":true,"trusted_until":1700001200,"greeting":"Hi Ada!"}"#;
const GRACE_TRUSTED: &str = r#"{"session_token":"tok-grace","customer":{"id":"c4","name":"Grace Hopper","first_name":"Grace","email":"grace@example.com","phone":null},"trusted":true,"trusted_until":1700000600,"greeting":"Hi Grace!"}"#;
/// The anonymous customer of ANON, who identified themselves: same session.
const ANON_NAMED: &str = r#"{"customer":{"id":"c3","name":"Ada","first_name":"Ada","email":"ada@example.com","phone":null},"trusted":false,"greeting":"Hi Ada!"}"#;
const REVOKED: &str = r#"{"error":{"code":"unauthorized","message":"this session was revoked"}}"#;
/// The clock of these tests (Unix ms): ADA_TRUSTED's trust ends 600 s on.
const NOW: i64 = 1_700_000_000_000;
const BOB: &str = r#"{"session_token":"tok-bob","customer":{"id":"c2","name":"Bob","first_name":"Bob","email":null,"phone":"+14155550100"},"trusted":false,"greeting":"Hi Bob!"}"#;
const ANON: &str = r#"{"session_token":"tok-anon","customer":{"id":"c3","name":null,"first_name":null,"email":null,"phone":null},"trusted":false,"greeting":"Hi there! How can we help?"}"#;
const EXPIRED: &str = r#"{"error":{"code":"invalid_token","message":"the token expired at 2024-01-01T00:00:00Z","reason":"token_expired"}}"#;
const BAD_SIG: &str = r#"{"error":{"code":"invalid_token","message":"the token's signature does not match","reason":"bad_signature"}}"#;
const NO_APP: &str = r#"{"error":{"code":"unknown_app","message":"no app has the id nope"}}"#;

/// One API call.
enum Call<'a> {
    Init(&'a str),
    /// `init` with a `fetchJwt`.
    InitFetchingJwt(&'a str),
    /// The trust timer fires.
    Timer,
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
    let memory = Memory::default();
    memory.now.set(NOW);
    Driver::new(memory)
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
    call: Call<'_>,
    replies: &[Reply<'_>],
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
        Call::InitFetchingJwt(app_id) => {
            let config = Config::new(Some(app_id), Some("http://s"), "").expect("valid config");
            block_on(d.init(Config {
                fetch_jwt: true,
                ..config
            }))
        }
        Call::Timer => {
            d.timer_fired();
            Ok(())
        }
        Call::SetUser(name, email, phone) => {
            block_on(d.set_user(user_input(name, email, phone))).map(drop)
        }
        Call::SetJwt(token) => block_on(d.set_jwt(token.into())).map(drop),
        Call::Clear => block_on(d.clear_user()),
        Call::Submit(name, email, phone) => {
            block_on(d.submit_form(user_input(name, Some(email), Some(phone)), [false; 2]));
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
        Some(Panel::Chat { greeting, .. }) => greeting,
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
fn the_server_judges_an_emails_form_and_the_form_shows_it_under_the_field() {
    let d = driver();
    check(
        &d,
        Call::Init("demo"),
        &[Reply::Status(200, DEMO)],
        &[GET_DEMO],
        Ok(()),
        &["ready"],
    );
    let refused = r#"{"error":{"code":"invalid_email","message":"email address must look like name@example.com","field":"user.email"}}"#;
    let sent =
        [r#"POST http://s/api/v1/apps/demo/sessions {"user":{"name":"Ada","email":"nope"}}"#];
    check(
        &d,
        Call::SetUser("Ada", Some("nope"), None),
        &[Reply::Status(422, refused)],
        &sent,
        Err(Code::InvalidArgument),
        &[],
    );
    check(&d, Call::Show, &[], &[], Ok(()), &["open"]);
    check(
        &d,
        Call::Submit("Ada", "nope", ""),
        &[Reply::Status(422, refused)],
        &sent,
        Ok(()),
        &[],
    );
    let view = d.ports().view.borrow().clone().expect("rendered");
    let Panel::Onboarding { errors, busy } = view.panel else {
        panic!("form expected, got {view:?}")
    };
    assert_eq!(errors.email.as_deref(), Some("bad_email"));
    assert!(!busy);
    assert_eq!(view.alert, None, "said under the field, not as an alert");
    assert_eq!(
        d.ports().focus.borrow().last(),
        Some(&crate::core::Focus::Field("email"))
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
            // As given: the server normalizes.
            r#"POST http://s/api/v1/apps/demo/sessions {"user":{"name":" Ada  Lovelace ","email":"ADA@example.com"}}"#,
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
    // A different identity changes the session's identity; the server
    // answers with a new session (and revoked the old token).
    check(
        &d,
        Call::SetUser("Bob", None, Some("+1 415 555 0100")),
        &[Reply::Status(200, BOB)],
        &[
            r#"POST http://s/api/v1/sessions/current/identity [tok-ada] {"user":{"name":"Bob","phone":"+1 415 555 0100"}}"#,
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
    check(
        &d,
        Call::SetJwt("h.p.s"),
        &[Reply::Status(201, ADA_TRUSTED)],
        &sent,
        Ok(()),
        &["user:identified", "user:trusted"],
    );
    assert_eq!(d.user().map(|u| u.trusted), Some(true));
    assert!(
        stored(&d).iter().all(|entry| !entry.contains("h.p.s")),
        "never stored"
    );
}

/// A driver after `init` of `demo`, with or without a `fetchJwt`.
fn ready(fetch_jwt: bool) -> Rc<Driver<Memory>> {
    let d = driver();
    let call = if fetch_jwt {
        Call::InitFetchingJwt("demo")
    } else {
        Call::Init("demo")
    };
    check(
        &d,
        call,
        &[Reply::Status(200, DEMO)],
        &[GET_DEMO],
        Ok(()),
        &["ready"],
    );
    d
}

const IDENTITY: &str = "POST http://s/api/v1/sessions/current/identity";

/// What the panel shows of the trust: the badge, and the "no longer
/// verified" notice.
fn trust_shown(d: &Rc<Driver<Memory>>) -> (Option<String>, bool) {
    let view = d.ports().view.borrow().clone().expect("rendered");
    (view.verified, view.unverified)
}

fn no_jwt_stored(d: &Rc<Driver<Memory>>) {
    for entry in stored(d) {
        assert!(
            !entry.contains("h.p.s") && !entry.contains("fresh.jwt"),
            "{entry}"
        );
    }
}

#[test]
fn set_jwt_upgrades_the_current_session() {
    // The same person logs in mid-chat: same session, same customer, now
    // trusted; the token is kept.
    let d = ready(false);
    check(
        &d,
        Call::SetUser("Ada", Some("ada@example.com"), None),
        &[Reply::Status(201, ADA)],
        &[[
            POST_SESSIONS,
            r#" {"user":{"name":"Ada","email":"ada@example.com"}}"#,
        ]
        .concat()
        .as_str()],
        Ok(()),
        &["user:identified"],
    );
    check(
        &d,
        Call::SetJwt("h.p.s"),
        &[Reply::Status(200, ADA_UPGRADED)],
        &[[IDENTITY, r#" [tok-ada] {"jwt":"h.p.s"}"#]
            .concat()
            .as_str()],
        Ok(()),
        &["user:identified", "user:trusted"],
    );
    assert_eq!(
        d.user().map(|u| (u.id, u.trusted)),
        Some(("c1".into(), true))
    );
    assert!(stored(&d)[0].contains(r#""session_token":"tok-ada""#));
    assert_eq!(trust_shown(&d), (Some("Ada".into()), false));
    assert_eq!(d.ports().timer.get(), Some(570_000), "refresh 30 s early");
    no_jwt_stored(&d);
    // A token for somebody else: a new session (the server revoked the old
    // token), whose token replaces the stored one.
    check(
        &d,
        Call::SetJwt("h.p.s"),
        &[Reply::Status(200, GRACE_TRUSTED)],
        &[[IDENTITY, r#" [tok-ada] {"jwt":"h.p.s"}"#]
            .concat()
            .as_str()],
        Ok(()),
        &["user:identified", "user:trusted"],
    );
    assert_eq!(d.user().map(|u| u.id), Some("c4".into()));
    assert!(stored(&d)[0].contains(r#""session_token":"tok-grace""#));
    assert_eq!(trust_shown(&d), (Some("Grace".into()), false));
    // A refused token leaves the session as it was.
    check(
        &d,
        Call::SetJwt("h.p.s"),
        &[Reply::Status(401, EXPIRED)],
        &[[IDENTITY, r#" [tok-grace] {"jwt":"h.p.s"}"#]
            .concat()
            .as_str()],
        Err(Code::TokenExpired),
        &[],
    );
    assert_eq!(d.user().map(|u| u.id), Some("c4".into()));
    // setUser with another identity than the trusted customer's: the
    // identity endpoint decides (a different person, a new session).
    check(
        &d,
        Call::SetUser("Ada", Some("ada@example.com"), None),
        &[Reply::Status(200, ADA)],
        &[[
            IDENTITY,
            r#" [tok-grace] {"user":{"name":"Ada","email":"ada@example.com"}}"#,
        ]
        .concat()
        .as_str()],
        Ok(()),
        &["user:identified"],
    );
    assert_eq!(
        d.user().map(|u| (u.id, u.trusted)),
        Some(("c1".into(), false))
    );
    assert_eq!(d.ports().timer.get(), None, "no trust, no timer");
    assert_eq!(trust_shown(&d), (None, false));
}

#[test]
fn set_jwt_after_the_session_was_revoked_starts_afresh() {
    let d = ready(false);
    check(
        &d,
        Call::SetUser("Ada", Some("ada@example.com"), None),
        &[Reply::Status(201, ADA)],
        &[[
            POST_SESSIONS,
            r#" {"user":{"name":"Ada","email":"ada@example.com"}}"#,
        ]
        .concat()
        .as_str()],
        Ok(()),
        &["user:identified"],
    );
    check(
        &d,
        Call::SetJwt("h.p.s"),
        &[Reply::Status(401, REVOKED), Reply::Status(201, ADA_TRUSTED)],
        &[
            [IDENTITY, r#" [tok-ada] {"jwt":"h.p.s"}"#]
                .concat()
                .as_str(),
            r#"POST http://s/api/v1/apps/demo/sessions {"jwt":"h.p.s"}"#,
        ],
        Ok(()),
        &["user:identified", "user:trusted"],
    );
    assert!(stored(&d)[0].contains(r#""session_token":"tok-jwt""#));
}

#[test]
fn the_refresh_timer_fetches_a_fresh_token() {
    let d = ready(true);
    check(
        &d,
        Call::SetJwt("h.p.s"),
        &[Reply::Status(201, ADA_TRUSTED)],
        &[r#"POST http://s/api/v1/apps/demo/sessions {"jwt":"h.p.s"}"#],
        Ok(()),
        &["user:identified", "user:trusted"],
    );
    assert_eq!(d.ports().timer.get(), Some(570_000));
    d.ports().now.set(NOW + 570_000);
    d.ports()
        .fresh_tokens
        .borrow_mut()
        .push_back(Ok("fresh.jwt".into()));
    check(
        &d,
        Call::Timer,
        &[Reply::Status(200, ADA_REFRESHED)],
        &[[IDENTITY, r#" [tok-jwt] {"jwt":"fresh.jwt"}"#]
            .concat()
            .as_str()],
        Ok(()),
        &["token:expired", "user:trusted"],
    );
    assert_eq!(d.ports().fetches.get(), 1);
    assert_eq!(d.user().map(|u| u.trusted), Some(true));
    // Re-armed from the new end: 630 s left, fired 30 s early.
    assert_eq!(d.ports().timer.get(), Some(600_000));
    assert!(stored(&d)[0].contains(r#""trusted_until":1700001200"#));
    assert!(stored(&d)[0].contains(r#""session_token":"tok-jwt""#));
    no_jwt_stored(&d);
}

#[test]
fn without_a_fresh_token_the_trust_lapses_at_its_end() {
    let refused: &str = BAD_SIG;
    // (fetchJwt given?, what it answers, the server's replies, the request
    // sent, the code of the `error` event at the end)
    type Case<'a> = (
        bool,
        Option<Result<&'a str, Code>>,
        &'a [Reply<'a>],
        &'a [&'a str],
        Code,
    );
    let upgrade = [IDENTITY, r#" [tok-jwt] {"jwt":"fresh.jwt"}"#].concat();
    let cases: &[Case<'_>] = &[
        (false, None, &[], &[], Code::TokenExpired),
        (
            true,
            Some(Err(Code::TokenExpired)),
            &[],
            &[],
            Code::TokenExpired,
        ),
        (
            true,
            Some(Err(Code::InvalidArgument)),
            &[],
            &[],
            Code::InvalidArgument,
        ),
        (
            true,
            Some(Ok("fresh.jwt")),
            &[Reply::Status(401, refused)],
            &[upgrade.as_str()],
            Code::InvalidToken,
        ),
        (
            true,
            Some(Ok("fresh.jwt")),
            &[Reply::Unreachable],
            &[upgrade.as_str()],
            Code::Network,
        ),
    ];
    for (fetch_jwt, answer, replies, sent, code) in cases {
        let d = ready(*fetch_jwt);
        check(
            &d,
            Call::SetJwt("h.p.s"),
            &[Reply::Status(201, ADA_TRUSTED)],
            &[r#"POST http://s/api/v1/apps/demo/sessions {"jwt":"h.p.s"}"#],
            Ok(()),
            &["user:identified", "user:trusted"],
        );
        if let Some(answer) = answer {
            let answer = answer
                .map(String::from)
                .map_err(|code| Error::new(code, "fetchJwt failed: no login"));
            d.ports().fresh_tokens.borrow_mut().push_back(answer);
        }
        d.ports().now.set(NOW + 570_000);
        check(&d, Call::Timer, replies, sent, Ok(()), &["token:expired"]);
        assert_eq!(d.ports().fetches.get(), u32::from(*fetch_jwt));
        // Trusted until the end; the lapse timer fires then.
        assert_eq!(d.user().map(|u| u.trusted), Some(true));
        assert_eq!(d.ports().timer.get(), Some(30_000));
        // At the end: no longer trusted, the notice, and an `error` event
        // with the reason.
        d.ports().now.set(NOW + 600_000);
        d.timer_fired();
        let events = std::mem::take(&mut *d.ports().events.borrow_mut());
        assert!(
            matches!(events.as_slice(), [Event::Error(e)] if e.code == *code),
            "{code:?}: {events:?}"
        );
        assert_eq!(d.user().map(|u| u.trusted), Some(false), "{code:?}");
        assert_eq!(trust_shown(&d), (None, true));
        assert!(d.ports().take_sent().is_empty());
        // A later successful setJwt removes the notice.
        check(
            &d,
            Call::SetJwt("h.p.s"),
            &[Reply::Status(200, ADA_REFRESHED)],
            &[[IDENTITY, r#" [tok-jwt] {"jwt":"h.p.s"}"#]
                .concat()
                .as_str()],
            Ok(()),
            &["user:identified", "user:trusted"],
        );
        assert_eq!(trust_shown(&d), (Some("Ada".into()), false));
    }
}

#[test]
fn clear_user_cancels_the_trust_timer() {
    let d = ready(true);
    check(
        &d,
        Call::SetJwt("h.p.s"),
        &[Reply::Status(201, ADA_TRUSTED)],
        &[r#"POST http://s/api/v1/apps/demo/sessions {"jwt":"h.p.s"}"#],
        Ok(()),
        &["user:identified", "user:trusted"],
    );
    assert!(d.ports().timer.get().is_some());
    check(
        &d,
        Call::Clear,
        &[Reply::Status(204, "")],
        &["DELETE http://s/api/v1/sessions/current [tok-jwt]"],
        Ok(()),
        &["user:cleared"],
    );
    assert_eq!(d.ports().timer.get(), None);
    // A stray firing does nothing, and fetchJwt is not called.
    d.ports().now.set(NOW + 570_000);
    check(&d, Call::Timer, &[], &[], Ok(()), &[]);
    assert_eq!(d.ports().fetches.get(), 0);
}

#[test]
fn a_refresh_that_returns_after_clear_user_is_dropped() {
    let d = ready(true);
    check(
        &d,
        Call::SetJwt("h.p.s"),
        &[Reply::Status(201, ADA_TRUSTED)],
        &[r#"POST http://s/api/v1/apps/demo/sessions {"jwt":"h.p.s"}"#],
        Ok(()),
        &["user:identified", "user:trusted"],
    );
    d.ports()
        .fresh_tokens
        .borrow_mut()
        .push_back(Ok("fresh.jwt".into()));
    d.ports().now.set(NOW + 570_000);
    d.timer_fired();
    // clearUser runs before the refresh task gets its turn.
    d.ports().reply(204, "");
    block_on(d.clear_user()).expect("cleared");
    d.ports().run_tasks();
    assert_eq!(
        d.ports().take_sent(),
        ["DELETE http://s/api/v1/sessions/current [tok-jwt]"],
        "no upgrade after clearUser"
    );
    assert_eq!(d.ports().take_events(), ["token:expired", "user:cleared"]);
    assert_eq!(d.user(), None);
    assert!(stored(&d).is_empty());
}

#[test]
fn init_shows_trust_that_lapsed_while_away() {
    // Stored trusted until 1700000600; now it is past, and the server says
    // the session is no longer trusted.
    let d = driver();
    d.ports().set("trustchat:demo:session", ADA_TRUSTED);
    d.ports().now.set(NOW + 700_000);
    let current = r#"{"customer":{"id":"c1","name":"Ada Lovelace","first_name":"Ada","email":"ada@example.com","phone":null},"trusted":false,"greeting":"Hi Ada!"}"#;
    check(
        &d,
        Call::Init("demo"),
        &[Reply::Status(200, DEMO), Reply::Status(200, current)],
        &[GET_DEMO, "GET http://s/api/v1/sessions/current [tok-jwt]"],
        Ok(()),
        &["ready"],
    );
    assert_eq!(d.user().map(|u| u.trusted), Some(false));
    assert_eq!(trust_shown(&d), (None, true));
    assert_eq!(d.ports().timer.get(), None);
    // Restored while still trusted: the timer is armed from the stored end.
    let d = driver();
    d.ports().set("trustchat:demo:session", ADA_TRUSTED);
    check(
        &d,
        Call::Init("demo"),
        &[Reply::Status(200, DEMO), Reply::Status(200, ADA_UPGRADED)],
        &[GET_DEMO, "GET http://s/api/v1/sessions/current [tok-jwt]"],
        Ok(()),
        &["ready"],
    );
    assert_eq!(trust_shown(&d), (Some("Ada".into()), false));
    assert_eq!(d.ports().timer.get(), Some(570_000));
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
    // Only what needs no rules is checked before a request: the email's
    // form is the server's to judge.
    assert_eq!(errors.name.as_deref(), Some("no_name"));
    assert_eq!(errors.email, None);
    assert_eq!(
        d.ports().focus.borrow().last(),
        Some(&crate::core::Focus::Field("name"))
    );
    let server_down: &[Reply<'_>] = &[Reply::Unreachable];
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
        .is_some_and(|a| a == "error_network"));
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
    // The anonymous customer identifies themselves: the chat continues in
    // the same session, whose token stays.
    check(
        &d,
        Call::SetUser("Ada", Some("ada@example.com"), None),
        &[Reply::Status(200, ANON_NAMED)],
        &[
            r#"POST http://s/api/v1/sessions/current/identity [tok-anon] {"user":{"name":"Ada","email":"ada@example.com"}}"#,
        ],
        Ok(()),
        &["user:identified"],
    );
    assert_eq!(d.user().map(|u| u.id), Some("c3".into()), "same customer");
    assert_eq!(greeting(&d).as_deref(), Some("Hi Ada!"));
    assert!(stored(&d)[0].contains(r#""session_token":"tok-anon""#));
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

// ---- messaging ------------------------------------------------------------

const WS: &str = "connect ws://s/api/v1/ws";
const AUTH: &str = r#"send {"type":"auth","session_token":"tok-ada"}"#;
const PENDING_KEY: &str = "trustchat:demo:pending";

/// A customer message of `c1` as the server sends it.
fn wire_message(seq: i64, client_id: Option<&str>) -> String {
    let client = client_id
        .map(|c| [r#","client_id":""#, c, "\""].concat())
        .unwrap_or_default();
    let author = if client_id.is_some() {
        r#""author":"customer""#
    } else {
        r#""author":"agent","author_name":"Grace""#
    };
    [
        r#"{"id":"m"#,
        &seq.to_string(),
        r#"","conversation_id":"c1","seq":"#,
        &seq.to_string(),
        ",",
        author,
        r#","kind":"text","body":"b","trusted":false,"created_at":1700000000000"#,
        &client,
        "}",
    ]
    .concat()
}

fn frame(d: &Rc<Driver<Memory>>, text: &str) {
    d.socket_event(SocketEvent::Frame(text.into()));
}

/// Ada's stored session restored by `init`, the socket connected and
/// ready on `c1` (holding seq 1), the history fetched.
fn chatting(pending: Option<&str>) -> Rc<Driver<Memory>> {
    let d = driver();
    d.ports().set("trustchat:demo:session", ADA);
    if let Some(pending) = pending {
        d.ports().tab_set(PENDING_KEY, Some(pending));
    }
    check(
        &d,
        Call::Init("demo"),
        &[Reply::Status(200, DEMO), Reply::Status(200, ADA_CURRENT)],
        &[GET_DEMO, "GET http://s/api/v1/sessions/current [tok-ada]"],
        Ok(()),
        &["ready"],
    );
    assert_eq!(d.ports().take_socket(), [WS]);
    d.socket_event(SocketEvent::Opened);
    assert_eq!(d.ports().take_socket(), [AUTH]);
    d.ports().reply(
        200,
        &[
            r#"{"conversation_id":"c1","status":"open","messages":["#,
            &wire_message(1, None),
            "]}",
        ]
        .concat(),
    );
    frame(
        &d,
        r#"{"type":"ready","conversation_id":"c1","last_seq":1}"#,
    );
    d.ports().run_tasks();
    assert_eq!(
        d.ports().take_sent(),
        ["GET http://s/api/v1/messages?after=0 [tok-ada]"]
    );
    d
}

fn log(d: &Rc<Driver<Memory>>) -> Vec<String> {
    let view = d.ports().view.borrow().clone().expect("rendered");
    view.messages
        .iter()
        .map(|line| {
            let state = match line.state {
                LineState::Pending => "pending",
                LineState::Sent => "sent",
                LineState::Failed(_) => "failed",
            };
            [&line.key, " ", state].concat()
        })
        .collect()
}

#[test]
fn a_reload_resyncs_and_resends_the_pending_messages() {
    let d = chatting(Some(
        r#"[{"client_id":"cid-old","body":"hello","created_at":1699999999000}]"#,
    ));
    // Resent with the client id it was first sent with, and shown pending.
    assert_eq!(
        d.ports().take_socket(),
        [r#"send {"type":"send","client_id":"cid-old","body":"hello"}"#]
    );
    assert_eq!(d.ports().take_events(), Vec::<&str>::new());
    assert_eq!(log(&d), ["m1 sent", "cid-old pending"]);
    frame(
        &d,
        &[
            r#"{"type":"ack","client_id":"cid-old","message":"#,
            &wire_message(2, Some("cid-old")),
            "}",
        ]
        .concat(),
    );
    assert_eq!(d.ports().take_events(), ["message:sent"]);
    assert_eq!(log(&d), ["m1 sent", "cid-old sent"]);
    assert_eq!(d.ports().tab_get(PENDING_KEY), None, "nothing pending");
}

#[test]
fn the_composer_sends_over_the_socket_and_keeps_the_message_until_acked() {
    let d = chatting(None);
    d.send_message("  ".into());
    d.send_message("x".repeat(4_001));
    assert_eq!(
        d.ports().take_socket(),
        Vec::<String>::new(),
        "not sendable"
    );
    d.send_message("hi there".into());
    assert_eq!(
        d.ports().take_socket(),
        [r#"send {"type":"send","client_id":"cid-1","body":"hi there"}"#]
    );
    let pending: serde_json::Value =
        serde_json::from_str(&d.ports().tab_get(PENDING_KEY).expect("kept")).expect("JSON");
    assert_eq!(
        pending,
        serde_json::json!([{"client_id": "cid-1", "body": "hi there", "created_at": NOW}])
    );
    assert_eq!(log(&d), ["m1 sent", "cid-1 pending"]);
    // An agent answers before the ack: news. Then the ack.
    frame(
        &d,
        &[
            r#"{"type":"message","message":"#,
            &wire_message(2, None),
            "}",
        ]
        .concat(),
    );
    frame(
        &d,
        &[
            r#"{"type":"ack","client_id":"cid-1","message":"#,
            &wire_message(3, Some("cid-1")),
            "}",
        ]
        .concat(),
    );
    assert_eq!(
        d.ports().take_events(),
        ["message:received", "message:sent"]
    );
    assert_eq!(log(&d), ["m1 sent", "m2 sent", "cid-1 sent"]);
    assert_eq!(d.ports().tab_get(PENDING_KEY), None);
}

#[test]
fn frames_this_version_does_not_know_are_ignored() {
    let d = chatting(None);
    for text in [
        r#"{"type":"typing","who":"Grace"}"#,
        "not json",
        r#"{"type":"message"}"#,
        r#"{"type":"pong"}"#,
    ] {
        frame(&d, text);
    }
    assert_eq!(d.ports().take_events(), Vec::<&str>::new());
    assert_eq!(d.ports().take_socket(), Vec::<String>::new());
    assert_eq!(log(&d), ["m1 sent"]);
}

#[test]
fn clear_user_drops_the_socket_and_everything_pending() {
    let d = chatting(None);
    d.send_message("secret".into());
    d.ports().take_socket();
    check(
        &d,
        Call::Clear,
        &[Reply::Status(204, "")],
        &["DELETE http://s/api/v1/sessions/current [tok-ada]"],
        Ok(()),
        &["user:cleared"],
    );
    assert_eq!(d.ports().take_socket(), ["disconnect"]);
    assert_eq!(d.ports().tab_get(PENDING_KEY), None);
    assert!(stored(&d).is_empty());
    assert_eq!(log(&d), Vec::<String>::new());
    assert_eq!(
        d.ports().wake.get(),
        Some(60_000),
        "no timer left but the availability poll"
    );
}

#[test]
fn clear_user_in_another_tab_wipes_this_one() {
    let d = chatting(None);
    // Another tab stored a session: nothing to do.
    d.storage_changed();
    d.ports().run_tasks();
    assert_eq!(d.ports().take_events(), Vec::<&str>::new());
    // Another tab removed it.
    d.ports().remove("trustchat:demo:session");
    d.storage_changed();
    d.ports().run_tasks();
    assert_eq!(d.ports().take_events(), ["user:cleared"]);
    assert_eq!(d.ports().take_socket(), ["disconnect"]);
    assert_eq!(
        d.ports().take_sent(),
        Vec::<String>::new(),
        "revoked already"
    );
    assert_eq!(d.user(), None);
}

#[test]
fn a_revoked_session_is_wiped_when_the_server_says_so() {
    let d = chatting(Some(
        r#"[{"client_id":"cid-old","body":"hello","created_at":1699999999000}]"#,
    ));
    d.ports().take_socket();
    d.socket_event(SocketEvent::Closed(4001));
    d.ports().run_tasks();
    assert_eq!(d.ports().take_events(), ["user:cleared"]);
    assert!(stored(&d).is_empty());
    assert_eq!(d.ports().tab_get(PENDING_KEY), None);
    assert_eq!(d.ports().take_sent(), Vec::<String>::new());
    assert_eq!(d.ports().take_socket(), ["disconnect"], "and no reconnect");
    assert_eq!(
        d.ports().wake.get(),
        Some(60_000),
        "only the availability poll"
    );
}

#[test]
fn without_a_socket_a_message_is_posted_after_ten_seconds() {
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
    d.ports().random.set(0.5);
    d.socket_event(SocketEvent::Closed(1006));
    d.send_message("hi".into());
    assert_eq!(d.ports().wake.get(), Some(250), "reconnect first");
    d.ports().now.set(NOW + 250);
    d.wake();
    assert_eq!(d.ports().take_socket(), [WS, WS]);
    assert_eq!(d.ports().wake.get(), Some(9_750), "then the fallback");
    d.ports().now.set(NOW + 10_000);
    d.ports().reply(201, &wire_message(1, Some("cid-1")));
    d.wake();
    d.ports().run_tasks();
    assert_eq!(
        d.ports().take_sent(),
        [r#"POST http://s/api/v1/messages [tok-ada] {"client_id":"cid-1","body":"hi"}"#]
    );
    assert_eq!(
        d.ports().take_events(),
        ["conversation:started", "message:sent"]
    );
    assert_eq!(log(&d), ["cid-1 sent"]);
    // A refusal fails the message in place; 429 holds it.
    d.send_message("again".into());
    d.ports().now.set(NOW + 20_000);
    d.ports().reply(
        422,
        r#"{"error":{"code":"message_too_long","message":"the message is longer than 4000 characters"}}"#,
    );
    d.wake();
    d.ports().run_tasks();
    assert_eq!(log(&d), ["cid-1 sent", "cid-2 failed"]);
}

#[test]
fn pending_messages_without_a_session_are_dropped() {
    let d = driver();
    d.ports().tab_set(
        PENDING_KEY,
        Some(r#"[{"client_id":"x","body":"b","created_at":1}]"#),
    );
    check(
        &d,
        Call::Init("demo"),
        &[Reply::Status(200, DEMO)],
        &[GET_DEMO],
        Ok(()),
        &["ready"],
    );
    assert_eq!(d.ports().tab_get(PENDING_KEY), None);
    assert_eq!(d.ports().take_socket(), Vec::<String>::new());
}

#[test]
fn a_reload_while_the_server_is_down_keeps_the_chat() {
    let d = driver();
    d.ports().set("trustchat:demo:session", ADA);
    d.ports().tab_set(
        PENDING_KEY,
        Some(r#"[{"client_id":"cid-old","body":"hello","created_at":1699999999000}]"#),
    );
    check(
        &d,
        Call::Init("demo"),
        &[Reply::Unreachable, Reply::Unreachable],
        &[GET_DEMO, "GET http://s/api/v1/sessions/current [tok-ada]"],
        Ok(()),
        &["ready"],
    );
    assert_eq!(d.user().map(|u| u.id), Some("c1".into()));
    assert_eq!(log(&d), ["cid-old pending"]);
    assert_eq!(d.ports().take_socket(), [WS]);
    // The server is back: the app's description comes with the first frame.
    d.socket_event(SocketEvent::Opened);
    d.ports().reply(200, DEMO);
    d.ports()
        .reply(200, r#"{"conversation_id":null,"messages":[]}"#);
    frame(
        &d,
        r#"{"type":"ready","conversation_id":null,"last_seq":0}"#,
    );
    d.ports().run_tasks();
    assert_eq!(
        d.ports().take_sent(),
        [GET_DEMO, "GET http://s/api/v1/messages?after=0 [tok-ada]"]
    );
    let title = d.ports().view.borrow().as_ref().map(|v| v.title.clone());
    assert_eq!(title.as_deref(), Some("Demo Shop"));
    // Without a stored session, an unreachable server fails `init`.
    let d = driver();
    check(
        &d,
        Call::Init("demo"),
        &[Reply::Unreachable],
        &[GET_DEMO],
        Err(Code::Network),
        &[],
    );
}

#[test]
fn a_session_revoked_by_someone_elses_login_in_another_tab_keeps_theirs() {
    let d = chatting(None);
    d.ports().take_socket();
    // Another tab logged Bob in: the server revoked Ada's session.
    d.ports().set("trustchat:demo:session", BOB);
    d.socket_event(SocketEvent::Closed(4001));
    d.ports().run_tasks();
    assert_eq!(d.ports().take_events(), ["user:cleared"]);
    assert_eq!(d.user(), None);
    assert_eq!(stored(&d), [["trustchat:demo:session=", BOB].concat()]);
}

// ---- "How did we do?" -----------------------------------------------------

const CLOSED: &str = r#"{"type":"conversation","conversation_id":"c1","status":"closed"}"#;
const RATE_URL: &str = "POST http://s/api/v1/conversations/c1/rating [tok-ada]";

/// The survey shown, and why the last rating was not sent.
fn survey(d: &Rc<Driver<Memory>>) -> (Option<Survey>, Option<String>) {
    let view = d.ports().view.borrow().clone().expect("rendered");
    (view.survey, view.survey_error)
}

fn asking(error: Option<&str>) -> (Option<Survey>, Option<String>) {
    (Some(Survey::Ask), error.map(Into::into))
}

#[test]
fn an_agent_closing_the_conversation_shows_the_survey() {
    let d = chatting(None);
    assert_eq!(survey(&d), (None, None));
    frame(&d, CLOSED);
    assert!(d.ports().view.borrow().as_ref().is_some_and(|v| v.closed));
    assert_eq!(survey(&d), asking(None));
    // Asked, with no request; the page hears that it ended.
    d.ports().run_tasks();
    assert_eq!(d.ports().take_sent(), Vec::<String>::new());
    assert_eq!(d.ports().take_events(), ["conversation:ended"]);
}

#[test]
fn the_rating_is_posted_with_the_session_token_and_thanked() {
    let d = chatting(None);
    frame(&d, CLOSED);
    d.ports().reply(
        200,
        r#"{"rating":4,"comment":"Quick and kind","rated_at":1700000001000}"#,
    );
    d.rate(4, " Quick and kind ".into());
    assert_eq!(survey(&d), (Some(Survey::Sending), None));
    d.ports().run_tasks();
    assert_eq!(
        d.ports().take_sent(),
        [[RATE_URL, r#" {"rating":4,"comment":"Quick and kind"}"#].concat()]
    );
    assert_eq!(survey(&d), (Some(Survey::Thanks), None));
    assert_eq!(d.ports().take_events(), ["conversation:ended"]);
    // No comment: none sent.
    let d = chatting(None);
    frame(&d, CLOSED);
    d.ports()
        .reply(200, r#"{"rating":2,"comment":null,"rated_at":1}"#);
    d.rate(2, String::new());
    d.ports().run_tasks();
    assert_eq!(
        d.ports().take_sent(),
        [[RATE_URL, r#" {"rating":2}"#].concat()]
    );
    assert_eq!(survey(&d), (Some(Survey::Thanks), None));
}

#[test]
fn a_failed_rating_says_why_and_keeps_the_survey() {
    let d = chatting(None);
    frame(&d, CLOSED);
    // Nothing chosen: nothing sent.
    d.rate(0, "hm".into());
    d.ports().run_tasks();
    assert_eq!(d.ports().take_sent(), Vec::<String>::new());
    assert_eq!(survey(&d), asking(None));
    // The server refuses (409): its reason, mapped as every error is.
    d.ports().reply(
        409,
        r#"{"error":{"code":"conversation_open","message":"the conversation is still open"}}"#,
    );
    d.rate(5, "great".into());
    d.ports().run_tasks();
    assert_eq!(d.ports().take_sent().len(), 1);
    assert_eq!(
        survey(&d),
        // The customer reads why in their language: a catalog key.
        asking(Some("error_server_error"))
    );
    // Said in place, as for a message that was not sent: no `error` event.
    assert_eq!(d.ports().take_events(), ["conversation:ended"]);
    // The server cannot be reached: the network error, and a retry works.
    d.ports().unreachable();
    d.rate(5, "great".into());
    d.ports().run_tasks();
    assert_eq!(d.ports().take_sent().len(), 1);
    assert_eq!(survey(&d), asking(Some("error_network")));
    d.ports()
        .reply(200, r#"{"rating":5,"comment":"great","rated_at":1}"#);
    d.rate(5, "great".into());
    d.ports().run_tasks();
    assert_eq!(
        d.ports().take_sent(),
        [[RATE_URL, r#" {"rating":5,"comment":"great"}"#].concat()]
    );
    assert_eq!(survey(&d), (Some(Survey::Thanks), None));
}

#[test]
fn a_message_after_the_close_still_goes_and_starts_a_new_conversation() {
    let d = chatting(None);
    frame(&d, CLOSED);
    assert_eq!(survey(&d), asking(None));
    d.send_message("one more question".into());
    assert_eq!(
        d.ports().take_socket(),
        [r#"send {"type":"send","client_id":"cid-1","body":"one more question"}"#]
    );
    // The server opens conversation c2 for it.
    let ack = [
        r#"{"type":"ack","client_id":"cid-1","message":"#,
        &wire_message(1, Some("cid-1")).replace(r#""c1""#, r#""c2""#),
        "}",
    ]
    .concat();
    frame(&d, &ack);
    assert_eq!(
        d.ports().take_events(),
        ["conversation:ended", "conversation:started", "message:sent"]
    );
    let view = d.ports().view.borrow().clone().expect("rendered");
    assert!(!view.closed);
    assert_eq!((view.survey, view.survey_error), (None, None));
    assert_eq!(log(&d), ["m1 sent", "cid-1 sent"]);
}

// ---- unread, visibility, availability ---------------------------------------

/// An agent message `seq` of `c1`, pushed.
fn agent_says(d: &Rc<Driver<Memory>>, seq: i64) {
    frame(
        d,
        &[
            r#"{"type":"message","message":"#,
            &wire_message(seq, None),
            "}",
        ]
        .concat(),
    );
}

#[test]
fn unread_counts_while_the_panel_is_closed_or_the_page_hidden() {
    let d = chatting(None);
    // The history's agent message was never read.
    assert_eq!(d.ports().take_unread(), [1]);
    assert_eq!(d.unread(), 1);
    agent_says(&d, 2);
    assert_eq!(d.ports().take_unread(), [2]);
    let view = d.ports().view.borrow().clone().expect("rendered");
    assert_eq!(view.unread, 2, "the badge");
    // Opened on a visible page: read, and the server hears it.
    d.show().expect("open");
    assert_eq!(d.ports().take_unread(), [0]);
    assert!(d
        .ports()
        .take_socket()
        .contains(&r#"send {"type":"read","seq":2}"#.to_owned()));
    agent_says(&d, 3);
    assert_eq!(
        d.ports().take_unread(),
        Vec::<usize>::new(),
        "read as it came"
    );
    // The page hidden: unread even with the panel open.
    d.visible(false);
    agent_says(&d, 4);
    assert_eq!(d.ports().take_unread(), [1]);
    assert!(!d
        .ports()
        .take_socket()
        .iter()
        .any(|s| s.contains(r#""type":"read","seq":4"#)));
    d.visible(true);
    assert_eq!(d.ports().take_unread(), [0]);
    // Closed: unread again; `clearUser` forgets it all.
    d.close().expect("close");
    agent_says(&d, 5);
    assert_eq!(d.ports().take_unread(), [1]);
    check(
        &d,
        Call::Clear,
        &[Reply::Status(204, "")],
        &["DELETE http://s/api/v1/sessions/current [tok-ada]"],
        Ok(()),
        &["user:cleared"],
    );
    assert_eq!(d.ports().take_unread(), [0]);
}

#[test]
fn availability_comes_from_the_app_its_frames_and_a_poll_while_no_socket_is_ready() {
    let d = driver();
    assert_eq!(d.availability(), None, "before init");
    check(
        &d,
        Call::Init("demo"),
        &[Reply::Status(200, DEMO)],
        &[GET_DEMO],
        Ok(()),
        &["ready"],
    );
    assert_eq!(d.availability(), Some(Availability::Available));
    // No socket: asked again a minute later, and a change is news.
    assert_eq!(d.ports().wake.get(), Some(60_000));
    d.ports().now.set(NOW + 60_000);
    d.ports().reply(
        200,
        r#"{"id":"demo","name":"Demo Shop","onboarding":true,"availability":"closed","next_open_at":1700003600000}"#,
    );
    d.wake();
    d.ports().run_tasks();
    assert_eq!(d.ports().take_sent(), [GET_DEMO]);
    assert_eq!(d.ports().take_events(), ["availability:change"]);
    assert_eq!(d.availability(), Some(Availability::Closed));
    let view = d.ports().view.borrow().clone().expect("rendered");
    assert_eq!(
        (view.availability, view.next_open_at),
        (Availability::Closed, Some(1_700_003_600_000))
    );
    assert_eq!(
        d.ports().wake.get(),
        Some(60_000),
        "and again a minute later"
    );
    // The same answer is no news.
    d.ports().now.set(NOW + 120_000);
    d.ports().reply(
        200,
        r#"{"id":"demo","name":"Demo Shop","onboarding":true,"availability":"closed","next_open_at":1700003600000}"#,
    );
    d.wake();
    d.ports().run_tasks();
    assert_eq!(d.ports().take_sent(), [GET_DEMO]);
    assert_eq!(d.ports().take_events(), Vec::<&str>::new());
}

#[test]
fn a_ready_socket_pushes_the_availability_and_stops_the_poll() {
    let d = chatting(None);
    frame(&d, r#"{"type":"availability","availability":"busy"}"#);
    assert_eq!(d.ports().take_events(), ["availability:change"]);
    assert_eq!(d.availability(), Some(Availability::Busy));
    // Socket ready: only the keep-alive wakes the chat, no poll.
    assert_eq!(d.ports().wake.get(), Some(25_000));
    d.ports().now.set(NOW + 60_000);
    d.wake();
    d.ports().run_tasks();
    assert!(!d.ports().take_sent().iter().any(|r| r == GET_DEMO));
}
