//! What a transport is built from, and the errors of building it: the protocols, one signal's
//! endpoint ([`Target`]), the run's [`Output`], the tenant header, and [`TransportError`].
//!
//! Apart from `transport.rs`, which chooses among the transports, so that the HTTP and gRPC
//! transports read their settings from here and `transport.rs` alone imports them: keeping these
//! beside the chooser made `http` and `grpc` import the module that imports them (a cycle).

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
    #[error("cannot set up the HTTP client: {}", root_cause(.0))]
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

/// The innermost cause, which is what a user can act on ("Connection refused", "timed out").
pub(crate) fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cause = e;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}
