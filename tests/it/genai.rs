//! What GenAI backends read, as the independent judge decodes it: OpenInference span kinds and
//! attributes that agree with the GenAI ones, the `--project` resource attribute, and the opt-in
//! `--content` (semantic-convention JSON shapes, a consistent story per trace, reproducible, and
//! changing nothing else about the trace).
//!
//! The same properties are checked against a real Phoenix server in the phoenix module.

use crate::common::{Received, Span, agent_scenarios, openinference_kind, send_to_judge};
use serde_json::Value;
use std::collections::BTreeMap;

fn send_two_tenants(args: &[&str]) -> Received {
    let dir = agent_scenarios();
    let dir = dir.path().to_str().unwrap();
    let scenarios = ["--scenarios-dir", dir];
    let extra = if args.first() == Some(&"run") {
        &scenarios[..]
    } else {
        &[]
    };
    let args: Vec<&str> = args
        .iter()
        .copied()
        .chain(extra.iter().copied())
        .chain(["--interval", "0"])
        .collect();
    send_to_judge(&args, &[("TELEMETRY_TENANT_UUIDS", "t-a,t-b")])
}

fn expected_kind(span: &Span) -> &'static str {
    openinference_kind(&span.name, span.attr_str("gen_ai.operation.name"))
}

const CONTENT_KEYS: [&str; 10] = [
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "gen_ai.retrieval.query.text",
    "gen_ai.retrieval.documents",
    "input.value",
    "input.mime_type",
    "output.value",
    "output.mime_type",
];

#[test]
fn openinference_attributes_agree_with_the_genai_ones() {
    let got = send_two_tenants(&["run", "--count", "300", "--seed", "77"]);
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for span in &got.spans {
        let kind = span
            .attr_str("openinference.span.kind")
            .unwrap_or_else(|| panic!("{} has no openinference.span.kind", span.name));
        assert_eq!(kind, expected_kind(span), "{}", span.name);
        *kinds.entry(kind).or_default() += 1;
        let same = |oi: &str, genai: &str| {
            assert_eq!(
                span.attributes.get(oi),
                span.attributes.get(genai),
                "{}: {oi} must equal {genai}",
                span.name
            );
        };
        match kind {
            "LLM" => {
                let input = span.attr_i64("gen_ai.usage.input_tokens").unwrap();
                let output = span.attr_i64("gen_ai.usage.output_tokens").unwrap();
                assert_eq!(span.attr_i64("llm.token_count.prompt"), Some(input));
                assert_eq!(span.attr_i64("llm.token_count.completion"), Some(output));
                assert_eq!(span.attr_i64("llm.token_count.total"), Some(input + output));
                same("llm.model_name", "gen_ai.request.model");
                same("session.id", "gen_ai.conversation.id");
                assert!(span.attr_str("llm.provider").is_some());
            }
            "EMBEDDING" => {
                same("embedding.model_name", "gen_ai.request.model");
                same("llm.token_count.prompt", "gen_ai.usage.input_tokens");
                // Output tokens only where the scenario gives them; never made up.
                same("llm.token_count.completion", "gen_ai.usage.output_tokens");
                let total = span
                    .attr_i64("gen_ai.usage.input_tokens")
                    .and_then(|i| span.attr_i64("gen_ai.usage.output_tokens").map(|o| i + o));
                assert_eq!(span.attr_i64("llm.token_count.total"), total);
                assert!(span.attr_str("llm.model_name").is_none());
            }
            "TOOL" => same("tool.name", "gen_ai.tool.name"),
            "AGENT" => same("agent.name", "gen_ai.agent.name"),
            _ => {}
        }
        for key in CONTENT_KEYS {
            assert!(
                !span.attributes.contains_key(key),
                "{key} without --content"
            );
        }
    }
    for kind in [
        "AGENT",
        "LLM",
        "EMBEDDING",
        "TOOL",
        "RETRIEVER",
        "GUARDRAIL",
        "CHAIN",
    ] {
        assert!(
            kinds.contains_key(kind),
            "the mix has no {kind} span: {kinds:?}"
        );
    }
    // An attempt is a try of its call, even where the scenario draws the tool at random.
    let by_id: BTreeMap<(&str, &str), &Span> = got
        .spans
        .iter()
        .map(|s| ((s.trace_id.as_str(), s.span_id.as_str()), s))
        .collect();
    let mut attempts = 0;
    for attempt in got.spans.iter().filter(|s| s.name.ends_with(".attempt")) {
        let call = by_id[&(attempt.trace_id.as_str(), attempt.parent_span_id.as_str())];
        for key in ["gen_ai.tool.name", "gen_ai.tool.call.id", "tool.name"] {
            assert_eq!(
                attempt.attributes.get(key),
                call.attributes.get(key),
                "{key}"
            );
        }
        attempts += 1;
    }
    assert!(attempts > 50, "{attempts}");
    assert!(
        got.spans
            .iter()
            .all(|s| s.resource_str("openinference.project.name").is_none())
    );
}

#[test]
fn the_project_flag_names_the_resource() {
    let got = send_two_tenants(&[
        "scenario",
        "--name",
        "successful_agent_turn",
        "--count",
        "3",
        "--project",
        "checkout-agent",
    ]);
    assert_eq!(got.spans.len(), 21);
    for span in &got.spans {
        assert_eq!(
            span.resource_str("openinference.project.name"),
            Some("checkout-agent")
        );
    }
}

fn json(span: &Span, key: &str) -> Value {
    let text = span
        .attr_str(key)
        .unwrap_or_else(|| panic!("{} has no {key}", span.name));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{key} is not JSON ({e}): {text}"))
}

/// Checks a `gen_ai.*.messages` value against the semantic conventions' message schema.
fn check_messages(messages: &Value, output: bool) {
    let list = messages.as_array().expect("messages are a JSON array");
    assert!(!list.is_empty());
    for m in list {
        assert!(m["role"].is_string(), "{m}");
        if output {
            assert!(m["finish_reason"].is_string(), "{m}");
        }
        for part in m["parts"].as_array().expect("parts are an array") {
            match part["type"].as_str().expect("a part has a type") {
                "text" => assert!(part["content"].is_string(), "{part}"),
                "tool_call" => {
                    assert!(part["name"].is_string(), "{part}");
                    assert!(part["arguments"].is_object(), "{part}");
                }
                "tool_call_response" => {
                    assert!(part["id"].is_string(), "{part}");
                    assert!(!part["response"].is_null(), "{part}");
                }
                other => panic!("unexpected part type {other}"),
            }
        }
    }
}

/// Everything about the spans except the content attributes.
fn without_content(received: &Received) -> Vec<String> {
    let mut out: Vec<String> = received
        .spans
        .iter()
        .map(|s| {
            let attrs: BTreeMap<_, _> = s
                .attributes
                .iter()
                .filter(|(k, _)| !CONTENT_KEYS.contains(&k.as_str()))
                .collect();
            format!(
                "{} {} {} {} {} {:?}",
                s.trace_id,
                s.span_id,
                s.name,
                s.duration_ns(),
                s.status_code,
                attrs
            )
        })
        .collect();
    out.sort();
    out
}

fn contents(received: &Received) -> Vec<String> {
    let mut out: Vec<String> = received
        .spans
        .iter()
        .map(|s| {
            let attrs: Vec<_> = CONTENT_KEYS
                .iter()
                .map(|k| format!("{k}={:?}", s.attributes.get(*k)))
                .collect();
            format!("{} {}", s.span_id, attrs.join(" "))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn content_is_opt_in_reproducible_and_follows_the_semconv_shapes() {
    let args = ["run", "--count", "150", "--seed", "4242"];
    let plain = send_two_tenants(&args);
    let with = send_two_tenants(&[&args[..], &["--content"]].concat());
    let again = send_two_tenants(&[&args[..], &["--content"]].concat());
    // Content comes from its own stream: every other value is the same as without it.
    assert_eq!(without_content(&plain), without_content(&with));
    assert_eq!(contents(&with), contents(&again));

    let mut checked: BTreeMap<&str, usize> = BTreeMap::new();
    for spans in with.traces().values() {
        // The trace's tool calls by call id: (name, arguments, result).
        let calls: BTreeMap<String, (String, Value, Option<Value>)> = spans
            .iter()
            .filter(|s| s.name.ends_with("mcp.tool.execute"))
            .map(|s| {
                let result = s
                    .attr_str("gen_ai.tool.call.result")
                    .map(|_| json(s, "gen_ai.tool.call.result"));
                let id = s.attr_str("gen_ai.tool.call.id").unwrap().to_string();
                let name = s.attr_str("gen_ai.tool.name").unwrap().to_string();
                (id, (name, json(s, "gen_ai.tool.call.arguments"), result))
            })
            .collect();
        for span in spans {
            let kind = span.attr_str("openinference.span.kind").unwrap();
            let failed = span.status_code == 2;
            match kind {
                "AGENT" => {
                    check_messages(&json(span, "gen_ai.input.messages"), false);
                    assert_eq!(span.attr_str("input.mime_type"), Some("text/plain"));
                    assert_eq!(
                        json(span, "gen_ai.input.messages")[0]["parts"][0]["content"].as_str(),
                        span.attr_str("input.value")
                    );
                    if !failed {
                        check_messages(&json(span, "gen_ai.output.messages"), true);
                        assert!(span.attr_str("output.value").is_some());
                    }
                }
                "LLM" => {
                    let input = json(span, "gen_ai.input.messages");
                    check_messages(&input, false);
                    assert_eq!(input[0]["role"], "system");
                    assert_eq!(input[1]["role"], "user");
                    assert_eq!(span.attr_str("input.mime_type"), Some("application/json"));
                    assert_eq!(json(span, "input.value"), input);
                    // The history replays tool calls of this trace, with their results.
                    for part in input
                        .as_array()
                        .unwrap()
                        .iter()
                        .flat_map(|m| m["parts"].as_array().unwrap())
                        .filter(|p| p["type"] == "tool_call_response")
                    {
                        let id = part["id"].as_str().unwrap();
                        let (_, _, result) = calls
                            .get(id)
                            .unwrap_or_else(|| panic!("response to unknown call {id}"));
                        if let Some(result) = result {
                            assert_eq!(&part["response"], result);
                        }
                    }
                    if failed {
                        assert!(span.attr_str("gen_ai.output.messages").is_none());
                    } else {
                        check_messages(&json(span, "gen_ai.output.messages"), true);
                    }
                }
                "TOOL" => {
                    let arguments = json(span, "gen_ai.tool.call.arguments");
                    assert!(arguments.is_object());
                    assert_eq!(json(span, "input.value"), arguments);
                    let result = span
                        .attr_str("gen_ai.tool.call.result")
                        .map(|_| json(span, "gen_ai.tool.call.result"));
                    // A result only where the call succeeded.
                    assert_eq!(result.is_some(), !failed, "{}", span.name);
                    // An attempt carries its call's name and arguments.
                    let id = span.attr_str("gen_ai.tool.call.id").unwrap();
                    let (name, call_arguments, _) = &calls[id];
                    assert_eq!(span.attr_str("gen_ai.tool.name"), Some(name.as_str()));
                    assert_eq!(&arguments, call_arguments);
                }
                "RETRIEVER" => {
                    assert!(span.attr_str("gen_ai.retrieval.query.text").is_some());
                    if !failed {
                        let docs = json(span, "gen_ai.retrieval.documents");
                        let docs = docs.as_array().unwrap();
                        assert!(!docs.is_empty());
                        for d in docs {
                            assert!(d["id"].is_string() && d["score"].is_number(), "{d}");
                        }
                        if let Some(n) = span.attr_i64("rag.documents.returned") {
                            assert_eq!(docs.len() as i64, n);
                        }
                    }
                }
                "EMBEDDING" | "GUARDRAIL" => {
                    assert_eq!(span.attr_str("input.mime_type"), Some("text/plain"));
                }
                _ => {
                    for key in CONTENT_KEYS {
                        assert!(!span.attributes.contains_key(key), "{kind} has {key}");
                    }
                }
            }
            *checked.entry(kind).or_default() += 1;
        }
    }
    for kind in ["AGENT", "LLM", "TOOL", "RETRIEVER", "EMBEDDING"] {
        assert!(checked[kind] > 5, "too few {kind} spans: {checked:?}");
    }
}

#[test]
fn a_planning_llm_call_asks_for_the_tool_the_agent_then_calls() {
    let got = send_two_tenants(&[
        "scenario",
        "--name",
        "successful_agent_turn",
        "--count",
        "20",
        "--seed",
        "3",
        "--content",
    ]);
    let mut seen = 0;
    for spans in got.traces().values() {
        let planner = spans.iter().find(|s| s.name == "vendor.planner").unwrap();
        let planning = spans
            .iter()
            .find(|s| s.parent_span_id == planner.span_id && s.name == "vendor.llm.call")
            .unwrap();
        let tool = spans
            .iter()
            .find(|s| s.name == "vendor.mcp.tool.execute")
            .unwrap();
        if planning.status_code == 2 {
            continue;
        }
        let out = json(planning, "gen_ai.output.messages");
        let call = &out[0]["parts"][0];
        assert_eq!(call["type"], "tool_call");
        assert_eq!(out[0]["finish_reason"], "tool_call");
        assert_eq!(call["name"].as_str(), tool.attr_str("gen_ai.tool.name"));
        assert_eq!(call["arguments"], json(tool, "gen_ai.tool.call.arguments"));
        // The agent's answer is the final LLM call's.
        let root = spans.iter().find(|s| s.is_root()).unwrap();
        let last_llm = spans.iter().rfind(|s| s.name == "vendor.llm.call").unwrap();
        if root.status_code != 2 && last_llm.status_code != 2 {
            let answer = &json(last_llm, "gen_ai.output.messages")[0]["parts"][0]["content"];
            assert_eq!(answer.as_str(), root.attr_str("output.value"));
        }
        seen += 1;
    }
    assert!(seen >= 15, "{seen}");
}
