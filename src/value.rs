//! The value types that the scenario model, the generator and the encoder all speak: a constant
//! attribute value as written in a scenario ([`Literal`]) and a span's kind ([`SpanKind`]).
//!
//! They live here, below all three layers, so that the encoder can read what the generator's
//! records carry without importing the scenario model (the rule that what encodes or sends OTLP
//! knows nothing of scenarios). The model re-exports `Literal` (a value written in a scenario) and
//! `conventions` re-exports `SpanKind` (what a span type's kind is), so their users name them there.
//! The alternative rejected was a mirror of each type in the generator, converted at plan time:
//! two definitions of the same enums and a copy of every list and map constant, for no change in
//! behaviour.

/// A constant value written in a scenario.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    List(Vec<Literal>),
    Map(Vec<(String, Literal)>),
}

impl Literal {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Literal::Int(i) => Some(*i as f64),
            Literal::Float(f) => Some(*f),
            _ => None,
        }
    }
}

/// The role of a span in its trace, as OTLP's span kind expresses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanKind {
    Internal,
    Server,
    Client,
    /// Sends a message (a queue publish); only generic steps have it.
    Producer,
    /// Receives or processes a message; only generic steps have it.
    Consumer,
}
