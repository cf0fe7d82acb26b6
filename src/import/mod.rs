//! `import`: recorded traces (OTLP/JSON, OTLP protobuf, Jaeger JSON) fitted into scenarios.
//!
//! A pipeline of one pass, in bounded memory: [`read`] streams each input into batches of
//! format-neutral spans ([`span`]); [`assemble`] gathers them into whole traces (a capped
//! buffer); [`tree`] walks each trace once into per-node statistics ([`stats`]: sketches,
//! reservoirs, capped tables) and drops it; after the last input, [`fit`] turns each node's
//! statistics into scenario parameters, [`recognise`] names agent span types, [`emit`] writes
//! the commented YAML, and [`report`] sets the input's statistics beside `check`'s of the fit.
//! Holding whole traces until the end and fitting from them was the alternative; it is simpler
//! and exact, and its memory grows with the input, which a production export must not.

pub mod assemble;
pub mod emit;
pub mod fit;
pub mod jaeger;
pub mod links;
pub mod otlp_json;
pub mod plot;
pub mod read;
pub mod recognise;
pub mod remote;
pub mod report;
pub mod runs;
pub mod span;
pub mod stats;
pub mod traffic;
pub mod tree;

pub use emit::Row;
pub use read::{Counted, ReadError};

use std::collections::BTreeMap;
use std::io::Read;

/// Spans buffered in incomplete traces before the oldest are fitted as they are.
pub const DEFAULT_MAX_BUFFERED_SPANS: usize = 200_000;

/// Everything read from the inputs.
#[derive(Debug, Default)]
pub struct Imported {
    pub measured: tree::Measured,
    pub other_signals: u64,
    pub flushed_incomplete: u64,
}

/// Reads every input (name, reader) in turn into one measurement.
pub fn measure(
    inputs: Vec<(String, Box<dyn Read + '_>)>,
    max_buffered_spans: usize,
) -> Result<Imported, ReadError> {
    let mut imported = Imported::default();
    let mut assembler = assemble::Assembler::new(max_buffered_spans);
    for (name, input) in inputs {
        let measured = &mut imported.measured;
        let totals = read::read(&name, input, &mut |batch| {
            assembler.add(batch, &mut |trace| measured.add_trace(trace));
        })?;
        imported.other_signals += totals.other_signals;
        // A trace does not continue into the next input: one input's traces are whole at its
        // end (and two inputs written with one seed reuse trace ids).
        let measured = &mut imported.measured;
        assembler.finish(&mut |trace| measured.add_trace(trace));
    }
    imported.flushed_incomplete = assembler.flushed_incomplete;
    Ok(imported)
}

/// One fitted scenario.
#[derive(Clone, Debug)]
pub struct Fitted {
    /// The scenario's name (and file stem).
    pub name: String,
    pub root: String,
    pub yaml: String,
    pub traces: u64,
    pub weight: f64,
    pub rows: Vec<Row>,
    pub worst_fit: (f64, String),
}

/// The attribute prefix the input's agent spans use (`vendor` when none is recognised).
pub fn prefix(imported: &Imported) -> String {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    fn walk(node: &tree::Node, counts: &mut BTreeMap<String, u64>) {
        if let Some((_, Some(p))) = recognise::by_name(&node.name) {
            *counts.entry(p).or_default() += node.spans;
        }
        node.children.iter().for_each(|c| walk(c, counts));
    }
    for shape in imported.measured.shapes.values() {
        walk(&shape.root, &mut counts);
    }
    counts
        .into_iter()
        .max_by_key(|(p, n)| (*n, std::cmp::Reverse(p.clone())))
        .map_or_else(|| "vendor".to_string(), |(p, _)| p)
}

/// A scenario name from a root span name: lower case, `[a-z0-9_]`, not empty.
pub fn scenario_name(root: &str) -> String {
    let mut name: String = root
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    while name.contains("__") {
        name = name.replace("__", "_");
    }
    let name = name.trim_matches('_');
    if name.is_empty() {
        "imported".to_string()
    } else {
        format!("imported_{name}")
    }
}

/// Fits every shape; `name` names a single scenario (several get it as a stem).
pub fn fit(imported: &mut Imported, name: Option<&str>) -> Vec<Fitted> {
    let prefix = prefix(imported);
    let m = &mut imported.measured;
    let header = header(
        m,
        imported.other_signals,
        imported.flushed_incomplete,
        &prefix,
    );
    let total = m.traces.max(1) as f64;
    let several = m.shapes.len() > 1;
    let mut fitted: Vec<Fitted> = Vec::new();
    for ((root, _service), shape) in &mut m.shapes {
        let mut stem = match name {
            Some(n) if several => format!(
                "{n}_{}",
                scenario_name(root).trim_start_matches("imported_")
            ),
            Some(n) => n.to_string(),
            None => scenario_name(root),
        };
        while fitted.iter().any(|f| f.name == stem) {
            stem.push_str("_2");
        }
        let weight = shape.traces as f64 / total;
        let e = emit::scenario(shape, &stem, weight, &prefix, &header);
        fitted.push(Fitted {
            name: stem,
            root: root.clone(),
            yaml: e.yaml,
            traces: shape.traces,
            weight,
            rows: e.rows,
            worst_fit: e.worst_fit,
        });
    }
    fitted
}

/// The comment every fitted file starts with: what was read and what was dropped.
fn header(m: &tree::Measured, other_signals: u64, incomplete: u64, prefix: &str) -> String {
    let mut h = format!(
        "Read {} spans in {} traces ({} root shapes).",
        m.spans,
        m.traces,
        m.shapes.len()
    );
    let dropped = [
        (m.orphans, "spans dropped: their parent never arrived"),
        (m.rootless, "traces dropped: no root span"),
        (
            m.over_limit,
            "spans dropped: beyond the limits on nodes and shapes",
        ),
        (
            incomplete,
            "traces fitted before they looked complete (the buffer was full)",
        ),
        (other_signals, "metric and log requests skipped"),
    ];
    for (n, what) in dropped {
        if n > 0 {
            h.push_str(&format!("\n{n} {what}."));
        }
    }
    if prefix != "vendor" {
        h.push_str(&format!(
            "\nThe input's agent spans use the prefix `{prefix}`: run with TELEMETRY_SIMULATOR_ATTR_PREFIX={prefix}."
        ));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(trace: u128, id: u64, parent: Option<u64>, name: &str, start_ms: u64) -> span::RawSpan {
        span::RawSpan {
            trace_id: trace,
            span_id: id,
            parent,
            name: name.into(),
            service: Some("svc".into()),
            resource: None,
            kind: 2,
            start_ns: start_ms * 1_000_000,
            end_ns: (start_ms + 10) * 1_000_000,
            error: false,
            message: String::new(),
            attributes: Vec::new(),
            links: Vec::new(),
            simulated: false,
        }
    }

    #[test]
    fn links_to_the_previous_trace_are_fitted_and_generic_spans_keep_their_names() {
        let mut imported = Imported::default();
        for t in 1..=20u128 {
            let mut root = span(t, 1, None, "consume batch", t as u64 * 100);
            root.links.push((t - 1, 1));
            let child = span(t, 2, Some(1), "SELECT {x}", t as u64 * 100 + 1);
            imported.measured.add_trace(vec![root, child]);
        }
        let fitted = fit(&mut imported, Some("batch"));
        let yaml = &fitted[0].yaml;
        assert!(yaml.contains("links: [{to: previous_trace}]"), "{yaml}");
        assert!(yaml.contains("name: \"SELECT {x}\""), "{yaml}");
        assert!(yaml.contains("# Read 40 spans in 20 traces"), "{yaml}");
        assert_eq!(fitted[0].name, "batch");
    }

    #[test]
    fn names_are_file_stems() {
        assert_eq!(
            scenario_name("vendor.a2a.orchestrate"),
            "imported_vendor_a2a_orchestrate"
        );
        assert_eq!(scenario_name("GET /api/v1"), "imported_get_api_v1");
        assert_eq!(scenario_name("///"), "imported");
    }
}
