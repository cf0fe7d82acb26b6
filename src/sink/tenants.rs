//! Who sent what: counts per tenant, and (with `--show-headers`) the request headers seen, so
//! that a multi-tenant setup (tenants in the resource, a tenant header per request) can be
//! confirmed with the built-in sink before pointing the simulator at a real backend.
//!
//! A tenant is the `tenant.id` attribute of a resource (items are counted under it) and, with
//! `--tenant-header NAME`, the value of that header (requests are counted under it, and a
//! request whose header names another tenant than its resources is a problem). Both tables are
//! bounded like the rest of the sink's state: [`MAX_TENANTS`] tenants and [`MAX_HEADERS`]
//! distinct headers, the rest lumped together; header values are cut to [`MAX_VALUE`]
//! characters, and the values of credentials (`authorization`, cookies, anything named like a
//! key, token or secret) are never kept. Logging every request's headers as they arrive was
//! the alternative; it floods the terminal under load and prints each credential.

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::resource::v1::Resource;

/// Tenants counted separately; the rest are counted under [`OTHER`].
pub(crate) const MAX_TENANTS: usize = 1000;
/// Distinct headers (name and value) kept.
pub(crate) const MAX_HEADERS: usize = 100;
/// Characters of a header value kept.
pub(crate) const MAX_VALUE: usize = 120;
const OTHER: &str = "(other tenants)";
/// Headers that differ on every request and say nothing about who sent it.
const SKIPPED: &[&str] = &["content-length", "grpc-timeout", "date"];

/// What one tenant sent.
#[derive(serde::Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantStats {
    pub spans: u64,
    pub metric_points: u64,
    pub log_records: u64,
    /// Requests that named this tenant in the `--tenant-header`.
    pub requests_by_header: u64,
}

/// One distinct request header and how many requests carried it.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct HeaderSeen {
    pub name: String,
    /// `<redacted>` for credentials.
    pub value: String,
    pub requests: u64,
}

/// Which kind of item a count is.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Item {
    Spans,
    Points,
    Records,
}

/// The `tenant.id` of a resource, if it has a string one.
pub(crate) fn tenant_of(resource: Option<&Resource>) -> Option<&str> {
    resource?
        .attributes
        .iter()
        .find(|kv| kv.key == "tenant.id")
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        })
}

/// Counts per tenant, bounded.
#[derive(Debug, Default)]
pub(crate) struct Tenants {
    pub map: BTreeMap<String, TenantStats>,
}

impl Tenants {
    fn entry(&mut self, tenant: &str) -> &mut TenantStats {
        let key = if self.map.contains_key(tenant) || self.map.len() < MAX_TENANTS {
            clean(tenant)
        } else {
            OTHER.to_owned()
        };
        self.map.entry(key).or_default()
    }

    /// Counts `items` of `kind` per resource tenant, and the request under its header tenant.
    /// Returns the tenants of the resources that differ from the header's.
    pub fn add<'a>(
        &mut self,
        kind: Item,
        resources: &[(Option<&'a str>, u64)],
        header: Option<&str>,
    ) -> Vec<&'a str> {
        let mut mismatched = Vec::new();
        for &(tenant, n) in resources {
            let Some(tenant) = tenant else { continue };
            let stats = self.entry(tenant);
            match kind {
                Item::Spans => stats.spans += n,
                Item::Points => stats.metric_points += n,
                Item::Records => stats.log_records += n,
            }
            if header.is_some_and(|h| h != tenant) && !mismatched.contains(&tenant) {
                mismatched.push(tenant);
            }
        }
        if let Some(h) = header {
            self.entry(h).requests_by_header += 1;
        }
        mismatched
    }
}

/// The distinct request headers seen, bounded.
#[derive(Debug, Default)]
pub(crate) struct Headers {
    map: BTreeMap<(String, String), u64>,
}

/// Whether a header carries a credential, whose value must not be shown.
fn secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "authorization",
        "cookie",
        "token",
        "secret",
        "key",
        "password",
        "signature",
    ]
    .iter()
    .any(|w| name.contains(w))
}

/// Control characters replaced, cut to [`MAX_VALUE`] characters.
fn clean(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_VALUE)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().nth(MAX_VALUE).is_some() {
        out.push('…');
    }
    out
}

impl Headers {
    pub fn add(&mut self, headers: &HeaderMap) {
        for (name, value) in headers {
            let name = name.as_str();
            if SKIPPED.contains(&name) {
                continue;
            }
            let value = if secret(name) {
                "<redacted>".to_owned()
            } else {
                clean(&String::from_utf8_lossy(value.as_bytes()))
            };
            let key = (name.to_owned(), value);
            if let Some(n) = self.map.get_mut(&key) {
                *n += 1;
            } else if self.map.len() < MAX_HEADERS {
                self.map.insert(key, 1);
            }
        }
    }

    pub fn list(&self) -> Vec<HeaderSeen> {
        self.map
            .iter()
            .map(|((name, value), &requests)| HeaderSeen {
                name: name.clone(),
                value: value.clone(),
                requests,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn credentials_are_redacted_and_the_table_is_bounded() {
        let mut seen = Headers::default();
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Bearer s3cr3t"));
        h.insert("x-api-key", HeaderValue::from_static("k3y"));
        h.insert("x-scope-orgid", HeaderValue::from_static("acme"));
        h.insert("content-length", HeaderValue::from_static("12"));
        seen.add(&h);
        seen.add(&h);
        let list = seen.list();
        assert_eq!(list.len(), 3, "{list:?}");
        assert!(list.iter().all(|s| s.requests == 2));
        assert!(
            list.iter()
                .filter(|s| s.name != "x-scope-orgid")
                .all(|s| s.value == "<redacted>"),
            "{list:?}"
        );
        for i in 0..2 * MAX_HEADERS {
            let mut h = HeaderMap::new();
            h.insert("x-n", HeaderValue::from_str(&i.to_string()).unwrap());
            seen.add(&h);
        }
        assert_eq!(seen.list().len(), MAX_HEADERS);
    }

    #[test]
    fn tenants_are_counted_bounded_and_mismatches_named() {
        let mut tenants = Tenants::default();
        let bad = tenants.add(
            Item::Spans,
            &[(Some("acme"), 3), (None, 5), (Some("globex"), 2)],
            Some("acme"),
        );
        assert_eq!(bad, ["globex"]);
        assert_eq!(tenants.map["acme"].spans, 3);
        assert_eq!(tenants.map["acme"].requests_by_header, 1);
        for i in 0..MAX_TENANTS + 10 {
            tenants.add(Item::Records, &[(Some(&i.to_string()), 1)], None);
        }
        assert_eq!(tenants.map.len(), MAX_TENANTS + 1);
        assert_eq!(tenants.map[OTHER].log_records, 12);
    }
}
