//! Misbehaviour on request, for testing exporters: answer slowly, and fail the first N
//! requests with a chosen status (and a requested retry delay).
//!
//! Both transports ask the same [`FaultState`] before handling a request, so "the first N"
//! counts requests of every signal over HTTP and gRPC together, and a failure means the same
//! thing on both: the HTTP status, or the gRPC code a server would use for it, chosen so that
//! what is retryable over HTTP is retryable over gRPC too (429 with a retry delay becomes
//! RESOURCE_EXHAUSTED with RetryInfo, 429 without one UNAVAILABLE).

use crate::export::grpc::code;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// What the sink should do wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Faults {
    /// Fail this many requests, then behave.
    pub fail_first: u64,
    /// HTTP status of the failures (400–599).
    pub status: u16,
    /// Sent as `Retry-After` (seconds) and as gRPC `RetryInfo` with each failure.
    pub retry_after: Option<Duration>,
    /// Delay before answering every request.
    pub latency: Duration,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            fail_first: 0,
            status: 503,
            retry_after: None,
            latency: Duration::ZERO,
        }
    }
}

/// A failure to answer with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Injected {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub message: String,
}

impl Injected {
    /// The gRPC code for the HTTP status (see the module doc).
    pub fn grpc_code(&self) -> i32 {
        match self.status {
            400 => code::INVALID_ARGUMENT,
            401 => code::UNAUTHENTICATED,
            403 => code::PERMISSION_DENIED,
            404 => code::NOT_FOUND,
            408 | 504 => code::DEADLINE_EXCEEDED,
            409 => code::ABORTED,
            413 => code::RESOURCE_EXHAUSTED,
            429 if self.retry_after.is_some() => code::RESOURCE_EXHAUSTED,
            429 | 502 | 503 => code::UNAVAILABLE,
            501 => code::UNIMPLEMENTED,
            status if status < 500 => code::FAILED_PRECONDITION,
            _ => code::INTERNAL,
        }
    }
}

/// The faults and how many requests have been seen.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    faults: Faults,
    seen: AtomicU64,
    injected: AtomicU64,
}

impl FaultState {
    pub fn new(faults: Faults) -> Self {
        FaultState {
            faults,
            seen: AtomicU64::new(0),
            injected: AtomicU64::new(0),
        }
    }

    /// Waits out the latency, then says whether this request must fail.
    pub async fn before_request(&self) -> Option<Injected> {
        if !self.faults.latency.is_zero() {
            tokio::time::sleep(self.faults.latency).await;
        }
        if self.faults.fail_first == 0 {
            return None;
        }
        let n = self.seen.fetch_add(1, Relaxed);
        if n >= self.faults.fail_first {
            return None;
        }
        self.injected.fetch_add(1, Relaxed);
        Some(Injected {
            status: self.faults.status,
            retry_after: self.faults.retry_after,
            message: format!(
                "failure injected by --fail-first {}",
                self.faults.fail_first
            ),
        })
    }

    /// Requests failed on purpose so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_first_n_fail() {
        let state = FaultState::new(Faults {
            fail_first: 2,
            status: 429,
            retry_after: Some(Duration::from_secs(1)),
            ..Faults::default()
        });
        let first = state.before_request().await.unwrap();
        assert_eq!(first.grpc_code(), code::RESOURCE_EXHAUSTED);
        assert!(state.before_request().await.is_some());
        assert!(state.before_request().await.is_none());
        assert_eq!(state.injected(), 2);
    }

    #[test]
    fn retryable_statuses_stay_retryable_over_grpc() {
        let injected = |status, retry_after| Injected {
            status,
            retry_after,
            message: String::new(),
        };
        assert_eq!(injected(503, None).grpc_code(), code::UNAVAILABLE);
        assert_eq!(injected(429, None).grpc_code(), code::UNAVAILABLE);
        assert_eq!(injected(504, None).grpc_code(), code::DEADLINE_EXCEEDED);
        assert_eq!(injected(400, None).grpc_code(), code::INVALID_ARGUMENT);
        assert_eq!(injected(500, None).grpc_code(), code::INTERNAL);
    }
}
