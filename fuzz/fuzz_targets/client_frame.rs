//! A text frame of the customer's (first and later) and the agent's WebSocket.
//! The body and its invariants: `trustchat_server::fuzzing::client_frame`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trustchat_server::fuzzing::client_frame(data));
