//! The built-in OTLP sink: a receiver that decodes, checks and counts what it is sent, and
//! prints a summary. It is how a new user sees the simulator work with nothing else
//! installed (`--local-sink`), how tests check what was sent, and the blackhole the
//! benchmarks send to.
//!
//! Layout:
//! - `recorder.rs`: the transport-neutral part (counters, span checks, last trace);
//! - `window.rs`: the bounded window of open traces behind the missing-parent check;
//! - `tree.rs`: the last trace, drawn as a tree for the summary;
//! - `tenants.rs`: counts per tenant, and the request headers seen;
//! - `faults.rs`: misbehaviour on request (latency, failing the first N requests);
//! - `dump.rs`: `--dump`, every request as a line of OTLP/JSON;
//! - `limits.rs`, `cost.rs`: what one request may cost, checked before decoding it;
//! - `serve.rs`: the accept loop of both ports (connection cap, timeouts);
//! - `signal.rs`: the three signals, for the generic handlers of
//! - `http.rs`: OTLP/HTTP (protobuf and JSON, gzip) on axum, and
//! - `grpc.rs`: OTLP/gRPC (gzip) with tonic's codec machinery.
//!
//! Both servers hand each decoded request to one [`Intake`] (faults, recorder, dump), are
//! started together by [`SinkHandle::start`] and stopped by the same shutdown signal.
//!
//! The sink counts and checks; it does not store what it receives. Storing every span
//! (for later queries) was rejected: it is what a real backend is for, and a blackhole fed
//! millions of spans per run must stay in constant memory. What is kept is bounded: the
//! last ~10,000 open traces' ids (for the parent check), the first 20 problem
//! descriptions, and up to 1,000 spans of the last trace (for the tree).

mod cost;
mod count;
mod dump;
pub mod faults;
mod grpc;
mod http;
mod limits;
mod recorder;
mod serve;
mod signal;
mod tenants;
mod tree;
mod window;

pub use limits::{MAX_BODY_BYTES, SinkLimits};
pub use tenants::{HeaderSeen, TenantStats};

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::encode::payload::OtlpRequest;
use axum::http::HeaderMap;
use dump::Dump;
use faults::{FaultState, Faults};
use limits::DecodeGate;
use recorder::{Recorder, WindowLimits};

/// How long [`SinkHandle::shutdown`] waits for in-flight requests before cutting them off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Where the sink listens, how it behaves and what it writes.
#[derive(Clone, Debug)]
pub struct SinkOptions {
    /// Address to bind for OTLP/HTTP; port 0 picks a free port (see [`SinkHandle::local_addr`]).
    pub listen: SocketAddr,
    /// Address to bind for OTLP/gRPC, if gRPC is served (see [`SinkHandle::grpc_addr`]).
    pub grpc_listen: Option<SocketAddr>,
    /// No live line on stderr (and no "listening" line from [`run_until_signal`]).
    pub quiet: bool,
    /// Misbehaviour on request.
    pub faults: Faults,
    /// Write every accepted request to this file as a line of OTLP/JSON.
    pub dump: Option<PathBuf>,
    /// Count OTLP/HTTP protobuf requests' items without decoding them (for load tests).
    pub count_only: bool,
    /// What one client may cost the sink.
    pub limits: SinkLimits,
    /// Keep the distinct request headers seen, for the summary.
    pub show_headers: bool,
    /// The header naming each request's tenant (any case), counted per tenant.
    pub tenant_header: Option<String>,
}

impl SinkOptions {
    /// HTTP only, on a free port of 127.0.0.1, quiet, well-behaved: the in-process sink.
    pub fn local() -> SinkOptions {
        SinkOptions {
            listen: ([127, 0, 0, 1], 0).into(),
            grpc_listen: None,
            quiet: true,
            faults: Faults::default(),
            dump: None,
            count_only: false,
            limits: SinkLimits::default(),
            show_headers: false,
            tenant_header: None,
        }
    }
}

/// Where both servers hand what they decoded.
pub(crate) struct Intake {
    pub recorder: Recorder,
    pub faults: FaultState,
    pub dump: Option<Dump>,
    pub count_only: bool,
    pub limits: SinkLimits,
    pub gate: DecodeGate,
    pub show_headers: bool,
    /// Lower case.
    pub tenant_header: Option<String>,
}

impl Intake {
    /// Notes a request's headers (for `--show-headers`); returns its tenant header's value.
    pub fn saw<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        if self.show_headers {
            self.recorder.record_headers(headers);
        }
        let name = self.tenant_header.as_deref()?;
        headers.get(name).map(|v| v.to_str().unwrap_or("\u{fffd}"))
    }

    /// Counts and checks an accepted request (and dumps it, if asked to); `tenant` is what its
    /// tenant header said.
    pub fn record(&self, request: OtlpRequest, wire: usize, decoded: usize, tenant: Option<&str>) {
        let Ok(request) = request.decoded() else {
            return;
        };
        let rec = &self.recorder;
        match &request {
            OtlpRequest::Traces(r) => rec.record_traces(r, wire, decoded, tenant),
            OtlpRequest::Encoded(..) => unreachable!("decoded above"),
            OtlpRequest::Metrics(r) => rec.record_metrics(r, wire, decoded, tenant),
            OtlpRequest::Logs(r) => rec.record_logs(r, wire, decoded, tenant),
        }
        if let Some(dump) = &self.dump {
            dump.write(&request);
        }
    }
}

/// Why the sink could not run. Each message includes the underlying cause, so printing
/// the error alone (`{}`) says everything; the cause is not also chained as `source()`,
/// so `{:#}` in anyhow does not print it twice.
#[derive(thiserror::Error, Debug)]
pub enum SinkError {
    /// The listen address could not be bound (in use, not local, no permission).
    #[error("sink cannot listen on {addr}: {error}")]
    Bind {
        addr: SocketAddr,
        error: std::io::Error,
    },
    /// The bound socket could not report its address.
    #[error("sink cannot read its bound address: {error}")]
    LocalAddr { error: std::io::Error },
    /// Ctrl-C / SIGTERM handlers could not be installed.
    #[error("sink cannot install signal handlers: {error}")]
    Signal { error: std::io::Error },
    /// The dump file could not be created or written.
    #[error("sink cannot write the dump {}: {error}", path.display())]
    Dump {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The port file or the summary file could not be written.
    #[error("sink cannot write {what} {}: {error}", path.display())]
    WriteFile {
        what: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    /// The summary could not be serialised as JSON.
    #[error("sink cannot serialise its summary as JSON: {error}")]
    Json { error: serde_json::Error },
}

/// Counts for traces. Requests, bytes and spans count accepted requests; `rejected`
/// counts requests answered with an error status (400, 408, 413, 415), `refused` those of them
/// refused for what they would cost (413 / RESOURCE_EXHAUSTED: over a `--max-*` limit).
#[derive(serde::Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceStats {
    pub requests: u64,
    pub rejected: u64,
    pub refused: u64,
    /// Body bytes as received (compressed, if it was).
    pub bytes: u64,
    /// Body bytes after decompression.
    pub bytes_decoded: u64,
    pub spans: u64,
    /// Distinct trace ids (valid ones) seen.
    pub traces: u64,
    /// Spans with status ERROR.
    pub errors: u64,
}

/// Counts for metrics (`items` = data points of every kind) or logs (`items` = records).
#[derive(serde::Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct SignalStats {
    pub requests: u64,
    pub rejected: u64,
    pub refused: u64,
    pub bytes: u64,
    pub bytes_decoded: u64,
    pub items: u64,
}

/// What the sink received and found. `problems` holds the first 20 descriptions;
/// `problem_count` counts them all.
#[derive(serde::Serialize, Clone, Debug, Default)]
pub struct SinkSummary {
    pub traces: TraceStats,
    pub metrics: SignalStats,
    pub logs: SignalStats,
    pub problems: Vec<String>,
    pub problem_count: u64,
    /// Requests failed on purpose (`--fail-first`); not counted above.
    pub injected_failures: u64,
    /// Hex id of the most recently received trace, if any.
    pub last_trace_id: Option<String>,
    /// That trace drawn as a tree: `name  KIND  12.3ms  STATUS`, indented by depth.
    pub last_trace_tree: Vec<String>,
    /// `--count-only`: only requests, bytes and items were counted (no trace ids, statuses,
    /// problems, tenants or last trace).
    pub count_only: bool,
    /// Items per tenant (`tenant.id` of the resource) and requests per `--tenant-header` value.
    pub tenants: BTreeMap<String, TenantStats>,
    /// With `--show-headers`: the distinct request headers seen (credentials redacted).
    pub headers: Vec<HeaderSeen>,
}

/// `1234567` → `1,234,567`.
fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1 span`, `1,234 spans`.
fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{} {word}s", count(n))
    }
}

/// Decimal byte sizes: `950 B`, `2.1 MB`.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

impl SinkSummary {
    /// Wire bytes accepted, all signals.
    pub fn total_bytes(&self) -> u64 {
        self.traces.bytes + self.metrics.bytes + self.logs.bytes
    }

    /// The one-line progress view, as printed live on stderr.
    pub fn live_line(&self) -> String {
        format!(
            "sink: {} spans ({} traces) · {} metric points · {} logs · {}",
            count(self.traces.spans),
            count(self.traces.traces),
            count(self.metrics.items),
            count(self.logs.items),
            size(self.total_bytes())
        )
    }

    /// The human summary (counts, problems, the last trace as a tree). With `--count-only`,
    /// only what that mode counts.
    pub fn render(&self) -> String {
        let mut s = String::new();
        self.render_counts(&mut s);
        if self.count_only {
            let _ = writeln!(
                s,
                "(--count-only: items counted on the wire, not decoded or checked)"
            );
            return s;
        }
        self.render_tenants(&mut s);
        self.render_problems(&mut s);
        if let Some(id) = &self.last_trace_id {
            let _ = writeln!(s, "last trace {id}:");
            for line in &self.last_trace_tree {
                let _ = writeln!(s, "  {line}");
            }
        }
        s
    }

    fn render_counts(&self, s: &mut String) {
        let t = &self.traces;
        let decoded = |wire: u64, decoded: u64| {
            if decoded == wire {
                String::new()
            } else {
                format!(" ({} decoded)", size(decoded))
            }
        };
        let rejected = |n: u64, refused: u64| match (n, refused) {
            (0, _) => String::new(),
            (n, 0) => format!(" · {} rejected", count(n)),
            (n, r) => format!(" · {} rejected ({} over the limits)", count(n), count(r)),
        };
        let _ = writeln!(s, "sink received:");
        let trace_details = if self.count_only {
            String::new()
        } else {
            format!(
                " in {} · {} with status ERROR",
                plural(t.traces, "trace"),
                count(t.errors)
            )
        };
        let _ = writeln!(
            s,
            "  traces   {}{trace_details} · {} · {}{}{}",
            plural(t.spans, "span"),
            plural(t.requests, "request"),
            size(t.bytes),
            decoded(t.bytes, t.bytes_decoded),
            rejected(t.rejected, t.refused)
        );
        for (name, unit, m) in [
            ("metrics", "data point", &self.metrics),
            ("logs   ", "record", &self.logs),
        ] {
            let _ = writeln!(
                s,
                "  {name}  {} · {} · {}{}{}",
                plural(m.items, unit),
                plural(m.requests, "request"),
                size(m.bytes),
                decoded(m.bytes, m.bytes_decoded),
                rejected(m.rejected, m.refused)
            );
        }
        if self.injected_failures > 0 {
            let _ = writeln!(
                s,
                "  failed on purpose (--fail-first): {}",
                plural(self.injected_failures, "request")
            );
        }
    }

    fn render_tenants(&self, s: &mut String) {
        if !self.tenants.is_empty() {
            let _ = writeln!(s, "tenants:");
            let width = self.tenants.keys().map(|k| k.chars().count()).max();
            for (tenant, t) in &self.tenants {
                let mut line = format!(
                    "{} · {} · {}",
                    plural(t.spans, "span"),
                    plural(t.metric_points, "data point"),
                    plural(t.log_records, "log record")
                );
                if t.requests_by_header > 0 {
                    let _ = write!(
                        line,
                        " · {} with it in the tenant header",
                        plural(t.requests_by_header, "request")
                    );
                }
                let _ = writeln!(s, "  {tenant:<w$}  {line}", w = width.unwrap_or(0));
            }
        }
        if !self.headers.is_empty() {
            let _ = writeln!(s, "request headers seen:");
            for h in &self.headers {
                let _ = writeln!(
                    s,
                    "  {}: {}  ({})",
                    h.name,
                    h.value,
                    plural(h.requests, "request")
                );
            }
        }
    }

    fn render_problems(&self, s: &mut String) {
        if self.problem_count == 0 {
            let _ = writeln!(s, "problems: none");
            return;
        }
        let shown = self.problems.len() as u64;
        let _ = writeln!(
            s,
            "problems: {}{}",
            count(self.problem_count),
            if shown < self.problem_count {
                format!(" (first {shown} shown)")
            } else {
                String::new()
            }
        );
        for p in &self.problems {
            let _ = writeln!(s, "  - {p}");
        }
    }
}

/// A running sink. Dropping it stops the server too (without the end-of-run checks);
/// call [`SinkHandle::shutdown`] for those and the final summary.
pub struct SinkHandle {
    addr: SocketAddr,
    grpc_addr: Option<SocketAddr>,
    intake: Arc<Intake>,
    dump_path: Option<PathBuf>,
    stop: watch::Sender<bool>,
    servers: Vec<JoinHandle<()>>,
    ticker: Option<JoinHandle<()>>,
}

impl SinkHandle {
    /// Binds `opts.listen` and starts serving; returns once the socket is listening, so a
    /// client may send as soon as this returns.
    pub async fn start(opts: SinkOptions) -> Result<SinkHandle, SinkError> {
        Self::start_with(opts, WindowLimits::default()).await
    }

    /// [`SinkHandle::start`] with the trace window's limits (tests shrink them).
    pub(crate) async fn start_with(
        opts: SinkOptions,
        window: WindowLimits,
    ) -> Result<SinkHandle, SinkError> {
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|error| SinkError::Bind {
                addr: opts.listen,
                error,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|error| SinkError::LocalAddr { error })?;
        let grpc_listener = match opts.grpc_listen {
            Some(grpc) => Some(
                tokio::net::TcpListener::bind(grpc)
                    .await
                    .map_err(|error| SinkError::Bind { addr: grpc, error })?,
            ),
            None => None,
        };
        let grpc_addr = grpc_listener
            .as_ref()
            .map(|l| l.local_addr())
            .transpose()
            .map_err(|error| SinkError::LocalAddr { error })?;
        let dump = opts
            .dump
            .as_deref()
            .map(Dump::create)
            .transpose()
            .map_err(|error| SinkError::Dump {
                path: opts.dump.clone().unwrap_or_default(),
                error,
            })?;
        let limits = opts.limits;
        let intake = Arc::new(Intake {
            recorder: Recorder::new(window),
            faults: FaultState::new(opts.faults.clone()),
            dump,
            count_only: opts.count_only,
            limits,
            gate: DecodeGate::new(limits.max_concurrent_decodes),
            show_headers: opts.show_headers,
            tenant_header: opts.tenant_header.as_deref().map(str::to_ascii_lowercase),
        });
        let (stop, stopped) = watch::channel(false);
        // One cap for both ports: it bounds the sink's sockets, whichever port they are on.
        let connections = serve::Slots::new(limits.max_connections);
        let mut servers = vec![tokio::spawn(serve::serve(
            listener,
            http::router(intake.clone()),
            limits,
            connections.clone(),
            stopped.clone(),
        ))];
        if let Some(grpc_listener) = grpc_listener {
            servers.push(tokio::spawn(serve::serve(
                grpc_listener,
                grpc::router(intake.clone()),
                limits,
                connections,
                stopped.clone(),
            )));
        }
        let ticker = (!opts.quiet).then(|| tokio::spawn(live_ticker(intake.clone(), stopped)));
        Ok(SinkHandle {
            addr,
            grpc_addr,
            intake,
            dump_path: opts.dump,
            stop,
            servers,
            ticker,
        })
    }

    /// The bound HTTP address (with the real port when `listen` had port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound gRPC address, if gRPC is served.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc_addr
    }

    /// Counts so far. The missing-parent check only covers traces already evicted from
    /// the window; the rest are checked by [`SinkHandle::shutdown`].
    pub fn snapshot(&self) -> SinkSummary {
        let mut summary = self.intake.recorder.snapshot();
        summary.injected_failures = self.intake.faults.injected();
        summary.count_only = self.intake.count_only;
        summary
    }

    /// Stops accepting connections, lets in-flight requests finish (up to 5 s), runs the
    /// end-of-run checks and returns the final summary.
    pub async fn shutdown(self) -> SinkSummary {
        self.shutdown_checked().await.0
    }

    /// [`SinkHandle::shutdown`], also saying whether the dump could be written.
    async fn shutdown_checked(self) -> (SinkSummary, Result<(), SinkError>) {
        let _ = self.stop.send(true);
        for mut server in self.servers {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut server)
                .await
                .is_err()
            {
                server.abort();
            }
        }
        if let Some(ticker) = self.ticker {
            let _ = ticker.await;
        }
        let dumped = match (&self.intake.dump, self.dump_path) {
            (Some(dump), Some(path)) => dump
                .finish()
                .map_err(|error| SinkError::Dump { path, error }),
            _ => Ok(()),
        };
        let mut summary = self.intake.recorder.finish();
        summary.injected_failures = self.intake.faults.injected();
        summary.count_only = self.intake.count_only;
        (summary, dumped)
    }
}

/// Prints the live line on stderr once a second while requests arrive. On a terminal the
/// line is redrawn in place; otherwise (a log file, CI) one line is written per update.
async fn live_ticker(intake: Arc<Intake>, mut stopped: watch::Receiver<bool>) {
    let recorder = &intake.recorder;
    let tty = std::io::stderr().is_terminal();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut seen = 0;
    let mut drawn = false;
    let print = |drawn: &mut bool| {
        let line = recorder.counts().live_line();
        let mut err = std::io::stderr().lock();
        let _ = if tty {
            write!(err, "\r{line}\x1b[K")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
        *drawn = true;
    };
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.wait_for(|&s| s) => break,
        }
        let now = recorder.activity();
        if now != seen {
            seen = now;
            print(&mut drawn);
        }
    }
    if recorder.activity() != seen {
        print(&mut drawn);
    }
    if drawn && tty {
        let _ = writeln!(std::io::stderr());
    }
}

/// Writes `contents` to `path` so a reader polling for the file never sees it half-written
/// (see [`crate::files::write`]: exclusively created temporary file, or directly to a device).
fn write_atomically(what: &'static str, path: &Path, contents: &[u8]) -> Result<(), SinkError> {
    crate::files::write(path, contents).map_err(|error| SinkError::WriteFile {
        what,
        path: path.to_owned(),
        error,
    })
}

/// Files to write the bound ports to (number and newline), once listening.
#[derive(Clone, Debug, Default)]
pub struct PortFiles {
    pub http: Option<PathBuf>,
    pub grpc: Option<PathBuf>,
}

/// Runs the sink standalone until Ctrl-C or SIGTERM: starts it, writes the bound ports to
/// `port_files`, waits, shuts down gracefully, writes the summary as JSON to
/// `summary_json`, and returns the summary (the caller prints `render()`).
pub async fn run_until_signal(
    opts: SinkOptions,
    port_files: PortFiles,
    summary_json: Option<PathBuf>,
) -> Result<SinkSummary, SinkError> {
    // Handlers are installed before the port file appears, so a harness that signals as
    // soon as it has read the port is always caught.
    let stop = stop_signal().map_err(|error| SinkError::Signal { error })?;
    run_until(opts, port_files, summary_json, stop).await
}

/// [`run_until_signal`] with the stop condition as a future (tests use a channel).
async fn run_until(
    opts: SinkOptions,
    port_files: PortFiles,
    summary_json: Option<PathBuf>,
    stop: impl Future<Output = ()>,
) -> Result<SinkSummary, SinkError> {
    let quiet = opts.quiet;
    let handle = SinkHandle::start(opts).await?;
    let addr = handle.local_addr();
    if !quiet {
        let grpc = handle
            .grpc_addr()
            .map(|a| format!(" and OTLP/gRPC on {a}"))
            .unwrap_or_default();
        let _ = writeln!(
            std::io::stderr(),
            "sink: listening for OTLP/HTTP on http://{addr} (POST /v1/traces, /v1/metrics, /v1/logs){grpc}; Ctrl-C to stop"
        );
    }
    let ports = [
        (&port_files.http, Some(addr)),
        (&port_files.grpc, handle.grpc_addr()),
    ];
    for (file, addr) in ports {
        if let (Some(path), Some(addr)) = (file, addr)
            && let Err(e) =
                write_atomically("port file", path, format!("{}\n", addr.port()).as_bytes())
        {
            handle.shutdown().await;
            return Err(e);
        }
    }
    stop.await;
    let (summary, dumped) = handle.shutdown_checked().await;
    if let Some(path) = &summary_json {
        let mut json =
            serde_json::to_vec_pretty(&summary).map_err(|error| SinkError::Json { error })?;
        json.push(b'\n');
        write_atomically("summary file", path, &json)?;
    }
    dumped?;
    Ok(summary)
}

/// A future that resolves on Ctrl-C (SIGINT) or, on Unix, SIGTERM. The handlers are
/// registered now, not when the future is first polled.
fn stop_signal() -> std::io::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

#[cfg(test)]
mod tests;
