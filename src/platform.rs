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

use serde::{de::DeserializeOwned, Serialize};

use crate::core::{Error, Event, Focus, View};

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
}

/// Turns wire types into JSON text and back: `serde_json` in tests, the
/// browser's own `JSON` in the widget (it costs no bytes of wasm).
pub trait Json {
    /// JSON text of `value`.
    fn encode<T: Serialize>(&self, value: &T) -> Option<String>;
    /// `text` as a `T`; `None` when it is not JSON of that shape.
    fn decode<T: DeserializeOwned>(&self, text: &str) -> Option<T>;
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
}

/// A background task of the driver.
pub type Task = Pin<Box<dyn Future<Output = ()>>>;

/// Everything the driver needs, as one value.
pub trait Ports: Transport + Storage + Json + Host + Clock {}

impl<P: Transport + Storage + Json + Host + Clock> Ports for P {}

#[cfg(test)]
pub mod memory;
