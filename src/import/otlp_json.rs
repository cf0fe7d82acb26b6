//! OTLP/JSON export requests (the Collector's file exporter, this tool's `--output`, the sink's
//! `--dump`, protobuf's `MessageToJson`) to [`RawSpan`]s.
//!
//! Read from a `serde_json::Value` by hand rather than through `opentelemetry-proto`'s serde
//! derive: the protobuf JSON mapping allows both lowerCamelCase and the original field names,
//! ids in hex (OTLP's rule) or base64 (protobuf's generic rule, what `MessageToJson` writes),
//! enums as numbers or names and 64-bit integers as strings or numbers, and the derive accepts
//! one spelling of each. Reading by hand also names the path of a bad field in the error.

use super::span::{AttrValue, Kind, RawSpan};
use base64::Engine as _;
use serde_json::{Map, Value};

/// A field under either spelling of the protobuf JSON mapping.
fn field<'a>(object: &'a Map<String, Value>, camel: &str, snake: &str) -> Option<&'a Value> {
    object.get(camel).or_else(|| object.get(snake))
}

fn list<'a>(object: &'a Map<String, Value>, camel: &str, snake: &str) -> &'a [Value] {
    match field(object, camel, snake) {
        Some(Value::Array(items)) => items,
        _ => &[],
    }
}

/// Whether a JSON document is an OTLP trace export request (else it may be metrics or logs).
pub fn is_trace_request(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|o| field(o, "resourceSpans", "resource_spans").is_some())
}

/// Whether a JSON document is another OTLP signal, skipped without complaint.
pub fn is_other_signal(value: &Value) -> bool {
    value.as_object().is_some_and(|o| {
        [
            "resourceMetrics",
            "resource_metrics",
            "resourceLogs",
            "resource_logs",
        ]
        .iter()
        .any(|k| o.contains_key(*k))
    })
}

/// The spans of one export request; `Err` names the path of the first bad field.
pub fn spans(request: &Value) -> Result<Vec<RawSpan>, String> {
    let mut out = Vec::new();
    let Some(request) = request.as_object() else {
        return Err("not a JSON object".into());
    };
    for (r, resource_spans) in list(request, "resourceSpans", "resource_spans")
        .iter()
        .enumerate()
    {
        let path = format!("resourceSpans[{r}]");
        let Some(resource_spans) = resource_spans.as_object() else {
            return Err(format!("{path}: not an object"));
        };
        let resource_attrs = resource_spans
            .get("resource")
            .and_then(Value::as_object)
            .map(|res| attributes(list(res, "attributes", "attributes")))
            .unwrap_or_default();
        let service = resource_attrs.iter().find_map(|(k, v)| match v {
            AttrValue::Str(s) if k == "service.name" => Some(s.clone()),
            _ => None,
        });
        let detail = super::span::Resource::of(&resource_attrs);
        let simulated = resource_attrs.iter().any(|(k, v)| {
            k == "telemetry.sdk.name" && *v == AttrValue::Str("telemetry-simulator".into())
        });
        let scopes = list(resource_spans, "scopeSpans", "scope_spans")
            .iter()
            .chain(list(
                resource_spans,
                "instrumentationLibrarySpans",
                "instrumentation_library_spans",
            ));
        for (s, scope) in scopes.enumerate() {
            let Some(scope) = scope.as_object() else {
                return Err(format!("{path}.scopeSpans[{s}]: not an object"));
            };
            for (i, span) in list(scope, "spans", "spans").iter().enumerate() {
                let at = format!("{path}.scopeSpans[{s}].spans[{i}]");
                let mut span = one_span(span).map_err(|e| format!("{at}.{e}"))?;
                span.service.clone_from(&service);
                span.resource.clone_from(&detail);
                span.simulated = simulated;
                out.push(span);
            }
        }
    }
    Ok(out)
}

fn one_span(value: &Value) -> Result<RawSpan, String> {
    let Some(o) = value.as_object() else {
        return Err("span: not an object".into());
    };
    let trace_id = id(field(o, "traceId", "trace_id"), 16).map_err(|e| format!("traceId: {e}"))?;
    let span_id = id(field(o, "spanId", "span_id"), 8).map_err(|e| format!("spanId: {e}"))?;
    let parent = id(field(o, "parentSpanId", "parent_span_id"), 8)
        .map_err(|e| format!("parentSpanId: {e}"))?;
    let (Some(trace_id), Some(span_id)) = (trace_id, span_id) else {
        return Err("traceId/spanId: missing or empty".into());
    };
    let start_ns = nanos(field(o, "startTimeUnixNano", "start_time_unix_nano"))
        .map_err(|e| format!("startTimeUnixNano: {e}"))?;
    let end_ns = nanos(field(o, "endTimeUnixNano", "end_time_unix_nano"))
        .map_err(|e| format!("endTimeUnixNano: {e}"))?;
    let status = o.get("status").and_then(Value::as_object);
    let error = status
        .and_then(|s| s.get("code"))
        .is_some_and(|c| c.as_u64() == Some(2) || c.as_str() == Some("STATUS_CODE_ERROR"));
    let message = status
        .and_then(|s| s.get("message"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut links = Vec::new();
    for link in list(o, "links", "links") {
        let Some(l) = link.as_object() else { continue };
        let t = id(field(l, "traceId", "trace_id"), 16).map_err(|e| format!("links: {e}"))?;
        let s = id(field(l, "spanId", "span_id"), 8).map_err(|e| format!("links: {e}"))?;
        if let (Some(t), Some(s)) = (t, s) {
            links.push((t, s as u64));
        }
    }
    Ok(RawSpan {
        trace_id,
        span_id: span_id as u64,
        parent: parent.map(|p| p as u64),
        name: o
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        service: None,
        resource: None,
        kind: kind(o.get("kind")),
        start_ns,
        end_ns: end_ns.max(start_ns),
        error,
        message,
        attributes: attributes(list(o, "attributes", "attributes")),
        links,
        simulated: false,
    })
}

/// A span kind given as a number or as its enum name.
fn kind(value: Option<&Value>) -> Kind {
    match value {
        Some(Value::Number(n)) => n.as_u64().filter(|k| *k <= 5).unwrap_or(0) as Kind,
        Some(Value::String(s)) => [
            "SPAN_KIND_UNSPECIFIED",
            "SPAN_KIND_INTERNAL",
            "SPAN_KIND_SERVER",
            "SPAN_KIND_CLIENT",
            "SPAN_KIND_PRODUCER",
            "SPAN_KIND_CONSUMER",
        ]
        .iter()
        .position(|k| k == s)
        .unwrap_or(0) as Kind,
        _ => 0,
    }
}

/// An id of `bytes` bytes in hex (OTLP/JSON) or base64 (protobuf JSON); `None` when absent or
/// empty, or all zeros.
pub fn id(value: Option<&Value>, bytes: usize) -> Result<Option<u128>, String> {
    let text = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.as_str(),
        Some(other) => return Err(format!("expected a string, found {other}")),
    };
    if text.is_empty() {
        return Ok(None);
    }
    let raw = if text.len() == bytes * 2 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        u128::from_str_radix(text, 16).ok()
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()
            .filter(|b| b.len() == bytes)
            .map(|b| b.iter().fold(0u128, |acc, x| (acc << 8) | u128::from(*x)))
    };
    match raw {
        Some(0) => Ok(None),
        Some(v) => Ok(Some(v)),
        None => Err(format!(
            "{text:?} is not a {bytes}-byte id in hex or base64"
        )),
    }
}

/// Nanoseconds since the epoch, as a string or a number.
fn nanos(value: Option<&Value>) -> Result<u64, String> {
    match value {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| format!("{n} is not a time")),
        Some(Value::String(s)) => s.parse().map_err(|_| format!("{s:?} is not a time")),
        Some(other) => Err(format!("{other} is not a time")),
    }
}

/// OTLP key-values; values the scenario cannot hold become their JSON text.
pub fn attributes(items: &[Value]) -> Vec<(String, AttrValue)> {
    items
        .iter()
        .filter_map(|kv| {
            let kv = kv.as_object()?;
            let key = kv.get("key")?.as_str()?.to_string();
            let value = any_value(kv.get("value")?)?;
            Some((key, value))
        })
        .collect()
}

fn any_value(value: &Value) -> Option<AttrValue> {
    let o = value.as_object()?;
    if let Some(s) = field(o, "stringValue", "string_value") {
        return Some(AttrValue::Str(s.as_str()?.to_string()));
    }
    if let Some(b) = field(o, "boolValue", "bool_value") {
        return Some(AttrValue::Bool(b.as_bool()?));
    }
    if let Some(i) = field(o, "intValue", "int_value") {
        return match i {
            Value::String(s) => s.parse().ok().map(AttrValue::Int),
            other => other.as_i64().map(AttrValue::Int),
        };
    }
    if let Some(d) = field(o, "doubleValue", "double_value") {
        return match d {
            Value::String(s) => s.parse().ok().map(AttrValue::Double),
            other => other.as_f64().map(AttrValue::Double),
        };
    }
    o.values().next().map(|v| AttrValue::Other(v.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_spellings_and_both_id_encodings_read_the_same_span() {
        let camel = json!({"resourceSpans": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "svc"}}]},
          "scopeSpans": [{"spans": [{"traceId": "000102030405060708090a0b0c0d0e0f",
            "spanId": "0001020304050607", "parentSpanId": "", "name": "x", "kind": 2,
            "startTimeUnixNano": "1000000", "endTimeUnixNano": 3000000,
            "status": {"code": 2, "message": "boom"},
            "attributes": [{"key": "n", "value": {"intValue": "7"}}]}]}]}]});
        let snake = json!({"resource_spans": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"string_value": "svc"}}]},
          "scope_spans": [{"spans": [{"trace_id": "AAECAwQFBgcICQoLDA0ODw==",
            "span_id": "AAECAwQFBgc=", "name": "x", "kind": "SPAN_KIND_SERVER",
            "start_time_unix_nano": "1000000", "end_time_unix_nano": "3000000",
            "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
            "attributes": [{"key": "n", "value": {"int_value": 7}}]}]}]}]});
        let a = spans(&camel).unwrap();
        let b = spans(&snake).unwrap();
        assert_eq!(a, b);
        assert_eq!(a[0].trace_id, 0x000102030405060708090a0b0c0d0e0f);
        assert_eq!(a[0].kind, 2);
        assert!(a[0].error);
        assert_eq!(a[0].duration_ms(), 2.0);
        assert_eq!(a[0].service.as_deref(), Some("svc"));
        assert_eq!(a[0].attr("n"), Some(&AttrValue::Int(7)));
    }

    #[test]
    fn a_bad_id_names_its_path() {
        let bad = json!({"resourceSpans": [{"scopeSpans": [{"spans": [
            {"traceId": "zz", "spanId": "0001020304050607"}]}]}]});
        let error = spans(&bad).unwrap_err();
        assert!(
            error.starts_with("resourceSpans[0].scopeSpans[0].spans[0].traceId"),
            "{error}"
        );
    }
}
