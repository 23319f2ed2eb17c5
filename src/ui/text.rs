//! The customer's language: every text the widget shows comes from the
//! catalog of their locale, through the translator `init` was given (see
//! www/widget/i18n.js: it picks plural forms and formats numbers, times and
//! the "We're back …" phrase with `Intl`). Keys are short names (`send`),
//! or, for the protocol's validation messages and the server's reasons, the
//! English sentence itself; a key the catalog lacks shows as itself.
//!
//! The static markup names its texts with `data-t` (text) and `data-tl`
//! (`aria-label`); [`localize`] fills them in.

use std::cell::RefCell;

use js_sys::Function;
use wasm_bindgen::JsValue;
use web_sys::Element;

use super::dom::find;

thread_local! {
    /// `(key, arg) => text`.
    static TRANSLATOR: RefCell<Option<Function>> = const { RefCell::new(None) };
}

/// Installs the translator (`None`: keys show as themselves).
pub fn install(translator: Option<Function>) {
    TRANSLATOR.with(|t| *t.borrow_mut() = translator);
}

/// The text of `key` with `arg` (a number, a name or a time) filled in.
#[inline(never)]
pub fn with(key: &str, arg: &JsValue) -> String {
    TRANSLATOR
        .with(|t| {
            let t = t.borrow();
            t.as_ref()?
                .call2(&JsValue::NULL, &key.into(), arg)
                .ok()?
                .as_string()
        })
        .unwrap_or_else(|| key.to_owned())
}

/// The customer's language tag (`pt-BR`), once a translator is installed.
pub fn lang() -> Option<String> {
    Some(t("@lang")).filter(|tag| tag != "@lang")
}

/// The text of `key`.
pub fn t(key: &str) -> String {
    with(key, &JsValue::UNDEFINED)
}

/// The text of `key` for the number `n` (plural form, digits of the
/// locale).
pub fn n(key: &str, n: f64) -> String {
    with(key, &JsValue::from_f64(n))
}

/// Fills in the texts and labels `root`'s markup names.
pub fn localize(root: &Element) {
    for (selector, attribute) in [("[data-t]", "data-t"), ("[data-tl]", "data-tl")] {
        while let Some(element) = find(root, selector) {
            let key = element.get_attribute(attribute).unwrap_or_default();
            let _ = element.remove_attribute(attribute);
            if attribute == "data-t" {
                element.set_text_content(Some(&t(&key)));
            } else {
                let _ = element.set_attribute("aria-label", &t(&key));
            }
        }
    }
}
