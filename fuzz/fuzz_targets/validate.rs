//! A form field through every rule of `trustchat_protocol::validate`.
//! The body and its invariants: `trustchat_server::fuzzing::validate`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trustchat_server::fuzzing::validate(data));
