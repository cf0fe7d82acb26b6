//! The bounded queue between generation and export.
//!
//! Generation runs on an ordinary thread and hands each request (a message, not yet bytes) to
//! [`Pipeline::send`], which blocks while the queue is full: when the endpoint is slower than
//! generation, generation waits and memory stays flat. A fixed number of sender tasks on an
//! async runtime drain the queue; each encodes and compresses its request (so that work runs in
//! parallel with generation) and delivers it under the retry policy, so several requests are in
//! flight at once. An unbounded queue (the Python tool's choice, with a drop policy) was
//! rejected because it turns a slow endpoint into either lost data or unbounded memory.
//!
//! When the run is interrupted, [`Pipeline::send`] stops waiting for room, and
//! [`Pipeline::finish`] gives the queue [`FLUSH_DEADLINE`] to drain before giving up on what is
//! left; either way the items are counted as dropped, never forgotten. When the exporter gives
//! an endpoint up as dead, the same happens at once: [`Pipeline::dead`] tells generation to stop,
//! waiters are woken, and what is queued or still offered is dropped unsent.

use super::ExportSnapshot;
use super::exporter::{DeadEndpoint, Exporter, INTERRUPTED, Transport, UNREACHABLE};
use crate::encode::Signal;
use crate::encode::payload::{Compression, Format, OtlpRequest, Payload};
use crate::interrupt::Interrupt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long an interrupted run keeps flushing what it had queued.
pub const FLUSH_DEADLINE: Duration = Duration::from_secs(10);

/// One request and how many items it carries.
struct Queued {
    request: OtlpRequest,
    tenant: Option<Arc<str>>,
    items: u64,
}

pub struct Pipeline<T: Transport> {
    tx: mpsc::Sender<Queued>,
    senders: Vec<tokio::task::JoinHandle<()>>,
    /// Wakes the run's sleepers when an endpoint dies.
    watchdog: tokio::task::JoinHandle<()>,
    exporter: Arc<Exporter<T>>,
    handle: tokio::runtime::Handle,
    interrupt: Arc<Interrupt>,
}

/// What became of each signal's items.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct PipelineSummary {
    pub traces: ExportSnapshot,
    pub metrics: ExportSnapshot,
    pub logs: ExportSnapshot,
    /// The endpoint given up on as dead, if one was: the run stopped early.
    pub unreachable: Option<DeadEndpoint>,
}

impl PipelineSummary {
    pub fn signal(&self, signal: Signal) -> &ExportSnapshot {
        match signal {
            Signal::Traces => &self.traces,
            Signal::Metrics => &self.metrics,
            Signal::Logs => &self.logs,
        }
    }

    /// Whether every generated item of every signal was accepted.
    pub fn lossless(&self) -> bool {
        Signal::ALL.iter().all(|s| self.signal(*s).lossless())
    }
}

impl<T: Transport> Pipeline<T> {
    /// Starts `senders` tasks on `handle`, fed by a queue of `queue` requests.
    pub fn start(
        exporter: Exporter<T>,
        senders: usize,
        queue: usize,
        handle: &tokio::runtime::Handle,
        interrupt: Arc<Interrupt>,
    ) -> Self {
        let exporter = Arc::new(exporter);
        let (tx, rx) = mpsc::channel::<Queued>(queue.max(1));
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let senders = (0..senders.max(1))
            .map(|_| {
                let rx = rx.clone();
                let exporter = exporter.clone();
                handle.spawn(async move {
                    let mut scratch = Vec::new();
                    loop {
                        let next = rx.lock().await.recv().await;
                        let Some(Queued {
                            request,
                            tenant,
                            items,
                        }) = next
                        else {
                            break;
                        };
                        let signal = request.signal();
                        if exporter.abandoned() {
                            exporter.stats(signal).dropped(items, INTERRUPTED);
                            continue;
                        }
                        let (format, compression) = exporter.transport().encoding(signal);
                        let Some(mut payload) = encode(
                            &exporter,
                            &request,
                            items,
                            format,
                            compression,
                            &mut scratch,
                        ) else {
                            continue;
                        };
                        payload.tenant = tenant;
                        drop(request);
                        exporter.export(signal, payload, items).await;
                    }
                })
            })
            .collect();
        let watchdog = handle.spawn({
            let (exporter, interrupt) = (exporter.clone(), interrupt.clone());
            async move {
                exporter.died().await;
                interrupt.wake();
            }
        });
        Pipeline {
            tx,
            senders,
            watchdog,
            exporter,
            handle: handle.clone(),
            interrupt,
        }
    }

    /// Queues a request of `items` items (of `tenant`'s data, if it is one tenant's), waiting
    /// while the queue is full. If the run is interrupted while waiting, the request is counted
    /// as dropped instead. Call from a thread that is not one of the runtime's own.
    pub fn send(&self, request: OtlpRequest, tenant: Option<Arc<str>>, items: u64) {
        let signal = request.signal();
        let stats = self.exporter.stats(signal);
        stats.count_generated(items);
        let queued = Queued {
            request,
            tenant,
            items,
        };
        if self.exporter.dead().is_some() {
            stats.dropped(items, UNREACHABLE);
            return;
        }
        let refused = match self.tx.try_send(queued) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Closed(_)) => true,
            Err(mpsc::error::TrySendError::Full(queued)) => self.handle.block_on(async {
                tokio::select! {
                    sent = self.tx.send(queued) => sent.is_err(),
                    () = self.interrupt.stopped() => true,
                    () = self.exporter.died() => true,
                }
            }),
        };
        if refused {
            let reason = if self.interrupt.requested() {
                INTERRUPTED
            } else if self.exporter.dead().is_some() {
                UNREACHABLE
            } else {
                // Only possible if every sender died; count the loss rather than hide it.
                "not sent: the export pipeline stopped"
            };
            stats.dropped(items, reason);
        }
    }

    /// The endpoint given up on, once one has been: the run should stop generating.
    pub fn dead(&self) -> Option<&DeadEndpoint> {
        self.exporter.dead()
    }

    /// Requests waiting in the queue.
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// What has been accounted for so far.
    pub fn snapshot(&self) -> PipelineSummary {
        summary(&self.exporter)
    }

    /// Waits until every queued request has been answered or given up on. After an interrupt
    /// the wait lasts at most [`FLUSH_DEADLINE`] (nothing, after a second interrupt); what is
    /// still queued or in flight then is dropped.
    pub fn finish(self) -> PipelineSummary {
        let Pipeline {
            tx,
            senders,
            watchdog,
            exporter,
            handle,
            interrupt,
        } = self;
        drop(tx);
        watchdog.abort();
        handle.block_on(async {
            let drained = async {
                for sender in senders {
                    let _ = sender.await;
                }
            };
            tokio::pin!(drained);
            tokio::select! {
                () = &mut drained => return,
                () = interrupt.stopped() => {}
            }
            tokio::select! {
                () = &mut drained => return,
                () = tokio::time::sleep(FLUSH_DEADLINE) => {}
                () = interrupt.stopped_now() => {}
            }
            exporter.abandon();
            drained.await;
        });
        balance_books(&exporter);
        summary(&exporter)
    }
}

/// Builds the payload of `request`, or counts its items as dropped with the reason it could not
/// be encoded (an encoding error, or a panic in the encoder), so a bad request never takes the
/// sender task or the accounting down with it.
fn encode<T: Transport>(
    exporter: &Exporter<T>,
    request: &OtlpRequest,
    items: u64,
    format: Format,
    compression: Compression,
    scratch: &mut Vec<u8>,
) -> Option<Payload> {
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Payload::build(request, format, compression, scratch)
    }));
    let reason = match built {
        Ok(Ok(payload)) => return Some(payload),
        Ok(Err(error)) => format!("not sent: {error}"),
        Err(_) => "not sent: encoding the request failed (a bug: please report it)".to_string(),
    };
    exporter.stats(request.signal()).dropped(items, &reason);
    None
}

/// Why items were dropped that no sender accounted for (a sender task that failed).
const LOST: &str = "not sent: an export task failed (a bug: please report it)";

/// Once every sender has ended, counts as dropped whatever was generated but neither accepted,
/// rejected nor dropped: what a failed sender task held. The books always balance.
fn balance_books<T: Transport>(exporter: &Exporter<T>) {
    for signal in Signal::ALL {
        let stats = exporter.stats(signal);
        let s = stats.snapshot();
        let accounted = s
            .accepted
            .saturating_add(s.rejected)
            .saturating_add(s.dropped);
        if s.generated > accounted {
            stats.dropped(s.generated - accounted, LOST);
        }
    }
}

fn summary<T: Transport>(exporter: &Exporter<T>) -> PipelineSummary {
    PipelineSummary {
        traces: exporter.stats(Signal::Traces).snapshot(),
        metrics: exporter.stats(Signal::Metrics).snapshot(),
        logs: exporter.stats(Signal::Logs).snapshot(),
        unreachable: exporter.dead().cloned(),
    }
}
