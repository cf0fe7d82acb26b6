//! The `telemetry-simulator` binary: parse the command line, run the command, exit with its status.
#![forbid(unsafe_code)]

use clap::Parser;
use telemetry_simulator::cli::{self, Cli};

/// mimalloc rather than glibc's malloc: log records, metric requests and the sink's decoded
/// requests are many small allocations freed on other threads, and request bodies of a few
/// hundred KB sit above glibc's mmap threshold. Measured here (docs/performance.md): 2× the
/// throughput with metrics and logs on, 1.6–1.8× for the decoding sink, for 2–4× the memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let outcome = cli::run(Cli::parse_from(cli::args_os()));
    std::process::ExitCode::from(outcome.exit_status())
}
