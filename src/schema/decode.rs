//! Reads a located YAML tree into a [`Schema`], checking the keys it knows and ignoring the rest.
//!
//! The walk is by hand over [`Node`] with the located-YAML reader the scenario decoder uses too
//! (`crate::yaml`), so every problem comes with its line, column and key path and one pass reports
//! them all. Unlike scenarios, the decoder is lenient: a schema file the original tool accepted
//! must load and mean what it meant there, and every file the original ever shipped has mistakes
//! in it (lists and strings where an attribute definition belongs, a default of the wrong type,
//! ...). So each problem the original lived with is a **warning** that says what was done with the
//! value (ignored, kept as written, ...), the reader's [`Policy::Ignore`], and only what the
//! original refused too (a YAML syntax error, a document that is not a mapping, an unknown span
//! kind) is an error. `validate --strict` turns the warnings into errors; refusing them always was
//! rejected because it made every real schema file unusable.
//!
//! Unknown top-level sections (`lineage`, `*_model`, `*_span_spec`) are documentation and are
//! skipped silently, unless the name is a near miss of a key the simulator reads. Inside attribute,
//! span and metric definitions the documentation keys the original's files use (`note`, `values`,
//! `value_attribute`) are accepted, and any other unknown key is a warning, with a "did you mean".

use super::{
    AttributeDef, AttributeType, Category, DEFAULT_VERSION, MetricDef, Requirement, Schema,
    SchemaSpanKind, Section, SpanDef,
};
use crate::yaml::{
    Diagnostics, Literal, Mark, Node, Policy, Report, Severity, Value, join, nearest,
};

/// Decodes schema `text`, read from `file`.
pub(super) fn decode(text: &str, file: &str) -> Result<Schema, Diagnostics> {
    let mut d = Decoder {
        report: Report::new(file, text, Policy::Ignore),
    };
    let mut schema = Schema {
        source: file.to_string(),
        ..Schema::default()
    };
    if let Some(node) = d.report.parse() {
        d.document(&node, &mut schema);
    }
    let diagnostics = d.report.finish();
    if diagnostics.has_errors() {
        return Err(diagnostics);
    }
    schema.warnings = diagnostics;
    Ok(schema)
}

struct Decoder<'a> {
    report: Report<'a>,
}

/// The top-level keys read, besides the `*_attributes` sections: a near miss of one is a warning.
const TOP_LEVEL_KEYS: [&str; 6] = [
    "schema_version",
    "span_names",
    "canonical_metrics",
    "status_schema",
    "resource_attributes",
    "common_attributes",
];

/// The keys read in an attribute definition. `note` and `values` (descriptions of the allowed
/// values) are documentation the original's files carry.
const ATTRIBUTE_KEYS: [&str; 11] = [
    "type",
    "required",
    "category",
    "description",
    "sensitive",
    "default",
    "allowed_values",
    "examples",
    "applies_to",
    "note",
    "values",
];

/// The keys read in a `span_names` entry.
const SPAN_KEYS: [&str; 5] = ["description", "span_kind", "is_root", "parent", "note"];

/// The keys read in a `canonical_metrics` entry (`value_attribute` is documentation).
const METRIC_KEYS: [&str; 7] = [
    "type",
    "unit",
    "description",
    "dimensions",
    "emitted_by",
    "aligns_with_span",
    "value_attribute",
];

/// Common misnamings of the attribute types, for the "did you mean".
const TYPE_ALIASES: [(&str, AttributeType); 9] = [
    ("integer", AttributeType::Int),
    ("int64", AttributeType::Int),
    ("long", AttributeType::Int),
    ("float", AttributeType::Double),
    ("number", AttributeType::Double),
    ("float64", AttributeType::Double),
    ("bool", AttributeType::Boolean),
    ("str", AttributeType::String),
    ("enum", AttributeType::String),
];

impl<'a> Decoder<'a> {
    /// An error at `node`: what the original refused too.
    fn error(&mut self, node: &Node, path: &str, message: impl Into<String>, help: Option<String>) {
        self.report
            .push(Severity::Error, Some(node.mark), path, message, help);
    }

    /// Warns about each key of `entries` not in `known`, with the nearest known key if any.
    fn unknown_keys(&mut self, entries: &[(String, &Node, &Node)], path: &str, known: &[&str]) {
        for (key, key_node, _) in entries {
            if !known.contains(&key.as_str()) {
                self.report.unknown_key(key_node.mark, path, key, known);
            }
        }
    }

    /// A boolean, or `None` for null.
    fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        match &node.value {
            Value::Bool(b) => Some(*b),
            Value::Null => None,
            _ => {
                let help = matches!(&node.value, Value::Str(s) if s == "true" || s == "false")
                    .then(|| "remove the quotes".to_string());
                self.report.warn(
                    node.mark,
                    path,
                    format!(
                        "expected true or false, found {}; read as false",
                        node.show()
                    ),
                    help,
                );
                None
            }
        }
    }

    fn document(&mut self, node: &Node, schema: &mut Schema) {
        let entries = match &node.value {
            Value::Null => return,
            Value::Map(_) => self
                .report
                .entries(node, "", "a mapping")
                .unwrap_or_default(),
            _ => {
                self.error(
                    node,
                    "",
                    format!(
                        "expected a mapping of schema sections, found {}",
                        node.kind()
                    ),
                    Some("a minimal schema is the line `schema_version: \"1.0.0\"`".into()),
                );
                return;
            }
        };
        for (key, key_node, value) in entries {
            match key.as_str() {
                "schema_version" => schema.version = self.version(value, &key),
                "span_names" => self.spans(value, &key, schema),
                "canonical_metrics" => self.metrics(value, &key, schema),
                "status_schema" => self.status(value, &key, schema),
                _ if key.ends_with("_attributes") => match &value.value {
                    Value::Map(_) => {
                        let section = self.section(value, &key);
                        schema.sections.push(section);
                    }
                    // A section holding only comments: nothing to read, as in the original.
                    Value::Null => {}
                    _ => self.report.warn(
                        key_node.mark,
                        &key,
                        format!(
                            "expected a mapping of attribute name to definition, found {}; \
                             the section is ignored",
                            value.kind()
                        ),
                        None,
                    ),
                },
                _ => {
                    // Documentation sections are skipped; a near miss of a key read here is not.
                    if let Some(near) = nearest(&key, TOP_LEVEL_KEYS.iter().copied()) {
                        self.report.warn(
                            key_node.mark,
                            &key,
                            format!("unknown section `{key}`; ignored"),
                            Some(format!("did you mean `{near}`?")),
                        );
                    }
                }
            }
        }
    }

    /// `schema_version`: a string; an unquoted number such as `1.1` is read as its text.
    fn version(&mut self, node: &Node, path: &str) -> String {
        match &node.value {
            Value::Str(s) => s.clone(),
            Value::Null => DEFAULT_VERSION.to_string(),
            Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
                let text = node.scalar_text().unwrap_or_default();
                self.report.warn(
                    node.mark,
                    path,
                    format!(
                        "expected a string, found {}; read as \"{text}\"",
                        node.show()
                    ),
                    Some(format!("quote it: \"{text}\"")),
                );
                text
            }
            Value::Seq(_) | Value::Map(_) => {
                self.report.expected(node, path, "a string");
                DEFAULT_VERSION.to_string()
            }
        }
    }

    fn section(&mut self, node: &Node, name: &str) -> Section {
        let entries = self
            .report
            .entries(node, name, "a mapping")
            .unwrap_or_default();
        let attributes = entries
            .into_iter()
            .filter_map(|(attr, key, value)| self.attribute(name, &attr, key.mark, value))
            .collect();
        Section {
            name: name.to_string(),
            attributes,
        }
    }

    fn attribute(
        &mut self,
        section: &str,
        name: &str,
        mark: Mark,
        node: &Node,
    ) -> Option<AttributeDef> {
        let path = join(section, name);
        let mut def = AttributeDef {
            name: name.to_string(),
            section: section.to_string(),
            ty: AttributeType::String,
            requirement: Requirement::Optional,
            category: Category::Metadata,
            description: String::new(),
            allowed_values: Vec::new(),
            examples: Vec::new(),
            default: None,
            sensitive: false,
            applies_to: Vec::new(),
            mark,
        };
        let entries = match &node.value {
            Value::Map(_) => self
                .report
                .entries(node, &path, "a mapping")
                .unwrap_or_default(),
            Value::Null => {
                self.report.warn(
                    mark,
                    &path,
                    format!(
                        "`{name}` has no definition; kept as a string attribute whose value is \
                         generated from its name, as the original did"
                    ),
                    Some(
                        "give it a definition such as `{type: string}`, or remove it if it is not \
                         an attribute"
                            .into(),
                    ),
                );
                return Some(def);
            }
            _ => {
                self.not_a_definition(name, mark, &path, node);
                return None;
            }
        };
        self.unknown_keys(&entries, &path, &ATTRIBUTE_KEYS);
        // Values are checked against the type, which may be written after them.
        let mut values: Vec<(&str, &Node)> = Vec::new();
        for (key, _, value) in entries {
            let key_path = join(&path, &key);
            match key.as_str() {
                "type" => def.ty = self.attribute_type(value, &key_path),
                "required" => def.requirement = self.requirement(value, &key_path),
                "category" => {
                    def.category = match self.report.string(value, &key_path).as_deref() {
                        Some("first_class") => Category::FirstClass,
                        _ => Category::Metadata,
                    }
                }
                "description" => {
                    def.description = self.report.string(value, &key_path).unwrap_or_default()
                }
                "sensitive" => def.sensitive = self.boolean(value, &key_path).unwrap_or(false),
                "applies_to" => def.applies_to = self.applies_to(value, &key_path),
                "default" => values.push(("default", value)),
                "allowed_values" => values.push(("allowed_values", value)),
                "examples" => values.push(("examples", value)),
                _ => {}
            }
        }
        for (key, value) in values {
            let key_path = join(&path, key);
            match key {
                "default" => def.default = self.typed(def.ty, value, &key_path, true),
                "allowed_values" => def.allowed_values = self.typed_list(def.ty, value, &key_path),
                _ => def.examples = self.typed_list(def.ty, value, &key_path),
            }
        }
        Some(def)
    }

    /// Warns that the entry `name` of a section is not an attribute definition (the original's
    /// files have section-level `note:` strings and lists of names); it is ignored.
    fn not_a_definition(&mut self, name: &str, mark: Mark, path: &str, node: &Node) {
        let help = match name {
            "applies_to" => "`applies_to` belongs inside each attribute's definition; at section \
                             level it has no effect"
                .to_string(),
            "note" | "description" => {
                format!("a section has no `{name}`: make it a YAML comment (`# ...`)")
            }
            _ => match node.value {
                Value::Seq(_) => "a list of attribute names is not read here; an attribute needs \
                                  a mapping such as `{type: string}` (was this meant to be nested \
                                  elsewhere?)"
                    .to_string(),
                _ => "an attribute needs a mapping such as `{type: string}`".to_string(),
            },
        };
        self.report.warn(
            mark,
            path,
            format!(
                "expected an attribute definition (a mapping with type, required, default, ...), \
                 found {}; ignored",
                node.show()
            ),
            Some(help),
        );
    }

    /// `applies_to`: span name suffixes, as a list or a comma-separated string.
    fn applies_to(&mut self, node: &Node, path: &str) -> Vec<String> {
        let names = match &node.value {
            Value::Str(s) => s.split(',').map(|p| p.trim().to_string()).collect(),
            _ => self.report.strings(node, path),
        };
        names.into_iter().filter(|n| !n.is_empty()).collect()
    }

    /// The declared type. One not understood is read as `any`, as the original did: values are
    /// taken as written and, with none to draw from, the attribute is not set.
    fn attribute_type(&mut self, node: &Node, path: &str) -> AttributeType {
        match &node.value {
            Value::Str(text) => {
                if let Some(ty) = AttributeType::parse(text) {
                    return ty;
                }
            }
            Value::Null => return AttributeType::String,
            _ => {}
        }
        let names: Vec<&str> = AttributeType::ALL.iter().map(|t| t.as_str()).collect();
        let help = match &node.value {
            Value::Str(text) => {
                let lower = text.to_ascii_lowercase();
                TYPE_ALIASES
                    .iter()
                    .find(|(alias, _)| *alias == lower)
                    .map(|(_, ty)| ty.as_str())
                    .or_else(|| AttributeType::parse(&lower).map(|t| t.as_str()))
                    .or_else(|| nearest(&lower, names.iter().copied()))
                    .map(|n| format!("did you mean `{n}`?"))
            }
            _ => None,
        };
        self.report.warn(
            node.mark,
            path,
            format!(
                "expected one of {}, found {}; read as `any` (values as written; with none, the \
                 attribute is not set), as the original did",
                names.join(", "),
                node.show()
            ),
            help,
        );
        AttributeType::Any
    }

    fn requirement(&mut self, node: &Node, path: &str) -> Requirement {
        match &node.value {
            Value::Bool(true) => Requirement::Required,
            Value::Str(s) if s == "recommended" => Requirement::Recommended,
            // "required" is what `true` means; the original read any other string as optional.
            Value::Str(s) if s == "required" => Requirement::Required,
            Value::Bool(false) | Value::Str(_) | Value::Null => Requirement::Optional,
            _ => {
                self.report.warn(
                    node.mark,
                    path,
                    format!(
                        "expected true, false or \"recommended\", found {}; read as optional",
                        node.show()
                    ),
                    None,
                );
                Requirement::Optional
            }
        }
    }

    /// A value of type `ty`. Null is "not given" where `null_ok`, else an error.
    fn typed(
        &mut self,
        ty: AttributeType,
        node: &Node,
        path: &str,
        null_ok: bool,
    ) -> Option<Literal> {
        let converted = match (&node.value, ty) {
            (Value::Null, _) if null_ok => return None,
            (Value::Str(s), AttributeType::String) => Some(Literal::Str(s.clone())),
            (Value::Int(i), AttributeType::Int) => Some(Literal::Int(*i)),
            (Value::Int(i), AttributeType::Double) => Some(Literal::Float(*i as f64)),
            (Value::Float(f), AttributeType::Double) => Some(Literal::Float(*f)),
            (Value::Bool(b), AttributeType::Boolean) => Some(Literal::Bool(*b)),
            (_, AttributeType::Any) => node.literal(),
            _ => None,
        };
        if converted.is_some() {
            return converted;
        }
        let help = match (&node.value, ty) {
            (Value::Int(_) | Value::Float(_) | Value::Bool(_), AttributeType::String) => Some(
                format!("quote it: \"{}\"", node.scalar_text().unwrap_or_default()),
            ),
            (Value::Str(s), AttributeType::Int) if s.trim().parse::<i64>().is_ok() => {
                Some("remove the quotes".into())
            }
            (Value::Str(s), AttributeType::Double) if s.trim().parse::<f64>().is_ok() => {
                Some("remove the quotes".into())
            }
            (Value::Str(s), AttributeType::Boolean) if s == "true" || s == "false" => {
                Some("remove the quotes".into())
            }
            (Value::Float(f), AttributeType::Int) if f.fract() == 0.0 => {
                Some(format!("write it without a fraction: {}", *f as i64))
            }
            (Value::Seq(_) | Value::Map(_), _) => Some("structured values need `type: any`".into()),
            _ => None,
        };
        // The original sent such a value as written; so does this tool, but it says so.
        let kept = node.literal();
        let done = if kept.is_some() {
            "kept as written, as the original did"
        } else {
            "ignored"
        };
        self.report.warn(
            node.mark,
            path,
            format!(
                "expected a value of the declared type {ty}, found {}; {done}",
                node.show()
            ),
            help,
        );
        kept
    }

    /// `allowed_values` / `examples`: a list of values of type `ty`; null is empty.
    fn typed_list(&mut self, ty: AttributeType, node: &Node, path: &str) -> Vec<Literal> {
        match &node.value {
            Value::Null => Vec::new(),
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| self.typed(ty, item, &format!("{path}[{i}]"), false))
                .collect(),
            _ => {
                let help = node
                    .scalar_text()
                    .map(|text| format!("write it as a list: [{text}]"));
                self.report.warn(
                    node.mark,
                    path,
                    format!("expected a list, found {}; ignored", node.show()),
                    help,
                );
                Vec::new()
            }
        }
    }

    fn spans(&mut self, node: &Node, path: &str, schema: &mut Schema) {
        let Some(entries) = self
            .report
            .entries(node, path, "a mapping of span name to definition")
        else {
            return;
        };
        for (name, _, value) in entries {
            let span_path = join(path, &name);
            let Some(fields) = self.report.entries(
                value,
                &span_path,
                "a mapping (description, span_kind, parent, ...)",
            ) else {
                continue;
            };
            let mut span = SpanDef {
                name,
                description: String::new(),
                kinds: vec![SchemaSpanKind::Internal],
                is_root: false,
                parents: Vec::new(),
                note: String::new(),
            };
            self.unknown_keys(&fields, &span_path, &SPAN_KEYS);
            for (key, _, value) in fields {
                let key_path = join(&span_path, &key);
                match key.as_str() {
                    "description" => {
                        span.description = self.report.string(value, &key_path).unwrap_or_default()
                    }
                    "note" => span.note = self.report.string(value, &key_path).unwrap_or_default(),
                    "is_root" => span.is_root = self.boolean(value, &key_path).unwrap_or(false),
                    "span_kind" => span.kinds = self.kinds(value, &key_path),
                    "parent" => {
                        span.parents = match &value.value {
                            Value::Str(s) => s
                                .split('|')
                                .map(str::trim)
                                .filter(|p| !p.is_empty())
                                .map(String::from)
                                .collect(),
                            Value::Seq(_) => self.report.strings(value, &key_path),
                            Value::Null => Vec::new(),
                            _ => {
                                self.report.expected(
                                    value,
                                    &key_path,
                                    "a span name, `a | b`, or a list",
                                );
                                Vec::new()
                            }
                        }
                    }
                    _ => {}
                }
            }
            schema.spans.push(span);
        }
    }

    fn kinds(&mut self, node: &Node, path: &str) -> Vec<SchemaSpanKind> {
        match &node.value {
            Value::Null => vec![SchemaSpanKind::Internal],
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| self.kind(item, &format!("{path}[{i}]")))
                .collect(),
            _ => self.kind(node, path).into_iter().collect(),
        }
    }

    fn kind(&mut self, node: &Node, path: &str) -> Option<SchemaSpanKind> {
        if let Value::Str(text) = &node.value
            && let Some(kind) = SchemaSpanKind::parse(text)
        {
            return Some(kind);
        }
        let names: Vec<&str> = SchemaSpanKind::ALL.iter().map(|k| k.as_str()).collect();
        let help = match &node.value {
            Value::Str(text) => SchemaSpanKind::parse(&text.to_ascii_uppercase())
                .map(|k| format!("span kinds are upper-case: `{k}`"))
                .or_else(|| {
                    nearest(&text.to_ascii_uppercase(), names.iter().copied())
                        .map(|n| format!("did you mean `{n}`?"))
                }),
            _ => None,
        };
        self.error(
            node,
            path,
            format!(
                "expected one of {}, found {}",
                names.join(", "),
                node.show()
            ),
            help,
        );
        None
    }

    fn metrics(&mut self, node: &Node, path: &str, schema: &mut Schema) {
        let Some(entries) =
            self.report
                .entries(node, path, "a mapping of metric name to definition")
        else {
            return;
        };
        for (name, _, value) in entries {
            let metric_path = join(path, &name);
            let Some(fields) = self.report.entries(
                value,
                &metric_path,
                "a mapping (type, unit, dimensions, ...)",
            ) else {
                continue;
            };
            let mut metric = MetricDef {
                name,
                metric_type: "counter".into(),
                unit: "1".into(),
                description: String::new(),
                dimensions: Vec::new(),
                emitted_by: "data-plane".into(),
                aligns_with_span: None,
            };
            self.unknown_keys(&fields, &metric_path, &METRIC_KEYS);
            for (key, _, value) in fields {
                let key_path = join(&metric_path, &key);
                match key.as_str() {
                    "type" => {
                        if let Some(t) = self.report.string(value, &key_path) {
                            metric.metric_type = t;
                        }
                    }
                    // `unit: 1` unquoted means the same as "1".
                    "unit" => match &value.value {
                        Value::Int(_) | Value::Float(_) | Value::Str(_) => {
                            metric.unit = value.scalar_text().unwrap_or_default()
                        }
                        Value::Null => {}
                        _ => self
                            .report
                            .expected(value, &key_path, "a unit string such as \"ms\""),
                    },
                    "description" => {
                        metric.description =
                            self.report.string(value, &key_path).unwrap_or_default()
                    }
                    "dimensions" => metric.dimensions = self.report.strings(value, &key_path),
                    "emitted_by" => {
                        if let Some(e) = self.report.string(value, &key_path) {
                            metric.emitted_by = e;
                        }
                    }
                    "aligns_with_span" => {
                        metric.aligns_with_span = self.report.string(value, &key_path)
                    }
                    _ => {}
                }
            }
            schema.metrics.push(metric);
        }
    }

    fn status(&mut self, node: &Node, path: &str, schema: &mut Schema) {
        let Some(entries) = self.report.entries(node, path, "a mapping") else {
            return;
        };
        for (key, _, value) in entries {
            if key == "applies_to" {
                schema.status_applies_to = self.report.strings(value, &join(path, &key));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use crate::yaml::Severity;

    fn render(d: &crate::yaml::Diagnostic) -> String {
        let mark = d.mark.unwrap();
        format!("{}:{}: {}: {}", mark.line, mark.column, d.path, d.message)
    }

    fn errors(text: &str) -> Vec<String> {
        match parse(text, "s.yaml") {
            Ok(schema) => panic!("expected errors, got {schema:?}"),
            Err(d) => d.errors().map(render).collect(),
        }
    }

    /// The warnings of a schema that loads.
    fn warnings(text: &str) -> Vec<String> {
        let schema = parse(text, "s.yaml").unwrap_or_else(|d| panic!("{d}"));
        assert!(
            schema
                .warnings
                .0
                .iter()
                .all(|w| w.severity == Severity::Warning)
        );
        schema.warnings.0.iter().map(render).collect()
    }

    #[test]
    fn minimal_schema_is_one_line() {
        let schema = parse("schema_version: \"1.0.0\"\n", "min.yaml").unwrap();
        assert_eq!(schema.version, "1.0.0");
        assert_eq!(schema.source, "min.yaml");
        assert!(schema.spans.is_empty() && schema.sections.is_empty() && schema.metrics.is_empty());
        assert!(schema.span_attributes("vendor.llm.call").is_empty());
        // An empty file is the minimal schema too, with the default version.
        assert_eq!(parse("", "e.yaml").unwrap().version, "1.0.0");
        assert_eq!(
            parse("# only comments\n", "e.yaml").unwrap().version,
            "1.0.0"
        );
    }

    #[test]
    fn documentation_is_skipped_and_unknown_keys_in_definitions_warned() {
        let text = r#"
schema_version: "2.0.0"
lineage:
  control_plane: {description: "free text", anything: [1, 2]}
emission_policy: 42
task_execution_span_spec:
  attributes:
    x: {type: "string (enum)"}
notes_attributes: [a, b]
empty_attributes:
span_name: {}
common_attributes:
  tenant.id:
    type: string
    note: "documentation"
    applies_to: [a2a.orchestrate]
    values: {a: b}
    requird: true
"#;
        let schema = parse(text, "s.yaml").unwrap();
        assert_eq!(schema.version, "2.0.0");
        let names: Vec<&str> = schema.sections.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["common_attributes"]);
        assert_eq!(schema.common_attributes()[0].name, "tenant.id");
        assert_eq!(
            warnings(text),
            [
                "9:1: notes_attributes: expected a mapping of attribute name to definition, found a list; the section is ignored",
                "11:1: span_name: unknown section `span_name`; ignored",
                "18:5: common_attributes.tenant.id.requird: unknown key `requird`; ignored",
            ]
        );
        assert_eq!(
            schema.warnings.0[1].help.as_deref(),
            Some("did you mean `span_names`?")
        );
        assert_eq!(
            schema.warnings.0[2].help.as_deref(),
            Some("did you mean `required`?")
        );
    }

    #[test]
    fn section_entries_that_are_not_definitions_are_ignored_with_a_warning() {
        // The shapes of the original's shipped files: a section-level note and applies_to, a
        // nested block whose indentation slipped (a null, then lists of names).
        let text = r#"
higher_latency_condition_attributes:
  note: "Vendor extension."
  applies_to: ["a2a.orchestrate"]
  acme.latency.keys: {type: string}
cp_request_attributes:
  acme.otel.source: {allowed_values: [propagated, generated]}
  attribute_consistency:
  resource:
    - service.name
  metrics_attributes: [acme.tenant.id]
"#;
        let schema = parse(text, "s.yaml").unwrap();
        let latency = &schema
            .section("higher_latency_condition_attributes")
            .unwrap();
        assert_eq!(latency.attributes.len(), 1);
        assert_eq!(latency.attributes[0].name, "acme.latency.keys");
        let cp: Vec<&str> = schema
            .span_attributes("cp.request")
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(cp, ["acme.otel.source", "attribute_consistency"]);
        let found =
            "expected an attribute definition (a mapping with type, required, default, ...), found";
        assert_eq!(
            warnings(text),
            [
                format!("3:3: higher_latency_condition_attributes.note: {found} \"Vendor extension.\"; ignored"),
                format!("4:3: higher_latency_condition_attributes.applies_to: {found} a list; ignored"),
                "8:3: cp_request_attributes.attribute_consistency: `attribute_consistency` has no definition; kept as a string attribute whose value is generated from its name, as the original did".to_string(),
                format!("9:3: cp_request_attributes.resource: {found} a list; ignored"),
                format!("11:3: cp_request_attributes.metrics_attributes: {found} a list; ignored"),
            ]
        );
        let helps: Vec<&str> = schema
            .warnings
            .0
            .iter()
            .map(|w| w.help.as_deref().unwrap())
            .collect();
        assert!(helps[0].contains("make it a YAML comment"), "{}", helps[0]);
        assert!(helps[1].contains("inside each attribute's definition"));
        assert!(helps[3].contains("list of attribute names is not read here"));
    }

    #[test]
    fn applies_to_limits_an_attribute_to_the_spans_it_names() {
        let text = r#"
common_attributes:
  acme.session.id: {applies_to: ["a2a.orchestrate", "context.augment"]}
  acme.region: {}
  acme.route: {applies_to: "planner, llm.call"}
llm_call_attributes:
  acme.llm.model: {applies_to: [llm.call]}
"#;
        let schema = parse(text, "s.yaml").unwrap();
        let on = |span: &str| -> Vec<String> {
            schema
                .span_attributes(span)
                .iter()
                .map(|a| a.name.clone())
                .collect()
        };
        assert_eq!(
            on("vendor.a2a.orchestrate"),
            ["acme.session.id", "acme.region"]
        );
        assert_eq!(on("acme.planner"), ["acme.region", "acme.route"]);
        assert_eq!(
            on("vendor.llm.call"),
            ["acme.region", "acme.route", "acme.llm.model"]
        );
        assert_eq!(on("vendor.task.execute"), ["acme.region"]);
        // A whole segment only: `xa2a.orchestrate` is another span.
        assert_eq!(on("vendor.xa2a.orchestrate"), ["acme.region"]);
        assert_eq!(
            warnings("common_attributes:\n  a: {applies_to: 3}\n"),
            ["2:19: common_attributes.a.applies_to: expected a list of strings, found 3; ignored"]
        );
    }

    #[test]
    fn an_unknown_attribute_type_is_read_as_any_with_location_path_and_suggestion() {
        let text = "common_attributes:\n  tenant.id:\n    type: integer\n    default: 5\n";
        let schema = parse(text, "s.yaml").unwrap();
        let w = &schema.warnings.0[0];
        assert_eq!(
            w.mark,
            Some(Mark {
                line: 3,
                column: 11
            })
        );
        assert_eq!(w.path, "common_attributes.tenant.id.type");
        assert!(
            w.message.starts_with(
                "expected one of string, int, double, boolean, any, found \"integer\"; read as `any`"
            ),
            "{}",
            w.message
        );
        assert_eq!(w.help.as_deref(), Some("did you mean `int`?"));
        assert_eq!(schema.warnings.0.len(), 1, "{}", schema.warnings);
        let attr = &schema.common_attributes()[0];
        assert_eq!(attr.ty, AttributeType::Any);
        assert_eq!(attr.default, Some(Literal::Int(5)));
        let rendered = schema.warnings.to_string();
        assert!(
            rendered.starts_with("warning: s.yaml:3:11: common_attributes.tenant.id.type:"),
            "{rendered}"
        );
        assert!(
            rendered.contains("3 |     type: integer\n  |           ^"),
            "{rendered}"
        );

        let d = parse("x_attributes:\n  a: {type: strng}\n", "s.yaml").unwrap();
        assert_eq!(
            d.warnings.0[0].help.as_deref(),
            Some("did you mean `string`?")
        );
        let d = parse("x_attributes:\n  a: {type: Boolean}\n", "s.yaml").unwrap();
        assert_eq!(
            d.warnings.0[0].help.as_deref(),
            Some("did you mean `boolean`?")
        );
        // With nothing to draw from, an attribute of a type not understood is not set.
        let d = parse("x_attributes:\n  a.b: {type: float}\n", "s.yaml").unwrap();
        assert_eq!(d.sections[0].attributes[0].rule(), ValueRule::Omit);
    }

    #[test]
    fn values_of_another_type_are_kept_as_written_with_a_warning() {
        let text = r#"
x_attributes:
  a.count: {type: int, default: "3"}
  b.rate: {type: double, allowed_values: [0.5, 1, high]}
  c.flag: {type: boolean, examples: [true, "false"]}
  d.name: {default: 443, type: string}
  e.list: {type: int, allowed_values: 7}
  f.opt: {type: string, allowed_values: [a, null]}
"#;
        let kept = "kept as written, as the original did";
        assert_eq!(
            warnings(text),
            [
                format!("3:33: x_attributes.a.count.default: expected a value of the declared type int, found \"3\"; {kept}"),
                format!("4:51: x_attributes.b.rate.allowed_values[2]: expected a value of the declared type double, found \"high\"; {kept}"),
                format!("5:44: x_attributes.c.flag.examples[1]: expected a value of the declared type boolean, found \"false\"; {kept}"),
                format!("6:21: x_attributes.d.name.default: expected a value of the declared type string, found 443; {kept}"),
                "7:39: x_attributes.e.list.allowed_values: expected a list, found 7; ignored".to_string(),
                "8:45: x_attributes.f.opt.allowed_values[1]: expected a value of the declared type string, found null; ignored".to_string(),
            ]
        );
        let schema = parse(text, "s.yaml").unwrap();
        let attrs = &schema.sections[0].attributes;
        assert_eq!(attrs[0].default, Some(Literal::Str("3".into())));
        assert_eq!(
            attrs[1].allowed_values,
            [
                Literal::Float(0.5),
                Literal::Float(1.0),
                Literal::Str("high".into())
            ]
        );
        assert_eq!(attrs[3].default, Some(Literal::Int(443)));
        assert!(attrs[4].allowed_values.is_empty());
        assert_eq!(attrs[5].allowed_values, [Literal::Str("a".into())]);
        assert_eq!(
            schema.warnings.0[3].help.as_deref(),
            Some("quote it: \"443\"")
        );
    }

    #[test]
    fn typed_values_are_converted() {
        let text = r#"
x_attributes:
  a.rate: {type: double, default: 1, allowed_values: [0, 0.5]}
  b.msgs: {type: any, default: [{role: user}]}
  c.empty: {type: int, default: null}
"#;
        let schema = parse(text, "s.yaml").unwrap();
        assert!(schema.warnings.0.is_empty(), "{}", schema.warnings);
        let attrs = &schema.section("x_attributes").unwrap().attributes;
        assert_eq!(attrs[0].default, Some(Literal::Float(1.0)));
        assert_eq!(
            attrs[0].allowed_values,
            [Literal::Float(0.0), Literal::Float(0.5)]
        );
        assert_eq!(
            attrs[1].default,
            Some(Literal::List(vec![Literal::Map(vec![(
                "role".into(),
                Literal::Str("user".into())
            )])]))
        );
        assert_eq!(attrs[2].default, None);
        assert_eq!(attrs[2].mark, Mark { line: 5, column: 3 });
    }

    #[test]
    fn attribute_fields_are_read() {
        let text = r#"
resource_attributes:
  service.name:
    type: string
    required: true
    category: first_class
    description: "Logical name"
    sensitive: true
  a: {required: recommended}
  b: {required: "maybe", category: other}
  c:
"#;
        let schema = parse(text, "s.yaml").unwrap();
        let attrs = schema.resource_attributes();
        assert_eq!(attrs.len(), 4);
        assert_eq!(attrs[0].requirement, Requirement::Required);
        assert_eq!(attrs[0].category, Category::FirstClass);
        assert_eq!(attrs[0].description, "Logical name");
        assert!(attrs[0].sensitive);
        assert_eq!(attrs[1].requirement, Requirement::Recommended);
        assert_eq!(attrs[2].requirement, Requirement::Optional);
        assert_eq!(attrs[2].category, Category::Metadata);
        assert_eq!(
            (attrs[3].name.as_str(), attrs[3].ty),
            ("c", AttributeType::String)
        );
        assert_eq!(attrs[3].section, "resource_attributes");
    }

    #[test]
    fn span_names_are_read_and_kinds_checked() {
        let text = r#"
span_names:
  vendor.a2a.orchestrate: {description: Root, span_kind: SERVER, is_root: true}
  vendor.task.execute: {span_kind: [INTERNAL, CLIENT], parent: "vendor.planner | vendor.a2a.orchestrate"}
  vendor.planner: {parent: [vendor.a2a.orchestrate]}
  other:
"#;
        let schema = parse(text, "s.yaml").unwrap();
        assert_eq!(schema.spans.len(), 4);
        assert_eq!(schema.spans[0].kinds, [SchemaSpanKind::Server]);
        assert!(schema.spans[0].is_root);
        assert_eq!(
            schema.spans[1].kinds,
            [SchemaSpanKind::Internal, SchemaSpanKind::Client]
        );
        assert_eq!(
            schema.spans[1].parents,
            ["vendor.planner", "vendor.a2a.orchestrate"]
        );
        assert_eq!(schema.spans[2].parents, ["vendor.a2a.orchestrate"]);
        assert_eq!(schema.spans[3].kinds, [SchemaSpanKind::Internal]);

        // The original refused an unknown span kind too: still an error.
        let text = "span_names:\n  a: {span_kind: server}\n  b: {span_kind: [CLIENT, CLEINT]}\n  c: {is_root: \"yes\", desription: x}\n";
        let d = parse(text, "s.yaml").unwrap_err();
        let all: Vec<_> =
            d.0.iter()
                .map(|e| (e.severity, e.path.as_str(), e.help.clone()))
                .collect();
        assert_eq!(
            all,
            [
                (
                    Severity::Error,
                    "span_names.a.span_kind",
                    Some("span kinds are upper-case: `SERVER`".to_string())
                ),
                (
                    Severity::Error,
                    "span_names.b.span_kind[1]",
                    Some("did you mean `CLIENT`?".to_string())
                ),
                (Severity::Warning, "span_names.c.is_root", None),
                (
                    Severity::Warning,
                    "span_names.c.desription",
                    Some("did you mean `description`?".to_string())
                ),
            ]
        );
    }

    #[test]
    fn metrics_and_status_are_read() {
        let text = r#"
canonical_metrics:
  vendor.turn.count: {dimensions: [tenant.id, vendor.route], aligns_with_span: vendor.a2a.orchestrate}
  vendor.turn.duration_ms: {type: histogram, unit: ms, emitted_by: control-plane, description: D, value_attribute: x}
  bare:
status_schema:
  shape: {result: boolean}
  applies_to: ["vendor.a2a.outcome (vendor.a2a.orchestrate)"]
"#;
        let schema = parse(text, "s.yaml").unwrap();
        assert!(schema.warnings.0.is_empty(), "{}", schema.warnings);
        let m = &schema.metrics;
        assert_eq!(
            (m[0].metric_type.as_str(), m[0].unit.as_str()),
            ("counter", "1")
        );
        assert_eq!(m[0].dimensions, ["tenant.id", "vendor.route"]);
        assert_eq!(
            m[0].aligns_with_span.as_deref(),
            Some("vendor.a2a.orchestrate")
        );
        assert_eq!(
            (m[1].metric_type.as_str(), m[1].unit.as_str()),
            ("histogram", "ms")
        );
        assert_eq!(m[1].emitted_by, "control-plane");
        assert_eq!(m[2].emitted_by, "data-plane");
        assert_eq!(
            schema.status_applies_to,
            ["vendor.a2a.outcome (vendor.a2a.orchestrate)"]
        );

        assert_eq!(
            warnings("canonical_metrics:\n  m: {dimensions: tenant.id, unts: ms}\n"),
            [
                "2:19: canonical_metrics.m.dimensions: expected a list of strings, found \"tenant.id\"; ignored",
                "2:30: canonical_metrics.m.unts: unknown key `unts`; ignored",
            ]
        );
    }

    #[test]
    fn wrong_shapes_of_known_sections_are_warnings() {
        let text = "schema_version: 1.1\nspan_names: [a]\ncommon_attributes: x\nresource_attributes:\n  a: text\n";
        assert_eq!(
            warnings(text),
            [
                "1:17: schema_version: expected a string, found 1.1; read as \"1.1\"",
                "2:13: span_names: expected a mapping of span name to definition, found a list; ignored",
                "3:1: common_attributes: expected a mapping of attribute name to definition, found a string; the section is ignored",
                "5:3: resource_attributes.a: expected an attribute definition (a mapping with type, required, default, ...), found \"text\"; ignored",
            ]
        );
        assert_eq!(parse(text, "s.yaml").unwrap().version, "1.1");
        // What the original refused is still refused.
        assert_eq!(
            errors("- a\n- b\n")[0],
            "1:1: : expected a mapping of schema sections, found a list"
        );
        let d = parse("a: [1\n", "s.yaml").unwrap_err();
        assert!(d.has_errors());
    }

    #[test]
    fn a_syntax_error_is_worded_as_for_a_scenario() {
        let found = errors("a: 1\na: 2\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].ends_with(": : duplicate key `a`: each key may appear once in a mapping"),
            "{found:?}"
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = "x_attributes:\n  a: {type: integer}\n  b: {type: int, default: x}\nspan_names:\n  s: {span_kind: FOO}\n";
        let d = parse(text, "s.yaml").unwrap_err();
        assert_eq!(d.errors().count(), 1);
        assert_eq!(d.0.len(), 3, "{d}");
    }
}
