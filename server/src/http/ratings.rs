//! `POST /api/v1/conversations/{id}/rating` [`RateConversation`] → 200
//! [`Rating`]: the customer's "How did we do?" of a closed conversation,
//! with their session token as `Authorization: Bearer`. Only a
//! conversation the session may read is rated (404 otherwise, as for one
//! that does not exist); an open one is 409 `conversation_open`; rating
//! again replaces the rating. The assigned agent's console hears of it.

use axum::extract::{Path, State};
use axum::Json;
use trustchat_protocol::chat::MAX_RATING_COMMENT_CHARS;
use trustchat_protocol::{ConversationStatus, RateConversation, Rating};
use utoipa_axum::routes;

use crate::chat;
use crate::clock;
use crate::console;
use crate::error::ApiError;
use crate::http::auth::CustomerSession;
use crate::http::json::JsonBody;
use crate::http::openapi::{errors, Routes};
use crate::state::AppState;
use crate::store::RatingRecord;

/// The rating route.
pub fn router() -> Routes {
    Routes::new().documented(routes!(rate))
}

errors!(RateErrors: CUSTOMER, JSON_BODY, [NotFound, ConversationOpen]);

/// Rates a closed conversation
///
/// "How did we do?": `rating` 1 to 5 and an optional `comment` of at most
/// 1,000 characters. Only a conversation the session may read (`404`
/// otherwise, as for one that does not exist), once an agent closed it
/// (`409 conversation_open` before). Rating again replaces the rating.
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/rating",
    operation_id = "rateConversation",
    tag = "customer",
    security(("sessionToken" = [])),
    params(("id" = String, Path, description = "the conversation's id")),
    request_body = RateConversation,
    responses((status = 200, description = "the rating stored", body = Rating), RateErrors),
)]
async fn rate(
    State(state): State<AppState>,
    auth: CustomerSession,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<RateConversation>,
) -> Result<Json<Rating>, ApiError> {
    if !(1..=5).contains(&request.rating) {
        return Err(ApiError::InvalidRequest {
            message: "rating must be a whole number from 1 to 5".into(),
            field: Some("rating".into()),
        });
    }
    let comment = request
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|comment| !comment.is_empty());
    if comment.is_some_and(|c| c.chars().count() > MAX_RATING_COMMENT_CHARS) {
        return Err(ApiError::InvalidRequest {
            message: format!("comment must be at most {MAX_RATING_COMMENT_CHARS} characters"),
            field: Some("comment".into()),
        });
    }
    let conversation = state
        .store
        .conversation(&id)
        .await?
        .filter(|c| chat::may_read(&auth.session, c, clock::now_secs()))
        .ok_or(ApiError::NoSuch("conversation"))?;
    if conversation.status != ConversationStatus::Closed {
        return Err(ApiError::ConversationOpen);
    }
    let record = RatingRecord {
        rating: i64::from(request.rating),
        comment: comment.map(str::to_owned),
        rated_at: clock::now_ms(),
    };
    // Closed conversations never open again: the update finds it closed.
    state
        .store
        .rate_conversation(&id, &record)
        .await?
        .ok_or(ApiError::ConversationOpen)?;
    tracing::debug!(conversation = %id, rating = request.rating, "conversation rated");
    console::notify_conversation(state.ctx(), &id, None).await;
    Ok(Json(Rating {
        rating: request.rating,
        comment: record.comment,
        rated_at: record.rated_at,
    }))
}
