//! The JWS compact serialization, taken apart strictly: exactly three
//! base64url parts without padding; and the typed views of the header and
//! claims that verification reads.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use std::borrow::Cow;
use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A token split into its parts, base64 decoded.
pub(crate) struct Compact<'a> {
    /// `base64(header) "." base64(payload)`: the bytes the signature covers.
    pub signing_input: &'a [u8],
    /// The decoded header bytes (checked to be a JSON object by the caller).
    pub header_json: Vec<u8>,
    /// The decoded payload bytes (JSON for a JWT, anything for a bare JWS).
    pub payload: Vec<u8>,
    /// The decoded signature.
    pub signature: Vec<u8>,
}

/// Splits and decodes; the error is a message for a `malformed_token` refusal.
pub(crate) fn split(token: &str, max_bytes: usize) -> Result<Compact<'_>, String> {
    if token.is_empty() {
        return Err("token is empty".into());
    }
    if token.len() > max_bytes {
        return Err(format!(
            "token is {} bytes, more than the {max_bytes} allowed",
            token.len()
        ));
    }
    // Find the two dots in one pass; count the rest only to explain an error.
    let bytes = token.as_bytes();
    // `str::find` with a char uses a vectorized byte search.
    let first = token.find('.');
    let second = first.and_then(|f| token[f + 1..].find('.').map(|p| f + 1 + p));
    let (first, second) = match (first, second) {
        (Some(first), Some(second)) if !token[second + 1..].contains('.') => (first, second),
        _ => {
            let dots = bytes.iter().filter(|b| **b == b'.').count();
            return Err(if dots == 4 {
                "token has five parts, so it is an encrypted JWT (JWE); send a signed JWT (JWS) instead".into()
            } else {
                format!(
                    "token has {} parts; a signed JWT has three base64url parts separated by dots",
                    dots + 1
                )
            });
        }
    };
    let (h, p, s) = (
        &token[..first],
        &token[first + 1..second],
        &token[second + 1..],
    );
    let decode = |part: &str, what: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| format!("the {what} is not valid base64url (without padding)"))
    };
    let header_bytes = decode(h, "header")?;
    let payload = decode(p, "payload")?;
    let signature = decode(s, "signature")?;
    Ok(Compact {
        signing_input: &bytes[..second],
        header_json: header_bytes,
        payload,
        signature,
    })
}

/// The header members this server acts on. Unknown members are ignored;
/// a known member given twice is refused (serde reports a duplicate field),
/// since RFC 7515 §5.2 lets parsers pick either copy and two parsers picking
/// differently is a confusion attack.
#[derive(Deserialize)]
pub(crate) struct Header<'a> {
    #[serde(default, borrow, deserialize_with = "some")]
    pub alg: Option<Raw<'a>>,
    #[serde(default, borrow, deserialize_with = "some")]
    pub kid: Option<Raw<'a>>,
    #[serde(default, borrow, deserialize_with = "some")]
    pub b64: Option<Raw<'a>>,
    #[serde(default, deserialize_with = "present")]
    pub jku: bool,
    #[serde(default, deserialize_with = "present")]
    pub x5u: bool,
    #[serde(default, deserialize_with = "present")]
    pub x5c: bool,
    #[serde(default, deserialize_with = "present")]
    pub jwk: bool,
    #[serde(default, deserialize_with = "present")]
    pub crit: bool,
}

/// The claims this server acts on, each kept raw so that its JSON type is
/// checked by hand (`null` counts as present, and wrong). Unknown claims are
/// ignored; a known claim given twice is refused.
#[derive(Deserialize)]
pub(crate) struct Claims<'a> {
    #[serde(default, borrow, deserialize_with = "some")]
    pub exp: Option<Raw<'a>>,
    #[serde(default, borrow, deserialize_with = "some")]
    pub nbf: Option<Raw<'a>>,
    #[serde(default, borrow, deserialize_with = "some")]
    pub iat: Option<Raw<'a>>,
    #[serde(default, borrow, deserialize_with = "some")]
    pub sub: Option<Raw<'a>>,
    #[serde(default, borrow, deserialize_with = "some")]
    pub iss: Option<Raw<'a>>,
    #[serde(default, borrow, deserialize_with = "some")]
    pub jti: Option<Raw<'a>>,
    #[serde(default, borrow, deserialize_with = "some_audience")]
    pub aud: Option<Audience<'a>>,
    #[serde(default, borrow, deserialize_with = "some")]
    pub email: Option<Raw<'a>>,
    #[serde(default, borrow, deserialize_with = "some")]
    pub phone_number: Option<Raw<'a>>,
    #[serde(default, borrow, deserialize_with = "some")]
    pub name: Option<Raw<'a>>,
    #[serde(default, borrow, deserialize_with = "some")]
    pub given_name: Option<Raw<'a>>,
}

/// A JSON value reduced to what the checks need, borrowing strings from the
/// input where it can (no allocation on the hot path).
#[derive(Debug, PartialEq)]
pub(crate) enum Raw<'a> {
    /// A string.
    Str(Cow<'a, str>),
    /// A non-negative integer.
    UInt(u64),
    /// A boolean.
    Bool(bool),
    /// Anything else, described for messages ("a number with a fraction").
    Other(&'static str),
}

impl Raw<'_> {
    /// What the value is, for "must be X, not Y" messages.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Raw::Str(_) => "a string",
            Raw::UInt(_) => "a number",
            Raw::Bool(_) => "a boolean",
            Raw::Other(what) => what,
        }
    }
}

impl<'de> Deserialize<'de> for Raw<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Raw::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Raw::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Raw::Str(Cow::Owned(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Raw::UInt(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(u64::try_from(v).map_or(Raw::Other("a negative number"), Raw::UInt))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Raw::Other("a number with a fraction"))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Raw::Other("null"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Raw::Other("an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Raw::Other("an object"))
    }
}

/// Parses a JSON object into `T`, refusing anything but an object at the
/// top (serde would also accept an array for a struct) and anything but
/// valid JSON text: serde_json checks UTF-8 and escapes only in the values
/// it reads, not in the members `T` ignores, so a token with a stray byte
/// or a lone surrogate in an unknown claim would otherwise verify (both
/// found by fuzzing, `fuzz/regressions/jwt_claims/`).
pub(crate) fn parse_object<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 ({e})"))?;
    if !text
        .trim_start_matches(|c: char| c.is_ascii_whitespace())
        .starts_with('{')
    {
        return Err("expected a JSON object".into());
    }
    // Past UTF-8, what serde_json leaves unchecked in a skipped string is
    // whether a `\u` escape pairs its surrogates; most tokens have none.
    if text.contains("\\u") {
        serde_json::from_str::<Checked>(text).map_err(|e| e.to_string())?;
    }
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// Any JSON value, read to the end of every string and number so that
/// serde_json checks all of it: `IgnoredAny`, which a struct uses for the
/// members it does not know, skips a string without checking its escapes,
/// so a lone surrogate (`"\uda00"`) in an unknown claim passed (found by
/// fuzzing, `fuzz/regressions/jwt_claims/`). Strings are borrowed where
/// they have no escape: the pass allocates next to nothing, and runs only
/// on a text with a `\u` escape.
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_entry::<Checked, Checked>()?.is_some() {}
        Ok(Checked)
    }
}

/// A present member, whatever its value (`null` included).
fn some<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Raw<'de>>, D::Error> {
    Raw::deserialize(deserializer).map(Some)
}

/// A present `aud`, whatever its value (`null` included).
fn some_audience<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Audience<'de>>, D::Error> {
    deserializer.deserialize_any(AudienceVisitor).map(Some)
}

/// The `aud` claim: one string, an array of strings, or something wrong.
#[derive(Debug)]
pub(crate) enum Audience<'a> {
    /// `"aud": "demo"`.
    One(Cow<'a, str>),
    /// `"aud": ["demo", "other"]`.
    Many(Vec<Cow<'a, str>>),
    /// Anything else, described for messages.
    Invalid(&'static str),
}

struct AudienceVisitor;

impl<'de> Visitor<'de> for AudienceVisitor {
    type Value = Audience<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Audience::One(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Audience::One(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Audience::One(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut all = Vec::new();
        let mut invalid = None;
        while let Some(item) = seq.next_element::<Raw<'de>>()? {
            match item {
                Raw::Str(s) => all.push(s),
                other => invalid = invalid.or(Some(other.describe())),
            }
        }
        Ok(invalid.map_or(Audience::Many(all), |what| {
            Audience::Invalid(if what == "a number" {
                "an array holding a number"
            } else {
                "an array holding something other than strings"
            })
        }))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        RawVisitor
            .visit_map(map)
            .map(|raw| Audience::Invalid(raw.describe()))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Audience::Invalid("a number"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Audience::Invalid("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Audience::Invalid("a number"))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Audience::Invalid("a boolean"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Audience::Invalid("null"))
    }
}

/// Whether a member is present, whatever its value.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(deserializer).map(|_| true)
}
