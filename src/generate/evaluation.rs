//! Evaluations in the generator: a score drawn for an evaluated span, labelled by thresholds, and
//! sent as a `gen_ai.evaluation.result` event (a log record tied to that span, as the GenAI
//! conventions define it).
//!
//! Scores are drawn while the trace is built, from the trace's own stream, and kept beside its
//! spans ([`super::Trace::evaluations`]) as plain numbers; the log derivation turns them into
//! records and the metrics into a histogram, so every signal reports the same score. Drawing them
//! in the log derivation was rejected: logs can be off, and the metric must still agree.

use super::plan::Plan;
use super::sampler::Sampler;
use super::symbols::{NodeId, Sym};
use crate::scenario::{Evaluation, Scenario};

/// One evaluation, compiled.
pub struct EvaluationPlan {
    pub name: Sym,
    pub score: Sampler,
    /// `(label, lowest score)`, highest threshold first.
    pub labels: Vec<(Sym, f64)>,
    pub explanation: Option<Sym>,
    pub probability: f64,
}

impl EvaluationPlan {
    /// The label a score earns, if any.
    pub fn label(&self, score: f64) -> Option<Sym> {
        self.labels
            .iter()
            .find(|(_, at)| score >= *at)
            .map(|(l, _)| *l)
    }
}

/// The evaluations of a plan: per step, and of the session (on its last turn's root span).
#[derive(Default)]
pub struct Evaluations {
    pub all: Vec<EvaluationPlan>,
    /// Indices into `all`, per node.
    pub by_node: Vec<Vec<u32>>,
    /// Indices into `all` of the session-level evaluations.
    pub session: Vec<u32>,
    pub keys: EvaluationKeys,
}

/// The keys and event name of an evaluation record.
#[derive(Default)]
pub struct EvaluationKeys {
    pub event: Sym,
    pub name: Sym,
    pub score: Sym,
    pub label: Sym,
    pub explanation: Sym,
}

/// One drawn evaluation of a span of a trace.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvaluationRecord {
    /// The evaluated span: an index into the trace's spans.
    pub span: u32,
    /// Index into [`Evaluations::all`].
    pub evaluation: u32,
    pub score: f64,
}

impl Evaluations {
    /// The evaluations of `scenario`'s steps (in the plan's node order, which is the steps'
    /// pre-order) and session. Empty, and interning nothing, when there are none.
    pub fn compile(scenario: &Scenario, plan: &mut Plan) -> Evaluations {
        let steps = scenario.root.walk();
        let session = scenario
            .session
            .as_ref()
            .map_or(&[][..], |s| &s.evaluations[..]);
        if session.is_empty() && steps.iter().all(|s| s.evaluations.is_empty()) {
            return Evaluations::default();
        }
        let mut out = Evaluations {
            keys: EvaluationKeys {
                event: plan.intern("gen_ai.evaluation.result"),
                name: plan.intern("gen_ai.evaluation.name"),
                score: plan.intern("gen_ai.evaluation.score.value"),
                label: plan.intern("gen_ai.evaluation.score.label"),
                explanation: plan.intern("gen_ai.evaluation.explanation"),
            },
            ..Evaluations::default()
        };
        for step in &steps {
            let ids = step.evaluations.iter().map(|e| out.push(e, plan)).collect();
            out.by_node.push(ids);
        }
        out.session = session.iter().map(|e| out.push(e, plan)).collect();
        out
    }

    fn push(&mut self, e: &Evaluation, plan: &mut Plan) -> u32 {
        self.all.push(EvaluationPlan {
            name: plan.intern(&e.name),
            score: Sampler::new(&e.score),
            labels: e
                .labels
                .iter()
                .map(|(l, at)| (plan.intern(l), *at))
                .collect(),
            explanation: e.explanation.as_ref().map(|x| plan.intern(x)),
            probability: e.probability,
        });
        self.all.len() as u32 - 1
    }

    /// The evaluations of spans of node `id`.
    pub fn of(&self, id: NodeId) -> &[u32] {
        self.by_node.get(id.0 as usize).map_or(&[], |v| &v[..])
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }
}
