//! Typing and read signals, both ways: a customer typing or reading
//! tells the agent of their conversation; an agent typing or reading
//! tells the customer. Nothing is stored but the read markers
//! (`Store::mark_customer_read`, `Store::mark_read`); typing is fire and
//! forget. Each signal reaches this server's listeners at once and the
//! other servers through the bus, like messages.
//!
//! Who may signal what is the rule of messages: a customer signals only
//! in the conversation their session reads and writes
//! (`Store::current_conversation`), an agent only in an open conversation
//! routed to them, of an app their teams serve.

use trustchat_protocol::{AgentServerFrame, Author, ConversationStatus, ServerFrame};

use crate::bus::Event;
use crate::chat;
use crate::ctx::Ctx;
use crate::hub::Hub;
use crate::scope::Scope;
use crate::store::{
    AgentRecord, ConversationRecord, IdentityKind, Reader, SessionRecord, StoreResult,
};

/// The conversation a customer's session signals in: the one it reads
/// and writes now, if open.
async fn current(ctx: Ctx<'_>, session: &SessionRecord) -> StoreResult<Option<ConversationRecord>> {
    let reader = Reader {
        session_id: session.id.clone(),
        customer_id: session.customer_id.clone(),
        trusted: session.identity_kind == IdentityKind::Jwt
            && crate::identity::is_trusted(session, crate::clock::now_secs()),
    };
    Ok(ctx
        .store
        .current_conversation(&reader)
        .await?
        .filter(|c| c.status == ConversationStatus::Open))
}

/// The customer is typing: their conversation's agent hears it.
pub async fn customer_typing(ctx: Ctx<'_>, session: &SessionRecord) -> StoreResult<()> {
    let Some(conversation) = current(ctx, session).await? else {
        return Ok(());
    };
    let Some(agent) = conversation.assigned_agent_id.as_deref() else {
        return Ok(());
    };
    deliver_customer_typing(ctx.hub, &conversation.id, agent);
    ctx.bus.publish(Event::Typing {
        conversation_id: conversation.id.clone(),
        agent_id: None,
    });
    Ok(())
}

/// [`customer_typing`] for the consoles on this server.
pub fn deliver_customer_typing(hub: &Hub, conversation_id: &str, agent_id: &str) {
    hub.publish_agent(
        agent_id,
        AgentServerFrame::Typing {
            conversation_id: conversation_id.to_owned(),
            author: Author::Customer,
        },
    );
}

/// The customer has read up to `seq`: stored, and the agent hears it
/// when the marker moved.
pub async fn customer_read(ctx: Ctx<'_>, session: &SessionRecord, seq: i64) -> StoreResult<()> {
    let Some(conversation) = current(ctx, session).await? else {
        return Ok(());
    };
    let Some(read) = ctx.store.mark_customer_read(&conversation.id, seq).await? else {
        return Ok(());
    };
    if let Some(agent) = conversation.assigned_agent_id.as_deref() {
        deliver_customer_read(ctx.hub, &conversation.id, agent, read);
    }
    ctx.bus.publish(Event::Read {
        conversation_id: conversation.id.clone(),
        seq: read,
        by_agent: false,
    });
    Ok(())
}

/// [`customer_read`] for the consoles on this server.
pub fn deliver_customer_read(hub: &Hub, conversation_id: &str, agent_id: &str, seq: i64) {
    hub.publish_agent(
        agent_id,
        AgentServerFrame::Read {
            conversation_id: conversation_id.to_owned(),
            seq,
        },
    );
}

/// An agent is typing in `conversation_id`: its customer hears it, when
/// it is an open conversation of theirs in their scope (else nothing).
pub async fn agent_typing(
    ctx: Ctx<'_>,
    agent: &AgentRecord,
    scope: &Scope,
    conversation_id: &str,
) -> StoreResult<()> {
    let Some(conversation) = ctx.store.conversation(conversation_id).await? else {
        return Ok(());
    };
    let theirs = scope.allows(&conversation.app_id)
        && conversation.status == ConversationStatus::Open
        && conversation.assigned_agent_id.as_deref() == Some(agent.id.as_str());
    if !theirs {
        return Ok(());
    }
    deliver_agent_typing(ctx.hub, &conversation, &agent.name);
    ctx.bus.publish(Event::Typing {
        conversation_id: conversation.id.clone(),
        agent_id: Some(agent.id.clone()),
    });
    Ok(())
}

/// [`agent_typing`] for the customer sockets on this server.
pub fn deliver_agent_typing(hub: &Hub, conversation: &ConversationRecord, name: &str) {
    hub.publish(
        &chat::audience(conversation),
        ServerFrame::Typing {
            author: Author::Agent,
            name: Some(name.to_owned()),
        },
        None,
    );
}

/// The agent of a conversation read it up to `seq` (already stored): its
/// customer hears it.
pub fn agent_read(ctx: Ctx<'_>, conversation: &ConversationRecord, seq: i64) {
    deliver_agent_read(ctx.hub, conversation, seq);
    ctx.bus.publish(Event::Read {
        conversation_id: conversation.id.clone(),
        seq,
        by_agent: true,
    });
}

/// [`agent_read`] for the customer sockets on this server.
pub fn deliver_agent_read(hub: &Hub, conversation: &ConversationRecord, seq: i64) {
    hub.publish(
        &chat::audience(conversation),
        ServerFrame::Read { seq },
        None,
    );
}
