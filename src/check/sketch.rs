//! Quantiles of a stream of values in bounded memory, for `check`.
//!
//! [`Quantiles`] keeps every value while its owner allows (so a `check` of ordinary size reports
//! nearest-rank percentiles that are values actually drawn, equal to what a backend computes from
//! the same run), and always feeds a log-bucket histogram beside them. When the owner's budget of
//! kept values runs out, [`Quantiles::forget_values`] drops the values and the histogram answers
//! from then on: each bucket spans a factor γ = (1 + α)/(1 − α) and is read as the value at its
//! geometric centre, so any quantile is within a relative error of α = 0.5% of a value of the
//! right rank (the DDSketch construction). A span duration of 1 ns to 1 day needs about 3,200
//! buckets, 26 KB, however many values arrive.
//!
//! A crate was the alternative: `sketches-ddsketch` is this same structure behind an API without
//! bucket access (which the plot's histogram needs) and t-digest's error is not bounded relative
//! to the value, which is what latency tails need. The histogram here is about 60 lines, with tests.

/// Relative accuracy of the histogram's quantiles.
pub const RELATIVE_ERROR: f64 = 0.005;

/// Values at or below this count as zero (durations are whole nanoseconds: 1e-6 ms and up).
const SMALLEST: f64 = 1e-9;

/// A log-bucket histogram of non-negative values.
#[derive(Clone, Debug, PartialEq)]
struct LogHistogram {
    /// ln γ.
    ln_gamma: f64,
    zeros: u64,
    /// Bucket `first + i` counts values in (γ^(first+i-1), γ^(first+i)].
    first: i32,
    counts: Vec<u64>,
}

impl LogHistogram {
    fn new() -> LogHistogram {
        LogHistogram {
            ln_gamma: ((1.0 + RELATIVE_ERROR) / (1.0 - RELATIVE_ERROR)).ln(),
            zeros: 0,
            first: 0,
            counts: Vec::new(),
        }
    }

    fn add(&mut self, x: f64) {
        if x.is_nan() || x <= SMALLEST {
            self.zeros += 1;
            return;
        }
        let index = (x.ln() / self.ln_gamma).ceil() as i32;
        if self.counts.is_empty() {
            self.first = index;
        }
        if index < self.first {
            let grow = (self.first - index) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.first = index;
        }
        let at = (index - self.first) as usize;
        if at >= self.counts.len() {
            self.counts.resize(at + 1, 0);
        }
        self.counts[at] += 1;
    }

    /// The value bucket `i` stands for: within a factor 1 ± α of everything in it.
    fn value(&self, i: usize) -> f64 {
        let index = self.first + i as i32;
        2.0 * (index as f64 * self.ln_gamma).exp() / (1.0 + self.ln_gamma.exp())
    }

    /// The value of nearest rank `rank` (1-based).
    fn ranked(&self, rank: u64) -> f64 {
        if rank <= self.zeros {
            return 0.0;
        }
        let mut seen = self.zeros;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return self.value(i);
            }
        }
        self.counts
            .len()
            .checked_sub(1)
            .map_or(0.0, |i| self.value(i))
    }
}

/// The values of one quantity: exact while they are kept, sketched once they are not.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantiles {
    /// Every value so far, while kept (sorted by [`Quantiles::sort`]).
    values: Option<Vec<f64>>,
    histogram: LogHistogram,
    count: u64,
    min: f64,
    max: f64,
}

impl Default for Quantiles {
    fn default() -> Self {
        Quantiles {
            values: Some(Vec::new()),
            histogram: LogHistogram::new(),
            count: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl Quantiles {
    pub fn add(&mut self, x: f64) {
        if let Some(values) = &mut self.values {
            values.push(x);
        }
        self.histogram.add(x);
        self.count += 1;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }

    /// Stops keeping values: quantiles come from the histogram from now on.
    pub fn forget_values(&mut self) {
        self.values = None;
    }

    /// Whether quantiles are exact (every value is still kept).
    pub fn exact(&self) -> bool {
        self.values.is_some()
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Sorts the kept values; call once, before reading quantiles.
    pub fn sort(&mut self) {
        if let Some(values) = &mut self.values {
            values.sort_by(f64::total_cmp);
        }
    }

    /// The nearest-rank `q`-quantile: the smallest value with at least `q` of the values at or
    /// below it (0 when there are none). Exact when values are kept (and sorted), else within
    /// [`RELATIVE_ERROR`] of such a value, and never outside the smallest and largest seen.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        if let Some(values) = &self.values {
            return crate::lint::nearest_rank(values, q);
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        self.histogram.ranked(rank).clamp(self.min, self.max)
    }

    /// How many values fall in each of `bins` equal bins from 0 to `high`, and how many beyond.
    pub fn histogram(&self, high: f64, bins: usize) -> (Vec<u64>, u64) {
        let width = high / bins as f64;
        let mut counts = vec![0u64; bins];
        let mut beyond = 0u64;
        let mut put = |v: f64, n: u64| match counts.get_mut((v / width) as usize) {
            Some(c) => *c += n,
            None => beyond += n,
        };
        match &self.values {
            Some(values) => values.iter().for_each(|&v| put(v, 1)),
            None => {
                put(0.0, self.histogram.zeros);
                for (i, &n) in self.histogram.counts.iter().enumerate() {
                    if n > 0 {
                        put(self.histogram.value(i).clamp(self.min, self.max), n);
                    }
                }
            }
        }
        (counts, beyond)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    fn both(values: &[f64]) -> (Quantiles, Quantiles) {
        let mut exact = Quantiles::default();
        let mut sketched = Quantiles::default();
        sketched.forget_values();
        for &v in values {
            exact.add(v);
            sketched.add(v);
        }
        exact.sort();
        (exact, sketched)
    }

    #[test]
    fn sketched_quantiles_are_within_the_stated_relative_error_of_the_exact_ones() {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
        // Log-uniform over ten decades, like latencies from microseconds to hours.
        let values: Vec<f64> = (0..200_000)
            .map(|_| 10f64.powf(rng.random_range(-3.0..7.0)))
            .collect();
        let (exact, sketched) = both(&values);
        assert!(exact.exact() && !sketched.exact());
        for q in [0.001, 0.1, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            let (e, s) = (exact.quantile(q), sketched.quantile(q));
            assert!(
                (s / e - 1.0).abs() <= RELATIVE_ERROR + 1e-12,
                "q {q}: exact {e}, sketched {s}"
            );
        }
        assert!(sketched.histogram.counts.len() < 3000);
    }

    #[test]
    fn zeros_and_empty_sets_have_quantiles_too() {
        let (exact, sketched) = both(&[0.0, 0.0, 0.0, 5.0]);
        for q in [0.5, 0.75] {
            assert_eq!((exact.quantile(q), sketched.quantile(q)), (0.0, 0.0));
        }
        assert!((sketched.quantile(1.0) - 5.0).abs() <= 5.0 * RELATIVE_ERROR);
        assert_eq!(Quantiles::default().quantile(0.5), 0.0);
    }

    #[test]
    fn the_histogram_of_a_sketch_puts_each_value_in_or_next_to_its_bin() {
        let values: Vec<f64> = (1..=1000).map(f64::from).collect();
        let (exact, sketched) = both(&values);
        let (e, e_beyond) = exact.histogram(500.0, 10);
        let (s, s_beyond) = sketched.histogram(500.0, 10);
        assert_eq!((e.iter().sum::<u64>(), e_beyond), (499, 501));
        assert_eq!(s.iter().sum::<u64>() + s_beyond, 1000);
        for (a, b) in e.iter().zip(&s) {
            assert!(a.abs_diff(*b) <= 5, "{e:?} vs {s:?}");
        }
    }
}
