//! `trustchat.toml` text into a validated config, and its inline identity keys.
//! The body and its invariants: `trustchat_server::fuzzing::config`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trustchat_server::fuzzing::config(data));
