//! What each subcommand does: the edge where library errors meet the user.
//!
//! Each command returns an [`Outcome`] that `main` turns into the exit status: 0 when everything
//! asked for happened, 1 when something failed at run time (data not accepted, an endpoint gone),
//! 2 for a usage or scenario error. Messages are printed here, once, with their context; the
//! library below only returns typed errors.

use crate::cli::{
    ArrivalsArg, Cli, Command, GenerateArgs, ListArgs, MetricsTemporality, PaceArgs, RunArgs,
    RunDuration, ScenarioArgs, SinkArgs,
};
use crate::config::{self, Tenants};
use crate::encode::Signal;
use crate::encode::common::BatchLimits;
use crate::export::exporter::RetryPolicy;
use crate::export::transport::{Output, Transports};
use crate::generate::metrics::Temporality;
use crate::generate::{Plan, PlanOptions};
use crate::interrupt::Interrupt;
use crate::scenario::{Diagnostics, Library, LoadError, LoadOptions, Scenario};
use crate::schema::{self, Schema};
use crate::sink::faults::Faults;
use crate::sink::{PortFiles, SinkHandle, SinkLimits, SinkOptions};
use crate::workload::{self, Arrivals, Mix, Pace, Pattern, RunSettings, Show, SignalSettings};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

mod check;
mod export;
mod json_schema;
pub mod out;
mod validate;

use out::{out, outln};

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

pub fn run(cli: Cli) -> Outcome {
    let outcome = match &cli.command {
        Command::Scenario(args) => scenario(&cli, args),
        Command::Run(args) => run_mixed(&cli, args),
        Command::List(args) => list(args),
        Command::Validate(args) => validate::validate(&cli, args),
        Command::Sink(args) => sink(args),
        Command::Check(args) => check::check(&cli, args),
        Command::Schema => json_schema::print_json_schema(),
        Command::Completions(args) => crate::manual::completions(args.shell),
        Command::Man => crate::manual::man(),
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
fn load_schema(path: Option<&Path>, prefix: &str) -> Result<Schema, Outcome> {
    let schema = match path {
        Some(path) => schema::load(path).map_err(|error| {
            match &error {
                schema::SchemaError::Invalid(d) => eprintln!("{d}"),
                other => eprintln!("error: {other}"),
            }
            Outcome::Usage
        })?,
        None => schema::bundled(),
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

fn scenario(cli: &Cli, args: &ScenarioArgs) -> Outcome {
    let options = load_options(args.generate.max_spans_per_trace);
    let library = Library::new(args.generate.scenarios_dir.clone());
    let scenario = match library.load(&args.name, &options) {
        Ok((scenario, warnings)) => {
            print_warnings(&warnings);
            scenario
        }
        Err(error) => return load_failed(&error),
    };
    // `--count 0` meant "the scenario's repeat_count" in the original: so it does here.
    let count = args
        .count
        .filter(|&n| n > 0)
        .unwrap_or(if args.generate.pace.duration.is_some() {
            u64::MAX
        } else {
            scenario.repeat_count
        });
    let interval = args.interval.unwrap_or(scenario.interval_ms);
    generate(cli, &args.generate, &[scenario], count, interval)
}

fn run_mixed(cli: &Cli, args: &RunArgs) -> Outcome {
    if args.count == Some(0) {
        eprintln!(
            "error: run --count 0 would send nothing; give a number of traces, or --duration to run for a time"
        );
        return Outcome::Usage;
    }
    let options = load_options(args.generate.max_spans_per_trace);
    let library = Library::new(args.generate.scenarios_dir.clone());
    let files = match library.files() {
        Ok(files) => files,
        Err(error) => return load_failed(&error),
    };
    let mut scenarios = Vec::new();
    let mut failed = false;
    for file in &files {
        match file.decode(&options) {
            Ok((scenario, warnings)) => {
                print_warnings(&warnings);
                scenarios.push(scenario);
            }
            Err(diagnostics) => {
                eprintln!("{diagnostics}");
                failed = true;
            }
        }
    }
    if failed {
        return Outcome::Usage;
    }
    if !args.tags.is_empty() {
        scenarios.retain(|s| s.tags.iter().any(|t| args.tags.contains(t)));
    }
    if let Some(crate::cli::MixWeights(mix)) = &args.mix {
        for (name, _) in mix {
            if !scenarios.iter().any(|s| &s.name == name) {
                eprintln!("error: --mix names `{name}`, which is not among the scenarios to run");
                return Outcome::Usage;
            }
        }
        for scenario in &mut scenarios {
            scenario.weight = mix
                .iter()
                .find(|(n, _)| *n == scenario.name)
                .map_or(0.0, |(_, w)| *w);
        }
        scenarios.retain(|s| s.weight > 0.0);
    }
    if scenarios.is_empty() {
        eprintln!("error: no scenarios in {library}");
        return Outcome::Usage;
    }
    let count = args
        .count
        .unwrap_or(if args.generate.pace.duration.is_some() {
            u64::MAX
        } else {
            100
        });
    generate(cli, &args.generate, &scenarios, count, args.interval)
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

/// Generates `count` iterations over `scenarios` (weighted by their `weight`) and exports them.
fn generate(
    cli: &Cli,
    args: &GenerateArgs,
    scenarios: &[Scenario],
    count: u64,
    interval_ms: f64,
) -> Outcome {
    let (tenants, shard) = match check_run_args(args, interval_ms) {
        Ok(checked) => checked,
        Err(outcome) => return outcome,
    };
    let prefix = config::attr_prefix(&env);
    let schema = match load_schema(cli.schema_path.as_deref(), &prefix) {
        Ok(schema) => Arc::new(schema),
        Err(outcome) => return outcome,
    };
    let seed = args.seed.unwrap_or_else(workload::fresh_seed);
    let service_name = config::service_name(cli.service_name.as_deref(), &env);
    let plan_options = PlanOptions {
        prefix: prefix.clone(),
        tenants: tenants.ids.clone(),
        schema: Some(schema.clone()),
        service_name: service_name.clone(),
        content: args.genai.content,
    };
    let plans: Vec<Plan> = scenarios
        .iter()
        .map(|s| Plan::compile(s, &plan_options))
        .collect();
    let (runtime, interrupt) = match start_runtime() {
        Ok(started) => started,
        Err(outcome) => return outcome,
    };
    let local_sink = match start_local_sink(args, &runtime) {
        Ok(sink) => sink,
        Err(outcome) => return outcome,
    };
    let (output, transports) = match open_output(cli, args, local_sink.as_ref(), &runtime) {
        Ok(opened) => opened,
        Err(outcome) => return outcome,
    };
    let resource = run_resource(args, &prefix, &service_name, seed, &schema);
    let settings = run_settings(
        args,
        scenarios,
        interval_ms,
        (seed, count, shard),
        tenants,
        resource,
    );
    if settings.show != Show::Nothing && settings.workers > 1 && !args.quiet {
        eprintln!(
            "note: --show-spans prints traces in order, so this run uses 1 worker instead of {}",
            settings.workers
        );
    }
    let mix = match plans.as_slice() {
        [one] => Mix::One(one),
        many => Mix::Weighted(
            many.iter()
                .zip(scenarios)
                .map(|(p, s)| (p, s.weight))
                .collect(),
        ),
    };
    if !args.quiet {
        eprintln!(
            "{}",
            start_line(&plans, &settings, &output.describe(Signal::Traces))
        );
    }
    let summary = workload::run(&mix, &settings, &runtime, transports, &interrupt);
    let outcome = report(args, &summary, &output);
    if let Some(sink) = local_sink {
        let received = runtime.block_on(sink.shutdown()).render();
        // One heading: the sink's own ("sink received:") gives way to this one.
        let body = received
            .strip_prefix("sink received:\n")
            .unwrap_or(&received);
        outln!("\nThe local sink received:\n{body}");
    }
    // Do not wait for requests the exporter gave up on.
    runtime.shutdown_timeout(Duration::from_millis(100));
    match interrupt.exit_status() {
        Some(status) => Outcome::Interrupted(status),
        None => outcome,
    }
}

/// The checks made before anything starts: the tenants (with a warning when two variables
/// disagree), the tenant header, the interval, the shard and the backfill window.
fn check_run_args(
    args: &GenerateArgs,
    interval_ms: f64,
) -> Result<(Tenants, Option<crate::cli::Shard>), Outcome> {
    let tenants = Tenants::resolve(&args.tenants, &env).map_err(|error| {
        eprintln!("error: {error}");
        Outcome::Usage
    })?;
    // With `--tenants`, neither variable is used: nothing to warn about.
    if args.tenants.is_empty() {
        for warning in config::tenant_warnings(&env) {
            eprintln!("{warning}");
        }
    }
    if let Some(header) = &args.export.tenant_header
        && let Some(bad) = tenants
            .ids
            .iter()
            .find(|t| reqwest::header::HeaderValue::from_str(t).is_err())
    {
        eprintln!(
            "error: tenant id {bad:?} cannot be the value of --tenant-header {header}: use visible ASCII"
        );
        return Err(Outcome::Usage);
    }
    if !(interval_ms.is_finite() && interval_ms >= 0.0) {
        eprintln!("error: --interval must be a number of milliseconds ≥ 0");
        return Err(Outcome::Usage);
    }
    if matches!(args.pace.backfill, Some(RunDuration::Forever)) {
        eprintln!("error: --backfill needs a window such as 24h");
        return Err(Outcome::Usage);
    }
    if args.export.output.as_deref() == Some(Path::new("-"))
        && args
            .export
            .summary_json
            .as_deref()
            .is_some_and(crate::files::is_stdout)
    {
        eprintln!(
            "error: --output - and --summary-json to stdout would mix on stdout: send one to a file"
        );
        return Err(Outcome::Usage);
    }
    let shard = match (args.pace.shard, args.pace.shards) {
        (Some(shard), _) => Some(shard),
        (None, Some(count)) => {
            let index = env("JOB_COMPLETION_INDEX").and_then(|i| i.trim().parse::<u64>().ok());
            match index {
                Some(index) if count > 0 && index < count => {
                    Some(crate::cli::Shard { index, count })
                }
                _ => {
                    eprintln!(
                        "error: --shards {count} needs JOB_COMPLETION_INDEX set to a number below {count}"
                    );
                    return Err(Outcome::Usage);
                }
            }
        }
        (None, None) => None,
    };
    Ok((tenants, shard))
}

/// The async runtime of a run, and the signal handlers that stop it.
fn start_runtime() -> Result<(tokio::runtime::Runtime, Arc<Interrupt>), Outcome> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| {
            eprintln!("error: cannot start the async runtime: {error}");
            Outcome::Failure
        })?;
    let interrupt = Interrupt::install(runtime.handle()).map_err(|error| {
        eprintln!("error: cannot install signal handlers: {error}");
        Outcome::Failure
    })?;
    Ok((runtime, interrupt))
}

/// With `--local-sink`, a sink on free ports of 127.0.0.1 for this run.
fn start_local_sink(
    args: &GenerateArgs,
    runtime: &tokio::runtime::Runtime,
) -> Result<Option<SinkHandle>, Outcome> {
    if !args.local_sink {
        return Ok(None);
    }
    let options = SinkOptions {
        grpc_listen: Some(([127, 0, 0, 1], 0).into()),
        ..SinkOptions::local()
    };
    match runtime.block_on(SinkHandle::start(options)) {
        Ok(handle) => Ok(Some(handle)),
        Err(error) => {
            eprintln!("error: {error}");
            Err(Outcome::Failure)
        }
    }
}

/// Where the run sends, and the transports that do it.
fn open_output(
    cli: &Cli,
    args: &GenerateArgs,
    local_sink: Option<&SinkHandle>,
    runtime: &tokio::runtime::Runtime,
) -> Result<(Output, Transports), Outcome> {
    let usage = |error: &dyn std::fmt::Display| {
        eprintln!("error: {error}");
        Outcome::Usage
    };
    let output = export::output(cli, &args.export, local_sink).map_err(|e| usage(&e))?;
    let _inside = runtime.enter();
    let transports = Transports::open(&output).map_err(|e| usage(&e))?;
    Ok((output, transports))
}

/// The resource of every request: the configured one, the schema version, the project.
fn run_resource(
    args: &GenerateArgs,
    prefix: &str,
    service_name: &str,
    seed: u64,
    schema: &Schema,
) -> crate::encode::common::ResourceTemplate {
    let (mut resource, warnings) =
        config::resource(prefix, service_name, &format!("{seed:016x}"), &env);
    for warning in warnings {
        eprintln!("{warning}");
    }
    resource
        .attributes
        .push((format!("{prefix}.schema.version"), schema.version.clone()));
    if let Some(project) = &args.genai.project {
        resource
            .attributes
            .retain(|(k, _)| k != crate::generate::openinference::PROJECT_NAME);
        resource.attributes.push((
            crate::generate::openinference::PROJECT_NAME.into(),
            project.clone(),
        ));
    }
    resource
}

/// The settings of the run loop, from the flags and what was decided before.
fn run_settings(
    args: &GenerateArgs,
    scenarios: &[Scenario],
    interval_ms: f64,
    (seed, count, shard): (u64, u64, Option<crate::cli::Shard>),
    tenants: Tenants,
    resource: crate::encode::common::ResourceTemplate,
) -> RunSettings {
    let traffic = scenario_traffic(scenarios);
    // A pinned start promises a reproducible file: one worker (unless told otherwise) batches
    // the same way every time, and one exporter writes the requests in the order they are made.
    let pinned_file = args.pace.start_time.is_some() && args.export.output.is_some();
    RunSettings {
        seed,
        count,
        pace: match args.pace.backfill {
            // History: the count spread evenly over the window.
            Some(RunDuration::For(window)) if count != u64::MAX => Pace {
                rate: Some(count as f64 / window.as_secs_f64()),
                ..pace(&args.pace, interval_ms, traffic)
            },
            _ => pace(&args.pace, interval_ms, traffic),
        },
        backfill: match args.pace.backfill {
            Some(RunDuration::For(window)) => Some(window),
            _ => None,
        },
        pinned_start_ns: args.pace.start_time,
        shard: shard.map_or((0, 1), |s| (s.index, s.count)),
        duration: match args.pace.duration {
            Some(RunDuration::For(d)) => Some(d),
            Some(RunDuration::Forever) | None => None,
        },
        workers: args.workers.map_or_else(
            || match pinned_file {
                true => 1,
                false => std::thread::available_parallelism().map_or(1, usize::from),
            },
            usize::from,
        ),
        tenant_weights: tenants.weights,
        show: if args.show_full_spans {
            Show::FullSpans
        } else if args.show_spans {
            Show::Spans
        } else {
            Show::Nothing
        },
        quiet: args.quiet,
        retry: RetryPolicy {
            max_elapsed: args.export.retry_max_elapsed,
            ..RetryPolicy::default()
        },
        exporters: if pinned_file {
            1
        } else {
            usize::from(args.export.exporters)
        },
        batch: BatchLimits {
            max_items: args.export.batch_size as usize,
            max_bytes: args.export.batch_bytes as usize,
        },
        resource,
        signals: signal_settings(args),
    }
}

/// `Running scenario X: 100 traces at 50 traces/s, to URL (seed …)`, printed before a run.
fn start_line(plans: &[Plan], settings: &RunSettings, destination: &str) -> String {
    let what = match plans {
        [one] => format!("scenario {}", one.scenario),
        many => format!("a mix of {} scenarios", many.len()),
    };
    let how_many = if settings.count == u64::MAX {
        "until stopped".to_string()
    } else {
        crate::human::plural(settings.count, "trace")
    };
    let pace = match (settings.pace.rate, settings.shard) {
        (Some(rate), (_, 1)) => format!("at {rate} traces/s"),
        (Some(rate), (k, n)) => format!(
            "at {rate} traces/s, of which shard {k}/{n} sends {:.1}",
            rate / n as f64
        ),
        (None, (_, 1)) => "as fast as possible".to_string(),
        (None, (k, n)) => format!("as fast as possible, shard {k}/{n}"),
    };
    let limit = settings
        .duration
        .map_or(String::new(), |d| format!(" for {:.1} s", d.as_secs_f64()));
    let seed = settings.seed;
    format!(
        "Running {what}: {how_many} {pace}{limit}, to {destination} (seed {seed}; --seed {seed} repeats this run)"
    )
}

/// Prints the run's summary and writes its JSON; returns the outcome its accounting implies.
/// The human summary goes to stderr when stdout carries data (`--output -`) or the JSON summary
/// (`--summary-json -` or `/dev/stdout`), so stdout stays one thing a program can read.
fn report(args: &GenerateArgs, summary: &workload::RunSummary, output: &Output) -> Outcome {
    let text = summary.render(&|signal| output.describe(signal));
    let json_to_stdout = args
        .export
        .summary_json
        .as_deref()
        .is_some_and(crate::files::is_stdout);
    if *output == Output::File("-".into()) || json_to_stdout {
        eprint!("{text}");
    } else {
        out!("{text}");
    }
    let mut outcome = export::outcome(summary, output, args.export.allow_export_failures);
    if let Some(path) = &args.export.summary_json
        && let Err(error) = export::write_summary(path, summary)
    {
        eprintln!("error: {error}");
        outcome = outcome.max(Outcome::Failure);
    }
    outcome
}

/// The derived signals a run sends, from `--no-metrics`, `--no-logs` and the signal options.
fn signal_settings(args: &GenerateArgs) -> SignalSettings {
    let s = &args.signals;
    SignalSettings {
        metrics: !args.no_metrics,
        logs: !args.no_logs,
        metrics_interval: s.metrics_interval,
        temporality: match s.metrics_temporality {
            MetricsTemporality::Cumulative => Temporality::Cumulative,
            MetricsTemporality::Delta => Temporality::Delta,
        },
        exception_span_events: s.exception_span_events,
        ..SignalSettings::default()
    }
}

/// The traffic shape the scenarios ask for: a run has one schedule, so when scenarios of a mix
/// ask for different shapes, the first one's is used, with a warning.
fn scenario_traffic(scenarios: &[Scenario]) -> Pattern {
    let mut asked = scenarios.iter().filter_map(|s| s.traffic.map(|t| (s, t)));
    let Some((first, traffic)) = asked.next() else {
        return Pattern::Constant;
    };
    if let Some((other, _)) = asked.find(|(_, t)| *t != traffic) {
        eprintln!(
            "warning: scenarios {} and {} ask for different traffic shapes; using {}'s (--traffic chooses)",
            first.name, other.name, first.name
        );
    }
    traffic
}

/// The run's pace: `--rate` if given, else one iteration every `interval_ms`; `--traffic` if
/// given, else `traffic`, the scenarios' shape.
fn pace(args: &PaceArgs, interval_ms: f64, traffic: Pattern) -> Pace {
    let base = match args.rate {
        Some(rate) => Pace {
            rate: Some(rate),
            ..Pace::unpaced()
        },
        None => Pace::every_ms(interval_ms),
    };
    Pace {
        arrivals: match args.arrivals {
            ArrivalsArg::Constant => Arrivals::Constant,
            ArrivalsArg::Poisson => Arrivals::Poisson,
        },
        pattern: args.traffic.unwrap_or(traffic),
        ramp_up: match args.ramp_up {
            Some(RunDuration::For(d)) => d,
            Some(RunDuration::Forever) | None => Duration::ZERO,
        },
        ..base
    }
}

fn list(args: &ListArgs) -> Outcome {
    let library = Library::new(args.scenarios_dir.clone());
    let files = match library.files() {
        Ok(files) => files,
        Err(error) => return load_failed(&error),
    };
    if files.is_empty() {
        outln!("No scenarios found.\nLooking in: {library}");
        return Outcome::Success;
    }
    let options = load_options(u64::MAX);
    let mut outcome = Outcome::Success;
    outln!("Available scenarios:\n");
    for file in files {
        match file.decode(&options) {
            Ok((s, _)) => {
                let mut description = s
                    .description
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                if description.chars().count() > 60 {
                    description = description.chars().take(60).collect::<String>() + "...";
                }
                let tags = if s.tags.is_empty() {
                    "none".to_string()
                } else {
                    s.tags.join(", ")
                };
                outln!("  - {}", s.name);
                outln!("     {description}");
                outln!("     Tags: {tags}");
                outln!(
                    "     Repeat: {}, Interval: {}ms\n",
                    s.repeat_count,
                    s.interval_ms
                );
            }
            Err(_) => {
                // One broken file must not hide the others; `validate` says what is wrong.
                outln!(
                    "  - {} (invalid: run `telemetry-simulator validate {}`)\n",
                    file.name,
                    file.display
                );
                outcome = Outcome::Usage;
            }
        }
    }
    outcome
}

fn sink_limits(args: &SinkArgs) -> SinkLimits {
    let defaults = SinkLimits::default();
    SinkLimits {
        max_body: args.max_body,
        max_items: args.max_items,
        max_decoded_bytes: args.max_decoded_bytes,
        max_concurrent_decodes: args
            .max_concurrent_decodes
            .map_or(defaults.max_concurrent_decodes, |n| n as usize),
        max_connections: args.max_connections as usize,
        header_timeout: args.header_timeout,
        body_timeout: args.body_timeout,
    }
}

fn sink(args: &SinkArgs) -> Outcome {
    if let Some(name) = &args.tenant_header
        && axum::http::HeaderName::from_bytes(name.as_bytes()).is_err()
    {
        eprintln!("error: --tenant-header {name:?} is not a valid header name");
        return Outcome::Usage;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return Outcome::Failure;
        }
    };
    let options = SinkOptions {
        listen: args.listen,
        grpc_listen: (!args.no_grpc).then_some(args.grpc_listen),
        quiet: args.quiet,
        faults: Faults {
            fail_first: args.fail_first,
            status: args.fail_status,
            retry_after: args.retry_after.map(Duration::from_secs),
            latency: Duration::from_millis(args.latency),
        },
        dump: args.dump.clone(),
        count_only: args.count_only,
        limits: sink_limits(args),
        show_headers: args.show_headers,
        tenant_header: args.tenant_header.clone(),
    };
    let port_files = PortFiles {
        http: args.port_file.clone(),
        grpc: args.grpc_port_file.clone(),
    };
    match runtime.block_on(crate::sink::run_until_signal(
        options,
        port_files,
        args.summary_json.clone(),
    )) {
        Ok(summary) => {
            // As for a run: with the JSON summary on stdout, the human one goes to stderr.
            if args
                .summary_json
                .as_deref()
                .is_some_and(crate::files::is_stdout)
            {
                eprintln!("{}", summary.render());
            } else {
                outln!("{}", summary.render());
            }
            Outcome::Success
        }
        Err(error) => {
            eprintln!("error: {error}");
            if let crate::sink::SinkError::Bind { addr, error } = &error
                && error.kind() == std::io::ErrorKind::AddrInUse
            {
                eprintln!(
                    "hint: another sink or collector is listening on port {} (an earlier `sink &` still running?); \
                     stop it, or listen elsewhere with --listen 127.0.0.1:0 --port-file FILE",
                    addr.port()
                );
            }
            Outcome::Failure
        }
    }
}
