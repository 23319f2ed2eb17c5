//! The agent console's domain: what agents see (conversation summaries,
//! timelines, customer profiles), routing conversations to them (the
//! decision is [`crate::routing`]'s), and telling their consoles what
//! changed through the [`Hub`].
//!
//! Knows neither axum nor SQL. Notifications are best effort: a failure to
//! build one is logged and the request that caused it still succeeds; the
//! console refetches on every (re)connect.

use std::collections::HashMap;

use trustchat_protocol::chat::MAX_PAGE_MESSAGES;
use trustchat_protocol::{
    AgentServerFrame, ConversationDetail, ConversationSummary, CustomerProfile, CustomerSummary,
    Message, ProfileSummary,
};

use crate::bus::Event;
use crate::clock;
use crate::ctx::Ctx;
use crate::hub::Hub;
use crate::routing::{self, Candidate};
use crate::store::{
    Appended, ConversationFilter, ConversationRecord, ConversationView, IdentityKind, Reader,
    SessionRecord, Store, StoreResult,
};
use crate::views;

/// The longest message preview in a list, in characters.
pub const PREVIEW_CHARS: usize = 140;

/// The conversations routed to an agent, open first, newest activity
/// first. The queue (conversations no agent has) is not included: it only
/// exists while no agent is available and online, and is handed out as
/// soon as one is.
pub async fn conversations_of(
    store: &dyn Store,
    agent_id: &str,
) -> StoreResult<Vec<ConversationSummary>> {
    summaries(store, ConversationFilter::AssignedTo(agent_id.to_owned())).await
}

/// One conversation's summary.
pub async fn summary(
    store: &dyn Store,
    conversation_id: &str,
) -> StoreResult<Option<ConversationSummary>> {
    Ok(
        summaries(store, ConversationFilter::Id(conversation_id.to_owned()))
            .await?
            .into_iter()
            .next(),
    )
}

/// A conversation with its whole timeline and its app's login URL.
pub async fn detail(
    store: &dyn Store,
    conversation_id: &str,
    login_url: impl Fn(&str) -> Option<String>,
) -> StoreResult<Option<ConversationDetail>> {
    let Some(conversation) = summary(store, conversation_id).await? else {
        return Ok(None);
    };
    let mut messages = Vec::new();
    loop {
        let after = messages.last().map_or(0, |m: &Message| m.seq);
        let page = store
            .messages_after(conversation_id, after, MAX_PAGE_MESSAGES)
            .await?;
        let full = page.len() == MAX_PAGE_MESSAGES;
        messages.extend(page.iter().map(views::message));
        if !full {
            break;
        }
    }
    Ok(Some(ConversationDetail {
        login_url: login_url(&conversation.app_id),
        conversation,
        messages,
    }))
}

/// A customer profile with every conversation linked to it, newest first,
/// each with its own verification (a profile has none).
pub async fn profile(store: &dyn Store, customer_id: &str) -> StoreResult<Option<CustomerProfile>> {
    let Some(customer) = store.customer(customer_id).await? else {
        return Ok(None);
    };
    let conversations =
        summaries(store, ConversationFilter::Customer(customer_id.to_owned())).await?;
    Ok(Some(CustomerProfile {
        customer: ProfileSummary {
            id: customer.id,
            name: customer.name,
            email: customer.email,
            phone: customer.phone,
        },
        app_id: customer.app_id,
        conversations,
    }))
}

/// After a customer's message is stored (and delivered to this server's
/// customer sockets): a conversation it opened is routed, then the
/// assigned agent, here or on another server, hears of the message, and
/// the other servers deliver it to their sockets.
pub async fn customer_message(ctx: Ctx<'_>, appended: &Appended, message: &Message) {
    if appended.opened {
        if let Err(error) = route_new(ctx, &message.conversation_id).await {
            tracing::error!(error = %crate::error::error_chain(&error), "routing a new conversation failed");
        }
    }
    deliver_message(ctx.store, ctx.hub, message).await;
    ctx.bus.publish(Event::message(appended));
}

/// Tells the conversation's agent about a new message, when a console of
/// theirs is connected to this server. The summary (a heavier query) is
/// built only then.
pub async fn deliver_message(store: &dyn Store, hub: &Hub, message: &Message) {
    if !hub.any_agent_online() {
        return;
    }
    match store.conversation(&message.conversation_id).await {
        Ok(Some(ConversationRecord {
            assigned_agent_id: Some(agent),
            ..
        })) if hub.is_online(&agent) => {}
        Ok(_) => return,
        Err(error) => {
            tracing::error!(error = %crate::error::error_chain(&error), "agent notification failed");
            return;
        }
    }
    match summary(store, &message.conversation_id).await {
        Ok(Some(conversation)) => {
            if let Some(agent) = conversation.assigned_agent_id.clone() {
                hub.publish_agent(
                    &agent,
                    AgentServerFrame::Message {
                        message: message.clone(),
                        conversation,
                    },
                );
            }
        }
        Ok(None) => {}
        Err(error) => {
            tracing::error!(error = %crate::error::error_chain(&error), "agent notification failed")
        }
    }
}

/// Tells the conversation's agent (and `also`, an agent it was taken
/// from) that it changed, on every server.
pub async fn notify_conversation(ctx: Ctx<'_>, conversation_id: &str, also: Option<&str>) {
    deliver_conversation(ctx.store, ctx.hub, conversation_id, also).await;
    ctx.bus.publish(Event::Conversation {
        conversation_id: conversation_id.to_owned(),
        also: also.map(str::to_owned),
    });
}

/// [`notify_conversation`] for the consoles connected to this server.
pub async fn deliver_conversation(
    store: &dyn Store,
    hub: &Hub,
    conversation_id: &str,
    also: Option<&str>,
) {
    let online = |agent: &str| hub.is_online(agent);
    if !hub.any_agent_online() {
        return;
    }
    match summary(store, conversation_id).await {
        Ok(Some(conversation)) => {
            let assigned = conversation.assigned_agent_id.clone();
            if let Some(other) = also.filter(|other| Some(*other) != assigned.as_deref()) {
                if online(other) {
                    hub.publish_agent(
                        other,
                        AgentServerFrame::Conversation {
                            conversation: conversation.clone(),
                        },
                    );
                }
            }
            if let Some(agent) = assigned.filter(|agent| online(agent)) {
                hub.publish_agent(&agent, AgentServerFrame::Conversation { conversation });
            }
        }
        Ok(None) => {}
        Err(error) => {
            tracing::error!(error = %crate::error::error_chain(&error), "agent notification failed")
        }
    }
}

/// A session's identity or trust changed (a login, a claim, a logout):
/// the agent of the conversation it writes into hears of it. A proven
/// session's change may change the verification of its customer's proven
/// conversation, whichever session started that one.
pub async fn session_changed(ctx: Ctx<'_>, session: &SessionRecord) {
    let reader = Reader {
        session_id: session.id.clone(),
        customer_id: session.customer_id.clone(),
        trusted: session.identity_kind == IdentityKind::Jwt,
    };
    match ctx.store.current_conversation(&reader).await {
        Ok(Some(conversation)) if conversation.assigned_agent_id.is_some() => {
            notify_conversation(ctx, &conversation.id, None).await;
        }
        Ok(_) => {}
        Err(error) => {
            tracing::error!(error = %crate::error::error_chain(&error), "agent notification failed")
        }
    }
}

/// Routes a conversation that just opened; it stays queued when nobody is
/// available and online on any server.
pub async fn route_new(
    ctx: Ctx<'_>,
    conversation_id: &str,
) -> StoreResult<Option<ConversationRecord>> {
    // Nobody online anywhere (this server's view: its own consoles, and
    // the others' as of the last heartbeat or the last `Queue` event, which
    // a server publishes as soon as its agents change): it stays queued,
    // with no lock taken and nothing read. The next agent to come online
    // drains the queue (`drain_queue`), and reads it after this
    // conversation was stored; should the two have crossed, the heartbeat
    // drains it within `presence::HEARTBEAT`.
    if !ctx.presence.any_online() {
        tracing::debug!(conversation = conversation_id, "no agent online: queued");
        return Ok(None);
    }
    let _routing = ctx.store.routing_lock().await?;
    let candidates = candidates(ctx).await?;
    let Some(agent) = routing::choose(&candidates) else {
        tracing::debug!(conversation = conversation_id, "no agent available: queued");
        return Ok(None);
    };
    ctx.store
        .assign_conversation(conversation_id, Some(&agent.id), clock::now_ms())
        .await
}

/// Hands the queue out to the agents available and online now, on any
/// server (an agent came online or became available; an agent was
/// removed; the heartbeat), and tells each agent what they got.
pub async fn drain_queue(ctx: Ctx<'_>) -> StoreResult<()> {
    let assigned = {
        let _routing = ctx.store.routing_lock().await?;
        let queue: Vec<String> = ctx
            .store
            .queued_conversations()
            .await?
            .into_iter()
            .map(|c| c.id)
            .collect();
        if queue.is_empty() {
            return Ok(());
        }
        let now = clock::now_ms();
        let mut assigned = Vec::new();
        for (conversation, agent) in routing::plan(&queue, &candidates(ctx).await?, now) {
            if ctx
                .store
                .assign_conversation(&conversation, Some(&agent), now)
                .await?
                .is_some()
            {
                assigned.push(conversation);
            }
        }
        assigned
    };
    for conversation in assigned {
        notify_conversation(ctx, &conversation, None).await;
    }
    Ok(())
}

/// Every live agent as routing sees them now (presence read afresh).
async fn candidates(ctx: Ctx<'_>) -> StoreResult<Vec<Candidate>> {
    let open: HashMap<String, i64> = ctx
        .store
        .open_conversation_counts()
        .await?
        .into_iter()
        .collect();
    let online = ctx.presence.online_now().await?;
    Ok(ctx
        .store
        .agents()
        .await?
        .into_iter()
        .map(|agent| Candidate {
            online: online.contains(&agent.id),
            open: open.get(&agent.id).copied().unwrap_or(0),
            status: agent.status,
            last_assigned_at: agent.last_assigned_at,
            id: agent.id,
        })
        .collect())
}

async fn summaries(
    store: &dyn Store,
    filter: ConversationFilter,
) -> StoreResult<Vec<ConversationSummary>> {
    Ok(store
        .conversation_views(filter, crate::clock::now_secs())
        .await?
        .into_iter()
        .map(summary_view)
        .collect())
}

/// The wire form of a conversation view.
fn summary_view(view: ConversationView) -> ConversationSummary {
    let ConversationView {
        conversation,
        customer,
        given,
        last_body,
        unread,
        verified,
    } = view;
    ConversationSummary {
        id: conversation.id,
        app_id: conversation.app_id,
        customer: CustomerSummary {
            id: customer.id,
            name: given.name,
            email: given.email,
            phone: given.phone,
            verified,
        },
        status: conversation.status,
        assigned_agent_id: conversation.assigned_agent_id,
        last_seq: conversation.last_seq,
        last_message_preview: last_body.map(|body| preview(&body)),
        unread,
        created_at: conversation.created_at,
        last_activity_at: conversation.last_activity_at,
    }
}

/// The start of a message body, on one line.
pub fn preview(body: &str) -> String {
    let line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut chars = line.chars();
    let mut short: String = chars.by_ref().take(PREVIEW_CHARS).collect();
    if chars.next().is_some() {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_are_one_short_line() {
        assert_eq!(preview("hi\n  there"), "hi there");
        let long = "x".repeat(PREVIEW_CHARS + 5);
        assert_eq!(preview(&long).chars().count(), PREVIEW_CHARS + 1);
        assert!(preview(&long).ends_with('…'));
    }
}
