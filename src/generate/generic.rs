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
use super::symbols::{AttrValue, DefaultValue, NodeId, Sym};
use super::trace::{SpanRecord, iteration_rng};
use crate::conventions::SpanKind;
use crate::conventions::generic::{self as conventions, GenericConvention};
use crate::scenario::{AttributeValue, LinkTarget, Literal, Step};
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
    let generic = step.generic.as_ref()?;
    let defaults = conventions::of(generic.convention).defaults;
    Some(generic.fill(|key| {
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
    }))
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
            let node = &mut self.nodes[i];
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
    use rand::SeedableRng;

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
