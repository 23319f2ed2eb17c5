//! Data-driven tests of the state machine: each case is a run of inputs and
//! the phase, view and effects expected after it.

use trustchat_protocol::{AppInfo, Customer, SessionResponse, UserInput};

use super::*;

/// The clock of these tests, in Unix ms, and when Ada's trust ends (600 s on).
const NOW: i64 = 1_700_000_000_000;
const UNTIL: i64 = NOW / 1000 + 600;

fn config(onboarding: Option<bool>) -> Config {
    Config {
        onboarding,
        ..Config::new(Some("demo"), Some("http://s"), "").expect("valid")
    }
}

fn app(onboarding: bool) -> AppInfo {
    AppInfo {
        id: "demo".into(),
        name: "Demo Shop".into(),
        onboarding,
        login_url: None,
        availability: Default::default(),
        next_open_at: None,
    }
}

fn init(app_onboarding: bool, config_onboarding: Option<bool>) -> Input {
    Input::Initialized {
        config: config(config_onboarding),
        app: app(app_onboarding),
        session: None,
        now: NOW,
        pending: vec![],
    }
}

fn ada(trusted: bool) -> SessionResponse {
    SessionResponse {
        session_token: Some("tok-ada".into()),
        customer: Customer {
            id: "c-ada".into(),
            name: Some("Ada Lovelace".into()),
            first_name: Some("Ada".into()),
            email: Some("ada@example.com".into()),
            phone: None,
        },
        trusted,
        trusted_until: trusted.then_some(UNTIL),
        greeting: "Hi Ada!".into(),
        greeting_link: None,
    }
}

fn anonymous() -> SessionResponse {
    SessionResponse {
        session_token: Some("tok-anon".into()),
        customer: Customer {
            id: "c-anon".into(),
            name: None,
            first_name: None,
            email: None,
            phone: None,
        },
        trusted: false,
        trusted_until: None,
        greeting: "Hi there! How can we help?".into(),
        greeting_link: None,
    }
}

fn user(session: &SessionResponse) -> User {
    User::of(session).expect("identified")
}

/// Runs `inputs` on a fresh widget; checks the phase after all of them, the
/// panel content, and the effects of the last input.
fn check(inputs: Vec<Input>, phase: Phase, panel: Panel, last_effects: Vec<Effect>) {
    let mut widget = Widget::new();
    let mut effects = vec![];
    for input in inputs.iter().cloned() {
        effects = widget.step(input);
    }
    assert_eq!(widget.phase(), phase, "phase after {inputs:?}");
    assert_eq!(widget.view().panel, panel, "panel after {inputs:?}");
    assert_eq!(effects, last_effects, "effects of the last of {inputs:?}");
}

fn form() -> Panel {
    Panel::Onboarding {
        errors: FieldErrors::default(),
        busy: false,
    }
}

fn chat(greeting: Option<&str>) -> Panel {
    Panel::Chat {
        greeting: greeting.map(Into::into),
        greeting_link: None,
    }
}

#[test]
fn the_greeting_links_only_the_apps_own_login_url() {
    const LOGIN: &str = "https://shop.example/login";
    let greeting = "Hi there! Log in at https://shop.example/login to chat as yourself.";
    let check = |link: Option<&str>, login_url: Option<&str>, expected: Option<usize>| {
        let found = GreetingLink::find(greeting, link, login_url);
        assert_eq!(
            found.as_ref().map(|l| l.at),
            expected,
            "{link:?} {login_url:?}"
        );
        if let Some(found) = found {
            assert_eq!(
                greeting.get(found.at..found.at + found.url.len()),
                Some(LOGIN)
            );
        }
    };
    check(Some(LOGIN), Some(LOGIN), Some(20));
    // Not the app's login URL, no login URL, no link, a link the text lacks.
    check(Some("https://evil.example/login"), Some(LOGIN), None);
    check(Some(LOGIN), None, None);
    check(None, Some(LOGIN), None);
    check(
        Some("https://shop.example/other"),
        Some("https://shop.example/other"),
        None,
    );
    check(Some(""), Some(""), None);
}

use Effect::{Emit, Render, StartAnonymousSession};

#[test]
fn initialization() {
    check(vec![], Phase::NotInitialized, chat(None), vec![]);
    check(
        vec![init(true, None)],
        Phase::Anonymous,
        form(),
        // The availability is asked again in a minute while no socket is
        // ready.
        vec![
            Render,
            Emit(Event::Ready(None)),
            Effect::Wake(Some(NOW + POLL_MS)),
        ],
    );
    // A restored session is identified at once, and `ready` says who.
    check(
        vec![Input::Initialized {
            config: config(None),
            app: app(true),
            session: Some(ada(false)),
            now: NOW,
            pending: vec![],
        }],
        Phase::Identified,
        chat(Some("Hi Ada!")),
        vec![
            Render,
            Effect::Connect,
            Emit(Event::Ready(Some(user(&ada(false))))),
            Effect::Wake(Some(NOW + POLL_MS)),
        ],
    );
    // `show()` while `init` is in flight is remembered, and applied.
    check(
        vec![Input::Show, init(false, None)],
        Phase::Anonymous,
        chat(None),
        vec![
            Render,
            Effect::Focus(Focus::Panel),
            StartAnonymousSession,
            Emit(Event::Ready(None)),
            Effect::Wake(Some(NOW + POLL_MS)),
        ],
    );
    check(
        vec![Input::Show, Input::InitFailed],
        Phase::NotInitialized,
        chat(None),
        vec![],
    );
}

#[test]
fn opening_and_closing() {
    check(
        vec![init(true, None), Input::Show],
        Phase::Onboarding,
        form(),
        vec![Render, Emit(Event::Open), Effect::Focus(Focus::Panel)],
    );
    check(
        vec![init(true, None), Input::Show, Input::Show],
        Phase::Onboarding,
        form(),
        vec![],
    );
    check(
        vec![init(true, None), Input::Show, Input::Close],
        Phase::Anonymous,
        form(),
        vec![Render, Emit(Event::Close), Effect::Focus(Focus::Launcher)],
    );
    check(
        vec![init(true, None), Input::Close],
        Phase::Anonymous,
        form(),
        vec![],
    );
    // Onboarding off: the chat view at once, and an anonymous session.
    check(
        vec![init(false, None), Input::Show],
        Phase::Anonymous,
        chat(None),
        vec![
            Render,
            Emit(Event::Open),
            Effect::Focus(Focus::Panel),
            StartAnonymousSession,
        ],
    );
    check(
        vec![
            init(false, None),
            Input::Show,
            Input::SessionStarted(anonymous()),
        ],
        Phase::Anonymous,
        chat(Some("Hi there! How can we help?")),
        vec![Render, Effect::Connect],
    );
    // `init`'s onboarding overrides the app's, both ways.
    check(
        vec![init(true, Some(false)), Input::Show],
        Phase::Anonymous,
        chat(None),
        vec![
            Render,
            Emit(Event::Open),
            Effect::Focus(Focus::Panel),
            StartAnonymousSession,
        ],
    );
    check(
        vec![init(false, Some(true)), Input::Show],
        Phase::Onboarding,
        form(),
        vec![Render, Emit(Event::Open), Effect::Focus(Focus::Panel)],
    );
    // An existing session needs no new one.
    check(
        vec![
            init(false, None),
            Input::SessionStarted(anonymous()),
            Input::Show,
        ],
        Phase::Anonymous,
        chat(Some("Hi there! How can we help?")),
        vec![Render, Emit(Event::Open), Effect::Focus(Focus::Panel)],
    );
}

#[test]
fn identification() {
    let identified = Emit(Event::Identified(user(&ada(false))));
    check(
        vec![init(true, None), Input::SessionStarted(ada(false))],
        Phase::Identified,
        chat(Some("Hi Ada!")),
        vec![Render, identified.clone(), Effect::Connect],
    );
    check(
        vec![
            init(true, None),
            Input::Show,
            Input::SessionStarted(ada(false)),
        ],
        Phase::Identified,
        chat(Some("Hi Ada!")),
        vec![Render, identified, Effect::Connect],
    );
    check(
        vec![init(true, None), Input::SessionStarted(ada(true))],
        Phase::Identified,
        chat(Some("Hi Ada!")),
        vec![
            Render,
            Effect::Arm(Deadline::Refresh(UNTIL)),
            Emit(Event::Identified(user(&ada(true)))),
            Emit(Event::Trusted(user(&ada(true)))),
            Effect::Connect,
        ],
    );
}

// ---- trust and its timer ----------------------------------------------------

/// Ada's session, trusted until `until` (Unix s).
fn ada_until(until: i64) -> SessionResponse {
    SessionResponse {
        trusted_until: Some(until),
        ..ada(true)
    }
}

/// The same session as seen after a same-person upgrade: no new token.
fn upgraded(until: i64) -> SessionResponse {
    SessionResponse {
        session_token: None,
        ..ada_until(until)
    }
}

fn init_with_fetch_jwt(fetch_jwt: bool) -> Input {
    Input::Initialized {
        config: Config {
            fetch_jwt,
            ..config(None)
        },
        app: app(true),
        session: None,
        now: NOW,
        pending: vec![],
    }
}

fn fired(now: i64) -> Input {
    Input::TimerFired { now }
}

/// What the customer and the page see of the trust after a run.
#[derive(Debug, PartialEq)]
struct Seen {
    /// `getUser().trusted`; `None` when nobody is identified.
    trusted: Option<bool>,
    /// The header badge's name ("Verified as Ada"; empty: "Verified").
    verified: Option<&'static str>,
    /// The "no longer verified" notice.
    unverified: bool,
}

const TRUSTED: Seen = Seen {
    trusted: Some(true),
    verified: Some("Ada"),
    unverified: false,
};
const LAPSED: Seen = Seen {
    trusted: Some(false),
    verified: None,
    unverified: true,
};
const IDENTIFIED: Seen = Seen {
    trusted: Some(false),
    verified: None,
    unverified: false,
};

/// Runs `inputs` on a fresh widget; checks the effects of the last one and
/// what is seen afterwards.
fn check_trust(inputs: Vec<Input>, last_effects: Vec<Effect>, seen: Seen) {
    let mut widget = Widget::new();
    let mut effects = vec![];
    for input in inputs.iter().cloned() {
        effects = widget.step(input);
    }
    assert_eq!(effects, last_effects, "effects of the last of {inputs:?}");
    let view = widget.view();
    let got = Seen {
        trusted: widget.user().map(|u| u.trusted),
        verified: view
            .verified
            .as_deref()
            .and_then(|v| ["Ada", ""].into_iter().find(|known| *known == v)),
        unverified: view.unverified,
    };
    assert_eq!(got, seen, "after {inputs:?}");
}

#[test]
fn trust_timer_is_armed_by_trusted_sessions() {
    use Deadline::Refresh;
    use Effect::{Arm, Disarm};
    check_trust(
        vec![init(true, None), Input::SessionStarted(ada(true))],
        vec![
            Render,
            Arm(Refresh(UNTIL)),
            Emit(Event::Identified(user(&ada(true)))),
            Emit(Event::Trusted(user(&ada(true)))),
            Effect::Connect,
        ],
        TRUSTED,
    );
    // A restored trusted session arms it at once.
    check_trust(
        vec![Input::Initialized {
            config: config(None),
            app: app(true),
            session: Some(ada(true)),
            now: NOW,
            pending: vec![],
        }],
        vec![
            Render,
            Arm(Refresh(UNTIL)),
            Effect::Connect,
            Emit(Event::Ready(Some(user(&ada(true))))),
            Effect::Wake(Some(NOW + POLL_MS)),
        ],
        TRUSTED,
    );
    // A restored session whose trust ended while the page was away.
    let lapsed = SessionResponse {
        trusted: false,
        trusted_until: Some(NOW / 1000 - 5),
        ..ada(true)
    };
    check_trust(
        vec![Input::Initialized {
            config: config(None),
            app: app(true),
            session: Some(lapsed),
            now: NOW,
            pending: vec![],
        }],
        vec![
            Render,
            Effect::Connect,
            Emit(Event::Ready(Some(user(&ada(false))))),
            Effect::Wake(Some(NOW + POLL_MS)),
        ],
        LAPSED,
    );
    // Trusted but no end given: no timer.
    let forever = SessionResponse {
        trusted_until: None,
        ..ada(true)
    };
    check_trust(
        vec![init(true, None), Input::SessionStarted(forever.clone())],
        vec![
            Render,
            Emit(Event::Identified(user(&forever))),
            Emit(Event::Trusted(user(&forever))),
            Effect::Connect,
        ],
        TRUSTED,
    );
    // An untrusted session replacing a trusted one cancels it.
    check_trust(
        vec![
            init(true, None),
            Input::SessionStarted(ada(true)),
            Input::SessionStarted(anonymous()),
        ],
        vec![Render, Disarm, Effect::Disconnect, Effect::Connect],
        Seen {
            trusted: None,
            verified: None,
            unverified: false,
        },
    );
    // `setUser` reusing the session (same trust) leaves the timer alone.
    check_trust(
        vec![
            init(true, None),
            Input::SessionStarted(ada(true)),
            Input::SessionStarted(ada(true)),
        ],
        vec![
            Render,
            Emit(Event::Identified(user(&ada(true)))),
            Emit(Event::Trusted(user(&ada(true)))),
        ],
        TRUSTED,
    );
    // A fresh token (new end) re-arms it.
    check_trust(
        vec![
            init(true, None),
            Input::SessionStarted(ada(true)),
            Input::SessionStarted(ada_until(UNTIL + 600)),
        ],
        vec![
            Render,
            Arm(Refresh(UNTIL + 600)),
            Emit(Event::Identified(user(&ada(true)))),
            Emit(Event::Trusted(user(&ada(true)))),
        ],
        TRUSTED,
    );
    // clearUser cancels it; a stray timer afterwards does nothing.
    let cleared = vec![
        init(true, None),
        Input::SessionStarted(ada(true)),
        Input::Cleared,
    ];
    check_trust(
        cleared.clone(),
        vec![Render, Disarm, Effect::Disconnect, Emit(Event::Cleared)],
        Seen {
            trusted: None,
            verified: None,
            unverified: false,
        },
    );
    check_trust(
        [cleared, vec![fired(UNTIL * 1000)]].concat(),
        vec![],
        Seen {
            trusted: None,
            verified: None,
            unverified: false,
        },
    );
}

#[test]
fn trust_timer_refreshes_with_fetch_jwt() {
    use Deadline::{Lapse, Refresh};
    use Effect::{Arm, FetchJwt};
    let due = UNTIL * 1000 - 30_000;
    let start = vec![init_with_fetch_jwt(true), Input::SessionStarted(ada(true))];
    let with = |more: Vec<Input>| [start.clone(), more].concat();
    // Fired early (a clamped delay): armed again, nothing else.
    check_trust(
        with(vec![fired(due - 1)]),
        vec![Arm(Refresh(UNTIL))],
        TRUSTED,
    );
    // On time: `token:expired`, and fetchJwt is called; still trusted.
    check_trust(
        with(vec![fired(due)]),
        vec![Emit(Event::TokenExpired), FetchJwt],
        TRUSTED,
    );
    // A second firing while fetchJwt runs does nothing.
    check_trust(with(vec![fired(due), fired(due + 1)]), vec![], TRUSTED);
    // The fresh token upgraded the session: `user:trusted`, a new timer.
    check_trust(
        with(vec![fired(due), Input::Refreshed(upgraded(UNTIL + 600))]),
        vec![
            Render,
            Arm(Refresh(UNTIL + 600)),
            Emit(Event::Trusted(user(&ada(true)))),
        ],
        TRUSTED,
    );
    // fetchJwt failed (or the server refused its token): trusted until the
    // end, then the notice, `trusted: false` and an `error` with the reason.
    let refused = Error::new(Code::InvalidToken, "the token's signature does not match");
    let failed = with(vec![fired(due), Input::RefreshFailed(refused.clone())]);
    check_trust(failed.clone(), vec![Arm(Lapse(UNTIL))], TRUSTED);
    check_trust(
        [failed.clone(), vec![fired(UNTIL * 1000 - 1)]].concat(),
        vec![Arm(Lapse(UNTIL))],
        TRUSTED,
    );
    let lapsed = [failed, vec![fired(UNTIL * 1000)]].concat();
    check_trust(
        lapsed.clone(),
        vec![Render, Emit(Event::Error(refused))],
        LAPSED,
    );
    // A later setJwt (a fresh trusted session) removes the notice.
    check_trust(
        [
            lapsed.clone(),
            vec![Input::SessionStarted(ada_until(UNTIL + 600))],
        ]
        .concat(),
        vec![
            Render,
            Arm(Refresh(UNTIL + 600)),
            Emit(Event::Identified(user(&ada(true)))),
            Emit(Event::Trusted(user(&ada(true)))),
        ],
        TRUSTED,
    );
    // setUser of the same customer, untrusted: still not verified.
    check_trust(
        [lapsed.clone(), vec![Input::SessionStarted(ada(false))]].concat(),
        vec![Render, Emit(Event::Identified(user(&ada(false))))],
        LAPSED,
    );
    // A different customer: the notice was not about them.
    let bob = SessionResponse {
        customer: trustchat_protocol::Customer {
            id: "c-bob".into(),
            ..ada(false).customer
        },
        ..ada(false)
    };
    check_trust(
        [lapsed, vec![Input::SessionStarted(bob.clone())]].concat(),
        vec![Render, Emit(Event::Identified(user(&bob)))],
        IDENTIFIED,
    );
    // A failure that arrives after a newer session took over is ignored.
    let stale = Error::new(Code::Network, "could not reach the server");
    check_trust(
        with(vec![
            fired(due),
            Input::SessionStarted(ada_until(UNTIL + 600)),
            Input::RefreshFailed(stale),
        ]),
        vec![],
        TRUSTED,
    );
    // The server took the fresh token but does not trust the session.
    let untrusted = SessionResponse {
        trusted: false,
        trusted_until: None,
        ..upgraded(UNTIL)
    };
    check_trust(
        with(vec![fired(due), Input::Refreshed(untrusted)]),
        vec![Render, Effect::Disarm],
        LAPSED,
    );
}

#[test]
fn trust_lapses_without_fetch_jwt() {
    use Deadline::Lapse;
    use Effect::Arm;
    let due = UNTIL * 1000 - 30_000;
    let start = vec![init_with_fetch_jwt(false), Input::SessionStarted(ada(true))];
    let with = |more: Vec<Input>| [start.clone(), more].concat();
    check_trust(
        with(vec![fired(due)]),
        vec![Emit(Event::TokenExpired), Arm(Lapse(UNTIL))],
        TRUSTED,
    );
    let steps = widget_effects(with(vec![fired(due), fired(UNTIL * 1000)]));
    assert!(
        matches!(steps.as_slice(), [Render, Emit(Event::Error(e))]
            if e.code == Code::TokenExpired && e.message.contains("fetchJwt")),
        "{steps:?}"
    );
    check_trust(
        with(vec![fired(due), fired(UNTIL * 1000 + 5)]),
        steps,
        LAPSED,
    );
    // A sleeping laptop: the refresh timer fires after the end; the lapse
    // timer then fires at once (its delay is 0).
    assert_eq!(Lapse(UNTIL).delay_ms(UNTIL * 1000 + 60_000), 0);
    check_trust(
        with(vec![fired(UNTIL * 1000 + 60_000)]),
        vec![Emit(Event::TokenExpired), Arm(Lapse(UNTIL))],
        TRUSTED,
    );
}

fn widget_effects(inputs: Vec<Input>) -> Vec<Effect> {
    let mut widget = Widget::new();
    let mut effects = vec![];
    for input in inputs {
        effects = widget.step(input);
    }
    effects
}

#[test]
fn clearing() {
    check(
        vec![
            init(true, None),
            Input::SessionStarted(ada(false)),
            Input::Cleared,
        ],
        Phase::Anonymous,
        form(),
        vec![
            Render,
            Effect::Disarm,
            Effect::Disconnect,
            Emit(Event::Cleared),
        ],
    );
    check(
        vec![
            init(true, None),
            Input::SessionStarted(ada(false)),
            Input::Show,
            Input::Cleared,
        ],
        Phase::Anonymous,
        form(),
        vec![
            Render,
            Effect::Disarm,
            Effect::Disconnect,
            Emit(Event::Close),
            Emit(Event::Cleared),
        ],
    );
    let mut widget = Widget::new();
    widget.step(init(true, None));
    widget.step(Input::SessionStarted(ada(false)));
    let before = widget.view().epoch;
    widget.step(Input::Cleared);
    assert_eq!(widget.user(), None);
    assert_eq!(widget.session(), None);
    assert_ne!(
        widget.view().epoch,
        before,
        "the panel is rebuilt from scratch"
    );
}

#[test]
fn onboarding_form() {
    let faults = FieldErrors {
        email: Some("bad_email".into()),
        ..Default::default()
    };
    check(
        vec![
            init(true, None),
            Input::Show,
            Input::FormInvalid(faults.clone()),
        ],
        Phase::Onboarding,
        Panel::Onboarding {
            errors: faults,
            busy: false,
        },
        vec![Render, Effect::Focus(Focus::Field("email"))],
    );
    check(
        vec![init(true, None), Input::Show, Input::FormSubmitted],
        Phase::Onboarding,
        Panel::Onboarding {
            errors: FieldErrors::default(),
            busy: true,
        },
        vec![Render],
    );
    let failure = Error::new(Code::RateLimited, "too many requests, retry in a minute");
    let mut widget = Widget::new();
    for input in [init(true, None), Input::Show, Input::FormSubmitted] {
        widget.step(input);
    }
    assert_eq!(
        widget.step(Input::Failed(failure.clone())),
        vec![Render, Emit(Event::Error(failure))]
    );
    // A catalog key: the customer reads it in their language.
    assert_eq!(widget.view().alert.as_deref(), Some("error_rate_limited"));
    assert_eq!(widget.view().panel, form());
}

#[test]
fn the_widget_checks_a_name_a_contact_and_the_shapes_the_browser_judged() {
    let input = |name: &str, email: &str, phone: &str| UserInput {
        name: name.into(),
        email: Some(email.into()),
        phone: Some(phone.into()),
    };
    let key = |k: &str| Some(k.to_owned());
    let fine = [false, false];
    let cases = [
        (
            input("Ada", "ada@example.com", ""),
            fine,
            FieldErrors::default(),
        ),
        (
            input("Ada", "", "+14155550100"),
            fine,
            FieldErrors::default(),
        ),
        (
            input("", "ada@example.com", ""),
            fine,
            FieldErrors {
                name: key("no_name"),
                ..Default::default()
            },
        ),
        (
            input("", "", ""),
            fine,
            FieldErrors {
                name: key("no_name"),
                email: key("no_contact"),
                phone: None,
            },
        ),
        (
            input("Ada", " ", "\t"),
            fine,
            FieldErrors {
                email: key("no_contact"),
                ..Default::default()
            },
        ),
        // The browser's `type=email` and `pattern` judged the shapes.
        (
            input(" ", "nope", "0155"),
            [true, true],
            FieldErrors {
                name: key("no_name"),
                email: key("bad_email"),
                phone: key("bad_phone"),
            },
        ),
    ];
    for (input, misshapen, expected) in cases {
        let got = check_user(&input, misshapen).err().unwrap_or_default();
        assert_eq!(got, expected, "{input:?} {misshapen:?}");
    }
}
