//! The decoder's part for generic steps, step ids, links and `parallel` (a child module of
//! `decode.rs`, so it reads keys through the same [`Fields`] and reports through the same
//! [`Report`], with the same located errors and did-you-means).
//!
//! It lives in its own file so that the step decoder gains a few hook lines rather than a second
//! body of key handling; the checks that need the whole tree (ids unique, link targets known) run
//! once the root is decoded, from what [`WiringCheck`] collected on the way down. Checking link
//! targets in the plan compiler was rejected: it cannot point into the file.

use super::*;
use crate::scenario::generic::{
    self, Convention, Generic, Link, LinkTarget, PREVIOUS_TRACE, Wiring,
};

/// What the step decoder collects for the checks over the whole tree.
#[derive(Debug, Default)]
pub(super) struct WiringCheck {
    /// Every `id:` with its key path and place.
    ids: Vec<(String, String, Mark)>,
    /// Every link `to:` naming a step, with its key path and place.
    targets: Vec<(String, String, Mark)>,
}

/// The generic keys of one step, as read.
pub(super) struct GenericKeys<'n> {
    name: Option<(String, &'n Node)>,
    kind: Option<(String, &'n Node)>,
    convention: Option<(String, &'n Node)>,
}

impl<'a> Decoder<'a> {
    /// Takes `name`, `kind` and `convention` (before `type` is resolved).
    pub(super) fn generic_keys<'n>(&mut self, f: &mut Fields<'n>) -> GenericKeys<'n> {
        GenericKeys {
            name: f.take(self, "name"),
            kind: f.take(self, "kind"),
            convention: f.take(self, "convention"),
        }
    }

    /// The step's span type and generic part from its `type` (if given) and generic keys:
    /// `type` and `name` are exclusive; `kind` and `convention` need `name`; neither keeps the
    /// format's default type.
    pub(super) fn step_kind(
        &mut self,
        type_key: Option<(String, &Node)>,
        keys: GenericKeys,
    ) -> (Option<SpanType>, Option<Generic>) {
        let Some((name_path, name_node)) = keys.name else {
            for (path, node) in [keys.kind, keys.convention].into_iter().flatten() {
                let key = path.rsplit('.').next().unwrap_or(&path).to_string();
                self.push(
                    Severity::Error,
                    Some(node.mark),
                    &path,
                    format!("`{key}` belongs to a generic step, which has a `name`"),
                    Some("give the step a `name` (and no `type`), or remove the key".into()),
                );
            }
            let span_type = match type_key {
                Some((path, node)) => self.span_type(node, &path),
                None => Some(SpanType::A2aOrchestrate),
            };
            return (span_type, None);
        };
        if let Some((type_path, _)) = type_key {
            self.push(
                Severity::Error,
                Some(name_node.mark),
                &name_path,
                format!(
                    "both `{}` and `name` are given: a step is an agent span type (`type`) or a \
                     generic span (`name`, `kind`, `convention`), not both",
                    type_path.rsplit('.').next().unwrap_or("type")
                ),
                Some("keep `type` for an agent span, or `name` for any other span".into()),
            );
            return (None, None);
        }
        let name = match &name_node.value {
            Value::Str(s) if !s.trim().is_empty() => s.clone(),
            _ => {
                self.expected(name_node, &name_path, "a span name such as `GET /orders`");
                return (None, None);
            }
        };
        let kind = keys.kind.and_then(|(path, node)| {
            self.word(node, &path, &generic::KIND_NAMES, "span kind")
                .and_then(|w| generic::parse_kind(&w))
        });
        let convention = match keys.convention {
            Some((path, node)) => {
                let names = Convention::ALL.map(|c| c.name());
                self.word(node, &path, &names, "convention")
                    .and_then(|w| Convention::parse(&w))
            }
            None => Some(Convention::None),
        };
        let generic = convention.map(|convention| Generic {
            name,
            kind,
            convention,
        });
        (Some(SpanType::Generic), generic)
    }

    /// One of `choices`, with a did-you-mean when it is none of them.
    fn word(&mut self, node: &Node, path: &str, choices: &[&str], what: &str) -> Option<String> {
        let Value::Str(text) = &node.value else {
            self.expected(node, path, &format!("a {what}: {}", choices.join(", ")));
            return None;
        };
        if choices.contains(&text.as_str()) {
            return Some(text.clone());
        }
        let help = nearest(&text.to_lowercase(), choices.iter().copied())
            .map(|n| format!("did you mean `{n}`?"))
            .unwrap_or_else(|| format!("{what}s: {}", choices.join(", ")));
        self.push(
            Severity::Error,
            Some(node.mark),
            path,
            format!("unknown {what} `{text}`"),
            Some(help),
        );
        None
    }

    /// A generic name's placeholders take constants, and at most one categorical attribute
    /// (each of its values gives one name); one naming another sampled attribute is an error (one
    /// naming no attribute is filled from the convention's defaults, or left as written;
    /// `validate` warns about it).
    pub(super) fn check_placeholders(
        &mut self,
        generic: &Generic,
        attributes: &[Attribute],
        path: &str,
        mark: Mark,
    ) {
        let name_path = join(path, "name");
        let mark = self.source_map.key(&name_path).unwrap_or(mark);
        let mut categorical: Vec<&str> = Vec::new();
        for key in generic.placeholders() {
            let sampled = attributes.iter().find_map(|a| match &a.value {
                AttributeValue::Sampled(d) if a.key == key => Some(d),
                _ => None,
            });
            let scalar = |values: &[Literal]| {
                values
                    .iter()
                    .all(|v| !matches!(v, Literal::List(_) | Literal::Map(_)))
            };
            match sampled {
                None => {}
                Some(Distribution::Categorical { values, .. }) if scalar(values) => {
                    categorical.push(key);
                }
                Some(_) => self.push(
                    Severity::Error,
                    Some(mark),
                    &name_path,
                    format!(
                        "placeholder `{{{key}}}` names an attribute drawn from a continuous \
                         distribution; names are filled from constants or categorical choices"
                    ),
                    Some(format!(
                        "write `{key}` as a constant or a categorical, or take it out of the name"
                    )),
                ),
            }
        }
        categorical.sort_unstable();
        categorical.dedup();
        if categorical.len() > 1 {
            self.push(
                Severity::Error,
                Some(mark),
                &name_path,
                format!(
                    "placeholders {} all name sampled attributes; at most one may",
                    categorical
                        .iter()
                        .map(|k| format!("`{{{k}}}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Some("write all but one of them as constants".into()),
            );
        }
    }

    /// Reads `id`, `links` and `parallel` of a step.
    pub(super) fn wiring(&mut self, f: &mut Fields) -> Wiring {
        let id = f.take(self, "id").and_then(|(path, node)| match &node.value {
            Value::Str(s) if !s.is_empty() && s != PREVIOUS_TRACE => {
                self.wiring_check.ids.push((s.clone(), path, node.mark));
                Some(s.clone())
            }
            Value::Str(s) if s == PREVIOUS_TRACE => {
                self.error(
                    node.mark,
                    &path,
                    format!("`{PREVIOUS_TRACE}` is what `links` call the preceding trace; choose another id"),
                );
                None
            }
            _ => {
                self.expected(node, &path, "a step id (text)");
                None
            }
        });
        let links = match f.take(self, "links") {
            Some((path, node)) => match &node.value {
                Value::Null => Vec::new(),
                Value::Seq(items) => items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| self.link(item, &format!("{path}[{i}]")))
                    .collect(),
                _ => {
                    self.expected(node, &path, "a list of links ({to, attributes})");
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        let parallel = self.boolean(f, "parallel", false);
        Wiring {
            id,
            links,
            parallel,
        }
    }

    fn link(&mut self, node: &Node, path: &str) -> Option<Link> {
        let mut f = self.fields(node, path, &format::LINK)?;
        let to = match f.take(self, "to") {
            Some((to_path, to_node)) => match &to_node.value {
                Value::Str(s) if s == PREVIOUS_TRACE => Some(LinkTarget::PreviousTrace),
                Value::Str(s) if !s.is_empty() => {
                    self.wiring_check
                        .targets
                        .push((s.clone(), to_path, to_node.mark));
                    Some(LinkTarget::Step(s.clone()))
                }
                _ => {
                    self.expected(to_node, &to_path, "a step id or `previous_trace`");
                    None
                }
            },
            None => {
                self.error(
                    node.mark,
                    path,
                    "a link needs `to`: a step id or `previous_trace`",
                );
                None
            }
        };
        let attributes = match f.take(self, "attributes") {
            Some((attr_path, attr_node)) => self.link_attributes(attr_node, &attr_path),
            None => Vec::new(),
        };
        f.finish(self);
        Some(Link {
            to: to?,
            attributes,
        })
    }

    fn link_attributes(&mut self, node: &Node, path: &str) -> Vec<(String, Literal)> {
        let entries = match &node.value {
            Value::Null => return Vec::new(),
            Value::Map(entries) => entries,
            _ => {
                self.expected(node, path, "a mapping of attribute names to constants");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (k, v) in entries {
            let Some(key) = k.scalar_text() else {
                self.expected(k, path, "an attribute name");
                continue;
            };
            let attr_path = format!("{path}.{key}");
            if has_key(v, "distribution") {
                self.expected(
                    v,
                    &attr_path,
                    "a constant (link attributes are not sampled)",
                );
                continue;
            }
            if let Some(value) = self.literal(v, &attr_path) {
                out.push((normalize_prefix(&key, self.prefix), value));
            }
        }
        out
    }

    /// Once the whole tree is read: every id is unique and every link names one.
    pub(super) fn check_wiring(&mut self) {
        let check = std::mem::take(&mut self.wiring_check);
        for (i, (id, path, mark)) in check.ids.iter().enumerate() {
            if let Some((_, first, _)) = check.ids[..i].iter().find(|(other, ..)| other == id) {
                self.error(
                    *mark,
                    path,
                    format!("step id `{id}` is already the id of {first}; ids name one step"),
                );
            }
        }
        for (target, path, mark) in &check.targets {
            if check.ids.iter().any(|(id, ..)| id == target) {
                continue;
            }
            let ids: Vec<&str> = check.ids.iter().map(|(id, ..)| id.as_str()).collect();
            let help = nearest(target, ids.iter().copied().chain([PREVIOUS_TRACE]))
                .map(|n| format!("did you mean `{n}`?"))
                .unwrap_or_else(|| {
                    if ids.is_empty() {
                        format!("no step has an `id`; give the target step one, or use `{PREVIOUS_TRACE}`")
                    } else {
                        format!("step ids: {}; or `{PREVIOUS_TRACE}`", ids.join(", "))
                    }
                });
            self.push(
                Severity::Error,
                Some(*mark),
                path,
                format!("link target `{target}` is no step id of this scenario"),
                Some(help),
            );
        }
    }
}
