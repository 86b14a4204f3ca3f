//! The dashboard's accept loop: at most `max_connections` connections at once, each closed
//! when it does not send a whole request head within `header_read_timeout`, and a graceful
//! stop that lets requests in hand finish.
//!
//! `axum::serve` has neither limit: slow partial requests were held for ever, and enough of
//! them used up the process's file descriptors (`/healthz` timed out, connectors got EMFILE).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

/// What a connection may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A request head (new connection or kept alive) must be complete within this.
    pub header_read_timeout: Duration,
    /// Connections served at once; further ones wait in the kernel's listen queue, so the
    /// process's descriptors stay bounded.
    pub max_connections: usize,
}

/// Serves `router` on `listener` until `stop` turns true, then waits for the open
/// connections to finish the requests in hand (idle ones are closed at once).
pub async fn serve(listener: TcpListener, router: Router, limits: Limits, mut stop: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        // A slot first, then accept: beyond the cap a connection is not even taken from the
        // queue, so it costs this process nothing.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            _ = stopped(&mut stop) => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors (EMFILE) or a connection reset before accept: wait a
                    // moment rather than spin.
                    tracing::warn!(error = %e, "accepting a dashboard connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stopped(&mut stop) => break,
        };
        let _ = stream.set_nodelay(true);
        // The peer's address reaches the handlers (the login throttle counts per address).
        let service = TowerToHyperService::new(router.clone().layer(axum::Extension(axum::extract::ConnectInfo(peer))));
        let mut stop = stop.clone();
        let connection = async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => log_end(result),
                _ = stopped(&mut stop) => {
                    conn.as_mut().graceful_shutdown();
                    log_end(conn.await);
                }
            }
            drop(slot);
        };
        drop(crate::supervisor::spawn_owned(connection));
    }
    // Every slot back means every connection has ended.
    let _ = slots.acquire_many(limits.max_connections as u32).await;
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

fn log_end(result: Result<(), hyper::Error>) {
    if let Err(e) = result {
        // Timeouts and clients going away are routine; they are worth a trace, not a warning.
        tracing::debug!(error = %e, "dashboard connection ended");
    }
}
