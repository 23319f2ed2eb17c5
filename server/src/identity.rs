//! Who a customer is: finding or creating their profile from what the
//! website says, and opening sessions (the greeting is [`crate::rules`]').
//!
//! This is the domain core: it talks to a [`Store`] and knows nothing of
//! HTTP or SQL. The rules it enforces (README, "Security model"):
//!
//! - **A proven profile is keyed by the token's `sub`.** Email and phone
//!   are its attributes, written by the tokens of that `sub`. A token
//!   without a profile of its own takes over an *unproven* profile only when
//!   the emails agree (a token without an email: the phones agree and the
//!   profile has no email); it never lands on, or renames, a profile whose
//!   email differs, and there is no phone fallback across emails.
//! - **A claim (`setUser`) finds a profile for the agent's eyes only.** Any
//!   profile with the email (else, without an email, the phone) is linked,
//!   none is rewritten (a missing name of an unproven one is filled in),
//!   and every session is told back only what it supplied
//!   ([`customer_view`]): never a stored field, never the profile's id.
//! - **Conversations belong to the session that started them**, and become
//!   the customer's shared history only under proof (see
//!   [`crate::store::Reader`]). A claim links an anonymous session's
//!   conversations to the claimed profile without closing or joining
//!   anybody's; only a valid token of the same person merges them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::Rng as _;
use sha2::{Digest, Sha256};
use trustchat_protocol::validate::{self, ValidUser};
use trustchat_protocol::Customer;

use crate::hub::Listener;
use crate::store::{
    Among, ConversationRecord, CustomerRecord, IdentityKind, LinkedConversations, Reader,
    SessionRecord, Store, StoreError, StoreResult, UniqueKey, Webhooks, MAX_LOCALES_CHARS,
};
use crate::webhooks::event;

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
    /// for the profile of its `sub`.
    Verified(VerifiedIdentity),
}

/// What a verified identity token says about the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// The site's user id (`sub`): the key of the proven profile.
    pub sub: String,
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
            sub: token.sub.clone(),
            email: token.email.clone(),
            phone: token.phone.clone(),
            name: token.name.clone(),
            given_name: token.given_name.clone(),
            exp: i64::try_from(token.exp).unwrap_or(i64::MAX),
        }
    }
}

impl VerifiedIdentity {
    /// The full name the token gives, else its first name.
    fn name(&self) -> Option<&str> {
        self.name.as_deref().or(self.given_name.as_deref())
    }
}

impl Identity {
    /// Writes what this identity gives into `session`: trust, `sub`, and
    /// the name, email and phone the session is told back. A plain
    /// identification of the same person leaves an earlier proof (and the
    /// contact it proved) in place and changes only the name greeted by.
    fn apply_to(&self, session: &mut SessionRecord) {
        match self {
            Identity::Anonymous => {
                session.identity_kind = IdentityKind::Anonymous;
                session.sub = None;
                session.display_name = None;
                session.display_first_name = None;
                session.display_email = None;
                session.display_phone = None;
            }
            Identity::User(user) => {
                if session.identity_kind != IdentityKind::Jwt {
                    session.identity_kind = IdentityKind::User;
                    session.display_email = user.email.clone();
                    session.display_phone = user.phone.clone();
                }
                session.display_name = Some(user.name.clone());
                session.display_first_name = None;
            }
            Identity::Verified(token) => {
                session.identity_kind = IdentityKind::Jwt;
                session.trusted = true;
                session.trusted_until = Some(token.exp);
                session.sub = Some(token.sub.clone());
                session.display_name = token.name().map(str::to_owned);
                session.display_first_name = token.given_name.clone();
                session.display_email = token.email.clone();
                session.display_phone = token.phone.clone();
            }
        }
    }
}

/// Whether `identity` is the person `session` speaks for, so that the
/// session may go on under it: anyone, for an anonymous session; the same
/// `sub` for a token on a proven session; otherwise the same email, else
/// (one of the two without an email) the same phone as the session gave.
pub fn same_person(session: &SessionRecord, identity: &Identity) -> bool {
    let same_contact = |email: Option<&str>, phone: Option<&str>| {
        let same = |mine: Option<&str>, theirs: Option<&str>| mine.zip(theirs).map(|(a, b)| a == b);
        same(session.display_email.as_deref(), email)
            .or_else(|| same(session.display_phone.as_deref(), phone))
            .unwrap_or(false)
    };
    match (session.identity_kind, identity) {
        (_, Identity::Anonymous) => false,
        (IdentityKind::Anonymous, _) => true,
        (IdentityKind::Jwt, Identity::Verified(token)) => {
            session.sub.as_deref() == Some(&token.sub)
        }
        (_, Identity::Verified(token)) => {
            same_contact(token.email.as_deref(), token.phone.as_deref())
        }
        (_, Identity::User(user)) => same_contact(user.email.as_deref(), user.phone.as_deref()),
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
/// session for them, remembering the languages the request asked for
/// (`Accept-Language`, best first; see [`stored_locales`]).
///
/// A session a verified token opens enqueues `customer.verified` for the
/// app's `webhooks` that take it, with the session.
pub async fn open_session(
    store: &dyn Store,
    app_id: &str,
    identity: &Identity,
    locales: &[String],
    now: i64,
    webhooks: &Webhooks,
) -> StoreResult<OpenedSession> {
    let customer = match identity {
        Identity::Anonymous => {
            let customer = new_customer(app_id, now);
            store.insert_customer(&customer).await?;
            customer
        }
        Identity::User(user) => claimed_profile(store, app_id, user, None, now).await?,
        Identity::Verified(token) => proven_profile(store, app_id, token, None, now).await?,
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
        sub: None,
        display_name: None,
        display_first_name: None,
        display_email: None,
        display_phone: None,
        created_at: now,
        revoked_at: None,
        page_url: None,
        locales: stored_locales(locales),
    };
    identity.apply_to(&mut session);
    let verified = event::customer_verified(webhooks, &session, now.saturating_mul(1000));
    store.insert_session(&session, &verified).await?;
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
    /// What happened to the conversations the session started.
    pub linked: LinkedConversations,
}

/// The mid-chat login (or identification) of the customer of `session`:
///
/// - an anonymous customer who says who they are goes on in the same
///   session, linked to the profile of that claim for the agent's view:
///   their conversation stays their own and nobody else's changes;
/// - a customer who proves, with a token, to be the person the session is
///   for ([`same_person`]) goes on trusted: the conversations the session
///   started join the proven profile's history;
/// - an identified customer identifying again as the same person changes
///   nothing but the name greeted by;
/// - any other identity is a different person: the session is revoked and a
///   new one opened for them, on their own profile.
///
/// The session in force remembers `locales`, the languages the request
/// asked for, or keeps the ones it had when it asked for none (a new
/// session takes the old one's: the same browser).
///
/// For the app's `webhooks`: a session that becomes trusted (it was not
/// at `now`) enqueues `customer.verified`, and a conversation the link
/// closes its `conversation.closed`, with the change. A token that only
/// renews a trusted session's proof announces nothing.
pub async fn change_identity(
    store: &dyn Store,
    session: &SessionRecord,
    customer: &CustomerRecord,
    identity: &Identity,
    locales: &[String],
    now: i64,
    webhooks: &Webhooks,
) -> StoreResult<ChangedSession> {
    if !same_person(session, identity) {
        store.revoke_session(&session.id, now).await?;
        let locales = if locales.is_empty() {
            &session.locales
        } else {
            locales
        };
        let opened = open_session(store, &session.app_id, identity, locales, now, webhooks).await?;
        return Ok(ChangedSession {
            session: opened.session,
            customer: opened.customer,
            new_token: Some(opened.token),
            linked: LinkedConversations::default(),
        });
    }
    let now_ms = now.saturating_mul(1000);
    let (customer, linked) = match identity {
        Identity::User(user) if session.identity_kind == IdentityKind::Anonymous => {
            let claimed =
                claimed_profile(store, &session.app_id, user, Some(customer), now).await?;
            let linked = if claimed.id == customer.id {
                LinkedConversations::default()
            } else {
                store
                    .link_session_conversations(&session.id, &claimed.id, false, now_ms, webhooks)
                    .await?
            };
            (claimed, linked)
        }
        Identity::Verified(token) => {
            let anonymous = (session.identity_kind == IdentityKind::Anonymous).then_some(customer);
            let proven = proven_profile(store, &session.app_id, token, anonymous, now).await?;
            let linked = store
                .link_session_conversations(&session.id, &proven.id, true, now_ms, webhooks)
                .await?;
            (proven, linked)
        }
        Identity::User(_) | Identity::Anonymous => {
            (customer.clone(), LinkedConversations::default())
        }
    };
    let was_trusted = is_trusted(session, now);
    let mut session = session.clone();
    session.customer_id = customer.id.clone();
    identity.apply_to(&mut session);
    let verified = if was_trusted {
        Vec::new()
    } else {
        event::customer_verified(webhooks, &session, now_ms)
    };
    store.update_session_identity(&session, &verified).await?;
    remember_locales(store, &mut session, locales).await?;
    Ok(ChangedSession {
        session,
        customer,
        new_token: None,
        linked,
    })
}

/// The profile a claim is linked to: any profile of the app with its email
/// (else, a claim without an email, its phone), proven ones first; else
/// `anonymous` (the claiming session's own anonymous profile) filled in,
/// else a new unproven profile, keyed by that email or phone. A claim never rewrites a profile; it only
/// fills in the missing name of an unproven one.
async fn claimed_profile(
    store: &dyn Store,
    app_id: &str,
    user: &ValidUser,
    anonymous: Option<&CustomerRecord>,
    now: i64,
) -> StoreResult<CustomerRecord> {
    let find = || async {
        match (&user.email, &user.phone) {
            (Some(email), _) => store.customer_by_email(app_id, email, Among::Any).await,
            (None, Some(phone)) => store.customer_by_phone(app_id, phone, Among::Any).await,
            (None, None) => Ok(None),
        }
    };
    if let Some(found) = find().await? {
        return fill_missing_name(store, found, &user.name, now).await;
    }
    let mut claimed = match anonymous {
        Some(anonymous) => anonymous.clone(),
        None => new_customer(app_id, now),
    };
    // An unproven profile is keyed by what it was found by: the email,
    // else the phone. A phone beside an email stays with the session (the
    // agent sees it on the conversation), so a claim never collides with
    // another profile's phone.
    claimed.name = Some(user.name.clone());
    claimed.email = user.email.clone();
    claimed.phone = if user.email.is_some() {
        None
    } else {
        user.phone.clone()
    };
    claimed.updated_at = now;
    let written = match anonymous {
        Some(_) => store.update_customer(&claimed).await,
        None => store.insert_customer(&claimed).await,
    };
    match written {
        Ok(()) => Ok(claimed),
        // Someone claimed that email or phone a moment ago: link to theirs.
        Err(StoreError::Taken(UniqueKey::CustomerEmail | UniqueKey::CustomerPhone)) => {
            find().await?.ok_or_else(|| {
                StoreError::Database("a claimed profile conflicted but none matches".into())
            })
        }
        Err(e) => Err(e),
    }
}

/// A claim's name fills in an unproven profile that has none; nothing else
/// of a profile is ever written by a claim.
async fn fill_missing_name(
    store: &dyn Store,
    mut customer: CustomerRecord,
    name: &str,
    now: i64,
) -> StoreResult<CustomerRecord> {
    if customer.sub.is_none() && customer.name.is_none() {
        customer.name = Some(name.to_owned());
        customer.updated_at = now;
        store.update_customer(&customer).await?;
    }
    Ok(customer)
}

/// The profile of a verified token: the one keyed by its `sub` (its
/// email, phone and name brought up to date with the token's); else an
/// unproven profile it takes over, whose contact details agree (same
/// email; a token without an email: same phone and no email), reset to the
/// token's; else `anonymous` (the session's own anonymous profile) filled
/// in; else a new one. Two requests racing for the same `sub` end on the
/// one that won.
async fn proven_profile(
    store: &dyn Store,
    app_id: &str,
    token: &VerifiedIdentity,
    anonymous: Option<&CustomerRecord>,
    now: i64,
) -> StoreResult<CustomerRecord> {
    if let Some(found) = store.customer_by_sub(app_id, &token.sub).await? {
        return refresh_proven(store, found, token, now).await;
    }
    let unproven = match (&token.email, &token.phone) {
        (Some(email), _) => {
            store
                .customer_by_email(app_id, email, Among::Unproven)
                .await?
        }
        (None, Some(phone)) => store
            .customer_by_phone(app_id, phone, Among::Unproven)
            .await?
            .filter(|found| found.email.is_none()),
        (None, None) => None,
    };
    // What anybody claimed on a profile taken over is replaced by what the
    // token proves.
    let (mut profile, stored) = match (unproven, anonymous) {
        (Some(found), _) => (found, true),
        (None, Some(anonymous)) => (anonymous.clone(), true),
        (None, None) => (new_customer(app_id, now), false),
    };
    profile.sub = Some(token.sub.clone());
    profile.name = token.name().map(str::to_owned);
    profile.email = token.email.clone();
    profile.phone = token.phone.clone();
    profile.updated_at = now;
    let written = if stored {
        store.update_customer(&profile).await
    } else {
        store.insert_customer(&profile).await
    };
    match written {
        Ok(()) => Ok(profile),
        // Another request proved the same `sub` a moment ago.
        Err(StoreError::Taken(UniqueKey::CustomerSub)) => store
            .customer_by_sub(app_id, &token.sub)
            .await?
            .ok_or_else(|| {
                StoreError::Database("a proven profile conflicted but none has its sub".into())
            }),
        Err(e) => Err(e),
    }
}

/// A proven profile follows its tokens: the name, email and phone a token
/// carries replace the stored ones (the site may change them); what a
/// token leaves out stays.
async fn refresh_proven(
    store: &dyn Store,
    mut customer: CustomerRecord,
    token: &VerifiedIdentity,
    now: i64,
) -> StoreResult<CustomerRecord> {
    let before = customer.clone();
    let update = |field: &mut Option<String>, value: Option<&str>| {
        if let Some(value) = value {
            *field = Some(value.to_owned());
        }
    };
    update(&mut customer.name, token.name());
    update(&mut customer.email, token.email.as_deref());
    update(&mut customer.phone, token.phone.as_deref());
    if customer != before {
        customer.updated_at = now;
        store.update_customer(&customer).await?;
    }
    Ok(customer)
}

/// The customer as the session's own client sees it: only what the session
/// supplied (its name, email and phone, or its token's), never a stored
/// field of the profile. Its id is the session's, the same through every
/// identification and login of the session, and never the profile's: two
/// claims of one email must not learn that they landed on one profile.
pub fn customer_view(session: &SessionRecord) -> Customer {
    let name = session.display_name.clone();
    Customer {
        id: session.id.clone(),
        first_name: session
            .display_first_name
            .as_deref()
            .and_then(validate::first_name)
            .or_else(|| name.as_deref().and_then(validate::first_name)),
        name,
        email: session.display_email.clone(),
        phone: session.display_phone.clone(),
    }
}

/// The languages of a request to keep on its session: `locales` (valid
/// language tags, best first, as [`crate::texts::accepted_locales`] reads
/// them from `Accept-Language`), as many as fit in
/// [`MAX_LOCALES_CHARS`] joined by commas.
pub fn stored_locales(locales: &[String]) -> Vec<String> {
    let mut kept = Vec::new();
    let mut length = 0;
    for tag in locales {
        let with_comma = tag.len() + usize::from(!kept.is_empty());
        if tag.is_empty() || length + with_comma > MAX_LOCALES_CHARS {
            break;
        }
        length += with_comma;
        kept.push(tag.clone());
    }
    kept
}

/// Records on `session` the languages a request of it asked for, when it
/// asked for any and they are not the ones stored: the last non-empty
/// list is kept, and a request without `Accept-Language` erases nothing.
pub async fn remember_locales(
    store: &dyn Store,
    session: &mut SessionRecord,
    locales: &[String],
) -> StoreResult<()> {
    let locales = stored_locales(locales);
    if locales.is_empty() || locales == session.locales {
        return Ok(());
    }
    store.set_session_locales(&session.id, &locales).await?;
    session.locales = locales;
    Ok(())
}

/// The languages of a conversation's customer, best first, for what the
/// server writes to them outside a request (emails, automatic messages):
/// for a conversation held under proof, those of the customer's latest
/// proven session that recorded any; else, or when none did, those of the
/// session that started it. An unproven claim on the same profile never
/// chooses them.
pub async fn conversation_locales(
    store: &dyn Store,
    conversation: &ConversationRecord,
) -> StoreResult<Vec<String>> {
    if conversation.proven {
        let locales = store
            .proven_customer_locales(&conversation.customer_id)
            .await?;
        if !locales.is_empty() {
            return Ok(locales);
        }
    }
    match &conversation.session_id {
        Some(id) => Ok(store
            .session(id)
            .await?
            .map(|session| session.locales)
            .unwrap_or_default()),
        None => Ok(Vec::new()),
    }
}

/// The session as a reader of conversations at `now`.
pub fn reader(session: &SessionRecord, now: i64) -> Reader {
    Reader {
        session_id: session.id.clone(),
        customer_id: session.customer_id.clone(),
        trusted: is_trusted(session, now),
    }
}

/// What the hub needs to know of the session's connections: its customer
/// and the end of its proof (`i64::MAX` for a proof without one, `None`
/// when it is not trusted).
pub fn listener(session: &SessionRecord) -> Listener {
    Listener {
        session_id: session.id.clone(),
        customer_id: session.customer_id.clone(),
        app_id: session.app_id.clone(),
        trusted_until: session
            .trusted
            .then(|| session.trusted_until.unwrap_or(i64::MAX)),
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

/// A new profile with nothing known about it yet.
fn new_customer(app_id: &str, now: i64) -> CustomerRecord {
    CustomerRecord {
        id: uuid::Uuid::new_v4().to_string(),
        app_id: app_id.to_owned(),
        sub: None,
        name: None,
        email: None,
        phone: None,
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
