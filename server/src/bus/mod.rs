//! [`Bus`]: the seam between the servers of one database.
//!
//! The domain delivers what changed to this server's listeners through the
//! [`crate::hub::Hub`] with the data in hand, and publishes an [`Event`]
//! here for the other servers. An event carries ids only (Postgres'
//! `NOTIFY` takes at most 8,000 bytes): a server that receives one reads
//! the rows it names and delivers them to its own listeners
//! ([`crate::relay`]).
//!
//! [`LocalBus`] is the bus of a server alone on its database (SQLite):
//! there is nobody else to tell. [`postgres::PgBus`] sends `NOTIFY` and
//! runs a `LISTEN` task.

pub mod postgres;

use crate::store::Appended;

/// Something one server changed that the others' listeners must hear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A new message: its conversation's customers and assigned agent.
    /// It names the conversation's audience as it was when the message was
    /// stored, so that a server with nobody of it connected (and no agent)
    /// reads nothing.
    Message {
        /// The conversation.
        conversation_id: String,
        /// The message's place in it.
        seq: i64,
        /// The conversation's customer.
        customer_id: String,
        /// The session that started the conversation.
        owner_session_id: Option<String>,
        /// Whether the customer's trusted sessions hear it too.
        proven: bool,
    },
    /// A conversation opened or closed: its customers and its agent.
    Status {
        /// The conversation.
        conversation_id: String,
    },
    /// A conversation was routed, reassigned, read, or the verification of
    /// its customer changed: its agent, and `also`, an agent it left.
    Conversation {
        /// The conversation.
        conversation_id: String,
        /// Another agent who must hear of it (it was taken from them).
        also: Option<String>,
    },
    /// A session was revoked: its sockets close.
    SessionRevoked {
        /// The session.
        session_id: String,
    },
    /// A session's identity or trust changed: its sockets hear as it reads
    /// now.
    SessionChanged {
        /// The session.
        session_id: String,
    },
    /// An agent logged out or was removed: their consoles close.
    AgentGone {
        /// The agent.
        agent_id: String,
    },
    /// The queue may have work for an agent online anywhere (a conversation
    /// was put back in it, an agent became available).
    Queue,
    /// An app's queue changed: consoles refetch it.
    QueueChanged {
        /// The app.
        app_id: String,
    },
    /// Someone is typing in a conversation: its agent (`agent_id` None:
    /// the customer types) or its customer hears it.
    Typing {
        /// The conversation.
        conversation_id: String,
        /// The agent typing; `None`: the customer.
        agent_id: Option<String>,
    },
    /// A read marker moved: the agent's (`by_agent`; the customer hears
    /// it) or the customer's (the agent hears it).
    Read {
        /// The conversation.
        conversation_id: String,
        /// The marker.
        seq: i64,
        /// Whose marker.
        by_agent: bool,
    },
}

/// Where the domain publishes events for the other servers. Publishing
/// never waits.
pub trait Bus: Send + Sync + 'static {
    /// Tells every other server of the database about `event`.
    fn publish(&self, event: Event);

    /// Whether events from the other servers are arriving now (readiness).
    fn connected(&self) -> bool {
        true
    }
}

/// The bus of a server alone on its database: nobody else to tell.
#[derive(Debug, Default)]
pub struct LocalBus;

impl Bus for LocalBus {
    fn publish(&self, _event: Event) {}
}

impl Event {
    /// The event of a message just stored.
    pub fn message(appended: &Appended) -> Event {
        Event::Message {
            conversation_id: appended.message.conversation_id.clone(),
            seq: appended.message.seq,
            customer_id: appended.customer_id.clone(),
            owner_session_id: appended.owner_session_id.clone(),
            proven: appended.proven,
        }
    }

    /// The text form carried by a notification: fields separated by a
    /// character no id holds (ids are UUIDs; agent and session ids too).
    pub fn encode(&self, server_id: &str) -> String {
        let fields: Vec<&str> = match self {
            Event::Message { .. } => Vec::new(),
            Event::Status { conversation_id } => vec!["status", conversation_id],
            Event::Conversation {
                conversation_id,
                also,
            } => vec![
                "conversation",
                conversation_id,
                also.as_deref().unwrap_or(""),
            ],
            Event::SessionRevoked { session_id } => vec!["revoked", session_id],
            Event::SessionChanged { session_id } => vec!["session", session_id],
            Event::AgentGone { agent_id } => vec!["agent_gone", agent_id],
            Event::Queue => vec!["queue"],
            Event::QueueChanged { app_id } => vec!["queue_changed", app_id],
            Event::Typing {
                conversation_id,
                agent_id,
            } => vec!["typing", conversation_id, agent_id.as_deref().unwrap_or("")],
            Event::Read { .. } => Vec::new(),
        };
        match self {
            Event::Message {
                conversation_id,
                seq,
                customer_id,
                owner_session_id,
                proven,
            } => format!(
                "{server_id} message {conversation_id} {seq} {customer_id} {} {}",
                owner_session_id.as_deref().unwrap_or(""),
                u8::from(*proven)
            ),
            Event::Read {
                conversation_id,
                seq,
                by_agent,
            } => format!(
                "{server_id} read {conversation_id} {seq} {}",
                u8::from(*by_agent)
            ),
            _ => format!("{server_id} {}", fields.join(" ")),
        }
    }

    /// The server that sent a notification and its event; `None` for a
    /// text that is not one.
    pub fn decode(text: &str) -> Option<(&str, Event)> {
        let mut fields = text.split(' ');
        let server = fields.next().filter(|s| !s.is_empty())?;
        let kind = fields.next()?;
        let mut id = || fields.next().filter(|s| !s.is_empty()).map(str::to_owned);
        let event = match kind {
            "message" => {
                let conversation_id = id()?;
                let seq = id()?.parse().ok()?;
                let customer_id = id()?;
                let owner_session_id = fields.next()?;
                let proven = match fields.next()? {
                    "0" => false,
                    "1" => true,
                    _ => return None,
                };
                Event::Message {
                    conversation_id,
                    seq,
                    customer_id,
                    owner_session_id: Some(owner_session_id.to_owned()).filter(|s| !s.is_empty()),
                    proven,
                }
            }
            "status" => Event::Status {
                conversation_id: id()?,
            },
            "conversation" => {
                let conversation_id = id()?;
                Event::Conversation {
                    conversation_id,
                    also: id(),
                }
            }
            "revoked" => Event::SessionRevoked { session_id: id()? },
            "session" => Event::SessionChanged { session_id: id()? },
            "agent_gone" => Event::AgentGone { agent_id: id()? },
            "queue" => Event::Queue,
            "queue_changed" => Event::QueueChanged { app_id: id()? },
            "typing" => {
                let conversation_id = id()?;
                Event::Typing {
                    conversation_id,
                    agent_id: id(),
                }
            }
            "read" => {
                let conversation_id = id()?;
                let seq = id()?.parse().ok()?;
                let by_agent = match fields.next()? {
                    "0" => false,
                    "1" => true,
                    _ => return None,
                };
                Event::Read {
                    conversation_id,
                    seq,
                    by_agent,
                }
            }
            _ => return None,
        };
        Some((server, event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_their_text() {
        let events = [
            Event::Message {
                conversation_id: "c1".into(),
                seq: 42,
                customer_id: "u1".into(),
                owner_session_id: Some("s1".into()),
                proven: true,
            },
            Event::Message {
                conversation_id: "c1".into(),
                seq: 1,
                customer_id: "u1".into(),
                owner_session_id: None,
                proven: false,
            },
            Event::Status {
                conversation_id: "c1".into(),
            },
            Event::Conversation {
                conversation_id: "c1".into(),
                also: Some("a1".into()),
            },
            Event::Conversation {
                conversation_id: "c1".into(),
                also: None,
            },
            Event::SessionRevoked {
                session_id: "s1".into(),
            },
            Event::SessionChanged {
                session_id: "s1".into(),
            },
            Event::AgentGone {
                agent_id: "a1".into(),
            },
            Event::Queue,
            Event::QueueChanged {
                app_id: "demo".into(),
            },
            Event::Typing {
                conversation_id: "c1".into(),
                agent_id: Some("a1".into()),
            },
            Event::Typing {
                conversation_id: "c1".into(),
                agent_id: None,
            },
            Event::Read {
                conversation_id: "c1".into(),
                seq: 7,
                by_agent: true,
            },
            Event::Read {
                conversation_id: "c1".into(),
                seq: 3,
                by_agent: false,
            },
        ];
        for event in events {
            let text = event.encode("server-1");
            assert_eq!(Event::decode(&text), Some(("server-1", event)), "{text}");
        }
        for bad in [
            "",
            "s",
            "s message",
            "s message c1 x",
            "s message c1 1 u1 s1",
            "s message c1 1 u1 s1 2",
            "s dance c1",
        ] {
            assert_eq!(Event::decode(bad), None, "{bad:?}");
        }
    }
}
