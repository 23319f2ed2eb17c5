//! Identity-token verification speed: one valid token per algorithm, keys
//! parsed once (as the server does at start-up). Besides criterion's report,
//! prints one JSON line per algorithm so runs can be compared by a program:
//! `{"bench":"jwt_verify","alg":"HS256","ns_per_op":...}`.
//!
//! The `jsonwebtoken_decode` lines measure the `jsonwebtoken` crate's
//! `decode` with a cached `DecodingKey` on the same tokens, for comparison:
//! it rebuilds the HMAC key and re-parses the public key on every call.
//!
//! Keys are the TEST-ONLY fixtures in `server/tests/fixtures/jwt/`.

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};
use trustchat_server::jwt::{KeyRing, Policy, Verifier};

const KEYS: &str = include_str!("../tests/fixtures/jwt/keys.jwks.json");
const NOW: u64 = 1_800_000_000;
const ALGS: [(&str, &str); 4] = [
    ("HS256", "hs256"),
    ("RS256", "rs256"),
    ("ES256", "es256"),
    ("EdDSA", "eddsa"),
];

fn setup() -> (Verifier, Vec<(&'static str, String)>) {
    let ring = KeyRing::from_jwks_json(KEYS.as_bytes(), "fixture").expect("fixture keys load");
    let claims = json!({
        "sub": "user-42", "email": "ada@example.com", "name": "Ada Lovelace",
        "aud": "demo", "iss": "https://portal.example",
        "iat": NOW - 10, "exp": NOW + 600, "jti": "b2c4c7a1-5f3e-4d7b",
    });
    let payload = serde_json::to_vec(&claims).expect("json");
    let tokens = ALGS
        .iter()
        .map(|(alg, kid)| {
            let key = ring.get(kid).expect("fixture kid");
            let header =
                serde_json::to_vec(&json!({ "alg": alg, "typ": "JWT", "kid": kid })).expect("json");
            (*alg, key.sign_compact(&header, &payload).expect("signs"))
        })
        .collect();
    let policy = Policy {
        app_id: "demo".into(),
        issuer: Some("https://portal.example".into()),
        max_lifetime_secs: 3600,
        leeway_secs: 60,
        single_use: false,
        mint_kid: None,
    };
    (Verifier::new(policy, ring), tokens)
}

/// jsonwebtoken's decode with a cached key, for the same token.
fn jsonwebtoken_case(alg: &str) -> Option<(jsonwebtoken::DecodingKey, jsonwebtoken::Validation)> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    let keys: Value = serde_json::from_str(KEYS).ok()?;
    let jwk = keys["keys"]
        .as_array()?
        .iter()
        .find(|k| k["alg"] == alg || (alg == "ES256" && k["kid"] == "es256"))?;
    let (key, algorithm) = match alg {
        "HS256" => (
            DecodingKey::from_secret(&URL_SAFE_NO_PAD.decode(jwk["k"].as_str()?).ok()?),
            Algorithm::HS256,
        ),
        "RS256" => (
            DecodingKey::from_rsa_components(jwk["n"].as_str()?, jwk["e"].as_str()?).ok()?,
            Algorithm::RS256,
        ),
        "ES256" => (
            DecodingKey::from_ec_components(jwk["x"].as_str()?, jwk["y"].as_str()?).ok()?,
            Algorithm::ES256,
        ),
        _ => return None,
    };
    let mut validation = Validation::new(algorithm);
    validation.set_audience(&["demo"]);
    validation.set_issuer(&["https://portal.example"]);
    validation.validate_exp = false;
    Some((key, validation))
}

/// Mean time of `f`, measured for about `budget` after a warm-up.
fn ns_per_op(budget: Duration, mut f: impl FnMut()) -> f64 {
    for _ in 0..100 {
        f();
    }
    let mut iterations = 0u64;
    let start = Instant::now();
    while start.elapsed() < budget {
        for _ in 0..64 {
            f();
        }
        iterations += 64;
    }
    start.elapsed().as_nanos() as f64 / iterations as f64
}

fn bench(c: &mut Criterion) {
    let (verifier, tokens) = setup();
    // `npm run bench` verifies the very same tokens with node's jose.
    if let Ok(path) = std::env::var("JWT_BENCH_TOKENS_OUT") {
        let map: serde_json::Map<String, Value> = tokens
            .iter()
            .map(|(alg, token)| ((*alg).to_owned(), Value::from(token.as_str())))
            .collect();
        let out =
            json!({ "now": NOW, "aud": "demo", "iss": "https://portal.example", "tokens": map });
        std::fs::write(&path, out.to_string()).expect("writes the bench tokens");
    }
    let mut group = c.benchmark_group("jwt_verify");
    for (alg, token) in &tokens {
        verifier.verify(token, NOW).expect("bench token is valid");
        group.bench_function(*alg, |b| {
            b.iter(|| verifier.verify(black_box(token), NOW).expect("valid"))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("jsonwebtoken_decode");
    for (alg, token) in &tokens {
        if let Some((key, validation)) = jsonwebtoken_case(alg) {
            jsonwebtoken::decode::<Value>(token, &key, &validation)
                .expect("jsonwebtoken accepts the token");
            group.bench_function(*alg, |b| {
                b.iter(|| {
                    jsonwebtoken::decode::<Value>(black_box(token), &key, &validation)
                        .expect("valid")
                })
            });
        }
    }
    group.finish();

    // Machine-readable lines, one per algorithm.
    let budget = Duration::from_millis(700);
    for (alg, token) in &tokens {
        let ns = ns_per_op(budget, || {
            black_box(verifier.verify(black_box(token), NOW).expect("valid"));
        });
        println!(
            "{}",
            json!({ "bench": "jwt_verify", "alg": alg, "ns_per_op": ns.round() })
        );
    }
    for (alg, token) in &tokens {
        if let Some((key, validation)) = jsonwebtoken_case(alg) {
            let ns = ns_per_op(budget, || {
                black_box(
                    jsonwebtoken::decode::<Value>(black_box(token), &key, &validation)
                        .expect("valid"),
                );
            });
            println!(
                "{}",
                json!({ "bench": "jsonwebtoken_decode", "alg": alg, "ns_per_op": ns.round() })
            );
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = bench
}
criterion_main!(benches);
