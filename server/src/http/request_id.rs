//! `X-Request-Id`: every request gets one, on the span of every log line
//! it causes (`server.log_format = "json"` writes it on each line) and
//! echoed in its response. A client's own id is kept when it is a short
//! token of safe characters (a proxy's, to follow a request through both
//! logs); anything else is replaced by a fresh UUID, so a header cannot
//! write into the log.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The header, both ways.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest client id kept.
const MAX_LEN: usize = 64;

/// Gives the request its id (in its headers, where the trace span reads
/// it) and puts the same id on the response.
pub async fn assign(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&HEADER)
        .filter(|value| acceptable(value.as_bytes()))
        .cloned()
        .unwrap_or_else(fresh);
    request.headers_mut().insert(HEADER, id.clone());
    let mut response = next.run(request).await;
    response.headers_mut().insert(HEADER, id);
    response
}

/// The request's id, as [`assign`] set it.
pub fn of<B>(request: &axum::http::Request<B>) -> &str {
    request
        .headers()
        .get(&HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
}

fn acceptable(id: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn fresh() -> HeaderValue {
    HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn only_short_safe_ids_are_kept() {
        assert!(acceptable(b"5f0c8a9e-1b2c-4d3e-9f00-aa11bb22cc33"));
        assert!(acceptable(b"lb.req_42"));
        assert!(!acceptable(b""));
        assert!(!acceptable(&[b'a'; 65]));
        assert!(!acceptable(b"id\nforged line"));
        assert!(!acceptable(b"id with spaces"));
        assert!(!acceptable(b"\"quoted\""));
    }
}
