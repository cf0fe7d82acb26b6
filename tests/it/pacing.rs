//! Open-loop pacing as a user runs it: a target rate held for a duration, and Poisson arrivals
//! whose gaps, as the judge receives them, are exponential.

use crate::common::{self, Judge, bin, send_to_judge};
use std::time::{Duration, Instant};

#[test]
fn a_rate_held_for_a_duration_delivers_its_count_and_ends_on_time() {
    let started = Instant::now();
    let out = bin()
        .args([
            "scenario",
            "--name",
            "successful_agent_turn",
            "--rate",
            "400",
            "--duration",
            "5s",
        ])
        .args([
            "--local-sink",
            "--no-metrics",
            "--no-logs",
            "-q",
            "--seed",
            "3",
        ])
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let traces: f64 = text
        .split("Generated ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("a summary line");
    assert!(
        (1900.0..=2100.0).contains(&traces),
        "{traces} traces, expected 2000 ± 5%\n{text}"
    );
    assert!(text.contains("targeted"), "{text}");
    // Generous bound: 5 s of schedule plus start-up and the final flush.
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
    assert!(
        elapsed >= Duration::from_millis(4900),
        "ended early: {elapsed:?}"
    );
}

#[test]
fn poisson_arrivals_reach_the_receiver_with_exponential_gaps() {
    let rate = 200.0;
    let received = send_to_judge(
        &[
            "scenario",
            "--name",
            "tool_retry",
            "--rate",
            "200",
            "--arrivals",
            "poisson",
            "--count",
            "1500",
            "--no-metrics",
            "--no-logs",
            "--seed",
            "11",
        ],
        &[],
    );
    // Each trace ends at its scheduled arrival (a retried root's attempts would be several
    // traces of one arrival; tool_retry retries only below the root).
    let mut ends: Vec<f64> = received
        .spans
        .iter()
        .filter(|s| s.is_root())
        .map(|s| s.end as f64 / 1e9)
        .collect();
    assert_eq!(ends.len(), 1500);
    ends.sort_by(f64::total_cmp);
    let mut gaps: Vec<f64> = ends.windows(2).map(|w| w[1] - w[0]).collect();
    let n = gaps.len() as f64;
    gaps.sort_by(f64::total_cmp);
    let d = gaps
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let cdf = 1.0 - (-rate * g).exp();
            (cdf - i as f64 / n)
                .abs()
                .max(((i + 1) as f64 / n - cdf).abs())
        })
        .fold(0.0, f64::max);
    // Kolmogorov–Smirnov at the 0.1% level.
    assert!(d < 1.95 / n.sqrt(), "KS distance {d} for {n} gaps");
}

/// Trace and span ids of a run, sorted.
fn ids(args: &[&str], envs: &[(&str, &str)]) -> Vec<String> {
    let base = [
        "scenario",
        "--name",
        "example_scenario",
        "--count",
        "60",
        "--interval",
        "0",
        "--seed",
        "5",
    ];
    let quiet = ["--no-metrics", "--no-logs"];
    let all: Vec<&str> = base.iter().chain(&quiet).chain(args).copied().collect();
    let mut ids: Vec<String> = common::send_to_judge(&all, envs)
        .spans
        .iter()
        .map(|s| format!("{} {} {}", s.trace_id, s.span_id, s.name))
        .collect();
    ids.sort();
    ids
}

#[test]
fn shards_never_overlap_and_together_equal_the_whole_run() {
    let whole = ids(&[], &[]);
    let first = ids(&["--shard", "0/2"], &[]);
    let second = ids(&["--shard", "1/2"], &[]);
    assert!(!first.is_empty() && !second.is_empty());
    assert!(
        first.iter().all(|id| second.binary_search(id).is_err()),
        "shards overlap"
    );
    let mut together = [first, second.clone()].concat();
    together.sort();
    assert_eq!(together, whole);
    // An Indexed Job's pod gets its shard from JOB_COMPLETION_INDEX.
    assert_eq!(
        ids(&["--shards", "2"], &[("JOB_COMPLETION_INDEX", "1")]),
        second
    );
}

#[test]
fn backfill_spreads_history_over_the_window_without_waiting() {
    let judge = Judge::start();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let day = 24 * 3600 * 1_000_000_000u64;
    let started = Instant::now();
    let out = bin()
        .args([
            "scenario",
            "--name",
            "successful_agent_turn",
            "--count",
            "500",
            "--backfill",
            "24h",
        ])
        .args(["-q", "--seed", "8", "--endpoint", &judge.endpoint()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "backfill must not wait for the clock"
    );
    let received = judge.finish();
    assert_eq!(received.traces().len(), 500);
    let later = now + 120_000_000_000;
    for span in &received.spans {
        assert!(
            span.start >= now - day && span.end <= later,
            "{} outside the window",
            span.name
        );
    }
    let ends: Vec<u64> = received
        .spans
        .iter()
        .filter(|s| s.is_root())
        .map(|s| s.end)
        .collect();
    assert!(
        *ends.iter().min().unwrap() < now - day + day / 10,
        "history starts near the window's start"
    );
    assert!(
        *ends.iter().max().unwrap() > now - day / 10,
        "and reaches its end"
    );
    for log in &received.logs {
        let t = log["time_unix_nano"].as_u64().unwrap();
        assert!(t >= now - day && t <= later);
    }
}

#[test]
fn a_mixed_run_follows_its_weights_and_tags() {
    let received = send_to_judge(
        &[
            "run",
            "--count",
            "2000",
            "--interval",
            "0",
            "--seed",
            "21",
            "--no-metrics",
            "--no-logs",
            "--mix",
            "successful_agent_turn=3,tool_retry=1",
        ],
        &[],
    );
    let roots: Vec<&str> = received
        .spans
        .iter()
        .filter(|s| s.is_root())
        .map(|s| s.attr_str("vendor.scenario.name").unwrap())
        .collect();
    assert_eq!(roots.len(), 2000);
    assert!(
        roots
            .iter()
            .all(|r| *r == "successful_agent_turn" || *r == "tool_retry")
    );
    let first = roots
        .iter()
        .filter(|r| **r == "successful_agent_turn")
        .count();
    common::assert_proportion(first, roots.len(), 0.75, "share of the weight-3 scenario");

    let tagged_run = send_to_judge(
        &[
            "run",
            "--count",
            "50",
            "--interval",
            "0",
            "--no-metrics",
            "--no-logs",
            "--tags",
            "retry",
        ],
        &[],
    );
    let tagged = common::manifest_dir().join("scenarios");
    for root in tagged_run.spans.iter().filter(|s| s.is_root()) {
        let name = root.attr_str("vendor.scenario.name").unwrap();
        let text = std::fs::read_to_string(tagged.join(format!("{name}.yaml"))).unwrap();
        assert!(text.contains("- retry"), "{name} is not tagged retry");
    }
    let bad = bin()
        .args(["run", "--mix", "no_such=1", "--count", "1"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

/// Spans, log records and metric points of a run, each as one line with its times relative to
/// the run's earliest span, sorted: what must not depend on how the run was spread over threads.
fn telemetry(received: &common::Received) -> Vec<String> {
    let origin = received.spans.iter().map(|s| s.start).min().unwrap_or(0);
    let at = |ns: u64| ns.saturating_sub(origin);
    let mut lines: Vec<String> = received
        .spans
        .iter()
        .map(|s| {
            format!(
                "span {} {} {} {} {} {} {} {} {:?} {:?} {:?}",
                s.trace_id,
                s.span_id,
                s.parent_span_id,
                s.name,
                at(s.start),
                at(s.end),
                s.status_code,
                s.status_message,
                s.attributes,
                s.resource,
                s.events
                    .iter()
                    .map(|e| {
                        let mut e = e.clone();
                        e["time_unix_nano"] = at(e["time_unix_nano"].as_u64().unwrap_or(0)).into();
                        e
                    })
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    for log in &received.logs {
        let mut log = log.clone();
        let time = log["time_unix_nano"].as_u64().unwrap_or(0);
        log["time_unix_nano"] = at(time).into();
        log["observed_time_unix_nano"] = 0.into();
        lines.push(format!("log {log}"));
    }
    for metric in &received.metrics {
        for point in metric["points"].as_array().into_iter().flatten() {
            // Sums and counts; float sums and exemplars depend on the order of recording.
            lines.push(format!(
                "point {} {} {} {}",
                metric["name"], point["attributes"], point["value"], point["count"]
            ));
        }
    }
    lines.sort();
    lines
}

#[test]
fn workers_change_nothing_in_the_telemetry() {
    let run = |workers: &str| {
        common::send_to_judge(
            &[
                "run",
                "--count",
                "400",
                "--backfill",
                "1h",
                "--seed",
                "77",
                "--workers",
                workers,
                "--exception-span-events",
            ],
            &[("TELEMETRY_TENANT_UUIDS", "t-a,t-b,t-c")],
        )
    };
    let one = telemetry(&run("1"));
    let four = telemetry(&run("4"));
    assert!(one.iter().filter(|l| l.starts_with("span")).count() > 2000);
    assert!(one.iter().any(|l| l.starts_with("log")));
    assert!(one.iter().any(|l| l.starts_with("point")));
    assert!(one.iter().any(|l| l.contains("exception")));
    if let Some((a, b)) = one.iter().zip(&four).find(|(a, b)| a != b) {
        panic!("1 and 4 workers differ:\n  {a}\n  {b}");
    }
    assert_eq!(one.len(), four.len());
}

#[test]
fn each_tenant_is_sent_with_its_own_tenant_header() {
    for grpc in [false, true] {
        let judge = if grpc {
            Judge::start_with_grpc()
        } else {
            Judge::start()
        };
        let endpoint = if grpc {
            judge.grpc_endpoint()
        } else {
            judge.endpoint()
        };
        let mut cmd = bin();
        cmd.args([
            "scenario",
            "--name",
            "tool_retry",
            "--count",
            "120",
            "--interval",
            "0",
            "--seed",
            "9",
            "--tenant-header",
            "X-Scope-OrgID",
            "--endpoint",
            &endpoint,
            "-q",
        ])
        .env("TELEMETRY_TENANT_UUIDS", "org-a,org-b,org-c");
        if grpc {
            cmd.args(["--protocol", "grpc"]);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let received = judge.finish();
        received.assert_no_decode_errors();
        let mut seen = std::collections::BTreeSet::new();
        for request in &received.requests {
            let header = request["headers"]["x-scope-orgid"]
                .as_str()
                .unwrap_or_else(|| panic!("request without the tenant header: {request}"));
            let resources = request["resources"].as_array().unwrap();
            assert_eq!(resources.len(), 1, "one tenant a request: {request}");
            assert_eq!(resources[0]["tenant.id"], header, "{request}");
            seen.insert((request["path"].to_string(), header.to_string()));
        }
        // Every signal of every tenant was routed.
        assert_eq!(seen.len(), 9, "{seen:?}");
    }
}

#[test]
fn a_scenarios_traffic_shapes_its_run_unless_the_command_line_says_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bursty.yaml"),
        "name: bursty\ntraffic: bursty:10m:0.5:3\nroot:\n  type: a2a.orchestrate\n  latency: {mean_ms: 100}\n",
    )
    .unwrap();
    let share_in_bursts = |extra: &[&str]| {
        let mut args = vec![
            "scenario",
            "--scenarios-dir",
            dir.path().to_str().unwrap(),
            "--name",
            "bursty",
            "--count",
            "2000",
            "--backfill",
            "1h",
            "--seed",
            "4",
            "--no-metrics",
            "--no-logs",
        ];
        args.extend_from_slice(extra);
        let received = common::send_to_judge(&args, &[("TENANT_UUID", "t")]);
        let ends: Vec<u64> = received.spans.iter().map(|s| s.end).collect();
        assert_eq!(ends.len(), 2000);
        let first = *ends.iter().min().unwrap();
        let period = 600e9;
        let in_bursts = ends
            .iter()
            .filter(|e| ((**e - first) as f64 / period).fract() < 0.5)
            .count();
        in_bursts as f64 / ends.len() as f64
    };
    // Three times the rate for half of every period: three quarters of the traces.
    let shaped = share_in_bursts(&[]);
    assert!((0.72..0.78).contains(&shaped), "{shaped}");
    let flat = share_in_bursts(&["--traffic", "constant"]);
    assert!((0.47..0.53).contains(&flat), "{flat}");
}

#[test]
fn a_shard_is_held_to_its_share_of_the_rate() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    let out = bin()
        .args([
            "scenario",
            "--name",
            "tool_retry",
            "--rate",
            "200",
            "--duration",
            "3s",
            "--shard",
            "1/4",
            "--output",
            "null",
            "-q",
            "--seed",
            "6",
            "--summary-json",
        ])
        .arg(&summary)
        .env("TENANT_UUID", "t")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("below target"), "{text}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(summary["target_rate"], 50.0, "{summary:#}");
    assert_eq!(summary["shard"], "1/4", "{summary:#}");
    // A quarter of the 600 traces of the whole run's schedule.
    let iterations = summary["iterations"].as_u64().unwrap();
    assert!((140..=160).contains(&iterations), "{summary:#}");
}

/// CPU time (user + system) `pid` has used, in clock ticks (100 a second on Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn a_run_with_nothing_due_sleeps_without_spinning_and_stops_at_once_on_a_signal() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("glacial.yaml"),
        "name: glacial\nrepeat_count: 5\ninterval_ms: 1e18\nroot:\n  type: a2a.orchestrate\n  latency: {mean_ms: 10}\n",
    )
    .unwrap();
    let scenarios = dir.path().to_str().unwrap();
    let cases: [&[&str]; 3] = [
        &["--name", "tool_retry", "--rate", "1e-300"],
        &["--name", "tool_retry", "--interval", "1e18"],
        &["--scenarios-dir", scenarios, "--name", "glacial"],
    ];
    for case in cases {
        let mut child = bin()
            .arg("scenario")
            .args(case)
            .args(["--output", "null", "-q", "--seed", "1"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        std::thread::sleep(Duration::from_millis(1000));
        let before = cpu_ticks(pid);
        std::thread::sleep(Duration::from_millis(1000));
        let used = cpu_ticks(pid) - before;
        // A spinning core would use ~100 ticks in that second.
        assert!(
            used < 20,
            "{case:?}: {used} ticks of CPU in a second of waiting"
        );
        let signalled = Instant::now();
        std::process::Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .unwrap();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if signalled.elapsed() > Duration::from_secs(10) {
                child.kill().unwrap();
                panic!("{case:?}: still running 10 s after SIGINT");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let took = signalled.elapsed();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(status.code(), Some(130), "{case:?}: {text}");
        assert!(
            took < Duration::from_secs(1),
            "{case:?}: ended {took:?} after SIGINT"
        );
        assert!(text.contains("Generated 1 trace "), "{case:?}: {text}");
        assert!(text.contains("too few to measure"), "{case:?}: {text}");
    }
}

#[test]
fn a_duration_with_a_tiny_rate_lasts_the_duration() {
    let started = Instant::now();
    let out = bin()
        .args([
            "scenario",
            "--name",
            "tool_retry",
            "--duration",
            "2s",
            "--rate",
            "1e-7",
        ])
        .args(["--output", "null", "-q", "--seed", "1"])
        .output()
        .unwrap();
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(6),
        "took {took:?}"
    );
    assert!(text.contains("Generated 1 trace "), "{text}");
}

#[test]
fn workers_are_bounded_like_exporters() {
    for n in ["100000", "257", "0"] {
        let out = bin()
            .args(["scenario", "--name", "tool_retry", "--count", "20"])
            .args(["--output", "null", "--workers", n])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--workers {n}: {err}");
        assert!(err.contains("from 1 to 256"), "--workers {n}: {err}");
        assert!(out.stdout.is_empty(), "--workers {n}: nothing runs");
    }
    let out = bin()
        .args([
            "scenario",
            "--name",
            "tool_retry",
            "--count",
            "20",
            "--interval",
            "0",
        ])
        .args(["--output", "null", "-q", "--workers", "256"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("Generated 20 traces") && text.contains("256 workers"),
        "{text}"
    );
}

/// Runs `args` to nowhere and returns its stdout and `--summary-json`.
fn summarised(args: &[&str]) -> (String, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("summary.json");
    let out = bin()
        .arg("scenario")
        .args(args)
        .args([
            "--output",
            "null",
            "-q",
            "--no-metrics",
            "--no-logs",
            "--seed",
            "2",
        ])
        .arg("--summary-json")
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{args:?}: {text}");
    let summary = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    (text, summary)
}

/// The `Rate:` (or `Backfill:`) lines of a summary.
fn rate_lines(text: &str) -> String {
    text.lines()
        .filter(|l| {
            l.starts_with("Rate:")
                || l.starts_with("Backfill:")
                || l.starts_with("  below")
                || l.starts_with("  fell")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_rate_line_measures_the_run_against_its_own_schedule() {
    let f = |v: &serde_json::Value| v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    let within = |x: f64, want: f64, tolerance: f64| (x - want).abs() <= tolerance * want;
    let runs = [
        // A ramp: the target averages the climb (Λ(3 s) = 200 + 200 over 3 s).
        vec![
            "--name",
            "tool_retry",
            "--rate",
            "200",
            "--ramp-up",
            "2s",
            "--duration",
            "3s",
        ],
        // Bursts: half of every period at three times the rate, so twice the base rate.
        vec![
            "--name",
            "tool_retry",
            "--rate",
            "100",
            "--traffic",
            "bursty:2s:0.5:3",
            "--duration",
            "4s",
        ],
        // 1.33 traces/s, three of them: a count-bound run spans its whole schedule.
        vec!["--name", "tool_retry", "--interval", "750", "--count", "3"],
        vec!["--name", "tool_retry", "--rate", "0.6", "--count", "1"],
        vec!["--name", "tool_retry", "--backfill", "1h", "--count", "300"],
    ];
    let results: Vec<(String, serde_json::Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .iter()
            .map(|args| scope.spawn(move || summarised(args)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let [ramp, bursty, thirds, one, backfill] = &results[..] else {
        unreachable!()
    };
    for ((text, summary), target) in [(ramp, 400.0 / 3.0), (bursty, 200.0), (thirds, 4.0 / 3.0)] {
        let lines = rate_lines(text);
        assert!(
            within(f(&summary["target_rate"]), target, 0.01),
            "{lines}\n{summary:#}"
        );
        assert!(
            within(f(&summary["achieved_rate"]), target, 0.05),
            "{lines}\n{summary:#}"
        );
        assert!(!lines.contains("below target"), "{lines}");
        assert_eq!(summary["fell_behind"], false, "{summary:#}");
        assert!(!lines.contains("3333"), "rounded: {lines}");
    }
    assert!(
        rate_lines(&thirds.0).contains("1.33 traces/s achieved, 1.33 targeted (100.0%)"),
        "{}",
        thirds.0
    );
    let lines = rate_lines(&one.0);
    assert!(
        lines.contains("too few to measure") && !lines.contains('%'),
        "{lines}"
    );
    let lines = rate_lines(&backfill.0);
    assert!(
        lines.starts_with("Backfill: 300 traces over the past 1 h, made at "),
        "{lines}"
    );
    assert!(
        !lines.contains('%') && !lines.contains("targeted"),
        "{lines}"
    );
    assert_eq!(backfill.1["target_rate"], serde_json::Value::Null);
}

#[test]
fn a_run_that_cannot_keep_up_says_how_far_behind_it_fell() {
    // A million traces a second is beyond any machine this runs on.
    let (text, summary) =
        summarised(&["--name", "tool_retry", "--rate", "1e6", "--duration", "2s"]);
    let lines = rate_lines(&text);
    assert!(lines.contains("below target: fell up to "), "{lines}");
    assert_eq!(summary["fell_behind"], true, "{summary:#}");
    assert!(summary["behind_s"].as_f64().unwrap() > 0.25, "{summary:#}");
}
