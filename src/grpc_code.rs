//! gRPC status codes (`google.rpc.Code`) and their names, written once for the two places that
//! read them: the gRPC transport (statuses it receives) and the generic `rpc` convention (the
//! `rpc.grpc.status_code` and `error.type` of a failed call). A leaf, so that neither has to import
//! the other's layer; tonic's `Code` was rejected because its names are CamelCase
//! (`DeadlineExceeded`), not the `DEADLINE_EXCEEDED` the conventions and the wire use.

pub const OK: i32 = 0;
pub const CANCELLED: i32 = 1;
pub const UNKNOWN: i32 = 2;
pub const INVALID_ARGUMENT: i32 = 3;
pub const DEADLINE_EXCEEDED: i32 = 4;
pub const NOT_FOUND: i32 = 5;
pub const ALREADY_EXISTS: i32 = 6;
pub const PERMISSION_DENIED: i32 = 7;
pub const RESOURCE_EXHAUSTED: i32 = 8;
pub const FAILED_PRECONDITION: i32 = 9;
pub const ABORTED: i32 = 10;
pub const OUT_OF_RANGE: i32 = 11;
pub const UNIMPLEMENTED: i32 = 12;
pub const INTERNAL: i32 = 13;
pub const UNAVAILABLE: i32 = 14;
pub const DATA_LOSS: i32 = 15;
pub const UNAUTHENTICATED: i32 = 16;

/// The name of status `code` (`DEADLINE_EXCEEDED`), or `UNKNOWN` for a number outside the table.
pub fn name(code: i32) -> &'static str {
    known_name(code).unwrap_or("UNKNOWN")
}

/// The name of status `code`, when it is one of the table's.
pub fn known_name(code: i32) -> Option<&'static str> {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
}

/// The code a gRPC client reports for a non-200 HTTP status (gRPC's
/// `http-grpc-status-mapping`).
pub fn for_http_status(status: u16) -> i32 {
    match status {
        400 => INTERNAL,
        401 => UNAUTHENTICATED,
        403 => PERMISSION_DENIED,
        404 => UNIMPLEMENTED,
        429 | 502 | 503 | 504 => UNAVAILABLE,
        _ => UNKNOWN,
    }
}
