//! An LLM call that behaves like one: its usage (input, cached, cache-written, output and
//! reasoning tokens), its time from those tokens, its time to first chunk when it streams, and its
//! cost, for the steps that have an `llm:` block.
//!
//! Everything is read from ONE [`Usage`] per span, made after all of the span's attributes have
//! been drawn: the timing, the usage attributes, the cost attributes, and through them the metrics,
//! the logs and `check`, which read the span's attributes and never draw again. So the TTFT on the
//! span, in the TTFT histogram and in `check` is one value, and the cost is exactly its tokens
//! times its prices. Input tokens are final when [`Usage`] is made (the place to grow them with a
//! conversation's history is [`apply`], before the usage is read). Drawing the duration first and
//! fitting tokens to it was the alternative rejected: dashboards plot latency against tokens, and
//! only time computed from tokens gives them the line a real model gives.
//!
//! The numbers come from `conventions::models` (bundled profiles and prices) overridden by the
//! scenario's `models:`; they are resolved once, when the plan is compiled. The per-span path
//! reads and writes the trace's attribute buffer in place and allocates nothing.

use super::plan::{AttrPlan, Plan};
use super::sampler::Sampler;
use super::symbols::{Attr, AttrValue, Sym};
use super::trace::{find, sum};
use crate::conventions::models::{self, JITTER_CAP, Price, QUEUE_CAP, Timing};
use crate::scenario::{
    AttributeValue, CacheRead, Literal, LlmStep, LlmTiming, ModelSpec, Scenario, Step,
};
use rand::{Rng, RngExt};
use rand_distr::{Distribution as _, StandardNormal};

/// The model an LLM step names when it names none (the conventions' default).
pub const DEFAULT_MODEL: &str = "gpt-4.1-mini";

/// A step's `llm:` block, compiled.
pub(crate) struct LlmPlan {
    pub from_tokens: bool,
    pub stream: bool,
    pub max_tokens: Option<i64>,
    cache_read: Option<CacheDraw>,
    cache_creation: Option<Sampler>,
    reasoning: Option<Sampler>,
    pub timing: Timing,
    /// `None` for a model with no price (no cost attributes then).
    pub price: Option<Price>,
    keys: LlmKeys,
}

enum CacheDraw {
    Tokens(Sampler),
    Ratio(f64),
}

/// The attribute keys an LLM span's usage, timing and cost are written under.
pub(crate) struct LlmKeys {
    pub input: Sym,
    pub output: Sym,
    pub cache_read: Sym,
    pub cache_creation: Sym,
    pub reasoning: Sym,
    pub stream: Sym,
    pub max_tokens: Sym,
    pub ttft: Sym,
    pub cost: Sym,
    oi_cache_read: Sym,
    oi_cache_write: Sym,
    oi_reasoning: Sym,
    oi_cost_prompt: Sym,
    oi_cost_completion: Sym,
    oi_cost_total: Sym,
}

impl LlmKeys {
    pub(crate) fn intern(intern: &mut dyn FnMut(&str) -> Sym) -> LlmKeys {
        LlmKeys {
            input: intern("gen_ai.usage.input_tokens"),
            output: intern("gen_ai.usage.output_tokens"),
            cache_read: intern("gen_ai.usage.cache_read.input_tokens"),
            cache_creation: intern("gen_ai.usage.cache_creation.input_tokens"),
            reasoning: intern("gen_ai.usage.reasoning.output_tokens"),
            stream: intern("gen_ai.request.stream"),
            max_tokens: intern("gen_ai.request.max_tokens"),
            ttft: intern("gen_ai.response.time_to_first_chunk"),
            cost: intern("gen_ai.usage.cost"),
            oi_cache_read: intern("llm.token_count.prompt_details.cache_read"),
            oi_cache_write: intern("llm.token_count.prompt_details.cache_write"),
            oi_reasoning: intern("llm.token_count.completion_details.reasoning"),
            oi_cost_prompt: intern("llm.cost.prompt"),
            oi_cost_completion: intern("llm.cost.completion"),
            oi_cost_total: intern("llm.cost.total"),
        }
    }
}

/// One LLM call's tokens, final: every other reading of them derives from this.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// All input tokens, cached ones included (as `gen_ai.usage.input_tokens` counts them).
    pub input: i64,
    /// Of the input, read from the prompt cache.
    pub cache_read: i64,
    /// Of the input, written to the prompt cache.
    pub cache_creation: i64,
    /// All output tokens, reasoning included.
    pub output: i64,
    /// Of the output, reasoning.
    pub reasoning: i64,
}

/// USD.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cost {
    pub prompt: f64,
    pub completion: f64,
    pub total: f64,
}

impl Usage {
    /// Input tokens neither read from nor written to the cache.
    pub fn uncached_input(&self) -> i64 {
        self.input - self.cache_read - self.cache_creation
    }

    /// Tokens times prices: each product from whole tokens, divided once by a million.
    pub fn cost(&self, price: &Price) -> Cost {
        let prompt = (self.uncached_input() as f64 * price.input
            + self.cache_read as f64 * price.cached_input
            + self.cache_creation as f64 * price.cache_creation)
            / 1e6;
        let completion = self.output as f64 * price.output / 1e6;
        Cost {
            prompt,
            completion,
            total: prompt + completion,
        }
    }
}

/// The parts of an LLM call's duration, in ns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timed {
    pub queue_ns: u64,
    pub prefill_ns: u64,
    pub decode_ns: u64,
}

impl Timed {
    /// Time to first chunk: the queue wait and the prefill.
    pub fn ttft_ns(&self) -> u64 {
        self.queue_ns + self.prefill_ns
    }

    pub fn duration_ns(&self) -> u64 {
        self.ttft_ns() + self.decode_ns
    }
}

/// `1 + jitter·z`, `z` standard normal cut at ±[`JITTER_CAP`].
fn factor<R: Rng + ?Sized>(rng: &mut R, jitter: f64) -> f64 {
    let z: f64 = StandardNormal.sample(rng);
    (1.0 + jitter * z.clamp(-JITTER_CAP, JITTER_CAP)).max(0.0)
}

fn ms_ns(ms: f64) -> u64 {
    // Bounded: token counts are integers below 2^53 and every per-token time is checked finite.
    (ms * 1e6).round().clamp(0.0, 8.64e13) as u64
}

/// Draws the queue wait, prefill and decode of a call with `usage` on a model timed `t`.
pub fn time<R: Rng + ?Sized>(usage: &Usage, t: &Timing, rng: &mut R) -> Timed {
    let queue_ms = if t.queue_ms > 0.0 {
        let u: f64 = rng.random();
        (-t.queue_ms * (1.0 - u).ln()).min(QUEUE_CAP * t.queue_ms)
    } else {
        0.0
    };
    let prefill_ms = t.overhead_ms
        + (usage.input - usage.cache_read) as f64 * t.input_token_ms
        + usage.cache_read as f64 * t.cached_input_token_ms;
    let decode_ms = (usage.output - 1).max(0) as f64 * t.output_token_ms;
    Timed {
        queue_ns: ms_ns(queue_ms),
        prefill_ns: ms_ns(prefill_ms * factor(rng, t.jitter)),
        decode_ns: ms_ns(decode_ms * factor(rng, t.jitter)),
    }
}

impl LlmPlan {
    fn compile(step: &LlmStep, model: &str, models: &[ModelSpec], keys: LlmKeys) -> LlmPlan {
        let (timing, price) = resolve(model, models);
        LlmPlan {
            from_tokens: step.timing == LlmTiming::Tokens,
            stream: step.stream,
            max_tokens: step.max_tokens.map(i64::from),
            cache_read: step.cache_read.as_ref().map(|c| match c {
                CacheRead::Tokens(d) => CacheDraw::Tokens(Sampler::new(d)),
                CacheRead::Ratio(r) => CacheDraw::Ratio(*r),
            }),
            cache_creation: step.cache_creation_tokens.as_ref().map(Sampler::new),
            reasoning: step.reasoning_tokens.as_ref().map(Sampler::new),
            timing,
            price,
            keys,
        }
    }
}

/// The timing and price of `model`: its `models:` entry over what it is `like` (else its bundled
/// row, else the small profile with no price).
pub fn resolve(model: &str, models: &[ModelSpec]) -> (Timing, Option<Price>) {
    let spec = models.iter().find(|m| m.name == model);
    let base_name = spec.and_then(|s| s.like.as_deref()).unwrap_or(model);
    let bundled = models::lookup(base_name);
    let profile = models::profile(base_name)
        .or_else(|| bundled.and_then(|b| models::profile(b.profile)))
        .unwrap_or(&models::PROFILES[0]);
    let mut timing = profile.timing;
    let mut price = bundled.map(|b| b.price);
    let Some(s) = spec else {
        return (timing, price);
    };
    let set = |slot: &mut f64, value: Option<f64>| {
        if let Some(v) = value {
            *slot = v;
        }
    };
    set(&mut timing.queue_ms, s.queue_ms);
    set(&mut timing.overhead_ms, s.overhead_ms);
    set(&mut timing.input_token_ms, s.input_token_ms);
    set(&mut timing.cached_input_token_ms, s.cached_input_token_ms);
    set(&mut timing.output_token_ms, s.output_token_ms);
    set(&mut timing.jitter, s.jitter);
    let prices = [
        s.input_price,
        s.cached_input_price,
        s.cache_creation_price,
        s.output_price,
    ];
    if prices.iter().any(Option::is_some) {
        // Given prices over the base's; a part neither gives is free, except that cache
        // writes cost what plain input does unless said otherwise.
        let base = price.unwrap_or(Price {
            input: 0.0,
            cached_input: 0.0,
            cache_creation: s.input_price.unwrap_or(0.0),
            output: 0.0,
        });
        let mut p = base;
        set(&mut p.input, s.input_price);
        set(&mut p.cached_input, s.cached_input_price);
        set(&mut p.cache_creation, s.cache_creation_price);
        set(&mut p.output, s.output_price);
        price = Some(p);
    }
    (timing, price)
}

/// The model an LLM step is timed and priced as: its `llm.model`, else its constant
/// `gen_ai.request.model`, else [`DEFAULT_MODEL`].
pub fn model_of<'s>(step: &'s Step, llm: &'s LlmStep) -> &'s str {
    llm.model.as_deref().unwrap_or_else(|| {
        step.attributes
            .iter()
            .find_map(|a| match &a.value {
                AttributeValue::Constant(Literal::Str(s)) if a.key == "gen_ai.request.model" => {
                    Some(s.as_str())
                }
                _ => None,
            })
            .unwrap_or(DEFAULT_MODEL)
    })
}

impl Plan {
    /// Compiles the `llm:` block of every step that has one onto its node (the first nodes are
    /// the steps in pre-order, as [`Step::walk`] gives them; nodes the plan adds itself, such as
    /// a hallucinated tool call's, follow them).
    pub(super) fn compile_llm(&mut self, scenario: &Scenario) {
        let steps = scenario.root.walk();
        debug_assert!(
            steps.len() <= self.nodes.len(),
            "one node per step, in pre-order, before the plan's own"
        );
        for (i, step) in steps.into_iter().enumerate() {
            if let Some(llm) = &step.llm {
                let keys = LlmKeys::intern(&mut |s| self.intern(s));
                let plan = LlmPlan::compile(llm, model_of(step, llm), &scenario.models, keys);
                self.nodes[i].llm = Some(Box::new(plan));
            }
        }
    }
}

/// Reads a token count attribute.
fn count(attrs: &[Attr], key: Sym) -> Option<i64> {
    match find(attrs, key)? {
        AttrValue::Int(i) => Some(i.max(0)),
        AttrValue::Double(d) if d.is_finite() => Some(d.round().max(0.0) as i64),
        _ => None,
    }
}

/// Draws a token count.
fn draw<R: Rng + ?Sized>(sampler: &Sampler, rng: &mut R) -> i64 {
    let x = sampler.number(rng).round();
    if x.is_finite() {
        x.clamp(0.0, 1e15) as i64
    } else {
        0
    }
}

/// Sets `key` among `attrs[start..]` to `value`, or appends it.
fn set(attrs: &mut Vec<Attr>, start: usize, key: Sym, value: AttrValue) {
    match attrs[start..].iter_mut().find(|a| a.key == key) {
        Some(a) => a.value = value,
        None => attrs.push(Attr { key, value }),
    }
}

/// The usage of the span whose attributes are `attrs[start..]`, drawn and cut as its plan says.
fn usage<R: Rng + ?Sized>(llm: &LlmPlan, attrs: &[Attr], rng: &mut R) -> Usage {
    let k = &llm.keys;
    let input = count(attrs, k.input).unwrap_or(0);
    let cache_read = match &llm.cache_read {
        Some(CacheDraw::Tokens(s)) => draw(s, rng),
        Some(CacheDraw::Ratio(r)) => (input as f64 * r).round() as i64,
        None => count(attrs, k.cache_read).unwrap_or(0),
    }
    .min(input);
    let cache_creation = match &llm.cache_creation {
        Some(s) => draw(s, rng),
        None => count(attrs, k.cache_creation).unwrap_or(0),
    }
    .min(input - cache_read);
    let mut output = count(attrs, k.output).unwrap_or(0);
    let reasoning = match &llm.reasoning {
        Some(s) => {
            let r = draw(s, rng);
            output = output.saturating_add(r);
            r
        }
        None => count(attrs, k.reasoning).unwrap_or(0),
    };
    if let Some(max) = llm.max_tokens {
        output = output.min(max);
    }
    Usage {
        input,
        cache_read,
        cache_creation,
        output,
        reasoning: reasoning.min(output),
    }
}

/// Makes the usage of an LLM span whose planned attributes (`plans`) are `attrs[start..]`,
/// writes it, its TTFT and its cost onto the span, and returns its duration when its time comes
/// from its tokens.
pub(super) fn apply<R: Rng + ?Sized>(
    llm: &LlmPlan,
    plans: &[AttrPlan],
    attrs: &mut Vec<Attr>,
    start: usize,
    rng: &mut R,
) -> Option<u64> {
    let k = &llm.keys;
    let u = usage(llm, &attrs[start..], rng);
    let int = AttrValue::Int;
    if find(&attrs[start..], k.output).is_some() || u.output > 0 {
        set(attrs, start, k.output, int(u.output));
    }
    if let Some(max) = llm.max_tokens {
        set(attrs, start, k.max_tokens, int(max));
    }
    if llm.stream {
        set(attrs, start, k.stream, AttrValue::Bool(true));
    }
    let details = [
        (
            llm.cache_read.is_some(),
            k.cache_read,
            k.oi_cache_read,
            u.cache_read,
        ),
        (
            llm.cache_creation.is_some(),
            k.cache_creation,
            k.oi_cache_write,
            u.cache_creation,
        ),
        (
            llm.reasoning.is_some(),
            k.reasoning,
            k.oi_reasoning,
            u.reasoning,
        ),
    ];
    for (configured, key, oi_key, n) in details {
        if configured || find(&attrs[start..], key).is_some() {
            set(attrs, start, key, int(n));
            set(attrs, start, oi_key, int(n));
        }
    }
    rederive(plans, attrs, start);
    let timed = (llm.from_tokens || llm.stream).then(|| time(&u, &llm.timing, rng));
    if let (true, Some(t)) = (llm.stream, timed) {
        set(
            attrs,
            start,
            k.ttft,
            AttrValue::Double(t.ttft_ns() as f64 / 1e9),
        );
    }
    if let Some(price) = &llm.price {
        let cost = u.cost(price);
        set(attrs, start, k.cost, AttrValue::Double(cost.total));
        set(
            attrs,
            start,
            k.oi_cost_prompt,
            AttrValue::Double(cost.prompt),
        );
        set(
            attrs,
            start,
            k.oi_cost_completion,
            AttrValue::Double(cost.completion),
        );
        set(attrs, start, k.oi_cost_total, AttrValue::Double(cost.total));
    }
    timed.filter(|_| llm.from_tokens).map(|t| t.duration_ns())
}

/// Recomputes the copies and sums among `plans` (a total, the OpenInference token counts) from
/// the span's final values.
fn rederive(plans: &[AttrPlan], attrs: &mut [Attr], start: usize) {
    for plan in plans {
        let value = match plan {
            AttrPlan::CopyOf { from, .. } => find(&attrs[start..], *from),
            AttrPlan::Sum { of: [a, b], .. } => {
                let span = &attrs[start..];
                sum(find(span, *a), find(span, *b))
            }
            _ => continue,
        };
        let key = plan.key();
        if let (Some(value), Some(slot)) = (value, attrs[start..].iter_mut().find(|a| a.key == key))
        {
            slot.value = value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    const PRICE: Price = Price {
        input: 3.0,
        cached_input: 0.3,
        cache_creation: 3.75,
        output: 15.0,
    };

    #[test]
    fn cost_is_tokens_times_price() {
        let u = Usage {
            input: 12_345,
            cache_read: 10_000,
            cache_creation: 345,
            output: 678,
            reasoning: 100,
        };
        let c = u.cost(&PRICE);
        let prompt = (2_000.0 * 3.0 + 10_000.0 * 0.3 + 345.0 * 3.75) / 1e6;
        assert!((c.prompt - prompt).abs() <= 1e-12 * prompt);
        assert!((c.completion - 678.0 * 15.0 / 1e6).abs() <= 1e-15);
        assert_eq!(c.total, c.prompt + c.completion);
    }

    #[test]
    fn without_jitter_time_is_queue_prefill_and_decode() {
        let t = Timing {
            queue_ms: 0.0,
            overhead_ms: 100.0,
            input_token_ms: 0.1,
            cached_input_token_ms: 0.01,
            output_token_ms: 10.0,
            jitter: 0.0,
        };
        let u = Usage {
            input: 1000,
            cache_read: 600,
            output: 51,
            ..Usage::default()
        };
        let timed = time(&u, &t, &mut Pcg64Mcg::seed_from_u64(1));
        assert_eq!(timed.queue_ns, 0);
        assert_eq!(timed.prefill_ns, 146_000_000, "100 + 400·0.1 + 600·0.01 ms");
        assert_eq!(timed.decode_ns, 500_000_000, "50 tokens after the first");
        assert_eq!(timed.duration_ns(), 646_000_000);
    }

    #[test]
    fn jitter_and_queue_stay_within_their_bounds() {
        let t = models::PROFILES[1].timing;
        let u = Usage {
            input: 2000,
            output: 300,
            ..Usage::default()
        };
        let mut rng = Pcg64Mcg::seed_from_u64(7);
        let prefill = t.overhead_ms + 2000.0 * t.input_token_ms;
        let decode = 299.0 * t.output_token_ms;
        for _ in 0..10_000 {
            let x = time(&u, &t, &mut rng);
            let spread = t.jitter * JITTER_CAP;
            let within = |ns: u64, ms: f64| {
                let r = ns as f64 / 1e6 / ms;
                (1.0 - spread - 1e-9..=1.0 + spread + 1e-9).contains(&r)
            };
            assert!(within(x.prefill_ns, prefill) && within(x.decode_ns, decode));
            assert!(x.queue_ns as f64 <= QUEUE_CAP * t.queue_ms * 1e6 + 1.0);
        }
    }

    #[test]
    fn a_models_entry_overrides_its_base() {
        let spec = ModelSpec {
            name: "my-model".into(),
            like: Some("claude-sonnet".into()),
            output_token_ms: Some(5.0),
            output_price: Some(20.0),
            ..ModelSpec::default()
        };
        let (timing, price) = resolve("my-model", &[spec]);
        assert_eq!(timing.output_token_ms, 5.0);
        assert_eq!(
            timing.overhead_ms,
            models::profile("large").unwrap().timing.overhead_ms
        );
        let price = price.unwrap();
        assert_eq!((price.input, price.output), (3.0, 20.0));
        let (timing, price) = resolve("in-house-llm", &[]);
        assert_eq!(timing, models::PROFILES[0].timing);
        assert_eq!(price, None);
        let (timing, _) = resolve("o3", &[]);
        assert_eq!(timing, models::profile("reasoning").unwrap().timing);
    }
}

#[cfg(test)]
mod usage_tests {
    use crate::generate::testing::{plan, traces};
    use crate::generate::{AttrValue, SpanRecord, Trace};
    use crate::scenario::SpanType;

    fn int(plan: &crate::generate::Plan, trace: &Trace, span: &SpanRecord, key: &str) -> i64 {
        trace
            .attrs_of(span)
            .iter()
            .find(|a| plan.str(a.key) == key)
            .map(|a| match a.value {
                AttrValue::Int(n) => n,
                other => panic!("{key}: {other:?}"),
            })
            .unwrap_or_else(|| panic!("{key} missing"))
    }

    /// Over many draws, the one usage is consistent wherever it is read: cache within input,
    /// reasoning within output within max_tokens, copies equal, TTFT within the span.
    #[test]
    fn every_reading_of_the_usage_agrees() {
        let p = plan(
            "name: t\nroot:\n  type: vendor.llm.call\n  llm:\n    timing: tokens\n    stream: true\n    max_tokens: 400\n    cache_read_tokens: {distribution: uniform, low: 0, high: 5000}\n    cache_creation_tokens: {distribution: poisson, lambda: 800}\n    reasoning_tokens: {distribution: log_normal, median: 200, sigma: 1}\n",
        );
        for trace in traces(&p, 3, 2000) {
            let span = &trace.spans[0];
            assert_eq!(span.span_type, SpanType::LlmCall);
            let get = |k: &str| int(&p, &trace, span, k);
            let input = get("gen_ai.usage.input_tokens");
            let (read, written) = (
                get("gen_ai.usage.cache_read.input_tokens"),
                get("gen_ai.usage.cache_creation.input_tokens"),
            );
            let output = get("gen_ai.usage.output_tokens");
            let reasoning = get("gen_ai.usage.reasoning.output_tokens");
            assert!(read >= 0 && written >= 0 && read + written <= input);
            assert!(0 <= reasoning && reasoning <= output && output <= 400);
            assert_eq!(get("llm.token_count.completion"), output);
            assert_eq!(get("llm.token_count.total"), input + output);
            assert_eq!(get("llm.token_count.prompt_details.cache_read"), read);
            let ttft = trace
                .attrs_of(span)
                .iter()
                .find(|a| p.str(a.key) == "gen_ai.response.time_to_first_chunk")
                .map(|a| match a.value {
                    AttrValue::Double(s) => s,
                    other => panic!("{other:?}"),
                })
                .unwrap();
            assert!(ttft > 0.0 && ttft * 1e9 <= span.duration_ns() as f64 + 1.0);
        }
    }

    /// A scenario whose steps have no `llm:` block carries none of its attributes.
    #[test]
    fn without_the_block_nothing_is_added() {
        let p = crate::generate::testing::bundled("successful_agent_turn");
        for trace in traces(&p, 1, 50) {
            for a in &trace.attrs {
                let key = p.str(a.key);
                assert!(
                    !key.contains("cost")
                        && !key.contains("time_to_first")
                        && !key.contains("cache_"),
                    "{key}"
                );
            }
        }
    }
}
