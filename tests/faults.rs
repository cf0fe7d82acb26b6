//! The exporter when the receiver misbehaves: throttling (503, 429 with Retry-After), permanent
//! rejection (400), no receiver at all, a receiver restarted mid-run, and the user pressing
//! Ctrl-C. The receiver is `telemetry-simulator sink` with its fault options; in every test the
//! simulator's summary must equal what the sink counted, and nothing may be lost where the
//! OTLP retry rules say it can be delivered.

mod common;

use common::{Sink, bin};
use serde_json::Value;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A simulator run in the background, writing its summary to a temp file.
struct Run {
    child: Child,
    dir: tempfile::TempDir,
}

impl Run {
    fn start(args: &[&str]) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let child = bin()
            .args(args)
            .arg("--summary-json")
            .arg(dir.path().join("summary.json"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the simulator starts");
        Run { child, dir }
    }

    fn wait(self) -> (Output, Value) {
        let out = self.child.wait_with_output().expect("the simulator ends");
        let summary = std::fs::read_to_string(self.dir.path().join("summary.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        (out, summary)
    }
}

fn simulate(args: &[&str]) -> (Output, Value) {
    Run::start(args).wait()
}

/// `scenario successful_agent_turn` (7 spans per trace) to `endpoint` over `protocol`.
fn agent_turns<'a>(count: &'a str, endpoint: &'a str, protocol: &'a str) -> Vec<&'a str> {
    vec![
        "scenario",
        "--name",
        "successful_agent_turn",
        "--count",
        count,
        "--interval",
        "0",
        "-q",
        "--batch-size",
        "70",
        "--no-metrics",
        "--no-logs",
        "--endpoint",
        endpoint,
        "--protocol",
        protocol,
    ]
}

fn endpoint_for(sink: &Sink, protocol: &str) -> String {
    if protocol == "grpc" {
        sink.grpc_endpoint()
    } else {
        sink.endpoint()
    }
}

/// The run delivered everything, and the sink counted exactly that.
fn assert_lossless(summary: &Value, sink: &Value, context: &str) {
    let t = &summary["export"]["traces"];
    assert_eq!(
        n(&t["generated"]),
        n(&summary["spans"]),
        "{context}: {summary:#}"
    );
    assert_eq!(
        n(&t["accepted"]),
        n(&t["generated"]),
        "{context}: {summary:#}"
    );
    assert_eq!(
        n(&t["dropped"]) + n(&t["rejected"]),
        0,
        "{context}: {summary:#}"
    );
    assert_eq!(
        n(&sink["traces"]["spans"]),
        n(&t["accepted"]),
        "{context}: {sink:#}"
    );
    assert_eq!(n(&sink["problem_count"]), 0, "{context}: {sink:#}");
}

#[test]
fn transient_503s_are_retried_and_nothing_is_lost() {
    for protocol in ["http/protobuf", "http/json", "grpc"] {
        let sink = Sink::start(&["--fail-first", "3", "--fail-status", "503"]);
        let endpoint = endpoint_for(&sink, protocol);
        let (out, summary) = simulate(&agent_turns("100", &endpoint, protocol));
        let (received, _) = sink.finish();
        assert!(out.status.success(), "{protocol}: {}", text(&out));
        assert_lossless(&summary, &received, protocol);
        assert_eq!(n(&summary["export"]["traces"]["retries"]), 3, "{protocol}");
        assert_eq!(n(&received["injected_failures"]), 3);
    }
    // With the metrics and logs derived from the spans: every signal gets through.
    let sink = Sink::start(&["--fail-first", "5", "--fail-status", "503"]);
    let endpoint = sink.grpc_endpoint();
    let args: Vec<&str> = agent_turns("100", &endpoint, "grpc")
        .into_iter()
        .filter(|a| !a.starts_with("--no-"))
        .collect();
    let (out, summary) = simulate(&args);
    let (received, _) = sink.finish();
    assert!(out.status.success(), "{}", text(&out));
    assert_lossless(&summary, &received, "all signals");
    let mut retries = 0;
    for signal in ["metrics", "logs"] {
        let e = &summary["export"][signal];
        assert!(n(&e["generated"]) > 0, "{signal}: {summary:#}");
        assert_eq!(
            n(&e["accepted"]),
            n(&e["generated"]),
            "{signal}: {summary:#}"
        );
        assert_eq!(
            n(&received[signal]["items"]),
            n(&e["accepted"]),
            "{signal}: {received:#}"
        );
        retries += n(&e["retries"]);
    }
    retries += n(&summary["export"]["traces"]["retries"]);
    assert_eq!(retries, 5);
}

#[test]
fn throttling_429s_with_retry_after_are_honoured() {
    for protocol in ["http/protobuf", "grpc"] {
        let sink = Sink::start(&[
            "--fail-first",
            "2",
            "--fail-status",
            "429",
            "--retry-after",
            "1",
        ]);
        let endpoint = endpoint_for(&sink, protocol);
        let started = Instant::now();
        let (out, summary) = simulate(&agent_turns("40", &endpoint, protocol));
        let took = started.elapsed();
        let (received, _) = sink.finish();
        assert!(out.status.success(), "{protocol}: {}", text(&out));
        assert_lossless(&summary, &received, protocol);
        assert_eq!(n(&summary["export"]["traces"]["retries"]), 2, "{protocol}");
        // Two requests fail at once (two senders), each waits the second it was asked to.
        assert!(
            took >= Duration::from_secs(1),
            "{protocol}: retried after {took:?}"
        );
    }
}

#[test]
fn a_rejecting_endpoint_fails_the_run_and_names_the_reason() {
    for protocol in ["http/protobuf", "grpc"] {
        let sink = Sink::start(&["--fail-first", "1000000", "--fail-status", "400"]);
        let endpoint = endpoint_for(&sink, protocol);
        let (out, summary) = simulate(&agent_turns("30", &endpoint, protocol));
        let (received, _) = sink.finish();
        assert_eq!(out.status.code(), Some(1), "{protocol}: {}", text(&out));
        let t = &summary["export"]["traces"];
        assert_eq!(n(&t["rejected"]), 210, "{protocol}: {summary:#}");
        assert_eq!(n(&t["accepted"]) + n(&t["dropped"]) + n(&t["retries"]), 0);
        assert_eq!(n(&received["traces"]["spans"]), 0);
        let reason = t["reasons"][0][0].as_str().unwrap();
        let want = if protocol == "grpc" {
            "gRPC INVALID_ARGUMENT"
        } else {
            "HTTP 400"
        };
        assert!(reason.contains(want), "{reason}");
        assert!(reason.contains("injected by --fail-first"), "{reason}");
        let t = text(&out);
        assert!(t.contains("210 spans:") && t.contains(want), "{t}");
        assert!(
            t.contains("error: 210 of 210 spans were not accepted"),
            "{t}"
        );

        // --allow-export-failures: still reported, but not fatal.
        let sink = Sink::start(&["--fail-first", "1000000", "--fail-status", "400"]);
        let endpoint = endpoint_for(&sink, protocol);
        let mut args = agent_turns("5", &endpoint, protocol);
        args.push("--allow-export-failures");
        let (out, _) = simulate(&args);
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("warning: 35 of 35 spans were not accepted"));
    }
}

/// How a dead endpoint behaves.
#[derive(Clone, Copy, Debug)]
enum Dead {
    /// Nothing listens: connections are refused.
    Refused,
    /// Connections are accepted and never answered.
    BlackHole,
    /// Connections are accepted and closed at once.
    Reset,
}

/// `http://127.0.0.1:PORT` of an endpoint that behaves as `kind`. Its listener thread lives as
/// long as the test process.
fn dead_endpoint(kind: Dead) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    match kind {
        Dead::Refused => drop(listener),
        Dead::BlackHole | Dead::Reset => {
            std::thread::spawn(move || {
                let mut held = Vec::new();
                for stream in listener.incoming().flatten() {
                    if let Dead::BlackHole = kind {
                        held.push(stream);
                    }
                }
            });
        }
    }
    format!("http://127.0.0.1:{port}")
}

#[test]
fn a_dead_endpoint_ends_the_run_in_bounded_time_with_one_clear_line() {
    let mut cases = Vec::new();
    for kind in [Dead::Refused, Dead::BlackHole, Dead::Reset] {
        for protocol in ["http/protobuf", "grpc"] {
            for count in ["10", "10000"] {
                cases.push((kind, protocol, count, "0"));
            }
        }
    }
    // The README's example: a paced run, whose workers sleep between traces.
    cases.push((Dead::Refused, "http/protobuf", "100", "500"));
    // Every case at once: each waits on the clock, not the CPU.
    std::thread::scope(|scope| {
        for (kind, protocol, count, interval) in cases {
            scope.spawn(move || {
                let endpoint = dead_endpoint(kind);
                let mut args = agent_turns(count, &endpoint, protocol);
                args[6] = interval;
                // All signals: metrics and logs go to the same dead endpoint.
                args.retain(|a| !a.starts_with("--no-"));
                // A black hole costs a --timeout per attempt.
                args.extend(["--timeout", "2s"]);
                let context = format!("{kind:?} over {protocol}, {count} traces");
                let started = Instant::now();
                let (out, summary) = simulate(&args);
                let took = started.elapsed();
                assert!(took < Duration::from_secs(15), "{context}: took {took:?}");
                assert_dead_endpoint_summary(&out, &summary, &context);
            });
        }
    });
}

#[test]
fn the_retry_budget_is_the_endpoints_not_each_requests() {
    // An endpoint that answers, but only ever with 503: once nothing has been accepted for
    // --retry-max-elapsed, the run gives up on it, however many requests are waiting.
    for protocol in ["http/protobuf", "grpc"] {
        let sink = Sink::start(&["--fail-first", "1000000", "--fail-status", "503"]);
        let endpoint = endpoint_for(&sink, protocol);
        let mut args = agent_turns("10000", &endpoint, protocol);
        args.extend(["--retry-max-elapsed", "2s"]);
        let started = Instant::now();
        let (out, summary) = simulate(&args);
        let took = started.elapsed();
        sink.finish();
        let context = format!("503s over {protocol}, 10000 traces");
        assert!(took < Duration::from_secs(12), "{context}: took {took:?}");
        assert_dead_endpoint_summary(&out, &summary, &context);
        let reason = summary["export"]["unreachable"]["reason"].as_str().unwrap();
        assert!(
            reason.contains("503") || reason.contains("UNAVAILABLE"),
            "{reason}"
        );
        let failing = summary["export"]["unreachable"]["failing_s"]
            .as_f64()
            .unwrap();
        assert!(failing >= 1.9, "given up after {failing} s of a 2 s budget");
    }
}

/// Exit 1, nothing accepted, every generated item dropped, generation stopped, one line.
fn assert_dead_endpoint_summary(out: &Output, summary: &Value, context: &str) {
    let text = text(out);
    assert_eq!(out.status.code(), Some(1), "{context}: {text}");
    for signal in ["traces", "metrics", "logs"] {
        let e = &summary["export"][signal];
        assert_eq!(n(&e["accepted"]), 0, "{context}: {summary:#}");
        assert_eq!(
            n(&e["generated"]),
            n(&e["dropped"]) + n(&e["rejected"]),
            "{context} {signal}: {summary:#}"
        );
    }
    assert_eq!(
        n(&summary["export"]["traces"]["generated"]),
        n(&summary["spans"]),
        "{context}: {summary:#}"
    );
    assert!(n(&summary["spans"]) > 0, "{context}: {summary:#}");
    let count = n(&summary["iterations"]);
    assert!(count <= 10_000, "{context}");
    if context.contains("10000") {
        assert!(count < 10_000, "{context}: generation did not stop");
    }
    let dead = &summary["export"]["unreachable"];
    assert!(dead["reason"].is_string(), "{context}: {summary:#}");
    let gave_up: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("Gave up on"))
        .collect();
    assert_eq!(gave_up.len(), 1, "{context}: {text}");
    assert!(
        gave_up[0].contains("generation stopped"),
        "{context}: {text}"
    );
}

#[test]
fn a_receiver_restarted_mid_run_loses_nothing() {
    for protocol in ["http/protobuf", "grpc"] {
        let sink = Sink::start(&[]);
        let (http, grpc) = (sink.http_port, sink.grpc_port);
        let endpoint = endpoint_for(&sink, protocol);
        // 3,000 traces 1.5 ms apart: about 4.5 s of traffic.
        let mut args = agent_turns("3000", &endpoint, protocol);
        args[6] = "1.5";
        let run = Run::start(&args);
        std::thread::sleep(Duration::from_millis(1200));
        let (first, dir) = sink.finish();
        std::thread::sleep(Duration::from_millis(700));
        let sink = Sink::start_on(
            dir,
            &format!("127.0.0.1:{http}"),
            &format!("127.0.0.1:{grpc}"),
            &[],
        );
        let (out, summary) = run.wait();
        let (second, _) = sink.finish();
        assert!(out.status.success(), "{protocol}: {}", text(&out));
        let t = &summary["export"]["traces"];
        assert_eq!(n(&t["accepted"]), 21_000, "{protocol}: {summary:#}");
        assert!(
            n(&t["retries"]) > 0,
            "{protocol}: the restart was not noticed"
        );
        let spans_first = n(&first["traces"]["spans"]);
        let spans_second = n(&second["traces"]["spans"]);
        assert!(
            spans_first > 0 && spans_second > 0,
            "{spans_first} + {spans_second}"
        );
        assert_eq!(spans_first + spans_second, 21_000, "{protocol}");
    }
}

#[test]
fn sigint_stops_generation_flushes_and_summarises() {
    for (signal, status) in [("-INT", 130), ("-TERM", 143)] {
        let sink = Sink::start(&[]);
        let endpoint = sink.endpoint();
        let mut args = agent_turns("1000000", &endpoint, "http/protobuf");
        args[6] = "2";
        let run = Run::start(&args);
        std::thread::sleep(Duration::from_millis(1500));
        let started = Instant::now();
        std::process::Command::new("kill")
            .args([signal, &run.child.id().to_string()])
            .status()
            .unwrap();
        let (out, summary) = run.wait();
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{:?}",
            started.elapsed()
        );
        let (received, _) = sink.finish();
        assert_eq!(out.status.code(), Some(status), "{}", text(&out));
        let t = text(&out);
        assert!(t.contains("Interrupted by SIG"), "{t}");
        assert!(n(&summary["spans"]) < 7_000_000);
        assert_eq!(
            summary["interrupted_by"],
            if status == 130 { 2 } else { 15 }
        );
        assert_lossless(&summary, &received, signal);
    }
}

#[test]
fn a_slow_receiver_slows_generation_instead_of_growing_memory() {
    // 200 ms per request, 2 requests in flight, a queue of 4: about 10 requests/s at most.
    let sink = Sink::start(&["--latency", "200"]);
    let endpoint = sink.endpoint();
    let (out, summary) = simulate(&agent_turns("300", &endpoint, "http/protobuf"));
    let (received, _) = sink.finish();
    assert!(out.status.success(), "{}", text(&out));
    assert_lossless(&summary, &received, "slow");
    // 2,100 spans in requests of 70: 30 requests (and a part-filled one per generator thread
    // at the end), at most 2 at a time, 200 ms each.
    let requests = n(&summary["export"]["traces"]["requests"]);
    assert!((30..=32).contains(&requests), "{requests} requests");
    assert!(summary["elapsed_s"].as_f64().unwrap() >= 2.8, "{summary:#}");
}
