//! The wire form of stored records: the one place where the store's
//! records become `trustchat_protocol` types for clients. Both the
//! conversation domain (`chat`) and the console's (`console`) use it, so
//! neither depends on the other for it.

use trustchat_protocol::Message;

use crate::store::MessageRecord;

/// The wire form of a stored message.
pub fn message(record: &MessageRecord) -> Message {
    Message {
        id: record.id.clone(),
        conversation_id: record.conversation_id.clone(),
        seq: record.seq,
        author: record.author,
        author_name: record.author_name.clone(),
        kind: record.kind,
        body: record.body.clone(),
        link: record.link.clone(),
        trusted: record.trusted,
        created_at: record.created_at_ms,
        client_id: record.client_id.clone(),
    }
}
