//! What the bundled models cost and how fast they are, written once, as data: a few timing
//! profiles (a fast small model, a large model, a reasoning model) and a price table of common
//! model names, each mapped to its profile.
//!
//! An LLM call's duration under `llm: {timing: tokens}` is queue wait + prefill (overhead +
//! uncached input tokens × time per input token + cached tokens × time per cached token) + decode
//! ((output tokens − 1) × time per output token), the latency model of inference simulators
//! (research: genai-realism.md §1). The numbers below are of hosted APIs as their users see them
//! (hundreds of ms to the first token, tens to hundreds of tokens a second), not of one GPU.
//! Prices are USD per million tokens, as providers publish them; a scenario's `models:` map
//! overrides any of them, and a model the table does not know takes the small profile and no
//! price (so no cost attributes) unless the scenario gives one.
//!
//! A model is found by the longest table name that occurs in it at a word boundary, so dated
//! releases (`gpt-4.1-mini-2025-04-14`, `claude-sonnet-4-20250514`) find their family. A regular
//! expression per row was the rejected alternative: a reader would have to run them in their head
//! to know which row a name picks. This module knows nothing of OTLP or of random numbers: the
//! generator (`generate::llm`) draws from these numbers.

/// How long a model takes, in milliseconds. Each part is drawn with bounded jitter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    /// Mean wait in the provider's queue before the request runs (drawn exponential, cut at
    /// [`QUEUE_CAP`] times the mean).
    pub queue_ms: f64,
    /// Fixed cost of a request's prefill (network, scheduling, the first forward pass).
    pub overhead_ms: f64,
    /// Prefill time per uncached input token.
    pub input_token_ms: f64,
    /// Prefill time per input token read from the prompt cache.
    pub cached_input_token_ms: f64,
    /// Decode time per output token after the first (reasoning tokens included).
    pub output_token_ms: f64,
    /// Relative standard deviation of each part's jitter (cut at [`JITTER_CAP`] of it).
    pub jitter: f64,
}

/// USD per million tokens.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Price {
    /// Uncached input tokens.
    pub input: f64,
    /// Input tokens read from the prompt cache.
    pub cached_input: f64,
    /// Input tokens written to the prompt cache.
    pub cache_creation: f64,
    /// Output tokens, reasoning tokens included.
    pub output: f64,
}

/// A timing profile by name.
#[derive(Debug)]
pub struct Profile {
    pub name: &'static str,
    pub doc: &'static str,
    pub timing: Timing,
}

/// A model of the price table.
#[derive(Debug)]
pub struct BundledModel {
    /// The family name found inside a model's name.
    pub name: &'static str,
    /// The name of its [`Profile`].
    pub profile: &'static str,
    pub price: Price,
}

/// An exponential queue wait is cut at this many times its mean, so no draw is unbounded.
pub const QUEUE_CAP: f64 = 10.0;
/// Jitter is a normal draw cut at ± this many standard deviations.
pub const JITTER_CAP: f64 = 3.0;

/// The timing profiles. The first is the default for a model the price table does not know.
pub static PROFILES: [Profile; 3] = [
    Profile {
        name: "small",
        doc: "A fast small model: ~0.2 s to the first token, ~125 tokens/s.",
        timing: Timing {
            queue_ms: 30.0,
            overhead_ms: 150.0,
            input_token_ms: 0.05,
            cached_input_token_ms: 0.005,
            output_token_ms: 8.0,
            jitter: 0.1,
        },
    },
    Profile {
        name: "large",
        doc: "A large model: ~0.4 s to the first token, ~50 tokens/s.",
        timing: Timing {
            queue_ms: 60.0,
            overhead_ms: 300.0,
            input_token_ms: 0.12,
            cached_input_token_ms: 0.012,
            output_token_ms: 20.0,
            jitter: 0.1,
        },
    },
    Profile {
        name: "reasoning",
        doc: "A reasoning model: ~0.6 s of prefill, then thinking and answer tokens at ~80 tokens/s.",
        timing: Timing {
            queue_ms: 100.0,
            overhead_ms: 500.0,
            input_token_ms: 0.15,
            cached_input_token_ms: 0.015,
            output_token_ms: 12.0,
            jitter: 0.1,
        },
    },
];

const fn price(input: f64, cached_input: f64, cache_creation: f64, output: f64) -> Price {
    Price {
        input,
        cached_input,
        cache_creation,
        output,
    }
}

const fn model(name: &'static str, profile: &'static str, price: Price) -> BundledModel {
    BundledModel {
        name,
        profile,
        price,
    }
}

/// Common models, their profile and their list price (USD per million tokens: input, cached
/// input, cache creation, output). OpenAI bills cache writes as plain input; Anthropic 1.25×.
pub static MODELS: [BundledModel; 16] = [
    model("gpt-4.1-nano", "small", price(0.10, 0.025, 0.10, 0.40)),
    model("gpt-4.1-mini", "small", price(0.40, 0.10, 0.40, 1.60)),
    model("gpt-4.1", "large", price(2.00, 0.50, 2.00, 8.00)),
    model("gpt-4o-mini", "small", price(0.15, 0.075, 0.15, 0.60)),
    model("gpt-4o", "large", price(2.50, 1.25, 2.50, 10.00)),
    model("gpt-5-mini", "reasoning", price(0.25, 0.025, 0.25, 2.00)),
    model("gpt-5", "reasoning", price(1.25, 0.125, 1.25, 10.00)),
    model("o3-mini", "reasoning", price(1.10, 0.55, 1.10, 4.40)),
    model("o3", "reasoning", price(2.00, 0.50, 2.00, 8.00)),
    model("o4-mini", "reasoning", price(1.10, 0.275, 1.10, 4.40)),
    model("claude-haiku", "small", price(0.80, 0.08, 1.00, 4.00)),
    model("claude-sonnet", "large", price(3.00, 0.30, 3.75, 15.00)),
    model("claude-opus", "large", price(15.00, 1.50, 18.75, 75.00)),
    model("gemini-2.5-flash", "small", price(0.30, 0.075, 0.30, 2.50)),
    model(
        "gemini-2.5-pro",
        "reasoning",
        price(1.25, 0.31, 1.25, 10.00),
    ),
    model(
        "text-embedding-3-small",
        "small",
        price(0.02, 0.02, 0.02, 0.0),
    ),
];

/// The profile named `name`.
pub fn profile(name: &str) -> Option<&'static Profile> {
    PROFILES.iter().find(|p| p.name == name)
}

/// The bundled model whose name is the longest that occurs in `model` at word boundaries
/// (`claude-3-7-sonnet` is read as `claude-sonnet` too: Anthropic's older names put the version
/// in the middle).
pub fn lookup(model: &str) -> Option<&'static BundledModel> {
    let model = model.to_ascii_lowercase();
    let anthropic = anthropic_family(&model);
    MODELS
        .iter()
        .filter(|m| contains_word(&model, m.name) || anthropic.as_deref() == Some(m.name))
        .max_by_key(|m| m.name.len())
}

/// `claude-3-5-haiku-…` → `claude-haiku`, the family of Anthropic's older model names.
fn anthropic_family(model: &str) -> Option<String> {
    let rest = model.strip_prefix("claude-")?;
    ["haiku", "sonnet", "opus"]
        .iter()
        .find(|f| rest.split('-').any(|part| part == **f))
        .map(|f| format!("claude-{f}"))
}

/// Whether `name` occurs in `text` with no letter or digit right before or after it.
fn contains_word(text: &str, name: &str) -> bool {
    let bytes = text.as_bytes();
    text.match_indices(name).any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let after = bytes.get(i + name.len()).copied();
        // A `.` after the name continues a version (`gpt-4` in `gpt-4.1`), so it does not end it.
        before.is_none_or(|b| !b.is_ascii_alphanumeric())
            && after.is_none_or(|a| !a.is_ascii_alphanumeric() && a != b'.')
    })
}

/// Every name a scenario's `models:` entry may start from with `like:`: the profiles and the
/// bundled models.
pub fn names() -> impl Iterator<Item = &'static str> {
    PROFILES
        .iter()
        .map(|p| p.name)
        .chain(MODELS.iter().map(|m| m.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dated_and_older_names_find_their_family() {
        let find = |m: &str| lookup(m).map(|b| b.name);
        assert_eq!(find("gpt-4.1-mini-2025-04-14"), Some("gpt-4.1-mini"));
        assert_eq!(find("gpt-4.1"), Some("gpt-4.1"));
        assert_eq!(find("gpt-4o-2024-08-06"), Some("gpt-4o"));
        assert_eq!(find("o4-mini"), Some("o4-mini"));
        assert_eq!(find("o3"), Some("o3"));
        assert_eq!(find("claude-sonnet-4-20250514"), Some("claude-sonnet"));
        assert_eq!(find("claude-3-5-haiku-20241022"), Some("claude-haiku"));
        assert_eq!(find("Claude-Opus-4"), Some("claude-opus"));
        assert_eq!(find("gpt-4"), None, "gpt-4 is not gpt-4.1 or gpt-4o");
        assert_eq!(find("llama-3-70b"), None);
        assert_eq!(find("foo3"), None);
    }

    #[test]
    fn every_model_names_a_profile_and_prices_are_sane() {
        for m in &MODELS {
            assert!(profile(m.profile).is_some(), "{}", m.name);
            let p = m.price;
            assert!(p.cached_input <= p.input, "{}", m.name);
            assert!(p.cache_creation >= p.input, "{}", m.name);
            assert!(
                [p.input, p.cached_input, p.output]
                    .iter()
                    .all(|x| *x >= 0.0)
            );
        }
        for p in &PROFILES {
            let t = p.timing;
            assert!(t.cached_input_token_ms < t.input_token_ms, "{}", p.name);
            assert!(
                t.jitter * JITTER_CAP < 1.0,
                "{}: jitter could go negative",
                p.name
            );
        }
    }
}
