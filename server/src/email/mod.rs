//! Replies by email when the customer is gone.
//!
//! An agent's reply in an app that sends emails ([`Config::email_delay`]:
//! `[smtp]` configured, the app has a `chat_url`, `[apps.email]` not
//! disabled) sets its conversation's email due time to the reply's time
//! plus the app's `unread_delay_secs`, in the transaction that stores the
//! reply, unless one is set already (a burst shares one). A worker per
//! server ([`start`]) claims due conversations one at a time
//! ([`Store::claim_due_email`], an index of due times; `FOR UPDATE SKIP
//! LOCKED` on Postgres, so one server takes each) and decides:
//!
//! - the agent replies after what was handled (`emailed_seq`) and what
//!   the customer read (`customer_read_seq`), and after the customer's
//!   last message (a customer who wrote since saw them), are *unread*;
//! - none: nothing to send; the first not `unread_delay_secs` old yet: look
//!   again when it is;
//! - else one email with every unread reply, plain text and HTML
//!   ([`compose`]), to the address the customer gave in the session that
//!   opened the conversation, or, for a proven conversation, their
//!   profile's (an unproven claim never reaches an address it did not
//!   type); in their language ([`identity::conversation_locales`]: the
//!   languages the session recorded, for a proven conversation their
//!   latest proven session's; the texts: [`crate::texts`]).
//!
//! **Nothing is sent twice.** The claim moves the due time to the end of a
//! lease (longer than a send may take): that is the record of the attempt,
//! in the database, before anything is sent. The send's outcome is written
//! in one statement ([`Store::finish_email`]): `emailed_seq` moves past the
//! replies sent, and the next due time is set (none, a retry, or now when
//! messages came meanwhile). A restart finds `emailed_seq` and sends none
//! of those again. Only a server that stops between the relay's "250 OK"
//! and that statement leaves the attempt unsure; its lease runs out and the
//! email is sent again, once, with the same `Message-ID` (mail clients fold
//! such duplicates): at-least-once, rather than losing a reply.
//!
//! Failures are retried after `[smtp] retry_backoff_secs` (30 s, 2 min,
//! 10 min, 30 min, then hourly), [`MAX_ATTEMPTS`] times in all. Logs name the conversation and the
//! error, never the message text, and the recipient's address is cut out
//! of the relay's answers.

pub mod compose;
pub mod config;

use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use tokio::sync::{watch, Notify};
use trustchat_protocol::validate;
use trustchat_protocol::Author;

use crate::clock;
use crate::config::Config;
use crate::error::error_chain;
use crate::identity;
use crate::store::{ConversationRecord, EmailClaim, EmailDone, MessageRecord, Store, StoreResult};
use crate::texts::BuiltIn;
use compose::{Envelope, Reply};
use config::{reopen_link, SmtpConfig, SmtpTls};

/// Failed attempts after which an email is given up (about 8 hours).
pub const MAX_ATTEMPTS: i64 = 12;
/// The worker looks for due emails at least this often (replies stored
/// by other servers of the database).
const POLL: Duration = Duration::from_secs(15);
/// The shortest wait between two looks, so that a due row another server
/// holds for a moment does not make the worker spin.
const MIN_WAIT: Duration = Duration::from_millis(200);
/// The most messages read for one email; more make another email.
const MAX_MESSAGES: usize = 200;
/// How long a shutdown waits for an email in flight.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// One send may take this many SMTP command timeouts.
const COMMANDS_PER_SEND: u32 = 4;

/// Wakes this server's email worker: a reply scheduled an email, maybe
/// sooner than the worker planned to look.
#[derive(Debug, Default)]
pub struct Wake(Notify);

impl Wake {
    /// Tells the worker to look at its schedule again.
    pub fn scheduled(&self) {
        self.0.notify_one();
    }
}

/// The running email worker of a server.
pub struct Running {
    /// Tells the worker to stop.
    stop: watch::Sender<bool>,
    /// The worker.
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops the worker once the email it is sending (if any) is done and
    /// recorded, waiting at most [`STOP_GRACE`]; an email still in flight
    /// then is sent again when its claim runs out.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let mut task = self.task;
        match tokio::time::timeout(STOP_GRACE, &mut task).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(error = %error, "the email worker failed"),
            Err(_) => {
                task.abort();
                tracing::warn!("an email was still being sent at shutdown; it is tried again when its claim runs out");
            }
        }
    }
}

/// Starts the email worker when the config has `[smtp]`; `None` without.
pub fn start(
    config: Arc<Config>,
    store: Arc<dyn Store>,
    wake: Arc<Wake>,
) -> anyhow::Result<Option<Running>> {
    let Some(smtp) = &config.smtp else {
        return Ok(None);
    };
    let mut smtp = smtp.clone();
    if smtp.password.is_none() {
        // Read here, when the server starts, not when any command loads
        // the config: `agent add` needs no SMTP password.
        smtp.read_password(|name| std::env::var(name).ok())
            .map_err(anyhow::Error::msg)?;
    }
    let mailer = Mailer::new(&smtp).map_err(|e| anyhow::anyhow!("[smtp]: {e:#}"))?;
    let apps: Vec<&str> = config
        .apps
        .iter()
        .filter(|app| config.email_delay(&app.id).is_some())
        .map(|app| app.id.as_str())
        .collect();
    for app in &config.apps {
        if app.chat_url.is_none() && app.email.enabled != Some(false) {
            tracing::warn!(app = %app.id, "the app has no chat_url, so its customers get no email of unread replies; set chat_url (or [apps.email] enabled = false)");
        }
    }
    tracing::info!(host = %smtp.host, port = smtp.port(), apps = ?apps, "emailing unread replies");
    let (stop, stopped) = watch::channel(false);
    let worker = Worker {
        store,
        config,
        mailer,
        wake,
    };
    let task = tokio::spawn(worker.run(stopped));
    Ok(Some(Running { stop, task }))
}

/// The SMTP side: lettre's transport and the sender.
struct Mailer {
    /// The relay.
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// `[smtp] from`.
    from: Mailbox,
    /// The longest one send may take.
    deadline: Duration,
    /// `[smtp]`, for the retry waits.
    smtp: SmtpConfig,
}

impl Mailer {
    fn new(smtp: &SmtpConfig) -> anyhow::Result<Mailer> {
        let host = smtp.host.trim();
        let builder = match smtp.tls {
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        };
        let mut builder = builder.port(smtp.port()).timeout(Some(smtp.timeout()));
        if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.0.clone()));
        }
        Ok(Mailer {
            transport: builder.build(),
            from: smtp.from_mailbox().map_err(anyhow::Error::msg)?,
            deadline: smtp.timeout() * COMMANDS_PER_SEND,
            smtp: smtp.clone(),
        })
    }

    /// Sends one message, within the deadline.
    async fn send(&self, message: Message) -> Result<(), String> {
        match tokio::time::timeout(self.deadline, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!(
                "the relay did not take the message within {} s",
                self.deadline.as_secs()
            )),
        }
    }

    /// How long a claim lasts: past any send, so a claim runs out only
    /// when its server stopped.
    fn lease(&self) -> Duration {
        self.deadline * 2 + Duration::from_secs(60)
    }
}

/// Claims due conversations and emails their unread replies.
struct Worker {
    store: Arc<dyn Store>,
    config: Arc<Config>,
    mailer: Mailer,
    wake: Arc<Wake>,
}

/// Who an email goes to.
struct Recipient {
    /// The address.
    email: String,
    /// Their first name, when they gave one.
    first_name: Option<String>,
}

/// What to do with a claimed conversation, from the messages after what
/// is handled or read.
#[derive(Debug, PartialEq, Eq)]
enum Decision<'m> {
    /// No unread agent reply: everything up to `seen` is handled.
    Nothing { seen: i64 },
    /// The first unread reply is not `unread_delay_secs` old yet.
    Later { at: i64, seen: i64 },
    /// Email these replies; everything up to `seen` is handled once sent.
    Send {
        replies: Vec<&'m MessageRecord>,
        seen: i64,
    },
}

/// The unread agent replies among `messages` (by `seq`, after `after`):
/// those after the customer's last message.
fn decide(messages: &[MessageRecord], after: i64, delay_ms: i64, now_ms: i64) -> Decision<'_> {
    let seen = messages.last().map_or(after, |m| m.seq.max(after));
    let from = messages
        .iter()
        .rposition(|m| m.author == Author::Customer)
        .map_or(0, |last| last + 1);
    let replies: Vec<&MessageRecord> = messages[from..]
        .iter()
        .filter(|m| m.author == Author::Agent)
        .collect();
    match replies.first() {
        None => Decision::Nothing { seen },
        Some(first) if first.created_at_ms.saturating_add(delay_ms) > now_ms => Decision::Later {
            at: first.created_at_ms.saturating_add(delay_ms),
            seen,
        },
        Some(_) => Decision::Send { replies, seen },
    }
}

impl Worker {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let lease_ms = i64::try_from(self.mailer.lease().as_millis()).unwrap_or(i64::MAX);
        loop {
            let mut failed = false;
            // Everything due now, one conversation at a time.
            loop {
                if *stop.borrow() {
                    return;
                }
                let now = clock::now_ms();
                match self.store.claim_due_email(now, now + lease_ms).await {
                    Ok(Some(claim)) => {
                        let id = claim.conversation.id.clone();
                        if let Err(error) = self.handle(&claim).await {
                            tracing::warn!(conversation_id = %id, error = %error_chain(&error), "emailing unread replies failed; tried again when the claim runs out");
                        }
                    }
                    Ok(None) => break,
                    Err(error) => {
                        tracing::warn!(error = %error_chain(&error), "looking for emails to send failed");
                        failed = true;
                        break;
                    }
                }
            }
            let wait = match self.store.next_email_due().await {
                Ok(_) if failed => POLL,
                Ok(Some(at)) => Duration::from_millis(
                    u64::try_from(at.saturating_sub(clock::now_ms())).unwrap_or(0),
                ),
                Ok(None) => POLL,
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), "reading when the next email is due failed");
                    POLL
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait.clamp(MIN_WAIT, POLL)) => {}
                () = self.wake.0.notified() => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Decides, sends and records one claimed conversation.
    async fn handle(&self, claim: &EmailClaim) -> StoreResult<()> {
        let conversation = &claim.conversation;
        let now = clock::now_ms();
        let Some(delay) = self.config.email_delay(&conversation.app_id) else {
            // The app sends no email (any more): pass its replies over.
            let seen = conversation.last_seq;
            return self.finish(claim, seen, seen, None, 0).await;
        };
        let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        let after = claim.emailed_seq.max(conversation.customer_read_seq);
        let messages = self
            .store
            .messages_after(&conversation.id, after, MAX_MESSAGES)
            .await?;
        let (replies, seen) = match decide(&messages, after, delay_ms, now) {
            Decision::Nothing { seen } => return self.finish(claim, seen, seen, None, 0).await,
            Decision::Later { at, seen } => {
                return self
                    .finish(claim, claim.emailed_seq, seen, Some(at), claim.attempts)
                    .await;
            }
            Decision::Send { replies, seen } => (replies, seen),
        };
        let Some(recipient) = self.recipient(conversation).await? else {
            // Nobody to write to: these replies are passed over.
            return self.finish(claim, seen, seen, None, 0).await;
        };
        let locales = identity::conversation_locales(self.store.as_ref(), conversation).await?;
        let message = match self.message(conversation, &recipient, &locales, &replies) {
            Ok(message) => message,
            Err(why) => {
                tracing::warn!(conversation_id = %conversation.id, reason = %why, "the unread replies cannot be emailed; passed over");
                return self.finish(claim, seen, seen, None, 0).await;
            }
        };
        match self.mailer.send(message).await {
            Ok(()) => {
                tracing::info!(conversation_id = %conversation.id, replies = replies.len(), "emailed unread replies");
                crate::metrics::email("sent");
                self.finish(claim, seen, seen, None, 0).await
            }
            Err(error) => {
                let error = redact(&error, &recipient.email);
                let attempts = claim.attempts + 1;
                if attempts >= MAX_ATTEMPTS {
                    crate::metrics::email("given_up");
                    tracing::warn!(conversation_id = %conversation.id, attempts, error = %error, "sending the email of unread replies failed; given up");
                    return self.finish(claim, seen, seen, None, 0).await;
                }
                let retry_ms = i64::try_from(self.mailer.smtp.backoff(attempts).as_millis())
                    .unwrap_or(i64::MAX);
                tracing::warn!(conversation_id = %conversation.id, attempts, retry_in_secs = retry_ms / 1000, error = %error, "sending the email of unread replies failed; will retry");
                crate::metrics::email("failed");
                self.finish(
                    claim,
                    claim.emailed_seq,
                    seen,
                    Some(now.saturating_add(retry_ms)),
                    attempts,
                )
                .await
            }
        }
    }

    async fn finish(
        &self,
        claim: &EmailClaim,
        handled_seq: i64,
        seen_seq: i64,
        next_due_at: Option<i64>,
        attempts: i64,
    ) -> StoreResult<()> {
        let done = EmailDone {
            handled_seq,
            seen_seq,
            next_due_at,
            attempts,
        };
        self.store
            .finish_email(
                &claim.conversation.id,
                claim.lease_until,
                &done,
                clock::now_ms(),
            )
            .await
    }

    /// The address the customer gave in the session that opened the
    /// conversation; for a proven conversation, else their profile's.
    async fn recipient(&self, conversation: &ConversationRecord) -> StoreResult<Option<Recipient>> {
        if let Some(session_id) = &conversation.session_id {
            if let Some(session) = self.store.session(session_id).await? {
                if let Some(email) = session.display_email {
                    let first_name = session.display_first_name.or_else(|| {
                        session
                            .display_name
                            .as_deref()
                            .and_then(validate::first_name)
                    });
                    return Ok(Some(Recipient { email, first_name }));
                }
            }
        }
        if conversation.proven {
            if let Some(customer) = self.store.customer(&conversation.customer_id).await? {
                if let Some(email) = customer.email {
                    let first_name = customer.name.as_deref().and_then(validate::first_name);
                    return Ok(Some(Recipient { email, first_name }));
                }
            }
        }
        Ok(None)
    }

    /// The email of `replies` to `recipient`, in the first of `locales`
    /// (theirs, best first) the app or the server has texts in.
    fn message(
        &self,
        conversation: &ConversationRecord,
        recipient: &Recipient,
        locales: &[String],
        replies: &[&MessageRecord],
    ) -> Result<Message, String> {
        let app = self
            .config
            .app(&conversation.app_id)
            .ok_or("the app is not in the config")?;
        let chat_url = app.chat_url.as_deref().ok_or("the app has no chat_url")?;
        let chat_link = reopen_link(chat_url);
        // The same replies make the same id, so a resend after an unsure
        // attempt is one message to mail clients.
        let (first, last) = match (replies.first(), replies.last()) {
            (Some(first), Some(last)) => (first.seq, last.seq),
            _ => return Err("no replies".into()),
        };
        let message_id = format!(
            "<trustchat.{}.{first}-{last}@{}>",
            conversation.id,
            self.mailer.from.email.domain()
        );
        let replies: Vec<Reply<'_>> = replies
            .iter()
            .map(|m| Reply {
                author: m.author_name.as_deref().unwrap_or(&app.name),
                body: &m.body,
                login_link: m.link.as_deref(),
            })
            .collect();
        let letter = compose::compose(
            &Envelope {
                app_name: &app.name,
                first_name: recipient.first_name.as_deref(),
                chat_link: &chat_link,
                texts: app.messages.localize(locales, BuiltIn::Translated),
            },
            &replies,
        );
        let to: Address = recipient
            .email
            .parse()
            .map_err(|_| "the customer's address is not one SMTP takes")?;
        Message::builder()
            .from(self.mailer.from.clone())
            .to(Mailbox::new(None, to))
            .subject(letter.subject)
            .message_id(Some(message_id))
            // RFC 3834: no vacation replies to a notification.
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".into(),
            ))
            // A language tag: ASCII letters, digits and hyphens.
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Content-Language"),
                letter.language,
            ))
            .multipart(MultiPart::alternative_plain_html(letter.text, letter.html))
            .map_err(|e| format!("the email could not be built: {e}"))
    }
}

/// `text` with every occurrence of `secret` (ASCII case-insensitively)
/// replaced by `<recipient>`: relays quote the address in their refusals.
fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_owned();
    }
    // ASCII lowercasing keeps every byte where it was.
    let lower = text.to_ascii_lowercase();
    let needle = secret.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (at, _) in lower.match_indices(&needle) {
        out.push_str(&text[last..at]);
        out.push_str("<recipient>");
        last = at + needle.len();
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use trustchat_protocol::MessageKind;

    use super::*;

    fn message(seq: i64, author: Author, at: i64) -> MessageRecord {
        MessageRecord {
            id: seq.to_string(),
            conversation_id: "c".into(),
            seq,
            author,
            author_name: Some("Bea".into()),
            kind: MessageKind::Text,
            body: format!("message {seq}"),
            link: None,
            trusted: false,
            created_at_ms: at,
            client_id: None,
            session_id: None,
        }
    }

    #[test]
    fn unread_replies_are_those_after_the_customers_last_message() {
        use Author::{Agent, Customer};
        let messages = vec![
            message(3, Agent, 1_000),
            message(4, Customer, 2_000),
            message(5, Agent, 3_000),
            message(6, Agent, 4_000),
        ];
        // Due: the first unread (seq 5) is old enough; 6 comes along.
        let Decision::Send { replies, seen } = decide(&messages, 2, 500, 3_500) else {
            panic!("nothing to send")
        };
        assert_eq!(replies.iter().map(|m| m.seq).collect::<Vec<_>>(), [5, 6]);
        assert_eq!(seen, 6);
        // Not yet: seq 5 is 400 ms old of 500.
        assert_eq!(
            decide(&messages, 2, 500, 3_400),
            Decision::Later { at: 3_500, seen: 6 }
        );
        // The customer wrote last: they saw every reply.
        let answered = vec![message(3, Agent, 1_000), message(4, Customer, 2_000)];
        assert_eq!(
            decide(&answered, 2, 500, 9_000),
            Decision::Nothing { seen: 4 }
        );
        // Nothing after what was handled or read.
        assert_eq!(decide(&[], 7, 500, 9_000), Decision::Nothing { seen: 7 });
    }

    #[test]
    fn the_recipient_is_cut_out_of_errors() {
        assert_eq!(
            redact(
                "permanent error (550): 5.1.1 <Ada@Example.com>: user unknown; ada@example.com",
                "ada@example.com"
            ),
            "permanent error (550): 5.1.1 <<recipient>>: user unknown; <recipient>"
        );
        assert_eq!(redact("timed out", "ada@example.com"), "timed out");
    }
}
