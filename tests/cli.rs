//! The command line as a user meets it: help, listing, validation of good and broken files,
//! missing tenants, unknown scenarios, the one-command quick start, a dead endpoint.

mod common;

use common::{Judge, bin, manifest_dir};
use std::process::Output;
use std::time::{Duration, Instant};

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run the simulator")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
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
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
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
