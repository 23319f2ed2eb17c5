//! A JWK set document (`jwks_url`, `jwks_file`) into a key ring; keys that sign verify their own signatures.
//! The body and its invariants: `trustchat_server::fuzzing::jwks`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trustchat_server::fuzzing::jwks(data));
