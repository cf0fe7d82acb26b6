//! The input's statistics beside the fitted scenario's `check` statistics, per span name: what
//! `import --report` prints, so that a user sees at once where the fit departs from the input.
//!
//! It compares the numbers `check` already reports (occurrences per trace, latency p50/p95/p99,
//! error rate, mean attempts) rather than computing a separate goodness-of-fit score: those are
//! what a person reads off a dashboard.

use super::emit::Row;
use crate::check::Report;
use std::fmt::Write as _;

/// One line per span name: input │ fit.
pub fn render(rows: &[Row], fit: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<36} {:>15} {:>19} {:>19} {:>19} {:>15} {:>11}",
        "span name (input | fit)",
        "per trace",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "error rate",
        "attempts"
    );
    for row in rows {
        let f = fit.span_types.iter().find(|s| s.name == row.name);
        let pair = |a: f64, b: Option<f64>, d: usize| match b {
            Some(b) => format!("{a:.d$} | {b:.d$}"),
            None => format!("{a:.d$} | -"),
        };
        let fp = f.map(|f| f.latency_ms);
        let attempts = match row.mean_attempts {
            Some(a) => {
                let fit_attempts = fit
                    .retries
                    .iter()
                    .find(|r| r.name == row.name || r.name == format!("{}.attempt", row.name))
                    .map(|r| r.mean_attempts);
                pair(a, fit_attempts, 2)
            }
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "{:<36} {:>15} {:>19} {:>19} {:>19} {:>15} {:>11}",
            row.name,
            pair(row.per_trace, f.map(|f| f.per_trace), 3),
            pair(row.latency[0], fp.map(|p| p.p50), 1),
            pair(row.latency[1], fp.map(|p| p.p95), 1),
            pair(row.latency[2], fp.map(|p| p.p99), 1),
            pair(row.error_rate, f.map(|f| f.error_rate), 3),
            attempts
        );
    }
    out
}
