//! The rate a run reports: what its schedule asked for, what it achieved, and whether it fell
//! behind.
//!
//! The target is the schedule's own: the arrivals it had due over the run (traffic shape and
//! ramp included, this shard's share) divided by the time they were due in, so a ramp-up or
//! bursts do not read as a shortfall or a surplus. A count-bound run is measured over its
//! schedule's whole span (up to where the next arrival would have been due), not up to its last
//! arrival, so ten traces at 1/s read as 1/s and not 1.11/s. Whether the run kept up is measured,
//! not inferred from the two rates: each worker notes how late it started each iteration, and
//! only a lateness beyond [`BEHIND`] is reported as falling behind. Comparing achieved with
//! target (the alternative this replaced) blamed the machine for the shape of the schedule, and
//! printed a percentage for runs of one trace. A backfill has no target (it is not paced in real
//! time); it reports its throughput.

use super::{RunSettings, Schedule};
use std::time::Duration;

/// A run that started an iteration this much later than it was due fell behind its schedule.
const BEHIND: Duration = Duration::from_millis(250);

/// Why generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum End {
    /// Every iteration of the count was handed out.
    Count,
    /// The duration was reached (or nothing more was due before it).
    Deadline,
    /// A signal, or an endpoint given up on.
    Stopped,
}

/// The rate part of a run's summary.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Rate {
    /// The rate the schedule asked for, in iterations per second, averaged over the run; `None`
    /// when the run was not paced in real time.
    pub target_rate: Option<f64>,
    /// Iterations per second achieved (a backfill: made).
    pub achieved_rate: f64,
    /// The iterations the schedule had due over the run (this shard's share; an expected count
    /// for Poisson arrivals).
    pub scheduled_iterations: Option<f64>,
    /// How late, at worst, an iteration started after its due instant, in seconds.
    pub behind_s: Option<f64>,
    /// Whether that lateness exceeded a quarter of a second.
    pub fell_behind: bool,
    /// The history window of a backfill, in seconds.
    pub backfill_s: Option<f64>,
}

/// What `iterations` made in `generating` (by a run that ended for `end`, with `behind` its worst
/// lateness) amount to.
pub(super) fn measure(
    settings: &RunSettings,
    end: End,
    iterations: u64,
    generating: Duration,
    behind: Duration,
) -> Rate {
    let generating_s = generating.as_secs_f64();
    let per_s = |n: f64, s: f64| round(n / s.max(1e-9));
    if let Some(window) = settings.backfill {
        return Rate {
            achieved_rate: per_s(iterations as f64, generating_s),
            backfill_s: Some(window.as_secs_f64()),
            ..Rate::default()
        };
    }
    if settings.pace.rate.is_none() {
        return Rate {
            achieved_rate: per_s(iterations as f64, generating_s),
            ..Rate::default()
        };
    }
    let schedule = Schedule::new(settings.pace.clone(), settings.seed);
    let (asked_s, window_s) = match end {
        End::Count => {
            let asked = schedule
                .time_for(settings.count as f64)
                .unwrap_or(generating_s);
            (asked, asked.max(generating_s))
        }
        End::Deadline => {
            let window = settings
                .duration
                .map_or(generating_s, |d| d.as_secs_f64().min(generating_s));
            (window, window)
        }
        End::Stopped => (generating_s, generating_s),
    };
    let scheduled = scheduled(settings, &schedule, end, asked_s);
    Rate {
        target_rate: Some(per_s(scheduled, asked_s)),
        achieved_rate: per_s(iterations as f64, window_s),
        scheduled_iterations: Some(round(scheduled)),
        behind_s: Some((behind.as_secs_f64() * 1000.0).round() / 1000.0),
        fell_behind: behind > BEHIND,
        backfill_s: None,
    }
}

/// The iterations this shard's schedule had due in the first `asked_s` seconds of a run that
/// ended for `end`: exact for evenly spaced arrivals (iteration `i` is due where `Λ` reaches
/// `i`), the expected count for Poisson ones.
fn scheduled(settings: &RunSettings, schedule: &Schedule, end: End, asked_s: f64) -> f64 {
    let (k, n) = settings.shard;
    let expected = schedule.cumulative(asked_s);
    if settings.pace.arrivals == super::Arrivals::Poisson {
        return expected.min(settings.count as f64) / n as f64;
    }
    let total = match end {
        End::Count => settings.count,
        // Due strictly before the deadline.
        End::Deadline => (expected - 1e-9).ceil().max(0.0) as u64,
        // Due by the time the run stopped.
        End::Stopped => (expected + 1e-9).floor() as u64 + 1,
    }
    .min(settings.count);
    // Indices below `total` that are ≡ k (mod n).
    (total.saturating_add(n - 1 - k) / n) as f64
}

impl Rate {
    /// The summary's rate lines, if it has any; `traces` is the number of iterations made.
    pub fn render(&self, iterations: u64) -> String {
        if let Some(window) = self.backfill_s {
            return format!(
                "Backfill: {iterations} traces over the past {}, made at {} traces/s (history has no target rate)\n",
                seconds_text(window),
                rate_text(self.achieved_rate),
            );
        }
        let Some(target) = self.target_rate else {
            return String::new();
        };
        let scheduled = self.scheduled_iterations.unwrap_or(0.0);
        if iterations < 2 || scheduled < 2.0 {
            let traces = if iterations == 1 { "trace" } else { "traces" };
            return format!(
                "Rate: {} traces/s targeted; {iterations} {traces}, too few to measure a rate\n",
                rate_text(target)
            );
        }
        let share = 100.0 * self.achieved_rate / target.max(1e-300);
        let mut out = format!(
            "Rate: {} traces/s achieved, {} targeted ({share:.1}%)\n",
            rate_text(self.achieved_rate),
            rate_text(target),
        );
        let behind = self.behind_s.unwrap_or(0.0);
        if self.fell_behind && share < 99.0 {
            out += &format!(
                "  below target: fell up to {behind:.1} s behind the schedule; the machine or the endpoint could not keep up\n"
            );
        } else if self.fell_behind {
            out += &format!(
                "  fell up to {behind:.1} s behind the schedule at times, and caught up\n"
            );
        }
        out
    }
}

/// `x` to three significant digits, and at least one decimal.
pub(super) fn round(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return if x.is_finite() { 0.0 } else { x };
    }
    let decimals = (2 - x.abs().log10().floor() as i32).clamp(1, 300);
    let scale = 10f64.powi(decimals);
    let rounded = (x * scale).round() / scale;
    if rounded.is_finite() { rounded } else { x }
}

/// A rate for people, to three significant digits without trailing zeros: `11346`, `40.5`,
/// `20`, `1.33`, `0.0167`, `1e-7`.
pub(super) fn rate_text(x: f64) -> String {
    let a = x.abs();
    if a != 0.0 && a < 0.001 {
        let text = format!("{x:.2e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        return format!("{}e{exponent}", trim_zeros(mantissa));
    }
    let decimals = if a >= 100.0 || a == 0.0 {
        0
    } else {
        (2 - a.log10().floor() as i32).max(0) as usize
    };
    trim_zeros(&format!("{x:.decimals$}")).to_string()
}

/// `20.50` → `20.5`, `2.00` → `2`.
fn trim_zeros(number: &str) -> &str {
    if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.')
    } else {
        number
    }
}

/// `90 s`, `2.5 h`.
fn seconds_text(s: f64) -> String {
    match s {
        s if s >= 86_400.0 => format!("{} d", round(s / 86_400.0)),
        s if s >= 3_600.0 => format!("{} h", round(s / 3_600.0)),
        s if s >= 60.0 => format!("{} min", round(s / 60.0)),
        s => format!("{} s", round(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{Pace, Pattern};

    fn settings(pace: Pace, count: u64, duration: Option<Duration>) -> RunSettings {
        RunSettings {
            count,
            pace,
            duration,
            ..crate::workload::tests::settings()
        }
    }

    fn at(rate: f64) -> Pace {
        Pace {
            rate: Some(rate),
            ..Pace::unpaced()
        }
    }

    #[test]
    fn numbers_are_rounded_for_people() {
        assert_eq!(round(1.0 / 0.75), 1.33);
        assert_eq!(round(11345.83), 11345.8);
        assert_eq!(round(1e-7), 1e-7);
        assert_eq!(rate_text(4.0 / 3.0), "1.33");
        assert_eq!(rate_text(11345.83), "11346");
        assert_eq!(rate_text(0.016666), "0.0167");
        assert_eq!(rate_text(1e-7), "1e-7");
        assert_eq!(rate_text(1.5e-7), "1.5e-7");
        assert_eq!(rate_text(20.0), "20");
        assert_eq!(rate_text(0.5), "0.5");
        assert_eq!(rate_text(0.0), "0");
    }

    #[test]
    fn a_count_bound_run_that_kept_up_is_on_target() {
        // Ten traces at 2/s: the last is due at 4.5 s; the schedule spans 5 s.
        let s = settings(at(2.0), 10, None);
        let rate = measure(
            &s,
            End::Count,
            10,
            Duration::from_millis(4550),
            Duration::ZERO,
        );
        assert_eq!((rate.target_rate, rate.achieved_rate), (Some(2.0), 2.0));
        assert!(!rate.fell_behind);
        assert!(rate.render(10).contains("(100.0%)"), "{}", rate.render(10));
        // The same run, a second late at the end.
        let late = measure(
            &s,
            End::Count,
            10,
            Duration::from_secs(6),
            Duration::from_secs(1),
        );
        assert!(late.fell_behind && late.achieved_rate < 2.0);
        assert!(
            late.render(10).contains("below target: fell up to 1.0 s"),
            "{}",
            late.render(10)
        );
    }

    #[test]
    fn a_shard_is_measured_against_its_own_iterations() {
        // Ten traces at 1/s in shards of four: shard 1 has indices 1, 5 and 9.
        let s = RunSettings {
            shard: (1, 4),
            ..settings(at(1.0), 10, None)
        };
        let rate = measure(&s, End::Count, 3, Duration::from_secs(9), Duration::ZERO);
        assert_eq!(rate.scheduled_iterations, Some(3.0));
        assert_eq!(rate.achieved_rate, rate.target_rate.unwrap());
    }

    #[test]
    fn the_target_includes_the_ramp_and_the_shape() {
        let ramp = Pace {
            ramp_up: Duration::from_secs(5),
            ..at(100.0)
        };
        // Λ(10 s) = 250 + 500.
        let s = settings(ramp, u64::MAX, Some(Duration::from_secs(10)));
        let rate = measure(
            &s,
            End::Deadline,
            750,
            Duration::from_secs(10),
            Duration::ZERO,
        );
        assert_eq!(rate.target_rate, Some(75.0));
        let text = rate.render(750);
        assert!(
            text.contains("(100.0%)") && !text.contains("below"),
            "{text}"
        );

        let bursty = Pace {
            pattern: Pattern::Bursty {
                period: Duration::from_secs(10),
                duty: 0.5,
                factor: 3.0,
            },
            ..at(10.0)
        };
        let s = settings(bursty, u64::MAX, Some(Duration::from_secs(20)));
        let rate = measure(
            &s,
            End::Deadline,
            400,
            Duration::from_secs(20),
            Duration::ZERO,
        );
        assert_eq!(rate.target_rate, Some(20.0));
        assert!(rate.render(400).contains("(100.0%)"));
    }

    #[test]
    fn one_trace_or_a_backfill_shows_no_percentage() {
        let s = settings(at(0.6), 1, None);
        let rate = measure(&s, End::Count, 1, Duration::from_millis(40), Duration::ZERO);
        let text = rate.render(1);
        assert!(
            text.contains("too few to measure") && !text.contains('%'),
            "{text}"
        );

        let s = RunSettings {
            backfill: Some(Duration::from_secs(3600)),
            ..settings(at(0.6), 1000, None)
        };
        let rate = measure(
            &s,
            End::Count,
            1000,
            Duration::from_millis(100),
            Duration::ZERO,
        );
        assert_eq!(rate.target_rate, None);
        let text = rate.render(1000);
        assert!(
            text.starts_with("Backfill: 1000 traces over the past 1 h, made at 10000 traces/s"),
            "{text}"
        );
        assert!(!text.contains('%'), "{text}");
    }
}
