//! Tokens the server signs itself, for `POST /api/v1/user-identity-jwt` and
//! `trustchat-server jwt mint`. They are signed with the app's `mint_kid`
//! key (or its only key with a private part), with that key's algorithm, and
//! pass [`Verifier::verify`] like any site-signed token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::Rng as _;
use serde_json::{json, Map, Value};
use trustchat_protocol::validate;

use super::keys::Key;
use super::verify::Verifier;

/// Why a token could not be minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    /// No key with a private part, or several and no `mint_kid`.
    #[error("{0}")]
    NoSigningKey(String),
    /// The identity to put in the token is invalid (email, phone, name).
    #[error("{field} is invalid: {message}")]
    InvalidIdentity {
        /// `email`, `phone_number`, `name`, `given_name` or `sub`.
        field: &'static str,
        /// What to fix.
        message: String,
    },
    /// The crypto library refused to sign (should not happen with a key
    /// that loaded).
    #[error("signing with key {0:?} failed")]
    Signing(String),
}

/// Who a minted token identifies. At least one of `email` or `phone`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MintIdentity {
    /// The site's user id; defaults to the normalized email, else phone.
    pub sub: Option<String>,
    /// Email address (validated and normalized).
    pub email: Option<String>,
    /// Phone number in E.164 (validated and normalized).
    pub phone: Option<String>,
    /// Full name.
    pub name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
}

impl Key {
    /// Signs a compact JWS over the exact `header` and `payload` bytes
    /// given. Low level: the header is not checked, so tests and the token
    /// debugger can build any token; [`Verifier::mint`] is the safe way.
    pub fn sign_compact(&self, header: &[u8], payload: &[u8]) -> Result<String, MintError> {
        let mut token = URL_SAFE_NO_PAD.encode(header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut token);
        let signature = self
            .sign(token.as_bytes())
            .ok_or_else(|| MintError::Signing(self.kid().to_owned()))?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }
}

impl Verifier {
    /// Signs `claims` with the mint key: `mint_kid`, or the only key that
    /// has a private part. The header is `{"alg", "typ": "JWT", "kid"}`.
    /// The claims are signed as given; build them with
    /// [`Verifier::identity_claims`].
    pub fn mint(&self, claims: &Map<String, Value>) -> Result<String, MintError> {
        // Only local keys mint: a key fetched from a URL is the site's, not ours.
        let ring = std::sync::Arc::clone(&self.static_ring);
        let key = match &self.policy.mint_kid {
            Some(kid) => ring.get(kid).filter(|k| k.can_sign()).ok_or_else(|| {
                MintError::NoSigningKey(format!(
                    "mint_kid {kid:?} has no private part to sign with"
                ))
            })?,
            None => {
                let mut signing = ring.signing_keys();
                match (signing.next(), signing.next()) {
                    (Some(key), None) => key,
                    (None, _) => {
                        return Err(MintError::NoSigningKey(format!(
                            "app {:?} has no key with a private part; add one (an oct key or a JWK with \"d\")",
                            self.policy.app_id
                        )))
                    }
                    (Some(_), Some(_)) => {
                        return Err(MintError::NoSigningKey(format!(
                            "app {:?} has several keys that can sign; set mint_kid to choose one",
                            self.policy.app_id
                        )))
                    }
                }
            }
        };
        let header = json!({ "alg": key.alg().name(), "typ": "JWT", "kid": key.kid() });
        let header = serde_json::to_vec(&header).expect("a JSON value serializes");
        let payload = serde_json::to_vec(claims).expect("a JSON map serializes");
        key.sign_compact(&header, &payload)
    }

    /// The standard claims for `who`: `sub`, `email`/`phone_number`, `name`,
    /// `given_name`, `aud` (the app id), `iss` (when configured), `iat` =
    /// `now`, `exp` = `now + ttl` capped by the app's maximum lifetime, and a
    /// random 128-bit `jti`.
    pub fn identity_claims(
        &self,
        who: &MintIdentity,
        ttl_secs: u64,
        now: u64,
    ) -> Result<Map<String, Value>, MintError> {
        let bad = |field: &'static str, message: &str| MintError::InvalidIdentity {
            field,
            message: message.to_owned(),
        };
        let present = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let email = present(&who.email)
            .map(|e| validate::email(&e))
            .transpose()
            .map_err(|i| bad("email", i.message))?;
        let phone = present(&who.phone)
            .map(|p| validate::phone(&p))
            .transpose()
            .map_err(|i| bad("phone_number", i.message))?;
        let name = present(&who.name)
            .map(|n| validate::name(&n))
            .transpose()
            .map_err(|i| bad("name", i.message))?;
        let given_name = present(&who.given_name)
            .map(|n| validate::name(&n))
            .transpose()
            .map_err(|i| bad("given_name", i.message))?;
        let sub = present(&who.sub)
            .or_else(|| email.clone())
            .or_else(|| phone.clone())
            .ok_or_else(|| bad("email", "an email or phone number is required"))?;
        if sub.len() > 255 {
            return Err(bad("sub", "sub must be at most 255 bytes"));
        }
        if email.is_none() && phone.is_none() {
            return Err(bad("email", "an email or phone number is required"));
        }
        let mut jti = [0u8; 16];
        rand::rng().fill_bytes(&mut jti);
        let ttl = ttl_secs.clamp(1, self.policy.max_lifetime_secs);
        let mut claims = Map::new();
        claims.insert("sub".into(), sub.into());
        if let Some(email) = email {
            claims.insert("email".into(), email.into());
        }
        if let Some(phone) = phone {
            claims.insert("phone_number".into(), phone.into());
        }
        if let Some(name) = name {
            claims.insert("name".into(), name.into());
        }
        if let Some(given_name) = given_name {
            claims.insert("given_name".into(), given_name.into());
        }
        claims.insert("aud".into(), self.policy.app_id.clone().into());
        if let Some(iss) = &self.policy.issuer {
            claims.insert("iss".into(), iss.clone().into());
        }
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), (now + ttl).into());
        claims.insert("jti".into(), URL_SAFE_NO_PAD.encode(jti).into());
        Ok(claims)
    }
}
