//! OTLP: turning generated records into OTLP messages, and sending them.
//!
//! Encoding and transport are separate so each transport (HTTP now; gRPC, files and stdout are
//! the same bytes over another path) reuses one encoder, and so a request is encoded once and its
//! bytes reused on every retry. Every item handed to export is accounted for in [`ExportStats`]:
//! accepted, rejected (with the server's reason) or dropped (with ours); the run's exit status is
//! derived from it, because losing data silently is the one thing a pipeline test tool must not do.

pub mod encode;
pub mod encode_logs;
pub mod encode_metrics;
pub mod export;
pub mod http;
pub mod pipeline;
pub mod wire;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The OTLP signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Traces = 0,
    Metrics = 1,
    Logs = 2,
}

impl Signal {
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
    requests: AtomicU64,
    retries: AtomicU64,
    bytes: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    dropped: AtomicU64,
    /// Distinct reasons for rejections and drops, with how many items each.
    reasons: Mutex<Vec<(String, u64)>>,
}

/// A copy of [`ExportStats`] at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportSnapshot {
    pub requests: u64,
    pub retries: u64,
    pub bytes: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub dropped: u64,
    pub reasons: Vec<(String, u64)>,
}

impl ExportStats {
    pub fn count_request(&self, bytes: u64) {
        self.requests.fetch_add(1, Ordering::Relaxed);
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
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            accepted: self.accepted.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            reasons: self
                .reasons
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}
