//! Conversions between JavaScript values and the core's types, checked at
//! the boundary with messages a developer can act on.

use js_sys::{Array, Function, Object, Reflect};
use trustchat_protocol::{
    AppInfo, Author, Availability, ClientFrame, ConversationStatus, CreateSessionRequest, Customer,
    ErrorBody, ErrorDetail, Message, MessageKind, MessagesPage, RateConversation, SendMessage,
    ServerFrame, SessionResponse, UserInput,
};
use wasm_bindgen::{JsCast, JsValue};

use crate::core::{Config, Error, PendingRecord, User};

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
    // Resolved, and its catalog loaded, by the JavaScript API (i18n.js).
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
            "setUser needs { name, email }, { name, phone } or { jwt }",
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

// ---- the wire types, by hand ---------------------------------------------
//
// `serde_wasm_bindgen` would do the same in several times the bytes (one
// deserializer per type, serde's buffering for `type`-tagged enums, and the
// float formatting of its error messages); these read exactly the fields
// `trustchat_protocol` defines, and ignore others, as serde does. Absent
// `Option`s are left out when written, as `skip_serializing_if` says; the
// customer's are written as `null`, as serde writes them.

/// A present, non-null property.
fn field(object: &JsValue, key: &str) -> Option<JsValue> {
    Some(get(object, key)).filter(|v| !v.is_undefined() && !v.is_null())
}

fn text_field(object: &JsValue, key: &str) -> Option<String> {
    field(object, key)?.as_string()
}

fn int_field(object: &JsValue, key: &str) -> Option<i64> {
    field(object, key)?.as_f64().map(|n| n as i64)
}

/// A stored message; `None` when a required field is missing or mistyped.
pub fn message(value: &JsValue) -> Option<Message> {
    Some(Message {
        id: text_field(value, "id")?,
        conversation_id: text_field(value, "conversation_id")?,
        seq: int_field(value, "seq")?,
        author: match text_field(value, "author")?.as_str() {
            "customer" => Author::Customer,
            "agent" => Author::Agent,
            _ => return None,
        },
        author_name: text_field(value, "author_name"),
        kind: match text_field(value, "kind").as_deref() {
            None | Some("text") => MessageKind::Text,
            Some("login_request") => MessageKind::LoginRequest,
            Some(_) => return None,
        },
        body: text_field(value, "body")?,
        link: text_field(value, "link"),
        trusted: field(value, "trusted")?.as_bool()?,
        created_at: int_field(value, "created_at")?,
        client_id: text_field(value, "client_id"),
    })
}

/// A message as the page's listeners get it: the wire's JSON shape.
pub fn message_value(message: &Message) -> JsValue {
    let object = Object::new();
    let text = |v: &Option<String>| v.as_deref().map_or(JsValue::UNDEFINED, JsValue::from_str);
    for (key, value) in [
        ("id", JsValue::from_str(&message.id)),
        (
            "conversation_id",
            JsValue::from_str(&message.conversation_id),
        ),
        ("seq", JsValue::from_f64(message.seq as f64)),
        (
            "author",
            JsValue::from_str(match message.author {
                Author::Customer => "customer",
                Author::Agent => "agent",
            }),
        ),
        ("author_name", text(&message.author_name)),
        (
            "kind",
            JsValue::from_str(match message.kind {
                MessageKind::Text => "text",
                MessageKind::LoginRequest => "login_request",
            }),
        ),
        ("body", JsValue::from_str(&message.body)),
        ("link", text(&message.link)),
        ("trusted", JsValue::from_bool(message.trusted)),
        ("created_at", JsValue::from_f64(message.created_at as f64)),
        ("client_id", text(&message.client_id)),
    ] {
        if !value.is_undefined() {
            let _ = Reflect::set(&object, &key.into(), &value);
        }
    }
    object.into()
}

fn status(value: Option<String>) -> Option<ConversationStatus> {
    match value?.as_str() {
        "open" => Some(ConversationStatus::Open),
        "closed" => Some(ConversationStatus::Closed),
        _ => None,
    }
}

/// A `GET /messages` page.
pub fn page(value: &JsValue) -> Option<MessagesPage> {
    let messages: Array = field(value, "messages")?.dyn_into().ok()?;
    Some(MessagesPage {
        conversation_id: text_field(value, "conversation_id"),
        status: status(text_field(value, "status")),
        messages: messages
            .iter()
            .map(|m| message(&m))
            .collect::<Option<_>>()?,
        has_more: field(value, "has_more")
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
        agent_read_seq: int_field(value, "agent_read_seq").unwrap_or(0),
        customer_read_seq: int_field(value, "customer_read_seq").unwrap_or(0),
    })
}

/// A server frame; `None` for a type this version does not know.
pub fn frame(frame: &JsValue) -> Option<ServerFrame> {
    let message = || message(&field(frame, "message")?);
    Some(match text_field(frame, "type")?.as_str() {
        "ready" => ServerFrame::Ready {
            conversation_id: text_field(frame, "conversation_id"),
            last_seq: int_field(frame, "last_seq")?,
        },
        "message" => ServerFrame::Message {
            message: message()?,
        },
        "ack" => ServerFrame::Ack {
            client_id: text_field(frame, "client_id")?,
            message: message()?,
        },
        "conversation" => ServerFrame::Conversation {
            conversation_id: text_field(frame, "conversation_id")?,
            status: status(text_field(frame, "status"))?,
        },
        "error" => ServerFrame::Error {
            code: text_field(frame, "code")?,
            // Not shown: the customer reads why by `code`, in their language.
            message: String::new(),
            client_id: text_field(frame, "client_id"),
            retry_after: int_field(frame, "retry_after").map(|s| s.max(0) as u64),
        },
        "pong" => ServerFrame::Pong,
        // Customers hear only their agent typing.
        "typing" => ServerFrame::Typing {
            author: Author::Agent,
            name: text_field(frame, "name"),
        },
        "read" => ServerFrame::Read {
            seq: int_field(frame, "seq")?,
        },
        "availability" => ServerFrame::Availability {
            availability: availability(frame)?,
            next_open_at: int_field(frame, "next_open_at"),
        },
        _ => return None,
    })
}

/// The `availability` field of an app or a frame.
fn availability(value: &JsValue) -> Option<Availability> {
    Some(match text_field(value, "availability").as_deref() {
        None | Some("available") => Availability::Available,
        Some("busy") => Availability::Busy,
        Some("closed") => Availability::Closed,
        Some(_) => return None,
    })
}

/// An object of `pairs`.
pub fn object_of(pairs: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    for (key, value) in pairs {
        let _ = Reflect::set(&object, &(*key).into(), value);
    }
    object.into()
}

/// A client frame, as `trustchat_protocol::chat::ClientFrame` serializes.
pub fn client_frame(frame: &ClientFrame) -> JsValue {
    match frame {
        ClientFrame::Auth { session_token } => object_of(&[
            ("type", "auth".into()),
            ("session_token", session_token.into()),
        ]),
        ClientFrame::Send { client_id, body } => object_of(&[
            ("type", "send".into()),
            ("client_id", client_id.into()),
            ("body", body.into()),
        ]),
        ClientFrame::Ping => object_of(&[("type", "ping".into())]),
        ClientFrame::Typing => object_of(&[("type", "typing".into())]),
        ClientFrame::Read { seq } => {
            object_of(&[("type", "read".into()), ("seq", (*seq as f64).into())])
        }
        ClientFrame::Page { url } => object_of(&[("type", "page".into()), ("url", url.into())]),
    }
}

/// The pending store's list.
pub fn pending(records: &[PendingRecord]) -> JsValue {
    records
        .iter()
        .map(|r| {
            object_of(&[
                ("client_id", r.client_id.as_str().into()),
                ("body", r.body.as_str().into()),
                ("created_at", JsValue::from_f64(r.created_at as f64)),
            ])
        })
        .collect::<Array>()
        .into()
}

/// The pending store's list read back.
pub fn pending_records(value: &JsValue) -> Option<Vec<PendingRecord>> {
    let list: Array = value.clone().dyn_into().ok()?;
    list.iter()
        .map(|r| {
            Some(PendingRecord {
                client_id: text_field(&r, "client_id")?,
                body: text_field(&r, "body")?,
                created_at: int_field(&r, "created_at")?,
            })
        })
        .collect()
}

/// `GET /apps/{id}`'s answer.
pub fn app(value: &JsValue) -> Option<AppInfo> {
    Some(AppInfo {
        id: text_field(value, "id")?,
        name: text_field(value, "name")?,
        onboarding: field(value, "onboarding")?.as_bool()?,
        login_url: text_field(value, "login_url"),
        availability: availability(value)?,
        next_open_at: int_field(value, "next_open_at"),
    })
}

/// A session, as the server answers it and as it is stored.
pub fn session(value: &JsValue) -> Option<SessionResponse> {
    let customer = field(value, "customer")?;
    Some(SessionResponse {
        session_token: text_field(value, "session_token"),
        customer: Customer {
            id: text_field(&customer, "id")?,
            name: text_field(&customer, "name"),
            first_name: text_field(&customer, "first_name"),
            email: text_field(&customer, "email"),
            phone: text_field(&customer, "phone"),
        },
        trusted: field(value, "trusted")?.as_bool()?,
        trusted_until: int_field(value, "trusted_until"),
        greeting: text_field(value, "greeting")?,
        greeting_link: text_field(value, "greeting_link"),
    })
}

/// A session as `session` reads it back.
pub fn session_value(session: &SessionResponse) -> JsValue {
    let customer = &session.customer;
    let null = |v: &Option<String>| v.as_deref().map_or(JsValue::NULL, JsValue::from_str);
    let customer = object_of(&[
        ("id", customer.id.as_str().into()),
        ("name", null(&customer.name)),
        ("first_name", null(&customer.first_name)),
        ("email", null(&customer.email)),
        ("phone", null(&customer.phone)),
    ]);
    let object = object_of(&[
        ("customer", customer),
        ("trusted", session.trusted.into()),
        ("greeting", session.greeting.as_str().into()),
    ]);
    set_some(
        &object,
        "session_token",
        session.session_token.as_deref().map(JsValue::from_str),
    );
    set_some(
        &object,
        "trusted_until",
        session.trusted_until.map(|t| JsValue::from_f64(t as f64)),
    );
    set_some(
        &object,
        "greeting_link",
        session.greeting_link.as_deref().map(JsValue::from_str),
    );
    object
}

/// Sets `key` when there is a value.
fn set_some(object: &JsValue, key: &str, value: Option<JsValue>) {
    if let Some(value) = value {
        let _ = Reflect::set(object, &key.into(), &value);
    }
}

/// The `{"error": {...}}` envelope.
pub fn error_body(value: &JsValue) -> Option<ErrorBody> {
    let error = field(value, "error")?;
    Some(ErrorBody {
        error: ErrorDetail {
            code: text_field(&error, "code")?,
            message: text_field(&error, "message")?,
            field: text_field(&error, "field"),
            reason: text_field(&error, "reason"),
            retry_after: int_field(&error, "retry_after").map(|s| s.max(0) as u64),
        },
    })
}

/// A session request: `{}`, `{"user": {...}}` or `{"jwt": "..."}`.
pub fn session_request(request: &CreateSessionRequest) -> JsValue {
    let object: JsValue = Object::new().into();
    let user = request.user.as_ref().map(|user| {
        let value = object_of(&[("name", user.name.as_str().into())]);
        set_some(
            &value,
            "email",
            user.email.as_deref().map(JsValue::from_str),
        );
        set_some(
            &value,
            "phone",
            user.phone.as_deref().map(JsValue::from_str),
        );
        value
    });
    set_some(&object, "user", user);
    set_some(
        &object,
        "jwt",
        request.jwt.as_deref().map(JsValue::from_str),
    );
    object
}

/// `POST /messages`' body.
pub fn send(message: &SendMessage) -> JsValue {
    object_of(&[
        ("client_id", message.client_id.as_str().into()),
        ("body", message.body.as_str().into()),
    ])
}

/// `POST /conversations/{id}/rating`'s body; `comment` only when given.
pub fn rating(rating: &RateConversation) -> JsValue {
    let object = object_of(&[("rating", JsValue::from(rating.rating))]);
    set_some(
        &object,
        "comment",
        rating.comment.as_deref().map(JsValue::from_str),
    );
    object
}
