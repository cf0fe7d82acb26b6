//! `run`: a mixed workload over every scenario of the folder, weighted by `weight:` or `--mix`,
//! optionally filtered by tag.

use super::args::GenerateArgs;
use super::{Cli, Outcome, load_failed, load_options, print_warnings};
use crate::scenario::Library;
use clap::Args;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Traces to generate (sessions, for scenarios with `session:`) [default: 100, or no limit
    /// with --duration]
    #[arg(long, value_parser = parse_count)]
    pub count: Option<u64>,
    /// Weights of the mix, e.g. `successful_agent_turn=3,tool_retry=1` (replaces the scenarios'
    /// `weight:`; scenarios not named are left out)
    #[arg(long, value_name = "NAME=W,...", value_parser = parse_mix)]
    pub mix: Option<MixWeights>,
    /// Only scenarios with at least one of these tags, e.g. `retry,baseline`
    #[arg(long, value_name = "TAG,...", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Milliseconds between traces
    #[arg(
        long,
        value_name = "MS",
        value_parser = super::args::parse_interval_ms,
        allow_negative_numbers = true,
        default_value_t = 500.0
    )]
    pub interval: f64,
    #[command(flatten)]
    pub generate: GenerateArgs,
}

/// `run --count`: a number of traces above 0 (unlike `scenario --count 0`, the original's "the
/// scenario's repeat_count", a mix has no count of its own).
fn parse_count(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(0) => Err(
            "run --count 0 would send nothing; give a number of traces, or --duration to run for a time"
                .into(),
        ),
        Ok(count) => Ok(count),
        Err(error) => Err(format!("`{text}` is not a number of traces: {error}")),
    }
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

pub fn run(cli: &Cli, args: &RunArgs) -> Outcome {
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
    if let Some(MixWeights(mix)) = &args.mix {
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
    super::generate::generate(cli, &args.generate, &scenarios, count, args.interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_weights_parse() {
        assert_eq!(
            parse_mix("a=3, b=1"),
            Ok(MixWeights(vec![("a".into(), 3.0), ("b".into(), 1.0)]))
        );
        assert!(parse_mix("a").is_err());
        assert!(parse_mix("a=-1").is_err());
        assert_eq!(parse_count("7"), Ok(7));
        assert!(
            parse_count("0")
                .unwrap_err()
                .contains("run --count 0 would send nothing")
        );
        assert!(parse_count("-1").is_err());
    }
}
