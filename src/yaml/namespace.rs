//! The namespace names are written in, in both file formats, and its renaming at load.
//!
//! Scenario files and schema files name span types, attributes and metrics in the `vendor.`
//! namespace (`vendor.llm.call`, `vendor.step.outcome`); `TELEMETRY_SIMULATOR_ATTR_PREFIX`
//! renames it as the files are read. The rule lives here, below both decoders, because both apply
//! it to what they read; keeping it with the scenario's span types made the schema import the
//! scenario model for one string function, the dependency this module removes.

/// The default namespace written in scenario and schema files; rewritten to the configured prefix.
pub const YAML_PREFIX: &str = "vendor";

/// Rewrites a `vendor.`-prefixed key or metric name to the configured prefix.
pub fn normalize_prefix(key: &str, prefix: &str) -> String {
    match key
        .strip_prefix(YAML_PREFIX)
        .and_then(|r| r.strip_prefix('.'))
    {
        Some(rest) if prefix != YAML_PREFIX => format!("{prefix}.{rest}"),
        _ => key.to_string(),
    }
}
