//! Where a run's requests go, chosen once from the configuration: an OTLP endpoint per signal
//! (HTTP/protobuf, HTTP/JSON or gRPC), a file of OTLP/JSON lines, or nowhere.
//!
//! [`Transport`] uses `impl Future` in its method, so it is not dyn-compatible; the choice is an
//! enum ([`Destination`]) dispatching to the concrete transports. A boxed-future trait object
//! was the alternative: it costs an allocation per attempt and hides the set of transports,
//! which is closed anyway. [`Transports`] routes each signal to its own destination, because
//! the OTel environment lets each signal have its own endpoint, protocol and headers.

use super::exporter::{AttemptOutcome, Transport};
use super::file::{FileTransport, NullTransport};
use super::grpc::GrpcTransport;
use super::http::HttpTransport;
use super::tls::{TlsError, TlsOptions};
use crate::encode::Signal;
use crate::encode::payload::{Compression, Format, Payload};
use crate::human::Redacted;
use std::path::PathBuf;
use std::time::Duration;
use tonic::codegen::http;

/// The OTLP protocols (`OTEL_EXPORTER_OTLP_PROTOCOL` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Protocol {
    HttpProtobuf,
    HttpJson,
    Grpc,
}

impl Protocol {
    pub fn parse(value: &str) -> Option<Protocol> {
        match value.trim().to_ascii_lowercase().as_str() {
            "http/protobuf" => Some(Protocol::HttpProtobuf),
            "http/json" => Some(Protocol::HttpJson),
            "grpc" => Some(Protocol::Grpc),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
            Protocol::Grpc => "grpc",
        }
    }
}

/// One signal's OTLP endpoint and how to talk to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub protocol: Protocol,
    /// The full URL for HTTP (`…/v1/traces`); `scheme://host:port` (or `host:port`) for gRPC.
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// A header (gRPC: metadata key) naming the tenant whose data each request carries, for
    /// backends that route by tenant (`X-Scope-OrgID`).
    pub tenant_header: Option<String>,
    pub compression: Compression,
    pub timeout: Duration,
    pub tls: TlsOptions,
    /// gRPC without a scheme in the endpoint: plaintext instead of TLS.
    pub insecure: bool,
}

/// Where the run's requests go.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// OTLP endpoints, one per signal (traces, metrics, logs).
    Otlp(Box<[Target; 3]>),
    /// A file of OTLP/JSON lines (`-`: stdout).
    File(PathBuf),
    /// Encode, send nothing.
    Null {
        format: Format,
        compression: Compression,
    },
}

impl Output {
    /// Where `signal` goes, for messages and summaries.
    pub fn describe(&self, signal: Signal) -> String {
        match self {
            Output::Otlp(targets) => {
                let t = &targets[signal as usize];
                format!("{} ({})", Redacted(&t.url), t.protocol.name())
            }
            Output::File(path) if path.as_os_str() == "-" => "stdout (OTLP/JSON lines)".into(),
            Output::File(path) => format!("{} (OTLP/JSON lines)", path.display()),
            Output::Null { .. } => "nowhere (--output null)".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("bad endpoint {:?}: {reason}", crate::human::redact(.endpoint))]
    BadEndpoint { endpoint: String, reason: String },
    #[error("bad header {name:?}: {reason}")]
    BadHeader { name: String, reason: String },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot set up the HTTP client: {}", super::http::root_cause(.0))]
    Http(#[from] reqwest::Error),
    #[error("cannot open the output file {}: {error}", path.display())]
    File {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// The tenant header of `target`, checked once: gRPC metadata keys are lower case, and HTTP
/// header names are case-insensitive, so it is kept in lower case for both.
pub(super) fn tenant_header(target: &Target) -> Result<Option<http::HeaderName>, TransportError> {
    target
        .tenant_header
        .as_deref()
        .map(|name| {
            http::HeaderName::from_bytes(name.trim().to_ascii_lowercase().as_bytes()).map_err(|e| {
                TransportError::BadHeader {
                    name: name.to_string(),
                    reason: e.to_string(),
                }
            })
        })
        .transpose()
}

/// The value of the tenant header for `payload`, when there is a header and the payload is one
/// tenant's. Tenant names that cannot be a header value were refused before the run.
pub(super) fn tenant_value(
    header: Option<&http::HeaderName>,
    payload: &Payload,
) -> Option<http::HeaderValue> {
    header?;
    http::HeaderValue::from_str(payload.tenant.as_deref()?).ok()
}

/// One concrete transport.
pub enum Destination {
    Http(HttpTransport),
    Grpc(GrpcTransport),
    File(FileTransport),
    Null(NullTransport),
}

impl Transport for Destination {
    fn encoding(&self, signal: Signal) -> (Format, Compression) {
        match self {
            Destination::Http(t) => t.encoding(signal),
            Destination::Grpc(t) => t.encoding(signal),
            Destination::File(t) => t.encoding(signal),
            Destination::Null(t) => t.encoding(signal),
        }
    }

    fn endpoint(&self, signal: Signal) -> String {
        match self {
            Destination::Http(t) => t.endpoint(signal),
            Destination::Grpc(t) => t.endpoint(signal),
            Destination::File(t) => t.endpoint(signal),
            Destination::Null(t) => t.endpoint(signal),
        }
    }

    async fn attempt(&self, signal: Signal, payload: &Payload) -> AttemptOutcome {
        match self {
            Destination::Http(t) => t.attempt(signal, payload).await,
            Destination::Grpc(t) => t.attempt(signal, payload).await,
            Destination::File(t) => t.attempt(signal, payload).await,
            Destination::Null(t) => t.attempt(signal, payload).await,
        }
    }
}

/// A destination per signal.
pub struct Transports {
    by_signal: [Destination; 3],
}

impl Transports {
    /// Builds the transports for `output`. gRPC channels connect lazily, on the first request;
    /// this must be called within a tokio runtime.
    pub fn open(output: &Output) -> Result<Transports, TransportError> {
        let by_signal = match output {
            Output::Otlp(targets) => {
                let [t, m, l] = &**targets;
                [target(t)?, target(m)?, target(l)?]
            }
            Output::File(path) => {
                let file = FileTransport::create(path).map_err(|error| TransportError::File {
                    path: path.clone(),
                    error,
                })?;
                [
                    Destination::File(file.clone()),
                    Destination::File(file.clone()),
                    Destination::File(file),
                ]
            }
            Output::Null {
                format,
                compression,
            } => Signal::ALL.map(|_| {
                Destination::Null(NullTransport {
                    format: *format,
                    compression: *compression,
                })
            }),
        };
        Ok(Transports { by_signal })
    }
}

fn target(t: &Target) -> Result<Destination, TransportError> {
    let tls = t.tls.load()?;
    Ok(match t.protocol {
        Protocol::HttpProtobuf => Destination::Http(HttpTransport::new(t, Format::Protobuf, &tls)?),
        Protocol::HttpJson => Destination::Http(HttpTransport::new(t, Format::Json, &tls)?),
        Protocol::Grpc => Destination::Grpc(GrpcTransport::new(t, &tls)?),
    })
}

impl Transport for Transports {
    fn encoding(&self, signal: Signal) -> (Format, Compression) {
        self.by_signal[signal as usize].encoding(signal)
    }

    fn endpoint(&self, signal: Signal) -> String {
        self.by_signal[signal as usize].endpoint(signal)
    }

    async fn attempt(&self, signal: Signal, payload: &Payload) -> AttemptOutcome {
        self.by_signal[signal as usize]
            .attempt(signal, payload)
            .await
    }
}
