//! The widget as a state machine: [`Widget::step`] takes one [`Input`] (a
//! fact: the app loaded, a session started, the customer opened the panel)
//! and answers the [`Effect`]s the driver must carry out. No IO here.
//!
//! The phases, as [`Widget::phase`] names them:
//!
//! ```text
//! NotInitialized ──Initialized──▶ Anonymous ◀──────────── Cleared ──┐
//!                                  │   ▲ Close                      │
//!                   Show (onboarding on)                            │
//!                                  ▼   │                            │
//!                               Onboarding ──SessionStarted──▶ Identified
//! ```
//!
//! With onboarding off an anonymous customer who opens the panel goes
//! straight to the chat view, and the driver starts an anonymous session.
//!
//! A trusted session also runs a timer ([`Effect::Arm`]): a little before
//! its trust ends the widget emits `token:expired` and asks `fetchJwt` for a
//! fresh token ([`Effect::FetchJwt`]); when none comes, the trust lapses at
//! its end and the panel says the chat is no longer verified.
//!
//! ```text
//! Waiting ──TimerFired──▶ Refreshing ──Refreshed──▶ Waiting (new end)
//!    │   (no fetchJwt)        │ RefreshFailed
//!    └─────────────────▶ Lapsing ──TimerFired (at the end)──▶ not trusted
//! ```

use trustchat_protocol::{AppInfo, Availability, ServerFrame, SessionResponse, UserInput};

use super::chat::{Chat, ChatInput, Line, PendingRecord, Survey};

/// While no socket is ready, the app's availability is asked again this
/// often, in milliseconds.
pub const POLL_MS: i64 = 60_000;
use super::config::Config;
use super::effect::{Effect, Event, Focus, User};
use super::error::{Code, Error};
use super::trust::{self, Deadline};

/// Where the widget stands; derived from its state, never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `init` has not resolved yet.
    NotInitialized,
    /// Nobody identified; the panel is closed, or onboarding is off.
    Anonymous,
    /// Nobody identified, the panel is open and the app wants onboarding.
    Onboarding,
    /// The customer is known, by `setUser`, `setJwt` or the form.
    Identified,
}

/// One fact the widget learns.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// `init` loaded the app and perhaps restored a stored session.
    Initialized {
        /// The checked configuration.
        config: Config,
        /// The app as the server describes it.
        app: AppInfo,
        /// A stored session the server still accepts. A `trusted_until`
        /// already past marks trust that lapsed while the page was away.
        session: Option<SessionResponse>,
        /// The clock, in Unix milliseconds.
        now: i64,
        /// Messages this tab left unacknowledged before a reload; dropped
        /// unless `session` was restored.
        pending: Vec<PendingRecord>,
    },
    /// `init` failed; the widget stays uninitialized.
    InitFailed,
    /// The app's description, fetched again: `init` went on without it
    /// (the server was down, but a session was stored).
    AppLoaded(AppInfo),
    /// The panel is opened (`show()` or the launcher).
    Show,
    /// The panel is closed (`close()`, the close button or Escape).
    Close,
    /// The page became visible (`true`) or hidden.
    Visible(bool),
    /// A session was created, reused or changed identity; it replaces any
    /// other.
    SessionStarted(SessionResponse),
    /// The trust timer fired at `now` (Unix milliseconds).
    TimerFired {
        /// The clock.
        now: i64,
    },
    /// The fresh token from `fetchJwt` upgraded the same session again.
    Refreshed(SessionResponse),
    /// No fresh token: `fetchJwt` failed, or the server refused its token.
    RefreshFailed(Error),
    /// `clearUser`: the session is gone.
    Cleared,
    /// The onboarding form was sent and passed validation.
    FormSubmitted,
    /// The onboarding form was sent with faults.
    FormInvalid(FieldErrors),
    /// A request on the customer's behalf failed; shown in the panel.
    Failed(Error),
    /// Something for the conversation (see [`crate::core::chat`]).
    Chat {
        /// The clock, in Unix milliseconds.
        now: i64,
        /// A random number in `[0, 1)`, to jitter a backoff.
        random: f64,
        /// What happened.
        input: ChatInput,
    },
}

/// The onboarding form's faults, one per field: catalog keys (`no_name`,
/// `no_contact`, `bad_email`, …), shown in the customer's language.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors {
    /// Under the name field.
    pub name: Option<String>,
    /// Under the email field; also "give an email or a phone".
    pub email: Option<String>,
    /// Under the phone field.
    pub phone: Option<String>,
}

impl FieldErrors {
    /// The first field with a fault, in form order.
    pub fn first(&self) -> Option<&'static str> {
        [
            ("name", &self.name),
            ("email", &self.email),
            ("phone", &self.phone),
        ]
        .into_iter()
        .find_map(|(field, message)| message.as_ref().map(|_| field))
    }
}

/// What the panel shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Panel {
    /// The onboarding form.
    Onboarding {
        /// Faults under each field.
        errors: FieldErrors,
        /// Whether a submission is in flight.
        busy: bool,
    },
    /// The conversation.
    Chat {
        /// The server's greeting, once a session exists.
        greeting: Option<String>,
        /// The app's login link inside the greeting, when the server marked
        /// one (`greeting_link`) and it is the app's own `login_url`.
        greeting_link: Option<GreetingLink>,
    },
}

/// Where the greeting carries the app's login URL, drawn as a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GreetingLink {
    /// The byte offset of the URL in the greeting.
    pub at: usize,
    /// The URL: the app's `login_url`.
    pub url: String,
}

impl GreetingLink {
    /// The link in `greeting` the server marked with `link`, if it is the
    /// app's `login_url` and the greeting writes it out; else the greeting
    /// is all text.
    pub fn find(greeting: &str, link: Option<&str>, login_url: Option<&str>) -> Option<Self> {
        let url = link.filter(|url| !url.is_empty() && Some(*url) == login_url)?;
        // A byte search rather than `str::find`, whose two-way searcher
        // weighs about 1.5 KB of wasm; `url` is not empty, and a match of
        // its bytes starts on a char boundary because `url` is valid UTF-8.
        let at = greeting
            .as_bytes()
            .windows(url.len())
            .position(|w| w == url.as_bytes())?;
        Some(GreetingLink {
            at,
            url: url.to_owned(),
        })
    }
}

/// Everything the DOM layer draws, derived from the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// Whether the panel is open.
    pub open: bool,
    /// The app's display name, for the panel header.
    pub title: String,
    /// The panel's content.
    pub panel: Panel,
    /// A failure to show at the top of the panel: the catalog key of its
    /// code (`error_network`).
    pub alert: Option<String>,
    /// The header badge while trusted: the first name (empty when none),
    /// for `Verified as Ada`.
    pub verified: Option<String>,
    /// Whether the customer is trusted now.
    pub trusted: bool,
    /// Agent messages the customer has not seen.
    pub unread: usize,
    /// The agent typing: their name (empty when none).
    pub typing: Option<String>,
    /// Whether someone can answer now.
    pub availability: Availability,
    /// When support opens next, Unix milliseconds.
    pub next_open_at: Option<i64>,
    /// Whether to say that the chat is no longer verified (trust lapsed).
    pub unverified: bool,
    /// Bumped by `clearUser`: the DOM layer rebuilds the panel from scratch,
    /// so nothing the last customer typed or saw survives.
    pub epoch: u32,
    /// The message log.
    pub messages: Vec<Line>,
    /// Whether an agent closed the conversation.
    pub closed: bool,
    /// "How did we do?", once an agent closed the conversation.
    pub survey: Option<Survey>,
    /// Why the last rating was not sent.
    pub survey_error: Option<String>,
}

/// The widget's whole state.
#[derive(Debug, Default)]
pub struct Widget {
    /// The checked configuration, once initialized.
    config: Option<Config>,
    /// The app, once initialized.
    app: Option<AppInfo>,
    /// The current session, anonymous or identified.
    session: Option<SessionResponse>,
    /// Whether the panel is open (or asked open before `init` resolved).
    open: bool,
    /// Onboarding faults on display.
    errors: FieldErrors,
    /// Whether the onboarding form is being submitted.
    busy: bool,
    /// A failure on display.
    alert: Option<String>,
    /// See [`View::epoch`].
    epoch: u32,
    /// The trust timer's state, while the session is trusted until a time.
    trust: Option<Trust>,
    /// See [`View::unverified`].
    unverified: bool,
    /// The conversation and the link to the server.
    chat: Chat,
    /// Whether the page is hidden (`visibilitychange`).
    hidden: bool,
    /// The unread count the page was last told of.
    unread: usize,
    /// When to ask for the app's availability again while no socket is
    /// ready.
    poll_at: Option<i64>,
}

/// A trusted session's way to the end of its trust.
#[derive(Debug)]
struct Trust {
    /// When the trust ends, in Unix seconds.
    until: i64,
    /// Where it stands.
    stage: Stage,
}

/// See the module docs.
#[derive(Debug)]
enum Stage {
    /// The refresh timer is armed.
    Waiting,
    /// `fetchJwt` and the upgrade are under way; no timer armed.
    Refreshing,
    /// No fresh token; the lapse timer is armed, and this is why.
    Lapsing(Error),
}

impl Widget {
    /// A widget before `init`.
    pub fn new() -> Widget {
        Widget::default()
    }

    /// Applies one input and answers what to do.
    pub fn step(&mut self, input: Input) -> Vec<Effect> {
        let mut effects = self.apply(input);
        let watching = self.open && !self.hidden && self.config.is_some();
        self.chat.watch(watching, &mut effects);
        let unread = self.chat.unread();
        if unread != self.unread {
            self.unread = unread;
            if !effects.iter().any(|e| matches!(e, Effect::Render)) {
                effects.insert(0, Effect::Render);
            }
            effects.push(Effect::Emit(Event::Unread(unread)));
        }
        let poll = self.poll_at.filter(|_| !self.chat.live());
        self.chat.rearm(poll, &mut effects);
        effects
    }

    /// The app's availability now (`app` fresh from the server, or a
    /// frame): the page hears of a change.
    fn available(&mut self, availability: Availability, next: Option<i64>) -> Vec<Effect> {
        let Some(app) = self.app.as_mut() else {
            return vec![];
        };
        if (app.availability, app.next_open_at) == (availability, next) {
            return vec![];
        }
        app.availability = availability;
        app.next_open_at = next;
        vec![
            Effect::Render,
            Effect::Emit(Event::Availability(availability, next)),
        ]
    }

    /// `getAvailability()`: `None` before `init`.
    pub fn availability(&self) -> Option<Availability> {
        self.app.as_ref().map(|app| app.availability)
    }

    /// `getUnreadCount()`.
    pub fn unread(&self) -> usize {
        self.unread
    }

    fn apply(&mut self, input: Input) -> Vec<Effect> {
        use Effect::*;
        match input {
            Input::Initialized {
                config,
                app,
                mut session,
                now,
                pending,
            } => {
                if let Some(s) = session.as_mut() {
                    if s.trusted_until
                        .is_some_and(|until| trust::ended(now, until))
                    {
                        s.trusted = false;
                        s.trusted_until = None;
                        self.unverified = true;
                    }
                }
                self.config = Some(config);
                self.app = Some(app);
                self.session = session;
                self.poll_at = Some(now + POLL_MS);
                let mut effects = vec![Render];
                if self.open {
                    effects.push(Focus(self::Focus::Panel));
                    effects.extend(self.anonymous_session_needed());
                }
                effects.extend(self.start_trust());
                if self.session.is_some() {
                    self.chat.restore(pending);
                    self.start_chat(&mut effects);
                }
                effects.push(Emit(Event::Ready(self.user())));
                effects
            }
            Input::InitFailed => {
                self.open = false;
                vec![]
            }
            Input::AppLoaded(app) => {
                let mut effects = self.available(app.availability, app.next_open_at);
                self.app = Some(app);
                effects.insert(0, Render);
                effects
            }
            Input::Visible(visible) => {
                self.hidden = !visible;
                vec![]
            }
            Input::Show if self.open => vec![],
            Input::Show => {
                self.open = true;
                if self.config.is_none() {
                    // Remembered until `init` resolves.
                    return vec![];
                }
                let mut effects = vec![Render, Emit(Event::Open), Focus(self::Focus::Panel)];
                effects.extend(self.anonymous_session_needed());
                effects
            }
            Input::Close if !self.open => vec![],
            Input::Close => {
                self.open = false;
                if self.config.is_none() {
                    return vec![];
                }
                vec![Render, Emit(Event::Close), Focus(self::Focus::Launcher)]
            }
            Input::SessionStarted(session) => {
                let user = User::of(&session);
                let same_customer = self
                    .session
                    .as_ref()
                    .is_some_and(|s| s.customer.id == session.customer.id);
                if session.trusted || !same_customer {
                    self.unverified = false;
                }
                self.session = Some(session);
                self.errors = FieldErrors::default();
                self.busy = false;
                self.alert = None;
                let mut effects = vec![Render];
                effects.extend(self.start_trust());
                if let Some(user) = user {
                    if user.trusted {
                        effects.push(Emit(Event::Identified(user.clone())));
                        effects.push(Emit(Event::Trusted(user)));
                    } else {
                        effects.push(Emit(Event::Identified(user)));
                    }
                }
                self.start_chat(&mut effects);
                effects
            }
            Input::TimerFired { now } => self.timer_fired(now),
            Input::Refreshed(session) => {
                // Only the server decides: should it not trust the session
                // after all, the chat says so at once.
                self.unverified = !session.trusted;
                self.session = Some(session);
                let mut effects = vec![Render];
                effects.extend(self.start_trust());
                effects.extend(
                    self.user()
                        .filter(|user| user.trusted)
                        .map(|user| Emit(Event::Trusted(user))),
                );
                effects
            }
            Input::RefreshFailed(error) => match self.trust.as_mut() {
                Some(trust) if matches!(trust.stage, Stage::Refreshing) => {
                    trust.stage = Stage::Lapsing(error);
                    vec![Effect::Arm(Deadline::Lapse(trust.until))]
                }
                // A newer session (setJwt, clearUser) took its place.
                _ => vec![],
            },
            Input::Cleared => {
                let was_open = self.open;
                self.session = None;
                self.trust = None;
                self.unverified = false;
                self.open = false;
                self.errors = FieldErrors::default();
                self.busy = false;
                self.alert = None;
                self.epoch = self.epoch.wrapping_add(1);
                let mut effects = vec![Render, Effect::Disarm];
                self.chat.stop(&mut effects);
                if was_open {
                    effects.push(Emit(Event::Close));
                }
                effects.push(Emit(Event::Cleared));
                effects
            }
            Input::FormSubmitted => {
                self.errors = FieldErrors::default();
                self.alert = None;
                self.busy = true;
                vec![Render]
            }
            Input::FormInvalid(errors) => {
                let first = errors.first();
                self.errors = errors;
                self.busy = false;
                let mut effects = vec![Render];
                effects.extend(first.map(|field| Focus(self::Focus::Field(field))));
                effects
            }
            Input::Failed(error) => {
                self.busy = false;
                // The customer reads it in their language: a catalog key.
                self.alert = Some(["error_", error.code.as_str()].concat());
                vec![Render, Emit(Event::Error(error))]
            }
            Input::Chat { now, random, input } => {
                let mut effects = vec![];
                match &input {
                    ChatInput::Frame(ServerFrame::Availability {
                        availability,
                        next_open_at,
                    }) => effects = self.available(*availability, *next_open_at),
                    ChatInput::Wake
                        if self.poll_at.is_some_and(|at| at <= now) && !self.chat.live() =>
                    {
                        self.poll_at = Some(now + POLL_MS);
                        effects.push(Poll);
                    }
                    _ => {}
                }
                self.chat.step(now, random, input, &mut effects);
                // One redraw, first, of the state after the whole step, so
                // that listeners of the events see it; one storage write.
                let render = effects.iter().any(|e| matches!(e, Render));
                let store = effects.iter().any(|e| matches!(e, StorePending));
                effects.retain(|e| !matches!(e, Render | StorePending));
                if render {
                    effects.insert(0, Render);
                }
                if store {
                    effects.push(StorePending);
                }
                effects
            }
        }
    }

    /// The session's socket, when it has a token.
    fn start_chat(&mut self, effects: &mut Vec<Effect>) {
        if let Some(session) = &self.session {
            if let Some(token) = &session.session_token {
                self.chat.start(token, &session.customer.id, effects);
            }
        }
    }

    /// The messages to keep in `sessionStorage` until acknowledged.
    pub fn pending(&self) -> Vec<PendingRecord> {
        self.chat.records()
    }

    /// The token the chat's socket and requests use.
    pub fn chat_token(&self) -> Option<&str> {
        self.chat.token()
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        if self.config.is_none() {
            Phase::NotInitialized
        } else if self.user().is_some() {
            Phase::Identified
        } else if self.open && self.onboarding() {
            Phase::Onboarding
        } else {
            Phase::Anonymous
        }
    }

    /// The configuration, once initialized.
    pub fn config(&self) -> Option<&Config> {
        self.config.as_ref()
    }

    /// The current session, anonymous or identified.
    pub fn session(&self) -> Option<&SessionResponse> {
        self.session.as_ref()
    }

    /// The identified customer, if any.
    pub fn user(&self) -> Option<User> {
        self.session.as_ref().and_then(User::of)
    }

    /// Whether the panel is open.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Whether anonymous customers must fill in the form before chatting:
    /// `init`'s `onboarding` when given, else the app's setting.
    pub fn onboarding(&self) -> bool {
        let app = self.app.as_ref().is_some_and(|app| app.onboarding);
        self.config
            .as_ref()
            .and_then(|c| c.onboarding)
            .unwrap_or(app)
    }

    /// What the DOM shows.
    pub fn view(&self) -> View {
        let panel = if self.user().is_none() && self.onboarding() {
            Panel::Onboarding {
                errors: self.errors.clone(),
                busy: self.busy,
            }
        } else {
            let login_url = self.app.as_ref().and_then(|a| a.login_url.as_deref());
            Panel::Chat {
                greeting: self.session.as_ref().map(|s| s.greeting.clone()),
                greeting_link: self.session.as_ref().and_then(|s| {
                    GreetingLink::find(&s.greeting, s.greeting_link.as_deref(), login_url)
                }),
            }
        };
        View {
            open: self.open,
            title: self
                .app
                .as_ref()
                .map(|app| app.name.clone())
                .unwrap_or_default(),
            panel,
            alert: self.alert.clone(),
            verified: self
                .user()
                .filter(|u| u.trusted)
                .map(|u| u.first_name.unwrap_or_default()),
            trusted: self.user().is_some_and(|u| u.trusted),
            unread: self.unread,
            typing: self
                .chat
                .typing()
                .map(|name| name.unwrap_or_default().to_owned()),
            availability: self.availability().unwrap_or_default(),
            next_open_at: self.app.as_ref().and_then(|a| a.next_open_at),
            unverified: self.unverified,
            epoch: self.epoch,
            messages: self
                .chat
                .lines(self.app.as_ref().and_then(|a| a.login_url.as_deref())),
            closed: self.chat.closed(),
            survey: self.chat.survey(),
            survey_error: self.chat.survey_error().map(str::to_owned),
        }
    }

    fn anonymous_session_needed(&self) -> Option<Effect> {
        (self.session.is_none() && !self.onboarding()).then_some(Effect::StartAnonymousSession)
    }

    /// Starts the trust timer of the current session afresh: armed when it
    /// is trusted until a time, cancelled when it is no longer trusted.
    fn start_trust(&mut self) -> Option<Effect> {
        let until = self
            .session
            .as_ref()
            .filter(|s| s.trusted)
            .and_then(|s| s.trusted_until);
        if until.is_some() && self.trust.as_ref().map(|t| t.until) == until {
            // The same trust, e.g. `setUser` reusing the session: its timer
            // runs on.
            return None;
        }
        let had = self.trust.is_some();
        self.trust = until.map(|until| Trust {
            until,
            stage: Stage::Waiting,
        });
        match until {
            Some(until) => Some(Effect::Arm(Deadline::Refresh(until))),
            None => had.then_some(Effect::Disarm),
        }
    }

    fn timer_fired(&mut self, now: i64) -> Vec<Effect> {
        let fetch_jwt = self.config.as_ref().is_some_and(|c| c.fetch_jwt);
        let Some(trust) = self.trust.as_mut() else {
            // A stray timer of a session that is gone.
            return vec![];
        };
        let until = trust.until;
        match &trust.stage {
            Stage::Waiting if !trust::refresh_due(now, until) => {
                vec![Effect::Arm(Deadline::Refresh(until))]
            }
            Stage::Waiting if fetch_jwt => {
                trust.stage = Stage::Refreshing;
                vec![Effect::Emit(Event::TokenExpired), Effect::FetchJwt]
            }
            Stage::Waiting => {
                trust.stage = Stage::Lapsing(Error::new(
                    Code::TokenExpired,
                    "the identity token expired and init has no fetchJwt: call TrustChat.setJwt with a fresh token",
                ));
                vec![
                    Effect::Emit(Event::TokenExpired),
                    Effect::Arm(Deadline::Lapse(until)),
                ]
            }
            Stage::Refreshing => vec![],
            Stage::Lapsing(_) if !trust::ended(now, until) => {
                vec![Effect::Arm(Deadline::Lapse(until))]
            }
            Stage::Lapsing(error) => {
                let error = error.clone();
                self.trust = None;
                self.unverified = true;
                if let Some(session) = self.session.as_mut() {
                    session.trusted = false;
                    session.trusted_until = None;
                }
                vec![Effect::Render, Effect::Emit(Event::Error(error))]
            }
        }
    }
}

/// The checks the widget makes itself, before any request: a name, and an
/// email or a phone; `misshapen` says whether the email and the phone are
/// misshapen, as the browser judges them (the onboarding form's `type=email`
/// and `pattern` checks; `setUser`'s JavaScript checks the same shapes).
/// The full rules (`trustchat_protocol::validate`) are the server's, which
/// says the rest by field: the widget does not carry them (about 3 KB
/// gzipped). The faults are catalog keys.
#[inline(never)]
pub fn check_user(input: &UserInput, misshapen: [bool; 2]) -> Result<(), FieldErrors> {
    let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
    let key = |bad: bool, key: &str| bad.then(|| key.to_owned());
    let errors = FieldErrors {
        name: key(input.name.trim().is_empty(), "no_name"),
        email: if blank(&input.email) && blank(&input.phone) {
            key(true, "no_contact")
        } else {
            key(misshapen[0], "bad_email")
        },
        phone: key(misshapen[1], "bad_phone"),
    };
    if errors == FieldErrors::default() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// `validate::name`'s words for a blank name.
pub const NAME_MISSING: &str = "please enter a name";
/// `validate::user`'s words for neither email nor phone.
pub const CONTACT_MISSING: &str = "please give an email address or a phone number";
