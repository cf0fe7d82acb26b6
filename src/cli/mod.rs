//! The edge: the command line (clap definitions), the settings it and the environment give, and
//! one file per command, where library errors meet the user.
//!
//! `main` parses [`Cli`], calls [`run`] and exits with the [`Outcome`]'s status: 0 when everything
//! asked for happened, 1 when something failed at run time (data not accepted, an endpoint gone),
//! 2 for a usage or scenario error. Each command's file maps its arguments to the library's
//! settings, calls the library, prints, and returns the outcome; messages are printed here, once,
//! with their context, and the library below only returns typed errors. Nothing below imports
//! this module. Values are checked where they are parsed (clap `value_parser` functions in
//! [`args`], typed [`config::ConfigError`]s from flags + environment), not in the commands; the
//! alternative, one function checking every value before a run (as `commands.rs::generate` once
//! did), made every new flag go through it.
//!
//! Global options (`--endpoint`, `--schema-path`, `--service-name`) are declared `global`, so they
//! work before or after the subcommand (the original silently ignored them before it). Defaults
//! that depend on the environment are resolved later, in [`config`], so that `--help` never needs
//! a tenant variable and the precedence rules live in one tested place.

use crate::scenario::{Diagnostics, LoadError, LoadOptions};
use crate::schema::Schema;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};

pub mod args;
mod check;
pub mod config;
mod export;
mod generate;
mod import;
mod list;
pub mod manual;
pub mod out;
mod run;
mod scenario;
mod schema;
pub mod semconv;
mod sink;
mod validate;

pub use args::OutputFormat;
pub use check::CheckArgs;
pub use import::ImportArgs;
pub use list::ListArgs;
pub use manual::CompletionsArgs;
pub use run::{MixWeights, RunArgs};
pub use scenario::ScenarioArgs;
pub use sink::SinkArgs;
pub use validate::ValidateArgs;

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

    /// YAML file of model timing and prices, as a scenario's `models:` map, over both the bundled table and the scenarios' own (also TELEMETRY_SIMULATOR_PRICES)
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "TELEMETRY_SIMULATOR_PRICES"
    )]
    pub prices: Option<PathBuf>,

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
    /// Fit recorded traces (OTLP/JSON, OTLP protobuf, Jaeger JSON) into scenarios
    Import(ImportArgs),
    /// Print the JSON Schema of the scenario format (for editors and CI)
    Schema,
    /// Print a shell completion script (docs/cli.md says where to put it)
    #[command(hide = true)]
    Completions(CompletionsArgs),
    /// Print the man page (roff), generated from this command line
    #[command(hide = true)]
    Man,
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

/// How a command ended, and so the process's exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Success,
    Failure,
    Usage,
    /// Stopped by a signal: 128 + its number (130 for Ctrl-C, 143 for SIGTERM).
    Interrupted(u8),
}

impl Outcome {
    pub fn exit_status(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::Failure => 1,
            Outcome::Usage => 2,
            Outcome::Interrupted(status) => status,
        }
    }
}

/// Runs the command `cli` names.
pub fn run(cli: Cli) -> Outcome {
    let outcome = match &cli.command {
        Command::Scenario(args) => scenario::scenario(&cli, args),
        Command::Run(args) => run::run(&cli, args),
        Command::List(args) => list::list(args),
        Command::Validate(args) => validate::validate(&cli, args),
        Command::Sink(args) => sink::sink(args),
        Command::Check(args) => check::check(&cli, args),
        Command::Import(args) => import::import(&cli, args),
        Command::Schema => schema::print_json_schema(),
        Command::Completions(args) => manual::completions(args.shell),
        Command::Man => manual::man(),
    };
    // Output written with `out!` and no newline may still be buffered.
    out::flush();
    outcome
}

fn env(name: &str) -> Option<String> {
    config::process_env(name)
}

fn load_options(max_spans_per_trace: u64) -> LoadOptions {
    LoadOptions {
        prefix: config::attr_prefix(&env),
        max_spans_per_trace,
    }
}

/// The schema at `path`, else the bundled one, with its names under the configured prefix.
/// `scenarios` with the `--prices` file's models over their own (as given when there is none).
fn with_prices(
    cli: &Cli,
    scenarios: &[crate::scenario::Scenario],
) -> Result<Vec<crate::scenario::Scenario>, Outcome> {
    let Some(path) = &cli.prices else {
        return Ok(scenarios.to_vec());
    };
    match crate::scenario::load_models(path) {
        Ok(ref models) if let Some(like) = unknown_like(models) => {
            eprintln!(
                "error: {}: `like: {like}` is neither a bundled model nor a profile (see `validate --prices`)",
                path.display()
            );
            Err(Outcome::Usage)
        }
        Ok(models) => Ok(scenarios
            .iter()
            .map(|s| crate::scenario::with_models(s, &models))
            .collect()),
        Err(crate::scenario::PricesError::Invalid(d)) => {
            eprintln!("{d}");
            Err(Outcome::Usage)
        }
        Err(error) => {
            eprintln!("error: {error}");
            Err(Outcome::Usage)
        }
    }
}

/// The first `like:` among `models` that names neither a bundled model nor a profile.
fn unknown_like(models: &[crate::scenario::ModelSpec]) -> Option<&str> {
    use crate::conventions::models::{lookup, profile};
    models
        .iter()
        .filter_map(|m| m.like.as_deref())
        .find(|like| profile(like).is_none() && lookup(like).is_none())
}

fn load_schema(path: Option<&Path>, prefix: &str) -> Result<Schema, Outcome> {
    let schema = match path {
        Some(path) => crate::schema::load(path).map_err(|error| {
            match &error {
                crate::schema::SchemaError::Invalid(d) => eprintln!("{d}"),
                other => eprintln!("error: {other}"),
            }
            Outcome::Usage
        })?,
        None => crate::schema::bundled(),
    };
    print_schema_warnings(&schema);
    Ok(schema.with_prefix(prefix))
}

/// How many of a schema file's warnings `scenario` and `run` print; `validate` prints them all.
const SCHEMA_WARNINGS_SHOWN: usize = 3;

/// A schema file's warnings, compactly: a count, the first few on one line each, and where to see
/// the rest. Schema files written for the original tool have several each, and the full form
/// (source line, caret, help) would bury the run's own output.
fn print_schema_warnings(schema: &Schema) {
    let warnings = &schema.warnings.0;
    if warnings.is_empty() {
        return;
    }
    eprintln!(
        "warning: schema {}: {} problem(s) worked around, as the original tool did:",
        schema.source,
        warnings.len()
    );
    for w in warnings.iter().take(SCHEMA_WARNINGS_SHOWN) {
        let at = w
            .mark
            .map(|m| format!(":{}:{}", m.line, m.column))
            .unwrap_or_default();
        eprintln!("  {}{at}: {}: {}", w.file, w.path, w.message);
    }
    if warnings.len() > SCHEMA_WARNINGS_SHOWN {
        eprintln!("  ... and {} more", warnings.len() - SCHEMA_WARNINGS_SHOWN);
    }
    eprintln!(
        "  `telemetry-simulator validate --show-schema --schema-path {}` shows each with its fix; `--strict` makes them errors",
        schema.source
    );
}

fn print_warnings(diagnostics: &Diagnostics) {
    for warning in &diagnostics.0 {
        eprintln!("{warning}");
    }
}

fn load_failed(error: &LoadError) -> Outcome {
    eprintln!("{}", error_text(error));
    match error {
        LoadError::Io { .. } => Outcome::Failure,
        LoadError::NotFound { .. } | LoadError::Invalid(_) => Outcome::Usage,
    }
}

fn error_text(error: &LoadError) -> String {
    match error {
        LoadError::Invalid(d) => d.to_string(),
        other => format!("error: {other}"),
    }
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
