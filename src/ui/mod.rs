//! The widget's DOM, by hand: a `<div id="trustchat-root">` at the end of
//! the body with an open shadow root holding the styles, the launcher and
//! the panel. The script-tag loader draws the host and the launcher before
//! the wasm arrives; [`Ui::mount`] adopts them. Customer and server text is
//! only ever set as `textContent`.
//!
//! The static parts (the panel's frame, the onboarding form, the chat's
//! frame, the survey) are markup of our own, never data, set whole with
//! `innerHTML`: far fewer bytes of wasm than an element at a time. Their
//! texts come from the customer's catalog ([`text`]).
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
//! comment and a "Send rating" button, each survey starting blank.
//!
//! The host page's `<html>` element carries `trustchat-open`,
//! `trustchat-unread` and `trustchat-trusted`, for sites that draw their
//! own launcher.

pub mod dom;
pub mod text;

use wasm_bindgen::JsCast;
use web_sys::{
    Document, Element, Event, HtmlElement, HtmlInputElement, HtmlTextAreaElement, KeyboardEvent,
};

use crate::core::number::decimal;
use crate::core::{
    sendable, too_long, FieldErrors, Focus, GreetingLink, Line, LineState, Panel, Survey, View,
};
use dom::{child, find, text as show, toggle, Listener};
use text::{localize, n, t};
use trustchat_protocol::{Author, Availability, UserInput, MAX_BODY_CHARS};

/// What the customer asked for through the DOM.
pub enum Action {
    /// The launcher was pressed.
    Toggle,
    /// The close button or Escape.
    Close,
    /// The onboarding form was submitted, with whether the browser finds
    /// the email and the phone misshapen (`type=email`, `pattern`).
    Submit(UserInput, [bool; 2]),
    /// The composer sent a message (`sendable`).
    Send(String),
    /// The customer typed in the composer.
    Typed,
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
/// The panel's frame.
const PANEL: &str = include_str!("panel.html");
/// The onboarding form.
const FORM: &str = include_str!("form.html");
/// The chat's frame.
const CHAT: &str = include_str!("chat.html");
/// What the survey's holder shows: nothing, the survey, or the thanks.
const SURVEY: [&str; 3] = [
    "",
    include_str!("survey.html"),
    r#"<p class="greet" data-tc="survey-thanks" role="status" tabindex="-1" data-t="thanks"></p>"#,
];
/// The onboarding fields, in the form's order.
const FIELDS: [&str; 3] = ["name", "email", "phone"];
/// The `<html>` classes: open, unread, trusted.
const CLASSES: [&str; 3] = ["trustchat-open", "trustchat-unread", "trustchat-trusted"];

/// The mounted widget.
pub struct Ui {
    /// `#trustchat-root`, removed on drop.
    host: Element,
    /// The page's `<html>`, for its classes.
    html: Element,
    /// The launcher button.
    launcher: HtmlElement,
    /// The unread count on the launcher, `data-tc="unread"`.
    badge: Element,
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
    /// Says when support is away, `data-tc="availability"`.
    away: Element,
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

/// The counter shows from this many characters on.
const COUNT_FROM: usize = MAX_BODY_CHARS - 500;

/// The panel's content.
enum Content {
    /// The greeting, the message log and the composer.
    Chat(Box<Chat>),
    /// The onboarding form.
    Form {
        /// Holds the `<form>`.
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
    /// `data-tc="typing"`.
    typing: Element,
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

/// Sets `markup` (our own, never data) as the content of a new `<div>` in
/// `parent`, with its texts filled in.
fn markup(document: &Document, parent: &Element, markup: &str) -> Option<Element> {
    let holder = child(document, parent, "div", &[])?;
    holder.set_inner_html(markup);
    localize(&holder);
    Some(holder)
}

/// The element of `root` with `data-tc="{name}"`.
fn part(root: &Element, name: &str) -> Option<Element> {
    find(root, &["[data-tc=", name, "]"].concat())
}

impl Ui {
    /// Adopts the host element, shadow root and launcher the JavaScript
    /// API drew (www/widget/launcher.js: so the launcher neither flickers
    /// nor loses focus, and the wasm does not carry it twice); then adds
    /// the panel.
    pub fn mount(dispatch: Dispatch) -> Option<Ui> {
        let document = web_sys::window()?.document()?;
        let (host, root, launcher) = adopt(&document)?;
        child(&document, &root, "style", &[])?.set_text_content(Some(CSS));
        let frame = markup(&document, &root, PANEL)?;
        let panel = part(&frame, "panel")?;
        toggle(&panel, "lang", Some(&t("@lang")));
        toggle(&panel, "dir", Some(&t("@dir")));
        let close = part(&frame, "close")?;
        // The count is seen on the badge and heard in the launcher's name
        // ("Open chat, 3 unread messages"): the badge itself is hidden
        // from assistive technology, and the name holds what it shows.
        launcher
            .insert_adjacent_html(
                "beforeend",
                r#"<span class="unread" data-tc="unread" aria-hidden="true" hidden></span>"#,
            )
            .ok()?;
        let badge = part(&launcher, "unread")?;
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
            html: document.document_element()?,
            host,
            launcher: launcher.dyn_into().ok()?,
            badge,
            title: part(&frame, "title")?,
            verified: part(&frame, "verified")?,
            alert: part(&frame, "alert")?,
            unverified: part(&frame, "unverified")?,
            away: part(&frame, "availability")?,
            body: find(&frame, ".body")?,
            panel: panel.dyn_into().ok()?,
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
        let unread = (view.unread > 0).then(|| n("unread", view.unread as f64));
        let label = t(if view.open { "close" } else { "open" });
        let _ = launcher.set_attribute(
            "aria-label",
            &match &unread {
                Some(unread) => [&label, ", ", unread].concat(),
                None => label,
            },
        );
        show(
            &self.badge,
            unread
                .as_ref()
                .map(|_| decimal(view.unread as i64))
                .as_deref(),
        );
        toggle(&self.badge, "aria-label", unread.as_deref());
        let classes = self.html.class_list();
        for (class, on) in CLASSES
            .into_iter()
            .zip([view.open, view.unread > 0, view.trusted])
        {
            let _ = classes.toggle_with_force(class, on);
        }
        self.panel.set_hidden(!view.open);
        self.title.set_text_content(Some(&view.title));
        show(
            &self.verified,
            view.verified
                .as_ref()
                .map(|first| match first.as_str() {
                    "" => t("verified"),
                    first => text::with("verified_as", &first.into()),
                })
                .as_deref(),
        );
        show(&self.alert, view.alert.as_deref().map(t).as_deref());
        toggle(&self.unverified, "hidden", (!view.unverified).then_some(""));
        let away = match (view.availability, view.next_open_at) {
            (Availability::Available, _) => None,
            (Availability::Busy, _) => Some(("busy", t("busy"))),
            (Availability::Closed, Some(at)) => Some(("closed", n("@back", at as f64))),
            (Availability::Closed, None) => Some(("closed", t("closed_now"))),
        };
        toggle(&self.away, "data-availability", away.as_ref().map(|a| a.0));
        show(&self.away, away.as_ref().map(|a| a.1.as_str()));
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
                    draw_greeting(&chat.greeting, &shown.0, &shown.1);
                    chat.shown_greeting = shown;
                }
                toggle(&chat.closed, "hidden", (!view.closed).then_some(""));
                show(
                    &chat.typing,
                    view.typing
                        .as_ref()
                        .map(|name| {
                            let name = if name.is_empty() {
                                t("support")
                            } else {
                                name.clone()
                            };
                            text::with("typing", &name.into())
                        })
                        .as_deref(),
                );
                draw_survey(chat, view);
                if draw_lines(chat, &view.messages) {
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
                .find(|(key, _)| **key == name)
                .map(|(_, (input, _))| input.clone().into()),
            (Focus::Field(_), _) => None,
        };
        if let Some(target) = target {
            let _ = target.focus();
        }
    }

    fn build(&self, panel: &Panel) -> Option<Content> {
        let document = self.host.owner_document()?;
        match panel {
            Panel::Chat { .. } => build_chat(&document, &self.body, self.dispatch)
                .map(|chat| Content::Chat(Box::new(chat))),
            Panel::Onboarding { .. } => {
                let root = markup(&document, &self.body, FORM)?;
                let mut fields = Vec::with_capacity(FIELDS.len());
                for key in FIELDS {
                    let input = part(&root, key)?.dyn_into::<HtmlInputElement>().ok()?;
                    fields.push((input, part(&root, &["error-", key].concat())?));
                }
                let submit = part(&root, "submit")?;
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
                    let misshapen =
                        |i: usize| inputs.get(i).is_some_and(|input| !input.check_validity());
                    dispatch(Action::Submit(
                        UserInput {
                            name: value(0),
                            email: Some(value(1)),
                            phone: Some(value(2)),
                        },
                        [misshapen(1), misshapen(2)],
                    ));
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
        let launcher = part(&root, "launcher")?;
        // A panel means a widget already drew here (one still tearing
        // down, or a second copy of the script): not the loader's.
        let fresh = part(&root, "panel").is_none();
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

fn show_errors(fields: &[(HtmlInputElement, Element)], errors: &FieldErrors) {
    for ((input, error), message) in fields
        .iter()
        .zip([&errors.name, &errors.email, &errors.phone])
    {
        show(error, message.as_deref().map(t).as_deref());
        toggle(input, "aria-invalid", message.as_ref().map(|_| "true"));
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
    let root = markup(document, body, CHAT)?;
    let log = part(&root, "messages")?;
    let composer: HtmlTextAreaElement = part(&root, "composer")?.dyn_into().ok()?;
    let survey = part(&root, "survey-holder")?;
    let composer_ = Composer {
        input: composer.clone(),
        counter: part(&root, "counter")?,
        error: part(&root, "composer-error")?,
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
        Listener::new(&composer, "input", move |_| {
            on_input.typed();
            dispatch(Action::Typed);
        }),
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
        greeting: part(&root, "greeting")?,
        closed: part(&root, "closed")?,
        typing: part(&root, "typing")?,
        root,
        shown_greeting: (None, None),
        log,
        lines: vec![],
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
        localize(holder);
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
        if let Some(why) = part(holder, "survey-error") {
            show(
                &why,
                view.survey_error
                    .as_deref()
                    .map(|e| text::with("rating_failed", &t(e).into()))
                    .as_deref(),
            );
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
        if sendable(&value) {
            self.input.set_value("");
            self.typed();
            dispatch(Action::Send(value));
        } else if too_long(&value) {
            let message = n("too_long", value.chars().count() as f64);
            show(&self.error, Some(&message));
            toggle(&self.input, "aria-invalid", Some("true"));
        }
    }

    /// The text changed: the counter follows, a past complaint goes.
    fn typed(&self) {
        let count = self.input.value().chars().count();
        let shown = (count >= COUNT_FROM).then(|| n("count", count as f64));
        show(&self.counter, shown.as_deref());
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
            show(&self.error, None);
            toggle(&self.input, "aria-invalid", None);
        }
    }
}

/// Shows the greeting as text, with the app's login URL in it (when
/// `link` says where) as a "Log in" link; hidden when there is none yet.
fn draw_greeting(element: &Element, greeting: &Option<String>, link: &Option<GreetingLink>) {
    show(element, greeting.as_deref());
    let (Some(greeting), Some(link)) = (greeting, link) else {
        return;
    };
    let end = link.at + link.url.len();
    let (Some(before), Some(after)) = (greeting.get(..link.at), greeting.get(end..)) else {
        return;
    };
    element.set_text_content(Some(before));
    login_link(element, &link.url, "greeting-link");
    let _ = element.append_with_str_1(after);
}

/// A "Log in" link to `url` (the app's own `login_url`) at the end of
/// `parent`.
fn login_link(parent: &Element, url: &str, name: &str) -> Option<Element> {
    let document = parent.owner_document()?;
    let a = child(
        &document,
        parent,
        "a",
        &[
            ("href", url),
            ("rel", "noopener noreferrer"),
            ("class", "login"),
            ("data-tc", name),
        ],
    )?;
    a.set_text_content(Some(&t("log_in")));
    Some(a)
}

/// Brings the log in line with `lines`, by key; whether lines were added.
fn draw_lines(chat: &mut Chat, lines: &[Line]) -> bool {
    let Some(document) = chat.log.owner_document() else {
        return false;
    };
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
                    draw_line(item, line);
                    *drawn = line.clone();
                }
            }
            None => {
                let Ok(item) = document.create_element("div") else {
                    continue;
                };
                draw_line(&item, line);
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
fn draw_line(item: &Element, line: &Line) {
    let (state, note) = match &line.state {
        LineState::Pending => ("pending", Some("sending")),
        LineState::Sent => ("sent", None),
        LineState::Failed(_) => ("failed", Some("not_sent")),
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
    item.set_inner_html(r#"<p class="meta"><span></span> · <time></time></p><p class="text"></p>"#);
    let who = if customer {
        t("you")
    } else if line.who.is_empty() {
        t("support")
    } else {
        line.who.clone()
    };
    if let Some(span) = find(item, "span") {
        span.set_text_content(Some(&who));
    }
    if let Some(time) = find(item, "time") {
        match note {
            Some(note) => time.set_text_content(Some(&t(note))),
            None => {
                let date = js_sys::Date::new(&(line.at as f64).into());
                toggle(
                    &time,
                    "datetime",
                    date.to_iso_string().as_string().as_deref(),
                );
                time.set_text_content(Some(&n("@time", line.at as f64)));
            }
        }
    }
    if let Some(body) = find(item, ".text") {
        body.set_text_content(Some(&line.body));
    }
    if let Some(link) = &line.login_link {
        login_link(item, link, "login-link");
    }
    if line.seen {
        let _ = item.insert_adjacent_html(
            "beforeend",
            r#"<p class="seen" data-tc="seen" data-t="seen"></p>"#,
        );
        localize(item);
    }
    if let LineState::Failed(reason) = &line.state {
        let _ = item.insert_adjacent_html(
            "beforeend",
            r#"<p class="err" data-tc="failed-reason"></p><button type="button" class="act" data-action="retry" data-tc="retry" data-t="retry"></button><button type="button" class="act" data-action="delete" data-tc="delete" data-t="delete"></button>"#,
        );
        if let Some(why) = part(item, "failed-reason") {
            why.set_text_content(Some(&t(&["error_", reason].concat())));
        }
        localize(item);
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        let classes = self.html.class_list();
        for class in CLASSES {
            let _ = classes.toggle_with_force(class, false);
        }
        self.host.remove();
    }
}
