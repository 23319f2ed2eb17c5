//! What the widget's core tells its driver: the [`Effect`]s of a step,
//! the [`Event`]s for the page's listeners and the [`User`] they describe.
//! Both machines of the core, the widget (`state.rs`) and its conversation
//! (`chat.rs`), answer with these; neither knows the other's internals
//! through them.

use trustchat_protocol::{Availability, ClientFrame, Message, RateConversation, SessionResponse};

use super::error::Error;
use super::trust::Deadline;

/// What the driver must do after a step, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Redraw the DOM from `Widget::view`.
    Render,
    /// Tell the page's listeners.
    Emit(Event),
    /// Move keyboard focus.
    Focus(Focus),
    /// Create an anonymous session (onboarding off, panel opened).
    StartAnonymousSession,
    /// (Re)arm the trust timer, replacing any armed one.
    Arm(Deadline),
    /// Cancel the trust timer.
    Disarm,
    /// Call `fetchJwt` and upgrade the session with its token.
    FetchJwt,
    /// Open the WebSocket (replacing any), reporting its events as
    /// `ChatInput`s.
    Connect,
    /// Close the WebSocket, unheard: its close is not reported.
    Disconnect,
    /// Send a frame on the open WebSocket.
    SendFrame(ClientFrame),
    /// `GET /messages?after=...`, answered by `Fetched` or `FetchFailed`
    /// with the same `epoch`.
    Fetch {
        /// The highest contiguous `seq` held.
        after: i64,
        /// Tells the answer of a session that ended from a current one.
        epoch: u32,
    },
    /// `POST /messages` (the fallback while the socket is down), answered
    /// by `Posted`.
    Post {
        /// The idempotency key.
        client_id: String,
        /// The text.
        body: String,
    },
    /// `POST /conversations/{id}/rating`, answered by `Rated`.
    Rate {
        /// The closed conversation.
        conversation_id: String,
        /// The body.
        rating: RateConversation,
    },
    /// Write `Widget::pending` to `sessionStorage`.
    StorePending,
    /// Arm the chat timer for this time (Unix ms), replacing any; `None`
    /// only cancels. It feeds `ChatInput::Wake`.
    Wake(Option<i64>),
    /// The server no longer knows the session with this token: wipe it
    /// locally, as `clearUser` does (it is revoked already).
    SessionGone(String),
    /// `GET /apps/{id}` again, for the availability (no socket is ready),
    /// answered by `Input::AppLoaded`.
    Poll,
}

/// The events of `TrustChat.on`, with their detail.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `ready`: `init` finished; the restored customer, if any.
    Ready(Option<User>),
    /// `user:identified`.
    Identified(User),
    /// `user:trusted`.
    Trusted(User),
    /// `user:cleared`.
    Cleared,
    /// `token:expired`: the identity token is about to expire.
    TokenExpired,
    /// `open`.
    Open,
    /// `close`.
    Close,
    /// `error`: something failed that no promise reports.
    Error(Error),
    /// `message:sent`: the server stored a message this tab sent.
    MessageSent(Message),
    /// `message:received`: a new message this tab did not send (an
    /// agent's, or the customer's from another tab).
    MessageReceived(Message),
    /// `unread:change`: the agent messages the customer has not seen.
    Unread(usize),
    /// `availability:change`: now, and when support opens next.
    Availability(Availability, Option<i64>),
    /// `conversation:started`: this conversation began while the widget
    /// watched.
    ConversationStarted(String),
    /// `conversation:ended`: an agent closed this conversation.
    ConversationEnded(String),
}

impl Event {
    /// The event's name in `TrustChat.on`.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Ready(_) => "ready",
            Event::Identified(_) => "user:identified",
            Event::Trusted(_) => "user:trusted",
            Event::Cleared => "user:cleared",
            Event::TokenExpired => "token:expired",
            Event::Open => "open",
            Event::Close => "close",
            Event::Error(_) => "error",
            Event::MessageSent(_) => "message:sent",
            Event::MessageReceived(_) => "message:received",
            Event::Unread(_) => "unread:change",
            Event::Availability(..) => "availability:change",
            Event::ConversationStarted(_) => "conversation:started",
            Event::ConversationEnded(_) => "conversation:ended",
        }
    }
}

/// Every event name `TrustChat.on` accepts, including those later steps emit.
pub const EVENT_NAMES: [&str; 14] = [
    "ready",
    "user:identified",
    "user:trusted",
    "user:cleared",
    "open",
    "close",
    "error",
    "message:sent",
    "message:received",
    "token:expired",
    "unread:change",
    "availability:change",
    "conversation:started",
    "conversation:ended",
];

/// Where keyboard focus goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// Into the panel (its first field, or the panel itself).
    Panel,
    /// Back to the launcher button.
    Launcher,
    /// The first onboarding field with a fault.
    Field(&'static str),
}

/// The customer as `getUser()` describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Customer profile id.
    pub id: String,
    /// Full name.
    pub name: Option<String>,
    /// The name they are greeted by.
    pub first_name: Option<String>,
    /// Normalized email.
    pub email: Option<String>,
    /// E.164 phone.
    pub phone: Option<String>,
    /// Whether the server verified the identity with a JWT.
    pub trusted: bool,
}

impl User {
    /// The identified customer of a session; `None` for an anonymous one.
    pub fn of(session: &SessionResponse) -> Option<User> {
        let c = &session.customer;
        let known = session.trusted || c.name.is_some() || c.email.is_some() || c.phone.is_some();
        known.then(|| User {
            id: c.id.clone(),
            name: c.name.clone(),
            first_name: c.first_name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            trusted: session.trusted,
        })
    }
}
