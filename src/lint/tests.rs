use super::*;
use crate::scenario::{Diagnostic, LoadOptions, decode_located};

fn findings(yaml: &str) -> Diagnostics {
    let decoded = decode_located(yaml, "t.yaml", "t", &LoadOptions::default())
        .unwrap_or_else(|d| panic!("does not decode:\n{d}"));
    let schema = crate::schema::bundled();
    let context = LintContext {
        file: "t.yaml",
        text: yaml,
        schema: &schema,
        prefix: "vendor",
    };
    lint(&decoded, &context)
}

fn only(found: &Diagnostics, needle: &str) -> Diagnostic {
    let matching: Vec<&Diagnostic> = found
        .0
        .iter()
        .filter(|d| d.message.contains(needle))
        .collect();
    assert_eq!(matching.len(), 1, "one finding with `{needle}`:\n{found}");
    matching[0].clone()
}

#[test]
fn a_child_slower_than_its_parent_is_located_at_the_childs_latency() {
    let found = findings(
        "root:
  latency: {distribution: log_normal, median_ms: 100, sigma: 0.1}
  children:
    - type: llm.call
      latency: {distribution: log_normal, median_ms: 500, sigma: 0.1}
    - type: planner
      latency: 10
",
    );
    let d = only(&found, "never fits its parent");
    assert_eq!(d.severity, Severity::Warning);
    assert_eq!(d.path, "root.children[0].latency");
    assert_eq!(d.mark.map(|m| (m.line, m.column)), Some((5, 7)));
    assert!(d.message.contains("median latency 499 ms"), "{d}");
    assert_eq!(found.0.len(), 1, "{found}");
}

#[test]
fn children_that_together_overflow_their_parent_are_reported_once_on_the_parent() {
    let found = findings(
        "root:
  latency: {distribution: log_normal, median_ms: 100, sigma: 0.1}
  children:
    - type: planner
      count: {min: 3, max: 5}
      latency: {distribution: log_normal, median_ms: 60, sigma: 0.1}
    - type: llm.call
      probability: 0.5
      latency: {distribution: log_normal, median_ms: 90, sigma: 0.1}
",
    );
    let d = only(&found, "never fit in it");
    assert_eq!(d.path, "root.latency");
    assert_eq!(d.mark.map(|m| m.line), Some(2));
    // 3 × 60 ms: the optional child does not count.
    assert!(d.message.contains("take 180 ms together"), "{d}");
}

#[test]
fn children_that_fit_raise_nothing() {
    let found = findings(
        "root:
  latency: {distribution: log_normal, median_ms: 1000, sigma: 0.2}
  children:
    - type: planner
      latency: {distribution: log_normal, median_ms: 300, sigma: 0.2}
    - type: llm.call
      latency: {distribution: log_normal, median_ms: 400, sigma: 0.2}
",
    );
    assert!(found.0.is_empty(), "{found}");
}

#[test]
fn schema_types_and_allowed_values_are_errors_unknown_names_warnings() {
    let found = findings(
        "root:
  children:
    - type: llm.call
      attributes:
        gen_ai.request.model: 5
        gen_ai.provider.name: antropic
        gen_ai.request.modle: gpt-4.1
        my.own.attribute: x
        gen_ai.request.temperature: hot
        gen_ai.request.max_tokens: {distribution: log_normal, median: 100, sigma: 0.2}
",
    );
    let d = only(&found, "`gen_ai.request.model` is `string`");
    assert_eq!(d.severity, Severity::Error);
    assert_eq!(d.mark.map(|m| (m.line, m.column)), Some((5, 9)));
    assert_eq!(d.path, "root.children[0].attributes.gen_ai.request.model");

    let d = only(&found, "not an allowed value of `gen_ai.provider.name`");
    assert_eq!(d.severity, Severity::Error);
    assert_eq!(d.help.as_deref(), Some("did you mean `anthropic`?"));

    let d = only(&found, "`gen_ai.request.modle` is not in the schema");
    assert_eq!(d.severity, Severity::Warning);
    assert_eq!(
        d.help.as_deref(),
        Some("did you mean `gen_ai.request.model`?")
    );

    let d = only(&found, "`my.own.attribute` is not in the schema");
    assert_eq!(d.severity, Severity::Warning);

    let d = only(&found, "`gen_ai.request.temperature` is `double`");
    assert_eq!(d.severity, Severity::Error);

    let d = only(&found, "`gen_ai.request.max_tokens` is `int`");
    assert!(d.message.contains("fractional numbers"), "{d}");
    assert_eq!(found.errors().count(), 4, "{found}");
}

#[test]
fn an_integer_is_a_valid_double_and_token_counts_are_integers() {
    let found = findings(
        "root:
  children:
    - type: llm.call
      attributes:
        gen_ai.request.temperature: 1
        gen_ai.usage.input_tokens: {distribution: log_normal, median: 100, sigma: 0.2}
        gen_ai.provider.name: {distribution: categorical, values: [openai, anthropic]}
",
    );
    assert!(found.0.is_empty(), "{found}");
}

#[test]
fn high_cardinality_categoricals_and_sampled_metric_dimensions_are_warned() {
    let values: Vec<String> = (0..150).map(|i| format!("v{i}")).collect();
    let yaml = format!(
        "root:
  children:
    - type: llm.call
      attributes:
        my.choice: {{distribution: categorical, values: [{}]}}
        gen_ai.request.model: {{distribution: categorical, values: [a, b, c]}}
        vendor.tool.server.name: {{distribution: uniform, low: 0, high: 1}}
",
        values.join(", ")
    );
    let found = findings(&yaml);
    let d = only(&found, "`my.choice` takes 150 distinct values");
    assert_eq!(d.severity, Severity::Warning);
    assert_eq!(d.mark.map(|m| m.line), Some(5));
    let d = only(
        &found,
        "`vendor.tool.server.name` takes an unbounded number",
    );
    assert!(d.message.contains("vendor.tool.count"), "{d}");
    assert!(
        !found
            .0
            .iter()
            .any(|d| d.message.contains("`gen_ai.request.model` takes")),
        "{found}"
    );
}

#[test]
fn a_schema_without_attributes_checks_no_names() {
    let yaml = "root:\n  attributes:\n    anything.at.all: 1\n";
    let decoded = decode_located(yaml, "t.yaml", "t", &LoadOptions::default()).unwrap();
    let schema = Schema::default();
    let context = LintContext {
        file: "t.yaml",
        text: yaml,
        schema: &schema,
        prefix: "vendor",
    };
    assert!(lint(&decoded, &context).0.is_empty());
}
