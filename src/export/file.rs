//! Outputs that are not an OTLP endpoint: a file (or stdout) of OTLP/JSON lines, and nothing
//! at all.
//!
//! The file format is the Collector's file exporter's: one `Export*ServiceRequest` in OTLP/JSON
//! per line, so the Collector's `otlpjsonfile` receiver (or `jq`) can read it back. Both are
//! [`Transport`]s, so a run to a file or to nowhere is queued, counted and summarised exactly
//! like a run to a collector; a separate code path for "just print it" was rejected because
//! its numbers would not be comparable.

use super::exporter::{AttemptOutcome, Transport};
use crate::encode::Signal;
use crate::encode::payload::{Compression, Format, Payload};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Appends each request as one line of OTLP/JSON. Clones share the same file.
#[derive(Clone)]
pub struct FileTransport {
    out: Arc<Mutex<Box<dyn Write + Send>>>,
    name: String,
}

impl FileTransport {
    /// Creates (truncates) `path`; `-` is stdout.
    pub fn create(path: &Path) -> std::io::Result<FileTransport> {
        let (out, name): (Box<dyn Write + Send>, String) = if path == Path::new("-") {
            (Box::new(std::io::stdout()), "stdout".into())
        } else {
            (
                Box::new(std::fs::File::create(path)?),
                path.display().to_string(),
            )
        };
        Ok(FileTransport {
            out: Arc::new(Mutex::new(out)),
            name,
        })
    }
}

impl Transport for FileTransport {
    fn encoding(&self, _: Signal) -> (Format, Compression) {
        (Format::Json, Compression::None)
    }

    async fn attempt(&self, _: Signal, payload: &Payload) -> AttemptOutcome {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let written = out
            .write_all(&payload.body)
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush());
        match written {
            Ok(()) => AttemptOutcome::Accepted {
                rejected: 0,
                message: String::new(),
            },
            Err(e) => AttemptOutcome::Permanent {
                reason: format!("cannot write to {}: {e}", self.name),
            },
        }
    }
}

/// Accepts everything and sends nothing: for measuring generation and encoding alone.
pub struct NullTransport {
    pub format: Format,
    pub compression: Compression,
}

impl Transport for NullTransport {
    fn encoding(&self, _: Signal) -> (Format, Compression) {
        (self.format, self.compression)
    }

    async fn attempt(&self, _: Signal, _: &Payload) -> AttemptOutcome {
        AttemptOutcome::Accepted {
            rejected: 0,
            message: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::exporter::{Exporter, RetryPolicy};
    use super::super::pipeline::Pipeline;
    use super::*;
    use crate::encode::payload::OtlpRequest;
    use crate::interrupt::Interrupt;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message as _;

    /// A span whose one attribute is a list nested `depth` deep, already in protobuf, as the
    /// fast writer hands it over.
    fn nested_span(depth: usize) -> OtlpRequest {
        let mut value = AnyValue {
            value: Some(any_value::Value::IntValue(1)),
        };
        for _ in 0..depth {
            value = AnyValue {
                value: Some(any_value::Value::ArrayValue(ArrayValue {
                    values: vec![value],
                })),
            };
        }
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: vec![1; 16],
                        span_id: vec![2; 8],
                        attributes: vec![KeyValue {
                            key: "deep".into(),
                            value: Some(value),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        OtlpRequest::Encoded(Signal::Traces, request.encode_to_vec().into())
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_request_that_cannot_be_written_is_dropped_with_its_reason_and_the_rest_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let runtime = runtime();
        let pipeline = Pipeline::start(
            Exporter::new(
                FileTransport::create(&path).unwrap(),
                RetryPolicy::default(),
            ),
            1,
            4,
            runtime.handle(),
            Interrupt::manual(),
        );
        pipeline.send(nested_span(120), None, 7);
        pipeline.send(nested_span(3), None, 2);
        let summary = pipeline.finish();
        let traces = &summary.traces;
        assert_eq!(
            (
                traces.generated,
                traces.accepted,
                traces.rejected,
                traces.dropped
            ),
            (9, 2, 0, 7)
        );
        assert_eq!(traces.reasons.len(), 1, "{:?}", traces.reasons);
        assert!(
            traces.reasons[0]
                .0
                .contains("cannot read the encoded request back"),
            "{:?}",
            traces.reasons
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    }

    /// A transport with a bug: it panics on every attempt.
    struct Panicking;

    impl Transport for Panicking {
        fn encoding(&self, _: Signal) -> (Format, Compression) {
            (Format::Protobuf, Compression::None)
        }

        async fn attempt(&self, _: Signal, _: &Payload) -> AttemptOutcome {
            panic!("a bug in a transport")
        }
    }

    #[test]
    fn items_held_by_a_sender_that_panicked_are_counted_as_dropped() {
        let runtime = runtime();
        let pipeline = Pipeline::start(
            Exporter::new(Panicking, RetryPolicy::default()),
            2,
            4,
            runtime.handle(),
            Interrupt::manual(),
        );
        pipeline.send(nested_span(1), None, 3);
        pipeline.send(nested_span(1), None, 4);
        let summary = pipeline.finish();
        let traces = &summary.traces;
        assert_eq!(
            (traces.generated, traces.accepted, traces.dropped),
            (7, 0, 7)
        );
        assert!(
            traces
                .reasons
                .iter()
                .any(|(reason, _)| reason.contains("an export task failed")),
            "{:?}",
            traces.reasons
        );
    }
}
