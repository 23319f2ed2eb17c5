//! Conversions between JavaScript values and the core's types, checked at
//! the boundary with messages a developer can act on.

use js_sys::{Function, Object, Reflect};
use trustchat_protocol::UserInput;
use wasm_bindgen::{JsCast, JsValue};

use crate::core::{Config, Error, User, EVENT_NAMES};

/// What `setUser` was given.
pub enum Identity {
    /// `{name, email?, phone?}`.
    User(UserInput),
    /// `{jwt}`.
    Jwt(String),
}

fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// A string property; `undefined` and `null` are absent, other types refused.
fn string(object: &JsValue, key: &str, what: &str) -> Result<Option<String>, Error> {
    let value = get(object, key);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value
        .as_string()
        .map(Some)
        .ok_or_else(|| Error::invalid([what, " must be a string"].concat()))
}

/// `init`'s config.
pub fn config(value: &JsValue) -> Result<(Config, Option<Function>), Error> {
    if !value.is_object() {
        return Err(Error::invalid(
            "init needs a config object, e.g. TrustChat.init({ appId: \"demo\" })",
        ));
    }
    let app_id = string(value, "appId", "appId")?;
    let server = string(value, "server", "server")?;
    // Only English for now; any other locale falls back to it.
    string(value, "locale", "locale")?;
    let onboarding = match get(value, "onboarding") {
        v if v.is_undefined() || v.is_null() => None,
        v => Some(
            v.as_bool()
                .ok_or_else(|| Error::invalid("onboarding must be true or false"))?,
        ),
    };
    let fetch_jwt = match get(value, "fetchJwt") {
        v if v.is_undefined() || v.is_null() => None,
        v => Some(v.dyn_into::<Function>().map_err(|_| {
            Error::invalid("fetchJwt must be a function that returns a promise of a token")
        })?),
    };
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    let config = Config::new(app_id.as_deref(), server.as_deref(), &origin)?;
    Ok((
        Config {
            onboarding,
            fetch_jwt: fetch_jwt.is_some(),
            ..config
        },
        fetch_jwt,
    ))
}

/// `setUser`'s argument.
pub fn user_input(value: &JsValue) -> Result<Identity, Error> {
    if !value.is_object() {
        return Err(Error::invalid(
            "setUser needs { name, email } or { name, phone } or { jwt }, e.g. setUser({ name: \"Ada\", email: \"ada@example.com\" })",
        ));
    }
    if let Some(jwt) = string(value, "jwt", "jwt")? {
        return Ok(Identity::Jwt(jwt));
    }
    Ok(Identity::User(UserInput {
        name: string(value, "name", "name")?.unwrap_or_default(),
        email: string(value, "email", "email")?,
        phone: string(value, "phone", "phone")?,
    }))
}

/// `on`/`off`'s arguments.
pub fn listener(event: &JsValue, handler: JsValue) -> Result<(&'static str, Function), Error> {
    let name = event.as_string().unwrap_or_default();
    let Some(name) = EVENT_NAMES.into_iter().find(|known| *known == name) else {
        return Err(Error::invalid(
            ["unknown event; use one of: ", &EVENT_NAMES.join(", ")].concat(),
        ));
    };
    let handler = handler
        .dyn_into::<Function>()
        .map_err(|_| Error::invalid("the listener must be a function"))?;
    Ok((name, handler))
}

/// `getUser()`'s answer: `null`, or the customer with camelCase fields and
/// `null` for absent ones.
pub fn user(user: Option<&User>) -> JsValue {
    let Some(user) = user else {
        return JsValue::NULL;
    };
    let object = Object::new();
    let text = |v: &Option<String>| v.as_deref().map_or(JsValue::NULL, JsValue::from_str);
    for (key, value) in [
        ("id", JsValue::from_str(&user.id)),
        ("name", text(&user.name)),
        ("firstName", text(&user.first_name)),
        ("email", text(&user.email)),
        ("phone", text(&user.phone)),
        ("trusted", JsValue::from_bool(user.trusted)),
    ] {
        let _ = Reflect::set(&object, &key.into(), &value);
    }
    object.into()
}

/// A JavaScript `Error` with a `code` property.
pub fn error(error: &Error) -> JsValue {
    let js = js_sys::Error::new(&error.message);
    let _ = Reflect::set(&js, &"code".into(), &error.code.as_str().into());
    js.into()
}
