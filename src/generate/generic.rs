//! The generator's part for generic steps, links and parallel children: what the plan compiles
//! from them, and the few pure functions the trace builder calls (the parallel layout, the
//! predecessor's ids, link resolution).
//!
//! Kept apart from `plan.rs` and `trace.rs` so that those gain hooks, not bodies. Links are
//! resolved once a trace's spans all exist (a link names the *latest emitted* instance of a step,
//! which only the finished trace knows) and draw no random numbers, so a scenario without links
//! draws exactly the stream it drew before. The preceding trace's root is named by ids derived
//! from the seed and the iteration index alone ([`anchor`]): regenerating the previous iteration
//! to learn its ids was rejected, as it would double the cost of every linked trace.

use super::plan::{Plan, PlanNode};
use super::symbols::{Attr, AttrValue, DefaultValue, NodeId, Sym};
use super::trace::{SpanRecord, iteration_rng};
use crate::conventions::SpanKind;
use crate::conventions::generic::{self as conventions, GenericConvention};
use crate::scenario::{AttributeValue, Convention, Distribution, LinkTarget, Literal, Step};
use rand::{Rng, RngExt};
use std::collections::HashMap;

/// One planned link of a step's spans.
pub(crate) struct LinkPlan {
    pub to: LinkTo,
    /// The link's constant attributes.
    pub attrs: Vec<(Sym, AttrValue)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LinkTo {
    /// The latest emitted instance of this node in the same trace.
    Node(NodeId),
    PreviousTrace,
}

/// A status code that follows the span's outcome (HTTP, gRPC).
pub(crate) struct StatusPlan {
    pub key: Sym,
    pub success: AttrValue,
    /// Per error type of the node, in the order of its `ErrorPlan::types`.
    pub on_error: Vec<AttrValue>,
}

/// One link of a span, as generated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkRecord {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    /// The node whose link plans hold its attributes, and which of them.
    pub node: NodeId,
    pub link: u32,
}

/// The most a parallel child's start is staggered after its siblings' common start.
pub const MAX_STAGGER_NS: u64 = 2_000_000;

/// Salt of the stream that names each iteration's root (see [`anchor`]).
const ANCHOR_SALT: u64 = 0x6c69_6e6b_5f61_6e63;

/// The trace id and root span id of iteration `index` of a run seeded with `seed`, for plans
/// whose traces are linked to by their successor: a function of the two alone, so iteration
/// `index + 1` names them at any worker or shard count.
pub fn anchor(seed: u64, index: u64) -> ([u8; 16], [u8; 8]) {
    let mut rng = iteration_rng(seed ^ ANCHOR_SALT, index);
    let mut trace_id = [0u8; 16];
    let mut span_id = [0u8; 8];
    rng.fill(&mut trace_id);
    rng.fill(&mut span_id);
    if trace_id == [0; 16] {
        trace_id[15] = 1;
    }
    if span_id == [0; 8] {
        span_id[7] = 1;
    }
    (trace_id, span_id)
}

/// Makes every plan of a mixed workload name its roots with [`anchor`] ids when one of them
/// links to `previous_trace`: iteration `index - 1` may belong to another scenario, whose root
/// must then carry the ids the link names.
pub fn anchor_together(plans: &mut [Plan]) {
    if plans.iter().any(|p| p.anchored) {
        for plan in plans {
            plan.anchored = true;
        }
    }
}

/// The row of a generic step's convention.
fn row(step: &Step) -> Option<&'static GenericConvention> {
    step.generic.as_ref().map(|g| conventions::of(g.convention))
}

/// A written constant as the text a name placeholder takes.
fn text(literal: &Literal) -> Option<String> {
    match literal {
        Literal::Str(s) => Some(s.clone()),
        Literal::Int(i) => Some(i.to_string()),
        Literal::Float(f) => Some(f.to_string()),
        Literal::Bool(b) => Some(b.to_string()),
        Literal::List(_) | Literal::Map(_) => None,
    }
}

/// The span name of `step`: a generic step's template filled from its constant attributes,
/// then its convention's defaults; `None` for an agent step.
pub(crate) fn span_name(step: &Step) -> Option<String> {
    name_with(step, None)
}

/// [`span_name`], with attribute `drawn.0` taking the value `drawn.1` (one categorical choice).
/// A name that fills to nothing stays as written (OTLP has no empty span name).
fn name_with(step: &Step, drawn: Option<(&str, &Literal)>) -> Option<String> {
    let generic = step.generic.as_ref()?;
    let defaults = conventions::of(generic.convention).defaults;
    let filled = generic.fill(|key| {
        if let Some((k, v)) = drawn.filter(|(k, _)| *k == key) {
            debug_assert_eq!(k, key);
            return text(v);
        }
        step.attributes
            .iter()
            .find(|a| a.key == key)
            .and_then(|a| match &a.value {
                AttributeValue::Constant(l) => text(l),
                AttributeValue::Sampled(_) => None,
            })
            .or_else(|| {
                defaults
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| v.to_string())
            })
    });
    Some(if filled.is_empty() {
        generic.name.clone()
    } else {
        filled
    })
}

/// The categorical attribute a generic step's name follows, if a placeholder names one: the
/// attribute's key and, per value it can take, the name.
fn categorical_names(step: &Step) -> Option<(&str, Vec<(&Literal, String)>)> {
    let generic = step.generic.as_ref()?;
    let placeholders = generic.placeholders();
    let (key, values) = step.attributes.iter().find_map(|a| match &a.value {
        AttributeValue::Sampled(Distribution::Categorical { values, .. })
            if placeholders.contains(&a.key.as_str()) =>
        {
            Some((a.key.as_str(), values))
        }
        _ => None,
    })?;
    let names = values
        .iter()
        .filter_map(|v| Some((v, name_with(step, Some((key, v)))?)))
        .collect();
    Some((key, names))
}

/// A name that follows the drawn value of a categorical attribute.
pub(crate) struct NameBy {
    pub key: Sym,
    /// Per value the attribute can take (as the plan's choices hold it), the span name.
    pub names: Vec<(AttrValue, Sym)>,
}

/// The name of a span whose attributes are `attrs`, when its node's name follows one of them.
pub(crate) fn drawn_name(by: &NameBy, attrs: &[Attr]) -> Option<Sym> {
    let value = attrs.iter().find(|a| a.key == by.key)?.value;
    by.names.iter().find(|(v, _)| *v == value).map(|(_, n)| *n)
}

/// The span kind of a generic step: as written, else its convention's.
pub(crate) fn span_kind(step: &Step) -> Option<SpanKind> {
    let generic = step.generic.as_ref()?;
    Some(
        generic
            .kind
            .unwrap_or(conventions::of(generic.convention).kind),
    )
}

/// The convention's attributes a generic step does not write, in emitted order.
pub(crate) fn defaults(step: &Step) -> Vec<(String, DefaultValue)> {
    row(step).map_or_else(Vec::new, |row| {
        row.defaults
            .iter()
            .map(|(k, v)| (k.to_string(), DefaultValue::Str(v.to_string())))
            .collect()
    })
}

/// What failed, in a failed generic span's status message.
pub(crate) fn failure_subject(step: &Step) -> Option<&'static str> {
    row(step).map(|r| r.failure_subject)
}

impl Plan {
    /// The symbol of `s`, if the plan interned it.
    #[cfg(test)]
    pub fn intern_lookup(&self, s: &str) -> Option<Sym> {
        (0..self.symbol_count() as u32)
            .map(Sym)
            .find(|sym| self.str(*sym) == s)
    }

    /// The constant attributes of link `link` of the spans of `node`.
    pub fn link_attrs(&self, node: NodeId, link: u32) -> &[(Sym, AttrValue)] {
        self.node(node)
            .links
            .get(link as usize)
            .map_or(&[], |l| l.attrs.as_slice())
    }

    /// How many links the spans of `node` may have.
    pub fn link_count(&self, node: NodeId) -> usize {
        self.node(node).links.len()
    }

    /// Fills in the generic and wiring parts of the nodes compiled from `root` (node `i` is
    /// `root.walk()[i]`): the status code and error types of HTTP and gRPC steps, each step's
    /// links, whether its children run in parallel, and whether traces are linked to.
    pub(super) fn compile_wiring(&mut self, root: &Step) {
        let steps = root.walk();
        let ids: HashMap<&str, NodeId> = steps
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((s.wiring.id.as_deref()?, NodeId(i as u32))))
            .collect();
        for (i, step) in steps.iter().enumerate() {
            let links = step
                .wiring
                .links
                .iter()
                .filter_map(|link| {
                    let to = match &link.to {
                        LinkTarget::Step(id) => LinkTo::Node(*ids.get(id.as_str())?),
                        LinkTarget::PreviousTrace => LinkTo::PreviousTrace,
                    };
                    let attrs = link
                        .attributes
                        .iter()
                        .map(|(k, v)| (self.intern(k), self.constant(v)))
                        .collect();
                    Some(LinkPlan { to, attrs })
                })
                .collect::<Vec<_>>();
            self.anchored |= links.iter().any(|l| l.to == LinkTo::PreviousTrace);
            let status = self.status_plan(i, step);
            let http = step
                .generic
                .as_ref()
                .is_some_and(|g| g.convention == Convention::Http);
            let resend_count = http.then(|| self.intern("http.request.resend_count"));
            let name_by = categorical_names(step).map(|(key, names)| NameBy {
                key: self.intern(key),
                names: names
                    .into_iter()
                    .map(|(v, name)| (self.constant(v), self.intern(&name)))
                    .collect(),
            });
            let node = &mut self.nodes[i];
            node.resend_count = resend_count;
            node.name_by = name_by;
            node.links = links;
            node.parallel = step.wiring.parallel;
            node.status = status;
        }
    }

    /// The status code of a generic HTTP or gRPC step: its written constant (taken out of the
    /// planned attributes) on success, the convention's code for each error type on failure;
    /// its failures' `error.type` becomes the code. A status code the scenario samples is the
    /// scenario's own business: no plan.
    fn status_plan(&mut self, i: usize, step: &Step) -> Option<StatusPlan> {
        let status = row(step)?.status.as_ref()?;
        let key = self.intern(status.key);
        let written = step.attributes.iter().find(|a| a.key == status.key);
        let success = match written.map(|a| &a.value) {
            None => AttrValue::Int(status.success),
            Some(AttributeValue::Constant(l)) => self.constant(l),
            Some(AttributeValue::Sampled(_)) => return None,
        };
        self.nodes[i].attrs.retain(|a| a.key() != key);
        let words: Vec<String> = self.nodes[i]
            .error
            .types
            .iter()
            .map(|t| self.str(*t).to_string())
            .collect();
        let on_error = words
            .iter()
            .map(|w| AttrValue::Int(status.code_for(w)))
            .collect();
        let types = words
            .iter()
            .map(|w| self.intern(&status.error_type(w)))
            .collect();
        self.nodes[i].error.types = types;
        Some(StatusPlan {
            key,
            success,
            on_error,
        })
    }
}

/// `http.request.resend_count` of attempt `number` (1-based) of an HTTP step: the attempt's
/// ordinal among the resends, on every attempt after the first.
pub(crate) fn resend_count(node: &PlanNode, number: u32) -> Option<Attr> {
    let key = node.resend_count?;
    (number > 1).then_some(Attr {
        key,
        value: AttrValue::Int(i64::from(number) - 1),
    })
}

/// Lays `blocks` (each a child instance with its retries: `(duration, offsets)`) out to start
/// together, each after a small random stagger, inside a span of sampled length `latency`;
/// returns each block's start and the span's duration, which stretches to contain them all.
pub(crate) fn parallel_layout<R: Rng>(
    rng: &mut R,
    durations: &[u64],
    latency: u64,
) -> (Vec<u64>, u64) {
    let starts: Vec<u64> = durations
        .iter()
        .map(|_| rng.random_range(0..=MAX_STAGGER_NS))
        .collect();
    let extent = starts
        .iter()
        .zip(durations)
        .map(|(s, d)| s.saturating_add(*d))
        .max()
        .unwrap_or(0);
    let duration = latency.max(extent);
    let lead = (duration - extent) / 2;
    (
        starts.into_iter().map(|s| s.saturating_add(lead)).collect(),
        duration,
    )
}

/// The links of every span of a finished trace, in span order, into `out`; each span's range
/// into `spans[i].links`. A link to a step names its latest emitted instance other than the
/// span itself (none when the step was not emitted); one to the previous trace names
/// `previous` (none for the run's first iteration).
pub(crate) fn resolve_links(
    nodes: &[PlanNode],
    spans: &mut [SpanRecord],
    trace_id: [u8; 16],
    previous: Option<([u8; 16], [u8; 8])>,
    out: &mut Vec<LinkRecord>,
) {
    out.clear();
    if nodes.iter().all(|n| n.links.is_empty()) {
        return;
    }
    let mut latest: Vec<Option<usize>> = vec![None; nodes.len()];
    for (i, span) in spans.iter().enumerate() {
        if !span.attempt {
            latest[span.node.0 as usize] = Some(i);
        }
    }
    for i in 0..spans.len() {
        let start = out.len() as u32;
        let span = &spans[i];
        let node = &nodes[span.node.0 as usize];
        if !span.attempt {
            for (k, link) in node.links.iter().enumerate() {
                let target = match link.to {
                    LinkTo::PreviousTrace => previous,
                    LinkTo::Node(to) => {
                        latest_other(spans, &latest, to, i).map(|j| (trace_id, spans[j].span_id))
                    }
                };
                if let Some((trace_id, span_id)) = target {
                    out.push(LinkRecord {
                        trace_id,
                        span_id,
                        node: span.node,
                        link: k as u32,
                    });
                }
            }
        }
        spans[i].links = (start, out.len() as u32);
    }
}

/// The latest instance of node `to` other than span `me`.
fn latest_other(
    spans: &[SpanRecord],
    latest: &[Option<usize>],
    to: NodeId,
    me: usize,
) -> Option<usize> {
    match latest[to.0 as usize]? {
        j if j != me => Some(j),
        _ => (0..me)
            .rev()
            .find(|&j| spans[j].node == to && !spans[j].attempt),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::testing;
    use crate::generate::{Trace, generate};
    use rand::SeedableRng;

    const FAN_OUT: &str = r#"
name: t
root:
  type: vendor.a2a.orchestrate
  latency: 1
  links: [{to: previous_trace, attributes: {link.reason: follow_up}}]
  children:
    - name: "fan-out"
      parallel: true
      latency: 1
      children:
        - name: "GET {url.path}"
          convention: http
          id: fetch
          count: {min: 1, max: 3}
          latency: {distribution: log_normal, median: 40, sigma: 0.3}
          error: 0.3
          retry: {max_attempts: 2}
          attributes: {url.path: /orders, url.full: "https://api/orders", server.address: api}
        - name: "SELECT {db.collection.name}"
          convention: db
          latency: 25
          attributes: {db.system.name: postgresql, db.collection.name: orders}
    - name: "in order"
      latency: 1
      children:
        - {name: a, latency: 20}
        - {name: b, latency: 20}
    - name: "publish {messaging.destination.name}"
      convention: messaging
      probability: 0.5
      links: [{to: fetch, attributes: {messaging.operation.type: process}}]
      attributes: {messaging.system: kafka, messaging.destination.name: events}
"#;

    fn named<'t>(plan: &Plan, trace: &'t Trace, name: &str) -> Vec<&'t SpanRecord> {
        trace
            .spans
            .iter()
            .filter(|s| plan.str(s.name) == name)
            .collect()
    }

    /// The children of `parent` that are instances of distinct steps, first attempts only.
    fn overlaps(a: &SpanRecord, b: &SpanRecord) -> bool {
        a.start_ns < b.end_ns && b.start_ns < a.end_ns
    }

    #[test]
    fn parallel_children_overlap_and_sequential_ones_do_not() {
        let plan = testing::plan(FAN_OUT);
        for trace in testing::traces(&plan, 5, 200) {
            let fan = named(&plan, &trace, "fan-out")[0];
            let query = named(&plan, &trace, "SELECT orders")[0];
            // The first attempt of each fetch instance starts with the query, within the stagger.
            for get in named(&plan, &trace, "GET /orders") {
                assert!(get.start_ns >= fan.start_ns && get.end_ns <= fan.end_ns);
                let attempt = trace
                    .attrs_of(get)
                    .iter()
                    .find(|a| a.key == plan.keys.retry_attempt);
                if attempt.is_none_or(|a| a.value == AttrValue::Int(1)) {
                    assert!(get.start_ns.abs_diff(query.start_ns) <= MAX_STAGGER_NS);
                    assert!(overlaps(get, query));
                }
            }
            let (a, b) = (named(&plan, &trace, "a")[0], named(&plan, &trace, "b")[0]);
            assert!(!overlaps(a, b) && a.end_ns <= b.start_ns);
        }
    }

    #[test]
    fn retries_of_a_parallel_child_stay_in_sequence() {
        let plan = testing::plan(FAN_OUT);
        let mut seen = 0;
        for trace in testing::traces(&plan, 9, 300) {
            let gets = named(&plan, &trace, "GET /orders");
            for pair in gets.windows(2) {
                let second = trace
                    .attrs_of(pair[1])
                    .iter()
                    .find(|a| a.key == plan.keys.retry_attempt);
                if second.is_some_and(|a| a.value == AttrValue::Int(2)) {
                    assert!(
                        pair[0].end_ns <= pair[1].start_ns,
                        "a retry after its attempt"
                    );
                    seen += 1;
                }
            }
        }
        assert!(seen > 10, "{seen} retries");
    }

    #[test]
    fn links_name_emitted_spans_and_the_previous_root() {
        let plan = testing::plan(FAN_OUT);
        let traces = testing::traces(&plan, 3, 100);
        let (mut to_fetch, mut to_previous) = (0, 0);
        for (index, trace) in traces.iter().enumerate() {
            for span in &trace.spans {
                for link in trace.links_of(span) {
                    if link.trace_id == trace.trace_id {
                        let target = trace.spans.iter().rfind(|s| s.span_id == link.span_id);
                        let target = target.expect("a link to a span of this trace");
                        assert_eq!(plan.str(target.name), "GET /orders");
                        // The latest instance: no later one exists.
                        let last = named(&plan, trace, "GET /orders")
                            .into_iter()
                            .last()
                            .unwrap();
                        assert_eq!(target.span_id, last.span_id);
                        to_fetch += 1;
                    } else {
                        let previous = &traces[index - 1];
                        assert_eq!(link.trace_id, previous.trace_id);
                        assert_eq!(link.span_id, previous.spans[0].span_id);
                        assert_eq!(plan.link_attrs(link.node, link.link).len(), 1);
                        to_previous += 1;
                    }
                }
            }
            assert_eq!(
                trace.links_of(&trace.spans[0]).len(),
                usize::from(index > 0)
            );
        }
        assert_eq!(to_previous, 99);
        // Half the traces publish (binomial, n = 100: 3 sigma is 15).
        assert!((35..=65).contains(&to_fetch), "{to_fetch}");
    }

    #[test]
    fn the_previous_root_is_the_same_whichever_iterations_ran() {
        let plan = testing::plan(FAN_OUT);
        let mut out = crate::generate::Iteration::default();
        generate(&plan, 11, 41, 0, 5_000_000_000, &mut out);
        let root = (out.traces()[0].trace_id, out.traces()[0].spans[0].span_id);
        generate(&plan, 11, 42, 1, 9_000_000_000, &mut out);
        let trace = &out.traces()[0];
        let link = trace.links_of(&trace.spans[0])[0];
        assert_eq!((link.trace_id, link.span_id), root);
    }

    #[test]
    fn a_name_follows_the_categorical_value_its_placeholder_names() {
        let plan = testing::plan(
            "name: t\nroot:\n  type: vendor.a2a.orchestrate\n  children:\n    - name: \"{http.request.method} /orders\"\n      convention: http\n      attributes:\n        http.request.method: {distribution: categorical, values: [GET, POST]}\n",
        );
        let method = plan.intern_lookup("http.request.method").unwrap();
        let mut names = std::collections::BTreeSet::new();
        for trace in testing::traces(&plan, 2, 100) {
            let span = &trace.spans[1];
            let Some(AttrValue::Str(m)) = trace
                .attrs_of(span)
                .iter()
                .find(|a| a.key == method)
                .map(|a| a.value)
            else {
                panic!("no method");
            };
            assert_eq!(plan.str(span.name), format!("{} /orders", plan.str(m)));
            names.insert(plan.str(span.name).to_string());
        }
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn http_failures_carry_their_status_code_as_error_type() {
        let plan = testing::plan(FAN_OUT);
        let status = plan.intern_lookup("http.response.status_code");
        let (mut failed, mut ok) = (0, 0);
        for trace in testing::traces(&plan, 1, 200) {
            for get in named(&plan, &trace, "GET /orders") {
                let code = trace.attrs_of(get).iter().find(|a| Some(a.key) == status);
                let Some(AttrValue::Int(code)) = code.map(|a| a.value) else {
                    panic!("no status code");
                };
                match get.error {
                    Some((kind, _)) => {
                        assert!((400..600).contains(&code));
                        assert_eq!(plan.str(kind), code.to_string());
                        failed += 1;
                    }
                    None => {
                        assert_eq!(code, 200);
                        ok += 1;
                    }
                }
                assert_eq!(get.kind, SpanKind::Client);
                let attempt = trace
                    .attrs_of(get)
                    .iter()
                    .find(|a| a.key == plan.keys.retry_attempt);
                let resend = plan.intern_lookup("http.request.resend_count");
                let resend = trace.attrs_of(get).iter().find(|a| Some(a.key) == resend);
                match attempt.map(|a| a.value) {
                    Some(AttrValue::Int(k)) if k > 1 => {
                        assert_eq!(resend.map(|a| a.value), Some(AttrValue::Int(k - 1)));
                    }
                    _ => assert!(resend.is_none()),
                }
            }
        }
        assert!(failed > 20 && ok > 100, "{failed} {ok}");
    }

    #[test]
    fn anchors_are_a_function_of_seed_and_index() {
        assert_eq!(anchor(7, 3), anchor(7, 3));
        assert_ne!(anchor(7, 3), anchor(7, 4));
        assert_ne!(anchor(7, 3), anchor(8, 3));
    }

    #[test]
    fn parallel_children_start_within_the_stagger_and_fit_inside() {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(1);
        for latency in [0, 5_000_000, 500_000_000] {
            let durations = [10_000_000, 30_000_000, 0, 7];
            let (starts, duration) = parallel_layout(&mut rng, &durations, latency);
            let first = *starts.iter().min().unwrap();
            for (s, d) in starts.iter().zip(durations) {
                assert!(s - first <= MAX_STAGGER_NS);
                assert!(s + d <= duration);
            }
            assert!(duration >= latency);
        }
    }
}
