//! `--semconv` and `--span-names`: which semantic conventions the spans follow, from the flags
//! and the environment (`TELEMETRY_SIMULATOR_SEMCONV`, `TELEMETRY_SIMULATOR_SPAN_NAMES`, and the
//! conventions' own opt-in, `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`).
//!
//! A flag beats its variable, as everywhere else; the OpenTelemetry opt-in variable comes last
//! because it is shared with every instrumented process of the machine and says less (only
//! "the latest", never "the seed's"). What each profile means is data in
//! `conventions::profile`; this file only chooses one. Reading the variables through clap's
//! `env` attribute was rejected for the same reason as in `config.rs`: the precedence and the
//! messages are tested here without touching the process environment.

use super::config::{ConfigError, Env};
use crate::conventions::{Profile, Semconv, SpanNames};

/// `--semconv`'s values, for its parser and its messages.
const SEMCONV_EXPECTED: &str = "seed or genai-latest";
const NAMES_EXPECTED: &str = "vendor or conventions";

/// Parses `--semconv`.
pub(super) fn parse_semconv(text: &str) -> Result<Semconv, String> {
    Semconv::parse(text).ok_or_else(|| format!("`{text}` is not a profile: {SEMCONV_EXPECTED}"))
}

/// Parses `--span-names`.
pub(super) fn parse_span_names(text: &str) -> Result<SpanNames, String> {
    SpanNames::parse(text).ok_or_else(|| format!("`{text}` is not a naming: {NAMES_EXPECTED}"))
}

/// The profile of a run: each flag, else its variable, else the default.
pub fn profile(
    semconv: Option<Semconv>,
    span_names: Option<SpanNames>,
    env: Env,
) -> Result<Profile, ConfigError> {
    let bad = |setting: &str, value: String, expected| ConfigError::BadValue {
        setting: setting.into(),
        value,
        expected,
    };
    let semconv = match (semconv, env("TELEMETRY_SIMULATOR_SEMCONV")) {
        (Some(s), _) => s,
        (None, Some(v)) => Semconv::parse(&v)
            .ok_or_else(|| bad("TELEMETRY_SIMULATOR_SEMCONV", v, SEMCONV_EXPECTED))?,
        (None, None) => opt_in(env),
    };
    let span_names = match (span_names, env("TELEMETRY_SIMULATOR_SPAN_NAMES")) {
        (Some(n), _) => n,
        (None, Some(v)) => SpanNames::parse(&v)
            .ok_or_else(|| bad("TELEMETRY_SIMULATOR_SPAN_NAMES", v, NAMES_EXPECTED))?,
        (None, None) => SpanNames::default(),
    };
    Ok(Profile {
        semconv,
        span_names,
    })
}

/// `OTEL_SEMCONV_STABILITY_OPT_IN`, a comma-separated list: `gen_ai_latest_experimental` asks for
/// the latest GenAI conventions; anything else (other categories' values) leaves the default.
fn opt_in(env: Env) -> Semconv {
    let latest = env("OTEL_SEMCONV_STABILITY_OPT_IN").is_some_and(|v| {
        v.split(',')
            .any(|item| item.trim() == "gen_ai_latest_experimental")
    });
    if latest {
        Semconv::GenaiLatest
    } else {
        Semconv::Seed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn flags_beat_variables_which_beat_the_opt_in() {
        let none = env_of(&[]);
        assert_eq!(profile(None, None, &none), Ok(Profile::default()));
        let opt_in = env_of(&[(
            "OTEL_SEMCONV_STABILITY_OPT_IN",
            "http, gen_ai_latest_experimental",
        )]);
        assert_eq!(
            profile(None, None, &opt_in).unwrap().semconv,
            Semconv::GenaiLatest
        );
        let other = env_of(&[("OTEL_SEMCONV_STABILITY_OPT_IN", "http/dup")]);
        assert_eq!(profile(None, None, &other).unwrap().semconv, Semconv::Seed);
        let both = env_of(&[
            (
                "OTEL_SEMCONV_STABILITY_OPT_IN",
                "gen_ai_latest_experimental",
            ),
            ("TELEMETRY_SIMULATOR_SEMCONV", "seed"),
            ("TELEMETRY_SIMULATOR_SPAN_NAMES", "conventions"),
        ]);
        let p = profile(None, None, &both).unwrap();
        assert_eq!(p.semconv, Semconv::Seed);
        assert_eq!(p.span_names, SpanNames::Conventions);
        let p = profile(Some(Semconv::GenaiLatest), Some(SpanNames::Vendor), &both).unwrap();
        assert_eq!(p.semconv, Semconv::GenaiLatest);
        assert_eq!(p.span_names, SpanNames::Vendor);
    }

    #[test]
    fn bad_values_name_their_setting_and_the_choices() {
        let bad = env_of(&[("TELEMETRY_SIMULATOR_SEMCONV", "v9")]);
        let message = profile(None, None, &bad).unwrap_err().to_string();
        assert!(message.contains("TELEMETRY_SIMULATOR_SEMCONV"), "{message}");
        assert!(message.contains("seed or genai-latest"), "{message}");
        let bad = env_of(&[("TELEMETRY_SIMULATOR_SPAN_NAMES", "otel")]);
        let message = profile(None, None, &bad).unwrap_err().to_string();
        assert!(message.contains("vendor or conventions"), "{message}");
        assert!(
            parse_semconv("genai")
                .unwrap_err()
                .contains("seed or genai-latest")
        );
        assert_eq!(parse_span_names("conventions"), Ok(SpanNames::Conventions));
    }
}
