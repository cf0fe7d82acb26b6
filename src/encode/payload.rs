//! An export request on its way out: the OTLP message, its wire encoding and its compression.
//!
//! Requests travel through the export queue as messages, not bytes, so that the expensive part
//! (encoding and gzip) runs in the sender tasks, in parallel with generation, instead of on the
//! one generating thread. Each request is encoded and compressed exactly once into a
//! [`Payload`], whose bytes every retry then reuses. Encoding the message once per transport
//! attempt was the alternative rejected: a retry storm would multiply the CPU cost of an
//! already struggling run.
//!
//! OTLP/JSON comes from opentelemetry-proto's `with-serde` derives, which follow the OTLP/JSON
//! rules (hex ids, integer enums, 64-bit integers as strings, lowerCamelCase keys). The one
//! place they are not spec-clean is an unset `optional` field (histogram `sum`/`min`/`max`),
//! written as `null`; [`Format::Json`] removes those keys from metric requests, since some
//! receivers reject a `null` number.

use super::Signal;
use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use std::io::Write as _;
use std::sync::Arc;

/// One OTLP export request of any signal.
#[derive(Clone, Debug, PartialEq)]
pub enum OtlpRequest {
    Traces(ExportTraceServiceRequest),
    Metrics(ExportMetricsServiceRequest),
    Logs(ExportLogsServiceRequest),
    /// An export request of the signal already in protobuf, as the fast writer
    /// ([`super::wire`]) makes it.
    Encoded(Signal, Bytes),
}

impl OtlpRequest {
    pub fn signal(&self) -> Signal {
        match self {
            OtlpRequest::Traces(_) => Signal::Traces,
            OtlpRequest::Metrics(_) => Signal::Metrics,
            OtlpRequest::Logs(_) => Signal::Logs,
            OtlpRequest::Encoded(signal, _) => *signal,
        }
    }

    /// Its size in protobuf.
    pub fn encoded_len(&self) -> usize {
        match self {
            OtlpRequest::Traces(r) => r.encoded_len(),
            OtlpRequest::Metrics(r) => r.encoded_len(),
            OtlpRequest::Logs(r) => r.encoded_len(),
            OtlpRequest::Encoded(_, bytes) => bytes.len(),
        }
    }

    /// The request as a message: encoded requests are decoded.
    pub fn decoded(self) -> Result<OtlpRequest, prost::DecodeError> {
        match self {
            OtlpRequest::Encoded(Signal::Traces, bytes) => {
                ExportTraceServiceRequest::decode(bytes).map(OtlpRequest::Traces)
            }
            OtlpRequest::Encoded(Signal::Metrics, bytes) => {
                ExportMetricsServiceRequest::decode(bytes).map(OtlpRequest::Metrics)
            }
            OtlpRequest::Encoded(Signal::Logs, bytes) => {
                ExportLogsServiceRequest::decode(bytes).map(OtlpRequest::Logs)
            }
            message => Ok(message),
        }
    }

    /// Appends the request to `out` in `format`. Fails only on a request no decoder could read
    /// back (nested deeper than prost's recursion limit, which `validate` keeps scenarios under).
    pub fn encode(&self, format: Format, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if let OtlpRequest::Encoded(_, bytes) = self {
            match format {
                Format::Protobuf => out.extend_from_slice(bytes),
                // JSON is the slow path anyway: the bytes are read back into the message.
                Format::Json => self.clone().decoded()?.encode(format, out)?,
            }
            return Ok(());
        }
        match format {
            Format::Protobuf => {
                let encoded = match self {
                    OtlpRequest::Traces(r) => r.encode(out),
                    OtlpRequest::Metrics(r) => r.encode(out),
                    OtlpRequest::Logs(r) => r.encode(out),
                    OtlpRequest::Encoded(..) => unreachable!("written above"),
                };
                encoded.expect("a Vec grows to fit any message");
            }
            Format::Json => match self {
                OtlpRequest::Traces(r) => serde_json::to_writer(&mut *out, r)?,
                OtlpRequest::Metrics(r) => {
                    let mut v = serde_json::to_value(r)?;
                    drop_nulls(&mut v);
                    serde_json::to_writer(&mut *out, &v)?;
                }
                OtlpRequest::Logs(r) => serde_json::to_writer(&mut *out, r)?,
                OtlpRequest::Encoded(..) => unreachable!("written above"),
            },
        }
        Ok(())
    }
}

/// Why a request could not be put into its wire format.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("cannot read the encoded request back for OTLP/JSON: {0}")]
    Decode(#[from] prost::DecodeError),
    #[error("cannot write OTLP/JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Removes every `null`-valued key, recursively: proto3 JSON reads a missing key and a `null`
/// alike, and missing is what every receiver understands.
fn drop_nulls(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// The OTLP wire encodings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Format {
    Protobuf,
    Json,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => "application/x-protobuf",
            Format::Json => "application/json",
        }
    }
}

/// Body compression, as OTLP defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Compression {
    None,
    Gzip,
}

/// gzip level: the fastest, as the Collector's exporters use. Level 6 shrinks OTLP only ~30%
/// more at 4× the CPU, and compression is the most expensive step of a fast run.
const GZIP_LEVEL: u32 = 1;

/// An encoded (and maybe compressed) request, ready to send as often as needed.
#[derive(Clone, Debug)]
pub struct Payload {
    pub body: Bytes,
    /// Size before compression.
    pub raw_len: usize,
    pub format: Format,
    pub compression: Compression,
    /// The tenant whose data this is, for transports that route by a tenant header.
    pub tenant: Option<Arc<str>>,
}

impl Payload {
    /// Encodes `request` in `format` and compresses it. `scratch` is reused between calls to
    /// avoid allocating a fresh buffer of a few hundred KB per request.
    pub fn build(
        request: &OtlpRequest,
        format: Format,
        compression: Compression,
        scratch: &mut Vec<u8>,
    ) -> Result<Payload, EncodeError> {
        let (body, raw_len) = match (request, format, compression) {
            // Already encoded: sent as it is, without a copy.
            (OtlpRequest::Encoded(_, bytes), Format::Protobuf, Compression::None) => {
                (bytes.clone(), bytes.len())
            }
            (OtlpRequest::Encoded(_, bytes), Format::Protobuf, Compression::Gzip) => {
                (Bytes::from(gzip(bytes)), bytes.len())
            }
            _ => {
                scratch.clear();
                request.encode(format, scratch)?;
                let body = match compression {
                    Compression::None => Bytes::copy_from_slice(scratch),
                    Compression::Gzip => Bytes::from(gzip(scratch)),
                };
                (body, scratch.len())
            }
        };
        Ok(Payload {
            body,
            raw_len,
            format,
            compression,
            tenant: None,
        })
    }
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4 + 64),
        flate2::Compression::new(GZIP_LEVEL),
    );
    encoder
        .write_all(bytes)
        .expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::metrics::v1::{
        Histogram, HistogramDataPoint, Metric, ResourceMetrics, ScopeMetrics, metric::Data,
    };
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use std::io::Read as _;

    fn traces() -> OtlpRequest {
        OtlpRequest::Traces(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: vec![0xab; 16],
                        span_id: vec![0xcd; 8],
                        name: "s".into(),
                        kind: 3,
                        start_time_unix_nano: 1_700_000_000_000_000_001,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })
    }

    #[test]
    fn json_follows_the_otlp_rules() {
        let mut out = Vec::new();
        traces().encode(Format::Json, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(r#""traceId":"abababababababababababababababab""#),
            "{text}"
        );
        assert!(text.contains(r#""spanId":"cdcdcdcdcdcdcdcd""#), "{text}");
        assert!(text.contains(r#""kind":3"#), "{text}");
        assert!(
            text.contains(r#""startTimeUnixNano":"1700000000000000001""#),
            "{text}"
        );
        assert!(text.contains(r#""resourceSpans""#), "{text}");
    }

    #[test]
    fn unset_optional_numbers_are_left_out_of_json() {
        let request = OtlpRequest::Metrics(ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![Metric {
                        name: "h".into(),
                        data: Some(Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                count: 1,
                                ..Default::default()
                            }],
                            aggregation_temporality: 2,
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        });
        let mut out = Vec::new();
        request.encode(Format::Json, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("null"), "{text}");
        assert!(text.contains(r#""count":"1""#), "{text}");
    }

    #[test]
    fn encoded_traces_are_sent_as_they_are_and_read_back_for_json() {
        let OtlpRequest::Traces(message) = traces() else {
            unreachable!()
        };
        let encoded = OtlpRequest::Encoded(Signal::Traces, message.encode_to_vec().into());
        for format in [Format::Protobuf, Format::Json] {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            traces().encode(format, &mut a).unwrap();
            encoded.encode(format, &mut b).unwrap();
            assert_eq!(a, b, "{format:?}");
        }
        let mut scratch = Vec::new();
        let zipped =
            Payload::build(&encoded, Format::Protobuf, Compression::Gzip, &mut scratch).unwrap();
        let plain =
            Payload::build(&traces(), Format::Protobuf, Compression::Gzip, &mut scratch).unwrap();
        assert_eq!(zipped.body, plain.body);
    }

    /// A mapping nested `depth` deep around a string, as a scenario attribute becomes.
    fn nested(depth: usize) -> AnyValue {
        use opentelemetry_proto::tonic::common::v1::{KeyValueList, any_value::Value};
        let mut value = AnyValue {
            value: Some(Value::StringValue("leaf".into())),
        };
        for _ in 0..depth {
            value = AnyValue {
                value: Some(Value::KvlistValue(KeyValueList {
                    values: vec![KeyValue {
                        key: "k".into(),
                        value: Some(value),
                        ..Default::default()
                    }],
                })),
            };
        }
        value
    }

    fn with_attribute(value: AnyValue) -> (OtlpRequest, OtlpRequest) {
        let attributes = vec![KeyValue {
            key: "deep".into(),
            value: Some(value),
            ..Default::default()
        }];
        let OtlpRequest::Traces(mut traces) = traces() else {
            unreachable!()
        };
        traces.resource_spans[0].scope_spans[0].spans[0].attributes = attributes.clone();
        let logs = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord {
                        attributes,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        (
            OtlpRequest::Encoded(Signal::Traces, traces.encode_to_vec().into()),
            OtlpRequest::Encoded(Signal::Logs, logs.encode_to_vec().into()),
        )
    }

    #[test]
    fn values_nested_as_deep_as_validate_allows_survive_every_encoding_and_decoder() {
        let (traces, logs) = with_attribute(nested(crate::scenario::MAX_ATTRIBUTE_NESTING));
        for request in [traces, logs] {
            for format in [Format::Protobuf, Format::Json] {
                let mut out = Vec::new();
                request.encode(format, &mut out).unwrap();
                // What a receiver does with it: prost, and serde_json with its recursion limit.
                match (format, request.signal()) {
                    (Format::Protobuf, Signal::Traces) => {
                        ExportTraceServiceRequest::decode(&out[..])
                            .map(drop)
                            .unwrap()
                    }
                    (Format::Protobuf, _) => ExportLogsServiceRequest::decode(&out[..])
                        .map(drop)
                        .unwrap(),
                    (Format::Json, Signal::Traces) => {
                        serde_json::from_slice::<ExportTraceServiceRequest>(&out)
                            .map(drop)
                            .unwrap()
                    }
                    (Format::Json, _) => serde_json::from_slice::<ExportLogsServiceRequest>(&out)
                        .map(drop)
                        .unwrap(),
                }
            }
        }
    }

    #[test]
    fn a_request_too_deep_to_read_back_is_an_error_not_a_panic() {
        let (traces, logs) = with_attribute(nested(40));
        for request in [traces, logs] {
            let mut scratch = Vec::new();
            let built = Payload::build(&request, Format::Json, Compression::None, &mut scratch);
            assert!(
                matches!(built, Err(EncodeError::Decode(_))),
                "{:?}",
                built.map(|p| p.raw_len)
            );
        }
    }

    #[test]
    fn gzip_payloads_decompress_to_the_encoding() {
        let mut scratch = Vec::new();
        let plain =
            Payload::build(&traces(), Format::Protobuf, Compression::None, &mut scratch).unwrap();
        let zipped =
            Payload::build(&traces(), Format::Protobuf, Compression::Gzip, &mut scratch).unwrap();
        assert_eq!(plain.raw_len, zipped.raw_len);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&zipped.body[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, plain.body);
    }
}
