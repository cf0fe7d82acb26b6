//! Generic steps, links and parallel children, checked on what the official Python decoder
//! received: generic spans carry their conventions' attributes, kinds and filled-in names; links
//! point at spans that were sent (in the same trace, or the previous trace's root) and are the
//! same at any worker count; parallel children overlap and sequential ones do not. Plus the
//! located errors `validate` gives for a bad link target or a step that is both kinds.

use crate::common::{Received, Span, bin, scenario_dir, send_to_judge, text};
use std::collections::{BTreeSet, HashMap};

/// An agent turn that calls an HTTP API, a database, a vector store and a gRPC service in a
/// parallel fan-out, then publishes to a queue (linked to the HTTP call) in sequence; the root
/// links to the previous turn.
const DISTRIBUTED: &str = r#"
name: distributed
root:
  type: vendor.a2a.orchestrate
  latency: 5
  error: 0
  links: [{to: previous_trace, attributes: {link.reason: follow_up}}]
  children:
    - name: "fan-out"
      parallel: true
      latency: 1
      error: 0
      children:
        - name: "GET {url.template}"
          convention: http
          id: orders_api
          latency: {distribution: log_normal, median_ms: 40, sigma: 0.2}
          error: 0.3
          attributes:
            url.template: /orders/{id}
            url.full: https://orders.internal/orders/42
            server.address: orders.internal
            server.port: 443
        - name: "{db.operation.name} {db.collection.name}"
          convention: db
          latency: {distribution: log_normal, median_ms: 30, sigma: 0.2}
          error: 0
          attributes:
            db.system.name: postgresql
            db.collection.name: orders
            db.operation.name: {distribution: categorical, values: [SELECT, UPDATE]}
            db.query.text: "SELECT * FROM orders WHERE id = $1"
        - name: "search {db.collection.name}"
          convention: vector_store
          latency: {distribution: log_normal, median_ms: 20, sigma: 0.2}
          error: 0
          attributes: {db.system.name: qdrant, db.collection.name: docs}
        - name: "{rpc.service}/{rpc.method}"
          convention: rpc
          latency: 10
          error: 0.3
          attributes: {rpc.service: billing.Ledger, rpc.method: Charge}
    - name: "publish {messaging.destination.name}"
      convention: messaging
      latency: 8
      error: 0
      links: [{to: orders_api, attributes: {messaging.operation.type: process}}]
      attributes: {messaging.system: kafka, messaging.destination.name: order-events}
    - name: "compose"
      latency: 1
      error: 0
      children:
        - {name: first, latency: 15, error: 0}
        - {name: second, latency: 15, error: 0}
"#;

const TRACES: usize = 60;

fn send(workers: &str) -> Received {
    let dir = scenario_dir(&[("distributed", DISTRIBUTED)]);
    send_to_judge(
        &[
            "scenario",
            "--name",
            "distributed",
            "--scenarios-dir",
            dir.path().to_str().unwrap(),
            "--count",
            &TRACES.to_string(),
            "--interval",
            "0",
            "--seed",
            "17",
            "--workers",
            workers,
        ],
        &[("TENANT_UUID", "tenant-1")],
    )
}

fn one<'r>(spans: &[&'r Span], name: &str) -> &'r Span {
    let found: Vec<&&Span> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(found.len(), 1, "one `{name}` per trace");
    found[0]
}

fn overlap(a: &Span, b: &Span) -> bool {
    a.start < b.end && b.start < a.end
}

/// OTLP span kinds.
const CLIENT: i64 = 3;
const PRODUCER: i64 = 4;
const STATUS_ERROR: i64 = 2;

#[test]
fn generic_spans_carry_their_conventions_attributes_kinds_and_names() {
    let received = send("2");
    assert_eq!(received.traces().len(), TRACES);
    let mut http_failures = 0;
    let mut operations = BTreeSet::new();
    for spans in received.traces().values() {
        let http = one(spans, "GET /orders/{id}");
        assert_eq!(http.kind, CLIENT);
        assert_eq!(http.attr_str("http.request.method"), Some("GET"));
        assert_eq!(http.attr_str("server.address"), Some("orders.internal"));
        assert_eq!(http.attr_i64("server.port"), Some(443));
        let code = http
            .attr_i64("http.response.status_code")
            .expect("a status code");
        if http.status_code == STATUS_ERROR {
            http_failures += 1;
            assert!((400..600).contains(&code), "{code}");
            assert_eq!(http.attr_str("error.type"), Some(code.to_string().as_str()));
        } else {
            assert_eq!(code, 200);
            assert_eq!(http.attr_str("error.type"), None);
        }

        // The name follows the operation drawn for the span.
        let db = spans
            .iter()
            .find(|s| s.attr_str("db.system.name") == Some("postgresql"))
            .expect("a query");
        let operation = db.attr_str("db.operation.name").expect("an operation");
        assert_eq!(db.name, format!("{operation} orders"));
        operations.insert(operation.to_string());
        assert_eq!(db.kind, CLIENT);
        assert!(db.attr_str("db.query.text").is_some());

        let search = one(spans, "search docs");
        assert_eq!(search.attr_str("db.system.name"), Some("qdrant"));
        assert_eq!(search.attr_str("db.operation.name"), Some("search"));

        let rpc = one(spans, "billing.Ledger/Charge");
        assert_eq!(rpc.attr_str("rpc.system"), Some("grpc"));
        let grpc = rpc.attr_i64("rpc.grpc.status_code").expect("a gRPC status");
        assert_eq!(grpc == 0, rpc.status_code != STATUS_ERROR);

        let publish = one(spans, "publish order-events");
        assert_eq!(publish.kind, PRODUCER);
        assert_eq!(publish.attr_str("messaging.system"), Some("kafka"));
        assert_eq!(publish.attr_str("messaging.operation.type"), Some("send"));
        assert_eq!(
            publish.attr_str("messaging.operation.name"),
            Some("publish")
        );
        // Generic spans are no OpenInference spans.
        assert_eq!(publish.attr_str("openinference.span.kind"), None);
    }
    // 60 draws at 0.3: 3 sigma is about 11 either side of 18.
    assert!((7..=30).contains(&http_failures), "{http_failures}");
    assert_eq!(operations.len(), 2, "{operations:?}");
}

#[test]
fn links_point_at_spans_that_were_sent() {
    let received = send("2");
    let sent: HashMap<(&str, &str), &Span> = received
        .spans
        .iter()
        .map(|s| ((s.trace_id.as_str(), s.span_id.as_str()), s))
        .collect();
    let (mut in_trace, mut to_previous, mut roots_without) = (0, 0, 0);
    for span in &received.spans {
        for link in &span.links {
            let key = (
                link["trace_id"].as_str().unwrap(),
                link["span_id"].as_str().unwrap(),
            );
            let target = sent
                .get(&key)
                .unwrap_or_else(|| panic!("`{}` links to {key:?}, never sent", span.name));
            assert_eq!(link["flags"], 0x101);
            if span.is_root() {
                assert!(target.is_root(), "previous_trace names a root");
                assert_ne!(target.trace_id, span.trace_id);
                assert_eq!(link["attributes"]["link.reason"], "follow_up");
                to_previous += 1;
            } else {
                assert_eq!(span.name, "publish order-events");
                assert_eq!(target.name, "GET /orders/{id}");
                assert_eq!(target.trace_id, span.trace_id);
                assert_eq!(link["attributes"]["messaging.operation.type"], "process");
                in_trace += 1;
            }
        }
        if span.is_root() && span.links.is_empty() {
            roots_without += 1;
        }
    }
    assert_eq!(in_trace, TRACES);
    // Every trace but the run's first names its predecessor.
    assert_eq!((to_previous, roots_without), (TRACES - 1, 1));
}

#[test]
fn parallel_children_overlap_and_sequential_ones_do_not() {
    let received = send("1");
    for spans in received.traces().values() {
        let fan = one(spans, "fan-out");
        let children: Vec<&Span> = spans
            .iter()
            .copied()
            .filter(|s| s.parent_span_id == fan.span_id)
            .collect();
        assert_eq!(children.len(), 4);
        let first_start = children.iter().map(|s| s.start).min().unwrap();
        for child in &children {
            assert!(
                child.start >= fan.start && child.end <= fan.end,
                "inside its parent"
            );
            // A small bounded stagger (2 ms) at most.
            assert!(child.start - first_start <= 2_000_000);
        }
        for pair in children.windows(2) {
            assert!(
                overlap(pair[0], pair[1]),
                "{} / {}",
                pair[0].name,
                pair[1].name
            );
        }
        let (first, second) = (one(spans, "first"), one(spans, "second"));
        assert!(
            first.end <= second.start,
            "sequential children do not overlap"
        );
        // The fan-out and the publish after it are sequential siblings too.
        assert!(fan.end <= one(spans, "publish order-events").start);
    }
}

#[test]
fn the_same_seed_gives_the_same_links_at_one_and_four_workers() {
    let links = |received: &Received| -> BTreeSet<(String, String, String, String)> {
        received
            .spans
            .iter()
            .flat_map(|s| {
                s.links.iter().map(|l| {
                    (
                        s.trace_id.clone(),
                        s.span_id.clone(),
                        l["trace_id"].as_str().unwrap().to_string(),
                        l["span_id"].as_str().unwrap().to_string(),
                    )
                })
            })
            .collect()
    };
    let one_worker = links(&send("1"));
    assert_eq!(one_worker.len(), 2 * TRACES - 1);
    assert_eq!(one_worker, links(&send("4")));
}

#[test]
fn validate_locates_a_bad_link_target_and_a_step_of_both_kinds() {
    let dir = scenario_dir(&[(
        "broken",
        "name: broken\nroot:\n  type: vendor.a2a.orchestrate\n  children:\n    - name: \"GET /x\"\n      convention: http\n      id: orders_query\n    - name: \"publish\"\n      links: [{to: order_query}]\n    - type: vendor.llm.call\n      name: chat\n",
    )]);
    let out = bin()
        .arg("validate")
        .arg(dir.path().join("broken.yaml"))
        .output()
        .unwrap();
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(2), "{printed}");
    assert!(
        printed.contains("broken.yaml:9:20: root.children[1].links[0].to")
            && printed.contains("link target `order_query`")
            && printed.contains("did you mean `orders_query`?"),
        "{printed}"
    );
    assert!(
        printed.contains("broken.yaml:11:13: root.children[2].name")
            && printed.contains("both `type` and `name`"),
        "{printed}"
    );
}
