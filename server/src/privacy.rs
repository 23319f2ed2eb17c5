//! Privacy requests and retention: the domain behind `trustchat-server
//! customer export|erase`, `POST /api/v1/apps/{id}/customers/export|erase`
//! and `[apps.retention]`. Knows neither axum nor sqlx.
//!
//! - [`matching`] turns a request's one `email`, `phone` or `id` into the
//!   store's [`CustomerMatch`] (validated and normalized as sessions store
//!   them, so `Ada@Example.com` finds `ada@example.com`).
//! - [`export`] reads everything held about the customer in one snapshot
//!   ([`Store::customer_data`]) and turns it into the wire form: session
//!   token hashes are secrets and are left out. The export is audit-logged.
//! - [`erase`] deletes it all in one transaction, audit-logged in the same
//!   transaction ([`Store::erase_customers`]); [`erased_live`] then closes
//!   the erased sessions' sockets here and on the other servers.
//! - [`purge_expired`] and [`start_retention`]: closed conversations older
//!   than an app's `closed_conversation_days` are deleted, at start and
//!   hourly.
//!
//! The audit log holds ids and counts, never an email, a phone, a name or
//! a message text; the tracing log the same.

use std::sync::Arc;
use std::time::Duration;

use trustchat_protocol::privacy::{
    CustomerExport, CustomerSelector, EraseReport, ExportedConversation, ExportedDelivery,
    ExportedMessage, ExportedPendingEmail, ExportedProfile, ExportedRating, ExportedRead,
    ExportedSession,
};
use trustchat_protocol::{validate, ErrorCode};

use crate::bus::Event;
use crate::config::Config;
use crate::ctx::Ctx;
use crate::hub::CloseReason;
use crate::store::{
    AuditAction, AuditActor, AuditRecord, CustomerData, CustomerMatch, Erased, Store, StoreResult,
};

/// Why a request's selector was refused: a stable code, the field, a
/// message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadSelector {
    /// `invalid_request`, `invalid_email` or `invalid_phone`.
    pub code: ErrorCode,
    /// The field at fault (`email`, `phone`, `id`), if one.
    pub field: Option<&'static str>,
    /// What to fix.
    pub message: &'static str,
}

/// The longest profile id accepted (ids are UUIDs).
const MAX_ID_LEN: usize = 64;

/// The store's match for a selector with exactly one of its fields: an
/// email or phone validated and normalized as the server stores them.
pub fn matching(selector: &CustomerSelector) -> Result<CustomerMatch, BadSelector> {
    let given = [
        selector.email.is_some(),
        selector.phone.is_some(),
        selector.id.is_some(),
    ]
    .into_iter()
    .filter(|given| *given)
    .count();
    if given != 1 {
        return Err(BadSelector {
            code: ErrorCode::InvalidRequest,
            field: None,
            message: "name the customer by exactly one of email, phone or id",
        });
    }
    let refused = |invalid: validate::Invalid| BadSelector {
        code: invalid.code,
        field: Some(invalid.field),
        message: invalid.message,
    };
    if let Some(email) = &selector.email {
        return validate::email(email)
            .map(CustomerMatch::Email)
            .map_err(refused);
    }
    if let Some(phone) = &selector.phone {
        return validate::phone(phone)
            .map(CustomerMatch::Phone)
            .map_err(refused);
    }
    let id = selector.id.as_deref().unwrap_or_default().trim();
    if id.is_empty() || id.len() > MAX_ID_LEN || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(BadSelector {
            code: ErrorCode::InvalidRequest,
            field: Some("id"),
            message: "id must be a customer id, such as the customer.id a session answers with",
        });
    }
    Ok(CustomerMatch::Id(id.to_owned()))
}

/// What kind of name a match uses, for logs (never its value).
pub fn matched_by(matching: &CustomerMatch) -> &'static str {
    match matching {
        CustomerMatch::Id(_) => "id",
        CustomerMatch::Email(_) => "email",
        CustomerMatch::Phone(_) => "phone",
    }
}

/// Everything held about the customers `matching` names in app `app_id`,
/// in its wire form; `None` when no profile matched. Each exported profile
/// gets an audit entry by `actor`.
pub async fn export(
    store: &dyn Store,
    app_id: &str,
    matching: &CustomerMatch,
    actor: &AuditActor,
) -> StoreResult<Option<CustomerExport>> {
    let data = store.customer_data(app_id, matching).await?;
    if data.customers.is_empty() {
        return Ok(None);
    }
    let export = export_view(app_id, &data, actor.at_ms);
    for profile in &export.profiles {
        let messages: usize = profile.conversations.iter().map(|c| c.messages.len()).sum();
        store
            .record_audit(&AuditRecord {
                at_ms: actor.at_ms,
                action: AuditAction::Export,
                app_id: app_id.to_owned(),
                customer_id: Some(profile.id.clone()),
                actor: actor.actor.clone(),
                detail: format!(
                    "{{\"sessions\":{},\"conversations\":{},\"messages\":{messages}}}",
                    profile.sessions.len(),
                    profile.conversations.len()
                ),
            })
            .await?;
    }
    tracing::info!(app = %app_id, by = %matched_by(matching), actor = %actor.actor,
        profiles = export.profiles.len(), "customer data exported");
    Ok(Some(export))
}

/// The wire form of a customer's data, read at `now_ms`. A conversation
/// goes under the profile it is linked to, or, when it is linked to none
/// of them (a profile merged elsewhere), under the profile of the session
/// that started it.
pub fn export_view(app_id: &str, data: &CustomerData, now_ms: i64) -> CustomerExport {
    let owner_of_session = |session_id: &Option<String>| {
        session_id.as_ref().and_then(|id| {
            data.sessions
                .iter()
                .find(|s| &s.id == id)
                .map(|s| s.customer_id.clone())
        })
    };
    let profiles = data
        .customers
        .iter()
        .map(|customer| {
            let sessions = data
                .sessions
                .iter()
                .filter(|s| s.customer_id == customer.id)
                .map(|s| ExportedSession {
                    id: s.id.clone(),
                    identity: s.identity_kind.as_str().to_owned(),
                    sub: s.sub.clone(),
                    name: s.display_name.clone(),
                    first_name: s.display_first_name.clone(),
                    email: s.display_email.clone(),
                    phone: s.display_phone.clone(),
                    trusted_until: s.trusted_until,
                    page_url: s.page_url.clone(),
                    locales: s.locales.clone(),
                    created_at: s.created_at,
                    revoked_at: s.revoked_at,
                })
                .collect();
            let is_ours = |c: &crate::store::ConversationRecord| {
                if data.customers.iter().any(|x| x.id == c.customer_id) {
                    c.customer_id == customer.id
                } else {
                    owner_of_session(&c.session_id).as_deref() == Some(customer.id.as_str())
                }
            };
            let conversations = data
                .conversations
                .iter()
                .filter(|c| is_ours(c))
                .map(|c| ExportedConversation {
                    id: c.id.clone(),
                    session_id: c.session_id.clone(),
                    proven: c.proven,
                    status: c.status,
                    created_at: c.created_at,
                    closed_at: c.closed_at,
                    assigned_agent_id: c.assigned_agent_id.clone(),
                    team_id: c.routing.team_id.clone(),
                    priority: c.routing.priority,
                    rule: c.routing.rule.clone(),
                    customer_read_seq: c.customer_read_seq,
                    agent_reads: data
                        .agent_reads
                        .iter()
                        .filter(|r| r.conversation_id == c.id)
                        .map(|r| ExportedRead {
                            agent_id: r.agent_id.clone(),
                            seq: r.seq,
                        })
                        .collect(),
                    rating: c.rating.as_ref().map(|r| ExportedRating {
                        rating: r.rating,
                        comment: r.comment.clone(),
                        rated_at: r.rated_at,
                    }),
                    pending_email: data
                        .pending_emails
                        .iter()
                        .find(|p| p.conversation_id == c.id)
                        .map(|p| ExportedPendingEmail {
                            due_at: p.due_at,
                            attempts: p.attempts,
                        }),
                    messages: data
                        .messages
                        .iter()
                        .filter(|m| m.conversation_id == c.id)
                        .map(|m| ExportedMessage {
                            id: m.id.clone(),
                            seq: m.seq,
                            author: m.author,
                            author_name: m.author_name.clone(),
                            kind: m.kind,
                            body: m.body.clone(),
                            link: m.link.clone(),
                            trusted: m.trusted,
                            created_at: m.created_at_ms,
                            session_id: m.session_id.clone(),
                        })
                        .collect(),
                })
                .collect();
            ExportedProfile {
                id: customer.id.clone(),
                sub: customer.sub.clone(),
                name: customer.name.clone(),
                email: customer.email.clone(),
                phone: customer.phone.clone(),
                created_at: customer.created_at,
                updated_at: customer.updated_at,
                webhook_deliveries: data
                    .webhook_deliveries
                    .iter()
                    .filter(|d| {
                        d.order_key == customer.id
                            || data
                                .conversations
                                .iter()
                                .any(|c| c.id == d.order_key && is_ours(c))
                    })
                    .map(|d| ExportedDelivery {
                        id: d.id.clone(),
                        event_id: d.event_id.clone(),
                        event: d.event_type.clone(),
                        recipient: url::Url::parse(&d.url)
                            .map(|u| u.origin().ascii_serialization())
                            .unwrap_or_default(),
                        status: d.status.as_str().to_owned(),
                        created_at: d.created_at,
                        delivered_at: d.delivered_at,
                    })
                    .collect(),
                sessions,
                conversations,
            }
        })
        .collect();
    CustomerExport {
        app_id: app_id.to_owned(),
        exported_at: now_ms,
        profiles,
    }
}

/// Erases the customers `matching` names in app `app_id` (see
/// [`Store::erase_customers`]); `None` when no profile matched.
pub async fn erase(
    store: &dyn Store,
    app_id: &str,
    matching: &CustomerMatch,
    actor: &AuditActor,
) -> StoreResult<Option<Erased>> {
    let erased = store.erase_customers(app_id, matching, actor).await?;
    if erased.customer_ids.is_empty() {
        return Ok(None);
    }
    tracing::info!(app = %app_id, by = %matched_by(matching), actor = %actor.actor,
        customers = ?erased.customer_ids, sessions = erased.session_ids.len(),
        conversations = erased.conversation_ids.len(), messages = erased.messages,
        "customer erased");
    Ok(Some(erased))
}

/// The events that tell every server of an erasure: each session's
/// sockets close (their tokens no longer work), the app's consoles
/// refetch their queue.
pub fn erased_events(app_id: &str, erased: &Erased) -> Vec<Event> {
    erased
        .session_ids
        .iter()
        .map(|id| Event::SessionRevoked {
            session_id: id.clone(),
        })
        .chain([Event::QueueChanged {
            app_id: app_id.to_owned(),
        }])
        .collect()
}

/// After an erasure on this server: the erased sessions' sockets close
/// here and on the other servers, and the consoles refetch.
pub fn erased_live(ctx: Ctx<'_>, app_id: &str, erased: &Erased) {
    for session_id in &erased.session_ids {
        ctx.hub.close_session(session_id, CloseReason::Revoked);
        ctx.bus.publish(Event::SessionRevoked {
            session_id: session_id.clone(),
        });
    }
    crate::console::queue_changed(ctx, app_id);
}

/// The wire form of an erasure.
pub fn erase_report(erased: &Erased) -> EraseReport {
    EraseReport {
        profiles: erased.customer_ids.clone(),
        sessions: erased.session_ids.len() as u64,
        conversations: erased.conversation_ids.len() as u64,
        messages: erased.messages,
        ratings: erased.ratings,
        pending_emails: erased.pending_emails,
        webhook_deliveries: erased.webhook_deliveries,
    }
}

/// Conversations a purge deletes per transaction. On SQLite a batch holds
/// the one writer, and taking a message out of the full-text index for
/// good costs about a millisecond (measured: 600 messages in 0.64 to 0.71 s
/// with SQLite optimized, 20,000 in the index; without FTS5's
/// `secure-delete`, 5 to 8 ms): batches of a few hundred messages keep
/// customers' sends waiting well under a second; they get the writer
/// between two batches.
pub const PURGE_BATCH: i64 = 20;
/// How often retention runs (and once at start).
pub const RETENTION_EVERY: Duration = Duration::from_secs(3600);
/// A day, in milliseconds.
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Deletes, for every app with `[apps.retention] closed_conversation_days`,
/// the conversations closed more than that many days before `now_ms`, in
/// batches; each app's purge is audit-logged. Returns (app, conversations,
/// messages) for the apps where something was deleted.
pub async fn purge_expired(
    store: &dyn Store,
    config: &Config,
    now_ms: i64,
) -> StoreResult<Vec<(String, u64, u64)>> {
    let mut purged = Vec::new();
    for app in &config.apps {
        let Some(days) = app.retention.as_ref().map(|r| r.closed_conversation_days) else {
            continue;
        };
        let days = i64::try_from(days).unwrap_or(i64::MAX);
        let before = now_ms.saturating_sub(days.saturating_mul(DAY_MS));
        let (mut conversations, mut messages) = (0, 0);
        loop {
            let batch = store
                .purge_closed_conversations(&app.id, before, PURGE_BATCH)
                .await?;
            conversations += batch.conversations;
            messages += batch.messages;
            if batch.conversations < PURGE_BATCH as u64 {
                break;
            }
        }
        if conversations > 0 {
            store
                .record_audit(&AuditRecord {
                    at_ms: now_ms,
                    action: AuditAction::Retention,
                    app_id: app.id.clone(),
                    customer_id: None,
                    actor: "retention".into(),
                    detail: format!(
                        "{{\"conversations\":{conversations},\"messages\":{messages},\"closed_before\":{before}}}"
                    ),
                })
                .await?;
            tracing::info!(app = %app.id, conversations, messages, days,
                "retention deleted old closed conversations");
            purged.push((app.id.clone(), conversations, messages));
        }
    }
    Ok(purged)
}

/// Runs [`purge_expired`] now and every [`RETENTION_EVERY`] until the
/// returned task is aborted; `None` when no app sets retention.
pub fn start_retention(
    store: Arc<dyn Store>,
    config: Arc<Config>,
) -> Option<tokio::task::JoinHandle<()>> {
    if !config.apps.iter().any(|app| app.retention.is_some()) {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut every = tokio::time::interval(RETENTION_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(error) = purge_expired(store.as_ref(), &config, crate::clock::now_ms()).await
            {
                tracing::warn!(error = %crate::error::error_chain(&error), "retention purge failed; tried again in an hour");
            }
        }
    }))
}
