//! Settings that come from the flags and the environment: tenants, the attribute prefix, the resource, and
//! where to export (endpoints, protocol, headers, compression, timeout, TLS: the OTel
//! `OTEL_EXPORTER_OTLP_*` variables, merged with the flags that override them).
//!
//! Every reader takes the environment as a lookup function instead of calling `std::env` itself,
//! so the rules (which variable wins, what a malformed value says) are tested without touching
//! the process environment, which tests running in parallel would share.

use crate::encode::Signal;
use crate::encode::common::ResourceTemplate;
use crate::encode::payload::{Compression, Format};
use crate::export::http::signal_url;
use crate::export::tls::TlsOptions;
use crate::export::transport::{Output, Protocol, Target};
use crate::workload::Shard;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    #[error("{setting}: `{value}` is not valid; expected {expected}")]
    BadValue {
        setting: String,
        value: String,
        expected: &'static str,
    },
    #[error("tenant id {id:?} cannot be the value of --tenant-header {header}: use visible ASCII")]
    TenantHeaderValue { id: String, header: String },
    #[error("--shards {count} needs JOB_COMPLETION_INDEX set to a number below {count}")]
    ShardIndex { count: u64 },
    #[error("--output - and --summary-json to stdout would mix on stdout: send one to a file")]
    StdoutTwice,
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

impl Tenants {
    /// The tenants of `--tenants` when given (the flag beats the variables), with the weights of
    /// `TELEMETRY_TENANT_WEIGHTS`/`TENANT_WEIGHTS` under the same rules; else [`Tenants::from_env`].
    pub fn resolve(flag: &[String], env: Env) -> Result<Tenants, ConfigError> {
        let ids: Vec<String> = flag
            .iter()
            .flat_map(|id| split_list(id))
            .collect::<Vec<_>>();
        if ids.is_empty() {
            return Tenants::from_env(env);
        }
        let joined = ids.join(",");
        let with_flag = |name: &str| match name {
            "TELEMETRY_TENANT_UUIDS" => Some(joined.clone()),
            "TENANT_UUID" => None,
            other => env(other),
        };
        Tenants::from_env(&with_flag)
    }
}

impl Tenants {
    /// The tenants, if each can be the value of the `--tenant-header` (when there is one): an HTTP
    /// header value or gRPC metadata, visible ASCII.
    pub fn fit_header(self, header: Option<&str>) -> Result<Tenants, ConfigError> {
        if let Some(header) = header
            && let Some(bad) = self
                .ids
                .iter()
                .find(|t| reqwest::header::HeaderValue::from_str(t).is_err())
        {
            return Err(ConfigError::TenantHeaderValue {
                id: bad.clone(),
                header: header.to_string(),
            });
        }
        Ok(self)
    }
}

/// The shard this process runs: `--shard K/N`, else `--shards N` with K from
/// `JOB_COMPLETION_INDEX` (a Kubernetes Indexed Job), else none (the whole run).
pub fn shard(
    given: Option<Shard>,
    shards: Option<u64>,
    env: Env,
) -> Result<Option<Shard>, ConfigError> {
    let count = match (given, shards) {
        (Some(shard), _) => return Ok(Some(shard)),
        (None, None) => return Ok(None),
        (None, Some(count)) => count,
    };
    let index = env("JOB_COMPLETION_INDEX").and_then(|i| i.trim().parse::<u64>().ok());
    match index {
        Some(index) if index < count => Ok(Some(Shard { index, count })),
        _ => Err(ConfigError::ShardIndex { count }),
    }
}

/// `--output -` and a JSON summary to stdout cannot share it: refused.
pub fn check_stdout(output: Option<&Path>, summary_json: Option<&Path>) -> Result<(), ConfigError> {
    if output == Some(Path::new("-")) && summary_json.is_some_and(crate::files::is_stdout) {
        return Err(ConfigError::StdoutTwice);
    }
    Ok(())
}

/// The warning to print when both names of a tenant setting are set to different values:
/// `TELEMETRY_TENANT_UUIDS` wins over `TENANT_UUID` (and `TELEMETRY_TENANT_WEIGHTS` over
/// `TENANT_WEIGHTS`), as in the original tool, and the loser would otherwise be ignored silently.
pub fn tenant_warnings(env: Env) -> Vec<String> {
    [
        ("TELEMETRY_TENANT_UUIDS", "TENANT_UUID"),
        ("TELEMETRY_TENANT_WEIGHTS", "TENANT_WEIGHTS"),
    ]
    .iter()
    .filter_map(|(winner, loser)| match (env(winner), env(loser)) {
        (Some(w), Some(l)) if split_list(&w) != split_list(&l) => Some(format!(
            "warning: both {winner}={w} and {loser}={l} are set; using {winner} (unset it to use {loser})"
        )),
        _ => None,
    })
    .collect()
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

pub const DEFAULT_HTTP_ENDPOINT: &str = "http://localhost:4318";
pub const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";
pub const DEFAULT_SERVICE_NAME: &str = "telemetry-simulator";
/// `OTEL_EXPORTER_OTLP_TIMEOUT`'s default, as in every OTel SDK.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The export options given on the command line (each overrides its environment variables).
#[derive(Clone, Debug, Default)]
pub struct ExportFlags<'a> {
    pub endpoint: Option<&'a str>,
    pub protocol: Option<&'a str>,
    pub compression: Option<&'a str>,
    /// `K=V` each.
    pub headers: &'a [String],
    pub timeout: Option<Duration>,
    pub insecure: bool,
    pub ca_cert: Option<&'a Path>,
    pub client_cert: Option<&'a Path>,
    pub client_key: Option<&'a Path>,
    /// `--output`: a file, `-` (stdout) or `null`.
    pub output: Option<&'a Path>,
    /// `--tenant-header`: the header that carries each request's tenant.
    pub tenant_header: Option<&'a str>,
}

/// Where the run's requests go, from the flags and the OTel environment variables, with the
/// OTel SDK rules: a flag beats its variable, a signal's own variable
/// (`OTEL_EXPORTER_OTLP_TRACES_*`) beats the general one (`OTEL_EXPORTER_OTLP_*`), and that
/// beats the default. A signal's own endpoint is used as is; a general one (the flag,
/// `OTEL_EXPORTER_OTLP_ENDPOINT`, or the seed's `OTLP_HTTP_ENDPOINT`) gets the signal's path
/// (`/v1/traces`) appended for OTLP/HTTP. Headers from `--header` are added to those of the
/// environment, replacing any of the same name.
pub fn output(flags: &ExportFlags, env: Env) -> Result<Output, ConfigError> {
    if let Some(path) = flags.output {
        if path == Path::new("null") {
            let traces = target(Signal::Traces, flags, env)?;
            let format = match traces.protocol {
                Protocol::HttpJson => Format::Json,
                Protocol::HttpProtobuf | Protocol::Grpc => Format::Protobuf,
            };
            return Ok(Output::Null {
                format,
                compression: traces.compression,
            });
        }
        return Ok(Output::File(path.to_owned()));
    }
    Ok(Output::Otlp(Box::new([
        target(Signal::Traces, flags, env)?,
        target(Signal::Metrics, flags, env)?,
        target(Signal::Logs, flags, env)?,
    ])))
}

/// One signal's endpoint and settings.
pub fn target(signal: Signal, flags: &ExportFlags, env: Env) -> Result<Target, ConfigError> {
    let own = |suffix: &str| {
        let name = format!(
            "OTEL_EXPORTER_OTLP_{}_{suffix}",
            signal.name().to_uppercase()
        );
        env(&name).map(|v| (name, v))
    };
    let general = |suffix: &str| {
        let name = format!("OTEL_EXPORTER_OTLP_{suffix}");
        env(&name).map(|v| (name, v))
    };
    let setting = |suffix: &str| own(suffix).or_else(|| general(suffix));

    let protocol = match flags.protocol {
        Some(value) => parse_protocol("--protocol", value)?,
        None => match setting("PROTOCOL") {
            Some((name, value)) => parse_protocol(&name, &value)?,
            None => Protocol::HttpProtobuf,
        },
    };
    let http = protocol != Protocol::Grpc;
    let base = |endpoint: &str| {
        if http {
            signal_url(endpoint, signal)
        } else {
            endpoint.to_string()
        }
    };
    let url = if let Some(endpoint) = flags.endpoint {
        base(endpoint)
    } else if let Some((_, url)) = own("ENDPOINT") {
        url
    } else if let Some((_, endpoint)) = general("ENDPOINT") {
        base(&endpoint)
    } else if let (true, Some(endpoint)) = (http, env("OTLP_HTTP_ENDPOINT")) {
        base(&endpoint)
    } else if http {
        base(DEFAULT_HTTP_ENDPOINT)
    } else {
        DEFAULT_GRPC_ENDPOINT.to_string()
    };
    let compression = match flags.compression {
        Some(value) => parse_compression("--compression", value)?,
        None => match setting("COMPRESSION") {
            Some((name, value)) => parse_compression(&name, &value)?,
            None => Compression::None,
        },
    };
    let timeout = match flags.timeout {
        Some(timeout) => timeout,
        None => match setting("TIMEOUT") {
            Some((name, value)) => parse_millis(&name, &value)?,
            None => DEFAULT_TIMEOUT,
        },
    };
    let headers = match setting("HEADERS") {
        Some((name, value)) => parse_headers(&name, &value)?,
        None => Vec::new(),
    };
    let headers = with_flag_headers(headers, flags.headers)?;
    let path = |flag: Option<&Path>, suffix: &str| {
        flag.map(Path::to_owned)
            .or_else(|| setting(suffix).map(|(_, v)| PathBuf::from(v)))
    };
    let tls = TlsOptions {
        ca_cert: path(flags.ca_cert, "CERTIFICATE"),
        client_cert: path(flags.client_cert, "CLIENT_CERTIFICATE"),
        client_key: path(flags.client_key, "CLIENT_KEY"),
    };
    let insecure = flags.insecure
        || match setting("INSECURE") {
            Some((name, value)) => parse_bool(&name, &value)?,
            None => false,
        };
    Ok(Target {
        protocol,
        url,
        headers,
        tenant_header: flags.tenant_header.map(str::to_string),
        compression,
        timeout,
        tls,
        insecure,
    })
}

/// `headers` from the environment, with those of `--header KEY=VALUE` added, replacing any of
/// the same name.
fn with_flag_headers(
    mut headers: Vec<(String, String)>,
    flags: &[String],
) -> Result<Vec<(String, String)>, ConfigError> {
    for flag in flags {
        let (key, value) = flag.split_once('=').ok_or_else(|| ConfigError::BadValue {
            setting: "--header".into(),
            value: flag.clone(),
            expected: "KEY=VALUE",
        })?;
        let key = key.trim();
        if key.is_empty() {
            return Err(ConfigError::BadValue {
                setting: "--header".into(),
                value: flag.clone(),
                expected: "KEY=VALUE with a non-empty KEY",
            });
        }
        headers.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
        headers.push((key.to_string(), value.trim().to_string()));
    }
    Ok(headers)
}

fn parse_protocol(setting: &str, value: &str) -> Result<Protocol, ConfigError> {
    Protocol::parse(value).ok_or_else(|| ConfigError::BadValue {
        setting: setting.into(),
        value: value.into(),
        expected: "http/protobuf, http/json or grpc",
    })
}

fn parse_compression(setting: &str, value: &str) -> Result<Compression, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "gzip" => Ok(Compression::Gzip),
        "none" | "" => Ok(Compression::None),
        _ => Err(ConfigError::BadValue {
            setting: setting.into(),
            value: value.into(),
            expected: "gzip or none",
        }),
    }
}

fn parse_bool(setting: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ConfigError::BadValue {
            setting: setting.into(),
            value: value.into(),
            expected: "true or false",
        }),
    }
}

/// An OTel `*_TIMEOUT` variable: whole milliseconds.
fn parse_millis(setting: &str, value: &str) -> Result<Duration, ConfigError> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|&ms| ms > 0)
        .map(Duration::from_millis)
        .ok_or_else(|| ConfigError::BadValue {
            setting: setting.into(),
            value: value.into(),
            expected: "a positive number of milliseconds",
        })
}

/// `key1=value1,key2=value2`, keys and values percent-decoded (the W3C Baggage format that
/// `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_RESOURCE_ATTRIBUTES` use).
fn parse_pairs(value: &str) -> Option<Vec<(String, String)>> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s.trim())
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned())
    };
    let mut pairs = Vec::new();
    for item in value.split(',') {
        if item.trim().is_empty() {
            continue;
        }
        let (k, v) = item.split_once('=')?;
        let k = decode(k)?;
        if k.is_empty() {
            return None;
        }
        pairs.push((k, decode(v)?));
    }
    Some(pairs)
}

fn parse_headers(setting: &str, value: &str) -> Result<Vec<(String, String)>, ConfigError> {
    parse_pairs(value).ok_or_else(|| ConfigError::BadValue {
        setting: setting.into(),
        value: hide_values(value),
        expected: "comma-separated key=value pairs (percent-encoded where needed)",
    })
}

/// `key=value,...` with every value shown as `***`: header values are often credentials
/// (`authorization=Bearer ...`), and an error message must not print them.
fn hide_values(pairs: &str) -> String {
    pairs
        .split(',')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) => format!("{key}=***"),
            None => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `service.name`: the flag, else `OTEL_SERVICE_NAME`, else `telemetry-simulator`.
pub fn service_name(flag: Option<&str>, env: Env) -> String {
    flag.map(String::from)
        .or_else(|| env("OTEL_SERVICE_NAME"))
        .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_string())
}

/// The resource every tenant's spans are reported under (the tenant's id is added per tenant).
/// Also returns warnings about variables it had to ignore.
pub fn resource(
    prefix: &str,
    service_name: &str,
    instance_id: &str,
    env: Env,
) -> (ResourceTemplate, Vec<String>) {
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
    // OTEL_RESOURCE_ATTRIBUTES adds to (and never overrides) what is set explicitly. A value
    // that does not decode is dropped whole, with a warning, as the OTel specification asks.
    let mut warnings = Vec::new();
    if let Some(extra) = env("OTEL_RESOURCE_ATTRIBUTES") {
        match parse_pairs(&extra) {
            Some(pairs) => {
                for (k, v) in pairs {
                    if !attributes.iter().any(|(existing, _)| *existing == k) {
                        attributes.push((k, v));
                    }
                }
            }
            None => warnings.push(format!(
                "warning: OTEL_RESOURCE_ATTRIBUTES ignored: `{extra}` is not a list of key=value pairs (percent-encoded where needed)"
            )),
        }
    }
    let template = ResourceTemplate {
        attributes,
        tenant_keys: vec![format!("{prefix}.tenant.id"), "tenant.id".into()],
        // The original's variable: the Schema URL of the resource (not one of its attributes).
        schema_url: env("TELEMETRY_SIMULATOR_RESOURCE_SCHEMA_URL")
            .map(|url| url.trim().to_string())
            .unwrap_or_default(),
        scope_schema_url: String::new(),
    };
    (template, warnings)
}

/// `--start-time`: an instant as RFC 3339 (`2026-01-01T00:00:00Z`, `2026-01-01T01:00:00.5+01:00`)
/// or as Unix seconds (`1767225600`, `1767225600.25`), in Unix nanoseconds. From 1970 to 2262
/// (signed 64-bit nanoseconds, which many backends store times in).
///
/// Parsed by hand: the fixed RFC 3339 grammar is a few lines, and a date-time crate for one
/// flag (humantime, chrono, jiff) was rejected as a dependency the rest of the tool never uses.
pub fn parse_start_time(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let parsed = if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        unix_seconds_ns(text)
    } else {
        rfc3339_ns(text)
    };
    parsed.filter(|ns| i64::try_from(*ns).is_ok()).ok_or_else(|| {
        format!(
            "`{text}` is not an instant from 1970 to 2262: give RFC 3339 (e.g. 2026-01-01T00:00:00Z) or Unix seconds (e.g. 1767225600)"
        )
    })
}

/// `1767225600` or `1767225600.25` as nanoseconds.
fn unix_seconds_ns(text: &str) -> Option<u64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let seconds: u64 = whole.parse().ok()?;
    seconds
        .checked_mul(1_000_000_000)?
        .checked_add(fraction_ns(fraction)?)
}

/// The digits after a decimal point as nanoseconds (at most 9 digits; none is 0).
fn fraction_ns(digits: &str) -> Option<u64> {
    if digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let padded = format!("{digits:0<9}");
    padded.parse().ok()
}

/// RFC 3339's `date-time`: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, `T` also `t` or a space.
fn rfc3339_ns(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = text.get(range)?;
        digits
            .bytes()
            .all(|d| d.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let rest = text.get(19..)?;
    let (fraction, zone) = match rest.strip_prefix('.') {
        Some(after) => {
            let end = after.find(|c: char| !c.is_ascii_digit())?;
            (
                fraction_ns(&after[..end]).filter(|_| end > 0)?,
                &after[end..],
            )
        }
        None => (0, rest),
    };
    let offset_s: i64 = match zone.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let [h1, h2, m1, m2] = digits.map(|d| i64::from(d - b'0'));
            let (hours, minutes) = (h1 * 10 + h2, m1 * 10 + m2);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 3600 + minutes * 60;
            if *sign == b'-' { -offset } else { offset }
        }
        _ => return None,
    };
    let local =
        days_since_epoch(year, month, day) * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    let seconds = u64::try_from(local - offset_s).ok()?;
    seconds.checked_mul(1_000_000_000)?.checked_add(fraction)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
/// `days_from_civil`).
fn days_since_epoch(year: u32, month: u32, day: u32) -> i64 {
    let year = i64::from(year) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
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
    fn both_tenant_variables_set_differently_warn_once_naming_the_winner() {
        let both = env_of(&[("TELEMETRY_TENANT_UUIDS", "x,y"), ("TENANT_UUID", "acme")]);
        let warnings = tenant_warnings(&both);
        assert_eq!(
            warnings,
            [
                "warning: both TELEMETRY_TENANT_UUIDS=x,y and TENANT_UUID=acme are set; \
              using TELEMETRY_TENANT_UUIDS (unset it to use TENANT_UUID)"
            ]
        );
        assert_eq!(Tenants::from_env(&both).unwrap().ids, ["x", "y"]);
        let weights = env_of(&[
            ("TENANT_UUID", "a,b"),
            ("TELEMETRY_TENANT_WEIGHTS", "1,3"),
            ("TENANT_WEIGHTS", "3,1"),
        ]);
        assert_eq!(tenant_warnings(&weights).len(), 1);
        assert!(tenant_warnings(&weights)[0].contains("using TELEMETRY_TENANT_WEIGHTS"));
        // The same ids under both names, or one name only: nothing is ignored, nothing to say.
        let same = env_of(&[("TELEMETRY_TENANT_UUIDS", "a, b"), ("TENANT_UUID", "a,b")]);
        assert!(tenant_warnings(&same).is_empty());
        assert!(tenant_warnings(&env_of(&[("TENANT_UUID", "a")])).is_empty());
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
    fn the_tenants_flag_beats_the_variables_and_keeps_their_weights() {
        let env = env_of(&[
            ("TELEMETRY_TENANT_UUIDS", "x,y,z"),
            ("TENANT_UUID", "w"),
            ("TELEMETRY_TENANT_WEIGHTS", "1,3"),
        ]);
        let flag = ["a".to_string(), "b, c".to_string()];
        let err = Tenants::resolve(&flag, &env).unwrap_err();
        assert!(matches!(err, ConfigError::WeightCount { tenants: 3, .. }));
        let t = Tenants::resolve(&flag[..1], &env_of(&[("TENANT_WEIGHTS", "2")])).unwrap();
        assert_eq!((t.ids, t.weights), (vec!["a".to_string()], vec![1.0]));
        let two = ["a".to_string(), "b".to_string()];
        let t = Tenants::resolve(&two, &env).unwrap();
        assert_eq!(
            (t.ids, t.weights),
            (vec!["a".into(), "b".into()], vec![0.25, 0.75])
        );
        let t = Tenants::resolve(&[], &env_of(&[("TENANT_UUID", "w")])).unwrap();
        assert_eq!(t.ids, vec!["w"]);
        assert_eq!(
            Tenants::resolve(&[" ".into()], &env_of(&[])),
            Err(ConfigError::NoTenant)
        );
    }

    #[test]
    fn tenants_that_cannot_be_a_header_value_are_refused_only_with_a_tenant_header() {
        let t = Tenants::resolve(&["ok".into(), "bad\nline".into()], &env_of(&[])).unwrap();
        assert!(t.clone().fit_header(None).is_ok());
        let error = t.fit_header(Some("X-Scope-OrgID")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "tenant id \"bad\\nline\" cannot be the value of --tenant-header X-Scope-OrgID: use visible ASCII"
        );
    }

    #[test]
    fn the_shard_comes_from_the_flag_else_job_completion_index() {
        let given = Some(Shard { index: 1, count: 4 });
        assert_eq!(shard(given, None, &env_of(&[])), Ok(given));
        assert_eq!(
            shard(None, None, &env_of(&[("JOB_COMPLETION_INDEX", "2")])),
            Ok(None)
        );
        let job = env_of(&[("JOB_COMPLETION_INDEX", " 2 ")]);
        assert_eq!(
            shard(None, Some(3), &job),
            Ok(Some(Shard { index: 2, count: 3 }))
        );
        for (count, env) in [
            (2, job),
            (3, env_of(&[])),
            (3, env_of(&[("JOB_COMPLETION_INDEX", "x")])),
        ] {
            assert_eq!(
                shard(None, Some(count), &env).unwrap_err().to_string(),
                format!(
                    "--shards {count} needs JOB_COMPLETION_INDEX set to a number below {count}"
                )
            );
        }
    }

    #[test]
    fn stdout_carries_one_thing() {
        let dash = Some(Path::new("-"));
        assert_eq!(check_stdout(dash, dash), Err(ConfigError::StdoutTwice));
        assert_eq!(
            check_stdout(dash, Some(Path::new("/dev/stdout"))),
            Err(ConfigError::StdoutTwice)
        );
        assert!(check_stdout(dash, Some(Path::new("s.json"))).is_ok());
        assert!(check_stdout(Some(Path::new("o.jsonl")), dash).is_ok());
        assert!(check_stdout(None, dash).is_ok());
    }

    fn traces(flags: &ExportFlags, env: &dyn Fn(&str) -> Option<String>) -> Target {
        target(Signal::Traces, flags, env).unwrap()
    }

    #[test]
    fn endpoint_precedence() {
        let env = env_of(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318"),
            ("OTLP_HTTP_ENDPOINT", "http://seed:4318"),
        ]);
        let flag = ExportFlags {
            endpoint: Some("http://flag:1"),
            ..Default::default()
        };
        assert_eq!(traces(&flag, &env).url, "http://flag:1/v1/traces");
        let none = ExportFlags::default();
        assert_eq!(traces(&none, &env).url, "http://otel:4318/v1/traces");
        let seed = env_of(&[("OTLP_HTTP_ENDPOINT", "http://seed:4318")]);
        assert_eq!(traces(&none, &seed).url, "http://seed:4318/v1/traces");
        assert_eq!(
            target(Signal::Logs, &none, &seed).unwrap().url,
            "http://seed:4318/v1/logs"
        );
        let own = env_of(&[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:1/custom"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318"),
        ]);
        assert_eq!(traces(&none, &own).url, "http://t:1/custom");
        assert_eq!(
            target(Signal::Metrics, &none, &own).unwrap().url,
            "http://otel:4318/v1/metrics"
        );
        assert_eq!(traces(&flag, &own).url, "http://flag:1/v1/traces");
        assert_eq!(
            traces(&none, &env_of(&[])).url,
            "http://localhost:4318/v1/traces"
        );
    }

    #[test]
    fn grpc_endpoints_are_used_as_given_and_default_to_4317() {
        let grpc = ExportFlags {
            protocol: Some("grpc"),
            ..Default::default()
        };
        let t = traces(
            &grpc,
            &env_of(&[("OTLP_HTTP_ENDPOINT", "http://seed:4318")]),
        );
        assert_eq!(
            (t.protocol, t.url.as_str()),
            (Protocol::Grpc, "http://localhost:4317")
        );
        let env = env_of(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
            ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
        ]);
        let logs = target(Signal::Logs, &ExportFlags::default(), &env).unwrap();
        assert_eq!(
            (logs.protocol, logs.url.as_str(), logs.insecure),
            (Protocol::Grpc, "collector:4317", true)
        );
        let t = traces(&ExportFlags::default(), &env);
        assert_eq!(t.protocol, Protocol::HttpJson);
        assert_eq!(t.url, "collector:4317/v1/traces");
    }

    #[test]
    fn headers_timeouts_compression_and_certificates_follow_the_otel_rules() {
        let env = env_of(&[
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "api-key=secret%20one, x-tenant=a",
            ),
            ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "only=metrics"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/ca.pem"),
            ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "/key.pem"),
        ]);
        let t = traces(&ExportFlags::default(), &env);
        assert_eq!(
            t.headers,
            vec![
                ("api-key".to_string(), "secret one".to_string()),
                ("x-tenant".to_string(), "a".to_string())
            ]
        );
        assert_eq!(t.timeout, Duration::from_millis(2500));
        assert_eq!(t.compression, Compression::Gzip);
        assert_eq!(t.tls.ca_cert.as_deref(), Some(Path::new("/ca.pem")));
        assert_eq!(t.tls.client_key.as_deref(), Some(Path::new("/key.pem")));
        let m = target(Signal::Metrics, &ExportFlags::default(), &env).unwrap();
        assert_eq!(m.headers, vec![("only".to_string(), "metrics".to_string())]);
        assert_eq!(m.tls.client_key, None);

        let headers = ["X-Tenant=b".to_string(), "extra=1=2".to_string()];
        let flags = ExportFlags {
            headers: &headers,
            timeout: Some(Duration::from_millis(500)),
            compression: Some("none"),
            ca_cert: Some(Path::new("/flag.pem")),
            ..Default::default()
        };
        let t = traces(&flags, &env);
        assert_eq!(
            t.headers,
            vec![
                ("api-key".to_string(), "secret one".to_string()),
                ("X-Tenant".to_string(), "b".to_string()),
                ("extra".to_string(), "1=2".to_string())
            ]
        );
        assert_eq!(t.timeout, Duration::from_millis(500));
        assert_eq!(t.compression, Compression::None);
        assert_eq!(t.tls.ca_cert.as_deref(), Some(Path::new("/flag.pem")));
        assert_eq!(
            traces(&ExportFlags::default(), &env_of(&[])).timeout,
            DEFAULT_TIMEOUT
        );
    }

    #[test]
    fn bad_values_name_their_setting() {
        let err = |flags: ExportFlags, pairs: &[(&str, &str)]| {
            target(Signal::Traces, &flags, &env_of(pairs))
                .unwrap_err()
                .to_string()
        };
        assert!(
            err(
                ExportFlags::default(),
                &[("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift")]
            )
            .starts_with("OTEL_EXPORTER_OTLP_PROTOCOL: `thrift` is not valid")
        );
        assert!(
            err(
                ExportFlags::default(),
                &[("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "10s")]
            )
            .starts_with("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")
        );
        assert!(
            err(
                ExportFlags::default(),
                &[("OTEL_EXPORTER_OTLP_HEADERS", "novalue")]
            )
            .starts_with("OTEL_EXPORTER_OTLP_HEADERS")
        );
        // A malformed header list is named without its values: they are often credentials.
        assert_eq!(
            err(
                ExportFlags::default(),
                &[(
                    "OTEL_EXPORTER_OTLP_HEADERS",
                    "authorization=Bearer SECRET,novalue"
                )]
            ),
            "OTEL_EXPORTER_OTLP_HEADERS: `authorization=***,novalue` is not valid; \
             expected comma-separated key=value pairs (percent-encoded where needed)"
        );
        assert!(
            err(
                ExportFlags::default(),
                &[("OTEL_EXPORTER_OTLP_INSECURE", "yes")]
            )
            .starts_with("OTEL_EXPORTER_OTLP_INSECURE")
        );
        let headers = ["no-equals".to_string()];
        let flags = ExportFlags {
            headers: &headers,
            ..Default::default()
        };
        assert!(err(flags, &[]).starts_with("--header: `no-equals`"));
        let flags = ExportFlags {
            compression: Some("zstd"),
            ..Default::default()
        };
        assert!(err(flags, &[]).contains("gzip or none"));
    }

    #[test]
    fn outputs_other_than_otlp() {
        let flags = ExportFlags {
            output: Some(Path::new("null")),
            protocol: Some("http/json"),
            compression: Some("gzip"),
            ..Default::default()
        };
        assert_eq!(
            output(&flags, &env_of(&[])).unwrap(),
            Output::Null {
                format: Format::Json,
                compression: Compression::Gzip
            }
        );
        let flags = ExportFlags {
            output: Some(Path::new("-")),
            ..Default::default()
        };
        assert_eq!(
            output(&flags, &env_of(&[])).unwrap(),
            Output::File("-".into())
        );
    }

    #[test]
    fn resource_attributes_are_percent_decoded_and_never_override() {
        let env = env_of(&[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "team=gen%20ai,service.name=ignored,region=eu%2Cwest",
        )]);
        let (r, warnings) = resource("vendor", "svc", "i", &env);
        assert!(warnings.is_empty());
        let get = |k: &str| {
            r.attributes
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("team"), Some("gen ai"));
        assert_eq!(get("region"), Some("eu,west"));
        assert_eq!(get("service.name"), Some("svc"));
        let bad = env_of(&[("OTEL_RESOURCE_ATTRIBUTES", "team=%ZZ%ff%fe")]);
        let (r, warnings) = resource("vendor", "svc", "i", &bad);
        assert_eq!(warnings.len(), 1);
        assert!(!r.attributes.iter().any(|(k, _)| k == "team"));
    }

    #[test]
    fn the_resource_schema_url_comes_from_the_original_variable() {
        let env = env_of(&[(
            "TELEMETRY_SIMULATOR_RESOURCE_SCHEMA_URL",
            " https://opentelemetry.io/schemas/1.37.0 ",
        )]);
        assert_eq!(
            resource("vendor", "svc", "i", &env).0.schema_url,
            "https://opentelemetry.io/schemas/1.37.0"
        );
        let (r, _) = resource("vendor", "svc", "i", &env_of(&[]));
        assert_eq!(r.schema_url, "");
    }

    #[test]
    fn prefix_is_normalised() {
        assert_eq!(
            attr_prefix(&env_of(&[("TELEMETRY_SIMULATOR_ATTR_PREFIX", " Acme ")])),
            "acme"
        );
        assert_eq!(attr_prefix(&env_of(&[])), "vendor");
    }

    #[test]
    fn start_times_parse_as_rfc3339_or_unix_seconds() {
        const S: u64 = 1_000_000_000;
        let ok = |text: &str| parse_start_time(text).unwrap();
        assert_eq!(ok("1970-01-01T00:00:00Z"), 0);
        assert_eq!(ok("2026-01-01T00:00:00Z"), 1_767_225_600 * S);
        assert_eq!(ok("1767225600"), 1_767_225_600 * S);
        assert_eq!(ok(" 1767225600.25 "), 1_767_225_600 * S + S / 4);
        assert_eq!(ok("2026-01-01t01:00:00.5+01:00"), 1_767_225_600 * S + S / 2);
        assert_eq!(ok("2025-12-31 19:00:00-05:00"), 1_767_225_600 * S);
        assert_eq!(
            ok("2000-02-29T12:34:56.123456789Z"),
            951_827_696 * S + 123_456_789
        );
        assert_eq!(
            ok("2024-03-01T00:00:00Z") - ok("2024-02-28T00:00:00Z"),
            2 * 86_400 * S
        );
        assert_eq!(
            ok("2100-03-01T00:00:00Z") - ok("2100-02-28T00:00:00Z"),
            86_400 * S
        );
        assert_eq!(ok("2262-04-11T23:47:16.854775807Z"), i64::MAX as u64);
    }

    #[test]
    fn malformed_start_times_are_refused_with_the_forms_accepted() {
        for bad in [
            "",
            "now",
            "2026-01-01",
            "2026-01-01T00:00:00",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:60Z",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00.1234567890Z",
            "2026-01-01T00:00:00+1:00",
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:00:00+00:01",
            "１９７０-01-01T00:00:00Z",
            "1.2.3",
            "99999999999999999999",
            "9999999999",
            "2262-04-12T00:00:00Z",
            "-5",
        ] {
            let error = parse_start_time(bad).expect_err(bad);
            assert!(error.contains("RFC 3339"), "{bad}: {error}");
        }
    }
}
