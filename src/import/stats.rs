//! What is measured of each node of the trace tree, in memory that does not grow with the input:
//! quantiles in `check`'s sketch (exact while few, DDSketch-style buckets after), a uniform
//! reservoir of values for fitting shapes, and small capped tables of counts and values.
//!
//! The sketch is `check::sketch::Quantiles` (the same numbers `check` reports, so input and fit
//! are measured alike); the reservoir is Vitter's algorithm R, 20 lines, because the fits need
//! raw values (an EM for a mixture, the empirical fallback) and no crate offers a plain seeded
//! reservoir without pulling a sampling framework.

use super::span::AttrValue;
use crate::check::sketch::Quantiles;
use rand::{RngExt as _, SeedableRng as _};
use rand_pcg::Pcg64Mcg;
use std::collections::BTreeMap;

/// Values kept exact per quantity before the sketch takes over.
const EXACT_BUDGET: u64 = 50_000;
/// Values kept for fitting.
pub const RESERVOIR: usize = 4_000;
/// Distinct values of an attribute tracked before it counts as high-cardinality.
pub const MAX_DISTINCT: usize = 64;

/// Quantiles and a reservoir of one quantity.
#[derive(Clone, Debug)]
pub struct Sample {
    pub quantiles: Quantiles,
    pub reservoir: Vec<f64>,
    rng: Pcg64Mcg,
    pub sum: f64,
}

impl Default for Sample {
    fn default() -> Self {
        Sample {
            quantiles: Quantiles::default(),
            reservoir: Vec::new(),
            rng: Pcg64Mcg::seed_from_u64(0x1f0a_7e11),
            sum: 0.0,
        }
    }
}

impl Sample {
    pub fn add(&mut self, x: f64) {
        self.quantiles.add(x);
        if self.quantiles.count() == EXACT_BUDGET {
            self.quantiles.forget_values();
        }
        self.sum += x;
        let seen = self.quantiles.count() as usize;
        if self.reservoir.len() < RESERVOIR {
            self.reservoir.push(x);
        } else {
            let j = self.rng.random_range(0..seen);
            if j < RESERVOIR {
                self.reservoir[j] = x;
            }
        }
    }

    pub fn count(&self) -> u64 {
        self.quantiles.count()
    }

    pub fn mean(&self) -> f64 {
        if self.count() == 0 {
            0.0
        } else {
            self.sum / self.count() as f64
        }
    }

    /// p50, p95, p99 (sorts the kept values first).
    pub fn percentiles(&mut self) -> [f64; 3] {
        self.quantiles.sort();
        [0.5, 0.95, 0.99].map(|q| self.quantiles.quantile(q))
    }
}

/// The values one attribute key took on the spans of a node.
#[derive(Clone, Debug, Default)]
pub struct AttrStats {
    /// Spans that had the key.
    pub present: u64,
    /// Value text → (value, times), while at most [`MAX_DISTINCT`] values were seen.
    pub values: BTreeMap<String, (AttrValue, u64)>,
    /// More than [`MAX_DISTINCT`] distinct values were seen.
    pub overflow: bool,
    /// Every value so far was a number.
    pub numeric: bool,
    /// Every number so far was an integer.
    pub integer: bool,
    pub numbers: Sample,
}

impl AttrStats {
    pub fn add(&mut self, value: &AttrValue) {
        if self.present == 0 {
            self.numeric = value.number().is_some();
            self.integer = matches!(value, AttrValue::Int(_));
        }
        self.present += 1;
        match value.number() {
            Some(x) => {
                self.numbers.add(x);
                self.integer &= matches!(value, AttrValue::Int(_));
            }
            None => self.numeric = false,
        }
        if self.overflow {
            return;
        }
        let text = match value {
            AttrValue::Str(s) | AttrValue::Other(s) => s.clone(),
            AttrValue::Int(i) => i.to_string(),
            AttrValue::Double(d) => d.to_string(),
            AttrValue::Bool(b) => b.to_string(),
        };
        if let Some(entry) = self.values.get_mut(&text) {
            entry.1 += 1;
        } else if self.values.len() < MAX_DISTINCT {
            self.values.insert(text, (value.clone(), 1));
        } else {
            self.overflow = true;
            self.values.clear();
        }
    }
}

/// Failures of a call's first attempt, by what happened around it (for propagation).
#[derive(Clone, Copy, Debug, Default)]
pub struct Outcomes {
    pub calls: u64,
    pub failed: u64,
}

impl Outcomes {
    pub fn add(&mut self, failed: bool) {
        self.calls += 1;
        self.failed += u64::from(failed);
    }

    pub fn rate(&self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            self.failed as f64 / self.calls as f64
        }
    }
}

/// Retry sequences of a node: attempts, outcomes per attempt, gaps, which types were retried.
#[derive(Clone, Debug, Default)]
pub struct RetryStats {
    /// `attempts[k]`: sequences that took k+1 attempts.
    pub attempts: Vec<u64>,
    /// `reached[k]`, `succeeded[k]`: attempt k+1 was made, and succeeded.
    pub reached: Vec<u64>,
    pub succeeded: Vec<u64>,
    /// Gap before attempt k+2, in ms (index k).
    pub gaps: Vec<Sample>,
    /// Error types of failed attempts that were retried, and of those that ended a sequence early.
    pub retried: BTreeMap<String, u64>,
    pub final_types: BTreeMap<String, u64>,
}

impl RetryStats {
    pub fn sequences(&self) -> u64 {
        self.attempts.iter().sum()
    }

    pub fn most_attempts(&self) -> usize {
        self.attempts
            .iter()
            .rposition(|n| *n > 0)
            .map_or(1, |k| k + 1)
    }
}

pub fn bump<K: Ord>(map: &mut BTreeMap<K, u64>, key: K) {
    *map.entry(key).or_default() += 1;
}

pub fn bump_at(v: &mut Vec<u64>, k: usize) {
    if v.len() <= k {
        v.resize(k + 1, 0);
    }
    v[k] += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reservoir_stays_bounded_and_uniform() {
        let mut s = Sample::default();
        for i in 0..100_000 {
            s.add(f64::from(i));
        }
        assert_eq!(s.reservoir.len(), RESERVOIR);
        let mean = s.reservoir.iter().sum::<f64>() / RESERVOIR as f64;
        // Uniform on 0..100000: mean 50000, sd of the mean 28868/sqrt(4000) = 456.
        assert!((mean - 50_000.0).abs() < 5.0 * 456.0, "{mean}");
        let [p50, _, p99] = s.percentiles();
        assert!((p50 - 50_000.0).abs() < 500.0 && (p99 - 99_000.0).abs() < 1000.0);
    }

    #[test]
    fn attribute_values_overflow_to_high_cardinality() {
        let mut a = AttrStats::default();
        for i in 0..100 {
            a.add(&AttrValue::Str(format!("id-{i}")));
        }
        assert!(a.overflow && a.values.is_empty() && !a.numeric);
        let mut b = AttrStats::default();
        b.add(&AttrValue::Int(3));
        b.add(&AttrValue::Double(2.5));
        assert!(b.numeric && !b.integer);
    }
}
