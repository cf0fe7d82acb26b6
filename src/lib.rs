//! `telemetry-simulator`: realistic OpenTelemetry telemetry for LLM-agent systems (traces, and the
//! metrics and logs derived from them), generated from YAML scenarios and sent over OTLP.
//!
//! The crate is a library with a thin binary (`src/main.rs`) on top, so that tests, benchmarks and
//! other tools can drive every stage directly. Data flows one way through modules that each know
//! only their neighbour:
//!
//! ```text
//! scenario (YAML → typed, validated model) → generate (plan → traces of span records,
//!          and the metrics and logs derived from them)
//!          → encode (records → OTLP bytes) → export (bytes → the wire: pipeline, retries,
//!            transports, TLS, status) ← workload (pacing, the run loop)
//! ```
//!
//! The model knows nothing of OTLP, the generator nothing of transports, and neither `encode`
//! nor `export` imports the scenario model. The few value
//! types the model, the generator and the encoder share (a constant attribute value, a span's
//! kind) live in `value`, below all three, so the encoder reads them without reaching into the
//! model. The alternative of building spans through an OpenTelemetry SDK was rejected: the
//! simulator must set exact timestamps, ids and statuses, and an SDK pipeline would cost most of
//! the time per span.
//!
//! Both YAML formats, scenarios and the semantic-conventions schema (`schema`), are read with one
//! located-YAML reader (`yaml`: the tree, diagnostics with source lines, typed fields), which sits
//! below both and imports neither.
//!
//! On top sits the edge, `cli`: the command line, its settings from flags and environment, and
//! one file per command; it alone prints and chooses the exit status, and nothing below imports
//! it. It hands a run to `workload::Launched`, which assembles the runtime, signal handlers,
//! local sink and transports.
#![forbid(unsafe_code)]

pub mod check;
pub mod cli;
pub mod conventions;
pub mod encode;
pub mod export;
pub mod files;
pub mod generate;
pub mod grpc_code;
pub mod human;
pub mod import;
pub mod input;
pub mod interrupt;
#[cfg(test)]
mod layering;
pub mod lint;
pub mod scenario;
pub mod schema;
pub mod sink;
pub mod value;
pub mod workload;
pub mod yaml;
