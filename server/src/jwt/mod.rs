//! Identity tokens: the JWTs a website signs to prove who its customer is.
//!
//! This module is the product's core promise, so it is strict where RFC 8725
//! asks for strictness and says exactly why a token was refused:
//!
//! - [`config`]: the `[apps.identity]` table ([`IdentityConfig`]) and how its
//!   key sources (file, URL, inline JWKs, HMAC secrets from the environment)
//!   load into a [`KeyRing`].
//! - [`keys`]: JWK parsing. Every key is bound to exactly one [`Alg`] when it
//!   loads; the token's header never chooses the algorithm.
//! - [`verify`]: [`Verifier::verify`], pure and synchronous: header checks,
//!   key lookup, signature, and only then the claims. Refusals carry a stable
//!   [`Reason`] code and a message a site developer can act on.
//! - [`remote`]: JWKS URLs, fetched at start, refreshed on a schedule and on
//!   an unknown `kid` (rate-limited), keeping the last good set on failure.
//! - [`mint`]: tokens signed by the server for sites that would rather not
//!   hold keys.
//! - [`replay`]: single-use tokens ([`ReplayGuard`]).
//!
//! Invariants: no secret (HMAC key, private key part) is ever printed by a
//! `Debug` impl or put in a message; no URL found in a token (`jku`, `x5u`)
//! is ever fetched; crypto is done by `aws-lc-rs` with keys parsed once at
//! load, never per token.

pub mod config;
pub mod keys;
pub mod mint;
mod refresh;
pub mod remote;
pub mod replay;
pub mod verify;

mod compact;

#[cfg(test)]
mod tests;

pub use config::{
    EnvSecret, IdentityConfig, DEFAULT_LEEWAY_SECS, DEFAULT_MAX_LIFETIME_SECS, MAX_LEEWAY_SECS,
};
pub use keys::{Alg, Key, KeyError, KeyErrorKind, KeyRing, ALL_ALGS};
pub use mint::{MintError, MintIdentity};
pub use remote::RemoteOptions;
pub use replay::{
    MemoryReplayGuard, ReplayGuard, Unavailable as ReplayUnavailable, DEFAULT_REPLAY_CAPACITY,
};
pub use verify::{Identity, Policy, Reason, Refusal, VerifiedToken, Verifier, MAX_TOKEN_BYTES};
