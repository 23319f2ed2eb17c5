//! The ports the [`crate::driver`] talks to the outside through. The browser
//! implements them in `src/web/` (fetch, `localStorage`, the browser's JSON,
//! the shadow DOM, `Date.now()` and `setTimeout`); the tests implement them
//! in memory.
//!
//! `async fn` in these traits is fine: the widget is single-threaded, its
//! futures are never `Send`.
#![allow(async_fn_in_trait)]

use std::future::Future;
use std::pin::Pin;

use trustchat_protocol::{
    AppInfo, ClientFrame, CreateSessionRequest, ErrorBody, Message, MessagesPage, RateConversation,
    SendMessage, ServerFrame, SessionResponse,
};

use crate::core::{Error, Event, Focus, PendingRecord, View};

/// An HTTP method the widget uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// One JSON request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The full URL.
    pub url: String,
    /// The session token, sent as `Authorization: Bearer ...`.
    pub bearer: Option<String>,
    /// A JSON body, sent as `application/json`.
    pub body: Option<String>,
}

/// A response of any status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The body as text; empty for `204`.
    pub body: String,
}

/// The request never got an answer: the server is down, the URL is wrong, or
/// the browser refused the response (CORS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkError;

/// Sends JSON requests to the server.
pub trait Transport {
    /// Sends `request` and waits for the whole response.
    async fn send(&self, request: Request) -> Result<Response, NetworkError>;
}

/// String storage that outlives the page (`localStorage`).
pub trait Storage {
    /// The value under `key`, if any.
    fn get(&self, key: &str) -> Option<String>;
    /// Stores `value` under `key`; failures (quota, privacy mode) are ignored.
    fn set(&self, key: &str, value: &str);
    /// Removes `key`.
    fn remove(&self, key: &str);
    /// Removes every key starting with `prefix`, from every storage area the
    /// platform has (`localStorage` and `sessionStorage` in a browser).
    fn remove_prefixed(&self, prefix: &str);
    /// The value under `key` in the tab's own storage (`sessionStorage`).
    fn tab_get(&self, key: &str) -> Option<String>;
    /// Stores `value` under `key` in the tab's own storage; `None` removes
    /// it.
    fn tab_set(&self, key: &str, value: Option<&str>);
}

/// Turns wire types into JSON text and back: `serde_json` in tests, the
/// browser's own `JSON` and hand-written conversions in the widget. One
/// method per shape rather than a generic `T: Deserialize`: serde's
/// deserializers (and the float formatting of their error messages) would
/// weigh tens of kilobytes of wasm, the browser's `JSON` costs none.
pub trait Json {
    /// `GET /apps/{id}`'s answer; `None` when it is not JSON of that shape.
    fn decode_app(&self, text: &str) -> Option<AppInfo>;
    /// A session, as the sessions endpoints answer and as it is stored.
    fn decode_session(&self, text: &str) -> Option<SessionResponse>;
    /// JSON text of a session, to store it.
    fn encode_session(&self, session: &SessionResponse) -> Option<String>;
    /// The `{"error": {...}}` envelope of a failed request.
    fn decode_error(&self, text: &str) -> Option<ErrorBody>;
    /// JSON text of a session request (`{}`, `{"user": ...}`, `{"jwt": ...}`).
    fn encode_session_request(&self, request: &CreateSessionRequest) -> Option<String>;
    /// JSON text of `POST /messages`' body.
    fn encode_send(&self, message: &SendMessage) -> Option<String>;
    /// JSON text of `POST /conversations/{id}/rating`'s body (no `comment`
    /// when there is none).
    fn encode_rating(&self, rating: &RateConversation) -> Option<String>;
    /// A WebSocket frame of the server; `None` for a frame this version
    /// does not know.
    fn decode_frame(&self, text: &str) -> Option<ServerFrame>;
    /// A `GET /messages` page.
    fn decode_page(&self, text: &str) -> Option<MessagesPage>;
    /// A stored message.
    fn decode_message(&self, text: &str) -> Option<Message>;
    /// JSON text of a client frame.
    fn encode_frame(&self, frame: &ClientFrame) -> Option<String>;
    /// The tab's unacknowledged messages as JSON text: a list of
    /// `{client_id, body, created_at}`. A storage format of the widget's
    /// own, so written by hand rather than derived.
    fn encode_pending(&self, records: &[PendingRecord]) -> Option<String>;
    /// The list `encode_pending` wrote; `None` when it is not one.
    fn decode_pending(&self, text: &str) -> Option<Vec<PendingRecord>>;
}

/// Where the widget's state becomes visible: the DOM and the page's event
/// listeners.
pub trait Host {
    /// Redraws the widget from `view`.
    fn render(&self, view: &View);
    /// Moves keyboard focus.
    fn focus(&self, focus: Focus);
    /// Calls the page's listeners of `event`.
    fn emit(&self, event: Event);
    /// Runs `task` to completion in the background.
    fn spawn(&self, task: Task);
    /// Calls `init`'s `fetchJwt` for a fresh identity token. Fails with a
    /// message a developer can act on when there is none, it throws or
    /// rejects, or it resolves with anything but a non-empty string.
    async fn fetch_jwt(&self) -> Result<String, Error>;
}

/// Time, and the one timer of the widget (the trust timer).
pub trait Clock {
    /// The time, in Unix milliseconds.
    fn now(&self) -> i64;
    /// Arms the timer to call [`crate::driver::Driver::timer_fired`] in
    /// `delay` milliseconds, replacing (and cancelling) any armed one;
    /// `None` only cancels.
    fn set_timer(&self, delay: Option<u32>);
    /// The same for the chat timer, which calls
    /// [`crate::driver::Driver::wake`].
    fn set_wake(&self, delay: Option<u32>);
}

/// What the WebSocket reports, to [`crate::driver::Driver::socket_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketEvent {
    /// It opened.
    Opened,
    /// A text frame came.
    Frame(String),
    /// It closed (or never opened), with this close code.
    Closed(u16),
}

/// The one WebSocket of the widget.
pub trait Socket {
    /// Opens a WebSocket to `url`, closing any open one unheard; its events
    /// go to [`crate::driver::Driver::socket_event`], in order, and only
    /// while it is the current one.
    fn connect(&self, url: &str);
    /// Sends a text frame; dropped when no socket is open.
    fn send_frame(&self, text: &str);
    /// Closes the socket unheard: no event of it is reported any more.
    fn disconnect(&self);
}

/// Randomness: idempotency keys and jitter.
pub trait Random {
    /// A fresh UUID v4.
    fn uuid(&self) -> String;
    /// A number in `[0, 1)`.
    fn random(&self) -> f64;
}

/// A background task of the driver.
pub type Task = Pin<Box<dyn Future<Output = ()>>>;

/// Everything the driver needs, as one value.
pub trait Ports: Transport + Storage + Json + Host + Clock + Socket + Random {}

impl<P: Transport + Storage + Json + Host + Clock + Socket + Random> Ports for P {}

#[cfg(test)]
pub mod memory;
