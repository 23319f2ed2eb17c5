//! Messages over HTTP, for the session's customer:
//!
//! - `POST /api/v1/messages` with [`SendMessage`] stores a message: `201`
//!   with the [`Message`], or `200` with the message stored earlier when
//!   the `client_id` was seen before (nothing new is stored). Over
//!   [`crate::config::LimitsConfig`]'s rate: `429 rate_limited` with
//!   `retry_after` and a `Retry-After` header.
//! - `GET /api/v1/messages?after=SEQ` returns the session's current
//!   conversation's messages with `seq > SEQ` (default 0), at most
//!   [`chat::PAGE_SIZE`], `has_more` when another page follows. The
//!   current conversation is one the session reads
//!   ([`crate::store::Reader`]): one it started, or, trusted, its
//!   customer's proven one.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use trustchat_protocol::validate::{self, Invalid};
use trustchat_protocol::{Message, MessagesPage, SendMessage};
use utoipa_axum::routes;

use crate::chat::{self, SendError};
use crate::clock;
use crate::error::ApiError;
use crate::http::auth::CustomerSession;
use crate::http::json::JsonBody;
use crate::http::openapi::{errors, Routes};
use crate::identity;
use crate::state::AppState;

/// The message routes.
pub fn router() -> Routes {
    Routes::new().documented(routes!(send, list))
}

errors!(SendErrors: CUSTOMER, JSON_BODY, [EmptyMessage, MessageTooLong, RateLimited]);

/// Sends a customer's message
///
/// Into the session's current conversation, or a new one. `client_id` is a
/// UUID the client makes once per message: sending it again answers `200`
/// with the message stored the first time, and stores nothing. The message
/// is `trusted` exactly when the session is trusted now. Limited per
/// session (`429 rate_limited` with `retry_after`).
#[utoipa::path(
    post,
    path = "/api/v1/messages",
    operation_id = "sendMessage",
    tag = "customer",
    security(("sessionToken" = [])),
    request_body = SendMessage,
    responses(
        (status = 201, description = "stored (durably, before this answer)", body = Message),
        (status = 200, description = "this `client_id` was stored before: that message", body = Message),
        SendErrors,
    ),
)]
async fn send(
    State(state): State<AppState>,
    auth: CustomerSession,
    headers: axum::http::HeaderMap,
    JsonBody(request): JsonBody<SendMessage>,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    check_send(&state, &auth.session.id, &request.client_id, &request.body)?;
    let sent = chat::send_customer_message(
        state.ctx(),
        &auth.session,
        &request.client_id,
        &request.body,
        None,
        super::sessions::page(&headers),
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

errors!(ListErrors: CUSTOMER, [InvalidRequest]);

/// Reads the current conversation
///
/// The messages of the session's current conversation (one it may read)
/// with `seq` after `after`, in order, at most 500; `has_more` when another
/// page follows.
#[utoipa::path(
    get,
    path = "/api/v1/messages",
    operation_id = "listMessages",
    tag = "customer",
    security(("sessionToken" = [])),
    params(("after" = Option<i64>, Query, minimum = 0, description = "the `seq` of the last message the client has (default 0: all)")),
    responses((status = 200, description = "a page of messages", body = MessagesPage), ListErrors),
)]
async fn list(
    State(state): State<AppState>,
    auth: CustomerSession,
    RawQuery(query): RawQuery,
) -> Result<Json<MessagesPage>, ApiError> {
    let after = parse_after(query.as_deref())?;
    let reader = identity::reader(&auth.session, clock::now_secs());
    Ok(Json(
        chat::history(state.store.as_ref(), &reader, after).await?,
    ))
}

/// The checks before a send is stored, the same over HTTP and the
/// WebSocket: a UUID `client_id`, a valid body, then the session's rate.
/// Invalid sends do not use up the rate.
pub fn check_send(
    state: &AppState,
    session_id: &str,
    client_id: &str,
    body: &str,
) -> Result<(), ApiError> {
    chat::canonical_client_id(client_id).map_err(invalid)?;
    validate::message_body(body).map_err(invalid)?;
    state
        .send_limiter
        .check(session_id)
        .map_err(|retry_after| ApiError::RateLimited { retry_after })
}

/// The API error for a refused or failed send.
pub fn send_error(error: SendError) -> ApiError {
    match error {
        SendError::Invalid(invalid) => self::invalid(invalid),
        SendError::NoOpenConversation => ApiError::NotFound,
        SendError::Store(error) => ApiError::from(error),
    }
}

fn invalid(invalid: Invalid) -> ApiError {
    ApiError::InvalidField {
        code: invalid.code,
        field: invalid.field.to_owned(),
        message: invalid.message,
    }
}

/// `after` from the query string: a whole number, 0 when absent.
fn parse_after(query: Option<&str>) -> Result<i64, ApiError> {
    let value = query
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(name, _)| *name == "after")
        .map(|(_, value)| value);
    match value {
        None => Ok(0),
        Some(value) => value.parse::<i64>().ok().filter(|after| *after >= 0).ok_or_else(|| {
            ApiError::InvalidRequest {
                message: "after must be a whole number, the seq of the last message the client has (0 for all)"
                    .into(),
                field: Some("after".into()),
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: Option<&str>, expected: Option<i64>) {
        assert_eq!(parse_after(query).ok(), expected, "query {query:?}");
    }

    #[test]
    fn after() {
        check(None, Some(0));
        check(Some(""), Some(0));
        check(Some("after=0"), Some(0));
        check(Some("after=42"), Some(42));
        check(Some("x=1&after=7"), Some(7));
        check(Some("after="), None);
        check(Some("after"), None);
        check(Some("after=-1"), None);
        check(Some("after=1.5"), None);
        check(Some("after=abc"), None);
        check(Some("after=99999999999999999999"), None);
    }
}
