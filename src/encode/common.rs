//! What every signal's encoding shares: resources per tenant, the instrumentation scope, the
//! limits that cut requests, and attribute values as OTLP `AnyValue`s.
//!
//! These build `opentelemetry-proto`'s prost structs, because the messages that are not
//! hand-written (metrics, the resource and scope, nested attribute values) come from the
//! official types, which define the wire format. Spans are grouped into one resource per tenant,
//! because each tenant is a resource of its own, with the same [`TenantGroups`] in every signal.
//! The prost encoders of whole spans and log records, the oracle of `wire.rs`, are in
//! `reference.rs` and `reference_logs.rs`, compiled for tests only.

use crate::generate::services::ServiceResource;
use crate::generate::{Attr, AttrValue, Plan, Trace};
use crate::value::{Literal, SpanKind};
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span;

/// The instrumentation scope every span is reported under.
pub const SCOPE_NAME: &str = "telemetry-simulator";

/// Resource attributes shared by every tenant; the tenant's own are added per resource.
#[derive(Clone, Debug, Default)]
pub struct ResourceTemplate {
    pub attributes: Vec<(String, String)>,
    /// Keys that carry the tenant id (e.g. `vendor.tenant.id`).
    pub tenant_keys: Vec<String>,
    /// The `schema_url` of every `ResourceSpans`/`ResourceMetrics`/`ResourceLogs` (the Schema
    /// URL its attributes follow); empty for none.
    pub schema_url: String,
    /// The `schema_url` of every `ScopeSpans`/`ScopeMetrics`/`ScopeLogs`: the semantic
    /// conventions the instrumentation scope's telemetry follows; empty for none.
    pub scope_schema_url: String,
}

impl ResourceTemplate {
    /// The template of one service instance: the run's attributes, with the service's name,
    /// version, instance id and own attributes in place of the run's (a key the run lacks is
    /// added at the end).
    pub fn with_service(&self, service: &ServiceResource) -> ResourceTemplate {
        let mut template = self.clone();
        let mut set =
            |key: &str, value: &str| match template.attributes.iter_mut().find(|(k, _)| k == key) {
                Some(entry) => entry.1 = value.to_string(),
                None => template
                    .attributes
                    .push((key.to_string(), value.to_string())),
            };
        set("service.name", &service.name);
        if let Some(version) = &service.version {
            set("service.version", version);
        }
        set("service.instance.id", &service.instance);
        for (key, value) in &service.attributes {
            set(key, value);
        }
        template
    }

    pub fn resource(&self, tenant: &str) -> Resource {
        let mut attributes: Vec<KeyValue> = self
            .attributes
            .iter()
            .map(|(k, v)| string_kv(k, v))
            .collect();
        attributes.extend(self.tenant_keys.iter().map(|k| string_kv(k, tenant)));
        Resource {
            attributes,
            ..Default::default()
        }
    }
}

pub fn string_kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

/// Items of one export request grouped by tenant, in order of first appearance: each tenant is
/// a resource of its own, in every signal.
#[derive(Debug)]
pub struct TenantGroups<T> {
    groups: Vec<(String, Vec<T>)>,
}

impl<T> Default for TenantGroups<T> {
    fn default() -> Self {
        TenantGroups { groups: Vec::new() }
    }
}

impl<T> TenantGroups<T> {
    /// The items of `tenant`, created empty on first use.
    pub fn group(&mut self, tenant: &str) -> &mut Vec<T> {
        let i = match self.groups.iter().position(|(t, _)| t == tenant) {
            Some(i) => i,
            None => {
                self.groups.push((tenant.to_string(), Vec::new()));
                self.groups.len() - 1
            }
        };
        &mut self.groups[i].1
    }

    /// Whether `tenant` has a group yet.
    pub fn has(&self, tenant: &str) -> bool {
        self.groups.iter().any(|(t, _)| t == tenant)
    }

    /// Every group with its tenant and the tenant's resource; the groups are empty afterwards.
    pub fn drain<'a>(
        &'a mut self,
        template: &'a ResourceTemplate,
    ) -> impl Iterator<Item = (String, Resource, Vec<T>)> + 'a {
        self.groups.drain(..).map(|(tenant, items)| {
            let resource = template.resource(&tenant);
            (tenant, resource, items)
        })
    }
}

/// An export request holding one tenant's items, so that it can be routed by tenant.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantRequest<R> {
    pub tenant: String,
    pub request: R,
    pub items: u64,
}

/// The instrumentation scope every signal is reported under.
pub fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: SCOPE_NAME.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        ..Default::default()
    }
}

/// When a request is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchLimits {
    /// Items (spans) per request.
    pub max_items: usize,
    /// Encoded protobuf size per request, before compression. Receivers commonly refuse more
    /// than 4 MiB (gRPC's default message limit); the default stays well under it.
    pub max_bytes: usize,
}

impl BatchLimits {
    /// No limit: everything added goes into one request (for tests and benchmarks that build
    /// one request by hand).
    pub const UNLIMITED: BatchLimits = BatchLimits {
        max_items: usize::MAX,
        max_bytes: usize::MAX,
    };
}

impl Default for BatchLimits {
    fn default() -> Self {
        BatchLimits {
            max_items: 512,
            max_bytes: 1024 * 1024,
        }
    }
}

pub fn span_kind(kind: SpanKind) -> span::SpanKind {
    match kind {
        SpanKind::Internal => span::SpanKind::Internal,
        SpanKind::Server => span::SpanKind::Server,
        SpanKind::Client => span::SpanKind::Client,
        SpanKind::Producer => span::SpanKind::Producer,
        SpanKind::Consumer => span::SpanKind::Consumer,
    }
}

pub fn key_value(plan: &Plan, trace: &Trace, attr: &Attr) -> KeyValue {
    KeyValue {
        key: plan.str(attr.key).to_string(),
        value: Some(any_value(plan, trace, attr.value)),
        ..Default::default()
    }
}

pub fn any_value(plan: &Plan, trace: &Trace, value: AttrValue) -> AnyValue {
    use any_value::Value as V;
    let value = match value {
        AttrValue::Str(s) => V::StringValue(plan.str(s).to_string()),
        AttrValue::Text { start, len } => V::StringValue(trace.text(start, len).to_string()),
        AttrValue::Int(i) => V::IntValue(i),
        AttrValue::Double(d) => V::DoubleValue(d),
        AttrValue::Bool(b) => V::BoolValue(b),
        AttrValue::Literal(id) => return literal(plan.literal(id)),
    };
    AnyValue { value: Some(value) }
}

fn literal(l: &Literal) -> AnyValue {
    use any_value::Value as V;
    let value = match l {
        Literal::Str(s) => V::StringValue(s.clone()),
        Literal::Int(i) => V::IntValue(*i),
        Literal::Float(f) => V::DoubleValue(*f),
        Literal::Bool(b) => V::BoolValue(*b),
        Literal::List(items) => V::ArrayValue(ArrayValue {
            values: items.iter().map(literal).collect(),
        }),
        Literal::Map(entries) => V::KvlistValue(KeyValueList {
            values: entries
                .iter()
                .map(|(k, v)| KeyValue {
                    key: k.clone(),
                    value: Some(literal(v)),
                    ..Default::default()
                })
                .collect(),
        }),
    };
    AnyValue { value: Some(value) }
}
