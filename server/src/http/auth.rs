//! [`CustomerSession`]: the extractor behind every request made with a
//! session token.
//!
//! The token is read from `Authorization: Bearer <token>` and nowhere else:
//! never from a query string (URLs end up in logs and browser history) nor
//! from a cookie (which would invite cross-site request forgery). Every
//! refusal is logged at `debug!` without the token and answered 401
//! `unauthorized`, whatever the reason, so a caller learns nothing about
//! which tokens exist.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::http::origin::check_origin;
use crate::identity::{self, SESSION_TOKEN_PREFIX};
use crate::state::{AppRef, AppState};
use crate::store::{CustomerRecord, SessionRecord};

/// The longest token worth looking up; real ones are 47 characters.
const MAX_TOKEN_LEN: usize = 128;

/// A live (not revoked) session, its customer and its app, for a request
/// whose `Origin`, if any, is allowed for that app.
#[derive(Debug, Clone)]
pub struct CustomerSession {
    /// The session the token stands for.
    pub session: SessionRecord,
    /// The customer it speaks for.
    pub customer: CustomerRecord,
    /// The app it was opened for.
    pub app: AppRef,
}

impl FromRequestParts<AppState> for CustomerSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(parts)?;
        let token_hash = identity::hash_token(token);
        let Some(session) = state.store.session_by_token_hash(&token_hash).await? else {
            tracing::debug!("refused an unknown session token");
            return Err(ApiError::Unauthorized);
        };
        if session.revoked_at.is_some() {
            tracing::debug!(session = %session.id, "refused a revoked session token");
            return Err(ApiError::Unauthorized);
        }
        let Some(app) = state.app(&session.app_id) else {
            tracing::debug!(session = %session.id, app = %session.app_id, "refused a session of an app no longer configured");
            return Err(ApiError::Unauthorized);
        };
        check_origin(&parts.headers, &app)?;
        let Some(customer) = state.store.customer(&session.customer_id).await? else {
            return Err(ApiError::internal(format!(
                "session {} has no customer",
                session.id
            )));
        };
        Ok(CustomerSession {
            session,
            customer,
            app,
        })
    }
}

/// The token of `Authorization: Bearer <token>`, if it is there and looks
/// like one of ours.
fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let Some(header) = parts.headers.get(AUTHORIZATION) else {
        tracing::debug!("no Authorization header");
        return Err(ApiError::Unauthorized);
    };
    let Ok(header) = header.to_str() else {
        tracing::debug!("Authorization header is not ASCII");
        return Err(ApiError::Unauthorized);
    };
    let token = match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => {
            tracing::debug!("Authorization header is not a Bearer token");
            return Err(ApiError::Unauthorized);
        }
    };
    if !token.starts_with(SESSION_TOKEN_PREFIX) || token.len() > MAX_TOKEN_LEN {
        tracing::debug!("bearer token is not a session token");
        return Err(ApiError::Unauthorized);
    }
    Ok(token)
}
