//! `schema`: the JSON Schema of the scenario format on stdout, for editors and CI
//! (see docs/editor-support.md). Span types are listed under both `vendor.` and the configured
//! prefix (`TELEMETRY_SIMULATOR_ATTR_PREFIX`).

use super::out::outln;
use super::{Outcome, config, env};
use crate::scenario::json_schema::scenario_schema;

pub fn print_json_schema() -> Outcome {
    let schema = scenario_schema(&config::attr_prefix(&env));
    match serde_json::to_string_pretty(&schema) {
        Ok(text) => {
            outln!("{text}");
            Outcome::Success
        }
        Err(error) => {
            eprintln!("error: cannot print the JSON Schema: {error}");
            Outcome::Failure
        }
    }
}
