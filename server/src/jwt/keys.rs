//! JWKs (RFC 7517) parsed into keys that are each bound to one algorithm.
//!
//! Rules, decided once here so that every key source follows them:
//! - A key's algorithm is its `alg`, or, when `alg` is absent, the one
//!   algorithm its type allows: EC P-256 → ES256, EC P-384 → ES384, OKP
//!   Ed25519 → EdDSA. An RSA or `oct` key without `alg` is ambiguous and is
//!   refused, because guessing is how algorithm-confusion attacks start.
//! - `kid` is required on every key, and unique within a ring.
//! - HMAC keys must be at least as long as the hash output (32/48/64 bytes);
//!   RSA moduli at least 2048 bits.
//! - A key whose `use` is not `sig`, or whose `key_ops` lacks `verify`, is
//!   *ignored* (not loaded) with a warning: published JWK sets legitimately
//!   carry encryption keys beside signing keys. The ring remembers why, so a
//!   token naming such a kid is told so.
//! - Private parts (`k`, `d`) are kept, parsed, for minting; `Debug` never
//!   prints them.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use aws_lc_rs::signature::{self as sig, KeyPair as _};
use aws_lc_rs::{hmac, rand as lc_rand};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

/// A JWS algorithm this server accepts (RFC 7518 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// EdDSA on Ed25519.
    EdDSA,
}

/// Every supported algorithm, in a stable order.
pub const ALL_ALGS: [Alg; 12] = [
    Alg::HS256,
    Alg::HS384,
    Alg::HS512,
    Alg::RS256,
    Alg::RS384,
    Alg::RS512,
    Alg::PS256,
    Alg::PS384,
    Alg::PS512,
    Alg::ES256,
    Alg::ES384,
    Alg::EdDSA,
];

impl Alg {
    /// The RFC 7518 name, as it appears in a JWS header and a JWK.
    pub fn name(self) -> &'static str {
        match self {
            Alg::HS256 => "HS256",
            Alg::HS384 => "HS384",
            Alg::HS512 => "HS512",
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::EdDSA => "EdDSA",
        }
    }

    /// Parses an RFC 7518 name, exactly (names are case-sensitive).
    pub fn parse(name: &str) -> Option<Alg> {
        ALL_ALGS.into_iter().find(|alg| alg.name() == name)
    }

    /// The JWK `kty` this algorithm needs.
    pub fn kty(self) -> &'static str {
        match self {
            Alg::HS256 | Alg::HS384 | Alg::HS512 => "oct",
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512 => "RSA",
            Alg::ES256 | Alg::ES384 => "EC",
            Alg::EdDSA => "OKP",
        }
    }

    fn hmac(self) -> Option<(hmac::Algorithm, usize)> {
        match self {
            Alg::HS256 => Some((hmac::HMAC_SHA256, 32)),
            Alg::HS384 => Some((hmac::HMAC_SHA384, 48)),
            Alg::HS512 => Some((hmac::HMAC_SHA512, 64)),
            _ => None,
        }
    }

    fn rsa(self) -> Option<(&'static sig::RsaParameters, &'static dyn sig::RsaEncoding)> {
        match self {
            Alg::RS256 => Some((&sig::RSA_PKCS1_2048_8192_SHA256, &sig::RSA_PKCS1_SHA256)),
            Alg::RS384 => Some((&sig::RSA_PKCS1_2048_8192_SHA384, &sig::RSA_PKCS1_SHA384)),
            Alg::RS512 => Some((&sig::RSA_PKCS1_2048_8192_SHA512, &sig::RSA_PKCS1_SHA512)),
            Alg::PS256 => Some((&sig::RSA_PSS_2048_8192_SHA256, &sig::RSA_PSS_SHA256)),
            Alg::PS384 => Some((&sig::RSA_PSS_2048_8192_SHA384, &sig::RSA_PSS_SHA384)),
            Alg::PS512 => Some((&sig::RSA_PSS_2048_8192_SHA512, &sig::RSA_PSS_SHA512)),
            _ => None,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What kind of mistake made a key or key set unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyErrorKind {
    /// Not JSON, not a JWK set, or a member of the wrong JSON type.
    Json,
    /// An RSA or `oct` key without `alg`.
    AmbiguousAlg,
    /// An `alg`, `kty` or `crv` this server does not support.
    Unsupported,
    /// `kty`, `crv` and `alg` disagree.
    Mismatch,
    /// An HMAC secret shorter than its hash, or an RSA modulus under 2048 bits.
    WeakKey,
    /// Key material that does not decode or does not form a valid key.
    BadKeyMaterial,
    /// Two keys with the same `kid`.
    DuplicateKid,
    /// A key without `kid`.
    MissingKid,
    /// A key file that cannot be read, or an environment variable that is unset.
    Source,
    /// The identity configuration itself is inconsistent.
    Config,
}

/// Why a key, key set or identity configuration could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct KeyError {
    /// A code tests and programs can match.
    pub kind: KeyErrorKind,
    /// The key at fault, when there is one.
    pub kid: Option<String>,
    /// Lowercase, no final dot, names the key and says what to fix; never
    /// contains key material.
    pub message: String,
}

impl KeyError {
    pub(crate) fn new(kind: KeyErrorKind, kid: Option<&str>, message: impl Into<String>) -> Self {
        let message = message.into();
        let message = match kid {
            Some(kid) => format!("key {kid:?}: {message}"),
            None => message,
        };
        KeyError {
            kind,
            kid: kid.map(str::to_owned),
            message,
        }
    }
}

/// One verification key, bound to one algorithm, with its private part when
/// the JWK carried one.
pub struct Key {
    kid: String,
    alg: Alg,
    verifier: VerifyKey,
    signer: Option<SignKey>,
    /// Where the key came from (`keys.jwks.json`, `jwks_url`, `env DEMO_SECRET`).
    source: Arc<str>,
}

// hmac::Key holds a whole HMAC_CTX (over a kilobyte): boxed.
enum VerifyKey {
    Hmac(Box<hmac::Key>),
    Public(sig::ParsedPublicKey),
}

enum SignKey {
    Hmac(Box<hmac::Key>),
    Rsa(Box<sig::RsaKeyPair>, &'static dyn sig::RsaEncoding),
    Ecdsa(sig::EcdsaKeyPair),
    Ed25519(sig::Ed25519KeyPair),
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Deliberately no key material, public or private.
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("can_sign", &self.signer.is_some())
            .field("source", &self.source)
            .finish()
    }
}

impl Key {
    /// The key id tokens name in their header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The one algorithm this key verifies (and signs) with.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// Whether the key has its private part, so it can mint tokens.
    pub fn can_sign(&self) -> bool {
        self.signer.is_some()
    }

    /// Where the key was loaded from, for messages and logs.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Checks `signature` over `signing_input` with this key's algorithm.
    pub fn verify_signature(&self, signing_input: &[u8], signature: &[u8]) -> bool {
        match &self.verifier {
            VerifyKey::Hmac(key) => hmac::verify(key, signing_input, signature).is_ok(),
            VerifyKey::Public(key) => key.verify_sig(signing_input, signature).is_ok(),
        }
    }

    /// Signs `signing_input`; `None` when the key has no private part.
    pub fn sign(&self, signing_input: &[u8]) -> Option<Vec<u8>> {
        let rng = lc_rand::SystemRandom::new();
        match self.signer.as_ref()? {
            SignKey::Hmac(key) => Some(hmac::sign(key, signing_input).as_ref().to_vec()),
            SignKey::Rsa(pair, padding) => {
                let mut out = vec![0; pair.public_modulus_len()];
                pair.sign(*padding, &rng, signing_input, &mut out).ok()?;
                Some(out)
            }
            SignKey::Ecdsa(pair) => Some(pair.sign(&rng, signing_input).ok()?.as_ref().to_vec()),
            SignKey::Ed25519(pair) => Some(pair.sign(signing_input).as_ref().to_vec()),
        }
    }

    /// An HMAC key from raw secret bytes (used for `hmac_secrets_env`).
    pub fn from_hmac_secret(
        kid: &str,
        alg: Alg,
        secret: &[u8],
        source: &str,
    ) -> Result<Key, KeyError> {
        let Some((algorithm, min_len)) = alg.hmac() else {
            return Err(KeyError::new(
                KeyErrorKind::Mismatch,
                Some(kid),
                format!("{alg} is not an HMAC algorithm; HMAC secrets need HS256, HS384 or HS512"),
            ));
        };
        if secret.len() < min_len {
            return Err(KeyError::new(
                KeyErrorKind::WeakKey,
                Some(kid),
                format!(
                    "{alg} secret is {} bytes, at least {min_len} are required; use a longer random secret",
                    secret.len()
                ),
            ));
        }
        let key = hmac::Key::new(algorithm, secret);
        Ok(Key {
            kid: kid.to_owned(),
            alg,
            verifier: VerifyKey::Hmac(Box::new(key.clone())),
            signer: Some(SignKey::Hmac(Box::new(key))),
            source: source.into(),
        })
    }

    /// Parses one JWK (a JSON object) into a key. `Ok(Err((kid, why)))` means
    /// the key is not for signatures (`use`/`key_ops`) and is ignored.
    pub(crate) fn from_jwk(
        jwk: &Value,
        source: &str,
    ) -> Result<Result<Key, (String, String)>, KeyError> {
        let Some(obj) = jwk.as_object() else {
            return Err(KeyError::new(
                KeyErrorKind::Json,
                None,
                format!("{source}: a JWK must be a JSON object"),
            ));
        };
        let kid = match obj.get("kid") {
            Some(Value::String(kid)) if !kid.is_empty() => kid.as_str(),
            Some(Value::String(_)) | None => {
                return Err(KeyError::new(
                    KeyErrorKind::MissingKid,
                    None,
                    format!("{source}: every key needs a non-empty \"kid\" so tokens can name it"),
                ))
            }
            Some(_) => {
                return Err(KeyError::new(
                    KeyErrorKind::Json,
                    None,
                    format!("{source}: \"kid\" must be a string"),
                ))
            }
        };
        let jwk = Jwk { obj, kid };
        if let Some(why) = jwk.not_for_signatures()? {
            return Ok(Err((kid.to_owned(), why)));
        }
        let kty = jwk
            .str("kty")?
            .ok_or_else(|| jwk.err(KeyErrorKind::Json, "\"kty\" is required"))?;
        let alg = jwk.bound_alg(kty)?;
        let (verifier, signer) = match kty {
            "oct" => jwk.oct(alg)?,
            "RSA" => jwk.rsa(alg)?,
            "EC" => jwk.ec(alg)?,
            "OKP" => jwk.okp()?,
            _ => unreachable!("bound_alg refuses other key types"),
        };
        Ok(Ok(Key {
            kid: kid.to_owned(),
            alg,
            verifier,
            signer,
            source: source.into(),
        }))
    }
}

/// A JWK object being parsed, with its kid for error messages.
struct Jwk<'a> {
    obj: &'a Map<String, Value>,
    kid: &'a str,
}

impl Jwk<'_> {
    fn err(&self, kind: KeyErrorKind, message: impl Into<String>) -> KeyError {
        KeyError::new(kind, Some(self.kid), message)
    }

    fn str(&self, member: &str) -> Result<Option<&str>, KeyError> {
        match self.obj.get(member) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.err(KeyErrorKind::Json, format!("{member:?} must be a string"))),
        }
    }

    /// A required base64url member, decoded. The error never echoes the value.
    fn bytes(&self, member: &str) -> Result<Vec<u8>, KeyError> {
        let text = self.str(member)?.ok_or_else(|| {
            self.err(
                KeyErrorKind::BadKeyMaterial,
                format!("{member:?} is required"),
            )
        })?;
        URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|_| {
                self.err(
                    KeyErrorKind::BadKeyMaterial,
                    format!("{member:?} is not valid base64url"),
                )
            })
    }

    fn optional_bytes(&self, member: &str) -> Result<Option<Vec<u8>>, KeyError> {
        if self.obj.contains_key(member) {
            self.bytes(member).map(Some)
        } else {
            Ok(None)
        }
    }

    fn not_for_signatures(&self) -> Result<Option<String>, KeyError> {
        if let Some(usage) = self.str("use")? {
            if usage != "sig" {
                return Ok(Some(format!(
                    "it is published with use={usage:?}, not \"sig\""
                )));
            }
        }
        match self.obj.get("key_ops") {
            None => Ok(None),
            Some(Value::Array(ops)) => {
                if ops.iter().any(|op| op.as_str() == Some("verify")) {
                    Ok(None)
                } else {
                    Ok(Some("its key_ops do not include \"verify\"".to_owned()))
                }
            }
            Some(_) => Err(self.err(
                KeyErrorKind::Json,
                "\"key_ops\" must be an array of strings",
            )),
        }
    }

    fn bound_alg(&self, kty: &str) -> Result<Alg, KeyError> {
        let crv = self.str("crv")?;
        let implied = match (kty, crv) {
            ("oct", _) | ("RSA", _) => None,
            ("EC", Some("P-256")) => Some(Alg::ES256),
            ("EC", Some("P-384")) => Some(Alg::ES384),
            ("OKP", Some("Ed25519")) => Some(Alg::EdDSA),
            ("EC", Some(crv)) | ("OKP", Some(crv)) => {
                return Err(self.err(
                    KeyErrorKind::Unsupported,
                    format!(
                        "curve {crv:?} is not supported for kty {kty}; use P-256, P-384 or Ed25519"
                    ),
                ))
            }
            ("EC", None) | ("OKP", None) => {
                return Err(self.err(
                    KeyErrorKind::BadKeyMaterial,
                    format!("kty {kty} needs \"crv\""),
                ))
            }
            (kty, _) => {
                return Err(self.err(
                    KeyErrorKind::Unsupported,
                    format!("kty {kty:?} is not supported; use oct, RSA, EC or OKP"),
                ))
            }
        };
        let alg = match self.str("alg")? {
            Some(name) => Alg::parse(name).ok_or_else(|| {
                self.err(KeyErrorKind::Unsupported, format!("alg {name:?} is not supported; {}", supported_list()))
            })?,
            None => implied.ok_or_else(|| {
                self.err(
                    KeyErrorKind::AmbiguousAlg,
                    format!("a {kty} key must say which algorithm it is for; add \"alg\" (for example {})", match kty {
                        "oct" => "\"HS256\"",
                        _ => "\"RS256\" or \"PS256\"",
                    }),
                )
            })?,
        };
        if alg.kty() != kty {
            return Err(self.err(
                KeyErrorKind::Mismatch,
                format!("alg {alg} needs kty {}, not {kty}", alg.kty()),
            ));
        }
        if let Some(implied) = implied {
            if implied != alg {
                return Err(self.err(
                    KeyErrorKind::Mismatch,
                    format!(
                        "alg {alg} does not match curve {}; that curve means {implied}",
                        crv.unwrap_or("")
                    ),
                ));
            }
        }
        Ok(alg)
    }

    fn oct(&self, alg: Alg) -> Result<(VerifyKey, Option<SignKey>), KeyError> {
        let secret = self.bytes("k")?;
        let key = Key::from_hmac_secret(self.kid, alg, &secret, "")?;
        Ok((key.verifier, key.signer))
    }

    fn rsa(&self, alg: Alg) -> Result<(VerifyKey, Option<SignKey>), KeyError> {
        let (params, padding) = alg.rsa().expect("bound_alg checked the kty");
        let n = strip_leading_zeros(self.bytes("n")?);
        let e = strip_leading_zeros(self.bytes("e")?);
        // Leading zeros are stripped, so a first byte has at most 7 zero
        // bits; an empty or all-zero modulus is 0 bits (and was an
        // underflow panic: fuzz/regressions/jwks/).
        let bits = n
            .first()
            .map_or(0, |first| n.len() * 8 - first.leading_zeros() as usize);
        if bits < 2048 {
            return Err(self.err(
                KeyErrorKind::WeakKey,
                format!("RSA modulus is {bits} bits, at least 2048 are required"),
            ));
        }
        let public = sig::RsaPublicKeyComponents { n: &n, e: &e }
            .to_parsed_public_key(params)
            .map_err(|e| {
                self.err(
                    KeyErrorKind::BadKeyMaterial,
                    format!("not a valid RSA public key ({e})"),
                )
            })?;
        let signer = match self.optional_bytes("d")? {
            None => None,
            Some(d) => {
                let component = |name: &str| -> Result<Vec<u8>, KeyError> {
                    self.bytes(name).map_err(|_| {
                        self.err(
                            KeyErrorKind::BadKeyMaterial,
                            "an RSA private key needs p, q, dp, dq and qi beside d",
                        )
                    })
                };
                let (p, q, dp, dq, qi) = (
                    component("p")?,
                    component("q")?,
                    component("dp")?,
                    component("dq")?,
                    component("qi")?,
                );
                let pair = sig::RsaKeyPair::from_components(&aws_lc_rs::rsa::KeyPairComponents {
                    public_key: sig::RsaPublicKeyComponents {
                        n: &n[..],
                        e: &e[..],
                    },
                    d: &d[..],
                    p: &p[..],
                    q: &q[..],
                    dP: &dp[..],
                    dQ: &dq[..],
                    qInv: &qi[..],
                })
                .map_err(|_| {
                    self.err(
                        KeyErrorKind::BadKeyMaterial,
                        "the RSA private part does not match the key",
                    )
                })?;
                Some(SignKey::Rsa(Box::new(pair), padding))
            }
        };
        Ok((VerifyKey::Public(public), signer))
    }

    fn ec(&self, alg: Alg) -> Result<(VerifyKey, Option<SignKey>), KeyError> {
        let (verify_alg, sign_alg, size): (&'static sig::EcdsaVerificationAlgorithm, _, usize) =
            match alg {
                Alg::ES256 => (
                    &sig::ECDSA_P256_SHA256_FIXED,
                    &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
                    32,
                ),
                _ => (
                    &sig::ECDSA_P384_SHA384_FIXED,
                    &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
                    48,
                ),
            };
        let (x, y) = (self.bytes("x")?, self.bytes("y")?);
        if x.len() != size || y.len() != size {
            return Err(self.err(
                KeyErrorKind::BadKeyMaterial,
                format!("x and y must be {size} bytes each for {alg}"),
            ));
        }
        let mut point = Vec::with_capacity(1 + 2 * size);
        point.push(4);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        let public = sig::ParsedPublicKey::new(verify_alg, &point).map_err(|_| {
            self.err(
                KeyErrorKind::BadKeyMaterial,
                "x and y are not a point on the curve",
            )
        })?;
        let signer = match self.optional_bytes("d")? {
            None => None,
            Some(d) => Some(SignKey::Ecdsa(
                sig::EcdsaKeyPair::from_private_key_and_public_key(sign_alg, &d, &point).map_err(
                    |_| {
                        self.err(
                            KeyErrorKind::BadKeyMaterial,
                            "the EC private part does not match the key",
                        )
                    },
                )?,
            )),
        };
        Ok((VerifyKey::Public(public), signer))
    }

    fn okp(&self) -> Result<(VerifyKey, Option<SignKey>), KeyError> {
        let x = self.bytes("x")?;
        let public = sig::ParsedPublicKey::new(&sig::ED25519, &x).map_err(|_| {
            self.err(
                KeyErrorKind::BadKeyMaterial,
                "x is not an Ed25519 public key",
            )
        })?;
        let signer = match self.optional_bytes("d")? {
            None => None,
            Some(d) => {
                let pair = sig::Ed25519KeyPair::from_seed_and_public_key(&d, &x).map_err(|_| {
                    self.err(
                        KeyErrorKind::BadKeyMaterial,
                        "the Ed25519 private part does not match the key",
                    )
                })?;
                debug_assert_eq!(pair.public_key().as_ref(), &x[..]);
                Some(SignKey::Ed25519(pair))
            }
        };
        Ok((VerifyKey::Public(public), signer))
    }
}

fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

fn supported_list() -> String {
    let names: Vec<&str> = ALL_ALGS.iter().map(|a| a.name()).collect();
    format!("use one of {}", names.join(", "))
}

/// The keys of one app, looked up by `kid`. Immutable: a refresh builds a
/// new ring and swaps it in.
#[derive(Debug, Default)]
pub struct KeyRing {
    keys: HashMap<String, Arc<Key>>,
    /// Kids of JWKs that were skipped (not for signatures), with the reason.
    ignored: HashMap<String, String>,
}

impl KeyRing {
    /// An empty ring.
    pub fn new() -> KeyRing {
        KeyRing::default()
    }

    /// Parses a JWK set document (`{"keys": [...]}`); `source` names it in
    /// errors (a file name, `jwks_url`).
    pub fn from_jwks_json(json: &[u8], source: &str) -> Result<KeyRing, KeyError> {
        let doc: Value = serde_json::from_slice(json).map_err(|e| {
            KeyError::new(
                KeyErrorKind::Json,
                None,
                format!("{source}: not valid JSON ({e})"),
            )
        })?;
        let Some(Value::Array(keys)) = doc.get("keys") else {
            return Err(KeyError::new(
                KeyErrorKind::Json,
                None,
                format!("{source}: a JWK set is an object with a \"keys\" array"),
            ));
        };
        let mut ring = KeyRing::new();
        ring.add_jwks(keys, source)?;
        Ok(ring)
    }

    /// Adds JWKs given as JSON values (inline `keys` from the config).
    pub fn add_jwks(&mut self, jwks: &[Value], source: &str) -> Result<(), KeyError> {
        for jwk in jwks {
            match Key::from_jwk(jwk, source)? {
                Ok(key) => self.insert(key)?,
                Err((kid, why)) => {
                    tracing::warn!(kid = %kid, source, "ignoring JWK: {why}");
                    self.ignored.insert(kid, why);
                }
            }
        }
        Ok(())
    }

    /// Adds one key; refuses a kid already in the ring.
    pub fn insert(&mut self, key: Key) -> Result<(), KeyError> {
        if let Some(existing) = self.keys.get(&key.kid) {
            return Err(KeyError::new(
                KeyErrorKind::DuplicateKid,
                Some(&key.kid),
                format!(
                    "kid appears twice (in {} and {}); every key needs its own kid",
                    existing.source, key.source
                ),
            ));
        }
        self.keys.insert(key.kid.clone(), Arc::new(key));
        Ok(())
    }

    /// A new ring holding the keys of both; refuses duplicate kids.
    pub fn merged(&self, other: &KeyRing) -> Result<KeyRing, KeyError> {
        let mut ring = KeyRing {
            keys: self.keys.clone(),
            ignored: self.ignored.clone(),
        };
        for (kid, key) in &other.keys {
            if let Some(existing) = ring.keys.get(kid) {
                return Err(KeyError::new(
                    KeyErrorKind::DuplicateKid,
                    Some(kid),
                    format!(
                        "kid appears twice (in {} and {}); every key needs its own kid",
                        existing.source, key.source
                    ),
                ));
            }
            ring.keys.insert(kid.clone(), Arc::clone(key));
        }
        ring.ignored
            .extend(other.ignored.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(ring)
    }

    /// The key with this kid.
    pub fn get(&self, kid: &str) -> Option<&Arc<Key>> {
        self.keys.get(kid)
    }

    /// Why a kid was ignored at load, if it was.
    pub fn ignored_reason(&self, kid: &str) -> Option<&str> {
        self.ignored.get(kid).map(String::as_str)
    }

    /// The only key, when the ring holds exactly one (for kid-less tokens).
    pub fn only_key(&self) -> Option<&Arc<Key>> {
        if self.keys.len() == 1 {
            self.keys.values().next()
        } else {
            None
        }
    }

    /// How many keys the ring holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the ring holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The kids, sorted, for messages (kids are not secret).
    pub fn kids(&self) -> Vec<&str> {
        let mut kids: Vec<&str> = self.keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        kids
    }

    /// The keys that can sign.
    pub fn signing_keys(&self) -> impl Iterator<Item = &Arc<Key>> {
        self.keys.values().filter(|k| k.can_sign())
    }
}
