//! Services: the processes a trace crosses, and the calls from one into another.
//!
//! A scenario may declare `services` (each a `service.name` with its version, resource
//! attributes, instance count and whether it is instrumented); a step runs in a service
//! (`service:`, inherited by its children) and may call into another (`remote:`), which gives the
//! caller's CLIENT span and the callee's SERVER span. This module holds the model of both and
//! their key tables (read by the decoder and the JSON Schema, like every other mapping of the
//! format), and the one check that needs the whole document: every service a step names is
//! declared. The model stays free of OTLP: which resource a span goes out under is the
//! generator's and the encoder's business.
//!
//! Declaring services inline on each step (`service: {name, version}`) was the alternative
//! rejected: the same service appears under many steps, and one table gives one place to change
//! its version or instance count, and a name that `validate` can check every reference against.

use super::format::{Key, Mapping, Shape};
use super::model::{Attribute, Distribution, Latency};

/// One declared service.
#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    /// `service.name`.
    pub name: String,
    /// `service.version`; the run's own when absent.
    pub version: Option<String>,
    /// More resource attributes (values as text), each replacing the run's of the same key.
    pub attributes: Vec<(String, String)>,
    /// How many instances (`service.instance.id`) the service has; each trace meets one.
    pub instances: u32,
    /// `false`: calls into it leave only the caller's CLIENT span.
    pub instrumented: bool,
}

impl Service {
    /// A service with the defaults of every key.
    pub fn named(name: &str) -> Service {
        Service {
            name: name.to_string(),
            version: None,
            attributes: Vec::new(),
            instances: 1,
            instrumented: true,
        }
    }
}

/// A step's call into another service.
#[derive(Clone, Debug, PartialEq)]
pub struct Remote {
    /// The callee: a declared service.
    pub service: String,
    /// The SERVER span's name (placeholders `{key}` from the client span's attributes); the
    /// conventions' name for the call when absent.
    pub name: Option<String>,
    /// Network time each way, between the client span's edges and the server span's.
    pub network: Latency,
    /// Extra attributes of the SERVER span.
    pub attributes: Vec<Attribute>,
}

/// Network time each way when a `remote` gives none: about a millisecond, as within a region.
pub fn default_network() -> Latency {
    Latency::Distribution(Distribution::LogNormal {
        median: 1.0,
        sigma: 0.5,
    })
}

/// The most instances a service may declare: more is a typo, and only multiplies resources.
pub const MAX_INSTANCES: i64 = 1000;

const fn key(names: &'static [&'static str], shape: Shape, doc: &'static str) -> Key {
    Key { names, shape, doc }
}

pub static SERVICE: Mapping = Mapping {
    name: "service",
    doc: "One service (its key is its service.name): the resource its spans, metrics and logs go out under.",
    keys: &[
        key(
            &["version"],
            Shape::Text,
            "service.version (default: the simulator's).",
        ),
        key(
            &["attributes"],
            Shape::ResourceAttributes,
            "More resource attributes (scalars, sent as text); they replace the run's of the same key.",
        ),
        key(
            &["instances"],
            Shape::Integer {
                min: 1,
                max: MAX_INSTANCES,
            },
            "How many instances (service.instance.id `<name>-<i>`); each trace meets one, chosen by its trace id (default 1).",
        ),
        key(
            &["instrumented"],
            Shape::Bool,
            "false: calls into this service leave only the caller's CLIENT span (default true).",
        ),
    ],
};

pub static REMOTE: Mapping = Mapping {
    name: "remote",
    doc: "A call into another service: this step's span becomes the CLIENT span, and the callee's SERVER span is its child.",
    keys: &[
        key(
            &["service"],
            Shape::Text,
            "The callee: a service declared under `services`.",
        ),
        key(
            &["name"],
            Shape::Text,
            "The SERVER span's name; `{key}` is replaced by the client span's attribute (default: per the conventions, e.g. `tools/call {gen_ai.tool.name}` for MCP).",
        ),
        key(
            &["network_ms"],
            Shape::Latency,
            "Network time each way, in ms: a number, a jitter mapping or a distribution (default log-normal, median 1 ms, sigma 0.5).",
        ),
        key(
            &["attributes"],
            Shape::Attributes,
            "More attributes of the SERVER span.",
        ),
    ],
};

/// The service names a scenario's steps may use: its declared ones.
pub fn declared_names(services: &[Service]) -> impl Iterator<Item = &str> {
    services.iter().map(|s| s.name.as_str())
}

/// Text for a resource attribute written as a scalar.
pub fn scalar_text(literal: &super::Literal) -> Option<String> {
    use super::Literal;
    match literal {
        Literal::Str(s) => Some(s.clone()),
        Literal::Int(i) => Some(i.to_string()),
        Literal::Float(f) => Some(f.to_string()),
        Literal::Bool(b) => Some(b.to_string()),
        Literal::List(_) | Literal::Map(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{LoadOptions, decode};

    fn decode_text(text: &str) -> Result<crate::scenario::Scenario, String> {
        decode(text, "s.yaml", "s", &LoadOptions::default())
            .map(|(s, _)| s)
            .map_err(|d| d.to_string())
    }

    #[test]
    fn services_and_calls_decode_with_their_defaults() {
        let s = decode_text(
            "root:\n  service: agent\n  children:\n    - type: vendor.mcp.tool.execute\n      remote: {service: search, network_ms: 3}\nservices:\n  agent: {version: \"2.3.0\", attributes: {deployment.environment.name: prod, shard: 3}, instances: 3}\n  search:\n  db: {instrumented: false}\n",
        )
        .unwrap();
        assert_eq!(s.services.len(), 3);
        assert_eq!(s.services[0].version.as_deref(), Some("2.3.0"));
        assert_eq!(
            s.services[0].attributes,
            vec![
                ("deployment.environment.name".into(), "prod".into()),
                ("shard".into(), "3".into())
            ]
        );
        assert_eq!(s.services[0].instances, 3);
        assert_eq!(s.services[1], Service::named("search"));
        assert!(!s.services[2].instrumented);
        assert_eq!(s.root.service.as_deref(), Some("agent"));
        let remote = s.root.children[0].remote.as_ref().unwrap();
        assert_eq!(remote.service, "search");
        assert!(remote.name.is_none());
    }

    #[test]
    fn an_unknown_service_is_a_located_error_with_a_suggestion() {
        let error = decode_text(
            "services:\n  search-mcp: {}\nroot:\n  children:\n    - type: vendor.llm.call\n      remote: {service: serch-mcp}\n",
        )
        .unwrap_err();
        assert!(error.contains("s.yaml:6:"), "{error}");
        assert!(error.contains("root.children[0].remote.service"), "{error}");
        assert!(error.contains("did you mean `search-mcp`"), "{error}");
        let undeclared =
            decode_text("root:\n  service: agent\n").expect_err("no services declared");
        assert!(
            undeclared.contains("`agent` is not declared"),
            "{undeclared}"
        );
    }
}
