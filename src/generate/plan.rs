//! The plan: a scenario compiled once into what generating a trace needs.
//!
//! Compilation flattens the step tree into a node table, builds every sampler, interns attribute
//! keys and constant values, and merges each span type's conventional attributes (GenAI semantic
//! conventions, the original tool's vendor attributes) with the scenario's own, the scenario
//! winning. Generating a trace then only draws numbers and copies small handles; no string is
//! built or hashed per span. Interpreting the scenario model directly on every trace was the
//! rejected alternative: it would redo all of this millions of times.

use super::content::ContentPlan;
use super::generic::{self, LinkPlan, NameBy, StatusPlan};
use super::keys::DerivedKeys;
use super::openinference::{self, OpenInferenceKind};
use super::profile::SpanName;
use super::sampler::Sampler;
use super::services::{CallPlan, ServiceTable};
use super::symbols::{AttrValue, DefaultValue, Generated, LiteralId, NodeId, Sym};
use crate::conventions::{self, PerTrace, Profile, SpanConvention, SpanKind, Value, When};
use crate::scenario::{
    Attribute, AttributeValue, Count, Distribution, ErrorModel, Jitter, Latency, Literal,
    Propagation, Retry, Scenario, SpanType, Step, normalize_prefix,
};
use crate::schema::{ContextValue, Schema, StringStyle, ValueRule, is_outcome_attribute};
use rand::{Rng, RngExt};
use rand_distr::{Distribution as _, StandardNormal, weighted::WeightedIndex};
use std::collections::HashMap;
use std::sync::Arc;

/// Settings that shape what the plan emits.
#[derive(Clone, Debug)]
pub struct PlanOptions {
    pub prefix: String,
    pub tenants: Vec<String>,
    /// Semantic conventions that fill in attributes neither the scenario nor the span type sets.
    pub schema: Option<Arc<Schema>>,
    /// `service.name`, for schema attributes that ask for it.
    pub service_name: String,
    /// Opt-in message content (`--content`): prompts, completions, tool arguments and results.
    pub content: bool,
    /// Which conventions the spans follow (`--semconv`, `--span-names`).
    pub profile: Profile,
}

pub struct Plan {
    pub scenario: String,
    pub prefix: String,
    strings: Vec<String>,
    index: HashMap<String, Sym>,
    literals: Vec<Literal>,
    pub(crate) nodes: Vec<PlanNode>,
    pub tenants: Vec<Sym>,
    pub(crate) keys: Keys,
    /// Keys and words the derived metrics and logs use.
    pub(crate) derived: DerivedKeys,
    /// Whether this scenario's traces feed the metrics and the logs (`emit_metrics`, `emit_logs`).
    pub emit_metrics: bool,
    pub emit_logs: bool,
    schema: Option<Arc<Schema>>,
    service_name: String,
    /// Present when message content is on (`--content`).
    pub(crate) content: Option<ContentPlan>,
    /// The scenario's services (empty: the run's one service).
    pub services: ServiceTable,
    profile: Profile,
    /// A step links to `previous_trace`: each iteration's root carries the ids its successor
    /// names ([`super::generic::anchor`]).
    pub anchored: bool,
    /// Present when the scenario has `session:`.
    pub session: Option<super::session::SessionPlan>,
    /// The evaluations of its steps and session.
    pub evaluations: super::evaluation::Evaluations,
}

/// Keys the generator sets itself.
pub(crate) struct Keys {
    pub error_type: Sym,
    pub retry_attempt: Sym,
    pub retry_is_retry: Sym,
    pub attempt_index: Sym,
    pub attempt_outcome: Sym,
    pub success: Sym,
    pub failure: Sym,
    /// What an MCP attempt shares with its tool call.
    pub tool_name: Sym,
    pub tool_call_id: Sym,
    /// A control-plane request's `{prefix}.cp.outgoing_trace_id`, absent on a `BLOCKED` one.
    pub cp_outgoing_trace_id: Sym,
    pub blocked: Sym,
}

pub(crate) struct PlanNode {
    pub span_type: SpanType,
    pub kind: SpanKind,
    /// What the span is to a GenAI backend (and so which content it carries).
    pub role: OpenInferenceKind,
    pub name: SpanName,
    /// For MCP tool steps, the name of the per-attempt child spans.
    pub attempt_name: SpanName,
    pub latency: LatencySampler,
    pub error: ErrorPlan,
    pub probability: f64,
    pub count: CountPlan,
    pub retry: Option<Retry>,
    pub attrs: Vec<AttrPlan>,
    /// For MCP tool steps, the attributes of the attempt spans.
    pub attempt_attrs: Vec<AttrPlan>,
    pub children: Vec<NodeId>,
    /// The service the node's spans run in (an index into [`Plan::services`]).
    pub service: u16,
    /// The step's call into another service (`remote:`).
    pub call: Option<CallPlan>,
    /// An LLM call's usage, timing and cost (its step's `llm:` block).
    pub llm: Option<Box<super::llm::LlmPlan>>,
    /// An LLM call's failures and finish reasons, in a scenario that writes `failures:`.
    pub failures: Option<super::failures::LlmPlan>,
    /// For MCP tool steps, the kind of the attempt spans.
    pub attempt_kind: SpanKind,
    /// Links of each span of the step (`links`).
    pub links: Vec<LinkPlan>,
    /// Children start together (`parallel: true`).
    pub parallel: bool,
    /// A status code that follows the outcome (generic HTTP and gRPC steps).
    pub status: Option<StatusPlan>,
    /// `http.request.resend_count`, on the retries of a generic HTTP step.
    pub resend_count: Option<Sym>,
    /// A generic name whose placeholder names a categorical attribute: one name per value.
    pub name_by: Option<NameBy>,
}

/// A step's latency model, compiled: the one place a span's own duration is drawn, used by the
/// generator and by the checks that estimate latencies (`validate`, `check`).
#[derive(Clone, Debug)]
pub enum LatencySampler {
    Jitter(Jitter),
    Distribution(Sampler),
}

impl LatencySampler {
    pub fn new(latency: &Latency) -> LatencySampler {
        match latency {
            Latency::Jitter(j) => LatencySampler::Jitter(j.clone()),
            Latency::Distribution(d) => LatencySampler::Distribution(Sampler::new(d)),
        }
    }

    /// One draw, in milliseconds, before clamping (a jittered draw can be negative; spans then
    /// last 0 ns).
    pub fn sample_ms<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            LatencySampler::Jitter(j) => {
                let z: f64 = StandardNormal.sample(rng);
                let mut ms = j.mean_ms * (1.0 + j.variance * z);
                if j.spike_rate > 0.0 && rng.random::<f64>() < j.spike_rate {
                    let (lo, hi) = if j.spike_multiplier >= 1.5 {
                        (1.5, j.spike_multiplier)
                    } else {
                        (j.spike_multiplier, 1.5)
                    };
                    ms *= lo + (hi - lo) * rng.random::<f64>();
                }
                ms
            }
            LatencySampler::Distribution(s) => s.number(rng),
        }
    }
}

pub(crate) struct ErrorPlan {
    pub rate: f64,
    pub types: Vec<Sym>,
    /// The span status message for each type.
    pub messages: Vec<Sym>,
    pub retryable: Vec<bool>,
    pub pick: WeightedIndex<f64>,
    /// Draws among the retryable types only (their weights, the others' zeroed): a retry
    /// block's forced initial failure is one that is retried. `None` when no type is retryable.
    pub pick_retryable: Option<WeightedIndex<f64>>,
    pub propagation: Option<Propagation>,
}

pub(crate) enum CountPlan {
    Fixed(u32),
    Uniform {
        min: u32,
        max: u32,
    },
    Distribution {
        min: u32,
        max: u32,
        sampler: Sampler,
    },
}

/// How one attribute of a span gets its value.
pub(crate) enum AttrPlan {
    Constant {
        key: Sym,
        value: AttrValue,
    },
    Sampled {
        key: Sym,
        sampler: Sampler,
        choices: Vec<AttrValue>,
        integer: bool,
    },
    Generated {
        key: Sym,
        what: Generated,
    },
    /// The value another attribute of the same span got (e.g. the response model is the request's).
    CopyOf {
        key: Sym,
        from: Sym,
    },
    /// The sum of two numeric attributes of the same span (e.g. total = input + output tokens).
    Sum {
        key: Sym,
        of: [Sym; 2],
    },
    /// A value that follows the span's sampled outcome (a status code, an outcome word).
    Outcome {
        key: Sym,
        success: AttrValue,
        failure: AttrValue,
    },
}

impl Plan {
    pub fn compile(scenario: &Scenario, options: &PlanOptions) -> Plan {
        let mut plan = Plan {
            schema: options.schema.clone(),
            service_name: options.service_name.clone(),
            content: None,
            scenario: scenario.name.clone(),
            prefix: options.prefix.clone(),
            strings: Vec::new(),
            index: HashMap::new(),
            literals: Vec::new(),
            nodes: Vec::new(),
            tenants: Vec::new(),
            keys: Keys {
                error_type: Sym(0),
                retry_attempt: Sym(0),
                retry_is_retry: Sym(0),
                attempt_index: Sym(0),
                attempt_outcome: Sym(0),
                success: Sym(0),
                failure: Sym(0),
                tool_name: Sym(0),
                tool_call_id: Sym(0),
                cp_outgoing_trace_id: Sym(0),
                blocked: Sym(0),
            },
            derived: DerivedKeys::default(),
            emit_metrics: scenario.emit_metrics,
            emit_logs: scenario.emit_logs,
            services: ServiceTable::default(),
            profile: options.profile,
            anchored: false,
            session: None,
            evaluations: Default::default(),
        };
        let prefix = plan.prefix.clone();
        plan.derived = DerivedKeys::intern(&prefix, &mut |s| plan.intern(s));
        let p = &options.prefix;
        plan.keys = Keys {
            error_type: plan.intern("error.type"),
            retry_attempt: plan.intern("retry.attempt"),
            retry_is_retry: plan.intern("retry.is_retry"),
            attempt_index: plan.intern(&format!("{p}.mcp.attempt.index")),
            attempt_outcome: plan.intern(&format!("{p}.mcp.attempt.outcome")),
            success: plan.intern("success"),
            failure: plan.intern("failure"),
            tool_name: plan.intern("gen_ai.tool.name"),
            tool_call_id: plan.intern("gen_ai.tool.call.id"),
            cp_outgoing_trace_id: plan.intern(&format!("{p}.cp.outgoing_trace_id")),
            blocked: plan.intern("BLOCKED"),
        };
        plan.tenants = options.tenants.iter().map(|t| plan.intern(t)).collect();
        plan.services = ServiceTable::new(&scenario.services, &mut |s| plan.intern(s));
        plan.add_step(&scenario.root, &scenario.display_name);
        super::failures::compile(&mut plan, scenario);
        // The root names its scenario, so mixed workloads can be told apart downstream.
        let key = plan.intern(&format!("{p}.scenario.name"));
        let value = AttrValue::Str(plan.intern(&scenario.name));
        plan.nodes[0].attrs.push(AttrPlan::Constant { key, value });
        plan.compile_services(scenario);
        plan.compile_wiring(&scenario.root);
        if options.content {
            let (names, planned_tool) = plan.content_names();
            plan.content = Some(ContentPlan::new(&names, planned_tool, |s| plan.intern(s)));
        }
        plan.compile_llm(scenario);
        plan.session = super::session::SessionPlan::compile(scenario, &mut plan);
        plan.evaluations = super::evaluation::Evaluations::compile(scenario, &mut plan);
        plan.rename_keys(options.profile.semconv.renames());
        plan
    }

    /// The tool names and data source ids of the scenario's spans (which choose the domain
    /// of its content), and the first tool an MCP execute span calls.
    fn content_names(&self) -> (Vec<String>, Option<String>) {
        let mut names = Vec::new();
        let mut planned_tool = None;
        for node in &self.nodes {
            let tool_names = node_strings(self, node, "gen_ai.tool.name");
            if node.span_type == SpanType::McpToolExecute && planned_tool.is_none() {
                planned_tool = tool_names.first().cloned();
            }
            names.extend(tool_names);
            names.extend(node_strings(self, node, "gen_ai.data_source.id"));
        }
        (names, planned_tool)
    }

    pub fn root(&self) -> NodeId {
        NodeId(0)
    }

    pub fn str(&self, sym: Sym) -> &str {
        &self.strings[sym.0 as usize]
    }

    pub fn literal(&self, id: LiteralId) -> &Literal {
        &self.literals[id.0 as usize]
    }

    pub fn symbol_count(&self) -> usize {
        self.strings.len()
    }

    pub fn literal_count(&self) -> usize {
        self.literals.len()
    }

    pub(crate) fn nodes(&self) -> impl Iterator<Item = &PlanNode> {
        self.nodes.iter()
    }

    /// For each attribute a span of `id` gets from its plan, in order: the key and value when
    /// they are the same for every span, `None` when drawn per span.
    pub(crate) fn node_constants(
        &self,
        id: NodeId,
        attempt: bool,
    ) -> impl Iterator<Item = Option<(Sym, AttrValue)>> {
        let node = self.node(id);
        let plans = if attempt {
            &node.attempt_attrs
        } else {
            &node.attrs
        };
        plans.iter().map(|p| match p {
            AttrPlan::Constant { key, value } => Some((*key, *value)),
            _ => None,
        })
    }

    pub(crate) fn node(&self, id: NodeId) -> &PlanNode {
        &self.nodes[id.0 as usize]
    }

    /// The handle of `s`, if it is interned.
    pub(crate) fn lookup(&self, s: &str) -> Option<Sym> {
        self.index.get(s).copied()
    }

    /// Makes `sym` stand for `s` from now on (a renamed key keeps its handle).
    pub(crate) fn set_str(&mut self, sym: Sym, s: &str) {
        self.strings[sym.0 as usize] = s.to_string();
        self.index.entry(s.to_string()).or_insert(sym);
    }

    pub fn intern(&mut self, s: &str) -> Sym {
        if let Some(sym) = self.index.get(s) {
            return *sym;
        }
        let sym = Sym(self.strings.len() as u32);
        self.strings.push(s.to_string());
        self.index.insert(s.to_string(), sym);
        sym
    }

    pub(crate) fn add_step(&mut self, step: &Step, agent_name: &str) -> NodeId {
        let id = NodeId(self.nodes.len() as u32);
        let convention = conventions::of(step.span_type);
        let attempt_type = convention
            .attempts
            .unwrap_or(SpanType::McpToolExecuteAttempt);
        let attrs = self.attributes(step, step.span_type, agent_name);
        let attempt_attrs = match convention.attempts {
            Some(attempt) => self.attributes(step, attempt, agent_name),
            None => Vec::new(),
        };
        let profile = self.profile;
        let vendor =
            generic::span_name(step).unwrap_or_else(|| step.span_type.span_name(&self.prefix));
        let vendor = self.intern(&vendor);
        let name = self.span_name(&profile, step.span_type, &attrs, vendor);
        let vendor = self.intern(&attempt_type.span_name(&self.prefix));
        let attempt_name = self.span_name(&profile, attempt_type, &attempt_attrs, vendor);
        let what = generic::failure_subject(step).unwrap_or(convention.failure_subject);
        let error = self.error_plan(&step.error, what);
        let operation = step.attributes.iter().find_map(|a| match &a.value {
            AttributeValue::Constant(Literal::Str(s)) if a.key == "gen_ai.operation.name" => {
                Some(s.as_str())
            }
            _ => None,
        });
        let role = convention.openinference_kind(operation);
        // Reserve the slot so children get higher ids than their parent.
        self.nodes.push(PlanNode {
            span_type: step.span_type,
            kind: generic::span_kind(step).unwrap_or_else(|| profile.semconv.kind(step.span_type)),
            role,
            name,
            attempt_name,
            latency: LatencySampler::new(&step.latency),
            error,
            probability: step.probability,
            count: match &step.count {
                Count::Fixed(n) => CountPlan::Fixed(*n),
                Count::Uniform { min, max } => CountPlan::Uniform {
                    min: *min,
                    max: *max,
                },
                Count::Distribution {
                    min,
                    max,
                    distribution,
                } => CountPlan::Distribution {
                    min: *min,
                    max: *max,
                    sampler: Sampler::new(distribution),
                },
            },
            retry: step.retry.clone(),
            attrs,
            attempt_attrs,
            children: Vec::new(),
            service: 0,
            call: None,
            failures: None,
            llm: None,
            attempt_kind: profile.semconv.kind(attempt_type),
            links: Vec::new(),
            parallel: false,
            status: None,
            resend_count: None,
            name_by: None,
        });
        let children = step
            .children
            .iter()
            .map(|c| self.add_step(c, agent_name))
            .collect();
        self.nodes[id.0 as usize].children = children;
        id
    }

    fn error_plan(&mut self, model: &ErrorModel, what: &str) -> ErrorPlan {
        let weights: Vec<f64> = model.types.iter().map(|(_, w)| *w).collect();
        let retryable: Vec<bool> = model
            .types
            .iter()
            .map(|(t, _)| model.retryable_types.contains(t))
            .collect();
        let retryable_weights = weights
            .iter()
            .zip(&retryable)
            .map(|(w, r)| if *r { *w } else { 0.0 });
        ErrorPlan {
            rate: model.rate,
            types: model.types.iter().map(|(t, _)| self.intern(t)).collect(),
            messages: model
                .types
                .iter()
                .map(|(t, _)| self.intern(&format!("{what} failed: {}", t.replace('_', " "))))
                .collect(),
            pick: WeightedIndex::new(&weights).unwrap_or_else(|_| {
                WeightedIndex::new(std::iter::once(1.0)).expect("a single positive weight is valid")
            }),
            pick_retryable: WeightedIndex::new(retryable_weights).ok(),
            retryable,
            propagation: model.propagation.clone(),
        }
    }

    /// The span type's conventional attributes merged with the scenario's (the scenario wins).
    fn attributes(&mut self, step: &Step, span_type: SpanType, agent_name: &str) -> Vec<AttrPlan> {
        let convention = conventions::of(span_type);
        let written = |key: &str| step.attributes.iter().find(|a| a.key == key);
        let constant = |key: &str| match written(key).map(|a| &a.value) {
            Some(AttributeValue::Constant(Literal::Str(s))) => Some(s.clone()),
            _ => None,
        };
        let mut defaults = self.conventional(step, convention, agent_name);
        // The OpenInference kind and provider follow the operation and provider the span ends
        // up with: the scenario's constant, else the default; none when the scenario samples it.
        let default_str = |key: &str| {
            defaults.iter().find_map(|(k, d)| match d {
                DefaultValue::Str(s) if k == key => Some(s.clone()),
                _ => None,
            })
        };
        let operation = match written("gen_ai.operation.name") {
            Some(_) => constant("gen_ai.operation.name"),
            None => default_str("gen_ai.operation.name"),
        };
        let provider = match written("gen_ai.provider.name").or_else(|| written("gen_ai.system")) {
            Some(_) => constant("gen_ai.provider.name").or_else(|| constant("gen_ai.system")),
            None => default_str("gen_ai.provider.name"),
        };
        // A generic span (HTTP, a query) is no OpenInference span.
        if span_type != SpanType::Generic {
            defaults.extend(openinference::defaults(
                convention.openinference_kind(operation.as_deref()),
                provider.as_deref(),
            ));
        }

        let mut plans: Vec<AttrPlan> = Vec::new();
        for (key, default) in defaults {
            if written(&key).is_some() {
                continue;
            }
            let key_sym = self.intern(&key);
            plans.push(match default {
                DefaultValue::Str(s) => AttrPlan::Constant {
                    key: key_sym,
                    value: AttrValue::Str(self.intern(&s)),
                },
                DefaultValue::Int(i) => AttrPlan::Constant {
                    key: key_sym,
                    value: AttrValue::Int(i),
                },
                DefaultValue::Generated(what) => AttrPlan::Generated { key: key_sym, what },
                DefaultValue::CopyOf(from) => AttrPlan::CopyOf {
                    key: key_sym,
                    from: self.intern(&from),
                },
                DefaultValue::Sum(a, b) => AttrPlan::Sum {
                    key: key_sym,
                    of: [self.intern(&a), self.intern(&b)],
                },
                DefaultValue::Sampled(d) => self.sampled(key_sym, &key, &d),
            });
        }
        for Attribute { key, value } in &step.attributes {
            let plan = self.written(key, value);
            plans.push(plan);
        }
        if let Some(schema) = self.schema.clone() {
            let span_name = span_type.span_name(&self.prefix);
            for def in schema.span_attributes(&span_name) {
                let present = |plans: &[AttrPlan], key: Sym| plans.iter().any(|a| a.key() == key);
                let key_sym = self.intern(&def.name);
                if present(&plans, key_sym) || written(&def.name).is_some() {
                    continue;
                }
                if let Some(plan) = self.schema_attribute(&schema, &span_name, def, key_sym) {
                    plans.push(plan);
                }
            }
        }
        // The generator sets these from the sampled outcome, never from a constant.
        plans.retain(
            |a| !matches!(a, AttrPlan::Constant { key, .. } if *key == self.keys.error_type),
        );
        // A copy or sum of an attribute this span does not have (output tokens of an embedding
        // call, say) is left out rather than invented.
        let keys: Vec<Sym> = plans.iter().map(AttrPlan::key).collect();
        plans.retain(|a| a.sources().iter().all(|s| keys.contains(s)));
        // Copies and sums read the values they derive from, so they go last.
        plans.sort_by_key(|a| !a.sources().is_empty());
        plans
    }

    /// The conventional attributes of a span of `convention` in `step`, before the scenario's:
    /// the ones every span carries, then its operation, then its type's own.
    fn conventional(
        &self,
        step: &Step,
        convention: &SpanConvention,
        agent_name: &str,
    ) -> Vec<(String, DefaultValue)> {
        let p = &self.prefix;
        let constant = |key: &str| match step.attributes.iter().find(|a| a.key == key) {
            Some(Attribute {
                value: AttributeValue::Constant(Literal::Str(s)),
                ..
            }) => Some(s.clone()),
            _ => None,
        };
        let mut defaults: Vec<(String, DefaultValue)> = vec![
            (
                "tenant.id".into(),
                DefaultValue::Generated(Generated::Tenant),
            ),
            (
                format!("{p}.session.id"),
                DefaultValue::Generated(Generated::SessionId),
            ),
            (
                format!("{p}.request.id"),
                DefaultValue::Generated(Generated::RequestId),
            ),
        ];
        let span_type = convention.span_type;
        if span_type.is_vendor() {
            defaults.push((
                format!("{p}.span.class"),
                DefaultValue::Str(span_type.suffix().into()),
            ));
        }
        let semconv = self.profile.semconv;
        if let Some(operation) = semconv.operation(span_type) {
            let key = "gen_ai.operation.name".to_string();
            defaults.push((key, DefaultValue::Str(operation.into())));
        }
        let provider = constant("gen_ai.provider.name")
            .or_else(|| constant("gen_ai.system"))
            .unwrap_or_else(|| "openai".into());
        let generates = constant("gen_ai.operation.name").as_deref() != Some("embeddings");
        for default in semconv.defaults(span_type) {
            if default.when == When::Generates && !generates {
                continue;
            }
            let value = match &default.value {
                Value::Str(s) => DefaultValue::Str((*s).into()),
                Value::Int(i) => DefaultValue::Int(*i),
                Value::PerTrace(what) => DefaultValue::Generated(generated(*what)),
                Value::CopyOf(key) => DefaultValue::CopyOf((*key).into()),
                Value::Sampled(d) => DefaultValue::Sampled(d.clone()),
                Value::Written(key, fallback) => DefaultValue::Str(
                    constant(&normalize_prefix(key, p)).unwrap_or_else(|| (*fallback).into()),
                ),
                Value::WrittenOnly(key) => match constant(&normalize_prefix(key, p)) {
                    Some(s) => DefaultValue::Str(s),
                    None => continue,
                },
                Value::AgentName => DefaultValue::Str(agent_name.into()),
                Value::Provider => DefaultValue::Str(provider.clone()),
                Value::ProviderHost => DefaultValue::Str(provider_host(&provider).into()),
            };
            defaults.push((normalize_prefix(default.key, p), value));
        }
        defaults.extend(generic::defaults(step));
        defaults
    }

    /// An attribute the scenario writes. A status or outcome it writes describes the span's
    /// success; a failed span reports failure instead, so the span never contradicts its own
    /// status.
    pub(crate) fn written(&mut self, key: &str, value: &AttributeValue) -> AttrPlan {
        let key_sym = self.intern(key);
        match value {
            AttributeValue::Constant(literal) if is_outcome_attribute(key) => {
                match failure_of(literal) {
                    Some(failure) => AttrPlan::Outcome {
                        key: key_sym,
                        success: self.constant(literal),
                        failure: self.constant(&failure),
                    },
                    None => AttrPlan::Constant {
                        key: key_sym,
                        value: self.constant(literal),
                    },
                }
            }
            AttributeValue::Constant(literal) => AttrPlan::Constant {
                key: key_sym,
                value: self.constant(literal),
            },
            AttributeValue::Sampled(d) => self.sampled(key_sym, key, d),
        }
    }

    /// A schema attribute's value, per the original's rules, except that outcome attributes
    /// follow the span's sampled outcome instead of being drawn at random.
    fn schema_attribute(
        &mut self,
        schema: &Schema,
        span_name: &str,
        def: &crate::schema::AttributeDef,
        key: Sym,
    ) -> Option<AttrPlan> {
        if is_outcome_attribute(&def.name) {
            let (success, failure) = schema.outcome_values(span_name, &def.name)?;
            return Some(AttrPlan::Outcome {
                key,
                success: self.constant(&success),
                failure: self.constant(&failure),
            });
        }
        let generated = |what| Some(AttrPlan::Generated { key, what });
        let text = |plan: &mut Self, s: &str| {
            Some(AttrPlan::Constant {
                key,
                value: AttrValue::Str(plan.intern(s)),
            })
        };
        match def.rule() {
            ValueRule::Constant(l) => Some(AttrPlan::Constant {
                key,
                value: self.constant(&l),
            }),
            ValueRule::OneOf(values) => {
                let weights = vec![1.0; values.len()];
                Some(self.sampled(
                    key,
                    &def.name,
                    &Distribution::Categorical { values, weights },
                ))
            }
            ValueRule::Context(c) => match c {
                ContextValue::TenantId => generated(Generated::Tenant),
                ContextValue::SessionId => generated(Generated::SessionId),
                ContextValue::RequestId => generated(Generated::RequestId),
                ContextValue::EnduserId => generated(Generated::EnduserId),
                ContextValue::TurnIndex => generated(Generated::TurnIndex),
                ContextValue::Route => text(self, "default"),
                ContextValue::SchemaVersion => text(self, &schema.version.clone()),
                ContextValue::ServiceName => text(self, &self.service_name.clone()),
                ContextValue::ServiceVersion => text(self, env!("CARGO_PKG_VERSION")),
            },
            ValueRule::Hash => generated(Generated::Hash),
            ValueRule::Redacted => text(self, "[REDACTED]"),
            ValueRule::RandomString { style } => {
                let prefix = match style {
                    StringStyle::Id => format!("{}_", def.name.rsplit('.').next().unwrap_or("id")),
                    StringStyle::Name => "name_".into(),
                    StringStyle::Other => "value_".into(),
                    StringStyle::Version => {
                        let values = ["1.0.0", "1.2.3", "2.0.1", "2.4.0", "3.1.7"]
                            .map(|v| Literal::Str(v.into()))
                            .to_vec();
                        let weights = vec![1.0; values.len()];
                        return Some(self.sampled(
                            key,
                            &def.name,
                            &Distribution::Categorical { values, weights },
                        ));
                    }
                };
                generated(Generated::RandomId(self.intern(&prefix)))
            }
            ValueRule::RandomInt { min, max } => Some(AttrPlan::Sampled {
                key,
                sampler: Sampler::new(&Distribution::Uniform {
                    low: min as f64,
                    high: max as f64,
                }),
                choices: Vec::new(),
                integer: true,
            }),
            ValueRule::RandomDouble { min, max } => Some(self.sampled(
                key,
                &def.name,
                &Distribution::Uniform {
                    low: min,
                    high: max,
                },
            )),
            ValueRule::RandomBool => {
                let values = vec![Literal::Bool(true), Literal::Bool(false)];
                Some(self.sampled(
                    key,
                    &def.name,
                    &Distribution::Categorical {
                        values,
                        weights: vec![1.0, 1.0],
                    },
                ))
            }
            ValueRule::Omit => None,
        }
    }

    pub(super) fn sampled(&mut self, key_sym: Sym, key: &str, d: &Distribution) -> AttrPlan {
        let choices = match d {
            Distribution::Categorical { values, .. } => {
                values.iter().map(|v| self.constant(v)).collect()
            }
            _ => Vec::new(),
        };
        AttrPlan::Sampled {
            key: key_sym,
            sampler: Sampler::new(d),
            choices,
            integer: is_integer_attribute(key, d),
        }
    }

    /// A one-string list value (`["stop"]`), kept among the plan's literals.
    pub(crate) fn literal_list(&mut self, s: &str) -> LiteralId {
        self.literals
            .push(Literal::List(vec![Literal::Str(s.to_string())]));
        LiteralId(self.literals.len() as u32 - 1)
    }

    pub(crate) fn constant(&mut self, literal: &Literal) -> AttrValue {
        match literal {
            Literal::Str(s) => AttrValue::Str(self.intern(s)),
            Literal::Int(i) => AttrValue::Int(*i),
            Literal::Float(f) => AttrValue::Double(*f),
            Literal::Bool(b) => AttrValue::Bool(*b),
            Literal::List(_) | Literal::Map(_) => {
                self.literals.push(literal.clone());
                AttrValue::Literal(LiteralId(self.literals.len() as u32 - 1))
            }
        }
    }
}

impl AttrPlan {
    pub fn key(&self) -> Sym {
        match self {
            AttrPlan::Constant { key, .. }
            | AttrPlan::Sampled { key, .. }
            | AttrPlan::Generated { key, .. }
            | AttrPlan::CopyOf { key, .. }
            | AttrPlan::Sum { key, .. }
            | AttrPlan::Outcome { key, .. } => *key,
        }
    }

    /// The attributes of the same span this one's value is derived from.
    pub fn sources(&self) -> &[Sym] {
        match self {
            AttrPlan::CopyOf { from, .. } => std::slice::from_ref(from),
            AttrPlan::Sum { of, .. } => of,
            _ => &[],
        }
    }
}

/// What a success-describing status or outcome value becomes on a failed span: `false` for a
/// boolean result, `ERROR` for an upper-case code, `failure` for a lower-case word. Values that
/// already describe failure, or are not words, stay as written.
fn failure_of(success: &Literal) -> Option<Literal> {
    match success {
        Literal::Bool(true) => Some(Literal::Bool(false)),
        Literal::Str(s) => {
            let word = s.to_ascii_lowercase();
            let already_failure = [
                "error", "failure", "failed", "fail", "blocked", "denied", "timeout", "false",
            ]
            .iter()
            .any(|f| word.contains(f));
            if already_failure || s.is_empty() {
                None
            } else if s.chars().all(|c| !c.is_ascii_lowercase()) {
                Some(Literal::Str("ERROR".into()))
            } else {
                Some(Literal::Str("failure".into()))
            }
        }
        _ => None,
    }
}

/// Whether attribute `key` sampled from `d` is emitted as an integer: token counts are whole
/// numbers even when drawn from a continuous distribution, and so is every integer-valued one.
pub fn is_integer_attribute(key: &str, d: &Distribution) -> bool {
    is_token_count(key) || d.is_integer_valued()
}

/// `gen_ai.usage.*_tokens`.
pub fn is_token_count(key: &str) -> bool {
    key.starts_with("gen_ai.usage.") && key.ends_with("_tokens")
}

/// The generator's handle of a value made per trace or per span.
fn generated(what: PerTrace) -> Generated {
    match what {
        PerTrace::Tenant => Generated::Tenant,
        PerTrace::SessionId => Generated::SessionId,
        PerTrace::RequestId => Generated::RequestId,
        PerTrace::TraceIdHex => Generated::TraceIdHex,
        PerTrace::ToolCallId => Generated::ToolCallId,
        PerTrace::ResponseId => Generated::ResponseId,
        PerTrace::TaskId => Generated::TaskId,
        PerTrace::McpSessionId => Generated::McpSessionId,
        PerTrace::JsonRpcRequestId => Generated::JsonRpcRequestId,
    }
}

/// The API host of a well-known `gen_ai.provider.name`.
fn provider_host(provider: &str) -> &'static str {
    match provider {
        "anthropic" => "api.anthropic.com",
        "cohere" => "api.cohere.com",
        "mistral_ai" => "api.mistral.ai",
        "groq" => "api.groq.com",
        "deepseek" => "api.deepseek.com",
        "x_ai" | "xai" => "api.x.ai",
        "perplexity" => "api.perplexity.ai",
        "aws.bedrock" => "bedrock-runtime.us-east-1.amazonaws.com",
        "gcp.vertex_ai" | "gcp.gemini" | "gcp.gen_ai" => "generativelanguage.googleapis.com",
        "azure.ai.openai" | "azure.ai.inference" => "models.inference.ai.azure.com",
        _ => "api.openai.com",
    }
}
/// The string values an attribute of a node can take: its constant, or its categorical choices.
fn node_strings(plan: &Plan, node: &PlanNode, key: &str) -> Vec<String> {
    let text = |v: &AttrValue| match v {
        AttrValue::Str(s) => Some(plan.str(*s).to_string()),
        AttrValue::Literal(id) => match plan.literal(*id) {
            Literal::Str(s) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    };
    node.attrs
        .iter()
        .filter(|a| plan.str(a.key()) == key)
        .flat_map(|a| match a {
            AttrPlan::Constant { value, .. } => text(value).into_iter().collect::<Vec<_>>(),
            AttrPlan::Sampled { choices, .. } => choices.iter().filter_map(text).collect(),
            _ => Vec::new(),
        })
        .collect()
}
