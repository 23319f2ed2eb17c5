//! The error envelope every failing `/api/v1` response carries, and the
//! stable codes a program can match on.

use serde::{Deserialize, Serialize};

/// `{"error": {"code": "...", "message": "..."}}`: the body of every error
/// response of the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// The one error the request ran into.
    pub error: ErrorDetail,
}

/// What went wrong, for a program (`code`) and for a person (`message`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Stable, snake_case; one of [`ErrorCode`]'s names.
    #[cfg_attr(feature = "openapi", schema(value_type = ErrorCode))]
    pub code: String,
    /// A lowercase sentence, without a final dot, that says what to fix.
    pub message: String,
    /// The request field at fault, when there is one (`user.email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A finer reason under `code`, e.g. `token_expired` under `invalid_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For `rate_limited` and `server_busy`: whole seconds to wait before
    /// trying again (the `Retry-After` header says the same).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// The stable error codes of the HTTP API. The README documents each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 400: the body is not valid JSON.
    MalformedJson,
    /// 415: the body is not sent as `application/json`.
    UnsupportedMediaType,
    /// 422: the JSON has the wrong shape (missing or unknown field, wrong type).
    InvalidRequest,
    /// 422: a name is empty, too long or holds control characters.
    InvalidName,
    /// 422: an email address is not valid.
    InvalidEmail,
    /// 422: a phone number is not in E.164 form (`+14155550100`).
    InvalidPhone,
    /// 413: the body is larger than the server accepts.
    PayloadTooLarge,
    /// 404: no app has this id.
    UnknownApp,
    /// 403: the request's `Origin` is not in the app's `allowed_origins`.
    OriginNotAllowed,
    /// 401: no session token, or one that is unknown, revoked or expired.
    Unauthorized,
    /// 401: an identity JWT was refused; `reason` says why.
    InvalidToken,
    /// 404: no such route or resource.
    NotFound,
    /// 405: the route exists but not for this method.
    MethodNotAllowed,
    /// 422: the app is not set up for this request (e.g. minting without a
    /// signing key).
    NotConfigured,
    /// 429: too many requests; retry after `retry_after` seconds.
    RateLimited,
    /// 422: a message body is empty or only whitespace.
    EmptyMessage,
    /// 422: a message body is longer than
    /// [`MAX_BODY_CHARS`](crate::chat::MAX_BODY_CHARS) characters.
    MessageTooLong,
    /// 429 (WebSocket only, in an `error` frame before the close): the
    /// session already has as many WebSocket connections as allowed.
    TooManyConnections,
    /// 500: the server failed; details are in its log, never in the response.
    Internal,
    /// 401: an agent login with a wrong email or password (which one is
    /// never said).
    InvalidCredentials,
    /// 403: a state-changing agent request without the session's CSRF
    /// token in `X-CSRF-Token`.
    CsrfFailed,
    /// 403: the agent acted on a conversation that is closed or routed to
    /// another agent.
    NotAssigned,
    /// 400: a field is longer than any valid value could be (an agent
    /// login's email over 254 bytes); refused before any other work.
    FieldTooLong,
    /// 408: the request body did not arrive within the server's body read
    /// timeout; the connection is closed.
    RequestTimeout,
    /// 503: the server is at its connection cap, or too many agent logins
    /// are waiting for a password check; retry after `Retry-After`.
    ServerBusy,
    /// 503 (`GET /readyz`): the server cannot reach its database, or the
    /// other servers' events; a load balancer sends no traffic its way.
    NotReady,
    /// 409: the conversation is still open; it can be rated once an agent
    /// closed it.
    ConversationOpen,
}

impl ErrorCode {
    /// Every code, for documentation and exhaustive tests.
    pub const ALL: [ErrorCode; 27] = [
        ErrorCode::MalformedJson,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidName,
        ErrorCode::InvalidEmail,
        ErrorCode::InvalidPhone,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnknownApp,
        ErrorCode::OriginNotAllowed,
        ErrorCode::Unauthorized,
        ErrorCode::InvalidToken,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::NotConfigured,
        ErrorCode::RateLimited,
        ErrorCode::EmptyMessage,
        ErrorCode::MessageTooLong,
        ErrorCode::TooManyConnections,
        ErrorCode::Internal,
        ErrorCode::InvalidCredentials,
        ErrorCode::CsrfFailed,
        ErrorCode::NotAssigned,
        ErrorCode::FieldTooLong,
        ErrorCode::RequestTimeout,
        ErrorCode::ServerBusy,
        ErrorCode::NotReady,
        ErrorCode::ConversationOpen,
    ];

    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidName => "invalid_name",
            ErrorCode::InvalidEmail => "invalid_email",
            ErrorCode::InvalidPhone => "invalid_phone",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnknownApp => "unknown_app",
            ErrorCode::OriginNotAllowed => "origin_not_allowed",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::NotConfigured => "not_configured",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::EmptyMessage => "empty_message",
            ErrorCode::MessageTooLong => "message_too_long",
            ErrorCode::TooManyConnections => "too_many_connections",
            ErrorCode::Internal => "internal",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::CsrfFailed => "csrf_failed",
            ErrorCode::NotAssigned => "not_assigned",
            ErrorCode::FieldTooLong => "field_too_long",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::ServerBusy => "server_busy",
            ErrorCode::NotReady => "not_ready",
            ErrorCode::ConversationOpen => "conversation_open",
        }
    }

    /// The HTTP status that goes with the code.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::MalformedJson | ErrorCode::FieldTooLong => 400,
            ErrorCode::RequestTimeout => 408,
            ErrorCode::ServerBusy => 503,
            ErrorCode::NotReady => 503,
            ErrorCode::ConversationOpen => 409,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::InvalidRequest
            | ErrorCode::InvalidName
            | ErrorCode::InvalidEmail
            | ErrorCode::InvalidPhone
            | ErrorCode::NotConfigured
            | ErrorCode::EmptyMessage
            | ErrorCode::MessageTooLong => 422,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnknownApp | ErrorCode::NotFound => 404,
            ErrorCode::OriginNotAllowed | ErrorCode::CsrfFailed | ErrorCode::NotAssigned => 403,
            ErrorCode::Unauthorized | ErrorCode::InvalidToken | ErrorCode::InvalidCredentials => {
                401
            }
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::RateLimited | ErrorCode::TooManyConnections => 429,
            ErrorCode::Internal => 500,
        }
    }

    /// Parses a wire code; `None` for a code this version does not know.
    pub fn parse(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == code)
    }
}

/// What each code means and what to do about it, for the API's reference
/// (the OpenAPI document).
#[cfg(feature = "openapi")]
impl ErrorCode {
    /// One sentence for a developer reading the API reference.
    pub fn meaning(self) -> &'static str {
        match self {
            ErrorCode::MalformedJson => "the body is not valid JSON",
            ErrorCode::UnsupportedMediaType => {
                "the body is not sent as `Content-Type: application/json`"
            }
            ErrorCode::InvalidRequest => {
                "the request has the wrong shape: a missing, unknown or mistyped field or \
                 parameter, or a value out of range; `field` names it"
            }
            ErrorCode::InvalidName => {
                "a name is empty, longer than 200 characters, or holds control characters"
            }
            ErrorCode::InvalidEmail => "an email address does not look like `name@example.com`",
            ErrorCode::InvalidPhone => "a phone number is not in E.164 form (`+14155550100`)",
            ErrorCode::PayloadTooLarge => "the body is larger than the server accepts (16 KiB)",
            ErrorCode::UnknownApp => "no app has this id",
            ErrorCode::OriginNotAllowed => {
                "the request's `Origin` is not allowed (not in the app's `allowed_origins`; \
                 for agent endpoints, not the server's own origin)"
            }
            ErrorCode::Unauthorized => {
                "no credentials (session token, API key or agent cookie), or unknown, \
                 revoked or expired ones"
            }
            ErrorCode::InvalidToken => "an identity JWT was refused; `reason` says why",
            ErrorCode::NotFound => {
                "no such route, or no such conversation, customer, app or saved reply \
                 among those the caller may reach"
            }
            ErrorCode::MethodNotAllowed => "the route exists, not for this method",
            ErrorCode::NotConfigured => {
                "the app is not set up for this request (e.g. minting without a signing key)"
            }
            ErrorCode::RateLimited => {
                "too many requests; `retry_after` (and the `Retry-After` header) says how \
                 many seconds to wait"
            }
            ErrorCode::EmptyMessage => "a message body is empty or only whitespace",
            ErrorCode::MessageTooLong => "a message body is longer than 4,000 characters",
            ErrorCode::TooManyConnections => {
                "the session already has the most WebSocket connections allowed (an `error` \
                 frame on the WebSocket, never an HTTP response)"
            }
            ErrorCode::Internal => "the server failed; the details are in its log only",
            ErrorCode::InvalidCredentials => {
                "agent login: wrong email or password (the same answer for both)"
            }
            ErrorCode::CsrfFailed => {
                "an agent request that changes something without the session's `X-CSRF-Token`"
            }
            ErrorCode::NotAssigned => "the conversation is closed or routed to another agent",
            ErrorCode::FieldTooLong => {
                "a field is longer than any valid value; refused before any other work"
            }
            ErrorCode::RequestTimeout => {
                "the request body did not arrive in time; the connection is closed"
            }
            ErrorCode::ServerBusy => {
                "the server is at its connection cap, or agent logins are queued; \
                 `retry_after` and `Retry-After` say when to try again"
            }
            ErrorCode::NotReady => "the database, or the other servers' events, cannot be reached",
            ErrorCode::ConversationOpen => {
                "the conversation is still open; rate it once an agent closed it"
            }
        }
    }
}

/// The codes as an enum schema, from [`ErrorCode::ALL`], each with its
/// status and meaning in the description.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        let mut description = String::from(
            "The stable error codes. A program matches on these; the HTTP status of \
             each is fixed:\n",
        );
        for code in ErrorCode::ALL {
            description.push_str(&format!(
                "\n- `{}` ({}): {}",
                code.as_str(),
                code.status(),
                code.meaning()
            ));
        }
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .enum_values(Some(ErrorCode::ALL.iter().map(|code| code.as_str())))
            .description(Some(description))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for ErrorCode {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        let mut names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn envelope_shape() {
        let body = ErrorBody {
            error: ErrorDetail {
                code: "invalid_email".into(),
                message: "email must look like name@example.com".into(),
                field: Some("user.email".into()),
                reason: None,
                retry_after: None,
            },
        };
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": {"code": "invalid_email",
                "message": "email must look like name@example.com", "field": "user.email"}})
        );
    }
}
