//! The one clock of the server: every "now" is read here, and nowhere
//! else, so that time has one source and one set of units. Times cross the
//! code as integers whose name or doc says their unit: Unix seconds for
//! customers, sessions and token claims, Unix milliseconds for
//! conversations, messages and agents.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix seconds.
pub fn now_secs() -> i64 {
    i64::try_from(since_epoch().as_secs()).unwrap_or(i64::MAX)
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    i64::try_from(since_epoch().as_millis()).unwrap_or(i64::MAX)
}

/// Now, in Unix seconds, unsigned, as token claims count them.
pub fn now_unix() -> u64 {
    since_epoch().as_secs()
}

fn since_epoch() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}
