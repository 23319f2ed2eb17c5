//! The page's event listeners (`TrustChat.on` / `off`).

use std::cell::RefCell;

use js_sys::Function;
use wasm_bindgen::JsValue;

/// Listeners by event name, in the order they were added.
#[derive(Default)]
pub struct Emitter {
    /// `(event name, listener)`; a listener is added once per event.
    listeners: RefCell<Vec<(&'static str, Function)>>,
}

impl Emitter {
    /// Adds `listener` for `event`, unless it is there already.
    pub fn on(&self, event: &'static str, listener: Function) {
        let mut listeners = self.listeners.borrow_mut();
        if !listeners.iter().any(|(e, l)| *e == event && *l == listener) {
            listeners.push((event, listener));
        }
    }

    /// Removes `listener` for `event`.
    pub fn off(&self, event: &str, listener: &Function) {
        self.listeners
            .borrow_mut()
            .retain(|(e, l)| !(*e == event && l == listener));
    }

    /// Calls every listener of `event` with `detail`. A listener that throws
    /// is logged, and the others still run: the page cannot break the widget.
    pub fn emit(&self, event: &str, detail: &JsValue) {
        // Copied out first: a listener may call `on` or `off`.
        let listeners: Vec<Function> = self
            .listeners
            .borrow()
            .iter()
            .filter(|(e, _)| *e == event)
            .map(|(_, l)| l.clone())
            .collect();
        for listener in listeners {
            if let Err(thrown) = listener.call1(&JsValue::UNDEFINED, detail) {
                super::log_error(&["a listener of \"", event, "\" threw"].concat(), &thrown);
            }
        }
    }
}
