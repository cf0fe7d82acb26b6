//! What `validate` says of the LLM keys beyond their syntax: a `models:` entry `like` a model
//! or profile the bundled table does not have (an error, with a did-you-mean), and an LLM call
//! whose model has no price (a warning: its spans would carry no cost).
//!
//! It is here and not in the decoder because the bundled table (`conventions::models`) sits
//! above the scenario model, which must not know it; checking at plan compilation was the
//! alternative rejected, since a plan has no file positions to point at.

use super::Findings;
use crate::conventions::models;
use crate::generate::{model_of, resolve_model};
use crate::scenario::{Scenario, Severity, SourceMap, nearest};

pub(super) fn check(out: &mut Findings, source: &SourceMap, scenario: &Scenario) {
    for spec in &scenario.models {
        let Some(like) = &spec.like else { continue };
        if models::profile(like).is_some() || models::lookup(like).is_some() {
            continue;
        }
        let path = format!("models.{}.like", spec.name);
        let help = nearest(like, models::names())
            .map(|n| format!("did you mean `{n}`?"))
            .unwrap_or_else(|| {
                format!("known: {}", models::names().collect::<Vec<_>>().join(", "))
            });
        out.push(
            Severity::Error,
            source.key(&path),
            &path,
            format!("unknown model or profile `{like}`"),
            Some(help),
        );
    }
    for (i, step) in scenario.root.walk().into_iter().enumerate() {
        let (Some(llm), Some(step_source)) = (&step.llm, source.steps.get(i)) else {
            continue;
        };
        let model = model_of(step, llm);
        if resolve_model(model, &scenario.models).1.is_none() {
            let path = format!("{}.llm", step_source.path);
            out.push(
                Severity::Warning,
                source.key(&path).or(Some(step_source.mark)),
                &path,
                format!("model `{model}` has no price, so its spans carry no cost"),
                Some(format!(
                    "give it prices under `models: {{{model}: {{input_price: …, output_price: …}}}}`, `like:` a bundled model, or pass them with --prices"
                )),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::{LintContext, lint};
    use crate::scenario::{LoadOptions, decode_located};

    fn findings(yaml: &str) -> String {
        let decoded = decode_located(yaml, "t.yaml", "t", &LoadOptions::default()).unwrap();
        let schema = crate::schema::bundled().with_prefix("vendor");
        let context = LintContext {
            file: "t.yaml",
            text: yaml,
            schema: &schema,
            prefix: "vendor",
        };
        lint(&decoded, &context).to_string()
    }

    #[test]
    fn an_unknown_like_and_an_unpriced_model_are_reported() {
        let yaml = "name: t\nmodels:\n  mine: {like: claude-sonet}\nroot:\n  type: vendor.llm.call\n  llm: {model: in-house}\n";
        let found = findings(yaml);
        assert!(
            found.contains("t.yaml:3:") && found.contains("did you mean `claude-sonnet`"),
            "{found}"
        );
        assert!(found.contains("model `in-house` has no price"), "{found}");
        let priced = "name: t\nroot:\n  type: vendor.llm.call\n  llm: {timing: tokens}\n";
        assert!(
            !findings(priced).contains("no price"),
            "gpt-4.1-mini is priced"
        );
    }
}
