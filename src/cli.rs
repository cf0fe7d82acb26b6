//! The command line, as clap definitions only.
//!
//! Global options (`--endpoint`, `--schema-path`, `--service-name`) are declared `global`, so they
//! work before or after the subcommand (the original silently ignored them before it). Defaults
//! that depend on the environment are resolved later, in `config`, so that `--help` never needs a
//! tenant variable and the precedence rules live in one tested place.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "telemetry-simulator",
    version,
    about = "Generate realistic OpenTelemetry traces for LLM-agent systems from YAML scenarios and send them over OTLP",
    after_help = "Environment: TENANT_UUID or TELEMETRY_TENANT_UUIDS (+ TELEMETRY_TENANT_WEIGHTS) choose tenants; \
TELEMETRY_SIMULATOR_ATTR_PREFIX sets the attribute prefix (default vendor); the OpenTelemetry SDK variables \
OTEL_EXPORTER_OTLP_[TRACES_|METRICS_|LOGS_]{ENDPOINT,PROTOCOL,HEADERS,COMPRESSION,TIMEOUT,CERTIFICATE,CLIENT_CERTIFICATE,\
CLIENT_KEY,INSECURE}, OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES work as in the SDKs (a flag beats its variable); \
OTLP_HTTP_ENDPOINT is read too."
)]
pub struct Cli {
    /// OTLP endpoint; for OTLP/HTTP `/v1/traces` etc. are appended [default: http://localhost:4318, or http://localhost:4317 for grpc]
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint: Option<String>,

    /// Semantic-conventions schema file (also TELEMETRY_SIMULATOR_SCHEMA_PATH)
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "TELEMETRY_SIMULATOR_SCHEMA_PATH"
    )]
    pub schema_path: Option<PathBuf>,

    /// service.name of the emitted resource (also OTEL_SERVICE_NAME) [default: telemetry-simulator]
    #[arg(long, global = true, value_name = "NAME")]
    pub service_name: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one scenario
    Scenario(ScenarioArgs),
    /// Run a mixed workload over every scenario in the folder
    Run(RunArgs),
    /// List the available scenarios
    List(ListArgs),
    /// Check scenario files and report every problem
    Validate(ValidateArgs),
    /// Receive OTLP and summarise what arrives (a built-in collector stand-in)
    Sink(SinkArgs),
    /// Simulate a scenario without sending anything: latencies, span counts, error and retry rates
    Check(CheckArgs),
    /// Print the JSON Schema of the scenario format (for editors and CI)
    Schema,
    /// Print a shell completion script (docs/cli.md says where to put it)
    #[command(hide = true)]
    Completions(CompletionsArgs),
    /// Print the man page (roff), generated from this command line
    #[command(hide = true)]
    Man,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ScenarioArgs {
    /// The scenario's name (its file name without .yaml)
    #[arg(long)]
    pub name: String,
    /// Traces to generate; 0 is the scenario's repeat_count, as in the original [default: the
    /// scenario's repeat_count, or no limit with --duration]
    #[arg(long)]
    pub count: Option<u64>,
    /// Milliseconds between traces [default: the scenario's interval_ms]
    #[arg(long, value_name = "MS")]
    pub interval: Option<f64>,
    #[command(flatten)]
    pub generate: GenerateArgs,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Traces to generate [default: 100, or no limit with --duration]
    #[arg(long)]
    pub count: Option<u64>,
    /// Weights of the mix, e.g. `successful_agent_turn=3,tool_retry=1` (replaces the scenarios'
    /// `weight:`; scenarios not named are left out)
    #[arg(long, value_name = "NAME=W,...", value_parser = parse_mix)]
    pub mix: Option<MixWeights>,
    /// Only scenarios with at least one of these tags, e.g. `retry,baseline`
    #[arg(long, value_name = "TAG,...", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Milliseconds between traces
    #[arg(long, value_name = "MS", default_value_t = 500.0)]
    pub interval: f64,
    #[command(flatten)]
    pub generate: GenerateArgs,
}

/// Options shared by the commands that generate telemetry.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Folder of scenario YAML files [default: the bundled samples]
    #[arg(long, value_name = "DIR")]
    pub scenarios_dir: Option<PathBuf>,
    /// Seed of the random streams; the same seed gives the same telemetry [default: random, printed]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Send no metrics
    #[arg(long)]
    pub no_metrics: bool,
    /// Send no logs
    #[arg(long)]
    pub no_logs: bool,
    /// Print one line per trace (the run then uses one worker, so lines come in order)
    #[arg(long)]
    pub show_spans: bool,
    /// Print every span of every trace with all its attributes (one worker, as --show-spans; also
    /// --show-all-attributes, the original's name)
    #[arg(long, alias = "show-all-attributes")]
    pub show_full_spans: bool,
    /// Tenant ids to spread the traces over, e.g. `--tenants a b` or `--tenants a,b` (replaces
    /// TELEMETRY_TENANT_UUIDS and TENANT_UUID; TELEMETRY_TENANT_WEIGHTS still weighs them)
    #[arg(long, value_name = "ID", num_args = 1.., value_delimiter = ',')]
    pub tenants: Vec<String>,
    /// Reject scenarios whose worst-case trace has more spans than this
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_spans_per_trace: u64,
    /// Start the built-in sink in this process, send to it, and print what it received
    #[arg(long)]
    pub local_sink: bool,
    /// Print only the final summary
    #[arg(long, short)]
    pub quiet: bool,
    /// Generator threads, 1 to 256; the telemetry is the same for any number [default: the cores]
    #[arg(long, value_name = "N", value_parser = parse_workers)]
    pub workers: Option<std::num::NonZeroUsize>,
    #[command(flatten)]
    pub export: ExportArgs,
    #[command(flatten)]
    pub pace: PaceArgs,
    #[command(flatten)]
    pub signals: SignalArgs,
    #[command(flatten)]
    pub genai: GenAiArgs,
}

/// Options of the metrics and logs derived from the spans.
#[derive(Debug, Args)]
#[command(next_help_heading = "Metrics and logs")]
pub struct SignalArgs {
    /// How often metrics are exported, e.g. 10s, 500ms, 1m (a bare number is milliseconds); a
    /// run always ends with a final export
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_interval)]
    pub metrics_interval: Duration,
    /// Aggregation temporality of the metrics: totals since the run's start, or changes since
    /// the previous export
    #[arg(long, value_enum, value_name = "KIND", default_value_t = MetricsTemporality::Cumulative)]
    pub metrics_temporality: MetricsTemporality,
    /// Also record each failure as an `exception` span event (the exception log record, which
    /// the semantic conventions now prefer, is sent with the logs either way)
    #[arg(long)]
    pub exception_span_events: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum MetricsTemporality {
    Cumulative,
    Delta,
}

/// A duration such as `10s`, `250ms`, `1.5s` or `2m`; a bare number is milliseconds. Between 1 ms
/// and one day.
fn parse_interval(text: &str) -> Result<Duration, String> {
    let seconds = crate::scenario::duration_seconds(text, 1e-3)?;
    if !(1e-3..=86_400.0).contains(&seconds) {
        return Err(format!("`{}` is out of range (1ms to 24h)", text.trim()));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// How fast and for how long a run goes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Pacing")]
pub struct PaceArgs {
    /// Target rate in traces per second (overrides --interval)
    #[arg(long, value_name = "PER_SECOND", value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// How arrivals are spaced at the target rate: evenly, or as a Poisson process
    #[arg(long, value_enum, value_name = "KIND", default_value_t = ArrivalsArg::Constant)]
    pub arrivals: ArrivalsArg,
    /// Stop after this long, e.g. 30s, 10m, 2h, or `inf` to run until interrupted
    #[arg(long, value_name = "DURATION", value_parser = parse_run_duration)]
    pub duration: Option<RunDuration>,
    /// Climb linearly from 0 to the target rate over this time, e.g. 30s
    #[arg(long, value_name = "DURATION", value_parser = parse_run_duration)]
    pub ramp_up: Option<RunDuration>,
    /// Traffic shape over the run: `constant`, `diurnal[:PERIOD[:AMPLITUDE]]` (default 24h, 0.5)
    /// or `bursty[:PERIOD[:DUTY[:FACTOR]]]` (default 60s, 0.1, 5): multiplies the target rate
    /// [default: the scenario's `traffic`, else constant]
    #[arg(long, value_name = "SHAPE")]
    pub traffic: Option<crate::workload::Pattern>,
    /// Generate history: spread the traces over this past window (e.g. 24h), as fast as possible
    #[arg(long, value_name = "DURATION", value_parser = parse_run_duration, conflicts_with_all = ["rate", "duration"])]
    pub backfill: Option<RunDuration>,
    /// Pin the run's start instant, as RFC 3339 (2026-01-01T00:00:00Z) or Unix seconds
    /// (1767225600): every timestamp then derives from it and the schedule, never the clock, so
    /// the same --seed gives byte-identical --output. A --backfill window starts there
    /// [default: now; a backfill's window ends now]
    #[arg(long, value_name = "TIME", value_parser = crate::config::parse_start_time)]
    pub start_time: Option<u64>,
    /// Take shard K of N (0-based): every N-th iteration of the same global sequence, so shards
    /// never overlap and together equal the unsharded run
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// The number of shards, with K from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)
    #[arg(long, value_name = "N", conflicts_with = "shard")]
    pub shards: Option<u64>,
}

/// Shard `index` of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

fn parse_shard(text: &str) -> Result<Shard, String> {
    let (k, n) = text
        .split_once('/')
        .ok_or_else(|| format!("`{text}` is not K/N (e.g. 0/4)"))?;
    let index: u64 = k
        .trim()
        .parse()
        .map_err(|_| format!("`{k}` is not a shard number"))?;
    let count: u64 = n
        .trim()
        .parse()
        .map_err(|_| format!("`{n}` is not a shard count"))?;
    if count == 0 || index >= count {
        return Err(format!("shard {index}/{count}: need 0 ≤ K < N"));
    }
    Ok(Shard { index, count })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ArrivalsArg {
    Constant,
    Poisson,
}

/// A run's length: a time, or until interrupted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunDuration {
    For(Duration),
    Forever,
}

/// `--mix` weights by scenario name.
#[derive(Clone, Debug, PartialEq)]
pub struct MixWeights(pub Vec<(String, f64)>);

fn parse_mix(text: &str) -> Result<MixWeights, String> {
    text.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| {
            let (name, weight) = pair
                .split_once('=')
                .ok_or_else(|| format!("`{pair}` is not NAME=WEIGHT"))?;
            match weight.trim().parse::<f64>() {
                Ok(w) if w >= 0.0 && w.is_finite() => Ok((name.trim().to_string(), w)),
                _ => Err(format!("`{weight}` is not a weight ≥ 0")),
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map(MixWeights)
}

/// `--workers`: bounded like `--exporters`, since each thread holds its own request buffers.
fn parse_workers(text: &str) -> Result<std::num::NonZeroUsize, String> {
    let max = crate::workload::MAX_WORKERS;
    text.trim()
        .parse::<std::num::NonZeroUsize>()
        .ok()
        .filter(|n| n.get() <= max)
        .ok_or(format!(
            "`{text}` is not a number of workers from 1 to {max}"
        ))
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(r) if r > 0.0 && r.is_finite() => Ok(r),
        _ => Err(format!(
            "`{text}` is not a rate above 0 (traces per second)"
        )),
    }
}

/// `30s`, `10m`, `2h`, `1.5h`, `500ms`, or `inf`.
fn parse_run_duration(text: &str) -> Result<RunDuration, String> {
    match text.trim() {
        "inf" | "infinite" | "forever" => Ok(RunDuration::Forever),
        finite => crate::scenario::parse_duration(finite)
            .map(RunDuration::For)
            .map_err(|e| format!("{e}, or inf")),
    }
}

/// What GenAI observability backends (Phoenix and other OpenInference tools) look for.
#[derive(Debug, Args)]
#[command(next_help_heading = "GenAI backends")]
pub struct GenAiArgs {
    /// Project the traces belong to (resource attribute `openinference.project.name`, which
    /// Phoenix routes by) [default: the backend's default project]
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
    /// Add message content: prompts and completions (`gen_ai.input.messages`,
    /// `gen_ai.output.messages`), tool call arguments and results, `input.value`/`output.value`
    #[arg(long)]
    pub content: bool,
}

/// How and where telemetry is exported (each flag overrides its OTEL_EXPORTER_OTLP_* variable).
#[derive(Debug, Args)]
#[command(next_help_heading = "Export")]
pub struct ExportArgs {
    /// OTLP protocol (also OTEL_EXPORTER_OTLP_PROTOCOL) [default: http/protobuf]
    #[arg(long, value_name = "PROTOCOL", value_parser = ["http/protobuf", "http/json", "grpc"])]
    pub protocol: Option<String>,
    /// Compress requests (also OTEL_EXPORTER_OTLP_COMPRESSION) [default: none]
    #[arg(long, value_name = "ALGORITHM", value_parser = ["gzip", "none"])]
    pub compression: Option<String>,
    /// Extra request header or gRPC metadata, e.g. authorization=Bearer x (repeatable; also OTEL_EXPORTER_OTLP_HEADERS)
    #[arg(long = "header", value_name = "KEY=VALUE")]
    pub headers: Vec<String>,
    /// Send each tenant's data in requests of its own, naming the tenant in this header or gRPC
    /// metadata key, e.g. X-Scope-OrgID
    #[arg(long, value_name = "NAME")]
    pub tenant_header: Option<String>,
    /// Time limit of one request, e.g. 10s or 500ms (also OTEL_EXPORTER_OTLP_TIMEOUT, in ms) [default: 10s]
    #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
    pub timeout: Option<Duration>,
    /// gRPC endpoints given as host:port use plaintext instead of TLS (also OTEL_EXPORTER_OTLP_INSECURE)
    #[arg(long)]
    pub insecure: bool,
    /// PEM file of CA certificates to trust besides the system's (also OTEL_EXPORTER_OTLP_CERTIFICATE)
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// PEM client certificate for mutual TLS (also OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE)
    #[arg(long, value_name = "FILE")]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of --client-cert (also OTEL_EXPORTER_OTLP_CLIENT_KEY)
    #[arg(long, value_name = "FILE")]
    pub client_key: Option<PathBuf>,
    /// Give up on an endpoint that has accepted nothing for this long (and on a request retried this long), e.g. 60s or 2m
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_interval)]
    pub retry_max_elapsed: Duration,
    /// Requests in flight at once
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub exporters: u16,
    /// Spans per request at most
    #[arg(long, value_name = "N", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,
    /// Encoded bytes per request at most (before compression); whole traces are kept together when they fit
    #[arg(long, value_name = "BYTES", default_value_t = 1024 * 1024, value_parser = clap::value_parser!(u32).range(1024..))]
    pub batch_bytes: u32,
    /// Write OTLP/JSON lines to FILE (`-`: stdout) instead of sending, or `null` to encode and
    /// discard (also --output-file, the original's name)
    #[arg(
        long,
        alias = "output-file",
        value_name = "FILE|-|null",
        conflicts_with = "local_sink"
    )]
    pub output: Option<PathBuf>,
    /// Write the run's summary (per signal: generated, accepted, rejected, dropped, ...) as JSON to FILE (`-` or /dev/stdout: to stdout, and the human summary to stderr)
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Exit 0 even if some telemetry was rejected or dropped (it is still reported)
    #[arg(long)]
    pub allow_export_failures: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Folder of scenario YAML files [default: the bundled samples]
    #[arg(long, value_name = "DIR")]
    pub scenarios_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario files or folders [default: --scenarios-dir, else the bundled samples]
    #[arg(value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,
    /// Folder of scenario YAML files, when no path is given
    #[arg(long, value_name = "DIR")]
    pub scenarios_dir: Option<PathBuf>,
    /// Reject scenarios whose worst-case trace has more spans than this
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_spans_per_trace: u64,
    /// Print the schema's span types and attribute counts
    #[arg(long)]
    pub show_schema: bool,
    /// Print the schema's span definitions
    #[arg(long)]
    pub show_spans: bool,
    /// Print the schema's canonical metrics
    #[arg(long)]
    pub show_metrics: bool,
    /// How to print the findings: text for people, json for editors and CI
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Count every warning as an error (exit 2), e.g. a schema file's problems that are
    /// otherwise worked around as the Python original did
    #[arg(long)]
    pub strict: bool,
}

/// How `validate` and `check` print what they found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The scenario's name (its file name without .yaml)
    #[arg(long)]
    pub name: String,
    /// Folder of scenario YAML files [default: the bundled samples]
    #[arg(long, value_name = "DIR")]
    pub scenarios_dir: Option<PathBuf>,
    /// Iterations to simulate (the same as the first N of a run with the same seed)
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub samples: u64,
    /// Seed of the random streams, as for `scenario`
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// How to print the report: text for people, json for scripts
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Also draw latency histograms and a typical trace's waterfall into this .svg or .html file
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Reject scenarios whose worst-case trace has more spans than this
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_spans_per_trace: u64,
}

#[derive(Debug, Args)]
pub struct SinkArgs {
    /// Address to listen on for OTLP/HTTP
    #[arg(long, default_value = "127.0.0.1:4318")]
    pub listen: SocketAddr,
    /// Address to listen on for OTLP/gRPC
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4317")]
    pub grpc_listen: SocketAddr,
    /// Do not serve OTLP/gRPC
    #[arg(long)]
    pub no_grpc: bool,
    /// Write the bound HTTP port to this file once listening (useful with port 0)
    #[arg(long, value_name = "FILE")]
    pub port_file: Option<PathBuf>,
    /// Write the bound gRPC port to this file once listening
    #[arg(long, value_name = "FILE")]
    pub grpc_port_file: Option<PathBuf>,
    /// Write the final summary as JSON to this file (`-` or /dev/stdout: to stdout, and the human summary to stderr)
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Write every accepted request as one line of OTLP/JSON to this file
    #[arg(long, value_name = "FILE")]
    pub dump: Option<PathBuf>,
    /// Fail the first N requests (to test exporters' retries)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub fail_first: u64,
    /// HTTP status of the failed requests; gRPC gets the matching code
    #[arg(long, value_name = "CODE", default_value_t = 503, value_parser = clap::value_parser!(u16).range(400..600))]
    pub fail_status: u16,
    /// Ask clients to retry after this many seconds (Retry-After, gRPC RetryInfo) when failing
    #[arg(long, value_name = "SECONDS")]
    pub retry_after: Option<u64>,
    /// Count the items of OTLP/HTTP protobuf requests without decoding or checking them, so
    /// that the sink costs far less than the sender it measures (gRPC is still decoded)
    #[arg(long)]
    pub count_only: bool,
    /// Wait this long before answering each request
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency: u64,
    /// Print the distinct request headers seen in the summary (credentials redacted)
    #[arg(long)]
    pub show_headers: bool,
    /// Count requests per value of this header (the senders' --tenant-header) beside the
    /// tenant.id of their resources, and report requests whose header and data disagree
    #[arg(long, value_name = "NAME")]
    pub tenant_header: Option<String>,
    /// Refuse (413 / RESOURCE_EXHAUSTED) bodies larger than this, before or after gzip
    #[arg(long, value_name = "BYTES", default_value_t = crate::sink::MAX_BODY_BYTES)]
    pub max_body: usize,
    /// Refuse requests holding more messages than this (resources, scopes, spans, attributes,
    /// values, data points, log records, ...), counted before decoding
    #[arg(long, value_name = "N", default_value_t = crate::sink::SinkLimits::default().max_items)]
    pub max_items: u64,
    /// Refuse requests that would take more memory than this once decoded, estimated before
    /// decoding
    #[arg(long, value_name = "BYTES", default_value_t = crate::sink::SinkLimits::default().max_decoded_bytes)]
    pub max_decoded_bytes: u64,
    /// Requests decompressed and decoded at once (others wait) [default: the number of cores,
    /// at least 2]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_concurrent_decodes: Option<u32>,
    /// Connections served at once, both ports together; at the cap, a new one replaces the
    /// oldest that has not yet sent a whole request head, or else waits
    #[arg(long, value_name = "N", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Close connections that have not sent a request's headers within this time (also idle
    /// HTTP/1.1 keep-alive connections; HTTP/2 peers must answer pings within it)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_interval)]
    pub header_timeout: Duration,
    /// Answer 408 (DEADLINE_EXCEEDED over gRPC) to requests whose body has not arrived within
    /// this time
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_interval)]
    pub body_timeout: Duration,
    /// No live progress line
    #[arg(long, short)]
    pub quiet: bool,
}

/// The command line with a repeated program name dropped: container images of the original tool
/// were run as `IMAGE telemetry-simulator scenario ...`, which with this image's entrypoint
/// arrives here as `telemetry-simulator telemetry-simulator scenario ...`.
pub fn args_os() -> Vec<std::ffi::OsString> {
    strip_repeated_name(std::env::args_os().collect())
}

fn strip_repeated_name(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    if args.get(1).is_some_and(|a| a == "telemetry-simulator") {
        args.remove(1);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn a_repeated_program_name_is_dropped() {
        let args = |v: &[&str]| v.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert_eq!(
            strip_repeated_name(args(&["/bin/ts", "telemetry-simulator", "list"])),
            args(&["/bin/ts", "list"])
        );
        assert_eq!(
            strip_repeated_name(args(&["/bin/ts", "list"])),
            args(&["/bin/ts", "list"])
        );
    }

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn metric_intervals_take_units() {
        let ms = Duration::from_millis;
        assert_eq!(parse_interval("200ms"), Ok(ms(200)));
        assert_eq!(parse_interval("10s"), Ok(ms(10_000)));
        assert_eq!(parse_interval("1.5s"), Ok(ms(1500)));
        assert_eq!(parse_interval("2m"), Ok(ms(120_000)));
        assert_eq!(parse_interval("750"), Ok(ms(750)));
        for bad in ["0", "0s", "-1s", "10x", "s", "", "2d", "1e3"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pacing_values_parse() {
        assert_eq!(parse_run_duration("inf"), Ok(RunDuration::Forever));
        assert_eq!(
            parse_run_duration("2h"),
            Ok(RunDuration::For(Duration::from_secs(7200)))
        );
        assert!(parse_run_duration("-1s").is_err());
        assert_eq!(parse_shard("1/4"), Ok(Shard { index: 1, count: 4 }));
        assert!(parse_shard("4/4").is_err());
        assert_eq!(
            parse_mix("a=3, b=1"),
            Ok(MixWeights(vec![("a".into(), 3.0), ("b".into(), 1.0)]))
        );
    }

    #[test]
    fn global_options_work_before_and_after_the_subcommand() {
        for args in [
            vec!["ts", "--endpoint", "http://x:1", "list"],
            vec!["ts", "list", "--endpoint", "http://x:1"],
        ] {
            let cli = Cli::try_parse_from(args).unwrap();
            assert_eq!(cli.endpoint.as_deref(), Some("http://x:1"));
        }
    }
}
