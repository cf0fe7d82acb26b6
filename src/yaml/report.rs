//! The diagnostics of one file, collected as a decoder walks its tree, and the few readers of
//! typed values both file formats share.
//!
//! A decoder writes every problem here and carries on, so one pass reports them all; each comes out
//! with the source line it points into, for the caret snippet, and in the order of the file. What a
//! decoder does with a value of the wrong shape or an unknown key is its [`Policy`]: a scenario
//! refuses it (an error), a schema file ignores it with a warning, because every schema file the
//! Python original shipped has such mistakes and it read them anyway. The wording of those two
//! messages lives here once, for both policies. The rejected alternative, each decoder with its
//! own collector, is how the copies this module replaces came about.

use super::diagnostic::{Diagnostic, Diagnostics, Severity, nearest};
use super::tree::{Mark, Node, SyntaxError, Value};

/// What a value of the wrong shape, or a key nothing reads, makes of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// An error: the file is refused (scenarios).
    Refuse,
    /// A warning that says the value was ignored; the file loads (schema files).
    Ignore,
}

/// A mapping's entries as names: each key's text, the key node and the value.
pub type Entries<'n> = Vec<(String, &'n Node, &'n Node)>;

/// The diagnostics of one file.
pub struct Report<'a> {
    file: &'a str,
    text: &'a str,
    lines: Vec<&'a str>,
    policy: Policy,
    diagnostics: Vec<Diagnostic>,
}

/// `path.key`, or `key` at the top of the document.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl<'a> Report<'a> {
    /// A report on `text`, which diagnostics call `file`.
    pub fn new(file: &'a str, text: &'a str, policy: Policy) -> Report<'a> {
        Report {
            file,
            text,
            lines: text.lines().collect(),
            policy,
            diagnostics: Vec::new(),
        }
    }

    /// Parses the text the report is on: the tree, or `None` once the syntax error is reported.
    /// The one entry point from text to tree for both formats.
    pub fn parse(&mut self) -> Option<Node> {
        match super::tree::parse(self.text) {
            Ok(node) => Some(node),
            Err(error) => {
                self.syntax_error(&error);
                None
            }
        }
    }

    fn syntax_error(&mut self, error: &SyntaxError) {
        self.push(Severity::Error, error.mark, "", error.plain_message(), None);
    }

    pub fn push(
        &mut self,
        severity: Severity,
        mark: Option<Mark>,
        path: &str,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        let source_line = mark
            .and_then(|m| self.lines.get((m.line as usize).checked_sub(1)?))
            .map(|l| l.to_string());
        self.diagnostics.push(Diagnostic {
            severity,
            file: self.file.to_string(),
            mark,
            path: path.to_string(),
            message: message.into(),
            help,
            source_line,
        });
    }

    pub fn error(&mut self, mark: Mark, path: &str, message: impl Into<String>) {
        self.push(Severity::Error, Some(mark), path, message, None);
    }

    pub fn warn(
        &mut self,
        mark: Mark,
        path: &str,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        self.push(Severity::Warning, Some(mark), path, message, help);
    }

    /// What has been reported so far.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Everything reported, in the order of the file (problems at one place in the order found).
    pub fn finish(self) -> Diagnostics {
        let mut diagnostics = Diagnostics(self.diagnostics);
        diagnostics
            .0
            .sort_by_key(|d| d.mark.map(|m| (m.line, m.column)));
        diagnostics
    }

    /// Reports that `node` is not `what`: refused, or ignored with a warning (and, where a number
    /// or boolean stands for a string, the hint to quote it).
    pub fn expected(&mut self, node: &Node, path: &str, what: &str) {
        match self.policy {
            Policy::Refuse => {
                let found = match &node.value {
                    Value::Str(s) if s.chars().count() <= 40 => format!("\"{s}\""),
                    Value::Int(i) => i.to_string(),
                    Value::Float(f) => f.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => node.kind().to_string(),
                };
                self.error(node.mark, path, format!("expected {what}, found {found}"));
            }
            Policy::Ignore => {
                let help = match (&node.value, what) {
                    (Value::Int(_) | Value::Float(_) | Value::Bool(_), "a string") => Some(
                        format!("quote it: \"{}\"", node.scalar_text().unwrap_or_default()),
                    ),
                    _ => None,
                };
                let message = format!("expected {what}, found {}; ignored", node.show());
                self.warn(node.mark, path, message, help);
            }
        }
    }

    /// Reports the key `key` (written at `mark`, inside the mapping at `path`) that nothing here
    /// reads, with the nearest of the `accepted` keys, or the list of them if none is near.
    pub fn unknown_key(&mut self, mark: Mark, path: &str, key: &str, accepted: &[&str]) {
        let near = nearest(key, accepted.iter().copied()).map(|n| format!("did you mean `{n}`?"));
        let (severity, message, help) = match self.policy {
            Policy::Refuse => (
                Severity::Error,
                format!("unknown key `{key}`"),
                near.unwrap_or_else(|| format!("valid keys here: {}", accepted.join(", "))),
            ),
            Policy::Ignore => (
                Severity::Warning,
                format!("unknown key `{key}`; ignored"),
                near.unwrap_or_else(|| format!("the keys read here are {}", accepted.join(", "))),
            ),
        };
        self.push(severity, Some(mark), &join(path, key), message, Some(help));
    }

    /// A list of strings; null is empty, and an item that is not a string is reported and left out.
    pub fn strings(&mut self, node: &Node, path: &str) -> Vec<String> {
        match &node.value {
            Value::Null => Vec::new(),
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| match &item.value {
                    Value::Str(s) => Some(s.clone()),
                    _ => {
                        self.expected(item, &format!("{path}[{i}]"), "a string");
                        None
                    }
                })
                .collect(),
            _ => {
                self.expected(node, path, "a list of strings");
                Vec::new()
            }
        }
    }

    /// The entries of a mapping whose keys are names (a number or boolean key is read as its
    /// text); null is an empty mapping. `None`, once reported as not `what`, for anything else.
    pub fn entries<'n>(&mut self, node: &'n Node, path: &str, what: &str) -> Option<Entries<'n>> {
        match &node.value {
            Value::Null => Some(Vec::new()),
            Value::Map(entries) => {
                let mut out = Vec::with_capacity(entries.len());
                for (key, value) in entries {
                    match key.scalar_text() {
                        Some(text) => out.push((text, key, value)),
                        None => self.error(
                            key.mark,
                            path,
                            format!("keys must be names, found {}", key.kind()),
                        ),
                    }
                }
                Some(out)
            }
            _ => {
                self.expected(node, path, what);
                None
            }
        }
    }

    /// A string; `None` for null, and (after reporting) for anything else.
    pub fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            Value::Null => None,
            _ => {
                self.expected(node, path, "a string");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(policy: Policy, text: &str, read: impl Fn(&mut Report, &Node)) -> Vec<String> {
        let mut report = Report::new("f.yaml", text, policy);
        let node = report.parse().unwrap();
        read(&mut report, &node);
        report.finish().0.iter().map(|d| d.to_string()).collect()
    }

    #[test]
    fn a_wrong_shape_is_refused_or_ignored_as_the_policy_says() {
        let read = |r: &mut Report, n: &Node| {
            r.strings(n, "tags");
        };
        assert_eq!(
            messages(Policy::Refuse, "[a, 3, {b: c}]", read),
            [
                "error: f.yaml:1:5: tags[1]: expected a string, found 3\n  |\n1 | [a, 3, {b: c}]\n  |     ^",
                "error: f.yaml:1:8: tags[2]: expected a string, found a mapping\n  |\n1 | [a, 3, {b: c}]\n  |        ^",
            ]
        );
        assert_eq!(
            messages(Policy::Ignore, "[a, 3]", read),
            [
                "warning: f.yaml:1:5: tags[1]: expected a string, found 3; ignored\n  |\n1 | [a, 3]\n  |     ^\n  help: quote it: \"3\""
            ]
        );
    }

    #[test]
    fn strings_are_shown_as_the_policy_says() {
        let long = "x".repeat(41);
        let read = |r: &mut Report, n: &Node| {
            r.expected(n, "p", "a list");
        };
        let refused = messages(Policy::Refuse, &long, read);
        assert!(
            refused[0].contains("expected a list, found a string\n"),
            "{refused:?}"
        );
        let ignored = messages(Policy::Ignore, &long, read);
        let cut = format!("found \"{}…\"; ignored", "x".repeat(40));
        assert!(ignored[0].contains(&cut), "{ignored:?}");
    }

    #[test]
    fn unknown_keys_name_the_nearest_or_every_valid_key() {
        let read = |r: &mut Report, n: &Node| {
            r.unknown_key(n.mark, "root", "max_atempts", &["max_attempts", "enabled"]);
            r.unknown_key(n.mark, "", "colour", &["max_attempts", "enabled"]);
        };
        let refused = messages(Policy::Refuse, "x", read);
        assert!(refused[0].contains("root.max_atempts: unknown key `max_atempts`"));
        assert!(refused[0].ends_with("help: did you mean `max_attempts`?"));
        assert!(refused[1].ends_with("help: valid keys here: max_attempts, enabled"));
        let ignored = messages(Policy::Ignore, "x", read);
        assert!(ignored[0].starts_with(
            "warning: f.yaml:1:1: root.max_atempts: unknown key `max_atempts`; ignored"
        ));
        assert!(ignored[1].ends_with("help: the keys read here are max_attempts, enabled"));
    }

    #[test]
    fn syntax_errors_are_reported_in_plain_words_and_sorted_with_the_rest() {
        let text = "a: 1\na: 2\n";
        let mut report = Report::new("f.yaml", text, Policy::Refuse);
        assert!(report.parse().is_none());
        let diagnostics = report.finish();
        assert_eq!(diagnostics.0.len(), 1);
        assert!(
            diagnostics.0[0]
                .message
                .starts_with("duplicate key `a`: each key may appear once"),
            "{diagnostics}"
        );
    }
}
