//! Multi-turn sessions and evaluations in the scenario model: what `session:` (top level) and a
//! step's `evaluations:` mean, their key tables, and how they are decoded.
//!
//! A session is described once, beside the step tree, not inside it: every trace of a session
//! scenario is one *turn*, drawn from the same tree, and the session only says how many turns a
//! conversation has, how long its user thinks between them, who the users are, and how the
//! context carried from turn to turn grows. Writing the turns out one by one (the Python tool's
//! later `endusers → turns` lists) was rejected: it fixes every conversation's length and makes
//! thousands of sessions impossible to describe. Its spelling is accepted where it fits
//! (`endusers` for `users`).
//!
//! The module is a child of the decoder (declared there with `#[path]`), so it reads keys through
//! the decoder's own located, did-you-mean checked helpers without widening their visibility.

use super::format::{self, Mapping, NON_NEGATIVE, PROBABILITY, Shape, key};
use super::{Decoder, Fields, has_key};
use crate::scenario::model::{Attribute, Count, Distribution, Latency};
use crate::yaml::{Node, Value};

/// `session:` — multi-turn conversations.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// Turns per session.
    pub turns: Count,
    /// The user's pause between the end of one turn and the start of the next, in ms.
    pub think_time: Latency,
    pub users: Users,
    /// How the context carried from turn to turn grows; `None`: it does not.
    pub context: Option<Context>,
    /// Evaluations of the whole session, sent on its last turn's root span.
    pub evaluations: Vec<Evaluation>,
}

/// The end users sessions belong to.
#[derive(Clone, Debug, PartialEq)]
pub struct Users {
    /// Named users; empty: a generated population of `count`.
    pub ids: Vec<String>,
    /// The generated population's size.
    pub count: u64,
    /// One weight per named user; empty: all equally likely.
    pub weights: Vec<f64>,
    /// Attributes each user carries on every span of their sessions, drawn once per user.
    pub attributes: Vec<Attribute>,
}

impl Default for Users {
    fn default() -> Self {
        Users {
            ids: Vec::new(),
            count: DEFAULT_USERS,
            weights: Vec::new(),
            attributes: Vec::new(),
        }
    }
}

/// Users in a generated population when none are named.
pub const DEFAULT_USERS: u64 = 1000;

/// Growing context.
#[derive(Clone, Debug, PartialEq)]
pub struct Context {
    /// The model's context window, in tokens.
    pub window: u64,
    pub overflow: Overflow,
    /// Tokens a summary of the history takes (`overflow: summarize`).
    pub summary_tokens: u64,
}

/// What happens once the history no longer fits the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// The oldest history is dropped: the input stays at the window.
    Truncate,
    /// A summarising LLM call (a span of its own) replaces the history by a summary.
    Summarize,
}

/// One evaluation of a span (or of a session).
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub name: String,
    pub score: Distribution,
    /// `(label, lowest score)`, highest threshold first: a score takes the first label whose
    /// threshold it reaches.
    pub labels: Vec<(String, f64)>,
    pub explanation: Option<String>,
    /// Chance a span is evaluated.
    pub probability: f64,
}

impl Evaluation {
    /// The label of `score`, if any threshold is reached.
    pub fn label(&self, score: f64) -> Option<&str> {
        self.labels
            .iter()
            .find(|(_, at)| score >= *at)
            .map(|(l, _)| l.as_str())
    }
}

pub static SESSION: Mapping = Mapping {
    name: "session",
    doc: "Multi-turn conversations: each trace is one turn of a session of one end user.",
    keys: &[
        key(
            &["turns"],
            Shape::Count,
            "Turns per session: a whole number, {min, max}, or a distribution with min/max (default 1).",
        ),
        key(
            &["think_time"],
            Shape::Latency,
            "The user's pause between the end of a turn and the start of the next, in ms, as a latency (default 5000).",
        ),
        key(
            &["users", "endusers"],
            Shape::Mapping(&USERS),
            "Who the sessions belong to: named ids with weights, or a generated population.",
        ),
        key(
            &["context"],
            Shape::Mapping(&CONTEXT),
            "Growing context: later turns' input tokens carry the earlier turns' tokens, up to a window.",
        ),
        key(
            &["evaluations"],
            Shape::List(&EVALUATION),
            "Evaluations of the whole session, sent on its last turn's root span.",
        ),
    ],
};

pub static USERS: Mapping = Mapping {
    name: "users",
    doc: "The end users of a session scenario.",
    keys: &[
        key(&["ids"], Shape::Strings, "Named user ids."),
        key(
            &["count", "population"],
            Shape::Integer {
                min: 1,
                max: u32::MAX as i64,
            },
            "Size of the generated population `user-0001`… when no ids are named (default 1000).",
        ),
        key(
            &["weights"],
            Shape::Numbers(NON_NEGATIVE),
            "One weight per named id (default: equal).",
        ),
        key(
            &["attributes"],
            Shape::Attributes,
            "Attributes of each user, on every span of their sessions: constants or distributions, drawn once per user.",
        ),
    ],
};

pub static CONTEXT: Mapping = Mapping {
    name: "context",
    doc: "Growing context: a turn's LLM input tokens carry every earlier turn's input and output tokens.",
    keys: &[
        key(
            &["window", "context_window"],
            Shape::Integer {
                min: 1,
                max: u32::MAX as i64,
            },
            "The model's context window in tokens (default 128000).",
        ),
        key(
            &["overflow"],
            Shape::Text,
            "Beyond the window: `truncate` (default; the oldest history is dropped) or `summarize` (a summarising LLM call replaces the history).",
        ),
        key(
            &["summary_tokens"],
            Shape::Integer {
                min: 0,
                max: u32::MAX as i64,
            },
            "Tokens of a summary (default 500).",
        ),
    ],
};

pub static EVALUATION: Mapping = Mapping {
    name: "evaluation",
    doc: "An evaluation: a score drawn per evaluated span, labelled by thresholds.",
    keys: &[
        key(
            &["name"],
            Shape::Text,
            "`gen_ai.evaluation.name`, e.g. relevance.",
        ),
        key(
            &["score"],
            Shape::Distribution,
            "The score's distribution (default uniform in [0, 1]).",
        ),
        key(
            &["labels"],
            Shape::NumberMap,
            "Label → lowest score that earns it; the highest threshold reached wins (`gen_ai.evaluation.score.label`).",
        ),
        key(
            &["explanation"],
            Shape::Text,
            "`gen_ai.evaluation.explanation` (optional).",
        ),
        key(
            &["probability"],
            Shape::Number(PROBABILITY),
            "Chance a span is evaluated (default 1).",
        ),
    ],
};

/// The tables of this module, for [`format::mappings`].
pub static MAPPINGS: [&Mapping; 4] = [&SESSION, &USERS, &CONTEXT, &EVALUATION];

/// Turns a session may have at most: beyond, a typo rather than a conversation.
pub const MAX_TURNS: u32 = 10_000;

/// The default context window, in tokens.
pub const DEFAULT_WINDOW: u64 = 128_000;
/// The default think time, in ms.
pub const DEFAULT_THINK_MS: f64 = 5000.0;

impl Decoder<'_> {
    /// `session:`.
    pub(super) fn session(&mut self, node: &Node, path: &str) -> Option<Session> {
        let mut f = self.fields(node, path, &SESSION)?;
        let turns = match f.take(self, "turns") {
            Some((p, n)) => self.count(n, &p),
            None => Count::Fixed(1),
        };
        let think_time = match f.take(self, "think_time") {
            Some((p, n)) => self.latency(n, &p),
            None => Latency::Distribution(Distribution::Exponential {
                mean: DEFAULT_THINK_MS,
            }),
        };
        let users = match f.take(self, "users") {
            Some((p, n)) if n.value != Value::Null => self.users(n, &p),
            _ => Users::default(),
        };
        let context = match f.take(self, "context") {
            Some((p, n)) => self.context(n, &p),
            None => None,
        };
        let evaluations = self.evaluations_of(&mut f);
        f.finish(self);
        if turns.max() > MAX_TURNS {
            self.error(
                node.mark,
                &crate::yaml::join(path, "turns"),
                format!(
                    "up to {} turns per session; at most {MAX_TURNS} are allowed",
                    turns.max()
                ),
            );
        }
        if turns.max() == 0 {
            self.error(
                node.mark,
                &crate::yaml::join(path, "turns"),
                "a session has at least one turn",
            );
        }
        Some(Session {
            turns,
            think_time,
            users,
            context,
            evaluations,
        })
    }

    fn users(&mut self, node: &Node, path: &str) -> Users {
        let Some(mut f) = self.fields(node, path, &USERS) else {
            return Users::default();
        };
        let ids = match f.take(self, "ids") {
            Some((p, n)) => self.report.strings(n, &p),
            None => Vec::new(),
        };
        let count = self.integer_or(&mut f, "count", DEFAULT_USERS as i64) as u64;
        let range = f.range("weights");
        let weights = match f.take(self, "weights") {
            Some((p, n)) => {
                let w = self.numbers(n, &p, range);
                if w.len() != ids.len() || !w.iter().any(|x| *x > 0.0) {
                    self.error(
                        n.mark,
                        &p,
                        format!(
                            "`weights` needs one weight per id ({} ids, {} weights), not all 0",
                            ids.len(),
                            w.len()
                        ),
                    );
                    Vec::new()
                } else {
                    w
                }
            }
            None => Vec::new(),
        };
        let attributes = match f.take(self, "attributes") {
            Some((p, n)) => self.attributes(n, &p, usize::MAX),
            None => Vec::new(),
        };
        f.finish(self);
        Users {
            ids,
            count,
            weights,
            attributes,
        }
    }

    fn context(&mut self, node: &Node, path: &str) -> Option<Context> {
        if node.value == Value::Null {
            return Some(Context {
                window: DEFAULT_WINDOW,
                overflow: Overflow::Truncate,
                summary_tokens: 500,
            });
        }
        let mut f = self.fields(node, path, &CONTEXT)?;
        let window = self.integer_or(&mut f, "window", DEFAULT_WINDOW as i64) as u64;
        let overflow = match f.take(self, "overflow") {
            Some((p, n)) => match n.scalar_text().as_deref() {
                Some("truncate") => Overflow::Truncate,
                Some("summarize" | "summarise") => Overflow::Summarize,
                _ => {
                    self.expected(n, &p, "`truncate` or `summarize`");
                    Overflow::Truncate
                }
            },
            None => Overflow::Truncate,
        };
        let summary_tokens = self.integer_or(&mut f, "summary_tokens", 500) as u64;
        f.finish(self);
        if overflow == Overflow::Summarize && summary_tokens >= window {
            self.error(
                node.mark,
                &crate::yaml::join(path, "summary_tokens"),
                format!("a summary of {summary_tokens} tokens does not fit the window of {window}"),
            );
        }
        Some(Context {
            window,
            overflow,
            summary_tokens,
        })
    }

    /// The `evaluations:` list of the mapping `f`.
    pub(super) fn evaluations_of(&mut self, f: &mut Fields) -> Vec<Evaluation> {
        let Some((path, node)) = f.take(self, "evaluations") else {
            return Vec::new();
        };
        match &node.value {
            Value::Null => Vec::new(),
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| self.evaluation(item, &format!("{path}[{i}]")))
                .collect(),
            _ => {
                self.expected(node, &path, "a list of evaluations");
                Vec::new()
            }
        }
    }

    fn evaluation(&mut self, node: &Node, path: &str) -> Option<Evaluation> {
        let mut f = self.fields(node, path, &EVALUATION)?;
        let name = self.text(&mut f, "name");
        let score = match f.take(self, "score") {
            Some((p, n)) if has_key(n, "distribution") => {
                let mut g = self.fields(n, &p, &format::SAMPLED)?;
                let d = self.distribution(&mut g, None);
                g.finish(self);
                match d {
                    Some(d) if d.is_numeric() => d,
                    _ => {
                        self.expected(n, &p, "a distribution of numbers");
                        Distribution::Uniform {
                            low: 0.0,
                            high: 1.0,
                        }
                    }
                }
            }
            Some((p, n)) => {
                self.expected(
                    n,
                    &p,
                    "a distribution mapping such as {distribution: uniform}",
                );
                return None;
            }
            None => Distribution::Uniform {
                low: 0.0,
                high: 1.0,
            },
        };
        let labels = match f.take(self, "labels") {
            Some((p, n)) => self.labels(n, &p),
            None => Vec::new(),
        };
        let explanation = self.text(&mut f, "explanation");
        let probability = self.number_or(&mut f, "probability", 1.0);
        f.finish(self);
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            self.error(node.mark, path, "an evaluation needs a `name`");
            return None;
        };
        Some(Evaluation {
            name,
            score,
            labels,
            explanation,
            probability,
        })
    }

    /// `labels: {label: threshold}`, highest threshold first.
    fn labels(&mut self, node: &Node, path: &str) -> Vec<(String, f64)> {
        let Value::Map(entries) = &node.value else {
            if node.value != Value::Null {
                self.expected(node, path, "a mapping of label to lowest score");
            }
            return Vec::new();
        };
        let mut labels = Vec::new();
        for (k, v) in entries {
            let Some(label) = k.scalar_text() else {
                self.expected(k, path, "a label");
                continue;
            };
            let p = format!("{path}.{label}");
            if let Some(x) = self.number(v, &p, format::ANY_NUMBER) {
                labels.push((label, x));
            }
        }
        labels.sort_by(|a, b| b.1.total_cmp(&a.1));
        labels
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::{LoadOptions, decode};

    fn errors(yaml: &str) -> String {
        match decode(yaml, "t.yaml", "t", &LoadOptions::default()) {
            Ok(_) => String::new(),
            Err(d) => d.to_string(),
        }
    }

    #[test]
    fn a_session_reads_every_key() {
        let yaml = "
root:
  type: vendor.a2a.orchestrate
  evaluations:
    - {name: relevance, score: {distribution: uniform, low: 0, high: 1}, labels: {good: 0.5, bad: 0}, explanation: why}
session:
  turns: {min: 1, max: 9, distribution: poisson, lambda: 4}
  think_time: {distribution: log_normal, median: 8000, sigma: 0.5}
  endusers: {ids: [ann, bob], weights: [3, 1], attributes: {user.tier: pro}}
  context: {window: 8000, overflow: summarize, summary_tokens: 300}
  evaluations: [{name: task_success, score: {distribution: bernoulli, p: 0.8}}]
";
        let (s, _) = decode(yaml, "t.yaml", "t", &LoadOptions::default()).unwrap();
        let session = s.session.unwrap();
        assert_eq!(session.users.ids, ["ann", "bob"]);
        assert_eq!(session.users.weights, [3.0, 1.0]);
        assert_eq!(session.users.attributes.len(), 1);
        let context = session.context.unwrap();
        assert_eq!(
            (context.window, context.overflow, context.summary_tokens),
            (8000, super::Overflow::Summarize, 300)
        );
        assert_eq!(session.evaluations[0].name, "task_success");
        let eval = &s.root.evaluations[0];
        assert_eq!(eval.label(0.7), Some("good"));
        assert_eq!(eval.label(0.2), Some("bad"));
        assert_eq!(eval.explanation.as_deref(), Some("why"));
    }

    #[test]
    fn mistakes_are_located_with_a_suggestion() {
        let e = errors("root: {type: vendor.a2a.orchestrate}\nsession: {turnz: 3}\n");
        assert!(e.contains("session.turnz") && e.contains("turns"), "{e}");
        let e = errors(
            "root: {type: vendor.a2a.orchestrate}\nsession: {context: {overflow: forget}}\n",
        );
        assert!(e.contains("session.context.overflow"), "{e}");
        let e = errors(
            "root: {type: vendor.a2a.orchestrate, evaluations: [{score: {distribution: uniform}}]}\n",
        );
        assert!(e.contains("needs a `name`"), "{e}");
        let e = errors(
            "root: {type: vendor.a2a.orchestrate}\nsession: {users: {ids: [a], weights: [1, 2]}}\n",
        );
        assert!(e.contains("session.users.weights"), "{e}");
        let e = errors("root: {type: vendor.a2a.orchestrate}\nsession: {turns: 0}\n");
        assert!(e.contains("at least one turn"), "{e}");
        let e = errors(
            "root: {type: vendor.a2a.orchestrate}\nsession: {turns: {min: 1, max: 20000}}\n",
        );
        assert!(e.contains("at most 10000"), "{e}");
    }
}
