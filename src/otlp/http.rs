//! OTLP/HTTP export with protobuf bodies, retried the way the OTLP specification asks.
//!
//! A request body is encoded once into `Bytes` and the same bytes are resent on every retry.
//! Retryable answers (429, 502, 503, 504, and no answer at all) are retried with exponential
//! backoff and full jitter, honouring `Retry-After`, until the batch's time budget runs out; any
//! other answer is final, and the batch counts as rejected with the server's words. Once one batch
//! has given up because the endpoint never answered, later batches are dropped at once instead of
//! each waiting out its own budget: a dead endpoint ends the run in bounded time, with one line
//! saying so rather than a flood.

use super::{ExportStats, Signal};
use bytes::Bytes;
use rand::RngExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// The full URL requests go to, e.g. `http://localhost:4318/v1/traces`.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
    /// How long one batch may keep retrying.
    pub retry_max_elapsed: Duration,
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

pub struct HttpExporter {
    client: reqwest::Client,
    options: HttpOptions,
    stats: Arc<ExportStats>,
    endpoint_dead: AtomicBool,
    /// Whether the endpoint has ever answered; until it has, connection errors get a short budget.
    ever_answered: AtomicBool,
}

/// Retry budget for an endpoint that has not answered once since the run began: long enough to
/// ride out a collector still starting, short enough that a wrong address fails fast.
const NEVER_ANSWERED_BUDGET: Duration = Duration::from_secs(5);

const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How one attempt ended.
enum Attempt {
    Accepted {
        rejected: u64,
        message: String,
    },
    Retryable {
        reason: String,
        retry_after: Option<Duration>,
        unreachable: bool,
    },
    Permanent {
        reason: String,
    },
}

impl HttpExporter {
    pub fn new(
        options: HttpOptions,
        stats: Arc<ExportStats>,
    ) -> Result<HttpExporter, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .user_agent(concat!("telemetry-simulator/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(HttpExporter {
            client,
            options,
            stats,
            endpoint_dead: AtomicBool::new(false),
            ever_answered: AtomicBool::new(false),
        })
    }

    /// Sends one protobuf body holding `items` items, retrying as allowed, and accounts for them.
    pub async fn export(&self, body: Bytes, items: u64) {
        let stats = &self.stats;
        if self.endpoint_dead.load(Ordering::Relaxed) {
            stats.dropped(items, "not sent: the endpoint was unreachable");
            return;
        }
        let started = Instant::now();
        let mut backoff = INITIAL_BACKOFF;
        loop {
            stats.count_request(body.len() as u64);
            match self.attempt(body.clone()).await {
                Attempt::Accepted { rejected, message } => {
                    stats.accepted(items.saturating_sub(rejected));
                    if rejected > 0 {
                        stats.rejected(rejected, &format!("partial success: {message}"));
                    }
                    return;
                }
                Attempt::Permanent { reason } => {
                    stats.rejected(items, &reason);
                    return;
                }
                Attempt::Retryable {
                    reason,
                    retry_after,
                    unreachable,
                } => {
                    let jittered = backoff.mul_f64(rand::rng().random::<f64>());
                    let wait = retry_after.unwrap_or(jittered);
                    let budget = if unreachable && !self.ever_answered.load(Ordering::Relaxed) {
                        self.options.retry_max_elapsed.min(NEVER_ANSWERED_BUDGET)
                    } else {
                        self.options.retry_max_elapsed
                    };
                    if started.elapsed() + wait > budget {
                        if unreachable {
                            self.endpoint_dead.store(true, Ordering::Relaxed);
                        }
                        stats.dropped(items, &format!("{reason} (gave up retrying)"));
                        return;
                    }
                    stats.count_retry();
                    tokio::time::sleep(wait).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    async fn attempt(&self, body: Bytes) -> Attempt {
        let mut request = self
            .client
            .post(&self.options.url)
            .header("content-type", "application/x-protobuf");
        for (k, v) in &self.options.headers {
            request = request.header(k, v);
        }
        let response = match request.body(body).send().await {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Retryable {
                    reason: format!("cannot reach {}: {}", self.options.url, root_cause(&e)),
                    retry_after: None,
                    unreachable: true,
                };
            }
        };
        self.ever_answered.store(true, Ordering::Relaxed);
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.bytes().await.unwrap_or_default();
        if status.is_success() {
            let (rejected, message) = partial_success(&body);
            return Attempt::Accepted { rejected, message };
        }
        let reason = format!(
            "HTTP {status} from {}: {}",
            self.options.url,
            server_message(&body)
        );
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

/// `(rejected spans, message)` of an `ExportTraceServiceResponse`, if it carries a partial success.
fn partial_success(body: &[u8]) -> (u64, String) {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
    use prost::Message;
    ExportTraceServiceResponse::decode(body)
        .ok()
        .and_then(|r| r.partial_success)
        .map(|p| (p.rejected_spans.max(0) as u64, p.error_message))
        .unwrap_or_default()
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
