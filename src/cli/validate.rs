//! `validate`: every file checked, every problem reported in one pass, as text or JSON.
//!
//! Each file is decoded (syntax, keys, types, ranges: errors) and then linted (`crate::lint`:
//! schema conformance, children that cannot fit, high cardinality). A file that cannot be read is
//! reported like any other problem, so one bad path does not hide the rest. The exit status is 2
//! when any file has an error. With `--strict` every warning counts as an error: the schema file's
//! problems that loading works around (see `crate::schema`) and the scenarios' warnings alike.
//!
//! The JSON shape (`--format json`) is stable, for editors and CI; see docs/validate-and-check.md:
//!
//! ```json
//! {"files": [{"file": "a.yaml", "valid": false, "errors": 1, "warnings": 0,
//!             "diagnostics": [{"severity": "error", "file": "a.yaml", "line": 3, "column": 5,
//!                              "path": "root.retry", "message": "…", "help": "…"}]}],
//!  "summary": {"files": 1, "valid": 0, "invalid": 1, "errors": 1, "warnings": 0}}
//! ```

use super::Cli;
use super::args::OutputFormat;
use super::out::{out, outln};
use super::{Outcome, error_text, load_options};
use crate::lint::{LintContext, lint};
use crate::scenario::{
    Diagnostic, Diagnostics, Library, LoadError, ScenarioFile, Severity, scenario_paths,
};
use crate::schema::{self, Schema, SchemaError};
use clap::Args;
use serde_json::{Value, json};
use std::path::PathBuf;

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
    /// Count every warning as an error (exit 2), e.g. a schema file's problems that are
    /// otherwise worked around as the Python original did
    #[arg(long)]
    pub strict: bool,
}

/// What was found in one file.
struct FileReport {
    file: String,
    diagnostics: Diagnostics,
}

impl FileReport {
    fn errors(&self) -> usize {
        self.diagnostics.errors().count()
    }
    fn warnings(&self) -> usize {
        self.diagnostics.0.len() - self.errors()
    }
}

pub fn validate(cli: &Cli, args: &ValidateArgs) -> Outcome {
    let options = load_options(args.max_spans_per_trace);
    let json = args.format == OutputFormat::Json;
    let mut reports = Vec::new();
    let schema = match cli.schema_path.as_deref() {
        Some(path) => match schema::load(path) {
            Ok(schema) => schema,
            Err(error) => {
                let diagnostics = match error {
                    SchemaError::Invalid(d) => d,
                    other => Diagnostics(vec![unlocated(&path.display().to_string(), other)]),
                };
                reports.push(FileReport {
                    file: path.display().to_string(),
                    diagnostics,
                });
                return finish(&reports, json, args.strict);
            }
        },
        None => schema::bundled(),
    };
    if !schema.warnings.0.is_empty() {
        reports.push(FileReport {
            file: schema.source.clone(),
            diagnostics: schema.warnings.clone(),
        });
    }
    let schema = schema.with_prefix(&options.prefix);
    // A --prices file is checked like a scenario, and its prices count for the lint.
    let prices = match cli.prices.as_deref().map(crate::scenario::load_models) {
        None => Vec::new(),
        Some(Ok(models)) => models,
        Some(Err(error)) => {
            let path = cli.prices.as_deref().unwrap_or(std::path::Path::new(""));
            let diagnostics = match error {
                crate::scenario::PricesError::Invalid(d) => d,
                other => Diagnostics(vec![unlocated(&path.display().to_string(), other)]),
            };
            reports.push(FileReport {
                file: path.display().to_string(),
                diagnostics,
            });
            return finish(&reports, json, args.strict);
        }
    };
    if args.show_schema || args.show_spans || args.show_metrics {
        let mut shown = format!("Schema loaded successfully\n{}\n", schema.describe_header());
        if args.show_schema {
            shown.push_str(&format!("{}\n", schema.describe_summary()));
        }
        if args.show_spans {
            shown.push_str(&format!("{}\n", schema.describe_spans()));
        }
        if args.show_metrics {
            shown.push_str(&format!("{}\n", schema.describe_metrics()));
        }
        // JSON mode keeps stdout for the JSON document.
        if json {
            eprint!("{shown}");
        } else {
            out!("{shown}");
        }
        if args.paths.is_empty() && args.scenarios_dir.is_none() {
            return finish(&reports, json, args.strict);
        }
    }
    for file in files(args) {
        reports.push(check_file(file, &options, &schema, &prices));
    }
    finish(&reports, json, args.strict)
}

/// The files named on the command line (folders expanded), else those of the library.
fn files(args: &ValidateArgs) -> Vec<Result<ScenarioFile, LoadError>> {
    let mut files = Vec::new();
    if args.paths.is_empty() {
        match Library::new(args.scenarios_dir.clone()).files() {
            Ok(found) => files.extend(found.into_iter().map(Ok)),
            Err(error) => files.push(Err(error)),
        }
    }
    for path in &args.paths {
        if path.is_dir() {
            match scenario_paths(path) {
                Ok(paths) => files.extend(paths.iter().map(|p| ScenarioFile::read(p))),
                Err(error) => files.push(Err(error)),
            }
        } else {
            files.push(ScenarioFile::read(path));
        }
    }
    files
}

fn check_file(
    file: Result<ScenarioFile, LoadError>,
    options: &crate::scenario::LoadOptions,
    schema: &Schema,
    prices: &[crate::scenario::ModelSpec],
) -> FileReport {
    let file = match file {
        Ok(file) => file,
        Err(LoadError::Invalid(diagnostics)) => {
            let name = diagnostics.0.first().map(|d| d.file.clone());
            return FileReport {
                file: name.unwrap_or_default(),
                diagnostics,
            };
        }
        Err(error) => {
            let name = match &error {
                LoadError::Io { path, .. } => path.display().to_string(),
                LoadError::NotFound { name, .. } => name.clone(),
                LoadError::Invalid(_) => String::new(),
            };
            let diagnostic = unlocated(&name, error_text(&error));
            return FileReport {
                file: name,
                diagnostics: Diagnostics(vec![diagnostic]),
            };
        }
    };
    let diagnostics = match file.decode_located(options) {
        Ok(mut decoded) => {
            if !prices.is_empty() {
                decoded.scenario = crate::scenario::with_models(&decoded.scenario, prices);
            }
            let context = LintContext {
                file: &file.display,
                text: &file.text,
                schema,
                prefix: &options.prefix,
            };
            let mut all = decoded.warnings.clone();
            all.0.extend(lint(&decoded, &context).0);
            all.0.sort_by_key(|d| d.mark.map(|m| (m.line, m.column)));
            all
        }
        Err(diagnostics) => diagnostics,
    };
    FileReport {
        file: file.display,
        diagnostics,
    }
}

fn unlocated(file: &str, message: impl ToString) -> Diagnostic {
    let message = message.to_string();
    Diagnostic {
        severity: Severity::Error,
        file: file.to_string(),
        mark: None,
        path: String::new(),
        message: message
            .strip_prefix("error: ")
            .unwrap_or(&message)
            .to_string(),
        help: None,
        source_line: None,
    }
}

/// `--strict`: the reports with every warning made an error.
fn strict(reports: &[FileReport]) -> Vec<FileReport> {
    reports
        .iter()
        .map(|report| FileReport {
            file: report.file.clone(),
            diagnostics: Diagnostics(
                report
                    .diagnostics
                    .0
                    .iter()
                    .map(|d| Diagnostic {
                        severity: Severity::Error,
                        ..d.clone()
                    })
                    .collect(),
            ),
        })
        .collect()
}

fn finish(reports: &[FileReport], json: bool, strict_mode: bool) -> Outcome {
    let promoted;
    let reports = if strict_mode {
        promoted = strict(reports);
        &promoted[..]
    } else {
        reports
    };
    let invalid = reports.iter().filter(|r| r.errors() > 0).count();
    let errors: usize = reports.iter().map(FileReport::errors).sum();
    let warnings: usize = reports.iter().map(FileReport::warnings).sum();
    if json {
        let files: Vec<Value> = reports.iter().map(file_json).collect();
        let document = json!({
            "files": files,
            "summary": {
                "files": reports.len(),
                "valid": reports.len() - invalid,
                "invalid": invalid,
                "errors": errors,
                "warnings": warnings,
            }
        });
        outln!(
            "{}",
            serde_json::to_string_pretty(&document).unwrap_or_default()
        );
    } else {
        for report in reports {
            if !report.diagnostics.0.is_empty() {
                eprintln!("{}", report.diagnostics);
            }
            if report.errors() == 0 {
                outln!("ok: {}", report.file);
            }
        }
        let plural = crate::human::plural;
        outln!(
            "{} checked: {} valid, {invalid} invalid ({}, {})",
            plural(reports.len() as u64, "file"),
            reports.len() - invalid,
            plural(errors as u64, "error"),
            plural(warnings as u64, "warning"),
        );
    }
    if invalid > 0 {
        Outcome::Usage
    } else {
        Outcome::Success
    }
}

fn file_json(report: &FileReport) -> Value {
    let diagnostics: Vec<Value> = report
        .diagnostics
        .0
        .iter()
        .map(|d| {
            json!({
                "severity": match d.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                },
                "file": d.file,
                "line": d.mark.map(|m| m.line),
                "column": d.mark.map(|m| m.column),
                "path": d.path,
                "message": d.message,
                "help": d.help,
            })
        })
        .collect();
    json!({
        "file": report.file,
        "valid": report.errors() == 0,
        "errors": report.errors(),
        "warnings": report.warnings(),
        "diagnostics": diagnostics,
    })
}
