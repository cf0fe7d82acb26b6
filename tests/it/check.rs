//! `check` as a user runs it: known answers reported within their confidence bounds, numbers that
//! agree exactly with what a run with the same seed sends (as the independent judge decodes it),
//! and a plot that a real browser (headless Chromium) renders into a picture with something in it.

use crate::common::{self, Judge, Z_999, assert_proportion, bin, quantile, scenario_dir};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

fn run_ok(args: &[&str]) -> Output {
    let out = bin().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn check_json(args: &[&str]) -> Value {
    let mut all = vec!["check", "--format", "json"];
    all.extend_from_slice(args);
    let out = run_ok(&all);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "check printed no JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

const KNOWN: &str = "
name: known
root:
  type: vendor.a2a.orchestrate
  latency: {distribution: log_normal, median_ms: 2000, sigma: 0.1}
  error: {rate: 0.1}
  children:
    - type: vendor.llm.call
      latency: {distribution: log_normal, median_ms: 200, sigma: 0.5}
      error: {rate: 0.25}
    - type: vendor.planner
      count: {min: 0, max: 1000, distribution: poisson, lambda: 3}
      latency: 1
      error: 0
    - type: rag.retrieve
      probability: 0.3
      latency: 1
      error: 0
";

/// A 99.9% bound on the sample median of `n` log-normal draws: its standard error is
/// median·σ·√(π/2)/√n (asymptotic normality of the median, density at the median
/// 1/(median·σ·√(2π))).
fn assert_log_normal_median(observed: f64, median: f64, sigma: f64, n: f64, what: &str) {
    let se = median * sigma * (std::f64::consts::PI / 2.0).sqrt() / n.sqrt();
    let allowance = Z_999 * se + 0.001;
    assert!(
        (observed - median).abs() <= allowance,
        "{what}: median {observed} ms, expected {median} ± {allowance}"
    );
}

#[test]
fn known_answers_are_reported_within_their_confidence_bounds() {
    let dir = scenario_dir(&[("known", KNOWN)]);
    let n = 20_000;
    let report = check_json(&[
        "--name",
        "known",
        "--scenarios-dir",
        dir.path().to_str().unwrap(),
        "--samples",
        &n.to_string(),
        "--seed",
        "11",
    ]);
    for key in [
        "scenario",
        "samples",
        "spans_per_trace",
        "root",
        "span_types",
    ] {
        assert!(report.get(key).is_some(), "no `{key}` in {report}");
    }
    assert_eq!(report["scenario"], "known");
    assert_eq!(report["samples"], n);
    let types = &report["span_types"];
    let f = |v: &Value| v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    let n = n as f64;

    // A log-normal median.
    let llm = &types["vendor.llm.call"];
    assert_log_normal_median(f(&llm["latency_ms"]["p50"]), 200.0, 0.5, n, "llm.call p50");
    assert_log_normal_median(
        f(&report["root"]["latency_ms"]["p50"]),
        2000.0,
        0.1,
        n,
        "root p50",
    );
    // Its 99th percentile, from the normal quantile 2.3263: a looser sanity bound.
    let p99 = f(&llm["latency_ms"]["p99"]);
    let expected_p99 = 200.0 * (0.5f64 * 2.3263).exp();
    assert!(
        (p99 / expected_p99 - 1.0).abs() < 0.06,
        "p99 {p99}, expected {expected_p99}"
    );

    // An error rate, a probability and a fixed count.
    assert_proportion(
        (f(&llm["error_rate"]) * n).round() as usize,
        n as usize,
        0.25,
        "llm.call error rate",
    );
    assert_proportion(
        (f(&report["root"]["error_rate"]) * n).round() as usize,
        n as usize,
        0.1,
        "root error rate",
    );
    assert_eq!(f(&llm["per_trace"]), 1.0);
    assert_proportion(
        (f(&types["rag.retrieve"]["per_trace"]) * n).round() as usize,
        n as usize,
        0.3,
        "rag.retrieve presence",
    );

    // A Poisson count: mean 3, variance 3.
    let planners = f(&types["vendor.planner"]["per_trace"]);
    let allowance = Z_999 * (3.0 / n).sqrt();
    assert!(
        (planners - 3.0).abs() <= allowance,
        "planner per trace {planners}, expected 3 ± {allowance}"
    );

    // Spans per trace: 1 + 1 + Poisson(3) + Bernoulli(0.3), variance 3 + 0.21.
    let spans = &report["spans_per_trace"];
    let allowance = Z_999 * (3.21 / n).sqrt();
    assert!((f(&spans["mean"]) - 5.3).abs() <= allowance, "{spans}");
    assert!(f(&spans["max"]) >= f(&spans["p99"]) && f(&spans["p99"]) >= f(&spans["p50"]));
    assert_eq!(report["worst_case"]["spans"], 1 + 1 + 1000 + 1);
    assert_eq!(report["worst_case"]["depth"], 2);
}

/// What the judge received, summarised like `check`: per span name, count, nearest-rank
/// latency percentiles in ms, and errors.
fn summarise(spans: &[&common::Span]) -> BTreeMap<String, (usize, [f64; 3], usize)> {
    let mut by_name: BTreeMap<String, Vec<&common::Span>> = BTreeMap::new();
    for s in spans {
        by_name.entry(s.name.clone()).or_default().push(s);
    }
    by_name
        .into_iter()
        .map(|(name, spans)| {
            let mut ms: Vec<f64> = spans.iter().map(|s| s.duration_ns() as f64 / 1e6).collect();
            let p = [
                quantile(&mut ms, 0.50),
                quantile(&mut ms, 0.95),
                quantile(&mut ms, 0.99),
            ];
            let errors = spans.iter().filter(|s| s.status_code == 2).count();
            (name, (spans.len(), p, errors))
        })
        .collect()
}

fn agrees_with_a_real_run(scenario: &str, count: u64, seed: u64) {
    let judge = Judge::start();
    let endpoint = judge.endpoint();
    run_ok(&[
        "scenario",
        "--name",
        scenario,
        "--count",
        &count.to_string(),
        "--interval",
        "0",
        "--seed",
        &seed.to_string(),
        "--endpoint",
        &endpoint,
        "--quiet",
    ]);
    let received = judge.finish();
    received.assert_no_decode_errors();
    let report = check_json(&[
        "--name",
        scenario,
        "--samples",
        &count.to_string(),
        "--seed",
        &seed.to_string(),
    ]);
    let spans: Vec<&common::Span> = received.spans.iter().collect();
    let sent = summarise(&spans);
    let traces = received.traces().len() as f64;
    assert_eq!(
        report["traces"].as_f64().unwrap(),
        traces,
        "{scenario}: traces"
    );
    let checked = report["span_types"].as_object().unwrap();
    assert_eq!(
        checked.keys().collect::<Vec<_>>(),
        sent.keys().collect::<Vec<_>>(),
        "{scenario}: span names"
    );
    for (name, (n, p, errors)) in &sent {
        let c = &checked[name];
        let what = format!("{scenario} {name}");
        assert_eq!(c["spans"].as_u64().unwrap() as usize, *n, "{what}: spans");
        assert!(
            (c["per_trace"].as_f64().unwrap() - *n as f64 / traces).abs() < 1e-9,
            "{what}: per trace"
        );
        for (q, value) in ["p50", "p95", "p99"].iter().zip(p) {
            let reported = c["latency_ms"][q].as_f64().unwrap();
            assert!(
                (reported - value).abs() <= 0.0006,
                "{what}: {q} check {reported} ms, sent {value} ms"
            );
        }
        let rate = *errors as f64 / *n as f64;
        assert!(
            (c["error_rate"].as_f64().unwrap() - rate).abs() < 1e-9,
            "{what}: error rate check {}, sent {rate}",
            c["error_rate"]
        );
    }
    let mut per_trace: Vec<f64> = received
        .traces()
        .values()
        .map(|spans| spans.len() as f64)
        .collect();
    let max = per_trace.iter().copied().fold(0.0, f64::max);
    assert_eq!(report["spans_per_trace"]["max"].as_f64().unwrap(), max);
    assert_eq!(
        report["spans_per_trace"]["p50"].as_f64().unwrap(),
        quantile(&mut per_trace, 0.5)
    );
}

#[test]
fn check_reports_what_a_run_with_the_same_seed_sends() {
    agrees_with_a_real_run("tool_retry", 300, 4242);
    agrees_with_a_real_run("planner_failure_cascade", 300, 7);
    agrees_with_a_real_run("llm_rate_limited", 200, 99);
}

/// The Chromium binary of Debian's `chromium` package (installed by scripts/test).
fn chromium() -> String {
    for candidate in ["chromium", "chromium-browser", "google-chrome"] {
        if std::process::Command::new(candidate)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return candidate.to_string();
        }
    }
    panic!(
        "the plot test needs a headless Chromium: run scripts/test, the README's test command, which \
         installs it (as root on Debian) and everything else the tests need, or apt-get install chromium"
    );
}

/// Renders `page` in headless Chromium and returns the screenshot's RGBA pixels and size.
fn screenshot(page: &Path, size: (u32, u32)) -> (Vec<u8>, u32, u32) {
    let dir = tempfile::tempdir().unwrap();
    let png_path = dir.path().join("shot.png");
    let out = std::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", png_path.display()))
        .arg(format!("--window-size={},{}", size.0, size.1))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        png_path.exists(),
        "chromium wrote no screenshot ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let channels = info.color_type.samples();
    let rgba: Vec<u8> = pixels[..info.buffer_size()]
        .chunks(channels)
        .flat_map(|p| match channels {
            3 => [p[0], p[1], p[2], 255],
            4 => [p[0], p[1], p[2], p[3]],
            _ => [p[0], p[0], p[0], 255],
        })
        .collect();
    (rgba, info.width, info.height)
}

#[test]
fn the_plot_renders_in_a_headless_browser() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["check.svg", "check.html"] {
        let path = dir.path().join(file);
        run_ok(&[
            "check",
            "--name",
            "tool_retry",
            "--samples",
            "3000",
            "--plot",
            path.to_str().unwrap(),
        ]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("<svg"), "{file} holds no SVG");
        assert!(
            !text.contains("<script") && !text.contains("src=\"http"),
            "{file} is not self-contained"
        );
        for name in ["vendor.mcp.tool.execute.attempt", "A typical trace"] {
            assert!(text.contains(name), "{file} does not mention {name}");
        }

        let (rgba, width, height) = screenshot(&path, (1250, 1400));
        assert_eq!((width, height), (1250, 1400));
        let pixels = rgba.len() / 4;
        let mut colours = std::collections::HashMap::<[u8; 3], usize>::new();
        let mut inked = 0;
        for p in rgba.chunks(4) {
            let rgb = [p[0], p[1], p[2]];
            if rgb != [255, 255, 255] {
                inked += 1;
            }
            *colours.entry(rgb).or_default() += 1;
        }
        // Histogram bars and waterfall bars: big areas of several saturated colours.
        let saturated = colours
            .iter()
            .filter(|(c, n)| {
                let (max, min) = (*c.iter().max().unwrap(), *c.iter().min().unwrap());
                max - min > 100 && **n > 2_000
            })
            .count();
        assert!(
            inked * 20 > pixels,
            "{file}: only {inked} of {pixels} pixels are not white"
        );
        assert!(
            saturated >= 4,
            "{file}: {saturated} strongly coloured areas; {} distinct colours",
            colours.len()
        );
        assert!(colours.len() > 50, "{file}: {} colours", colours.len());
    }
}

#[test]
fn a_plot_needs_a_known_file_type() {
    let out = bin()
        .args([
            "check",
            "--name",
            "tool_retry",
            "--samples",
            "10",
            "--plot",
            "x.png",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(".svg or .html"));
}

#[test]
fn the_text_report_is_a_table_of_every_span_name() {
    let out = run_ok(&[
        "check",
        "--name",
        "successful_agent_turn",
        "--samples",
        "500",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "Scenario successful_agent_turn: 500 iterations",
        "Spans per trace:",
        "Worst case:",
        "vendor.mcp.tool.execute.attempt",
        "p99 ms",
        "Tokens: input",
    ] {
        assert!(text.contains(needle), "no `{needle}` in:\n{text}");
    }
}

/// The peak resident memory of a running process, in KiB (`VmHWM` in /proc/PID/status).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = common::read(Path::new(&format!("/proc/{pid}/status")));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in\n{status}"))
}

#[test]
fn ctrl_c_stops_a_long_check_which_reports_what_it_drew_in_bounded_memory() {
    let child = bin()
        .args([
            "check",
            "--name",
            "agent_delegation",
            "--samples",
            "1000000000",
            "--format",
            "json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    let peak = peak_rss_kib(child.id());
    let started = std::time::Instant::now();
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let mut child = child;
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("check ignored Ctrl-C for 10 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let waited = started.elapsed();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(waited < std::time::Duration::from_secs(3), "{waited:?}");
    assert!(
        stderr.contains("Interrupted: the report covers the first"),
        "{stderr}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let drawn = report["samples"].as_u64().unwrap();
    assert!(drawn > 0 && drawn < 1_000_000_000, "{drawn}");
    // Exact percentiles keep at most 16 MiB of durations; everything else is a few counters.
    assert!(
        peak < 96 * 1024,
        "peak RSS {peak} KiB after {drawn} iterations"
    );
}
