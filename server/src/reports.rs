//! The authentication report: how many conversations were trusted from
//! the start, upgraded mid-chat, identified but untrusted, and anonymous,
//! per day (in an IANA time zone) and app, with their customer messages
//! by trust and their satisfaction ratings.
//!
//! Days are cut in the asked time zone with the IANA database (`jiff`,
//! bundled): a day is from its local midnight (or the first instant
//! after, where midnight does not exist) to the next one, so days around
//! a DST change have 23 or 25 hours. The store counts per day in SQL;
//! this module makes the days, sums, averages and the CSV. Pure but for
//! [`report`].

use jiff::civil::Date;
use jiff::tz::TimeZone;
use trustchat_protocol::{AuthCounts, AuthDay, AuthReport};

use crate::store::{ReportDay, ReportRow, Store, StoreResult};

/// The longest range a report covers, in days.
pub const MAX_DAYS: i64 = 366;

/// A report asked for, checked.
#[derive(Debug, Clone)]
pub struct ReportRange {
    /// The first day.
    pub from: Date,
    /// The last day (included).
    pub to: Date,
    /// Where days are cut.
    pub tz: TimeZone,
}

/// Why a report cannot be made: the parameter at fault and what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRange {
    /// `from`, `to` or `tz`.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

impl ReportRange {
    /// Checks `from`, `to` (`YYYY-MM-DD`) and `tz` (an IANA name such as
    /// `Europe/Paris`; `UTC` too).
    pub fn parse(from: &str, to: &str, tz: &str) -> Result<ReportRange, BadRange> {
        let date = |field: &'static str, value: &str| {
            parse_date(value).ok_or_else(|| BadRange {
                field,
                message: format!("{field} must be a date as YYYY-MM-DD"),
            })
        };
        let from = date("from", from)?;
        let to = date("to", to)?;
        if to < from {
            return Err(BadRange {
                field: "to",
                message: "to must not be before from".into(),
            });
        }
        let days = i64::from((to - from).get_days()) + 1;
        if days > MAX_DAYS {
            return Err(BadRange {
                field: "to",
                message: format!("a report covers at most {MAX_DAYS} days"),
            });
        }
        let tz = if tz.is_empty() || tz.len() > 64 {
            None
        } else {
            TimeZone::get(tz).ok()
        }
        .ok_or_else(|| BadRange {
            field: "tz",
            message: "tz must be an IANA time zone name, such as Europe/Paris or America/New_York"
                .into(),
        })?;
        Ok(ReportRange { from, to, tz })
    }

    /// Each day of the range with its first and next day's first
    /// millisecond in the time zone.
    pub fn days(&self) -> Vec<ReportDay> {
        let mut days = Vec::new();
        let mut day = self.from;
        let start_of = |date: Date| {
            date.to_zoned_datetime(self.tz.clone())
                .map(|zoned| zoned.timestamp().as_millisecond())
                .unwrap_or(i64::MAX)
        };
        let mut start = start_of(day);
        while day <= self.to {
            let Ok(next) = day.tomorrow() else { break };
            let end = start_of(next);
            days.push(ReportDay {
                date: day.to_string(),
                start_ms: start,
                end_ms: end,
            });
            day = next;
            start = end;
        }
        days
    }
}

/// A strict `YYYY-MM-DD`.
fn parse_date(value: &str) -> Option<Date> {
    let bytes = value.as_bytes();
    let shape = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shape {
        return None;
    }
    value.parse::<Date>().ok()
}

/// The report over `range`, for `apps` (`None`: every app).
pub async fn report(
    store: &dyn Store,
    range: &ReportRange,
    apps: Option<&[String]>,
) -> StoreResult<AuthReport> {
    Ok(build(
        store.authentication_report(&range.days(), apps).await?,
    ))
}

/// The report of the store's rows: one per day and app, and the totals.
pub fn build(rows: Vec<ReportRow>) -> AuthReport {
    let mut totals = AuthCounts::default();
    let (mut rating_sum, mut rating_count) = (0, 0);
    let days = rows
        .into_iter()
        .map(|row| {
            totals.trusted_from_start += row.trusted_from_start;
            totals.upgraded += row.upgraded;
            totals.identified += row.identified;
            totals.anonymous += row.anonymous;
            totals.messages_trusted += row.messages_trusted;
            totals.messages_untrusted += row.messages_untrusted;
            rating_sum += row.rating_sum;
            rating_count += row.rating_count;
            AuthDay {
                date: row.date,
                app_id: row.app_id,
                counts: AuthCounts {
                    trusted_from_start: row.trusted_from_start,
                    upgraded: row.upgraded,
                    identified: row.identified,
                    anonymous: row.anonymous,
                    messages_trusted: row.messages_trusted,
                    messages_untrusted: row.messages_untrusted,
                    csat_average: average(row.rating_sum, row.rating_count),
                    csat_count: row.rating_count,
                },
            }
        })
        .collect();
    totals.csat_average = average(rating_sum, rating_count);
    totals.csat_count = rating_count;
    AuthReport { days, totals }
}

/// The mean, to two decimals; `None` of nothing.
fn average(sum: i64, count: i64) -> Option<f64> {
    if count == 0 {
        return None;
    }
    #[allow(clippy::cast_precision_loss)] // Counts far below 2^52.
    let mean = sum as f64 / count as f64;
    Some((mean * 100.0).round() / 100.0)
}

/// The CSV header line.
pub const CSV_HEADER: &str = "date,app_id,trusted_from_start,upgraded,identified,anonymous,messages_trusted,messages_untrusted,csat_average,csat_count";

/// The report's rows as CSV, header first, one line each ending in `\n`
/// (what spreadsheets and `split("\n")` both read); an empty average is
/// an empty field. Nothing needs quoting: dates, numbers and app ids
/// (`a-z`, `0-9`, `_`, `-`).
pub fn csv(report: &AuthReport) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for day in &report.days {
        let c = &day.counts;
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            day.date,
            day.app_id,
            c.trusted_from_start,
            c.upgraded,
            c.identified,
            c.anonymous,
            c.messages_trusted,
            c.messages_untrusted,
            c.csat_average.map(|a| a.to_string()).unwrap_or_default(),
            c.csat_count,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_follow_the_time_zone_across_dst() {
        // New York springs forward on 2026-03-08: that day has 23 hours.
        let range = ReportRange::parse("2026-03-07", "2026-03-09", "America/New_York").unwrap();
        let days = range.days();
        let hours: Vec<i64> = days
            .iter()
            .map(|d| (d.end_ms - d.start_ms) / 3_600_000)
            .collect();
        assert_eq!(hours, [24, 23, 24]);
        assert_eq!(days[0].date, "2026-03-07");
        // Midnight in New York in winter is 05:00 UTC.
        assert_eq!(days[0].start_ms, 1_772_859_600_000);
        // Days touch: no gap, no overlap.
        assert!(days.windows(2).all(|w| w[0].end_ms == w[1].start_ms));
    }

    #[test]
    fn bad_ranges_say_what_to_fix() {
        let field =
            |from: &str, to: &str, tz: &str| ReportRange::parse(from, to, tz).unwrap_err().field;
        assert_eq!(field("2026-1-01", "2026-01-02", "UTC"), "from");
        assert_eq!(field("2026-02-30", "2026-03-01", "UTC"), "from");
        assert_eq!(field("2026-01-02", "2026-01-01", "UTC"), "to");
        assert_eq!(field("2025-01-01", "2026-01-02", "UTC"), "to");
        assert_eq!(field("2026-01-01", "2026-01-02", "Mars/Olympus"), "tz");
        assert_eq!(field("2026-01-01", "2026-01-02", "+02:00"), "tz");
        assert!(ReportRange::parse("2026-01-01", "2026-12-31", "Asia/Kolkata").is_ok());
    }

    #[test]
    fn totals_and_averages() {
        let row = |date: &str, app: &str, sum, count| ReportRow {
            date: date.into(),
            app_id: app.into(),
            trusted_from_start: 1,
            upgraded: 2,
            identified: 3,
            anonymous: 4,
            messages_trusted: 5,
            messages_untrusted: 6,
            rating_sum: sum,
            rating_count: count,
        };
        let report = build(vec![
            row("2026-01-01", "a", 9, 2),
            row("2026-01-02", "a", 0, 0),
        ]);
        assert_eq!(report.days[0].counts.csat_average, Some(4.5));
        assert_eq!(report.days[1].counts.csat_average, None);
        assert_eq!(report.totals.anonymous, 8);
        assert_eq!(report.totals.csat_average, Some(4.5));
        assert_eq!(report.totals.csat_count, 2);
        let csv = csv(&report);
        assert!(!csv.contains('\r'));
        let lines: Vec<&str> = csv.split_terminator('\n').collect();
        assert_eq!(lines[0], CSV_HEADER);
        assert_eq!(lines[1], "2026-01-01,a,1,2,3,4,5,6,4.5,2");
        assert_eq!(lines[2], "2026-01-02,a,1,2,3,4,5,6,,0");
    }
}
