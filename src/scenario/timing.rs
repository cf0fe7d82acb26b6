//! How long a scenario's traces can last, checked when the file is loaded.
//!
//! Timestamps are nanoseconds in a `u64`, and a trace is laid out backwards from the moment it is
//! sent, so a trace must fit between 1970 and now; far earlier than that, sums of absurd durations
//! used to wrap and give spans that end before they start. This module estimates, from the
//! scenario alone, the longest trace it can draw (every `count` at its max, every retry taken with
//! its full backoff, latencies at their means, children one after another, or side by side under
//! `parallel`) and refuses a scenario
//! whose traces would last longer than [`MAX_TRACE_DURATION_MS`] (one day, a generous bound for an
//! agent's turn), pointing at the value that breaks it. Latency tails cannot be bounded from the
//! scenario (a log-normal has no maximum), so the generator also clamps every sampled duration to
//! the same limit and saturates its sums (the trace synthesis); the check here is what keeps such
//! clamping rare.
//!
//! Estimating at the tails (p99.9 latencies) was the rejected alternative: multiplied by a count's
//! maximum it refuses reasonable scenarios for traces no run would ever draw.

use super::failures::Failures;
use super::model::{Count, Distribution, Latency, Step};
use super::span_type::SpanType;

/// The longest a trace may last, and the longest any one span or backoff may be drawn: one day.
pub const MAX_TRACE_DURATION_MS: f64 = 86_400_000.0;

/// The mean of a latency model, in ms (the original's jitter model is centred on its mean).
pub fn mean_latency_ms(latency: &Latency) -> f64 {
    match latency {
        Latency::Jitter(j) => j.mean_ms,
        Latency::Distribution(d) => mean(d),
    }
    .max(0.0)
}

/// The mean of a distribution ([`Distribution::mean`]), but the largest value for a categorical,
/// also inside a mixture: a categorical latency is a short list of values a user chose, and any of
/// them may be drawn every time.
fn mean(d: &Distribution) -> f64 {
    match d {
        Distribution::Categorical { values, .. } => {
            values.iter().filter_map(|v| v.as_f64()).fold(0.0, f64::max)
        }
        Distribution::Mixture { components } => {
            let total: f64 = components.iter().map(|(w, _)| w).sum();
            components.iter().map(|(w, c)| w * mean(c)).sum::<f64>() / total
        }
        other => other.mean().unwrap_or(0.0),
    }
}

/// The gaps between the attempts of a fully retried step, in ms, at their largest jitter.
pub fn total_backoff_ms(step: &Step) -> f64 {
    let Some(retry) = &step.retry else {
        return 0.0;
    };
    (1..retry.max_attempts)
        .map(|k| {
            retry.backoff_base_ms
                * retry.backoff_multiplier.powi(k as i32 - 1)
                * (1.0 + retry.backoff_jitter)
        })
        .sum()
}

/// The longest one instance of `step` lasts (with its attempts and children), in ms, as the
/// generator lays it out: a span stretches to hold its children, attempts and their backoffs
/// follow one another, an MCP tool call holds its attempts and then its children.
pub fn worst_case_duration_ms(step: &Step) -> f64 {
    let attempts = step.retry.as_ref().map_or(1, |r| r.max_attempts) as f64;
    let instances = step
        .children
        .iter()
        .filter(|c| c.probability > 0.0 && c.count.max() > 0)
        .map(|c| (count_max(&c.count), worst_case_duration_ms(c)));
    // Parallel children start together (within a stagger of milliseconds): the longest counts.
    let children: f64 = if step.wiring.parallel {
        instances.map(|(_, d)| d).fold(0.0, f64::max)
    } else {
        instances.map(|(n, d)| n * d).sum()
    };
    let own = mean_latency_ms(&step.latency);
    let backoff = total_backoff_ms(step);
    if let Some(failures) = &step.failures {
        return failures_duration_ms(step, failures, own.max(children), backoff);
    }
    if step.span_type == SpanType::McpToolExecute {
        attempts * own + backoff + children
    } else {
        attempts * own.max(children) + backoff
    }
}

/// The longest one LLM call with `failures:` lasts: every attempt taken, each as long as its
/// timeout when that is longer, each gap as long as the backoff and the mean retry-after; twice
/// that after a hallucinated tool call (the re-planning call).
fn failures_duration_ms(step: &Step, failures: &Failures, one: f64, backoff: f64) -> f64 {
    let attempts = f64::from(failures.max_attempts(step.retry.as_ref().map(|r| r.max_attempts)));
    let timeout = failures
        .timeout
        .as_ref()
        .filter(|t| t.probability > 0.0)
        .map_or(0.0, |t| t.after_ms);
    let retry_after = failures
        .rate_limit
        .as_ref()
        .map_or(0.0, |r| mean(&r.retry_after_ms).max(0.0));
    let call = attempts * one.max(timeout) + backoff + (attempts - 1.0) * retry_after;
    if failures.hallucinated_tool_call > 0.0 {
        2.0 * call
    } else {
        call
    }
}

fn count_max(count: &Count) -> f64 {
    count.max() as f64
}

/// What breaks the time budget, and where: `(key path below the step, message)`.
pub struct Overrun {
    /// Index of the step in [`Step::walk`] order.
    pub step: usize,
    /// The key under the step that is at fault (`latency`, `retry.backoff_base_ms`), or empty for
    /// the step as a whole.
    pub key: &'static str,
    pub message: String,
}

/// Every value that makes a trace of `root` last longer than [`MAX_TRACE_DURATION_MS`]: a step's
/// own latency or backoffs if those alone are too long, else the innermost step whose instances
/// together are.
pub fn overruns(root: &Step) -> Vec<Overrun> {
    let steps = root.walk();
    let mut out = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let latency = mean_latency_ms(&step.latency);
        if too_long(latency) {
            out.push(Overrun {
                step: i,
                key: "latency",
                message: format!(
                    "a mean latency of {} is longer than the limit of one day for a whole trace",
                    human(latency)
                ),
            });
        }
        let backoff = total_backoff_ms(step);
        if too_long(backoff) {
            out.push(Overrun {
                step: i,
                key: "retry.backoff_base_ms",
                message: format!(
                    "the backoffs between attempts add up to {}, longer than the limit of one day \
                     for a whole trace",
                    human(backoff)
                ),
            });
        }
    }
    if out.is_empty() && too_long(worst_case_duration_ms(root)) {
        // The innermost step that overruns: its children alone do not.
        let (i, step) = steps
            .iter()
            .enumerate()
            .rev()
            .find(|(_, s)| too_long(worst_case_duration_ms(s)))
            .unwrap_or((0, &steps[0]));
        out.push(Overrun {
            step: i,
            key: "",
            message: format!(
                "one instance of this step can last {} (every count at its max, every retry \
                 taken, latencies at their means), longer than the limit of one day for a \
                 whole trace",
                human(worst_case_duration_ms(step))
            ),
        });
    }
    out
}

/// Beyond the limit, or not a number at all (infinite backoffs times zero attempts).
fn too_long(ms: f64) -> bool {
    ms.is_nan() || ms > MAX_TRACE_DURATION_MS
}

/// A duration in ms, in the largest unit that keeps it readable.
fn human(ms: f64) -> String {
    const UNITS: [(f64, &str); 5] = [
        (365.25 * 86_400_000.0, "years"),
        (86_400_000.0, "days"),
        (3_600_000.0, "hours"),
        (60_000.0, "minutes"),
        (1_000.0, "seconds"),
    ];
    if !ms.is_finite() {
        return "forever".into();
    }
    for (unit, name) in UNITS {
        if ms >= unit {
            let x = ms / unit;
            return if x >= 1e4 {
                format!("about {x:.1e} {name}")
            } else {
                format!("about {x:.2} {name}")
            };
        }
    }
    format!("{ms:.0} ms")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Jitter, LoadOptions, decode};

    fn step(yaml: &str) -> Step {
        decode(yaml, "t.yaml", "t", &LoadOptions::default())
            .unwrap_or_else(|d| panic!("{d}"))
            .0
            .root
    }

    #[test]
    fn an_llm_call_with_failures_lasts_its_timeouts_and_retry_afters() {
        let root = step(
            "root:
  latency: 1
  children:
    - type: llm.call
      latency: 100
      failures: {rate_limit: {probability: 0.1, retry_after_ms: 1000}, timeout: {probability: 0.1, after_ms: 5000}}
",
        );
        // Three attempts (no retry block) of 5 s each, with two retry-afters of 1 s between.
        assert_eq!(worst_case_duration_ms(&root.children[0]), 17_000.0);
        // Three attempts that may each last a day: refused at the step.
        let long = "root:
  children:
    - type: llm.call
      retry: {max_attempts: 3}
      failures: {timeout: {probability: 0.1, after_ms: 86400000}}
";
        let e = decode(long, "t.yaml", "t", &LoadOptions::default()).unwrap_err();
        assert!(
            e.to_string().contains("root.children[0]: one instance"),
            "{e}"
        );
    }

    #[test]
    fn the_worst_case_follows_the_layout() {
        let root = step(
            "root:
  latency: 10
  children:
    - latency: 100
      count: {min: 1, max: 3}
    - type: mcp.tool.execute
      latency: 50
      retry: {max_attempts: 3, backoff_base_ms: 100, backoff_multiplier: 2, backoff_jitter: 0.5}
",
        );
        // Three 100 ms children, then three 50 ms attempts with 150 + 300 ms of backoff.
        assert_eq!(worst_case_duration_ms(&root), 300.0 + 150.0 + 450.0);
        assert!(overruns(&root).is_empty());
    }

    #[test]
    fn parallel_children_count_once_the_longest() {
        let yaml = |parallel: bool| {
            format!(
                "root:\n  latency: 10\n  parallel: {parallel}\n  children:\n    - name: a\n      latency: 100\n      count: {{min: 1, max: 3}}\n    - name: b\n      latency: 250\n"
            )
        };
        assert_eq!(worst_case_duration_ms(&step(&yaml(false))), 550.0);
        assert_eq!(worst_case_duration_ms(&step(&yaml(true))), 250.0);
    }

    #[test]
    fn a_long_tree_is_blamed_on_its_innermost_overrunning_step() {
        let mut root = step(
            "root:
  children:
    - latency: 100
      children:
        - latency: 3600000
          count: 24
",
        );
        assert!(overruns(&root).is_empty(), "exactly one day fits");
        root.children[0].children[0].count = Count::Fixed(25);
        let found = overruns(&root);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].step, found[0].key), (1, ""));
        assert!(
            found[0].message.contains("about 1.04 days"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn huge_values_are_refused_where_they_are_written() {
        let mut root = step(
            "root:
  retry: {max_attempts: 3}
  children:
    - latency: 100
",
        );
        assert!(overruns(&root).is_empty());
        root.retry.as_mut().unwrap().backoff_base_ms = 1.0e18;
        root.children[0].latency = Latency::Jitter(Jitter {
            mean_ms: 1.0e13,
            ..Jitter::default()
        });
        let found: Vec<_> = overruns(&root)
            .into_iter()
            .map(|o| (o.step, o.key))
            .collect();
        assert_eq!(found, vec![(0, "retry.backoff_base_ms"), (1, "latency")]);
    }
}
