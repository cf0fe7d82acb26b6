//! Measured statistics to scenario parameters, each with how well it fits.
//!
//! Latency: a log-normal from the quantiles (median = p50, sigma from p95 and p99); when that
//! misses a quantile by more than [`TOLERANCE`], a two-component log-normal mixture by EM on the
//! reservoir's logarithms (bimodal data); when that misses too, the empirical distribution as a
//! mixture of uniforms between the reservoir's quantiles (the format's `mixture` of `uniform`s
//! is a piecewise-linear CDF, so nothing new is needed in the generator). Counts: fixed, Poisson,
//! geometric or categorical, the one of least AIC. Closed forms and a 60-step golden-section
//! search rather than an optimisation crate: each fit has one or two parameters.

use super::stats::{Outcomes, RetryStats, Sample};
use std::collections::BTreeMap;

/// A fit whose worst relative quantile error exceeds this tries the next model.
pub const TOLERANCE: f64 = 0.05;
const Z95: f64 = 1.644_853_6;
const Z99: f64 = 2.326_347_9;

#[derive(Clone, Debug, PartialEq)]
pub enum Latency {
    Zero,
    LogNormal {
        median: f64,
        sigma: f64,
    },
    /// (weight, median, sigma) per component.
    Mixture(Vec<(f64, f64, f64)>),
    /// (weight, low, high) per bin.
    Empirical(Vec<(f64, f64, f64)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct LatencyFit {
    pub latency: Latency,
    pub observed: [f64; 3],
    /// Relative error of the fit at p50, p95, p99.
    pub errors: [f64; 3],
    pub samples: u64,
}

fn rel(fit: f64, seen: f64) -> f64 {
    if seen.abs() < 1e-9 {
        (fit - seen).abs()
    } else {
        (fit - seen).abs() / seen.abs()
    }
}

fn errors_of(fitted: [f64; 3], observed: [f64; 3]) -> [f64; 3] {
    [0, 1, 2].map(|i| rel(fitted[i], observed[i]))
}

fn worst(e: [f64; 3]) -> f64 {
    e.into_iter().fold(0.0, f64::max)
}

/// Φ, the standard normal CDF (Abramowitz–Stegun 7.1.26, error below 1.5e-7).
pub fn phi(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs() / std::f64::consts::SQRT_2);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-(x * x) / 2.0).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// The `q`-quantile of a CDF on (0, ∞), by bisection.
fn invert(cdf: &dyn Fn(f64) -> f64, q: f64, high: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, high.max(1e-9) * 4.0);
    while cdf(hi) < q && hi < 1e12 {
        hi *= 2.0;
    }
    for _ in 0..80 {
        let mid = 0.5 * (lo + hi);
        if cdf(mid) < q { lo = mid } else { hi = mid }
    }
    0.5 * (lo + hi)
}

/// A log-normal latency L for spans stretched to contain their children: the duration seen is
/// max(L, C) with C what the children needed, so its CDF is F_L·F_C (taken as independent), and
/// (μ, σ) are searched to match the observed quantiles of the duration. `None` when few spans
/// were stretched (the plain fit is then unbiased) or the match misses by more than [`TOLERANCE`].
pub fn stretched_latency(
    sample: &mut Sample,
    needed: &Sample,
    stretched: u64,
) -> Option<LatencyFit> {
    if (stretched as f64) < 0.01 * sample.count() as f64 || needed.reservoir.is_empty() {
        return None;
    }
    let mut c = needed.reservoir.clone();
    c.sort_by(f64::total_cmp);
    let f_c = |x: f64| c.partition_point(|v| *v <= x) as f64 / c.len() as f64;
    sample.quantiles.sort();
    let qs = [0.25, 0.5, 0.75, 0.95, 0.99];
    let seen = qs.map(|q| sample.quantiles.quantile(q).max(1e-6));
    let high = seen[4] * 4.0;
    let model = |mu: f64, sigma: f64, q: f64| {
        let cdf = |x: f64| {
            if x <= 0.0 {
                0.0
            } else {
                phi((x.ln() - mu) / sigma) * f_c(x)
            }
        };
        invert(&cdf, q, high)
    };
    let loss = |mu: f64, sigma: f64| {
        qs.iter()
            .zip(seen)
            .map(|(&q, o)| (model(mu, sigma, q).max(1e-9).ln() - o.ln()).powi(2))
            .sum::<f64>()
    };
    let mu0 = seen[1].ln();
    let (mut mu, mut sigma) = (mu0, ((seen[3] / seen[1]).ln() / Z95).clamp(0.05, 3.0));
    for _ in 0..4 {
        mu = golden(|m| loss(m, sigma), mu0 - 2.0, mu0 + 0.5);
        sigma = golden(|s| loss(mu, s), 0.01, 3.0);
    }
    let fitted = [0.5, 0.95, 0.99].map(|q| model(mu, sigma, q));
    let observed = [seen[1], seen[3], seen[4]];
    let fit = LatencyFit {
        latency: Latency::LogNormal {
            median: mu.exp(),
            sigma,
        },
        observed,
        errors: errors_of(fitted, observed),
        samples: sample.count(),
    };
    if worst(fit.errors) <= TOLERANCE {
        return Some(fit);
    }
    Some(stretched_empirical(sample, &c, observed))
}

/// The empirical latency under stretching: F_L = F_D / F_C (made monotone) on the durations
/// seen, as uniform bins between its quantiles; its error is that of F_L·F_C against F_D.
fn stretched_empirical(sample: &Sample, c: &[f64], observed: [f64; 3]) -> LatencyFit {
    let mut d = sample.reservoir.clone();
    d.sort_by(f64::total_cmp);
    let f_c = |x: f64| c.partition_point(|v| *v <= x) as f64 / c.len() as f64;
    let mut f_l = Vec::with_capacity(d.len());
    let mut running: f64 = 0.0;
    for (i, &x) in d.iter().enumerate() {
        let fc = f_c(x);
        let fd = (i + 1) as f64 / d.len() as f64;
        if fc > 0.0 {
            running = running.max((fd / fc).min(1.0));
        }
        f_l.push(running);
    }
    let at = |q: f64| {
        let i = f_l.partition_point(|f| *f < q).min(d.len() - 1);
        d[i]
    };
    let qs = [
        0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 1.0,
    ];
    let bins: Vec<(f64, f64, f64)> = qs
        .windows(2)
        .map(|w| (w[1] - w[0], at(f64::max(w[0], 1e-9)), at(w[1])))
        .collect();
    let cdf_l = |x: f64| {
        bins.iter()
            .map(|&(w, lo, hi)| {
                w * if hi > lo {
                    ((x - lo) / (hi - lo)).clamp(0.0, 1.0)
                } else {
                    f64::from(u8::from(x >= lo))
                }
            })
            .sum::<f64>()
    };
    let cdf = |x: f64| cdf_l(x) * f_c(x);
    let fitted = [0.5, 0.95, 0.99].map(|q| invert(&cdf, q, observed[2]));
    LatencyFit {
        latency: Latency::Empirical(bins),
        observed,
        errors: errors_of(fitted, observed),
        samples: sample.count(),
    }
}

pub fn latency(sample: &mut Sample) -> LatencyFit {
    let observed = sample.percentiles();
    let samples = sample.count();
    let done = |latency, fitted: [f64; 3]| LatencyFit {
        latency,
        observed,
        errors: errors_of(fitted, observed),
        samples,
    };
    if observed[2] <= 1e-6 {
        return done(Latency::Zero, [0.0; 3]);
    }
    let median = observed[0].max(1e-6);
    let s95 = (observed[1] / median).ln() / Z95;
    let s99 = (observed[2] / median).ln() / Z99;
    let sigma = (0.5 * (s95 + s99)).clamp(0.0, 5.0);
    let lognormal = [
        median,
        median * (sigma * Z95).exp(),
        median * (sigma * Z99).exp(),
    ];
    let first = done(Latency::LogNormal { median, sigma }, lognormal);
    if worst(first.errors) <= TOLERANCE {
        return first;
    }
    let values = &sample.reservoir;
    if let Some(components) = em(values) {
        let cdf = |x: f64| {
            components
                .iter()
                .map(|&(w, m, s)| w * phi((x / m).ln() / s))
                .sum::<f64>()
        };
        let fitted = [0.5, 0.95, 0.99].map(|q| invert(&cdf, q, observed[2]));
        let mixture = done(Latency::Mixture(components), fitted);
        if worst(mixture.errors) <= TOLERANCE {
            return mixture;
        }
    }
    let bins = empirical(values);
    let cdf = |x: f64| {
        bins.iter()
            .map(|&(w, lo, hi)| {
                w * if hi > lo {
                    ((x - lo) / (hi - lo)).clamp(0.0, 1.0)
                } else {
                    f64::from(u8::from(x >= lo))
                }
            })
            .sum::<f64>()
    };
    let fitted = [0.5, 0.95, 0.99].map(|q| invert(&cdf, q, observed[2]));
    done(Latency::Empirical(bins), fitted)
}

/// Uniform bins between the values' quantiles, finer in the tail.
fn empirical(values: &[f64]) -> Vec<(f64, f64, f64)> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at =
        |q: f64| sorted[((q * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1)];
    let qs = [
        0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 1.0,
    ];
    qs.windows(2)
        .map(|w| (w[1] - w[0], at(w[0]), at(w[1])))
        .collect()
}

/// Two log-normal components by EM on the logarithms; `None` if the data are not bimodal enough
/// to separate (a component under 3% or the means within one sigma).
fn em(values: &[f64]) -> Option<Vec<(f64, f64, f64)>> {
    let logs: Vec<f64> = values
        .iter()
        .filter(|v| **v > 0.0)
        .map(|v| v.ln())
        .collect();
    if logs.len() < 50 {
        return None;
    }
    let mut sorted = logs.clone();
    sorted.sort_by(f64::total_cmp);
    let q = |p: f64| sorted[(p * (sorted.len() - 1) as f64) as usize];
    let spread = ((q(0.75) - q(0.25)) / 4.0).max(1e-3);
    let mut c = [(0.5, q(0.2), spread), (0.5, q(0.8), spread)];
    let density =
        |x: f64, (w, m, s): (f64, f64, f64)| w / s * (-(x - m).powi(2) / (2.0 * s * s)).exp();
    for _ in 0..100 {
        let mut acc = [(0.0, 0.0, 0.0); 2];
        for &x in &logs {
            let (a, b) = (density(x, c[0]), density(x, c[1]));
            let r = if a + b > 0.0 { a / (a + b) } else { 0.5 };
            for (k, r) in [(0, r), (1, 1.0 - r)] {
                acc[k].0 += r;
                acc[k].1 += r * x;
                acc[k].2 += r * x * x;
            }
        }
        for k in 0..2 {
            let n = acc[k].0.max(1e-9);
            let mean = acc[k].1 / n;
            let var = (acc[k].2 / n - mean * mean).max(1e-6);
            c[k] = (n / logs.len() as f64, mean, var.sqrt());
        }
    }
    let separated = (c[0].1 - c[1].1).abs() > c[0].2.max(c[1].2);
    (c.iter().all(|k| k.0 > 0.03) && separated)
        .then(|| c.iter().map(|&(w, m, s)| (w, m.exp(), s)).collect())
}

#[derive(Clone, Debug, PartialEq)]
pub enum Count {
    Fixed(u64),
    Poisson { lambda: f64, min: u64, max: u64 },
    Geometric { p: f64, min: u64, max: u64 },
    Categorical(Vec<(u64, f64)>),
}

/// The probability of appearing and the count when present, from calls per parent instance.
pub fn count(table: &BTreeMap<u64, u64>) -> (f64, Count) {
    let total: u64 = table.values().sum();
    let present: BTreeMap<u64, u64> = table
        .iter()
        .filter(|(k, _)| **k > 0)
        .map(|(k, v)| (*k, *v))
        .collect();
    let n: u64 = present.values().sum();
    let probability = if total == 0 {
        0.0
    } else {
        n as f64 / total as f64
    };
    let (Some((&min, _)), Some((&max, _))) = (present.first_key_value(), present.last_key_value())
    else {
        return (probability, Count::Fixed(1));
    };
    if min == max {
        return (probability, Count::Fixed(min));
    }
    let loglik = |pmf: &dyn Fn(u64) -> f64| -> f64 {
        present
            .iter()
            .map(|(&k, &c)| c as f64 * pmf(k).max(1e-300).ln())
            .sum()
    };
    let mean = present.iter().map(|(k, c)| (*k * *c) as f64).sum::<f64>() / n as f64;
    let clamped = |pmf: &dyn Fn(u64) -> f64, k: u64| -> f64 {
        if k == min {
            (0..=min).map(pmf).sum()
        } else if k == max {
            1.0 - (0..max).map(pmf).sum::<f64>()
        } else {
            pmf(k)
        }
    };
    let poisson_pmf = |l: f64| move |k: u64| (-l + k as f64 * l.ln() - ln_factorial(k)).exp();
    let lambda = golden(
        |l| -loglik(&|k| clamped(&poisson_pmf(l), k)),
        0.01,
        4.0 * mean + 1.0,
    );
    let geometric_pmf = |p: f64| {
        move |k: u64| {
            if k == 0 {
                0.0
            } else {
                (1.0 - p).powi(k as i32 - 1) * p
            }
        }
    };
    let p = golden(
        |p| -loglik(&|k| clamped(&geometric_pmf(p), k)),
        0.001,
        0.999,
    );
    let categories = present.len() as f64;
    let candidates = [
        (
            2.0 - 2.0 * loglik(&|k| clamped(&poisson_pmf(lambda), k)),
            Count::Poisson { lambda, min, max },
        ),
        (
            2.0 - 2.0 * loglik(&|k| clamped(&geometric_pmf(p), k)),
            Count::Geometric { p, min, max },
        ),
        (
            2.0 * (categories - 1.0)
                - 2.0 * loglik(&|k| present.get(&k).map_or(0.0, |c| *c as f64 / n as f64)),
            Count::Categorical(
                present
                    .iter()
                    .map(|(k, c)| (*k, *c as f64 / n as f64))
                    .collect(),
            ),
        ),
    ];
    let best = candidates
        .into_iter()
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|c| c.1)
        .unwrap_or(Count::Fixed(min));
    (probability, best)
}

fn ln_factorial(k: u64) -> f64 {
    (1..=k).map(|i| (i as f64).ln()).sum()
}

/// The minimum of a unimodal function on [lo, hi].
fn golden(f: impl Fn(f64) -> f64, mut lo: f64, mut hi: f64) -> f64 {
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..60 {
        let (a, b) = (hi - g * (hi - lo), lo + g * (hi - lo));
        if f(a) < f(b) { hi = b } else { lo = a }
    }
    0.5 * (lo + hi)
}

#[derive(Clone, Debug, PartialEq)]
pub struct ErrorFit {
    pub rate: f64,
    pub types: Vec<(String, f64)>,
    /// (from_parent, cascade_to_siblings), when failures follow the parent's or a sibling's.
    pub propagation: Option<(f64, f64)>,
    pub calls: u64,
}

/// The excess failure probability `(q - rate) / (1 - rate)` when `q` is clearly above `rate`.
fn excess(o: Outcomes, rate: f64) -> Option<f64> {
    if o.calls < 20 {
        return None;
    }
    let q = o.rate();
    let se = (rate.max(0.01) * (1.0 - rate) / o.calls as f64).sqrt();
    (q > rate + 4.0 * se + 0.02).then(|| ((q - rate) / (1.0 - rate)).clamp(0.0, 1.0))
}

pub fn errors(
    plain: Outcomes,
    parent: Outcomes,
    sibling: Outcomes,
    types: &BTreeMap<String, u64>,
) -> ErrorFit {
    let rate = if plain.calls > 0 {
        plain.rate()
    } else {
        let all = Outcomes {
            calls: plain.calls + parent.calls + sibling.calls,
            failed: plain.failed + parent.failed + sibling.failed,
        };
        all.rate()
    };
    let fp = excess(parent, rate);
    let cs = excess(sibling, rate);
    let total: u64 = types.values().sum();
    let mut types: Vec<(String, f64)> = types
        .iter()
        .map(|(k, v)| (k.clone(), *v as f64 / total.max(1) as f64))
        .collect();
    types.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ErrorFit {
        rate,
        types,
        propagation: (fp.is_some() || cs.is_some()).then(|| (fp.unwrap_or(0.0), cs.unwrap_or(0.0))),
        calls: plain.calls + parent.calls + sibling.calls,
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct RetryFit {
    pub max_attempts: usize,
    pub force_initial_failure: bool,
    /// Success rate of attempt k at index k-1 (index 0 unused by the generator).
    pub success: Vec<f64>,
    pub base_ms: f64,
    pub multiplier: f64,
    pub jitter: f64,
    pub retryable: Vec<String>,
    pub sequences: u64,
}

pub fn retry(r: &mut RetryStats) -> Option<RetryFit> {
    let max_attempts = r.most_attempts();
    if max_attempts < 2 {
        return None;
    }
    let success: Vec<f64> = (0..max_attempts)
        .map(|k| r.succeeded[k] as f64 / r.reached[k].max(1) as f64)
        .collect();
    // Failures followed by more failures and never a success: repeated calls, not retries.
    if success[1..].iter().all(|s| *s == 0.0) {
        return None;
    }
    let mean = |k: usize, r: &RetryStats| r.gaps.get(k).map_or(0.0, Sample::mean);
    let base_ms = mean(0, r);
    let multiplier = if r.gaps.get(1).is_some_and(|g| g.count() >= 5) && base_ms > 0.0 {
        mean(1, r) / base_ms
    } else {
        2.0
    };
    // Uniform ±j has a relative standard deviation of j/√3.
    let jitter = r.gaps.first().map_or(0.0, |g| {
        let n = g.reservoir.len().max(1) as f64;
        let m = g.reservoir.iter().sum::<f64>() / n;
        let var = g.reservoir.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n;
        if m > 0.0 {
            (3f64.sqrt() * var.sqrt() / m).clamp(0.0, 1.0)
        } else {
            0.0
        }
    });
    let mut retryable: Vec<String> = r.retried.keys().cloned().collect();
    if retryable.is_empty() {
        retryable.push("timeout".into());
    }
    Some(RetryFit {
        max_attempts,
        force_initial_failure: success[0] == 0.0,
        success,
        base_ms,
        multiplier: multiplier.clamp(0.1, 100.0),
        jitter,
        retryable,
        sequences: r.sequences(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng as _;
    use rand_distr::Distribution as _;

    fn sample_of(values: impl Iterator<Item = f64>) -> Sample {
        let mut s = Sample::default();
        values.for_each(|v| s.add(v));
        s
    }

    #[test]
    fn a_log_normal_is_fitted_within_a_few_percent() {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(1);
        let d = rand_distr::LogNormal::new(200f64.ln(), 0.6).unwrap();
        let mut s = sample_of((0..20_000).map(|_| d.sample(&mut rng)));
        let fit = latency(&mut s);
        let Latency::LogNormal { median, sigma } = fit.latency else {
            panic!("{fit:?}")
        };
        assert!(
            (median / 200.0 - 1.0).abs() < 0.05 && (sigma - 0.6).abs() < 0.05,
            "{median} {sigma}"
        );
        assert!(worst(fit.errors) < 0.05);
    }

    #[test]
    fn bimodal_data_gets_a_mixture_or_the_empirical_fallback_within_tolerance() {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(2);
        let fast = rand_distr::LogNormal::new(20f64.ln(), 0.2).unwrap();
        let slow = rand_distr::LogNormal::new(2000f64.ln(), 0.2).unwrap();
        let mut s = sample_of((0..20_000).map(|i| {
            if i % 3 == 0 {
                slow.sample(&mut rng)
            } else {
                fast.sample(&mut rng)
            }
        }));
        let fit = latency(&mut s);
        assert!(matches!(fit.latency, Latency::Mixture(_)), "{fit:?}");
        assert!(worst(fit.errors) <= TOLERANCE);
    }

    #[test]
    fn counts_pick_the_model_that_generated_them() {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(3);
        let d = rand_distr::Poisson::new(3.0).unwrap();
        let mut table = BTreeMap::new();
        for _ in 0..5000 {
            let k = (d.sample(&mut rng) as u64).clamp(1, 8);
            *table.entry(k).or_insert(0u64) += 1;
        }
        *table.entry(0).or_insert(0) += 5000;
        let (p, c) = count(&table);
        assert!((p - 0.5).abs() < 1e-9);
        let Count::Poisson { lambda, min: 1, .. } = c else {
            panic!("{c:?}")
        };
        assert!((lambda - 3.0).abs() < 0.15, "{lambda}");
        assert_eq!(count(&BTreeMap::from([(2, 10)])), (1.0, Count::Fixed(2)));
    }

    #[test]
    fn propagation_is_found_only_when_failures_follow_the_parent() {
        let plain = Outcomes {
            calls: 1000,
            failed: 30,
        };
        let parent = Outcomes {
            calls: 100,
            failed: 81,
        };
        let fit = errors(plain, parent, Outcomes::default(), &BTreeMap::new());
        let (fp, _) = fit.propagation.unwrap();
        assert!((fp - 0.8).abs() < 0.01, "{fp}");
        let same = Outcomes {
            calls: 100,
            failed: 3,
        };
        assert!(
            errors(plain, same, same, &BTreeMap::new())
                .propagation
                .is_none()
        );
    }
}
