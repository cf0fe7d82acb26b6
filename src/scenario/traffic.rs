//! Traffic shapes: how a run's target rate varies over time, written the same way on the command
//! line (`--traffic diurnal:24h:0.5`) and in a scenario (`traffic: diurnal:24h:0.5`).
//!
//! One short text form for both, parsed here, rather than a YAML mapping beside a CLI string: a
//! user who has tried a shape on the command line pastes it into the scenario unchanged.

use std::str::FromStr;
use std::time::Duration;

/// How the target rate varies over a run, as a factor of the base rate.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Pattern {
    #[default]
    Constant,
    /// `1 + amplitude·sin(2πt/period)`: a day's rise and fall.
    Diurnal { period: Duration, amplitude: f64 },
    /// `factor` for the first `duty` share of every period, 1 otherwise.
    Bursty {
        period: Duration,
        duty: f64,
        factor: f64,
    },
}

/// `constant`, `diurnal[:PERIOD[:AMPLITUDE]]` (default 24h, 0.5) or
/// `bursty[:PERIOD[:DUTY[:FACTOR]]]` (default 60s, 0.1, 5).
impl FromStr for Pattern {
    type Err = String;

    fn from_str(text: &str) -> Result<Pattern, String> {
        let mut parts = text.trim().split(':');
        let kind = parts.next().unwrap_or_default();
        let period = |p: Option<&str>, default: Duration| match p {
            Some(p) => parse_duration(p),
            None => Ok(default),
        };
        let number = |p: Option<&str>, default: f64, what: &str| match p {
            Some(p) => p
                .parse::<f64>()
                .ok()
                .filter(|x| *x >= 0.0 && x.is_finite())
                .ok_or(format!("`{p}` is not a valid {what}")),
            None => Ok(default),
        };
        let pattern = match kind {
            "constant" => Pattern::Constant,
            "diurnal" => Pattern::Diurnal {
                period: period(parts.next(), Duration::from_secs(86_400))?,
                amplitude: number(parts.next(), 0.5, "amplitude")?.min(1.0),
            },
            "bursty" => Pattern::Bursty {
                period: period(parts.next(), Duration::from_secs(60))?,
                duty: number(parts.next(), 0.1, "duty share")?.min(1.0),
                factor: number(parts.next(), 5.0, "burst factor")?,
            },
            other => {
                return Err(format!(
                    "unknown traffic shape `{other}` (constant, diurnal, bursty)"
                ));
            }
        };
        if parts.next().is_some() {
            return Err(format!("too many parts in `{text}`"));
        }
        Ok(pattern)
    }
}

/// `30s`, `10m`, `2h`, `1.5d`, `500ms` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let seconds = duration_seconds(text, 1.0)?;
    if !(seconds > 0.0 && seconds < 1e9) {
        return Err(format!("`{}` is out of range", text.trim()));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// The seconds in `text`: a number with the unit `ms`, `s`, `m` (`min`), `h` or `d`, or a bare
/// number of `bare` seconds each. The one reader of durations, whatever their range.
pub fn duration_seconds(text: &str, bare: f64) -> Result<f64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit.trim() {
        "" => bare,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        other => return Err(format!("unknown unit `{other}` (use ms, s, m, h or d)")),
    };
    let number = number
        .parse::<f64>()
        .map_err(|_| format!("`{text}` is not a duration (e.g. 500ms, 30s, 10m, 24h)"))?;
    Ok(number * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_parse_with_their_defaults() {
        assert_eq!("constant".parse(), Ok(Pattern::Constant));
        assert_eq!(
            "diurnal".parse(),
            Ok(Pattern::Diurnal {
                period: Duration::from_secs(86_400),
                amplitude: 0.5
            })
        );
        assert_eq!(
            "bursty:10s:0.2:3".parse(),
            Ok(Pattern::Bursty {
                period: Duration::from_secs(10),
                duty: 0.2,
                factor: 3.0
            })
        );
        assert!(
            "wavy"
                .parse::<Pattern>()
                .unwrap_err()
                .contains("unknown traffic shape")
        );
        assert!("diurnal:1h:0.5:9".parse::<Pattern>().is_err());
        assert!("diurnal:0s".parse::<Pattern>().is_err());
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
    }
}
