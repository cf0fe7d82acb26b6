//! End-to-end tests of the sink: a real server on 127.0.0.1:0, requests built from
//! opentelemetry-proto structs and POSTed with reqwest, then checks on what the sink
//! counted (not merely on what a function returned).

use std::io::Write as _;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
    metric::Data,
};
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span::SpanKind, status::StatusCode,
};
use prost::Message as _;

use super::*;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

async fn start() -> SinkHandle {
    start_with(SinkOptions::local(), WindowLimits::default()).await
}

async fn start_with(opts: SinkOptions, window: WindowLimits) -> SinkHandle {
    SinkHandle::start_with(opts, window)
        .await
        .expect("sink starts on an ephemeral port")
}

/// A sink with `limits` changed by `f`.
async fn start_limited(f: impl FnOnce(&mut SinkLimits)) -> SinkHandle {
    let mut opts = SinkOptions::local();
    f(&mut opts.limits);
    start_with(opts, WindowLimits::default()).await
}

fn client() -> reqwest::Client {
    crate::export::tls::install_crypto_provider();
    reqwest::Client::new()
}

struct Reply {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

async fn post(
    sink: &SinkHandle,
    path: &str,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    post_with(&client(), sink, path, content_type, encoding, body).await
}

async fn post_with(
    client: &reqwest::Client,
    sink: &SinkHandle,
    path: &str,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let mut req = client
        .post(format!("http://{}{path}", sink.local_addr()))
        .header("content-type", content_type)
        .body(body);
    if let Some(e) = encoding {
        req = req.header("content-encoding", e);
    }
    let resp = req.send().await.expect("request reaches the sink");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = resp.bytes().await.expect("response body").to_vec();
    Reply {
        status,
        content_type,
        body,
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).expect("gzip in memory");
    enc.finish().expect("gzip in memory")
}

fn trace_id(n: u8) -> Vec<u8> {
    let mut id = vec![0xab; 16];
    id[15] = n;
    id
}

fn span_id(n: u8) -> Vec<u8> {
    vec![0, 0, 0, 0, 0, 0, 1, n]
}

#[allow(clippy::too_many_arguments)]
fn span(
    trace: u8,
    id: u8,
    parent: Option<u8>,
    name: &str,
    kind: SpanKind,
    start_ms: u64,
    end_ms: u64,
    status: Option<(StatusCode, &str)>,
) -> Span {
    const T0: u64 = 1_760_000_000_000_000_000;
    Span {
        trace_id: trace_id(trace),
        span_id: span_id(id),
        parent_span_id: parent.map(span_id).unwrap_or_default(),
        name: name.to_owned(),
        kind: kind as i32,
        start_time_unix_nano: T0 + start_ms * 1_000_000,
        end_time_unix_nano: T0 + end_ms * 1_000_000,
        status: status.map(|(code, message)| Status {
            code: code as i32,
            message: message.to_owned(),
        }),
        ..Default::default()
    }
}

fn traces(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// An agent trace: root, an LLM call with an HTTP child, a failing tool call. The spans
/// are listed out of start order on purpose.
fn agent_trace(trace: u8) -> Vec<Span> {
    use SpanKind::*;
    vec![
        span(
            trace,
            4,
            Some(1),
            "execute_tool search",
            Internal,
            60,
            90,
            Some((StatusCode::Error, "timeout")),
        ),
        span(trace, 3, Some(2), "POST /v1/chat", Client, 12, 48, None),
        span(trace, 2, Some(1), "chat gpt-4o", Client, 10, 50, None),
        span(
            trace,
            1,
            None,
            "invoke_agent planner",
            Server,
            0,
            100,
            Some((StatusCode::Ok, "")),
        ),
    ]
}

/// Two agent traces (8 spans, 2 errors) in one request.
fn two_traces() -> ExportTraceServiceRequest {
    let mut spans = agent_trace(1);
    spans.extend(agent_trace(2));
    traces(spans)
}

#[tokio::test]
async fn protobuf_traces_are_counted_and_answered_in_protobuf() {
    let sink = start().await;
    let body = two_traces().encode_to_vec();
    let len = body.len() as u64;
    let reply = post(&sink, "/v1/traces", PROTOBUF, None, body).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type, PROTOBUF);
    ExportTraceServiceResponse::decode(&reply.body[..]).expect("protobuf response");

    let s = sink.shutdown().await;
    assert_eq!(
        s.traces,
        TraceStats {
            requests: 1,
            rejected: 0,
            refused: 0,
            bytes: len,
            bytes_decoded: len,
            spans: 8,
            traces: 2,
            errors: 2,
        }
    );
    assert_eq!(s.problem_count, 0, "{:#?}", s.problems);
}

#[tokio::test]
async fn json_traces_are_counted_and_answered_in_json() {
    let sink = start().await;
    let body = serde_json::to_vec(&two_traces()).expect("OTLP/JSON");
    let text = String::from_utf8_lossy(&body).into_owned();
    let hex_id = format!("\"traceId\":\"{}01\"", "ab".repeat(15));
    assert!(text.contains(&hex_id), "ids are hex in OTLP/JSON: {text}");
    let reply = post(
        &sink,
        "/v1/traces",
        "application/json; charset=utf-8",
        None,
        body,
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type, JSON);
    let _: serde_json::Value = serde_json::from_slice(&reply.body).expect("JSON response");

    let s = sink.shutdown().await;
    assert_eq!(s.traces.requests, 1);
    assert_eq!(s.traces.spans, 8);
    assert_eq!(s.traces.traces, 2);
    assert_eq!(s.traces.errors, 2);
    assert_eq!(s.problem_count, 0, "{:#?}", s.problems);
}

#[tokio::test]
async fn gzip_bodies_are_decompressed_and_both_sizes_counted() {
    let sink = start().await;
    let raw = two_traces().encode_to_vec();
    let zipped = gzip(&raw);
    let reply = post(&sink, "/v1/traces", PROTOBUF, Some("gzip"), zipped.clone()).await;
    assert_eq!(reply.status, 200);
    let json = serde_json::to_vec(&traces(agent_trace(3))).expect("OTLP/JSON");
    let json_zipped = gzip(&json);
    let reply = post(&sink, "/v1/traces", JSON, Some("gzip"), json_zipped.clone()).await;
    assert_eq!(reply.status, 200);

    let s = sink.snapshot();
    assert_eq!(s.traces.requests, 2);
    assert_eq!(s.traces.spans, 12);
    assert_eq!(s.traces.traces, 3);
    assert_eq!(s.traces.bytes, (zipped.len() + json_zipped.len()) as u64);
    assert_eq!(s.traces.bytes_decoded, (raw.len() + json.len()) as u64);
}

#[tokio::test]
async fn http2_prior_knowledge_works_too() {
    let sink = start().await;
    crate::export::tls::install_crypto_provider();
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("h2c client");
    for _ in 0..3 {
        let reply = post_with(
            &h2,
            &sink,
            "/v1/traces",
            PROTOBUF,
            None,
            two_traces().encode_to_vec(),
        )
        .await;
        assert_eq!(reply.status, 200);
    }
    let s = sink.shutdown().await;
    assert_eq!(s.traces.requests, 3);
    assert_eq!(s.traces.spans, 24);
    assert_eq!(
        s.traces.traces, 2,
        "the same two trace ids, sent three times"
    );
    // Resending the same spans is exactly what the duplicate check is for.
    assert_eq!(s.problem_count, 8, "{:#?}", s.problems);
    assert!(
        s.problems
            .iter()
            .all(|p| p.starts_with("duplicate span id"))
    );
}

fn number_points(n: usize) -> Vec<NumberDataPoint> {
    vec![NumberDataPoint::default(); n]
}

fn metric(name: &str, data: Data) -> Metric {
    Metric {
        name: name.to_owned(),
        data: Some(data),
        ..Default::default()
    }
}

#[tokio::test]
async fn metric_points_of_every_kind_are_counted() {
    let sink = start().await;
    let request = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    metric(
                        "g",
                        Data::Gauge(Gauge {
                            data_points: number_points(1),
                        }),
                    ),
                    metric(
                        "s",
                        Data::Sum(Sum {
                            data_points: number_points(2),
                            ..Default::default()
                        }),
                    ),
                    metric(
                        "h",
                        Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint::default(); 3],
                            ..Default::default()
                        }),
                    ),
                    metric(
                        "e",
                        Data::ExponentialHistogram(ExponentialHistogram {
                            data_points: vec![ExponentialHistogramDataPoint::default(); 4],
                            ..Default::default()
                        }),
                    ),
                    metric(
                        "q",
                        Data::Summary(Summary {
                            data_points: vec![SummaryDataPoint::default(); 5],
                        }),
                    ),
                    Metric::default(),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let reply = post(
        &sink,
        "/v1/metrics",
        PROTOBUF,
        None,
        request.encode_to_vec(),
    )
    .await;
    assert_eq!(reply.status, 200);
    let json = serde_json::to_vec(&request).expect("OTLP/JSON");
    let reply = post(&sink, "/v1/metrics", JSON, Some("gzip"), gzip(&json)).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );

    let s = sink.shutdown().await;
    assert_eq!(s.metrics.requests, 2);
    assert_eq!(s.metrics.items, 30);
    assert_eq!(s.traces, TraceStats::default());
}

#[tokio::test]
async fn log_records_are_counted_and_bad_correlation_ids_reported() {
    let sink = start().await;
    let record = |trace: Vec<u8>, span: Vec<u8>| LogRecord {
        trace_id: trace,
        span_id: span,
        ..Default::default()
    };
    let request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![
                    record(vec![], vec![]),
                    record(trace_id(1), span_id(1)),
                    record(vec![1; 3], vec![]),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let reply = post(&sink, "/v1/logs", PROTOBUF, None, request.encode_to_vec()).await;
    assert_eq!(reply.status, 200);
    let json = serde_json::to_vec(&request).expect("OTLP/JSON");
    let reply = post(&sink, "/v1/logs", JSON, None, json).await;
    assert_eq!(reply.status, 200);

    let s = sink.shutdown().await;
    assert_eq!(s.logs.requests, 2);
    assert_eq!(s.logs.items, 6);
    assert_eq!(s.problem_count, 2, "{:#?}", s.problems);
    assert!(s.problems[0].contains("trace id 010101 has 3 bytes"));
}

#[tokio::test]
async fn bad_requests_get_the_right_status_and_are_counted_as_rejected() {
    let sink = start_limited(|l| l.max_body = 4096).await;

    // Malformed protobuf: 400 with a google.rpc.Status body.
    let reply = post(&sink, "/v1/traces", PROTOBUF, None, vec![0xff, 0xff, 0xff]).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.content_type, PROTOBUF);
    #[derive(Clone, PartialEq, prost::Message)]
    struct RpcStatus {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
    }
    let status = RpcStatus::decode(&reply.body[..]).expect("google.rpc.Status body");
    assert_eq!(status.code, 3);
    assert!(status.message.contains("protobuf"), "{}", status.message);

    // Malformed JSON: 400 with a JSON Status.
    let reply = post(
        &sink,
        "/v1/traces",
        JSON,
        None,
        b"{\"resourceSpans\":[".to_vec(),
    )
    .await;
    assert_eq!(reply.status, 400);
    let v: serde_json::Value = serde_json::from_slice(&reply.body).expect("JSON error body");
    assert_eq!(v["code"], 3);

    // Not gzip although it says so: 400.
    let reply = post(
        &sink,
        "/v1/metrics",
        PROTOBUF,
        Some("gzip"),
        b"nope".to_vec(),
    )
    .await;
    assert_eq!(reply.status, 400);

    // Unsupported content type and encoding: 415.
    let reply = post(&sink, "/v1/logs", "text/plain", None, b"hi".to_vec()).await;
    assert_eq!(reply.status, 415);
    let reply = post(&sink, "/v1/logs", PROTOBUF, Some("br"), vec![]).await;
    assert_eq!(reply.status, 415);

    // Too large on the wire, and a small gzip body that inflates past the limit: 413.
    let reply = post(&sink, "/v1/traces", PROTOBUF, None, vec![0; 5000]).await;
    assert_eq!(reply.status, 413);
    let bomb = gzip(&vec![0; 100_000]);
    assert!(bomb.len() < 4096);
    let reply = post(&sink, "/v1/traces", PROTOBUF, Some("gzip"), bomb).await;
    assert_eq!(reply.status, 413);

    // An empty protobuf body is a valid, empty request.
    let reply = post(&sink, "/v1/traces", PROTOBUF, None, vec![]).await;
    assert_eq!(reply.status, 200);

    let s = sink.shutdown().await;
    assert_eq!(s.traces.rejected, 4);
    assert_eq!(s.traces.refused, 2, "the two over the body limit");
    assert_eq!(s.traces.requests, 1);
    assert_eq!(s.traces.spans, 0);
    assert_eq!(s.metrics.rejected, 1);
    assert_eq!(s.logs.rejected, 2);
    assert_eq!(s.metrics.requests + s.logs.requests, 0);
}

#[tokio::test]
async fn unknown_paths_and_methods_are_refused() {
    let sink = start().await;
    let reply = post(&sink, "/v1/spans", PROTOBUF, None, vec![]).await;
    assert_eq!(reply.status, 404);
    let resp = client()
        .get(format!("http://{}/v1/traces", sink.local_addr()))
        .send()
        .await
        .expect("request reaches the sink");
    assert_eq!(resp.status().as_u16(), 405);
}

#[tokio::test]
async fn missing_parents_are_reported_at_shutdown_and_split_traces_are_fine() {
    let sink = start().await;
    use SpanKind::Internal;
    // Trace 1 arrives over two requests, children first: complete, no problem.
    let first = traces(vec![span(1, 2, Some(1), "child", Internal, 1, 2, None)]);
    let second = traces(vec![span(1, 1, None, "root", Internal, 0, 3, None)]);
    // Trace 2 references parent 9, which never comes.
    let orphan = traces(vec![
        span(2, 1, None, "root", Internal, 0, 3, None),
        span(2, 2, Some(9), "orphan", Internal, 1, 2, None),
    ]);
    for req in [first, second, orphan] {
        let reply = post(&sink, "/v1/traces", PROTOBUF, None, req.encode_to_vec()).await;
        assert_eq!(reply.status, 200);
    }
    assert_eq!(sink.snapshot().problem_count, 0, "traces are still open");

    let s = sink.shutdown().await;
    assert_eq!(s.problem_count, 1, "{:#?}", s.problems);
    assert!(
        s.problems[0].starts_with("missing parent: span 0000000000000109"),
        "{}",
        s.problems[0]
    );
    assert!(s.render().contains("problems: 1"), "{}", s.render());
}

#[tokio::test]
async fn evicted_traces_are_checked_when_they_leave_the_window() {
    let window = WindowLimits {
        max_traces: 2,
        max_ids: 1000,
    };
    let sink = start_with(SinkOptions::local(), window).await;
    use SpanKind::Internal;
    let orphan = traces(vec![span(9, 2, Some(9), "orphan", Internal, 1, 2, None)]);
    post(&sink, "/v1/traces", PROTOBUF, None, orphan.encode_to_vec()).await;
    post(
        &sink,
        "/v1/traces",
        PROTOBUF,
        None,
        two_traces().encode_to_vec(),
    )
    .await;
    // Trace 1 was pushed out by traces 2 and 3 and checked then, before any shutdown.
    let s = sink.snapshot();
    assert_eq!(s.traces.traces, 3);
    assert_eq!(s.problem_count, 1, "{:#?}", s.problems);
    let s = sink.shutdown().await;
    assert_eq!(s.problem_count, 1, "{:#?}", s.problems);
}

#[tokio::test]
async fn span_checks_count_bad_spans() {
    let sink = start().await;
    use SpanKind::Internal;
    let mut bad_ids = span(1, 1, None, "bad ids", Internal, 0, 1, None);
    bad_ids.trace_id = vec![0; 16];
    bad_ids.span_id = vec![1, 2, 3];
    let backwards = span(2, 1, None, "backwards", Internal, 5, 1, None);
    let nameless = span(3, 1, None, "", Internal, 0, 1, None);
    let reply = post(
        &sink,
        "/v1/traces",
        PROTOBUF,
        None,
        traces(vec![bad_ids, backwards, nameless]).encode_to_vec(),
    )
    .await;
    assert_eq!(reply.status, 200, "bad spans are counted, not refused");
    let s = sink.shutdown().await;
    assert_eq!(s.traces.spans, 3);
    assert_eq!(s.problem_count, 4, "{:#?}", s.problems);
}

#[tokio::test]
async fn the_last_trace_is_drawn_as_a_tree_in_start_order() {
    let sink = start().await;
    post(
        &sink,
        "/v1/traces",
        PROTOBUF,
        None,
        two_traces().encode_to_vec(),
    )
    .await;
    let s = sink.shutdown().await;
    let id = format!("{}02", "ab".repeat(15));
    assert_eq!(s.last_trace_id.as_deref(), Some(id.as_str()));
    assert_eq!(
        s.last_trace_tree,
        vec![
            "invoke_agent planner  SERVER  100.0ms  OK",
            "  chat gpt-4o  CLIENT  40.0ms  UNSET",
            "    POST /v1/chat  CLIENT  36.0ms  UNSET",
            "  execute_tool search  INTERNAL  30.0ms  ERROR: timeout",
        ]
    );
    let text = s.render();
    assert!(
        text.contains(&format!("last trace {id}:\n  invoke_agent planner")),
        "{text}"
    );
    assert!(text.contains("8 spans in 2 traces"), "{text}");
}

#[tokio::test]
async fn concurrent_clients_are_all_counted() {
    let sink = start().await;
    let addr = sink.local_addr();
    let body = bytes::Bytes::from(two_traces().encode_to_vec());
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let c = client();
            for _ in 0..25 {
                let resp = c
                    .post(format!("http://{addr}/v1/traces"))
                    .header("content-type", PROTOBUF)
                    .body(body.clone())
                    .send()
                    .await
                    .expect("request reaches the sink");
                assert_eq!(resp.status().as_u16(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.expect("client task");
    }
    let s = sink.shutdown().await;
    assert_eq!(s.traces.requests, 200);
    assert_eq!(s.traces.spans, 1600);
    assert_eq!(s.traces.bytes, 200 * body.len() as u64);
}

#[tokio::test]
async fn shutdown_stops_listening() {
    let sink = start().await;
    let addr = sink.local_addr();
    sink.shutdown().await;
    let result = client()
        .post(format!("http://{addr}/v1/traces"))
        .header("content-type", PROTOBUF)
        .body(Vec::new())
        .send()
        .await;
    assert!(result.is_err(), "nothing listens after shutdown");
}

#[tokio::test]
async fn binding_a_busy_port_names_the_address() {
    let sink = start().await;
    let opts = SinkOptions {
        listen: sink.local_addr(),
        ..SinkOptions::local()
    };
    let err = SinkHandle::start(opts)
        .await
        .err()
        .expect("second bind fails");
    let text = err.to_string();
    assert!(
        text.contains(&sink.local_addr().to_string()),
        "error names the address: {text}"
    );
    assert!(matches!(err, SinkError::Bind { .. }));
}

#[tokio::test]
async fn run_until_writes_the_port_file_and_the_summary_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port_file = dir.path().join("port");
    let summary_file = dir.path().join("summary.json");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let opts = SinkOptions {
        listen: "127.0.0.1:0".parse().expect("address"),
        ..SinkOptions::local()
    };
    let run = tokio::spawn(run_until(
        opts,
        PortFiles {
            http: Some(port_file.clone()),
            grpc: None,
        },
        Some(summary_file.clone()),
        async {
            let _ = rx.await;
        },
    ));

    // Poll for the port file as a harness would.
    let mut port = None;
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(&port_file) {
            assert!(text.ends_with('\n'), "{text:?}");
            port = Some(text.trim().parse::<u16>().expect("port number"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let port = port.expect("port file appears");
    let resp = client()
        .post(format!("http://127.0.0.1:{port}/v1/traces"))
        .header("content-type", PROTOBUF)
        .body(two_traces().encode_to_vec())
        .send()
        .await
        .expect("request reaches the sink");
    assert_eq!(resp.status().as_u16(), 200);

    tx.send(()).expect("sink still running");
    let summary = run.await.expect("task").expect("sink run");
    assert_eq!(summary.traces.spans, 8);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary_file).expect("summary file"))
            .expect("summary JSON");
    assert_eq!(json["traces"]["spans"], 8);
    assert_eq!(json["traces"]["traces"], 2);
    assert_eq!(json["problem_count"], 0);
    assert_eq!(json["last_trace_tree"].as_array().map(Vec::len), Some(4));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "no temporary files left: {leftovers:?}");
}

#[test]
fn numbers_and_sizes_are_human() {
    assert_eq!(count(0), "0");
    assert_eq!(count(999), "999");
    assert_eq!(count(1234), "1,234");
    assert_eq!(count(1_234_567), "1,234,567");
    assert_eq!(size(950), "950 B");
    assert_eq!(size(2_100_000), "2.1 MB");
    let s = SinkSummary {
        traces: TraceStats {
            spans: 1234,
            traces: 15,
            bytes: 2_100_000,
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(
        s.live_line(),
        "sink: 1,234 spans (15 traces) · 0 metric points · 0 logs · 2.1 MB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_line_task_stops_with_the_sink() {
    let sink = SinkHandle::start(SinkOptions {
        quiet: false,
        ..SinkOptions::local()
    })
    .await
    .expect("sink starts");
    let reply = post(
        &sink,
        "/v1/traces",
        PROTOBUF,
        None,
        two_traces().encode_to_vec(),
    )
    .await;
    assert_eq!(reply.status, 200);
    let s = tokio::time::timeout(Duration::from_secs(10), sink.shutdown())
        .await
        .expect("shutdown does not hang on the live-line task");
    assert_eq!(s.traces.spans, 8);
}

/// The OTLP/JSON examples shipped with the OTLP specification
/// (opentelemetry-proto `examples/{trace,metrics,logs}.json`, Apache-2.0), verbatim but for
/// whitespace: what any OTLP/JSON sender may produce, not just our own encoder.
mod spec_examples {
    pub const TRACE: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my.service"}}]},"scopeSpans":[{"scope":{"name":"my.library","version":"1.0.0","attributes":[{"key":"my.scope.attribute","value":{"stringValue":"some scope attribute"}}]},"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","parentSpanId":"EEE19B7EC3C1B173","name":"I'm a server span","startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000","kind":2,"attributes":[{"key":"my.span.attr","value":{"stringValue":"some value"}}]}]}]}]}"#;
    pub const METRICS: &str = r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my.service"}}]},"scopeMetrics":[{"scope":{"name":"my.library","version":"1.0.0","attributes":[{"key":"my.scope.attribute","value":{"stringValue":"some scope attribute"}}]},"metrics":[{"name":"my.counter","unit":"1","description":"I am a Counter","sum":{"aggregationTemporality":1,"isMonotonic":true,"dataPoints":[{"asDouble":5,"startTimeUnixNano":"1544712660300000000","timeUnixNano":"1544712660300000000","attributes":[{"key":"my.counter.attr","value":{"stringValue":"some value"}}]}]}},{"name":"my.gauge","unit":"1","description":"I am a Gauge","gauge":{"dataPoints":[{"asDouble":10,"timeUnixNano":"1544712660300000000","attributes":[{"key":"my.gauge.attr","value":{"stringValue":"some value"}}]}]}},{"name":"my.histogram","unit":"1","description":"I am a Histogram","histogram":{"aggregationTemporality":1,"dataPoints":[{"startTimeUnixNano":"1544712660300000000","timeUnixNano":"1544712660300000000","count":"2","sum":2,"bucketCounts":["1","1"],"explicitBounds":[1],"min":0,"max":2,"attributes":[{"key":"my.histogram.attr","value":{"stringValue":"some value"}}]}]}},{"name":"my.exponential.histogram","unit":"1","description":"I am an Exponential Histogram","exponentialHistogram":{"aggregationTemporality":1,"dataPoints":[{"startTimeUnixNano":"1544712660300000000","timeUnixNano":"1544712660300000000","count":"3","sum":10,"scale":0,"zeroCount":"1","positive":{"offset":1,"bucketCounts":["0","2"]},"min":0,"max":5,"zeroThreshold":0,"attributes":[{"key":"my.exponential.histogram.attr","value":{"stringValue":"some value"}}]}]}}]}]}]}"#;
    pub const LOGS: &str = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my.service"}}]},"scopeLogs":[{"scope":{"name":"my.library","version":"1.0.0","attributes":[{"key":"my.scope.attribute","value":{"stringValue":"some scope attribute"}}]},"logRecords":[{"timeUnixNano":"1544712660300000000","observedTimeUnixNano":"1544712660300000000","severityNumber":10,"severityText":"Information","traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","body":{"stringValue":"Example log record"},"attributes":[{"key":"string.attribute","value":{"stringValue":"some string"}},{"key":"boolean.attribute","value":{"boolValue":true}},{"key":"int.attribute","value":{"intValue":"10"}},{"key":"double.attribute","value":{"doubleValue":637.704}},{"key":"array.attribute","value":{"arrayValue":{"values":[{"stringValue":"many"},{"stringValue":"values"}]}}},{"key":"map.attribute","value":{"kvlistValue":{"values":[{"key":"some.map.key","value":{"stringValue":"some value"}}]}}}]}]}]}]}"#;
}

#[tokio::test]
async fn the_otlp_specification_json_examples_decode() {
    let sink = start().await;
    for (path, body) in [
        ("/v1/traces", spec_examples::TRACE),
        ("/v1/metrics", spec_examples::METRICS),
        ("/v1/logs", spec_examples::LOGS),
    ] {
        let reply = post(&sink, path, JSON, None, body.as_bytes().to_vec()).await;
        assert_eq!(
            reply.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&reply.body)
        );
    }
    let s = sink.shutdown().await;
    assert_eq!(s.traces.spans, 1);
    assert_eq!(s.traces.traces, 1);
    assert_eq!(
        s.metrics.items, 4,
        "sum, gauge, histogram, exponential histogram"
    );
    assert_eq!(s.logs.items, 1);
    // The example's only span names a parent that is not in the file.
    assert_eq!(s.problem_count, 1, "{:#?}", s.problems);
    assert!(
        s.problems[0].starts_with("missing parent: span eee19b7ec3c1b173"),
        "{}",
        s.problems[0]
    );
    assert_eq!(
        s.last_trace_tree,
        vec!["I'm a server span  SERVER  1000.0ms  UNSET"]
    );
}

#[tokio::test]
async fn count_only_summaries_show_only_what_is_counted() {
    let sink = start_with(
        SinkOptions {
            count_only: true,
            ..SinkOptions::local()
        },
        WindowLimits::default(),
    )
    .await;
    let reply = post(
        &sink,
        "/v1/traces",
        PROTOBUF,
        None,
        two_traces().encode_to_vec(),
    )
    .await;
    assert_eq!(reply.status, 200);
    let s = sink.shutdown().await;
    assert!(s.count_only);
    assert_eq!(s.traces.spans, 8);
    let text = s.render();
    assert!(text.contains("8 spans · 1 request"), "{text}");
    for absent in ["0 traces", "ERROR", "problems", "last trace", "tenants"] {
        assert!(!text.contains(absent), "{absent:?} in\n{text}");
    }
    assert!(text.contains("--count-only"), "{text}");
}

fn tenant_traces(tenant: &str, trace: u8) -> ExportTraceServiceRequest {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    let mut request = traces(agent_trace(trace));
    request.resource_spans[0].resource = Some(Resource {
        attributes: vec![KeyValue {
            key: "tenant.id".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(tenant.into())),
            }),
            ..Default::default()
        }],
        ..Default::default()
    });
    request
}

#[tokio::test]
async fn tenants_are_counted_and_headers_shown_with_credentials_redacted() {
    let sink = start_with(
        SinkOptions {
            show_headers: true,
            tenant_header: Some("X-Scope-OrgID".into()),
            ..SinkOptions::local()
        },
        WindowLimits::default(),
    )
    .await;
    let client = client();
    for (tenant, header, trace) in [
        ("acme", "acme", 1),
        ("globex", "globex", 2),
        ("globex", "acme", 3),
    ] {
        let reply = client
            .post(format!("http://{}/v1/traces", sink.local_addr()))
            .header("content-type", PROTOBUF)
            .header("x-scope-orgid", header)
            .header("authorization", "Bearer s3cr3t")
            .body(tenant_traces(tenant, trace).encode_to_vec())
            .send()
            .await
            .expect("the sink answers");
        assert_eq!(reply.status(), 200);
    }
    let s = sink.shutdown().await;
    let spans = agent_trace(1).len() as u64;
    assert_eq!(s.tenants["acme"].spans, spans);
    assert_eq!(s.tenants["acme"].requests_by_header, 2);
    assert_eq!(s.tenants["globex"].spans, 2 * spans);
    assert_eq!(s.tenants["globex"].requests_by_header, 1);
    assert_eq!(s.problem_count, 1, "{:#?}", s.problems);
    assert!(
        s.problems[0].contains(r#"tenant header "acme" holds data of tenant "globex""#),
        "{:?}",
        s.problems
    );
    let seen = |name: &str| {
        s.headers
            .iter()
            .filter(|h| h.name == name)
            .collect::<Vec<_>>()
    };
    assert_eq!(seen("x-scope-orgid").len(), 2, "{:#?}", s.headers);
    let auth = seen("authorization");
    assert_eq!(
        (auth[0].value.as_str(), auth[0].requests),
        ("<redacted>", 3)
    );
    let text = s.render();
    assert!(!text.contains("s3cr3t"), "{text}");
    assert!(
        text.contains("tenants:") && text.contains("x-scope-orgid: acme"),
        "{text}"
    );
}

#[tokio::test]
async fn a_silent_connection_does_not_hold_up_shutdown() {
    let sink = start().await;
    let silent = tokio::net::TcpStream::connect(sink.local_addr())
        .await
        .expect("connect");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    sink.shutdown().await;
    // Not the 5 s grace period (nor the 10 s header timeout).
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    drop(silent);
}
