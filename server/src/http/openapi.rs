//! The API contract: `GET /api/v1/openapi.json`, an OpenAPI 3.1 document
//! made from the code, never written by hand.
//!
//! - Every route is registered through [`Routes`], each module's one list
//!   of routes. [`Routes::documented`] takes utoipa-axum's `routes!(handler)`,
//!   which registers the handler at the path and methods of its
//!   `#[utoipa::path(...)]` attribute and adds that operation to the
//!   document: a handler without the attribute does not compile there, so
//!   the router and the document are one list. [`Routes::undocumented`] is
//!   for the few routes left out on purpose (the demo portal's `/demo/*`);
//!   `tests/openapi.rs` fails for any other, and for any route of
//!   [`route_table`] the served document lacks.
//! - Bodies are the `trustchat-protocol` types, whose `ToSchema` derives
//!   sit behind its `openapi` feature (the widget never turns it on).
//! - Errors: each handler names the codes it can answer with in an
//!   [`errors!`] type, grouped here by the status each
//!   [`ErrorCode`] has, every one with the [`ErrorBody`] envelope.
//! - [`ApiDoc`] adds what no handler says: the title, the tags, the
//!   security schemes (how each credential really travels), the error and
//!   WebSocket frame schemas.
//!
//! The document is built once, in [`super::app`], and served as bytes
//! with an `ETag`.

use std::collections::BTreeMap;

use axum::extract::Extension;
use axum::handler::Handler;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodFilter;
use axum::Router;
use sha2::{Digest as _, Sha256};
use trustchat_protocol::webhook::{
    ConversationData, EventType as WebhookEventType, MessageData, VerifiedData,
};
use trustchat_protocol::{
    AgentClientFrame, AgentServerFrame, ClientFrame, ErrorBody, ErrorCode, ErrorDetail, ServerFrame,
};
use utoipa::openapi::path::PathItem;
use utoipa::openapi::response::{Response as ApiResponse, ResponseBuilder};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, OpenApi as Document, Ref, RefOr};
use utoipa::{Modify, OpenApi as _, PartialSchema as _};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

use crate::error::ApiError;
use crate::state::AppState;

/// How long a client may keep the document without asking again: it
/// changes only with a new release.
const CACHE: &str = "public, max-age=300";

/// Declares a type that documents the error responses of a route: one
/// response per status, listing the codes, each with the error envelope.
/// Parts are sets of codes: a constant of this module (`JSON_BODY`) or a
/// list (`[UnknownApp, RateLimited]`).
///
/// ```text
/// errors!(CreateErrors: JSON_BODY, [UnknownApp, RateLimited]);
/// #[utoipa::path(post, path = "...", responses((status = 201, ...), CreateErrors))]
/// ```
macro_rules! errors {
    (@part [$($code:ident),* $(,)?]) => {
        &[$(trustchat_protocol::ErrorCode::$code),*] as &[trustchat_protocol::ErrorCode]
    };
    (@part $set:ident) => {
        $crate::http::openapi::$set
    };
    ($name:ident: $($part:tt),+ $(,)?) => {
        /// The error responses of one route, for the API document.
        pub struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> std::collections::BTreeMap<
                String,
                utoipa::openapi::RefOr<utoipa::openapi::response::Response>,
            > {
                $crate::http::openapi::error_responses(&[
                    $($crate::http::openapi::errors!(@part $part)),+
                ])
            }
        }
    };
}
pub(crate) use errors;

/// One registered route: a method and a path template (`{id}` for a
/// parameter), as axum matches it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    /// The method.
    pub method: Method,
    /// The path template.
    pub path: String,
    /// Whether the API document describes it.
    pub documented: bool,
}

/// A router whose every route is recorded, with the document of those
/// that are documented: what each module's `router()` returns.
pub struct Routes {
    /// The router and the document of its documented routes.
    router: OpenApiRouter<AppState>,
    /// Every route, in registration order.
    table: Vec<Route>,
}

impl Default for Routes {
    fn default() -> Self {
        Routes::new()
    }
}

impl Routes {
    /// No routes yet.
    pub fn new() -> Routes {
        Routes {
            router: OpenApiRouter::new(),
            table: Vec::new(),
        }
    }

    /// The handlers of one path, each documented by its
    /// `#[utoipa::path]`: `.documented(routes!(current, revoke))`.
    ///
    /// # Panics
    ///
    /// When `routes!` names handlers of different paths: utoipa-axum would
    /// serve every handler's method on every one of those paths.
    pub fn documented(mut self, routes: UtoipaMethodRouter<AppState>) -> Routes {
        let paths = &routes.1.paths;
        assert_eq!(
            paths.len(),
            1,
            "one path per routes!(...), not {:?}",
            paths.keys().collect::<Vec<_>>()
        );
        for (path, item) in paths {
            for method in methods(item) {
                self.table.push(Route {
                    method,
                    path: path.clone(),
                    documented: true,
                });
            }
        }
        self.router = self.router.routes(routes);
        self
    }

    /// A route the document leaves out on purpose. Only the demo portal's
    /// stand-in backend (`/demo/*`) is: `tests/openapi.rs` refuses any
    /// other.
    ///
    /// # Panics
    ///
    /// For a method axum cannot route by (an extension method).
    pub fn undocumented<H, T>(mut self, method: Method, path: &str, handler: H) -> Routes
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a standard HTTP method");
        self.table.push(Route {
            method,
            path: path.to_owned(),
            documented: false,
        });
        self.router = self.router.route(path, axum::routing::on(filter, handler));
        self
    }

    /// Both sets of routes.
    pub fn merge(mut self, other: Routes) -> Routes {
        self.table.extend(other.table);
        self.router = self.router.merge(other.router);
        self
    }

    /// Every route registered, in order.
    pub fn table(&self) -> &[Route] {
        &self.table
    }

    /// The router, and the whole API document of its routes.
    pub fn split(self) -> (Router<AppState>, Document) {
        let (router, paths) = self.router.split_for_parts();
        let mut document = ApiDoc::openapi();
        document.merge(paths);
        (router, document)
    }
}

/// The methods of a documented path.
fn methods(item: &PathItem) -> Vec<Method> {
    [
        (Method::GET, &item.get),
        (Method::PUT, &item.put),
        (Method::POST, &item.post),
        (Method::DELETE, &item.delete),
        (Method::OPTIONS, &item.options),
        (Method::HEAD, &item.head),
        (Method::PATCH, &item.patch),
        (Method::TRACE, &item.trace),
    ]
    .into_iter()
    .filter(|(_, operation)| operation.is_some())
    .map(|(method, _)| method)
    .collect()
}

/// The document as served: its JSON and the `ETag` of that JSON.
#[derive(Debug, Clone)]
pub struct Served {
    /// The serialized document.
    json: axum::body::Bytes,
    /// `"<hex>"`, a hash of `json`.
    etag: HeaderValue,
}

impl Served {
    /// Serializes `document` once, its descriptions made readable.
    pub fn new(document: &Document) -> Result<Served, serde_json::Error> {
        let mut value = serde_json::to_value(document)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("webhooks".to_owned(), webhooks());
        }
        readable_descriptions(&mut value);
        let json = serde_json::to_vec(&value)?;
        let hash = Sha256::digest(&json);
        let hex: String = hash[..12].iter().map(|b| format!("{b:02x}")).collect();
        let etag = HeaderValue::try_from(format!("\"{hex}\""))
            .unwrap_or_else(|_| HeaderValue::from_static("\"openapi\""));
        Ok(Served {
            json: json.into(),
            etag,
        })
    }

    /// The serialized document.
    pub fn json(&self) -> &[u8] {
        &self.json
    }
}

/// OpenAPI 3.1's `webhooks`: what the server POSTs to a site's backend for
/// each event of `[[apps.webhooks]]` (utoipa has no field for them, so
/// they are added to the JSON). The bodies are
/// [`trustchat_protocol::webhook::Event`] around each event's data, whose
/// schemas are in the components.
fn webhooks() -> serde_json::Value {
    use serde_json::json;
    use trustchat_protocol::webhook::EventType;

    let mut section = serde_json::Map::new();
    for kind in EventType::ALL {
        let (data, summary) = match kind {
            EventType::ConversationCreated => (
                "WebhookConversationData",
                "A customer's first message opened a conversation.",
            ),
            EventType::MessageCreated => (
                "WebhookMessageData",
                "A message was stored: a customer's (with its `trusted` flag), an agent's, or \
                 the server's own (a login request).",
            ),
            EventType::ConversationClosed => (
                "WebhookConversationData",
                "An agent closed a conversation, or a login merged it into the customer's \
                 history.",
            ),
            EventType::CustomerVerified => (
                "WebhookVerifiedData",
                "A session was proven by a verified identity token: opened with one, or \
                 logged in while it was not trusted.",
            ),
        };
        let name = kind.as_str();
        let header = |name: &str, description: &str| {
            json!({
                "name": name,
                "in": "header",
                "required": true,
                "description": description,
                "schema": {"type": "string"},
            })
        };
        section.insert(
            name.to_owned(),
            json!({"post": {
                "operationId": format!("webhook_{}", name.replace('.', "_")),
                "summary": summary,
                "description": "Sent to each `[[apps.webhooks]]` URL whose `events` list it, \
                    as soon as the event is committed, at least once (receivers drop \
                    duplicates by the event's `id`), in order per conversation (per customer \
                    for `customer.verified`). Check `TrustChat-Signature` before trusting the \
                    body, and refuse a `t` older than 5 minutes (a replay).",
                "tags": ["webhooks"],
                "parameters": [
                    header(
                        "TrustChat-Signature",
                        "`t=UNIX,v1=HEX`: `HEX` is the lowercase hex HMAC-SHA256, keyed with \
                         the webhook's secret (`secret_env`), of `t`, a dot, and the raw body.",
                    ),
                    header(
                        "TrustChat-Delivery",
                        "This delivery's id (one per event and webhook), the same in its retries.",
                    ),
                    header("TrustChat-Event", "The event's `type`."),
                ],
                "requestBody": {
                    "required": true,
                    "content": {"application/json": {"schema": {
                        "type": "object",
                        "required": ["id", "type", "created_at", "app_id", "data"],
                        "properties": {
                            "id": {
                                "type": "string",
                                "format": "uuid",
                                "description": "The event's id, the same in each of its deliveries.",
                            },
                            "type": {"type": "string", "const": name},
                            "created_at": {
                                "type": "integer",
                                "format": "int64",
                                "description": "When it happened, Unix milliseconds.",
                            },
                            "app_id": {"type": "string", "description": "The app it happened in."},
                            "data": {"$ref": format!("#/components/schemas/{data}")},
                        },
                    }}},
                },
                "responses": {
                    "2XX": {"description": "Delivered."},
                    "default": {"description": "Anything else (a redirect too), or no answer \
                        within the webhook's `timeout_secs`: sent again after a backoff that \
                        doubles from `retry_base_secs` up to `retry_max_secs`, until \
                        `retry_for_secs` (a day) after the event."},
                },
            }}),
        );
    }
    serde_json::Value::Object(section)
}

/// The limits the doc comments name, by the name they use, as their
/// values.
fn limits() -> [(&'static str, String); 10] {
    use trustchat_protocol::{chat, validate};
    [
        ("MAX_BODY_CHARS", chat::MAX_BODY_CHARS.to_string()),
        ("MAX_PAGE_MESSAGES", chat::MAX_PAGE_MESSAGES.to_string()),
        ("MAX_PAGE_URL_CHARS", chat::MAX_PAGE_URL_CHARS.to_string()),
        (
            "MAX_RATING_COMMENT_CHARS",
            chat::MAX_RATING_COMMENT_CHARS.to_string(),
        ),
        (
            "TYPING_EVERY_SECS",
            format!("{} s", chat::TYPING_EVERY_SECS),
        ),
        (
            "MAX_FRAME_BYTES",
            format!("{} bytes", chat::MAX_FRAME_BYTES),
        ),
        (
            "super::MAX_FRAME_BYTES",
            format!("{} bytes", chat::MAX_FRAME_BYTES),
        ),
        ("close::TOO_BIG", chat::close::TOO_BIG.to_string()),
        ("MAX_NAME_CHARS", validate::MAX_NAME_CHARS.to_string()),
        (
            "MAX_FIRST_NAME_CHARS",
            validate::MAX_FIRST_NAME_CHARS.to_string(),
        ),
    ]
}

/// A doc comment as an API reader reads it: rustdoc links (`` [`X`] ``,
/// `` [`X`](path) ``) become the limit's value or the plain name (its
/// last segment), and `None` becomes `null`.
fn readable(text: &str) -> String {
    let limits = limits();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("[`") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("`]") else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let name = &after[..end];
        let mut tail = &after[end + 2..];
        // An explicit link target: dropped.
        if tail.starts_with('(') {
            if let Some(close) = tail.find(')') {
                tail = &tail[close + 1..];
            }
        }
        match limits.iter().find(|(limit, _)| *limit == name) {
            Some((_, value)) => out.push_str(value),
            None => {
                let short = name.rsplit("::").next().unwrap_or(name);
                out.push('`');
                out.push_str(short);
                out.push('`');
            }
        }
        rest = tail;
    }
    out.push_str(rest);
    out.replace("`None`", "`null`")
}

/// Rewrites every `description` in the document with [`readable`].
fn readable_descriptions(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                match item {
                    serde_json::Value::String(text) if key == "description" => {
                        *text = readable(text);
                    }
                    _ => readable_descriptions(item),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(readable_descriptions),
        _ => {}
    }
}

errors!(OpenApiErrors: [Internal]);

/// The API document
///
/// This OpenAPI 3.1 document, generated from the server's code at start-up.
/// No credentials needed; cacheable (`Cache-Control`, `ETag` and
/// `If-None-Match`).
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "openApiDocument",
    tag = "meta",
    responses(
        (status = 200, description = "this document", body = Object, content_type = "application/json",
            headers(("ETag" = String, description = "changes whenever the document does"))),
        (status = 304, description = "`If-None-Match` named the current `ETag`"),
        OpenApiErrors,
    ),
)]
pub async fn openapi_json(
    Extension(served): Extension<Option<Served>>,
    headers: HeaderMap,
) -> Response {
    let Some(served) = served else {
        return ApiError::internal("the API document did not serialize at start-up")
            .into_response();
    };
    let cached = headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/").as_bytes() == served.etag.as_bytes()
        });
    let headers = [
        (CACHE_CONTROL, HeaderValue::from_static(CACHE)),
        (ETAG, served.etag.clone()),
    ];
    if cached {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (
        headers,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        served.json,
    )
        .into_response()
}

/// A JSON request body ([`super::json::JsonBody`]) that is not JSON, too
/// big, not declared JSON, of the wrong shape, or too slow to arrive.
pub const JSON_BODY: &[ErrorCode] = &[
    ErrorCode::MalformedJson,
    ErrorCode::RequestTimeout,
    ErrorCode::PayloadTooLarge,
    ErrorCode::UnsupportedMediaType,
    ErrorCode::InvalidRequest,
];

/// A customer's session token ([`super::auth::CustomerSession`]): missing
/// or dead, or used from an origin the session's app does not allow.
pub const CUSTOMER: &[ErrorCode] = &[
    ErrorCode::Unauthorized,
    ErrorCode::OriginNotAllowed,
    ErrorCode::Internal,
];

/// An agent's cookie on a GET ([`super::agent_auth::AgentSession`]).
pub const AGENT_READ: &[ErrorCode] = &[
    ErrorCode::Unauthorized,
    ErrorCode::OriginNotAllowed,
    ErrorCode::Internal,
];

/// An agent's cookie on a request that changes something: also the CSRF
/// token.
pub const AGENT_WRITE: &[ErrorCode] = &[
    ErrorCode::Unauthorized,
    ErrorCode::OriginNotAllowed,
    ErrorCode::CsrfFailed,
    ErrorCode::Internal,
];

/// An app's API key ([`super::mint::app_of_api_key`]).
pub const API_KEY: &[ErrorCode] = &[ErrorCode::Unauthorized, ErrorCode::Internal];

/// The responses of `sets`' codes, one per status, in the `BTreeMap` a
/// `#[utoipa::path]` takes from [`utoipa::IntoResponses`].
pub fn error_responses(sets: &[&[ErrorCode]]) -> BTreeMap<String, RefOr<ApiResponse>> {
    let mut by_status: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
    for code in sets.iter().flat_map(|set| set.iter().copied()) {
        let codes = by_status.entry(code.status()).or_default();
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    by_status
        .into_iter()
        .map(|(status, codes)| (status.to_string(), error_response(&codes).into()))
        .collect()
}

/// One error response: the envelope, and which codes it carries.
fn error_response(codes: &[ErrorCode]) -> ApiResponse {
    let mut description = String::from("The error envelope, with one of these codes:\n");
    for code in codes {
        description.push_str(&format!("\n- `{}`: {}", code.as_str(), code.meaning()));
    }
    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    );
    if codes.iter().any(|code| {
        matches!(
            code,
            ErrorCode::RateLimited | ErrorCode::ServerBusy | ErrorCode::TooManyConnections
        )
    }) {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(u64::schema())
                .description(Some("whole seconds to wait, as `retry_after` says"))
                .build(),
        );
    }
    response.build()
}

/// What no handler says: the document's title and introduction, tags,
/// security schemes, and the schemas only descriptions point to.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "TrustChat API",
        description = include_str!("openapi.md"),
        license(name = "MIT", identifier = "MIT"),
    ),
    tags(
        (name = "customer", description = "The widget's API: a customer's session, messages, WebSocket and ratings. The session token travels as `Authorization: Bearer` (and in the WebSocket's first frame), never in a URL."),
        (name = "agent", description = "The agent console's API: the `trustchat_agent` session cookie, same-origin requests only, and `X-CSRF-Token` on every request that changes something."),
        (name = "mint", description = "Identity tokens minted for a website's backend holding an app's API key."),
        (name = "privacy", description = "A customer's data exported or erased, by the app's API key."),
        (name = "reports", description = "The authentication report, by an app's API key or an agent's cookie."),
        (name = "health", description = "Liveness and readiness, for load balancers."),
        (name = "meta", description = "This document."),
        (name = "webhooks", description = "What the server POSTs to a site's backend (`[[apps.webhooks]]`), signed with `TrustChat-Signature`: the document's `webhooks`."),
    ),
    components(schemas(
        ErrorBody,
        ErrorDetail,
        ErrorCode,
        ClientFrame,
        ServerFrame,
        AgentClientFrame,
        AgentServerFrame,
        WebhookEventType,
        ConversationData,
        MessageData,
        VerifiedData,
    )),
    modifiers(&SecuritySchemes),
)]
pub struct ApiDoc;

/// The credentials, as the server reads them.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "sessionToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("tcs_…")
                    .description(Some(
                        "A customer's session token, from `POST /api/v1/apps/{app_id}/sessions`, \
                         as `Authorization: Bearer <token>`. Never in a URL and never a cookie; \
                         on the WebSocket it travels in the first frame instead.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "appApiKey",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("API key")
                    .description(Some(
                        "An app's API key (`trustchat-server api-key new`), as `Authorization: \
                         Bearer <key>`, from the website's backend only. The server holds only \
                         its SHA-256 hash.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "agentSession",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "trustchat_agent",
                "The agent console's session cookie, set by `POST /api/v1/agent/login` \
                 (HttpOnly, SameSite=Strict). Over https it is named `__Host-trustchat_agent`. \
                 Requests with an `Origin` must come from the server's own origin.",
            ))),
        );
        components.add_security_scheme(
            "agentCsrf",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-Token",
                "The session's `csrf_token` (from login or `GET /api/v1/agent/me`), on every \
                 agent request but GET and HEAD.",
            ))),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_read_without_rustdoc() {
        assert_eq!(
            readable("The text, 1 to [`MAX_BODY_CHARS`] characters; see [`crate::validate`]."),
            "The text, 1 to 4000 characters; see `validate`."
        );
        assert_eq!(
            readable("Answered with the stored\n[`Rating`](crate::agent::Rating); `None` if not."),
            "Answered with the stored\n`Rating`; `null` if not."
        );
        assert_eq!(readable("a [`broken"), "a [`broken");
        // The served document holds no rustdoc link.
        let served = Served::new(&super::super::api_document()).unwrap();
        let text = String::from_utf8(served.json.to_vec()).unwrap();
        assert!(!text.contains("[`"), "a rustdoc link is left");
        assert!(!text.contains("`None`"));
    }

    #[test]
    fn webhooks_describe_every_event_and_its_data() {
        let served = Served::new(&super::super::api_document()).unwrap();
        let document: serde_json::Value = serde_json::from_slice(&served.json).unwrap();
        let schemas = &document["components"]["schemas"];
        let webhooks = document["webhooks"].as_object().unwrap();
        let names: Vec<&str> = webhooks.keys().map(String::as_str).collect();
        let mut expected: Vec<&str> = trustchat_protocol::webhook::EventType::ALL
            .iter()
            .map(|kind| kind.as_str())
            .collect();
        expected.sort_unstable();
        assert_eq!(names, expected);
        for (name, item) in webhooks {
            let post = &item["post"];
            let body = &post["requestBody"]["content"]["application/json"]["schema"];
            assert_eq!(body["properties"]["type"]["const"], name.as_str());
            let data = body["properties"]["data"]["$ref"].as_str().unwrap();
            let component = data.strip_prefix("#/components/schemas/").unwrap();
            assert!(
                schemas.get(component).is_some(),
                "{name}: {component} is missing"
            );
            let headers: Vec<&str> = post["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            assert!(headers.contains(&"TrustChat-Signature"), "{name}");
        }
        // The data's own parts are there too: the message with its
        // `trusted` flag, the conversation, the verified customer.
        assert!(schemas["WebhookMessageData"]["properties"]["message"].is_object());
        let message = schemas["Message"]["properties"].as_object().unwrap();
        assert!(message.contains_key("trusted"));
        assert!(schemas.get("WebhookConversation").is_some());
        assert!(schemas.get("WebhookVerifiedCustomer").is_some());
    }

    #[test]
    fn errors_group_by_status() {
        let responses = error_responses(&[
            JSON_BODY,
            &[ErrorCode::RateLimited, ErrorCode::InvalidEmail],
        ]);
        let statuses: Vec<&str> = responses.keys().map(String::as_str).collect();
        assert_eq!(statuses, ["400", "408", "413", "415", "422", "429"]);
        let RefOr::T(invalid) = &responses["422"] else {
            panic!("an inline response")
        };
        assert!(invalid.description.contains("`invalid_request`"));
        assert!(invalid.description.contains("`invalid_email`"));
        let RefOr::T(limited) = &responses["429"] else {
            panic!("an inline response")
        };
        assert!(limited.headers.contains_key("Retry-After"));
    }

    /// Routes are registered only through [`Routes`], so that
    /// `tests/openapi.rs` sees each one: no module calls axum's `route`
    /// (or `nest`) itself. The metrics listener's own router is apart.
    #[test]
    fn routes_are_registered_only_through_routes() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut offenders = Vec::new();
        let mut dirs = vec![src.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let relative = path
                    .strip_prefix(&src)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                if path.extension().is_none_or(|e| e != "rs")
                    || relative == "http/openapi.rs"
                    || relative == "metrics.rs"
                {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for (n, line) in text.lines().enumerate() {
                    if [".route(", ".route_service(", ".nest(", ".nest_service("]
                        .iter()
                        .any(|call| line.contains(call))
                    {
                        offenders.push(format!("src/{relative}:{}: {}", n + 1, line.trim()));
                    }
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "register routes with http::openapi::Routes (documented(routes!(handler)) and a \
             #[utoipa::path]), not axum's route:\n{}",
            offenders.join("\n")
        );
    }
}
