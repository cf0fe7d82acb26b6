//! When each iteration is due: an open-loop arrival schedule.
//!
//! Arrival times are computed from the schedule alone, never from when the previous iteration
//! finished, so the achieved rate is the target rate whenever the machine can keep up, and a slow
//! moment is caught up rather than lost (tools that sleep after each piece of work drift below
//! their target). The target rate may change over a run: a ramp-up, a diurnal wave, bursts. Both
//! constant and Poisson arrivals are produced the same way, by time rescaling: arrival `i` sits
//! where the cumulative expected count `Λ(t) = ∫ rate` reaches `i` (constant) or the sum of
//! `i + 1` unit exponential gaps (Poisson), so one inversion serves every traffic shape. `Λ` is
//! in closed form, so an arrival costs a few evaluations however far away it is, and one
//! beyond [`HORIZON_S`] is simply never due.
//!
//! Each gap is drawn from iteration `i`'s own random stream, so the schedule is the same for any
//! number of workers or shards.

use crate::generate::iteration_rng;
use rand::RngExt;
use std::time::Duration;

/// Salt that separates the arrival stream from the trace streams.
const ARRIVAL_SALT: u64 = 0xA771_7A15_0000_0003;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Arrivals {
    /// Evenly spaced.
    #[default]
    Constant,
    /// Exponential gaps, as independent users arrive.
    Poisson,
}

pub use crate::scenario::Pattern;

/// The pattern's factor `t` seconds into the run.
fn factor(pattern: &Pattern, t: f64) -> f64 {
    match *pattern {
        Pattern::Constant => 1.0,
        Pattern::Diurnal { period, amplitude } => {
            1.0 + amplitude * (std::f64::consts::TAU * t / period.as_secs_f64()).sin()
        }
        Pattern::Bursty {
            period,
            duty,
            factor,
        } => {
            let phase = (t / period.as_secs_f64()).fract();
            if phase < duty { factor } else { 1.0 }
        }
    }
}

/// The pace of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Pace {
    /// Iterations per second; `None` runs as fast as possible.
    pub rate: Option<f64>,
    pub arrivals: Arrivals,
    /// The rate climbs linearly from 0 to its target over this time.
    pub ramp_up: Duration,
    pub pattern: Pattern,
}

impl Pace {
    pub fn unpaced() -> Pace {
        Pace {
            rate: None,
            arrivals: Arrivals::Constant,
            ramp_up: Duration::ZERO,
            pattern: Pattern::Constant,
        }
    }

    /// The seed's `--interval MS`: one iteration every `ms` milliseconds, 0 meaning unpaced.
    pub fn every_ms(ms: f64) -> Pace {
        Pace {
            rate: (ms > 0.0).then(|| 1000.0 / ms),
            ..Pace::unpaced()
        }
    }

    /// The target rate at `t` seconds into the run.
    pub fn rate_at(&self, t: f64) -> f64 {
        let Some(rate) = self.rate else {
            return f64::INFINITY;
        };
        let ramp = self.ramp_up.as_secs_f64();
        let ramp_factor = if ramp > 0.0 && t < ramp {
            t / ramp
        } else {
            1.0
        };
        (rate * ramp_factor * factor(&self.pattern, t)).max(0.0)
    }
}

/// Beyond this offset (about 31 years) an arrival is never due: a rate that small is a run that
/// waits for its end (the deadline or a signal), not a date to compute.
pub const HORIZON_S: f64 = 1e9;

/// The traffic shape over one period, integrated in closed form: `Gp(φ) = ∫₀^φ f` and
/// `Hp(φ) = ∫₀^φ s·f(s) ds`. Every pattern is periodic (a constant one with any period), so
/// the cumulative count of a whole run is whole periods plus a part of one.
#[derive(Clone, Copy, Debug)]
struct Shape {
    pattern: Pattern,
    period: f64,
    /// `Gp(period)` and `Hp(period)`.
    whole: (f64, f64),
}

impl Shape {
    fn new(pattern: Pattern) -> Shape {
        let period = match pattern {
            Pattern::Constant => 1.0,
            Pattern::Diurnal { period, .. } | Pattern::Bursty { period, .. } => {
                period.as_secs_f64()
            }
        };
        let mut shape = Shape {
            pattern,
            period,
            whole: (0.0, 0.0),
        };
        shape.whole = shape.part(period);
        shape
    }

    /// `(Gp(φ), Hp(φ))` for `0 ≤ φ ≤ period`.
    fn part(&self, phi: f64) -> (f64, f64) {
        match self.pattern {
            Pattern::Constant => (phi, phi * phi / 2.0),
            Pattern::Diurnal { amplitude: a, .. } => {
                let w = std::f64::consts::TAU / self.period;
                let (sin, cos) = (w * phi).sin_cos();
                (
                    phi + a / w * (1.0 - cos),
                    phi * phi / 2.0 + a * (sin / (w * w) - phi * cos / w),
                )
            }
            Pattern::Bursty { duty, factor, .. } => {
                let d = duty * self.period;
                if phi < d {
                    (factor * phi, factor * phi * phi / 2.0)
                } else {
                    (
                        factor * d + (phi - d),
                        factor * d * d / 2.0 + (phi * phi - d * d) / 2.0,
                    )
                }
            }
        }
    }

    /// `(G(t), H(t))`: `∫₀^t f` and `∫₀^t s·f(s) ds`.
    fn integrals(&self, t: f64) -> (f64, f64) {
        let k = (t / self.period).floor().max(0.0);
        let phi = (t - k * self.period).clamp(0.0, self.period);
        let (g, h) = self.part(phi);
        let (g0, h0) = self.whole;
        (
            k * g0 + g,
            self.period * g0 * k * (k - 1.0) / 2.0 + k * h0 + k * self.period * g + h,
        )
    }

    /// The pattern's mean factor.
    fn mean(&self) -> f64 {
        self.whole.0 / self.period
    }
}

/// The arrival offsets of a run, in order.
///
/// Arrival `i` is found by inverting the cumulative expected count `Λ(t)`, which is computed in
/// closed form for every shape (ramp included), with a safeguarded Newton search: a few
/// evaluations per arrival whatever the gap. Stepping the integral a millisecond at a time was
/// the alternative it replaced: a tiny rate or a huge interval spun a core for hours.
pub struct Schedule {
    pace: Pace,
    shape: Shape,
    seed: u64,
    next_index: u64,
    /// Target of the next arrival in cumulative-count space.
    target: f64,
    /// The previous arrival's offset, in seconds.
    last: f64,
    /// No arrival is due within the horizon any more.
    never: bool,
}

impl Schedule {
    pub fn new(pace: Pace, seed: u64) -> Schedule {
        Schedule {
            shape: Shape::new(pace.pattern),
            pace,
            seed,
            next_index: 0,
            target: 0.0,
            last: 0.0,
            never: false,
        }
    }

    /// When iteration `next_index` is due, as an offset from the start of the run; the schedule
    /// then moves on to the next index. Unpaced runs are always due at once. `None`: neither
    /// this iteration nor any later one is due within [`HORIZON_S`].
    pub fn next_due(&mut self) -> Option<Duration> {
        let index = self.next_index;
        self.next_index += 1;
        if self.pace.rate.is_none() {
            return Some(Duration::ZERO);
        }
        if self.never {
            return None;
        }
        // The first constant arrival is due at once, not one interval in.
        if index > 0 || self.pace.arrivals == Arrivals::Poisson {
            self.target += match self.pace.arrivals {
                Arrivals::Constant => 1.0,
                Arrivals::Poisson => {
                    let u: f64 = iteration_rng(self.seed ^ ARRIVAL_SALT, index).random();
                    -(1.0 - u).ln()
                }
            };
        }
        match self.invert(self.target, self.last) {
            Some(t) => {
                self.last = t;
                Some(Duration::from_secs_f64(t))
            }
            None => {
                self.never = true;
                None
            }
        }
    }

    /// `Λ(t)`: the arrivals expected by `t` seconds into the run.
    pub fn cumulative(&self, t: f64) -> f64 {
        let Some(rate) = self.pace.rate else {
            return f64::INFINITY;
        };
        let ramp = self.pace.ramp_up.as_secs_f64();
        let (g, h) = self.shape.integrals(t);
        if ramp <= 0.0 {
            return rate * g;
        }
        if t <= ramp {
            return rate * h / ramp;
        }
        let (g_ramp, h_ramp) = self.shape.integrals(ramp);
        rate * (h_ramp / ramp + g - g_ramp)
    }

    /// When `Λ` reaches `arrivals`, in seconds from the start; `None` beyond the horizon.
    pub fn time_for(&self, arrivals: f64) -> Option<f64> {
        self.invert(arrivals, 0.0)
    }

    /// The first instant at or after `from` where `Λ` reaches `target`; `None` beyond the
    /// horizon.
    fn invert(&self, target: f64, from: f64) -> Option<f64> {
        let f = |t: f64| self.cumulative(t) - target;
        let at_from = f(from);
        if at_from >= 0.0 {
            return Some(from);
        }
        let mean = self.pace.rate.unwrap_or(0.0) * self.shape.mean();
        if mean.is_nan() || mean <= 0.0 {
            return None;
        }
        // Bracket: Λ(lo) < target ≤ Λ(hi), doubling the guess from the mean rate.
        let (mut lo, mut gap) = (from, (-at_from / mean).max(1e-9));
        let mut hi = lo + gap;
        let mut at_hi = f(hi.min(HORIZON_S));
        while at_hi < 0.0 {
            if hi >= HORIZON_S {
                return None;
            }
            lo = hi;
            gap *= 2.0;
            hi = lo + gap;
            at_hi = f(hi.min(HORIZON_S));
        }
        let hi = hi.min(HORIZON_S);
        Some(self.refine(&f, lo, hi, at_hi, target))
    }

    /// Newton steps inside `[lo, hi]`, bisecting whenever a step would leave it.
    fn refine(
        &self,
        f: &dyn Fn(f64) -> f64,
        mut lo: f64,
        mut hi: f64,
        at_hi: f64,
        target: f64,
    ) -> f64 {
        let tolerance = 1e-9 * target.max(1.0);
        let (mut t, mut at) = (hi, at_hi);
        for _ in 0..200 {
            if at.abs() <= tolerance || hi - lo <= 1e-9 * hi.max(1.0) {
                break;
            }
            if at > 0.0 {
                hi = t;
            } else {
                lo = t;
            }
            let slope = self.pace.rate_at(t);
            let newton = t - at / slope;
            t = if slope > 0.0 && newton > lo && newton < hi {
                newton
            } else {
                lo + (hi - lo) / 2.0
            };
            at = f(t);
        }
        if at >= -tolerance { t } else { hi }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(pace: Pace, n: usize) -> Vec<f64> {
        let mut s = Schedule::new(pace, 42);
        (0..n)
            .map(|_| s.next_due().expect("due").as_secs_f64())
            .collect()
    }

    #[test]
    fn constant_arrivals_are_evenly_spaced_from_zero() {
        let t = offsets(Pace::every_ms(250.0), 5);
        for (i, t) in t.iter().enumerate() {
            assert!((t - i as f64 * 0.25).abs() < 1e-6, "{t}");
        }
        assert!(offsets(Pace::unpaced(), 3).iter().all(|t| *t == 0.0));
    }

    #[test]
    fn poisson_gaps_are_exponential() {
        let rate = 400.0;
        let pace = Pace {
            rate: Some(rate),
            arrivals: Arrivals::Poisson,
            ..Pace::unpaced()
        };
        let t = offsets(pace, 20_000);
        let gaps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
        let n = gaps.len() as f64;
        let mean = gaps.iter().sum::<f64>() / n;
        assert!(
            (mean - 1.0 / rate).abs() < 3.29 * (1.0 / rate) / n.sqrt(),
            "mean gap {mean}"
        );
        // Kolmogorov–Smirnov against Exp(rate), at the 0.1% level.
        let mut sorted = gaps.clone();
        sorted.sort_by(f64::total_cmp);
        let d = sorted
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let cdf = 1.0 - (-rate * g).exp();
                (cdf - i as f64 / n)
                    .abs()
                    .max(((i + 1) as f64 / n - cdf).abs())
            })
            .fold(0.0, f64::max);
        assert!(d < 1.95 / n.sqrt(), "KS distance {d}");
    }

    #[test]
    fn a_ramp_reaches_its_rate_and_delivers_the_expected_count() {
        let pace = Pace {
            rate: Some(100.0),
            ramp_up: Duration::from_secs(10),
            ..Pace::unpaced()
        };
        // Λ(10 s) = 100·10/2 = 500 arrivals during the ramp, then 100/s.
        let t = offsets(pace, 1500);
        assert!((t[500] - 10.0).abs() < 0.05, "{}", t[500]);
        assert!((t[1499] - 20.0).abs() < 0.05, "{}", t[1499]);
    }

    #[test]
    fn a_diurnal_wave_averages_to_its_base_rate() {
        let pace = Pace {
            rate: Some(50.0),
            pattern: Pattern::Diurnal {
                period: Duration::from_secs(10),
                amplitude: 0.8,
            },
            ..Pace::unpaced()
        };
        let t = offsets(pace, 1001);
        // Whole periods: 1000 arrivals in 20 s.
        assert!((t[1000] - 20.0).abs() < 0.2, "{}", t[1000]);
        // The first quarter (rising) is busier than the third (falling).
        let in_window = |a: f64, b: f64| t.iter().filter(|x| **x >= a && **x < b).count();
        assert!(in_window(0.0, 2.5) > 2 * in_window(5.0, 7.5));
    }

    #[test]
    fn bursts_deliver_their_share_of_each_period() {
        let pace = Pace {
            rate: Some(10.0),
            pattern: Pattern::Bursty {
                period: Duration::from_secs(10),
                duty: 0.2,
                factor: 5.0,
            },
            ..Pace::unpaced()
        };
        // Per period: 2 s at 50/s and 8 s at 10/s, 180 arrivals; the bursts come first.
        let t = offsets(pace, 361);
        assert!((t[100] - 2.0).abs() < 1e-6, "{}", t[100]);
        assert!((t[180] - 10.0).abs() < 1e-6, "{}", t[180]);
        assert!((t[360] - 20.0).abs() < 1e-6, "{}", t[360]);
    }

    #[test]
    fn a_tiny_rate_is_computed_at_once_and_a_vanishing_one_is_never_due() {
        let started = std::time::Instant::now();
        let mut s = Schedule::new(
            Pace {
                rate: Some(1e-7),
                ..Pace::unpaced()
            },
            1,
        );
        assert_eq!(s.next_due(), Some(Duration::ZERO));
        let second = s.next_due().unwrap().as_secs_f64();
        assert!((second - 1e7).abs() < 1.0, "{second}");
        for pace in [
            Pace {
                rate: Some(1e-300),
                ..Pace::unpaced()
            },
            Pace::every_ms(1e18),
            Pace {
                rate: Some(1e-300),
                arrivals: Arrivals::Poisson,
                ramp_up: Duration::from_secs(999_999_999),
                pattern: Pattern::Diurnal {
                    period: Duration::from_millis(1),
                    amplitude: 1.0,
                },
            },
        ] {
            let mut s = Schedule::new(pace.clone(), 1);
            if pace.arrivals == Arrivals::Constant {
                assert_eq!(s.next_due(), Some(Duration::ZERO));
            }
            assert_eq!(s.next_due(), None, "{pace:?}");
            assert_eq!(s.next_due(), None, "{pace:?}");
        }
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_ramp_under_any_shape_matches_a_fine_numerical_integral() {
        let shapes = [
            Pattern::Bursty {
                period: Duration::from_secs(3),
                duty: 0.25,
                factor: 4.0,
            },
            Pattern::Diurnal {
                period: Duration::from_secs(4),
                amplitude: 0.9,
            },
            Pattern::Constant,
        ];
        for pattern in shapes {
            let pace = Pace {
                rate: Some(30.0),
                ramp_up: Duration::from_secs(7),
                pattern,
                ..Pace::unpaced()
            };
            let s = Schedule::new(pace.clone(), 1);
            let dt = 1e-4;
            let mut numeric = 0.0;
            for i in 0..200_000 {
                let t = i as f64 * dt;
                numeric += pace.rate_at(t + dt / 2.0) * dt;
                if i % 10_000 == 9_999 {
                    let t = t + dt;
                    let exact = s.cumulative(t);
                    assert!(
                        (exact - numeric).abs() < 0.05,
                        "{pattern:?}: Λ({t}) = {exact}, numerically {numeric}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_schedule_depends_only_on_the_seed() {
        let pace = Pace {
            rate: Some(1000.0),
            arrivals: Arrivals::Poisson,
            ..Pace::unpaced()
        };
        assert_eq!(offsets(pace.clone(), 100), offsets(pace, 100));
    }
}
