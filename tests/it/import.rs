//! `import`: recorded traces in, a scenario out that `validate` accepts and `check` shows to
//! behave like the input.
//!
//! The round trip covers every bundled scenario: a few thousand traces written with `--output`,
//! imported, and the fitted scenario's `check` statistics compared with the original's within
//! bounds set by the sample sizes. Traces this tool did not write come from the official
//! OpenTelemetry Python SDK (`tests/import/sdk_traces.py`, its own OTLP encoder) and a Jaeger UI
//! download (`tests/import/jaeger_hotrod.json`). Broken input must give a located error.

use crate::common::{self, bin, text};
use serde_json::Value;
use std::path::Path;
use std::process::Output;

/// Traces per round trip: enough for p95 within a few percent, small for CI.
const TRACES: &str = "2000";
const CHECK_SAMPLES: &str = "4000";

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("the binary runs")
}

fn check_json(args: &[&str]) -> Value {
    let mut all = vec!["check", "--samples", CHECK_SAMPLES, "--format", "json"];
    all.extend_from_slice(args);
    let out = run(&all);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn bundled() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(common::manifest_dir().join("scenarios"))
        .unwrap()
        .filter_map(|e| {
            let path = e.ok()?.path();
            let stem = path.file_stem()?.to_string_lossy().into_owned();
            (path.extension()? == "yaml").then_some(stem)
        })
        .collect();
    names.sort();
    names
}

/// Generates `TRACES` traces of `name` (from `dir`, else the bundled samples) into `file`.
fn generate(name: &str, dir: Option<&Path>, file: &Path) {
    let mut args = vec!["scenario", "--name", name, "--count", TRACES, "--seed", "3"];
    args.extend([
        "--no-metrics",
        "--no-logs",
        "--backfill",
        "1h",
        "--start-time",
        "2026-01-01T00:00:00Z",
    ]);
    let out = bin()
        .args(&args)
        .args(
            dir.map(|d| vec!["--scenarios-dir".as_ref(), d.as_os_str()])
                .unwrap_or_default(),
        )
        .arg("--output")
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{name}: {}", text(&out));
}

fn import(input: &Path, output: &Path, name: &str) -> Output {
    let out = bin()
        .arg("import")
        .arg(input)
        .arg("-o")
        .arg(output)
        .args(["--name", name])
        .output()
        .unwrap();
    assert!(out.status.success(), "{name}: {}", text(&out));
    out
}

/// Differences beyond the bounds between two `check` reports, one line each.
fn compare(name: &str, original: &Value, fitted: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let n = original["traces"].as_f64().unwrap();
    let (a_types, b_types) = (
        original["span_types"].as_object().unwrap(),
        fitted["span_types"].as_object().unwrap(),
    );
    let mut a_names: Vec<_> = a_types.keys().collect();
    let mut b_names: Vec<_> = b_types.keys().collect();
    a_names.sort();
    b_names.sort();
    if a_names != b_names {
        problems.push(format!("{name}: span names {a_names:?} became {b_names:?}"));
        return problems;
    }
    for (span, a) in a_types {
        let b = &b_types[span];
        let f = |v: &Value, k: &str| v[k].as_f64().unwrap();
        // Occurrences per trace: a mean of counts; 4 standard errors (Poisson-like) and 3%.
        let (pa, pb) = (f(a, "per_trace"), f(b, "per_trace"));
        if (pa - pb).abs() > 4.0 * (2.0 * pa.max(0.01) / n).sqrt() + 0.03 * pa {
            problems.push(format!("{name}/{span}: per trace {pa} vs {pb}"));
        }
        // Error rate: a proportion of spans; the fit saw 2000 traces, check 4000.
        let spans = f(a, "spans").max(1.0);
        let (ea, eb) = (f(a, "error_rate"), f(b, "error_rate"));
        let se = (ea.max(0.005) * (1.0 - ea) * (1.0 / spans + 2.0 / spans)).sqrt();
        if (ea - eb).abs() > 4.0 * se + 0.005 {
            problems.push(format!("{name}/{span}: error rate {ea} vs {eb}"));
        }
        // Latency quantiles, in log space: the fit's own tolerance (5%, and a little for the
        // stretch correction) plus 4 standard errors of a sample quantile of the input and of
        // `check`'s run, from the original's spread (a quantile's standard error is
        // σ·√(q(1−q)/n)/φ(z_q) in the log of a log-normal).
        let (p50, p95) = (
            f(&a["latency_ms"], "p50").max(1e-3),
            f(&a["latency_ms"], "p95").max(1e-3),
        );
        let sigma = ((p95 / p50).ln() / 1.645).max(0.1);
        let n_input = (pa * TRACES.parse::<f64>().unwrap()).max(1.0);
        let root_n = (1.0 / n_input + 1.0 / spans).sqrt();
        for (q, z, density, base) in [
            ("p50", 0.5, 0.3989, 0.06),
            ("p95", 0.95, 0.1031, 0.08),
            ("p99", 0.99, 0.0267, 0.10),
        ] {
            let se = sigma * f64::sqrt(z * (1.0 - z)) / density * root_n;
            let (la, lb) = (
                f(&a["latency_ms"], q).max(1e-3),
                f(&b["latency_ms"], q).max(1e-3),
            );
            let bound = base + 4.0 * se;
            if (la.ln() - lb.ln()).abs() > bound {
                problems.push(format!(
                    "{name}/{span}: latency {q} {la} vs {lb} (bound ±{bound:.3} in log)"
                ));
            }
        }
    }
    for (span, a) in original["retries"].as_object().unwrap() {
        let Some(b) = fitted["retries"].get(span) else {
            problems.push(format!("{name}/{span}: retries lost"));
            continue;
        };
        let (ma, mb) = (
            a["mean_attempts"].as_f64().unwrap(),
            b["mean_attempts"].as_f64().unwrap(),
        );
        if (ma - mb).abs() > 0.05 * ma {
            problems.push(format!("{name}/{span}: mean attempts {ma} vs {mb}"));
        }
        let share = |v: &Value, k: &str| {
            let ended = v["ended_after_attempts"].as_object().unwrap();
            let total: f64 = ended.values().map(|x| x.as_f64().unwrap()).sum();
            ended.get(k).map_or(0.0, |x| x.as_f64().unwrap()) / total.max(1.0)
        };
        for k in a["ended_after_attempts"].as_object().unwrap().keys() {
            let (sa, sb) = (share(a, k), share(b, k));
            if (sa - sb).abs() > 0.05 {
                problems.push(format!(
                    "{name}/{span}: share ending after {k} attempts {sa} vs {sb}"
                ));
            }
        }
    }
    problems
}

/// The `key: value` numbers of every line of `yaml` whose key is `key`.
fn numbers(yaml: &str, key: &str) -> Vec<f64> {
    yaml.lines()
        .filter_map(|l| l.trim().strip_prefix(&format!("{key}: ")))
        .filter_map(|v| v.split_whitespace().next()?.parse().ok())
        .collect()
}

/// Backoff gaps: the fit of the original's traces against the fit of the fitted scenario's own
/// traces (`check` does not report gaps, and the original's retry block is the truth only up to
/// how its traces came out).
fn compare_backoff(name: &str, dir: &Path, first_fit: &str) -> Vec<String> {
    let bases = numbers(first_fit, "backoff_base_ms");
    if bases.is_empty() {
        return Vec::new();
    }
    let again = dir.join("again.jsonl");
    generate(name, Some(dir), &again);
    let refit_dir = dir.join("refit");
    import(&again, &refit_dir.join(format!("{name}.yaml")), name);
    let refit = std::fs::read_to_string(refit_dir.join(format!("{name}.yaml"))).unwrap();
    let mut problems = Vec::new();
    for key in ["backoff_base_ms", "backoff_multiplier"] {
        let (a, b) = (numbers(first_fit, key), numbers(&refit, key));
        for (x, y) in a.iter().zip(&b) {
            if (x - y).abs() > 0.12 * x {
                problems.push(format!(
                    "{name}: {key} {x} vs {y} after a second round trip"
                ));
            }
        }
        if a.len() != b.len() {
            problems.push(format!(
                "{name}: {key} on {} steps, then {}",
                a.len(),
                b.len()
            ));
        }
    }
    problems
}

#[test]
fn every_bundled_scenario_survives_a_round_trip_through_import() {
    let mut problems = Vec::new();
    for name in bundled() {
        let dir = tempfile::tempdir().unwrap();
        let recorded = dir.path().join("recorded.jsonl");
        generate(&name, None, &recorded);
        let fitted_path = dir.path().join(format!("{name}.yaml"));
        import(&recorded, &fitted_path, &name);
        let check = run(&["validate", fitted_path.to_str().unwrap()]);
        assert!(check.status.success(), "{name}: {}", text(&check));
        let original = check_json(&["--name", &name]);
        let fitted = check_json(&[
            "--name",
            &name,
            "--scenarios-dir",
            dir.path().to_str().unwrap(),
        ]);
        problems.extend(compare(&name, &original, &fitted));
        let first_fit = std::fs::read_to_string(&fitted_path).unwrap();
        problems.extend(compare_backoff(&name, dir.path(), &first_fit));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_fitted_scenario_says_what_was_measured_and_runs_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let recorded = dir.path().join("recorded.jsonl");
    generate("tool_retry", None, &recorded);
    let picture = dir.path().join("fit.svg");
    let out = bin()
        .arg("import")
        .arg(&recorded)
        .args(["--report", "--samples", "500", "--plot"])
        .arg(&picture)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let svg = std::fs::read_to_string(&picture).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
    for expected in [
        "\ninput\n",
        "\nfit\n",
        "vendor.mcp.tool.execute.attempt (input",
    ] {
        assert!(
            svg.contains(expected),
            "{expected} missing from the picture"
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "# Read ",
        "fit error",
        "retry:",
        "backoff_base_ms",
        "span name (input | fit)",
    ] {
        assert!(stdout.contains(expected), "{expected} missing:\n{stdout}");
    }
    assert!(
        stdout.contains("vendor.mcp.tool.execute.attempt"),
        "{stdout}"
    );
    // Runs at once, from standard input as well.
    let yaml = stdout
        .split("imported_vendor_a2a_orchestrate (")
        .next()
        .unwrap()
        .to_string();
    let fitted_dir = common::scenario_dir(&[(
        "fitted",
        &yaml.replace("name: imported_vendor_a2a_orchestrate", "name: fitted"),
    )]);
    let sent = run(&[
        "scenario",
        "--name",
        "fitted",
        "--count",
        "3",
        "--output",
        "null",
        "--scenarios-dir",
        fitted_dir.path().to_str().unwrap(),
    ]);
    assert!(sent.status.success(), "{}", text(&sent));
}

#[test]
fn several_root_shapes_become_a_weighted_folder_for_run() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
    generate("successful_agent_turn", None, &a);
    generate("control_plane_guard", None, &b);
    let single = bin().arg("import").arg(&a).arg(&b).output().unwrap();
    assert_eq!(single.status.code(), Some(2), "{}", text(&single));
    assert!(text(&single).contains("2 root shapes"), "{}", text(&single));
    let out_dir = dir.path().join("fitted");
    let out = bin()
        .arg("import")
        .arg(&a)
        .arg(&b)
        .arg("-o")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let files: Vec<_> = std::fs::read_dir(&out_dir).unwrap().collect();
    assert_eq!(files.len(), 2);
    let listed = run(&["validate", out_dir.to_str().unwrap()]);
    assert!(listed.status.success(), "{}", text(&listed));
    let weights: Vec<f64> = files
        .iter()
        .map(|f| {
            numbers(
                &std::fs::read_to_string(f.as_ref().unwrap().path()).unwrap(),
                "weight",
            )[0]
        })
        .collect();
    assert!(
        weights.iter().all(|w| (w - 0.5).abs() < 1e-9),
        "{weights:?}"
    );
}

/// The Python SDK's traces, written once in lowerCamelCase and once in the proto field names.
fn python_sdk_traces(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (camel, snake) = (dir.join("sdk.jsonl"), dir.join("sdk_snake.jsonl"));
    let out = std::process::Command::new(common::python())
        .arg(common::manifest_dir().join("tests/import/sdk_traces.py"))
        .arg(&camel)
        .arg(&snake)
        .arg("300")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    (camel, snake)
}

/// The steps of a fitted scenario: (name or type, count line), in order.
fn steps(yaml: &str) -> Vec<String> {
    yaml.lines()
        .map(|l| l.trim_start_matches([' ', '-']))
        .filter(|l| l.starts_with("name: \"") || l.starts_with("type: "))
        .map(|l| l.split("   #").next().unwrap().to_string())
        .collect()
}

#[test]
fn python_sdk_otlp_json_in_both_spellings_imports_to_its_tree() {
    let dir = tempfile::tempdir().unwrap();
    let (camel, snake) = python_sdk_traces(dir.path());
    let mut yamls = Vec::new();
    for input in [&camel, &snake] {
        let out = bin().arg("import").arg(input).output().unwrap();
        // Generic steps need issue 17's keys to load; the fit itself is printed either way.
        let yaml = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            yaml.contains("# Read 1186 spans in 300 traces"),
            "{}",
            text(&out)
        );
        yamls.push(yaml);
    }
    assert_eq!(yamls[0], yamls[1], "the two spellings read differently");
    assert_eq!(
        steps(&yamls[0]),
        [
            "name: \"GET /orders\"",
            "name: \"SELECT orders\"",
            "type: llm.call"
        ]
    );
    assert!(yamls[0].contains("count: {distribution:"), "{}", yamls[0]);
    assert!(yamls[0].contains("# by gen_ai.operation.name; the input named it \"chat gpt-4o\""));
}

#[test]
fn python_sdk_traces_fit_reproduces_their_span_counts() {
    let dir = tempfile::tempdir().unwrap();
    let (input, _) = python_sdk_traces(dir.path());
    let fitted = dir.path().join("fit");
    import(&input, &fitted.join("sdk.yaml"), "sdk");
    let report = check_json(&["--name", "sdk", "--scenarios-dir", fitted.to_str().unwrap()]);
    let per_trace = |name: &str| report["span_types"][name]["per_trace"].as_f64().unwrap();
    assert_eq!(per_trace("GET /orders"), 1.0);
    assert!((per_trace("SELECT orders") - 2.0).abs() < 0.15, "{report}");
    assert_eq!(per_trace("vendor.llm.call"), 1.0);
}

#[test]
fn a_jaeger_download_imports_to_its_tree() {
    let fixture = common::manifest_dir().join("tests/import/jaeger_hotrod.json");
    let out = bin().arg("import").arg(&fixture).output().unwrap();
    let yaml = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        yaml.contains("# Read 79 spans in 20 traces"),
        "{}",
        text(&out)
    );
    assert_eq!(
        steps(&yaml),
        [
            "name: \"HTTP GET /dispatch\"",
            "name: \"redis GET\"",
            "name: \"mysql SELECT\""
        ]
    );
    for expected in [
        "services:",
        "service: \"redis\"",
        "kind: server",
        "kind: client",
        "types: [\"error\"]",
    ] {
        assert!(yaml.contains(expected), "{expected}:\n{yaml}");
    }
}

#[test]
fn a_jaeger_fit_reproduces_its_span_counts() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = common::manifest_dir().join("tests/import/jaeger_hotrod.json");
    import(&fixture, &dir.path().join("hotrod.yaml"), "hotrod");
    let report = check_json(&[
        "--name",
        "hotrod",
        "--scenarios-dir",
        dir.path().to_str().unwrap(),
    ]);
    let per_trace = |name: &str| report["span_types"][name]["per_trace"].as_f64().unwrap();
    assert_eq!(per_trace("HTTP GET /dispatch"), 1.0);
    assert!((per_trace("redis GET") - 1.95).abs() < 0.15, "{report}");
    assert_eq!(per_trace("mysql SELECT"), 1.0);
}

#[test]
fn broken_input_gets_a_located_error_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let good = r#"{"resourceSpans": []}"#;
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("truncated.jsonl", format!("{good}\n{{\"resourceSpans\": [\n").into_bytes(), "truncated.jsonl:2: (byte 22) not JSON"),
        ("bad_id.jsonl", br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz","spanId":"0102030405060708"}]}]}]}"#.to_vec(), "bad_id.jsonl:1: (byte 0) resourceSpans[0].scopeSpans[0].spans[0].traceId"),
        ("noise.bin", (0u8..=255).cycle().skip(3).take(5000).collect(), "noise.bin: (byte 0)"),
        ("huge_frame.pb", vec![0, 0x7f, 0xff, 0xff, 1, 2, 3], "huge_frame.pb: (byte 0) the input ends inside a message"),
        ("other.json", br#"{"hello": "world"}"#.to_vec(), "other.json:1: (byte 0) neither an OTLP export request"),
    ];
    for (file, bytes, expected) in cases {
        let path = dir.path().join(file);
        std::fs::write(&path, bytes).unwrap();
        let out = bin().arg("import").arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{file}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let at = stderr.find(file).unwrap_or(0);
        assert!(stderr[at..].starts_with(expected), "{file}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let out = bin().arg("import").arg(&empty).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("no traces in the input"),
        "{}",
        text(&out)
    );
    let missing = bin()
        .args(["import", "/nonexistent/traces.jsonl"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
}

#[test]
fn protobuf_from_standard_input_imports_like_its_json() {
    // This tool's own OTLP/JSON, re-encoded as the Collector's proto file exporter writes it
    // (4-byte big-endian length, then the message), by the official Python bindings.
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("recorded.jsonl");
    generate("successful_agent_turn", None, &json);
    let proto = dir.path().join("recorded.pb");
    let script = r#"
import sys, struct
from google.protobuf.json_format import Parse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
out = open(sys.argv[2], "wb")
for line in open(sys.argv[1]):
    if "resourceSpans" in line:
        b = Parse(line, ExportTraceServiceRequest(), ignore_unknown_fields=True).SerializeToString()
        out.write(struct.pack(">I", len(b)) + b)
"#;
    let out = std::process::Command::new(common::python())
        .args(["-c", script])
        .arg(&json)
        .arg(&proto)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let from_json = bin().arg("import").arg(&json).output().unwrap();
    let from_stdin = bin()
        .args(["import", "-"])
        .stdin(std::fs::File::open(&proto).unwrap())
        .output()
        .unwrap();
    assert!(from_stdin.status.success(), "{}", text(&from_stdin));
    assert_eq!(
        String::from_utf8_lossy(&from_json.stdout),
        String::from_utf8_lossy(&from_stdin.stdout)
    );
}

/// The instrumented edges of a `check` report's service graph: (client, server) → calls per trace.
fn service_graph(report: &Value) -> std::collections::BTreeMap<(String, String), f64> {
    report["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["instrumented"].as_bool() == Some(true))
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap().to_string();
            ((s("client"), s("server")), e["per_trace"].as_f64().unwrap())
        })
        .collect()
}

#[test]
fn services_calls_and_fan_outs_are_fitted_back_to_the_same_service_graph() {
    // Uninstrumented callees leave only a CLIENT span (its `server.address` may name anything):
    // those steps keep their kind, and their edges are not compared.
    let dir = tempfile::tempdir().unwrap();
    let recorded = dir.path().join("recorded.jsonl");
    generate("distributed_agent", None, &recorded);
    let fitted = dir.path().join("fit");
    import(
        &recorded,
        &fitted.join("distributed_agent.yaml"),
        "distributed_agent",
    );
    let yaml = std::fs::read_to_string(fitted.join("distributed_agent.yaml")).unwrap();
    for expected in [
        "\"search-mcp\": {version: \"0.9.1\", instances: 2}",
        "\"support-agent\": {version: \"3.2.0\", instances: 3}",
        "remote:",
        "service: \"billing-agent\"",
        "network_ms: {distribution: log_normal",
        "parallel: true",
        "links: [{to: previous_trace}]",
        "id: web_search",
        "links: [{to: web_search}]",
    ] {
        assert!(yaml.contains(expected), "{expected} missing:\n{yaml}");
    }
    assert!(
        !yaml.contains("kind: server"),
        "a SERVER span left unfolded:\n{yaml}"
    );
    let original = service_graph(&check_json(&["--name", "distributed_agent"]));
    let fit = service_graph(&check_json(&[
        "--name",
        "distributed_agent",
        "--scenarios-dir",
        fitted.to_str().unwrap(),
    ]));
    assert_eq!(
        original.keys().collect::<Vec<_>>(),
        fit.keys().collect::<Vec<_>>(),
        "edges"
    );
    for (edge, a) in &original {
        // Calls per trace: a mean of counts over 4000 iterations; 4 standard errors and 3%.
        let b = fit[edge];
        assert!(
            (a - b).abs() <= 4.0 * (2.0 * a / 4000.0).sqrt() + 0.03 * a,
            "{edge:?}: {a} calls per trace became {b}"
        );
    }
}

#[test]
fn the_arrival_rate_and_its_shape_become_interval_and_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let recorded = dir.path().join("diurnal.jsonl");
    let out = bin()
        .args([
            "scenario",
            "--name",
            "successful_agent_turn",
            "--count",
            "3000",
        ])
        .args([
            "--seed",
            "1",
            "--no-metrics",
            "--no-logs",
            "--backfill",
            "1h",
        ])
        .args([
            "--start-time",
            "2026-01-01T00:00:00Z",
            "--traffic",
            "diurnal:20m:0.6",
        ])
        .arg("--output")
        .arg(&recorded)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = bin().arg("import").arg(&recorded).output().unwrap();
    let yaml = String::from_utf8_lossy(&out.stdout).into_owned();
    let traffic = yaml
        .lines()
        .find_map(|l| l.strip_prefix("traffic: diurnal:"))
        .unwrap_or_else(|| panic!("no diurnal traffic:\n{yaml}"));
    let mut parts = traffic.split_whitespace().next().unwrap().split(':');
    let period: f64 = parts.next().unwrap().trim_end_matches('s').parse().unwrap();
    let amplitude: f64 = parts.next().unwrap().parse().unwrap();
    assert!((period - 1200.0).abs() < 0.15 * 1200.0, "{traffic}");
    assert!((amplitude - 0.6).abs() < 0.15, "{traffic}");
    // 3000 traces in an hour: one every 1.2 s on average.
    let interval = numbers(&yaml, "interval_ms")[0];
    assert!((interval - 1200.0).abs() < 60.0, "{interval}");
    assert!(yaml.contains("# Arrivals: 3000 traces"), "{yaml}");
}
