//! `check`'s view of services: the service graph of the simulated traces (which service calls
//! which, how often), the service of each span of the typical trace, and their rendering.
//!
//! The graph is counted from the span records as a service-graph connector counts received
//! spans: an edge per call, from the client span's service to the callee's. A call into an
//! instrumented service is a CLIENT/SERVER pair; one into an uninstrumented service has only its
//! client span, and its edge is kept apart (a backend sees it only from the client's
//! `server.address`). Deriving the graph from the scenario's steps alone was the alternative
//! rejected: probabilities, counts and retries decide how many calls a trace makes, and the
//! simulation already draws them.

use crate::generate::{Plan, SpanRecord, Trace};
use crate::scenario::SpanType;
use serde_json::{Value, json};

/// One edge of the service graph.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceEdge {
    pub client: String,
    pub server: String,
    pub calls: u64,
    pub per_trace: f64,
    /// Whether the callee sends its SERVER spans.
    pub instrumented: bool,
}

/// Edges counted so far, in order of first sight.
#[derive(Default)]
pub(super) struct Graph {
    edges: Vec<(u32, u16, bool, u64)>,
}

impl Graph {
    pub fn add_trace(&mut self, plan: &Plan, trace: &Trace) {
        if !plan.services.is_declared() {
            return;
        }
        for span in &trace.spans {
            let node = plan.node(span.node);
            let Some(call) = &node.call else { continue };
            // The client span of a call: the step's own span, or each attempt of an MCP tool.
            let client =
                !span.server && (span.attempt || node.span_type != SpanType::McpToolExecute);
            if !client {
                continue;
            }
            let caller = plan
                .services
                .service_of_resource(span.resource)
                .unwrap_or(0) as u32;
            let key = (caller, call.callee, call.instrumented);
            match self
                .edges
                .iter_mut()
                .find(|(a, b, i, _)| (*a, *b, *i) == key)
            {
                Some(edge) => edge.3 += 1,
                None => self.edges.push((key.0, key.1, key.2, 1)),
            }
        }
    }

    pub fn report(&self, plan: &Plan, traces: u64) -> Vec<ServiceEdge> {
        let name = |s: u16| {
            plan.services
                .name(s)
                .map(|sym| plan.str(sym).to_string())
                .unwrap_or_default()
        };
        self.edges
            .iter()
            .map(|&(client, server, instrumented, calls)| ServiceEdge {
                client: name(client as u16),
                server: name(server),
                calls,
                per_trace: calls as f64 / traces.max(1) as f64,
                instrumented,
            })
            .collect()
    }
}

/// The `service.name` of a span, when the scenario declares services.
pub(super) fn service_of(plan: &Plan, span: &SpanRecord) -> Option<String> {
    if !plan.services.is_declared() {
        return None;
    }
    let service = plan.services.service_of_resource(span.resource)?;
    plan.services.name(service).map(|s| plan.str(s).to_string())
}

/// The graph as JSON: a list of edges.
pub(super) fn edges_json(edges: &[ServiceEdge]) -> Value {
    Value::Array(
        edges
            .iter()
            .map(|e| {
                json!({
                    "client": e.client,
                    "server": e.server,
                    "calls": e.calls,
                    "per_trace": e.per_trace,
                    "instrumented": e.instrumented,
                })
            })
            .collect(),
    )
}

/// The graph as a table for people (nothing without services).
pub(super) fn render(edges: &[ServiceEdge]) -> String {
    if edges.is_empty() {
        return String::new();
    }
    let width = edges
        .iter()
        .map(|e| e.client.len() + e.server.len() + 4)
        .max()
        .unwrap_or(0)
        .max(14);
    let mut out = format!(
        "\nService graph (client → server):\n  {:<width$}  {:>9}  {:>9}\n",
        "edge", "calls", "per trace"
    );
    for e in edges {
        let edge = format!("{} → {}", e.client, e.server);
        out.push_str(&format!(
            "  {:<width$}  {:>9}  {:>9.3}{}\n",
            edge,
            e.calls,
            e.per_trace,
            if e.instrumented {
                ""
            } else {
                "  (uninstrumented: client spans only)"
            }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::generate::testing;

    #[test]
    fn the_graph_counts_each_call_once_per_client_span() {
        let text = "services:\n  agent: {}\n  search: {}\n  db: {instrumented: false}\nroot:\n  children:\n    - type: vendor.mcp.tool.execute\n      count: 2\n      error: 0\n      remote: {service: search}\n    - type: vendor.rag.retrieve\n      probability: 0.5\n      remote: {service: db}\n";
        let plan = testing::plan(text);
        let options = crate::scenario::LoadOptions::default();
        let scenario = crate::scenario::decode(text, "t.yaml", "t", &options)
            .unwrap()
            .0;
        let report = super::super::check(&scenario, &plan, 5, 2000, &|| false);
        let edge = |server: &str| {
            report
                .services
                .iter()
                .find(|e| e.server == server)
                .unwrap_or_else(|| panic!("no edge to {server}: {:?}", report.services))
        };
        let search = edge("search");
        assert_eq!(search.client, "agent");
        assert_eq!(
            search.calls, 4000,
            "two tool calls a trace, one attempt each"
        );
        assert!(search.instrumented);
        // 2000 draws of p = 0.5: the standard deviation of the mean is about 0.011.
        let db = edge("db");
        assert!((db.per_trace - 0.5).abs() < 0.06, "{}", db.per_trace);
        assert!(!db.instrumented);
        assert!(report.render().contains("agent → search"));
        assert!(
            report
                .typical
                .iter()
                .any(|s| s.service.as_deref() == Some("search"))
        );
    }
}
