//! Span records to OTLP protobuf messages, the straightforward way: the reference encoder.
//!
//! This builds `opentelemetry-proto`'s prost structs and lets prost encode them. It is obviously
//! right, because the official types define the wire format, and so it is the oracle the fast
//! writer (`wire.rs`) must match byte for byte. No run takes it, so it is compiled for tests only, or
//! with the `reference-encoder` feature for the benchmark that compares the two (public
//! production API was the alternative rejected: it let an oracle pass for a supported encoder).
//! Requests are cut by span count and by encoded size (measured with prost's `encoded_len` as
//! spans are added, so a request never has to be encoded twice to find out it was too big); the
//! spans of one trace travel in one request whenever they fit in one.

use super::common::{
    BatchLimits, ResourceTemplate, TenantGroups, key_value, scope, span_kind, string_kv,
};
use crate::generate::{Attr, Plan, SpanRecord, Trace};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};
use prost::Message as _;

/// W3C "sampled", plus OTLP's "parent is-remote flag known" bit (the parent is never remote).
const SPAN_FLAGS: u32 = 0x101;

/// Protobuf framing of one span inside `ScopeSpans` (field tag and length prefix), at most.
const SPAN_FRAMING: usize = 4;
/// Resource, scope and framing of one tenant's group, roughly (the resource is measured).
const GROUP_FRAMING: usize = 96;

/// Collects traces into export requests, a `ResourceSpans` per tenant, and hands over each
/// request once it is full. A trace is never split across requests unless it alone exceeds
/// the limits; a batch that cannot take the next whole trace is sent first.
pub struct TraceBatch {
    template: ResourceTemplate,
    limits: BatchLimits,
    groups: TenantGroups<Span>,
    spans: usize,
    bytes: usize,
    traces: usize,
    exception_events: bool,
    scratch: Vec<(Span, usize)>,
}

impl TraceBatch {
    pub fn new(template: ResourceTemplate, limits: BatchLimits) -> TraceBatch {
        TraceBatch {
            template,
            limits: BatchLimits {
                max_items: limits.max_items.max(1),
                max_bytes: limits.max_bytes.max(1),
            },
            groups: TenantGroups::default(),
            spans: 0,
            bytes: 0,
            traces: 0,
            exception_events: false,
            scratch: Vec::new(),
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

    /// Encoded size of the batch so far, approximately (within a few bytes per group).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn fits(&self, spans: usize, bytes: usize) -> bool {
        self.spans + spans <= self.limits.max_items && self.bytes + bytes <= self.limits.max_bytes
    }

    /// Adds a trace; every request that fills up is passed to `ready` with its span count.
    pub fn add(
        &mut self,
        plan: &Plan,
        trace: &Trace,
        ready: &mut dyn FnMut(ExportTraceServiceRequest, u64),
    ) {
        let tenant = plan.str(plan.tenants[trace.tenant as usize]);
        let events = self.exception_events;
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend(trace.spans.iter().map(|s| {
            let mut span = span_message(plan, trace, s);
            if events {
                span.events.extend(exception_event(plan, s));
            }
            let size = span.encoded_len() + SPAN_FRAMING;
            (span, size)
        }));
        let total: usize = scratch.iter().map(|(_, size)| size).sum();
        if !self.is_empty() && !self.fits(scratch.len(), total) {
            self.flush(ready);
        }
        for (span, size) in scratch.drain(..) {
            if !self.is_empty() && !self.fits(1, size) {
                self.flush(ready);
            }
            self.push(tenant, span, size);
        }
        self.scratch = scratch;
        self.traces += 1;
        if !self.fits(1, 0) || self.bytes >= self.limits.max_bytes {
            self.flush(ready);
        }
    }

    fn push(&mut self, tenant: &str, span: Span, size: usize) {
        if !self.groups.has(tenant) {
            self.bytes += self.template.resource(tenant).encoded_len() + GROUP_FRAMING;
        }
        self.groups.group(tenant).push(span);
        self.spans += 1;
        self.bytes += size;
    }

    /// Passes what has been collected to `ready`, if anything.
    pub fn flush(&mut self, ready: &mut dyn FnMut(ExportTraceServiceRequest, u64)) {
        if !self.is_empty() {
            let items = self.spans as u64;
            ready(self.take(), items);
        }
    }

    /// The request holding everything added so far; the batch is empty afterwards.
    pub fn take(&mut self) -> ExportTraceServiceRequest {
        self.spans = 0;
        self.bytes = 0;
        self.traces = 0;
        let scope = scope();
        ExportTraceServiceRequest {
            resource_spans: self
                .groups
                .drain(&self.template)
                .map(|(_, resource, spans)| ResourceSpans {
                    resource: Some(resource),
                    schema_url: self.template.schema_url.clone(),
                    scope_spans: vec![ScopeSpans {
                        scope: Some(scope.clone()),
                        spans,
                        schema_url: self.template.scope_schema_url.clone(),
                    }],
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
        links: trace
            .links_of(record)
            .iter()
            .map(|link| span::Link {
                trace_id: link.trace_id.to_vec(),
                span_id: link.span_id.to_vec(),
                attributes: plan
                    .link_attrs(link.node, link.link)
                    .iter()
                    .map(|&(key, value)| key_value(plan, trace, &Attr { key, value }))
                    .collect(),
                flags: super::wire::LINK_FLAGS,
                ..Default::default()
            })
            .collect(),
        status: record.error.map(|(_, message)| Status {
            code: status::StatusCode::Error as i32,
            message: plan.str(message).to_string(),
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{Iteration, PlanOptions, generate};
    use crate::scenario::{LoadOptions, decode};
    use opentelemetry_proto::tonic::common::v1::any_value;
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
                profile: Default::default(),
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
                schema_url: String::new(),
                scope_schema_url: String::new(),
            }, BatchLimits::UNLIMITED);
            let mut expected = Vec::new();
            let mut iteration = Iteration::default();
            for (index, tenant) in tenants.iter().enumerate() {
                generate(&plan, seed, index as u64, *tenant, 1_700_000_000_000_000_000, &mut iteration);
                for trace in iteration.traces() {
                    batch.add(&plan, trace, &mut |_, _| panic!("an unlimited batch never fills"));
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

    /// Requests cut from `iterations` iterations of a bundled scenario over two tenants.
    fn requests(
        scenario: &str,
        iterations: u64,
        limits: BatchLimits,
    ) -> Vec<(ExportTraceServiceRequest, u64)> {
        let plan = plan(scenario);
        let template = ResourceTemplate {
            attributes: vec![("service.name".into(), "svc".into())],
            tenant_keys: vec!["tenant.id".into()],
            schema_url: String::new(),
            scope_schema_url: String::new(),
        };
        let mut batch = TraceBatch::new(template, limits);
        let mut iteration = Iteration::default();
        let mut out = Vec::new();
        let mut ready = |request, items| out.push((request, items));
        for index in 0..iterations {
            generate(
                &plan,
                7,
                index,
                (index % 2) as u32,
                1_700_000_000_000_000_000,
                &mut iteration,
            );
            for trace in iteration.traces() {
                batch.add(&plan, trace, &mut ready);
            }
        }
        batch.flush(&mut ready);
        out
    }

    fn spans(request: &ExportTraceServiceRequest) -> Vec<&Span> {
        request
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .collect()
    }

    #[test]
    fn requests_respect_both_limits_and_keep_traces_whole() {
        let limits = BatchLimits {
            max_items: 50,
            max_bytes: 16 * 1024,
        };
        let out = requests("tool_retry", 200, limits);
        let mut seen_in: std::collections::HashMap<Vec<u8>, usize> = Default::default();
        let mut total = 0;
        for (i, (request, items)) in out.iter().enumerate() {
            let spans = spans(request);
            assert_eq!(spans.len() as u64, *items);
            assert!(spans.len() <= limits.max_items);
            assert!(
                request.encoded_len() <= limits.max_bytes,
                "{}",
                request.encoded_len()
            );
            for span in spans {
                let first = *seen_in.entry(span.trace_id.clone()).or_insert(i);
                assert_eq!(first, i, "a trace that fits was split across requests");
            }
            total += items;
        }
        assert!(out.len() > 5);
        assert!(total > 200);
    }

    #[test]
    fn a_trace_larger_than_a_request_is_split_at_the_limits() {
        let limits = BatchLimits {
            max_items: 3,
            max_bytes: 1 << 20,
        };
        let out = requests("successful_agent_turn", 1, limits);
        let sizes: Vec<u64> = out.iter().map(|(_, items)| *items).collect();
        assert_eq!(sizes, vec![3, 3, 1]);
    }
}
