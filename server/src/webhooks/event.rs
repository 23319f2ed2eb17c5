//! The outbox rows of an event: its JSON body
//! ([`trustchat_protocol::webhook`]) for every webhook of the app that
//! takes it. Pure; the stores call these inside the transaction that
//! commits the event, with what the statement returned (the message's
//! `seq`, the conversation it joined or closed), and the domain for the
//! events whose data it has in hand (`customer.verified`).

use serde::Serialize;
use trustchat_protocol::webhook::{
    Conversation, ConversationData, Event, EventType, MessageData, VerifiedCustomer, VerifiedData,
};
use trustchat_protocol::ConversationStatus;

use crate::store::{
    Appended, ConversationRecord, MessageRecord, NewCustomerMessage, NewDelivery, SessionRecord,
    Webhooks,
};
use crate::views;

/// One delivery of the event per webhook that takes `kind`, all with one
/// event id and body; none (and no JSON made) when no webhook takes it.
fn deliveries<D: Serialize>(
    webhooks: &Webhooks,
    kind: EventType,
    app_id: &str,
    order_key: &str,
    created_at: i64,
    data: impl FnOnce() -> D,
) -> Vec<NewDelivery> {
    if !webhooks.takes(kind) {
        return Vec::new();
    }
    let event = Event {
        id: uuid::Uuid::new_v4().to_string(),
        kind,
        created_at,
        app_id: app_id.to_owned(),
        data: data(),
    };
    let payload = match serde_json::to_string(&event) {
        Ok(payload) => payload,
        Err(error) => {
            // Plain structs of strings and numbers: cannot happen.
            tracing::error!(%error, event = kind.as_str(), "a webhook event could not be written");
            return Vec::new();
        }
    };
    webhooks
        .urls(kind)
        .map(|url| NewDelivery {
            id: uuid::Uuid::new_v4().to_string(),
            event_id: event.id.clone(),
            app_id: app_id.to_owned(),
            url: url.to_owned(),
            event_type: kind,
            order_key: order_key.to_owned(),
            payload: payload.clone(),
            created_at,
        })
        .collect()
}

/// `message.created` of a stored message in a conversation of `app_id`
/// and `customer_id`.
pub fn message_created(
    webhooks: &Webhooks,
    app_id: &str,
    customer_id: &str,
    message: &MessageRecord,
) -> Vec<NewDelivery> {
    deliveries(
        webhooks,
        EventType::MessageCreated,
        app_id,
        &message.conversation_id,
        message.created_at_ms,
        || {
            let mut message = views::message(message);
            // The widget's idempotency key is nobody else's business.
            message.client_id = None;
            MessageData {
                message,
                customer_id: customer_id.to_owned(),
            }
        },
    )
}

/// What storing a customer's message announces: `conversation.created`
/// when it opened one, then `message.created`; nothing for a resend.
pub fn customer_message(new: &NewCustomerMessage, appended: &Appended) -> Vec<NewDelivery> {
    if !appended.created {
        return Vec::new();
    }
    let mut rows = Vec::new();
    if appended.opened {
        let conversation = Conversation {
            id: appended.message.conversation_id.clone(),
            customer_id: appended.customer_id.clone(),
            status: ConversationStatus::Open,
            proven: appended.proven,
            created_at: appended.message.created_at_ms,
            closed_at: None,
        };
        rows.extend(deliveries(
            &new.webhooks,
            EventType::ConversationCreated,
            &appended.app_id,
            &conversation.id.clone(),
            conversation.created_at,
            || ConversationData { conversation },
        ));
    }
    rows.extend(message_created(
        &new.webhooks,
        &appended.app_id,
        &appended.customer_id,
        &appended.message,
    ));
    rows
}

/// `conversation.closed` of a conversation just closed.
pub fn conversation_closed(
    webhooks: &Webhooks,
    conversation: &ConversationRecord,
) -> Vec<NewDelivery> {
    deliveries(
        webhooks,
        EventType::ConversationClosed,
        &conversation.app_id,
        &conversation.id,
        conversation
            .closed_at
            .unwrap_or(conversation.last_activity_at),
        || ConversationData {
            conversation: Conversation {
                id: conversation.id.clone(),
                customer_id: conversation.customer_id.clone(),
                status: conversation.status,
                proven: conversation.proven,
                created_at: conversation.created_at,
                closed_at: conversation.closed_at,
            },
        },
    )
}

/// `customer.verified` of a session a verified token proved at `now_ms`;
/// nothing for a session that is not trusted.
pub fn customer_verified(
    webhooks: &Webhooks,
    session: &SessionRecord,
    now_ms: i64,
) -> Vec<NewDelivery> {
    let (true, Some(sub), Some(until)) = (session.trusted, &session.sub, session.trusted_until)
    else {
        return Vec::new();
    };
    deliveries(
        webhooks,
        EventType::CustomerVerified,
        &session.app_id,
        &session.customer_id,
        now_ms,
        || VerifiedData {
            customer: VerifiedCustomer {
                id: session.customer_id.clone(),
                sub: sub.clone(),
            },
            session_id: session.id.clone(),
            trusted_until: until.saturating_mul(1000),
        },
    )
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use trustchat_protocol::{Author, MessageKind};

    use super::*;
    use crate::store::WebhookSubscription;

    fn message() -> MessageRecord {
        MessageRecord {
            id: "m1".into(),
            conversation_id: "c1".into(),
            seq: 3,
            author: Author::Customer,
            author_name: Some("Ada".into()),
            kind: MessageKind::Text,
            body: "Hello".into(),
            link: None,
            trusted: true,
            created_at_ms: 1_000,
            client_id: Some("k".into()),
            session_id: Some("s".into()),
        }
    }

    #[test]
    fn one_event_goes_to_each_webhook_that_takes_it() {
        let webhooks = Webhooks(vec![
            WebhookSubscription {
                url: "https://a.example/".into(),
                events: vec![EventType::MessageCreated],
            },
            WebhookSubscription {
                url: "https://b.example/".into(),
                events: vec![EventType::ConversationClosed],
            },
            WebhookSubscription {
                url: "https://c.example/".into(),
                events: EventType::ALL.to_vec(),
            },
        ]);
        let rows = message_created(&webhooks, "acme", "cust", &message());
        let urls: Vec<&str> = rows.iter().map(|r| r.url.as_str()).collect();
        assert_eq!(urls, ["https://a.example/", "https://c.example/"]);
        assert_eq!(rows[0].event_id, rows[1].event_id);
        assert_ne!(rows[0].id, rows[1].id);
        assert_eq!(rows[0].payload, rows[1].payload);
        assert_eq!(rows[0].order_key, "c1");
        let body: Value = serde_json::from_str(&rows[0].payload).unwrap();
        assert_eq!(body["type"], "message.created");
        assert_eq!(body["id"], rows[0].event_id.as_str());
        assert_eq!(body["app_id"], "acme");
        assert_eq!(body["created_at"], 1_000);
        assert_eq!(body["data"]["customer_id"], "cust");
        assert_eq!(body["data"]["message"]["trusted"], true);
        assert_eq!(body["data"]["message"]["seq"], 3);
        assert_eq!(body["data"]["message"]["body"], "Hello");
        assert!(body["data"]["message"].get("client_id").is_none());
        assert!(message_created(&Webhooks::NONE, "acme", "cust", &message()).is_empty());
    }
}
