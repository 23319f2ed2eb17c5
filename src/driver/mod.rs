//! The driver runs the API calls: it feeds the state machine
//! ([`crate::core::Widget`]) with what the server and storage answer, and
//! carries out the effects it asks for through the [`Ports`].
//!
//! Every call that does IO takes a [`queue::Ticket`] when it is made and
//! waits its turn, so calls take effect in call order. The state lives in a
//! `RefCell` that is borrowed only between awaits, never across one: a page
//! listener may call back into the widget from inside any event.
//!
//! Identity: with no session yet, `setUser`/`setJwt` create one (`POST
//! /apps/{app}/sessions`); with one, they change its identity (`POST
//! /sessions/current/identity`). An answer with a `session_token` is a
//! different person, whose new session replaces the old (the server revoked
//! the old token); one without continues the same session. The identity JWT
//! is only ever sent, never kept: a fresh one comes from `fetchJwt`.
//!
//! Messaging: the state machine decides (see [`crate::core::chat`]); the
//! driver opens the socket, sends its frames, fetches and posts, and feeds
//! what comes back as [`ChatInput`]s stamped with the clock and a random
//! number. These run outside the call queue: their answers carry what they
//! answer (an epoch, a `client_id`), and the state machine ignores the
//! answers of a session that ended.

pub mod queue;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

use trustchat_protocol::{
    AppInfo, CreateSessionRequest, RateConversation, SendMessage, SessionResponse, UserInput,
};

use crate::core::{
    check_user, ChatInput, Code, Config, Effect, Error, FieldErrors, Input, PendingRecord, Phase,
    Posted, User, Widget, CONTACT_MISSING, NAME_MISSING, STORAGE_PREFIX,
};
use crate::platform::{Method, Ports, Request, Response, SocketEvent};
use queue::Queue;

/// The widget at run time: state machine, ports and call queue.
pub struct Driver<P> {
    /// The outside world.
    ports: P,
    /// The state machine; see the module docs for the borrowing rule.
    state: RefCell<Widget>,
    /// Serializes the calls that do IO.
    queue: Queue,
    /// How many `init` calls are waiting or running; `show()` before `init`
    /// resolved is remembered while one is.
    pending_inits: Cell<u32>,
    /// Whether `init` went on with a stand-in for the app's description
    /// (server down, session stored); fetched again once the socket is
    /// ready.
    app_missing: Cell<bool>,
}

impl<P: Ports + 'static> Driver<P> {
    /// A driver before `init`.
    pub fn new(ports: P) -> Rc<Driver<P>> {
        Rc::new(Driver {
            ports,
            state: RefCell::new(Widget::new()),
            queue: Queue::default(),
            pending_inits: Cell::new(0),
            app_missing: Cell::new(false),
        })
    }

    /// The ports, for the platform layer.
    pub fn ports(&self) -> &P {
        &self.ports
    }

    /// `init`: loads the app, restores a stored session, draws the launcher
    /// and emits `ready`. A second call resolves if it names the same app.
    pub fn init(
        self: &Rc<Self>,
        config: Config,
    ) -> impl Future<Output = Result<(), Error>> + 'static {
        let (this, ticket) = (self.clone(), self.queue.ticket());
        self.pending_inits.set(self.pending_inits.get() + 1);
        async move {
            ticket.wait().await;
            let result = this.load(config).await;
            this.pending_inits.set(this.pending_inits.get() - 1);
            if result.is_err() && this.phase() == Phase::NotInitialized {
                this.apply(Input::InitFailed);
            }
            result
        }
    }

    /// `setUser({name, email?, phone?})`: a blank name, or neither email
    /// nor phone, is refused before anything else; the server checks the
    /// rest.
    pub fn set_user(
        self: &Rc<Self>,
        input: UserInput,
    ) -> impl Future<Output = Result<User, Error>> + 'static {
        // The JavaScript API checked the email's and the phone's shapes.
        let checked = check_user(&input, [false; 2]).map_err(|errors| {
            Error::invalid(if errors.name.is_some() {
                NAME_MISSING
            } else {
                CONTACT_MISSING
            })
        });
        let (this, ticket) = (self.clone(), self.queue.ticket());
        async move {
            checked?;
            ticket.wait().await;
            this.identify(input).await
        }
    }

    /// `setJwt(token)`, and `setUser({jwt})`: a trusted session, or the
    /// current one upgraded (same person) or replaced (a different one).
    pub fn set_jwt(
        self: &Rc<Self>,
        token: String,
    ) -> impl Future<Output = Result<User, Error>> + 'static {
        let (this, ticket) = (self.clone(), self.queue.ticket());
        async move {
            if token.trim().is_empty() {
                return Err(Error::invalid(
                    "setJwt needs the identity token your server minted, as a non-empty string",
                ));
            }
            ticket.wait().await;
            let config = this.config()?;
            let request = CreateSessionRequest {
                user: None,
                jwt: Some(token),
            };
            let session = this.establish(&config, &request, false).await?;
            User::of(&session).ok_or_else(|| anonymous_answer(&config))
        }
    }

    /// `clearUser()`: wipes the customer locally first (nothing may stop
    /// that), then revokes the session on the server, best effort.
    pub fn clear_user(self: &Rc<Self>) -> impl Future<Output = Result<(), Error>> + 'static {
        let (this, ticket) = (self.clone(), self.queue.ticket());
        async move {
            ticket.wait().await;
            let config = this.config()?;
            let token = this.session_token();
            this.ports.remove_prefixed(STORAGE_PREFIX);
            this.apply(Input::Cleared);
            if let Some(token) = token {
                let _ = this
                    .request(
                        &config,
                        Method::Delete,
                        config.url("/sessions/current"),
                        Some(token),
                        None,
                    )
                    .await;
            }
            Ok(())
        }
    }

    /// The onboarding form was submitted (`misshapen`: whether the browser
    /// found the email and the phone misshapen): faults show in place; a
    /// valid customer takes the very path of `setUser`.
    pub fn submit_form(
        self: &Rc<Self>,
        input: UserInput,
        misshapen: [bool; 2],
    ) -> impl Future<Output = ()> + 'static {
        let (this, ticket) = (self.clone(), self.queue.ticket());
        async move {
            ticket.wait().await;
            if this.phase() == Phase::Identified || this.phase() == Phase::NotInitialized {
                return;
            }
            if let Err(errors) = check_user(&input, misshapen) {
                return this.apply(Input::FormInvalid(errors));
            }
            this.apply(Input::FormSubmitted);
            match this.identify(input).await {
                // The server's word on a field shows under it.
                Err(Error {
                    code: Code::InvalidArgument,
                    field: Some(field),
                    ..
                }) => {
                    // `user.email` in a session request.
                    let field = field.rsplit('.').next().unwrap_or_default();
                    let fault = Some(["bad_", field].concat());
                    this.apply(Input::FormInvalid(match field {
                        "name" => FieldErrors {
                            name: fault,
                            ..FieldErrors::default()
                        },
                        "phone" => FieldErrors {
                            phone: fault,
                            ..FieldErrors::default()
                        },
                        _ => FieldErrors {
                            email: fault,
                            ..FieldErrors::default()
                        },
                    }))
                }
                Err(error) => this.apply(Input::Failed(error)),
                Ok(_) => {}
            }
        }
    }

    /// Starts an anonymous session when the state still wants one.
    fn anonymous_session(self: &Rc<Self>) -> impl Future<Output = ()> + 'static {
        let (this, ticket) = (self.clone(), self.queue.ticket());
        async move {
            ticket.wait().await;
            let wanted = {
                let state = this.state.borrow();
                state.session().is_none() && !state.onboarding()
            };
            if !wanted {
                return;
            }
            let Ok(config) = this.config() else { return };
            if let Err(error) = this
                .create_session(&config, &CreateSessionRequest::default())
                .await
            {
                this.apply(Input::Failed(error));
            }
        }
    }

    /// The trust timer fired: the state machine decides what it means.
    pub fn timer_fired(self: &Rc<Self>) {
        let now = self.ports.now();
        self.apply(Input::TimerFired { now });
    }

    /// Asks `fetchJwt` for a fresh token and upgrades the session with it.
    /// `fetchJwt` runs outside the call queue (it may take long; `clearUser`
    /// must not wait for it); the upgrade waits its turn, and is dropped if
    /// the session changed meanwhile.
    fn refresh(self: &Rc<Self>) -> impl Future<Output = ()> + 'static {
        let this = self.clone();
        async move {
            let token = this.session_token();
            let fresh = this.ports.fetch_jwt().await;
            let ticket = this.queue.ticket();
            ticket.wait().await;
            let (Some(token), Ok(config)) = (token, this.config()) else {
                return;
            };
            if this.session_token().as_ref() != Some(&token) {
                return;
            }
            let request = fresh.map(|jwt| CreateSessionRequest {
                user: None,
                jwt: Some(jwt),
            });
            let result = match request {
                Ok(request) => this.establish(&config, &request, true).await.map(drop),
                Err(error) => Err(error),
            };
            if let Err(error) = result {
                this.apply(Input::RefreshFailed(error));
            }
        }
    }

    /// `show()`: opens the panel; remembered while `init` is in flight.
    pub fn show(self: &Rc<Self>) -> Result<(), Error> {
        self.toggle(Input::Show)
    }

    /// `close()`: closes the panel.
    pub fn close(self: &Rc<Self>) -> Result<(), Error> {
        self.toggle(Input::Close)
    }

    fn toggle(self: &Rc<Self>, input: Input) -> Result<(), Error> {
        if self.phase() == Phase::NotInitialized && self.pending_inits.get() == 0 {
            return Err(Error::not_initialized());
        }
        self.apply(input);
        Ok(())
    }

    /// Whether the panel is open.
    pub fn is_open(&self) -> bool {
        self.state.borrow().is_open()
    }

    /// `getUser()`: the identified customer, if any.
    pub fn user(&self) -> Option<User> {
        self.state.borrow().user()
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.state.borrow().phase()
    }

    /// Steps the state machine, then carries out its effects with no borrow
    /// held: listeners may call back in.
    fn apply(self: &Rc<Self>, input: Input) {
        let effects = self.state.borrow_mut().step(input);
        for effect in effects {
            match effect {
                Effect::Render => {
                    let view = self.state.borrow().view();
                    self.ports.render(&view);
                }
                Effect::Emit(event) => self.ports.emit(event),
                Effect::Focus(focus) => self.ports.focus(focus),
                Effect::StartAnonymousSession => {
                    self.ports.spawn(Box::pin(self.anonymous_session()))
                }
                Effect::Arm(deadline) => {
                    let delay = deadline.delay_ms(self.ports.now());
                    self.ports.set_timer(Some(delay));
                }
                Effect::Disarm => self.ports.set_timer(None),
                Effect::FetchJwt => self.ports.spawn(Box::pin(self.refresh())),
                Effect::Connect => {
                    if let Ok(config) = self.config() {
                        self.ports.connect(&config.ws_url());
                    }
                }
                Effect::Disconnect => self.ports.disconnect(),
                Effect::SendFrame(frame) => {
                    if let Some(text) = self.ports.encode_frame(&frame) {
                        self.ports.send_frame(&text);
                    }
                }
                Effect::Fetch { after, epoch } => {
                    self.ports.spawn(Box::pin(self.fetch(after, epoch)))
                }
                Effect::Post { client_id, body } => {
                    self.ports.spawn(Box::pin(self.post(client_id, body)))
                }
                Effect::StorePending => self.store_pending(),
                Effect::Wake(at) => {
                    let delay = at.map(|at| {
                        u32::try_from((at - self.ports.now()).clamp(0, i64::from(i32::MAX)))
                            .unwrap_or(0)
                    });
                    self.ports.set_wake(delay);
                }
                Effect::SessionGone(token) => self.ports.spawn(Box::pin(self.session_gone(token))),
                Effect::Rate {
                    conversation_id,
                    rating,
                } => self
                    .ports
                    .spawn(Box::pin(self.post_rating(conversation_id, rating))),
                Effect::Poll => self.ports.spawn(Box::pin(self.load_app(false))),
            }
        }
    }

    /// The customer pressed send: the message shows as pending at once and
    /// goes out as soon as it can. A body `validate::message_body` would refuse
    /// is dropped (the composer says why before it gets here).
    pub fn send_message(self: &Rc<Self>, body: String) {
        if self.phase() == Phase::NotInitialized || !crate::core::sendable(&body) {
            return;
        }
        let client_id = self.ports.uuid();
        self.chat(ChatInput::Send { client_id, body });
    }

    /// "Retry" on a failed message.
    pub fn retry(self: &Rc<Self>, client_id: String) {
        self.chat(ChatInput::Retry(client_id));
    }

    /// "Delete" on a failed message.
    pub fn discard(self: &Rc<Self>, client_id: String) {
        self.chat(ChatInput::Discard(client_id));
    }

    /// What the current socket reports. Frames that are not JSON of a known
    /// type are ignored (a newer server may send more kinds).
    pub fn socket_event(self: &Rc<Self>, event: SocketEvent) {
        let input = match event {
            SocketEvent::Opened => ChatInput::Opened,
            SocketEvent::Closed(code) => ChatInput::Closed(code),
            SocketEvent::Frame(text) => match self.ports.decode_frame(&text) {
                Some(frame) => {
                    if self.app_missing.get() {
                        self.ports.spawn(Box::pin(self.load_app(true)));
                    }
                    ChatInput::Frame(frame)
                }
                None => return,
            },
        };
        self.chat(input);
    }

    /// The app's description again: the one `init` went on without
    /// (`missing`), or a poll of its availability.
    fn load_app(self: &Rc<Self>, missing: bool) -> impl Future<Output = ()> + 'static {
        if missing {
            self.app_missing.set(false);
        }
        let this = self.clone();
        async move {
            let Ok(config) = this.config() else { return };
            let app = match this
                .request(&config, Method::Get, config.app_url(""), None, None)
                .await
            {
                Ok(response) => this
                    .read(&config, this.ports.decode_app(&response.body))
                    .ok(),
                Err(_) => None,
            };
            match app {
                Some(app) => this.apply(Input::AppLoaded(app)),
                // Next frame (or poll), next try.
                None => this.app_missing.set(missing),
            }
        }
    }

    /// The survey was sent: `rating` 1 to 5 (anything else is ignored) and
    /// the comment as typed.
    pub fn rate(self: &Rc<Self>, rating: u8, comment: String) {
        self.chat(ChatInput::Rate { rating, comment });
    }

    /// The customer typed in the composer.
    pub fn typed(self: &Rc<Self>) {
        self.chat(ChatInput::Typed);
    }

    /// The page became visible or hidden.
    pub fn visible(self: &Rc<Self>, visible: bool) {
        self.apply(Input::Visible(visible));
    }

    /// `navigate(url)`, the URL checked: the server hears of it once the
    /// session's socket is ready.
    pub fn navigate(self: &Rc<Self>, url: String) {
        self.chat(ChatInput::Navigate(url));
    }

    /// `getUnreadCount()`.
    pub fn unread(&self) -> usize {
        self.state.borrow().unread()
    }

    /// `getAvailability()`.
    pub fn availability(&self) -> Option<trustchat_protocol::Availability> {
        self.state.borrow().availability()
    }

    /// The chat timer fired.
    pub fn wake(self: &Rc<Self>) {
        self.chat(ChatInput::Wake);
    }

    /// The browser went online, or the page became visible.
    pub fn nudge(self: &Rc<Self>) {
        self.chat(ChatInput::Nudge);
    }

    /// Another tab changed this origin's storage: when it removed the
    /// session (`clearUser` there), this tab wipes itself too.
    pub fn storage_changed(self: &Rc<Self>) {
        let (Ok(config), Some(token)) = (self.config(), self.session_token()) else {
            return;
        };
        if self.ports.get(&config.session_key()).is_none() {
            self.ports.spawn(Box::pin(self.session_gone(token)));
        }
    }

    fn chat(self: &Rc<Self>, input: ChatInput) {
        let (now, random) = (self.ports.now(), self.ports.random());
        self.apply(Input::Chat { now, random, input });
    }

    fn store_pending(&self) {
        let Ok(config) = self.config() else { return };
        let records = self.state.borrow().pending();
        let text = (!records.is_empty())
            .then(|| self.ports.encode_pending(&records))
            .flatten();
        self.ports.tab_set(&config.pending_key(), text.as_deref());
    }

    /// `GET /messages?after=...`.
    fn fetch(self: &Rc<Self>, after: i64, epoch: u32) -> impl Future<Output = ()> + 'static {
        let this = self.clone();
        async move {
            let token = this.state.borrow().chat_token().map(str::to_owned);
            let (Ok(config), Some(token)) = (this.config(), token) else {
                return;
            };
            let url =
                config.url(&["/messages?after=", &crate::core::number::decimal(after)].concat());
            let answer = this
                .ports
                .send(Request {
                    method: Method::Get,
                    url,
                    bearer: Some(token),
                    body: None,
                })
                .await;
            let page = match &answer {
                Ok(Response { status: 200, body }) => this.ports.decode_page(body),
                _ => None,
            };
            let gone = matches!(answer, Ok(Response { status: 401, .. }));
            this.chat(match page {
                Some(page) => ChatInput::Fetched { epoch, page },
                None => ChatInput::FetchFailed { epoch, gone },
            });
        }
    }

    /// `POST /messages`, the fallback while the socket is down.
    fn post(
        self: &Rc<Self>,
        client_id: String,
        body: String,
    ) -> impl Future<Output = ()> + 'static {
        let this = self.clone();
        async move {
            let token = this.state.borrow().chat_token().map(str::to_owned);
            let (Ok(config), Some(token)) = (this.config(), token) else {
                return;
            };
            let request = SendMessage {
                client_id: client_id.clone(),
                body,
            };
            let answer = this
                .ports
                .send(Request {
                    method: Method::Post,
                    url: config.url("/messages"),
                    bearer: Some(token),
                    body: this.ports.encode_send(&request),
                })
                .await;
            let outcome = match answer {
                Ok(Response {
                    status: 200 | 201,
                    body,
                }) => this
                    .ports
                    .decode_message(&body)
                    .map_or(Posted::Failed, Posted::Stored),
                Ok(Response { status: 401, .. }) => Posted::Gone,
                Ok(Response {
                    status: status @ (422 | 429),
                    body,
                }) => {
                    let error = this.ports.decode_error(&body).map(|b| b.error);
                    match error {
                        Some(e) if status == 429 => Posted::RateLimited(e.retry_after.unwrap_or(5)),
                        None if status == 429 => Posted::RateLimited(5),
                        Some(e) => Posted::Refused(e.code),
                        None => Posted::Refused("server_error".into()),
                    }
                }
                _ => Posted::Failed,
            };
            this.chat(ChatInput::Posted { client_id, outcome });
        }
    }

    /// `POST /conversations/{id}/rating`, outside the call queue like the
    /// chat's other requests; errors mapped as every call's are.
    fn post_rating(
        self: &Rc<Self>,
        conversation_id: String,
        rating: RateConversation,
    ) -> impl Future<Output = ()> + 'static {
        let this = self.clone();
        async move {
            let token = this.state.borrow().chat_token().map(str::to_owned);
            let Ok(config) = this.config() else { return };
            let url = config.url(&["/conversations/", &conversation_id, "/rating"].concat());
            let body = this.ports.encode_rating(&rating);
            let result = this
                .request(&config, Method::Post, url, token, body)
                .await
                .map(drop);
            this.chat(ChatInput::Rated {
                conversation_id,
                result,
            });
        }
    }

    /// The server no longer knows the session of `token` (revoked by
    /// `clearUser` in another tab, or by an identity change): wiped as
    /// `clearUser` wipes, without the request (it is revoked already). When
    /// another tab stored a new session meanwhile (someone else logged
    /// in there), that one stays: only this tab forgets.
    fn session_gone(self: &Rc<Self>, token: String) -> impl Future<Output = ()> + 'static {
        let (this, ticket) = (self.clone(), self.queue.ticket());
        async move {
            ticket.wait().await;
            let Ok(config) = this.config() else { return };
            if this.session_token().as_deref() != Some(token.as_str()) {
                return;
            }
            let stored = this
                .ports
                .get(&config.session_key())
                .and_then(|text| this.ports.decode_session(&text))
                .and_then(|s| s.session_token);
            if stored.is_none() || stored.as_deref() == Some(token.as_str()) {
                this.ports.remove_prefixed(STORAGE_PREFIX);
            } else {
                this.ports.tab_set(&config.pending_key(), None);
            }
            this.apply(Input::Cleared);
        }
    }

    fn config(&self) -> Result<Config, Error> {
        self.state
            .borrow()
            .config()
            .cloned()
            .ok_or_else(Error::not_initialized)
    }

    async fn load(self: &Rc<Self>, config: Config) -> Result<(), Error> {
        let existing = self.state.borrow().config().map(|c| c.app_id.clone());
        if let Some(app_id) = existing {
            return if app_id == config.app_id {
                Ok(())
            } else {
                Err(Error::invalid(
                    [
                        "trustchat is already initialized with appId \"",
                        &app_id,
                        "\"; reload the page to change apps",
                    ]
                    .concat(),
                ))
            };
        }
        let app = match self
            .request(&config, Method::Get, config.app_url(""), None, None)
            .await
        {
            Ok(response) => Some(self.read(&config, self.ports.decode_app(&response.body))?),
            // A page reloaded while the server is down still shows the
            // stored customer's chat and keeps their messages: it goes on
            // without the app's description, and fetches it later.
            Err(error)
                if error.code == Code::Network
                    && self.ports.get(&config.session_key()).is_some() =>
            {
                None
            }
            Err(error) => return Err(error),
        };
        self.app_missing.set(app.is_none());
        let app = app.unwrap_or_else(|| AppInfo {
            id: config.app_id.clone(),
            name: String::new(),
            onboarding: false,
            login_url: None,
            availability: Default::default(),
            next_open_at: None,
        });
        let session = self.restore(&config).await;
        let pending_key = config.pending_key();
        let pending: Vec<PendingRecord> = match &session {
            Some(_) => self
                .ports
                .tab_get(&pending_key)
                .and_then(|text| self.ports.decode_pending(&text))
                .unwrap_or_default(),
            None => {
                // Nobody's session: nobody's messages to send.
                self.ports.tab_set(&pending_key, None);
                vec![]
            }
        };
        let now = self.ports.now();
        self.apply(Input::Initialized {
            config,
            app,
            session,
            now,
            pending,
        });
        Ok(())
    }

    /// The stored session, if the server still accepts its token. A refused
    /// token is wiped silently; an unreachable server keeps it for later.
    async fn restore(&self, config: &Config) -> Option<SessionResponse> {
        let key = config.session_key();
        let text = self.ports.get(&key)?;
        let stored = self
            .ports
            .decode_session(&text)
            .filter(|s| s.session_token.is_some());
        let Some(stored) = stored else {
            self.ports.remove(&key);
            return None;
        };
        let request = Request {
            method: Method::Get,
            url: config.url("/sessions/current"),
            bearer: stored.session_token.clone(),
            body: None,
        };
        match self.ports.send(request).await {
            Ok(Response { status: 200, body }) => match self.ports.decode_session(&body) {
                Some(fresh) => {
                    // Trust that lapsed while the page was away keeps its
                    // past end, so the chat says it is no longer verified.
                    let lapsed = (!fresh.trusted && fresh.customer.id == stored.customer.id)
                        .then_some(stored.trusted_until)
                        .flatten();
                    let fresh = SessionResponse {
                        session_token: stored.session_token,
                        trusted_until: fresh.trusted_until.or(lapsed),
                        ..fresh
                    };
                    self.save(config, &fresh);
                    Some(fresh)
                }
                None => Some(stored),
            },
            Ok(Response {
                status: 401 | 403 | 404,
                ..
            }) => {
                self.ports.remove(&key);
                None
            }
            _ => Some(stored),
        }
    }

    /// The customer of `valid`: the current session when it is theirs
    /// (same email, else same phone), else the current session's identity
    /// changed (an anonymous customer keeps their chat), else a new one.
    async fn identify(self: &Rc<Self>, input: UserInput) -> Result<User, Error> {
        let config = self.config()?;
        let current = self.state.borrow().session().cloned();
        if let Some(current) = current.filter(|s| same_identity(s, &input)) {
            if let Some(user) = User::of(&current) {
                self.apply(Input::SessionStarted(current));
                return Ok(user);
            }
        }
        let present = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let request = CreateSessionRequest {
            user: Some(UserInput {
                name: input.name,
                email: present(input.email),
                phone: present(input.phone),
            }),
            jwt: None,
        };
        let session = self.establish(&config, &request, false).await?;
        User::of(&session).ok_or_else(|| anonymous_answer(&config))
    }

    /// The session `request` asks for: the current one's identity changed
    /// when there is one the server still knows, else a new one. Stored and
    /// shown; `refresh` when it is the token refresh's fresh token.
    async fn establish(
        self: &Rc<Self>,
        config: &Config,
        request: &CreateSessionRequest,
        refresh: bool,
    ) -> Result<SessionResponse, Error> {
        if let Some(token) = self.session_token() {
            match self.change_identity(config, token, request).await? {
                Changed::Gone => {}
                Changed::Same(session) if refresh => {
                    self.apply(Input::Refreshed(session.clone()));
                    return Ok(session);
                }
                Changed::Same(session) | Changed::New(session) => {
                    self.apply(Input::SessionStarted(session.clone()));
                    return Ok(session);
                }
            }
        }
        self.create_session(config, request).await
    }

    /// `POST /sessions/current/identity`; the answer, stored, with its
    /// token (the new one when it has one, else the current one).
    async fn change_identity(
        &self,
        config: &Config,
        token: String,
        request: &CreateSessionRequest,
    ) -> Result<Changed, Error> {
        let sent = self
            .ports
            .send(Request {
                method: Method::Post,
                url: config.url("/sessions/current/identity"),
                bearer: Some(token.clone()),
                body: self.ports.encode_session_request(request),
            })
            .await;
        let response = match sent {
            Err(_) => return Err(Error::network(&config.server)),
            Ok(response) if (200..300).contains(&response.status) => response,
            Ok(response) => {
                let body = self.ports.decode_error(&response.body);
                let refused_token = body
                    .as_ref()
                    .is_some_and(|b| b.error.code == "invalid_token");
                if response.status == 401 && !refused_token {
                    // Revoked or expired: the caller starts afresh.
                    self.ports.remove(&config.session_key());
                    return Ok(Changed::Gone);
                }
                return Err(Error::from_response(&config.server, response.status, body));
            }
        };
        let session = self.read(config, self.ports.decode_session(&response.body))?;
        let new = session.session_token.is_some();
        let session = SessionResponse {
            session_token: session.session_token.or(Some(token)),
            ..session
        };
        self.save(config, &session);
        Ok(if new {
            Changed::New(session)
        } else {
            Changed::Same(session)
        })
    }

    /// Creates a session, stores it and shows it.
    async fn create_session(
        self: &Rc<Self>,
        config: &Config,
        request: &CreateSessionRequest,
    ) -> Result<SessionResponse, Error> {
        let body = self.ports.encode_session_request(request);
        let response = self
            .request(
                config,
                Method::Post,
                config.app_url("/sessions"),
                None,
                body,
            )
            .await?;
        let session = self.read(config, self.ports.decode_session(&response.body))?;
        if session.session_token.is_none() {
            return Err(unreadable(config));
        }
        self.save(config, &session);
        self.apply(Input::SessionStarted(session.clone()));
        Ok(session)
    }

    fn session_token(&self) -> Option<String> {
        self.state
            .borrow()
            .session()
            .and_then(|s| s.session_token.clone())
    }

    fn save(&self, config: &Config, session: &SessionResponse) {
        if let Some(text) = self.ports.encode_session(session) {
            self.ports.set(&config.session_key(), &text);
        }
    }

    /// Sends a request; any answer but 2xx becomes the matching [`Error`].
    async fn request(
        &self,
        config: &Config,
        method: Method,
        url: String,
        bearer: Option<String>,
        body: Option<String>,
    ) -> Result<Response, Error> {
        match self
            .ports
            .send(Request {
                method,
                url,
                bearer,
                body,
            })
            .await
        {
            Err(_) => Err(Error::network(&config.server)),
            Ok(response) if (200..300).contains(&response.status) => Ok(response),
            Ok(response) => Err(Error::from_response(
                &config.server,
                response.status,
                self.ports.decode_error(&response.body),
            )),
        }
    }

    /// What `decoded` holds, or the error of an answer that is not what
    /// the API promised.
    fn read<T>(&self, config: &Config, decoded: Option<T>) -> Result<T, Error> {
        decoded.ok_or_else(|| unreadable(config))
    }
}

/// What `POST /sessions/current/identity` came to.
enum Changed {
    /// The same session continues, with a new identity or new trust.
    Same(SessionResponse),
    /// A different person: a new session, whose token replaces the old.
    New(SessionResponse),
    /// The server no longer knows the session (revoked or expired).
    Gone,
}

/// Whether `input` names the session's customer: the same email (as the
/// server keeps it: trimmed, lowercase), else the same phone. When unsure
/// the server decides (an identity change to the same person keeps the
/// session).
fn same_identity(session: &SessionResponse, input: &UserInput) -> bool {
    let customer = &session.customer;
    fn given(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
    match (given(&input.email), given(&input.phone)) {
        (Some(email), _) => customer
            .email
            .as_deref()
            .is_some_and(|known| known.eq_ignore_ascii_case(email)),
        (None, Some(phone)) => customer.phone.as_deref() == Some(phone),
        (None, None) => false,
    }
}

fn unreadable(config: &Config) -> Error {
    Error::new(
        Code::ServerError,
        [
            "the trustchat server at ",
            &config.server,
            " sent an answer this widget cannot read: check that widget and server versions match",
        ]
        .concat(),
    )
}

fn anonymous_answer(config: &Config) -> Error {
    Error::new(
        Code::ServerError,
        [
            "the trustchat server at ",
            &config.server,
            " answered with an anonymous session",
        ]
        .concat(),
    )
}

#[cfg(test)]
mod tests;
