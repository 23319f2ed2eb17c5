//! Who a customer is: finding or creating their profile from what the
//! website says, and opening sessions (the greeting is [`crate::rules`]').
//!
//! This is the domain core: it talks to a [`Store`] and knows nothing of
//! HTTP or SQL.
//!
//! An untrusted `setUser` can carry anybody's email, so it may find a
//! profile but never rewrite it: the stored name is only filled in when the
//! profile has none. The name given in the request is remembered by the
//! session (`display_name`) and used to greet, so the person at the keyboard
//! is greeted by the name they gave.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::Rng as _;
use sha2::{Digest, Sha256};
use trustchat_protocol::validate::{self, ValidUser};
use trustchat_protocol::Customer;

use crate::store::{
    CustomerRecord, IdentityKind, MovedConversations, SessionRecord, Store, StoreError, StoreResult,
};

/// The prefix of every session token, so a leaked one is recognizable in a
/// secret scanner.
pub const SESSION_TOKEN_PREFIX: &str = "tcs_";

/// Who a session is for.
#[derive(Debug, Clone)]
pub enum Identity {
    /// Nobody said: an anonymous customer.
    Anonymous,
    /// The website (or the onboarding form) identified the customer with a
    /// name and an email or phone; not trusted.
    User(ValidUser),
    /// The website proved who the customer is with an identity token the
    /// server verified: trusted until the token's `exp`, and authoritative
    /// for the profile's name.
    Verified(VerifiedIdentity),
}

/// What a verified identity token says about the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// Normalized email, if the token has one.
    pub email: Option<String>,
    /// E.164 phone, if the token has one.
    pub phone: Option<String>,
    /// Full name (`name`), if given.
    pub name: Option<String>,
    /// First name (`given_name`), if given.
    pub given_name: Option<String>,
    /// When the proof expires (the token's `exp`), Unix seconds.
    pub exp: i64,
}

impl From<&crate::jwt::Identity> for VerifiedIdentity {
    fn from(token: &crate::jwt::Identity) -> Self {
        VerifiedIdentity {
            email: token.email.clone(),
            phone: token.phone.clone(),
            name: token.name.clone(),
            given_name: token.given_name.clone(),
            exp: i64::try_from(token.exp).unwrap_or(i64::MAX),
        }
    }
}

impl Identity {
    fn email(&self) -> Option<&str> {
        match self {
            Identity::Anonymous => None,
            Identity::User(user) => user.email.as_deref(),
            Identity::Verified(token) => token.email.as_deref(),
        }
    }

    fn phone(&self) -> Option<&str> {
        match self {
            Identity::Anonymous => None,
            Identity::User(user) => user.phone.as_deref(),
            Identity::Verified(token) => token.phone.as_deref(),
        }
    }

    /// The full name this identity gives, if any.
    fn name(&self) -> Option<&str> {
        match self {
            Identity::Anonymous => None,
            Identity::User(user) => Some(&user.name),
            Identity::Verified(token) => token.name.as_deref().or(token.given_name.as_deref()),
        }
    }

    /// Whether this identity describes the customer `customer` (same email,
    /// else same phone). An anonymous profile matches nobody.
    fn describes(&self, customer: &CustomerRecord) -> bool {
        let same = |mine: Option<&str>, theirs: &Option<String>| {
            mine.zip(theirs.as_deref()).map(|(a, b)| a == b)
        };
        match same(self.email(), &customer.email) {
            Some(answer) => answer,
            None => same(self.phone(), &customer.phone).unwrap_or(false),
        }
    }

    /// Writes this identity's trust and names into `session`. A plain
    /// identification of the same person leaves an earlier proof in place.
    fn apply_to(&self, session: &mut SessionRecord) {
        match self {
            Identity::Anonymous => {
                session.identity_kind = IdentityKind::Anonymous;
                session.display_name = None;
                session.display_first_name = None;
            }
            Identity::User(user) => {
                if session.identity_kind == IdentityKind::Anonymous {
                    session.identity_kind = IdentityKind::User;
                }
                session.display_name = Some(user.name.clone());
                session.display_first_name = None;
            }
            Identity::Verified(token) => {
                session.identity_kind = IdentityKind::Jwt;
                session.trusted = true;
                session.trusted_until = Some(token.exp);
                session.display_name = self.name().map(str::to_owned);
                session.display_first_name = token.given_name.clone();
            }
        }
    }
}

/// A freshly opened session, with the only copy of its token.
#[derive(Debug)]
pub struct OpenedSession {
    /// The bearer token; hand it to the client and forget it.
    pub token: String,
    /// The stored session.
    pub session: SessionRecord,
    /// The customer it speaks for.
    pub customer: CustomerRecord,
}

/// Finds or creates the customer for `identity` in `app_id` and opens a
/// session for them.
pub async fn open_session(
    store: &dyn Store,
    app_id: &str,
    identity: &Identity,
    now: i64,
) -> StoreResult<OpenedSession> {
    let customer = match identity {
        Identity::Anonymous => {
            let customer = new_customer(app_id, None, None, None, now);
            store.insert_customer(&customer).await?;
            customer
        }
        _ => find_or_create_customer(store, app_id, identity, now).await?,
    };
    let (token, token_hash) = new_session_token();
    let mut session = SessionRecord {
        id: uuid::Uuid::new_v4().to_string(),
        token_hash,
        app_id: app_id.to_owned(),
        customer_id: customer.id.clone(),
        trusted: false,
        trusted_until: None,
        identity_kind: IdentityKind::Anonymous,
        display_name: None,
        display_first_name: None,
        created_at: now,
        revoked_at: None,
    };
    identity.apply_to(&mut session);
    store.insert_session(&session).await?;
    Ok(OpenedSession {
        token,
        session,
        customer,
    })
}

/// A session after [`change_identity`].
#[derive(Debug)]
pub struct ChangedSession {
    /// The session now in force: the same one, updated, or a new one.
    pub session: SessionRecord,
    /// The customer it speaks for.
    pub customer: CustomerRecord,
    /// The new session's token when the identity belongs to a different
    /// person (the old session is then revoked); `None` when the same
    /// session goes on.
    pub new_token: Option<String>,
    /// What moved when an anonymous customer took over an existing
    /// profile: their conversations went with them.
    pub moved: MovedConversations,
}

/// The mid-chat login (or identification) of the customer of `session`:
///
/// - an anonymous customer who says or proves who they are is the same
///   person: the session goes on, now for the profile of that identity
///   (their anonymous profile is filled in, or the existing profile is
///   taken over);
/// - an identified customer proving the same identity (same email, else
///   same phone) becomes trusted; identifying again changes nothing but the
///   name greeted by;
/// - any other identity is a different person: the session is revoked and a
///   new one opened for them, on their own profile.
pub async fn change_identity(
    store: &dyn Store,
    session: &SessionRecord,
    customer: &CustomerRecord,
    identity: &Identity,
    now: i64,
) -> StoreResult<ChangedSession> {
    let anonymous = customer.email.is_none() && customer.phone.is_none();
    if !anonymous && !identity.describes(customer) {
        store.revoke_session(&session.id, now).await?;
        let opened = open_session(store, &session.app_id, identity, now).await?;
        return Ok(ChangedSession {
            session: opened.session,
            customer: opened.customer,
            new_token: Some(opened.token),
            moved: MovedConversations::default(),
        });
    }
    let (customer, moved) = if anonymous {
        let adopted = adopt_identity(store, customer, identity, now).await?;
        // The same person, now on their existing profile: the chat they
        // are in (and any earlier one of this anonymous profile) goes with
        // them, so a mid-chat login keeps the conversation.
        let moved = if adopted.id == customer.id {
            MovedConversations::default()
        } else {
            store
                .move_conversations(&customer.id, &adopted.id, now.saturating_mul(1000))
                .await?
        };
        (adopted, moved)
    } else {
        (
            update_profile(store, customer.clone(), identity, now).await?,
            MovedConversations::default(),
        )
    };
    let mut session = session.clone();
    session.customer_id = customer.id.clone();
    identity.apply_to(&mut session);
    store.update_session_identity(&session).await?;
    Ok(ChangedSession {
        session,
        customer,
        new_token: None,
        moved,
    })
}

/// An anonymous customer takes on `identity`: the existing profile of that
/// identity if there is one, else their own profile, filled in.
async fn adopt_identity(
    store: &dyn Store,
    anonymous: &CustomerRecord,
    identity: &Identity,
    now: i64,
) -> StoreResult<CustomerRecord> {
    if let Some(found) = find_customer(store, &anonymous.app_id, identity).await? {
        return update_profile(store, found, identity, now).await;
    }
    let mut filled = anonymous.clone();
    filled.name = identity.name().map(str::to_owned);
    filled.email = identity.email().map(str::to_owned);
    filled.phone = identity.phone().map(str::to_owned);
    filled.updated_at = now;
    match store.update_customer(&filled).await {
        Ok(()) => Ok(filled),
        // Someone created that profile a moment ago: take it over.
        Err(StoreError::Conflict) => {
            let found = find_customer(store, &anonymous.app_id, identity)
                .await?
                .ok_or_else(|| {
                    StoreError::Database(
                        "customer update conflicted but no matching customer exists".into(),
                    )
                })?;
            update_profile(store, found, identity, now).await
        }
        Err(e) => Err(e),
    }
}

/// What an identity may change on a profile it describes: a verified token
/// names the customer authoritatively; a plain identification only fills a
/// missing name (anyone can type someone else's email).
async fn update_profile(
    store: &dyn Store,
    mut customer: CustomerRecord,
    identity: &Identity,
    now: i64,
) -> StoreResult<CustomerRecord> {
    let name = identity.name().map(str::to_owned);
    let rename = match identity {
        Identity::Verified(_) => name.is_some() && customer.name != name,
        _ => customer.name.is_none() && name.is_some(),
    };
    if rename {
        customer.name = name;
        customer.updated_at = now;
        store.update_customer(&customer).await?;
    }
    Ok(customer)
}

/// The profile with the identity's email, else with its phone, else a new
/// one. Two requests racing to create the same profile both end up with the
/// one that won.
pub async fn find_or_create_customer(
    store: &dyn Store,
    app_id: &str,
    identity: &Identity,
    now: i64,
) -> StoreResult<CustomerRecord> {
    if let Some(found) = find_customer(store, app_id, identity).await? {
        return update_profile(store, found, identity, now).await;
    }
    let customer = new_customer(
        app_id,
        identity.name(),
        identity.email(),
        identity.phone(),
        now,
    );
    match store.insert_customer(&customer).await {
        Ok(()) => Ok(customer),
        Err(StoreError::Conflict) => {
            find_customer(store, app_id, identity)
                .await?
                .ok_or_else(|| {
                    StoreError::Database(
                        "customer insert conflicted but no matching customer exists".into(),
                    )
                })
        }
        Err(e) => Err(e),
    }
}

/// The customer as the widget sees it: named as this session was opened
/// when it was given a name, else as stored.
pub fn customer_view(customer: &CustomerRecord, session: &SessionRecord) -> Customer {
    let name = session
        .display_name
        .clone()
        .or_else(|| customer.name.clone());
    Customer {
        id: customer.id.clone(),
        first_name: session
            .display_first_name
            .as_deref()
            .and_then(validate::first_name)
            .or_else(|| name.as_deref().and_then(validate::first_name)),
        name,
        email: customer.email.clone(),
        phone: customer.phone.clone(),
    }
}

/// Whether the session is trusted at `now`: proven by a JWT whose proof has
/// not expired.
pub fn is_trusted(session: &SessionRecord, now: i64) -> bool {
    session.trusted && session.trusted_until.is_none_or(|until| now < until)
}

/// A new session token, `tcs_` and 32 random bytes in base64url, and the
/// hash under which it is stored.
pub fn new_session_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("{SESSION_TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash_token(&token);
    (token, hash)
}

/// SHA-256 of a token, lowercase hex: what the database holds.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
        hex.push(char::from_digit(u32::from(byte & 0xf), 16).unwrap_or('0'));
    }
    hex
}

/// Seconds since the Unix epoch, as the token verifier counts them.
pub fn now_unix() -> u64 {
    u64::try_from(now()).unwrap_or_default()
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX)
}

async fn find_customer(
    store: &dyn Store,
    app_id: &str,
    identity: &Identity,
) -> StoreResult<Option<CustomerRecord>> {
    if let Some(email) = identity.email() {
        if let Some(found) = store.customer_by_email(app_id, email).await? {
            return Ok(Some(found));
        }
    }
    if let Some(phone) = identity.phone() {
        if let Some(found) = store.customer_by_phone(app_id, phone).await? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

fn new_customer(
    app_id: &str,
    name: Option<&str>,
    email: Option<&str>,
    phone: Option<&str>,
    now: i64,
) -> CustomerRecord {
    CustomerRecord {
        id: uuid::Uuid::new_v4().to_string(),
        app_id: app_id.to_owned(),
        name: name.map(str::to_owned),
        email: email.map(str::to_owned),
        phone: phone.map(str::to_owned),
        created_at: now,
        updated_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_hashed() {
        let (a, hash_a) = new_session_token();
        let (b, _) = new_session_token();
        assert!(a.starts_with("tcs_"));
        assert_eq!(a.len(), 4 + 43);
        assert_ne!(a, b);
        assert_eq!(hash_a, hash_token(&a));
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
