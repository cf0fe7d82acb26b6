//! Whole traces into per-node statistics: each trace is walked once and dropped, so memory
//! holds the node tree, never the traces.
//!
//! A node is a place in the tree: the path of span names from the root, and among siblings of
//! one name, which run of them (children `[llm, tool, llm]` are two llm nodes, the first and
//! second run, as a scenario writes them; merging them into one node of count 2 was the
//! alternative, and would reorder the trace). Consecutive spans of a run are instances (its
//! count); instances that are attempts of one call (marked `retry.attempt`, or for traces not
//! written by this tool: a failed span followed by another of the same name after it ended) are
//! one retry sequence. An MCP tool call's `.attempt` children are its attempts.

use super::span::RawSpan;
use super::stats::{AttrStats, Outcomes, RetryStats, Sample, bump, bump_at};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// Most nodes per shape; spans below further new nodes are dropped (and counted).
pub const MAX_NODES: usize = 2_000;
/// Positions of a run whose latencies are kept apart.
pub const POSITIONS: usize = 3;
/// Most root shapes; traces of further shapes are dropped (and counted).
pub const MAX_SHAPES: usize = 64;

#[derive(Clone, Debug, Default)]
pub struct Node {
    pub name: String,
    /// Which run of `name` under the parent this node is (0-based).
    pub run: u32,
    /// Under a parent whose children overlap (a fan-out, in no fixed order), the tool a call of
    /// this name made: one node per tool, as a scenario writes one step per tool.
    pub variant: Option<String>,
    pub services: BTreeMap<String, u64>,
    pub kinds: [u64; 6],
    /// Calls (retry sequences count once).
    pub calls: u64,
    /// Spans (every attempt).
    pub spans: u64,
    /// Parent instances under which the node appeared at all.
    pub present: u64,
    /// Calls per parent instance, when present.
    pub counts: BTreeMap<u64, u64>,
    /// Spans per parent instance, when present (differs from `counts` when calls were retried).
    pub span_counts: BTreeMap<u64, u64>,
    /// Sum of the node's position among its parent's runs (for ordering).
    pub rank_sum: u64,
    /// Duration of each attempt span, in ms.
    pub latency: Sample,
    /// What each span's children needed (their summed durations, or their extent when they
    /// overlap), in ms: a generated parent shorter than this was stretched to it.
    pub needed: Sample,
    /// Spans that look stretched: their children start with them and end with them.
    pub stretched: u64,
    /// First attempt of a call: with a failed parent; else after a failed earlier sibling; else.
    pub after_parent_error: Outcomes,
    pub after_sibling_error: Outcomes,
    pub plain: Outcomes,
    pub error_types: BTreeMap<String, u64>,
    pub retry: RetryStats,
    /// Whether attempts are `.attempt` child spans (an MCP tool call).
    pub attempt_children: bool,
    pub attributes: BTreeMap<String, AttrStats>,
    /// Instances with two or more children, and of those, ones whose children overlapped.
    pub fan_outs: u64,
    pub overlapped: u64,
    pub links: u64,
    /// Durations of the attempt spans of the k-th call of a run (k < [`POSITIONS`]): two steps
    /// of one name in a row differ here, instances of one step with a count do not.
    pub positions: Vec<Sample>,
    /// Links to spans of other traces (a batch consumer's producers, the previous turn).
    pub links_out_of_trace: u64,
    /// Spans with a SERVER child of another service, and its network time each way (the gaps
    /// between the two spans' starts and ends, averaged), in ms.
    pub served: u64,
    pub network: Sample,
    /// Set when fitting: the service a SERVER child ran in, folded into this step's `remote`.
    pub remote: Option<String>,
    /// Set when fitting: the folded SERVER child's name.
    pub remote_name: Option<String>,
    /// Links inside the trace, by the target span's (name, tool).
    pub link_targets: BTreeMap<(String, Option<String>), u64>,
    /// Set when fitting: this step's `id` (a link's target), and the `id` its links go to.
    pub id: Option<String>,
    pub link_to: Option<String>,
    pub children: Vec<Node>,
}

impl Node {
    fn child(
        &mut self,
        name: &str,
        run: u32,
        variant: Option<&str>,
        nodes: &mut usize,
    ) -> Option<&mut Node> {
        let at = match self
            .children
            .iter()
            .position(|c| c.name == name && c.run == run && c.variant.as_deref() == variant)
        {
            Some(at) => at,
            None if *nodes >= MAX_NODES => return None,
            None => {
                *nodes += 1;
                self.children.push(Node {
                    name: name.to_string(),
                    run,
                    variant: variant.map(str::to_string),
                    ..Node::default()
                });
                self.children.len() - 1
            }
        };
        Some(&mut self.children[at])
    }

    /// Calls per parent instance, including the instances where the node was absent.
    pub fn count_table(&self, parent_instances: u64, calls: bool) -> BTreeMap<u64, u64> {
        let mut table = if calls {
            self.counts.clone()
        } else {
            self.span_counts.clone()
        };
        let absent = parent_instances.saturating_sub(self.present);
        if absent > 0 {
            *table.entry(0).or_default() += absent;
        }
        table
    }
}

/// The spans of one name anywhere in a shape: what `check` reports per span name.
#[derive(Clone, Debug, Default)]
pub struct NameStats {
    pub spans: u64,
    pub errors: u64,
    pub latency: Sample,
}

/// The walk's running state: nodes made so far and the per-name statistics.
#[derive(Debug, Default)]
struct Ctx {
    nodes: usize,
    names: BTreeMap<String, NameStats>,
}

/// The traces of one root shape (root name and service).
#[derive(Clone, Debug, Default)]
pub struct Shape {
    pub root: Node,
    pub traces: u64,
    pub nodes: usize,
    pub first_start_ns: u64,
    pub last_start_ns: u64,
    /// Traces per minute of the input's clock (minute index → traces), for the rate's shape.
    pub per_minute: BTreeMap<u64, u64>,
    /// Traces per second, while at most [`MAX_SECONDS`] seconds are seen.
    pub per_second: BTreeMap<u64, u64>,
    pub per_second_overflow: bool,
    pub names: BTreeMap<String, NameStats>,
    /// Each service's versions and instances, from the resources of its spans.
    pub services: BTreeMap<String, ServiceSeen>,
}

/// Most seconds counted apart (28 hours): past them, minutes.
pub const MAX_SECONDS: usize = 100_000;

/// Most instance ids kept per service (the format's limit).
const MAX_INSTANCES: usize = 1_000;

/// What the resources said of one service.
#[derive(Clone, Debug, Default)]
pub struct ServiceSeen {
    pub spans: u64,
    pub versions: BTreeMap<String, u64>,
    pub instances: std::collections::BTreeSet<String>,
}

impl ServiceSeen {
    fn add(&mut self, span: &RawSpan) {
        self.spans += 1;
        let Some(r) = &span.resource else { return };
        if let Some(v) = &r.version
            && (self.versions.len() < MAX_INSTANCES || self.versions.contains_key(v))
        {
            bump(&mut self.versions, v.clone());
        }
        if let Some(i) = &r.instance
            && self.instances.len() < MAX_INSTANCES
        {
            self.instances.insert(i.clone());
        }
    }
}

/// Everything measured, and what was dropped.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    pub shapes: BTreeMap<(String, String), Shape>,
    pub traces: u64,
    pub spans: u64,
    /// Spans whose parent never arrived, or of a second root.
    pub orphans: u64,
    /// Spans below nodes beyond [`MAX_NODES`], or traces of shapes beyond [`MAX_SHAPES`].
    pub over_limit: u64,
    /// Traces without a root span.
    pub rootless: u64,
}

impl Measured {
    /// Walks one whole trace.
    pub fn add_trace(&mut self, spans: Vec<RawSpan>) {
        self.spans += spans.len() as u64;
        let Some(walk) = Walk::new(&spans) else {
            self.rootless += 1;
            self.orphans += spans.len() as u64;
            return;
        };
        self.orphans += (spans.len() - walk.reachable) as u64;
        let root = &spans[walk.root];
        let key = (root.name.clone(), root.service.clone().unwrap_or_default());
        if !self.shapes.contains_key(&key) && self.shapes.len() >= MAX_SHAPES {
            self.over_limit += spans.len() as u64;
            return;
        }
        self.traces += 1;
        let shape = self.shapes.entry(key).or_default();
        if shape.traces == 0 {
            shape.first_start_ns = root.start_ns;
            shape.root.name.clone_from(&root.name);
        }
        shape.traces += 1;
        shape.first_start_ns = shape.first_start_ns.min(root.start_ns);
        shape.last_start_ns = shape.last_start_ns.max(root.start_ns);
        bump(&mut shape.per_minute, root.start_ns / 60_000_000_000);
        let second = root.start_ns / 1_000_000_000;
        if shape.per_second.len() < MAX_SECONDS || shape.per_second.contains_key(&second) {
            bump(&mut shape.per_second, second);
        } else {
            shape.per_second_overflow = true;
        }
        for span in &spans {
            if let Some(service) = &span.service {
                if !shape.services.contains_key(service) && shape.services.len() >= MAX_INSTANCES {
                    continue;
                }
                shape.services.entry(service.clone()).or_default().add(span);
            }
        }
        shape.root.present += 1;
        bump(&mut shape.root.counts, 1);
        let mut ctx = Ctx {
            nodes: shape.nodes,
            names: std::mem::take(&mut shape.names),
        };
        let dropped = walk.call(&mut shape.root, &[walk.root], (false, false), &mut ctx);
        shape.nodes = ctx.nodes;
        shape.names = ctx.names;
        self.over_limit += dropped;
    }
}

/// One trace, indexed for the walk.
struct Walk<'a> {
    spans: &'a [RawSpan],
    index: FxHashMap<u64, usize>,
    children: Vec<Vec<usize>>,
    root: usize,
    reachable: usize,
}

impl<'a> Walk<'a> {
    fn new(spans: &'a [RawSpan]) -> Option<Walk<'a>> {
        let index: FxHashMap<u64, usize> = spans
            .iter()
            .enumerate()
            .map(|(i, s)| (s.span_id, i))
            .collect();
        let mut children = vec![Vec::new(); spans.len()];
        let mut roots = Vec::new();
        for (i, span) in spans.iter().enumerate() {
            match span.parent.and_then(|p| index.get(&p)) {
                Some(&p) if p != i => children[p].push(i),
                _ if span.parent.is_none() => roots.push(i),
                _ => {}
            }
        }
        let root = *roots.iter().min_by_key(|&&i| (spans[i].start_ns, i))?;
        for kids in &mut children {
            kids.sort_by_key(|&i| (spans[i].start_ns, spans[i].end_ns, i));
        }
        let mut walk = Walk {
            spans,
            index,
            children,
            root,
            reachable: 0,
        };
        walk.reachable = walk.size(root, 0);
        Some(walk)
    }

    fn size(&self, at: usize, depth: usize) -> usize {
        if depth > 256 {
            return 1;
        }
        1 + self.children[at]
            .iter()
            .map(|&c| self.size(c, depth + 1))
            .sum::<usize>()
    }

    /// One call of `node`: its attempt spans, with (parent failed, an earlier sibling failed).
    /// Returns the spans dropped for the node limit.
    fn call(
        &self,
        node: &mut Node,
        attempts: &[usize],
        around: (bool, bool),
        ctx: &mut Ctx,
    ) -> u64 {
        let mut attempts = attempts.to_vec();
        let mut body = attempts.clone();
        let attempt_name = format!("{}.attempt", node.name);
        if let [only] = attempts[..] {
            let inner: Vec<usize> = self.children[only]
                .iter()
                .copied()
                .filter(|&c| self.spans[c].name == attempt_name)
                .collect();
            if !inner.is_empty() {
                node.attempt_children = true;
                attempts = inner;
                self.record_spans(node, &[only], false, ctx);
                body = vec![only];
            }
        }
        node.calls += 1;
        let first = self.spans[attempts[0]].error;
        match around {
            (true, _) => node.after_parent_error.add(first),
            (false, true) => node.after_sibling_error.add(first),
            (false, false) => node.plain.add(first),
        }
        self.record_spans(node, &attempts, true, ctx);
        self.record_retry(node, &attempts);
        if !node.attempt_children {
            for &span in &body {
                self.record_needed(node, span);
            }
        }
        let mut dropped = 0;
        for &span in &body {
            let skip = if node.attempt_children {
                Some(attempt_name.as_str())
            } else {
                None
            };
            dropped += self.children_of(node, span, skip, ctx);
        }
        // An MCP call's attempts have children of their own: the callee's SERVER span.
        if node.attempt_children {
            for &attempt in &attempts {
                dropped += self.children_of(node, attempt, None, ctx);
            }
        }
        dropped
    }

    /// Latency, errors, attributes and kinds of spans; `timed` false for an MCP call's own span,
    /// whose duration covers its attempts and is not drawn from the step's latency.
    fn record_spans(&self, node: &mut Node, spans: &[usize], timed: bool, ctx: &mut Ctx) {
        for &i in spans {
            let span = &self.spans[i];
            let by_name = ctx.names.entry(span.name.clone()).or_default();
            by_name.spans += 1;
            by_name.errors += u64::from(span.error);
            by_name.latency.add(span.duration_ms());
            if !timed {
                node.kinds[usize::from(span.kind.min(5))] += 1;
                if let Some(s) = &span.service {
                    bump(&mut node.services, s.clone());
                }
                continue;
            }
            node.spans += 1;
            node.latency.add(span.duration_ms());
            if span.error {
                bump(&mut node.error_types, span.error_type());
            }
            if !node.attempt_children {
                node.kinds[usize::from(span.kind.min(5))] += 1;
                if let Some(s) = &span.service {
                    bump(&mut node.services, s.clone());
                }
            }
            if let Some(&k) = self.children[i].iter().find(|&&k| {
                let child = &self.spans[k];
                child.kind == 2 && child.service != span.service
            }) {
                let server = &self.spans[k];
                let before = server.start_ns.saturating_sub(span.start_ns);
                let after = span.end_ns.saturating_sub(server.end_ns);
                node.served += 1;
                node.network.add((before + after) as f64 / 2e6);
            }
            node.links += span.links.len() as u64;
            for (trace, id) in &span.links {
                if let Some(&target) = (*trace == span.trace_id)
                    .then(|| self.index.get(id))
                    .flatten()
                {
                    let t = &self.spans[target];
                    let key = (
                        t.name.clone(),
                        t.attr_str("gen_ai.tool.name").map(str::to_string),
                    );
                    if node.link_targets.len() < 8 || node.link_targets.contains_key(&key) {
                        bump(&mut node.link_targets, key);
                    }
                }
            }
            node.links_out_of_trace += span
                .links
                .iter()
                .filter(|(t, _)| *t != span.trace_id)
                .count() as u64;
            for (key, value) in &span.attributes {
                node.attributes.entry(key.clone()).or_default().add(value);
            }
        }
    }

    fn record_needed(&self, node: &mut Node, span: usize) {
        let kids = &self.children[span];
        let parent = &self.spans[span];
        let (Some(&first), Some(last_end)) = (
            kids.first(),
            kids.iter().map(|&k| self.spans[k].end_ns).max(),
        ) else {
            node.needed.add(0.0);
            return;
        };
        let overlap = kids
            .windows(2)
            .any(|w| self.spans[w[1]].start_ns < self.spans[w[0]].end_ns);
        let needed_ns = if overlap {
            last_end.saturating_sub(self.spans[first].start_ns)
        } else {
            // Durations, and the backoff before each retry attempt (part of what they need).
            let durations: u64 = kids
                .iter()
                .map(|&k| self.spans[k].end_ns - self.spans[k].start_ns)
                .sum();
            let retried = |k: usize| {
                self.spans[k]
                    .attr("retry.attempt")
                    .and_then(|v| v.number())
                    .is_some_and(|n| n > 1.0)
            };
            let backoffs: u64 = kids
                .windows(2)
                .filter(|w| retried(w[1]))
                .map(|w| {
                    self.spans[w[1]]
                        .start_ns
                        .saturating_sub(self.spans[w[0]].end_ns)
                })
                .sum();
            durations + backoffs
        };
        node.needed.add(needed_ns as f64 / 1e6);
        let tight = self.spans[first].start_ns.saturating_sub(parent.start_ns) <= 1_000
            && parent.end_ns.saturating_sub(last_end) <= 1_000;
        node.stretched += u64::from(tight);
    }

    fn record_retry(&self, node: &mut Node, attempts: &[usize]) {
        let r = &mut node.retry;
        bump_at(&mut r.attempts, attempts.len() - 1);
        for (k, &i) in attempts.iter().enumerate() {
            let span = &self.spans[i];
            bump_at(&mut r.reached, k);
            if r.succeeded.len() <= k {
                r.succeeded.resize(k + 1, 0);
            }
            r.succeeded[k] += u64::from(!span.error);
            if let Some(&next) = attempts.get(k + 1) {
                if r.gaps.len() <= k {
                    r.gaps.resize(k + 1, Sample::default());
                }
                let gap = self.spans[next].start_ns.saturating_sub(span.end_ns);
                r.gaps[k].add(gap as f64 / 1e6);
                if span.error {
                    bump(&mut r.retried, span.error_type());
                }
            } else if span.error {
                bump(&mut r.final_types, span.error_type());
            }
        }
    }

    /// The children of one span, as runs of calls of child nodes.
    fn children_of(
        &self,
        node: &mut Node,
        parent: usize,
        skip: Option<&str>,
        ctx: &mut Ctx,
    ) -> u64 {
        let mut kids: Vec<usize> = self.children[parent]
            .iter()
            .copied()
            .filter(|&c| Some(self.spans[c].name.as_str()) != skip)
            .collect();
        let mut overlap = false;
        if kids.len() >= 2 {
            node.fan_outs += 1;
            overlap = kids.windows(2).any(|w| {
                let (a, b) = (&self.spans[w[0]], &self.spans[w[1]]);
                b.start_ns < a.end_ns && a.end_ns > a.start_ns
            });
            node.overlapped += u64::from(overlap);
        }
        // A fan-out's children start in no fixed order: grouped by name and tool instead.
        let variant = |k: usize| {
            overlap
                .then(|| self.spans[k].attr_str("gen_ai.tool.name"))
                .flatten()
        };
        if overlap {
            kids.sort_by_key(|&k| {
                (
                    self.spans[k].name.as_str(),
                    variant(k),
                    self.spans[k].start_ns,
                )
            });
        }
        let parent_failed = self.spans[parent].error;
        let mut sibling_failed = false;
        let mut runs: FxHashMap<(&str, Option<&str>), u32> = FxHashMap::default();
        let mut dropped = 0;
        let mut at = 0;
        let mut position = 0;
        while at < kids.len() {
            let name = self.spans[kids[at]].name.as_str();
            let tool = variant(kids[at]);
            let end = at
                + kids[at..]
                    .iter()
                    .take_while(|&&k| self.spans[k].name == name && variant(k) == tool)
                    .count();
            let run = runs.entry((name, tool)).or_default();
            let Some(child) = node.child(name, *run, tool, &mut ctx.nodes) else {
                dropped += kids[at..end]
                    .iter()
                    .map(|&k| self.size(k, 0) as u64)
                    .sum::<u64>();
                at = end;
                continue;
            };
            *run += 1;
            let calls = self.calls(&kids[at..end]);
            child.present += 1;
            child.rank_sum += position;
            position += 1;
            bump(&mut child.counts, calls.len() as u64);
            bump(&mut child.span_counts, (end - at) as u64);
            for (k, call) in calls.into_iter().enumerate() {
                if k < POSITIONS {
                    if child.positions.len() <= k {
                        child.positions.resize(k + 1, Sample::default());
                    }
                    for &i in &call {
                        child.positions[k].add(self.spans[i].duration_ms());
                    }
                }
                dropped += self.call(child, &call, (parent_failed, sibling_failed), ctx);
                sibling_failed |= call.iter().any(|&i| self.spans[i].error);
            }
            at = end;
        }
        dropped
    }

    /// A run of same-name siblings split into calls (retry sequences).
    fn calls(&self, run: &[usize]) -> Vec<Vec<usize>> {
        let marked = run
            .iter()
            .any(|&i| self.spans[i].attr("retry.attempt").is_some());
        let mut calls: Vec<Vec<usize>> = Vec::new();
        for &i in run {
            let span = &self.spans[i];
            let continues = match calls.last().and_then(|c| c.last()) {
                None => false,
                Some(_) if marked => span
                    .attr("retry.attempt")
                    .and_then(|v| v.number())
                    .is_some_and(|n| n > 1.0),
                Some(&prev) => {
                    let prev = &self.spans[prev];
                    !span.simulated && prev.error && prev.end_ns <= span.start_ns
                }
            };
            match calls.last_mut() {
                Some(call) if continues => call.push(i),
                _ => calls.push(vec![i]),
            }
        }
        calls
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::span::AttrValue;

    fn span(id: u64, parent: Option<u64>, name: &str, ms: (u64, u64), error: bool) -> RawSpan {
        RawSpan {
            trace_id: 1,
            span_id: id,
            parent,
            name: name.into(),
            service: None,
            resource: None,
            kind: 1,
            start_ns: ms.0 * 1_000_000,
            end_ns: ms.1 * 1_000_000,
            error,
            message: String::new(),
            attributes: Vec::new(),
            links: Vec::new(),
            simulated: false,
        }
    }

    fn walk(spans: Vec<RawSpan>) -> Shape {
        let mut m = Measured::default();
        m.add_trace(spans);
        m.shapes.into_values().next().unwrap()
    }

    #[test]
    fn same_name_runs_are_separate_nodes_and_failed_repeats_are_retries() {
        let shape = walk(vec![
            span(1, None, "root", (0, 100), false),
            span(2, Some(1), "llm", (1, 10), false),
            span(3, Some(1), "tool", (11, 20), true),
            span(4, Some(1), "tool", (25, 30), false),
            span(5, Some(1), "llm", (31, 40), false),
        ]);
        let names: Vec<_> = shape
            .root
            .children
            .iter()
            .map(|c| (c.name.as_str(), c.run))
            .collect();
        assert_eq!(names, [("llm", 0), ("tool", 0), ("llm", 1)]);
        let tool = &shape.root.children[1];
        assert_eq!((tool.calls, tool.spans), (1, 2));
        assert_eq!(tool.retry.attempts, [0, 1]);
        assert_eq!(tool.retry.gaps[0].mean(), 5.0);
        assert_eq!(shape.names["tool"].spans, 2);
    }

    #[test]
    fn marked_attempts_and_mcp_attempt_children_are_retries_and_unmarked_simulated_spans_are_not() {
        let mut a = span(2, Some(1), "x.llm.call", (1, 10), true);
        a.attributes
            .push(("retry.attempt".into(), AttrValue::Int(1)));
        let mut b = span(3, Some(1), "x.llm.call", (20, 30), false);
        b.attributes
            .push(("retry.attempt".into(), AttrValue::Int(2)));
        let mut c = span(4, Some(1), "x.task", (31, 40), true);
        let mut d = span(5, Some(1), "x.task", (41, 50), false);
        c.simulated = true;
        d.simulated = true;
        let shape = walk(vec![
            span(1, None, "root", (0, 100), false),
            a,
            b,
            c,
            d,
            span(6, Some(1), "x.mcp.tool.execute", (51, 90), false),
            span(7, Some(6), "x.mcp.tool.execute.attempt", (51, 60), true),
            span(8, Some(6), "x.mcp.tool.execute.attempt", (70, 90), false),
        ]);
        let [llm, task, tool] = &shape.root.children[..] else {
            panic!()
        };
        assert_eq!((llm.calls, llm.spans), (1, 2));
        assert_eq!((task.calls, task.spans), (2, 2));
        assert!(tool.attempt_children);
        assert_eq!((tool.calls, tool.spans, tool.children.len()), (1, 2, 0));
        assert_eq!(tool.retry.gaps[0].mean(), 10.0);
    }

    #[test]
    fn a_parent_that_ends_with_its_children_is_counted_as_stretched() {
        let shape = walk(vec![
            span(1, None, "root", (0, 20), false),
            span(2, Some(1), "a", (0, 12), false),
            span(3, Some(1), "b", (12, 20), false),
        ]);
        assert_eq!(shape.root.stretched, 1);
        assert_eq!(shape.root.needed.mean(), 20.0);
    }
}
