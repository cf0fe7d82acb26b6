//! What a request will cost once decoded, found before decoding it, so that a small request
//! cannot make the sink allocate gigabytes.
//!
//! Protobuf is dense: an empty nested message is two bytes on the wire (`0x12 0x00`) but a
//! whole struct (and its share of a growing `Vec`) in memory, about 300 bytes per wire byte for
//! a request of empty `ScopeSpans`. So before prost builds anything, [`protobuf`] walks the
//! wire format with a table of the OTLP messages ([`Schema`]): it counts every message it
//! would build (resources, scopes, spans, attributes, values, data points, ...) and adds up an
//! estimate of the memory they take: each message's struct size (`size_of` of the prost type,
//! so the table cannot drift from the types), plus the heap bytes of strings and bytes, plus
//! eight bytes per element of the packed number arrays. Nothing is allocated by the walk.
//! [`json`] does the same for OTLP/JSON with a scanner that counts objects, strings and numbers
//! outside string literals, costing every object as the largest OTLP struct.
//!
//! The alternatives rejected: decoding into the structs with a counting allocator (the memory
//! is spent before it is counted), and bounding only the decompressed body (66 MB of empty
//! messages fits under any sane body limit and still decodes to gigabytes).

use std::mem::size_of;

use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
    SummaryDataPoint, exponential_histogram_data_point::Buckets,
    summary_data_point::ValueAtQuantile,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use prost::encoding::decode_varint;

/// What a request costs once decoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cost {
    /// Messages (protobuf) or objects (JSON) that would be built.
    pub items: u64,
    /// Estimated bytes of memory they take.
    pub bytes: u64,
}

/// The most one request may cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Budget {
    pub max_items: u64,
    pub max_bytes: u64,
}

/// Why a request is not decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// It would cost more than the budget: 413 / RESOURCE_EXHAUSTED.
    #[error(
        "request refused: it holds more than {max} {what} (the sink's --max-items); send smaller batches"
    )]
    TooManyItems { what: &'static str, max: u64 },
    #[error(
        "request refused: it would take more than {max} bytes of memory once decoded (the sink's --max-decoded-bytes); send smaller batches"
    )]
    TooBig { max: u64 },
    /// It is not a well-formed message: 400 / INVALID_ARGUMENT.
    #[error("cannot decode protobuf request: {0}")]
    Malformed(&'static str),
}

impl Refusal {
    /// Whether the request was refused for its size (rather than malformed).
    pub fn is_over_limit(&self) -> bool {
        !matches!(self, Refusal::Malformed(_))
    }
}

/// How one field of a message is costed.
enum Field {
    /// A message held in a `Vec`: its struct size, and what it holds.
    Repeated(&'static Schema),
    /// A message held inline (an `Option` or a oneof): already in its parent's size.
    Inline(&'static Schema),
    /// A packed array of varints, decoded to 8 bytes each (an element can be one wire byte).
    PackedVarints,
    /// A packed array of fixed 8-byte numbers.
    PackedFixed,
}

/// One OTLP message: its struct size and its message (or packed) fields by number; every other
/// length-delimited field is a string or bytes, costing its length.
pub(crate) struct Schema {
    size: usize,
    fields: &'static [(u32, Field)],
}

impl Schema {
    fn field(&self, number: u64) -> Option<&Field> {
        self.fields
            .iter()
            .find(|(n, _)| u64::from(*n) == number)
            .map(|(_, f)| f)
    }
}

use Field::{Inline, PackedFixed, PackedVarints, Repeated};

/// `schema!(Type, [fields])`: the struct size of the prost type, and its fields.
macro_rules! schema {
    ($t:ty, [$($f:expr),* $(,)?]) => {
        Schema {
            size: size_of::<$t>(),
            fields: &[$($f),*],
        }
    };
}

static ANY_VALUE: Schema = schema!(AnyValue, [(5, Inline(&ARRAY)), (6, Inline(&KV_LIST))]);
static ARRAY: Schema = schema!(ArrayValue, [(1, Repeated(&ANY_VALUE))]);
static KV_LIST: Schema = schema!(KeyValueList, [(1, Repeated(&KEY_VALUE))]);
static KEY_VALUE: Schema = schema!(KeyValue, [(2, Inline(&ANY_VALUE))]);
/// Its two repeated strings are costed as bytes (plus a `String` each: see [`STRING`]).
static ENTITY_REF: Schema = schema!(EntityRef, []);
static SCOPE: Schema = schema!(InstrumentationScope, [(3, Repeated(&KEY_VALUE))]);
static RESOURCE: Schema = schema!(
    Resource,
    [(1, Repeated(&KEY_VALUE)), (3, Repeated(&ENTITY_REF))]
);

static EVENT: Schema = schema!(span::Event, [(3, Repeated(&KEY_VALUE))]);
static LINK: Schema = schema!(span::Link, [(4, Repeated(&KEY_VALUE))]);
static STATUS: Schema = schema!(Status, []);
static SPAN: Schema = schema!(
    Span,
    [
        (9, Repeated(&KEY_VALUE)),
        (11, Repeated(&EVENT)),
        (13, Repeated(&LINK)),
        (15, Inline(&STATUS)),
    ]
);
static SCOPE_SPANS: Schema = schema!(ScopeSpans, [(1, Inline(&SCOPE)), (2, Repeated(&SPAN))]);
static RESOURCE_SPANS: Schema = schema!(
    ResourceSpans,
    [(1, Inline(&RESOURCE)), (2, Repeated(&SCOPE_SPANS))]
);
/// `ExportTraceServiceRequest`.
pub(crate) static TRACES: Schema = Schema {
    size: 0,
    fields: &[(1, Repeated(&RESOURCE_SPANS))],
};

static EXEMPLAR: Schema = schema!(Exemplar, [(7, Repeated(&KEY_VALUE))]);
static NUMBER_POINT: Schema = schema!(
    NumberDataPoint,
    [(7, Repeated(&KEY_VALUE)), (5, Repeated(&EXEMPLAR))]
);
static HISTOGRAM_POINT: Schema = schema!(
    HistogramDataPoint,
    [
        (9, Repeated(&KEY_VALUE)),
        (6, PackedFixed),
        (7, PackedFixed),
        (8, Repeated(&EXEMPLAR)),
    ]
);
static BUCKETS: Schema = schema!(Buckets, [(2, PackedVarints)]);
static EXP_HISTOGRAM_POINT: Schema = schema!(
    ExponentialHistogramDataPoint,
    [
        (1, Repeated(&KEY_VALUE)),
        (8, Inline(&BUCKETS)),
        (9, Inline(&BUCKETS)),
        (11, Repeated(&EXEMPLAR)),
    ]
);
static QUANTILE: Schema = schema!(ValueAtQuantile, []);
static SUMMARY_POINT: Schema = schema!(
    SummaryDataPoint,
    [(7, Repeated(&KEY_VALUE)), (6, Repeated(&QUANTILE))]
);
static GAUGE: Schema = schema!(Gauge, [(1, Repeated(&NUMBER_POINT))]);
static SUM: Schema = schema!(Sum, [(1, Repeated(&NUMBER_POINT))]);
static HISTOGRAM: Schema = schema!(Histogram, [(1, Repeated(&HISTOGRAM_POINT))]);
static EXP_HISTOGRAM: Schema = schema!(ExponentialHistogram, [(1, Repeated(&EXP_HISTOGRAM_POINT))]);
static SUMMARY: Schema = schema!(Summary, [(1, Repeated(&SUMMARY_POINT))]);
static METRIC: Schema = schema!(
    Metric,
    [
        (12, Repeated(&KEY_VALUE)),
        (5, Inline(&GAUGE)),
        (7, Inline(&SUM)),
        (9, Inline(&HISTOGRAM)),
        (10, Inline(&EXP_HISTOGRAM)),
        (11, Inline(&SUMMARY)),
    ]
);
static SCOPE_METRICS: Schema = schema!(ScopeMetrics, [(1, Inline(&SCOPE)), (2, Repeated(&METRIC))]);
static RESOURCE_METRICS: Schema = schema!(
    ResourceMetrics,
    [(1, Inline(&RESOURCE)), (2, Repeated(&SCOPE_METRICS))]
);
/// `ExportMetricsServiceRequest`.
pub(crate) static METRICS: Schema = Schema {
    size: 0,
    fields: &[(1, Repeated(&RESOURCE_METRICS))],
};

static LOG_RECORD: Schema = schema!(
    LogRecord,
    [(5, Inline(&ANY_VALUE)), (6, Repeated(&KEY_VALUE))]
);
static SCOPE_LOGS: Schema = schema!(ScopeLogs, [(1, Inline(&SCOPE)), (2, Repeated(&LOG_RECORD))]);
static RESOURCE_LOGS: Schema = schema!(
    ResourceLogs,
    [(1, Inline(&RESOURCE)), (2, Repeated(&SCOPE_LOGS))]
);
/// `ExportLogsServiceRequest`.
pub(crate) static LOGS: Schema = Schema {
    size: 0,
    fields: &[(1, Repeated(&RESOURCE_LOGS))],
};

/// A string or bytes field: the `String`/`Vec` (for repeated strings) and its heap bytes.
const STRING: u64 = size_of::<String>() as u64;

/// The largest struct of any OTLP message, the cost of one JSON object.
const LARGEST: usize = {
    let sizes = [
        size_of::<Span>(),
        size_of::<LogRecord>(),
        size_of::<HistogramDataPoint>(),
        size_of::<ExponentialHistogramDataPoint>(),
        size_of::<SummaryDataPoint>(),
        size_of::<NumberDataPoint>(),
        size_of::<Metric>(),
        size_of::<ResourceSpans>(),
        size_of::<ResourceMetrics>(),
        size_of::<ResourceLogs>(),
    ];
    let mut max = 0;
    let mut i = 0;
    while i < sizes.len() {
        if sizes[i] > max {
            max = sizes[i];
        }
        i += 1;
    }
    max
};

/// As deep as prost itself decodes (its recursion limit is 100).
const MAX_DEPTH: u32 = 100;

/// The cost of the protobuf message `bytes` of type `schema`, refused as soon as it exceeds
/// `budget`. `what` names the items in the refusal ("messages").
pub(crate) fn protobuf(bytes: &[u8], schema: &Schema, budget: Budget) -> Result<Cost, Refusal> {
    let mut cost = Cost::default();
    walk(bytes, schema, budget, 0, &mut cost)?;
    Ok(cost)
}

fn over(cost: &Cost, budget: Budget, what: &'static str) -> Result<(), Refusal> {
    if cost.items > budget.max_items {
        Err(Refusal::TooManyItems {
            what,
            max: budget.max_items,
        })
    } else if cost.bytes > budget.max_bytes {
        Err(Refusal::TooBig {
            max: budget.max_bytes,
        })
    } else {
        Ok(())
    }
}

fn fixed(bytes: &[u8], n: usize) -> Result<&[u8], Refusal> {
    bytes
        .get(n..)
        .ok_or(Refusal::Malformed("a fixed-size field runs past the end"))
}

fn walk(
    mut bytes: &[u8],
    schema: &Schema,
    budget: Budget,
    depth: u32,
    cost: &mut Cost,
) -> Result<(), Refusal> {
    if depth > MAX_DEPTH {
        return Err(Refusal::Malformed("messages nested too deep"));
    }
    while !bytes.is_empty() {
        let key = decode_varint(&mut bytes).map_err(|_| Refusal::Malformed("bad field key"))?;
        let (number, wire_type) = (key >> 3, key & 7);
        match wire_type {
            0 => {
                decode_varint(&mut bytes).map_err(|_| Refusal::Malformed("bad varint"))?;
                if matches!(schema.field(number), Some(PackedVarints)) {
                    cost.bytes += 8;
                }
            }
            1 => {
                bytes = fixed(bytes, 8)?;
                if matches!(schema.field(number), Some(PackedFixed)) {
                    cost.bytes += 8;
                }
            }
            5 => bytes = fixed(bytes, 4)?,
            2 => {
                let len =
                    decode_varint(&mut bytes).map_err(|_| Refusal::Malformed("bad length"))?;
                let len = usize::try_from(len)
                    .ok()
                    .filter(|&l| l <= bytes.len())
                    .ok_or(Refusal::Malformed("a field runs past the end"))?;
                let (inner, rest) = bytes.split_at(len);
                bytes = rest;
                match schema.field(number) {
                    Some(Repeated(s)) => {
                        cost.items += 1;
                        cost.bytes += s.size as u64;
                        over(cost, budget, "messages")?;
                        walk(inner, s, budget, depth + 1, cost)?;
                    }
                    Some(Inline(s)) => {
                        cost.items += 1;
                        over(cost, budget, "messages")?;
                        walk(inner, s, budget, depth + 1, cost)?;
                    }
                    Some(PackedVarints) => cost.bytes += 8 * len as u64,
                    Some(PackedFixed) => cost.bytes += len as u64,
                    None => cost.bytes += STRING + len as u64,
                }
                over(cost, budget, "messages")?;
            }
            _ => return Err(Refusal::Malformed("unsupported wire type")),
        }
    }
    Ok(())
}

/// The cost of the OTLP/JSON document `bytes`: each object costs the largest OTLP struct, each
/// string its length (and a `String`), each number, `true`, `false` or `null` 8 bytes. Refused
/// as soon as it exceeds `budget`. Malformed JSON is left to the parser to describe.
pub(crate) fn json(bytes: &[u8], budget: Budget) -> Result<Cost, Refusal> {
    let mut cost = Cost::default();
    let mut i = 0;
    let mut in_value = false;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => {
                cost.items += 1;
                cost.bytes += LARGEST as u64;
                over(&cost, budget, "JSON objects")?;
                in_value = false;
            }
            b'"' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                cost.bytes += STRING + (i - start) as u64;
                over(&cost, budget, "JSON objects")?;
                in_value = false;
            }
            b'}' | b'[' | b']' | b',' | b':' | b' ' | b'\t' | b'\r' | b'\n' => in_value = false,
            _ => {
                if !in_value {
                    cost.bytes += 8;
                    over(&cost, budget, "JSON objects")?;
                }
                in_value = true;
            }
        }
        i += 1;
    }
    Ok(cost)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::common::{BatchLimits, ResourceTemplate};
    use crate::encode::metrics::metrics_requests;
    use crate::encode::reference::TraceBatch;
    use crate::generate::metrics::{Aggregator, Temporality};
    use crate::generate::testing;
    use prost::Message;

    const OPEN: Budget = Budget {
        max_items: u64::MAX,
        max_bytes: u64::MAX,
    };

    /// One ResourceSpans holding `n` empty ScopeSpans: the request from the issue.
    fn empty_scopes(n: usize) -> Vec<u8> {
        let inner = [0x12u8, 0x00].repeat(n);
        let mut out = vec![0x0a];
        prost::encoding::encode_varint(inner.len() as u64, &mut out);
        out.extend_from_slice(&inner);
        out
    }

    #[test]
    fn empty_messages_are_counted_and_refused_over_the_budget() {
        let bytes = empty_scopes(1000);
        let cost = protobuf(&bytes, &TRACES, OPEN).unwrap();
        assert_eq!(cost.items, 1001);
        let per = size_of::<ScopeSpans>() as u64;
        assert_eq!(cost.bytes, size_of::<ResourceSpans>() as u64 + 1000 * per);
        let small = Budget {
            max_items: 500,
            max_bytes: u64::MAX,
        };
        assert!(matches!(
            protobuf(&bytes, &TRACES, small),
            Err(Refusal::TooManyItems { max: 500, .. })
        ));
        let tight = Budget {
            max_items: u64::MAX,
            max_bytes: 100 * per,
        };
        assert!(matches!(
            protobuf(&bytes, &TRACES, tight),
            Err(Refusal::TooBig { .. })
        ));
        assert!(protobuf(&bytes[..bytes.len() - 1], &TRACES, OPEN).is_err());
    }

    #[test]
    fn a_real_request_costs_about_what_it_decodes_to() {
        let plan = testing::bundled("tool_retry");
        let traces = testing::traces(&plan, 20, 50);
        let mut batch = TraceBatch::new(ResourceTemplate::default(), BatchLimits::UNLIMITED);
        let mut aggregator = Aggregator::new("vendor", Temporality::Cumulative, 1);
        for trace in &traces {
            batch.add(&plan, trace, &mut |_, _| unreachable!("unlimited"));
            aggregator.record(&plan, trace);
        }
        let request = batch.take();
        let bytes = request.encode_to_vec();
        let cost = protobuf(&bytes, &TRACES, OPEN).unwrap();
        let spans: u64 = traces.iter().map(|t| t.spans.len() as u64).sum();
        assert!(cost.items > spans, "{cost:?} for {spans} spans");
        // Between the wire size and ten times it: a real request is not amplified much.
        let wire = bytes.len() as u64;
        assert!(
            cost.bytes > wire && cost.bytes < 10 * wire,
            "{cost:?}, {wire} B"
        );
        let text = serde_json::to_vec(&request).unwrap();
        let json_cost = json(&text, OPEN).unwrap();
        assert!(json_cost.items >= spans, "{json_cost:?}");
        let export = aggregator.collect(2).expect("points");
        for r in metrics_requests(&export, &ResourceTemplate::default()) {
            let bytes = r.request.encode_to_vec();
            let cost = protobuf(&bytes, &METRICS, OPEN).unwrap();
            assert!(cost.bytes > bytes.len() as u64, "{cost:?}");
        }
    }

    #[test]
    fn json_floods_of_empty_objects_are_refused() {
        let mut doc = br#"{"resourceSpans":[{"scopeSpans":["#.to_vec();
        doc.extend(b"{},".repeat(10_000));
        doc.extend(b"{}]}]}");
        let budget = Budget {
            max_items: 5_000,
            max_bytes: u64::MAX,
        };
        assert!(matches!(
            json(&doc, budget),
            Err(Refusal::TooManyItems { .. })
        ));
        let cost = json(br#"{"a":"x\"}{","b":[1,2.5,-3]}"#, OPEN).unwrap();
        assert_eq!(cost.items, 1, "braces inside strings are not objects");
        // Strings cost their length and one quote: 2 + 6 + 2.
        assert_eq!(cost.bytes, LARGEST as u64 + 3 * STRING + 10 + 3 * 8);
    }

    #[test]
    fn nesting_deeper_than_prost_decodes_is_malformed() {
        // AnyValue → ArrayValue → AnyValue ... 200 levels, inside a log record body.
        let mut value: Vec<u8> = Vec::new();
        for _ in 0..200 {
            let mut array = vec![0x0a];
            prost::encoding::encode_varint(value.len() as u64, &mut array);
            array.extend_from_slice(&value);
            value = vec![0x2a];
            prost::encoding::encode_varint(array.len() as u64, &mut value);
            value.extend_from_slice(&array);
        }
        assert_eq!(
            walk(&value, &ANY_VALUE, OPEN, 0, &mut Cost::default()),
            Err(Refusal::Malformed("messages nested too deep"))
        );
    }
}
