//! In-memory ports for native tests: a scripted server, a map for storage,
//! `serde_json`, a host that records what it was asked to do, and a clock
//! the test sets by hand.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};

use trustchat_protocol::{
    AppInfo, ClientFrame, CreateSessionRequest, ErrorBody, Message, MessagesPage, RateConversation,
    SendMessage, ServerFrame, SessionResponse,
};

use super::{
    Clock, Host, Json, Method, NetworkError, Random, Request, Response, Socket, Storage, Task,
    Transport,
};
use crate::core::{Error, Event, Focus, PendingRecord, View};

/// A fake platform: requests are answered from a script, in order.
#[derive(Default)]
pub struct Memory {
    /// Answers for the next requests; an empty script means "unreachable".
    pub replies: RefCell<VecDeque<Result<Response, NetworkError>>>,
    /// Every request sent, as `METHOD url [bearer] body`.
    pub sent: RefCell<Vec<String>>,
    /// The storage area.
    pub storage: RefCell<BTreeMap<String, String>>,
    /// Every event emitted, by name.
    pub events: RefCell<Vec<Event>>,
    /// The last view rendered.
    pub view: RefCell<Option<View>>,
    /// Every focus move.
    pub focus: RefCell<Vec<Focus>>,
    /// Background tasks, run by [`Memory::run_tasks`].
    pub tasks: RefCell<Vec<Task>>,
    /// The clock, in Unix milliseconds; tests move it.
    pub now: Cell<i64>,
    /// The armed timer's delay in ms; `None` when no timer is armed.
    pub timer: Cell<Option<u32>>,
    /// What `fetchJwt` answers, in order; an empty script means "no
    /// `fetchJwt` was given".
    pub fresh_tokens: RefCell<VecDeque<Result<String, Error>>>,
    /// How many times `fetchJwt` was called.
    pub fetches: Cell<u32>,
    /// The tab's storage area (`sessionStorage`).
    pub tab_storage: RefCell<BTreeMap<String, String>>,
    /// The chat timer's delay in ms; `None` when not armed.
    pub wake: Cell<Option<u32>>,
    /// Every socket operation: `connect URL`, `send TEXT`, `disconnect`.
    pub socket: RefCell<Vec<String>>,
    /// How many UUIDs were made: they are `cid-1`, `cid-2`, ...
    pub uuids: Cell<u32>,
    /// What `random()` answers.
    pub random: Cell<f64>,
}

impl Memory {
    /// Queues an answer with `status` and JSON `body`.
    pub fn reply(&self, status: u16, body: &str) -> &Self {
        self.replies.borrow_mut().push_back(Ok(Response {
            status,
            body: body.into(),
        }));
        self
    }

    /// Queues a network failure.
    pub fn unreachable(&self) -> &Self {
        self.replies.borrow_mut().push_back(Err(NetworkError));
        self
    }

    /// Runs the background tasks spawned so far, to completion.
    pub fn run_tasks(&self) {
        let tasks = std::mem::take(&mut *self.tasks.borrow_mut());
        for task in tasks {
            futures_executor::block_on(task);
        }
    }

    /// Takes the requests sent so far.
    pub fn take_sent(&self) -> Vec<String> {
        std::mem::take(&mut *self.sent.borrow_mut())
    }

    /// Takes the socket operations so far.
    pub fn take_socket(&self) -> Vec<String> {
        std::mem::take(&mut *self.socket.borrow_mut())
    }

    /// Takes the names of the events emitted so far, but `unread:change`
    /// (the tests of the unread count look at it with [`Memory::take_unread`]).
    pub fn take_events(&self) -> Vec<&'static str> {
        self.events
            .borrow_mut()
            .extract_if(.., |e| !matches!(e, Event::Unread(_)))
            .map(|e| e.name())
            .collect()
    }

    /// Takes the counts `unread:change` said so far (and the other events).
    pub fn take_unread(&self) -> Vec<usize> {
        std::mem::take(&mut *self.events.borrow_mut())
            .into_iter()
            .filter_map(|e| match e {
                Event::Unread(count) => Some(count),
                _ => None,
            })
            .collect()
    }
}

impl Transport for Memory {
    async fn send(&self, request: Request) -> Result<Response, NetworkError> {
        let mut line = [request.method.as_str(), " ", &request.url].concat();
        if let Some(bearer) = &request.bearer {
            line = [&line, " [", bearer, "]"].concat();
        }
        if let Some(body) = &request.body {
            line = [&line, " ", body].concat();
        }
        assert!(
            request.method != Method::Get || request.body.is_none(),
            "GET with a body"
        );
        self.sent.borrow_mut().push(line);
        self.replies
            .borrow_mut()
            .pop_front()
            .unwrap_or(Err(NetworkError))
    }
}

impl Storage for Memory {
    fn get(&self, key: &str) -> Option<String> {
        self.storage.borrow().get(key).cloned()
    }
    fn set(&self, key: &str, value: &str) {
        self.storage.borrow_mut().insert(key.into(), value.into());
    }
    fn remove(&self, key: &str) {
        self.storage.borrow_mut().remove(key);
    }
    fn remove_prefixed(&self, prefix: &str) {
        for area in [&self.storage, &self.tab_storage] {
            area.borrow_mut().retain(|key, _| !key.starts_with(prefix));
        }
    }
    fn tab_get(&self, key: &str) -> Option<String> {
        self.tab_storage.borrow().get(key).cloned()
    }
    fn tab_set(&self, key: &str, value: Option<&str>) {
        let mut area = self.tab_storage.borrow_mut();
        match value {
            Some(value) => area.insert(key.into(), value.into()),
            None => area.remove(key),
        };
    }
}

impl Json for Memory {
    fn decode_app(&self, text: &str) -> Option<AppInfo> {
        serde_json::from_str(text).ok()
    }
    fn decode_session(&self, text: &str) -> Option<SessionResponse> {
        serde_json::from_str(text).ok()
    }
    fn encode_session(&self, session: &SessionResponse) -> Option<String> {
        serde_json::to_string(session).ok()
    }
    fn decode_error(&self, text: &str) -> Option<ErrorBody> {
        serde_json::from_str(text).ok()
    }
    fn encode_session_request(&self, request: &CreateSessionRequest) -> Option<String> {
        serde_json::to_string(request).ok()
    }
    fn encode_send(&self, message: &SendMessage) -> Option<String> {
        serde_json::to_string(message).ok()
    }
    fn encode_rating(&self, rating: &RateConversation) -> Option<String> {
        serde_json::to_string(rating).ok()
    }
    fn decode_frame(&self, text: &str) -> Option<ServerFrame> {
        serde_json::from_str(text).ok()
    }
    fn decode_page(&self, text: &str) -> Option<MessagesPage> {
        serde_json::from_str(text).ok()
    }
    fn decode_message(&self, text: &str) -> Option<Message> {
        serde_json::from_str(text).ok()
    }
    fn encode_frame(&self, frame: &ClientFrame) -> Option<String> {
        serde_json::to_string(frame).ok()
    }
    fn encode_pending(&self, records: &[PendingRecord]) -> Option<String> {
        let list: Vec<serde_json::Value> = records
            .iter()
            .map(|r| {
                serde_json::json!({
                    "client_id": r.client_id, "body": r.body, "created_at": r.created_at
                })
            })
            .collect();
        serde_json::to_string(&list).ok()
    }
    fn decode_pending(&self, text: &str) -> Option<Vec<PendingRecord>> {
        let list: Vec<serde_json::Value> = serde_json::from_str(text).ok()?;
        list.iter()
            .map(|r| {
                Some(PendingRecord {
                    client_id: r.get("client_id")?.as_str()?.into(),
                    body: r.get("body")?.as_str()?.into(),
                    created_at: r.get("created_at")?.as_i64()?,
                })
            })
            .collect()
    }
}

impl Host for Memory {
    fn render(&self, view: &View) {
        *self.view.borrow_mut() = Some(view.clone());
    }
    fn focus(&self, focus: Focus) {
        self.focus.borrow_mut().push(focus);
    }
    fn emit(&self, event: Event) {
        self.events.borrow_mut().push(event);
    }
    fn spawn(&self, task: Task) {
        self.tasks.borrow_mut().push(task);
    }
    async fn fetch_jwt(&self) -> Result<String, Error> {
        self.fetches.set(self.fetches.get() + 1);
        self.fresh_tokens
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| {
                Err(Error::new(
                    crate::core::Code::TokenExpired,
                    "init was given no fetchJwt",
                ))
            })
    }
}

impl Clock for Memory {
    fn now(&self) -> i64 {
        self.now.get()
    }
    fn set_timer(&self, delay: Option<u32>) {
        self.timer.set(delay);
    }
    fn set_wake(&self, delay: Option<u32>) {
        self.wake.set(delay);
    }
}

impl Socket for Memory {
    fn connect(&self, url: &str) {
        self.socket.borrow_mut().push(["connect ", url].concat());
    }
    fn send_frame(&self, text: &str) {
        self.socket.borrow_mut().push(["send ", text].concat());
    }
    fn disconnect(&self) {
        self.socket.borrow_mut().push("disconnect".into());
    }
}

impl Random for Memory {
    fn uuid(&self) -> String {
        self.uuids.set(self.uuids.get() + 1);
        ["cid-", &self.uuids.get().to_string()].concat()
    }
    fn random(&self) -> f64 {
        self.random.get()
    }
}
