//! When each iteration is due: an open-loop arrival schedule.
//!
//! Arrival times are computed from the schedule alone, never from when the previous iteration
//! finished, so the achieved rate is the target rate whenever the machine can keep up, and a slow
//! moment is caught up rather than lost (tools that sleep after each piece of work drift below
//! their target). The target rate may change over a run: a ramp-up, a diurnal wave, bursts. Both
//! constant and Poisson arrivals are produced the same way, by time rescaling: arrival `i` sits
//! where the cumulative expected count `Λ(t) = ∫ rate` reaches `i + 1` (constant) or the sum of
//! `i + 1` unit exponential gaps (Poisson), so one inversion serves every traffic shape.
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

/// Integration step for the cumulative rate: fine enough for any shape a run can ask for.
const STEP: f64 = 0.001;

/// The arrival offsets of a run, in order.
pub struct Schedule {
    pace: Pace,
    seed: u64,
    next_index: u64,
    /// Target of the next arrival in cumulative-count space.
    target: f64,
    /// The integration cursor: time and cumulative count at that time.
    t: f64,
    count: f64,
}

impl Schedule {
    pub fn new(pace: Pace, seed: u64) -> Schedule {
        Schedule {
            pace,
            seed,
            next_index: 0,
            target: 0.0,
            t: 0.0,
            count: 0.0,
        }
    }

    /// When iteration `next_index` is due, as an offset from the start of the run; the schedule
    /// then moves on to the next index. Unpaced runs are always due at once.
    pub fn next_due(&mut self) -> Duration {
        let index = self.next_index;
        self.next_index += 1;
        if self.pace.rate.is_none() {
            return Duration::ZERO;
        }
        self.target += match self.pace.arrivals {
            Arrivals::Constant => 1.0,
            Arrivals::Poisson => {
                let u: f64 = iteration_rng(self.seed ^ ARRIVAL_SALT, index).random();
                -(1.0 - u).ln()
            }
        };
        // The first constant arrival is due at once, not one interval in.
        let target = match self.pace.arrivals {
            Arrivals::Constant => self.target - 1.0,
            Arrivals::Poisson => self.target,
        };
        while self.count < target {
            let rate = self.pace.rate_at(self.t + STEP / 2.0);
            let step_count = rate * STEP;
            if self.count + step_count >= target && step_count > 0.0 {
                let t = self.t + STEP * (target - self.count) / step_count;
                return Duration::from_secs_f64(t);
            }
            self.count += step_count;
            self.t += STEP;
            if self.t > 1e9 {
                // A rate that stays at zero: never due.
                return Duration::MAX;
            }
        }
        Duration::from_secs_f64(self.t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(pace: Pace, n: usize) -> Vec<f64> {
        let mut s = Schedule::new(pace, 42);
        (0..n).map(|_| s.next_due().as_secs_f64()).collect()
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
    fn the_schedule_depends_only_on_the_seed() {
        let pace = Pace {
            rate: Some(1000.0),
            arrivals: Arrivals::Poisson,
            ..Pace::unpaced()
        };
        assert_eq!(offsets(pace.clone(), 100), offsets(pace, 100));
    }
}
