//! The sink's accept loop, shared by its OTLP/HTTP and OTLP/gRPC ports: a cap on connections,
//! time limits on slow clients, and a graceful stop.
//!
//! `axum::serve` and tonic's `Server` were used before; neither bounds connections, and axum's
//! sets no header timeout, so half-sent requests held their sockets (and file descriptors)
//! forever. hyper-util's connection builder, which both use inside, offers the HTTP/1.1 header
//! read timeout and HTTP/2 keep-alive pings; this loop adds the connection cap (a semaphore
//! shared by both ports: at the cap, new connections wait in the kernel's backlog until one
//! closes) and a deadline for the first bytes, which hyper-util's HTTP/1-or-2 detection reads
//! with none. Body timeouts are the handlers' (they know the request and answer 408).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use super::limits::SinkLimits;

/// Serves `app` on `listener` until `stopped` turns true (or its sender is dropped), then lets
/// open connections finish their requests and returns when they have closed.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: SinkLimits,
    connections: Arc<Semaphore>,
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
    loop {
        while tasks.try_join_next().is_some() {}
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => permit.expect("never closed"),
            _ = stop_requested(&mut stopped) => break,
        };
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
            _ = stop_requested(&mut stopped) => break,
        };
        let _ = tcp.set_nodelay(true);
        tasks.spawn(connection(
            builder.clone(),
            tcp,
            app.clone(),
            limits.header_timeout,
            stopped.clone(),
            permit,
        ));
    }
    drop(listener);
    while tasks.join_next().await.is_some() {}
}

/// One connection, holding its slot (`_permit`) until it closes.
async fn connection(
    builder: Arc<Builder<TokioExecutor>>,
    tcp: TcpStream,
    app: Router,
    first_bytes: Duration,
    mut stopped: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let known = tokio::select! {
        known = tokio::time::timeout(first_bytes, protocol_known(&tcp)) => known.unwrap_or(false),
        _ = stop_requested(&mut stopped) => false,
    };
    if !known {
        return;
    }
    let conn = builder.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(app));
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stop_requested(&mut stopped) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
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
