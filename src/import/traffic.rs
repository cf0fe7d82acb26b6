//! The arrival rate and its shape over time: root spans counted per window, fitted to the
//! shapes `traffic` can express (`constant`, `diurnal:PERIOD:AMPLITUDE`,
//! `bursty:PERIOD:DUTY:FACTOR`), the one that explains most of the counts' variance winning when
//! it explains at least half of it.
//!
//! Least squares on a few candidate periods rather than a spectrum (an FFT crate): the windows
//! number in the hundreds, the shapes have one or three parameters, and the answer must be one the
//! scenario format can write. A sinusoid's phase cannot be written (a run starts at phase 0), so
//! only its period and amplitude are kept; the comment gives the measured rates.

use std::collections::BTreeMap;

/// Fewest windows a shape is fitted from.
const MIN_WINDOWS: usize = 12;
/// Share of the counts' variance a shape must explain.
const MIN_EXPLAINED: f64 = 0.5;

#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    Constant,
    Diurnal {
        period_s: f64,
        amplitude: f64,
    },
    Bursty {
        period_s: f64,
        duty: f64,
        factor: f64,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct TrafficFit {
    pub shape: Shape,
    /// The base interval between traces, in ms (the rate the shape's factor multiplies).
    pub interval_ms: f64,
    pub window_s: u64,
    /// Traces per second: mean, least and most over the windows.
    pub rates: [f64; 3],
    /// Share of the variance of the counts the shape explains (0 for constant).
    pub explained: f64,
}

impl TrafficFit {
    /// The `traffic:` value.
    pub fn value(&self) -> String {
        // Whole seconds: a fitted period is never a round number of minutes anyway.
        let dur = |s: f64| format!("{}s", s.round());
        match &self.shape {
            Shape::Constant => "constant".into(),
            Shape::Diurnal {
                period_s,
                amplitude,
            } => format!("diurnal:{}:{:.2}", dur(*period_s), amplitude),
            Shape::Bursty {
                period_s,
                duty,
                factor,
            } => format!("bursty:{}:{:.2}:{:.2}", dur(*period_s), duty, factor),
        }
    }
}

/// Counts per window of `window_s` seconds from `per_second` (second → traces), gaps as zeros.
fn windows(per_second: &BTreeMap<u64, u64>, window_s: u64) -> Vec<f64> {
    let (Some((&first, _)), Some((&last, _))) =
        (per_second.first_key_value(), per_second.last_key_value())
    else {
        return Vec::new();
    };
    let n = ((last - first) / window_s) as usize;
    let mut counts = vec![0.0; n.max(1)];
    for (&s, &c) in per_second {
        // The last partial window is dropped: it would read as a dip.
        if let Some(slot) = counts.get_mut(((s - first) / window_s) as usize) {
            *slot += c as f64;
        }
    }
    counts
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len().max(1) as f64
}

fn variance(x: &[f64]) -> f64 {
    let m = mean(x);
    x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / x.len().max(1) as f64
}

/// The counts' variance beyond what Poisson arrivals at a constant rate would have (their mean):
/// the part a shape can explain.
fn signal(x: &[f64]) -> f64 {
    (variance(x) - mean(x)).max(1e-12)
}

/// The best sinusoid c + a·sin + b·cos over candidate periods: (period in windows, amplitude
/// relative to c, explained share).
fn sinusoid(counts: &[f64]) -> Option<(f64, f64, f64)> {
    let n = counts.len();
    let total = signal(counts) * n as f64;
    let m = mean(counts);
    let mut best: Option<(f64, f64, f64)> = None;
    let mut period = 4.0;
    while period <= n as f64 * 1.5 {
        let w = std::f64::consts::TAU / period;
        // Normal equations of [1, sin, cos], solved by Cramer's rule.
        let (mut s, mut c, mut ss, mut cc, mut sc, mut ys, mut yc) =
            (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        for (i, &y) in counts.iter().enumerate() {
            let (si, ci) = (w * i as f64).sin_cos();
            let y = y - m;
            s += si;
            c += ci;
            ss += si * si;
            cc += ci * ci;
            sc += si * ci;
            ys += y * si;
            yc += y * ci;
        }
        let nn = n as f64;
        // Centre sin and cos too (y is centred).
        let (ss, cc, sc) = (ss - s * s / nn, cc - c * c / nn, sc - s * c / nn);
        let det = ss * cc - sc * sc;
        if det.abs() > 1e-9 {
            let a = (ys * cc - yc * sc) / det;
            let b = (yc * ss - ys * sc) / det;
            let explained = ((a * ys + b * yc) / total).min(1.0);
            if best.is_none_or(|x| explained > x.2) {
                best = Some((period, (a * a + b * b).sqrt() / m.max(1e-12), explained));
            }
        }
        period *= 1.05;
    }
    best
}

/// Two levels (k-means on the counts) and the period of the high windows: (period in windows,
/// duty, factor, explained share).
fn bursts(counts: &[f64]) -> Option<(f64, f64, f64, f64)> {
    let (lo, hi) = counts
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), &x| (l.min(x), h.max(x)));
    let mut t = 0.5 * (lo + hi);
    for _ in 0..50 {
        let (a, b): (Vec<f64>, Vec<f64>) = counts.iter().partition(|&&x| x < t);
        if a.is_empty() || b.is_empty() {
            return None;
        }
        t = 0.5 * (mean(&a) + mean(&b));
    }
    let high: Vec<f64> = counts
        .iter()
        .map(|&x| f64::from(u8::from(x >= t)))
        .collect();
    let (a, b): (Vec<f64>, Vec<f64>) = counts.iter().partition(|&&x| x < t);
    let duty = mean(&high);
    let between = duty * (1.0 - duty) * (mean(&b) - mean(&a)).powi(2);
    let explained = between / signal(counts);
    // The period: the lag (≥ 2 windows) at which the high windows repeat best.
    let n = high.len();
    let centred: Vec<f64> = high.iter().map(|h| h - duty).collect();
    let r: Vec<(usize, f64)> = (2..n / 2)
        .map(|lag| {
            let r: f64 = (0..n - lag).map(|i| centred[i] * centred[i + lag]).sum();
            (lag, r / (n - lag) as f64)
        })
        .collect();
    // The first lag nearly as good as the best: multiples of the period repeat as well.
    let best = r.iter().map(|x| x.1).fold(f64::MIN, f64::max);
    let period = r.iter().find(|x| x.1 >= 0.9 * best)?.0 as f64;
    Some((period, duty, mean(&b) / mean(&a).max(1e-9), explained))
}

/// The rate and its shape from traces counted per second.
pub fn fit(per_second: &BTreeMap<u64, u64>, traces: u64) -> TrafficFit {
    let span_s = match (per_second.first_key_value(), per_second.last_key_value()) {
        (Some((a, _)), Some((b, _))) => (b - a).max(1),
        _ => 1,
    };
    // Windows of at least 30 expected traces (noise under a fifth of the mean), and at least
    // MIN_WINDOWS of them when possible.
    let per_s = traces as f64 / span_s as f64;
    let window_s =
        ((30.0 / per_s.max(1e-9)).ceil() as u64).clamp(1, (span_s / MIN_WINDOWS as u64).max(1));
    let counts = windows(per_second, window_s);
    let w = window_s as f64;
    let m = mean(&counts);
    let (least, most) = counts
        .iter()
        .fold((f64::MAX, 0.0f64), |(l, h), &x| (l.min(x), h.max(x)));
    let mean_interval = if traces > 1 {
        1000.0 * span_s as f64 / (traces - 1) as f64
    } else {
        500.0
    };
    let mut fit = TrafficFit {
        shape: Shape::Constant,
        interval_ms: mean_interval,
        window_s,
        rates: [m / w, least.min(most) / w, most / w],
        explained: 0.0,
    };
    // Poisson counts have variance ≈ mean: no shape to find in that.
    if counts.len() < MIN_WINDOWS || variance(&counts) <= 2.0 * m {
        return fit;
    }
    let sine = sinusoid(&counts).filter(|s| s.2 >= MIN_EXPLAINED && s.1 >= 0.1);
    let burst = bursts(&counts)
        .map(|(p, d, f, e)| (p, d, f, e.min(1.0)))
        .filter(|b| b.3 >= MIN_EXPLAINED && b.2 >= 1.5 && b.1 < 0.5);
    match (sine, burst) {
        (Some((p, a, e)), b) if b.is_none_or(|b| e >= b.3) => {
            fit.shape = Shape::Diurnal {
                period_s: p * w,
                amplitude: a.min(1.0),
            };
            fit.explained = e;
        }
        (_, Some((p, duty, factor, e))) => {
            // The base rate is the low level: the factor multiplies it in the bursts.
            let low = m / (duty * factor + 1.0 - duty);
            fit.interval_ms = 1000.0 * w / low.max(1e-9);
            fit.shape = Shape::Bursty {
                period_s: p * w,
                duty,
                factor,
            };
            fit.explained = e;
        }
        _ => {}
    }
    fit
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Poisson};

    /// Traces per second drawn as Poisson counts of `rate(t)` over `seconds`.
    fn arrivals(seconds: u64, rate: impl Fn(f64) -> f64) -> (BTreeMap<u64, u64>, u64) {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(5);
        let mut m = BTreeMap::new();
        let mut total = 0;
        for s in 0..seconds {
            let n = Poisson::new(rate(s as f64)).unwrap().sample(&mut rng) as u64;
            if n > 0 || s == 0 || s == seconds - 1 {
                m.insert(1_000_000 + s, n);
                total += n;
            }
        }
        (m, total)
    }

    #[test]
    fn a_steady_rate_is_constant() {
        let (m, n) = arrivals(3600, |_| 2.0);
        let f = fit(&m, n);
        assert_eq!(f.shape, Shape::Constant);
        assert!((f.interval_ms - 500.0).abs() < 25.0, "{f:?}");
    }

    #[test]
    fn a_sinusoid_is_diurnal_with_its_period_and_amplitude() {
        let (m, n) = arrivals(3600, |t| {
            2.0 * (1.0 + 0.6 * (std::f64::consts::TAU * t / 1200.0).sin())
        });
        let f = fit(&m, n);
        let Shape::Diurnal {
            period_s,
            amplitude,
        } = f.shape
        else {
            panic!("{f:?}")
        };
        assert!((period_s - 1200.0).abs() < 120.0, "{f:?}");
        assert!((amplitude - 0.6).abs() < 0.1, "{f:?}");
    }

    #[test]
    fn bursts_are_bursty_with_their_period_duty_and_factor() {
        // 5× the rate for the first 20% of every 5 minutes.
        let (m, n) = arrivals(3600, |t| if t % 300.0 < 60.0 { 5.0 } else { 1.0 });
        let f = fit(&m, n);
        let Shape::Bursty {
            period_s,
            duty,
            factor,
        } = f.shape
        else {
            panic!("{f:?}")
        };
        assert!((period_s - 300.0).abs() < 30.0, "{f:?}");
        assert!((duty - 0.2).abs() < 0.05, "{f:?}");
        assert!((factor - 5.0).abs() < 1.0, "{f:?}");
        assert!((f.interval_ms - 1000.0).abs() < 100.0, "{f:?}");
    }
}
