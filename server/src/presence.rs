//! [`Presence`]: which agents are online on any server of the database.
//!
//! An agent is online while a console of theirs is connected to some
//! server. Each server writes its own agents to the store with an expiry
//! ([`Store::set_presence`]) every [`HEARTBEAT`] and whenever its own
//! agents come or go, so a server that dies takes its agents offline
//! within [`TTL`]. When its own agents changed, a server also tells the
//! others ([`crate::bus::Event::Queue`]), which read the set again at once
//! ([`Presence::refresh`]) and hand out the queue. Routing reads the store
//! afresh under its lock ([`Presence::online_now`]); everything else,
//! deciding whether a new conversation is worth routing included, reads
//! the set cached at the last heartbeat or refresh, together with this
//! server's own consoles, which it knows at once.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

use crate::clock;
use crate::hub::Hub;
use crate::store::{Store, StoreResult};

/// How often a server writes its agents' presence.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// How long a heartbeat keeps an agent online: three beats, so one late
/// write does not take anybody offline.
pub const TTL: Duration = Duration::from_secs(15);

/// The agents online on the servers of one database, as this server sees
/// them.
pub struct Presence {
    /// This server's id in the presence table.
    server_id: String,
    /// Where presence is kept.
    store: Arc<dyn Store>,
    /// This server's consoles.
    hub: Arc<Hub>,
    /// The agents online anywhere at the last heartbeat.
    cluster: Mutex<HashSet<String>>,
    /// Wakes the heartbeat when this server's agents came or went.
    changed: Notify,
    /// This server's agents as last written.
    written: Mutex<HashSet<String>>,
}

impl Presence {
    /// Presence for the server `server_id`.
    pub fn new(server_id: String, store: Arc<dyn Store>, hub: Arc<Hub>) -> Presence {
        Presence {
            server_id,
            store,
            hub,
            cluster: Mutex::default(),
            changed: Notify::new(),
            written: Mutex::default(),
        }
    }

    /// This server's id.
    pub fn server_id(&self) -> &str {
        &self.server_id
    }

    /// Whether the agent has a console open on any server.
    pub fn is_online(&self, agent_id: &str) -> bool {
        self.hub.is_online(agent_id) || self.cached().contains(agent_id)
    }

    /// Whether any agent has a console open on any server.
    pub fn any_online(&self) -> bool {
        self.hub.any_agent_online() || !self.cached().is_empty()
    }

    /// The agents online now, read from the store (for routing, under its
    /// lock), with this server's own.
    pub async fn online_now(&self) -> StoreResult<HashSet<String>> {
        let mut online: HashSet<String> = self
            .store
            .online_agents(clock::now_ms())
            .await?
            .into_iter()
            .collect();
        online.extend(self.hub.online_agents());
        Ok(online)
    }

    /// This server's agents came or went: write it now.
    pub fn local_changed(&self) {
        self.changed.notify_one();
    }

    /// Writes this server's agents and reads everybody's; true when this
    /// server's agents changed since the last heartbeat (the other servers
    /// should hear of it).
    pub async fn heartbeat(&self) -> StoreResult<bool> {
        let mine: HashSet<String> = self.hub.online_agents();
        let now = clock::now_ms();
        let expires = now.saturating_add(i64::try_from(TTL.as_millis()).unwrap_or(i64::MAX));
        let list: Vec<String> = mine.iter().cloned().collect();
        self.store
            .set_presence(&self.server_id, &list, expires)
            .await?;
        self.refresh().await?;
        let mut written = self.written.lock().unwrap_or_else(PoisonError::into_inner);
        let changed = *written != mine;
        *written = mine;
        Ok(changed)
    }

    /// Reads everybody's agents again (another server's came or went).
    pub async fn refresh(&self) -> StoreResult<()> {
        let everyone = self.store.online_agents(clock::now_ms()).await?;
        *self.cached() = everyone.into_iter().collect();
        Ok(())
    }

    /// Waits for the next heartbeat: [`HEARTBEAT`], or sooner when this
    /// server's agents came or went.
    pub async fn next_beat(&self) {
        tokio::select! {
            () = tokio::time::sleep(HEARTBEAT) => {}
            () = self.changed.notified() => {}
        }
    }

    /// This server leaves: its agents are offline at once.
    pub async fn leave(&self) -> StoreResult<()> {
        self.store.set_presence(&self.server_id, &[], 0).await
    }

    fn cached(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.cluster.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for Presence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presence")
            .field("server_id", &self.server_id)
            .finish_non_exhaustive()
    }
}
