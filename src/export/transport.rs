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
pub use super::target::{Output, Protocol, Target, TransportError};
use crate::encode::Signal;
use crate::encode::payload::{Compression, Format, Payload};

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
