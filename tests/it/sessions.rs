//! Multi-turn sessions and evaluations, as the official Python bindings decode them: the turns of
//! a session share their ids on every span, turns per session and think times follow their
//! distributions, input tokens grow by the earlier turns' tokens up to the window, the sessions
//! are the same at any worker count and never split by a shard, a live run paces turns and cuts
//! the sessions still open at its end, and every evaluation event points at a span that was sent.

use crate::common::{
    Received, Span, assert_mean_within, assert_proportion, bin, judge_decode_jsonl, run_to_judge,
    scenario_dir, send_to_judge, simulate,
};
use std::collections::{BTreeMap, BTreeSet};

/// A chat whose turns have a fixed own prompt (100 tokens), so the growth is exact.
const CHAT: &str = "
root:
  type: vendor.a2a.orchestrate
  latency: 300
  error: 0
  children:
    - type: vendor.llm.call
      latency: 200
      error: 0
      attributes:
        gen_ai.operation.name: chat
        gen_ai.request.model: gpt-4.1-mini
        gen_ai.usage.input_tokens: 100
        gen_ai.usage.output_tokens: {distribution: uniform, low: 50, high: 150}
session:
  turns: {min: 1, max: 10, distribution: poisson, lambda: 4}
  think_time: {distribution: exponential, mean: 5000}
  users: {count: 50}
  context: {window: 1500}
";

const THINK_MEAN_MS: f64 = 5000.0;
const WINDOW: i64 = 1500;

/// One turn as received: its root, its LLM call, and the ids every span carried.
struct Turn<'a> {
    index: i64,
    user: String,
    root: &'a Span,
    llm: Option<&'a Span>,
}

/// The turns of each session, in turn order; asserts that every span of a trace carries the
/// same session, conversation and user ids, and a turn index.
fn sessions(got: &Received) -> BTreeMap<String, Vec<Turn<'_>>> {
    let mut out: BTreeMap<String, Vec<Turn>> = BTreeMap::new();
    for (trace, spans) in got.traces() {
        let ids = |s: &Span| {
            (
                s.attr_str("session.id").map(str::to_string),
                s.attr_str("gen_ai.conversation.id").map(str::to_string),
                s.attr_str("user.id").map(str::to_string),
                s.attr_i64("vendor.turn.index"),
            )
        };
        let first = ids(spans[0]);
        let (Some(session), Some(conversation), Some(user), Some(index)) = first.clone() else {
            panic!("trace {trace}: a span without the session's ids: {first:?}");
        };
        assert_eq!(session, conversation, "the conversation is the session");
        for span in &spans {
            assert_eq!(ids(span), first, "{} of trace {trace}", span.name);
        }
        let root = *spans.iter().find(|s| s.is_root()).expect("a root");
        let llm = spans.iter().find(|s| s.name.contains("llm")).copied();
        out.entry(session).or_default().push(Turn {
            index,
            user,
            root,
            llm,
        });
    }
    for turns in out.values_mut() {
        turns.sort_by_key(|t| t.index);
    }
    out
}

/// `E[clamp(Poisson(λ), lo, hi)]`.
fn clamped_poisson_mean(lambda: f64, lo: u32, hi: u32) -> f64 {
    let mut p = (-lambda).exp();
    let mut mean = 0.0;
    let mut below = 0.0;
    for k in 0..hi {
        let x = k.max(lo) as f64;
        mean += x * p;
        below += p;
        p *= lambda / (k + 1) as f64;
    }
    mean + hi as f64 * (1.0 - below)
}

#[test]
fn the_turns_of_a_session_share_their_ids_think_and_carry_their_history() {
    let dir = scenario_dir(&[("chat", CHAT)]);
    let dir_arg = dir.path().to_str().unwrap();
    let got = send_to_judge(
        &[
            "scenario",
            "--name",
            "chat",
            "--scenarios-dir",
            dir_arg,
            "--count",
            "400",
            "--interval",
            "0",
            "--seed",
            "16",
        ],
        &[],
    );
    let sessions = sessions(&got);
    assert_eq!(sessions.len(), 400, "one session per --count");
    let mut turns_per_session = Vec::new();
    let mut thinks_ms = Vec::new();
    let mut grown = 0;
    for (id, turns) in &sessions {
        turns_per_session.push(turns.len() as f64);
        let indices: Vec<i64> = turns.iter().map(|t| t.index).collect();
        let expected: Vec<i64> = (0..turns.len() as i64).collect();
        assert_eq!(indices, expected, "session {id}: turns 0, 1, … each once");
        assert!(
            turns.iter().all(|t| t.user == turns[0].user),
            "session {id}: one user"
        );
        let mut history = 0i64;
        for (k, turn) in turns.iter().enumerate() {
            if k > 0 {
                let previous = turns[k - 1].root;
                assert!(
                    turn.root.start >= previous.end,
                    "session {id}: turns overlap"
                );
                thinks_ms.push((turn.root.start - previous.end) as f64 / 1e6);
            }
            let llm = turn.llm.expect("an LLM call per turn");
            let input = llm.attr_i64("gen_ai.usage.input_tokens").unwrap();
            let output = llm.attr_i64("gen_ai.usage.output_tokens").unwrap();
            assert_eq!(
                input,
                (100 + history).min(WINDOW),
                "session {id}, turn {k}: its own 100 tokens and the history, up to the window"
            );
            assert_eq!(llm.attr_i64("llm.token_count.prompt"), Some(input));
            grown += usize::from(input > 100);
            history += 100 + output;
        }
    }
    assert!(grown > 500, "later turns carry history: {grown}");
    assert_mean_within(
        &turns_per_session,
        clamped_poisson_mean(4.0, 1, 10),
        "turns per session",
    );
    assert_mean_within(&thinks_ms, THINK_MEAN_MS, "think time (ms)");
    // Exponential: P(think > mean) = 1/e.
    let long = thinks_ms.iter().filter(|t| **t > THINK_MEAN_MS).count();
    assert_proportion(long, thinks_ms.len(), (-1.0f64).exp(), "think > mean");
    let users: BTreeSet<&str> = sessions.values().map(|t| t[0].user.as_str()).collect();
    assert!(
        users.len() > 30 && users.len() <= 50,
        "{} users",
        users.len()
    );
}

/// `(session, turn, trace id, start, end)` of every root a pinned backfill of `args` sends.
fn roots(args: &[&str]) -> BTreeSet<(String, i64, String, u64, u64)> {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("out.jsonl");
    let mut all = vec![
        "scenario",
        "--name",
        "support_chat",
        "--count",
        "60",
        "--seed",
        "9",
        "--backfill",
        "2h",
        "--start-time",
        "2026-01-01T00:00:00Z",
        "--quiet",
        "--output",
        out_file.to_str().unwrap(),
    ];
    all.extend(args);
    let out = bin().args(&all).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = judge_decode_jsonl(&out_file);
    got.spans
        .iter()
        .filter(|s| s.is_root())
        .map(|s| {
            (
                s.attr_str("session.id").unwrap().to_string(),
                s.attr_i64("vendor.turn.index").unwrap(),
                s.trace_id.clone(),
                s.start,
                s.end,
            )
        })
        .collect()
}

#[test]
fn workers_give_the_same_sessions_and_shards_never_split_one() {
    let one = roots(&["--workers", "1"]);
    let four = roots(&["--workers", "4"]);
    assert!(one.len() > 120, "{} turns", one.len());
    assert_eq!(one, four, "--workers 1 and 4 send the same sessions");
    let first = roots(&["--shard", "0/2"]);
    let second = roots(&["--shard", "1/2"]);
    let sessions = |set: &BTreeSet<(String, i64, String, u64, u64)>| -> BTreeSet<String> {
        set.iter().map(|r| r.0.clone()).collect()
    };
    assert!(
        sessions(&first).is_disjoint(&sessions(&second)),
        "a session split between shards"
    );
    let union: BTreeSet<_> = first.union(&second).cloned().collect();
    assert_eq!(union, one, "the shards together are the whole run");
    // History stays inside its window: 2026-01-01T00:00:00Z + 2 h.
    let (start, end) = (1_767_225_600_000_000_000u64, 1_767_232_800_000_000_000u64);
    assert!(one.iter().all(|r| r.4 <= end), "a turn after the window");
    assert!(
        one.iter().any(|r| r.3 < start + (end - start) / 4),
        "sessions spread over it"
    );
}

#[test]
fn a_live_run_paces_turns_and_cuts_the_sessions_open_at_its_end() {
    let dir = scenario_dir(&[(
        "quick",
        "
root:
  type: vendor.a2a.orchestrate
  latency: 20
  error: 0
session:
  turns: 4
  think_time: 100
",
    )]);
    let judge = crate::common::Judge::start();
    let (out, summary) = simulate(
        &[
            "run",
            "--scenarios-dir",
            dir.path().to_str().unwrap(),
            "--rate",
            "40",
            "--duration",
            "3s",
            "--seed",
            "2",
            "--endpoint",
            &judge.endpoint(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", crate::common::text(&out));
    let got = judge.finish();
    let text = crate::common::text(&out);
    assert!(text.contains("Sessions: "), "{text}");
    let started = summary["sessions"].as_u64().unwrap();
    let cut = summary["sessions_cut"].as_u64().unwrap();
    assert!(started >= 10 && cut >= 1 && cut < started, "{summary}");
    let traces = got.traces().len() as u64;
    assert_eq!(traces, summary["traces"].as_u64().unwrap());
    // 40 turns a second over 3 s, less the ramp of sessions that have not reached their later
    // turns yet: well above a session rate (10/s) and never above the turn rate.
    assert!(
        (60..=125).contains(&traces),
        "{traces} turns in 3 s at 40/s"
    );
    // Only the sessions cut are incomplete.
    let complete = sessions(&got).values().filter(|t| t.len() == 4).count() as u64;
    assert_eq!(complete, started - cut, "{summary}");
}

#[test]
fn every_evaluation_event_points_at_a_span_that_was_sent() {
    for (name, count) in [("evaluated_rag", "200"), ("support_chat", "60")] {
        let (_, got) = run_to_judge(
            &[
                "scenario",
                "--name",
                name,
                "--count",
                count,
                "--interval",
                "0",
                "--seed",
                "4",
                "--quiet",
            ],
            &[],
        );
        let spans: BTreeMap<(&str, &str), &Span> = got
            .spans
            .iter()
            .map(|s| ((s.trace_id.as_str(), s.span_id.as_str()), s))
            .collect();
        let mut by_name: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for log in got
            .logs
            .iter()
            .filter(|l| l["event_name"] == "gen_ai.evaluation.result")
        {
            let key = (
                log["trace_id"].as_str().unwrap(),
                log["span_id"].as_str().unwrap(),
            );
            let span = spans
                .get(&key)
                .unwrap_or_else(|| panic!("{name}: evaluation of no span sent: {log}"));
            let a = &log["attributes"];
            let eval = a["gen_ai.evaluation.name"].as_str().unwrap().to_string();
            let score = a["gen_ai.evaluation.score.value"].as_f64().unwrap();
            let label = a["gen_ai.evaluation.score.label"].as_str();
            let expected = match eval.as_str() {
                "relevance" => Some(if score >= 0.5 {
                    "relevant"
                } else {
                    "irrelevant"
                }),
                "groundedness" => Some(if score >= 0.7 { "pass" } else { "fail" }),
                "context_precision" => Some(if score >= 0.7 { "precise" } else { "noisy" }),
                "task_success" => Some(if score >= 1.0 { "success" } else { "failure" }),
                other => panic!("unexpected evaluation {other}"),
            };
            assert_eq!(label, expected, "{eval} {score}");
            match eval.as_str() {
                "relevance" | "groundedness" => assert!(span.name.contains("llm")),
                "context_precision" => assert!(span.name.contains("rag")),
                _ => {
                    assert!(span.is_root(), "a session's evaluation is on a turn's root");
                }
            }
            assert_eq!(log["time_unix_nano"].as_u64(), Some(span.end));
            by_name.entry(eval).or_default().push(score);
        }
        if name == "evaluated_rag" {
            assert_eq!(by_name["relevance"].len(), 200);
            assert_eq!(by_name["groundedness"].len(), 200);
            assert_proportion(by_name["context_precision"].len(), 200, 0.2, "evaluated");
            assert_mean_within(&by_name["groundedness"], 0.82, "groundedness");
        } else {
            let sessions = sessions(&got);
            let ends = &by_name["task_success"];
            assert_eq!(ends.len(), sessions.len(), "one per session");
            let success = ends.iter().filter(|s| **s >= 1.0).count();
            assert_proportion(success, ends.len(), 0.8, "task success");
        }
        let metric = got
            .metrics
            .iter()
            .filter(|m| m["name"] == "gen_ai.evaluation.score")
            .count();
        assert!(metric > 0, "{name}: no gen_ai.evaluation.score histogram");
    }
}

#[test]
fn a_history_beyond_the_window_is_summarised_by_a_real_llm_call() {
    let scenario = CHAT.replace(
        "context: {window: 1500}",
        "context: {window: 1000, overflow: summarize, summary_tokens: 200}",
    );
    let dir = scenario_dir(&[("chat", &scenario)]);
    let got = send_to_judge(
        &[
            "scenario",
            "--name",
            "chat",
            "--scenarios-dir",
            dir.path().to_str().unwrap(),
            "--count",
            "100",
            "--interval",
            "0",
            "--seed",
            "3",
        ],
        &[],
    );
    let traces = got.traces();
    let mut summaries = 0;
    for (id, turns) in &sessions(&got) {
        let mut history = 0i64;
        for turn in turns {
            let spans = &traces[&turn.root.trace_id];
            let calls: Vec<&&Span> = spans.iter().filter(|s| s.name.contains("llm")).collect();
            let summary = calls
                .iter()
                .find(|s| s.attr_bool("vendor.context.summary") == Some(true));
            let should = turn.index > 0 && history + 100 > 1000;
            assert_eq!(
                summary.is_some(),
                should,
                "session {id}, turn {}",
                turn.index
            );
            if let Some(summary) = summary {
                summaries += 1;
                assert_eq!(summary.attr_i64("gen_ai.usage.input_tokens"), Some(history));
                assert_eq!(summary.attr_i64("gen_ai.usage.output_tokens"), Some(200));
                assert_eq!(summary.parent_span_id, turn.root.span_id);
                history = 200;
            }
            let answer = calls
                .iter()
                .find(|s| s.attr_bool("vendor.context.summary").is_none())
                .unwrap();
            let input = answer.attr_i64("gen_ai.usage.input_tokens").unwrap();
            assert_eq!(
                input,
                (history + 100).min(1000),
                "session {id}, turn {}",
                turn.index
            );
            history += 100 + answer.attr_i64("gen_ai.usage.output_tokens").unwrap();
        }
    }
    assert!(summaries > 20, "{summaries} summaries");
}

#[test]
fn check_reports_sessions_by_turn_and_evaluation_scores() {
    let out = bin()
        .args([
            "check",
            "--name",
            "support_chat",
            "--samples",
            "400",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let session = &report["session"];
    assert_eq!(session["sessions"], 400);
    let mean = session["turns_per_session"]["mean"].as_f64().unwrap();
    // Poisson(4) clamped to [1, 12].
    assert!((mean - 4.02).abs() < 0.4, "{mean}");
    let by_turn = session["by_turn"].as_array().unwrap();
    let tokens: Vec<f64> = by_turn
        .iter()
        .take(4)
        .map(|r| r["input_tokens_mean"].as_f64().unwrap())
        .collect();
    assert!(tokens.windows(2).all(|w| w[1] > w[0] + 500.0), "{tokens:?}");
    let success = &report["evaluations"]["task_success"];
    assert_eq!(success["count"], 400, "one per session");
    let rate = success["labels"]["success"].as_f64().unwrap() / 400.0;
    assert!((rate - 0.8).abs() < 0.07, "{rate}");
}
