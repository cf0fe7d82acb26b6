//! Micro-benchmarks of the per-span path: sampling, trace generation and OTLP encoding, per
//! bundled scenario. Throughput is reported per span, so scenarios of different sizes compare.
//!
//! `cargo bench --bench pipeline`, with `--features reference-encoder` for the prost reference
//! encoder's row (`generate_and_encode`) beside the fast writer's; the end-to-end numbers (the real binary, a real socket) come
//! from `scripts/bench`.

use divan::{Bencher, black_box, counter::ItemsCount};
#[cfg(feature = "reference-encoder")]
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
#[cfg(feature = "reference-encoder")]
use prost::Message;
use rand::SeedableRng;
use telemetry_simulator::encode::common::ResourceTemplate;
use telemetry_simulator::encode::wire::{RequestBatch, SpanEncoder};
#[cfg(feature = "reference-encoder")]
use telemetry_simulator::encode::{common::BatchLimits, reference::TraceBatch};
use telemetry_simulator::generate::{Iteration, Plan, PlanOptions, Sampler, generate};
use telemetry_simulator::scenario::{BUNDLED, Distribution, LoadOptions, decode};

fn main() {
    divan::main();
}

const SCENARIOS: &[&str] = &[
    "successful_agent_turn",
    "tool_retry",
    "task_decomposition",
    "example_scenario",
];

fn plan(name: &str) -> Plan {
    let text = BUNDLED.iter().find(|(n, _)| *n == name).expect("bundled").1;
    let (scenario, _) = decode(text, name, name, &LoadOptions::default()).expect("valid");
    Plan::compile(
        &scenario,
        &PlanOptions {
            prefix: "vendor".into(),
            tenants: vec!["tenant-a".into(), "tenant-b".into()],
            schema: Some(std::sync::Arc::new(telemetry_simulator::schema::bundled())),
            service_name: "telemetry-simulator".into(),
            content: false,
            profile: Default::default(),
        },
    )
}

/// Spans per iteration, averaged over many iterations (scenarios vary in size).
fn spans_per_iteration(plan: &Plan, iterations: u64) -> f64 {
    let mut out = Iteration::default();
    let mut spans = 0;
    for i in 0..iterations {
        generate(plan, 1, i, 0, 1 << 60, &mut out);
        spans += out.traces().iter().map(|t| t.spans.len()).sum::<usize>();
    }
    spans as f64 / iterations as f64
}

const ITERATIONS: u64 = 1000;

#[divan::bench(args = SCENARIOS)]
fn generate_only(bencher: Bencher, name: &str) {
    let plan = plan(name);
    let spans = (spans_per_iteration(&plan, ITERATIONS) * ITERATIONS as f64) as usize;
    let mut out = Iteration::default();
    bencher.counter(ItemsCount::new(spans)).bench_local(|| {
        for i in 0..ITERATIONS {
            generate(&plan, 7, i, (i % 2) as u32, 1 << 60, &mut out);
            black_box(out.traces());
        }
    });
}

/// The prost reference encoder, for comparison: only with `--features reference-encoder`.
#[cfg(feature = "reference-encoder")]
#[divan::bench(args = SCENARIOS)]
fn generate_and_encode(bencher: Bencher, name: &str) {
    let plan = plan(name);
    let spans = (spans_per_iteration(&plan, ITERATIONS) * ITERATIONS as f64) as usize;
    let mut out = Iteration::default();
    let template = ResourceTemplate {
        attributes: vec![("service.name".into(), "telemetry-simulator".into())],
        tenant_keys: vec!["tenant.id".into()],
        schema_url: String::new(),
        scope_schema_url: String::new(),
    };
    let limits = BatchLimits {
        max_items: 512,
        max_bytes: usize::MAX,
    };
    let mut batch = TraceBatch::new(template, limits);
    let mut buffer = Vec::with_capacity(1 << 20);
    bencher.counter(ItemsCount::new(spans)).bench_local(|| {
        let mut encode = |request: ExportTraceServiceRequest, _| {
            buffer.clear();
            request.encode(&mut buffer).expect("fits");
        };
        for i in 0..ITERATIONS {
            generate(&plan, 7, i, (i % 2) as u32, 1 << 60, &mut out);
            for trace in out.traces() {
                batch.add(&plan, trace, &mut encode);
            }
        }
        batch.flush(&mut encode);
        black_box(&buffer);
    });
}

/// The hot path: the template writer, byte-identical to `generate_and_encode`'s prost output.
#[divan::bench(args = SCENARIOS)]
fn generate_and_write(bencher: Bencher, name: &str) {
    let plan = plan(name);
    let spans = (spans_per_iteration(&plan, ITERATIONS) * ITERATIONS as f64) as usize;
    let mut out = Iteration::default();
    let template = ResourceTemplate {
        attributes: vec![("service.name".into(), "telemetry-simulator".into())],
        tenant_keys: vec!["tenant.id".into()],
        schema_url: String::new(),
        scope_schema_url: String::new(),
    };
    let encoder = SpanEncoder::new(&plan);
    let mut batch = RequestBatch::new(&template, "tenant-a");
    bencher.counter(ItemsCount::new(spans)).bench_local(|| {
        for i in 0..ITERATIONS {
            generate(&plan, 7, i, 0, 1 << 60, &mut out);
            for trace in out.traces() {
                batch.add_trace(&encoder, trace);
            }
            if batch.items() >= 512 {
                black_box(batch.take());
            }
        }
        black_box(batch.take());
    });
}

#[divan::bench(args = ["log_normal", "normal", "poisson", "categorical"])]
fn sample(bencher: Bencher, kind: &str) {
    let d = match kind {
        "log_normal" => Distribution::LogNormal {
            median: 200.0,
            sigma: 0.5,
        },
        "normal" => Distribution::Normal {
            mean: 100.0,
            stddev: 10.0,
        },
        "poisson" => Distribution::Poisson { lambda: 2.0 },
        _ => Distribution::Categorical {
            values: (0..8)
                .map(telemetry_simulator::scenario::Literal::Int)
                .collect(),
            weights: vec![1.0; 8],
        },
    };
    let sampler = Sampler::new(&d);
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(1);
    bencher.counter(ItemsCount::new(1000usize)).bench_local(|| {
        for _ in 0..1000 {
            black_box(sampler.draw(&mut rng));
        }
    });
}
