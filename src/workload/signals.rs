//! The run's metrics and logs: fed with every trace the run sends, exported through the same
//! pipeline as the spans.
//!
//! Metrics are aggregated as the traces are generated and exported on the metric interval (and
//! once more at the end of the run), the way an SDK's periodic reader does; the run loop calls
//! [`Signals::export_due`] between traces and wakes for it while it waits, so export instants
//! keep to the schedule even when traces are paced far apart. Doing this on the run loop rather
//! than on a timer thread keeps the aggregator free of locks, and the loop is never blocked long
//! except by backpressure, which would hold a metric request back anyway. Logs batch like spans:
//! the records of one trace are added together and sent once a batch is full, or when the loop
//! is about to wait, so nothing sits in memory while nothing happens.

use crate::generate::logs::TraceLogs;
use crate::generate::metrics::{Aggregator, Temporality};
use crate::generate::{Plan, Trace};
use crate::otlp::encode::ResourceTemplate;
use crate::otlp::encode_logs::LogBatch;
use crate::otlp::encode_metrics::metrics_request;
use crate::otlp::export::Transport;
use crate::otlp::payload::OtlpRequest;
use crate::otlp::pipeline::Pipeline;
use std::time::{Duration, Instant};

/// What the run derives from its spans besides the traces.
#[derive(Clone, Debug)]
pub struct SignalSettings {
    /// Whether metrics are sent at all (`--no-metrics` turns them off; a scenario's
    /// `emit_metrics: false` leaves its own traces out).
    pub metrics: bool,
    /// Likewise for logs (`--no-logs`, `emit_logs`).
    pub logs: bool,
    pub metrics_interval: Duration,
    pub temporality: Temporality,
    /// Failures also become `exception` span events.
    pub exception_span_events: bool,
    /// A log request is sent once it holds this many records.
    pub batch_logs: usize,
}

impl Default for SignalSettings {
    fn default() -> Self {
        SignalSettings {
            metrics: true,
            logs: true,
            metrics_interval: Duration::from_secs(10),
            temporality: Temporality::Cumulative,
            exception_span_events: false,
            batch_logs: 1024,
        }
    }
}

/// What was handed to export, per derived signal.
#[derive(Clone, Copy, Debug, Default)]
pub struct SignalCounts {
    pub metric_points: u64,
    pub metric_exports: u64,
    pub log_records: u64,
}

pub(super) struct Signals {
    metrics: Option<Metrics>,
    logs: Option<Logs>,
    resource: ResourceTemplate,
    counts: SignalCounts,
}

struct Metrics {
    aggregator: Aggregator,
    interval: Duration,
    next: Instant,
}

struct Logs {
    batch: LogBatch,
    scratch: TraceLogs,
    batch_records: usize,
}

impl Signals {
    /// Signals for a run under `prefix` that started at `started` (`start_ns` on the clock).
    pub fn new(
        settings: &SignalSettings,
        resource: ResourceTemplate,
        prefix: &str,
        started: Instant,
        start_ns: u64,
    ) -> Signals {
        Signals {
            metrics: settings.metrics.then(|| Metrics {
                aggregator: Aggregator::new(prefix, settings.temporality, start_ns),
                interval: settings.metrics_interval,
                next: started + settings.metrics_interval,
            }),
            logs: settings.logs.then(|| Logs {
                batch: LogBatch::new(resource.clone()),
                scratch: TraceLogs::default(),
                batch_records: settings.batch_logs.max(1),
            }),
            resource,
            counts: SignalCounts::default(),
        }
    }

    /// When the current metrics export window began, if metrics are on.
    pub fn window_start_ns(&self) -> Option<u64> {
        self.metrics
            .as_ref()
            .map(|m| m.aggregator.window_start_ns())
    }

    /// Feeds one trace that is being sent.
    pub fn record(&mut self, plan: &Plan, trace: &Trace) {
        if let Some(m) = &mut self.metrics
            && plan.emit_metrics
        {
            m.aggregator.record(plan, trace);
        }
        if let Some(l) = &mut self.logs
            && plan.emit_logs
        {
            l.scratch.derive(plan, trace);
            l.batch.add(plan, trace, &l.scratch);
        }
    }

    /// Whether the log batch is full.
    pub fn logs_full(&self) -> bool {
        self.logs
            .as_ref()
            .is_some_and(|l| l.batch.records() >= l.batch_records)
    }

    /// Sends the batched log records, if any.
    pub fn send_logs<T: Transport>(&mut self, pipeline: &Pipeline<T>) {
        let Some(l) = &mut self.logs else { return };
        if l.batch.is_empty() {
            return;
        }
        let items = l.batch.records() as u64;
        self.counts.log_records += items;
        pipeline.send(OtlpRequest::Logs(l.batch.take()), items);
    }

    /// When the next metric export is due.
    pub fn next_export(&self) -> Option<Instant> {
        self.metrics.as_ref().map(|m| m.next)
    }

    /// Exports the metrics if their interval has come round by `now`.
    pub fn export_due<T: Transport>(&mut self, now: Instant, pipeline: &Pipeline<T>) {
        let Some(m) = &mut self.metrics else { return };
        if now < m.next {
            return;
        }
        while m.next <= now {
            m.next += m.interval;
        }
        self.export_metrics(pipeline);
    }

    fn export_metrics<T: Transport>(&mut self, pipeline: &Pipeline<T>) {
        let Some(m) = &mut self.metrics else { return };
        let Some(export) = m.aggregator.collect(super::unix_now_ns()) else {
            return;
        };
        let items = export.points as u64;
        self.counts.metric_points += items;
        self.counts.metric_exports += 1;
        pipeline.send(
            OtlpRequest::Metrics(metrics_request(&export, &self.resource)),
            items,
        );
    }

    /// Sends what is left: the last log records and the final metric export.
    pub fn finish<T: Transport>(&mut self, pipeline: &Pipeline<T>) -> SignalCounts {
        self.send_logs(pipeline);
        self.export_metrics(pipeline);
        self.counts
    }
}
