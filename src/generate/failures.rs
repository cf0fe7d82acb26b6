//! The plan side of LLM failures and finish reasons: what an LLM call step's `failures:` and the
//! scenario's opt-in to finish reasons compile to, once per plan.
//!
//! Each failure that makes a span fail (429, context window, content filter, timeout) is appended
//! to its node's error types, after the step's own, with weight zero: the span records, the
//! derived metrics and logs and the exception events then read it as they read any error type,
//! and no code downstream of the generator knows these failures exist. The hallucinated tool call
//! gets a node of its own at the end of the node table (a tool call to an unknown tool that always
//! fails), so the generator lays it out with the same code as any tool call. A separate error
//! path for these failures, with its own span fields, was the alternative rejected: the error
//! metrics and exception log records would each have had to learn it.
//!
//! Finish reasons are derived only in a scenario that writes `failures:` on some step: deriving
//! them everywhere would change every bundled scenario's telemetry (`scripts/fingerprint`), and a
//! scenario that writes `gen_ai.response.finish_reasons` keeps its own value.

use super::plan::{AttrPlan, Plan};
use super::sampler::Sampler;
use super::symbols::{AttrValue, LiteralId, NodeId, Sym};
use crate::conventions::OpenInferenceKind;
use crate::scenario::{
    Attribute, AttributeValue, Count, ErrorModel, Jitter, Latency, Literal, Retry, Scenario,
    SpanType, Step,
};

/// The attribute that carries the finish reasons.
pub const FINISH_REASONS: &str = "gen_ai.response.finish_reasons";

/// How much of its drawn latency a call that fails at once (429, context window) lasts.
pub const FAIL_FAST_FRACTION: f64 = 0.05;

/// The error type of each failure that makes a span fail, as the conventions say `error.type`:
/// a rate limit is the HTTP status code; the others are the providers' error codes (OpenAI's
/// `context_length_exceeded` and `content_filter`) and the builtin `timeout`.
pub const RATE_LIMITED: &str = "429";
pub const CONTEXT_WINDOW: &str = "context_length_exceeded";
pub const CONTENT_FILTER: &str = "content_filter";
pub const TIMEOUT: &str = "timeout";
/// MCP's answer to a call of a tool the server does not have: JSON-RPC "invalid params"; the
/// conventions make a JSON-RPC error code a tool call's `error.type`.
pub const UNKNOWN_TOOL: &str = "-32602";

/// An LLM call step compiled: its failures and whether it derives finish reasons.
pub(crate) struct LlmPlan {
    pub rate_limit: f64,
    pub retry_after_ms: Sampler,
    pub context_window: f64,
    pub content_filter: f64,
    pub hallucinated: f64,
    pub timeout: f64,
    pub timeout_ms: f64,
    pub max_attempts: u32,
    /// The backoff between attempts: the step's `retry`, else the defaults.
    pub backoff: Retry,
    /// Indices into the node's error types: 429, context window, content filter, timeout.
    pub kinds: [usize; 4],
    /// The unknown tool a hallucinated call asks for.
    pub tool: Option<NodeId>,
    /// Whether its spans get derived finish reasons (the scenario opted in and did not write
    /// them).
    pub finish: bool,
    pub keys: LlmKeys,
}

/// Interned keys and values the generator writes on LLM spans.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LlmKeys {
    pub finish_reasons: Sym,
    pub stop: LiteralId,
    pub tool_calls: LiteralId,
    pub length: LiteralId,
    pub content_filter: LiteralId,
    pub max_tokens: Sym,
    pub input_tokens: Sym,
    pub output_tokens: Sym,
    pub oi_completion: Sym,
    pub oi_total: Sym,
    pub http_status: Sym,
    pub retry_after_ms: Sym,
    /// The error type and status message of a parent whose turn a content filter ended.
    pub turn_filtered: (Sym, Sym),
}

/// Compiles the LLM plans of `scenario` into `plan`, whose first nodes are the scenario's steps
/// in pre-order. Does nothing for a scenario without `failures:`.
pub(crate) fn compile(plan: &mut Plan, scenario: &Scenario) {
    let steps = scenario.root.walk();
    if steps.iter().all(|s| s.failures.is_none()) {
        return;
    }
    let keys = keys(plan);
    let tool_name = unknown_tool_name(plan);
    for (i, step) in steps.iter().enumerate() {
        if step.span_type != SpanType::LlmCall {
            continue;
        }
        let id = NodeId(i as u32);
        let failures = step.failures.clone().unwrap_or_default();
        let kinds = add_error_types(plan, id);
        if failures.content_filter > 0.0 {
            add_turn_filtered(plan, id, keys.turn_filtered);
        }
        let tool = (failures.hallucinated_tool_call > 0.0).then(|| unknown_tool(plan, &tool_name));
        let node = &mut plan.nodes[i];
        let written = step.attributes.iter().any(|a| a.key == FINISH_REASONS);
        let finish = !written && node.role == OpenInferenceKind::Llm;
        if finish {
            // A schema default would contradict the tree; the derived value takes its place.
            node.attrs.retain(|a| a.key() != keys.finish_reasons);
        }
        node.failures = Some(LlmPlan {
            rate_limit: failures.rate_limit.as_ref().map_or(0.0, |r| r.probability),
            retry_after_ms: Sampler::new(&match &failures.rate_limit {
                Some(r) => r.retry_after_ms.clone(),
                None => crate::scenario::Distribution::Uniform {
                    low: 0.0,
                    high: 0.0,
                },
            }),
            context_window: failures.context_window_exceeded,
            content_filter: failures.content_filter,
            hallucinated: failures.hallucinated_tool_call,
            timeout: failures.timeout.as_ref().map_or(0.0, |t| t.probability),
            timeout_ms: failures.timeout.as_ref().map_or(0.0, |t| t.after_ms),
            max_attempts: failures.max_attempts(step.retry.as_ref().map(|r| r.max_attempts)),
            backoff: step.retry.clone().unwrap_or_default(),
            kinds,
            tool,
            finish,
            keys,
        });
    }
}

fn keys(plan: &mut Plan) -> LlmKeys {
    let mut list = |s: &str| plan.literal_list(s);
    let (stop, tool_calls, length, content_filter) = (
        list("stop"),
        list("tool_calls"),
        list("length"),
        list("content_filter"),
    );
    let prefix = plan.prefix.clone();
    LlmKeys {
        finish_reasons: plan.intern(FINISH_REASONS),
        stop,
        tool_calls,
        length,
        content_filter,
        max_tokens: plan.intern("gen_ai.request.max_tokens"),
        input_tokens: plan.intern("gen_ai.usage.input_tokens"),
        output_tokens: plan.intern("gen_ai.usage.output_tokens"),
        oi_completion: plan.intern("llm.token_count.completion"),
        oi_total: plan.intern("llm.token_count.total"),
        http_status: plan.intern("http.response.status_code"),
        retry_after_ms: plan.intern(&format!("{prefix}.llm.retry_after_ms")),
        turn_filtered: (
            plan.intern(CONTENT_FILTER),
            plan.intern("turn ended: the content filter stopped an LLM response"),
        ),
    }
}

/// Appends the failures' error types to node `id`'s, with weight zero and not retryable (a rate
/// limit's retry is the generator's), and returns their indices.
fn add_error_types(plan: &mut Plan, id: NodeId) -> [usize; 4] {
    let subject = crate::conventions::of(SpanType::LlmCall).failure_subject;
    let types = [
        (
            RATE_LIMITED,
            "429 Too Many Requests: rate limited".to_string(),
        ),
        (
            CONTEXT_WINDOW,
            "the prompt is longer than the model's context window".to_string(),
        ),
        (
            CONTENT_FILTER,
            "the response was stopped by the content filter".to_string(),
        ),
        (TIMEOUT, "request timed out".to_string()),
    ];
    let mut kinds = [0; 4];
    for (k, (kind, message)) in types.into_iter().enumerate() {
        let kind = plan.intern(kind);
        let message = plan.intern(&format!("{subject} failed: {message}"));
        let error = &mut plan.nodes[id.0 as usize].error;
        kinds[k] = error.types.len();
        error.types.push(kind);
        error.messages.push(message);
        error.retryable.push(false);
    }
    kinds
}

/// The error a content filter gives the parent of node `id`, among its types (never drawn), so
/// that the encoder knows its status message.
fn add_turn_filtered(plan: &mut Plan, id: NodeId, (kind, message): (Sym, Sym)) {
    let Some(parent) = plan.nodes.iter().position(|n| n.children.contains(&id)) else {
        return;
    };
    let error = &mut plan.nodes[parent].error;
    if !error.messages.contains(&message) {
        error.types.push(kind);
        error.messages.push(message);
        error.retryable.push(false);
    }
}

/// A tool name the scenario's tools do not have: its first tool's name with `_v2`, as a model
/// recalls an API that drifted, else a plausible one.
fn unknown_tool_name(plan: &Plan) -> String {
    let first = plan.nodes().find_map(|node| match node.span_type {
        SpanType::McpToolExecute => node.attrs.iter().find_map(|a| match a {
            AttrPlan::Constant {
                key,
                value: AttrValue::Str(s),
            } if plan.str(*key) == "gen_ai.tool.name" => Some(plan.str(*s).to_string()),
            _ => None,
        }),
        _ => None,
    });
    match first {
        Some(name) => format!("{name}_v2"),
        None => "search_internal_docs".into(),
    }
}

/// A node for a tool call to `name`, which always fails as an unknown tool.
fn unknown_tool(plan: &mut Plan, name: &str) -> NodeId {
    let step = Step {
        span_type: SpanType::McpToolExecute,
        latency: Latency::Jitter(Jitter {
            mean_ms: 15.0,
            ..Jitter::default()
        }),
        error: ErrorModel {
            types: vec![(UNKNOWN_TOOL.into(), 1.0)],
            retryable_types: Vec::new(),
            ..ErrorModel::with_rate(1.0)
        },
        probability: 1.0,
        count: Count::Fixed(1),
        retry: None,
        attributes: vec![Attribute {
            key: "gen_ai.tool.name".into(),
            value: AttributeValue::Constant(Literal::Str(name.into())),
        }],
        children: Vec::new(),
        failures: None,
        service: None,
        remote: None,
        llm: None,
        generic: None,
        wiring: Default::default(),
        evaluations: Vec::new(),
    };
    let agent = plan.scenario.clone();
    let id = plan.add_step(&step, &agent);
    let message = plan.intern(&format!("tool call failed: unknown tool {name}"));
    plan.nodes[id.0 as usize].error.messages[0] = message;
    id
}
