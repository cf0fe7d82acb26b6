//! Opt-in message content (`--content`): what was asked, answered, and passed to and from tools.
//!
//! Backends that render conversations (Phoenix, Langfuse, Jaeger's attribute view) need text to
//! show. Each trace tells one small story drawn from the phrase sets in
//! `content/conversations.json` (embedded in the binary): a user question, the system prompt, the
//! tool calls the agent makes with their arguments and results, and the answer. The story is
//! consistent across the trace's spans: an LLM call sees the tool results that came before it, a
//! tool span carries the arguments the planner's LLM call asked for, the agent's output is the
//! final answer. Content follows the GenAI semantic conventions' JSON shapes
//! (`gen_ai.input.messages`, `gen_ai.output.messages`, `gen_ai.tool.call.arguments`/`.result`,
//! `gen_ai.retrieval.*`), encoded as JSON strings, the form Phoenix, Jaeger and Langfuse all read,
//! plus OpenInference's `input.value`/`output.value`.
//!
//! Content is drawn from its own random stream, seeded by the trace id, so turning it on changes no
//! other value of the trace, and the same seed gives the same text. It costs nothing when off: the
//! plan has no content plan and the generator never calls in here. Generating free text (a language
//! model, a Markov chain) was rejected: it is slow, and made-up sentences that read as real are
//! what a dashboard needs, not novelty.

use super::openinference::OpenInferenceKind;
use super::symbols::{Attr, AttrValue, Sym};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

const SOURCE: &str = include_str!("../../content/conversations.json");

/// The most documents a retrieval span lists.
const MAX_DOCUMENTS: i64 = 50;

/// Separates the content stream from every other stream derived from a trace.
const CONTENT_SALT: u64 = 0xC0_4E_7E_47_5A_17_00_01;

#[derive(Deserialize)]
struct RawLibrary {
    domains: Vec<RawDomain>,
    generic_tool: RawTool,
}

#[derive(Deserialize)]
struct RawDomain {
    name: String,
    keywords: Vec<String>,
    system: Vec<String>,
    questions: Vec<String>,
    answers: Vec<String>,
    tools: BTreeMap<String, RawTool>,
}

#[derive(Deserialize)]
struct RawTool {
    arguments: Vec<serde_json::Value>,
    results: Vec<serde_json::Value>,
}

/// The phrase sets, with tool arguments and results already serialised as compact JSON.
struct Library {
    domains: Vec<Domain>,
    generic_tool: ToolTexts,
}

struct Domain {
    keywords: Vec<String>,
    system: Vec<String>,
    /// Question `i` is answered by answer `i`.
    questions: Vec<String>,
    answers: Vec<String>,
    tools: BTreeMap<String, ToolTexts>,
}

struct ToolTexts {
    arguments: Vec<String>,
    results: Vec<String>,
}

impl ToolTexts {
    fn from_raw(raw: &RawTool) -> ToolTexts {
        let json = |v: &[serde_json::Value]| v.iter().map(|x| x.to_string()).collect();
        ToolTexts {
            arguments: json(&raw.arguments),
            results: json(&raw.results),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("content/conversations.json: {0}")]
struct LibraryError(String);

fn parse(source: &str) -> Result<Library, LibraryError> {
    let raw: RawLibrary = serde_json::from_str(source).map_err(|e| LibraryError(e.to_string()))?;
    let nonempty = |what: &str, n: usize| {
        if n == 0 {
            Err(LibraryError(format!("{what} is empty")))
        } else {
            Ok(())
        }
    };
    nonempty("domains", raw.domains.len())?;
    let check_tool = |name: &str, t: &RawTool| {
        nonempty(&format!("{name}.arguments"), t.arguments.len())?;
        nonempty(&format!("{name}.results"), t.results.len())
    };
    check_tool("generic_tool", &raw.generic_tool)?;
    for d in &raw.domains {
        nonempty(&format!("{}.system", d.name), d.system.len())?;
        nonempty(&format!("{}.questions", d.name), d.questions.len())?;
        if d.answers.len() != d.questions.len() {
            return Err(LibraryError(format!(
                "{}: {} answers for {} questions; answer i answers question i",
                d.name,
                d.answers.len(),
                d.questions.len()
            )));
        }
        for (name, tool) in &d.tools {
            check_tool(name, tool)?;
        }
    }
    Ok(Library {
        generic_tool: ToolTexts::from_raw(&raw.generic_tool),
        domains: raw
            .domains
            .iter()
            .map(|d| Domain {
                keywords: d.keywords.clone(),
                system: d.system.clone(),
                questions: d.questions.clone(),
                answers: d.answers.clone(),
                tools: d
                    .tools
                    .iter()
                    .map(|(k, v)| (k.clone(), ToolTexts::from_raw(v)))
                    .collect(),
            })
            .collect(),
    })
}

fn library() -> &'static Library {
    static LIBRARY: OnceLock<Library> = OnceLock::new();
    // The file is part of the binary and a unit test parses it, so it cannot be invalid here.
    LIBRARY.get_or_init(|| parse(SOURCE).expect("the embedded content library is valid"))
}

impl Library {
    fn tool(&self, name: &str) -> &ToolTexts {
        self.domains
            .iter()
            .find_map(|d| d.tools.get(name))
            .unwrap_or(&self.generic_tool)
    }
}

/// Keys of the content attributes, interned once.
struct Keys {
    input_messages: Sym,
    output_messages: Sym,
    tool_arguments: Sym,
    tool_result: Sym,
    retrieval_query: Sym,
    retrieval_documents: Sym,
    input_value: Sym,
    input_mime: Sym,
    output_value: Sym,
    output_mime: Sym,
    text_plain: Sym,
    application_json: Sym,
    tool_name: Sym,
    tool_call_id: Sym,
    documents_returned: Sym,
}

/// What a plan needs to add content to its traces.
pub(crate) struct ContentPlan {
    keys: Keys,
    /// The domain the scenario's tools or data sources belong to; else each trace draws one.
    domain: Option<usize>,
    /// The tool a planner's LLM call asks for: the scenario's first tool.
    planned_tool: Option<String>,
}

impl ContentPlan {
    /// `names`: the tool names and data source ids of the scenario, which choose its domain;
    /// `planned_tool`: the tool a planner's LLM call asks for; `key` interns a key.
    pub(crate) fn new(
        names: &[String],
        planned_tool: Option<String>,
        mut key: impl FnMut(&str) -> Sym,
    ) -> ContentPlan {
        let domain = library().domains.iter().position(|d| {
            d.keywords
                .iter()
                .any(|k| names.iter().any(|n| n.contains(k.as_str())))
        });
        ContentPlan {
            keys: Keys {
                input_messages: key("gen_ai.input.messages"),
                output_messages: key("gen_ai.output.messages"),
                tool_arguments: key("gen_ai.tool.call.arguments"),
                tool_result: key("gen_ai.tool.call.result"),
                retrieval_query: key("gen_ai.retrieval.query.text"),
                retrieval_documents: key("gen_ai.retrieval.documents"),
                input_value: key("input.value"),
                input_mime: key("input.mime_type"),
                output_value: key("output.value"),
                output_mime: key("output.mime_type"),
                text_plain: key("text/plain"),
                application_json: key("application/json"),
                tool_name: key("gen_ai.tool.name"),
                tool_call_id: key("gen_ai.tool.call.id"),
                documents_returned: key("rag.documents.returned"),
            },
            domain,
            planned_tool,
        }
    }
}

/// One tool call made earlier in the trace, as later LLM calls see it.
struct Call {
    id: String,
    name: String,
    arguments: String,
    /// The result, or the error type when the call failed.
    outcome: Result<String, String>,
}

/// What the content of one span depends on.
pub(crate) struct SpanFacts<'a> {
    pub kind: OpenInferenceKind,
    /// The span is a retry attempt of a tool call (its execute span records the call).
    pub attempt: bool,
    /// The parent is a planner: an LLM call there chooses a tool rather than answering.
    pub under_planner: bool,
    /// The error type, when the span failed.
    pub error: Option<&'a str>,
}

/// The story of one trace.
pub(crate) struct Conversation {
    rng: Pcg64Mcg,
    domain: usize,
    system: usize,
    question: usize,
    /// Which argument set each tool gets in this trace.
    arguments: u32,
    calls: Vec<Call>,
}

impl Conversation {
    pub(crate) fn new(content: &ContentPlan, trace_id: &[u8; 16]) -> Conversation {
        let mut seed = [0u8; 8];
        seed.copy_from_slice(&trace_id[..8]);
        let mut rng = Pcg64Mcg::seed_from_u64(u64::from_le_bytes(seed) ^ CONTENT_SALT);
        let lib = library();
        let domain = content
            .domain
            .unwrap_or_else(|| rng.random_range(0..lib.domains.len()));
        let d = &lib.domains[domain];
        Conversation {
            system: rng.random_range(0..d.system.len()),
            question: rng.random_range(0..d.questions.len()),
            arguments: rng.random(),
            domain,
            rng,
            calls: Vec::new(),
        }
    }

    fn domain(&self) -> &'static Domain {
        &library().domains[self.domain]
    }

    fn question(&self) -> &'static str {
        &self.domain().questions[self.question]
    }

    fn answer(&self) -> &'static str {
        &self.domain().answers[self.question]
    }

    fn tool_texts(&self, name: &str) -> (&'static str, &'static str) {
        let texts = library().tool(name);
        let i = self.arguments as usize;
        (
            &texts.arguments[i % texts.arguments.len()],
            &texts.results[i % texts.results.len()],
        )
    }

    /// Appends the content attributes of the span whose attributes start at `attrs[start]`:
    /// values go to `text`, attributes to `attrs`.
    pub(crate) fn annotate<'p>(
        &mut self,
        str_of: impl Fn(Sym) -> &'p str,
        content: &ContentPlan,
        span: SpanFacts,
        start: usize,
        text: &mut String,
        attrs: &mut Vec<Attr>,
    ) {
        let k = &content.keys;
        let value_of = |key: Sym| {
            attrs[start..]
                .iter()
                .find(|a| a.key == key)
                .and_then(|a| match a.value {
                    AttrValue::Str(s) => Some(str_of(s).to_string()),
                    AttrValue::Text { start, len } => text
                        .get(start as usize..(start + len) as usize)
                        .map(String::from),
                    _ => None,
                })
        };
        let (tool_name, call_id) = match span.kind {
            OpenInferenceKind::Tool => (value_of(k.tool_name), value_of(k.tool_call_id)),
            _ => (None, None),
        };
        let documents = documents_returned(&attrs[start..], k.documents_returned);
        let mut out = Out { text, attrs };
        let failed = span.error.is_some();
        match span.kind {
            OpenInferenceKind::Agent => self.agent(&mut out, k, failed),
            OpenInferenceKind::Llm => self.llm(&mut out, content, span.under_planner, failed),
            OpenInferenceKind::Embedding | OpenInferenceKind::Guardrail => {
                out.put(k.input_value, self.question());
                out.push(k.input_mime, AttrValue::Str(k.text_plain));
            }
            OpenInferenceKind::Retriever => self.retriever(&mut out, k, documents, failed),
            OpenInferenceKind::Tool => self.tool(&mut out, k, &span, tool_name, call_id),
            OpenInferenceKind::Chain => {}
        }
    }

    /// An agent span: the user's question in, the answer out.
    fn agent(&self, out: &mut Out, k: &Keys, failed: bool) {
        let plain = k.text_plain;
        let (question, answer) = (self.question(), self.answer());
        out.write(k.input_messages, |t| {
            messages(t, &[("user", question)], None)
        });
        out.put(k.input_value, question);
        out.push(k.input_mime, AttrValue::Str(plain));
        if !failed {
            out.write(k.output_messages, |t| {
                messages(t, &[("assistant", answer)], Some("stop"))
            });
            out.put(k.output_value, answer);
            out.push(k.output_mime, AttrValue::Str(plain));
        }
    }

    /// An LLM call: the conversation so far in, the next message out.
    fn llm(&self, out: &mut Out, content: &ContentPlan, under_planner: bool, failed: bool) {
        let k = &content.keys;
        let json = k.application_json;
        let input = out.write(k.input_messages, |t| self.input_messages(t));
        out.push(k.input_value, input);
        out.push(k.input_mime, AttrValue::Str(json));
        if !failed {
            let output = out.write(k.output_messages, |t| {
                self.output_messages(content, under_planner, t)
            });
            out.push(k.output_value, output);
            out.push(k.output_mime, AttrValue::Str(json));
        }
    }

    /// A retrieval: the question as the query, `documents` (or 3 to 5) scored documents out.
    fn retriever(&mut self, out: &mut Out, k: &Keys, documents: Option<usize>, failed: bool) {
        let query = out.put(k.retrieval_query, self.question());
        out.push(k.input_value, query);
        out.push(k.input_mime, AttrValue::Str(k.text_plain));
        if failed {
            return;
        }
        let n = documents.unwrap_or_else(|| self.rng.random_range(3..=5));
        let mut score = 0.95 - 0.1 * self.rng.random::<f64>();
        let mut docs = Vec::with_capacity(n);
        for _ in 0..n {
            docs.push((self.rng.random::<u32>(), score));
            score *= 0.8 + 0.15 * self.rng.random::<f64>();
        }
        out.write(k.retrieval_documents, |t| {
            t.push('[');
            for (i, (id, score)) in docs.iter().enumerate() {
                if i > 0 {
                    t.push(',');
                }
                let _ = write!(t, "{{\"id\":\"doc_{id:08x}\",\"score\":{score:.3}}}");
            }
            t.push(']');
        });
    }

    /// A tool call: its arguments in, its result out; the call (not a retry attempt of it)
    /// is remembered for the LLM calls after it.
    fn tool(
        &mut self,
        out: &mut Out,
        k: &Keys,
        span: &SpanFacts,
        tool_name: Option<String>,
        call_id: Option<String>,
    ) {
        let json = k.application_json;
        let name = tool_name.unwrap_or_else(|| "tool".into());
        let (arguments, result) = self.tool_texts(&name);
        let input = out.put(k.tool_arguments, arguments);
        out.push(k.input_value, input);
        out.push(k.input_mime, AttrValue::Str(json));
        if span.error.is_none() {
            let output = out.put(k.tool_result, result);
            out.push(k.output_value, output);
            out.push(k.output_mime, AttrValue::Str(json));
        }
        if !span.attempt {
            self.calls.push(Call {
                id: call_id.unwrap_or_default(),
                name,
                arguments: arguments.to_string(),
                outcome: match span.error {
                    None => Ok(result.to_string()),
                    Some(e) => Err(e.to_string()),
                },
            });
        }
    }

    /// The system prompt, the user's question, then every tool call so far with its response.
    fn input_messages(&self, t: &mut String) {
        t.push('[');
        message(t, "system", &self.domain().system[self.system], None);
        t.push(',');
        message(t, "user", self.question(), None);
        for call in &self.calls {
            t.push_str(",{\"role\":\"assistant\",\"parts\":[");
            tool_call(t, Some(&call.id), &call.name, &call.arguments);
            t.push_str("]},{\"role\":\"tool\",\"parts\":[{\"type\":\"tool_call_response\",\"id\":");
            json_str(t, &call.id);
            t.push_str(",\"response\":");
            match &call.outcome {
                Ok(result) => t.push_str(result),
                Err(error) => {
                    t.push_str("{\"error\":");
                    json_str(t, error);
                    t.push('}');
                }
            }
            t.push_str("}]}");
        }
        t.push(']');
    }

    /// A tool choice when planning with a tool still to call, else the answer.
    fn output_messages(&self, content: &ContentPlan, under_planner: bool, t: &mut String) {
        match &content.planned_tool {
            Some(name) if under_planner && self.calls.is_empty() => {
                let (arguments, _) = self.tool_texts(name);
                t.push_str("[{\"role\":\"assistant\",\"parts\":[");
                tool_call(t, None, name, arguments);
                t.push_str("],\"finish_reason\":\"tool_call\"}]");
            }
            _ => messages(t, &[("assistant", self.answer())], Some("stop")),
        }
    }
}

/// How many documents a retrieval span says it returned (its `key` attribute), when it says.
fn documents_returned(span: &[Attr], key: Sym) -> Option<usize> {
    span.iter()
        .find(|a| a.key == key)
        .and_then(|a| match a.value {
            AttrValue::Int(n) => Some(n.clamp(0, MAX_DOCUMENTS) as usize),
            AttrValue::Double(x) if x.is_finite() => {
                Some(x.round().clamp(0.0, MAX_DOCUMENTS as f64) as usize)
            }
            _ => None,
        })
}

/// Where a span's content goes: text into the trace's buffer, attributes after the span's own.
struct Out<'a> {
    text: &'a mut String,
    attrs: &'a mut Vec<Attr>,
}

impl Out<'_> {
    fn push(&mut self, key: Sym, value: AttrValue) {
        self.attrs.push(Attr { key, value });
    }

    /// Pushes `key` with the text `write` appends to the trace's buffer; returns that value, for
    /// other keys that carry the same text.
    fn write(&mut self, key: Sym, write: impl FnOnce(&mut String)) -> AttrValue {
        let start = self.text.len();
        write(self.text);
        let value = AttrValue::Text {
            start: start as u32,
            len: (self.text.len() - start) as u32,
        };
        self.push(key, value);
        value
    }

    fn put(&mut self, key: Sym, text: &str) -> AttrValue {
        self.write(key, |t| t.push_str(text))
    }
}

/// A JSON list of one-text-part messages, the last with `finish_reason` for output messages.
fn messages(t: &mut String, list: &[(&str, &str)], finish_reason: Option<&str>) {
    t.push('[');
    for (i, (role, content)) in list.iter().enumerate() {
        if i > 0 {
            t.push(',');
        }
        message(
            t,
            role,
            content,
            finish_reason.filter(|_| i + 1 == list.len()),
        );
    }
    t.push(']');
}

/// `{"role":…,"parts":[{"type":"text","content":…}]}`, with a finish reason for output messages.
fn message(t: &mut String, role: &str, content: &str, finish_reason: Option<&str>) {
    t.push_str("{\"role\":");
    json_str(t, role);
    t.push_str(",\"parts\":[{\"type\":\"text\",\"content\":");
    json_str(t, content);
    t.push_str("}]");
    if let Some(reason) = finish_reason {
        t.push_str(",\"finish_reason\":");
        json_str(t, reason);
    }
    t.push('}');
}

fn tool_call(t: &mut String, id: Option<&str>, name: &str, arguments: &str) {
    t.push_str("{\"type\":\"tool_call\",");
    if let Some(id) = id {
        t.push_str("\"id\":");
        json_str(t, id);
        t.push(',');
    }
    t.push_str("\"name\":");
    json_str(t, name);
    t.push_str(",\"arguments\":");
    t.push_str(arguments);
    t.push('}');
}

/// `s` as a JSON string literal.
fn json_str(t: &mut String, s: &str) {
    t.push('"');
    for c in s.chars() {
        match c {
            '"' => t.push_str("\\\""),
            '\\' => t.push_str("\\\\"),
            '\n' => t.push_str("\\n"),
            '\r' => t.push_str("\\r"),
            '\t' => t.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(t, "\\u{:04x}", c as u32);
            }
            c => t.push(c),
        }
    }
    t.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_library_is_valid() {
        let lib = parse(SOURCE).unwrap();
        assert!(lib.domains.len() >= 3);
        for d in &lib.domains {
            for t in d.tools.values() {
                for json in t.arguments.iter().chain(&t.results) {
                    assert!(json.starts_with('{'), "tool texts are JSON objects: {json}");
                }
            }
        }
    }

    #[test]
    fn a_library_with_unpaired_answers_is_refused() {
        let bad = r#"{"domains":[{"name":"x","keywords":[],"system":["s"],"questions":["q1","q2"],
            "answers":["a1"],"tools":{}}],"generic_tool":{"arguments":[{}],"results":[{}]}}"#;
        let error = parse(bad).err().unwrap().to_string();
        assert!(error.contains("1 answers for 2 questions"), "{error}");
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut t = String::new();
        json_str(&mut t, "a \"quote\"\\ and\nnew\u{1}line");
        let back: String = serde_json::from_str(&t).unwrap();
        assert_eq!(back, "a \"quote\"\\ and\nnew\u{1}line");
    }
}
