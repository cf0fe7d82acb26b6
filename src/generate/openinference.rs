//! OpenInference conventions: the span kinds and attributes that Arize Phoenix and other
//! OpenInference backends read, derived from the GenAI semantic conventions the plan already emits.
//!
//! Every value here is either a constant of the span type or a copy of a GenAI attribute of the
//! same span (token counts are the very draws of `gen_ai.usage.*`, the total their sum), so the two
//! vocabularies can never disagree. They are always on: a GenAI dashboard user expects them, and
//! they cost about 115 bytes per span (19%) in the mixed workload (docs/compatibility.md has the
//! measurement). A flag was rejected because a backend that needs them shows a flat, kind-less
//! trace without them, and nobody would guess the flag; a backend that does not read them ignores
//! a few extra keys.
//!
//! Recent Phoenix releases (20.x) also synthesise some of these from `gen_ai.*` on ingest, but
//! only for spans with a GenAI operation: planners, response composition and guardrails would show
//! as UNKNOWN there, and older Phoenix releases and other OpenInference tools synthesise nothing.

use super::symbols::DefaultValue;

/// `openinference.span.kind`.
const SPAN_KIND: &str = "openinference.span.kind";
/// The resource attribute Phoenix routes traces to a project by.
pub const PROJECT_NAME: &str = "openinference.project.name";

/// What a span is to a GenAI backend: each span type's is in [`crate::conventions`]' table.
pub use crate::conventions::OpenInferenceKind;

/// The OpenInference attributes of a span type, as plan defaults. `operation` is the span's
/// `gen_ai.operation.name` and `provider` its `gen_ai.provider.name`, when they are constants.
/// Copies and sums of attributes the span turns out not to have are dropped by the plan.
pub(super) fn defaults(
    kind: OpenInferenceKind,
    provider: Option<&str>,
) -> Vec<(String, DefaultValue)> {
    let copy = |to: &str, from: &str| (to.to_string(), DefaultValue::CopyOf(from.into()));
    let mut out = vec![(
        SPAN_KIND.to_string(),
        DefaultValue::Str(kind.as_str().into()),
    )];
    match kind {
        OpenInferenceKind::Agent => {
            out.push(copy("agent.name", "gen_ai.agent.name"));
            out.push(copy("session.id", "gen_ai.conversation.id"));
        }
        OpenInferenceKind::Llm | OpenInferenceKind::Embedding => {
            if kind == OpenInferenceKind::Llm {
                out.push(copy("llm.model_name", "gen_ai.request.model"));
            } else {
                out.push(copy("embedding.model_name", "gen_ai.request.model"));
            }
            let (oi_provider, oi_system) = provider.map_or((None, None), provider_and_system);
            if let Some(p) = oi_provider {
                out.push(("llm.provider".into(), DefaultValue::Str(p.into())));
            }
            if let Some(s) = oi_system {
                out.push(("llm.system".into(), DefaultValue::Str(s.into())));
            }
            out.push(copy("llm.token_count.prompt", "gen_ai.usage.input_tokens"));
            out.push(copy(
                "llm.token_count.completion",
                "gen_ai.usage.output_tokens",
            ));
            out.push((
                "llm.token_count.total".into(),
                DefaultValue::Sum(
                    "gen_ai.usage.input_tokens".into(),
                    "gen_ai.usage.output_tokens".into(),
                ),
            ));
            out.push(copy("session.id", "gen_ai.conversation.id"));
        }
        OpenInferenceKind::Tool => out.push(copy("tool.name", "gen_ai.tool.name")),
        OpenInferenceKind::Retriever | OpenInferenceKind::Guardrail | OpenInferenceKind::Chain => {}
    }
    out
}

/// OpenInference's `llm.provider` (who hosts the model) and `llm.system` (whose API it is) for a
/// GenAI `gen_ai.provider.name`; `None` where OpenInference has no value for it.
fn provider_and_system(provider: &str) -> (Option<&'static str>, Option<&'static str>) {
    match provider {
        "openai" => (Some("openai"), Some("openai")),
        "anthropic" => (Some("anthropic"), Some("anthropic")),
        "cohere" => (Some("cohere"), Some("cohere")),
        "mistral_ai" => (Some("mistralai"), Some("mistralai")),
        "x_ai" | "xai" => (Some("xai"), Some("xai")),
        "deepseek" => (Some("deepseek"), Some("deepseek")),
        "azure.ai.openai" | "az.ai.openai" => (Some("azure"), Some("openai")),
        "azure.ai.inference" | "az.ai.inference" => (Some("azure"), None),
        "aws.bedrock" => (Some("aws"), None),
        "gcp.vertex_ai" | "vertex_ai" => (Some("google"), Some("vertexai")),
        "gcp.gemini" | "gcp.gen_ai" | "gemini" => (Some("google"), None),
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_counts_are_copies_and_a_sum_of_the_genai_ones() {
        let d = defaults(OpenInferenceKind::Llm, Some("anthropic"));
        let get = |k: &str| d.iter().find(|(key, _)| key == k).map(|(_, v)| v);
        assert!(
            matches!(get("llm.token_count.prompt"), Some(DefaultValue::CopyOf(f)) if f == "gen_ai.usage.input_tokens")
        );
        assert!(
            matches!(get("llm.token_count.total"), Some(DefaultValue::Sum(a, b)) if a == "gen_ai.usage.input_tokens" && b == "gen_ai.usage.output_tokens")
        );
        assert!(matches!(get("llm.provider"), Some(DefaultValue::Str(p)) if p == "anthropic"));
        let unknown = defaults(OpenInferenceKind::Llm, Some("in-house"));
        assert!(!unknown.iter().any(|(k, _)| k == "llm.provider"));
    }
}
