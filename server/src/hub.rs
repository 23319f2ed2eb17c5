//! [`Hub`]: who is listening for which conversation's frames, and the
//! fan-out of every new message and status change to them.
//!
//! Each subscriber (one WebSocket connection) gets a bounded channel of
//! [`SUBSCRIBER_BUFFER`] frames. Publishing never waits: a frame goes into
//! every buffer with `try_send`, and a subscriber whose buffer is full is
//! dropped on the spot with [`CloseReason::Lagged`]; its connection closes
//! with the "resync" code and the client fetches what it missed over HTTP.
//! So a slow or stalled client can never hold up the sender or anybody else.
//!
//! A customer connection hears a conversation's frames by the same rule by
//! which its session reads the conversation ([`crate::store::Reader`]): the
//! conversation's [`Audience`] is the session that started it, and, when
//! the conversation is proven, every connection of its customer whose
//! session is trusted at the moment of publishing. Nobody else: a session
//! that merely claimed an email hears nothing of that profile's
//! conversations, and the owner hears its own whichever tab or request
//! wrote to it. Subscribers are indexed by customer and by session (also
//! for the per-session connection limit and revocation), and by agent (the
//! agent console: [`AgentServerFrame`]s about the conversations routed to
//! that agent). An agent with at least one subscriber is *online*, which
//! routing reads from here (routing decisions themselves are serialized by
//! the store's `routing_lock`, across every server of the database).
//!
//! The hub is in-process: it sees what this server stores. With several
//! servers on one Postgres database, [`Hub::publish`] is where a server
//! would also `NOTIFY` the others, and each server's `LISTEN` task would call
//! [`Hub::publish`] locally for what the others stored.
//!
//! Pure tokio: no axum, no SQL. The lock is a `std::sync::Mutex` because it
//! is held only for a few map operations and never across an `.await`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{mpsc, watch};
use trustchat_protocol::{AgentServerFrame, ServerFrame};

/// Frames a subscriber may have waiting before it is dropped.
pub const SUBSCRIBER_BUFFER: usize = 256;

/// The fan-out hub. Cheap to share as `Arc<Hub>`.
#[derive(Debug)]
pub struct Hub {
    /// Everything, behind one short-held lock.
    inner: Mutex<Inner>,
    /// The buffer size of each new subscriber.
    buffer: usize,
}

/// Why the hub let go of a subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Its buffer was full: it must resync.
    Lagged,
    /// Its session was revoked or replaced by a different person's.
    Revoked,
    /// The server is shutting down.
    Shutdown,
}

/// Who hears a conversation's frames (see the module documentation).
#[derive(Debug, Clone, Copy)]
pub struct Audience<'a> {
    /// The conversation's customer.
    pub customer_id: &'a str,
    /// The session that started it.
    pub owner_session_id: Option<&'a str>,
    /// Whether it is held under proof, so its customer's trusted sessions
    /// hear it too.
    pub proven: bool,
    /// Now, Unix seconds: a session whose proof ended before hears only
    /// what it owns.
    pub now: i64,
}

/// What a customer connection's session is now: its customer and until
/// when it is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The session.
    pub session_id: String,
    /// Its customer.
    pub customer_id: String,
    /// Its app.
    pub app_id: String,
    /// The end of its proof, Unix seconds; `None` when it is not trusted.
    pub trusted_until: Option<i64>,
}

/// Refused: the session already has as many subscribers as allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the session already has {0} connections")]
pub struct TooManyConnections(pub usize);

/// One subscriber's end: frames in publish order until the hub lets go.
/// Dropping it unsubscribes. `F` is [`ServerFrame`] for customers and
/// [`AgentServerFrame`] for agents.
#[derive(Debug)]
pub struct Subscription<F = ServerFrame> {
    /// Its id in the hub.
    id: u64,
    /// Frames published to it.
    frames: mpsc::Receiver<Arc<F>>,
    /// Set when the hub lets go, with the reason.
    closed: watch::Receiver<Option<CloseReason>>,
    /// Bumped whenever the session's identity or trust changes.
    session: watch::Receiver<u64>,
    /// To unsubscribe on drop.
    hub: Arc<Hub>,
}

impl<F> Subscription<F> {
    /// The id to pass as `except` when publishing what this subscriber
    /// caused (its own send is answered by an `ack` instead).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The next frame, or why the hub let go. A close wins over frames
    /// still buffered: a revoked session hears nothing more.
    pub async fn next(&mut self) -> Result<Arc<F>, CloseReason> {
        let frame = tokio::select! {
            biased;
            reason = self.closed.wait_for(Option::is_some) => {
                return Err(reason.ok().and_then(|r| *r).unwrap_or(CloseReason::Shutdown));
            }
            frame = self.frames.recv() => frame,
        };
        frame.ok_or_else(|| (*self.closed.borrow()).unwrap_or(CloseReason::Shutdown))
    }

    /// A watch on the close reason, for a connection blocked writing to a
    /// stalled socket to notice it was dropped.
    pub fn close_signal(&self) -> watch::Receiver<Option<CloseReason>> {
        self.closed.clone()
    }

    /// A counter the hub bumps whenever this connection's session changed
    /// ([`Hub::update_session`], here or, through the bus, on another
    /// server): a connection may keep its session in memory while the
    /// counter stands still, and must read it again once it moved.
    pub fn session_changes(&self) -> watch::Receiver<u64> {
        self.session.clone()
    }
}

impl<F> Drop for Subscription<F> {
    fn drop(&mut self) {
        self.hub.lock().remove(self.id);
    }
}

impl Hub {
    /// A hub whose subscribers buffer [`SUBSCRIBER_BUFFER`] frames.
    pub fn new() -> Arc<Hub> {
        Hub::with_buffer(SUBSCRIBER_BUFFER)
    }

    /// A hub whose subscribers buffer `buffer` frames (at least 1).
    pub fn with_buffer(buffer: usize) -> Arc<Hub> {
        Arc::new(Hub {
            inner: Mutex::default(),
            buffer: buffer.max(1),
        })
    }

    /// Subscribes a customer's connection to the conversations its session
    /// hears (see [`Audience`]); refused when the session already has
    /// `max_per_session` subscribers.
    pub fn subscribe_customer(
        self: &Arc<Self>,
        listener: Listener,
        max_per_session: usize,
    ) -> Result<Subscription, TooManyConnections> {
        let mut inner = self.lock();
        let open = inner.sessions.get(&listener.session_id).map_or(0, Vec::len);
        if open >= max_per_session {
            return Err(TooManyConnections(open));
        }
        Ok(self.add(
            &mut inner,
            Keys {
                customer: Some(listener),
                agent: None,
            },
        ))
    }

    /// Subscribes an agent's console connection; the agent is online while
    /// it has one.
    pub fn subscribe_agent(self: &Arc<Self>, agent_id: &str) -> Subscription<AgentServerFrame> {
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        let (frames_tx, frames) = mpsc::channel(self.buffer);
        let (closed_tx, closed) = watch::channel(None);
        let (session_tx, session) = watch::channel(0);
        inner
            .agents
            .entry(agent_id.to_owned())
            .or_default()
            .push(id);
        let keys = Keys {
            customer: None,
            agent: Some(agent_id.to_owned()),
        };
        inner.subs.insert(
            id,
            Sub {
                frames: Sender::Agent(frames_tx),
                closed: closed_tx,
                session: session_tx,
                keys,
            },
        );
        Subscription {
            id,
            frames,
            closed,
            session,
            hub: Arc::clone(self),
        }
    }

    /// Delivers `frame` to every console connection of the agent. Never
    /// waits; drops connections that are full.
    pub fn publish_agent(&self, agent_id: &str, frame: AgentServerFrame) {
        let frame = Arc::new(frame);
        let mut inner = self.lock();
        let targets = inner.agents.get(agent_id).cloned().unwrap_or_default();
        let mut dropped = Vec::new();
        for id in targets {
            let Some(Sub {
                frames: Sender::Agent(frames),
                ..
            }) = inner.subs.get(&id)
            else {
                continue;
            };
            match frames.try_send(Arc::clone(&frame)) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => dropped.push((id, CloseReason::Lagged)),
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    dropped.push((id, CloseReason::Shutdown))
                }
            }
        }
        for (id, reason) in dropped {
            inner.close(id, reason);
        }
    }

    /// Whether the agent has a console connection.
    pub fn is_online(&self, agent_id: &str) -> bool {
        self.lock().agents.contains_key(agent_id)
    }

    /// Whether any agent has a console connection.
    pub fn any_agent_online(&self) -> bool {
        !self.lock().agents.is_empty()
    }

    /// The agents with a console connection.
    pub fn online_agents(&self) -> HashSet<String> {
        self.lock().agents.keys().cloned().collect()
    }

    /// Lets go of every console connection of an agent (logged out or
    /// removed).
    pub fn close_agent(&self, agent_id: &str, reason: CloseReason) {
        let mut inner = self.lock();
        for id in inner.agents.get(agent_id).cloned().unwrap_or_default() {
            inner.close(id, reason);
        }
    }

    /// Whether anyone connected here is in the conversation's audience (the
    /// relay reads another server's message only then).
    pub fn hears(&self, audience: &Audience<'_>) -> bool {
        !self.lock().audience(audience, None).is_empty()
    }

    /// Delivers `frame` to the conversation's audience, except `except`.
    /// Never waits; drops subscribers that are full.
    pub fn publish(&self, audience: &Audience<'_>, frame: ServerFrame, except: Option<u64>) {
        let frame = Arc::new(frame);
        let mut inner = self.lock();
        let targets = inner.audience(audience, except);
        let mut dropped = Vec::new();
        for id in targets {
            let Some(Sub {
                frames: Sender::Customer(frames),
                ..
            }) = inner.subs.get(&id)
            else {
                continue;
            };
            match frames.try_send(Arc::clone(&frame)) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => dropped.push((id, CloseReason::Lagged)),
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    dropped.push((id, CloseReason::Shutdown))
                }
            }
        }
        for (id, reason) in dropped {
            if reason == CloseReason::Lagged {
                tracing::debug!(subscriber = id, "dropped a subscriber that fell behind");
            }
            inner.close(id, reason);
        }
    }

    /// Delivers `frame` to every customer connection of an app (its
    /// availability changed). Never waits; drops subscribers that are
    /// full.
    pub fn publish_app(&self, app_id: &str, frame: ServerFrame) {
        let frame = Arc::new(frame);
        let mut inner = self.lock();
        let mut dropped = Vec::new();
        for (id, sub) in &inner.subs {
            let (Sender::Customer(frames), Some(listener)) = (&sub.frames, &sub.keys.customer)
            else {
                continue;
            };
            if listener.app_id != app_id {
                continue;
            }
            match frames.try_send(Arc::clone(&frame)) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => dropped.push((*id, CloseReason::Lagged)),
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    dropped.push((*id, CloseReason::Shutdown))
                }
            }
        }
        for (id, reason) in dropped {
            inner.close(id, reason);
        }
    }

    /// The session's identity changed (a mid-chat identification or
    /// login): its connections now hear as `listener` says.
    pub fn update_session(&self, listener: &Listener) {
        let mut inner = self.lock();
        let ids = inner
            .sessions
            .get(&listener.session_id)
            .cloned()
            .unwrap_or_default();
        for id in ids {
            let Some(sub) = inner.subs.get_mut(&id) else {
                continue;
            };
            let Some(current) = sub.keys.customer.as_mut() else {
                continue;
            };
            let old = std::mem::replace(current, listener.clone());
            sub.session.send_modify(|version| *version += 1);
            if old.customer_id != listener.customer_id {
                unindex(&mut inner.customers, &old.customer_id, id);
                inner
                    .customers
                    .entry(listener.customer_id.clone())
                    .or_default()
                    .push(id);
            }
        }
    }

    /// Lets go of every connection of a session.
    pub fn close_session(&self, session_id: &str, reason: CloseReason) {
        let mut inner = self.lock();
        for id in inner.sessions.get(session_id).cloned().unwrap_or_default() {
            inner.close(id, reason);
        }
    }

    /// Lets go of every subscriber (shutdown).
    pub fn close_all(&self, reason: CloseReason) {
        let mut inner = self.lock();
        let ids: Vec<u64> = inner.subs.keys().copied().collect();
        for id in ids {
            inner.close(id, reason);
        }
    }

    /// How many connections a session has.
    pub fn connections(&self, session_id: &str) -> usize {
        self.lock().sessions.get(session_id).map_or(0, Vec::len)
    }

    fn add(self: &Arc<Self>, inner: &mut Inner, keys: Keys) -> Subscription {
        inner.next_id += 1;
        let id = inner.next_id;
        let (frames_tx, frames) = mpsc::channel(self.buffer);
        let (closed_tx, closed) = watch::channel(None);
        let (session_tx, session) = watch::channel(0);
        if let Some(listener) = &keys.customer {
            inner
                .customers
                .entry(listener.customer_id.clone())
                .or_default()
                .push(id);
            inner
                .sessions
                .entry(listener.session_id.clone())
                .or_default()
                .push(id);
        }
        inner.subs.insert(
            id,
            Sub {
                frames: Sender::Customer(frames_tx),
                closed: closed_tx,
                session: session_tx,
                keys,
            },
        );
        Subscription {
            id,
            frames,
            closed,
            session,
            hub: Arc::clone(self),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The maps stay consistent at every step, so a panic elsewhere
        // while holding the lock leaves nothing to repair.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The subscribers and their indexes.
#[derive(Debug, Default)]
struct Inner {
    /// The last id handed out.
    next_id: u64,
    /// Every subscriber by id.
    subs: HashMap<u64, Sub>,
    /// Customer id → subscribers.
    customers: HashMap<String, Vec<u64>>,
    /// Session id → subscribers.
    sessions: HashMap<String, Vec<u64>>,
    /// Agent id → console connections.
    agents: HashMap<String, Vec<u64>>,
}

/// Where a subscriber's frames go.
#[derive(Debug)]
enum Sender {
    /// A customer connection.
    Customer(mpsc::Sender<Arc<ServerFrame>>),
    /// An agent console.
    Agent(mpsc::Sender<Arc<AgentServerFrame>>),
}

/// The hub's end of a subscriber.
#[derive(Debug)]
struct Sub {
    /// Where its frames go.
    frames: Sender,
    /// Set when it is let go.
    closed: watch::Sender<Option<CloseReason>>,
    /// Bumped when its session changes.
    session: watch::Sender<u64>,
    /// What it listens to.
    keys: Keys,
}

/// What a subscriber listens to.
#[derive(Debug)]
struct Keys {
    /// A customer connection's session.
    customer: Option<Listener>,
    /// The agent of a console connection.
    agent: Option<String>,
}

impl Inner {
    /// The subscribers in the conversation's audience, but `except`.
    fn audience(&self, audience: &Audience<'_>, except: Option<u64>) -> Vec<u64> {
        let owners = audience
            .owner_session_id
            .and_then(|session| self.sessions.get(session))
            .into_iter()
            .flatten();
        let trusted = self
            .customers
            .get(audience.customer_id)
            .filter(|_| audience.proven)
            .into_iter()
            .flatten()
            .filter(|id| {
                self.subs.get(id).is_some_and(|sub| {
                    sub.keys
                        .customer
                        .as_ref()
                        .and_then(|listener| listener.trusted_until)
                        .is_some_and(|until| audience.now < until)
                })
            });
        let mut targets: Vec<u64> = owners
            .chain(trusted)
            .copied()
            .filter(|id| Some(*id) != except)
            .collect();
        targets.sort_unstable();
        targets.dedup();
        targets
    }

    /// Removes a subscriber, telling it why.
    fn close(&mut self, id: u64, reason: CloseReason) {
        if let Some(sub) = self.subs.get(&id) {
            sub.closed.send_replace(Some(reason));
        }
        self.remove(id);
    }

    /// Removes a subscriber from every index.
    fn remove(&mut self, id: u64) {
        let Some(sub) = self.subs.remove(&id) else {
            return;
        };
        if let Some(listener) = &sub.keys.customer {
            unindex(&mut self.customers, &listener.customer_id, id);
            unindex(&mut self.sessions, &listener.session_id, id);
        }
        if let Some(agent) = &sub.keys.agent {
            unindex(&mut self.agents, agent, id);
        }
    }
}

fn unindex(index: &mut HashMap<String, Vec<u64>>, key: &str, id: u64) {
    if let Some(ids) = index.get_mut(key) {
        ids.retain(|other| *other != id);
        if ids.is_empty() {
            index.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Long enough for any honest wait; a test that needs it has failed.
    const PATIENCE: Duration = Duration::from_secs(5);
    /// "Now" in these tests.
    const NOW: i64 = 1_000;

    fn pong() -> ServerFrame {
        ServerFrame::Pong
    }

    fn listener(customer: &str, session: &str, trusted_until: Option<i64>) -> Listener {
        Listener {
            session_id: session.into(),
            customer_id: customer.into(),
            app_id: "demo".into(),
            trusted_until,
        }
    }

    fn subscribe(hub: &Arc<Hub>, customer: &str, session: &str) -> Subscription {
        hub.subscribe_customer(listener(customer, session, None), 5)
            .unwrap()
    }

    /// The audience of a conversation of `customer` started by `owner`.
    fn audience<'a>(customer: &'a str, owner: &'a str, proven: bool) -> Audience<'a> {
        Audience {
            customer_id: customer,
            owner_session_id: Some(owner),
            proven,
            now: NOW,
        }
    }

    async fn next(sub: &mut Subscription) -> Result<Arc<ServerFrame>, CloseReason> {
        tokio::time::timeout(PATIENCE, sub.next())
            .await
            .expect("no frame in time")
    }

    async fn quiet(sub: &mut Subscription) -> bool {
        tokio::time::timeout(Duration::from_millis(50), sub.next())
            .await
            .is_err()
    }

    #[tokio::test]
    async fn a_stalled_subscriber_is_dropped_and_the_others_keep_receiving() {
        let hub = Hub::with_buffer(4);
        let stalled = subscribe(&hub, "c1", "s1");
        let mut reader = hub
            .subscribe_customer(listener("c1", "s2", Some(NOW + 60)), 5)
            .unwrap();
        for round in 0..100 {
            hub.publish(&audience("c1", "s1", true), pong(), None);
            // The reader keeps up: it gets every frame right away.
            assert_eq!(*next(&mut reader).await.unwrap(), pong(), "round {round}");
        }
        assert_eq!(
            hub.connections("s1"),
            0,
            "the stalled subscriber was let go"
        );
        assert_eq!(hub.connections("s2"), 1);
        let mut stalled = stalled;
        assert_eq!(next(&mut stalled).await.unwrap_err(), CloseReason::Lagged);
    }

    #[tokio::test]
    async fn a_conversation_reaches_its_owner_and_under_proof_the_trusted_sessions_only() {
        let hub = Hub::new();
        let mut tab1 = subscribe(&hub, "ada", "owner");
        let mut tab2 = subscribe(&hub, "ada", "owner");
        let mut claimant = subscribe(&hub, "ada", "eve");
        let mut phone = hub
            .subscribe_customer(listener("ada", "phone", Some(NOW + 60)), 5)
            .unwrap();
        let mut lapsed = hub
            .subscribe_customer(listener("ada", "old", Some(NOW)), 5)
            .unwrap();
        let mut stranger = subscribe(&hub, "bob", "bob");

        hub.publish(&audience("ada", "owner", false), pong(), Some(tab1.id()));
        assert!(next(&mut tab2).await.is_ok(), "the owner's other tab hears");
        for (who, sub) in [
            ("the sender", &mut tab1),
            ("a claimant of the profile", &mut claimant),
            (
                "a trusted session, of a conversation not proven",
                &mut phone,
            ),
            ("a stranger", &mut stranger),
        ] {
            assert!(quiet(sub).await, "{who} hears nothing");
        }

        hub.publish(&audience("ada", "owner", true), pong(), None);
        assert!(next(&mut tab1).await.is_ok());
        assert!(next(&mut tab2).await.is_ok());
        assert!(next(&mut phone).await.is_ok(), "a trusted session hears");
        for (who, sub) in [
            ("a claimant", &mut claimant),
            ("a session whose proof ended", &mut lapsed),
            ("a stranger", &mut stranger),
        ] {
            assert!(quiet(sub).await, "{who} hears nothing");
        }
    }

    #[tokio::test]
    async fn sessions_are_limited_closed_and_updated() {
        let hub = Hub::new();
        let subs: Vec<_> = (0..3)
            .map(|_| {
                hub.subscribe_customer(listener("anon", "s1", None), 3)
                    .unwrap()
            })
            .collect();
        assert_eq!(
            hub.subscribe_customer(listener("anon", "s1", None), 3)
                .unwrap_err(),
            TooManyConnections(3)
        );
        drop(subs);
        assert_eq!(hub.connections("s1"), 0, "dropping unsubscribes");

        let mut sub = subscribe(&hub, "anon", "s1");
        hub.publish(&audience("ada", "phone", true), pong(), None);
        assert!(quiet(&mut sub).await, "not Ada's yet");
        hub.update_session(&listener("ada", "s1", Some(NOW + 60)));
        hub.publish(&audience("ada", "phone", true), pong(), None);
        assert!(
            next(&mut sub).await.is_ok(),
            "trusted as Ada, it hears Ada's proven conversation"
        );
        hub.publish(&audience("ada", "phone", true), pong(), None);
        hub.close_session("s1", CloseReason::Revoked);
        assert_eq!(
            next(&mut sub).await.unwrap_err(),
            CloseReason::Revoked,
            "a close wins over buffered frames"
        );
    }
}
