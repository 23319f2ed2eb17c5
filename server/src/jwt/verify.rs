//! Verifying identity tokens, in an order that trusts nothing about the
//! claims before the signature holds: size and shape → header (`alg`,
//! forbidden members) → key lookup by `kid` → the key's algorithm must equal
//! the header's → signature → claim types → required claims → audience and
//! issuer → time → lifetime.

use std::borrow::Cow;
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde_json::Value;
use trustchat_protocol::validate;

use super::compact::{self, Audience, Compact, Raw};
use super::keys::{Alg, Key, KeyRing};
use super::remote::RemoteJwks;
use super::replay::ReplayGuard;

/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Why a token was refused: a stable code programs can match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Not a three-part base64url JWS with a JSON object header and payload.
    MalformedToken,
    /// `alg` is `none` (any spelling), unsupported, or not the key's algorithm.
    AlgorithmNotAllowed,
    /// `jku`, `x5u`, `x5c`, `jwk`, `crit` or `b64` in the header.
    ForbiddenHeader,
    /// The `kid` names no key of the app (or the token has no `kid` and the
    /// app has several keys).
    UnknownKey,
    /// The signature does not verify with the key.
    BadSignature,
    /// `exp` has passed (beyond the leeway).
    TokenExpired,
    /// `nbf` or `iat` lies in the future (beyond the leeway).
    TokenNotYetValid,
    /// `aud` does not contain the app id.
    WrongAudience,
    /// `iss` is not the configured issuer.
    WrongIssuer,
    /// A required claim is absent.
    MissingClaim,
    /// A claim has the wrong JSON type or an invalid value.
    InvalidClaim,
    /// `exp - iat` (or `exp - now`) is above the app's maximum lifetime.
    LifetimeTooLong,
    /// A single-use token's `jti` was seen before.
    TokenReplayed,
    /// A single-use token's `jti` could not be recorded (the database
    /// failed): refused rather than risk a replay.
    ReplayCheckUnavailable,
    /// The token's key is not a local one and the app's JWKS URL has not
    /// been fetched successfully for longer than `jwks_max_stale_secs`
    /// (or ever): its keys no longer verify.
    JwksUnavailable,
}

impl Reason {
    /// The stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            Reason::MalformedToken => "malformed_token",
            Reason::AlgorithmNotAllowed => "algorithm_not_allowed",
            Reason::ForbiddenHeader => "forbidden_header",
            Reason::UnknownKey => "unknown_key",
            Reason::BadSignature => "bad_signature",
            Reason::TokenExpired => "token_expired",
            Reason::TokenNotYetValid => "token_not_yet_valid",
            Reason::WrongAudience => "wrong_audience",
            Reason::WrongIssuer => "wrong_issuer",
            Reason::MissingClaim => "missing_claim",
            Reason::InvalidClaim => "invalid_claim",
            Reason::LifetimeTooLong => "lifetime_too_long",
            Reason::TokenReplayed => "token_replayed",
            Reason::ReplayCheckUnavailable => "replay_check_unavailable",
            Reason::JwksUnavailable => "jwks_unavailable",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A refused token: the reason code and a message for the site developer.
/// The message never holds a secret or the token itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct Refusal {
    /// The stable code.
    pub reason: Reason,
    /// Lowercase, no final dot, says what to fix.
    pub message: String,
}

impl Refusal {
    fn new(reason: Reason, message: impl Into<String>) -> Self {
        Refusal {
            reason,
            message: message.into(),
        }
    }
}

/// The identity a verified token proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The site's user id (`sub`).
    pub sub: String,
    /// `email`, validated and normalized (trimmed, ASCII-lowercased).
    pub email: Option<String>,
    /// `phone_number`, validated and normalized to E.164.
    pub phone: Option<String>,
    /// `name`, normalized; `None` when absent or blank.
    pub name: Option<String>,
    /// `given_name`, normalized; `None` when absent or blank.
    pub given_name: Option<String>,
    /// Expiry, Unix seconds.
    pub exp: u64,
    /// Issued-at, Unix seconds, when the token has one.
    pub iat: Option<u64>,
    /// Token id, when the token has one (always under single-use).
    pub jti: Option<String>,
}

/// A token whose signature and claims passed every check.
///
/// The header and claims are kept as the signed JSON bytes and turned into
/// [`Value`]s only on demand ([`VerifiedToken::header`],
/// [`VerifiedToken::claims`]): the sessions endpoint never needs them, and
/// building them costs as much as the HMAC itself.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    header_json: Vec<u8>,
    claims_json: Vec<u8>,
    /// The typed identity the server acts on.
    pub identity: Identity,
    /// The kid of the key that verified the token.
    pub kid: String,
    /// The key's (and so the token's) algorithm.
    pub alg: Alg,
}

impl VerifiedToken {
    /// The decoded header, for the token debugger.
    pub fn header(&self) -> Value {
        serde_json::from_slice(&self.header_json).unwrap_or(Value::Null)
    }

    /// The decoded claims (all of them, unknown ones included), for the
    /// token debugger; the payload's text as a string when `Value` cannot
    /// hold it (a number beyond `f64` in a claim the server does not read).
    pub fn claims(&self) -> Value {
        serde_json::from_slice(&self.claims_json).unwrap_or_else(|_| {
            Value::String(String::from_utf8_lossy(&self.claims_json).into_owned())
        })
    }
}

/// The claim policy of one app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The app id, which `aud` must contain.
    pub app_id: String,
    /// When set, `iss` is required and must equal it.
    pub issuer: Option<String>,
    /// Longest allowed `exp - iat` (or `exp - now` without `iat`).
    pub max_lifetime_secs: u64,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway_secs: u64,
    /// When true, `jti` is required and replays are refused.
    pub single_use: bool,
    /// The kid [`Verifier::mint`] signs with; `None` means the only key
    /// that can sign.
    pub mint_kid: Option<String>,
}

/// Verifies (and mints) the identity tokens of one app.
///
/// Cheap to share behind an `Arc`; the key ring is read with one atomic
/// load per token (`ArcSwap`), so a JWKS refresh never blocks verification.
pub struct Verifier {
    pub(crate) policy: Policy,
    /// Keys from the config (file, inline, env): always present.
    pub(crate) static_ring: Arc<KeyRing>,
    /// `static_ring` merged with the last good remote set.
    pub(crate) ring: ArcSwap<KeyRing>,
    pub(crate) remote: Option<RemoteJwks>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("policy", &self.policy)
            .field("kids", &self.ring.load().kids())
            .field("remote", &self.remote.as_ref().map(|r| r.url()))
            .finish()
    }
}

impl Verifier {
    /// A verifier over a fixed key ring (no JWKS URL).
    pub fn new(policy: Policy, ring: KeyRing) -> Verifier {
        let ring = Arc::new(ring);
        Verifier {
            policy,
            static_ring: Arc::clone(&ring),
            ring: ArcSwap::new(ring),
            remote: None,
        }
    }

    /// The app's claim policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The current key ring (static keys plus the last good remote set).
    pub fn ring(&self) -> Arc<KeyRing> {
        self.ring.load_full()
    }

    /// Verifies a token completely at `now_unix`. Pure and synchronous: it
    /// neither fetches keys nor records `jti`s. Use [`Verifier::verify_fresh`]
    /// where a JWKS URL may have rotated, and [`Verifier::verify_once`] (or a
    /// [`ReplayGuard`] yourself) for single-use tokens.
    pub fn verify(&self, token: &str, now_unix: u64) -> Result<VerifiedToken, Refusal> {
        self.with_ring(|ring| {
            let (parts, key) = self.check_signature(ring, token)?;
            let claims: compact::Claims<'_> =
                compact::parse_object(&parts.payload).map_err(|e| {
                    Refusal::new(
                        Reason::MalformedToken,
                        format!("the payload is not a JSON object: {e}"),
                    )
                })?;
            let identity = check_claims(&self.policy, claims, now_unix)?;
            Ok(VerifiedToken {
                header_json: parts.header_json,
                claims_json: parts.payload,
                identity,
                kid: key.kid().to_owned(),
                alg: key.alg(),
            })
        })
    }

    /// Checks the header and signature only, for the token debugger's
    /// `--signature-only`: returns the header and the raw payload, which
    /// need not be JSON. Claims (expiry, audience, ...) are not looked at.
    pub fn verify_signature_only(&self, token: &str) -> Result<(Value, Vec<u8>), Refusal> {
        self.with_ring(|ring| {
            let (parts, _) = self.check_signature(ring, token)?;
            let header = serde_json::from_slice(&parts.header_json).unwrap_or(Value::Null);
            Ok((header, parts.payload))
        })
    }

    /// Runs `f` on the keys that may verify now: the local ones and the
    /// JWKS URL's last good set while it is fresh; only the local ones
    /// once it is stale.
    fn with_ring<T>(&self, f: impl FnOnce(&KeyRing) -> T) -> T {
        match &self.remote {
            Some(remote) if !remote.is_fresh() => f(&self.static_ring),
            _ => f(&self.ring.load()),
        }
    }

    /// [`check_signature`], with a stale JWKS URL named as the reason when
    /// the key is not a local one.
    fn check_signature<'t, 'r>(
        &self,
        ring: &'r KeyRing,
        token: &'t str,
    ) -> Result<(Compact<'t>, &'r Key), Refusal> {
        check_signature(ring, token).map_err(|refusal| match &self.remote {
            Some(remote) if refusal.reason == Reason::UnknownKey && !remote.is_fresh() => {
                let max = remote.max_stale().as_secs();
                let when = match remote.age() {
                    Some(age) => format!("was last fetched {} s ago", age.as_secs()),
                    None => "has not been fetched since the server started".to_owned(),
                };
                Refusal::new(
                    Reason::JwksUnavailable,
                    format!(
                        "the key set at jwks_url {} {when}, and keys older than {max} s (jwks_max_stale_secs) no longer verify; make the URL answer with the current keys",
                        remote.url()
                    ),
                )
            }
            _ => refusal,
        })
    }

    /// [`Verifier::verify`], but when the token names an unknown kid (or
    /// the JWKS URL's set is stale) and the app has a JWKS URL, refreshes
    /// the set once (rate-limited, see
    /// [`super::RemoteOptions::min_refresh_gap`]) and tries again. This is
    /// what the sessions endpoint should call: a site that rotates its keys
    /// is served as soon as the new key is published.
    pub async fn verify_fresh(&self, token: &str, now_unix: u64) -> Result<VerifiedToken, Refusal> {
        match self.verify(token, now_unix) {
            Err(refusal)
                if matches!(refusal.reason, Reason::UnknownKey | Reason::JwksUnavailable)
                    && self.remote.is_some() =>
            {
                // Retry even when this call did not fetch: a concurrent call
                // may just have swapped in the set holding the kid.
                self.refresh_for_unknown_kid().await;
                self.verify(token, now_unix)
            }
            other => other,
        }
    }

    /// [`Verifier::verify_fresh`], then, when the app has single-use tokens,
    /// records the `jti` in `guard` and refuses a replay.
    pub async fn verify_once(
        &self,
        token: &str,
        now_unix: u64,
        guard: &dyn ReplayGuard,
    ) -> Result<VerifiedToken, Refusal> {
        let verified = self.verify_fresh(token, now_unix).await?;
        self.check_replay(&verified, guard).await?;
        Ok(verified)
    }

    /// Records a verified token's `jti` when the app has single-use tokens;
    /// refuses one seen before. A no-op otherwise.
    pub async fn check_replay(
        &self,
        verified: &VerifiedToken,
        guard: &dyn ReplayGuard,
    ) -> Result<(), Refusal> {
        if !self.policy.single_use {
            return Ok(());
        }
        let Some(jti) = verified.identity.jti.as_deref() else {
            // `verify` requires jti under single-use; this is defence in depth.
            return Err(Refusal::new(
                Reason::MissingClaim,
                "single-use tokens need a \"jti\" claim",
            ));
        };
        // Remember the jti as long as the token could still be accepted.
        let keep_until = verified
            .identity
            .exp
            .saturating_add(self.policy.leeway_secs);
        match guard.remember(&self.policy.app_id, jti, keep_until).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Refusal::new(
                Reason::TokenReplayed,
                format!("token with jti {:?} was already used; mint a new token (with a new jti) for every session", truncate(jti, 64)),
            )),
            Err(_) => Err(Refusal::new(
                Reason::ReplayCheckUnavailable,
                "this app's tokens are single-use and their use cannot be recorded right now; try again in a moment",
            )),
        }
    }
}

/// Header checks, key lookup and signature. Nothing in the payload is
/// looked at here.
fn check_signature<'t, 'r>(
    ring: &'r KeyRing,
    token: &'t str,
) -> Result<(Compact<'t>, &'r Key), Refusal> {
    let parts = compact::split(token, MAX_TOKEN_BYTES)
        .map_err(|m| Refusal::new(Reason::MalformedToken, m))?;
    let header: compact::Header<'_> = compact::parse_object(&parts.header_json).map_err(|e| {
        Refusal::new(
            Reason::MalformedToken,
            format!("the header is not a JSON object: {e}"),
        )
    })?;
    let alg_name = match &header.alg {
        Some(Raw::Str(alg)) => alg.as_ref(),
        Some(_) => {
            return Err(Refusal::new(
                Reason::MalformedToken,
                "header \"alg\" must be a string",
            ))
        }
        None => {
            return Err(Refusal::new(
                Reason::MalformedToken,
                "header has no \"alg\"",
            ))
        }
    };
    if alg_name.trim().eq_ignore_ascii_case("none") {
        return Err(Refusal::new(
            Reason::AlgorithmNotAllowed,
            "unsigned tokens (alg none) are never accepted; sign the token with the app's key",
        ));
    }
    let forbidden = [
        ("jku", header.jku),
        ("x5u", header.x5u),
        ("x5c", header.x5c),
        ("jwk", header.jwk),
    ];
    for (member, present) in forbidden {
        if present {
            return Err(Refusal::new(
                Reason::ForbiddenHeader,
                format!("header {member:?} is not accepted: keys come only from the app's configuration; remove it"),
            ));
        }
    }
    if header.crit {
        return Err(Refusal::new(
            Reason::ForbiddenHeader,
            "header \"crit\" names extensions this server does not understand; remove it",
        ));
    }
    if header
        .b64
        .as_ref()
        .is_some_and(|b64| *b64 != Raw::Bool(true))
    {
        return Err(Refusal::new(
            Reason::ForbiddenHeader,
            "unencoded payloads (b64 false) are not accepted",
        ));
    }
    let key = match &header.kid {
        Some(Raw::Str(kid)) => match ring.get(kid.as_ref()) {
            Some(key) => key,
            None => return Err(unknown_kid(ring, kid)),
        },
        Some(_) => return Err(Refusal::new(Reason::MalformedToken, "header \"kid\" must be a string")),
        None => match ring.only_key() {
            Some(key) => key,
            None => {
                return Err(Refusal::new(
                    Reason::UnknownKey,
                    format!(
                        "token has no \"kid\" and the app has {} keys; put the kid of the signing key in the header",
                        ring.len()
                    ),
                ))
            }
        },
    };
    if alg_name != key.alg().name() {
        let known = if Alg::parse(alg_name).is_some() {
            ""
        } else {
            " (an algorithm this server does not support)"
        };
        return Err(Refusal::new(
            Reason::AlgorithmNotAllowed,
            format!(
                "token alg {:?}{known} does not match key {:?}, which is bound to {}; sign with {}",
                truncate(alg_name, 32),
                key.kid(),
                key.alg(),
                key.alg()
            ),
        ));
    }
    if !key.verify_signature(parts.signing_input, &parts.signature) {
        return Err(Refusal::new(
            Reason::BadSignature,
            format!(
                "signature does not verify with key {:?} ({}); check the token was signed with that key and not altered",
                key.kid(),
                key.alg()
            ),
        ));
    }
    Ok((parts, key))
}

fn unknown_kid(ring: &KeyRing, kid: &str) -> Refusal {
    let kid_shown = truncate(kid, 64);
    if let Some(why) = ring.ignored_reason(kid) {
        return Refusal::new(
            Reason::UnknownKey,
            format!("key {kid_shown:?} cannot verify tokens: {why}; publish it with use \"sig\""),
        );
    }
    let mut known = ring.kids();
    let more = known.len().saturating_sub(10);
    known.truncate(10);
    let list = if known.is_empty() {
        "the app has no keys loaded".to_owned()
    } else if more > 0 {
        format!("known kids: {} and {more} more", known.join(", "))
    } else {
        format!("known kids: {}", known.join(", "))
    };
    Refusal::new(
        Reason::UnknownKey,
        format!("kid {kid_shown:?} is not a key of this app ({list})"),
    )
}

/// Claim checks on the raw JSON, after the signature verified.
fn check_claims(
    policy: &Policy,
    claims: compact::Claims<'_>,
    now: u64,
) -> Result<Identity, Refusal> {
    // 1. Types and formats of every claim we know, present or not.
    let exp = numeric_date("exp", claims.exp)?;
    let nbf = numeric_date("nbf", claims.nbf)?;
    let iat = numeric_date("iat", claims.iat)?;
    let sub = string_claim("sub", claims.sub)?;
    let iss = string_claim("iss", claims.iss)?;
    let jti = string_claim("jti", claims.jti)?;
    let aud = audience(claims.aud)?;
    let email = string_claim("email", claims.email)?
        .map(|e| validate::email(&e).map_err(|i| invalid("email", i.message)))
        .transpose()?;
    let phone = string_claim("phone_number", claims.phone_number)?
        .map(|p| validate::phone(&p).map_err(|i| invalid("phone_number", i.message)))
        .transpose()?;
    let name = display_name("name", claims.name)?;
    let given_name = display_name("given_name", claims.given_name)?;
    if sub
        .as_ref()
        .is_some_and(|s| s.trim().is_empty() || s.len() > 255)
    {
        return Err(invalid(
            "sub",
            "sub must be a non-empty string of at most 255 bytes",
        ));
    }
    if jti.as_ref().is_some_and(|j| j.is_empty() || j.len() > 255) {
        return Err(invalid(
            "jti",
            "jti must be a non-empty string of at most 255 bytes",
        ));
    }

    // 2. Required claims.
    let missing = |claim: &str, why: &str| {
        Refusal::new(
            Reason::MissingClaim,
            format!("claim {claim:?} is required; {why}"),
        )
    };
    let exp = exp.ok_or_else(|| {
        missing(
            "exp",
            "set it to when the token stops being valid (Unix seconds)",
        )
    })?;
    let aud =
        aud.ok_or_else(|| missing("aud", &format!("set it to the app id {:?}", policy.app_id)))?;
    let sub = sub.ok_or_else(|| missing("sub", "set it to the site's id for this user"))?;
    if policy.issuer.is_some() && iss.is_none() {
        return Err(missing(
            "iss",
            &format!(
                "this app requires issuer {:?}",
                policy.issuer.as_deref().unwrap_or("")
            ),
        ));
    }
    if policy.single_use && jti.is_none() {
        return Err(missing(
            "jti",
            "this app accepts single-use tokens only; give each token a unique jti",
        ));
    }
    if email.is_none() && phone.is_none() {
        return Err(Refusal::new(
            Reason::MissingClaim,
            "claim \"email\" or \"phone_number\" is required; the customer is identified by one of them",
        ));
    }

    // 3. Audience and issuer.
    let audiences: &[Cow<'_, str>] = match &aud {
        Audience::One(one) => std::slice::from_ref(one),
        Audience::Many(many) => many,
        Audience::Invalid(_) => &[],
    };
    if !audiences.iter().any(|a| *a == policy.app_id) {
        let shown: Vec<String> = audiences
            .iter()
            .take(5)
            .map(|a| format!("{:?}", truncate(a, 64)))
            .collect();
        return Err(Refusal::new(
            Reason::WrongAudience,
            format!(
                "token audience is [{}] but this app is {:?}; set aud to the app id",
                shown.join(", "),
                policy.app_id
            ),
        ));
    }
    if let (Some(expected), Some(iss)) = (&policy.issuer, &iss) {
        if iss != expected {
            return Err(Refusal::new(
                Reason::WrongIssuer,
                format!(
                    "token issuer is {:?} but this app expects {expected:?}",
                    truncate(iss, 128)
                ),
            ));
        }
    }

    // 4. Time.
    let leeway = policy.leeway_secs;
    if now >= exp.saturating_add(leeway) {
        return Err(Refusal::new(
            Reason::TokenExpired,
            format!(
                "token expired at {}, {} s ago (leeway {leeway} s); mint a fresh token",
                rfc3339(exp),
                now - exp
            ),
        ));
    }
    if let Some(nbf) = nbf {
        if nbf > now.saturating_add(leeway) {
            return Err(Refusal::new(
                Reason::TokenNotYetValid,
                format!(
                    "token is not valid before {} ({} s from now, leeway {leeway} s); check the signing server's clock",
                    rfc3339(nbf),
                    nbf - now
                ),
            ));
        }
    }
    if let Some(iat) = iat {
        if iat > now.saturating_add(leeway) {
            return Err(Refusal::new(
                Reason::TokenNotYetValid,
                format!(
                    "token was issued in the future, at {} ({} s from now, leeway {leeway} s); check the signing server's clock",
                    rfc3339(iat),
                    iat - now
                ),
            ));
        }
    }

    // 5. Lifetime.
    let max = policy.max_lifetime_secs;
    match iat {
        Some(iat) if exp.saturating_sub(iat) > max => {
            return Err(Refusal::new(
                Reason::LifetimeTooLong,
                format!("token lives {} s (exp - iat), more than the {max} s this app allows; shorten its expiry", exp - iat),
            ))
        }
        None if exp.saturating_sub(now) > max.saturating_add(leeway) => {
            return Err(Refusal::new(
                Reason::LifetimeTooLong,
                format!("token expires in {} s, more than the {max} s this app allows; shorten its expiry", exp - now),
            ))
        }
        _ => {}
    }

    Ok(Identity {
        sub: sub.into_owned(),
        email,
        phone,
        name,
        given_name,
        exp,
        iat,
        jti: jti.map(Cow::into_owned),
    })
}

fn invalid(claim: &str, what: &str) -> Refusal {
    Refusal::new(
        Reason::InvalidClaim,
        format!("claim {claim:?} is invalid: {what}"),
    )
}

fn type_error(claim: &str, expected: &str, got: &str) -> Refusal {
    Refusal::new(
        Reason::InvalidClaim,
        format!("claim {claim:?} must be {expected}, not {got}"),
    )
}

/// A NumericDate: RFC 7519 allows fractions, but we require whole,
/// non-negative seconds so there is one way to say a time.
fn numeric_date(claim: &str, value: Option<Raw<'_>>) -> Result<Option<u64>, Refusal> {
    match value {
        None => Ok(None),
        Some(Raw::UInt(n)) => Ok(Some(n)),
        Some(other) => Err(type_error(
            claim,
            "whole Unix seconds as a JSON integer",
            other.describe(),
        )),
    }
}

fn string_claim<'a>(claim: &str, value: Option<Raw<'a>>) -> Result<Option<Cow<'a, str>>, Refusal> {
    match value {
        None => Ok(None),
        Some(Raw::Str(s)) => Ok(Some(s)),
        Some(other) => Err(type_error(claim, "a string", other.describe())),
    }
}

fn audience(value: Option<Audience<'_>>) -> Result<Option<Audience<'_>>, Refusal> {
    match value {
        Some(Audience::Invalid(what)) => {
            Err(type_error("aud", "a string or an array of strings", what))
        }
        other => Ok(other),
    }
}

/// `name`/`given_name`: a string; blank means absent; otherwise it must pass
/// the shared name rules.
fn display_name(claim: &str, value: Option<Raw<'_>>) -> Result<Option<String>, Refusal> {
    match string_claim(claim, value)? {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => validate::name(&s)
            .map(Some)
            .map_err(|i| invalid(claim, i.message)),
    }
}

fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max_chars).collect();
        out.push('…');
        out
    }
}

/// Unix seconds as RFC 3339 UTC (`2026-11-23T10:00:00Z`), for messages.
pub(crate) fn rfc3339(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}
