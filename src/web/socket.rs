//! [`Socket`] over the browser's `WebSocket`, and [`Random`] over
//! `crypto.randomUUID()` and `Math.random()`.
//!
//! [`WebSocket`] owns its four handlers; dropping it unregisters them and
//! closes the connection, so no event of a socket the driver gave up on is
//! ever reported. The handlers only schedule the driver (as the timers do):
//! the driver may drop this very socket, which must not happen while one of
//! its handlers runs.

use std::cell::Cell;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CloseEvent, MessageEvent};

use super::Browser;
use crate::platform::{Random, Socket, SocketEvent};

/// The close code reported for a socket the browser could not even create.
const ABNORMAL: u16 = 1006;

/// A WebSocket that lives exactly as long as this value.
pub struct WebSocket {
    /// The connection.
    socket: web_sys::WebSocket,
    /// `onopen`.
    _open: Closure<dyn FnMut(JsValue)>,
    /// `onmessage`.
    _message: Closure<dyn FnMut(MessageEvent)>,
    /// `onclose`.
    _close: Closure<dyn FnMut(CloseEvent)>,
    /// `onerror`: a close always follows, which is what counts.
    _error: Closure<dyn FnMut(JsValue)>,
}

impl WebSocket {
    /// Connects to `url`; `report` gets each event, in order.
    pub fn open(url: &str, report: fn(SocketEvent)) -> Result<WebSocket, JsValue> {
        let socket = web_sys::WebSocket::new(url)?;
        let open = Closure::<dyn FnMut(JsValue)>::new(move |_| report(SocketEvent::Opened));
        let message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            // Binary frames are not part of the protocol.
            if let Some(text) = event.data().as_string() {
                report(SocketEvent::Frame(text));
            }
        });
        let close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            report(SocketEvent::Closed(event.code()))
        });
        let error = Closure::<dyn FnMut(JsValue)>::new(|_| {});
        socket.set_onopen(Some(open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(close.as_ref().unchecked_ref()));
        socket.set_onerror(Some(error.as_ref().unchecked_ref()));
        Ok(WebSocket {
            socket,
            _open: open,
            _message: message,
            _close: close,
            _error: error,
        })
    }
}

impl Drop for WebSocket {
    fn drop(&mut self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        self.socket.set_onerror(None);
        let _ = self.socket.close();
    }
}

thread_local! {
    /// Numbers the sockets, so that an event scheduled by a socket that was
    /// replaced before the driver ran is dropped.
    static GENERATION: Cell<u32> = const { Cell::new(0) };
}

/// Schedules the driver with an event of the current socket (a live
/// socket is always the current one: replacing it unregisters its
/// handlers).
fn report(event: SocketEvent) {
    let generation = GENERATION.with(Cell::get);
    wasm_bindgen_futures::spawn_local(async move {
        if GENERATION.with(Cell::get) == generation {
            super::driver().socket_event(event);
        }
    });
}

impl Socket for Browser {
    fn connect(&self, url: &str) {
        self.disconnect();
        match WebSocket::open(url, report) {
            Ok(socket) => *self.socket.borrow_mut() = Some(socket),
            // A URL the browser refuses, or a Content-Security-Policy that
            // forbids it: reported as a close, so the backoff applies.
            Err(_) => report(SocketEvent::Closed(ABNORMAL)),
        }
    }

    fn send_frame(&self, text: &str) {
        if let Some(socket) = self.socket.borrow().as_ref() {
            let _ = socket.socket.send_with_str(text);
        }
    }

    fn disconnect(&self) {
        GENERATION.with(|g| g.set(g.get().wrapping_add(1)));
        self.socket.borrow_mut().take();
    }
}

impl Random for Browser {
    fn uuid(&self) -> String {
        // `randomUUID` exists only in secure contexts; a page served over
        // plain http gets a v4 UUID from `Math.random()`, unique enough
        // for an idempotency key.
        web_sys::window()
            .and_then(|w| w.crypto().ok())
            .filter(|c| {
                js_sys::Reflect::get(c, &"randomUUID".into()).is_ok_and(|f| f.is_function())
            })
            .map_or_else(fallback_uuid, |c| c.random_uuid())
    }

    fn random(&self) -> f64 {
        js_sys::Math::random()
    }
}

fn fallback_uuid() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut uuid = String::with_capacity(36);
    for i in 0..36 {
        let digit = match i {
            8 | 13 | 18 | 23 => '-',
            14 => '4',
            19 => char::from(HEX[8 + (js_sys::Math::random() * 4.0) as usize % 4]),
            _ => char::from(HEX[(js_sys::Math::random() * 16.0) as usize % 16]),
        };
        uuid.push(digit);
    }
    uuid
}
