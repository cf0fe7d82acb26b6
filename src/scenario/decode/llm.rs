//! Decoding of the LLM keys: a step's `llm:` block and the document's `models:` map
//! ([`super::super::llm`] says what they mean).
//!
//! A child module of the decoder, so it reads keys through the same located, did-you-mean
//! [`Fields`] as every other mapping; growing `decode.rs` by another two hundred lines was the
//! alternative rejected (each helper adding keys would have met in it). Whether a `like:` names a
//! bundled model is checked by `validate` (`lint`), since the bundled table sits above the model.

use super::super::llm::{self as keys, CacheRead, LlmStep, LlmTiming, ModelSpec};
use super::{
    Decoder, Diagnostics, Fields, Node, Policy, Report, Severity, SpanType, Value, format, join,
    nearest,
};
use crate::scenario::Distribution;

/// Decodes a `--prices` file: a mapping of model names to `models:` entries (timing and
/// prices), with every problem located.
pub fn decode_models(text: &str, file: &str) -> Result<Vec<ModelSpec>, Diagnostics> {
    let mut decoder = Decoder {
        report: Report::new(file, text, Policy::Refuse),
        prefix: crate::scenario::YAML_PREFIX,
        source_map: Default::default(),
        wiring_check: Default::default(),
        #[cfg(test)]
        asked: Vec::new(),
    };
    let models = match decoder.report.parse() {
        Some(node) => decoder.models(&node, ""),
        None => Vec::new(),
    };
    let diagnostics = decoder.report.finish();
    if diagnostics.has_errors() {
        return Err(diagnostics);
    }
    Ok(models)
}

/// Why a `--prices` file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PricesError {
    #[error("cannot read the prices file {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(Diagnostics),
}

/// Reads and decodes the `--prices` file at `path`.
pub fn load_models(path: &std::path::Path) -> Result<Vec<ModelSpec>, PricesError> {
    let text =
        crate::input::read_to_string(path, crate::input::MAX_FILE_BYTES).map_err(|source| {
            PricesError::Io {
                path: path.to_path_buf(),
                source,
            }
        })?;
    decode_models(&text, &path.display().to_string()).map_err(PricesError::Invalid)
}

/// `scenario`'s models with `overrides` (a `--prices` file) over them, entry by entry.
pub fn with_models(
    scenario: &crate::scenario::Scenario,
    overrides: &[ModelSpec],
) -> crate::scenario::Scenario {
    let mut out = scenario.clone();
    out.models
        .retain(|m| !overrides.iter().any(|o| o.name == m.name));
    out.models.extend(overrides.iter().cloned());
    out
}

/// The words `timing:` takes.
const TIMINGS: [&str; 2] = ["latency", "tokens"];

impl Decoder<'_> {
    /// A step's `llm:` block; `span_type` is its step's (only an LLM call may have one).
    pub(super) fn llm(
        &mut self,
        node: &Node,
        path: &str,
        span_type: Option<SpanType>,
    ) -> Option<LlmStep> {
        if node.value == Value::Null {
            return None;
        }
        if span_type.is_some_and(|t| t != SpanType::LlmCall) {
            self.error(
                node.mark,
                path,
                "`llm` describes an LLM call: it goes on a `vendor.llm.call` step only",
            );
            return None;
        }
        let mut f = self.fields(node, path, &keys::LLM)?;
        let model = self.text(&mut f, "model");
        let timing = match f.take(self, "timing") {
            Some((path, node)) => self.timing(node, &path),
            None => LlmTiming::Latency,
        };
        let stream = self.boolean(&mut f, "stream", false);
        let max_tokens = self
            .optional_integer(&mut f, "max_tokens")
            .map(|n| n as u32);
        let tokens = self.optional_distribution(&mut f, "cache_read_tokens");
        let ratio = self.optional_number(&mut f, "cache_read_ratio");
        let cache_read = match (tokens, ratio) {
            (Some(_), Some(_)) => {
                self.error(
                    node.mark,
                    &join(path, "cache_read_ratio"),
                    "give `cache_read_tokens` or `cache_read_ratio`, not both",
                );
                None
            }
            (Some(d), None) => Some(CacheRead::Tokens(d)),
            (None, Some(r)) => Some(CacheRead::Ratio(r)),
            (None, None) => None,
        };
        let cache_creation_tokens = self.optional_distribution(&mut f, "cache_creation_tokens");
        let reasoning_tokens = self.optional_distribution(&mut f, "reasoning_tokens");
        f.finish(self);
        if stream && timing != LlmTiming::Tokens {
            self.push(
                Severity::Error,
                Some(node.mark),
                &join(path, "stream"),
                "a streaming call's time to first chunk is its queue wait and prefill, which come from its tokens",
                Some("add `timing: tokens`".into()),
            );
        }
        Some(LlmStep {
            model,
            timing,
            stream,
            max_tokens,
            cache_read,
            cache_creation_tokens,
            reasoning_tokens,
        })
    }

    fn timing(&mut self, node: &Node, path: &str) -> LlmTiming {
        match node.scalar_text().as_deref() {
            Some("tokens") => LlmTiming::Tokens,
            Some("latency") => LlmTiming::Latency,
            other => {
                let help = other
                    .and_then(|w| nearest(w, TIMINGS))
                    .map(|n| format!("did you mean `{n}`?"))
                    .unwrap_or_else(|| "`tokens` or `latency`".into());
                self.push(
                    Severity::Error,
                    Some(node.mark),
                    path,
                    format!("unknown timing `{}`", other.unwrap_or("")),
                    Some(help),
                );
                LlmTiming::Latency
            }
        }
    }

    /// The document's `models:` map.
    pub(super) fn models(&mut self, node: &Node, path: &str) -> Vec<ModelSpec> {
        let entries = match &node.value {
            Value::Null => return Vec::new(),
            Value::Map(entries) => entries,
            _ => {
                self.expected(
                    node,
                    path,
                    "a mapping of model names to their timing and price",
                );
                return Vec::new();
            }
        };
        let mut models = Vec::new();
        for (k, v) in entries {
            let Some(name) = k.scalar_text() else {
                self.expected(k, path, "a model name");
                continue;
            };
            let model_path = join(path, &name);
            self.source_map.keys.insert(model_path.clone(), k.mark);
            if let Some(spec) = self.model(v, &model_path, name) {
                models.push(spec);
            }
        }
        models
    }

    fn model(&mut self, node: &Node, path: &str, name: String) -> Option<ModelSpec> {
        let mut f = self.fields(node, path, &keys::MODEL)?;
        let mut n = |d: &mut Self, key: &str| d.optional_number(&mut f, key);
        let spec = ModelSpec {
            name,
            like: None,
            queue_ms: n(self, "queue_ms"),
            overhead_ms: n(self, "overhead_ms"),
            input_token_ms: n(self, "input_token_ms"),
            cached_input_token_ms: n(self, "cached_input_token_ms"),
            output_token_ms: n(self, "output_token_ms"),
            jitter: n(self, "jitter"),
            input_price: n(self, "input_price"),
            cached_input_price: n(self, "cached_input_price"),
            cache_creation_price: n(self, "cache_creation_price"),
            output_price: n(self, "output_price"),
        };
        let like = self.text(&mut f, "like");
        f.finish(self);
        Some(ModelSpec { like, ..spec })
    }

    /// The number under key `name`, if given, checked against its table's range.
    fn optional_number(&mut self, f: &mut Fields, name: &str) -> Option<f64> {
        let range = f.range(name);
        let (path, node) = f.take(self, name)?;
        self.number(node, &path, range)
    }

    /// The integer under key `name`, if given, checked against its table's bounds.
    fn optional_integer(&mut self, f: &mut Fields, name: &str) -> Option<i64> {
        let (min, max) = f.integer_bounds(name);
        let (path, node) = f.take(self, name)?;
        self.integer(node, &path, min, max)
    }

    /// A `{distribution: ...}` of non-negative numbers under key `name`, if given.
    fn optional_distribution(&mut self, f: &mut Fields, name: &str) -> Option<Distribution> {
        let (path, node) = f.take(self, name)?;
        if !matches!(node.value, Value::Map(_)) {
            self.expected(node, &path, "a {distribution: ...} mapping of token counts");
            return None;
        }
        let mut inner = self.fields(node, &path, &format::SAMPLED)?;
        let d = self.distribution(&mut inner, None);
        inner.finish(self);
        match d {
            Some(d) if d.is_numeric() => Some(d),
            Some(_) => {
                self.expected(node, &path, "a distribution of numbers (token counts)");
                None
            }
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::{CacheRead, LlmTiming, LoadOptions, decode, decode_models};

    fn step(llm: &str) -> String {
        format!(
            "name: t\nroot:\n  type: vendor.a2a.orchestrate\n  children:\n    - type: vendor.llm.call\n      llm: {llm}\n"
        )
    }

    fn errors(yaml: &str) -> String {
        decode(yaml, "t.yaml", "t", &LoadOptions::default())
            .expect_err("an error")
            .to_string()
    }

    #[test]
    fn a_full_block_decodes() {
        let yaml = step(
            "{model: o3, timing: tokens, stream: true, max_tokens: 64, cache_read_ratio: 0.5, reasoning_tokens: {distribution: poisson, lambda: 9}}",
        );
        let (s, _) = decode(&yaml, "t.yaml", "t", &LoadOptions::default()).unwrap();
        let llm = s.root.children[0].llm.clone().unwrap();
        assert_eq!(llm.model.as_deref(), Some("o3"));
        assert_eq!(llm.timing, LlmTiming::Tokens);
        assert!(llm.stream);
        assert_eq!(llm.max_tokens, Some(64));
        assert_eq!(llm.cache_read, Some(CacheRead::Ratio(0.5)));
        assert!(llm.reasoning_tokens.is_some() && llm.cache_creation_tokens.is_none());
    }

    #[test]
    fn mistakes_are_located_with_a_suggestion() {
        let e = errors(&step("{timing: tokns}"));
        assert!(
            e.contains("t.yaml:6:21") && e.contains("did you mean `tokens`"),
            "{e}"
        );
        let e = errors(&step("{timing: tokens, strem: true}"));
        assert!(
            e.contains("root.children[0].llm") && e.contains("stream"),
            "{e}"
        );
        let e = errors(&step("{stream: true}"));
        assert!(
            e.contains("llm.stream") && e.contains("timing: tokens"),
            "{e}"
        );
        let e = errors(&step(
            "{cache_read_ratio: 0.5, cache_read_tokens: {distribution: poisson, lambda: 3}}",
        ));
        assert!(e.contains("not both"), "{e}");
        let e = errors(&step("{cache_read_ratio: 1.5}"));
        assert!(e.contains("cache_read_ratio"), "{e}");
        let e = errors(&step("{max_tokens: 0}"));
        assert!(e.contains("max_tokens"), "{e}");
        let planner = "name: t\nroot:\n  type: vendor.planner\n  llm: {timing: tokens}\n";
        assert!(errors(planner).contains("`vendor.llm.call` step only"));
    }

    #[test]
    fn models_and_prices_files_decode_with_ranges() {
        let yaml = "name: t\nmodels:\n  m: {like: o3, output_price: 9, jitter: 0.2}\nroot: {}\n";
        let (s, _) = decode(yaml, "t.yaml", "t", &LoadOptions::default()).unwrap();
        assert_eq!(s.models[0].name, "m");
        assert_eq!(s.models[0].like.as_deref(), Some("o3"));
        assert_eq!(s.models[0].output_price, Some(9.0));
        let e = errors("name: t\nmodels:\n  m: {jitter: 0.9}\nroot: {}\n");
        assert!(e.contains("models.m.jitter") && e.contains("0.3"), "{e}");
        let models =
            decode_models("a: {input_price: 1}\nb: {output_token_ms: 3}\n", "p.yaml").unwrap();
        assert_eq!(models.len(), 2);
        let e = decode_models("a: {input_prise: 1}\n", "p.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("p.yaml:1:5") && e.contains("input_price"), "{e}");
    }
}
