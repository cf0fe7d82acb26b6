//! Standard output for the commands: a reader that goes away (`telemetry-simulator list | head
//! -1`) ends the output, quietly, and nothing else.
//!
//! `println!` panics when stdout is a closed pipe (Rust ignores SIGPIPE, so the write fails with
//! EPIPE instead of killing the process), which turned `list | head -1` into exit 101 and a panic
//! message. The alternatives rejected: restoring SIGPIPE's default action kills the process with
//! a signal (exit 141 in a shell) in the middle of a run, before its telemetry is flushed and
//! counted; a panic hook that exits 0 would hide the run's real exit status. Here a failed write
//! only stops what is printed: the command goes on with its work (a run still sends and counts
//! its telemetry) and exits with its own status. Other write errors (a full disk) are reported
//! once on stderr, and likewise end the output.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once stdout has failed: nothing more is written to it.
static ENDED: AtomicBool = AtomicBool::new(false);

/// Writes `text` to stdout, unless its reader has gone.
pub fn write(text: std::fmt::Arguments) {
    if ENDED.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_fmt(text) {
        end(&error);
    }
}

/// Flushes stdout (before exiting: a line written with `out!` and no newline may be buffered).
pub fn flush() {
    if !ENDED.load(Ordering::Relaxed)
        && let Err(error) = std::io::stdout().lock().flush()
    {
        end(&error);
    }
}

fn end(error: &std::io::Error) {
    if !ENDED.swap(true, Ordering::Relaxed) && error.kind() != std::io::ErrorKind::BrokenPipe {
        eprintln!("error: cannot write to stdout: {error}");
    }
}

/// `print!` that ends quietly on a closed stdout.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::out::write(format_args!($($arg)*))
    };
}

/// `println!` that ends quietly on a closed stdout.
macro_rules! outln {
    () => {
        $crate::cli::out::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::out::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {out, outln};
