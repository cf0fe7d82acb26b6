//! What `scenario` and `run` share: the run of a set of scenarios, from the flags to the summary.
//!
//! The command files decide which scenarios and how many iterations; this file maps the flags
//! and the environment to the run's settings, compiles the plans, prints the start line, runs
//! them, prints the summary and returns the outcome its accounting implies.

use super::args::{ArrivalsArg, GenerateArgs, MetricsTemporality, PaceArgs, RunDuration};
use super::config::{self, ConfigError, Tenants};
use super::out::{out, outln};
use super::{Cli, Outcome, env, export, load_schema};
use crate::encode::Signal;
use crate::encode::common::BatchLimits;
use crate::export::exporter::RetryPolicy;
use crate::export::transport::Output;
use crate::generate::metrics::Temporality;
use crate::generate::{Plan, PlanOptions};
use crate::scenario::Scenario;
use crate::schema::Schema;
use crate::workload::{
    self, Arrivals, Launched, Mix, Pace, Pattern, RunReport, RunSettings, Shard, Show,
    SignalSettings,
};
use std::sync::Arc;
use std::time::Duration;

/// Generates `count` iterations over `scenarios` (weighted by their `weight`) and exports them.
pub(super) fn generate(
    cli: &Cli,
    args: &GenerateArgs,
    scenarios: &[Scenario],
    count: u64,
    interval_ms: f64,
) -> Outcome {
    let decided = match decide(cli, args) {
        Ok(decided) => decided,
        Err(error) => {
            eprintln!("error: {error}");
            return Outcome::Usage;
        }
    };
    let prefix = config::attr_prefix(&env);
    let schema = match load_schema(cli.schema_path.as_deref(), &prefix) {
        Ok(schema) => Arc::new(schema),
        Err(outcome) => return outcome,
    };
    let priced = match super::with_prices(cli, scenarios) {
        Ok(priced) => priced,
        Err(outcome) => return outcome,
    };
    let scenarios = &priced[..];
    let seed = args.seed.unwrap_or_else(workload::fresh_seed);
    let service_name = config::service_name(cli.service_name.as_deref(), &env);
    let profile = match super::semconv::profile(args.genai.semconv, args.genai.span_names, &env) {
        Ok(profile) => profile,
        Err(error) => {
            eprintln!("error: {error}");
            return Outcome::Usage;
        }
    };
    let plan_options = PlanOptions {
        prefix: prefix.clone(),
        tenants: decided.tenants.ids.clone(),
        schema: Some(schema.clone()),
        service_name: service_name.clone(),
        content: args.genai.content,
        profile,
    };
    let mut plans: Vec<Plan> = scenarios
        .iter()
        .map(|s| Plan::compile(s, &plan_options))
        .collect();
    crate::generate::anchor_together(&mut plans);
    let mut resource = run_resource(args, &prefix, &service_name, seed, &schema);
    resource.scope_schema_url = profile.semconv.schema_url().unwrap_or_default().into();
    let settings = run_settings(
        args,
        scenarios,
        interval_ms,
        (seed, count, decided.shard),
        decided.tenants,
        resource,
    );
    if settings.show != Show::Nothing && settings.workers > 1 && !args.quiet {
        eprintln!(
            "note: --show-spans prints traces in order, so this run uses 1 worker instead of {}",
            settings.workers
        );
    }
    let launched = match Launched::start(decided.output, args.local_sink) {
        Ok(launched) => launched,
        Err(error) => {
            eprintln!("error: {error}");
            return if error.is_usage() {
                Outcome::Usage
            } else {
                Outcome::Failure
            };
        }
    };
    if !args.quiet {
        let destination = launched.output().describe(Signal::Traces);
        eprintln!("{}", start_line(&plans, &settings, &destination));
    }
    let report = launched.run(&mix(&plans, scenarios), &settings);
    finish(args, &report)
}

/// What the flags and the environment decide before a run: who the traces belong to, which
/// shard this process runs, and where they go.
struct Decided {
    tenants: Tenants,
    shard: Option<Shard>,
    output: Output,
}

/// The tenants (with a warning when two variables disagree), the shard and the destination.
fn decide(cli: &Cli, args: &GenerateArgs) -> Result<Decided, ConfigError> {
    let tenants = Tenants::resolve(&args.tenants, &env)?;
    // With `--tenants`, neither variable is used: nothing to warn about.
    if args.tenants.is_empty() {
        for warning in config::tenant_warnings(&env) {
            eprintln!("{warning}");
        }
    }
    Ok(Decided {
        tenants: tenants.fit_header(args.export.tenant_header.as_deref())?,
        shard: config::shard(args.pace.shard, args.pace.shards, &env)?,
        output: export::output(cli, &args.export)?,
    })
}

/// Which plan each iteration uses: the only one, or a draw weighted by the scenarios' weights.
fn mix<'a>(plans: &'a [Plan], scenarios: &[Scenario]) -> Mix<'a> {
    match plans {
        [one] => Mix::One(one),
        many => Mix::Weighted(
            many.iter()
                .zip(scenarios)
                .map(|(p, s)| (p, s.weight))
                .collect(),
        ),
    }
}

/// Prints what the run did (and what the local sink received); the outcome it implies.
fn finish(args: &GenerateArgs, report: &RunReport) -> Outcome {
    let outcome = print_summary(args, &report.summary, &report.output);
    if let Some(received) = &report.local_sink {
        // One heading: the sink's own ("sink received:") gave way to this one.
        outln!("\nThe local sink received:\n{received}");
    }
    match report.interrupted {
        Some(status) => Outcome::Interrupted(status),
        None => outcome,
    }
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
    (seed, count, shard): (u64, u64, Option<Shard>),
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
            Some(window) if count != u64::MAX => Pace {
                rate: Some(count as f64 / window.as_secs_f64()),
                ..pace(&args.pace, interval_ms, traffic)
            },
            _ => pace(&args.pace, interval_ms, traffic),
        },
        backfill: args.pace.backfill,
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
    // With sessions, `--count` counts sessions and the rate counts turns (each a trace).
    let sessions = plans.iter().any(|p| p.session.is_some());
    let (unit, traces) = if sessions {
        ("session", "turns")
    } else {
        ("trace", "traces")
    };
    let how_many = if settings.count == u64::MAX {
        "until stopped".to_string()
    } else {
        crate::human::plural(settings.count, unit)
    };
    let pace = match (settings.pace.rate, settings.shard) {
        (Some(rate), (_, 1)) => format!("at {rate} {traces}/s"),
        (Some(rate), (k, n)) => format!(
            "at {rate} {traces}/s, of which shard {k}/{n} sends {:.1}",
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
fn print_summary(args: &GenerateArgs, summary: &workload::RunSummary, output: &Output) -> Outcome {
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
