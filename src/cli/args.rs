//! The argument groups several commands share (generation, pacing, export, metrics and logs,
//! GenAI backends), and the `value_parser` functions that check each value where it is parsed,
//! so that a bad value is a clap usage error (exit 2) naming its flag, rather than a check in
//! the command after other work has begun. Each command's own arguments are in its file.

use crate::workload::Shard;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

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
pub(super) fn parse_interval(text: &str) -> Result<Duration, String> {
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
    #[arg(long, value_name = "DURATION", value_parser = parse_window, conflicts_with_all = ["rate", "duration"])]
    pub backfill: Option<Duration>,
    /// Pin the run's start instant, as RFC 3339 (2026-01-01T00:00:00Z) or Unix seconds
    /// (1767225600): every timestamp then derives from it and the schedule, never the clock, so
    /// the same --seed gives byte-identical --output. A --backfill window starts there
    /// [default: now; a backfill's window ends now]
    #[arg(long, value_name = "TIME", value_parser = super::config::parse_start_time)]
    pub start_time: Option<u64>,
    /// Take shard K of N (0-based): every N-th iteration of the same global sequence, so shards
    /// never overlap and together equal the unsharded run
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// The number of shards, with K from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)
    #[arg(long, value_name = "N", conflicts_with = "shard")]
    pub shards: Option<u64>,
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

/// `--backfill`: a window of the past, such as `24h` (not `inf`).
fn parse_window(text: &str) -> Result<Duration, String> {
    match parse_run_duration(text)? {
        RunDuration::For(window) => Ok(window),
        RunDuration::Forever => Err("--backfill needs a window such as 24h".into()),
    }
}

/// `--interval`: milliseconds between iterations, 0 or more.
pub(super) fn parse_interval_ms(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(ms) if ms.is_finite() && ms >= 0.0 => Ok(ms),
        _ => Err("--interval must be a number of milliseconds ≥ 0".into()),
    }
}

/// `--tenant-header`: a name an HTTP header (and gRPC metadata key) can have.
pub(super) fn parse_header_name(text: &str) -> Result<String, String> {
    match axum::http::HeaderName::from_bytes(text.as_bytes()) {
        Ok(_) => Ok(text.to_string()),
        Err(_) => Err(format!(
            "--tenant-header {text:?} is not a valid header name"
        )),
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
    /// Which GenAI semantic conventions the spans follow: `seed` (what this tool has always sent)
    /// or `genai-latest` (semantic-conventions-genai: invoke_agent INTERNAL, MCP session and
    /// JSON-RPC ids, the scope's schema URL; see docs/compatibility.md). Also
    /// TELEMETRY_SIMULATOR_SEMCONV, or OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental
    /// [default: seed]
    #[arg(long, value_name = "PROFILE", value_parser = super::semconv::parse_semconv)]
    pub semconv: Option<crate::conventions::Semconv>,
    /// Span names: `vendor` (vendor.llm.call, ...) or `conventions` (chat gpt-4.1-mini,
    /// execute_tool get_weather, invoke_agent booking-agent, ...). Also
    /// TELEMETRY_SIMULATOR_SPAN_NAMES [default: vendor]
    #[arg(long, value_name = "NAMES", value_parser = super::semconv::parse_span_names)]
    pub span_names: Option<crate::conventions::SpanNames>,
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
    #[arg(long, value_name = "NAME", value_parser = parse_header_name)]
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

/// How `validate` and `check` print what they found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(parse_window("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(
            parse_window("inf"),
            Err("--backfill needs a window such as 24h".into())
        );
        assert_eq!(parse_interval_ms(" 0 "), Ok(0.0));
        assert_eq!(parse_interval_ms("2.5"), Ok(2.5));
        for bad in ["-1", "NaN", "inf", "x", ""] {
            assert_eq!(
                parse_interval_ms(bad),
                Err("--interval must be a number of milliseconds ≥ 0".into()),
                "{bad}"
            );
        }
        assert_eq!(
            parse_header_name("X-Scope-OrgID"),
            Ok("X-Scope-OrgID".into())
        );
        assert!(
            parse_header_name("X Bad")
                .unwrap_err()
                .contains("\"X Bad\" is not a valid header name")
        );
    }
}
