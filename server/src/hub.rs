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
//! Subscribers are indexed by customer (the widget: every conversation of
//! the customer, whichever tab or request wrote to it), by session (for the
//! per-session connection limit and revocation), by app (every conversation
//! of the app) and by agent (the agent console: [`AgentServerFrame`]s about
//! the conversations routed to that agent). An agent with at least one
//! subscriber is *online*, which routing reads from here; the
//! [`Hub::routing_lock`] serializes routing decisions, which read that and
//! the database and must not interleave.
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
    /// Held while a routing decision is made and applied.
    routing: tokio::sync::Mutex<()>,
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
            routing: tokio::sync::Mutex::new(()),
        })
    }

    /// Subscribes a customer's connection to every conversation of the
    /// customer; refused when `session_id` already has `max_per_session`
    /// subscribers.
    pub fn subscribe_customer(
        self: &Arc<Self>,
        app_id: &str,
        customer_id: &str,
        session_id: &str,
        max_per_session: usize,
    ) -> Result<Subscription, TooManyConnections> {
        let mut inner = self.lock();
        let open = inner.sessions.get(session_id).map_or(0, Vec::len);
        if open >= max_per_session {
            return Err(TooManyConnections(open));
        }
        Ok(self.add(
            &mut inner,
            Keys {
                app: None,
                customer: Some((app_id.to_owned(), customer_id.to_owned())),
                session: Some(session_id.to_owned()),
                agent: None,
            },
        ))
    }

    /// Subscribes to every conversation of an app (the agent console).
    pub fn subscribe_app(self: &Arc<Self>, app_id: &str) -> Subscription {
        let mut inner = self.lock();
        self.add(
            &mut inner,
            Keys {
                app: Some(app_id.to_owned()),
                customer: None,
                session: None,
                agent: None,
            },
        )
    }

    /// Subscribes an agent's console connection; the agent is online while
    /// it has one.
    pub fn subscribe_agent(self: &Arc<Self>, agent_id: &str) -> Subscription<AgentServerFrame> {
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        let (frames_tx, frames) = mpsc::channel(self.buffer);
        let (closed_tx, closed) = watch::channel(None);
        inner
            .agents
            .entry(agent_id.to_owned())
            .or_default()
            .push(id);
        let keys = Keys {
            app: None,
            customer: None,
            session: None,
            agent: Some(agent_id.to_owned()),
        };
        inner.subs.insert(
            id,
            Sub {
                frames: Sender::Agent(frames_tx),
                closed: closed_tx,
                keys,
            },
        );
        Subscription {
            id,
            frames,
            closed,
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

    /// Held while deciding and storing where conversations go, so two
    /// decisions never both count the same agent's load as it was.
    pub async fn routing_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.routing.lock().await
    }

    /// Delivers `frame` to every subscriber of the customer and of the app,
    /// except `except`. Never waits; drops subscribers that are full.
    pub fn publish(
        &self,
        app_id: &str,
        customer_id: &str,
        frame: ServerFrame,
        except: Option<u64>,
    ) {
        let frame = Arc::new(frame);
        let mut inner = self.lock();
        let customers = inner.customers.get(customer_id).into_iter().flatten();
        let apps = inner.apps.get(app_id).into_iter().flatten();
        let targets: Vec<u64> = customers
            .chain(apps)
            .copied()
            .filter(|id| Some(*id) != except)
            .collect();
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

    /// The customer of a session changed (an anonymous customer logged in
    /// as an existing profile): its connections now hear that customer.
    pub fn move_session(&self, session_id: &str, customer_id: &str) {
        let mut inner = self.lock();
        let ids = inner.sessions.get(session_id).cloned().unwrap_or_default();
        for id in ids {
            let Some(sub) = inner.subs.get_mut(&id) else {
                continue;
            };
            let Some((_, old)) = sub.keys.customer.as_mut() else {
                continue;
            };
            let old = std::mem::replace(old, customer_id.to_owned());
            unindex(&mut inner.customers, &old, id);
            inner
                .customers
                .entry(customer_id.to_owned())
                .or_default()
                .push(id);
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
        if let Some((_, customer)) = &keys.customer {
            inner
                .customers
                .entry(customer.clone())
                .or_default()
                .push(id);
        }
        if let Some(session) = &keys.session {
            inner.sessions.entry(session.clone()).or_default().push(id);
        }
        if let Some(app) = &keys.app {
            inner.apps.entry(app.clone()).or_default().push(id);
        }
        inner.subs.insert(
            id,
            Sub {
                frames: Sender::Customer(frames_tx),
                closed: closed_tx,
                keys,
            },
        );
        Subscription {
            id,
            frames,
            closed,
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
    /// App id → app-wide subscribers.
    apps: HashMap<String, Vec<u64>>,
    /// Agent id → console connections.
    agents: HashMap<String, Vec<u64>>,
}

/// Where a subscriber's frames go.
#[derive(Debug)]
enum Sender {
    /// A customer or app subscriber.
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
    /// What it listens to.
    keys: Keys,
}

/// What a subscriber listens to.
#[derive(Debug)]
struct Keys {
    /// App-wide: every conversation of the app.
    app: Option<String>,
    /// (app, customer): every conversation of the customer.
    customer: Option<(String, String)>,
    /// The session of a customer connection.
    session: Option<String>,
    /// The agent of a console connection.
    agent: Option<String>,
}

impl Inner {
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
        if let Some((_, customer)) = &sub.keys.customer {
            unindex(&mut self.customers, customer, id);
        }
        if let Some(session) = &sub.keys.session {
            unindex(&mut self.sessions, session, id);
        }
        if let Some(app) = &sub.keys.app {
            unindex(&mut self.apps, app, id);
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

    fn pong() -> ServerFrame {
        ServerFrame::Pong
    }

    async fn next(sub: &mut Subscription) -> Result<Arc<ServerFrame>, CloseReason> {
        tokio::time::timeout(PATIENCE, sub.next())
            .await
            .expect("no frame in time")
    }

    #[tokio::test]
    async fn a_stalled_subscriber_is_dropped_and_the_others_keep_receiving() {
        let hub = Hub::with_buffer(4);
        let stalled = hub.subscribe_customer("demo", "c1", "s1", 5).unwrap();
        let mut reader = hub.subscribe_customer("demo", "c1", "s2", 5).unwrap();
        for round in 0..100 {
            hub.publish("demo", "c1", pong(), None);
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
    async fn frames_reach_the_customer_and_the_app_but_not_the_sender() {
        let hub = Hub::new();
        let mut tab1 = hub.subscribe_customer("demo", "c1", "s1", 5).unwrap();
        let mut tab2 = hub.subscribe_customer("demo", "c1", "s1", 5).unwrap();
        let mut stranger = hub.subscribe_customer("demo", "c2", "s3", 5).unwrap();
        let mut agents = hub.subscribe_app("demo");
        let mut other_app = hub.subscribe_app("other");
        hub.publish("demo", "c1", pong(), Some(tab1.id()));
        assert!(next(&mut tab2).await.is_ok());
        assert!(next(&mut agents).await.is_ok());
        for quiet in [&mut tab1, &mut stranger, &mut other_app] {
            assert!(
                tokio::time::timeout(Duration::from_millis(50), quiet.next())
                    .await
                    .is_err()
            );
        }
    }

    #[tokio::test]
    async fn sessions_are_limited_closed_and_moved() {
        let hub = Hub::new();
        let subs: Vec<_> = (0..3)
            .map(|_| hub.subscribe_customer("demo", "anon", "s1", 3).unwrap())
            .collect();
        assert_eq!(
            hub.subscribe_customer("demo", "anon", "s1", 3).unwrap_err(),
            TooManyConnections(3)
        );
        drop(subs);
        assert_eq!(hub.connections("s1"), 0, "dropping unsubscribes");

        let mut sub = hub.subscribe_customer("demo", "anon", "s1", 3).unwrap();
        hub.move_session("s1", "ada");
        hub.publish("demo", "ada", pong(), None);
        assert!(
            next(&mut sub).await.is_ok(),
            "frames for the new customer arrive"
        );
        hub.publish("demo", "ada", pong(), None);
        hub.close_session("s1", CloseReason::Revoked);
        assert_eq!(
            next(&mut sub).await.unwrap_err(),
            CloseReason::Revoked,
            "a close wins over buffered frames"
        );
    }
}
