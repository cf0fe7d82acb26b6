//! A generator thread: takes chunks of due iterations, waits for each one's instant, generates
//! it, writes its spans straight to protobuf, feeds the metrics and logs, and hands full requests
//! to the export pipeline.
//!
//! Everything an iteration contains is a function of the seed and its index (its own random
//! streams for the trace, the tenant and the scenario) and of its scheduled instant, never of
//! which worker made it or what that worker made before, so the telemetry is the same for any
//! number of workers. Workers share nothing on the per-span path: each has its own scratch
//! iteration and its own request buffers, one per tenant. A shared batch under a lock was the
//! alternative rejected; it would put the workers in each other's way on every trace.

use super::sessions::Sessions;
use super::signals::{Logs, Metrics, Out};
use super::{Mix, RunSettings, Show, unix_now_ns, window_start};
use crate::encode::Signal;
use crate::encode::wire::{SpanEncoder, TenantBatches};
use crate::export::exporter::Transport;
use crate::export::pipeline::Pipeline;
use crate::generate::{Iteration, Plan, Trace, generate, iteration_rng};
use crate::interrupt::Interrupt;
use rand_distr::{Distribution as _, weighted::WeightedIndex};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// Salts that give the workload's own choices streams apart from the traces' streams.
const TENANT_SALT: u64 = 0x7E4A_17C0_FFEE_0001;
const SCENARIO_SALT: u64 = 0x5CE4_A210_FFEE_0002;

/// A request waits at most this long for more traces before it is sent.
const MAX_BATCH_AGE: Duration = Duration::from_secs(1);

/// Open sessions of a run at most (each holds one drawn turn); a worker holds its share.
const MAX_OPEN_SESSIONS: usize = 100_000;

/// A worker about to wait longer than this sends what it holds first.
const IDLE: Duration = Duration::from_millis(50);

/// One iteration and when it is due, as an offset from the run's start.
#[derive(Clone, Copy, Debug)]
pub(super) struct Due {
    pub index: u64,
    pub offset: Duration,
}

/// Running totals the progress display reads while the run goes on.
#[derive(Default)]
pub(super) struct Live {
    pub iterations: AtomicU64,
    pub traces: AtomicU64,
    pub spans: AtomicU64,
    pub error_spans: AtomicU64,
}

/// What one worker did.
#[derive(Default)]
pub(super) struct Totals {
    pub iterations: u64,
    pub traces: u64,
    pub spans: u64,
    pub error_spans: u64,
    pub log_records: u64,
    /// How late, at worst, an iteration started after its due instant.
    pub behind: Duration,
    /// The first few trace ids, with their iteration index.
    pub samples: Vec<(u64, [u8; 16])>,
    /// Sessions started, and cut by the end of the run.
    pub sessions: u64,
    pub sessions_cut: u64,
}

impl Totals {
    /// Counts `trace`, made by iteration `index`, and keeps its id if it is among the first.
    fn count(&mut self, index: u64, trace: &Trace) {
        self.traces += 1;
        self.spans += trace.spans.len() as u64;
        self.error_spans += trace.spans.iter().filter(|s| s.error.is_some()).count() as u64;
        if self.samples.len() < super::SAMPLE_TRACE_IDS {
            self.samples.push((index, trace.trace_id));
        }
    }
}

/// What every worker reads.
pub(super) struct Shared<'a, T: Transport> {
    pub mix: &'a Mix<'a>,
    pub encoders: &'a [SpanEncoder],
    pub settings: &'a RunSettings,
    pub tenants: &'a [Arc<str>],
    pub pipeline: &'a Pipeline<T>,
    pub metrics: Option<&'a Metrics>,
    pub interrupt: &'a Interrupt,
    pub started: Instant,
    pub started_unix_ns: u64,
    pub live: &'a Live,
    /// Set by the worker that finds the run's time is up.
    pub stop: &'a AtomicBool,
}

impl<T: Transport> Shared<'_, T> {
    /// Whether generation goes on: the run's time is not up and its endpoint not given up on.
    pub fn keep_going(&self) -> bool {
        !self.stop.load(Ordering::Relaxed) && self.pipeline.dead().is_none()
    }
}

/// Runs the chunks `chunks` hands out until it is closed, or the run is stopped.
pub(super) fn work<T: Transport>(
    shared: &Shared<T>,
    chunks: &Mutex<mpsc::Receiver<Vec<Due>>>,
) -> Totals {
    let settings = shared.settings;
    let mut requests = Requests::new(settings, shared.tenants);
    let out = Out {
        pipeline: shared.pipeline,
        tenants: shared.tenants,
    };
    let tenant_pick = WeightedIndex::new(&settings.tenant_weights).ok();
    let scenario_pick = match shared.mix {
        Mix::One(_) => None,
        Mix::Weighted(plans) => WeightedIndex::new(plans.iter().map(|(_, w)| *w)).ok(),
    };
    let mut iteration = Iteration::default();
    let mut totals = Totals::default();
    let mut published = Totals::default();
    let mut idle = Idle::new(settings.pinned_start_ns.is_some());
    let mut sessions = Sessions::default();
    'chunks: while let Some(chunk) = next_chunk(chunks, &idle, &mut requests, &out) {
        for due in chunk {
            if shared.interrupt.requested() || !shared.keep_going() {
                break 'chunks;
            }
            if settings
                .duration
                .is_some_and(|d| shared.started.elapsed() >= d)
            {
                shared.stop.store(true, Ordering::Relaxed);
                break 'chunks;
            }
            let mut state = WorkerState {
                idle: &mut idle,
                requests: &mut requests,
                totals: &mut totals,
            };
            if !send_turns(shared, &mut sessions, Some(due.offset), &mut state) {
                break 'chunks;
            }
            if settings.backfill.is_none()
                && !wait_for(shared, due, &mut idle, &mut requests, &mut totals)
            {
                break 'chunks;
            }
            let (plan, encoder, plan_index) = choose(shared, scenario_pick.as_ref(), due.index);
            let tenant = tenant_pick.as_ref().map_or(0, |w| {
                w.sample(&mut iteration_rng(settings.seed ^ TENANT_SALT, due.index))
            });
            let mut state = WorkerState {
                idle: &mut idle,
                requests: &mut requests,
                totals: &mut totals,
            };
            let tenant = tenant as u32;
            if plan.session.is_some() {
                let made = (plan, encoder, plan_index);
                start_session(shared, &mut sessions, made, due, tenant, &mut state);
            } else {
                iterate(
                    shared,
                    (plan, encoder),
                    due,
                    tenant,
                    &mut iteration,
                    &mut state,
                );
            }
        }
        publish(shared.live, &mut published, &totals);
        let deadline = Instant::now().checked_sub(MAX_BATCH_AGE);
        if let Some(deadline) = deadline.filter(|_| idle.clock_driven()) {
            requests.flush_opened_before(deadline, &out);
        }
    }
    let mut state = WorkerState {
        idle: &mut idle,
        requests: &mut requests,
        totals: &mut totals,
    };
    send_turns(shared, &mut sessions, None, &mut state);
    sessions.cut_all();
    (totals.sessions, totals.sessions_cut) = (sessions.started, sessions.cut);
    publish(shared.live, &mut published, &totals);
    requests.flush(&out);
    totals.log_records = requests.logs.as_ref().map_or(0, Logs::sent);
    totals
}

/// Makes iteration `due` of `plan` for `tenant` in `iteration` and hands it on.
fn iterate<T: Transport>(
    shared: &Shared<T>,
    (plan, encoder): (&Plan, &SpanEncoder),
    due: Due,
    tenant: u32,
    iteration: &mut Iteration,
    state: &mut WorkerState,
) {
    let settings = shared.settings;
    let end = end_ns(shared, due.offset);
    generate(plan, settings.seed, due.index, tenant, end, iteration);
    if let Some(window) = settings.backfill {
        // History stays inside its window: an early trace that would start before it moves
        // later, still ending long before now.
        let start = window_start(shared.started_unix_ns, window);
        if let Some(earliest) = iteration.earliest_start().filter(|e| *e < start) {
            iteration.delay(start - earliest);
        }
    }
    emit(
        shared,
        (plan, encoder),
        iteration,
        (due.index, settings.backfill.is_none().then_some(end)),
        state.requests,
        state.totals,
    );
}

/// Hands the traces of one iteration (or turn) `index` to the metrics, the requests and the
/// screen; `live_end` is when a live one ends (metrics move one that ends before their window).
fn emit<T: Transport>(
    shared: &Shared<T>,
    (plan, encoder): (&Plan, &SpanEncoder),
    iteration: &mut Iteration,
    (index, live_end): (u64, Option<u64>),
    requests: &mut Requests,
    totals: &mut Totals,
) {
    let settings = shared.settings;
    let out = Out {
        pipeline: shared.pipeline,
        tenants: shared.tenants,
    };
    if let Some(metrics) = shared.metrics {
        metrics.export_due(shared.pipeline, live_end);
        metrics.record(plan, iteration, live_end);
    }
    for trace in iteration.traces() {
        totals.count(index, trace);
        requests.add(plan, encoder, trace, &out);
    }
    if settings.show != Show::Nothing {
        let mut out = std::io::stdout().lock();
        settings
            .show
            .print(&mut out, plan, iteration.traces(), index, settings.count);
        let _ = out.flush();
    }
    totals.iterations += 1;
}

/// What a worker sends through, borrowed for the sessions' turns.
struct WorkerState<'w> {
    idle: &'w mut Idle,
    requests: &'w mut Requests,
    totals: &'w mut Totals,
}

/// Starts session `due.index` of `plan`: live, its first turn is drawn and waits for its end;
/// history and unpaced runs make the whole session at once.
fn start_session<T: Transport>(
    shared: &Shared<T>,
    sessions: &mut Sessions,
    (plan, encoder, plan_index): (&Plan, &SpanEncoder, usize),
    due: Due,
    tenant: u32,
    state: &mut WorkerState,
) {
    let settings = shared.settings;
    let start = end_ns(shared, due.offset);
    if settings.backfill.is_none() && settings.pace.rate.is_some() {
        // Memory holds one drawn turn per open session: past the limit, the worker sends the
        // turns due first (as their sessions end, room is made) and the schedule waits.
        let limit = MAX_OPEN_SESSIONS / settings.workers.max(1);
        while sessions.open_count() >= limit.max(1) {
            let next = sessions
                .next_end()
                .map(|end| Duration::from_nanos(end.saturating_sub(shared.started_unix_ns)));
            if next.is_none() || !send_turns(shared, sessions, next, state) {
                break;
            }
            if settings
                .duration
                .is_some_and(|d| next.is_some_and(|n| n >= d))
            {
                break;
            }
        }
        sessions.open((plan, plan_index), settings.seed, due.index, tenant, start);
        return;
    }
    let latest = match settings.backfill {
        Some(_) => shared.started_unix_ns,
        None => start,
    };
    sessions.whole(
        plan,
        (settings.seed, due.index, tenant),
        start,
        latest,
        // A whole session is history (its earlier turns ended before the run's metrics window
        // opened): its metrics are not moved into the window, which would pull its turns apart.
        &mut |turn| {
            emit(
                shared,
                (plan, encoder),
                turn,
                (due.index, None),
                state.requests,
                state.totals,
            );
        },
    );
}

/// Sends the turns of open sessions that end before `limit` (an offset from the run's start;
/// `None`: all of them), each when it ends, drawing the next turn of its session; `false` if
/// the run stopped meanwhile. A turn due at or after the run's duration cuts the sessions
/// still open.
fn send_turns<T: Transport>(
    shared: &Shared<T>,
    sessions: &mut Sessions,
    limit: Option<Duration>,
    state: &mut WorkerState,
) -> bool {
    let settings = shared.settings;
    while let Some(end) = sessions.next_end() {
        let offset = Duration::from_nanos(end.saturating_sub(shared.started_unix_ns));
        if limit.is_some_and(|l| offset > l) {
            return true;
        }
        if settings.duration.is_some_and(|d| offset >= d) {
            return true;
        }
        if shared.interrupt.requested() || !shared.keep_going() {
            return false;
        }
        let Some(mut pending) = sessions.pop() else {
            return true;
        };
        let due = Due {
            index: pending.state.index,
            offset,
        };
        if !wait_for(shared, due, state.idle, state.requests, state.totals) {
            sessions.follow_later(pending);
            return false;
        }
        let (plan, encoder) = plan_of(shared, pending.plan);
        emit(
            shared,
            (plan, encoder),
            &mut pending.iteration,
            (pending.state.index, Some(end)),
            state.requests,
            state.totals,
        );
        sessions.follow(plan, pending);
    }
    true
}

/// The mix's `i`-th plan and its encoder.
fn plan_of<'a, T: Transport>(shared: &Shared<'a, T>, i: usize) -> (&'a Plan, &'a SpanEncoder) {
    let plan = match shared.mix {
        Mix::One(plan) => *plan,
        Mix::Weighted(plans) => plans[i].0,
    };
    (plan, &shared.encoders[i])
}

/// The next chunk `chunks` hands out, `None` once it is closed. When none is ready, what
/// `requests` holds is sent first if `idle` says so: nothing should sit in a buffer meanwhile.
fn next_chunk<T: Transport>(
    chunks: &Mutex<mpsc::Receiver<Vec<Due>>>,
    idle: &Idle,
    requests: &mut Requests,
    out: &Out<'_, T>,
) -> Option<Vec<Due>> {
    let receiver = chunks.lock().unwrap_or_else(|e| e.into_inner());
    match receiver.try_recv() {
        Ok(chunk) => Some(chunk),
        Err(mpsc::TryRecvError::Disconnected) => None,
        Err(mpsc::TryRecvError::Empty) => {
            drop(receiver);
            if idle.clock_driven() {
                requests.flush(out);
            }
            chunks.lock().unwrap_or_else(|e| e.into_inner()).recv().ok()
        }
    }
}

/// Waits for `due`'s instant, sending what `requests` holds first when `idle` says so, and
/// noting how late it is if it is overdue; `false` if the run stopped meanwhile.
fn wait_for<T: Transport>(
    shared: &Shared<T>,
    due: Due,
    idle: &mut Idle,
    requests: &mut Requests,
    totals: &mut Totals,
) -> bool {
    let at = shared.started.checked_add(due.offset);
    let now = Instant::now();
    if let Some(at) = at {
        totals.behind = totals.behind.max(now.saturating_duration_since(at));
    }
    if at.is_none_or(|at| idle.before(due.offset, at)) {
        let out = Out {
            pipeline: shared.pipeline,
            tenants: shared.tenants,
        };
        requests.flush(&out);
    }
    shared.interrupt.sleep_until(at, &|| shared.keep_going())
}

/// When a worker sends what it holds besides full requests: by the clock (before a wait longer
/// than [`IDLE`], when it finds no work, and once a request is [`MAX_BATCH_AGE`] old), or, in a
/// run whose start is pinned, by the schedule alone, so its requests are the same every time:
/// before an iteration due [`IDLE`] after the previous one or [`MAX_BATCH_AGE`] after the last
/// send, which is what the clock does when the run keeps to its schedule.
struct Idle {
    pinned: bool,
    last_due: Duration,
    last_flush: Duration,
}

impl Idle {
    fn new(pinned: bool) -> Idle {
        Idle {
            pinned,
            last_due: Duration::ZERO,
            last_flush: Duration::ZERO,
        }
    }

    /// Whether the clock-driven sends apply.
    fn clock_driven(&self) -> bool {
        !self.pinned
    }

    /// Whether to send what is held before waiting for the iteration due at `offset`, `at`.
    fn before(&mut self, offset: Duration, at: Instant) -> bool {
        if !self.pinned {
            return at.saturating_duration_since(Instant::now()) > IDLE;
        }
        let send = offset.saturating_sub(self.last_due) > IDLE
            || offset.saturating_sub(self.last_flush) >= MAX_BATCH_AGE;
        self.last_due = offset;
        if send {
            self.last_flush = offset;
        }
        send
    }
}

/// A worker's requests in the making: its spans, and its log records when logs are on.
struct Requests {
    spans: TenantBatches,
    logs: Option<Logs>,
}

impl Requests {
    fn new(settings: &RunSettings, tenants: &[Arc<str>]) -> Requests {
        let tenants: Vec<String> = tenants.iter().map(|t| t.to_string()).collect();
        Requests {
            spans: TenantBatches::new(settings.resource.clone(), tenants.clone(), settings.batch),
            logs: Logs::new(
                &settings.signals,
                settings.resource.clone(),
                tenants,
                settings.batch.max_bytes,
            ),
        }
    }

    /// Adds the spans and log records of `trace`; full requests are sent.
    fn add<T: Transport>(
        &mut self,
        plan: &Plan,
        encoder: &SpanEncoder,
        trace: &Trace,
        out: &Out<'_, T>,
    ) {
        self.spans.add_trace(encoder, trace, &mut |r| {
            out.send(Signal::Traces, r);
        });
        if let Some(logs) = &mut self.logs {
            logs.add(plan, encoder, trace, out);
        }
    }

    /// Sends everything batched.
    fn flush<T: Transport>(&mut self, out: &Out<'_, T>) {
        self.spans.flush(&mut |r| {
            out.send(Signal::Traces, r);
        });
        if let Some(logs) = &mut self.logs {
            logs.send(out);
        }
    }

    /// Sends the requests that got their first item before `deadline`.
    fn flush_opened_before<T: Transport>(&mut self, deadline: Instant, out: &Out<'_, T>) {
        self.spans.flush_opened_before(Some(deadline), &mut |r| {
            out.send(Signal::Traces, r);
        });
        if let Some(logs) = &mut self.logs {
            logs.send_opened_before(deadline, out);
        }
    }
}

/// The plan of iteration `index`, its encoder and its place in the mix.
fn choose<'a, T: Transport>(
    shared: &Shared<'a, T>,
    pick: Option<&WeightedIndex<f64>>,
    index: u64,
) -> (&'a Plan, &'a SpanEncoder, usize) {
    let i = match (shared.mix, pick) {
        (Mix::One(_), _) | (Mix::Weighted(_), None) => 0,
        (Mix::Weighted(_), Some(pick)) => pick.sample(&mut iteration_rng(
            shared.settings.seed ^ SCENARIO_SALT,
            index,
        )),
    };
    let plan = match shared.mix {
        Mix::One(plan) => *plan,
        Mix::Weighted(plans) => plans[i].0,
    };
    (plan, &shared.encoders[i], i)
}

/// When an iteration due at `offset` ends: a paced one at its scheduled instant (reproducible,
/// and never ahead of the clock, since it was waited for), history inside its window, an
/// unpaced one when it is made.
fn end_ns<T: Transport>(shared: &Shared<T>, offset: Duration) -> u64 {
    let settings = shared.settings;
    match (settings.backfill, settings.pace.rate) {
        (Some(window), _) => {
            window_start(shared.started_unix_ns, window) + offset.as_nanos() as u64
        }
        (None, Some(_)) => shared.started_unix_ns + offset.as_nanos() as u64,
        // Unpaced: every offset is 0; a pinned run's traces all end at its start.
        (None, None) if settings.pinned_start_ns.is_some() => shared.started_unix_ns,
        (None, None) => unix_now_ns(),
    }
}

/// Adds what was done since the last call to the live totals (once a chunk, not once a trace,
/// so that workers do not contend for the counters).
fn publish(live: &Live, published: &mut Totals, totals: &Totals) {
    let add = |counter: &AtomicU64, now: u64, then: &mut u64| {
        counter.fetch_add(now - *then, Ordering::Relaxed);
        *then = now;
    };
    add(
        &live.iterations,
        totals.iterations,
        &mut published.iterations,
    );
    add(&live.traces, totals.traces, &mut published.traces);
    add(&live.spans, totals.spans, &mut published.spans);
    add(
        &live.error_spans,
        totals.error_spans,
        &mut published.error_spans,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_worker_sends_by_the_schedule_before_a_gap_or_once_a_second() {
        let ms = Duration::from_millis;
        let now = Instant::now();
        let mut idle = Idle::new(true);
        assert!(!idle.clock_driven());
        // Steady 10 ms gaps: nothing until a second of schedule has passed since the last send.
        let sends: Vec<u64> = (0..=250)
            .map(|i| i * 10)
            .filter(|t| idle.before(ms(*t), now))
            .collect();
        assert_eq!(sends, [1000, 2000]);
        // A gap longer than IDLE sends before the wait; a shorter one does not.
        assert!(idle.before(ms(2500 + IDLE.as_millis() as u64 + 1), now));
        assert!(!idle.before(ms(2600), now));
        // By the clock, an iteration due now is no reason to send.
        assert!(Idle::new(false).clock_driven());
        assert!(!Idle::new(false).before(ms(0), Instant::now()));
    }
}
