//! Data-driven tests of the conversation: each script is a run of steps
//! and, after each, the effects expected (in short) and, at checkpoints,
//! the lines the log shows.

use trustchat_protocol::{Author, ClientFrame, ConversationStatus, Message, MessageKind};

use super::*;

/// The clock at the start of every script, in Unix ms.
const T0: i64 = 1_700_000_000_000;
const LOGIN: &str = "https://shop.example/login";

/// One step of a script.
enum S<'a> {
    /// The session `tok` of customer `c` starts; the effects.
    Start(&'a str, &'a str, &'a [&'a str]),
    /// The session ends; the effects.
    Stop(&'a [&'a str]),
    /// Moves the clock to `T0 + ms`.
    At(i64),
    /// Sets the random number.
    Random(f64),
    /// An input and its effects.
    Do(ChatInput, &'a [&'a str]),
    /// The lines shown now.
    Shows(&'a [&'a str]),
    /// What `sessionStorage` must hold now (client ids).
    Stored(&'a [&'a str]),
    /// The survey shown now, and why the last rating was not sent.
    Asks(Option<Survey>, Option<&'a str>),
}

/// Runs `script` on an empty chat.
fn check(script: Vec<S<'_>>) {
    check_from(&mut Chat::default(), script);
}

fn check_from(chat: &mut Chat, script: Vec<S<'_>>) {
    let (mut now, mut random) = (T0, 0.5);
    for (i, step) in script.into_iter().enumerate() {
        let mut out = vec![];
        let expected: &[&str] = match step {
            S::Start(token, customer, expected) => {
                chat.start(token, customer, &mut out);
                expected
            }
            S::Stop(expected) => {
                chat.stop(&mut out);
                expected
            }
            S::At(ms) => {
                now = T0 + ms;
                continue;
            }
            S::Random(r) => {
                random = r;
                continue;
            }
            S::Do(input, expected) => {
                let what = format!("{input:?}");
                chat.step(now, random, input, &mut out);
                chat.rearm(None, &mut out);
                assert_eq!(short(&out), expected, "step {i}: {what}");
                continue;
            }
            S::Shows(lines) => {
                let got: Vec<String> = chat.lines(Some(LOGIN)).iter().map(shown).collect();
                assert_eq!(got, lines, "lines at step {i}");
                continue;
            }
            S::Stored(ids) => {
                let got: Vec<String> = chat.records().into_iter().map(|r| r.client_id).collect();
                assert_eq!(got, ids, "stored at step {i}");
                continue;
            }
            S::Asks(survey, error) => {
                assert_eq!(
                    (chat.survey(), chat.survey_error()),
                    (survey, error),
                    "survey at step {i}"
                );
                continue;
            }
        };
        chat.rearm(None, &mut out);
        assert_eq!(short(&out), expected, "step {i}");
    }
}

/// Effects in short, as the widget runs them: one redraw (left out here)
/// and one storage write (last).
fn short(effects: &[Effect]) -> Vec<String> {
    let mut out: Vec<String> = effects
        .iter()
        .filter(|e| !matches!(e, Effect::Render | Effect::StorePending))
        .map(|e| match e {
            Effect::Connect => "connect".into(),
            Effect::Disconnect => "disconnect".into(),
            Effect::SendFrame(ClientFrame::Auth { session_token }) => {
                format!("auth {session_token}")
            }
            Effect::SendFrame(ClientFrame::Send { client_id, .. }) => format!("send {client_id}"),
            Effect::SendFrame(ClientFrame::Ping) => "ping".into(),
            Effect::Fetch { after, .. } => format!("fetch {after}"),
            Effect::Post { client_id, .. } => format!("post {client_id}"),
            Effect::Wake(Some(at)) => format!("wake {}", at - T0),
            Effect::Wake(None) => "wake off".into(),
            Effect::SessionGone(token) => format!("gone {token}"),
            Effect::Emit(Event::MessageSent(m)) => format!("sent {}", m.seq),
            Effect::Emit(Event::MessageReceived(m)) => format!("received {}", m.seq),
            Effect::Emit(Event::Error(e)) => format!("error {}", e.message),
            Effect::Emit(Event::ConversationStarted(id)) => format!("started {id}"),
            Effect::Emit(Event::ConversationEnded(id)) => format!("ended {id}"),
            Effect::SendFrame(ClientFrame::Typing) => "typing".into(),
            Effect::SendFrame(ClientFrame::Read { seq }) => format!("read {seq}"),
            Effect::SendFrame(ClientFrame::Page { url }) => format!("page {url}"),
            Effect::Rate {
                conversation_id,
                rating,
            } => format!(
                "rate {conversation_id} {} {:?}",
                rating.rating, rating.comment
            ),
            other => format!("{other:?}"),
        })
        .collect();
    if effects.contains(&Effect::StorePending) {
        out.push("store".into());
    }
    out
}

/// A line in short: `seq who state` or `client_id state`, and `+link`.
fn shown(line: &Line) -> String {
    let state = match &line.state {
        LineState::Pending => "pending".to_owned(),
        LineState::Sent => "sent".to_owned(),
        LineState::Failed(why) => format!("failed: {why}"),
    };
    // As the UI says it: "You", and "Support" for an agent without a name.
    let who = match (line.author, line.who.as_str()) {
        (Author::Customer, _) => "You",
        (Author::Agent, "") => "Support",
        (Author::Agent, name) => name,
    };
    let head = match line.seq {
        Some(seq) => format!("{seq} {who}"),
        None => line.key.clone(),
    };
    let link = if line.login_link.is_some() {
        " +link"
    } else {
        ""
    };
    let seen = if line.seen { " seen" } else { "" };
    format!("{head} {state}{link}{seen}")
}

/// A message of conversation `conv`: an agent's (`client` None) or the
/// customer's with that `client_id`.
fn msg(conv: &str, seq: i64, client: Option<&str>) -> Message {
    Message {
        id: format!("{conv}-{seq}"),
        conversation_id: conv.into(),
        seq,
        author: if client.is_some() {
            Author::Customer
        } else {
            Author::Agent
        },
        author_name: client.is_none().then(|| "Grace".into()),
        kind: MessageKind::Text,
        body: format!("body {seq}"),
        link: None,
        trusted: false,
        created_at: T0 + seq,
        client_id: client.map(Into::into),
    }
}

fn send(client_id: &str) -> ChatInput {
    ChatInput::Send {
        client_id: client_id.into(),
        body: format!("text of {client_id}"),
    }
}

fn frame(frame: ServerFrame) -> ChatInput {
    ChatInput::Frame(frame)
}

fn ready(conv: Option<&str>, last_seq: i64) -> ChatInput {
    frame(ServerFrame::Ready {
        conversation_id: conv.map(Into::into),
        last_seq,
    })
}

fn push(message: Message) -> ChatInput {
    frame(ServerFrame::Message { message })
}

fn ack(message: Message) -> ChatInput {
    frame(ServerFrame::Ack {
        client_id: message.client_id.clone().unwrap_or_default(),
        message,
    })
}

fn page(conv: Option<&str>, messages: Vec<Message>, has_more: bool) -> MessagesPage {
    MessagesPage {
        conversation_id: conv.map(Into::into),
        status: conv.map(|_| ConversationStatus::Open),
        messages,
        has_more,
        agent_read_seq: 0,
        customer_read_seq: 0,
    }
}

fn fetched(epoch: u32, page: MessagesPage) -> ChatInput {
    ChatInput::Fetched { epoch, page }
}

fn error(client_id: &str, code: &str, retry_after: Option<u64>) -> ChatInput {
    frame(ServerFrame::Error {
        code: code.into(),
        message: format!("refused: {code}"),
        client_id: Some(client_id.into()),
        retry_after,
    })
}

/// Connected, ready and synced on conversation `c1` holding `history`.
fn connected(history: Vec<Message>) -> Vec<S<'static>> {
    let last = history.len() as i64;
    vec![
        S::Start("tok", "cust", &["connect"]),
        S::Do(ChatInput::Opened, &["auth tok", "wake 10000"]),
        S::Do(ready(Some("c1"), last), &["fetch 0", "wake 25000"]),
        // History is not news: no `message:received`.
        S::Do(fetched(0, page(Some("c1"), history, false)), &[]),
    ]
}

fn then(mut first: Vec<S<'static>>, rest: Vec<S<'static>>) -> Vec<S<'static>> {
    first.extend(rest);
    first
}

#[test]
fn connects_authenticates_and_loads_the_history() {
    check(then(
        connected(vec![msg("c1", 1, None), msg("c1", 2, Some("other-tab"))]),
        vec![S::Shows(&["1 Grace sent", "2 You sent"]), S::Stored(&[])],
    ));
    // No conversation yet: nothing to fetch but the empty page.
    check(vec![
        S::Start("tok", "cust", &["connect"]),
        S::Do(ChatInput::Opened, &["auth tok", "wake 10000"]),
        S::Do(ready(None, 0), &["fetch 0", "wake 25000"]),
        S::Do(fetched(0, page(None, vec![], false)), &[]),
        S::Shows(&[]),
    ]);
}

#[test]
fn a_send_is_pending_until_acknowledged() {
    check(then(
        connected(vec![msg("c1", 1, None)]),
        vec![
            S::Do(send("cid-1"), &["send cid-1", "store"]),
            S::Shows(&["1 Grace sent", "cid-1 pending"]),
            S::Stored(&["cid-1"]),
            S::Do(ack(msg("c1", 2, Some("cid-1"))), &["sent 2", "store"]),
            S::Shows(&["1 Grace sent", "2 You sent"]),
            S::Stored(&[]),
            // The pushed copy that follows is a repeat.
            S::Do(push(msg("c1", 2, Some("cid-1"))), &[]),
            S::Shows(&["1 Grace sent", "2 You sent"]),
        ],
    ));
}

#[test]
fn the_pushed_message_may_come_before_the_ack() {
    check(then(
        connected(vec![]),
        vec![
            S::Do(send("cid-1"), &["send cid-1", "store"]),
            S::Do(push(msg("c1", 1, Some("cid-1"))), &["sent 1", "store"]),
            S::Do(ack(msg("c1", 1, Some("cid-1"))), &[]),
            S::Shows(&["1 You sent"]),
            S::Stored(&[]),
        ],
    ));
}

#[test]
fn messages_show_in_seq_order_without_gaps_or_repeats() {
    check(then(
        connected(vec![msg("c1", 1, None)]),
        vec![
            // Out of order: 3 waits for 2, which a fetch is asked for.
            S::Do(push(msg("c1", 3, None)), &["received 3", "fetch 1"]),
            S::Shows(&["1 Grace sent"]),
            S::Do(push(msg("c1", 2, None)), &["received 2"]),
            S::Shows(&["1 Grace sent", "2 Grace sent", "3 Grace sent"]),
            // The fetch answers what came meanwhile: all repeats.
            S::Do(
                fetched(
                    0,
                    page(
                        Some("c1"),
                        vec![msg("c1", 2, None), msg("c1", 3, None)],
                        false,
                    ),
                ),
                &[],
            ),
            S::Do(push(msg("c1", 3, None)), &[]),
            S::Do(push(msg("c1", 1, None)), &[]),
            S::Shows(&["1 Grace sent", "2 Grace sent", "3 Grace sent"]),
            // A gap is filled by a fetch; what it brings is news.
            S::Do(push(msg("c1", 6, None)), &["received 6", "fetch 3"]),
            S::Do(
                fetched(
                    0,
                    page(
                        Some("c1"),
                        vec![
                            msg("c1", 4, None),
                            msg("c1", 5, Some("other-tab")),
                            msg("c1", 6, None),
                        ],
                        false,
                    ),
                ),
                &["received 4", "received 5"],
            ),
            S::Shows(&[
                "1 Grace sent",
                "2 Grace sent",
                "3 Grace sent",
                "4 Grace sent",
                "5 You sent",
                "6 Grace sent",
            ]),
        ],
    ));
}

#[test]
fn long_histories_come_page_by_page() {
    check(vec![
        S::Start("tok", "cust", &["connect"]),
        S::Do(ChatInput::Opened, &["auth tok", "wake 10000"]),
        S::Do(ready(Some("c1"), 3), &["fetch 0", "wake 25000"]),
        S::Do(
            fetched(
                0,
                page(
                    Some("c1"),
                    vec![msg("c1", 1, None), msg("c1", 2, None)],
                    true,
                ),
            ),
            &["fetch 2"],
        ),
        // While the history loads, a live message is still news.
        S::Do(push(msg("c1", 4, None)), &["received 4"]),
        S::Do(
            fetched(
                0,
                page(
                    Some("c1"),
                    vec![msg("c1", 3, None), msg("c1", 4, None)],
                    false,
                ),
            ),
            &[],
        ),
        S::Shows(&[
            "1 Grace sent",
            "2 Grace sent",
            "3 Grace sent",
            "4 Grace sent",
        ]),
    ]);
}

#[test]
fn reconnecting_resends_the_outbox_with_the_same_client_ids() {
    check(then(
        connected(vec![msg("c1", 1, None)]),
        vec![
            S::Do(send("cid-1"), &["send cid-1", "store"]),
            // The connection drops before the ack: back off (random 0.5
            // of 500 ms), and keep the message pending.
            S::Do(ChatInput::Closed(1006), &["wake 250"]),
            S::Do(send("cid-2"), &["store"]),
            S::Shows(&["1 Grace sent", "cid-1 pending", "cid-2 pending"]),
            // Between attempts, the fallback's time is kept too.
            S::At(250),
            S::Do(ChatInput::Wake, &["connect", "wake 10000"]),
            S::Do(ChatInput::Closed(1006), &["wake 750"]),
            S::At(750),
            S::Do(ChatInput::Wake, &["connect", "wake 10000"]),
            S::Do(ChatInput::Opened, &["auth tok"]),
            // Nothing missed (last_seq 1): no fetch; the outbox goes again.
            S::Do(
                ready(Some("c1"), 1),
                &["send cid-1", "send cid-2", "wake 25750"],
            ),
            S::Do(ack(msg("c1", 2, Some("cid-1"))), &["sent 2", "store"]),
            S::Do(ack(msg("c1", 3, Some("cid-2"))), &["sent 3", "store"]),
            S::Shows(&["1 Grace sent", "2 You sent", "3 You sent"]),
            // Missed messages are fetched after the last contiguous seq.
            S::Do(ChatInput::Closed(4009), &["wake 1000"]),
            S::At(1000),
            S::Do(ChatInput::Wake, &["connect", "wake off"]),
            S::Do(ChatInput::Opened, &["auth tok", "wake 11000"]),
            S::Do(ready(Some("c1"), 5), &["fetch 3", "wake 26000"]),
        ],
    ));
}

#[test]
fn a_new_conversation_follows_a_closed_one() {
    check(then(
        connected(vec![msg("c1", 1, None), msg("c1", 2, Some("a"))]),
        vec![
            S::Do(
                frame(ServerFrame::Conversation {
                    conversation_id: "c1".into(),
                    status: ConversationStatus::Closed,
                }),
                &["ended c1"],
            ),
            S::Do(send("cid-1"), &["send cid-1", "store"]),
            // The server opened `c2`, whose seq starts at 1 again.
            S::Do(
                ack(msg("c2", 1, Some("cid-1"))),
                &["started c2", "sent 1", "store"],
            ),
            S::Do(push(msg("c2", 2, None)), &["received 2"]),
            S::Shows(&["1 Grace sent", "2 You sent", "1 You sent", "2 Grace sent"]),
            // Late news of `c1` is ignored.
            S::Do(push(msg("c1", 3, None)), &[]),
            // A reconnect that finds yet another conversation fetches it
            // from the start.
            S::Do(ChatInput::Closed(1001), &["wake 250"]),
            S::At(250),
            S::Do(ChatInput::Wake, &["connect", "wake off"]),
            S::Do(ChatInput::Opened, &["auth tok", "wake 10250"]),
            S::Do(
                ready(Some("c3"), 2),
                &["started c3", "fetch 0", "wake 25250"],
            ),
            S::Do(
                fetched(
                    0,
                    page(
                        Some("c3"),
                        vec![msg("c3", 1, Some("x")), msg("c3", 2, None)],
                        false,
                    ),
                ),
                &["received 1", "received 2"],
            ),
            S::Shows(&[
                "1 Grace sent",
                "2 You sent",
                "1 You sent",
                "2 Grace sent",
                "1 You sent",
                "2 Grace sent",
            ]),
        ],
    ));
    let mut chat = Chat::default();
    check_from(&mut chat, connected(vec![msg("c1", 1, None)]));
    chat.step(
        T0,
        0.5,
        frame(ServerFrame::Conversation {
            conversation_id: "c1".into(),
            status: ConversationStatus::Closed,
        }),
        &mut vec![],
    );
    assert!(chat.closed());
}

#[test]
fn backoff_is_exponential_with_full_jitter_and_a_cap() {
    // (attempt, random, delay in ms)
    let cases = [
        (0, 0.0, 0),
        (0, 0.5, 250),
        (0, 0.999_999, 499),
        (1, 0.999_999, 999),
        (2, 0.5, 1_000),
        (5, 0.999_999, 15_999),
        (6, 0.999_999, 29_999),
        (6, 0.5, 15_000),
        (7, 0.999_999, 29_999),
        (40, 0.999_999, 29_999),
        (u32::MAX, 1.0, 30_000),
        (3, -1.0, 0),
    ];
    for (attempt, random, expected) in cases {
        assert_eq!(backoff(attempt, random), expected, "{attempt} {random}");
    }
    // The chat's delays grow with each failed attempt and start over
    // after a `ready`.
    check(then(
        connected(vec![]),
        vec![
            S::Random(0.999_999),
            S::Do(ChatInput::Closed(1006), &["wake 499"]),
            S::At(499),
            S::Do(ChatInput::Wake, &["connect", "wake off"]),
            S::Do(ChatInput::Closed(1006), &["wake 1498"]),
            S::At(1498),
            S::Do(ChatInput::Wake, &["connect", "wake off"]),
            S::Do(ChatInput::Closed(1006), &["wake 3497"]),
            S::At(3497),
            S::Do(ChatInput::Wake, &["connect", "wake off"]),
            S::Do(ChatInput::Opened, &["auth tok", "wake 13497"]),
            S::Do(ready(Some("c1"), 0), &["wake 28497"]),
            S::Do(ChatInput::Closed(1006), &["wake 3996"]),
        ],
    ));
}

#[test]
fn a_restarting_server_is_left_at_once_for_another() {
    // A server's restart close (1012) reconnects within
    // RESTART_SPREAD_MS (125 ms at this random number), sooner than the
    // backoff of any other close (250 ms here).
    check(then(
        connected(vec![]),
        vec![
            S::Random(0.999_999),
            S::Do(ChatInput::Closed(1006), &["wake 499"]),
            S::At(499),
            S::Do(ChatInput::Wake, &["connect", "wake off"]),
            S::Do(ChatInput::Closed(1006), &["wake 1498"]),
            S::At(1498),
            S::Do(ChatInput::Wake, &["connect", "wake off"]),
            S::Do(ChatInput::Opened, &["auth tok", "wake 11498"]),
            S::Do(ready(Some("c1"), 0), &["wake 26498"]),
            S::Random(0.5),
            S::Do(ChatInput::Closed(1012), &["wake 1623"]),
        ],
    ));
}

#[test]
fn online_and_visible_reconnect_at_once_or_check_the_socket() {
    check(then(
        connected(vec![]),
        vec![
            S::Do(ChatInput::Closed(1006), &["wake 250"]),
            S::At(100),
            S::Do(ChatInput::Nudge, &["connect", "wake off"]),
            S::Do(ChatInput::Opened, &["auth tok", "wake 10100"]),
            S::Do(ready(Some("c1"), 0), &["wake 25100"]),
            // Ready: a ping, which must be answered in time.
            S::Do(ChatInput::Nudge, &["ping", "wake 10100"]),
            S::At(10_100),
            S::Do(ChatInput::Wake, &["disconnect", "wake 10350"]),
        ],
    ));
}

#[test]
fn keepalive_pings_and_a_silent_server_is_dropped() {
    check(then(
        connected(vec![]),
        vec![
            S::At(25_000),
            S::Do(ChatInput::Wake, &["ping", "wake 35000"]),
            S::Do(frame(ServerFrame::Pong), &["wake 50000"]),
            S::At(50_000),
            S::Do(ChatInput::Wake, &["ping", "wake 60000"]),
            S::At(60_000),
            S::Do(ChatInput::Wake, &["disconnect", "wake 60250"]),
        ],
    ));
    // A socket that opens but never becomes ready is dropped too.
    check(vec![
        S::Start("tok", "cust", &["connect"]),
        S::Do(ChatInput::Opened, &["auth tok", "wake 10000"]),
        S::At(10_000),
        S::Do(ChatInput::Wake, &["disconnect", "wake 10250"]),
    ]);
}

#[test]
fn rate_limited_messages_wait_then_go_again() {
    check(then(
        connected(vec![]),
        vec![
            S::Do(send("cid-1"), &["send cid-1", "store"]),
            S::Do(error("cid-1", "rate_limited", Some(2)), &["wake 2000"]),
            S::Shows(&["cid-1 pending"]),
            S::At(2_000),
            S::Do(ChatInput::Wake, &["send cid-1", "wake 25000"]),
            S::Do(ack(msg("c1", 1, Some("cid-1"))), &["sent 1", "store"]),
        ],
    ));
}

#[test]
fn refused_messages_fail_in_place_until_retried_or_deleted() {
    check(then(
        connected(vec![]),
        vec![
            S::Do(send("cid-1"), &["send cid-1", "store"]),
            S::Do(send("cid-2"), &["send cid-2", "store"]),
            S::Do(error("cid-1", "message_too_long", None), &[]),
            S::Do(error("cid-2", "empty_message", None), &[]),
            S::Shows(&[
                "cid-1 failed: message_too_long",
                "cid-2 failed: empty_message",
            ]),
            S::Stored(&["cid-1", "cid-2"]),
            S::Do(ChatInput::Retry("cid-1".into()), &["send cid-1"]),
            S::Shows(&["cid-1 pending", "cid-2 failed: empty_message"]),
            S::Do(ChatInput::Discard("cid-2".into()), &["store"]),
            S::Shows(&["cid-1 pending"]),
            S::Stored(&["cid-1"]),
            // Only failed messages can be deleted.
            S::Do(ChatInput::Discard("cid-1".into()), &[]),
            S::Stored(&["cid-1"]),
        ],
    ));
}

#[test]
fn without_a_socket_messages_are_posted_after_a_while() {
    check(vec![
        S::Start("tok", "cust", &["connect"]),
        S::Do(send("cid-1"), &["wake 10000", "store"]),
        S::Do(ChatInput::Closed(1006), &["wake 250"]),
        S::At(250),
        S::Do(ChatInput::Wake, &["connect", "wake 10000"]),
        S::Do(ChatInput::Closed(1006), &["wake 750"]),
        S::At(10_000),
        S::Do(ChatInput::Wake, &["connect", "post cid-1", "wake off"]),
        S::Shows(&["cid-1 pending"]),
        S::Do(
            ChatInput::Posted {
                client_id: "cid-1".into(),
                outcome: Posted::Stored(msg("c1", 1, Some("cid-1"))),
            },
            &["started c1", "sent 1", "store"],
        ),
        S::Shows(&["1 You sent"]),
        // A repeat of the answer, and the ack of a later socket: nothing.
        S::Do(ChatInput::Opened, &["auth tok", "wake 20000"]),
        // The log holds seq 1 already: the sync starts after it.
        S::Do(ready(Some("c1"), 1), &["fetch 1", "wake 35000"]),
        S::Do(fetched(0, page(Some("c1"), vec![], false)), &[]),
        S::Shows(&["1 You sent"]),
    ]);
    // A post that fails waits for the socket, or for the next round.
    check(vec![
        S::Start("tok", "cust", &["connect"]),
        S::Do(send("cid-1"), &["wake 10000", "store"]),
        S::At(10_000),
        S::Do(ChatInput::Wake, &["post cid-1", "wake off"]),
        S::Do(
            ChatInput::Posted {
                client_id: "cid-1".into(),
                outcome: Posted::Failed,
            },
            &["wake 20000"],
        ),
        S::Do(
            ChatInput::Posted {
                client_id: "cid-1".into(),
                outcome: Posted::RateLimited(3),
            },
            &[],
        ),
    ]);
}

#[test]
fn a_revoked_session_is_gone() {
    check(then(
        connected(vec![]),
        vec![
            S::Do(send("cid-1"), &["send cid-1", "store"]),
            S::Do(
                ChatInput::Closed(4001),
                &["disconnect", "gone tok", "wake off", "store"],
            ),
            S::Shows(&[]),
            S::Stored(&[]),
        ],
    ));
    check(then(
        connected(vec![]),
        vec![S::Do(
            ChatInput::FetchFailed {
                epoch: 0,
                gone: true,
            },
            &["disconnect", "gone tok", "wake off"],
        )],
    ));
}

#[test]
fn a_failed_fetch_resyncs_through_a_new_connection() {
    check(vec![
        S::Start("tok", "cust", &["connect"]),
        S::Do(ChatInput::Opened, &["auth tok", "wake 10000"]),
        S::Do(ready(Some("c1"), 2), &["fetch 0", "wake 25000"]),
        S::Do(
            ChatInput::FetchFailed {
                epoch: 0,
                gone: false,
            },
            &["disconnect", "wake 250"],
        ),
        S::At(250),
        S::Do(ChatInput::Wake, &["connect", "wake off"]),
        S::Do(ChatInput::Opened, &["auth tok", "wake 10250"]),
        S::Do(ready(Some("c1"), 2), &["fetch 0", "wake 25250"]),
    ]);
}

#[test]
fn a_reload_shows_and_resends_what_was_pending() {
    let mut chat = Chat::default();
    chat.restore(vec![
        PendingRecord {
            client_id: "cid-1".into(),
            body: "hello".into(),
            created_at: T0 - 5,
        },
        PendingRecord {
            client_id: "cid-2".into(),
            body: "again".into(),
            created_at: T0 - 4,
        },
    ]);
    check_from(
        &mut chat,
        vec![
            S::Shows(&["cid-1 pending", "cid-2 pending"]),
            S::Start("tok", "cust", &["connect", "wake 9995"]),
            S::Do(ChatInput::Opened, &["auth tok"]),
            S::Do(
                ready(Some("c1"), 1),
                &["fetch 0", "send cid-1", "send cid-2", "wake 25000"],
            ),
            // The first had been stored before the reload: the history
            // says so, and that is its acknowledgement.
            S::Do(
                fetched(
                    0,
                    page(Some("c1"), vec![msg("c1", 1, Some("cid-1"))], false),
                ),
                &["sent 1", "store"],
            ),
            S::Do(ack(msg("c1", 1, Some("cid-1"))), &[]),
            S::Do(ack(msg("c1", 2, Some("cid-2"))), &["sent 2", "store"]),
            S::Shows(&["1 You sent", "2 You sent"]),
            S::Stored(&[]),
        ],
    );
}

#[test]
fn another_customer_starts_from_an_empty_chat() {
    let mut chat = Chat::default();
    check_from(&mut chat, connected(vec![msg("c1", 1, None)]));
    check_from(
        &mut chat,
        vec![
            S::Do(send("cid-1"), &["send cid-1", "store"]),
            // The same customer, upgraded to a new token: reconnect, keep all.
            S::Start("tok2", "cust", &["disconnect", "connect", "wake off"]),
            S::Shows(&["1 Grace sent", "cid-1 pending"]),
            // Someone else: nothing of the last customer stays.
            S::Start("tok3", "someone", &["disconnect", "connect", "store"]),
            S::Shows(&[]),
            S::Stored(&[]),
            // Late answers for the last session are ignored.
            S::Do(
                fetched(0, page(Some("c1"), vec![msg("c1", 1, None)], false)),
                &[],
            ),
            S::Shows(&[]),
            S::Stop(&["disconnect"]),
        ],
    );
}

#[test]
fn only_the_apps_login_url_becomes_a_link() {
    let request = |link: &str| Message {
        kind: MessageKind::LoginRequest,
        link: Some(link.into()),
        ..msg("c1", 1, None)
    };
    let chat = |m: Message| {
        let mut chat = Chat::default();
        check_from(&mut chat, connected(vec![m]));
        chat
    };
    let shows = |chat: &Chat, login_url| -> Vec<String> {
        chat.lines(login_url).iter().map(shown).collect()
    };
    assert_eq!(
        shows(&chat(request(LOGIN)), Some(LOGIN)),
        ["1 Grace sent +link"]
    );
    assert_eq!(
        shows(&chat(request("https://evil.example/login")), Some(LOGIN)),
        ["1 Grace sent"]
    );
    assert_eq!(shows(&chat(request(LOGIN)), None), ["1 Grace sent"]);
    // A plain message never carries a link, whatever it holds.
    let plain = Message {
        link: Some(LOGIN.into()),
        ..msg("c1", 1, None)
    };
    assert_eq!(shows(&chat(plain), Some(LOGIN)), ["1 Grace sent"]);
}

#[test]
fn messages_go_out_in_the_order_they_were_written() {
    // A rate-limited message holds back the ones written after it.
    check(then(
        connected(vec![]),
        vec![
            S::Do(send("cid-1"), &["send cid-1", "store"]),
            S::Do(error("cid-1", "rate_limited", Some(2)), &["wake 2000"]),
            S::Do(send("cid-2"), &["store"]),
            S::Do(send("cid-3"), &["store"]),
            S::At(2_000),
            S::Do(
                ChatInput::Wake,
                &["send cid-1", "send cid-2", "send cid-3", "wake 25000"],
            ),
        ],
    ));
    // Over HTTP, one at a time: the next is posted once the first is stored.
    check(vec![
        S::Start("tok", "cust", &["connect"]),
        S::Do(send("cid-1"), &["wake 10000", "store"]),
        S::Do(send("cid-2"), &["store"]),
        S::At(10_000),
        S::Do(ChatInput::Wake, &["post cid-1", "wake off"]),
        S::Do(
            ChatInput::Posted {
                client_id: "cid-1".into(),
                outcome: Posted::Stored(msg("c1", 1, Some("cid-1"))),
            },
            &["started c1", "sent 1", "post cid-2", "store"],
        ),
        // The socket comes back while cid-2 is being posted: cid-3 waits
        // for it.
        S::Do(send("cid-3"), &["store"]),
        S::Do(ChatInput::Opened, &["auth tok", "wake 20000"]),
        S::Do(ready(Some("c1"), 1), &["fetch 1", "wake 35000"]),
        S::Do(
            ChatInput::Posted {
                client_id: "cid-2".into(),
                outcome: Posted::Stored(msg("c1", 2, Some("cid-2"))),
            },
            &["sent 2", "send cid-3", "store"],
        ),
    ]);
}

#[test]
fn news_of_another_conversation_does_not_take_the_chat_over() {
    check(then(
        connected(vec![msg("c1", 1, None), msg("c1", 2, None)]),
        vec![
            // An agent writes in some older conversation: the server's page
            // decides what is current.
            S::Do(push(msg("c0", 7, None)), &["fetch 2"]),
            S::Do(
                fetched(0, page(Some("c1"), vec![msg("c1", 3, None)], false)),
                &["received 3"],
            ),
            S::Shows(&["1 Grace sent", "2 Grace sent", "3 Grace sent"]),
            // The customer's own message opens a new one, whatever its seq.
            S::Do(send("cid-1"), &["send cid-1", "store"]),
            S::Do(
                ack(msg("c2", 1, Some("cid-1"))),
                &["started c2", "sent 1", "store"],
            ),
            S::Shows(&["1 Grace sent", "2 Grace sent", "3 Grace sent", "1 You sent"]),
        ],
    ));
}

// ---- "How did we do?" -----------------------------------------------------

fn closed(conv: &str) -> ChatInput {
    frame(ServerFrame::Conversation {
        conversation_id: conv.into(),
        status: ConversationStatus::Closed,
    })
}

fn rate(rating: u8, comment: &str) -> ChatInput {
    ChatInput::Rate {
        rating,
        comment: comment.into(),
    }
}

fn rated(conv: &str, result: Result<(), Error>) -> ChatInput {
    ChatInput::Rated {
        conversation_id: conv.into(),
        result,
    }
}

const ASK: Option<Survey> = Some(Survey::Ask);
const SENDING: Option<Survey> = Some(Survey::Sending);
const THANKS: Option<Survey> = Some(Survey::Thanks);

#[test]
fn a_close_asks_how_did_we_do_and_thanks_for_the_rating() {
    check(then(
        connected(vec![msg("c1", 1, None), msg("c1", 2, Some("a"))]),
        vec![
            S::Asks(None, None),
            // Nothing to send before the close.
            S::Do(rate(4, "early"), &[]),
            S::Do(closed("c1"), &["ended c1"]),
            S::Asks(ASK, None),
            // The comment goes trimmed; one request at a time.
            S::Do(
                rate(4, "  Quick and kind \n"),
                &[r#"rate c1 4 Some("Quick and kind")"#],
            ),
            S::Asks(SENDING, None),
            S::Do(rate(4, "again"), &[]),
            S::Do(rated("c1", Ok(())), &[]),
            S::Asks(THANKS, None),
            // A late or repeated answer changes nothing.
            S::Do(rated("c1", Err(Error::network("http://s"))), &[]),
            S::Asks(THANKS, None),
            // Closed again (another tab's news): still thanked.
            S::Do(closed("c1"), &[]),
            S::Asks(THANKS, None),
        ],
    ));
}

#[test]
fn a_failed_rating_keeps_the_survey_and_says_why() {
    use crate::core::Code;
    check(then(
        connected(vec![msg("c1", 1, None)]),
        vec![
            S::Do(closed("c1"), &["ended c1"]),
            // No choice (the form lets none through): nothing sent.
            S::Do(rate(0, "no stars"), &[]),
            S::Do(rate(6, "six stars"), &[]),
            S::Asks(ASK, None),
            // A blank comment is no comment.
            S::Do(rate(5, "   "), &["rate c1 5 None"]),
            S::Do(
                rated(
                    "c1",
                    Err(Error::new(
                        Code::ServerError,
                        "the conversation is still open",
                    )),
                ),
                &[],
            ),
            S::Asks(ASK, Some("error_server_error")),
            S::Do(rate(5, ""), &["rate c1 5 None"]),
            S::Asks(SENDING, None),
            S::Do(rated("c1", Ok(())), &[]),
            S::Asks(THANKS, None),
        ],
    ));
}

#[test]
fn a_message_after_the_close_opens_a_new_conversation_and_the_survey_goes() {
    check(then(
        connected(vec![msg("c1", 1, None)]),
        vec![
            S::Do(closed("c1"), &["ended c1"]),
            S::Do(rate(3, "ok"), &[r#"rate c1 3 Some("ok")"#]),
            // The composer is not held up by the survey.
            S::Do(send("cid-1"), &["send cid-1", "store"]),
            S::Do(
                ack(msg("c2", 1, Some("cid-1"))),
                &["started c2", "sent 1", "store"],
            ),
            S::Asks(None, None),
            S::Shows(&["1 Grace sent", "1 You sent"]),
            // The old conversation's answer comes late: ignored.
            S::Do(rated("c1", Ok(())), &[]),
            S::Asks(None, None),
            // The new conversation closes: asked afresh, about it.
            S::Do(closed("c2"), &["ended c2"]),
            S::Asks(ASK, None),
            S::Do(rate(5, ""), &["rate c2 5 None"]),
        ],
    ));
}

#[test]
fn a_close_learned_on_reconnect_asks_but_history_does_not() {
    let closed_page = |messages| MessagesPage {
        status: Some(ConversationStatus::Closed),
        ..page(Some("c1"), messages, false)
    };
    // The socket was down when the agent closed: the resync brings it.
    check(then(
        connected(vec![msg("c1", 1, None)]),
        vec![
            S::Do(ChatInput::Closed(1006), &["wake 250"]),
            S::At(250),
            S::Do(ChatInput::Wake, &["connect", "wake off"]),
            S::Do(ChatInput::Opened, &["auth tok", "wake 10250"]),
            S::Do(ready(Some("c1"), 2), &["fetch 1", "wake 25250"]),
            S::Do(
                fetched(0, closed_page(vec![msg("c1", 2, None)])),
                &["ended c1", "received 2"],
            ),
            S::Asks(ASK, None),
        ],
    ));
    // A page loaded after the close (a reload) shows history: no survey.
    check(vec![
        S::Start("tok", "cust", &["connect"]),
        S::Do(ChatInput::Opened, &["auth tok", "wake 10000"]),
        S::Do(ready(Some("c1"), 1), &["fetch 0", "wake 25000"]),
        S::Do(fetched(0, closed_page(vec![msg("c1", 1, None)])), &[]),
        S::Asks(None, None),
    ]);
}

#[test]
fn the_survey_goes_with_the_session() {
    let mut chat = Chat::default();
    check_from(
        &mut chat,
        then(
            connected(vec![msg("c1", 1, None)]),
            vec![S::Do(closed("c1"), &["ended c1"]), S::Asks(ASK, None)],
        ),
    );
    chat.stop(&mut vec![]);
    assert_eq!(chat.survey(), None);
}

// ---- typing, read, unread, the page ---------------------------------------

/// A chat on a ready socket, its history loaded, at `T0`.
fn live(history: Vec<Message>) -> Chat {
    let mut chat = Chat::default();
    check_from(&mut chat, connected(history));
    chat
}

/// One step at `T0 + ms`; the effects in short.
fn at(chat: &mut Chat, ms: i64, input: ChatInput) -> Vec<String> {
    let mut out = vec![];
    chat.step(T0 + ms, 0.5, input, &mut out);
    short(&out)
}

fn typing(name: Option<&str>) -> ChatInput {
    frame(ServerFrame::Typing {
        author: Author::Agent,
        name: name.map(Into::into),
    })
}

#[test]
fn the_agent_typing_shows_for_five_seconds_or_until_their_message() {
    let mut chat = live(vec![msg("c1", 1, Some("a"))]);
    assert_eq!(chat.typing(), None);
    at(&mut chat, 0, typing(Some("Bea")));
    assert_eq!(chat.typing(), Some(Some("Bea")));
    // The chat timer wakes when it is due to go.
    let mut out = vec![];
    chat.rearm(None, &mut out);
    assert_eq!(short(&out), ["wake 5000"]);
    // Another notice keeps it up; its end moves.
    at(&mut chat, 3_000, typing(Some("Bea")));
    at(&mut chat, 5_000, ChatInput::Wake);
    assert_eq!(
        chat.typing(),
        Some(Some("Bea")),
        "still within 5 s of the last"
    );
    at(&mut chat, 8_000, ChatInput::Wake);
    assert_eq!(chat.typing(), None, "5 s after the last notice");
    // Their message ends it at once.
    at(&mut chat, 9_000, typing(None));
    assert_eq!(chat.typing(), Some(None), "an agent without a name");
    at(&mut chat, 9_500, push(msg("c1", 2, None)));
    assert_eq!(chat.typing(), None);
}

#[test]
fn the_customer_typing_goes_out_at_most_every_two_seconds_on_a_ready_socket() {
    let mut chat = live(vec![]);
    assert_eq!(at(&mut chat, 0, ChatInput::Typed), ["typing"]);
    assert!(at(&mut chat, 1_999, ChatInput::Typed).is_empty());
    assert_eq!(at(&mut chat, 2_000, ChatInput::Typed), ["typing"]);
    // No socket: nothing (typing is not worth a request).
    at(&mut chat, 2_100, ChatInput::Closed(1006));
    assert!(at(&mut chat, 9_000, ChatInput::Typed).is_empty());
}

#[test]
fn seen_marks_the_last_customer_message_the_agent_read_and_only_moves_forward() {
    let history = vec![
        msg("c1", 1, Some("a")),
        msg("c1", 2, None),
        msg("c1", 3, Some("b")),
        msg("c1", 4, Some("c")),
    ];
    let mut chat = Chat::default();
    let mut loaded = page(Some("c1"), history, false);
    loaded.agent_read_seq = 3;
    check_from(
        &mut chat,
        vec![
            S::Start("tok", "cust", &["connect"]),
            S::Do(ChatInput::Opened, &["auth tok", "wake 10000"]),
            S::Do(ready(Some("c1"), 4), &["fetch 0", "wake 25000"]),
            S::Do(fetched(0, loaded), &[]),
            S::Shows(&[
                "1 You sent",
                "2 Grace sent",
                "3 You sent seen",
                "4 You sent",
            ]),
            S::Do(frame(ServerFrame::Read { seq: 4 }), &[]),
            S::Shows(&[
                "1 You sent",
                "2 Grace sent",
                "3 You sent",
                "4 You sent seen",
            ]),
            // An older marker (another agent's, late) changes nothing.
            S::Do(frame(ServerFrame::Read { seq: 2 }), &[]),
            S::Shows(&[
                "1 You sent",
                "2 Grace sent",
                "3 You sent",
                "4 You sent seen",
            ]),
        ],
    );
}

#[test]
fn agent_messages_are_unread_until_the_customer_watches_and_the_server_hears_it() {
    let mut chat = live(vec![msg("c1", 1, Some("a"))]);
    assert_eq!(chat.unread(), 0, "their own message is not unread");
    at(&mut chat, 0, push(msg("c1", 2, None)));
    at(&mut chat, 1, push(msg("c1", 3, None)));
    assert_eq!(chat.unread(), 2, "not watching: the panel is closed");
    // Watching: all seen, and said over the socket once.
    let mut out = vec![];
    chat.watch(true, &mut out);
    assert_eq!(short(&out), ["read 3"]);
    assert_eq!(chat.unread(), 0);
    let mut out = vec![];
    chat.watch(true, &mut out);
    assert!(short(&out).is_empty(), "nothing new, nothing said");
    // While watching, a new message is read as it comes.
    assert_eq!(
        at(&mut chat, 2, push(msg("c1", 4, None))),
        ["received 4", "read 4"]
    );
    assert_eq!(chat.unread(), 0);
    // Not watching (the page hidden): unread again, nothing said.
    chat.watch(false, &mut vec![]);
    assert_eq!(at(&mut chat, 3, push(msg("c1", 5, None))), ["received 5"]);
    assert_eq!(chat.unread(), 1);
}

#[test]
fn what_the_customer_read_in_another_tab_or_before_a_reload_is_not_unread() {
    let mut chat = Chat::default();
    let mut loaded = page(
        Some("c1"),
        vec![
            msg("c1", 1, Some("a")),
            msg("c1", 2, None),
            msg("c1", 3, None),
        ],
        false,
    );
    loaded.customer_read_seq = 2;
    check_from(
        &mut chat,
        vec![
            S::Start("tok", "cust", &["connect"]),
            S::Do(ChatInput::Opened, &["auth tok", "wake 10000"]),
            S::Do(ready(Some("c1"), 3), &["fetch 0", "wake 25000"]),
            S::Do(fetched(0, loaded), &[]),
        ],
    );
    assert_eq!(chat.unread(), 1);
    // Watching tells the server of 3 only: it knew of 2.
    let mut out = vec![];
    chat.watch(true, &mut out);
    assert_eq!(short(&out), ["read 3"]);
}

#[test]
fn read_waits_for_a_ready_socket() {
    let mut chat = live(vec![msg("c1", 1, None)]);
    at(&mut chat, 0, ChatInput::Closed(1006));
    let mut out = vec![];
    chat.watch(true, &mut out);
    assert!(!short(&out).iter().any(|e| e.starts_with("read")));
    assert_eq!(chat.unread(), 0, "seen on screen, even offline");
    at(&mut chat, 1_000, ChatInput::Wake);
    at(&mut chat, 1_001, ChatInput::Opened);
    let said = at(&mut chat, 1_002, ready(Some("c1"), 1));
    assert!(said.contains(&"read 1".to_owned()), "{said:?}");
}

#[test]
fn the_page_goes_out_once_per_session_on_a_ready_socket() {
    let mut chat = Chat::default();
    let mut out = vec![];
    chat.step(
        T0,
        0.5,
        ChatInput::Navigate("https://shop.example/cart".into()),
        &mut out,
    );
    assert!(short(&out).is_empty(), "no socket yet: remembered");
    check_from(
        &mut chat,
        vec![
            S::Start("tok", "cust", &["connect"]),
            S::Do(ChatInput::Opened, &["auth tok", "wake 10000"]),
            S::Do(
                ready(None, 0),
                &["fetch 0", "page https://shop.example/cart", "wake 25000"],
            ),
        ],
    );
    assert_eq!(
        at(
            &mut chat,
            1,
            ChatInput::Navigate("https://shop.example/cart".into())
        ),
        Vec::<String>::new(),
        "the same page again: nothing"
    );
    assert_eq!(
        at(
            &mut chat,
            2,
            ChatInput::Navigate("https://shop.example/pay".into())
        ),
        ["page https://shop.example/pay"]
    );
    // A new session (another customer) is told where the page is.
    chat.stop(&mut vec![]);
    check_from(
        &mut chat,
        vec![
            S::Start("tok2", "cust2", &["connect", "wake off"]),
            S::Do(ChatInput::Opened, &["auth tok2", "wake 10000"]),
            S::Do(
                ready(None, 0),
                &["fetch 0", "page https://shop.example/pay", "wake 25000"],
            ),
        ],
    );
}
