//! What a server does with an [`Event`] another server of its database
//! published ([`crate::bus`]): it reads the rows the event names and
//! delivers them to its own listeners, as the server that made the change
//! did to its own.
//!
//! Messages are most events, so a worker takes whatever events are queued
//! for it at once ([`apply_all`]): it reads only the messages someone
//! connected here hears (the event names their audience), all of a run of
//! them in one query, and delivers them in the order they came.

use crate::bus::Event;
use crate::chat;
use crate::console;
use crate::ctx::Ctx;
use crate::hub::Audience;
use crate::hub::CloseReason;
use crate::identity;
use crate::signals;
use crate::views;

/// Delivers other servers' events, in order, to this server's sockets and
/// consoles.
pub async fn apply_all(ctx: Ctx<'_>, events: Vec<Event>) {
    let mut messages = Vec::new();
    for event in events {
        if let Event::Message { .. } = event {
            messages.push(event);
            continue;
        }
        if !messages.is_empty() {
            deliver_messages(ctx, std::mem::take(&mut messages)).await;
        }
        apply(ctx, event).await;
    }
    if !messages.is_empty() {
        deliver_messages(ctx, messages).await;
    }
}

/// Delivers another server's event to this server's sockets and consoles.
pub async fn apply(ctx: Ctx<'_>, event: Event) {
    let applied = match event {
        event @ Event::Message { .. } => {
            deliver_messages(ctx, vec![event]).await;
            Ok(())
        }
        Event::Status { conversation_id } => match ctx.store.conversation(&conversation_id).await {
            Ok(Some(conversation)) => {
                chat::deliver_status(ctx.hub, &conversation);
                console::deliver_conversation(ctx.store, ctx.hub, &conversation_id, None).await;
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(error) => Err(error),
        },
        Event::Conversation {
            conversation_id,
            also,
        } => {
            console::deliver_conversation(ctx.store, ctx.hub, &conversation_id, also.as_deref())
                .await;
            Ok(())
        }
        Event::SessionRevoked { session_id } => {
            ctx.hub.close_session(&session_id, CloseReason::Revoked);
            Ok(())
        }
        Event::SessionChanged { session_id } => match ctx.store.session(&session_id).await {
            Ok(Some(session)) if session.revoked_at.is_none() => {
                ctx.hub.update_session(&identity::listener(&session));
                Ok(())
            }
            Ok(_) => {
                ctx.hub.close_session(&session_id, CloseReason::Revoked);
                Ok(())
            }
            Err(error) => Err(error),
        },
        Event::AgentGone { agent_id } => {
            ctx.hub.close_agent(&agent_id, CloseReason::Revoked);
            Ok(())
        }
        Event::Typing {
            conversation_id,
            agent_id,
        } => signal_typing(ctx, &conversation_id, agent_id.as_deref()).await,
        Event::Read {
            conversation_id,
            seq,
            by_agent,
        } => signal_read(ctx, &conversation_id, seq, by_agent).await,
        Event::QueueChanged { app_id } => {
            console::deliver_queue_changed(ctx.hub, &app_id);
            Ok(())
        }
        Event::Queue => match ctx.presence.refresh().await {
            Ok(()) if ctx.presence.any_online() => console::drain_queue(ctx).await,
            other => other,
        },
    };
    if let Err(error) = applied {
        tracing::error!(error = %crate::error::error_chain(&error), "applying another server's event failed");
    }
}

/// Another server's typing signal, for the listeners here (only when
/// someone of the conversation is connected here, nothing is read
/// otherwise).
async fn signal_typing(
    ctx: Ctx<'_>,
    conversation_id: &str,
    agent_id: Option<&str>,
) -> crate::store::StoreResult<()> {
    if agent_id.is_none() && !ctx.hub.any_agent_online() {
        return Ok(());
    }
    let Some(conversation) = ctx.store.conversation(conversation_id).await? else {
        return Ok(());
    };
    match agent_id {
        None => {
            if let Some(agent) = conversation.assigned_agent_id.as_deref() {
                if ctx.hub.is_online(agent) {
                    signals::deliver_customer_typing(ctx.hub, conversation_id, agent);
                }
            }
        }
        Some(agent_id) => {
            if ctx.hub.hears(&crate::chat::audience(&conversation)) {
                if let Some(agent) = ctx.store.agent(agent_id).await? {
                    signals::deliver_agent_typing(ctx.hub, &conversation, &agent.name);
                }
            }
        }
    }
    Ok(())
}

/// Another server's read signal, for the listeners here.
async fn signal_read(
    ctx: Ctx<'_>,
    conversation_id: &str,
    seq: i64,
    by_agent: bool,
) -> crate::store::StoreResult<()> {
    if !by_agent && !ctx.hub.any_agent_online() {
        return Ok(());
    }
    let Some(conversation) = ctx.store.conversation(conversation_id).await? else {
        return Ok(());
    };
    if by_agent {
        signals::deliver_agent_read(ctx.hub, &conversation, seq);
    } else if let Some(agent) = conversation.assigned_agent_id.as_deref() {
        signals::deliver_customer_read(ctx.hub, conversation_id, agent, seq);
    }
    Ok(())
}

/// Delivers the messages of `events` (all [`Event::Message`]) that
/// someone connected here hears, read in one query.
async fn deliver_messages(ctx: Ctx<'_>, events: Vec<Event>) {
    let now = crate::clock::now_secs();
    let agents = ctx.hub.any_agent_online();
    let heard: Vec<(String, i64, Audience<'_>)> = events
        .iter()
        .filter_map(|event| match event {
            Event::Message {
                conversation_id,
                seq,
                customer_id,
                owner_session_id,
                proven,
            } => Some((
                conversation_id.clone(),
                *seq,
                Audience {
                    customer_id,
                    owner_session_id: owner_session_id.as_deref(),
                    proven: *proven,
                    now,
                },
            )),
            _ => None,
        })
        .filter(|(_, _, audience)| agents || ctx.hub.hears(audience))
        .collect();
    if heard.is_empty() {
        return;
    }
    let places: Vec<(String, i64)> = heard.iter().map(|(c, s, _)| (c.clone(), *s)).collect();
    let records = match ctx.store.messages_at(&places).await {
        Ok(records) => records,
        Err(error) => {
            // Undelivered here: the sockets that miss them resync.
            tracing::error!(error = %crate::error::error_chain(&error), "reading another server's messages failed");
            ctx.hub.close_all(CloseReason::Lagged);
            return;
        }
    };
    for (conversation_id, seq, audience) in &heard {
        let Some(record) = records
            .iter()
            .find(|r| &r.conversation_id == conversation_id && r.seq == *seq)
        else {
            continue;
        };
        let message = views::message(record);
        chat::deliver_message(ctx.hub, audience, &message, None);
        console::deliver_message(ctx.store, ctx.hub, &message).await;
    }
}
