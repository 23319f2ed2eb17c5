//! The browser side of the widget: the [`Browser`] ports (fetch,
//! `localStorage` and `sessionStorage`, the browser's JSON, the shadow DOM,
//! the page's listeners, `fetchJwt`, the clock, the trust and chat timers,
//! the WebSocket and randomness), the one driver of the page, and the
//! bodies of the exported JavaScript API that `lib.rs` delegates to.

mod fetch;
mod js;
mod socket;
mod storage;
mod timer;

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise};
use trustchat_protocol::{
    AppInfo, ClientFrame, CreateSessionRequest, ErrorBody, Message, MessagesPage, RateConversation,
    SendMessage, ServerFrame, SessionResponse,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, spawn_local, JsFuture};

use crate::core::{Code, Error, Event, Focus, PendingRecord, View};
use crate::driver::Driver;
use crate::platform::{Host, Json, Task};
use crate::ui::dom::Listener;
use crate::ui::{Action, Ui};

/// The browser's ports, plus the DOM and the listeners they drive.
#[derive(Default)]
pub struct Browser {
    /// `emit(event, detail)`: the page's listeners, kept by the JavaScript
    /// API.
    events: RefCell<Option<Function>>,
    /// The DOM, mounted on the first render; dropping it removes it all.
    ui: RefCell<Option<Ui>>,
    /// `init`'s `fetchJwt`, called when the identity token is about to
    /// expire.
    fetch_jwt: RefCell<Option<Function>>,
    /// The trust timer, when armed; dropping it clears it.
    timer: RefCell<Option<timer::Timeout>>,
    /// The chat timer, when armed.
    wake: RefCell<Option<timer::Timeout>>,
    /// The WebSocket, while one is wanted; dropping it closes it.
    socket: RefCell<Option<socket::WebSocket>>,
    /// The page's `online`, `visibilitychange` and `storage` listeners.
    page: RefCell<Vec<Listener>>,
}

/// JSON text of `value`, by the browser's `JSON`.
fn stringify(value: &JsValue) -> Option<String> {
    js_sys::JSON::stringify(value).ok()?.as_string()
}

/// `text` parsed by the browser's `JSON`, then read by `read`.
fn parse<T>(text: &str, read: impl FnOnce(&JsValue) -> Option<T>) -> Option<T> {
    read(&js_sys::JSON::parse(text).ok()?)
}

impl Json for Browser {
    fn decode_app(&self, text: &str) -> Option<AppInfo> {
        parse(text, js::app)
    }

    fn decode_session(&self, text: &str) -> Option<SessionResponse> {
        parse(text, js::session)
    }

    fn encode_session(&self, session: &SessionResponse) -> Option<String> {
        stringify(&js::session_value(session))
    }

    fn decode_error(&self, text: &str) -> Option<ErrorBody> {
        parse(text, js::error_body)
    }

    fn encode_session_request(&self, request: &CreateSessionRequest) -> Option<String> {
        stringify(&js::session_request(request))
    }

    fn encode_send(&self, message: &SendMessage) -> Option<String> {
        stringify(&js::send(message))
    }

    fn encode_rating(&self, rating: &RateConversation) -> Option<String> {
        stringify(&js::rating(rating))
    }

    fn decode_frame(&self, text: &str) -> Option<ServerFrame> {
        parse(text, js::frame)
    }

    fn decode_page(&self, text: &str) -> Option<MessagesPage> {
        parse(text, js::page)
    }

    fn decode_message(&self, text: &str) -> Option<Message> {
        parse(text, js::message)
    }

    fn encode_frame(&self, frame: &ClientFrame) -> Option<String> {
        stringify(&js::client_frame(frame))
    }

    fn encode_pending(&self, records: &[PendingRecord]) -> Option<String> {
        stringify(&js::pending(records))
    }

    fn decode_pending(&self, text: &str) -> Option<Vec<PendingRecord>> {
        parse(text, js::pending_records)
    }
}

impl Host for Browser {
    fn render(&self, view: &View) {
        let mut ui = self.ui.borrow_mut();
        if ui.is_none() {
            *ui = Ui::mount(dispatch_action);
            if ui.is_none() {
                log_error(
                    "could not create the widget's elements in this page",
                    &JsValue::UNDEFINED,
                );
            }
        }
        if let Some(ui) = ui.as_mut() {
            ui.render(view);
        }
    }

    fn focus(&self, focus: Focus) {
        if let Some(ui) = self.ui.borrow().as_ref() {
            ui.focus(focus);
        }
    }

    fn emit(&self, event: Event) {
        let detail = match &event {
            Event::Ready(user) => js::user(user.as_ref()),
            Event::Identified(user) | Event::Trusted(user) => js::user(Some(user)),
            Event::Error(error) => js::error(error),
            Event::MessageSent(message) | Event::MessageReceived(message) => {
                js::message_value(message)
            }
            Event::Unread(count) => js::object_of(&[("count", (*count as f64).into())]),
            Event::Availability(availability, next) => js::object_of(&[
                ("availability", availability.as_str().into()),
                (
                    "nextOpenAt",
                    next.map_or(JsValue::NULL, |at| (at as f64).into()),
                ),
            ]),
            Event::ConversationStarted(id) | Event::ConversationEnded(id) => {
                js::object_of(&[("conversationId", id.into())])
            }
            Event::Cleared | Event::TokenExpired | Event::Open | Event::Close => JsValue::UNDEFINED,
        };
        if let Some(emit) = self.events.borrow().as_ref() {
            let _ = emit.call2(&JsValue::UNDEFINED, &event.name().into(), &detail);
        }
    }

    fn spawn(&self, task: Task) {
        spawn_local(task);
    }

    async fn fetch_jwt(&self) -> Result<String, Error> {
        let failed = |why: &str| {
            Error::new(
                Code::TokenExpired,
                ["the identity token expired and fetchJwt ", why].concat(),
            )
        };
        let Some(fetch_jwt) = self.fetch_jwt.borrow().clone() else {
            return Err(failed("was not given to init"));
        };
        let settled = match fetch_jwt.call0(&JsValue::UNDEFINED) {
            Ok(value) => JsFuture::from(Promise::resolve(&value)).await,
            Err(thrown) => Err(thrown),
        };
        match settled {
            Ok(token) => token
                .as_string()
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(|| {
                    Error::invalid(
                        "fetchJwt must resolve with the identity token as a non-empty string",
                    )
                }),
            Err(reason) => {
                let message = js_sys::Reflect::get(&reason, &"message".into())
                    .ok()
                    .and_then(|m| m.as_string())
                    .or_else(|| reason.as_string())
                    .unwrap_or_default();
                Err(failed(&["failed: ", &message].concat()))
            }
        }
    }
}

thread_local! {
    /// The page's one widget.
    static DRIVER: RefCell<Rc<Driver<Browser>>> = RefCell::new(Driver::new(Browser::default()));
}

fn driver() -> Rc<Driver<Browser>> {
    DRIVER.with(|driver| driver.borrow().clone())
}

/// Tears the widget down and starts afresh, as if the page had reloaded
/// (without touching storage). For tests: each one gets a new widget.
#[doc(hidden)]
pub fn reset() {
    let old = DRIVER.with(|driver| driver.replace(Driver::new(Browser::default())));
    // Dropping the ports removes the DOM and its listeners.
    drop(old);
}

/// What the DOM asks for, from its listeners.
pub fn dispatch_action(action: Action) {
    let driver = driver();
    match action {
        Action::Toggle if driver.is_open() => drop(driver.close()),
        Action::Toggle => drop(driver.show()),
        Action::Close => drop(driver.close()),
        Action::Submit(input, misshapen) => spawn_local(driver.submit_form(input, misshapen)),
        Action::Send(body) => driver.send_message(body),
        Action::Typed => driver.typed(),
        Action::Retry(client_id) => driver.retry(client_id),
        Action::Discard(client_id) => driver.discard(client_id),
        Action::Rate(rating, comment) => driver.rate(rating, comment),
    }
}

/// Listens to the page for what the chat cares about: the network coming
/// back, the page becoming visible (a laptop waking up), and another tab
/// removing the session (`clearUser` there).
fn listen_to_page(browser: &Browser) -> Option<()> {
    let mut page = browser.page.borrow_mut();
    if !page.is_empty() {
        return Some(());
    }
    let window = web_sys::window()?;
    let document = window.document()?;
    let visible = document.clone();
    driver().visible(!document.hidden());
    *page = vec![
        Listener::new(&window, "online", |_| driver().nudge()),
        Listener::new(&document, "visibilitychange", move |_| {
            let shown = !visible.hidden();
            driver().visible(shown);
            if shown {
                driver().nudge();
            }
        }),
        Listener::new(&window, "storage", |_| driver().storage_changed()),
    ];
    Some(())
}

/// Logs a failure no promise can report, in one place.
pub fn log_error(message: &str, detail: &JsValue) {
    web_sys::console::error_2(&["trustchat: ", message].concat().into(), detail);
}

fn reject(error: Error) -> Promise {
    Promise::reject(&js::error(&error))
}

/// `init(config, translate, emit)`.
pub fn init(config: JsValue, translate: JsValue, emit: JsValue) -> Promise {
    crate::ui::text::install(translate.dyn_into().ok());
    let (config, fetch_jwt) = match js::config(&config) {
        Ok(parsed) => parsed,
        Err(error) => return reject(error),
    };
    let driver = driver();
    if let Ok(emit) = emit.dyn_into() {
        *driver.ports().events.borrow_mut() = Some(emit);
    }
    if fetch_jwt.is_some() {
        *driver.ports().fetch_jwt.borrow_mut() = fetch_jwt;
    }
    listen_to_page(driver.ports());
    let done = driver.init(config);
    future_to_promise(async move {
        done.await
            .map(|()| JsValue::UNDEFINED)
            .map_err(|e| js::error(&e))
    })
}

/// `setUser(user)`.
pub fn set_user(user: JsValue) -> Promise {
    let done = match js::user_input(&user) {
        Ok(js::Identity::Jwt(token)) => return set_jwt(token.into()),
        Ok(js::Identity::User(input)) => driver().set_user(input),
        Err(error) => return reject(error),
    };
    future_to_promise(async move {
        done.await
            .map(|u| js::user(Some(&u)))
            .map_err(|e| js::error(&e))
    })
}

/// `setJwt(token)`.
pub fn set_jwt(token: JsValue) -> Promise {
    let Some(token) = token.as_string() else {
        return reject(Error::invalid(
            "setJwt needs the identity token your server minted, as a non-empty string",
        ));
    };
    let done = driver().set_jwt(token);
    future_to_promise(async move {
        done.await
            .map(|u| js::user(Some(&u)))
            .map_err(|e| js::error(&e))
    })
}

/// `clearUser()`.
pub fn clear_user() -> Promise {
    let done = driver().clear_user();
    future_to_promise(async move {
        done.await
            .map(|()| JsValue::UNDEFINED)
            .map_err(|e| js::error(&e))
    })
}

/// `show()`.
pub fn show() -> Result<(), JsValue> {
    driver().show().map_err(|e| js::error(&e))
}

/// `close()`.
pub fn close() -> Result<(), JsValue> {
    driver().close().map_err(|e| js::error(&e))
}

/// `getUser()`.
pub fn get_user() -> JsValue {
    js::user(driver().user().as_ref())
}

/// `getUnreadCount()`.
pub fn unread() -> u32 {
    driver().unread() as u32
}

/// `getAvailability()`.
pub fn availability() -> JsValue {
    driver()
        .availability()
        .map_or(JsValue::NULL, |a| a.as_str().into())
}

/// `navigate(url)`.
pub fn navigate(url: String) {
    driver().navigate(url);
}
