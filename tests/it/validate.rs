//! `validate` as editors, CI and people use it: every file of a folder checked in one pass, every
//! problem located (file, line, column, key path), warnings for what is legal but suspicious, the
//! semantic-conventions schema applied, and a stable JSON document with `--format json`.

use crate::common::{bin, manifest_dir};
use serde_json::Value;
use std::process::Output;

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Legal, but with a child slower than its parent, a misspelt convention, a metric dimension
/// drawn from 300 values and a step that never appears.
fn suspicious() -> String {
    let models: Vec<String> = (0..300).map(|i| format!("model-{i}")).collect();
    format!(
        "name: suspicious
root:
  type: vendor.a2a.orchestrate
  latency: {{distribution: log_normal, median_ms: 100, sigma: 0.1}}
  children:
    - type: vendor.llm.call
      latency: {{distribution: log_normal, median_ms: 900, sigma: 0.2}}
      attributes:
        gen_ai.request.modle: gpt-4.1
        gen_ai.request.model: {{distribution: categorical, values: [{}]}}
    - type: rag.retrieve
      probability: 0
",
        models.join(", ")
    )
}

#[test]
fn a_folder_of_bad_files_is_reported_file_by_file_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let malformed = manifest_dir().join("tests/malformed");
    let mut bad = Vec::new();
    for entry in std::fs::read_dir(&malformed).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::copy(&path, dir.path().join(&name)).unwrap();
        bad.push(name);
    }
    std::fs::copy(
        manifest_dir().join("scenarios/tool_retry.yaml"),
        dir.path().join("good.yaml"),
    )
    .unwrap();
    std::fs::write(dir.path().join("suspicious.yaml"), suspicious()).unwrap();

    let out = bin()
        .args(["validate", "--format", "json", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json_of(&out);
    let files = report["files"].as_array().unwrap();
    assert_eq!(files.len(), bad.len() + 2);
    for name in &bad {
        let file = files
            .iter()
            .find(|f| f["file"].as_str().unwrap().ends_with(name.as_str()))
            .unwrap_or_else(|| panic!("{name} is not in the report"));
        assert_eq!(file["valid"], false, "{name}");
        let diagnostics = file["diagnostics"].as_array().unwrap();
        assert!(!diagnostics.is_empty(), "{name}");
        for d in diagnostics {
            for key in [
                "severity", "file", "line", "column", "path", "message", "help",
            ] {
                assert!(d.get(key).is_some(), "{name}: no `{key}` in {d}");
            }
        }
        let error = diagnostics
            .iter()
            .find(|d| d["severity"] == "error")
            .unwrap();
        assert!(error["line"].as_u64().unwrap() >= 1, "{name}: {error}");
        assert!(error["column"].as_u64().unwrap() >= 1, "{name}: {error}");
        assert_eq!(file["errors"].as_u64().unwrap() as usize, {
            diagnostics
                .iter()
                .filter(|d| d["severity"] == "error")
                .count()
        });
    }
    let several = files
        .iter()
        .find(|f| f["file"].as_str().unwrap().ends_with("several_errors.yaml"))
        .unwrap();
    assert!(several["errors"].as_u64().unwrap() >= 3, "{several}");

    let good = files
        .iter()
        .find(|f| f["file"].as_str().unwrap().ends_with("good.yaml"))
        .unwrap();
    assert_eq!(good["valid"], true);
    assert_eq!(good["diagnostics"], Value::Array(Vec::new()));

    let summary = &report["summary"];
    assert_eq!(summary["files"].as_u64().unwrap() as usize, bad.len() + 2);
    assert_eq!(summary["valid"], 2);
    assert_eq!(summary["invalid"].as_u64().unwrap() as usize, bad.len());
}

#[test]
fn suspicious_but_legal_files_get_located_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("suspicious.yaml");
    std::fs::write(&path, suspicious()).unwrap();
    let out = bin()
        .args(["validate", "--format", "json", path.to_str().unwrap()])
        .output()
        .unwrap();
    let report = json_of(&out);
    let file = &report["files"][0];
    assert_eq!(file["valid"], true, "{file}");
    assert_eq!(out.status.code(), Some(0));
    let found: Vec<(String, u64, u64, String)> = file["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert_eq!(d["severity"], "warning", "{d}");
            (
                d["path"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap(),
                d["column"].as_u64().unwrap(),
                d["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let at = |path: &str, needle: &str| {
        found
            .iter()
            .find(|(p, _, _, m)| p == path && m.contains(needle))
            .map(|(_, line, column, _)| (*line, *column))
            .unwrap_or_else(|| panic!("no warning at {path} with `{needle}`: {found:#?}"))
    };
    assert_eq!(
        at("root.children[0].latency", "never fits its parent"),
        (7, 7)
    );
    assert_eq!(
        at(
            "root.children[0].attributes.gen_ai.request.modle",
            "not in the schema"
        ),
        (9, 9)
    );
    assert_eq!(
        at(
            "root.children[0].attributes.gen_ai.request.model",
            "takes 300 distinct values"
        ),
        (10, 9)
    );
    assert_eq!(
        at("root.children[1].probability", "never appears"),
        (12, 20)
    );

    // The same, for people: file:line:column, key path, message, caret and help.
    let out = bin()
        .args(["validate", path.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("suspicious.yaml:9:9: root.children[0].attributes.gen_ai.request.modle:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("help: did you mean `gen_ai.request.model`?"),
        "{stderr}"
    );
}

#[test]
fn attributes_are_checked_against_the_schema_from_the_flag_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("conventions.yaml");
    std::fs::write(
        &schema,
        "schema_version: \"2.0.0\"
common_attributes:
  acme.tier:
    type: string
    allowed_values: [gold, silver]
  acme.retries:
    type: int
",
    )
    .unwrap();
    let scenario = dir.path().join("s.yaml");
    std::fs::write(
        &scenario,
        "root:
  attributes:
    acme.tier: bronze
    acme.retries: many
    acme.other: 1
",
    )
    .unwrap();
    let by_flag = bin()
        .args(["validate", "--format", "json", "--schema-path"])
        .arg(&schema)
        .arg(&scenario)
        .output()
        .unwrap();
    let by_env = bin()
        .args(["validate", "--format", "json"])
        .arg(&scenario)
        .env("TELEMETRY_SIMULATOR_SCHEMA_PATH", &schema)
        .output()
        .unwrap();
    for out in [by_flag, by_env] {
        assert_eq!(out.status.code(), Some(2));
        let report = json_of(&out);
        let diagnostics = report["files"][0]["diagnostics"]
            .as_array()
            .unwrap()
            .clone();
        let find = |needle: &str| {
            diagnostics
                .iter()
                .find(|d| d["message"].as_str().unwrap().contains(needle))
                .unwrap_or_else(|| panic!("no `{needle}` in {diagnostics:#?}"))
                .clone()
        };
        let d = find("\"bronze\" is not an allowed value of `acme.tier`");
        assert_eq!(
            (d["severity"].as_str(), d["line"].as_u64()),
            (Some("error"), Some(3))
        );
        let d = find("`acme.retries` is `int`");
        assert_eq!(
            (d["severity"].as_str(), d["line"].as_u64()),
            (Some("error"), Some(4))
        );
        let d = find("`acme.other` is not in the schema");
        assert_eq!(
            (d["severity"].as_str(), d["line"].as_u64()),
            (Some("warning"), Some(5))
        );
    }
}

#[test]
fn the_bundled_scenarios_are_clean_warnings_included() {
    let out = bin()
        .args(["validate", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report = json_of(&out);
    assert_eq!(report["summary"]["errors"], 0, "{report:#}");
    assert_eq!(report["summary"]["warnings"], 0, "{report:#}");
    let reference = bin()
        .args(["validate", "--format", "json"])
        .arg(manifest_dir().join("scenarios/example_scenario.yaml"))
        .output()
        .unwrap();
    assert_eq!(json_of(&reference)["summary"]["warnings"], 0);
}

#[test]
fn a_broken_schema_file_is_reported_like_a_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("broken.yaml");
    std::fs::write(&schema, "span_names:\n  a.b:\n    span_kind: sever\n").unwrap();
    let out = bin()
        .args(["validate", "--format", "json", "--schema-path"])
        .arg(&schema)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let report = json_of(&out);
    let file = &report["files"][0];
    assert!(file["file"].as_str().unwrap().ends_with("broken.yaml"));
    assert_eq!(file["diagnostics"][0]["line"], 3);
    assert_eq!(file["diagnostics"][0]["severity"], "error");

    // A mistake the original lived with loads with a warning; --strict makes it an error.
    std::fs::write(&schema, "common_attributes:\n  a.b:\n    type: strnig\n").unwrap();
    for (strict, code, severity) in [(false, 0, "warning"), (true, 2, "error")] {
        let mut cmd = bin();
        cmd.args([
            "validate",
            "--show-schema",
            "--format",
            "json",
            "--schema-path",
        ])
        .arg(&schema);
        if strict {
            cmd.arg("--strict");
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(code));
        let report = json_of(&out);
        let diagnostic = &report["files"][0]["diagnostics"][0];
        assert_eq!(diagnostic["severity"], severity);
        assert_eq!(diagnostic["line"], 3);
        assert_eq!(diagnostic["path"], "common_attributes.a.b.type");
        assert_eq!(diagnostic["help"], "did you mean `string`?");
    }
}

/// The original's later scenario formats (v2: `tenant`, `agent`, `endusers` → `turns`; before it
/// `context` / `data_plane`): one error naming the format and what to do, not an unknown-key error
/// per key.
#[test]
fn a_scenario_in_the_originals_later_formats_gets_one_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("v2.yaml"),
        "name: new_claim_phone
tenant: toro
agent: toro-customer-assistant-001
workload_weight: 9.0
interval_ms: 100
endusers:
  - id: u1
    turns:
      - user_input: Start a claim
        tool_chain: [{mcp_server: phone, tool: new_claim}]
        agent_response: Done
",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("data_plane.yaml"),
        "name: claim_status
workload_weight: 1.0
context: {tenant: toro, mcp_server: phone, tools: [claim_status]}
data_plane: {workflow: claim_status, goal: happy_path}
",
    )
    .unwrap();
    // With `root`, a stray key of the later formats is an ordinary unknown key.
    std::fs::write(
        dir.path().join("v1.yaml"),
        "name: v1\nworkload_weight: 2\nroot: {type: vendor.a2a.orchestrate}\n",
    )
    .unwrap();
    let out = bin()
        .args(["validate", "--format", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let report = json_of(&out);
    let file = |name: &str| {
        report["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["file"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("{name} not reported: {report:#}"))
            .clone()
    };
    for (name, format, line) in [
        ("v2.yaml", "v2 scenario format", 2),
        (
            "data_plane.yaml",
            "`context` / `data_plane` scenario format",
            2,
        ),
    ] {
        let file = file(name);
        let diagnostics = file["diagnostics"].as_array().unwrap();
        assert_eq!(diagnostics.len(), 1, "{name}: {diagnostics:#?}");
        let error = &diagnostics[0];
        assert_eq!(error["severity"], "error");
        assert_eq!(error["line"], line, "{name}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(format), "{name}: {message}");
        assert!(message.contains("`workload_weight`"), "{message}");
        assert!(
            message.contains("one `root` step with `children`"),
            "{message}"
        );
        let help = error["help"].as_str().unwrap();
        assert!(
            help.contains("`workload_weight` becomes `weight`"),
            "{help}"
        );
        assert!(help.contains("docs/compatibility.md"), "{help}");
    }
    let v1 = file("v1.yaml");
    assert_eq!(v1["diagnostics"][0]["path"], "workload_weight");
    assert!(
        v1["diagnostics"][0]["message"]
            .as_str()
            .unwrap()
            .contains("unknown key"),
        "{v1:#}"
    );
}

/// Runs `validate PATH` with a deadline: refusing a file must not wait on it (a reader that
/// opened the FIFO would block forever, so the child is killed rather than waited for).
fn validate_quickly(path: &std::path::Path) -> (Option<i32>, String) {
    let started = std::time::Instant::now();
    let mut child = bin()
        .args(["validate", path.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("validate {} did not end within 10 s", path.display());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

#[test]
fn devices_fifos_and_huge_files_are_refused_before_they_are_read() {
    let (code, text) = validate_quickly(std::path::Path::new("/dev/zero"));
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("/dev/zero") && text.contains("not a regular file (a character device)"),
        "{text}"
    );

    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let (code, text) = validate_quickly(&fifo);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("not a regular file (a FIFO)"), "{text}");
    // In a folder too: the FIFO is named, not waited on, and the good file is still checked.
    std::fs::copy(
        manifest_dir().join("scenarios/tool_retry.yaml"),
        dir.path().join("good.yaml"),
    )
    .unwrap();
    let (code, text) = validate_quickly(dir.path());
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("a FIFO") && text.contains("good.yaml"),
        "{text}"
    );

    // Over the 16 MiB budget: a comment line, so only the size is wrong with it.
    let big = dir.path().join("big.yaml");
    let mut text = String::from("root: {type: planner}\n#");
    text.push_str(&"x".repeat(16 << 20));
    std::fs::write(&big, text).unwrap();
    let (code, text) = validate_quickly(&big);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("larger than the limit of 16 MiB"), "{text}");
}

#[test]
fn a_schema_path_that_is_not_a_file_is_refused() {
    let out = bin()
        .args(["validate", "--schema-path", "/dev/zero"])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("not a regular file"), "{text}");
}

#[test]
fn values_beyond_what_timestamps_and_decoders_carry_stop_a_run_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["deep_attribute", "huge_backoff", "long_siblings"] {
        let output = dir.path().join(format!("{name}.jsonl"));
        let out = bin()
            .args([
                "scenario",
                "--name",
                name,
                "--scenarios-dir",
                manifest_dir().join("tests/malformed").to_str().unwrap(),
                "--count",
                "5",
                "--output",
                output.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {text}");
        assert!(text.contains(&format!("{name}.yaml:")), "{name}: {text}");
        let written = std::fs::read_to_string(&output).unwrap_or_default();
        assert!(written.is_empty(), "{name}: {written}");
    }
}
