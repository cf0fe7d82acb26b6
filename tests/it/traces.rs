//! What the binary sends, as the independent judge (official OpenTelemetry Python bindings)
//! decodes it: trace shapes, timing, the prefix, reproducibility, and the statistics of every
//! distribution, probability, error rate and retry setting.

use crate::common::{
    Judge, Received, Span, assert_mean_within, assert_proportion, bin, scenario_dir,
    send_to_judge as send,
};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Children of `parent` in start order.
fn children<'a>(spans: &[&'a Span], parent: &Span) -> Vec<&'a Span> {
    spans
        .iter()
        .copied()
        .filter(|s| s.parent_span_id == parent.span_id)
        .collect()
}

fn root<'a>(spans: &[&'a Span]) -> &'a Span {
    let roots: Vec<_> = spans.iter().filter(|s| s.is_root()).collect();
    assert_eq!(roots.len(), 1, "exactly one root per trace");
    roots[0]
}

#[test]
fn successful_agent_turn_has_the_seeds_shape_with_children_inside_parents() {
    let received = send(
        &[
            "scenario",
            "--name",
            "successful_agent_turn",
            "--count",
            "60",
            "--interval",
            "0",
            "--seed",
            "11",
        ],
        &[],
    );
    let traces = received.traces();
    assert_eq!(traces.len(), 60, "one trace per iteration");
    for spans in traces.values() {
        let r = root(spans);
        assert_eq!(r.name, "vendor.a2a.orchestrate");
        assert_eq!(r.kind, 2, "the turn is a SERVER span");
        let names: Vec<&str> = children(spans, r).iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "vendor.planner",
                "vendor.mcp.tool.execute",
                "vendor.llm.call",
                "vendor.response.compose"
            ]
        );
        let planner = children(spans, r)[0];
        let planner_children: Vec<&str> = children(spans, planner)
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(planner_children, ["vendor.llm.call"]);
        let tool = children(spans, r)[1];
        let attempts = children(spans, tool);
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].name, "vendor.mcp.tool.execute.attempt");
        assert_eq!(
            attempts[0].attr_str("gen_ai.tool.call.id"),
            tool.attr_str("gen_ai.tool.call.id")
        );
        assert_eq!(
            tool.attr_str("gen_ai.tool.name"),
            Some("claims.getClaimStatus")
        );
        assert_eq!(spans.len(), 7);
        let by_id: HashMap<&str, &Span> = spans.iter().map(|s| (s.span_id.as_str(), *s)).collect();
        for span in spans.iter() {
            assert!(span.end >= span.start);
            if let Some(parent) = by_id.get(span.parent_span_id.as_str()) {
                assert!(
                    span.start >= parent.start && span.end <= parent.end,
                    "{} [{}, {}] not inside {} [{}, {}]",
                    span.name,
                    span.start,
                    span.end,
                    parent.name,
                    parent.start,
                    parent.end
                );
            }
        }
        // Siblings run one after another.
        let kids = children(spans, r);
        for pair in kids.windows(2) {
            assert!(
                pair[0].end <= pair[1].start,
                "{} overlaps {}",
                pair[0].name,
                pair[1].name
            );
        }
        for span in spans.iter() {
            assert_eq!(span.attr_str("tenant.id"), Some("test-tenant"));
            assert_eq!(span.resource_str("tenant.id"), Some("test-tenant"));
            assert_eq!(
                span.resource_str("service.name"),
                Some("telemetry-simulator")
            );
            // Outcome attributes written in the scenario follow the span's sampled outcome.
            if let Some(outcome) = span.attr_str("vendor.step.outcome") {
                assert_eq!(
                    outcome == "failure",
                    span.status_code == 2,
                    "{}: {outcome}",
                    span.name
                );
            }
            if let Some(code) = span.attr_str("vendor.turn.status.code") {
                assert_eq!(code == "ERROR", span.status_code == 2);
                assert_eq!(
                    span.attr_bool("vendor.turn.status.result"),
                    Some(span.status_code != 2)
                );
            }
            if span.status_code == 2 {
                assert!(
                    span.attr_str("error.type").is_some(),
                    "failed spans carry error.type"
                );
            } else {
                assert_eq!(span.status_code, 0, "success leaves the status UNSET");
                assert!(
                    span.attr_str("error.type").is_none(),
                    "no error.type on success"
                );
            }
        }
        let llm = &children(spans, r)[2];
        assert_eq!(llm.attr_str("gen_ai.operation.name"), Some("chat"));
        assert_eq!(llm.kind, 3);
        assert!(llm.attr_i64("gen_ai.usage.input_tokens").is_some());
        assert_eq!(r.attr_str("gen_ai.operation.name"), Some("invoke_agent"));
    }
}

#[test]
fn traces_end_no_later_than_they_are_sent() {
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let received = send(
        &[
            "scenario",
            "--name",
            "tool_retry",
            "--count",
            "20",
            "--interval",
            "0",
            "--seed",
            "3",
        ],
        &[],
    );
    let after = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    for span in &received.spans {
        assert!(span.end <= after, "{} ends in the future", span.name);
        assert!(
            span.end >= before - 60_000_000_000,
            "{} is far in the past",
            span.name
        );
    }
}

#[test]
fn the_prefix_rewrites_types_names_and_attribute_keys() {
    let received = send(
        &[
            "scenario",
            "--name",
            "successful_agent_turn",
            "--count",
            "5",
            "--interval",
            "0",
            "--seed",
            "1",
        ],
        &[("TELEMETRY_SIMULATOR_ATTR_PREFIX", "acme")],
    );
    let names: std::collections::BTreeSet<&str> =
        received.spans.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.contains("acme.a2a.orchestrate") && names.contains("acme.planner"),
        "{names:?}"
    );
    assert!(names.contains("acme.mcp.tool.execute.attempt"));
    for span in &received.spans {
        assert!(!span.name.starts_with("vendor."), "{}", span.name);
        for key in span.attributes.keys() {
            assert!(!key.starts_with("vendor."), "{key} on {}", span.name);
        }
    }
    let planner = received.spans_named("acme.planner")[0];
    assert_eq!(planner.attr_str("acme.step.outcome"), Some("success"));
    assert_eq!(planner.resource_str("acme.tenant.id"), Some("test-tenant"));
}

#[test]
fn global_options_work_before_the_subcommand() {
    let judge = Judge::start();
    let out = bin()
        .args([
            "--endpoint",
            &judge.endpoint(),
            "--service-name",
            "before-sub",
        ])
        .args([
            "scenario",
            "--name",
            "successful_agent_turn",
            "--count",
            "3",
            "--interval",
            "0",
            "-q",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let received = judge.finish();
    assert_eq!(received.traces().len(), 3);
    assert!(
        received
            .spans
            .iter()
            .all(|s| s.resource_str("service.name") == Some("before-sub"))
    );
}

/// Everything about a trace except where it sits in absolute time.
fn fingerprint(received: &Received) -> Vec<String> {
    let mut out = Vec::new();
    for spans in received.traces().values() {
        let start = root(spans).start;
        for s in spans {
            let mut attrs: Vec<_> = s
                .attributes
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            attrs.sort();
            out.push(format!(
                "{} {} {} {} +{} {} {} {}",
                s.trace_id,
                s.span_id,
                s.parent_span_id,
                s.name,
                s.start - start,
                s.duration_ns(),
                s.status_code,
                attrs.join(",")
            ));
        }
    }
    out
}

#[test]
fn the_same_seed_gives_the_same_telemetry() {
    let args = [
        "scenario",
        "--name",
        "example_scenario",
        "--count",
        "40",
        "--interval",
        "0",
        "--seed",
        "12345",
    ];
    let tenants = [("TELEMETRY_TENANT_UUIDS", "t-a,t-b,t-c")];
    let first = fingerprint(&send(&args, &tenants));
    let second = fingerprint(&send(&args, &tenants));
    assert!(first.len() > 200);
    assert_eq!(first, second);
    let mut other = args;
    other[8] = "54321";
    assert_ne!(first, fingerprint(&send(&other, &tenants)));
}

const STATS_SCENARIO: &str = r#"
name: stats
root:
  type: a2a.orchestrate
  latency: {distribution: log_normal, median_ms: 200, sigma: 0.5}
  error: 0
  attributes:
    cat: {distribution: categorical, values: {a: 0.7, b: 0.2, c: 0.1}}
    cat2: {distribution: categorical, values: [x, y], weights: [1, 3]}
    expo: {distribution: exponential, mean: 50}
    geo: {distribution: geometric, p: 0.25}
    bern: {distribution: bernoulli, p: 0.3}
    unif: {distribution: uniform, low: 10, high: 20}
    norm: {distribution: normal, mean: 100, stddev: 15}
    mix:
      distribution: mixture
      components:
        - {weight: 3, distribution: normal, mean: 10, stddev: 1}
        - {weight: 1, distribution: poisson, lambda: 50}
    pois: {distribution: poisson, lambda: 4}
    gen_ai.usage.input_tokens: {distribution: log_normal, median: 400, sigma: 0.3}
  children:
    - type: planner
      latency: {mean_ms: 30, variance: 0.2, spike_rate: 0}
      error: {rate: 0.1}
    - type: rag.retrieve
      probability: 0.3
      latency: 5
      error: 0
    - type: llm.call
      count: {min: 0, max: 30, distribution: poisson, lambda: 2}
      latency: {distribution: exponential, mean: 2}
      error: 0
    - type: task.execute
      count: {min: 1, max: 3}
      latency: 1
      error: 0
"#;

#[test]
fn distributions_probabilities_counts_and_error_rates_hold_statistically() {
    let dir = scenario_dir(&[("stats", STATS_SCENARIO)]);
    let n = 3000;
    let received = send(
        &[
            "scenario",
            "--name",
            "stats",
            "--scenarios-dir",
            path_str(dir.path()),
            "--count",
            &n.to_string(),
            "--interval",
            "0",
            "--seed",
            "2024",
        ],
        &[],
    );
    let traces = received.traces();
    assert_eq!(traces.len(), n);
    let roots: Vec<&Span> = traces.values().map(|spans| root(spans)).collect();

    // log_normal(median 200, sigma 0.5): ln(duration ms) ~ N(ln 200, 0.5).
    let logs: Vec<f64> = roots
        .iter()
        .map(|r| (r.duration_ns() as f64 / 1e6).ln())
        .collect();
    assert_mean_within(&logs, 200f64.ln(), "ln of the log-normal root latency");

    let attr = |k: &str| -> Vec<f64> { roots.iter().map(|r| r.attr_f64(k).unwrap()).collect() };
    assert_mean_within(&attr("expo"), 50.0, "exponential mean");
    assert_mean_within(&attr("geo"), 4.0, "geometric mean (trials until success)");
    assert!(attr("geo").iter().all(|g| *g >= 1.0));
    assert_mean_within(&attr("unif"), 15.0, "uniform mean");
    assert!(attr("unif").iter().all(|u| (10.0..=20.0).contains(u)));
    assert_mean_within(&attr("norm"), 100.0, "normal mean");
    assert_mean_within(&attr("mix"), 0.75 * 10.0 + 0.25 * 50.0, "mixture mean");
    assert_mean_within(&attr("pois"), 4.0, "poisson mean");
    let bern = attr("bern");
    assert_proportion(
        bern.iter().filter(|b| **b == 1.0).count(),
        n,
        0.3,
        "bernoulli p",
    );
    let tokens: Vec<f64> = roots
        .iter()
        .map(|r| {
            r.attr_i64("gen_ai.usage.input_tokens")
                .expect("token counts are integers") as f64
        })
        .collect();
    assert_mean_within(
        &tokens.iter().map(|t| t.ln()).collect::<Vec<_>>(),
        400f64.ln(),
        "ln of log-normal token counts",
    );
    let cat: Vec<&str> = roots.iter().map(|r| r.attr_str("cat").unwrap()).collect();
    assert_proportion(
        cat.iter().filter(|c| **c == "a").count(),
        n,
        0.7,
        "categorical map form: a",
    );
    assert_proportion(
        cat.iter().filter(|c| **c == "c").count(),
        n,
        0.1,
        "categorical map form: c",
    );
    let cat2 = roots
        .iter()
        .filter(|r| r.attr_str("cat2") == Some("y"))
        .count();
    assert_proportion(cat2, n, 0.75, "categorical list form: y");

    let count_of = |spans: &Vec<&Span>, name: &str| spans.iter().filter(|s| s.name == name).count();
    let with_rag = traces
        .values()
        .filter(|s| count_of(s, "rag.retrieve") > 0)
        .count();
    assert_proportion(with_rag, n, 0.3, "probability 0.3 child");
    let llm_counts: Vec<f64> = traces
        .values()
        .map(|s| count_of(s, "vendor.llm.call") as f64)
        .collect();
    assert_mean_within(&llm_counts, 2.0, "poisson count of llm calls");
    let task_counts: Vec<f64> = traces
        .values()
        .map(|s| count_of(s, "vendor.task.execute") as f64)
        .collect();
    assert_mean_within(&task_counts, 2.0, "uniform count {min 1, max 3}");
    assert!(task_counts.iter().all(|c| (1.0..=3.0).contains(c)));

    let planners = received.spans_named("vendor.planner");
    let failed = planners.iter().filter(|p| p.status_code == 2).count();
    assert_proportion(failed, planners.len(), 0.1, "planner error rate");
    let planner_ms: Vec<f64> = planners
        .iter()
        .map(|p| p.duration_ns() as f64 / 1e6)
        .collect();
    assert_mean_within(&planner_ms, 30.0, "jitter latency mean");
    assert!(
        received
            .spans_named("rag.retrieve")
            .iter()
            .all(|s| s.status_code == 0),
        "error: 0 means no errors"
    );
}

const RETRY_SCENARIO: &str = r#"
name: retries
root:
  type: a2a.orchestrate
  latency: 10
  error: 0
  children:
    - type: mcp.tool.execute
      latency: {distribution: uniform, low: 20, high: 30}
      error: {rate: 0.5, types: [timeout]}
      retry:
        max_attempts: 3
        force_initial_failure: true
        backoff_base_ms: 150
        backoff_multiplier: 2
        backoff_jitter: 0.25
        success_rate_per_attempt: [0.0, 0.75, 0.92]
    - type: llm.call
      latency: 10
      error: {rate: 0.4, types: [rate_limit, validation], type_weights: [1, 0]}
      retry: {max_attempts: 4, backoff_base_ms: 100, backoff_jitter: 0.2, success_rate_per_attempt: [0, 0.5]}
"#;

#[test]
fn retries_follow_their_success_rates_and_leave_backoff_gaps() {
    let dir = scenario_dir(&[("retries", RETRY_SCENARIO)]);
    let n = 2000;
    let received = send(
        &[
            "scenario",
            "--name",
            "retries",
            "--scenarios-dir",
            path_str(dir.path()),
            "--count",
            &n.to_string(),
            "--interval",
            "0",
            "--seed",
            "77",
        ],
        &[],
    );
    let traces = received.traces();
    assert_eq!(traces.len(), n);
    let mut mcp_attempts: BTreeMap<usize, usize> = BTreeMap::new();
    let mut llm_attempts: BTreeMap<usize, usize> = BTreeMap::new();
    for spans in traces.values() {
        let r = root(spans);
        let tool = spans
            .iter()
            .find(|s| s.name == "vendor.mcp.tool.execute")
            .unwrap();
        let attempts = children(spans, tool);
        *mcp_attempts.entry(attempts.len()).or_default() += 1;
        assert_eq!(
            attempts[0].status_code, 2,
            "the first attempt is forced to fail"
        );
        assert_eq!(attempts[0].attr_str("error.type"), Some("timeout"));
        for (k, pair) in attempts.windows(2).enumerate() {
            let gap_ms = (pair[1].start - pair[0].end) as f64 / 1e6;
            let base = 150.0 * 2f64.powi(k as i32);
            assert!(
                gap_ms >= base * 0.75 - 0.01 && gap_ms <= base * 1.25 + 0.01,
                "backoff after attempt {} is {gap_ms} ms, expected {base} ± 25%",
                k + 1
            );
        }
        for (k, a) in attempts.iter().enumerate() {
            assert_eq!(a.attr_i64("retry.attempt"), Some(k as i64 + 1));
            assert_eq!(a.attr_i64("vendor.mcp.attempt.index"), Some(k as i64));
        }
        let last = attempts.last().unwrap();
        assert_eq!(
            tool.status_code, last.status_code,
            "the call fails only if its last attempt does"
        );
        // A non-MCP step with retry: one sibling span per attempt.
        let llm: Vec<&Span> = children(spans, r)
            .into_iter()
            .filter(|s| s.name == "vendor.llm.call")
            .collect();
        *llm_attempts.entry(llm.len()).or_default() += 1;
        for (k, pair) in llm.windows(2).enumerate() {
            assert_eq!(pair[0].status_code, 2, "only failed attempts are retried");
            let gap_ms = (pair[1].start - pair[0].end) as f64 / 1e6;
            let base = 100.0 * 2f64.powi(k as i32);
            assert!(
                gap_ms >= base * 0.8 - 0.01 && gap_ms <= base * 1.2 + 0.01,
                "llm backoff {gap_ms}"
            );
        }
        for (k, a) in llm.iter().enumerate() {
            assert_eq!(a.attr_i64("retry.attempt"), Some(k as i64 + 1));
        }
    }
    // Attempt k ≥ 2 succeeds with success_rate_per_attempt[k-1].
    assert_eq!(mcp_attempts.get(&1), None);
    assert_proportion(
        *mcp_attempts.get(&2).unwrap_or(&0),
        n,
        0.75,
        "tool calls done in 2 attempts",
    );
    assert_proportion(
        *mcp_attempts.get(&3).unwrap_or(&0),
        n,
        0.25,
        "tool calls needing 3 attempts",
    );
    // llm: first attempt fails at 0.4, later ones succeed at 0.5 (the last rate repeats).
    for (attempts, p) in [(1, 0.6), (2, 0.2), (3, 0.1), (4, 0.1)] {
        assert_proportion(
            *llm_attempts.get(&attempts).unwrap_or(&0),
            n,
            p,
            &format!("llm calls with {attempts} attempts"),
        );
    }
}

#[test]
fn a_retried_root_sends_one_trace_per_attempt() {
    let scenario = r#"
name: root_retry
root:
  type: a2a.orchestrate
  latency: 50
  error: {rate: 0, types: [timeout]}
  retry: {max_attempts: 2, force_initial_failure: true, success_rate_per_attempt: [0, 1]}
  children:
    - {type: planner, latency: 5, error: 0}
"#;
    let dir = scenario_dir(&[("root_retry", scenario)]);
    let received = send(
        &[
            "scenario",
            "--name",
            "root_retry",
            "--scenarios-dir",
            path_str(dir.path()),
            "--count",
            "10",
            "--interval",
            "0",
        ],
        &[],
    );
    let traces = received.traces();
    assert_eq!(traces.len(), 20);
    let failed = traces
        .values()
        .filter(|spans| root(spans).status_code == 2)
        .count();
    assert_eq!(failed, 10);
}

/// "Fails on its first attempt and succeeds after retry" with the default error types: the
/// forced failure draws only the retryable ones (timeout .30, upstream_5xx .25, rate_limit
/// .10), so every tool call is retried; before, about a third drew a non-retryable type
/// (validation, auth_failure, not_found, internal_error) and ended at once.
#[test]
fn a_forced_initial_failure_is_always_retried_with_the_default_error_types() {
    let scenario = "name: forced\nroot:\n  type: vendor.a2a.orchestrate\n  error: {rate: 0}\n  children:\n    - type: vendor.mcp.tool.execute\n      retry: {max_attempts: 3, force_initial_failure: true}\n";
    let dir = scenario_dir(&[("forced", scenario)]);
    let n = 600;
    let received = send(
        &[
            "scenario",
            "--name",
            "forced",
            "--scenarios-dir",
            path_str(dir.path()),
            "--count",
            &n.to_string(),
            "--interval",
            "0",
            "--seed",
            "14",
            "--no-metrics",
            "--no-logs",
        ],
        &[],
    );
    let mut first: BTreeMap<String, usize> = BTreeMap::new();
    for spans in received.traces().values() {
        let tool = spans
            .iter()
            .find(|s| s.name == "vendor.mcp.tool.execute")
            .unwrap();
        let attempts = children(spans, tool);
        assert!(attempts.len() >= 2, "a forced failure not retried");
        assert_eq!(attempts[0].status_code, 2);
        *first
            .entry(attempts[0].attr_str("error.type").unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(first.values().sum::<usize>(), n);
    for (kind, weight) in [
        ("timeout", 0.30),
        ("upstream_5xx", 0.25),
        ("rate_limit", 0.10),
    ] {
        let seen = first.get(kind).copied().unwrap_or(0);
        assert_proportion(seen, n, weight / 0.65, kind);
    }
}
