//! What `validate` says about a scenario's `session:` beyond its syntax: a growing context that
//! nothing reads (no LLM step to carry the history), and a summarising overflow with no LLM step
//! to make the summarising call. Both run, but do not do what the author wrote, so they are
//! warnings at the key, not errors; the decoder keeps to what cannot run at all.

use super::Findings;
use crate::scenario::{AttributeValue, Decoded, Literal, Overflow, Severity, SpanType, Step};

/// Whether `step` is an LLM call whose input tokens a session grows (not an embedding).
fn is_chat_call(step: &Step) -> bool {
    step.span_type == SpanType::LlmCall && !step.attributes.iter().any(|a| {
        a.key == "gen_ai.operation.name"
            && matches!(&a.value, AttributeValue::Constant(Literal::Str(s)) if s == "embeddings")
    })
}

/// The session warnings of `decoded`.
pub(super) fn check(out: &mut Findings, decoded: &Decoded) {
    let Some(session) = &decoded.scenario.session else {
        return;
    };
    let Some(context) = &session.context else {
        return;
    };
    if decoded.scenario.root.walk().into_iter().any(is_chat_call) {
        return;
    }
    let path = "session.context";
    let mark = decoded.source_map.nearest(path);
    let what = match context.overflow {
        Overflow::Summarize => "and no summarising call can be made",
        Overflow::Truncate => "so nothing grows",
    };
    out.push(
        Severity::Warning,
        mark,
        path,
        format!("the scenario has no LLM step to carry the history, {what}"),
        Some("add a `vendor.llm.call` step (not an embedding), or remove `context`".into()),
    );
}

#[cfg(test)]
mod tests {
    use crate::lint::{LintContext, lint};
    use crate::scenario::{LoadOptions, decode_located};

    fn warnings(yaml: &str) -> String {
        let decoded = decode_located(yaml, "t.yaml", "t", &LoadOptions::default()).unwrap();
        let schema = crate::schema::bundled();
        let context = LintContext {
            file: "t.yaml",
            text: yaml,
            schema: &schema,
            prefix: "vendor",
        };
        lint(&decoded, &context).to_string()
    }

    #[test]
    fn a_context_without_an_llm_step_is_a_located_warning() {
        let w = warnings(
            "root: {type: vendor.a2a.orchestrate, latency: 10, error: 0}\nsession: {context: {window: 100}}\n",
        );
        assert!(
            w.contains("session.context") && w.contains("no LLM step"),
            "{w}"
        );
        let w = warnings(
            "root: {type: vendor.a2a.orchestrate, latency: 10, error: 0, children: [{type: vendor.llm.call, latency: 5, error: 0}]}\nsession: {context: {window: 100}}\n",
        );
        assert!(!w.contains("no LLM step"), "{w}");
    }
}
