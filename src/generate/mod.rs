//! Generation: scenarios compiled into plans, plans drawn into traces of span records.
//!
//! The records are the simulator's own compact form of a span (ids, times, status and attribute
//! handles into the plan), not OTLP messages: the encoder turns them into bytes, and the metric
//! and log derivations read the very same records, so every signal agrees with the traces sent.

mod plan;
mod sampler;
mod trace;

pub use plan::{
    AttrValue, LatencySampler, LiteralId, NodeId, Plan, PlanOptions, Sym, is_integer_attribute,
    is_token_count,
};
pub use sampler::{Draw, Sampler};
pub use trace::{Attr, Iteration, SpanRecord, Trace, generate, iteration_rng};
