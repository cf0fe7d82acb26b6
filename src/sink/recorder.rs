//! What the sink does with a decoded export request: count it, check its spans, remember
//! the last trace. Transport-neutral on purpose: the HTTP handlers (`http.rs`) and the gRPC
//! services (`grpc.rs`) both hand the request they decoded to `Intake::record` (`mod.rs`),
//! which calls the same three `record_*` methods, so both transports count alike.
//!
//! Shape of the hot path: everything that can be done without shared state (walking the
//! request, counting, per-span checks, building the window's id list) happens first, in
//! the request's task; then one short lock merges it (the trace window, the problem list,
//! the last trace). Plain counters are atomics, so metric and log requests normally take
//! no lock at all. A lock per span, or a channel to a single "stats actor" task, were the
//! alternatives rejected: the first contends under concurrent requests, the second adds a
//! hop and a copy per request for no gain at this size of state.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::trace::v1::{Span, status::StatusCode};

use super::tenants::{Headers, Item, Tenants, tenant_of};
use super::tree::{
    LAST_TRACE_MAX_SPANS, LastTrace, PENDING_TRACES, SpanBrief, TREE_MAX_LINES, eligible,
    render_tree,
};
use super::window::{Problems, SpanRef, TraceWindow, hex};
use super::{SignalStats, SinkSummary, TraceStats};

/// Per-signal counters. `requests`, `bytes`, `bytes_decoded` and `items` count accepted
/// requests only; `rejected` counts requests answered with an error status.
#[derive(Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    rejected: AtomicU64,
    refused: AtomicU64,
    bytes: AtomicU64,
    bytes_decoded: AtomicU64,
    items: AtomicU64,
}

impl Counters {
    pub fn accept(&self, wire: usize, decoded: usize, items: u64) {
        self.requests.fetch_add(1, Relaxed);
        self.bytes.fetch_add(wire as u64, Relaxed);
        self.bytes_decoded.fetch_add(decoded as u64, Relaxed);
        self.items.fetch_add(items, Relaxed);
    }

    pub fn reject(&self) {
        self.rejected.fetch_add(1, Relaxed);
    }

    /// A request refused for what it would cost (a limit): also counted as rejected.
    pub fn refuse(&self) {
        self.rejected.fetch_add(1, Relaxed);
        self.refused.fetch_add(1, Relaxed);
    }

    fn stats(&self) -> SignalStats {
        SignalStats {
            requests: self.requests.load(Relaxed),
            rejected: self.rejected.load(Relaxed),
            refused: self.refused.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            bytes_decoded: self.bytes_decoded.load(Relaxed),
            items: self.items.load(Relaxed),
        }
    }
}

/// Bounds of the recorder's memory (see `window.rs`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct WindowLimits {
    pub max_traces: usize,
    pub max_ids: usize,
}

impl Default for WindowLimits {
    fn default() -> Self {
        WindowLimits {
            max_traces: 10_000,
            max_ids: 2_000_000,
        }
    }
}

struct State {
    window: TraceWindow,
    problems: Problems,
    last: LastTrace,
    tenants: Tenants,
    headers: Headers,
}

/// The sink's shared state; one per running sink, behind an `Arc`.
pub(crate) struct Recorder {
    pub traces: Counters,
    pub metrics: Counters,
    pub logs: Counters,
    span_errors: AtomicU64,
    state: Mutex<State>,
}

fn id16(bytes: &[u8]) -> Option<u128> {
    <[u8; 16]>::try_from(bytes).ok().map(u128::from_be_bytes)
}

fn id8(bytes: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(bytes).ok().map(u64::from_be_bytes)
}

/// Checks one span; returns its ids for the window (0 where invalid). Descriptions are
/// only formatted for the problems that will be kept.
fn check_span(s: &Span, problems: &mut Problems) -> SpanRef {
    let here = || format!("span {} in trace {}", hex(&s.span_id), hex(&s.trace_id));
    let trace = match id16(&s.trace_id) {
        Some(0) => {
            problems.add(|| format!("{}: trace id is all zero", here()));
            0
        }
        Some(t) => t,
        None => {
            problems.add(|| {
                format!(
                    "{}: trace id has {} bytes, want 16",
                    here(),
                    s.trace_id.len()
                )
            });
            0
        }
    };
    let span = match id8(&s.span_id) {
        Some(0) => {
            problems.add(|| format!("{}: span id is all zero", here()));
            0
        }
        Some(v) => v,
        None => {
            problems.add(|| format!("{}: span id has {} bytes, want 8", here(), s.span_id.len()));
            0
        }
    };
    let parent = if s.parent_span_id.is_empty() {
        0
    } else {
        match id8(&s.parent_span_id) {
            Some(0) => {
                problems.add(|| format!("{}: parent span id is all zero (use empty)", here()));
                0
            }
            Some(v) => v,
            None => {
                problems.add(|| {
                    format!(
                        "{}: parent span id has {} bytes, want 0 or 8",
                        here(),
                        s.parent_span_id.len()
                    )
                });
                0
            }
        }
    };
    if s.end_time_unix_nano < s.start_time_unix_nano {
        problems.add(|| {
            format!(
                "{}: ends before it starts ({} < {})",
                here(),
                s.end_time_unix_nano,
                s.start_time_unix_nano
            )
        });
    }
    if s.name.is_empty() {
        problems.add(|| format!("{}: empty name", here()));
    }
    SpanRef {
        trace,
        span,
        parent,
    }
}

fn brief(s: &Span, r: &SpanRef) -> SpanBrief {
    let (status, message) = s
        .status
        .as_ref()
        .map(|st| (st.code, st.message.clone()))
        .unwrap_or_default();
    SpanBrief {
        span: r.span,
        parent: r.parent,
        name: s.name.clone(),
        kind: s.kind,
        start: s.start_time_unix_nano,
        end: s.end_time_unix_nano,
        status,
        message,
    }
}

impl Recorder {
    pub fn new(limits: WindowLimits) -> Self {
        Recorder {
            traces: Counters::default(),
            metrics: Counters::default(),
            logs: Counters::default(),
            span_errors: AtomicU64::new(0),
            state: Mutex::new(State {
                window: TraceWindow::new(limits.max_traces, limits.max_ids),
                problems: Problems::default(),
                last: LastTrace::default(),
                tenants: Tenants::default(),
                headers: Headers::default(),
            }),
        }
    }

    /// A poisoned lock only means another request panicked mid-merge; the counts are
    /// still usable, so carry on rather than propagate the panic.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts items per resource tenant and the request under its `header` tenant; a request
    /// whose resources name another tenant than its header is a problem.
    fn record_tenants(&self, kind: Item, resources: &[(Option<&str>, u64)], header: Option<&str>) {
        if header.is_none() && resources.iter().all(|(t, _)| t.is_none()) {
            return;
        }
        let mut guard = self.lock();
        let st = &mut *guard;
        for other in st.tenants.add(kind, resources, header) {
            let header = header.unwrap_or_default();
            st.problems.add(|| {
                format!("a request with tenant header {header:?} holds data of tenant {other:?}")
            });
        }
    }

    /// Remembers the request's headers (for `--show-headers`).
    pub fn record_headers(&self, headers: &axum::http::HeaderMap) {
        self.lock().headers.add(headers);
    }

    pub fn record_traces(
        &self,
        req: &ExportTraceServiceRequest,
        wire: usize,
        decoded: usize,
        header: Option<&str>,
    ) {
        let spans = || {
            req.resource_spans
                .iter()
                .flat_map(|rs| &rs.scope_spans)
                .flat_map(|ss| &ss.spans)
        };
        // The trace of the request's last span is the most recently arrived trace.
        let last_trace = spans().filter_map(|s| id16(&s.trace_id)).rfind(|&t| t != 0);
        // So is the trace being kept, whose other services' spans may come in this request, and
        // so are the newest traces every request keeps pieces of (see `tree::eligible`).
        let kept = self.lock().last.trace;
        let mut kept_briefs = Vec::new();
        let mut pieces: Vec<(u128, Vec<SpanBrief>)> = Vec::new();
        for t in spans()
            .filter_map(|s| id16(&s.trace_id))
            .filter(|&t| eligible(t))
        {
            if let Some(at) = pieces.iter().position(|(p, _)| *p == t) {
                pieces.remove(at);
            }
            pieces.push((t, Vec::new()));
            if pieces.len() > PENDING_TRACES {
                pieces.remove(0);
            }
        }
        let mut problems = Problems::default();
        let mut refs = Vec::with_capacity(spans().size_hint().0);
        let mut briefs = Vec::new();
        let (mut count, mut errors) = (0u64, 0u64);
        for s in spans() {
            count += 1;
            if s.status
                .as_ref()
                .is_some_and(|st| st.code == StatusCode::Error as i32)
            {
                errors += 1;
            }
            let r = check_span(s, &mut problems);
            if r.trace != 0 {
                if Some(r.trace) == last_trace && briefs.len() < LAST_TRACE_MAX_SPANS {
                    briefs.push(brief(s, &r));
                } else if r.trace == kept && kept_briefs.len() < LAST_TRACE_MAX_SPANS {
                    kept_briefs.push(brief(s, &r));
                } else if let Some((_, piece)) = pieces
                    .iter_mut()
                    .find(|(t, p)| *t == r.trace && p.len() < LAST_TRACE_MAX_SPANS)
                {
                    piece.push(brief(s, &r));
                }
                refs.push(r);
            }
        }
        self.traces.accept(wire, decoded, count);
        self.span_errors.fetch_add(errors, Relaxed);

        let mut guard = self.lock();
        let st = &mut *guard;
        st.problems.merge(problems);
        st.window.ingest(&refs, &mut st.problems);
        st.last.update(kept, kept_briefs);
        for (t, piece) in pieces {
            st.last.update(t, piece);
        }
        if let Some(t) = last_trace {
            st.last.update(t, briefs);
        }
        drop(guard);
        let tenants: Vec<_> = req
            .resource_spans
            .iter()
            .map(|rs| {
                let spans = rs.scope_spans.iter().map(|ss| ss.spans.len() as u64);
                (tenant_of(rs.resource.as_ref()), spans.sum())
            })
            .collect();
        self.record_tenants(Item::Spans, &tenants, header);
    }

    pub fn record_metrics(
        &self,
        req: &ExportMetricsServiceRequest,
        wire: usize,
        decoded: usize,
        header: Option<&str>,
    ) {
        let tenants: Vec<_> = req
            .resource_metrics
            .iter()
            .map(|rm| {
                let points = rm
                    .scope_metrics
                    .iter()
                    .flat_map(|sm| &sm.metrics)
                    .map(|m| match &m.data {
                        Some(Data::Gauge(g)) => g.data_points.len(),
                        Some(Data::Sum(s)) => s.data_points.len(),
                        Some(Data::Histogram(h)) => h.data_points.len(),
                        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
                        Some(Data::Summary(s)) => s.data_points.len(),
                        None => 0,
                    })
                    .sum::<usize>();
                (tenant_of(rm.resource.as_ref()), points as u64)
            })
            .collect();
        let points = tenants.iter().map(|(_, n)| n).sum();
        self.metrics.accept(wire, decoded, points);
        self.record_tenants(Item::Points, &tenants, header);
    }

    pub fn record_logs(
        &self,
        req: &ExportLogsServiceRequest,
        wire: usize,
        decoded: usize,
        header: Option<&str>,
    ) {
        let mut problems = Problems::default();
        let mut count = 0u64;
        for rec in req
            .resource_logs
            .iter()
            .flat_map(|rl| &rl.scope_logs)
            .flat_map(|sl| &sl.log_records)
        {
            count += 1;
            if !(rec.trace_id.is_empty() || rec.trace_id.len() == 16) {
                problems.add(|| {
                    format!(
                        "log record: trace id {} has {} bytes, want 0 or 16",
                        hex(&rec.trace_id),
                        rec.trace_id.len()
                    )
                });
            }
            if !(rec.span_id.is_empty() || rec.span_id.len() == 8) {
                problems.add(|| {
                    format!(
                        "log record: span id {} has {} bytes, want 0 or 8",
                        hex(&rec.span_id),
                        rec.span_id.len()
                    )
                });
            }
        }
        self.logs.accept(wire, decoded, count);
        if problems.count > 0 {
            self.lock().problems.merge(problems);
        }
        let tenants: Vec<_> = req
            .resource_logs
            .iter()
            .map(|rl| {
                let records = rl.scope_logs.iter().map(|sl| sl.log_records.len() as u64);
                (tenant_of(rl.resource.as_ref()), records.sum())
            })
            .collect();
        self.record_tenants(Item::Records, &tenants, header);
    }

    /// Requests seen so far, accepted or not: the live line prints when this moves.
    pub fn activity(&self) -> u64 {
        [&self.traces, &self.metrics, &self.logs]
            .iter()
            .map(|c| c.requests.load(Relaxed) + c.rejected.load(Relaxed))
            .sum()
    }

    /// Counts only (no problem list, no tree): what the live line needs, cheaply.
    pub fn counts(&self) -> SinkSummary {
        let unique = self.lock().window.unique_traces();
        let t = self.traces.stats();
        SinkSummary {
            traces: TraceStats {
                requests: t.requests,
                rejected: t.rejected,
                refused: t.refused,
                bytes: t.bytes,
                bytes_decoded: t.bytes_decoded,
                spans: t.items,
                traces: unique,
                errors: self.span_errors.load(Relaxed),
            },
            metrics: self.metrics.stats(),
            logs: self.logs.stats(),
            ..SinkSummary::default()
        }
    }

    /// Counts, problems so far and the last trace's tree.
    pub fn snapshot(&self) -> SinkSummary {
        let mut summary = self.counts();
        let st = self.lock();
        summary.traces.traces = st.window.unique_traces();
        summary.problems = st.problems.kept.clone();
        summary.problem_count = st.problems.count;
        summary.tenants = st.tenants.map.clone();
        summary.headers = st.headers.list();
        if !st.last.spans.is_empty() {
            summary.last_trace_id = Some(hex(&st.last.trace.to_be_bytes()));
            summary.last_trace_tree = render_tree(&st.last.spans, TREE_MAX_LINES);
        }
        summary
    }

    /// End of run: checks every trace still open (missing parents), then summarises.
    pub fn finish(&self) -> SinkSummary {
        {
            let mut guard = self.lock();
            let st = &mut *guard;
            st.window.finish(&mut st.problems);
        }
        self.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};

    fn span(trace: &[u8], id: &[u8], parent: &[u8], name: &str, start: u64, end: u64) -> Span {
        Span {
            trace_id: trace.to_vec(),
            span_id: id.to_vec(),
            parent_span_id: parent.to_vec(),
            name: name.to_owned(),
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            ..Default::default()
        }
    }

    fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn each_span_check_reports_one_problem() {
        let rec = Recorder::new(WindowLimits::default());
        let t = [1u8; 16];
        let good = [2u8; 8];
        rec.record_traces(
            &request(vec![
                span(&[0; 16], &good, &[], "zero trace", 1, 2),
                span(&[1; 15], &good, &[], "short trace", 1, 2),
                span(&t, &[0; 8], &[], "zero span", 1, 2),
                span(&t, &[3; 9], &[], "long span", 1, 2),
                span(&t, &[4; 8], &[2; 4], "short parent", 1, 2),
                span(&t, &[5; 8], &[], "backwards", 2, 1),
                span(&t, &[6; 8], &[], "", 1, 2),
                span(&t, &good, &[], "fine", 1, 2),
            ]),
            0,
            0,
            None,
        );
        let s = rec.finish();
        assert_eq!(s.traces.spans, 8);
        assert_eq!(s.traces.traces, 1, "only valid trace ids are counted");
        assert_eq!(s.problem_count, 7, "{:#?}", s.problems);
        for (p, want) in s.problems.iter().zip([
            "trace id is all zero",
            "trace id has 15 bytes",
            "span id is all zero",
            "span id has 9 bytes",
            "parent span id has 4 bytes",
            "ends before it starts",
            "empty name",
        ]) {
            assert!(p.contains(want), "{p:?} should contain {want:?}");
        }
    }
}
