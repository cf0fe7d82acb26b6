//! Metrics and logs as the independent judge (official OpenTelemetry Python bindings) receives
//! them, checked against the spans received in the same run: every counter, histogram (count,
//! sum, min, max, buckets), exemplar and log record must be what the sent spans imply, under
//! cumulative and delta temporality, over several export intervals.

use crate::common::{self, Judge, Received, Span, bin, run_to_judge, scenario_dir, text};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

/// A turn behind a control plane, with every span type that reports metrics, failures
/// everywhere, tool retries, optional retrieval and remote agent calls.
const GUARDED: &str = r#"
name: guarded
root:
  type: cp.request
  latency: {distribution: log_normal, median_ms: 40, sigma: 0.3}
  error: {rate: 0.05}
  attributes:
    vendor.cp.status.code:
      distribution: categorical
      values: {ALLOWED: 0.8, FLAGGED: 0.1, BLOCKED: 0.1}
  children:
    - type: vendor.a2a.orchestrate
      latency: {distribution: log_normal, median_ms: 900, sigma: 0.5}
      error: {rate: 0.1}
      attributes: {vendor.route: support}
      children:
        - type: vendor.llm.call
          latency: {distribution: log_normal, median_ms: 300, sigma: 0.9}
          error: {rate: 0.15}
          attributes:
            gen_ai.request.model:
              distribution: categorical
              values: {gpt-4.1-mini: 0.7, gpt-4.1: 0.3}
        - type: vendor.mcp.tool.execute
          count: {min: 0, max: 3}
          latency: {distribution: exponential, mean_ms: 120}
          error: {rate: 0.3, types: [timeout, upstream_5xx, validation]}
          retry: {max_attempts: 3, backoff_base_ms: 15}
          attributes:
            gen_ai.tool.name: {distribution: categorical, values: {search: 1, lookup: 1}}
            vendor.tool.server.name: tools
        - type: rag.retrieve
          probability: 0.5
          error: {rate: 0.1}
          attributes:
            rag.index.name: docs
            rag.documents.returned: {distribution: poisson, lambda: 4}
        - type: a2a.call
          probability: 0.5
          error: {rate: 0.1}
          attributes: {a2a.target.agent: booking-agent, a2a.operation: message/send}
        - type: vendor.response.compose
          error: {rate: 0.05}
"#;

/// A retried turn: each attempt is a trace of its own, and a turn of its own.
const RETRIED: &str = r#"
name: retried
root:
  type: vendor.a2a.orchestrate
  latency: 500
  error: {rate: 0.5, types: [timeout]}
  retry: {max_attempts: 3, backoff_base_ms: 50}
  children:
    - type: vendor.llm.call
      attributes:
        gen_ai.provider.name: anthropic
        gen_ai.request.model: claude-sonnet
        gen_ai.usage.input_tokens: {distribution: log_normal, median: 3000, sigma: 1.5}
    - type: vendor.mcp.tool.execute
      attributes: {gen_ai.tool.name: search}
"#;

/// Runs the binary with `args` (plus `--endpoint` of a fresh judge) and returns what the judge
/// decoded; the run must succeed.
fn send(args: &[&str], envs: &[(&str, &str)]) -> (Received, String) {
    let (out, received) = run_to_judge(args, envs);
    assert!(received.warnings.is_empty(), "{:?}", received.warnings);
    (received, text(&out))
}

/// The mixed run most tests read: two scenarios, three tenants, failures of every kind.
fn mixed_run() -> &'static Received {
    static RUN: OnceLock<Received> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = scenario_dir(&[("guarded", GUARDED), ("retried", RETRIED)]);
        let (received, _) = send(
            &[
                "run",
                "--scenarios-dir",
                dir.path().to_str().unwrap(),
                "--count",
                "400",
                "--interval",
                "0",
                "--seed",
                "7",
                "-q",
            ],
            &[("TELEMETRY_TENANT_UUIDS", "acme,globex,initech")],
        );
        received
    })
}

// ---------------------------------------------------------------------------------------------
// What the spans imply, instrument by instrument
// ---------------------------------------------------------------------------------------------

/// One instrument, or one part of it (token usage has an input and an output part): which
/// spans feed it, the attributes each gives its point, and the value it measures.
struct Spec {
    metric: &'static str,
    unit: &'static str,
    /// Explicit bucket boundaries; `None` for a counter.
    bounds: Option<&'static [f64]>,
    spans: &'static [&'static str],
    attrs: fn(&Span) -> Map<String, Value>,
    value: fn(&Span) -> Option<f64>,
}

const MS_BOUNDS: &[f64] = &[
    0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0,
    10000.0,
];
const GENAI_DURATION: &[f64] = &[
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
const GENAI_TOKENS: &[f64] = &[
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];
const MCP_DURATION: &[f64] = &[
    0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

const TURN: &[&str] = &["vendor.a2a.orchestrate"];
const TOOL: &[&str] = &["vendor.mcp.tool.execute"];
const LLM: &[&str] = &["vendor.llm.call"];
const RAG: &[&str] = &["rag.retrieve"];
const A2A: &[&str] = &["a2a.call"];
const CP: &[&str] = &["cp.request"];
const GENAI: &[&str] = &["vendor.llm.call", "rag.retrieve", "a2a.call"];

fn tenant(s: &Span) -> String {
    s.resource_str("tenant.id").unwrap_or_default().to_string()
}

fn attrs(s: &Span, pairs: &[(&str, Option<Value>)]) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("tenant.id".into(), json!(tenant(s)));
    for (k, v) in pairs {
        if let Some(v) = v {
            out.insert(k.to_string(), v.clone());
        }
    }
    out
}

fn attr(s: &Span, key: &str) -> Option<Value> {
    s.attributes.get(key).cloned()
}

fn or(s: &Span, key: &str, fallback: &str) -> Option<Value> {
    Some(attr(s, key).unwrap_or_else(|| json!(fallback)))
}

/// The status word a span reports: ERROR when it failed, else its own value or `success`.
fn status(s: &Span, key: &str, success: &str) -> Option<Value> {
    if s.status_code == 2 {
        Some(json!("ERROR"))
    } else {
        or(s, key, success)
    }
}

fn failed_type(s: &Span) -> Option<Value> {
    (s.status_code == 2).then(|| attr(s, "error.type").expect("a failed span has error.type"))
}

fn ms(s: &Span) -> Option<f64> {
    Some(s.duration_ns() as f64 / 1e6)
}

fn seconds(s: &Span) -> Option<f64> {
    Some(s.duration_ns() as f64 / 1e9)
}

fn one(_: &Span) -> Option<f64> {
    Some(1.0)
}

fn turn_attrs(s: &Span) -> Map<String, Value> {
    attrs(
        s,
        &[
            ("vendor.route", or(s, "vendor.route", "default")),
            (
                "vendor.turn.status.code",
                status(s, "vendor.turn.status.code", "SUCCESS"),
            ),
        ],
    )
}

fn tool_attrs(s: &Span) -> Map<String, Value> {
    attrs(
        s,
        &[
            ("gen_ai.tool.name", attr(s, "gen_ai.tool.name")),
            (
                "vendor.tool.server.name",
                or(s, "vendor.tool.server.name", "unknown-server"),
            ),
            (
                "vendor.tool.status.code",
                status(s, "vendor.tool.status.code", "OK"),
            ),
        ],
    )
}

fn mcp_attrs(s: &Span) -> Map<String, Value> {
    attrs(
        s,
        &[
            ("mcp.method.name", or(s, "mcp.method.name", "tools/call")),
            ("gen_ai.tool.name", attr(s, "gen_ai.tool.name")),
            ("gen_ai.operation.name", attr(s, "gen_ai.operation.name")),
            ("error.type", failed_type(s)),
        ],
    )
}

fn llm_attrs(s: &Span) -> Map<String, Value> {
    attrs(
        s,
        &[
            ("gen_ai.provider.name", attr(s, "gen_ai.provider.name")),
            ("gen_ai.request.model", attr(s, "gen_ai.request.model")),
        ],
    )
}

fn rag_attrs(s: &Span) -> Map<String, Value> {
    attrs(
        s,
        &[
            ("rag.index.name", or(s, "rag.index.name", "default_index")),
            (
                "vendor.rag.status.code",
                status(s, "vendor.rag.status.code", "OK"),
            ),
        ],
    )
}

fn a2a_attrs(s: &Span) -> Map<String, Value> {
    attrs(
        s,
        &[
            ("a2a.target.agent", attr(s, "a2a.target.agent")),
            (
                "vendor.a2a.status.code",
                status(s, "vendor.a2a.status.code", "OK"),
            ),
        ],
    )
}

const GENAI_KEYS: &[&str] = &[
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "server.address",
    "server.port",
];

fn genai_attrs(s: &Span) -> Map<String, Value> {
    let mut pairs: Vec<(&str, Option<Value>)> =
        GENAI_KEYS.iter().map(|k| (*k, attr(s, k))).collect();
    pairs.push(("error.type", failed_type(s)));
    attrs(s, &pairs)
}

fn token_attrs(s: &Span, token_type: &str) -> Map<String, Value> {
    let mut pairs: Vec<(&str, Option<Value>)> =
        GENAI_KEYS.iter().map(|k| (*k, attr(s, k))).collect();
    pairs.push(("gen_ai.token.type", Some(json!(token_type))));
    attrs(s, &pairs)
}

fn number(s: &Span, key: &str) -> Option<f64> {
    s.attributes.get(key).and_then(Value::as_f64)
}

fn specs() -> Vec<Spec> {
    let spec = |metric, unit, bounds, spans, attrs, value| Spec {
        metric,
        unit,
        bounds,
        spans,
        attrs,
        value,
    };
    vec![
        spec("vendor.turn.count", "1", None, TURN, turn_attrs, one),
        spec(
            "vendor.turn.duration_ms",
            "ms",
            Some(MS_BOUNDS),
            TURN,
            turn_attrs,
            ms,
        ),
        spec("vendor.tool.count", "1", None, TOOL, tool_attrs, one),
        spec(
            "vendor.tool.latency_ms",
            "ms",
            Some(MS_BOUNDS),
            TOOL,
            tool_attrs,
            ms,
        ),
        spec("vendor.llm.count", "1", None, LLM, llm_attrs, one),
        spec(
            "vendor.llm.latency_ms",
            "ms",
            Some(MS_BOUNDS),
            LLM,
            llm_attrs,
            ms,
        ),
        spec("vendor.llm.tokens.input", "1", None, LLM, llm_attrs, |s| {
            number(s, "gen_ai.usage.input_tokens")
        }),
        spec("vendor.llm.tokens.output", "1", None, LLM, llm_attrs, |s| {
            number(s, "gen_ai.usage.output_tokens")
        }),
        spec("vendor.rag.count", "1", None, RAG, rag_attrs, one),
        spec(
            "vendor.rag.latency_ms",
            "ms",
            Some(MS_BOUNDS),
            RAG,
            rag_attrs,
            ms,
        ),
        spec(
            "vendor.rag.documents_returned",
            "1",
            Some(MS_BOUNDS),
            RAG,
            |s| {
                attrs(
                    s,
                    &[("rag.index.name", or(s, "rag.index.name", "default_index"))],
                )
            },
            |s| number(s, "rag.documents.returned"),
        ),
        spec("vendor.a2a.count", "1", None, A2A, a2a_attrs, one),
        spec(
            "vendor.a2a.latency_ms",
            "ms",
            Some(MS_BOUNDS),
            A2A,
            a2a_attrs,
            ms,
        ),
        spec(
            "vendor.cp.request.count",
            "1",
            None,
            CP,
            |s| {
                attrs(
                    s,
                    &[(
                        "vendor.cp.status.code",
                        status(s, "vendor.cp.status.code", "ALLOWED"),
                    )],
                )
            },
            one,
        ),
        spec(
            "vendor.cp.request.duration_ms",
            "ms",
            Some(MS_BOUNDS),
            CP,
            |s| {
                attrs(
                    s,
                    &[(
                        "vendor.cp.status.code",
                        status(s, "vendor.cp.status.code", "ALLOWED"),
                    )],
                )
            },
            ms,
        ),
        spec(
            "gen_ai.client.operation.duration",
            "s",
            Some(GENAI_DURATION),
            GENAI,
            genai_attrs,
            seconds,
        ),
        spec(
            "gen_ai.client.token.usage",
            "{token}",
            Some(GENAI_TOKENS),
            LLM,
            |s| token_attrs(s, "input"),
            |s| number(s, "gen_ai.usage.input_tokens"),
        ),
        spec(
            "gen_ai.client.token.usage",
            "{token}",
            Some(GENAI_TOKENS),
            LLM,
            |s| token_attrs(s, "output"),
            |s| number(s, "gen_ai.usage.output_tokens"),
        ),
        spec(
            "mcp.client.operation.duration",
            "s",
            Some(MCP_DURATION),
            TOOL,
            mcp_attrs,
            seconds,
        ),
    ]
}

/// A series: (metric, tenant, attributes as canonical JSON).
type SeriesKey = (String, String, String);

/// One series' points merged: the last cumulative point, or the sum of the delta points.
#[derive(Debug, Default)]
struct Merged {
    value: f64,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    buckets: Vec<u64>,
    bounds: Vec<f64>,
    exemplars: Vec<Value>,
    points: usize,
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Every metric point received, per series, merged as its temporality says.
fn merged(received: &Received) -> BTreeMap<SeriesKey, Merged> {
    let mut points: BTreeMap<SeriesKey, Vec<(&Value, &Value)>> = BTreeMap::new();
    for metric in &received.metrics {
        let tenant = metric["resource"]["tenant.id"].as_str().unwrap_or_default();
        for point in metric["points"].as_array().unwrap() {
            let key = (
                metric["name"].as_str().unwrap().to_string(),
                tenant.to_string(),
                canon(point["attributes"].as_object().unwrap()),
            );
            points.entry(key).or_default().push((metric, point));
        }
    }
    let mut out = BTreeMap::new();
    for (key, mut pts) in points {
        pts.sort_by_key(|(_, p)| p["time_unix_nano"].as_u64());
        let delta = pts[0].0["temporality"] == 1;
        let used = if delta {
            &pts[..]
        } else {
            &pts[pts.len() - 1..]
        };
        let mut m = Merged {
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            points: pts.len(),
            ..Merged::default()
        };
        // Each point's exemplars are of its own interval, cumulative or not.
        for (_, p) in &pts {
            if let Some(e) = p.get("exemplars").and_then(Value::as_array) {
                m.exemplars.extend(e.iter().cloned());
            }
        }
        for (_, p) in used {
            if p.get("value").is_some() {
                m.value += f(&p["value"]);
                continue;
            }
            m.count += p["count"].as_u64().unwrap();
            m.sum += f(&p["sum"]);
            m.min = m.min.min(f(&p["min"]));
            m.max = m.max.max(f(&p["max"]));
            let buckets: Vec<u64> = p["bucket_counts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_u64().unwrap())
                .collect();
            if m.buckets.is_empty() {
                m.buckets = vec![0; buckets.len()];
            }
            m.buckets
                .iter_mut()
                .zip(&buckets)
                .for_each(|(a, b)| *a += b);
            m.bounds = p["explicit_bounds"]
                .as_array()
                .unwrap()
                .iter()
                .map(f)
                .collect();
        }
        out.insert(key, m);
    }
    out
}

/// Attributes as JSON with sorted keys, whatever order they came in.
fn canon(attrs: &Map<String, Value>) -> String {
    let sorted: BTreeMap<&String, &Value> = attrs.iter().collect();
    serde_json::to_string(&sorted).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Checks every series received against what the spans received imply: the same series, and
/// per series the same total, or count, sum, min, max, bucket counts and exemplars.
fn assert_metrics_match_spans(received: &Received) {
    let specs = specs();
    let spans_by_id: HashMap<(&str, &str), &Span> = received
        .spans
        .iter()
        .map(|s| ((s.trace_id.as_str(), s.span_id.as_str()), s))
        .collect();
    let mut expected: BTreeMap<SeriesKey, Vec<f64>> = BTreeMap::new();
    for spec in &specs {
        for span in received
            .spans
            .iter()
            .filter(|s| spec.spans.contains(&s.name.as_str()))
        {
            if let Some(value) = (spec.value)(span) {
                let key = (
                    spec.metric.to_string(),
                    tenant(span),
                    canon(&(spec.attrs)(span)),
                );
                expected.entry(key).or_default().push(value);
            }
        }
    }
    let got = merged(received);
    let missing: Vec<_> = expected.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<_> = got.keys().filter(|k| !expected.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "series differ\nmissing: {missing:#?}\nextra: {extra:#?}"
    );
    for metric in &received.metrics {
        let name = metric["name"].as_str().unwrap();
        let spec = specs.iter().find(|s| s.metric == name).unwrap();
        assert_eq!(metric["unit"], spec.unit, "{name}");
        let kind = if spec.bounds.is_some() {
            "histogram"
        } else {
            "sum"
        };
        assert_eq!(metric["type"], kind, "{name}");
        if kind == "sum" {
            assert_eq!(metric["is_monotonic"], true, "{name}");
        }
    }
    for (key, values) in &expected {
        let m = &got[key];
        let spec = specs.iter().find(|s| s.metric == key.0).unwrap();
        let Some(bounds) = spec.bounds else {
            assert_eq!(m.value, values.iter().sum::<f64>(), "{key:?}");
            continue;
        };
        assert_eq!(m.bounds, bounds, "{key:?}: bucket boundaries");
        assert_eq!(m.count, values.len() as u64, "{key:?}: count");
        assert!(
            close(m.sum, values.iter().sum()),
            "{key:?}: sum {} vs {}",
            m.sum,
            values.iter().sum::<f64>()
        );
        assert!(
            close(m.min, values.iter().copied().fold(f64::INFINITY, f64::min)),
            "{key:?}: min"
        );
        assert!(
            close(
                m.max,
                values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            ),
            "{key:?}: max"
        );
        let mut buckets = vec![0u64; bounds.len() + 1];
        for v in values {
            buckets[bounds.partition_point(|b| b < v)] += 1;
        }
        assert_eq!(m.buckets, buckets, "{key:?}: bucket counts");
        assert!(!m.exemplars.is_empty(), "{key:?}: no exemplar");
        for e in &m.exemplars {
            let span = spans_by_id
                .get(&(
                    e["trace_id"].as_str().unwrap(),
                    e["span_id"].as_str().unwrap(),
                ))
                .unwrap_or_else(|| panic!("{key:?}: exemplar {e} points at no span sent"));
            let part = specs
                .iter()
                .filter(|s| s.metric == key.0 && s.spans.contains(&span.name.as_str()))
                .find(|s| canon(&(s.attrs)(span)) == key.2)
                .unwrap_or_else(|| panic!("{key:?}: exemplar {e} is a span of another series"));
            assert!(
                close(f(&e["value"]), (part.value)(span).unwrap()),
                "{key:?}: {e}"
            );
            assert_eq!(e["time_unix_nano"].as_u64(), Some(span.end), "{key:?}: {e}");
        }
    }
}

#[test]
fn metrics_agree_with_the_spans_sent() {
    let received = mixed_run();
    let names: BTreeSet<&str> = received
        .metrics
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    for spec in specs() {
        assert!(names.contains(spec.metric), "{} never sent", spec.metric);
    }
    assert_metrics_match_spans(received);
    // The headline numbers, spelled out.
    let totals = merged(received);
    let total = |metric: &str| -> f64 {
        totals
            .iter()
            .filter(|(k, _)| k.0 == metric)
            .map(|(_, m)| m.value + m.count as f64)
            .sum()
    };
    let spans = |name: &str| received.spans_named(name).len() as f64;
    assert_eq!(total("vendor.turn.count"), spans("vendor.a2a.orchestrate"));
    assert_eq!(total("vendor.tool.count"), spans("vendor.mcp.tool.execute"));
    assert!(spans("vendor.mcp.tool.execute.attempt") > spans("vendor.mcp.tool.execute"));
    assert_eq!(total("vendor.llm.count"), spans("vendor.llm.call"));
    let input: f64 = received
        .spans_named("vendor.llm.call")
        .iter()
        .filter_map(|s| number(s, "gen_ai.usage.input_tokens"))
        .sum();
    assert_eq!(total("vendor.llm.tokens.input"), input);
    // Every tenant reports under its own resource, as its spans do.
    let tenants: BTreeSet<&str> = received
        .metrics
        .iter()
        .map(|m| m["resource"]["tenant.id"].as_str().unwrap())
        .collect();
    assert_eq!(tenants, BTreeSet::from(["acme", "globex", "initech"]));
    for m in &received.metrics {
        assert_eq!(m["resource"]["service.name"], "telemetry-simulator");
        assert_eq!(m["scope"]["name"], "telemetry-simulator");
        assert_eq!(m["temporality"], 2, "cumulative by default");
    }
}

#[test]
fn logs_are_the_spans_records_at_their_times_with_their_ids() {
    let received = mixed_run();
    let spans: HashMap<(&str, &str), &Span> = received
        .spans
        .iter()
        .map(|s| ((s.trace_id.as_str(), s.span_id.as_str()), s))
        .collect();
    let genai = |s: &Span| GENAI.contains(&s.name.as_str());
    let mut expected: Vec<(String, String, u64)> = Vec::new();
    for s in &received.spans {
        let mut push =
            |event: &str, time: u64| expected.push((s.span_id.clone(), event.to_string(), time));
        match s.name.as_str() {
            "vendor.a2a.orchestrate" => {
                push("turn.start", s.start);
                push("turn.end", s.end);
            }
            "vendor.mcp.tool.execute" => push("tool.call", s.end),
            "vendor.llm.call" => push("vendor.llm.call", s.end),
            "rag.retrieve" => push("rag.retrieve", s.end),
            "a2a.call" => push("a2a.call", s.end),
            "cp.request" => push("cp.request", s.end),
            _ => {}
        }
        if s.status_code == 2 {
            let event = if genai(s) {
                "gen_ai.client.operation.exception"
            } else {
                "exception"
            };
            push(event, s.end);
        }
    }
    let mut got: Vec<(String, String, u64)> = Vec::new();
    for log in &received.logs {
        let key = (
            log["trace_id"].as_str().unwrap(),
            log["span_id"].as_str().unwrap(),
        );
        let span = spans
            .get(&key)
            .unwrap_or_else(|| panic!("log record of no span sent: {log}"));
        let event = log["event_name"].as_str().unwrap();
        got.push((
            span.span_id.clone(),
            event.to_string(),
            log["time_unix_nano"].as_u64().unwrap(),
        ));
        let a = &log["attributes"];
        // The original's attributes: the event name, and the turn index on every record.
        assert_eq!(a["event.name"], event);
        assert!(
            a["vendor.turn.index"]
                .as_i64()
                .is_some_and(|i| (0..10).contains(&i))
        );
        assert_eq!(log["resource"]["tenant.id"], tenant(span).as_str());
        assert_eq!(a["tenant.id"], tenant(span).as_str());
        assert_eq!(a["vendor.session.id"], span.attributes["vendor.session.id"]);
        assert_eq!(log["flags"], 1);
        assert_eq!(log["scope"]["name"], "telemetry-simulator");
        let failed = span.status_code == 2;
        let severity = log["severity_number"].as_i64().unwrap();
        let body = log["body"].as_str().unwrap();
        match event {
            "exception" | "gen_ai.client.operation.exception" => {
                assert_eq!(severity, if event == "exception" { 17 } else { 13 });
                assert_eq!(a["exception.type"], span.attributes["error.type"]);
                assert_eq!(a["exception.message"], span.status_message.as_str());
                assert_eq!(body, span.status_message);
            }
            "tool.call" => {
                let tool = span.attr_str("gen_ai.tool.name").unwrap();
                assert_eq!(severity, if failed { 17 } else { 9 });
                if failed {
                    assert_eq!(
                        body,
                        format!("Tool call to {tool} failed: {}", span.status_message)
                    );
                } else {
                    assert_eq!(body, format!("Tool call to {tool} completed"));
                }
                assert_eq!(
                    a["vendor.tool.status.code"],
                    if failed { "ERROR" } else { "OK" }
                );
                assert_eq!(a["vendor.tool.status.result"], !failed);
                assert!(close(
                    f(&a["tool.latency_ms"]),
                    span.duration_ns() as f64 / 1e6
                ));
            }
            "turn.end" => {
                assert_eq!(severity, if failed { 13 } else { 9 });
                let code = if failed { "ERROR" } else { "SUCCESS" };
                assert_eq!(body, format!("Agent turn completed with status {code}"));
                assert_eq!(a["vendor.turn.status.result"], !failed);
                assert!(close(f(&a["duration_ms"]), span.duration_ns() as f64 / 1e6));
            }
            "vendor.llm.call" => {
                assert_eq!(severity, if failed { 17 } else { 9 });
                assert_eq!(
                    a["gen_ai.request.model"],
                    span.attributes["gen_ai.request.model"]
                );
                assert_eq!(
                    a.get("gen_ai.usage.input_tokens"),
                    span.attributes.get("gen_ai.usage.input_tokens")
                );
            }
            "cp.request" => {
                let code = span.attr_str("vendor.cp.status.code").unwrap();
                let (want, word) = match (failed, code) {
                    (true, _) => (17, "ERROR"),
                    (false, "ALLOWED") => (9, "ALLOWED"),
                    (false, "FLAGGED") => (13, "FLAGGED"),
                    (false, _) => (17, code),
                };
                assert_eq!(severity, want, "{log}");
                assert_eq!(a["vendor.cp.status.code"], word);
            }
            _ => {}
        }
    }
    expected.sort();
    got.sort();
    assert_eq!(got.len(), expected.len());
    assert!(
        got == expected,
        "the log records are not one per span event"
    );
    assert!(
        received.requests_to("/v1/logs").len() >= 2,
        "batched, not one huge request"
    );
}

/// Runs the guarded scenario paced so that several metric exports happen during the run.
fn paced_run(temporality: &str) -> Received {
    let dir = scenario_dir(&[("guarded", GUARDED)]);
    let (received, out) = send(
        &[
            "scenario",
            "--name",
            "guarded",
            "--scenarios-dir",
            dir.path().to_str().unwrap(),
            "--count",
            "60",
            "--interval",
            "25",
            "--metrics-interval",
            "200ms",
            "--metrics-temporality",
            temporality,
            "--seed",
            "21",
            "-q",
        ],
        &[],
    );
    assert!(out.contains("Export of metrics"), "{out}");
    received
}

/// The distinct (start, time) windows of the metric points received.
fn windows(received: &Received) -> Vec<(u64, u64)> {
    let set: BTreeSet<(u64, u64)> = received
        .metrics
        .iter()
        .flat_map(|m| m["points"].as_array().unwrap())
        .map(|p| {
            (
                p["start_time_unix_nano"].as_u64().unwrap(),
                p["time_unix_nano"].as_u64().unwrap(),
            )
        })
        .collect();
    set.into_iter().collect()
}

#[test]
fn cumulative_and_delta_agree_with_the_spans_over_several_exports() {
    let cumulative = paced_run("cumulative");
    let delta = paced_run("delta");
    let same_traces = |r: &Received| -> BTreeSet<String> { r.traces().keys().cloned().collect() };
    assert_eq!(
        same_traces(&cumulative),
        same_traces(&delta),
        "one seed, one set of traces"
    );

    // Cumulative: every point from the run's start, growing export after export.
    let w = windows(&cumulative);
    assert!(w.len() >= 3, "the paced run lasts over a second: {w:?}");
    assert!(w.iter().all(|(start, _)| *start == w[0].0), "{w:?}");
    assert!(cumulative.metrics.iter().all(|m| m["temporality"] == 2));
    let mut series: BTreeMap<String, Vec<(u64, f64)>> = BTreeMap::new();
    for m in &cumulative.metrics {
        for p in m["points"].as_array().unwrap() {
            let total = p
                .get("value")
                .map_or_else(|| p["count"].as_f64().unwrap(), f);
            series
                .entry(format!(
                    "{} {} {}",
                    m["name"], m["resource"]["tenant.id"], p["attributes"]
                ))
                .or_default()
                .push((p["time_unix_nano"].as_u64().unwrap(), total));
        }
    }
    for (key, mut points) in series {
        points.sort_by_key(|(t, _)| *t);
        assert!(
            points.windows(2).all(|p| p[0].1 <= p[1].1),
            "{key}: {points:?}"
        );
    }
    assert_metrics_match_spans(&cumulative);

    // Delta: contiguous windows from the run's start, each point only what happened in it.
    let w = windows(&delta);
    assert!(w.len() >= 3, "{w:?}");
    assert!(
        w.windows(2).all(|p| p[1].0 == p[0].1),
        "contiguous windows: {w:?}"
    );
    assert!(delta.metrics.iter().all(|m| m["temporality"] == 1));
    for m in &delta.metrics {
        for p in m["points"].as_array().unwrap() {
            let (start, time) = (
                p["start_time_unix_nano"].as_u64().unwrap(),
                p["time_unix_nano"].as_u64().unwrap(),
            );
            // A trace is measured when it is generated, the instant its root ends: a root span
            // ends inside the window that counts it; its children ended earlier, maybe before.
            let root = m["name"] == "vendor.cp.request.duration_ms";
            for e in p["exemplars"].as_array().unwrap() {
                let t = e["time_unix_nano"].as_u64().unwrap();
                assert!(t <= time, "exemplar after its window: {e}");
                assert!(!root || start <= t, "root exemplar before its window: {e}");
            }
        }
    }
    assert_metrics_match_spans(&delta);

    // The sum of the deltas is the final cumulative.
    let (a, b) = (merged(&cumulative), merged(&delta));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (key, m) in &a {
        let d = &b[key];
        assert_eq!(
            (m.value, m.count, &m.buckets),
            (d.value, d.count, &d.buckets),
            "{key:?}"
        );
        assert!(close(m.sum, d.sum), "{key:?}");
    }
    assert!(
        b.values().any(|m| m.points >= 2),
        "some series reported in several intervals"
    );
}

#[test]
fn switches_turn_metrics_and_logs_off() {
    let args = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut a = vec![
            "scenario",
            "--name",
            "successful_agent_turn",
            "--count",
            "20",
            "--interval",
            "0",
        ];
        a.extend_from_slice(extra);
        a
    };
    let (r, out) = send(&args(&["--no-metrics"]), &[]);
    assert!(r.requests_to("/v1/metrics").is_empty() && !r.logs.is_empty());
    assert!(
        !out.contains("Export of metrics") && out.contains("Export of logs"),
        "{out}"
    );
    let (r, out) = send(&args(&["--no-logs"]), &[]);
    assert!(r.requests_to("/v1/logs").is_empty() && !r.metrics.is_empty());
    assert!(
        out.contains("Export of metrics") && !out.contains("Export of logs"),
        "{out}"
    );
    let (r, _) = send(&args(&[]), &[]);
    assert!(
        !r.metrics.is_empty() && !r.logs.is_empty(),
        "both on by default"
    );

    let quiet = "name: quiet\nemit_metrics: false\nemit_logs: false\nroot:\n  type: vendor.a2a.orchestrate\n";
    let loud = "name: loud\nroot:\n  type: vendor.llm.call\n";
    let dir = scenario_dir(&[("quiet", quiet), ("loud", loud)]);
    let (r, _) = send(
        &[
            "run",
            "--scenarios-dir",
            dir.path().to_str().unwrap(),
            "--count",
            "60",
            "--interval",
            "0",
            "-q",
        ],
        &[],
    );
    assert!(!r.spans_named("vendor.a2a.orchestrate").is_empty());
    let names: BTreeSet<&str> = r
        .metrics
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(!names.contains("vendor.turn.count"), "{names:?}");
    assert!(names.contains("vendor.llm.count"), "{names:?}");
    let quiet_traces: BTreeSet<&str> = r
        .spans_named("vendor.a2a.orchestrate")
        .iter()
        .map(|s| s.trace_id.as_str())
        .collect();
    assert!(!r.logs.is_empty());
    assert!(
        r.logs
            .iter()
            .all(|l| !quiet_traces.contains(l["trace_id"].as_str().unwrap()))
    );
}

#[test]
fn exception_span_events_are_opt_in() {
    let args = |flag: Option<&'static str>| {
        let mut a = vec![
            "scenario",
            "--name",
            "tool_retry",
            "--count",
            "40",
            "--interval",
            "0",
            "--seed",
            "3",
        ];
        a.extend(flag);
        a
    };
    let (without, _) = send(&args(None), &[]);
    assert!(without.spans.iter().all(|s| s.events.is_empty()));
    let (with, _) = send(&args(Some("--exception-span-events")), &[]);
    let failed: Vec<&Span> = with.spans.iter().filter(|s| s.status_code == 2).collect();
    assert!(!failed.is_empty());
    for s in &with.spans {
        if s.status_code != 2 {
            assert!(s.events.is_empty(), "{}", s.name);
            continue;
        }
        assert_eq!(s.events.len(), 1, "{}", s.name);
        let e = &s.events[0];
        assert_eq!(e["name"], "exception");
        assert_eq!(e["time_unix_nano"].as_u64(), Some(s.end));
        assert_eq!(
            e["attributes"]["exception.type"],
            s.attributes["error.type"]
        );
        assert_eq!(
            e["attributes"]["exception.message"],
            s.status_message.as_str()
        );
    }
    // The exception log records are still sent.
    let exceptions = with
        .logs
        .iter()
        .filter(|l| {
            l["event_name"] == "exception" || l["event_name"] == "gen_ai.client.operation.exception"
        })
        .count();
    assert_eq!(exceptions, failed.len());
}

#[test]
fn log_records_not_accepted_fail_the_run() {
    let judge = Judge::start();
    let out = bin()
        .args([
            "scenario",
            "--name",
            "successful_agent_turn",
            "--count",
            "10",
            "--interval",
            "0",
            "-q",
        ])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", judge.endpoint())
        .env(
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            format!("{}/v1/nowhere", judge.endpoint()),
        )
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("log records were not accepted"), "{t}");
    assert!(!t.contains("spans were not accepted"), "{t}");
    let received = judge.finish();
    assert_eq!(
        received.spans.len(),
        70,
        "traces still went to the common endpoint"
    );
    assert!(!received.metrics.is_empty(), "and so did metrics");
}

#[test]
fn bad_metric_options_are_usage_errors() {
    for args in [
        ["--metrics-interval", "0s"],
        ["--metrics-interval", "soon"],
        ["--metrics-temporality", "lowmemory"],
    ] {
        let out = bin()
            .args([
                "scenario",
                "--name",
                "successful_agent_turn",
                "--count",
                "1",
            ])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
    }
}

/// A control plane in front of a turn with a retrieval that sets no document count.
const ADMITTED: &str = r#"
name: admitted
root:
  type: cp.request
  error: {rate: 0.05}
  attributes:
    vendor.cp.status.code: {distribution: categorical, values: {ALLOWED: 0.7, BLOCKED: 0.3}}
  children:
    - type: vendor.a2a.orchestrate
      error: {rate: 0}
      children:
        - type: rag.retrieve
          error: {rate: 0}
          attributes: {rag.index.name: kb}
"#;

/// What dashboards built on the original's telemetry filter on, as received: the resource's
/// schema URL (TELEMETRY_SIMULATOR_RESOURCE_SCHEMA_URL) on every signal and protocol,
/// `event.name` and `{prefix}.turn.index` on every log record, a document count on every
/// retrieval (span, `vendor.rag.documents_returned` metric, log body) though the step sets
/// none, and `vendor.cp.outgoing_trace_id` on each request the control plane let through.
#[test]
fn what_the_original_dashboards_read_is_sent() {
    let url = "https://opentelemetry.io/schemas/1.37.0";
    let dir = scenario_dir(&[("admitted", ADMITTED)]);
    let dir = dir.path().to_str().unwrap();
    let args = |protocol: &'static str, count: &'static str| {
        [
            "scenario",
            "--name",
            "admitted",
            "--scenarios-dir",
            dir,
            "--count",
            count,
            "--interval",
            "0",
            "--seed",
            "5",
            "--metrics-temporality",
            "delta",
            "-q",
            "--protocol",
            protocol,
        ]
    };
    let env = [("TELEMETRY_SIMULATOR_RESOURCE_SCHEMA_URL", url)];
    let (received, _) = send(&args("http/protobuf", "300"), &env);
    let (json, _) = send(&args("http/json", "5"), &env);
    for r in [&received, &json] {
        for path in ["/v1/traces", "/v1/metrics", "/v1/logs"] {
            let requests = r.requests_to(path);
            assert!(!requests.is_empty(), "{path}");
            for request in requests {
                assert_eq!(request["schema_urls"], json!([url]), "{path}: {request}");
            }
        }
    }

    for log in &received.logs {
        let a = &log["attributes"];
        assert_eq!(a["event.name"], log["event_name"], "{log}");
        assert!(a["vendor.turn.index"].is_i64(), "{log}");
    }
    let retrievals = received.spans_named("rag.retrieve");
    let counts: Vec<i64> = retrievals
        .iter()
        .map(|s| {
            s.attr_i64("rag.documents.returned")
                .expect("a document count")
        })
        .collect();
    let as_f64: Vec<f64> = counts.iter().map(|&n| n as f64).collect();
    common::assert_mean_within(&as_f64, 5.0, "documents per retrieval (Poisson 5)");
    let histogram = merged(&received)
        .into_iter()
        .filter(|((name, ..), _)| name == "vendor.rag.documents_returned")
        .fold((0, 0.0), |(n, sum), (_, m)| (n + m.count, sum + m.sum));
    assert_eq!(
        histogram,
        (counts.len() as u64, counts.iter().sum::<i64>() as f64)
    );
    let bodies: BTreeSet<String> = received
        .logs
        .iter()
        .filter(|l| l["event_name"] == "rag.retrieve")
        .map(|l| l["body"].as_str().unwrap().to_string())
        .collect();
    let expected: BTreeSet<String> = counts
        .iter()
        .map(|n| format!("RAG retrieval from kb: {n} documents"))
        .collect();
    assert_eq!(bodies, expected);

    let requests = received.spans_named("cp.request");
    let mut admitted = 0;
    for cp in &requests {
        let through =
            cp.status_code != 2 && cp.attr_str("vendor.cp.status.code") == Some("ALLOWED");
        let outgoing = cp.attr_str("vendor.cp.outgoing_trace_id");
        assert_eq!(outgoing, through.then_some(cp.trace_id.as_str()), "{cp:?}");
        admitted += usize::from(through);
    }
    // 95% not failed × 70% ALLOWED.
    common::assert_proportion(admitted, requests.len(), 0.95 * 0.7, "admitted requests");
}

/// A retrieval that embeds its query first: the `llm.embeddings` span type.
const EMBEDDED: &str = r#"
name: embedded
root:
  type: vendor.a2a.orchestrate
  children:
    - type: rag.retrieve
      attributes: {rag.index.name: docs}
      children:
        - type: vendor.llm.embeddings
          error: {rate: 0.2}
          attributes: {gen_ai.provider.name: cohere, gen_ai.request.model: embed-english-v3.0}
"#;

#[test]
fn an_embeddings_call_is_an_embeddings_span_with_its_metrics_and_logs() {
    let dir = scenario_dir(&[("embedded", EMBEDDED)]);
    let dir = dir.path().to_str().unwrap();
    let args = ["scenario", "--name", "embedded", "--scenarios-dir", dir];
    let run = ["--count", "200", "--interval", "0", "--seed", "5", "-q"];
    let (got, _) = send(&[&args[..], &run[..]].concat(), &[]);
    let spans: Vec<&Span> = got
        .spans
        .iter()
        .filter(|s| s.name == "vendor.llm.embeddings")
        .collect();
    assert_eq!(spans.len(), 200);
    let mut failed = 0;
    for s in &spans {
        assert_eq!(s.kind, 3, "CLIENT");
        assert_eq!(s.attr_str("gen_ai.operation.name"), Some("embeddings"));
        assert_eq!(s.attr_str("openinference.span.kind"), Some("EMBEDDING"));
        assert_eq!(
            s.attr_str("embedding.model_name"),
            Some("embed-english-v3.0")
        );
        assert_eq!(s.attr_str("server.address"), Some("api.cohere.com"));
        assert_eq!(s.attr_i64("gen_ai.embeddings.dimension.count"), Some(1536));
        let input = s.attr_i64("gen_ai.usage.input_tokens").unwrap();
        assert_eq!(s.attr_i64("llm.token_count.prompt"), Some(input));
        for absent in ["gen_ai.usage.output_tokens", "gen_ai.response.id"] {
            assert!(!s.attributes.contains_key(absent), "{absent}");
        }
        if s.status_code == 2 {
            failed += 1;
            assert!(
                s.status_message.starts_with("embeddings call failed: "),
                "{}",
                s.status_message
            );
        }
    }
    // Binomial(200, 0.2): mean 40, standard deviation 5.7; five of them either side.
    assert!((12..=68).contains(&failed), "{failed} failures");
    // It reports as an inference: the GenAI duration histogram, under its operation...
    let genai: u64 = got
        .metrics
        .iter()
        .filter(|m| m["name"] == "gen_ai.client.operation.duration")
        .flat_map(|m| m["points"].as_array().unwrap())
        .filter(|p| p["attributes"]["gen_ai.operation.name"] == "embeddings")
        .map(|p| p["count"].as_u64().unwrap())
        .sum();
    assert_eq!(genai, 200);
    // ...and one `vendor.llm.call` record each, a GenAI exception for each failure.
    let ids: BTreeSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    let events = |name: &str| {
        got.logs
            .iter()
            .filter(|l| l["event_name"] == name && ids.contains(l["span_id"].as_str().unwrap()))
            .count()
    };
    assert_eq!(events("vendor.llm.call"), 200);
    assert_eq!(events("gen_ai.client.operation.exception"), failed);
}
