//! What the derived signals read off a span: its outcome in the words its type uses, and the
//! attributes metrics and logs report.
//!
//! Metrics and logs are derived from the very span records that are sent, so that a dashboard
//! built on any signal agrees with the traces. Both need the same readings (a turn's status code,
//! a tool call's server name, the exception of a failed span), and reading them in two places
//! would let the two drift apart: they are read here, once. Status words follow the span's
//! sampled outcome: a failed span reports `ERROR`, whatever constant a scenario wrote, because
//! the span's status is what the trace says happened. (The original read static YAML values,
//! so its metrics called failed turns successful.)
//!
//! Every key and constant word the derivations use is interned into the plan when it is
//! compiled ([`DerivedKeys`]), so reading a span is comparing small handles, never strings.

pub use super::keys::DerivedKeys;
use super::plan::Plan;
use super::symbols::{AttrValue, Sym};
use super::trace::{SpanRecord, Trace};
use crate::conventions;
use crate::scenario::SpanType;

/// Whether spans of this type are GenAI client operations in the semantic conventions' sense
/// (inference, retrieval, invoking a remote agent): they feed `gen_ai.client.operation.duration`,
/// and their failures are `gen_ai.client.operation.exception` events.
pub fn is_genai_client_operation(span_type: SpanType) -> bool {
    conventions::of(span_type).genai_client_operation
}

/// One span of one trace, as the derived signals read it.
#[derive(Clone, Copy)]
pub struct SpanView<'a> {
    pub plan: &'a Plan,
    pub trace: &'a Trace,
    pub span: &'a SpanRecord,
    /// The span's index in its trace.
    pub index: u32,
}

impl<'a> SpanView<'a> {
    pub fn keys(&self) -> &'a DerivedKeys {
        &self.plan.derived
    }

    /// The span's own value of attribute `key`.
    pub fn attr(&self, key: Sym) -> Option<AttrValue> {
        self.trace
            .attrs_of(self.span)
            .iter()
            .find(|a| a.key == key)
            .map(|a| a.value)
    }

    pub fn errored(&self) -> bool {
        self.span.error.is_some()
    }

    pub fn duration_ms(&self) -> f64 {
        self.span.duration_ns() as f64 / 1e6
    }

    pub fn duration_s(&self) -> f64 {
        self.span.duration_ns() as f64 / 1e9
    }

    /// The key of the status code this span type reports, with its success word.
    fn status_key(&self) -> Option<(Sym, Sym)> {
        self.keys()
            .status
            .get(self.span.span_type as usize)
            .copied()
            .flatten()
    }

    /// The span's status code: `ERROR` when it failed; otherwise the span's own value (e.g. a
    /// control-plane `FLAGGED`), else its type's success word (`SUCCESS`, `OK`, `ALLOWED`).
    /// `None` for span types without a status code.
    pub fn status_code(&self) -> Option<Sym> {
        let (key, success) = self.status_key()?;
        if self.errored() {
            return Some(self.keys().error);
        }
        Some(match self.attr(key) {
            Some(AttrValue::Str(word)) => word,
            _ => success,
        })
    }

    /// Whether the span reports success: it did not fail, and its status code (if it has one)
    /// is a success word.
    pub fn succeeded(&self) -> bool {
        let k = self.keys();
        !self.errored()
            && self
                .status_code()
                .is_none_or(|c| [k.success, k.ok, k.allowed, k.flagged].contains(&c))
    }

    /// The exception a failed span reports: its error type and status message.
    pub fn exception(&self) -> Option<(Sym, Sym)> {
        self.span.error
    }

    /// A string attribute, else `fallback` (for texts built into log bodies).
    pub fn word(&self, key: Sym, fallback: Sym) -> &'a str {
        let plan = self.plan;
        match self.attr(key) {
            Some(AttrValue::Str(s)) => plan.str(s),
            Some(AttrValue::Text { start, len }) => self.trace.text(start, len),
            _ => plan.str(fallback),
        }
    }

    /// The provider of a GenAI operation: `gen_ai.provider.name`, else the deprecated
    /// `gen_ai.system`.
    pub fn provider(&self) -> Option<AttrValue> {
        let k = self.keys();
        self.attr(k.provider).or_else(|| self.attr(k.system))
    }
}

/// Every span of `trace`, as a [`SpanView`].
pub fn views<'a>(plan: &'a Plan, trace: &'a Trace) -> impl Iterator<Item = SpanView<'a>> {
    trace
        .spans
        .iter()
        .enumerate()
        .map(move |(index, span)| SpanView {
            plan,
            trace,
            span,
            index: index as u32,
        })
}
