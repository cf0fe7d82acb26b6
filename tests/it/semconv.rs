//! The semantic-convention profiles, as the independent judge decodes them: `--semconv
//! genai-latest` changes exactly what docs/compatibility.md says (span kinds, MCP and agent
//! attributes, the scope's schema URL) and draws nothing more, so the traces keep their ids,
//! trees and durations; the default profile is what the tool always sent; `--span-names
//! conventions` names spans by their own attribute values.
//!
//! The byte-for-byte guard of the default profile is `scripts/fingerprint`; these tests say
//! which properties the current profile has, and that the default has none of them.

use crate::common::{Received, Span, agent_scenarios, bin, send_to_judge, text};
use std::collections::{BTreeMap, BTreeSet};

const GENAI_SCHEMA_URL: &str = "https://opentelemetry.io/schemas/gen-ai-dev/1.42.0-dev";

/// Every bundled scenario, mixed, with retries, tool calls, retrieval and remote agents.
fn send(extra: &[&str], envs: &[(&str, &str)]) -> Received {
    let dir = agent_scenarios();
    let dir = dir.path().to_str().unwrap();
    let mut args = vec!["run", "--count", "150", "--seed", "1515", "--interval", "0"];
    args.extend(["--scenarios-dir", dir]);
    args.extend_from_slice(extra);
    let mut all = vec![("TELEMETRY_TENANT_UUIDS", "t-a")];
    all.extend_from_slice(envs);
    send_to_judge(&args, &all)
}

/// The span type a span was drawn from, whatever its name: the vendor class, else the
/// operation of the seed's unprefixed types.
fn span_type(s: &Span) -> String {
    if let Some(class) = s.attr_str("vendor.span.class") {
        return class.to_string();
    }
    match s.attr_str("gen_ai.operation.name") {
        Some("retrieval") => "rag.retrieve".into(),
        Some("invoke_agent") => "a2a.call".into(),
        _ => "cp.request".into(),
    }
}

/// Each span's id with its type, kind, duration and parent: the shape of the run.
fn shape(got: &Received) -> BTreeMap<String, (String, u64, String)> {
    got.spans
        .iter()
        .map(|s| {
            let value = (span_type(s), s.duration_ns(), s.parent_span_id.clone());
            (format!("{}/{}", s.trace_id, s.span_id), value)
        })
        .collect()
}

fn kinds(got: &Received) -> BTreeMap<String, BTreeSet<i64>> {
    let mut out: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for s in &got.spans {
        out.entry(span_type(s)).or_default().insert(s.kind);
    }
    out
}

/// Keys only the current profile adds (`mcp.protocol.version` too, but one bundled scenario
/// writes it itself).
const NEW_KEYS: [&str; 3] = [
    "mcp.session.id",
    "jsonrpc.request.id",
    "gen_ai.agent.version",
];

#[test]
fn genai_latest_changes_kinds_and_attributes_and_keeps_every_draw() {
    let seed = send(&[], &[]);
    let latest = send(&["--semconv", "genai-latest"], &[]);
    // No extra random draw: the same traces, trees and durations.
    assert_eq!(shape(&seed), shape(&latest));

    // The default profile: as the tool always sent (agent turn SERVER, tool call CLIENT,
    // retrieval INTERNAL), none of the current conventions' attributes, no scope schema URL.
    let (internal, server, client) = (1, 2, 3);
    let k = kinds(&seed);
    assert_eq!(k["a2a.orchestrate"], BTreeSet::from([server]));
    assert_eq!(k["mcp.tool.execute"], BTreeSet::from([client]));
    assert_eq!(k["rag.retrieve"], BTreeSet::from([internal]));
    for s in &seed.spans {
        for key in NEW_KEYS {
            assert!(s.attr_str(key).is_none(), "{key} on {}", s.name);
        }
        assert_eq!(s.scope["schema_url"], "", "{}", s.name);
        assert!(s.name.starts_with("vendor.") || !s.name.contains(' '));
    }

    // The current profile: invoke_agent INTERNAL for the turn, CLIENT for a remote agent;
    // execute_tool INTERNAL around MCP client tries; retrieval CLIENT.
    let k = kinds(&latest);
    assert_eq!(k["a2a.orchestrate"], BTreeSet::from([internal]));
    assert_eq!(k["a2a.call"], BTreeSet::from([client]));
    assert_eq!(k["mcp.tool.execute"], BTreeSet::from([internal]));
    assert_eq!(k["mcp.tool.execute.attempt"], BTreeSet::from([client]));
    assert_eq!(k["rag.retrieve"], BTreeSet::from([client]));
    assert_eq!(k["planner"], BTreeSet::from([internal]));
    for s in &latest.spans {
        assert_eq!(s.scope["schema_url"], GENAI_SCHEMA_URL, "{}", s.name);
        match span_type(s).as_str() {
            "a2a.orchestrate" => {
                assert_eq!(s.attr_str("gen_ai.operation.name"), Some("invoke_agent"));
                assert!(s.attr_str("gen_ai.provider.name").is_some(), "required");
                assert!(s.attr_str("gen_ai.agent.version").is_none(), "#322");
            }
            "a2a.call" => {
                assert!(s.attr_str("gen_ai.provider.name").is_some(), "required");
                assert!(s.attr_str("gen_ai.agent.version").is_some());
            }
            "planner" => assert_eq!(s.attr_str("gen_ai.operation.name"), Some("plan")),
            _ => {}
        }
    }
    for metric in &latest.metrics {
        assert_eq!(metric["scope"]["schema_url"], GENAI_SCHEMA_URL);
    }
    for log in &latest.logs {
        assert_eq!(log["scope"]["schema_url"], GENAI_SCHEMA_URL);
    }
    assert!(!latest.metrics.is_empty() && !latest.logs.is_empty());
}

#[test]
fn mcp_tries_carry_their_session_protocol_and_request_ids() {
    let got = send(&["--semconv", "genai-latest"], &[]);
    let mut sessions: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut ids: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut tries = 0;
    for s in &got.spans {
        if span_type(s) != "mcp.tool.execute.attempt" {
            continue;
        }
        tries += 1;
        let session = s.attr_str("mcp.session.id").expect("mcp.session.id");
        assert_eq!(session.len(), 32, "{session}");
        assert!(session.chars().all(|c| c.is_ascii_hexdigit()), "{session}");
        // The profile's revision, unless the scenario names its own (multi_tool_poisson does).
        let version = s
            .attr_str("mcp.protocol.version")
            .expect("mcp.protocol.version");
        assert!(["2025-11-25", "2025-06-18"].contains(&version), "{version}");
        assert_eq!(s.attr_str("mcp.method.name"), Some("tools/call"));
        let id = s
            .attr_str("jsonrpc.request.id")
            .expect("jsonrpc.request.id");
        assert!(id.parse::<u32>().is_ok(), "{id}");
        sessions.entry(&s.trace_id).or_default().insert(session);
        ids.entry(&s.trace_id).or_default().push(id);
    }
    assert!(tries > 50, "only {tries} MCP tries");
    // One MCP session per trace (its conversation), distinct between traces; one JSON-RPC id
    // per request within it.
    assert!(sessions.values().all(|s| s.len() == 1));
    let distinct: BTreeSet<_> = sessions.values().flatten().collect();
    assert_eq!(distinct.len(), sessions.len());
    for (trace, list) in ids {
        let unique: BTreeSet<_> = list.iter().collect();
        assert_eq!(unique.len(), list.len(), "repeated JSON-RPC id in {trace}");
    }
}

#[test]
fn span_names_follow_the_conventions_on_request() {
    let vendor = send(&["--semconv", "genai-latest"], &[]);
    let named = send(
        &["--span-names", "conventions"],
        &[("TELEMETRY_SIMULATOR_SEMCONV", "genai-latest")],
    );
    assert_eq!(shape(&vendor), shape(&named), "names change nothing else");
    let mut seen = BTreeSet::new();
    for s in &named.spans {
        let attr = |k: &str| s.attr_str(k).unwrap_or_default().to_string();
        let t = span_type(s);
        let expected = match t.as_str() {
            "llm.call" | "llm.embeddings" => {
                format!(
                    "{} {}",
                    attr("gen_ai.operation.name"),
                    attr("gen_ai.request.model")
                )
            }
            "mcp.tool.execute" => format!("execute_tool {}", attr("gen_ai.tool.name")),
            "mcp.tool.execute.attempt" => format!("tools/call {}", attr("gen_ai.tool.name")),
            "a2a.orchestrate" | "a2a.call" => format!("invoke_agent {}", attr("gen_ai.agent.name")),
            "rag.retrieve" => format!("retrieval {}", attr("gen_ai.data_source.id")),
            "planner" => "plan".into(),
            "cp.request" => "cp.request".into(),
            other => format!("vendor.{other}"),
        };
        assert_eq!(s.name, expected, "{t}");
        seen.insert(t);
    }
    for t in [
        "llm.call",
        "mcp.tool.execute.attempt",
        "a2a.call",
        "rag.retrieve",
    ] {
        assert!(seen.contains(t), "no {t} span in the run");
    }
    // A categorical tool name gives each span the name of the tool it drew.
    let tools: BTreeSet<&str> = named
        .spans
        .iter()
        .filter(|s| s.name.starts_with("execute_tool "))
        .map(|s| s.name.as_str())
        .collect();
    assert!(tools.len() > 3, "{tools:?}");
}

#[test]
fn the_opentelemetry_opt_in_selects_the_current_conventions() {
    let got = send(
        &[],
        &[(
            "OTEL_SEMCONV_STABILITY_OPT_IN",
            "http,gen_ai_latest_experimental",
        )],
    );
    let roots: BTreeSet<i64> = got
        .spans
        .iter()
        .filter(|s| span_type(s) == "a2a.orchestrate")
        .map(|s| s.kind)
        .collect();
    assert_eq!(roots, BTreeSet::from([1]));
    assert!(
        got.spans
            .iter()
            .all(|s| s.scope["schema_url"] == GENAI_SCHEMA_URL)
    );
}

#[test]
fn unknown_profiles_are_usage_errors_naming_the_choices() {
    let out = bin()
        .args(["run", "--count", "1", "--semconv", "v9", "--output", "null"])
        .env("TELEMETRY_TENANT_UUIDS", "t-a")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("seed or genai-latest"),
        "{}",
        text(&out)
    );
    let out = bin()
        .args(["run", "--count", "1", "--output", "null"])
        .env("TELEMETRY_TENANT_UUIDS", "t-a")
        .env("TELEMETRY_SIMULATOR_SPAN_NAMES", "otel")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("TELEMETRY_SIMULATOR_SPAN_NAMES"),
        "{}",
        text(&out)
    );
}
