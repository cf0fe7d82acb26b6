//! Export: moving encoded OTLP requests to the wire, and accounting for every item.
//!
//! This layer takes the bytes [`crate::encode`] made and delivers them: `pipeline.rs` (bounded
//! queue and sender tasks), `exporter.rs` (the retry policy, the [`exporter::Transport`] trait
//! and the accounting of each attempt), `transport.rs` (the choice of transport), `target.rs`
//! (what a transport is built from, and its errors), one module per transport (`http.rs`,
//! `grpc.rs`, `file.rs`, the last also the output to nowhere), `tls.rs`
//! for the certificates they share and `status.rs` for what servers answer. A request is
//! encoded once and its bytes reused on every retry.
//!
//! It must not import the scenario model nor the generator: it moves requests of any origin
//! (the sink's tests hand it requests of their own). It imports only `encode`, for the request
//! and payload types it carries. The alternative rejected was the one `otlp/` folder
//! that held encoders and transports together: it let an encoder's import of the scenario model
//! pass as a transport's, and hid which half a change touched.
//!
//! Every item handed to export is accounted for in [`ExportStats`]: accepted, rejected (with the
//! server's reason) or dropped (with ours); the run's exit status is derived from it, because
//! losing data silently is the one thing a pipeline test tool must not do.

pub mod exporter;
pub mod file;
pub mod grpc;
pub mod http;
pub mod pipeline;
pub mod status;
pub mod target;
pub mod tls;
pub mod transport;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The `User-Agent` of every request, as OTel exporters identify themselves.
pub const USER_AGENT: &str = concat!("telemetry-simulator/", env!("CARGO_PKG_VERSION"));

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
