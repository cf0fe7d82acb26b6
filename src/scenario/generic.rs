//! Generic steps, step ids, links and parallel children: the parts of the model that let a
//! scenario describe spans that are not one of the agent span types (an HTTP call, a database
//! query, a vector-store search, a queue publish) and how steps relate beyond parent and child.
//!
//! A generic step is a [`super::Step`] whose `span_type` is [`super::SpanType::Generic`] and whose
//! [`Generic`] says its name template, kind and convention; everything else (latency, errors,
//! retries, count, children) is the ordinary step's, so nothing downstream needs a second code
//! path for timing or outcomes. A free-standing `GenericStep` type beside `Step` was rejected: it
//! would have duplicated every step key and every place that walks the tree. The model keeps only
//! the convention's *name*; what a convention means (its required attributes, its status code,
//! its error types) is data in `src/conventions/generic.rs`, so the model stays free of OTLP.

use crate::value::SpanKind;
use std::fmt;

/// The semantic convention a generic step follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Convention {
    Http,
    Db,
    VectorStore,
    Messaging,
    Rpc,
    None,
}

impl Convention {
    pub const ALL: [Convention; 6] = [
        Convention::Http,
        Convention::Db,
        Convention::VectorStore,
        Convention::Messaging,
        Convention::Rpc,
        Convention::None,
    ];

    /// Its `convention:` name.
    pub fn name(self) -> &'static str {
        match self {
            Convention::Http => "http",
            Convention::Db => "db",
            Convention::VectorStore => "vector_store",
            Convention::Messaging => "messaging",
            Convention::Rpc => "rpc",
            Convention::None => "none",
        }
    }

    pub fn parse(text: &str) -> Option<Convention> {
        Convention::ALL.into_iter().find(|c| c.name() == text)
    }
}

impl fmt::Display for Convention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The `kind:` names of a generic step.
pub const KIND_NAMES: [&str; 5] = ["internal", "server", "client", "producer", "consumer"];

/// The span kind a `kind:` name means.
pub fn parse_kind(text: &str) -> Option<SpanKind> {
    Some(match text {
        "internal" => SpanKind::Internal,
        "server" => SpanKind::Server,
        "client" => SpanKind::Client,
        "producer" => SpanKind::Producer,
        "consumer" => SpanKind::Consumer,
        _ => return None,
    })
}

/// What a generic step is, beyond the keys every step has.
#[derive(Clone, Debug, PartialEq)]
pub struct Generic {
    /// The span name as written, `{attribute}` placeholders unfilled (constants fill them at
    /// plan time; at most one may name a categorical attribute, one name per value).
    pub name: String,
    /// As written; `None`: the convention's usual kind (`src/conventions/generic.rs`).
    pub kind: Option<SpanKind>,
    pub convention: Convention,
}

impl Generic {
    /// The attribute keys the name's placeholders name, in order.
    pub fn placeholders(&self) -> Vec<&str> {
        placeholders(&self.name)
    }

    /// The name with each `{key}` replaced by `value(key)` (left as written when it has none).
    pub fn fill(&self, value: impl Fn(&str) -> Option<String>) -> String {
        let mut out = String::with_capacity(self.name.len());
        let mut rest = self.name.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) => {
                    let key = &after[..close];
                    match value(key) {
                        Some(v) => out.push_str(&v),
                        None => out.push_str(&rest[open..open + close + 2]),
                    }
                    rest = &after[close + 1..];
                }
                None => {
                    out.push_str(&rest[open..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// The `{key}` placeholders of a name template.
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        out.push(&after[..close]);
        rest = &after[close + 1..];
    }
    out
}

/// Where a link points.
#[derive(Clone, Debug, PartialEq)]
pub enum LinkTarget {
    /// The latest emitted instance of the step with this `id`, in the same trace.
    Step(String),
    /// The root span of the trace of the preceding iteration index.
    PreviousTrace,
}

/// The `to:` word that names the preceding trace.
pub const PREVIOUS_TRACE: &str = "previous_trace";

/// One link of a step.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub to: LinkTarget,
    /// Constant attributes of the link.
    pub attributes: Vec<(String, crate::value::Literal)>,
}

/// How a step relates to others beyond parent and child: its id, its links, and whether its
/// children run at once. The default (no id, no links, sequential) is every step's before these
/// keys existed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Wiring {
    pub id: Option<String>,
    pub links: Vec<Link>,
    /// Children start together (a fan-out) instead of one after the other.
    pub parallel: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_from_values_and_unknown_ones_stay() {
        let g = Generic {
            name: "SELECT {db.collection.name} {missing} {".into(),
            kind: Some(SpanKind::Client),
            convention: Convention::Db,
        };
        assert_eq!(g.placeholders(), ["db.collection.name", "missing"]);
        let filled = g.fill(|k| (k == "db.collection.name").then(|| "orders".to_string()));
        assert_eq!(filled, "SELECT orders {missing} {");
    }

    #[test]
    fn names_round_trip() {
        for c in Convention::ALL {
            assert_eq!(Convention::parse(c.name()), Some(c));
        }
        for k in KIND_NAMES {
            assert!(parse_kind(k).is_some());
        }
        assert_eq!(parse_kind("CLIENT"), None);
    }
}
