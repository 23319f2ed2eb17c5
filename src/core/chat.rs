//! The conversation as the widget keeps it: the messages the server stored,
//! in `seq` order without gaps or repeats, the customer's messages not yet
//! acknowledged (the outbox), and the WebSocket's way through connecting,
//! backing off and resyncing. Pure: the clock and the random numbers come
//! in with each [`ChatInput`], and what to do goes out as [`Effect`]s.
//!
//! The link to the server:
//!
//! ```text
//!  Off ──start──▶ Connecting ──Opened (auth)─▶ … ──ready──▶ Ready
//!                  ▲   │ closed, no answer in time              │ closed, fetch failed,
//!                  │   ▼                                        │ no pong in time
//!                  └─ Waiting (backoff with full jitter) ◀──────┘
//! ```
//!
//! Every `ready` is followed by a resync: `GET /messages?after=N`, `N` the
//! highest contiguous `seq` the widget holds (0 for a conversation it has
//! not seen), and the outbox is sent again with the same `client_id`s, so
//! the server never stores a message twice. A pushed message whose `seq`
//! skips ahead waits beside the log until a fetch fills the gap.
//!
//! The outbox lives in `sessionStorage` ([`PendingRecord`]) until the server
//! acknowledges each message (an `ack` frame, the pushed message itself, a
//! fetched one with its `client_id`, or the answer to the HTTP fallback).
//! While the socket is down, a message that waited [`FALLBACK_MS`] is sent
//! with `POST /api/v1/messages` instead (a proxy that blocks WebSockets
//! must not stop the customer from writing).
//!
//! When the widget sees the current conversation go from open to closed
//! (the `conversation` frame, or a fetched page after a reconnect), it asks
//! "How did we do?" ([`Survey`]): a rating of 1 to 5 with an optional
//! comment, sent once with `POST /conversations/{id}/rating`
//! ([`Effect::Rate`]). The survey never holds up the composer: a message
//! written after the close opens a new conversation, and the survey of the
//! old one goes.
//!
//! ```text
//!  (closed) ──▶ Ask ──Rate──▶ Sending ──Rated Ok──▶ Thanks
//!                ▲                 │ Rated Err: why, and the input stays
//!                └─────────────────┘
//! ```
//!
//! Signals: the agent's typing shows for [`TYPING_SHOWS_MS`] or until their
//! next message; the customer's typing goes out at most once per
//! [`TYPING_EVERY_MS`]. The agent's read marker ("Seen") only moves forward.
//! The customer has seen the current conversation up to `seen`: everything
//! while the panel is open and the page visible ([`ChatInput::Watching`]),
//! else what the server says they read (from any tab). Agent messages past
//! it are unread, and a `read` frame tells the server when `seen` grows.

use trustchat_protocol::{
    Author, ClientFrame, ConversationStatus, Message, MessageKind, MessagesPage, RateConversation,
    ServerFrame,
};

use super::effect::{Effect, Event};
use super::error::Error;

/// The first reconnect waits up to this long, in milliseconds.
pub const BACKOFF_BASE_MS: u32 = 500;
/// No reconnect waits longer than this, in milliseconds.
pub const BACKOFF_CAP_MS: u32 = 30_000;
/// A keep-alive `ping` goes out this often while the socket is ready.
pub const PING_MS: i64 = 25_000;
/// How long the server has to answer a `ping` (or the socket to become
/// ready) before the connection is taken for dead.
pub const ANSWER_MS: i64 = 10_000;
/// How long a message waits for a socket before it is posted over HTTP.
pub const FALLBACK_MS: i64 = 10_000;
/// How long the agent's typing shows without another notice, in ms.
pub const TYPING_SHOWS_MS: i64 = 5_000;
/// The customer's typing goes out at most this often, in ms.
pub const TYPING_EVERY_MS: i64 = 2_000;
/// When a `rate_limited` error names no wait, in seconds.
const DEFAULT_RETRY_S: u64 = 5;
/// The close code of a revoked or unknown session (`protocol::chat::close`).
const CLOSE_UNAUTHORIZED: u16 = 4001;
/// The close code of a server that is restarting: reconnect at once (a
/// load balancer sends the new connection to another server).
const CLOSE_SERVICE_RESTART: u16 = 1012;
/// After a restart's close the reconnect waits up to this long, in
/// milliseconds: spread, so that a server's thousands of widgets do not
/// all arrive at another in the same instant.
pub const RESTART_SPREAD_MS: u32 = 250;

/// The delay before reconnect number `attempt` (0 for the first after a
/// connection that worked): uniform in `[0, min(cap, base * 2^attempt)]`
/// ("full jitter"), `random` in `[0, 1)`.
pub fn backoff(attempt: u32, random: f64) -> u32 {
    let ceiling = BACKOFF_BASE_MS
        .checked_shl(attempt.min(16))
        .unwrap_or(BACKOFF_CAP_MS)
        .min(BACKOFF_CAP_MS);
    (f64::from(ceiling) * random.clamp(0.0, 1.0)) as u32
}

/// Whether `body` can be sent: not blank, and at most
/// [`MAX_BODY_CHARS`](trustchat_protocol::MAX_BODY_CHARS) characters, as
/// `trustchat_protocol::validate::message_body` rules (checked here without
/// its messages: the composer says why in the customer's language).
pub fn sendable(body: &str) -> bool {
    !body.trim().is_empty() && !too_long(body)
}

/// Whether `body` is longer than the server takes.
pub fn too_long(body: &str) -> bool {
    body.chars().count() > trustchat_protocol::MAX_BODY_CHARS
}

/// One unacknowledged message, as `sessionStorage` keeps it under
/// `trustchat:{appId}:pending`: a JSON list of `{client_id, body,
/// created_at}`, written and read by the `Json` port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRecord {
    /// The idempotency key the message is (re)sent with.
    pub client_id: String,
    /// The text as typed.
    pub body: String,
    /// When the customer pressed send, Unix milliseconds.
    pub created_at: i64,
}

/// What the chat learns.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatInput {
    /// The customer pressed send; the body passed
    /// `trustchat_protocol::validate::message_body`.
    Send {
        /// A fresh UUID.
        client_id: String,
        /// The text.
        body: String,
    },
    /// The customer asked to send a failed message again.
    Retry(String),
    /// The customer deleted a failed message.
    Discard(String),
    /// The socket opened.
    Opened,
    /// The server sent a frame.
    Frame(ServerFrame),
    /// The socket closed, with this close code.
    Closed(u16),
    /// `GET /messages` answered.
    Fetched {
        /// The [`Effect::Fetch`] it answers.
        epoch: u32,
        /// The page.
        page: MessagesPage,
    },
    /// `GET /messages` failed; `gone` when the session was refused (401).
    FetchFailed {
        /// The [`Effect::Fetch`] it answers.
        epoch: u32,
        /// Whether the server no longer knows the session.
        gone: bool,
    },
    /// `POST /messages` (the fallback) answered.
    Posted {
        /// The message it sent.
        client_id: String,
        /// What came of it.
        outcome: Posted,
    },
    /// The chat timer fired.
    Wake,
    /// The browser went online or the page became visible: reconnect now
    /// rather than at the end of the backoff, or check that the socket lives.
    Nudge,
    /// The customer sent the survey: `rating` 1 to 5 (anything else is
    /// ignored: the form lets none through), and the comment as typed.
    Rate {
        /// The rating chosen.
        rating: u8,
        /// The comment; blank is none.
        comment: String,
    },
    /// The customer typed in the composer.
    Typed,
    /// The customer is on this page now (`navigate`, checked).
    Navigate(String),
    /// `POST /conversations/{id}/rating` answered.
    Rated {
        /// The conversation it rated.
        conversation_id: String,
        /// Stored, or why not.
        result: Result<(), Error>,
    },
}

/// The satisfaction survey of a conversation an agent closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Survey {
    /// "How did we do?"
    Ask,
    /// The rating is being sent.
    Sending,
    /// The rating was stored: "Thanks for your feedback!"
    Thanks,
}

/// What came of a `POST /messages`.
#[derive(Debug, Clone, PartialEq)]
pub enum Posted {
    /// Stored (201), or stored before (200).
    Stored(Message),
    /// Refused for good (422), with the server's error code.
    Refused(String),
    /// Too many messages: try again after this many seconds.
    RateLimited(u64),
    /// The session was revoked (401).
    Gone,
    /// No answer, or a server failure: try again later.
    Failed,
}

/// What a line of the message log shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineState {
    /// Not acknowledged yet.
    Pending,
    /// Stored by the server.
    Sent,
    /// Refused by the server, with its error code.
    Failed(String),
}

/// One line of the message log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Stable across the pending-to-sent change: the `client_id` of the
    /// customer's own messages, else the message id.
    pub key: String,
    /// The server's `seq`, once stored.
    pub seq: Option<i64>,
    /// Who wrote it.
    pub author: Author,
    /// `You`, or the agent's name.
    pub who: String,
    /// The text.
    pub body: String,
    /// When it was written (server time once stored), Unix milliseconds.
    pub at: i64,
    /// Its state.
    pub state: LineState,
    /// The customer's own messages' `client_id`.
    pub client_id: Option<String>,
    /// The login link of a `login_request`, only when it is the app's own
    /// `login_url`.
    pub login_link: Option<String>,
    /// "Seen": the customer's last message the agent has read.
    pub seen: bool,
}

/// Where the socket stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// No session: no socket wanted.
    Off,
    /// Opened (or opening) and authenticating; gives up at the deadline.
    Connecting,
    /// Backing off: reconnect at this time.
    Waiting(i64),
    /// `ready` came: frames flow.
    Ready,
}

/// How far an outgoing message got.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    /// Waiting for a ready socket since this time (for the fallback).
    Queued(i64),
    /// Sent on the current socket; waiting for the `ack`.
    Sent,
    /// `POST /messages` in flight.
    Posting,
    /// Rate limited: queued again at this time.
    Held(i64),
    /// Refused; the reason.
    Failed(String),
    /// Stored; shown as pending until the log reaches its `seq`.
    Stored,
}

/// A message of the customer's not yet in the log.
#[derive(Debug, Clone)]
struct Outgoing {
    /// Its idempotency key.
    client_id: String,
    /// The text.
    body: String,
    /// When the customer pressed send.
    created_at: i64,
    /// How far it got.
    stage: Stage,
}

/// Where a message came from, which decides `message:received`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Pushed on the socket, or the answer to a send: new by definition.
    Live,
    /// Fetched: new only after the first sync (before, it is history).
    Fetched,
}

/// The conversation and the link to the server.
#[derive(Debug)]
pub struct Chat {
    /// The session token the socket authenticates with; `None` when off.
    token: Option<String>,
    /// The customer of that session.
    customer: Option<String>,
    /// The socket's state.
    link: Link,
    /// Failed connections since the last `ready`.
    attempt: u32,
    /// When the next keep-alive `ping` is due (while ready).
    ping_at: i64,
    /// The server must answer (or the socket become ready) by then.
    deadline: Option<i64>,
    /// The current conversation.
    conversation: Option<String>,
    /// Whether an agent closed it.
    closed: bool,
    /// The survey of the current conversation, once it was seen closing.
    survey: Option<Survey>,
    /// Why the last rating was not sent: a catalog key (`error_network`).
    survey_error: Option<String>,
    /// The current conversation's messages, `seq` 1 to `log.len()`.
    log: Vec<Message>,
    /// Messages past a gap, by `seq`, waiting for the gap to fill.
    ahead: Vec<Message>,
    /// Earlier conversations of this page, still shown above.
    earlier: Vec<Message>,
    /// Their ids.
    earlier_ids: Vec<String>,
    /// The customer's unacknowledged messages, in the order sent.
    outbox: Vec<Outgoing>,
    /// Whether a `GET /messages` is in flight.
    fetching: bool,
    /// Whether a push skipped ahead while it was.
    refetch: bool,
    /// Whether the first fetch after the session started is done.
    synced: bool,
    /// Bumped when the session ends, so late answers are ignored.
    epoch: u32,
    /// The time the chat timer is armed for.
    armed: Option<i64>,
    /// The agent typing: their name, and until when it shows.
    typing: Option<(Option<String>, i64)>,
    /// When the customer's last typing notice went out.
    typed_at: i64,
    /// How far the agent has read the current conversation.
    agent_read: i64,
    /// How far the customer has seen it.
    seen: i64,
    /// How far the server was told (`read` frames) or knows.
    reported: i64,
    /// Whether the customer can see the chat now.
    watching: bool,
    /// The page the customer is on (`navigate`), and whether this
    /// session's server was told.
    page: Option<(String, bool)>,
}

impl Default for Chat {
    fn default() -> Chat {
        Chat {
            token: None,
            customer: None,
            link: Link::Off,
            attempt: 0,
            ping_at: 0,
            deadline: None,
            conversation: None,
            closed: false,
            survey: None,
            survey_error: None,
            log: vec![],
            ahead: vec![],
            earlier: vec![],
            earlier_ids: vec![],
            outbox: vec![],
            fetching: false,
            refetch: false,
            synced: false,
            epoch: 0,
            armed: None,
            typing: None,
            typed_at: i64::MIN / 2,
            agent_read: 0,
            seen: 0,
            reported: 0,
            watching: false,
            page: None,
        }
    }
}

impl Chat {
    /// The session `token` of `customer` is the current one: connects when
    /// it is new. A different customer starts from an empty chat.
    pub fn start(&mut self, token: &str, customer: &str, out: &mut Vec<Effect>) {
        if self.token.as_deref() == Some(token) {
            return;
        }
        if self.customer.as_deref().is_some_and(|c| c != customer) {
            self.stop(out);
        }
        self.customer = Some(customer.to_owned());
        if self.link != Link::Off {
            out.push(Effect::Disconnect);
        }
        self.token = Some(token.to_owned());
        self.attempt = 0;
        self.connect(out);
    }

    /// The session ended (`clearUser`, or revoked): everything goes.
    pub fn stop(&mut self, out: &mut Vec<Effect>) {
        if self.link != Link::Off {
            out.push(Effect::Disconnect);
        }
        if !self.outbox.is_empty() {
            out.push(Effect::StorePending);
        }
        self.reset();
    }

    /// Messages a previous page of this tab left unacknowledged.
    pub fn restore(&mut self, records: Vec<PendingRecord>) {
        for record in records {
            if !self.outbox.iter().any(|o| o.client_id == record.client_id) {
                self.outbox.push(Outgoing {
                    client_id: record.client_id,
                    body: record.body,
                    created_at: record.created_at,
                    stage: Stage::Queued(record.created_at),
                });
            }
        }
    }

    /// What `sessionStorage` must hold: every message not yet stored.
    pub fn records(&self) -> Vec<PendingRecord> {
        self.outbox
            .iter()
            .filter(|o| o.stage != Stage::Stored)
            .map(|o| PendingRecord {
                client_id: o.client_id.clone(),
                body: o.body.clone(),
                created_at: o.created_at,
            })
            .collect()
    }

    /// The session token the socket and requests use.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Whether an agent closed the current conversation.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// The survey to show, if any.
    pub fn survey(&self) -> Option<Survey> {
        self.survey
    }

    /// Why the last rating was not sent.
    pub fn survey_error(&self) -> Option<&str> {
        self.survey_error.as_deref()
    }

    /// The lines to show: earlier conversations, the current one up to its
    /// first gap, then the outbox. `login_url` is the app's.
    pub fn lines(&self, login_url: Option<&str>) -> Vec<Line> {
        let shown = |client_id: &str| {
            self.earlier
                .iter()
                .chain(&self.log)
                .any(|m| m.client_id.as_deref() == Some(client_id))
        };
        let mut lines: Vec<Line> = self
            .earlier
            .iter()
            .chain(&self.log)
            .map(|m| line(m, login_url))
            .collect();
        let seen = self
            .log
            .iter()
            .rev()
            .find(|m| m.author == Author::Customer && m.seq <= self.agent_read)
            .map(|m| m.seq);
        if let Some(line) = lines
            .iter_mut()
            .rev()
            .find(|l| l.seq == seen && l.author == Author::Customer && l.seq.is_some())
        {
            line.seen = true;
        }
        lines.extend(
            self.outbox
                .iter()
                .filter(|o| !shown(&o.client_id))
                .map(|o| Line {
                    key: o.client_id.clone(),
                    seq: None,
                    author: Author::Customer,
                    who: String::new(),
                    body: o.body.clone(),
                    at: o.created_at,
                    state: match &o.stage {
                        Stage::Failed(reason) => LineState::Failed(reason.clone()),
                        _ => LineState::Pending,
                    },
                    client_id: Some(o.client_id.clone()),
                    login_link: None,
                    seen: false,
                }),
        );
        lines
    }

    /// The agent typing now: `Some(name)` (the name when known).
    pub fn typing(&self) -> Option<Option<&str>> {
        self.typing.as_ref().map(|(name, _)| name.as_deref())
    }

    /// The agent messages of the current conversation the customer has not
    /// seen.
    pub fn unread(&self) -> usize {
        self.log
            .iter()
            .filter(|m| m.author == Author::Agent && m.seq > self.seen)
            .count()
    }

    /// Whether the socket is ready (frames flow).
    pub fn live(&self) -> bool {
        self.link == Link::Ready
    }

    /// Applies one input at `now`; `random` in `[0, 1)` jitters a backoff.
    pub fn step(&mut self, now: i64, random: f64, input: ChatInput, out: &mut Vec<Effect>) {
        self.apply(now, random, input, out);
        self.flush(now, out);
        self.mark_seen(out);
    }

    /// Whether the customer can see the chat now (the panel open, the page
    /// visible).
    pub fn watch(&mut self, watching: bool, out: &mut Vec<Effect>) {
        self.watching = watching;
        self.mark_seen(out);
    }

    /// While the customer watches, everything shown is seen; the server
    /// hears of it over a ready socket.
    fn mark_seen(&mut self, out: &mut Vec<Effect>) {
        if self.watching && self.contiguous() > self.seen {
            self.seen = self.contiguous();
            out.push(Effect::Render);
        }
        if self.link != Link::Ready {
            return;
        }
        if self.seen > self.reported {
            self.reported = self.seen;
            out.push(Effect::SendFrame(ClientFrame::Read { seq: self.seen }));
        }
        if let Some((url, told @ false)) = &mut self.page {
            *told = true;
            out.push(Effect::SendFrame(ClientFrame::Page { url: url.clone() }));
        }
    }

    fn apply(&mut self, now: i64, random: f64, input: ChatInput, out: &mut Vec<Effect>) {
        match input {
            ChatInput::Send { client_id, body } => {
                self.outbox.push(Outgoing {
                    client_id,
                    body,
                    created_at: now,
                    stage: Stage::Queued(now),
                });
                out.push(Effect::StorePending);
                out.push(Effect::Render);
            }
            ChatInput::Retry(client_id) => {
                if let Some(o) = self.find(&client_id) {
                    if matches!(o.stage, Stage::Failed(_)) {
                        o.stage = Stage::Queued(now);
                        out.push(Effect::Render);
                    }
                }
            }
            ChatInput::Discard(client_id) => {
                let before = self.outbox.len();
                self.outbox
                    .retain(|o| !(o.client_id == client_id && matches!(o.stage, Stage::Failed(_))));
                if self.outbox.len() != before {
                    out.push(Effect::StorePending);
                    out.push(Effect::Render);
                }
            }
            ChatInput::Opened => {
                if let (Link::Connecting, Some(token)) = (self.link, &self.token) {
                    self.deadline = Some(now + ANSWER_MS);
                    out.push(Effect::SendFrame(ClientFrame::Auth {
                        session_token: token.clone(),
                    }));
                }
            }
            ChatInput::Frame(frame) => self.frame(now, frame, out),
            ChatInput::Closed(code) => {
                if matches!(self.link, Link::Off | Link::Waiting(_)) {
                    return;
                }
                if code == CLOSE_UNAUTHORIZED {
                    self.gone(out);
                } else if code == CLOSE_SERVICE_RESTART {
                    let spread = f64::from(RESTART_SPREAD_MS) * random.clamp(0.0, 1.0);
                    self.wait(now, spread as i64, out);
                } else {
                    self.back_off(now, random, out);
                }
            }
            ChatInput::Fetched { epoch, page } if epoch == self.epoch => {
                self.fetching = false;
                self.merge_page(page, out);
                if !self.fetching {
                    self.synced = true;
                }
                out.push(Effect::Render);
            }
            ChatInput::FetchFailed { epoch, gone } if epoch == self.epoch => {
                self.fetching = false;
                if gone {
                    self.gone(out);
                } else if matches!(self.link, Link::Ready | Link::Connecting) {
                    // Resync through a fresh connection: its `ready` fetches.
                    out.push(Effect::Disconnect);
                    self.back_off(now, random, out);
                }
            }
            ChatInput::Fetched { .. } | ChatInput::FetchFailed { .. } => {}
            ChatInput::Posted { client_id, outcome } => {
                let posting = self
                    .outbox
                    .iter()
                    .any(|o| o.client_id == client_id && o.stage == Stage::Posting);
                let stage = match outcome {
                    Posted::Stored(message) => {
                        self.accept(message, Source::Live, out);
                        None
                    }
                    Posted::Gone if posting => return self.gone(out),
                    Posted::Gone => None,
                    Posted::Refused(reason) => Some(Stage::Failed(reason)),
                    Posted::RateLimited(s) => Some(Stage::Held(now + ms(s))),
                    Posted::Failed => Some(Stage::Queued(now)),
                };
                let posting = self.find(&client_id).filter(|o| o.stage == Stage::Posting);
                if let (Some(o), Some(stage)) = (posting, stage) {
                    o.stage = stage;
                    out.push(Effect::Render);
                }
            }
            ChatInput::Rate { rating, comment } => {
                let (Some(Survey::Ask), Some(id), 1..=5) =
                    (self.survey, &self.conversation, rating)
                else {
                    return;
                };
                let comment = comment.trim();
                out.push(Effect::Rate {
                    conversation_id: id.clone(),
                    rating: RateConversation {
                        rating,
                        comment: (!comment.is_empty()).then(|| comment.to_owned()),
                    },
                });
                self.survey = Some(Survey::Sending);
                self.survey_error = None;
                out.push(Effect::Render);
            }
            ChatInput::Rated {
                conversation_id,
                result,
            } => {
                if self.survey != Some(Survey::Sending)
                    || self.conversation.as_ref() != Some(&conversation_id)
                {
                    return;
                }
                // Shown in place, as a message that was not sent is.
                self.survey = Some(match result {
                    Ok(()) => Survey::Thanks,
                    Err(error) => {
                        // The UI says "Your rating was not sent: …" and why,
                        // in the customer's language: a catalog key.
                        self.survey_error = Some(["error_", error.code.as_str()].concat());
                        Survey::Ask
                    }
                });
                out.push(Effect::Render);
            }
            ChatInput::Typed => {
                if self.link == Link::Ready && now - self.typed_at >= TYPING_EVERY_MS {
                    self.typed_at = now;
                    out.push(Effect::SendFrame(ClientFrame::Typing));
                }
            }
            ChatInput::Navigate(url) => {
                if self.page.as_ref().map(|(u, _)| u) != Some(&url) {
                    self.page = Some((url, false));
                }
            }
            ChatInput::Wake => self.wake(now, random, out),
            ChatInput::Nudge => match self.link {
                Link::Waiting(_) => self.connect(out),
                Link::Ready if self.deadline.is_none() => {
                    out.push(Effect::SendFrame(ClientFrame::Ping));
                    self.deadline = Some(now + ANSWER_MS);
                }
                _ => {}
            },
        }
    }

    /// Arms the chat timer for the earliest thing due, when that changed.
    pub fn rearm(&mut self, poll: Option<i64>, out: &mut Vec<Effect>) {
        let mut due: Vec<i64> = poll.into_iter().collect();
        match self.link {
            Link::Off => {}
            Link::Waiting(at) => due.push(at),
            Link::Connecting => due.extend(self.deadline),
            Link::Ready => {
                due.push(self.ping_at);
                due.extend(self.deadline);
            }
        }
        due.extend(self.typing.as_ref().map(|(_, until)| *until));
        // The first message that waits is the one that matters (`flush`).
        let fallback = self.link != Link::Ready && self.token.is_some();
        for o in &self.outbox {
            match o.stage {
                Stage::Failed(_) | Stage::Stored | Stage::Sent => continue,
                Stage::Held(at) => due.push(at),
                Stage::Queued(since) if fallback => due.push(since + FALLBACK_MS),
                Stage::Queued(_) | Stage::Posting => {}
            }
            break;
        }
        let next = due.into_iter().min();
        if next != self.armed {
            self.armed = next;
            out.push(Effect::Wake(next));
        }
    }

    fn reset(&mut self) {
        *self = Chat {
            epoch: self.epoch.wrapping_add(1),
            armed: self.armed,
            watching: self.watching,
            page: self.page.take().map(|(url, _)| (url, false)),
            ..Chat::default()
        };
    }

    fn find(&mut self, client_id: &str) -> Option<&mut Outgoing> {
        self.outbox.iter_mut().find(|o| o.client_id == client_id)
    }

    /// Opens a socket; the deadline for `ready` runs from its opening (a
    /// socket that never opens is closed by the browser, and reported).
    fn connect(&mut self, out: &mut Vec<Effect>) {
        self.link = Link::Connecting;
        self.deadline = None;
        out.push(Effect::Connect);
    }

    /// The socket is gone or given up on: wait, then connect again.
    fn back_off(&mut self, now: i64, random: f64, out: &mut Vec<Effect>) {
        let delay = i64::from(backoff(self.attempt, random));
        self.attempt = self.attempt.saturating_add(1);
        self.wait(now, delay, out);
    }

    /// The link is down: reconnect after `delay_ms`, and send again then
    /// what was sent but not acknowledged.
    fn wait(&mut self, now: i64, delay_ms: i64, out: &mut Vec<Effect>) {
        let ready = self.link == Link::Ready;
        for o in &mut self.outbox {
            if o.stage == Stage::Sent {
                o.stage = Stage::Queued(now);
            }
        }
        self.link = Link::Waiting(now + delay_ms);
        self.deadline = None;
        if ready {
            out.push(Effect::Render);
        }
    }

    /// The server no longer knows the session.
    fn gone(&mut self, out: &mut Vec<Effect>) {
        if let Some(token) = self.token.clone() {
            self.stop(out);
            out.push(Effect::SessionGone(token));
        }
    }

    fn frame(&mut self, now: i64, frame: ServerFrame, out: &mut Vec<Effect>) {
        if matches!(self.link, Link::Off | Link::Waiting(_)) {
            return;
        }
        if self.link == Link::Ready {
            self.deadline = None;
        }
        match frame {
            ServerFrame::Ready {
                conversation_id,
                last_seq,
            } => {
                self.link = Link::Ready;
                self.attempt = 0;
                self.deadline = None;
                self.ping_at = now + PING_MS;
                let changed = conversation_id.is_some() && conversation_id != self.conversation;
                if let Some(id) = conversation_id.filter(|_| changed) {
                    let news = self.synced;
                    self.switch(id, news, out);
                }
                if !self.synced || changed || last_seq > self.contiguous() {
                    self.fetch(out);
                }
            }
            ServerFrame::Message { message } => self.accept(message, Source::Live, out),
            ServerFrame::Ack { message, .. } => self.accept(message, Source::Live, out),
            ServerFrame::Conversation {
                conversation_id,
                status,
            } => {
                if self.conversation.as_deref() == Some(&conversation_id) {
                    self.set_status(status, true, out);
                    out.push(Effect::Render);
                }
            }
            ServerFrame::Error {
                code,
                message: _,
                client_id,
                retry_after,
            } => {
                let Some(o) = client_id.and_then(|id| self.find(&id)) else {
                    if code == "unauthorized" {
                        self.gone(out);
                    }
                    return;
                };
                if matches!(o.stage, Stage::Stored) {
                    return;
                }
                o.stage = if code == "rate_limited" {
                    Stage::Held(now + ms(retry_after.unwrap_or(DEFAULT_RETRY_S)))
                } else {
                    // The UI says why in the customer's language, by code.
                    Stage::Failed(code)
                };
                out.push(Effect::Render);
            }
            ServerFrame::Typing { author, name } => {
                if author == Author::Agent {
                    self.typing = Some((name, now + TYPING_SHOWS_MS));
                    out.push(Effect::Render);
                }
            }
            ServerFrame::Read { seq } => self.agent_read_to(seq, out),
            // The widget's own (`Widget::step`).
            ServerFrame::Pong | ServerFrame::Availability { .. } => {}
        }
    }

    fn wake(&mut self, now: i64, random: f64, out: &mut Vec<Effect>) {
        if self.typing.as_ref().is_some_and(|(_, until)| *until <= now) {
            self.typing = None;
            out.push(Effect::Render);
        }
        match self.link {
            Link::Waiting(at) if at <= now => self.connect(out),
            Link::Connecting | Link::Ready if self.deadline.is_some_and(|d| d <= now) => {
                // No answer in time: the connection is dead, whatever the
                // browser believes (a laptop that slept, a silent proxy).
                out.push(Effect::Disconnect);
                self.back_off(now, random, out);
            }
            Link::Ready if self.ping_at <= now => {
                out.push(Effect::SendFrame(ClientFrame::Ping));
                self.ping_at = now + PING_MS;
                self.deadline.get_or_insert(now + ANSWER_MS);
            }
            _ => {}
        }
    }

    /// Sends what may go now, in the order the customer wrote it: over the
    /// ready socket, every queued message up to the first one that must
    /// wait (rate limited, or being posted); without a socket, the first
    /// queued message once it waited [`FALLBACK_MS`], over HTTP, one at a
    /// time. So the server stores them in order. Failed and stored
    /// messages hold nobody up.
    fn flush(&mut self, now: i64, out: &mut Vec<Effect>) {
        let ready = self.link == Link::Ready;
        let fallback = !ready && self.token.is_some();
        for o in &mut self.outbox {
            match o.stage {
                Stage::Failed(_) | Stage::Stored | Stage::Sent => {}
                Stage::Posting => return,
                Stage::Held(at) if at > now => return,
                Stage::Held(_) | Stage::Queued(_) if ready => {
                    out.push(send_frame(&o.client_id, &o.body));
                    o.stage = Stage::Sent;
                }
                // Due, but no socket: the fallback's wait starts now.
                Stage::Held(_) => {
                    o.stage = Stage::Queued(now);
                    return;
                }
                Stage::Queued(since) if fallback && since + FALLBACK_MS <= now => {
                    out.push(Effect::Post {
                        client_id: o.client_id.clone(),
                        body: o.body.clone(),
                    });
                    o.stage = Stage::Posting;
                    return;
                }
                Stage::Queued(_) => return,
            }
        }
    }

    /// The highest `seq` up to which the log has every message.
    fn contiguous(&self) -> i64 {
        self.log.len() as i64
    }

    fn fetch(&mut self, out: &mut Vec<Effect>) {
        if self.fetching {
            self.refetch = true;
            return;
        }
        self.fetching = true;
        self.refetch = false;
        out.push(Effect::Fetch {
            after: self.contiguous(),
            epoch: self.epoch,
        });
    }

    /// The agent has read up to `seq` (only forward).
    fn agent_read_to(&mut self, seq: i64, out: &mut Vec<Effect>) {
        if seq > self.agent_read {
            self.agent_read = seq;
            out.push(Effect::Render);
        }
    }

    /// A conversation the widget has not seen is the current one now;
    /// `news` when it started while the widget watched (not history).
    fn switch(&mut self, id: String, news: bool, out: &mut Vec<Effect>) {
        if news {
            out.push(Effect::Emit(Event::ConversationStarted(id.clone())));
        }
        if let Some(old) = self.conversation.replace(id) {
            self.earlier.append(&mut self.log);
            self.earlier_ids.push(old);
        }
        self.log.clear();
        self.ahead.clear();
        self.closed = false;
        self.survey = None;
        self.survey_error = None;
        self.typing = None;
        self.agent_read = 0;
        self.seen = 0;
        self.reported = 0;
    }

    /// The current conversation's status; a close the widget sees happen
    /// (`seen`: it knew the conversation open) asks for a rating and tells
    /// the page.
    fn set_status(&mut self, status: ConversationStatus, seen: bool, out: &mut Vec<Effect>) {
        let closed = status == ConversationStatus::Closed;
        if closed && !self.closed && seen {
            self.survey = Some(Survey::Ask);
            if let Some(id) = &self.conversation {
                out.push(Effect::Emit(Event::ConversationEnded(id.clone())));
            }
        }
        self.closed = closed;
    }

    fn merge_page(&mut self, page: MessagesPage, out: &mut Vec<Effect>) {
        let Some(id) = page.conversation_id else {
            return;
        };
        if self.earlier_ids.contains(&id) {
            return;
        }
        // Seen open before: this page is news of it, not its history.
        let seen = self.synced && self.conversation.as_ref() == Some(&id);
        if self.conversation.as_ref() != Some(&id) {
            // Before the first page merged, a conversation this tab's own
            // message opened (its seq 1) is news all the same: the page
            // was asked for before the message was sent, and answered
            // after it was stored.
            let opened_here = page.messages.first().is_some_and(|m| {
                m.seq == 1
                    && m.client_id
                        .as_deref()
                        .is_some_and(|c| self.outbox.iter().any(|o| o.client_id == c))
            });
            let news = self.synced || opened_here;
            self.switch(id, news, out);
        }
        if let Some(status) = page.status {
            self.set_status(status, seen, out);
        }
        self.agent_read_to(page.agent_read_seq, out);
        if page.customer_read_seq > self.seen {
            self.seen = page.customer_read_seq;
        }
        self.reported = self.reported.max(page.customer_read_seq);
        // Held back while the page merges: its messages are contiguous.
        self.fetching = true;
        for message in page.messages {
            self.accept(message, Source::Fetched, out);
        }
        self.fetching = false;
        if page.has_more || (self.refetch && !self.ahead.is_empty()) {
            self.fetch(out);
        }
    }

    /// Takes in one stored message: resolves the outbox entry it answers,
    /// drops repeats, and keeps it in the log or, past a gap, beside it.
    fn accept(&mut self, message: Message, source: Source, out: &mut Vec<Effect>) {
        if message.seq < 1 {
            return;
        }
        // Stored is stored, whichever conversation it went to.
        let own = message.client_id.as_deref().and_then(|id| {
            self.outbox
                .iter_mut()
                .find(|o| o.client_id == id && o.stage != Stage::Stored)
        });
        let own = match own {
            Some(o) => {
                o.stage = Stage::Stored;
                out.push(Effect::StorePending);
                true
            }
            None => false,
        };
        // `message:sent` after `conversation:started`, when it started one.
        let sent = own.then(|| Effect::Emit(Event::MessageSent(message.clone())));
        if self.conversation.as_ref() != Some(&message.conversation_id) {
            let known = self.earlier_ids.contains(&message.conversation_id);
            // A conversation starts with its seq 1 (the customer's first
            // message), or with the customer's own message; anything else
            // of a conversation that is not the current one is old news, or
            // a sign that the widget missed a switch: the server's page
            // says which conversation is current.
            let new = !known && (message.seq == 1 || own || self.conversation.is_none());
            if !new {
                out.extend(sent);
                let id = message.client_id.as_ref();
                self.outbox
                    .retain(|o| !(o.stage == Stage::Stored && id == Some(&o.client_id)));
                if !known {
                    self.fetch(out);
                }
                out.push(Effect::Render);
                return;
            }
            // This tab's own message that opened it (seq 1) is news
            // whichever way its answer came.
            let news = source == Source::Live || self.synced || (own && message.seq == 1);
            self.switch(message.conversation_id.clone(), news, out);
        }
        out.extend(sent);
        let seq = message.seq;
        if message.author == Author::Agent && source == Source::Live {
            self.typing = None;
        }
        if seq <= self.contiguous() || self.ahead.iter().any(|m| m.seq == seq) {
            self.prune();
            return;
        }
        if !own && (source == Source::Live || self.synced) {
            out.push(Effect::Emit(Event::MessageReceived(message.clone())));
        }
        if seq == self.contiguous() + 1 {
            self.log.push(message);
            while self
                .ahead
                .first()
                .is_some_and(|m| m.seq == self.contiguous() + 1)
            {
                let next = self.ahead.remove(0);
                self.log.push(next);
            }
        } else {
            let at = self.ahead.partition_point(|m| m.seq < seq);
            self.ahead.insert(at, message);
            self.fetch(out);
        }
        self.prune();
        out.push(Effect::Render);
    }

    /// Drops the stored outbox entries the log shows now.
    fn prune(&mut self) {
        let log = &self.log;
        self.outbox.retain(|o| {
            o.stage != Stage::Stored
                || !log
                    .iter()
                    .any(|m| m.client_id.as_ref() == Some(&o.client_id))
        });
    }
}

fn send_frame(client_id: &str, body: &str) -> Effect {
    Effect::SendFrame(ClientFrame::Send {
        client_id: client_id.to_owned(),
        body: body.to_owned(),
    })
}

fn ms(seconds: u64) -> i64 {
    i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX)
}

fn line(m: &Message, login_url: Option<&str>) -> Line {
    Line {
        key: m.client_id.clone().unwrap_or_else(|| m.id.clone()),
        seq: Some(m.seq),
        author: m.author,
        // The UI says "You", and "Support" for an agent without a name.
        who: match m.author {
            Author::Customer => String::new(),
            Author::Agent => m.author_name.clone().unwrap_or_default(),
        },
        body: m.body.clone(),
        at: m.created_at,
        state: LineState::Sent,
        client_id: m.client_id.clone().filter(|_| m.author == Author::Customer),
        login_link: m
            .link
            .clone()
            .filter(|link| m.kind == MessageKind::LoginRequest && Some(link.as_str()) == login_url),
        seen: false,
    }
}

#[cfg(test)]
mod tests;
