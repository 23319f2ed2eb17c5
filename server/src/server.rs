//! Running the HTTP server: bind, open the store, announce readiness, serve
//! until asked to stop.

use std::future::Future;
use std::io::Write as _;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::hub::CloseReason;
use crate::state::AppState;
use crate::{console, http, store};

/// Binds the configured listen address (port 0 picks a free port).
pub async fn bind(config: &Config) -> anyhow::Result<TcpListener> {
    let address = config.server.listen;
    TcpListener::bind(address)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {address}: {e}"))
}

/// Opens the database, then serves on `listener` until `shutdown`
/// completes, letting requests in flight finish.
///
/// Once the server accepts requests it prints exactly one line to stdout,
/// `trustchat-server listening on http://ADDR`, which scripts and tests
/// wait for; everything else goes to the log on stderr.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store =
        store::connect_with(&config.server.database_url, &config.server.store_options()).await?;
    if !config.server.static_dir.is_dir() {
        tracing::warn!(
            static_dir = %config.server.static_dir.display(),
            "static_dir does not exist; only the API is served"
        );
    }
    let state = AppState::new(config, store).await?;
    serve(state, listener, shutdown).await
}

/// Serves `state` on `listener` until `shutdown` completes, then closes
/// the store. [`run`] calls it; tests that need to reach the state (the
/// hub, the store) while the server runs call it directly.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = state.store.clone();
    let address = listener.local_addr()?;
    // Unread replies by email, with `[smtp]`; stopped after the requests
    // in flight, once its email in flight (if any) is recorded.
    let emails = crate::email::start(
        state.config.clone(),
        state.store.clone(),
        state.email_wake.clone(),
    )?;
    // Prometheus's own listener, when configured.
    let (stop_metrics, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
    let metrics = match state.config.server.metrics_listen {
        Some(metrics_address) => {
            let listener = crate::metrics::bind(metrics_address).await?;
            Some(tokio::spawn(crate::metrics::serve(
                state.clone(),
                listener,
                async {
                    let _ = metrics_stopped.await;
                },
            )))
        }
        None => None,
    };
    // Webhooks, when an app has any: the outbox is delivered; stopped
    // after the requests in flight, once its attempts are recorded.
    let webhooks = match crate::webhooks::start(
        state.config.clone(),
        state.store.clone(),
        state.webhook_wake.clone(),
    ) {
        Ok(webhooks) => webhooks,
        Err(error) => {
            if let Some(emails) = emails {
                emails.stop().await;
            }
            let _ = stop_metrics.send(());
            return Err(error);
        }
    };
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "trustchat-server listening on http://{address}")?;
        stdout.flush()?;
    }
    tracing::info!(%address, apps = state.config.apps.len(), "serving");
    // Presence and the queue: this server's agents are written every
    // heartbeat (and when they come or go), and whatever waits in the
    // queue is handed out to agents online anywhere.
    let heartbeat = tokio::spawn(heartbeat(state.clone()));
    // `[apps.retention]`: old closed conversations go, at start and hourly.
    let retention = crate::privacy::start_retention(state.store.clone(), state.config.clone());
    // WebSockets are not requests graceful shutdown waits for: tell them
    // to reconnect (close 1012, to another server behind the balancer) as
    // soon as the shutdown starts; this server's agents go offline.
    let hub = state.hub.clone();
    let presence = state.presence.clone();
    let shutdown = async move {
        shutdown.await;
        heartbeat.abort();
        if let Some(retention) = retention {
            retention.abort();
        }
        hub.close_all(CloseReason::Shutdown);
        if let Err(error) = presence.leave().await {
            tracing::warn!(error = %crate::error::error_chain(&error), "could not take this server's agents offline");
        }
    };
    // Timeouts and the connection cap; the peer address reaches handlers
    // as `ConnectInfo` (resolved through trusted proxies by `http::client`).
    let limits = http::conn::ConnLimits::new(&state.config.server);
    let served = http::conn::serve(listener, http::app(state), limits, shutdown).await;
    let _ = stop_metrics.send(());
    if let Some(metrics) = metrics {
        let _ = metrics.await;
    }
    if let Some(emails) = emails {
        emails.stop().await;
    }
    if let Some(webhooks) = webhooks {
        webhooks.stop().await;
    }
    store.close().await;
    tracing::info!("stopped");
    served.map_err(Into::into)
}

/// Every [`crate::presence::HEARTBEAT`] (or sooner, when this server's agents
/// came or went): writes this server's agents, reads everybody's, and
/// hands out the queue when an agent is online anywhere (a conversation
/// queued while two servers crossed, or put back by `agent remove`).
async fn heartbeat(state: AppState) {
    loop {
        match state.presence.heartbeat().await {
            Ok(changed) => {
                if changed {
                    // The others refresh their view and hand out the queue.
                    state.bus.publish(crate::bus::Event::Queue);
                }
                if state.presence.any_online() {
                    if let Err(error) = console::drain_queue(state.ctx()).await {
                        tracing::warn!(error = %crate::error::error_chain(&error), "handing out the queue failed");
                    }
                }
                // Office hours begin and end, agents come and go: the
                // widgets of each app whose availability changed hear it.
                if let Err(error) = state
                    .availabilities
                    .push_changes(state.ctx(), &state.config)
                    .await
                {
                    tracing::warn!(error = %crate::error::error_chain(&error), "pushing availability failed");
                }
            }
            Err(error) => {
                tracing::warn!(error = %crate::error::error_chain(&error), "presence heartbeat failed");
            }
        }
        state.presence.next_beat().await;
    }
}

/// Makes the allocator give blocks of 1 MiB and more back to the OS as soon
/// as they are freed. Call it once, first thing in the process.
///
/// Each agent login's argon2 check allocates one 19 MiB block. glibc's
/// malloc raises its mmap threshold past the size of a freed mmap'd block,
/// so from the second check on those blocks come from the heap arena of
/// whichever blocking thread ran the check, and stay there once freed: a
/// storm of 200 bad logins left 473 MiB resident although only two checks
/// ever ran at once (`scripts/bench-logins.mjs`). Setting the threshold
/// turns that adjustment off, so memory follows the checks running now.
/// Other platforms' allocators are left as they are.
pub fn return_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: `mallopt` only sets a tunable of glibc's malloc (under its
    // own lock); no memory is touched.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
