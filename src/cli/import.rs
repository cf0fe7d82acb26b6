//! `import`: read recorded traces, fit them into scenarios, write them, check them back.
//!
//! The edge of `crate::import`: opens the inputs (`-` is standard input), shows a progress bar
//! of bytes read, decides where the scenarios go (one file, a folder for `run`, or standard
//! output), decodes every fitted scenario as `validate` would (a fit that does not load is a
//! failure, exit 1), and with `--report` runs `check` on each and prints it beside the input.

use super::out::{out, outln};
use super::{Cli, Outcome, config, env};
use crate::check;
use crate::generate::{Plan, PlanOptions};
use crate::import::{self, Fitted};
use crate::scenario::{LoadOptions, ScenarioFile};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Trace files: OTLP/JSON lines, OTLP protobuf, Jaeger JSON (gzip too); `-` is standard input
    #[arg(required = true, value_name = "FILE")]
    pub inputs: Vec<PathBuf>,
    /// Where to write: a .yaml file (one root shape), or a folder (one file per shape, for `run`)
    /// [default: standard output]
    #[arg(short, long, value_name = "FILE|DIR")]
    pub output: Option<PathBuf>,
    /// The scenario's name (with several root shapes, the stem of each name)
    #[arg(long)]
    pub name: Option<String>,
    /// Print the input's statistics beside the fitted scenario's `check` statistics
    #[arg(long)]
    pub report: bool,
    /// With --report, also draw each span name's latency histogram, input and fit overlaid, into
    /// this .svg file (with several scenarios, one file each: FILE-NAME.svg)
    #[arg(long, value_name = "FILE.svg", requires = "report")]
    pub plot: Option<PathBuf>,
    /// Iterations `check` simulates for --report
    #[arg(long, value_name = "N", default_value_t = 5_000)]
    pub samples: u64,
    /// Spans held in incomplete traces before the oldest are fitted as they are
    #[arg(long, value_name = "N", default_value_t = import::DEFAULT_MAX_BUFFERED_SPANS)]
    pub max_buffered_spans: usize,
}

pub fn import(cli: &Cli, args: &ImportArgs) -> Outcome {
    let total: u64 = args
        .inputs
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .filter_map(|p| std::fs::metadata(p).ok().map(|m| m.len()))
        .sum();
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} reading {bytes}/{total_bytes} ({bytes_per_sec}) {wide_bar}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut inputs: Vec<(String, Box<dyn Read>)> = Vec::new();
    for path in &args.inputs {
        let reader: Box<dyn Read> = if path.as_os_str() == "-" {
            Box::new(bar.wrap_read(std::io::stdin().lock()))
        } else {
            match std::fs::File::open(path) {
                Ok(file) => Box::new(bar.wrap_read(file)),
                Err(error) => {
                    eprintln!("error: cannot open {}: {error}", path.display());
                    return Outcome::Usage;
                }
            }
        };
        inputs.push((path.display().to_string(), reader));
    }
    let measured = import::measure(inputs, args.max_buffered_spans);
    bar.finish_and_clear();
    let mut imported = match measured {
        Ok(imported) => imported,
        Err(error) => {
            eprintln!("error: {error}");
            return Outcome::Failure;
        }
    };
    if imported.measured.traces == 0 {
        eprintln!(
            "error: no traces in the input ({} spans read)",
            imported.measured.spans
        );
        return Outcome::Failure;
    }
    let prefix = import::prefix(&imported);
    let fitted = import::fit(&mut imported, args.name.as_deref());
    let written = match write(&fitted, args.output.as_deref()) {
        Ok(written) => written,
        Err(outcome) => return outcome,
    };
    summarise(cli, args, &fitted, &written, &prefix)
}

/// Writes the scenarios; returns where each went (`None`: standard output).
fn write(fitted: &[Fitted], output: Option<&Path>) -> Result<Vec<Option<PathBuf>>, Outcome> {
    let is_file = output.is_some_and(|p| {
        !p.is_dir() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
    });
    if fitted.len() > 1 && (output.is_none() || is_file) {
        eprintln!(
            "error: the input has {} root shapes ({}); give a folder with -o DIR: one scenario each, weighted, for `run`",
            fitted.len(),
            fitted
                .iter()
                .map(|f| f.root.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Err(Outcome::Usage);
    }
    let Some(output) = output else {
        out!("{}", fitted[0].yaml);
        return Ok(vec![None]);
    };
    let mut written = Vec::new();
    for f in fitted {
        let (path, dir) = if is_file {
            (
                output.to_path_buf(),
                output.parent().unwrap_or(Path::new(".")),
            )
        } else {
            (output.join(format!("{}.yaml", f.name)), output)
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Err(error) = std::fs::create_dir_all(dir) {
            eprintln!("error: cannot create {}: {error}", dir.display());
            return Err(Outcome::Failure);
        }
        if let Err(error) = crate::files::write(&path, f.yaml.as_bytes()) {
            eprintln!("error: cannot write {}: {error}", path.display());
            return Err(Outcome::Failure);
        }
        written.push(Some(path));
    }
    Ok(written)
}

/// The summary on stderr, each scenario decoded as `validate` would, and the report.
fn summarise(
    cli: &Cli,
    args: &ImportArgs,
    fitted: &[Fitted],
    written: &[Option<PathBuf>],
    prefix: &str,
) -> Outcome {
    let options = LoadOptions {
        prefix: prefix.to_string(),
        max_spans_per_trace: 10_000,
    };
    let mut outcome = Outcome::Success;
    for (f, path) in fitted.iter().zip(written) {
        let display = path
            .as_ref()
            .map_or("<stdout>".to_string(), |p| p.display().to_string());
        eprintln!(
            "{}: {} traces (weight {:.3}), worst latency fit error {:.1}% ({}) -> {display}",
            f.name,
            f.traces,
            f.weight,
            100.0 * f.worst_fit.0,
            f.worst_fit.1
        );
        let file = ScenarioFile {
            name: f.name.clone(),
            display: display.clone(),
            text: f.yaml.clone(),
        };
        let scenario = match file.decode(&options) {
            Ok((scenario, _)) => scenario,
            Err(diagnostics) => {
                eprintln!("error: the fitted scenario does not load:\n{diagnostics}");
                outcome = Outcome::Failure;
                continue;
            }
        };
        if !args.report {
            continue;
        }
        let plan = Plan::compile(
            &scenario,
            &PlanOptions {
                prefix: prefix.to_string(),
                tenants: vec!["import".into()],
                schema: None,
                service_name: config::service_name(cli.service_name.as_deref(), &env),
                content: false,
                profile: Default::default(),
            },
        );
        let report = check::check(&scenario, &plan, 0, args.samples, &|| false);
        outln!(
            "{} ({} input traces | {} simulated)",
            f.name,
            f.traces,
            report.traces
        );
        out!("{}", import::report::render(&f.rows, &report));
        if let Some(path) = &args.plot {
            let path = if fitted.len() > 1 {
                let stem = path.file_stem().unwrap_or_default().to_string_lossy();
                path.with_file_name(format!("{stem}-{}.svg", f.name))
            } else {
                path.clone()
            };
            if let Err(error) = import::plot::write(&f.rows, &report, &path) {
                eprintln!("error: {error}");
                outcome = Outcome::Failure;
            }
        }
    }
    outcome
}
