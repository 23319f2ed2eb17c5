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
use axum::Json;
use trustchat_protocol::validate::MAX_EMAIL_LEN;
use trustchat_protocol::{
    Agent, AgentList, AgentLogin, AgentReply, AgentSessionInfo, AgentStatus, AssignConversation,
    ConversationDetail, ConversationList, ConversationStatus, ConversationSummary, CustomerProfile,
    MarkRead, Message, MessageKind, NewSavedReply, SavedReply, SavedReplyList, SetAgentStatus,
};
use utoipa_axum::routes;

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
use crate::http::openapi::{errors, Routes};
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
pub fn router() -> Routes {
    Routes::new()
        .documented(routes!(login))
        .documented(routes!(logout))
        .documented(routes!(me))
        .documented(routes!(set_status))
        .documented(routes!(agents_list))
        .documented(routes!(conversations))
        .documented(routes!(conversation))
        .documented(routes!(reply))
        .documented(routes!(request_login))
        .documented(routes!(close))
        .documented(routes!(assign))
        .documented(routes!(read))
        .documented(routes!(customer))
        .documented(routes!(queue))
        .documented(routes!(search))
        .documented(routes!(saved_replies, add_saved_reply))
        .documented(routes!(delete_saved_reply))
        .merge(super::agent_ws::router())
}

errors!(LoginErrors: JSON_BODY, [OriginNotAllowed, FieldTooLong, RateLimited, ServerBusy, InvalidCredentials, Internal]);

/// Logs an agent in
///
/// Sets the session cookie and answers the session with its CSRF token.
/// A wrong email and a wrong password get the same `401
/// invalid_credentials`. Attempts are limited per address and per email
/// (`429 rate_limited`); password checks queue, and past a wait the answer
/// is `503 server_busy`. Same-origin only.
#[utoipa::path(
    post,
    path = "/api/v1/agent/login",
    operation_id = "agentLogin",
    tag = "agent",
    request_body = AgentLogin,
    responses(
        (status = 200, description = "logged in", body = AgentSessionInfo,
            headers(("Set-Cookie" = String, description = "the session cookie: `trustchat_agent` (over https `__Host-trustchat_agent`), HttpOnly, SameSite=Strict, Path=/"))),
        LoginErrors,
    ),
)]
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

errors!(LogoutErrors: AGENT_WRITE);

/// Logs the agent out
///
/// Revokes the session and clears the cookie; the agent's consoles close.
#[utoipa::path(
    post,
    path = "/api/v1/agent/logout",
    operation_id = "agentLogout",
    tag = "agent",
    security(("agentSession" = [], "agentCsrf" = [])),
    responses(
        (status = 204, description = "logged out",
            headers(("Set-Cookie" = String, description = "clears the session cookie"))),
        LogoutErrors,
    ),
)]
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

errors!(MeErrors: AGENT_READ);

/// The logged-in agent
///
/// With the session's CSRF token, the agent's teams and the apps they
/// serve.
#[utoipa::path(
    get,
    path = "/api/v1/agent/me",
    operation_id = "agentMe",
    tag = "agent",
    security(("agentSession" = [])),
    responses((status = 200, description = "the session", body = AgentSessionInfo), MeErrors),
)]
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

errors!(StatusErrors: AGENT_WRITE, JSON_BODY);

/// Sets the agent's availability
///
/// `available` agents are routed new conversations (the queue is handed
/// out at once); `away` ones keep their open conversations.
#[utoipa::path(
    post,
    path = "/api/v1/agent/status",
    operation_id = "setAgentStatus",
    tag = "agent",
    security(("agentSession" = [], "agentCsrf" = [])),
    request_body = SetAgentStatus,
    responses((status = 200, description = "the agent now", body = Agent), StatusErrors),
)]
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

errors!(AgentsErrors: AGENT_READ);

/// The agents
///
/// Those who serve one of the caller's apps, for reassigning.
#[utoipa::path(
    get,
    path = "/api/v1/agent/agents",
    operation_id = "listAgents",
    tag = "agent",
    security(("agentSession" = [])),
    responses((status = 200, description = "the agents", body = AgentList), AgentsErrors),
)]
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

errors!(ConversationsErrors: AGENT_READ);

/// The agent's conversations
///
/// Those routed to the caller (not the queue), open first, newest activity
/// first.
#[utoipa::path(
    get,
    path = "/api/v1/agent/conversations",
    operation_id = "listAgentConversations",
    tag = "agent",
    security(("agentSession" = [])),
    responses((status = 200, description = "the conversations", body = ConversationList), ConversationsErrors),
)]
async fn conversations(
    State(state): State<AppState>,
    auth: AgentSession,
) -> Result<Json<ConversationList>, ApiError> {
    let mut conversations = console::conversations_of(state.store.as_ref(), &auth.agent.id).await?;
    conversations.retain(|c| auth.scope.allows(&c.app_id));
    Ok(Json(ConversationList { conversations }))
}

errors!(ConversationErrors: AGENT_READ, [NotFound]);

/// A conversation with its timeline
///
/// Any conversation of an app the caller's teams serve (past ones are
/// read-only in the console); `404` for any other.
#[utoipa::path(
    get,
    path = "/api/v1/agent/conversations/{id}",
    operation_id = "getConversation",
    tag = "agent",
    security(("agentSession" = [])),
    params(("id" = String, Path, description = "the conversation's id")),
    responses((status = 200, description = "the conversation", body = ConversationDetail), ConversationErrors),
)]
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

errors!(ReplyErrors: AGENT_WRITE, JSON_BODY, [NotFound, NotAssigned, EmptyMessage, MessageTooLong]);

/// Replies in a conversation
///
/// Only in an open conversation routed to the caller (`403 not_assigned`
/// otherwise). An optional `client_id` (UUID) makes it idempotent: the
/// same one again answers `200` with the reply stored the first time.
#[utoipa::path(
    post,
    path = "/api/v1/agent/conversations/{id}/messages",
    operation_id = "replyToConversation",
    tag = "agent",
    security(("agentSession" = [], "agentCsrf" = [])),
    params(("id" = String, Path, description = "the conversation's id")),
    request_body = AgentReply,
    responses(
        (status = 201, description = "stored and delivered", body = Message),
        (status = 200, description = "this `client_id` was stored before: that reply", body = Message),
        ReplyErrors,
    ),
)]
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

errors!(RequestLoginErrors: AGENT_WRITE, JSON_BODY, [NotFound, NotAssigned, NotConfigured]);

/// Asks the customer to log in
///
/// Posts a `login_request` message carrying the app's `login_url`, in the
/// customer's language (`422 not_configured` when the app has none). The
/// body is `{}`. Only in an open conversation routed to the caller.
#[utoipa::path(
    post,
    path = "/api/v1/agent/conversations/{id}/request-login",
    operation_id = "requestLogin",
    tag = "agent",
    security(("agentSession" = [], "agentCsrf" = [])),
    params(("id" = String, Path, description = "the conversation's id")),
    request_body(content = Object, description = "`{}`"),
    responses((status = 201, description = "the login request, as a message", body = Message), RequestLoginErrors),
)]
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

errors!(CloseErrors: AGENT_WRITE, [NotFound, NotAssigned]);

/// Closes a conversation
///
/// Only an open conversation routed to the caller. The customer is asked
/// for a rating; their next message opens a new conversation. No body.
#[utoipa::path(
    post,
    path = "/api/v1/agent/conversations/{id}/close",
    operation_id = "closeConversation",
    tag = "agent",
    security(("agentSession" = [], "agentCsrf" = [])),
    params(("id" = String, Path, description = "the conversation's id")),
    responses((status = 200, description = "the conversation now", body = ConversationSummary), CloseErrors),
)]
async fn close(
    State(state): State<AppState>,
    auth: AgentSession,
    Path(id): Path<String>,
) -> Result<Json<ConversationSummary>, ApiError> {
    let conversation = assigned_to(&state, &auth, &id).await?;
    chat::close_conversation(state.ctx(), &conversation).await?;
    summary(&state, &id).await
}

errors!(AssignErrors: AGENT_WRITE, JSON_BODY, [NotFound, NotAssigned]);

/// Routes a conversation to an agent
///
/// Any open conversation of the caller's apps (a queued one too) to any
/// agent who serves its app (`422 invalid_request`, `field: "agent_id"`,
/// otherwise); a closed one is `403 not_assigned`. Both agents hear of it.
#[utoipa::path(
    post,
    path = "/api/v1/agent/conversations/{id}/assign",
    operation_id = "assignConversation",
    tag = "agent",
    security(("agentSession" = [], "agentCsrf" = [])),
    params(("id" = String, Path, description = "the conversation's id")),
    request_body = AssignConversation,
    responses((status = 200, description = "the conversation now", body = ConversationSummary), AssignErrors),
)]
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

errors!(ReadErrors: AGENT_WRITE, JSON_BODY, [NotFound]);

/// Marks a conversation read
///
/// Up to `seq`; its `unread` counts the customer's messages after it. When
/// the caller is the conversation's agent, the customer sees "Seen".
#[utoipa::path(
    post,
    path = "/api/v1/agent/conversations/{id}/read",
    operation_id = "markConversationRead",
    tag = "agent",
    security(("agentSession" = [], "agentCsrf" = [])),
    params(("id" = String, Path, description = "the conversation's id")),
    request_body = MarkRead,
    responses((status = 204, description = "marked"), ReadErrors),
)]
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

errors!(CustomerErrors: AGENT_READ, [NotFound]);

/// A customer profile
///
/// With every conversation linked to it, each with its own verification.
#[utoipa::path(
    get,
    path = "/api/v1/agent/customers/{id}",
    operation_id = "getCustomerProfile",
    tag = "agent",
    security(("agentSession" = [])),
    params(("id" = String, Path, description = "the profile's id (`customer.id` of a conversation)")),
    responses((status = 200, description = "the profile", body = CustomerProfile), CustomerErrors),
)]
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

errors!(QueueErrors: AGENT_READ);

/// The queue
///
/// The open conversations no agent has, of the caller's apps, in routing
/// order: high priority first, then oldest (those held for a login too,
/// with `held_until`).
#[utoipa::path(
    get,
    path = "/api/v1/agent/queue",
    operation_id = "getQueue",
    tag = "agent",
    security(("agentSession" = [])),
    responses((status = 200, description = "the queue", body = ConversationList), QueueErrors),
)]
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

errors!(SearchErrors: AGENT_READ, [InvalidRequest]);

/// Searches conversations
///
/// Those whose customer's name, email or phone, or one of whose messages,
/// holds every term of `q` (each as a prefix), newest first, at most 50.
#[utoipa::path(
    get,
    path = "/api/v1/agent/search",
    operation_id = "searchConversations",
    tag = "agent",
    security(("agentSession" = [])),
    params(("q" = String, Query, min_length = 1, max_length = 200, description = "the terms, separated by spaces")),
    responses((status = 200, description = "the matching conversations", body = ConversationList), SearchErrors),
)]
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

errors!(SavedRepliesErrors: AGENT_READ);

/// The saved replies
///
/// Those of the caller's teams, by team then title: the config's
/// (read-only) and the console's.
#[utoipa::path(
    get,
    path = "/api/v1/agent/saved-replies",
    operation_id = "listSavedReplies",
    tag = "agent",
    security(("agentSession" = [])),
    responses((status = 200, description = "the saved replies", body = SavedReplyList), SavedRepliesErrors),
)]
async fn saved_replies(
    State(state): State<AppState>,
    auth: AgentSession,
) -> Result<Json<SavedReplyList>, ApiError> {
    let teams = own_teams(&state, &auth).await?;
    Ok(Json(SavedReplyList {
        saved_replies: console::saved_replies(&state.config, state.store.as_ref(), &teams).await?,
    }))
}

errors!(AddSavedReplyErrors: AGENT_WRITE, JSON_BODY);

/// Adds a saved reply
///
/// For one of the caller's teams: a title of 1 to 80 characters and a body
/// of 1 to 4,000 (`422 invalid_request` with the `field` otherwise).
#[utoipa::path(
    post,
    path = "/api/v1/agent/saved-replies",
    operation_id = "addSavedReply",
    tag = "agent",
    security(("agentSession" = [], "agentCsrf" = [])),
    request_body = NewSavedReply,
    responses((status = 201, description = "the saved reply", body = SavedReply), AddSavedReplyErrors),
)]
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

errors!(DeleteSavedReplyErrors: AGENT_WRITE, [NotFound]);

/// Deletes a saved reply
///
/// One the console added for one of the caller's teams; the config's are
/// read-only (`404`, as for one that does not exist).
#[utoipa::path(
    delete,
    path = "/api/v1/agent/saved-replies/{id}",
    operation_id = "deleteSavedReply",
    tag = "agent",
    security(("agentSession" = [], "agentCsrf" = [])),
    params(("id" = String, Path, description = "the saved reply's id")),
    responses((status = 204, description = "deleted"), DeleteSavedReplyErrors),
)]
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
