//! Generation: scenarios compiled into plans, plans drawn into traces of span records.
//!
//! The records are the simulator's own compact form of a span (ids, times, status and attribute
//! handles into the plan), not OTLP messages: the encoder turns them into bytes, and the metric
//! and log derivations (`metrics`, `logs`, sharing their reading of a span in `derive`) read the
//! very same records, so every signal agrees with the traces sent.

mod derive;
pub mod logs;
pub mod metrics;
mod plan;
mod sampler;
mod trace;

pub use derive::{DerivedKeys, SpanView, is_genai_client_operation, views};
pub use plan::{AttrValue, LiteralId, NodeId, Plan, PlanOptions, Sym};
pub use sampler::{Draw, Sampler};
pub use trace::{Attr, Iteration, SpanRecord, Trace, ValueDisplay, generate, iteration_rng};
