//! The picture of a [`Report`]: a latency histogram per span name and the waterfall of a typical
//! trace, in one self-contained SVG (or an HTML page that holds the SVG and the text report).
//!
//! Drawn with `plotters` and only its SVG backend: a few small crates, no font files (the SVG
//! carries text, the browser renders it) and no bitmap or GIF encoders. `charming` was rejected:
//! it renders through ECharts' JavaScript, which a self-contained file would have to embed (about
//! 1 MB) and which a headless check could not trust without running it.

use super::{Report, SpanTypeReport, WaterfallSpan};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

const WIDTH: u32 = 1200;
const HISTOGRAM_HEIGHT: u32 = 240;
const COLUMNS: usize = 2;
const BINS: usize = 40;
const ROW_HEIGHT: u32 = 22;

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("the plot file must end in .svg or .html, not {0}")]
    Extension(String),
    #[error("cannot draw the plot: {0}")]
    Draw(String),
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Writes the picture of `report` to `path` (`.svg` or `.html`).
pub fn write(report: &Report, path: &Path) -> Result<(), PlotError> {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let svg = svg(report)?;
    let contents = match extension.as_str() {
        "svg" => svg,
        "html" | "htm" => html(report, &svg),
        _ => return Err(PlotError::Extension(path.display().to_string())),
    };
    std::fs::write(path, contents).map_err(|source| PlotError::Io {
        path: path.display().to_string(),
        source,
    })
}

fn html(report: &Report, svg: &str) -> String {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>check: {name}</title>\
         <style>body{{font-family:sans-serif;margin:16px;background:#fff}}pre{{font-size:13px}}</style>\
         </head><body><h1>Scenario {name}</h1><pre>{text}</pre>{svg}</body></html>\n",
        name = escape(&report.scenario),
        text = escape(&report.render()),
    )
}

fn draw_error(e: impl std::fmt::Display) -> PlotError {
    PlotError::Draw(e.to_string())
}

/// The whole picture as SVG text.
pub fn svg(report: &Report) -> Result<String, PlotError> {
    let types = &report.span_types;
    // Streaming LLM calls add a histogram of their time to first chunk.
    let ttft = ttft_histogram(report);
    let rows = (types.len() + usize::from(ttft.is_some()))
        .div_ceil(COLUMNS)
        .max(1);
    let histograms_height = HISTOGRAM_HEIGHT * rows as u32;
    let waterfall_height = 80 + ROW_HEIGHT * report.typical.len().max(1) as u32;
    let timeline = report.session.as_ref().map_or(&[][..], |s| &s.timeline[..]);
    let timeline_height = match timeline.len() {
        0 => 0,
        n => 80 + ROW_HEIGHT * n as u32,
    };
    let mut out = String::new();
    {
        let backend = SVGBackend::with_string(
            &mut out,
            (
                WIDTH,
                histograms_height + waterfall_height + timeline_height,
            ),
        );
        let root = backend.into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let (top, bottom) = root.split_vertically(histograms_height);
        let cells = top.split_evenly((rows, COLUMNS));
        for (i, (cell, span_type)) in cells.iter().zip(types.iter().chain(&ttft)).enumerate() {
            histogram(cell, span_type, Palette99::pick(i).to_rgba())?;
        }
        let (bottom, last) = bottom.split_vertically(waterfall_height);
        let names: Vec<&str> = report.span_types.iter().map(|s| s.name.as_str()).collect();
        let caption = format!(
            "A typical trace ({} spans, root {:.1} ms: the median root latency)",
            report.typical.len(),
            report.typical.first().map_or(0.0, |s| s.duration_ms)
        );
        let x_desc = "time since the root started (ms)";
        waterfall(&bottom, &report.typical, &names, (&caption, x_desc))?;
        if !timeline.is_empty() {
            let caption = format!(
                "A session as a timeline of its {} turns (root spans; gaps: the user thinking)",
                timeline.len()
            );
            let x_desc = "time since the session started (ms)";
            waterfall(&last, timeline, &[], (&caption, x_desc))?;
        }
        root.present().map_err(draw_error)?;
    }
    Ok(out)
}

/// The TTFTs of `report`'s streaming LLM calls, as one more histogram of milliseconds.
fn ttft_histogram(report: &Report) -> Option<SpanTypeReport> {
    let ttft = &report.llm.ttft_ms;
    (ttft.count() > 0).then(|| SpanTypeReport {
        name: "time to first chunk".into(),
        spans: ttft.count(),
        per_trace: ttft.count() as f64 / report.traces.max(1) as f64,
        latency_ms: report.llm.ttft_percentiles(),
        error_rate: 0.0,
        latencies_ms: ttft.clone(),
    })
}

fn histogram<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    span_type: &SpanTypeReport,
    color: RGBAColor,
) -> Result<(), PlotError> {
    let values = &span_type.latencies_ms;
    // The tail beyond the 99.5th percentile would squeeze the body into a few bins.
    let high = values.quantile(0.995).max(1e-3) * 1.05;
    let width = high / BINS as f64;
    let (counts, beyond) = values.histogram(high, BINS);
    let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64 * 1.1;
    let caption = format!(
        "{} ({} spans, {:.2}/trace, {:.1}% errors)",
        span_type.name,
        span_type.spans,
        span_type.per_trace,
        span_type.error_rate * 100.0
    );
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 15))
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..high, 0f64..top)
        .map_err(draw_error)?;
    let x_desc = if beyond > 0 {
        format!("latency (ms); {beyond} slower spans are beyond the right edge")
    } else {
        "latency (ms)".to_string()
    };
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("spans")
        .x_label_formatter(&|x| number_label(*x))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(draw_error)?;
    chart
        .draw_series(counts.iter().enumerate().map(|(i, &c)| {
            let x0 = i as f64 * width;
            Rectangle::new([(x0, 0.0), (x0 + width, c as f64)], color.filled())
        }))
        .map_err(draw_error)?;
    let p = span_type.latency_ms;
    for (label, x, shade) in [
        ("p50", p.p50, RGBColor(20, 20, 20)),
        ("p95", p.p95, RGBColor(200, 120, 0)),
        ("p99", p.p99, RGBColor(200, 0, 0)),
    ] {
        if x <= high {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x, 0.0), (x, top)],
                    shade.stroke_width(2),
                )))
                .map_err(draw_error)?
                .label(format!("{label} {x:.1} ms"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], shade));
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(RGBColor(200, 200, 200))
        .draw()
        .map_err(draw_error)?;
    Ok(())
}

/// `spans` as bars on a time axis, one row each, coloured by their place in `names`.
fn waterfall<'a, DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    spans: &'a [super::WaterfallSpan],
    names: &[&'a str],
    (caption, x_desc): (&str, &str),
) -> Result<(), PlotError> {
    let end = spans
        .iter()
        .map(|s| s.start_ms + s.duration_ms)
        .fold(0.0, f64::max)
        .max(1e-3);
    let rows = spans.len().max(1) as f64;
    let (by_service, names) = palette(spans, names);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(10)
        .build_cartesian_2d(0f64..end * 1.02, rows..0f64)
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_desc(x_desc)
        .x_label_formatter(&|x| number_label(*x))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(draw_error)?;
    for (row, span) in spans.iter().enumerate() {
        let color = color_of(span, by_service, &names);
        let y0 = row as f64 + 0.15;
        let y1 = row as f64 + 0.85;
        let x1 = span.start_ms + span.duration_ms.max(end * 0.002);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(span.start_ms, y0), (x1, y1)],
                color.filled(),
            )))
            .map_err(draw_error)?;
        if span.error {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(span.start_ms, y0), (x1, y1)],
                    RED.stroke_width(3),
                )))
                .map_err(draw_error)?;
        }
        let indent = "  ".repeat(span.depth as usize);
        let label = format!(
            "{indent}{}{}  {:.1} ms{}",
            span.name,
            span.service
                .as_deref()
                .map_or(String::new(), |s| format!("  [{s}]")),
            span.duration_ms,
            if span.error { "  (error)" } else { "" }
        );
        // Labels sit right of their bar, else left of it, else (a bar across the whole trace)
        // inside it.
        let (x, anchor) = if x1 < end * 0.6 {
            (x1 + end * 0.005, Pos::new(HPos::Left, VPos::Center))
        } else if span.start_ms > end * 0.4 {
            (
                span.start_ms - end * 0.005,
                Pos::new(HPos::Right, VPos::Center),
            )
        } else {
            (
                span.start_ms + end * 0.005,
                Pos::new(HPos::Left, VPos::Center),
            )
        };
        chart
            .draw_series(std::iter::once(Text::new(
                label,
                (x, row as f64 + 0.5),
                ("sans-serif", 12)
                    .into_font()
                    .into_text_style(area)
                    .pos(anchor),
            )))
            .map_err(draw_error)?;
    }
    Ok(())
}

/// What the waterfall's colours stand for: the services when the spans carry services
/// (`true`), else `names`.
fn palette<'a>(spans: &'a [WaterfallSpan], names: &[&'a str]) -> (bool, Vec<&'a str>) {
    let mut services: Vec<&str> = Vec::new();
    for s in spans.iter().filter_map(|s| s.service.as_deref()) {
        if !services.contains(&s) {
            services.push(s);
        }
    }
    if services.is_empty() {
        (false, names.to_vec())
    } else {
        (true, services)
    }
}

/// A waterfall bar's colour: its service's, or its span name's.
fn color_of(span: &WaterfallSpan, by_service: bool, names: &[&str]) -> RGBAColor {
    let key = match &span.service {
        Some(service) if by_service => service.as_str(),
        _ => span.name.as_str(),
    };
    names
        .iter()
        .position(|n| *n == key)
        .map_or(BLACK.to_rgba(), |i| Palette99::pick(i).to_rgba())
}

/// Axis numbers without needless decimals.
fn number_label(x: f64) -> String {
    if x.abs() >= 10.0 || x == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}
