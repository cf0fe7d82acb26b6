//! OTLP: turning generated records into OTLP messages, and sending them.
//!
//! Encoding and transport are separate so each transport (HTTP, gRPC, a file of JSON lines, or
//! nothing at all for benchmarks) reuses the same encoders, and so a request is encoded once and
//! its bytes reused on every retry. Layout:
//!
//! - encoding: `wire.rs` (the fast path a run takes: span and log records written straight to
//!   protobuf bytes, batched per tenant), `encode.rs` (the same through prost messages: the
//!   reference `wire.rs` is tested against, and the pieces every signal shares), `encode_logs.rs`
//!   and `encode_metrics.rs` (log records and collected metrics to their messages), `payload.rs`
//!   (messages → bytes in the transport's format, gzip);
//! - delivery: `pipeline.rs` (bounded queue and senders), `export.rs` (retry policy and
//!   accounting), `transport.rs` (the choice of transport), one module per transport (`http.rs`,
//!   `grpc.rs`, `file.rs`, the last also the output to nowhere), `tls.rs` for the certificates
//!   they share and `status.rs` for what servers answer.
//!
//! Every item handed to export is accounted for in [`ExportStats`]: accepted, rejected (with the
//! server's reason) or dropped (with ours); the run's exit status is derived from it, because
//! losing data silently is the one thing a pipeline test tool must not do.

pub mod encode;
pub mod encode_logs;
pub mod encode_metrics;
pub mod export;
pub mod file;
pub mod grpc;
pub mod http;
pub mod payload;
pub mod pipeline;
pub mod status;
pub mod tls;
pub mod transport;
pub mod wire;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The `User-Agent` of every request, as OTel exporters identify themselves.
pub const USER_AGENT: &str = concat!("telemetry-simulator/", env!("CARGO_PKG_VERSION"));

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

/// What became of the items of one signal.
#[derive(Debug, Default)]
pub struct ExportStats {
    generated: AtomicU64,
    sent: AtomicU64,
    requests: AtomicU64,
    retries: AtomicU64,
    bytes_uncompressed: AtomicU64,
    bytes: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    dropped: AtomicU64,
    /// Distinct reasons for rejections and drops, with how many items each.
    reasons: Mutex<Vec<(String, u64)>>,
}

/// A copy of [`ExportStats`] at one moment. `generated = accepted + rejected + dropped` once
/// the run has finished; `sent` counts items in requests that reached a transport at least once.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportSnapshot {
    pub generated: u64,
    pub sent: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub dropped: u64,
    /// Distinct requests sent (retries not counted again).
    pub requests: u64,
    /// Attempts that were retried.
    pub retries: u64,
    /// Encoded size of the requests sent, before compression.
    pub bytes_uncompressed: u64,
    /// Size on the wire (after compression).
    pub bytes: u64,
    /// Why items were rejected or dropped, with how many items each (the first 20 reasons).
    pub reasons: Vec<(String, u64)>,
}

impl ExportSnapshot {
    /// Whether every generated item was accepted.
    pub fn lossless(&self) -> bool {
        self.accepted == self.generated
    }
}

impl ExportStats {
    /// Items handed to export (whether or not they are ever sent).
    pub fn count_generated(&self, items: u64) {
        self.generated.fetch_add(items, Ordering::Relaxed);
    }

    /// A request about to be sent for the first time.
    pub fn count_sent(&self, items: u64, bytes_uncompressed: u64, bytes: u64) {
        self.sent.fetch_add(items, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes_uncompressed
            .fetch_add(bytes_uncompressed, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn count_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub fn accepted(&self, items: u64) {
        self.accepted.fetch_add(items, Ordering::Relaxed);
    }

    pub fn rejected(&self, items: u64, reason: &str) {
        self.rejected.fetch_add(items, Ordering::Relaxed);
        self.note(items, reason);
    }

    pub fn dropped(&self, items: u64, reason: &str) {
        self.dropped.fetch_add(items, Ordering::Relaxed);
        self.note(items, reason);
    }

    fn note(&self, items: u64, reason: &str) {
        let mut reasons = self.reasons.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, n)) = reasons.iter_mut().find(|(r, _)| r == reason) {
            *n += items;
        } else if reasons.len() < 20 {
            reasons.push((reason.to_string(), items));
        }
    }

    pub fn snapshot(&self) -> ExportSnapshot {
        ExportSnapshot {
            generated: self.generated.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            accepted: self.accepted.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            bytes_uncompressed: self.bytes_uncompressed.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            reasons: self
                .reasons
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}
