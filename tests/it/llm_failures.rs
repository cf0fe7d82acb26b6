//! LLM failures and finish reasons, as the official Python decoder receives them: each failure
//! written under a step's `failures:` has its consequence in the tree (a 429's retry comes no
//! earlier than its retry-after, a content filter ends the turn, a hallucinated tool call is a
//! failed call to an unknown tool then a re-planning call, a timeout lasts its timeout, a context
//! window overrun has no output), and `gen_ai.response.finish_reasons` agrees with the tree in
//! every trace.
//!
//! One scenario with high probabilities carries every failure, so a few hundred traces hold
//! each of them many times; the bundled `provider_outage` is checked by the same rules.

use crate::common::{Received, Span, assert_proportion, scenario_dir, send_to_judge};
use serde_json::{Value, json};

/// Every failure at once, on the planning call; the answer call has none but still gets
/// finish reasons (the scenario opted in).
const FAILING: &str = r#"
name: failing
root:
  type: vendor.a2a.orchestrate
  latency: 50
  error: 0
  children:
    - type: vendor.llm.call
      latency: {distribution: log_normal, median_ms: 40, sigma: 0.2}
      error: 0
      retry: {max_attempts: 4, backoff_base_ms: 5, backoff_multiplier: 2, backoff_jitter: 0.2}
      failures:
        rate_limit: {probability: 0.3, retry_after_ms: {distribution: uniform, low: 20, high: 80}}
        context_window_exceeded: 0.1
        content_filter: 0.1
        hallucinated_tool_call: 0.2
        timeout: {probability: 0.1, after_ms: 150}
      attributes:
        gen_ai.request.model: planner-model
        gen_ai.request.max_tokens: 300
        gen_ai.usage.output_tokens: {distribution: log_normal, median: 250, sigma: 0.5}
    - type: vendor.mcp.tool.execute
      latency: 20
      error: 0
      attributes:
        gen_ai.tool.name: crm.lookup
    - type: vendor.llm.call
      latency: 30
      error: 0
      attributes:
        gen_ai.request.model: answer-model
        gen_ai.request.max_tokens: 400
        gen_ai.usage.output_tokens: {distribution: log_normal, median: 300, sigma: 0.5}
    - type: vendor.response.compose
      latency: 5
      error: 0
"#;

const LLM: &str = "vendor.llm.call";
const TOOL: &str = "vendor.mcp.tool.execute";

fn send_failing(count: &str) -> Received {
    let dir = scenario_dir(&[("failing", FAILING)]);
    let received = send_to_judge(
        &[
            "scenario",
            "--scenarios-dir",
            dir.path().to_str().unwrap(),
            "--name",
            "failing",
            "--count",
            count,
            "--seed",
            "15",
            "--interval",
            "0",
        ],
        &[("TENANT_UUID", "t-1")],
    );
    assert!(!received.spans.is_empty());
    received
}

/// The root of each trace and its children, in start order.
fn turns(received: &Received) -> Vec<(&Span, Vec<&Span>)> {
    received
        .traces()
        .into_values()
        .map(|spans| {
            let root = *spans.iter().find(|s| s.is_root()).expect("a root");
            let children = spans
                .iter()
                .filter(|s| s.parent_span_id == root.span_id)
                .copied()
                .collect();
            (root, children)
        })
        .collect()
}

fn error_type(s: &Span) -> Option<&str> {
    s.attr_str("error.type")
}

fn finish(s: &Span) -> Option<&Value> {
    s.attributes.get("gen_ai.response.finish_reasons")
}

/// Finish reasons agree with the tree: a call that answered says `tool_calls` before a tool
/// call sibling, `length` when its output reached max tokens, `stop` otherwise; a filtered
/// call says `content_filter`; a call that failed otherwise has none.
fn assert_finish_reasons_agree(children: &[&Span]) -> usize {
    let mut checked = 0;
    for (i, s) in children.iter().enumerate() {
        if s.name != LLM {
            continue;
        }
        checked += 1;
        let next = children.get(i + 1).map(|n| n.name.as_str());
        let output = s.attr_i64("gen_ai.usage.output_tokens");
        let max = s.attr_i64("gen_ai.request.max_tokens");
        let expected = match error_type(s) {
            Some("content_filter") => Some(json!(["content_filter"])),
            Some(_) => None,
            None if next == Some(TOOL) => Some(json!(["tool_calls"])),
            None if output.is_some() && output == max => Some(json!(["length"])),
            None => Some(json!(["stop"])),
        };
        assert_eq!(finish(s), expected.as_ref(), "{s:#?}");
        if let (Some(output), Some(max)) = (output, max) {
            assert!(output <= max, "output beyond max tokens: {s:#?}");
        }
    }
    checked
}

#[test]
fn each_failure_has_its_consequence_in_the_tree() {
    let received = send_failing("400");
    let mut seen = std::collections::BTreeMap::<&str, usize>::new();
    let (mut plan_attempts, mut rate_limited) = (0, 0);
    for (root, children) in turns(&received) {
        for (i, s) in children.iter().enumerate() {
            let later = &children[i + 1..];
            if s.name == LLM && s.attr_str("gen_ai.request.model") == Some("planner-model") {
                plan_attempts += 1;
                rate_limited += usize::from(error_type(s) == Some("429"));
            }
            let Some(kind) = error_type(s) else { continue };
            *seen.entry(kind).or_default() += 1;
            let output = s.attr_i64("gen_ai.usage.output_tokens");
            match kind {
                "429" => {
                    assert_eq!(s.attr_i64("http.response.status_code"), Some(429));
                    assert_eq!(output, Some(0), "a 429 has no output");
                    let after = s
                        .attr_i64("vendor.llm.retry_after_ms")
                        .expect("retry-after");
                    assert!((20..=80).contains(&after), "{after}");
                    let attempt = s.attr_i64("retry.attempt").unwrap();
                    if attempt < 4 {
                        // The next attempt of the same call, no earlier than the retry-after.
                        let next = later[0];
                        assert_eq!(next.name, LLM);
                        assert_eq!(next.attr_i64("retry.attempt"), Some(attempt + 1));
                        let gap = next.start - s.end;
                        assert!(gap >= after as u64 * 1_000_000, "gap {gap} ns < {after} ms");
                    }
                }
                "content_filter" => {
                    assert!(later.is_empty(), "a sibling after a content filter");
                    assert_eq!(root.status_code, 2);
                    assert_eq!(error_type(root), Some("content_filter"));
                    assert!(output.is_some_and(|o| o > 0));
                }
                "-32602" => {
                    // The unknown tool: after a call that asked for it, before a re-planning call.
                    assert_eq!(s.name, TOOL);
                    assert_ne!(s.attr_str("gen_ai.tool.name"), Some("crm.lookup"));
                    assert!(s.status_message.contains("unknown tool"));
                    assert_eq!(children[i - 1].name, LLM);
                    assert_eq!(finish(children[i - 1]), Some(&json!(["tool_calls"])));
                    assert_eq!(later[0].name, LLM, "no re-planning call");
                    assert_eq!(
                        later[0].attr_str("gen_ai.request.model"),
                        Some("planner-model")
                    );
                }
                "timeout" => {
                    assert_eq!(s.duration_ns(), 150_000_000, "a timeout lasts after_ms");
                    assert_eq!(output, Some(0));
                }
                "context_length_exceeded" => {
                    assert_eq!(output, Some(0));
                    assert_eq!(s.attr_i64("llm.token_count.completion"), Some(0));
                    assert!(s.duration_ns() < 40_000_000, "fails fast");
                }
                other => panic!("unexpected error type {other}"),
            }
            assert_eq!(s.status_code, 2, "{kind} fails the span");
        }
    }
    for kind in [
        "429",
        "content_filter",
        "-32602",
        "timeout",
        "context_length_exceeded",
    ] {
        assert!(
            seen.get(kind).copied().unwrap_or(0) >= 10,
            "{kind}: {seen:?}"
        );
    }
    // Every attempt draws afresh: 30% of them are rate limited.
    assert_proportion(rate_limited, plan_attempts, 0.3, "rate-limited attempts");
}

#[test]
fn finish_reasons_agree_with_the_tree_in_every_trace() {
    let received = send_failing("300");
    let mut reasons = std::collections::BTreeSet::new();
    let mut checked = 0;
    for (_, children) in turns(&received) {
        checked += assert_finish_reasons_agree(&children);
        reasons.extend(
            children
                .iter()
                .filter_map(|s| finish(s))
                .map(Value::to_string),
        );
    }
    assert!(checked > 600, "{checked}");
    for r in ["tool_calls", "stop", "length", "content_filter"] {
        assert!(
            reasons.iter().any(|x| x.contains(r)),
            "{r} never seen: {reasons:?}"
        );
    }
}

#[test]
fn the_failures_are_counted_in_the_error_metrics_and_logged() {
    let received = send_failing("200");
    let mut types = std::collections::BTreeSet::new();
    for metric in &received.metrics {
        if metric["name"] != "gen_ai.client.operation.duration" {
            continue;
        }
        for point in metric["points"].as_array().unwrap() {
            if let Some(t) = point["attributes"]["error.type"].as_str() {
                types.insert(t.to_string());
            }
        }
    }
    for t in [
        "429",
        "timeout",
        "context_length_exceeded",
        "content_filter",
    ] {
        assert!(types.contains(t), "{t} not in the error metrics: {types:?}");
    }
    let logged: std::collections::BTreeSet<&str> = received
        .logs
        .iter()
        .filter(|l| l["event_name"] == "gen_ai.client.operation.exception")
        .filter_map(|l| l["attributes"]["exception.type"].as_str())
        .collect();
    assert!(
        logged.contains("429") && logged.contains("timeout"),
        "{logged:?}"
    );
}

#[test]
fn the_provider_outage_scenario_keeps_the_same_rules() {
    let received = send_to_judge(
        &[
            "scenario",
            "--name",
            "provider_outage",
            "--count",
            "150",
            "--seed",
            "4",
            "--interval",
            "0",
        ],
        &[("TENANT_UUID", "t-1")],
    );
    let mut rate_limited = 0;
    for (_, children) in turns(&received) {
        assert_finish_reasons_agree(&children);
        for (i, s) in children.iter().enumerate() {
            if error_type(s) == Some("429") && i + 1 < children.len() && children[i + 1].name == LLM
            {
                rate_limited += 1;
                let after = s.attr_i64("vendor.llm.retry_after_ms").unwrap() as u64;
                assert!(children[i + 1].start - s.end >= after * 1_000_000);
            }
        }
    }
    assert!(rate_limited > 30, "{rate_limited}");
}
