//! OTLP/gRPC: one unary `Export` call per attempt, over a tonic channel (HTTP/2, optionally
//! TLS).
//!
//! The call is framed here and sent through tonic's `Channel`, which owns the connection
//! (lazy connect, reconnects, TLS, HTTP/2 flow control). The request body is the payload's
//! bytes behind the 5-byte gRPC message header, with the compressed flag set when the payload
//! is already gzip'd: the message is encoded and compressed once, before the first attempt,
//! and every retry resends the same bytes. tonic's own `Grpc::unary` with a pass-through codec
//! was the alternative; it was rejected because tonic compresses inside the codec layer, on
//! every attempt, at its own level, and never says how many bytes went on the wire, which the
//! run's accounting reports.
//!
//! The answer is read as gRPC defines it: `grpc-status` in the trailers (or in the headers of
//! a trailers-only response), with `grpc-message` and `grpc-status-details-bin`; a non-200 HTTP
//! status from a proxy maps to a gRPC code as in gRPC's HTTP-to-gRPC status table. The codes
//! OTLP calls retryable are retried (RESOURCE_EXHAUSTED only when the server sent a
//! `RetryInfo`, whose delay is honoured).

use super::exporter::{AttemptOutcome, Transport};
use super::status::{partial_success_protobuf, retry_delay};
use super::target::{Target, TransportError, root_cause};
use super::tls::{TlsMaterial, certificate_problem, install_crypto_provider};
use crate::encode::Signal;
use crate::encode::payload::{Compression, Format, Payload};
use base64::Engine as _;
use bytes::{BufMut as _, Bytes, BytesMut};
use http_body_util::{BodyExt as _, Full};
use std::io::Read as _;
use std::time::Duration;
use tonic::codegen::Service as _;
use tonic::codegen::http::{self, HeaderMap, HeaderName, HeaderValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// gRPC status codes (`google.rpc.Code`), from the crate's leaf that holds them.
pub use crate::grpc_code as code;

/// OTLP/gRPC to one endpoint.
pub struct GrpcTransport {
    channel: Channel,
    endpoint: String,
    metadata: HeaderMap,
    tenant_header: Option<HeaderName>,
    compression: Compression,
    timeout: Duration,
}

impl GrpcTransport {
    /// A transport that connects on first use. Must be called within a tokio runtime.
    pub fn new(target: &Target, tls: &TlsMaterial) -> Result<Self, TransportError> {
        install_crypto_provider();
        let bad = |reason: String| TransportError::BadEndpoint {
            endpoint: target.url.clone(),
            reason,
        };
        // OTLP/gRPC endpoints may omit the scheme; then TLS is used unless told otherwise.
        let url = if target.url.contains("://") {
            target.url.clone()
        } else if target.insecure {
            format!("http://{}", target.url)
        } else {
            format!("https://{}", target.url)
        };
        let uri: http::Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad(e.to_string()))?;
        if !uri.path().trim_end_matches('/').is_empty() {
            return Err(bad(
                "an OTLP/gRPC endpoint is scheme://host:port, without a path".into(),
            ));
        }
        let mut endpoint = Endpoint::from(uri.clone())
            .user_agent(super::USER_AGENT)
            .map_err(|e| bad(e.to_string()))?
            .connect_timeout(target.timeout.min(Duration::from_secs(5)))
            .tcp_nodelay(true);
        match uri.scheme_str() {
            Some("https") => {
                let mut config = ClientTlsConfig::new().with_native_roots();
                if let Some(ca) = &tls.ca_pem {
                    config = config.ca_certificate(Certificate::from_pem(ca));
                }
                if let Some((cert, key)) = &tls.identity {
                    config = config.identity(Identity::from_pem(cert, key));
                }
                endpoint = endpoint
                    .tls_config(config)
                    .map_err(|e| bad(root_cause(&e)))?;
            }
            Some("http") => {}
            _ => return Err(bad("OTLP/gRPC needs http://, https:// or host:port".into())),
        }
        let mut metadata = HeaderMap::new();
        for (name, value) in &target.headers {
            let bad = |reason: String| TransportError::BadHeader {
                name: name.clone(),
                reason,
            };
            let key = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
                .map_err(|e| bad(e.to_string()))?;
            let value = HeaderValue::from_str(value).map_err(|e| bad(e.to_string()))?;
            metadata.append(key, value);
        }
        Ok(GrpcTransport {
            channel: endpoint.connect_lazy(),
            // Shown in messages only: without any password in the URL.
            endpoint: crate::human::redact(&url),
            metadata,
            tenant_header: super::target::tenant_header(target)?,
            compression: target.compression,
            timeout: target.timeout,
        })
    }

    fn request(&self, signal: Signal, payload: &Payload) -> http::Request<tonic::body::Body> {
        let compressed = payload.compression == Compression::Gzip;
        let mut frame = BytesMut::with_capacity(5 + payload.body.len());
        frame.put_u8(u8::from(compressed));
        frame.put_u32(payload.body.len() as u32);
        frame.put_slice(&payload.body);
        let mut request = http::Request::new(tonic::body::Body::new(Full::new(frame.freeze())));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = http::Uri::from_static(signal.grpc_method());
        *request.version_mut() = http::Version::HTTP_2;
        let headers = request.headers_mut();
        headers.clone_from(&self.metadata);
        headers.insert("content-type", HeaderValue::from_static("application/grpc"));
        headers.insert("te", HeaderValue::from_static("trailers"));
        if let Ok(timeout) = HeaderValue::from_str(&format!("{}m", self.timeout.as_millis())) {
            headers.insert("grpc-timeout", timeout);
        }
        if compressed {
            headers.insert("grpc-encoding", HeaderValue::from_static("gzip"));
        }
        if let (Some(name), Some(value)) = (
            &self.tenant_header,
            super::target::tenant_value(self.tenant_header.as_ref(), payload),
        ) {
            headers.insert(name.clone(), value);
        }
        request
    }

    async fn call(&self, signal: Signal, payload: &Payload) -> Result<Answer, CallError> {
        let mut channel = self.channel.clone();
        std::future::poll_fn(|cx| channel.poll_ready(cx))
            .await
            .map_err(Box::new)?;
        let response = channel
            .call(self.request(signal, payload))
            .await
            .map_err(Box::new)?;
        let (parts, body) = response.into_parts();
        if parts.status != http::StatusCode::OK {
            return Ok(Answer {
                code: code::for_http_status(parts.status.as_u16()),
                message: format!("HTTP {} instead of a gRPC answer", parts.status),
                details: Vec::new(),
                body: Bytes::new(),
            });
        }
        if let Some(answer) = Answer::from_headers(&parts.headers) {
            return Ok(answer); // trailers-only
        }
        let collected = body
            .collect()
            .await
            .map_err(|e| -> CallError { e.into() })?;
        let trailers = collected.trailers().cloned().unwrap_or_default();
        let body = collected.to_bytes();
        let mut answer = Answer::from_headers(&trailers).unwrap_or(Answer {
            code: code::INTERNAL,
            message: "the server sent no grpc-status".into(),
            details: Vec::new(),
            body: Bytes::new(),
        });
        answer.body = body;
        Ok(answer)
    }
}

/// What the server said.
struct Answer {
    code: i32,
    message: String,
    /// `grpc-status-details-bin`, decoded: an encoded `google.rpc.Status`.
    details: Vec<u8>,
    /// The response message, still framed.
    body: Bytes,
}

/// The call got no gRPC answer (no connection, a broken stream).
type CallError = Box<dyn std::error::Error + Send + Sync>;

impl Answer {
    fn from_headers(headers: &HeaderMap) -> Option<Answer> {
        let code = headers
            .get("grpc-status")?
            .to_str()
            .ok()
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or(code::UNKNOWN);
        let message = headers
            .get("grpc-message")
            .map(|m| {
                percent_encoding::percent_decode(m.as_bytes())
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .unwrap_or_default();
        let details = headers
            .get("grpc-status-details-bin")
            .and_then(|d| {
                // Unpadded base64 is what gRPC sends; padded is accepted too.
                let trimmed = d.as_bytes().strip_suffix(b"==").unwrap_or(d.as_bytes());
                let trimmed = trimmed.strip_suffix(b"=").unwrap_or(trimmed);
                base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(trimmed)
                    .ok()
            })
            .unwrap_or_default();
        Some(Answer {
            code,
            message,
            details,
            body: Bytes::new(),
        })
    }

    /// The first message of a framed gRPC body, decompressed if it was.
    fn message(&self) -> Option<Vec<u8>> {
        let body = &self.body;
        if body.len() < 5 {
            return None;
        }
        let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        let message = body.get(5..5 + len)?;
        if body[0] == 1 {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(message)
                .read_to_end(&mut out)
                .ok()?;
            Some(out)
        } else {
            Some(message.to_vec())
        }
    }
}

impl Transport for GrpcTransport {
    fn encoding(&self, _: Signal) -> (Format, Compression) {
        (Format::Protobuf, self.compression)
    }

    fn endpoint(&self, _: Signal) -> String {
        self.endpoint.clone()
    }

    async fn attempt(&self, signal: Signal, payload: &Payload) -> AttemptOutcome {
        let endpoint = &self.endpoint;
        let answer = match tokio::time::timeout(self.timeout, self.call(signal, payload)).await {
            Err(_) => {
                return AttemptOutcome::Retryable {
                    reason: format!(
                        "gRPC DEADLINE_EXCEEDED: no answer from {endpoint} within {:?}",
                        self.timeout
                    ),
                    retry_after: None,
                    unreachable: true,
                };
            }
            Ok(Err(error)) => {
                if let Some(tls) = certificate_problem(error.as_ref()) {
                    return AttemptOutcome::Permanent {
                        reason: format!("TLS with {endpoint} failed: {tls}"),
                    };
                }
                return AttemptOutcome::Retryable {
                    reason: format!("cannot reach {endpoint}: {}", root_cause(error.as_ref())),
                    retry_after: None,
                    unreachable: true,
                };
            }
            Ok(Ok(answer)) => answer,
        };
        classify(signal, endpoint, &answer)
    }
}

fn classify(signal: Signal, endpoint: &str, answer: &Answer) -> AttemptOutcome {
    if answer.code == code::OK {
        let (rejected, message) = answer
            .message()
            .map(|m| partial_success_protobuf(signal, &m))
            .unwrap_or_default();
        return AttemptOutcome::Accepted { rejected, message };
    }
    let message = if answer.message.is_empty() {
        "(no message)"
    } else {
        &answer.message
    };
    let reason = format!(
        "gRPC {} from {endpoint}: {message}",
        code::name(answer.code)
    );
    let retry_after = retry_delay(&answer.details);
    let retryable = match answer.code {
        code::CANCELLED
        | code::DEADLINE_EXCEEDED
        | code::ABORTED
        | code::OUT_OF_RANGE
        | code::UNAVAILABLE
        | code::DATA_LOSS => true,
        code::RESOURCE_EXHAUSTED => retry_after.is_some(),
        _ => false,
    };
    if retryable {
        AttemptOutcome::Retryable {
            reason,
            retry_after,
            unreachable: false,
        }
    } else {
        AttemptOutcome::Permanent { reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::status::status_with_retry_delay;

    fn answer(code: i32, details: Vec<u8>) -> Answer {
        Answer {
            code,
            message: "m".into(),
            details,
            body: Bytes::new(),
        }
    }

    #[test]
    fn codes_are_retried_as_otlp_says() {
        for c in [
            code::CANCELLED,
            code::DEADLINE_EXCEEDED,
            code::ABORTED,
            code::OUT_OF_RANGE,
            code::UNAVAILABLE,
            code::DATA_LOSS,
        ] {
            assert!(
                matches!(
                    classify(Signal::Traces, "e", &answer(c, vec![])),
                    AttemptOutcome::Retryable { .. }
                ),
                "{}",
                code::name(c)
            );
        }
        for c in [
            code::INVALID_ARGUMENT,
            code::UNAUTHENTICATED,
            code::PERMISSION_DENIED,
            code::RESOURCE_EXHAUSTED,
            code::INTERNAL,
            code::UNIMPLEMENTED,
        ] {
            assert!(
                matches!(
                    classify(Signal::Traces, "e", &answer(c, vec![])),
                    AttemptOutcome::Permanent { .. }
                ),
                "{}",
                code::name(c)
            );
        }
        let throttled = answer(
            code::RESOURCE_EXHAUSTED,
            status_with_retry_delay(code::RESOURCE_EXHAUSTED, "slow", Duration::from_secs(2)),
        );
        assert_eq!(
            classify(Signal::Traces, "e", &throttled),
            AttemptOutcome::Retryable {
                reason: "gRPC RESOURCE_EXHAUSTED from e: m".into(),
                retry_after: Some(Duration::from_secs(2)),
                unreachable: false,
            }
        );
    }

    #[test]
    fn trailers_are_read_with_percent_encoded_messages_and_unpadded_details() {
        let mut headers = HeaderMap::new();
        headers.insert("grpc-status", HeaderValue::from_static("14"));
        headers.insert("grpc-message", HeaderValue::from_static("try%20later"));
        let details = status_with_retry_delay(14, "x", Duration::from_secs(3));
        let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&details);
        headers.insert(
            "grpc-status-details-bin",
            HeaderValue::from_str(&encoded).unwrap(),
        );
        let a = Answer::from_headers(&headers).unwrap();
        assert_eq!((a.code, a.message.as_str()), (14, "try later"));
        assert_eq!(retry_delay(&a.details), Some(Duration::from_secs(3)));
        assert!(Answer::from_headers(&HeaderMap::new()).is_none());
    }
}
