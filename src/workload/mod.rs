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
use crate::interrupt::Interrupt;
use crate::otlp::Signal;
use crate::otlp::encode::{BatchLimits, ResourceTemplate, TraceBatch};
use crate::otlp::export::{Exporter, RetryPolicy, Transport};
use crate::otlp::payload::OtlpRequest;
use crate::otlp::pipeline::{Pipeline, PipelineSummary};
use rand::RngExt;
use rand_distr::{Distribution as _, weighted::WeightedIndex};
use std::io::Write;
use std::sync::Arc;
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
    /// Iterations to run; `u64::MAX` for no limit.
    pub count: u64,
    pub pace: Pace,
    /// Stop generating once this much time has passed.
    pub duration: Option<Duration>,
    /// Generate history: the schedule's instants are laid over this past window without waiting.
    pub backfill: Option<Duration>,
    /// `(K, N)`: generate only iterations with index ≡ K (mod N).
    pub shard: (u64, u64),
    pub tenant_weights: Vec<f64>,
    pub show: Show,
    pub quiet: bool,
    pub retry: RetryPolicy,
    /// Concurrent requests in flight.
    pub exporters: usize,
    /// When a request of spans is full.
    pub batch: BatchLimits,
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
    /// Spans generated per second of the run.
    pub spans_per_s: f64,
    /// The target rate in iterations per second, when the run was paced by one.
    pub target_rate: Option<f64>,
    /// Iterations per second achieved.
    pub achieved_rate: f64,
    /// Set when a signal stopped the run early (2 = SIGINT, 15 = SIGTERM).
    pub interrupted_by: Option<i32>,
    pub export: PipelineSummary,
    pub sample_trace_ids: Vec<String>,
}

impl RunSummary {
    /// Whether every generated item of every signal was accepted.
    pub fn lossless(&self) -> bool {
        self.export.lossless()
    }

    /// The human summary; `destination` names where each signal went.
    pub fn render(&self, destination: &dyn Fn(Signal) -> String) -> String {
        let mut out = format!(
            "Generated {} traces ({} spans, {} with errors) in {:.2} s: {:.0} spans/s, seed {}\n",
            self.traces, self.spans, self.error_spans, self.elapsed_s, self.spans_per_s, self.seed
        );
        if let Some(target) = self.target_rate {
            out += &format!(
                "Rate: {:.1} traces/s achieved, {:.1} targeted ({:.1}%)\n",
                self.achieved_rate,
                target,
                100.0 * self.achieved_rate / target
            );
            if self.achieved_rate < 0.99 * target {
                out += "  below target: the machine or the endpoint could not keep up\n";
            }
        }
        if let Some(signal) = self.interrupted_by {
            out += &format!(
                "Interrupted by {}: generation stopped early\n",
                if signal == 15 { "SIGTERM" } else { "SIGINT" }
            );
        }
        for signal in Signal::ALL {
            let e = self.export.signal(signal);
            if e.generated == 0 && e.requests == 0 && signal != Signal::Traces {
                continue;
            }
            let what = match signal {
                Signal::Metrics => match self.metric_exports {
                    1 => "metrics (1 export)".to_string(),
                    n => format!("metrics ({n} exports)"),
                },
                other => other.name().to_string(),
            };
            let rate = e.accepted as f64 / self.elapsed_s.max(1e-9);
            out += &format!(
                "Export of {what} to {}: {} accepted, {} rejected, {} dropped of {} {} ({} {}, {} {}, {} sent, {:.0} accepted/s)\n",
                destination(signal),
                e.accepted,
                e.rejected,
                e.dropped,
                e.generated,
                signal.item(),
                e.requests,
                if e.requests == 1 {
                    "request"
                } else {
                    "requests"
                },
                e.retries,
                if e.retries == 1 { "retry" } else { "retries" },
                bytes_sent(e.bytes_uncompressed, e.bytes),
                rate,
            );
            for (reason, items) in &e.reasons {
                out += &format!("  {items} {}: {reason}\n", signal.item());
            }
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

/// `1.2 MB` or `1.2 MB → 310.0 KB compressed`.
fn bytes_sent(uncompressed: u64, wire: u64) -> String {
    let size = |b: u64| {
        if b >= 1_000_000 {
            format!("{:.1} MB", b as f64 / 1e6)
        } else {
            format!("{:.1} KB", b as f64 / 1e3)
        }
    };
    if uncompressed == wire {
        size(wire)
    } else {
        format!("{} → {} compressed", size(uncompressed), size(wire))
    }
}

/// Which plan each iteration uses: the only one, or a weighted draw among several.
pub enum Mix<'a> {
    One(&'a Plan),
    Weighted(Vec<(&'a Plan, f64)>),
}

/// Runs `count` iterations and exports them through `transport`; blocks until every batch has
/// been answered. An interrupt stops generation early; what was generated is still flushed and
/// accounted for.
pub fn run<T: Transport>(
    mix: &Mix,
    settings: &RunSettings,
    runtime: &tokio::runtime::Runtime,
    transport: T,
    interrupt: &Arc<Interrupt>,
) -> RunSummary {
    let exporter = Exporter::new(transport, settings.retry.clone());
    let pipeline = Pipeline::start(
        exporter,
        settings.exporters,
        settings.exporters * 2,
        runtime.handle(),
        interrupt.clone(),
    );

    let tenant_pick = WeightedIndex::new(&settings.tenant_weights).ok();
    let scenario_pick = match mix {
        Mix::One(_) => None,
        Mix::Weighted(plans) => WeightedIndex::new(plans.iter().map(|(_, w)| *w)).ok(),
    };
    let mut batch = TraceBatch::new(settings.resource.clone(), settings.batch)
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
        target_rate: None,
        achieved_rate: 0.0,
        interrupted_by: None,
        export: PipelineSummary::default(),
        sample_trace_ids: Vec::new(),
    };
    let started = Instant::now();
    let started_unix_ns = unix_now_ns();
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
    // Locked per iteration, not for the whole run: `--output -` writes requests to stdout from
    // the sender tasks.
    let stdout = std::io::stdout();
    let mut send = |request, items| pipeline.send(OtlpRequest::Traces(request), items);
    let mut schedule = Schedule::new(settings.pace.clone(), settings.seed);
    for index in 0..settings.count {
        let offset = schedule.next_due();
        if settings
            .duration
            .is_some_and(|d| offset >= d || started.elapsed() >= d)
        {
            break;
        }
        if index % settings.shard.1 != settings.shard.0 {
            continue;
        }
        let due = if settings.backfill.is_some() {
            started
        } else {
            started + offset
        };
        if due > Instant::now() {
            // Nothing should sit in a batch while we wait for the next trace.
            if due - Instant::now() > Duration::from_millis(50) {
                batch.flush(&mut send);
                signals.send_logs(&pipeline);
            }
            wait_until(due, &mut signals, &pipeline, interrupt);
        }
        if interrupt.requested() {
            break;
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
            // A paced iteration ends at its scheduled instant (reproducible, never ahead of the
            // clock, since it was waited for); an unpaced one when it is made.
            match (settings.backfill, settings.pace.rate) {
                (Some(window), _) => {
                    window_start(started_unix_ns, window) + offset.as_nanos() as u64
                }
                // Never before the metrics window that will count it (a late iteration).
                (None, Some(_)) => (started_unix_ns + offset.as_nanos() as u64)
                    .max(signals.window_start_ns().unwrap_or(0)),
                (None, None) => unix_now_ns(),
            },
            &mut iteration,
        );
        if let Some(window) = settings.backfill {
            // History stays inside its window: an early trace that would start before it moves
            // later, still ending long before now.
            let start = window_start(started_unix_ns, window);
            if let Some(earliest) = iteration.earliest_start().filter(|e| *e < start) {
                iteration.delay(start - earliest);
            }
        }
        for trace in iteration.traces() {
            summary.traces += 1;
            summary.spans += trace.spans.len() as u64;
            summary.error_spans += trace.spans.iter().filter(|s| s.error.is_some()).count() as u64;
            if summary.sample_trace_ids.len() < 5 {
                summary.sample_trace_ids.push(show::hex(&trace.trace_id));
            }
            batch.add(plan, trace, &mut send);
            signals.record(plan, trace);
        }
        if settings.show != Show::Nothing {
            let mut out = stdout.lock();
            settings
                .show
                .print(&mut out, plan, iteration.traces(), index, settings.count);
            let _ = out.flush();
        }
        summary.iterations += 1;
        if signals.logs_full() {
            signals.send_logs(&pipeline);
        }
        if !settings.quiet && last_progress.elapsed() >= Duration::from_secs(2) {
            last_progress = Instant::now();
            let of = if settings.count == u64::MAX {
                String::new()
            } else {
                format!("/{}", settings.count)
            };
            eprintln!("  {}{of} traces, {} spans", index + 1, summary.spans);
        }
    }
    let generating = started.elapsed().as_secs_f64();
    batch.flush(&mut send);
    let counts = signals.finish(&pipeline);
    summary.metric_points = counts.metric_points;
    summary.metric_exports = counts.metric_exports;
    summary.log_records = counts.log_records;
    summary.interrupted_by = interrupt.requests().signal;
    summary.export = pipeline.finish();
    summary.elapsed_s = started.elapsed().as_secs_f64();
    summary.spans_per_s = summary.spans as f64 / summary.elapsed_s.max(1e-9);
    summary.target_rate = settings.pace.rate;
    // Over the time spent generating (a duration-bound run: the duration), not the final flush.
    let window = settings
        .duration
        .map_or(generating, |d| d.as_secs_f64().min(generating).max(1e-9));
    summary.achieved_rate = summary.iterations as f64 / window.max(1e-9);
    summary
}

/// Sleeps until `due`, waking on the way for every metric export that falls due, and early
/// (within 50 ms) if the run is interrupted.
fn wait_until<T: Transport>(
    due: Instant,
    signals: &mut Signals,
    pipeline: &Pipeline<T>,
    interrupt: &Interrupt,
) {
    const SLICE: Duration = Duration::from_millis(50);
    loop {
        let now = Instant::now();
        if now >= due || interrupt.requested() {
            return;
        }
        let wake = signals.next_export().map_or(due, |next| next.min(due));
        if wake > now {
            std::thread::sleep((wake - now).min(SLICE));
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

/// The start of a backfill window ending at `now_ns`.
fn window_start(now_ns: u64, window: Duration) -> u64 {
    now_ns.saturating_sub(window.as_nanos() as u64)
}

pub fn unix_now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
