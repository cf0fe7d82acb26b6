//! End to end against a real GenAI backend that no one here wrote: Arize Phoenix.
//!
//! The test starts a Phoenix server on 127.0.0.1 (free ports, a temporary working directory),
//! sends scenarios to its OTLP/HTTP endpoint with the simulator binary, and reads back through
//! Phoenix's own REST API what Phoenix made of them: the projects they were routed to
//! (`--project`), every span's kind (AGENT, LLM, TOOL, RETRIEVER, EMBEDDING, GUARDRAIL, CHAIN),
//! token counts on LLM spans equal to the GenAI ones, parent ids forming one tree per trace,
//! error statuses, per-session token totals, the conversation Phoenix renders from `--content`,
//! and multi-turn sessions grouped by `session.id` through its sessions API. (Phoenix ingests
//! traces only, so the `gen_ai.evaluation.result` log records are not something it shows: its
//! evaluations are annotations posted to its own API.)
//!
//! Phoenix is large (about 850 MB, 3–4 minutes to install), so this test is `#[ignore]`d: a plain
//! `cargo test` lists it as ignored, and CI runs it in its own stage after `cargo test`:
//!
//! ```text
//! cargo test --test it phoenix -- --ignored
//! ```
//!
//! It uses `$PHOENIX_PYTHON`, else builds or reuses `target/phoenix-venv` with
//! `scripts/phoenix-venv`; if that fails the test fails, loudly, rather than skipping.

use crate::common::{
    agent_scenarios, bin, free_port, http, log_tail, openinference_kind, venv_python,
    wait_for_backend,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Python with Phoenix installed.
fn phoenix_python() -> String {
    venv_python("PHOENIX_PYTHON", "scripts/phoenix-venv")
}

/// A running Phoenix server, stopped when dropped.
struct Phoenix {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Phoenix {
    fn start() -> Phoenix {
        let python = phoenix_python();
        let dir = tempfile::Builder::new()
            .prefix("phoenix-")
            .tempdir()
            .expect("a working directory for Phoenix");
        let log = std::fs::File::create(dir.path().join("server.log")).expect("server log");
        let port = free_port();
        let child = Command::new(&python)
            .args(["-m", "phoenix.server.main", "serve"])
            .env("PHOENIX_WORKING_DIR", dir.path())
            .env("PHOENIX_HOST", "127.0.0.1")
            .env("PHOENIX_PORT", port.to_string())
            .env("PHOENIX_GRPC_PORT", free_port().to_string())
            .env("PHOENIX_TELEMETRY_ENABLED", "false")
            .env("PHOENIX_ALLOW_EXTERNAL_RESOURCES", "false")
            .env("PHOENIX_DISABLE_AGENT_ASSISTANT", "true")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start Phoenix with {python}: {e}"));
        let mut phoenix = Phoenix { child, port, dir };
        wait_for_backend(
            "Phoenix",
            &mut phoenix.child,
            port,
            phoenix.dir.path(),
            "/healthz",
        );
        phoenix
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        log_tail(self.dir.path())
    }

    /// One HTTP/1.1 GET on a fresh connection: (status, body), `None` if nothing answers.
    fn try_get(&self, path: &str) -> Option<(u16, Vec<u8>)> {
        http::request(self.port, "GET", path, None, Duration::from_secs(30))
    }

    fn get(&self, path: &str) -> Value {
        match self.try_get(path) {
            Some((200, body)) => serde_json::from_slice(&body)
                .unwrap_or_else(|e| panic!("GET {path}: not JSON ({e})")),
            Some((status, body)) => panic!(
                "GET {path}: HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            ),
            None => panic!("GET {path}: no answer from Phoenix:\n{}", self.log()),
        }
    }

    /// Every item of a paginated REST collection (`data` + `next_cursor`).
    fn all(&self, path: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = match &cursor {
                None => self.get(&format!("{path}?limit=1000")),
                Some(c) => self.get(&format!("{path}?limit=1000&cursor={c}")),
            };
            items.extend(page["data"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return items,
            }
        }
    }

    /// The spans of `project`, once Phoenix has ingested `expected` of them (it ingests
    /// asynchronously); panics after 120 s with what it has.
    fn spans(&self, project: &str, expected: usize) -> Vec<Value> {
        let started = Instant::now();
        loop {
            // The project itself appears with its first span.
            let exists = self
                .all("/v1/projects")
                .iter()
                .any(|p| p["name"] == project);
            let spans = if exists {
                self.all(&format!("/v1/projects/{project}/spans"))
            } else {
                Vec::new()
            };
            if spans.len() >= expected {
                assert_eq!(
                    spans.len(),
                    expected,
                    "Phoenix holds more spans than were sent"
                );
                return spans;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "Phoenix ingested {} of {expected} spans of project {project} in 120 s:\n{}",
                spans.len(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Phoenix {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the simulator says it sent: (traces, spans, spans with errors).
struct Sent {
    traces: usize,
    spans: usize,
    errors: usize,
}

fn send_to_phoenix(phoenix: &Phoenix, args: &[&str]) -> Sent {
    let out = bin()
        .args(args)
        .args([
            "--endpoint",
            &phoenix.endpoint(),
            "--quiet",
            "--interval",
            "0",
            // Phoenix ingests traces only: /v1/metrics and /v1/logs answer 405.
            "--no-metrics",
            "--no-logs",
        ])
        .env("TELEMETRY_TENANT_UUIDS", "tenant-a,tenant-b")
        .output()
        .expect("run the simulator");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the simulator failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // "Generated 10 traces (70 spans, 1 with errors) in ..."
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Generated "))
        .unwrap_or_else(|| panic!("no summary line:\n{stdout}"));
    let numbers: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(3)
        .map(|s| s.parse().unwrap())
        .collect();
    assert!(
        stdout.contains(&format!("{} accepted, 0 rejected, 0 dropped", numbers[1])),
        "Phoenix did not accept everything:\n{stdout}"
    );
    Sent {
        traces: numbers[0],
        spans: numbers[1],
        errors: numbers[2],
    }
}

fn attr<'a>(span: &'a Value, key: &str) -> &'a Value {
    &span["attributes"][key]
}

/// Checks what every project must show: kinds, token counts, trees, statuses, sessions.
fn check_project(phoenix: &Phoenix, project: &str, sent: &Sent) -> Vec<Value> {
    let spans = phoenix.spans(project, sent.spans);
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut traces: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for span in &spans {
        let name = span["name"].as_str().unwrap();
        let kind = span["span_kind"].as_str().unwrap();
        let expected = openinference_kind(name, attr(span, "gen_ai.operation.name").as_str());
        assert_eq!(kind, expected, "Phoenix's kind of {name}");
        *kinds.entry(kind.to_string()).or_default() += 1;
        if kind == "LLM" {
            let input = attr(span, "gen_ai.usage.input_tokens").as_i64().unwrap();
            let output = attr(span, "gen_ai.usage.output_tokens").as_i64().unwrap();
            assert_eq!(attr(span, "llm.token_count.prompt").as_i64(), Some(input));
            assert_eq!(
                attr(span, "llm.token_count.completion").as_i64(),
                Some(output)
            );
            assert_eq!(
                attr(span, "llm.token_count.total").as_i64(),
                Some(input + output)
            );
            assert_eq!(
                attr(span, "llm.model_name"),
                attr(span, "gen_ai.request.model")
            );
        }
        if kind == "TOOL" {
            assert_eq!(attr(span, "tool.name"), attr(span, "gen_ai.tool.name"));
        }
        traces
            .entry(span["context"]["trace_id"].as_str().unwrap())
            .or_default()
            .push(span);
    }
    // One tree per trace: a single root, and every parent a span of the same trace.
    assert_eq!(traces.len(), sent.traces, "traces in {project}");
    for (trace_id, spans) in &traces {
        let ids: BTreeSet<&str> = spans
            .iter()
            .map(|s| s["context"]["span_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), spans.len(), "span ids unique in {trace_id}");
        let roots = spans.iter().filter(|s| s["parent_id"].is_null()).count();
        assert_eq!(roots, 1, "one root in trace {trace_id}");
        for s in spans.iter().filter(|s| !s["parent_id"].is_null()) {
            let parent = s["parent_id"].as_str().unwrap();
            assert!(ids.contains(parent), "{trace_id}: parent {parent} missing");
        }
    }
    let errors = spans.iter().filter(|s| s["status_code"] == "ERROR").count();
    assert_eq!(errors, sent.errors, "error spans in {project}");

    // Phoenix's per-session token totals are the sums of the GenAI token counts sent on LLM
    // spans (Phoenix leaves embedding calls out of them).
    let sessions = phoenix.all(&format!("/v1/projects/{project}/sessions"));
    assert!(!sessions.is_empty(), "no sessions in {project}");
    for session in &sessions {
        let ids: BTreeSet<&str> = session["traces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["trace_id"].as_str().unwrap())
            .collect();
        let prompt: i64 = ids
            .iter()
            .flat_map(|id| &traces[id])
            .filter(|s| s["span_kind"] == "LLM")
            .filter_map(|s| attr(s, "gen_ai.usage.input_tokens").as_i64())
            .sum();
        assert_eq!(
            session["token_count_prompt"].as_i64(),
            Some(prompt),
            "prompt tokens of session {}",
            session["session_id"]
        );
    }
    eprintln!("{project}: {} spans by kind {kinds:?}", spans.len());
    spans
}

#[test]
#[ignore = "needs Arize Phoenix (scripts/phoenix-venv); CI runs it: cargo test --test it phoenix -- --ignored"]
fn phoenix_shows_agent_llm_and_tool_spans_with_tokens_and_whole_trees() {
    let phoenix = Phoenix::start();

    // The seed's smoke test with content, in its own project.
    let turns = send_to_phoenix(
        &phoenix,
        &[
            "scenario",
            "--name",
            "successful_agent_turn",
            "--count",
            "12",
            "--seed",
            "2024",
            "--project",
            "sim-turns",
            "--content",
        ],
    );
    // Every bundled agent scenario (retries, RAG, embeddings, delegation, guardrails) in another.
    let agents = agent_scenarios();
    let mix = send_to_phoenix(
        &phoenix,
        &[
            "run",
            "--scenarios-dir",
            agents.path().to_str().unwrap(),
            "--count",
            "80",
            "--seed",
            "77",
            "--project",
            "sim-mix",
        ],
    );

    // --project routes each run to its project, and nothing lands in the default one.
    let turn_spans = check_project(&phoenix, "sim-turns", &turns);
    let mix_spans = check_project(&phoenix, "sim-mix", &mix);
    let default_spans = phoenix.all("/v1/projects/default/spans");
    assert!(
        default_spans.is_empty(),
        "{} spans in default",
        default_spans.len()
    );
    let kinds: BTreeSet<&str> = mix_spans
        .iter()
        .map(|s| s["span_kind"].as_str().unwrap())
        .collect();
    for kind in [
        "AGENT",
        "LLM",
        "TOOL",
        "RETRIEVER",
        "EMBEDDING",
        "CHAIN",
        "GUARDRAIL",
    ] {
        assert!(kinds.contains(kind), "no {kind} span in the mix: {kinds:?}");
    }

    // The conversation Phoenix renders from --content: its own flattened messages.
    let mut rendered = 0;
    for span in turn_spans.iter().filter(|s| s["span_kind"] == "LLM") {
        if span["status_code"] == "ERROR" {
            continue;
        }
        assert_eq!(attr(span, "llm.input_messages.0.message.role"), "system");
        assert_eq!(attr(span, "llm.input_messages.1.message.role"), "user");
        assert!(attr(span, "llm.input_messages.1.message.content").is_string());
        assert_eq!(
            attr(span, "llm.output_messages.0.message.role"),
            "assistant"
        );
        rendered += 1;
    }
    assert!(rendered >= 12, "{rendered} LLM spans with a conversation");
    let root = turn_spans
        .iter()
        .find(|s| s["parent_id"].is_null() && s["status_code"] != "ERROR")
        .expect("a successful turn");
    assert!(attr(root, "input.value").as_str().unwrap().ends_with('?'));
    assert!(attr(root, "output.value").is_string());

    // Multi-turn sessions: Phoenix groups the turns of each session by `session.id`.
    let chats = send_to_phoenix(
        &phoenix,
        &[
            "scenario",
            "--name",
            "support_chat",
            "--count",
            "10",
            "--seed",
            "16",
            "--project",
            "sim-sessions",
        ],
    );
    let chat_spans = check_project(&phoenix, "sim-sessions", &chats);
    check_sessions(&phoenix, "sim-sessions", &chat_spans, 10);
}

/// Phoenix's sessions of `project` are the `sent` sessions, each with all of its turns: its
/// traces are the traces whose spans carry its `session.id`, and several have more than one.
fn check_sessions(phoenix: &Phoenix, project: &str, spans: &[Value], sent: usize) {
    let mut turns: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for span in spans {
        let session = attr(span, "session.id")
            .as_str()
            .unwrap_or_else(|| panic!("a span without session.id: {span}"));
        assert_eq!(attr(span, "gen_ai.conversation.id").as_str(), Some(session));
        assert!(attr(span, "user.id").is_string(), "a span without user.id");
        turns
            .entry(session)
            .or_default()
            .insert(span["context"]["trace_id"].as_str().unwrap());
    }
    assert_eq!(turns.len(), sent, "sessions sent");
    let sessions = phoenix.all(&format!("/v1/projects/{project}/sessions"));
    assert_eq!(sessions.len(), sent, "Phoenix's sessions of {project}");
    let mut multi_turn = 0;
    for session in &sessions {
        let id = session["session_id"].as_str().unwrap();
        let traces: BTreeSet<&str> = session["traces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["trace_id"].as_str().unwrap())
            .collect();
        assert_eq!(Some(&traces), turns.get(id), "the turns of session {id}");
        multi_turn += usize::from(traces.len() > 1);
    }
    assert!(
        multi_turn >= 5,
        "{multi_turn} of {sent} sessions with several turns"
    );
    eprintln!(
        "{project}: {} sessions, turns {:?}",
        sessions.len(),
        turns.values().map(BTreeSet::len).collect::<Vec<_>>()
    );
}
