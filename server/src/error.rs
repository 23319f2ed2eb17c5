//! [`ApiError`]: every way an HTTP request can fail, each with its stable
//! [`ErrorCode`], rendered as the `{"error": {...}}` envelope.
//!
//! Handlers and extractors return `Result<_, ApiError>` and never build error
//! responses by hand, so the status always agrees with the code. Internal
//! errors are logged here with their full chain; the client only ever reads
//! `internal server error`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use trustchat_protocol::validate::Invalid;
use trustchat_protocol::{ErrorBody, ErrorCode, ErrorDetail};

use crate::store::StoreError;

/// The largest JSON body the API accepts, in bytes.
pub const MAX_JSON_BODY: usize = 16 * 1024;

/// Every way a request can fail. Messages are lowercase, without a final
/// dot, and tell the developer what to change.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not JSON.
    #[error("{0}")]
    MalformedJson(String),
    /// 415: the body is not declared as JSON.
    #[error("send the body as JSON with Content-Type: application/json")]
    UnsupportedMediaType,
    /// 422: the JSON does not have the expected shape.
    #[error("{message}")]
    InvalidRequest {
        /// What is wrong.
        message: String,
        /// The field at fault, `user.name`, when known.
        field: Option<String>,
    },
    /// 422: a field's value was refused by `trustchat_protocol::validate`.
    #[error("{message}")]
    InvalidField {
        /// `invalid_name`, `invalid_email`, `invalid_phone` or `invalid_request`.
        code: ErrorCode,
        /// The field at fault, `user.email`.
        field: String,
        /// What to fix.
        message: &'static str,
    },
    /// 413: the body is over [`MAX_JSON_BODY`].
    #[error("request body must be at most {MAX_JSON_BODY} bytes")]
    PayloadTooLarge,
    /// 404: no app has this id.
    #[error("no app has the id {0:?}; check the appId passed to TrustChat.init against the server's config")]
    UnknownApp(String),
    /// 403: the `Origin` header is not in the app's `allowed_origins`.
    #[error("{}", origin_message(origin, app_id.as_deref()))]
    OriginNotAllowed {
        /// The `Origin` header as sent.
        origin: String,
        /// The app it was checked against; `None` for a CORS preflight,
        /// which is checked against every app.
        app_id: Option<String>,
    },
    /// 401: no usable session token. The detail is for the log only.
    #[error("a valid session token is required as Authorization: Bearer <token>")]
    Unauthorized,
    /// 401: an identity JWT was refused.
    #[error("{message}")]
    InvalidToken {
        /// A stable reason under `invalid_token`: `token_expired`,
        /// `bad_signature`, `not_configured`, ...
        reason: String,
        /// What was wrong with the token, without any secret.
        message: String,
    },
    /// 422: the app is not set up for this request.
    #[error("{0}")]
    NotConfigured(String),
    /// 429: the session sends messages faster than allowed.
    #[error("too many messages; wait {retry_after} seconds before sending again")]
    RateLimited {
        /// Whole seconds until the next message is accepted.
        retry_after: u64,
    },
    /// 401: an agent endpoint without a live console session cookie.
    #[error("log in to the agent console first")]
    AgentUnauthorized,
    /// 401: an agent login with a wrong email or password.
    #[error("wrong email or password")]
    InvalidCredentials,
    /// 403: a state-changing agent request without the session's CSRF token.
    #[error("send the session's csrf_token (from login or /api/v1/agent/me) as X-CSRF-Token")]
    CsrfFailed,
    /// 403: an agent endpoint called from another origin than the server's.
    #[error("agent endpoints only accept requests from the agent console's own origin, not {0}")]
    CrossOrigin(String),
    /// 403: the conversation is closed or routed to another agent.
    #[error("{0}")]
    NotAssigned(&'static str),
    /// 429: too many agent login attempts.
    #[error("too many login attempts; wait {retry_after} seconds before trying again")]
    TooManyLogins {
        /// Whole seconds until the next attempt is accepted.
        retry_after: u64,
    },
    /// 429: too many requests of one kind from the client's address
    /// (sessions, WebSocket connects, sockets waiting to authenticate).
    #[error("too many {what} from your address; wait {retry_after} seconds before trying again")]
    TooMany {
        /// What there were too many of, plural: `new sessions`.
        what: &'static str,
        /// Whole seconds until the next one is accepted.
        retry_after: u64,
    },
    /// 503: the server is at its connection cap, or agent logins are
    /// queued beyond what it waits for.
    #[error("the server is busy; try again in {retry_after} seconds")]
    ServerBusy {
        /// Whole seconds to wait.
        retry_after: u64,
    },
    /// 503: `GET /readyz` while the database (or the other servers'
    /// events) cannot be reached.
    #[error("not ready: {0}")]
    NotReady(&'static str),
    /// 408: the request body did not arrive in time.
    #[error("the request body did not arrive within {0} seconds")]
    RequestTimeout(u64),
    /// 400: a field is longer than any valid value; refused before any
    /// other work (no limiter, no password hash).
    #[error("{field} must be at most {max} bytes")]
    FieldTooLong {
        /// The field, `email`.
        field: &'static str,
        /// Its longest valid length in bytes.
        max: usize,
    },
    /// 404: no such route.
    #[error("no such endpoint")]
    NotFound,
    /// 404: no such resource (conversation, customer, agent).
    #[error("no {0} has this id")]
    NoSuch(&'static str),
    /// 404: a privacy request named no customer of the app.
    #[error("no customer of this app has this {0}")]
    NoCustomer(&'static str),
    /// 409: rating a conversation that is still open.
    #[error("the conversation is still open; rate it once it is closed")]
    ConversationOpen,
    /// 405: the route exists, not for this method.
    #[error("this endpoint does not accept this method")]
    MethodNotAllowed,
    /// 500: a bug or a failing database. Never shown to the client.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::MalformedJson(_) => ErrorCode::MalformedJson,
            ApiError::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            ApiError::InvalidRequest { .. } => ErrorCode::InvalidRequest,
            ApiError::InvalidField { code, .. } => *code,
            ApiError::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            ApiError::UnknownApp(_) => ErrorCode::UnknownApp,
            ApiError::OriginNotAllowed { .. } => ErrorCode::OriginNotAllowed,
            ApiError::Unauthorized => ErrorCode::Unauthorized,
            ApiError::InvalidToken { .. } => ErrorCode::InvalidToken,
            ApiError::NotConfigured(_) => ErrorCode::NotConfigured,
            ApiError::RateLimited { .. } => ErrorCode::RateLimited,
            ApiError::NotFound | ApiError::NoSuch(_) | ApiError::NoCustomer(_) => {
                ErrorCode::NotFound
            }
            ApiError::AgentUnauthorized => ErrorCode::Unauthorized,
            ApiError::InvalidCredentials => ErrorCode::InvalidCredentials,
            ApiError::CsrfFailed => ErrorCode::CsrfFailed,
            ApiError::CrossOrigin(_) => ErrorCode::OriginNotAllowed,
            ApiError::NotAssigned(_) => ErrorCode::NotAssigned,
            ApiError::TooManyLogins { .. } | ApiError::TooMany { .. } => ErrorCode::RateLimited,
            ApiError::ServerBusy { .. } => ErrorCode::ServerBusy,
            ApiError::NotReady(_) => ErrorCode::NotReady,
            ApiError::RequestTimeout(_) => ErrorCode::RequestTimeout,
            ApiError::FieldTooLong { .. } => ErrorCode::FieldTooLong,
            ApiError::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            ApiError::ConversationOpen => ErrorCode::ConversationOpen,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// A validation failure of a nested field: `prefix` is the path of the
    /// object that was validated (`user`), so the field reads `user.email`.
    pub fn invalid(invalid: Invalid, prefix: &str) -> ApiError {
        ApiError::InvalidField {
            code: invalid.code,
            field: format!("{prefix}.{}", invalid.field),
            message: invalid.message,
        }
    }

    /// Whole seconds to wait before trying again, for the errors that
    /// have one (`rate_limited`, `server_busy`).
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited { retry_after }
            | ApiError::TooManyLogins { retry_after }
            | ApiError::TooMany { retry_after, .. }
            | ApiError::ServerBusy { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// A 500 from any error.
    pub fn internal(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ApiError {
        ApiError::Internal(error.into())
    }

    /// The envelope the client reads.
    pub fn body(&self) -> ErrorBody {
        let (message, field, reason) = match self {
            ApiError::Internal(_) => ("internal server error".to_owned(), None, None),
            ApiError::InvalidRequest { field, .. } => (self.to_string(), field.clone(), None),
            ApiError::InvalidField { field, .. } => (self.to_string(), Some(field.clone()), None),
            ApiError::FieldTooLong { field, .. } => {
                (self.to_string(), Some((*field).to_owned()), None)
            }
            ApiError::InvalidToken { reason, .. } => (self.to_string(), None, Some(reason.clone())),
            _ => (self.to_string(), None, None),
        };
        ErrorBody {
            error: ErrorDetail {
                code: self.code().as_str().to_owned(),
                message,
                field,
                reason,
                retry_after: self.retry_after(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(error) = &self {
            tracing::error!(error = %error_chain(error.as_ref()), "request failed");
        }
        let status =
            StatusCode::from_u16(self.code().status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(self.body())).into_response();
        if let Some(retry_after) = self.retry_after() {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, retry_after.into());
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::internal(error)
    }
}

fn origin_message(origin: &str, app_id: Option<&str>) -> String {
    match app_id {
        Some(app_id) => format!(
            "origin {origin} is not allowed for app {app_id}; add it to allowed_origins of app {app_id} in the server's config"
        ),
        None => format!(
            "origin {origin} is not allowed for any app; add it to allowed_origins of your app in the server's config"
        ),
    }
}

/// `error: cause: cause`, so one log line holds the whole story.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_never_reach_the_body() {
        let error = ApiError::internal("disk on fire at /var/secret");
        let body = serde_json::to_string(&error.body()).unwrap();
        assert_eq!(
            body,
            r#"{"error":{"code":"internal","message":"internal server error"}}"#
        );
    }

    #[test]
    fn invalid_token_carries_its_reason() {
        let error = ApiError::InvalidToken {
            reason: "token_expired".into(),
            message: "the token expired".into(),
        };
        let body = error.body();
        assert_eq!(body.error.code, "invalid_token");
        assert_eq!(body.error.reason.as_deref(), Some("token_expired"));
    }
}
