//! A YAML document as a tree of located nodes.
//!
//! Parsing, YAML's own rules (anchors, aliases, duplicate keys, scalar typing) and the resource
//! budgets that stop alias bombs and absurd nesting are `serde-saphyr`'s job; this module only asks
//! it for a generic tree in which every node remembers where it was written. The scenario and
//! schema decoders then walk that tree with full knowledge of paths, so they can report *every*
//! problem in a file in one pass, each with its line, column and key path.
//!
//! Deserializing straight into `#[derive(Deserialize)]` structs was the rejected alternative: serde
//! stops at the first error, its messages carry no key path, and the original format's shorthands
//! (`latency: 250` or a mapping, `count: 3` or a range) would need untagged enums whose errors say
//! only "data did not match any variant".

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Budget, Options, Spanned};
use std::fmt;

/// Where a node was written: 1-based line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mark {
    pub line: u32,
    pub column: u32,
}

/// One YAML node and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub mark: Mark,
}

/// The value of a node, with scalars already typed by YAML's core schema.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A value as written, without its locations: a scalar, a list or a mapping, never null (an OTLP
/// attribute cannot be null). Scenario attribute constants and schema defaults are both this; it is
/// defined in [`crate::value`], below every layer, so that the encoder can read it too.
pub use crate::value::Literal;

impl Node {
    /// A short name of the node's kind, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The node as a number, if it is one (integers widen to `f64`).
    pub fn as_f64(&self) -> Option<f64> {
        match self.value {
            Value::Int(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            _ => None,
        }
    }

    /// The node's text if it is a scalar that can serve as a mapping key or a name.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }
}

impl Node {
    /// The node as it appears in a "found …" message: a scalar as written (a string quoted, and
    /// cut at 40 characters: the location already points at it), anything else by its kind.
    pub fn show(&self) -> String {
        match &self.value {
            Value::Str(s) if s.chars().count() > 40 => {
                let start: String = s.chars().take(40).collect();
                format!("{:?}", format!("{start}…"))
            }
            Value::Str(s) => format!("{s:?}"),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null | Value::Seq(_) | Value::Map(_) => self.kind().to_string(),
        }
    }

    /// The node as a [`Literal`], nulls left out (nested ones dropped with their key or item);
    /// `None` for null itself.
    pub fn literal(&self) -> Option<Literal> {
        Some(match &self.value {
            Value::Null => return None,
            Value::Bool(b) => Literal::Bool(*b),
            Value::Int(i) => Literal::Int(*i),
            Value::Float(f) => Literal::Float(*f),
            Value::Str(s) => Literal::Str(s.clone()),
            Value::Seq(items) => Literal::List(items.iter().filter_map(Node::literal).collect()),
            Value::Map(entries) => Literal::Map(
                entries
                    .iter()
                    .filter_map(|(k, v)| Some((k.scalar_text()?, v.literal()?)))
                    .collect(),
            ),
        })
    }
}

/// A document that could not be parsed as YAML at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub mark: Option<Mark>,
    pub message: String,
}

impl SyntaxError {
    /// The YAML crate's message, reworded where it speaks of the crate's own settings.
    pub fn plain_message(&self) -> String {
        let message = &self.message;
        if let Some(key) = message.strip_prefix("duplicate mapping key: ") {
            let key = key.split(',').next().unwrap_or(key).trim();
            return format!("duplicate key `{key}`: each key may appear once in a mapping");
        }
        if message.contains("budget breached") || message.contains("recursion limit") {
            return format!(
                "the document is too large or too deeply nested once its anchors and aliases are expanded \
                 (at most 64 levels and 200,000 nodes; {message})"
            );
        }
        message.clone()
    }
}

/// Limits on what one file may make the parser do. Generous for any hand-written
/// scenario, and small enough that a hostile file fails fast instead of exhausting memory.
fn budget() -> Budget {
    let mut budget = Budget::default();
    budget.max_depth = 64;
    budget.max_nodes = 200_000;
    budget.max_aliases = 10_000;
    budget.max_total_scalar_bytes = 16 << 20;
    budget
}

/// Parses `text` into a located tree. An empty document is `Null`.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut options = Options::default();
    options.budget = Some(budget());
    // YAML 1.2 booleans only: `y`, `n`, `no`, `on` stay strings (model names, country codes,
    // categorical values). Boolean-typed keys still accept the YAML 1.1 words; see the decoder.
    options.strict_booleans = true;
    serde_saphyr::from_str_with_options::<Spanned<Raw>>(text, options)
        .map(located)
        .map_err(|error| SyntaxError {
            mark: error.location().map(|l| Mark {
                line: l.line() as u32,
                column: l.column() as u32,
            }),
            message: first_line(&error.to_string()),
        })
}

/// serde-saphyr renders a source snippet under its message; the decoder prints its own, so only
/// the message line is kept, without the location prefix it already carries separately.
fn first_line(rendered: &str) -> String {
    let line = rendered.lines().next().unwrap_or(rendered).trim();
    let line = line.strip_prefix("error: ").unwrap_or(line);
    match line.split_once(": ") {
        Some((head, rest)) if head.starts_with("line ") => rest.to_string(),
        _ => line.to_string(),
    }
}

/// The shape serde-saphyr fills in; converted to [`Node`] so the rest of the crate does not depend
/// on the YAML crate's location types.
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

fn located(spanned: Spanned<Raw>) -> Node {
    let mark = Mark {
        line: spanned.referenced.line() as u32,
        column: spanned.referenced.column() as u32,
    };
    let value = match spanned.value {
        Raw::Null => Value::Null,
        Raw::Bool(b) => Value::Bool(b),
        Raw::Int(i) => Value::Int(i),
        Raw::Float(f) => Value::Float(f),
        Raw::Str(s) => Value::Str(s),
        Raw::Seq(items) => Value::Seq(items.into_iter().map(located).collect()),
        Raw::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (located(k), located(v)))
                .collect(),
        ),
    };
    Node { value, mark }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        Raw::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
        i64::try_from(v)
            .map(Raw::Int)
            .map_err(|_| E::custom(format!("integer {v} is too large")))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Raw, E> {
        i64::try_from(v)
            .map(Raw::Int)
            .map_err(|_| E::custom(format!("integer {v} is too large")))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Raw, E> {
        i64::try_from(v)
            .map(Raw::Int)
            .map_err(|_| E::custom(format!("integer {v} is too large")))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key()? {
            let value = map.next_value()?;
            entries.push((key, value));
        }
        Ok(Raw::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_typed_and_located() {
        let node = parse("a: 1\nb: '2'\nc: 2.5\nd: true\ne: ~\n").unwrap();
        let Value::Map(entries) = node.value else {
            panic!("not a map")
        };
        let values: Vec<_> = entries.iter().map(|(_, v)| v.value.clone()).collect();
        assert_eq!(
            values,
            vec![
                Value::Int(1),
                Value::Str("2".into()),
                Value::Float(2.5),
                Value::Bool(true),
                Value::Null
            ]
        );
        assert_eq!(entries[2].0.mark, Mark { line: 3, column: 1 });
        assert_eq!(entries[2].1.mark, Mark { line: 3, column: 4 });
    }

    #[test]
    fn only_yaml_1_2_words_are_booleans() {
        let node = parse("[y, n, yes, on, NO, true, false]").unwrap();
        let Value::Seq(items) = node.value else {
            panic!("not a list")
        };
        let values: Vec<_> = items.into_iter().map(|n| n.value).collect();
        assert_eq!(
            values[..5],
            ["y", "n", "yes", "on", "NO"].map(|s| Value::Str(s.into()))
        );
        assert_eq!(values[5..], [Value::Bool(true), Value::Bool(false)]);
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a: &a [1,1,1,1,1,1,1,1,1]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
        {
            let refs = vec![format!("*{prev}"); 9].join(",");
            text.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        let error = parse(&text).unwrap_err();
        assert!(error.message.contains("budget"), "{error:?}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("a: {}{}", "[".repeat(5000), "]".repeat(5000));
        assert!(parse(&text).is_err());
    }

    #[test]
    fn syntax_errors_carry_their_location() {
        let error = parse("a: {b: [1, 2\n").unwrap_err();
        assert_eq!(error.mark.map(|m| m.line), Some(1));
        assert!(!error.message.starts_with("line"), "{}", error.message);
    }

    #[test]
    fn a_literal_is_the_value_as_written_without_its_nulls() {
        let node = parse("{a: [1, ~, x], b: ~, 3: {c: 2.5, d: true}}").unwrap();
        assert_eq!(
            node.literal(),
            Some(Literal::Map(vec![
                (
                    "a".into(),
                    Literal::List(vec![Literal::Int(1), Literal::Str("x".into())])
                ),
                (
                    "3".into(),
                    Literal::Map(vec![
                        ("c".into(), Literal::Float(2.5)),
                        ("d".into(), Literal::Bool(true))
                    ])
                ),
            ]))
        );
        assert_eq!(parse("~").unwrap().literal(), None);
    }

    #[test]
    fn values_are_shown_as_written_and_long_strings_cut() {
        let shown: Vec<String> = ["\"say \\\"hi\\\"\"", "2.5", "[1]", "y".repeat(50).as_str()]
            .iter()
            .map(|t| parse(t).unwrap().show())
            .collect();
        assert_eq!(
            shown,
            [
                "\"say \\\"hi\\\"\"".to_string(),
                "2.5".into(),
                "a list".into(),
                format!("\"{}…\"", "y".repeat(40)),
            ]
        );
    }

    #[test]
    fn empty_document_is_null() {
        assert_eq!(parse("").unwrap().value, Value::Null);
    }
}
