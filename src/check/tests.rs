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
        check(&s, &plan(&s), 1, 1).worst_case.spans,
        worst_case_spans(&s.root)
    );
}

#[test]
fn the_same_seed_gives_the_same_report_and_the_typical_trace_is_the_median_one() {
    let s = scenario(TREE);
    let p = plan(&s);
    let a = check(&s, &p, 5, 301);
    assert_eq!(a, check(&s, &p, 5, 301));
    assert_ne!(a.root.latency_ms, check(&s, &p, 6, 301).root.latency_ms);
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
    let r = check(&s, &plan(&s), 1, 200);
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
