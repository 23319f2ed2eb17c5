//! `X-Forwarded-For` and `Accept-Language`, the request headers the server
//! parses itself. The body and its invariants:
//! `trustchat_server::fuzzing::headers`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trustchat_server::fuzzing::headers(data));
