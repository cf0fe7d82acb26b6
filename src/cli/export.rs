//! The export side of the generating commands: the output chosen from the flags and the
//! environment, the run's exit status from its accounting, and the summary file.

use super::Cli;
use super::Outcome;
use super::args::ExportArgs;
use super::config::{self, ConfigError, ExportFlags};
use crate::encode::Signal;
use crate::export::transport::Output;
use crate::workload::RunSummary;
use std::path::Path;

/// Where the run's requests go (with `--local-sink`, the run points them at its sink), from the
/// flags and the environment; `--output -` and `--summary-json -` are refused together.
pub fn output(cli: &Cli, args: &ExportArgs) -> Result<Output, ConfigError> {
    config::check_stdout(args.output.as_deref(), args.summary_json.as_deref())?;
    let env = |name: &str| config::process_env(name);
    let flags = ExportFlags {
        endpoint: cli.endpoint.as_deref(),
        protocol: args.protocol.as_deref(),
        compression: args.compression.as_deref(),
        headers: &args.headers,
        timeout: args.timeout,
        insecure: args.insecure,
        ca_cert: args.ca_cert.as_deref(),
        client_cert: args.client_cert.as_deref(),
        client_key: args.client_key.as_deref(),
        output: args.output.as_deref(),
        tenant_header: args.tenant_header.as_deref(),
    };
    config::output(&flags, &env)
}

/// 0 when everything generated was accepted (or losses are allowed), 1 otherwise, with one
/// line per signal that lost something.
pub fn outcome(summary: &RunSummary, output: &Output, allow_failures: bool) -> Outcome {
    let mut outcome = Outcome::Success;
    for signal in Signal::ALL {
        let e = summary.export.signal(signal);
        if e.lossless() {
            continue;
        }
        let lost = e.generated - e.accepted;
        let verdict = if allow_failures { "warning" } else { "error" };
        eprintln!(
            "{verdict}: {lost} of {} {} were not accepted by {}",
            e.generated,
            signal.item(),
            output.describe(signal)
        );
        if !allow_failures {
            outcome = Outcome::Failure;
        }
    }
    outcome
}

/// Writes the summary as JSON: atomically to a regular file (so a reader never sees half of
/// it), directly to `-`, `/dev/stdout` or another device (see [`crate::files::write`]).
pub fn write_summary(path: &Path, summary: &RunSummary) -> Result<(), String> {
    let mut json = serde_json::to_vec_pretty(summary)
        .map_err(|e| format!("cannot serialise the summary: {e}"))?;
    json.push(b'\n');
    crate::files::write(path, &json)
        .map_err(|e| format!("cannot write the summary to {}: {e}", path.display()))
}
