//! What `check` reports of failures: how often each `error.type` fails each span name, and the
//! finish reasons LLM calls end with, counted as the traces stream past.
//!
//! An LLM failure (`failures:`) is told apart only by its error type (`429`, `timeout`, …), and a
//! scenario's error rates alone do not say which of a step's types a dashboard will plot, so the
//! counts are per (span name, error type). A count per span name only, inside the existing
//! per-name table, was the alternative rejected: that table's error rate already says how often,
//! and one column per type would not fit a terminal.

use crate::generate::{AttrValue, Plan, Trace};
use crate::scenario::Literal;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Failed spans by (span name, error type), and LLM finish reasons by value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FailureCounts {
    pub errors: BTreeMap<(String, String), u64>,
    pub finish_reasons: BTreeMap<String, u64>,
}

impl FailureCounts {
    pub fn add_trace(&mut self, plan: &Plan, trace: &Trace) {
        for span in &trace.spans {
            if let Some((kind, _)) = span.error {
                let key = (plan.str(span.name).to_string(), plan.str(kind).to_string());
                *self.errors.entry(key).or_default() += 1;
            }
            for attr in trace.attrs_of(span) {
                if plan.str(attr.key) != "gen_ai.response.finish_reasons" {
                    continue;
                }
                if let AttrValue::Literal(id) = attr.value
                    && let Literal::List(items) = plan.literal(id)
                {
                    for item in items {
                        if let Literal::Str(s) = item {
                            *self.finish_reasons.entry(s.clone()).or_default() += 1;
                        }
                    }
                }
            }
        }
    }

    pub fn json(&self, traces: u64) -> Value {
        let errors: Vec<Value> = self
            .errors
            .iter()
            .map(|((name, kind), n)| {
                json!({"span": name, "error_type": kind, "count": n,
                       "per_trace": *n as f64 / traces.max(1) as f64})
            })
            .collect();
        json!({"errors": errors, "finish_reasons": self.finish_reasons})
    }

    /// Lines for people; empty when nothing failed and no finish reason was seen.
    pub fn render(&self, traces: u64) -> String {
        let mut out = String::new();
        if !self.errors.is_empty() {
            out.push_str("\nFailures by error.type (per trace):\n");
            for ((name, kind), n) in &self.errors {
                let per_trace = *n as f64 / traces.max(1) as f64;
                out.push_str(&format!("  {name}  {kind}: {n} ({per_trace:.4})\n"));
            }
        }
        if !self.finish_reasons.is_empty() {
            let reasons: Vec<String> = self
                .finish_reasons
                .iter()
                .map(|(r, n)| format!("{r} {n}"))
                .collect();
            out.push_str(&format!("\nFinish reasons: {}\n", reasons.join(", ")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_failure_type_and_finish_reason() {
        let plan = crate::generate::testing::bundled("provider_outage");
        let traces = crate::generate::testing::traces(&plan, 3, 300);
        let mut counts = FailureCounts::default();
        for trace in &traces {
            counts.add_trace(&plan, trace);
        }
        let llm = "vendor.llm.call".to_string();
        assert!(
            counts.errors[&(llm.clone(), "429".into())] > 50,
            "{counts:?}"
        );
        assert!(counts.errors.contains_key(&(llm, "timeout".into())));
        for reason in ["tool_calls", "stop"] {
            assert!(counts.finish_reasons[reason] > 100, "{counts:?}");
        }
        let text = counts.render(300);
        assert!(text.contains("vendor.llm.call  429:") && text.contains("Finish reasons: "));
        assert_eq!(
            counts.json(300)["errors"].as_array().unwrap().len(),
            counts.errors.len()
        );
    }
}
