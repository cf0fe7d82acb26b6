//! Links inside a trace: a step whose spans link to spans of another step becomes
//! `links: [{to: ID}]`, and that step gets `id: ID`.
//!
//! The walk records, per node, the (name, tool) of each link's target span; this pass picks the
//! most frequent target of a node whose spans mostly link, and names the first node in the tree
//! (depth first, in order) of that name and tool (or whose folded SERVER span had that name). Recording the target's node during the walk was
//! the alternative: a link may point at a span the walk has not reached yet.

use super::tree::Node;
use std::collections::BTreeMap;

type Target = (String, Option<String>);

/// The target a node's spans mostly link to inside their trace.
fn wanted(node: &Node) -> Option<&Target> {
    let inside = node.links - node.links_out_of_trace;
    let (target, n) = node
        .link_targets
        .iter()
        .max_by_key(|(t, n)| (**n, std::cmp::Reverse(*t)))?;
    (inside * 2 >= node.spans && n * 2 >= inside).then_some(target)
}

fn collect(node: &Node, out: &mut Vec<Target>) {
    if let Some(t) = wanted(node)
        && !out.contains(t)
    {
        out.push(t.clone());
    }
    node.children.iter().for_each(|c| collect(c, out));
}

fn slug(target: &Target) -> String {
    let text = target.1.as_deref().unwrap_or(&target.0);
    let s: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_matches('_');
    if s.is_empty() {
        "step".into()
    } else {
        s.into()
    }
}

fn assign(node: &mut Node, targets: &[Target], ids: &mut BTreeMap<Target, String>) {
    for t in targets {
        // A folded SERVER span's links go to its call's step.
        let named = node.name == t.0 || node.remote_name.as_deref() == Some(t.0.as_str());
        let matches = named && (node.variant.is_none() || node.variant == t.1);
        if matches && !ids.contains_key(t) {
            let mut id = slug(t);
            while ids.values().any(|v| *v == id) {
                id.push_str("_2");
            }
            ids.insert(t.clone(), id.clone());
            node.id = Some(id);
            break;
        }
    }
    node.children
        .iter_mut()
        .for_each(|c| assign(c, targets, ids));
}

fn point(node: &mut Node, ids: &BTreeMap<Target, String>) {
    node.link_to = wanted(node).and_then(|t| ids.get(t)).cloned();
    node.children.iter_mut().for_each(|c| point(c, ids));
}

/// Gives every linked-to step an `id` and every linking step its `link_to`.
pub fn resolve(root: &mut Node) {
    let mut targets = Vec::new();
    collect(root, &mut targets);
    if targets.is_empty() {
        return;
    }
    let mut ids = BTreeMap::new();
    assign(root, &targets, &mut ids);
    point(root, &ids);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_linking_to_another_gets_its_id() {
        let mut root = Node {
            name: "root".into(),
            ..Node::default()
        };
        root.children.push(Node {
            name: "vendor.mcp.tool.execute".into(),
            variant: Some("web_search".into()),
            ..Node::default()
        });
        let target = (
            "vendor.mcp.tool.execute".to_string(),
            Some("web_search".to_string()),
        );
        root.children.push(Node {
            name: "publish".into(),
            spans: 10,
            links: 10,
            link_targets: BTreeMap::from([(target, 10)]),
            ..Node::default()
        });
        resolve(&mut root);
        assert_eq!(root.children[0].id.as_deref(), Some("web_search"));
        assert_eq!(root.children[1].link_to.as_deref(), Some("web_search"));
    }
}
