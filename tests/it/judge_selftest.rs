//! Self-test of the independent judges (tests/judge/*.py), without our binary: requests are
//! built here with prost (`opentelemetry-proto` types) or written by hand as OTLP/JSON, sent
//! over a hand-written HTTP/1.1 exchange on a std TcpStream, and the dump of
//! `otlp_receiver.py` (decoded by the official Python bindings) must show exactly what was sent.
//! The last tests feed the judge from the official Python SDK exporter (`sdk_sender.py`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::common::{self, Judge, Received, free_port, gzip};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum, exemplar, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use prost::Message;
use serde_json::json;

// ------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client (one request per connection), so the judge is tested without any
// HTTP library of ours in the way.
// ------------------------------------------------------------------------------------------

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn post(endpoint: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let addr = endpoint.strip_prefix("http://").expect("http endpoint");
    let mut stream = TcpStream::connect(addr).expect("connect to the judge");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .expect("read the judge's response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .expect("content-length in the judge's response");
    assert_eq!(body.len(), len, "response body length vs Content-Length");
    body.truncate(len);
    Response {
        status,
        headers,
        body,
    }
}

const PROTOBUF: (&str, &str) = ("Content-Type", "application/x-protobuf");
const JSON: (&str, &str) = ("Content-Type", "application/json");

// ------------------------------------------------------------------------------------------
// Builders
// ------------------------------------------------------------------------------------------

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.into())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const T1: [u8; 16] = [
    0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c,
];
const T2: [u8; 16] = [
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
];
const ROOT: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74];
const CHILD: [u8; 8] = [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01];
const T0: u64 = 1_700_000_000_000_000_000;

fn resource(service: &str) -> Resource {
    Resource {
        attributes: vec![
            kv("service.name", s(service)),
            kv("tenant.id", s("test-tenant")),
        ],
        ..Default::default()
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "judge-selftest".into(),
        version: "0.0.1".into(),
        ..Default::default()
    }
}

/// One trace: a root (SERVER, error status, an event, every AnyValue type) and a child (CLIENT,
/// with a link to `T2`).
fn trace_request(trace_id: [u8; 16], service: &str) -> ExportTraceServiceRequest {
    let root = Span {
        trace_id: trace_id.to_vec(),
        span_id: ROOT.to_vec(),
        name: "agent.turn".into(),
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + 2_500_000_000,
        flags: 0x101,
        attributes: vec![
            kv("s", s("text")),
            kv("i", any_value::Value::IntValue(-42)),
            kv("big", any_value::Value::IntValue(i64::MAX)),
            kv("d", any_value::Value::DoubleValue(0.125)),
            kv("b", any_value::Value::BoolValue(true)),
            kv(
                "arr",
                any_value::Value::ArrayValue(ArrayValue {
                    values: vec![
                        AnyValue {
                            value: Some(s("x")),
                        },
                        AnyValue {
                            value: Some(any_value::Value::IntValue(7)),
                        },
                    ],
                }),
            ),
            kv(
                "kv",
                any_value::Value::KvlistValue(KeyValueList {
                    values: vec![kv("inner", s("v"))],
                }),
            ),
            kv(
                "bytes",
                any_value::Value::BytesValue(vec![0xde, 0xad, 0xbe, 0xef]),
            ),
        ],
        events: vec![span::Event {
            time_unix_nano: T0 + 1_000,
            name: "retry".into(),
            attributes: vec![kv("attempt", any_value::Value::IntValue(2))],
            ..Default::default()
        }],
        status: Some(Status {
            message: "tool failed".into(),
            code: 2,
        }),
        ..Default::default()
    };
    let child = Span {
        trace_id: trace_id.to_vec(),
        span_id: CHILD.to_vec(),
        parent_span_id: ROOT.to_vec(),
        name: "llm.call".into(),
        kind: span::SpanKind::Client as i32,
        start_time_unix_nano: T0 + 100,
        end_time_unix_nano: T0 + 1_000_100,
        attributes: vec![kv(
            "gen_ai.usage.input_tokens",
            any_value::Value::IntValue(1234),
        )],
        links: vec![span::Link {
            trace_id: T2.to_vec(),
            span_id: ROOT.to_vec(),
            ..Default::default()
        }],
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource(service)),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope()),
                spans: vec![root, child],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn check_trace(got: &Received, trace_id: [u8; 16], service: &str) {
    let traces = got.traces();
    let spans = traces
        .get(&hex(&trace_id))
        .unwrap_or_else(|| panic!("trace {} not received", hex(&trace_id)));
    assert_eq!(spans.len(), 2);
    let (root, child) = (spans[0], spans[1]);
    assert_eq!(root.name, "agent.turn");
    assert_eq!(root.span_id, hex(&ROOT));
    assert_eq!(root.parent_span_id, "");
    assert_eq!(root.kind, 2);
    assert_eq!((root.start, root.end), (T0, T0 + 2_500_000_000));
    assert_eq!(root.duration_ns(), 2_500_000_000);
    assert_eq!(root.status_code, 2);
    assert_eq!(root.status_message, "tool failed");
    assert_eq!(root.flags, 0x101);
    assert_eq!(root.attr_str("s"), Some("text"));
    assert_eq!(root.attr_i64("i"), Some(-42));
    assert_eq!(root.attr_i64("big"), Some(i64::MAX));
    assert_eq!(root.attr_f64("d"), Some(0.125));
    assert_eq!(root.attributes["b"], json!(true));
    assert_eq!(root.attributes["arr"], json!(["x", 7]));
    assert_eq!(root.attributes["kv"], json!({"inner": "v"}));
    assert_eq!(root.attr_str("bytes"), Some("deadbeef"));
    assert_eq!(
        root.events,
        vec![json!({"name": "retry", "time_unix_nano": T0 + 1_000, "attributes": {"attempt": 2}})]
    );
    assert_eq!(root.resource.get("service.name"), Some(&json!(service)));
    assert_eq!(root.resource.get("tenant.id"), Some(&json!("test-tenant")));
    assert_eq!(root.scope["name"], json!("judge-selftest"));
    assert_eq!(root.scope["version"], json!("0.0.1"));

    assert_eq!(child.name, "llm.call");
    assert_eq!(child.span_id, hex(&CHILD));
    assert_eq!(child.parent_span_id, hex(&ROOT));
    assert_eq!(child.kind, 3);
    assert_eq!(child.status_code, 0);
    assert_eq!(child.attr_i64("gen_ai.usage.input_tokens"), Some(1234));
    assert_eq!(child.attr_f64("gen_ai.usage.input_tokens"), Some(1234.0));
    assert_eq!(child.duration_ns(), 1_000_000);
    assert_eq!(child.links.len(), 1);
    assert_eq!(child.links[0]["trace_id"], json!(hex(&T2)));
    assert_eq!(child.links[0]["span_id"], json!(hex(&ROOT)));
}

/// The same trace as `trace_request(T2, "json-service")`, written by hand as OTLP/JSON
/// (hex ids, int64 as strings or numbers, enums as integers).
fn trace_json() -> String {
    json!({"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "json-service"}},
            {"key": "tenant.id", "value": {"stringValue": "test-tenant"}}]},
        "scopeSpans": [{
            "scope": {"name": "judge-selftest", "version": "0.0.1"},
            "spans": [
                {"traceId": hex(&T2), "spanId": hex(&ROOT), "parentSpanId": "", "name": "agent.turn", "kind": 2,
                 "flags": 0x101,
                 "startTimeUnixNano": T0.to_string(), "endTimeUnixNano": (T0 + 2_500_000_000).to_string(),
                 "attributes": [
                    {"key": "s", "value": {"stringValue": "text"}},
                    {"key": "i", "value": {"intValue": "-42"}},
                    {"key": "big", "value": {"intValue": i64::MAX.to_string()}},
                    {"key": "d", "value": {"doubleValue": 0.125}},
                    {"key": "b", "value": {"boolValue": true}},
                    {"key": "arr", "value": {"arrayValue": {"values": [{"stringValue": "x"}, {"intValue": 7}]}}},
                    {"key": "kv", "value": {"kvlistValue": {"values": [{"key": "inner", "value": {"stringValue": "v"}}]}}},
                    {"key": "bytes", "value": {"bytesValue": "3q2+7w=="}}],
                 "events": [{"timeUnixNano": (T0 + 1_000).to_string(), "name": "retry",
                             "attributes": [{"key": "attempt", "value": {"intValue": "2"}}]}],
                 "status": {"code": 2, "message": "tool failed"}},
                {"traceId": hex(&T2), "spanId": hex(&CHILD), "parentSpanId": hex(&ROOT), "name": "llm.call", "kind": 3,
                 "startTimeUnixNano": T0 + 100, "endTimeUnixNano": T0 + 1_000_100,
                 "attributes": [{"key": "gen_ai.usage.input_tokens", "value": {"intValue": 1234}}],
                 "links": [{"traceId": hex(&T2), "spanId": hex(&ROOT)}]}
            ]}]}]})
    .to_string()
}

// ------------------------------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------------------------------

#[test]
fn judge_decodes_protobuf_gzip_and_json_traces() {
    let judge = Judge::start();
    let ep = judge.endpoint();

    let plain = trace_request(T1, "proto-service").encode_to_vec();
    let r = post(&ep, "/v1/traces", &[PROTOBUF, ("X-Tenant", "t-1")], &plain);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
    assert!(
        r.body.is_empty(),
        "empty ExportTraceServiceResponse is zero bytes"
    );

    let zipped = gzip(&trace_request(T2, "gzip-service").encode_to_vec());
    let r = post(
        &ep,
        "/v1/traces",
        &[PROTOBUF, ("Content-Encoding", "gzip")],
        &zipped,
    );
    assert_eq!(r.status, 200);

    let r = post(
        &ep,
        "/v1/traces",
        &[("Content-Type", "application/json; charset=utf-8")],
        trace_json().as_bytes(),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON response");
    assert_eq!(body, json!({}));

    let got = judge.finish();
    got.assert_no_decode_errors();
    assert!(got.warnings.is_empty(), "warnings: {:?}", got.warnings);
    assert_eq!(got.requests.len(), 3);
    assert_eq!(got.spans.len(), 6);

    let req = &got.requests[0];
    assert_eq!(req["path"], "/v1/traces");
    assert_eq!(req["content_type"], "application/x-protobuf");
    assert_eq!(req["content_encoding"], serde_json::Value::Null);
    assert_eq!(req["bytes"], json!(plain.len()));
    assert_eq!(req["items"], json!(2));
    assert_eq!(req["headers"]["x-tenant"], "t-1");
    assert_eq!(got.requests[1]["content_encoding"], "gzip");
    assert_eq!(got.requests[1]["bytes"], json!(zipped.len()));
    assert_eq!(
        got.requests[2]["content_type"],
        "application/json; charset=utf-8"
    );

    check_trace(&got, T1, "proto-service");
    // T2 arrived twice (gzip protobuf, then JSON): split by resource and check each.
    for service in ["gzip-service", "json-service"] {
        let only = Received::from_value(json!({
            "spans": got.raw["spans"].as_array().unwrap().iter()
                .filter(|s| s["resource"]["service.name"] == service).cloned().collect::<Vec<_>>()
        }));
        check_trace(&only, T2, service);
    }
}

#[test]
fn judge_records_what_it_cannot_decode() {
    let judge = Judge::start();
    let ep = judge.endpoint();

    assert_eq!(
        post(
            &ep,
            "/v1/traces",
            &[PROTOBUF],
            b"\xff\xff\xff\xff not protobuf"
        )
        .status,
        400
    );
    // Base64 ids are canonical protobuf JSON, but OTLP/JSON wants hex: a decode error.
    let b64 = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"W47/95gDgQPSabYzgT/GDA==","spanId":"7uGbfsPBsXQ=","name":"x"}]}]}]}"#;
    assert_eq!(post(&ep, "/v1/traces", &[JSON], b64.as_bytes()).status, 400);
    assert_eq!(post(&ep, "/v1/logs", &[JSON], b"{not json").status, 400);
    assert_eq!(
        post(
            &ep,
            "/v1/metrics",
            &[PROTOBUF, ("Content-Encoding", "gzip")],
            b"not gzip"
        )
        .status,
        400
    );
    assert_eq!(
        post(
            &ep,
            "/v1/traces",
            &[("Content-Type", "text/plain")],
            b"hello"
        )
        .status,
        415
    );
    assert_eq!(post(&ep, "/v1/trace", &[PROTOBUF], b"").status, 404);
    // Unknown fields are accepted (the OTLP spec says so) but reported.
    let unknown = format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"{}","spanId":"{}","name":"ok","colour":"red"}}]}}]}}]}}"#,
        hex(&T1),
        hex(&ROOT)
    );
    assert_eq!(
        post(&ep, "/v1/traces", &[JSON], unknown.as_bytes()).status,
        200
    );

    let got = judge.finish();
    assert_eq!(got.decode_errors.len(), 6, "{:#?}", got.decode_errors);
    assert!(
        got.decode_errors[1].contains("32 hex digits"),
        "{}",
        got.decode_errors[1]
    );
    assert!(
        got.decode_errors[5].contains("unknown path"),
        "{}",
        got.decode_errors[5]
    );
    let statuses: Vec<i64> = got
        .requests
        .iter()
        .map(|r| r["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, vec![400, 400, 400, 400, 415, 404, 200]);
    assert_eq!(got.spans.len(), 1);
    assert_eq!(got.spans[0].name, "ok");
    assert!(
        got.warnings.iter().any(|w| w.contains("colour")),
        "{:?}",
        got.warnings
    );
}

#[test]
fn judge_decodes_metrics_and_logs() {
    let judge = Judge::start();
    let ep = judge.endpoint();

    let metrics = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource("metrics-service")),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(scope()),
                metrics: vec![
                    Metric {
                        name: "agent.tool.calls".into(),
                        unit: "{call}".into(),
                        description: "tool calls".into(),
                        data: Some(metric::Data::Sum(Sum {
                            aggregation_temporality: 2,
                            is_monotonic: true,
                            data_points: vec![NumberDataPoint {
                                attributes: vec![kv("tool", s("search"))],
                                start_time_unix_nano: T0,
                                time_unix_nano: T0 + 60_000_000_000,
                                value: Some(number_data_point::Value::AsInt(17)),
                                exemplars: vec![Exemplar {
                                    trace_id: T1.to_vec(),
                                    span_id: ROOT.to_vec(),
                                    time_unix_nano: T0 + 5,
                                    value: Some(exemplar::Value::AsInt(1)),
                                    ..Default::default()
                                }],
                                ..Default::default()
                            }],
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "gen_ai.client.operation.duration".into(),
                        unit: "s".into(),
                        data: Some(metric::Data::Histogram(Histogram {
                            aggregation_temporality: 1,
                            data_points: vec![HistogramDataPoint {
                                start_time_unix_nano: T0,
                                time_unix_nano: T0 + 60_000_000_000,
                                count: 3,
                                sum: Some(1.5),
                                bucket_counts: vec![1, 2, 0],
                                explicit_bounds: vec![0.25, 1.0],
                                min: Some(0.125),
                                max: Some(0.75),
                                ..Default::default()
                            }],
                        })),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    assert_eq!(
        post(&ep, "/v1/metrics", &[PROTOBUF], &metrics.encode_to_vec()).status,
        200
    );

    let logs = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource("logs-service")),
            scope_logs: vec![ScopeLogs {
                scope: Some(scope()),
                log_records: vec![LogRecord {
                    time_unix_nano: T0 + 7,
                    observed_time_unix_nano: T0 + 8,
                    severity_number: 17,
                    severity_text: "ERROR".into(),
                    body: Some(AnyValue {
                        value: Some(s("tool call failed")),
                    }),
                    attributes: vec![kv("attempt", any_value::Value::IntValue(3))],
                    trace_id: T1.to_vec(),
                    span_id: CHILD.to_vec(),
                    event_name: "tool.error".into(),
                    flags: 1,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let r = post(
        &ep,
        "/v1/logs",
        &[PROTOBUF, ("Content-Encoding", "gzip")],
        &gzip(&logs.encode_to_vec()),
    );
    assert_eq!(r.status, 200);

    let got = judge.finish();
    got.assert_no_decode_errors();
    assert_eq!(
        got.requests[0]["items"],
        json!(2),
        "items counts data points"
    );
    assert_eq!(got.metrics.len(), 2);
    let sum = &got.metrics[0];
    assert_eq!(sum["name"], "agent.tool.calls");
    assert_eq!(sum["unit"], "{call}");
    assert_eq!(sum["description"], "tool calls");
    assert_eq!(sum["type"], "sum");
    assert_eq!(sum["temporality"], 2);
    assert_eq!(sum["is_monotonic"], true);
    assert_eq!(sum["resource"]["service.name"], "metrics-service");
    let p = &sum["points"][0];
    assert_eq!(p["value"], json!(17));
    assert_eq!(p["attributes"], json!({"tool": "search"}));
    assert_eq!(p["start_time_unix_nano"], json!(T0));
    assert_eq!(p["time_unix_nano"], json!(T0 + 60_000_000_000));
    assert_eq!(p["exemplars"][0]["trace_id"], json!(hex(&T1)));
    assert_eq!(p["exemplars"][0]["span_id"], json!(hex(&ROOT)));
    assert_eq!(p["exemplars"][0]["value"], json!(1));
    let h = &got.metrics[1];
    assert_eq!(h["type"], "histogram");
    assert_eq!(h["temporality"], 1);
    assert_eq!(h["is_monotonic"], serde_json::Value::Null);
    let p = &h["points"][0];
    assert_eq!(p["count"], 3);
    assert_eq!(p["sum"], 1.5);
    assert_eq!(p["bucket_counts"], json!([1, 2, 0]));
    assert_eq!(p["explicit_bounds"], json!([0.25, 1.0]));
    assert_eq!(
        (p["min"].as_f64(), p["max"].as_f64()),
        (Some(0.125), Some(0.75))
    );

    assert_eq!(got.logs.len(), 1);
    let l = &got.logs[0];
    assert_eq!(l["time_unix_nano"], json!(T0 + 7));
    assert_eq!(l["observed_time_unix_nano"], json!(T0 + 8));
    assert_eq!(l["severity_number"], 17);
    assert_eq!(l["severity_text"], "ERROR");
    assert_eq!(l["body"], "tool call failed");
    assert_eq!(l["event_name"], "tool.error");
    assert_eq!(l["trace_id"], json!(hex(&T1)));
    assert_eq!(l["span_id"], json!(hex(&CHILD)));
    assert_eq!(l["flags"], 1);
    assert_eq!(l["attributes"], json!({"attempt": 3}));
    assert_eq!(l["resource"]["service.name"], "logs-service");
    assert_eq!(got.requests[1]["content_encoding"], "gzip");
}

#[test]
fn judge_stops_on_post_shutdown() {
    let judge = Judge::start();
    let r = post(&judge.endpoint(), "/shutdown", &[], b"");
    assert_eq!(r.status, 200);
    let got = judge.finish();
    assert_eq!(got.raw["stopped_by"], "POST /shutdown");
    assert!(got.requests.is_empty());
}

#[test]
fn official_sdk_exporter_feeds_the_judge() {
    let judge = Judge::start();
    let sent = common::sdk_send(&judge.endpoint(), 4, 3, &[]);
    let sent_gzip = common::sdk_send(&judge.endpoint(), 2, 1, &["--compression", "gzip"]);
    let got = judge.finish();
    got.assert_no_decode_errors();
    assert_eq!(sent["spans"], 12);
    assert_eq!(got.spans.len(), 12 + 2);
    assert!(got.requests.iter().any(|r| r["content_encoding"] == "gzip"));
    assert!(
        got.requests
            .iter()
            .all(|r| r["content_type"] == "application/x-protobuf")
    );

    let traces = got.traces();
    let mut ids: Vec<&str> = sent["trace_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    ids.extend(
        sent_gzip["trace_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap()),
    );
    assert_eq!(traces.len(), ids.len());
    for id in &ids[..4] {
        let spans = &traces[*id];
        assert_eq!(spans.len(), 3, "trace {id}");
        let root = spans[0];
        assert!(root.is_root(), "first span in start order is the root");
        assert_eq!(root.name, "agent.turn");
        assert_eq!(root.kind, 2);
        assert_eq!(root.status_code, 1);
        assert_eq!(root.resource_str("service.name"), Some("sdk-sender"));
        assert_eq!(root.events.len(), 1);
        for child in &spans[1..] {
            assert_eq!(child.parent_span_id, root.span_id);
            assert_eq!(child.name, "llm.call");
            assert_eq!(child.kind, 3);
            assert_eq!(child.attr_str("gen_ai.request.model"), Some("judge-model"));
            assert_eq!(child.attr_f64("judge.temperature"), Some(0.25));
            assert!(child.start >= root.start && child.end <= root.end);
        }
    }
}

#[test]
fn sdk_sender_fails_loudly_when_nothing_listens() {
    // A port that was just free: bind, read the number, drop the listener.
    let port = free_port();
    let out = common::judge_script("sdk_sender.py")
        .args([
            "--endpoint",
            &format!("http://127.0.0.1:{port}"),
            "--traces",
            "1",
            "--timeout",
            "1",
        ])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "sdk_sender.py must exit non-zero when the export fails"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("export FAILED"));
    assert!(out.stdout.is_empty());
}

#[test]
fn statistics_helpers() {
    assert_eq!(common::mean(&[1.0, 2.0, 6.0]), 3.0);
    assert_eq!(common::median(&mut [5.0, 1.0, 3.0]), 3.0);
    assert_eq!(common::median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    common::assert_proportion(520, 1000, 0.5, "fair coin");
    common::assert_proportion(0, 1000, 0.0, "never");
    common::assert_mean_within(&[0.9, 1.1, 1.0, 0.95, 1.05], 1.0, "around one");
    assert!(
        std::panic::catch_unwind(|| common::assert_proportion(600, 1000, 0.5, "biased coin"))
            .is_err()
    );
    assert!(std::panic::catch_unwind(|| common::assert_proportion(1, 1000, 0.0, "never")).is_err());
    assert!(
        std::panic::catch_unwind(|| common::assert_mean_within(
            &[1.9, 2.1, 2.0, 1.95],
            1.0,
            "shifted"
        ))
        .is_err()
    );
}
