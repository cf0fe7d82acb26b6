//! The command line, as clap definitions only.
//!
//! Global options (`--endpoint`, `--schema-path`, `--service-name`) are declared `global`, so they
//! work before or after the subcommand (the original silently ignored them before it). Defaults
//! that depend on the environment are resolved later, in `config`, so that `--help` never needs a
//! tenant variable and the precedence rules live in one tested place.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "telemetry-simulator",
    version,
    about = "Generate realistic OpenTelemetry traces for LLM-agent systems from YAML scenarios and send them over OTLP",
    after_help = "Environment: TENANT_UUID or TELEMETRY_TENANT_UUIDS (+ TELEMETRY_TENANT_WEIGHTS) choose tenants; \
TELEMETRY_SIMULATOR_ATTR_PREFIX sets the attribute prefix (default vendor); OTEL_EXPORTER_OTLP_ENDPOINT, \
OTLP_HTTP_ENDPOINT and OTEL_SERVICE_NAME work as in the OpenTelemetry SDKs."
)]
pub struct Cli {
    /// OTLP/HTTP endpoint; `/v1/traces` is appended [default: http://localhost:4318]
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
}

#[derive(Debug, Args)]
pub struct ScenarioArgs {
    /// The scenario's name (its file name without .yaml)
    #[arg(long)]
    pub name: String,
    /// Traces to generate [default: the scenario's repeat_count]
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
    /// Traces to generate
    #[arg(long, default_value_t = 100)]
    pub count: u64,
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
    /// Print one line per trace
    #[arg(long)]
    pub show_spans: bool,
    /// Print every span of every trace with all its attributes
    #[arg(long)]
    pub show_full_spans: bool,
    /// Reject scenarios whose worst-case trace has more spans than this
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_spans_per_trace: u64,
    /// Start the built-in sink in this process, send to it, and print what it received
    #[arg(long)]
    pub local_sink: bool,
    /// Print only the final summary
    #[arg(long, short)]
    pub quiet: bool,
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
    /// Seed of the random streams, as for `scenario` [default: 0]
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
    /// Write the bound port to this file once listening (useful with port 0)
    #[arg(long, value_name = "FILE")]
    pub port_file: Option<PathBuf>,
    /// Write the final summary as JSON to this file
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// No live progress line
    #[arg(long, short)]
    pub quiet: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
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
