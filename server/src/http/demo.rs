//! The demo portal's stand-in backend, on only when the config has a
//! `[demo]` table. A real website logs its customers in itself and mints
//! identity tokens on its own server (README: "Identity tokens"); the demo
//! portal is static files, so these two routes play that part:
//!
//! - `POST /demo/login` `{"email", "password"}` checks a demo user and
//!   answers `{"name", "email", "portal_token"}`;
//! - `POST /demo/token` with `Authorization: Bearer <portal_token>` mints a
//!   fresh identity token for that user: `{"token"}` (what the portal's
//!   `fetchJwt` calls);
//! - `POST /demo/logout` forgets the portal token.
//!
//! Portal tokens live in memory: a restart logs every demo user out.

use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::Rng as _;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::clock;
use crate::error::ApiError;
use crate::http::json::JsonBody;
use crate::http::openapi::Routes;
use crate::jwt::MintIdentity;
use crate::state::AppState;

/// The demo routes; answer 404 unless the config has `[demo]`. Not part
/// of the API (a real website has its own login), so the API document
/// leaves them out.
pub fn router() -> Routes {
    Routes::new()
        .undocumented(Method::POST, "/demo/login", login)
        .undocumented(Method::POST, "/demo/token", token)
        .undocumented(Method::POST, "/demo/logout", logout)
}

/// `POST /demo/login`'s body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    email: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    JsonBody(login): JsonBody<Login>,
) -> Result<Json<Value>, ApiError> {
    let demo = state.config.demo.as_ref().ok_or(ApiError::NotFound)?;
    let email = login.email.trim().to_lowercase();
    let Some(user) = demo
        .users
        .iter()
        .find(|u| u.email == email && u.password == login.password)
    else {
        return Err(ApiError::Unauthorized);
    };
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    let portal_token = URL_SAFE_NO_PAD.encode(bytes);
    state
        .demo_logins
        .lock()
        .map_err(|_| ApiError::internal("demo login table poisoned"))?
        .insert(portal_token.clone(), user.email.clone());
    Ok(Json(
        json!({ "name": user.name, "email": user.email, "portal_token": portal_token }),
    ))
}

async fn token(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let demo = state.config.demo.as_ref().ok_or(ApiError::NotFound)?;
    let email = portal_user(&state, &headers)?;
    let user = demo
        .users
        .iter()
        .find(|u| u.email == email)
        .ok_or(ApiError::Unauthorized)?;
    let verifier = state.verifier(&demo.app).ok_or_else(|| {
        ApiError::NotConfigured(format!("demo app {} has no identity keys", demo.app))
    })?;
    let now = clock::now_unix();
    let who = MintIdentity {
        email: Some(user.email.clone()),
        name: Some(user.name.clone()),
        ..MintIdentity::default()
    };
    let token = verifier
        .identity_claims(&who, demo.token_ttl_secs, now)
        .and_then(|claims| verifier.mint(&claims))
        .map_err(|e| ApiError::NotConfigured(e.to_string()))?;
    Ok(Json(json!({ "token": token })))
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<StatusCode, ApiError> {
    state.config.demo.as_ref().ok_or(ApiError::NotFound)?;
    if let Some(token) = bearer(&headers) {
        if let Ok(mut logins) = state.demo_logins.lock() {
            logins.remove(token);
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

fn portal_user(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let token = bearer(headers).ok_or(ApiError::Unauthorized)?;
    state
        .demo_logins
        .lock()
        .map_err(|_| ApiError::internal("demo login table poisoned"))?
        .get(token)
        .cloned()
        .ok_or(ApiError::Unauthorized)
}
