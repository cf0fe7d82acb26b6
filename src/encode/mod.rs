//! Encoding: the generator's records to OTLP bytes.
//!
//! `wire.rs` is the fast path a run takes: span and log records written straight to protobuf
//! bytes, batched per tenant. `common.rs` holds what every signal's encoding shares (resources
//! per tenant, the scope, attribute values); `metrics.rs` turns collected metrics into their
//! messages; `payload.rs` turns a request into bytes in the transport's format (protobuf or
//! JSON), gzipped or not. The prost reference encoders of spans and logs (`reference.rs`,
//! `reference_logs.rs`), the oracle the property tests hold `wire.rs` byte-identical to, are
//! compiled for tests only, or with the `reference-encoder` feature for the benchmark that
//! compares them: no run takes them, so they are not API.
//!
//! It reads the generator's records and the value types of [`crate::value`], never the scenario
//! model and never a transport: what the bytes are for is [`crate::export`]'s business. The
//! alternative rejected was the one `otlp/` folder that held encoders and transports together.

pub mod common;
pub mod metrics;
pub mod payload;
#[cfg(any(test, feature = "reference-encoder"))]
pub mod reference;
#[cfg(any(test, feature = "reference-encoder"))]
pub mod reference_logs;
pub mod wire;

/// The OTLP signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Traces = 0,
    Metrics = 1,
    Logs = 2,
}

impl Signal {
    pub const ALL: [Signal; 3] = [Signal::Traces, Signal::Metrics, Signal::Logs];

    pub fn name(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }

    /// What one item of the signal is called (the unit of OTLP's partial-success counts).
    pub fn item(self) -> &'static str {
        match self {
            Signal::Traces => "spans",
            Signal::Metrics => "data points",
            Signal::Logs => "log records",
        }
    }

    /// The gRPC method that exports the signal.
    pub fn grpc_method(self) -> &'static str {
        match self {
            Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        }
    }

    /// The OTLP/HTTP path of the signal.
    pub fn path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
            Signal::Logs => "/v1/logs",
        }
    }
}
