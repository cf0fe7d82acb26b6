//! The failures peculiar to LLM calls, as a scenario writes them under a step's `failures:` key:
//! rate limits (HTTP 429 with a retry-after), a prompt over the context window, a content filter,
//! a hallucinated tool call and a timeout, each with its own probability per attempt.
//!
//! They are a separate model beside the step's generic [`super::ErrorModel`] rather than more
//! entries in its `types` list: a generic error type only colours a failed span (its `error.type`
//! and status), where each of these has a consequence in the tree (a retry after the retry-after,
//! the end of the turn, a failed tool span and a re-planning call, a span that lasts exactly until
//! its timeout, no output tokens). Weights among error types could not say any of that, and a
//! scenario that writes no `failures:` keeps its exact meaning.

use super::model::Distribution;

/// The retry-after a rate-limited attempt reports when the scenario gives none, in ms.
pub const DEFAULT_RETRY_AFTER_MS: f64 = 1000.0;

/// How long a call waits before it times out when the scenario gives no `after_ms`.
pub const DEFAULT_TIMEOUT_MS: f64 = 30_000.0;

/// Attempts of a rate-limited LLM call when its step has no `retry:` (the OpenAI and Anthropic
/// SDKs' default: one call and two retries).
pub const DEFAULT_RATE_LIMIT_ATTEMPTS: u32 = 3;

/// What can go wrong with one attempt of an LLM call, and how often.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Failures {
    pub rate_limit: Option<RateLimit>,
    /// Chance that the prompt exceeds the context window: the call fails fast, no output.
    pub context_window_exceeded: f64,
    /// Chance that the provider's content filter stops the output: the turn ends.
    pub content_filter: f64,
    /// Chance that the model asks for a tool that does not exist.
    pub hallucinated_tool_call: f64,
    pub timeout: Option<Timeout>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RateLimit {
    pub probability: f64,
    /// The retry-after the provider sends with the 429, in ms.
    pub retry_after_ms: Distribution,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Timeout {
    pub probability: f64,
    /// The client's timeout: a timed-out span lasts exactly this long.
    pub after_ms: f64,
}

impl Failures {
    /// The chance that one attempt fails in one of these ways (at most 1, `validate` checks).
    pub fn total(&self) -> f64 {
        self.rate_limit.as_ref().map_or(0.0, |r| r.probability)
            + self.context_window_exceeded
            + self.content_filter
            + self.hallucinated_tool_call
            + self.timeout.as_ref().map_or(0.0, |t| t.probability)
    }

    /// The most attempts one call makes: the step's `retry.max_attempts` when it has `retry:`,
    /// else [`DEFAULT_RATE_LIMIT_ATTEMPTS`] when it can be rate limited, else one.
    pub fn max_attempts(&self, retry: Option<u32>) -> u32 {
        match (retry, &self.rate_limit) {
            (Some(n), _) => n.max(1),
            (None, Some(_)) => DEFAULT_RATE_LIMIT_ATTEMPTS,
            (None, None) => 1,
        }
    }

    /// The most spans one call can give: LLM spans (its attempts and, after a hallucinated tool
    /// call, the re-planning call's) and the failed tool call's two spans (execute and attempt).
    pub fn worst_case_spans(&self, retry: Option<u32>) -> (u64, u64) {
        let attempts = u64::from(self.max_attempts(retry));
        if self.hallucinated_tool_call > 0.0 {
            (attempts * 2, 2)
        } else {
            (attempts, 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_adds_every_failure() {
        let f = Failures {
            rate_limit: Some(RateLimit {
                probability: 0.1,
                retry_after_ms: Distribution::Uniform {
                    low: 1.0,
                    high: 2.0,
                },
            }),
            context_window_exceeded: 0.2,
            content_filter: 0.05,
            hallucinated_tool_call: 0.15,
            timeout: Some(Timeout {
                probability: 0.1,
                after_ms: 5.0,
            }),
        };
        assert!((f.total() - 0.6).abs() < 1e-12);
        assert_eq!(f.worst_case_spans(None), (6, 2));
        assert_eq!(f.worst_case_spans(Some(5)), (10, 2));
        assert_eq!(Failures::default().worst_case_spans(None), (1, 0));
    }
}
