//! Calls between services: a span whose child is a SERVER span of another service is one step
//! with `remote: {service, network_ms}`, the server span folded in (the generator makes it again,
//! `network_ms` inside the client each way) and its children made the step's own (the generator
//! runs a remote step's children in the callee).
//!
//! Folding rather than fitting the SERVER span as a child step: a child step would be a span of
//! the caller's service with kind `server`, and the service graph (client service → server
//! service) that `check` and the Collector's connectors draw would lose every edge. A client span
//! with no SERVER child (an uninstrumented callee, `server.address` naming it) stays a step of its
//! own kind: nothing says the callee exists but that attribute.

use super::tree::Node;

/// A SERVER child counts as the call's when it is under at least this share of the spans.
const SERVED: f64 = 0.9;

fn dominant_service(node: &Node) -> Option<&str> {
    node.services
        .iter()
        .max_by_key(|(s, n)| (**n, std::cmp::Reverse(s.as_str())))
        .map(|(s, _)| s.as_str())
}

fn is_server(node: &Node) -> bool {
    let total: u64 = node.kinds.iter().sum();
    node.kinds[2] * 2 > total
}

/// Folds every call in the tree under `node` (and `node`'s own).
pub fn fold(node: &mut Node) {
    let own = dominant_service(node).map(str::to_string);
    let spans = node.spans.max(1);
    let served = node.served as f64 >= SERVED * spans as f64;
    let server = node.children.iter().position(|c| {
        is_server(c) && dominant_service(c).map(str::to_string) != own && c.remote.is_none()
    });
    if let (true, Some(at)) = (served, server) {
        let mut callee = node.children.remove(at);
        node.remote = dominant_service(&callee).map(str::to_string);
        node.remote_name = Some(callee.name.clone());
        // The callee's children run under it: they are the step's now, in its place.
        let children = std::mem::take(&mut callee.children);
        for (k, child) in children.into_iter().enumerate() {
            node.children.insert(at + k, child);
        }
    }
    node.children.iter_mut().for_each(fold);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn node(name: &str, service: &str, kind: usize, spans: u64) -> Node {
        let mut n = Node {
            name: name.into(),
            spans,
            services: BTreeMap::from([(service.to_string(), spans)]),
            ..Node::default()
        };
        n.kinds[kind] = spans;
        n
    }

    #[test]
    fn a_server_child_of_another_service_becomes_the_steps_remote() {
        let mut client = node("tools/call x", "agent", 3, 100);
        client.served = 100;
        let mut server = node("tools/call x", "orders", 2, 100);
        server.children.push(node("SELECT", "orders", 3, 100));
        client.children.push(server);
        let mut root = node("root", "agent", 2, 100);
        root.children.push(client);
        fold(&mut root);
        let call = &root.children[0];
        assert_eq!(call.remote.as_deref(), Some("orders"));
        assert_eq!(call.children.len(), 1);
        assert_eq!(call.children[0].name, "SELECT");
        // An uninstrumented callee: no server child, nothing folded.
        let mut lone = node("SELECT", "agent", 3, 50);
        fold(&mut lone);
        assert!(lone.remote.is_none());
    }
}
