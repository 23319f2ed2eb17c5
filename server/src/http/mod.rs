//! The HTTP layer: [`app`] builds the whole router from one module per route
//! group, plus the cross-cutting pieces every request goes through.
//!
//! - [`health`]: `GET /healthz` (liveness) and `GET /readyz` (readiness).
//! - [`apps`]: `GET /api/v1/apps/{app_id}`.
//! - [`sessions`]: opening, reading and revoking customer sessions.
//! - [`messages`]: sending and reading messages over HTTP.
//! - [`ws`]: the customer's WebSocket, `GET /api/v1/ws`.
//! - [`agent`]: the agent console's API under `/api/v1/agent`, with
//!   [`agent_auth`] (the session cookie, same-origin and CSRF rules) and
//!   [`agent_ws`] (the agent WebSocket).
//! - [`mint`]: `POST /api/v1/user-identity-jwt`, identity tokens minted
//!   for a website's backend holding an API key.
//! - [`privacy`]: a customer's data exported or erased, for a website's
//!   backend holding the app's API key.
//! - [`demo`]: the demo portal's stand-in login backend (only with `[demo]`).
//! - [`assets`]: the built widget and demo portal from `static_dir`, and
//!   the JSON 404 for unknown `/api` paths.
//! - [`openapi`]: `GET /api/v1/openapi.json`, the API document, and
//!   [`openapi::Routes`], through which every route is registered with its
//!   documentation.
//! - [`auth`]: the [`auth::CustomerSession`] extractor (bearer tokens).
//! - [`origin`]: the per-app `Origin` policy and CORS.
//! - [`json`]: the [`json::JsonBody`] extractor, which maps every bad body to
//!   one of our error codes.
//! - [`client`]: [`client::ClientAddr`], the client's address every
//!   limiter counts by; [`limits`]: the per-address limits and the agent
//!   login guard.
//! - [`conn`]: the accept loop, with the connection cap and the header,
//!   body and keep-alive timeouts.
//! - [`request_id`]: `X-Request-Id` on every request, its log lines and
//!   its response.
//!
//! Only this module and [`crate::error`] know axum.

use std::any::Any;

use axum::extract::DefaultBodyLimit;
use axum::http::header::{HeaderValue, X_CONTENT_TYPE_OPTIONS};
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::error::{ApiError, MAX_JSON_BODY};
use crate::state::AppState;
use openapi::{Route, Routes};

pub mod agent;
pub mod agent_auth;
pub mod agent_ws;
pub mod apps;
pub mod assets;
pub mod auth;
pub mod client;
pub mod conn;
pub mod demo;
pub mod health;
pub mod json;
pub mod limits;
pub mod messages;
pub mod mint;
pub mod openapi;
pub mod origin;
pub mod privacy;
pub mod ratings;
pub mod reports;
pub mod request_id;
pub mod sessions;
pub mod socket;
pub mod ws;

/// Every route of the app, each with its documentation (or, for the demo
/// portal's, explicitly without).
pub fn routes() -> Routes {
    Routes::new()
        .merge(health::router())
        .merge(apps::router())
        .merge(sessions::router())
        .merge(messages::router())
        .merge(ratings::router())
        .merge(reports::router())
        .merge(ws::router())
        .merge(agent::router())
        .merge(mint::router())
        .merge(privacy::router())
        .merge(demo::router())
        .documented(utoipa_axum::routes!(openapi::openapi_json))
}

/// The method and path of every registered route: what the server
/// serves, and what `tests/openapi.rs` checks the document against.
pub fn route_table() -> Vec<Route> {
    routes().table().to_vec()
}

/// The API document of [`routes`], as `GET /api/v1/openapi.json` serves it.
pub fn api_document() -> utoipa::openapi::OpenApi {
    routes().split().1
}

/// The API document's JSON exactly as `GET /api/v1/openapi.json` serves
/// it (`trustchat-server openapi`).
pub fn api_json() -> Result<Vec<u8>, serde_json::Error> {
    Ok(openapi::Served::new(&api_document())?.json().to_vec())
}

/// The whole HTTP application. Tests call it with `oneshot`; `serve` runs it
/// on a socket.
pub fn app(state: AppState) -> Router {
    let (router, document) = routes().split();
    // Serialized once, here. Failing would be a bug in a schema: the
    // document then answers 500 rather than the server not starting.
    let served = openapi::Served::new(&document)
        .inspect_err(|error| tracing::error!(%error, "the API document does not serialize"))
        .ok();
    router
        .merge(assets::router())
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::Extension(served))
        // Inside the routes' layers, where the route's template is known.
        .layer(axum::middleware::from_fn(crate::metrics::http))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            origin::cors,
        ))
        // First of all: who is asking, for every limiter after it.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            client::resolve,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                // The path only: a query string could hold something a careless
                // client put there, and headers are never logged (but the
                // request id, which `request_id::assign` checked).
                tracing::info_span!(
                    "request",
                    request_id = %request_id::of(request),
                    method = %request.method(),
                    path = %request.uri().path()
                )
            }),
        )
        .layer(CatchPanicLayer::custom(panic_response))
        // Outermost: even a panic's answer carries the id.
        .layer(axum::middleware::from_fn(request_id::assign))
        .with_state(state)
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// No request should get here; if one does, it gets the same answer as any
/// other internal error instead of a dropped connection.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-string payload".to_owned());
    ApiError::internal(format!("handler panicked: {message}")).into_response()
}
