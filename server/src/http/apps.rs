//! `GET /api/v1/apps/{app_id}`: what the widget needs to know about its app
//! before anyone has identified themselves, and whether someone can
//! answer now ([`crate::availability`]).

use axum::extract::State;
use axum::Json;
use trustchat_protocol::AppInfo;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::openapi::{errors, Routes};
use crate::http::origin::KnownApp;
use crate::state::AppState;

/// The app info route.
pub fn router() -> Routes {
    Routes::new().documented(routes!(app_info))
}

errors!(AppInfoErrors: [UnknownApp, OriginNotAllowed, Internal]);

/// An app, and whether support can answer now
///
/// What the widget needs before anyone has identified themselves: the
/// app's name, whether anonymous customers are asked for a name and email
/// first, its login page, and its availability (`available`: within office
/// hours with an agent online and available; `busy`: within hours, nobody
/// available; `closed`: outside hours, `next_open_at` says when it opens).
#[utoipa::path(
    get,
    path = "/api/v1/apps/{app_id}",
    operation_id = "getApp",
    tag = "customer",
    params(("app_id" = String, Path, description = "the app's id, as in the server's config")),
    responses((status = 200, description = "the app", body = AppInfo), AppInfoErrors),
)]
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
