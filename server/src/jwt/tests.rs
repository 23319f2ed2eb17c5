//! Behaviour tests of the jwt module: every refusal reason, for every
//! algorithm family, through one `check` helper. Keys come from the
//! TEST-ONLY fixtures in `server/tests/fixtures/jwt/`.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::keys::ALL_ALGS;
use super::*;

const KEYS: &str = include_str!("../../tests/fixtures/jwt/keys.jwks.json");
const OTHER_KEYS: &str = include_str!("../../tests/fixtures/jwt/other.jwks.json");

/// "Now" in every test: 2027-01-15T08:00:00Z.
const NOW: u64 = 1_800_000_000;
const APP: &str = "demo";
const ISSUER: &str = "https://portal.example";

fn ring(json: &str) -> KeyRing {
    KeyRing::from_jwks_json(json.as_bytes(), "fixture").expect("fixture keys load")
}

fn policy() -> Policy {
    Policy {
        app_id: APP.into(),
        issuer: Some(ISSUER.into()),
        max_lifetime_secs: 3600,
        leeway_secs: 60,
        single_use: false,
        mint_kid: None,
    }
}

fn verifier() -> Verifier {
    Verifier::new(policy(), ring(KEYS))
}

fn good_claims() -> Map<String, Value> {
    let claims = json!({
        "sub": "user-42",
        "email": " Ada@Example.com ",
        "name": "Ada  Lovelace",
        "aud": APP,
        "iss": ISSUER,
        "iat": NOW - 10,
        "exp": NOW + 600,
        "jti": "jti-1",
    });
    claims.as_object().expect("an object").clone()
}

/// Signs `claims` with the fixture key `kid`, after `edit_header` ran on the
/// standard header.
fn token_with(
    kid: &str,
    claims: &Map<String, Value>,
    edit_header: impl FnOnce(&mut Map<String, Value>),
) -> String {
    sign_raw(
        KEYS,
        kid,
        kid,
        edit_header,
        serde_json::to_vec(claims).expect("json").as_slice(),
    )
}

fn sign_raw(
    keys: &str,
    signing_kid: &str,
    header_kid: &str,
    edit_header: impl FnOnce(&mut Map<String, Value>),
    payload: &[u8],
) -> String {
    let ring = ring(keys);
    let key = ring.get(signing_kid).expect("kid in fixture");
    let mut header = Map::new();
    header.insert("alg".into(), key.alg().name().into());
    header.insert("typ".into(), "JWT".into());
    header.insert("kid".into(), header_kid.into());
    edit_header(&mut header);
    key.sign_compact(&serde_json::to_vec(&header).expect("json"), payload)
        .expect("fixture key signs")
}

#[track_caller]
fn check(verifier: &Verifier, token: &str, now: u64, expected: Option<Reason>) {
    let got = verifier.verify(token, now).map(|_| ());
    match (expected, got) {
        (None, Ok(())) => {}
        (Some(reason), Err(refusal)) => {
            assert_eq!(
                refusal.reason, reason,
                "wrong reason; message: {}",
                refusal.message
            );
            assert!(!refusal.message.is_empty());
            assert!(
                !refusal.message.ends_with('.'),
                "message ends with a dot: {}",
                refusal.message
            );
            if token.len() > 16 {
                assert!(!refusal.message.contains(token), "message leaks the token");
            }
        }
        (expected, got) => panic!("expected {expected:?}, got {got:?}"),
    }
}

fn kid_of(alg: Alg) -> String {
    alg.name().to_lowercase()
}

type Edit = fn(&mut Map<String, Value>);

/// Claim cases: (name, edit, now, expected).
fn claim_cases() -> Vec<(&'static str, Edit, u64, Option<Reason>)> {
    vec![
        ("valid", |_| {}, NOW, None),
        (
            "expired",
            |c| {
                c.insert("exp".into(), json!(NOW - 61));
            },
            NOW,
            Some(Reason::TokenExpired),
        ),
        (
            "expired within leeway",
            |c| {
                c.insert("exp".into(), json!(NOW - 59));
            },
            NOW,
            None,
        ),
        (
            "expired exactly at leeway",
            |c| {
                c.insert("exp".into(), json!(NOW - 60));
            },
            NOW,
            Some(Reason::TokenExpired),
        ),
        (
            "nbf in the future",
            |c| {
                c.insert("nbf".into(), json!(NOW + 61));
            },
            NOW,
            Some(Reason::TokenNotYetValid),
        ),
        (
            "nbf within leeway",
            |c| {
                c.insert("nbf".into(), json!(NOW + 59));
            },
            NOW,
            None,
        ),
        (
            "iat in the future",
            |c| {
                c.insert("iat".into(), json!(NOW + 61));
            },
            NOW,
            Some(Reason::TokenNotYetValid),
        ),
        (
            "iat within leeway",
            |c| {
                c.insert("iat".into(), json!(NOW + 59));
            },
            NOW,
            None,
        ),
        (
            "wrong aud string",
            |c| {
                c.insert("aud".into(), json!("other-app"));
            },
            NOW,
            Some(Reason::WrongAudience),
        ),
        (
            "wrong aud array",
            |c| {
                c.insert("aud".into(), json!(["a", "b"]));
            },
            NOW,
            Some(Reason::WrongAudience),
        ),
        (
            "aud array containing app",
            |c| {
                c.insert("aud".into(), json!(["a", APP]));
            },
            NOW,
            None,
        ),
        (
            "aud empty array",
            |c| {
                c.insert("aud".into(), json!([]));
            },
            NOW,
            Some(Reason::WrongAudience),
        ),
        (
            "aud number",
            |c| {
                c.insert("aud".into(), json!(5));
            },
            NOW,
            Some(Reason::InvalidClaim),
        ),
        (
            "aud array of numbers",
            |c| {
                c.insert("aud".into(), json!([5]));
            },
            NOW,
            Some(Reason::InvalidClaim),
        ),
        (
            "missing aud",
            |c| {
                c.remove("aud");
            },
            NOW,
            Some(Reason::MissingClaim),
        ),
        (
            "missing exp",
            |c| {
                c.remove("exp");
            },
            NOW,
            Some(Reason::MissingClaim),
        ),
        (
            "missing sub",
            |c| {
                c.remove("sub");
            },
            NOW,
            Some(Reason::MissingClaim),
        ),
        (
            "missing email and phone",
            |c| {
                c.remove("email");
            },
            NOW,
            Some(Reason::MissingClaim),
        ),
        (
            "phone only",
            |c| {
                c.remove("email");
                c.insert("phone_number".into(), json!("+1 (415) 555-0100"));
            },
            NOW,
            None,
        ),
        (
            "missing iss",
            |c| {
                c.remove("iss");
            },
            NOW,
            Some(Reason::MissingClaim),
        ),
        (
            "wrong iss",
            |c| {
                c.insert("iss".into(), json!("https://evil.example"));
            },
            NOW,
            Some(Reason::WrongIssuer),
        ),
        (
            "exp as string",
            |c| {
                c.insert("exp".into(), json!((NOW + 600).to_string()));
            },
            NOW,
            Some(Reason::InvalidClaim),
        ),
        (
            "exp as float",
            |c| {
                c.insert("exp".into(), json!(1_800_000_600.5));
            },
            NOW,
            Some(Reason::InvalidClaim),
        ),
        (
            "exp as bool",
            |c| {
                c.insert("exp".into(), json!(true));
            },
            NOW,
            Some(Reason::InvalidClaim),
        ),
        (
            "exp negative",
            |c| {
                c.insert("exp".into(), json!(-1));
            },
            NOW,
            Some(Reason::InvalidClaim),
        ),
        (
            "iat as string",
            |c| {
                c.insert("iat".into(), json!("yesterday"));
            },
            NOW,
            Some(Reason::InvalidClaim),
        ),
        (
            "nbf null",
            |c| {
                c.insert("nbf".into(), Value::Null);
            },
            NOW,
            Some(Reason::InvalidClaim),
        ),
        (
            "sub as number",
            |c| {
                c.insert("sub".into(), json!(42));
            },
            NOW,
            Some(Reason::InvalidClaim),
        ),
        (
            "sub blank",
            |c| {
                c.insert("sub".into(), json!("  "));
            },
            NOW,
            Some(Reason::InvalidClaim),
        ),
        (
            "email invalid",
            |c| {
                c.insert("email".into(), json!("ada-at-example"));
            },
            NOW,
            Some(Reason::InvalidClaim),
        ),
        (
            "email as array",
            |c| {
                c.insert("email".into(), json!(["a@b.co"]));
            },
            NOW,
            Some(Reason::InvalidClaim),
        ),
        (
            "phone invalid",
            |c| {
                c.insert("phone_number".into(), json!("4155550100"));
            },
            NOW,
            Some(Reason::InvalidClaim),
        ),
        (
            "phone as number",
            |c| {
                c.insert("phone_number".into(), json!(14155550100_u64));
            },
            NOW,
            Some(Reason::InvalidClaim),
        ),
        (
            "name as number",
            |c| {
                c.insert("name".into(), json!(7));
            },
            NOW,
            Some(Reason::InvalidClaim),
        ),
        (
            "name with control chars",
            |c| {
                c.insert("name".into(), json!("Ada\u{0007}"));
            },
            NOW,
            Some(Reason::InvalidClaim),
        ),
        (
            "given_name as object",
            |c| {
                c.insert("given_name".into(), json!({}));
            },
            NOW,
            Some(Reason::InvalidClaim),
        ),
        (
            "iss as number",
            |c| {
                c.insert("iss".into(), json!(1));
            },
            NOW,
            Some(Reason::InvalidClaim),
        ),
        (
            "jti as number",
            |c| {
                c.insert("jti".into(), json!(1));
            },
            NOW,
            Some(Reason::InvalidClaim),
        ),
        (
            "lifetime too long",
            |c| {
                c.insert("exp".into(), json!(NOW + 3600));
            },
            NOW,
            Some(Reason::LifetimeTooLong),
        ),
        (
            "lifetime at the cap",
            |c| {
                c.insert("exp".into(), json!(NOW - 10 + 3600));
            },
            NOW,
            None,
        ),
        (
            "lifetime too long without iat",
            |c| {
                c.remove("iat");
                c.insert("exp".into(), json!(NOW + 3661 + 1));
            },
            NOW,
            Some(Reason::LifetimeTooLong),
        ),
        (
            "no iat, short exp",
            |c| {
                c.remove("iat");
            },
            NOW,
            None,
        ),
        (
            "unknown claims are ignored",
            |c| {
                c.insert("roles".into(), json!(["admin"]));
            },
            NOW,
            None,
        ),
    ]
}

/// Header cases: (name, edit, expected). Signed with the right key.
fn header_cases() -> Vec<(&'static str, Edit, Reason)> {
    vec![
        (
            "alg none",
            |h| {
                h.insert("alg".into(), json!("none"));
            },
            Reason::AlgorithmNotAllowed,
        ),
        (
            "alg None",
            |h| {
                h.insert("alg".into(), json!("None"));
            },
            Reason::AlgorithmNotAllowed,
        ),
        (
            "alg NONE",
            |h| {
                h.insert("alg".into(), json!("NONE"));
            },
            Reason::AlgorithmNotAllowed,
        ),
        (
            "alg nOnE",
            |h| {
                h.insert("alg".into(), json!("nOnE"));
            },
            Reason::AlgorithmNotAllowed,
        ),
        (
            "alg lowercase",
            |h| {
                let a = h["alg"].as_str().unwrap_or("").to_lowercase();
                h.insert("alg".into(), json!(a));
            },
            Reason::AlgorithmNotAllowed,
        ),
        (
            "alg unsupported",
            |h| {
                h.insert("alg".into(), json!("HS1"));
            },
            Reason::AlgorithmNotAllowed,
        ),
        (
            "alg missing",
            |h| {
                h.remove("alg");
            },
            Reason::MalformedToken,
        ),
        (
            "alg not a string",
            |h| {
                h.insert("alg".into(), json!(["HS256"]));
            },
            Reason::MalformedToken,
        ),
        (
            "kid unknown",
            |h| {
                h.insert("kid".into(), json!("nope"));
            },
            Reason::UnknownKey,
        ),
        (
            "kid missing, several keys",
            |h| {
                h.remove("kid");
            },
            Reason::UnknownKey,
        ),
        (
            "kid not a string",
            |h| {
                h.insert("kid".into(), json!(1));
            },
            Reason::MalformedToken,
        ),
        (
            "jku",
            |h| {
                h.insert("jku".into(), json!("https://evil.example/jwks"));
            },
            Reason::ForbiddenHeader,
        ),
        (
            "x5u",
            |h| {
                h.insert("x5u".into(), json!("https://evil.example/cert"));
            },
            Reason::ForbiddenHeader,
        ),
        (
            "x5c",
            |h| {
                h.insert("x5c".into(), json!(["MIIB"]));
            },
            Reason::ForbiddenHeader,
        ),
        (
            "jwk",
            |h| {
                h.insert("jwk".into(), json!({"kty": "oct", "k": "AAAA"}));
            },
            Reason::ForbiddenHeader,
        ),
        (
            "crit",
            |h| {
                h.insert("crit".into(), json!(["exp"]));
                h.insert("exp".into(), json!(1));
            },
            Reason::ForbiddenHeader,
        ),
        (
            "crit empty",
            |h| {
                h.insert("crit".into(), json!([]));
            },
            Reason::ForbiddenHeader,
        ),
        (
            "b64 false",
            |h| {
                h.insert("b64".into(), json!(false));
            },
            Reason::ForbiddenHeader,
        ),
    ]
}

#[test]
fn every_claim_rule_holds_for_every_algorithm() {
    let verifier = verifier();
    for alg in ALL_ALGS {
        for (name, edit, now, expected) in claim_cases() {
            let mut claims = good_claims();
            edit(&mut claims);
            let token = token_with(&kid_of(alg), &claims, |_| {});
            eprintln!("{alg} / {name}");
            check(&verifier, &token, now, expected);
        }
    }
}

#[test]
fn every_header_rule_holds_for_every_algorithm() {
    let verifier = verifier();
    for alg in ALL_ALGS {
        for (name, edit, expected) in header_cases() {
            let token = token_with(&kid_of(alg), &good_claims(), edit);
            eprintln!("{alg} / {name}");
            check(&verifier, &token, NOW, Some(expected));
        }
    }
}

#[test]
fn alg_none_with_an_empty_signature_is_refused() {
    let verifier = verifier();
    let payload = serde_json::to_vec(&good_claims()).expect("json");
    for alg in ["none", "None", "NONE", "nOnE", " none"] {
        for kid in [None, Some("hs256"), Some("rs256")] {
            let mut header = json!({ "alg": alg, "typ": "JWT" });
            if let Some(kid) = kid {
                header["kid"] = json!(kid);
            }
            let token = format!(
                "{}.{}.",
                b64(&serde_json::to_vec(&header).expect("json")),
                b64(&payload)
            );
            check(&verifier, &token, NOW, Some(Reason::AlgorithmNotAllowed));
        }
    }
}

#[test]
fn another_key_under_the_same_kid_is_a_bad_signature() {
    let verifier = verifier();
    for alg in ALL_ALGS {
        let kid = kid_of(alg);
        let payload = serde_json::to_vec(&good_claims()).expect("json");
        let token = sign_raw(OTHER_KEYS, &kid, &kid, |_| {}, &payload);
        check(&verifier, &token, NOW, Some(Reason::BadSignature));
    }
}

#[test]
fn a_token_signed_with_one_algorithm_is_refused_by_a_key_of_another() {
    // Header names rs256 and claims RS256, but is signed with the ES256 key.
    let verifier = verifier();
    for (signer, named) in [
        ("es256", "rs256"),
        ("hs256", "hs384"),
        ("ps256", "rs256"),
        ("eddsa", "es256"),
    ] {
        let payload = serde_json::to_vec(&good_claims()).expect("json");
        let token = sign_raw(KEYS, signer, named, |_| {}, &payload);
        check(&verifier, &token, NOW, Some(Reason::AlgorithmNotAllowed));
        // Even with the header alg matching the named key, the signature fails.
        let named_alg = ring(KEYS).get(named).expect("kid").alg().name();
        let token = sign_raw(
            KEYS,
            signer,
            named,
            |h| {
                h.insert("alg".into(), json!(named_alg));
            },
            &payload,
        );
        check(&verifier, &token, NOW, Some(Reason::BadSignature));
    }
}

#[test]
fn tampering_with_any_part_breaks_the_signature() {
    let verifier = verifier();
    for alg in ALL_ALGS {
        let token = token_with(&kid_of(alg), &good_claims(), |_| {});
        let (signing_input, signature) = token.rsplit_once('.').expect("three parts");
        let mut claims = good_claims();
        claims.insert("sub".into(), json!("admin"));
        let (header, _) = signing_input.split_once('.').expect("three parts");
        let forged = format!(
            "{header}.{}.{signature}",
            b64(&serde_json::to_vec(&claims).expect("json"))
        );
        check(&verifier, &forged, NOW, Some(Reason::BadSignature));
        // A signature with one flipped bit, or cut short, does not verify.
        let mut bytes =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, signature)
                .expect("b64");
        bytes[0] ^= 1;
        check(
            &verifier,
            &format!("{signing_input}.{}", b64(&bytes)),
            NOW,
            Some(Reason::BadSignature),
        );
        bytes[0] ^= 1;
        bytes.pop();
        check(
            &verifier,
            &format!("{signing_input}.{}", b64(&bytes)),
            NOW,
            Some(Reason::BadSignature),
        );
        check(
            &verifier,
            &format!("{signing_input}."),
            NOW,
            Some(Reason::BadSignature),
        );
    }
}

/// The classic confusion attack: an attacker takes the site's RSA public
/// key and uses its bytes as an HMAC secret, naming HS256 in the header.
#[test]
fn rsa_public_key_as_hmac_secret_is_refused() {
    let verifier = verifier();
    let keys: Value = serde_json::from_str(KEYS).expect("json");
    let rsa = keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == "rs256")
        .expect("rs256");
    let payload = serde_json::to_vec(&good_claims()).expect("json");
    let header =
        serde_json::to_vec(&json!({ "alg": "HS256", "typ": "JWT", "kid": "rs256" })).expect("json");
    // Try several encodings of "the public key" an attacker might use.
    let public_jwk = json!({ "kty": "RSA", "n": rsa["n"], "e": rsa["e"] }).to_string();
    let n_bytes = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        rsa["n"].as_str().unwrap_or(""),
    )
    .expect("n decodes");
    for secret in [public_jwk.into_bytes(), n_bytes] {
        let hmac =
            Key::from_hmac_secret("rs256", Alg::HS256, &secret, "attacker").expect("long enough");
        let token = hmac.sign_compact(&header, &payload).expect("signs");
        check(&verifier, &token, NOW, Some(Reason::AlgorithmNotAllowed));
    }
}

/// Tokens that are not a three-part base64url JWS with a JSON object
/// header: (name, token).
fn malformed_token_cases() -> Vec<(&'static str, String)> {
    let good = token_with("hs256", &good_claims(), |_| {});
    let (h, rest) = good.split_once('.').expect("parts");
    let (p, s) = rest.split_once('.').expect("parts");
    let huge = format!("{h}.{}.{s}", "A".repeat(MAX_TOKEN_BYTES));
    let not_json_header = format!("{}.{p}.{s}", b64(b"not json"));
    let array_header = format!("{}.{p}.{s}", b64(b"[1,2]"));
    let duplicate_alg = format!(
        "{}.{p}.{s}",
        b64(br#"{"alg":"HS256","alg":"none","kid":"hs256"}"#)
    );
    let padded = format!("{h}=.{p}.{s}");
    let cases: Vec<(&'static str, String)> = vec![
        ("empty", String::new()),
        ("garbage", "garbage".into()),
        ("two parts", format!("{h}.{p}")),
        ("four parts", format!("{good}.x")),
        (
            "five parts (JWE)",
            "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d".into(),
        ),
        ("bad base64 in header", format!("{h}!.{p}.{s}")),
        ("bad base64 in payload", format!("{h}.{p}*.{s}")),
        ("bad base64 in signature", format!("{h}.{p}.{s}$")),
        ("padding", padded),
        ("non-JSON header", not_json_header),
        ("header is an array", array_header),
        ("duplicate header member", duplicate_alg),
        ("huge token", huge),
        ("only dots", "..".into()),
    ];
    cases
}

#[test]
fn malformed_tokens_are_refused_before_any_key_is_used() {
    let verifier = verifier();
    for (name, token) in malformed_token_cases() {
        eprintln!("{name}");
        check(&verifier, &token, NOW, Some(Reason::MalformedToken));
    }
}

#[test]
fn a_payload_that_is_not_a_json_object_is_malformed_after_the_signature() {
    let verifier = verifier();
    for payload in [
        &b"not json"[..],
        b"[1]",
        b"\"s\"",
        br#"{"sub":"a","sub":"b"}"#,
    ] {
        let token = sign_raw(KEYS, "es256", "es256", |_| {}, payload);
        check(&verifier, &token, NOW, Some(Reason::MalformedToken));
        // The signature itself is fine, which --signature-only reports.
        let (header, body) = verifier
            .verify_signature_only(&token)
            .expect("signature verifies");
        assert_eq!(header["kid"], "es256");
        assert_eq!(body, payload);
    }
    // And a forged payload fails --signature-only too.
    let token = sign_raw(OTHER_KEYS, "es256", "es256", |_| {}, b"anything");
    assert_eq!(
        verifier.verify_signature_only(&token).unwrap_err().reason,
        Reason::BadSignature
    );
}

/// Found by fuzzing (`jwt_claims`): serde_json checks UTF-8 only in the
/// strings it reads, so a stray byte in an unknown claim or header member
/// passed. JSON is UTF-8; such a token is malformed, signed or not.
#[test]
fn a_header_or_payload_that_is_not_utf8_is_malformed() {
    let verifier = verifier();
    let payload: &[u8] =
        include_bytes!("../../../fuzz/regressions/jwt_claims/invalid-utf8-in-unknown-claim");
    assert!(std::str::from_utf8(std::hint::black_box(payload)).is_err());
    let token = sign_raw(KEYS, "hs256", "hs256", |_| {}, payload);
    check(&verifier, &token, NOW, Some(Reason::MalformedToken));
    // Without the stray byte it parses, and stops at the next rule: it
    // was made for an app without an issuer.
    let mut fixed = payload.to_vec();
    fixed.retain(|b| b.is_ascii());
    let token = sign_raw(KEYS, "hs256", "hs256", |_| {}, &fixed);
    check(&verifier, &token, NOW, Some(Reason::MissingClaim));

    let header = b"{\"alg\":\"HS256\",\"kid\":\"hs256\",\"x\":\"\xff\"}";
    let key = ring(KEYS);
    let key = key.get("hs256").expect("kid");
    let token = key
        .sign_compact(header, &serde_json::to_vec(&good_claims()).expect("json"))
        .expect("signs");
    check(&verifier, &token, NOW, Some(Reason::MalformedToken));
    let refusal = verifier.verify_signature_only(&token).unwrap_err();
    assert_eq!(refusal.reason, Reason::MalformedToken);
}

/// Found by fuzzing (`jwt_claims`): serde_json skips the strings of
/// members a struct ignores without checking their escapes, so a lone
/// surrogate in an unknown claim (or header member) passed, though no JSON
/// parser can read it.
#[test]
fn a_lone_surrogate_in_an_unknown_member_is_malformed() {
    let verifier = verifier();
    let payload: &[u8] =
        include_bytes!("../../../fuzz/regressions/jwt_claims/lone-surrogate-in-unknown-claim");
    assert!(serde_json::from_slice::<Value>(payload).is_err());
    let token = sign_raw(KEYS, "hs256", "hs256", |_| {}, payload);
    check(&verifier, &token, NOW, Some(Reason::MalformedToken));
    let text = std::str::from_utf8(payload).expect("ascii");
    let fixed = text.replace(r"\uda00", r"\uda00\udc00");
    let token = sign_raw(KEYS, "hs256", "hs256", |_| {}, fixed.as_bytes());
    check(&verifier, &token, NOW, None);

    let ring = ring(KEYS);
    let key = ring.get("hs256").expect("kid");
    let claims = serde_json::to_vec(&good_claims()).expect("json");
    for header in [
        r#"{"alg":"HS256","kid":"hs256","x":"\ud800"}"#,
        r#"{"alg":"HS256","kid":"hs256","x":["\udfff"]}"#,
        r#"{"alg":"HS256","kid":"hs256","\ud800":1}"#,
    ] {
        let token = key.sign_compact(header.as_bytes(), &claims).expect("signs");
        check(&verifier, &token, NOW, Some(Reason::MalformedToken));
    }
}

#[test]
fn a_valid_token_yields_the_normalized_identity() {
    let verifier = verifier();
    let mut claims = good_claims();
    claims.insert("phone_number".into(), json!("+44 20 7946 0958"));
    claims.insert("given_name".into(), json!("Ada"));
    let token = token_with("eddsa", &claims, |_| {});
    let verified = verifier.verify(&token, NOW).expect("valid");
    assert_eq!(
        verified.identity,
        Identity {
            sub: "user-42".into(),
            email: Some("ada@example.com".into()),
            phone: Some("+442079460958".into()),
            name: Some("Ada Lovelace".into()),
            given_name: Some("Ada".into()),
            exp: NOW + 600,
            iat: Some(NOW - 10),
            jti: Some("jti-1".into()),
        }
    );
    assert_eq!(verified.kid, "eddsa");
    assert_eq!(verified.alg, Alg::EdDSA);
    assert_eq!(verified.header()["alg"], "EdDSA");
    assert_eq!(
        verified.claims()["email"],
        " Ada@Example.com ",
        "raw claims are kept for the debugger"
    );
}

#[test]
fn the_debugger_shows_claims_serde_cannot_hold_as_their_text() {
    // Valid JSON the verifier accepts (it reads no such claim), but beyond
    // f64: shown as the payload's text, not as null.
    let verifier = verifier();
    let ring = ring(KEYS);
    let key = ring.get("hs256").expect("kid");
    let claims = serde_json::to_string(&good_claims()).expect("json");
    let payload = format!("{},\"big\":1e400}}", claims.trim_end_matches('}'));
    let token = key
        .sign_compact(br#"{"alg":"HS256","kid":"hs256"}"#, payload.as_bytes())
        .expect("signs");
    let verified = verifier.verify(&token, NOW).expect("valid");
    assert_eq!(verified.claims(), Value::String(payload));
}

#[test]
fn a_kidless_token_is_accepted_only_when_the_app_has_one_key() {
    let mut one = KeyRing::new();
    let keys: Value = serde_json::from_str(KEYS).expect("json");
    let es = keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == "es256")
        .expect("es256")
        .clone();
    one.add_jwks(&[es], "one").expect("loads");
    let single = Verifier::new(policy(), one);
    let token = token_with("es256", &good_claims(), |h| {
        h.remove("kid");
    });
    check(&single, &token, NOW, None);
    check(&verifier(), &token, NOW, Some(Reason::UnknownKey));
}

#[test]
fn refusal_messages_are_actionable() {
    let verifier = verifier();
    let mut claims = good_claims();
    claims.insert("exp".into(), json!(NOW - 312));
    claims.insert("iat".into(), json!(NOW - 400));
    let refusal = verifier
        .verify(&token_with("hs256", &claims, |_| {}), NOW)
        .unwrap_err();
    assert_eq!(
        refusal.message,
        "token expired at 2027-01-15T07:54:48Z, 312 s ago (leeway 60 s); mint a fresh token"
    );
    let refusal = verifier.verify(
        &token_with("hs256", &good_claims(), |h| {
            h.insert("kid".into(), json!("k9"));
        }),
        NOW,
    );
    let message = refusal.unwrap_err().message;
    assert!(
        message.starts_with("kid \"k9\" is not a key of this app (known kids: eddsa, es256"),
        "{message}"
    );
    let mut claims = good_claims();
    claims.insert("aud".into(), json!("shop"));
    let message = verifier
        .verify(&token_with("hs256", &claims, |_| {}), NOW)
        .unwrap_err()
        .message;
    assert_eq!(
        message,
        "token audience is [\"shop\"] but this app is \"demo\"; set aud to the app id"
    );
}

#[test]
fn rfc3339_formats_known_instants() {
    use super::verify::rfc3339;
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(1_300_819_380), "2011-03-22T18:43:00Z");
    assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
}

#[test]
fn single_use_tokens_need_a_jti_and_work_once() {
    let mut policy = policy();
    policy.single_use = true;
    let verifier = Verifier::new(policy, ring(KEYS));
    let guard = MemoryReplayGuard::with_clock(100, || NOW);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");

    let mut claims = good_claims();
    claims.remove("jti");
    let token = token_with("hs256", &claims, |_| {});
    check(&verifier, &token, NOW, Some(Reason::MissingClaim));

    for alg in ALL_ALGS {
        let mut claims = good_claims();
        claims.insert("jti".into(), json!(format!("once-{alg}")));
        let token = token_with(&kid_of(alg), &claims, |_| {});
        rt.block_on(verifier.verify_once(&token, NOW, &guard))
            .expect("first use");
        let again = rt
            .block_on(verifier.verify_once(&token, NOW, &guard))
            .unwrap_err();
        assert_eq!(again.reason, Reason::TokenReplayed, "{alg}");
    }
    // Without single-use, the same token verifies again and again.
    let plain = Verifier::new(
        super::verify::Policy {
            single_use: false,
            ..verifier.policy().clone()
        },
        ring(KEYS),
    );
    let token = token_with("hs256", &good_claims(), |_| {});
    for _ in 0..3 {
        rt.block_on(plain.verify_once(&token, NOW, &guard))
            .expect("reusable");
    }
}

#[test]
fn the_replay_guard_forgets_entries_after_they_expire_and_is_bounded() {
    static CLOCK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(NOW);
    let guard =
        MemoryReplayGuard::with_clock(3, || CLOCK.load(std::sync::atomic::Ordering::Relaxed));
    assert!(guard.check_and_record("demo", "a", NOW + 10));
    assert!(!guard.check_and_record("demo", "a", NOW + 10));
    assert!(
        guard.check_and_record("other-app", "a", NOW + 10),
        "jtis are per app"
    );
    assert!(guard.check_and_record("demo", "b", NOW + 100));
    assert!(
        !guard.check_and_record("demo", "c", NOW + 100),
        "full: fails closed"
    );
    CLOCK.store(NOW + 11, std::sync::atomic::Ordering::Relaxed);
    assert!(
        guard.check_and_record("demo", "c", NOW + 100),
        "expired entries were forgotten"
    );
    assert_eq!(guard.len(), 2);
    assert!(
        guard.check_and_record("demo", "a", NOW + 100),
        "an expired jti is forgotten"
    );
}

// ---- Key loading ----------------------------------------------------------

fn load_error(jwks: Value) -> KeyError {
    KeyRing::from_jwks_json(jwks.to_string().as_bytes(), "test").unwrap_err()
}

fn fixture_jwk(kid: &str) -> Value {
    let keys: Value = serde_json::from_str(KEYS).expect("json");
    keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid)
        .expect("kid")
        .clone()
}

fn with(mut jwk: Value, edit: impl FnOnce(&mut Map<String, Value>)) -> Value {
    edit(jwk.as_object_mut().expect("object"));
    jwk
}

/// JWK sets that do not load: (name, set, kind).
fn key_load_cases() -> Vec<(&'static str, Value, KeyErrorKind)> {
    vec![
        (
            "rsa without alg",
            json!({"keys": [with(fixture_jwk("rs256"), |k| { k.remove("alg"); })]}),
            KeyErrorKind::AmbiguousAlg,
        ),
        (
            "oct without alg",
            json!({"keys": [with(fixture_jwk("hs256"), |k| { k.remove("alg"); })]}),
            KeyErrorKind::AmbiguousAlg,
        ),
        (
            "short hmac",
            json!({"keys": [{"kty": "oct", "kid": "short", "alg": "HS256", "k": b64(&[7; 31])}]}),
            KeyErrorKind::WeakKey,
        ),
        (
            "hs512 with 32 bytes",
            json!({"keys": [{"kty": "oct", "kid": "short", "alg": "HS512", "k": b64(&[7; 32])}]}),
            KeyErrorKind::WeakKey,
        ),
        (
            "oct with RS256",
            json!({"keys": [with(fixture_jwk("hs256"), |k| { k.insert("alg".into(), json!("RS256")); })]}),
            KeyErrorKind::Mismatch,
        ),
        (
            "rsa with HS256",
            json!({"keys": [with(fixture_jwk("rs256"), |k| { k.insert("alg".into(), json!("HS256")); })]}),
            KeyErrorKind::Mismatch,
        ),
        (
            "P-256 with ES384",
            json!({"keys": [with(fixture_jwk("es256"), |k| { k.insert("alg".into(), json!("ES384")); })]}),
            KeyErrorKind::Mismatch,
        ),
        (
            "EC with EdDSA",
            json!({"keys": [with(fixture_jwk("es256"), |k| { k.insert("alg".into(), json!("EdDSA")); })]}),
            KeyErrorKind::Mismatch,
        ),
        (
            "alg none",
            json!({"keys": [with(fixture_jwk("hs256"), |k| { k.insert("alg".into(), json!("none")); })]}),
            KeyErrorKind::Unsupported,
        ),
        (
            "Ed448",
            json!({"keys": [with(fixture_jwk("eddsa"), |k| { k.insert("crv".into(), json!("Ed448")); })]}),
            KeyErrorKind::Unsupported,
        ),
        (
            "kty unknown",
            json!({"keys": [{"kty": "XYZ", "kid": "x", "alg": "HS256"}]}),
            KeyErrorKind::Unsupported,
        ),
        (
            "duplicate kid",
            json!({"keys": [fixture_jwk("es256"), with(fixture_jwk("eddsa"), |k| { k.insert("kid".into(), json!("es256")); })]}),
            KeyErrorKind::DuplicateKid,
        ),
        (
            "missing kid",
            json!({"keys": [with(fixture_jwk("es256"), |k| { k.remove("kid"); })]}),
            KeyErrorKind::MissingKid,
        ),
        (
            "EC point off the curve",
            json!({"keys": [with(fixture_jwk("es256"), |k| { k.insert("y".into(), json!(b64(&[1; 32]))); })]}),
            KeyErrorKind::BadKeyMaterial,
        ),
        (
            "EC private part of another key",
            json!({"keys": [with(fixture_jwk("es256"), |k| { k.insert("d".into(), json!(b64(&[1; 32]))); })]}),
            KeyErrorKind::BadKeyMaterial,
        ),
        (
            "rsa private part without primes",
            json!({"keys": [with(fixture_jwk("rs256"), |k| { k.remove("p"); })]}),
            KeyErrorKind::BadKeyMaterial,
        ),
        (
            "rsa 1024 bits",
            json!({"keys": [{"kty": "RSA", "kid": "small", "alg": "RS256", "n": b64(&[0xC5; 128]), "e": "AQAB"}]}),
            KeyErrorKind::WeakKey,
        ),
        (
            "k not base64",
            json!({"keys": [{"kty": "oct", "kid": "x", "alg": "HS256", "k": "***"}]}),
            KeyErrorKind::BadKeyMaterial,
        ),
        ("keys not an array", json!({"keys": {}}), KeyErrorKind::Json),
        (
            "kid a number",
            json!({"keys": [with(fixture_jwk("es256"), |k| { k.insert("kid".into(), json!(1)); })]}),
            KeyErrorKind::Json,
        ),
    ]
}

#[test]
fn key_ring_load_errors_name_the_key() {
    for (name, jwks, kind) in key_load_cases() {
        let error = load_error(jwks);
        assert_eq!(error.kind, kind, "{name}: {}", error.message);
        assert!(!error.message.ends_with('.'), "{name}: {}", error.message);
    }
    let bad_json = KeyRing::from_jwks_json(b"{\"keys\": [", "test").unwrap_err();
    assert_eq!(bad_json.kind, KeyErrorKind::Json);
    let ambiguous =
        load_error(json!({"keys": [with(fixture_jwk("rs256"), |k| { k.remove("alg"); })]}));
    assert_eq!(ambiguous.kid.as_deref(), Some("rs256"));
    assert!(
        ambiguous.message.starts_with("key \"rs256\": "),
        "{}",
        ambiguous.message
    );
}

/// Found while writing the `jwks` fuzz target: the modulus's bit count
/// underflowed for an empty (or all-zero) `n`, a panic in the JWKS
/// refresher with overflow checks, a huge "bit count" without.
#[test]
fn an_rsa_modulus_of_zeros_is_a_weak_key_not_a_panic() {
    for jwks in [
        &include_bytes!("../../../fuzz/regressions/jwks/rsa-modulus-of-zeros")[..],
        include_bytes!("../../../fuzz/regressions/jwks/rsa-empty-modulus"),
    ] {
        let error = KeyRing::from_jwks_json(jwks, "test").unwrap_err();
        assert_eq!(error.kind, KeyErrorKind::WeakKey, "{}", error.message);
        assert!(error.message.contains("0 bits"), "{}", error.message);
    }
}

#[test]
fn load_errors_and_debug_output_never_show_secrets() {
    let hs = fixture_jwk("hs256");
    let secret = hs["k"].as_str().expect("k").to_owned();
    let rs = fixture_jwk("rs256");
    let d = rs["d"].as_str().expect("d").to_owned();
    let ring = ring(KEYS);
    let debug = format!("{ring:?} {:?}", verifier());
    assert!(!debug.contains(&secret) && !debug.contains(&d), "{debug}");
    let error =
        load_error(json!({"keys": [with(hs, |k| { k.insert("alg".into(), json!("HS512")); })]}));
    assert!(!error.message.contains(&secret));
    let config: IdentityConfig = toml::from_str(&format!(
        "keys = [{{ kty = \"oct\", kid = \"k1\", alg = \"HS256\", k = \"{secret}\" }}]"
    ))
    .expect("parses");
    assert!(!format!("{config:?}").contains(&secret));
}

#[test]
fn keys_not_for_signatures_are_ignored_and_explained() {
    let ring = KeyRing::from_jwks_json(
        json!({"keys": [
            with(fixture_jwk("rs256"), |k| { k.insert("use".into(), json!("enc")); }),
            with(fixture_jwk("es256"), |k| { k.insert("key_ops".into(), json!(["sign"])); }),
            with(fixture_jwk("eddsa"), |k| { k.insert("key_ops".into(), json!(["sign", "verify"])); }),
        ]})
        .to_string()
        .as_bytes(),
        "test",
    )
    .expect("loads");
    assert_eq!(ring.kids(), vec!["eddsa"]);
    let verifier = Verifier::new(policy(), ring);
    let refusal = verifier
        .verify(&token_with("rs256", &good_claims(), |_| {}), NOW)
        .unwrap_err();
    assert_eq!(refusal.reason, Reason::UnknownKey);
    assert!(
        refusal.message.contains("use=\"enc\""),
        "{}",
        refusal.message
    );
}

// ---- Config ---------------------------------------------------------------

#[test]
fn config_combines_sources_relative_to_the_config_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("keys")).expect("mkdir");
    let file_set = json!({"keys": [fixture_jwk("es256"), fixture_jwk("rs256")]});
    std::fs::write(dir.path().join("keys/demo.jwks.json"), file_set.to_string()).expect("write");
    let hs = fixture_jwk("hs384");
    let config: IdentityConfig = toml::from_str(&format!(
        r#"
        jwks_file = "keys/demo.jwks.json"
        keys = [ {{ kty = "oct", kid = "inline", alg = "HS384", k = "{}" }} ]
        hmac_secrets_env = [
            {{ kid = "raw", alg = "HS256", env = "RAW_SECRET" }},
            {{ kid = "b64", alg = "HS256", env = "B64_SECRET" }},
        ]
        issuer = "{ISSUER}"
        max_token_lifetime_secs = 600
        leeway_secs = 30
        single_use_tokens = true
        mint_kid = "raw"
        "#,
        hs["k"].as_str().expect("k")
    ))
    .expect("parses");
    let env = |name: &str| match name {
        "RAW_SECRET" => Some("a raw secret of at least 32 bytes!".to_owned()),
        "B64_SECRET" => Some(format!("b64:{}", b64(&[9; 32]))),
        _ => None,
    };
    let verifier = config
        .verifier(APP, dir.path(), env, RemoteOptions::default())
        .expect("loads");
    assert_eq!(
        verifier.ring().kids(),
        vec!["b64", "es256", "inline", "raw", "rs256"]
    );
    assert_eq!(verifier.policy().leeway_secs, 30);
    assert!(verifier.policy().single_use);
    // The raw env secret is the variable's bytes; the b64: one is decoded.
    let raw = Key::from_hmac_secret(
        "raw",
        Alg::HS256,
        b"a raw secret of at least 32 bytes!",
        "t",
    )
    .expect("key");
    let b64_key = Key::from_hmac_secret("b64", Alg::HS256, &[9; 32], "t").expect("key");
    let mut claims = good_claims();
    claims.insert("exp".into(), json!(NOW + 100));
    let payload = serde_json::to_vec(&claims).expect("json");
    for (kid, key) in [("raw", raw), ("b64", b64_key)] {
        let header = serde_json::to_vec(&json!({"alg": "HS256", "kid": kid})).expect("json");
        verifier
            .verify(&key.sign_compact(&header, &payload).expect("signs"), NOW)
            .expect(kid);
    }
}

#[test]
fn config_errors_are_clear() {
    let parse = |toml_text: &str| toml::from_str::<IdentityConfig>(toml_text);
    assert!(
        parse("jwks_fil = \"x\"").is_err(),
        "unknown fields are refused"
    );
    let load = |toml_text: &str| {
        let config = parse(toml_text).expect("parses");
        config
            .verifier(
                APP,
                std::path::Path::new("/nonexistent"),
                |_| None,
                RemoteOptions::default(),
            )
            .unwrap_err()
    };
    let cases = [
        ("", KeyErrorKind::Config, "at least one key source"),
        ("jwks_url = \"ftp://x\"", KeyErrorKind::Config, "https://"),
        (
            "jwks_url = \"http://keys.example.com/jwks.json\"",
            KeyErrorKind::Config,
            "https://",
        ),
        (
            "jwks_url = \"http://127.0.0.1.example.com/jwks.json\"",
            KeyErrorKind::Config,
            "https://",
        ),
        (
            "jwks_url = \"https://x\"\njwks_max_stale_secs = 0",
            KeyErrorKind::Config,
            "jwks_max_stale_secs",
        ),
        (
            "jwks_url = \"https://x\"\nleeway_secs = 301",
            KeyErrorKind::Config,
            "at most 300",
        ),
        (
            "jwks_url = \"https://x\"\nmax_token_lifetime_secs = 0",
            KeyErrorKind::Config,
            "max_token_lifetime_secs",
        ),
        (
            "jwks_file = \"missing.json\"",
            KeyErrorKind::Source,
            "cannot read jwks_file",
        ),
        (
            "hmac_secrets_env = [{ kid = \"k\", alg = \"HS256\", env = \"TC_UNSET_VAR\" }]",
            KeyErrorKind::Source,
            "TC_UNSET_VAR is not set",
        ),
        (
            "hmac_secrets_env = [{ kid = \"k\", alg = \"RS256\", env = \"X\" }]",
            KeyErrorKind::Mismatch,
            "not an HMAC algorithm",
        ),
        (
            "jwks_url = \"https://x\"\nmint_kid = \"k1\"",
            KeyErrorKind::Config,
            "not among the local keys",
        ),
    ];
    for (text, kind, needle) in cases {
        let error = load(text);
        assert_eq!(error.kind, kind, "{text}: {}", error.message);
        assert!(error.message.contains(needle), "{text}: {}", error.message);
    }
    let public_only = with(fixture_jwk("es256"), |k| {
        k.remove("d");
    });
    let config = IdentityConfig {
        keys: vec![public_only],
        mint_kid: Some("es256".into()),
        ..parse("jwks_url = \"https://x\"").expect("parses")
    };
    let error = config
        .verifier(
            APP,
            std::path::Path::new("."),
            |_| None,
            RemoteOptions::default(),
        )
        .unwrap_err();
    assert!(
        error.message.contains("no private part"),
        "{}",
        error.message
    );
}

// ---- Minting --------------------------------------------------------------

#[test]
fn minted_tokens_verify_for_every_algorithm() {
    for alg in ALL_ALGS {
        let verifier = Verifier::new(
            Policy {
                mint_kid: Some(kid_of(alg)),
                ..policy()
            },
            ring(KEYS),
        );
        let who = MintIdentity {
            email: Some("Ada@Example.com".into()),
            name: Some("Ada Lovelace".into()),
            ..MintIdentity::default()
        };
        let claims = verifier.identity_claims(&who, 86_400, NOW).expect("claims");
        assert_eq!(
            claims["exp"],
            json!(NOW + 3600),
            "ttl capped by the max lifetime"
        );
        assert_eq!(claims["iss"], json!(ISSUER));
        let token = verifier.mint(&claims).expect("mints");
        let verified = verifier.verify(&token, NOW).expect("verifies");
        assert_eq!(verified.alg, alg);
        assert_eq!(verified.identity.sub, "ada@example.com");
        assert_eq!(verified.identity.email.as_deref(), Some("ada@example.com"));
        assert_eq!(verified.identity.jti.as_ref().map(String::len), Some(22));
    }
}

#[test]
fn minting_needs_one_clear_signing_key_and_a_valid_identity() {
    let several = Verifier::new(policy(), ring(KEYS));
    let claims = several.identity_claims(
        &MintIdentity {
            phone: Some("+14155550100".into()),
            ..Default::default()
        },
        60,
        NOW,
    );
    let claims = claims.expect("claims");
    assert!(
        matches!(several.mint(&claims), Err(MintError::NoSigningKey(m)) if m.contains("set mint_kid"))
    );
    let bad = several.identity_claims(
        &MintIdentity {
            email: Some("nope".into()),
            ..Default::default()
        },
        60,
        NOW,
    );
    assert!(matches!(
        bad,
        Err(MintError::InvalidIdentity { field: "email", .. })
    ));
    let none = several.identity_claims(
        &MintIdentity {
            name: Some("Ada".into()),
            ..Default::default()
        },
        60,
        NOW,
    );
    assert!(matches!(none, Err(MintError::InvalidIdentity { .. })));
    let public_only = KeyRing::from_jwks_json(
        json!({"keys": [with(fixture_jwk("es256"), |k| { k.remove("d"); })]})
            .to_string()
            .as_bytes(),
        "t",
    )
    .expect("loads");
    let verifier = Verifier::new(policy(), public_only);
    assert!(matches!(
        verifier.mint(&claims),
        Err(MintError::NoSigningKey(_))
    ));
}

/// jsonwebtoken, an independent implementation, accepts our tokens and we
/// accept its tokens.
#[test]
fn interoperates_with_the_jsonwebtoken_crate() {
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
    let verifier = verifier();
    let k = fixture_jwk("hs256");
    let secret = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        k["k"].as_str().unwrap_or(""),
    )
    .expect("k");
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("hs256".into());
    let theirs = jsonwebtoken::encode(&header, &good_claims(), &EncodingKey::from_secret(&secret))
        .expect("encodes");
    check(&verifier, &theirs, NOW, None);

    let es = fixture_jwk("es256");
    let ours = token_with("es256", &good_claims(), |_| {});
    let key = DecodingKey::from_ec_components(
        es["x"].as_str().unwrap_or(""),
        es["y"].as_str().unwrap_or(""),
    )
    .expect("key");
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&[APP]);
    validation.validate_exp = false;
    jsonwebtoken::decode::<Value>(&ours, &key, &validation)
        .expect("jsonwebtoken verifies our ES256 token");
}

// ---- RFC 7515 appendix A ---------------------------------------------------

const RFC_PAYLOAD_B64: &str =
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";

fn rfc_verifier(jwk: Value) -> Verifier {
    let mut ring = KeyRing::new();
    ring.add_jwks(&[jwk], "rfc 7515")
        .expect("the rfc key loads");
    Verifier::new(
        Policy {
            app_id: "joe-app".into(),
            issuer: None,
            ..policy()
        },
        ring,
    )
}

#[test]
fn rfc7515_appendix_a_signatures_verify() {
    let a1 = rfc_verifier(json!({
        "kty": "oct", "kid": "a1", "alg": "HS256",
        "k": "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
    }));
    let a1_token = format!(
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.{RFC_PAYLOAD_B64}.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    );
    let a2 = rfc_verifier(json!({
        "kty": "RSA", "kid": "a2", "alg": "RS256", "e": "AQAB",
        "n": "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ",
    }));
    let a2_token = format!(
        "eyJhbGciOiJSUzI1NiJ9.{RFC_PAYLOAD_B64}.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"
    );
    // A.3's key carries no alg: P-256 binds it to ES256 unambiguously.
    let a3 = rfc_verifier(json!({
        "kty": "EC", "kid": "a3", "crv": "P-256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        "d": "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI",
    }));
    let a3_token = format!(
        "eyJhbGciOiJFUzI1NiJ9.{RFC_PAYLOAD_B64}.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
    );
    for (name, verifier, token) in [
        ("A.1", a1, a1_token),
        ("A.2", a2, a2_token),
        ("A.3", a3, a3_token),
    ] {
        let (header, payload) = verifier
            .verify_signature_only(&token)
            .unwrap_or_else(|r| panic!("{name}: {r}"));
        assert!(header["alg"].is_string(), "{name}");
        assert!(payload.starts_with(b"{\"iss\":\"joe\""), "{name}");
        // Full verification at the RFC's own time gets past the signature
        // and stops at our claim rules: the RFC token has no aud.
        let refusal = verifier.verify(&token, 1_300_819_370).unwrap_err();
        assert_eq!(
            refusal.reason,
            Reason::MissingClaim,
            "{name}: {}",
            refusal.message
        );
        // A flipped bit in the signature fails.
        let mut broken = token.clone().into_bytes();
        let last = broken.len() - 2;
        broken[last] = if broken[last] == b'A' { b'B' } else { b'A' };
        let broken = String::from_utf8(broken).expect("ascii");
        assert_eq!(
            verifier.verify_signature_only(&broken).unwrap_err().reason,
            Reason::BadSignature,
            "{name}"
        );
    }
}

pub(super) fn b64(bytes: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
}

// ---- The JWT attack list ------------------------------------------------------

/// The well-known attacks on JWT verifiers, each as a token and the
/// reason it must be refused (`None`: it must verify, the benign twin of
/// an attack). RELIABILITY.md lists them; `write_fuzz_seeds` writes them
/// to `fuzz/hidden/jwt_token/` for the fuzzer too.
fn attack_cases() -> Vec<(String, String, Option<Reason>)> {
    let mut cases: Vec<(String, String, Option<Reason>)> = Vec::new();
    let mut case = |name: &str, token: String, reason: Option<Reason>| {
        cases.push((name.to_owned(), token, reason));
    };
    let claims = good_claims();
    let payload = serde_json::to_vec(&claims).expect("json");
    let unsigned = |header: Value, payload: &[u8], signature: &str| {
        format!(
            "{}.{}.{signature}",
            b64(&serde_json::to_vec(&header).expect("json")),
            b64(payload)
        )
    };
    let with_payload = |raw: &str| {
        let mut json = String::from_utf8(payload.clone()).expect("utf-8");
        json = json.replace(&format!("\"exp\":{}", NOW + 600), raw);
        sign_raw(KEYS, "hs256", "hs256", |_| {}, json.as_bytes())
    };

    // alg none, every casing, with and without a signature or kid.
    for alg in ["none", "None", "NONE", "nOnE", "NoNe", " none", "none "] {
        for (kid, signature) in [(None, ""), (Some("hs256"), ""), (Some("rs256"), "c2ln")] {
            let mut header = json!({ "alg": alg, "typ": "JWT" });
            if let Some(kid) = kid {
                header["kid"] = json!(kid);
            }
            let token = unsigned(header, &payload, signature);
            case(
                &format!("alg {alg:?} kid {kid:?} signature {signature:?}"),
                token,
                Some(Reason::AlgorithmNotAllowed),
            );
        }
    }

    // Algorithm confusion: a public key used as an HMAC secret, and a
    // header naming another algorithm of the same key type.
    let keys: Value = serde_json::from_str(KEYS).expect("json");
    let jwk_of = |kid: &str| {
        keys["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|k| k["kid"] == kid)
            .expect("kid")
            .clone()
    };
    let public = |kid: &str| {
        let mut jwk = jwk_of(kid);
        let obj = jwk.as_object_mut().expect("object");
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            obj.remove(private);
        }
        jwk
    };
    let decoded = |value: &Value| {
        base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            value.as_str().unwrap_or(""),
        )
        .expect("b64")
    };
    for (kid, secret) in [
        ("rs256", public("rs256").to_string().into_bytes()),
        ("rs256", decoded(&public("rs256")["n"])),
        ("rs256", KEYS.as_bytes().to_vec()),
        (
            "es256",
            [
                decoded(&public("es256")["x"]),
                decoded(&public("es256")["y"]),
            ]
            .concat(),
        ),
        (
            "eddsa",
            [decoded(&public("eddsa")["x"]), vec![0; 32]].concat(),
        ),
    ] {
        for hs in [Alg::HS256, Alg::HS512] {
            let Ok(hmac) = Key::from_hmac_secret(kid, hs, &secret, "attacker") else {
                continue;
            };
            let header = json!({ "alg": hs.name(), "typ": "JWT", "kid": kid });
            let token = hmac
                .sign_compact(&serde_json::to_vec(&header).expect("json"), &payload)
                .expect("signs");
            case(
                &format!("{kid} public key ({} bytes) as {hs} secret", secret.len()),
                token,
                Some(Reason::AlgorithmNotAllowed),
            );
        }
    }
    for (signer, named, alg) in [
        ("hs256", "hs256", "RS256"),
        ("ps256", "rs256", "PS256"),
        ("rs256", "ps256", "RS256"),
        ("es384", "es256", "ES384"),
    ] {
        let token = sign_raw(
            KEYS,
            signer,
            named,
            |h| {
                h.insert("alg".into(), json!(alg));
            },
            &payload,
        );
        case(
            &format!("{alg} token for {named}, signed by {signer}"),
            token,
            Some(Reason::AlgorithmNotAllowed),
        );
    }
    for alg in ["hs256", "HS256 ", "ES256K", "RS1", "HS256\u{0}"] {
        let token = token_with("hs256", &claims, |h| {
            h.insert("alg".into(), json!(alg));
        });
        case(
            &format!("alg {alg:?} for an HS256 key"),
            token,
            Some(Reason::AlgorithmNotAllowed),
        );
    }

    // kid injection and path traversal: never a file, a query or a guess.
    let long_kid = "k".repeat(5000);
    for kid in [
        "../../../../../../dev/null",
        "/dev/null",
        "' OR '1'='1",
        "hs256' -- ",
        "hs256\u{0}",
        "hs256 ",
        "HS256",
        "",
        "|/usr/bin/id",
        long_kid.as_str(),
    ] {
        // Signed with an empty and a guessable secret, as the attacks do.
        for secret in [&b""[..], b"AA==".as_slice()] {
            let padded = [secret, &[0; 64]].concat();
            let hmac = Key::from_hmac_secret(kid, Alg::HS256, &padded, "attacker").expect("key");
            let header = json!({ "alg": "HS256", "typ": "JWT", "kid": kid });
            let token = hmac
                .sign_compact(&serde_json::to_vec(&header).expect("json"), &payload)
                .expect("signs");
            case(
                &format!(
                    "kid {:?} secret {secret:?}",
                    kid.chars().take(32).collect::<String>()
                ),
                token,
                Some(Reason::UnknownKey),
            );
        }
    }
    for kid in [
        json!(["hs256"]),
        json!({"kid": "hs256"}),
        json!(null),
        json!(256),
    ] {
        let token = token_with("hs256", &claims, |h| {
            h.insert("kid".into(), kid.clone());
        });
        case(&format!("kid {kid}"), token, Some(Reason::MalformedToken));
    }

    // Keys named by the token: jku, x5u, x5c, an embedded jwk; crit.
    let attacker = sign_raw(
        OTHER_KEYS,
        "es256",
        "es256",
        |h| {
            let mut jwk = public("es256");
            jwk["kid"] = json!("es256");
            h.insert("jwk".into(), jwk);
        },
        &payload,
    );
    case(
        "embedded jwk, attacker key",
        attacker,
        Some(Reason::ForbiddenHeader),
    );
    for (member, value) in [
        ("jku", json!("https://attacker.example/jwks.json")),
        ("jku", json!("http://127.0.0.1/jwks.json")),
        ("x5u", json!("https://attacker.example/cert.pem")),
        ("x5c", json!(["MIIBszCCAVmgAwIBAgIJAL"])),
        ("jwk", public("es256")),
        ("crit", json!(["exp"])),
        ("crit", json!([])),
        ("crit", json!("b64")),
        ("b64", json!(false)),
        ("b64", json!("false")),
    ] {
        // Signed with the real key: the member alone is refused.
        let token = token_with("es256", &claims, |h| {
            h.insert(member.into(), value.clone());
        });
        case(
            &format!("{member} {value}"),
            token,
            Some(Reason::ForbiddenHeader),
        );
    }
    let token = token_with("es256", &claims, |h| {
        h.insert("JKU".into(), json!("https://attacker.example/jwks.json"));
    });
    case("JKU (not jku: an unknown member) is ignored", token, None);

    // Signatures that are empty, zero, or of another encoding.
    for alg in ALL_ALGS {
        let token = token_with(&kid_of(alg), &claims, |_| {});
        let (input, signature) = token.rsplit_once('.').expect("three parts");
        let length = decoded(&json!(signature)).len();
        case(
            &format!("{alg} empty signature"),
            format!("{input}."),
            Some(Reason::BadSignature),
        );
        case(
            &format!("{alg} zero signature"),
            format!("{input}.{}", b64(&vec![0; length])),
            Some(Reason::BadSignature),
        );
    }
    let token = token_with("es256", &claims, |_| {});
    let (input, signature) = token.rsplit_once('.').expect("three parts");
    let raw = decoded(&json!(signature));
    let mut der = vec![0x30, 0x46, 0x02, 0x21, 0x00];
    der.extend_from_slice(&raw[..32]);
    der.extend_from_slice(&[0x02, 0x21, 0x00]);
    der.extend_from_slice(&raw[32..]);
    case(
        "ES256 signature in DER, not JWS's r||s",
        format!("{input}.{}", b64(&der)),
        Some(Reason::BadSignature),
    );

    // Duplicate members: two parsers could read different values.
    for header in [
        r#"{"alg":"HS256","alg":"none","kid":"hs256"}"#,
        r#"{"alg":"HS256","kid":"hs256","kid":"rs256"}"#,
        r#"{"alg":"HS256","kid":"hs256","jku":"a","jku":"b"}"#,
    ] {
        let ring = ring(KEYS);
        let key = ring.get("hs256").expect("kid");
        let token = key
            .sign_compact(header.as_bytes(), &payload)
            .expect("signs");
        case(
            &format!("duplicate header member {header}"),
            token,
            Some(Reason::MalformedToken),
        );
    }
    for (name, raw) in [
        ("sub", r#""sub":"user-42","sub":"admin""#),
        ("exp", r#""exp":1800000600,"exp":1800000601"#),
        ("aud", r#""aud":"other","aud":"demo""#),
    ] {
        let mut json = String::from_utf8(payload.clone()).expect("utf-8");
        json = json.replacen('{', &format!("{{{raw},"), 1);
        let token = sign_raw(KEYS, "hs256", "hs256", |_| {}, json.as_bytes());
        case(
            &format!("duplicate claim {name}"),
            token,
            Some(Reason::MalformedToken),
        );
    }

    // Base64url that is padded, spaced, of another alphabet or not
    // canonical; whitespace around the token.
    let token = token_with("hs256", &claims, |_| {});
    let (header, rest) = token.split_once('.').expect("parts");
    let (body, signature) = rest.split_once('.').expect("parts");
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = signature.chars().last().expect("a signature");
    let index = ALPHABET.find(last).expect("base64url");
    let noncanonical = format!(
        "{}{}",
        &signature[..signature.len() - 1],
        &ALPHABET[index ^ 1..(index ^ 1) + 1]
    );
    for (name, token) in [
        ("padded header", format!("{header}==.{body}.{signature}")),
        ("padded signature", format!("{header}.{body}.{signature}=")),
        (
            "space inside",
            format!("{header}.{} {}.{signature}", &body[..4], &body[4..]),
        ),
        (
            "newline inside",
            format!("{header}.{body}.{}\n{}", &signature[..8], &signature[8..]),
        ),
        (
            "standard alphabet",
            format!("{header}.{body}.+{}", &signature[1..]),
        ),
        ("leading space", format!(" {token}")),
        ("trailing newline", format!("{token}\n")),
        ("Bearer prefix", format!("Bearer {token}")),
        (
            "non-canonical trailing bits",
            format!("{header}.{body}.{noncanonical}"),
        ),
        (
            "JWE, five parts",
            format!("{header}.{body}.{signature}.x.y"),
        ),
        ("nested JWT as payload", {
            let ring = ring(KEYS);
            let key = ring.get("hs256").expect("kid");
            key.sign_compact(
                br#"{"alg":"HS256","kid":"hs256","cty":"JWT"}"#,
                token.as_bytes(),
            )
            .expect("signs")
        }),
    ] {
        let reason = Some(Reason::MalformedToken);
        case(&format!("base64url: {name}"), token, reason);
    }

    // Numbers at the edges: huge, negative, fractional, or a string.
    let max = u64::MAX;
    for (name, raw, reason) in [
        (
            "exp u64::MAX",
            format!("\"exp\":{max}"),
            Reason::LifetimeTooLong,
        ),
        (
            "exp 2^64",
            "\"exp\":18446744073709551616".to_owned(),
            Reason::InvalidClaim,
        ),
        (
            "exp 1e300",
            "\"exp\":1e300".to_owned(),
            Reason::InvalidClaim,
        ),
        ("exp -1", "\"exp\":-1".to_owned(), Reason::InvalidClaim),
        (
            "exp fraction",
            "\"exp\":1800000600.5".to_owned(),
            Reason::InvalidClaim,
        ),
        (
            "exp string",
            "\"exp\":\"1800000600\"".to_owned(),
            Reason::InvalidClaim,
        ),
        ("exp null", "\"exp\":null".to_owned(), Reason::InvalidClaim),
        (
            "nbf u64::MAX",
            format!("\"exp\":1800000600,\"nbf\":{max}"),
            Reason::TokenNotYetValid,
        ),
    ] {
        case(&format!("claims: {name}"), with_payload(&raw), Some(reason));
    }
    let mut future = claims.clone();
    future.insert("iat".into(), json!(max));
    case(
        "claims: iat u64::MAX",
        token_with("hs256", &future, |_| {}),
        Some(Reason::TokenNotYetValid),
    );
    let mut ancient = claims.clone();
    ancient.insert("iat".into(), json!(0));
    case(
        "claims: iat 0, exp now + 600",
        token_with("hs256", &ancient, |_| {}),
        Some(Reason::LifetimeTooLong),
    );
    let mut forever = claims.clone();
    forever.remove("iat");
    forever.insert("exp".into(), json!(max));
    case(
        "claims: no iat, exp u64::MAX",
        token_with("hs256", &forever, |_| {}),
        Some(Reason::LifetimeTooLong),
    );
    let mut other_app = claims.clone();
    other_app.insert("aud".into(), json!(["other", "demo-not"]));
    case(
        "claims: token for another app",
        token_with("hs256", &other_app, |_| {}),
        Some(Reason::WrongAudience),
    );
    case(
        "benign: the good token itself",
        token_with("hs256", &claims, |_| {}),
        None,
    );
    cases
}

#[test]
fn the_jwt_attack_list_is_refused() {
    let verifier = verifier();
    let cases = attack_cases();
    assert!(cases.len() > 100, "{} cases", cases.len());
    for (name, token, expected) in &cases {
        eprintln!("{name}");
        check(&verifier, token, NOW, *expected);
        // --signature-only refuses every attack on the header, too.
        if let Some(reason) = expected {
            let header_attack = matches!(
                reason,
                Reason::AlgorithmNotAllowed | Reason::ForbiddenHeader | Reason::UnknownKey
            );
            if header_attack {
                let refusal = verifier.verify_signature_only(token).unwrap_err();
                assert_eq!(refusal.reason, *reason, "{name}");
            }
        }
    }
}

// ---- Fuzz seeds -------------------------------------------------------------

/// Writes the inputs of the tests above as the seeds of the fuzz targets
/// `jwt_token`, `jwt_claims` and `jwks` (`fuzz/seeds/<target>/`), and the
/// JWT attack list as a hidden-input corpus (`fuzz/hidden/jwt_token/`).
/// `node scripts/fuzz-seeds.mjs` runs it with `TRUSTCHAT_FUZZ_DIR` set to
/// `fuzz/`.
#[test]
#[ignore = "writes fuzz seeds; run by scripts/fuzz-seeds.mjs"]
fn write_fuzz_seeds() {
    let Some(root) = std::env::var_os("TRUSTCHAT_FUZZ_DIR") else {
        return;
    };
    let root = std::path::PathBuf::from(root);
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let (kind, target) = target.split_once('/').unwrap_or(("seeds", target));
        let dir = root.join(kind).join(target);
        std::fs::create_dir_all(&dir).expect("seed directory");
        let name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        // ECDSA and PSS signatures differ at every signing: an existing
        // seed stays, so running this again changes nothing checked in.
        let path = dir.join(name);
        if !path.exists() {
            std::fs::write(path, bytes).expect("seed written");
        }
    };

    // jwt_token: a valid token per algorithm, every header case (each
    // with another algorithm), alg none, algorithm confusion, a forged
    // key under a known kid, and every malformed token.
    for alg in ALL_ALGS {
        let kid = kid_of(alg);
        let token = token_with(&kid, &good_claims(), |_| {});
        write("jwt_token", &format!("valid {kid}"), token.as_bytes());
    }
    for (index, (name, edit, _)) in header_cases().into_iter().enumerate() {
        let kid = kid_of(ALL_ALGS[index % ALL_ALGS.len()]);
        let token = token_with(&kid, &good_claims(), edit);
        write(
            "jwt_token",
            &format!("header {name} {kid}"),
            token.as_bytes(),
        );
    }
    let payload = serde_json::to_vec(&good_claims()).expect("json");
    for alg in ["none", "nOnE", " none"] {
        let header = json!({ "alg": alg, "typ": "JWT", "kid": "hs256" });
        let token = format!(
            "{}.{}.",
            b64(&serde_json::to_vec(&header).expect("json")),
            b64(&payload)
        );
        write("jwt_token", &format!("alg {alg}"), token.as_bytes());
    }
    let rsa = fixture_jwk("rs256");
    let public_jwk = json!({ "kty": "RSA", "n": rsa["n"], "e": rsa["e"] }).to_string();
    let hmac = Key::from_hmac_secret("rs256", Alg::HS256, public_jwk.as_bytes(), "attacker")
        .expect("long enough");
    let header =
        serde_json::to_vec(&json!({ "alg": "HS256", "typ": "JWT", "kid": "rs256" })).expect("json");
    let token = hmac.sign_compact(&header, &payload).expect("signs");
    write(
        "jwt_token",
        "rs256 public key as hs256 secret",
        token.as_bytes(),
    );
    for kid in ["es256", "ps256"] {
        let token = sign_raw(OTHER_KEYS, kid, kid, |_| {}, &payload);
        write("jwt_token", &format!("other key {kid}"), token.as_bytes());
    }
    for (name, token) in malformed_token_cases() {
        write("jwt_token", &format!("malformed {name}"), token.as_bytes());
    }

    for (index, (name, token, _)) in attack_cases().into_iter().enumerate() {
        let name: String = name.chars().take(60).collect();
        write(
            "hidden/jwt_token",
            &format!("attack {index:03} {name}"),
            token.as_bytes(),
        );
    }

    // jwt_claims: every claim case's payload, and payloads that are not
    // JSON objects.
    for (name, edit, _, _) in claim_cases() {
        let mut claims = good_claims();
        edit(&mut claims);
        let payload = serde_json::to_vec(&claims).expect("json");
        write("jwt_claims", &format!("claims {name}"), &payload);
    }
    for (index, payload) in [
        &b"not json"[..],
        b"[1]",
        b"\"s\"",
        br#"{"sub":"a","sub":"b"}"#,
    ]
    .into_iter()
    .enumerate()
    {
        write("jwt_claims", &format!("not an object {index}"), payload);
    }

    // jwks: the fixture sets, each key alone, and every set that does not
    // load.
    write("jwks", "fixture keys", KEYS.as_bytes());
    write("jwks", "fixture other keys", OTHER_KEYS.as_bytes());
    for alg in ALL_ALGS {
        let kid = kid_of(alg);
        let set = json!({ "keys": [fixture_jwk(&kid)] }).to_string();
        write("jwks", &format!("only {kid}"), set.as_bytes());
    }
    for (name, set, _) in key_load_cases() {
        write(
            "jwks",
            &format!("refused {name}"),
            set.to_string().as_bytes(),
        );
    }
}

// ---- JWKS URL ---------------------------------------------------------------

mod jwks_url {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// What the fake site answers: status, body, extra headers.
    struct Site {
        response: Mutex<(u16, String)>,
        hits: AtomicUsize,
    }

    /// A tiny HTTP/1.1 server on 127.0.0.1:0 serving one JWK set.
    async fn serve(site: Arc<Site>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let site = Arc::clone(&site);
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    site.hits.fetch_add(1, Ordering::SeqCst);
                    let (status, body) = site.response.lock().expect("lock").clone();
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncache-control: public, max-age=86400\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        format!("http://{addr}/.well-known/jwks.json")
    }

    /// The public half of fixture keys, as a site would publish them.
    fn public_set(kids: &[&str]) -> String {
        let keys: Vec<Value> = kids
            .iter()
            .map(|kid| {
                with(fixture_jwk(kid), |k| {
                    for private in ["d", "p", "q", "dp", "dq", "qi"] {
                        k.remove(private);
                    }
                })
            })
            .collect();
        json!({ "keys": keys }).to_string()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rotation_failure_and_rate_limit() {
        let site = Arc::new(Site {
            response: Mutex::new((200, public_set(&["es256"]))),
            hits: AtomicUsize::new(0),
        });
        let url = serve(Arc::clone(&site)).await;
        let config: IdentityConfig =
            toml::from_str(&format!("jwks_url = \"{url}\"\nissuer = \"{ISSUER}\""))
                .expect("config");
        let gap = Duration::from_millis(1000);
        let options = RemoteOptions {
            min_refresh_gap: gap,
            ..RemoteOptions::default()
        };
        let verifier = Verifier::start(&config, APP, std::path::Path::new("."), options)
            .await
            .expect("starts");
        assert_eq!(verifier.jwks_fetch_count(), 1, "fetched at start");
        let es_token = token_with("es256", &good_claims(), |_| {});
        check(&verifier, &es_token, NOW, None);

        // Rotation: the site publishes a new key; a token using it is
        // unknown to the pure verify, and verify_fresh refreshes and accepts.
        *site.response.lock().expect("lock") = (200, public_set(&["es256", "eddsa"]));
        let ed_token = token_with("eddsa", &good_claims(), |_| {});
        check(&verifier, &ed_token, NOW, Some(Reason::UnknownKey));
        tokio::time::sleep(gap).await;
        verifier
            .verify_fresh(&ed_token, NOW)
            .await
            .expect("new kid verifies after the refresh");
        assert_eq!(verifier.jwks_fetch_count(), 2);

        // The site fails in every way: old keys keep working.
        for broken in [
            (500, public_set(&["es256"])),
            (200, "not json".to_owned()),
            (
                200,
                json!({"keys": [{"kty": "oct", "kid": "weak", "alg": "HS256", "k": "AAAA"}]})
                    .to_string(),
            ),
            (404, String::new()),
        ] {
            *site.response.lock().expect("lock") = broken;
            assert!(verifier.refresh_now().await.is_err());
            check(&verifier, &es_token, NOW, None);
            check(&verifier, &ed_token, NOW, None);
        }

        // Rate limit: a flood of made-up kids causes at most one fetch per gap.
        *site.response.lock().expect("lock") = (200, public_set(&["es256", "eddsa"]));
        tokio::time::sleep(gap).await;
        let before = site.hits.load(Ordering::SeqCst);
        let tokens: Vec<String> = (0..50)
            .map(|i| {
                token_with("es256", &good_claims(), |h| {
                    h.insert("kid".into(), json!(format!("made-up-{i}")));
                })
            })
            .collect();
        let mut tasks = Vec::new();
        for token in tokens {
            let verifier = Arc::clone(&verifier);
            tasks.push(tokio::spawn(async move {
                verifier.verify_fresh(&token, NOW).await
            }));
        }
        for task in tasks {
            assert_eq!(
                task.await.expect("task").unwrap_err().reason,
                Reason::UnknownKey
            );
        }
        assert_eq!(
            site.hits.load(Ordering::SeqCst) - before,
            1,
            "one fetch for 50 unknown kids"
        );
        // And again right away: no fetch at all within the gap.
        let token = token_with("es256", &good_claims(), |h| {
            h.insert("kid".into(), json!("another"));
        });
        let _ = verifier.verify_fresh(&token, NOW).await;
        assert_eq!(site.hits.load(Ordering::SeqCst) - before, 1);

        // The key is removed from the site: after a refresh its tokens fail.
        *site.response.lock().expect("lock") = (200, public_set(&["es256"]));
        verifier.refresh_now().await.expect("refresh");
        check(&verifier, &ed_token, NOW, Some(Reason::UnknownKey));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_scheduled_refresh_follows_max_age_within_bounds() {
        let site = Arc::new(Site {
            response: Mutex::new((200, public_set(&["es256"]))),
            hits: AtomicUsize::new(0),
        });
        let url = serve(Arc::clone(&site)).await;
        let config: IdentityConfig =
            toml::from_str(&format!("jwks_url = \"{url}\"\nissuer = \"{ISSUER}\""))
                .expect("config");
        // The site says max-age=86400; the bounds clamp it to 200 ms here.
        let options = RemoteOptions {
            max_age_bounds: (Duration::from_millis(200), Duration::from_millis(200)),
            ..RemoteOptions::default()
        };
        let verifier = Verifier::start(&config, APP, std::path::Path::new("."), options)
            .await
            .expect("starts");
        *site.response.lock().expect("lock") = (200, public_set(&["es256", "eddsa"]));
        let ed_token = token_with("eddsa", &good_claims(), |_| {});
        check(&verifier, &ed_token, NOW, Some(Reason::UnknownKey));
        tokio::time::sleep(Duration::from_millis(700)).await;
        // The pure verify sees the new key: the refresher swapped it in.
        check(&verifier, &ed_token, NOW, None);
        let fetches = verifier.jwks_fetch_count();
        assert!(
            (3..=6).contains(&fetches),
            "about one fetch per 200 ms, got {fetches}"
        );
        // Dropping the verifier stops the refresher.
        drop(verifier);
        let hits = site.hits.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(site.hits.load(Ordering::SeqCst), hits);
    }

    #[tokio::test]
    async fn a_remote_kid_clashing_with_a_local_key_is_refused() {
        let site = Arc::new(Site {
            response: Mutex::new((200, public_set(&["es256"]))),
            hits: AtomicUsize::new(0),
        });
        let url = serve(Arc::clone(&site)).await;
        let mut config: IdentityConfig =
            toml::from_str(&format!("jwks_url = \"{url}\"")).expect("config");
        config.keys = vec![fixture_jwk("es256")];
        let verifier = config
            .verifier(
                APP,
                std::path::Path::new("."),
                |_| None,
                RemoteOptions::default(),
            )
            .expect("loads");
        let error = verifier.refresh_now().await.unwrap_err();
        assert!(error.contains("kid appears twice"), "{error}");
        assert_eq!(
            verifier.ring().kids(),
            vec!["es256"],
            "the local key still works"
        );
    }

    #[test]
    fn jwks_urls_are_https_or_loopback_http() {
        for url in [
            "https://portal.example/.well-known/jwks.json",
            "http://127.0.0.1:8080/jwks.json",
            "http://127.5.6.7/jwks.json",
            "http://localhost:3000/jwks.json",
            "http://[::1]:3000/jwks.json",
        ] {
            let config: IdentityConfig =
                toml::from_str(&format!("jwks_url = \"{url}\"")).expect("config");
            assert!(config.policy(APP).is_ok(), "{url} is allowed");
        }
    }

    #[test]
    fn redirects_never_leave_https_or_loopback() {
        use super::super::remote::redirect_allowed;
        let url = |s: &str| reqwest::Url::parse(s).expect("url");
        let cases = [
            ("https://a.example/k", "https://b.example/k", true),
            ("https://a.example/k", "http://a.example/k", false),
            ("https://a.example/k", "http://127.0.0.1/k", false),
            ("http://127.0.0.1:1/k", "http://127.0.0.1:2/k", true),
            ("http://localhost:1/k", "http://[::1]:2/k", true),
            ("http://127.0.0.1:1/k", "https://127.0.0.1/k", true),
            ("http://127.0.0.1:1/k", "http://a.example/k", false),
            ("http://127.0.0.1:1/k", "https://a.example/k", false),
            ("http://a.example/k", "http://a.example/j", false),
            ("https://a.example/k", "ftp://a.example/k", false),
        ];
        for (from, to, allowed) in cases {
            assert_eq!(
                redirect_allowed(&url(from), &url(to)),
                allowed,
                "{from} -> {to}"
            );
        }
    }

    #[test]
    fn max_age_is_parsed() {
        use super::super::remote::parse_max_age;
        assert_eq!(
            parse_max_age("public, max-age=300"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            parse_max_age("Max-Age=\"60\""),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_max_age("no-store"), None);
    }
}
