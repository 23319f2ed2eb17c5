//! Who a customer is: finding or creating their profile from what the
//! website says, opening sessions, and greeting them.
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

use crate::store::{CustomerRecord, IdentityKind, SessionRecord, Store, StoreError, StoreResult};

/// The prefix of every session token, so a leaked one is recognizable in a
/// secret scanner.
pub const SESSION_TOKEN_PREFIX: &str = "tcs_";

/// Who a new session is for.
#[derive(Debug, Clone)]
pub enum Identity {
    /// Nobody said: an anonymous customer.
    Anonymous,
    /// The website (or the onboarding form) identified the customer with a
    /// name and an email or phone; not trusted.
    User(ValidUser),
    // The identity-token work adds `Verified { ... }` for JWT logins, which
    // is trusted and may update the stored profile.
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
    let (customer, kind, display_name) = match identity {
        Identity::Anonymous => {
            let customer = new_customer(app_id, None, None, None, now);
            store.insert_customer(&customer).await?;
            (customer, IdentityKind::Anonymous, None)
        }
        Identity::User(user) => {
            let customer = find_or_create_customer(store, app_id, user, now).await?;
            (customer, IdentityKind::User, Some(user.name.clone()))
        }
    };
    let (token, token_hash) = new_session_token();
    let session = SessionRecord {
        id: uuid::Uuid::new_v4().to_string(),
        token_hash,
        app_id: app_id.to_owned(),
        customer_id: customer.id.clone(),
        trusted: false,
        trusted_until: None,
        identity_kind: kind,
        display_name,
        created_at: now,
        revoked_at: None,
    };
    store.insert_session(&session).await?;
    Ok(OpenedSession {
        token,
        session,
        customer,
    })
}

/// The profile with the user's email, else with their phone, else a new
/// one. Two requests racing to create the same profile both end up with the
/// one that won.
pub async fn find_or_create_customer(
    store: &dyn Store,
    app_id: &str,
    user: &ValidUser,
    now: i64,
) -> StoreResult<CustomerRecord> {
    if let Some(mut found) = find_customer(store, app_id, user).await? {
        if found.name.is_none() && store.fill_customer_name(&found.id, &user.name, now).await? {
            found.name = Some(user.name.clone());
            found.updated_at = now;
        }
        return Ok(found);
    }
    let customer = new_customer(
        app_id,
        Some(&user.name),
        user.email.as_deref(),
        user.phone.as_deref(),
        now,
    );
    match store.insert_customer(&customer).await {
        Ok(()) => Ok(customer),
        Err(StoreError::Conflict) => find_customer(store, app_id, user).await?.ok_or_else(|| {
            StoreError::Database(
                "customer insert conflicted but no matching customer exists".into(),
            )
        }),
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
        first_name: name.as_deref().and_then(validate::first_name),
        name,
        email: customer.email.clone(),
        phone: customer.phone.clone(),
    }
}

/// The first message the widget shows. One place, so per-app messages
/// (a later issue) replace only this.
pub fn greeting(first_name: Option<&str>) -> String {
    match first_name {
        Some(first_name) => format!("Hi {first_name}!"),
        None => "Hi there! How can we help?".to_owned(),
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
    user: &ValidUser,
) -> StoreResult<Option<CustomerRecord>> {
    if let Some(email) = &user.email {
        if let Some(found) = store.customer_by_email(app_id, email).await? {
            return Ok(Some(found));
        }
    }
    if let Some(phone) = &user.phone {
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

    #[test]
    fn greetings() {
        assert_eq!(greeting(Some("Ada")), "Hi Ada!");
        assert_eq!(greeting(None), "Hi there! How can we help?");
    }
}
