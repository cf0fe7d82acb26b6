//! What a run shows while it goes: a progress bar on a terminal; a plain line every two seconds
//! when stderr is not one (CI logs and container logs keep every line, so a redrawn bar would
//! fill them with escape codes); nothing with `--quiet`.
//!
//! It runs on a thread of its own and only reads counters the workers publish once per chunk,
//! so showing progress costs the workers nothing. Drawing from the workers was the alternative
//! rejected: it would put a lock and a clock read on the per-trace path.

use super::RunSettings;
use super::rate::rate_text;
use super::worker::Live;
use crate::export::exporter::Transport;
use crate::export::pipeline::Pipeline;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal as _;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How the run is shown.
enum Display {
    Bar(ProgressBar),
    Lines,
}

/// Shows the run's progress until `done` is dropped.
pub(super) fn show<T: Transport>(
    settings: &RunSettings,
    live: &Live,
    pipeline: &Pipeline<T>,
    queue: usize,
    started: Instant,
    done: &mpsc::Receiver<()>,
) {
    let display = if std::io::stderr().is_terminal() {
        Display::Bar(bar(settings.count))
    } else {
        Display::Lines
    };
    let every = match display {
        Display::Bar(_) => Duration::from_millis(200),
        Display::Lines => Duration::from_secs(2),
    };
    let mut last = (Instant::now(), 0u64);
    while let Err(mpsc::RecvTimeoutError::Timeout) = done.recv_timeout(every) {
        let now = Instant::now();
        let spans = live.spans.load(Ordering::Relaxed);
        let spans_per_s = (spans - last.1) as f64 / (now - last.0).as_secs_f64().max(1e-9);
        last = (now, spans);
        let line = status(settings, live, pipeline, queue, started, spans_per_s);
        match &display {
            Display::Bar(bar) => {
                bar.set_position(live.iterations.load(Ordering::Relaxed));
                bar.set_message(line);
            }
            Display::Lines => {
                let of = if settings.count == u64::MAX {
                    String::new()
                } else {
                    format!("/{}", settings.count)
                };
                eprintln!(
                    "  {}{of} traces · {line}",
                    live.iterations.load(Ordering::Relaxed)
                );
            }
        }
    }
    if let Display::Bar(bar) = display {
        bar.finish_and_clear();
    }
}

fn bar(count: u64) -> ProgressBar {
    let (bar, template) = if count == u64::MAX {
        (
            ProgressBar::new_spinner(),
            "{spinner} {elapsed_precise} {human_pos} traces · {msg}",
        )
    } else {
        (
            ProgressBar::new(count),
            "{elapsed_precise} [{bar:30}] {human_pos}/{human_len} traces · {msg}",
        )
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// `12345 spans/s · 400.0 of 400 traces/s · 0 failed · queue 1/4`.
fn status<T: Transport>(
    settings: &RunSettings,
    live: &Live,
    pipeline: &Pipeline<T>,
    queue: usize,
    started: Instant,
    spans_per_s: f64,
) -> String {
    let elapsed = started.elapsed().as_secs_f64().max(1e-9);
    let achieved = live.iterations.load(Ordering::Relaxed) as f64 / elapsed;
    let target = settings
        .target_rate()
        .filter(|_| settings.backfill.is_none());
    let rate = match target {
        // What the schedule asks for now: the shape and the ramp move it.
        Some(_) => format!(
            "{} of {} traces/s",
            rate_text(achieved),
            rate_text(settings.pace.rate_at(elapsed) / settings.shard.1 as f64)
        ),
        None => format!("{} traces/s", rate_text(achieved)),
    };
    let export = pipeline.snapshot();
    let failed: u64 = crate::encode::Signal::ALL
        .iter()
        .map(|s| {
            let e = export.signal(*s);
            e.rejected + e.dropped
        })
        .sum();
    format!(
        "{spans_per_s:.0} spans/s · {rate} · {} error spans · {failed} items failed export · queue {}/{queue}",
        live.error_spans.load(Ordering::Relaxed),
        pipeline.queued(),
    )
}
