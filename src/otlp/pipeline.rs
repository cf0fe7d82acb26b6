//! The bounded queue between generation and export.
//!
//! Generation runs on ordinary threads and hands each encoded request to [`Pipeline::send`],
//! which blocks while the queue is full: when the endpoint is slower than generation, generation
//! waits and memory stays flat. A fixed number of sender tasks on an async runtime drain the
//! queue, so several requests are in flight at once. An unbounded queue (the Python tool's
//! choice, with a drop policy) was rejected because it turns a slow endpoint into either lost data
//! or unbounded memory.

use super::export::{Exporter, Transport};
use super::{ExportSnapshot, Signal};
use bytes::Bytes;
use std::sync::Arc;
use tokio::sync::mpsc;

/// One encoded request and how many items it carries.
struct Request {
    signal: Signal,
    body: Bytes,
    items: u64,
}

pub struct Pipeline<T: Transport> {
    tx: mpsc::Sender<Request>,
    senders: Vec<tokio::task::JoinHandle<()>>,
    exporter: Arc<Exporter<T>>,
    handle: tokio::runtime::Handle,
}

/// What became of each signal's items.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct PipelineSummary {
    pub traces: ExportSnapshot,
    pub metrics: ExportSnapshot,
    pub logs: ExportSnapshot,
}

impl<T: Transport> Pipeline<T> {
    /// Starts `senders` tasks on `handle`, fed by a queue of `queue` requests.
    pub fn start(
        exporter: Exporter<T>,
        senders: usize,
        queue: usize,
        handle: &tokio::runtime::Handle,
    ) -> Self {
        let exporter = Arc::new(exporter);
        let (tx, rx) = mpsc::channel::<Request>(queue.max(1));
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let senders = (0..senders.max(1))
            .map(|_| {
                let rx = rx.clone();
                let exporter = exporter.clone();
                handle.spawn(async move {
                    loop {
                        let next = rx.lock().await.recv().await;
                        let Some(request) = next else { break };
                        exporter
                            .export(request.signal, request.body, request.items)
                            .await;
                    }
                })
            })
            .collect();
        Pipeline {
            tx,
            senders,
            exporter,
            handle: handle.clone(),
        }
    }

    /// Queues a request, waiting while the queue is full. Call from a thread that is not one of
    /// the runtime's own.
    pub fn send(&self, signal: Signal, body: Bytes, items: u64) {
        let request = Request {
            signal,
            body,
            items,
        };
        if let Err(mpsc::error::SendError(request)) = self.tx.blocking_send(request) {
            // Only possible if every sender died; count the loss rather than hide it.
            self.exporter
                .stats(request.signal)
                .dropped(request.items, "not sent: the export pipeline stopped");
        }
    }

    /// What has been accounted for so far.
    pub fn snapshot(&self) -> PipelineSummary {
        PipelineSummary {
            traces: self.exporter.stats(Signal::Traces).snapshot(),
            metrics: self.exporter.stats(Signal::Metrics).snapshot(),
            logs: self.exporter.stats(Signal::Logs).snapshot(),
        }
    }

    /// Waits until every queued request has been answered (or given up on).
    pub fn finish(self) -> PipelineSummary {
        let Pipeline {
            tx,
            senders,
            exporter,
            handle,
        } = self;
        drop(tx);
        handle.block_on(async {
            for sender in senders {
                let _ = sender.await;
            }
        });
        PipelineSummary {
            traces: exporter.stats(Signal::Traces).snapshot(),
            metrics: exporter.stats(Signal::Metrics).snapshot(),
            logs: exporter.stats(Signal::Logs).snapshot(),
        }
    }
}
