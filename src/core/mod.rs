//! The widget's pure core: configuration, errors and the state machine.
//! Nothing here knows `web_sys`, `js_sys` or `wasm_bindgen`; it builds and
//! is tested natively.

pub mod chat;
pub mod config;
pub mod effect;
pub mod error;
pub mod number;
pub mod state;
pub mod trust;

pub use chat::{
    backoff, sendable, too_long, ChatInput, Line, LineState, PendingRecord, Posted, Survey,
};
pub use config::{Config, STORAGE_PREFIX};
pub use effect::{Effect, Event, Focus, User, EVENT_NAMES};
pub use error::{Code, Error};
pub use state::{
    check_user, FieldErrors, GreetingLink, Input, Panel, Phase, View, Widget, CONTACT_MISSING,
    NAME_MISSING, POLL_MS,
};
pub use trust::Deadline;

#[cfg(test)]
mod tests;
