//! The command line as a user meets it: help, listing, validation of good and broken files,
//! missing tenants, unknown scenarios, the one-command quick start, a dead endpoint.

use crate::common::{self, Judge, bin, free_port, manifest_dir, text};
use std::process::Output;
use std::time::{Duration, Instant};

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run the simulator")
}

#[test]
fn help_and_list_need_no_tenant() {
    for args in [
        &["--help"][..],
        &["scenario", "--help"],
        &["list"],
        &["validate"],
    ] {
        let out = bin().env_remove("TENANT_UUID").args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out));
    }
}

#[test]
fn list_shows_the_bundled_scenarios_sorted_without_the_reference_file() {
    let out = run(&["list"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("Available scenarios:"));
    let names: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  - "))
        .collect();
    assert!(names.contains(&"successful_agent_turn") && names.contains(&"tool_retry"));
    assert!(names.len() >= 9, "{names:?}");
    assert!(!names.contains(&"example_scenario"));
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert!(stdout.contains("Repeat: 100, Interval: 500ms"));
}

#[test]
fn generating_without_a_tenant_is_a_usage_error() {
    let out = bin()
        .env_remove("TENANT_UUID")
        .args([
            "scenario",
            "--name",
            "successful_agent_turn",
            "--count",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("TENANT_UUID"), "{}", text(&out));
}

#[test]
fn an_unknown_scenario_names_the_available_ones() {
    let out = run(&["scenario", "--name", "no_such_scenario", "--count", "1"]);
    assert_eq!(out.status.code(), Some(2));
    let t = text(&out);
    assert!(
        t.contains("no_such_scenario") && t.contains("successful_agent_turn"),
        "{t}"
    );
}

/// Each malformed file, with what its error must say: (file, location, fragments).
const MALFORMED: &[(&str, &str, &[&str])] = &[
    (
        "alias_bomb.yaml",
        ":6:",
        &["too large or too deeply nested"],
    ),
    (
        "alias_conflict.yaml",
        ":4:3:",
        &["root.span_type", "two spellings of one key"],
    ),
    (
        "bad_range.yaml",
        ":5:11:",
        &[
            "root.error.rate",
            "expected a probability between 0 and 1, found 1.5",
            "root.latency.sigma",
        ],
    ),
    (
        "bad_type.yaml",
        ":6:20:",
        &["root.children[0].probability", "found \"often\""],
    ),
    (
        "children_not_list.yaml",
        ":5:5:",
        &["root.children", "expected a list of steps"],
    ),
    (
        "count_min_above_max.yaml",
        ":6:14:",
        &["root.children[0].count", "min ≤ max"],
    ),
    (
        "deep_attribute.yaml",
        ":6:85:",
        &["root.attributes.vendor.payload.k.k", "nested more than 16"],
    ),
    ("duplicate_key.yaml", ":5:3:", &["duplicate key `latency`"]),
    ("empty.yaml", ":1:1:", &["empty"]),
    (
        "huge_backoff.yaml",
        ":11:9:",
        &[
            "root.children[0].retry.backoff_base_ms",
            "longer than the limit of one day",
        ],
    ),
    (
        "huge_count.yaml",
        ":1:1:",
        &["1001001 spans", "--max-spans-per-trace"],
    ),
    (
        "long_siblings.yaml",
        ":7:7:",
        &["root.children[4].latency", "about 316.88 years"],
    ),
    ("missing_root.yaml", ":1:1:", &["missing `root`"]),
    (
        "not_a_mapping.yaml",
        ":1:1:",
        &["expected a mapping, found a list"],
    ),
    ("not_utf8.yaml", ":5:", &["not UTF-8"]),
    (
        "null_attribute.yaml",
        ":5:",
        &["root.attributes.vendor.turn.status.code", "cannot be null"],
    ),
    (
        "several_errors.yaml",
        ":4:3:",
        &[
            "unknown key `lateny`",
            "did you mean `latency`",
            "root.children[0].probability",
            "root.children[1].error.rate",
        ],
    ),
    ("syntax_error.yaml", ":5:", &["flow mapping"]),
    (
        "unknown_distribution.yaml",
        ":5:19:",
        &["unknown distribution `zipf`", "log_normal"],
    ),
    (
        "unknown_key.yaml",
        ":7:9:",
        &[
            "root.children[0].retry.max_atempts",
            "did you mean `max_attempts`",
        ],
    ),
    (
        "unknown_span_type.yaml",
        ":5:13:",
        &[
            "unknown span type `vendor.llm.cal`",
            "did you mean `vendor.llm.call`",
        ],
    ),
    (
        "weights_mismatch.yaml",
        ":8:16:",
        &["1 weights for 2 values"],
    ),
    (
        "zero_attempts.yaml",
        ":7:23:",
        &[
            "root.children[0].retry.max_attempts",
            "an integer from 1 to 100, found 0",
        ],
    ),
];

#[test]
fn every_malformed_file_gets_its_own_clear_error_and_exit_2() {
    let dir = manifest_dir().join("tests/malformed");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let listed: Vec<String> = MALFORMED.iter().map(|(f, _, _)| f.to_string()).collect();
    assert_eq!(on_disk, listed, "every corpus file has an expectation here");
    for (file, location, fragments) in MALFORMED {
        let path = dir.join(file);
        let started = Instant::now();
        let out = run(&["validate", path.to_str().unwrap()]);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{file} took {:?}",
            started.elapsed()
        );
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{file}: {t}");
        assert!(!t.contains("panicked"), "{file}: {t}");
        assert!(
            t.contains(&format!("{}{location}", path.display())),
            "{file}: no `{location}` in\n{t}"
        );
        for fragment in *fragments {
            assert!(t.contains(fragment), "{file}: no `{fragment}` in\n{t}");
        }
    }
}

#[test]
fn a_broken_scenario_stops_a_run_before_anything_is_sent() {
    let dir = manifest_dir().join("tests/malformed");
    let out = run(&[
        "scenario",
        "--name",
        "unknown_key",
        "--scenarios-dir",
        dir.to_str().unwrap(),
        "--count",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("did you mean `max_attempts`"));
}

#[test]
fn deep_nesting_is_refused_without_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = String::from("root:\n");
    let mut indent = String::from("  ");
    for _ in 0..200 {
        yaml += &format!("{indent}type: planner\n{indent}children:\n{indent}  - ");
        indent += "    ";
        yaml += "\n";
    }
    let path = dir.path().join("deep.yaml");
    std::fs::write(&path, yaml).unwrap();
    let out = run(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(!text(&out).contains("panicked"));
}

#[test]
fn validating_a_folder_names_every_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["bad_type", "unknown_key", "empty"] {
        std::fs::copy(
            manifest_dir().join(format!("tests/malformed/{name}.yaml")),
            dir.path().join(format!("{name}.yaml")),
        )
        .unwrap();
    }
    std::fs::copy(
        manifest_dir().join("scenarios/tool_retry.yaml"),
        dir.path().join("good.yaml"),
    )
    .unwrap();
    let out = run(&["validate", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let t = text(&out);
    for name in ["bad_type.yaml", "unknown_key.yaml", "empty.yaml"] {
        assert!(t.contains(name), "{name} not named in\n{t}");
    }
    assert!(t.contains("4 files checked: 1 valid, 3 invalid"), "{t}");
}

#[test]
fn the_bundled_scenarios_validate() {
    let out = run(&[
        "validate",
        manifest_dir().join("scenarios").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn the_quick_start_sends_to_the_local_sink_and_summarises() {
    let out = run(&[
        "scenario",
        "--name",
        "successful_agent_turn",
        "--count",
        "25",
        "--interval",
        "0",
        "--local-sink",
    ]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("Generated 25 traces (175 spans"), "{t}");
    assert!(t.contains("175 accepted, 0 rejected, 0 dropped"), "{t}");
    assert!(t.contains("The local sink received"), "{t}");
    assert!(t.contains("175 spans in 25 traces"), "{t}");
    assert!(t.contains("problems: none"), "{t}");
}

#[test]
fn an_unreachable_endpoint_fails_fast_with_one_clear_line() {
    // A port nobody listens on: bind one, note it, close it.
    let port = free_port();
    let started = Instant::now();
    let out = run(&[
        "scenario",
        "--name",
        "successful_agent_turn",
        "--count",
        "300",
        "--interval",
        "0",
        "--endpoint",
        &format!("http://127.0.0.1:{port}"),
    ]);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(t.contains("0 accepted, 0 rejected, 2100 dropped"), "{t}");
    assert!(t.contains("cannot reach"), "{t}");
    assert!(
        t.lines().filter(|l| l.contains("cannot reach")).count() <= 3,
        "{t}"
    );
}

#[test]
fn the_mixed_workload_runs_every_bundled_scenario() {
    let judge = Judge::start();
    let out = run(&[
        "run",
        "--count",
        "400",
        "--interval",
        "0",
        "--seed",
        "9",
        "--endpoint",
        &judge.endpoint(),
        "-q",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let received = judge.finish();
    let roots: std::collections::BTreeSet<String> = received
        .spans
        .iter()
        .filter(|s| s.is_root())
        .map(|s| {
            s.attr_str("vendor.scenario.name")
                .unwrap_or("?")
                .to_string()
        })
        .collect();
    let listed = run(&["list"]);
    let names: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("  - ").map(String::from))
        .collect();
    for name in &names {
        assert!(roots.contains(name), "{name} missing from {roots:?}");
    }
    assert!(!roots.contains("example_scenario"));
}

#[test]
fn progress_is_a_plain_line_every_two_seconds_off_a_terminal_and_none_with_quiet() {
    let args = [
        "scenario",
        "--name",
        "tool_retry",
        "--rate",
        "20",
        "--duration",
        "4500ms",
        "--output",
        "null",
        "--seed",
        "2",
    ];
    let loud = bin().args(args).env("TENANT_UUID", "t").output().unwrap();
    assert!(loud.status.success(), "{}", text(&loud));
    let stderr = String::from_utf8_lossy(&loud.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(" traces · ") && l.contains("spans/s"))
        .collect();
    assert!(
        (1..=3).contains(&lines.len()),
        "want a line every 2 s:\n{stderr}"
    );
    assert!(lines[0].contains("of 20 traces/s"), "{}", lines[0]);
    assert!(lines[0].contains("queue"), "{}", lines[0]);
    assert!(!stderr.contains('\u{1b}'), "no escape codes off a terminal");
    let quiet = bin()
        .args(args)
        .arg("-q")
        .env("TENANT_UUID", "t")
        .output()
        .unwrap();
    assert!(quiet.status.success(), "{}", text(&quiet));
    assert!(
        !String::from_utf8_lossy(&quiet.stderr).contains(" traces · "),
        "{}",
        text(&quiet)
    );
}

#[test]
fn a_bad_tenant_header_or_tenant_id_is_a_usage_error_before_anything_is_sent() {
    let judge = Judge::start();
    let endpoint = judge.endpoint();
    let run_with = |header: &str, tenants: &str| {
        bin()
            .args(["scenario", "--name", "tool_retry", "--count", "3", "-q"])
            .args(["--tenant-header", header, "--endpoint", &endpoint])
            .env("TELEMETRY_TENANT_UUIDS", tenants)
            .output()
            .unwrap()
    };
    let bad_name = run_with("X Bad", "a,b");
    assert_eq!(bad_name.status.code(), Some(2), "{}", text(&bad_name));
    assert!(text(&bad_name).contains("\"X Bad\""), "{}", text(&bad_name));
    let bad_value = run_with("X-Scope-OrgID", "ok,bad\nline");
    assert_eq!(bad_value.status.code(), Some(2), "{}", text(&bad_value));
    assert!(
        text(&bad_value).contains("cannot be the value of --tenant-header"),
        "{}",
        text(&bad_value)
    );
    assert!(judge.finish().requests.is_empty(), "nothing may be sent");
}

/// Every command that prints treats a closed stdout (`| head -1`) as the end of its output:
/// no panic, and the command's own exit status (0 here). The pipe's read end is closed before
/// the command starts, so every write fails.
#[test]
fn a_closed_stdout_ends_the_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    let summary = summary.to_str().unwrap();
    let commands: [&[&str]; 6] = [
        &["list"],
        &["validate"],
        &["schema"],
        &["check", "--name", "tool_retry", "--samples", "50"],
        &["man"],
        &[
            "scenario",
            "--name",
            "tool_retry",
            "--count",
            "3",
            "--interval",
            "0",
            "--show-spans",
            "--output",
            "null",
            "--summary-json",
            summary,
        ],
    ];
    for args in commands {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = bin()
            .args(args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
    // The run went on to the end: it still sent (here: encoded) and counted everything.
    let summary: serde_json::Value = serde_json::from_str(&common::read(summary.as_ref())).unwrap();
    assert_eq!(summary["iterations"], 3, "{summary}");
}

/// `scenario --count 0` meant "the scenario's repeat_count" in the original; `run --count 0`
/// would send nothing, so it is refused.
#[test]
fn count_zero_is_the_repeat_count_for_a_scenario_and_refused_for_a_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("three.yaml"),
        "name: three\nrepeat_count: 3\ninterval_ms: 0\nroot:\n  type: vendor.a2a.orchestrate\n",
    )
    .unwrap();
    let summary = dir.path().join("summary.json");
    let out = bin()
        .args([
            "scenario", "--name", "three", "--count", "0", "--output", "null", "-q",
        ])
        .arg("--scenarios-dir")
        .arg(dir.path())
        .arg("--summary-json")
        .arg(&summary)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let summary: serde_json::Value = serde_json::from_str(&common::read(&summary)).unwrap();
    assert_eq!(summary["iterations"], 3, "{summary}");
    assert_eq!(summary["traces"], 3, "{summary}");

    let refused = run(&["run", "--count", "0", "--output", "null"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("run --count 0 would send nothing"),
        "{}",
        text(&refused)
    );
}

/// The original's `run --tenants a b --output-file F --show-all-attributes`: the flag's tenants
/// (beating TELEMETRY_TENANT_UUIDS), OTLP/JSON lines in F, every span printed in full.
#[test]
fn the_original_run_flags_work() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("spans.jsonl");
    let out = bin()
        .args([
            "run",
            "--tenants",
            "alpha",
            "beta",
            "--count",
            "40",
            "--interval",
            "0",
        ])
        .args([
            "--seed",
            "3",
            "--no-metrics",
            "--no-logs",
            "--show-all-attributes",
        ])
        .arg("--output-file")
        .arg(&file)
        .env("TELEMETRY_TENANT_UUIDS", "from-env")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("tenant.id=alpha") && stdout.contains("tenant.id=beta"),
        "--show-all-attributes prints every attribute:\n{stdout}"
    );
    let received = common::judge_decode_jsonl(&file);
    received.assert_no_decode_errors();
    assert!(received.spans.len() >= 40);
    let tenants: std::collections::BTreeSet<&str> = received
        .spans
        .iter()
        .map(|s| s.attr_str("tenant.id").unwrap())
        .collect();
    assert_eq!(tenants, ["alpha", "beta"].into());
    // `--tenants a,b` is the same list.
    let out = bin()
        .args([
            "run",
            "--tenants",
            "alpha,beta",
            "--count",
            "1",
            "--output",
            "null",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_password_in_the_endpoint_is_never_shown_but_still_authenticates() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    let secret_free = |out: &Output, what: &str| {
        let all = format!(
            "{}{}",
            text(out),
            std::fs::read_to_string(&summary).unwrap_or_default()
        );
        assert!(
            !all.contains("PASSW0RD"),
            "{what}: the password is shown:\n{all}"
        );
        assert!(!all.contains("alice"), "{what}: the user is shown:\n{all}");
        all
    };
    // A dead endpoint: the start line, the export lines and the error lines name it.
    let dead = bin()
        .args([
            "scenario",
            "--name",
            "tool_retry",
            "--count",
            "2",
            "--interval",
            "0",
        ])
        .args(["--retry-max-elapsed", "1s", "--summary-json"])
        .arg(&summary)
        .arg("--endpoint")
        .arg(format!("http://alice:PASSW0RD@127.0.0.1:{}", free_port()))
        .output()
        .unwrap();
    assert_eq!(dead.status.code(), Some(1), "{}", text(&dead));
    let shown = secret_free(&dead, "dead endpoint");
    assert!(shown.contains("Running scenario tool_retry"), "{shown}");
    assert!(
        shown.contains("cannot reach http://***@127.0.0.1:"),
        "{shown}"
    );
    assert!(shown.contains("to http://***@127.0.0.1:"), "{shown}");
    // A malformed endpoint's error names it without the password too.
    let bad = bin()
        .args([
            "scenario",
            "--name",
            "tool_retry",
            "--count",
            "1",
            "--protocol",
            "grpc",
        ])
        .args(["--endpoint", "http://alice:PASSW0RD@127.0.0.1:1/a/path"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(
        secret_free(&bad, "bad endpoint")
            .contains("bad endpoint \"http://***@127.0.0.1:1/a/path\"")
    );
    // A live endpoint: the credentials still go out, as basic authentication.
    let judge = Judge::start();
    let live = bin()
        .args([
            "scenario",
            "--name",
            "tool_retry",
            "--count",
            "2",
            "--interval",
            "0",
        ])
        .args(["--no-metrics", "--no-logs", "--summary-json"])
        .arg(&summary)
        .arg("--endpoint")
        .arg(format!("http://alice:PASSW0RD@127.0.0.1:{}", judge.port()))
        .output()
        .unwrap();
    assert!(live.status.success(), "{}", text(&live));
    secret_free(&live, "live endpoint");
    let received = judge.finish();
    let requests = received.requests_to("/v1/traces");
    assert!(!requests.is_empty());
    for request in requests {
        // base64("alice:PASSW0RD")
        assert_eq!(
            request["headers"]["authorization"],
            "Basic YWxpY2U6UEFTU1cwUkQ="
        );
    }
}

#[test]
fn both_tenant_variables_set_say_once_which_wins() {
    let out = bin()
        .args([
            "scenario",
            "--name",
            "tool_retry",
            "--count",
            "4",
            "--interval",
            "0",
        ])
        .args(["--output", "null", "--show-spans", "--seed", "3"])
        .env("TELEMETRY_TENANT_UUIDS", "globex,initech")
        .env("TENANT_UUID", "acme")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(
        warnings,
        [
            "warning: both TELEMETRY_TENANT_UUIDS=globex,initech and TENANT_UUID=acme are set; \
          using TELEMETRY_TENANT_UUIDS (unset it to use TENANT_UUID)"
        ]
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("tenant_id=acme"), "{stdout}");
    assert!(stdout.contains("tenant_id=globex") || stdout.contains("tenant_id=initech"));
}

#[test]
fn show_spans_prints_full_ids_status_and_duration_in_order() {
    let out = bin()
        .args([
            "scenario",
            "--name",
            "tool_retry",
            "--count",
            "30",
            "--interval",
            "0",
        ])
        .args([
            "--output",
            "null",
            "--show-spans",
            "--seed",
            "5",
            "--workers",
            "2",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with("   [")).collect();
    assert_eq!(lines.len(), 30, "{stdout}");
    let mut statuses = std::collections::BTreeSet::new();
    let mut ids = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        assert!(
            line.starts_with(&format!("   [{}/30] ", i + 1)),
            "out of order: {line}"
        );
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .unwrap_or_else(|| panic!("no {name} in {line}"))
                .to_string()
        };
        let id = field("trace_id=");
        assert!(
            id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()),
            "{line}"
        );
        ids.push(id);
        statuses.insert(field("status="));
        let ms: f64 = field("duration_ms=").parse().expect("a duration in ms");
        assert!(ms > 0.0, "{line}");
    }
    // tool_retry fails its first attempts: some iterations hold an error, some none.
    assert!(
        statuses.iter().all(|s| s == "ERROR" || s == "UNSET"),
        "{statuses:?}"
    );
    // The summary's sample ids are the ones shown, in full.
    let sample: Vec<&str> = stdout
        .lines()
        .skip_while(|l| *l != "Sample trace IDs:")
        .skip(1)
        .map(str::trim)
        .collect();
    assert!(
        !sample.is_empty() && sample.iter().all(|s| ids.contains(&s.to_string())),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("uses 1 worker instead of 2").count(),
        1,
        "{stderr}"
    );
    assert!(stdout.contains("on 1 worker"), "{stdout}");
}

#[test]
fn one_trace_is_one_trace_and_the_local_sink_has_one_heading() {
    let out = run(&[
        "scenario",
        "--name",
        "successful_agent_turn",
        "--count",
        "1",
        "--local-sink",
    ]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("Running scenario successful_agent_turn: 1 trace at"),
        "{t}"
    );
    assert!(t.contains("Generated 1 trace (7 spans"), "{t}");
    for wrong in [": 1 traces", "Generated 1 traces", "in 1 traces"] {
        assert!(!t.contains(wrong), "{t}");
    }
    assert_eq!(t.matches("received:").count(), 1, "{t}");
    assert!(t.contains("The local sink received:\n  traces"), "{t}");
}

#[test]
fn a_sink_on_a_taken_port_refuses_to_start_and_says_why() {
    let first = common::Sink::start(&[]);
    let listen = format!("127.0.0.1:{}", first.http_port);
    let mut second = bin()
        .args(["sink", "--no-grpc", "--listen", &listen])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while second.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = second.kill();
            panic!("a second sink started on the port of the first");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = second.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains(&format!("error: sink cannot listen on {listen}")),
        "{t}"
    );
    assert!(t.contains("another sink or collector is listening"), "{t}");
    first.finish();
}

#[test]
fn the_kubernetes_job_runs_as_non_root_and_prints_its_summary_json() {
    let manifest = common::read(&manifest_dir().join("deploy/k8s/indexed-job.yaml"));
    let job: serde_json::Value = serde_saphyr::from_str(&manifest).expect("the manifest is YAML");
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(
        pod["securityContext"]["runAsNonRoot"], true,
        "the premise of this test"
    );
    let container = &pod["containers"][0];
    let args: Vec<String> = container["args"]
        .as_array()
        .expect("container args")
        .iter()
        .map(|a| a.as_str().expect("string args").to_string())
        // The one change: 2 seconds instead of the manifest's minutes.
        .map(|a| {
            if a.starts_with("--duration=") {
                "--duration=2s".into()
            } else {
                a
            }
        })
        .collect();
    assert!(
        args.iter().any(|a| a == "--summary-json=/dev/stdout"),
        "{args:?}"
    );
    let sink = common::Sink::start(&["--count-only"]);
    let mut cmd = bin();
    cmd.args(&args).env("JOB_COMPLETION_INDEX", "1");
    for var in container["env"].as_array().expect("container env") {
        let name = var["name"].as_str().unwrap();
        let value = match name {
            "OTLP_HTTP_ENDPOINT" => sink.endpoint(),
            _ => var["value"].as_str().unwrap().to_string(),
        };
        cmd.env(name, value);
    }
    cmd.env_remove("TENANT_UUID");
    // As the manifest's non-root user would: root (as in CI) drops to nobody for the child,
    // supplementary groups included (std clears them when root sets a uid).
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid() == 0
    });
    if root {
        use std::os::unix::process::CommandExt;
        cmd.uid(65534).gid(65534);
    }
    let out = cmd
        .output()
        .expect("the binary runs as nobody (is it readable by others?)");
    assert!(out.status.success(), "exit {}:\n{}", out.status, text(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is the summary JSON ({e}):\n{}", text(&out)));
    assert_eq!(summary["shard"], "1/4", "{summary}");
    assert!(summary["traces"].as_u64().unwrap() > 0, "{summary}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Generated "));
    let (received, _) = sink.finish();
    let accepted = &summary["export"]["traces"]["accepted"];
    assert_eq!(accepted, &summary["spans"], "{summary}");
    assert_eq!(&received["traces"]["spans"], accepted, "{received}");
}

#[test]
fn the_sink_writes_its_port_file_whole_and_its_summary_json_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let port_file = dir.path().join("port");
    let sink = bin()
        .args(["sink", "--quiet", "--no-grpc", "--listen", "127.0.0.1:0"])
        .arg("--port-file")
        .arg(&port_file)
        .args(["--summary-json", "-"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let port = loop {
        if let Some(port) = std::fs::read_to_string(&port_file)
            .ok()
            .and_then(|t| t.strip_suffix('\n')?.parse::<u16>().ok())
        {
            break port;
        }
        assert!(Instant::now() < deadline, "no port file within 20 s");
        std::thread::sleep(Duration::from_millis(20));
    };
    let sent = run(&[
        "scenario",
        "--name",
        "tool_retry",
        "--count",
        "2",
        "--interval",
        "0",
        "--quiet",
        "--summary-json",
        "-",
        "--endpoint",
        &format!("http://127.0.0.1:{port}"),
    ]);
    assert!(sent.status.success(), "{}", text(&sent));
    let run_summary: serde_json::Value = serde_json::from_slice(&sent.stdout).unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &sink.id().to_string()])
        .status();
    let out = sink.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is the summary JSON ({e}):\n{}", text(&out)));
    assert_eq!(
        summary["traces"]["spans"], run_summary["spans"],
        "{summary}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("sink received:"));
    // The port file was renamed into place: no temporary file is left beside it.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["port"]);
}

#[test]
fn data_and_the_summary_json_cannot_share_stdout() {
    let out = run(&[
        "scenario",
        "--name",
        "tool_retry",
        "--count",
        "1",
        "--output",
        "-",
        "--summary-json",
        "/dev/stdout",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("would mix on stdout"), "{}", text(&out));
    assert!(out.stdout.is_empty(), "nothing generated");
}

/// A bad value is refused where it is parsed, before anything is loaded or sent: a usage error
/// (exit 2) naming the flag, whether clap parses it or it comes from flags and environment
/// together (`--shards` with JOB_COMPLETION_INDEX, `--output -` with `--summary-json -`).
#[test]
fn bad_values_are_usage_errors_naming_their_flag() {
    let cases: [(&[&str], &str); 6] = [
        (
            &["scenario", "--name", "tool_retry", "--interval", "-1"],
            "--interval must be a number of milliseconds ≥ 0",
        ),
        (
            &["run", "--interval", "NaN"],
            "--interval must be a number of milliseconds ≥ 0",
        ),
        (
            &["scenario", "--name", "tool_retry", "--backfill", "inf"],
            "--backfill needs a window such as 24h",
        ),
        (
            &["check", "--name", "tool_retry", "--samples", "0"],
            "--samples must be at least 1",
        ),
        (
            &["scenario", "--name", "tool_retry", "--shards", "2"],
            "--shards 2 needs JOB_COMPLETION_INDEX set to a number below 2",
        ),
        (
            &[
                "scenario",
                "--name",
                "tool_retry",
                "--output",
                "-",
                "--summary-json",
                "-",
            ],
            "would mix on stdout",
        ),
    ];
    for (args, message) in cases {
        let out = bin()
            .args(args)
            .env("TENANT_UUID", "t")
            .env_remove("JOB_COMPLETION_INDEX")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(message), "{args:?}: {}", text(&out));
        assert!(
            out.stdout.is_empty(),
            "{args:?}: nothing may be sent or printed"
        );
    }
}
