//! OTLP/HTTP with protobuf bodies: one attempt at a time.
//!
//! The transport only knows how to POST a body and read the answer as the OTLP specification
//! defines it: 2xx is accepted (maybe partially), 429/502/503/504 and no answer at all are worth
//! retrying (with `Retry-After` when the server sends it), anything else is final. Whether and when
//! to try again is [`super::export`]'s decision, shared with every other transport.

use super::Signal;
use super::export::{Attempt, Transport};
use bytes::Bytes;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// The full URL of each signal, e.g. `http://localhost:4318/v1/traces`.
    pub traces_url: String,
    pub metrics_url: String,
    pub logs_url: String,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
}

impl HttpOptions {
    /// Options with every signal under one base endpoint.
    pub fn for_endpoint(endpoint: &str) -> HttpOptions {
        HttpOptions {
            traces_url: signal_url(endpoint, Signal::Traces),
            metrics_url: signal_url(endpoint, Signal::Metrics),
            logs_url: signal_url(endpoint, Signal::Logs),
            headers: Vec::new(),
            timeout: Duration::from_secs(10),
        }
    }

    pub fn url(&self, signal: Signal) -> &str {
        match signal {
            Signal::Traces => &self.traces_url,
            Signal::Metrics => &self.metrics_url,
            Signal::Logs => &self.logs_url,
        }
    }
}

/// The URL for `signal` under a base endpoint, as the OTel SDKs build it: the signal's path is
/// appended unless the endpoint already ends with it.
pub fn signal_url(endpoint: &str, signal: Signal) -> String {
    let path = signal.path();
    let base = endpoint.trim_end_matches('/');
    if base.ends_with(path) {
        base.to_string()
    } else {
        format!("{base}{path}")
    }
}

pub struct HttpTransport {
    client: reqwest::Client,
    options: HttpOptions,
}

impl HttpTransport {
    pub fn new(options: HttpOptions) -> Result<HttpTransport, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .timeout(options.timeout)
            .user_agent(concat!("telemetry-simulator/", env!("CARGO_PKG_VERSION")));
        // HTTP(S)_PROXY applies to remote endpoints only: a proxy cannot reach this machine's
        // loopback, where the local sink and most development collectors listen.
        if is_loopback(&options.traces_url) {
            builder = builder.no_proxy();
        }
        Ok(HttpTransport {
            client: builder.build()?,
            options,
        })
    }
}

/// Whether `url`'s host is this machine (localhost, 127.0.0.0/8, ::1).
fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Transport for HttpTransport {
    async fn attempt(&self, signal: Signal, body: Bytes) -> Attempt {
        let url = self.options.url(signal);
        let mut request = self
            .client
            .post(url)
            .header("content-type", "application/x-protobuf");
        for (k, v) in &self.options.headers {
            request = request.header(k, v);
        }
        let response = match request.body(body).send().await {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Retryable {
                    reason: format!("cannot reach {url}: {}", root_cause(&e)),
                    retry_after: None,
                    unreachable: true,
                };
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.bytes().await.unwrap_or_default();
        if status.is_success() {
            let (rejected, message) = partial_success(signal, &body);
            return Attempt::Accepted { rejected, message };
        }
        let reason = format!("HTTP {status} from {url}: {}", server_message(&body));
        if matches!(status.as_u16(), 429 | 502 | 503 | 504) {
            Attempt::Retryable {
                reason,
                retry_after,
                unreachable: false,
            }
        } else {
            Attempt::Permanent { reason }
        }
    }
}

/// `(rejected items, message)` of an `Export*ServiceResponse`, if it carries a partial success.
fn partial_success(signal: Signal, body: &[u8]) -> (u64, String) {
    use opentelemetry_proto::tonic::collector::{logs, metrics, trace};
    use prost::Message;
    let found = match signal {
        Signal::Traces => trace::v1::ExportTraceServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| (p.rejected_spans, p.error_message)),
        Signal::Metrics => metrics::v1::ExportMetricsServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| (p.rejected_data_points, p.error_message)),
        Signal::Logs => logs::v1::ExportLogsServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| (p.rejected_log_records, p.error_message)),
    };
    found.map(|(n, m)| (n.max(0) as u64, m)).unwrap_or_default()
}

/// The message of a `google.rpc.Status` body, or the body as text.
fn server_message(body: &[u8]) -> String {
    #[derive(prost::Message)]
    struct RpcStatus {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
    }
    use prost::Message;
    if let Ok(status) = RpcStatus::decode(body)
        && !status.message.is_empty()
    {
        return status.message;
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        "(no message)".to_string()
    } else {
        text.chars().take(300).collect()
    }
}

/// The innermost cause, which is what a user can act on ("Connection refused", "timed out").
fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cause = e;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_endpoints_are_recognised() {
        for url in [
            "http://localhost:4318/v1/traces",
            "http://127.0.0.1:36925/v1/traces",
            "http://127.8.0.2/v1/traces",
            "https://[::1]:4318/v1/traces",
            "http://LOCALHOST",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in [
            "http://collector:4318/v1/traces",
            "http://10.0.0.1:4318",
            "https://[2001:db8::1]:4318/v1/traces",
            "http://localhost.example.com/v1/traces",
        ] {
            assert!(!is_loopback(url), "{url}");
        }
    }

    #[test]
    fn signal_paths_are_appended_once() {
        assert_eq!(
            signal_url("http://h:4318", Signal::Traces),
            "http://h:4318/v1/traces"
        );
        assert_eq!(
            signal_url("http://h:4318/", Signal::Traces),
            "http://h:4318/v1/traces"
        );
        assert_eq!(
            signal_url("http://h:4318/v1/traces", Signal::Traces),
            "http://h:4318/v1/traces"
        );
    }

    #[test]
    fn server_messages_are_read_from_rpc_status_or_text() {
        assert_eq!(server_message(b"bad span"), "bad span");
        assert_eq!(server_message(b""), "(no message)");
    }
}
