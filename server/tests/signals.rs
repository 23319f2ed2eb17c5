//! Typing and read signals over real sockets, both ways: what the agent's
//! console and the customer's widget hear, how often, and that nobody
//! signals into a conversation that is not theirs.

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]

mod common;

use futures_util::SinkExt as _;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use common::live::{Live, Socket};

async fn send_frame(socket: &mut Socket, frame: Value) {
    socket
        .0
        .send(WsMessage::Text(frame.to_string().into()))
        .await
        .unwrap();
}

/// The next frame that is not a conversation's status (`opened`) or the
/// app's availability (pushed to the app's sockets whenever an agent comes
/// online: tests/availability.rs covers it).
async fn past_status(socket: &mut Socket) -> Value {
    loop {
        let frame = socket.frame().await;
        if frame["type"] != "conversation" && frame["type"] != "availability" {
            return frame;
        }
    }
}

fn identified(name: &str, email: &str) -> Value {
    json!({"user": {"name": name, "email": email}})
}

#[tokio::test]
async fn typing_reaches_the_other_side_once_for_a_burst() {
    let live = Live::start().await;
    live.add_agent("alice@support.example", "Alice Agent").await;
    let alice = live.login("alice@support.example").await;
    let mut console = live.console(&alice).await;
    let (ada, _) = live
        .customer(identified("Ada Lovelace", "ada@example.com"))
        .await;
    let mut widget = live.widget(&ada).await;
    let sent = widget.send_message("hello").await;
    let conversation = sent["message"]["conversation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    console.next_of("message").await;

    // The customer types three times in a row, then sends: the agent hears
    // one typing notice, then the message.
    for _ in 0..3 {
        send_frame(&mut widget, json!({"type": "typing"})).await;
    }
    widget.send_message("my order is late").await;
    assert_eq!(
        console.frame().await,
        json!({"type": "typing", "conversation_id": conversation, "author": "customer"})
    );
    let next = console.frame().await;
    assert_eq!(next["type"], "message", "{next}");
    assert_eq!(next["message"]["body"], "my order is late");

    // The agent types: the customer hears who, once, then the reply.
    for _ in 0..3 {
        send_frame(
            &mut console,
            json!({"type": "typing", "conversation_id": conversation}),
        )
        .await;
    }
    // A ping after them: the typing frames were handled before its pong.
    send_frame(&mut console, json!({"type": "ping"})).await;
    assert_eq!(console.next_of("pong").await, json!({"type": "pong"}));
    let (status, _) = live
        .post(
            &alice,
            &format!("/conversations/{conversation}/messages"),
            json!({"body": "Looking into it"}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        past_status(&mut widget).await,
        json!({"type": "typing", "author": "agent", "name": "Alice Agent"})
    );
    let next = past_status(&mut widget).await;
    assert_eq!(next["type"], "message", "{next}");
    assert_eq!(next["message"]["body"], "Looking into it");
}

#[tokio::test]
async fn an_agent_signals_only_into_conversations_routed_to_them() {
    let live = Live::start().await;
    live.add_agent("alice@support.example", "Alice").await;
    live.add_agent("bob@support.example", "Bob").await;
    let alice = live.login("alice@support.example").await;
    let bob = live.login("bob@support.example").await;
    let mut bobs = live.console(&bob).await;
    let (grace, _) = live
        .customer(identified("Grace Hopper", "grace@example.com"))
        .await;
    let mut widget = live.widget(&grace).await;
    let sent = widget.send_message("for Bob").await;
    let conversation = sent["message"]["conversation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    bobs.next_of("message").await;

    // Alice (online, but not this conversation's agent) types and marks it
    // read, and names one that does not exist: the customer hears nothing
    // of it; the first frame they get is Bob's reply.
    let mut alices = live.console(&alice).await;
    for id in [
        conversation.as_str(),
        "00000000-0000-4000-8000-000000000000",
    ] {
        send_frame(
            &mut alices,
            json!({"type": "typing", "conversation_id": id}),
        )
        .await;
    }
    send_frame(&mut alices, json!({"type": "ping"})).await;
    alices.next_of("pong").await;
    let (status, _) = live
        .post(
            &alice,
            &format!("/conversations/{conversation}/read"),
            json!({"seq": 1}),
        )
        .await;
    assert_eq!(status, 204);
    live.post(
        &bob,
        &format!("/conversations/{conversation}/messages"),
        json!({"body": "Bob here"}),
    )
    .await;
    let first = past_status(&mut widget).await;
    assert_eq!(first["type"], "message", "{first}");
    assert_eq!(first["message"]["body"], "Bob here");
    // A frame the console does not know is refused as before.
    send_frame(&mut alices, json!({"type": "typing"})).await;
    alices.closed_with(1007).await;
}

#[tokio::test]
async fn read_markers_move_forward_and_each_side_sees_seen() {
    let live = Live::start().await;
    live.add_agent("alice@support.example", "Alice").await;
    let alice = live.login("alice@support.example").await;
    let mut console = live.console(&alice).await;
    let (ada, _) = live
        .customer(identified("Ada Lovelace", "ada@example.com"))
        .await;
    let mut widget = live.widget(&ada).await;
    let sent = widget.send_message("question").await;
    let conversation = sent["message"]["conversation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    console.next_of("message").await;

    // The agent reads the customer's message: the widget hears "read".
    let (status, _) = live
        .post(
            &alice,
            &format!("/conversations/{conversation}/read"),
            json!({"seq": 1}),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        past_status(&mut widget).await,
        json!({"type": "read", "seq": 1})
    );
    // And a widget that reconnects reads it with the history.
    let page: Value = live
        .http
        .get(live.url("/api/v1/messages?after=0"))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["agent_read_seq"], 1);

    // Two replies; the customer reads the first, then both (the marker
    // never passes the last message), then an old seq again (nothing).
    for body in ["answer one", "answer two"] {
        live.post(
            &alice,
            &format!("/conversations/{conversation}/messages"),
            json!({"body": body}),
        )
        .await;
    }
    send_frame(&mut widget, json!({"type": "read", "seq": 2})).await;
    assert_eq!(
        console.next_of("read").await,
        json!({"type": "read", "conversation_id": conversation, "seq": 2})
    );
    send_frame(&mut widget, json!({"type": "read", "seq": 99})).await;
    send_frame(&mut widget, json!({"type": "read", "seq": 1})).await;
    assert_eq!(
        console.next_of("read").await,
        json!({"type": "read", "conversation_id": conversation, "seq": 3})
    );
    let detail = live
        .get(&alice, &format!("/conversations/{conversation}"))
        .await
        .1;
    assert_eq!(detail["conversation"]["customer_read_seq"], 3);
    // The stale read made no frame: the next one the console gets is the
    // customer's next message.
    widget.send_message("thanks").await;
    let next = console.frame().await;
    assert_eq!(next["type"], "message", "{next}");

    // A read frame without a seq is answered with an error, not a close.
    send_frame(&mut widget, json!({"type": "read"})).await;
    let error = widget.next_of("error").await;
    assert_eq!(error["code"], "invalid_request");
    widget.send_message("still connected").await;
}
