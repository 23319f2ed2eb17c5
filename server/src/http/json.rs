//! [`JsonBody`]: the JSON request body extractor of the API.
//!
//! axum's own `Json` answers bad bodies with plain-text errors; this one
//! answers each with our envelope and a code a program can match:
//!
//! | the body | status | code |
//! |---|---|---|
//! | not declared `application/json` | 415 | `unsupported_media_type` |
//! | over [`MAX_JSON_BODY`](crate::error::MAX_JSON_BODY) bytes | 413 | `payload_too_large` |
//! | not JSON (syntax, bad UTF-8, empty, trailing data) | 400 | `malformed_json` |
//! | JSON of the wrong shape (missing, unknown or mistyped field) | 422 | `invalid_request` |

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A request body parsed as JSON into `T`; see the module docs for the
/// errors.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    tracing::debug!(%rejection, "request body not readable");
                    ApiError::MalformedJson("the request body could not be read".into())
                }
            })?;
        parse(&bytes).map(JsonBody)
    }
}

/// Parses `bytes` as one JSON object of type `T`, with our error codes.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Syntax first, into a `Value`: serde's derived structs would also
    // accept a JSON array of their fields, and `[]` is not a request.
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|error| {
        ApiError::MalformedJson(format!("the request body is not valid JSON: {error}"))
    })?;
    if !value.is_object() {
        return Err(ApiError::InvalidRequest {
            message: format!(
                "invalid request body: expected a JSON object, not {}",
                kind(&value)
            ),
            field: None,
        });
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let message = readable(&error.into_inner().to_string());
        let field = field_of(&path, &message);
        ApiError::InvalidRequest {
            message: format!("invalid request body: {message}"),
            field,
        }
    })
}

fn kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// serde speaks of Rust types; the developer reading the error wrote JSON.
fn readable(message: &str) -> String {
    const STRUCT: &str = "expected struct ";
    let Some(start) = message.find(STRUCT) else {
        return message.replace("invalid type: map", "invalid type: object");
    };
    if message.starts_with("invalid length") {
        // A struct given as an array of its fields.
        return "invalid type: array, expected a JSON object".to_owned();
    }
    let name_len = message[start + STRUCT.len()..]
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(message.len() - start - STRUCT.len());
    let mut message = message.to_owned();
    message.replace_range(
        start..start + STRUCT.len() + name_len,
        "expected a JSON object",
    );
    message.replace("invalid type: sequence", "invalid type: array")
}

/// The field at fault, as a dotted path: where serde was, plus the field it
/// names for missing and unknown fields.
fn field_of(path: &str, message: &str) -> Option<String> {
    let parent = (path != "." && !path.is_empty()).then(|| path.to_owned());
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next())
        .map(str::to_owned);
    match (parent, named) {
        // serde_path_to_error counts an unknown field in the path already.
        (Some(parent), Some(name)) if parent == name || parent.ends_with(&format!(".{name}")) => {
            Some(parent)
        }
        (Some(parent), Some(name)) => Some(format!("{parent}.{name}")),
        (None, Some(name)) => Some(name),
        (parent, None) => parent,
    }
}

/// `application/json`, `application/json; charset=utf-8`, or any
/// `application/*+json`.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use trustchat_protocol::CreateSessionRequest;

    fn check(body: &str, expected: Result<(), (&str, Option<&str>)>) {
        let got = parse::<CreateSessionRequest>(body.as_bytes())
            .map(drop)
            .map_err(|e| {
                let body = e.body();
                (body.error.code, body.error.field)
            });
        let expected =
            expected.map_err(|(code, field)| (code.to_owned(), field.map(str::to_owned)));
        assert_eq!(got, expected, "body {body:?}");
    }

    #[test]
    fn bodies() {
        check("{}", Ok(()));
        check(r#"{"user":null}"#, Ok(()));
        check("", Err(("malformed_json", None)));
        check("{", Err(("malformed_json", None)));
        check("{} {}", Err(("malformed_json", None)));
        check("{}x", Err(("malformed_json", None)));
        check("null", Err(("invalid_request", None)));
        check("[]", Err(("invalid_request", None)));
        check(r#""hi""#, Err(("invalid_request", None)));
        check(r#"{"usr":{}}"#, Err(("invalid_request", Some("usr"))));
        check(
            r#"{"user":{}}"#,
            Err(("invalid_request", Some("user.name"))),
        );
        check(
            r#"{"user":{"name":5}}"#,
            Err(("invalid_request", Some("user.name"))),
        );
        check(
            r#"{"user":{"name":"A","emial":"a@b.co"}}"#,
            Err(("invalid_request", Some("user.emial"))),
        );
        check(
            r#"{"jwt":null,"user":{"name":null}}"#,
            Err(("invalid_request", Some("user.name"))),
        );
    }

    #[test]
    fn messages_speak_json() {
        let error = parse::<CreateSessionRequest>(b"[]").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid request body: expected a JSON object, not an array"
        );
        let error = parse::<CreateSessionRequest>(br#"{"user":[]}"#).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid request body: invalid type: array, expected a JSON object"
        );
        let error = parse::<CreateSessionRequest>(br#"{"user":{"name":5}}"#).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid request body: invalid type: integer `5`, expected a string"
        );
        let error = parse::<CreateSessionRequest>(br#"{"user":"ada"}"#).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid request body: invalid type: string \"ada\", expected a JSON object"
        );
    }

    #[test]
    fn bad_utf8_is_malformed() {
        let error = parse::<CreateSessionRequest>(b"{\"jwt\":\"\xff\"}").unwrap_err();
        assert_eq!(error.body().error.code, "malformed_json");
    }
}
