//! [`ClientAddr`]: the one answer to "who is asking" that every limiter
//! uses.
//!
//! [`resolve`] runs first on every request: from the socket's peer
//! (`ConnectInfo<SocketAddr>`, set by [`super::conn`]) and, only when that
//! peer is in `server.trusted_proxies`, `X-Forwarded-For`
//! ([`crate::proxy::TrustedProxies::client`]), it works out the client's
//! address and stores it as [`ClientAddr`]. Like nginx's `real_ip` module,
//! it then rewrites `ConnectInfo<SocketAddr>` to that address (the peer's
//! port kept), so any handler reading the peer the axum way sees the same
//! client as the limiters do; the socket's own peer stays available as
//! [`PeerAddr`].

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

use crate::proxy::AddrKey;
use crate::state::AppState;

/// The `X-Forwarded-For` header.
const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The client's address: the socket's peer, or the address a trusted
/// proxy forwarded. `None` only for requests that came over no socket
/// (tests through `oneshot`); such requests share one bucket per limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

impl ClientAddr {
    /// The key per-address limits count this client by.
    pub fn key(self) -> Option<AddrKey> {
        self.0.map(AddrKey::of)
    }
}

/// The socket's own peer, before any `X-Forwarded-For`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        Ok(match parts.extensions.get::<ClientAddr>() {
            Some(client) => *client,
            None => client_of(parts, state),
        })
    }
}

/// Middleware: stores the [`ClientAddr`] and [`PeerAddr`] of the request
/// and rewrites `ConnectInfo` to the client (see the module docs).
pub async fn resolve(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    if parts.extensions.get::<ClientAddr>().is_none() {
        let client = client_of(&parts, &state);
        if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>().copied()
        {
            parts.extensions.insert(PeerAddr(peer));
            if let Some(ip) = client.0 {
                parts
                    .extensions
                    .insert(ConnectInfo(SocketAddr::new(ip, peer.port())));
            }
        }
        parts.extensions.insert(client);
    }
    next.run(Request::from_parts(parts, body)).await
}

fn client_of(parts: &Parts, state: &AppState) -> ClientAddr {
    let peer = parts
        .extensions
        .get::<PeerAddr>()
        .map(|PeerAddr(peer)| *peer)
        .or_else(|| {
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| *peer)
        });
    ClientAddr(peer.map(|peer| {
        let forwarded = parts
            .headers
            .get_all(X_FORWARDED_FOR)
            .iter()
            .filter_map(|value| value.to_str().ok());
        state
            .config
            .server
            .trusted_proxies
            .client(peer.ip(), forwarded)
    }))
}
