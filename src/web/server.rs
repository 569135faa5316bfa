//! The HTTP server: accept, limit, time out, shut down gracefully.
//!
//! `axum::serve` keeps a connection as long as the client does and accepts until the
//! process runs out of file descriptors: 1,100 idle sockets under the default limit of
//! 1,024 lock every other client out (and the database pool with them). Here every
//! connection has a deadline for its request head (also between keep-alive requests, so
//! idle and slow clients are closed), and at most `max_connections` are open at once,
//! below the process's open-file limit; past it new connections wait in the kernel's
//! accept queue until one closes. Handlers are bounded by the router's 30 s timeout.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How long a client may take to send a request head, and may stay idle between
/// keep-alive requests.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// File descriptors kept free for the database pool, logs and the rest.
const RESERVED_FDS: u64 = 128;
/// Connections at most, whatever the limit allows.
const MAX_CONNECTIONS: usize = 8_192;
/// How long a graceful shutdown waits for open requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Limits of one server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: HEADER_TIMEOUT,
            max_connections: connection_limit(),
        }
    }
}

/// Connections the process can hold: its soft open-file limit less a reserve.
pub fn connection_limit() -> usize {
    use nix::sys::resource::{getrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, _)) => {
            let free = soft.saturating_sub(RESERVED_FDS).max(16);
            usize::try_from(free)
                .unwrap_or(MAX_CONNECTIONS)
                .min(MAX_CONNECTIONS)
        }
        Err(_) => 512,
    }
}

/// Serve `app` on `listener` until `shutdown` completes, then let open requests finish
/// (for at most [`SHUTDOWN_GRACE`]).
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: wait, go on.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, "connection closed: {e}");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("requests still open after {SHUTDOWN_GRACE:?}; stopping anyway");
        }
    }
    Ok(())
}
