//! `list`: the scenarios of the folder, one paragraph each; a broken file is listed as such.

use super::out::outln;
use super::{Outcome, load_failed, load_options};
use crate::scenario::Library;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Folder of scenario YAML files [default: the bundled samples]
    #[arg(long, value_name = "DIR")]
    pub scenarios_dir: Option<PathBuf>,
}

pub fn list(args: &ListArgs) -> Outcome {
    let library = Library::new(args.scenarios_dir.clone());
    let files = match library.files() {
        Ok(files) => files,
        Err(error) => return load_failed(&error),
    };
    if files.is_empty() {
        outln!("No scenarios found.\nLooking in: {library}");
        return Outcome::Success;
    }
    let options = load_options(u64::MAX);
    let mut outcome = Outcome::Success;
    outln!("Available scenarios:\n");
    for file in files {
        match file.decode(&options) {
            Ok((s, _)) => {
                let mut description = s
                    .description
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                if description.chars().count() > 60 {
                    description = description.chars().take(60).collect::<String>() + "...";
                }
                let tags = if s.tags.is_empty() {
                    "none".to_string()
                } else {
                    s.tags.join(", ")
                };
                outln!("  - {}", s.name);
                outln!("     {description}");
                outln!("     Tags: {tags}");
                outln!(
                    "     Repeat: {}, Interval: {}ms\n",
                    s.repeat_count,
                    s.interval_ms
                );
            }
            Err(_) => {
                // One broken file must not hide the others; `validate` says what is wrong.
                outln!(
                    "  - {} (invalid: run `telemetry-simulator validate {}`)\n",
                    file.name,
                    file.display
                );
                outcome = Outcome::Usage;
            }
        }
    }
    outcome
}
