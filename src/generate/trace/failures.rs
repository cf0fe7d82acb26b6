//! The generator side of LLM failures and finish reasons: an LLM call step with an [`LlmPlan`]
//! is laid out here, attempt by attempt, with each failure's consequence in the tree.
//!
//! - A rate limit (429) fails fast, records its retry-after, and is retried after the greater of
//!   the backoff and the retry-after while attempts remain.
//! - A prompt over the context window fails fast with no output tokens.
//! - A content filter ends the turn: the block says so, [`Builder::children`] emits no later
//!   sibling, and the parent fails with it ([`Builder::end_turn`]).
//! - A hallucinated tool call succeeds with finish reason `tool_calls`; a call to the unknown
//!   tool follows and fails as not found, then a re-planning call of the same step.
//! - A timeout lasts exactly the timeout, then fails with no output tokens.
//!
//! It is a child of the trace module so that it extends the one [`Builder`] rather than
//! duplicating its layout code; writing these rules into `trace.rs` itself was the rejected
//! alternative (that file is every helper's hot spot, and the rules are one concern).

use super::super::failures::{FAIL_FAST_FRACTION, LlmPlan};
use super::{Attempt, Block, Builder, errs, find, ms_to_ns};
use crate::generate::symbols::{Attr, AttrValue, LiteralId, NodeId};
use crate::scenario::SpanType;
use rand::{Rng, RngExt};
use rand_distr::Distribution as _;

/// What went wrong with one attempt, beyond the step's own error model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Failure {
    RateLimit { retry_after_ms: f64 },
    ContextWindow,
    ContentFilter,
    HallucinatedTool,
    Timeout,
}

/// One attempt of an LLM call.
#[derive(Clone, Copy, Debug)]
struct LlmAttempt {
    outcome: Attempt,
    failure: Option<Failure>,
}

/// Draws at most one failure for an attempt (their probabilities add up to at most 1).
fn draw<R: Rng>(rng: &mut R, llm: &LlmPlan, may_hallucinate: bool) -> Option<Failure> {
    let total = llm.rate_limit
        + llm.context_window
        + llm.content_filter
        + llm.timeout
        + if may_hallucinate {
            llm.hallucinated
        } else {
            0.0
        };
    if total <= 0.0 {
        return None;
    }
    let mut u = rng.random::<f64>();
    let mut pick = |p: f64| {
        let hit = u < p;
        u -= p;
        hit
    };
    if pick(llm.rate_limit) {
        let retry_after_ms = llm.retry_after_ms.number(rng).max(0.0);
        return Some(Failure::RateLimit { retry_after_ms });
    }
    if pick(llm.context_window) {
        return Some(Failure::ContextWindow);
    }
    if pick(llm.content_filter) {
        return Some(Failure::ContentFilter);
    }
    if pick(llm.timeout) {
        return Some(Failure::Timeout);
    }
    (may_hallucinate && pick(llm.hallucinated)).then_some(Failure::HallucinatedTool)
}

impl Failure {
    /// The index of its error type on the node, when it makes the span fail.
    fn error(self, llm: &LlmPlan) -> Option<usize> {
        match self {
            Failure::RateLimit { .. } => Some(llm.kinds[0]),
            Failure::ContextWindow => Some(llm.kinds[1]),
            Failure::ContentFilter => Some(llm.kinds[2]),
            Failure::Timeout => Some(llm.kinds[3]),
            Failure::HallucinatedTool => None,
        }
    }

    /// Whether the call returned no output at all.
    fn no_output(self) -> bool {
        matches!(
            self,
            Failure::RateLimit { .. } | Failure::ContextWindow | Failure::Timeout
        )
    }
}

impl<R: Rng> Builder<'_, R> {
    /// Draws the attempts of one call: failures first, then the step's own error model (and
    /// its `retry`, when it has one).
    fn llm_attempts(
        &mut self,
        id: NodeId,
        parent_errored: bool,
        sibling_errored: bool,
        replan: bool,
    ) -> Vec<LlmAttempt> {
        let node = self.plan.node(id);
        let llm = node.failures.as_ref().expect("an LLM plan");
        let mut out: Vec<LlmAttempt> = Vec::new();
        for k in 1..=llm.max_attempts {
            let failure = draw(self.rng, llm, !replan);
            // The step's retry success rates follow a failure of its own error model; after a
            // rate limit, the next attempt fails as often as a first one.
            let retrying = out
                .last()
                .is_some_and(|a| a.failure.is_none() && a.outcome.error.is_some());
            let (error, retryable) = match failure {
                Some(f) => (f.error(llm), matches!(f, Failure::RateLimit { .. })),
                None => {
                    let forced =
                        k == 1 && node.retry.as_ref().is_some_and(|r| r.force_initial_failure);
                    let failed = match &node.retry {
                        _ if forced => true,
                        Some(r) if retrying => self.rng.random::<f64>() >= r.success_rate(k),
                        _ => errs(self.rng, node, parent_errored, sibling_errored),
                    };
                    // A forced first failure is one the step retries, as in `attempts`.
                    let kind = failed.then(|| match &node.error.pick_retryable {
                        Some(retryable) if forced => retryable.sample(self.rng),
                        _ => node.error.pick.sample(self.rng),
                    });
                    let retryable =
                        node.retry.is_some() && kind.is_some_and(|e| node.error.retryable[e]);
                    (kind, retryable)
                }
            };
            let last = k == llm.max_attempts || error.is_none() || !retryable;
            let backoff_ns = if last {
                0
            } else {
                let b = &llm.backoff;
                let jitter = b.backoff_jitter * (2.0 * self.rng.random::<f64>() - 1.0);
                let ms =
                    b.backoff_base_ms * b.backoff_multiplier.powi(k as i32 - 1) * (1.0 + jitter);
                let after = match failure {
                    Some(Failure::RateLimit { retry_after_ms }) => retry_after_ms,
                    _ => 0.0,
                };
                // Never earlier than the provider asked: the retry-after, rounded up.
                ms_to_ns(ms).max(ms_to_ns(after.ceil()))
            };
            out.push(LlmAttempt {
                outcome: Attempt { error, backoff_ns },
                failure,
            });
            if last {
                break;
            }
        }
        out
    }

    /// One instance of an LLM call step with an [`LlmPlan`]: its attempts, and after a
    /// hallucinated tool call, the failed tool call and the re-planning call.
    pub(super) fn llm_call(
        &mut self,
        id: NodeId,
        parent: Option<u32>,
        parent_errored: bool,
        sibling_errored: bool,
        replan: bool,
    ) -> Block {
        let attempts = self.llm_attempts(id, parent_errored, sibling_errored, replan);
        let llm = self.plan.node(id).failures.as_ref().expect("an LLM plan");
        let numbered = llm.max_attempts > 1;
        let tool = llm.tool;
        let mut block = Block {
            items: Vec::with_capacity(attempts.len()),
            duration: 0,
            errored: false,
            ends_turn: false,
        };
        for (k, attempt) in attempts.iter().enumerate() {
            let number = if numbered { k as u32 + 1 } else { 0 };
            let one = self.llm_span(id, parent, number, attempt);
            block.items.push((one.items[0].0, block.duration));
            block.duration = block
                .duration
                .saturating_add(one.duration)
                .saturating_add(attempt.outcome.backoff_ns);
            block.errored = one.errored;
            block.ends_turn = one.ends_turn;
        }
        let hallucinated =
            attempts.last().and_then(|a| a.failure) == Some(Failure::HallucinatedTool);
        if let (true, Some(tool)) = (hallucinated, tool) {
            let call = self.mcp(tool, parent, false, false);
            let replanned = self.llm_call(id, parent, parent_errored, true, true);
            for part in [call, replanned] {
                for (span, offset) in part.items {
                    block
                        .items
                        .push((span, block.duration.saturating_add(offset)));
                }
                block.duration = block.duration.saturating_add(part.duration);
                block.errored = part.errored;
                block.ends_turn = part.ends_turn;
            }
        }
        block
    }

    /// One LLM span of an attempt, with its children.
    fn llm_span(&mut self, id: NodeId, parent: Option<u32>, number: u32, a: &LlmAttempt) -> Block {
        let node = self.plan.node(id);
        let llm = node.failures.as_ref().expect("an LLM plan");
        let keys = llm.keys;
        let mut extra = Vec::with_capacity(5);
        if number > 0 {
            extra.push(Attr {
                key: self.plan.keys.retry_attempt,
                value: AttrValue::Int(number as i64),
            });
            extra.push(Attr {
                key: self.plan.keys.retry_is_retry,
                value: AttrValue::Bool(number > 1),
            });
        }
        if let Some(Failure::RateLimit { retry_after_ms }) = a.failure {
            extra.push(Attr {
                key: keys.http_status,
                value: AttrValue::Int(429),
            });
            extra.push(Attr {
                key: keys.retry_after_ms,
                value: AttrValue::Int(retry_after_ms.ceil() as i64),
            });
        }
        let reason = match a.failure {
            Some(Failure::ContentFilter) => Some(keys.content_filter),
            Some(Failure::HallucinatedTool) => Some(keys.tool_calls),
            _ if a.outcome.error.is_some() => None,
            _ => Some(keys.stop),
        };
        if let (true, Some(reason)) = (llm.finish, reason) {
            extra.push(Attr {
                key: keys.finish_reasons,
                value: AttrValue::Literal(reason),
            });
        }
        let span = self.push_span(id, false, parent, a.outcome.error, &extra);
        if a.failure.is_some_and(Failure::no_output) {
            self.set_output_tokens(span, 0);
        } else if llm.finish {
            self.cut_at_max_tokens(span, reason == Some(keys.stop));
        }
        let errored = a.outcome.error.is_some();
        let latency = match a.failure {
            Some(Failure::Timeout) => ms_to_ns(llm.timeout_ms),
            Some(Failure::RateLimit { .. } | Failure::ContextWindow) => {
                ms_to_ns(node.latency.sample_ms(self.rng) * FAIL_FAST_FRACTION)
            }
            _ => self.latency_ns(node),
        };
        let children = self.children(id, span, errored);
        let duration = self.place(children, latency, node.parallel);
        self.trace.spans[span as usize].end_ns = duration;
        Block {
            items: vec![(span, 0)],
            duration,
            errored,
            ends_turn: a.failure == Some(Failure::ContentFilter),
        }
    }

    /// Sets the output tokens of span `span` (and the totals that add them up) to `n`.
    fn set_output_tokens(&mut self, span: u32, n: i64) {
        let Some(keys) = self.llm_keys(span) else {
            return;
        };
        let (start, end) = self.trace.spans[span as usize].attrs;
        let attrs = &mut self.trace.attrs[start as usize..end as usize];
        let input = match find(attrs, keys.input_tokens) {
            Some(AttrValue::Int(i)) => Some(i),
            _ => None,
        };
        for attr in attrs.iter_mut() {
            if attr.key == keys.output_tokens || attr.key == keys.oi_completion {
                attr.value = AttrValue::Int(n);
            } else if attr.key == keys.oi_total
                && let Some(input) = input
            {
                attr.value = AttrValue::Int(input.saturating_add(n));
            }
        }
    }

    /// A response that reached the request's `gen_ai.request.max_tokens` stops there, with
    /// finish reason `length` when it would otherwise say `stop`.
    fn cut_at_max_tokens(&mut self, span: u32, stopped: bool) {
        let Some(keys) = self.llm_keys(span) else {
            return;
        };
        let attrs = self.trace.attrs_of(&self.trace.spans[span as usize]);
        let number = |v: Option<AttrValue>| match v {
            Some(AttrValue::Int(i)) => Some(i as f64),
            Some(AttrValue::Double(d)) => Some(d),
            _ => None,
        };
        let (Some(max), Some(output)) = (
            number(find(attrs, keys.max_tokens)),
            number(find(attrs, keys.output_tokens)),
        ) else {
            return;
        };
        if max > 0.0 && output >= max {
            self.set_output_tokens(span, max as i64);
            if stopped {
                self.set_finish(span, keys.length);
            }
        }
    }

    fn llm_keys(&self, span: u32) -> Option<super::super::failures::LlmKeys> {
        let node = self.plan.node(self.trace.spans[span as usize].node);
        node.failures.as_ref().map(|l| l.keys)
    }

    /// Replaces the derived finish reasons of span `span`, if it has them.
    fn set_finish(&mut self, span: u32, reason: LiteralId) {
        let Some(keys) = self.llm_keys(span) else {
            return;
        };
        let (start, end) = self.trace.spans[span as usize].attrs;
        for attr in &mut self.trace.attrs[start as usize..end as usize] {
            if attr.key == keys.finish_reasons {
                attr.value = AttrValue::Literal(reason);
            }
        }
    }

    /// An LLM call followed by a tool call sibling asked for it: its finish reason is
    /// `tool_calls` (the derived ones only).
    pub(super) fn tool_calls_before_tools(&mut self, blocks: &[Block]) {
        for pair in blocks.windows(2) {
            let (Some(&(last, _)), Some(&(next, _))) =
                (pair[0].items.last(), pair[1].items.first())
            else {
                continue;
            };
            let spans = &self.trace.spans;
            if spans[next as usize].span_type != SpanType::McpToolExecute
                || spans[last as usize].span_type != SpanType::LlmCall
            {
                continue;
            }
            let Some(llm) = self.plan.node(spans[last as usize].node).failures.as_ref() else {
                continue;
            };
            let (finish, keys) = (llm.finish, llm.keys);
            // Only a call that answered (not a failed one, not a filtered one) asked for it.
            let current = find(
                self.trace.attrs_of(&spans[last as usize]),
                keys.finish_reasons,
            );
            let answered =
                matches!(current, Some(AttrValue::Literal(r)) if r != keys.content_filter);
            if finish && answered {
                self.set_finish(last, keys.tool_calls);
            }
        }
    }

    /// A content filter ended the turn of span `parent`: it fails with it (unless it had failed
    /// already), its outcome attributes turn to failure, and `error.type` is added to its
    /// attributes (which moves the later spans' attributes along by one).
    pub(super) fn end_turn(&mut self, parent: u32, keys: super::super::failures::LlmKeys) {
        let span = &self.trace.spans[parent as usize];
        if span.error.is_some() {
            return;
        }
        let node = self.plan.node(span.node);
        let plans = if span.attempt {
            &node.attempt_attrs
        } else {
            &node.attrs
        };
        let (start, end) = span.attrs;
        for plan in plans {
            if let super::AttrPlan::Outcome { key, failure, .. } = plan {
                for attr in &mut self.trace.attrs[start as usize..end as usize] {
                    if attr.key == *key {
                        attr.value = *failure;
                    }
                }
            }
        }
        let (kind, message) = keys.turn_filtered;
        self.trace.attrs.insert(
            end as usize,
            Attr {
                key: self.plan.keys.error_type,
                value: AttrValue::Str(kind),
            },
        );
        let spans = &mut self.trace.spans;
        spans[parent as usize].attrs.1 += 1;
        spans[parent as usize].error = Some((kind, message));
        for later in spans.iter_mut().skip(parent as usize + 1) {
            later.attrs.0 += 1;
            later.attrs.1 += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::generate::testing;
    use crate::generate::{AttrValue, Plan, Trace};
    use crate::scenario::{Literal, LoadOptions, decode, worst_case_spans};

    const SCENARIO: &str = "name: t\nroot:\n  type: vendor.a2a.orchestrate\n  error: 0\n  children:\n    - type: vendor.planner\n      error: 0\n      children:\n        - type: vendor.llm.call\n          error: 0.1\n          count: 2\n          failures: {rate_limit: 0.2, content_filter: 0.15, hallucinated_tool_call: 0.2, timeout: {probability: 0.1, after_ms: 50}, context_window_exceeded: 0.1}\n          attributes: {gen_ai.request.max_tokens: 200}\n        - type: vendor.mcp.tool.execute\n          retry: {max_attempts: 2}\n    - type: vendor.llm.call\n      attributes: {gen_ai.response.finish_reasons: [written]}\n";

    fn finish_of(plan: &Plan, trace: &Trace, span: usize) -> Option<Vec<String>> {
        let attrs = trace.attrs_of(&trace.spans[span]);
        attrs.iter().find_map(|a| {
            let AttrValue::Literal(id) = a.value else {
                return None;
            };
            (plan.str(a.key) == "gen_ai.response.finish_reasons").then(|| match plan.literal(id) {
                Literal::List(items) => items.iter().map(|l| format!("{l:?}")).collect(),
                other => vec![format!("{other:?}")],
            })
        })
    }

    /// Whatever fails, every trace stays a well-formed tree inside the scenario's worst case,
    /// and each span's attributes are its own (a content filter inserts one into its parent's).
    #[test]
    fn the_tree_stays_well_formed_whatever_fails() {
        let (scenario, _) = decode(SCENARIO, "t.yaml", "t", &LoadOptions::default()).unwrap();
        let plan = testing::plan(SCENARIO);
        let worst = worst_case_spans(&scenario.root);
        let traces = testing::traces(&plan, 11, 2000);
        let mut filtered = 0;
        for trace in &traces {
            assert!(
                trace.spans.len() as u64 <= worst,
                "{} > {worst}",
                trace.spans.len()
            );
            let mut end = 0;
            for (i, span) in trace.spans.iter().enumerate() {
                assert_eq!(span.attrs.0, end, "attribute ranges are contiguous");
                end = span.attrs.1;
                let attrs = trace.attrs_of(span);
                assert_eq!(
                    plan.str(attrs[0].key),
                    "tenant.id",
                    "span {i} starts its own attributes"
                );
                let error_type = attrs
                    .iter()
                    .filter(|a| a.key == plan.keys.error_type)
                    .count();
                assert_eq!(error_type, usize::from(span.error.is_some()));
                if let Some(p) = span.parent {
                    let parent = &trace.spans[p as usize];
                    assert!(span.start_ns >= parent.start_ns && span.end_ns <= parent.end_ns);
                }
                if span
                    .error
                    .is_some_and(|(k, _)| plan.str(k) == "content_filter")
                    && span.span_type == crate::scenario::SpanType::Planner
                {
                    filtered += 1;
                }
            }
            assert_eq!(end as usize, trace.attrs.len());
        }
        assert!(filtered > 100, "{filtered}");
    }

    #[test]
    fn a_written_finish_reason_wins_and_a_scenario_without_failures_gets_none() {
        let plan = testing::plan(SCENARIO);
        let traces = testing::traces(&plan, 5, 200);
        for trace in &traces {
            let answer = trace.spans.iter().rposition(|s| {
                s.parent == Some(0) && s.span_type == crate::scenario::SpanType::LlmCall
            });
            if let Some(i) = answer {
                assert_eq!(
                    finish_of(&plan, trace, i),
                    Some(vec!["Str(\"written\")".into()])
                );
            }
        }
        let plain = testing::bundled("successful_agent_turn");
        for trace in testing::traces(&plain, 5, 200) {
            for i in 0..trace.spans.len() {
                let node = plain.node(trace.spans[i].node);
                assert!(node.failures.is_none());
            }
        }
    }
}
