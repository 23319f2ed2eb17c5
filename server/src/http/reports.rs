//! `GET /api/v1/reports/authentication?from=YYYY-MM-DD&to=YYYY-MM-DD&tz=Area/City[&app=ID][&format=csv]`
//! ([`crate::reports`]): read with an agent's cookie (the apps their
//! teams serve) or an app's API key as `Authorization: Bearer` (that app
//! only). An app outside the caller's reach is 404, as one that does not
//! exist. JSON [`AuthReport`](trustchat_protocol::AuthReport), or CSV
//! with `format=csv` or `Accept: text/csv`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::{ACCEPT, AUTHORIZATION, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use trustchat_protocol::AuthReport;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::agent_auth::AgentSession;
use crate::http::mint::app_of_api_key;
use crate::http::openapi::{errors, Routes};
use crate::reports::{self, ReportRange};
use crate::scope::Scope;
use crate::state::AppState;

/// The report route.
pub fn router() -> Routes {
    Routes::new().documented(routes!(authentication))
}

#[derive(serde::Deserialize)]
struct Params {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    tz: String,
    #[serde(default)]
    app: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

errors!(ReportErrors: [Unauthorized, OriginNotAllowed, InvalidRequest, NotFound, Internal]);

/// The authentication report
///
/// How many conversations were trusted from the start, upgraded mid-chat,
/// identified but untrusted, and anonymous, per day (in `tz`) and app,
/// with their trusted and untrusted customer messages and satisfaction
/// ratings. With an app's API key: that app only; with an agent's cookie:
/// the apps their teams serve. An app outside the caller's reach is `404`,
/// as one that does not exist. CSV with `format=csv` or `Accept: text/csv`.
#[utoipa::path(
    get,
    path = "/api/v1/reports/authentication",
    operation_id = "authenticationReport",
    tag = "reports",
    security(("appApiKey" = []), ("agentSession" = [])),
    params(
        ("from" = String, Query, format = Date, description = "the first day, `YYYY-MM-DD`"),
        ("to" = String, Query, format = Date, description = "the last day, `YYYY-MM-DD` (inclusive)"),
        ("tz" = String, Query, description = "the IANA time zone the days are cut in, e.g. `Europe/Paris`"),
        ("app" = Option<String>, Query, description = "one app only (default: every app the caller may read)"),
        ("format" = Option<String>, Query, description = "`json` (default) or `csv`"),
    ),
    responses(
        (status = 200, description = "the report", content(
            (AuthReport = "application/json"),
            (String = "text/csv"),
        )),
        ReportErrors,
    ),
)]
async fn authentication(
    State(state): State<AppState>,
    headers: HeaderMap,
    agent: Result<AgentSession, ApiError>,
    params: Result<Query<Params>, QueryRejection>,
) -> Result<Response, ApiError> {
    // Who asks: an app's API key, else an agent's session.
    let scope = if headers.contains_key(AUTHORIZATION) {
        let app = app_of_api_key(&state, &headers)?;
        Scope::Apps([app.id.clone()].into())
    } else {
        agent?.scope
    };
    let Ok(Query(params)) = params else {
        return Err(ApiError::InvalidRequest {
            message: "ask with ?from=YYYY-MM-DD&to=YYYY-MM-DD&tz=Area/City".into(),
            field: None,
        });
    };
    let range = ReportRange::parse(&params.from, &params.to, &params.tz).map_err(|bad| {
        ApiError::InvalidRequest {
            message: bad.message,
            field: Some(bad.field.into()),
        }
    })?;
    let csv = match params.format.as_deref() {
        Some("csv") => true,
        Some("json") => false,
        Some(_) => {
            return Err(ApiError::InvalidRequest {
                message: "format must be json or csv".into(),
                field: Some("format".into()),
            })
        }
        None => headers
            .get(ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.to_ascii_lowercase().contains("text/csv")),
    };
    let apps: Vec<String> = match &params.app {
        Some(app) => {
            if state.app(app).is_none() || !scope.allows(app) {
                return Err(ApiError::NoSuch("app"));
            }
            vec![app.clone()]
        }
        None => scope.apps(&state.config),
    };
    let apps = match (&scope, &params.app) {
        (Scope::All, None) => None,
        _ => Some(apps.as_slice()),
    };
    let report = reports::report(state.store.as_ref(), &range, apps).await?;
    if csv {
        let name = format!(
            "attachment; filename=\"trustchat-authentication-{}-{}.csv\"",
            range.from, range.to
        );
        return Ok((
            [
                (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (CONTENT_DISPOSITION, name),
            ],
            reports::csv(&report),
        )
            .into_response());
    }
    Ok(Json(report).into_response())
}
