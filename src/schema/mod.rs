//! The semantic-conventions schema file: which attributes each span type carries, and how their
//! values are drawn.
//!
//! The file format is the original tool's (`--schema-path` / `TELEMETRY_SIMULATOR_SCHEMA_PATH`):
//! `schema_version`, `span_names`, `resource_attributes`, `common_attributes`, any other top-level
//! `*_attributes` mapping, `canonical_metrics` and `status_schema`. Real schema files written for
//! the original carry many more sections (`lineage`, `emission_policy`, `*_model`, `*_span_spec`)
//! and per-attribute documentation (`note`, `values`); those are skipped, as the original skipped
//! them. Per-attribute `applies_to` (span name suffixes) is honoured, as the original's later
//! versions, which shipped those files, honoured it for common attributes. Every schema file the
//! original accepted loads: its mistakes (a list where an attribute definition belongs, a value
//! of the wrong type, an unknown key in a definition) are warnings with file, line, column, key
//! path and what was done with the value, in [`Schema::warnings`]; only what the original refused
//! too (bad YAML, an unknown span kind) is an error. See `decode` for why.
//!
//! The module is data only. [`Schema::span_attributes`] reproduces the original's choice of
//! attribute section per span name, and [`AttributeDef::rule`] its order of precedence for values,
//! as a [`ValueRule`] the plan compiler turns into samplers; no random number is drawn here. Keeping
//! the schema out of the hot path this way means a 100 KB schema costs nothing per span. Reading the
//! file with `#[derive(Deserialize)]` structs was rejected for the same reasons as for scenarios
//! (see `crate::yaml`): serde stops at the first error and cannot say where it was, and
//! "ignore unknown keys but check known ones" would need a custom deserializer anyway.
//!
//! A schema is optional for the simulator: without one the bundled [`DEFAULT_SCHEMA`]
//! (`schemas/default.yaml`) documents the conventions the generator emits.

mod decode;
mod rule;

pub use rule::{ContextValue, StringStyle, ValueRule, context_value, is_outcome_attribute};

use crate::yaml::{Diagnostics, Literal, Mark, YAML_PREFIX, normalize_prefix};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The bundled default schema (`schemas/default.yaml`), in the original's format.
pub const DEFAULT_SCHEMA: &str = include_str!("../../schemas/default.yaml");

/// How diagnostics and `validate` name the bundled schema.
pub const BUNDLED_DISPLAY: &str = "<bundled>/default.yaml";

/// `schema_version` when the file does not say.
pub const DEFAULT_VERSION: &str = "1.0.0";

/// Never applied to spans: it is a resource attribute only (as in the original).
pub const RESOURCE_ONLY_ATTRIBUTE: &str = "deployment.environment.name";

/// When no section is named after a span, the original falls back by the span name's suffix to
/// these sections, first match only (longer suffixes first). `response.compose` really does fall
/// back to the orchestration section. `rag.retrieve`, `a2a.call` and `cp.request` have no fallback.
pub const SECTION_FALLBACKS: [(&str, &str); 10] = [
    ("mcp.tool.execute.attempt", "mcp_tool_attributes"),
    ("mcp.tool.execute", "mcp_tool_attributes"),
    (
        "llm.tool.response.bridge",
        "llm_tool_response_bridge_attributes",
    ),
    ("context.augment", "context_augment_attributes"),
    ("a2a.orchestrate", "a2a_orchestration_attributes"),
    ("response.compose", "a2a_orchestration_attributes"),
    ("task.execute", "task_execute_attributes"),
    ("llm.call", "llm_call_attributes"),
    ("planner", "planner_attributes"),
    ("tools.recommend", "tools_recommend_attributes"),
];

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("cannot read schema file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(Diagnostics),
}

/// A parsed schema file.
#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    /// `schema_version` (default "1.0.0"): the `{prefix}.schema.version` resource attribute, and the
    /// value of any attribute named `*schema.version`.
    pub version: String,
    /// How the file was named: its path, or [`BUNDLED_DISPLAY`].
    pub source: String,
    /// `span_names`, in file order. Display only, as in the original.
    pub spans: Vec<SpanDef>,
    /// Every top-level `*_attributes` mapping, in file order, including `resource_attributes` and
    /// `common_attributes`. A key whose value is null (e.g. a section holding only comments) is not
    /// a section, as in the original.
    pub sections: Vec<Section>,
    /// `canonical_metrics`, in file order. Display only: the instruments are the generator's.
    pub metrics: Vec<MetricDef>,
    /// `status_schema.applies_to`: entries such as `"vendor.a2a.outcome (vendor.a2a.orchestrate)"`.
    /// Parsed, as in the original, and used by nothing but display.
    pub status_applies_to: Vec<String>,
    /// Problems that did not stop the file loading (e.g. a `*_attributes` key that is not a mapping).
    pub warnings: Diagnostics,
}

impl Default for Schema {
    /// The minimal schema: `schema_version: "1.0.0"` and nothing else.
    fn default() -> Self {
        Schema {
            version: DEFAULT_VERSION.to_string(),
            source: String::new(),
            spans: Vec::new(),
            sections: Vec::new(),
            metrics: Vec::new(),
            status_applies_to: Vec::new(),
            warnings: Diagnostics::default(),
        }
    }
}

/// One entry of `span_names`.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanDef {
    pub name: String,
    pub description: String,
    /// `span_kind`: one kind or a list (default `[INTERNAL]`).
    pub kinds: Vec<SchemaSpanKind>,
    pub is_root: bool,
    /// `parent: "a | b"` (or a list), split and trimmed.
    pub parents: Vec<String>,
    pub note: String,
}

/// An OTLP span kind as a schema declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemaSpanKind {
    Server,
    Client,
    Internal,
    Producer,
    Consumer,
}

impl SchemaSpanKind {
    pub const ALL: [SchemaSpanKind; 5] = [
        SchemaSpanKind::Server,
        SchemaSpanKind::Client,
        SchemaSpanKind::Internal,
        SchemaSpanKind::Producer,
        SchemaSpanKind::Consumer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SchemaSpanKind::Server => "SERVER",
            SchemaSpanKind::Client => "CLIENT",
            SchemaSpanKind::Internal => "INTERNAL",
            SchemaSpanKind::Producer => "PRODUCER",
            SchemaSpanKind::Consumer => "CONSUMER",
        }
    }

    pub fn parse(text: &str) -> Option<SchemaSpanKind> {
        SchemaSpanKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl fmt::Display for SchemaSpanKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One top-level `*_attributes` mapping.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    /// The top-level key, e.g. `common_attributes` or `vendor_mcp_tool_execute_attributes`.
    pub name: String,
    /// In file order.
    pub attributes: Vec<AttributeDef>,
}

/// One attribute definition.
#[derive(Clone, Debug, PartialEq)]
pub struct AttributeDef {
    pub name: String,
    /// The section it was defined in.
    pub section: String,
    pub ty: AttributeType,
    pub requirement: Requirement,
    pub category: Category,
    pub description: String,
    /// Already checked against `ty` (integers widened to doubles for `double`).
    pub allowed_values: Vec<Literal>,
    /// Already checked against `ty`.
    pub examples: Vec<Literal>,
    /// Already checked against `ty`. `default: null` counts as no default, as in the original.
    pub default: Option<Literal>,
    pub sensitive: bool,
    /// `applies_to`: the span name suffixes (`a2a.orchestrate`) of the spans that carry the
    /// attribute; empty for every span of its section.
    pub applies_to: Vec<String>,
    /// Where the attribute's name was written.
    pub mark: Mark,
}

/// `type:` of an attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttributeType {
    String,
    Int,
    Double,
    Boolean,
    /// Structured or opaque content (`gen_ai.input.messages` in real schema files). Its values are
    /// taken as written; with nothing to draw from, the attribute is not set (the original produced
    /// `None`, which the SDK dropped).
    Any,
}

impl AttributeType {
    pub const ALL: [AttributeType; 5] = [
        AttributeType::String,
        AttributeType::Int,
        AttributeType::Double,
        AttributeType::Boolean,
        AttributeType::Any,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AttributeType::String => "string",
            AttributeType::Int => "int",
            AttributeType::Double => "double",
            AttributeType::Boolean => "boolean",
            AttributeType::Any => "any",
        }
    }

    pub fn parse(text: &str) -> Option<AttributeType> {
        AttributeType::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

impl fmt::Display for AttributeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `required:`: `true`, `"recommended"`, or anything else (optional).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requirement {
    Required,
    Recommended,
    Optional,
}

/// `category:`: `first_class`, or anything else (metadata).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    FirstClass,
    Metadata,
}

/// One entry of `canonical_metrics`.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricDef {
    pub name: String,
    /// `type` (default `counter`), as written.
    pub metric_type: String,
    /// `unit` (default `"1"`).
    pub unit: String,
    pub description: String,
    pub dimensions: Vec<String>,
    /// `emitted_by` (default `data-plane`).
    pub emitted_by: String,
    pub aligns_with_span: Option<String>,
}

/// Reads and checks the schema file at `path`.
pub fn load(path: &Path) -> Result<Schema, SchemaError> {
    let text =
        crate::input::read_to_string(path, crate::input::MAX_FILE_BYTES).map_err(|source| {
            SchemaError::Io {
                path: path.to_path_buf(),
                source,
            }
        })?;
    parse(&text, &path.display().to_string()).map_err(SchemaError::Invalid)
}

/// Parses schema `text`; `display` names the file in diagnostics and in [`Schema::source`].
pub fn parse(text: &str, display: &str) -> Result<Schema, Diagnostics> {
    decode::decode(text, display)
}

/// The bundled default schema, parsed once.
pub fn bundled() -> Schema {
    static BUNDLED: OnceLock<Schema> = OnceLock::new();
    BUNDLED
        .get_or_init(|| match parse(DEFAULT_SCHEMA, BUNDLED_DISPLAY) {
            Ok(schema) => schema,
            Err(diagnostics) => panic!("the bundled schema is invalid:\n{diagnostics}"),
        })
        .clone()
}

impl Schema {
    /// The section named `name`, if the file has it as a mapping.
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// `resource_attributes`, in file order (never applied to spans).
    pub fn resource_attributes(&self) -> &[AttributeDef] {
        self.section("resource_attributes")
            .map_or(&[], |s| &s.attributes)
    }

    /// `common_attributes`, in file order.
    pub fn common_attributes(&self) -> &[AttributeDef] {
        self.section("common_attributes")
            .map_or(&[], |s| &s.attributes)
    }

    /// The section merged over `common_attributes` for span `span_name`: the one named after the
    /// span (dots → `_`, plus `_attributes`), else the first [`SECTION_FALLBACKS`] entry whose
    /// suffix the name has (whether or not that section exists, as in the original).
    pub fn span_section(&self, span_name: &str) -> Option<&Section> {
        let own = format!("{}_attributes", span_name.replace('.', "_"));
        if let Some(section) = self.section(&own) {
            return Some(section);
        }
        let (_, fallback) = SECTION_FALLBACKS
            .iter()
            .find(|(suffix, _)| has_suffix(span_name, suffix))?;
        self.section(fallback)
    }

    /// The attributes a span named `span_name` (as emitted, prefix included) carries: all of
    /// `common_attributes`, then its [`span_section`](Self::span_section), a later definition
    /// replacing an earlier one of the same name in place; `deployment.environment.name` and
    /// attributes whose `applies_to` names other spans are left out. Empty when the schema defines
    /// nothing for the span (e.g. the minimal schema).
    pub fn span_attributes(&self, span_name: &str) -> Vec<&AttributeDef> {
        let mut out: Vec<&AttributeDef> = self.common_attributes().iter().collect();
        if let Some(section) = self.span_section(span_name) {
            for attr in &section.attributes {
                match out.iter().position(|a| a.name == attr.name) {
                    Some(i) => out[i] = attr,
                    None => out.push(attr),
                }
            }
        }
        out.retain(|a| a.name != RESOURCE_ONLY_ATTRIBUTE && a.applies(span_name));
        out
    }

    /// The success and failure values of outcome attribute `name` on span `span_name`, from its
    /// definition there (see [`AttributeDef::outcome_values`]).
    pub fn outcome_values(&self, span_name: &str, name: &str) -> Option<(Literal, Literal)> {
        self.span_attributes(span_name)
            .into_iter()
            .find(|a| a.name == name)?
            .outcome_values()
    }

    /// The schema with the `vendor` namespace renamed to `prefix`: span names, attribute names,
    /// metric names and dimensions (`vendor.x` → `prefix.x`) and section names
    /// (`vendor_x_attributes` → `prefix_x_attributes`). Meant for the bundled schema, which is
    /// written in the `vendor` namespace like the sample scenarios; user schema files are taken as
    /// written, as in the original.
    pub fn with_prefix(mut self, prefix: &str) -> Schema {
        if prefix == YAML_PREFIX {
            return self;
        }
        let rename = |s: &str| normalize_prefix(s, prefix);
        let section_prefix = format!("{YAML_PREFIX}_");
        let new_section_prefix = format!("{}_", prefix.replace('.', "_"));
        for span in &mut self.spans {
            span.name = rename(&span.name);
            for parent in &mut span.parents {
                *parent = rename(parent);
            }
        }
        for section in &mut self.sections {
            if let Some(rest) = section.name.strip_prefix(&section_prefix) {
                section.name = format!("{new_section_prefix}{rest}");
            }
            for attr in &mut section.attributes {
                attr.name = rename(&attr.name);
                attr.section.clone_from(&section.name);
            }
        }
        for metric in &mut self.metrics {
            metric.name = rename(&metric.name);
            for dimension in &mut metric.dimensions {
                *dimension = rename(dimension);
            }
            if let Some(span) = &mut metric.aligns_with_span {
                *span = rename(span);
            }
        }
        self
    }

    /// The lines `validate` always prints: version and path.
    pub fn describe_header(&self) -> String {
        format!("   Version: {}\n   Path: {}\n", self.version, self.source)
    }

    /// `validate --show-schema`: version, path and what the file defines.
    pub fn describe_summary(&self) -> String {
        let names: Vec<&str> = self.spans.iter().map(|s| s.name.as_str()).collect();
        let span_list = if names.is_empty() {
            String::new()
        } else {
            format!(" ({})", names.join(", "))
        };
        let span_sections = self
            .sections
            .iter()
            .filter(|s| s.name != "resource_attributes" && s.name != "common_attributes")
            .count();
        format!(
            "Schema Summary:\n  Version: {}\n  Path: {}\n  Span types: {}{span_list}\n  \
             Resource attributes: {}\n  Common attributes: {}\n  Other attribute sections: {span_sections}\n  \
             Metrics: {}\n",
            self.version,
            self.source,
            self.spans.len(),
            self.resource_attributes().len(),
            self.common_attributes().len(),
            self.metrics.len(),
        )
    }

    /// `validate --show-spans`: `  - name [KINDS] (root) <- parents`, then the description.
    pub fn describe_spans(&self) -> String {
        let mut out = String::from("Span Type Definitions:\n");
        for span in &self.spans {
            let kinds: Vec<&str> = span.kinds.iter().map(|k| k.as_str()).collect();
            out.push_str(&format!("  - {} [{}]", span.name, kinds.join(", ")));
            if span.is_root {
                out.push_str(" (root)");
            }
            if !span.parents.is_empty() {
                out.push_str(&format!(" <- {}", span.parents.join(", ")));
            }
            out.push('\n');
            if !span.description.is_empty() {
                out.push_str(&format!("    {}\n", span.description));
            }
        }
        out
    }

    /// `validate --show-metrics`: name, type, unit, dimensions and emitter of each metric.
    pub fn describe_metrics(&self) -> String {
        let mut out = String::from("Canonical Metrics:\n");
        for metric in &self.metrics {
            out.push_str(&format!(
                "  - {}\n    Type: {}, Unit: {}\n    Dimensions: {}\n    Emitted by: {}\n",
                metric.name,
                metric.metric_type,
                metric.unit,
                metric.dimensions.join(", "),
                metric.emitted_by
            ));
        }
        out
    }
}

impl AttributeDef {
    /// Whether the attribute goes on span `span_name`: always without `applies_to`, else when the
    /// name is one of its entries or ends with `.entry` (`vendor.a2a.orchestrate` for
    /// `a2a.orchestrate`).
    pub fn applies(&self, span_name: &str) -> bool {
        self.applies_to.is_empty() || self.applies_to.iter().any(|s| has_suffix(span_name, s))
    }
}

/// `name` is `suffix`, or ends with `.suffix`.
fn has_suffix(name: &str, suffix: &str) -> bool {
    name == suffix
        || name
            .strip_suffix(suffix)
            .is_some_and(|rest| rest.ends_with('.'))
}

#[cfg(test)]
mod tests;
