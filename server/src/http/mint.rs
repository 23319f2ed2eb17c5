//! `POST /api/v1/user-identity-jwt`: the server mints an identity token for
//! a website that would rather not hold signing keys. The website's backend
//! authenticates with one of its app's API keys, as
//! `Authorization: Bearer <key>`, and hands the token to its page, which
//! calls `TrustChat.setJwt(token)`.
//!
//! API keys are configured as SHA-256 hashes only; the key is hashed and
//! looked up, so the clear key exists nowhere on the server.

use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use axum::Json;
use trustchat_protocol::{IdentityType, MintTokenRequest, MintTokenResponse};
use utoipa_axum::routes;

use crate::clock;
use crate::error::ApiError;
use crate::http::json::JsonBody;
use crate::http::openapi::{errors, Routes};
use crate::identity;
use crate::jwt::{MintError, MintIdentity};
use crate::state::{AppRef, AppState};

/// Lifetime of a minted token when the request does not say.
pub const DEFAULT_MINT_TTL_SECS: u64 = 600;

/// The mint route.
pub fn router() -> Routes {
    Routes::new().documented(routes!(mint))
}

errors!(MintErrors: JSON_BODY, API_KEY, [NotConfigured]);

/// Mints an identity token
///
/// For a website that would rather not hold signing keys: its backend,
/// with one of the app's API keys, asks for a token asserting an email or
/// an E.164 phone (and a name), signed with the app's `mint_kid` key, and
/// hands it to its page for `TrustChat.setJwt`. `expiresIn` defaults to
/// 600 seconds, capped by the app's `max_token_lifetime_secs`. `422
/// not_configured` when the app has no key to sign with; `422
/// invalid_request` (`field: "identity"` or `"name"`) for a value the
/// token may not carry.
#[utoipa::path(
    post,
    path = "/api/v1/user-identity-jwt",
    operation_id = "mintIdentityToken",
    tag = "mint",
    security(("appApiKey" = [])),
    request_body = MintTokenRequest,
    responses((status = 200, description = "the signed token", body = MintTokenResponse), MintErrors),
)]
async fn mint(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<MintTokenRequest>,
) -> Result<Json<MintTokenResponse>, ApiError> {
    let app = app_of_api_key(&state, &headers)?;
    let Some(verifier) = state.verifier(&app.id) else {
        return Err(ApiError::NotConfigured(format!(
            "app {} has no [apps.identity] keys; add a key the server can sign with (mint_kid)",
            app.id
        )));
    };
    let ttl = match request.expires_in {
        Some(0) => {
            return Err(ApiError::InvalidRequest {
                message: "expiresIn must be at least 1 second".into(),
                field: Some("expiresIn".into()),
            })
        }
        Some(ttl) => ttl,
        None => DEFAULT_MINT_TTL_SECS,
    };
    let who = match request.identity_type {
        IdentityType::Email => MintIdentity {
            email: Some(request.identity),
            ..MintIdentity::default()
        },
        IdentityType::MobilePhoneNumber => MintIdentity {
            phone: Some(request.identity),
            ..MintIdentity::default()
        },
    };
    let who = MintIdentity {
        name: request.name,
        ..who
    };
    let now = clock::now_unix();
    let token = verifier
        .identity_claims(&who, ttl, now)
        .and_then(|claims| verifier.mint(&claims))
        .map_err(|e| match e {
            MintError::InvalidIdentity { field, message } => ApiError::InvalidRequest {
                message,
                field: Some(if field == "name" { "name" } else { "identity" }.into()),
            },
            MintError::NoSigningKey(message) => ApiError::NotConfigured(message),
            MintError::Signing(kid) => ApiError::internal(format!("signing with key {kid} failed")),
        })?;
    tracing::debug!(app = %app.id, "minted an identity token");
    Ok(Json(MintTokenResponse { token }))
}

/// The app whose API key is in `Authorization: Bearer`; 401 otherwise.
pub(crate) fn app_of_api_key(state: &AppState, headers: &HeaderMap) -> Result<AppRef, ApiError> {
    let key = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 256)
        .ok_or_else(|| {
            tracing::debug!("mint request without an API key");
            ApiError::Unauthorized
        })?;
    let hash = api_key_hash(key);
    state
        .config
        .apps
        .iter()
        .find(|app| app.api_keys.iter().any(|k| k.hash == hash))
        .and_then(|app| state.app(&app.id))
        .ok_or_else(|| {
            tracing::debug!("mint request with an unknown API key");
            ApiError::Unauthorized
        })
}

/// `sha256:<hex>` of an API key: the form the config holds.
pub fn api_key_hash(key: &str) -> String {
    format!("sha256:{}", identity::hash_token(key))
}
