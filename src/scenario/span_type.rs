//! The span types a scenario step can be, and how a `type:` string names one.
//!
//! The set is closed (the original's eleven types, and `llm.embeddings`), because each type carries behaviour: its span
//! kind, its GenAI attributes, the MCP expansion, the metrics and logs derived from it. A free-form
//! span name was rejected for that reason; an unknown type is an error with a suggestion, where the
//! original silently turned it into the root type. This module keeps only the names; what each
//! type means is the table in `src/conventions`, so the scenario model knows nothing of OTLP.
//! What is not an agent span is a generic step ([`SpanType::Generic`], `src/scenario/generic.rs`),
//! whose name, kind and convention the scenario writes.

pub use crate::yaml::namespace::{YAML_PREFIX, normalize_prefix};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SpanType {
    A2aOrchestrate,
    Planner,
    TaskExecute,
    LlmCall,
    McpToolExecute,
    McpToolExecuteAttempt,
    LlmToolResponseBridge,
    ResponseCompose,
    RagRetrieve,
    A2aCall,
    CpRequest,
    /// An embeddings call (the GenAI `embeddings` operation), e.g. a RAG query's vector.
    LlmEmbeddings,
    /// A generic step (`name`/`kind`/`convention` instead of `type`): an HTTP call, a query, a
    /// publish. Not in [`SpanType::ALL`], which lists the types a `type:` may name; what it is
    /// comes from the step's [`super::Generic`].
    Generic,
}

impl SpanType {
    pub const ALL: [SpanType; 12] = [
        SpanType::A2aOrchestrate,
        SpanType::Planner,
        SpanType::TaskExecute,
        SpanType::LlmCall,
        SpanType::McpToolExecute,
        SpanType::McpToolExecuteAttempt,
        SpanType::LlmToolResponseBridge,
        SpanType::ResponseCompose,
        SpanType::RagRetrieve,
        SpanType::A2aCall,
        SpanType::CpRequest,
        SpanType::LlmEmbeddings,
    ];

    /// The type's name without any prefix, e.g. `mcp.tool.execute`.
    pub fn suffix(self) -> &'static str {
        match self {
            SpanType::A2aOrchestrate => "a2a.orchestrate",
            SpanType::Planner => "planner",
            SpanType::TaskExecute => "task.execute",
            SpanType::LlmCall => "llm.call",
            SpanType::McpToolExecute => "mcp.tool.execute",
            SpanType::McpToolExecuteAttempt => "mcp.tool.execute.attempt",
            SpanType::LlmToolResponseBridge => "llm.tool.response.bridge",
            SpanType::ResponseCompose => "response.compose",
            SpanType::RagRetrieve => "rag.retrieve",
            SpanType::A2aCall => "a2a.call",
            SpanType::CpRequest => "cp.request",
            SpanType::LlmEmbeddings => "llm.embeddings",
            SpanType::Generic => "generic",
        }
    }

    /// Whether the emitted span name carries the vendor prefix (`rag.retrieve`, `a2a.call` and
    /// `cp.request` do not).
    pub fn is_vendor(self) -> bool {
        !matches!(
            self,
            SpanType::RagRetrieve | SpanType::A2aCall | SpanType::CpRequest | SpanType::Generic
        )
    }

    /// The emitted span name under `prefix`.
    pub fn span_name(self, prefix: &str) -> String {
        if self.is_vendor() {
            format!("{prefix}.{}", self.suffix())
        } else {
            self.suffix().to_string()
        }
    }

    /// Resolves a `type:` value: `<suffix>`, `vendor.<suffix>` or `<prefix>.<suffix>`.
    pub fn parse(text: &str, prefix: &str) -> Option<SpanType> {
        let suffix = [YAML_PREFIX, prefix]
            .iter()
            .find_map(|p| text.strip_prefix(p).and_then(|rest| rest.strip_prefix('.')))
            .unwrap_or(text);
        SpanType::ALL.into_iter().find(|t| t.suffix() == suffix)
    }

    /// Every spelling a scenario may use, for suggestions.
    pub fn spellings() -> impl Iterator<Item = String> {
        SpanType::ALL.into_iter().map(|t| t.span_name(YAML_PREFIX))
    }
}

impl fmt::Display for SpanType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.suffix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_resolves() {
        for t in SpanType::ALL {
            assert_eq!(SpanType::parse(t.suffix(), "acme"), Some(t));
            assert_eq!(
                SpanType::parse(&format!("vendor.{}", t.suffix()), "acme"),
                Some(t)
            );
            assert_eq!(
                SpanType::parse(&format!("acme.{}", t.suffix()), "acme"),
                Some(t)
            );
        }
        assert_eq!(SpanType::parse("vendor.unknown", "vendor"), None);
        assert_eq!(SpanType::parse("other.planner", "vendor"), None);
    }

    #[test]
    fn names_follow_the_prefix() {
        assert_eq!(SpanType::Planner.span_name("acme"), "acme.planner");
        assert_eq!(SpanType::RagRetrieve.span_name("acme"), "rag.retrieve");
        assert_eq!(
            normalize_prefix("vendor.step.outcome", "acme"),
            "acme.step.outcome"
        );
        assert_eq!(normalize_prefix("gen_ai.system", "acme"), "gen_ai.system");
        assert_eq!(normalize_prefix("vendorx.a", "acme"), "vendorx.a");
    }
}
