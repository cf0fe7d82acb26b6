//! The run loop: which scenario and tenant each iteration gets, when it is generated, and where
//! its spans go.
//!
//! Pacing is open-loop: iteration `i` is due at `start + i·interval`, whatever the previous one
//! cost, so the achieved rate equals the target up to the machine's limit (sleeping *after* each
//! piece of work, as the original and some peers do, drifts below it). Generation runs on the
//! calling thread; export runs on a small async runtime behind a bounded queue, so a slow endpoint
//! slows generation down instead of letting memory grow.

mod schedule;
mod show;
mod signals;

use crate::generate::{Iteration, Plan, generate, iteration_rng};
use crate::otlp::encode::{ResourceTemplate, TraceBatch};
use crate::otlp::export::{Exporter, RetryPolicy, Transport};
use crate::otlp::http::{HttpOptions, HttpTransport};
use crate::otlp::pipeline::{Pipeline, PipelineSummary};
use crate::otlp::{ExportSnapshot, Signal};
use bytes::Bytes;
use prost::Message;
use rand::RngExt;
use rand_distr::{Distribution as _, weighted::WeightedIndex};
use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use schedule::{Arrivals, Pace, Pattern, Schedule};
pub use show::Show;
use signals::Signals;
pub use signals::{SignalCounts, SignalSettings};

/// Salts that give the workload's own choices streams apart from the traces' streams.
const TENANT_SALT: u64 = 0x7E4A_17C0_FFEE_0001;
const SCENARIO_SALT: u64 = 0x5CE4_A210_FFEE_0002;

/// Everything a run needs besides the compiled plans.
#[derive(Clone, Debug)]
pub struct RunSettings {
    pub seed: u64,
    pub count: u64,
    pub interval: Duration,
    pub tenant_weights: Vec<f64>,
    pub show: Show,
    pub quiet: bool,
    pub http: HttpOptions,
    pub retry: RetryPolicy,
    /// Concurrent requests in flight.
    pub exporters: usize,
    /// A request is sent once it holds this many spans.
    pub batch_spans: usize,
    pub resource: ResourceTemplate,
    /// Metrics and logs derived from the spans.
    pub signals: SignalSettings,
}

/// What a run did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RunSummary {
    pub seed: u64,
    pub iterations: u64,
    pub traces: u64,
    pub spans: u64,
    pub error_spans: u64,
    /// Metric data points and log records handed to export.
    pub metric_points: u64,
    pub metric_exports: u64,
    pub log_records: u64,
    pub elapsed_s: f64,
    pub spans_per_s: f64,
    pub export: PipelineSummary,
    pub sample_trace_ids: Vec<String>,
}

impl RunSummary {
    /// What was not accepted: `(what, lost, generated)` for each signal that lost anything.
    pub fn losses(&self) -> Vec<(&'static str, u64, u64)> {
        [
            ("spans", self.export.traces.accepted, self.spans),
            (
                "metric points",
                self.export.metrics.accepted,
                self.metric_points,
            ),
            ("log records", self.export.logs.accepted, self.log_records),
        ]
        .into_iter()
        .filter(|(_, accepted, generated)| accepted != generated)
        .map(|(what, accepted, generated)| (what, generated.saturating_sub(accepted), generated))
        .collect()
    }

    /// Whether everything generated (spans, metric points, log records) was accepted.
    pub fn lossless(&self) -> bool {
        self.losses().is_empty()
    }

    pub fn render(&self, url: &str) -> String {
        let mut out = format!(
            "Generated {} traces ({} spans, {} with errors) in {:.2} s: {:.0} spans/s, seed {}\n",
            self.traces, self.spans, self.error_spans, self.elapsed_s, self.spans_per_s, self.seed
        );
        out += &export_line(&format!("Export to {url}:"), &self.export.traces, "spans");
        let metrics = &self.export.metrics;
        if self.metric_points > 0 || metrics.requests > 0 {
            let exports = match self.metric_exports {
                1 => "1 export".to_string(),
                n => format!("{n} exports"),
            };
            let head = format!("Metrics: {} points in {exports}:", self.metric_points);
            out += &export_line(&head, metrics, "metric points");
        }
        let logs = &self.export.logs;
        if self.log_records > 0 || logs.requests > 0 {
            let head = format!("Logs: {} records:", self.log_records);
            out += &export_line(&head, logs, "log records");
        }
        if !self.sample_trace_ids.is_empty() {
            out += "Sample trace IDs:\n";
            for id in &self.sample_trace_ids {
                out += &format!("  {id}\n");
            }
        }
        out
    }
}

/// `head` and what became of one signal's items, with a line per reason for a loss.
fn export_line(head: &str, e: &ExportSnapshot, items: &str) -> String {
    let mut out = format!(
        "{head} {} accepted, {} rejected, {} dropped ({} requests, {} retries, {:.1} KB)\n",
        e.accepted,
        e.rejected,
        e.dropped,
        e.requests,
        e.retries,
        e.bytes as f64 / 1024.0
    );
    for (reason, n) in &e.reasons {
        out += &format!("  {n} {items}: {reason}\n");
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot start the exporter: {0}")]
    Exporter(#[from] reqwest::Error),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// Which plan each iteration uses: the only one, or a weighted draw among several.
pub enum Mix<'a> {
    One(&'a Plan),
    Weighted(Vec<(&'a Plan, f64)>),
}

/// Runs `count` iterations and exports them; blocks until every batch has been answered.
pub fn run(
    mix: &Mix,
    settings: &RunSettings,
    runtime: &tokio::runtime::Runtime,
) -> Result<RunSummary, RunError> {
    let transport = HttpTransport::new(settings.http.clone())?;
    let exporter = Exporter::new(transport, settings.retry.clone());
    let pipeline = Pipeline::start(
        exporter,
        settings.exporters,
        settings.exporters * 2,
        runtime.handle(),
    );

    let tenant_pick = WeightedIndex::new(&settings.tenant_weights).ok();
    let scenario_pick = match mix {
        Mix::One(_) => None,
        Mix::Weighted(plans) => WeightedIndex::new(plans.iter().map(|(_, w)| *w)).ok(),
    };
    let mut batch = TraceBatch::new(settings.resource.clone())
        .with_exception_events(settings.signals.exception_span_events);
    let mut iteration = Iteration::default();
    let mut summary = RunSummary {
        seed: settings.seed,
        iterations: 0,
        traces: 0,
        spans: 0,
        error_spans: 0,
        metric_points: 0,
        metric_exports: 0,
        log_records: 0,
        elapsed_s: 0.0,
        spans_per_s: 0.0,
        export: PipelineSummary::default(),
        sample_trace_ids: Vec::new(),
    };
    let started = Instant::now();
    let prefix = match mix {
        Mix::One(plan) => &plan.prefix,
        Mix::Weighted(plans) => plans.first().map_or("", |(p, _)| &p.prefix),
    };
    let mut signals = Signals::new(
        &settings.signals,
        settings.resource.clone(),
        prefix,
        started,
        unix_now_ns(),
    );
    let mut last_progress = started;
    let mut stdout = std::io::stdout().lock();
    for index in 0..settings.count {
        let due = started + settings.interval.mul_f64(index as f64);
        if due > Instant::now() {
            // Nothing should sit in a batch while we wait for the next trace.
            if due - Instant::now() > Duration::from_millis(50) {
                send_traces(&mut batch, &pipeline);
                signals.send_logs(&pipeline);
            }
            wait_until(due, &mut signals, &pipeline);
        }
        signals.export_due(Instant::now(), &pipeline);
        let tenant = tenant_pick.as_ref().map_or(0, |w| {
            w.sample(&mut iteration_rng(settings.seed ^ TENANT_SALT, index))
        });
        let plan = match (mix, &scenario_pick) {
            (Mix::One(plan), _) => *plan,
            (Mix::Weighted(plans), Some(pick)) => {
                plans[pick.sample(&mut iteration_rng(settings.seed ^ SCENARIO_SALT, index))].0
            }
            (Mix::Weighted(plans), None) => plans[0].0,
        };
        generate(
            plan,
            settings.seed,
            index,
            tenant as u32,
            unix_now_ns(),
            &mut iteration,
        );
        for trace in iteration.traces() {
            summary.traces += 1;
            summary.spans += trace.spans.len() as u64;
            summary.error_spans += trace.spans.iter().filter(|s| s.error.is_some()).count() as u64;
            if summary.sample_trace_ids.len() < 5 {
                summary.sample_trace_ids.push(show::hex(&trace.trace_id));
            }
            batch.add(plan, trace);
            signals.record(plan, trace);
        }
        settings
            .show
            .print(&mut stdout, plan, iteration.traces(), index, settings.count);
        summary.iterations += 1;
        if batch.spans() >= settings.batch_spans {
            send_traces(&mut batch, &pipeline);
        }
        if signals.logs_full() {
            signals.send_logs(&pipeline);
        }
        if !settings.quiet && last_progress.elapsed() >= Duration::from_secs(2) {
            last_progress = Instant::now();
            eprintln!(
                "  {}/{} traces, {} spans",
                index + 1,
                settings.count,
                summary.spans
            );
        }
    }
    send_traces(&mut batch, &pipeline);
    let counts = signals.finish(&pipeline);
    summary.metric_points = counts.metric_points;
    summary.metric_exports = counts.metric_exports;
    summary.log_records = counts.log_records;
    let _ = stdout.flush();
    summary.export = pipeline.finish();
    summary.elapsed_s = started.elapsed().as_secs_f64();
    summary.spans_per_s = summary.spans as f64 / summary.elapsed_s.max(1e-9);
    Ok(summary)
}

/// Sends the batched spans, if any.
fn send_traces<T: Transport>(batch: &mut TraceBatch, pipeline: &Pipeline<T>) {
    if batch.is_empty() {
        return;
    }
    let items = batch.spans() as u64;
    let body = Bytes::from(batch.take().encode_to_vec());
    pipeline.send(Signal::Traces, body, items);
}

/// Sleeps until `due`, waking on the way for every metric export that falls due.
fn wait_until<T: Transport>(due: Instant, signals: &mut Signals, pipeline: &Pipeline<T>) {
    loop {
        let now = Instant::now();
        if now >= due {
            return;
        }
        let wake = signals.next_export().map_or(due, |next| next.min(due));
        if wake > now {
            std::thread::sleep(wake - now);
        }
        signals.export_due(Instant::now(), pipeline);
    }
}

/// A random seed for runs given none, printed so the run can be repeated. It stays below 2^53 so
/// it survives a trip through JSON tools unchanged.
pub fn fresh_seed() -> u64 {
    let mut rng = rand::rng();
    rng.random::<u64>() >> 11
}

pub fn unix_now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
