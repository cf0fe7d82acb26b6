//! The scenario format's keys, declared once.
//!
//! Every mapping of a scenario file (the document, a step, a latency, an error model, a retry, a
//! count, each distribution's parameters) is described here as a [`Mapping`]: its keys, their
//! spellings (the first is canonical, the rest are the original format's aliases), what each
//! value may be ([`Shape`], with numeric ranges) and a sentence of documentation. The decoder reads
//! keys *only* through these tables (it asks for a key by its canonical name, and its "unknown key"
//! suggestions are the table's names), and the JSON Schema that editors use
//! ([`super::json_schema`]) is generated from the same tables, so the two cannot drift apart.
//!
//! Deriving a JSON Schema from the model types (e.g. with `schemars`) was rejected: the model is
//! plain data with every shorthand resolved (`latency: 250`, `count: {min, max}`, `span_type`,
//! `spans`), so a schema derived from it would describe a format nobody writes.

/// Which bounds a number must respect, and how to say so.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    pub min: f64,
    pub max: f64,
    pub min_exclusive: bool,
    pub what: &'static str,
}

pub const PROBABILITY: Range = Range {
    min: 0.0,
    max: 1.0,
    min_exclusive: false,
    what: "a probability between 0 and 1",
};
pub const NON_NEGATIVE: Range = Range {
    min: 0.0,
    max: f64::INFINITY,
    min_exclusive: false,
    what: "a number ≥ 0",
};
pub const POSITIVE: Range = Range {
    min: 0.0,
    max: f64::INFINITY,
    min_exclusive: true,
    what: "a number > 0",
};
pub const ANY_NUMBER: Range = Range {
    min: f64::NEG_INFINITY,
    max: f64::INFINITY,
    min_exclusive: false,
    what: "a number",
};
pub const OPEN_PROBABILITY: Range = Range {
    min: 0.0,
    max: 1.0,
    min_exclusive: true,
    what: "a probability in (0, 1]",
};

/// Retries beyond this are certainly a typo, and would only burn the span budget.
pub const MAX_ATTEMPTS_LIMIT: i64 = 100;

/// What the value of a key may be.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    /// A scalar, read as text.
    Text,
    /// `true`/`false` (the YAML 1.1 words `yes`/`no`/`on`/`off` too, as the original read them).
    Bool,
    Number(Range),
    Integer {
        min: i64,
        max: i64,
    },
    /// A list of strings.
    Strings,
    /// A list of numbers in a range.
    Numbers(Range),
    /// A span type such as `vendor.llm.call`.
    SpanType,
    /// A step mapping (or a one-element list holding one, as the original accepted).
    Step,
    /// A list of steps.
    Steps,
    /// Milliseconds, a [`JITTER`] mapping or a distribution mapping.
    Latency,
    /// An error rate or an [`ERROR`] mapping.
    Error,
    /// A whole number or a [`COUNT`] mapping.
    Count,
    /// A [`RETRY`] mapping.
    Retry,
    /// A [`PROPAGATION`] mapping (null for its defaults).
    Propagation,
    /// A mapping of attribute names to constants or distribution mappings.
    Attributes,
    /// One of [`DISTRIBUTIONS`].
    DistributionName,
    /// A list of values, or a mapping of value to weight.
    CategoricalValues,
    /// A list of [`MIXTURE_COMPONENT`] mappings.
    Components,
    /// A mapping of service names to [`super::services::SERVICE`] mappings.
    Services,
    /// A [`super::services::REMOTE`] mapping.
    Remote,
    /// A mapping of resource attribute names to scalars.
    ResourceAttributes,
    /// A `{distribution: ...}` mapping.
    Distribution,
    /// An [`super::llm::LLM`] mapping.
    Llm,
    /// Model names mapped to [`super::llm::MODEL`] mappings.
    Models,
    /// A [`FAILURES`] mapping.
    Failures,
    /// A probability, or the given mapping (a probability with the failure's parameters).
    Chance(&'static Mapping),
    /// Milliseconds: a number, or a distribution mapping drawn each time.
    Milliseconds,
    /// A generic step's span kind: one of [`super::KIND_NAMES`].
    SpanKindName,
    /// A generic step's convention: one of [`super::Convention::ALL`]'s names.
    ConventionName,
    /// A list of [`LINK`] mappings.
    Links,
    /// A mapping of attribute names to constants (a link's attributes).
    Constants,
    /// A nested mapping of its own keys (null for its defaults).
    Mapping(&'static Mapping),
    /// A list of mappings of one kind.
    List(&'static Mapping),
    /// A mapping of names to numbers.
    NumberMap,
}

/// One key of a mapping.
#[derive(Debug, PartialEq)]
pub struct Key {
    /// The canonical spelling first, then its aliases.
    pub names: &'static [&'static str],
    pub shape: Shape,
    pub doc: &'static str,
}

impl Key {
    pub fn name(&self) -> &'static str {
        self.names[0]
    }
}

/// One kind of mapping in a scenario file.
#[derive(Debug, PartialEq)]
pub struct Mapping {
    /// How the JSON Schema names it.
    pub name: &'static str,
    pub doc: &'static str,
    pub keys: &'static [Key],
}

impl Mapping {
    /// The key whose canonical spelling is `name`.
    pub fn key(&'static self, name: &str) -> Option<&'static Key> {
        self.keys.iter().find(|k| k.name() == name)
    }
}

pub(super) const fn key(names: &'static [&'static str], shape: Shape, doc: &'static str) -> Key {
    Key { names, shape, doc }
}

pub static DOCUMENT: Mapping = Mapping {
    name: "scenario",
    doc: "A telemetry-simulator scenario: a tree of steps, each a span type with its latency, errors, retries and attributes.",
    keys: &[
        key(
            &["name"],
            Shape::Text,
            "Display name; the scenario is looked up by its file name, so keep both equal.",
        ),
        key(&["description"], Shape::Text, "Free text, shown by `list`."),
        key(&["tags"], Shape::Strings, "Labels shown by `list`."),
        key(
            &["repeat_count"],
            Shape::Integer {
                min: 0,
                max: i64::MAX,
            },
            "Traces per `scenario` run when --count is not given (default 1).",
        ),
        key(
            &["interval_ms"],
            Shape::Number(NON_NEGATIVE),
            "Pause between traces, in milliseconds (default 500).",
        ),
        key(
            &["emit_metrics"],
            Shape::Bool,
            "Emit span-derived metrics (default true).",
        ),
        key(&["emit_logs"], Shape::Bool, "Emit logs (default true)."),
        key(
            &["weight"],
            Shape::Number(NON_NEGATIVE),
            "Share of this scenario in a mixed `run` workload (default 1).",
        ),
        key(
            &["traffic"],
            Shape::Text,
            "How a run's rate varies: `constant` (default), `diurnal[:PERIOD[:AMPLITUDE]]` (24h, 0.5) or `bursty[:PERIOD[:DUTY[:FACTOR]]]` (60s, 0.1, 5), as `--traffic` takes it; `--traffic` overrides it.",
        ),
        key(
            &["root"],
            Shape::Step,
            "The root step: the span at the top of every trace.",
        ),
        key(
            &["session"],
            Shape::Mapping(&super::decode::session::SESSION),
            "Multi-turn conversations: each trace is one turn of a session of one end user; turns, think time, users, growing context, session evaluations.",
        ),
        key(
            &["spans"],
            Shape::Step,
            "Older spelling of `root`: a list holding exactly one step.",
        ),
        key(
            &["services"],
            Shape::Services,
            "The services the trace crosses, by service.name (default: one, the configured service).",
        ),
        key(
            &["models"],
            Shape::Models,
            "Model names mapped to their timing and price, over the bundled table (see `llm`).",
        ),
    ],
};

pub static STEP: Mapping = Mapping {
    name: "step",
    doc: "One step of the trace tree: a span type and how its instances are drawn.",
    keys: &[
        key(
            &["type", "span_type"],
            Shape::SpanType,
            "Span type, e.g. vendor.llm.call (default vendor.a2a.orchestrate).",
        ),
        key(
            &["latency"],
            Shape::Latency,
            "Duration in milliseconds: a number (mean), a {mean_ms, variance, spike_rate, spike_multiplier} mapping, or a distribution.",
        ),
        key(
            &["error"],
            Shape::Error,
            "Error rate, or an error model (default rate 0.02).",
        ),
        key(
            &["probability"],
            Shape::Number(PROBABILITY),
            "Chance that this child appears in a trace (default 1; children only).",
        ),
        key(
            &["count"],
            Shape::Count,
            "How many instances, one after another: a whole number, {min, max}, or a distribution with min/max (default 1; children only).",
        ),
        key(
            &["retry"],
            Shape::Retry,
            "Retry the step on failure: each attempt is its own span.",
        ),
        key(
            &["attributes"],
            Shape::Attributes,
            "Span attributes: constants, or {distribution: ...} mappings sampled per span.",
        ),
        key(
            &["children"],
            Shape::Steps,
            "Child steps, laid out one after another inside this span.",
        ),
        key(
            &["service"],
            Shape::Text,
            "The declared service this step runs in; children inherit it (root default: the first declared service).",
        ),
        key(
            &["remote"],
            Shape::Remote,
            "This step calls another service: its span is the CLIENT span, and the callee's SERVER span its child.",
        ),
        key(
            &["llm"],
            Shape::Llm,
            "How an LLM call behaves: time from tokens, streaming, caching, reasoning, max tokens (vendor.llm.call only).",
        ),
        key(
            &["failures"],
            Shape::Failures,
            "LLM failures of a vendor.llm.call step, each with its consequence in the tree (rate limit, context window, content filter, hallucinated tool call, timeout).",
        ),
        key(
            &["name"],
            Shape::Text,
            "A generic step's span name, instead of `type`; `{attribute}` placeholders are filled from the step's own attributes (constants, and at most one categorical: the name then follows the value drawn).",
        ),
        key(
            &["kind"],
            Shape::SpanKindName,
            "A generic step's span kind: internal, server, client, producer or consumer (default: its convention's usual kind, internal for none).",
        ),
        key(
            &["convention"],
            Shape::ConventionName,
            "A generic step's semantic convention: http, db, vector_store, messaging, rpc or none (default none).",
        ),
        key(
            &["id"],
            Shape::Text,
            "The step's id, which `links` of other steps name.",
        ),
        key(
            &["links"],
            Shape::Links,
            "Links from each span of this step: to a step id in the same trace (its latest emitted instance) or `previous_trace`.",
        ),
        key(
            &["parallel"],
            Shape::Bool,
            "Children start together (a fan-out) instead of one after another (default false).",
        ),
        key(
            &["evaluations"],
            Shape::List(&super::decode::session::EVALUATION),
            "Evaluations of this span, each sent as a `gen_ai.evaluation.result` log record tied to it.",
        ),
    ],
};

/// The longest a timeout may be: a trace's limit ([`super::timing::MAX_TRACE_DURATION_MS`]).
pub const TIMEOUT_MS: Range = Range {
    min: 0.0,
    max: super::timing::MAX_TRACE_DURATION_MS,
    min_exclusive: true,
    what: "milliseconds > 0, at most one day (86400000)",
};

pub static FAILURES: Mapping = Mapping {
    name: "failures",
    doc: "Failures peculiar to LLM calls, each a probability per attempt (together at most 1); any of them turns on finish reasons that agree with the tree for the whole scenario.",
    keys: &[
        key(
            &["rate_limit"],
            Shape::Chance(&RATE_LIMIT),
            "HTTP 429 (error.type \"429\"): the attempt fails fast, records its retry-after, and is retried after at least that long while attempts remain (the step's retry.max_attempts, else 3).",
        ),
        key(
            &["context_window_exceeded"],
            Shape::Number(PROBABILITY),
            "The prompt is over the context window (error.type context_length_exceeded): the call fails fast with no output tokens.",
        ),
        key(
            &["content_filter"],
            Shape::Number(PROBABILITY),
            "The content filter stops the output (finish reason content_filter, error.type content_filter): the turn ends, later siblings are not emitted and the parent fails with it.",
        ),
        key(
            &["hallucinated_tool_call"],
            Shape::Number(PROBABILITY),
            "The model asks for a tool that does not exist (finish reason tool_calls): a tool call to it fails as not found (error.type -32602) and a re-planning LLM call follows.",
        ),
        key(
            &["timeout"],
            Shape::Chance(&TIMEOUT),
            "The client gives up (error.type timeout): the span lasts exactly after_ms, then fails, with no output tokens.",
        ),
    ],
};

pub static RATE_LIMIT: Mapping = Mapping {
    name: "rate_limit",
    doc: "A rate limit: its probability per attempt and the retry-after the provider sends.",
    keys: &[
        key(
            &["probability"],
            Shape::Number(PROBABILITY),
            "Chance per attempt (default 0).",
        ),
        key(
            &["retry_after_ms"],
            Shape::Milliseconds,
            "The retry-after sent with the 429, in ms: a number or a distribution (default 1000).",
        ),
    ],
};

pub static TIMEOUT: Mapping = Mapping {
    name: "timeout",
    doc: "A timeout: its probability per attempt and the client's timeout.",
    keys: &[
        key(
            &["probability"],
            Shape::Number(PROBABILITY),
            "Chance per attempt (default 0).",
        ),
        key(
            &["after_ms"],
            Shape::Number(TIMEOUT_MS),
            "How long the call waits before it fails, in ms (default 30000).",
        ),
    ],
};

pub static LINK: Mapping = Mapping {
    name: "link",
    doc: "A link from a span to another span.",
    keys: &[
        key(
            &["to"],
            Shape::Text,
            "A step id in this trace (its latest emitted instance), or `previous_trace`: the root of the preceding trace.",
        ),
        key(
            &["attributes"],
            Shape::Constants,
            "Constant attributes of the link.",
        ),
    ],
};

pub static JITTER: Mapping = Mapping {
    name: "jitter_latency",
    doc: "The original's latency model: mean·(1 + variance·N(0,1)), with an occasional spike.",
    keys: &[
        key(
            &["mean_ms", "mean"],
            Shape::Number(NON_NEGATIVE),
            "Mean duration in ms (default 100).",
        ),
        key(
            &["variance"],
            Shape::Number(NON_NEGATIVE),
            "Relative spread (default 0.3).",
        ),
        key(
            &["spike_rate"],
            Shape::Number(PROBABILITY),
            "Chance of a latency spike (default 0.05).",
        ),
        key(
            &["spike_multiplier"],
            Shape::Number(NON_NEGATIVE),
            "Largest spike factor (default 3).",
        ),
    ],
};

/// The head of a sampled latency or attribute: `distribution:` and, beside it, that
/// distribution's parameters.
pub static SAMPLED: Mapping = Mapping {
    name: "sampled",
    doc: "A value drawn from a distribution.",
    keys: &[key(
        &["distribution"],
        Shape::DistributionName,
        "The distribution's name.",
    )],
};

pub static COUNT: Mapping = Mapping {
    name: "count",
    doc: "A variable number of instances: uniform in [min, max], or drawn from a distribution and clamped to [min, max].",
    keys: &[
        key(
            &["min"],
            Shape::Integer {
                min: 0,
                max: u32::MAX as i64,
            },
            "Fewest instances (default 1).",
        ),
        key(
            &["max"],
            Shape::Integer {
                min: 0,
                max: u32::MAX as i64,
            },
            "Most instances (default: min, or 1000 with a distribution).",
        ),
        key(
            &["distribution"],
            Shape::DistributionName,
            "Draw the count from this distribution (rounded, clamped to [min, max]).",
        ),
    ],
};

pub static MIXTURE_COMPONENT: Mapping = Mapping {
    name: "mixture_component",
    doc: "One weighted component of a mixture.",
    keys: &[
        key(
            &["weight"],
            Shape::Number(NON_NEGATIVE),
            "Relative weight (default 1).",
        ),
        key(
            &["distribution"],
            Shape::DistributionName,
            "The component's distribution.",
        ),
    ],
};

pub static ERROR: Mapping = Mapping {
    name: "error",
    doc: "How a step fails: its rate, the error types and how errors propagate.",
    keys: &[
        key(
            &["rate", "base_rate"],
            Shape::Number(PROBABILITY),
            "Chance that a span fails (default 0.02).",
        ),
        key(
            &["types"],
            Shape::Strings,
            "Error types to choose from (default: the seven built-in types).",
        ),
        key(
            &["type_weights"],
            Shape::Numbers(NON_NEGATIVE),
            "One weight per entry of `types` (default: equal).",
        ),
        key(
            &["retryable_types"],
            Shape::Strings,
            "Types that a retry may recover from (default timeout, upstream_5xx, rate_limit).",
        ),
        key(
            &["propagation"],
            Shape::Propagation,
            "Correlated failures: from the parent and to later siblings.",
        ),
    ],
};

pub static PROPAGATION: Mapping = Mapping {
    name: "propagation",
    doc: "Correlated failures.",
    keys: &[
        key(
            &["from_parent"],
            Shape::Number(PROBABILITY),
            "Chance to fail when the parent failed (default 0.8).",
        ),
        key(
            &["cascade_to_siblings"],
            Shape::Number(PROBABILITY),
            "Chance to fail when an earlier sibling failed (default 0.3).",
        ),
    ],
};

pub static RETRY: Mapping = Mapping {
    name: "retry",
    doc: "Retries of a failed step, each attempt its own span, with exponential backoff between them.",
    keys: &[
        key(
            &["enabled"],
            Shape::Bool,
            "Whether to retry (default true).",
        ),
        key(
            &["max_attempts"],
            Shape::Integer {
                min: 1,
                max: MAX_ATTEMPTS_LIMIT,
            },
            "Attempts at most, the first included (default 3).",
        ),
        key(
            &["force_initial_failure"],
            Shape::Bool,
            "The first attempt always fails (default false).",
        ),
        key(
            &["backoff_base_ms"],
            Shape::Number(NON_NEGATIVE),
            "Gap after the first failure, in ms (default 100).",
        ),
        key(
            &["backoff_multiplier"],
            Shape::Number(NON_NEGATIVE),
            "Each further gap is this many times the previous (default 2).",
        ),
        key(
            &["backoff_jitter"],
            Shape::Number(PROBABILITY),
            "Relative random spread of each gap (default 0.2).",
        ),
        key(
            &["success_rate_per_attempt"],
            Shape::Numbers(PROBABILITY),
            "Chance that attempt k succeeds is element k-1 (the last one beyond the list; default [0, 0.7, 0.85, 0.95]).",
        ),
    ],
};

pub static NORMAL: Mapping = Mapping {
    name: "normal",
    doc: "Normal distribution.",
    keys: &[
        key(
            &["mean", "mean_ms"],
            Shape::Number(ANY_NUMBER),
            "Mean (default 100).",
        ),
        key(
            &["variance"],
            Shape::Number(NON_NEGATIVE),
            "Relative spread, used when stddev is absent: stddev = |mean·variance| (default 0.3).",
        ),
        key(
            &["stddev"],
            Shape::Number(NON_NEGATIVE),
            "Standard deviation.",
        ),
    ],
};

pub static LOG_NORMAL: Mapping = Mapping {
    name: "log_normal",
    doc: "Log-normal distribution: right-skewed, the usual shape of latencies.",
    keys: &[
        key(
            &["median", "median_ms"],
            Shape::Number(POSITIVE),
            "Median (default 100).",
        ),
        key(
            &["sigma"],
            Shape::Number(NON_NEGATIVE),
            "Standard deviation of the logarithm: 0.5 tight, 0.8 moderate, 1.2 heavy tail (default 0.8).",
        ),
    ],
};

pub static EXPONENTIAL: Mapping = Mapping {
    name: "exponential",
    doc: "Exponential distribution.",
    keys: &[key(
        &["mean", "mean_ms"],
        Shape::Number(NON_NEGATIVE),
        "Mean (default 100).",
    )],
};

pub static UNIFORM: Mapping = Mapping {
    name: "uniform",
    doc: "Uniform distribution on [low, high].",
    keys: &[
        key(
            &["low", "min"],
            Shape::Number(ANY_NUMBER),
            "Lower bound (default 0, or the count's min).",
        ),
        key(
            &["high", "max"],
            Shape::Number(ANY_NUMBER),
            "Upper bound (default 1, or the count's max).",
        ),
    ],
};

pub static POISSON: Mapping = Mapping {
    name: "poisson",
    doc: "Poisson distribution (whole numbers).",
    keys: &[key(
        &["lambda", "mean"],
        Shape::Number(NON_NEGATIVE),
        "Mean (default 1).",
    )],
};

pub static GEOMETRIC: Mapping = Mapping {
    name: "geometric",
    doc: "Geometric distribution: trials until the first success (≥ 1).",
    keys: &[key(
        &["p"],
        Shape::Number(OPEN_PROBABILITY),
        "Chance of success per trial (default 0.5).",
    )],
};

pub static BERNOULLI: Mapping = Mapping {
    name: "bernoulli",
    doc: "1 with probability p, else 0.",
    keys: &[key(
        &["p", "probability"],
        Shape::Number(PROBABILITY),
        "Chance of 1 (default 0.5).",
    )],
};

pub static CATEGORICAL: Mapping = Mapping {
    name: "categorical",
    doc: "One of the listed values, by weight.",
    keys: &[
        key(
            &["values"],
            Shape::CategoricalValues,
            "A list of values, or a mapping of value to weight.",
        ),
        key(
            &["weights"],
            Shape::Numbers(NON_NEGATIVE),
            "One weight per value of a list (default: equal).",
        ),
    ],
};

pub static MIXTURE: Mapping = Mapping {
    name: "mixture",
    doc: "A weighted mixture of distributions.",
    keys: &[key(
        &["components"],
        Shape::Components,
        "The weighted components.",
    )],
};

/// Every distribution by its canonical name, with its parameters.
pub static DISTRIBUTIONS: [(&str, &Mapping); 9] = [
    ("normal", &NORMAL),
    ("log_normal", &LOG_NORMAL),
    ("exponential", &EXPONENTIAL),
    ("uniform", &UNIFORM),
    ("poisson", &POISSON),
    ("geometric", &GEOMETRIC),
    ("categorical", &CATEGORICAL),
    ("bernoulli", &BERNOULLI),
    ("mixture", &MIXTURE),
];

/// The canonical spelling of a `distribution:` value: case and `-`/`_` do not matter.
pub fn distribution_name(raw: &str) -> String {
    raw.to_lowercase().replace('-', "_")
}

/// Every mapping that has keys of its own (the distributions' included).
pub fn mappings() -> impl Iterator<Item = &'static Mapping> {
    [
        &DOCUMENT,
        &STEP,
        &JITTER,
        &SAMPLED,
        &COUNT,
        &MIXTURE_COMPONENT,
        &ERROR,
        &PROPAGATION,
        &RETRY,
        &super::services::SERVICE,
        &super::services::REMOTE,
        &super::llm::LLM,
        &super::llm::MODEL,
        &FAILURES,
        &RATE_LIMIT,
        &TIMEOUT,
        &LINK,
    ]
    .into_iter()
    .chain(super::decode::session::MAPPINGS)
    .chain(DISTRIBUTIONS.iter().map(|(_, m)| *m))
}

/// Every key accepted somewhere in a scenario, aliases included: the list the reference
/// documentation is tested against (tests/it/docs.rs). It is read off the tables above, which the
/// decoder reads keys through, so no second list of keys exists to drift out of date.
pub fn accepted_keys() -> std::collections::BTreeSet<&'static str> {
    mappings()
        .flat_map(|m| m.keys)
        .flat_map(|k| k.names.iter().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_keys_reach_every_kind_of_mapping() {
        let keys = accepted_keys();
        for key in [
            "spans",
            "span_type",
            "spike_multiplier",
            "stddev",
            "median_ms",
            "high",
            "lambda",
            "p",
            "probability",
            "weights",
            "components",
            "weight",
            "min",
            "base_rate",
            "retryable_types",
            "cascade_to_siblings",
            "success_rate_per_attempt",
            "backoff_jitter",
        ] {
            assert!(keys.contains(key), "{key} missing from {keys:?}");
        }
    }

    #[test]
    fn spellings_are_unique_within_each_mapping() {
        for m in mappings() {
            let mut names: Vec<&str> = m
                .keys
                .iter()
                .flat_map(|k| k.names.iter().copied())
                .collect();
            let all = names.len();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), all, "{} repeats a spelling", m.name);
        }
    }
}
