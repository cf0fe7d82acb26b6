//! The run: which scenario and tenant each iteration gets, when it is made, on which thread, and
//! what the run reports.
//!
//! Pacing is open-loop: iteration `i` is due at its instant on the schedule, whatever the
//! previous one cost, so the achieved rate equals the target up to the machine's limit (sleeping
//! *after* each piece of work, as the original and some peers do, drifts below it). The calling
//! thread walks the schedule and hands chunks of due iterations to generator threads
//! ([`worker`]); they write requests straight to protobuf and hand them to export, which runs on
//! a small async runtime behind a bounded queue, so a slow endpoint slows generation down
//! instead of letting memory grow. Since an iteration depends only on the seed, its index and its
//! instant, the telemetry is the same for any number of workers or shards.

mod launch;
mod progress;
mod rate;
mod schedule;
mod sessions;
mod show;
mod signals;
mod worker;

use crate::encode::Signal;
use crate::encode::common::{BatchLimits, ResourceTemplate};
use crate::encode::wire::SpanEncoder;
use crate::export::exporter::{Exporter, RetryPolicy, Transport};
use crate::export::pipeline::{Pipeline, PipelineSummary};
use crate::generate::Plan;
use crate::interrupt::Interrupt;
use rand::RngExt;
use signals::Metrics;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use worker::{Due, Live, Shared, Totals};

pub use launch::{LaunchError, Launched, RunReport};
pub use rate::Rate;
pub use schedule::{Arrivals, Pace, Pattern, Schedule};
pub use show::Show;
pub use signals::SignalSettings;

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
    /// The run's start instant in Unix nanoseconds, pinned by `--start-time` (a backfill's
    /// window starts there): every stamp then derives from it and the schedule, never from the
    /// clock. `None`: now (a backfill's window ends now).
    pub pinned_start_ns: Option<u64>,
    /// `(K, N)`: generate only iterations with index ≡ K (mod N).
    pub shard: (u64, u64),
    /// Generator threads.
    pub workers: usize,
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

impl RunSettings {
    /// The rate this process is to achieve, in iterations per second: a shard's share of the
    /// run's rate.
    pub fn target_rate(&self) -> Option<f64> {
        self.pace.rate.map(|rate| rate / self.shard.1 as f64)
    }

    /// The instant the run counts from, in Unix nanoseconds: the end of a backfill's window
    /// (the "now" of the history it makes), else the start of the schedule; the clock's now
    /// unless `pinned_start_ns` pins it. The one place a run's start instant is decided.
    fn started_unix_ns(&self) -> u64 {
        match (self.pinned_start_ns, self.backfill) {
            (Some(start), Some(window)) => start.saturating_add(window.as_nanos() as u64),
            (Some(start), None) => start,
            (None, _) => unix_now_ns(),
        }
    }
}

/// Shard `index` of `count`: the iterations whose index is `index` modulo `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

/// What a run did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RunSummary {
    pub seed: u64,
    /// Generator threads used.
    pub workers: usize,
    /// `K/N` when the run was one shard of N.
    pub shard: Option<String>,
    /// The iterations asked for, when the run was bound by a count.
    pub count: Option<u64>,
    pub iterations: u64,
    pub traces: u64,
    pub spans: u64,
    pub error_spans: u64,
    /// Metric data points and log records handed to export.
    pub metric_points: u64,
    pub metric_exports: u64,
    pub log_records: u64,
    pub elapsed_s: f64,
    /// The part of it spent generating, before the final flush.
    pub generating_s: f64,
    /// Spans generated per second of the run.
    pub spans_per_s: f64,
    /// Target and achieved rates, and whether the run kept to its schedule.
    #[serde(flatten)]
    pub rate: Rate,
    /// Set when a signal stopped the run early (2 = SIGINT, 15 = SIGTERM).
    pub interrupted_by: Option<i32>,
    pub export: PipelineSummary,
    pub sample_trace_ids: Vec<String>,
    /// Sessions started, when the scenario has sessions (each trace is then one turn).
    pub sessions: Option<u64>,
    /// Sessions the end of the run cut before their last turn.
    pub sessions_cut: Option<u64>,
}

impl RunSummary {
    /// Whether every generated item of every signal was accepted.
    pub fn lossless(&self) -> bool {
        self.export.lossless()
    }

    /// The human summary; `destination` names where each signal went.
    pub fn render(&self, destination: &dyn Fn(Signal) -> String) -> String {
        let workers = match self.workers {
            1 => "1 worker".to_string(),
            n => format!("{n} workers"),
        };
        let shard = self
            .shard
            .as_ref()
            .map_or(String::new(), |s| format!(", shard {s}"));
        let mut out = format!(
            "Generated {} ({}, {} with errors) in {:.2} s on {workers}: {:.0} spans/s, seed {}{shard}\n",
            crate::human::plural(self.traces, "trace"),
            crate::human::plural(self.spans, "span"),
            self.error_spans,
            self.elapsed_s,
            self.spans_per_s,
            self.seed
        );
        out += &self.rate.render(self.iterations);
        if let (Some(sessions), Some(cut)) = (self.sessions, self.sessions_cut) {
            out += &format!(
                "Sessions: {} started, {} complete, {} cut by the end of the run\n",
                sessions,
                sessions - cut,
                cut
            );
        }
        if let Some(dead) = &self.export.unreachable {
            out += &format!(
                "Gave up on {}: nothing accepted for {:.1} s ({}); generation stopped after {}{} traces, {} dropped\n",
                dead.endpoint,
                dead.failing.as_secs_f64(),
                dead.reason,
                self.iterations,
                self.count
                    .filter(|_| self.shard.is_none())
                    .map_or(String::new(), |c| format!(" of {c}")),
                self.dropped_text(),
            );
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

impl RunSummary {
    /// `2100 spans, 12 metric points dropped`-style count of what was dropped, per signal.
    fn dropped_text(&self) -> String {
        let parts: Vec<String> = Signal::ALL
            .iter()
            .filter(|s| self.export.signal(**s).dropped > 0 || **s == Signal::Traces)
            .map(|s| format!("{} {}", self.export.signal(*s).dropped, s.item()))
            .collect();
        parts.join(", ")
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

/// Generator threads at most. Each holds request buffers of its own (up to `--batch-bytes` per
/// tenant), so ten thousand of them took gigabytes for a handful of traces; more threads than
/// this never made a run faster on any machine it was tried on.
pub const MAX_WORKERS: usize = 256;

/// Iterations handed to a worker at a time, at most: enough that handing them over costs
/// nothing per trace, few enough that the workers share the work evenly.
const CHUNK: usize = 256;

/// A chunk of a paced run covers at most this much of the schedule, so a worker does not hold
/// iterations another worker could be making.
const CHUNK_SPAN: Duration = Duration::from_millis(5);

/// Trace ids the summary lists.
const SAMPLE_TRACE_IDS: usize = 5;

/// Runs `count` iterations and exports them through `transport`; blocks until every batch has
/// been answered. An interrupt stops generation early; what was generated is still flushed and
/// accounted for.
///
/// The calling thread walks the schedule and hands out chunks of due iterations through a
/// bounded queue to `settings.workers` generator threads (one, when spans are printed, to keep
/// them in order); a thread exports the metrics on their interval and another shows progress.
pub fn run<T: Transport>(
    mix: &Mix,
    settings: &RunSettings,
    runtime: &tokio::runtime::Runtime,
    transport: T,
    interrupt: &Arc<Interrupt>,
) -> RunSummary {
    let exporter = Exporter::new(transport, settings.retry.clone());
    let queue = settings.exporters * 2;
    let pipeline = Pipeline::start(
        exporter,
        settings.exporters,
        queue,
        runtime.handle(),
        interrupt.clone(),
    );
    let workers = if settings.show == Show::Nothing {
        settings.workers.clamp(1, MAX_WORKERS)
    } else {
        1
    };
    let plans: Vec<&Plan> = match mix {
        Mix::One(plan) => vec![*plan],
        Mix::Weighted(plans) => plans.iter().map(|(p, _)| *p).collect(),
    };
    let turns = turns_per_session(mix);
    let (progress, by_session) = for_sessions(settings, turns);
    let settings = by_session.as_ref().unwrap_or(settings);
    let encoders: Vec<SpanEncoder> = plans
        .iter()
        .map(|p| SpanEncoder::new(p).with_exception_events(settings.signals.exception_span_events))
        .collect();
    let tenants: Vec<Arc<str>> = plans
        .first()
        .map(|p| p.tenants.iter().map(|t| Arc::from(p.str(*t))).collect())
        .unwrap_or_default();
    let started = Instant::now();
    let started_unix_ns = settings.started_unix_ns();
    let prefix = plans.first().map_or("", |p| &p.prefix);
    let metrics = metrics(settings, prefix, started_unix_ns);
    let live = Live::default();
    let stop = AtomicBool::new(false);
    let shared = Shared {
        mix,
        encoders: &encoders,
        settings,
        tenants: &tenants,
        pipeline: &pipeline,
        metrics: metrics.as_ref(),
        interrupt,
        started,
        started_unix_ns,
        live: &live,
        stop: &stop,
    };
    let (totals, generating, end) = generate_on_workers(&shared, workers, queue, &progress);
    if let Some(metrics) = &metrics {
        metrics.export(&pipeline);
    }
    let (metric_points, metric_exports) = metrics.as_ref().map_or((0, 0), |m| m.counts());
    let export = pipeline.finish();
    let end = if interrupt.requested() || export.unreachable.is_some() {
        rate::End::Stopped
    } else {
        end
    };
    let mut summary = summarise(settings, &totals, started, generating, end, export);
    (
        summary.workers,
        summary.metric_points,
        summary.metric_exports,
    ) = (workers, metric_points, metric_exports);
    summary.interrupted_by = interrupt.requests().signal;
    if let Some(turns) = turns {
        summary.sessions = Some(totals.iter().map(|t| t.sessions).sum());
        summary.sessions_cut = Some(totals.iter().map(|t| t.sessions_cut).sum());
        // A run bound by a count of sessions ends with their last turns, long after the
        // schedule's last start: its turns have no target rate to compare with.
        if settings.backfill.is_some() || end == rate::End::Count {
            summary.rate.target_rate = None;
            summary.rate.scheduled_iterations = None;
        } else {
            summary.rate.target_rate = summary.rate.target_rate.map(|r| r * turns);
            summary.rate.scheduled_iterations =
                summary.rate.scheduled_iterations.map(|n| n * turns);
        }
    }
    summary
}

/// The settings of a run whose mix has `turns` per session on average, if it has sessions: the
/// progress's (turns at the rate of turns, with no total, since the count is of sessions) and
/// the schedule's (sessions start at the rate of turns divided by the mean turns; a backfill's
/// rate already spreads the count, of sessions, over its window).
fn for_sessions(settings: &RunSettings, turns: Option<f64>) -> (RunSettings, Option<RunSettings>) {
    let Some(turns) = turns else {
        return (settings.clone(), None);
    };
    let progress = RunSettings {
        count: u64::MAX,
        ..settings.clone()
    };
    let schedule = settings.backfill.is_none().then(|| RunSettings {
        pace: Pace {
            rate: settings.pace.rate.map(|r| r / turns),
            ..settings.pace.clone()
        },
        ..settings.clone()
    });
    (progress, schedule)
}

/// The mean turns of a session over the mix (a scenario without sessions counting one), when
/// any of its scenarios has sessions.
fn turns_per_session(mix: &Mix) -> Option<f64> {
    let plans: Vec<(&Plan, f64)> = match mix {
        Mix::One(plan) => vec![(*plan, 1.0)],
        Mix::Weighted(plans) => plans.clone(),
    };
    if plans.iter().all(|(p, _)| p.session.is_none()) {
        return None;
    }
    let total: f64 = plans.iter().map(|(_, w)| w).sum();
    let turns = |p: &Plan| p.session.as_ref().map_or(1.0, |s| s.mean_turns());
    Some(
        plans
            .iter()
            .map(|(p, w)| turns(p) * w / total.max(f64::MIN_POSITIVE))
            .sum::<f64>()
            .max(1.0),
    )
}

/// Generates on `workers` threads the iterations the calling thread hands out from the
/// schedule, beside a thread exporting the metrics on their interval and one showing progress;
/// returns the workers' totals, the time spent generating and how the schedule ended.
fn generate_on_workers<T: Transport>(
    shared: &Shared<T>,
    workers: usize,
    queue: usize,
    progress: &RunSettings,
) -> (Vec<Totals>, Duration, rate::End) {
    let Shared {
        settings,
        pipeline,
        metrics,
        interrupt,
        started,
        live,
        ..
    } = *shared;
    let (chunk_tx, chunk_rx) = mpsc::sync_channel::<Vec<Due>>(workers * 2);
    // Each worker holds the receiver; once they have all stopped, handing out more fails.
    let chunk_rx = Arc::new(Mutex::new(chunk_rx));
    std::thread::scope(|scope| {
        let (metrics_stop, metrics_stopped) = mpsc::channel::<()>();
        if let Some(metrics) = metrics.filter(|m| !m.is_pinned()) {
            scope.spawn(move || metrics.export_on_interval(pipeline, started, &metrics_stopped));
        }
        let (progress_stop, progress_stopped) = mpsc::channel::<()>();
        if !settings.quiet {
            scope.spawn(move || {
                progress::show(progress, live, pipeline, queue, started, &progress_stopped)
            });
        }
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let chunk_rx = chunk_rx.clone();
                scope.spawn(move || worker::work(shared, &chunk_rx))
            })
            .collect();
        drop(chunk_rx);
        let end = dispatch(
            settings,
            started,
            interrupt,
            &|| shared.keep_going(),
            chunk_tx,
        );
        let totals: Vec<Totals> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect();
        let generating = started.elapsed();
        drop(metrics_stop);
        drop(progress_stop);
        (totals, generating, end)
    })
}

/// The summary of a run that started at `started`, generated for `generating` and exported
/// what `export` says.
fn summarise(
    settings: &RunSettings,
    totals: &[Totals],
    started: Instant,
    generating: Duration,
    end: rate::End,
    export: PipelineSummary,
) -> RunSummary {
    let mut samples: Vec<(u64, [u8; 16])> = totals
        .iter()
        .flat_map(|t| t.samples.iter().copied())
        .collect();
    samples.sort_by_key(|(index, _)| *index);
    let elapsed_s = started.elapsed().as_secs_f64();
    let sum = |f: fn(&Totals) -> u64| totals.iter().map(f).sum::<u64>();
    let iterations = sum(|t| t.iterations);
    let spans = sum(|t| t.spans);
    let behind = totals.iter().map(|t| t.behind).max().unwrap_or_default();
    RunSummary {
        seed: settings.seed,
        workers: settings.workers,
        shard: (settings.shard.1 > 1).then(|| format!("{}/{}", settings.shard.0, settings.shard.1)),
        count: (settings.count != u64::MAX).then_some(settings.count),
        iterations,
        traces: sum(|t| t.traces),
        spans,
        error_spans: sum(|t| t.error_spans),
        metric_points: 0,
        metric_exports: 0,
        log_records: sum(|t| t.log_records),
        elapsed_s,
        generating_s: generating.as_secs_f64(),
        spans_per_s: spans as f64 / elapsed_s.max(1e-9),
        rate: rate::measure(settings, end, iterations, generating, behind),
        interrupted_by: None,
        export,
        sample_trace_ids: samples
            .iter()
            .take(SAMPLE_TRACE_IDS)
            .map(|(_, id)| show::hex(id))
            .collect(),
        sessions: None,
        sessions_cut: None,
    }
}

/// The run's metrics, `None` when they are off. With a pinned start they follow the schedule,
/// and a backfill's count from the start of its window (without, from the run's start, now).
fn metrics(settings: &RunSettings, prefix: &str, started_unix_ns: u64) -> Option<Metrics> {
    let aggregated_from_ns = match (settings.pinned_start_ns, settings.backfill) {
        (Some(_), Some(window)) => window_start(started_unix_ns, window),
        _ => started_unix_ns,
    };
    let metrics = Metrics::new(
        &settings.signals,
        settings.resource.clone(),
        prefix,
        aggregated_from_ns,
    )?;
    Some(match settings.pinned_start_ns {
        Some(_) => metrics.pinned(started_unix_ns, settings.backfill.is_none()),
        None => metrics,
    })
}

/// Walks the schedule and hands its due iterations to the workers, in chunks, until the count
/// or the duration is reached or the run is stopped. When nothing more is due before the end
/// (a tiny rate, a huge interval), it sleeps until the deadline, a signal or
/// `keep_going` saying no, whichever comes first, so the run lasts what was asked of it without
/// spinning.
fn dispatch(
    settings: &RunSettings,
    started: Instant,
    interrupt: &Interrupt,
    keep_going: &dyn Fn() -> bool,
    chunks: mpsc::SyncSender<Vec<Due>>,
) -> rate::End {
    use rate::End;
    let mut schedule = Schedule::new(settings.pace.clone(), settings.seed);
    let paced = settings.pace.rate.is_some();
    let mut chunk: Vec<Due> = Vec::with_capacity(CHUNK);
    let mut end = End::Count;
    for index in 0..settings.count {
        let due = schedule
            .next_due()
            .filter(|offset| settings.duration.is_none_or(|d| *offset < d));
        let Some(offset) = due else {
            end = End::Deadline;
            break;
        };
        if settings.duration.is_some_and(|d| started.elapsed() >= d) {
            return end_with(End::Deadline, chunk, &chunks);
        }
        if interrupt.requested() || !keep_going() {
            return end_with(End::Stopped, chunk, &chunks);
        }
        if index % settings.shard.1 != settings.shard.0 {
            continue;
        }
        if chunk
            .first()
            .is_some_and(|first| paced && offset - first.offset >= CHUNK_SPAN)
        {
            if chunks.send(std::mem::take(&mut chunk)).is_err() {
                return End::Stopped;
            }
            chunk.reserve(CHUNK);
        }
        chunk.push(Due { index, offset });
        if chunk.len() == CHUNK {
            if chunks.send(std::mem::take(&mut chunk)).is_err() {
                return End::Stopped;
            }
            chunk.reserve(CHUNK);
        }
    }
    if end_with(end, chunk, &chunks) == End::Stopped {
        return End::Stopped;
    }
    if end == End::Deadline && settings.backfill.is_none() {
        let deadline = settings.duration.and_then(|d| started.checked_add(d));
        if !interrupt.sleep_until(deadline, keep_going) {
            return End::Stopped;
        }
    }
    end
}

/// Hands out the last chunk; `Stopped` if the workers have all gone.
fn end_with(end: rate::End, chunk: Vec<Due>, chunks: &mpsc::SyncSender<Vec<Due>>) -> rate::End {
    if !chunk.is_empty() && chunks.send(chunk).is_err() {
        return rate::End::Stopped;
    }
    end
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Settings for unit tests: unpaced, one worker, nothing derived.
    pub fn settings() -> RunSettings {
        RunSettings {
            seed: 1,
            count: 1,
            pace: Pace::unpaced(),
            duration: None,
            backfill: None,
            shard: (0, 1),
            workers: 1,
            tenant_weights: vec![1.0],
            show: Show::Nothing,
            quiet: true,
            retry: RetryPolicy::default(),
            exporters: 1,
            batch: BatchLimits::UNLIMITED,
            resource: ResourceTemplate::default(),
            signals: SignalSettings::default(),
            pinned_start_ns: None,
        }
    }
}
