//! Reads a step's `failures:` mapping into [`Failures`], with the decoder's located errors.
//!
//! It is a child of the decoder, so it reads keys through the same [`format`] tables (the
//! did-you-mean of an unknown key, the ranges of each number) with the decoder's own helpers; a
//! decoder of its own for this one mapping was the alternative rejected, as it would have
//! repeated those helpers and their messages.

use super::super::failures::{
    DEFAULT_RETRY_AFTER_MS, DEFAULT_TIMEOUT_MS, Failures, RateLimit, Timeout,
};
use super::super::model::Distribution;
use super::Decoder;
use super::format;
use crate::scenario::SpanType;
use crate::yaml::{Node, Value};

/// A number drawn as itself every time.
fn constant(ms: f64) -> Distribution {
    Distribution::Uniform { low: ms, high: ms }
}

impl Decoder<'_> {
    /// The `failures:` of a step of `span_type` (`None` when its type was not understood).
    pub(super) fn failures(
        &mut self,
        node: &Node,
        path: &str,
        span_type: Option<SpanType>,
    ) -> Option<Failures> {
        if node.value == Value::Null {
            return None;
        }
        if let Some(t) = span_type
            && t != SpanType::LlmCall
        {
            self.error(
                node.mark,
                path,
                format!(
                    "`failures` are failures of LLM calls: put them on a `vendor.llm.call` step, not on `{t}`"
                ),
            );
            return None;
        }
        let mut f = self.fields(node, path, &format::FAILURES)?;
        let rate_limit = match f.take(self, "rate_limit") {
            Some((p, n)) => self.rate_limit(n, &p),
            None => None,
        };
        let context_window_exceeded = self.number_or(&mut f, "context_window_exceeded", 0.0);
        let content_filter = self.number_or(&mut f, "content_filter", 0.0);
        let hallucinated_tool_call = self.number_or(&mut f, "hallucinated_tool_call", 0.0);
        let timeout = match f.take(self, "timeout") {
            Some((p, n)) => self.timeout(n, &p),
            None => None,
        };
        f.finish(self);
        let failures = Failures {
            rate_limit,
            context_window_exceeded,
            content_filter,
            hallucinated_tool_call,
            timeout,
        };
        // Rounded, so that 0.1 + 0.2 reads 0.3.
        let total = (failures.total() * 1e9).round() / 1e9;
        if total > 1.0 {
            self.error(
                node.mark,
                path,
                format!(
                    "the failures' probabilities add up to {total}: each attempt fails in at most one way, so they must add up to at most 1"
                ),
            );
        }
        Some(failures)
    }

    fn rate_limit(&mut self, node: &Node, path: &str) -> Option<RateLimit> {
        match &node.value {
            Value::Null => None,
            Value::Int(_) | Value::Float(_) => Some(RateLimit {
                probability: self.number(node, path, format::PROBABILITY)?,
                retry_after_ms: constant(DEFAULT_RETRY_AFTER_MS),
            }),
            Value::Map(_) => {
                let mut f = self.fields(node, path, &format::RATE_LIMIT)?;
                let probability = self.number_or(&mut f, "probability", 0.0);
                let retry_after_ms = match f.take(self, "retry_after_ms") {
                    Some((p, n)) => self.milliseconds(n, &p, DEFAULT_RETRY_AFTER_MS),
                    None => constant(DEFAULT_RETRY_AFTER_MS),
                };
                f.finish(self);
                Some(RateLimit {
                    probability,
                    retry_after_ms,
                })
            }
            _ => {
                self.expected(
                    node,
                    path,
                    "a probability or a {probability, retry_after_ms} mapping",
                );
                None
            }
        }
    }

    fn timeout(&mut self, node: &Node, path: &str) -> Option<Timeout> {
        match &node.value {
            Value::Null => None,
            Value::Int(_) | Value::Float(_) => Some(Timeout {
                probability: self.number(node, path, format::PROBABILITY)?,
                after_ms: DEFAULT_TIMEOUT_MS,
            }),
            Value::Map(_) => {
                let mut f = self.fields(node, path, &format::TIMEOUT)?;
                let probability = self.number_or(&mut f, "probability", 0.0);
                let after_ms = self.number_or(&mut f, "after_ms", DEFAULT_TIMEOUT_MS);
                f.finish(self);
                Some(Timeout {
                    probability,
                    after_ms,
                })
            }
            _ => {
                self.expected(
                    node,
                    path,
                    "a probability or a {probability, after_ms} mapping",
                );
                None
            }
        }
    }

    /// Milliseconds: a number, or a distribution of numbers drawn each time.
    fn milliseconds(&mut self, node: &Node, path: &str, default: f64) -> Distribution {
        match &node.value {
            Value::Int(_) | Value::Float(_) => constant(
                self.number(node, path, format::NON_NEGATIVE)
                    .unwrap_or(default),
            ),
            Value::Map(_) => {
                let Some(mut f) = self.fields(node, path, &format::SAMPLED) else {
                    return constant(default);
                };
                let d = self.distribution(&mut f, None);
                f.finish(self);
                match d {
                    Some(d) if d.is_numeric() => d,
                    Some(_) => {
                        self.expected(node, path, "a distribution of numbers (milliseconds)");
                        constant(default)
                    }
                    None => {
                        if !super::has_key(node, "distribution") {
                            self.expected(node, path, "milliseconds or a distribution mapping");
                        }
                        constant(default)
                    }
                }
            }
            _ => {
                self.expected(node, path, "milliseconds or a distribution mapping");
                constant(default)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::{Distribution, LoadOptions, decode};

    fn step(failures: &str) -> Result<crate::scenario::Step, String> {
        let text = format!(
            "name: t\nroot:\n  type: vendor.a2a.orchestrate\n  children:\n    - type: vendor.llm.call\n      failures: {failures}\n"
        );
        decode(&text, "t.yaml", "t", &LoadOptions::default())
            .map(|(s, _)| s.root.children[0].clone())
            .map_err(|d| d.to_string())
    }

    #[test]
    fn reads_every_failure_with_its_defaults() {
        let s = step("{rate_limit: {probability: 0.1, retry_after_ms: {distribution: uniform, low: 500, high: 2000}}, context_window_exceeded: 0.01, content_filter: 0.02, hallucinated_tool_call: 0.03, timeout: 0.04}").unwrap();
        let f = s.failures.unwrap();
        let r = f.rate_limit.unwrap();
        assert_eq!(r.probability, 0.1);
        assert_eq!(
            r.retry_after_ms,
            Distribution::Uniform {
                low: 500.0,
                high: 2000.0
            }
        );
        assert_eq!(f.context_window_exceeded, 0.01);
        assert_eq!(f.content_filter, 0.02);
        assert_eq!(f.hallucinated_tool_call, 0.03);
        assert_eq!(f.timeout.unwrap().after_ms, 30_000.0);
    }

    #[test]
    fn says_where_a_failure_is_wrong() {
        let e = step("{rate_limt: 0.1}").unwrap_err();
        assert!(e.contains("rate_limt") && e.contains("rate_limit"), "{e}");
        let e = step("{content_filter: 1.5}").unwrap_err();
        assert!(
            e.contains("failures.content_filter") && e.contains("probability"),
            "{e}"
        );
        let e =
            step("{content_filter: 0.6, timeout: {probability: 0.5, after_ms: 10}}").unwrap_err();
        assert!(e.contains("add up to 1.1"), "{e}");
        let e = step("{timeout: {probability: 0.1, after_ms: 0}}").unwrap_err();
        assert!(e.contains("failures.timeout.after_ms"), "{e}");
        let e = step("{rate_limit: {probability: 0.1, retry_after_ms: {distribution: normel}}}")
            .unwrap_err();
        assert!(e.contains("did you mean `normal`"), "{e}");
    }

    #[test]
    fn failures_belong_to_llm_calls_inside_a_turn() {
        let text = "name: t\nroot:\n  type: vendor.a2a.orchestrate\n  children:\n    - type: vendor.mcp.tool.execute\n      failures: {timeout: 0.1}\n";
        let e = decode(text, "t.yaml", "t", &LoadOptions::default()).unwrap_err();
        assert!(e.to_string().contains("vendor.llm.call"), "{e}");
        let text = "name: t\nroot:\n  type: vendor.llm.call\n  failures: {timeout: 0.1}\n";
        let e = decode(text, "t.yaml", "t", &LoadOptions::default()).unwrap_err();
        assert!(e.to_string().contains("root.failures"), "{e}");
    }
}
