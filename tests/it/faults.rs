//! The exporter when the receiver misbehaves: throttling (503, 429 with Retry-After), permanent
//! rejection (400), no receiver at all, a receiver restarted mid-run, and the user pressing
//! Ctrl-C. The receiver is `telemetry-simulator sink` with its fault options; in every test the
//! simulator's summary must equal what the sink counted, and nothing may be lost where the
//! OTLP retry rules say it can be delivered.
//!
//! And the sink itself against hostile or slow clients (requests that would decode into
//! gigabytes, half-sent requests), and as the check of the tenant-header how-to.

use crate::common::{self, Run, Sink, bin, n, simulate, text};
use serde_json::Value;
use std::process::Output;
use std::time::{Duration, Instant};

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
        let (out, summary) = simulate(&agent_turns("100", &endpoint, protocol), &[]);
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
    let (out, summary) = simulate(&args, &[]);
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
        let (out, summary) = simulate(&agent_turns("40", &endpoint, protocol), &[]);
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
        let (out, summary) = simulate(&agent_turns("30", &endpoint, protocol), &[]);
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
        let (out, _) = simulate(&args, &[]);
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
                let (out, summary) = simulate(&args, &[]);
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
        let (out, summary) = simulate(&args, &[]);
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
        let run = Run::start(&args, &[]);
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
        let run = Run::start(&args, &[]);
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
    let (out, summary) = simulate(&agent_turns("300", &endpoint, "http/protobuf"), &[]);
    let (received, _) = sink.finish();
    assert!(out.status.success(), "{}", text(&out));
    assert_lossless(&summary, &received, "slow");
    // 2,100 spans in requests of 70: 30 requests (and a part-filled one per generator thread
    // at the end), at most 2 at a time, 200 ms each.
    let requests = n(&summary["export"]["traces"]["requests"]);
    assert!((30..=32).contains(&requests), "{requests} requests");
    assert!(summary["elapsed_s"].as_f64().unwrap() >= 2.8, "{summary:#}");
}

// ---------------------------------------------------------------------------------------------
// The sink against hostile clients: requests that decode into gigabytes, half-sent requests.
// ---------------------------------------------------------------------------------------------

/// The protobuf request from issue 13: one ResourceSpans holding `n` empty ScopeSpans (the two
/// bytes `0x12 0x00` each).
fn empty_scopes(n: usize) -> Vec<u8> {
    let mut len = 2 * n as u64;
    let mut out = vec![0x0a];
    while len >= 0x80 {
        out.push((len as u8 & 0x7f) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    out.reserve(2 * n);
    for _ in 0..n {
        out.extend_from_slice(&[0x12, 0x00]);
    }
    out
}

/// Its OTLP/JSON analogue: `n` empty objects as the scopes of one resource.
fn empty_json_scopes(n: usize) -> Vec<u8> {
    let mut out = br#"{"resourceSpans":[{"scopeSpans":["#.to_vec();
    out.reserve(3 * n);
    for _ in 1..n {
        out.extend_from_slice(b"{},");
    }
    out.extend_from_slice(b"{}]}]}");
    out
}

/// POSTs `body` over HTTP/1.1 on a fresh connection; returns the status and the response.
fn http_post(port: u16, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    http_post_within(Duration::from_secs(60), port, path, headers, body)
}

/// [`http_post`], failing if the answer takes longer than `wait`.
fn http_post_within(
    wait: Duration,
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_read_timeout(Some(wait)).unwrap();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    tcp.write_all(head.as_bytes()).unwrap();
    let _ = tcp.write_all(body);
    let mut response = Vec::new();
    let _ = tcp.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {response:?}"));
    (status, response)
}

/// One span, as a small valid OTLP/HTTP protobuf request.
fn one_span_request() -> Vec<u8> {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message as _;
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![1; 16],
                    span_id: vec![2; 8],
                    name: "fine".into(),
                    start_time_unix_nano: 1,
                    end_time_unix_nano: 2,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// The gRPC status of a gzip'd `Export` call of `message` (tonic answers a refused request
/// with the status in the headers).
fn grpc_export_status(endpoint: &str, gzipped: &[u8]) -> String {
    telemetry_simulator::export::tls::install_crypto_provider();
    let mut frame = vec![1u8];
    frame.extend_from_slice(&(gzipped.len() as u32).to_be_bytes());
    frame.extend_from_slice(gzipped);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .http2_prior_knowledge()
            .build()
            .unwrap();
        let response = client
            .post(format!(
                "{endpoint}/opentelemetry.proto.collector.trace.v1.TraceService/Export"
            ))
            .header("content-type", "application/grpc")
            .header("grpc-encoding", "gzip")
            .header("te", "trailers")
            .body(frame)
            .send()
            .await
            .expect("the gRPC call is answered");
        let status = response.headers().get("grpc-status").cloned();
        let message = response.headers().get("grpc-message").cloned();
        format!("{status:?} {message:?}")
    })
}

#[test]
fn a_small_request_of_empty_messages_is_refused_before_it_costs_gigabytes() {
    let sink = Sink::start(&[]);
    let port = sink.http_port;
    // 33 M empty ScopeSpans: 66 MB, about 64 KB gzip'd; decoded, about 9.6 GB.
    let hostile = common::gzip(&empty_scopes(33_000_000));
    assert!(hostile.len() < 100_000, "{} bytes gzip'd", hostile.len());
    let gzip_pb = [
        ("Content-Type", "application/x-protobuf"),
        ("Content-Encoding", "gzip"),
    ];
    let (status, response) = http_post(port, "/v1/traces", &gzip_pb, &hostile);
    assert_eq!(status, 413, "{response}");
    assert!(response.contains("--max-items"), "{response}");

    let json = common::gzip(&empty_json_scopes(22_000_000));
    let gzip_json = [
        ("Content-Type", "application/json"),
        ("Content-Encoding", "gzip"),
    ];
    let (status, response) = http_post(port, "/v1/traces", &gzip_json, &json);
    assert_eq!(status, 413, "{response}");

    let status = grpc_export_status(&sink.grpc_endpoint(), &hostile);
    assert!(
        status.starts_with("Some(\"8\")"),
        "RESOURCE_EXHAUSTED: {status}"
    );

    let peak = sink.peak_rss();
    eprintln!("the sink's peak memory: {} MB", peak / 1_000_000);
    assert!(
        peak < 200_000_000,
        "the sink's peak memory was {peak} bytes"
    );
    let pb = [("Content-Type", "application/x-protobuf")];
    let (status, response) = http_post(port, "/v1/traces", &pb, &one_span_request());
    assert_eq!(status, 200, "a normal request still succeeds: {response}");

    let (received, _) = sink.finish();
    let traces = &received["traces"];
    assert_eq!(n(&traces["refused"]), 3, "{received:#}");
    assert_eq!(n(&traces["rejected"]), 3, "{received:#}");
    assert_eq!(n(&traces["requests"]), 1, "{received:#}");
    assert_eq!(n(&traces["spans"]), 1, "{received:#}");
}

#[test]
fn concurrent_hostile_requests_are_inflated_one_at_a_time() {
    let sink = Sink::start(&["--max-concurrent-decodes", "1"]);
    let port = sink.http_port;
    let hostile = common::gzip(&empty_scopes(33_000_000));
    let gzip_pb = [
        ("Content-Type", "application/x-protobuf"),
        ("Content-Encoding", "gzip"),
    ];
    // Four at once would hold four 66 MB bodies inflated; the gate lets one in at a time.
    std::thread::scope(|scope| {
        let senders: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| http_post(port, "/v1/traces", &gzip_pb, &hostile).0))
            .collect();
        for sender in senders {
            assert_eq!(sender.join().unwrap(), 413);
        }
    });
    let peak = sink.peak_rss();
    assert!(
        peak < 200_000_000,
        "the sink's peak memory was {peak} bytes"
    );
    let (received, _) = sink.finish();
    assert_eq!(n(&received["traces"]["refused"]), 4, "{received:#}");
}

#[test]
fn half_sent_requests_are_timed_out_and_do_not_keep_a_normal_one_out() {
    use std::io::{Read as _, Write as _};
    // Timeouts alone would let the normal request in only after 8 s or more: it gets in
    // because, at the cap, it takes the place of a connection that has not sent its headers.
    let sink = Sink::start(&[
        "--header-timeout",
        "8s",
        "--body-timeout",
        "1s",
        "--max-connections",
        "50",
    ]);
    let port = sink.http_port;
    // Three times the connection cap: a third send nothing, a third stop inside the headers,
    // a third inside the body.
    let half_headers: &[u8] = b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-";
    let half_body: &[u8] = b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n\
        Content-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\n0123456789";
    let mut half_sent: Vec<_> = (0..150)
        .map(|i| {
            let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
            let sent = [&b""[..], half_headers, half_body][i % 3];
            tcp.write_all(sent).unwrap();
            tcp
        })
        .collect();

    let pb = [("Content-Type", "application/x-protobuf")];
    let within = Duration::from_secs(6);
    let (status, response) = http_post_within(within, port, "/v1/traces", &pb, &one_span_request());
    assert_eq!(status, 200, "a normal request gets through: {response}");

    for (i, tcp) in half_sent.iter_mut().enumerate() {
        tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut answer = Vec::new();
        match tcp.read_to_end(&mut answer) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("half-sent connection {i} was not closed: {e}"),
        }
        if i % 3 == 2 {
            let answer = String::from_utf8_lossy(&answer);
            assert!(answer.starts_with("HTTP/1.1 408"), "{i}: {answer:?}");
        }
    }
    let (received, _) = sink.finish();
    assert_eq!(n(&received["traces"]["requests"]), 1, "{received:#}");
    assert_eq!(n(&received["traces"]["rejected"]), 50, "the body timeouts");
    assert_eq!(n(&received["traces"]["refused"]), 0, "{received:#}");
}

/// The check of docs/howto/multi-tenant-data.md, "Route each tenant with its own header".
#[test]
fn the_sink_confirms_each_tenant_arrives_under_its_own_tenant_header() {
    for protocol in ["http/protobuf", "grpc"] {
        let sink = Sink::start(&["--tenant-header", "X-Scope-OrgID", "--show-headers"]);
        let endpoint = endpoint_for(&sink, protocol);
        let mut cmd = bin();
        cmd.args(["scenario", "--name", "tool_retry", "--count", "60"])
            .args(["--interval", "0", "--seed", "9", "-q"])
            .args(["--tenant-header", "X-Scope-OrgID", "--endpoint", &endpoint])
            .args(["--protocol", protocol])
            .env("TELEMETRY_TENANT_UUIDS", "org-a,org-b");
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{protocol}: {}", text(&out));
        let (received, _) = sink.finish();
        assert_eq!(n(&received["problem_count"]), 0, "{protocol}: {received:#}");
        let tenants = received["tenants"].as_object().expect("tenants");
        assert_eq!(tenants.len(), 2, "{protocol}: {received:#}");
        let mut requests = 0;
        for tenant in ["org-a", "org-b"] {
            let t = &tenants[tenant];
            for item in [
                "spans",
                "metric_points",
                "log_records",
                "requests_by_header",
            ] {
                assert!(n(&t[item]) > 0, "{protocol}: {tenant} {item}: {received:#}");
            }
            requests += n(&t["requests_by_header"]);
        }
        let all: u64 = ["traces", "metrics", "logs"]
            .iter()
            .map(|s| n(&received[s]["requests"]))
            .sum();
        assert_eq!(
            requests, all,
            "every request named its tenant: {received:#}"
        );
        let headers = received["headers"].as_array().expect("headers");
        let orgs: Vec<_> = headers
            .iter()
            .filter(|h| h["name"] == "x-scope-orgid")
            .map(|h| h["value"].as_str().unwrap())
            .collect();
        assert_eq!(orgs, ["org-a", "org-b"], "{protocol}: {headers:#?}");
    }
}

#[test]
fn a_bad_tenant_header_name_is_a_usage_error_for_the_sink_too() {
    let out = bin()
        .args(["sink", "-q", "--listen", "127.0.0.1:0", "--no-grpc"])
        .args(["--tenant-header", "X Bad"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("\"X Bad\" is not a valid header name"),
        "{}",
        text(&out)
    );
}
