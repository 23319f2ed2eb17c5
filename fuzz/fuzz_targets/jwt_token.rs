//! A whole identity token through `Verifier::verify` and `--signature-only`, against every fixture key.
//! The body and its invariants: `trustchat_server::fuzzing::jwt_token`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trustchat_server::fuzzing::jwt_token(data));
