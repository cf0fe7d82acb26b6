//! The three OTLP signals as the sink's transports see them: message types, where their items
//! are on the wire, the cost table to check before decoding, and where they are counted.
//!
//! One generic handler per transport serves the three signals through this trait; three
//! copies of each handler (or a runtime enum matched at every step) were the alternatives.

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::cost::{self, Schema};
use super::count;
use super::recorder::{Counters, Recorder};
use crate::encode::payload::OtlpRequest;

/// One OTLP signal as the sink receives it: its message types and where its requests are
/// recorded (the type-level counterpart of [`crate::encode::Signal`], the value a sender names).
pub(crate) trait SinkSignal: Send + Sync + 'static {
    type Request: Message + Default + DeserializeOwned + Send + 'static;
    type Response: Message + Default + Serialize + Send + 'static;
    /// Where the items of a request are, for counting without decoding.
    const ITEMS: count::Path;
    /// The request's messages, for costing it before decoding.
    const SCHEMA: &'static Schema;
    /// The gRPC method's path.
    const GRPC_PATH: &'static str;
    fn counters(rec: &Recorder) -> &Counters;
    fn wrap(req: Self::Request) -> OtlpRequest;
}

pub(crate) struct Traces;
pub(crate) struct Metrics;
pub(crate) struct Logs;

impl SinkSignal for Traces {
    type Request = ExportTraceServiceRequest;
    type Response = ExportTraceServiceResponse;
    const ITEMS: count::Path = count::SPANS;
    const SCHEMA: &'static Schema = &cost::TRACES;
    const GRPC_PATH: &'static str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    fn counters(rec: &Recorder) -> &Counters {
        &rec.traces
    }
    fn wrap(req: Self::Request) -> OtlpRequest {
        OtlpRequest::Traces(req)
    }
}

impl SinkSignal for Metrics {
    type Request = ExportMetricsServiceRequest;
    type Response = ExportMetricsServiceResponse;
    const ITEMS: count::Path = count::DATA_POINTS;
    const SCHEMA: &'static Schema = &cost::METRICS;
    const GRPC_PATH: &'static str =
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
    fn counters(rec: &Recorder) -> &Counters {
        &rec.metrics
    }
    fn wrap(req: Self::Request) -> OtlpRequest {
        OtlpRequest::Metrics(req)
    }
}

impl SinkSignal for Logs {
    type Request = ExportLogsServiceRequest;
    type Response = ExportLogsServiceResponse;
    const ITEMS: count::Path = count::LOG_RECORDS;
    const SCHEMA: &'static Schema = &cost::LOGS;
    const GRPC_PATH: &'static str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
    fn counters(rec: &Recorder) -> &Counters {
        &rec.logs
    }
    fn wrap(req: Self::Request) -> OtlpRequest {
        OtlpRequest::Logs(req)
    }
}
