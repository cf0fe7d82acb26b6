//! `check`: simulate a scenario and report what it would send, as a table, JSON, and a plot.
//!
//! The plan is compiled exactly as `scenario` compiles it (same prefix, schema and service name),
//! because schema attributes drawn at random consume the same random streams; only the tenant is
//! a placeholder, and tenants never draw random numbers. So `check --seed S --samples N` reports
//! the first N iterations that `scenario --seed S --count N` sends.

use super::out::{out, outln};
use super::{Outcome, env, load_failed, load_options, load_schema, print_warnings};
use crate::check::{self, plot};
use crate::cli::{CheckArgs, Cli, OutputFormat};
use crate::config;
use crate::generate::{Plan, PlanOptions};
use crate::interrupt::Interrupt;
use crate::scenario::Library;
use std::sync::Arc;

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
    if args.samples == 0 {
        eprintln!("error: --samples must be at least 1");
        return Outcome::Usage;
    }
    let schema = match load_schema(cli.schema_path.as_deref(), &options.prefix) {
        Ok(schema) => Arc::new(schema),
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
