//! Span records to OTLP protobuf messages, the straightforward way, and the pieces every signal's
//! encoding shares (resources per tenant, the scope, attribute values).
//!
//! This builds `opentelemetry-proto`'s prost structs and lets prost encode them. It is the
//! reference encoding: obviously right, because the official types define the wire format, and
//! the oracle any faster writer must match byte for byte. Spans are grouped into one
//! `ResourceSpans` per tenant, because each tenant is a resource of its own; spans of one trace
//! always travel in one request. Metrics and logs (`encode_metrics.rs`, `encode_logs.rs`) group
//! the same way, with the same [`TenantGroups`], so a tenant is one resource in every signal.

use crate::generate::{Attr, AttrValue, Plan, SpanRecord, Trace};
use crate::scenario::{Literal, SpanKind};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};

/// The instrumentation scope every span is reported under.
pub const SCOPE_NAME: &str = "telemetry-simulator";

/// W3C "sampled", plus OTLP's "parent is-remote flag known" bit (the parent is never remote).
const SPAN_FLAGS: u32 = 0x101;

/// Resource attributes shared by every tenant; the tenant's own are added per resource.
#[derive(Clone, Debug, Default)]
pub struct ResourceTemplate {
    pub attributes: Vec<(String, String)>,
    /// Keys that carry the tenant id (e.g. `vendor.tenant.id`).
    pub tenant_keys: Vec<String>,
}

impl ResourceTemplate {
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

    /// Every group with its tenant's resource; the groups are empty afterwards.
    pub fn drain<'a>(
        &'a mut self,
        template: &'a ResourceTemplate,
    ) -> impl Iterator<Item = (Resource, Vec<T>)> + 'a {
        self.groups
            .drain(..)
            .map(|(tenant, items)| (template.resource(&tenant), items))
    }
}

/// The instrumentation scope every signal is reported under.
pub fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: SCOPE_NAME.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        ..Default::default()
    }
}

/// Collects traces into one export request, a `ResourceSpans` per tenant.
pub struct TraceBatch {
    template: ResourceTemplate,
    groups: TenantGroups<Span>,
    spans: usize,
    traces: usize,
    exception_events: bool,
}

impl TraceBatch {
    pub fn new(template: ResourceTemplate) -> TraceBatch {
        TraceBatch {
            template,
            groups: TenantGroups::default(),
            spans: 0,
            traces: 0,
            exception_events: false,
        }
    }

    /// Also records each failure as an `exception` span event (the conventions' older form; the
    /// exception log record is the current one).
    pub fn with_exception_events(mut self, on: bool) -> TraceBatch {
        self.exception_events = on;
        self
    }

    pub fn spans(&self) -> usize {
        self.spans
    }

    pub fn traces(&self) -> usize {
        self.traces
    }

    pub fn is_empty(&self) -> bool {
        self.spans == 0
    }

    pub fn add(&mut self, plan: &Plan, trace: &Trace) {
        let tenant = plan.str(plan.tenants[trace.tenant as usize]);
        let events = self.exception_events;
        self.groups
            .group(tenant)
            .extend(trace.spans.iter().map(|s| {
                let mut span = span_message(plan, trace, s);
                if events {
                    span.events.extend(exception_event(plan, s));
                }
                span
            }));
        self.spans += trace.spans.len();
        self.traces += 1;
    }

    /// The request holding everything added so far; the batch is empty afterwards.
    pub fn take(&mut self) -> ExportTraceServiceRequest {
        self.spans = 0;
        self.traces = 0;
        let scope = scope();
        ExportTraceServiceRequest {
            resource_spans: self
                .groups
                .drain(&self.template)
                .map(|(resource, spans)| ResourceSpans {
                    resource: Some(resource),
                    scope_spans: vec![ScopeSpans {
                        scope: Some(scope.clone()),
                        spans,
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
        }
    }
}

/// The `exception` span event of a failed span, at its end: `exception.type` (the sampled error
/// type) and `exception.message` (its status message), as the exception log record has them.
pub fn exception_event(plan: &Plan, record: &SpanRecord) -> Option<span::Event> {
    let (kind, message) = record.error?;
    Some(span::Event {
        time_unix_nano: record.end_ns,
        name: "exception".to_string(),
        attributes: vec![
            string_kv("exception.type", plan.str(kind)),
            string_kv("exception.message", plan.str(message)),
        ],
        ..Default::default()
    })
}

/// One span record as an OTLP `Span`.
pub fn span_message(plan: &Plan, trace: &Trace, record: &SpanRecord) -> Span {
    Span {
        trace_id: trace.trace_id.to_vec(),
        span_id: record.span_id.to_vec(),
        parent_span_id: record
            .parent
            .map(|p| trace.spans[p as usize].span_id.to_vec())
            .unwrap_or_default(),
        flags: SPAN_FLAGS,
        name: plan.str(record.name).to_string(),
        kind: span_kind(record.kind) as i32,
        start_time_unix_nano: record.start_ns,
        end_time_unix_nano: record.end_ns,
        attributes: trace
            .attrs_of(record)
            .iter()
            .map(|a| key_value(plan, trace, a))
            .collect(),
        status: record.error.map(|(_, message)| Status {
            code: status::StatusCode::Error as i32,
            message: plan.str(message).to_string(),
        }),
        ..Default::default()
    }
}

pub fn span_kind(kind: SpanKind) -> span::SpanKind {
    match kind {
        SpanKind::Internal => span::SpanKind::Internal,
        SpanKind::Server => span::SpanKind::Server,
        SpanKind::Client => span::SpanKind::Client,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{Iteration, PlanOptions, generate};
    use crate::scenario::{LoadOptions, decode};
    use proptest::prelude::*;
    use prost::Message;

    fn plan(name: &str) -> Plan {
        let text = crate::scenario::BUNDLED
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap()
            .1;
        let (scenario, _) = decode(text, name, name, &LoadOptions::default()).unwrap();
        Plan::compile(
            &scenario,
            &PlanOptions {
                prefix: "vendor".into(),
                tenants: vec!["t1".into(), "t2".into(), "t3".into()],
                schema: None,
                service_name: "svc".into(),
                content: false,
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn a_batch_decodes_to_every_span_it_was_given(
            seed in any::<u64>(),
            tenants in prop::collection::vec(0u32..3, 1..20),
            name in prop::sample::select(crate::scenario::BUNDLED.iter().map(|(n, _)| *n).collect::<Vec<_>>()),
        ) {
            let plan = plan(name);
            let mut batch = TraceBatch::new(ResourceTemplate {
                attributes: vec![("service.name".into(), "svc".into())],
                tenant_keys: vec!["tenant.id".into()],
            });
            let mut expected = Vec::new();
            let mut iteration = Iteration::default();
            for (index, tenant) in tenants.iter().enumerate() {
                generate(&plan, seed, index as u64, *tenant, 1_700_000_000_000_000_000, &mut iteration);
                for trace in iteration.traces() {
                    batch.add(&plan, trace);
                    expected.extend(trace.spans.iter().map(|s| (trace.tenant, trace.trace_id, s.span_id)));
                }
            }
            let request = batch.take();
            prop_assert!(batch.is_empty());
            let bytes = request.encode_to_vec();
            prop_assert_eq!(bytes.len(), request.encoded_len());
            let decoded = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();
            prop_assert_eq!(&decoded, &request);
            let mut got = Vec::new();
            for rs in &decoded.resource_spans {
                let tenant = rs.resource.as_ref().unwrap().attributes.iter()
                    .find(|kv| kv.key == "tenant.id").unwrap();
                let Some(any_value::Value::StringValue(tenant)) = &tenant.value.as_ref().unwrap().value else { panic!() };
                let tenant = tenant.trim_start_matches('t').parse::<u32>().unwrap() - 1;
                for span in &rs.scope_spans[0].spans {
                    got.push((tenant, <[u8; 16]>::try_from(span.trace_id.as_slice()).unwrap(), <[u8; 8]>::try_from(span.span_id.as_slice()).unwrap()));
                }
            }
            expected.sort();
            got.sort();
            prop_assert_eq!(got, expected, "every span lands under its own tenant's resource");
        }
    }
}
