//! `--show-spans` and `--show-full-spans`: what was generated, printed as it is generated.
//!
//! The short form is the original's one line per iteration (its last trace's full id and tenant,
//! `status=ERROR` when any of its spans failed, else `UNSET` as on the wire, its duration from the
//! first span's start to the last span's end, and the span names); the full form prints each
//! trace as a tree, parents before children, every attribute sorted by key. Printing reads the same records
//! the encoder does, so what is shown is what is sent.

use crate::conventions::SpanKind;
use crate::generate::{Plan, Trace, ValueDisplay};
use std::io::Write;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Show {
    #[default]
    Nothing,
    Spans,
    FullSpans,
}

/// Names listed per line before the rest is summarised as `..+K`.
const NAMES_PER_LINE: usize = 12;

impl Show {
    pub fn print(
        self,
        out: &mut impl Write,
        plan: &Plan,
        traces: &[Trace],
        index: u64,
        count: u64,
    ) {
        let result = match self {
            Show::Nothing => Ok(()),
            Show::Spans => spans_line(out, plan, traces, index, count),
            Show::FullSpans => traces.iter().try_for_each(|t| full_tree(out, plan, t)),
        };
        // A closed stdout (e.g. `| head`) must not stop the run.
        let _ = result;
    }
}

fn spans_line(
    out: &mut impl Write,
    plan: &Plan,
    traces: &[Trace],
    index: u64,
    count: u64,
) -> std::io::Result<()> {
    let Some(last) = traces.last() else {
        return Ok(());
    };
    let names: Vec<&str> = traces
        .iter()
        .flat_map(|t| t.spans.iter().map(|s| plan.str(s.name)))
        .collect();
    let mut listed = names
        .iter()
        .take(NAMES_PER_LINE)
        .copied()
        .collect::<Vec<_>>()
        .join(",");
    if names.len() > NAMES_PER_LINE {
        listed += &format!(",..+{}", names.len() - NAMES_PER_LINE);
    }
    let spans = || traces.iter().flat_map(|t| &t.spans);
    let status = if spans().any(|s| s.error.is_some()) {
        "ERROR"
    } else {
        "UNSET"
    };
    let start = spans().map(|s| s.start_ns).min().unwrap_or(0);
    let end = spans().map(|s| s.end_ns).max().unwrap_or(start);
    writeln!(
        out,
        "   [{}/{}] trace_id={} tenant_id={} status={status} duration_ms={:.1} spans={}",
        index + 1,
        count,
        hex(&last.trace_id),
        plan.str(plan.tenants[last.tenant as usize]),
        end.saturating_sub(start) as f64 / 1e6,
        listed
    )
}

fn full_tree(out: &mut impl Write, plan: &Plan, trace: &Trace) -> std::io::Result<()> {
    let mut depth = vec![0usize; trace.spans.len()];
    for (i, span) in trace.spans.iter().enumerate() {
        depth[i] = span.parent.map_or(0, |p| depth[p as usize] + 1);
        let indent = "  ".repeat(depth[i]);
        let status = if span.error.is_some() {
            "ERROR"
        } else {
            "UNSET"
        };
        writeln!(
            out,
            "   {indent}span name={} trace_id={} span_id={} parent_id={} kind={} status={} duration_ms={:.1}",
            plan.str(span.name),
            hex(&trace.trace_id),
            hex(&span.span_id),
            span.parent
                .map_or(String::new(), |p| hex(&trace.spans[p as usize].span_id)),
            kind_name(span.kind),
            status,
            span.duration_ns() as f64 / 1e6,
        )?;
        let mut attrs: Vec<(&str, String)> = trace
            .attrs_of(span)
            .iter()
            .map(|a| {
                let value = ValueDisplay {
                    plan,
                    trace,
                    value: a.value,
                };
                (plan.str(a.key), value.to_string())
            })
            .collect();
        attrs.sort();
        for (key, value) in attrs {
            writeln!(out, "   {indent}   {key}={value}")?;
        }
        for link in trace.links_of(span) {
            writeln!(
                out,
                "   {indent}   link trace_id={} span_id={}",
                hex(&link.trace_id),
                hex(&link.span_id)
            )?;
        }
    }
    writeln!(out)
}

fn kind_name(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Internal => "INTERNAL",
        SpanKind::Server => "SERVER",
        SpanKind::Client => "CLIENT",
        SpanKind::Producer => "PRODUCER",
        SpanKind::Consumer => "CONSUMER",
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
