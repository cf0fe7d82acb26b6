//! Where each part of a decoded scenario was written.
//!
//! The model ([`super::Scenario`]) is plain data with no positions in it, so that it stays easy to
//! build by hand, compare and print. Checks that run after decoding (`validate`'s warnings, schema
//! checks) still need to point at a line and column, so the decoder records a side table as it
//! reads: every step's key path and mark, in the order [`super::Step::walk`] visits the model's
//! steps, each with its attributes' paths and marks in the model's order, and the mark of every
//! key it took. Storing a mark inside every model type was the rejected alternative: every
//! constructor, test and comparison would have to carry positions that generation never reads.

use crate::yaml::Mark;
use std::collections::HashMap;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceMap {
    /// Every step, in pre-order (a step before its children, children in order).
    pub steps: Vec<StepSource>,
    /// The mark of each key that was read, by its key path (`root.children[1].latency`).
    pub keys: HashMap<String, Mark>,
}

/// Where one step was written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepSource {
    /// Its key path, e.g. `root.children[2]`.
    pub path: String,
    pub mark: Mark,
    /// The key path and mark of each of its attributes, in the order of `Step::attributes`.
    pub attributes: Vec<(String, Mark)>,
}

impl SourceMap {
    /// Where the key at `path` was written.
    pub fn key(&self, path: &str) -> Option<Mark> {
        self.keys.get(path).copied()
    }

    /// The mark of `path`'s key, else that of the nearest enclosing key or step that has one.
    pub fn nearest(&self, path: &str) -> Option<Mark> {
        let mut path = path;
        loop {
            if let Some(mark) = self.key(path) {
                return Some(mark);
            }
            if let Some(step) = self.steps.iter().find(|s| s.path == path) {
                return Some(step.mark);
            }
            let cut = path.rfind(['.', '['])?;
            path = &path[..cut];
        }
    }
}
