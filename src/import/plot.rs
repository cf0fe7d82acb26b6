//! `import --report --plot FILE.svg`: per span name, the input's latency histogram and the fitted
//! scenario's (`check`'s run of it) overlaid, both as shares of their spans, so that a user sees
//! where the fit departs from the input at a glance.
//!
//! Drawn like `check`'s picture (`plotters`, its SVG backend only) from the same sketches: the
//! input's latencies are measured into `check::sketch::Quantiles` too, so both histograms are
//! binned alike. Reusing `check::plot`'s single-report histogram was the alternative; it draws
//! one series per cell, and the comparison needs two on one axis.

use super::emit::Row;
use crate::check::Report;
use crate::check::plot::PlotError;
use plotters::prelude::*;
use std::path::Path;

const WIDTH: u32 = 1200;
const CELL_HEIGHT: u32 = 240;
const COLUMNS: usize = 2;
const BINS: usize = 40;

fn draw_error(e: impl std::fmt::Display) -> PlotError {
    PlotError::Draw(e.to_string())
}

/// Shares of the spans per bin of `[0, high)`.
fn shares(q: &crate::check::sketch::Quantiles, high: f64) -> Vec<f64> {
    let (counts, _) = q.histogram(high, BINS);
    let total = q.count().max(1) as f64;
    counts.iter().map(|&c| c as f64 / total).collect()
}

/// The picture as SVG text: one cell per span name of the input.
pub fn svg(rows: &[Row], fit: &Report) -> Result<String, PlotError> {
    let cells = rows.len().div_ceil(COLUMNS).max(1);
    let mut out = String::new();
    {
        let backend = SVGBackend::with_string(&mut out, (WIDTH, CELL_HEIGHT * cells as u32));
        let root = backend.into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        for (area, row) in root.split_evenly((cells, COLUMNS)).iter().zip(rows) {
            let fitted = fit.span_types.iter().find(|s| s.name == row.name);
            cell(area, row, fitted.map(|f| &f.latencies_ms))?;
        }
        root.present().map_err(draw_error)?;
    }
    Ok(out)
}

fn cell<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    row: &Row,
    fit: Option<&crate::check::sketch::Quantiles>,
) -> Result<(), PlotError> {
    let input = &row.latencies_ms;
    let high = fit
        .map_or(0.0, |f| f.quantile(0.995))
        .max(input.quantile(0.995))
        .max(1e-3)
        * 1.05;
    let width = high / BINS as f64;
    let a = shares(input, high);
    let b = fit.map(|f| shares(f, high)).unwrap_or_default();
    let top = a.iter().chain(&b).copied().fold(0.0, f64::max).max(1e-3) * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{} (input {} spans)", row.name, row.spans),
            ("sans-serif", 15),
        )
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..high, 0f64..top)
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .x_desc("latency (ms)")
        .y_desc("share of spans")
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(draw_error)?;
    let blue = RGBColor(60, 110, 200);
    chart
        .draw_series(a.iter().enumerate().map(|(i, &s)| {
            let x0 = i as f64 * width;
            Rectangle::new([(x0, 0.0), (x0 + width, s)], blue.mix(0.45).filled())
        }))
        .map_err(draw_error)?
        .label("input")
        .legend(move |(x, y)| {
            Rectangle::new([(x, y - 5), (x + 16, y + 5)], blue.mix(0.45).filled())
        });
    if fit.is_some() {
        let red = RGBColor(200, 40, 40);
        let steps = b.iter().enumerate().flat_map(|(i, &s)| {
            let x0 = i as f64 * width;
            [(x0, s), (x0 + width, s)]
        });
        chart
            .draw_series(std::iter::once(PathElement::new(
                steps.collect::<Vec<_>>(),
                red.stroke_width(2),
            )))
            .map_err(draw_error)?
            .label("fit")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], red.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(draw_error)?;
    Ok(())
}

/// Writes the picture to `path` (`.svg`).
pub fn write(rows: &[Row], fit: &Report, path: &Path) -> Result<(), PlotError> {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if extension != "svg" {
        return Err(PlotError::Extension(path.display().to_string()));
    }
    std::fs::write(path, svg(rows, fit)?).map_err(|source| PlotError::Io {
        path: path.display().to_string(),
        source,
    })
}
