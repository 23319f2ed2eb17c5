//! What a server does with an [`Event`] another server of its database
//! published ([`crate::bus`]): it reads the rows the event names and
//! delivers them to its own listeners, as the server that made the change
//! did to its own.

use crate::bus::Event;
use crate::chat;
use crate::console;
use crate::ctx::Ctx;
use crate::hub::CloseReason;
use crate::identity;
use crate::views;

/// Delivers another server's event to this server's sockets and consoles.
pub async fn apply(ctx: Ctx<'_>, event: Event) {
    let applied = match event {
        Event::Message {
            conversation_id,
            seq,
        } => message(ctx, &conversation_id, seq).await,
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
        Event::Queue => console::drain_queue(ctx).await,
    };
    if let Err(error) = applied {
        tracing::error!(error = %crate::error::error_chain(&error), "applying another server's event failed");
    }
}

async fn message(ctx: Ctx<'_>, conversation_id: &str, seq: i64) -> crate::store::StoreResult<()> {
    let Some(conversation) = ctx.store.conversation(conversation_id).await? else {
        return Ok(());
    };
    let Some(record) = ctx
        .store
        .messages_after(conversation_id, seq - 1, 1)
        .await?
        .into_iter()
        .next()
    else {
        return Ok(());
    };
    let message = views::message(&record);
    chat::deliver_message(ctx.hub, &chat::audience(&conversation), &message, None);
    console::deliver_message(ctx.store, ctx.hub, &message).await;
    Ok(())
}
