//! A JSON request body as every type the API takes, with its handler's checks.
//! The body and its invariants: `trustchat_server::fuzzing::request_body`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trustchat_server::fuzzing::request_body(data));
