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
    AgentServerFrame, ConversationDetail, ConversationStatus, ConversationSummary, CustomerProfile,
    CustomerSummary, Message, ProfileSummary, Rating, SavedReply, SavedReplySource,
};

use crate::bus::Event;
use crate::clock;
use crate::config::Config;
use crate::ctx::Ctx;
use crate::hub::Hub;
use crate::routing::{self, Candidate, Waiting};
use crate::rules::{self, CustomerStatus};
use crate::scope;
use crate::store::{
    Appended, ConversationFilter, ConversationRecord, ConversationView, IdentityKind, Reader,
    RoutingFacts, SavedReplyRecord, SearchQuery, SessionRecord, Store, StoreResult,
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

/// The queue: open conversations no agent has, in routing order (high
/// priority first, then oldest), held ones included.
pub async fn queue(store: &dyn Store) -> StoreResult<Vec<ConversationSummary>> {
    summaries(store, ConversationFilter::Queue).await
}

/// Conversations found by full-text search, newest first.
pub async fn search(
    store: &dyn Store,
    query: SearchQuery,
) -> StoreResult<Vec<ConversationSummary>> {
    summaries(store, ConversationFilter::Search(query)).await
}

/// The saved replies of `teams`: the config's first, then the console's,
/// by team.
pub async fn saved_replies(
    config: &Config,
    store: &dyn Store,
    teams: &[String],
) -> StoreResult<Vec<SavedReply>> {
    let mut replies: Vec<SavedReply> = config
        .teams
        .iter()
        .filter(|team| teams.contains(&team.id))
        .flat_map(|team| {
            team.saved_replies
                .iter()
                .enumerate()
                .map(|(index, reply)| SavedReply {
                    id: format!("config:{}:{}", team.id, index + 1),
                    team_id: team.id.clone(),
                    title: reply.title.clone(),
                    body: reply.body.clone(),
                    source: SavedReplySource::Config,
                })
        })
        .collect();
    replies.extend(
        store
            .saved_replies(teams)
            .await?
            .into_iter()
            .map(saved_reply_view),
    );
    replies.sort_by(|a, b| {
        a.team_id
            .cmp(&b.team_id)
            .then_with(|| a.title.to_lowercase().cmp(&b.title.to_lowercase()))
    });
    Ok(replies)
}

/// The wire form of a saved reply added in the console.
pub fn saved_reply_view(record: SavedReplyRecord) -> SavedReply {
    SavedReply {
        id: record.id,
        team_id: record.team_id,
        title: record.title,
        body: record.body,
        source: SavedReplySource::Console,
    }
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
/// customer sockets): a conversation it opened is routed as the app's
/// rules decided (`routing`, stored with it; or held for a login),
/// then the assigned agent, here or on another server, hears of the
/// message, and the other servers deliver it to their sockets. Returns
/// the deadline when the conversation it opened is held for a login.
pub async fn customer_message(
    ctx: Ctx<'_>,
    appended: &Appended,
    message: &Message,
    routing: &RoutingFacts,
) -> Option<i64> {
    let mut held = None;
    if appended.opened {
        match open_conversation(ctx, &message.conversation_id, &appended.app_id, routing).await {
            Ok(until) => held = until,
            Err(error) => {
                tracing::error!(error = %crate::error::error_chain(&error), "routing a new conversation failed");
            }
        }
    }
    deliver_message(ctx.store, ctx.hub, message).await;
    ctx.bus.publish(Event::message(appended));
    held
}

/// Where a session's customer stands for the rules at `now` (Unix
/// seconds).
pub fn customer_status(session: &SessionRecord, now: i64) -> CustomerStatus {
    if crate::identity::is_trusted(session, now) {
        CustomerStatus::Trusted
    } else if session.identity_kind != IdentityKind::Anonymous {
        CustomerStatus::Identified
    } else {
        CustomerStatus::Anonymous
    }
}

/// What the app's rules decide for a conversation of `app_id`: `held`
/// keeps (or ends, with `None`) a hold already running; a hold starts
/// only when the conversation opens.
fn decide(
    ctx: Ctx<'_>,
    app_id: &str,
    status: CustomerStatus,
    page: Option<&str>,
    hold: Hold,
) -> RoutingFacts {
    let Some(app) = ctx.config.apps.iter().find(|app| app.id == app_id) else {
        return RoutingFacts::default();
    };
    let decided = rules::routing(&app.rules, status, page);
    let held_until = match (decided.hold_for_login_secs, hold) {
        (Some(secs), Hold::Start(now_ms)) => Some(
            now_ms.saturating_add(i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)),
        ),
        (Some(_), Hold::Keep(until)) => until,
        (None, _) => None,
    };
    RoutingFacts {
        team_id: decided.team,
        priority: decided.priority,
        rule: decided.rule,
        held_until,
    }
}

/// Whether a decision may hold a conversation for a login.
#[derive(Clone, Copy)]
enum Hold {
    /// It opens now (Unix milliseconds): a rule's hold starts.
    Start(i64),
    /// It waits already: a hold running until then goes on (none starts).
    Keep(Option<i64>),
}

/// What the app's rules decide for a conversation that a customer of
/// `status` on `page` opens at `now_ms` (stored with it).
pub fn opening_routing(
    ctx: Ctx<'_>,
    app_id: &str,
    status: CustomerStatus,
    page: Option<&str>,
    now_ms: i64,
) -> RoutingFacts {
    decide(ctx, app_id, status, page, Hold::Start(now_ms))
}

/// Routes a conversation that just opened (stored with what the rules
/// decided, `facts`), unless a rule holds it for a login (returned:
/// until when; routed when a login comes or it runs out).
async fn open_conversation(
    ctx: Ctx<'_>,
    conversation_id: &str,
    app_id: &str,
    facts: &RoutingFacts,
) -> StoreResult<Option<i64>> {
    if let Some(until) = facts.held_until {
        tracing::debug!(conversation = conversation_id, rule = ?facts.rule, "held for a login");
        ctx.holds.add(until);
        queue_changed(ctx, app_id);
        return Ok(Some(until));
    }
    let teams = scope::routing_teams(ctx.config, app_id, facts.team_id.as_deref());
    if route_new(ctx, conversation_id, teams.as_deref())
        .await?
        .is_none()
    {
        queue_changed(ctx, app_id);
    }
    Ok(None)
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

/// An app's queue changed: every console, on every server, refetches it
/// (each sees only its apps': the socket filters by scope). Nothing is
/// sent while no agent is online anywhere.
pub fn queue_changed(ctx: Ctx<'_>, app_id: &str) {
    if !ctx.presence.any_online() {
        return;
    }
    deliver_queue_changed(ctx.hub, app_id);
    ctx.bus.publish(Event::QueueChanged {
        app_id: app_id.to_owned(),
    });
}

/// [`queue_changed`] for the consoles connected to this server.
pub fn deliver_queue_changed(hub: &Hub, app_id: &str) {
    for agent in hub.online_agents() {
        hub.publish_agent(
            &agent,
            AgentServerFrame::Queue {
                app_id: app_id.to_owned(),
            },
        );
    }
}

/// A session's identity or trust changed (a login, a claim, a logout):
/// the agent of the conversation it writes into hears of it. A proven
/// session's change may change the verification of its customer's proven
/// conversation, whichever session started that one.
///
/// A conversation still waiting for an agent (queued, or held for a
/// login) is routed again by the rules for the customer's new status on
/// `page`: a login moves it to the trusted rule's team and ends its hold,
/// and it is routed at once when someone may take it.
pub async fn session_changed(ctx: Ctx<'_>, session: &SessionRecord, page: Option<&str>) {
    let reader = Reader {
        session_id: session.id.clone(),
        customer_id: session.customer_id.clone(),
        trusted: session.identity_kind == IdentityKind::Jwt,
    };
    match ctx.store.current_conversation(&reader).await {
        Ok(Some(conversation)) if conversation.assigned_agent_id.is_some() => {
            notify_conversation(ctx, &conversation.id, None).await;
        }
        Ok(Some(conversation)) if conversation.status == ConversationStatus::Open => {
            let status = customer_status(session, clock::now_secs());
            let page = session.page_url.as_deref().or(page);
            if let Err(error) = reroute(ctx, &conversation, status, page).await {
                tracing::error!(error = %crate::error::error_chain(&error), "routing a waiting conversation again failed");
            }
        }
        Ok(_) => {}
        Err(error) => {
            tracing::error!(error = %crate::error::error_chain(&error), "agent notification failed")
        }
    }
}

/// Routes a waiting conversation again for its customer's new status.
async fn reroute(
    ctx: Ctx<'_>,
    conversation: &ConversationRecord,
    status: CustomerStatus,
    page: Option<&str>,
) -> StoreResult<()> {
    let held = conversation
        .routing
        .held_until
        .filter(|until| *until > clock::now_ms());
    let facts = decide(ctx, &conversation.app_id, status, page, Hold::Keep(held));
    if facts != conversation.routing {
        tracing::debug!(conversation = %conversation.id, rule = ?facts.rule, "waiting conversation routed again");
        if !ctx
            .store
            .set_conversation_routing(&conversation.id, &facts)
            .await?
        {
            return Ok(()); // Taken meanwhile.
        }
    }
    if facts.held_until.is_none() {
        let teams =
            scope::routing_teams(ctx.config, &conversation.app_id, facts.team_id.as_deref());
        if let Some(routed) = route_new(ctx, &conversation.id, teams.as_deref()).await? {
            notify_conversation(ctx, &routed.id, None).await;
        }
    }
    queue_changed(ctx, &conversation.app_id);
    Ok(())
}

/// Routes a conversation that just opened; it stays queued when nobody is
/// available and online on any server.
pub async fn route_new(
    ctx: Ctx<'_>,
    conversation_id: &str,
    teams: Option<&[String]>,
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
    let Some(agent) = routing::choose(&candidates, teams) else {
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
        // In routing order; a conversation held for a login waits.
        let now = clock::now_ms();
        let queue: Vec<Waiting> = ctx
            .store
            .queued_conversations()
            .await?
            .into_iter()
            .filter(|c| c.routing.held_until.is_none_or(|until| until <= now))
            .map(|c| Waiting {
                teams: scope::routing_teams(ctx.config, &c.app_id, c.routing.team_id.as_deref()),
                id: c.id,
            })
            .collect();
        if queue.is_empty() {
            return Ok(());
        }
        let mut assigned = Vec::new();
        for (conversation, agent) in routing::plan(&queue, &candidates(ctx).await?, now) {
            if let Some(record) = ctx
                .store
                .assign_conversation(&conversation, Some(&agent), now)
                .await?
            {
                assigned.push((conversation, record.app_id));
            }
        }
        assigned
    };
    let mut apps = std::collections::BTreeSet::new();
    for (conversation, app_id) in assigned {
        notify_conversation(ctx, &conversation, None).await;
        apps.insert(app_id);
    }
    for app_id in apps {
        queue_changed(ctx, &app_id);
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
    let mut teams: HashMap<String, Vec<String>> = HashMap::new();
    if !ctx.config.teams.is_empty() {
        for (agent, team) in ctx.store.agent_memberships().await? {
            teams.entry(agent).or_default().push(team);
        }
    }
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
            teams: teams.remove(&agent.id).unwrap_or_default(),
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
        team_id: conversation.routing.team_id,
        priority: conversation.routing.priority,
        rule: conversation.routing.rule,
        held_until: conversation.routing.held_until,
        customer_read_seq: conversation.customer_read_seq,
        current_page: given.page_url,
        rating: conversation.rating.map(|r| Rating {
            rating: u8::try_from(r.rating).unwrap_or(0),
            comment: r.comment,
            rated_at: r.rated_at,
        }),
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
