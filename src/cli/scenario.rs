//! `scenario`: run one scenario, its count and interval defaulting to the scenario's own.
//!
//! The arguments and the command live together, one file per command, so that a flag is added
//! in one place; what `scenario` and `run` share (the run itself) is in `generate.rs`, rather
//! than one command calling into the other.

use super::args::GenerateArgs;
use super::{Cli, Outcome, load_failed, load_options, print_warnings};
use crate::scenario::Library;
use clap::Args;

#[derive(Debug, Args)]
pub struct ScenarioArgs {
    /// The scenario's name (its file name without .yaml)
    #[arg(long)]
    pub name: String,
    /// Traces to generate (sessions, for a scenario with `session:`); 0 is the scenario's
    /// repeat_count, as in the original [default: the scenario's repeat_count, or no limit with
    /// --duration]
    #[arg(long)]
    pub count: Option<u64>,
    /// Milliseconds between traces [default: the scenario's interval_ms]
    #[arg(
        long,
        value_name = "MS",
        value_parser = super::args::parse_interval_ms,
        allow_negative_numbers = true
    )]
    pub interval: Option<f64>,
    #[command(flatten)]
    pub generate: GenerateArgs,
}

pub fn scenario(cli: &Cli, args: &ScenarioArgs) -> Outcome {
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
    super::generate::generate(cli, &args.generate, &[scenario], count, interval)
}
