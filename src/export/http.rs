//! OTLP/HTTP (protobuf or JSON bodies, optionally gzip, over TLS when the URL says https): one
//! attempt at a time.
//!
//! The transport only knows how to POST a body and read the answer as the OTLP specification
//! defines it: 2xx is accepted (maybe partially), 429/502/503/504 and no answer at all are worth
//! retrying (with `Retry-After`, in seconds or as an HTTP-date, when the server sends it),
//! anything else is final. Whether and when
//! to try again is [`super::exporter`]'s decision, shared with every other transport.

use super::exporter::{AttemptOutcome, Transport};
use super::target::{Target, TransportError, root_cause};
use super::tls::{TlsMaterial, install_crypto_provider};
use crate::encode::Signal;
use crate::encode::payload::{Compression, Format, Payload};
use crate::human::{Redacted, redact};
use std::time::{Duration, SystemTime};

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

/// OTLP/HTTP to one URL (one signal's endpoint).
pub struct HttpTransport {
    client: reqwest::Client,
    url: String,
    /// `scheme://host:port`: what the signals sent to this server share.
    origin: String,
    headers: reqwest::header::HeaderMap,
    tenant_header: Option<reqwest::header::HeaderName>,
    format: Format,
    compression: Compression,
    timeout: Duration,
}

impl HttpTransport {
    pub fn new(target: &Target, format: Format, tls: &TlsMaterial) -> Result<Self, TransportError> {
        install_crypto_provider();
        let url = reqwest::Url::parse(&target.url).map_err(|e| TransportError::BadEndpoint {
            endpoint: target.url.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(TransportError::BadEndpoint {
                endpoint: target.url.clone(),
                reason: "OTLP/HTTP needs an http:// or https:// URL".into(),
            });
        }
        let mut builder = reqwest::Client::builder()
            .timeout(target.timeout)
            .user_agent(super::USER_AGENT)
            .tls_backend_rustls();
        // HTTP(S)_PROXY applies to remote endpoints only: a proxy cannot reach this machine's
        // loopback, where the local sink and most development collectors listen.
        if is_loopback(&target.url) {
            builder = builder.no_proxy();
        }
        if let Some(ca) = &tls.ca_pem {
            for certificate in reqwest::Certificate::from_pem_bundle(ca)? {
                builder = builder.add_root_certificate(certificate);
            }
        }
        if let Some((cert, key)) = &tls.identity {
            let mut pem = cert.clone();
            pem.push(b'\n');
            pem.extend_from_slice(key);
            builder = builder.identity(reqwest::Identity::from_pem(&pem)?);
        }
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &target.headers {
            let bad = |reason: String| TransportError::BadHeader {
                name: name.clone(),
                reason,
            };
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| bad(e.to_string()))?;
            let value =
                reqwest::header::HeaderValue::from_str(value).map_err(|e| bad(e.to_string()))?;
            headers.append(name, value);
        }
        Ok(HttpTransport {
            client: builder.build()?,
            url: target.url.clone(),
            origin: url.origin().ascii_serialization(),
            headers,
            tenant_header: super::target::tenant_header(target)?,
            format,
            compression: target.compression,
            timeout: target.timeout,
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
    fn encoding(&self, _: Signal) -> (Format, Compression) {
        (self.format, self.compression)
    }

    fn endpoint(&self, _: Signal) -> String {
        self.origin.clone()
    }

    async fn attempt(&self, signal: Signal, payload: &Payload) -> AttemptOutcome {
        let url = &self.url;
        let mut request = self
            .client
            .post(url)
            .headers(self.headers.clone())
            .header("content-type", payload.format.content_type());
        if payload.compression == Compression::Gzip {
            request = request.header("content-encoding", "gzip");
        }
        if let Some(value) = super::target::tenant_value(self.tenant_header.as_ref(), payload) {
            request = request.header(self.tenant_header.clone().expect("named above"), value);
        }
        let response = match request.body(payload.body.clone()).send().await {
            Ok(r) => r,
            Err(e) => return failed_request(&redact(url), &e, self.timeout),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let json = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let body = response.bytes().await.unwrap_or_default();
        if status.is_success() {
            let (rejected, message) = partial_success(signal, &body, json);
            return AttemptOutcome::Accepted { rejected, message };
        }
        let reason = format!(
            "HTTP {status} from {}: {}",
            Redacted(url),
            server_message(&body, json)
        );
        if matches!(status.as_u16(), 429 | 502 | 503 | 504) {
            AttemptOutcome::Retryable {
                reason,
                retry_after,
                unreachable: false,
            }
        } else {
            AttemptOutcome::Permanent { reason }
        }
    }
}

/// What a request that got no HTTP answer means: a certificate the client refuses is final
/// (retrying cannot fix it); anything else (no connection, none within the timeout) is an
/// endpoint that cannot be reached (yet), worth retrying.
fn failed_request(url: &str, error: &reqwest::Error, timeout: Duration) -> AttemptOutcome {
    if let Some(tls) = super::tls::certificate_problem(error) {
        return AttemptOutcome::Permanent {
            reason: format!("TLS with {url} failed: {tls}"),
        };
    }
    if error.is_timeout() {
        return AttemptOutcome::Retryable {
            reason: format!("no answer from {url} within {timeout:?}"),
            retry_after: None,
            unreachable: true,
        };
    }
    AttemptOutcome::Retryable {
        reason: format!("cannot reach {url}: {}", root_cause(error)),
        retry_after: None,
        unreachable: true,
    }
}

/// A `Retry-After` value: delay-seconds or an HTTP-date (RFC 9110 §10.2.3). A date in the past
/// means "now".
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `(rejected items, message)` of an `Export*ServiceResponse` body (protobuf, or JSON when
/// the server answered in JSON), if it carries a partial success.
fn partial_success(signal: Signal, body: &[u8], json: bool) -> (u64, String) {
    if json {
        super::status::partial_success_json(signal, body)
    } else {
        super::status::partial_success_protobuf(signal, body)
    }
}

/// The message of a `google.rpc.Status` body (protobuf or JSON), or the body as text.
fn server_message(body: &[u8], json: bool) -> String {
    use prost::Message;
    if json {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body)
            && let Some(message) = value.get("message").and_then(|m| m.as_str())
            && !message.is_empty()
        {
            return message.to_string();
        }
    } else if let Ok(status) = super::status::RpcStatus::decode(body)
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
        use prost::Message;
        let status = crate::export::status::RpcStatus {
            code: 3,
            message: "bad span".into(),
            details: vec![],
        };
        assert_eq!(server_message(&status.encode_to_vec(), false), "bad span");
        assert_eq!(
            server_message(br#"{"code":3,"message":"bad json"}"#, true),
            "bad json"
        );
        assert_eq!(server_message(b"plain text", false), "plain text");
        assert_eq!(server_message(b"", false), "(no message)");
    }

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
