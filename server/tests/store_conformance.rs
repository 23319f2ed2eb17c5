//! One contract, two stores: every test here runs against a fresh SQLite
//! file and, when `TRUSTCHAT_TEST_DATABASE_URL` is set, a fresh Postgres
//! database (see `databases/`). What one store does, the other must do too.
//!
//! The concurrency tests use two store instances on one database, as two
//! servers would (for SQLite, two writers of one file).

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]

mod databases;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use trustchat_protocol::{AgentStatus, ConversationStatus, MessageKind, Priority};
use trustchat_server::store::{
    AgentRecord, AgentSessionRecord, Among, AuditAction, AuditActor, AuditRecord,
    ConversationFilter, CustomerMatch, CustomerRecord, DeliveryDone, DeliveryRecord,
    DeliveryStatus, EmailDone, EventType, IdentityKind, NewAgentMessage, NewCustomerMessage,
    NewDelivery, RatingRecord, Reader, ReportDay, RoutingFacts, SavedReplyRecord, SearchQuery,
    SessionRecord, Store, StoreError, StoreResult, UniqueKey, WebhookCounts, WebhookSubscription,
    Webhooks,
};

/// How long a wait for something that must happen may take.
const PATIENCE: Duration = Duration::from_secs(10);
/// "Now" in Unix seconds for sessions and verification.
const NOW: i64 = 1_800_000_000;

fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn profile(sub: Option<&str>, email: Option<&str>, phone: Option<&str>) -> CustomerRecord {
    CustomerRecord {
        id: id(),
        app_id: "demo".into(),
        sub: sub.map(Into::into),
        name: Some("Ada Lovelace".into()),
        email: email.map(Into::into),
        phone: phone.map(Into::into),
        created_at: NOW,
        updated_at: NOW,
    }
}

async fn new_customer(store: &dyn Store, sub: Option<&str>) -> CustomerRecord {
    let customer = profile(sub, None, None);
    store.insert_customer(&customer).await.unwrap();
    customer
}

/// A session of `customer`: trusted until `NOW + 600` with `trusted`.
fn session_of(customer: &CustomerRecord, trusted: bool) -> SessionRecord {
    SessionRecord {
        id: id(),
        token_hash: id(),
        app_id: customer.app_id.clone(),
        customer_id: customer.id.clone(),
        trusted,
        trusted_until: trusted.then_some(NOW + 600),
        identity_kind: if trusted {
            IdentityKind::Jwt
        } else {
            IdentityKind::Anonymous
        },
        sub: if trusted { customer.sub.clone() } else { None },
        display_name: Some("Ada".into()),
        display_email: Some("ada@example.com".into()),
        display_phone: None,
        display_first_name: None,
        created_at: NOW,
        revoked_at: None,
        page_url: None,
        locales: Vec::new(),
    }
}

async fn new_session(store: &dyn Store, customer: &CustomerRecord, trusted: bool) -> SessionRecord {
    let session = session_of(customer, trusted);
    store.insert_session(&session, &[]).await.unwrap();
    session
}

/// A message of `session`, trusted as the session is.
fn say(session: &SessionRecord, client_id: &str, body: &str, now_ms: i64) -> NewCustomerMessage {
    NewCustomerMessage {
        id: id(),
        app_id: session.app_id.clone(),
        customer_id: session.customer_id.clone(),
        session_id: session.id.clone(),
        author_name: session.display_name.clone(),
        client_id: client_id.into(),
        body: body.into(),
        trusted: session.trusted,
        now_ms,
        routing: Default::default(),
        webhooks: Default::default(),
    }
}

fn reply(
    conversation_id: &str,
    client_id: Option<&str>,
    body: &str,
    now_ms: i64,
) -> NewAgentMessage {
    NewAgentMessage {
        id: id(),
        conversation_id: conversation_id.into(),
        author_name: "Grace".into(),
        kind: MessageKind::Text,
        body: body.into(),
        link: None,
        client_id: client_id.map(Into::into),
        now_ms,
        email_due_at: None,
        webhooks: Default::default(),
    }
}

/// An agent's reply that asks for an email at `due` (Unix ms).
fn emailed_reply(conversation_id: &str, body: &str, now_ms: i64, due: i64) -> NewAgentMessage {
    NewAgentMessage {
        email_due_at: Some(due),
        webhooks: Default::default(),
        ..reply(conversation_id, None, body, now_ms)
    }
}

/// What the email worker records when it is done.
fn email_done(
    handled_seq: i64,
    seen_seq: i64,
    next_due_at: Option<i64>,
    attempts: i64,
) -> EmailDone {
    EmailDone {
        handled_seq,
        seen_seq,
        next_due_at,
        attempts,
    }
}

fn reader(session: &SessionRecord) -> Reader {
    Reader {
        session_id: session.id.clone(),
        customer_id: session.customer_id.clone(),
        trusted: session.trusted,
    }
}

fn agent(email: &str, name: &str) -> AgentRecord {
    AgentRecord {
        id: id(),
        email: email.into(),
        name: name.into(),
        password_hash: "$argon2id$test".into(),
        status: AgentStatus::Available,
        created_at: 1_000,
        last_assigned_at: None,
    }
}

async fn new_agent(store: &dyn Store, email: &str, name: &str) -> AgentRecord {
    let agent = agent(email, name);
    store.insert_agent(&agent).await.unwrap();
    agent
}

fn agent_session(agent: &AgentRecord) -> AgentSessionRecord {
    AgentSessionRecord {
        id: id(),
        token_hash: id(),
        csrf_token: id(),
        agent_id: agent.id.clone(),
        created_at: 1_000,
        expires_at: 100_000,
        revoked_at: None,
    }
}

/// The key a failed operation names.
fn taken<T: std::fmt::Debug>(result: StoreResult<T>) -> UniqueKey {
    match result {
        Err(StoreError::Taken(key)) => key,
        other => panic!("not a taken key: {other:?}"),
    }
}

fn seqs(messages: &[trustchat_server::store::MessageRecord]) -> Vec<i64> {
    messages.iter().map(|m| m.seq).collect()
}

#[tokio::test]
async fn customers_are_found_by_sub_email_and_phone() {
    for db in databases::fresh("customers_are_found").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        let unproven = profile(None, Some("ada@example.com"), Some("+14155550100"));
        store.insert_customer(&unproven).await.unwrap();
        assert_eq!(
            store.customer(&unproven.id).await.unwrap(),
            Some(unproven.clone())
        );
        assert_eq!(store.customer("nobody").await.unwrap(), None);

        // Nobody proved it: found among unproven ones and among all.
        for among in [Among::Any, Among::Unproven] {
            let by_email = store
                .customer_by_email("demo", "ada@example.com", among)
                .await
                .unwrap();
            assert_eq!(by_email.map(|c| c.id), Some(unproven.id.clone()));
            let by_phone = store
                .customer_by_phone("demo", "+14155550100", among)
                .await
                .unwrap();
            assert_eq!(by_phone.map(|c| c.id), Some(unproven.id.clone()));
        }
        // Apps do not share profiles.
        assert_eq!(
            store
                .customer_by_email("other", "ada@example.com", Among::Any)
                .await
                .unwrap(),
            None
        );

        // A proven profile with the same email comes first among all, and
        // never among the unproven.
        let mut proven = profile(Some("u-1"), Some("ada@example.com"), Some("+14155550100"));
        proven.updated_at = NOW - 100;
        store.insert_customer(&proven).await.unwrap();
        let any = store
            .customer_by_email("demo", "ada@example.com", Among::Any)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(any.id, proven.id, "proven profiles first");
        let unproven_only = store
            .customer_by_phone("demo", "+14155550100", Among::Unproven)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(unproven_only.id, unproven.id);
        assert_eq!(
            store
                .customer_by_sub("demo", "u-1")
                .await
                .unwrap()
                .map(|c| c.id),
            Some(proven.id.clone())
        );
        assert_eq!(store.customer_by_sub("other", "u-1").await.unwrap(), None);

        // Among several proven ones, the most recently updated, then the
        // newest.
        let mut later = profile(Some("u-2"), Some("ada@example.com"), None);
        later.updated_at = NOW;
        store.insert_customer(&later).await.unwrap();
        let mut tie = profile(Some("u-3"), Some("ada@example.com"), None);
        tie.updated_at = NOW;
        store.insert_customer(&tie).await.unwrap();
        let any = store
            .customer_by_email("demo", "ada@example.com", Among::Any)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(any.id, tie.id, "the newest of the most recently updated");

        // Updating writes sub, name, contact details and updated_at.
        let mut updated = unproven.clone();
        updated.sub = Some("u-9".into());
        updated.name = Some("Ada King".into());
        updated.email = Some("ada@king.example".into());
        updated.phone = None;
        updated.updated_at = NOW + 5;
        store.update_customer(&updated).await.unwrap();
        assert_eq!(store.customer(&unproven.id).await.unwrap(), Some(updated));
        store.close().await;
    }
}

#[tokio::test]
async fn each_unique_violation_names_its_key() {
    for db in databases::fresh("each_unique_violation").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        let a = profile(Some("s1"), Some("a@x.io"), Some("+14155550100"));
        store.insert_customer(&a).await.unwrap();
        let b = profile(None, Some("b@x.io"), Some("+14155550101"));
        store.insert_customer(&b).await.unwrap();
        for (duplicate, key) in [
            (profile(Some("s1"), None, None), UniqueKey::CustomerSub),
            (
                profile(None, Some("b@x.io"), None),
                UniqueKey::CustomerEmail,
            ),
            (
                profile(None, None, Some("+14155550101")),
                UniqueKey::CustomerPhone,
            ),
        ] {
            assert_eq!(taken(store.insert_customer(&duplicate).await), key);
        }
        // A proven profile's email and phone are attributes, not keys.
        store
            .insert_customer(&profile(Some("s2"), Some("a@x.io"), Some("+14155550100")))
            .await
            .unwrap();
        // An update into a taken key names it too.
        let mut c = profile(None, Some("c@x.io"), None);
        store.insert_customer(&c).await.unwrap();
        c.email = Some("b@x.io".into());
        assert_eq!(
            taken(store.update_customer(&c).await),
            UniqueKey::CustomerEmail
        );
        c.email = None;
        c.sub = Some("s1".into());
        assert_eq!(
            taken(store.update_customer(&c).await),
            UniqueKey::CustomerSub
        );

        let session = new_session(store, &a, false).await;
        let mut twin = session_of(&a, false);
        twin.token_hash = session.token_hash.clone();
        assert_eq!(
            taken(store.insert_session(&twin, &[]).await),
            UniqueKey::SessionToken
        );

        let first = store
            .append_customer_message(say(&session, "k1", "hello", 1_000))
            .await
            .unwrap();
        let other = new_session(store, &a, false).await;
        assert_eq!(
            taken(
                store
                    .append_customer_message(say(&other, "k1", "mine?", 1_001))
                    .await
            ),
            UniqueKey::ClientId,
            "another session's client_id"
        );
        let conversation = first.message.conversation_id.clone();
        store
            .append_agent_message(reply(&conversation, Some("r1"), "hi", 1_002))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            taken(
                store
                    .append_agent_message(reply(&conversation, Some("r1"), "again", 1_003))
                    .await
            ),
            UniqueKey::AgentReplyClientId
        );

        let al = new_agent(store, "al@x.io", "Al").await;
        assert_eq!(
            taken(store.insert_agent(&agent("AL@x.io", "Al 2")).await),
            UniqueKey::AgentEmail
        );
        let console = agent_session(&al);
        store.insert_agent_session(&console).await.unwrap();
        let mut twin = agent_session(&al);
        twin.token_hash = console.token_hash.clone();
        assert_eq!(
            taken(store.insert_agent_session(&twin).await),
            UniqueKey::AgentSessionToken
        );
        store.close().await;
    }
}

#[tokio::test]
async fn sessions_are_stored_updated_and_revoked() {
    for db in databases::fresh("sessions_are_stored").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        let anonymous = new_customer(store, None).await;
        let session = new_session(store, &anonymous, false).await;
        assert_eq!(
            store.session(&session.id).await.unwrap(),
            Some(session.clone())
        );
        assert_eq!(
            store
                .session_by_token_hash(&session.token_hash)
                .await
                .unwrap(),
            Some(session.clone())
        );
        assert_eq!(store.session_by_token_hash("unknown").await.unwrap(), None);

        // A login mid-chat: another customer, trusted, what the token gave.
        let ada = new_customer(store, Some("u-1")).await;
        let mut upgraded = session.clone();
        upgraded.customer_id = ada.id.clone();
        upgraded.trusted = true;
        upgraded.trusted_until = Some(NOW + 60);
        upgraded.identity_kind = IdentityKind::Jwt;
        upgraded.sub = Some("u-1".into());
        upgraded.display_name = Some("Ada Lovelace".into());
        upgraded.display_first_name = Some("Ada".into());
        upgraded.display_email = Some("ada@example.com".into());
        upgraded.display_phone = Some("+14155550100".into());
        store.update_session_identity(&upgraded, &[]).await.unwrap();
        assert_eq!(
            store.session(&session.id).await.unwrap(),
            Some(upgraded.clone())
        );

        assert!(store.revoke_session(&session.id, NOW + 1).await.unwrap());
        assert!(
            !store.revoke_session(&session.id, NOW + 2).await.unwrap(),
            "revoked once"
        );
        let revoked = store
            .session_by_token_hash(&session.token_hash)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(revoked.revoked_at, Some(NOW + 1));
        store.close().await;
    }
}

#[tokio::test]
async fn a_sessions_languages_are_kept_and_a_proven_customers_latest_are_found() {
    for db in databases::fresh("session_locales").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        let tags = |list: &[&str]| list.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        let ada = new_customer(store, Some("u-1")).await;

        // Stored with the session, read back as given.
        let phone = SessionRecord {
            locales: tags(&["fr-CA", "fr", "en"]),
            ..session_of(&ada, true)
        };
        store.insert_session(&phone, &[]).await.unwrap();
        assert_eq!(store.session(&phone.id).await.unwrap(), Some(phone.clone()));
        // Replaced; an identity update leaves them alone.
        store
            .set_session_locales(&phone.id, &tags(&["de"]))
            .await
            .unwrap();
        store.update_session_identity(&phone, &[]).await.unwrap();
        let read = store.session(&phone.id).await.unwrap().unwrap();
        assert_eq!(read.locales, tags(&["de"]));

        // The proven customer's latest session that recorded some: a later
        // proven one without any does not count, nor does a claim's (no
        // sub), however recent.
        let laptop = SessionRecord {
            created_at: NOW + 10,
            ..session_of(&ada, true)
        };
        store.insert_session(&laptop, &[]).await.unwrap();
        let claim = SessionRecord {
            created_at: NOW + 20,
            locales: tags(&["ar"]),
            ..session_of(&ada, false)
        };
        store.insert_session(&claim, &[]).await.unwrap();
        assert_eq!(
            store.proven_customer_locales(&ada.id).await.unwrap(),
            tags(&["de"])
        );
        store
            .set_session_locales(&laptop.id, &tags(&["ja", "en-US"]))
            .await
            .unwrap();
        assert_eq!(
            store.proven_customer_locales(&ada.id).await.unwrap(),
            tags(&["ja", "en-US"])
        );
        let nobody = new_customer(store, None).await;
        assert!(store
            .proven_customer_locales(&nobody.id)
            .await
            .unwrap()
            .is_empty());
        let anonymous = new_session(store, &nobody, false).await;
        assert!(store
            .session(&anonymous.id)
            .await
            .unwrap()
            .unwrap()
            .locales
            .is_empty());
        store.close().await;
    }
}

#[tokio::test]
async fn a_first_message_opens_a_conversation_and_a_resend_after_the_close_opens_none() {
    for db in databases::fresh("a_first_message_opens").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        let customer = new_customer(store, None).await;
        let session = new_session(store, &customer, false).await;
        assert_eq!(
            store.current_conversation(&reader(&session)).await.unwrap(),
            None
        );

        let first = store
            .append_customer_message(say(&session, "c1", "hello", 1_000))
            .await
            .unwrap();
        assert!(first.created && first.opened);
        assert_eq!(first.message.seq, 1);
        assert_eq!(first.owner_session_id.as_deref(), Some(session.id.as_str()));
        assert!(
            !first.proven,
            "an untrusted session's conversation is not proven"
        );
        assert_eq!(
            (first.app_id.as_str(), first.customer_id.as_str()),
            ("demo", customer.id.as_str())
        );
        let second = store
            .append_customer_message(say(&session, "c2", "again", 1_001))
            .await
            .unwrap();
        assert!(second.created && !second.opened);
        assert_eq!(second.message.seq, 2);
        let conversation_id = first.message.conversation_id.clone();
        assert_eq!(second.message.conversation_id, conversation_id);

        // A resend is the stored message, nothing new.
        let resent = store
            .append_customer_message(say(&session, "c2", "again", 1_002))
            .await
            .unwrap();
        assert!(!resent.created && !resent.opened);
        assert_eq!(resent.message, second.message);

        let conversation = store.conversation(&conversation_id).await.unwrap().unwrap();
        assert_eq!(conversation.last_seq, 2);
        assert_eq!(conversation.last_activity_at, 1_001);
        assert_eq!(conversation.status, ConversationStatus::Open);
        assert_eq!(
            conversation.session_id.as_deref(),
            Some(session.id.as_str())
        );
        let stored = store.messages_after(&conversation_id, 0, 10).await.unwrap();
        assert_eq!(stored, vec![first.message.clone(), second.message.clone()]);
        assert_eq!(stored[0].author_name.as_deref(), Some("Ada"));
        assert_eq!(
            seqs(&store.messages_after(&conversation_id, 1, 10).await.unwrap()),
            [2]
        );
        assert_eq!(
            seqs(&store.messages_after(&conversation_id, 0, 1).await.unwrap()),
            [1]
        );

        // Closed: a resend finds its message and opens nothing.
        let closed = store
            .close_conversation(&conversation_id, 2_000, &Default::default())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (closed.status, closed.closed_at, closed.last_activity_at),
            (ConversationStatus::Closed, Some(2_000), 2_000)
        );
        assert_eq!(
            store
                .close_conversation(&conversation_id, 2_001, &Default::default())
                .await
                .unwrap(),
            None,
            "closed once"
        );
        assert_eq!(
            store
                .close_conversation("nope", 2_001, &Default::default())
                .await
                .unwrap(),
            None
        );
        let resent = store
            .append_customer_message(say(&session, "c1", "hello", 2_100))
            .await
            .unwrap();
        assert!(!resent.created && !resent.opened);
        assert_eq!(resent.message.id, first.message.id);
        let current = store
            .current_conversation(&reader(&session))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (current.id.as_str(), current.status),
            (conversation_id.as_str(), ConversationStatus::Closed),
            "the resend opened no conversation"
        );

        // A new message after the close opens the next conversation.
        let third = store
            .append_customer_message(say(&session, "c3", "back", 3_000))
            .await
            .unwrap();
        assert!(third.created && third.opened);
        assert_ne!(third.message.conversation_id, conversation_id);
        assert_eq!(third.message.seq, 1);
        let current = store
            .current_conversation(&reader(&session))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(current.id, third.message.conversation_id);
        store.close().await;
    }
}

#[tokio::test]
async fn agent_replies_take_the_next_seq_and_keep_their_client_ids() {
    for db in databases::fresh("agent_replies").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        let customer = new_customer(store, None).await;
        let session = new_session(store, &customer, false).await;
        let first = store
            .append_customer_message(say(&session, "c1", "hello", 1_000))
            .await
            .unwrap();
        let conversation_id = first.message.conversation_id.clone();

        let mut login = reply(&conversation_id, Some("r1"), "please log in", 1_500);
        login.kind = MessageKind::LoginRequest;
        login.link = Some("https://example.com/login".into());
        let answered = store.append_agent_message(login).await.unwrap().unwrap();
        assert_eq!(answered.message.seq, 2);
        assert!(answered.created && !answered.opened && !answered.message.trusted);
        assert_eq!(
            (
                answered.app_id.as_str(),
                answered.customer_id.as_str(),
                answered.owner_session_id.as_deref()
            ),
            ("demo", customer.id.as_str(), Some(session.id.as_str()))
        );
        let found = store
            .agent_message_by_client_id(&conversation_id, "r1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found, answered.message);
        assert_eq!(found.kind, MessageKind::LoginRequest);
        assert_eq!(found.link.as_deref(), Some("https://example.com/login"));
        assert_eq!(found.author_name.as_deref(), Some("Grace"));
        // A customer's client_id is not an agent's.
        assert_eq!(
            store
                .agent_message_by_client_id(&conversation_id, "c1")
                .await
                .unwrap(),
            None
        );
        // Without a client_id, any number of replies.
        for n in 0..2 {
            store
                .append_agent_message(reply(&conversation_id, None, "more", 1_600 + n))
                .await
                .unwrap()
                .unwrap();
        }
        let conversation = store.conversation(&conversation_id).await.unwrap().unwrap();
        assert_eq!(
            (conversation.last_seq, conversation.last_activity_at),
            (4, 1_601)
        );

        // The same client_id in another conversation is another reply.
        let other = new_session(store, &customer, false).await;
        let elsewhere = store
            .append_customer_message(say(&other, "o1", "hi", 1_700))
            .await
            .unwrap();
        store
            .append_agent_message(reply(
                &elsewhere.message.conversation_id,
                Some("r1"),
                "hi",
                1_800,
            ))
            .await
            .unwrap()
            .unwrap();

        // Closed, or unknown: no reply.
        store
            .close_conversation(&conversation_id, 2_000, &Default::default())
            .await
            .unwrap();
        assert!(store
            .append_agent_message(reply(&conversation_id, Some("r2"), "late", 2_100))
            .await
            .unwrap()
            .is_none());
        assert!(store
            .append_agent_message(reply("nope", None, "lost", 2_100))
            .await
            .unwrap()
            .is_none());
        assert_eq!(
            seqs(&store.messages_after(&conversation_id, 0, 10).await.unwrap()),
            [1, 2, 3, 4]
        );
        store.close().await;
    }
}

#[tokio::test]
async fn a_session_writes_into_its_own_conversation_and_a_trusted_one_into_the_proven_one() {
    for db in databases::fresh("a_session_writes").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        let ada = new_customer(store, Some("u-1")).await;
        let phone = new_session(store, &ada, true).await;
        let laptop = new_session(store, &ada, true).await;
        let stranger = new_session(store, &ada, false).await;

        let opened = store
            .append_customer_message(say(&phone, "p1", "from my phone", 1_000))
            .await
            .unwrap();
        assert!(opened.opened && opened.proven && opened.message.trusted);
        let proven_id = opened.message.conversation_id.clone();
        // Another trusted session of the customer joins it.
        let joined = store
            .append_customer_message(say(&laptop, "l1", "from my laptop", 1_001))
            .await
            .unwrap();
        assert_eq!(
            (
                joined.message.conversation_id.as_str(),
                joined.message.seq,
                joined.opened
            ),
            (proven_id.as_str(), 2, false)
        );
        assert_eq!(joined.owner_session_id.as_deref(), Some(phone.id.as_str()));
        // An untrusted session of the same profile never does.
        let apart = store
            .append_customer_message(say(&stranger, "s1", "let me in", 1_002))
            .await
            .unwrap();
        assert!(apart.opened && !apart.proven && !apart.message.trusted);
        assert_ne!(apart.message.conversation_id, proven_id);

        // Readers: the stranger reads its own; trusted ones the proven one.
        let current = |session: &SessionRecord| {
            let reader = reader(session);
            async move {
                store
                    .current_conversation(&reader)
                    .await
                    .unwrap()
                    .unwrap()
                    .id
            }
        };
        assert_eq!(current(&stranger).await, apart.message.conversation_id);
        assert_eq!(current(&laptop).await, proven_id);
        // The laptop, no longer trusted, reads only what it started: none.
        let mut lapsed = reader(&laptop);
        lapsed.trusted = false;
        assert_eq!(store.current_conversation(&lapsed).await.unwrap(), None);

        // A trusted session with an open conversation of its own (opened
        // before its login) writes into the proven one first.
        let late = new_session(store, &ada, false).await;
        let own = store
            .append_customer_message(say(&late, "t1", "before login", 1_003))
            .await
            .unwrap();
        let mut late = late;
        late.trusted = true;
        store.update_session_identity(&late, &[]).await.unwrap();
        let after_login = store
            .append_customer_message(say(&late, "t2", "after login", 1_004))
            .await
            .unwrap();
        assert_eq!(after_login.message.conversation_id, proven_id);
        assert_eq!(current(&late).await, proven_id, "the open proven one first");
        // Its own open one is still what it reads untrusted.
        let mut untrusted = reader(&late);
        untrusted.trusted = false;
        assert_eq!(
            store
                .current_conversation(&untrusted)
                .await
                .unwrap()
                .unwrap()
                .id,
            own.message.conversation_id
        );

        // Once the proven one is closed, a trusted reader reads its own
        // open one before the closed proven one.
        store
            .close_conversation(&proven_id, 2_000, &Default::default())
            .await
            .unwrap();
        assert_eq!(current(&late).await, own.message.conversation_id);
        // With nothing open, the newest.
        store
            .close_conversation(&own.message.conversation_id, 2_001, &Default::default())
            .await
            .unwrap();
        assert_eq!(current(&late).await, own.message.conversation_id);
        assert_eq!(current(&phone).await, proven_id);
        store.close().await;
    }
}

#[tokio::test]
async fn linking_moves_a_sessions_conversations_and_proof_closes_the_other_proven_one() {
    for db in databases::fresh("linking_moves").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        // Ada chats anonymously on a laptop, while her phone holds her
        // proven conversation.
        let anonymous = new_customer(store, None).await;
        let laptop = new_session(store, &anonymous, false).await;
        let typed = store
            .append_customer_message(say(&laptop, "a1", "hello?", 1_000))
            .await
            .unwrap();
        let ada = new_customer(store, Some("u-1")).await;
        let phone = new_session(store, &ada, true).await;
        let proven = store
            .append_customer_message(say(&phone, "p1", "from my phone", 1_001))
            .await
            .unwrap();

        // A claim (setUser) links for the agent's eyes only.
        let claimed = store
            .link_session_conversations(&laptop.id, &ada.id, false, 1_500, &Default::default())
            .await
            .unwrap();
        assert_eq!((claimed.linked, claimed.closed), (1, None));
        let moved = store
            .conversation(&typed.message.conversation_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (moved.customer_id.as_str(), moved.proven),
            (ada.id.as_str(), false)
        );
        assert_eq!(
            store
                .conversation(&proven.message.conversation_id)
                .await
                .unwrap()
                .unwrap()
                .status,
            ConversationStatus::Open,
            "a claim closes nothing"
        );

        // Her login proves the laptop's conversation; the phone's proven
        // one closes, as the one she is typing in goes on.
        let mut laptop = laptop;
        laptop.customer_id = ada.id.clone();
        laptop.trusted = true;
        laptop.trusted_until = Some(NOW + 600);
        store.update_session_identity(&laptop, &[]).await.unwrap();
        let linked = store
            .link_session_conversations(&laptop.id, &ada.id, true, 2_000, &Default::default())
            .await
            .unwrap();
        assert_eq!(linked.linked, 1);
        let closed = linked.closed.expect("the other proven conversation closed");
        assert_eq!(
            (closed.id.as_str(), closed.status, closed.closed_at),
            (
                proven.message.conversation_id.as_str(),
                ConversationStatus::Closed,
                Some(2_000)
            )
        );
        let now_proven = store
            .conversation(&typed.message.conversation_id)
            .await
            .unwrap()
            .unwrap();
        assert!(now_proven.proven && now_proven.status == ConversationStatus::Open);
        // The phone's next message joins it; the laptop's resend of its
        // first message, now under Ada, finds it.
        let from_phone = store
            .append_customer_message(say(&phone, "p2", "still me", 2_100))
            .await
            .unwrap();
        assert_eq!(
            (
                from_phone.message.conversation_id.as_str(),
                from_phone.message.seq
            ),
            (typed.message.conversation_id.as_str(), 2)
        );
        let mut resend = say(&laptop, "a1", "hello?", 2_200);
        resend.customer_id = ada.id.clone();
        let resent = store.append_customer_message(resend).await.unwrap();
        assert!(!resent.created);
        assert_eq!(resent.message.id, typed.message.id);

        // Proving a session without an open conversation closes nothing.
        let idle = new_session(store, &ada, false).await;
        let nothing = store
            .link_session_conversations(&idle.id, &ada.id, true, 3_000, &Default::default())
            .await
            .unwrap();
        assert_eq!((nothing.linked, nothing.closed), (0, None));
        store.close().await;
    }
}

#[tokio::test]
async fn an_agents_teams_are_set_replaced_and_read_sorted() {
    for db in databases::fresh("agent_teams").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        let alice = new_agent(store, "alice@support.example", "Alice").await;
        let bob = new_agent(store, "bob@support.example", "Bob").await;
        assert!(store.agent_teams(&alice.id).await.unwrap().is_empty());
        let teams = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        store
            .set_agent_teams(
                &alice.id,
                &teams(&["vip", "a_b", "a-b", "frontline", "vip"]),
            )
            .await
            .unwrap();
        store
            .set_agent_teams(&bob.id, &teams(&["frontline"]))
            .await
            .unwrap();
        // Byte order on both stores, each team once.
        assert_eq!(
            store.agent_teams(&alice.id).await.unwrap(),
            ["a-b", "a_b", "frontline", "vip"]
        );
        store
            .set_agent_teams(&alice.id, &teams(&["billing"]))
            .await
            .unwrap();
        assert_eq!(store.agent_teams(&alice.id).await.unwrap(), ["billing"]);
        assert_eq!(
            store.agent_teams(&bob.id).await.unwrap(),
            ["frontline"],
            "Bob's untouched"
        );
        store.set_agent_teams(&alice.id, &[]).await.unwrap();
        assert!(store.agent_teams(&alice.id).await.unwrap().is_empty());
        store.close().await;
    }
}

#[tokio::test]
async fn routing_facts_order_the_queue_and_an_assignment_ends_a_hold() {
    for db in databases::fresh("routing_facts").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        let mut opened = Vec::new();
        for (n, priority) in [
            Priority::Low,
            Priority::Normal,
            Priority::High,
            Priority::Normal,
        ]
        .into_iter()
        .enumerate()
        {
            let customer = new_customer(store, None).await;
            let session = new_session(store, &customer, false).await;
            let n = i64::try_from(n).unwrap();
            let appended = store
                .append_customer_message(say(&session, &id(), "hi", 1_000 + n))
                .await
                .unwrap();
            let conversation = appended.message.conversation_id;
            let facts = RoutingFacts {
                team_id: Some(format!("team-{n}")),
                priority,
                rule: Some(format!("rule {n}")),
                held_until: (n == 3).then_some(9_999),
            };
            assert!(store
                .set_conversation_routing(&conversation, &facts)
                .await
                .unwrap());
            opened.push((conversation, facts));
        }
        // High first, then oldest.
        let queue = store.queued_conversations().await.unwrap();
        let order: Vec<&str> = queue.iter().map(|c| c.id.as_str()).collect();
        let want = [&opened[2].0, &opened[1].0, &opened[3].0, &opened[0].0];
        assert_eq!(order, want.map(String::as_str));
        assert_eq!(queue[0].routing, opened[2].1);
        assert_eq!(queue[2].routing.held_until, Some(9_999));
        let views = store
            .conversation_views(ConversationFilter::Queue, NOW)
            .await
            .unwrap();
        let order: Vec<&str> = views.iter().map(|v| v.conversation.id.as_str()).collect();
        assert_eq!(order, want.map(String::as_str));
        assert_eq!(
            views[1].conversation.routing.rule.as_deref(),
            Some("rule 1")
        );

        // Taking it ends the hold; what routing decided stays; an
        // assigned conversation's routing is not set again.
        let alice = new_agent(store, "alice@support.example", "Alice").await;
        let held = &opened[3].0;
        let taken = store
            .assign_conversation(held, Some(&alice.id), 2_000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(taken.routing.held_until, None);
        assert_eq!(taken.routing.team_id.as_deref(), Some("team-3"));
        assert!(!store
            .set_conversation_routing(held, &RoutingFacts::default())
            .await
            .unwrap());
        assert_eq!(store.queued_conversations().await.unwrap().len(), 3);

        // Memberships of live agents only.
        let bob = new_agent(store, "bob@support.example", "Bob").await;
        store
            .set_agent_teams(&alice.id, &["verified".to_owned(), "frontline".to_owned()])
            .await
            .unwrap();
        store
            .set_agent_teams(&bob.id, &["frontline".to_owned()])
            .await
            .unwrap();
        store.remove_agent(&bob.id, 3_000).await.unwrap();
        assert_eq!(
            store.agent_memberships().await.unwrap(),
            [
                (alice.id.clone(), "frontline".to_owned()),
                (alice.id.clone(), "verified".to_owned())
            ]
        );
        store.close().await;
    }
}

#[tokio::test]
async fn only_a_closed_conversation_is_rated_and_rating_again_replaces() {
    for db in databases::fresh("ratings").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        let customer = new_customer(store, None).await;
        let session = new_session(store, &customer, false).await;
        let conversation = store
            .append_customer_message(say(&session, &id(), "hi", 1_000))
            .await
            .unwrap()
            .message
            .conversation_id;
        let rating = |rating, comment: Option<&str>| RatingRecord {
            rating,
            comment: comment.map(Into::into),
            rated_at: 5_000 + rating,
        };
        assert_eq!(
            store
                .rate_conversation(&conversation, &rating(5, None))
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .rate_conversation(&id(), &rating(5, None))
                .await
                .unwrap(),
            None
        );
        store
            .close_conversation(&conversation, 2_000, &Default::default())
            .await
            .unwrap();
        let rated = store
            .rate_conversation(&conversation, &rating(2, Some("slow")))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rated.rating, Some(rating(2, Some("slow"))));
        store
            .rate_conversation(&conversation, &rating(4, None))
            .await
            .unwrap();
        assert_eq!(
            store
                .conversation(&conversation)
                .await
                .unwrap()
                .unwrap()
                .rating,
            Some(rating(4, None))
        );
        store.close().await;
    }
}

#[tokio::test]
async fn the_message_that_opens_a_conversation_stores_its_routing_with_it() {
    for db in databases::fresh("opening_routing").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        let facts = RoutingFacts {
            team_id: Some("verified".into()),
            priority: Priority::High,
            rule: Some("Verified customers".into()),
            held_until: Some(5_000),
        };
        // Alone, and in a batch of openings (the writers' batch path).
        let mut opened = Vec::new();
        let mut sends = Vec::new();
        for _ in 0..3 {
            let customer = new_customer(store, None).await;
            let session = new_session(store, &customer, false).await;
            let mut first = say(&session, &id(), "hi", 1_000);
            first.routing = facts.clone();
            sends.push(store.append_customer_message(first));
            opened.push(session);
        }
        let appended = futures_util::future::join_all(sends).await;
        for result in appended {
            let appended = result.unwrap();
            assert!(appended.opened);
            let record = store
                .conversation(&appended.message.conversation_id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(record.routing, facts);
        }
        // A message that joins it changes nothing of it.
        let mut later = say(&opened[0], &id(), "again", 2_000);
        later.routing = RoutingFacts::default();
        let joined = store.append_customer_message(later).await.unwrap();
        assert!(!joined.opened);
        let record = store
            .conversation(&joined.message.conversation_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.routing, facts);
        store.close().await;
    }
}

#[tokio::test]
async fn the_customers_read_marker_moves_up_to_the_last_message_only() {
    for db in databases::fresh("customer_reads").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        let customer = new_customer(store, None).await;
        let session = new_session(store, &customer, false).await;
        let conversation = store
            .append_customer_message(say(&session, &id(), "hi", 1_000))
            .await
            .unwrap()
            .message
            .conversation_id;
        store
            .append_agent_message(reply(&conversation, None, "hello", 1_001))
            .await
            .unwrap();
        store
            .append_agent_message(reply(&conversation, None, "still there?", 1_002))
            .await
            .unwrap();
        assert_eq!(
            store.mark_customer_read(&conversation, 2).await.unwrap(),
            Some(2)
        );
        // Never back, never the same again, never past the last message.
        assert_eq!(
            store.mark_customer_read(&conversation, 1).await.unwrap(),
            None
        );
        assert_eq!(
            store.mark_customer_read(&conversation, 2).await.unwrap(),
            None
        );
        assert_eq!(
            store.mark_customer_read(&conversation, 99).await.unwrap(),
            Some(3)
        );
        assert_eq!(store.mark_customer_read(&id(), 1).await.unwrap(), None);
        let record = store.conversation(&conversation).await.unwrap().unwrap();
        assert_eq!(record.customer_read_seq, 3);
        store.close().await;
    }
}

#[tokio::test]
async fn an_agent_reply_schedules_its_email_and_a_burst_shares_one() {
    for db in databases::fresh("email_schedule").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        let customer = new_customer(store, None).await;
        let session = new_session(store, &customer, false).await;
        let conversation = store
            .append_customer_message(say(&session, &id(), "hi", 1_000))
            .await
            .unwrap()
            .message
            .conversation_id;
        // Customers' messages and replies that ask for none schedule none.
        store
            .append_agent_message(reply(&conversation, None, "no email", 1_500))
            .await
            .unwrap();
        assert_eq!(store.next_email_due().await.unwrap(), None);
        assert_eq!(store.emails_pending().await.unwrap(), 0);
        store
            .append_agent_message(emailed_reply(&conversation, "first", 2_000, 122_000))
            .await
            .unwrap();
        store
            .append_agent_message(emailed_reply(&conversation, "second", 3_000, 123_000))
            .await
            .unwrap();
        assert_eq!(
            store.next_email_due().await.unwrap(),
            Some(122_000),
            "the burst keeps its first due time"
        );
        assert_eq!(store.emails_pending().await.unwrap(), 1, "one conversation");
        assert_eq!(store.claim_due_email(121_999, 500_000).await.unwrap(), None);
        let claim = store
            .claim_due_email(122_000, 422_000)
            .await
            .unwrap()
            .expect("due");
        assert_eq!(claim.conversation.id, conversation);
        assert_eq!(claim.conversation.last_seq, 4);
        assert_eq!(
            (claim.emailed_seq, claim.attempts, claim.lease_until),
            (0, 0, 422_000)
        );
        assert_eq!(
            store.claim_due_email(300_000, 600_000).await.unwrap(),
            None,
            "claimed until its lease runs out"
        );
        assert_eq!(store.next_email_due().await.unwrap(), Some(422_000));
        assert_eq!(
            store.emails_pending().await.unwrap(),
            1,
            "claimed is still pending"
        );
        // The lease ran out (its server stopped mid-send): claimed again.
        let again = store
            .claim_due_email(422_000, 722_000)
            .await
            .unwrap()
            .expect("due again");
        assert_eq!(again.conversation.id, conversation);
        // The first claim's end no longer decides the schedule, but what
        // it sent stays sent.
        store
            .finish_email(&conversation, 422_000, &email_done(4, 4, None, 0), 430_000)
            .await
            .unwrap();
        assert_eq!(store.next_email_due().await.unwrap(), Some(722_000));
        // Never back.
        store
            .finish_email(&conversation, 722_000, &email_done(3, 4, None, 0), 730_000)
            .await
            .unwrap();
        assert_eq!(store.next_email_due().await.unwrap(), None);
        assert_eq!(store.emails_pending().await.unwrap(), 0);
        // The next reply starts a new burst; what was handled stays.
        store
            .append_agent_message(emailed_reply(&conversation, "third", 800_000, 920_000))
            .await
            .unwrap();
        let claim = store
            .claim_due_email(920_000, 1_220_000)
            .await
            .unwrap()
            .expect("due");
        assert_eq!((claim.emailed_seq, claim.conversation.last_seq), (4, 5));
        store.close().await;
    }
}

#[tokio::test]
async fn an_email_claim_ends_in_a_retry_a_later_look_or_a_look_at_what_came_meanwhile() {
    for db in databases::fresh("email_finish").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        let customer = new_customer(store, None).await;
        let session = new_session(store, &customer, false).await;
        let conversation = store
            .append_customer_message(say(&session, &id(), "hi", 1_000))
            .await
            .unwrap()
            .message
            .conversation_id;
        store
            .append_agent_message(emailed_reply(&conversation, "answer", 2_000, 10_000))
            .await
            .unwrap();
        // A failed send: retried later, with the attempt counted.
        let claim = store
            .claim_due_email(10_000, 99_000)
            .await
            .unwrap()
            .unwrap();
        store
            .finish_email(
                &conversation,
                claim.lease_until,
                &email_done(0, 2, Some(40_000), 1),
                11_000,
            )
            .await
            .unwrap();
        assert_eq!(store.next_email_due().await.unwrap(), Some(40_000));
        assert_eq!(store.claim_due_email(39_999, 99_000).await.unwrap(), None);
        let claim = store
            .claim_due_email(40_000, 99_000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((claim.emailed_seq, claim.attempts), (0, 1));
        // A message came while the worker was busy: due again at once.
        store
            .append_customer_message(say(&session, &id(), "thanks!", 41_000))
            .await
            .unwrap();
        store
            .finish_email(
                &conversation,
                claim.lease_until,
                &email_done(2, 2, None, 0),
                42_000,
            )
            .await
            .unwrap();
        assert_eq!(store.next_email_due().await.unwrap(), Some(42_000));
        // Nothing came: nothing is due until an agent replies again.
        let claim = store
            .claim_due_email(42_000, 99_000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((claim.emailed_seq, claim.attempts), (2, 0));
        store
            .finish_email(
                &conversation,
                claim.lease_until,
                &email_done(3, 3, None, 0),
                43_000,
            )
            .await
            .unwrap();
        assert_eq!(store.next_email_due().await.unwrap(), None);
        // A closed conversation's replies are emailed too.
        store
            .append_agent_message(emailed_reply(&conversation, "bye", 50_000, 60_000))
            .await
            .unwrap();
        store
            .close_conversation(&conversation, 50_001, &Default::default())
            .await
            .unwrap();
        let claim = store
            .claim_due_email(60_000, 99_000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claim.conversation.status, ConversationStatus::Closed);
        assert_eq!((claim.emailed_seq, claim.conversation.last_seq), (3, 4));
        store.close().await;
    }
}

#[tokio::test]
async fn saved_replies_belong_to_their_team() {
    for db in databases::fresh("saved_replies").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        let reply = |team: &str, title: &str| SavedReplyRecord {
            id: id(),
            team_id: team.into(),
            title: title.into(),
            body: format!("{title} body"),
            created_by: None,
            created_at: 1_000,
        };
        let refunds = reply("frontline", "Refunds");
        for saved in [
            &refunds,
            &reply("frontline", "Hours"),
            &reply("verified", "Address"),
        ] {
            store.insert_saved_reply(saved).await.unwrap();
        }
        let titles = |replies: Vec<SavedReplyRecord>| {
            replies
                .into_iter()
                .map(|r| format!("{}/{}", r.team_id, r.title))
                .collect::<Vec<_>>()
        };
        let both = ["frontline".to_owned(), "verified".to_owned()];
        assert_eq!(
            titles(store.saved_replies(&both).await.unwrap()),
            ["frontline/Hours", "frontline/Refunds", "verified/Address"]
        );
        assert_eq!(
            titles(store.saved_replies(&both[1..]).await.unwrap()),
            ["verified/Address"]
        );
        assert!(store.saved_replies(&[]).await.unwrap().is_empty());
        // Only a team's own member deletes it.
        assert!(!store
            .delete_saved_reply(&refunds.id, &both[1..])
            .await
            .unwrap());
        assert!(store.delete_saved_reply(&refunds.id, &both).await.unwrap());
        assert!(!store.delete_saved_reply(&refunds.id, &both).await.unwrap());
        assert_eq!(
            titles(store.saved_replies(&both[..1]).await.unwrap()),
            ["frontline/Hours"]
        );
        store.close().await;
    }
}

#[tokio::test]
async fn search_matches_prefixes_of_messages_and_customer_details_within_apps() {
    for db in databases::fresh("search").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        let open = |app: &str, name: &str, email: Option<&str>, phone: Option<&str>| {
            let mut customer = profile(None, email, phone);
            customer.app_id = app.into();
            customer.name = Some(name.into());
            customer
        };
        let grace = open("demo", "Grace Hopper", Some("grace@navy.example"), None);
        let phil = open("demo", "Phil Phone", None, Some("+14155550123"));
        let olga = open("other", "Olga Other", Some("olga@other.example"), None);
        let mut conversations = HashMap::new();
        for (customer, body, at) in [
            (&grace, "The compiler found a moth", 1_000),
            (&phil, "Please call me back", 2_000),
            (&olga, "The compiler is on fire", 3_000),
        ] {
            store.insert_customer(customer).await.unwrap();
            let mut session = session_of(customer, false);
            session.app_id = customer.app_id.clone();
            store.insert_session(&session, &[]).await.unwrap();
            let appended = store
                .append_customer_message(say(&session, &id(), body, at))
                .await
                .unwrap();
            conversations.insert(
                customer.name.clone().unwrap(),
                appended.message.conversation_id,
            );
        }
        let c = |name: &str| conversations[name].clone();
        let search = |terms: &[&str], apps: Option<&[&str]>| SearchQuery {
            terms: terms.iter().map(|t| t.to_string()).collect(),
            apps: apps.map(|apps| apps.iter().map(|a| a.to_string()).collect()),
            limit: 10,
        };
        for (terms, apps, want) in [
            (
                &["compil"][..],
                None,
                vec![c("Olga Other"), c("Grace Hopper")],
            ),
            (&["compiler", "moth"][..], None, vec![c("Grace Hopper")]),
            (
                &["COMPILER"][..],
                Some(&["demo"][..]),
                vec![c("Grace Hopper")],
            ),
            (&["hopper"][..], None, vec![c("Grace Hopper")]),
            (&["grace@navy.example"][..], None, vec![c("Grace Hopper")]),
            (&["+1415555"][..], None, vec![c("Phil Phone")]),
            (&["olga"][..], Some(&["demo"][..]), vec![]),
            (&["olga"][..], Some(&[][..]), vec![]),
            (&["moth", "fire"][..], None, vec![]),
            (&["\"*)", "OR", "NEAR(x"][..], None, vec![]),
            (&["'", ":*", "&|!"][..], None, vec![]),
        ] {
            let found: Vec<String> = store
                .conversation_views(ConversationFilter::Search(search(terms, apps)), NOW)
                .await
                .unwrap()
                .into_iter()
                .map(|v| v.conversation.id)
                .collect();
            assert_eq!(found, want, "{terms:?} in {apps:?}");
        }
        let mut one = search(&["compiler"], None);
        one.limit = 1;
        let found = store
            .conversation_views(ConversationFilter::Search(one), NOW)
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        store.close().await;
    }
}

#[tokio::test]
async fn the_authentication_report_counts_each_conversation_once_per_day_and_app() {
    for db in databases::fresh("report").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        // Day 1 is [0, 1000), day 2 [1000, 2000).
        let days = [
            ReportDay {
                date: "d1".into(),
                start_ms: 0,
                end_ms: 1_000,
            },
            ReportDay {
                date: "d2".into(),
                start_ms: 1_000,
                end_ms: 2_000,
            },
        ];
        let mut made = Vec::new();
        for (app, trusted, anonymous, at) in [
            ("demo", [true, false], false, 10),     // trusted from the start
            ("demo", [false, true], true, 999),     // upgraded
            ("demo", [false, false], false, 1_000), // identified (gave name and email)
            ("demo", [false, false], true, 1_500),  // anonymous
            ("other", [false, false], true, 1_999), // anonymous, other app
            ("demo", [true, true], false, 2_000),   // the day after: not counted
        ] {
            let mut customer = new_customer(store, None).await;
            customer.app_id = app.into();
            let mut session = session_of(&customer, false);
            session.app_id = app.into();
            if anonymous {
                session.display_name = None;
                session.display_email = None;
                let mut nobody = profile(None, None, None);
                nobody.app_id = app.into();
                nobody.name = None;
                store.insert_customer(&nobody).await.unwrap();
                session.customer_id = nobody.id.clone();
            }
            store.insert_session(&session, &[]).await.unwrap();
            let mut conversation = String::new();
            for (n, trusted) in trusted.into_iter().enumerate() {
                let mut message = say(&session, &id(), "hi", at + i64::try_from(n).unwrap());
                message.app_id = app.into();
                message.trusted = trusted;
                conversation = store
                    .append_customer_message(message)
                    .await
                    .unwrap()
                    .message
                    .conversation_id;
            }
            made.push(conversation);
        }
        store
            .close_conversation(&made[2], 3_000, &Default::default())
            .await
            .unwrap();
        store
            .rate_conversation(
                &made[2],
                &RatingRecord {
                    rating: 3,
                    comment: None,
                    rated_at: 3_001,
                },
            )
            .await
            .unwrap();
        let rows = store.authentication_report(&days, None).await.unwrap();
        let got: Vec<(&str, &str, [i64; 8])> = rows
            .iter()
            .map(|r| {
                (
                    r.date.as_str(),
                    r.app_id.as_str(),
                    [
                        r.trusted_from_start,
                        r.upgraded,
                        r.identified,
                        r.anonymous,
                        r.messages_trusted,
                        r.messages_untrusted,
                        r.rating_sum,
                        r.rating_count,
                    ],
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("d1", "demo", [1, 1, 0, 0, 2, 2, 0, 0]),
                ("d2", "demo", [0, 0, 1, 1, 0, 4, 3, 1]),
                ("d2", "other", [0, 0, 0, 1, 0, 2, 0, 0]),
            ]
        );
        let demo_only = store
            .authentication_report(&days, Some(&["demo".to_owned()]))
            .await
            .unwrap();
        assert_eq!(demo_only.len(), 2);
        assert!(store
            .authentication_report(&[], None)
            .await
            .unwrap()
            .is_empty());
        store.close().await;
    }
}

#[tokio::test]
async fn agents_and_their_sessions() {
    for db in databases::fresh("agents_and_sessions").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        let grace = new_agent(store, "grace@x.io", "Grace").await;
        let al = new_agent(store, "al@x.io", "Al").await;
        let bea = new_agent(store, "bea@x.io", "al").await;
        assert_eq!(store.agent(&grace.id).await.unwrap(), Some(grace.clone()));
        assert_eq!(
            store.agent_by_email("GRACE@X.IO").await.unwrap(),
            Some(grace.clone()),
            "emails compare case-insensitively"
        );
        // ASCII letters only: the Kelvin sign is not a `k`.
        let kim = new_agent(store, "kim@x.io", "Kim").await;
        assert_eq!(store.agent_by_email("\u{212a}im@x.io").await.unwrap(), None);
        store
            .insert_agent(&agent("\u{212a}im@x.io", "Other Kim"))
            .await
            .unwrap();
        let names: Vec<_> = store
            .agents()
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(
            names,
            ["Al", "Grace", "Kim", "Other Kim", "al"],
            "by name, bytewise"
        );

        let away = store
            .set_agent_status(&grace.id, AgentStatus::Away)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(away.status, AgentStatus::Away);
        assert_eq!(
            store
                .set_agent_status("nobody", AgentStatus::Away)
                .await
                .unwrap(),
            None
        );

        let console = agent_session(&al);
        store.insert_agent_session(&console).await.unwrap();
        assert_eq!(
            store
                .agent_session_by_token_hash(&console.token_hash)
                .await
                .unwrap(),
            Some(console.clone())
        );
        store
            .revoke_agent_session(&console.id, 5_000)
            .await
            .unwrap();
        store
            .revoke_agent_session(&console.id, 6_000)
            .await
            .unwrap();
        assert_eq!(
            store
                .agent_session_by_token_hash(&console.token_hash)
                .await
                .unwrap()
                .unwrap()
                .revoked_at,
            Some(5_000)
        );

        // Removing an agent: gone from lookups, sessions revoked, open
        // conversations back in the queue; the email free again.
        let customer = new_customer(store, None).await;
        let session = new_session(store, &customer, false).await;
        let open = store
            .append_customer_message(say(&session, "c1", "hi", 1_000))
            .await
            .unwrap();
        let other = new_session(store, &customer, false).await;
        let closing = store
            .append_customer_message(say(&other, "c2", "bye", 1_001))
            .await
            .unwrap();
        for conversation in [&open, &closing] {
            store
                .assign_conversation(&conversation.message.conversation_id, Some(&bea.id), 1_100)
                .await
                .unwrap()
                .unwrap();
        }
        store
            .close_conversation(&closing.message.conversation_id, 1_200, &Default::default())
            .await
            .unwrap();
        let live = agent_session(&bea);
        store.insert_agent_session(&live).await.unwrap();
        let requeued = store.remove_agent(&bea.id, 7_000).await.unwrap();
        assert_eq!(
            requeued.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            [open.message.conversation_id.as_str()]
        );
        assert_eq!(requeued[0].assigned_agent_id, None);
        assert_eq!(store.agent(&bea.id).await.unwrap(), None);
        assert_eq!(store.agent_by_email("bea@x.io").await.unwrap(), None);
        assert_eq!(
            store
                .agent_session_by_token_hash(&live.token_hash)
                .await
                .unwrap()
                .unwrap()
                .revoked_at,
            Some(7_000)
        );
        assert_eq!(
            store
                .conversation(&closing.message.conversation_id)
                .await
                .unwrap()
                .unwrap()
                .assigned_agent_id
                .as_deref(),
            Some(bea.id.as_str()),
            "closed conversations keep their agent"
        );
        new_agent(store, "bea@x.io", "Bea again").await;
        assert!(store
            .set_agent_status(&bea.id, AgentStatus::Available)
            .await
            .unwrap()
            .is_none());
        let _ = kim;
        store.close().await;
    }
}

#[tokio::test]
async fn routing_assigns_open_conversations_and_counts_them() {
    for db in databases::fresh("routing_assigns").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        let grace = new_agent(store, "grace@x.io", "Grace").await;
        let al = new_agent(store, "al@x.io", "Al").await;
        let customer = new_customer(store, None).await;
        let mut conversations = Vec::new();
        // Three at the same millisecond: the queue keeps their order.
        for n in 0..3 {
            let session = new_session(store, &customer, false).await;
            let appended = store
                .append_customer_message(say(&session, &format!("c{n}"), "hi", 1_000))
                .await
                .unwrap();
            conversations.push(appended.message.conversation_id);
        }
        let queue: Vec<_> = store
            .queued_conversations()
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(queue, conversations, "oldest first");
        assert!(store.open_conversation_counts().await.unwrap().is_empty());

        let assigned = store
            .assign_conversation(&conversations[0], Some(&grace.id), 5_000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            assigned.assigned_agent_id.as_deref(),
            Some(grace.id.as_str())
        );
        assert_eq!(
            store
                .agent(&grace.id)
                .await
                .unwrap()
                .unwrap()
                .last_assigned_at,
            Some(5_000)
        );
        store
            .assign_conversation(&conversations[1], Some(&grace.id), 5_001)
            .await
            .unwrap();
        store
            .assign_conversation(&conversations[2], Some(&al.id), 5_002)
            .await
            .unwrap();
        let counts: HashMap<_, _> = store
            .open_conversation_counts()
            .await
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(
            counts,
            HashMap::from([(grace.id.clone(), 2), (al.id.clone(), 1)])
        );
        assert!(store.queued_conversations().await.unwrap().is_empty());

        // Back to the queue; closed ones are neither queued nor counted,
        // nor assigned, nor do they move an agent's last_assigned_at.
        store
            .assign_conversation(&conversations[1], None, 6_000)
            .await
            .unwrap()
            .unwrap();
        store
            .close_conversation(&conversations[2], 6_100, &Default::default())
            .await
            .unwrap();
        assert!(store
            .assign_conversation(&conversations[2], Some(&grace.id), 6_200)
            .await
            .unwrap()
            .is_none());
        assert_eq!(
            store
                .agent(&grace.id)
                .await
                .unwrap()
                .unwrap()
                .last_assigned_at,
            Some(5_001)
        );
        let counts: HashMap<_, _> = store
            .open_conversation_counts()
            .await
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(counts, HashMap::from([(grace.id.clone(), 1)]));
        let queue: Vec<_> = store
            .queued_conversations()
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(queue, [conversations[1].clone()]);
        store.close().await;
    }
}

#[tokio::test]
async fn conversation_views_show_verification_what_was_given_and_unread_counts() {
    for db in databases::fresh("conversation_views").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        let grace = new_agent(store, "grace@x.io", "Grace").await;
        let ada = new_customer(store, Some("u-1")).await;
        let phone = new_session(store, &ada, true).await;
        let proven = store
            .append_customer_message(say(&phone, "p1", "first", 1_000))
            .await
            .unwrap();
        let proven_id = proven.message.conversation_id.clone();
        store
            .append_customer_message(say(&phone, "p2", "second", 1_001))
            .await
            .unwrap();
        store
            .append_customer_message(say(&phone, "p3", "third", 1_002))
            .await
            .unwrap();
        // Someone typing under Ada's profile without proof.
        let mut claimant = session_of(&ada, false);
        claimant.display_name = Some("Eve".into());
        claimant.display_email = Some("eve@example.com".into());
        claimant.display_phone = Some("+14155550199".into());
        store.insert_session(&claimant, &[]).await.unwrap();
        let claimed = store
            .append_customer_message(say(&claimant, "e1", "it's me, Ada", 1_003))
            .await
            .unwrap();
        let claimed_id = claimed.message.conversation_id.clone();

        let view = |filter: ConversationFilter, now: i64| async move {
            store.conversation_views(filter, now).await.unwrap()
        };
        let one = view(ConversationFilter::Id(proven_id.clone()), NOW).await;
        assert_eq!(one.len(), 1);
        let v = &one[0];
        assert_eq!(v.conversation.id, proven_id);
        assert_eq!(v.customer.id, ada.id);
        assert_eq!(v.customer.sub.as_deref(), Some("u-1"));
        assert_eq!(v.last_body.as_deref(), Some("third"));
        assert_eq!(v.unread, 3, "nobody read it");
        assert!(
            v.verified,
            "proven, and a live session of Ada is trusted now"
        );
        assert_eq!(
            (v.given.name.as_deref(), v.given.email.as_deref()),
            (Some("Ada"), Some("ada@example.com"))
        );
        // Not verified once the proof expired, nor once the session ended.
        assert!(!view(ConversationFilter::Id(proven_id.clone()), NOW + 600).await[0].verified);
        let claimed_view = &view(ConversationFilter::Id(claimed_id.clone()), NOW).await[0];
        assert!(!claimed_view.verified, "never verified unless proven");
        assert_eq!(
            (
                claimed_view.given.name.as_deref(),
                claimed_view.given.email.as_deref(),
                claimed_view.given.phone.as_deref()
            ),
            (Some("Eve"), Some("eve@example.com"), Some("+14155550199")),
            "what the owning session gave, not the profile"
        );
        assert_eq!(claimed_view.customer.name.as_deref(), Some("Ada Lovelace"));

        // Unread counts customer messages after the assigned agent's marker.
        store
            .assign_conversation(&proven_id, Some(&grace.id), 2_000)
            .await
            .unwrap();
        store.mark_read(&grace.id, &proven_id, 2).await.unwrap();
        store.mark_read(&grace.id, &proven_id, 1).await.unwrap();
        store
            .append_agent_message(reply(&proven_id, None, "hello Ada", 2_100))
            .await
            .unwrap()
            .unwrap();
        let v = &view(ConversationFilter::Id(proven_id.clone()), NOW).await[0];
        assert_eq!(
            v.unread, 1,
            "the marker never moves back; replies do not count"
        );
        assert_eq!(v.last_body.as_deref(), Some("hello Ada"));

        store.revoke_session(&phone.id, NOW).await.unwrap();
        assert!(!view(ConversationFilter::Id(proven_id.clone()), NOW).await[0].verified);

        // Lists: an agent's, open first then newest activity; a customer's,
        // newest first.
        store
            .assign_conversation(&claimed_id, Some(&grace.id), 3_000)
            .await
            .unwrap();
        let mine: Vec<_> = view(ConversationFilter::AssignedTo(grace.id.clone()), NOW)
            .await
            .into_iter()
            .map(|v| v.conversation.id)
            .collect();
        assert_eq!(
            mine,
            [proven_id.clone(), claimed_id.clone()],
            "newest activity first"
        );
        store
            .close_conversation(&proven_id, 4_000, &Default::default())
            .await
            .unwrap();
        let mine: Vec<_> = view(ConversationFilter::AssignedTo(grace.id.clone()), NOW)
            .await
            .into_iter()
            .map(|v| v.conversation.id)
            .collect();
        assert_eq!(mine, [claimed_id.clone(), proven_id.clone()], "open first");
        let hers: Vec<_> = view(ConversationFilter::Customer(ada.id.clone()), NOW)
            .await
            .into_iter()
            .map(|v| v.conversation.id)
            .collect();
        assert_eq!(hers, [claimed_id.clone(), proven_id.clone()]);
        assert!(view(ConversationFilter::Id("nope".into()), NOW)
            .await
            .is_empty());
        store.close().await;
    }
}

#[tokio::test]
async fn presence_lasts_until_it_expires_and_each_server_writes_its_own() {
    for db in databases::fresh("presence").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        let online = |now: i64| async move {
            let mut agents = store.online_agents(now).await.unwrap();
            agents.sort();
            agents
        };
        assert!(online(0).await.is_empty());
        store
            .set_presence("server-a", &["a".into(), "b".into()], 10_000)
            .await
            .unwrap();
        store
            .set_presence("server-b", &["b".into(), "c".into()], 5_000)
            .await
            .unwrap();
        assert_eq!(online(1_000).await, ["a", "b", "c"]);
        assert_eq!(online(5_000).await, ["a", "b"], "server-b's lapsed");
        // A heartbeat rewrites the server's whole list.
        store
            .set_presence("server-a", &["a".into()], 20_000)
            .await
            .unwrap();
        assert_eq!(online(1_000).await, ["a", "b", "c"]);
        assert_eq!(online(6_000).await, ["a"]);
        store.set_presence("server-a", &[], 30_000).await.unwrap();
        assert_eq!(online(6_000).await, Vec::<String>::new());
        store.close().await;
    }
}

#[tokio::test]
async fn a_single_use_token_id_is_remembered_until_it_is_kept() {
    for db in databases::fresh("single_use_token").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        assert!(store.remember_jti("demo", "j1", 100, 50).await.unwrap());
        assert!(
            !store.remember_jti("demo", "j1", 100, 60).await.unwrap(),
            "a replay"
        );
        assert!(
            store.remember_jti("other", "j1", 100, 60).await.unwrap(),
            "per app"
        );
        assert!(
            !store.remember_jti("demo", "j1", 200, 100).await.unwrap(),
            "kept until 100"
        );
        assert!(
            store.remember_jti("demo", "j1", 300, 101).await.unwrap(),
            "forgotten once its token could not be accepted anyway"
        );
        assert!(!store.remember_jti("demo", "j1", 300, 102).await.unwrap());
        store.close().await;
    }
}

#[tokio::test]
async fn ping_answers_and_close_closes() {
    for db in databases::fresh("ping").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        store.ping().await.unwrap();
        store.close().await;
        assert!(store.ping().await.is_err(), "closed");
    }
}

// Concurrency: two stores on one database, as two servers, each with its
// connections open (a pool opens them lazily, and a cold one would run
// the first requests one after the other on its first connection), and
// every task let go at once.

/// Rows of `webhook_deliveries` left, by id, sorted.
async fn webhook_ids(db: &databases::TestDatabase) -> Vec<String> {
    use sqlx::Connection as _;
    let sql = "SELECT id FROM webhook_deliveries ORDER BY id";
    if db.is_postgres() {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
    } else {
        let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
    }
}

fn actor() -> AuditActor {
    AuditActor {
        actor: "cli:test".into(),
        at_ms: 9_000,
    }
}

#[tokio::test]
async fn a_customers_data_is_read_whole_and_erased_leaving_everyone_else() {
    for db in databases::fresh("privacy_erase").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        let email = "ada@example.com";
        // Ada's proven profile and the one a claim of her email made; Grace;
        // Ada again in another app.
        let proven = profile(Some("u-1"), Some(email), None);
        let claimed = profile(None, Some(email), Some("+14155550100"));
        let grace = profile(None, Some("grace@example.com"), None);
        let mut elsewhere = profile(None, Some(email), None);
        elsewhere.app_id = "other".into();
        for customer in [&proven, &claimed, &grace, &elsewhere] {
            store.insert_customer(customer).await.unwrap();
        }
        // A phone given beside an email stays with the session.
        let mut trusted = session_of(&proven, true);
        trusted.display_phone = Some("+14155550188".into());
        store.insert_session(&trusted, &[]).await.unwrap();
        let mut claiming = session_of(&claimed, false);
        claiming.page_url = Some("https://shop.example/orders".into());
        claiming.locales = vec!["fr".into(), "en".into()];
        store.insert_session(&claiming, &[]).await.unwrap();
        let mut grace_session = session_of(&grace, false);
        grace_session.display_email = grace.email.clone();
        store.insert_session(&grace_session, &[]).await.unwrap();
        let mut other_session = session_of(&elsewhere, false);
        other_session.app_id = "other".into();
        store.insert_session(&other_session, &[]).await.unwrap();

        let proven_conv = store
            .append_customer_message(say(&trusted, &id(), "where is my parcel", 1_000))
            .await
            .unwrap()
            .message
            .conversation_id;
        store
            .append_agent_message(emailed_reply(&proven_conv, "on its way", 1_100, 60_000))
            .await
            .unwrap();
        let grace_agent = new_agent(store, "bea@support.example", "Bea").await;
        store
            .mark_read(&grace_agent.id, &proven_conv, 1)
            .await
            .unwrap();
        store
            .close_conversation(&proven_conv, 1_200, &Default::default())
            .await
            .unwrap();
        store
            .rate_conversation(
                &proven_conv,
                &RatingRecord {
                    rating: 5,
                    comment: Some("quick".into()),
                    rated_at: 1_300,
                },
            )
            .await
            .unwrap();
        let claimed_conv = store
            .append_customer_message(say(&claiming, &id(), "it is me again", 2_000))
            .await
            .unwrap()
            .message
            .conversation_id;
        let grace_conv = store
            .append_customer_message(say(&grace_session, &id(), "grace says hello", 3_000))
            .await
            .unwrap()
            .message
            .conversation_id;
        let other_conv = store
            .append_customer_message(say(&other_session, &id(), "other app hello", 4_000))
            .await
            .unwrap()
            .message
            .conversation_id;

        // What the export reads: both of Ada's profiles in this app.
        let data = store
            .customer_data("demo", &CustomerMatch::Email(email.into()))
            .await
            .unwrap();
        let ids = |v: Vec<String>| v;
        assert_eq!(
            ids(data.customers.iter().map(|c| c.id.clone()).collect()),
            [proven.id.clone(), claimed.id.clone()]
        );
        let mut sessions = vec![trusted.id.clone(), claiming.id.clone()];
        sessions.sort();
        assert_eq!(
            ids(data.sessions.iter().map(|s| s.id.clone()).collect()),
            sessions,
            "same created_at: by id"
        );
        let stored = data.sessions.iter().find(|s| s.id == claiming.id).unwrap();
        assert_eq!(stored, &claiming);
        assert_eq!(
            ids(data.conversations.iter().map(|c| c.id.clone()).collect()),
            [proven_conv.clone(), claimed_conv.clone()]
        );
        assert_eq!(
            data.messages
                .iter()
                .map(|m| (m.body.as_str(), m.seq))
                .collect::<Vec<_>>(),
            [
                ("where is my parcel", 1),
                ("on its way", 2),
                ("it is me again", 1)
            ]
        );
        assert_eq!(data.conversations[0].rating.as_ref().unwrap().rating, 5);
        assert_eq!(data.agent_reads.len(), 1);
        assert_eq!(data.agent_reads[0].agent_id, grace_agent.id);
        assert_eq!(data.pending_emails.len(), 1);
        assert_eq!(data.pending_emails[0].conversation_id, proven_conv);
        assert_eq!(data.pending_emails[0].due_at, 60_000);
        // By phone and by id; nobody of another app; no match.
        let by_phone = store
            .customer_data("demo", &CustomerMatch::Phone("+14155550100".into()))
            .await
            .unwrap();
        assert_eq!(by_phone.customers.len(), 1);
        assert_eq!(by_phone.conversations.len(), 1);
        let by_session_phone = store
            .customer_data("demo", &CustomerMatch::Phone("+14155550188".into()))
            .await
            .unwrap();
        assert_eq!(by_session_phone.customers, std::slice::from_ref(&proven));
        let by_id = store
            .customer_data("demo", &CustomerMatch::Id(grace.id.clone()))
            .await
            .unwrap();
        assert_eq!(by_id.conversations[0].id, grace_conv);
        assert!(store
            .customer_data("other", &CustomerMatch::Id(proven.id.clone()))
            .await
            .unwrap()
            .customers
            .is_empty());
        assert!(store
            .customer_data("demo", &CustomerMatch::Email("nobody@example.com".into()))
            .await
            .unwrap()
            .customers
            .is_empty());

        // The webhook outbox loses the customer's deliveries, pending or
        // done: `customer.verified` is keyed by the customer, the other
        // events by the conversation. Grace's stays.
        let verified = NewDelivery {
            event_type: EventType::CustomerVerified,
            ..delivery(HOOK_A, &proven.id, 1_000)
        };
        let ada_message = delivery(HOOK_A, &claimed_conv, 1_001);
        let grace_message = delivery(HOOK_A, &grace_conv, 1_002);
        store
            .enqueue_webhook_deliveries(&[
                verified.clone(),
                ada_message.clone(),
                grace_message.clone(),
            ])
            .await
            .unwrap();
        // An export lists them: whom the customer's data went to.
        let before = store
            .customer_data("demo", &CustomerMatch::Email(email.into()))
            .await
            .unwrap();
        assert_eq!(
            before
                .webhook_deliveries
                .iter()
                .map(|d| d.id.as_str())
                .collect::<Vec<_>>(),
            [verified.id.as_str(), ada_message.id.as_str()]
        );

        let erased = store
            .erase_customers("demo", &CustomerMatch::Email(email.into()), &actor())
            .await
            .unwrap();
        assert_eq!(erased.customer_ids, [proven.id.clone(), claimed.id.clone()]);
        assert_eq!(erased.session_ids.len(), 2);
        assert_eq!(
            erased.conversation_ids,
            [proven_conv.clone(), claimed_conv.clone()]
        );
        assert_eq!(
            (
                erased.messages,
                erased.ratings,
                erased.pending_emails,
                erased.agent_reads
            ),
            (3, 1, 1, 1)
        );
        assert!(erased.wal_cleared);
        assert_eq!(erased.webhook_deliveries, 2);
        assert_eq!(
            webhook_ids(&db).await,
            std::slice::from_ref(&grace_message.id)
        );

        // Nothing of Ada is left in this app.
        for customer in [&proven, &claimed] {
            assert_eq!(store.customer(&customer.id).await.unwrap(), None);
        }
        for session in [&trusted, &claiming] {
            assert_eq!(store.session(&session.id).await.unwrap(), None);
            assert_eq!(
                store
                    .session_by_token_hash(&session.token_hash)
                    .await
                    .unwrap(),
                None
            );
        }
        for conversation in [&proven_conv, &claimed_conv] {
            assert_eq!(store.conversation(conversation).await.unwrap(), None);
            assert!(store
                .messages_after(conversation, 0, 10)
                .await
                .unwrap()
                .is_empty());
        }
        assert_eq!(store.next_email_due().await.unwrap(), None);
        assert_eq!(
            store
                .agent_read_seq(&grace_agent.id, &proven_conv)
                .await
                .unwrap(),
            0
        );
        assert!(store
            .customer_data("demo", &CustomerMatch::Email(email.into()))
            .await
            .unwrap()
            .customers
            .is_empty());
        // Everyone else is whole, and search finds only them.
        assert!(store.customer(&grace.id).await.unwrap().is_some());
        assert!(store.customer(&elsewhere.id).await.unwrap().is_some());
        assert_eq!(
            store
                .messages_after(&grace_conv, 0, 10)
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            store
                .messages_after(&other_conv, 0, 10)
                .await
                .unwrap()
                .len(),
            1
        );
        let search = |terms: &[&str]| SearchQuery {
            terms: terms.iter().map(|t| t.to_string()).collect(),
            apps: None,
            limit: 10,
        };
        let found = |views: Vec<trustchat_server::store::ConversationView>| {
            let mut ids: Vec<String> = views.into_iter().map(|v| v.conversation.id).collect();
            ids.sort();
            ids
        };
        let mut hello = vec![grace_conv.clone(), other_conv.clone()];
        hello.sort();
        assert_eq!(
            found(
                store
                    .conversation_views(ConversationFilter::Search(search(&["hello"])), NOW)
                    .await
                    .unwrap()
            ),
            hello
        );
        for gone in [&["parcel"][..], &["again"][..], &["+14155550100"][..]] {
            assert!(
                store
                    .conversation_views(ConversationFilter::Search(search(gone)), NOW)
                    .await
                    .unwrap()
                    .is_empty(),
                "{gone:?}"
            );
        }

        // One audit entry per profile, with counts and no data.
        let log = store.audit_log(Some("demo"), 10).await.unwrap();
        assert_eq!(log.len(), 2);
        for entry in &log {
            assert_eq!(entry.action, AuditAction::Erase);
            assert_eq!(entry.actor, "cli:test");
            assert_eq!(entry.at_ms, 9_000);
            assert!(entry.detail.contains("\"messages\":3"), "{}", entry.detail);
            assert!(!entry.detail.contains("ada"), "{}", entry.detail);
        }
        let mut audited: Vec<_> = log.iter().filter_map(|e| e.customer_id.clone()).collect();
        audited.sort();
        let mut want = vec![proven.id.clone(), claimed.id.clone()];
        want.sort();
        assert_eq!(audited, want);
        assert!(store.audit_log(Some("other"), 10).await.unwrap().is_empty());

        // Erasing again finds nobody, and logs nothing.
        let again = store
            .erase_customers("demo", &CustomerMatch::Email(email.into()), &actor())
            .await
            .unwrap();
        assert!(again.customer_ids.is_empty());
        assert_eq!(store.audit_log(None, 10).await.unwrap().len(), 2);
        // The customer can come back: a new profile with the email.
        store
            .insert_customer(&profile(None, Some(email), None))
            .await
            .unwrap();
        store.close().await;
    }
}

#[tokio::test]
async fn retention_purges_conversations_closed_before_the_cutoff_only() {
    for db in databases::fresh("privacy_retention").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        let customer = new_customer(store, None).await;
        let mut other_customer = profile(None, None, None);
        other_customer.app_id = "other".into();
        store.insert_customer(&other_customer).await.unwrap();
        let mut other_session = session_of(&other_customer, false);
        other_session.app_id = "other".into();
        store.insert_session(&other_session, &[]).await.unwrap();
        let agent = new_agent(store, "bea@support.example", "Bea").await;
        let agent_id = &agent.id;
        // A conversation of the session, two messages, read by the agent,
        // closed at `closed`.
        let closed_at = |session: SessionRecord, opened: i64, closed: Option<i64>| async move {
            let conversation = store
                .append_customer_message(say(&session, &id(), "old words", opened))
                .await
                .unwrap()
                .message
                .conversation_id;
            store
                .append_agent_message(reply(&conversation, None, "old answer", opened + 1))
                .await
                .unwrap();
            store.mark_read(agent_id, &conversation, 1).await.unwrap();
            if let Some(closed) = closed {
                store
                    .close_conversation(&conversation, closed, &Default::default())
                    .await
                    .unwrap();
            }
            conversation
        };
        let mut old = Vec::new();
        for at in [1_000, 1_100, 1_200] {
            let session = new_session(store, &customer, false).await;
            old.push(closed_at(session, at, Some(at + 500)).await);
        }
        let recent = closed_at(
            new_session(store, &customer, false).await,
            1_300,
            Some(9_000),
        )
        .await;
        let open = closed_at(new_session(store, &customer, false).await, 100, None).await;
        let elsewhere = closed_at(other_session.clone(), 1_000, Some(1_500)).await;

        // Batches: at most `limit` at a time, until none is left.
        let first = store
            .purge_closed_conversations("demo", 5_000, 2)
            .await
            .unwrap();
        assert_eq!((first.conversations, first.messages), (2, 4));
        let second = store
            .purge_closed_conversations("demo", 5_000, 2)
            .await
            .unwrap();
        assert_eq!((second.conversations, second.messages), (1, 2));
        let none = store
            .purge_closed_conversations("demo", 5_000, 2)
            .await
            .unwrap();
        assert_eq!(none.conversations, 0);
        for conversation in &old {
            assert_eq!(store.conversation(conversation).await.unwrap(), None);
            assert!(store
                .messages_after(conversation, 0, 10)
                .await
                .unwrap()
                .is_empty());
            assert_eq!(
                store.agent_read_seq(&agent.id, conversation).await.unwrap(),
                0
            );
        }
        for kept in [&recent, &open, &elsewhere] {
            assert!(store.conversation(kept).await.unwrap().is_some());
            assert_eq!(store.messages_after(kept, 0, 10).await.unwrap().len(), 2);
        }
        // The profile and sessions stay: retention is about conversations.
        assert!(store.customer(&customer.id).await.unwrap().is_some());
        // Search forgets the purged messages' words.
        let views = store
            .conversation_views(
                ConversationFilter::Search(SearchQuery {
                    terms: vec!["old".into()],
                    apps: Some(vec!["demo".into()]),
                    limit: 10,
                }),
                NOW,
            )
            .await
            .unwrap();
        let mut found: Vec<String> = views.into_iter().map(|v| v.conversation.id).collect();
        found.sort();
        let mut want = vec![recent.clone(), open.clone()];
        want.sort();
        assert_eq!(found, want);

        // The audit log takes an entry without a customer.
        let entry = AuditRecord {
            at_ms: 10_000,
            action: AuditAction::Retention,
            app_id: "demo".into(),
            customer_id: None,
            actor: "retention".into(),
            detail: "{\"conversations\":3}".into(),
        };
        store.record_audit(&entry).await.unwrap();
        assert_eq!(store.audit_log(None, 10).await.unwrap(), [entry]);
        store.close().await;
    }
}

/// Two stores on `db`, their pools warmed up.
async fn two_servers(db: &databases::TestDatabase) -> [Arc<dyn Store>; 2] {
    let servers = [db.store().await, db.store().await];
    for server in &servers {
        let pings = (0..databases::TEST_POOL).map(|_| {
            let server = Arc::clone(server);
            tokio::spawn(async move { server.ping().await })
        });
        for ping in pings.collect::<Vec<_>>() {
            ping.await.unwrap().unwrap();
        }
    }
    servers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_senders_through_two_servers_get_seqs_one_to_fifty() {
    for db in databases::fresh("fifty_senders").await {
        eprintln!("on {}", db.backend);
        let servers = two_servers(&db).await;
        let customer = new_customer(servers[0].as_ref(), None).await;
        let session = new_session(servers[0].as_ref(), &customer, false).await;
        // All at once, the first ones racing to open the conversation.
        let start = Arc::new(tokio::sync::Barrier::new(50));
        let sends: Vec<_> = (0..50)
            .map(|n| {
                let store = Arc::clone(&servers[n % 2]);
                let message = say(
                    &session,
                    &format!("m{n:02}"),
                    &format!("message {n}"),
                    1_000 + n as i64,
                );
                let start = Arc::clone(&start);
                tokio::spawn(async move {
                    start.wait().await;
                    store.append_customer_message(message).await
                })
            })
            .collect();
        let mut appended = Vec::new();
        for send in sends {
            appended.push(send.await.unwrap().unwrap());
        }
        let conversation_id = appended[0].message.conversation_id.clone();
        assert!(
            appended
                .iter()
                .all(|a| a.message.conversation_id == conversation_id),
            "one conversation"
        );
        assert_eq!(
            appended.iter().filter(|a| a.opened).count(),
            1,
            "opened once"
        );
        let mut acknowledged: Vec<_> = appended.iter().map(|a| a.message.seq).collect();
        acknowledged.sort();
        assert_eq!(acknowledged, (1..=50).collect::<Vec<_>>());

        let stored = servers[1]
            .messages_after(&conversation_id, 0, 100)
            .await
            .unwrap();
        assert_eq!(seqs(&stored), (1..=50).collect::<Vec<_>>());
        let client_ids: BTreeSet<_> = stored.iter().filter_map(|m| m.client_id.clone()).collect();
        assert_eq!(client_ids.len(), 50, "each client_id stored once");
        let conversation = servers[0]
            .conversation(&conversation_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(conversation.last_seq, 50);
        for server in servers {
            server.close().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_from_many_customers_keeps_every_conversation_whole_and_refuses_only_a_stolen_client_id(
) {
    for db in databases::fresh("a_burst_from_many").await {
        eprintln!("on {}", db.backend);
        let servers = two_servers(&db).await;
        // Forty customers with two sessions each; one client_id of each
        // customer's first session is sent again by its second session.
        let mut sessions = Vec::new();
        for _ in 0..40 {
            let customer = new_customer(servers[0].as_ref(), None).await;
            let first = new_session(servers[0].as_ref(), &customer, false).await;
            let second = new_session(servers[0].as_ref(), &customer, false).await;
            servers[0]
                .append_customer_message(say(&first, "shared", "mine", 999))
                .await
                .unwrap();
            sessions.push((first, second));
        }
        let start = Arc::new(tokio::sync::Barrier::new(40 * 11));
        let mut sends = Vec::new();
        for (n, (first, second)) in sessions.iter().enumerate() {
            for k in 0..11 {
                let (session, client_id) = match k {
                    0 => (second, "shared".to_owned()),
                    k if k % 2 == 0 => (first, format!("f{k}")),
                    k => (second, format!("s{k}")),
                };
                let message = say(session, &client_id, &format!("{n}/{k}"), 1_000 + k);
                let store = Arc::clone(&servers[(n + k as usize) % 2]);
                let start = Arc::clone(&start);
                sends.push(tokio::spawn(async move {
                    start.wait().await;
                    (client_id, store.append_customer_message(message).await)
                }));
            }
        }
        let mut stored = Vec::new();
        for send in sends {
            match send.await.unwrap() {
                (client_id, result) if client_id == "shared" => {
                    assert_eq!(taken(result), UniqueKey::ClientId);
                }
                (_, result) => stored.push(result.unwrap()),
            }
        }
        assert_eq!(stored.len(), 40 * 10);
        assert!(stored.iter().all(|a| a.created));
        // Each session's conversation holds its messages once, seqs 1..=n.
        for (first, second) in &sessions {
            for (session, count) in [(first, 6), (second, 5)] {
                let conversation = servers[1]
                    .current_conversation(&reader(session))
                    .await
                    .unwrap()
                    .expect("a conversation");
                let messages = servers[1]
                    .messages_after(&conversation.id, 0, 100)
                    .await
                    .unwrap();
                assert_eq!(seqs(&messages), (1..=count).collect::<Vec<_>>());
                assert!(messages
                    .iter()
                    .all(|m| m.session_id.as_deref() == Some(session.id.as_str())));
            }
        }
        // Read back by place, as another server's relay does.
        let places: Vec<(String, i64)> = stored
            .iter()
            .map(|a| (a.message.conversation_id.clone(), a.message.seq))
            .chain([("no-such-conversation".to_owned(), 1)])
            .collect();
        let mut found = servers[1].messages_at(&places).await.unwrap();
        let mut expected: Vec<_> = stored.iter().map(|a| a.message.clone()).collect();
        found.sort_by(|a, b| a.id.cmp(&b.id));
        expected.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(found, expected);
        for server in servers {
            server.close().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_resends_store_one_message() {
    for db in databases::fresh("twenty_resends").await {
        eprintln!("on {}", db.backend);
        let servers = two_servers(&db).await;
        let customer = new_customer(servers[0].as_ref(), None).await;
        let session = new_session(servers[0].as_ref(), &customer, false).await;
        let message = say(&session, "the-one", "hello", 1_000);
        let start = Arc::new(tokio::sync::Barrier::new(20));
        let sends: Vec<_> = (0..20)
            .map(|n| {
                let store = Arc::clone(&servers[n % 2]);
                let mut message = message.clone();
                message.id = id();
                let start = Arc::clone(&start);
                tokio::spawn(async move {
                    start.wait().await;
                    store.append_customer_message(message).await
                })
            })
            .collect();
        let mut appended = Vec::new();
        for send in sends {
            appended.push(send.await.unwrap().unwrap());
        }
        assert_eq!(appended.iter().filter(|a| a.created).count(), 1);
        let first = appended.iter().find(|a| a.created).unwrap().message.clone();
        assert!(
            appended.iter().all(|a| a.message == first),
            "all answered with it"
        );
        let stored = servers[1]
            .messages_after(&first.conversation_id, 0, 100)
            .await
            .unwrap();
        assert_eq!(stored, vec![first]);
        for server in servers {
            server.close().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_trusted_sessions_opening_at_once_share_one_proven_conversation() {
    for db in databases::fresh("two_trusted_sessions").await {
        eprintln!("on {}", db.backend);
        let servers = two_servers(&db).await;
        // Ten customers, each with a phone and a laptop sending their first
        // message at the same moment through different servers.
        let mut races = Vec::new();
        for n in 0..10 {
            let customer = new_customer(servers[0].as_ref(), Some(&format!("u-{n}"))).await;
            let phone = new_session(servers[0].as_ref(), &customer, true).await;
            let laptop = new_session(servers[0].as_ref(), &customer, true).await;
            let (a, b) = (Arc::clone(&servers[0]), Arc::clone(&servers[1]));
            let (from_phone, from_laptop) = (
                say(&phone, "p", "phone", 1_000),
                say(&laptop, "l", "laptop", 1_000),
            );
            let start = Arc::new(tokio::sync::Barrier::new(2));
            let start_too = Arc::clone(&start);
            races.push((
                customer,
                tokio::spawn(async move {
                    start.wait().await;
                    a.append_customer_message(from_phone).await
                }),
                tokio::spawn(async move {
                    start_too.wait().await;
                    b.append_customer_message(from_laptop).await
                }),
            ));
        }
        for (customer, phone, laptop) in races {
            let (phone, laptop) = (
                phone.await.unwrap().unwrap(),
                laptop.await.unwrap().unwrap(),
            );
            assert_eq!(
                phone.message.conversation_id,
                laptop.message.conversation_id
            );
            assert!(phone.proven && laptop.proven);
            assert_eq!(
                u8::from(phone.opened) + u8::from(laptop.opened),
                1,
                "opened once"
            );
            let mut got = [phone.message.seq, laptop.message.seq];
            got.sort();
            assert_eq!(got, [1, 2]);
            let views = servers[1]
                .conversation_views(ConversationFilter::Customer(customer.id.clone()), NOW)
                .await
                .unwrap();
            assert_eq!(views.len(), 1, "one conversation for {}", customer.id);
            assert_eq!(views[0].conversation.last_seq, 2);
        }
        for server in servers {
            server.close().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn servers_claiming_emails_at_once_each_take_different_ones() {
    for db in databases::fresh("email_claims").await {
        eprintln!("on {}", db.backend);
        let servers = two_servers(&db).await;
        let store = servers[0].as_ref();
        let mut conversations = BTreeSet::new();
        for n in 0..20 {
            let customer = new_customer(store, None).await;
            let session = new_session(store, &customer, false).await;
            let conversation = store
                .append_customer_message(say(&session, &id(), "hi", 1_000))
                .await
                .unwrap()
                .message
                .conversation_id;
            store
                .append_agent_message(emailed_reply(&conversation, "answer", 2_000, 10_000 + n))
                .await
                .unwrap();
            conversations.insert(conversation);
        }
        // Two workers per server, all at once, until nothing is due.
        let start = Arc::new(tokio::sync::Barrier::new(4));
        let workers: Vec<_> = (0..4)
            .map(|n| {
                let store = Arc::clone(&servers[n % 2]);
                let start = Arc::clone(&start);
                tokio::spawn(async move {
                    start.wait().await;
                    let mut claimed = Vec::new();
                    while let Some(claim) = store.claim_due_email(20_000, 999_000).await.unwrap() {
                        claimed.push(claim.conversation.id);
                    }
                    claimed
                })
            })
            .collect();
        let mut claimed = Vec::new();
        for worker in workers {
            claimed.extend(worker.await.unwrap());
        }
        let unique: BTreeSet<String> = claimed.iter().cloned().collect();
        assert_eq!(claimed.len(), unique.len(), "claimed twice: {claimed:?}");
        assert_eq!(unique, conversations, "every due email claimed");
        for server in servers {
            server.close().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_single_use_token_id_is_new_to_exactly_one_of_many_servers() {
    for db in databases::fresh("single_use_concurrent").await {
        eprintln!("on {}", db.backend);
        let servers = two_servers(&db).await;
        let start = Arc::new(tokio::sync::Barrier::new(20));
        let tries: Vec<_> = (0..20)
            .map(|n| {
                let store = Arc::clone(&servers[n % 2]);
                let start = Arc::clone(&start);
                tokio::spawn(async move {
                    start.wait().await;
                    store.remember_jti("demo", "once", 1_000, 10).await
                })
            })
            .collect();
        let mut new = 0;
        for attempt in tries {
            new += u32::from(attempt.await.unwrap().unwrap());
        }
        assert_eq!(new, 1);
        for server in servers {
            server.close().await;
        }
    }
}

/// One routing decision as the console makes it: under the lock, the
/// oldest queued conversation to the least loaded agent (ties: lowest id).
async fn route_one(store: &dyn Store, agents: &[String]) -> Option<(String, String)> {
    let _routing = store.routing_lock().await.unwrap();
    let first = store
        .queued_conversations()
        .await
        .unwrap()
        .into_iter()
        .next()?;
    let counts: HashMap<String, i64> = store
        .open_conversation_counts()
        .await
        .unwrap()
        .into_iter()
        .collect();
    let agent = agents
        .iter()
        .min_by_key(|a| (counts.get(*a).copied().unwrap_or(0), (*a).clone()))
        .unwrap();
    store
        .assign_conversation(&first.id, Some(agent), 10_000)
        .await
        .unwrap()
        .unwrap();
    Some((first.id, agent.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn routing_from_two_servers_at_once_assigns_each_conversation_once_and_balances() {
    for db in databases::fresh("routing_from_two_servers").await {
        eprintln!("on {}", db.backend);
        let [first, other] = two_servers(&db).await;
        // SQLite has one server: its lock is that server's. Postgres's is
        // the database's, so the second server is a store of its own.
        let second = if db.is_postgres() {
            other
        } else {
            other.close().await;
            Arc::clone(&first)
        };
        let mut agents = Vec::new();
        for n in 0..4 {
            agents.push(
                new_agent(
                    first.as_ref(),
                    &format!("agent{n}@x.io"),
                    &format!("Agent {n}"),
                )
                .await
                .id,
            );
        }
        let customer = new_customer(first.as_ref(), None).await;
        for n in 0..40 {
            let session = new_session(first.as_ref(), &customer, false).await;
            first
                .append_customer_message(say(&session, &format!("c{n}"), "help", 1_000 + n))
                .await
                .unwrap();
        }
        let routers = [Arc::clone(&first), Arc::clone(&second)].map(|store| {
            let agents = agents.clone();
            tokio::spawn(async move {
                let mut decisions = Vec::new();
                while let Some(decision) = route_one(store.as_ref(), &agents).await {
                    decisions.push(decision);
                }
                decisions
            })
        });
        let mut decisions = Vec::new();
        for router in routers {
            decisions.extend(router.await.unwrap());
        }
        let conversations: BTreeSet<_> = decisions.iter().map(|(c, _)| c.clone()).collect();
        assert_eq!(decisions.len(), 40, "no conversation assigned twice");
        assert_eq!(conversations.len(), 40);
        let counts: HashMap<_, _> = first
            .open_conversation_counts()
            .await
            .unwrap()
            .into_iter()
            .collect();
        for agent in &agents {
            assert_eq!(counts.get(agent), Some(&10), "balanced: {counts:?}");
        }
        first.close().await;
        second.close().await;
    }
}

#[tokio::test]
async fn routing_locks_of_two_servers_exclude_each_other_and_drop_releases() {
    for db in databases::fresh("routing_locks_exclude").await {
        eprintln!("on {}", db.backend);
        let first = db.store().await;
        let second = if db.is_postgres() {
            db.store().await
        } else {
            Arc::clone(&first)
        };
        let held = first.routing_lock().await.unwrap();
        let waiter = {
            let second = Arc::clone(&second);
            tokio::spawn(async move {
                let guard = second.routing_lock().await.unwrap();
                (Instant::now(), guard)
            })
        };
        if db.is_postgres() {
            // The second server waits in the database, for the lock.
            wait_for_advisory_lock_waiter(&db.url).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!waiter.is_finished(), "the second lock waits for the first");
        let released = Instant::now();
        drop(held);
        let (acquired, guard) = tokio::time::timeout(PATIENCE, waiter)
            .await
            .expect("the second lock is taken once the first guard is dropped")
            .unwrap();
        assert!(
            acquired.duration_since(released) < Duration::from_secs(1),
            "released promptly: {:?}",
            acquired.duration_since(released)
        );
        drop(guard);
        // And the lock is free again for the first server.
        tokio::time::timeout(PATIENCE, first.routing_lock())
            .await
            .expect("free again")
            .unwrap();
        first.close().await;
        second.close().await;
    }
}

/// Polls `pg_locks` until a session waits for an advisory lock.
async fn wait_for_advisory_lock_waiter(url: &str) {
    use sqlx::Connection as _;
    let mut conn = sqlx::postgres::PgConnection::connect(url).await.unwrap();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let waiting: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if waiting {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "nobody waits for the routing lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn servers_starting_at_once_migrate_a_fresh_postgres_database_once() {
    let Some(db) = databases::postgres("migrate_at_once").await else {
        eprintln!("{} is not set: skipped, it needs Postgres", databases::ENV);
        return;
    };
    let runs = (0..4).map(|_| {
        let url = db.url.clone();
        tokio::spawn(async move { trustchat_server::store::migrate(&url).await })
    });
    let mut applied = Vec::new();
    for run in runs {
        applied.push(
            run.await
                .unwrap()
                .expect("every concurrent migration succeeds"),
        );
    }
    applied.sort();
    // Every migration of the directory, numbered from 1.
    let all: Vec<i64> =
        (1..=std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "sql")
            })
            .count() as i64)
            .collect();
    assert!(all.len() >= 10);
    assert_eq!(
        applied,
        [vec![], vec![], vec![], all],
        "applied once, all by one server"
    );
    // And two servers at once on the migrated database.
    let (a, b) = tokio::join!(db.store(), db.store());
    a.ping().await.unwrap();
    b.ping().await.unwrap();
    a.close().await;
    b.close().await;
}

// Webhooks (issue 15): the outbox the store fills in the events' own
// transactions, and the worker's claims.

const HOOK_A: &str = "https://a.example/hooks";
const HOOK_B: &str = "https://b.example/hooks";

/// Webhook A takes every event; B only `message.created`.
fn two_webhooks() -> Webhooks {
    Webhooks(vec![
        WebhookSubscription {
            url: HOOK_A.into(),
            events: EventType::ALL.to_vec(),
        },
        WebhookSubscription {
            url: HOOK_B.into(),
            events: vec![EventType::MessageCreated],
        },
    ])
}

/// The app's outbox, oldest first, as (url, event type, order key).
async fn outbox(store: &dyn Store, app: &str) -> Vec<DeliveryRecord> {
    let mut listed = store.webhook_deliveries(app, 1_000).await.unwrap();
    listed.reverse();
    listed
}

fn kinds(listed: &[DeliveryRecord]) -> Vec<(&str, &str)> {
    listed
        .iter()
        .map(|d| (d.url.as_str(), d.event_type.as_str()))
        .collect()
}

#[tokio::test]
async fn events_enqueue_their_webhook_deliveries_with_them() {
    for db in databases::fresh("webhook_events").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        let hooks = two_webhooks();
        let customer = new_customer(store, None).await;
        let session = new_session(store, &customer, false).await;

        // Without webhooks, nothing.
        let mut quiet = say(&session, &id(), "no hooks", 500);
        quiet.app_id = "other".into();
        store.append_customer_message(quiet).await.unwrap();
        assert!(outbox(store, "other").await.is_empty());
        assert!(outbox(store, "demo").await.is_empty());
        let conversation = store
            .current_conversation(&reader(&session))
            .await
            .unwrap()
            .unwrap();
        store
            .close_conversation(&conversation.id, 600, &Webhooks::NONE)
            .await
            .unwrap();

        // A first message: the conversation, then the message (to both).
        let mut first = say(&session, "c-1", "hello", 1_000);
        first.webhooks = hooks.clone();
        let opened = store.append_customer_message(first.clone()).await.unwrap();
        let conversation = opened.message.conversation_id.clone();
        let listed = outbox(store, "demo").await;
        assert_eq!(
            kinds(&listed),
            [
                (HOOK_A, "conversation.created"),
                (HOOK_A, "message.created"),
                (HOOK_B, "message.created"),
            ]
        );
        for d in &listed {
            assert_eq!(d.order_key, conversation);
            assert_eq!(d.status, DeliveryStatus::Pending);
            assert_eq!(
                (d.attempts, d.created_at, d.next_attempt_at),
                (0, 1_000, 1_000)
            );
            assert_eq!(d.app_id, "demo");
        }
        assert!(listed[0].seq < listed[1].seq && listed[1].seq < listed[2].seq);
        assert_eq!(listed[1].event_id, listed[2].event_id);
        assert_ne!(listed[1].id, listed[2].id);
        assert_eq!(listed[1].payload, listed[2].payload);
        let body: serde_json::Value = serde_json::from_str(&listed[1].payload).unwrap();
        assert_eq!(body["type"], "message.created");
        assert_eq!(body["id"], listed[1].event_id.as_str());
        assert_eq!(body["data"]["message"]["id"], opened.message.id.as_str());
        assert_eq!(body["data"]["message"]["seq"], 1);
        assert_eq!(body["data"]["message"]["trusted"], false);
        assert_eq!(body["data"]["customer_id"], customer.id.as_str());
        let created: serde_json::Value = serde_json::from_str(&listed[0].payload).unwrap();
        assert_eq!(created["data"]["conversation"]["id"], conversation.as_str());
        assert_eq!(created["data"]["conversation"]["status"], "open");

        // A resend stores nothing, so announces nothing.
        let resent = store.append_customer_message(first).await.unwrap();
        assert!(!resent.created);
        assert_eq!(outbox(store, "demo").await.len(), 3);

        // An agent's reply; then the close, to A only.
        let mut answer = reply(&conversation, None, "hi!", 2_000);
        answer.webhooks = hooks.clone();
        store.append_agent_message(answer).await.unwrap().unwrap();
        store
            .close_conversation(&conversation, 3_000, &hooks)
            .await
            .unwrap()
            .unwrap();
        // Closing again closes nothing and announces nothing.
        assert_eq!(
            store
                .close_conversation(&conversation, 3_001, &hooks)
                .await
                .unwrap(),
            None
        );
        let listed = outbox(store, "demo").await;
        assert_eq!(
            kinds(&listed[3..]),
            [
                (HOOK_A, "message.created"),
                (HOOK_B, "message.created"),
                (HOOK_A, "conversation.closed"),
            ]
        );
        let closed: serde_json::Value = serde_json::from_str(&listed[5].payload).unwrap();
        assert_eq!(closed["data"]["conversation"]["closed_at"], 3_000);
        assert_eq!(listed[5].created_at, 3_000);

        // A session's proof comes with the session, and with its update.
        let ada = new_customer(store, Some("u-ada")).await;
        let phone = session_of(&ada, true);
        let verified = NewDelivery {
            id: id(),
            event_id: id(),
            app_id: "demo".into(),
            url: HOOK_A.into(),
            event_type: EventType::CustomerVerified,
            order_key: ada.id.clone(),
            payload: "{\"type\":\"customer.verified\"}".into(),
            created_at: 4_000,
        };
        store
            .insert_session(&phone, std::slice::from_ref(&verified))
            .await
            .unwrap();
        let mut laptop = new_session(store, &ada, false).await;
        let typed = store
            .append_customer_message(say(&laptop, "l-1", "on my laptop", 4_100))
            .await
            .unwrap();
        let proven = store
            .append_customer_message(say(&phone, "p-1", "on my phone", 4_200))
            .await
            .unwrap();
        laptop.trusted = true;
        laptop.trusted_until = Some(NOW + 600);
        laptop.sub = Some("u-ada".into());
        let again = NewDelivery {
            id: id(),
            created_at: 5_000,
            ..verified.clone()
        };
        store
            .update_session_identity(&laptop, std::slice::from_ref(&again))
            .await
            .unwrap();
        // The login proves the laptop's conversation and closes the
        // phone's: its close is announced with the link.
        let linked = store
            .link_session_conversations(&laptop.id, &ada.id, true, 5_000, &hooks)
            .await
            .unwrap();
        assert_eq!(
            linked.closed.map(|c| c.id),
            Some(proven.message.conversation_id.clone())
        );
        let listed = outbox(store, "demo").await;
        assert_eq!(
            kinds(&listed[6..]),
            [
                (HOOK_A, "customer.verified"),
                (HOOK_A, "customer.verified"),
                (HOOK_A, "conversation.closed"),
            ]
        );
        assert_eq!(listed[6].id, verified.id);
        assert_eq!(listed[6].payload, verified.payload);
        assert_eq!(listed[7].id, again.id);
        assert_eq!(listed[8].order_key, proven.message.conversation_id);
        assert_ne!(listed[8].order_key, typed.message.conversation_id);

        // The newest first, at most `limit`.
        let newest = store.webhook_deliveries("demo", 2).await.unwrap();
        assert_eq!(
            newest.iter().map(|d| d.seq).collect::<Vec<_>>(),
            [listed[8].seq, listed[7].seq]
        );
        assert_eq!(
            store.webhook_delivery_counts().await.unwrap(),
            WebhookCounts {
                pending: 9,
                delivered: 0,
                failed: 0
            }
        );
        store.close().await;
    }
}

/// A delivery of `key` to `url` at `at`.
fn delivery(url: &str, key: &str, at: i64) -> NewDelivery {
    NewDelivery {
        id: id(),
        event_id: id(),
        app_id: "demo".into(),
        url: url.into(),
        event_type: EventType::MessageCreated,
        order_key: key.into(),
        payload: format!("{{\"key\":\"{key}\",\"at\":{at}}}"),
        created_at: at,
    }
}

fn done(status: DeliveryStatus, at: i64, next: Option<i64>, http: Option<i64>) -> DeliveryDone {
    DeliveryDone {
        at,
        status,
        next_attempt_at: next,
        http_status: http,
        error: (status != DeliveryStatus::Delivered).then(|| format!("HTTP {http:?}")),
    }
}

#[tokio::test]
async fn webhook_claims_keep_each_keys_order_and_end_delivered_retried_or_failed() {
    for db in databases::fresh("webhook_claims").await {
        eprintln!("on {}", db.backend);
        let store = db.store().await;
        let store = store.as_ref();
        let a1 = delivery(HOOK_A, "k", 1_000);
        let a2 = delivery(HOOK_A, "k", 1_001);
        let a3 = delivery(HOOK_A, "k", 1_002);
        let b1 = delivery(HOOK_A, "other", 1_003);
        // Another webhook with the same key is ordered on its own.
        let c1 = delivery(HOOK_B, "k", 1_004);
        store
            .enqueue_webhook_deliveries(&[
                a1.clone(),
                a2.clone(),
                a3.clone(),
                b1.clone(),
                c1.clone(),
            ])
            .await
            .unwrap();
        assert_eq!(store.next_webhook_due().await.unwrap(), Some(1_000));
        assert_eq!(
            store.claim_webhook_delivery(999, 9_000).await.unwrap(),
            None
        );

        // One per key at a time, the first by due time.
        let mut claimed = Vec::new();
        while let Some(claim) = store.claim_webhook_delivery(2_000, 9_000).await.unwrap() {
            assert_eq!(claim.lease_until, 9_000);
            assert_eq!(claim.delivery.attempts, 1);
            assert_eq!(claim.delivery.next_attempt_at, 9_000);
            claimed.push(claim);
        }
        let ids: Vec<&str> = claimed.iter().map(|c| c.delivery.id.as_str()).collect();
        assert_eq!(ids, [a1.id.as_str(), b1.id.as_str(), c1.id.as_str()]);
        assert_eq!(claimed[0].delivery.payload, a1.payload);
        // a2 waits behind a1; the claimed ones are due at their lease's end.
        assert_eq!(store.next_webhook_due().await.unwrap(), Some(9_000));

        // A failure: a1 is retried at 20,000, and a2 and a3 wait for it.
        assert!(store
            .finish_webhook_delivery(
                claimed[0].delivery.seq,
                9_000,
                &done(DeliveryStatus::Pending, 2_500, Some(20_000), Some(500)),
            )
            .await
            .unwrap());
        // b1 delivered; c1's claim runs out (its server stopped).
        assert!(store
            .finish_webhook_delivery(
                claimed[1].delivery.seq,
                9_000,
                &done(DeliveryStatus::Delivered, 2_600, None, Some(204)),
            )
            .await
            .unwrap());
        assert_eq!(
            store.claim_webhook_delivery(8_999, 30_000).await.unwrap(),
            None
        );
        let c1_again = store
            .claim_webhook_delivery(9_000, 30_000)
            .await
            .unwrap()
            .expect("the lease ran out");
        assert_eq!(
            (c1_again.delivery.id.as_str(), c1_again.delivery.attempts),
            (c1.id.as_str(), 2)
        );
        // The old claim no longer records anything.
        assert!(!store
            .finish_webhook_delivery(
                claimed[2].delivery.seq,
                9_000,
                &done(DeliveryStatus::Delivered, 9_100, None, Some(200)),
            )
            .await
            .unwrap());
        assert!(store
            .finish_webhook_delivery(
                c1_again.delivery.seq,
                30_000,
                &done(DeliveryStatus::Delivered, 9_200, None, Some(200)),
            )
            .await
            .unwrap());

        assert_eq!(store.next_webhook_due().await.unwrap(), Some(20_000));
        assert_eq!(
            store.claim_webhook_delivery(19_999, 50_000).await.unwrap(),
            None
        );
        let a1_again = store
            .claim_webhook_delivery(20_000, 50_000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (a1_again.delivery.id.as_str(), a1_again.delivery.attempts),
            (a1.id.as_str(), 2)
        );
        assert_eq!(a1_again.delivery.last_status, Some(500));
        // Given up: a2 goes.
        assert!(store
            .finish_webhook_delivery(
                a1_again.delivery.seq,
                50_000,
                &done(DeliveryStatus::Failed, 20_100, None, None),
            )
            .await
            .unwrap());
        let a2_claim = store
            .claim_webhook_delivery(20_200, 60_000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(a2_claim.delivery.id, a2.id);
        assert!(store
            .finish_webhook_delivery(
                a2_claim.delivery.seq,
                60_000,
                &done(DeliveryStatus::Delivered, 20_300, None, Some(200)),
            )
            .await
            .unwrap());

        let listed = outbox(store, "demo").await;
        let by_id = |id: &str| listed.iter().find(|d| d.id == id).unwrap().clone();
        let failed = by_id(&a1.id);
        assert_eq!(failed.status, DeliveryStatus::Failed);
        assert_eq!((failed.attempts, failed.last_attempt_at), (2, Some(20_100)));
        assert_eq!(failed.last_error.as_deref(), Some("HTTP None"));
        assert_eq!(failed.delivered_at, None);
        let delivered = by_id(&b1.id);
        assert_eq!(delivered.status, DeliveryStatus::Delivered);
        assert_eq!(
            (
                delivered.delivered_at,
                delivered.last_status,
                delivered.last_error
            ),
            (Some(2_600), Some(204), None)
        );
        assert_eq!(by_id(&a3.id).status, DeliveryStatus::Pending);
        assert_eq!(
            store.webhook_delivery_counts().await.unwrap(),
            WebhookCounts {
                pending: 1,
                delivered: 3,
                failed: 1
            }
        );

        // Pruning takes what is done, before the time, and never what is pending.
        assert_eq!(store.prune_webhook_deliveries(1_002).await.unwrap(), 2);
        let left: Vec<String> = outbox(store, "demo")
            .await
            .into_iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(left, [a3.id.clone(), b1.id.clone(), c1.id.clone()]);
        assert_eq!(store.prune_webhook_deliveries(i64::MAX).await.unwrap(), 2);
        assert_eq!(
            store.webhook_delivery_counts().await.unwrap(),
            WebhookCounts {
                pending: 1,
                delivered: 0,
                failed: 0
            }
        );
        assert!(store
            .webhook_deliveries("other", 10)
            .await
            .unwrap()
            .is_empty());
        store.close().await;
    }
}

/// Of one key: the delivery in flight, and the last one done (indexes).
type InFlight = (Option<usize>, Option<usize>);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn servers_claiming_webhook_deliveries_at_once_take_each_once_in_order() {
    for db in databases::fresh("webhook_concurrent").await {
        eprintln!("on {}", db.backend);
        let servers = two_servers(&db).await;
        // Eight conversations of six deliveries each, interleaved.
        let mut all = Vec::new();
        for n in 0..6 {
            for key in 0..8 {
                all.push(delivery(HOOK_A, &format!("conversation-{key}"), 1_000 + n));
            }
        }
        servers[0].enqueue_webhook_deliveries(&all).await.unwrap();
        let order: HashMap<String, (String, usize)> = all
            .iter()
            .enumerate()
            .map(|(i, d)| (d.id.clone(), (d.order_key.clone(), i)))
            .collect();
        let order = Arc::new(order);
        // Per key: the delivery in flight, and the last one done.
        let state: Arc<std::sync::Mutex<HashMap<String, InFlight>>> = Arc::default();
        let start = Arc::new(tokio::sync::Barrier::new(4));
        let workers: Vec<_> = (0..4)
            .map(|n| {
                let store = Arc::clone(&servers[n % 2]);
                let start = Arc::clone(&start);
                let order = Arc::clone(&order);
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    start.wait().await;
                    let mut done_here = Vec::new();
                    let deadline = Instant::now() + PATIENCE;
                    loop {
                        let Some(claim) =
                            store.claim_webhook_delivery(5_000, 999_000).await.unwrap()
                        else {
                            if store.next_webhook_due().await.unwrap().is_none() {
                                break;
                            }
                            assert!(Instant::now() < deadline, "stuck");
                            tokio::task::yield_now().await;
                            continue;
                        };
                        let (key, index) = order[&claim.delivery.id].clone();
                        {
                            let mut state = state.lock().unwrap();
                            let entry = state.entry(key.clone()).or_default();
                            assert_eq!(entry.0, None, "two deliveries of {key} at once");
                            assert!(
                                entry.1.is_none_or(|last| last < index),
                                "{key}: {index} after {:?}",
                                entry.1
                            );
                            entry.0 = Some(index);
                        }
                        tokio::task::yield_now().await;
                        // Marked done before the outcome commits: a claim
                        // of the next can only come after that commit.
                        {
                            let mut state = state.lock().unwrap();
                            let entry = state.get_mut(&key).unwrap();
                            *entry = (None, Some(index));
                        }
                        assert!(store
                            .finish_webhook_delivery(
                                claim.delivery.seq,
                                claim.lease_until,
                                &done(DeliveryStatus::Delivered, 6_000, None, Some(200)),
                            )
                            .await
                            .unwrap());
                        done_here.push(index);
                    }
                    done_here
                })
            })
            .collect();
        let mut delivered = Vec::new();
        for worker in workers {
            delivered.extend(worker.await.unwrap());
        }
        delivered.sort_unstable();
        assert_eq!(delivered, (0..all.len()).collect::<Vec<_>>(), "each once");
        for server in servers {
            server.close().await;
        }
    }
}
