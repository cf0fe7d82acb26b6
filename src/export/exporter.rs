//! Delivering one encoded request: the retry policy and the accounting, whatever the transport.
//!
//! A transport makes one attempt and says how it ended ([`AttemptOutcome`]); this module decides what
//! follows. Retryable outcomes are retried with exponential backoff and full jitter, honouring the
//! server's requested delay, until the request's time budget runs out; anything else is final.
//! Keeping the policy here, not in each transport, is what lets HTTP, gRPC and files share one set
//! of rules and one set of counters.
//!
//! Every request to one endpoint shares that endpoint's health (a circuit breaker): the time
//! since a request to it last succeeded. When it has failed for longer than the budget
//! (`--retry-max-elapsed`, or [`RetryPolicy::never_answered_budget`] while it has never
//! answered at all), the endpoint is declared dead: every request still waiting or retrying for
//! it is dropped at once, later ones are dropped unsent, and [`Exporter::dead`] tells the run to
//! stop generating. A budget per request, the alternative this replaced, let a dead endpoint cost
//! a budget per request, one after another: minutes for a few hundred traces.

use super::ExportStats;
use crate::encode::Signal;
use crate::encode::payload::{Compression, Format, Payload};
use rand::RngExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How one attempt to deliver a request ended.
#[derive(Clone, Debug, PartialEq)]
pub enum AttemptOutcome {
    /// The endpoint took the request; `rejected` items were refused in a partial success.
    Accepted { rejected: u64, message: String },
    /// Worth trying again (throttling, a restarting server, no answer at all).
    Retryable {
        reason: String,
        retry_after: Option<Duration>,
        /// No answer at all (no connection, or none within the timeout): the endpoint may not
        /// exist.
        unreachable: bool,
    },
    /// The endpoint refused the request for good (bad data, auth).
    Permanent { reason: String },
}

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// How long an endpoint may go on failing, with no request succeeding, before it is given
    /// up on; also how long one request may keep retrying.
    pub max_elapsed: Duration,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// The same budget while the endpoint has never answered: long enough to ride out a
    /// collector still starting, short enough that a wrong address fails fast.
    pub never_answered_budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_elapsed: Duration::from_secs(60),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            never_answered_budget: Duration::from_secs(5),
        }
    }
}

/// One attempt at delivering a request; implemented by each transport.
pub trait Transport: Send + Sync + 'static {
    /// How requests for `signal` must be encoded and compressed for this transport.
    fn encoding(&self, signal: Signal) -> (Format, Compression);

    fn attempt(
        &self,
        signal: Signal,
        payload: &Payload,
    ) -> impl Future<Output = AttemptOutcome> + Send;

    /// Where `signal`'s requests go, e.g. `http://collector:4318`: signals sent to the same
    /// endpoint share its health. By default each signal is its own.
    fn endpoint(&self, signal: Signal) -> String {
        signal.name().to_string()
    }
}

/// An endpoint given up on.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DeadEndpoint {
    pub endpoint: String,
    /// The last failure, as the transport put it.
    pub reason: String,
    /// How long it failed with nothing succeeding.
    #[serde(rename = "failing_s", serialize_with = "seconds")]
    pub failing: Duration,
    #[serde(skip)]
    pub at: Instant,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 10.0).round() / 10.0)
}

/// What one endpoint has shown so far.
#[derive(Default)]
struct Health {
    endpoint: String,
    ever_answered: AtomicBool,
    /// When the first attempt of the current run of failures started; `None` after a success.
    failing_since: Mutex<Option<Instant>>,
    dead: OnceLock<DeadEndpoint>,
}

impl Health {
    fn succeeded(&self) {
        self.ever_answered.store(true, Ordering::Relaxed);
        *self.failing_since.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Records a failed attempt that started at `started`; when the failures began.
    fn failed(&self, started: Instant, answered: bool) -> Instant {
        if answered {
            self.ever_answered.store(true, Ordering::Relaxed);
        }
        *self
            .failing_since
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(started)
    }
}

/// Sends requests through a transport under the retry policy, counting every item.
pub struct Exporter<T> {
    transport: T,
    policy: RetryPolicy,
    stats: [Arc<ExportStats>; 3],
    /// One per distinct endpoint; `health_of[signal]` indexes it.
    health: Vec<Health>,
    health_of: [usize; 3],
    /// Set when an endpoint is declared dead.
    died: watch::Sender<bool>,
    /// Set when the run is interrupted and its flush deadline has passed: whatever is still
    /// waiting or retrying is given up on (and counted as dropped) at once.
    abandon: watch::Sender<bool>,
}

/// Why an item was dropped when the run was interrupted before it could be delivered.
pub const INTERRUPTED: &str = "not delivered: the run was interrupted";

/// Why an item was dropped once its endpoint had been given up on.
pub const UNREACHABLE: &str = "not delivered: the endpoint was given up on";

impl<T: Transport> Exporter<T> {
    pub fn new(transport: T, policy: RetryPolicy) -> Exporter<T> {
        let mut health: Vec<Health> = Vec::new();
        let health_of = Signal::ALL.map(|signal| {
            let endpoint = transport.endpoint(signal);
            match health.iter().position(|h| h.endpoint == endpoint) {
                Some(i) => i,
                None => {
                    health.push(Health {
                        endpoint,
                        ..Health::default()
                    });
                    health.len() - 1
                }
            }
        });
        Exporter {
            transport,
            policy,
            stats: Default::default(),
            health,
            health_of,
            died: watch::channel(false).0,
            abandon: watch::channel(false).0,
        }
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    pub fn stats(&self, signal: Signal) -> &Arc<ExportStats> {
        &self.stats[signal as usize]
    }

    /// Gives up on every request still waiting or in flight, now and from now on.
    pub fn abandon(&self) {
        self.abandon.send_replace(true);
    }

    pub fn abandoned(&self) -> bool {
        *self.abandon.borrow()
    }

    /// Resolves once [`Exporter::abandon`] has been called.
    async fn abandoned_signal(&self) {
        let mut rx = self.abandon.subscribe();
        let _ = rx.wait_for(|&a| a).await;
    }

    /// The first endpoint given up on, if any.
    pub fn dead(&self) -> Option<&DeadEndpoint> {
        self.health
            .iter()
            .filter_map(|h| h.dead.get())
            .min_by_key(|d| d.at)
    }

    /// Resolves once an endpoint has been given up on.
    pub async fn died(&self) {
        let mut rx = self.died.subscribe();
        let _ = rx.wait_for(|&d| d).await;
    }

    /// Resolves once `health`'s endpoint has been given up on.
    async fn health_died(&self, health: &Health) {
        let mut rx = self.died.subscribe();
        let _ = rx.wait_for(|_| health.dead.get().is_some()).await;
    }

    fn declare_dead(&self, health: &Health, reason: &str, since: Instant) {
        let _ = health.dead.set(DeadEndpoint {
            endpoint: health.endpoint.clone(),
            reason: reason.to_string(),
            failing: since.elapsed(),
            at: Instant::now(),
        });
        self.died.send_replace(true);
    }

    /// Delivers one request holding `items` items, retrying as the policy allows.
    pub async fn export(&self, signal: Signal, payload: Payload, items: u64) {
        let stats = &self.stats[signal as usize];
        let health = &self.health[self.health_of[signal as usize]];
        if self.abandoned() {
            stats.dropped(items, INTERRUPTED);
            return;
        }
        if health.dead.get().is_some() {
            stats.dropped(items, UNREACHABLE);
            return;
        }
        stats.count_sent(items, payload.raw_len as u64, payload.body.len() as u64);
        let started = Instant::now();
        let mut backoff = self.policy.initial_backoff;
        loop {
            let attempt_started = Instant::now();
            let outcome = tokio::select! {
                outcome = self.transport.attempt(signal, &payload) => outcome,
                () = self.abandoned_signal() => {
                    stats.dropped(items, INTERRUPTED);
                    return;
                }
                () = self.health_died(health) => {
                    stats.dropped(items, UNREACHABLE);
                    return;
                }
            };
            let (reason, retry_after, unreachable) = match outcome {
                AttemptOutcome::Accepted { rejected, message } => {
                    health.succeeded();
                    stats.accepted(items.saturating_sub(rejected));
                    if rejected > 0 {
                        stats.rejected(rejected.min(items), &format!("partial success: {message}"));
                    }
                    return;
                }
                AttemptOutcome::Permanent { reason } => {
                    health.succeeded();
                    stats.rejected(items, &reason);
                    return;
                }
                AttemptOutcome::Retryable {
                    reason,
                    retry_after,
                    unreachable,
                } => (reason, retry_after, unreachable),
            };
            let failing_since = health.failed(attempt_started, !unreachable);
            let budget = if health.ever_answered.load(Ordering::Relaxed) {
                self.policy.max_elapsed
            } else {
                self.policy
                    .max_elapsed
                    .min(self.policy.never_answered_budget)
            };
            // The endpoint's budget is spent only when its time is up (a jittered wait is cut
            // short to fit), or when the server asks for a delay beyond it.
            let left = budget.saturating_sub(failing_since.elapsed());
            let wait = match retry_after {
                Some(asked) => asked,
                None => backoff.mul_f64(rand::rng().random::<f64>()).min(left),
            };
            if left.is_zero() || wait > left {
                self.declare_dead(health, &reason, failing_since);
            }
            if health.dead.get().is_some() || started.elapsed() + wait > self.policy.max_elapsed {
                stats.dropped(items, &format!("{reason} (gave up retrying)"));
                return;
            }
            stats.count_retry();
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.abandoned_signal() => {
                    stats.dropped(items, INTERRUPTED);
                    return;
                }
                () = self.health_died(health) => {
                    stats.dropped(items, UNREACHABLE);
                    return;
                }
            }
            backoff = (backoff * 2).min(self.policy.max_backoff);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::sync::Mutex;

    /// Answers with a scripted sequence of outcomes, then accepts.
    struct Scripted(Mutex<Vec<AttemptOutcome>>);

    impl Transport for Scripted {
        fn encoding(&self, _: Signal) -> (Format, Compression) {
            (Format::Protobuf, Compression::None)
        }

        async fn attempt(&self, _: Signal, _: &Payload) -> AttemptOutcome {
            let mut script = self.0.lock().unwrap();
            if script.is_empty() {
                AttemptOutcome::Accepted {
                    rejected: 0,
                    message: String::new(),
                }
            } else {
                script.remove(0)
            }
        }
    }

    fn payload() -> Payload {
        Payload {
            body: Bytes::from_static(b"x"),
            raw_len: 1,
            format: Format::Protobuf,
            compression: Compression::None,
            tenant: None,
        }
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_elapsed: Duration::from_millis(300),
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            never_answered_budget: Duration::from_millis(50),
        }
    }

    fn retryable(unreachable: bool) -> AttemptOutcome {
        AttemptOutcome::Retryable {
            reason: "busy".into(),
            retry_after: None,
            unreachable,
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_accepted() {
        let e = Exporter::new(
            Scripted(Mutex::new(vec![retryable(false), retryable(false)])),
            fast(),
        );
        e.export(Signal::Traces, payload(), 7).await;
        let s = e.stats(Signal::Traces).snapshot();
        assert_eq!(
            (
                s.sent, s.accepted, s.rejected, s.dropped, s.requests, s.retries
            ),
            (7, 7, 0, 0, 1, 2)
        );
    }

    #[tokio::test]
    async fn permanent_failures_and_partial_successes_are_rejections() {
        let e = Exporter::new(
            Scripted(Mutex::new(vec![
                AttemptOutcome::Permanent {
                    reason: "HTTP 400".into(),
                },
                AttemptOutcome::Accepted {
                    rejected: 2,
                    message: "bad spans".into(),
                },
            ])),
            fast(),
        );
        e.export(Signal::Logs, payload(), 5).await;
        e.export(Signal::Logs, payload(), 5).await;
        let s = e.stats(Signal::Logs).snapshot();
        assert_eq!((s.accepted, s.rejected, s.dropped), (3, 7, 0));
        assert_eq!(s.reasons.len(), 2);
    }

    #[tokio::test]
    async fn a_dead_endpoint_gives_up_fast_and_drops_the_rest_at_once() {
        let always_down = (0..10_000).map(|_| retryable(true)).collect();
        let e = Exporter::new(Scripted(Mutex::new(always_down)), fast());
        let started = Instant::now();
        e.export(Signal::Traces, payload(), 4).await;
        e.export(Signal::Traces, payload(), 6).await;
        // Given up once its never-answered budget (50 ms) was spent, not before.
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(50) && took < Duration::from_millis(250),
            "{took:?}"
        );
        let s = e.stats(Signal::Traces).snapshot();
        assert_eq!((s.accepted, s.dropped), (0, 10));
        assert!(e.dead().is_some_and(|d| d.reason == "busy"));
    }

    /// One endpoint for every signal: a request whose body is `hang` never gets an answer,
    /// any other is refused.
    struct HalfDead;

    impl Transport for HalfDead {
        fn encoding(&self, _: Signal) -> (Format, Compression) {
            (Format::Protobuf, Compression::None)
        }

        async fn attempt(&self, _: Signal, payload: &Payload) -> AttemptOutcome {
            if &payload.body[..] == b"hang" {
                std::future::pending::<()>().await;
            }
            retryable(true)
        }

        fn endpoint(&self, _: Signal) -> String {
            "http://collector:4318".into()
        }
    }

    #[tokio::test]
    async fn every_request_to_a_dead_endpoint_is_dropped_at_once_whatever_its_signal() {
        let e = Arc::new(Exporter::new(HalfDead, fast()));
        let hanging = tokio::spawn({
            let e = e.clone();
            async move {
                let mut p = payload();
                p.body = Bytes::from_static(b"hang");
                e.export(Signal::Logs, p, 3).await
            }
        });
        let started = Instant::now();
        e.export(Signal::Traces, payload(), 4).await;
        tokio::time::timeout(Duration::from_secs(5), hanging)
            .await
            .expect("the hanging request is dropped when its endpoint dies")
            .unwrap();
        e.export(Signal::Metrics, payload(), 5).await;
        assert!(started.elapsed() < Duration::from_secs(1));
        let dropped = |s: Signal| e.stats(s).snapshot().dropped;
        assert_eq!(
            (
                dropped(Signal::Traces),
                dropped(Signal::Logs),
                dropped(Signal::Metrics)
            ),
            (4, 3, 5)
        );
        assert_eq!(
            e.stats(Signal::Metrics).snapshot().reasons,
            vec![(UNREACHABLE.to_string(), 5)]
        );
        assert_eq!(e.dead().unwrap().endpoint, "http://collector:4318");
    }

    #[tokio::test]
    async fn retry_after_is_honoured() {
        let e = Exporter::new(
            Scripted(Mutex::new(vec![AttemptOutcome::Retryable {
                reason: "429".into(),
                retry_after: Some(Duration::from_millis(120)),
                unreachable: false,
            }])),
            fast(),
        );
        let started = Instant::now();
        e.export(Signal::Metrics, payload(), 1).await;
        assert!(started.elapsed() >= Duration::from_millis(120));
        assert_eq!(e.stats(Signal::Metrics).snapshot().accepted, 1);
    }

    #[tokio::test]
    async fn abandoning_drops_what_is_still_retrying() {
        let always_busy = (0..10_000).map(|_| retryable(false)).collect();
        let e = Arc::new(Exporter::new(
            Scripted(Mutex::new(always_busy)),
            RetryPolicy {
                max_elapsed: Duration::from_secs(60),
                ..fast()
            },
        ));
        let worker = tokio::spawn({
            let e = e.clone();
            async move { e.export(Signal::Logs, payload(), 3).await }
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        e.abandon();
        worker.await.unwrap();
        e.export(Signal::Logs, payload(), 2).await;
        let s = e.stats(Signal::Logs).snapshot();
        assert_eq!((s.accepted, s.dropped), (0, 5));
        assert_eq!(s.reasons, vec![(INTERRUPTED.to_string(), 5)]);
    }
}
