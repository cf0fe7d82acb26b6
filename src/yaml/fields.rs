//! One mapping of a document, read key by key.
//!
//! A decoder takes the keys it knows, under any of their spellings; what nothing took is an
//! unknown key, reported with the nearest valid one. Tracking what was read, rather than checking
//! the keys against a list up front, means the list of valid keys cannot drift from the keys
//! actually read. Deciding which keys are valid (the scenario format's tables) is the decoder's
//! business, not this module's.

use super::report::Report;
use super::tree::{Mark, Node, Value};

/// The entries of one mapping, with what has been read so far.
pub struct Fields<'n> {
    /// The mapping's key path.
    pub path: String,
    /// Where the mapping was written.
    pub mark: Mark,
    entries: Vec<Entry<'n>>,
}

/// One key and its value.
struct Entry<'n> {
    /// The key, if it is a string.
    key: Option<String>,
    key_mark: Mark,
    value: &'n Node,
    used: bool,
}

impl<'n> Fields<'n> {
    /// The entries of `node`; `None`, once reported, if it is not a mapping.
    pub fn read(report: &mut Report, node: &'n Node, path: &str) -> Option<Fields<'n>> {
        let entries = match &node.value {
            Value::Map(entries) => entries,
            _ => {
                report.expected(node, path, "a mapping");
                return None;
            }
        };
        Some(Fields {
            path: path.to_string(),
            mark: node.mark,
            entries: entries
                .iter()
                .map(|(k, v)| Entry {
                    key: match &k.value {
                        Value::Str(s) => Some(s.clone()),
                        _ => None,
                    },
                    key_mark: k.mark,
                    value: v,
                    used: false,
                })
                .collect(),
        })
    }

    /// Takes every entry not read yet whose key is one of `names`, in the order written: each
    /// as its key, where the key was written, and its value.
    pub fn take(&mut self, names: &[&str]) -> Vec<(String, Mark, &'n Node)> {
        let mut taken = Vec::new();
        for entry in self.entries.iter_mut().filter(|e| !e.used) {
            if let Some(key) = entry.key.as_deref().filter(|k| names.contains(k)) {
                entry.used = true;
                taken.push((key.to_string(), entry.key_mark, entry.value));
            }
        }
        taken
    }

    /// Whether the mapping has the key `name`, read or not.
    pub fn has(&self, name: &str) -> bool {
        self.entries.iter().any(|e| e.key.as_deref() == Some(name))
    }

    /// Marks every remaining key as read (after an error that makes them meaningless).
    pub fn skip_rest(&mut self) {
        for entry in &mut self.entries {
            entry.used = true;
        }
    }

    /// Reports every key that nothing took, naming the nearest of the `accepted` keys.
    pub fn finish(self, report: &mut Report, accepted: &[&str]) {
        for entry in self.entries.iter().filter(|e| !e.used) {
            match &entry.key {
                Some(key) => report.unknown_key(entry.key_mark, &self.path, key, accepted),
                None => report.error(entry.key_mark, &self.path, "keys must be strings"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::Policy;

    #[test]
    fn what_nothing_took_is_reported_once() {
        let text = "a: 1\nb: 2\nalias_of_a: 3\nc: 4\n1: 5\n";
        let mut report = Report::new("f.yaml", text, Policy::Refuse);
        let node = report.parse().unwrap();
        let mut f = Fields::read(&mut report, &node, "m").unwrap();
        let taken: Vec<String> = f
            .take(&["a", "alias_of_a"])
            .into_iter()
            .map(|(key, _, _)| key)
            .collect();
        assert_eq!(taken, ["a", "alias_of_a"]);
        assert!(f.take(&["a"]).is_empty(), "a key is taken once");
        assert!(f.has("a") && f.has("c") && !f.has("d"));
        assert_eq!(f.take(&["b"]).len(), 1);
        f.finish(&mut report, &["a", "b", "cc"]);
        let found: Vec<(String, String)> = report
            .finish()
            .0
            .into_iter()
            .map(|d| (d.path, d.message))
            .collect();
        assert_eq!(
            found,
            [
                ("m.c".to_string(), "unknown key `c`".to_string()),
                ("m".to_string(), "keys must be strings".to_string()),
            ]
        );
    }

    #[test]
    fn a_mapping_is_expected() {
        let text = "[1]";
        let mut report = Report::new("f.yaml", text, Policy::Refuse);
        let node = report.parse().unwrap();
        assert!(Fields::read(&mut report, &node, "root").is_none());
        assert_eq!(
            report.diagnostics()[0].message,
            "expected a mapping, found a list"
        );
    }
}
