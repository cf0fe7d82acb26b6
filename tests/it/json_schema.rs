//! The JSON Schema printed by `telemetry-simulator schema` (for editors and CI), checked with the
//! reference Python implementation (`jsonschema`, tests/judge/json_schema_check.py): it is a valid
//! draft-07 schema, every bundled scenario conforms to it, and malformed files with unknown keys
//! or wrong types do not. The YAML is turned into JSON with the simulator's own YAML reader, so
//! both sides see the same YAML 1.2 values.

use crate::common::{bin, judge_script, manifest_dir};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use telemetry_simulator::yaml::{self, Node};

fn to_json(node: &Node) -> Value {
    match &node.value {
        yaml::Value::Null => Value::Null,
        yaml::Value::Bool(b) => Value::Bool(*b),
        yaml::Value::Int(i) => Value::from(*i),
        yaml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        yaml::Value::Str(s) => Value::String(s.clone()),
        yaml::Value::Seq(items) => Value::Array(items.iter().map(to_json).collect()),
        yaml::Value::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.scalar_text().unwrap_or_default(), to_json(v)))
                .collect::<Map<_, _>>(),
        ),
    }
}

/// Every `.yaml` file of `dir` that is YAML at all, as JSON, by file name.
fn documents(dir: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(manifest_dir().join(dir)).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if let Ok(node) = yaml::parse(&text) {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            out.insert(name, to_json(&node));
        }
    }
    out
}

/// The schema's verdict on each document: its error messages.
fn verdicts(documents: &BTreeMap<String, Value>) -> BTreeMap<String, Vec<String>> {
    let out = bin().arg("schema").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("scenario.schema.json");
    std::fs::write(&schema, &out.stdout).unwrap();
    let docs = dir.path().join("documents.json");
    std::fs::write(&docs, serde_json::to_vec(documents).unwrap()).unwrap();
    let out = judge_script("json_schema_check.py")
        .arg(&schema)
        .arg(&docs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "json_schema_check.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn every_bundled_scenario_conforms_to_the_printed_schema() {
    let docs = documents("scenarios");
    assert_eq!(docs.len(), 12);
    for (name, errors) in verdicts(&docs) {
        assert!(
            errors.is_empty(),
            "{name} fails the schema:\n{}",
            errors.join("\n")
        );
    }
}

#[test]
fn malformed_files_fail_the_schema_where_a_schema_can_tell() {
    let verdicts = verdicts(&documents("tests/malformed"));
    // What a JSON Schema cannot express is left to `validate`: min ≤ max, one weight per value,
    // the span budget, how deep a value nests, how long a trace lasts.
    let beyond_a_schema = [
        "count_min_above_max",
        "deep_attribute",
        "huge_backoff",
        "huge_count",
        "long_siblings",
        "weights_mismatch",
    ];
    for (name, errors) in &verdicts {
        if beyond_a_schema.contains(&name.as_str()) {
            continue;
        }
        assert!(!errors.is_empty(), "{name} passes the schema");
    }
    let unknown_key = &verdicts["unknown_key"];
    assert!(
        unknown_key
            .iter()
            .any(|e| e.contains("not valid under any of the given schemas")
                || e.contains("Additional properties")),
        "{unknown_key:?}"
    );
}

#[test]
fn an_unknown_key_anywhere_fails_and_aliases_pass() {
    let doc = |yaml: &str| to_json(&yaml::parse(yaml).unwrap());
    let mut docs = BTreeMap::new();
    docs.insert("aliases".into(), doc(
        "spans:\n  - span_type: vendor.llm.call\n    latency: {distribution: Log-Normal, median: 5}\n    error: {base_rate: 0.1}\n"));
    docs.insert("top".into(), doc("root: {type: planner}\nrepeat_cont: 3\n"));
    docs.insert("retry".into(), doc("root:\n  retry: {max_atempts: 3}\n"));
    docs.insert(
        "distribution_param".into(),
        doc("root:\n  latency: {distribution: log_normal, median_ms: 5, sigm: 1}\n"),
    );
    docs.insert("count_param".into(), doc(
        "root:\n  children:\n    - count: {min: 1, max: 3, distribution: poisson, lambda: 2, mean_ms: 1}\n"));
    docs.insert("type".into(), doc("root: {type: vendor.llm.cal}\n"));
    docs.insert(
        "range".into(),
        doc("root:\n  children: [{probability: 1.5}]\n"),
    );
    let verdicts = verdicts(&docs);
    assert!(verdicts["aliases"].is_empty(), "{:?}", verdicts["aliases"]);
    for name in [
        "top",
        "retry",
        "distribution_param",
        "count_param",
        "type",
        "range",
    ] {
        assert!(!verdicts[name].is_empty(), "{name} passes the schema");
    }
}
