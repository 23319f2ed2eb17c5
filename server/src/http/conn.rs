//! The accept loop: HTTP/1.1 connections served by hyper, with the limits
//! `axum::serve` does not have.
//!
//! - **Connection cap** (`server.max_connections`): each accepted socket
//!   takes a permit, held by the socket itself, so an upgraded WebSocket
//!   keeps it until it closes. Beyond the cap a connection is answered
//!   `503 server_busy` and closed (a few at a time; past that, closed at
//!   once), never left hanging.
//! - **Header read timeout** (`server.header_read_timeout_secs`): hyper's
//!   own; it runs whenever a connection waits for a request's headers, from
//!   the accept or the end of the previous response. A client that sends
//!   half its headers is cut off.
//! - **Body read timeout** (`server.body_read_timeout_secs`): a deadline
//!   for the whole body, from the end of the headers. A body still
//!   arriving then fails for its reader, and the client gets `408
//!   request_timeout` and a closed connection.
//! - **Idle keep-alive timeout** (`server.keep_alive_idle_secs`): a
//!   connection with no request in flight that has received nothing for
//!   this long is closed.
//!
//! Once upgraded, a WebSocket is no longer hyper's: none of these timeouts
//! touch it (it has its own ping and idle policy in [`super::ws`]), but it
//! still counts toward the cap.
//!
//! Shutdown is graceful: the loop stops accepting, idle connections close,
//! requests in flight finish, and [`serve`] returns when they have.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::header::{HeaderValue, CONNECTION};
use axum::http::{Request, Response};
use axum::response::IntoResponse as _;
use axum::Router;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt as _;

use crate::config::ServerConfig;
use crate::error::ApiError;

/// Connections over the cap answered `503` at once; beyond these, closed
/// without an answer (each answer costs a task and a file descriptor).
const OVERFLOW_ANSWERS: usize = 64;

/// The longest an over-the-cap connection is kept to answer it.
const OVERFLOW_DEADLINE: Duration = Duration::from_secs(5);

/// The limits of one server's connections.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    /// Open connections at most.
    pub max_connections: usize,
    /// For a request's headers.
    pub header_read_timeout: Duration,
    /// For a request's whole body, from the end of its headers.
    pub body_read_timeout: Duration,
    /// For a connection with nothing in flight and nothing received.
    pub keep_alive_idle: Duration,
}

impl ConnLimits {
    /// The limits of the `[server]` table.
    pub fn new(server: &ServerConfig) -> ConnLimits {
        ConnLimits {
            max_connections: server.max_connections,
            header_read_timeout: Duration::from_secs(server.header_read_timeout_secs),
            body_read_timeout: Duration::from_secs(server.body_read_timeout_secs),
            keep_alive_idle: Duration::from_secs(server.keep_alive_idle_secs),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then waits
/// for the requests in flight. Handlers see the peer as
/// `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let overflow = Arc::new(Semaphore::new(OVERFLOW_ANSWERS));
    // `stop` tells connections to finish; every connection task holds a
    // `done` receiver, so `done_tx.closed()` completes when all are gone.
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, done_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_error(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        match Arc::clone(&permits).try_acquire_owned() {
            Ok(permit) => {
                let connection = Connection {
                    router: router.clone(),
                    limits: limits.clone(),
                    peer,
                    stop: stop_rx.clone(),
                    done: done_rx.clone(),
                };
                tokio::spawn(connection.run(stream, permit));
            }
            Err(_) => refuse(stream, peer, &overflow, limits.header_read_timeout),
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(done_rx);
    done_tx.closed().await;
    Ok(())
}

/// One accepted connection under the cap.
struct Connection {
    /// The app.
    router: Router,
    /// The timeouts.
    limits: ConnLimits,
    /// The socket's peer.
    peer: SocketAddr,
    /// Becomes `true` when the server shuts down.
    stop: watch::Receiver<bool>,
    /// Held until the connection is done.
    done: watch::Receiver<()>,
}

impl Connection {
    async fn run(mut self, stream: TcpStream, permit: OwnedSemaphorePermit) {
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Metered {
            inner: stream,
            activity: Arc::clone(&activity),
            _permit: permit,
        });
        let service = ConnService {
            router: self.router.clone(),
            peer: self.peer,
            activity: Arc::clone(&activity),
            body_read_timeout: self.limits.body_read_timeout,
        };
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout);
        let mut conn = pin!(builder.serve_connection(io, service).with_upgrades());
        let idle = self.limits.keep_alive_idle;
        let mut idle_check = pin!(tokio::time::sleep(idle));
        let mut closing = false;
        loop {
            tokio::select! {
                served = conn.as_mut() => {
                    if let Err(error) = served {
                        tracing::debug!(peer = %self.peer, %error, "connection ended with an error");
                    }
                    break;
                }
                _ = self.stop.changed(), if !closing => {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
                () = idle_check.as_mut(), if !closing => match activity.idle_for() {
                    Some(quiet) if quiet >= idle => {
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                    quiet => {
                        let left = idle.saturating_sub(quiet.unwrap_or_default());
                        idle_check.as_mut().reset(Instant::now() + left);
                    }
                },
            }
        }
        drop(self.done);
    }
}

/// Answers a connection over the cap with `503 server_busy`, then closes
/// it; or closes it at once when too many such answers are under way.
fn refuse(stream: TcpStream, peer: SocketAddr, overflow: &Arc<Semaphore>, header: Duration) {
    tracing::debug!(%peer, "connection refused: server.max_connections reached");
    let Ok(permit) = Arc::clone(overflow).try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header.min(Duration::from_secs(2)))
            .keep_alive(false);
        let busy = hyper::service::service_fn(|_request: Request<Incoming>| async {
            Ok::<_, Infallible>(ApiError::ServerBusy { retry_after: 1 }.into_response())
        });
        let answer = builder.serve_connection(TokioIo::new(stream), busy);
        let _ = tokio::time::timeout(OVERFLOW_DEADLINE, answer).await;
    });
}

/// Like axum's loop: per-connection errors are the peer's business; others
/// (out of file descriptors) are logged and retried after a pause.
async fn accept_error(error: io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accept failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// What the idle check knows of a connection.
#[derive(Debug)]
struct Activity {
    /// When the connection was accepted.
    start: Instant,
    /// Requests whose responses are not fully written yet.
    in_flight: AtomicUsize,
    /// Milliseconds from `start` to the end of the last response.
    last_done_ms: AtomicU64,
    /// Whether bytes arrived since then (a request is on its way).
    heard: AtomicBool,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_done_ms: AtomicU64::new(0),
            heard: AtomicBool::new(false),
        }
    }

    /// How long the connection has been idle: nothing in flight and
    /// nothing received since the last response; `None` when it is not.
    fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::Relaxed) > 0 || self.heard.load(Ordering::Relaxed) {
            return None;
        }
        let since = Duration::from_millis(self.last_done_ms.load(Ordering::Relaxed));
        Some(self.start.elapsed().saturating_sub(since))
    }
}

/// Counts one request in flight until dropped with its response body.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn enter(activity: &Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(activity))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        if activity.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            let now = u64::try_from(activity.start.elapsed().as_millis()).unwrap_or(u64::MAX);
            activity.last_done_ms.store(now, Ordering::Relaxed);
            activity.heard.store(false, Ordering::Relaxed);
        }
    }
}

/// The socket, noting when bytes arrive and holding the connection's
/// permit for as long as it lives (an upgraded WebSocket takes it along).
struct Metered {
    /// The socket.
    inner: TcpStream,
    /// Shared with the idle check.
    activity: Arc<Activity>,
    /// Given back when the socket closes.
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for Metered {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.heard.store(true, Ordering::Relaxed);
        }
        read
    }
}

impl AsyncWrite for Metered {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The app as hyper calls it on one connection.
#[derive(Clone)]
struct ConnService {
    /// The app.
    router: Router,
    /// The socket's peer, for `ConnectInfo`.
    peer: SocketAddr,
    /// Requests in flight, for the idle check.
    activity: Arc<Activity>,
    /// The deadline of every request body.
    body_read_timeout: Duration,
}

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let in_flight = InFlight::enter(&self.activity);
        let timeout = self.body_read_timeout;
        let timed_out = Arc::new(AtomicBool::new(false));
        let mut request = request.map(|body| {
            if body.is_end_stream() {
                Body::new(body)
            } else {
                Body::new(Deadline::new(body, timeout, Arc::clone(&timed_out)))
            }
        });
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let router = self.router.clone();
        Box::pin(async move {
            let response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let response = if timed_out.load(Ordering::Relaxed) {
                let mut response = ApiError::RequestTimeout(timeout.as_secs()).into_response();
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
                response
            } else {
                response
            };
            Ok(response.map(|body| {
                Body::new(Tracked {
                    inner: body,
                    _in_flight: in_flight,
                })
            }))
        })
    }
}

/// A request body that fails once its deadline passes.
struct Deadline {
    /// The body as hyper reads it.
    inner: Incoming,
    /// When it must be in.
    deadline: Pin<Box<Sleep>>,
    /// Set when the deadline cut the body, for the response.
    timed_out: Arc<AtomicBool>,
}

impl Deadline {
    fn new(inner: Incoming, timeout: Duration, timed_out: Arc<AtomicBool>) -> Deadline {
        Deadline {
            inner,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            timed_out,
        }
    }
}

/// The error a [`Deadline`] body fails with.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTimedOut;

impl HttpBody for Deadline {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.timed_out.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(BodyTimedOut.into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that keeps its request counted in flight until hyper
/// has written it and drops it.
struct Tracked {
    /// The app's body.
    inner: Body,
    /// Dropped with the body.
    _in_flight: InFlight,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
