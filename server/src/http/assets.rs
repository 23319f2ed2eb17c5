//! Static files: the built widget, the loader and the demo portal, served
//! from `static_dir` for every path that is not an API route. Unknown paths
//! under `/api` get the JSON 404 instead, so a typo in an API call is never
//! answered with an HTML page.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::ServiceExt as _;
use tower_http::services::ServeDir;

use crate::error::ApiError;
use crate::state::AppState;

/// The fallback of the whole app: JSON 404 under `/api`, files elsewhere.
pub fn router() -> Router<AppState> {
    Router::new().fallback(fallback)
}

async fn fallback(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path();
    if path == "/api" || path.starts_with("/api/") {
        return ApiError::NotFound.into_response();
    }
    // `ServeDir` maps `/` and directories to their `index.html`, refuses
    // `..`, answers a plain 404 for missing files and guesses content
    // types (`.wasm` is `application/wasm`).
    let files = ServeDir::new(&state.config.server.static_dir);
    match files.oneshot(request).await {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    }
}
