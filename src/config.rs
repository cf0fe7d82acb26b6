//! Settings that come from the environment: tenants, the attribute prefix, the resource, the
//! endpoint.
//!
//! Every reader takes the environment as a lookup function instead of calling `std::env` itself,
//! so the rules (which variable wins, what a malformed value says) are tested without touching
//! the process environment, which tests running in parallel would share.

use crate::otlp::encode::ResourceTemplate;

/// Looks up one environment variable; `None` when unset or empty.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, with empty values treated as unset.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error(
        "no tenant: set TENANT_UUID (one id) or TELEMETRY_TENANT_UUIDS (a comma-separated list), e.g. TENANT_UUID=dev-tenant-1"
    )]
    NoTenant,
    #[error("{variable} has {weights} weights for {tenants} tenants; give one weight per tenant")]
    WeightCount {
        variable: &'static str,
        weights: usize,
        tenants: usize,
    },
    #[error("{variable}: `{value}` is not a non-negative number")]
    BadWeight {
        variable: &'static str,
        value: String,
    },
    #[error("{variable}: the weights add up to 0; at least one must be positive")]
    ZeroWeights { variable: &'static str },
}

/// The tenants traces are spread over, with their (normalised) weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Tenants {
    pub ids: Vec<String>,
    pub weights: Vec<f64>,
}

impl Tenants {
    /// `TELEMETRY_TENANT_UUIDS` (else `TENANT_UUID`) and `TELEMETRY_TENANT_WEIGHTS` (else
    /// `TENANT_WEIGHTS`), with the original's rules: weights must match the ids in number, be
    /// non-negative and add up to more than 0; without weights, tenant i gets 2^-(i+1), normalised.
    pub fn from_env(env: Env) -> Result<Tenants, ConfigError> {
        let ids: Vec<String> = env("TELEMETRY_TENANT_UUIDS")
            .or_else(|| env("TENANT_UUID"))
            .map(|v| split_list(&v))
            .unwrap_or_default();
        if ids.is_empty() {
            return Err(ConfigError::NoTenant);
        }
        let (variable, raw) = match (env("TELEMETRY_TENANT_WEIGHTS"), env("TENANT_WEIGHTS")) {
            (Some(w), _) => ("TELEMETRY_TENANT_WEIGHTS", Some(w)),
            (None, Some(w)) => ("TENANT_WEIGHTS", Some(w)),
            (None, None) => ("", None),
        };
        let weights = match raw {
            None => (0..ids.len()).map(|i| 0.5f64.powi(i as i32 + 1)).collect(),
            Some(raw) => {
                let parts = split_list(&raw);
                if parts.len() != ids.len() {
                    return Err(ConfigError::WeightCount {
                        variable,
                        weights: parts.len(),
                        tenants: ids.len(),
                    });
                }
                parts
                    .iter()
                    .map(|p| match p.parse::<f64>() {
                        Ok(w) if w >= 0.0 && w.is_finite() => Ok(w),
                        _ => Err(ConfigError::BadWeight {
                            variable,
                            value: p.clone(),
                        }),
                    })
                    .collect::<Result<Vec<f64>, _>>()?
            }
        };
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            return Err(ConfigError::ZeroWeights { variable });
        }
        Ok(Tenants {
            ids,
            weights: weights.iter().map(|w| w / total).collect(),
        })
    }
}

fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// `TELEMETRY_SIMULATOR_ATTR_PREFIX`, trimmed and lower-cased; `vendor` when unset.
pub fn attr_prefix(env: Env) -> String {
    env("TELEMETRY_SIMULATOR_ATTR_PREFIX")
        .map(|p| p.trim().trim_end_matches('.').to_lowercase())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| crate::scenario::YAML_PREFIX.to_string())
}

pub const DEFAULT_ENDPOINT: &str = "http://localhost:4318";
pub const DEFAULT_SERVICE_NAME: &str = "telemetry-simulator";

/// Where traces go: see [`otlp_url`].
pub fn traces_url(flag: Option<&str>, env: Env) -> String {
    otlp_url(flag, crate::otlp::Signal::Traces, env)
}

/// Where `signal` goes: the flag (with the signal's path appended), else the signal's own
/// `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT` (used as is, per the OTel SDK rules), else
/// `OTEL_EXPORTER_OTLP_ENDPOINT` or the seed's `OTLP_HTTP_ENDPOINT` (with the path appended), else
/// `http://localhost:4318`.
pub fn otlp_url(flag: Option<&str>, signal: crate::otlp::Signal, env: Env) -> String {
    use crate::otlp::{Signal, http::signal_url};
    if let Some(endpoint) = flag {
        return signal_url(endpoint, signal);
    }
    let own = match signal {
        Signal::Traces => "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        Signal::Metrics => "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        Signal::Logs => "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    };
    if let Some(url) = env(own) {
        return url;
    }
    let base = env("OTEL_EXPORTER_OTLP_ENDPOINT")
        .or_else(|| env("OTLP_HTTP_ENDPOINT"))
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
    signal_url(&base, signal)
}

/// `service.name`: the flag, else `OTEL_SERVICE_NAME`, else `telemetry-simulator`.
pub fn service_name(flag: Option<&str>, env: Env) -> String {
    flag.map(String::from)
        .or_else(|| env("OTEL_SERVICE_NAME"))
        .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_string())
}

/// The resource every tenant's spans are reported under (the tenant's id is added per tenant).
pub fn resource(prefix: &str, service_name: &str, instance_id: &str, env: Env) -> ResourceTemplate {
    let mut attributes: Vec<(String, String)> = vec![
        ("service.name".into(), service_name.into()),
        ("service.version".into(), env!("CARGO_PKG_VERSION").into()),
        (
            "service.instance.id".into(),
            env("SERVICE_INSTANCE_ID").unwrap_or_else(|| instance_id.into()),
        ),
        ("telemetry.sdk.name".into(), "telemetry-simulator".into()),
        ("telemetry.sdk.language".into(), "rust".into()),
        (
            "telemetry.sdk.version".into(),
            env!("CARGO_PKG_VERSION").into(),
        ),
        (
            "deployment.environment.name".into(),
            env("DEPLOYMENT_ENVIRONMENT")
                .or_else(|| env("TELEMETRY_SIMULATOR_DEPLOYMENT_ENVIRONMENT"))
                .unwrap_or_else(|| "development".into()),
        ),
        (
            format!("{prefix}.module"),
            env("TELEMETRY_SIMULATOR_MODULE").unwrap_or_else(|| "data-plane".into()),
        ),
        (
            format!("{prefix}.component"),
            env("TELEMETRY_SIMULATOR_COMPONENT").unwrap_or_else(|| "simulator".into()),
        ),
        (
            format!("{prefix}.otel.source"),
            env("TELEMETRY_SIMULATOR_OTEL_SOURCE").unwrap_or_else(|| "propagated".into()),
        ),
    ];
    // OTEL_RESOURCE_ATTRIBUTES adds to (and never overrides) what is set explicitly.
    if let Some(extra) = env("OTEL_RESOURCE_ATTRIBUTES") {
        for pair in extra.split(',') {
            if let Some((k, v)) = pair.split_once('=') {
                let (k, v) = (k.trim(), v.trim());
                if !k.is_empty() && !attributes.iter().any(|(existing, _)| existing == k) {
                    attributes.push((k.to_string(), v.to_string()));
                }
            }
        }
    }
    ResourceTemplate {
        attributes,
        tenant_keys: vec![format!("{prefix}.tenant.id"), "tenant.id".into()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn tenants_default_to_geometric_weights() {
        let env = env_of(&[("TENANT_UUID", "a, b")]);
        let t = Tenants::from_env(&env).unwrap();
        assert_eq!(t.ids, vec!["a", "b"]);
        assert!((t.weights[0] - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn tenant_variables_follow_the_original_rules() {
        let env = env_of(&[
            ("TELEMETRY_TENANT_UUIDS", "x,y"),
            ("TENANT_UUID", "z"),
            ("TELEMETRY_TENANT_WEIGHTS", "1,3"),
        ]);
        let t = Tenants::from_env(&env).unwrap();
        assert_eq!(t.ids, vec!["x", "y"]);
        assert_eq!(t.weights, vec![0.25, 0.75]);
        assert_eq!(Tenants::from_env(&env_of(&[])), Err(ConfigError::NoTenant));
        let bad = env_of(&[("TENANT_UUID", "a,b"), ("TENANT_WEIGHTS", "1")]);
        assert!(matches!(
            Tenants::from_env(&bad),
            Err(ConfigError::WeightCount { .. })
        ));
        let bad = env_of(&[("TENANT_UUID", "a"), ("TENANT_WEIGHTS", "-1")]);
        assert!(matches!(
            Tenants::from_env(&bad),
            Err(ConfigError::BadWeight { .. })
        ));
        let bad = env_of(&[("TENANT_UUID", "a"), ("TENANT_WEIGHTS", "0")]);
        assert!(matches!(
            Tenants::from_env(&bad),
            Err(ConfigError::ZeroWeights { .. })
        ));
    }

    #[test]
    fn endpoint_precedence() {
        let env = env_of(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318"),
            ("OTLP_HTTP_ENDPOINT", "http://seed:4318"),
        ]);
        assert_eq!(
            traces_url(Some("http://flag:1"), &env),
            "http://flag:1/v1/traces"
        );
        assert_eq!(traces_url(None, &env), "http://otel:4318/v1/traces");
        assert_eq!(
            traces_url(None, &env_of(&[("OTLP_HTTP_ENDPOINT", "http://seed:4318")])),
            "http://seed:4318/v1/traces"
        );
        let env = env_of(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:1/custom")]);
        assert_eq!(traces_url(None, &env), "http://t:1/custom");
        use crate::otlp::Signal;
        let env = env_of(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318"),
            ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://logs:1/in"),
        ]);
        assert_eq!(
            otlp_url(None, Signal::Metrics, &env),
            "http://otel:4318/v1/metrics"
        );
        assert_eq!(otlp_url(None, Signal::Logs, &env), "http://logs:1/in");
        assert_eq!(
            otlp_url(Some("http://flag:1"), Signal::Logs, &env),
            "http://flag:1/v1/logs"
        );
        assert_eq!(
            traces_url(None, &env_of(&[])),
            "http://localhost:4318/v1/traces"
        );
    }

    #[test]
    fn prefix_is_normalised() {
        assert_eq!(
            attr_prefix(&env_of(&[("TELEMETRY_SIMULATOR_ATTR_PREFIX", " Acme ")])),
            "acme"
        );
        assert_eq!(attr_prefix(&env_of(&[])), "vendor");
    }
}
