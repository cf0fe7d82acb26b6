//! A semantic-conventions schema in the original format drives attribute values, consistently
//! with each span's sampled outcome; a broken or missing schema is a clear usage error; every
//! schema file the Python original shipped loads, its mistakes worked around with warnings.

use crate::common::{Judge, bin, manifest_dir, read};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

const SCHEMA: &str = r#"
schema_version: "2.3.0"
common_attributes:
  vendor.region:
    type: string
    allowed_values: [eu-west-1, us-east-1]
  vendor.enduser.id:
    type: string
llm_call_attributes:
  vendor.llm.cache.hit:
    type: boolean
  vendor.llm.status.code:
    type: string
    allowed_values: [OK, ERROR]
lineage:
  ignored: sections the simulator does not use are skipped, as in the original
"#;

const SCENARIO: &str = r#"
name: schema_driven
root:
  type: vendor.a2a.orchestrate
  error: 0
  children:
    - type: vendor.llm.call
      error: {rate: 0.5, types: [timeout]}
      count: 3
"#;

#[test]
fn schema_attributes_follow_the_schema_and_the_sampled_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("semconv.yaml");
    std::fs::write(&schema, SCHEMA).unwrap();
    std::fs::write(dir.path().join("schema_driven.yaml"), SCENARIO).unwrap();
    let judge = Judge::start();
    let out = bin()
        .args(["--schema-path", schema.to_str().unwrap()])
        .args([
            "scenario",
            "--name",
            "schema_driven",
            "--count",
            "200",
            "--interval",
            "0",
            "--seed",
            "5",
            "-q",
        ])
        .args([
            "--scenarios-dir",
            dir.path().to_str().unwrap(),
            "--endpoint",
            &judge.endpoint(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let received = judge.finish();
    received.assert_no_decode_errors();
    let llm = received.spans_named("vendor.llm.call");
    assert_eq!(llm.len(), 600);
    let failed = llm.iter().filter(|s| s.status_code == 2).count();
    assert!(failed > 200 && failed < 400, "{failed}");
    for span in &received.spans {
        let region = span
            .attr_str("vendor.region")
            .expect("common attribute on every span");
        assert!(["eu-west-1", "us-east-1"].contains(&region));
        assert!(
            span.attr_str("vendor.enduser.id")
                .unwrap()
                .starts_with("usr_sha256:")
        );
        assert_eq!(span.resource_str("vendor.schema.version"), Some("2.3.0"));
    }
    for span in llm {
        assert!(span.attr_bool("vendor.llm.cache.hit").is_some());
        let expected = if span.status_code == 2 { "ERROR" } else { "OK" };
        assert_eq!(
            span.attr_str("vendor.llm.status.code"),
            Some(expected),
            "status attribute follows the outcome"
        );
    }
}

#[test]
fn a_missing_or_broken_schema_is_a_usage_error() {
    let out = bin()
        .args(["validate", "--schema-path", "/nonexistent/semconv.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/semconv.yaml"));

    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("bad.yaml");
    std::fs::write(
        &schema,
        "schema_version: '1.0.0'\nspan_names:\n  x:\n    span_kind: server\n",
    )
    .unwrap();
    let out = bin()
        .args(["validate", "--show-schema"])
        .env("TELEMETRY_SIMULATOR_SCHEMA_PATH", &schema)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.yaml:4:16"), "{stderr}");
    assert!(stderr.contains("span kinds are upper-case"), "{stderr}");

    // A mistake the original lived with is a warning, an error only under --strict.
    std::fs::write(
        &schema,
        "schema_version: '1.0.0'\ncommon_attributes:\n  x:\n    type: integer\n",
    )
    .unwrap();
    for (strict, code) in [(false, 0), (true, 2)] {
        let mut cmd = bin();
        cmd.args(["validate", "--show-schema"])
            .env("TELEMETRY_SIMULATOR_SCHEMA_PATH", &schema);
        if strict {
            cmd.arg("--strict");
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(code), "--strict {strict}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let label = if strict { "error" } else { "warning" };
        assert!(stderr.contains(&format!("{label}: ")), "{stderr}");
        assert!(stderr.contains("bad.yaml:4:11"), "{stderr}");
        assert!(stderr.contains("did you mean `int`"), "{stderr}");
    }
}

#[test]
fn validate_shows_the_schema() {
    let out = bin()
        .args([
            "validate",
            "--show-schema",
            "--show-spans",
            "--show-metrics",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Schema loaded successfully"));
    assert!(stdout.contains("vendor.mcp.tool.execute"));
    assert!(stdout.contains("gen_ai.client.operation.duration"));
}

/// A span's name and attributes, each value as its OTLP/JSON object (`{"stringValue": "x"}`).
type NamedSpan = (String, Map<String, Value>);

/// The spans of an `--output` file (OTLP/JSON lines).
fn output_spans(path: &Path) -> Vec<NamedSpan> {
    let mut spans = Vec::new();
    for line in read(path).lines() {
        let request: Value = serde_json::from_str(line).expect("an OTLP/JSON line");
        let Some(resources) = request["resourceSpans"].as_array() else {
            continue;
        };
        for scope in resources
            .iter()
            .flat_map(|r| r["scopeSpans"].as_array().unwrap())
        {
            for span in scope["spans"].as_array().unwrap() {
                let attributes = span["attributes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|kv| (kv["key"].as_str().unwrap().to_string(), kv["value"].clone()))
                    .collect();
                spans.push((span["name"].as_str().unwrap().to_string(), attributes));
            }
        }
    }
    spans
}

/// A string attribute's value.
fn string_attr<'a>(attributes: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    attributes.get(key)?.get("stringValue")?.as_str()
}

/// Runs bundled scenario `name` with `schema` into an OTLP/JSON lines file; the exit status must
/// be 0. Returns the spans and stderr.
fn run_with_schema(
    schema: &Path,
    name: &str,
    count: u32,
    scenarios_dir: Option<&Path>,
) -> (Vec<NamedSpan>, String) {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.jsonl");
    let mut cmd = bin();
    cmd.args(["--schema-path", schema.to_str().unwrap()])
        .args(["scenario", "--name", name, "--count", &count.to_string()])
        .args([
            "--interval",
            "0",
            "--seed",
            "11",
            "-q",
            "--no-metrics",
            "--no-logs",
        ])
        .args(["--output", output.to_str().unwrap()]);
    if let Some(scenarios) = scenarios_dir {
        cmd.args(["--scenarios-dir", scenarios.to_str().unwrap()]);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "{}: {stderr}", schema.display());
    (output_spans(&output), stderr)
}

/// Where the Python original's files are: `shared/` beside the checkout (or beside the folder
/// of worktrees). Missing, the test fails: passing without them would prove nothing.
fn original_schemas() -> Vec<PathBuf> {
    let candidates = [
        manifest_dir().join("../shared/original/schemas"),
        manifest_dir().join("../../shared/original/schemas"),
    ];
    let Some(dir) = candidates.iter().find(|d| d.is_dir()) else {
        panic!(
            "the Python original's schema files are not there: looked for {} (the repository's \
             `shared/` folder belongs beside the checkout)",
            candidates
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(" and ")
        );
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no schema files in {}", dir.display());
    files
}

/// The line (1-based) of the first line of `text` equal to `line`.
fn line_of(text: &str, line: &str) -> usize {
    text.lines().position(|l| l == line).expect(line) + 1
}

/// Every schema file the original shipped (nineteen versions of its `semconv.yaml`) loads with
/// warnings that point at its mistakes, and drives the attributes as it did there: enums from
/// `allowed_values`, `applies_to` honoured, documentation and stray lists ignored.
#[test]
fn every_schema_file_the_original_shipped_loads_and_drives_attributes() {
    for file in original_schemas() {
        let shown = file.display().to_string();
        let schema_text = read(&file);
        // validate shows every warning, in full; --strict refuses the file.
        let out = bin()
            .args(["validate", "--show-schema", "--format", "json"])
            .args(["--schema-path", &shown])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{shown}");
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let warnings = report["files"][0]["diagnostics"].as_array().unwrap();
        let at = |path: &str| {
            warnings
                .iter()
                .find(|w| w["path"] == path)
                .unwrap_or_else(|| panic!("{shown}: no warning at {path}: {warnings:?}"))
        };
        let resource = at("cp_request_attributes.resource");
        assert_eq!(resource["severity"], "warning");
        assert_eq!(
            resource["line"],
            line_of(&schema_text, "  resource:"),
            "{shown}"
        );
        assert_eq!(resource["column"], 3);
        assert!(
            resource["message"]
                .as_str()
                .unwrap()
                .ends_with("found a list; ignored")
        );
        at("cp_request_attributes.metrics_attributes");
        at("cp_request_attributes.logs_attributes");
        at("cp_request_attributes.attribute_consistency");
        if schema_text.contains("\n  note: \"V") {
            at("higher_latency_condition_attributes.note");
            at("higher_latency_condition_attributes.applies_to");
        }
        assert!(
            warnings.iter().all(|w| w["severity"] == "warning"),
            "{shown}: {warnings:?}"
        );
        let strict = bin()
            .args([
                "validate",
                "--show-schema",
                "--strict",
                "--schema-path",
                &shown,
            ])
            .output()
            .unwrap();
        assert_eq!(strict.status.code(), Some(2), "{shown} under --strict");

        let (spans, stderr) = run_with_schema(&file, "successful_agent_turn", 20, None);
        assert!(stderr.contains("problem(s) worked around"), "{stderr}");
        let roots: Vec<_> = spans
            .iter()
            .filter(|(n, _)| n == "vendor.a2a.orchestrate")
            .collect();
        assert_eq!(roots.len(), 20, "{shown}");
        for (_, attributes) in &roots {
            // A common attribute whose applies_to names the orchestration span, drawn from its
            // allowed values.
            let redaction = string_attr(attributes, "gentoro.redaction.applied");
            assert!(
                matches!(redaction, Some("none" | "basic" | "strict")),
                "{shown}: {redaction:?}"
            );
            let outcome = string_attr(attributes, "gentoro.a2a.outcome");
            assert!(
                matches!(outcome, Some("success" | "error")),
                "{shown}: {outcome:?}"
            );
        }
        for (name, attributes) in &spans {
            // applies_to keeps it off the other spans; the environment is a resource attribute.
            if name != "vendor.a2a.orchestrate" {
                assert!(
                    !attributes.contains_key("gentoro.redaction.applied"),
                    "{shown}: {name}"
                );
            }
            assert!(!attributes.contains_key("deployment.environment.name"));
            for ignored in ["note", "applies_to", "resource", "metrics_attributes"] {
                assert!(
                    !attributes.contains_key(ignored),
                    "{shown}: {name} has `{ignored}`"
                );
            }
        }
        let tools: Vec<_> = spans
            .iter()
            .filter(|(n, _)| n == "vendor.mcp.tool.execute")
            .collect();
        assert!(!tools.is_empty());
        for (_, attributes) in tools {
            let policy = string_attr(attributes, "gentoro.retry.policy");
            assert!(
                matches!(
                    policy,
                    Some(
                        "none" | "fixed" | "exponential" | "exponential_jitter" | "circuit_breaker"
                    )
                ),
                "{shown}: {policy:?}"
            );
        }
        assert_allowed_values_hold(&file, &spans);
    }
}

/// Every attribute in the schema's own namespace (`gentoro.*`, which neither the generator nor
/// the scenario writes) that a span carries has a value its definition allows: its `default`, one
/// of its `allowed_values` (outcome attributes: its success or failure spelling among them).
fn assert_allowed_values_hold(file: &Path, spans: &[NamedSpan]) {
    let schema = telemetry_simulator::schema::load(file).unwrap();
    let mut checked = 0;
    for (name, attributes) in spans {
        for def in schema.span_attributes(name) {
            if !def.name.starts_with("gentoro.") {
                continue;
            }
            let Some(value) = attributes.get(&def.name) else {
                continue;
            };
            let as_literal = |v: &Value| -> Option<telemetry_simulator::scenario::Literal> {
                use telemetry_simulator::scenario::Literal;
                Some(match v.as_object()?.iter().next()? {
                    (k, Value::String(s)) if k == "stringValue" => Literal::Str(s.clone()),
                    (k, Value::String(s)) if k == "intValue" => Literal::Int(s.parse().ok()?),
                    (k, Value::Bool(b)) if k == "boolValue" => Literal::Bool(*b),
                    (k, Value::Number(n)) if k == "doubleValue" => Literal::Float(n.as_f64()?),
                    _ => return None,
                })
            };
            let literal = as_literal(value);
            if let Some(default) = &def.default {
                assert_eq!(literal.as_ref(), Some(default), "{name}: {}", def.name);
                checked += 1;
            } else if !def.allowed_values.is_empty() {
                assert!(
                    literal
                        .as_ref()
                        .is_some_and(|l| def.allowed_values.contains(l)),
                    "{}: {name}: {} = {value} is not one of {:?}",
                    file.display(),
                    def.name,
                    def.allowed_values
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "{}: no enum attribute checked", file.display());
}

/// The quirks of the original's schema files, each reproduced here (written from scratch), with
/// the warning it gets (line, column, key path) and its effect on the spans.
const QUIRKS: &str = r#"schema_version: "1.0.0"
lineage:
  note: documentation sections are skipped silently
common_attributes:
  acme.redaction.applied:
    type: string
    allowed_values: [none, basic]
    applies_to: ["a2a.orchestrate"]
    note: "per-attribute notes are documentation"
  acme.route.kind:
    type: string
    default: direct
    applies_to: "planner, cp.request"
higher_latency_condition_attributes:
  note: "A section-level note."
  applies_to: ["a2a.orchestrate"]
  acme.latency.keys: {type: string}
llm_tool_response_bridge_attributes:
  # only comments
cp_request_attributes:
  acme.otel.source:
    type: string
    allowed_values: ["propagated"]
    values:
      propagated: "described, not read"
  attribute_consistency:
  resource:
    - service.name
  metrics_attributes: [acme.tenant.id]
a2a_orchestration_attributes:
  acme.turn.budget:
    type: int
    default: "12"
  acme.turn.mode:
    type: integer
    default: 3
canonical_metrics:
  acme.turn.count:
    type: counter
    value_attribute: acme.turn.budget
"#;

const QUIRKS_SCENARIO: &str = r#"
name: quirks
root:
  type: cp.request
  error: 0
  children:
    - type: vendor.a2a.orchestrate
      error: 0
      children:
        - type: vendor.planner
          error: 0
"#;

#[test]
fn each_quirk_of_the_originals_schema_files_is_a_located_warning_with_its_effect() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("semconv.yaml");
    std::fs::write(&schema, QUIRKS).unwrap();
    std::fs::write(dir.path().join("quirks.yaml"), QUIRKS_SCENARIO).unwrap();

    let out = bin()
        .args(["--schema-path", schema.to_str().unwrap()])
        .args(["validate", "--show-schema", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let found: Vec<(u64, u64, &str, &str)> = report["files"][0]["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert_eq!(d["severity"], "warning");
            (
                d["line"].as_u64().unwrap(),
                d["column"].as_u64().unwrap(),
                d["path"].as_str().unwrap(),
                d["message"].as_str().unwrap(),
            )
        })
        .collect();
    let paths: Vec<(u64, u64, &str)> = found.iter().map(|(l, c, p, _)| (*l, *c, *p)).collect();
    assert_eq!(
        paths,
        [
            (15, 3, "higher_latency_condition_attributes.note"),
            (16, 3, "higher_latency_condition_attributes.applies_to"),
            (26, 3, "cp_request_attributes.attribute_consistency"),
            (27, 3, "cp_request_attributes.resource"),
            (29, 3, "cp_request_attributes.metrics_attributes"),
            (
                33,
                14,
                "a2a_orchestration_attributes.acme.turn.budget.default"
            ),
            (35, 11, "a2a_orchestration_attributes.acme.turn.mode.type"),
        ]
    );
    assert!(found[0].3.ends_with("; ignored"));
    assert!(found[2].3.contains("kept as a string attribute"));
    assert!(found[5].3.ends_with("kept as written, as the original did"));
    assert!(found[6].3.contains("read as `any`"));

    let (spans, stderr) = run_with_schema(&schema, "quirks", 5, Some(dir.path()));
    assert!(stderr.contains("7 problem(s) worked around"), "{stderr}");
    assert!(stderr.contains("... and 4 more"), "{stderr}");
    let named = |n: &'static str| {
        spans
            .iter()
            .filter(move |(name, _)| name == n)
            .map(|(_, a)| a)
    };
    for cp in named("cp.request") {
        // The null entry is an attribute generated by its name; the lists are not attributes.
        assert!(
            string_attr(cp, "attribute_consistency")
                .unwrap()
                .starts_with("value_")
        );
        assert!(!cp.contains_key("resource") && !cp.contains_key("metrics_attributes"));
        assert_eq!(string_attr(cp, "acme.otel.source"), Some("propagated"));
        assert_eq!(string_attr(cp, "acme.route.kind"), Some("direct"));
        assert!(!cp.contains_key("acme.redaction.applied"));
    }
    for root in named("vendor.a2a.orchestrate") {
        assert!(matches!(
            string_attr(root, "acme.redaction.applied"),
            Some("none" | "basic")
        ));
        assert!(!root.contains_key("acme.route.kind"));
        // A default of another type is sent as written; a type not understood keeps its default.
        assert_eq!(string_attr(root, "acme.turn.budget"), Some("12"));
        assert_eq!(root["acme.turn.mode"]["intValue"], "3");
        assert!(!root.contains_key("note") && !root.contains_key("acme.latency.keys"));
    }
    for planner in named("vendor.planner") {
        assert_eq!(string_attr(planner, "acme.route.kind"), Some("direct"));
        assert!(!planner.contains_key("acme.redaction.applied"));
    }
    assert_eq!(named("vendor.planner").count(), 5);

    let strict = bin()
        .args(["--schema-path", schema.to_str().unwrap()])
        .args(["validate", "--show-schema", "--strict"])
        .output()
        .unwrap();
    assert_eq!(strict.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&strict.stderr);
    assert!(
        stderr.contains(&format!(
            "error: {}:27:3: cp_request_attributes.resource",
            schema.display()
        )),
        "{stderr}"
    );
}
