//! The exporter against real receivers on 127.0.0.1: every protocol × compression decoded by
//! the independent judge (official Python bindings, grpcio), the official Python SDK feeding our
//! sink, the OTel environment variables, batching, and the file and null outputs. In every test
//! the simulator's own accounting (`--summary-json`) must equal what the receiver counted.

use crate::common::{
    self, Judge, Received, Sink, Span, bin, judge_decode_jsonl, n, read, sdk_send, simulate, text,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Asserts the run's trace accounting is complete and lossless, and returns the span count.
fn all_accepted(summary: &Value) -> u64 {
    let t = &summary["export"]["traces"];
    assert_eq!(n(&t["accepted"]), n(&t["generated"]), "{summary:#}");
    assert_eq!(n(&t["generated"]), n(&summary["spans"]), "{summary:#}");
    assert_eq!(n(&t["rejected"]) + n(&t["dropped"]), 0, "{summary:#}");
    n(&t["accepted"])
}

/// (trace id, span id, name, parent, attributes) of every span: equal for runs of one seed.
fn span_lines(spans: &[&common::Span]) -> BTreeSet<String> {
    spans
        .iter()
        .map(|s| {
            format!(
                "{} {} {} {} {}",
                s.trace_id,
                s.span_id,
                s.parent_span_id,
                s.name,
                Value::Object(s.attributes.clone())
            )
        })
        .collect()
}

const PROTOCOLS: [&str; 3] = ["http/protobuf", "http/json", "grpc"];

#[test]
fn every_protocol_and_compression_reaches_the_judge_intact_with_its_headers() {
    let judge = Judge::start_with_grpc();
    let mut accepted = BTreeMap::new();
    for protocol in PROTOCOLS {
        for compression in ["none", "gzip"] {
            let run = format!("{protocol}+{compression}");
            let endpoint = if protocol == "grpc" {
                judge.grpc_endpoint()
            } else {
                judge.endpoint()
            };
            let (out, summary) = simulate(
                &[
                    "scenario",
                    "--name",
                    "tool_retry",
                    "--count",
                    "40",
                    "--interval",
                    "0",
                    "--seed",
                    "11",
                    "--batch-size",
                    "64",
                    "-q",
                    "--endpoint",
                    &endpoint,
                    "--protocol",
                    protocol,
                    "--compression",
                    compression,
                    "--header",
                    &format!("x-run={run}"),
                    "--header",
                    "Authorization=Bearer s3cret",
                ],
                &[],
            );
            assert!(out.status.success(), "{run}: {}", text(&out));
            let t = &summary["export"]["traces"];
            if compression == "gzip" {
                assert!(
                    n(&t["bytes"]) * 3 < n(&t["bytes_uncompressed"]),
                    "{run}: {t}"
                );
            } else {
                assert_eq!(n(&t["bytes"]), n(&t["bytes_uncompressed"]), "{run}: {t}");
            }
            all_accepted(&summary);
            let mut per_signal = BTreeMap::new();
            for signal in ["traces", "metrics", "logs"] {
                let e = &summary["export"][signal];
                assert_eq!(n(&e["accepted"]), n(&e["generated"]), "{run} {signal}: {e}");
                per_signal.insert(signal, n(&e["accepted"]));
            }
            accepted.insert(run, per_signal);
        }
    }
    let received = judge.finish();
    received.assert_no_decode_errors();
    assert!(received.warnings.is_empty(), "{:#?}", received.warnings);

    // Spans arrive in request order; cut them into runs by the requests' x-run header.
    let mut offset = 0;
    let mut spans_of: BTreeMap<String, Vec<&common::Span>> = BTreeMap::new();
    let mut items_of: BTreeMap<(String, &str), u64> = BTreeMap::new();
    for request in &received.requests {
        let headers = &request["headers"];
        let run = headers["x-run"].as_str().expect("x-run header delivered");
        let (protocol, compression) = run.split_once('+').unwrap();
        assert_eq!(headers["authorization"], "Bearer s3cret", "{run}");
        let want_type = match protocol {
            "http/protobuf" => "application/x-protobuf",
            "http/json" => "application/json",
            _ => "application/grpc",
        };
        assert_eq!(request["content_type"], want_type, "{run}");
        let path = request["path"].as_str().unwrap();
        let signal = if protocol == "grpc" {
            // grpcio keeps grpc-encoding to itself; that a gzip'd message decoded at all (the
            // compressed flag is set, see the byte counts above) shows it was declared right.
            match path {
                "/opentelemetry.proto.collector.trace.v1.TraceService/Export" => "traces",
                "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export" => "metrics",
                "/opentelemetry.proto.collector.logs.v1.LogsService/Export" => "logs",
                other => panic!("{run}: unexpected method {other}"),
            }
        } else {
            let want_encoding = (compression == "gzip").then_some("gzip");
            assert_eq!(request["content_encoding"].as_str(), want_encoding, "{run}");
            path.strip_prefix("/v1/").expect("an OTLP/HTTP path")
        };
        let items = n(&request["items"]);
        *items_of.entry((run.to_string(), signal)).or_default() += items;
        if signal == "traces" {
            spans_of
                .entry(run.to_string())
                .or_default()
                .extend(&received.spans[offset..offset + items as usize]);
            offset += items as usize;
        }
    }
    assert_eq!(offset, received.spans.len());
    assert_eq!(spans_of.len(), 6, "{:?}", spans_of.keys());
    let reference = span_lines(&spans_of["http/protobuf+none"]);
    for (run, spans) in &spans_of {
        // One seed, so the same telemetry whatever the encoding: JSON and gRPC carry exactly
        // what protobuf does.
        assert_eq!(span_lines(spans), reference, "{run}");
    }
    // Every signal's accounting equals what the judge decoded, run by run.
    for (run, accepted) in &accepted {
        for signal in ["traces", "metrics", "logs"] {
            let got = items_of.get(&(run.clone(), signal)).copied().unwrap_or(0);
            assert_eq!(got, accepted[signal], "{run} {signal}: judge vs summary");
            assert!(got > 0, "{run}: no {signal}");
        }
    }
    assert_eq!(
        received
            .metrics
            .iter()
            .map(|m| m["points"].as_array().unwrap().len() as u64)
            .sum::<u64>(),
        items_of
            .iter()
            .filter(|((_, s), _)| *s == "metrics")
            .map(|(_, n)| n)
            .sum::<u64>()
    );
}

#[test]
fn metrics_and_logs_travel_every_protocol() {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::metrics::v1::{
        Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
        metric::Data, number_data_point,
    };
    use std::time::Duration;
    use telemetry_simulator::cli::config::{ExportFlags, output};
    use telemetry_simulator::encode::payload::OtlpRequest;
    use telemetry_simulator::export::exporter::{Exporter, RetryPolicy};
    use telemetry_simulator::export::pipeline::Pipeline;
    use telemetry_simulator::export::transport::Transports;
    use telemetry_simulator::interrupt::Interrupt;

    let metrics = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    Metric {
                        name: "gen_ai.client.operation.duration".into(),
                        unit: "s".into(),
                        data: Some(Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                count: 3,
                                sum: Some(1.5),
                                bucket_counts: vec![1, 2],
                                explicit_bounds: vec![0.5],
                                ..Default::default()
                            }],
                            aggregation_temporality: 2,
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "tool.calls".into(),
                        data: Some(Data::Sum(Sum {
                            data_points: vec![NumberDataPoint {
                                value: Some(number_data_point::Value::AsInt(7)),
                                ..Default::default()
                            }],
                            aggregation_temporality: 2,
                            is_monotonic: true,
                        })),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let logs = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![
                    LogRecord {
                        severity_number: 17,
                        event_name: "exception".into(),
                        trace_id: vec![7; 16],
                        span_id: vec![8; 8],
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue("boom".into())),
                        }),
                        ..Default::default()
                    };
                    3
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };

    let judge = Judge::start_with_grpc();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for protocol in PROTOCOLS {
        for compression in ["none", "gzip"] {
            let endpoint = if protocol == "grpc" {
                judge.grpc_endpoint()
            } else {
                judge.endpoint()
            };
            let flags = ExportFlags {
                endpoint: Some(&endpoint),
                protocol: Some(protocol),
                compression: Some(compression),
                ..Default::default()
            };
            let out = output(&flags, &|_| None).unwrap();
            let transports = {
                let _inside = runtime.enter();
                Transports::open(&out).unwrap()
            };
            let policy = RetryPolicy {
                max_elapsed: Duration::from_secs(10),
                ..RetryPolicy::default()
            };
            let pipeline = Pipeline::start(
                Exporter::new(transports, policy),
                2,
                4,
                runtime.handle(),
                Interrupt::manual(),
            );
            pipeline.send(OtlpRequest::Metrics(metrics.clone()), None, 2);
            pipeline.send(OtlpRequest::Logs(logs.clone()), None, 3);
            let summary = pipeline.finish();
            assert!(summary.lossless(), "{protocol}+{compression}: {summary:#?}");
            assert_eq!(summary.metrics.accepted, 2);
            assert_eq!(summary.logs.accepted, 3);
        }
    }
    let received: Received = judge.finish();
    received.assert_no_decode_errors();
    assert!(received.warnings.is_empty(), "{:#?}", received.warnings);
    let points: usize = received
        .metrics
        .iter()
        .map(|m| m["points"].as_array().unwrap().len())
        .sum();
    assert_eq!(points, 6 * 2);
    assert_eq!(received.logs.len(), 6 * 3);
    for log in &received.logs {
        assert_eq!(log["trace_id"], "07".repeat(16));
        assert_eq!(log["body"], "boom");
        assert_eq!(log["event_name"], "exception");
    }
    for metric in &received.metrics {
        if metric["type"] == "histogram" {
            let point = &metric["points"][0];
            assert_eq!(
                (point["count"].clone(), point["sum"].clone()),
                (3.into(), 1.5.into())
            );
            // Unset min/max stay unset, whatever the encoding.
            assert_eq!(
                (point["min"].clone(), point["max"].clone()),
                (Value::Null, Value::Null)
            );
        } else {
            assert_eq!(metric["points"][0]["value"], 7);
        }
    }
}

#[test]
fn the_official_sdk_exporter_feeds_our_sink_over_http_and_grpc() {
    let sink = Sink::start(&[]);
    let mut sent = 0;
    for (endpoint, protocol) in [
        (sink.endpoint(), "http/protobuf"),
        (sink.grpc_endpoint(), "grpc"),
    ] {
        for compression in ["none", "gzip"] {
            let result = sdk_send(
                &endpoint,
                30,
                4,
                &["--protocol", protocol, "--compression", compression],
            );
            sent += n(&result["spans"]);
        }
    }
    let (summary, _) = sink.finish();
    assert_eq!(n(&summary["traces"]["spans"]), sent);
    assert_eq!(n(&summary["traces"]["traces"]), 4 * 30);
    assert_eq!(n(&summary["problem_count"]), 0, "{summary:#}");
}

#[test]
fn the_otel_environment_variables_choose_protocol_endpoint_and_headers() {
    let judge = Judge::start_with_grpc();
    let grpc = judge.grpc_endpoint();
    let (out, summary) = simulate(
        &[
            "scenario",
            "--name",
            "successful_agent_turn",
            "--count",
            "10",
            "--interval",
            "0",
            "-q",
            "--no-metrics",
            "--no-logs",
        ],
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &grpc),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=k%201,x-other=o"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_RESOURCE_ATTRIBUTES", "team=gen%20ai,region=eu"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let accepted = all_accepted(&summary);
    // A flag beats its variable: --protocol and --endpoint override the environment.
    let (out, summary2) = simulate(
        &[
            "scenario",
            "--name",
            "successful_agent_turn",
            "--count",
            "10",
            "--interval",
            "0",
            "-q",
            "--no-metrics",
            "--no-logs",
            "--protocol",
            "http/json",
            "--endpoint",
            &judge.endpoint(),
            "--header",
            "x-other=flag",
        ],
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:1"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=k%201,x-other=o"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let accepted2 = all_accepted(&summary2);
    let received = judge.finish();
    received.assert_no_decode_errors();
    let [first, second] = &received.requests[..] else {
        panic!("want 2 requests, got {:#?}", received.requests);
    };
    assert_eq!(first["content_type"], "application/grpc");
    let t = &summary["export"]["traces"];
    assert!(n(&t["bytes"]) < n(&t["bytes_uncompressed"]), "gzip'd: {t}");
    assert_eq!(first["headers"]["x-api-key"], "k 1");
    assert_eq!(n(&first["items"]), accepted);
    assert_eq!(second["content_type"], "application/json");
    assert_eq!(second["headers"]["x-api-key"], "k 1");
    assert_eq!(second["headers"]["x-other"], "flag");
    assert_eq!(n(&second["items"]), accepted2);
    let root = received.spans.iter().find(|s| s.is_root()).unwrap();
    assert_eq!(root.resource_str("team"), Some("gen ai"));
    assert_eq!(root.resource_str("region"), Some("eu"));
}

#[test]
fn requests_are_cut_by_size_and_count_keeping_traces_whole() {
    let judge = Judge::start();
    let (out, summary) = simulate(
        &[
            "run",
            "--count",
            "120",
            "--interval",
            "0",
            "--seed",
            "5",
            "-q",
            "--no-metrics",
            "--no-logs",
            "--batch-size",
            "20",
            "--endpoint",
            &judge.endpoint(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let accepted = all_accepted(&summary);
    let received = judge.finish();
    assert_eq!(received.spans.len() as u64, accepted);
    fn instance(s: &Span) -> &str {
        s.resource_str("service.instance.id").unwrap_or_default()
    }
    // Which request each trace's spans of one service instance arrived in (a trace that
    // crosses services arrives in a request per service instance, as from separate processes).
    let mut offset = 0;
    let mut requests_of: BTreeMap<(&str, &str), BTreeSet<usize>> = BTreeMap::new();
    for (i, request) in received.requests.iter().enumerate() {
        let items = n(&request["items"]) as usize;
        for span in &received.spans[offset..offset + items] {
            let key = (span.trace_id.as_str(), instance(span));
            requests_of.entry(key).or_default().insert(i);
        }
        offset += items;
    }
    let sizes: Vec<usize> = received
        .requests
        .iter()
        .map(|r| n(&r["items"]) as usize)
        .collect();
    for (trace, spans) in received.traces() {
        let mut by_instance: BTreeMap<&str, usize> = BTreeMap::new();
        for span in &spans {
            *by_instance.entry(instance(span)).or_default() += 1;
        }
        for (service, count) in by_instance {
            if count <= 20 {
                assert_eq!(
                    requests_of[&(trace.as_str(), service)].len(),
                    1,
                    "trace {trace} was split in {service}"
                );
            }
        }
    }
    assert!(sizes.iter().all(|&s| s <= 20), "{sizes:?}");
    assert_eq!(
        n(&summary["export"]["traces"]["requests"]),
        sizes.len() as u64
    );

    // By size: requests stay under --batch-bytes (with a whole trace as the only exception).
    let judge = Judge::start();
    let (out, summary) = simulate(
        &[
            "run",
            "--count",
            "120",
            "--interval",
            "0",
            "--seed",
            "5",
            "-q",
            "--no-metrics",
            "--no-logs",
            "--batch-bytes",
            "8192",
            "--endpoint",
            &judge.endpoint(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    all_accepted(&summary);
    let received = judge.finish();
    assert!(received.requests.len() > 10, "{}", received.requests.len());
    for request in &received.requests {
        assert!(n(&request["bytes"]) <= 8192, "{request}");
    }
}

#[test]
fn file_and_null_outputs_are_accounted_like_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.jsonl");
    let (out, summary) = simulate(
        &[
            "scenario",
            "--name",
            "successful_agent_turn",
            "--count",
            "30",
            "--interval",
            "0",
            "--no-metrics",
            "--no-logs",
            "--batch-size",
            "50",
            "--output",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let accepted = all_accepted(&summary);
    let lines: Vec<Value> = read(&file)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON request"))
        .collect();
    assert_eq!(
        lines.len() as u64,
        n(&summary["export"]["traces"]["requests"])
    );
    let spans: usize = lines
        .iter()
        .flat_map(|l| l["resourceSpans"].as_array().unwrap())
        .flat_map(|rs| rs["scopeSpans"].as_array().unwrap())
        .map(|ss| ss["spans"].as_array().unwrap().len())
        .sum();
    assert_eq!(spans as u64, accepted);
    let span = &lines[0]["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    assert_eq!(span["traceId"].as_str().unwrap().len(), 32);
    assert!(span["startTimeUnixNano"].is_string());

    // To stdout: the data on stdout, the summary on stderr.
    let (out, summary) = simulate(
        &[
            "scenario",
            "--name",
            "successful_agent_turn",
            "--count",
            "3",
            "--interval",
            "0",
            "--no-metrics",
            "--no-logs",
            "--output",
            "-",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.lines().all(|l| l.starts_with("{\"resourceSpans\"")),
        "{stdout}"
    );
    assert_eq!(all_accepted(&summary), 21);
    assert!(String::from_utf8_lossy(&out.stderr).contains("21 accepted"));

    let (out, summary) = simulate(
        &[
            "scenario",
            "--name",
            "successful_agent_turn",
            "--count",
            "50",
            "--interval",
            "0",
            "--no-metrics",
            "--no-logs",
            "--output",
            "null",
            "--compression",
            "gzip",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(all_accepted(&summary), 350);
    let t = &summary["export"]["traces"];
    assert!(n(&t["bytes"]) < n(&t["bytes_uncompressed"]), "{t}");
}

#[test]
fn the_sink_dumps_every_request_as_a_line_of_otlp_json() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump.jsonl");
    let sink = Sink::start(&["--dump", dump.to_str().unwrap()]);
    let mut accepted = 0;
    for (endpoint, protocol) in [
        (sink.endpoint(), "http/json"),
        (sink.grpc_endpoint(), "grpc"),
    ] {
        let (out, summary) = simulate(
            &[
                "scenario",
                "--name",
                "tool_retry",
                "--count",
                "20",
                "--interval",
                "0",
                "-q",
                "--batch-size",
                "30",
                "--no-metrics",
                "--no-logs",
                "--endpoint",
                &endpoint,
                "--protocol",
                protocol,
            ],
            &[],
        );
        assert!(out.status.success(), "{}", text(&out));
        accepted += all_accepted(&summary);
    }
    let (received, _) = sink.finish();
    assert_eq!(n(&received["traces"]["spans"]), accepted);
    let lines: Vec<Value> = read(&dump)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON request per line"))
        .collect();
    assert_eq!(lines.len() as u64, n(&received["traces"]["requests"]));
    let spans: usize = lines
        .iter()
        .flat_map(|l| l["resourceSpans"].as_array().unwrap())
        .flat_map(|rs| rs["scopeSpans"].as_array().unwrap())
        .map(|ss| ss["spans"].as_array().unwrap().len())
        .sum();
    assert_eq!(spans as u64, accepted);
}

#[test]
fn a_grpc_endpoint_without_a_scheme_uses_tls_unless_insecure() {
    let sink = Sink::start(&[]);
    let bare = format!("127.0.0.1:{}", sink.grpc_port);
    let args = |extra: &[&'static str]| {
        let mut args = vec![
            "scenario",
            "--name",
            "successful_agent_turn",
            "--count",
            "3",
            "--interval",
            "0",
            "--protocol",
            "grpc",
            "--retry-max-elapsed",
            "2s",
        ];
        args.extend(extra);
        args
    };
    let mut with_endpoint = args(&["--insecure"]);
    with_endpoint.extend(["--endpoint", &bare]);
    let (out, summary) = simulate(&with_endpoint, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(all_accepted(&summary), 21);
    // The same through the environment; without --insecure a TLS handshake with a plaintext
    // server fails, and the run says so.
    let (out, _) = simulate(
        &args(&[]),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &bare),
            ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let (out, summary) = simulate(&args(&[]), &[("OTEL_EXPORTER_OTLP_ENDPOINT", &bare)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(n(&summary["export"]["traces"]["rejected"]), 21);
    assert!(
        text(&out).contains("use http:// or --insecure"),
        "{}",
        text(&out)
    );
    let (received, _) = sink.finish();
    assert_eq!(n(&received["traces"]["spans"]), 42);
}

#[test]
fn partial_successes_are_counted_as_rejections_with_the_servers_message() {
    let judge = Judge::start_with(&["--partial-reject", "3"]);
    for protocol in PROTOCOLS {
        let endpoint = if protocol == "grpc" {
            judge.grpc_endpoint()
        } else {
            judge.endpoint()
        };
        let (out, summary) = simulate(
            &[
                "scenario",
                "--name",
                "successful_agent_turn",
                "--count",
                "20",
                "--interval",
                "0",
                "-q",
                "--batch-size",
                "35",
                "--no-metrics",
                "--no-logs",
                "--endpoint",
                &endpoint,
                "--protocol",
                protocol,
            ],
            &[],
        );
        assert_eq!(out.status.code(), Some(1), "{protocol}: {}", text(&out));
        let t = &summary["export"]["traces"];
        // 140 spans in 4 requests of 35, each with 3 rejected.
        assert_eq!(n(&t["requests"]), 4, "{protocol}: {t}");
        assert_eq!(
            (n(&t["accepted"]), n(&t["rejected"])),
            (128, 12),
            "{protocol}: {t}"
        );
        let reason = t["reasons"][0][0].as_str().unwrap();
        assert!(
            reason.contains("partial success: judge rejected 3"),
            "{protocol}: {reason}"
        );
    }
    let received = judge.finish();
    let rejected: u64 = received.requests.iter().map(|r| n(&r["rejected"])).sum();
    assert_eq!(rejected, 3 * 12);
}

#[test]
fn the_output_file_is_otlp_json_the_official_bindings_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("all.jsonl");
    let (out, summary) = simulate(
        &[
            "run",
            "--count",
            "60",
            "--interval",
            "0",
            "--seed",
            "3",
            "-q",
            "--output",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let received = judge_decode_jsonl(&file);
    received.assert_no_decode_errors();
    assert!(received.warnings.is_empty(), "{:#?}", received.warnings);
    for (signal, path) in [
        ("traces", "/v1/traces"),
        ("metrics", "/v1/metrics"),
        ("logs", "/v1/logs"),
    ] {
        let e = &summary["export"][signal];
        assert_eq!(n(&e["accepted"]), n(&e["generated"]), "{signal}: {e}");
        let requests = received.requests_to(path);
        assert_eq!(requests.len() as u64, n(&e["requests"]), "{signal}");
        let items: u64 = requests.iter().map(|r| n(&r["items"])).sum();
        assert!(items > 0, "no {signal}");
        assert_eq!(
            items,
            n(&e["accepted"]),
            "{signal}: the file vs the summary"
        );
    }
    assert_eq!(received.spans.len() as u64, n(&summary["spans"]));
}

#[test]
fn a_counting_sink_counts_every_item_of_every_signal_without_decoding() {
    let sink = Sink::start(&["--count-only"]);
    let mut generated = [0u64; 3];
    for compression in ["none", "gzip"] {
        let (out, summary) = simulate(
            &[
                "scenario",
                "--name",
                "tool_retry",
                "--count",
                "150",
                "--interval",
                "0",
                "-q",
                "--compression",
                compression,
                "--endpoint",
                &sink.endpoint(),
            ],
            &[("TELEMETRY_TENANT_UUIDS", "a,b")],
        );
        assert!(out.status.success(), "{}", text(&out));
        all_accepted(&summary);
        for (i, signal) in ["traces", "metrics", "logs"].iter().enumerate() {
            generated[i] += n(&summary["export"][signal]["accepted"]);
        }
    }
    let (received, _) = sink.finish();
    assert!(generated.iter().all(|g| *g > 0), "{generated:?}");
    assert_eq!(
        n(&received["traces"]["spans"]),
        generated[0],
        "{received:#}"
    );
    assert_eq!(
        n(&received["metrics"]["items"]),
        generated[1],
        "{received:#}"
    );
    assert_eq!(n(&received["logs"]["items"]), generated[2], "{received:#}");
}

/// 2026-01-01T00:00:00Z in Unix nanoseconds: the start the pinned-start tests give.
const PINNED_NS: u64 = 1_767_225_600_000_000_000;

/// Runs the simulator with `args` plus `--start-time 2026-01-01T00:00:00Z --output FILE`, for
/// two tenants; every item must be accepted. Returns the file's bytes.
fn pinned_output(args: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.jsonl");
    let file_arg = file.to_str().unwrap();
    let pinned = [
        "-q",
        "--start-time",
        "2026-01-01T00:00:00Z",
        "--output",
        file_arg,
    ];
    let (out, summary) = simulate(
        &[args, &pinned].concat(),
        &[("TELEMETRY_TENANT_UUIDS", "t-a,t-b")],
    );
    assert!(out.status.success(), "{}", text(&out));
    all_accepted(&summary);
    for signal in ["metrics", "logs"] {
        let e = &summary["export"][signal];
        assert_eq!(n(&e["accepted"]), n(&e["generated"]), "{summary:#}");
    }
    std::fs::read(&file).unwrap()
}

/// Every number of `field` (e.g. `endTimeUnixNano`) in the requests of `signal`
/// (`resourceSpans`, `resourceLogs`) of an output file.
fn stamps(file: &[u8], signal: &str, field: &str) -> Vec<u64> {
    let text = String::from_utf8_lossy(file);
    let needle = format!("\"{field}\":\"");
    text.lines()
        .filter(|l| l.starts_with(&format!("{{\"{signal}\"")))
        .flat_map(|l| l.split(&needle).skip(1))
        .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
        .collect()
}

/// Every metric data point of an output file, with its metric's name and its resource.
fn metric_points(file: &[u8]) -> Vec<(String, Value, Value)> {
    let mut points = Vec::new();
    for line in String::from_utf8_lossy(file).lines() {
        let request: Value = serde_json::from_str(line).unwrap();
        for resource in request["resourceMetrics"].as_array().into_iter().flatten() {
            for scope in resource["scopeMetrics"].as_array().unwrap() {
                for metric in scope["metrics"].as_array().unwrap() {
                    let data = ["sum", "histogram", "gauge"]
                        .iter()
                        .find_map(|k| metric[k]["dataPoints"].as_array())
                        .unwrap();
                    for point in data {
                        points.push((
                            metric["name"].to_string(),
                            resource["resource"].clone(),
                            point.clone(),
                        ));
                    }
                }
            }
        }
    }
    points
}

/// A metric point's start and time.
fn point_times(file: &[u8]) -> Vec<(u64, u64)> {
    let ns = |v: &Value| v.as_str().unwrap().parse::<u64>().unwrap();
    metric_points(file)
        .iter()
        .map(|(_, _, p)| (ns(&p["startTimeUnixNano"]), ns(&p["timeUnixNano"])))
        .collect()
}

#[test]
fn a_pinned_start_and_seed_give_a_byte_identical_file_with_stamps_from_the_start() {
    // A live paced run (0.2 s) with metric exports on the schedule, logs and exception events.
    let args = [
        "scenario",
        "--name",
        "tool_retry",
        "--count",
        "200",
        "--rate",
        "1000",
        "--metrics-interval",
        "30ms",
        "--exception-span-events",
        "--seed",
        "11",
    ];
    let first = pinned_output(&args);
    let second = pinned_output(&args);
    assert!(first == second, "two runs of one seed and start differ");
    let times = point_times(&first);
    let exports: BTreeSet<u64> = times.iter().map(|(_, t)| *t).collect();
    assert!(exports.len() >= 4, "exports at {exports:?}");
    // Exports on the 30 ms interval counted from the start, then one at the last trace's end.
    for (k, at) in exports.iter().take(3).enumerate() {
        assert_eq!(*at, PINNED_NS + (k as u64 + 1) * 30_000_000, "{exports:?}");
    }
    assert!(*exports.last().unwrap() < PINNED_NS + 200_000_000);
    assert!(times.iter().all(|(start, _)| *start == PINNED_NS));
    let ends = stamps(&first, "resourceSpans", "endTimeUnixNano");
    assert!(ends.len() > 600, "{} spans", ends.len());
    assert!(
        ends.iter()
            .all(|e| (PINNED_NS - 600_000_000_000..PINNED_NS + 1_000_000_000).contains(e))
    );
    let logs = stamps(&first, "resourceLogs", "observedTimeUnixNano");
    assert!(!logs.is_empty());
    assert!(
        logs.iter()
            .all(|t| (PINNED_NS - 600_000_000_000..PINNED_NS + 1_000_000_000).contains(t))
    );
}

#[test]
fn a_pinned_backfill_window_starts_at_the_start_time() {
    let args = ["run", "--count", "300", "--backfill", "1h", "--seed", "12"];
    let first = pinned_output(&args);
    assert!(
        first == pinned_output(&args),
        "two backfills of one seed and start differ"
    );
    let hour = 3_600_000_000_000;
    let ends = stamps(&first, "resourceSpans", "endTimeUnixNano");
    assert!(ends.len() > 1000, "{} spans", ends.len());
    assert!(
        ends.iter()
            .all(|e| (PINNED_NS..=PINNED_NS + hour).contains(e))
    );
    // Spread over the window, not bunched at one end.
    assert!(ends.iter().any(|e| *e < PINNED_NS + hour / 4));
    assert!(ends.iter().any(|e| *e > PINNED_NS + 3 * hour / 4));
    // The history's metrics cover the window: one export, at its end.
    let times = point_times(&first);
    assert!(!times.is_empty());
    assert!(
        times.iter().all(|t| *t == (PINNED_NS, PINNED_NS + hour)),
        "{times:?}"
    );
}

/// Every span and log record of an output file as (resource, scope, item) JSON, sorted; and
/// every metric point's (name, resource, attributes, times, count, integer value), sorted. Float
/// sums and exemplars are left out: they depend on the order the workers recorded in.
fn canonical(file: &[u8]) -> (Vec<String>, Vec<String>) {
    let mut items = Vec::new();
    for line in String::from_utf8_lossy(file).lines() {
        let request: Value = serde_json::from_str(line).unwrap();
        for (key, scopes, list) in [
            ("resourceSpans", "scopeSpans", "spans"),
            ("resourceLogs", "scopeLogs", "logRecords"),
        ] {
            for resource in request[key].as_array().into_iter().flatten() {
                for scope in resource[scopes].as_array().unwrap() {
                    for item in scope[list].as_array().unwrap() {
                        let (r, s) = (&resource["resource"], &scope["scope"]);
                        items.push(format!("{r} {s} {item}"));
                    }
                }
            }
        }
    }
    let mut points: Vec<String> = metric_points(file)
        .iter()
        .map(|(name, resource, p)| {
            format!(
                "{name} {resource} {} {} {} {} {}",
                p["attributes"], p["startTimeUnixNano"], p["timeUnixNano"], p["count"], p["asInt"]
            )
        })
        .collect();
    items.sort();
    points.sort();
    (items, points)
}

#[test]
fn a_pinned_run_makes_the_same_telemetry_on_one_worker_or_four() {
    let args = |workers| {
        [
            "run",
            "--count",
            "300",
            "--backfill",
            "1h",
            "--seed",
            "13",
            "--workers",
            workers,
        ]
    };
    let (items, points) = canonical(&pinned_output(&args("1")));
    let (items4, points4) = canonical(&pinned_output(&args("4")));
    assert!(items.len() > 1000 && points.len() > 10);
    assert!(items.iter().any(|i| i.contains("\"severityNumber\"")));
    // Exactly, timestamps included: a pinned run's stamps do not depend on the clock.
    if let Some((a, b)) = items.iter().zip(&items4).find(|(a, b)| a != b) {
        panic!("1 and 4 workers differ:\n  {a}\n  {b}");
    }
    assert_eq!(items.len(), items4.len());
    assert_eq!(points, points4);
}

#[test]
fn a_start_time_that_is_not_an_instant_is_refused_with_the_forms_accepted() {
    for bad in ["yesterday", "2026-01-01", "2026-02-30T00:00:00Z"] {
        let out = bin()
            .args(["scenario", "--name", "tool_retry", "--start-time", bad])
            .args(["--output", "null"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("RFC 3339") && stderr.contains(bad),
            "{stderr}"
        );
    }
}
