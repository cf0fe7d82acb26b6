//! Shell completions and the man page, generated from the clap definition in `cli`.
//!
//! Both come from the same definition that parses the command line, so they can never list a flag
//! the binary does not take. They are subcommands of the binary (hidden from `--help`) rather than
//! files made by a build script: a build script would run on every build of every user for the
//! benefit of the few who package the tool, and an installed binary can still print them
//! (`telemetry-simulator completions bash`, `telemetry-simulator man`).

use super::{Cli, Outcome};
use clap::{Args, CommandFactory};
use std::io::Write;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Writes the completion script for `shell` to stdout.
pub fn completions(shell: clap_complete::Shell) -> Outcome {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "telemetry-simulator", &mut out);
    write_stdout(&out)
}

/// Writes the man page (roff) to stdout.
pub fn man() -> Outcome {
    let mut out = Vec::new();
    match man_page(&mut out) {
        Ok(()) => write_stdout(&out),
        Err(error) => {
            eprintln!("error: cannot render the man page: {error}");
            Outcome::Failure
        }
    }
}

/// The man page: one page for the command and, in place of references to per-subcommand pages,
/// a section per visible subcommand with its options.
pub fn man_page(out: &mut Vec<u8>) -> std::io::Result<()> {
    let command = Cli::command();
    let man = clap_mangen::Man::new(command.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    man.render_extra_section(out)?;
    man.render_version_section(out)?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        writeln!(out, ".SH \"COMMAND: {}\"", sub.get_name())?;
        let man = clap_mangen::Man::new(sub.clone());
        man.render_description_section(out)?;
        man.render_options_section(out)?;
    }
    Ok(())
}

fn write_stdout(bytes: &[u8]) -> Outcome {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Outcome::Success,
        // A closed pipe (`| head`) is not a failure of ours.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Outcome::Success,
        Err(error) => {
            eprintln!("error: cannot write to stdout: {error}");
            Outcome::Failure
        }
    }
}
