//! The widget's DOM, by hand: a `<div id="trustchat-root">` at the end of
//! the body with an open shadow root holding the styles, the launcher and
//! the panel. The script-tag loader draws the host and the launcher before
//! the wasm arrives; [`Ui::mount`] adopts them. Customer and server text is only ever set as `textContent`.
//!
//! [`Ui`] owns every element and [`dom::Listener`] it creates; dropping it
//! removes them all. The panel's content is rebuilt whenever what it shows
//! changes kind (form or chat) or `clearUser` bumps the view's epoch, so
//! nothing the previous customer typed or saw survives.
//!
//! The message log is drawn by key (`client_id` for the customer's own
//! messages, else the message id): a pending message turns sent in place,
//! and only lines that changed are redrawn.
//!
//! The satisfaction survey ("How did we do?") shows above the composer
//! (which stays usable) once an agent closes the conversation: native radio
//! buttons in a fieldset (one Tab stop, arrow keys choose, Enter sends), a
//! comment and a "Send rating" button. Its markup is static and our own
//! (`survey.html`), set whole when it appears, so each survey starts blank.

pub mod dom;

use wasm_bindgen::JsCast;
use web_sys::{
    Document, Element, Event, HtmlElement, HtmlInputElement, HtmlTextAreaElement, KeyboardEvent,
    ShadowRootInit, ShadowRootMode,
};

use crate::core::number::{decimal, thousands};
use crate::core::{FieldErrors, Focus, GreetingLink, Line, LineState, Panel, Survey, View};
use dom::{child, find, text, toggle, Listener};
use trustchat_protocol::validate::message_body;
use trustchat_protocol::{Author, ErrorCode, UserInput, MAX_BODY_CHARS};

/// What the customer asked for through the DOM.
pub enum Action {
    /// The launcher was pressed.
    Toggle,
    /// The close button or Escape.
    Close,
    /// The onboarding form was submitted.
    Submit(UserInput),
    /// The composer sent a message (checked with `validate::message_body`).
    Send(String),
    /// "Retry" on a failed message, by `client_id`.
    Retry(String),
    /// "Delete" on a failed message, by `client_id`.
    Discard(String),
    /// The survey was sent: the rating (1 to 5: the form requires one) and
    /// the comment.
    Rate(u8, String),
}

/// Where actions go.
pub type Dispatch = fn(Action);

/// The panel's styles; the launcher's are in `launcher.css`, which the
/// loader (www/widget/launcher.js) draws the launcher with too.
const CSS: &str = include_str!("style.css");
const LAUNCHER_CSS: &str = include_str!("launcher.css");
/// The launcher's icon: markup of our own, never data. The loader draws the
/// same file.
const ICON: &str = include_str!("launcher.svg");
/// What the survey's holder shows: nothing, the survey (static markup of
/// our own, never data), or the thanks.
const SURVEY: [&str; 3] = [
    "",
    include_str!("survey.html"),
    r#"<p class="greet" data-tc="survey-thanks" role="status" tabindex="-1">Thanks for your feedback!</p>"#,
];
/// What the panel says once the identity's trust has lapsed.
const UNVERIFIED: &str =
    "Your identity is no longer verified. Messages you send now are not marked as verified.";
/// The onboarding fields: key, label, input type, autocomplete.
const FIELDS: [(&str, &str, &str, &str); 3] = [
    ("name", "Name", "text", "name"),
    ("email", "Email", "email", "email"),
    ("phone", "Phone", "tel", "tel"),
];

/// The mounted widget.
pub struct Ui {
    /// The document, to create elements.
    document: Document,
    /// `#trustchat-root`, removed on drop.
    host: Element,
    /// The launcher button.
    launcher: HtmlElement,
    /// The panel (`role="dialog"`).
    panel: HtmlElement,
    /// The panel's title (the app name).
    title: Element,
    /// The header badge while trusted, `data-tc="verified"`.
    verified: Element,
    /// A failure on display, `role="alert"`.
    alert: Element,
    /// Says the chat is no longer verified, `data-tc="unverified"`.
    unverified: Element,
    /// Holds the content.
    body: Element,
    /// What the panel shows now.
    content: Option<Content>,
    /// The epoch `content` was built for.
    epoch: u32,
    /// Where the DOM's actions go.
    dispatch: Dispatch,
    /// Launcher click, close click, Escape.
    _listeners: [Listener; 3],
}

/// What the panel says once an agent closed the conversation.
const CLOSED: &str = "This conversation was closed. Write a message to start a new one.";
/// The counter shows from this many characters on.
const COUNT_FROM: usize = MAX_BODY_CHARS - 500;

/// The panel's content.
enum Content {
    /// The greeting, the message log and the composer.
    Chat(Box<Chat>),
    /// The onboarding form.
    Form {
        /// The `<form>`.
        root: Element,
        /// Each field's input and its error paragraph, in [`FIELDS`] order.
        fields: Vec<(HtmlInputElement, Element)>,
        /// The submit button.
        submit: Element,
        /// The submit listener.
        _submit: Listener,
    },
}

/// The chat's elements.
struct Chat {
    /// Holds it all.
    root: Element,
    /// `data-tc="greeting"`.
    greeting: Element,
    /// What `greeting` shows.
    shown_greeting: (Option<String>, Option<GreetingLink>),
    /// `data-tc="messages"`, the log.
    log: Element,
    /// The lines drawn, in order, with what each shows.
    lines: Vec<(Line, Element)>,
    /// `data-tc="closed"`.
    closed: Element,
    /// `data-tc="composer"`.
    composer: HtmlTextAreaElement,
    /// Holds "How did we do?" or the thanks, when shown.
    survey: Element,
    /// What `survey` holds: an index of [`SURVEY`].
    survey_shown: usize,
    /// Submit (the composer's and the survey's), Enter, typing, and the
    /// log's Retry and Delete buttons.
    _listeners: [Listener; 4],
}

impl Ui {
    /// Adopts the host element, shadow root and launcher the script-tag
    /// loader drew (so the launcher neither flickers nor loses focus), or
    /// creates them when there are none (the ES module build, the tests);
    /// then adds the panel.
    pub fn mount(dispatch: Dispatch) -> Option<Ui> {
        let document = web_sys::window()?.document()?;
        let (host, root, launcher) = match adopt(&document) {
            Some(found) => found,
            None => draw_launcher(&document)?,
        };
        child(&document, &root, "style", &[])?.set_text_content(Some(CSS));
        let panel = child(
            &document,
            &root,
            "section",
            &[
                ("id", "trustchat-panel"),
                ("class", "panel"),
                ("data-tc", "panel"),
                ("role", "dialog"),
                ("aria-modal", "false"),
                ("aria-labelledby", "trustchat-title"),
                ("tabindex", "-1"),
                ("hidden", ""),
            ],
        )?;
        let head = child(&document, &panel, "div", &[("class", "head")])?;
        let title = child(
            &document,
            &head,
            "h2",
            &[("id", "trustchat-title"), ("data-tc", "title")],
        )?;
        let verified = child(
            &document,
            &head,
            "span",
            &[("class", "badge"), ("data-tc", "verified"), ("hidden", "")],
        )?;
        let close = child(
            &document,
            &head,
            "button",
            &[
                ("type", "button"),
                ("class", "x"),
                ("data-tc", "close"),
                ("aria-label", "Close chat"),
            ],
        )?;
        close.set_text_content(Some("\u{00d7}"));
        let content = child(
            &document,
            &panel,
            "div",
            &[("class", "body"), ("aria-live", "polite")],
        )?;
        let alert = child(
            &document,
            &content,
            "p",
            &[
                ("class", "alert"),
                ("data-tc", "alert"),
                ("role", "alert"),
                ("hidden", ""),
            ],
        )?;
        let unverified = child(
            &document,
            &content,
            "p",
            &[
                ("class", "note"),
                ("data-tc", "unverified"),
                ("role", "status"),
                ("hidden", ""),
            ],
        )?;
        launcher
            .set_attribute("aria-controls", "trustchat-panel")
            .ok()?;
        let listeners = [
            Listener::new(&launcher, "click", move |_| dispatch(Action::Toggle)),
            Listener::new(&close, "click", move |_| dispatch(Action::Close)),
            Listener::new(&panel, "keydown", move |event: Event| {
                if event
                    .dyn_ref::<KeyboardEvent>()
                    .is_some_and(|k| k.key() == "Escape")
                {
                    event.prevent_default();
                    dispatch(Action::Close);
                }
            }),
        ];
        Some(Ui {
            document,
            host,
            launcher: launcher.dyn_into().ok()?,
            panel: panel.dyn_into().ok()?,
            title,
            verified,
            alert,
            unverified,
            body: content,
            content: None,
            epoch: 0,
            dispatch,
            _listeners: listeners,
        })
    }

    /// Brings the DOM in line with `view`.
    pub fn render(&mut self, view: &View) {
        let launcher: &Element = &self.launcher;
        let _ = launcher.set_attribute("aria-expanded", if view.open { "true" } else { "false" });
        let _ = launcher.set_attribute(
            "aria-label",
            if view.open { "Close chat" } else { "Open chat" },
        );
        self.panel.set_hidden(!view.open);
        self.title.set_text_content(Some(&view.title));
        text(&self.verified, view.verified.as_deref());
        text(&self.alert, view.alert.as_deref());
        text(&self.unverified, view.unverified.then_some(UNVERIFIED));
        let fits = matches!(
            (&self.content, &view.panel),
            (Some(Content::Chat(_)), Panel::Chat { .. })
                | (Some(Content::Form { .. }), Panel::Onboarding { .. })
        );
        if !fits || self.epoch != view.epoch {
            if let Some(old) = self.content.take() {
                old.root().remove();
            }
            self.content = self.build(&view.panel);
            self.epoch = view.epoch;
        }
        match (&mut self.content, &view.panel) {
            (
                Some(Content::Chat(chat)),
                Panel::Chat {
                    greeting,
                    greeting_link,
                },
            ) => {
                let shown = (greeting.clone(), greeting_link.clone());
                if chat.shown_greeting != shown {
                    draw_greeting(&self.document, &chat.greeting, &shown.0, &shown.1);
                    chat.shown_greeting = shown;
                }
                text(&chat.closed, view.closed.then_some(CLOSED));
                draw_survey(chat, view);
                if draw_lines(&self.document, chat, &view.messages) {
                    // New lines: show the latest.
                    self.body.set_scroll_top(self.body.scroll_height());
                }
            }
            (Some(Content::Form { fields, submit, .. }), Panel::Onboarding { errors, busy }) => {
                show_errors(fields, errors);
                toggle(submit, "disabled", busy.then_some(""));
                toggle(submit, "aria-busy", busy.then_some("true"));
            }
            _ => {}
        }
    }

    /// Moves keyboard focus.
    pub fn focus(&self, focus: Focus) {
        let target: Option<HtmlElement> = match (focus, &self.content) {
            (Focus::Launcher, _) => Some(self.launcher.clone()),
            (Focus::Panel, Some(Content::Form { fields, .. })) => {
                fields.first().map(|(input, _)| input.clone().into())
            }
            (Focus::Panel, Some(Content::Chat(chat))) => Some(chat.composer.clone().into()),
            (Focus::Panel, _) => Some(self.panel.clone()),
            (Focus::Field(name), Some(Content::Form { fields, .. })) => FIELDS
                .iter()
                .zip(fields)
                .find(|((key, ..), _)| *key == name)
                .map(|(_, (input, _))| input.clone().into()),
            (Focus::Field(_), _) => None,
        };
        if let Some(target) = target {
            let _ = target.focus();
        }
    }

    fn build(&self, panel: &Panel) -> Option<Content> {
        let document = &self.document;
        match panel {
            Panel::Chat { .. } => build_chat(document, &self.body, self.dispatch)
                .map(|chat| Content::Chat(Box::new(chat))),
            Panel::Onboarding { .. } => {
                let root = child(
                    document,
                    &self.body,
                    "form",
                    &[
                        ("data-tc", "onboarding"),
                        ("aria-label", "Start a chat"),
                        ("novalidate", ""),
                    ],
                )?;
                let mut fields = Vec::with_capacity(FIELDS.len());
                for (key, label, kind, autocomplete) in FIELDS {
                    let id = ["tc-", key].concat();
                    let error_id = ["tc-error-", key].concat();
                    let described = if key == "phone" {
                        ["tc-phone-hint ", &error_id].concat()
                    } else {
                        error_id.clone()
                    };
                    child(document, &root, "label", &[("for", &id)])?.set_text_content(Some(label));
                    let input = child(
                        document,
                        &root,
                        "input",
                        &[
                            ("id", &id),
                            ("name", key),
                            ("type", kind),
                            ("autocomplete", autocomplete),
                            ("data-tc", key),
                            ("aria-describedby", &described),
                        ],
                    )?;
                    if key == "phone" {
                        child(
                            document,
                            &root,
                            "p",
                            &[("id", "tc-phone-hint"), ("class", "hint")],
                        )?
                        .set_text_content(Some("international format, e.g. +14155550100"));
                    }
                    let error = child(
                        document,
                        &root,
                        "p",
                        &[
                            ("id", &error_id),
                            ("class", "err"),
                            ("data-tc", &["error-", key].concat()),
                            ("role", "alert"),
                            ("hidden", ""),
                        ],
                    )?;
                    fields.push((input.dyn_into::<HtmlInputElement>().ok()?, error));
                }
                let submit = child(
                    document,
                    &root,
                    "button",
                    &[("type", "submit"), ("class", "send"), ("data-tc", "submit")],
                )?;
                submit.set_text_content(Some("Start chat"));
                let dispatch = self.dispatch;
                let inputs: Vec<HtmlInputElement> =
                    fields.iter().map(|(input, _)| input.clone()).collect();
                let on_submit = Listener::new(&root, "submit", move |event: Event| {
                    event.prevent_default();
                    let value = |i: usize| {
                        inputs
                            .get(i)
                            .map(HtmlInputElement::value)
                            .unwrap_or_default()
                    };
                    dispatch(Action::Submit(UserInput {
                        name: value(0),
                        email: Some(value(1)),
                        phone: Some(value(2)),
                    }));
                });
                Some(Content::Form {
                    root,
                    fields,
                    submit,
                    _submit: on_submit,
                })
            }
        }
    }
}

/// The host, the element holding the widget in its shadow root, and the
/// launcher that the loader drew, if it did.
fn adopt(document: &Document) -> Option<(Element, Element, Element)> {
    let host = document.get_element_by_id("trustchat-root")?;
    let found = host.shadow_root().and_then(|shadow| {
        let root = shadow.get_element_by_id("tc-root")?;
        let launcher = root.query_selector("[data-tc=launcher]").ok()??;
        // A panel means a widget already drew here (one still tearing
        // down, or a second copy of the script): not the loader's.
        let fresh = root.query_selector("[data-tc=panel]").ok()?.is_none();
        fresh.then_some((root, launcher))
    });
    match found {
        Some((root, launcher)) => Some((host, root, launcher)),
        None => {
            host.remove();
            None
        }
    }
}

/// Draws what the loader draws: `<div id="trustchat-root">` at the end of
/// the body, an open shadow root, the launcher's styles and the launcher.
fn draw_launcher(document: &Document) -> Option<(Element, Element, Element)> {
    let body = document.body()?;
    let host = document.create_element("div").ok()?;
    host.set_id("trustchat-root");
    let shadow = host
        .attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))
        .ok()?;
    let root = document.create_element("div").ok()?;
    root.set_id("tc-root");
    shadow.append_child(&root).ok()?;
    child(document, &root, "style", &[])?.set_text_content(Some(LAUNCHER_CSS));
    let launcher = child(
        document,
        &root,
        "button",
        &[
            ("type", "button"),
            ("class", "launcher"),
            ("data-tc", "launcher"),
            ("aria-label", "Open chat"),
            ("aria-expanded", "false"),
        ],
    )?;
    launcher.set_inner_html(ICON);
    body.append_child(&host).ok()?;
    Some((host, root, launcher))
}

fn show_errors(fields: &[(HtmlInputElement, Element)], errors: &FieldErrors) {
    for ((input, error), message) in fields.iter().zip([errors.name, errors.email, errors.phone]) {
        text(error, message);
        toggle(input, "aria-invalid", message.map(|_| "true"));
    }
}

impl Content {
    fn root(&self) -> &Element {
        match self {
            Content::Chat(chat) => &chat.root,
            Content::Form { root, .. } => root,
        }
    }
}

fn build_chat(document: &Document, body: &Element, dispatch: Dispatch) -> Option<Chat> {
    let root = child(
        document,
        body,
        "div",
        &[("class", "chat"), ("data-tc", "chat")],
    )?;
    let greeting = child(
        document,
        &root,
        "p",
        &[
            ("class", "greet"),
            ("data-tc", "greeting"),
            ("role", "status"),
            ("hidden", ""),
        ],
    )?;
    let log = child(
        document,
        &root,
        "div",
        &[
            ("class", "log"),
            ("data-tc", "messages"),
            ("role", "log"),
            ("aria-live", "polite"),
            ("aria-label", "Messages"),
        ],
    )?;
    let closed = child(
        document,
        &root,
        "p",
        &[
            ("class", "note"),
            ("data-tc", "closed"),
            ("role", "status"),
            ("hidden", ""),
        ],
    )?;
    let survey = child(document, &root, "div", &[("hidden", "")])?;
    let form = child(
        document,
        &root,
        "form",
        &[
            ("class", "composer"),
            ("data-tc", "composer-form"),
            ("novalidate", ""),
        ],
    )?;
    child(
        document,
        &form,
        "label",
        &[("for", "tc-composer"), ("class", "sr")],
    )?
    .set_text_content(Some("Message"));
    let composer: HtmlTextAreaElement = child(
        document,
        &form,
        "textarea",
        &[
            ("id", "tc-composer"),
            ("name", "message"),
            ("rows", "2"),
            ("data-tc", "composer"),
            ("aria-describedby", "tc-counter tc-composer-error"),
        ],
    )?
    .dyn_into()
    .ok()?;
    let counter = child(
        document,
        &form,
        "p",
        &[
            ("id", "tc-counter"),
            ("class", "hint"),
            ("data-tc", "counter"),
            ("aria-live", "polite"),
            ("hidden", ""),
        ],
    )?;
    let error = child(
        document,
        &form,
        "p",
        &[
            ("id", "tc-composer-error"),
            ("class", "err"),
            ("data-tc", "composer-error"),
            ("role", "alert"),
            ("hidden", ""),
        ],
    )?;
    child(
        document,
        &form,
        "button",
        &[("type", "submit"), ("class", "send"), ("data-tc", "send")],
    )?
    .set_text_content(Some("Send"));
    let composer_ = Composer {
        input: composer.clone(),
        counter,
        error,
    };
    let (on_key, on_input) = (composer_.clone(), composer_.clone());
    let focus = composer.clone();
    let holder = survey.clone();
    let listeners = [
        // The composer's form and the survey's: submit events bubble.
        Listener::new(&root, "submit", move |event: Event| {
            event.prevent_default();
            let form = event.target().map(JsCast::unchecked_into::<Element>);
            if form.and_then(|f| f.get_attribute("data-tc")).as_deref() == Some("survey") {
                rate(&holder, dispatch);
            } else {
                composer_.send(dispatch);
            }
        }),
        Listener::new(&composer, "keydown", move |event: Event| {
            let Some(key) = event.dyn_ref::<KeyboardEvent>() else {
                return;
            };
            // Enter sends, Shift+Enter is a new line; Enter that ends an
            // input method's composition is not a send.
            if key.key() == "Enter" && !key.shift_key() && !key.is_composing() {
                event.prevent_default();
                on_key.send(dispatch);
            }
        }),
        Listener::new(&composer, "input", move |_| on_input.typed()),
        Listener::new(&log, "click", move |event: Event| {
            let target = event.target().and_then(|t| t.dyn_into::<Element>().ok());
            let Some(button) = target.and_then(|t| t.closest("button[data-action]").ok().flatten())
            else {
                return;
            };
            let client_id = button
                .closest("[data-client-id]")
                .ok()
                .flatten()
                .and_then(|item| item.get_attribute("data-client-id"));
            if let Some(client_id) = client_id {
                let retry = button.get_attribute("data-action").as_deref() == Some("retry");
                // The buttons go away with the failure: focus stays useful.
                let _ = focus.focus();
                dispatch(if retry {
                    Action::Retry(client_id)
                } else {
                    Action::Discard(client_id)
                });
            }
        }),
    ];
    Some(Chat {
        root,
        greeting,
        shown_greeting: (None, None),
        log,
        lines: vec![],
        closed,
        composer,
        survey,
        survey_shown: 0,
        _listeners: listeners,
    })
}

/// Sends the survey in `holder`: the checked choice's value ("1" to "5";
/// the browser lets no form without one through) and the comment.
fn rate(holder: &Element, dispatch: Dispatch) {
    let rating = find(holder, ":checked")
        .and_then(|choice| choice.get_attribute("value"))
        .map_or(0, |value| value.as_bytes()[0].wrapping_sub(b'0'));
    let comment =
        find(holder, "textarea").map(|c| c.unchecked_into::<HtmlTextAreaElement>().value());
    dispatch(Action::Rate(rating, comment.unwrap_or_default()));
}

/// Shows the survey while asking (what was entered stays through a
/// failure), the thanks once sent, else nothing.
fn draw_survey(chat: &mut Chat, view: &View) {
    let holder = &chat.survey;
    let shown = match view.survey {
        None => 0,
        Some(Survey::Ask | Survey::Sending) => 1,
        Some(Survey::Thanks) => 2,
    };
    if chat.survey_shown != shown {
        // The Send button goes with the survey: focus must not fall out of
        // the panel. (`query_selector`, which the widget imports anyway,
        // rather than `matches(":focus-within")`: each import weighs.)
        let focused = find(holder, ":focus").is_some();
        holder.set_inner_html(SURVEY[shown]);
        toggle(holder, "hidden", (shown == 0).then_some(""));
        // Only the thanks has a tabindex.
        if let Some(thanks) = find(holder, "[tabindex]").filter(|_| focused) {
            let _ = thanks.unchecked_into::<HtmlElement>().focus();
        }
        chat.survey_shown = shown;
    }
    if shown == 1 {
        let busy = view.survey == Some(Survey::Sending);
        toggle(holder, "aria-busy", busy.then_some("true"));
        if let Some(why) = find(holder, "[data-tc=survey-error]") {
            text(&why, view.survey_error.as_deref());
        }
    }
}

/// The composer's parts its listeners need.
#[derive(Clone)]
struct Composer {
    /// The textarea.
    input: HtmlTextAreaElement,
    /// The characters-left counter.
    counter: Element,
    /// Why the message cannot be sent.
    error: Element,
}

impl Composer {
    /// Sends the text when it may be sent, else says why in place. Empty
    /// or blank text is not sent, and needs no words.
    fn send(&self, dispatch: Dispatch) {
        let value = self.input.value();
        match message_body(&value) {
            Ok(_) => {
                self.input.set_value("");
                self.typed();
                dispatch(Action::Send(value));
            }
            Err(invalid) if invalid.code == ErrorCode::MessageTooLong => {
                let message = [
                    "This message has ",
                    &thousands(value.chars().count()),
                    " characters; shorten it to 4,000 or fewer to send it.",
                ]
                .concat();
                text(&self.error, Some(&message));
                toggle(&self.input, "aria-invalid", Some("true"));
            }
            Err(_) => {}
        }
    }

    /// The text changed: the counter follows, a past complaint goes.
    fn typed(&self) {
        let count = self.input.value().chars().count();
        let shown = (count >= COUNT_FROM).then(|| [&thousands(count), " / 4,000"].concat());
        text(&self.counter, shown.as_deref());
        toggle(
            &self.counter,
            "class",
            Some(if count > MAX_BODY_CHARS {
                "hint over"
            } else {
                "hint"
            }),
        );
        if count <= MAX_BODY_CHARS {
            text(&self.error, None);
            toggle(&self.input, "aria-invalid", None);
        }
    }
}

/// Shows the greeting as text, with the app's login URL in it (when
/// `link` says where) as a "Log in" link; hidden when there is none yet.
fn draw_greeting(
    document: &Document,
    element: &Element,
    greeting: &Option<String>,
    link: &Option<GreetingLink>,
) {
    text(element, greeting.as_deref());
    let (Some(greeting), Some(link)) = (greeting, link) else {
        return;
    };
    let end = link.at + link.url.len();
    let (Some(before), Some(after)) = (greeting.get(..link.at), greeting.get(end..)) else {
        return;
    };
    element.set_text_content(None);
    let _ = element.append_with_str_1(before);
    if let Some(a) = child(
        document,
        element,
        "a",
        &[
            ("href", &link.url),
            ("rel", "noopener noreferrer"),
            ("class", "login"),
            ("data-tc", "greeting-link"),
        ],
    ) {
        a.set_text_content(Some("Log in"));
    }
    let _ = element.append_with_str_1(after);
}

/// Brings the log in line with `lines`, by key; whether lines were added.
fn draw_lines(document: &Document, chat: &mut Chat, lines: &[Line]) -> bool {
    let mut added = false;
    for (i, line) in lines.iter().enumerate() {
        let found = chat.lines[i..]
            .iter()
            .position(|(drawn, _)| drawn.key == line.key)
            .map(|at| at + i);
        match found {
            Some(at) => {
                if at != i {
                    let moved = chat.lines.remove(at);
                    let _ = chat.log.insert_before(&moved.1, Some(&chat.lines[i].1));
                    chat.lines.insert(i, moved);
                }
                let (drawn, item) = &mut chat.lines[i];
                if drawn != line {
                    draw_line(document, item, line);
                    *drawn = line.clone();
                }
            }
            None => {
                let Ok(item) = document.create_element("div") else {
                    continue;
                };
                draw_line(document, &item, line);
                let next = chat.lines.get(i).map(|(_, e)| e);
                let _ = chat.log.insert_before(&item, next.map(|e| e.as_ref()));
                chat.lines.insert(i, (line.clone(), item));
                added = true;
            }
        }
    }
    for (_, item) in chat.lines.drain(lines.len()..) {
        item.remove();
    }
    added
}

/// Draws one message (as text, never as HTML) into `item`.
fn draw_line(document: &Document, item: &Element, line: &Line) {
    let (state, note) = match &line.state {
        LineState::Pending => ("pending", Some("Sending\u{2026}")),
        LineState::Sent => ("sent", None),
        LineState::Failed(_) => ("failed", Some("Not sent")),
    };
    let customer = line.author == Author::Customer;
    let seq = line.seq.map(decimal);
    for (name, value) in [
        ("class", Some(if customer { "msg me" } else { "msg agent" })),
        ("data-tc", Some("message")),
        (
            "data-author",
            Some(if customer { "customer" } else { "agent" }),
        ),
        ("data-state", Some(state)),
        ("data-seq", seq.as_deref()),
        ("data-client-id", line.client_id.as_deref()),
    ] {
        toggle(item, name, value);
    }
    item.set_text_content(None);
    let Some(meta) = child(document, item, "p", &[("class", "meta")]) else {
        return;
    };
    let _ = meta.append_with_str_1(&line.who);
    let _ = meta.append_with_str_1(" \u{00b7} ");
    match note {
        Some(note) => {
            let _ = meta.append_with_str_1(note);
        }
        None => {
            let date = js_sys::Date::new(&(line.at as f64).into());
            let iso = date.to_iso_string().as_string().unwrap_or_default();
            if let Some(time) = child(document, &meta, "time", &[("datetime", &iso)]) {
                let mut hh_mm = String::with_capacity(5);
                for (i, n) in [date.get_hours(), date.get_minutes()]
                    .into_iter()
                    .enumerate()
                {
                    if i == 1 {
                        hh_mm.push(':');
                    }
                    hh_mm.push(char::from(b'0' + (n / 10 % 10) as u8));
                    hh_mm.push(char::from(b'0' + (n % 10) as u8));
                }
                time.set_text_content(Some(&hh_mm));
            }
        }
    }
    if let Some(body) = child(document, item, "p", &[("class", "text")]) {
        body.set_text_content(Some(&line.body));
    }
    if let Some(link) = &line.login_link {
        if let Some(a) = child(
            document,
            item,
            "a",
            &[
                ("href", link),
                ("rel", "noopener noreferrer"),
                ("class", "login"),
                ("data-tc", "login-link"),
            ],
        ) {
            a.set_text_content(Some("Log in"));
        }
    }
    if let LineState::Failed(reason) = &line.state {
        if let Some(why) = child(
            document,
            item,
            "p",
            &[("class", "err"), ("data-tc", "failed-reason")],
        ) {
            why.set_text_content(Some(reason));
        }
        for (action, label) in [("retry", "Retry"), ("delete", "Delete")] {
            if let Some(button) = child(
                document,
                item,
                "button",
                &[
                    ("type", "button"),
                    ("class", "act"),
                    ("data-action", action),
                    ("data-tc", action),
                ],
            ) {
                button.set_text_content(Some(label));
            }
        }
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        self.host.remove();
    }
}
