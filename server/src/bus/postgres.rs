//! [`PgBus`]: the bus of servers sharing one PostgreSQL database, with no
//! other broker: `NOTIFY` to publish (on a connection of its own, several
//! events in one statement), a `LISTEN` task to receive.
//!
//! Notifications are transient: those sent while a server's `LISTEN`
//! connection was down are lost to it. So when that connection comes back
//! the bus says so ([`Incoming::Gap`]) and the server tells all its
//! sockets to resync (close 4009): each fetches what it missed over HTTP,
//! and nothing is silently lost. While it is down the server is not ready
//! (`/readyz`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use tokio::sync::mpsc;

use super::{Bus, Event};

/// The channel every server of a database listens on.
pub const CHANNEL: &str = "trustchat_events";
/// Events waiting to be sent; beyond this a burst is dropped (and logged)
/// rather than grow without bound while the database does not answer.
const OUTBOX: usize = 65_536;
/// The most events sent in one statement.
const BATCH: usize = 256;
/// The wait before reconnecting after a failure.
const RETRY: Duration = Duration::from_millis(500);

/// What the `LISTEN` task hands to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// Another server's event.
    Event(Event),
    /// The `LISTEN` connection was lost and is back: events may have been
    /// missed meanwhile.
    Gap,
}

/// The Postgres bus of one server.
#[derive(Debug)]
pub struct PgBus {
    /// Events to send, in order.
    outbox: mpsc::Sender<Event>,
    /// Whether the `LISTEN` connection is up.
    connected: Arc<AtomicBool>,
}

impl PgBus {
    /// Connects to the database at `url` as server `server_id`: starts
    /// the sender and the `LISTEN` task, whose events (not this server's
    /// own) arrive on the returned receiver, in the order they were sent.
    pub async fn start(
        url: &str,
        server_id: String,
    ) -> anyhow::Result<(Arc<PgBus>, mpsc::Receiver<Incoming>)> {
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect(url)
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect the event bus to the database: {e}"))?;
        let listener = listen(url).await?;
        let (outbox, pending) = mpsc::channel(OUTBOX);
        let (incoming, received) = mpsc::channel(OUTBOX);
        let connected = Arc::new(AtomicBool::new(true));
        tokio::spawn(send_loop(pool, server_id.clone(), pending));
        tokio::spawn(listen_loop(
            url.to_owned(),
            listener,
            server_id,
            incoming,
            Arc::clone(&connected),
        ));
        Ok((Arc::new(PgBus { outbox, connected }), received))
    }
}

impl Bus for PgBus {
    fn publish(&self, event: Event) {
        if self.outbox.try_send(event).is_err() {
            tracing::error!("event bus outbox full: an event for the other servers was dropped");
        }
    }

    fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }
}

/// Sends `events` to the servers of the database at `url` once, as
/// `sender` (a command run beside them, such as `agent remove`).
pub async fn notify_once(url: &str, sender: &str, events: &[Event]) -> anyhow::Result<()> {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot tell the servers: {e}"))?;
    let payloads: Vec<String> = events.iter().map(|e| e.encode(sender)).collect();
    sqlx::query(
        "SELECT pg_notify($1, payload) FROM unnest($2::text[]) WITH ORDINALITY AS t(payload, n) \
         ORDER BY n",
    )
    .bind(CHANNEL)
    .bind(&payloads)
    .execute(&mut conn)
    .await
    .map_err(|e| anyhow::anyhow!("cannot tell the servers: {e}"))?;
    let _ = conn.close().await;
    Ok(())
}

async fn listen(url: &str) -> anyhow::Result<PgListener> {
    let mut listener = PgListener::connect(url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen for the other servers' events: {e}"))?;
    listener
        .listen(CHANNEL)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen for the other servers' events: {e}"))?;
    Ok(listener)
}

/// Sends what is queued, up to [`BATCH`] events per statement, in order;
/// a failing statement is retried until the database answers.
async fn send_loop(pool: PgPool, server_id: String, mut pending: mpsc::Receiver<Event>) {
    let mut batch = Vec::with_capacity(BATCH);
    while pending.recv_many(&mut batch, BATCH).await > 0 {
        let payloads: Vec<String> = batch.drain(..).map(|e| e.encode(&server_id)).collect();
        loop {
            let sent = sqlx::query(
                "SELECT pg_notify($1, payload) FROM unnest($2::text[]) WITH ORDINALITY AS t(payload, n) \
                 ORDER BY n",
            )
            .bind(CHANNEL)
            .bind(&payloads)
            .execute(&pool)
            .await;
            match sent {
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(%error, "cannot notify the other servers; retrying");
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }
}

/// Receives the other servers' events; reconnects when the connection is
/// lost, and then reports the gap.
async fn listen_loop(
    url: String,
    mut listener: PgListener,
    server_id: String,
    incoming: mpsc::Sender<Incoming>,
    connected: Arc<AtomicBool>,
) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                let Some((from, event)) = Event::decode(notification.payload()) else {
                    tracing::warn!("ignored a notification that is not an event");
                    continue;
                };
                if from != server_id && incoming.send(Incoming::Event(event)).await.is_err() {
                    return;
                }
            }
            Ok(None) | Err(_) => {
                connected.store(false, Ordering::Relaxed);
                tracing::warn!("lost the connection for the other servers' events; reconnecting");
                listener = loop {
                    tokio::time::sleep(RETRY).await;
                    match listen(&url).await {
                        Ok(listener) => break listener,
                        Err(error) => tracing::warn!(%error, "still cannot listen"),
                    }
                };
                connected.store(true, Ordering::Relaxed);
                tracing::info!("listening for the other servers' events again");
                if incoming.send(Incoming::Gap).await.is_err() {
                    return;
                }
            }
        }
    }
}
