//! Static files: the built widget, the loader and the demo portal, served
//! from `static_dir` for every path that is not an API route. Unknown paths
//! under `/api` get the JSON 404 instead, so a typo in an API call is never
//! answered with an HTML page.
//!
//! Caching: a file whose name carries a content hash (`trustchat_bg.
//! 9d3eedc9d87d.wasm`) never changes, so browsers may keep it for a year
//! without asking again; everything else (the stable entry script, pages)
//! is revalidated on every use (`no-cache`, with ETag/Last-Modified), so a
//! new release reaches every page at once. Precompressed `.br`/`.gz`
//! siblings are served when the build wrote them and the browser accepts
//! them. Files under `/widget/` may be fetched from any origin: customers'
//! pages load them.
//!
//! The agent console's files (`/agent`, `/agent/…`) carry a
//! Content-Security-Policy that allows only the server's own scripts,
//! styles and connections and no framing, and `Referrer-Policy:
//! no-referrer` (every response carries `X-Content-Type-Options: nosniff`).

use axum::extract::{Request, State};
use axum::http::header::{
    HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_SECURITY_POLICY,
    REFERRER_POLICY,
};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::ServiceExt as _;
use tower_http::services::ServeDir;

use crate::error::ApiError;
use crate::state::AppState;

/// `Cache-Control` of content-hashed files.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of everything else: use, but revalidate first.
const REVALIDATE: &str = "no-cache";
/// The agent console's Content-Security-Policy: its own files only, no
/// inline script or style, never in a frame. `img-src` adds `data:` for
/// the page's empty `data:,` favicon (which spares a request for
/// `/favicon.ico`); `base-uri`, `form-action` and `object-src` are not
/// covered by `default-src`.
pub const CONSOLE_CSP: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The fallback of the whole app: JSON 404 under `/api`, files elsewhere.
pub fn router() -> Router<AppState> {
    Router::new().fallback(fallback)
}

async fn fallback(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path();
    if path == "/api" || path.starts_with("/api/") {
        return ApiError::NotFound.into_response();
    }
    let cache = if is_content_hashed(path) {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    // The widget's files are public and fetched from customers' pages on
    // other origins (the loader fetches the wasm and the glue).
    let widget = path.starts_with("/widget/");
    let console = path == "/agent" || path.starts_with("/agent/");
    // `ServeDir` maps `/` and directories to their `index.html`, refuses
    // `..`, answers a plain 404 for missing files and guesses content
    // types (`.wasm` is `application/wasm`).
    let files = ServeDir::new(&state.config.server.static_dir)
        .precompressed_br()
        .precompressed_gzip();
    let mut response = match files.oneshot(request).await {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    };
    if response.status().is_success() || response.status().as_u16() == 304 {
        let headers = response.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
        if widget {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        }
    }
    if console {
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONSOLE_CSP),
        );
        headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    }
    response
}

/// Whether a path's file name holds a content hash: a dot-separated run of
/// at least 8 hex digits before the extension, as the build names them
/// (`name.[12 hex].ext`).
fn is_content_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let mut parts = name.rsplit('.');
    let (Some(_extension), Some(hash)) = (parts.next(), parts.next()) else {
        return false;
    };
    parts.next().is_some() && hash.len() >= 8 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::is_content_hashed;

    #[test]
    fn content_hashed_names() {
        let cases = [
            ("/widget/trustchat_bg.9d3eedc9d87d.wasm", true),
            ("/widget/trustchat.0123abcd.js", true),
            ("/widget/trustchat.js", false),
            ("/widget/loader.js", false),
            ("/index.html", false),
            ("/", false),
            ("/widget/deadbeef.js", false),
            ("/widget/name.notahash1.js", false),
            ("/widget/name.abc.js", false),
        ];
        for (path, expected) in cases {
            assert_eq!(is_content_hashed(path), expected, "{path}");
        }
    }
}
