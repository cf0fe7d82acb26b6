//! Trace synthesis: one iteration of a scenario drawn from its own random stream.
//!
//! Each iteration's stream is seeded from the run seed and the iteration's index alone, so the
//! same seed gives the same telemetry whatever the number of workers or shards, and any single
//! trace can be regenerated on its own. Timestamps are laid out from the sampled durations, never
//! by sleeping: children sit one after another inside their parent, with the parent's spare time
//! spread evenly around them (or start together under `parallel`, see `generic.rs`); a parent
//! shorter than its children stretches to contain them; retry backoff is a real gap between
//! attempts. The iteration ends at the instant it is given, so
//! nothing arrives from the future and nothing waits in memory for its end.
//!
//! Records are small and `Copy`-heavy, written into buffers the caller reuses; turning them into
//! OTLP is the encoder's business, so this module never sees a protobuf type.

use super::content::{Conversation, SpanFacts};
use super::evaluation::EvaluationRecord;
use super::generic::{self, LinkRecord};
use super::plan::{AttrPlan, CountPlan, Plan, PlanNode};
use super::profile::mcp_session_bytes;
use super::sampler::Draw;
use super::session::{Turn, TurnTokens};
use super::symbols::{Attr, AttrValue, Generated, NodeId, Sym};
use crate::conventions::SpanKind;
use crate::scenario::timing::MAX_TRACE_DURATION_MS;
use crate::scenario::{Literal, Retry, SpanType};
use rand::{Rng, RngExt, SeedableRng};
use rand_distr::Distribution as _;
use rand_pcg::Pcg64Mcg;
use std::sync::atomic::{AtomicBool, Ordering};

mod calls;
mod failures;

/// One generated span.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanRecord {
    /// The plan node the span was drawn from.
    pub node: NodeId,
    /// An MCP attempt span (drawn from its tool step's node).
    pub attempt: bool,
    pub span_type: SpanType,
    pub kind: SpanKind,
    pub name: Sym,
    pub span_id: [u8; 8],
    /// Index of the parent in [`Trace::spans`]; `None` for the root.
    pub parent: Option<u32>,
    pub start_ns: u64,
    pub end_ns: u64,
    /// Error type and status message, when the span failed.
    pub error: Option<(Sym, Sym)>,
    /// This span's attributes: `Trace::attrs[attrs.0 .. attrs.1]`.
    pub attrs: (u32, u32),
    /// The SERVER span of a call (`remote:`), drawn from its client's node.
    pub server: bool,
    /// The resource the span goes out under: an index into the plan's
    /// [`super::services::ServiceTable::resources`] (0, the run's own, without services).
    pub resource: u32,
    /// This span's links: `Trace::links[links.0 .. links.1]`.
    pub links: (u32, u32),
}

impl SpanRecord {
    pub fn duration_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }
}

/// An attribute value as text, for people: `--show-full-spans`, log bodies.
pub struct ValueDisplay<'a> {
    pub plan: &'a Plan,
    pub trace: &'a Trace,
    pub value: AttrValue,
}

impl std::fmt::Display for ValueDisplay<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.value {
            AttrValue::Str(s) => f.write_str(self.plan.str(s)),
            AttrValue::Text { start, len } => f.write_str(self.trace.text(start, len)),
            AttrValue::Int(i) => write!(f, "{i}"),
            AttrValue::Double(d) => write!(f, "{d}"),
            AttrValue::Bool(b) => write!(f, "{b}"),
            AttrValue::Literal(id) => literal(f, self.plan.literal(id)),
        }
    }
}

fn literal(f: &mut std::fmt::Formatter<'_>, l: &Literal) -> std::fmt::Result {
    match l {
        Literal::Str(s) => f.write_str(s),
        Literal::Int(i) => write!(f, "{i}"),
        Literal::Float(x) => write!(f, "{x}"),
        Literal::Bool(b) => write!(f, "{b}"),
        Literal::List(items) => {
            f.write_str("[")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                literal(f, item)?;
            }
            f.write_str("]")
        }
        Literal::Map(entries) => {
            f.write_str("{")?;
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{k}: ")?;
                literal(f, v)?;
            }
            f.write_str("}")
        }
    }
}

/// One trace: spans in creation order (every parent before its children).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace {
    pub trace_id: [u8; 16],
    /// Index into the plan's tenants.
    pub tenant: u32,
    /// The index of the run's iteration the trace belongs to.
    pub iteration: u64,
    pub spans: Vec<SpanRecord>,
    pub attrs: Vec<Attr>,
    text: String,
    /// Every span's links, in span order.
    pub links: Vec<LinkRecord>,
    /// The evaluations drawn for its spans (`evaluations:`), in span order.
    pub evaluations: Vec<EvaluationRecord>,
}

impl Trace {
    pub fn attrs_of(&self, span: &SpanRecord) -> &[Attr] {
        &self.attrs[span.attrs.0 as usize..span.attrs.1 as usize]
    }

    pub fn links_of(&self, span: &SpanRecord) -> &[LinkRecord] {
        &self.links[span.links.0 as usize..span.links.1 as usize]
    }

    /// The text of an [`AttrValue::Text`].
    pub fn text(&self, start: u32, len: u32) -> &str {
        &self.text[start as usize..(start + len) as usize]
    }

    fn clear(&mut self) {
        self.spans.clear();
        self.attrs.clear();
        self.text.clear();
        self.links.clear();
        self.evaluations.clear();
    }
}

/// The random stream of iteration `index` of a run seeded with `seed`.
pub fn iteration_rng(seed: u64, index: u64) -> Pcg64Mcg {
    Pcg64Mcg::seed_from_u64(splitmix64(
        seed ^ splitmix64(index.wrapping_add(0x9E37_79B9_7F4A_7C15)),
    ))
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What one iteration produced: usually one trace; a root step with `retry` gives one trace per
/// attempt, as in the original.
#[derive(Default)]
pub struct Iteration {
    pub traces: Vec<Trace>,
    len: usize,
}

impl Iteration {
    pub fn traces(&self) -> &[Trace] {
        &self.traces[..self.len]
    }

    /// Moves every span of the iteration later by `ns` (to keep history inside its window).
    pub fn delay(&mut self, ns: u64) {
        for trace in &mut self.traces[..self.len] {
            for span in &mut trace.spans {
                span.start_ns = span.start_ns.saturating_add(ns);
                span.end_ns = span.end_ns.saturating_add(ns);
            }
        }
    }

    /// Moves every span of the iteration earlier by `ns`.
    pub fn advance(&mut self, ns: u64) {
        for trace in &mut self.traces[..self.len] {
            for span in &mut trace.spans {
                span.start_ns = span.start_ns.saturating_sub(ns);
                span.end_ns = span.end_ns.saturating_sub(ns);
            }
        }
    }

    /// The latest span end of the iteration.
    pub fn latest_end(&self) -> Option<u64> {
        self.traces()
            .iter()
            .flat_map(|t| t.spans.iter().map(|s| s.end_ns))
            .max()
    }

    /// The earliest span start of the iteration.
    pub fn earliest_start(&self) -> Option<u64> {
        self.traces()
            .iter()
            .flat_map(|t| t.spans.iter().map(|s| s.start_ns))
            .min()
    }

    fn next_trace(&mut self) -> &mut Trace {
        if self.len == self.traces.len() {
            self.traces.push(Trace::default());
        }
        self.len += 1;
        let trace = &mut self.traces[self.len - 1];
        trace.clear();
        trace
    }
}

/// Generates iteration `index` of `plan`, ending at `end_unix_ns`, for tenant `tenant`
/// (an index into the plan's tenants), into `out` (whose buffers are reused).
pub fn generate(
    plan: &Plan,
    seed: u64,
    index: u64,
    tenant: u32,
    end_unix_ns: u64,
    out: &mut Iteration,
) {
    generate_with(plan, seed, index, tenant, end_unix_ns, None, out);
}

/// Generates one turn of a session (`turn`), as [`generate`] an iteration: the session's ids on
/// every span, its LLM calls' input tokens grown by the history. Returns what its LLM calls drew.
pub fn generate_turn(
    plan: &Plan,
    (seed, index): (u64, u64),
    tenant: u32,
    end_unix_ns: u64,
    turn: &Turn,
    out: &mut Iteration,
) -> TurnTokens {
    generate_with(plan, seed, index, tenant, end_unix_ns, Some(turn), out)
}

fn generate_with(
    plan: &Plan,
    seed: u64,
    index: u64,
    tenant: u32,
    end_unix_ns: u64,
    turn: Option<&Turn>,
    out: &mut Iteration,
) -> TurnTokens {
    out.len = 0;
    let mut rng = iteration_rng(seed, index);
    let root = plan.node(plan.root());
    let attempts = match (&root.retry, root.span_type) {
        (Some(retry), t) if t != SpanType::McpToolExecute => {
            attempts(&mut rng, root, retry, false, false)
        }
        _ => Vec::new(),
    };
    // A plan whose traces are linked to names each iteration's root with ids its successor
    // can compute (the last trace of a retried root).
    let ids = RootIds {
        own: plan.anchored.then(|| generic::anchor(seed, index)),
        previous: (plan.anchored && index > 0).then(|| generic::anchor(seed, index - 1)),
    };
    if attempts.is_empty() {
        let trace = out.next_trace();
        let mut b = Builder::new(plan, &mut rng, trace, tenant, index, ids, turn);
        let block = b.block(plan.root(), None, false, false);
        return b.finish(block.items[0].0, end_unix_ns);
    }
    let mut tokens = TurnTokens::default();
    // Each attempt of a retried root is its own trace, one after another with the backoff
    // between them; the last one ends at `end_unix_ns`.
    let mut ends = vec![0u64; attempts.len()];
    let mut end = end_unix_ns;
    let mut durations = Vec::with_capacity(attempts.len());
    for (k, attempt) in attempts.iter().enumerate() {
        let trace = out.next_trace();
        let ids = RootIds {
            own: ids.own.filter(|_| k + 1 == attempts.len()),
            ..ids
        };
        let mut b = Builder::new(plan, &mut rng, trace, tenant, index, ids, turn);
        let block = b.single(plan.root(), None, k as u32 + 1, *attempt);
        durations.push(block.duration);
        let drawn = b.finish(block.items[0].0, block.duration);
        tokens.fresh_input += drawn.fresh_input;
        tokens.output += drawn.output;
        tokens.summarized |= drawn.summarized;
    }
    for k in (0..attempts.len()).rev() {
        ends[k] = end;
        let backoff_before = if k > 0 { attempts[k - 1].backoff_ns } else { 0 };
        end = end.saturating_sub(durations[k].saturating_add(backoff_before));
    }
    for (trace, end) in out.traces[..attempts.len()].iter_mut().zip(ends) {
        let root_end = trace.spans[0].end_ns;
        let delta = end.saturating_sub(root_end);
        for span in &mut trace.spans {
            span.start_ns = span.start_ns.saturating_add(delta);
            span.end_ns = span.end_ns.saturating_add(delta);
        }
    }
    tokens
}

/// The ids of an iteration's root and of its predecessor's, when the plan is anchored.
#[derive(Clone, Copy, Debug, Default)]
struct RootIds {
    own: Option<([u8; 16], [u8; 8])>,
    previous: Option<([u8; 16], [u8; 8])>,
}

/// One attempt of a retried step.
#[derive(Clone, Copy, Debug)]
struct Attempt {
    error: Option<usize>,
    /// Gap after this attempt, before the next one.
    backoff_ns: u64,
}

/// Draws the outcomes of a retry sequence.
fn attempts<R: Rng>(
    rng: &mut R,
    node: &PlanNode,
    retry: &Retry,
    parent_errored: bool,
    sibling_errored: bool,
) -> Vec<Attempt> {
    let mut out = Vec::new();
    for k in 1..=retry.max_attempts {
        let failed = if k == 1 {
            retry.force_initial_failure || errs(rng, node, parent_errored, sibling_errored)
        } else {
            rng.random::<f64>() >= retry.success_rate(k)
        };
        if !failed {
            out.push(Attempt {
                error: None,
                backoff_ns: 0,
            });
            break;
        }
        // A forced first failure is the one the scenario means to see retried: its type is one
        // of the retryable ones (when the step has any).
        let kind = match &node.error.pick_retryable {
            Some(retryable) if k == 1 && retry.force_initial_failure => retryable.sample(rng),
            _ => node.error.pick.sample(rng),
        };
        let last = k == retry.max_attempts || !node.error.retryable[kind];
        let backoff_ns = if last {
            0
        } else {
            let jitter = retry.backoff_jitter * (2.0 * rng.random::<f64>() - 1.0);
            let ms = retry.backoff_base_ms
                * retry.backoff_multiplier.powi(k as i32 - 1)
                * (1.0 + jitter);
            ms_to_ns(ms)
        };
        out.push(Attempt {
            error: Some(kind),
            backoff_ns,
        });
        if last {
            break;
        }
    }
    out
}

/// Whether a span fails, given its parent's and earlier siblings' outcomes.
fn errs<R: Rng>(rng: &mut R, node: &PlanNode, parent_errored: bool, sibling_errored: bool) -> bool {
    if let Some(p) = &node.error.propagation {
        if parent_errored && rng.random::<f64>() < p.from_parent {
            return true;
        }
        if sibling_errored && rng.random::<f64>() < p.cascade_to_siblings {
            return true;
        }
    }
    rng.random::<f64>() < node.error.rate
}

/// The longest any one span or backoff is drawn: the scenario's limit for a whole trace, which
/// `validate` checks the means against; only a distribution's far tail is ever cut.
const MAX_DURATION_NS: u64 = (MAX_TRACE_DURATION_MS * 1e6) as u64;

/// Set once a drawn duration has been cut to [`MAX_DURATION_NS`], so the warning is given once
/// per process, not per span.
static CLAMPED: AtomicBool = AtomicBool::new(false);

/// A drawn duration in ms as whole ns: negative and NaN draws last 0 ns, and anything beyond
/// [`MAX_DURATION_NS`] is cut to it (with one warning), so the sums of the layout never come
/// near `u64::MAX` and a span never ends before it starts.
fn ms_to_ns(ms: f64) -> u64 {
    if ms.is_nan() || ms <= 0.0 {
        return 0;
    }
    let ns = ms * 1e6;
    if ns > MAX_DURATION_NS as f64 {
        if !CLAMPED.swap(true, Ordering::Relaxed) {
            eprintln!(
                "warning: a drawn latency or backoff exceeded one day and was cut to one day \
                 (later cuts are not reported); check the scenario's latency distributions"
            );
        }
        return MAX_DURATION_NS;
    }
    ns.round() as u64
}

/// A laid-out piece of a parent's timeline: top-level spans with their offsets, and its length.
struct Block {
    items: Vec<(u32, u64)>,
    duration: u64,
    errored: bool,
    /// A content filter stopped an LLM response in it: no later sibling follows.
    ends_turn: bool,
}

struct Builder<'a, R> {
    plan: &'a Plan,
    rng: &'a mut R,
    trace: &'a mut Trace,
    tenant: u32,
    session: AttrValue,
    request: AttrValue,
    trace_hex: AttrValue,
    enduser: AttrValue,
    /// The iteration's index in the run.
    index: u64,
    /// Offset of each span from its parent's start (from the trace start for the root).
    offsets: Vec<u64>,
    /// The trace's story, when the plan has message content.
    conversation: Option<Conversation>,
    /// The duration of the LLM span just pushed, when it comes from its tokens.
    llm_ns: Option<u64>,
    /// The root's fixed ids and the previous trace's, for links.
    ids: RootIds,
    /// The session turn this trace is, if any.
    turn: Option<&'a Turn>,
    /// What the turn's LLM calls drew so far.
    tokens: TurnTokens,
    /// The span being pushed is an LLM call of a turn (its tokens grow), or the summarising one.
    growing: Growing,
}

/// Whether the input tokens of the span being pushed grow with a session's history.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Growing {
    No,
    Call,
    Summary,
}

impl<'a, R: Rng> Builder<'a, R> {
    fn new(
        plan: &'a Plan,
        rng: &'a mut R,
        trace: &'a mut Trace,
        tenant: u32,
        index: u64,
        ids: RootIds,
        turn: Option<&'a Turn>,
    ) -> Self {
        rng.fill(&mut trace.trace_id);
        if trace.trace_id == [0; 16] {
            trace.trace_id[15] = 1;
        }
        if let Some((trace_id, _)) = ids.own {
            trace.trace_id = trace_id;
        }
        trace.tenant = tenant;
        trace.iteration = index;
        let mut b = Builder {
            plan,
            rng,
            trace,
            tenant,
            session: AttrValue::Bool(false),
            request: AttrValue::Bool(false),
            trace_hex: AttrValue::Bool(false),
            enduser: AttrValue::Bool(false),
            index,
            offsets: Vec::new(),
            conversation: None,
            llm_ns: None,
            ids,
            turn,
            tokens: TurnTokens::default(),
            growing: Growing::No,
        };
        b.conversation = plan
            .content
            .as_ref()
            .map(|c| Conversation::new(c, &b.trace.trace_id));
        b.session = b.hex_text("sess_", 6);
        b.request = b.hex_text("req_", 6);
        b.enduser = b.hex_text("usr_sha256:", 8);
        let start = b.trace.text.len() as u32;
        let id = b.trace.trace_id;
        push_hex(&mut b.trace.text, &id);
        b.trace_hex = AttrValue::Text { start, len: 32 };
        if let Some(turn) = turn {
            b.session = b.text(&turn.session_id);
            b.enduser = b.text(&turn.user_id);
        }
        b
    }

    /// `text`, stored in the trace's text.
    fn text(&mut self, text: &str) -> AttrValue {
        let start = self.trace.text.len() as u32;
        self.trace.text.push_str(text);
        AttrValue::Text {
            start,
            len: text.len() as u32,
        }
    }

    /// A random `prefix` + `bytes`·2 hex digits, stored in the trace's text.
    fn hex_text(&mut self, prefix: &str, bytes: usize) -> AttrValue {
        let start = self.trace.text.len() as u32;
        self.trace.text.push_str(prefix);
        let mut raw = [0u8; 16];
        let raw = &mut raw[..bytes.min(16)];
        self.rng.fill(raw);
        push_hex(&mut self.trace.text, raw);
        AttrValue::Text {
            start,
            len: self.trace.text.len() as u32 - start,
        }
    }

    /// The trace's MCP session id: 32 hex digits from its session id (no random draw).
    fn mcp_session(&mut self) -> AttrValue {
        let bytes = match self.session {
            AttrValue::Text { start, len } => mcp_session_bytes(self.trace.text(start, len)),
            AttrValue::Str(s) => mcp_session_bytes(self.plan.str(s)),
            _ => mcp_session_bytes(""),
        };
        let start = self.trace.text.len() as u32;
        push_hex(&mut self.trace.text, &bytes);
        AttrValue::Text { start, len: 32 }
    }

    /// A control-plane request that let the request through names the trace it goes on with,
    /// as the original did: `{prefix}.cp.outgoing_trace_id`, this trace's id (the agent turn
    /// runs inside it), unless the scenario or schema set it or the request failed or was
    /// `BLOCKED`. (The original wrote a random placeholder on blocked requests; none is
    /// clearer.) It is pushed after the planned attributes, where the encoder writes each
    /// value as it comes, because whether it is there depends on the status code just drawn.
    fn forward(&mut self, start: usize, failed: bool) {
        let keys = &self.plan.keys;
        let span = &self.trace.attrs[start..];
        let code = find(span, self.plan.derived.cp_status_code);
        if failed
            || code == Some(AttrValue::Str(keys.blocked))
            || find(span, keys.cp_outgoing_trace_id).is_some()
        {
            return;
        }
        self.trace.attrs.push(Attr {
            key: keys.cp_outgoing_trace_id,
            value: self.trace_hex,
        });
    }

    fn span_id(&mut self) -> [u8; 8] {
        let mut id = [0u8; 8];
        self.rng.fill(&mut id);
        if id == [0; 8] {
            id[7] = 1;
        }
        id
    }

    fn latency_ns(&mut self, node: &PlanNode) -> u64 {
        if let Some(ns) = self.llm_ns.take() {
            return ns;
        }
        ms_to_ns(node.latency.sample_ms(self.rng))
    }

    fn count(&mut self, node: &PlanNode) -> u32 {
        match &node.count {
            CountPlan::Fixed(n) => *n,
            CountPlan::Uniform { min, max } => self.rng.random_range(*min..=*max),
            CountPlan::Distribution { min, max, sampler } => {
                let x = sampler.number(self.rng).round();
                x.clamp(*min as f64, *max as f64) as u32
            }
        }
    }

    /// Pushes a span and its attributes; its times are filled in by the caller.
    fn push_span(
        &mut self,
        id: NodeId,
        attempt: bool,
        parent: Option<u32>,
        error: Option<usize>,
        extra: &[Attr],
    ) -> u32 {
        let node = self.plan.node(id);
        let index = self.trace.spans.len() as u32;
        let mut span_id = self.span_id();
        if let (None, Some((_, root))) = (parent, self.ids.own) {
            span_id = root;
        }
        let start = self.trace.attrs.len();
        let (name, plans) = if attempt {
            (&node.attempt_name, &node.attempt_attrs)
        } else {
            (&node.name, &node.attrs)
        };
        if self.growing == Growing::No
            && self.turn.is_some()
            && node.role == crate::conventions::OpenInferenceKind::Llm
            && !attempt
        {
            self.growing = Growing::Call;
        }
        self.push_attrs(plans, attempt, parent, error.is_some(), start);
        if let (Some(llm), false) = (&node.llm, attempt) {
            self.llm_ns = super::llm::apply(llm, plans, &mut self.trace.attrs, start, self.rng);
        }
        let name = name.pick(&self.trace.attrs[start..]);
        let name = match node.name_by.as_ref().filter(|_| !attempt) {
            Some(by) => generic::drawn_name(by, &self.trace.attrs[start..]).unwrap_or(name),
            None => name,
        };
        if self.growing == Growing::Call {
            self.growing = Growing::No;
        }
        if node.span_type == SpanType::CpRequest {
            self.forward(start, error.is_some());
        }
        if let Some(status) = node.status.as_ref().filter(|_| !attempt) {
            let value = error.map_or(status.success, |k| status.on_error[k]);
            self.trace.attrs.push(Attr {
                key: status.key,
                value,
            });
        }
        self.annotate_content(node, attempt, parent, error, start);
        self.trace.attrs.extend_from_slice(extra);
        if self.turn.is_some() {
            self.session_attrs(start);
        }
        if !attempt && !self.plan.evaluations.is_empty() {
            self.evaluate(id, parent, index);
        }
        let error = error.map(|kind| {
            self.trace.attrs.push(Attr {
                key: self.plan.keys.error_type,
                value: AttrValue::Str(node.error.types[kind]),
            });
            (node.error.types[kind], node.error.messages[kind])
        });
        let end = self.trace.attrs.len() as u32;
        self.trace.spans.push(SpanRecord {
            node: id,
            attempt,
            span_type: if attempt {
                SpanType::McpToolExecuteAttempt
            } else {
                node.span_type
            },
            kind: if attempt {
                node.attempt_kind
            } else {
                node.kind
            },
            name,
            span_id,
            parent,
            start_ns: 0,
            end_ns: 0,
            error,
            attrs: (start as u32, end),
            server: false,
            resource: self
                .plan
                .services
                .resource(node.service, &self.trace.trace_id),
            links: (0, 0),
        });
        self.offsets.push(0);
        index
    }

    /// Pushes the planned attributes of a span whose attributes begin at `start`.
    fn push_attrs(
        &mut self,
        plans: &[AttrPlan],
        attempt: bool,
        parent: Option<u32>,
        failed: bool,
        start: usize,
    ) {
        let keys = &self.plan.keys;
        let growing = self.growing != Growing::No;
        for plan in plans {
            let key = plan.key();
            // An attempt is one try of its tool call: same call id, same tool.
            if attempt
                && (key == keys.tool_call_id || key == keys.tool_name)
                && let Some(value) = self.call_value(parent, key)
            {
                self.trace.attrs.push(Attr { key, value });
                continue;
            }
            if let Some(value) = self.attr_value(plan, failed, start) {
                let value = if growing {
                    self.grow(key, value)
                } else {
                    value
                };
                self.trace.attrs.push(Attr { key, value });
            }
        }
    }

    /// The value one planned attribute takes on this span, or `None` for a copy or a sum
    /// whose sources the span lacks (the plan keeps them only where the sources exist).
    fn attr_value(&mut self, plan: &AttrPlan, failed: bool, start: usize) -> Option<AttrValue> {
        let value = match plan {
            AttrPlan::Constant { value, .. } => *value,
            AttrPlan::Sampled {
                sampler,
                choices,
                integer,
                ..
            } => match sampler.draw(self.rng) {
                Draw::Choice(i) => choices[i],
                Draw::Number(x) if *integer => AttrValue::Int(x.round().max(0.0) as i64),
                Draw::Number(x) => AttrValue::Double(x),
            },
            AttrPlan::Generated { what, .. } => self.generated(what),
            AttrPlan::Outcome {
                success, failure, ..
            } => {
                if failed {
                    *failure
                } else {
                    *success
                }
            }
            AttrPlan::CopyOf { from, .. } => find(&self.trace.attrs[start..], *from)?,
            AttrPlan::Sum { of: [a, b], .. } => {
                let span = &self.trace.attrs[start..];
                sum(find(span, *a), find(span, *b))?
            }
        };
        Some(value)
    }

    /// A value made for this trace or this span: its tenant, one of its ids, a fresh id.
    fn generated(&mut self, what: &Generated) -> AttrValue {
        match what {
            Generated::Tenant => AttrValue::Str(self.plan.tenants[self.tenant as usize]),
            Generated::SessionId => self.session,
            Generated::RequestId => self.request,
            Generated::TraceIdHex => self.trace_hex,
            Generated::ToolCallId => self.hex_text("call_", 12),
            Generated::ResponseId => self.hex_text("chatcmpl-", 12),
            Generated::TaskId => self.hex_text("task_", 6),
            Generated::EnduserId => self.enduser,
            Generated::TurnIndex => match self.turn {
                Some(turn) => AttrValue::Int(turn.index as i64),
                None => AttrValue::Int((self.index % 10) as i64),
            },
            Generated::Hash => self.hex_text("sha256:", 16),
            Generated::RandomId(prefix) => {
                let plan = self.plan;
                self.hex_text(plan.str(*prefix), 4)
            }
            Generated::McpSessionId => self.mcp_session(),
            Generated::JsonRpcRequestId => {
                let start = self.trace.text.len() as u32;
                let id = self.trace.spans.len().to_string();
                self.trace.text.push_str(&id);
                AttrValue::Text {
                    start,
                    len: id.len() as u32,
                }
            }
        }
    }

    /// Adds the conversation content (prompts, completions, tool I/O) to the span whose
    /// attributes begin at `start`, when the scenario asks for content.
    fn annotate_content(
        &mut self,
        node: &PlanNode,
        attempt: bool,
        parent: Option<u32>,
        error: Option<usize>,
        start: usize,
    ) {
        if let (Some(content), Some(conversation)) = (&self.plan.content, &mut self.conversation) {
            let facts = SpanFacts {
                kind: node.role,
                attempt,
                under_planner: parent
                    .is_some_and(|p| self.trace.spans[p as usize].span_type == SpanType::Planner),
                error: error.map(|k| self.plan.str(node.error.types[k])),
            };
            let plan = self.plan;
            conversation.annotate(
                |s| plan.str(s),
                content,
                facts,
                start,
                &mut self.trace.text,
                &mut self.trace.attrs,
            );
        }
    }

    /// The value of `key` on the tool call (the MCP execute span) that `parent` is, if it is one.
    fn call_value(&self, parent: Option<u32>, key: Sym) -> Option<AttrValue> {
        let span = &self.trace.spans[parent? as usize];
        if span.span_type != SpanType::McpToolExecute {
            return None;
        }
        find(self.trace.attrs_of(span), key)
    }

    /// One instance of a step, with its retries: the piece it adds to its parent's timeline.
    fn block(
        &mut self,
        id: NodeId,
        parent: Option<u32>,
        parent_errored: bool,
        sibling_errored: bool,
    ) -> Block {
        let node = self.plan.node(id);
        if node.span_type == SpanType::McpToolExecute {
            return self.mcp(id, parent, parent_errored, sibling_errored);
        }
        if node.failures.is_some() {
            return self.llm_call(id, parent, parent_errored, sibling_errored, false);
        }
        let Some(retry) = &node.retry else {
            let error = errs(self.rng, node, parent_errored, sibling_errored)
                .then(|| node.error.pick.sample(self.rng));
            return self.single(
                id,
                parent,
                0,
                Attempt {
                    error,
                    backoff_ns: 0,
                },
            );
        };
        let outcomes = attempts(self.rng, node, retry, parent_errored, sibling_errored);
        let mut block = Block {
            items: Vec::with_capacity(outcomes.len()),
            duration: 0,
            errored: false,
            ends_turn: false,
        };
        for (k, attempt) in outcomes.iter().enumerate() {
            let one = self.single(id, parent, k as u32 + 1, *attempt);
            block.items.push((one.items[0].0, block.duration));
            block.duration = block
                .duration
                .saturating_add(one.duration)
                .saturating_add(attempt.backoff_ns);
            block.errored = one.errored;
        }
        block
    }

    /// One span of `id` with its children. `number` is the 1-based attempt number, 0 when the
    /// step has no retry.
    fn single(&mut self, id: NodeId, parent: Option<u32>, number: u32, outcome: Attempt) -> Block {
        let node = self.plan.node(id);
        let retry_attrs = [
            Attr {
                key: self.plan.keys.retry_attempt,
                value: AttrValue::Int(number as i64),
            },
            Attr {
                key: self.plan.keys.retry_is_retry,
                value: AttrValue::Bool(number > 1),
            },
        ];
        // An HTTP resend also says which one it is (`http.request.resend_count`).
        let resend = generic::resend_count(node, number);
        let with_resend;
        let extra: &[Attr] = match (number, resend) {
            (0, _) => &[],
            (_, None) => &retry_attrs,
            (_, Some(resend)) => {
                with_resend = [retry_attrs[0], retry_attrs[1], resend];
                &with_resend
            }
        };
        let span = self.push_span(id, false, parent, outcome.error, extra);
        let errored = outcome.error.is_some();
        let latency = self.latency_ns(node);
        let duration = match self.instrumented_call(id) {
            None => {
                let children = self.children(id, span, errored);
                self.place(children, latency, node.parallel)
            }
            Some(call) => {
                let server = self.push_server(id, call, span, outcome.error);
                let (out, back) = (self.network_ns(call), self.network_ns(call));
                let children = self.children(id, server, errored);
                self.serve(server, children, latency, out, back)
            }
        };
        self.trace.spans[span as usize].end_ns = duration;
        Block {
            items: vec![(span, 0)],
            duration,
            // A content filter below may have ended this span's turn.
            errored: self.trace.spans[span as usize].error.is_some(),
            ends_turn: false,
        }
    }

    /// An MCP tool call: one execute span around one attempt span per try, then the step's
    /// children.
    fn mcp(
        &mut self,
        id: NodeId,
        parent: Option<u32>,
        parent_errored: bool,
        sibling_errored: bool,
    ) -> Block {
        let node = self.plan.node(id);
        let outcomes = match &node.retry {
            Some(retry) => attempts(self.rng, node, retry, parent_errored, sibling_errored),
            None => {
                let error = errs(self.rng, node, parent_errored, sibling_errored)
                    .then(|| node.error.pick.sample(self.rng));
                vec![Attempt {
                    error,
                    backoff_ns: 0,
                }]
            }
        };
        let final_error = outcomes.last().and_then(|a| a.error);
        let execute = self.push_span(id, false, parent, final_error, &[]);
        let mut cursor = 0;
        let keys = &self.plan.keys;
        for (k, attempt) in outcomes.iter().enumerate() {
            let extra = [
                Attr {
                    key: keys.retry_attempt,
                    value: AttrValue::Int(k as i64 + 1),
                },
                Attr {
                    key: keys.retry_is_retry,
                    value: AttrValue::Bool(k > 0),
                },
                Attr {
                    key: keys.attempt_index,
                    value: AttrValue::Int(k as i64),
                },
                Attr {
                    key: keys.attempt_outcome,
                    value: AttrValue::Str(if attempt.error.is_some() {
                        keys.failure
                    } else {
                        keys.success
                    }),
                },
            ];
            let span = self.push_span(id, true, Some(execute), attempt.error, &extra);
            let mut latency = self.latency_ns(node);
            if let Some(call) = self.instrumented_call(id) {
                let server = self.push_server(id, call, span, attempt.error);
                let (out, back) = (self.network_ns(call), self.network_ns(call));
                latency = self.serve(server, (Vec::new(), false), latency, out, back);
            }
            self.trace.spans[span as usize].end_ns = latency;
            self.offsets[span as usize] = cursor;
            cursor = cursor
                .saturating_add(latency)
                .saturating_add(attempt.backoff_ns);
        }
        // Children of a tool step (rare) follow its attempts.
        let (children, _) = self.children(id, execute, final_error.is_some());
        if node.parallel {
            let durations: Vec<u64> = children.iter().map(|b| b.duration).collect();
            let (starts, extent) = generic::parallel_layout(self.rng, &durations, 0);
            for (block, start) in children.into_iter().zip(starts) {
                for (span, offset) in block.items {
                    self.offsets[span as usize] =
                        cursor.saturating_add(start.saturating_add(offset));
                }
            }
            cursor = cursor.saturating_add(extent);
            self.trace.spans[execute as usize].end_ns = cursor;
            return Block {
                items: vec![(execute, 0)],
                duration: cursor,
                errored: final_error.is_some(),
                ends_turn: false,
            };
        }
        for block in children {
            for (span, offset) in block.items {
                self.offsets[span as usize] = cursor.saturating_add(offset);
            }
            cursor = cursor.saturating_add(block.duration);
        }
        self.trace.spans[execute as usize].end_ns = cursor;
        Block {
            items: vec![(execute, 0)],
            duration: cursor,
            errored: final_error.is_some(),
            ends_turn: false,
        }
    }

    /// Generates the child instances of `id` (already pushed as span `parent`), in order.
    fn children(&mut self, id: NodeId, parent: u32, parent_errored: bool) -> (Vec<Block>, bool) {
        let node = self.plan.node(id);
        let mut blocks = Vec::new();
        let mut sibling_errored = false;
        let mut filtered = None;
        if parent == 0 && self.turn.is_some_and(|t| t.summarize) && !self.tokens.summarized {
            blocks.extend(self.summary(parent));
        }
        'siblings: for &child in &node.children {
            let child_node = self.plan.node(child);
            if child_node.probability < 1.0 && self.rng.random::<f64>() >= child_node.probability {
                continue;
            }
            for _ in 0..self.count(child_node) {
                let block = self.block(child, Some(parent), parent_errored, sibling_errored);
                sibling_errored |= block.errored;
                let ends_turn = block.ends_turn;
                blocks.push(block);
                if ends_turn {
                    filtered = child_node.failures.as_ref().map(|l| l.keys);
                    break 'siblings;
                }
            }
        }
        // In a scenario with `failures:`, finish reasons agree with what follows.
        if node
            .children
            .iter()
            .any(|&c| self.plan.node(c).failures.is_some())
        {
            self.tool_calls_before_tools(&blocks);
        }
        if let Some(keys) = filtered {
            self.end_turn(parent, keys);
        }
        (blocks, sibling_errored)
    }

    /// Lays child blocks one after another inside a span of sampled length `latency`, spreading
    /// its spare time evenly before, between and after them; returns the span's duration, which
    /// stretches to contain the children when they need more.
    fn place(&mut self, (blocks, _): (Vec<Block>, bool), latency: u64, parallel: bool) -> u64 {
        if parallel {
            let durations: Vec<u64> = blocks.iter().map(|b| b.duration).collect();
            let (starts, duration) = generic::parallel_layout(self.rng, &durations, latency);
            for (block, start) in blocks.into_iter().zip(starts) {
                for (span, offset) in block.items {
                    self.offsets[span as usize] = start.saturating_add(offset);
                }
            }
            return duration;
        }
        let total = blocks
            .iter()
            .map(|b| b.duration)
            .fold(0, u64::saturating_add);
        let duration = latency.max(total);
        let gap = (duration - total) / (blocks.len() as u64 + 1);
        let mut cursor = gap;
        for block in blocks {
            for (span, offset) in block.items {
                self.offsets[span as usize] = cursor.saturating_add(offset);
            }
            cursor = cursor.saturating_add(block.duration).saturating_add(gap);
        }
        duration
    }

    /// Converts offsets to absolute times, with the root ending at `end_unix_ns`; returns what
    /// the turn's LLM calls drew.
    fn finish(mut self, root: u32, end_unix_ns: u64) -> TurnTokens {
        let root_duration = self.trace.spans[root as usize].end_ns;
        self.offsets[root as usize] = end_unix_ns.saturating_sub(root_duration);
        for i in 0..self.trace.spans.len() {
            let span = &self.trace.spans[i];
            let start = match span.parent {
                Some(p) => self.trace.spans[p as usize]
                    .start_ns
                    .saturating_add(self.offsets[i]),
                None => self.offsets[i],
            };
            let span = &mut self.trace.spans[i];
            span.end_ns = span.end_ns.saturating_add(start);
            span.start_ns = start;
        }
        let trace = &mut *self.trace;
        generic::resolve_links(
            &self.plan.nodes,
            &mut trace.spans,
            trace.trace_id,
            self.ids.previous,
            &mut trace.links,
        );
        self.tokens
    }
}

/// Sessions and evaluations: what a turn adds to the spans it is made of.
impl<R: Rng> Builder<'_, R> {
    /// The value an attribute of the span being pushed takes in a session: an LLM call's input
    /// tokens grown by the history (`SessionPlan::grown_input`), the turn's draws noted; a
    /// summarising call reads the whole history and writes the summary.
    fn grow(&mut self, key: Sym, value: AttrValue) -> AttrValue {
        let (Some(turn), Some(session)) = (self.turn, &self.plan.session) else {
            return value;
        };
        if self.growing == Growing::No {
            return value;
        }
        let keys = &session.keys;
        let drawn = number(value).map_or(0, |x| x.max(0.0) as u64);
        let summary = session.context.as_ref().map_or(0, |c| c.summary_tokens);
        match (self.growing, key) {
            (Growing::Summary, k) if k == keys.input_tokens => AttrValue::Int(turn.history as i64),
            (Growing::Summary, k) if k == keys.output_tokens => AttrValue::Int(summary as i64),
            (Growing::Call, k) if k == keys.input_tokens => {
                self.tokens.fresh_input += drawn;
                let history = if self.tokens.summarized {
                    summary
                } else {
                    turn.history
                };
                AttrValue::Int(session.grown_input(history, drawn) as i64)
            }
            (Growing::Call, k) if k == keys.output_tokens => {
                self.tokens.output += drawn;
                value
            }
            _ => value,
        }
    }

    /// The session's ids, turn index and user attributes on the span whose attributes begin
    /// at `start`, where it has none of its own.
    fn session_attrs(&mut self, start: usize) {
        let (Some(turn), Some(session)) = (self.turn, &self.plan.session) else {
            return;
        };
        let k = &session.keys;
        let ids = [
            (k.session_id, self.session),
            (k.conversation_id, self.session),
            (k.user_id, self.enduser),
            (k.turn_index, AttrValue::Int(turn.index as i64)),
        ];
        for attr in ids
            .into_iter()
            .map(|(key, value)| Attr { key, value })
            .chain(turn.user_attrs.iter().copied())
        {
            if find(&self.trace.attrs[start..], attr.key).is_none() {
                self.trace.attrs.push(attr);
            }
        }
    }

    /// Draws the evaluations of span `index` (of node `id`): its step's, and the session's on
    /// the last turn's root.
    fn evaluate(&mut self, id: NodeId, parent: Option<u32>, index: u32) {
        if self.growing == Growing::Summary {
            return;
        }
        let evaluations = &self.plan.evaluations;
        let session = match (parent, self.turn) {
            (None, Some(turn)) if turn.last => &evaluations.session[..],
            _ => &[],
        };
        for &e in evaluations.of(id).iter().chain(session) {
            let plan = &evaluations.all[e as usize];
            if plan.probability < 1.0 && self.rng.random::<f64>() >= plan.probability {
                continue;
            }
            let score = plan.score.number(self.rng);
            self.trace.evaluations.push(EvaluationRecord {
                span: index,
                evaluation: e,
                score,
            });
        }
    }

    /// The summarising LLM call that opens a turn whose history overflows the window: a span of
    /// the scenario's first LLM step, reading the history and writing a summary.
    fn summary(&mut self, parent: u32) -> Option<Block> {
        let session = self.plan.session.as_ref()?;
        let id = session.summarizer?;
        let marker = [Attr {
            key: session.keys.summary,
            value: AttrValue::Bool(true),
        }];
        self.growing = Growing::Summary;
        let span = self.push_span(id, false, Some(parent), None, &marker);
        self.growing = Growing::No;
        self.tokens.summarized = true;
        let latency = self.latency_ns(self.plan.node(id));
        self.trace.spans[span as usize].end_ns = latency;
        Some(Block {
            items: vec![(span, 0)],
            duration: latency,
            errored: false,
            ends_turn: false,
        })
    }
}

/// The value of `key` among a span's attributes so far.
pub(super) fn find(attrs: &[Attr], key: Sym) -> Option<AttrValue> {
    attrs.iter().find(|a| a.key == key).map(|a| a.value)
}

/// The sum of two numbers: whole when both are, `None` when either is not a number.
pub(super) fn sum(a: Option<AttrValue>, b: Option<AttrValue>) -> Option<AttrValue> {
    match (a?, b?) {
        (AttrValue::Int(x), AttrValue::Int(y)) => Some(AttrValue::Int(x.saturating_add(y))),
        (x, y) => Some(AttrValue::Double(number(x)? + number(y)?)),
    }
}

fn number(v: AttrValue) -> Option<f64> {
    match v {
        AttrValue::Int(i) => Some(i as f64),
        AttrValue::Double(d) => Some(d),
        _ => None,
    }
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::PlanOptions;
    use crate::scenario::{
        Count, Distribution, ErrorModel, Jitter, Latency, Propagation, Retry, Scenario, Step,
        worst_case_spans,
    };
    use proptest::prelude::*;

    fn step_strategy() -> impl Strategy<Value = Step> {
        let leaf = (
            prop::sample::select(SpanType::ALL.to_vec()),
            prop_oneof![
                (0.0..500.0f64).prop_map(|m| Latency::Jitter(Jitter {
                    mean_ms: m,
                    ..Jitter::default()
                })),
                (1.0..500.0f64, 0.0..1.5f64).prop_map(|(median, sigma)| Latency::Distribution(
                    Distribution::LogNormal { median, sigma }
                )),
                (0.0..50.0f64)
                    .prop_map(|mean| Latency::Distribution(Distribution::Exponential { mean })),
            ],
            (0.0..=1.0f64, any::<bool>()),
            0.0..=1.0f64,
            prop_oneof![
                (0u32..3).prop_map(Count::Fixed),
                (0u32..3, 0u32..3).prop_map(|(a, b)| Count::Uniform {
                    min: a.min(b),
                    max: a.max(b)
                }),
            ],
            prop::option::of((1u32..4, any::<bool>(), 0.0..=1.0f64).prop_map(
                |(max_attempts, force, rate)| Retry {
                    max_attempts,
                    force_initial_failure: force,
                    success_rate_per_attempt: vec![0.0, rate],
                    ..Retry::default()
                },
            )),
        )
            .prop_map(
                |(span_type, latency, (rate, propagate), probability, count, retry)| Step {
                    span_type,
                    latency,
                    error: ErrorModel {
                        propagation: propagate.then(Propagation::default),
                        ..ErrorModel::with_rate(rate)
                    },
                    probability,
                    count,
                    retry,
                    attributes: Vec::new(),
                    children: Vec::new(),
                    service: None,
                    remote: None,
                    llm: None,
                    failures: None,
                    generic: None,
                    wiring: Default::default(),
                    evaluations: Vec::new(),
                },
            );
        leaf.prop_recursive(3, 24, 4, |inner| {
            (
                inner.clone(),
                prop::collection::vec(inner, 0..4),
                any::<bool>(),
            )
                .prop_map(|(mut step, children, parallel)| {
                    step.children = children;
                    step.wiring.parallel = parallel;
                    step
                })
        })
    }

    /// Steps with durations far beyond anything `validate` lets through: what the generator must
    /// still lay out without wrapping.
    fn huge_step_strategy() -> impl Strategy<Value = Step> {
        let leaf = (
            prop_oneof![
                (0.0..1e20f64).prop_map(|m| Latency::Jitter(Jitter {
                    mean_ms: m,
                    ..Jitter::default()
                })),
                (1.0..1e15f64, 0.0..8.0f64).prop_map(|(median, sigma)| Latency::Distribution(
                    Distribution::LogNormal { median, sigma }
                )),
            ],
            0u32..6,
            prop::option::of((1u32..6, 0.0..1e18f64, 1.0..1e3f64).prop_map(
                |(max_attempts, backoff_base_ms, backoff_multiplier)| Retry {
                    max_attempts,
                    force_initial_failure: true,
                    backoff_base_ms,
                    backoff_multiplier,
                    success_rate_per_attempt: vec![0.0],
                    ..Retry::default()
                },
            )),
            prop::sample::select(vec![SpanType::LlmCall, SpanType::McpToolExecute]),
        )
            .prop_map(|(latency, count, retry, span_type)| Step {
                span_type,
                latency,
                error: ErrorModel::with_rate(0.5),
                probability: 1.0,
                count: Count::Fixed(count),
                retry,
                attributes: Vec::new(),
                children: Vec::new(),
                service: None,
                remote: None,
                llm: None,
                failures: None,
                generic: None,
                wiring: Default::default(),
                evaluations: Vec::new(),
            });
        leaf.prop_recursive(3, 20, 5, |inner| {
            (inner.clone(), prop::collection::vec(inner, 0..5)).prop_map(|(mut step, children)| {
                step.children = children;
                step
            })
        })
    }

    fn scenario(mut root: Step) -> Scenario {
        root.probability = 1.0;
        root.count = Count::Fixed(1);
        Scenario {
            name: "prop".into(),
            display_name: "prop".into(),
            description: String::new(),
            tags: Vec::new(),
            repeat_count: 1,
            interval_ms: 0.0,
            emit_metrics: true,
            emit_logs: true,
            weight: 1.0,
            traffic: None,
            root,
            services: Vec::new(),
            models: Vec::new(),
            session: None,
        }
    }

    fn options() -> PlanOptions {
        PlanOptions {
            prefix: "vendor".into(),
            tenants: vec!["a".into(), "b".into()],
            schema: Some(std::sync::Arc::new(crate::schema::bundled())),
            service_name: "svc".into(),
            content: false,
            profile: Default::default(),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn every_trace_is_a_well_formed_tree_inside_its_budget(root in step_strategy(), seed in any::<u64>(), index in 0u64..1000) {
            let scenario = scenario(root);
            let plan = Plan::compile(&scenario, &options());
            let end = 1_800_000_000_000_000_000u64;
            let mut out = Iteration::default();
            generate(&plan, seed, index, 1, end, &mut out);
            prop_assert!(!out.traces().is_empty());
            for trace in out.traces() {
                prop_assert!(trace.trace_id != [0; 16]);
                prop_assert!(trace.spans.len() as u64 <= worst_case_spans(&scenario.root));
                prop_assert_eq!(trace.spans.iter().filter(|s| s.parent.is_none()).count(), 1);
                prop_assert!(trace.spans[0].parent.is_none());
                let mut ids = std::collections::HashSet::new();
                for (i, span) in trace.spans.iter().enumerate() {
                    prop_assert!(span.span_id != [0; 8]);
                    prop_assert!(ids.insert(span.span_id), "duplicate span id");
                    prop_assert!(span.start_ns <= span.end_ns);
                    prop_assert!(span.end_ns <= end, "a span ends after its send time");
                    if let Some(p) = span.parent {
                        prop_assert!((p as usize) < i, "parents come before children");
                        let parent = &trace.spans[p as usize];
                        prop_assert!(span.start_ns >= parent.start_ns && span.end_ns <= parent.end_ns,
                            "child [{}, {}] outside parent [{}, {}]", span.start_ns, span.end_ns, parent.start_ns, parent.end_ns);
                    }
                    let has_error_type = trace.attrs_of(span).iter().any(|a| a.key == plan.keys.error_type);
                    prop_assert_eq!(has_error_type, span.error.is_some(), "error.type exactly on failed spans");
                }
            }
            prop_assert_eq!(out.traces().last().unwrap().spans[0].end_ns, end, "the iteration ends when it is sent");
        }

        #[test]
        fn huge_durations_never_wrap_a_span_or_leave_its_parent(root in huge_step_strategy(), seed in any::<u64>()) {
            let plan = Plan::compile(&scenario(root), &options());
            let end = 1_800_000_000_000_000_000u64;
            let mut out = Iteration::default();
            generate(&plan, seed, 0, 0, end, &mut out);
            for trace in out.traces() {
                for span in &trace.spans {
                    prop_assert!(span.start_ns <= span.end_ns, "[{}, {}]", span.start_ns, span.end_ns);
                    if let Some(p) = span.parent {
                        let parent = &trace.spans[p as usize];
                        prop_assert!(span.start_ns >= parent.start_ns && span.end_ns <= parent.end_ns,
                            "child [{}, {}] outside parent [{}, {}]", span.start_ns, span.end_ns, parent.start_ns, parent.end_ns);
                    }
                }
            }
        }

        #[test]
        fn the_same_seed_and_index_give_the_same_iteration(root in step_strategy(), seed in any::<u64>(), index in any::<u64>()) {
            let plan = Plan::compile(&scenario(root), &options());
            let (mut a, mut b) = (Iteration::default(), Iteration::default());
            generate(&plan, seed, index, 0, 5_000_000_000, &mut a);
            // `b` is reused from another iteration first: reuse must not leak state.
            generate(&plan, seed ^ 1, index + 1, 1, 9_000_000_000, &mut b);
            generate(&plan, seed, index, 0, 5_000_000_000, &mut b);
            prop_assert_eq!(a.traces(), b.traces());
        }
    }

    /// A forced first failure draws only retryable types, so with attempts left it is always
    /// retried (drawing from all seven default types, about a third of the sequences used to
    /// end at once); the types keep their relative weights (timeout .30, upstream_5xx .25,
    /// rate_limit .10 of .65).
    #[test]
    fn a_forced_initial_failure_is_always_retried() {
        let plan = crate::generate::testing::plan(
            "name: t\nroot:\n  type: vendor.a2a.orchestrate\n  error: {rate: 0}\n  children:\n    - type: vendor.mcp.tool.execute\n      retry: {enabled: true, max_attempts: 3, force_initial_failure: true}\n",
        );
        let traces = crate::generate::testing::traces(&plan, 7, 3000);
        let mut first_types = std::collections::HashMap::<&str, u32>::new();
        for trace in &traces {
            let tool = trace
                .spans
                .iter()
                .position(|s| s.span_type == SpanType::McpToolExecute && !s.attempt)
                .expect("one tool call a trace") as u32;
            let attempts: Vec<&SpanRecord> = trace
                .spans
                .iter()
                .filter(|s| s.attempt && s.parent == Some(tool))
                .collect();
            assert!(attempts.len() >= 2, "a forced failure was not retried");
            let (kind, _) = attempts[0].error.expect("the first attempt fails");
            *first_types.entry(plan.str(kind)).or_default() += 1;
        }
        let n = traces.len() as f64;
        for (kind, weight) in [
            ("timeout", 0.30),
            ("upstream_5xx", 0.25),
            ("rate_limit", 0.10),
        ] {
            let share = f64::from(first_types.get(kind).copied().unwrap_or(0)) / n;
            // 3000 draws: the standard error of a share is under 0.01.
            assert!((share - weight / 0.65).abs() < 0.04, "{kind}: {share}");
        }
        assert_eq!(first_types.len(), 3, "{first_types:?}");
    }

    #[test]
    fn drawn_durations_are_whole_nanoseconds_cut_to_one_day() {
        assert_eq!(ms_to_ns(1.5), 1_500_000);
        assert_eq!(ms_to_ns(-3.0), 0);
        assert_eq!(ms_to_ns(f64::NAN), 0);
        assert_eq!(MAX_DURATION_NS, 86_400_000_000_000);
        for huge in [86_400_000.5, 1e13, 1e300, f64::INFINITY] {
            assert_eq!(ms_to_ns(huge), MAX_DURATION_NS, "{huge}");
        }
        assert!(CLAMPED.load(Ordering::Relaxed));
    }

    #[test]
    fn streams_differ_between_indexes_and_seeds() {
        use rand::Rng;
        let first = iteration_rng(1, 0).next_u64();
        assert_ne!(first, iteration_rng(1, 1).next_u64());
        assert_ne!(first, iteration_rng(2, 0).next_u64());
    }
}
