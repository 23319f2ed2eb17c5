//! The agent console's API under `/api/v1/agent` (authentication rules in
//! [`super::agent_auth`]):
//!
//! - `POST /login` [`AgentLogin`] → 200 [`AgentSessionInfo`] and the
//!   session cookie; 401 `invalid_credentials` for a wrong email or
//!   password alike; 429 `rate_limited` past the attempts allowed.
//! - `POST /logout` → 204, the cookie cleared; `GET /me` → the session.
//! - `POST /status` [`SetAgentStatus`] → 200 [`Agent`];
//!   `GET /agents` → [`AgentList`]: the agents who serve one of the
//!   caller's apps.
//! - `GET /conversations` → the agent's conversations (not the queue);
//!   `GET /conversations/{id}` → [`ConversationDetail`] (any
//!   conversation: past ones are read-only in the console).
//! - `POST /conversations/{id}/messages` [`AgentReply`] → 201 [`Message`]
//!   (200 with the stored one for a repeated `client_id`);
//!   `/request-login` `{}` → 201 a `login_request` message with the app's
//!   `login_url`, in the customer's language (422 `not_configured` without
//!   one); `/close` → 200
//!   [`ConversationSummary`]. All three: 403 `not_assigned` unless the
//!   conversation is open and routed to the caller.
//! - `POST /conversations/{id}/assign` [`AssignConversation`] → 200
//!   [`ConversationSummary`]: any open conversation (a queued one too) to
//!   any agent; both agents hear of it.
//! - `POST /conversations/{id}/read` [`MarkRead`] → 204; the customer's
//!   sockets hear `read` when the caller is the conversation's agent.
//! - `GET /customers/{id}` → [`CustomerProfile`].
//! - `GET /queue` → [`ConversationList`]: the open conversations no agent
//!   has, in routing order (high priority first, then oldest; held ones
//!   too, with `held_until`).
//! - `GET /search?q=…` → [`ConversationList`]: conversations whose
//!   customer's name, email or phone, or one of whose messages, holds
//!   every term (as a prefix), newest first, at most [`SEARCH_LIMIT`].
//! - `GET /saved-replies` → [`SavedReplyList`]; `POST /saved-replies`
//!   [`NewSavedReply`] → 201 [`SavedReply`]; `DELETE /saved-replies/{id}`
//!   → 204 (the console's only: the config's are read-only).
//! - `GET /ws`: the agent WebSocket ([`super::agent_ws`]).
//!
//! **Scope.** An agent reads and acts only on the apps their teams serve
//! ([`crate::scope`]): a conversation, customer or queue entry of any
//! other app is answered exactly as one that does not exist (404), and a
//! conversation is assigned only to an agent who serves its app.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use trustchat_protocol::validate::MAX_EMAIL_LEN;
use trustchat_protocol::{
    Agent, AgentList, AgentLogin, AgentReply, AgentSessionInfo, AgentStatus, AssignConversation,
    ConversationDetail, ConversationList, ConversationStatus, ConversationSummary, CustomerProfile,
    MarkRead, Message, MessageKind, NewSavedReply, SavedReply, SavedReplyList, SetAgentStatus,
};

use crate::agents;
use crate::bus::Event;
use crate::chat;
use crate::clock;
use crate::config::saved_reply_problem;
use crate::console;
use crate::error::ApiError;
use crate::http::agent_auth::{self, AgentSession};
use crate::http::client::ClientAddr;
use crate::http::json::JsonBody;
use crate::http::messages::send_error;
use crate::hub::CloseReason;
use crate::identity;
use crate::scope::{self, Scope};
use crate::signals;
use crate::state::AppState;
use crate::store::{ConversationRecord, SavedReplyRecord, SearchQuery};
use crate::texts::{BuiltIn, Text};

/// The most conversations a search returns.
pub const SEARCH_LIMIT: i64 = 50;

/// The agent routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/agent/login", post(login))
        .route("/api/v1/agent/logout", post(logout))
        .route("/api/v1/agent/me", get(me))
        .route("/api/v1/agent/status", post(set_status))
        .route("/api/v1/agent/agents", get(agents_list))
        .route("/api/v1/agent/conversations", get(conversations))
        .route("/api/v1/agent/conversations/{id}", get(conversation))
        .route("/api/v1/agent/conversations/{id}/messages", post(reply))
        .route(
            "/api/v1/agent/conversations/{id}/request-login",
            post(request_login),
        )
        .route("/api/v1/agent/conversations/{id}/close", post(close))
        .route("/api/v1/agent/conversations/{id}/assign", post(assign))
        .route("/api/v1/agent/conversations/{id}/read", post(read))
        .route("/api/v1/agent/customers/{id}", get(customer))
        .route("/api/v1/agent/queue", get(queue))
        .route("/api/v1/agent/search", get(search))
        .route(
            "/api/v1/agent/saved-replies",
            get(saved_replies).post(add_saved_reply),
        )
        .route(
            "/api/v1/agent/saved-replies/{id}",
            axum::routing::delete(delete_saved_reply),
        )
        .merge(super::agent_ws::router())
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: ClientAddr,
    JsonBody(request): JsonBody<AgentLogin>,
) -> Result<Response, ApiError> {
    agent_auth::check_same_origin(&headers)?;
    // An attacker-chosen email touches no limiter and no hash unless it
    // could be an address at all.
    if request.email.len() > MAX_EMAIL_LEN {
        tracing::debug!("agent login with an over-long email refused");
        return Err(ApiError::FieldTooLong {
            field: "email",
            max: MAX_EMAIL_LEN,
        });
    }
    let ip = client.0.map(|ip| ip.to_string());
    state
        .login_limiter
        .check(&request.email, ip.as_deref())
        .map_err(|retry_after| ApiError::TooManyLogins { retry_after })?;
    // Only a few argon2 checks (19 MiB each) run at once; the rest wait a
    // little, then are told the server is busy.
    let Ok(permit) = state.limits.password_checks.acquire().await else {
        tracing::warn!(
            running = state.limits.password_checks.in_use(),
            "agent login refused: password checks busy"
        );
        return Err(ApiError::ServerBusy { retry_after: 5 });
    };
    let ttl_secs = state.config.agent.session_hours.saturating_mul(3600);
    let ttl_ms = i64::try_from(ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    // The check runs in its own task holding the permit: should this
    // request be dropped mid-login (a client hanging up), the argon2 check
    // on its blocking thread runs on, and keeps its permit until it ends.
    let store = state.store.clone();
    let email = request.email.clone();
    let checked = tokio::spawn(async move {
        let _permit = permit;
        agents::login(store.as_ref(), &request.email, &request.password, ttl_ms).await
    })
    .await
    .map_err(ApiError::internal)??;
    let Some(logged_in) = checked else {
        tracing::debug!("agent login refused");
        return Err(ApiError::InvalidCredentials);
    };
    // The address an agent logged in from is theirs: strangers hammering
    // the email elsewhere do not lock them out from it.
    state.login_limiter.succeeded(&email, ip.as_deref());
    tracing::info!(agent = %logged_in.agent.id, "agent logged in");
    let cookie = agent_auth::session_cookie(
        &logged_in.token,
        ttl_secs,
        agent_auth::secure(&headers, &state.config.agent),
    );
    let teams = state.store.agent_teams(&logged_in.agent.id).await?;
    let scope = Scope::of_teams(&state.config, &teams);
    let info = AgentSessionInfo {
        agent: agents::agent_view(
            &logged_in.agent,
            state.presence.is_online(&logged_in.agent.id),
        ),
        csrf_token: logged_in.session.csrf_token,
        teams: scope::teams_view(&state.config, &teams),
        apps: scope.apps(&state.config),
    };
    Ok(with_cookie(&cookie, Json(info).into_response()))
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    auth: AgentSession,
) -> Result<Response, ApiError> {
    state
        .store
        .revoke_agent_session(&auth.session.id, clock::now_ms())
        .await?;
    // Its consoles close; those of the agent's other sessions reconnect.
    state.hub.close_agent(&auth.agent.id, CloseReason::Revoked);
    state.bus.publish(Event::AgentGone {
        agent_id: auth.agent.id.clone(),
    });
    let cookie = agent_auth::clear_cookie(agent_auth::secure(&headers, &state.config.agent));
    Ok(with_cookie(&cookie, StatusCode::NO_CONTENT.into_response()))
}

async fn me(
    State(state): State<AppState>,
    auth: AgentSession,
) -> Result<Json<AgentSessionInfo>, ApiError> {
    let teams = state.store.agent_teams(&auth.agent.id).await?;
    Ok(Json(AgentSessionInfo {
        agent: agents::agent_view(&auth.agent, state.presence.is_online(&auth.agent.id)),
        csrf_token: auth.session.csrf_token,
        teams: scope::teams_view(&state.config, &teams),
        apps: auth.scope.apps(&state.config),
    }))
}

async fn set_status(
    State(state): State<AppState>,
    auth: AgentSession,
    JsonBody(request): JsonBody<SetAgentStatus>,
) -> Result<Json<Agent>, ApiError> {
    let agent = state
        .store
        .set_agent_status(&auth.agent.id, request.status)
        .await?
        .ok_or(ApiError::AgentUnauthorized)?;
    if request.status == AgentStatus::Available {
        console::drain_queue(state.ctx()).await?;
    }
    // Availability may change: the heartbeat recomputes and pushes it now.
    state.presence.local_changed();
    Ok(Json(agents::agent_view(
        &agent,
        state.presence.is_online(&agent.id),
    )))
}

async fn agents_list(
    State(state): State<AppState>,
    auth: AgentSession,
) -> Result<Json<AgentList>, ApiError> {
    let online = state.presence.online_now().await?;
    let mut agents = state.store.agents().await?;
    // Only colleagues: agents who serve one of the caller's apps (another
    // brand's agents are none of their business).
    if !state.config.teams.is_empty() {
        let mut teams: std::collections::HashMap<String, Vec<String>> = Default::default();
        for (agent, team) in state.store.agent_memberships().await? {
            teams.entry(agent).or_default().push(team);
        }
        let mine = auth.scope.apps(&state.config);
        agents.retain(|agent| {
            let theirs = Scope::of_teams(
                &state.config,
                teams.get(&agent.id).map_or(&[][..], Vec::as_slice),
            );
            agent.id == auth.agent.id || mine.iter().any(|app| theirs.allows(app))
        });
    }
    Ok(Json(AgentList {
        agents: agents
            .iter()
            .map(|agent| agents::agent_view(agent, online.contains(&agent.id)))
            .collect(),
    }))
}

async fn conversations(
    State(state): State<AppState>,
    auth: AgentSession,
) -> Result<Json<ConversationList>, ApiError> {
    let mut conversations = console::conversations_of(state.store.as_ref(), &auth.agent.id).await?;
    conversations.retain(|c| auth.scope.allows(&c.app_id));
    Ok(Json(ConversationList { conversations }))
}

async fn conversation(
    State(state): State<AppState>,
    auth: AgentSession,
    Path(id): Path<String>,
) -> Result<Json<ConversationDetail>, ApiError> {
    in_scope(&state, &auth, &id).await?;
    let login_url = |app_id: &str| state.app(app_id).and_then(|app| app.login_url.clone());
    console::detail(state.store.as_ref(), &id, login_url)
        .await?
        .map(Json)
        .ok_or(ApiError::NoSuch("conversation"))
}

async fn reply(
    State(state): State<AppState>,
    auth: AgentSession,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<AgentReply>,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    let conversation = assigned_to(&state, &auth, &id).await?;
    let sent = chat::post_agent_reply(
        state.ctx(),
        &conversation,
        &auth.agent.name,
        &request.body,
        MessageKind::Text,
        None,
        request.client_id.as_deref(),
    )
    .await
    .map_err(send_error)?;
    let status = if sent.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(sent.message)))
}

async fn request_login(
    State(state): State<AppState>,
    auth: AgentSession,
    Path(id): Path<String>,
    JsonBody(_): JsonBody<serde_json::Map<String, serde_json::Value>>,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    let conversation = assigned_to(&state, &auth, &id).await?;
    let app = state.app(&conversation.app_id);
    let Some((app, login_url)) = app
        .as_ref()
        .and_then(|app| Some((app, app.login_url.as_deref()?)))
    else {
        return Err(ApiError::NotConfigured(format!(
            "app {} has no login_url; set one in the server's config to ask customers to log in",
            conversation.app_id
        )));
    };
    // In the customer's language (`login_request`, see `crate::texts`).
    let locales = identity::conversation_locales(state.store.as_ref(), &conversation).await?;
    let text = app
        .messages
        .localize(&locales, BuiltIn::Translated)
        .text(Text::LoginRequest);
    let sent = chat::post_agent_reply(
        state.ctx(),
        &conversation,
        &auth.agent.name,
        text,
        MessageKind::LoginRequest,
        Some(login_url),
        None,
    )
    .await
    .map_err(send_error)?;
    Ok((StatusCode::CREATED, Json(sent.message)))
}

async fn close(
    State(state): State<AppState>,
    auth: AgentSession,
    Path(id): Path<String>,
) -> Result<Json<ConversationSummary>, ApiError> {
    let conversation = assigned_to(&state, &auth, &id).await?;
    chat::close_conversation(state.ctx(), &conversation).await?;
    summary(&state, &id).await
}

async fn assign(
    State(state): State<AppState>,
    auth: AgentSession,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<AssignConversation>,
) -> Result<Json<ConversationSummary>, ApiError> {
    let before = in_scope(&state, &auth, &id).await?;
    let Some(target) = state.store.agent(&request.agent_id).await? else {
        return Err(ApiError::InvalidRequest {
            message: "no agent has this agent_id".into(),
            field: Some("agent_id".into()),
        });
    };
    let target_scope = scope::of(&state.config, state.store.as_ref(), &target.id).await?;
    if !target_scope.allows(&before.app_id) {
        return Err(ApiError::InvalidRequest {
            message: format!(
                "{} is in no team that serves app {}; assign it to an agent of one",
                target.name, before.app_id
            ),
            field: Some("agent_id".into()),
        });
    }
    if before.status != ConversationStatus::Open {
        return Err(ApiError::NotAssigned(
            "the conversation is closed; only open conversations are reassigned",
        ));
    }
    {
        let _routing = state.store.routing_lock().await?;
        state
            .store
            .assign_conversation(&id, Some(&target.id), clock::now_ms())
            .await?
            .ok_or(ApiError::NotAssigned(
                "the conversation is closed; only open conversations are reassigned",
            ))?;
    }
    console::notify_conversation(state.ctx(), &id, before.assigned_agent_id.as_deref()).await;
    if before.assigned_agent_id.is_none() {
        console::queue_changed(state.ctx(), &before.app_id);
    }
    summary(&state, &id).await
}

async fn read(
    State(state): State<AppState>,
    auth: AgentSession,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<MarkRead>,
) -> Result<StatusCode, ApiError> {
    if request.seq < 0 {
        return Err(ApiError::InvalidRequest {
            message: "seq must be 0 or more".into(),
            field: Some("seq".into()),
        });
    }
    let conversation = in_scope(&state, &auth, &id).await?;
    state
        .store
        .mark_read(&auth.agent.id, &id, request.seq)
        .await?;
    // The customer sees "Seen" when the conversation's own agent read it.
    if conversation.assigned_agent_id.as_deref() == Some(auth.agent.id.as_str()) {
        signals::agent_read(
            state.ctx(),
            &conversation,
            request.seq.min(conversation.last_seq),
        );
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn customer(
    State(state): State<AppState>,
    auth: AgentSession,
    Path(id): Path<String>,
) -> Result<Json<CustomerProfile>, ApiError> {
    console::profile(state.store.as_ref(), &id)
        .await?
        .filter(|profile| auth.scope.allows(&profile.app_id))
        .map(Json)
        .ok_or(ApiError::NoSuch("customer"))
}

async fn queue(
    State(state): State<AppState>,
    auth: AgentSession,
) -> Result<Json<ConversationList>, ApiError> {
    let mut conversations = console::queue(state.store.as_ref()).await?;
    conversations.retain(|c| auth.scope.allows(&c.app_id));
    Ok(Json(ConversationList { conversations }))
}

#[derive(serde::Deserialize)]
struct SearchParams {
    #[serde(default)]
    q: String,
}

async fn search(
    State(state): State<AppState>,
    auth: AgentSession,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Json<ConversationList>, ApiError> {
    let Ok(Query(params)) = params else {
        return Err(ApiError::InvalidRequest {
            message: "search with ?q=TEXT".into(),
            field: Some("q".into()),
        });
    };
    let terms: Vec<String> = params.q.split_whitespace().map(str::to_owned).collect();
    if terms.is_empty() || params.q.chars().count() > 200 {
        return Err(ApiError::InvalidRequest {
            message: "q must hold 1 to 200 characters to search for".into(),
            field: Some("q".into()),
        });
    }
    let apps = match &auth.scope {
        Scope::All => None,
        Scope::Apps(apps) => Some(apps.iter().cloned().collect()),
    };
    let conversations = console::search(
        state.store.as_ref(),
        SearchQuery {
            terms,
            apps,
            limit: SEARCH_LIMIT,
        },
    )
    .await?;
    Ok(Json(ConversationList { conversations }))
}

/// The teams whose saved replies the agent uses: theirs.
async fn own_teams(state: &AppState, auth: &AgentSession) -> Result<Vec<String>, ApiError> {
    if state.config.teams.is_empty() {
        return Ok(vec![scope::IMPLICIT_TEAM.to_owned()]);
    }
    Ok(state.store.agent_teams(&auth.agent.id).await?)
}

async fn saved_replies(
    State(state): State<AppState>,
    auth: AgentSession,
) -> Result<Json<SavedReplyList>, ApiError> {
    let teams = own_teams(&state, &auth).await?;
    Ok(Json(SavedReplyList {
        saved_replies: console::saved_replies(&state.config, state.store.as_ref(), &teams).await?,
    }))
}

async fn add_saved_reply(
    State(state): State<AppState>,
    auth: AgentSession,
    JsonBody(request): JsonBody<NewSavedReply>,
) -> Result<(StatusCode, Json<SavedReply>), ApiError> {
    let teams = own_teams(&state, &auth).await?;
    if !teams.contains(&request.team_id) {
        return Err(ApiError::InvalidRequest {
            message: "team_id must be one of your teams".into(),
            field: Some("team_id".into()),
        });
    }
    if let Some((field, message)) = saved_reply_problem(&request.title, &request.body) {
        return Err(ApiError::InvalidRequest {
            message,
            field: Some(field.into()),
        });
    }
    let record = SavedReplyRecord {
        id: uuid::Uuid::new_v4().to_string(),
        team_id: request.team_id,
        title: request.title.trim().to_owned(),
        body: request.body.trim().to_owned(),
        created_by: Some(auth.agent.id.clone()),
        created_at: clock::now_ms(),
    };
    state.store.insert_saved_reply(&record).await?;
    Ok((StatusCode::CREATED, Json(console::saved_reply_view(record))))
}

async fn delete_saved_reply(
    State(state): State<AppState>,
    auth: AgentSession,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let teams = own_teams(&state, &auth).await?;
    if state.store.delete_saved_reply(&id, &teams).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NoSuch("saved reply"))
    }
}

/// The conversation, if it is of an app the agent's teams serve; else
/// 404, as for one that does not exist.
async fn in_scope(
    state: &AppState,
    auth: &AgentSession,
    id: &str,
) -> Result<ConversationRecord, ApiError> {
    state
        .store
        .conversation(id)
        .await?
        .filter(|conversation| auth.scope.allows(&conversation.app_id))
        .ok_or(ApiError::NoSuch("conversation"))
}

/// The conversation, if it is open and routed to the caller.
async fn assigned_to(
    state: &AppState,
    auth: &AgentSession,
    id: &str,
) -> Result<ConversationRecord, ApiError> {
    let conversation = in_scope(state, auth, id).await?;
    if conversation.status != ConversationStatus::Open {
        return Err(ApiError::NotAssigned("the conversation is closed"));
    }
    if conversation.assigned_agent_id.as_deref() != Some(auth.agent.id.as_str()) {
        return Err(ApiError::NotAssigned(
            "the conversation is routed to another agent (or waiting in the queue); reassign it to yourself first",
        ));
    }
    Ok(conversation)
}

async fn summary(state: &AppState, id: &str) -> Result<Json<ConversationSummary>, ApiError> {
    console::summary(state.store.as_ref(), id)
        .await?
        .map(Json)
        .ok_or(ApiError::NoSuch("conversation"))
}

fn with_cookie(cookie: &str, mut response: Response) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    response
}
