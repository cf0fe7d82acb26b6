//! LLM calls that behave like LLM calls, as the official Python decoder receives them: a span's
//! duration follows its tokens at the configured time per output token, a streaming call's time
//! to first chunk lies inside its span and is its queue wait plus its prefill (cached tokens
//! prefilled at their own rate), and its cost is its tokens times its prices, on the span and in
//! the cost counter.

use crate::common::{Received, Span, Z_999, mean, scenario_dir, send_to_judge};
use serde_json::Value;

/// A turn with one LLM call of a scenario-defined model (`model`: its `models:` keys), with
/// these `llm:` keys and output tokens.
fn scenario(model: &str, llm: &str, output: &str) -> String {
    let lines = [
        "name: t".to_string(),
        "models:".into(),
        "  test-model:".into(),
        model.trim_end().into(),
        "root:".into(),
        "  type: vendor.a2a.orchestrate".into(),
        "  latency: 1".into(),
        "  error: 0".into(),
        "  children:".into(),
        "    - type: vendor.llm.call".into(),
        "      error: 0".into(),
        "      llm:".into(),
        "        model: test-model".into(),
        llm.trim_end().into(),
        "      attributes:".into(),
        "        gen_ai.request.model: test-model".into(),
        "        gen_ai.usage.input_tokens: {distribution: uniform, low: 200, high: 4000}".into(),
        format!("        gen_ai.usage.output_tokens: {output}"),
    ];
    lines.join("\n") + "\n"
}

fn send(yaml: &str, count: &str) -> Received {
    let dir = scenario_dir(&[("t", yaml)]);
    let args = [
        "scenario",
        "--scenarios-dir",
        dir.path().to_str().unwrap(),
        "--name",
        "t",
        "--count",
        count,
        "--interval",
        "0",
        "--seed",
        "11",
    ];
    send_to_judge(&args, &[])
}

fn llm_spans(got: &Received) -> Vec<&Span> {
    let spans = got.spans_named("vendor.llm.call");
    assert!(!spans.is_empty(), "no LLM span received");
    spans
}

fn int(span: &Span, key: &str) -> i64 {
    span.attr_i64(key)
        .unwrap_or_else(|| panic!("{key} missing: {:?}", span.attributes))
}

#[test]
fn duration_regresses_on_output_tokens_at_the_configured_time_per_token() {
    let model = "    queue_ms: 20\n    overhead_ms: 100\n    input_token_ms: 0.05\n    output_token_ms: 12\n    jitter: 0.1\n";
    let yaml = scenario(
        model,
        "        timing: tokens\n",
        "{distribution: uniform, low: 20, high: 800}",
    );
    let got = send(&yaml, "400");
    let points: Vec<(f64, f64)> = llm_spans(&got)
        .iter()
        .map(|s| {
            let output = int(s, "gen_ai.usage.output_tokens") as f64;
            (output, s.duration_ns() as f64 / 1e6)
        })
        .collect();
    // Ordinary least squares of duration (ms) on output tokens, with the slope's standard error.
    let xs: Vec<f64> = points.iter().map(|p| p.0).collect();
    let ys: Vec<f64> = points.iter().map(|p| p.1).collect();
    let (mx, my) = (mean(&xs), mean(&ys));
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    // The decode jitter scales with the output tokens, so the noise grows with x: the slope's
    // standard error is the heteroscedasticity-robust one (HC1), not the textbook formula.
    let n = points.len() as f64;
    let weighted: f64 = points
        .iter()
        .map(|(x, y)| (x - mx).powi(2) * (y - intercept - slope * x).powi(2))
        .sum();
    let se = (weighted * n / (n - 2.0)).sqrt() / sxx;
    assert!(
        (slope - 12.0).abs() <= Z_999 * se,
        "slope {slope} ms/token ± {se} over {n} spans, configured 12"
    );
    assert!(se < 0.5, "the regression should be tight: se {se}");
}

#[test]
fn ttft_is_queue_and_prefill_inside_the_span_and_cached_tokens_shorten_it() {
    // No queue and no jitter: every time is the formula's, to the nanosecond.
    let model = "    queue_ms: 0\n    overhead_ms: 100\n    input_token_ms: 0.2\n    cached_input_token_ms: 0.02\n    output_token_ms: 5\n    jitter: 0\n";
    let llm = "        timing: tokens\n        stream: true\n        cache_read_ratio: 0.75\n        max_tokens: 300\n";
    let got = send(
        &scenario(model, llm, "{distribution: uniform, low: 1, high: 600}"),
        "200",
    );
    let mut capped = 0;
    for span in llm_spans(&got) {
        assert_eq!(span.attr_bool("gen_ai.request.stream"), Some(true));
        assert_eq!(span.attr_i64("gen_ai.request.max_tokens"), Some(300));
        let input = int(span, "gen_ai.usage.input_tokens");
        let cached = int(span, "gen_ai.usage.cache_read.input_tokens");
        let output = int(span, "gen_ai.usage.output_tokens");
        assert_eq!(
            cached,
            (input as f64 * 0.75).round() as i64,
            "cache_read_ratio"
        );
        assert_eq!(
            span.attr_i64("llm.token_count.prompt_details.cache_read"),
            Some(cached)
        );
        assert!(output <= 300, "output {output} beyond max_tokens");
        capped += (output == 300) as usize;
        assert_eq!(int(span, "llm.token_count.completion"), output);
        let ttft = span
            .attr_f64("gen_ai.response.time_to_first_chunk")
            .expect("a streaming call has its TTFT");
        let prefill_ms = 100.0 + (input - cached) as f64 * 0.2 + cached as f64 * 0.02;
        assert!(
            (ttft * 1e3 - prefill_ms).abs() < 1e-6,
            "ttft {ttft} s, prefill {prefill_ms} ms"
        );
        let uncached_prefill_ms = 100.0 + input as f64 * 0.2;
        assert!(
            input < 10 || ttft * 1e3 < uncached_prefill_ms,
            "cache shortens prefill"
        );
        let decode_ms = (output - 1) as f64 * 5.0;
        let duration_ms = span.duration_ns() as f64 / 1e6;
        assert!(
            (duration_ms - prefill_ms - decode_ms).abs() < 1e-5,
            "{duration_ms}"
        );
        assert!(
            span.start + (ttft * 1e9) as u64 <= span.end,
            "TTFT inside the span"
        );
    }
    assert!(capped > 0, "some outputs reach max_tokens");
    // The llm.call log record of each span copies its TTFT, the same value.
    for span in llm_spans(&got) {
        let log = got
            .logs
            .iter()
            .find(|l| l["span_id"] == span.span_id.as_str() && l["event_name"] == "vendor.llm.call")
            .unwrap_or_else(|| panic!("no llm.call log of span {}", span.span_id));
        assert_eq!(
            log["attributes"]["gen_ai.response.time_to_first_chunk"].as_f64(),
            span.attr_f64("gen_ai.response.time_to_first_chunk")
        );
    }
    // The TTFT histogram measures the very values on the spans.
    let ttfts: Vec<f64> = llm_spans(&got)
        .iter()
        .map(|s| s.attr_f64("gen_ai.response.time_to_first_chunk").unwrap())
        .collect();
    let points = metric_points(&got, "gen_ai.client.operation.time_to_first_chunk");
    let count: u64 = points.iter().map(|p| p["count"].as_u64().unwrap()).sum();
    let sum: f64 = points.iter().map(|p| p["sum"].as_f64().unwrap()).sum();
    assert_eq!(count, ttfts.len() as u64);
    assert!((sum - ttfts.iter().sum::<f64>()).abs() < 1e-9 * sum);
    let chunks = metric_points(&got, "gen_ai.client.operation.time_per_output_chunk");
    let chunk_count: u64 = chunks.iter().map(|p| p["count"].as_u64().unwrap()).sum();
    let expected: i64 = llm_spans(&got)
        .iter()
        .map(|s| int(s, "gen_ai.usage.output_tokens") - 1)
        .sum();
    assert_eq!(
        chunk_count as i64, expected,
        "one measurement per chunk after the first"
    );
}

/// The points of metric `name` (cumulative: the last export's).
fn metric_points<'a>(got: &'a Received, name: &str) -> Vec<&'a Value> {
    let last = got
        .metrics
        .iter()
        .rev()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("{name} never sent"));
    last["points"].as_array().unwrap().iter().collect()
}

#[test]
fn cost_is_tokens_times_price_exactly() {
    let model = "    like: large\n    input_price: 3\n    cached_input_price: 0.3\n    cache_creation_price: 3.75\n    output_price: 15\n";
    let llm = "        timing: tokens\n        cache_read_tokens: {distribution: uniform, low: 0, high: 3000}\n        cache_creation_tokens: {distribution: poisson, lambda: 150}\n        reasoning_tokens: {distribution: log_normal, median: 300, sigma: 0.5}\n";
    let got = send(
        &scenario(
            model,
            llm,
            "{distribution: log_normal, median: 200, sigma: 0.5}",
        ),
        "150",
    );
    let mut total = 0.0;
    for span in llm_spans(&got) {
        let input = int(span, "gen_ai.usage.input_tokens");
        let read = int(span, "gen_ai.usage.cache_read.input_tokens");
        let written = int(span, "gen_ai.usage.cache_creation.input_tokens");
        let output = int(span, "gen_ai.usage.output_tokens");
        let reasoning = int(span, "gen_ai.usage.reasoning.output_tokens");
        assert!(
            read + written <= input && reasoning <= output,
            "{:?}",
            span.attributes
        );
        let prompt =
            ((input - read - written) as f64 * 3.0 + read as f64 * 0.3 + written as f64 * 3.75)
                / 1e6;
        let completion = output as f64 * 15.0 / 1e6;
        let cost = span
            .attr_f64("gen_ai.usage.cost")
            .expect("a priced model's cost");
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1e-12);
        assert!(
            close(cost, prompt + completion),
            "{cost} vs {}",
            prompt + completion
        );
        assert!(close(span.attr_f64("llm.cost.prompt").unwrap(), prompt));
        assert!(close(
            span.attr_f64("llm.cost.completion").unwrap(),
            completion
        ));
        assert_eq!(span.attr_f64("llm.cost.total"), Some(cost));
        total += cost;
    }
    let points = metric_points(&got, "vendor.llm.cost");
    let counted: f64 = points.iter().map(|p| p["value"].as_f64().unwrap()).sum();
    assert!(
        (counted - total).abs() <= 1e-9 * total,
        "{counted} vs {total}"
    );
    assert!(
        points
            .iter()
            .all(|p| p["attributes"]["gen_ai.request.model"] == "test-model")
    );
}

#[test]
fn the_bundled_llm_scenarios_stream_cache_reason_and_cost() {
    let got = send_to_judge(
        &[
            "scenario",
            "--name",
            "streaming_assistant",
            "--count",
            "30",
            "--interval",
            "0",
        ],
        &[],
    );
    assert!(got.warnings.is_empty(), "{:?}", got.warnings);
    let spans = llm_spans(&got);
    assert!(
        spans
            .iter()
            .all(|s| s.attr_f64("gen_ai.response.time_to_first_chunk").is_some())
    );
    assert!(
        spans
            .iter()
            .all(|s| s.attr_f64("gen_ai.usage.cost").is_some_and(|c| c > 0.0))
    );
    assert!(
        spans
            .iter()
            .any(|s| int(s, "gen_ai.usage.cache_read.input_tokens") > 0)
    );
    let got = send_to_judge(
        &[
            "scenario",
            "--name",
            "reasoning_agent",
            "--count",
            "30",
            "--interval",
            "0",
        ],
        &[],
    );
    let reasoning: Vec<&Span> = llm_spans(&got)
        .into_iter()
        .filter(|s| s.attr_str("gen_ai.request.model") == Some("o3"))
        .collect();
    assert_eq!(reasoning.len(), 30);
    for s in reasoning {
        let r = int(s, "gen_ai.usage.reasoning.output_tokens");
        assert!(r > 0 && r <= int(s, "gen_ai.usage.output_tokens"));
        assert_eq!(int(s, "llm.token_count.completion_details.reasoning"), r);
    }
}

#[test]
fn a_prices_file_overrides_the_bundled_prices() {
    let dir = tempfile::tempdir().unwrap();
    let prices = dir.path().join("prices.yaml");
    std::fs::write(&prices, "o3:\n  input_price: 1\n  output_price: 2\n").unwrap();
    let got = send_to_judge(
        &[
            "scenario",
            "--name",
            "reasoning_agent",
            "--count",
            "20",
            "--interval",
            "0",
            "--prices",
            prices.to_str().unwrap(),
        ],
        &[],
    );
    let o3: Vec<&Span> = llm_spans(&got)
        .into_iter()
        .filter(|s| s.attr_str("gen_ai.request.model") == Some("o3"))
        .collect();
    assert_eq!(o3.len(), 20);
    for s in o3 {
        // o3's bundled cached-input price stays; no cache tokens here, so input × 1 + output × 2.
        let expected = (int(s, "gen_ai.usage.input_tokens") as f64
            + 2.0 * int(s, "gen_ai.usage.output_tokens") as f64)
            / 1e6;
        let cost = s.attr_f64("gen_ai.usage.cost").unwrap();
        assert!(
            (cost - expected).abs() <= 1e-9 * expected,
            "{cost} vs {expected}"
        );
    }
    std::fs::write(&prices, "o3:\n  output_prize: 2\n").unwrap();
    let out = crate::common::bin()
        .args(["check", "--name", "reasoning_agent", "--samples", "1"])
        .args(["--prices", prices.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("prices.yaml:2:3") && stderr.contains("output_price"),
        "{stderr}"
    );
}

/// `check` reads the TTFT and cost a run sends: the same seed gives the same figures.
#[test]
fn check_reports_the_ttft_and_cost_a_run_sends() {
    let got = send_to_judge(
        &[
            "scenario",
            "--name",
            "streaming_assistant",
            "--count",
            "50",
            "--interval",
            "0",
            "--seed",
            "5",
        ],
        &[],
    );
    let spans = llm_spans(&got);
    let sent_cost: f64 = spans
        .iter()
        .filter_map(|s| s.attr_f64("gen_ai.usage.cost"))
        .sum();
    let mut ttft_ms: Vec<f64> = spans
        .iter()
        .filter_map(|s| s.attr_f64("gen_ai.response.time_to_first_chunk"))
        .map(|s| s * 1e3)
        .collect();
    let out = crate::common::bin()
        .args(["check", "--name", "streaming_assistant", "--samples", "50"])
        .args(["--seed", "5", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::common::text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cost = report["cost_usd"]["total"].as_f64().unwrap();
    assert!(
        (cost - sent_cost).abs() <= 1e-9 * sent_cost,
        "{cost} vs {sent_cost}"
    );
    assert_eq!(
        report["ttft_ms"]["spans"].as_u64(),
        Some(ttft_ms.len() as u64)
    );
    let p50 = crate::common::quantile(&mut ttft_ms, 0.5);
    let reported = report["ttft_ms"]["p50"].as_f64().unwrap();
    assert!((reported - p50).abs() < 1e-6, "{reported} vs {p50}");
    assert!(report["tokens"]["cache_read"]["total"].as_u64().unwrap() > 0);
}

/// `validate` reads a `--prices` file too: it prices what the scenario does not, and a `like:`
/// there that names nothing known stops a run.
#[test]
fn validate_and_runs_read_the_prices_file() {
    let yaml = "name: t\nroot:\n  type: vendor.a2a.orchestrate\n  children:\n    - type: vendor.llm.call\n      llm: {model: in-house, timing: tokens}\n";
    let dir = scenario_dir(&[("t", yaml)]);
    let file = dir.path().join("t.yaml");
    let validate = |prices: Option<&std::path::Path>| {
        let mut cmd = crate::common::bin();
        cmd.arg("validate").arg(&file);
        if let Some(p) = prices {
            cmd.arg("--prices").arg(p);
        }
        crate::common::text(&cmd.output().unwrap())
    };
    assert!(validate(None).contains("model `in-house` has no price"));
    let prices = dir.path().join("prices.yaml");
    std::fs::write(&prices, "in-house: {input_price: 0.1, output_price: 0.2}\n").unwrap();
    let priced = validate(Some(&prices));
    assert!(!priced.contains("no price"), "{priced}");
    std::fs::write(&prices, "in-house: {like: gpt-4.2-turbo}\n").unwrap();
    let out = crate::common::bin()
        .args(["scenario", "--scenarios-dir", dir.path().to_str().unwrap()])
        .args(["--name", "t", "--count", "1", "--output", "null"])
        .args(["--prices", prices.to_str().unwrap()])
        .env("TELEMETRY_TENANT_UUIDS", "a")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", crate::common::text(&out));
    assert!(crate::common::text(&out).contains("gpt-4.2-turbo"));
}
