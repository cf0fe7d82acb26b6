//! The LLM keys of a scenario: a step's `llm:` block (time from tokens, streaming, caching,
//! reasoning, max tokens) and the document's `models:` map (timing and prices of models, over
//! the bundled table), as plain data, with the key tables the decoder, the JSON Schema and the
//! reference read.
//!
//! They live beside the step model rather than inside it so that a scenario without them is
//! untouched: `Step::llm` and `Scenario::models` default to none, and everything they change is
//! opt-in. Folding these keys into `attributes` (`gen_ai.request.stream: true` meaning "stream")
//! was rejected: an attribute is what a span says, and timing is what the generator does; a
//! scenario that sets the attribute only says it, as before. The model knows nothing of OTLP or
//! of the bundled numbers (`conventions::models`): the plan compiler puts them together.

use super::format::{Key, Mapping, NON_NEGATIVE, PROBABILITY, Shape};
use super::model::Distribution;

/// Where an LLM step's duration comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LlmTiming {
    /// The step's `latency`, as without an `llm` block.
    #[default]
    Latency,
    /// Queue wait + prefill + decode, from the span's tokens and its model's profile.
    Tokens,
}

/// How many of a call's input tokens are read from the prompt cache.
#[derive(Clone, Debug, PartialEq)]
pub enum CacheRead {
    /// A draw per span (cut to the input tokens).
    Tokens(Distribution),
    /// This share of the input tokens.
    Ratio(f64),
}

/// A step's `llm:` block.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LlmStep {
    /// The model whose profile and price apply; `None`: the step's `gen_ai.request.model`.
    pub model: Option<String>,
    pub timing: LlmTiming,
    pub stream: bool,
    /// `gen_ai.request.max_tokens`: output tokens are cut there.
    pub max_tokens: Option<u32>,
    pub cache_read: Option<CacheRead>,
    pub cache_creation_tokens: Option<Distribution>,
    /// Reasoning tokens, added to the drawn output tokens (they are part of them).
    pub reasoning_tokens: Option<Distribution>,
}

/// One entry of the document's `models:` map: a model's timing and price, each part optional
/// (what is not given comes from `like`, else the model's bundled row, else the small profile).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelSpec {
    pub name: String,
    /// A bundled model or profile to start from.
    pub like: Option<String>,
    pub queue_ms: Option<f64>,
    pub overhead_ms: Option<f64>,
    pub input_token_ms: Option<f64>,
    pub cached_input_token_ms: Option<f64>,
    pub output_token_ms: Option<f64>,
    pub jitter: Option<f64>,
    pub input_price: Option<f64>,
    pub cached_input_price: Option<f64>,
    pub cache_creation_price: Option<f64>,
    pub output_price: Option<f64>,
}

const fn key(names: &'static [&'static str], shape: Shape, doc: &'static str) -> Key {
    Key { names, shape, doc }
}

/// The most output tokens `max_tokens` may say.
pub const MAX_TOKENS_LIMIT: i64 = 10_000_000;

/// Jitter beyond this could make a part negative (it is cut at 3 standard deviations).
pub const JITTER_RANGE: super::format::Range = super::format::Range {
    min: 0.0,
    max: 0.3,
    min_exclusive: false,
    what: "a relative jitter between 0 and 0.3",
};

pub static LLM: Mapping = Mapping {
    name: "llm",
    doc: "How an LLM call behaves: its model's timing and price, streaming, caching, reasoning (vendor.llm.call steps only).",
    keys: &[
        key(
            &["model"],
            Shape::Text,
            "The model whose timing profile and price apply (default: the step's gen_ai.request.model, else gpt-4.1-mini).",
        ),
        key(
            &["timing"],
            Shape::Text,
            "`tokens`: the span lasts queue wait + prefill + decode, from its tokens and its model's profile; `latency` (default): the step's `latency`.",
        ),
        key(
            &["stream"],
            Shape::Bool,
            "A streaming call: gen_ai.request.stream, gen_ai.response.time_to_first_chunk and the chunk metrics (default false).",
        ),
        key(
            &["max_tokens"],
            Shape::Integer {
                min: 1,
                max: MAX_TOKENS_LIMIT,
            },
            "gen_ai.request.max_tokens; output tokens are cut there (default: none).",
        ),
        key(
            &["cache_read_tokens"],
            Shape::Distribution,
            "Input tokens read from the prompt cache, a distribution drawn per span and cut to the input tokens (gen_ai.usage.cache_read.input_tokens).",
        ),
        key(
            &["cache_read_ratio"],
            Shape::Number(PROBABILITY),
            "Instead of cache_read_tokens: this share of the input tokens is read from the cache.",
        ),
        key(
            &["cache_creation_tokens"],
            Shape::Distribution,
            "Input tokens written to the prompt cache, cut to the uncached input (gen_ai.usage.cache_creation.input_tokens).",
        ),
        key(
            &["reasoning_tokens"],
            Shape::Distribution,
            "Reasoning tokens, added to the drawn output tokens, of which they are part (gen_ai.usage.reasoning.output_tokens).",
        ),
    ],
};

pub static MODEL: Mapping = Mapping {
    name: "model",
    doc: "A model's timing (ms) and price (USD per million tokens); what is not given comes from `like`, else the bundled model of that name, else the `small` profile.",
    keys: &[
        key(
            &["like"],
            Shape::Text,
            "A bundled model (gpt-4.1-mini, claude-sonnet, o3, …) or profile (small, large, reasoning) to start from.",
        ),
        key(
            &["queue_ms"],
            Shape::Number(NON_NEGATIVE),
            "Mean queue wait before the request runs (exponential, cut at 10× the mean).",
        ),
        key(
            &["overhead_ms"],
            Shape::Number(NON_NEGATIVE),
            "Fixed prefill time of a request.",
        ),
        key(
            &["input_token_ms"],
            Shape::Number(NON_NEGATIVE),
            "Prefill time per uncached input token.",
        ),
        key(
            &["cached_input_token_ms"],
            Shape::Number(NON_NEGATIVE),
            "Prefill time per input token read from the cache.",
        ),
        key(
            &["output_token_ms"],
            Shape::Number(NON_NEGATIVE),
            "Decode time per output token after the first.",
        ),
        key(
            &["jitter"],
            Shape::Number(JITTER_RANGE),
            "Relative standard deviation of each part (cut at 3 of them).",
        ),
        key(
            &["input_price"],
            Shape::Number(NON_NEGATIVE),
            "USD per million uncached input tokens.",
        ),
        key(
            &["cached_input_price"],
            Shape::Number(NON_NEGATIVE),
            "USD per million input tokens read from the cache.",
        ),
        key(
            &["cache_creation_price"],
            Shape::Number(NON_NEGATIVE),
            "USD per million input tokens written to the cache.",
        ),
        key(
            &["output_price"],
            Shape::Number(NON_NEGATIVE),
            "USD per million output tokens (reasoning included).",
        ),
    ],
};
