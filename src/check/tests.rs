use super::*;
use crate::generate::PlanOptions;
use crate::scenario::{LoadOptions, decode};

fn scenario(yaml: &str) -> Scenario {
    decode(yaml, "t.yaml", "t", &LoadOptions::default())
        .unwrap_or_else(|d| panic!("{d}"))
        .0
}

fn plan(s: &Scenario) -> Plan {
    Plan::compile(
        s,
        &PlanOptions {
            prefix: "vendor".into(),
            tenants: vec!["t".into()],
            schema: None,
            service_name: "s".into(),
            content: false,
            profile: Default::default(),
        },
    )
}

const TREE: &str = "
root:
  children:
    - type: mcp.tool.execute
      count: {min: 1, max: 4}
      retry: {max_attempts: 3}
    - type: planner
      retry: {max_attempts: 2}
      children:
        - type: llm.call
          count: 5
";

#[test]
fn worst_case_depth_and_fan_out_count_attempt_spans() {
    let s = scenario(TREE);
    // root → planner → llm.call, and root → mcp execute → attempt: three levels.
    assert_eq!(depth(&s.root), 3);
    // The root's children: 4 execute spans + 2 planner attempts; each planner has 5 LLM calls.
    assert_eq!(fan_out(&s.root), 6);
    assert_eq!(
        check(&s, &plan(&s), 1, 1, &|| false).worst_case.spans,
        worst_case_spans(&s.root)
    );
}

#[test]
fn the_same_seed_gives_the_same_report_and_the_typical_trace_is_the_median_one() {
    let s = scenario(TREE);
    let p = plan(&s);
    let a = check(&s, &p, 5, 301, &|| false);
    assert_eq!(a, check(&s, &p, 5, 301, &|| false));
    assert_ne!(
        a.root.latency_ms,
        check(&s, &p, 6, 301, &|| false).root.latency_ms
    );
    let root = &a.typical[0];
    assert_eq!((root.depth, root.start_ms), (0, 0.0));
    assert_eq!(root.duration_ms, a.root.latency_ms.p50);
    // Children start inside the root.
    assert!(
        a.typical
            .iter()
            .all(|w| w.start_ms + w.duration_ms <= root.duration_ms + 1e-9)
    );
}

#[test]
fn retry_sequences_are_counted_by_their_final_attempt() {
    let s = scenario(
        "
root:
  children:
    - type: mcp.tool.execute
      error: {rate: 0, types: [timeout]}
      retry: {max_attempts: 3, force_initial_failure: true, success_rate_per_attempt: [0, 1]}
",
    );
    let r = check(&s, &plan(&s), 1, 200, &|| false);
    let retry = &r.retries[0];
    assert_eq!(retry.name, "vendor.mcp.tool.execute.attempt");
    assert_eq!(retry.sequences, 200);
    // The first attempt always fails (retryably) and the second always succeeds.
    assert_eq!(retry.ended_after, vec![0, 200]);
    assert_eq!(retry.mean_attempts, 2.0);
    let json = r.to_json();
    assert_eq!(
        json["retries"]["vendor.mcp.tool.execute.attempt"]["ended_after_attempts"]["2"],
        200
    );
}

#[test]
fn beyond_the_exact_budget_percentiles_are_sketched_within_their_error_and_the_rest_is_exact() {
    let s = scenario(TREE);
    let p = plan(&s);
    let exact = simulate(&s, &p, (3, 2000), &|| false, u64::MAX);
    let sketched = simulate(&s, &p, (3, 2000), &|| false, 500);
    assert!(exact.exact_percentiles && !sketched.exact_percentiles);
    assert_eq!(exact.spans_per_trace, sketched.spans_per_trace);
    assert_eq!(exact.retries, sketched.retries);
    assert_eq!(exact.typical, sketched.typical);
    let pairs = std::iter::once((&exact.root, &sketched.root))
        .chain(exact.span_types.iter().zip(&sketched.span_types));
    for (e, k) in pairs {
        assert_eq!(
            (&e.name, e.spans, e.error_rate),
            (&k.name, k.spans, k.error_rate)
        );
        for (a, b) in [
            (e.latency_ms.p50, k.latency_ms.p50),
            (e.latency_ms.p95, k.latency_ms.p95),
            (e.latency_ms.p99, k.latency_ms.p99),
        ] {
            assert!(
                (a - b).abs() <= a * sketch::RELATIVE_ERROR + 1e-9,
                "{}: exact {a}, sketched {b}",
                e.name
            );
        }
    }
    assert!(sketched.render().contains("Latency percentiles: estimated"));
}

#[test]
fn a_stop_request_ends_the_simulation_with_a_report_of_what_was_drawn() {
    let s = scenario(TREE);
    let p = plan(&s);
    let asked = std::cell::Cell::new(0);
    let report = check(&s, &p, 1, 1_000_000, &|| {
        asked.set(asked.get() + 1);
        asked.get() > 2
    });
    // Asked before every iteration: the third answer stops it after two.
    assert_eq!(report.samples, 2);
    assert_eq!(report, check(&s, &p, 1, 2, &|| false));
}

#[test]
fn the_typical_trace_candidates_stay_few_and_evenly_spread() {
    let mut c = Candidates {
        kept: Vec::new(),
        stride: 1,
        seen: 0,
    };
    for i in 0..(TYPICAL_CANDIDATES as u64 * 5 + 3) {
        c.offer(i as f64, i, 0);
    }
    assert!(c.kept.len() <= TYPICAL_CANDIDATES);
    assert_eq!(c.stride, 8);
    assert!(c.kept.iter().all(|&(_, i, _)| i % 8 == 0));
    assert_eq!(
        c.kept.len() as u64,
        (TYPICAL_CANDIDATES as u64 * 5 + 3).div_ceil(8)
    );
}

#[test]
fn a_sketched_report_still_draws_its_histograms() {
    let s = scenario(TREE);
    let p = plan(&s);
    let exact = simulate(&s, &p, (2, 1000), &|| false, u64::MAX);
    let sketched = simulate(&s, &p, (2, 1000), &|| false, 100);
    let bars = |r: &Report| {
        let svg = plot::svg(r).unwrap();
        svg.matches("<rect").count()
    };
    // The same bars, give or take the few values a 0.5% error moves across a bin edge.
    assert!(bars(&exact).abs_diff(bars(&sketched)) <= 5);
    for r in &sketched.span_types {
        let (counts, beyond) = r.latencies_ms.histogram(r.latency_ms.p99 * 2.0, 40);
        assert_eq!(counts.iter().sum::<u64>() + beyond, r.spans, "{}", r.name);
    }
}
