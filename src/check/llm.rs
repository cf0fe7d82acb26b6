//! What `check` reports of LLM calls beyond tokens: the time to first chunk of streaming calls,
//! the cache-read and reasoning tokens, and the cost per trace.
//!
//! Every figure is read off the span attributes the generator wrote (`gen_ai.response.
//! time_to_first_chunk`, `gen_ai.usage.*`, `gen_ai.usage.cost`), the very values a run sends, so
//! `check` and a backend reading the run agree to the last digit. Recomputing them from the model
//! profile was the alternative rejected: it would be a second implementation to drift. Like the
//! latencies, the TTFTs and per-trace costs are kept exactly up to `check`'s budget, then
//! sketched.

use super::{Percentiles, Quantiles, TokenTotal};
use crate::generate::AttrValue;
use serde_json::{Value, json};

/// The LLM figures of a `check`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LlmReport {
    /// TTFT of streaming calls, in ms.
    pub ttft_ms: Quantiles,
    pub cache_read_tokens: TokenTotal,
    pub reasoning_tokens: TokenTotal,
    /// Spans that carry a cost.
    pub priced_spans: u64,
    /// USD over every trace.
    pub cost_total: f64,
    /// USD per trace.
    pub cost_per_trace: Quantiles,
}

/// Accumulates [`LlmReport`] trace by trace.
#[derive(Default)]
pub(super) struct LlmTally {
    ttft_ms: Quantiles,
    cache_read: u64,
    reasoning: u64,
    priced_spans: u64,
    cost_total: f64,
    trace_cost: f64,
    cost_per_trace: Quantiles,
}

impl LlmTally {
    /// One attribute of a span.
    pub(super) fn attribute(&mut self, key: &str, value: AttrValue) {
        let int = |v: AttrValue| match v {
            AttrValue::Int(n) => n.max(0) as u64,
            _ => 0,
        };
        match (key, value) {
            ("gen_ai.response.time_to_first_chunk", AttrValue::Double(s)) => {
                self.ttft_ms.add(s * 1e3)
            }
            ("gen_ai.usage.cache_read.input_tokens", v) => self.cache_read += int(v),
            ("gen_ai.usage.reasoning.output_tokens", v) => self.reasoning += int(v),
            ("gen_ai.usage.cost", AttrValue::Double(usd)) => {
                self.priced_spans += 1;
                self.cost_total += usd;
                self.trace_cost += usd;
            }
            _ => {}
        }
    }

    /// Closes a trace.
    pub(super) fn end_trace(&mut self) {
        self.cost_per_trace.add(self.trace_cost);
        self.trace_cost = 0.0;
    }

    pub(super) fn forget_values(&mut self) {
        self.ttft_ms.forget_values();
        self.cost_per_trace.forget_values();
    }

    pub(super) fn report(mut self, traces: u64) -> LlmReport {
        self.ttft_ms.sort();
        self.cost_per_trace.sort();
        let total = |n: u64| TokenTotal {
            total: n,
            per_trace: n as f64 / traces.max(1) as f64,
        };
        LlmReport {
            ttft_ms: self.ttft_ms,
            cache_read_tokens: total(self.cache_read),
            reasoning_tokens: total(self.reasoning),
            priced_spans: self.priced_spans,
            cost_total: self.cost_total,
            cost_per_trace: self.cost_per_trace,
        }
    }
}

fn percentiles(q: &Quantiles) -> Percentiles {
    Percentiles {
        p50: q.quantile(0.50),
        p95: q.quantile(0.95),
        p99: q.quantile(0.99),
    }
}

impl LlmReport {
    pub fn ttft_percentiles(&self) -> Percentiles {
        percentiles(&self.ttft_ms)
    }

    pub fn cost_percentiles(&self) -> Percentiles {
        percentiles(&self.cost_per_trace)
    }

    /// Its part of `check --json`: `ttft_ms` and `cost_usd` only when some span has them.
    pub(super) fn json(&self, out: &mut serde_json::Map<String, Value>) {
        if self.ttft_ms.count() > 0 {
            let p = self.ttft_percentiles();
            out.insert(
                "ttft_ms".into(),
                json!({"spans": self.ttft_ms.count(), "p50": p.p50, "p95": p.p95, "p99": p.p99}),
            );
        }
        if self.priced_spans > 0 {
            let p = self.cost_percentiles();
            let traces = self.cost_per_trace.count().max(1) as f64;
            out.insert(
                "cost_usd".into(),
                json!({
                    "spans": self.priced_spans,
                    "total": self.cost_total,
                    "per_trace": {"mean": self.cost_total / traces, "p50": p.p50, "p95": p.p95, "p99": p.p99},
                }),
            );
        }
    }

    /// Its lines of the table for people.
    pub(super) fn render(&self, out: &mut String) {
        let (c, r) = (&self.cache_read_tokens, &self.reasoning_tokens);
        if c.total > 0 || r.total > 0 {
            out.push_str(&format!(
                "Of which: cache read {} ({:.0} per trace), reasoning {} ({:.0} per trace)\n",
                c.total, c.per_trace, r.total, r.per_trace
            ));
        }
        if self.ttft_ms.count() > 0 {
            let p = self.ttft_percentiles();
            out.push_str(&format!(
                "Time to first chunk ({} streaming calls): p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms\n",
                self.ttft_ms.count(),
                p.p50,
                p.p95,
                p.p99
            ));
        }
        if self.priced_spans > 0 {
            let p = self.cost_percentiles();
            let traces = self.cost_per_trace.count().max(1) as f64;
            out.push_str(&format!(
                "Cost: ${:.6} in all, per trace mean ${:.6}, p50 ${:.6}, p95 ${:.6}, p99 ${:.6}\n",
                self.cost_total,
                self.cost_total / traces,
                p.p50,
                p.p95,
                p.p99
            ));
        }
    }
}
