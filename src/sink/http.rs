//! OTLP/HTTP for the sink: `POST /v1/traces`, `/v1/metrics`, `/v1/logs`, protobuf or JSON,
//! optionally gzip-compressed, answered the way the OTLP specification asks (an empty
//! `Export*ServiceResponse` in the request's encoding on success; a `google.rpc.Status`
//! in the request's encoding on error).
//!
//! One generic handler serves the three paths; the [`Signal`] trait supplies the message
//! types and which [`Recorder`] method to call. Everything here is about bytes (headers,
//! limits, decompression, decoding); what the request *means* is the recorder's business,
//! which the gRPC server beside this one (`grpc.rs`) calls too.
//!
//! Decoding runs inline in the request's task. Moving it to `spawn_blocking` was
//! considered and rejected: a typical request (a few hundred KB) decodes in well under a
//! millisecond, and a blocking-pool hop per request costs more than it saves; the body
//! limit bounds the worst case.

use std::io::Read as _;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Intake;
use super::faults::Injected;
use super::recorder::{Counters, Recorder};

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

use crate::otlp::grpc::code::{INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNIMPLEMENTED};
use crate::otlp::payload::OtlpRequest;
use crate::otlp::status::RpcStatus;

/// The two OTLP/HTTP encodings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Protobuf,
    Json,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => PROTOBUF,
            Format::Json => JSON,
        }
    }
}

/// A request the sink refuses, with the HTTP status and a short reason.
#[derive(Debug)]
struct Reject {
    status: StatusCode,
    message: String,
}

impl Reject {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Reject {
            status,
            message: message.into(),
        }
    }

    /// The error body, as a `google.rpc.Status` in the request's encoding when known.
    fn respond(self, format: Option<Format>) -> Response {
        let code = match self.status {
            StatusCode::PAYLOAD_TOO_LARGE => RESOURCE_EXHAUSTED,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => UNIMPLEMENTED,
            _ => INVALID_ARGUMENT,
        };
        self.respond_with_code(code, format)
    }

    fn respond_with_code(self, code: i32, format: Option<Format>) -> Response {
        let status = RpcStatus {
            code,
            message: self.message,
            details: Vec::new(),
        };
        let body = match format {
            Some(Format::Protobuf) => status.encode_to_vec(),
            Some(Format::Json) => {
                serde_json::json!({ "code": status.code, "message": status.message })
                    .to_string()
                    .into_bytes()
            }
            None => {
                let mut text = status.message.into_bytes();
                text.push(b'\n');
                text
            }
        };
        let content_type = format.map_or("text/plain; charset=utf-8", Format::content_type);
        (
            self.status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            body,
        )
            .into_response()
    }
}

/// One OTLP signal: its message types and where its requests are recorded.
trait Signal: Send + Sync + 'static {
    type Request: Message + Default + DeserializeOwned;
    type Response: Message + Default + Serialize;
    /// Where the items of a request are, for counting without decoding.
    const ITEMS: super::count::Path;
    fn counters(rec: &Recorder) -> &Counters;
    fn wrap(req: Self::Request) -> OtlpRequest;
}

struct Traces;
struct Metrics;
struct Logs;

impl Signal for Traces {
    type Request = ExportTraceServiceRequest;
    type Response = ExportTraceServiceResponse;
    const ITEMS: super::count::Path = super::count::SPANS;
    fn counters(rec: &Recorder) -> &Counters {
        &rec.traces
    }
    fn wrap(req: Self::Request) -> OtlpRequest {
        OtlpRequest::Traces(req)
    }
}

impl Signal for Metrics {
    type Request = ExportMetricsServiceRequest;
    type Response = ExportMetricsServiceResponse;
    const ITEMS: super::count::Path = super::count::DATA_POINTS;
    fn counters(rec: &Recorder) -> &Counters {
        &rec.metrics
    }
    fn wrap(req: Self::Request) -> OtlpRequest {
        OtlpRequest::Metrics(req)
    }
}

impl Signal for Logs {
    type Request = ExportLogsServiceRequest;
    type Response = ExportLogsServiceResponse;
    const ITEMS: super::count::Path = super::count::LOG_RECORDS;
    fn counters(rec: &Recorder) -> &Counters {
        &rec.logs
    }
    fn wrap(req: Self::Request) -> OtlpRequest {
        OtlpRequest::Logs(req)
    }
}

#[derive(Clone)]
struct App {
    intake: Arc<Intake>,
    max_body: usize,
}

/// The OTLP/HTTP routes. `max_body` limits both the body as received and after
/// decompression; larger requests get 413.
pub(crate) fn router(intake: Arc<Intake>, max_body: usize) -> Router {
    Router::new()
        .route("/v1/traces", post(export::<Traces>))
        .route("/v1/metrics", post(export::<Metrics>))
        .route("/v1/logs", post(export::<Logs>))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(App { intake, max_body })
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).map(|v| v.to_str().unwrap_or("\u{fffd}"))
}

/// The encoding named by `Content-Type` (parameters such as `charset` are ignored).
fn format_of(headers: &HeaderMap) -> Result<Format, Reject> {
    let Some(value) = header_str(headers, header::CONTENT_TYPE) else {
        return Err(Reject::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "missing Content-Type: send application/x-protobuf or application/json",
        ));
    };
    let media = value.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case(PROTOBUF) || media.eq_ignore_ascii_case("application/protobuf") {
        Ok(Format::Protobuf)
    } else if media.eq_ignore_ascii_case(JSON) {
        Ok(Format::Json)
    } else {
        Err(Reject::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "unsupported Content-Type {value:?}: send application/x-protobuf or application/json"
            ),
        ))
    }
}

/// Undoes `Content-Encoding` (none, `identity` or `gzip`), within `max` bytes.
fn decompress(headers: &HeaderMap, body: Bytes, max: usize) -> Result<Bytes, Reject> {
    let encoding = header_str(headers, header::CONTENT_ENCODING)
        .unwrap_or("identity")
        .trim();
    if encoding.is_empty() || encoding.eq_ignore_ascii_case("identity") {
        return Ok(body);
    }
    if !(encoding.eq_ignore_ascii_case("gzip") || encoding.eq_ignore_ascii_case("x-gzip")) {
        return Err(Reject::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported Content-Encoding {encoding:?}: send gzip or none"),
        ));
    }
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(max));
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    flate2::read::MultiGzDecoder::new(&body[..])
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| Reject::new(StatusCode::BAD_REQUEST, format!("bad gzip body: {e}")))?;
    if out.len() > max {
        return Err(Reject::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("decompressed body exceeds the sink's limit of {max} bytes"),
        ));
    }
    Ok(Bytes::from(out))
}

fn decode<S: Signal>(format: Format, bytes: &[u8]) -> Result<S::Request, Reject> {
    match format {
        Format::Protobuf => S::Request::decode(bytes).map_err(|e| {
            Reject::new(
                StatusCode::BAD_REQUEST,
                format!("cannot decode protobuf request: {e}"),
            )
        }),
        Format::Json => serde_json::from_slice(bytes).map_err(|e| {
            Reject::new(
                StatusCode::BAD_REQUEST,
                format!("cannot decode OTLP/JSON request: {e}"),
            )
        }),
    }
}

/// A failure asked for with `--fail-first`: the status, `Retry-After` if requested, and a
/// `google.rpc.Status` body in the request's encoding.
fn injected_failure(injected: Injected, format: Format) -> Response {
    let status = StatusCode::from_u16(injected.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let code = injected.grpc_code();
    let mut response = Reject::new(status, injected.message).respond_with_code(code, Some(format));
    if let Some(delay) = injected.retry_after
        && let Ok(value) = HeaderValue::from_str(&delay.as_secs().to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn success<S: Signal>(format: Format) -> Response {
    let response = S::Response::default();
    let body = match format {
        Format::Protobuf => response.encode_to_vec(),
        Format::Json => serde_json::to_vec(&response).unwrap_or_else(|_| b"{}".to_vec()),
    };
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        )],
        body,
    )
        .into_response()
}

async fn export<S: Signal>(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let recorder = &app.intake.recorder;
    let format = match format_of(&headers) {
        Ok(f) => f,
        Err(reject) => {
            S::counters(recorder).reject();
            return reject.respond(None);
        }
    };
    if let Some(injected) = app.intake.faults.before_request().await {
        return injected_failure(injected, format);
    }
    if app.intake.count_only && format == Format::Protobuf {
        let counted = body
            .map_err(|e| Reject::new(e.status(), e.body_text()))
            .and_then(|wire| {
                let decoded = decompress(&headers, wire.clone(), app.max_body)?;
                let items = super::count::count_items(&decoded, S::ITEMS)
                    .map_err(|e| Reject::new(StatusCode::BAD_REQUEST, e.to_string()))?;
                Ok((items, wire.len(), decoded.len()))
            });
        return match counted {
            Ok((items, wire, decoded)) => {
                S::counters(recorder).accept(wire, decoded, items);
                success::<S>(format)
            }
            Err(reject) => {
                S::counters(recorder).reject();
                reject.respond(Some(format))
            }
        };
    }
    let result = body
        .map_err(|e| Reject::new(e.status(), e.body_text()))
        .and_then(|wire| {
            let decoded = decompress(&headers, wire.clone(), app.max_body)?;
            let request = decode::<S>(format, &decoded)?;
            Ok((request, wire.len(), decoded.len()))
        });
    match result {
        Ok((request, wire, decoded)) => {
            app.intake.record(S::wrap(request), wire, decoded);
            success::<S>(format)
        }
        Err(reject) => {
            S::counters(recorder).reject();
            reject.respond(Some(format))
        }
    }
}
