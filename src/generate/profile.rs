//! What the semantic-convention profile (`conventions::profile`) asks of a compiled plan: span
//! names as the conventions give them, renamed attribute keys, and the values only the current
//! conventions carry (an MCP session id, JSON-RPC request ids).
//!
//! A conventional name such as `chat gpt-4.1-mini` depends on the span's own attribute values,
//! which may be drawn per span (a categorical tool or model). Building the string per span was
//! rejected: names are interned handles, and the generator builds no string per span. So each
//! possible name is interned once here, per value the target attribute can take, and the
//! generator picks one by the value the span drew ([`SpanName::pick`]). A value drawn from a
//! continuous or generated source has no bounded set of names; such a span gets `first` alone,
//! as the conventions say when the target is not available.
//!
//! Renames act on the plan's table of strings: the key keeps its handle, so every reader that
//! interned the old key (derived metrics, logs, checks) still finds it, and every writer emits
//! the new one.

use super::plan::{AttrPlan, Plan};
use super::symbols::{Attr, AttrValue, Sym};
use crate::conventions::profile::{NameRule, name_rule};
use crate::conventions::{Profile, SpanNames};
use crate::scenario::SpanType;

/// A span's name: fixed, or chosen by the value of one of its attributes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum SpanName {
    Fixed(Sym),
    ByValue {
        key: Sym,
        /// The name for each value the attribute can take.
        names: Vec<(AttrValue, Sym)>,
        /// The name when the value is none of those.
        otherwise: Sym,
    },
}

impl SpanName {
    /// Every name a span can get, the fallback last.
    pub(crate) fn all(&self) -> Vec<Sym> {
        match self {
            SpanName::Fixed(name) => vec![*name],
            SpanName::ByValue {
                names, otherwise, ..
            } => names
                .iter()
                .map(|(_, name)| *name)
                .chain(std::iter::once(*otherwise))
                .collect(),
        }
    }

    /// The name of a span whose attributes are `attrs`.
    pub(crate) fn pick(&self, attrs: &[Attr]) -> Sym {
        match self {
            SpanName::Fixed(name) => *name,
            SpanName::ByValue {
                key,
                names,
                otherwise,
            } => attrs
                .iter()
                .find(|a| a.key == *key)
                .and_then(|a| names.iter().find(|(v, _)| *v == a.value))
                .map_or(*otherwise, |(_, name)| *name),
        }
    }
}

/// The values a planned attribute can take, when there is a known, finite set of them.
fn values(plans: &[AttrPlan], key: Sym) -> Option<Vec<AttrValue>> {
    match plans.iter().find(|p| p.key() == key)? {
        AttrPlan::Constant { value, .. } => Some(vec![*value]),
        AttrPlan::Sampled { choices, .. } if !choices.is_empty() => Some(choices.clone()),
        _ => None,
    }
}

impl Plan {
    /// The name of a span of `span_type` with planned attributes `plans`: `vendor` unless the
    /// profile asks for the conventions' names and the conventions name this type.
    pub(crate) fn span_name(
        &mut self,
        profile: &Profile,
        span_type: SpanType,
        plans: &[AttrPlan],
        vendor: Sym,
    ) -> SpanName {
        let rule = match (profile.span_names, name_rule(span_type)) {
            (SpanNames::Conventions, Some(rule)) => rule,
            _ => return SpanName::Fixed(vendor),
        };
        self.conventional_name(rule, plans)
            .unwrap_or(SpanName::Fixed(vendor))
    }

    fn conventional_name(&mut self, rule: NameRule, plans: &[AttrPlan]) -> Option<SpanName> {
        let first_key = self.intern(rule.first);
        let first = match values(plans, first_key)?.as_slice() {
            [AttrValue::Str(s)] => self.str(*s).to_string(),
            _ => return None,
        };
        let alone = self.intern(&first);
        let target_key = self.intern(rule.target);
        let Some(targets) = values(plans, target_key) else {
            return Some(SpanName::Fixed(alone));
        };
        let mut names = Vec::with_capacity(targets.len());
        for value in targets {
            if let AttrValue::Str(s) = value {
                let name = format!("{first} {}", self.str(s));
                names.push((value, self.intern(&name)));
            }
        }
        Some(match names.as_slice() {
            [(_, name)] => SpanName::Fixed(*name),
            _ => SpanName::ByValue {
                key: target_key,
                names,
                otherwise: alone,
            },
        })
    }

    /// Emits each key the profile renames under its new name.
    pub(crate) fn rename_keys(&mut self, renames: &[(&str, &str)]) {
        for (old, new) in renames {
            if let Some(sym) = self.lookup(old) {
                self.set_str(sym, new);
            }
        }
    }
}

/// The MCP session id of a trace whose session id is `session`: 32 hex digits that depend on
/// the session alone (so every trace of one conversation shares it) and draw nothing from the
/// trace's random stream (so the current profile keeps the seed profile's every draw).
pub(crate) fn mcp_session_bytes(session: &str) -> [u8; 16] {
    // FNV-1a, then two rounds of splitmix64 to spread it over 128 bits.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in session.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&splitmix(h).to_be_bytes());
    out[8..].copy_from_slice(&splitmix(h ^ 0x9E37_79B9_7F4A_7C15).to_be_bytes());
    out
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conventions::{Semconv, SpanKind};
    use crate::generate::testing;

    /// The plan of `yaml` under `profile` (as `testing::plan` does under the default).
    fn plan(yaml: &str, profile: Profile) -> Plan {
        let options = crate::scenario::LoadOptions::default();
        let (scenario, _) = crate::scenario::decode(yaml, "t.yaml", "t", &options).unwrap();
        let options = crate::generate::PlanOptions {
            prefix: "vendor".into(),
            tenants: vec!["t1".into(), "t2".into()],
            schema: None,
            service_name: "svc".into(),
            content: false,
            profile,
        };
        Plan::compile(&scenario, &options)
    }

    const SCENARIO: &str = "name: t\nroot:\n  type: vendor.a2a.orchestrate\n  children:\n    - type: vendor.llm.call\n      attributes: {gen_ai.usage.cache_creation.input_tokens: 5}\n    - type: vendor.mcp.tool.execute\n      attributes:\n        gen_ai.tool.name: {distribution: categorical, values: {a: 1, b: 1}}\n";

    #[test]
    fn the_current_profile_renames_keys_and_names_spans_by_their_values() {
        let latest = Profile {
            semconv: Semconv::GenaiLatest,
            span_names: SpanNames::Conventions,
        };
        let p = plan(SCENARIO, latest);
        let traces = testing::traces(&p, 3, 20);
        let mut names = std::collections::BTreeSet::new();
        for trace in &traces {
            for span in &trace.spans {
                let name = p.str(span.name).to_string();
                let keys: Vec<&str> = trace.attrs_of(span).iter().map(|a| p.str(a.key)).collect();
                if span.span_type == SpanType::LlmCall {
                    assert!(keys.contains(&"gen_ai.usage.cache_write.input_tokens"));
                    assert!(!keys.contains(&"gen_ai.usage.cache_creation.input_tokens"));
                    assert_eq!(name, "chat gpt-4.1-mini");
                }
                if span.span_type == SpanType::McpToolExecute {
                    assert_eq!(span.kind, SpanKind::Internal);
                }
                names.insert(name);
            }
        }
        for name in [
            "invoke_agent t",
            "execute_tool a",
            "execute_tool b",
            "tools/call a",
        ] {
            assert!(names.contains(name), "{name} not in {names:?}");
        }
        // The default profile: the key as written, the vendor names.
        let p = plan(SCENARIO, Profile::default());
        let trace = &testing::traces(&p, 3, 1)[0];
        let llm = trace
            .spans
            .iter()
            .find(|s| s.span_type == SpanType::LlmCall)
            .unwrap();
        assert_eq!(p.str(llm.name), "vendor.llm.call");
        let keys: Vec<&str> = trace.attrs_of(llm).iter().map(|a| p.str(a.key)).collect();
        assert!(keys.contains(&"gen_ai.usage.cache_creation.input_tokens"));
    }

    #[test]
    fn the_mcp_session_follows_the_session() {
        assert_eq!(mcp_session_bytes("sess_a"), mcp_session_bytes("sess_a"));
        assert_ne!(mcp_session_bytes("sess_a"), mcp_session_bytes("sess_b"));
    }

    #[test]
    fn a_name_by_value_falls_back_to_first_alone() {
        let name = SpanName::ByValue {
            key: Sym(1),
            names: vec![(AttrValue::Str(Sym(2)), Sym(3))],
            otherwise: Sym(4),
        };
        let attr = |v| Attr {
            key: Sym(1),
            value: AttrValue::Str(Sym(v)),
        };
        assert_eq!(name.pick(&[attr(2)]), Sym(3));
        assert_eq!(name.pick(&[attr(9)]), Sym(4));
        assert_eq!(name.pick(&[]), Sym(4));
        assert_eq!(SpanName::Fixed(Sym(7)).pick(&[]), Sym(7));
    }
}
