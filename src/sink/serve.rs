//! The sink's accept loop, shared by its OTLP/HTTP and OTLP/gRPC ports: a cap on connections,
//! time limits on slow clients, and a graceful stop.
//!
//! `axum::serve` and tonic's `Server` were used before; neither bounds connections, and axum's
//! sets no header timeout, so half-sent requests held their sockets (and file descriptors)
//! forever. hyper-util's connection builder, which both use inside, offers the HTTP/1.1 header
//! read timeout and HTTP/2 keep-alive pings; this loop adds the connection cap (a semaphore
//! shared by both ports) and a deadline for the first bytes, which hyper-util's HTTP/1-or-2
//! detection reads with none. Body timeouts are the handlers' (they know the request and
//! answer 408).
//!
//! At the cap, a new connection takes the place of the oldest one that has not yet sent a
//! whole request head ([`Slots`]): under a flood of half-sent requests, a real client gets in
//! at once instead of waiting behind the flood for timeouts to clear it. When every connection
//! has sent a request, the new one waits for a slot. Refusing new connections at the cap was
//! the alternative; it is what a flood wants.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use super::limits::SinkLimits;

/// Serves `app` on `listener` until `stopped` turns true (or its sender is dropped), then lets
/// open connections finish their requests and returns when they have closed.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: SinkLimits,
    connections: Arc<Slots>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.header_timeout)
        .keep_alive_timeout(limits.header_timeout);
    let builder = Arc::new(builder);
    let mut tasks = JoinSet::new();
    'accept: loop {
        while tasks.try_join_next().is_some() {}
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                // Out of file descriptors, or a connection reset before it was accepted:
                // wait a little rather than spin, and go on.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop_requested(&mut stopped) => break 'accept,
        };
        let permit = loop {
            if let Ok(permit) = connections.cap.clone().try_acquire_owned() {
                break permit;
            }
            connections.evict_oldest_waiting();
            tokio::select! {
                permit = connections.cap.clone().acquire_owned() => break permit.expect("never closed"),
                // Connections become evictable as they age: look again.
                _ = tokio::time::sleep(EVICTABLE_AFTER / 5) => {}
                _ = stop_requested(&mut stopped) => break 'accept,
            }
        };
        let _ = tcp.set_nodelay(true);
        let slot = connections.add(permit);
        tasks.spawn(connection(
            builder.clone(),
            tcp,
            Served {
                app: app.clone(),
                slot: slot.clone(),
            },
            limits.header_timeout,
            stopped.clone(),
            slot,
            connections.clone(),
        ));
    }
    drop(listener);
    while tasks.join_next().await.is_some() {}
}

/// One connection, holding its slot until it closes.
async fn connection(
    builder: Arc<Builder<TokioExecutor>>,
    tcp: TcpStream,
    service: Served,
    first_bytes: Duration,
    mut stopped: watch::Receiver<bool>,
    slot: Arc<Slot>,
    slots: Arc<Slots>,
) {
    let known = tokio::select! {
        known = tokio::time::timeout(first_bytes, protocol_known(&tcp)) => known.unwrap_or(false),
        _ = stop_requested(&mut stopped) => false,
        _ = slot.evicted.notified() => false,
    };
    if known {
        let conn = builder.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service));
        tokio::pin!(conn);
        let stop = tokio::select! {
            _ = conn.as_mut() => false,
            _ = stop_requested(&mut stopped) => true,
            _ = slot.evicted.notified() => false,
        };
        if stop {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
    slots.remove(&slot);
}

/// The connection cap, and the connections holding its permits, oldest first.
pub(crate) struct Slots {
    cap: Arc<Semaphore>,
    open: Mutex<VecDeque<Arc<Slot>>>,
}

/// How long a connection must have waited for its first request head before a new one may
/// take its place: a real client sends it within a round trip, so this only spares
/// connections whose head has arrived but not yet been read.
const EVICTABLE_AFTER: Duration = Duration::from_millis(500);

/// One open connection.
pub(crate) struct Slot {
    opened: Instant,
    /// A whole request head has arrived on it (the service was called).
    served: AtomicBool,
    /// Told to close, to make room for a new connection.
    evicted: Notify,
    _permit: OwnedSemaphorePermit,
}

impl Slots {
    pub fn new(max: usize) -> Arc<Slots> {
        Arc::new(Slots {
            cap: Arc::new(Semaphore::new(max.max(1))),
            open: Mutex::new(VecDeque::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Arc<Slot>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self, permit: OwnedSemaphorePermit) -> Arc<Slot> {
        let slot = Arc::new(Slot {
            opened: Instant::now(),
            served: AtomicBool::new(false),
            evicted: Notify::new(),
            _permit: permit,
        });
        self.lock().push_back(slot.clone());
        slot
    }

    fn remove(&self, slot: &Arc<Slot>) {
        self.lock().retain(|s| !Arc::ptr_eq(s, slot));
    }

    /// Tells the oldest connection that has waited [`EVICTABLE_AFTER`] for its first request
    /// head to close (it is taken off the list, so it is told once).
    fn evict_oldest_waiting(&self) {
        let mut open = self.lock();
        let waiting =
            |s: &Arc<Slot>| !s.served.load(Relaxed) && s.opened.elapsed() >= EVICTABLE_AFTER;
        if let Some(at) = open.iter().position(waiting)
            && let Some(slot) = open.remove(at)
        {
            slot.evicted.notify_one();
        }
    }
}

/// The app, marking the connection's slot as served when a request reaches it.
#[derive(Clone)]
struct Served {
    app: Router,
    slot: Arc<Slot>,
}

impl<B> tower_service::Service<axum::http::Request<B>> for Served
where
    Router: tower_service::Service<axum::http::Request<B>>,
{
    type Response = <Router as tower_service::Service<axum::http::Request<B>>>::Response;
    type Error = <Router as tower_service::Service<axum::http::Request<B>>>::Error;
    type Future = <Router as tower_service::Service<axum::http::Request<B>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower_service::Service::poll_ready(&mut self.app, cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        self.slot.served.store(true, Relaxed);
        self.app.call(request)
    }
}

/// Resolves when the sink is asked to stop (or its handle is gone).
async fn stop_requested(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|&s| s).await;
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Waits until the first bytes say whether this is HTTP/1 or HTTP/2 (what hyper-util's
/// detection needs: the whole HTTP/2 preface, or a byte that differs from it). False if the
/// client closed first.
async fn protocol_known(tcp: &TcpStream) -> bool {
    let mut buf = [0u8; 24];
    loop {
        match tcp.peek(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) if n == buf.len() || buf[..n] != H2_PREFACE[..n] => return true,
            // Part of the preface: peek returns at once while those bytes are unread, so
            // look again a little later.
            Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}
