//! The fast trace encoder: span records written straight to OTLP protobuf bytes.
//!
//! Most of a span's bytes are the same for every span drawn from the same plan node: its name and
//! kind, and every constant attribute. [`SpanEncoder`] encodes those once per plan, as ready-made
//! byte runs, and for each span writes only what varies (ids, times, sampled values, status) into
//! one reused buffer, computing each span's exact length first so its length prefix is written in
//! place, with no second pass and no copying. The output is byte for byte what prost produces for
//! the same records through [`super::encode`], which stays as the reference and the test oracle:
//! building a prost `Span` per span costs about twenty allocations, this costs none.
//!
//! A request holds one resource (one tenant). Its spans are written after a gap as large as the
//! largest possible request header; when the request is taken, the header is written right-aligned
//! into the gap, so the finished request is one contiguous slice of the buffer.

use super::encode::{ResourceTemplate, SCOPE_NAME, span_kind};
use crate::generate::{AttrValue, Plan, Sym, Trace};
use bytes::Bytes;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use prost::Message;
use prost::encoding::{encode_varint, encoded_len_varint};

/// Field tags (field number << 3 | wire type) of the messages written here.
mod tag {
    pub const REQUEST_RESOURCE_SPANS: u8 = 0x0A;
    pub const RESOURCE_SPANS_RESOURCE: u8 = 0x0A;
    pub const RESOURCE_SPANS_SCOPE_SPANS: u8 = 0x12;
    pub const SCOPE_SPANS_SCOPE: u8 = 0x0A;
    pub const SCOPE_SPANS_SPAN: u8 = 0x12;
    pub const SPAN_TRACE_ID: u8 = 0x0A;
    pub const SPAN_SPAN_ID: u8 = 0x12;
    pub const SPAN_PARENT_SPAN_ID: u8 = 0x22;
    /// Field 16, fixed32: a two-byte tag.
    pub const SPAN_FLAGS: [u8; 2] = [0x85, 0x01];
    pub const SPAN_NAME: u8 = 0x2A;
    pub const SPAN_KIND: u8 = 0x30;
    pub const SPAN_START: u8 = 0x39;
    pub const SPAN_END: u8 = 0x41;
    pub const SPAN_ATTRIBUTE: u8 = 0x4A;
    pub const SPAN_STATUS: u8 = 0x7A;
    pub const STATUS_MESSAGE: u8 = 0x12;
    pub const STATUS_CODE: u8 = 0x18;
    pub const KEY_VALUE_KEY: u8 = 0x0A;
    pub const KEY_VALUE_VALUE: u8 = 0x12;
    pub const ANY_STRING: u8 = 0x0A;
    pub const ANY_BOOL: u8 = 0x10;
    pub const ANY_INT: u8 = 0x18;
    pub const ANY_DOUBLE: u8 = 0x21;
}

const SPAN_FLAGS: u32 = 0x101;
const STATUS_CODE_ERROR: u64 = 2;

/// A span of bytes in [`SpanEncoder::arena`].
#[derive(Clone, Copy, Debug)]
struct Run {
    start: u32,
    len: u32,
}

/// One piece of a node's attribute list.
#[derive(Clone, Copy, Debug)]
enum Segment {
    /// `count` constant attributes, already encoded as complete fields.
    Constant { run: Run, count: u32 },
    /// One attribute whose value varies per span.
    Dynamic,
}

/// What is fixed about the spans of one node (or of its MCP attempts).
#[derive(Clone, Debug, Default)]
struct NodeCode {
    /// The name and kind fields.
    head: Option<Run>,
    segments: Vec<Segment>,
}

/// A plan compiled for writing its spans as protobuf.
pub struct SpanEncoder {
    arena: Vec<u8>,
    /// Per interned string: the `key` field of a KeyValue, and the string as an AnyValue.
    keys: Vec<Run>,
    strings: Vec<Run>,
    /// Per constant literal (lists, maps): the AnyValue.
    literals: Vec<Run>,
    /// Per node: spans of the node, and its MCP attempts.
    nodes: Vec<[NodeCode; 2]>,
    /// Per interned status message: the whole `status` field.
    statuses: Vec<Option<Run>>,
}

impl SpanEncoder {
    pub fn new(plan: &Plan) -> SpanEncoder {
        let mut e = SpanEncoder {
            arena: Vec::new(),
            keys: Vec::new(),
            strings: Vec::new(),
            literals: Vec::new(),
            nodes: Vec::new(),
            statuses: Vec::new(),
        };
        for i in 0..plan.symbol_count() {
            let s = plan.str(Sym(i as u32));
            let key = e.emit(|b| write_string_field(b, tag::KEY_VALUE_KEY, s));
            let string = e.emit(|b| write_string_field(b, tag::ANY_STRING, s));
            e.keys.push(key);
            e.strings.push(string);
        }
        for i in 0..plan.literal_count() {
            let value = super::encode::any_value(
                plan,
                &Trace::default(),
                AttrValue::Literal(crate::generate::LiteralId(i as u32)),
            );
            let run = e.emit(|b| value.encode_raw(b));
            e.literals.push(run);
        }
        e.statuses = vec![None; plan.symbol_count()];
        for (index, node) in plan.nodes().enumerate() {
            let mut codes: [NodeCode; 2] = Default::default();
            for (attempt, code) in codes.iter_mut().enumerate() {
                let attempt = attempt == 1;
                let name = if attempt {
                    node.attempt_name
                } else {
                    node.name
                };
                let kind = span_kind(node.kind) as i32 as u64;
                code.head = Some(e.emit(|b| {
                    write_string_field(b, tag::SPAN_NAME, plan.str(name));
                    b.push(tag::SPAN_KIND);
                    encode_varint(kind, b);
                }));
                let constants: Vec<Option<(Sym, AttrValue)>> = plan
                    .node_constants(crate::generate::NodeId(index as u32), attempt)
                    .collect();
                let mut run: Option<(Run, u32)> = None;
                for constant in constants {
                    match constant {
                        Some((key, value)) => {
                            let field = e.emit_attribute(key, value);
                            run = Some(match run {
                                Some((r, n)) => (
                                    Run {
                                        start: r.start,
                                        len: r.len + field.len,
                                    },
                                    n + 1,
                                ),
                                None => (field, 1),
                            });
                        }
                        None => {
                            if let Some((run, count)) = run.take() {
                                code.segments.push(Segment::Constant { run, count });
                            }
                            code.segments.push(Segment::Dynamic);
                        }
                    }
                }
                if let Some((run, count)) = run {
                    code.segments.push(Segment::Constant { run, count });
                }
            }
            for message in &node.error.messages {
                let text = plan.str(*message);
                let run = e.emit(|b| {
                    let len = string_field_len(text) + 2;
                    b.push(tag::SPAN_STATUS);
                    encode_varint(len as u64, b);
                    write_string_field(b, tag::STATUS_MESSAGE, text);
                    b.push(tag::STATUS_CODE);
                    encode_varint(STATUS_CODE_ERROR, b);
                });
                e.statuses[message.0 as usize] = Some(run);
            }
            e.nodes.push(codes);
        }
        e
    }

    /// Appends what `write` writes to the arena.
    fn emit(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> Run {
        let start = self.arena.len();
        write(&mut self.arena);
        Run {
            start: start as u32,
            len: (self.arena.len() - start) as u32,
        }
    }

    /// Encodes a whole constant attribute field into the arena.
    fn emit_attribute(&mut self, key: Sym, value: AttrValue) -> Run {
        let mut field = Vec::new();
        self.write_attribute(&mut field, key, value, &Trace::default());
        self.emit(|b| b.extend_from_slice(&field))
    }

    fn bytes(&self, run: Run) -> &[u8] {
        &self.arena[run.start as usize..(run.start + run.len) as usize]
    }

    fn any_value_len(&self, value: AttrValue) -> usize {
        match value {
            AttrValue::Str(s) => self.strings[s.0 as usize].len as usize,
            AttrValue::Text { len, .. } => 1 + encoded_len_varint(len as u64) + len as usize,
            AttrValue::Int(i) => 1 + encoded_len_varint(i as u64),
            AttrValue::Double(_) => 9,
            AttrValue::Bool(_) => 2,
            AttrValue::Literal(id) => self.literals[id.0 as usize].len as usize,
        }
    }

    /// The length of a KeyValue message.
    fn key_value_len(&self, key: Sym, value: AttrValue) -> usize {
        let any = self.any_value_len(value);
        self.keys[key.0 as usize].len as usize + 1 + encoded_len_varint(any as u64) + any
    }

    /// The length of a whole attribute field (tag, length, KeyValue).
    fn attribute_len(&self, key: Sym, value: AttrValue) -> usize {
        let kv = self.key_value_len(key, value);
        1 + encoded_len_varint(kv as u64) + kv
    }

    fn write_attribute(&self, out: &mut Vec<u8>, key: Sym, value: AttrValue, trace: &Trace) {
        out.push(tag::SPAN_ATTRIBUTE);
        encode_varint(self.key_value_len(key, value) as u64, out);
        out.extend_from_slice(self.bytes(self.keys[key.0 as usize]));
        out.push(tag::KEY_VALUE_VALUE);
        encode_varint(self.any_value_len(value) as u64, out);
        match value {
            AttrValue::Str(s) => out.extend_from_slice(self.bytes(self.strings[s.0 as usize])),
            AttrValue::Text { start, len } => {
                write_string_field(out, tag::ANY_STRING, trace.text(start, len))
            }
            AttrValue::Int(i) => {
                out.push(tag::ANY_INT);
                encode_varint(i as u64, out);
            }
            AttrValue::Double(d) => {
                out.push(tag::ANY_DOUBLE);
                out.extend_from_slice(&d.to_le_bytes());
            }
            AttrValue::Bool(b) => {
                out.push(tag::ANY_BOOL);
                out.push(b as u8);
            }
            AttrValue::Literal(id) => {
                out.extend_from_slice(self.bytes(self.literals[id.0 as usize]))
            }
        }
    }

    /// Appends every span of `trace` to `out`, each as a `ScopeSpans.spans` field.
    pub fn write_trace(&self, trace: &Trace, out: &mut Vec<u8>) {
        for span in &trace.spans {
            let code = &self.nodes[span.node.0 as usize][span.attempt as usize];
            let attrs = trace.attrs_of(span);
            // First pass: the span's exact length.
            let mut attrs_len = 0;
            let mut cursor = 0;
            for segment in &code.segments {
                match *segment {
                    Segment::Constant { run, count } => {
                        attrs_len += run.len as usize;
                        cursor += count as usize;
                    }
                    Segment::Dynamic => {
                        let a = attrs[cursor];
                        attrs_len += self.attribute_len(a.key, a.value);
                        cursor += 1;
                    }
                }
            }
            for a in &attrs[cursor..] {
                attrs_len += self.attribute_len(a.key, a.value);
            }
            let head = code.head.expect("every node has a head");
            let status = span
                .error
                .and_then(|(_, message)| self.statuses[message.0 as usize]);
            let len = 18
                + 10
                + if span.parent.is_some() { 10 } else { 0 }
                + 6
                + head.len as usize
                + if span.start_ns != 0 { 9 } else { 0 }
                + if span.end_ns != 0 { 9 } else { 0 }
                + attrs_len
                + status.map_or(0, |s| s.len as usize);
            out.reserve(len + 6);
            // Second pass: the bytes, in field-number order as prost writes them.
            out.push(tag::SCOPE_SPANS_SPAN);
            encode_varint(len as u64, out);
            out.extend_from_slice(&[tag::SPAN_TRACE_ID, 16]);
            out.extend_from_slice(&trace.trace_id);
            out.extend_from_slice(&[tag::SPAN_SPAN_ID, 8]);
            out.extend_from_slice(&span.span_id);
            if let Some(parent) = span.parent {
                out.extend_from_slice(&[tag::SPAN_PARENT_SPAN_ID, 8]);
                out.extend_from_slice(&trace.spans[parent as usize].span_id);
            }
            out.extend_from_slice(self.bytes(head));
            if span.start_ns != 0 {
                out.push(tag::SPAN_START);
                out.extend_from_slice(&span.start_ns.to_le_bytes());
            }
            if span.end_ns != 0 {
                out.push(tag::SPAN_END);
                out.extend_from_slice(&span.end_ns.to_le_bytes());
            }
            let mut cursor = 0;
            for segment in &code.segments {
                match *segment {
                    Segment::Constant { run, count } => {
                        out.extend_from_slice(self.bytes(run));
                        cursor += count as usize;
                    }
                    Segment::Dynamic => {
                        let a = attrs[cursor];
                        self.write_attribute(out, a.key, a.value, trace);
                        cursor += 1;
                    }
                }
            }
            for a in &attrs[cursor..] {
                self.write_attribute(out, a.key, a.value, trace);
            }
            if let Some(status) = status {
                out.extend_from_slice(self.bytes(status));
            }
            // prost writes fields in field-number order: `flags` (16) comes last.
            out.extend_from_slice(&tag::SPAN_FLAGS);
            out.extend_from_slice(&SPAN_FLAGS.to_le_bytes());
        }
    }
}

fn string_field_len(s: &str) -> usize {
    1 + encoded_len_varint(s.len() as u64) + s.len()
}

fn write_string_field(out: &mut Vec<u8>, tag: u8, s: &str) {
    out.push(tag);
    encode_varint(s.len() as u64, out);
    out.extend_from_slice(s.as_bytes());
}

/// The spans of one tenant's traces, becoming one export request.
pub struct SpanBatch {
    /// The encoded `resource` and `scope` messages.
    resource: Vec<u8>,
    scope: Vec<u8>,
    buffer: Vec<u8>,
    /// Bytes reserved in front of the spans for the request header.
    gap: usize,
    spans: usize,
    traces: usize,
}

impl SpanBatch {
    pub fn new(template: &ResourceTemplate, tenant: &str) -> SpanBatch {
        let scope = InstrumentationScope {
            name: SCOPE_NAME.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            ..Default::default()
        };
        let resource = template.resource(tenant).encode_to_vec();
        let scope = scope.encode_to_vec();
        // Tags, and lengths of at most ten bytes each.
        let gap = 1 + 10 + 1 + 10 + resource.len() + 1 + 10 + 1 + 10 + scope.len();
        let mut batch = SpanBatch {
            resource,
            scope,
            buffer: Vec::new(),
            gap,
            spans: 0,
            traces: 0,
        };
        batch.reset();
        batch
    }

    fn reset(&mut self) {
        self.buffer.clear();
        self.buffer.resize(self.gap, 0);
        self.spans = 0;
        self.traces = 0;
    }

    pub fn add(&mut self, encoder: &SpanEncoder, trace: &Trace) {
        encoder.write_trace(trace, &mut self.buffer);
        self.spans += trace.spans.len();
        self.traces += 1;
    }

    pub fn spans(&self) -> usize {
        self.spans
    }

    pub fn traces(&self) -> usize {
        self.traces
    }

    /// Bytes the request would have now (an upper bound, by the unused part of the gap).
    pub fn encoded_len(&self) -> usize {
        self.buffer.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans == 0
    }

    /// The finished `ExportTraceServiceRequest`; the batch starts over empty.
    pub fn take(&mut self) -> Bytes {
        let spans_len = self.buffer.len() - self.gap;
        let scope_field = 1 + encoded_len_varint(self.scope.len() as u64) + self.scope.len();
        let scope_spans = scope_field + spans_len;
        let resource_field =
            1 + encoded_len_varint(self.resource.len() as u64) + self.resource.len();
        let resource_spans =
            resource_field + 1 + encoded_len_varint(scope_spans as u64) + scope_spans;
        let mut header = Vec::with_capacity(self.gap);
        header.push(tag::REQUEST_RESOURCE_SPANS);
        encode_varint(resource_spans as u64, &mut header);
        header.push(tag::RESOURCE_SPANS_RESOURCE);
        encode_varint(self.resource.len() as u64, &mut header);
        header.extend_from_slice(&self.resource);
        header.push(tag::RESOURCE_SPANS_SCOPE_SPANS);
        encode_varint(scope_spans as u64, &mut header);
        header.push(tag::SCOPE_SPANS_SCOPE);
        encode_varint(self.scope.len() as u64, &mut header);
        header.extend_from_slice(&self.scope);
        let start = self.gap - header.len();
        self.buffer[start..self.gap].copy_from_slice(&header);
        let full = std::mem::take(&mut self.buffer);
        let request = Bytes::from(full).slice(start..);
        self.reset();
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{Iteration, PlanOptions, generate};
    use crate::otlp::encode::{BatchLimits, TraceBatch};
    use crate::scenario::{BUNDLED, LoadOptions, decode};
    use proptest::prelude::*;

    fn plan(name: &str, prefix: &str, schema: bool) -> Plan {
        let text = BUNDLED.iter().find(|(n, _)| *n == name).unwrap().1;
        let options = LoadOptions {
            prefix: prefix.into(),
            ..LoadOptions::default()
        };
        let (scenario, _) = decode(text, name, name, &options).unwrap();
        Plan::compile(
            &scenario,
            &PlanOptions {
                prefix: prefix.into(),
                tenants: vec!["tenant-a".into(), "tenant-b".into()],
                schema: schema
                    .then(|| std::sync::Arc::new(crate::schema::bundled().with_prefix(prefix))),
                service_name: "svc".into(),
                content: false,
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// Speed never changes what is sent: the fast writer's bytes are prost's.
        #[test]
        fn the_fast_encoder_writes_exactly_what_prost_writes(
            name in prop::sample::select(BUNDLED.iter().map(|(n, _)| *n).collect::<Vec<_>>()),
            seed in any::<u64>(),
            iterations in 1u64..30,
            prefix in prop::sample::select(vec!["vendor", "acme"]),
            schema in any::<bool>(),
            end in prop_oneof![Just(1_700_000_000_000_000_000u64), 1u64..5_000_000_000],
        ) {
            let plan = plan(name, prefix, schema);
            let template = ResourceTemplate {
                attributes: vec![("service.name".into(), "svc".into()), ("service.version".into(), "1".into())],
                tenant_keys: vec!["tenant.id".into()],
            };
            let encoder = SpanEncoder::new(&plan);
            let mut reference = TraceBatch::new(template.clone(), BatchLimits::UNLIMITED);
            let mut fast = SpanBatch::new(&template, "tenant-b");
            let mut out = Iteration::default();
            for index in 0..iterations {
                generate(&plan, seed, index, 1, end, &mut out);
                for trace in out.traces() {
                    reference.add(&plan, trace, &mut |_, _| unreachable!("unlimited"));
                    fast.add(&encoder, trace);
                }
            }
            prop_assert_eq!(fast.spans(), reference.spans());
            let expected = reference.take().encode_to_vec();
            let got = fast.take();
            if got.as_ref() != expected.as_slice() {
                let at = got.iter().zip(&expected).position(|(a, b)| a != b).unwrap_or(got.len().min(expected.len()));
                let window = |b: &[u8]| b[at.saturating_sub(24)..(at + 24).min(b.len())].to_vec();
                prop_assert!(false, "differ at byte {at} of {}/{}: fast {:?} prost {:?}", got.len(), expected.len(), window(&got), window(&expected));
            }
            // The batch is reusable and empty after a take.
            prop_assert!(fast.is_empty());
        }
    }
}
