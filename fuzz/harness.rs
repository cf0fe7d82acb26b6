//! What the fuzz target does with one input, shared with the stable test that replays the corpus
//! (`tests/it/fuzz_corpus.rs`): the loader must answer any text with a scenario or diagnostics, never
//! a panic; a scenario that loads must lint, compile and generate one iteration without a panic,
//! and every trace it generates must stay within the static worst case.

use telemetry_simulator::generate::{Iteration, Plan, PlanOptions, generate};
use telemetry_simulator::lint::{LintContext, lint};
use telemetry_simulator::scenario::{LoadOptions, decode_located, worst_case_spans};

pub fn exercise(text: &str) {
    let options = LoadOptions {
        // Keep one iteration cheap: the limit is enforced by the loader itself.
        max_spans_per_trace: 2_000,
        ..LoadOptions::default()
    };
    let Ok(decoded) = decode_located(text, "fuzz.yaml", "fuzz", &options) else {
        return;
    };
    let schema = telemetry_simulator::schema::bundled();
    let context = LintContext {
        file: "fuzz.yaml",
        text,
        schema: &schema,
        prefix: &options.prefix,
    };
    let _ = lint(&decoded, &context);
    let plan = Plan::compile(
        &decoded.scenario,
        &PlanOptions {
            prefix: options.prefix.clone(),
            tenants: vec!["fuzz-tenant".into()],
            schema: Some(std::sync::Arc::new(schema)),
            service_name: "fuzz".into(),
            // Message content is generated too, so the fuzzer reaches that code as well.
            content: true,
            profile: Default::default(),
        },
    );
    let mut iteration = Iteration::default();
    generate(&plan, 1, 0, 0, 1_700_000_000_000_000_000, &mut iteration);
    let worst = worst_case_spans(&decoded.scenario.root);
    for trace in iteration.traces() {
        assert!(
            trace.spans.len() as u64 <= worst,
            "{} spans > worst case {worst}",
            trace.spans.len()
        );
    }
}
