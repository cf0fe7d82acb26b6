//! The run's metrics and logs: fed with every trace the run sends, exported through the same
//! pipeline as the spans.
//!
//! Metrics are aggregated as the traces are generated and exported on the metric interval (and
//! once more at the end of the run), the way an SDK's periodic reader does. Every worker records
//! into one aggregator behind a lock, and a thread of its own exports it on the interval, so
//! export instants keep to the schedule however busy or idle the workers are. One aggregator per
//! worker, merged at export, was the alternative rejected: merging series, exemplars and the
//! cardinality limit is much more code than a lock that is held for one trace's measurements.
//!
//! Logs batch like spans, per worker, written straight to protobuf by the same writer: the records
//! of one trace are added together and sent, one request per tenant, once a batch is full, has
//! waited long enough, or the worker is about to wait, so nothing sits in memory while nothing
//! happens.

use crate::encode::Signal;
use crate::encode::common::{BatchLimits, ResourceTemplate, TenantRequest};
use crate::encode::metrics::metrics_requests;
use crate::encode::payload::OtlpRequest;
use crate::encode::wire::{EncodedRequest, SpanEncoder, TenantBatches};
use crate::export::exporter::Transport;
use crate::export::pipeline::Pipeline;
use crate::generate::logs::TraceLogs;
use crate::generate::metrics::{Aggregator, Temporality};
use crate::generate::{Iteration, Plan, Trace};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
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

/// The run's metric aggregation, shared by the workers.
pub(super) struct Metrics {
    aggregator: Mutex<Aggregator>,
    interval: Duration,
    resource: ResourceTemplate,
    points: AtomicU64,
    exports: AtomicU64,
    /// Set when the run's start is pinned: its exports follow the schedule, not the clock.
    pinned: Option<Pinned>,
}

/// The metric clock of a run whose start is pinned (`--start-time`): every export is stamped
/// from the schedule, so a pinned run's metrics are the same, byte for byte, every time.
struct Pinned {
    /// Where the schedule's offsets count from, in Unix ns.
    zero_ns: u64,
    /// Whether exports are made on the interval (not in a backfill: its history is exported
    /// once, at the end of its window).
    on_interval: bool,
    /// The latest instant recorded, at first the run's start: the stamp of the final export.
    latest_ns: AtomicU64,
    /// When the next interval export is due, in ns from `zero_ns` (changed under the lock).
    next_ns: AtomicU64,
}

impl Metrics {
    /// The metrics of a run under `prefix` that started at `start_ns`; `None` when they are off.
    pub fn new(
        settings: &SignalSettings,
        resource: ResourceTemplate,
        prefix: &str,
        start_ns: u64,
    ) -> Option<Metrics> {
        settings.metrics.then(|| Metrics {
            aggregator: Mutex::new(Aggregator::new(prefix, settings.temporality, start_ns)),
            interval: settings.metrics_interval,
            resource,
            points: AtomicU64::new(0),
            exports: AtomicU64::new(0),
            pinned: None,
        })
    }

    /// Pins the metric clock: exports on the interval counted from `zero_ns` (when
    /// `on_interval`), made by [`Metrics::export_due`] as the schedule reaches them, and a final
    /// export stamped with the latest instant recorded, at least `zero_ns`.
    pub fn pinned(mut self, zero_ns: u64, on_interval: bool) -> Metrics {
        self.pinned = Some(Pinned {
            zero_ns,
            on_interval,
            latest_ns: AtomicU64::new(zero_ns),
            next_ns: AtomicU64::new(self.interval.as_nanos() as u64),
        });
        self
    }

    /// Whether the exports follow the schedule rather than the clock.
    pub fn is_pinned(&self) -> bool {
        self.pinned.is_some()
    }

    fn aggregator(&self) -> std::sync::MutexGuard<'_, Aggregator> {
        // A worker that panicked cannot have left a measurement half made that matters more
        // than the rest of the run's metrics.
        self.aggregator.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the traces of `iteration`. A live iteration that ends at `end_ns` is first moved
    /// so that it ends no earlier than the export window that will count it (an iteration made
    /// late, just after an export).
    pub fn record(&self, plan: &Plan, iteration: &mut Iteration, live_end_ns: Option<u64>) {
        if let (Some(pinned), Some(end)) = (&self.pinned, live_end_ns) {
            pinned.latest_ns.fetch_max(end, Ordering::Relaxed);
        }
        if !plan.emit_metrics {
            return;
        }
        let mut aggregator = self.aggregator();
        if let Some(end) = live_end_ns {
            let window = aggregator.window_start_ns();
            if end < window {
                iteration.delay(window - end);
            }
        }
        for trace in iteration.traces() {
            aggregator.record(plan, trace);
        }
    }

    /// Exports on the interval, counted from `started`, until `stop` is dropped.
    pub fn export_on_interval<T: Transport>(
        &self,
        pipeline: &Pipeline<T>,
        started: Instant,
        stop: &mpsc::Receiver<()>,
    ) {
        let mut next = started + self.interval;
        loop {
            let wait = next.saturating_duration_since(Instant::now());
            match stop.recv_timeout(wait) {
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
            let now = Instant::now();
            while next <= now {
                next += self.interval;
            }
            self.export(pipeline);
        }
    }

    /// In a pinned run, makes the interval export due by `end_ns` (the instant on the schedule
    /// of the live iteration about to be recorded; `None` in a backfill), stamped with its own
    /// instant on the schedule: which traces an export counts then depends on the schedule
    /// alone. (An iteration several intervals on gets one export, at the last interval before
    /// it, as on the clock.)
    pub fn export_due<T: Transport>(&self, pipeline: &Pipeline<T>, end_ns: Option<u64>) {
        let (Some(pinned), Some(end_ns)) = (self.pinned.as_ref().filter(|p| p.on_interval), end_ns)
        else {
            return;
        };
        let interval = (self.interval.as_nanos() as u64).max(1);
        let mut aggregator = self.aggregator();
        let since_zero = end_ns.saturating_sub(pinned.zero_ns);
        if since_zero < pinned.next_ns.load(Ordering::Relaxed) {
            return;
        }
        let due = since_zero / interval * interval;
        pinned.next_ns.store(due + interval, Ordering::Relaxed);
        let export = aggregator.collect(pinned.zero_ns + due);
        drop(aggregator);
        self.send(pipeline, export);
    }

    /// Exports what has been aggregated, one request per tenant: stamped now, or in a pinned run
    /// with the latest instant recorded.
    pub fn export<T: Transport>(&self, pipeline: &Pipeline<T>) {
        let mut aggregator = self.aggregator();
        let now_ns = match &self.pinned {
            Some(pinned) => pinned
                .latest_ns
                .load(Ordering::Relaxed)
                .max(aggregator.window_start_ns()),
            None => super::unix_now_ns(),
        };
        let export = aggregator.collect(now_ns);
        drop(aggregator);
        self.send(pipeline, export);
    }

    fn send<T: Transport>(
        &self,
        pipeline: &Pipeline<T>,
        export: Option<crate::generate::metrics::MetricsExport>,
    ) {
        let Some(export) = export else { return };
        self.exports.fetch_add(1, Ordering::Relaxed);
        let requests = metrics_requests(&export, &self.resource);
        let points = send_each(pipeline, requests, OtlpRequest::Metrics);
        self.points.fetch_add(points, Ordering::Relaxed);
    }

    /// Data points handed to export, and the number of exports.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.points.load(Ordering::Relaxed),
            self.exports.load(Ordering::Relaxed),
        )
    }
}

/// One worker's log records on their way out, written straight to protobuf like its spans.
pub(super) struct Logs {
    batches: TenantBatches,
    scratch: TraceLogs,
    sent: u64,
}

impl Logs {
    /// `None` when logs are off.
    pub fn new(
        settings: &SignalSettings,
        resource: ResourceTemplate,
        tenants: Vec<String>,
        max_bytes: usize,
    ) -> Option<Logs> {
        let limits = BatchLimits {
            max_items: settings.batch_logs,
            max_bytes,
        };
        settings.logs.then(|| Logs {
            batches: TenantBatches::new(resource, tenants, limits),
            scratch: TraceLogs::default(),
            sent: 0,
        })
    }

    /// Adds the records of one trace that is being sent; full requests are sent.
    pub fn add<T: Transport>(
        &mut self,
        plan: &Plan,
        encoder: &SpanEncoder,
        trace: &Trace,
        out: &Out<'_, T>,
    ) {
        if !plan.emit_logs {
            return;
        }
        self.scratch.derive(plan, trace);
        let sent = &mut self.sent;
        self.batches
            .add_logs(encoder, trace, &self.scratch, &mut |r| {
                *sent += out.send(Signal::Logs, r)
            });
    }

    /// Sends the requests that got their first record before `deadline`.
    pub fn send_opened_before<T: Transport>(&mut self, deadline: Instant, out: &Out<'_, T>) {
        let sent = &mut self.sent;
        self.batches
            .flush_opened_before(Some(deadline), &mut |r| *sent += out.send(Signal::Logs, r));
    }

    /// Sends every record batched.
    pub fn send<T: Transport>(&mut self, out: &Out<'_, T>) {
        let sent = &mut self.sent;
        self.batches
            .flush(&mut |r| *sent += out.send(Signal::Logs, r));
    }

    /// Log records handed to export.
    pub fn sent(&self) -> u64 {
        self.sent
    }
}

/// Where a worker's finished requests go: the pipeline, each with its tenant.
pub(super) struct Out<'a, T: Transport> {
    pub pipeline: &'a Pipeline<T>,
    pub tenants: &'a [Arc<str>],
}

impl<T: Transport> Out<'_, T> {
    /// Queues `request` of `signal`; the number of items queued.
    pub fn send(&self, signal: Signal, request: EncodedRequest) -> u64 {
        let tenant = self.tenants[request.tenant as usize].clone();
        self.pipeline.send(
            OtlpRequest::Encoded(signal, request.bytes),
            Some(tenant),
            request.items,
        );
        request.items
    }
}

/// Queues one request per tenant; the number of items queued.
fn send_each<T: Transport, R>(
    pipeline: &Pipeline<T>,
    requests: Vec<TenantRequest<R>>,
    message: fn(R) -> OtlpRequest,
) -> u64 {
    let mut items = 0;
    for r in requests {
        items += r.items;
        pipeline.send(message(r.request), Some(Arc::from(r.tenant)), r.items);
    }
    items
}
