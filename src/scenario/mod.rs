//! Scenarios: the YAML files users write, read into a typed, checked model.
//!
//! A scenario is looked up by name in a library, which is either the sample definitions embedded
//! in the binary or a folder the user names (`--scenarios-dir`). Embedding the samples means the
//! binary works on its own, wherever it is copied; the original looked beside its own source files.

mod decode;
mod failures;
pub mod format;
mod generic;
pub mod json_schema;
pub(crate) mod llm;
mod model;
pub mod services;
mod source_map;
mod span_type;
pub mod timing;
mod traffic;

pub use crate::yaml::{Diagnostic, Diagnostics, Severity, nearest};
pub use decode::session::{Context, Evaluation, Overflow, Session, Users};
pub use decode::{
    DEFAULT_DISTRIBUTION_COUNT_MAX, Decoded, LoadOptions, MAX_ATTRIBUTE_NESTING, PricesError,
    decode, decode_located, decode_models, load_models, with_models, worst_case_spans,
};
pub use failures::{
    DEFAULT_RATE_LIMIT_ATTEMPTS, DEFAULT_RETRY_AFTER_MS, DEFAULT_TIMEOUT_MS, Failures, RateLimit,
    Timeout,
};
pub use format::accepted_keys;
pub use generic::{
    Convention, Generic, KIND_NAMES, Link, LinkTarget, PREVIOUS_TRACE, Wiring, parse_kind,
    placeholders,
};
pub use llm::{CacheRead, LlmStep, LlmTiming, ModelSpec};
pub use model::*;
pub use services::{Remote, Service};
pub use source_map::{SourceMap, StepSource};
pub use span_type::{SpanType, YAML_PREFIX, normalize_prefix};
pub use traffic::{Pattern, duration_seconds, parse_duration};

use std::path::{Path, PathBuf};

/// The reference file that documents every option: runnable by name, but left out of listings
/// and mixed workloads of the bundled set.
pub const EXAMPLE_SCENARIO: &str = "example_scenario";

/// The sample definitions shipped inside the binary (`scenarios/` in the source tree).
pub const BUNDLED: &[(&str, &str)] = &[
    (
        "agent_delegation",
        include_str!("../../scenarios/agent_delegation.yaml"),
    ),
    (
        "control_plane_guard",
        include_str!("../../scenarios/control_plane_guard.yaml"),
    ),
    (
        "distributed_agent",
        include_str!("../../scenarios/distributed_agent.yaml"),
    ),
    (
        "evaluated_rag",
        include_str!("../../scenarios/evaluated_rag.yaml"),
    ),
    (
        "example_scenario",
        include_str!("../../scenarios/example_scenario.yaml"),
    ),
    (
        "llm_rate_limited",
        include_str!("../../scenarios/llm_rate_limited.yaml"),
    ),
    (
        "multi_tool_poisson",
        include_str!("../../scenarios/multi_tool_poisson.yaml"),
    ),
    (
        "planner_failure_cascade",
        include_str!("../../scenarios/planner_failure_cascade.yaml"),
    ),
    (
        "provider_outage",
        include_str!("../../scenarios/provider_outage.yaml"),
    ),
    (
        "rag_augmented_turn",
        include_str!("../../scenarios/rag_augmented_turn.yaml"),
    ),
    (
        "reasoning_agent",
        include_str!("../../scenarios/reasoning_agent.yaml"),
    ),
    (
        "streaming_assistant",
        include_str!("../../scenarios/streaming_assistant.yaml"),
    ),
    (
        "successful_agent_turn",
        include_str!("../../scenarios/successful_agent_turn.yaml"),
    ),
    (
        "support_chat",
        include_str!("../../scenarios/support_chat.yaml"),
    ),
    (
        "task_decomposition",
        include_str!("../../scenarios/task_decomposition.yaml"),
    ),
    (
        "tool_retry",
        include_str!("../../scenarios/tool_retry.yaml"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("scenario `{name}` not found in {place}{}", available_list(.available))]
    NotFound {
        name: String,
        place: String,
        available: Vec<String>,
    },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(Diagnostics),
}

fn available_list(names: &[String]) -> String {
    if names.is_empty() {
        String::new()
    } else {
        format!("; available: {}", names.join(", "))
    }
}

/// One scenario file's text and the name it is known by.
#[derive(Clone, Debug)]
pub struct ScenarioFile {
    pub name: String,
    /// How diagnostics name the file.
    pub display: String,
    pub text: String,
}

impl ScenarioFile {
    pub fn read(path: &Path) -> Result<ScenarioFile, LoadError> {
        let bytes = crate::input::read(path, crate::input::MAX_FILE_BYTES).map_err(|source| {
            LoadError::Io {
                path: path.to_path_buf(),
                source,
            }
        })?;
        let display = path.display().to_string();
        let text = String::from_utf8(bytes).map_err(|e| {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|b| **b == b'\n').count() as u32 + 1;
            let column = valid.iter().rev().take_while(|b| **b != b'\n').count() as u32 + 1;
            LoadError::Invalid(Diagnostics(vec![Diagnostic {
                severity: Severity::Error,
                file: display.clone(),
                mark: Some(crate::yaml::Mark { line, column }),
                path: String::new(),
                message: "the file is not UTF-8 text".into(),
                help: Some("save it as UTF-8".into()),
                source_line: None,
            }]))
        })?;
        Ok(ScenarioFile {
            name: path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            display,
            text,
        })
    }

    /// Decodes the file; the scenario comes with its warnings.
    pub fn decode(&self, options: &LoadOptions) -> Result<(Scenario, Diagnostics), Diagnostics> {
        decode(&self.text, &self.display, &self.name, options)
    }

    /// Decodes the file, keeping where each part was written.
    pub fn decode_located(&self, options: &LoadOptions) -> Result<Decoded, Diagnostics> {
        decode_located(&self.text, &self.display, &self.name, options)
    }
}

/// Where scenarios are looked up.
#[derive(Clone, Debug)]
pub enum Library {
    Bundled,
    Dir(PathBuf),
}

impl Library {
    pub fn new(dir: Option<PathBuf>) -> Library {
        dir.map_or(Library::Bundled, Library::Dir)
    }

    /// Every scenario file, sorted by name (the bundled set without the reference file).
    pub fn files(&self) -> Result<Vec<ScenarioFile>, LoadError> {
        match self {
            Library::Bundled => Ok(BUNDLED
                .iter()
                .filter(|(name, _)| *name != EXAMPLE_SCENARIO)
                .map(|(name, text)| bundled_file(name, text))
                .collect()),
            Library::Dir(dir) => {
                let mut files = scenario_paths(dir)?
                    .iter()
                    .map(|p| ScenarioFile::read(p))
                    .collect::<Result<Vec<_>, _>>()?;
                files.sort_by(|a, b| a.name.cmp(&b.name));
                Ok(files)
            }
        }
    }

    /// The file of scenario `name`.
    pub fn file(&self, name: &str) -> Result<ScenarioFile, LoadError> {
        let found = match self {
            Library::Bundled => BUNDLED
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(n, text)| Ok(bundled_file(n, text))),
            Library::Dir(dir) => ["yaml", "yml"]
                .iter()
                .map(|ext| dir.join(format!("{name}.{ext}")))
                // Whatever is there is read (and refused if it is not a regular file).
                .find(|p| p.exists())
                .map(|p| ScenarioFile::read(&p)),
        };
        found.unwrap_or_else(|| {
            Err(LoadError::NotFound {
                name: name.to_string(),
                place: self.to_string(),
                available: self
                    .files()
                    .map(|files| files.into_iter().map(|f| f.name).collect())
                    .unwrap_or_default(),
            })
        })
    }

    /// Loads and checks scenario `name`, returning it with its warnings.
    pub fn load(
        &self,
        name: &str,
        options: &LoadOptions,
    ) -> Result<(Scenario, Diagnostics), LoadError> {
        self.file(name)?.decode(options).map_err(LoadError::Invalid)
    }
}

impl std::fmt::Display for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Library::Bundled => f.write_str("the bundled sample scenarios"),
            Library::Dir(dir) => write!(f, "{}", dir.display()),
        }
    }
}

fn bundled_file(name: &str, text: &str) -> ScenarioFile {
    ScenarioFile {
        name: name.to_string(),
        display: format!("<bundled>/{name}.yaml"),
        text: text.to_string(),
    }
}

/// The `.yaml`/`.yml` entries directly inside `dir` other than folders: a FIFO or device named
/// `*.yaml` is listed, so that reading it fails with a clear error rather than being skipped.
pub fn scenario_paths(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let is_yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
        if is_yaml && !path.is_dir() {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_scenario_is_valid_and_listed() {
        for (name, text) in BUNDLED {
            let file = bundled_file(name, text);
            if let Err(d) = file.decode(&LoadOptions::default()) {
                panic!("{name} is invalid:\n{d}");
            }
        }
        let on_disk: Vec<String> =
            scenario_paths(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios")))
                .unwrap()
                .iter()
                .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
                .collect();
        let embedded: Vec<String> = BUNDLED.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(on_disk, embedded, "scenarios/ and BUNDLED differ");
    }

    #[test]
    fn bundled_listing_leaves_out_the_reference_file() {
        let names: Vec<String> = Library::Bundled
            .files()
            .unwrap()
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert!(!names.contains(&EXAMPLE_SCENARIO.to_string()));
        assert!(names.contains(&"successful_agent_turn".to_string()));
        assert!(Library::Bundled.file(EXAMPLE_SCENARIO).is_ok());
    }
}
