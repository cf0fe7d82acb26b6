//! Semantic-convention profiles: which edition of the GenAI conventions the spans follow, and
//! whether span names are the seed's vendor names or the conventions' own.
//!
//! The GenAI conventions left the core repository after v1.41 and have changed since, in
//! `semantic-conventions-genai` (which has made no release: its schema URL ends in `-dev`). A
//! dashboard built on what instrumentations emit today must not see its data change under it,
//! so the default profile, [`Semconv::Seed`], is exactly what this tool has always sent; the
//! current conventions are one switch away ([`Semconv::GenaiLatest`]), as the conventions
//! themselves advise instrumentations (`OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`).
//!
//! A profile is data over the table in `mod.rs`: per span type, a different span kind, operation,
//! added and removed attributes ([`Override`]), plus attribute renames and the scope's schema
//! URL. The plan reads a span type's kind, operation and defaults through [`Semconv`], so no code
//! path of the generator asks which profile is on. A second table of conventions per profile was
//! the alternative rejected: eleven of twelve rows would repeat the first table, and every change
//! to a shared row would have to be made twice.
//!
//! Span names are a separate switch ([`SpanNames`]) because they are what dashboards and alerts
//! key on: a team may want the current attributes and keep its vendor names, or the reverse.
//! A conventional name is `{first} {target}` ([`NameRule`]) from the span's own attribute values.

use super::{DefaultAttribute, PerTrace, SpanKind, Value, of};
use crate::scenario::SpanType;

/// Which edition of the GenAI semantic conventions the spans follow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Semconv {
    /// What this tool has always sent: the GenAI conventions as instrumentations emit them today
    /// (core v1.37 to v1.41), the agent turn as a SERVER span, the seed's vendor attributes.
    #[default]
    Seed,
    /// `semantic-conventions-genai` as of its newest state read (development, unreleased).
    GenaiLatest,
}

/// The schema URL of the current GenAI conventions (`model/manifest.yaml` of
/// `semantic-conventions-genai`; no release has been made, hence `-dev`).
pub const GENAI_LATEST_SCHEMA_URL: &str = "https://opentelemetry.io/schemas/gen-ai-dev/1.42.0-dev";

/// The MCP protocol revision the tool calls report (`mcp.protocol.version`).
pub const MCP_PROTOCOL_VERSION: &str = "2025-11-25";

impl Semconv {
    pub const ALL: [Semconv; 2] = [Semconv::Seed, Semconv::GenaiLatest];

    /// The profile's name, as `--semconv` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Semconv::Seed => "seed",
            Semconv::GenaiLatest => "genai-latest",
        }
    }

    /// A profile by name, or by the conventions' own opt-in word `gen_ai_latest_experimental`.
    pub fn parse(text: &str) -> Option<Semconv> {
        match text.trim() {
            "seed" | "default" => Some(Semconv::Seed),
            "genai-latest" | "gen_ai_latest_experimental" => Some(Semconv::GenaiLatest),
            _ => None,
        }
    }

    /// The schema URL of the instrumentation scope: none for the seed profile (as before).
    pub fn schema_url(self) -> Option<&'static str> {
        match self {
            Semconv::Seed => None,
            Semconv::GenaiLatest => Some(GENAI_LATEST_SCHEMA_URL),
        }
    }

    /// Attribute keys the profile emits under another name: (old, new).
    pub fn renames(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Semconv::Seed => &[],
            Semconv::GenaiLatest => GENAI_LATEST_RENAMES,
        }
    }

    fn overrides(self) -> &'static [Override] {
        match self {
            Semconv::Seed => &[],
            Semconv::GenaiLatest => GENAI_LATEST,
        }
    }

    fn find(self, t: SpanType) -> Option<&'static Override> {
        self.overrides().iter().find(|o| o.span_type == t)
    }

    /// The span kind of `t` under this profile.
    pub fn kind(self, t: SpanType) -> SpanKind {
        self.find(t).and_then(|o| o.kind).unwrap_or(of(t).kind)
    }

    /// The `gen_ai.operation.name` of `t` under this profile.
    pub fn operation(self, t: SpanType) -> Option<&'static str> {
        self.find(t).and_then(|o| o.operation).or(of(t).operation)
    }

    /// The conventional attributes of `t` under this profile, in emitted order: the table's,
    /// less the removed ones, then the added ones.
    pub fn defaults(self, t: SpanType) -> impl Iterator<Item = &'static DefaultAttribute> {
        let change = self.find(t);
        let removed: &[&str] = change.map_or(&[], |o| o.remove);
        let added: &[DefaultAttribute] = change.map_or(&[], |o| o.add);
        of(t)
            .defaults
            .iter()
            .filter(move |d| !removed.contains(&d.key))
            .chain(added)
    }
}

/// What a profile changes of one span type.
#[derive(Debug)]
pub struct Override {
    pub span_type: SpanType,
    pub kind: Option<SpanKind>,
    pub operation: Option<&'static str>,
    /// Attributes after the table's own.
    pub add: &'static [DefaultAttribute],
    /// Keys of the table's attributes left out.
    pub remove: &'static [&'static str],
}

const fn change(span_type: SpanType) -> Override {
    Override {
        span_type,
        kind: None,
        operation: None,
        add: &[],
        remove: &[],
    }
}

const fn d(key: &'static str, value: Value) -> DefaultAttribute {
    DefaultAttribute {
        key,
        value,
        when: super::When::Always,
    }
}

/// The MCP client span of one try of a tool call (`mcp.client` in the MCP conventions).
const MCP_CLIENT: &[DefaultAttribute] = &[
    d("mcp.session.id", Value::PerTrace(PerTrace::McpSessionId)),
    d("mcp.protocol.version", Value::Str(MCP_PROTOCOL_VERSION)),
    d(
        "jsonrpc.request.id",
        Value::PerTrace(PerTrace::JsonRpcRequestId),
    ),
];

/// `semantic-conventions-genai` (gen-ai-agent-spans.md, gen-ai-spans.md, mcp.md; changelog
/// fragments 322 and 440), over what the seed sends. `docs/compatibility.md` lists each change.
static GENAI_LATEST: &[Override] = &[
    // The agent turn runs in process: `invoke_agent` INTERNAL, whose provider is required;
    // `gen_ai.agent.version` is no longer on the internal span (#322).
    Override {
        kind: Some(SpanKind::Internal),
        add: &[d("gen_ai.provider.name", Value::Provider)],
        ..change(SpanType::A2aOrchestrate)
    },
    // The planning step is the `plan` operation (#97); named `plan` alone, since the step does
    // not know which agent's turn it plans.
    Override {
        operation: Some("plan"),
        ..change(SpanType::Planner)
    },
    // The tool call is `execute_tool`, INTERNAL; each try is the MCP client span below it.
    Override {
        kind: Some(SpanKind::Internal),
        remove: &["mcp.method.name"],
        ..change(SpanType::McpToolExecute)
    },
    Override {
        add: MCP_CLIENT,
        ..change(SpanType::McpToolExecuteAttempt)
    },
    // A retrieval is a call to a vector store: CLIENT.
    Override {
        kind: Some(SpanKind::Client),
        ..change(SpanType::RagRetrieve)
    },
    // A remote agent: `invoke_agent` CLIENT, with its provider and version.
    Override {
        add: &[
            d("gen_ai.provider.name", Value::Provider),
            d("gen_ai.agent.version", Value::Str("1.0.0")),
        ],
        ..change(SpanType::A2aCall)
    },
];

/// Attributes renamed in `semantic-conventions-genai` (#440).
static GENAI_LATEST_RENAMES: &[(&str, &str)] = &[(
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_write.input_tokens",
)];

/// Whether span names are the seed's vendor names or the conventions' own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SpanNames {
    /// `vendor.llm.call`, `vendor.mcp.tool.execute`, ...: the seed's names.
    #[default]
    Vendor,
    /// `chat gpt-4.1-mini`, `execute_tool get_weather`, `invoke_agent booking-agent`, ...
    Conventions,
}

impl SpanNames {
    pub fn name(self) -> &'static str {
        match self {
            SpanNames::Vendor => "vendor",
            SpanNames::Conventions => "conventions",
        }
    }

    pub fn parse(text: &str) -> Option<SpanNames> {
        match text.trim() {
            "vendor" => Some(SpanNames::Vendor),
            "conventions" | "semconv" => Some(SpanNames::Conventions),
            _ => None,
        }
    }
}

/// A span name as the conventions give it: the value of `first`, a space and the value of
/// `target` (`{gen_ai.operation.name} {gen_ai.request.model}`); `first` alone when the span has
/// no `target`, and the vendor name when it has no `first`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameRule {
    pub first: &'static str,
    pub target: &'static str,
}

const fn op(target: &'static str) -> Option<NameRule> {
    Some(NameRule {
        first: "gen_ai.operation.name",
        target,
    })
}

/// The conventional name of span type `t`, if the conventions name it (the seed's own steps,
/// such as `response.compose` or `cp.request`, keep their names).
pub fn name_rule(t: SpanType) -> Option<NameRule> {
    match t {
        SpanType::LlmCall | SpanType::LlmEmbeddings => op("gen_ai.request.model"),
        SpanType::McpToolExecute => op("gen_ai.tool.name"),
        // The MCP client span: `{mcp.method.name} {target}`, e.g. `tools/call get_weather`.
        SpanType::McpToolExecuteAttempt => Some(NameRule {
            first: "mcp.method.name",
            target: "gen_ai.tool.name",
        }),
        SpanType::A2aOrchestrate | SpanType::A2aCall | SpanType::Planner => op("gen_ai.agent.name"),
        SpanType::RagRetrieve => op("gen_ai.data_source.id"),
        SpanType::TaskExecute
        | SpanType::LlmToolResponseBridge
        | SpanType::ResponseCompose
        | SpanType::CpRequest
        | SpanType::Generic => None,
    }
}

/// Both switches: what a run's spans follow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    pub semconv: Semconv,
    pub span_names: SpanNames,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_profile_is_the_table() {
        for t in SpanType::ALL {
            let s = Semconv::Seed;
            assert_eq!(s.kind(t), of(t).kind, "{t}");
            assert_eq!(s.operation(t), of(t).operation, "{t}");
            let keys: Vec<&str> = s.defaults(t).map(|d| d.key).collect();
            let table: Vec<&str> = of(t).defaults.iter().map(|d| d.key).collect();
            assert_eq!(keys, table, "{t}");
        }
        assert_eq!(Semconv::Seed.schema_url(), None);
        assert!(Semconv::Seed.renames().is_empty());
    }

    #[test]
    fn genai_latest_follows_the_current_conventions() {
        let g = Semconv::GenaiLatest;
        assert_eq!(g.kind(SpanType::A2aOrchestrate), SpanKind::Internal);
        assert_eq!(g.kind(SpanType::A2aCall), SpanKind::Client);
        assert_eq!(g.kind(SpanType::McpToolExecute), SpanKind::Internal);
        assert_eq!(g.kind(SpanType::McpToolExecuteAttempt), SpanKind::Client);
        assert_eq!(g.operation(SpanType::Planner), Some("plan"));
        let keys = |t| g.defaults(t).map(|d| d.key).collect::<Vec<_>>();
        let attempt = keys(SpanType::McpToolExecuteAttempt);
        for key in [
            "mcp.session.id",
            "mcp.protocol.version",
            "jsonrpc.request.id",
        ] {
            assert!(attempt.contains(&key), "{key}");
        }
        assert!(!keys(SpanType::McpToolExecute).contains(&"mcp.method.name"));
        assert!(keys(SpanType::A2aCall).contains(&"gen_ai.agent.version"));
        assert!(!keys(SpanType::A2aOrchestrate).contains(&"gen_ai.agent.version"));
        assert_eq!(g.schema_url(), Some(GENAI_LATEST_SCHEMA_URL));
        // Every override names a distinct span type.
        for (i, o) in GENAI_LATEST.iter().enumerate() {
            assert!(GENAI_LATEST[..i].iter().all(|p| p.span_type != o.span_type));
        }
    }

    #[test]
    fn names_parse_both_ways() {
        for s in Semconv::ALL {
            assert_eq!(Semconv::parse(s.name()), Some(s));
        }
        assert_eq!(
            Semconv::parse("gen_ai_latest_experimental"),
            Some(Semconv::GenaiLatest)
        );
        assert_eq!(Semconv::parse("v2"), None);
        for n in [SpanNames::Vendor, SpanNames::Conventions] {
            assert_eq!(SpanNames::parse(n.name()), Some(n));
        }
        // Every rule names attributes the type carries under the current profile.
        let g = Semconv::GenaiLatest;
        for t in SpanType::ALL {
            if let Some(rule) = name_rule(t) {
                let keys: Vec<&str> = g.defaults(t).map(|d| d.key).collect();
                // The planner has no agent name: it is named by its operation alone.
                let target = keys.contains(&rule.target) || t == SpanType::Planner;
                assert!(target, "{t}: {keys:?}");
                let first = keys.contains(&rule.first)
                    || (rule.first == "gen_ai.operation.name" && g.operation(t).is_some());
                assert!(first, "{t}");
            }
        }
    }
}
