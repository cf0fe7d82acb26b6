//! The assembly of a run: the async runtime, the signal handlers, the local sink (with
//! `--local-sink`), the transports, then [`super::run`], and what the run reports.
//!
//! It lives here, below the command line, so that the edge only maps arguments to settings,
//! calls it and prints: the alternative, the command assembling the run itself (as
//! `commands.rs::generate` once did), made every new flag and every new piece of the run go
//! through one long function of the edge. It is two steps, [`Launched::start`] then
//! [`Launched::run`], because the start line the edge prints names the destination, which with a
//! local sink is known only once the sink listens.

use super::{Mix, RunSettings, RunSummary};
use crate::encode::Signal;
use crate::export::http::signal_url;
use crate::export::transport::{Output, Protocol, TransportError, Transports};
use crate::interrupt::Interrupt;
use crate::sink::{SinkError, SinkHandle, SinkOptions};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// The destination cannot be opened (a file, a certificate, a header): the user's to fix.
    #[error(transparent)]
    Output(#[from] TransportError),
}

impl LaunchError {
    /// Whether the user asked for something that cannot be (a usage error), rather than the
    /// machine failing.
    pub fn is_usage(&self) -> bool {
        matches!(self, LaunchError::Output(_))
    }
}

/// A run ready to go: its runtime, signal handlers, local sink and open transports.
pub struct Launched {
    runtime: tokio::runtime::Runtime,
    interrupt: Arc<Interrupt>,
    local_sink: Option<SinkHandle>,
    output: Output,
    transports: Transports,
}

/// What a run did, and where it sent.
pub struct RunReport {
    pub summary: RunSummary,
    pub output: Output,
    /// What the local sink received, rendered, without its own heading.
    pub local_sink: Option<String>,
    /// 128 + the signal's number when a signal stopped the run.
    pub interrupted: Option<u8>,
}

impl Launched {
    /// Starts what a run to `output` needs; with `local_sink`, a sink on free ports of
    /// 127.0.0.1 that `output`'s endpoints are pointed at.
    pub fn start(output: Output, local_sink: bool) -> Result<Launched, LaunchError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(LaunchError::Runtime)?;
        let interrupt = Interrupt::install(runtime.handle()).map_err(LaunchError::Signals)?;
        let (local_sink, output) = if local_sink {
            let options = SinkOptions {
                grpc_listen: Some(([127, 0, 0, 1], 0).into()),
                ..SinkOptions::local()
            };
            let sink = runtime.block_on(SinkHandle::start(options))?;
            let output = to_sink(output, sink.local_addr(), sink.grpc_addr());
            (Some(sink), output)
        } else {
            (None, output)
        };
        let transports = {
            let _inside = runtime.enter();
            Transports::open(&output)?
        };
        Ok(Launched {
            runtime,
            interrupt,
            local_sink,
            output,
            transports,
        })
    }

    /// Where the run sends.
    pub fn output(&self) -> &Output {
        &self.output
    }

    /// Runs `mix` with `settings` (see [`super::run`]), then stops the local sink and the
    /// runtime.
    pub fn run(self, mix: &Mix, settings: &RunSettings) -> RunReport {
        let Launched {
            runtime,
            interrupt,
            local_sink,
            output,
            transports,
        } = self;
        let summary = super::run(mix, settings, &runtime, transports, &interrupt);
        let local_sink = local_sink.map(|sink| {
            let received = runtime.block_on(sink.shutdown()).render();
            match received.strip_prefix("sink received:\n") {
                Some(body) => body.to_string(),
                None => received,
            }
        });
        // Do not wait for requests the exporter gave up on.
        runtime.shutdown_timeout(Duration::from_millis(100));
        RunReport {
            summary,
            output,
            local_sink,
            interrupted: interrupt.exit_status(),
        }
    }
}

/// `output` with each signal's endpoint replaced by the sink's port for its protocol: `http`
/// for OTLP/HTTP, `grpc` (when the sink serves it) for gRPC.
fn to_sink(output: Output, http: SocketAddr, grpc: Option<SocketAddr>) -> Output {
    let Output::Otlp(mut targets) = output else {
        return output;
    };
    for (target, signal) in targets.iter_mut().zip(Signal::ALL) {
        target.url = match (target.protocol, grpc) {
            (Protocol::Grpc, Some(addr)) => format!("http://{addr}"),
            _ => signal_url(&format!("http://{http}"), signal),
        };
    }
    Output::Otlp(targets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::transport::Target;

    #[test]
    fn each_signal_goes_to_the_sink_port_of_its_own_protocol() {
        let target = |protocol, url: &str| Target {
            protocol,
            url: url.into(),
            headers: Vec::new(),
            tenant_header: None,
            compression: crate::encode::payload::Compression::None,
            timeout: Duration::from_secs(1),
            tls: Default::default(),
            insecure: false,
        };
        let output = Output::Otlp(Box::new([
            target(Protocol::HttpProtobuf, "http://elsewhere:4318/v1/traces"),
            target(Protocol::HttpJson, "http://elsewhere:4318/v1/metrics"),
            target(Protocol::Grpc, "http://elsewhere:4317"),
        ]));
        let http: SocketAddr = ([127, 0, 0, 1], 1001).into();
        let grpc: SocketAddr = ([127, 0, 0, 1], 1002).into();
        let Output::Otlp(targets) = to_sink(output, http, Some(grpc)) else {
            panic!("still OTLP");
        };
        let urls: Vec<&str> = targets.iter().map(|t| t.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "http://127.0.0.1:1001/v1/traces",
                "http://127.0.0.1:1001/v1/metrics",
                "http://127.0.0.1:1002"
            ]
        );
        let file = Output::File("out.jsonl".into());
        assert_eq!(to_sink(file.clone(), http, Some(grpc)), file);
    }
}
