//! Bodies of the HTTP API under `/api/v1`. Field names are snake_case on the
//! wire, as the README documents them.

use serde::{Deserialize, Serialize};

/// `GET /api/v1/apps/{app_id}`: what the widget needs to know about its app
/// before anyone has identified themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppInfo {
    /// The app id, as in the config.
    pub id: String,
    /// The app's display name, shown in the chat panel's header.
    pub name: String,
    /// Whether anonymous customers are asked for name and email first.
    pub onboarding: bool,
    /// Where the website's own login page is, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_url: Option<String>,
    /// Whether someone can answer now.
    #[serde(default)]
    pub availability: Availability,
    /// When closed: when support opens next, Unix milliseconds (absent
    /// when no opening is scheduled within a year).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_open_at: Option<i64>,
}

/// Whether an app's support can answer now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    /// Within office hours, with an agent of the app online and available.
    #[default]
    Available,
    /// Within office hours, nobody available right now.
    Busy,
    /// Outside office hours (or a holiday).
    Closed,
}

impl Availability {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Availability::Available => "available",
            Availability::Busy => "busy",
            Availability::Closed => "closed",
        }
    }
}

/// `POST /api/v1/apps/{app_id}/sessions`, and `POST
/// /api/v1/sessions/current/identity` (the mid-chat login or identity
/// change, which takes `user` or `jwt`): `{}` for an anonymous customer,
/// `{"user": {...}}` for one the website identified, `{"jwt": "..."}` for one
/// the website proved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateSessionRequest {
    /// The customer as the website (or the onboarding form) describes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserInput>,
    /// An identity token signed by the website.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<String>,
}

/// A customer as `setUser` describes them: a name plus an email or a phone
/// number (or both). See [`crate::validate`] for what is accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    /// Full name as the customer would write it.
    pub name: String,
    /// Email address; matched case-insensitively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number in E.164 form, `+14155550100`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// The customer as the widget sees them: exactly what this session
/// supplied (with `setUser`, the onboarding form, or its identity token's
/// claims), never anything the server has stored about a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Customer {
    /// Stable for the session, through its identifications and logins; a
    /// new session (another person, or after `clearUser`) has another.
    /// Not a profile's id.
    pub id: String,
    /// Full name; `None` for an anonymous customer.
    pub name: Option<String>,
    /// The name to greet them by; `None` for an anonymous customer.
    pub first_name: Option<String>,
    /// Normalized email (lowercase), if the session gave one.
    pub email: Option<String>,
    /// E.164 phone number, if the session gave one.
    pub phone: Option<String>,
}

/// The answer of the sessions endpoints: `201` on create, `200` on read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionResponse {
    /// Bearer token for every later request of this session; present only
    /// when a session is created (or its identity changes). Never logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    /// The customer this session speaks for.
    pub customer: Customer,
    /// Whether the server verified this session's identity with a JWT that
    /// has not expired. Computed by the server only.
    pub trusted: bool,
    /// When the trust ends: the verified token's `exp`, in Unix seconds.
    /// `None` when the session is not trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_until: Option<i64>,
    /// The first message the widget shows, e.g. `Hi Ada!`, chosen by the
    /// app's first-message rules for the customer's status; any login URL
    /// in it is already written out, so a widget that knows nothing of
    /// [`SessionResponse::greeting_link`] still shows it.
    pub greeting: String,
    /// The app's `login_url` when the greeting carries it (anonymous and
    /// untrusted customers, by default): the widget renders that URL in the
    /// greeting as a link. Always the app's configured URL, never anything
    /// a client sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greeting_link: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_session_accepts_the_three_shapes() {
        let empty: CreateSessionRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, CreateSessionRequest::default());
        let user: CreateSessionRequest =
            serde_json::from_str(r#"{"user":{"name":"Ada Lovelace","email":"ada@example.com"}}"#)
                .unwrap();
        assert_eq!(user.user.unwrap().email.as_deref(), Some("ada@example.com"));
        let jwt: CreateSessionRequest = serde_json::from_str(r#"{"jwt":"a.b.c"}"#).unwrap();
        assert_eq!(jwt.jwt.as_deref(), Some("a.b.c"));
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<CreateSessionRequest>(r#"{"usr":{}}"#).is_err());
        assert!(serde_json::from_str::<UserInput>(r#"{"name":"A","emial":"a@b.co"}"#).is_err());
    }

    #[test]
    fn session_response_omits_absent_token() {
        let response = SessionResponse {
            session_token: None,
            customer: Customer {
                id: "c1".into(),
                name: None,
                first_name: None,
                email: None,
                phone: None,
            },
            trusted: false,
            trusted_until: None,
            greeting: "Hi there!".into(),
            greeting_link: None,
        };
        let json = serde_json::to_value(&response).unwrap();
        assert!(json.get("session_token").is_none());
        assert_eq!(json["customer"]["email"], serde_json::Value::Null);
    }
}

/// `POST /api/v1/user-identity-jwt` (authenticated with an app's API key):
/// the server mints an identity token for sites that would rather not hold
/// signing keys. Field names are camelCase, as the endpoint's contract says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MintTokenRequest {
    /// What `identity` holds.
    pub identity_type: IdentityType,
    /// The email address or E.164 phone number.
    pub identity: String,
    /// The customer's full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Lifetime in seconds; default 600, capped by the app's
    /// `max_token_lifetime_secs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
}

/// The kind of identity a minted token asserts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum IdentityType {
    /// An email address; the token carries it as `email`.
    #[serde(rename = "EMAIL")]
    Email,
    /// An E.164 phone number; the token carries it as `phone_number`.
    #[serde(rename = "MOBILE_PHONE_NUMBER")]
    MobilePhoneNumber,
}

/// The answer of `POST /api/v1/user-identity-jwt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MintTokenResponse {
    /// The signed identity token (compact JWS).
    pub token: String,
}
