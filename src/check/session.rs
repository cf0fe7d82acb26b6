//! `check` for sessions and evaluations: turns per session, input tokens and latency by turn
//! index, score distributions, and one session as a timeline of turns.
//!
//! A session scenario is simulated as a run makes it: `--samples N` sessions, each drawn by the
//! generator's own session machinery ([`SessionPlan::start`], [`generate_turn`]) from the same
//! streams, so the report describes the sessions `scenario --seed S --count N` sends. Each turn
//! also feeds the ordinary per-span statistics. Statistics by turn index stop at
//! [`MAX_TURN_INDEX`], so a scenario with thousands of turns keeps the report readable and the
//! memory bounded; keeping one row per index whatever the length was rejected for that reason.

use super::{Accumulator, WaterfallSpan};
use crate::generate::session::SessionPlan;
use crate::generate::{AttrValue, Iteration, Plan, Trace, generate_turn};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Turn indices reported one by one; later turns are counted in the last row.
pub const MAX_TURN_INDEX: usize = 32;

/// What `check` says about sessions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionReport {
    pub sessions: u64,
    pub turns_mean: f64,
    pub turns_max: u64,
    /// Per turn index: turns seen, mean LLM input tokens, mean root latency (ms).
    pub by_turn: Vec<TurnRow>,
    /// The first session with at least the mean number of turns, as a timeline.
    pub timeline: Vec<WaterfallSpan>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TurnRow {
    pub turns: u64,
    pub input_tokens: f64,
    pub latency_ms: f64,
}

/// What `check` says about one evaluation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EvaluationReport {
    pub name: String,
    pub count: u64,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    /// Scores per label.
    pub labels: BTreeMap<String, u64>,
}

/// Running sums of the evaluations seen.
#[derive(Default)]
pub(super) struct EvaluationTally {
    by_name: BTreeMap<String, Scores>,
}

/// Count, sum, min, max and labels of one evaluation's scores.
type Scores = (u64, f64, f64, f64, BTreeMap<String, u64>);

impl EvaluationTally {
    pub fn add(&mut self, plan: &Plan, trace: &Trace) {
        for record in &trace.evaluations {
            let e = &plan.evaluations.all[record.evaluation as usize];
            let entry = self.by_name.entry(plan.str(e.name).to_string()).or_insert((
                0,
                0.0,
                f64::INFINITY,
                f64::NEG_INFINITY,
                BTreeMap::new(),
            ));
            entry.0 += 1;
            entry.1 += record.score;
            entry.2 = entry.2.min(record.score);
            entry.3 = entry.3.max(record.score);
            if let Some(label) = e.label(record.score) {
                *entry.4.entry(plan.str(label).to_string()).or_default() += 1;
            }
        }
    }

    pub fn report(self) -> Vec<EvaluationReport> {
        self.by_name
            .into_iter()
            .map(|(name, (count, sum, min, max, labels))| EvaluationReport {
                name,
                count,
                mean: sum / count.max(1) as f64,
                min,
                max,
                labels,
            })
            .collect()
    }
}

/// Simulates `samples` sessions of `plan`, feeding every turn to `acc` and `evaluations`.
pub(super) fn simulate(
    plan: &Plan,
    session: &SessionPlan,
    (seed, samples): (u64, u64),
    stop: &dyn Fn() -> bool,
    (acc, evaluations): (&mut Accumulator, &mut EvaluationTally),
) -> (u64, SessionReport) {
    let mut iteration = Iteration::default();
    let mut report = SessionReport::default();
    let mut sums: Vec<(u64, f64, f64)> = Vec::new();
    let mut turns_total = 0u64;
    let mut done = 0;
    let mut index = 0u64;
    while done < samples && !stop() {
        let mut state = session.start(seed, done);
        let mut start_ns = super::END_UNIX_NS;
        let session_start = start_ns;
        let mut timeline = Vec::new();
        while !state.done() {
            let tokens = generate_turn(
                plan,
                state.turn_stream(),
                0,
                start_ns,
                &state.turn,
                &mut iteration,
            );
            let earliest = iteration.earliest_start().unwrap_or(start_ns);
            iteration.delay(start_ns.saturating_sub(earliest));
            let k = (state.turn.index as usize).min(MAX_TURN_INDEX - 1);
            if sums.len() <= k {
                sums.resize(k + 1, (0, 0.0, 0.0));
            }
            for (t, trace) in iteration.traces().iter().enumerate() {
                acc.add_trace(plan, trace, index, t);
                evaluations.add(plan, trace);
                let root = &trace.spans[0];
                sums[k].0 += 1;
                sums[k].1 += input_tokens(plan, trace);
                sums[k].2 += root.duration_ns() as f64 / 1e6;
                timeline.push(WaterfallSpan {
                    name: format!("turn {}", state.turn.index),
                    depth: 0,
                    start_ms: (root.start_ns - session_start) as f64 / 1e6,
                    duration_ms: root.duration_ns() as f64 / 1e6,
                    error: root.error.is_some(),
                    service: None,
                });
            }
            index += 1;
            let end = iteration.latest_end().unwrap_or(start_ns);
            state.advance(session, tokens);
            start_ns = end.saturating_add(session.think_ns(&mut state));
        }
        turns_total += state.turns as u64;
        report.turns_max = report.turns_max.max(state.turns as u64);
        done += 1;
        if report.timeline.is_empty() && state.turns as f64 >= session.mean_turns() {
            report.timeline = timeline;
        }
    }
    report.sessions = done;
    report.turns_mean = turns_total as f64 / done.max(1) as f64;
    report.by_turn = sums
        .into_iter()
        .map(|(turns, tokens, latency)| TurnRow {
            turns,
            input_tokens: tokens / turns.max(1) as f64,
            latency_ms: latency / turns.max(1) as f64,
        })
        .collect();
    (done, report)
}

/// The input tokens of a trace's spans.
fn input_tokens(plan: &Plan, trace: &Trace) -> f64 {
    let key = plan.derived.input_tokens;
    trace
        .spans
        .iter()
        .flat_map(|s| trace.attrs_of(s))
        .filter(|a| a.key == key)
        .map(|a| match a.value {
            AttrValue::Int(i) => i as f64,
            AttrValue::Double(d) => d,
            _ => 0.0,
        })
        .sum()
}

impl SessionReport {
    pub fn to_json(&self) -> Value {
        json!({
            "sessions": self.sessions,
            "turns_per_session": {"mean": self.turns_mean, "max": self.turns_max},
            "by_turn": self.by_turn.iter().enumerate().map(|(k, r)| json!({
                "turn": k,
                "turns": r.turns,
                "input_tokens_mean": r.input_tokens,
                "latency_ms_mean": r.latency_ms,
            })).collect::<Vec<_>>(),
        })
    }

    pub fn render(&self) -> String {
        let mut out = format!(
            "\nSessions: {}, turns per session mean {:.2}, max {}\n",
            self.sessions, self.turns_mean, self.turns_max
        );
        out.push_str("  turn  sessions  input tokens  root ms\n");
        for (k, r) in self.by_turn.iter().enumerate() {
            let turn = if k + 1 == MAX_TURN_INDEX {
                format!("{k}+")
            } else {
                k.to_string()
            };
            out.push_str(&format!(
                "  {turn:>4}  {:>8}  {:>12.0}  {:>7.1}\n",
                r.turns, r.input_tokens, r.latency_ms
            ));
        }
        out
    }
}

impl EvaluationReport {
    pub fn to_json(&self) -> Value {
        json!({
            "count": self.count,
            "mean": self.mean,
            "min": self.min,
            "max": self.max,
            "labels": self.labels,
        })
    }

    pub fn render(&self) -> String {
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(l, n)| format!("{l} {:.1}%", 100.0 * *n as f64 / self.count.max(1) as f64))
            .collect();
        format!(
            "  {}: {} scores, mean {:.3}, min {:.3}, max {:.3}{}\n",
            self.name,
            self.count,
            self.mean,
            self.min,
            self.max,
            if labels.is_empty() {
                String::new()
            } else {
                format!(" ({})", labels.join(", "))
            }
        )
    }
}
