//! Tests of section selection, the bundled schema, prefix renaming and display.

use super::*;
use crate::scenario::{SpanType, YAML_PREFIX};

fn names<'a>(attrs: &[&'a AttributeDef]) -> Vec<&'a str> {
    attrs.iter().map(|a| a.name.as_str()).collect()
}

fn sections(text: &str) -> Schema {
    parse(text, "s.yaml").unwrap_or_else(|d| panic!("{d}"))
}

const LAYERED: &str = r#"
common_attributes:
  tenant.id: {}
  deployment.environment.name: {default: production}
  shared: {default: common}
vendor_mcp_tool_execute_attributes:
  shared: {default: exact}
  exact.only: {}
mcp_tool_attributes:
  shared: {default: fallback}
  fallback.only: {}
a2a_orchestration_attributes:
  orchestration.only: {}
llm_call_attributes:
  llm.only: {}
rag_retrieve_attributes:
  rag.only: {}
"#;

#[test]
fn own_section_is_merged_over_common_in_place() {
    let schema = sections(LAYERED);
    let attrs = schema.span_attributes("vendor.mcp.tool.execute");
    // `deployment.environment.name` is never on spans; `shared` keeps its place, takes the value.
    assert_eq!(names(&attrs), ["tenant.id", "shared", "exact.only"]);
    assert_eq!(attrs[1].default, Some(Literal::Str("exact".into())));
    assert_eq!(attrs[1].section, "vendor_mcp_tool_execute_attributes");
}

#[test]
fn suffix_fallbacks_apply_when_the_own_section_is_missing() {
    let schema = sections(LAYERED);
    // Any prefix: `acme_mcp_tool_execute_attributes` is missing, so the suffix decides.
    let attrs = schema.span_attributes("acme.mcp.tool.execute");
    assert_eq!(names(&attrs), ["tenant.id", "shared", "fallback.only"]);
    assert_eq!(attrs[1].default, Some(Literal::Str("fallback".into())));
    // The attempt falls back to the same section as its parent.
    assert_eq!(
        names(&schema.span_attributes("vendor.mcp.tool.execute.attempt")),
        ["tenant.id", "shared", "fallback.only"]
    );
    assert_eq!(
        names(&schema.span_attributes("acme.llm.call")),
        ["tenant.id", "shared", "llm.only"]
    );
    // The original's quirk: response.compose falls back to the orchestration section.
    assert_eq!(
        names(&schema.span_attributes("vendor.response.compose")),
        ["tenant.id", "shared", "orchestration.only"]
    );
    // Unprefixed types have no fallback, only their own section.
    assert_eq!(
        names(&schema.span_attributes("rag.retrieve")),
        ["tenant.id", "shared", "rag.only"]
    );
    assert_eq!(
        names(&schema.span_attributes("a2a.call")),
        ["tenant.id", "shared"]
    );
    // Suffixes match whole segments only.
    assert_eq!(
        names(&schema.span_attributes("vendor.xllm.call")),
        ["tenant.id", "shared"]
    );
}

#[test]
fn the_first_matching_fallback_decides_even_when_its_section_is_missing() {
    let schema =
        sections("a2a_orchestration_attributes:\n  a: {}\nllm_call_attributes:\n  b: {}\n");
    // `planner` has no `planner_attributes`: nothing, not some other section.
    assert!(schema.span_attributes("vendor.planner").is_empty());
    // A null section is not a section: the bridge falls back to nothing.
    let schema = sections(
        "llm_tool_response_bridge_attributes:\nvendor_llm_tool_response_bridge_attributes:\n",
    );
    assert!(
        schema
            .span_section("vendor.llm.tool.response.bridge")
            .is_none()
    );
    // An empty mapping is a section, which stops the fallback.
    let schema = sections("vendor_llm_call_attributes: {}\nllm_call_attributes:\n  a: {}\n");
    assert!(schema.span_attributes("vendor.llm.call").is_empty());
}

#[test]
fn resource_attributes_are_never_on_spans() {
    let schema = sections("resource_attributes:\n  service.name: {}\n");
    assert_eq!(schema.resource_attributes().len(), 1);
    assert!(schema.span_attributes("vendor.a2a.orchestrate").is_empty());
}

#[test]
fn bundled_schema_parses_with_every_span_type() {
    let schema = bundled();
    assert_eq!(schema.source, BUNDLED_DISPLAY);
    assert!(schema.warnings.0.is_empty(), "{}", schema.warnings);
    let declared: Vec<&str> = schema.spans.iter().map(|s| s.name.as_str()).collect();
    let expected: Vec<String> = SpanType::ALL
        .iter()
        .map(|t| t.span_name(YAML_PREFIX))
        .collect();
    assert_eq!(declared, expected);
    for t in SpanType::ALL {
        let span = &schema.spans[SpanType::ALL.iter().position(|x| *x == t).unwrap()];
        let kind = match crate::conventions::kind(t) {
            crate::conventions::SpanKind::Server => SchemaSpanKind::Server,
            crate::conventions::SpanKind::Client => SchemaSpanKind::Client,
            crate::conventions::SpanKind::Internal => SchemaSpanKind::Internal,
            crate::conventions::SpanKind::Producer => SchemaSpanKind::Producer,
            crate::conventions::SpanKind::Consumer => SchemaSpanKind::Consumer,
        };
        assert_eq!(span.kinds, [kind], "{t}");
        assert_eq!(span.is_root, crate::conventions::of(t).schema_root, "{t}");
        assert_eq!(span.parents.is_empty(), span.is_root, "{t}");
        for parent in &span.parents {
            assert!(
                declared.contains(&parent.as_str()),
                "{t}: unknown parent {parent}"
            );
        }
    }
    let resource: Vec<&str> = schema
        .resource_attributes()
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    for name in [
        "service.name",
        "service.version",
        "deployment.environment.name",
        "vendor.module",
        "vendor.component",
        "vendor.otel.source",
        "vendor.tenant.id",
    ] {
        assert!(resource.contains(&name), "{name}");
    }
    let otel_source = schema
        .resource_attributes()
        .iter()
        .find(|a| a.name == "vendor.otel.source")
        .unwrap();
    assert_eq!(
        otel_source.allowed_values,
        [
            Literal::Str("internal".into()),
            Literal::Str("propagated".into())
        ]
    );
    let metrics: Vec<&str> = schema.metrics.iter().map(|m| m.name.as_str()).collect();
    for name in [
        "vendor.turn.count",
        "vendor.turn.duration_ms",
        "vendor.tool.count",
        "vendor.tool.latency_ms",
        "vendor.llm.count",
        "vendor.llm.latency_ms",
        "vendor.llm.tokens.input",
        "vendor.llm.tokens.output",
        "vendor.rag.count",
        "vendor.a2a.count",
        "vendor.cp.request.count",
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
        "mcp.client.operation.duration",
    ] {
        assert!(metrics.contains(&name), "{name}");
    }
    let tokens = &schema.section("generated_attributes").unwrap().attributes;
    let input = tokens
        .iter()
        .find(|a| a.name == "gen_ai.usage.input_tokens")
        .unwrap();
    assert_eq!(input.ty, AttributeType::Int);
}

/// What the generator itself sets on each span type when the scenario says nothing, read from
/// the conventions' table: its operation and its constant defaults. The bundled schema must not
/// contradict it.
fn generator_constants(t: SpanType) -> Vec<(&'static str, Literal)> {
    use crate::conventions::Value;
    let convention = crate::conventions::of(t);
    let s = |v: &str| Literal::Str(v.into());
    let operation = convention
        .operation
        .map(|o| ("gen_ai.operation.name", s(o)));
    let defaults = convention.defaults.iter().filter_map(|d| {
        let value = match d.value {
            Value::Str(v) => s(v),
            Value::Int(i) => Literal::Int(i),
            Value::Provider => s("openai"),
            Value::Written(_, fallback) => s(fallback),
            _ => return None,
        };
        Some((d.key, value))
    });
    operation.into_iter().chain(defaults).collect()
}

/// The constants the table gave before it existed, so a change of the table is a decision.
#[test]
fn generator_constants_are_the_tables() {
    let keys = |t| -> Vec<&str> { generator_constants(t).into_iter().map(|(k, _)| k).collect() };
    assert_eq!(
        keys(SpanType::LlmCall),
        [
            "gen_ai.operation.name",
            "gen_ai.provider.name",
            "gen_ai.request.model",
            "server.port"
        ]
    );
    assert_eq!(
        generator_constants(SpanType::RagRetrieve),
        [
            ("gen_ai.operation.name", Literal::Str("retrieval".into())),
            (
                "gen_ai.data_source.id",
                Literal::Str("default_index".into())
            )
        ]
    );
    assert_eq!(keys(SpanType::TaskExecute), ["vendor.task.type"]);
    assert!(keys(SpanType::Planner).is_empty());
}

#[test]
fn bundled_span_attributes_agree_with_the_generator() {
    for prefix in [YAML_PREFIX, "acme"] {
        let schema = bundled().with_prefix(prefix);
        for t in SpanType::ALL {
            let name = t.span_name(prefix);
            let attrs = schema.span_attributes(&name);
            assert!(!attrs.is_empty(), "{name}");
            for attr in &attrs {
                let rule = attr.rule();
                // Nothing random: a constant, a per-trace context value, or an outcome attribute
                // whose success and failure spellings the schema gives.
                match rule {
                    ValueRule::Constant(_) | ValueRule::Context(_) => {}
                    _ if attr.is_outcome() => {
                        assert!(
                            attr.name.ends_with("error.type") || attr.outcome_values().is_some(),
                            "{name}: {} has no success/failure values",
                            attr.name
                        );
                    }
                    other => panic!("{name}: {} would be drawn at random: {other:?}", attr.name),
                }
                if let Some(allowed) =
                    (!attr.allowed_values.is_empty()).then_some(&attr.allowed_values)
                    && let Some(default) = &attr.default
                {
                    assert!(
                        allowed.contains(default),
                        "{name}: {} default not allowed",
                        attr.name
                    );
                }
            }
            for (key, value) in generator_constants(t) {
                let key = normalize_prefix(key, prefix);
                let attr = attrs
                    .iter()
                    .find(|a| a.name == key)
                    .unwrap_or_else(|| panic!("{name}: {key} missing"));
                assert_eq!(attr.rule(), ValueRule::Constant(value), "{name}: {key}");
            }
            // Every span carries the ids the generator sets, under the prefix.
            let keys = names(&attrs);
            for key in [
                "tenant.id",
                &format!("{prefix}.session.id"),
                &format!("{prefix}.request.id"),
            ] {
                assert!(keys.contains(&key), "{name}: {key} missing from {keys:?}");
            }
        }
    }
}

#[test]
fn bundled_outcome_values() {
    let schema = bundled();
    let s = |v: &str| Literal::Str(v.into());
    assert_eq!(
        schema.outcome_values("vendor.a2a.orchestrate", "vendor.turn.status.code"),
        Some((s("SUCCESS"), s("ERROR")))
    );
    assert_eq!(
        schema.outcome_values("vendor.a2a.orchestrate", "vendor.turn.status.result"),
        Some((Literal::Bool(true), Literal::Bool(false)))
    );
    assert_eq!(
        schema.outcome_values("vendor.a2a.orchestrate", "vendor.a2a.outcome"),
        Some((s("success"), s("error")))
    );
    assert_eq!(
        schema.outcome_values("vendor.mcp.tool.execute.attempt", "vendor.tool.status.code"),
        Some((s("OK"), s("ERROR")))
    );
    assert_eq!(
        schema.outcome_values("cp.request", "vendor.cp.status.code"),
        Some((s("ALLOWED"), s("ERROR")))
    );
    assert_eq!(
        schema.outcome_values("vendor.planner", "vendor.step.outcome"),
        Some((s("success"), s("failure")))
    );
    assert_eq!(schema.outcome_values("vendor.planner", "error.type"), None);
    assert_eq!(schema.outcome_values("vendor.planner", "not.there"), None);
}

#[test]
fn with_prefix_renames_the_vendor_namespace() {
    let schema = bundled().with_prefix("acme");
    assert_eq!(schema.spans[0].name, "acme.a2a.orchestrate");
    assert_eq!(
        schema.spans[2].parents,
        ["acme.planner", "acme.a2a.orchestrate"]
    );
    assert!(schema.spans.iter().any(|s| s.name == "rag.retrieve"));
    assert!(schema.section("acme_a2a_orchestrate_attributes").is_some());
    assert!(
        schema
            .section("vendor_a2a_orchestrate_attributes")
            .is_none()
    );
    assert!(
        schema
            .resource_attributes()
            .iter()
            .any(|a| a.name == "acme.otel.source")
    );
    let root = schema.span_attributes("acme.a2a.orchestrate");
    assert!(root.iter().any(
        |a| a.name == "acme.turn.status.code" && a.section == "acme_a2a_orchestrate_attributes"
    ));
    let turns = schema
        .metrics
        .iter()
        .find(|m| m.name == "acme.turn.count")
        .unwrap();
    assert_eq!(
        turns.dimensions,
        ["tenant.id", "acme.route", "acme.turn.status.code"]
    );
    assert_eq!(
        turns.aligns_with_span.as_deref(),
        Some("acme.a2a.orchestrate")
    );
    // The default prefix changes nothing.
    assert_eq!(bundled().with_prefix(YAML_PREFIX), bundled());
}

#[test]
fn load_reads_files_and_names_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("semconv.yaml");
    std::fs::write(&path, "schema_version: \"3.1.0\"\n").unwrap();
    let schema = load(&path).unwrap();
    assert_eq!(schema.version, "3.1.0");
    assert_eq!(schema.source, path.display().to_string());

    let missing = dir.path().join("nope.yaml");
    let error = load(&missing).unwrap_err();
    assert!(matches!(error, SchemaError::Io { .. }));
    let message = error.to_string();
    assert!(
        message.contains(&missing.display().to_string()),
        "{message}"
    );

    std::fs::write(&path, "span_names:\n  a: {span_kind: FOO}\n").unwrap();
    let message = load(&path).unwrap_err().to_string();
    assert!(
        message.starts_with(&format!("error: {}:2:18:", path.display())),
        "{message}"
    );
}

#[test]
fn describe_summary_spans_and_metrics() {
    let text = r#"
schema_version: "1.2.0"
span_names:
  vendor.a2a.orchestrate: {description: "Root span", span_kind: SERVER, is_root: true}
  vendor.task.execute: {span_kind: [INTERNAL, CLIENT], parent: "vendor.planner | vendor.a2a.orchestrate"}
resource_attributes:
  service.name: {}
common_attributes:
  tenant.id: {}
  vendor.session.id: {}
llm_call_attributes:
  x: {}
canonical_metrics:
  vendor.turn.duration_ms: {type: histogram, unit: ms, dimensions: [tenant.id, vendor.route]}
"#;
    let schema = parse(text, "conv.yaml").unwrap();
    assert_eq!(
        schema.describe_header(),
        "   Version: 1.2.0\n   Path: conv.yaml\n"
    );
    assert_eq!(
        schema.describe_summary(),
        "Schema Summary:\n  Version: 1.2.0\n  Path: conv.yaml\n  \
         Span types: 2 (vendor.a2a.orchestrate, vendor.task.execute)\n  Resource attributes: 1\n  \
         Common attributes: 2\n  Other attribute sections: 1\n  Metrics: 1\n"
    );
    assert_eq!(
        schema.describe_spans(),
        "Span Type Definitions:\n  - vendor.a2a.orchestrate [SERVER] (root)\n    Root span\n  \
         - vendor.task.execute [INTERNAL, CLIENT] <- vendor.planner, vendor.a2a.orchestrate\n"
    );
    assert_eq!(
        schema.describe_metrics(),
        "Canonical Metrics:\n  - vendor.turn.duration_ms\n    Type: histogram, Unit: ms\n    \
         Dimensions: tenant.id, vendor.route\n    Emitted by: data-plane\n"
    );
    let minimal = parse("schema_version: \"1.0.0\"", "m.yaml").unwrap();
    assert!(minimal.describe_summary().contains("Span types: 0\n"));
    assert_eq!(minimal.describe_spans(), "Span Type Definitions:\n");
}

/// The shapes found in real schema files written for the original (written here from scratch):
/// documentation sections, `type: any`, per-attribute notes and enums, a section holding only
/// comments, a stray nested mapping, and metrics with extra keys.
#[test]
fn a_schema_in_the_originals_style_loads() {
    let text = r#"
# Conventions
schema_version: "1.0.0"
lineage:
  control_plane:
    description: "free text"
    join_by: {a2a: "x = y"}
error_recording:
  when_span_in_error: "set error.type"
span_names:
  acme.request.validation:
    description: "Root of request validation."
    span_kind: SERVER
    is_root: true
    note: "MUST be SERVER."
  acme.validation.policy:
    span_kind: INTERNAL
    parent: acme.request.validation | acme.response.validation
response_compose_span_spec:
  attributes:
    acme.response.format: {type: "string (enum)", requirement: MUST}
common_attributes:
  gen_ai.conversation.id:
    type: string
    required: recommended
    examples: ["sess_9c2f"]
    applies_to: ["a2a.orchestrate"]
llm_content_capture_attributes:
  gen_ai.input.messages:
    type: any
    note: "opt-in"
  acme.llm.content.capture.enabled:
    type: boolean
    examples: [true, false]
llm_tool_response_bridge_attributes:
  # only comments here
cp_request_attributes:
  acme.otel.source:
    type: string
    allowed_values: ["propagated", "generated"]
    values:
      propagated: "extracted upstream"
      generated: "new root"
  attribute_consistency:
    resource: [service.name]
canonical_metrics:
  acme.rag.documents_returned:
    type: histogram
    unit: "1"
    dimensions: [acme.tenant.id, acme.rag.source]
    emitted_by: data-plane
    aligns_with_span: acme.context.augment
    value_attribute: acme.rag.result.count
status_schema:
  shape: {result: "boolean"}
  applies_to:
    - "acme.a2a.outcome (acme.a2a.orchestrate)"
"#;
    let schema = sections(text);
    // The one slip: `attribute_consistency` was meant as a section of its own.
    let warnings: Vec<&str> = schema.warnings.0.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(
        warnings,
        ["cp_request_attributes.attribute_consistency.resource"]
    );
    assert_eq!(schema.spans.len(), 2);
    let section_names: Vec<&str> = schema.sections.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        section_names,
        [
            "common_attributes",
            "llm_content_capture_attributes",
            "cp_request_attributes"
        ]
    );
    let messages = &schema
        .section("llm_content_capture_attributes")
        .unwrap()
        .attributes[0];
    assert_eq!(messages.rule(), ValueRule::Omit);
    // `applies_to` keeps the conversation id to the orchestration span.
    let cp = schema.span_attributes("cp.request");
    assert_eq!(names(&cp), ["acme.otel.source", "attribute_consistency"]);
    let root = schema.span_attributes("acme.a2a.orchestrate");
    assert_eq!(names(&root), ["gen_ai.conversation.id"]);
    // A context value by name comes before the examples.
    assert_eq!(root[0].rule(), ValueRule::Context(ContextValue::SessionId));
    // The comment-only section is no section: the bridge gets the common attributes only, and
    // the one common attribute applies to the orchestration span alone.
    assert!(
        schema
            .span_attributes("acme.llm.tool.response.bridge")
            .is_empty()
    );
    assert_eq!(schema.metrics[0].unit, "1");
}
