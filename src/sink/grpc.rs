//! OTLP/gRPC for the sink: the three `Export` methods, accepting gzip, each calling the same
//! [`Intake`] as the HTTP side so both transports count, check, dump and misbehave alike.
//!
//! tonic's generated servers decode the message with prost before the service sees it, which
//! is where a small request of empty messages turns into gigabytes. So the methods are served
//! here as axum routes over tonic's own gRPC machinery (`tonic::server::Grpc`: framing,
//! decompression, status codes) with a codec of ours that costs the message before decoding it
//! (`cost.rs`) and refuses it with RESOURCE_EXHAUSTED. The handler first reads the whole body
//! (within `--body-timeout`) and takes a decode permit, as the HTTP side does, and so also
//! learns the request's size on the wire. Keeping the generated servers behind a tower layer
//! that decompresses and walks the body first was the alternative: it would duplicate the
//! framing and decompression that tonic then does again.

use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::post;
use bytes::{Buf as _, Bytes};
use http_body_util::{BodyExt as _, Full};
use prost::Message;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Status};

use super::Intake;
use super::cost::{self, Budget};
use super::faults::Injected;
use super::limits::{Inflate, gunzip};
use super::signal::{Logs, Metrics, SinkSignal, Traces};
use crate::export::status::status_with_retry_delay;

/// The gRPC routes.
pub(crate) fn router(intake: Arc<Intake>) -> Router {
    Router::new()
        .route(Traces::GRPC_PATH, post(export::<Traces>))
        .route(Metrics::GRPC_PATH, post(export::<Metrics>))
        .route(Logs::GRPC_PATH, post(export::<Logs>))
        .with_state(intake)
}

/// What became of a request inside tonic: not yet handled, recorded, or refused by the codec.
const UNHANDLED: u8 = 0;
const HANDLED: u8 = 1;
const REFUSED: u8 = 2;

async fn export<S: SinkSignal>(State(intake): State<Arc<Intake>>, request: Request) -> Response {
    let counters = S::counters(&intake.recorder);
    let (parts, body) = request.into_parts();
    let limits = intake.limits;
    // The gRPC frame's 5-byte header comes on top of the message.
    let limited = http_body_util::Limited::new(body, limits.max_body.saturating_add(5));
    let wire = match tokio::time::timeout(limits.body_timeout, limited.collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            counters.refuse();
            return status_response(Status::resource_exhausted(format!(
                "request exceeds the sink's limit of {} bytes (--max-body)",
                limits.max_body
            )));
        }
        Ok(Err(e)) => {
            counters.reject();
            return status_response(Status::cancelled(format!("cannot read the request: {e}")));
        }
        Err(_) => {
            counters.reject();
            return status_response(Status::deadline_exceeded(format!(
                "the request did not arrive within {:?} (the sink's --body-timeout)",
                limits.body_timeout
            )));
        }
    };
    let tenant = intake.saw(&parts.headers).map(str::to_owned);
    let _permit = intake.gate.enter().await;
    let body = match unframe::<S>(&parts.headers, wire.clone(), &limits) {
        Ok(body) => body,
        Err((status, refused)) => {
            if refused {
                counters.refuse();
            } else {
                counters.reject();
            }
            return status_response(status);
        }
    };
    let verdict = Arc::new(AtomicU8::new(UNHANDLED));
    let codec = GuardedCodec::<S> {
        budget: limits.budget(),
        verdict: verdict.clone(),
        _signal: PhantomData,
    };
    let mut grpc = tonic::server::Grpc::new(codec)
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limits.max_body);
    let service = Export::<S> {
        intake: intake.clone(),
        wire: wire.len(),
        tenant,
        verdict: verdict.clone(),
        _signal: PhantomData,
    };
    let request = axum::http::Request::from_parts(parts, Full::new(body));
    let response = grpc.unary(service, request).await;
    match verdict.load(Relaxed) {
        UNHANDLED => counters.reject(),
        REFUSED => counters.refuse(),
        _ => {}
    }
    response.map(Body::new)
}

/// A unary request's body of one gRPC frame, costed before tonic decodes it, and inflated here
/// if gzip'd (tonic inflates into a doubling buffer, which for a 66 MB message costs three
/// times that). Other bodies go to tonic as they came, for it to refuse (and the codec checks
/// the cost there too). The error says whether the request was over a limit.
fn unframe<S: SinkSignal>(
    headers: &axum::http::HeaderMap,
    body: Bytes,
    limits: &super::SinkLimits,
) -> Result<Bytes, (Status, bool)> {
    let Some((&[flag, a, b, c, d], message)) = body.split_first_chunk::<5>() else {
        return Ok(body);
    };
    if u32::from_be_bytes([a, b, c, d]) as usize != message.len() || flag > 1 {
        return Ok(body);
    }
    let gzip = headers
        .get("grpc-encoding")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let refuse = |refusal: cost::Refusal| {
        let over = refusal.is_over_limit();
        let status = if over {
            Status::resource_exhausted(refusal.to_string())
        } else {
            Status::invalid_argument(refusal.to_string())
        };
        (status, over)
    };
    if flag == 0 || !gzip {
        // Uncompressed (or compressed with an encoding tonic refuses by itself).
        if flag == 0 {
            cost::protobuf(message, S::SCHEMA, limits.budget()).map_err(refuse)?;
        }
        return Ok(body);
    }
    let mut frame = vec![0u8; 5];
    gunzip(message, limits.max_body, &mut frame).map_err(|e| match e {
        Inflate::TooBig => (
            Status::resource_exhausted(format!(
                "request exceeds the sink's limit of {} bytes once inflated (--max-body)",
                limits.max_body
            )),
            true,
        ),
        Inflate::Bad(e) => (Status::internal(format!("bad gzip message: {e}")), false),
    })?;
    cost::protobuf(&frame[5..], S::SCHEMA, limits.budget()).map_err(refuse)?;
    let len = u32::try_from(frame.len() - 5).unwrap_or(u32::MAX);
    frame[1..5].copy_from_slice(&len.to_be_bytes());
    Ok(Bytes::from(frame))
}

fn status_response(status: Status) -> Response {
    status.into_http::<Body>()
}

/// The service tonic calls with the decoded request.
struct Export<S> {
    intake: Arc<Intake>,
    wire: usize,
    tenant: Option<String>,
    verdict: Arc<AtomicU8>,
    _signal: PhantomData<S>,
}

type Reply<S> = Result<tonic::Response<<S as SinkSignal>::Response>, Status>;

impl<S: SinkSignal> tonic::server::UnaryService<S::Request> for Export<S> {
    type Response = S::Response;
    type Future = Pin<Box<dyn Future<Output = Reply<S>> + Send>>;

    fn call(&mut self, request: tonic::Request<S::Request>) -> Self::Future {
        let (intake, wire, verdict) = (self.intake.clone(), self.wire, self.verdict.clone());
        let tenant = self.tenant.take();
        Box::pin(async move {
            verdict.store(HANDLED, Relaxed);
            if let Some(injected) = intake.faults.before_request().await {
                return Err(injected_status(&injected));
            }
            let request = request.into_inner();
            let decoded = request.encoded_len();
            intake.record(S::wrap(request), wire, decoded, tenant.as_deref());
            Ok(tonic::Response::new(S::Response::default()))
        })
    }
}

/// The gRPC status for an injected failure, with `RetryInfo` when a delay was asked for.
fn injected_status(injected: &Injected) -> Status {
    let code = injected.grpc_code();
    match injected.retry_after {
        Some(delay) => Status::with_details(
            Code::from_i32(code),
            injected.message.clone(),
            status_with_retry_delay(code, &injected.message, delay).into(),
        ),
        None => Status::new(Code::from_i32(code), injected.message.clone()),
    }
}

/// prost's codec, with the request costed before it is decoded.
struct GuardedCodec<S> {
    budget: Budget,
    verdict: Arc<AtomicU8>,
    _signal: PhantomData<S>,
}

impl<S: SinkSignal> Codec for GuardedCodec<S> {
    type Encode = S::Response;
    type Decode = S::Request;
    type Encoder = ProstEncoder<S::Response>;
    type Decoder = GuardedDecoder<S>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        GuardedDecoder {
            budget: self.budget,
            verdict: self.verdict.clone(),
            _signal: PhantomData,
        }
    }
}

struct ProstEncoder<T>(PhantomData<T>);

impl<T: Message> Encoder for ProstEncoder<T> {
    type Item = T;
    type Error = Status;

    fn encode(&mut self, item: T, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("cannot encode the response: {e}")))
    }
}

struct GuardedDecoder<S> {
    budget: Budget,
    verdict: Arc<AtomicU8>,
    _signal: PhantomData<S>,
}

impl<S: SinkSignal> Decoder for GuardedDecoder<S> {
    type Item = S::Request;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<S::Request>, Status> {
        let check = |message: &[u8]| {
            cost::protobuf(message, S::SCHEMA, self.budget).map_err(|refusal| {
                if refusal.is_over_limit() {
                    self.verdict.store(REFUSED, Relaxed);
                    Status::resource_exhausted(refusal.to_string())
                } else {
                    Status::invalid_argument(refusal.to_string())
                }
            })
        };
        // tonic hands over the (decompressed) message as one chunk; copy it if ever not.
        if src.chunk().len() < src.remaining() {
            let message = src.copy_to_bytes(src.remaining());
            check(&message)?;
            return S::Request::decode(message).map(Some).map_err(|e| {
                Status::invalid_argument(format!("cannot decode protobuf request: {e}"))
            });
        }
        check(src.chunk())?;
        S::Request::decode(src)
            .map(Some)
            .map_err(|e| Status::invalid_argument(format!("cannot decode protobuf request: {e}")))
    }
}
