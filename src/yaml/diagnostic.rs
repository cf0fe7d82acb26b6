//! Problems found in a scenario or schema file, reported the way a compiler reports them.
//!
//! Every diagnostic carries the file, line and column, the key path inside the document
//! (`root.children[1].retry.max_attempts`), what was expected and, for a misspelt key, the nearest
//! valid one. They are collected rather than returned one at a time, so one run of `validate`
//! shows every problem in a file; the alternative of stopping at the first error makes users fix
//! files one round trip at a time.

use super::tree::Mark;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The file as the user named it, or `<bundled>/name.yaml` for embedded scenarios.
    pub file: String,
    pub mark: Option<Mark>,
    /// Key path inside the document; empty for the document itself.
    pub path: String,
    pub message: String,
    /// A "did you mean" or other hint.
    pub help: Option<String>,
    /// The source line the mark points into, for the caret snippet.
    pub source_line: Option<String>,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{label}: {}", self.file)?;
        if let Some(mark) = self.mark {
            write!(f, ":{}:{}", mark.line, mark.column)?;
        }
        if self.path.is_empty() {
            write!(f, ": {}", self.message)?;
        } else {
            write!(f, ": {}: {}", self.path, self.message)?;
        }
        if let (Some(mark), Some(line)) = (self.mark, &self.source_line) {
            let number = mark.line.to_string();
            let pad = " ".repeat(number.len());
            let caret_at = line
                .chars()
                .take(mark.column.saturating_sub(1) as usize)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect::<String>();
            write!(f, "\n{pad} |\n{number} | {line}\n{pad} | {caret_at}^")?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// All the diagnostics of one file, errors and warnings together.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// The candidate closest to `word`, if it is close enough to be a plausible misspelling.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_finds_misspellings_only() {
        let keys = ["max_attempts", "backoff_base_ms", "enabled"];
        assert_eq!(nearest("max_atempts", keys), Some("max_attempts"));
        assert_eq!(nearest("enable", keys), Some("enabled"));
        assert_eq!(nearest("colour", keys), None);
    }

    #[test]
    fn renders_location_path_snippet_and_help() {
        let d = Diagnostic {
            severity: Severity::Error,
            file: "s.yaml".into(),
            mark: Some(Mark { line: 3, column: 5 }),
            path: "root.retry".into(),
            message: "unknown key `max_atempts`".into(),
            help: Some("did you mean `max_attempts`?".into()),
            source_line: Some("    max_atempts: 3".into()),
        };
        let text = d.to_string();
        assert!(text.starts_with("error: s.yaml:3:5: root.retry: unknown key"));
        assert!(text.contains("3 |     max_atempts: 3\n  |     ^"), "{text}");
        assert!(text.ends_with("help: did you mean `max_attempts`?"));
    }
}
