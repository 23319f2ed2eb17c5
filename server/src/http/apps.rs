//! `GET /api/v1/apps/{app_id}`: what the widget needs to know about its app
//! before anyone has identified themselves.

use axum::routing::get;
use axum::{Json, Router};
use trustchat_protocol::AppInfo;

use crate::http::origin::KnownApp;
use crate::state::AppState;

/// The app info route.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/apps/{app_id}", get(app_info))
}

async fn app_info(KnownApp(app): KnownApp) -> Json<AppInfo> {
    Json(AppInfo {
        id: app.id.clone(),
        name: app.name.clone(),
        onboarding: app.onboarding,
        login_url: app.login_url.clone(),
    })
}
