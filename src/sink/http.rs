//! OTLP/HTTP for the sink: `POST /v1/traces`, `/v1/metrics`, `/v1/logs`, protobuf or JSON,
//! optionally gzip-compressed, answered the way the OTLP specification asks (an empty
//! `Export*ServiceResponse` in the request's encoding on success; a `google.rpc.Status`
//! in the request's encoding on error).
//!
//! One generic handler serves the three paths; the [`SinkSignal`] trait (`signal.rs`) supplies the
//! message types and where they are counted. Everything here is about bytes (headers,
//! limits, decompression, decoding); what the request *means* is the recorder's business,
//! which the gRPC side (`grpc.rs`) calls alike.
//!
//! Decoding runs inline in the request's task, once the body has arrived (within
//! `--body-timeout`), a decode permit is held, and the request's cost has been checked
//! (see `limits.rs`, `cost.rs`). Moving it to `spawn_blocking` was considered and rejected: a
//! typical request (a few hundred KB) decodes in well under a millisecond, and a
//! blocking-pool hop per request costs more than it saves; the limits bound the worst case.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http_body_util::BodyExt as _;
use prost::Message;

use super::Intake;
use super::cost::{self, Refusal};
use super::faults::Injected;
use super::limits::{Inflate, SinkLimits, gunzip};
use super::signal::{Logs, Metrics, SinkSignal, Traces};

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

use crate::encode::payload::Format;
use crate::export::grpc::code::{
    DEADLINE_EXCEEDED, INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNIMPLEMENTED,
};
use crate::export::status::RpcStatus;

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

    /// Over one of the sink's limits (413), rather than malformed.
    fn is_refusal(&self) -> bool {
        self.status == StatusCode::PAYLOAD_TOO_LARGE
    }

    /// The error body, as a `google.rpc.Status` in the request's encoding when known.
    fn respond(self, format: Option<Format>) -> Response {
        let code = match self.status {
            StatusCode::PAYLOAD_TOO_LARGE => RESOURCE_EXHAUSTED,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => UNIMPLEMENTED,
            StatusCode::REQUEST_TIMEOUT => DEADLINE_EXCEEDED,
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

impl From<Refusal> for Reject {
    fn from(refusal: Refusal) -> Self {
        let status = if refusal.is_over_limit() {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::BAD_REQUEST
        };
        Reject::new(status, refusal.to_string())
    }
}

/// The OTLP/HTTP routes.
pub(crate) fn router(intake: Arc<Intake>) -> Router {
    Router::new()
        .route("/v1/traces", post(export::<Traces>))
        .route("/v1/metrics", post(export::<Metrics>))
        .route("/v1/logs", post(export::<Logs>))
        .with_state(intake)
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
    let mut out = Vec::new();
    gunzip(&body, max, &mut out).map_err(|e| match e {
        Inflate::Bad(e) => Reject::new(StatusCode::BAD_REQUEST, format!("bad gzip body: {e}")),
        Inflate::TooBig => Reject::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("decompressed body exceeds the sink's limit of {max} bytes (--max-body)"),
        ),
    })?;
    Ok(Bytes::from(out))
}

fn decode<S: SinkSignal>(format: Format, bytes: &[u8]) -> Result<S::Request, Reject> {
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

fn success<S: SinkSignal>(format: Format) -> Response {
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

/// Reads the body within `--body-timeout` (408) and `--max-body` (413).
async fn read_body(body: Body, limits: &SinkLimits) -> Result<Bytes, Reject> {
    let limited = http_body_util::Limited::new(body, limits.max_body);
    match tokio::time::timeout(limits.body_timeout, limited.collect()).await {
        Err(_) => Err(Reject::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {:?} (the sink's --body-timeout)",
                limits.body_timeout
            ),
        )),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(Reject::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "request body exceeds the sink's limit of {} bytes (--max-body)",
                limits.max_body
            ),
        )),
        Ok(Err(e)) => Err(Reject::new(
            StatusCode::BAD_REQUEST,
            format!("cannot read the request body: {e}"),
        )),
    }
}

async fn export<S: SinkSignal>(
    State(intake): State<Arc<Intake>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let counters = S::counters(&intake.recorder);
    let format = match format_of(&headers) {
        Ok(f) => f,
        Err(reject) => {
            counters.reject();
            return reject.respond(None);
        }
    };
    let tenant = intake.saw(&headers);
    // The body is read before a failure is injected, so that the connection stays usable.
    let outcome = match read_body(body, &intake.limits).await {
        Ok(wire) => {
            if let Some(injected) = intake.faults.before_request().await {
                return injected_failure(injected, format);
            }
            receive::<S>(&intake, &headers, format, wire, tenant).await
        }
        Err(reject) => Err(reject),
    };
    match outcome {
        Ok(()) => success::<S>(format),
        Err(reject) => {
            if reject.is_refusal() {
                counters.refuse();
            } else {
                counters.reject();
            }
            reject.respond(Some(format))
        }
    }
}

/// Decompresses, costs, decodes and records one request.
async fn receive<S: SinkSignal>(
    intake: &Intake,
    headers: &HeaderMap,
    format: Format,
    wire: Bytes,
    tenant: Option<&str>,
) -> Result<(), Reject> {
    let limits = &intake.limits;
    let _permit = intake.gate.enter().await;
    let decoded = decompress(headers, wire.clone(), limits.max_body)?;
    if intake.count_only && format == Format::Protobuf {
        let items = super::count::count_items(&decoded, S::ITEMS)
            .map_err(|e| Reject::new(StatusCode::BAD_REQUEST, e.to_string()))?;
        S::counters(&intake.recorder).accept(wire.len(), decoded.len(), items);
        return Ok(());
    }
    match format {
        Format::Protobuf => cost::protobuf(&decoded, S::SCHEMA, limits.budget()),
        Format::Json => cost::json(&decoded, limits.budget()),
    }?;
    let request = decode::<S>(format, &decoded)?;
    intake.record(S::wrap(request), wire.len(), decoded.len(), tenant);
    Ok(())
}
