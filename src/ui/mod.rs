//! The widget's DOM, by hand: a `<div id="trustchat-root">` at the end of
//! the body with an open shadow root holding the styles, the launcher and
//! the panel. Customer and server text is only ever set as `textContent`.
//!
//! [`Ui`] owns every element and [`dom::Listener`] it creates; dropping it
//! removes them all. The panel's content is rebuilt whenever what it shows
//! changes kind (form or chat) or `clearUser` bumps the view's epoch, so
//! nothing the previous customer typed or saw survives.

pub mod dom;

use wasm_bindgen::JsCast;
use web_sys::{
    Document, Element, Event, HtmlElement, HtmlInputElement, KeyboardEvent, ShadowRootInit,
    ShadowRootMode,
};

use crate::core::{FieldErrors, Focus, Panel, View};
use dom::{child, text, toggle, Listener};
use trustchat_protocol::UserInput;

/// What the customer asked for through the DOM.
pub enum Action {
    /// The launcher was pressed.
    Toggle,
    /// The close button or Escape.
    Close,
    /// The onboarding form was submitted.
    Submit(UserInput),
}

/// Where actions go.
pub type Dispatch = fn(Action);

const CSS: &str = include_str!("style.css");
const CHAT_ICON: &str = "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 1-2z";
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

/// The panel's content.
enum Content {
    /// The greeting and the (empty for now) message log.
    Chat {
        /// Holds it all.
        root: Element,
        /// `data-tc="greeting"`.
        greeting: Element,
    },
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

impl Ui {
    /// Creates the host element, the shadow root and the fixed parts.
    pub fn mount(dispatch: Dispatch) -> Option<Ui> {
        let document = web_sys::window()?.document()?;
        let body: Element = document.body()?.into();
        let host = document.create_element("div").ok()?;
        host.set_id("trustchat-root");
        let shadow = host
            .attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))
            .ok()?;
        let root = document.create_element("div").ok()?;
        shadow.append_child(&root).ok()?;
        child(&document, &root, "style", &[])?.set_text_content(Some(CSS));
        let launcher = child(
            &document,
            &root,
            "button",
            &[
                ("type", "button"),
                ("class", "launcher"),
                ("data-tc", "launcher"),
                ("aria-label", "Open chat"),
                ("aria-expanded", "false"),
                ("aria-controls", "trustchat-panel"),
            ],
        )?;
        // The icon is markup of our own, never data.
        launcher.set_inner_html(
            &[
                "<svg viewBox=\"0 0 24 24\" aria-hidden=\"true\" focusable=\"false\"><path d=\"",
                CHAT_ICON,
                "\"/></svg>",
            ]
            .concat(),
        );
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
        body.append_child(&host).ok()?;
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
            (Some(Content::Chat { .. }), Panel::Chat { .. })
                | (Some(Content::Form { .. }), Panel::Onboarding { .. })
        );
        if !fits || self.epoch != view.epoch {
            if let Some(old) = self.content.take() {
                old.root().remove();
            }
            self.content = self.build(&view.panel);
            self.epoch = view.epoch;
        }
        match (&self.content, &view.panel) {
            (Some(Content::Chat { greeting, .. }), Panel::Chat { greeting: text_ }) => {
                text(greeting, text_.as_deref())
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
            Panel::Chat { .. } => {
                let root = child(document, &self.body, "div", &[("data-tc", "chat")])?;
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
                child(
                    document,
                    &root,
                    "div",
                    &[
                        ("data-tc", "messages"),
                        ("role", "log"),
                        ("aria-label", "Messages"),
                    ],
                )?;
                Some(Content::Chat { root, greeting })
            }
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

fn show_errors(fields: &[(HtmlInputElement, Element)], errors: &FieldErrors) {
    for ((input, error), message) in fields.iter().zip([errors.name, errors.email, errors.phone]) {
        text(error, message);
        toggle(input, "aria-invalid", message.map(|_| "true"));
    }
}

impl Content {
    fn root(&self) -> &Element {
        match self {
            Content::Chat { root, .. } | Content::Form { root, .. } => root,
        }
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        self.host.remove();
    }
}
