//! Derived log records to an OTLP `ExportLogsServiceRequest` through prost: the reference encoder
//! of logs, the oracle `wire.rs`'s log writer is held byte-identical to, compiled for tests only
//! (no run takes it; a public API for it was the alternative rejected).
//!
//! Logs batch like spans: a trace's records are added together, grouped into one `ResourceLogs`
//! per tenant with the same resource as that tenant's spans, and each record carries its span's
//! trace and span id, so a backend joins it to the trace it belongs to.

use super::common::{ResourceTemplate, TenantGroups, TenantRequest, key_value, scope};
use crate::generate::logs::{LogRecord, TraceLogs};
use crate::generate::{Plan, Trace};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{self as proto, ResourceLogs, ScopeLogs};

/// W3C "sampled": the records belong to sampled spans.
const LOG_FLAGS: u32 = 0x01;

/// Collects the log records of traces into one export request.
pub struct LogBatch {
    template: ResourceTemplate,
    groups: TenantGroups<proto::LogRecord>,
    records: usize,
}

impl LogBatch {
    pub fn new(template: ResourceTemplate) -> LogBatch {
        LogBatch {
            template,
            groups: TenantGroups::default(),
            records: 0,
        }
    }

    pub fn records(&self) -> usize {
        self.records
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Adds the records `logs` derived from `trace`.
    pub fn add(&mut self, plan: &Plan, trace: &Trace, logs: &TraceLogs) {
        let tenant = plan.str(plan.tenants[trace.tenant as usize]);
        self.groups.group(tenant).extend(
            logs.records()
                .iter()
                .map(|r| log_message(plan, trace, logs, r)),
        );
        self.records += logs.records().len();
    }

    /// A request per tenant holding everything added so far; the batch is empty afterwards.
    pub fn take(&mut self) -> Vec<TenantRequest<ExportLogsServiceRequest>> {
        self.records = 0;
        let scope = scope();
        let schema_url = &self.template.schema_url;
        self.groups
            .drain(&self.template)
            .map(|(tenant, resource, log_records)| TenantRequest {
                tenant,
                items: log_records.len() as u64,
                request: ExportLogsServiceRequest {
                    resource_logs: vec![ResourceLogs {
                        resource: Some(resource),
                        schema_url: schema_url.clone(),
                        scope_logs: vec![ScopeLogs {
                            scope: Some(scope.clone()),
                            log_records,
                            schema_url: self.template.scope_schema_url.clone(),
                        }],
                    }],
                },
            })
            .collect()
    }
}

/// One derived record as an OTLP `LogRecord`.
pub fn log_message(
    plan: &Plan,
    trace: &Trace,
    logs: &TraceLogs,
    record: &LogRecord,
) -> proto::LogRecord {
    let span = &trace.spans[record.span as usize];
    proto::LogRecord {
        time_unix_nano: record.time_ns,
        observed_time_unix_nano: record.time_ns,
        severity_number: record.severity.number(),
        severity_text: record.severity.text().to_string(),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(record.body.clone())),
        }),
        attributes: logs
            .attrs_of(record)
            .iter()
            .map(|a| key_value(plan, trace, a))
            .collect(),
        flags: LOG_FLAGS,
        trace_id: trace.trace_id.to_vec(),
        span_id: span.span_id.to_vec(),
        event_name: plan.str(record.event_name).to_string(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::testing;
    use prost::Message;

    #[test]
    fn records_carry_their_spans_ids_and_round_trip() {
        let plan = testing::bundled("tool_retry");
        let mut batch = LogBatch::new(ResourceTemplate {
            attributes: vec![("service.name".into(), "svc".into())],
            tenant_keys: vec!["tenant.id".into()],
            schema_url: String::new(),
            scope_schema_url: String::new(),
        });
        let mut logs = TraceLogs::default();
        let traces = testing::traces(&plan, 8, 40);
        let mut expected = 0;
        for trace in &traces {
            logs.derive(&plan, trace);
            batch.add(&plan, trace, &logs);
            expected += logs.records().len();
        }
        assert_eq!(batch.records(), expected);
        let requests = batch.take();
        assert!(batch.is_empty());
        let mut decoded = Vec::new();
        for TenantRequest {
            tenant,
            request,
            items,
        } in &requests
        {
            let back =
                ExportLogsServiceRequest::decode(request.encode_to_vec().as_slice()).unwrap();
            assert_eq!(&back, request);
            assert_eq!(back.resource_logs.len(), 1, "one tenant a request");
            let resource = back.resource_logs[0].resource.as_ref().unwrap();
            assert!(format!("{resource:?}").contains(tenant.as_str()));
            assert_eq!(
                back.resource_logs[0].scope_logs[0].log_records.len() as u64,
                *items
            );
            decoded.push(back);
        }
        assert_eq!(requests.len(), 2, "tenants t1 and t2");
        let records: Vec<&proto::LogRecord> = decoded
            .iter()
            .flat_map(|d| &d.resource_logs)
            .flat_map(|r| &r.scope_logs[0].log_records)
            .collect();
        assert_eq!(records.len(), expected);
        for r in records {
            let trace = traces
                .iter()
                .find(|t| t.trace_id.as_slice() == r.trace_id)
                .unwrap();
            let span = trace
                .spans
                .iter()
                .find(|s| s.span_id.as_slice() == r.span_id)
                .unwrap();
            assert!(r.time_unix_nano == span.start_ns || r.time_unix_nano == span.end_ns);
            assert!(!r.event_name.is_empty());
        }
    }
}
