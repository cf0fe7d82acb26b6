//! Checks of a decoded scenario that go beyond its syntax: what `validate` reports after a file
//! has loaded.
//!
//! The decoder already rejects what cannot be run. This pass looks for what runs but is probably
//! not what the author meant, and for disagreements with the semantic-conventions schema:
//!
//! * **A child that never fits its parent** (warning). Children are laid out one after another
//!   inside their parent, and a parent too short for its children is stretched to contain them,
//!   so its latency distribution no longer holds. Precisely: a child whose *median* latency (one
//!   attempt, as sampled) exceeds its parent's *99th percentile* latency stretches its parent in
//!   at least ~99% of the traces where it appears. Failing that, the children that always appear
//!   (`probability: 1`) together, each at its minimum `count` and median latency, exceeding the
//!   parent's 99th percentile is reported once for the parent. Percentiles are estimated from
//!   [`LATENCY_DRAWS`] draws of the generator's own latency sampler with a fixed seed, so the
//!   verdict is the same on every run.
//!   An LLM call timed by its tokens (`llm: {timing: tokens}`) is left out: its duration is
//!   not a latency the author set, and its parent is meant to stretch around it.
//! * **Schema conformance**: an attribute whose schema definition declares another type, or whose
//!   value is not among the definition's `allowed_values`, is an error; an attribute the schema does
//!   not define for the span (nor anywhere) is a warning.
//! * **High cardinality** (warning): a categorical attribute with more than
//!   [`HIGH_CARDINALITY`] values, or a sampled attribute that a schema metric uses as a dimension
//!   and that takes more than [`HIGH_CARDINALITY`] distinct values in [`CARDINALITY_DRAWS`] draws
//!   (every continuous distribution does). Each distinct value of a dimension is a separate time
//!   series in a metrics backend.
//!
//! * **Generic steps** (warning): a step of an HTTP, database, vector-store, messaging or RPC
//!   convention that lacks a key the convention requires (and the generator has no default
//!   for), or whose name has a placeholder no constant attribute fills.
//!
//! The checks read the model and the decoder's [`SourceMap`], never the YAML again, so every
//! warning carries the file, line, column and key path of what it is about. They live apart from
//! the decoder because they need the generator's samplers and the schema, which the model must not
//! depend on.

mod generic;
mod llm;
mod schema;
mod session;

use crate::generate::{LatencySampler, Sampler, is_integer_attribute};
use crate::scenario::{
    AttributeValue, Decoded, Diagnostics, Distribution, Severity, SourceMap, Step,
};
use crate::schema::Schema;
use crate::yaml::{Mark, Policy, Report};
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

/// Draws per latency estimate.
pub const LATENCY_DRAWS: usize = 20_000;
/// Draws per cardinality estimate.
pub const CARDINALITY_DRAWS: usize = 10_000;
/// More distinct values than this is high cardinality.
pub const HIGH_CARDINALITY: usize = 100;

/// The seed of every estimate, so that a verdict never changes between runs.
const LINT_SEED: u64 = 0x5eed_11e7;

/// What the checks need besides the scenario.
pub struct LintContext<'a> {
    /// How diagnostics name the file.
    pub file: &'a str,
    /// The file's text, for the caret snippets.
    pub text: &'a str,
    /// The schema, with its names under the configured prefix.
    pub schema: &'a Schema,
    /// The configured attribute prefix (span names depend on it).
    pub prefix: &'a str,
}

/// Every finding about `decoded`, in file order.
pub fn lint(decoded: &Decoded, context: &LintContext) -> Diagnostics {
    let mut out = Findings {
        context,
        report: Report::new(context.file, context.text, Policy::Refuse),
    };
    let steps = decoded.scenario.root.walk();
    let source = &decoded.source_map;
    let index_of = |step: &Step| steps.iter().position(|s| std::ptr::eq(*s, step));
    let quantiles: Vec<Quantiles> = steps.iter().map(|s| Quantiles::of(s)).collect();
    for (i, step) in steps.iter().enumerate() {
        let children: Vec<usize> = step.children.iter().filter_map(index_of).collect();
        fit(&mut out, source, i, step, &children, &quantiles);
        schema::attributes(&mut out, source, i, step);
        cardinality(&mut out, source, i, step);
        generic::conventions(&mut out, source, i, step);
    }
    llm::check(&mut out, source, &decoded.scenario);
    session::check(&mut out, decoded);
    out.report.finish()
}

/// Collects diagnostics with their source lines (the located-YAML reader's collector).
struct Findings<'a> {
    context: &'a LintContext<'a>,
    report: Report<'a>,
}

impl Findings<'_> {
    fn push(
        &mut self,
        severity: Severity,
        mark: Option<Mark>,
        path: &str,
        message: String,
        help: Option<String>,
    ) {
        self.report.push(severity, mark, path, message, help);
    }
}

/// The median and 99th percentile of a step's own latency, in ms.
#[derive(Clone, Copy, Debug)]
struct Quantiles {
    p50: f64,
    p99: f64,
}

impl Quantiles {
    fn of(step: &Step) -> Quantiles {
        // An LLM call timed by its tokens has no latency of its own to fit: its parent is meant
        // to stretch around it, so it neither warns as a child nor bounds its own children.
        if step
            .llm
            .as_ref()
            .is_some_and(|l| l.timing == crate::scenario::LlmTiming::Tokens)
        {
            return Quantiles {
                p50: 0.0,
                p99: f64::INFINITY,
            };
        }
        let sampler = LatencySampler::new(&step.latency);
        let mut rng = Pcg64Mcg::seed_from_u64(LINT_SEED);
        let mut draws: Vec<f64> = (0..LATENCY_DRAWS)
            .map(|_| sampler.sample_ms(&mut rng).max(0.0))
            .collect();
        draws.sort_by(f64::total_cmp);
        Quantiles {
            p50: nearest_rank(&draws, 0.50),
            p99: nearest_rank(&draws, 0.99),
        }
    }
}

/// The `q` quantile of sorted `xs` by the nearest-rank method (NaN when empty).
pub fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.saturating_sub(1).min(sorted.len() - 1)]
}

/// Milliseconds with a precision that suits their size.
fn ms(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0} ms")
    } else if x >= 1.0 {
        format!("{x:.1} ms")
    } else {
        format!("{x:.3} ms")
    }
}

fn fit(
    out: &mut Findings,
    source: &SourceMap,
    parent_index: usize,
    parent: &Step,
    children: &[usize],
    quantiles: &[Quantiles],
) {
    let Some(parent_source) = source.steps.get(parent_index) else {
        return;
    };
    let limit = quantiles[parent_index].p99;
    let mut single = false;
    for (&child_index, child) in children.iter().zip(&parent.children) {
        let child_p50 = quantiles[child_index].p50;
        if child_p50 > limit {
            single = true;
            let Some(child_source) = source.steps.get(child_index) else {
                continue;
            };
            let latency_path = format!("{}.latency", child_source.path);
            out.push(
                Severity::Warning,
                source.key(&latency_path).or(Some(child_source.mark)),
                &latency_path,
                format!(
                    "this {} never fits its parent {}: its median latency {} exceeds the parent's \
                     99th percentile {}, so the parent is stretched to contain it in nearly every trace",
                    label(child),
                    label(parent),
                    ms(child_p50),
                    ms(limit)
                ),
                Some(
                    "lower this step's latency or raise the parent's; a parent's latency is its \
                     whole duration, children included"
                        .into(),
                ),
            );
        }
    }
    if single {
        return;
    }
    let always = children
        .iter()
        .zip(&parent.children)
        .filter(|(_, c)| c.probability >= 1.0 && min_count(c) > 0);
    // Parallel children start together: the longest one is what must fit.
    let mandatory: f64 = if parent.wiring.parallel {
        always.map(|(&i, _)| quantiles[i].p50).fold(0.0, f64::max)
    } else {
        always
            .map(|(&i, c)| min_count(c) as f64 * quantiles[i].p50)
            .sum()
    };
    if mandatory > limit && mandatory > 0.0 {
        let latency_path = format!("{}.latency", parent_source.path);
        out.push(
            Severity::Warning,
            source.key(&latency_path).or(Some(parent_source.mark)),
            &latency_path,
            format!(
                "the children of this {} never fit in it: those always present take {} together \
                 (each at its median latency and minimum count, one after another), more than its \
                 99th percentile {}",
                label(parent),
                ms(mandatory),
                ms(limit)
            ),
            Some("raise this step's latency or shorten its children".into()),
        );
    }
}

/// What a message calls a step: its span type, or a generic step's name in quotes.
fn label(step: &Step) -> String {
    match &step.generic {
        Some(g) => format!("\"{}\"", g.name),
        None => step.span_type.to_string(),
    }
}

fn min_count(step: &Step) -> u32 {
    match &step.count {
        crate::scenario::Count::Fixed(n) => *n,
        crate::scenario::Count::Uniform { min, .. }
        | crate::scenario::Count::Distribution { min, .. } => *min,
    }
}

/// How many distinct values attribute `key` drawn from `d` takes in [`CARDINALITY_DRAWS`] draws,
/// as emitted (integers rounded).
pub fn distinct_values(key: &str, d: &Distribution) -> usize {
    if let Distribution::Categorical { values, weights } = d {
        return values
            .iter()
            .zip(weights)
            .filter(|(_, w)| **w > 0.0)
            .count();
    }
    let sampler = Sampler::new(d);
    let integer = is_integer_attribute(key, d);
    let mut rng = Pcg64Mcg::seed_from_u64(LINT_SEED);
    let mut seen: Vec<u64> = (0..CARDINALITY_DRAWS)
        .map(|_| match sampler.draw(&mut rng) {
            crate::generate::Draw::Choice(i) => i as u64,
            crate::generate::Draw::Number(x) if integer => x.round().max(0.0) as i64 as u64,
            crate::generate::Draw::Number(x) => x.to_bits(),
        })
        .collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len()
}

fn cardinality(out: &mut Findings, source: &SourceMap, index: usize, step: &Step) {
    let Some(step_source) = source.steps.get(index) else {
        return;
    };
    let dimensions: Vec<&str> = out
        .context
        .schema
        .metrics
        .iter()
        .flat_map(|m| m.dimensions.iter().map(String::as_str))
        .collect();
    for (attribute, (path, mark)) in step.attributes.iter().zip(&step_source.attributes) {
        let AttributeValue::Sampled(d) = &attribute.value else {
            continue;
        };
        let categorical = matches!(d, Distribution::Categorical { .. });
        let dimension = dimensions.contains(&attribute.key.as_str());
        if !categorical && !dimension {
            continue;
        }
        let distinct = distinct_values(&attribute.key, d);
        if distinct <= HIGH_CARDINALITY {
            continue;
        }
        let amount = if distinct >= CARDINALITY_DRAWS {
            "an unbounded number of distinct values".to_string()
        } else if categorical {
            format!("{distinct} distinct values")
        } else {
            format!("about {distinct} distinct values")
        };
        let message = if dimension {
            let metrics: Vec<&str> = out
                .context
                .schema
                .metrics
                .iter()
                .filter(|m| m.dimensions.contains(&attribute.key))
                .map(|m| m.name.as_str())
                .collect();
            format!(
                "high cardinality: `{}` takes {amount}, and it is a dimension of {}: each value is a separate time series",
                attribute.key,
                metrics.join(", ")
            )
        } else {
            format!(
                "high cardinality: `{}` takes {amount} (more than {HIGH_CARDINALITY}); backends index each value separately",
                attribute.key
            )
        };
        out.push(
            Severity::Warning,
            Some(*mark),
            path,
            message,
            Some(
                "draw from a small categorical set of values, or keep it out of metric dimensions"
                    .into(),
            ),
        );
    }
}

#[cfg(test)]
mod tests;
