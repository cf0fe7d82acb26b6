//! Scenario attributes checked against the semantic-conventions schema.
//!
//! A span's definitions are the schema's own choice for its name (`common_attributes` merged with
//! its section, see [`Schema::span_attributes`]). A value of another type than its definition
//! declares, or outside its `allowed_values`, would reach the backend contradicting the very
//! schema the telemetry claims (`{prefix}.schema.version`), so it is an error. A name the schema
//! does not define anywhere is only a warning: scenarios may add attributes of their own, but a
//! misspelt convention (`gen_ai.request.modle`) is worth a look. A name defined in another span's
//! section (or a documentation-only section) is known, and checked against that definition. A
//! schema that defines no attributes at all (the minimal schema) checks nothing.

use super::{Findings, distinct_values};
use crate::generate::is_integer_attribute;
use crate::scenario::{AttributeValue, Distribution, Literal, Severity, SourceMap, Step, nearest};
use crate::schema::{AttributeDef, AttributeType, Schema};

/// What a value is, in the schema's terms; `None` for a list or mapping.
fn literal_type(literal: &Literal) -> Option<AttributeType> {
    match literal {
        Literal::Str(_) => Some(AttributeType::String),
        Literal::Int(_) => Some(AttributeType::Int),
        Literal::Float(_) => Some(AttributeType::Double),
        Literal::Bool(_) => Some(AttributeType::Boolean),
        Literal::List(_) | Literal::Map(_) => None,
    }
}

fn describe(ty: Option<AttributeType>) -> &'static str {
    match ty {
        Some(AttributeType::String) => "a string",
        Some(AttributeType::Int) => "an integer",
        Some(AttributeType::Double) => "a floating-point number",
        Some(AttributeType::Boolean) => "a boolean",
        Some(AttributeType::Any) => "a value",
        None => "a list or mapping",
    }
}

/// Whether a value of type `found` may stand where the schema declares `declared` (an integer is a
/// valid double, as the schema loader itself accepts).
fn fits(declared: AttributeType, found: Option<AttributeType>) -> bool {
    match (declared, found) {
        (AttributeType::Any, _) => true,
        (AttributeType::Double, Some(AttributeType::Int)) => true,
        (declared, Some(found)) => declared == found,
        (_, None) => false,
    }
}

fn same_value(a: &Literal, b: &Literal) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn show(literal: &Literal) -> String {
    match literal {
        Literal::Str(s) => format!("\"{s}\""),
        Literal::Int(i) => i.to_string(),
        Literal::Float(f) => f.to_string(),
        Literal::Bool(b) => b.to_string(),
        Literal::List(_) => "a list".into(),
        Literal::Map(_) => "a mapping".into(),
    }
}

/// Checks the attributes of the `index`-th step.
pub(super) fn attributes(out: &mut Findings, source: &SourceMap, index: usize, step: &Step) {
    let schema: &Schema = out.context.schema;
    if schema.sections.iter().all(|s| s.attributes.is_empty()) {
        return;
    }
    let Some(step_source) = source.steps.get(index) else {
        return;
    };
    let span_name = step.span_type.span_name(out.context.prefix);
    let own = schema.span_attributes(&span_name);
    for (attribute, (path, mark)) in step.attributes.iter().zip(&step_source.attributes) {
        let key = attribute.key.as_str();
        // A name the schema defines for another span (or in a documentation-only section such
        // as the bundled `scenario_attributes`) is known: its definition still gives its type.
        // Only the type: another span's allowed values (`invoke_agent` for an agent turn's
        // `gen_ai.operation.name`) say nothing of this one's.
        let foreign = |d: &AttributeDef| AttributeDef {
            allowed_values: Vec::new(),
            ..d.clone()
        };
        let def = own
            .iter()
            .copied()
            .find(|d| d.name == key)
            .map(std::borrow::Cow::Borrowed)
            .or_else(|| {
                schema
                    .sections
                    .iter()
                    .filter(|s| s.name != "resource_attributes")
                    .flat_map(|s| &s.attributes)
                    .find(|d| d.name == key)
                    .map(|d| std::borrow::Cow::Owned(foreign(d)))
            });
        let Some(def) = def else {
            let names = schema
                .sections
                .iter()
                .flat_map(|s| &s.attributes)
                .map(|d| d.name.as_str());
            let help = nearest(key, names)
                .map(|n| format!("did you mean `{n}`?"))
                .unwrap_or_else(|| {
                    format!(
                        "add it to the schema ({}) if it is a convention of yours",
                        schema.source
                    )
                });
            out.push(
                Severity::Warning,
                Some(*mark),
                path,
                format!("`{key}` is not in the schema"),
                Some(help),
            );
            continue;
        };
        check_value(out, path, *mark, key, &attribute.value, &def);
    }
}

fn check_value(
    out: &mut Findings,
    path: &str,
    mark: crate::yaml::Mark,
    key: &str,
    value: &AttributeValue,
    def: &AttributeDef,
) {
    let declared = format!(
        "`{key}` is `{}` in the schema (section `{}`)",
        def.ty, def.section
    );
    let candidates: Vec<Literal> = match value {
        AttributeValue::Constant(literal) => vec![literal.clone()],
        AttributeValue::Sampled(Distribution::Categorical { values, .. }) => values.clone(),
        AttributeValue::Sampled(d) => {
            let found = if is_integer_attribute(key, d) {
                AttributeType::Int
            } else {
                AttributeType::Double
            };
            if !fits(def.ty, Some(found)) {
                out.push(
                    Severity::Error,
                    Some(mark),
                    path,
                    format!(
                        "{declared}, but this distribution draws {}",
                        if found == AttributeType::Int {
                            "whole numbers"
                        } else {
                            "fractional numbers"
                        }
                    ),
                    None,
                );
            } else if !def.allowed_values.is_empty() && distinct_values(key, d) > 1 {
                out.push(
                    Severity::Warning,
                    Some(mark),
                    path,
                    format!(
                        "`{key}` allows only {} in the schema, and this distribution may draw other values",
                        list(&def.allowed_values)
                    ),
                    Some("use a categorical distribution over the allowed values".into()),
                );
            }
            return;
        }
    };
    for literal in &candidates {
        let found = literal_type(literal);
        if !fits(def.ty, found) {
            out.push(
                Severity::Error,
                Some(mark),
                path,
                format!("{declared}, but {} is {}", show(literal), describe(found)),
                None,
            );
            continue;
        }
        if !def.allowed_values.is_empty()
            && def.ty != AttributeType::Any
            && !def.allowed_values.iter().any(|a| same_value(a, literal))
        {
            let help = match literal {
                Literal::Str(s) => {
                    let allowed: Vec<String> = def
                        .allowed_values
                        .iter()
                        .filter_map(|a| match a {
                            Literal::Str(s) => Some(s.clone()),
                            _ => None,
                        })
                        .collect();
                    nearest(s, allowed.iter().map(String::as_str))
                        .map(|n| format!("did you mean `{n}`?"))
                }
                _ => None,
            };
            out.push(
                Severity::Error,
                Some(mark),
                path,
                format!(
                    "{} is not an allowed value of `{key}`: the schema (section `{}`) allows {}",
                    show(literal),
                    def.section,
                    list(&def.allowed_values)
                ),
                help,
            );
        }
    }
}

fn list(values: &[Literal]) -> String {
    const SHOWN: usize = 12;
    let mut shown: Vec<String> = values.iter().take(SHOWN).map(show).collect();
    if values.len() > SHOWN {
        shown.push(format!("… ({} in all)", values.len()));
    }
    shown.join(", ")
}
