//! Decoding `services`, a step's `remote`, and the check that every service a step names is
//! declared: the decoder's part of [`crate::scenario::services`].
//!
//! A child module of the decoder, so it reads keys through the same located-field machinery
//! (and the same did-you-mean) as every other mapping, while the decoder's file keeps only the
//! calls into it. Decoding services inside `decode.rs` itself was the alternative rejected: that
//! file is shared by every feature of the format, and this one is self-contained.

use super::*;
use crate::scenario::services::{self as model, Remote, Service};

impl Decoder<'_> {
    /// `services:`, a mapping of service names to their settings (null for the defaults).
    pub(super) fn services(&mut self, node: &Node, path: &str) -> Vec<Service> {
        let entries = match &node.value {
            Value::Null => return Vec::new(),
            Value::Map(entries) => entries,
            _ => {
                self.expected(node, path, "a mapping of service names to their settings");
                return Vec::new();
            }
        };
        let mut services: Vec<Service> = Vec::new();
        for (k, v) in entries {
            let Some(name) = k.scalar_text().filter(|n| !n.trim().is_empty()) else {
                self.expected(k, path, "a service name");
                continue;
            };
            let service_path = join(path, &name);
            if services.iter().any(|s| s.name == name) {
                self.error(
                    k.mark,
                    &service_path,
                    format!("service `{name}` is declared twice"),
                );
                continue;
            }
            self.source_map.keys.insert(service_path.clone(), k.mark);
            services.push(self.service(v, &service_path, name));
        }
        services
    }

    fn service(&mut self, node: &Node, path: &str, name: String) -> Service {
        let mut service = Service::named(&name);
        if node.value == Value::Null {
            return service;
        }
        let Some(mut f) = self.fields(node, path, &model::SERVICE) else {
            return service;
        };
        service.version = self.text(&mut f, "version");
        if let Some((path, node)) = f.take(self, "attributes") {
            service.attributes = self.resource_attributes(node, &path);
        }
        service.instances = self.integer_or(&mut f, "instances", 1) as u32;
        service.instrumented = self.boolean(&mut f, "instrumented", true);
        f.finish(self);
        service
    }

    /// Resource attributes: scalars, kept as text.
    fn resource_attributes(&mut self, node: &Node, path: &str) -> Vec<(String, String)> {
        let entries = match &node.value {
            Value::Null => return Vec::new(),
            Value::Map(entries) => entries,
            _ => {
                self.expected(
                    node,
                    path,
                    "a mapping of resource attribute names to values",
                );
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (k, v) in entries {
            let Some(key) = k.scalar_text() else {
                self.expected(k, path, "an attribute name");
                continue;
            };
            let attr_path = join(path, &key);
            match self.literal(v, &attr_path).as_ref().map(model::scalar_text) {
                Some(Some(text)) => out.push((normalize_prefix(&key, self.prefix), text)),
                Some(None) => self.expected(v, &attr_path, "a string, number or boolean"),
                None => {}
            }
        }
        out
    }

    /// `remote:`: the call a step makes into another service.
    pub(super) fn remote(&mut self, node: &Node, path: &str) -> Option<Remote> {
        let mut f = self.fields(node, path, &model::REMOTE)?;
        let service = self.text(&mut f, "service");
        let name = self.text(&mut f, "name");
        let network = match f.take(self, "network_ms") {
            Some((path, node)) => self.latency(node, &path),
            None => model::default_network(),
        };
        let attributes = match f.take(self, "attributes") {
            Some((path, node)) => self.attributes(node, &path, usize::MAX),
            None => Vec::new(),
        };
        f.finish(self);
        let Some(service) = service else {
            self.error(node.mark, path, "a `remote` names the `service` it calls");
            return None;
        };
        Some(Remote {
            service,
            name,
            network,
            attributes,
        })
    }

    /// Every service a step runs in or calls is declared (an error at the name, with the
    /// nearest declared one).
    pub(super) fn check_service_names(&mut self, root: &Step, services: &[Service]) {
        let steps = root.walk();
        let sources = self.source_map.steps.clone();
        for (step, source) in steps.iter().zip(&sources) {
            let named = [
                (step.service.as_deref(), join(&source.path, "service")),
                (
                    step.remote.as_ref().map(|r| r.service.as_str()),
                    join(&join(&source.path, "remote"), "service"),
                ),
            ];
            for (name, path) in named {
                let Some(name) = name else { continue };
                if services.iter().any(|s| s.name == name) {
                    continue;
                }
                let mark = self.source_map.nearest(&path).unwrap_or(source.mark);
                let help = match nearest(name, model::declared_names(services)) {
                    Some(n) => format!("did you mean `{n}`?"),
                    None if services.is_empty() => {
                        "declare it under `services:` at the top of the file".to_string()
                    }
                    None => format!(
                        "declared services: {}",
                        model::declared_names(services)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                self.push(
                    Severity::Error,
                    Some(mark),
                    &path,
                    format!("service `{name}` is not declared under `services`"),
                    Some(help),
                );
            }
        }
    }
}
