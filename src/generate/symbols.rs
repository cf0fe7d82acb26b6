//! The bottom of the generator: interned-string handles, node and literal ids, attribute values
//! and the conventional attribute defaults before interning. It imports nothing of `generate`
//! (only the scenario model's `Distribution`), so every other module of the generator can use it
//! without the import cycles that keeping these types in `plan` made (plan ↔ derive,
//! plan ↔ openinference, trace ↔ content).
//!
//! Keeping them in `plan.rs`, where they were born, was the alternative rejected: the modules
//! that read traces (derive, logs, metrics, content) would keep importing the compiler of plans
//! for a `u32` handle, and the picture of imports would not read top to bottom.

use crate::scenario::Distribution;

/// An interned string.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Sym(pub u32);

/// Index of a node in the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeId(pub u32);

/// Index of a constant value in the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiteralId(pub u32);

/// An attribute value as generated: small and `Copy`, pointing into the plan or the trace.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AttrValue {
    Str(Sym),
    /// A string generated for this trace, stored in the trace's text buffer.
    Text {
        start: u32,
        len: u32,
    },
    Int(i64),
    Double(f64),
    Bool(bool),
    /// A list or mapping written in the scenario.
    Literal(LiteralId),
}

/// Values made per trace or per span rather than drawn from a distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generated {
    Tenant,
    SessionId,
    RequestId,
    TraceIdHex,
    ToolCallId,
    ResponseId,
    TaskId,
    EnduserId,
    TurnIndex,
    /// `sha256:` and 32 hex digits.
    Hash,
    /// The interned prefix and 8 hex digits.
    RandomId(Sym),
    /// 32 hex digits derived from the trace's session id (no random draw).
    McpSessionId,
    /// A number unique in the trace (the span's index), as text.
    JsonRpcRequestId,
}

/// A conventional attribute before interning.
pub enum DefaultValue {
    Str(String),
    Int(i64),
    Generated(Generated),
    CopyOf(String),
    /// The sum of two attributes of the same span.
    Sum(String, String),
    Sampled(Distribution),
}

/// One attribute of a span: an interned key and its value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Attr {
    pub key: Sym,
    pub value: AttrValue,
}
