//! A semantic-conventions schema in the original format drives attribute values, consistently
//! with each span's sampled outcome; a broken or missing schema is a clear usage error.

mod common;

use common::{Judge, bin};

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
        "schema_version: '1.0.0'\ncommon_attributes:\n  x:\n    type: integer\n",
    )
    .unwrap();
    let out = bin()
        .args(["validate", "--show-schema"])
        .env("TELEMETRY_SIMULATOR_SCHEMA_PATH", &schema)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.yaml:4:11"), "{stderr}");
    assert!(stderr.contains("did you mean `int`"), "{stderr}");
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
