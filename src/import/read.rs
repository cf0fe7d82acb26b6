//! One input (a file or standard input) to batches of [`RawSpan`]s, whatever its format, in
//! bounded memory: JSON lines are read one line at a time, protobuf one framed message at a time.
//!
//! The format is told from the first bytes, not from the file name (`-` has none, and the
//! Collector names its files as the user likes): `{` is JSON (lines of OTLP requests, or one
//! document: Jaeger's, or a pretty-printed request), gzip's magic is unpacked first, and anything
//! else is protobuf: a 4-byte big-endian length before each `ExportTraceServiceRequest` (how the
//! Collector's file exporter writes `format: proto`), varint-delimited messages (protobuf's own
//! `writeDelimitedTo`), or one bare message per file. Every error carries the input's name, the
//! line (for JSON) and the byte offset where the bad record starts.

use super::span::{AttrValue, RawSpan};
use super::{jaeger, otlp_json};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use prost::Message as _;
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The longest line, JSON document or protobuf message read at once (a memory bound).
pub const MAX_RECORD: usize = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{input}: cannot read: {source}")]
    Io {
        input: String,
        source: std::io::Error,
    },
    #[error("{input}:{line}: (byte {offset}) {message}")]
    Json {
        input: String,
        line: u64,
        offset: u64,
        message: String,
    },
    #[error("{input}: (byte {offset}) {message}")]
    Binary {
        input: String,
        offset: u64,
        message: String,
    },
}

/// A reader that counts the bytes it has handed on (for the progress bar).
pub struct Counted<R> {
    inner: R,
    pub count: Arc<AtomicU64>,
}

impl<R: Read> Counted<R> {
    pub fn new(inner: R, count: Arc<AtomicU64>) -> Counted<R> {
        Counted { inner, count }
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// What a reader found besides spans.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadTotals {
    /// Metric and log requests (this tool's `--output` interleaves them), skipped.
    pub other_signals: u64,
}

/// Reads `input` (named `name` in errors), handing every export request's spans to `batch`.
pub fn read(
    name: &str,
    input: Box<dyn Read + '_>,
    batch: &mut dyn FnMut(Vec<RawSpan>),
) -> Result<ReadTotals, ReadError> {
    let io = |source| ReadError::Io {
        input: name.to_string(),
        source,
    };
    let mut reader = BufReader::with_capacity(1 << 16, input);
    let head = reader.fill_buf().map_err(io)?;
    if head.starts_with(&[0x1f, 0x8b]) {
        let inflated = flate2::read::MultiGzDecoder::new(reader);
        return read(name, Box::new(inflated), batch);
    }
    match head.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Ok(ReadTotals::default()),
        Some(b'{' | b'[') => read_json(name, reader, batch),
        Some(_) => read_proto(name, reader, batch),
    }
}

/// Reads up to `MAX_RECORD` bytes through the next newline into `line`.
fn next_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> std::io::Result<usize> {
    line.clear();
    reader.take(MAX_RECORD as u64 + 1).read_until(b'\n', line)
}

fn read_json(
    name: &str,
    mut reader: impl BufRead,
    batch: &mut dyn FnMut(Vec<RawSpan>),
) -> Result<ReadTotals, ReadError> {
    let mut totals = ReadTotals::default();
    let (mut line_no, mut offset) = (0u64, 0u64);
    let mut line = Vec::new();
    loop {
        let n = next_line(&mut reader, &mut line).map_err(|source| ReadError::Io {
            input: name.to_string(),
            source,
        })?;
        if n == 0 {
            return Ok(totals);
        }
        line_no += 1;
        let located = |message: String| ReadError::Json {
            input: name.to_string(),
            line: line_no,
            offset,
            message,
        };
        if line.len() > MAX_RECORD {
            return Err(located(format!("a line longer than {MAX_RECORD} bytes")));
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            offset += n as u64;
            continue;
        }
        match serde_json::from_slice::<serde_json::Value>(&line) {
            Ok(value) => record(&value, &mut totals, batch).map_err(located)?,
            // The first record spans several lines: the input is one or more pretty documents.
            Err(e) if e.is_eof() && line_no == 1 => {
                return read_documents(name, line, reader, batch);
            }
            Err(e) => return Err(located(format!("not JSON: {e}"))),
        }
        offset += n as u64;
    }
}

/// One JSON record: an OTLP request, a Jaeger document, or another signal (skipped).
fn record(
    value: &serde_json::Value,
    totals: &mut ReadTotals,
    batch: &mut dyn FnMut(Vec<RawSpan>),
) -> Result<(), String> {
    if jaeger::is_jaeger(value) {
        batch(jaeger::spans(value)?);
    } else if otlp_json::is_trace_request(value) {
        batch(otlp_json::spans(value)?);
    } else if otlp_json::is_other_signal(value) {
        totals.other_signals += 1;
    } else {
        return Err(
            "neither an OTLP export request (resourceSpans) nor a Jaeger document (data)".into(),
        );
    }
    Ok(())
}

/// Whitespace-separated JSON documents (pretty-printed), read whole up to `MAX_RECORD`.
fn read_documents(
    name: &str,
    mut text: Vec<u8>,
    reader: impl BufRead,
    batch: &mut dyn FnMut(Vec<RawSpan>),
) -> Result<ReadTotals, ReadError> {
    reader
        .take(MAX_RECORD as u64)
        .read_to_end(&mut text)
        .map_err(|source| ReadError::Io {
            input: name.to_string(),
            source,
        })?;
    let mut totals = ReadTotals::default();
    let located = |offset: usize, message: String| ReadError::Json {
        input: name.to_string(),
        line: 1 + text[..offset.min(text.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64,
        offset: offset as u64,
        message,
    };
    let mut stream = serde_json::Deserializer::from_slice(&text).into_iter::<serde_json::Value>();
    loop {
        let start = stream.byte_offset();
        match stream.next() {
            None => return Ok(totals),
            Some(Ok(value)) => {
                let skip = text[start..].iter().take_while(|b| b.is_ascii_whitespace());
                let at = start + skip.count();
                record(&value, &mut totals, batch).map_err(|e| located(at, e))?;
            }
            Some(Err(e)) => {
                let at = stream.byte_offset();
                return Err(located(at, format!("not JSON: {e}")));
            }
        }
    }
}

fn read_proto(
    name: &str,
    mut reader: impl BufRead,
    batch: &mut dyn FnMut(Vec<RawSpan>),
) -> Result<ReadTotals, ReadError> {
    let located = |offset: u64, message: String| ReadError::Binary {
        input: name.to_string(),
        offset,
        message,
    };
    let io = |source| ReadError::Io {
        input: name.to_string(),
        source,
    };
    let first = reader.fill_buf().map_err(io)?[0];
    let mut offset = 0u64;
    if first == 0x0a {
        // One bare message: field 1 (resource_spans), length-delimited.
        let mut bytes = Vec::new();
        reader
            .take(MAX_RECORD as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() > MAX_RECORD {
            return Err(located(
                0,
                format!("a message longer than {MAX_RECORD} bytes"),
            ));
        }
        batch(decode(&bytes).map_err(|e| located(0, e))?);
        return Ok(ReadTotals::default());
    }
    let big_endian = first == 0;
    let mut bytes = Vec::new();
    loop {
        let Some((length, header)) = frame_length(&mut reader, big_endian).map_err(io)? else {
            return Ok(ReadTotals::default());
        };
        let length = length.map_err(|e| located(offset, e))?;
        if length > MAX_RECORD as u64 {
            return Err(located(
                offset,
                format!("a message of {length} bytes (the most is {MAX_RECORD})"),
            ));
        }
        bytes.resize(length as usize, 0);
        reader.read_exact(&mut bytes).map_err(|_| {
            located(
                offset,
                format!("the input ends inside a message of {length} bytes"),
            )
        })?;
        batch(decode(&bytes).map_err(|e| located(offset, e))?);
        offset += header + length;
    }
}

/// The next frame's length and header size; `None` at a clean end of input.
#[allow(clippy::type_complexity)]
fn frame_length(
    reader: &mut impl BufRead,
    big_endian: bool,
) -> std::io::Result<Option<(Result<u64, String>, u64)>> {
    if reader.fill_buf()?.is_empty() {
        return Ok(None);
    }
    if big_endian {
        let mut four = [0u8; 4];
        return Ok(Some(match reader.read_exact(&mut four) {
            Ok(()) => (Ok(u64::from(u32::from_be_bytes(four))), 4),
            Err(_) => (Err("the input ends inside a length prefix".into()), 4),
        }));
    }
    let (mut value, mut shift, mut used) = (0u64, 0u32, 0u64);
    loop {
        let mut byte = [0u8; 1];
        if reader.read_exact(&mut byte).is_err() {
            return Ok(Some((
                Err("the input ends inside a length prefix".into()),
                used,
            )));
        }
        used += 1;
        value |= u64::from(byte[0] & 0x7f) << shift;
        if byte[0] & 0x80 == 0 {
            return Ok(Some((Ok(value), used)));
        }
        shift += 7;
        if shift > 35 {
            return Ok(Some((
                Err("not protobuf: a length prefix over 5 bytes".into()),
                used,
            )));
        }
    }
}

/// One protobuf `ExportTraceServiceRequest` to spans.
fn decode(bytes: &[u8]) -> Result<Vec<RawSpan>, String> {
    let request = ExportTraceServiceRequest::decode(bytes)
        .map_err(|e| format!("not an OTLP trace export request: {e}"))?;
    let mut out = Vec::new();
    for resource_spans in request.resource_spans {
        let resource = resource_spans
            .resource
            .map(|r| proto_attributes(r.attributes))
            .unwrap_or_default();
        let service = resource.iter().find_map(|(k, v)| match v {
            AttrValue::Str(s) if k == "service.name" => Some(s.clone()),
            _ => None,
        });
        let detail = super::span::Resource::of(&resource);
        let simulated = resource.iter().any(|(k, v)| {
            k == "telemetry.sdk.name" && *v == AttrValue::Str("telemetry-simulator".into())
        });
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                let id = |b: &[u8]| b.iter().fold(0u128, |acc, x| (acc << 8) | u128::from(*x));
                let status = span.status.unwrap_or_default();
                out.push(RawSpan {
                    trace_id: id(&span.trace_id),
                    span_id: id(&span.span_id) as u64,
                    parent: Some(id(&span.parent_span_id) as u64).filter(|p| *p != 0),
                    name: span.name,
                    service: service.clone(),
                    resource: detail.clone(),
                    kind: span.kind.clamp(0, 5) as u8,
                    start_ns: span.start_time_unix_nano,
                    end_ns: span.end_time_unix_nano.max(span.start_time_unix_nano),
                    error: status.code == 2,
                    message: status.message,
                    attributes: proto_attributes(span.attributes),
                    links: span
                        .links
                        .iter()
                        .map(|l| (id(&l.trace_id), id(&l.span_id) as u64))
                        .collect(),
                    simulated,
                });
            }
        }
    }
    Ok(out)
}

fn proto_attributes(
    kvs: Vec<opentelemetry_proto::tonic::common::v1::KeyValue>,
) -> Vec<(String, AttrValue)> {
    kvs.into_iter()
        .filter_map(|kv| {
            let value = match kv.value?.value? {
                any_value::Value::StringValue(s) => AttrValue::Str(s),
                any_value::Value::BoolValue(b) => AttrValue::Bool(b),
                any_value::Value::IntValue(i) => AttrValue::Int(i),
                any_value::Value::DoubleValue(d) => AttrValue::Double(d),
                other => AttrValue::Other(format!("{other:?}")),
            };
            Some((kv.key, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans_of(bytes: &[u8]) -> Result<Vec<RawSpan>, ReadError> {
        let mut all = Vec::new();
        read("in", Box::new(bytes), &mut |b| all.extend(b))?;
        Ok(all)
    }

    fn request() -> ExportTraceServiceRequest {
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: vec![1; 16],
                        span_id: vec![2; 8],
                        name: "root".into(),
                        start_time_unix_nano: 5,
                        end_time_unix_nano: 1_000_005,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn protobuf_reads_in_every_framing() {
        let message = request().encode_to_vec();
        let mut big_endian = Vec::new();
        for _ in 0..2 {
            big_endian.extend((message.len() as u32).to_be_bytes());
            big_endian.extend(&message);
        }
        let mut varint = Vec::new();
        request().encode_length_delimited(&mut varint).unwrap();
        request().encode_length_delimited(&mut varint).unwrap();
        assert_eq!(spans_of(&message).unwrap().len(), 1);
        assert_eq!(spans_of(&big_endian).unwrap().len(), 2);
        assert_eq!(spans_of(&varint).unwrap().len(), 2);
        assert_eq!(spans_of(&message).unwrap()[0].duration_ms(), 1.0);
    }

    #[test]
    fn truncated_protobuf_is_located() {
        let message = request().encode_to_vec();
        let mut framed = (message.len() as u32).to_be_bytes().to_vec();
        framed.extend(&message);
        framed.extend((message.len() as u32).to_be_bytes());
        framed.extend(&message[..3]);
        let error = spans_of(&framed).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("in: (byte {})", message.len() + 4)),
            "{error}"
        );
    }

    #[test]
    fn bad_json_is_located_by_line_and_byte() {
        let good = r#"{"resourceSpans": []}"#;
        let text = format!("{good}\n{good}\n{{\"resourceSpans\": [}}\n");
        let error = spans_of(text.as_bytes()).unwrap_err().to_string();
        assert!(error.starts_with("in:3: (byte 44) not JSON"), "{error}");
        let error = spans_of(b"{\"other\": 1}\n").unwrap_err().to_string();
        assert!(error.contains("neither an OTLP"), "{error}");
    }

    #[test]
    fn pretty_documents_and_gzip_are_read() {
        let pretty = "{\n \"resourceSpans\": [{\"scopeSpans\": [{\"spans\": [{\"traceId\": \
            \"01010101010101010101010101010101\", \"spanId\": \"0202020202020202\"}]}]}]\n}\n";
        assert_eq!(spans_of(pretty.as_bytes()).unwrap().len(), 1);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, pretty.as_bytes()).unwrap();
        assert_eq!(spans_of(&gz.finish().unwrap()).unwrap().len(), 1);
    }
}
