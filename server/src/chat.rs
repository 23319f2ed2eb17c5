//! Conversations and messages: the domain between the HTTP and WebSocket
//! handlers and the [`Store`], with the [`Hub`] that tells the listeners.
//!
//! Like [`crate::identity`], it knows neither axum nor SQL. Every message
//! goes through here: validated, given its trusted flag from the sending
//! session at the moment of receipt, stored durably (the store returns only
//! after the commit), and only then acknowledged and fanned out.
//!
//! Fan-out happens after the store call returns, so two messages committed
//! at almost the same time can reach a listener in either order: `seq` is
//! the order, and a client that sees a gap fills it over HTTP.

use trustchat_protocol::validate::{self, Invalid};
use trustchat_protocol::{
    ConversationStatus, ErrorCode, Message, MessageKind, MessagesPage, ServerFrame,
};

use crate::bus::Event;
use crate::clock;
use crate::console;
use crate::ctx::Ctx;
use crate::hub::{Audience, Hub};
use crate::identity;
use crate::store::{
    Appended, ConversationRecord, EventType, LinkedConversations, NewAgentMessage,
    NewCustomerMessage, Reader, SessionRecord, Store, StoreError, StoreResult, UniqueKey,
};
use crate::texts::{BuiltIn, Text};
use crate::views;

/// The most messages one page of history holds.
pub const PAGE_SIZE: usize = trustchat_protocol::chat::MAX_PAGE_MESSAGES;

/// Why a message was not stored.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The body or the client id was refused.
    #[error("{}", .0.message)]
    Invalid(Invalid),
    /// An agent answered a conversation that does not exist or is closed.
    #[error("no open conversation has this id")]
    NoOpenConversation,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A stored customer message.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The message as the client sees it.
    pub message: Message,
    /// False when the `client_id` had been stored before: nothing new.
    pub created: bool,
}

/// Stores a customer's message from `session` (read fresh for this
/// request: its trust now is the message's trust, and decides where it
/// goes: the customer's proven conversation when trusted, else the one the
/// session started) and tells every listener but `except`, the connection
/// that sent it, which gets an ack. Sending the same `client_id` again
/// returns the stored message and tells nobody; a `client_id` another
/// session used is refused.
pub async fn send_customer_message(
    ctx: Ctx<'_>,
    session: &SessionRecord,
    client_id: &str,
    body: &str,
    except: Option<u64>,
    page: Option<&str>,
) -> Result<Sent, SendError> {
    let client_id = canonical_client_id(client_id).map_err(SendError::Invalid)?;
    let body = validate::message_body(body).map_err(SendError::Invalid)?;
    let now_ms = clock::now_ms();
    // What the app's rules decide for a conversation this message opens
    // is stored with it, so the queue never holds it undecided.
    // The page the site last reported (`navigate`), else the request's.
    let page = session.page_url.as_deref().or(page);
    let status = console::customer_status(session, now_ms / 1000);
    let routing = console::opening_routing(ctx, &session.app_id, status, page, now_ms);
    let started = std::time::Instant::now();
    let webhooks = ctx.config.webhooks(&session.app_id);
    let appended = ctx
        .store
        .append_customer_message(NewCustomerMessage {
            id: uuid::Uuid::new_v4().to_string(),
            app_id: session.app_id.clone(),
            customer_id: session.customer_id.clone(),
            session_id: session.id.clone(),
            author_name: session.display_name.clone(),
            client_id,
            body: body.to_owned(),
            trusted: identity::is_trusted(session, now_ms / 1000),
            now_ms,
            routing: routing.clone(),
            webhooks: webhooks.clone(),
        })
        .await
        .map_err(|error| match error {
            StoreError::Taken(UniqueKey::ClientId) => SendError::Invalid(Invalid {
                code: ErrorCode::InvalidRequest,
                field: "client_id",
                message: "client_id was used by another session; make a new one for each message",
            }),
            error => SendError::Store(error),
        })?;
    crate::metrics::store_operation("append_customer_message", started);
    let message = views::message(&appended.message);
    if appended.created {
        crate::metrics::message_stored("customer");
        if !webhooks.0.is_empty() {
            ctx.webhooks.enqueued();
        }
        deliver_message(ctx.hub, &audience_of(&appended), &message, except);
        // A conversation it opened is routed to an agent first; then the
        // agent and the other servers hear of the message.
        let held = console::customer_message(ctx, &appended, &message, &routing).await;
        if held.is_some() {
            ask_to_log_in_while_held(ctx, &appended).await;
        }
    }
    Ok(Sent {
        message,
        created: appended.created,
    })
}

/// Whether a session may read a conversation: one it started, or, while
/// it is trusted, one of its customer's proven ones (the rule of
/// `Store::current_conversation` and `hub::Audience`).
pub fn may_read(session: &SessionRecord, conversation: &ConversationRecord, now: i64) -> bool {
    conversation.session_id.as_deref() == Some(session.id.as_str())
        || (identity::is_trusted(session, now)
            && conversation.proven
            && conversation.customer_id == session.customer_id)
}

/// A conversation a rule holds for a login: the customer is shown the
/// app's login link at once (a login request, from the app's support), in
/// their language (`held_for_login` of `[apps.messages]`, see
/// [`crate::texts`]), by the languages the session that opened it
/// recorded, read afresh (a socket's copy of the session may predate
/// them).
async fn ask_to_log_in_while_held(ctx: Ctx<'_>, appended: &Appended) {
    let Some(app) = ctx.config.apps.iter().find(|app| app.id == appended.app_id) else {
        return;
    };
    let Some(login_url) = app.login_url.as_deref() else {
        return; // The config refuses a hold without one.
    };
    let locales = match &appended.owner_session_id {
        Some(id) => match ctx.store.session(id).await {
            Ok(session) => session.map(|session| session.locales).unwrap_or_default(),
            Err(error) => {
                tracing::warn!(error = %error, "reading the held conversation's session failed; asking in English");
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    let text = app
        .messages
        .localize(&locales, BuiltIn::Translated)
        .text(Text::HeldForLogin);
    if let Err(error) = post_agent_message(
        ctx,
        &appended.message.conversation_id,
        &appended.app_id,
        &app.name,
        text,
        MessageKind::LoginRequest,
        Some(login_url),
    )
    .await
    {
        tracing::error!(error = ?error, "asking a held conversation's customer to log in failed");
    }
}

/// An automatic message from the support side in an open conversation
/// (a held conversation's login request): stored and delivered as an
/// agent's reply ([`post_agent_reply`]), but never emailed.
#[allow(clippy::too_many_arguments)]
pub async fn post_agent_message(
    ctx: Ctx<'_>,
    conversation_id: &str,
    app_id: &str,
    agent_name: &str,
    body: &str,
    kind: MessageKind,
    link: Option<&str>,
) -> Result<Message, SendError> {
    post(
        ctx,
        conversation_id,
        app_id,
        None,
        agent_name,
        body,
        kind,
        link,
        None,
    )
    .await
    .map(|sent| sent.message)
}

/// An agent's reply in an open conversation: stored with author `agent`,
/// never trusted, and delivered to the customer's connections (every tab)
/// and the assigned agent's consoles; when the app sends emails, the
/// customer is emailed if they have not read it within the app's
/// `unread_delay_secs` (see [`crate::email`]). `link` is for
/// [`MessageKind::LoginRequest`]: the app's login URL, never anything a
/// client sent. With the console's idempotency key, a reply whose
/// `client_id` the conversation has already is not stored again; the
/// stored one comes back with `created` false.
#[allow(clippy::too_many_arguments)]
pub async fn post_agent_reply(
    ctx: Ctx<'_>,
    conversation: &ConversationRecord,
    agent_name: &str,
    body: &str,
    kind: MessageKind,
    link: Option<&str>,
    client_id: Option<&str>,
) -> Result<Sent, SendError> {
    let email_delay = ctx.config.email_delay(&conversation.app_id);
    post(
        ctx,
        &conversation.id,
        &conversation.app_id,
        email_delay,
        agent_name,
        body,
        kind,
        link,
        client_id,
    )
    .await
}

/// Stores and delivers a message from the support side of a conversation
/// of `app_id`; with `email_delay`, schedules its email.
#[allow(clippy::too_many_arguments)]
async fn post(
    ctx: Ctx<'_>,
    conversation_id: &str,
    app_id: &str,
    email_delay: Option<std::time::Duration>,
    agent_name: &str,
    body: &str,
    kind: MessageKind,
    link: Option<&str>,
    client_id: Option<&str>,
) -> Result<Sent, SendError> {
    let body = validate::message_body(body).map_err(SendError::Invalid)?;
    let client_id = client_id
        .map(canonical_client_id)
        .transpose()
        .map_err(SendError::Invalid)?;
    let store = ctx.store;
    if let Some(client_id) = &client_id {
        if let Some(stored) = store
            .agent_message_by_client_id(conversation_id, client_id)
            .await?
        {
            return Ok(Sent {
                message: views::message(&stored),
                created: false,
            });
        }
    }
    let now_ms = clock::now_ms();
    let email_due_at = email_delay
        .map(|delay| now_ms.saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)));
    let started = std::time::Instant::now();
    let webhooks = ctx.config.webhooks(app_id);
    let appended = store
        .append_agent_message(NewAgentMessage {
            id: uuid::Uuid::new_v4().to_string(),
            conversation_id: conversation_id.to_owned(),
            author_name: agent_name.to_owned(),
            kind,
            body: body.to_owned(),
            link: link.map(str::to_owned),
            client_id: client_id.clone(),
            now_ms,
            email_due_at,
            webhooks: webhooks.clone(),
        })
        .await;
    let appended = match (appended, &client_id) {
        // The same reply raced in from another tab: the first one stands.
        (Err(StoreError::Taken(UniqueKey::AgentReplyClientId)), Some(client_id)) => {
            let stored = store
                .agent_message_by_client_id(conversation_id, client_id)
                .await?;
            return stored
                .map(|stored| Sent {
                    message: views::message(&stored),
                    created: false,
                })
                .ok_or(SendError::Store(StoreError::Taken(
                    UniqueKey::AgentReplyClientId,
                )));
        }
        (appended, _) => appended?.ok_or(SendError::NoOpenConversation)?,
    };
    crate::metrics::store_operation("append_agent_message", started);
    crate::metrics::message_stored("agent");
    let message = views::message(&appended.message);
    deliver_message(ctx.hub, &audience_of(&appended), &message, None);
    console::deliver_message(store, ctx.hub, &message).await;
    ctx.bus.publish(Event::message(&appended));
    if email_due_at.is_some() {
        ctx.email.scheduled();
    }
    if !webhooks.0.is_empty() {
        ctx.webhooks.enqueued();
    }
    Ok(Sent {
        message,
        created: true,
    })
}

/// Closes an open conversation (enqueuing its `conversation.closed`) and
/// tells its customer and the agents; `None` when it was not open any
/// more.
pub async fn close_conversation(
    ctx: Ctx<'_>,
    conversation: &ConversationRecord,
) -> StoreResult<Option<ConversationRecord>> {
    let webhooks = ctx.config.webhooks(&conversation.app_id);
    let closed = ctx
        .store
        .close_conversation(&conversation.id, clock::now_ms(), webhooks)
        .await?;
    if let Some(conversation) = &closed {
        if webhooks.takes(EventType::ConversationClosed) {
            ctx.webhooks.enqueued();
        }
        announce_status(ctx, conversation).await;
    }
    Ok(closed)
}

/// After a mid-chat identity change: the session's connections, on every
/// server, hear as it reads now, and a conversation closed by the link
/// (see [`Store::link_session_conversations`]) is announced.
pub async fn identity_changed(ctx: Ctx<'_>, session: &SessionRecord, linked: &LinkedConversations) {
    ctx.hub.update_session(&identity::listener(session));
    ctx.bus.publish(Event::SessionChanged {
        session_id: session.id.clone(),
    });
    if let Some(closed) = &linked.closed {
        announce_status(ctx, closed).await;
    }
}

/// The customer is on `url` now (`TrustChat.navigate`): stored on the
/// session (its sockets read it again, on every server), and its waiting
/// conversation is routed again by the page-prefix rules, or its agent's
/// console shows the page. `Err` for a URL the server does not keep.
pub async fn navigate(ctx: Ctx<'_>, session: &SessionRecord, url: &str) -> Result<(), SendError> {
    if !trustchat_protocol::chat::valid_page_url(url) {
        return Err(SendError::Invalid(Invalid {
            code: ErrorCode::InvalidRequest,
            field: "url",
            message:
                "url must be an absolute URL (https://…) of at most 2048 characters, without spaces",
        }));
    }
    if session.page_url.as_deref() == Some(url) {
        return Ok(());
    }
    ctx.store
        .set_session_page(&session.id, url)
        .await
        .map_err(SendError::Store)?;
    let mut now = session.clone();
    now.page_url = Some(url.to_owned());
    ctx.hub.update_session(&identity::listener(&now));
    ctx.bus.publish(Event::SessionChanged {
        session_id: now.id.clone(),
    });
    console::session_changed(ctx, &now, Some(url)).await;
    Ok(())
}

/// A conversation opened or closed: its customers and its agent hear of
/// it, here and on the other servers.
pub async fn announce_status(ctx: Ctx<'_>, conversation: &ConversationRecord) {
    deliver_status(ctx.hub, conversation);
    console::deliver_conversation(ctx.store, ctx.hub, &conversation.id, None).await;
    ctx.bus.publish(Event::Status {
        conversation_id: conversation.id.clone(),
    });
}

/// A page of the reader's current conversation after `after`.
pub async fn history(store: &dyn Store, reader: &Reader, after: i64) -> StoreResult<MessagesPage> {
    let Some(conversation) = store.current_conversation(reader).await? else {
        return Ok(MessagesPage {
            conversation_id: None,
            status: None,
            messages: Vec::new(),
            has_more: false,
            agent_read_seq: 0,
            customer_read_seq: 0,
        });
    };
    // One more than a page says whether another page follows.
    let mut records = store
        .messages_after(&conversation.id, after, PAGE_SIZE + 1)
        .await?;
    let has_more = records.len() > PAGE_SIZE;
    records.truncate(PAGE_SIZE);
    let agent_read_seq = match conversation.assigned_agent_id.as_deref() {
        Some(agent) => store.agent_read_seq(agent, &conversation.id).await?,
        None => 0,
    };
    Ok(MessagesPage {
        conversation_id: Some(conversation.id),
        status: Some(conversation.status),
        messages: records.iter().map(views::message).collect(),
        has_more,
        agent_read_seq,
        customer_read_seq: conversation.customer_read_seq,
    })
}

/// The reader's current conversation and its last `seq`, for the
/// WebSocket's `ready` frame.
pub async fn ready_frame(store: &dyn Store, reader: &Reader) -> StoreResult<ServerFrame> {
    let current = store.current_conversation(reader).await?;
    Ok(ServerFrame::Ready {
        last_seq: current.as_ref().map_or(0, |c| c.last_seq),
        conversation_id: current.map(|c| c.id),
    })
}

/// A client id as stored: the canonical lowercase hyphenated form of a
/// UUID, so `ABC...` and `abc...` are one key.
pub fn canonical_client_id(client_id: &str) -> Result<String, Invalid> {
    uuid::Uuid::try_parse(client_id.trim())
        .map(|uuid| uuid.hyphenated().to_string())
        .map_err(|_| Invalid {
            code: ErrorCode::InvalidRequest,
            field: "client_id",
            message: "client_id must be a UUID made by the client when the customer presses send",
        })
}

/// Delivers a new message to this server's sockets in its conversation's
/// audience but `except`: the conversation first when the message opened
/// it (its `seq` is 1).
pub fn deliver_message(hub: &Hub, audience: &Audience<'_>, message: &Message, except: Option<u64>) {
    if message.seq == 1 {
        let opened = ServerFrame::Conversation {
            conversation_id: message.conversation_id.clone(),
            status: ConversationStatus::Open,
        };
        hub.publish(audience, opened, None);
    }
    hub.publish(
        audience,
        ServerFrame::Message {
            message: message.clone(),
        },
        except,
    );
}

/// Delivers a conversation's status to this server's sockets in its
/// audience.
pub fn deliver_status(hub: &Hub, conversation: &ConversationRecord) {
    hub.publish(
        &audience(conversation),
        ServerFrame::Conversation {
            conversation_id: conversation.id.clone(),
            status: conversation.status,
        },
        None,
    );
}

/// Who hears a conversation, now.
pub fn audience(conversation: &ConversationRecord) -> Audience<'_> {
    Audience {
        customer_id: &conversation.customer_id,
        owner_session_id: conversation.session_id.as_deref(),
        proven: conversation.proven,
        now: clock::now_secs(),
    }
}

fn audience_of(appended: &Appended) -> Audience<'_> {
    Audience {
        customer_id: &appended.customer_id,
        owner_session_id: appended.owner_session_id.as_deref(),
        proven: appended.proven,
        now: clock::now_secs(),
    }
}
