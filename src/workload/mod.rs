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

use crate::generate::{Iteration, Plan, generate, iteration_rng};
use crate::otlp::Signal;
use crate::otlp::encode::{ResourceTemplate, TraceBatch};
use crate::otlp::export::{Exporter, RetryPolicy};
use crate::otlp::http::{HttpOptions, HttpTransport};
use crate::otlp::pipeline::{Pipeline, PipelineSummary};
use bytes::Bytes;
use prost::Message;
use rand::RngExt;
use rand_distr::{Distribution as _, weighted::WeightedIndex};
use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use schedule::{Arrivals, Pace, Pattern, Schedule};
pub use show::Show;

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
}

/// What a run did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RunSummary {
    pub seed: u64,
    pub iterations: u64,
    pub traces: u64,
    pub spans: u64,
    pub error_spans: u64,
    pub elapsed_s: f64,
    pub spans_per_s: f64,
    pub export: PipelineSummary,
    pub sample_trace_ids: Vec<String>,
}

impl RunSummary {
    /// Whether every generated span was accepted by the endpoint.
    pub fn lossless(&self) -> bool {
        self.export.traces.accepted == self.spans
    }

    pub fn render(&self, url: &str) -> String {
        let mut out = format!(
            "Generated {} traces ({} spans, {} with errors) in {:.2} s: {:.0} spans/s, seed {}\n",
            self.traces, self.spans, self.error_spans, self.elapsed_s, self.spans_per_s, self.seed
        );
        let e = &self.export.traces;
        out += &format!(
            "Export to {url}: {} accepted, {} rejected, {} dropped ({} requests, {} retries, {:.1} KB)\n",
            e.accepted,
            e.rejected,
            e.dropped,
            e.requests,
            e.retries,
            e.bytes as f64 / 1024.0
        );
        for (reason, items) in &e.reasons {
            out += &format!("  {items} spans: {reason}\n");
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
    let mut batch = TraceBatch::new(settings.resource.clone());
    let mut encoded = Vec::new();
    let mut iteration = Iteration::default();
    let mut summary = RunSummary {
        seed: settings.seed,
        iterations: 0,
        traces: 0,
        spans: 0,
        error_spans: 0,
        elapsed_s: 0.0,
        spans_per_s: 0.0,
        export: PipelineSummary::default(),
        sample_trace_ids: Vec::new(),
    };
    let mut send = |batch: &mut TraceBatch| {
        if batch.is_empty() {
            return;
        }
        let items = batch.spans() as u64;
        encoded.clear();
        batch
            .take()
            .encode(&mut encoded)
            .expect("a Vec grows to fit any message");
        pipeline.send(Signal::Traces, Bytes::copy_from_slice(&encoded), items);
    };
    let started = Instant::now();
    let mut last_progress = started;
    let mut stdout = std::io::stdout().lock();
    for index in 0..settings.count {
        let due = started + settings.interval.mul_f64(index as f64);
        let now = Instant::now();
        if due > now {
            // Nothing should sit in a batch while we wait for the next trace.
            if due - now > Duration::from_millis(50) {
                send(&mut batch);
            }
            std::thread::sleep(due - now);
        }
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
        }
        settings
            .show
            .print(&mut stdout, plan, iteration.traces(), index, settings.count);
        summary.iterations += 1;
        if batch.spans() >= settings.batch_spans {
            send(&mut batch);
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
    send(&mut batch);
    let _ = stdout.flush();
    summary.export = pipeline.finish();
    summary.elapsed_s = started.elapsed().as_secs_f64();
    summary.spans_per_s = summary.spans as f64 / summary.elapsed_s.max(1e-9);
    Ok(summary)
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
