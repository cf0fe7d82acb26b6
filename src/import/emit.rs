//! A fitted shape as scenario YAML a person reads: every step says what was measured (spans,
//! traces, fit errors) and what was left out and why, in comments beside the keys.
//!
//! Written as text rather than by serialising the scenario model: the model has no comments,
//! and the file is for reading first. `validate` and `check` read it back (the tests do both).

use super::fit::{self, Count, Latency};
use super::recognise::{Recognised, generated_key, recognise};
use super::span::AttrValue;
use super::stats::AttrStats;
use super::tree::{Node, Shape};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What emitting a shape measured, for the summary and the report.
#[derive(Clone, Debug, Default)]
pub struct Emitted {
    pub yaml: String,
    /// Input statistics per emitted span name: (name, spans, per trace, p50/95/99, error rate,
    /// mean attempts).
    pub rows: Vec<Row>,
    /// Worst latency fit error over the nodes, and where.
    pub worst_fit: (f64, String),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    pub name: String,
    pub spans: u64,
    pub per_trace: f64,
    pub latency: [f64; 3],
    pub error_rate: f64,
    pub mean_attempts: Option<f64>,
    /// The input's latencies, for `--plot`.
    pub latencies_ms: crate::check::sketch::Quantiles,
}

/// Formats a number with at most `digits` decimals, without trailing zeros.
fn num(x: f64, digits: usize) -> String {
    let text = format!("{x:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// `x` with four significant digits (token costs are fractions of a cent).
fn significant(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return "0".into();
    }
    let digits = (3 - x.abs().log10().floor() as i32).clamp(0, 12) as usize;
    num(x, digits)
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn pct(x: f64) -> String {
    format!("{}%", num(100.0 * x, 1))
}

const KINDS: [&str; 6] = [
    "internal", "internal", "server", "client", "producer", "consumer",
];

fn dominant<K: Clone + Ord>(m: &BTreeMap<K, u64>) -> Option<K> {
    m.iter()
        .max_by_key(|(k, n)| (**n, std::cmp::Reverse((*k).clone())))
        .map(|(k, _)| k.clone())
}

pub struct Emitter<'a> {
    out: String,
    /// Input span name → emitted name.
    renamed: BTreeMap<String, String>,
    /// Emitted name of the attempt spans → (attempt spans, calls).
    attempts: BTreeMap<String, (u64, u64)>,
    worst: (f64, String),
    traces: u64,
    /// The prefix the input's agent spans use (their attribute keys are written with `vendor.`).
    prefix: &'a str,
    multi_service: bool,
}

/// The scenario for one shape.
pub fn scenario(shape: &mut Shape, name: &str, weight: f64, prefix: &str, header: &str) -> Emitted {
    super::remote::fold(&mut shape.root);
    super::links::resolve(&mut shape.root);
    let multi_service = shape.services.len() > 1;
    let mut e = Emitter {
        out: String::new(),
        renamed: BTreeMap::new(),
        attempts: BTreeMap::new(),
        worst: (0.0, String::new()),
        traces: shape.traces,
        prefix,
        multi_service,
    };
    e.top(shape, name, weight, header);
    let root_instances = shape.traces;
    e.step(&mut shape.root, root_instances, 1, None, true);
    let rows = e.rows(shape);
    Emitted {
        yaml: e.out,
        rows,
        worst_fit: e.worst,
    }
}

/// A service's settings: its version and instances, as its resources said.
fn service_entry(seen: &super::tree::ServiceSeen) -> String {
    let mut keys = Vec::new();
    if let Some(v) = dominant(&seen.versions) {
        keys.push(format!("version: {}", quote(&v)));
    }
    if seen.instances.len() > 1 {
        keys.push(format!("instances: {}", seen.instances.len()));
    }
    format!("{{{}}}", keys.join(", "))
}

impl Emitter<'_> {
    fn top(&mut self, shape: &Shape, name: &str, weight: f64, header: &str) {
        let o = &mut self.out;
        let _ = writeln!(
            o,
            "# Imported by `telemetry-simulator import`: {} traces of root {:?}.",
            shape.traces, shape.root.name
        );
        for line in header.lines() {
            let _ = writeln!(o, "# {line}");
        }
        let _ = writeln!(o, "name: {name}");
        let _ = writeln!(
            o,
            "description: Fitted from {} recorded traces of {:?}",
            shape.traces, shape.root.name
        );
        let _ = writeln!(o, "tags: [imported]");
        let _ = writeln!(o, "repeat_count: {}", shape.traces.clamp(1, 1_000_000));
        let seconds = (shape.last_start_ns.saturating_sub(shape.first_start_ns)) as f64 / 1e9;
        let t = if shape.per_second_overflow {
            // Too long a recording for counts per second: per minute, as seconds.
            let minutes = shape.per_minute.iter().map(|(m, n)| (m * 60, *n)).collect();
            super::traffic::fit(&minutes, shape.traces)
        } else {
            super::traffic::fit(&shape.per_second, shape.traces)
        };
        let _ = writeln!(
            o,
            "# Arrivals: {} traces over {} s; per {} s window {} traces/s on average, {} at least, {} at most.",
            shape.traces,
            num(seconds, 1),
            t.window_s,
            significant(t.rates[0]),
            significant(t.rates[1]),
            significant(t.rates[2])
        );
        let _ = writeln!(o, "interval_ms: {}", num(t.interval_ms.max(0.0), 3));
        let why = match t.shape {
            super::traffic::Shape::Constant => {
                "   # no shape explains half the counts' variance".to_string()
            }
            _ => format!(
                "   # explains {} of the counts' variance (the input's phase is not kept)",
                pct(t.explained)
            ),
        };
        let _ = writeln!(o, "traffic: {}{why}", t.value());
        let _ = writeln!(o, "weight: {}", num(weight, 4));
        if self.multi_service {
            let _ = writeln!(o, "services:");
            for (s, seen) in &shape.services {
                let _ = writeln!(o, "  {}: {}", quote(s), service_entry(seen));
            }
        }
        let _ = writeln!(o, "root:");
    }

    /// One step at `indent` levels; `parent_service` to write `service:` only where it changes.
    fn step(
        &mut self,
        node: &mut Node,
        parent_instances: u64,
        depth: usize,
        parent_service: Option<&str>,
        is_root: bool,
    ) {
        let pad = "  ".repeat(depth);
        let recognised = recognise(node, is_root);
        let t = recognised.span_type();
        let kind = dominant(
            &node
                .kinds
                .iter()
                .enumerate()
                .map(|(k, n)| (k, *n))
                .collect(),
        )
        .unwrap_or(1);
        let emitted_name = match &recognised {
            Recognised::Name(t, _) | Recognised::GenAi(t, _) => t.span_name(self.prefix),
            Recognised::Generic => node.name.clone(),
        };
        let o = &mut self.out;
        let _ = writeln!(
            o,
            "{pad}# {}: {} spans in {} calls; kind {}",
            quote(&node.name),
            node.spans,
            node.calls,
            KINDS[kind]
        );
        match &recognised {
            Recognised::Name(t, _) => {
                let _ = writeln!(o, "{pad}type: {}", t.suffix());
            }
            Recognised::GenAi(t, was) => {
                let _ = writeln!(
                    o,
                    "{pad}type: {}   # by gen_ai.operation.name; the input named it {}",
                    t.suffix(),
                    quote(was)
                );
            }
            Recognised::Generic => {
                // Written as recorded: a `{key}` naming none of the step's attributes stays as
                // written (the format has no escape for braces).
                let _ = writeln!(o, "{pad}name: {}", quote(&node.name));
                let _ = writeln!(o, "{pad}kind: {}", KINDS[kind]);
            }
        }
        let service = dominant(&node.services);
        if self.multi_service
            && service.as_deref() != parent_service
            && let Some(s) = &service
        {
            let _ = writeln!(o, "{pad}service: {}", quote(s));
        }
        let retry = fit::retry(&mut node.retry);
        if !is_root {
            self.count(
                node,
                parent_instances,
                &pad,
                retry.is_some() || node.attempt_children,
            );
        }
        self.latency(node, &pad, &emitted_name);
        self.error(node, &pad, retry.as_ref());
        if let Some(r) = &retry {
            self.retry(r, &pad);
        }
        self.attributes(node, t, &pad);
        self.llm(node, t, &pad);
        self.links(node, &pad);
        self.remote(node, &pad, &emitted_name, t.is_none());
        self.renamed.insert(node.name.clone(), emitted_name.clone());
        if node.attempt_children || node.retry.most_attempts() > 1 {
            let attempts = if node.attempt_children {
                format!("{emitted_name}.attempt")
            } else {
                emitted_name.clone()
            };
            let entry = self.attempts.entry(attempts).or_default();
            entry.0 += node.spans;
            entry.1 += node.calls;
        }
        let inside = node.remote.clone().or(service);
        self.children(node, depth, inside.as_deref(), &pad);
    }

    /// Links: to the previous trace when most spans link out of their trace (the generator's
    /// `previous_trace`); links inside a trace (to a step id) are counted but not fitted.
    fn links(&mut self, node: &Node, pad: &str) {
        let o = &mut self.out;
        if let Some(id) = &node.id {
            let _ = writeln!(o, "{pad}id: {id}   # a link's target");
        }
        if node.links == 0 {
            return;
        }
        let inside = node.links - node.links_out_of_trace;
        if node.links_out_of_trace * 2 >= node.spans {
            let _ = writeln!(
                o,
                "{pad}links: [{{to: previous_trace}}]   # {} links to other traces on {} spans",
                node.links_out_of_trace, node.spans
            );
        } else if node.links_out_of_trace > 0 {
            let _ = writeln!(
                o,
                "{pad}# {} links to other traces on {} spans: too few to fit",
                node.links_out_of_trace, node.spans
            );
        }
        if let Some(to) = &node.link_to {
            let _ = writeln!(
                o,
                "{pad}links: [{{to: {to}}}]   # {inside} links inside the trace on {} spans",
                node.spans
            );
        } else if inside > 0 {
            let _ = writeln!(o, "{pad}# {inside} links inside the trace: too few to fit");
        }
    }

    /// An `llm:` block when the input's LLM spans carried a cost: the generator derives it again
    /// from the fitted tokens and the model's price (the latency stays the fitted one). A
    /// streamed call's TTFT needs `timing: tokens`, which would replace the fitted latency: it is
    /// left out, and said so.
    fn llm(&mut self, node: &Node, t: Option<crate::scenario::SpanType>, pad: &str) {
        if t != Some(crate::scenario::SpanType::LlmCall) {
            return;
        }
        let on_most = |key: &str| {
            node.attributes
                .get(key)
                .is_some_and(|a| a.present * 2 >= node.spans)
        };
        let o = &mut self.out;
        if on_most("gen_ai.usage.cost") || on_most("llm.cost.total") {
            let _ = writeln!(
                o,
                "{pad}llm: {{}}   # the input's spans had a cost: derived again from tokens and the model's price"
            );
        }
        if on_most("gen_ai.response.time_to_first_chunk") {
            let _ = writeln!(
                o,
                "{pad}# streamed (time to first chunk on its spans): `llm: {{timing: tokens, stream: true}}` would draw it, with the duration from tokens instead of the fitted latency"
            );
        }
    }

    /// A call into another service, its SERVER span folded in ([`super::remote`]).
    fn remote(&mut self, node: &mut Node, pad: &str, emitted_name: &str, generic: bool) {
        let Some(service) = &node.remote else { return };
        let o = &mut self.out;
        let _ = writeln!(
            o,
            "{pad}remote:   # a SERVER span of {} under {} of {} spans",
            quote(service),
            node.served,
            node.spans
        );
        let _ = writeln!(o, "{pad}  service: {}", quote(service));
        // Typed steps name their server spans by convention; a generic one's is the client's.
        if let Some(name) = node
            .remote_name
            .as_ref()
            .filter(|n| generic && *n != emitted_name)
        {
            let _ = writeln!(o, "{pad}  name: {}", quote(name));
        }
        let [p50, p95, _] = node.network.percentiles();
        let sigma = (p95 / p50.max(1e-9)).ln() / 1.644_853_6;
        if p50 > 0.0 && sigma.is_finite() && sigma >= 1e-3 {
            let _ = writeln!(
                o,
                "{pad}  network_ms: {{distribution: log_normal, median_ms: {}, sigma: {}}}   # each way",
                significant(p50),
                num(sigma.min(3.0), 4)
            );
        } else {
            let _ = writeln!(
                o,
                "{pad}  network_ms: {}   # each way",
                significant(p50.max(0.0))
            );
        }
    }

    fn children(&mut self, node: &mut Node, depth: usize, service: Option<&str>, pad: &str) {
        if node.children.is_empty() {
            return;
        }
        if node.fan_outs > 0 && node.overlapped * 2 > node.fan_outs {
            let _ = writeln!(
                self.out,
                "{pad}parallel: true   # children overlapped in {} of {} instances",
                node.overlapped, node.fan_outs
            );
        }
        let _ = writeln!(self.out, "{pad}children:");
        let mut order: Vec<usize> = (0..node.children.len()).collect();
        order.sort_by(|&a, &b| {
            let rank = |c: &Node| c.rank_sum as f64 / c.present.max(1) as f64;
            rank(&node.children[a])
                .total_cmp(&rank(&node.children[b]))
                .then(a.cmp(&b))
        });
        let instances = node.spans.max(1)
            - if node.attempt_children {
                node.spans - node.calls
            } else {
                0
            };
        let instances = if node.attempt_children {
            node.calls
        } else {
            instances
        };
        let mut steps = Vec::new();
        for i in order {
            steps.extend(
                split(&node.children[i])
                    .unwrap_or_else(|| vec![std::mem::take(&mut node.children[i])]),
            );
        }
        super::runs::fold(&mut steps, instances);
        for mut step in steps {
            self.item(&mut step, instances, depth, service);
        }
    }

    /// One list item: the step, its first line carrying the dash.
    fn item(&mut self, step: &mut Node, instances: u64, depth: usize, service: Option<&str>) {
        let mark = self.out.len();
        self.step(step, instances, depth + 2, service, false);
        // The first key of a list item carries the dash.
        let item_pad = "  ".repeat(depth + 2);
        let first = self.out[mark..].find(&item_pad).map(|p| mark + p);
        if let Some(p) = first {
            self.out.replace_range(
                p..p + item_pad.len(),
                &format!("{}- ", "  ".repeat(depth + 1)),
            );
        }
    }

    fn count(&mut self, node: &Node, parent_instances: u64, pad: &str, calls: bool) {
        let table = node.count_table(parent_instances, calls);
        let (probability, count) = fit::count(&table);
        let o = &mut self.out;
        if probability < 1.0 {
            let _ = writeln!(
                o,
                "{pad}probability: {}   # present under {} of {} parent spans",
                num(probability, 4),
                node.present,
                parent_instances
            );
        }
        match count {
            Count::Fixed(1) => {}
            Count::Fixed(n) => {
                let _ = writeln!(o, "{pad}count: {n}");
            }
            Count::Poisson { lambda, min, max } => {
                let _ = writeln!(
                    o,
                    "{pad}count: {{distribution: poisson, lambda: {}, min: {min}, max: {max}}}   # best by AIC",
                    num(lambda, 4)
                );
            }
            Count::Geometric { p, min, max } => {
                let _ = writeln!(
                    o,
                    "{pad}count: {{distribution: geometric, p: {}, min: {min}, max: {max}}}   # best by AIC",
                    num(p, 4)
                );
            }
            Count::Categorical(values) => {
                let (min, max) = (values[0].0, values[values.len() - 1].0);
                let list: Vec<String> = values
                    .iter()
                    .map(|(k, w)| format!("{k}: {}", num(*w, 4)))
                    .collect();
                let _ = writeln!(
                    o,
                    "{pad}count: {{distribution: categorical, values: {{{}}}, min: {min}, max: {max}}}   # best by AIC",
                    list.join(", ")
                );
            }
        }
    }

    fn latency(&mut self, node: &mut Node, pad: &str, name: &str) {
        let stretched = fit::stretched_latency(&mut node.latency, &node.needed, node.stretched);
        let corrected = stretched.is_some();
        let f = stretched.unwrap_or_else(|| fit::latency(&mut node.latency));
        let worst = f.errors.iter().copied().fold(0.0, f64::max);
        if worst > self.worst.0 {
            self.worst = (worst, name.to_string());
        }
        let o = &mut self.out;
        let _ = writeln!(
            o,
            "{pad}# latency of {} spans: p50 {} ms, p95 {} ms, p99 {} ms; fit error {} / {} / {}",
            f.samples,
            num(f.observed[0], 2),
            num(f.observed[1], 2),
            num(f.observed[2], 2),
            pct(f.errors[0]),
            pct(f.errors[1]),
            pct(f.errors[2])
        );
        if corrected {
            let _ = writeln!(
                o,
                "{pad}# {} of {} spans were stretched to contain their children: fitted as max(latency, children)",
                node.stretched, node.spans
            );
        }
        match f.latency {
            Latency::Zero => {
                let _ = writeln!(o, "{pad}latency: 0");
            }
            // A spread too small to write is a constant (a log-normal needs sigma > 0).
            Latency::LogNormal { median, sigma } if sigma < 1e-4 || !sigma.is_finite() => {
                let _ = writeln!(o, "{pad}latency: {}", significant(median));
            }
            Latency::LogNormal { median, sigma } => {
                let _ = writeln!(
                    o,
                    "{pad}latency: {{distribution: log_normal, median_ms: {}, sigma: {}}}",
                    significant(median),
                    num(sigma, 4)
                );
            }
            Latency::Mixture(components) => {
                let _ = writeln!(o, "{pad}latency:   # bimodal: two log-normal components");
                let _ = writeln!(o, "{pad}  distribution: mixture");
                let _ = writeln!(o, "{pad}  components:");
                for (w, m, s) in components {
                    let _ = writeln!(
                        o,
                        "{pad}    - {{weight: {}, distribution: log_normal, median_ms: {}, sigma: {}}}",
                        num(w, 4),
                        significant(m),
                        num(s.max(1e-4), 4)
                    );
                }
            }
            Latency::Empirical(bins) => {
                let _ = writeln!(
                    o,
                    "{pad}latency:   # no parametric fit within {}: the empirical distribution",
                    pct(fit::TOLERANCE)
                );
                let _ = writeln!(o, "{pad}  distribution: mixture");
                let _ = writeln!(o, "{pad}  components:");
                for (w, lo, hi) in bins {
                    let _ = writeln!(
                        o,
                        "{pad}    - {{weight: {}, distribution: uniform, low: {}, high: {}}}",
                        num(w, 4),
                        num(lo, 3),
                        num(hi, 3)
                    );
                }
            }
        }
    }

    fn error(&mut self, node: &Node, pad: &str, retry: Option<&fit::RetryFit>) {
        let e = fit::errors(
            node.plain,
            node.after_parent_error,
            node.after_sibling_error,
            &node.error_types,
        );
        let o = &mut self.out;
        if e.rate == 0.0 && e.propagation.is_none() && retry.is_none() {
            let _ = writeln!(
                o,
                "{pad}error: 0   # no failed first attempt in {} calls",
                e.calls
            );
            return;
        }
        let _ = writeln!(
            o,
            "{pad}error:   # first attempts: {} failed of {} calls",
            pct(e.rate),
            node.plain.calls
        );
        let _ = writeln!(o, "{pad}  rate: {}", num(e.rate, 4));
        let mut types = e.types.clone();
        if let Some(r) = retry {
            for t in &r.retryable {
                if !types.iter().any(|(k, _)| k == t) {
                    types.push((t.clone(), 0.0));
                }
            }
        }
        if !types.is_empty() {
            let names: Vec<String> = types.iter().map(|(k, _)| quote(k)).collect();
            let weights: Vec<String> = types.iter().map(|(_, w)| num(w.max(1e-4), 4)).collect();
            let _ = writeln!(o, "{pad}  types: [{}]", names.join(", "));
            let _ = writeln!(o, "{pad}  type_weights: [{}]", weights.join(", "));
        }
        if let Some(r) = retry {
            let names: Vec<String> = r.retryable.iter().map(|k| quote(k)).collect();
            let _ = writeln!(o, "{pad}  retryable_types: [{}]", names.join(", "));
        }
        if let Some((fp, cs)) = e.propagation {
            let _ = writeln!(
                o,
                "{pad}  propagation:   # failed {} of {} calls under a failed parent, {} of {} after a failed sibling",
                node.after_parent_error.failed,
                node.after_parent_error.calls,
                node.after_sibling_error.failed,
                node.after_sibling_error.calls
            );
            let _ = writeln!(o, "{pad}    from_parent: {}", num(fp, 4));
            let _ = writeln!(o, "{pad}    cascade_to_siblings: {}", num(cs, 4));
        }
    }

    fn retry(&mut self, r: &fit::RetryFit, pad: &str) {
        let o = &mut self.out;
        let _ = writeln!(o, "{pad}retry:   # {} sequences", r.sequences);
        let _ = writeln!(o, "{pad}  max_attempts: {}", r.max_attempts);
        let _ = writeln!(
            o,
            "{pad}  force_initial_failure: {}",
            r.force_initial_failure
        );
        let _ = writeln!(o, "{pad}  backoff_base_ms: {}", num(r.base_ms, 3));
        let _ = writeln!(o, "{pad}  backoff_multiplier: {}", num(r.multiplier, 3));
        let _ = writeln!(o, "{pad}  backoff_jitter: {}", num(r.jitter, 3));
        let rates: Vec<String> = r.success.iter().map(|s| num(*s, 4)).collect();
        let _ = writeln!(o, "{pad}  success_rate_per_attempt: [{}]", rates.join(", "));
    }

    fn attributes(&mut self, node: &Node, t: Option<crate::scenario::SpanType>, pad: &str) {
        let mut lines = Vec::new();
        let mut dropped = Vec::new();
        let mut derived: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (key, a) in &node.attributes {
            if let Some(why) = generated_key(key, t, self.prefix) {
                derived.entry(why).or_default().push(key);
                continue;
            }
            let written = if t.is_some() {
                key.strip_prefix(self.prefix)
                    .and_then(|r| r.strip_prefix('.'))
                    .map_or(key.clone(), |r| format!("vendor.{r}"))
            } else {
                key.clone()
            };
            match attribute(key, a, node.spans) {
                Ok(value) => lines.push(format!("{pad}  {}: {value}", quote(&written))),
                Err(why) => dropped.push(format!("{key} ({why})")),
            }
        }
        let o = &mut self.out;
        if !derived.is_empty() {
            let why: Vec<String> = derived
                .iter()
                .map(|(why, keys)| format!("{} ({why})", keys.join(", ")))
                .collect();
            let _ = writeln!(o, "{pad}# left to the generator: {}", why.join("; "));
        }
        if !dropped.is_empty() {
            let _ = writeln!(o, "{pad}# attributes left out: {}", dropped.join(", "));
        }
        if !lines.is_empty() {
            let _ = writeln!(o, "{pad}attributes:");
            for line in lines {
                let _ = writeln!(o, "{line}");
            }
        }
    }

    /// The input's statistics per emitted span name.
    fn rows(&self, shape: &mut Shape) -> Vec<Row> {
        let mut rows: Vec<Row> = shape
            .names
            .iter_mut()
            .map(|(name, n)| {
                let name = self
                    .renamed
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| name.clone());
                Row {
                    mean_attempts: self
                        .attempts
                        .get(&name)
                        .map(|(s, c)| *s as f64 / (*c).max(1) as f64),
                    name,
                    spans: n.spans,
                    per_trace: n.spans as f64 / self.traces.max(1) as f64,
                    latency: n.latency.percentiles(),
                    error_rate: n.errors as f64 / n.spans.max(1) as f64,
                    latencies_ms: n.latency.quantiles.clone(),
                }
            })
            .collect();
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        rows
    }
}

/// Two or three steps of one name in a row, told apart by their latencies (30 samples each,
/// medians more than 25%, half a log-normal sigma and 1 ms apart: instances of one step differ
/// by less): one step per position, each present with its own probability.
/// `None` keeps the run as one step with a count.
fn split(node: &Node) -> Option<Vec<Node>> {
    let most = *node.counts.keys().max()?;
    if node.attempt_children || !(2..=super::tree::POSITIONS as u64).contains(&most) {
        return None;
    }
    let mut medians = node.positions.iter().map(|p| {
        let mut p = p.clone();
        let [p50, p95, _] = p.percentiles();
        (p.count(), p50, (p95 / p50.max(1e-9)).ln() / 1.645)
    });
    let ((n0, m0, s0), (n1, m1, s1)) = (medians.next()?, medians.next()?);
    let apart = (m0.max(1e-9) / m1.max(1e-9)).ln().abs();
    if n0 < 30 || n1 < 30 || apart <= 0.25f64.max(0.5 * s0.max(s1)) || (m0 - m1).abs() < 1.0 {
        return None;
    }
    let steps = node
        .positions
        .iter()
        .enumerate()
        .map(|(k, latency)| {
            let reached: u64 = node.counts.range(k as u64 + 1..).map(|(_, n)| *n).sum();
            let mut step = node.clone();
            step.latency = latency.clone();
            step.present = reached;
            step.counts = std::collections::BTreeMap::from([(1, reached)]);
            step.span_counts = step.counts.clone();
            step.positions.clear();
            step
        })
        .collect();
    Some(steps)
}

fn literal(v: &AttrValue) -> String {
    match v {
        AttrValue::Str(s) | AttrValue::Other(s) => quote(s),
        AttrValue::Int(i) => i.to_string(),
        AttrValue::Double(d) => num(*d, 6),
        AttrValue::Bool(b) => b.to_string(),
    }
}

/// One attribute's value or distribution, or why it is left out.
fn attribute(key: &str, a: &AttrStats, spans: u64) -> Result<String, String> {
    if (a.present as f64) < 0.5 * spans as f64 {
        return Err(format!("on {} of {} spans", a.present, spans));
    }
    let distinct = a.values.len();
    // Integers of few values stay exact (categorical); token counts are rounded by the
    // generator, other integers need a distribution of whole numbers.
    let numeric_spread = a.numeric && (a.overflow || (!a.integer && distinct > 12));
    if numeric_spread && a.integer && !key.ends_with("tokens") {
        return Ok(format!(
            "{{distribution: poisson, lambda: {}}}",
            num(a.numbers.mean().max(0.0), 3)
        ));
    }
    if numeric_spread {
        let mut s = a.numbers.clone();
        let [p50, p95, _] = s.percentiles();
        if p50 > 0.0 && s.quantiles.quantile(0.0) > 0.0 {
            let sigma = (p95 / p50).ln() / 1.644_853_6;
            let median = significant(p50);
            // A median that rounds to 0, or a spread too small to write, is not a log-normal
            // the decoder accepts: the median as a constant instead.
            if sigma.is_finite() && sigma >= 1e-4 && median.parse::<f64>().is_ok_and(|m| m > 0.0) {
                return Ok(format!(
                    "{{distribution: log_normal, median: {median}, sigma: {}}}",
                    num(sigma, 4)
                ));
            }
            return Ok(median);
        }
        let mean = s.mean();
        let sd = (s.reservoir.iter().map(|x| (x - mean).powi(2)).sum::<f64>()
            / s.reservoir.len().max(1) as f64)
            .sqrt();
        if !mean.is_finite() || !sd.is_finite() {
            return Err("not finite numbers".into());
        }
        if sd <= 0.0 {
            return Ok(significant(mean));
        }
        return Ok(format!(
            "{{distribution: normal, mean: {}, stddev: {}}}",
            num(mean, 3),
            num(sd, 3)
        ));
    }
    if a.overflow
        || (distinct > 2 && distinct as u64 == a.present)
        || (distinct > 20 && distinct as f64 > 0.5 * a.present as f64)
    {
        return Err("a per-trace id: the generator makes its own".into());
    }
    if distinct == 1 {
        let (_, (v, _)) = a.values.iter().next().ok_or("no value")?;
        return Ok(literal(v));
    }
    let mut values: Vec<&(AttrValue, u64)> = a.values.values().collect();
    values.sort_by_key(|v| std::cmp::Reverse(v.1));
    let list: Vec<String> = values
        .iter()
        .map(|(v, n)| literal(v) + ": " + &num(*n as f64 / a.present as f64, 4))
        .collect();
    Ok(format!(
        "{{distribution: categorical, values: {{{}}}}}",
        list.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(values: impl IntoIterator<Item = AttrValue>) -> AttrStats {
        let mut a = AttrStats::default();
        values.into_iter().for_each(|v| a.add(&v));
        a
    }

    #[test]
    fn attributes_become_constants_categories_distributions_or_are_left_out() {
        let constant = stats((0..10).map(|_| AttrValue::Str("gpt-4o".into())));
        assert_eq!(attribute("m", &constant, 10).unwrap(), "\"gpt-4o\"");
        let models = stats((0..10).map(|i| AttrValue::Str(if i < 7 { "a" } else { "b" }.into())));
        assert_eq!(
            attribute("m", &models, 10).unwrap(),
            "{distribution: categorical, values: {\"a\": 0.7, \"b\": 0.3}}"
        );
        let ids = stats((0..10).map(|i| AttrValue::Str(format!("req_{i}"))));
        assert!(
            attribute("id", &ids, 10)
                .unwrap_err()
                .contains("per-trace id")
        );
        let tokens = stats((1..=200).map(AttrValue::Int));
        assert!(
            attribute("gen_ai.usage.input_tokens", &tokens, 200)
                .unwrap()
                .starts_with("{distribution: log_normal")
        );
        assert!(
            attribute("doc.count", &tokens, 200)
                .unwrap()
                .starts_with("{distribution: poisson, lambda: 100.5")
        );
        assert!(
            attribute("rare", &constant, 100)
                .unwrap_err()
                .contains("on 10 of 100 spans")
        );
    }

    #[test]
    fn a_run_splits_into_positions_only_when_their_latencies_differ() {
        let mut node = Node {
            name: "llm".into(),
            ..Node::default()
        };
        node.counts = BTreeMap::from([(1, 40), (2, 60)]);
        node.positions = vec![Default::default(), Default::default()];
        for i in 0..100 {
            node.positions[0].add(700.0 + f64::from(i));
        }
        for i in 0..60 {
            node.positions[1].add(380.0 + f64::from(i));
        }
        let steps = split(&node).unwrap();
        assert_eq!(steps.len(), 2);
        assert_eq!((steps[0].present, steps[1].present), (100, 60));
        assert_eq!(steps[1].counts, BTreeMap::from([(1, 60)]));
        for i in 0..60 {
            node.positions[1].add(700.0 + f64::from(i));
        }
        let mut same = node.clone();
        same.positions[1] = node.positions[0].clone();
        assert!(split(&same).is_none());
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(num(2.50, 3), "2.5");
        assert_eq!(num(3.0, 2), "3");
        assert_eq!(num(0.12345, 4), "0.1235");
    }
}
