//! The attribute keys the generator writes itself: ids, copies, totals, outcomes, the usage an
//! `llm:` block derives, a session's ids, a call's bookkeeping. `import` reads this to know what
//! it must not fit as a free attribute (a scenario that wrote them would fix what the generator
//! varies, or contradict what it derives: a cost of 0 beside 300 output tokens).
//!
//! One table with a reason per key, next to the generator, rather than a copy of the keys in the
//! importer: the keys of the conventions' table come from [`conventions::TABLE`] itself (its
//! per-trace values and copies), OpenInference's from [`super::openinference::defaults`], and a
//! unit test generates every bundled scenario and fails on any key a span carries that neither the
//! scenario wrote, nor a convention defaults, nor this table names.

use crate::conventions::{self, OpenInferenceKind, Value};
use crate::scenario::{SpanType, normalize_prefix};

/// Keys under the attribute prefix are written with `vendor.` (as in scenario files).
const TABLE: &[(&str, &str)] = &[
    // Every span.
    ("tenant.id", "the trace's tenant, from the run's tenants"),
    ("vendor.session.id", "an id per trace"),
    ("vendor.request.id", "an id per trace"),
    ("vendor.span.class", "the span type"),
    ("vendor.scenario.name", "the scenario's name, on the root"),
    // Retries and failures.
    ("retry.attempt", "the attempt's number, from `retry:`"),
    ("retry.is_retry", "from `retry:`"),
    ("http.request.resend_count", "an http step's retries"),
    ("error.type", "the drawn error type"),
    ("error.message", "the drawn error type"),
    ("exception.type", "the drawn error type"),
    ("exception.message", "the drawn error type"),
    ("exception.stacktrace", "the drawn error type"),
    ("vendor.mcp.attempt.index", "an MCP call's attempts"),
    ("vendor.mcp.attempt.outcome", "an MCP call's attempts"),
    ("vendor.cp.incoming_trace_id", "the trace id"),
    ("vendor.cp.outgoing_trace_id", "the trace id"),
    // Outcome words, written from the span's status unless fixed in the scenario.
    ("vendor.a2a.outcome", "follows the span's outcome"),
    ("vendor.step.outcome", "follows the span's outcome"),
    ("vendor.turn.status.result", "follows the span's outcome"),
    ("vendor.tool.status.result", "follows the span's outcome"),
    ("vendor.cp.status.result", "follows the span's outcome"),
    // LLM failures (`failures:`).
    (
        super::failures::FINISH_REASONS,
        "follows the tree and `failures:`",
    ),
    ("vendor.llm.retry_after_ms", "a rate limit's retry-after"),
    // Generic steps: the convention's status code follows the outcome.
    (
        "http.response.status_code",
        "follows the outcome (200, or the error type's code)",
    ),
    (
        "rpc.grpc.status_code",
        "follows the outcome (0, or the error type's code)",
    ),
    // An `llm:` block's usage, read from the token attributes.
    ("gen_ai.usage.cost", "tokens times the model's price"),
    ("llm.cost.prompt", "tokens times the model's price"),
    ("llm.cost.completion", "tokens times the model's price"),
    ("llm.cost.total", "tokens times the model's price"),
    (
        "gen_ai.response.time_to_first_chunk",
        "queue and prefill of a streamed call",
    ),
    ("gen_ai.request.stream", "`llm: {stream: true}`"),
    (
        "llm.token_count.prompt_details.cache_read",
        "a copy of the cache-read tokens",
    ),
    (
        "llm.token_count.prompt_details.cache_write",
        "a copy of the cache-creation tokens",
    ),
    (
        "llm.token_count.completion_details.reasoning",
        "a copy of the reasoning tokens",
    ),
    // Sessions (`session:`).
    ("session.id", "the session's id"),
    ("user.id", "the session's user"),
    ("gen_ai.conversation.id", "the session's id"),
    ("vendor.turn.index", "the turn's place in its session"),
    ("vendor.context.summary", "a summarising call of a session"),
    // `--content`: made up per span, never a distribution.
    ("gen_ai.input.messages", "`--content`"),
    ("gen_ai.output.messages", "`--content`"),
    ("gen_ai.tool.call.arguments", "`--content`"),
    ("gen_ai.tool.call.result", "`--content`"),
    ("gen_ai.retrieval.query.text", "`--content`"),
    ("gen_ai.retrieval.documents", "`--content`"),
    ("input.value", "`--content`"),
    ("input.mime_type", "`--content`"),
    ("output.value", "`--content`"),
    ("output.mime_type", "`--content`"),
    // Calls between services (`remote:`): the SERVER span's bookkeeping.
    ("client.address", "the caller's service"),
    ("jsonrpc.request.id", "an id per MCP request"),
];

/// Keys an `llm:` block writes that a scenario may write as attributes instead: the usage reads
/// them as drawn (so `import` fits them as attributes, and the generator derives the rest).
pub const READ_BY_USAGE: &[&str] = &[
    "gen_ai.request.max_tokens",
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.reasoning.output_tokens",
];

/// Why the generator writes `key` itself on a span of type `t` (under attribute prefix
/// `prefix`), or `None` when a scenario may set it.
pub fn derived(key: &str, t: Option<SpanType>, prefix: &str) -> Option<&'static str> {
    let same = |k: &str| normalize_prefix(k, prefix) == key;
    if let Some((_, why)) = TABLE.iter().find(|(k, _)| same(k)) {
        return Some(why);
    }
    let t = t?;
    let convention = conventions::of(t);
    if convention.status.is_some_and(|(k, _)| same(k)) {
        return Some("the type's status code follows the span's outcome");
    }
    for d in convention.defaults {
        let why = match d.value {
            Value::PerTrace(_) => "made per trace or span",
            Value::CopyOf(_) => "a copy of another attribute",
            _ => continue,
        };
        if same(d.key) {
            return Some(why);
        }
    }
    let kinds = [
        convention.openinference,
        OpenInferenceKind::Embedding,
        OpenInferenceKind::Llm,
    ];
    kinds
        .into_iter()
        .flat_map(|kind| super::openinference::defaults(kind, Some("openai")))
        .any(|(k, _)| k == key)
        .then_some("an OpenInference copy of a GenAI attribute")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::testing;
    use std::collections::BTreeSet;

    /// Every key a bundled scenario's spans carry beyond what its plan lays out for the step (what
    /// the scenario wrote and its type's defaults) is one this table names: the table cannot fall
    /// behind the generator unseen. SERVER spans are left out: `import` folds them into `remote:`.
    #[test]
    fn every_key_the_generator_adds_at_run_time_is_named() {
        let mut unknown = BTreeSet::new();
        for (name, _) in crate::scenario::BUNDLED {
            let plan = testing::bundled(name);
            for trace in testing::traces(&plan, 7, 40) {
                for span in trace.spans.iter().filter(|s| !s.server) {
                    let node = plan.node(span.node);
                    let planned = if span.attempt {
                        &node.attempt_attrs
                    } else {
                        &node.attrs
                    };
                    for a in trace.attrs_of(span) {
                        let key = plan.str(a.key);
                        if !planned.iter().any(|p| p.key() == a.key)
                            && !READ_BY_USAGE.contains(&key)
                            && derived(key, Some(span.span_type), "vendor").is_none()
                        {
                            unknown.insert(format!("{name}: {key}"));
                        }
                    }
                }
            }
        }
        assert!(unknown.is_empty(), "{unknown:#?}");
    }

    #[test]
    fn keys_follow_the_prefix_and_the_conventions_table() {
        let llm = Some(SpanType::LlmCall);
        assert_eq!(
            derived("llm.cost.completion", llm, "vendor"),
            derived("llm.cost.total", None, "x")
        );
        assert!(derived("acme.session.id", None, "acme").is_some());
        assert!(derived("vendor.session.id", None, "acme").is_none());
        assert!(derived("gen_ai.response.id", llm, "vendor").is_some());
        assert!(derived("llm.token_count.total", llm, "vendor").is_some());
        assert!(derived("gen_ai.usage.input_tokens", llm, "vendor").is_none());
        assert!(
            derived(
                "gen_ai.tool.call.id",
                Some(SpanType::McpToolExecute),
                "vendor"
            )
            .is_some()
        );
        assert!(
            derived(
                "vendor.tool.status.code",
                Some(SpanType::McpToolExecute),
                "vendor"
            )
            .is_some()
        );
        assert!(derived("gen_ai.tool.name", Some(SpanType::McpToolExecute), "vendor").is_none());
    }
}
