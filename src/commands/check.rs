//! `check`: placeholder.
use super::Outcome;
use crate::cli::{CheckArgs, Cli};
pub fn check(_cli: &Cli, _args: &CheckArgs) -> Outcome {
    Outcome::Failure
}
