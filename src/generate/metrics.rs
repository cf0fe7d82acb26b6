//! Span-derived metrics, as an instrumented agent would report them: counters and histograms
//! aggregated in process from the generated spans and collected on an interval.
//!
//! Every measurement is read off a span that is sent (its duration, its token counts, its
//! outcome), so the metrics agree with the traces: the turn counter counts turn spans, the tool
//! counter counts tool calls (the `mcp.tool.execute` span, once, not its attempts), and a
//! histogram's count and sum are those of its spans' durations. The original recorded configured
//! latencies that its spans did not have, counted every tool call twice and took status
//! dimensions from static YAML; all three are what this module exists not to do.
//!
//! The instruments are the original's (`{prefix}.turn.count`, `{prefix}.tool.latency_ms`, …, with
//! its names, units and dimensions) plus the semantic conventions' `gen_ai.client.operation.duration`,
//! `gen_ai.client.token.usage` and `mcp.client.operation.duration`, with their explicit bucket
//! boundaries. Histogram points carry exemplars pointing at real spans (the last measurement of
//! each bucket per collection, like the SDKs' aligned-bucket reservoir).
//!
//! Aggregation is the SDKs', reduced to what the simulator needs: cumulative temporality by
//! default (every series, from the run's start), delta on request (only series measured since the
//! last collection, from that collection). Attribute values are bounded by construction: only
//! values fixed by the plan (constants and categorical draws, never per-trace texts such as
//! session ids) become metric attributes, and an instrument past [`CARDINALITY_LIMIT`] series
//! reports the rest under `otel.metric.overflow=true`, as the SDKs do.
//!
//! This module knows nothing of OTLP: [`Aggregator::collect`] returns plain structs that the
//! encoder (`encode::metrics`) turns into an export request. Going through an OpenTelemetry
//! SDK meter was rejected for the same reason spans do not: the simulator must stamp exact times
//! and exemplars, and an SDK would stamp the wall clock.

use super::derive::{SpanView, is_genai_client_operation, views};
use super::plan::Plan;
use super::services::ServiceResource;
use super::symbols::{AttrValue, Sym};
use super::trace::Trace;
use crate::conventions::{self, Signals};
// The keys are the aggregator's own (interned ids, short strings): no untrusted input to
// defend against, so a fast hash instead of SipHash, which showed in the profile.
use rustc_hash::FxHashMap as HashMap;

/// The SDKs' default histogram buckets, used by the original's millisecond histograms.
pub const DEFAULT_BOUNDS: &[f64] = &[
    0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0,
    10000.0,
];
/// `gen_ai.client.operation.duration` (seconds), semantic conventions v1.41.
pub const GENAI_DURATION_BOUNDS: &[f64] = &[
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/// `gen_ai.client.token.usage` (tokens), semantic conventions v1.41.
pub const GENAI_TOKEN_BOUNDS: &[f64] = &[
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];
/// `mcp.client.operation.duration` (seconds), semantic conventions v1.41.
pub const MCP_DURATION_BOUNDS: &[f64] = &[
    0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// Series per instrument (and tenant) before the rest is folded into the overflow series; the
/// SDKs' default cardinality limit.
pub const CARDINALITY_LIMIT: usize = 2000;

/// How points relate to earlier ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub enum Temporality {
    /// Totals since the run's start, every series at every collection.
    #[default]
    Cumulative,
    /// Changes since the previous collection, only for series measured in between.
    Delta,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum InstrumentKind {
    /// A monotonic integer sum.
    Counter,
    /// An explicit-bucket histogram with these boundaries.
    Histogram(&'static [f64]),
    /// A monotonic sum of real numbers (a cost in USD).
    DoubleCounter,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Instrument {
    pub name: String,
    pub unit: &'static str,
    pub description: &'static str,
    pub kind: InstrumentKind,
}

/// The instruments, in the order of [`Instruments::all`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Id {
    TurnCount,
    TurnDuration,
    ToolCount,
    ToolLatency,
    LlmCount,
    LlmLatency,
    LlmTokensInput,
    LlmTokensOutput,
    RagCount,
    RagLatency,
    RagDocuments,
    A2aCount,
    A2aLatency,
    CpCount,
    CpDuration,
    GenAiDuration,
    GenAiTokens,
    McpDuration,
    SpanCalls,
    SpanDuration,
    GenAiTimeToFirstChunk,
    GenAiTimePerOutputChunk,
    LlmCost,
    EvaluationScore,
}

/// Every instrument under `prefix`, indexed by [`Id`].
pub fn instruments(prefix: &str) -> Vec<Instrument> {
    use InstrumentKind::{Counter, Histogram};
    let p = prefix;
    let i = |name: String, unit, description, kind| Instrument {
        name,
        unit,
        description,
        kind,
    };
    let ms = Histogram(DEFAULT_BOUNDS);
    vec![
        i(format!("{p}.turn.count"), "1", "Agent turns.", Counter),
        i(
            format!("{p}.turn.duration_ms"),
            "ms",
            "Agent turn duration.",
            ms,
        ),
        i(format!("{p}.tool.count"), "1", "MCP tool calls.", Counter),
        i(
            format!("{p}.tool.latency_ms"),
            "ms",
            "MCP tool call latency.",
            ms,
        ),
        i(format!("{p}.llm.count"), "1", "LLM calls.", Counter),
        i(format!("{p}.llm.latency_ms"), "ms", "LLM call latency.", ms),
        i(
            format!("{p}.llm.tokens.input"),
            "1",
            "Input tokens (gen_ai.usage.input_tokens).",
            Counter,
        ),
        i(
            format!("{p}.llm.tokens.output"),
            "1",
            "Output tokens (gen_ai.usage.output_tokens).",
            Counter,
        ),
        i(format!("{p}.rag.count"), "1", "Retrievals.", Counter),
        i(
            format!("{p}.rag.latency_ms"),
            "ms",
            "Retrieval latency.",
            ms,
        ),
        i(
            format!("{p}.rag.documents_returned"),
            "1",
            "Documents returned per retrieval (rag.documents.returned).",
            Histogram(DEFAULT_BOUNDS),
        ),
        i(
            format!("{p}.a2a.count"),
            "1",
            "Remote agent calls.",
            Counter,
        ),
        i(
            format!("{p}.a2a.latency_ms"),
            "ms",
            "Remote agent call latency.",
            ms,
        ),
        i(
            format!("{p}.cp.request.count"),
            "1",
            "Control-plane requests.",
            Counter,
        ),
        i(
            format!("{p}.cp.request.duration_ms"),
            "ms",
            "Control-plane request duration.",
            ms,
        ),
    ]
    .into_iter()
    .chain(semconv_instruments())
    .chain(span_metrics_instruments())
    .chain(llm_instruments(prefix))
    .chain([evaluation_scores()])
    .collect()
}

/// The instruments the GenAI and MCP semantic conventions name.
fn semconv_instruments() -> [Instrument; 3] {
    let i = |name: &str, unit, description, kind| Instrument {
        name: name.into(),
        unit,
        description,
        kind,
    };
    [
        i(
            "gen_ai.client.operation.duration",
            "s",
            "GenAI operation duration.",
            InstrumentKind::Histogram(GENAI_DURATION_BOUNDS),
        ),
        i(
            "gen_ai.client.token.usage",
            "{token}",
            "Number of input and output tokens used.",
            InstrumentKind::Histogram(GENAI_TOKEN_BOUNDS),
        ),
        i(
            "mcp.client.operation.duration",
            "s",
            "The duration of the MCP request or notification as observed on the sender from the time it was sent until the response or ack is received.",
            InstrumentKind::Histogram(MCP_DURATION_BOUNDS),
        ),
    ]
}

/// The instruments only LLM calls with an `llm:` block feed: streaming chunks and cost.
fn llm_instruments(prefix: &str) -> [Instrument; 3] {
    let i = |name: String, description, kind| Instrument {
        name,
        unit: "s",
        description,
        kind,
    };
    let duration = InstrumentKind::Histogram(GENAI_DURATION_BOUNDS);
    [
        i(
            "gen_ai.client.operation.time_to_first_chunk".into(),
            "Time to receive the first chunk of a streaming response (gen_ai.response.time_to_first_chunk).",
            duration,
        ),
        i(
            "gen_ai.client.operation.time_per_output_chunk".into(),
            "Time between consecutive chunks of a streaming response, one measurement per chunk after the first.",
            duration,
        ),
        Instrument {
            unit: "USD",
            ..i(
                format!("{prefix}.llm.cost"),
                "Cost of LLM calls (gen_ai.usage.cost), per model.",
                InstrumentKind::DoubleCounter,
            )
        },
    ]
}

/// The span-metrics connector's two instruments, as it names them.
fn span_metrics_instruments() -> [Instrument; 2] {
    [
        Instrument {
            name: SPAN_CALLS.into(),
            unit: "",
            description: "Spans, as the Collector's span-metrics connector counts them (scenarios with services).",
            kind: InstrumentKind::Counter,
        },
        Instrument {
            name: SPAN_DURATION.into(),
            unit: "ms",
            description: "Span durations, as the Collector's span-metrics connector measures them (scenarios with services).",
            kind: InstrumentKind::Histogram(SPAN_METRICS_BOUNDS),
        },
    ]
}

/// The span-metrics connector's request count (its default namespace `traces.span.metrics`).
pub const SPAN_CALLS: &str = "traces.span.metrics.calls";
/// The span-metrics connector's duration histogram.
pub const SPAN_DURATION: &str = "traces.span.metrics.duration";
/// The span-metrics connector's default buckets, in ms.
pub const SPAN_METRICS_BOUNDS: &[f64] = &[
    2.0, 4.0, 6.0, 8.0, 10.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1000.0, 1400.0, 2000.0, 5000.0,
    10000.0, 15000.0,
];
/// `gen_ai.evaluation.score`: the scores of the `gen_ai.evaluation.result` events.
fn evaluation_scores() -> Instrument {
    Instrument {
        name: "gen_ai.evaluation.score".into(),
        unit: "1",
        description: "Evaluation scores (gen_ai.evaluation.result events), by gen_ai.evaluation.name and label.",
        kind: InstrumentKind::Histogram(EVALUATION_SCORE_BOUNDS),
    }
}

/// Buckets of evaluation scores: tenths of the usual [0, 1] range.
pub const EVALUATION_SCORE_BOUNDS: &[f64] =
    &[0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];

/// A measurement's link to the span it came from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Exemplar {
    pub value: f64,
    pub time_ns: u64,
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
}

/// A metric attribute value, as exported.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricValue {
    Str(String),
    Int(i64),
    Bool(bool),
}

/// One collection: every point, grouped by tenant (one resource each), then by instrument.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsExport {
    pub temporality: Temporality,
    /// Start of the points' time window: the run's start (cumulative) or the previous
    /// collection (delta).
    pub start_ns: u64,
    /// The collection instant.
    pub time_ns: u64,
    pub tenants: Vec<TenantMetrics>,
    pub points: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TenantMetrics {
    pub tenant: String,
    pub metrics: Vec<MetricPoints>,
    /// The service instance the points belong to (`None`: the run's own resource).
    pub resource: Option<ServiceResource>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MetricPoints {
    pub instrument: Instrument,
    pub points: Vec<Point>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub attributes: Vec<(String, MetricValue)>,
    pub data: PointData,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PointData {
    Sum(i64),
    DoubleSum(f64),
    Histogram(HistogramPoint),
}

#[derive(Clone, Debug, PartialEq)]
pub struct HistogramPoint {
    /// One more than the instrument's boundaries; bucket `i` holds values in
    /// `(bounds[i-1], bounds[i]]`.
    pub bucket_counts: Vec<u64>,
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub exemplars: Vec<Exemplar>,
}

/// An attribute value inside the aggregator: strings interned.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Label {
    Str(u32),
    Int(i64),
    Bool(bool),
}

impl Label {
    /// Two words of a series key.
    fn words(self) -> [u64; 2] {
        match self {
            Label::Str(s) => [0, s as u64],
            Label::Int(i) => [1, i as u64],
            Label::Bool(b) => [2, b as u64],
        }
    }
}

struct Series {
    instrument: Id,
    tenant: u32,
    /// 0: the run's resource; else 1 + an index into [`Aggregator::resources`].
    resource: u32,
    labels: Box<[(u32, Label)]>,
    data: Data,
    /// Measured since the last collection.
    fresh: bool,
}

enum Data {
    Sum(i64),
    /// A sum of fractional values (USD), kept in whole [`DOUBLE_SUM_UNITS`] so that it is the
    /// same whatever order the workers record in: float addition is not associative, and the
    /// same `--seed` must give the same points at any worker count.
    DoubleSum(i128),
    Histogram(Buckets),
}

struct Buckets {
    counts: Vec<u64>,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    /// The last measurement of each bucket since the last collection.
    exemplars: Vec<Option<Exemplar>>,
}

impl Buckets {
    fn new(bounds: &[f64]) -> Buckets {
        Buckets {
            counts: vec![0; bounds.len() + 1],
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            exemplars: vec![None; bounds.len() + 1],
        }
    }

    /// `n` measurements of the same value (the chunks of one streamed response).
    fn observe_n(&mut self, bounds: &[f64], value: f64, n: u64, exemplar: Exemplar) {
        let bucket = bounds.partition_point(|b| *b < value);
        self.counts[bucket] += n;
        self.count += n;
        self.sum += value * n as f64;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.exemplars[bucket] = Some(exemplar);
    }

    fn reset(&mut self) {
        self.counts.iter_mut().for_each(|c| *c = 0);
        self.count = 0;
        self.sum = 0.0;
        self.min = f64::INFINITY;
        self.max = f64::NEG_INFINITY;
    }
}

/// Strings of labels, interned.
#[derive(Default)]
struct Interner {
    ids: HashMap<Box<str>, u32>,
    strings: Vec<Box<str>>,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        let id = self.strings.len() as u32;
        self.strings.push(s.into());
        self.ids.insert(s.into(), id);
        id
    }

    fn str(&self, id: u32) -> &str {
        &self.strings[id as usize]
    }
}

/// Aggregates the metrics of the spans it is given, until collected.
pub struct Aggregator {
    instruments: Vec<Instrument>,
    temporality: Temporality,
    run_start_ns: u64,
    /// The previous collection (the run's start before the first).
    interval_start_ns: u64,
    strings: Interner,
    index: HashMap<Box<[u64]>, u32>,
    series: Vec<Series>,
    /// Series per (instrument, tenant), for the cardinality limit.
    cardinality: HashMap<(Id, u32, u32), usize>,
    tenant_key: u32,
    overflow_key: u32,
    token_type_key: u32,
    input: u32,
    output: u32,
    // Scratch space reused by every measurement.
    labels: Vec<(u32, Label)>,
    key: Vec<u64>,
    /// Every service instance met, in any plan; the resource of the span being measured.
    resources: Vec<ServiceResource>,
    resource: u32,
    /// Per plan resource of the trace being recorded: its `resource` id here.
    plan_resources: Vec<u32>,
}

impl Aggregator {
    /// When the current export window began: the last export (or the run's start).
    pub fn window_start_ns(&self) -> u64 {
        self.interval_start_ns
    }

    /// An empty aggregator for metrics under `prefix`, for a run that started at `start_ns`.
    pub fn new(prefix: &str, temporality: Temporality, start_ns: u64) -> Aggregator {
        let mut strings = Interner::default();
        Aggregator {
            instruments: instruments(prefix),
            temporality,
            run_start_ns: start_ns,
            interval_start_ns: start_ns,
            tenant_key: strings.id("tenant.id"),
            overflow_key: strings.id("otel.metric.overflow"),
            token_type_key: strings.id("gen_ai.token.type"),
            input: strings.id("input"),
            output: strings.id("output"),
            strings,
            index: HashMap::default(),
            series: Vec::new(),
            cardinality: HashMap::default(),
            labels: Vec::new(),
            key: Vec::new(),
            resources: Vec::new(),
            resource: 0,
            plan_resources: Vec::new(),
        }
    }

    /// Number of series so far.
    pub fn series(&self) -> usize {
        self.series.len()
    }

    /// Records the measurements of every span of `trace`.
    pub fn record(&mut self, plan: &Plan, trace: &Trace) {
        let tenant = self
            .strings
            .id(plan.str(plan.tenants[trace.tenant as usize]));
        if !plan.services.is_declared() {
            for view in views(plan, trace) {
                self.record_span(tenant, &view);
            }
            self.record_evaluations(tenant, plan, trace);
            return;
        }
        self.map_resources(plan);
        for view in views(plan, trace) {
            self.resource = self.plan_resources[view.span.resource as usize];
            // A call's SERVER span is the callee's; the agent instruments count its client.
            if !view.span.server {
                self.record_span(tenant, &view);
            }
            self.record_span_metrics(tenant, &view);
        }
        // Evaluations are the agent's: under the root's service.
        if let Some(root) = trace.spans.first() {
            self.resource = self.plan_resources[root.resource as usize];
        }
        self.record_evaluations(tenant, plan, trace);
        self.resource = 0;
    }

    /// The ids of `plan`'s resources, each service instance added on first sight.
    fn map_resources(&mut self, plan: &Plan) {
        self.plan_resources.clear();
        for resource in &plan.services.resources {
            let id = match self.resources.iter().position(|r| r == resource) {
                Some(i) => i,
                None => {
                    self.resources.push(resource.clone());
                    self.resources.len() - 1
                }
            };
            self.plan_resources.push(id as u32 + 1);
        }
    }

    /// The span-metrics connector's RED metrics of one span: its count and duration by
    /// `service.name`, `span.name`, `span.kind` and `status.code` (no tenant label: the
    /// tenant is on the resource, as it is for the spans the connector reads).
    fn record_span_metrics(&mut self, tenant: u32, v: &SpanView) {
        let plan = v.plan;
        let service = match self.resource {
            0 => None,
            r => Some(self.resources[r as usize - 1].name.as_str()),
        };
        let labels = [
            ("service.name", service.unwrap_or_default()),
            ("span.name", plan.str(v.span.name)),
            ("span.kind", span_kind_name(v.span.kind)),
            (
                "status.code",
                if v.span.error.is_some() {
                    "STATUS_CODE_ERROR"
                } else {
                    "STATUS_CODE_UNSET"
                },
            ),
        ];
        self.labels.clear();
        for (key, value) in labels {
            let key = self.strings.id(key);
            let value = self.strings.id(value);
            self.labels.push((key, Label::Str(value)));
        }
        self.add(Id::SpanCalls, tenant, 1);
        self.observe(Id::SpanDuration, tenant, v.duration_ms(), v);
    }

    /// The score of each evaluation drawn for the trace, by evaluation name and label.
    fn record_evaluations(&mut self, tenant: u32, plan: &Plan, trace: &Trace) {
        let evaluations = &plan.evaluations;
        for record in &trace.evaluations {
            let Some(span) = trace.spans.get(record.span as usize) else {
                continue;
            };
            let v = SpanView {
                plan,
                trace,
                span,
                index: record.span,
            };
            let e = &evaluations.all[record.evaluation as usize];
            self.start(tenant);
            self.value(
                &v,
                evaluations.keys.name,
                Some(AttrValue::Str(e.name)),
                None,
            );
            self.word(&v, evaluations.keys.label, e.label(record.score));
            self.observe(Id::EvaluationScore, tenant, record.score, &v);
        }
    }

    fn record_span(&mut self, tenant: u32, v: &SpanView) {
        let k = v.keys();
        match conventions::of(v.span.span_type).signals {
            None => {}
            Some(Signals::Turn) => {
                self.start(tenant);
                self.label(v, k.route, Some(k.default_route));
                self.word(v, k.turn_status_code, v.status_code());
                self.add(Id::TurnCount, tenant, 1);
                self.observe(Id::TurnDuration, tenant, v.duration_ms(), v);
            }
            Some(Signals::ToolCall) => {
                self.start(tenant);
                self.label(v, k.tool_name, Some(k.unknown_tool));
                self.label(v, k.tool_server_name, Some(k.unknown_server));
                self.word(v, k.tool_status_code, v.status_code());
                self.add(Id::ToolCount, tenant, 1);
                self.observe(Id::ToolLatency, tenant, v.duration_ms(), v);
                self.start(tenant);
                self.label(v, k.mcp_method, Some(k.tools_call));
                self.label(v, k.tool_name, Some(k.unknown_tool));
                self.label(v, k.operation, None);
                self.word(v, k.error_type, v.exception().map(|e| e.0));
                self.observe(Id::McpDuration, tenant, v.duration_s(), v);
            }
            Some(Signals::Inference) => {
                self.start(tenant);
                self.value(v, k.provider, v.provider(), Some(k.unknown));
                self.label(v, k.request_model, Some(k.unknown));
                self.add(Id::LlmCount, tenant, 1);
                self.observe(Id::LlmLatency, tenant, v.duration_ms(), v);
                let input = tokens(v.attr(k.input_tokens));
                let output = tokens(v.attr(k.output_tokens));
                if let Some(n) = input {
                    self.add(Id::LlmTokensInput, tenant, n);
                }
                if let Some(n) = output {
                    self.add(Id::LlmTokensOutput, tenant, n);
                }
                self.genai(tenant, v, &[(self.input, input), (self.output, output)]);
                self.llm(tenant, v, output);
            }
            Some(Signals::Retrieval) => {
                self.start(tenant);
                self.label(v, k.rag_index, Some(k.default_index));
                self.word(v, k.rag_status_code, v.status_code());
                self.add(Id::RagCount, tenant, 1);
                self.observe(Id::RagLatency, tenant, v.duration_ms(), v);
                if let Some(documents) = number(v.attr(k.rag_documents)) {
                    self.start(tenant);
                    self.label(v, k.rag_index, Some(k.default_index));
                    self.observe(Id::RagDocuments, tenant, documents, v);
                }
                self.genai(tenant, v, &[]);
            }
            Some(Signals::AgentCall) => {
                self.start(tenant);
                let target = v.attr(k.a2a_target).or_else(|| v.attr(k.agent_name));
                self.value(v, k.a2a_target, target, Some(k.unknown_agent));
                self.word(v, k.a2a_status_code, v.status_code());
                self.add(Id::A2aCount, tenant, 1);
                self.observe(Id::A2aLatency, tenant, v.duration_ms(), v);
                self.genai(tenant, v, &[]);
            }
            Some(Signals::ControlPlane) => {
                self.start(tenant);
                self.word(v, k.cp_status_code, v.status_code());
                self.add(Id::CpCount, tenant, 1);
                self.observe(Id::CpDuration, tenant, v.duration_ms(), v);
            }
        }
    }

    /// `gen_ai.client.operation.duration`, and `gen_ai.client.token.usage` for each
    /// `(token type, count)` the span has, with the conventions' attributes.
    fn genai(&mut self, tenant: u32, v: &SpanView, tokens: &[(u32, Option<i64>)]) {
        debug_assert!(is_genai_client_operation(v.span.span_type));
        let k = v.keys();
        self.start(tenant);
        self.label(v, k.operation, None);
        self.value(v, k.provider, v.provider(), None);
        self.label(v, k.request_model, None);
        self.label(v, k.response_model, None);
        self.label(v, k.server_address, None);
        self.label(v, k.server_port, None);
        let common = self.labels.len();
        self.word(v, k.error_type, v.exception().map(|e| e.0));
        self.observe(Id::GenAiDuration, tenant, v.duration_s(), v);
        self.labels.truncate(common);
        for &(token_type, count) in tokens {
            if let Some(count) = count {
                self.labels
                    .push((self.token_type_key, Label::Str(token_type)));
                self.observe(Id::GenAiTokens, tenant, count as f64, v);
                self.labels.truncate(common);
            }
        }
    }

    /// What only LLM calls with an `llm:` block report, read off the span: the streaming chunk
    /// histograms (the TTFT is the span's `gen_ai.response.time_to_first_chunk`; the chunks after
    /// it share the rest of the span evenly) and the cost counter per model.
    fn llm(&mut self, tenant: u32, v: &SpanView, output: Option<i64>) {
        let k = v.keys();
        if let Some(ttft) = number(v.attr(k.ttft)) {
            self.start(tenant);
            self.label(v, k.operation, None);
            self.value(v, k.provider, v.provider(), None);
            self.label(v, k.request_model, None);
            self.label(v, k.response_model, None);
            self.label(v, k.server_address, None);
            self.label(v, k.server_port, None);
            self.observe(Id::GenAiTimeToFirstChunk, tenant, ttft, v);
            let chunks = output.unwrap_or(0) - 1;
            if chunks > 0 {
                let per_chunk = (v.duration_s() - ttft).max(0.0) / chunks as f64;
                self.observe_n(
                    Id::GenAiTimePerOutputChunk,
                    tenant,
                    per_chunk,
                    chunks as u64,
                    v,
                );
            }
        }
        if let Some(cost) = number(v.attr(k.cost)) {
            self.start(tenant);
            self.label(v, k.request_model, Some(k.unknown));
            self.value(v, k.provider, v.provider(), Some(k.unknown));
            let series = self.series_for(Id::LlmCost, tenant);
            if let Data::DoubleSum(total) = &mut series.data {
                *total += (cost * DOUBLE_SUM_UNITS).round() as i128;
            }
            series.fresh = true;
        }
    }

    /// Starts the labels of a measurement with `tenant.id`.
    fn start(&mut self, tenant: u32) {
        self.labels.clear();
        self.labels.push((self.tenant_key, Label::Str(tenant)));
    }

    /// Adds label `key` with the span's value, else `fallback`, else nothing.
    fn label(&mut self, v: &SpanView, key: Sym, fallback: Option<Sym>) {
        self.value(v, key, v.attr(key), fallback);
    }

    /// Adds label `key` with `value` if it is bounded, else `fallback`, else nothing.
    fn value(&mut self, v: &SpanView, key: Sym, value: Option<AttrValue>, fallback: Option<Sym>) {
        let label = match value {
            Some(AttrValue::Str(s)) => Some(Label::Str(self.strings.id(v.plan.str(s)))),
            Some(AttrValue::Int(i)) => Some(Label::Int(i)),
            Some(AttrValue::Bool(b)) => Some(Label::Bool(b)),
            // Per-trace texts, doubles and structured values would make unbounded series.
            _ => None,
        }
        .or_else(|| fallback.map(|f| Label::Str(self.strings.id(v.plan.str(f)))));
        if let Some(label) = label {
            let key = self.strings.id(v.plan.str(key));
            self.labels.push((key, label));
        }
    }

    /// Adds label `key` with the word `value`, if any.
    fn word(&mut self, v: &SpanView, key: Sym, value: Option<Sym>) {
        if let Some(value) = value {
            self.value(v, key, Some(AttrValue::Str(value)), None);
        }
    }

    fn add(&mut self, id: Id, tenant: u32, n: i64) {
        let series = self.series_for(id, tenant);
        if let Data::Sum(total) = &mut series.data {
            *total += n;
        }
        series.fresh = true;
    }

    fn observe(&mut self, id: Id, tenant: u32, value: f64, v: &SpanView) {
        self.observe_n(id, tenant, value, 1, v);
    }

    fn observe_n(&mut self, id: Id, tenant: u32, value: f64, n: u64, v: &SpanView) {
        let InstrumentKind::Histogram(bounds) = self.instruments[id as usize].kind else {
            return;
        };
        let exemplar = Exemplar {
            value,
            time_ns: v.span.end_ns,
            trace_id: v.trace.trace_id,
            span_id: v.span.span_id,
        };
        let series = self.series_for(id, tenant);
        if let Data::Histogram(buckets) = &mut series.data {
            buckets.observe_n(bounds, value, n, exemplar);
        }
        series.fresh = true;
    }

    /// The series of instrument `id` with the current labels, created on first use.
    fn series_for(&mut self, id: Id, tenant: u32) -> &mut Series {
        self.key.clear();
        self.key
            .extend([id as u64, tenant as u64, self.resource as u64]);
        for (key, label) in &self.labels {
            self.key.push(*key as u64);
            self.key.extend(label.words());
        }
        if let Some(&i) = self.index.get(self.key.as_slice()) {
            return &mut self.series[i as usize];
        }
        let used = self
            .cardinality
            .entry((id, tenant, self.resource))
            .or_default();
        if *used >= CARDINALITY_LIMIT {
            self.labels.clear();
            self.labels.push((self.tenant_key, Label::Str(tenant)));
            self.labels.push((self.overflow_key, Label::Bool(true)));
            self.key.truncate(3);
            for (key, label) in &self.labels {
                self.key.push(*key as u64);
                self.key.extend(label.words());
            }
            if let Some(&i) = self.index.get(self.key.as_slice()) {
                return &mut self.series[i as usize];
            }
        } else {
            *used += 1;
        }
        let data = match self.instruments[id as usize].kind {
            InstrumentKind::Counter => Data::Sum(0),
            InstrumentKind::DoubleCounter => Data::DoubleSum(0),
            InstrumentKind::Histogram(bounds) => Data::Histogram(Buckets::new(bounds)),
        };
        let i = self.series.len() as u32;
        self.index.insert(self.key.as_slice().into(), i);
        self.series.push(Series {
            instrument: id,
            tenant,
            resource: self.resource,
            labels: self.labels.as_slice().into(),
            data,
            fresh: false,
        });
        &mut self.series[i as usize]
    }

    /// The points to export at `now_ns`; `None` when there are none. Delta temporality resets
    /// what it reports; both reset the exemplars.
    pub fn collect(&mut self, now_ns: u64) -> Option<MetricsExport> {
        let delta = self.temporality == Temporality::Delta;
        let start_ns = if delta {
            self.interval_start_ns
        } else {
            self.run_start_ns
        };
        self.interval_start_ns = now_ns;
        let mut tenants: Vec<TenantMetrics> = Vec::new();
        let mut points = 0;
        let mut order: Vec<usize> = (0..self.series.len())
            .filter(|&i| !delta || self.series[i].fresh)
            .collect();
        order.sort_by_key(|&i| {
            let s = &self.series[i];
            (s.tenant, s.resource, s.instrument)
        });
        for i in order {
            let series = &mut self.series[i];
            let tenant = self.strings.str(series.tenant);
            let resource = match series.resource {
                0 => None,
                r => Some(&self.resources[r as usize - 1]),
            };
            if tenants
                .last()
                .is_none_or(|t| t.tenant != tenant || t.resource.as_ref() != resource)
            {
                tenants.push(TenantMetrics {
                    tenant: tenant.to_string(),
                    metrics: Vec::new(),
                    resource: resource.cloned(),
                });
            }
            let metrics = &mut tenants.last_mut().expect("pushed above").metrics;
            let instrument = &self.instruments[series.instrument as usize];
            if metrics
                .last()
                .is_none_or(|m| m.instrument.name != instrument.name)
            {
                metrics.push(MetricPoints {
                    instrument: instrument.clone(),
                    points: Vec::new(),
                });
            }
            let attributes = series
                .labels
                .iter()
                .map(|(key, label)| {
                    let value = match *label {
                        Label::Str(s) => MetricValue::Str(self.strings.str(s).to_string()),
                        Label::Int(i) => MetricValue::Int(i),
                        Label::Bool(b) => MetricValue::Bool(b),
                    };
                    (self.strings.str(*key).to_string(), value)
                })
                .collect();
            let data = take_point(&mut series.data, delta);
            series.fresh = false;
            metrics
                .last_mut()
                .expect("pushed above")
                .points
                .push(Point { attributes, data });
            points += 1;
        }
        (points > 0).then_some(MetricsExport {
            temporality: self.temporality,
            start_ns,
            time_ns: now_ns,
            tenants,
            points,
        })
    }
}

/// Units per 1 of a [`Data::DoubleSum`]: 1e-12 (a picodollar), far below any price's precision.
const DOUBLE_SUM_UNITS: f64 = 1e12;

/// A series' point as collected: its value, reset for the next interval under delta temporality.
fn take_point(data: &mut Data, delta: bool) -> PointData {
    match data {
        Data::Sum(total) => {
            let point = PointData::Sum(*total);
            if delta {
                *total = 0;
            }
            point
        }
        Data::DoubleSum(total) => {
            let point = PointData::DoubleSum(*total as f64 / DOUBLE_SUM_UNITS);
            if delta {
                *total = 0;
            }
            point
        }
        Data::Histogram(b) => {
            let point = PointData::Histogram(HistogramPoint {
                bucket_counts: b.counts.clone(),
                count: b.count,
                sum: b.sum,
                min: b.min,
                max: b.max,
                exemplars: b.exemplars.iter().flatten().copied().collect(),
            });
            b.exemplars.iter_mut().for_each(|e| *e = None);
            if delta {
                b.reset();
            }
            point
        }
    }
}

/// A span kind as the span-metrics connector writes it.
fn span_kind_name(kind: crate::value::SpanKind) -> &'static str {
    use crate::value::SpanKind;
    match kind {
        SpanKind::Internal => "SPAN_KIND_INTERNAL",
        SpanKind::Server => "SPAN_KIND_SERVER",
        SpanKind::Client => "SPAN_KIND_CLIENT",
        SpanKind::Producer => "SPAN_KIND_PRODUCER",
        SpanKind::Consumer => "SPAN_KIND_CONSUMER",
    }
}

/// A token count attribute as an integer.
fn tokens(value: Option<AttrValue>) -> Option<i64> {
    number(value).map(|x| x.round() as i64)
}

fn number(value: Option<AttrValue>) -> Option<f64> {
    match value? {
        AttrValue::Int(i) => Some(i as f64),
        AttrValue::Double(d) if d.is_finite() => Some(d),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instruments_are_indexed_by_their_id() {
        let all = instruments("p");
        let name = |id: Id| all[id as usize].name.as_str();
        assert_eq!(all.len(), Id::EvaluationScore as usize + 1);
        assert_eq!(name(Id::McpDuration), "mcp.client.operation.duration");
        assert_eq!(name(Id::SpanCalls), SPAN_CALLS);
        assert_eq!(name(Id::SpanDuration), SPAN_DURATION);
        assert_eq!(
            name(Id::GenAiTimeToFirstChunk),
            "gen_ai.client.operation.time_to_first_chunk"
        );
        assert_eq!(name(Id::LlmCost), "p.llm.cost");
        assert_eq!(name(Id::EvaluationScore), "gen_ai.evaluation.score");
    }
    use crate::generate::testing;
    use crate::scenario::SpanType;
    use std::collections::BTreeMap;

    /// (tenant, metric, attributes) → sum, or (count, sum) for histograms.
    type Totals = BTreeMap<(String, String, String), (u64, f64)>;

    fn totals(exports: &[MetricsExport]) -> Totals {
        let mut out = Totals::new();
        for export in exports {
            for tenant in &export.tenants {
                for metric in &tenant.metrics {
                    for point in &metric.points {
                        let key = (
                            tenant.tenant.clone(),
                            metric.instrument.name.clone(),
                            format!("{:?}", point.attributes),
                        );
                        let (count, sum) = match &point.data {
                            PointData::Sum(n) => (0, *n as f64),
                            PointData::DoubleSum(x) => (0, *x),
                            PointData::Histogram(h) => (h.count, h.sum),
                        };
                        let total = out.entry(key).or_default();
                        total.0 += count;
                        total.1 += sum;
                    }
                }
            }
        }
        out
    }

    /// Totals per metric name, over every tenant and attribute set.
    fn by_name(totals: &Totals) -> BTreeMap<String, (u64, f64)> {
        let mut out: BTreeMap<String, (u64, f64)> = BTreeMap::new();
        for ((_, name, _), (count, sum)) in totals {
            let total = out.entry(name.clone()).or_default();
            total.0 += count;
            total.1 += sum;
        }
        out
    }

    fn spans_of<'a>(
        traces: &'a [Trace],
        types: &'a [SpanType],
    ) -> impl Iterator<Item = (&'a Trace, &'a crate::generate::SpanRecord)> {
        traces.iter().flat_map(move |t| {
            t.spans
                .iter()
                // A call's SERVER span is the callee's: the agent instruments count its client.
                .filter(|s| types.contains(&s.span_type) && !s.server)
                .map(move |s| (t, s))
        })
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
    }

    #[test]
    fn histogram_buckets_hold_values_up_to_and_including_their_bound() {
        let bounds = [1.0, 2.0];
        let mut b = Buckets::new(&bounds);
        let e = Exemplar {
            value: 0.0,
            time_ns: 0,
            trace_id: [1; 16],
            span_id: [1; 8],
        };
        for v in [0.0, 1.0, 1.5, 2.0, 2.5] {
            b.observe_n(&bounds, v, 1, e);
        }
        assert_eq!(b.counts, [2, 2, 1]);
        assert_eq!((b.count, b.sum, b.min, b.max), (5, 7.0, 0.0, 2.5));
    }

    #[test]
    fn the_cost_counter_is_the_same_whatever_order_the_traces_are_recorded_in() {
        let plan = testing::bundled("streaming_assistant");
        let traces = testing::traces(&plan, 4, 400);
        let cost = |order: &mut dyn Iterator<Item = &Trace>| {
            let mut agg = Aggregator::new("vendor", Temporality::Cumulative, 0);
            for trace in order {
                agg.record(&plan, trace);
            }
            let export = agg.collect(u64::MAX).expect("points");
            let mut points: Vec<String> = export
                .tenants
                .iter()
                .flat_map(|t| &t.metrics)
                .filter(|m| m.instrument.name == "vendor.llm.cost")
                .flat_map(|m| {
                    m.points
                        .iter()
                        .map(|p| format!("{:?} {:?}", p.attributes, p.data))
                })
                .collect();
            assert!(!points.is_empty());
            points.sort();
            points
        };
        assert_eq!(cost(&mut traces.iter()), cost(&mut traces.iter().rev()));
    }

    #[test]
    fn every_bundled_scenario_gets_metrics_that_add_up_to_its_spans() {
        for (name, _) in crate::scenario::BUNDLED {
            let plan = testing::bundled(name);
            let traces = testing::traces(&plan, 5, 150);
            let mut agg = Aggregator::new("vendor", Temporality::Cumulative, 0);
            for trace in &traces {
                agg.record(&plan, trace);
            }
            let export = agg.collect(u64::MAX);
            let names = by_name(&totals(export.as_slice()));
            let get = |m: &str| names.get(m).copied().unwrap_or_default();
            let count = |types: &[SpanType]| spans_of(&traces, types).count() as u64;
            let ms = |types: &[SpanType]| {
                spans_of(&traces, types)
                    .map(|(_, s)| s.duration_ns() as f64 / 1e6)
                    .sum::<f64>()
            };
            use SpanType::*;
            for (counter, histogram, types) in [
                (
                    "vendor.turn.count",
                    "vendor.turn.duration_ms",
                    [A2aOrchestrate],
                ),
                (
                    "vendor.tool.count",
                    "vendor.tool.latency_ms",
                    [McpToolExecute],
                ),
                ("vendor.llm.count", "vendor.llm.latency_ms", [LlmCall]),
                ("vendor.rag.count", "vendor.rag.latency_ms", [RagRetrieve]),
                ("vendor.a2a.count", "vendor.a2a.latency_ms", [A2aCall]),
                (
                    "vendor.cp.request.count",
                    "vendor.cp.request.duration_ms",
                    [CpRequest],
                ),
            ] {
                let n = count(&types);
                assert_eq!(get(counter).1, n as f64, "{name}: {counter}");
                assert_eq!(get(histogram).0, n, "{name}: {histogram}");
                assert!(close(get(histogram).1, ms(&types)), "{name}: {histogram}");
            }
            let genai = [LlmCall, RagRetrieve, A2aCall];
            assert_eq!(get("gen_ai.client.operation.duration").0, count(&genai));
            assert!(close(
                get("gen_ai.client.operation.duration").1,
                ms(&genai) / 1e3
            ));
            assert_eq!(
                get("mcp.client.operation.duration").0,
                count(&[McpToolExecute])
            );
            let tokens: f64 = spans_of(&traces, &[LlmCall])
                .flat_map(|(t, s)| t.attrs_of(s))
                .filter(|a| {
                    ["gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"]
                        .contains(&plan.str(a.key))
                })
                .map(|a| match a.value {
                    AttrValue::Int(i) => i as f64,
                    other => panic!("token count {other:?}"),
                })
                .sum();
            assert_eq!(
                get("vendor.llm.tokens.input").1 + get("vendor.llm.tokens.output").1,
                tokens,
                "{name}"
            );
            assert_eq!(get("gen_ai.client.token.usage").1, tokens, "{name}");
        }
    }

    #[test]
    fn delta_collections_add_up_to_the_cumulative_totals() {
        let plan = testing::bundled("example_scenario");
        let traces = testing::traces(&plan, 9, 300);
        let mut cumulative = Aggregator::new("vendor", Temporality::Cumulative, 10);
        let mut delta = Aggregator::new("vendor", Temporality::Delta, 10);
        let mut deltas = Vec::new();
        for (i, trace) in traces.iter().enumerate() {
            cumulative.record(&plan, trace);
            delta.record(&plan, trace);
            if i % 37 == 0 {
                deltas.extend(delta.collect(100 + i as u64));
                // Nothing measured since: nothing to report.
                assert_eq!(delta.collect(100 + i as u64), None);
            }
        }
        deltas.extend(delta.collect(1000));
        assert!(deltas.len() > 5);
        for pair in deltas.windows(2) {
            assert_eq!(
                pair[1].start_ns, pair[0].time_ns,
                "delta windows are contiguous"
            );
        }
        assert_eq!(deltas[0].start_ns, 10);
        let final_cumulative = cumulative.collect(1000).unwrap();
        assert_eq!(final_cumulative.start_ns, 10);
        let (a, b) = (totals(&deltas), totals(&[final_cumulative]));
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "the same series"
        );
        for (key, (count, sum)) in &a {
            let (c, s) = b[key];
            assert_eq!(*count, c, "{key:?}");
            assert!(close(*sum, s), "{key:?}: {sum} vs {s}");
        }
    }

    #[test]
    fn exemplars_point_at_the_spans_measured_since_the_last_collection() {
        let plan = testing::bundled("successful_agent_turn");
        let traces = testing::traces(&plan, 2, 50);
        let mut agg = Aggregator::new("vendor", Temporality::Cumulative, 0);
        for trace in &traces {
            agg.record(&plan, trace);
        }
        let export = agg.collect(1).unwrap();
        let mut seen = 0;
        for metric in export.tenants.iter().flat_map(|t| &t.metrics) {
            for point in &metric.points {
                let PointData::Histogram(h) = &point.data else {
                    continue;
                };
                assert!(!h.exemplars.is_empty() && h.exemplars.len() as u64 <= h.count);
                for e in &h.exemplars {
                    let trace = traces.iter().find(|t| t.trace_id == e.trace_id).unwrap();
                    let span = trace.spans.iter().find(|s| s.span_id == e.span_id).unwrap();
                    assert_eq!(e.time_ns, span.end_ns);
                    seen += 1;
                }
            }
        }
        assert!(seen > 0);
        // Cumulative points are reported again, but their exemplars were for the last interval.
        let again = agg.collect(2).unwrap();
        assert_eq!(again.points, export.points);
        assert!(again.tenants.iter().flat_map(|t| &t.metrics).all(|m| {
            m.points.iter().all(|p| match &p.data {
                PointData::Histogram(h) => h.exemplars.is_empty(),
                PointData::Sum(_) | PointData::DoubleSum(_) => true,
            })
        }));
    }

    #[test]
    fn unbounded_values_fold_into_the_overflow_series() {
        let plan = testing::plan(
            "name: wide\nroot:\n  type: vendor.a2a.orchestrate\n  children:\n    - type: vendor.mcp.tool.execute\n      error: {rate: 0}\n      attributes:\n        vendor.tool.server.name: {distribution: poisson, lambda: 1000000000}\n",
        );
        let traces = testing::traces(&plan, 1, 6000);
        let mut agg = Aggregator::new("vendor", Temporality::Cumulative, 0);
        for trace in &traces {
            agg.record(&plan, trace);
        }
        let export = agg.collect(1).unwrap();
        for tenant in &export.tenants {
            let tools = tenant
                .metrics
                .iter()
                .find(|m| m.instrument.name == "vendor.tool.count")
                .unwrap();
            assert_eq!(tools.points.len(), CARDINALITY_LIMIT + 1);
            let overflow = tools.points.last().unwrap();
            assert!(
                overflow
                    .attributes
                    .contains(&("otel.metric.overflow".to_string(), MetricValue::Bool(true)))
            );
        }
        let calls = spans_of(&traces, &[SpanType::McpToolExecute]).count();
        let names = by_name(&totals(&[export]));
        assert_eq!(
            names["vendor.tool.count"].1, calls as f64,
            "nothing is lost"
        );
    }
}
