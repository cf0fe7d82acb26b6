//! The fast encoder: span records and log records written straight to OTLP protobuf bytes.
//!
//! Most of a span's bytes are the same for every span drawn from the same plan node: its name and
//! kind, and every constant attribute. [`SpanEncoder`] encodes those once per plan, as ready-made
//! byte runs, and for each span writes only what varies (ids, times, sampled values, status) into
//! one reused buffer, computing each span's exact length first so its length prefix is written in
//! place, with no second pass and no copying. The output is byte for byte what prost produces for
//! the same records through `reference.rs` (compiled for tests only), which stays as the
//! reference and the test oracle: building a prost `Span` per span costs about twenty
//! allocations, this costs none.
//!
//! Log records are written the same way, with the same attribute runs, and trace and log requests
//! share their layout, so one batch type serves both.
//!
//! A request holds one resource (one tenant). Its items are written after a gap as large as the
//! largest possible request header; when the request is taken, the header is written right-aligned
//! into the gap, so the finished request is one contiguous slice of the buffer.

use super::common::{BatchLimits, ResourceTemplate, SCOPE_NAME, span_kind};
use crate::generate::logs::{LogRecord, TraceLogs};
use crate::generate::services::ServiceResource;
use crate::generate::{AttrValue, Plan, SpanRecord, Sym, Trace};
use bytes::Bytes;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use prost::Message;
use prost::encoding::{encode_varint, encoded_len_varint};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Field tags (field number << 3 | wire type) of the messages written here.
mod tag {
    // Export{Trace,Logs}ServiceRequest → Resource{Spans,Logs} → Scope{Spans,Logs}: the same
    // field numbers for both signals.
    pub const REQUEST_RESOURCE_ITEMS: u8 = 0x0A;
    pub const RESOURCE_ITEMS_RESOURCE: u8 = 0x0A;
    pub const RESOURCE_ITEMS_SCOPE_ITEMS: u8 = 0x12;
    pub const SCOPE_ITEMS_SCOPE: u8 = 0x0A;
    pub const SCOPE_ITEMS_ITEM: u8 = 0x12;
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
    pub const SPAN_EVENT: u8 = 0x5A;
    pub const EVENT_TIME: u8 = 0x09;
    pub const EVENT_NAME: u8 = 0x12;
    pub const EVENT_ATTRIBUTE: u8 = 0x1A;
    pub const SPAN_LINK: u8 = 0x6A;
    pub const LINK_TRACE_ID: u8 = 0x0A;
    pub const LINK_SPAN_ID: u8 = 0x12;
    pub const LINK_ATTRIBUTE: u8 = 0x22;
    /// Field 6, fixed32.
    pub const LINK_FLAGS: u8 = 0x35;
    pub const SPAN_STATUS: u8 = 0x7A;
    pub const STATUS_MESSAGE: u8 = 0x12;
    pub const STATUS_CODE: u8 = 0x18;
    pub const KEY_VALUE_KEY: u8 = 0x0A;
    pub const KEY_VALUE_VALUE: u8 = 0x12;
    pub const ANY_STRING: u8 = 0x0A;
    pub const ANY_BOOL: u8 = 0x10;
    pub const ANY_INT: u8 = 0x18;
    pub const ANY_DOUBLE: u8 = 0x21;
    pub const LOG_TIME: u8 = 0x09;
    pub const LOG_SEVERITY_NUMBER: u8 = 0x10;
    pub const LOG_SEVERITY_TEXT: u8 = 0x1A;
    pub const LOG_BODY: u8 = 0x2A;
    pub const LOG_ATTRIBUTE: u8 = 0x32;
    /// Field 8, fixed32.
    pub const LOG_FLAGS: u8 = 0x45;
    pub const LOG_TRACE_ID: u8 = 0x4A;
    pub const LOG_SPAN_ID: u8 = 0x52;
    pub const LOG_OBSERVED_TIME: u8 = 0x59;
    pub const LOG_EVENT_NAME: u8 = 0x62;
}

const SPAN_FLAGS: u32 = 0x101;
/// A link's flags, as the reference (`reference.rs`) sets them: sampled, and known not remote.
pub const LINK_FLAGS: u32 = 0x101;
/// W3C "sampled", as the reference (`reference_logs.rs`) sets it.
const LOG_FLAGS: u32 = 0x01;
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
    /// The name and kind fields, per name a span of the node can have (one, unless its name
    /// follows one of its attribute values).
    heads: Vec<(Sym, Run)>,
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
    /// Failed spans also carry an `exception` event.
    exception_events: bool,
    /// The event's `name` field and its two attribute keys.
    exception: [Run; 3],
    /// The plan's service resources (empty: every span has the run's own).
    resources: Vec<ServiceResource>,
    /// Per node, per link: its attribute fields.
    links: Vec<Vec<Run>>,
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
            exception_events: false,
            exception: [Run { start: 0, len: 0 }; 3],
            resources: plan.services.resources.clone(),
            links: Vec::new(),
        };
        e.exception = [
            e.emit(|b| write_string_field(b, tag::EVENT_NAME, "exception")),
            e.emit(|b| write_string_field(b, tag::KEY_VALUE_KEY, "exception.type")),
            e.emit(|b| write_string_field(b, tag::KEY_VALUE_KEY, "exception.message")),
        ];
        for i in 0..plan.symbol_count() {
            let s = plan.str(Sym(i as u32));
            let key = e.emit(|b| write_string_field(b, tag::KEY_VALUE_KEY, s));
            let string = e.emit(|b| write_string_field(b, tag::ANY_STRING, s));
            e.keys.push(key);
            e.strings.push(string);
        }
        for i in 0..plan.literal_count() {
            let value = super::common::any_value(
                plan,
                &Trace::default(),
                AttrValue::Literal(crate::generate::LiteralId(i as u32)),
            );
            let run = e.emit(|b| value.encode_raw(b));
            e.literals.push(run);
        }
        e.statuses = vec![None; plan.symbol_count()];
        for (index, node) in plan.nodes().enumerate() {
            let id = crate::generate::NodeId(index as u32);
            let codes = [false, true].map(|attempt| e.node_code(plan, id, attempt));
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
            let links = e.link_runs(plan, id);
            e.links.push(links);
        }
        e
    }

    /// What is fixed about the spans of node `id` (its MCP attempts' when `attempt`): the
    /// pre-encoded name and kind per name, and the runs of constant attributes between the
    /// attributes drawn per span.
    fn node_code(&mut self, plan: &Plan, id: crate::generate::NodeId, attempt: bool) -> NodeCode {
        let node = plan.node(id);
        let mut code = NodeCode::default();
        let (names, kind) = if attempt {
            (node.attempt_name.all(), node.attempt_kind)
        } else {
            (node.name.all(), node.kind)
        };
        let kind = span_kind(kind) as i32 as u64;
        for name in names {
            let head = self.emit(|b| {
                write_string_field(b, tag::SPAN_NAME, plan.str(name));
                b.push(tag::SPAN_KIND);
                encode_varint(kind, b);
            });
            code.heads.push((name, head));
        }
        let constants: Vec<Option<(Sym, AttrValue)>> = plan.node_constants(id, attempt).collect();
        let mut run: Option<(Run, u32)> = None;
        for constant in constants {
            match constant {
                Some((key, value)) => {
                    let field = self.emit_attribute(key, value);
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
        code
    }

    /// The attribute fields of each link of the spans of node `id`.
    fn link_runs(&mut self, plan: &Plan, id: crate::generate::NodeId) -> Vec<Run> {
        (0..plan.link_count(id) as u32)
            .map(|k| {
                let mut fields = Vec::new();
                for (key, value) in plan.link_attrs(id, k) {
                    let t = Trace::default();
                    self.write_attribute(&mut fields, tag::LINK_ATTRIBUTE, *key, *value, &t);
                }
                self.emit(|b| b.extend_from_slice(&fields))
            })
            .collect()
    }

    /// Writes the links of `span` as `Span.links` fields.
    fn write_links(&self, trace: &Trace, span: &SpanRecord, out: &mut Vec<u8>) {
        for link in trace.links_of(span) {
            let attrs = self.bytes(self.links[link.node.0 as usize][link.link as usize]);
            let len = 2 + 16 + 2 + 8 + attrs.len() + 5;
            out.push(tag::SPAN_LINK);
            put_varint(out, len as u64);
            out.extend_from_slice(&[tag::LINK_TRACE_ID, 16]);
            out.extend_from_slice(&link.trace_id);
            out.extend_from_slice(&[tag::LINK_SPAN_ID, 8]);
            out.extend_from_slice(&link.span_id);
            out.extend_from_slice(attrs);
            out.push(tag::LINK_FLAGS);
            out.extend_from_slice(&LINK_FLAGS.to_le_bytes());
        }
    }

    /// Also writes each failure as an `exception` span event, as
    /// `reference::exception_event` builds it.
    pub fn with_exception_events(mut self, on: bool) -> SpanEncoder {
        self.exception_events = on;
        self
    }

    /// The length of the `exception` event of a span failed with `kind` and `message`.
    fn exception_event_len(&self, end_ns: u64, kind: Sym, message: Sym) -> usize {
        let [name, type_key, message_key] = self.exception;
        let attribute = |key: Run, value: Sym| {
            let value = self.strings[value.0 as usize].len as usize;
            let kv = key.len as usize + 1 + encoded_len_varint(value as u64) + value;
            1 + encoded_len_varint(kv as u64) + kv
        };
        (if end_ns != 0 { 9 } else { 0 })
            + name.len as usize
            + attribute(type_key, kind)
            + attribute(message_key, message)
    }

    fn write_exception_event(
        &self,
        out: &mut Vec<u8>,
        len: usize,
        end_ns: u64,
        kind: Sym,
        message: Sym,
    ) {
        let [name, type_key, message_key] = self.exception;
        out.push(tag::SPAN_EVENT);
        encode_varint(len as u64, out);
        if end_ns != 0 {
            out.push(tag::EVENT_TIME);
            out.extend_from_slice(&end_ns.to_le_bytes());
        }
        out.extend_from_slice(self.bytes(name));
        for (key, value) in [(type_key, kind), (message_key, message)] {
            let value = self.strings[value.0 as usize];
            let kv =
                key.len as usize + 1 + encoded_len_varint(value.len as u64) + value.len as usize;
            out.push(tag::EVENT_ATTRIBUTE);
            encode_varint(kv as u64, out);
            out.extend_from_slice(self.bytes(key));
            out.push(tag::KEY_VALUE_VALUE);
            encode_varint(value.len as u64, out);
            out.extend_from_slice(self.bytes(value));
        }
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
        self.write_attribute(
            &mut field,
            tag::SPAN_ATTRIBUTE,
            key,
            value,
            &Trace::default(),
        );
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

    /// Writes the attribute `key` = `value` as field `field` (a span's or a log record's).
    fn write_attribute(
        &self,
        out: &mut Vec<u8>,
        field: u8,
        key: Sym,
        value: AttrValue,
        trace: &Trace,
    ) {
        let key = self.bytes(self.keys[key.0 as usize]);
        let any = self.any_value_len(value);
        let kv = key.len() + 1 + encoded_len_varint(any as u64) + any;
        out.push(field);
        put_varint(out, kv as u64);
        out.extend_from_slice(key);
        out.push(tag::KEY_VALUE_VALUE);
        put_varint(out, any as u64);
        match value {
            AttrValue::Str(s) => out.extend_from_slice(self.bytes(self.strings[s.0 as usize])),
            AttrValue::Text { start, len } => {
                write_string_field(out, tag::ANY_STRING, trace.text(start, len))
            }
            AttrValue::Int(i) => {
                out.push(tag::ANY_INT);
                put_varint(out, i as u64);
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
            self.write_span(trace, span, out);
        }
    }

    /// Appends one span of `trace` to `out` as a `ScopeSpans.spans` field.
    pub fn write_span(&self, trace: &Trace, span: &SpanRecord, out: &mut Vec<u8>) {
        let code = &self.nodes[span.node.0 as usize][span.attempt as usize];
        let attrs = trace.attrs_of(span);
        // A call's SERVER span has a name and kind of its own, and no constant runs.
        let segments: &[Segment] = if span.server { &[] } else { &code.segments };
        out.reserve(SPAN_RESERVE);
        // One pass: the body is written behind a two-byte length (what nearly every span
        // needs), which is patched, or moved for the rare span of another size, at the end.
        out.push(tag::SCOPE_ITEMS_ITEM);
        let length_at = out.len();
        out.extend_from_slice(&[0, 0]);
        let body = out.len();
        // The fields in field-number order, as prost writes them.
        out.extend_from_slice(&[tag::SPAN_TRACE_ID, 16]);
        out.extend_from_slice(&trace.trace_id);
        out.extend_from_slice(&[tag::SPAN_SPAN_ID, 8]);
        out.extend_from_slice(&span.span_id);
        if let Some(parent) = span.parent {
            out.extend_from_slice(&[tag::SPAN_PARENT_SPAN_ID, 8]);
            out.extend_from_slice(&trace.spans[parent as usize].span_id);
        }
        match head_of(code, span.name).filter(|_| !span.server) {
            Some(head) => out.extend_from_slice(self.bytes(head)),
            None => {
                // A call's SERVER span, or a name drawn per span: the name as an AnyValue
                // string with the name's tag (the same length and bytes), then the kind.
                let name = self.bytes(self.strings[span.name.0 as usize]);
                if name.len() > 2 {
                    out.push(tag::SPAN_NAME);
                    out.extend_from_slice(&name[1..]);
                }
                out.push(tag::SPAN_KIND);
                put_varint(out, span_kind(span.kind) as i32 as u64);
            }
        }
        if span.start_ns != 0 {
            out.push(tag::SPAN_START);
            out.extend_from_slice(&span.start_ns.to_le_bytes());
        }
        if span.end_ns != 0 {
            out.push(tag::SPAN_END);
            out.extend_from_slice(&span.end_ns.to_le_bytes());
        }
        let mut cursor = 0;
        for segment in segments {
            match *segment {
                Segment::Constant { run, count } => {
                    out.extend_from_slice(self.bytes(run));
                    cursor += count as usize;
                }
                Segment::Dynamic => {
                    let a = attrs[cursor];
                    self.write_attribute(out, tag::SPAN_ATTRIBUTE, a.key, a.value, trace);
                    cursor += 1;
                }
            }
        }
        for a in &attrs[cursor..] {
            self.write_attribute(out, tag::SPAN_ATTRIBUTE, a.key, a.value, trace);
        }
        if let Some((kind, message)) = span.error
            && self.exception_events
        {
            let len = self.exception_event_len(span.end_ns, kind, message);
            self.write_exception_event(out, len, span.end_ns, kind, message);
        }
        // `links` (13) after `events` (11), before `status` (15).
        self.write_links(trace, span, out);
        if let Some((_, message)) = span.error
            && let Some(status) = self.statuses[message.0 as usize]
        {
            out.extend_from_slice(self.bytes(status));
        }
        // `flags` (16) comes last.
        out.extend_from_slice(&tag::SPAN_FLAGS);
        out.extend_from_slice(&SPAN_FLAGS.to_le_bytes());
        patch_length(out, length_at, body);
    }
}

impl SpanEncoder {
    /// Appends one log record of `trace` to `out` as a `ScopeLogs.log_records` field, as
    /// `reference_logs::log_message` builds it.
    pub fn write_log_record(
        &self,
        trace: &Trace,
        logs: &TraceLogs,
        record: &LogRecord,
        out: &mut Vec<u8>,
    ) {
        out.reserve(SPAN_RESERVE);
        out.push(tag::SCOPE_ITEMS_ITEM);
        let length_at = out.len();
        out.extend_from_slice(&[0, 0]);
        let body = out.len();
        if record.time_ns != 0 {
            out.push(tag::LOG_TIME);
            out.extend_from_slice(&record.time_ns.to_le_bytes());
        }
        let severity = record.severity.number();
        if severity != 0 {
            out.push(tag::LOG_SEVERITY_NUMBER);
            put_varint(out, severity as u64);
        }
        let severity_text = record.severity.text();
        if !severity_text.is_empty() {
            write_string_field(out, tag::LOG_SEVERITY_TEXT, severity_text);
        }
        out.push(tag::LOG_BODY);
        put_varint(out, string_field_len(&record.body) as u64);
        write_string_field(out, tag::ANY_STRING, &record.body);
        for a in logs.attrs_of(record) {
            self.write_attribute(out, tag::LOG_ATTRIBUTE, a.key, a.value, trace);
        }
        out.push(tag::LOG_FLAGS);
        out.extend_from_slice(&LOG_FLAGS.to_le_bytes());
        out.extend_from_slice(&[tag::LOG_TRACE_ID, 16]);
        out.extend_from_slice(&trace.trace_id);
        out.extend_from_slice(&[tag::LOG_SPAN_ID, 8]);
        out.extend_from_slice(&trace.spans[record.span as usize].span_id);
        if record.time_ns != 0 {
            out.push(tag::LOG_OBSERVED_TIME);
            out.extend_from_slice(&record.time_ns.to_le_bytes());
        }
        // The name as an AnyValue string, less its tag: the same length and bytes.
        let name = self.bytes(self.strings[record.event_name.0 as usize]);
        if name.len() > 2 {
            out.push(tag::LOG_EVENT_NAME);
            out.extend_from_slice(&name[1..]);
        }
        patch_length(out, length_at, body);
    }
}

/// Room reserved before a span is written, so that its writes rarely need to grow the buffer.
const SPAN_RESERVE: usize = 4096;

/// Writes the length of the message that starts at `body` into the two bytes reserved at
/// `length_at`, moving the message when its length takes another number of bytes.
fn patch_length(out: &mut Vec<u8>, length_at: usize, body: usize) {
    let len = out.len() - body;
    match len {
        0x80..0x4000 => {
            out[length_at] = (len as u8 & 0x7F) | 0x80;
            out[length_at + 1] = (len >> 7) as u8;
        }
        0..0x80 => {
            out[length_at] = len as u8;
            out.copy_within(body.., body - 1);
            out.truncate(out.len() - 1);
        }
        _ => {
            let mut prefix = Vec::with_capacity(10);
            encode_varint(len as u64, &mut prefix);
            out.splice(length_at..body, prefix);
        }
    }
}

fn string_field_len(s: &str) -> usize {
    1 + encoded_len_varint(s.len() as u64) + s.len()
}

fn write_string_field(out: &mut Vec<u8>, tag: u8, s: &str) {
    out.push(tag);
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// prost's `encode_varint`, for a `Vec` only: the generic one goes through `BufMut` for each
/// byte, which showed in the profile of the per-span path.
#[inline]
fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Request buffers that come back once their request has been sent, so that writing requests
/// allocates (and faults in fresh pages for) nothing in the steady state. Handing each request
/// a fresh `Vec` was the alternative rejected: requests of a few hundred KB sit above malloc's
/// mmap threshold, and a third of the writer's time went to growing and zeroing them.
#[derive(Debug, Default)]
struct BufferPool {
    free: Mutex<Vec<Vec<u8>>>,
}

/// Buffers a pool keeps, at most: enough for the requests queued and in flight.
const POOLED: usize = 32;

impl BufferPool {
    fn get(&self) -> Vec<u8> {
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default()
    }

    fn put(&self, mut buffer: Vec<u8>) {
        buffer.clear();
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if free.len() < POOLED {
            free.push(buffer);
        }
    }
}

/// A finished request's bytes, whose buffer goes back to its pool when the request is dropped.
struct Pooled {
    buffer: Vec<u8>,
    start: usize,
    pool: Arc<BufferPool>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buffer[self.start..]
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.pool.put(std::mem::take(&mut self.buffer));
    }
}

#[derive(Clone, Copy)]
struct Mark {
    len: usize,
    items: usize,
}

/// The items of one tenant (spans, or log records), becoming one export request. Trace and log
/// requests have the same layout, with the same field numbers (request → resource and scope →
/// items), so one batch serves both.
pub struct RequestBatch {
    /// The encoded `resource` and `scope` messages.
    resource: Vec<u8>,
    scope: Vec<u8>,
    /// The encoded `schema_url` field of the resource's items (empty for none): it follows
    /// the items, which end the buffer.
    schema_url: Vec<u8>,
    /// The encoded `schema_url` field of the scope's items (empty for none): it follows the
    /// items, inside the scope's message, before the resource's.
    scope_schema_url: Vec<u8>,
    buffer: Vec<u8>,
    pool: Arc<BufferPool>,
    /// Bytes reserved in front of the items for the request header.
    gap: usize,
    items: usize,
}

impl RequestBatch {
    pub fn new(template: &ResourceTemplate, tenant: &str) -> RequestBatch {
        RequestBatch::with_pool(template, tenant, Arc::default())
    }

    /// A batch whose buffers come from, and go back to, `pool`.
    fn with_pool(template: &ResourceTemplate, tenant: &str, pool: Arc<BufferPool>) -> RequestBatch {
        let scope = InstrumentationScope {
            name: SCOPE_NAME.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            ..Default::default()
        };
        let resource = template.resource(tenant).encode_to_vec();
        let scope = scope.encode_to_vec();
        let mut schema_url = Vec::new();
        if !template.schema_url.is_empty() {
            prost::encoding::string::encode(3, &template.schema_url, &mut schema_url);
        }
        let mut scope_schema_url = Vec::new();
        if !template.scope_schema_url.is_empty() {
            prost::encoding::string::encode(3, &template.scope_schema_url, &mut scope_schema_url);
        }
        // Tags, and lengths of at most ten bytes each.
        let gap = 1 + 10 + 1 + 10 + resource.len() + 1 + 10 + 1 + 10 + scope.len();
        let mut batch = RequestBatch {
            resource,
            scope,
            schema_url,
            scope_schema_url,
            buffer: pool.get(),
            pool,
            gap,
            items: 0,
        };
        batch.reset();
        batch
    }

    fn reset(&mut self) {
        self.buffer.clear();
        self.buffer.resize(self.gap, 0);
        self.items = 0;
    }

    /// Adds every span of `trace`.
    pub fn add_trace(&mut self, encoder: &SpanEncoder, trace: &Trace) {
        encoder.write_trace(trace, &mut self.buffer);
        self.items += trace.spans.len();
    }

    /// Adds the items `parts` of a unit, each written by `write`.
    fn add_parts(&mut self, parts: std::ops::Range<usize>, write: &dyn Fn(usize, &mut Vec<u8>)) {
        self.items += parts.len();
        for part in parts {
            write(part, &mut self.buffer);
        }
    }

    /// Where the batch stands, to [`RequestBatch::truncate`] back to.
    fn mark(&self) -> Mark {
        Mark {
            len: self.buffer.len(),
            items: self.items,
        }
    }

    /// Removes what was added since `mark`.
    fn truncate(&mut self, mark: Mark) {
        self.buffer.truncate(mark.len);
        self.items = mark.items;
    }

    fn fits(&self, limits: &BatchLimits) -> bool {
        self.items <= limits.max_items && self.buffer.len() <= limits.max_bytes
    }

    fn full(&self, limits: &BatchLimits) -> bool {
        self.items >= limits.max_items || self.buffer.len() >= limits.max_bytes
    }

    /// Items (spans or log records) in the batch.
    pub fn items(&self) -> usize {
        self.items
    }

    /// Bytes the request would have now (an upper bound, by the unused part of the gap).
    pub fn encoded_len(&self) -> usize {
        self.buffer.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items == 0
    }

    /// The finished export request; the batch starts over empty.
    pub fn take(&mut self) -> Bytes {
        let items_len = self.buffer.len() - self.gap;
        let scope_field = 1 + encoded_len_varint(self.scope.len() as u64) + self.scope.len();
        let scope_items = scope_field + items_len + self.scope_schema_url.len();
        let resource_field =
            1 + encoded_len_varint(self.resource.len() as u64) + self.resource.len();
        let resource_items = resource_field
            + 1
            + encoded_len_varint(scope_items as u64)
            + scope_items
            + self.schema_url.len();
        let mut header = Vec::with_capacity(self.gap);
        header.push(tag::REQUEST_RESOURCE_ITEMS);
        encode_varint(resource_items as u64, &mut header);
        header.push(tag::RESOURCE_ITEMS_RESOURCE);
        encode_varint(self.resource.len() as u64, &mut header);
        header.extend_from_slice(&self.resource);
        header.push(tag::RESOURCE_ITEMS_SCOPE_ITEMS);
        encode_varint(scope_items as u64, &mut header);
        header.push(tag::SCOPE_ITEMS_SCOPE);
        encode_varint(self.scope.len() as u64, &mut header);
        header.extend_from_slice(&self.scope);
        let start = self.gap - header.len();
        self.buffer[start..self.gap].copy_from_slice(&header);
        self.buffer.extend_from_slice(&self.scope_schema_url);
        self.buffer.extend_from_slice(&self.schema_url);
        let full = std::mem::replace(&mut self.buffer, self.pool.get());
        let request = Bytes::from_owner(Pooled {
            buffer: full,
            start,
            pool: self.pool.clone(),
        });
        self.reset();
        request
    }
}

/// A finished request of one tenant's items.
pub struct EncodedRequest {
    /// Index of the tenant in the list the batches were made with.
    pub tenant: u32,
    pub bytes: Bytes,
    pub items: u64,
}

/// Collects the items of traces (their spans, or their log records) into requests, one
/// [`RequestBatch`] per tenant and resource, and hands over each request once it is full (by
/// item count or encoded size) or has waited long enough. A trace's items are never split across
/// requests unless they alone exceed the limits (or go out under different resources: each
/// service of a trace sends its own part, as its process would): a batch that cannot take them
/// all is sent first. Whether they fit is learned by writing them; the rare trace that does not
/// is cut off again and written anew, which costs less than measuring every trace twice.
pub struct TenantBatches {
    tenants: Vec<String>,
    limits: BatchLimits,
    /// Per resource (the first the run's own, then each service instance met): its template
    /// and, per tenant, its batch and when the batch got its first item.
    slots: Vec<ResourceSlot>,
    /// Per encoder (by address): the slot of each of its plan's resources.
    slot_of: HashMap<usize, Vec<usize>>,
    /// The items of one resource of the trace being added.
    scratch: Vec<u32>,
    pool: Arc<BufferPool>,
}

type Slot = Option<(RequestBatch, Option<Instant>)>;

struct ResourceSlot {
    service: Option<ServiceResource>,
    template: ResourceTemplate,
    batches: Vec<Slot>,
}

impl TenantBatches {
    pub fn new(
        template: ResourceTemplate,
        tenants: Vec<String>,
        limits: BatchLimits,
    ) -> TenantBatches {
        TenantBatches {
            slots: vec![ResourceSlot {
                service: None,
                template,
                batches: tenants.iter().map(|_| None).collect(),
            }],
            slot_of: HashMap::new(),
            scratch: Vec::new(),
            tenants,
            pool: Arc::default(),
            limits: BatchLimits {
                max_items: limits.max_items.max(1),
                max_bytes: limits.max_bytes.max(1),
            },
        }
    }

    /// Adds the spans of `trace`; each request that fills up is passed to `ready`.
    pub fn add_trace(
        &mut self,
        encoder: &SpanEncoder,
        trace: &Trace,
        ready: &mut dyn FnMut(EncodedRequest),
    ) {
        if encoder.resources.is_empty() {
            let write =
                |i: usize, out: &mut Vec<u8>| encoder.write_span(trace, &trace.spans[i], out);
            return self.add(0, trace.tenant, trace.spans.len(), &write, ready);
        }
        self.add_by_resource(
            encoder,
            trace.tenant,
            ready,
            &|i| trace.spans[i].resource,
            trace.spans.len(),
            &|i, out| encoder.write_span(trace, &trace.spans[i], out),
        );
    }

    /// Adds the log records `logs` derived from `trace`.
    pub fn add_logs(
        &mut self,
        encoder: &SpanEncoder,
        trace: &Trace,
        logs: &TraceLogs,
        ready: &mut dyn FnMut(EncodedRequest),
    ) {
        let records = logs.records();
        let write =
            |i: usize, out: &mut Vec<u8>| encoder.write_log_record(trace, logs, &records[i], out);
        if encoder.resources.is_empty() {
            return self.add(0, trace.tenant, records.len(), &write, ready);
        }
        let resource = |i: usize| trace.spans[records[i].span as usize].resource;
        self.add_by_resource(
            encoder,
            trace.tenant,
            ready,
            &resource,
            records.len(),
            &write,
        );
    }

    /// Adds `parts` items of a trace whose plan has service resources: each resource's items
    /// to that resource's batch.
    fn add_by_resource(
        &mut self,
        encoder: &SpanEncoder,
        tenant: u32,
        ready: &mut dyn FnMut(EncodedRequest),
        resource_of: &dyn Fn(usize) -> u32,
        parts: usize,
        write: &dyn Fn(usize, &mut Vec<u8>),
    ) {
        let id = std::ptr::from_ref(encoder) as usize;
        // Taken out and put back, so the hot path allocates nothing once the slots exist.
        let slots = match self.slot_of.remove(&id) {
            Some(slots) => slots,
            None => self.slots_of(encoder),
        };
        // The items by resource (in order within each), then one run per resource met: a
        // trace crosses few of a plan's resources, however many instances they have.
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend(0..parts as u32);
        scratch.sort_by_key(|&i| resource_of(i as usize));
        let mut start = 0;
        while start < scratch.len() {
            let resource = resource_of(scratch[start] as usize);
            let len = scratch[start..]
                .iter()
                .take_while(|&&i| resource_of(i as usize) == resource)
                .count();
            let run = &scratch[start..start + len];
            let write = |i: usize, out: &mut Vec<u8>| write(run[i] as usize, out);
            let slot = slots.get(resource as usize).copied().unwrap_or(0);
            self.add(slot, tenant, len, &write, ready);
            start += len;
        }
        self.scratch = scratch;
        self.slot_of.insert(id, slots);
    }

    /// The slot of each resource of `encoder`'s plan, made when the plan is first met.
    fn slots_of(&mut self, encoder: &SpanEncoder) -> Vec<usize> {
        let mut slots = Vec::with_capacity(encoder.resources.len());
        for resource in &encoder.resources {
            let found = self
                .slots
                .iter()
                .position(|s| s.service.as_ref() == Some(resource));
            slots.push(found.unwrap_or_else(|| {
                self.slots.push(ResourceSlot {
                    service: Some(resource.clone()),
                    template: self.slots[0].template.with_service(resource),
                    batches: self.tenants.iter().map(|_| None).collect(),
                });
                self.slots.len() - 1
            }));
        }
        slots
    }

    /// Adds one trace's `parts` items of resource slot `slot`, each written by `write`.
    fn add(
        &mut self,
        slot: usize,
        tenant: u32,
        parts: usize,
        write: &dyn Fn(usize, &mut Vec<u8>),
        ready: &mut dyn FnMut(EncodedRequest),
    ) {
        if parts == 0 {
            return;
        }
        let limits = self.limits;
        let resource = &mut self.slots[slot];
        let (batch, opened) = resource.batches[tenant as usize].get_or_insert_with(|| {
            (
                RequestBatch::with_pool(
                    &resource.template,
                    &self.tenants[tenant as usize],
                    self.pool.clone(),
                ),
                None,
            )
        });
        opened.get_or_insert_with(Instant::now);
        let mark = batch.mark();
        batch.add_parts(0..parts, write);
        if !batch.fits(&limits) {
            batch.truncate(mark);
            if !batch.is_empty() {
                ready(take(tenant, batch));
            }
            batch.add_parts(0..parts, write);
            if !batch.fits(&limits) {
                // Too big for any one request: item by item.
                batch.truncate(Mark {
                    len: batch.gap,
                    items: 0,
                });
                for part in 0..parts {
                    let mark = batch.mark();
                    batch.add_parts(part..part + 1, write);
                    if !batch.fits(&limits) && mark.items > 0 {
                        batch.truncate(mark);
                        ready(take(tenant, batch));
                        batch.add_parts(part..part + 1, write);
                    }
                }
            }
        }
        if batch.full(&limits) {
            ready(take(tenant, batch));
            *opened = None;
        }
    }

    /// Passes every batch that is not empty to `ready`.
    pub fn flush(&mut self, ready: &mut dyn FnMut(EncodedRequest)) {
        self.flush_opened_before(None, ready);
    }

    /// Passes to `ready` every batch that got its first item before `deadline` (every one that
    /// is not empty, for `None`): requests of rarely chosen tenants would otherwise wait long.
    pub fn flush_opened_before(
        &mut self,
        deadline: Option<Instant>,
        ready: &mut dyn FnMut(EncodedRequest),
    ) {
        for resource in &mut self.slots {
            for (tenant, slot) in resource.batches.iter_mut().enumerate() {
                let Some((batch, opened)) = slot else {
                    continue;
                };
                let due = match (*opened, deadline) {
                    (None, _) => false,
                    (Some(_), None) => true,
                    (Some(at), Some(deadline)) => at < deadline,
                };
                if due && !batch.is_empty() {
                    ready(take(tenant as u32, batch));
                    *opened = None;
                }
            }
        }
    }
}

fn take(tenant: u32, batch: &mut RequestBatch) -> EncodedRequest {
    let items = batch.items() as u64;
    EncodedRequest {
        tenant,
        bytes: batch.take(),
        items,
    }
}

/// The pre-encoded name, kind and flags of a span called `name` of the node `code` encodes,
/// when the plan knew that name (a generic step may draw a name of its own per span).
fn head_of(code: &NodeCode, name: Sym) -> Option<Run> {
    code.heads
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, head)| *head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::reference::TraceBatch;
    use crate::generate::{Iteration, PlanOptions, generate};
    use crate::scenario::{BUNDLED, LoadOptions, decode};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use proptest::prelude::*;

    /// Generic steps, links (within the trace, to the previous trace, with attributes) and a
    /// parallel fan-out under a retried root: what no bundled scenario may have yet.
    const LINKED: &str = r#"
name: linked
root:
  type: vendor.a2a.orchestrate
  retry: {max_attempts: 2, force_initial_failure: true}
  parallel: true
  links: [{to: previous_trace, attributes: {link.reason: follow_up, n: 2, f: [1, 2]}}]
  children:
    - name: "{http.request.method} {url.path}"
      convention: http
      id: fetch
      count: {min: 0, max: 3}
      error: 0.3
      attributes:
        url.path: /a
        url.full: "https://x/a"
        server.address: x
        http.request.method: {distribution: categorical, values: [GET, POST, DELETE]}
    - name: "publish {messaging.destination.name}"
      convention: messaging
      retry: {max_attempts: 3}
      error: 0.4
      links: [{to: fetch}, {to: fetch, attributes: {messaging.operation.type: process}}]
      attributes: {messaging.system: kafka, messaging.destination.name: q}
    - name: "/svc.Echo/Call"
      convention: rpc
      error: 0.5
"#;

    /// The bundled scenarios and [`LINKED`].
    fn names() -> Vec<&'static str> {
        BUNDLED.iter().map(|(n, _)| *n).chain(["linked"]).collect()
    }

    /// The scenarios whose log records go out under one resource, as the prost log oracle
    /// batches them (with `services`, each record is under its span's service: what
    /// `tests/it/services.rs` checks through the judge).
    fn one_resource_names() -> Vec<&'static str> {
        names()
            .into_iter()
            .filter(|n| !plan(n, "vendor", false).services.is_declared())
            .collect()
    }

    fn plan(name: &str, prefix: &str, schema: bool) -> Plan {
        let text = BUNDLED
            .iter()
            .chain(&[("linked", LINKED)])
            .find(|(n, _)| *n == name)
            .unwrap()
            .1;
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
                profile: Default::default(),
            },
        )
    }

    proptest! {
        /// A length patched in after the body is the length prefix prost writes before it, for
        /// bodies whose length takes one, two or three bytes.
        #[test]
        fn patched_lengths_are_prosts_prefixes(
            len in prop_oneof![0usize..0x80, 0x80usize..0x4000, 0x4000usize..0x30000],
            before in 0usize..5,
        ) {
            let body: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut expected = vec![7u8; before];
            encode_varint(len as u64, &mut expected);
            expected.extend_from_slice(&body);
            let mut out = vec![7u8; before];
            let length_at = out.len();
            out.extend_from_slice(&[0, 0]);
            let start = out.len();
            out.extend_from_slice(&body);
            patch_length(&mut out, length_at, start);
            prop_assert_eq!(out, expected);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// Speed never changes what is sent: the fast writer's bytes are prost's.
        #[test]
        fn the_fast_encoder_writes_exactly_what_prost_writes(
            name in prop::sample::select(names()),
            seed in any::<u64>(),
            iterations in 1u64..30,
            prefix in prop::sample::select(vec!["vendor", "acme"]),
            schema in any::<bool>(),
            end in prop_oneof![Just(1_700_000_000_000_000_000u64), 1u64..5_000_000_000],
            events in any::<bool>(),
        ) {
            let plan = plan(name, prefix, schema);
            let template = ResourceTemplate {
                attributes: vec![("service.name".into(), "svc".into()), ("service.version".into(), "1".into())],
                tenant_keys: vec!["tenant.id".into()],
                schema_url: if schema { "https://opentelemetry.io/schemas/1.37.0".into() } else { String::new() },
                scope_schema_url: if schema { "https://opentelemetry.io/schemas/gen-ai-dev/1.42.0-dev".into() } else { String::new() },
            };
            let encoder = SpanEncoder::new(&plan).with_exception_events(events);
            let mut reference = TraceBatch::new(template.clone(), BatchLimits::UNLIMITED)
                .with_exception_events(events);
            let mut fast = RequestBatch::new(&template, "tenant-b");
            let mut out = Iteration::default();
            for index in 0..iterations {
                generate(&plan, seed, index, 1, end, &mut out);
                for trace in out.traces() {
                    reference.add(&plan, trace, &mut |_, _| unreachable!("unlimited"));
                    fast.add_trace(&encoder, trace);
                }
            }
            prop_assert_eq!(fast.items(), reference.spans());
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

        /// The inline scenario of generic steps every time: links, drawn names, status codes.
        #[test]
        fn links_and_drawn_names_are_written_exactly_as_prost(
            seed in any::<u64>(),
            iterations in 1u64..12,
            events in any::<bool>(),
        ) {
            let plan = plan("linked", "vendor", true);
            let template = ResourceTemplate {
                attributes: vec![("service.name".into(), "svc".into())],
                tenant_keys: vec!["tenant.id".into()],
                schema_url: String::new(),
                scope_schema_url: String::new(),
            };
            let encoder = SpanEncoder::new(&plan).with_exception_events(events);
            let mut reference = TraceBatch::new(template.clone(), BatchLimits::UNLIMITED)
                .with_exception_events(events);
            let mut fast = RequestBatch::new(&template, "tenant-b");
            let mut out = Iteration::default();
            for index in 0..iterations {
                generate(&plan, seed, index, 1, 1_700_000_000_000_000_000, &mut out);
                for trace in out.traces() {
                    reference.add(&plan, trace, &mut |_, _| unreachable!("unlimited"));
                    fast.add_trace(&encoder, trace);
                }
            }
            let (got, expected) = (fast.take(), reference.take().encode_to_vec());
            prop_assert!(got.as_ref() == expected.as_slice(), "the writers differ");
        }

        /// Log records too: the fast writer's requests are prost's, tenant by tenant.
        #[test]
        fn the_fast_encoder_writes_log_records_exactly_as_prost(
            name in prop::sample::select(one_resource_names()),
            seed in any::<u64>(),
            iterations in 1u64..20,
            schema in any::<bool>(),
        ) {
            let plan = plan(name, "vendor", schema);
            let template = ResourceTemplate {
                attributes: vec![("service.name".into(), "svc".into())],
                tenant_keys: vec!["tenant.id".into()],
                schema_url: if schema { "https://example.com/schemas/2".into() } else { String::new() },
                scope_schema_url: String::new(),
            };
            let encoder = SpanEncoder::new(&plan);
            let tenants = vec!["tenant-a".to_string(), "tenant-b".to_string()];
            let mut reference = crate::encode::reference_logs::LogBatch::new(template.clone());
            let mut fast = TenantBatches::new(template, tenants.clone(), BatchLimits::UNLIMITED);
            let mut logs = TraceLogs::default();
            let mut out = Iteration::default();
            for index in 0..iterations {
                generate(&plan, seed, index, (index % 2) as u32, 1_700_000_000_000_000_000, &mut out);
                for trace in out.traces() {
                    logs.derive(&plan, trace);
                    reference.add(&plan, trace, &logs);
                    fast.add_logs(&encoder, trace, &logs, &mut |_| unreachable!("unlimited"));
                }
            }
            let mut got = Vec::new();
            fast.flush(&mut |r| got.push(r));
            let expected = reference.take();
            prop_assert_eq!(got.len(), expected.len());
            for request in &got {
                let tenant = &tenants[request.tenant as usize];
                let want = expected.iter().find(|e| &e.tenant == tenant).unwrap();
                prop_assert_eq!(request.items, want.items);
                prop_assert!(request.bytes.as_ref() == want.request.encode_to_vec().as_slice(),
                    "the log request of {} differs from prost's", tenant);
            }
        }

        /// Requests respect their limits, hold one tenant each, keep traces whole where they
        /// fit, and together carry every span once, in order.
        #[test]
        fn batches_cut_requests_within_limits_and_lose_nothing(
            seed in any::<u64>(),
            iterations in 1u64..40,
            max_items in 1usize..200,
            max_bytes in 200usize..40_000,
        ) {
            let plan = plan("tool_retry", "vendor", false);
            let template = ResourceTemplate {
                attributes: vec![("service.name".into(), "svc".into())],
                tenant_keys: vec!["tenant.id".into()],
                schema_url: String::new(),
                scope_schema_url: String::new(),
            };
            let encoder = SpanEncoder::new(&plan);
            let tenants = vec!["tenant-a".to_string(), "tenant-b".to_string()];
            let limits = BatchLimits { max_items, max_bytes };
            let mut batches = TenantBatches::new(template, tenants.clone(), limits);
            let mut requests = Vec::new();
            let mut expected: [Vec<(Vec<u8>, Vec<u8>)>; 2] = Default::default();
            let mut out = Iteration::default();
            for index in 0..iterations {
                generate(&plan, seed, index, (index % 2) as u32, 1_700_000_000_000_000_000, &mut out);
                for trace in out.traces() {
                    expected[trace.tenant as usize]
                        .extend(trace.spans.iter().map(|s| (trace.trace_id.to_vec(), s.span_id.to_vec())));
                    batches.add_trace(&encoder, trace, &mut |r| requests.push(r));
                }
            }
            batches.flush(&mut |r| requests.push(r));
            let mut got: [Vec<(Vec<u8>, Vec<u8>)>; 2] = Default::default();
            for request in &requests {
                let decoded = ExportTraceServiceRequest::decode(request.bytes.as_ref()).unwrap();
                prop_assert_eq!(decoded.resource_spans.len(), 1);
                let spans = &decoded.resource_spans[0].scope_spans[0].spans;
                prop_assert_eq!(spans.len() as u64, request.items);
                prop_assert!(spans.len() <= max_items);
                prop_assert!(request.bytes.len() <= max_bytes || spans.len() == 1,
                    "{} bytes in {} spans", request.bytes.len(), spans.len());
                let tenant = &decoded.resource_spans[0].resource.as_ref().unwrap().attributes;
                let named = tenant.iter().any(|kv| kv.key == "tenant.id"
                    && format!("{:?}", kv.value).contains(&tenants[request.tenant as usize]));
                prop_assert!(named, "request of tenant {} lacks its tenant.id", request.tenant);
                got[request.tenant as usize]
                    .extend(spans.iter().map(|s| (s.trace_id.clone(), s.span_id.clone())));
            }
            prop_assert_eq!(got, expected);
        }
    }

    /// A scenario with services: SERVER spans (their own names and kinds, no constant runs)
    /// are prost's bytes too, and each request holds one service instance's spans under its
    /// resource, none lost.
    #[test]
    fn calls_encode_as_prost_and_batch_by_service_instance() {
        let plan = crate::generate::testing::plan(
            "services:\n  agent: {instances: 2}\n  tools: {version: '9'}\nroot:\n  children:\n    - type: vendor.mcp.tool.execute\n      attributes: {gen_ai.tool.name: {distribution: categorical, values: [a, b]}}\n      remote: {service: tools}\n    - type: vendor.llm.call\n      remote: {service: tools, name: 'infer {gen_ai.request.model}'}\n",
        );
        let template = ResourceTemplate {
            attributes: vec![("service.name".into(), "svc".into())],
            tenant_keys: vec!["tenant.id".into()],
            schema_url: String::new(),
            scope_schema_url: String::new(),
        };
        let encoder = SpanEncoder::new(&plan);
        let traces = crate::generate::testing::traces(&plan, 9, 40);
        let mut reference = TraceBatch::new(template.clone(), BatchLimits::UNLIMITED);
        let mut fast = RequestBatch::new(&template, "t1");
        for trace in traces.iter().filter(|t| t.tenant == 0) {
            reference.add(&plan, trace, &mut |_, _| unreachable!("unlimited"));
            fast.add_trace(&encoder, trace);
        }
        assert_eq!(
            fast.take().as_ref(),
            reference.take().encode_to_vec().as_slice()
        );

        let tenants = vec!["t1".to_string(), "t2".to_string()];
        let mut batches = TenantBatches::new(template, tenants, BatchLimits::default());
        let mut requests = Vec::new();
        for trace in &traces {
            batches.add_trace(&encoder, trace, &mut |r| requests.push(r));
        }
        batches.flush(&mut |r| requests.push(r));
        let mut spans = 0;
        let mut instances = std::collections::BTreeSet::new();
        for request in &requests {
            let decoded = ExportTraceServiceRequest::decode(request.bytes.as_ref()).unwrap();
            assert_eq!(decoded.resource_spans.len(), 1);
            let group = &decoded.resource_spans[0];
            let resource = &group.resource.as_ref().unwrap().attributes;
            let value = |key: &str| {
                resource
                    .iter()
                    .find(|kv| kv.key == key)
                    .map(|kv| format!("{:?}", kv.value))
                    .unwrap_or_default()
            };
            let service = value("service.name");
            instances.insert(value("service.instance.id"));
            for span in &group.scope_spans[0].spans {
                let server = span.kind == span_kind(crate::value::SpanKind::Server) as i32;
                let caller = span.name.contains("orchestrate") || !server;
                assert_eq!(
                    service.contains("\"agent\""),
                    caller,
                    "{} under {service}",
                    span.name
                );
                assert_eq!(value("service.version").contains("\"9\""), !caller);
                if server {
                    let named = ["tools/call a", "tools/call b", "vendor.a2a.orchestrate"]
                        .contains(&span.name.as_str())
                        || span.name.starts_with("infer ");
                    assert!(named, "{}", span.name);
                }
            }
            spans += request.items as usize;
        }
        assert_eq!(spans, traces.iter().map(|t| t.spans.len()).sum::<usize>());
        assert_eq!(instances.len(), 3, "{instances:?}");
    }
}
