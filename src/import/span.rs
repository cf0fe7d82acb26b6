//! One span as every reader hands it on: only what fitting needs (tree, timing, outcome,
//! attributes, service, kind, links), whatever the input format was.
//!
//! A format-neutral record rather than the `opentelemetry-proto` span: Jaeger's JSON has no such
//! span, and the proto span keeps events, trace state and dropped counts that fitting never
//! reads, which a million-span import would carry for nothing.

/// An attribute value, reduced to what a scenario can express.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    Str(String),
    Int(i64),
    Double(f64),
    Bool(bool),
    /// Arrays, key-value lists and bytes: kept as their text, treated as strings.
    Other(String),
}

impl AttrValue {
    /// The value as a number, if it is one.
    pub fn number(&self) -> Option<f64> {
        match self {
            AttrValue::Int(i) => Some(*i as f64),
            AttrValue::Double(d) => Some(*d),
            _ => None,
        }
    }
}

/// A span kind as OTLP numbers it (0 unspecified, 1 internal, 2 server, 3 client, 4 producer,
/// 5 consumer).
pub type Kind = u8;

/// What a resource says of its service beyond its name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resource {
    pub version: Option<String>,
    pub instance: Option<String>,
}

impl Resource {
    /// `service.version` and `service.instance.id` of resource attributes; `None` without either.
    pub fn of(attributes: &[(String, AttrValue)]) -> Option<std::sync::Arc<Resource>> {
        let text = |key: &str| {
            attributes.iter().find_map(|(k, v)| match v {
                AttrValue::Str(s) if k == key => Some(s.clone()),
                _ => None,
            })
        };
        let r = Resource {
            version: text("service.version"),
            instance: text("service.instance.id"),
        };
        (r != Resource::default()).then(|| std::sync::Arc::new(r))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct RawSpan {
    pub trace_id: u128,
    pub span_id: u64,
    pub parent: Option<u64>,
    pub name: String,
    pub service: Option<String>,
    /// The service's version and instance, from the resource (shared by its spans).
    pub resource: Option<std::sync::Arc<Resource>>,
    pub kind: Kind,
    pub start_ns: u64,
    pub end_ns: u64,
    /// Status ERROR.
    pub error: bool,
    /// The status message (an error's type when `error.type` is absent).
    pub message: String,
    pub attributes: Vec<(String, AttrValue)>,
    /// Links to other spans (trace id, span id).
    pub links: Vec<(u128, u64)>,
    /// Written by this simulator (resource `telemetry.sdk.name`): its retries are always marked
    /// with `retry.attempt`, so same-name failed siblings are never guessed to be retries.
    pub simulated: bool,
}

impl RawSpan {
    pub fn attr(&self, key: &str) -> Option<&AttrValue> {
        self.attributes
            .iter()
            .find_map(|(k, v)| (k == key).then_some(v))
    }

    pub fn attr_str(&self, key: &str) -> Option<&str> {
        match self.attr(key) {
            Some(AttrValue::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub fn duration_ms(&self) -> f64 {
        self.end_ns.saturating_sub(self.start_ns) as f64 / 1e6
    }

    /// The error's type: `error.type`, else the status message, else `error`.
    pub fn error_type(&self) -> String {
        match self.attr("error.type") {
            Some(AttrValue::Str(s)) if !s.is_empty() => s.clone(),
            _ if !self.message.is_empty() && self.message.len() <= 64 => self.message.clone(),
            _ => "error".to_string(),
        }
    }
}
