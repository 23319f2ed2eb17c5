//! Every type that crosses the TrustChat wire, and the rules for valid input.
//!
//! Both the widget (compiled to wasm) and the server depend on this crate, so
//! a request the widget builds is exactly the request the server parses, and
//! an email the widget accepts in its onboarding form is an email the server
//! accepts. The crate is serde-only on purpose: no IO, no runtime, nothing
//! that would weigh on the widget's size.
//!
//! - [`api`]: HTTP request and response bodies under `/api/v1`.
//! - [`agent`]: the agent console's API and WebSocket frames.
//! - [`chat`]: conversations and messages over HTTP and the WebSocket.
//! - [`error`]: the stable error codes and the JSON error envelope.
//! - [`privacy`]: customer data exports and erasures.
//! - [`validate`]: names, first names, emails and E.164 phone numbers.
//! - [`webhook`]: the events the server POSTs to a site's backend.
//!
//! Types here are a compatibility promise: renaming a field or a code is a
//! breaking change for every embedded widget in the wild.

pub mod agent;
pub mod api;
pub mod chat;
pub mod error;
pub mod privacy;
pub mod report;
pub mod validate;
pub mod webhook;

pub use agent::{
    Agent, AgentClientFrame, AgentList, AgentLogin, AgentReply, AgentServerFrame, AgentSessionInfo,
    AgentStatus, AssignConversation, ConversationDetail, ConversationList, ConversationSummary,
    CustomerProfile, CustomerSummary, MarkRead, NewSavedReply, Priority, ProfileSummary, Rating,
    SavedReply, SavedReplyList, SavedReplySource, SetAgentStatus, Team,
};
pub use api::{
    AppInfo, Availability, CreateSessionRequest, Customer, IdentityType, MintTokenRequest,
    MintTokenResponse, SessionResponse, UserInput,
};
pub use chat::{
    Author, ClientFrame, ConversationStatus, Message, MessageKind, MessagesPage, RateConversation,
    SendMessage, ServerFrame, SetPage, MAX_BODY_CHARS,
};
pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use report::{AuthCounts, AuthDay, AuthReport};
