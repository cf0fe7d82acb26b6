//! Services and the calls between them, as the official Python bindings received them: each span
//! (and each log record and metric point) under its service's resource, every SERVER span a child
//! of its CLIENT span and inside it, the service graph of the received spans the one the scenario
//! describes, uninstrumented callees leaving only the client span, and the span-metrics
//! connector's RED metrics equal to what the received spans give.

use crate::common::{Received, Span, bin, scenario_dir, send_to_judge, text};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

/// A distributed agent: also checked against the JSON Schema (`json_schema.rs`).
pub const DISTRIBUTED: &str = r#"
name: distributed
services:
  support-agent:
    version: "2.3.0"
    instances: 3
    attributes: {deployment.environment.name: prod}
  search-mcp: {version: "0.4.1"}
  billing-agent: {}
  postgres: {instrumented: false}
root:
  type: vendor.a2a.orchestrate
  service: support-agent
  latency: 200
  children:
    - type: vendor.mcp.tool.execute
      count: 2
      latency: {distribution: log_normal, median_ms: 30, sigma: 0.5}
      error: {rate: 0.1}
      attributes:
        gen_ai.tool.name: {distribution: categorical, values: [web_search, fetch_page]}
      remote:
        service: search-mcp
        network_ms: {distribution: log_normal, median_ms: 2, sigma: 0.5}
    - type: vendor.a2a.call
      probability: 0.4
      attributes: {a2a.target.agent: billing-agent}
      remote: {service: billing-agent}
      children:
        - type: vendor.llm.call
    - type: vendor.rag.retrieve
      probability: 0.7
      remote: {service: postgres}
"#;

/// Traces of the distributed scenario.
const TRACES: usize = 300;

/// One run of the distributed scenario, two tenants, as the judge decoded it.
fn run() -> &'static Received {
    static RUN: OnceLock<Received> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = scenario_dir(&[("distributed", DISTRIBUTED)]);
        let received = send_to_judge(
            &[
                "scenario",
                "--scenarios-dir",
                dir.path().to_str().unwrap(),
                "--name",
                "distributed",
                "--count",
                &TRACES.to_string(),
                "--interval",
                "0",
                "--seed",
                "11",
            ],
            &[("TELEMETRY_TENANT_UUIDS", "acme,globex")],
        );
        assert!(received.warnings.is_empty(), "{:?}", received.warnings);
        received
    })
}

fn service(span: &Span) -> &str {
    span.resource_str("service.name").unwrap_or_default()
}

/// Each span's parent, by (trace id, span id).
fn parents(received: &Received) -> HashMap<(&str, &str), &Span> {
    received
        .spans
        .iter()
        .map(|s| ((s.trace_id.as_str(), s.span_id.as_str()), s))
        .collect()
}

fn parent_of<'a>(by_id: &HashMap<(&str, &str), &'a Span>, span: &Span) -> Option<&'a Span> {
    by_id
        .get(&(span.trace_id.as_str(), span.parent_span_id.as_str()))
        .copied()
}

/// The service a span of the scenario runs in.
fn expected_service(span: &Span, parent: Option<&Span>) -> &'static str {
    match (span.name.as_str(), span.kind) {
        (name, 2) if name.starts_with("tools/call") => "search-mcp",
        ("invoke_agent billing-agent", 2) => "billing-agent",
        ("vendor.llm.call", _) => "billing-agent",
        _ => {
            assert!(parent.is_none_or(|p| p.kind != 2 || service(p) == "support-agent"));
            "support-agent"
        }
    }
}

#[test]
fn each_span_log_and_metric_sits_under_its_services_resource() {
    let received = run();
    let by_id = parents(received);
    let mut instances: HashMap<&str, &str> = HashMap::new();
    for span in &received.spans {
        let want = expected_service(span, parent_of(&by_id, span));
        assert_eq!(service(span), want, "{} ({})", span.name, span.kind);
        let tenant = span.resource_str("tenant.id").unwrap_or_default();
        assert!(["acme", "globex"].contains(&tenant), "{:?}", span.resource);
        let instance = span.resource_str("service.instance.id").unwrap();
        match want {
            "support-agent" => {
                assert_eq!(span.resource_str("service.version"), Some("2.3.0"));
                assert_eq!(
                    span.resource_str("deployment.environment.name"),
                    Some("prod")
                );
                assert!(
                    ["support-agent-0", "support-agent-1", "support-agent-2"].contains(&instance)
                );
                // One instance per trace.
                let first = instances.entry(&span.trace_id).or_insert(instance);
                assert_eq!(*first, instance);
            }
            "search-mcp" => assert_eq!(span.resource_str("service.version"), Some("0.4.1")),
            _ => assert_eq!(instance, format!("{want}-0")),
        }
    }
    // Every instance is met, and each request holds one resource.
    let met: std::collections::BTreeSet<&str> = instances.values().copied().collect();
    assert_eq!(met.len(), 3, "{met:?}");
    for request in &received.requests {
        let resources = request["resources"].as_array().unwrap();
        assert_eq!(resources.len(), 1, "{request}");
    }
    // Log records go out under their span's resource.
    let spans_by_id: HashMap<(&str, &str), &Span> = parents(received);
    assert!(!received.logs.is_empty());
    for log in &received.logs {
        let key = (
            log["trace_id"].as_str().unwrap(),
            log["span_id"].as_str().unwrap(),
        );
        let span = spans_by_id[&key];
        assert_eq!(
            log["resource"]["service.name"].as_str(),
            Some(service(span))
        );
    }
    // So do the RED metrics: a point's service.name is its resource's.
    for metric in red_metrics(received) {
        for point in metric["points"].as_array().unwrap() {
            assert_eq!(
                point["attributes"]["service.name"],
                metric["resource"]["service.name"]
            );
        }
    }
}

#[test]
fn every_server_span_is_a_child_of_its_client_span_and_inside_it() {
    let received = run();
    let by_id = parents(received);
    // The root (an agent turn) is a SERVER span too, of no call.
    let servers: Vec<&Span> = received
        .spans
        .iter()
        .filter(|s| s.kind == 2 && !s.is_root())
        .collect();
    assert!(servers.len() >= 2 * TRACES, "{}", servers.len());
    for server in servers {
        let client = parent_of(&by_id, server).expect("a server span's parent was sent");
        assert_eq!(client.kind, 3, "{} under {}", server.name, client.name);
        // Network time either side.
        assert!(client.start < server.start && server.end < client.end);
        assert_eq!(client.attr_str("server.address"), Some(service(server)));
        assert_eq!(client.attr_i64("server.port"), Some(443));
        assert_eq!(server.attr_str("client.address"), Some(service(client)));
        assert_eq!(server.status_code, client.status_code);
        if service(server) == "search-mcp" {
            let tool = client.attr_str("gen_ai.tool.name").unwrap();
            assert_eq!(server.name, format!("tools/call {tool}"));
            assert_eq!(server.attr_str("mcp.method.name"), Some("tools/call"));
            assert_eq!(server.attr_str("gen_ai.tool.name"), Some(tool));
            assert!(server.attr_str("jsonrpc.request.id").is_some());
        }
    }
}

/// Client service → server service, with counts, from the received spans alone.
fn service_graph(received: &Received) -> BTreeMap<(String, String), usize> {
    let by_id = parents(received);
    let mut edges = BTreeMap::new();
    for server in received
        .spans
        .iter()
        .filter(|s| s.kind == 2 && !s.is_root())
    {
        if let Some(client) = parent_of(&by_id, server) {
            let key = (service(client).to_string(), service(server).to_string());
            *edges.entry(key).or_default() += 1;
        }
    }
    edges
}

#[test]
fn the_service_graph_of_the_received_spans_is_the_scenarios() {
    let received = run();
    let edges = service_graph(received);
    let edge = |a: &str, b: &str| edges.get(&(a.into(), b.into())).copied().unwrap_or(0);
    assert_eq!(edges.len(), 2, "{edges:?}");
    // Two tool calls a trace, one attempt each.
    assert_eq!(edge("support-agent", "search-mcp"), 2 * TRACES);
    // p = 0.4 over 300 traces: mean 120, standard deviation 8.5; five of them is 42.
    let billing = edge("support-agent", "billing-agent") as f64;
    assert!((billing - 0.4 * TRACES as f64).abs() < 42.0, "{billing}");
    // The uninstrumented database: client spans that name it, and nothing from it.
    assert!(received.spans.iter().all(|s| service(s) != "postgres"));
    let rag = received.spans_named("rag.retrieve");
    assert!(
        rag.iter()
            .all(|s| s.kind == 3 && s.attr_str("server.address") == Some("postgres"))
    );
    let by_id = parents(received);
    assert!(
        received
            .spans
            .iter()
            .filter_map(|s| parent_of(&by_id, s))
            .all(|p| p.name != "rag.retrieve"),
        "an uninstrumented call has no child"
    );
    // p = 0.7: mean 210, standard deviation 7.9.
    assert!(
        (rag.len() as f64 - 0.7 * TRACES as f64).abs() < 40.0,
        "{}",
        rag.len()
    );
}

fn red_metrics(received: &Received) -> Vec<&Value> {
    received
        .metrics
        .iter()
        .filter(|m| {
            m["name"]
                .as_str()
                .unwrap()
                .starts_with("traces.span.metrics.")
        })
        .collect()
}

/// Metric, tenant, resource and point attributes: one series.
type SeriesKey = (String, String, String, String);

/// The latest cumulative point of each series (a service's instances are series of their own).
fn latest(received: &Received) -> BTreeMap<SeriesKey, Value> {
    let mut out: BTreeMap<SeriesKey, Value> = BTreeMap::new();
    for metric in red_metrics(received) {
        let tenant = metric["resource"]["tenant.id"]
            .as_str()
            .unwrap()
            .to_string();
        for point in metric["points"].as_array().unwrap() {
            let key = (
                metric["name"].as_str().unwrap().to_string(),
                tenant.clone(),
                metric["resource"].to_string(),
                point["attributes"].to_string(),
            );
            let newer = out
                .get(&key)
                .is_none_or(|p| p["time_unix_nano"].as_u64() <= point["time_unix_nano"].as_u64());
            if newer {
                out.insert(key, point.clone());
            }
        }
    }
    out
}

/// Tenant, service, span name, span kind and status code: the connector's dimensions (and the
/// tenant of the resource).
type RedKey = (String, String, String, String, String);

#[test]
fn red_metrics_per_service_and_span_name_equal_what_the_spans_give() {
    let received = run();
    let kind = |k: i64| match k {
        1 => "SPAN_KIND_INTERNAL",
        2 => "SPAN_KIND_SERVER",
        3 => "SPAN_KIND_CLIENT",
        _ => "?",
    };
    let mut expected: BTreeMap<RedKey, (u64, f64)> = BTreeMap::new();
    for span in &received.spans {
        let status = if span.status_code == 2 {
            "STATUS_CODE_ERROR"
        } else {
            "STATUS_CODE_UNSET"
        };
        let key = (
            span.resource_str("tenant.id").unwrap().to_string(),
            service(span).to_string(),
            span.name.clone(),
            kind(span.kind).to_string(),
            status.to_string(),
        );
        let entry = expected.entry(key).or_default();
        entry.0 += 1;
        entry.1 += span.duration_ns() as f64 / 1e6;
    }
    let mut got: BTreeMap<RedKey, (u64, u64, f64)> = BTreeMap::new();
    for ((metric, tenant, _, _), point) in latest(received) {
        let a = &point["attributes"];
        let s = |k: &str| a[k].as_str().unwrap().to_string();
        let key = (
            tenant,
            s("service.name"),
            s("span.name"),
            s("span.kind"),
            s("status.code"),
        );
        let entry = got.entry(key).or_default();
        match metric.as_str() {
            "traces.span.metrics.calls" => entry.0 += point["value"].as_u64().unwrap(),
            "traces.span.metrics.duration" => {
                entry.1 += point["count"].as_u64().unwrap();
                entry.2 += point["sum"].as_f64().unwrap();
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (key, (count, ms)) in &expected {
        let (calls, histogram_count, sum) = got[key];
        assert_eq!((calls, histogram_count), (*count, *count), "{key:?}");
        assert!(
            (sum - ms).abs() <= 1e-6 * ms.max(1.0),
            "{key:?}: {sum} vs {ms}"
        );
    }
}

#[test]
fn a_scenario_without_services_keeps_its_one_service_and_no_red_metrics() {
    let received = send_to_judge(
        &[
            "scenario",
            "--name",
            "successful_agent_turn",
            "--count",
            "20",
            "--interval",
            "0",
            "--service-name",
            "my-agent",
        ],
        &[],
    );
    assert!(!received.spans.is_empty());
    assert!(received.spans.iter().all(|s| service(s) == "my-agent"));
    assert!(received.spans.iter().all(|s| s.kind != 2 || s.is_root()));
    assert!(red_metrics(&received).is_empty());
}

#[test]
fn validate_names_an_undeclared_service_where_it_is_written() {
    let broken = DISTRIBUTED.replace(
        "remote: {service: billing-agent}",
        "remote: {service: biling-agent}",
    );
    let dir = scenario_dir(&[("distributed", &broken)]);
    let file = dir.path().join("distributed.yaml");
    let out = bin()
        .args(["validate", file.to_str().unwrap()])
        .output()
        .unwrap();
    let printed = text(&out);
    assert!(!out.status.success(), "{printed}");
    assert!(printed.contains("distributed.yaml:28:"), "{printed}");
    assert!(
        printed.contains("root.children[1].remote.service"),
        "{printed}"
    );
    assert!(
        printed.contains("did you mean `billing-agent`?"),
        "{printed}"
    );
}
