//! The typed scenario: what a YAML file means once it has been read and checked.
//!
//! These types are plain data with every default already applied and every alias resolved, so
//! the generator never sees the original format's shorthands (`latency: 250`, `count: {min, max}`,
//! `span_type`). They know nothing of OTLP or random numbers: sampling machinery is built from them
//! once, by the plan compiler, rather than living here, so the model stays easy to print, compare
//! and document.

use super::span_type::SpanType;

#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The lookup name: the file stem.
    pub name: String,
    /// The `name:` written inside the file (display only, as in the original).
    pub display_name: String,
    pub description: String,
    pub tags: Vec<String>,
    pub repeat_count: u64,
    pub interval_ms: f64,
    pub emit_metrics: bool,
    pub emit_logs: bool,
    /// Share of this scenario in a mixed `run` workload.
    pub weight: f64,
    /// How the rate of a run of this scenario varies over time.
    pub traffic: Option<super::Pattern>,
    pub root: Step,
    /// The services the trace crosses (`services:`); empty: one, the configured service.
    pub services: Vec<super::Service>,
    /// The `models:` map: timing and prices over the bundled table (empty: the table's).
    pub models: Vec<super::ModelSpec>,
    /// Multi-turn conversations: each trace is a turn of a session (`session:`).
    pub session: Option<super::Session>,
}

/// One step of the trace tree: a span type and how its instances are drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub span_type: SpanType,
    pub latency: Latency,
    pub error: ErrorModel,
    /// Chance that this child appears at all in a trace.
    pub probability: f64,
    pub count: Count,
    pub retry: Option<Retry>,
    pub attributes: Vec<Attribute>,
    pub children: Vec<Step>,
    /// The declared service this step runs in (`service:`); `None`: its parent's.
    pub service: Option<String>,
    /// A call into another service (`remote:`): this step's span is its CLIENT span.
    pub remote: Option<super::Remote>,
    /// The `llm:` block of an LLM call step.
    pub llm: Option<super::LlmStep>,
    /// The LLM failures of an LLM call step (`failures:`), with their consequences in the tree.
    pub failures: Option<super::Failures>,
    /// For a generic step (`span_type` [`SpanType::Generic`]): its name, kind and convention.
    pub generic: Option<super::Generic>,
    /// Its id, links and whether its children run in parallel.
    pub wiring: super::Wiring,
    /// Evaluations of each span of this step (`evaluations:`).
    pub evaluations: Vec<super::Evaluation>,
}

impl Step {
    /// This step and every step below it, in pre-order (a step before its children, children in
    /// order): the order of [`super::SourceMap::steps`].
    pub fn walk(&self) -> Vec<&Step> {
        fn visit<'s>(step: &'s Step, out: &mut Vec<&'s Step>) {
            out.push(step);
            for child in &step.children {
                visit(child, out);
            }
        }
        let mut out = Vec::new();
        visit(self, &mut out);
        out
    }
}

/// A span's whole duration, in milliseconds.
#[derive(Clone, Debug, PartialEq)]
pub enum Latency {
    /// The original's default model: `mean·(1+N(0,variance))`, with an occasional spike.
    Jitter(Jitter),
    Distribution(Distribution),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Jitter {
    pub mean_ms: f64,
    pub variance: f64,
    pub spike_rate: f64,
    pub spike_multiplier: f64,
}

impl Default for Jitter {
    fn default() -> Self {
        Jitter {
            mean_ms: 100.0,
            variance: 0.3,
            spike_rate: 0.05,
            spike_multiplier: 3.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ErrorModel {
    pub rate: f64,
    /// Error types with their weights (never empty).
    pub types: Vec<(String, f64)>,
    pub retryable_types: Vec<String>,
    pub propagation: Option<Propagation>,
}

/// The original's seven error types and their weights.
pub const BUILTIN_ERROR_TYPES: [(&str, f64); 7] = [
    ("timeout", 0.30),
    ("validation", 0.15),
    ("upstream_5xx", 0.25),
    ("rate_limit", 0.10),
    ("auth_failure", 0.05),
    ("not_found", 0.05),
    ("internal_error", 0.10),
];

pub const DEFAULT_RETRYABLE_TYPES: [&str; 3] = ["timeout", "upstream_5xx", "rate_limit"];

/// Error rate of a step that has no `error` key, as in the original.
pub const DEFAULT_ERROR_RATE: f64 = 0.02;

impl ErrorModel {
    pub fn with_rate(rate: f64) -> Self {
        ErrorModel {
            rate,
            types: BUILTIN_ERROR_TYPES
                .iter()
                .map(|(t, w)| (t.to_string(), *w))
                .collect(),
            retryable_types: DEFAULT_RETRYABLE_TYPES.map(String::from).to_vec(),
            propagation: None,
        }
    }
}

impl Default for ErrorModel {
    fn default() -> Self {
        ErrorModel::with_rate(DEFAULT_ERROR_RATE)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Propagation {
    pub from_parent: f64,
    pub cascade_to_siblings: f64,
}

impl Default for Propagation {
    fn default() -> Self {
        Propagation {
            from_parent: 0.8,
            cascade_to_siblings: 0.3,
        }
    }
}

/// How many instances of a step appear (each after the other).
#[derive(Clone, Debug, PartialEq)]
pub enum Count {
    Fixed(u32),
    Uniform {
        min: u32,
        max: u32,
    },
    Distribution {
        min: u32,
        max: u32,
        distribution: Distribution,
    },
}

impl Count {
    /// The most instances a draw can give.
    pub fn max(&self) -> u32 {
        match self {
            Count::Fixed(n) => *n,
            Count::Uniform { max, .. } | Count::Distribution { max, .. } => *max,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Retry {
    pub max_attempts: u32,
    pub force_initial_failure: bool,
    pub backoff_base_ms: f64,
    pub backoff_multiplier: f64,
    pub backoff_jitter: f64,
    pub success_rate_per_attempt: Vec<f64>,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            max_attempts: 3,
            force_initial_failure: false,
            backoff_base_ms: 100.0,
            backoff_multiplier: 2.0,
            backoff_jitter: 0.2,
            success_rate_per_attempt: vec![0.0, 0.7, 0.85, 0.95],
        }
    }
}

impl Retry {
    /// Chance that attempt `k` (1-based, k ≥ 2) succeeds: element `k-1`, the last one beyond the list.
    pub fn success_rate(&self, attempt: u32) -> f64 {
        let rates = &self.success_rate_per_attempt;
        let index = (attempt as usize).saturating_sub(1);
        rates
            .get(index)
            .or_else(|| rates.last())
            .copied()
            .unwrap_or(0.0)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    /// The key, already prefix-normalised.
    pub key: String,
    pub value: AttributeValue,
}

#[derive(Clone, Debug, PartialEq)]
pub enum AttributeValue {
    Constant(Literal),
    Sampled(Distribution),
}

/// A constant value written in a scenario (defined below the model, so the encoder can read it).
pub use crate::value::Literal;

/// A probability distribution, as written; the plan compiles it into a sampler.
#[derive(Clone, Debug, PartialEq)]
pub enum Distribution {
    Normal {
        mean: f64,
        stddev: f64,
    },
    LogNormal {
        median: f64,
        sigma: f64,
    },
    Exponential {
        mean: f64,
    },
    Uniform {
        low: f64,
        high: f64,
    },
    Poisson {
        lambda: f64,
    },
    Geometric {
        p: f64,
    },
    Categorical {
        values: Vec<Literal>,
        weights: Vec<f64>,
    },
    Bernoulli {
        p: f64,
    },
    Mixture {
        components: Vec<(f64, Distribution)>,
    },
}

impl Distribution {
    /// Whether every value it can produce is a number.
    pub fn is_numeric(&self) -> bool {
        match self {
            Distribution::Categorical { values, .. } => values.iter().all(|v| v.as_f64().is_some()),
            Distribution::Mixture { components } => components.iter().all(|(_, d)| d.is_numeric()),
            _ => true,
        }
    }

    /// Whether every value it can produce is a whole number (counts, flags).
    pub fn is_integer_valued(&self) -> bool {
        match self {
            Distribution::Poisson { .. }
            | Distribution::Geometric { .. }
            | Distribution::Bernoulli { .. } => true,
            Distribution::Categorical { values, .. } => {
                values.iter().all(|v| matches!(v, Literal::Int(_)))
            }
            Distribution::Mixture { components } => {
                components.iter().all(|(_, d)| d.is_integer_valued())
            }
            _ => false,
        }
    }

    /// The distribution's mean, where it has a closed form (used by `check` and tests).
    pub fn mean(&self) -> Option<f64> {
        Some(match self {
            Distribution::Normal { mean, .. } | Distribution::Exponential { mean } => *mean,
            Distribution::LogNormal { median, sigma } => median * (sigma * sigma / 2.0).exp(),
            Distribution::Uniform { low, high } => (low + high) / 2.0,
            Distribution::Poisson { lambda } => *lambda,
            Distribution::Geometric { p } => 1.0 / p,
            Distribution::Bernoulli { p } => *p,
            Distribution::Categorical { values, weights } => {
                let total: f64 = weights.iter().sum();
                values
                    .iter()
                    .zip(weights)
                    .map(|(v, w)| v.as_f64().map(|x| x * w / total))
                    .sum::<Option<f64>>()?
            }
            Distribution::Mixture { components } => {
                let total: f64 = components.iter().map(|(w, _)| w).sum();
                components
                    .iter()
                    .map(|(w, d)| d.mean().map(|m| m * w / total))
                    .sum::<Option<f64>>()?
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_rate_uses_the_attempts_own_element() {
        let retry = Retry {
            success_rate_per_attempt: vec![0.0, 0.75, 0.92],
            ..Retry::default()
        };
        assert_eq!(retry.success_rate(2), 0.75);
        assert_eq!(retry.success_rate(3), 0.92);
        assert_eq!(retry.success_rate(9), 0.92);
    }

    #[test]
    fn closed_form_means() {
        let d = Distribution::Mixture {
            components: vec![
                (
                    3.0,
                    Distribution::Uniform {
                        low: 0.0,
                        high: 2.0,
                    },
                ),
                (1.0, Distribution::Poisson { lambda: 5.0 }),
            ],
        };
        assert!((d.mean().unwrap() - 2.0).abs() < 1e-12);
    }
}
