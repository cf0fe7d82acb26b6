//! `check`: simulate a scenario and report what it would send, as a table, JSON, and a plot.
//!
//! The plan is compiled exactly as `scenario` compiles it (same prefix, schema and service name),
//! because schema attributes drawn at random consume the same random streams; only the tenant is
//! a placeholder, and tenants never draw random numbers. So `check --seed S --samples N` reports
//! the first N iterations that `scenario --seed S --count N` sends.

use super::args::OutputFormat;
use super::out::{out, outln};
use super::{Cli, config};
use super::{Outcome, env, load_failed, load_options, load_schema, print_warnings};
use crate::check::{self, plot};
use crate::generate::{Plan, PlanOptions};
use crate::interrupt::Interrupt;
use crate::scenario::Library;
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The scenario's name (its file name without .yaml)
    #[arg(long)]
    pub name: String,
    /// Folder of scenario YAML files [default: the bundled samples]
    #[arg(long, value_name = "DIR")]
    pub scenarios_dir: Option<PathBuf>,
    /// Iterations to simulate (the same as the first N of a run with the same seed)
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = parse_samples)]
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

/// `--samples`: at least one iteration.
fn parse_samples(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("--samples must be at least 1".into()),
    }
}

pub fn check(cli: &Cli, args: &CheckArgs) -> Outcome {
    let options = load_options(args.max_spans_per_trace);
    let library = Library::new(args.scenarios_dir.clone());
    let scenario = match library.load(&args.name, &options) {
        Ok((scenario, warnings)) => {
            print_warnings(&warnings);
            scenario
        }
        Err(error) => return load_failed(&error),
    };
    let schema = match load_schema(cli.schema_path.as_deref(), &options.prefix) {
        Ok(schema) => Arc::new(schema),
        Err(outcome) => return outcome,
    };
    let scenario = match super::with_prices(cli, std::slice::from_ref(&scenario)) {
        Ok(mut priced) => priced.remove(0),
        Err(outcome) => return outcome,
    };
    let plan = Plan::compile(
        &scenario,
        &PlanOptions {
            prefix: options.prefix.clone(),
            tenants: vec!["check".into()],
            schema: Some(schema),
            service_name: config::service_name(cli.service_name.as_deref(), &env),
            // Message content has its own random stream and no bearing on the numbers reported.
            content: false,
            profile: Default::default(),
        },
    );
    // Ctrl-C stops the simulation; what was simulated is still reported (then exit 130).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return Outcome::Failure;
        }
    };
    let interrupt = match Interrupt::install(runtime.handle()) {
        Ok(interrupt) => interrupt,
        Err(error) => {
            eprintln!("error: cannot install signal handlers: {error}");
            return Outcome::Failure;
        }
    };
    let report = check::check(&scenario, &plan, args.seed, args.samples, &|| {
        interrupt.requested()
    });
    if interrupt.requested() {
        eprintln!(
            "Interrupted: the report covers the first {} of {} iterations.",
            report.samples, args.samples
        );
    }
    match args.format {
        OutputFormat::Json => match serde_json::to_string_pretty(&report.to_json()) {
            Ok(text) => outln!("{text}"),
            Err(error) => {
                eprintln!("error: cannot print the report: {error}");
                return Outcome::Failure;
            }
        },
        OutputFormat::Text => out!("{}", report.render()),
    }
    if let Some(path) = &args.plot {
        if let Err(error) = plot::write(&report, path) {
            eprintln!("error: {error}");
            return match error {
                plot::PlotError::Extension(_) => Outcome::Usage,
                _ => Outcome::Failure,
            };
        }
        eprintln!("Plot written to {}", path.display());
    }
    match interrupt.exit_status() {
        Some(status) => Outcome::Interrupted(status),
        None => Outcome::Success,
    }
}
