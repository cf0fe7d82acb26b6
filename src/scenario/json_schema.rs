//! A JSON Schema (draft-07) of the scenario format, for editors and CI.
//!
//! It is generated from the same declarative key tables the decoder reads through
//! ([`super::format`]), so completion and checking in an editor (yaml-language-server, VS Code's
//! YAML extension, JetBrains IDEs) accept exactly the keys `validate` accepts, with the same
//! aliases, ranges and documentation. The format's shorthands (`latency: 250` or a mapping,
//! `count: 3` or a range, a distribution's parameters beside its name) become `anyOf` branches,
//! each a closed object (`additionalProperties: false`), so an unknown or misspelt key fails.
//! What a schema cannot express (a uniform's low ≤ high, one weight per value, the span budget)
//! is left to `validate`.

use super::format::{self, Key, Mapping, Range, Shape};
use super::span_type::{SpanType, YAML_PREFIX};
use serde_json::{Map, Value, json};

/// The JSON Schema of a scenario file whose span types may use `prefix` besides `vendor`.
pub fn scenario_schema(prefix: &str) -> Value {
    let mut definitions = Map::new();
    definitions.insert("step".into(), closed(&format::STEP, &[], prefix));
    definitions.insert(
        "step_or_list".into(),
        json!({"anyOf": [
            {"$ref": "#/definitions/step"},
            {"type": "array", "items": {"$ref": "#/definitions/step"}, "minItems": 1, "maxItems": 1}
        ]}),
    );
    definitions.insert(
        "latency".into(),
        json!({"anyOf": [
            {"type": "null"},
            {"type": "number", "minimum": 0, "description": "Mean duration in ms, with the default jitter."},
            closed(&format::JITTER, &[], prefix),
            {"$ref": "#/definitions/distribution"},
        ]}),
    );
    definitions.insert("distribution".into(), sampled(&format::SAMPLED, prefix));
    definitions.insert(
        "error".into(),
        json!({"anyOf": [
            {"type": "null"},
            number(format::PROBABILITY),
            closed(&format::ERROR, &[], prefix),
        ]}),
    );
    definitions.insert(
        "propagation".into(),
        json!({"anyOf": [{"type": "null"}, closed(&format::PROPAGATION, &[], prefix)]}),
    );
    let mut count = vec![
        json!({"type": "null"}),
        json!({"type": "integer", "minimum": 0, "description": "A fixed number of instances."}),
        closed(&format::COUNT, &["distribution"], prefix),
    ];
    if let Value::Object(o) = sampled(&format::COUNT, prefix)
        && let Some(Value::Array(variants)) = o.get("anyOf")
    {
        count.extend(variants.iter().cloned());
    }
    definitions.insert("count".into(), json!({"anyOf": count}));
    definitions.insert(
        "retry".into(),
        json!({"anyOf": [{"type": "null"}, closed(&format::RETRY, &[], prefix)]}),
    );
    definitions.insert(
        "attributes".into(),
        json!({
            "type": ["object", "null"],
            "description": "Attribute names mapped to constants, or to {distribution: ...} mappings sampled per span.",
            "additionalProperties": {"anyOf": [
                {"type": ["string", "number", "boolean", "array"]},
                {"type": "object", "not": {"required": ["distribution"]}},
                {"$ref": "#/definitions/distribution"},
            ]}
        }),
    );
    definitions.insert("link".into(), closed(&format::LINK, &[], prefix));
    definitions.insert(
        "service".into(),
        closed(&super::services::SERVICE, &[], prefix),
    );
    definitions.insert(
        "remote".into(),
        closed(&super::services::REMOTE, &[], prefix),
    );
    definitions.insert(
        "failures".into(),
        json!({"anyOf": [{"type": "null"}, closed(&format::FAILURES, &[], prefix)]}),
    );
    definitions.insert(
        "mixture_component".into(),
        sampled(&format::MIXTURE_COMPONENT, prefix),
    );

    definitions.insert(
        "llm".into(),
        json!({"anyOf": [{"type": "null"}, closed(&super::llm::LLM, &[], prefix)]}),
    );
    definitions.insert("model".into(), closed(&super::llm::MODEL, &[], prefix));
    let mut schema = match closed(&format::DOCUMENT, &[], prefix) {
        Value::Object(o) => o,
        _ => Map::new(),
    };
    schema.insert(
        "$schema".into(),
        json!("http://json-schema.org/draft-07/schema#"),
    );
    schema.insert("title".into(), json!("telemetry-simulator scenario"));
    schema.insert("definitions".into(), Value::Object(definitions));
    Value::Object(schema)
}

/// A closed object of `mapping`'s keys (less `except`).
fn closed(mapping: &Mapping, except: &[&str], prefix: &str) -> Value {
    let mut properties = Map::new();
    add_keys(&mut properties, mapping, except, prefix);
    let mut object = json!({
        "type": "object",
        "description": mapping.doc,
        "properties": properties,
        "additionalProperties": false,
    });
    let mut rules = one_spelling(&[mapping]);
    if std::ptr::eq(mapping, &format::DOCUMENT) {
        // `spans` is the old spelling of `root`: one of them, not both.
        rules.push(json!({"anyOf": [{"required": ["root"]}, {"required": ["spans"]}]}));
        rules.push(json!({"not": {"required": ["root", "spans"]}}));
    }
    if std::ptr::eq(mapping, &format::STEP) {
        // A step is an agent span type or a generic span: `type` or `name`, not both; the
        // generic keys need `name`.
        rules.push(json!({"not": {"required": ["type", "name"]}}));
        rules.push(json!({"not": {"required": ["span_type", "name"]}}));
        rules.push(json!({"dependencies": {"kind": ["name"], "convention": ["name"]}}));
    }
    if !rules.is_empty() {
        object["allOf"] = Value::Array(rules);
    }
    object
}

/// A key may be written under one of its spellings, not two.
fn one_spelling(mappings: &[&Mapping]) -> Vec<Value> {
    let mut rules = Vec::new();
    for key in mappings.iter().flat_map(|m| m.keys) {
        for (i, a) in key.names.iter().enumerate() {
            for b in &key.names[i + 1..] {
                rules.push(json!({"not": {"required": [a, b]}}));
            }
        }
    }
    rules
}

fn add_keys(properties: &mut Map<String, Value>, mapping: &Mapping, except: &[&str], prefix: &str) {
    for key in mapping.keys.iter().filter(|k| !except.contains(&k.name())) {
        for (i, name) in key.names.iter().enumerate() {
            if properties.contains_key(*name) {
                continue;
            }
            let mut value = shape(key, prefix);
            if let Value::Object(o) = &mut value {
                let doc = if i == 0 {
                    key.doc.to_string()
                } else {
                    format!("Alias of `{}`. {}", key.name(), key.doc)
                };
                o.insert("description".into(), json!(doc));
            }
            properties.insert(name.to_string(), value);
        }
    }
}

/// One closed object per distribution: `head`'s keys with `distribution:` naming it, beside its
/// parameters.
fn sampled(head: &Mapping, prefix: &str) -> Value {
    let variants: Vec<Value> = format::DISTRIBUTIONS
        .iter()
        .map(|(name, params)| {
            let mut properties = Map::new();
            add_keys(&mut properties, head, &[], prefix);
            add_keys(&mut properties, params, &[], prefix);
            properties.insert(
                "distribution".into(),
                json!({
                    "type": "string",
                    "pattern": name_pattern(name),
                    "description": params.doc,
                }),
            );
            let mut object = json!({
                "type": "object",
                "title": *name,
                "description": params.doc,
                "properties": properties,
                "required": ["distribution"],
                "additionalProperties": false,
            });
            let rules = one_spelling(&[head, params]);
            if !rules.is_empty() {
                object["allOf"] = Value::Array(rules);
            }
            object
        })
        .collect();
    json!({"anyOf": variants})
}

/// A pattern matching `name` as the decoder does: any case, `-` or `_` between words.
fn name_pattern(name: &str) -> String {
    let mut pattern = String::from("^");
    for c in name.chars() {
        match c {
            '_' => pattern.push_str("[-_]"),
            c if c.is_ascii_alphabetic() => {
                pattern.push('[');
                pattern.push(c.to_ascii_lowercase());
                pattern.push(c.to_ascii_uppercase());
                pattern.push(']');
            }
            c => pattern.push(c),
        }
    }
    pattern.push('$');
    pattern
}

fn number(range: Range) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), json!("number"));
    if range.min.is_finite() {
        let bound = if range.min_exclusive {
            "exclusiveMinimum"
        } else {
            "minimum"
        };
        out.insert(bound.into(), json!(range.min));
    }
    if range.max.is_finite() {
        out.insert("maximum".into(), json!(range.max));
    }
    Value::Object(out)
}

fn shape(key: &Key, prefix: &str) -> Value {
    match key.shape {
        Shape::Text => json!({"type": ["string", "number", "boolean", "null"]}),
        Shape::Bool => json!({"anyOf": [
            {"type": "boolean"},
            {"type": "string", "pattern": "^([yY][eE][sS]|[nN][oO]|[oO][nN]|[oO][fF][fF])$"}
        ]}),
        Shape::Number(range) => number(range),
        Shape::Integer { min, max } => {
            let mut out = json!({"type": "integer", "minimum": min});
            if max < i64::MAX {
                out["maximum"] = json!(max);
            }
            out
        }
        Shape::Strings => json!({"type": ["array", "null"], "items": {"type": "string"}}),
        Shape::Numbers(range) => json!({"type": "array", "items": number(range)}),
        Shape::SpanType => {
            let mut names: Vec<String> = Vec::new();
            for t in SpanType::ALL {
                names.push(t.suffix().to_string());
                for p in [YAML_PREFIX, prefix] {
                    let name = format!("{p}.{}", t.suffix());
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
            }
            json!({"type": "string", "enum": names})
        }
        Shape::Step => json!({"$ref": "#/definitions/step_or_list"}),
        Shape::Steps => json!({
            "type": ["array", "null"],
            "items": {"$ref": "#/definitions/step_or_list"}
        }),
        Shape::Latency => json!({"$ref": "#/definitions/latency"}),
        Shape::Error => json!({"$ref": "#/definitions/error"}),
        Shape::Count => json!({"$ref": "#/definitions/count"}),
        Shape::Retry => json!({"$ref": "#/definitions/retry"}),
        Shape::Propagation => json!({"$ref": "#/definitions/propagation"}),
        Shape::Attributes => json!({"$ref": "#/definitions/attributes"}),
        Shape::DistributionName => json!({
            "type": "string",
            "enum": format::DISTRIBUTIONS.map(|(n, _)| n),
        }),
        Shape::CategoricalValues => json!({"anyOf": [
            {"type": "array", "minItems": 1, "items": {"type": ["string", "number", "boolean", "array", "object"]}},
            {"type": "object", "minProperties": 1, "additionalProperties": {"type": "number", "minimum": 0}}
        ]}),
        Shape::Components => json!({
            "type": "array",
            "minItems": 1,
            "items": {"$ref": "#/definitions/mixture_component"}
        }),
        other => feature_shape(&other, prefix),
    }
}

/// The schema of the feature keys' shapes (services, LLM calls, failures, generic steps, links,
/// sessions): kept apart from [`shape`] so that each stays one screen.
fn feature_shape(shape: &Shape, prefix: &str) -> Value {
    match *shape {
        Shape::Services => json!({
            "type": ["object", "null"],
            "additionalProperties": {"anyOf": [
                {"type": "null"},
                {"$ref": "#/definitions/service"},
            ]}
        }),
        Shape::Remote => json!({"$ref": "#/definitions/remote"}),
        Shape::ResourceAttributes => json!({
            "type": ["object", "null"],
            "additionalProperties": {"type": ["string", "number", "boolean"]}
        }),
        Shape::Distribution => json!({"$ref": "#/definitions/distribution"}),
        Shape::Llm => json!({"$ref": "#/definitions/llm"}),
        Shape::Models => json!({
            "type": ["object", "null"],
            "additionalProperties": {"$ref": "#/definitions/model"}
        }),
        Shape::Failures => json!({"$ref": "#/definitions/failures"}),
        Shape::Chance(mapping) => json!({"anyOf": [
            number(format::PROBABILITY),
            closed(mapping, &[], prefix),
        ]}),
        Shape::Milliseconds => json!({"anyOf": [
            number(format::NON_NEGATIVE),
            {"$ref": "#/definitions/distribution"},
        ]}),
        Shape::SpanKindName => json!({"type": "string", "enum": super::KIND_NAMES}),
        Shape::ConventionName => json!({
            "type": "string",
            "enum": super::Convention::ALL.map(|c| c.name()),
        }),
        Shape::Constants => json!({
            "type": ["object", "null"],
            "additionalProperties": {"anyOf": [
                {"type": ["string", "number", "boolean", "array"]},
                {"type": "object", "not": {"required": ["distribution"]}},
            ]}
        }),
        Shape::Links => json!({
            "type": ["array", "null"],
            "items": {"$ref": "#/definitions/link"}
        }),
        Shape::Mapping(mapping) => {
            json!({"anyOf": [{"type": "null"}, closed(mapping, &[], prefix)]})
        }
        Shape::List(mapping) => json!({
            "type": ["array", "null"],
            "items": closed(mapping, &[], prefix)
        }),
        Shape::NumberMap => json!({
            "type": ["object", "null"],
            "additionalProperties": {"type": "number"}
        }),
        _ => unreachable!("`shape` handles the core shapes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_every_mapping_is_in_the_schema() {
        let schema = scenario_schema("acme").to_string();
        for mapping in format::mappings() {
            for key in mapping.keys {
                for name in key.names {
                    assert!(
                        schema.contains(&format!("\"{name}\":")),
                        "`{name}` of {} is missing",
                        mapping.name
                    );
                }
            }
        }
        assert!(schema.contains("acme.llm.call") && schema.contains("vendor.llm.call"));
    }

    #[test]
    fn distribution_names_match_in_any_case_and_with_dashes() {
        assert_eq!(
            name_pattern("log_normal"),
            "^[lL][oO][gG][-_][nN][oO][rR][mM][aA][lL]$"
        );
    }
}
