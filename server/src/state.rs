//! [`AppState`]: what every request handler can reach.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::availability::Availabilities;
use crate::bus::postgres::{Incoming, PgBus};
use crate::bus::{Bus, Event, LocalBus};
use crate::config::{AppConfig, Config};
use crate::ctx::Ctx;
use crate::holds::Holds;
use crate::hub::CloseReason;
use crate::hub::Hub;
use crate::jwt::{ReplayGuard, ReplayUnavailable, Verifier};
use crate::presence::Presence;
use crate::rate::{AddressLimits, LoginLimiter, SendLimiter};
use crate::store::{self, Store};

/// Shared, cheaply cloned state of the HTTP server.
#[derive(Clone)]
pub struct AppState {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The database.
    pub store: Arc<dyn Store>,
    /// Each app's identity-token verifier, by app id; apps without an
    /// `[apps.identity]` table have none. Keys are parsed once, here.
    pub verifiers: Arc<HashMap<String, Arc<Verifier>>>,
    /// Remembers the `jti` of single-use tokens.
    pub replay: Arc<dyn ReplayGuard>,
    /// The demo portal's logged-in customers: portal token → email.
    pub demo_logins: Arc<Mutex<HashMap<String, String>>>,
    /// Who listens on this server for which conversation; fans out new
    /// messages to them.
    pub hub: Arc<Hub>,
    /// The other servers of the database.
    pub bus: Arc<dyn Bus>,
    /// The agents online on any server.
    pub presence: Arc<Presence>,
    /// Messages per session per minute.
    pub send_limiter: Arc<SendLimiter>,
    /// Agent login attempts per address, per email and address, and per
    /// email.
    pub login_limiter: Arc<LoginLimiter>,
    /// Per-address limits (sessions, WebSocket connects, unauthenticated
    /// sockets) and the agent logins' password checks at once.
    pub limits: Arc<AddressLimits>,
    /// When conversations held for a login are due.
    pub holds: Arc<Holds>,
    /// Every app's availability, as last computed and pushed.
    pub availabilities: Arc<Availabilities>,
    /// Wakes this server's email worker (see [`crate::email`]).
    pub email_wake: Arc<crate::email::Wake>,
    /// Wakes this server's webhook worker (see [`crate::webhooks`]).
    pub webhook_wake: Arc<crate::webhooks::Wake>,
}

impl AppState {
    /// State over a validated config and an open store: loads every app's
    /// identity keys (and fetches JWKS URLs once, keeping them fresh in the
    /// background). A key that does not load stops the start with an error
    /// naming the app and the key.
    pub async fn new(config: Config, store: Arc<dyn Store>) -> anyhow::Result<AppState> {
        let mut verifiers = HashMap::new();
        for app in &config.apps {
            if let Some(identity) = &app.identity {
                let verifier = Verifier::start(
                    identity,
                    &app.id,
                    &config.base_dir,
                    identity.remote_options(),
                )
                .await
                .map_err(|e| anyhow::anyhow!("app {}: identity keys: {e}", app.id))?;
                verifiers.insert(app.id.clone(), verifier);
            }
        }
        let send_limiter = Arc::new(SendLimiter::new(
            config.limits.messages_per_minute,
            config.limits.message_burst,
        ));
        let login_limiter = Arc::new(LoginLimiter::new(&config.agent));
        let limits = Arc::new(AddressLimits::new(&config.limits, &config.agent));
        // Buckets that are full again are forgotten every minute.
        let weak = Arc::downgrade(&send_limiter);
        let weak_logins = Arc::downgrade(&login_limiter);
        let weak_limits = Arc::downgrade(&limits);
        tokio::spawn(async move {
            let mut every_minute = tokio::time::interval(std::time::Duration::from_secs(60));
            every_minute.tick().await;
            loop {
                every_minute.tick().await;
                let Some(limiter) = weak.upgrade() else { break };
                limiter.forget_idle();
                if let Some(logins) = weak_logins.upgrade() {
                    logins.forget_idle();
                }
                if let Some(limits) = weak_limits.upgrade() {
                    limits.forget_idle();
                }
            }
        });
        let hub = Hub::new();
        let server_id = uuid::Uuid::new_v4().to_string();
        let presence = Arc::new(Presence::new(server_id.clone(), store.clone(), hub.clone()));
        // Several servers share a Postgres database: events cross them.
        let (bus, incoming): (Arc<dyn Bus>, _) = if store::is_postgres(&config.server.database_url)
        {
            let (bus, incoming) = PgBus::start(&config.server.database_url, server_id).await?;
            (bus, Some(incoming))
        } else {
            (Arc::new(LocalBus), None)
        };
        let state = AppState {
            config: Arc::new(config),
            replay: Arc::new(StoreReplayGuard(store.clone())),
            store,
            verifiers: Arc::new(verifiers),
            demo_logins: Arc::default(),
            hub,
            bus,
            presence,
            send_limiter,
            login_limiter,
            limits,
            holds: Arc::default(),
            availabilities: Arc::default(),
            email_wake: Arc::default(),
            webhook_wake: Arc::default(),
        };
        if let Some(incoming) = incoming {
            spawn_relay(state.clone(), incoming);
        }
        // A held conversation is routed when its hold runs out.
        let releasing = state.clone();
        tokio::spawn(async move {
            loop {
                releasing.holds.next_due().await;
                if let Err(error) = crate::console::drain_queue(releasing.ctx()).await {
                    tracing::warn!(error = %crate::error::error_chain(&error), "routing conversations whose hold ran out failed");
                }
            }
        });
        Ok(state)
    }

    /// What the domain works with.
    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            store: self.store.as_ref(),
            hub: &self.hub,
            bus: self.bus.as_ref(),
            presence: &self.presence,
            config: &self.config,
            holds: &self.holds,
            email: &self.email_wake,
            webhooks: &self.webhook_wake,
        }
    }

    /// The identity-token verifier of an app, if it accepts tokens.
    pub fn verifier(&self, app_id: &str) -> Option<&Arc<Verifier>> {
        self.verifiers.get(app_id)
    }

    /// The app with this id.
    pub fn app(&self, id: &str) -> Option<AppRef> {
        let index = self.config.apps.iter().position(|app| app.id == id)?;
        Some(AppRef {
            config: Arc::clone(&self.config),
            index,
        })
    }
}

/// A handle on one app of the config, cheap to pass around.
#[derive(Clone)]
pub struct AppRef {
    /// The config the app belongs to.
    config: Arc<Config>,
    /// The app's position in `config.apps`.
    index: usize,
}

impl std::ops::Deref for AppRef {
    type Target = AppConfig;

    fn deref(&self) -> &AppConfig {
        &self.config.apps[self.index]
    }
}

impl std::fmt::Debug for AppRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AppRef").field(&self.id).finish()
    }
}

/// Single-use token ids remembered in the database, so that a token used
/// on one server is refused on every server of the database.
struct StoreReplayGuard(Arc<dyn Store>);

#[async_trait::async_trait]
impl ReplayGuard for StoreReplayGuard {
    async fn remember(
        &self,
        app_id: &str,
        jti: &str,
        keep_until: u64,
    ) -> Result<bool, ReplayUnavailable> {
        let keep_until = i64::try_from(keep_until).unwrap_or(i64::MAX);
        self.0
            .remember_jti(app_id, jti, keep_until, crate::clock::now_secs())
            .await
            .map_err(|error| {
                tracing::error!(error = %crate::error::error_chain(&error), "cannot record a single-use token id");
                ReplayUnavailable
            })
    }
}

/// The other servers' events, applied by a few workers: the events of one
/// conversation (or session, or agent) always go to the same worker, so
/// they are delivered in the order they were sent; others in parallel.
fn spawn_relay(state: AppState, mut incoming: tokio::sync::mpsc::Receiver<Incoming>) {
    const WORKERS: usize = 8;
    // The events one worker takes at once (one read for their messages).
    const BATCH: usize = 256;
    // Events waiting for one worker; beyond, the worker is too far behind
    // for its sockets to trust what they hear: they resync.
    const WORKER_QUEUE: usize = 16_384;
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (send, mut receive) = tokio::sync::mpsc::channel::<Event>(WORKER_QUEUE);
            let state = state.clone();
            tokio::spawn(async move {
                let mut events = Vec::with_capacity(BATCH);
                while receive.recv_many(&mut events, BATCH).await > 0 {
                    crate::relay::apply_all(state.ctx(), std::mem::take(&mut events)).await;
                }
            });
            send
        })
        .collect();
    tokio::spawn(async move {
        while let Some(incoming) = incoming.recv().await {
            match incoming {
                Incoming::Event(event) => {
                    let worker = &workers[shard(&event) % WORKERS];
                    match worker.try_send(event) {
                        Ok(()) => {}
                        Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => {
                            tracing::warn!(
                                "the other servers' events came faster than they could be delivered; every socket resyncs"
                            );
                            state.hub.close_all(CloseReason::Lagged);
                        }
                        Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => return,
                    }
                }
                Incoming::Gap => {
                    // Events were missed: every socket refetches.
                    tracing::warn!(
                        "events from the other servers may have been missed; every socket resyncs"
                    );
                    state.hub.close_all(CloseReason::Lagged);
                }
            }
        }
    });
}

/// Which relay worker an event goes to: by the id its order matters for.
fn shard(event: &Event) -> usize {
    let key = match event {
        Event::Message {
            conversation_id, ..
        }
        | Event::Status { conversation_id }
        | Event::Conversation {
            conversation_id, ..
        } => conversation_id.as_str(),
        Event::SessionRevoked { session_id } | Event::SessionChanged { session_id } => session_id,
        Event::AgentGone { agent_id } => agent_id,
        Event::Queue => "",
        Event::QueueChanged { app_id } => app_id,
        Event::Typing {
            conversation_id, ..
        }
        | Event::Read {
            conversation_id, ..
        } => conversation_id,
    };
    key.bytes().fold(0usize, |hash, byte| {
        hash.wrapping_mul(31).wrapping_add(usize::from(byte))
    })
}
