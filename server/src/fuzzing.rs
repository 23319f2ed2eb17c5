//! The bodies of the fuzz targets in `fuzz/` (see RELIABILITY.md).
//!
//! Compiled only for tests and under cargo-fuzz (`--cfg fuzzing`), never
//! into the server. Each target takes one input the way the server takes
//! it from the outside (a token, a JWK set, the config file, a WebSocket
//! frame, a request body, a form field) and panics when an invariant
//! breaks, not only when the code under test panics: a token that verifies
//! came with the key's own algorithm and canonical base64url; a frame or a
//! body that parses serializes and parses back to itself; a normalized
//! value normalizes to itself; a config that loads validates again; a
//! token the server mints verifies.
//!
//! The tests at the end replay every checked-in input (`fuzz/seeds/`,
//! `fuzz/regressions/` and the hidden-input corpora of `fuzz/hidden/`,
//! each by target) on stable, so `cargo test` keeps every finding fixed.

use std::path::Path;
use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use trustchat_protocol::chat::{valid_page_url, MAX_FRAME_BYTES, MAX_PAGE_URL_CHARS};
use trustchat_protocol::validate::{self, MAX_EMAIL_LEN, MAX_FIRST_NAME_CHARS, MAX_NAME_CHARS};
use trustchat_protocol::{
    AgentClientFrame, AgentLogin, AgentReply, AssignConversation, ClientFrame,
    CreateSessionRequest, MarkRead, MintTokenRequest, NewSavedReply, RateConversation, SendMessage,
    SetAgentStatus, SetPage, UserInput,
};

use crate::config::{self, Config};
use crate::http::json;
use crate::http::ws::{self, FrameError};
use crate::jwt::{
    Alg, KeyRing, MintIdentity, Policy, Reason, Refusal, VerifiedToken, Verifier, MAX_TOKEN_BYTES,
};

/// A target's body: panics when the input breaks an invariant.
pub type Target = fn(&[u8]);

/// Every target, by the name of its `fuzz/fuzz_targets/<name>.rs`.
pub const TARGETS: &[(&str, Target)] = &[
    ("jwt_token", jwt_token),
    ("jwt_claims", jwt_claims),
    ("jwks", jwks),
    ("config", config),
    ("client_frame", client_frame),
    ("request_body", request_body),
    ("validate", validate),
    ("headers", headers),
];

/// "Now" for every token: 2027-01-15T08:00:00Z, as in the jwt tests, so
/// their tokens are seeds that verify.
pub const NOW: u64 = 1_800_000_000;
/// The app the tokens are for.
pub const APP: &str = "demo";
/// The issuer the strict policy requires.
pub const ISSUER: &str = "https://portal.example";
/// The TEST-ONLY key set of the jwt tests: one key per algorithm, kid =
/// the algorithm's name in lowercase.
pub const KEYS: &str = include_str!("../tests/fixtures/jwt/keys.jwks.json");
/// The kid `jwt_claims` signs with.
pub const CLAIMS_KID: &str = "hs256";

fn policy(issuer: Option<&str>, single_use: bool, mint_kid: Option<&str>) -> Policy {
    Policy {
        app_id: APP.into(),
        issuer: issuer.map(str::to_owned),
        max_lifetime_secs: 3600,
        leeway_secs: 60,
        single_use,
        mint_kid: mint_kid.map(str::to_owned),
    }
}

fn fixture_ring() -> KeyRing {
    KeyRing::from_jwks_json(KEYS.as_bytes(), "fixture").expect("the fixture keys load")
}

/// The jwt tests' verifier: every fixture key, an issuer, no single use.
pub fn strict_verifier() -> &'static Verifier {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    VERIFIER.get_or_init(|| Verifier::new(policy(Some(ISSUER), false, None), fixture_ring()))
}

/// No issuer, single-use tokens (so `jti` is required), and minting with
/// [`CLAIMS_KID`].
fn open_verifier() -> &'static Verifier {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    VERIFIER.get_or_init(|| Verifier::new(policy(None, true, Some(CLAIMS_KID)), fixture_ring()))
}

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// A whole token, as `{"jwt": "..."}` or `jwt verify` gets it.
pub fn jwt_token(data: &[u8]) {
    let Some(token) = text(data) else { return };
    for verifier in [strict_verifier(), open_verifier()] {
        let result = verifier.verify(token, NOW);
        assert_eq!(
            result.as_ref().err(),
            verifier.verify(token, NOW).as_ref().err(),
            "verification is not deterministic"
        );
        let signature_only = verifier.verify_signature_only(token);
        match &result {
            Ok(verified) => {
                accepted(verifier, token, verified);
                assert!(signature_only.is_ok(), "verified, but not its signature");
            }
            Err(refusal) => refused(refusal, token),
        }
        if let Err(refusal) = &signature_only {
            refused(refusal, token);
            assert_eq!(
                result.as_ref().err().map(|r| r.reason),
                Some(refusal.reason)
            );
        }
    }
}

/// A token's payload, signed with the HS256 fixture key: the claim checks
/// that only run behind a valid signature.
pub fn jwt_claims(data: &[u8]) {
    let strict = strict_verifier();
    let ring = strict.ring();
    let key = ring
        .get(CLAIMS_KID)
        .expect("the fixture has the claims key");
    let header = format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{CLAIMS_KID}"}}"#);
    let token = key
        .sign_compact(header.as_bytes(), data)
        .expect("an HMAC key signs anything");
    for verifier in [strict, open_verifier()] {
        let result = verifier.verify(&token, NOW);
        if token.len() > MAX_TOKEN_BYTES {
            let reason = result.as_ref().err().map(|r| r.reason);
            assert_eq!(reason, Some(Reason::MalformedToken), "an oversized token");
            return;
        }
        let (_, payload) = verifier
            .verify_signature_only(&token)
            .expect("the signature holds");
        assert_eq!(payload, data, "the payload changed on the way");
        match &result {
            Ok(verified) => {
                accepted(verifier, &token, verified);
                claims_hold(verifier.policy(), data, verified);
            }
            Err(refusal) => refused(refusal, &token),
        }
    }
}

/// A JWK set document, as a JWKS URL or `jwks_file` serves it.
pub fn jwks(data: &[u8]) {
    let Ok(ring) = KeyRing::from_jwks_json(data, "fuzz") else {
        return;
    };
    for kid in ring.kids() {
        let key = ring.get(kid).expect("a listed kid has a key");
        assert_eq!(key.kid(), kid);
        let alg = key.alg();
        assert_eq!(Alg::parse(alg.name()), Some(alg));
        if key.can_sign() {
            let header = format!(r#"{{"alg":"{alg}","kid":"k"}}"#);
            let token = key
                .sign_compact(header.as_bytes(), b"{}")
                .expect("a key that loaded with a private part signs");
            let (input, signature) = token.rsplit_once('.').expect("three parts");
            let signature = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
            assert!(
                key.verify_signature(input.as_bytes(), &signature),
                "key {kid:?} ({alg}) does not verify its own signature"
            );
        }
    }
}

/// The config file, as `trustchat-server serve` reads it (without the
/// environment), and its identity keys as they load at start.
pub fn config(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let config = match Config::from_toml(text) {
        Ok(config) => config,
        Err(error) => {
            assert!(!error.to_string().is_empty());
            return;
        }
    };
    let mut again = config.clone();
    again
        .validate()
        .expect("a config that loaded validates again");
    assert_eq!(
        format!("{again:?}"),
        format!("{config:?}"),
        "validating a loaded config changed it"
    );
    for app in &config.apps {
        for origin in &app.allowed_origins {
            assert_eq!(
                config::normalize_origin(origin).as_deref(),
                Ok(origin.as_str())
            );
        }
        if let Some(identity) = &app.identity {
            // The inline keys and `hmac_secrets_env`, with each variable
            // holding its own name; never a file or a URL.
            let mut local = identity.clone();
            local.jwks_file = None;
            local.jwks_url = None;
            let _ = local.load_static_keys(Path::new("/nonexistent"), |name| Some(name.to_owned()));
        }
    }
}

/// A text frame on either WebSocket, as each parses it.
pub fn client_frame(data: &[u8]) {
    let Some(text) = text(data) else { return };
    if text.len() > MAX_FRAME_BYTES {
        // `socket::inbound` closes with 1009 before any parsing.
        return;
    }
    let auth = ws::auth_frame(text);
    let frame = ws::client_frame(text);
    if let Some(session_token) = auth {
        // What opens a connection means the same once it is open.
        assert_eq!(frame, Ok(ClientFrame::Auth { session_token }));
    }
    match frame {
        Ok(frame) => {
            let json = serde_json::to_string(&frame).expect("a frame serializes");
            assert_eq!(ws::client_frame(&json).as_ref(), Ok(&frame), "{json}");
            match &frame {
                ClientFrame::Send { client_id, body } => {
                    client_id_holds(client_id);
                    let _ = validate::message_body(body);
                }
                ClientFrame::Page { url } => page_url_holds(url),
                _ => {}
            }
        }
        Err(FrameError::Invalid(message)) => assert!(!message.is_empty()),
        Err(FrameError::NotJson) => {}
    }
    // The agent socket's frames: `agent_ws.rs` parses them just so.
    if let Ok(frame) = serde_json::from_str::<AgentClientFrame>(text) {
        let json = serde_json::to_string(&frame).expect("a frame serializes");
        let back = serde_json::from_str::<AgentClientFrame>(&json);
        assert_eq!(back.as_ref().ok(), Some(&frame), "{json}");
    }
}

/// A JSON request body, parsed by `JsonBody` as every type the API takes,
/// and checked as its handler checks it.
pub fn request_body(data: &[u8]) {
    if let Some(request) = body::<CreateSessionRequest>(data) {
        if let Some(user) = &request.user {
            user_holds(user);
        }
        if let Some(jwt) = &request.jwt {
            jwt_token(jwt.as_bytes());
        }
    }
    if let Some(send) = body::<SendMessage>(data) {
        client_id_holds(&send.client_id);
        let _ = validate::message_body(&send.body);
    }
    if let Some(page) = body::<SetPage>(data) {
        page_url_holds(&page.url);
    }
    if let Some(request) = body::<MintTokenRequest>(data) {
        mint_holds(request);
    }
    if let Some(selector) = body::<trustchat_protocol::privacy::CustomerSelector>(data) {
        let _ = crate::privacy::matching(&selector);
    }
    if let Some(reply) = body::<NewSavedReply>(data) {
        let _ = config::saved_reply_problem(&reply.title, &reply.body);
    }
    body::<RateConversation>(data);
    body::<AgentLogin>(data);
    body::<AgentReply>(data);
    body::<AssignConversation>(data);
    body::<MarkRead>(data);
    body::<SetAgentStatus>(data);
}

/// One form field or claim value, through every rule of
/// `trustchat_protocol::validate` and the server's own string checks.
pub fn validate(data: &[u8]) {
    let Some(input) = text(data) else { return };
    if let Ok(name) = validate::name(input) {
        assert_eq!(
            validate::name(&name).as_ref(),
            Ok(&name),
            "name not idempotent"
        );
        assert!(name.chars().count() <= MAX_NAME_CHARS);
        let first = validate::first_name(&name).expect("a valid name has a first name");
        assert!(!first.is_empty() && first.chars().count() <= MAX_FIRST_NAME_CHARS);
    }
    if let Ok(email) = validate::email(input) {
        assert_eq!(
            validate::email(&email).as_ref(),
            Ok(&email),
            "email not idempotent"
        );
        assert!(email.len() <= MAX_EMAIL_LEN);
    }
    if let Ok(phone) = validate::phone(input) {
        assert_eq!(
            validate::phone(&phone).as_ref(),
            Ok(&phone),
            "phone not idempotent"
        );
        assert!(phone.starts_with('+') && (8..=16).contains(&phone.len()));
    }
    if let Ok(body) = validate::message_body(input) {
        assert_eq!(body, input, "a message body is kept as typed");
    }
    if let Ok(origin) = config::normalize_origin(input) {
        assert_eq!(config::normalize_origin(&origin).as_ref(), Ok(&origin));
    }
    page_url_holds(input);
    client_id_holds(input);
}

/// The request headers the server reads itself: `X-Forwarded-For`
/// (which address a client is counted by) and `Accept-Language` (the
/// language of what the server writes to the customer). The first byte
/// picks the peer (even: a trusted proxy, odd: not); the rest, up to a NUL,
/// is `X-Forwarded-For` (one header line per `\n`), after it
/// `Accept-Language` (without a NUL, the same text is both).
pub fn headers(data: &[u8]) {
    use crate::proxy::{parse_forwarded, AddrKey, TrustedProxies};
    use std::net::IpAddr;

    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Some(rest) = text(rest) else { return };
    let (forwarded, languages) = rest.split_once('\0').unwrap_or((rest, rest));

    let proxies =
        TrustedProxies::parse(["10.0.0.0/8", "fd00::/8", "192.0.2.7"]).expect("fixed proxies");
    let peer: IpAddr = if pick % 2 == 0 {
        IpAddr::from([10, 0, 0, 1])
    } else {
        IpAddr::from([203, 0, 113, 9])
    };
    let lines: Vec<&str> = forwarded.split('\n').collect();
    let client = proxies.client(peer, lines.iter().copied());
    let _ = AddrKey::of(client).to_string();
    if !proxies.contains(peer) {
        assert_eq!(client, peer, "an untrusted peer's header was believed");
    } else if client != peer {
        // An address some entry holds, and every entry right of the
        // right-most one holding it is a trusted proxy.
        let entries: Vec<Option<IpAddr>> = lines
            .iter()
            .flat_map(|line| line.split(','))
            .map(parse_forwarded)
            .collect();
        let at = entries
            .iter()
            .rposition(|entry| *entry == Some(client))
            .expect("the client is one of the forwarded addresses");
        assert!(
            entries[at + 1..]
                .iter()
                .all(|entry| entry.is_some_and(|ip| proxies.contains(ip))),
            "an address left of an untrusted entry was believed"
        );
    }

    let locales = crate::texts::accepted_locales(languages);
    assert!(locales.len() <= 10, "more than 10 languages kept");
    for tag in &locales {
        assert!(crate::texts::valid_locale(tag), "{tag:?} kept");
        assert!(languages.contains(tag.as_str()));
    }
    // Best first already: asked again without weights, the same list.
    assert_eq!(crate::texts::accepted_locales(&locales.join(",")), locales);
}

/// Parses `data` as the API parses a body of type `T`; a body that parses
/// serializes and parses back to itself, and a refusal is a 4xx.
fn body<T>(data: &[u8]) -> Option<T>
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    match json::parse::<T>(data) {
        Ok(value) => {
            let bytes = serde_json::to_vec(&value).expect("a request serializes");
            let back = json::parse::<T>(&bytes).ok();
            assert_eq!(back.as_ref(), Some(&value), "round trip of a request body");
            Some(value)
        }
        Err(error) => {
            let status = error.code().status();
            assert!((400..500).contains(&status), "{error} is a {status}");
            None
        }
    }
}

fn user_holds(user: &UserInput) {
    let Ok(valid) = validate::user(user) else {
        return;
    };
    let again = UserInput {
        name: valid.name.clone(),
        email: valid.email.clone(),
        phone: valid.phone.clone(),
    };
    assert_eq!(
        validate::user(&again).as_ref(),
        Ok(&valid),
        "user not idempotent"
    );
}

fn client_id_holds(client_id: &str) {
    if let Ok(canonical) = crate::chat::canonical_client_id(client_id) {
        assert_eq!(canonical.len(), 36);
        assert_eq!(
            crate::chat::canonical_client_id(&canonical).as_ref(),
            Ok(&canonical)
        );
    }
}

fn page_url_holds(url: &str) {
    if valid_page_url(url) {
        assert!(url.chars().count() <= MAX_PAGE_URL_CHARS);
        assert!(!url.chars().any(char::is_whitespace));
    }
}

/// What `POST /api/v1/user-identity-jwt` does with a request: a token the
/// server mints verifies, for the identity it was asked for.
fn mint_holds(request: MintTokenRequest) {
    if request.expires_in == Some(0) {
        return; // refused by the handler
    }
    let ttl = request.expires_in.unwrap_or(600);
    let email = matches!(
        request.identity_type,
        trustchat_protocol::IdentityType::Email
    );
    let who = MintIdentity {
        email: email.then(|| request.identity.clone()),
        phone: (!email).then(|| request.identity.clone()),
        name: request.name,
        ..MintIdentity::default()
    };
    let verifier = open_verifier();
    let Ok(claims) = verifier.identity_claims(&who, ttl, NOW) else {
        return;
    };
    let token = verifier.mint(&claims).expect("a valid identity is minted");
    let verified = match verifier.verify(&token, NOW) {
        Ok(verified) => verified,
        Err(refusal) => panic!("a minted token is refused: {refusal}"),
    };
    let expected = |claim: &str| claims.get(claim).and_then(Value::as_str).map(str::to_owned);
    assert_eq!(verified.identity.email, expected("email"));
    assert_eq!(verified.identity.phone, expected("phone_number"));
    assert_eq!(verified.identity.name, expected("name"));
}

/// What holds of every refusal: a message to act on, without the token.
/// (A token of one or two parts may well be text of a message: "hree
/// base64url parts separa", `fuzz/regressions/jwt_token/`.)
fn refused(refusal: &Refusal, token: &str) {
    assert!(!refusal.message.is_empty());
    assert!(!refusal.message.ends_with('.'), "{}", refusal.message);
    if token.len() > 16 && token.matches('.').count() == 2 {
        assert!(
            !refusal.message.contains(token),
            "the message holds the token"
        );
    }
}

/// What holds of every accepted token: canonical base64url parts; a
/// header with the key's own algorithm and kid and no member that would
/// choose a key or demand an extension; a kid of the ring.
fn accepted(verifier: &Verifier, token: &str, verified: &VerifiedToken) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "an accepted token has three parts");
    for part in &parts {
        let bytes = URL_SAFE_NO_PAD.decode(part).expect("accepted parts decode");
        assert_eq!(
            &URL_SAFE_NO_PAD.encode(bytes),
            part,
            "non-canonical base64url"
        );
    }
    let header = URL_SAFE_NO_PAD.decode(parts[0]).expect("decodes");
    let Some(header) = json_of(&header) else {
        return;
    };
    assert_eq!(header["alg"], verified.alg.name(), "alg is not the key's");
    if let Some(kid) = header.get("kid") {
        assert_eq!(kid, verified.kid.as_str());
    }
    for member in ["jku", "x5u", "x5c", "jwk", "crit"] {
        assert!(header.get(member).is_none(), "accepted with {member}");
    }
    assert!(matches!(header.get("b64"), None | Some(Value::Bool(true))));
    let ring = verifier.ring();
    let key = ring
        .get(&verified.kid)
        .expect("verified by a key of the ring");
    assert_eq!(key.alg(), verified.alg);
    assert_eq!(verified.header(), header);
}

/// The JSON of an accepted header or payload. `None` when it holds a
/// number beyond an `f64` (`1e400`, in a member the server ignores):
/// valid JSON (RFC 8259 §6 lets a parser limit the range), which
/// serde_json's `Value` cannot hold
/// (`fuzz/regressions/jwt_claims/number-beyond-f64-in-unknown-claim`).
fn json_of(bytes: &[u8]) -> Option<Value> {
    match serde_json::from_slice(bytes) {
        Ok(value) => Some(value),
        Err(error) if error.to_string().starts_with("number out of range") => None,
        Err(error) => panic!("an accepted header or payload is not JSON: {error}"),
    }
}

/// The claim rules, read again from the payload's JSON.
fn claims_hold(policy: &Policy, payload: &[u8], verified: &VerifiedToken) {
    let Some(claims) = json_of(payload) else {
        return;
    };
    let identity = &verified.identity;
    let leeway = policy.leeway_secs;
    let exp = claims["exp"].as_u64().expect("exp is a whole number");
    assert_eq!(exp, identity.exp);
    assert!(exp.saturating_add(leeway) > NOW, "expired");
    for claim in ["nbf", "iat"] {
        if let Some(value) = claims.get(claim) {
            let at = value.as_u64().expect("a whole number");
            assert!(at <= NOW + leeway, "{claim} in the future");
        }
    }
    match claims.get("iat").and_then(Value::as_u64) {
        Some(iat) => assert!(exp.saturating_sub(iat) <= policy.max_lifetime_secs),
        None => assert!(exp.saturating_sub(NOW) <= policy.max_lifetime_secs + leeway),
    }
    let aud = &claims["aud"];
    assert!(
        aud.as_str() == Some(APP)
            || aud
                .as_array()
                .is_some_and(|all| all.iter().any(|a| a.as_str() == Some(APP))),
        "accepted for another audience"
    );
    if let Some(issuer) = &policy.issuer {
        assert_eq!(claims["iss"].as_str(), Some(issuer.as_str()));
    }
    if policy.single_use {
        assert!(identity.jti.is_some());
    }
    let sub = claims["sub"].as_str().expect("sub is a string");
    assert_eq!(sub, identity.sub);
    assert!(!sub.trim().is_empty() && sub.len() <= 255);
    assert!(identity.email.is_some() || identity.phone.is_some());
    if let Some(email) = &identity.email {
        assert_eq!(validate::email(email).as_ref(), Ok(email));
    }
    if let Some(phone) = &identity.phone {
        assert_eq!(validate::phone(phone).as_ref(), Ok(phone));
    }
    for name in [&identity.name, &identity.given_name].into_iter().flatten() {
        assert_eq!(validate::name(name).as_ref(), Ok(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The files of `fuzz/<kind>/<target>/`.
    fn inputs(kind: &str, target: &str) -> Vec<(String, Vec<u8>)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz")
            .join(kind)
            .join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut files: Vec<(String, Vec<u8>)> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().is_file())
            .map(|e| {
                let path = e.path();
                let bytes = std::fs::read(&path).expect("a readable input");
                (path.display().to_string(), bytes)
            })
            .collect();
        files.sort();
        files
    }

    #[test]
    fn every_seed_and_regression_input_passes_its_target() {
        let mut ran = 0;
        for (target, run) in TARGETS {
            for kind in ["seeds", "regressions", "hidden"] {
                for (path, bytes) in inputs(kind, target) {
                    let outcome = std::panic::catch_unwind(|| run(&bytes));
                    assert!(outcome.is_ok(), "{target} fails on {path}");
                    ran += 1;
                }
            }
        }
        assert!(ran > 0, "no seeds found under fuzz/");
    }

    #[test]
    fn the_fixture_verifiers_accept_a_minted_token() {
        let verifier = open_verifier();
        let who = MintIdentity {
            email: Some("ada@example.com".into()),
            ..MintIdentity::default()
        };
        let claims = verifier.identity_claims(&who, 600, NOW).expect("claims");
        let token = verifier.mint(&claims).expect("minted");
        jwt_token(token.as_bytes());
        let payload = token.split('.').nth(1).expect("a payload");
        jwt_claims(&URL_SAFE_NO_PAD.decode(payload).expect("base64url"));
        assert!(strict_verifier().verify(&token, NOW).is_err(), "no issuer");
        assert!(verifier.verify(&token, NOW).is_ok());
    }
}
