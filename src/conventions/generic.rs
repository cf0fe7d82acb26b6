//! What each convention of a generic step means, as data: its usual span kind, what failed in a
//! failed span's status message, the attributes it fills in when the scenario leaves them out,
//! the keys the semantic conventions require or recommend (which `validate` checks), and the
//! status-code attribute that follows the span's outcome (an HTTP 5xx on a failed call).
//!
//! One row per [`Convention`] in [`TABLE`], like the span types' table beside it, rather than a
//! `match` in each place that needs an answer: the plan, the lint and the docs read the same rows.
//! Defaults are deliberately few (a method, an operation type): a value that identifies the
//! remote side (`url.full`, `db.system.name`) is never invented; `validate` says it is missing.

use crate::scenario::Convention;
use crate::value::SpanKind;

/// The attribute that reports a call's status code, with its value on success and on each of
/// the built-in error types.
#[derive(Debug)]
pub struct StatusCode {
    pub key: &'static str,
    pub success: i64,
    /// The code each error type maps to; any other type gets `other`.
    pub on_error: &'static [(&'static str, i64)],
    pub other: i64,
    /// `error.type` is the code (as the HTTP conventions ask) or its name (gRPC).
    pub error_type: ErrorTypeFrom,
}

/// How a failed span's `error.type` is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorTypeFrom {
    /// The drawn error type as the scenario names it (`timeout`).
    ErrorType,
    /// The status code as text (`"504"`).
    Code,
    /// The status code's name from [`crate::grpc_code::known_name`] (`DEADLINE_EXCEEDED`).
    GrpcName,
}

/// One convention's row.
#[derive(Debug)]
pub struct GenericConvention {
    pub convention: Convention,
    pub kind: SpanKind,
    pub failure_subject: &'static str,
    /// Filled in when the scenario does not write them, in emitted order.
    pub defaults: &'static [(&'static str, &'static str)],
    /// Required by the conventions: `validate` warns when a step has none of them.
    pub required: &'static [&'static str],
    pub recommended: &'static [&'static str],
    pub status: Option<StatusCode>,
}

const HTTP_STATUS: StatusCode = StatusCode {
    key: "http.response.status_code",
    success: 200,
    on_error: &[
        ("timeout", 504),
        ("upstream_5xx", 502),
        ("rate_limit", 429),
        ("auth_failure", 401),
        ("not_found", 404),
        ("validation", 400),
        ("internal_error", 500),
    ],
    other: 500,
    error_type: ErrorTypeFrom::Code,
};

const GRPC_STATUS: StatusCode = StatusCode {
    key: "rpc.grpc.status_code",
    success: 0,
    on_error: &[
        ("timeout", 4),
        ("upstream_5xx", 14),
        ("rate_limit", 8),
        ("auth_failure", 16),
        ("not_found", 5),
        ("validation", 3),
        ("internal_error", 13),
    ],
    other: 2,
    error_type: ErrorTypeFrom::GrpcName,
};

/// One row per convention, in the order of [`Convention::ALL`].
pub static TABLE: [GenericConvention; Convention::ALL.len()] = [
    GenericConvention {
        convention: Convention::Http,
        kind: SpanKind::Client,
        failure_subject: "HTTP request",
        defaults: &[("http.request.method", "GET")],
        required: &["http.request.method", "server.address", "url.full"],
        recommended: &["server.port", "http.response.status_code", "url.path"],
        status: Some(HTTP_STATUS),
    },
    GenericConvention {
        convention: Convention::Db,
        kind: SpanKind::Client,
        failure_subject: "database query",
        defaults: &[],
        required: &["db.system.name"],
        recommended: &[
            "db.collection.name",
            "db.operation.name",
            "db.namespace",
            "db.query.text",
            "server.address",
        ],
        status: None,
    },
    GenericConvention {
        convention: Convention::VectorStore,
        kind: SpanKind::Client,
        failure_subject: "vector search",
        defaults: &[("db.operation.name", "search")],
        required: &["db.system.name"],
        recommended: &["db.collection.name", "db.operation.name", "server.address"],
        status: None,
    },
    GenericConvention {
        convention: Convention::Messaging,
        kind: SpanKind::Producer,
        failure_subject: "message publish",
        defaults: &[
            ("messaging.operation.type", "send"),
            ("messaging.operation.name", "publish"),
        ],
        required: &["messaging.system", "messaging.operation.name"],
        recommended: &[
            "messaging.destination.name",
            "messaging.operation.type",
            "server.address",
        ],
        status: None,
    },
    GenericConvention {
        convention: Convention::Rpc,
        kind: SpanKind::Client,
        failure_subject: "RPC",
        defaults: &[("rpc.system", "grpc")],
        required: &["rpc.system"],
        recommended: &["rpc.service", "rpc.method", "server.address", "server.port"],
        status: Some(GRPC_STATUS),
    },
    GenericConvention {
        convention: Convention::None,
        kind: SpanKind::Internal,
        failure_subject: "step",
        defaults: &[],
        required: &[],
        recommended: &[],
        status: None,
    },
];

/// The row of convention `c`.
pub fn of(c: Convention) -> &'static GenericConvention {
    &TABLE[Convention::ALL
        .iter()
        .position(|x| *x == c)
        .unwrap_or(TABLE.len() - 1)]
}

impl StatusCode {
    /// The code a span that failed with `error_type` reports.
    pub fn code_for(&self, error_type: &str) -> i64 {
        self.on_error
            .iter()
            .find(|(t, _)| *t == error_type)
            .map_or(self.other, |(_, c)| *c)
    }

    /// The `error.type` of a span that failed with `error_type`.
    pub fn error_type(&self, error_type: &str) -> String {
        let code = self.code_for(error_type);
        match self.error_type {
            ErrorTypeFrom::ErrorType => error_type.to_string(),
            ErrorTypeFrom::Code => code.to_string(),
            ErrorTypeFrom::GrpcName => i32::try_from(code)
                .ok()
                .and_then(crate::grpc_code::known_name)
                .map_or_else(|| code.to_string(), str::to_string),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_convention_in_order() {
        for (i, c) in Convention::ALL.into_iter().enumerate() {
            assert_eq!(TABLE[i].convention, c);
            assert_eq!(of(c).convention, c);
        }
    }

    #[test]
    fn http_failures_are_5xx_or_4xx_and_grpc_ones_are_named() {
        let http = of(Convention::Http).status.as_ref().unwrap();
        assert_eq!(http.code_for("timeout"), 504);
        assert_eq!(http.error_type("upstream_5xx"), "502");
        assert_eq!(http.code_for("something_else"), 500);
        for (_, code) in http.on_error {
            assert!((400..600).contains(code));
        }
        let grpc = of(Convention::Rpc).status.as_ref().unwrap();
        assert_eq!(grpc.error_type("timeout"), "DEADLINE_EXCEEDED");
        assert_eq!(grpc.error_type("weird"), "UNKNOWN");
    }

    #[test]
    fn defaults_are_among_the_declared_keys() {
        for row in &TABLE {
            for (key, _) in row.defaults {
                assert!(
                    row.required.contains(key) || row.recommended.contains(key),
                    "{}: {key}",
                    row.convention
                );
            }
        }
    }
}
