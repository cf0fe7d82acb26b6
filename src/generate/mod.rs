//! Generation: scenarios compiled into plans, plans drawn into traces of span records.
//!
//! The records are the simulator's own compact form of a span (ids, times, status and attribute
//! handles into the plan), not OTLP messages: the encoder turns them into bytes, and the metric
//! and log derivations (`metrics`, `logs`, sharing their reading of a span in `derive`) read the
//! very same records, so every signal agrees with the traces sent.
//!
//! What each span type means is not here but in [`crate::conventions`], which these modules read.
//! The imports read top to bottom: `symbols` (handles, ids, values) and `keys` at the bottom, then
//! `sampler`, `openinference`, `plan`, `trace`, `derive`, and `metrics`/`logs` on top; `content`
//! and `plan` still import each other (the plan owns the content plan, which reads the plan).

mod content;
mod derive;
pub mod evaluation;
mod failures;
mod generic;
mod keys;
mod llm;
pub mod logs;
pub mod metrics;
pub mod openinference;
mod plan;
mod profile;
mod sampler;
pub mod services;
pub mod session;
mod symbols;
mod trace;
pub mod written;

pub use derive::{DerivedKeys, SpanView, is_genai_client_operation, views};
pub use generic::{LinkRecord, MAX_STAGGER_NS, anchor, anchor_together};
pub use llm::{Cost, DEFAULT_MODEL, Timed, Usage, model_of, resolve as resolve_model};
pub use plan::{LatencySampler, Plan, PlanOptions, is_integer_attribute, is_token_count};
pub use sampler::{Draw, Sampler};
pub use symbols::Attr;
pub use symbols::{AttrValue, LiteralId, NodeId, Sym};
pub use trace::{
    Iteration, SpanRecord, Trace, ValueDisplay, generate, generate_turn, iteration_rng,
};

/// Plans and traces for the unit tests of the modules that read traces.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Iteration, Plan, PlanOptions, Trace, generate};
    use std::sync::Arc;

    /// The plan of scenario `yaml`, under prefix `vendor`, tenants `t1` and `t2`, and the bundled
    /// schema.
    pub fn plan(yaml: &str) -> Plan {
        let options = crate::scenario::LoadOptions::default();
        let (scenario, _) = crate::scenario::decode(yaml, "test.yaml", "test", &options)
            .unwrap_or_else(|d| panic!("{d}"));
        Plan::compile(
            &scenario,
            &PlanOptions {
                prefix: "vendor".into(),
                tenants: vec!["t1".into(), "t2".into()],
                schema: Some(Arc::new(crate::schema::bundled().with_prefix("vendor"))),
                service_name: "svc".into(),
                content: false,
                profile: Default::default(),
            },
        )
    }

    /// The plan of a bundled scenario.
    pub fn bundled(name: &str) -> Plan {
        let (_, text) = crate::scenario::BUNDLED
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no bundled scenario {name}"));
        plan(text)
    }

    /// The traces of iterations `0..n`, tenants alternating.
    pub fn traces(plan: &Plan, seed: u64, n: u64) -> Vec<Trace> {
        let mut out = Vec::new();
        let mut iteration = Iteration::default();
        for index in 0..n {
            let end = 1_700_000_000_000_000_000 + index * 1_000_000_000;
            generate(plan, seed, index, (index % 2) as u32, end, &mut iteration);
            out.extend(iteration.traces().iter().cloned());
        }
        out
    }
}
