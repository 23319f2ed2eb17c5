//! Which browser pages may talk to which app.
//!
//! Every request for an app (`/api/v1/apps/{app_id}/...`, through
//! [`KnownApp`]) and every request with a session token (against the
//! session's app, in [`super::auth`]) is refused with `origin_not_allowed`
//! when it carries an `Origin` header that is not in the app's
//! `allowed_origins`. Requests without `Origin` come from servers and tools,
//! not from browsers, and pass.
//!
//! [`cors`] answers preflights and adds the CORS response headers. Error
//! responses carry `Access-Control-Allow-Origin` too: they hold no data, and
//! without it the widget would see an opaque network failure instead of a
//! code it can explain to the developer.

use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::header::{
    HeaderValue, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ALLOW,
    CACHE_CONTROL, ORIGIN, VARY,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::{AppRef, AppState};

/// The methods the API answers, for `Allow` and preflights.
const METHODS: &str = "GET, POST, DELETE, OPTIONS";
/// The request headers a browser may send cross-origin.
const HEADERS: &str = "authorization, content-type";
/// How long a browser may cache a preflight, in seconds.
const MAX_AGE: &str = "600";
/// The longest origin echoed back in an error message.
const MAX_ORIGIN_ECHO: usize = 200;

/// The app named by the `{app_id}` path segment, after the origin check:
/// 404 `unknown_app` when no app has that id, 403 `origin_not_allowed` when
/// the request's `Origin` is not one of the app's.
#[derive(Debug, Clone)]
pub struct KnownApp(pub AppRef);

impl FromRequestParts<AppState> for KnownApp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let app_id = match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(app_id)) => app_id,
            Err(rejection) => {
                tracing::debug!(%rejection, "app id not readable");
                return Err(ApiError::NotFound);
            }
        };
        let app = state.app(&app_id).ok_or(ApiError::UnknownApp(app_id))?;
        check_origin(&parts.headers, &app)?;
        Ok(KnownApp(app))
    }
}

/// Refuses a request whose `Origin` header is present and not allowed for
/// `app`.
pub fn check_origin(headers: &HeaderMap, app: &AppRef) -> Result<(), ApiError> {
    let Some(origin) = headers.get(ORIGIN) else {
        return Ok(());
    };
    if origin
        .to_str()
        .is_ok_and(|origin| app.allows_origin(&origin.to_ascii_lowercase()))
    {
        return Ok(());
    }
    Err(ApiError::OriginNotAllowed {
        origin: echo(origin),
        app_id: Some(app.id.clone()),
    })
}

/// CORS for `/api/`: answers preflights, and sets `Vary: Origin`,
/// `Cache-Control: no-store` (unless the handler set one) and, where
/// appropriate, `Access-Control-Allow-Origin` on responses. Never `*`,
/// never credentials.
pub async fn cors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !(path == "/api" || path.starts_with("/api/")) {
        return next.run(request).await;
    }
    let origin = request.headers().get(ORIGIN).cloned();
    let allowed_by_some_app = origin.as_ref().is_some_and(|origin| {
        origin.to_str().is_ok_and(|origin| {
            let origin = origin.to_ascii_lowercase();
            state
                .config
                .apps
                .iter()
                .any(|app| app.allows_origin(&origin))
        })
    });
    let mut response = if request.method() == Method::OPTIONS {
        match &origin {
            None => (
                StatusCode::NO_CONTENT,
                [(ALLOW, HeaderValue::from_static(METHODS))],
            )
                .into_response(),
            Some(_) if allowed_by_some_app => {
                let mut response = StatusCode::NO_CONTENT.into_response();
                let headers = response.headers_mut();
                headers.insert(
                    ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static(METHODS),
                );
                headers.insert(
                    ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static(HEADERS),
                );
                headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE));
                response
            }
            Some(origin) => {
                tracing::debug!(origin = %echo(origin), "preflight from an origin no app allows");
                ApiError::OriginNotAllowed {
                    origin: echo(origin),
                    app_id: None,
                }
                .into_response()
            }
        }
    } else {
        next.run(request).await
    };
    let status = response.status();
    let headers = response.headers_mut();
    headers.append(VARY, HeaderValue::from_static("origin"));
    // Unless the handler said otherwise (the API document is cacheable).
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if let Some(origin) = origin {
        // Successful answers only reach origins some app allows (and the
        // extractors have checked it was the right app); errors reach
        // everyone, as they carry nothing but a code.
        let is_error = status.is_client_error() || status.is_server_error();
        if allowed_by_some_app || is_error {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            // The page's script may read these two: the id to quote to
            // support, and how long to wait after a 429 or 503.
            headers.insert(
                ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("x-request-id, retry-after"),
            );
        }
    }
    response
}

/// The origin as it may appear in a message: lossy UTF-8, cut short.
fn echo(origin: &HeaderValue) -> String {
    String::from_utf8_lossy(origin.as_bytes())
        .chars()
        .take(MAX_ORIGIN_ECHO)
        .collect()
}
