//! `check`: a Monte Carlo run of a compiled scenario, summarised, with nothing sent.
//!
//! The iterations are drawn by the very generator a run uses ([`crate::generate::generate`]), from
//! the same per-iteration random streams (run seed, iteration index), so `check --seed S
//! --samples N` describes exactly the first N iterations that `scenario --seed S --count N` sends:
//! the same spans, durations and errors. What it reports is measured on those span records, as a
//! backend would measure the received spans: per span name, occurrences per trace, latency
//! percentiles and error rate; for the root, also spans per trace; the attempts of every retried
//! step; token totals; and the scenario's static worst case.
//!
//! Percentiles use the nearest-rank method (the smallest value with at least q of the values at
//! or below it). Memory stays bounded whatever `--samples` is: every statistic is accumulated as
//! the traces stream past ([`Accumulator`]; counts, rates and means exact). Durations are kept, so
//! that percentiles are values actually drawn and compare exactly with a run's, until
//! [`EXACT_VALUES`] of them (16 MiB) have been seen; from then on the percentiles come from
//! log-bucket sketches ([`sketch`]) within 0.5% of exact, and the report says so. Keeping every
//! duration regardless was the rejected alternative: 4 million samples took half a gigabyte.
//! The typical trace is the median one of an evenly spread subset of at most 32,768 traces.
//!
//! A stop request (Ctrl-C, checked between iterations) ends the simulation early; the report
//! then covers the iterations simulated.

pub mod failures;
pub mod llm;
pub mod plot;
pub mod services;
pub mod session;
pub mod sketch;

use crate::generate::{AttrValue, Iteration, Plan, SpanRecord, Trace, generate};
use crate::scenario::{Scenario, SpanType, Step, worst_case_spans};
use serde_json::{Map, Value, json};
pub use sketch::Quantiles;
use std::collections::{BTreeMap, HashMap};

/// The end time given to every simulated iteration (durations do not depend on it).
const END_UNIX_NS: u64 = 1_700_000_000_000_000_000;

/// p50, p95 and p99 of a set of values.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

/// Mean, median, 99th percentile and maximum of a count.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Spread {
    pub mean: f64,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// What was drawn for spans of one name.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanTypeReport {
    /// The emitted span name.
    pub name: String,
    pub spans: u64,
    /// Mean occurrences per trace.
    pub per_trace: f64,
    pub latency_ms: Percentiles,
    pub error_rate: f64,
    /// The durations in ms (for the histograms).
    pub latencies_ms: Quantiles,
}

/// How many attempts the retry sequences of one span name took.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryReport {
    pub name: String,
    pub sequences: u64,
    /// `ended_after[k-1]`: sequences that stopped after exactly k attempts.
    pub ended_after: Vec<u64>,
    pub mean_attempts: f64,
}

/// The sum of a token attribute over every span.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TokenTotal {
    pub total: u64,
    pub per_trace: f64,
}

/// The most a single trace can hold, from the scenario alone.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WorstCase {
    /// Levels of spans, the root being level 1.
    pub depth: u32,
    /// The most child spans one span can have.
    pub fan_out: u64,
    pub spans: u64,
}

/// One span of the typical trace, placed for the waterfall.
#[derive(Clone, Debug, PartialEq)]
pub struct WaterfallSpan {
    pub name: String,
    pub depth: u32,
    pub start_ms: f64,
    pub duration_ms: f64,
    pub error: bool,
    /// Its `service.name`, when the scenario declares services.
    pub service: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub scenario: String,
    pub seed: u64,
    /// Iterations simulated (fewer than asked if `check` was interrupted).
    pub samples: u64,
    pub traces: u64,
    /// Whether the latency percentiles are exact; if not, they are within
    /// [`sketch::RELATIVE_ERROR`] of exact ones.
    pub exact_percentiles: bool,
    pub spans_per_trace: Spread,
    pub root: SpanTypeReport,
    pub span_types: Vec<SpanTypeReport>,
    pub retries: Vec<RetryReport>,
    pub input_tokens: TokenTotal,
    pub output_tokens: TokenTotal,
    pub worst_case: WorstCase,
    /// The trace whose root duration is the median one, in span order.
    pub typical: Vec<WaterfallSpan>,
    /// The service graph (empty without services).
    pub services: Vec<services::ServiceEdge>,
    /// TTFT, cache and reasoning tokens, cost per trace.
    pub llm: llm::LlmReport,
    /// Failed spans by error type, and LLM finish reasons.
    pub failures: failures::FailureCounts,
    /// Sessions, when the scenario has them (a sample is then a session).
    pub session: Option<session::SessionReport>,
    /// The evaluations' scores, by name.
    pub evaluations: Vec<session::EvaluationReport>,
}

/// How many values `check` keeps for exact percentiles (8 bytes each, 16 MiB in all); beyond
/// that, every percentile comes from the sketches.
pub const EXACT_VALUES: u64 = 1 << 21;

/// How many root durations are kept to pick the typical trace from.
const TYPICAL_CANDIDATES: usize = 1 << 15;

/// Per-name accumulation.
#[derive(Default)]
struct Tally {
    durations: Quantiles,
    errors: u64,
}

impl Tally {
    fn add(&mut self, span: &SpanRecord) {
        self.durations.add(span.duration_ns() as f64 / 1e6);
        self.errors += span.error.is_some() as u64;
    }

    fn report(mut self, name: String, traces: u64) -> SpanTypeReport {
        self.durations.sort();
        let spans = self.durations.count();
        let q = &self.durations;
        SpanTypeReport {
            name,
            spans,
            per_trace: spans as f64 / traces.max(1) as f64,
            latency_ms: Percentiles {
                p50: q.quantile(0.50),
                p95: q.quantile(0.95),
                p99: q.quantile(0.99),
            },
            error_rate: self.errors as f64 / spans.max(1) as f64,
            latencies_ms: self.durations,
        }
    }
}

/// A deterministic, evenly spread subset of the traces (every `stride`-th), at most
/// [`TYPICAL_CANDIDATES`]: when full, every other one is let go and the stride doubles.
struct Candidates {
    kept: Vec<(f64, u64, usize)>,
    stride: u64,
    seen: u64,
}

impl Candidates {
    fn offer(&mut self, root_ns: f64, index: u64, t: usize) {
        let n = self.seen;
        self.seen += 1;
        if !n.is_multiple_of(self.stride) {
            return;
        }
        if self.kept.len() == TYPICAL_CANDIDATES {
            let mut position = 0;
            self.kept.retain(|_| {
                position += 1;
                position % 2 == 1
            });
            self.stride *= 2;
            if !n.is_multiple_of(self.stride) {
                return;
            }
        }
        self.kept.push((root_ns, index, t));
    }
}

/// Everything `check` measures, accumulated trace by trace in bounded memory.
struct Accumulator {
    order: Vec<String>,
    tallies: HashMap<String, Tally>,
    root: Tally,
    /// Traces by their number of spans.
    spans_per_trace: BTreeMap<u64, u64>,
    candidates: Candidates,
    attempts_reached: HashMap<String, Vec<u64>>,
    input_tokens: u64,
    output_tokens: u64,
    llm: llm::LlmTally,
    /// Values kept for exact percentiles so far, and how many may be.
    kept: u64,
    budget: u64,
    graph: services::Graph,
    failures: failures::FailureCounts,
}

impl Accumulator {
    fn new(budget: u64) -> Accumulator {
        Accumulator {
            order: Vec::new(),
            tallies: HashMap::new(),
            root: Tally::default(),
            spans_per_trace: BTreeMap::new(),
            candidates: Candidates {
                kept: Vec::new(),
                stride: 1,
                seen: 0,
            },
            attempts_reached: HashMap::new(),
            input_tokens: 0,
            output_tokens: 0,
            llm: llm::LlmTally::default(),
            kept: 0,
            budget,
            graph: services::Graph::default(),
            failures: failures::FailureCounts::default(),
        }
    }

    fn add_trace(&mut self, plan: &Plan, trace: &Trace, index: u64, t: usize) {
        *self
            .spans_per_trace
            .entry(trace.spans.len() as u64)
            .or_default() += 1;
        self.root.add(&trace.spans[0]);
        self.candidates
            .offer(trace.spans[0].duration_ns() as f64, index, t);
        self.graph.add_trace(plan, trace);
        for span in &trace.spans {
            let name = plan.str(span.name);
            match self.tallies.get_mut(name) {
                Some(tally) => tally.add(span),
                None => {
                    let mut tally = Tally::default();
                    tally.add(span);
                    self.tallies.insert(name.to_string(), tally);
                    self.order.push(name.to_string());
                }
            }
            for attr in trace.attrs_of(span) {
                self.add_attribute(name, plan.str(attr.key), attr.value);
            }
        }
        self.llm.end_trace();
        self.failures.add_trace(plan, trace);
        self.kept += trace.spans.len() as u64 + 1;
        if self.kept > self.budget && self.root.durations.exact() {
            self.root.durations.forget_values();
            self.tallies
                .values_mut()
                .for_each(|t| t.durations.forget_values());
            self.llm.forget_values();
        }
    }

    fn add_attribute(&mut self, name: &str, key: &str, value: AttrValue) {
        match (key, value) {
            ("retry.attempt", AttrValue::Int(k)) if k >= 1 => {
                let reached = self.attempts_reached.entry(name.to_string()).or_default();
                let k = k as usize;
                if reached.len() < k {
                    reached.resize(k, 0);
                }
                reached[k - 1] += 1;
            }
            ("gen_ai.usage.input_tokens", AttrValue::Int(n)) => {
                self.input_tokens += n.max(0) as u64
            }
            ("gen_ai.usage.output_tokens", AttrValue::Int(n)) => {
                self.output_tokens += n.max(0) as u64
            }
            _ => self.llm.attribute(key, value),
        }
    }

    /// Mean, nearest-rank p50 and p99, and maximum of the spans per trace.
    fn spread(&self) -> Spread {
        let traces: u64 = self.spans_per_trace.values().sum();
        let total: f64 = self
            .spans_per_trace
            .iter()
            .map(|(&spans, &n)| spans as f64 * n as f64)
            .sum();
        let ranked = |q: f64| {
            let rank = ((q * traces as f64).ceil() as u64).max(1);
            let mut seen = 0;
            for (&spans, &n) in &self.spans_per_trace {
                seen += n;
                if seen >= rank {
                    return spans as f64;
                }
            }
            0.0
        };
        Spread {
            mean: total / traces.max(1) as f64,
            p50: ranked(0.50),
            p99: ranked(0.99),
            max: self.spans_per_trace.keys().last().copied().unwrap_or(0) as f64,
        }
    }

    fn retries(&self) -> Vec<RetryReport> {
        let mut retries: Vec<RetryReport> = self
            .order
            .iter()
            .filter_map(|name| {
                let reached = self.attempts_reached.get(name)?;
                let ended_after: Vec<u64> = (0..reached.len())
                    .map(|k| reached[k] - reached.get(k + 1).copied().unwrap_or(0))
                    .collect();
                let sequences = reached[0];
                let total: u64 = reached.iter().sum();
                Some(RetryReport {
                    name: name.clone(),
                    sequences,
                    ended_after,
                    mean_attempts: total as f64 / sequences.max(1) as f64,
                })
            })
            .collect();
        retries.sort_by(|a, b| a.name.cmp(&b.name));
        retries
    }
}

/// Simulates iterations `0..samples` of `plan` with `seed` and summarises them, stopping early
/// (and summarising what it has) once `stop` says so.
pub fn check(
    scenario: &Scenario,
    plan: &Plan,
    seed: u64,
    samples: u64,
    stop: &dyn Fn() -> bool,
) -> Report {
    simulate(scenario, plan, (seed, samples), stop, EXACT_VALUES)
}

/// [`check`], keeping at most `budget` values for exact percentiles.
fn simulate(
    scenario: &Scenario,
    plan: &Plan,
    (seed, samples): (u64, u64),
    stop: &dyn Fn() -> bool,
    budget: u64,
) -> Report {
    let mut iteration = Iteration::default();
    let mut acc = Accumulator::new(budget);
    let mut evaluations = session::EvaluationTally::default();
    let mut done = 0;
    let mut sessions = None;
    if let Some(plan_session) = &plan.session {
        let (made, report) = session::simulate(
            plan,
            plan_session,
            (seed, samples),
            stop,
            (&mut acc, &mut evaluations),
        );
        (done, sessions) = (made, Some(report));
    }
    while sessions.is_none() && done < samples && !stop() {
        generate(plan, seed, done, 0, END_UNIX_NS, &mut iteration);
        for (t, trace) in iteration.traces().iter().enumerate() {
            acc.add_trace(plan, trace, done, t);
            evaluations.add(plan, trace);
        }
        done += 1;
    }
    let traces = acc.candidates.seen;
    let root_name = SpanType::span_name(scenario.root.span_type, &plan.prefix);
    let typical = typical_trace(plan, seed, &mut acc.candidates.kept, &mut iteration);
    let spans_per_trace = acc.spread();
    let retries = acc.retries();
    let services = acc.graph.report(plan, traces);
    let Accumulator {
        order,
        mut tallies,
        root,
        input_tokens,
        output_tokens,
        llm,
        failures,
        ..
    } = acc;
    Report {
        scenario: scenario.name.clone(),
        seed,
        samples: done,
        traces,
        exact_percentiles: root.durations.exact(),
        spans_per_trace,
        root: root.report(root_name, traces),
        span_types: order
            .iter()
            .map(|name| {
                let tally = tallies.remove(name).unwrap_or_default();
                tally.report(name.clone(), traces)
            })
            .collect(),
        retries,
        input_tokens: TokenTotal {
            total: input_tokens,
            per_trace: input_tokens as f64 / traces.max(1) as f64,
        },
        output_tokens: TokenTotal {
            total: output_tokens,
            per_trace: output_tokens as f64 / traces.max(1) as f64,
        },
        worst_case: WorstCase {
            depth: depth(&scenario.root),
            fan_out: fan_out(&scenario.root),
            spans: worst_case_spans(&scenario.root),
        },
        typical,
        services,
        llm: llm.report(traces),
        failures,
        session: sessions,
        evaluations: evaluations.report(),
    }
}

/// The trace whose root lasted the median duration, regenerated from its seed and index.
fn typical_trace(
    plan: &Plan,
    seed: u64,
    roots: &mut [(f64, u64, usize)],
    iteration: &mut Iteration,
) -> Vec<WaterfallSpan> {
    if roots.is_empty() {
        return Vec::new();
    }
    roots.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (_, index, t) = roots[(roots.len() - 1) / 2];
    generate(plan, seed, index, 0, END_UNIX_NS, iteration);
    iteration
        .traces()
        .get(t)
        .map(|trace| waterfall(plan, trace))
        .unwrap_or_default()
}

/// The spans of `trace` in depth-first order, each at its depth and offset from the root's start.
fn waterfall(plan: &Plan, trace: &Trace) -> Vec<WaterfallSpan> {
    let spans = &trace.spans;
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    for (i, span) in spans.iter().enumerate() {
        if let Some(p) = span.parent {
            children[p as usize].push(i);
        }
    }
    let start = spans[0].start_ns;
    let mut out = Vec::with_capacity(spans.len());
    let mut stack = vec![(0usize, 0u32)];
    while let Some((i, depth)) = stack.pop() {
        let span = &spans[i];
        out.push(WaterfallSpan {
            name: plan.str(span.name).to_string(),
            depth,
            start_ms: (span.start_ns - start) as f64 / 1e6,
            duration_ms: span.duration_ns() as f64 / 1e6,
            error: span.error.is_some(),
            service: services::service_of(plan, span),
        });
        let mut kids = children[i].clone();
        kids.sort_by_key(|&c| std::cmp::Reverse(spans[c].start_ns));
        stack.extend(kids.into_iter().map(|c| (c, depth + 1)));
    }
    out
}

/// Whether a step's retries are attempt spans under one call span (an MCP tool call), per the
/// conventions' table, rather than sibling spans.
fn has_attempt_spans(step: &Step) -> bool {
    crate::conventions::of(step.span_type).attempts.is_some()
}

/// Levels of spans in the deepest trace (an MCP tool step adds its attempt spans' level).
pub fn depth(step: &Step) -> u32 {
    let below = step.children.iter().map(depth).max().unwrap_or(0);
    // A call's SERVER span is a level of its own, with the step's children under it.
    let server = u32::from(step.remote.is_some());
    if has_attempt_spans(step) {
        1 + below.max(1 + server)
    } else {
        1 + server + below
    }
}

/// The most child spans one span can have in any trace.
pub fn fan_out(step: &Step) -> u64 {
    let attempts = |s: &Step| s.retry.as_ref().map_or(1, |r| r.max_attempts as u64);
    let children: u64 = step
        .children
        .iter()
        .map(|c| {
            let spans_per_instance = if has_attempt_spans(c) { 1 } else { attempts(c) };
            (c.count.max() as u64).saturating_mul(spans_per_instance)
        })
        .fold(0, u64::saturating_add);
    let own = if has_attempt_spans(step) {
        attempts(step).saturating_add(children)
    } else {
        children
    };
    step.children.iter().map(fan_out).fold(own, u64::max)
}

fn percentiles_json(p: &Percentiles) -> Value {
    json!({"p50": round3(p.p50), "p95": round3(p.p95), "p99": round3(p.p99)})
}

/// Milliseconds to the microsecond, so JSON stays readable.
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl Report {
    /// The documented JSON shape (docs/validate-and-check.md).
    pub fn to_json(&self) -> Value {
        let mut span_types = Map::new();
        for s in &self.span_types {
            span_types.insert(
                s.name.clone(),
                json!({
                    "spans": s.spans,
                    "per_trace": s.per_trace,
                    "latency_ms": percentiles_json(&s.latency_ms),
                    "error_rate": s.error_rate,
                }),
            );
        }
        let mut retries = Map::new();
        for r in &self.retries {
            let ended: Map<String, Value> = r
                .ended_after
                .iter()
                .enumerate()
                .map(|(k, n)| ((k + 1).to_string(), json!(n)))
                .collect();
            retries.insert(
                r.name.clone(),
                json!({
                    "sequences": r.sequences,
                    "mean_attempts": r.mean_attempts,
                    "ended_after_attempts": ended,
                }),
            );
        }
        let mut report = json!({
            "scenario": self.scenario,
            "seed": self.seed,
            "samples": self.samples,
            "traces": self.traces,
            "exact_percentiles": self.exact_percentiles,
            "spans_per_trace": {
                "mean": self.spans_per_trace.mean,
                "p50": self.spans_per_trace.p50,
                "p99": self.spans_per_trace.p99,
                "max": self.spans_per_trace.max,
            },
            "root": {
                "name": self.root.name,
                "latency_ms": percentiles_json(&self.root.latency_ms),
                "error_rate": self.root.error_rate,
            },
            "worst_case": {
                "depth": self.worst_case.depth,
                "fan_out": self.worst_case.fan_out,
                "spans": self.worst_case.spans,
            },
            "span_types": span_types,
            "retries": retries,
            "tokens": {
                "input": {"total": self.input_tokens.total, "per_trace": self.input_tokens.per_trace},
                "output": {"total": self.output_tokens.total, "per_trace": self.output_tokens.per_trace},
                "cache_read": {"total": self.llm.cache_read_tokens.total, "per_trace": self.llm.cache_read_tokens.per_trace},
                "reasoning": {"total": self.llm.reasoning_tokens.total, "per_trace": self.llm.reasoning_tokens.per_trace},
            },
            "services": services::edges_json(&self.services),
            "failures": self.failures.json(self.traces),
        });
        if let Value::Object(map) = &mut report {
            self.llm.json(map);
        }
        if let Some(session) = &self.session {
            report["session"] = session.to_json();
        }
        if !self.evaluations.is_empty() {
            report["evaluations"] = self
                .evaluations
                .iter()
                .map(|e| (e.name.clone(), e.to_json()))
                .collect::<Map<String, Value>>()
                .into();
        }
        report
    }

    /// A table for people.
    pub fn render(&self) -> String {
        let mut out = format!(
            "Scenario {}: {} iterations ({} traces), seed {}\n\n",
            self.scenario, self.samples, self.traces, self.seed
        );
        let s = &self.spans_per_trace;
        out.push_str(&format!(
            "Spans per trace: mean {:.2}, p50 {}, p99 {}, max {}\n",
            s.mean, s.p50, s.p99, s.max
        ));
        if !self.exact_percentiles {
            out.push_str(&format!(
                "Latency percentiles: estimated (within {}%), too many spans to keep every duration\n",
                sketch::RELATIVE_ERROR * 100.0
            ));
        }
        let w = &self.worst_case;
        out.push_str(&format!(
            "Worst case: {} spans, depth {}, fan-out {}\n",
            w.spans, w.depth, w.fan_out
        ));
        let r = &self.root;
        out.push_str(&format!(
            "Root {}: latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, error rate {:.2}%\n\n",
            r.name,
            r.latency_ms.p50,
            r.latency_ms.p95,
            r.latency_ms.p99,
            r.error_rate * 100.0
        ));
        let width = self
            .span_types
            .iter()
            .map(|s| s.name.len())
            .max()
            .unwrap_or(4)
            .max(9);
        out.push_str(&format!(
            "{:<width$}  {:>9}  {:>10}  {:>10}  {:>10}  {:>7}\n",
            "span name", "per trace", "p50 ms", "p95 ms", "p99 ms", "errors"
        ));
        for s in &self.span_types {
            out.push_str(&format!(
                "{:<width$}  {:>9.3}  {:>10.1}  {:>10.1}  {:>10.1}  {:>6.2}%\n",
                s.name,
                s.per_trace,
                s.latency_ms.p50,
                s.latency_ms.p95,
                s.latency_ms.p99,
                s.error_rate * 100.0
            ));
        }
        if !self.retries.is_empty() {
            out.push_str("\nRetries (sequences ended after k attempts):\n");
            for r in &self.retries {
                let ended: Vec<String> = r
                    .ended_after
                    .iter()
                    .enumerate()
                    .map(|(k, n)| {
                        format!(
                            "{}: {:.1}%",
                            k + 1,
                            100.0 * *n as f64 / r.sequences.max(1) as f64
                        )
                    })
                    .collect();
                out.push_str(&format!(
                    "  {}: {} sequences, mean {:.2} attempts ({})\n",
                    r.name,
                    r.sequences,
                    r.mean_attempts,
                    ended.join(", ")
                ));
            }
        }
        if self.input_tokens.total > 0 || self.output_tokens.total > 0 {
            out.push_str(&format!(
                "\nTokens: input {} ({:.0} per trace), output {} ({:.0} per trace)\n",
                self.input_tokens.total,
                self.input_tokens.per_trace,
                self.output_tokens.total,
                self.output_tokens.per_trace
            ));
        }
        out.push_str(&services::render(&self.services));
        self.llm.render(&mut out);
        out.push_str(&self.failures.render(self.traces));
        if let Some(session) = &self.session {
            out.push_str(&session.render());
        }
        if !self.evaluations.is_empty() {
            out.push_str("\nEvaluations:\n");
            for e in &self.evaluations {
                out.push_str(&e.render());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
