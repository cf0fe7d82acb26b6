//! Distributions compiled into samplers, built once per plan.
//!
//! The model's [`Distribution`] is plain data; here each becomes the matching `rand_distr` sampler
//! with its parameters checked and its constants (log of the median, alias tables) computed ahead,
//! so a draw on the per-span path is only the draw. Categorical draws return an index, so the plan
//! can keep the values themselves (strings, pre-built constants) wherever suits it.

use crate::scenario::Distribution;
use rand::{Rng, RngExt};
use rand_distr::{
    Distribution as _, Exp, Geometric, LogNormal, Normal, Poisson, weighted::WeightedIndex,
};

/// One compiled distribution.
#[derive(Clone, Debug)]
pub enum Sampler {
    Constant(f64),
    Normal(Normal<f64>),
    LogNormal(LogNormal<f64>),
    Exponential(Exp<f64>),
    Uniform {
        low: f64,
        high: f64,
    },
    Poisson(Poisson<f64>),
    /// Trials until the first success (≥ 1); rand's geometric counts failures.
    Geometric(Geometric),
    Categorical {
        index: WeightedIndex<f64>,
        numbers: Vec<Option<f64>>,
    },
    Bernoulli(f64),
    Mixture {
        index: WeightedIndex<f64>,
        components: Vec<Sampler>,
    },
}

/// What a draw produced: a number, or the index of a categorical value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Draw {
    Number(f64),
    Choice(usize),
}

impl Sampler {
    /// Compiles `d`. The loader has already checked every parameter's range, so the fallbacks
    /// below only guard against a model built by hand.
    pub fn new(d: &Distribution) -> Sampler {
        match d {
            Distribution::Normal { mean, stddev } => {
                Normal::new(*mean, *stddev).map_or(Sampler::Constant(*mean), Sampler::Normal)
            }
            Distribution::LogNormal { median, sigma } => LogNormal::new(median.ln(), *sigma)
                .map_or(Sampler::Constant(*median), Sampler::LogNormal),
            Distribution::Exponential { mean } if *mean > 0.0 => {
                Exp::new(1.0 / mean).map_or(Sampler::Constant(*mean), Sampler::Exponential)
            }
            Distribution::Exponential { .. } => Sampler::Constant(0.0),
            Distribution::Uniform { low, high } => Sampler::Uniform {
                low: *low,
                high: *high,
            },
            Distribution::Poisson { lambda } if *lambda > 0.0 => {
                Poisson::new(*lambda).map_or(Sampler::Constant(*lambda), Sampler::Poisson)
            }
            Distribution::Poisson { .. } => Sampler::Constant(0.0),
            Distribution::Geometric { p } => {
                Geometric::new(*p).map_or(Sampler::Constant(1.0), Sampler::Geometric)
            }
            Distribution::Categorical { values, weights } => Sampler::Categorical {
                index: weighted(weights),
                numbers: values.iter().map(|v| v.as_f64()).collect(),
            },
            Distribution::Bernoulli { p } => Sampler::Bernoulli(*p),
            Distribution::Mixture { components } => Sampler::Mixture {
                index: weighted(&components.iter().map(|(w, _)| *w).collect::<Vec<_>>()),
                components: components.iter().map(|(_, d)| Sampler::new(d)).collect(),
            },
        }
    }

    pub fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> Draw {
        match self {
            Sampler::Categorical { index, .. } => Draw::Choice(index.sample(rng)),
            Sampler::Mixture { index, components } => components[index.sample(rng)].draw(rng),
            _ => Draw::Number(self.number(rng)),
        }
    }

    /// A numeric draw; a categorical value that is not a number counts as 0.
    pub fn number<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            Sampler::Constant(x) => *x,
            Sampler::Normal(d) => d.sample(rng),
            Sampler::LogNormal(d) => d.sample(rng),
            Sampler::Exponential(d) => d.sample(rng),
            Sampler::Uniform { low, high } => low + (high - low) * rng.random::<f64>(),
            Sampler::Poisson(d) => d.sample(rng),
            Sampler::Geometric(d) => (d.sample(rng) as f64) + 1.0,
            Sampler::Categorical { index, numbers } => numbers[index.sample(rng)].unwrap_or(0.0),
            Sampler::Bernoulli(p) => {
                if rng.random::<f64>() < *p {
                    1.0
                } else {
                    0.0
                }
            }
            Sampler::Mixture { index, components } => components[index.sample(rng)].number(rng),
        }
    }
}

/// Loader-checked weights (non-negative, positive sum) make this infallible; a single zero weight
/// table falls back to the first entry rather than panic.
fn weighted(weights: &[f64]) -> WeightedIndex<f64> {
    WeightedIndex::new(weights).unwrap_or_else(|_| {
        WeightedIndex::new(
            std::iter::once(1.0).chain(std::iter::repeat_n(0.0, weights.len().saturating_sub(1))),
        )
        .expect("a single positive weight is valid")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Literal;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    fn mean_of(d: &Distribution, n: usize) -> f64 {
        let s = Sampler::new(d);
        let mut rng = Pcg64Mcg::seed_from_u64(7);
        (0..n).map(|_| s.number(&mut rng)).sum::<f64>() / n as f64
    }

    #[test]
    fn sample_means_match_closed_forms() {
        let cases = [
            Distribution::Normal {
                mean: 50.0,
                stddev: 5.0,
            },
            Distribution::LogNormal {
                median: 200.0,
                sigma: 0.5,
            },
            Distribution::Exponential { mean: 30.0 },
            Distribution::Uniform {
                low: 10.0,
                high: 20.0,
            },
            Distribution::Poisson { lambda: 3.5 },
            Distribution::Geometric { p: 0.25 },
            Distribution::Bernoulli { p: 0.3 },
            Distribution::Categorical {
                values: vec![Literal::Int(1), Literal::Int(10)],
                weights: vec![3.0, 1.0],
            },
        ];
        for d in &cases {
            let expected = d.mean().unwrap();
            let got = mean_of(d, 200_000);
            assert!(
                (got - expected).abs() / expected < 0.02,
                "{d:?}: mean {got}, expected {expected}"
            );
        }
    }

    #[test]
    fn categorical_draws_follow_weights() {
        let s = Sampler::new(&Distribution::Categorical {
            values: vec![Literal::Str("a".into()), Literal::Str("b".into())],
            weights: vec![0.8, 0.2],
        });
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        let n = 100_000;
        let firsts = (0..n)
            .filter(|_| s.draw(&mut rng) == Draw::Choice(0))
            .count();
        let p = firsts as f64 / n as f64;
        assert!((p - 0.8).abs() < 0.01, "{p}");
    }

    #[test]
    fn degenerate_parameters_do_not_panic() {
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        for d in [
            Distribution::Poisson { lambda: 0.0 },
            Distribution::Exponential { mean: 0.0 },
            Distribution::Geometric { p: 1.0 },
            Distribution::LogNormal {
                median: 5.0,
                sigma: 0.0,
            },
            Distribution::Normal {
                mean: 5.0,
                stddev: 0.0,
            },
        ] {
            let x = Sampler::new(&d).number(&mut rng);
            assert!(x.is_finite(), "{d:?} gave {x}");
        }
    }
}
