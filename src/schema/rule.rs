//! How an attribute's value is generated, as data: the original's order of precedence turned into
//! a [`ValueRule`] the plan compiler builds a sampler from, once per span type.
//!
//! The order is the original's: (scenario override, applied by the plan compiler), the schema
//! `default`, a choice from `allowed_values`, a per-trace context value chosen by name, a hash or
//! redaction marker chosen by name, a choice from `examples`, then a fallback by type and name.
//! Returning a rule rather than a value keeps randomness out of this module: the generator draws
//! from its own per-trace stream, so the same seed gives the same telemetry. Drawing values here
//! (as the original did) was rejected for that reason and because it would redo the name matching
//! for every span.
//!
//! One deliberate departure: attributes that state the span's outcome ([`is_outcome_attribute`])
//! must agree with the sampled error, so the generator sets them from the outcome, using
//! [`AttributeDef::outcome_values`] for the schema's own spelling of success and failure, instead
//! of drawing them independently (which gave the original `error.type` on OK spans).

use super::{AttributeDef, AttributeType};
use crate::yaml::Literal;

/// How one attribute's value is produced.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueRule {
    /// The schema `default`.
    Constant(Literal),
    /// A uniform choice: `allowed_values`, else `examples` (or the HTTP codes of an int `*code*`).
    OneOf(Vec<Literal>),
    /// A value of the trace's context, chosen by the attribute's name.
    Context(ContextValue),
    /// Names containing `hash`: `sha256:<32 hex>`.
    Hash,
    /// Names containing `redacted`: the text `[REDACTED]`.
    Redacted,
    /// The string fallback.
    RandomString { style: StringStyle },
    /// The int fallback: uniform over `min..=max` (both inclusive).
    RandomInt { min: i64, max: i64 },
    /// The double fallback: uniform over `min..max`. The original rounded to 3 decimals for
    /// confidence/score/rate and 2 otherwise.
    RandomDouble { min: f64, max: f64 },
    /// The boolean fallback: a coin flip.
    RandomBool,
    /// `type: any` with nothing to draw from: the attribute is not set (the original produced
    /// `None`, which the SDK dropped).
    Omit,
}

/// Context values, the same for every span of a trace (or of the process).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContextValue {
    /// `*tenant.id`: the trace's tenant.
    TenantId,
    /// `*session.id` and `gen_ai.conversation.id`: `sess_<12 hex>`.
    SessionId,
    /// `*request.id`: `req_<12 hex>`.
    RequestId,
    /// `*enduser.id`, `*enduser.pseudo.id`: `usr_sha256:<16 hex>`.
    EnduserId,
    /// `*turn.index`: the iteration index mod 10.
    TurnIndex,
    /// `*route`: `default`.
    Route,
    /// `*schema.version`: [`Schema::version`](super::Schema::version).
    SchemaVersion,
    /// `service.name`: the configured service name.
    ServiceName,
    /// `service.version`: the simulator's service version.
    ServiceVersion,
}

/// The string fallback's shapes, chosen by name (case-insensitively, first match).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StringStyle {
    /// The name contains `id`: `<last dot-separated segment of the name>_<8 hex>`. (This also
    /// catches names such as `gen_ai.provider.name`, as in the original.)
    Id,
    /// The name contains `version`: a random `x.y.z` with x in 1..=5, y and z in 0..=9.
    Version,
    /// The name contains `name`: `name_<6 lower-case letters>`.
    Name,
    /// Anything else: `value_<8 lower-case letters>`.
    Other,
}

/// Int fallbacks, checked in this order against the lower-cased name. Latency follows the
/// original's `max(1, N(200, 80))` as its ±2σ range; the rest are the original's ranges.
const INT_RANGES: [(&[&str], i64, i64); 5] = [
    (&["latency", "duration"], 40, 360),
    (&["count"], 1, 100),
    (&["tokens"], 50, 2000),
    (&["size", "bytes"], 100, 10_000),
    (&["index"], 0, 10),
];
/// Any other int name.
const INT_DEFAULT: (i64, i64) = (0, 1000);
/// Int names containing `code` but not `status`: the original's HTTP status codes.
const HTTP_CODES: [i64; 8] = [200, 201, 400, 401, 403, 404, 500, 503];

/// Spellings of success in outcome attributes, most preferred first (compared case-insensitively).
const SUCCESS_WORDS: [&str; 11] = [
    "success",
    "ok",
    "succeeded",
    "successful",
    "allowed",
    "allow",
    "pass",
    "passed",
    "valid",
    "completed",
    "true",
];
/// Spellings of failure, most preferred first. `error` comes before `blocked`: a failed
/// control-plane request is a runtime error, not a policy block.
const FAILURE_WORDS: [&str; 12] = [
    "error",
    "failure",
    "failed",
    "fail",
    "false",
    "blocked",
    "block",
    "denied",
    "deny",
    "rejected",
    "invalid",
    "unsuccessful",
];

/// `name` is `suffix` or ends with `.suffix` (the original's name matching).
fn matches(name: &str, suffix: &str) -> bool {
    super::has_suffix(name, suffix)
}

/// The context value an attribute named `name` takes when it has no default or allowed values.
pub fn context_value(name: &str) -> Option<ContextValue> {
    use ContextValue::*;
    Some(if matches(name, "tenant.id") {
        TenantId
    } else if matches(name, "session.id") || name == "gen_ai.conversation.id" {
        SessionId
    } else if matches(name, "request.id") {
        RequestId
    } else if name.contains("enduser.id") || name.contains("enduser.pseudo.id") {
        EnduserId
    } else if matches(name, "turn.index") {
        TurnIndex
    } else if matches(name, "route") {
        Route
    } else if matches(name, "schema.version") {
        SchemaVersion
    } else if name == "service.name" {
        ServiceName
    } else if name == "service.version" {
        ServiceVersion
    } else {
        return None;
    })
}

/// Whether attribute `name` states the span's outcome, so the generator sets it from the sampled
/// error (or leaves it out) instead of from the schema: `error.type` (and `*.error.type`, such as
/// `a2a.error.type`), `*.status.code`, `*.status.result`, `*.outcome` and `exception.*`.
pub fn is_outcome_attribute(name: &str) -> bool {
    matches(name, "error.type")
        || matches(name, "status.code")
        || matches(name, "status.result")
        || matches(name, "outcome")
        || name.starts_with("exception.")
}

impl AttributeDef {
    /// How this attribute's value is generated, in the original's order of precedence (the
    /// scenario override, which comes first, is the plan compiler's).
    pub fn rule(&self) -> ValueRule {
        if let Some(value) = &self.default {
            return ValueRule::Constant(value.clone());
        }
        if !self.allowed_values.is_empty() {
            return ValueRule::OneOf(self.allowed_values.clone());
        }
        if let Some(context) = context_value(&self.name) {
            return ValueRule::Context(context);
        }
        if self.name.contains("hash") {
            return ValueRule::Hash;
        }
        if self.name.contains("redacted") {
            return ValueRule::Redacted;
        }
        if !self.examples.is_empty() {
            return ValueRule::OneOf(self.examples.clone());
        }
        fallback(self.ty, &self.name)
    }

    /// Whether this is an outcome attribute (see [`is_outcome_attribute`]).
    pub fn is_outcome(&self) -> bool {
        is_outcome_attribute(&self.name)
    }

    /// The values this attribute takes on success and on failure, in the schema's own spelling:
    /// the most preferred success-like (`success`, `OK`, `ALLOWED`, `true`, …) and failure-like
    /// (`ERROR`, `failure`, `FAILED`, `false`, `BLOCKED`, …) entries of `allowed_values` (else of
    /// `examples`); `(true, false)` for a boolean with no such list. `None` when the schema does
    /// not list both, e.g. `error.type`, whose value is the error itself.
    pub fn outcome_values(&self) -> Option<(Literal, Literal)> {
        let pool = if self.allowed_values.is_empty() {
            &self.examples
        } else {
            &self.allowed_values
        };
        if pool.is_empty() {
            return (self.ty == AttributeType::Boolean)
                .then_some((Literal::Bool(true), Literal::Bool(false)));
        }
        Some((pick(pool, &SUCCESS_WORDS)?, pick(pool, &FAILURE_WORDS)?))
    }
}

/// The entry of `pool` matching the earliest of `words`.
fn pick(pool: &[Literal], words: &[&str]) -> Option<Literal> {
    words.iter().find_map(|word| {
        pool.iter()
            .find(|value| match value {
                Literal::Str(s) => s.eq_ignore_ascii_case(word),
                Literal::Bool(b) => b.to_string() == *word,
                _ => false,
            })
            .cloned()
    })
}

/// The type-based fallback.
fn fallback(ty: AttributeType, name: &str) -> ValueRule {
    let lower = name.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    match ty {
        AttributeType::String => ValueRule::RandomString {
            style: if has(&["id"]) {
                StringStyle::Id
            } else if has(&["version"]) {
                StringStyle::Version
            } else if has(&["name"]) {
                StringStyle::Name
            } else {
                StringStyle::Other
            },
        },
        AttributeType::Int => {
            if let Some((_, min, max)) = INT_RANGES.iter().find(|(words, _, _)| has(words)) {
                return ValueRule::RandomInt {
                    min: *min,
                    max: *max,
                };
            }
            if has(&["code"]) && !has(&["status"]) {
                return ValueRule::OneOf(HTTP_CODES.iter().map(|c| Literal::Int(*c)).collect());
            }
            ValueRule::RandomInt {
                min: INT_DEFAULT.0,
                max: INT_DEFAULT.1,
            }
        }
        AttributeType::Double => {
            let (min, max) = if has(&["confidence", "score"]) {
                (0.5, 1.0)
            } else if has(&["rate"]) {
                (0.0, 1.0)
            } else {
                (0.0, 100.0)
            };
            ValueRule::RandomDouble { min, max }
        }
        AttributeType::Boolean => ValueRule::RandomBool,
        AttributeType::Any => ValueRule::Omit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Category, Requirement};
    use crate::yaml::Mark;

    fn def(name: &str, ty: AttributeType) -> AttributeDef {
        AttributeDef {
            name: name.into(),
            section: "x_attributes".into(),
            ty,
            requirement: Requirement::Optional,
            category: Category::Metadata,
            description: String::new(),
            allowed_values: Vec::new(),
            examples: Vec::new(),
            default: None,
            sensitive: false,
            applies_to: Vec::new(),
            mark: Mark::default(),
        }
    }

    fn s(text: &str) -> Literal {
        Literal::Str(text.into())
    }

    fn rule(name: &str, ty: AttributeType) -> ValueRule {
        def(name, ty).rule()
    }

    #[test]
    fn precedence_default_then_allowed_then_context_then_name_then_examples() {
        let mut d = def("vendor.tenant.id", AttributeType::String);
        d.examples = vec![s("ex")];
        assert_eq!(d.rule(), ValueRule::Context(ContextValue::TenantId));
        d.allowed_values = vec![s("a"), s("b")];
        assert_eq!(d.rule(), ValueRule::OneOf(vec![s("a"), s("b")]));
        d.default = Some(s("fixed"));
        assert_eq!(d.rule(), ValueRule::Constant(s("fixed")));

        // The name rules come before examples, examples before the type fallback.
        let mut d = def("a2a.input.hash", AttributeType::String);
        d.examples = vec![s("ex")];
        assert_eq!(d.rule(), ValueRule::Hash);
        let mut d = def("payload.redacted", AttributeType::String);
        d.examples = vec![s("ex")];
        assert_eq!(d.rule(), ValueRule::Redacted);
        let mut d = def("vendor.planner.output.task.count", AttributeType::Int);
        d.examples = vec![Literal::Int(0), Literal::Int(6)];
        assert_eq!(
            d.rule(),
            ValueRule::OneOf(vec![Literal::Int(0), Literal::Int(6)])
        );
    }

    #[test]
    fn context_values_by_name() {
        use ContextValue::*;
        let cases = [
            ("tenant.id", TenantId),
            ("vendor.tenant.id", TenantId),
            ("gentoro.session.id", SessionId),
            ("gen_ai.conversation.id", SessionId),
            ("vendor.request.id", RequestId),
            ("enduser.id", EnduserId),
            ("vendor.enduser.pseudo.id", EnduserId),
            ("vendor.turn.index", TurnIndex),
            ("vendor.route", Route),
            ("vendor.schema.version", SchemaVersion),
            ("service.name", ServiceName),
            ("service.version", ServiceVersion),
        ];
        for (name, expected) in cases {
            assert_eq!(
                rule(name, AttributeType::String),
                ValueRule::Context(expected),
                "{name}"
            );
        }
        // Whole segments only: `xtenant.id` is not a tenant id.
        assert_eq!(context_value("xtenant.id"), None);
        assert_eq!(context_value("service.namespace"), None);
    }

    #[test]
    fn string_fallbacks() {
        let style = |name| match rule(name, AttributeType::String) {
            ValueRule::RandomString { style } => style,
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(style("vendor.mcp.server.uuid"), StringStyle::Id);
        assert_eq!(style("gen_ai.provider.name"), StringStyle::Id);
        assert_eq!(style("a2a.payload.schema.Version"), StringStyle::Version);
        assert_eq!(style("gen_ai.agent.name"), StringStyle::Name);
        assert_eq!(style("vendor.span.class"), StringStyle::Other);
    }

    #[test]
    fn int_double_bool_and_any_fallbacks() {
        use AttributeType::*;
        let int = |min, max| ValueRule::RandomInt { min, max };
        assert_eq!(rule("a2a.latency_ms", Int), int(40, 360));
        assert_eq!(rule("task.duration", Int), int(40, 360));
        assert_eq!(rule("vendor.retry.count", Int), int(1, 100));
        assert_eq!(rule("gen_ai.usage.input_tokens", Int), int(50, 2000));
        assert_eq!(rule("a2a.payload.size_bytes", Int), int(100, 10_000));
        assert_eq!(rule("vendor.mcp.attempt.index", Int), int(0, 10));
        assert_eq!(rule("other.number", Int), int(0, 1000));
        assert_eq!(rule("http.status_code", Int), int(0, 1000));
        match rule("upstream.code", Int) {
            ValueRule::OneOf(codes) => assert!(codes.contains(&Literal::Int(503))),
            other => panic!("{other:?}"),
        }
        let double = |min, max| ValueRule::RandomDouble { min, max };
        assert_eq!(rule("planning.confidence", Double), double(0.5, 1.0));
        assert_eq!(rule("eval.score", Double), double(0.5, 1.0));
        assert_eq!(rule("cache.hit_rate", Double), double(0.0, 1.0));
        assert_eq!(
            rule("gen_ai.request.temperature", Double),
            double(0.0, 100.0)
        );
        assert_eq!(rule("a.flag", Boolean), ValueRule::RandomBool);
        assert_eq!(rule("gen_ai.input.messages", Any), ValueRule::Omit);
    }

    #[test]
    fn outcome_attributes() {
        for name in [
            "error.type",
            "a2a.error.type",
            "vendor.turn.status.code",
            "vendor.turn.status.result",
            "vendor.a2a.outcome",
            "vendor.step.outcome",
            "exception.message",
        ] {
            assert!(is_outcome_attribute(name), "{name}");
        }
        for name in [
            "http.response.status_code",
            "vendor.outcomes",
            "error.types",
            "vendor.step.outcome.cp",
        ] {
            assert!(!is_outcome_attribute(name), "{name}");
        }
    }

    #[test]
    fn outcome_values_come_from_the_schemas_own_spelling() {
        let with = |ty, values: Vec<Literal>| {
            let mut d = def("x.outcome", ty);
            d.allowed_values = values;
            d.outcome_values()
        };
        assert_eq!(
            with(AttributeType::String, vec![s("SUCCESS"), s("ERROR")]),
            Some((s("SUCCESS"), s("ERROR")))
        );
        assert_eq!(
            with(
                AttributeType::String,
                vec![s("success"), s("partial"), s("error")]
            ),
            Some((s("success"), s("error")))
        );
        assert_eq!(
            with(
                AttributeType::String,
                vec![s("ALLOWED"), s("FLAGGED"), s("BLOCKED"), s("ERROR")]
            ),
            Some((s("ALLOWED"), s("ERROR")))
        );
        assert_eq!(
            with(AttributeType::String, vec![s("allowed"), s("blocked")]),
            Some((s("allowed"), s("blocked")))
        );
        assert_eq!(
            with(AttributeType::String, vec![s("success"), s("partial")]),
            None
        );
        assert_eq!(
            with(AttributeType::Boolean, vec![]),
            Some((Literal::Bool(true), Literal::Bool(false)))
        );
        assert_eq!(
            with(
                AttributeType::Boolean,
                vec![Literal::Bool(false), Literal::Bool(true)]
            ),
            Some((Literal::Bool(true), Literal::Bool(false)))
        );
        assert_eq!(with(AttributeType::String, vec![]), None);
        let mut d = def("vendor.step.outcome", AttributeType::String);
        d.examples = vec![s("ok"), s("failed")];
        assert_eq!(d.outcome_values(), Some((s("ok"), s("failed"))));
    }
}
