//! The errors the widget's API rejects with: a stable [`Code`] a program can
//! match and a message a person can act on.

use trustchat_protocol::ErrorBody;

/// The `code` property of every `Error` the JavaScript API rejects with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// A bad argument: a missing `appId`, an invalid email, an empty token.
    InvalidArgument,
    /// A call that needs `init` came before `init` resolved.
    NotInitialized,
    /// The server could not be reached (down, wrong URL, or CORS refused).
    Network,
    /// The server refused this page's origin for the app.
    OriginNotAllowed,
    /// The server knows no app with this id.
    UnknownApp,
    /// The identity JWT was refused.
    InvalidToken,
    /// The identity JWT has expired.
    TokenExpired,
    /// Too many requests; retry later.
    RateLimited,
    /// The server failed or answered something the widget cannot read.
    ServerError,
}

impl Code {
    /// The code as JavaScript sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidArgument => "invalid_argument",
            Code::NotInitialized => "not_initialized",
            Code::Network => "network",
            Code::OriginNotAllowed => "origin_not_allowed",
            Code::UnknownApp => "unknown_app",
            Code::InvalidToken => "invalid_token",
            Code::TokenExpired => "token_expired",
            Code::RateLimited => "rate_limited",
            Code::ServerError => "server_error",
        }
    }
}

/// A failed API call: lowercase message, no final dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What kind of failure, for a program.
    pub code: Code,
    /// What to do about it, for a person.
    pub message: String,
    /// The request field the server refused (`name`, `email`, `phone`),
    /// for the onboarding form.
    pub field: Option<String>,
}

impl Error {
    /// An error with the given code and message.
    pub fn new(code: Code, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// `invalid_argument` with the given message.
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::new(Code::InvalidArgument, message)
    }

    /// `not_initialized`, for any call made before `init` resolved.
    pub fn not_initialized() -> Error {
        Error::new(
            Code::NotInitialized,
            "trustchat is not initialized: call TrustChat.init({ appId }) first and wait for it",
        )
    }

    /// `network`: `server` could not be reached.
    pub fn network(server: &str) -> Error {
        Error::new(
            Code::Network,
            [
                "could not reach the trustchat server at ",
                server,
                ": check that it is running and that this page's origin is in the app's allowed_origins",
            ]
            .concat(),
        )
    }

    /// Maps an error response of the server (`status` and its body, when it
    /// is the documented envelope) to the widget's codes.
    pub fn from_response(server: &str, status: u16, body: Option<ErrorBody>) -> Error {
        let Some(ErrorBody { error }) = body else {
            return Error::new(
                Code::ServerError,
                [
                    "the trustchat server at ",
                    server,
                    " answered with status ",
                    &super::number::decimal(i64::from(status)),
                ]
                .concat(),
            );
        };
        let code = match error.code.as_str() {
            "unknown_app" => Code::UnknownApp,
            "origin_not_allowed" => Code::OriginNotAllowed,
            "invalid_token" if error.reason.as_deref() == Some("token_expired") => {
                Code::TokenExpired
            }
            "invalid_token" => Code::InvalidToken,
            "rate_limited" => Code::RateLimited,
            "invalid_name" | "invalid_email" | "invalid_phone" | "invalid_request"
            | "malformed_json" | "payload_too_large" => Code::InvalidArgument,
            _ => Code::ServerError,
        };
        Error {
            field: error.field,
            ..Error::new(code, error.message)
        }
    }
}

impl From<trustchat_protocol::validate::Invalid> for Error {
    fn from(invalid: trustchat_protocol::validate::Invalid) -> Error {
        Error::invalid(invalid.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trustchat_protocol::ErrorDetail;

    fn body(code: &str, reason: Option<&str>) -> Option<ErrorBody> {
        Some(ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message: "m".into(),
                field: None,
                reason: reason.map(Into::into),
                retry_after: None,
            },
        })
    }

    #[test]
    fn server_errors_map_to_widget_codes() {
        let cases = [
            (404, body("unknown_app", None), Code::UnknownApp),
            (
                403,
                body("origin_not_allowed", None),
                Code::OriginNotAllowed,
            ),
            (
                401,
                body("invalid_token", Some("token_expired")),
                Code::TokenExpired,
            ),
            (
                401,
                body("invalid_token", Some("bad_signature")),
                Code::InvalidToken,
            ),
            (401, body("invalid_token", None), Code::InvalidToken),
            (429, body("rate_limited", None), Code::RateLimited),
            (422, body("invalid_email", None), Code::InvalidArgument),
            (500, body("internal", None), Code::ServerError),
            (502, None, Code::ServerError),
        ];
        for (status, body, expected) in cases {
            assert_eq!(
                Error::from_response("http://s", status, body.clone()).code,
                expected,
                "{body:?}"
            );
        }
        assert_eq!(
            Error::from_response("http://s", 502, None).message,
            "the trustchat server at http://s answered with status 502"
        );
    }
}
