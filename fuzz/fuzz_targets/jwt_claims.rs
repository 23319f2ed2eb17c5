//! A token payload, signed with the HS256 fixture key, through the claim checks.
//! The body and its invariants: `trustchat_server::fuzzing::jwt_claims`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trustchat_server::fuzzing::jwt_claims(data));
