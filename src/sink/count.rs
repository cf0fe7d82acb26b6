//! Counting the items of an OTLP protobuf request without decoding it, for `sink --count-only`.
//!
//! A load test of a sender needs a receiver that costs less than the sender, or it measures the
//! receiver. Decoding a request into the prost structs costs about as much as making it, so
//! this walks the wire format instead: it follows the length-delimited fields down to the items
//! (spans, data points, log records), counts them and skips everything else by its length,
//! never allocating. What it does not do is check the items; the decoding sink does that.

use prost::encoding::decode_varint;

/// The field numbers from a request down to its items; at each level, any of the listed fields.
pub(crate) type Path = &'static [&'static [u32]];

/// `resource_spans` → `scope_spans` → `spans`.
pub(crate) const SPANS: Path = &[&[1], &[2], &[2]];
/// `resource_logs` → `scope_logs` → `log_records`.
pub(crate) const LOG_RECORDS: Path = &[&[1], &[2], &[2]];
/// `resource_metrics` → `scope_metrics` → `metrics` → gauge, sum, histogram, exponential
/// histogram or summary → `data_points`.
pub(crate) const DATA_POINTS: Path = &[&[1], &[2], &[2], &[5, 7, 9, 10, 11], &[1]];

/// Why a request could not be walked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed protobuf: {0}")]
pub(crate) struct Malformed(&'static str);

/// The number of items at the end of `path` in the protobuf message `bytes`.
pub(crate) fn count_items(mut bytes: &[u8], path: Path) -> Result<u64, Malformed> {
    let Some((wanted, deeper)) = path.split_first() else {
        return Ok(0);
    };
    let mut items = 0;
    while !bytes.is_empty() {
        let key = decode_varint(&mut bytes).map_err(|_| Malformed("bad field key"))?;
        let (field, wire_type) = (key >> 3, key & 7);
        match wire_type {
            0 => {
                decode_varint(&mut bytes).map_err(|_| Malformed("bad varint"))?;
            }
            1 => bytes = skip(bytes, 8)?,
            5 => bytes = skip(bytes, 4)?,
            2 => {
                let len = decode_varint(&mut bytes).map_err(|_| Malformed("bad length"))?;
                let len = usize::try_from(len).map_err(|_| Malformed("length too large"))?;
                if len > bytes.len() {
                    return Err(Malformed("a field runs past the end"));
                }
                let (inner, rest) = bytes.split_at(len);
                if wanted.iter().any(|w| u64::from(*w) == field) {
                    items += if deeper.is_empty() {
                        1
                    } else {
                        count_items(inner, deeper)?
                    };
                }
                bytes = rest;
            }
            _ => return Err(Malformed("unsupported wire type")),
        }
    }
    Ok(items)
}

fn skip(bytes: &[u8], n: usize) -> Result<&[u8], Malformed> {
    bytes
        .get(n..)
        .ok_or(Malformed("a fixed-size field runs past the end"))
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

    #[test]
    fn counts_what_a_decoder_counts_and_refuses_truncation() {
        let plan = testing::bundled("tool_retry");
        let traces = testing::traces(&plan, 3, 50);
        let mut batch = TraceBatch::new(ResourceTemplate::default(), BatchLimits::UNLIMITED);
        let mut aggregator = Aggregator::new("vendor", Temporality::Cumulative, 1);
        for trace in &traces {
            batch.add(&plan, trace, &mut |_, _| unreachable!("unlimited"));
            aggregator.record(&plan, trace);
        }
        let spans: usize = traces.iter().map(|t| t.spans.len()).sum();
        let bytes = batch.take().encode_to_vec();
        assert_eq!(count_items(&bytes, SPANS), Ok(spans as u64));
        assert!(count_items(&bytes[..bytes.len() - 3], SPANS).is_err());
        let export = aggregator.collect(2).expect("points");
        let points: u64 = metrics_requests(&export, &ResourceTemplate::default())
            .iter()
            .map(|r| count_items(&r.request.encode_to_vec(), DATA_POINTS).unwrap())
            .sum();
        assert_eq!(points, export.points as u64);
    }
}
