//! Small DOM helpers, and [`Listener`]: an event listener owned by a Rust
//! value that removes it when dropped (after gloo's `EventListener`).

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Document, Element, Event, EventTarget};

/// An event listener that lives exactly as long as this value.
pub struct Listener {
    /// What it listens on.
    target: EventTarget,
    /// The event type.
    kind: &'static str,
    /// The callback; JavaScript holds a reference until removal.
    callback: Closure<dyn FnMut(Event)>,
}

impl Listener {
    /// Listens for `kind` events on `target`.
    pub fn new(
        target: &EventTarget,
        kind: &'static str,
        callback: impl FnMut(Event) + 'static,
    ) -> Listener {
        let callback = Closure::<dyn FnMut(Event)>::new(callback);
        let _ = target.add_event_listener_with_callback(kind, callback.as_ref().unchecked_ref());
        Listener {
            target: target.clone(),
            kind,
            callback,
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self
            .target
            .remove_event_listener_with_callback(self.kind, self.callback.as_ref().unchecked_ref());
    }
}

/// Creates `<tag>` with `attributes`, appended to `parent`.
pub fn child(
    document: &Document,
    parent: &Element,
    tag: &str,
    attributes: &[(&str, &str)],
) -> Option<Element> {
    let element = document.create_element(tag).ok()?;
    for (name, value) in attributes {
        element.set_attribute(name, value).ok()?;
    }
    parent.append_child(&element).ok()?;
    Some(element)
}

/// The first element under `root` that `selector` matches.
pub fn find(root: &Element, selector: &str) -> Option<Element> {
    root.query_selector(selector).ok().flatten()
}

/// Sets or removes a boolean-ish attribute.
pub fn toggle(element: &Element, name: &str, value: Option<&str>) {
    let _ = match value {
        Some(value) => element.set_attribute(name, value),
        None => element.remove_attribute(name),
    };
}

/// Shows `text` in `element` (as text, never as HTML), hidden when `None`.
pub fn text(element: &Element, text: Option<&str>) {
    element.set_text_content(text);
    toggle(element, "hidden", text.is_none().then_some(""));
}
