//! When a trusted session's trust ends, and when to ask the website for a
//! fresh identity token before it does. Pure arithmetic over an injected
//! clock: the driver reads the time (`Date.now()` in a browser) and passes it
//! in, so every decision here is tested natively.
//!
//! The refresh timer fires [`LEAD_MS`] before the trust ends, or, when less
//! than [`SHORT_MS`] remain, once 80% of the remaining time has passed. Both
//! leave at most [`LEAD_MS`] when it fires, which is how [`refresh_due`]
//! tells a timer that fired on time from one that fired early (a delay
//! clamped to `setTimeout`'s range): the latter is simply armed again.

/// How long before the trust ends the widget asks for a fresh token.
pub const LEAD_MS: i64 = 30_000;

/// Below this much remaining trust, the timer fires at 80% of it instead.
pub const SHORT_MS: i64 = 150_000;

/// The longest delay `setTimeout` takes (2^31 - 1 ms, about 24 days).
const MAX_DELAY_MS: i64 = i32::MAX as i64;

/// A timer the driver arms; it feeds [`crate::core::Input::TimerFired`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// Time to fetch a fresh token: a little before `until`, in Unix seconds.
    Refresh(i64),
    /// The trust ends at `until`, in Unix seconds.
    Lapse(i64),
}

impl Deadline {
    /// Milliseconds from `now` (Unix milliseconds) until the timer fires,
    /// within `setTimeout`'s range.
    pub fn delay_ms(self, now: i64) -> u32 {
        let delay = match self {
            Deadline::Refresh(until) => {
                let left = remaining(now, until);
                if left > SHORT_MS {
                    left - LEAD_MS
                } else {
                    left / 5 * 4
                }
            }
            Deadline::Lapse(until) => remaining(now, until),
        };
        u32::try_from(delay.clamp(0, MAX_DELAY_MS)).unwrap_or(0)
    }
}

/// Milliseconds of trust left at `now` (Unix ms) when it ends at `until`
/// (Unix s); negative once it has ended.
pub fn remaining(now: i64, until: i64) -> i64 {
    until.saturating_mul(1000).saturating_sub(now)
}

/// Whether a refresh timer that fires at `now` is on time.
pub fn refresh_due(now: i64, until: i64) -> bool {
    remaining(now, until) <= LEAD_MS
}

/// Whether trust that ends at `until` has ended at `now`.
pub fn ended(now: i64, until: i64) -> bool {
    remaining(now, until) <= 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;
    const NOW_S: i64 = NOW / 1000;

    /// `(deadline, expected delay in ms)`.
    fn check(cases: &[(Deadline, u32)]) {
        for (deadline, expected) in cases {
            assert_eq!(deadline.delay_ms(NOW), *expected, "{deadline:?}");
        }
    }

    #[test]
    fn refresh_fires_30_s_before_or_at_80_percent() {
        use Deadline::Refresh;
        check(&[
            (Refresh(NOW_S + 600), 570_000),
            (Refresh(NOW_S + 151), 121_000),
            (Refresh(NOW_S + 150), 120_000),
            (Refresh(NOW_S + 100), 80_000),
            (Refresh(NOW_S + 35), 28_000),
            (Refresh(NOW_S + 5), 4_000),
            (Refresh(NOW_S), 0),
            (Refresh(NOW_S - 60), 0),
            (Refresh(NOW_S + 40 * 86_400), i32::MAX as u32),
        ]);
    }

    #[test]
    fn lapse_fires_when_trust_ends() {
        use Deadline::Lapse;
        check(&[
            (Lapse(NOW_S + 600), 600_000),
            (Lapse(NOW_S + 1), 1_000),
            (Lapse(NOW_S), 0),
            (Lapse(NOW_S - 1), 0),
        ]);
    }

    #[test]
    fn a_timer_on_time_is_due_and_an_early_one_is_not() {
        // Wherever the refresh timer was armed, it leaves at most LEAD_MS.
        for left_s in [5, 35, 100, 149, 150, 151, 600, 86_400] {
            let armed = Deadline::Refresh(NOW_S + left_s).delay_ms(NOW);
            assert!(
                refresh_due(NOW + i64::from(armed), NOW_S + left_s),
                "{left_s} s"
            );
        }
        // A clamped delay fires early: not due, armed again.
        assert!(!refresh_due(NOW, NOW_S + 40 * 86_400));
        assert!(!refresh_due(NOW, NOW_S + 31));
        assert!(refresh_due(NOW, NOW_S + 30));
    }

    #[test]
    fn trust_ends_at_until() {
        let cases = [(NOW_S + 1, false), (NOW_S, true), (NOW_S - 1, true)];
        for (until, expected) in cases {
            assert_eq!(ended(NOW, until), expected, "{until}");
        }
    }
}
