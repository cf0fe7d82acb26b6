//! The located-YAML reader that both file formats are read with: scenarios (`crate::scenario`)
//! and the semantic-conventions schema (`crate::schema`).
//!
//! It has four parts, each used by both decoders:
//! - [`tree`]: the document as a tree of nodes that remember their line and column, parsed under a
//!   budget that refuses alias bombs and absurd nesting;
//! - [`diagnostic`]: problems as a compiler reports them (file, line, column, key path, the source
//!   line with a caret, a "did you mean"), collected so one pass shows every problem;
//! - [`report`]: the collector a decoder writes into as it walks the tree, with one wording for a
//!   value of the wrong shape and for an unknown key, and the readers of typed values both formats
//!   share; a [`Policy`] says whether such a value is refused (scenarios) or ignored with a warning
//!   (schema files, whose originals were full of such mistakes);
//! - [`fields`]: one mapping read key by key, so that what nothing read is reported as unknown.
//!
//! The module knows nothing of scenarios or schemas: it is below both, so neither reaches into
//! the other to read YAML. The rejected alternative was what it replaces: the reader living inside
//! `scenario/`, with the schema decoder importing it from there and keeping its own copies of the
//! diagnostics plumbing.

pub mod diagnostic;
pub mod fields;
pub mod namespace;
pub mod report;
pub mod tree;

pub use diagnostic::{Diagnostic, Diagnostics, Severity, nearest};
pub use fields::Fields;
pub use namespace::{YAML_PREFIX, normalize_prefix};
pub use report::{Policy, Report, join};
pub use tree::{Literal, Mark, Node, SyntaxError, Value, parse};
