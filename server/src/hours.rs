//! Office hours: `[apps.hours]`, when an app's support is open.
//!
//! ```toml
//! [apps.hours]
//! timezone = "Europe/Paris"              # IANA
//! mon = ["09:00-12:30", "13:30-18:00"]   # each day: ranges, local time
//! tue = ["09:00-18:00"]
//! sat = []                               # or absent: closed all day
//! holidays = ["2026-12-25", "2027-01-01"]
//! ```
//!
//! A range is `HH:MM-HH:MM`, start before end, within one day (`24:00`
//! ends at midnight); ranges of a day do not overlap. Times are local in
//! `timezone` (the IANA database, `jiff`): a range in a DST gap starts at
//! the first instant after it. An app without `[apps.hours]` is always
//! open. Pure: no IO, tested by data.

use std::collections::BTreeSet;

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::Deserialize;

/// `[apps.hours]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoursConfig {
    /// IANA time zone of the times below.
    pub timezone: String,
    /// Monday's ranges.
    #[serde(default)]
    pub mon: Vec<String>,
    /// Tuesday's ranges.
    #[serde(default)]
    pub tue: Vec<String>,
    /// Wednesday's ranges.
    #[serde(default)]
    pub wed: Vec<String>,
    /// Thursday's ranges.
    #[serde(default)]
    pub thu: Vec<String>,
    /// Friday's ranges.
    #[serde(default)]
    pub fri: Vec<String>,
    /// Saturday's ranges.
    #[serde(default)]
    pub sat: Vec<String>,
    /// Sunday's ranges.
    #[serde(default)]
    pub sun: Vec<String>,
    /// Days closed all day, `YYYY-MM-DD` in `timezone`.
    #[serde(default)]
    pub holidays: Vec<String>,
}

/// Office hours, checked.
#[derive(Debug, Clone)]
pub struct Hours {
    tz: TimeZone,
    /// Monday first: minutes since midnight, [start, end).
    week: [Vec<(u16, u16)>; 7],
    holidays: BTreeSet<Date>,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl HoursConfig {
    /// Checks the table; the message says what to fix.
    pub fn parse(&self) -> Result<Hours, String> {
        let tz = TimeZone::get(&self.timezone).map_err(|_| {
            format!(
                "timezone {:?} must be an IANA time zone name, such as Europe/Paris",
                self.timezone
            )
        })?;
        let written = [
            &self.mon, &self.tue, &self.wed, &self.thu, &self.fri, &self.sat, &self.sun,
        ];
        let mut week: [Vec<(u16, u16)>; 7] = Default::default();
        for (day, ranges) in written.into_iter().enumerate() {
            let mut parsed = ranges
                .iter()
                .map(|range| {
                    parse_range(range).ok_or_else(|| {
                        format!(
                            "{} range {range:?} must be HH:MM-HH:MM with the start before the end",
                            DAYS[day]
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            parsed.sort_unstable();
            if parsed.windows(2).any(|w| w[1].0 < w[0].1) {
                return Err(format!("{} ranges overlap", DAYS[day]));
            }
            week[day] = parsed;
        }
        let holidays = self
            .holidays
            .iter()
            .map(|day| {
                day.parse::<Date>()
                    .ok()
                    .filter(|_| day.len() == 10)
                    .ok_or_else(|| format!("holiday {day:?} must be a date as YYYY-MM-DD"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Hours { tz, week, holidays })
    }
}

/// `HH:MM-HH:MM` as minutes since midnight.
fn parse_range(range: &str) -> Option<(u16, u16)> {
    let (start, end) = range.split_once('-')?;
    let (start, end) = (minutes(start.trim())?, minutes(end.trim())?);
    (start < end).then_some((start, end))
}

/// `HH:MM` (00:00 to 24:00) as minutes since midnight.
fn minutes(time: &str) -> Option<u16> {
    let (h, m) = time.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    let total = h * 60 + m;
    (m < 60 && total <= 24 * 60).then_some(total)
}

impl Hours {
    /// Whether support is open at `now`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        let local = now.to_zoned_datetime(self.tz.clone());
        let date = local.date();
        if self.holidays.contains(&date) {
            return false;
        }
        let minute =
            u16::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute())).unwrap_or(0);
        self.week[weekday_index(date.weekday())]
            .iter()
            .any(|(start, end)| (*start..*end).contains(&minute))
    }

    /// When support opens next after `now` (now itself when open);
    /// `None` when no range opens within a year.
    pub fn next_open(&self, now: Timestamp) -> Option<Timestamp> {
        if self.is_open(now) {
            return Some(now);
        }
        let mut date = now.to_zoned_datetime(self.tz.clone()).date();
        for _ in 0..=366 {
            if !self.holidays.contains(&date) {
                for (start, _) in &self.week[weekday_index(date.weekday())] {
                    let time = Time::new(
                        i8::try_from(start / 60).ok()?,
                        i8::try_from(start % 60).ok()?,
                        0,
                        0,
                    )
                    .ok()?;
                    let at = date
                        .to_datetime(time)
                        .to_zoned_datetime(self.tz.clone())
                        .ok()?
                        .timestamp();
                    if at > now {
                        return Some(at);
                    }
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }
}

fn weekday_index(day: Weekday) -> usize {
    usize::try_from(day.to_monday_zero_offset()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(toml: &str) -> Result<Hours, String> {
        toml::from_str::<HoursConfig>(toml).unwrap().parse()
    }

    fn at(instant: &str) -> Timestamp {
        instant.parse().unwrap()
    }

    const PARIS: &str = r#"
timezone = "Europe/Paris"
mon = ["09:00-12:30", "13:30-18:00"]
tue = ["09:00-18:00"]
wed = ["09:00-18:00"]
thu = ["09:00-18:00"]
fri = ["09:00-17:00"]
holidays = ["2026-12-25"]
"#;

    #[test]
    fn open_within_local_ranges_closed_outside_and_on_holidays() {
        let paris = hours(PARIS).unwrap();
        // Monday 30 Nov 2026, Paris is UTC+1.
        for (instant, open) in [
            ("2026-11-30T07:59:59Z", false), // 08:59:59 local
            ("2026-11-30T08:00:00Z", true),  // 09:00
            ("2026-11-30T11:29:59Z", true),  // 12:29:59
            ("2026-11-30T11:30:00Z", false), // 12:30: lunch
            ("2026-11-30T12:30:00Z", true),  // 13:30
            ("2026-11-30T17:00:00Z", false), // 18:00
            ("2026-12-05T10:00:00Z", false), // Saturday
            ("2026-12-25T10:00:00Z", false), // Friday, a holiday
        ] {
            assert_eq!(paris.is_open(at(instant)), open, "{instant}");
        }
    }

    #[test]
    fn next_open_skips_weekends_holidays_and_lunch_in_local_time() {
        let paris = hours(PARIS).unwrap();
        for (now, next) in [
            // Open: now.
            ("2026-11-30T10:00:00Z", "2026-11-30T10:00:00Z"),
            // Lunch: 13:30 local.
            ("2026-11-30T11:45:00Z", "2026-11-30T12:30:00Z"),
            // Friday evening: Monday 09:00 local.
            ("2026-12-04T18:00:00Z", "2026-12-07T08:00:00Z"),
            // Christmas Eve evening: the 25th is a holiday, then the weekend.
            ("2026-12-24T18:00:00Z", "2026-12-28T08:00:00Z"),
            // Across the spring DST change (29 March 2027): 09:00 is UTC+2.
            ("2027-03-27T12:00:00Z", "2027-03-29T07:00:00Z"),
        ] {
            assert_eq!(paris.next_open(at(now)), Some(at(next)), "{now}");
        }
        let never = hours("timezone = \"UTC\"").unwrap();
        assert_eq!(never.next_open(at("2026-11-30T10:00:00Z")), None);
        assert!(!never.is_open(at("2026-11-30T10:00:00Z")));
    }

    #[test]
    fn bad_tables_say_what_to_fix() {
        for (toml, expected) in [
            ("timezone = \"Paris\"", "timezone \"Paris\" must be an IANA"),
            (
                "timezone = \"UTC\"\nmon = [\"9:00-17:00\"]",
                "mon range \"9:00-17:00\"",
            ),
            (
                "timezone = \"UTC\"\ntue = [\"17:00-09:00\"]",
                "start before the end",
            ),
            ("timezone = \"UTC\"\nwed = [\"09:00-24:01\"]", "wed range"),
            (
                "timezone = \"UTC\"\nthu = [\"09:00-12:00\", \"11:00-13:00\"]",
                "thu ranges overlap",
            ),
            (
                "timezone = \"UTC\"\nholidays = [\"25/12/2026\"]",
                "holiday \"25/12/2026\"",
            ),
        ] {
            let error = hours(toml).unwrap_err();
            assert!(error.contains(expected), "{toml}: {error}");
        }
        assert!(hours("timezone = \"UTC\"\nsun = [\"00:00-24:00\"]").is_ok());
    }
}
