//! TrustChat's widget: a customer-support chat that knows who the website's
//! logged-in customers are. Compiled to WebAssembly and embedded with one
//! script tag; this crate is the whole widget.
//!
//! The layout, from the inside out:
//!
//! - [`core`]: pure Rust. The checked configuration, the API's errors, and
//!   the widget as a state machine (`Widget::step(Input) -> Vec<Effect>`).
//!   No IO, no `web_sys`: built and tested natively.
//! - [`platform`]: the ports the driver talks to the world through:
//!   `Transport` (JSON over HTTP), `Storage`, `Json`, and `Host` (the DOM and
//!   the page's listeners). In-memory implementations back the native tests.
//! - [`driver`]: runs the API calls in call order, feeding the state machine
//!   with what the server and storage answer.
//! - `web` (wasm32 only): the browser's ports (fetch, `localStorage`, the
//!   browser's JSON, events) and the conversions between JavaScript values
//!   and the core's types.
//! - `ui` (wasm32 only): the hand-written DOM inside an open shadow root.
//!   Every listener is owned by a value that removes it on drop.
//!
//! The JavaScript API at the bottom of this file is a layer of one-line
//! delegators to `web`.
#![deny(clippy::unwrap_used)]

pub mod core;
pub mod driver;
pub mod platform;
#[cfg(target_arch = "wasm32")]
pub mod ui;
#[cfg(target_arch = "wasm32")]
pub mod web;

#[cfg(target_arch = "wasm32")]
pub use api::*;

/// The JavaScript API: one-line delegators to `web`. Each call that does IO
/// returns a Promise; every rejection is an `Error` with a `code` property.
#[cfg(target_arch = "wasm32")]
mod api {
    use js_sys::Promise;
    use wasm_bindgen::prelude::*;

    /// `init({appId, server?, onboarding?, locale?, fetchJwt?}, translate,
    /// emit)`: loads the app, draws the launcher, restores a stored
    /// session, emits `ready`. `translate(key, arg)` gives the texts in the
    /// customer's language (www/widget/translate.js; without it keys show
    /// as themselves); `emit(event, detail)` calls the page's listeners,
    /// which the JavaScript API keeps (`on`/`off`, www/widget/api.js).
    #[wasm_bindgen(js_name = init)]
    pub fn init(config: JsValue, translate: JsValue, emit: JsValue) -> Promise {
        crate::web::init(config, translate, emit)
    }

    /// `setUser({name, email?, phone?} | {jwt})`: resolves with the user.
    #[wasm_bindgen(js_name = setUser)]
    pub fn set_user(user: JsValue) -> Promise {
        crate::web::set_user(user)
    }

    /// `setJwt(token)`: a trusted session from the website's identity token.
    #[wasm_bindgen(js_name = setJwt)]
    pub fn set_jwt(token: JsValue) -> Promise {
        crate::web::set_jwt(token)
    }

    /// `clearUser()`: revokes the session and wipes every trace locally.
    #[wasm_bindgen(js_name = clearUser)]
    pub fn clear_user() -> Promise {
        crate::web::clear_user()
    }

    /// `show()`: opens the panel.
    #[wasm_bindgen(js_name = show)]
    pub fn show() -> Result<(), JsValue> {
        crate::web::show()
    }

    /// `close()`: closes the panel.
    #[wasm_bindgen(js_name = close)]
    pub fn close() -> Result<(), JsValue> {
        crate::web::close()
    }

    /// `getUser()`: `null` or `{id, name, firstName, email, phone, trusted}`.
    #[wasm_bindgen(js_name = getUser)]
    pub fn get_user() -> JsValue {
        crate::web::get_user()
    }

    /// `getUnreadCount()`: agent messages the customer has not seen.
    #[wasm_bindgen(js_name = getUnreadCount)]
    pub fn get_unread_count() -> u32 {
        crate::web::unread()
    }

    /// `getAvailability()`: `"available"`, `"busy"`, `"closed"`, or `null`
    /// before `init`.
    #[wasm_bindgen(js_name = getAvailability)]
    pub fn get_availability() -> JsValue {
        crate::web::availability()
    }

    /// `navigate(url)`: the customer's current page (an absolute URL; the
    /// JavaScript API resolves and checks it).
    #[wasm_bindgen(js_name = navigate)]
    pub fn navigate(url: String) {
        crate::web::navigate(url)
    }
}

/// The widget's heap: a small free-list allocator instead of std's dlmalloc,
/// about 2 KB less gzipped. The widget is single-threaded (no wasm threads),
/// which is what `AssumeSingleThreaded` asks.
#[cfg(all(target_arch = "wasm32", not(test)))]
#[global_allocator]
#[allow(unsafe_code)]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    // SAFETY: wasm32-unknown-unknown without the atomics feature has one thread.
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };
