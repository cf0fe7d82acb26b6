//! Span-correlated log records: what an instrumented agent logs while it works, read off the
//! spans that are sent.
//!
//! The records are the original's (`turn.start`/`turn.end`, `tool.call`, `{prefix}.llm.call`,
//! `rag.retrieve`, `a2a.call`, `cp.request`, with its bodies, severities and attributes), with
//! three differences that make them usable: each record carries its span's trace and span id
//! (the original's had none, so logs could not be joined to traces); each is stamped at its
//! span's time (`turn.start` at the turn's start, the others when their span ends) rather than
//! when the whole trace had been built; and severities and status words follow the span's
//! sampled outcome, not static YAML. A tool call is logged once, for its `mcp.tool.execute` span,
//! not again for each attempt. As in the original, every record carries `tenant.id`,
//! `{prefix}.session.id`, `{prefix}.request.id` and `{prefix}.turn.index` (the span's, else the
//! iteration's index mod 10, the original's value), and its event name twice: in the LogRecord's
//! event-name field, as the conventions now ask, and as the deprecated `event.name` attribute
//! that the original's dashboards filter on.
//!
//! Every failed span also gets an exception record, as the semantic conventions now prefer over
//! span events: event `exception` (severity ERROR), or `gen_ai.client.operation.exception`
//! (WARN) for GenAI client operations, with `exception.type` and `exception.message`.
//!
//! Records of one trace are derived together into a reused [`TraceLogs`], in time order, and
//! stay plain data: attribute values are the trace's own handles, turned into OTLP by the encoder
//! (`encode::wire`, and `encode::reference_logs` in tests), so this module never sees a protobuf type.

use super::derive::{SpanView, is_genai_client_operation, views};
use super::plan::Plan;
use super::symbols::{Attr, AttrValue, Sym};
use super::trace::{Trace, ValueDisplay};
use crate::conventions::{self, Signals};
use std::fmt::Write as _;

/// Log severities, as OTLP numbers them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogSeverity {
    #[default]
    Info,
    Warn,
    Error,
}

impl LogSeverity {
    pub fn number(self) -> i32 {
        match self {
            LogSeverity::Info => 9,
            LogSeverity::Warn => 13,
            LogSeverity::Error => 17,
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            LogSeverity::Info => "INFO",
            LogSeverity::Warn => "WARN",
            LogSeverity::Error => "ERROR",
        }
    }
}

/// One log record.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogRecord {
    pub time_ns: u64,
    pub severity: LogSeverity,
    pub event_name: Sym,
    pub body: String,
    /// The span it belongs to: an index into the trace's spans.
    pub span: u32,
    /// Its attributes: `TraceLogs::attrs[attrs.0 .. attrs.1]`.
    attrs: (u32, u32),
    /// Written when its span started (else when it ended).
    at_start: bool,
}

/// When, in its span's life, a record is written.
#[derive(Clone, Copy, PartialEq)]
enum At {
    Start,
    End,
}

/// The log records of one trace; buffers are reused from trace to trace.
#[derive(Default)]
pub struct TraceLogs {
    records: Vec<LogRecord>,
    len: usize,
    attrs: Vec<Attr>,
}

impl TraceLogs {
    /// The records of `trace`, in time order (replacing the previous trace's).
    pub fn derive(&mut self, plan: &Plan, trace: &Trace) {
        self.len = 0;
        self.attrs.clear();
        // A call's SERVER span logs nothing of its own: its client's records tell the call.
        for view in views(plan, trace).filter(|v| !v.span.server) {
            self.span(&view);
        }
        self.evaluations(plan, trace);
        // In time order; at the same instant, spans start parents first and end children first.
        self.records[..self.len].sort_by_key(|r| {
            let span = r.span as i64;
            (
                r.time_ns,
                !r.at_start,
                if r.at_start { span } else { -span },
            )
        });
    }

    pub fn records(&self) -> &[LogRecord] {
        &self.records[..self.len]
    }

    pub fn attrs_of(&self, record: &LogRecord) -> &[Attr] {
        &self.attrs[record.attrs.0 as usize..record.attrs.1 as usize]
    }

    fn span(&mut self, v: &SpanView) {
        match conventions::of(v.span.span_type).signals {
            None => {}
            Some(Signals::Turn) => self.turn(v),
            Some(Signals::ToolCall) => self.tool_call(v),
            Some(Signals::Inference) => self.inference(v),
            Some(Signals::Retrieval) => self.retrieval(v),
            Some(Signals::AgentCall) => self.agent_call(v),
            Some(Signals::ControlPlane) => self.control_plane(v),
        }
        self.exception(v);
    }

    /// The records of a span that feeds the Turn signals.
    fn turn(&mut self, v: &SpanView) {
        let k = v.keys();
        let plan = v.plan;
        let ok = v.succeeded();
        self.open(v, At::Start, LogSeverity::Info, k.turn_start_event);
        self.body(format_args!("Agent turn started"));
        self.attr_or(v, k.route, k.default_route);
        let code = v.status_code().unwrap_or(k.success);
        let severity = if ok {
            LogSeverity::Info
        } else {
            LogSeverity::Warn
        };
        self.open(v, At::End, severity, k.turn_end_event);
        self.body(format_args!(
            "Agent turn completed with status {}",
            plan.str(code)
        ));
        self.attr(k.turn_status_code, AttrValue::Str(code));
        self.attr(k.turn_status_result, AttrValue::Bool(ok));
        self.attr(k.duration_ms, AttrValue::Double(v.duration_ms()));
    }

    /// The records of a span that feeds the ToolCall signals.
    fn tool_call(&mut self, v: &SpanView) {
        let k = v.keys();
        let plan = v.plan;
        let ok = v.succeeded();
        let message = v.exception().map_or("", |(_, m)| plan.str(m));
        let failed = |sev: LogSeverity| if v.errored() { sev } else { LogSeverity::Info };
        let tool = v.word(k.tool_name, k.unknown_tool);
        self.open(v, At::End, failed(LogSeverity::Error), k.tool_call_event);
        if v.errored() {
            self.body(format_args!("Tool call to {tool} failed: {message}"));
        } else {
            self.body(format_args!("Tool call to {tool} completed"));
        }
        self.attr_or(v, k.tool_name, k.unknown_tool);
        self.attr_or(v, k.tool_server_name, k.unknown_server);
        let code = v.status_code().unwrap_or(k.ok);
        self.attr(k.tool_status_code, AttrValue::Str(code));
        self.attr(k.tool_status_result, AttrValue::Bool(ok));
        self.attr(k.tool_latency_ms, AttrValue::Double(v.duration_ms()));
        if let Some((_, message)) = v.exception() {
            self.attr(k.error_message, AttrValue::Str(message));
        }
    }

    /// The records of a span that feeds the Inference signals.
    fn inference(&mut self, v: &SpanView) {
        let k = v.keys();
        let plan = v.plan;
        let message = v.exception().map_or("", |(_, m)| plan.str(m));
        let failed = |sev: LogSeverity| if v.errored() { sev } else { LogSeverity::Info };
        let unknown = AttrValue::Str(k.unknown);
        let provider = v.provider().unwrap_or(unknown);
        let model = v.attr(k.request_model).unwrap_or(unknown);
        let (provider, model) = (shown(v, provider), shown(v, model));
        self.open(v, At::End, failed(LogSeverity::Error), k.llm_call_event);
        if v.errored() {
            self.body(format_args!(
                "LLM inference failed: {provider}/{model}: {message}"
            ));
        } else {
            self.body(format_args!("LLM inference completed: {provider}/{model}"));
        }
        if let Some(p) = v.provider() {
            self.attr(k.provider, p);
        }
        self.copy(v, k.request_model);
        self.copy(v, k.operation);
        self.copy(v, k.input_tokens);
        self.copy(v, k.output_tokens);
        // Present only on calls with an `llm:` block: the span's own values, never drawn again.
        if plan.node(v.span.node).llm.is_some() {
            self.copy(v, k.ttft);
            self.copy(v, k.cost);
        }
        self.attr(k.duration_ms, AttrValue::Double(v.duration_ms()));
    }

    /// The records of a span that feeds the Retrieval signals.
    fn retrieval(&mut self, v: &SpanView) {
        let k = v.keys();
        let plan = v.plan;
        let message = v.exception().map_or("", |(_, m)| plan.str(m));
        let failed = |sev: LogSeverity| if v.errored() { sev } else { LogSeverity::Info };
        let index = v.word(k.rag_index, k.default_index);
        self.open(v, At::End, failed(LogSeverity::Error), k.rag_event);
        match v.attr(k.rag_documents) {
            _ if v.errored() => {
                self.body(format_args!("RAG retrieval from {index} failed: {message}"))
            }
            Some(n) => self.body(format_args!(
                "RAG retrieval from {index}: {} documents",
                shown(v, n)
            )),
            None => self.body(format_args!("RAG retrieval from {index} completed")),
        }
        self.attr_or(v, k.rag_index, k.default_index);
        self.copy(v, k.rag_documents);
        let code = v.status_code().unwrap_or(k.ok);
        self.attr(k.rag_status_code, AttrValue::Str(code));
        self.attr(k.duration_ms, AttrValue::Double(v.duration_ms()));
    }

    /// The records of a span that feeds the AgentCall signals.
    fn agent_call(&mut self, v: &SpanView) {
        let k = v.keys();
        let plan = v.plan;
        let ok = v.succeeded();
        let target = v
            .attr(k.a2a_target)
            .or_else(|| v.attr(k.agent_name))
            .unwrap_or(AttrValue::Str(k.unknown_agent));
        let operation = v.word(k.a2a_operation, k.unknown);
        let code = v.status_code().unwrap_or(k.ok);
        let severity = if ok {
            LogSeverity::Info
        } else {
            LogSeverity::Warn
        };
        self.open(v, At::End, severity, k.a2a_event);
        self.body(format_args!(
            "A2A call to {} ({operation}): {}",
            shown(v, target),
            plan.str(code)
        ));
        self.attr(k.a2a_target, target);
        self.copy(v, k.a2a_operation);
        self.attr(k.a2a_status_code, AttrValue::Str(code));
        self.attr(k.a2a_latency_ms, AttrValue::Double(v.duration_ms()));
    }

    /// The records of a span that feeds the ControlPlane signals.
    fn control_plane(&mut self, v: &SpanView) {
        let k = v.keys();
        let plan = v.plan;
        let message = v.exception().map_or("", |(_, m)| plan.str(m));
        let ok = v.succeeded();
        let code = v.status_code().unwrap_or(k.allowed);
        let (severity, what) = if v.errored() {
            (LogSeverity::Error, None)
        } else if code == k.allowed {
            (LogSeverity::Info, Some("allowed"))
        } else if code == k.flagged {
            (LogSeverity::Warn, Some("flagged"))
        } else {
            (LogSeverity::Error, Some("blocked"))
        };
        self.open(v, At::End, severity, k.cp_event);
        match what {
            Some(what) => self.body(format_args!("Control-plane {what} request")),
            None => self.body(format_args!("Control-plane request failed: {message}")),
        }
        self.attr(k.cp_status_code, AttrValue::Str(code));
        self.attr(k.cp_status_result, AttrValue::Bool(ok && code == k.allowed));
    }

    /// The `gen_ai.evaluation.result` events of the trace's evaluations, each tied to the
    /// evaluated span and stamped at its end.
    fn evaluations(&mut self, plan: &Plan, trace: &Trace) {
        let evaluations = &plan.evaluations;
        let k = &evaluations.keys;
        for record in &trace.evaluations {
            let Some(span) = trace.spans.get(record.span as usize) else {
                continue;
            };
            let v = SpanView {
                plan,
                trace,
                span,
                index: record.span,
            };
            let e = &evaluations.all[record.evaluation as usize];
            self.open(&v, At::End, LogSeverity::Info, k.event);
            self.body(format_args!(
                "Evaluation {}: {:.3}",
                plan.str(e.name),
                record.score
            ));
            self.attr(k.name, AttrValue::Str(e.name));
            self.attr(k.score, AttrValue::Double(record.score));
            if let Some(label) = e.label(record.score) {
                self.attr(k.label, AttrValue::Str(label));
            }
            if let Some(explanation) = e.explanation {
                self.attr(k.explanation, AttrValue::Str(explanation));
            }
        }
    }

    /// The exception record of a failed span.
    fn exception(&mut self, v: &SpanView) {
        let k = v.keys();
        let plan = v.plan;
        if let Some((kind, message)) = v.exception() {
            let (event, severity) = if is_genai_client_operation(v.span.span_type) {
                (k.genai_exception_event, LogSeverity::Warn)
            } else {
                (k.exception_event, LogSeverity::Error)
            };
            self.open(v, At::End, severity, event);
            self.body(format_args!("{}", plan.str(message)));
            self.attr(k.exception_type, AttrValue::Str(kind));
            self.attr(k.exception_message, AttrValue::Str(message));
        }
    }

    /// Starts a record of span `v`, with the context every record carries: the tenant, and the
    /// span's session, request and turn index.
    fn open(&mut self, v: &SpanView, at: At, severity: LogSeverity, event_name: Sym) {
        if self.len == self.records.len() {
            self.records.push(LogRecord::default());
        }
        let start = self.attrs.len() as u32;
        let record = &mut self.records[self.len];
        self.len += 1;
        record.at_start = at == At::Start;
        record.time_ns = match at {
            At::Start => v.span.start_ns,
            At::End => v.span.end_ns,
        };
        record.severity = severity;
        record.event_name = event_name;
        record.body.clear();
        record.span = v.index;
        record.attrs = (start, start);
        let k = v.keys();
        let tenant = v.plan.tenants[v.trace.tenant as usize];
        self.attr(k.tenant_id, AttrValue::Str(tenant));
        for key in [k.session_id, k.request_id] {
            self.copy(v, key);
        }
        // The original's value when the span has none: the iteration's index mod 10.
        let turn = AttrValue::Int((v.trace.iteration % 10) as i64);
        self.attr(k.turn_index, v.attr(k.turn_index).unwrap_or(turn));
        // Beside the record's event name, for dashboards that filter on the attribute (the
        // conventions deprecate it, but still name it: see docs/compatibility.md).
        self.attr(k.event_name, AttrValue::Str(event_name));
    }

    fn body(&mut self, text: std::fmt::Arguments) {
        let record = &mut self.records[self.len - 1];
        let _ = record.body.write_fmt(text);
    }

    fn attr(&mut self, key: Sym, value: AttrValue) {
        self.attrs.push(Attr { key, value });
        self.records[self.len - 1].attrs.1 = self.attrs.len() as u32;
    }

    /// The span's own value of `key`, if it has one.
    fn copy(&mut self, v: &SpanView, key: Sym) {
        if let Some(value) = v.attr(key) {
            self.attr(key, value);
        }
    }

    /// The span's own value of `key`, else `fallback`.
    fn attr_or(&mut self, v: &SpanView, key: Sym, fallback: Sym) {
        let value = v.attr(key).unwrap_or(AttrValue::Str(fallback));
        self.attr(key, value);
    }
}

/// An attribute value of `v`'s trace, for a log body.
fn shown<'a>(v: &SpanView<'a>, value: AttrValue) -> ValueDisplay<'a> {
    ValueDisplay {
        plan: v.plan,
        trace: v.trace,
        value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::testing;
    use crate::scenario::SpanType;

    #[test]
    fn every_bundled_scenario_logs_each_span_once_at_its_time_and_each_failure() {
        for (name, _) in crate::scenario::BUNDLED {
            let plan = testing::bundled(name);
            let k = &plan.derived;
            let mut logs = TraceLogs::default();
            for trace in testing::traces(&plan, 3, 120) {
                logs.derive(&plan, &trace);
                let records = logs.records();
                assert!(records.windows(2).all(|w| w[0].time_ns <= w[1].time_ns));
                let count = |event: Sym| records.iter().filter(|r| r.event_name == event).count();
                // A call's SERVER span logs nothing of its own.
                let spans = |t: SpanType| {
                    let own = |s: &&crate::generate::SpanRecord| s.span_type == t && !s.server;
                    trace.spans.iter().filter(own).count()
                };
                assert_eq!(count(k.turn_start_event), spans(SpanType::A2aOrchestrate));
                assert_eq!(count(k.turn_end_event), spans(SpanType::A2aOrchestrate));
                assert_eq!(count(k.tool_call_event), spans(SpanType::McpToolExecute));
                assert_eq!(count(k.llm_call_event), spans(SpanType::LlmCall), "{name}");
                assert_eq!(count(k.rag_event), spans(SpanType::RagRetrieve));
                assert_eq!(count(k.a2a_event), spans(SpanType::A2aCall));
                assert_eq!(count(k.cp_event), spans(SpanType::CpRequest));
                let failed = |genai: bool| {
                    trace
                        .spans
                        .iter()
                        .filter(|s| {
                            s.error.is_some()
                                && !s.server
                                && is_genai_client_operation(s.span_type) == genai
                        })
                        .count()
                };
                assert_eq!(count(k.exception_event), failed(false), "{name}");
                assert_eq!(count(k.genai_exception_event), failed(true), "{name}");
                for record in records {
                    let span = &trace.spans[record.span as usize];
                    let expected = if record.event_name == k.turn_start_event {
                        span.start_ns
                    } else {
                        span.end_ns
                    };
                    assert_eq!(record.time_ns, expected);
                    let attrs = logs.attrs_of(record);
                    // Every record carries a turn index and its event name as `event.name`.
                    assert!(attrs.iter().any(|a| a.key == k.turn_index), "{name}");
                    assert!(attrs.contains(&Attr {
                        key: k.event_name,
                        value: AttrValue::Str(record.event_name)
                    }));
                    assert_eq!(attrs[0].key, k.tenant_id);
                    assert_eq!(
                        attrs[0].value,
                        AttrValue::Str(plan.tenants[trace.tenant as usize])
                    );
                    if record.event_name == k.exception_event {
                        assert_eq!(record.severity, LogSeverity::Error);
                        let (kind, message) = span.error.unwrap();
                        assert!(attrs.contains(&Attr {
                            key: k.exception_type,
                            value: AttrValue::Str(kind)
                        }));
                        assert_eq!(record.body, plan.str(message));
                    }
                }
            }
        }
    }

    #[test]
    fn bodies_and_severities_follow_the_outcome() {
        let plan = testing::plan(
            "name: t\nroot:\n  type: vendor.a2a.orchestrate\n  error: {rate: 0}\n  children:\n    - type: vendor.mcp.tool.execute\n      error: {rate: 1, types: [timeout]}\n      attributes: {gen_ai.tool.name: search}\n    - type: vendor.llm.call\n      error: {rate: 0}\n      attributes: {gen_ai.request.model: m1}\n",
        );
        let trace = &testing::traces(&plan, 1, 1)[0];
        let mut logs = TraceLogs::default();
        logs.derive(&plan, trace);
        let texts: Vec<(&str, &str, &str)> = logs
            .records()
            .iter()
            .map(|r| (plan.str(r.event_name), r.severity.text(), r.body.as_str()))
            .collect();
        assert_eq!(
            texts,
            [
                ("turn.start", "INFO", "Agent turn started"),
                // The attempt ends with the tool call: its exception comes first.
                ("exception", "ERROR", "tool call failed: timeout"),
                (
                    "tool.call",
                    "ERROR",
                    "Tool call to search failed: tool call failed: timeout"
                ),
                ("exception", "ERROR", "tool call failed: timeout"),
                (
                    "vendor.llm.call",
                    "INFO",
                    "LLM inference completed: openai/m1"
                ),
                (
                    "turn.end",
                    "INFO",
                    "Agent turn completed with status SUCCESS"
                ),
            ]
        );
    }

    /// What the original's dashboards read off logs and spans: a retrieval's document count (in
    /// its body too) when the step sets none, and a control-plane request's outgoing trace id
    /// when the request went on; the turn index is the iteration's, mod 10.
    #[test]
    fn retrievals_count_documents_and_admitted_requests_name_their_outgoing_trace() {
        let mut plan = testing::plan(
            "name: t\nroot:\n  type: cp.request\n  error: {rate: 0.2}\n  attributes:\n    vendor.cp.status.code: {distribution: categorical, values: {ALLOWED: 0.6, BLOCKED: 0.4}}\n  children:\n    - type: rag.retrieve\n      error: {rate: 0}\n",
        );
        // Both are interned already: interning again finds them.
        let outgoing = plan.intern("vendor.cp.outgoing_trace_id");
        let blocked = plan.intern("BLOCKED");
        let plan = plan;
        let k = &plan.derived;
        let mut logs = TraceLogs::default();
        let (mut documents, mut retrievals, mut forwarded) = (0i64, 0i64, 0);
        let traces = testing::traces(&plan, 11, 2000);
        for trace in &traces {
            let views: Vec<SpanView> = views(&plan, trace).collect();
            let cp = &views[0];
            let hex: String = trace.trace_id.iter().map(|b| format!("{b:02x}")).collect();
            let admitted =
                !cp.errored() && cp.attr(k.cp_status_code) != Some(AttrValue::Str(blocked));
            let id = cp.attr(outgoing).map(|v| shown(cp, v).to_string());
            assert_eq!(
                id,
                admitted.then_some(hex),
                "outgoing trace id iff admitted"
            );
            forwarded += usize::from(admitted);
            logs.derive(&plan, trace);
            for v in views
                .iter()
                .filter(|v| v.span.span_type == SpanType::RagRetrieve)
            {
                let Some(AttrValue::Int(n)) = v.attr(k.rag_documents) else {
                    panic!("a retrieval without a document count");
                };
                let record = logs.records().iter().find(|r| r.span == v.index).unwrap();
                assert!(
                    record.body.ends_with(&format!(": {n} documents")),
                    "{}",
                    record.body
                );
                documents += n;
                retrievals += 1;
            }
            for record in logs.records() {
                let turn = AttrValue::Int((trace.iteration % 10) as i64);
                assert!(logs.attrs_of(record).contains(&Attr {
                    key: k.turn_index,
                    value: turn
                }));
            }
        }
        // Poisson(5): the mean of ~2000 draws is within 0.2 of 5 (its standard error is 0.05).
        let mean = documents as f64 / retrievals as f64;
        assert!((mean - 5.0).abs() < 0.2, "{mean}");
        // Admitted: 80% not failed × 60% ALLOWED = 48% of requests.
        let share = forwarded as f64 / traces.len() as f64;
        assert!((share - 0.48).abs() < 0.05, "{share}");
    }
}
