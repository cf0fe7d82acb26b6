//! The `telemetry-simulator` binary: parse the command line, run the command, exit with its status.
#![forbid(unsafe_code)]

use clap::Parser;
use telemetry_simulator::{cli, cli::Cli, commands};

fn main() -> std::process::ExitCode {
    let outcome = commands::run(Cli::parse_from(cli::args_os()));
    std::process::ExitCode::from(outcome.exit_status())
}
