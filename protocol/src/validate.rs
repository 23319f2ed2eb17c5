//! What counts as a valid name, email and phone number, and how each is
//! normalized. The widget validates its onboarding form with these very
//! functions and the server validates every request with them, so the two
//! can never disagree.

use crate::api::UserInput;
use crate::chat::MAX_BODY_CHARS;
use crate::error::ErrorCode;

/// The longest name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The longest email accepted, in bytes (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;
/// The longest first name shown in a greeting, in characters.
pub const MAX_FIRST_NAME_CHARS: usize = 40;

/// Why an input was refused: a stable code, the field and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// `invalid_name`, `invalid_email`, `invalid_phone` or `invalid_request`.
    pub code: ErrorCode,
    /// `name`, `email` or `phone`.
    pub field: &'static str,
    /// Lowercase, no final dot, says what to fix.
    pub message: &'static str,
}

/// A [`UserInput`] whose fields passed validation, normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidUser {
    /// Trimmed, inner whitespace collapsed to single spaces.
    pub name: String,
    /// Trimmed, ASCII letters lowercased.
    pub email: Option<String>,
    /// E.164, separators removed.
    pub phone: Option<String>,
}

/// Validates and normalizes a name: trimmed, runs of whitespace collapsed,
/// 1 to [`MAX_NAME_CHARS`] characters, no control characters.
pub fn name(input: &str) -> Result<String, Invalid> {
    const fn bad(message: &'static str) -> Invalid {
        Invalid {
            code: ErrorCode::InvalidName,
            field: "name",
            message,
        }
    }
    if input.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err(bad("name must not contain control characters"));
    }
    let normalized = input.split_whitespace().collect::<Vec<_>>().join(" ");
    if normalized.is_empty() {
        return Err(bad("please enter a name"));
    }
    if normalized.chars().count() > MAX_NAME_CHARS {
        return Err(bad("name must be at most 200 characters"));
    }
    Ok(normalized)
}

/// The name to greet a customer by: the first word of their name ("Ada" for
/// "Ada Lovelace"), or the whole name when it is one word ("Cher", "李小龍"),
/// cut to [`MAX_FIRST_NAME_CHARS`] characters. `None` for a blank name.
pub fn first_name(full_name: &str) -> Option<String> {
    let first = full_name.split_whitespace().next()?;
    Some(first.chars().take(MAX_FIRST_NAME_CHARS).collect())
}

/// Validates and normalizes an email address: trimmed, ASCII letters
/// lowercased (see `fold_case`: `\u{212A}ate@x.com`, with a Kelvin sign,
/// stays a different address from `kate@x.com`), one
/// `@`, a local part of 1 to 64 printable characters, and a domain of at
/// least two dot-separated labels of letters, digits and inner hyphens.
///
/// This is deliberately the pragmatic subset that mail systems deliver to,
/// not RFC 5322's full grammar (no quoted local parts, no IP literals).
pub fn email(input: &str) -> Result<String, Invalid> {
    const fn bad(message: &'static str) -> Invalid {
        Invalid {
            code: ErrorCode::InvalidEmail,
            field: "email",
            message,
        }
    }
    let email = fold_case(input.trim());
    if email.is_empty() {
        return Err(bad("please enter an email address"));
    }
    if email.len() > MAX_EMAIL_LEN {
        return Err(bad("email address must be at most 254 characters"));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(bad("email address must look like name@example.com"));
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        // No dot first, last or twice in a row: no empty part between dots.
        && !local.split('.').any(str::is_empty)
        && local
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"@\"(),:;<>[\\]".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(is_label_char)
        })
        && labels.last().is_some_and(|tld| {
            tld.chars().count() >= 2 && !tld.chars().all(|c| c.is_ascii_digit())
        });
    if local_ok && domain_ok {
        Ok(email)
    } else {
        Err(bad("email address must look like name@example.com"))
    }
}

/// Folds an email address's case for storage and comparison: ASCII
/// letters only (`A`-`Z` to `a`-`z`), everything else kept as typed, with
/// or without the `unicode` feature.
///
/// Unicode's case mapping would merge addresses that are different
/// mailboxes: it maps the Kelvin sign (U+212A) to `k`, so `\u{212A}ate@x.com`
/// would be the same customer as `kate@x.com`, and a lookalike address
/// could claim someone else's profile. Mail systems do not fold non-ASCII
/// local parts (RFC 6531 compares them as sent), and the right folding for
/// an internationalized domain is IDNA's mapping, not `to_lowercase`. ASCII
/// folding never merges two mailboxes; at worst it keeps two spellings of
/// one non-ASCII address apart (`JOSÉ@…` and `josé@…`), which costs a
/// customer a second, unproven profile and never hands anyone another's.
fn fold_case(text: &str) -> String {
    text.to_ascii_lowercase()
}

/// Whether a character may stand in a domain label besides `-`: a letter or
/// digit of any script. Without the `unicode` feature every non-ASCII
/// character passes (the server, which has the feature, decides).
#[cfg(feature = "unicode")]
fn is_label_char(c: char) -> bool {
    c.is_alphanumeric() || c == '-'
}

#[cfg(not(feature = "unicode"))]
fn is_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || !c.is_ascii()
}

/// Validates a phone number in E.164 form: `+`, a country code that does not
/// start with 0, and 7 to 15 digits in all. Spaces, hyphens, dots and
/// parentheses between the digits are removed first, so `+1 (415) 555-0100`
/// is accepted as `+14155550100`; a number without the leading `+` is not.
pub fn phone(input: &str) -> Result<String, Invalid> {
    const fn bad(message: &'static str) -> Invalid {
        Invalid {
            code: ErrorCode::InvalidPhone,
            field: "phone",
            message,
        }
    }
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(bad("please enter a phone number"));
    }
    let Some(rest) = trimmed.strip_prefix('+') else {
        return Err(bad(
            "phone number must be in international form, like +14155550100",
        ));
    };
    let mut digits = String::with_capacity(16);
    digits.push('+');
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return Err(bad("phone number must hold only digits after the +")),
        }
    }
    let count = digits.len() - 1;
    if !(7..=15).contains(&count) || digits.as_bytes()[1] == b'0' {
        return Err(bad(
            "phone number must be in international form, like +14155550100",
        ));
    }
    Ok(digits)
}

/// Validates a whole [`UserInput`]: a valid name and at least one of a valid
/// email or phone (blank strings count as absent). The first fault found is
/// returned, in the order name, email, phone.
pub fn user(input: &UserInput) -> Result<ValidUser, Invalid> {
    let name = name(&input.name)?;
    let present = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let email = present(&input.email).map(|e| email(&e)).transpose()?;
    let phone = present(&input.phone).map(|p| phone(&p)).transpose()?;
    if email.is_none() && phone.is_none() {
        return Err(Invalid {
            code: ErrorCode::InvalidRequest,
            field: "email",
            message: "please give an email address or a phone number",
        });
    }
    Ok(ValidUser { name, email, phone })
}

/// A chat message body: refused with `empty_message` when it is empty or
/// only whitespace, with `message_too_long` when it has more than
/// [`MAX_BODY_CHARS`] characters. The body is kept as typed (not trimmed):
/// indentation and line breaks are the customer's.
pub fn message_body(input: &str) -> Result<&str, Invalid> {
    if input.trim().is_empty() {
        return Err(Invalid {
            code: ErrorCode::EmptyMessage,
            field: "body",
            message: "the message is empty; type some text before sending",
        });
    }
    if input.chars().count() > MAX_BODY_CHARS {
        return Err(Invalid {
            code: ErrorCode::MessageTooLong,
            field: "body",
            message: "the message is longer than 4000 characters; split it into several messages",
        });
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check<T: std::fmt::Debug + PartialEq>(
        f: impl Fn(&str) -> Result<T, Invalid>,
        cases: &[(&str, Option<T>)],
    ) {
        for (input, expected) in cases {
            let got = f(input).ok();
            assert_eq!(&got, expected, "input {input:?}");
        }
    }

    #[test]
    fn message_bodies() {
        let code = |input: &str| message_body(input).err().map(|e| e.code);
        let cases: [(&str, Option<ErrorCode>); 7] = [
            ("hi", None),
            ("  indented\n\tcode  ", None),
            ("", Some(ErrorCode::EmptyMessage)),
            (" \n\t ", Some(ErrorCode::EmptyMessage)),
            (&"é".repeat(MAX_BODY_CHARS), None),
            (
                &"a".repeat(MAX_BODY_CHARS + 1),
                Some(ErrorCode::MessageTooLong),
            ),
            (
                &format!("{} ", "a".repeat(MAX_BODY_CHARS)),
                Some(ErrorCode::MessageTooLong),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                code(input),
                expected,
                "input of {} chars",
                input.chars().count()
            );
        }
    }

    #[test]
    fn names() {
        check(
            name,
            &[
                ("Ada Lovelace", Some("Ada Lovelace".to_string())),
                ("  Ada   Lovelace \n", Some("Ada Lovelace".to_string())),
                ("李小龍", Some("李小龍".to_string())),
                ("", None),
                ("   \t ", None),
                ("Ada\u{0}Lovelace", None),
                (&"a".repeat(200), Some("a".repeat(200))),
                (&"a".repeat(201), None),
            ],
        );
    }

    #[test]
    fn first_names() {
        let cases = [
            ("Ada Lovelace", Some("Ada")),
            ("  Ada   Lovelace ", Some("Ada")),
            ("Cher", Some("Cher")),
            ("李小龍", Some("李小龍")),
            ("Björk Guðmundsdóttir", Some("Björk")),
            ("Анна Каренина", Some("Анна")),
            ("محمد علي", Some("محمد")),
            ("", None),
            ("   ", None),
        ];
        for (input, expected) in cases {
            assert_eq!(first_name(input).as_deref(), expected, "input {input:?}");
        }
        assert_eq!(
            first_name(&"x".repeat(100)).map(|s| s.len()),
            Some(MAX_FIRST_NAME_CHARS)
        );
    }

    #[test]
    fn emails() {
        let ok = |s: &str| Some(s.to_string());
        check(
            email,
            &[
                ("ada@example.com", ok("ada@example.com")),
                ("  Ada@Example.COM ", ok("ada@example.com")),
                (
                    "ada.lovelace+chat@mail.example.co.uk",
                    ok("ada.lovelace+chat@mail.example.co.uk"),
                ),
                ("josé@exämple.de", ok("josé@exämple.de")),
                // Only ASCII letters fold: the Kelvin sign is not a `k`.
                ("\u{212A}ate@x.com", ok("\u{212A}ate@x.com")),
                ("JOSÉ@EXÄMPLE.DE", ok("josÉ@exÄmple.de")),
                ("", None),
                ("ada", None),
                ("ada@", None),
                ("@example.com", None),
                ("ada@example", None),
                ("ada@@example.com", None),
                ("ada@exa mple.com", None),
                ("ada lovelace@example.com", None),
                ("ada@-example.com", None),
                ("ada@example..com", None),
                (".ada@example.com", None),
                ("ada..l@example.com", None),
                ("ada@example.c", None),
                ("ada@1.2.3.4", None),
                ("<script>@example.com", None),
                (&format!("{}@example.com", "a".repeat(65)), None),
            ],
        );
        assert_ne!(email("\u{212A}ate@x.com"), email("kate@x.com"));
        assert_eq!(email("KATE@X.COM"), email("kate@x.com"));
    }

    #[test]
    fn phones() {
        let ok = |s: &str| Some(s.to_string());
        check(
            phone,
            &[
                ("+14155550100", ok("+14155550100")),
                ("+1 (415) 555-0100", ok("+14155550100")),
                (" +44 20 7946 0958 ", ok("+442079460958")),
                ("+6834002", ok("+6834002")),
                ("14155550100", None),
                ("+04155550100", None),
                ("+1415555010012345", None),
                ("+123", None),
                ("+1415555abcd", None),
                ("", None),
                ("+", None),
            ],
        );
    }

    #[test]
    fn users() {
        let user_of = |name: &str, email: Option<&str>, phone: Option<&str>| UserInput {
            name: name.into(),
            email: email.map(Into::into),
            phone: phone.map(Into::into),
        };
        let cases: &[(UserInput, Result<ValidUser, ErrorCode>)] = &[
            (
                user_of(" Ada  Lovelace", Some("ADA@example.com"), None),
                Ok(ValidUser {
                    name: "Ada Lovelace".into(),
                    email: Some("ada@example.com".into()),
                    phone: None,
                }),
            ),
            (
                user_of("Ada", None, Some("+14155550100")),
                Ok(ValidUser {
                    name: "Ada".into(),
                    email: None,
                    phone: Some("+14155550100".into()),
                }),
            ),
            (
                user_of("", Some("ada@example.com"), None),
                Err(ErrorCode::InvalidName),
            ),
            (
                user_of("Ada", Some("nope"), None),
                Err(ErrorCode::InvalidEmail),
            ),
            (
                user_of("Ada", None, Some("0155 555")),
                Err(ErrorCode::InvalidPhone),
            ),
            (user_of("Ada", None, None), Err(ErrorCode::InvalidRequest)),
            (
                user_of("Ada", Some("  "), Some("")),
                Err(ErrorCode::InvalidRequest),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                &user(input).map_err(|e| e.code),
                expected,
                "input {input:?}"
            );
        }
    }
}
