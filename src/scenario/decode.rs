//! Reads a located YAML tree into a [`Scenario`], checking everything once.
//!
//! The decoder walks the tree by hand: it knows the key path at every point, applies the original
//! format's defaults, aliases and shorthands, checks ranges, and keeps going after a problem so that
//! one pass reports them all. It reads keys only through the declarative tables of
//! [`super::format`] (which also generate the JSON Schema), so "unknown key" suggestions always come
//! from the keys valid at that very place and there is no second list of keys to drift out of date.
//! As it reads, it records where each step and key was written ([`SourceMap`]) for the checks that
//! run after decoding. The tree, the diagnostics and the generic mapping reader are the
//! located-YAML reader's (`crate::yaml`), shared with the schema decoder; a scenario is read under
//! its [`Policy::Refuse`]: a value of the wrong shape or an unknown key is an error.

use super::format::{self, Key, Mapping, Range, Shape};
use super::model::*;
use super::source_map::{SourceMap, StepSource};
use super::span_type::{SpanType, normalize_prefix};
use crate::yaml::{self, Diagnostics, Mark, Node, Policy, Report, Severity, Value, join, nearest};

mod llm;
mod services;
pub use llm::{PricesError, decode_models, load_models, with_models};
mod failures;
#[path = "decode_generic.rs"]
mod generic_keys;
#[path = "session.rs"]
pub(super) mod session;

/// Settings that change how a file is read.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// `TELEMETRY_SIMULATOR_ATTR_PREFIX`: replaces `vendor.` in types and attribute keys.
    pub prefix: String,
    /// A scenario whose worst-case trace has more spans than this is rejected.
    pub max_spans_per_trace: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            prefix: super::span_type::YAML_PREFIX.to_string(),
            max_spans_per_trace: 10_000,
        }
    }
}

/// Top-level keys of the Python tool's later scenario formats, none of which this format has:
/// its v2 (`tenant`, `agent`, `endusers` → `turns`) and the `context` / `data_plane` format
/// before it (both weighted by `workload_weight`).
const LATER_FORMAT_KEYS: [&str; 8] = [
    "tenant",
    "agent",
    "endusers",
    "turns",
    "workload_weight",
    "context",
    "data_plane",
    "conversation",
];

/// The v2 format's own keys, which tell it from the `context` / `data_plane` format.
const V2_KEYS: [&str; 4] = ["tenant", "agent", "endusers", "turns"];

/// How many lists or mappings deep an attribute value may be nested. Each level of a mapping
/// costs an OTLP decoder three nested messages (`AnyValue` → `KeyValueList` → `KeyValue`) and a
/// JSON decoder four nested containers, on top of the envelope above the attribute; protobuf
/// decoders (prost, Python's upb) stop at 100 nested messages and serde_json at 128 containers,
/// which a 29-deep mapping already breaks. Sixteen leaves room for log bodies and metric points,
/// which sit deeper in their envelopes than span attributes.
pub const MAX_ATTRIBUTE_NESTING: usize = 16;

/// Upper bound of a `count` that has a distribution but no `max`.
pub const DEFAULT_DISTRIBUTION_COUNT_MAX: u32 = 1000;

/// A decoded scenario with its warnings and where each part was written.
#[derive(Clone, Debug)]
pub struct Decoded {
    pub scenario: Scenario,
    pub warnings: Diagnostics,
    pub source_map: SourceMap,
}

/// Decodes `text`. On success the scenario comes with its warnings; on failure, every problem.
pub fn decode(
    text: &str,
    file: &str,
    name: &str,
    options: &LoadOptions,
) -> Result<(Scenario, Diagnostics), Diagnostics> {
    decode_located(text, file, name, options).map(|d| (d.scenario, d.warnings))
}

/// [`decode`], keeping the [`SourceMap`] for checks that need to point into the file.
pub fn decode_located(
    text: &str,
    file: &str,
    name: &str,
    options: &LoadOptions,
) -> Result<Decoded, Diagnostics> {
    let mut decoder = Decoder {
        report: Report::new(file, text, Policy::Refuse),
        prefix: &options.prefix,
        source_map: SourceMap::default(),
        wiring_check: Default::default(),
        #[cfg(test)]
        asked: Vec::new(),
    };
    let scenario = match decoder.report.parse() {
        Some(node) => decoder.scenario(&node, name, options),
        None => None,
    };
    if let Some(scenario) = &scenario {
        decoder.check_timing(&scenario.root);
        decoder.check_wiring();
    }
    let diagnostics = decoder.report.finish();
    match scenario {
        Some(scenario) if !diagnostics.has_errors() => Ok(Decoded {
            scenario,
            warnings: diagnostics,
            source_map: decoder.source_map,
        }),
        _ => Err(diagnostics),
    }
}

struct Decoder<'a> {
    report: Report<'a>,
    prefix: &'a str,
    source_map: SourceMap,
    /// Step ids and link targets, checked once the tree is read.
    wiring_check: generic_keys::WiringCheck,
    /// Every (mapping, key) the decoder asked for, to prove it reads every key of the tables.
    #[cfg(test)]
    asked: Vec<(&'static str, &'static str)>,
}

/// Whether `node` is a mapping with the key `name`.
fn has_key(node: &Node, name: &str) -> bool {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .any(|(k, _)| matches!(&k.value, Value::Str(s) if s == name)),
        _ => false,
    }
}

/// One mapping of the document and the tables whose keys are valid in it (a distribution adds
/// its parameters' table).
struct Fields<'n> {
    entries: yaml::Fields<'n>,
    mappings: Vec<&'static Mapping>,
}

impl<'n> Fields<'n> {
    fn path(&self) -> &str {
        &self.entries.path
    }

    /// The key whose canonical name is `name` in one of this mapping's tables.
    fn spec(&self, name: &str) -> Option<&'static Key> {
        let found = self.mappings.iter().find_map(|m| m.key(name));
        debug_assert!(
            found.is_some(),
            "`{name}` is read at {} but no table declares it",
            self.path()
        );
        found
    }

    /// Makes `mapping`'s keys valid here too.
    fn include(&mut self, mapping: &'static Mapping) {
        self.mappings.push(mapping);
    }

    /// Takes the value of key `name` under any of its spellings (the rest are aliases).
    fn take(&mut self, d: &mut Decoder, name: &str) -> Option<(String, &'n Node)> {
        let spec = self.spec(name)?;
        #[cfg(test)]
        d.asked.push((
            self.mappings
                .iter()
                .find(|m| m.key(name).is_some())
                .map_or("", |m| m.name),
            spec.name(),
        ));
        let mut found: Option<(String, &'n Node)> = None;
        for (key, key_mark, value) in self.entries.take(spec.names) {
            let path = join(self.path(), &key);
            match &found {
                None => {
                    d.source_map.keys.insert(path.clone(), key_mark);
                    found = Some((path, value));
                }
                Some((first, _)) => d.error(
                    key_mark,
                    &path,
                    format!(
                        "`{key}` repeats `{}`: they are two spellings of one key; keep one",
                        first.rsplit('.').next().unwrap_or(first)
                    ),
                ),
            }
        }
        found
    }

    /// The range a number (or each number of a list) under key `name` must respect.
    fn range(&self, name: &str) -> Range {
        match self.spec(name).map(|k| k.shape) {
            Some(Shape::Number(range) | Shape::Numbers(range)) => range,
            _ => format::ANY_NUMBER,
        }
    }

    /// The bounds of an integer under key `name`.
    fn integer_bounds(&self, name: &str) -> (i64, i64) {
        match self.spec(name).map(|k| k.shape) {
            Some(Shape::Integer { min, max }) => (min, max),
            _ => (i64::MIN, i64::MAX),
        }
    }

    /// Marks every remaining key as read (after an error that makes them meaningless).
    fn skip_rest(&mut self) {
        self.entries.skip_rest();
    }

    fn has(&self, name: &str) -> bool {
        self.entries.has(name)
    }

    /// Reports every key that nothing took.
    fn finish(self, d: &mut Decoder) {
        let mut accepted: Vec<&'static str> = self
            .mappings
            .iter()
            .flat_map(|m| m.keys.iter().flat_map(|k| k.names.iter().copied()))
            .collect();
        accepted.sort_unstable();
        accepted.dedup();
        self.entries.finish(&mut d.report, &accepted);
    }
}

impl<'a> Decoder<'a> {
    fn push(
        &mut self,
        severity: Severity,
        mark: Option<Mark>,
        path: &str,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        self.report.push(severity, mark, path, message, help);
    }

    fn error(&mut self, mark: Mark, path: &str, message: impl Into<String>) {
        self.report.error(mark, path, message);
    }

    /// Refuses values that would make a trace last longer than timestamps can hold sensibly
    /// ([`super::timing`]), at the key that is at fault.
    fn check_timing(&mut self, root: &Step) {
        for overrun in super::timing::overruns(root) {
            let Some(step) = self.source_map.steps.get(overrun.step) else {
                continue;
            };
            let (path, step_mark) = if overrun.key.is_empty() {
                (step.path.clone(), step.mark)
            } else {
                (join(&step.path, overrun.key), step.mark)
            };
            let mark = self.source_map.nearest(&path).unwrap_or(step_mark);
            self.push(
                Severity::Error,
                Some(mark),
                &path,
                overrun.message,
                Some("durations are in milliseconds; lower the value, a `count.max` or `retry.max_attempts`".into()),
            );
        }
    }

    fn warn(&mut self, mark: Mark, path: &str, message: impl Into<String>) {
        self.report.warn(mark, path, message, None);
    }

    fn expected(&mut self, node: &Node, path: &str, what: &str) {
        self.report.expected(node, path, what);
    }

    fn fields<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        mapping: &'static Mapping,
    ) -> Option<Fields<'n>> {
        Some(Fields {
            entries: yaml::Fields::read(&mut self.report, node, path)?,
            mappings: vec![mapping],
        })
    }

    fn number(&mut self, node: &Node, path: &str, range: Range) -> Option<f64> {
        let Some(x) = node.as_f64() else {
            self.expected(node, path, range.what);
            return None;
        };
        let below = if range.min_exclusive {
            x <= range.min
        } else {
            x < range.min
        };
        if below || x > range.max || !x.is_finite() {
            self.expected(node, path, range.what);
            return None;
        }
        Some(x)
    }

    /// The number under key `name`, checked against the range its table declares.
    fn number_or(&mut self, f: &mut Fields, name: &str, default: f64) -> f64 {
        let range = f.range(name);
        match f.take(self, name) {
            Some((path, node)) => self.number(node, &path, range).unwrap_or(default),
            None => default,
        }
    }

    /// The integer under key `name`, checked against the bounds its table declares.
    fn integer_or(&mut self, f: &mut Fields, name: &str, default: i64) -> i64 {
        let (min, max) = f.integer_bounds(name);
        match f.take(self, name) {
            Some((path, node)) => self.integer(node, &path, min, max).unwrap_or(default),
            None => default,
        }
    }

    fn integer(&mut self, node: &Node, path: &str, min: i64, max: i64) -> Option<i64> {
        let value = match node.value {
            Value::Int(i) => Some(i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9e15 => Some(f as i64),
            _ => None,
        };
        match value {
            Some(i) if (min..=max).contains(&i) => Some(i),
            _ => {
                let what = if max == i64::MAX {
                    format!("an integer ≥ {min}")
                } else {
                    format!("an integer from {min} to {max}")
                };
                self.expected(node, path, &what);
                None
            }
        }
    }

    fn boolean(&mut self, f: &mut Fields, name: &'static str, default: bool) -> bool {
        let Some((path, node)) = f.take(self, name) else {
            return default;
        };
        match &node.value {
            Value::Bool(b) => *b,
            // The original read YAML 1.1, where these words are booleans too.
            Value::Str(word) => match word.to_lowercase().as_str() {
                "yes" | "on" => true,
                "no" | "off" => false,
                _ => {
                    self.expected(node, &path, "true or false");
                    default
                }
            },
            _ => {
                self.expected(node, &path, "true or false");
                default
            }
        }
    }

    fn text(&mut self, f: &mut Fields, name: &'static str) -> Option<String> {
        let (path, node) = f.take(self, name)?;
        match &node.value {
            Value::Null => None,
            _ => node.scalar_text().or_else(|| {
                self.expected(node, &path, "text");
                None
            }),
        }
    }

    /// `traffic:`, in the form `--traffic` takes.
    fn traffic(&mut self, f: &mut Fields) -> Option<super::Pattern> {
        let (path, node) = f.take(self, "traffic")?;
        let text = match &node.value {
            Value::Null => return None,
            Value::Str(text) => text,
            _ => {
                self.expected(node, &path, "a traffic shape such as `diurnal:24h:0.5`");
                return None;
            }
        };
        match text.parse() {
            Ok(pattern) => Some(pattern),
            Err(why) => {
                self.error(
                    node.mark,
                    &path,
                    format!("{why}; expected constant, diurnal[:PERIOD[:AMPLITUDE]] or bursty[:PERIOD[:DUTY[:FACTOR]]]"),
                );
                None
            }
        }
    }

    fn numbers(&mut self, node: &Node, path: &str, range: Range) -> Vec<f64> {
        match &node.value {
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| self.number(item, &format!("{path}[{i}]"), range))
                .collect(),
            _ => {
                self.expected(node, path, &format!("a list of numbers ({})", range.what));
                Vec::new()
            }
        }
    }

    // ---- the document -------------------------------------------------------------------

    /// Reports a file in one of the Python tool's later scenario formats with one error naming the
    /// format and what to do, instead of an "unknown key" error per key. A file with `root` or
    /// `spans` is in this format, whatever else it has.
    fn later_format(&mut self, node: &Node) -> bool {
        let Value::Map(entries) = &node.value else {
            return false;
        };
        let keys: Vec<(&str, Mark)> = entries
            .iter()
            .filter_map(|(k, _)| match &k.value {
                Value::Str(s) => Some((s.as_str(), k.mark)),
                _ => None,
            })
            .collect();
        if keys.iter().any(|(k, _)| *k == "root" || *k == "spans") {
            return false;
        }
        let found: Vec<&(&str, Mark)> = keys
            .iter()
            .filter(|(k, _)| LATER_FORMAT_KEYS.contains(k))
            .collect();
        let Some((_, mark)) = found.first() else {
            return false;
        };
        let format = if found.iter().any(|(k, _)| V2_KEYS.contains(k)) {
            "the Python tool's v2 scenario format (otelsim 2.x: `tenant`, `agent`, `endusers` → `turns`)"
        } else {
            "the Python tool's `context` / `data_plane` scenario format (otelsim 1.x)"
        };
        let names: Vec<String> = found.iter().map(|(k, _)| format!("`{k}`")).collect();
        self.push(
            Severity::Error,
            Some(*mark),
            "",
            format!(
                "this file is in {format} (it has {}); this tool reads the original's first format: \
                 one `root` step with `children`",
                names.join(", ")
            ),
            Some(
                "convert it: one request becomes a `root` step (`type: a2a.orchestrate`) whose \
                 `children` are its planner, LLM and tool steps; `workload_weight` becomes `weight`; \
                 tenants come from TELEMETRY_TENANT_UUIDS; its end users and turns become a \
                 `session:` (users, turns, think_time). docs/compatibility.md, \
                 \"Migrating from the Python tool\", shows a converted file"
                    .into(),
            ),
        );
        true
    }

    fn scenario(&mut self, node: &Node, name: &str, options: &LoadOptions) -> Option<Scenario> {
        if node.value == Value::Null {
            self.error(
                node.mark,
                "",
                "the file is empty: a scenario needs at least a `root` step",
            );
            return None;
        }
        if self.later_format(node) {
            return None;
        }
        let mut f = self.fields(node, "", &format::DOCUMENT)?;
        let display_name = self
            .text(&mut f, "name")
            .unwrap_or_else(|| "unnamed".into());
        let description = self.text(&mut f, "description").unwrap_or_default();
        let tags = match f.take(self, "tags") {
            Some((path, node)) => self.report.strings(node, &path),
            None => Vec::new(),
        };
        let repeat_count = self.integer_or(&mut f, "repeat_count", 1) as u64;
        let interval_ms = self.number_or(&mut f, "interval_ms", 500.0);
        let emit_metrics = self.boolean(&mut f, "emit_metrics", true);
        let emit_logs = self.boolean(&mut f, "emit_logs", true);
        let weight = self.number_or(&mut f, "weight", 1.0);
        let traffic = self.traffic(&mut f);
        let services = match f.take(self, "services") {
            Some((path, node)) => self.services(node, &path),
            None => Vec::new(),
        };
        let session = match f.take(self, "session") {
            Some((path, node)) if node.value != Value::Null => self.session(node, &path),
            _ => None,
        };
        let root = f.take(self, "root");
        let spans = f.take(self, "spans");
        let models = match f.take(self, "models") {
            Some((path, node)) => self.models(node, &path),
            None => Vec::new(),
        };
        let document_mark = f.entries.mark;
        f.finish(self);

        let root = match (root, spans) {
            (Some((path, node)), spans) => {
                if let Some((spans_path, spans_node)) = spans {
                    self.error(
                        spans_node.mark,
                        &spans_path,
                        "both `root` and `spans` are given; `spans` is the old spelling of `root`, keep one",
                    );
                }
                self.root(node, &path)
            }
            (None, Some((path, node))) => match &node.value {
                Value::Seq(items) if items.len() == 1 => {
                    self.root(&items[0], &format!("{path}[0]"))
                }
                Value::Seq(items) => {
                    self.error(
                        node.mark,
                        &path,
                        format!(
                            "`spans` must hold exactly one root step, found {}; nest the others under its `children`",
                            items.len()
                        ),
                    );
                    None
                }
                _ => self.root(node, &path),
            },
            (None, None) => {
                self.error(
                    document_mark,
                    "",
                    "missing `root`: the step at the top of every trace",
                );
                None
            }
        }?;

        self.check_service_names(&root, &services);
        let worst = worst_case_spans(&root);
        if worst > options.max_spans_per_trace {
            self.push(
                Severity::Error,
                Some(document_mark),
                "root",
                format!(
                    "a trace of this scenario can have up to {worst} spans, more than the limit of {}",
                    options.max_spans_per_trace
                ),
                Some(
                    "lower a `count.max` or `retry.max_attempts`, or raise the limit with --max-spans-per-trace"
                        .into(),
                ),
            );
        }
        Some(Scenario {
            name: name.to_string(),
            display_name,
            description,
            tags,
            repeat_count,
            interval_ms,
            emit_metrics,
            emit_logs,
            weight,
            traffic,
            root,
            services,
            models,
            session,
        })
    }

    fn root(&mut self, node: &Node, path: &str) -> Option<Step> {
        let step = self.step(node, path)?;
        if step.probability != 1.0 {
            self.error(
                node.mark,
                &join(path, "probability"),
                "the root step is in every trace; `probability` applies to children only",
            );
        }
        if step.count != Count::Fixed(1) {
            self.error(
                node.mark,
                &join(path, "count"),
                "the root step is one span per trace; use `repeat_count` for more traces",
            );
        }
        if step.failures.is_some() {
            self.error(
                node.mark,
                &join(path, "failures"),
                "`failures` belongs to an LLM call inside a turn, not to the root step",
            );
        }
        Some(step)
    }

    fn step(&mut self, node: &Node, path: &str) -> Option<Step> {
        // The original accepted a one-element list where a step belongs.
        if let Value::Seq(items) = &node.value {
            if items.len() == 1 {
                return self.step(&items[0], &format!("{path}[0]"));
            }
            self.expected(node, path, "a step (a mapping with `type`)");
            return None;
        }
        let mut f = self.fields(node, path, &format::STEP)?;
        let index = self.source_map.steps.len();
        self.source_map.steps.push(StepSource {
            path: path.to_string(),
            mark: node.mark,
            attributes: Vec::new(),
        });
        let type_key = f.take(self, "type");
        let generic_keys = self.generic_keys(&mut f);
        let (span_type, generic) = self.step_kind(type_key, generic_keys);
        let latency = match f.take(self, "latency") {
            Some((path, node)) => self.latency(node, &path),
            None => Latency::Jitter(Jitter::default()),
        };
        let error = match f.take(self, "error") {
            Some((path, node)) => self.error_model(node, &path),
            None => ErrorModel::default(),
        };
        let probability = match f.take(self, "probability") {
            Some((path, node)) => {
                let p = self.number(node, &path, format::PROBABILITY).unwrap_or(1.0);
                if p == 0.0 {
                    self.warn(node.mark, &path, "probability 0: this step never appears");
                }
                p
            }
            None => 1.0,
        };
        let count = match f.take(self, "count") {
            Some((path, node)) => self.count(node, &path),
            None => Count::Fixed(1),
        };
        let retry = match f.take(self, "retry") {
            Some((path, node)) => self.retry(node, &path),
            None => None,
        };
        let attributes = match f.take(self, "attributes") {
            Some((path, node)) => self.attributes(node, &path, index),
            None => Vec::new(),
        };
        let children = match f.take(self, "children") {
            Some((path, node)) => match &node.value {
                Value::Null => Vec::new(),
                Value::Seq(items) => items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, child)| self.step(child, &format!("{path}[{i}]")))
                    .collect(),
                _ => {
                    self.expected(node, &path, "a list of steps");
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        let service = self.text(&mut f, "service");
        let remote = match f.take(self, "remote") {
            Some((path, node)) => self.remote(node, &path),
            None => None,
        };
        let llm = match f.take(self, "llm") {
            Some((path, node)) => self.llm(node, &path, span_type),
            None => None,
        };
        let failures = match f.take(self, "failures") {
            Some((path, node)) => self.failures(node, &path, span_type),
            None => None,
        };
        let wiring = self.wiring(&mut f);
        let evaluations = self.evaluations_of(&mut f);
        f.finish(self);
        if let Some(g) = &generic {
            self.check_placeholders(g, &attributes, path, node.mark);
        }
        Some(Step {
            span_type: span_type?,
            latency,
            error,
            probability,
            count,
            retry,
            attributes,
            children,
            service,
            remote,
            llm,
            failures,
            generic,
            wiring,
            evaluations,
        })
    }

    fn span_type(&mut self, node: &Node, path: &str) -> Option<SpanType> {
        let Value::Str(text) = &node.value else {
            self.expected(node, path, "a span type such as `vendor.llm.call`");
            return None;
        };
        let found = SpanType::parse(text, self.prefix);
        if found.is_none() {
            let spellings: Vec<String> = SpanType::spellings()
                .chain(SpanType::ALL.iter().map(|t| t.suffix().to_string()))
                .collect();
            let help = nearest(text, spellings.iter().map(String::as_str))
                .map(|n| format!("did you mean `{n}`?"))
                .unwrap_or_else(|| {
                    format!(
                        "span types: {}",
                        SpanType::spellings().collect::<Vec<_>>().join(", ")
                    )
                });
            self.push(
                Severity::Error,
                Some(node.mark),
                path,
                format!("unknown span type `{text}`"),
                Some(help),
            );
        }
        found
    }

    fn latency(&mut self, node: &Node, path: &str) -> Latency {
        match &node.value {
            Value::Null => Latency::Jitter(Jitter::default()),
            Value::Int(_) | Value::Float(_) => Latency::Jitter(Jitter {
                mean_ms: self
                    .number(node, path, format::NON_NEGATIVE)
                    .unwrap_or(100.0),
                ..Jitter::default()
            }),
            Value::Map(_) => {
                let sampled = has_key(node, "distribution");
                let mapping = if sampled {
                    &format::SAMPLED
                } else {
                    &format::JITTER
                };
                let Some(mut f) = self.fields(node, path, mapping) else {
                    return Latency::Jitter(Jitter::default());
                };
                let latency = if sampled {
                    let d = self.distribution(&mut f, None);
                    match d {
                        Some(d) if d.is_numeric() => Latency::Distribution(d),
                        Some(_) => {
                            self.expected(node, path, "a distribution of numbers (milliseconds)");
                            Latency::Jitter(Jitter::default())
                        }
                        None => Latency::Jitter(Jitter::default()),
                    }
                } else {
                    let defaults = Jitter::default();
                    Latency::Jitter(Jitter {
                        mean_ms: self.number_or(&mut f, "mean_ms", defaults.mean_ms),
                        variance: self.number_or(&mut f, "variance", defaults.variance),
                        spike_rate: self.number_or(&mut f, "spike_rate", defaults.spike_rate),
                        spike_multiplier: self.number_or(
                            &mut f,
                            "spike_multiplier",
                            defaults.spike_multiplier,
                        ),
                    })
                };
                f.finish(self);
                latency
            }
            _ => {
                self.expected(node, path, "milliseconds or a latency mapping");
                Latency::Jitter(Jitter::default())
            }
        }
    }

    /// Reads `distribution:` and its parameters from `f`. `count_bounds` are the enclosing
    /// `count`'s `min`/`max`, which a uniform distribution there shares, as in the original.
    fn distribution(
        &mut self,
        f: &mut Fields,
        count_bounds: Option<(f64, f64)>,
    ) -> Option<Distribution> {
        let (path, node) = f.take(self, "distribution")?;
        let Value::Str(raw) = &node.value else {
            self.expected(node, &path, "a distribution name");
            return None;
        };
        let name = format::distribution_name(raw);
        if let Some((_, params)) = format::DISTRIBUTIONS.iter().find(|(n, _)| *n == name) {
            f.include(params);
        }
        let d = match name.as_str() {
            "normal" => {
                let mean = self.number_or(f, "mean", 100.0);
                let variance = self.number_or(f, "variance", 0.3);
                let stddev = self.number_or(f, "stddev", (mean * variance).abs());
                Distribution::Normal { mean, stddev }
            }
            "log_normal" => Distribution::LogNormal {
                median: self.number_or(f, "median", 100.0),
                sigma: self.number_or(f, "sigma", 0.8),
            },
            "exponential" => Distribution::Exponential {
                mean: self.number_or(f, "mean", 100.0),
            },
            "uniform" => {
                let (low_default, high_default) = count_bounds.unwrap_or((0.0, 1.0));
                let low = self.number_or(f, "low", low_default);
                let high = self.number_or(f, "high", high_default);
                if low > high {
                    self.error(
                        node.mark,
                        f.path(),
                        format!("uniform needs low ≤ high, found {low} > {high}"),
                    );
                }
                Distribution::Uniform { low, high }
            }
            "poisson" => Distribution::Poisson {
                lambda: self.number_or(f, "lambda", 1.0),
            },
            "geometric" => Distribution::Geometric {
                p: self.number_or(f, "p", 0.5),
            },
            "bernoulli" => Distribution::Bernoulli {
                p: self.number_or(f, "p", 0.5),
            },
            "categorical" => self.categorical(f, node)?,
            "mixture" => self.mixture(f, node)?,
            _ => {
                let names = format::DISTRIBUTIONS.map(|(n, _)| n);
                let help = nearest(&name, names)
                    .map(|n| format!("did you mean `{n}`?"))
                    .unwrap_or_else(|| format!("distributions: {}", names.join(", ")));
                self.push(
                    Severity::Error,
                    Some(node.mark),
                    &path,
                    format!("unknown distribution `{raw}`"),
                    Some(help),
                );
                f.skip_rest();
                return None;
            }
        };
        Some(d)
    }

    fn categorical(&mut self, f: &mut Fields, name_node: &Node) -> Option<Distribution> {
        let Some((path, values)) = f.take(self, "values") else {
            self.error(name_node.mark, f.path(), "categorical needs `values`");
            return None;
        };
        let weights_given = f.take(self, "weights");
        let (values, weights) = match &values.value {
            Value::Map(entries) => {
                if let Some((wpath, w)) = weights_given {
                    self.error(w.mark, &wpath, "`weights` goes with a list of `values`; here the values already map to weights");
                }
                let mut vs = Vec::new();
                let mut ws = Vec::new();
                for (k, v) in entries {
                    let key_text = k.scalar_text().unwrap_or_default();
                    let literal = self.literal(k, &format!("{path}.{key_text}"));
                    let weight =
                        self.number(v, &format!("{path}.{key_text}"), format::NON_NEGATIVE);
                    if let (Some(l), Some(w)) = (literal, weight) {
                        vs.push(l);
                        ws.push(w);
                    }
                }
                (vs, ws)
            }
            Value::Seq(items) => {
                let vs: Vec<Literal> = items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| self.literal(item, &format!("{path}[{i}]")))
                    .collect();
                let ws = match weights_given {
                    Some((wpath, w)) => {
                        let ws = self.numbers(w, &wpath, f.range("weights"));
                        if ws.len() != items.len() {
                            self.error(
                                w.mark,
                                &wpath,
                                format!(
                                    "{} weights for {} values; give one weight per value",
                                    ws.len(),
                                    items.len()
                                ),
                            );
                        }
                        ws
                    }
                    None => vec![1.0; vs.len()],
                };
                (vs, ws)
            }
            _ => {
                self.expected(
                    values,
                    &path,
                    "a list of values or a mapping of value to weight",
                );
                return None;
            }
        };
        if values.is_empty() {
            self.error(
                name_node.mark,
                &path,
                "categorical needs at least one value",
            );
            return None;
        }
        if weights.len() != values.len() {
            return None;
        }
        if weights.iter().sum::<f64>() <= 0.0 {
            self.error(
                name_node.mark,
                &path,
                "categorical weights must add up to more than 0",
            );
            return None;
        }
        Some(Distribution::Categorical { values, weights })
    }

    fn mixture(&mut self, f: &mut Fields, name_node: &Node) -> Option<Distribution> {
        let Some((path, node)) = f.take(self, "components") else {
            self.error(name_node.mark, f.path(), "mixture needs `components`");
            return None;
        };
        let Value::Seq(items) = &node.value else {
            self.expected(node, &path, "a list of weighted distributions");
            return None;
        };
        let mut components = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            let Some(mut cf) = self.fields(item, &item_path, &format::MIXTURE_COMPONENT) else {
                continue;
            };
            let weight = self.number_or(&mut cf, "weight", 1.0);
            if !cf.has("distribution") {
                self.error(
                    item.mark,
                    &item_path,
                    "each mixture component needs `distribution`",
                );
            }
            let d = self.distribution(&mut cf, None);
            cf.finish(self);
            if let Some(d) = d {
                components.push((weight, d));
            }
        }
        if components.is_empty() {
            self.error(node.mark, &path, "mixture needs at least one component");
            return None;
        }
        if components.iter().map(|(w, _)| w).sum::<f64>() <= 0.0 {
            self.error(
                node.mark,
                &path,
                "mixture weights must add up to more than 0",
            );
            return None;
        }
        Some(Distribution::Mixture { components })
    }

    fn error_model(&mut self, node: &Node, path: &str) -> ErrorModel {
        match &node.value {
            Value::Null => ErrorModel::default(),
            Value::Int(_) | Value::Float(_) => ErrorModel::with_rate(
                self.number(node, path, format::PROBABILITY)
                    .unwrap_or(DEFAULT_ERROR_RATE),
            ),
            Value::Map(_) => {
                let Some(mut f) = self.fields(node, path, &format::ERROR) else {
                    return ErrorModel::default();
                };
                let mut model =
                    ErrorModel::with_rate(self.number_or(&mut f, "rate", DEFAULT_ERROR_RATE));
                let types = f
                    .take(self, "types")
                    .map(|(p, n)| (self.report.strings(n, &p), n));
                let weight_range = f.range("type_weights");
                let weights = f
                    .take(self, "type_weights")
                    .map(|(p, n)| (self.numbers(n, &p, weight_range), n, p));
                match (types, weights) {
                    (Some((types, types_node)), weights) => {
                        if types.is_empty() {
                            self.expected(
                                types_node,
                                &join(path, "types"),
                                "at least one error type",
                            );
                        } else {
                            let ws = match weights {
                                Some((ws, wnode, wpath)) if ws.len() != types.len() => {
                                    self.error(
                                        wnode.mark,
                                        &wpath,
                                        format!(
                                            "{} weights for {} types; give one weight per type",
                                            ws.len(),
                                            types.len()
                                        ),
                                    );
                                    vec![1.0; types.len()]
                                }
                                Some((ws, wnode, wpath)) => {
                                    if ws.iter().sum::<f64>() <= 0.0 {
                                        self.error(
                                            wnode.mark,
                                            &wpath,
                                            "type weights must add up to more than 0",
                                        );
                                    }
                                    ws
                                }
                                None => vec![1.0; types.len()],
                            };
                            model.types = types.into_iter().zip(ws).collect();
                        }
                    }
                    (None, Some((_, wnode, wpath))) => {
                        self.error(wnode.mark, &wpath, "`type_weights` needs `types` beside it");
                    }
                    (None, None) => {}
                }
                if let Some((p, n)) = f.take(self, "retryable_types") {
                    model.retryable_types = self.report.strings(n, &p);
                }
                if let Some((p, n)) = f.take(self, "propagation") {
                    model.propagation = match &n.value {
                        Value::Null => Some(Propagation::default()),
                        _ => self.fields(n, &p, &format::PROPAGATION).map(|mut pf| {
                            let defaults = Propagation::default();
                            let propagation = Propagation {
                                from_parent: self.number_or(
                                    &mut pf,
                                    "from_parent",
                                    defaults.from_parent,
                                ),
                                cascade_to_siblings: self.number_or(
                                    &mut pf,
                                    "cascade_to_siblings",
                                    defaults.cascade_to_siblings,
                                ),
                            };
                            pf.finish(self);
                            propagation
                        }),
                    };
                }
                f.finish(self);
                model
            }
            _ => {
                self.expected(node, path, "an error rate or an error mapping");
                ErrorModel::default()
            }
        }
    }

    fn count(&mut self, node: &Node, path: &str) -> Count {
        match &node.value {
            Value::Null => Count::Fixed(1),
            Value::Int(_) | Value::Float(_) => {
                Count::Fixed(self.integer(node, path, 0, u32::MAX as i64).unwrap_or(1) as u32)
            }
            Value::Map(_) => {
                let Some(mut f) = self.fields(node, path, &format::COUNT) else {
                    return Count::Fixed(1);
                };
                let has_distribution = f.has("distribution");
                let min = self.integer_or(&mut f, "min", 1) as u32;
                let max_default = if has_distribution {
                    DEFAULT_DISTRIBUTION_COUNT_MAX
                } else {
                    1
                };
                let max = self.integer_or(&mut f, "max", max_default.max(min) as i64) as u32;
                if min > max {
                    self.error(
                        node.mark,
                        path,
                        format!("count needs min ≤ max, found min {min} > max {max}"),
                    );
                }
                let count = if has_distribution {
                    match self.distribution(&mut f, Some((min as f64, max as f64))) {
                        Some(d) if d.is_numeric() => Count::Distribution {
                            min,
                            max,
                            distribution: d,
                        },
                        Some(_) => {
                            self.expected(node, path, "a distribution of numbers");
                            Count::Fixed(1)
                        }
                        None => Count::Fixed(1),
                    }
                } else {
                    Count::Uniform { min, max }
                };
                f.finish(self);
                count
            }
            _ => {
                self.expected(node, path, "a whole number or a {min, max} mapping");
                Count::Fixed(1)
            }
        }
    }

    fn retry(&mut self, node: &Node, path: &str) -> Option<Retry> {
        if node.value == Value::Null {
            return None;
        }
        let mut f = self.fields(node, path, &format::RETRY)?;
        let defaults = Retry::default();
        let enabled = self.boolean(&mut f, "enabled", true);
        let max_attempts =
            self.integer_or(&mut f, "max_attempts", defaults.max_attempts as i64) as u32;
        let force_initial_failure = self.boolean(&mut f, "force_initial_failure", false);
        let backoff_base_ms = self.number_or(&mut f, "backoff_base_ms", defaults.backoff_base_ms);
        let backoff_multiplier =
            self.number_or(&mut f, "backoff_multiplier", defaults.backoff_multiplier);
        let backoff_jitter = self.number_or(&mut f, "backoff_jitter", defaults.backoff_jitter);
        let rate_range = f.range("success_rate_per_attempt");
        let success_rate_per_attempt = match f.take(self, "success_rate_per_attempt") {
            Some((p, n)) => {
                let rates = self.numbers(n, &p, rate_range);
                if rates.is_empty() {
                    self.expected(n, &p, "at least one success rate");
                    defaults.success_rate_per_attempt
                } else {
                    rates
                }
            }
            None => defaults.success_rate_per_attempt,
        };
        f.finish(self);
        enabled.then_some(Retry {
            max_attempts,
            force_initial_failure,
            backoff_base_ms,
            backoff_multiplier,
            backoff_jitter,
            success_rate_per_attempt,
        })
    }

    /// The attributes of the `step`-th step (in pre-order).
    fn attributes(&mut self, node: &Node, path: &str, step: usize) -> Vec<Attribute> {
        let entries = match &node.value {
            Value::Null => return Vec::new(),
            Value::Map(entries) => entries,
            _ => {
                self.expected(node, path, "a mapping of attribute names to values");
                return Vec::new();
            }
        };
        let mut attributes = Vec::new();
        for (k, v) in entries {
            let Some(key) = k.scalar_text() else {
                self.expected(k, path, "an attribute name");
                continue;
            };
            let attr_path = format!("{path}.{key}");
            let value = match &v.value {
                Value::Map(_) if has_key(v, "distribution") => {
                    let Some(mut f) = self.fields(v, &attr_path, &format::SAMPLED) else {
                        continue;
                    };
                    let d = self.distribution(&mut f, None);
                    f.finish(self);
                    d.map(AttributeValue::Sampled)
                }
                _ => self.literal(v, &attr_path).map(AttributeValue::Constant),
            };
            if let Some(value) = value {
                if let Some(source) = self.source_map.steps.get_mut(step) {
                    source.attributes.push((attr_path, k.mark));
                }
                attributes.push(Attribute {
                    key: normalize_prefix(&key, self.prefix),
                    value,
                });
            }
        }
        attributes
    }

    fn literal(&mut self, node: &Node, path: &str) -> Option<Literal> {
        self.nested_literal(node, path, 0)
    }

    /// A literal inside `depth` lists or mappings; refused beyond [`MAX_ATTRIBUTE_NESTING`].
    fn nested_literal(&mut self, node: &Node, path: &str, depth: usize) -> Option<Literal> {
        if matches!(node.value, Value::Seq(_) | Value::Map(_)) && depth >= MAX_ATTRIBUTE_NESTING {
            self.push(
                Severity::Error,
                Some(node.mark),
                path,
                format!(
                    "the value is nested more than {MAX_ATTRIBUTE_NESTING} lists or mappings deep, \
                     deeper than OTLP receivers decode"
                ),
                Some(
                    "flatten it: OpenTelemetry attributes are meant to be scalars or flat lists"
                        .into(),
                ),
            );
            return None;
        }
        Some(match &node.value {
            Value::Str(s) => Literal::Str(s.clone()),
            Value::Int(i) => Literal::Int(*i),
            Value::Float(f) => Literal::Float(*f),
            Value::Bool(b) => Literal::Bool(*b),
            Value::Seq(items) => Literal::List(
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| {
                        self.nested_literal(item, &format!("{path}[{i}]"), depth + 1)
                    })
                    .collect(),
            ),
            Value::Map(entries) => Literal::Map(
                entries
                    .iter()
                    .filter_map(|(k, v)| {
                        let key = k.scalar_text()?;
                        let value = self.nested_literal(v, &format!("{path}.{key}"), depth + 1)?;
                        Some((key, value))
                    })
                    .collect(),
            ),
            Value::Null => {
                self.expected(
                    node,
                    path,
                    "a value (OTLP attributes cannot be null; remove the key instead)",
                );
                return None;
            }
        })
    }
}

/// The most spans one trace of `root` can hold (saturating).
pub fn worst_case_spans(root: &Step) -> u64 {
    fn instance(step: &Step) -> u64 {
        let children: u64 = step
            .children
            .iter()
            .map(|c| (c.count.max() as u64).saturating_mul(instance(c)))
            .fold(0, u64::saturating_add);
        let attempts = step.retry.as_ref().map_or(1, |r| r.max_attempts as u64);
        // A call adds the callee's SERVER span under each client span.
        let server = u64::from(step.remote.is_some());
        if let Some(failures) = &step.failures {
            let (llm, tools) =
                failures.worst_case_spans(step.retry.as_ref().map(|r| r.max_attempts));
            return llm
                .saturating_mul((1 + server).saturating_add(children))
                .saturating_add(tools);
        }
        if step.span_type == SpanType::McpToolExecute {
            // One execute span around its attempts; children follow the attempts.
            1u64.saturating_add(attempts.saturating_mul(1 + server))
                .saturating_add(children)
        } else {
            attempts.saturating_mul((1 + server).saturating_add(children))
        }
    }
    match (&root.retry, root.span_type) {
        // A root with retry sends each attempt as its own trace.
        (Some(_), t) if t != SpanType::McpToolExecute => {
            let children: u64 = root
                .children
                .iter()
                .map(|c| (c.count.max() as u64).saturating_mul(instance(c)))
                .fold(0, u64::saturating_add);
            (1 + u64::from(root.remote.is_some())).saturating_add(children)
        }
        _ => instance(root),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Uses every mapping of the format, each distribution included.
    const EVERY_MAPPING: &str = r#"
name: every_mapping
description: d
tags: [a]
repeat_count: 2
interval_ms: 1
emit_metrics: true
emit_logs: false
weight: 1
traffic: diurnal:1h:0.3
root:
  type: vendor.a2a.orchestrate
  latency: {mean_ms: 10, variance: 0.1, spike_rate: 0.1, spike_multiplier: 2}
  error:
    rate: 0.1
    types: [timeout]
    type_weights: [1]
    retryable_types: [timeout]
    propagation: {from_parent: 0.5, cascade_to_siblings: 0.5}
  retry: {enabled: true, max_attempts: 2, force_initial_failure: false, backoff_base_ms: 1,
          backoff_multiplier: 2, backoff_jitter: 0.1, success_rate_per_attempt: [0, 1]}
  attributes:
    a: {distribution: normal, mean: 1, variance: 0.1, stddev: 1}
    b: {distribution: exponential, mean: 1}
    c: {distribution: poisson, lambda: 1}
    d: {distribution: geometric, p: 0.5}
    e: {distribution: bernoulli, p: 0.5}
    f: {distribution: categorical, values: [x, y], weights: [1, 2]}
    g: {distribution: mixture, components: [{weight: 1, distribution: uniform, low: 0, high: 1}]}
  children:
    - type: vendor.llm.call
      probability: 0.5
      count: {min: 1, max: 3}
      latency: {distribution: log_normal, median_ms: 5, sigma: 0.5}
      llm: {model: m, timing: tokens, stream: true, cache_read_ratio: 0.5}
      failures:
        rate_limit: {probability: 0.1, retry_after_ms: 100}
        context_window_exceeded: 0.1
        content_filter: 0.1
        hallucinated_tool_call: 0.1
        timeout: {probability: 0.1, after_ms: 100}
    - type: vendor.planner
      count: {min: 1, max: 2, distribution: uniform}
      service: agent
      remote: {service: search, name: "tools/call x", network_ms: 2, attributes: {a: 1}}
    - name: "GET {url.path}"
      kind: client
      convention: http
      id: fetch
      parallel: true
      attributes: {url.path: /orders}
      links: [{to: fetch, attributes: {k: v}}]
      evaluations:
        - {name: plan_quality, score: {distribution: uniform}, labels: {good: 0.5}, explanation: e, probability: 0.5}
services:
  agent: {version: "1", attributes: {k: v}, instances: 2, instrumented: true}
  search:
models:
  m: {like: small, output_token_ms: 5}
session:
  turns: 3
  think_time: 1000
  users: {ids: [a, b], count: 2, weights: [1, 2], attributes: {user.tier: pro}}
  context: {window: 1000, overflow: truncate, summary_tokens: 100}
  evaluations: [{name: task_success}]
"#;

    #[test]
    fn the_decoder_reads_exactly_the_keys_the_format_declares() {
        let mut decoder = Decoder {
            report: Report::new("t.yaml", EVERY_MAPPING, Policy::Refuse),
            prefix: "vendor",
            source_map: SourceMap::default(),
            wiring_check: Default::default(),
            asked: Vec::new(),
        };
        let node = crate::yaml::parse(EVERY_MAPPING).unwrap();
        let scenario = decoder.scenario(&node, "every_mapping", &LoadOptions::default());
        assert!(
            scenario.is_some() && decoder.report.diagnostics().is_empty(),
            "{:?}",
            decoder.report.diagnostics()
        );
        for mapping in format::mappings() {
            for key in mapping.keys {
                assert!(
                    decoder.asked.contains(&(mapping.name, key.name())),
                    "the format declares `{}.{}` but the decoder never reads it",
                    mapping.name,
                    key.name()
                );
            }
        }
    }

    #[test]
    fn traffic_takes_the_command_lines_form_and_says_where_it_is_wrong() {
        let decoded =
            decode_located(EVERY_MAPPING, "t.yaml", "t", &LoadOptions::default()).unwrap();
        assert_eq!(
            decoded.scenario.traffic,
            Some(crate::scenario::Pattern::Diurnal {
                period: std::time::Duration::from_secs(3600),
                amplitude: 0.3
            })
        );
        let broken = EVERY_MAPPING.replace("diurnal:1h:0.3", "wavy:1h");
        let error = decode_located(&broken, "t.yaml", "t", &LoadOptions::default())
            .expect_err("an unknown shape is an error")
            .to_string();
        assert!(error.contains("t.yaml:10:10"), "{error}");
        assert!(
            error.contains("traffic") && error.contains("unknown traffic shape `wavy`"),
            "{error}"
        );
    }

    #[test]
    fn the_source_map_follows_the_models_step_order() {
        let decoded =
            decode_located(EVERY_MAPPING, "t.yaml", "t", &LoadOptions::default()).unwrap();
        let steps = decoded.scenario.root.walk();
        let paths: Vec<&str> = decoded
            .source_map
            .steps
            .iter()
            .map(|s| s.path.as_str())
            .collect();
        assert_eq!(
            paths,
            [
                "root",
                "root.children[0]",
                "root.children[1]",
                "root.children[2]"
            ]
        );
        assert_eq!(steps.len(), paths.len());
        let root = &decoded.source_map.steps[0];
        assert_eq!(root.attributes.len(), steps[0].attributes.len());
        assert_eq!(root.attributes[0].0, "root.attributes.a");
        assert_eq!(root.attributes[0].1.line, 23);
        assert_eq!(
            decoded
                .source_map
                .key("root.children[0].latency")
                .map(|m| m.line),
            Some(34)
        );
    }
}
