//! What each span type means, written once, as data: its span kind, its OpenInference kind, its
//! GenAI operation and conventional attributes, how its failures read, which status code it
//! reports, which metrics and log records it feeds, and what the bundled schema says of it.
//!
//! Before this table, that knowledge was spread over nine files, each with its own `match` on
//! [`SpanType`] (the plan's attribute defaults and error messages, the metrics, the logs, the
//! OpenInference kinds, the derived status codes): adding or changing a span type meant finding
//! every one of them. Now the plan, the derived metrics and logs, the OpenInference attributes and
//! the checks read one [`SpanConvention`] per type from [`TABLE`], and a new type is one more row
//! (plus, only if it reports something no existing type does, a new [`Signals`] family).
//!
//! The table is plain `static` data, not a trait with one implementation per type: a trait would
//! scatter the types over as many impls again and hide what they have in common, where a table
//! shows every type's answer to the same question side by side. What cannot be a constant (the
//! provider a scenario names, the host of that provider, the agent's name) is a named
//! [`Value`] variant that the plan computes, so the table still says where each value comes from.
//!
//! This module sits below `generate` and above `scenario` (whose model keeps only the type's
//! names, [`SpanType::suffix`] and [`SpanType::is_vendor`]): it knows nothing of OTLP encodings or
//! of the generator's interned handles. Keys under the configurable namespace are written with
//! the scenario files' `vendor.` prefix and rewritten by the reader
//! ([`crate::scenario::normalize_prefix`]).

pub mod models;

use crate::scenario::{Distribution, SpanType};

pub mod profile;
pub use profile::{Profile, Semconv, SpanNames};
pub mod generic;

/// The role of a span in its trace, as OTLP's span kind expresses it (defined in
/// [`crate::value`], below every layer, so that the encoder can read it too).
pub use crate::value::SpanKind;

/// An OpenInference span kind: what a span is to a GenAI backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenInferenceKind {
    Agent,
    Llm,
    Embedding,
    Tool,
    Retriever,
    Guardrail,
    Chain,
}

impl OpenInferenceKind {
    /// The value of `openinference.span.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            OpenInferenceKind::Agent => "AGENT",
            OpenInferenceKind::Llm => "LLM",
            OpenInferenceKind::Embedding => "EMBEDDING",
            OpenInferenceKind::Tool => "TOOL",
            OpenInferenceKind::Retriever => "RETRIEVER",
            OpenInferenceKind::Guardrail => "GUARDRAIL",
            OpenInferenceKind::Chain => "CHAIN",
        }
    }
}

/// The family of derived metrics and log records a span type feeds (the original's instruments
/// and records, one family each). Attempts, planners and other inner steps feed none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signals {
    /// `{prefix}.turn.*`, `turn.start`/`turn.end`.
    Turn,
    /// `{prefix}.tool.*`, `mcp.client.operation.duration`, `tool.call`.
    ToolCall,
    /// `{prefix}.llm.*`, `{prefix}.llm.call`.
    Inference,
    /// `{prefix}.rag.*`, `rag.retrieve`.
    Retrieval,
    /// `{prefix}.a2a.*`, `a2a.call`.
    AgentCall,
    /// `{prefix}.cp.*`, `cp.request`.
    ControlPlane,
}

/// Values made per trace or per span, as the generator makes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PerTrace {
    Tenant,
    SessionId,
    RequestId,
    TraceIdHex,
    ToolCallId,
    ResponseId,
    TaskId,
    /// The MCP session the trace's tool calls belong to (32 hex digits, from the session id).
    McpSessionId,
    /// The JSON-RPC id of one MCP request, unique in its trace.
    JsonRpcRequestId,
}

/// Where a conventional attribute's value comes from.
#[derive(Clone, Debug)]
pub enum Value {
    Str(&'static str),
    Int(i64),
    PerTrace(PerTrace),
    /// Another attribute of the same span.
    CopyOf(&'static str),
    /// A draw per span.
    Sampled(Distribution),
    /// The scenario's constant string for this key, else the fallback.
    Written(&'static str, &'static str),
    /// The scenario's constant string for this key; no attribute when it has none.
    WrittenOnly(&'static str),
    /// The name of the agent (the scenario's display name).
    AgentName,
    /// `gen_ai.provider.name` as written (or the deprecated `gen_ai.system`), else `openai`.
    Provider,
    /// The API host of the provider.
    ProviderHost,
}

/// When a conventional attribute applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    Always,
    /// Only when the operation generates output: not for `embeddings`.
    Generates,
}

/// One conventional attribute of a span type.
#[derive(Clone, Debug)]
pub struct DefaultAttribute {
    pub key: &'static str,
    pub value: Value,
    pub when: When,
}

const fn d(key: &'static str, value: Value) -> DefaultAttribute {
    DefaultAttribute {
        key,
        value,
        when: When::Always,
    }
}

/// Everything a span type means, beyond its name.
#[derive(Debug)]
pub struct SpanConvention {
    pub span_type: SpanType,
    pub kind: SpanKind,
    /// The OpenInference kind; an `Llm` whose operation is `embeddings` is an `Embedding`.
    pub openinference: OpenInferenceKind,
    /// The default `gen_ai.operation.name`, first of its attributes.
    pub operation: Option<&'static str>,
    /// Its other conventional attributes, after the common ones, in emitted order.
    pub defaults: &'static [DefaultAttribute],
    /// What failed, in a failed span's status message (`"{what} failed: {error type}"`).
    pub failure_subject: &'static str,
    /// A GenAI client operation in the semantic conventions' sense: it feeds
    /// `gen_ai.client.operation.duration`, and its failures are `gen_ai.client.operation.exception`
    /// log events.
    pub genai_client_operation: bool,
    /// The status-code attribute it reports (with the `vendor.` prefix) and its success word.
    pub status: Option<(&'static str, &'static str)>,
    /// The derived metrics and log records it feeds.
    pub signals: Option<Signals>,
    /// The span type of each attempt, when its retries are child spans of one call span (an MCP
    /// tool call) rather than sibling spans.
    pub attempts: Option<SpanType>,
    /// Whether the bundled schema declares it a root span.
    pub schema_root: bool,
}

impl SpanConvention {
    /// The OpenInference kind of a span whose `gen_ai.operation.name` is `operation`.
    pub fn openinference_kind(&self, operation: Option<&str>) -> OpenInferenceKind {
        match self.openinference {
            OpenInferenceKind::Llm if operation == Some("embeddings") => {
                OpenInferenceKind::Embedding
            }
            kind => kind,
        }
    }
}

/// The attributes of a tool call and of each of its attempts.
const TOOL_DEFAULTS: &[DefaultAttribute] = &[
    d("gen_ai.tool.name", Value::Str("unknown.tool")),
    d("gen_ai.tool.type", Value::Str("function")),
    d("gen_ai.tool.call.id", Value::PerTrace(PerTrace::ToolCallId)),
    d("mcp.method.name", Value::Str("tools/call")),
];

/// An inner step: internal, a chain to OpenInference, feeding no signals of its own.
const fn internal(span_type: SpanType, defaults: &'static [DefaultAttribute]) -> SpanConvention {
    SpanConvention {
        span_type,
        kind: SpanKind::Internal,
        openinference: OpenInferenceKind::Chain,
        operation: None,
        defaults,
        failure_subject: "step",
        genai_client_operation: false,
        status: None,
        signals: None,
        attempts: None,
        schema_root: false,
    }
}

/// One row per span type, in the order of [`SpanType::ALL`].
pub static TABLE: [SpanConvention; SpanType::ALL.len()] = [
    SpanConvention {
        kind: SpanKind::Server,
        openinference: OpenInferenceKind::Agent,
        operation: Some("invoke_agent"),
        defaults: &[
            d("gen_ai.agent.name", Value::AgentName),
            d(
                "gen_ai.agent.id",
                Value::WrittenOnly("vendor.a2a.agent.target.id"),
            ),
            d(
                "gen_ai.conversation.id",
                Value::PerTrace(PerTrace::SessionId),
            ),
        ],
        status: Some(("vendor.turn.status.code", "SUCCESS")),
        signals: Some(Signals::Turn),
        schema_root: true,
        ..internal(SpanType::A2aOrchestrate, &[])
    },
    SpanConvention {
        failure_subject: "planning",
        ..internal(SpanType::Planner, &[])
    },
    SpanConvention {
        defaults: &[
            d("vendor.task.id", Value::PerTrace(PerTrace::TaskId)),
            d("vendor.task.type", Value::Str("subtask")),
        ],
        ..internal(SpanType::TaskExecute, &[])
    },
    SpanConvention {
        kind: SpanKind::Client,
        openinference: OpenInferenceKind::Llm,
        operation: Some("chat"),
        defaults: &[
            d("gen_ai.provider.name", Value::Provider),
            d("gen_ai.request.model", Value::Str("gpt-4.1-mini")),
            d(
                "gen_ai.response.model",
                Value::CopyOf("gen_ai.request.model"),
            ),
            d(
                "gen_ai.usage.input_tokens",
                Value::Sampled(Distribution::LogNormal {
                    median: 500.0,
                    sigma: 0.5,
                }),
            ),
            // Embeddings produce no output tokens and no completion id.
            DefaultAttribute {
                key: "gen_ai.response.id",
                value: Value::PerTrace(PerTrace::ResponseId),
                when: When::Generates,
            },
            DefaultAttribute {
                key: "gen_ai.usage.output_tokens",
                value: Value::Sampled(Distribution::LogNormal {
                    median: 200.0,
                    sigma: 0.6,
                }),
                when: When::Generates,
            },
            d(
                "gen_ai.conversation.id",
                Value::PerTrace(PerTrace::SessionId),
            ),
            d("server.address", Value::ProviderHost),
            d("server.port", Value::Int(443)),
        ],
        failure_subject: "LLM call",
        genai_client_operation: true,
        signals: Some(Signals::Inference),
        ..internal(SpanType::LlmCall, &[])
    },
    SpanConvention {
        kind: SpanKind::Client,
        openinference: OpenInferenceKind::Tool,
        operation: Some("execute_tool"),
        failure_subject: "tool call",
        status: Some(("vendor.tool.status.code", "OK")),
        signals: Some(Signals::ToolCall),
        attempts: Some(SpanType::McpToolExecuteAttempt),
        ..internal(SpanType::McpToolExecute, TOOL_DEFAULTS)
    },
    SpanConvention {
        kind: SpanKind::Client,
        openinference: OpenInferenceKind::Tool,
        operation: Some("execute_tool"),
        failure_subject: "tool call",
        status: Some(("vendor.tool.status.code", "OK")),
        ..internal(SpanType::McpToolExecuteAttempt, TOOL_DEFAULTS)
    },
    internal(SpanType::LlmToolResponseBridge, &[]),
    SpanConvention {
        defaults: &[d("vendor.response.format", Value::Str("text"))],
        ..internal(SpanType::ResponseCompose, &[])
    },
    SpanConvention {
        openinference: OpenInferenceKind::Retriever,
        operation: Some("retrieval"),
        defaults: &[
            d(
                "gen_ai.data_source.id",
                Value::Written("rag.index.name", "default_index"),
            ),
            // The original recorded 5 documents when a step said nothing; a count around 5
            // keeps its dashboards fed, and the span, its metric and its log agree on it.
            d(
                "rag.documents.returned",
                Value::Sampled(Distribution::Poisson { lambda: 5.0 }),
            ),
        ],
        failure_subject: "retrieval",
        genai_client_operation: true,
        status: Some(("vendor.rag.status.code", "OK")),
        signals: Some(Signals::Retrieval),
        ..internal(SpanType::RagRetrieve, &[])
    },
    SpanConvention {
        kind: SpanKind::Client,
        openinference: OpenInferenceKind::Agent,
        operation: Some("invoke_agent"),
        defaults: &[d(
            "gen_ai.agent.name",
            Value::Written("a2a.target.agent", "remote-agent"),
        )],
        failure_subject: "agent call",
        genai_client_operation: true,
        status: Some(("vendor.a2a.status.code", "OK")),
        signals: Some(Signals::AgentCall),
        ..internal(SpanType::A2aCall, &[])
    },
    SpanConvention {
        kind: SpanKind::Server,
        // A control-plane request decides ALLOWED / FLAGGED / BLOCKED: a guardrail.
        openinference: OpenInferenceKind::Guardrail,
        defaults: &[d(
            "vendor.cp.incoming_trace_id",
            Value::PerTrace(PerTrace::TraceIdHex),
        )],
        failure_subject: "control-plane request",
        status: Some(("vendor.cp.status.code", "ALLOWED")),
        signals: Some(Signals::ControlPlane),
        schema_root: true,
        ..internal(SpanType::CpRequest, &[])
    },
    // The semantic conventions' embeddings span: an inference that returns vectors, not text,
    // so no output tokens and no response id; it reports as an LLM call does.
    SpanConvention {
        kind: SpanKind::Client,
        openinference: OpenInferenceKind::Embedding,
        operation: Some("embeddings"),
        defaults: &[
            d("gen_ai.provider.name", Value::Provider),
            d("gen_ai.request.model", Value::Str("text-embedding-3-small")),
            d(
                "gen_ai.response.model",
                Value::CopyOf("gen_ai.request.model"),
            ),
            d(
                "gen_ai.usage.input_tokens",
                Value::Sampled(Distribution::LogNormal {
                    median: 40.0,
                    sigma: 0.5,
                }),
            ),
            d("gen_ai.embeddings.dimension.count", Value::Int(1536)),
            d(
                "gen_ai.conversation.id",
                Value::PerTrace(PerTrace::SessionId),
            ),
            d("server.address", Value::ProviderHost),
            d("server.port", Value::Int(443)),
        ],
        failure_subject: "embeddings call",
        genai_client_operation: true,
        signals: Some(Signals::Inference),
        ..internal(SpanType::LlmEmbeddings, &[])
    },
];

/// What a generic step is to everything that reads this table: an inner step feeding no
/// signals; its kind, name and attributes come from its convention (`generic.rs`).
static GENERIC: SpanConvention = internal(SpanType::Generic, &[]);

/// The conventions of span type `t`.
pub fn of(t: SpanType) -> &'static SpanConvention {
    TABLE.get(t as usize).unwrap_or(&GENERIC)
}

/// The span kind of `t`.
pub fn kind(t: SpanType) -> SpanKind {
    of(t).kind
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_type_in_order() {
        for (i, t) in SpanType::ALL.into_iter().enumerate() {
            assert_eq!(TABLE[i].span_type, t);
            assert_eq!(of(t).span_type, t);
        }
    }

    #[test]
    fn operation_refines_the_kind_of_an_llm_call() {
        let llm = of(SpanType::LlmCall);
        let embedding = llm.openinference_kind(Some("embeddings"));
        assert_eq!(embedding, OpenInferenceKind::Embedding);
        assert_eq!(llm.openinference_kind(Some("chat")), OpenInferenceKind::Llm);
        let planner = of(SpanType::Planner).openinference_kind(Some("embeddings"));
        assert_eq!(planner.as_str(), "CHAIN");
    }

    #[test]
    fn signals_and_status_go_together() {
        // Every type that feeds derived signals other than inference reports a status code,
        // and a GenAI client operation names its operation.
        for c in &TABLE {
            if matches!(c.signals, Some(s) if s != Signals::Inference) {
                assert!(c.status.is_some(), "{}", c.span_type);
            }
            if c.genai_client_operation {
                assert!(c.operation.is_some(), "{}", c.span_type);
            }
        }
    }
}
