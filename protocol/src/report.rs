//! `GET /api/v1/reports/authentication`: how many conversations were
//! trusted from the start, upgraded mid-chat, identified but untrusted, and
//! anonymous, per day (in the asked time zone) and app.
//!
//! Each conversation counts once, on the day it opened, in exactly one
//! category:
//!
//! - `trusted_from_start`: its first customer message was trusted;
//! - `upgraded`: its first customer message was not, a later one was;
//! - `identified`: the customer gave a name and an email or phone, and no
//!   message was trusted;
//! - `anonymous`: everything else.
//!
//! `messages_trusted` and `messages_untrusted` count the customer messages
//! of those conversations; `csat_average` and `csat_count` their ratings.

use serde::{Deserialize, Serialize};

/// The counts of one day and app, or of the whole report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuthCounts {
    /// Conversations whose first customer message was trusted.
    pub trusted_from_start: i64,
    /// Conversations trusted only after their first customer message.
    pub upgraded: i64,
    /// Conversations of a customer who gave a name and an email or phone,
    /// none of whose messages was trusted.
    pub identified: i64,
    /// The rest.
    pub anonymous: i64,
    /// Trusted customer messages.
    pub messages_trusted: i64,
    /// Untrusted customer messages.
    pub messages_untrusted: i64,
    /// The mean satisfaction rating (1 to 5), `null` with no ratings.
    pub csat_average: Option<f64>,
    /// How many conversations were rated.
    pub csat_count: i64,
}

/// One row: a day (in the report's time zone) and an app that had
/// conversations that day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuthDay {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// The app.
    pub app_id: String,
    /// Its counts.
    #[serde(flatten)]
    pub counts: AuthCounts,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuthReport {
    /// By date, then app.
    pub days: Vec<AuthDay>,
    /// The sums over every row (the average over every rating).
    pub totals: AuthCounts,
}
