//! Data-driven tests of the state machine: each case is a run of inputs and
//! the phase, view and effects expected after it.

use trustchat_protocol::{AppInfo, Customer, SessionResponse, UserInput};

use super::*;

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
    }
}

fn init(app_onboarding: bool, config_onboarding: Option<bool>) -> Input {
    Input::Initialized {
        config: config(config_onboarding),
        app: app(app_onboarding),
        session: None,
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
        greeting: "Hi Ada!".into(),
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
        greeting: "Hi there! How can we help?".into(),
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
    }
}

use Effect::{Emit, Render, StartAnonymousSession};

#[test]
fn initialization() {
    check(vec![], Phase::NotInitialized, chat(None), vec![]);
    check(
        vec![init(true, None)],
        Phase::Anonymous,
        form(),
        vec![Render, Emit(Event::Ready(None))],
    );
    // A restored session is identified at once, and `ready` says who.
    check(
        vec![Input::Initialized {
            config: config(None),
            app: app(true),
            session: Some(ada(false)),
        }],
        Phase::Identified,
        chat(Some("Hi Ada!")),
        vec![Render, Emit(Event::Ready(Some(user(&ada(false)))))],
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
        vec![Render],
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
        vec![Render, identified.clone()],
    );
    check(
        vec![
            init(true, None),
            Input::Show,
            Input::SessionStarted(ada(false)),
        ],
        Phase::Identified,
        chat(Some("Hi Ada!")),
        vec![Render, identified],
    );
    check(
        vec![init(true, None), Input::SessionStarted(ada(true))],
        Phase::Identified,
        chat(Some("Hi Ada!")),
        vec![
            Render,
            Emit(Event::Identified(user(&ada(true)))),
            Emit(Event::Trusted(user(&ada(true)))),
        ],
    );
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
        vec![Render, Emit(Event::Cleared)],
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
        vec![Render, Emit(Event::Close), Emit(Event::Cleared)],
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
        email: Some("email address must look like name@example.com"),
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
    assert_eq!(
        widget.view().alert.as_deref(),
        Some("too many requests, retry in a minute")
    );
    assert_eq!(widget.view().panel, form());
}

#[test]
fn form_validation_uses_the_protocol_messages() {
    let input = |name: &str, email: &str, phone: &str| UserInput {
        name: name.into(),
        email: Some(email.into()),
        phone: Some(phone.into()),
    };
    let cases = [
        (input("Ada", "ada@example.com", ""), FieldErrors::default()),
        (input("Ada", "", "+14155550100"), FieldErrors::default()),
        (
            input("", "ada@example.com", ""),
            FieldErrors {
                name: Some("please enter a name"),
                ..Default::default()
            },
        ),
        (
            input("", "", ""),
            FieldErrors {
                name: Some("please enter a name"),
                email: Some("please give an email address or a phone number"),
                phone: None,
            },
        ),
        (
            input("  ", "nope", "0155"),
            FieldErrors {
                name: Some("please enter a name"),
                email: Some("email address must look like name@example.com"),
                phone: Some("phone number must be in international form, like +14155550100"),
            },
        ),
        (
            input("Ada", " ", ""),
            FieldErrors {
                email: Some("please give an email address or a phone number"),
                ..Default::default()
            },
        ),
    ];
    for (input, expected) in cases {
        let got = validate_form(&input).err().unwrap_or_default();
        assert_eq!(got, expected, "{input:?}");
    }
    assert_eq!(
        validate_form(&input(" Ada  Lovelace ", "ADA@example.com", "")).map(|v| (v.name, v.email)),
        Ok((
            "Ada Lovelace".to_string(),
            Some("ada@example.com".to_string())
        ))
    );
}
