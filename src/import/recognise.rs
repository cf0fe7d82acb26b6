//! Which agent span type a recorded span is, from its name or its GenAI attributes; read from
//! `scenario::SpanType` and `conventions` (the one table), never a copy of it.
//!
//! By name first: `<prefix>.<suffix>` for the prefixed types, the bare name for the others,
//! longest suffix first (`mcp.tool.execute.attempt` before `mcp.tool.execute`). Then by
//! `gen_ai.operation.name`, for spans of other instrumentations (`chat gpt-4o` is an LLM call).
//! A tool execution recognised only by its attribute stays generic: the `mcp.tool.execute` type
//! adds attempt spans the input does not have, which would change the tree.

use super::span::AttrValue;
use super::tree::Node;
use crate::generate::written;
use crate::scenario::SpanType;

/// How a node was recognised.
#[derive(Clone, Debug, PartialEq)]
pub enum Recognised {
    /// By its name; with the prefix the input used (for prefixed types).
    Name(SpanType, Option<String>),
    /// By `gen_ai.operation.name`; the emitted name will differ from the input's.
    GenAi(SpanType, String),
    Generic,
}

impl Recognised {
    pub fn span_type(&self) -> Option<SpanType> {
        match self {
            Recognised::Name(t, _) | Recognised::GenAi(t, _) => Some(*t),
            Recognised::Generic => None,
        }
    }
}

pub fn by_name(name: &str) -> Option<(SpanType, Option<String>)> {
    let mut types = SpanType::ALL.to_vec();
    types.sort_by_key(|t| std::cmp::Reverse(t.suffix().len()));
    types.into_iter().find_map(|t| {
        if !t.is_vendor() {
            return (name == t.suffix()).then_some((t, None));
        }
        let prefix = name.strip_suffix(t.suffix())?.strip_suffix('.')?;
        (!prefix.is_empty()).then(|| (t, Some(prefix.to_string())))
    })
}

/// The node's type; `is_root` because `invoke_agent` is an orchestration at the root and a call
/// of another agent below it.
pub fn recognise(node: &Node, is_root: bool) -> Recognised {
    if let Some((t, prefix)) = by_name(&node.name) {
        let attempts_alone = t == SpanType::McpToolExecuteAttempt;
        let tool_without_attempts = t == SpanType::McpToolExecute && !node.attempt_children;
        if !attempts_alone && !tool_without_attempts {
            return Recognised::Name(t, prefix);
        }
        return Recognised::Generic;
    }
    let operation = node.attributes.get("gen_ai.operation.name").and_then(|a| {
        let (_, (value, _)) = a.values.iter().next().filter(|_| a.values.len() == 1)?;
        match value {
            AttrValue::Str(s) => Some(s.clone()),
            _ => None,
        }
    });
    let t = match operation.as_deref() {
        Some("chat" | "text_completion" | "generate_content") => SpanType::LlmCall,
        Some("embeddings") => SpanType::LlmEmbeddings,
        Some("retrieval") => SpanType::RagRetrieve,
        Some("invoke_agent") if is_root => SpanType::A2aOrchestrate,
        Some("invoke_agent") => SpanType::A2aCall,
        _ => return Recognised::Generic,
    };
    Recognised::GenAi(t, node.name.clone())
}

/// Why the generator writes `key` itself on a span of type `t` (under `prefix`), or `None` when
/// the scenario may fit it: read from the generator's own table ([`written::derived`]), so a key
/// the generator starts deriving is never fitted as a free attribute here. Writing one in the
/// scenario would fix what the generator varies (ids), or contradict what it derives (a cost of
/// 0 beside 300 output tokens).
pub fn generated_key(key: &str, t: Option<SpanType>, prefix: &str) -> Option<&'static str> {
    written::derived(key, t, prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_read_with_any_prefix_longest_suffix_first() {
        assert_eq!(
            by_name("acme.llm.call"),
            Some((SpanType::LlmCall, Some("acme".into())))
        );
        assert_eq!(
            by_name("vendor.mcp.tool.execute.attempt").map(|x| x.0),
            Some(SpanType::McpToolExecuteAttempt)
        );
        assert_eq!(by_name("rag.retrieve"), Some((SpanType::RagRetrieve, None)));
        assert_eq!(by_name("llm.call"), None);
        assert_eq!(by_name("GET /users"), None);
    }

    #[test]
    fn generated_keys_are_left_to_the_generator() {
        let t = Some(SpanType::McpToolExecute);
        assert!(generated_key("vendor.session.id", t, "vendor").is_some());
        assert!(generated_key("vendor.tool.status.code", t, "vendor").is_some());
        assert!(generated_key("gen_ai.tool.name", t, "vendor").is_none());
        assert!(generated_key("llm.cost.completion", None, "vendor").is_some());
        assert!(generated_key("user.id", None, "vendor").is_some());
    }
}
