//! What OTLP servers answer, read (and, for the sink, written) the same way by every
//! transport: the partial success inside an `Export*ServiceResponse`, and the
//! `google.rpc.Status` of a failure with its optional `google.rpc.RetryInfo`.
//!
//! The `google.rpc` messages are not part of opentelemetry-proto's generated code; they are
//! declared here with prost's derive, a handful of fields, rather than pulling in another
//! crate of generated Google types for three small messages.

use crate::encode::Signal;
use opentelemetry_proto::tonic::collector::{logs, metrics, trace};
use prost::Message;
use std::time::Duration;

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<ProtoAny>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, Message)]
pub struct ProtoAny {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, Message)]
pub struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, Message)]
pub struct ProtoDuration {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

pub const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// The delay a server asks for in the `RetryInfo` of an encoded `google.rpc.Status`
/// (what gRPC carries in `grpc-status-details-bin`), if it sent one.
pub fn retry_delay(status_details: &[u8]) -> Option<Duration> {
    let status = RpcStatus::decode(status_details).ok()?;
    let info = status
        .details
        .iter()
        .find(|d| d.type_url == RETRY_INFO_TYPE)?;
    let delay = RetryInfo::decode(&info.value[..]).ok()?.retry_delay?;
    let seconds = u64::try_from(delay.seconds).ok()?;
    let nanos = u32::try_from(delay.nanos).ok()?;
    Some(Duration::new(seconds, nanos))
}

/// An encoded `google.rpc.Status` carrying a `RetryInfo` with `delay`.
pub fn status_with_retry_delay(code: i32, message: &str, delay: Duration) -> Vec<u8> {
    let info = RetryInfo {
        retry_delay: Some(ProtoDuration {
            seconds: delay.as_secs() as i64,
            nanos: delay.subsec_nanos() as i32,
        }),
    };
    RpcStatus {
        code,
        message: message.to_string(),
        details: vec![ProtoAny {
            type_url: RETRY_INFO_TYPE.to_string(),
            value: info.encode_to_vec(),
        }],
    }
    .encode_to_vec()
}

/// `(rejected items, message)` of a protobuf `Export*ServiceResponse`.
pub fn partial_success_protobuf(signal: Signal, body: &[u8]) -> (u64, String) {
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

/// `(rejected items, message)` of an OTLP/JSON `Export*ServiceResponse`. Read loosely (any
/// integer spelling, unknown fields ignored), as OTLP asks of receivers of JSON.
pub fn partial_success_json(signal: Signal, body: &[u8]) -> (u64, String) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (0, String::new());
    };
    let Some(partial) = value.get("partialSuccess") else {
        return (0, String::new());
    };
    let key = match signal {
        Signal::Traces => "rejectedSpans",
        Signal::Metrics => "rejectedDataPoints",
        Signal::Logs => "rejectedLogRecords",
    };
    let rejected = match partial.get(key) {
        Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(serde_json::Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    };
    let message = partial
        .get("errorMessage")
        .and_then(|m| m.as_str())
        .unwrap_or_default()
        .to_string();
    (rejected, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_info_round_trips() {
        let encoded = status_with_retry_delay(8, "slow down", Duration::from_millis(1500));
        assert_eq!(retry_delay(&encoded), Some(Duration::from_millis(1500)));
        let plain = RpcStatus {
            code: 14,
            message: "x".into(),
            details: vec![],
        };
        assert_eq!(retry_delay(&plain.encode_to_vec()), None);
    }

    #[test]
    fn partial_success_is_read_from_protobuf_and_json() {
        let response = trace::v1::ExportTraceServiceResponse {
            partial_success: Some(trace::v1::ExportTracePartialSuccess {
                rejected_spans: 3,
                error_message: "bad".into(),
            }),
        };
        assert_eq!(
            partial_success_protobuf(Signal::Traces, &response.encode_to_vec()),
            (3, "bad".to_string())
        );
        assert_eq!(
            partial_success_json(
                Signal::Logs,
                br#"{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"no"}}"#
            ),
            (2, "no".to_string())
        );
        assert_eq!(
            partial_success_json(Signal::Metrics, b"{}"),
            (0, String::new())
        );
    }
}
