//! The keys and words the derived metrics and logs use, interned once per plan.
//!
//! Split from `derive` (which reads spans through the plan) so that the plan can hold them
//! without `plan` and `derive` importing each other; it depends only on the bottom module
//! (`symbols`) and the conventions' table. Interning them lazily on first use was rejected: every
//! span would then hash strings.

use super::symbols::Sym;
use crate::conventions;
use crate::scenario::{SpanType, normalize_prefix};

/// Interned keys and words of the derived signals.
#[derive(Clone, Debug, Default)]
pub struct DerivedKeys {
    // Context every log record carries.
    pub tenant_id: Sym,
    pub session_id: Sym,
    pub request_id: Sym,
    pub turn_index: Sym,
    /// `event.name`: the deprecated attribute twin of a log record's event name.
    pub event_name: Sym,
    // Agent turn.
    pub route: Sym,
    pub turn_status_code: Sym,
    pub turn_status_result: Sym,
    // Tool call.
    pub tool_name: Sym,
    pub tool_server_name: Sym,
    pub tool_status_code: Sym,
    pub tool_status_result: Sym,
    pub mcp_method: Sym,
    // GenAI client operations.
    pub operation: Sym,
    pub provider: Sym,
    pub system: Sym,
    pub request_model: Sym,
    pub response_model: Sym,
    pub server_address: Sym,
    pub server_port: Sym,
    pub input_tokens: Sym,
    pub output_tokens: Sym,
    // Retrieval.
    pub rag_index: Sym,
    pub rag_documents: Sym,
    pub rag_status_code: Sym,
    // Agent-to-agent call.
    pub a2a_target: Sym,
    pub agent_name: Sym,
    pub a2a_operation: Sym,
    pub a2a_status_code: Sym,
    // Control plane.
    pub cp_status_code: Sym,
    pub cp_status_result: Sym,
    // Keys only logs use.
    pub duration_ms: Sym,
    pub tool_latency_ms: Sym,
    pub a2a_latency_ms: Sym,
    pub error_type: Sym,
    pub error_message: Sym,
    pub exception_type: Sym,
    pub exception_message: Sym,
    // Words.
    pub success: Sym,
    pub ok: Sym,
    pub allowed: Sym,
    pub flagged: Sym,
    pub error: Sym,
    pub default_route: Sym,
    pub unknown_tool: Sym,
    pub unknown_server: Sym,
    pub default_index: Sym,
    pub unknown_agent: Sym,
    pub unknown: Sym,
    pub tools_call: Sym,
    // Log event names.
    pub turn_start_event: Sym,
    pub turn_end_event: Sym,
    pub tool_call_event: Sym,
    pub llm_call_event: Sym,
    pub rag_event: Sym,
    pub a2a_event: Sym,
    pub cp_event: Sym,
    pub exception_event: Sym,
    pub genai_exception_event: Sym,
    /// An LLM call's `gen_ai.response.time_to_first_chunk` and `gen_ai.usage.cost`.
    pub ttft: Sym,
    pub cost: Sym,
    /// Per span type (indexed by `SpanType as usize`): the key of the status code it reports,
    /// with its success word, from the conventions' table.
    pub status: Vec<Option<(Sym, Sym)>>,
}

impl DerivedKeys {
    /// The keys under attribute prefix `prefix`, interned by `intern`.
    pub(crate) fn intern(prefix: &str, intern: &mut dyn FnMut(&str) -> Sym) -> DerivedKeys {
        let p = prefix;
        let mut k = |s: &str| intern(s);
        DerivedKeys {
            tenant_id: k("tenant.id"),
            session_id: k(&format!("{p}.session.id")),
            request_id: k(&format!("{p}.request.id")),
            turn_index: k(&format!("{p}.turn.index")),
            event_name: k("event.name"),
            route: k(&format!("{p}.route")),
            turn_status_code: k(&format!("{p}.turn.status.code")),
            turn_status_result: k(&format!("{p}.turn.status.result")),
            tool_name: k("gen_ai.tool.name"),
            tool_server_name: k(&format!("{p}.tool.server.name")),
            tool_status_code: k(&format!("{p}.tool.status.code")),
            tool_status_result: k(&format!("{p}.tool.status.result")),
            mcp_method: k("mcp.method.name"),
            operation: k("gen_ai.operation.name"),
            provider: k("gen_ai.provider.name"),
            system: k("gen_ai.system"),
            request_model: k("gen_ai.request.model"),
            response_model: k("gen_ai.response.model"),
            server_address: k("server.address"),
            server_port: k("server.port"),
            input_tokens: k("gen_ai.usage.input_tokens"),
            output_tokens: k("gen_ai.usage.output_tokens"),
            rag_index: k("rag.index.name"),
            rag_documents: k("rag.documents.returned"),
            rag_status_code: k(&format!("{p}.rag.status.code")),
            a2a_target: k("a2a.target.agent"),
            agent_name: k("gen_ai.agent.name"),
            a2a_operation: k("a2a.operation"),
            a2a_status_code: k(&format!("{p}.a2a.status.code")),
            cp_status_code: k(&format!("{p}.cp.status.code")),
            cp_status_result: k(&format!("{p}.cp.status.result")),
            duration_ms: k("duration_ms"),
            tool_latency_ms: k("tool.latency_ms"),
            a2a_latency_ms: k("a2a.latency_ms"),
            error_type: k("error.type"),
            error_message: k("error.message"),
            exception_type: k("exception.type"),
            exception_message: k("exception.message"),
            success: k("SUCCESS"),
            ok: k("OK"),
            allowed: k("ALLOWED"),
            flagged: k("FLAGGED"),
            error: k("ERROR"),
            default_route: k("default"),
            unknown_tool: k("unknown.tool"),
            unknown_server: k("unknown-server"),
            default_index: k("default_index"),
            unknown_agent: k("unknown-agent"),
            unknown: k("unknown"),
            tools_call: k("tools/call"),
            turn_start_event: k("turn.start"),
            turn_end_event: k("turn.end"),
            tool_call_event: k("tool.call"),
            llm_call_event: k(&format!("{p}.llm.call")),
            rag_event: k("rag.retrieve"),
            a2a_event: k("a2a.call"),
            cp_event: k("cp.request"),
            exception_event: k("exception"),
            genai_exception_event: k("gen_ai.client.operation.exception"),
            ttft: k("gen_ai.response.time_to_first_chunk"),
            cost: k("gen_ai.usage.cost"),
            status: SpanType::ALL
                .iter()
                .map(|&t| {
                    let (key, success) = conventions::of(t).status?;
                    Some((k(&normalize_prefix(key, p)), k(success)))
                })
                .collect(),
        }
    }
}
