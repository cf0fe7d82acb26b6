//! Jaeger's JSON (the UI's "Download JSON" and the query API's `/api/traces` answer: both
//! `{"data": [{"traceID", "spans", "processes"}]}`) to [`RawSpan`]s.
//!
//! Jaeger has no span status or kind fields: they are the tags `error`, `otel.status_code` and
//! `span.kind`, which is how Jaeger's own OTLP translation writes them; times are microseconds.
//! `CHILD_OF` is the parent, `FOLLOWS_FROM` a link. A Jaeger document is read whole (it is one
//! JSON value, not lines); the alternative, a streaming visitor over `data`, was left for when a
//! download of that size is seen: the UI caps downloads at its search limit.

use super::otlp_json::id;
use super::span::{AttrValue, RawSpan};
use serde_json::Value;

/// Whether a JSON document looks like Jaeger's.
pub fn is_jaeger(value: &Value) -> bool {
    value.get("data").is_some_and(Value::is_array)
}

/// The spans of a Jaeger document; `Err` names the path of the first bad field.
pub fn spans(document: &Value) -> Result<Vec<RawSpan>, String> {
    let mut out = Vec::new();
    let traces = document["data"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (t, trace) in traces.iter().enumerate() {
        let processes = trace.get("processes");
        let Some(spans) = trace.get("spans").and_then(Value::as_array) else {
            return Err(format!("data[{t}].spans: missing"));
        };
        for (i, span) in spans.iter().enumerate() {
            let at = format!("data[{t}].spans[{i}]");
            out.push(one_span(span, processes).map_err(|e| format!("{at}.{e}"))?);
        }
    }
    Ok(out)
}

/// A Jaeger id: 16 or 32 hex digits (a 64-bit trace id is zero-extended).
fn hex_id(value: Option<&Value>, what: &str) -> Result<Option<u128>, String> {
    let Some(text) = value.and_then(Value::as_str) else {
        return Ok(None);
    };
    let padded = format!("{text:0>32}");
    id(Some(&Value::String(padded)), 16).map_err(|e| format!("{what}: {e}"))
}

fn one_span(span: &Value, processes: Option<&Value>) -> Result<RawSpan, String> {
    let trace_id = hex_id(span.get("traceID"), "traceID")?.ok_or("traceID: missing")?;
    let span_id = hex_id(span.get("spanID"), "spanID")?.ok_or("spanID: missing")? as u64;
    let mut parent = hex_id(span.get("parentSpanID"), "parentSpanID")?.map(|p| p as u64);
    let mut links = Vec::new();
    for reference in span
        .get("references")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let t = hex_id(reference.get("traceID"), "references.traceID")?;
        let s = hex_id(reference.get("spanID"), "references.spanID")?.map(|s| s as u64);
        let (Some(t), Some(s)) = (t, s) else { continue };
        match reference.get("refType").and_then(Value::as_str) {
            Some("CHILD_OF") if parent.is_none() && t == trace_id => parent = Some(s),
            _ => links.push((t, s)),
        }
    }
    let micros = |key: &str| -> Result<u64, String> {
        span.get(key)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("{key}: missing or not a whole number of microseconds"))
    };
    let start_us = micros("startTime")?;
    let duration_us = micros("duration")?;
    let attributes = tags(span.get("tags"));
    let process = span.get("process").or_else(|| {
        let id = span.get("processID")?.as_str()?;
        processes?.get(id)
    });
    let service = process
        .and_then(|p| p.get("serviceName"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let tag = |key: &str| attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let error = matches!(tag("error"), Some(AttrValue::Bool(true)))
        || matches!(tag("otel.status_code"), Some(AttrValue::Str(s)) if s == "ERROR");
    let message = match tag("otel.status_description") {
        Some(AttrValue::Str(s)) => s.clone(),
        _ => String::new(),
    };
    let kind = match tag("span.kind") {
        Some(AttrValue::Str(s)) => match s.as_str() {
            "internal" => 1,
            "server" => 2,
            "client" => 3,
            "producer" => 4,
            "consumer" => 5,
            _ => 0,
        },
        _ => 0,
    };
    let simulated = false;
    let attributes = attributes
        .into_iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "error" | "span.kind" | "otel.status_code" | "otel.status_description"
            ) && !k.starts_with("internal.span.format")
        })
        .collect();
    Ok(RawSpan {
        trace_id,
        span_id,
        parent,
        name: span
            .get("operationName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        service,
        resource: None,
        kind,
        start_ns: start_us.saturating_mul(1000),
        end_ns: start_us.saturating_add(duration_us).saturating_mul(1000),
        error,
        message,
        attributes,
        links,
        simulated,
    })
}

/// Jaeger tags `{key, type, value}`.
fn tags(value: Option<&Value>) -> Vec<(String, AttrValue)> {
    let Some(items) = value.and_then(Value::as_array) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|tag| {
            let key = tag.get("key")?.as_str()?.to_string();
            let value = tag.get("value")?;
            let v = match (tag.get("type").and_then(Value::as_str), value) {
                (_, Value::Bool(b)) => AttrValue::Bool(*b),
                (Some("int64"), v) => AttrValue::Int(v.as_i64()?),
                (Some("float64"), v) => AttrValue::Double(v.as_f64()?),
                (_, Value::String(s)) => AttrValue::Str(s.clone()),
                (_, Value::Number(n)) if n.is_i64() => AttrValue::Int(n.as_i64()?),
                (_, Value::Number(n)) => AttrValue::Double(n.as_f64()?),
                (_, other) => AttrValue::Other(other.to_string()),
            };
            Some((key, v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_jaeger_trace_reads_with_parent_service_kind_and_error() {
        let doc = json!({"data": [{"traceID": "0af7651916cd43dd8448eb211c80319c", "spans": [
            {"traceID": "0af7651916cd43dd8448eb211c80319c", "spanID": "b7ad6b7169203331",
             "operationName": "GET /api", "references": [], "startTime": 1000, "duration": 2500,
             "tags": [{"key": "span.kind", "type": "string", "value": "server"}],
             "processID": "p1"},
            {"traceID": "0af7651916cd43dd8448eb211c80319c", "spanID": "00f067aa0ba902b7",
             "operationName": "SELECT", "references": [{"refType": "CHILD_OF",
               "traceID": "0af7651916cd43dd8448eb211c80319c", "spanID": "b7ad6b7169203331"}],
             "startTime": 1500, "duration": 1000,
             "tags": [{"key": "error", "type": "bool", "value": true}], "processID": "p2"}],
          "processes": {"p1": {"serviceName": "api"}, "p2": {"serviceName": "db"}}}]});
        assert!(is_jaeger(&doc));
        let spans = spans(&doc).unwrap();
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].kind, 2);
        assert_eq!(spans[0].duration_ms(), 2.5);
        assert_eq!(spans[1].parent, Some(spans[0].span_id));
        assert!(spans[1].error && !spans[0].error);
        assert_eq!(spans[1].service.as_deref(), Some("db"));
        assert!(spans[1].attributes.is_empty());
    }

    #[test]
    fn a_missing_time_is_located() {
        let doc = json!({"data": [{"spans": [{"traceID": "01", "spanID": "02"}]}]});
        assert_eq!(
            spans(&doc).unwrap_err(),
            "data[0].spans[0].startTime: missing or not a whole number of microseconds"
        );
    }
}
