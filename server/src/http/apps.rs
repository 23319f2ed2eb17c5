//! `GET /api/v1/apps/{app_id}`: what the widget needs to know about its app
//! before anyone has identified themselves, and whether someone can
//! answer now ([`crate::availability`]).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use trustchat_protocol::AppInfo;

use crate::error::ApiError;
use crate::http::origin::KnownApp;
use crate::state::AppState;

/// The app info route.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/apps/{app_id}", get(app_info))
}

async fn app_info(
    State(state): State<AppState>,
    KnownApp(app): KnownApp,
) -> Result<Json<AppInfo>, ApiError> {
    let now = state.availabilities.of(state.ctx(), &app).await?;
    Ok(Json(AppInfo {
        id: app.id.clone(),
        name: app.name.clone(),
        onboarding: app.onboarding,
        login_url: app.login_url.clone(),
        availability: now.availability,
        next_open_at: now.next_open_at,
    }))
}
